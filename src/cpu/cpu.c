/* cpu.c — the CPU backend: host memory, an encoder that runs work as it is
   encoded (so it is always in order and complete), host-clock timers. */
#include "cpu.h"
#include "mlxn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int mlxn_cpu_threads(void) {
    static int n = 0;
    if (n == 0) {
        const char *env = getenv("MLXN_NUM_THREADS");
        int v = env ? atoi(env) : 0;
        n = v > 0 ? v : omp_get_max_threads();
    }
    return n;
}

static int cpu_device_count(void) { return 1; }

static int cpu_device_open(int index, void **dev, char *name, size_t name_len) {
    (void)index;
    *dev = NULL;
    snprintf(name, name_len, "cpu (%d threads)", mlxn_cpu_threads());
    return MLXN_OK;
}

static void cpu_device_close(void *dev) { (void)dev; }
static int cpu_sync(void *dev) { (void)dev; return MLXN_OK; }

/* Host allocations carry a 64-byte header (size, how it was made) so that
   large ones can come straight from mmap: zero pages the OS fills lazily, so a
   multi-GB buffer costs nothing until touched. */
#define HDR 64
#define BIG_ALLOC ((size_t)64 << 20)

static int cpu_alloc(void *dev, size_t nbytes, void **ptr) {
    (void)dev;
    static size_t phys = 0;
    if (!phys) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        phys = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : SIZE_MAX;
    }
    /* with overcommit the OS would grant it and kill the process on first touch */
    if (nbytes > phys)
        return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "cpu: %zu bytes exceed the machine's %zu bytes of memory",
                                  nbytes, phys);
    size_t total = nbytes + HDR;
    unsigned char *base;
    uint64_t kind;
    if (nbytes >= BIG_ALLOC) {
        void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "cpu: out of host memory allocating %zu bytes", nbytes);
        base = m;
        kind = 1;
    } else {
        void *p = NULL;
        if (posix_memalign(&p, 64, total) != 0 || !p)
            return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "cpu: out of host memory allocating %zu bytes", nbytes);
        base = p;
        memset(base, 0, total);
        kind = 0;
    }
    uint64_t h[2] = {total, kind};
    memcpy(base, h, sizeof h);
    *ptr = base + HDR;
    return MLXN_OK;
}

static void cpu_free(void *dev, void *ptr) {
    (void)dev;
    if (!ptr) return;
    unsigned char *base = (unsigned char *)ptr - HDR;
    uint64_t h[2];
    memcpy(h, base, sizeof h);
    if (h[1] == 1) munmap(base, (size_t)h[0]);
    else free(base);
}

static int cpu_copy_mem(void *dev, void *dst, const void *src, size_t n) {
    (void)dev;
    if (n) memmove(dst, src, n);
    return MLXN_OK;
}

static int cpu_encoder_new(void *dev, void **enc) { (void)dev; *enc = NULL; return MLXN_OK; }
static void cpu_encoder_free(void *dev, void *enc) { (void)dev; (void)enc; }
static int cpu_encoder_wait(void *dev, void *enc) { (void)dev; (void)enc; return MLXN_OK; }

typedef struct { double t[2]; } cpu_timer;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cpu_timer_new(void *dev, void **t) {
    (void)dev;
    *t = calloc(1, sizeof(cpu_timer));
    return *t ? MLXN_OK : mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "timer_new: out of host memory");
}
static void cpu_timer_free(void *dev, void *t) { (void)dev; free(t); }
static int cpu_timer_mark(void *dev, void *t, void *enc, int which) {
    (void)dev;
    (void)enc;
    ((cpu_timer *)t)->t[which] = now_us();
    return MLXN_OK;
}
static int cpu_timer_elapsed(void *dev, void *t, double *us) {
    (void)dev;
    *us = ((cpu_timer *)t)->t[1] - ((cpu_timer *)t)->t[0];
    return MLXN_OK;
}

static int cpu_copy_op(void *dev, void *enc, const mlxn_op_call *c) {
    (void)enc;
    return cpu_copy_mem(dev, c->args[1].ptr, c->args[0].ptr, c->u.copy.nbytes);
}

/* K and V: the single-pair kernel twice (no launch cost to save on the CPU). */
static int cpu_kv_cache_write_kv(void *dev, void *enc, const mlxn_op_call *c) {
    mlxn_op_call one = *c;
    one.n_args = 2;
    int s = mlxn_cpu_kv_cache_write(dev, enc, &one);
    if (s) return s;
    one.args[0] = c->args[2];
    one.args[1] = c->args[3];
    return mlxn_cpu_kv_cache_write(dev, enc, &one);
}

const mlxn_backend_vtable mlxn_cpu_backend = {
    .name = "cpu",
    .device_count = cpu_device_count,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .device_synchronize = cpu_sync,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .write = cpu_copy_mem,
    .read = cpu_copy_mem,
    /* [load] */
    /* no staging on the CPU: src/io/load.c copies with .write (host_alloc,
       copy_h2d_async and the fences stay NULL) */
    .host_alloc = NULL,
    .host_free = NULL,
    .copy_h2d_async = NULL,
    .fence_new = NULL,
    .fence_free = NULL,
    .fence_record = NULL,
    .fence_wait = NULL,
    /* [/load] */
    .encoder_new = cpu_encoder_new,
    .encoder_free = cpu_encoder_free,
    .encoder_wait = cpu_encoder_wait,
    .begin_capture = NULL,
    .end_capture = NULL,
    .graph_launch = NULL,
    .graph_free = NULL,
    .timer_new = cpu_timer_new,
    .timer_free = cpu_timer_free,
    .timer_mark = cpu_timer_mark,
    .timer_elapsed_us = cpu_timer_elapsed,
    .copy = cpu_copy_op,
    .rope = mlxn_cpu_rope_run,
    .rope_multi = mlxn_cpu_rope_run,
    .vision_2d_rope = mlxn_cpu_rope_run,
    .rms_norm = mlxn_cpu_rms_norm,
    .l2_norm = mlxn_cpu_l2_norm,
    .unary = mlxn_cpu_unary,
    .binary = mlxn_cpu_binary,
    .glu = mlxn_cpu_glu,
    .cast = mlxn_cpu_cast,
    .softmax = mlxn_cpu_softmax,
    .add_rms_norm = mlxn_cpu_add_rms_norm,
    .rms_norm_add = mlxn_cpu_rms_norm_add,
    .rms_norm_gate = mlxn_cpu_rms_norm_gate,
    .gather_rows = mlxn_cpu_gather_rows,
    .permute = mlxn_cpu_permute,
    .copy_2d = mlxn_cpu_copy_2d,
    .repeat_heads = mlxn_cpu_repeat_heads,
    .kv_cache_write = mlxn_cpu_kv_cache_write,
    .kv_cache_write_kv = cpu_kv_cache_write_kv,
    .argmax = mlxn_cpu_argmax,
    .cumsum = mlxn_cpu_cumsum,
    .row_sum = mlxn_cpu_row_sum,
    /* [sort] */
    .argsort = mlxn_cpu_argsort,
    .top_k = mlxn_cpu_top_k,
    .sort_workspace = mlxn_cpu_sort_workspace,
    /* [/sort] */
    /* [sample] */
    .moe_softmax_topk = mlxn_cpu_moe_softmax_topk,
    .moe_weighted_reduce = mlxn_cpu_moe_weighted_reduce,
    .softmax_sample = mlxn_cpu_softmax_sample,
    /* [/sample] */
    /* [fused_norm2] */
    .rms_norm_mul = mlxn_cpu_rms_norm_mul,
    .head_norm_rope = mlxn_cpu_head_norm_rope,
    .moe_wsum_norm_add = mlxn_cpu_moe_wsum_norm_add,
    .triple_norm = mlxn_cpu_triple_norm,
    /* [/fused_norm2] */
    /* [backward] */
    .softmax_backward = mlxn_cpu_softmax_backward,
    .rms_norm_backward = mlxn_cpu_rms_norm_backward,
    .unary_backward = mlxn_cpu_unary_backward,
    .row_sum_backward = mlxn_cpu_row_sum_backward,
    .rms_inv = mlxn_cpu_rms_inv,
    /* [/backward] */
    /* [quant_ggml] */
    .dequant_ggml = mlxn_cpu_dequant_ggml,
    /* [/quant_ggml] */
    /* [quant_mlx] */
    .dequant_mlx = mlxn_cpu_dequant_mlx,
    .gather_mlx = mlxn_cpu_gather_mlx,
    /* [/quant_mlx] */
};
