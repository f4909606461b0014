/* cuda_common.h — error checking and launch helpers shared by the CUDA files. */
#ifndef MLXN_CUDA_COMMON_H
#define MLXN_CUDA_COMMON_H

#include <cuda_runtime.h>

#include "backend.h"
#include "mlxn.h"

/* Turns a CUDA error into an mlxn status with the call, the CUDA message and
   the place; clears the (non-sticky) error state. */
static inline int mlxn_cuda_fail(cudaError_t e, const char *what, const char *file, int line) {
    (void)cudaGetLastError();
    int st = e == cudaErrorMemoryAllocation ? MLXN_ERR_OUT_OF_MEMORY : MLXN_ERR_DEVICE;
    return mlxn_backend_error(st, "cuda: %s failed: %s (%s) at %s:%d", what, cudaGetErrorString(e),
                              cudaGetErrorName(e), file, line);
}

#define MLXN_CK(call)                                                                 \
    do {                                                                              \
        cudaError_t e_ = (call);                                                      \
        if (e_ != cudaSuccess) return mlxn_cuda_fail(e_, #call, __FILE__, __LINE__);  \
    } while (0)

/* After a kernel launch: launch-configuration errors surface here. */
#define MLXN_CK_LAUNCH(name) MLXN_CK(cudaGetLastError())

typedef struct {
    int index;
    int sm_count;
    int cc_major;      /* compute capability */
    int pdl;           /* launch with programmatic dependent launch (sm_90+) */
    int clusters;      /* thread-block clusters may be used (sm_90+)          */
    int rope_unroll;   /* rope kernel variant: units per thread batch (4 or 8) */
} mlxn_cuda_dev;

typedef struct {
    cudaStream_t stream;
} mlxn_cuda_enc;

/* Makes dev the calling thread's current device. */
int mlxn_cuda_use(const mlxn_cuda_dev *dev);

#ifdef __cplusplus
extern "C" {
#endif
int mlxn_cuda_rope_run(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_rms_norm(void *dev, void *enc, const mlxn_op_call *c); /* norm.cu        */
int mlxn_cuda_l2_norm(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_unary(void *dev, void *enc, const mlxn_op_call *c);    /* elementwise.cu */
int mlxn_cuda_binary(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_glu(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_cast(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_softmax(void *dev, void *enc, const mlxn_op_call *c);  /* softmax.cu     */
int mlxn_cuda_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_gather_rows(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_permute(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_copy_2d(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_repeat_heads(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_kv_cache_write_kv(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_argmax(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_cumsum(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_row_sum(void *dev, void *enc, const mlxn_op_call *c);
/* [sort] */
int mlxn_cuda_argsort(void *dev, void *enc, const mlxn_op_call *c); /* sort.cu */
int mlxn_cuda_top_k(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_sort_workspace(void *dev, const mlxn_op_call *c, size_t *bytes);
/* [/sort] */
/* [sample] */
int mlxn_cuda_moe_softmax_topk(void *dev, void *enc, const mlxn_op_call *c); /* sample.cu */
int mlxn_cuda_moe_weighted_reduce(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_softmax_sample(void *dev, void *enc, const mlxn_op_call *c);
/* [/sample] */
/* [fused_norm2] */
int mlxn_cuda_rms_norm_mul(void *dev, void *enc, const mlxn_op_call *c); /* fused_norm.cu */
int mlxn_cuda_head_norm_rope(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_moe_wsum_norm_add(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_triple_norm(void *dev, void *enc, const mlxn_op_call *c);
/* [/fused_norm2] */
/* [backward] */
int mlxn_cuda_softmax_backward(void *dev, void *enc, const mlxn_op_call *c); /* backward.cu */
int mlxn_cuda_rms_norm_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_unary_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_row_sum_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cuda_rms_inv(void *dev, void *enc, const mlxn_op_call *c);
/* [/backward] */
/* [quant_ggml] */
int mlxn_cuda_dequant_ggml(void *dev, void *enc, const mlxn_op_call *c); /* quant_ggml.cu */
/* [/quant_ggml] */
/* [quant_mlx] */
int mlxn_cuda_dequant_mlx(void *dev, void *enc, const mlxn_op_call *c); /* quant_mlx.cu */
int mlxn_cuda_gather_mlx(void *dev, void *enc, const mlxn_op_call *c);
/* [/quant_mlx] */
#ifdef __cplusplus
}
#endif

#endif
