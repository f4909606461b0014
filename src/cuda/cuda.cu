/* cuda.cu — the CUDA backend: device memory, encoders (one stream each),
   CUDA Graph capture and replay, event timers, device copies. Every CUDA call
   is checked and turned into an mlxn status. */
#include "cuda_common.h"

#include <stdio.h>
#include <stdlib.h>

int mlxn_cuda_use(const mlxn_cuda_dev *dev) {
    int cur = -1;
    MLXN_CK(cudaGetDevice(&cur));
    if (cur != dev->index) MLXN_CK(cudaSetDevice(dev->index));
    return MLXN_OK;
}

#define USE(d)                                                  \
    do {                                                        \
        int s_ = mlxn_cuda_use((const mlxn_cuda_dev *)(d));     \
        if (s_) return s_;                                      \
    } while (0)

static int cu_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

/* The device code that was loaded for this device: a build without an sm_90
   target runs PTX of an older architecture on an H100, where pdl_enter and
   the cluster kernels compile to nothing (__CUDA_ARCH__ < 900), so PDL and
   clusters are used only when the loaded code is sm_90 or newer. */
static __global__ void arch_probe_kernel(void) {}

static int cu_device_open(int index, void **out, char *name, size_t name_len) {
    cudaDeviceProp prop;
    MLXN_CK(cudaSetDevice(index));
    MLXN_CK(cudaGetDeviceProperties(&prop, index));
    MLXN_CK(cudaFree(0)); /* create the context now, not inside the first op */
    mlxn_cuda_dev *d = (mlxn_cuda_dev *)calloc(1, sizeof *d);
    if (!d) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory");
    d->index = index;
    d->sm_count = prop.multiProcessorCount;
    d->cc_major = prop.major;
    struct cudaFuncAttributes fa;
    cudaError_t fe = cudaFuncGetAttributes(&fa, arch_probe_kernel);
    if (fe != cudaSuccess) {
        free(d);
        return mlxn_cuda_fail(fe, "cudaFuncGetAttributes", __FILE__, __LINE__);
    }
    const int sm90 = prop.major >= 9 && fa.ptxVersion >= 90;
    /* Kernel-lab switches (docs/PERF.md): MLXN_CUDA_PDL=0 turns programmatic
       dependent launch off; MLXN_CUDA_CLUSTERS=0 thread-block clusters;
       MLXN_CUDA_ROPE_UNROLL=4 forces the 4-unit rope variant. */
    const char *pdl = getenv("MLXN_CUDA_PDL");
    d->pdl = sm90 && !(pdl && pdl[0] == '0');
    const char *ce = getenv("MLXN_CUDA_CLUSTERS");
    d->clusters = sm90 && !(ce && ce[0] == '0');
    const char *un = getenv("MLXN_CUDA_ROPE_UNROLL");
    d->rope_unroll = un && atoi(un) == 4 ? 4 : 8;
    snprintf(name, name_len, "%s", prop.name);
    *out = d;
    return MLXN_OK;
}

static void cu_device_close(void *dev) { free(dev); }

static int cu_sync(void *dev) {
    USE(dev);
    MLXN_CK(cudaDeviceSynchronize());
    return MLXN_OK;
}

static int cu_alloc(void *dev, size_t nbytes, void **ptr) {
    USE(dev);
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, nbytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return mlxn_backend_error(e == cudaErrorMemoryAllocation ? MLXN_ERR_OUT_OF_MEMORY : MLXN_ERR_DEVICE,
                                  "cuda: cudaMalloc of %zu bytes failed: %s", nbytes, cudaGetErrorString(e));
    }
    e = cudaMemset(p, 0, nbytes);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        cudaFree(p);
        return mlxn_cuda_fail(e, "cudaMemset", __FILE__, __LINE__);
    }
    *ptr = p;
    return MLXN_OK;
}

static void cu_free(void *dev, void *ptr) {
    if (mlxn_cuda_use((const mlxn_cuda_dev *)dev) != MLXN_OK) return;
    if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
}

static int cu_write(void *dev, void *dst, const void *src, size_t n) {
    USE(dev);
    MLXN_CK(cudaDeviceSynchronize());
    MLXN_CK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
    /* From pageable memory cudaMemcpy may return once the data is staged,
       before the DMA lands; encoders are non-blocking streams that do not
       order after the legacy stream, so wait here. (Found by the harness: a
       kernel's output was later overwritten by the poison written before it.) */
    MLXN_CK(cudaDeviceSynchronize());
    return MLXN_OK;
}

static int cu_read(void *dev, void *dst, const void *src, size_t n) {
    USE(dev);
    MLXN_CK(cudaDeviceSynchronize());
    MLXN_CK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
    return MLXN_OK;
}

static int cu_encoder_new(void *dev, void **out) {
    USE(dev);
    mlxn_cuda_enc *e = (mlxn_cuda_enc *)calloc(1, sizeof *e);
    if (!e) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "encoder_new: out of host memory");
    cudaError_t err = cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
        free(e);
        return mlxn_cuda_fail(err, "cudaStreamCreateWithFlags", __FILE__, __LINE__);
    }
    *out = e;
    return MLXN_OK;
}

static void cu_encoder_free(void *dev, void *enc) {
    mlxn_cuda_enc *e = (mlxn_cuda_enc *)enc;
    if (!e) return;
    if (mlxn_cuda_use((const mlxn_cuda_dev *)dev) == MLXN_OK && cudaStreamDestroy(e->stream) != cudaSuccess)
        (void)cudaGetLastError();
    free(e);
}

static int cu_encoder_wait(void *dev, void *enc) {
    USE(dev);
    MLXN_CK(cudaStreamSynchronize(((mlxn_cuda_enc *)enc)->stream));
    return MLXN_OK;
}

static int cu_begin_capture(void *dev, void *enc) {
    USE(dev);
    MLXN_CK(cudaStreamBeginCapture(((mlxn_cuda_enc *)enc)->stream, cudaStreamCaptureModeThreadLocal));
    return MLXN_OK;
}

static int cu_end_capture(void *dev, void *enc, void **out) {
    USE(dev);
    cudaGraph_t g = NULL;
    MLXN_CK(cudaStreamEndCapture(((mlxn_cuda_enc *)enc)->stream, &g));
    cudaGraphExec_t ex = NULL;
    cudaError_t e = cudaGraphInstantiate(&ex, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) return mlxn_cuda_fail(e, "cudaGraphInstantiate", __FILE__, __LINE__);
    *out = ex;
    return MLXN_OK;
}

static int cu_graph_launch(void *dev, void *graph, void *enc) {
    USE(dev);
    MLXN_CK(cudaGraphLaunch((cudaGraphExec_t)graph, ((mlxn_cuda_enc *)enc)->stream));
    return MLXN_OK;
}

static void cu_graph_free(void *dev, void *graph) {
    (void)dev;
    if (cudaGraphExecDestroy((cudaGraphExec_t)graph) != cudaSuccess) (void)cudaGetLastError();
}

typedef struct {
    cudaEvent_t ev[2];
} cu_timer;

static int cu_timer_new(void *dev, void **out) {
    USE(dev);
    cu_timer *t = (cu_timer *)calloc(1, sizeof *t);
    if (!t) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "timer_new: out of host memory");
    cudaError_t e = cudaEventCreate(&t->ev[0]);
    if (e == cudaSuccess) {
        e = cudaEventCreate(&t->ev[1]);
        if (e != cudaSuccess) cudaEventDestroy(t->ev[0]);
    }
    if (e != cudaSuccess) {
        free(t);
        return mlxn_cuda_fail(e, "cudaEventCreate", __FILE__, __LINE__);
    }
    *out = t;
    return MLXN_OK;
}

static void cu_timer_free(void *dev, void *tp) {
    (void)dev;
    cu_timer *t = (cu_timer *)tp;
    if (!t) return;
    cudaEventDestroy(t->ev[0]);
    cudaEventDestroy(t->ev[1]);
    free(t);
}

static int cu_timer_mark(void *dev, void *t, void *enc, int which) {
    USE(dev);
    MLXN_CK(cudaEventRecord(((cu_timer *)t)->ev[which], ((mlxn_cuda_enc *)enc)->stream));
    return MLXN_OK;
}

static int cu_timer_elapsed(void *dev, void *tp, double *us) {
    USE(dev);
    cu_timer *t = (cu_timer *)tp;
    float ms = 0.0f;
    MLXN_CK(cudaEventSynchronize(t->ev[1]));
    MLXN_CK(cudaEventElapsedTime(&ms, t->ev[0], t->ev[1]));
    *us = (double)ms * 1000.0;
    return MLXN_OK;
}

static int cu_copy_op(void *dev, void *enc, const mlxn_op_call *c) {
    USE(dev);
    if (c->args[0].ptr == c->args[1].ptr) return MLXN_OK;
    MLXN_CK(cudaMemcpyAsync(c->args[1].ptr, c->args[0].ptr, c->u.copy.nbytes, cudaMemcpyDeviceToDevice,
                            ((mlxn_cuda_enc *)enc)->stream));
    return MLXN_OK;
}

extern "C" const mlxn_backend_vtable mlxn_cuda_backend = {
    .name = "cuda",
    .device_count = cu_device_count,
    .device_open = cu_device_open,
    .device_close = cu_device_close,
    .device_synchronize = cu_sync,
    .alloc = cu_alloc,
    .free = cu_free,
    .write = cu_write,
    .read = cu_read,
    /* [load] pinned staging and asynchronous uploads for src/io/load.c. The code
       lives in this region of the initializer as captureless lambdas; they
       declare no block-scope variables (GCC takes those for `extern` inside an
       `extern "C"` declaration), so the checks are expressions. */
#define MLXN_LOAD_CK(call)                                                                        \
    ([](cudaError_t e_) -> int {                                                                  \
        return e_ == cudaSuccess ? (int)MLXN_OK : mlxn_cuda_fail(e_, #call, __FILE__, __LINE__);  \
    }(call))
#define MLXN_LOAD_USE(dev) (mlxn_cuda_use((const mlxn_cuda_dev *)(dev)) != MLXN_OK)
    .host_alloc = [](void *dev, size_t nbytes, void **ptr) -> int {
        return MLXN_LOAD_USE(dev) ? (int)MLXN_ERR_DEVICE
                                  : MLXN_LOAD_CK(cudaHostAlloc(ptr, nbytes ? nbytes : 1, cudaHostAllocDefault));
    },
    .host_free = [](void *dev, void *ptr) {
        (void)dev;
        if (ptr && cudaFreeHost(ptr) != cudaSuccess) (void)cudaGetLastError();
    },
    .copy_h2d_async = [](void *dev, void *enc, void *dst, const void *src, size_t nbytes) -> int {
        return nbytes == 0         ? (int)MLXN_OK
               : MLXN_LOAD_USE(dev) ? (int)MLXN_ERR_DEVICE
                                    : MLXN_LOAD_CK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice,
                                                                   ((mlxn_cuda_enc *)enc)->stream));
    },
    .fence_new = [](void *dev, void **fence) -> int {
        return MLXN_LOAD_USE(dev) ? (int)MLXN_ERR_DEVICE
                                  : MLXN_LOAD_CK(cudaEventCreateWithFlags((cudaEvent_t *)fence, cudaEventDisableTiming));
    },
    .fence_free = [](void *dev, void *fence) {
        (void)dev;
        if (fence && cudaEventDestroy((cudaEvent_t)fence) != cudaSuccess) (void)cudaGetLastError();
    },
    .fence_record = [](void *dev, void *fence, void *enc) -> int {
        return MLXN_LOAD_USE(dev) ? (int)MLXN_ERR_DEVICE
                                  : MLXN_LOAD_CK(cudaEventRecord((cudaEvent_t)fence, ((mlxn_cuda_enc *)enc)->stream));
    },
    .fence_wait = [](void *dev, void *fence) -> int {
        return MLXN_LOAD_USE(dev) ? (int)MLXN_ERR_DEVICE : MLXN_LOAD_CK(cudaEventSynchronize((cudaEvent_t)fence));
    },
#undef MLXN_LOAD_CK
#undef MLXN_LOAD_USE
    /* [/load] */
    .encoder_new = cu_encoder_new,
    .encoder_free = cu_encoder_free,
    .encoder_wait = cu_encoder_wait,
    .begin_capture = cu_begin_capture,
    .end_capture = cu_end_capture,
    .graph_launch = cu_graph_launch,
    .graph_free = cu_graph_free,
    .timer_new = cu_timer_new,
    .timer_free = cu_timer_free,
    .timer_mark = cu_timer_mark,
    .timer_elapsed_us = cu_timer_elapsed,
    .copy = cu_copy_op,
    .rope = mlxn_cuda_rope_run,
    .rope_multi = mlxn_cuda_rope_run,
    .vision_2d_rope = mlxn_cuda_rope_run,
    .rms_norm = mlxn_cuda_rms_norm,
    .l2_norm = mlxn_cuda_l2_norm,
    .unary = mlxn_cuda_unary,
    .binary = mlxn_cuda_binary,
    .glu = mlxn_cuda_glu,
    .cast = mlxn_cuda_cast,
    .softmax = mlxn_cuda_softmax,
    .add_rms_norm = mlxn_cuda_add_rms_norm,
    .rms_norm_add = mlxn_cuda_rms_norm_add,
    .rms_norm_gate = mlxn_cuda_rms_norm_gate,
    .gather_rows = mlxn_cuda_gather_rows,
    .permute = mlxn_cuda_permute,
    .copy_2d = mlxn_cuda_copy_2d,
    .repeat_heads = mlxn_cuda_repeat_heads,
    .kv_cache_write = mlxn_cuda_kv_cache_write,
    .kv_cache_write_kv = mlxn_cuda_kv_cache_write_kv,
    .argmax = mlxn_cuda_argmax,
    .cumsum = mlxn_cuda_cumsum,
    .row_sum = mlxn_cuda_row_sum,
    /* [sort] */
    .argsort = mlxn_cuda_argsort,
    .top_k = mlxn_cuda_top_k,
    .sort_workspace = mlxn_cuda_sort_workspace,
    /* [/sort] */
    /* [sample] */
    .moe_softmax_topk = mlxn_cuda_moe_softmax_topk,
    .moe_weighted_reduce = mlxn_cuda_moe_weighted_reduce,
    .softmax_sample = mlxn_cuda_softmax_sample,
    /* [/sample] */
    /* [fused_norm2] */
    .rms_norm_mul = mlxn_cuda_rms_norm_mul,
    .head_norm_rope = mlxn_cuda_head_norm_rope,
    .moe_wsum_norm_add = mlxn_cuda_moe_wsum_norm_add,
    .triple_norm = mlxn_cuda_triple_norm,
    /* [/fused_norm2] */
    /* [backward] */
    .softmax_backward = mlxn_cuda_softmax_backward,
    .rms_norm_backward = mlxn_cuda_rms_norm_backward,
    .unary_backward = mlxn_cuda_unary_backward,
    .row_sum_backward = mlxn_cuda_row_sum_backward,
    .rms_inv = mlxn_cuda_rms_inv,
    /* [/backward] */
    /* [quant_ggml] */
    .dequant_ggml = mlxn_cuda_dequant_ggml,
    /* [/quant_ggml] */
    /* [quant_mlx] */
    .dequant_mlx = mlxn_cuda_dequant_mlx,
    .gather_mlx = mlxn_cuda_gather_mlx,
    /* [/quant_mlx] */
};
