/* backend.h — the backend interface. CPU and CUDA each fill one vtable.
   An op entry that is NULL means "unsupported": the op returns
   MLXN_ERR_UNSUPPORTED naming the backend and dtype.

   This header is included from C and from CUDA C++; it holds only plain data. */
#ifndef MLXN_BACKEND_H
#define MLXN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ops/rope_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MLXN_OPK_COPY,
    MLXN_OPK_ROPE,
    MLXN_OPK_ROPE_MULTI,
    MLXN_OPK_VISION_2D_ROPE,
    MLXN_OPK_RMS_NORM,
    MLXN_OPK_L2_NORM,
    MLXN_OPK_UNARY,
    MLXN_OPK_BINARY,
    MLXN_OPK_GLU,
    MLXN_OPK_CAST,
    MLXN_OPK_SOFTMAX,
    MLXN_OPK_ADD_RMS_NORM,
    MLXN_OPK_RMS_NORM_ADD,
    MLXN_OPK_RMS_NORM_GATE,
    MLXN_OPK_GATHER_ROWS,
    MLXN_OPK_PERMUTE,
    MLXN_OPK_COPY_2D,
    MLXN_OPK_REPEAT_HEADS,
    MLXN_OPK_KV_CACHE_WRITE,
    MLXN_OPK_KV_CACHE_WRITE_KV,
    MLXN_OPK_ARGMAX,
    MLXN_OPK_CUMSUM,
    MLXN_OPK_ROW_SUM,
    /* [sort] */
    MLXN_OPK_ARGSORT,
    MLXN_OPK_TOP_K,
    /* [/sort] */
    /* [sample] */
    MLXN_OPK_MOE_SOFTMAX_TOPK,
    MLXN_OPK_MOE_WEIGHTED_REDUCE,
    MLXN_OPK_SOFTMAX_SAMPLE,
    /* [/sample] */
    /* [fused_norm2] */
    MLXN_OPK_RMS_NORM_MUL,
    MLXN_OPK_HEAD_NORM_ROPE,
    MLXN_OPK_MOE_WSUM_NORM_ADD,
    MLXN_OPK_TRIPLE_NORM,
    /* [/fused_norm2] */
    /* [backward] */
    MLXN_OPK_SOFTMAX_BACKWARD,
    MLXN_OPK_RMS_NORM_BACKWARD,
    MLXN_OPK_UNARY_BACKWARD,
    MLXN_OPK_ROW_SUM_BACKWARD,
    MLXN_OPK_RMS_INV,
    /* [/backward] */
    /* [quant_ggml] */
    MLXN_OPK_DEQUANT_GGML,
    /* [/quant_ggml] */
    /* [quant_mlx] */
    MLXN_OPK_DEQUANT_MLX,
    MLXN_OPK_GATHER_MLX,
    /* [/quant_mlx] */
    MLXN_OPK_COUNT
} mlxn_op_kind;

#define MLXN_OP_MAX_BUFS 8

/* Plans of the memory-bound families (filled by src/ops/<family>.c). */
typedef struct {
    int64_t rows, dim;
    int32_t dtype;   /* x and y                                  */
    int32_t w_dtype; /* weight dtype, -1 when there is no weight */
    float   eps;
} mlxn_norm_plan;

typedef struct {
    int64_t n;       /* output elements                                   */
    int64_t nb;      /* binary: elements of b (b[i % nb])                  */
    int64_t cols;    /* glu: output row length n (input row 2n when fused) */
    int32_t dtype;   /* output dtype (= inputs, except cast)              */
    int32_t src_dtype; /* cast: input dtype                               */
    int32_t op;      /* mlxn_unary_op / mlxn_binary_op / mlxn_glu_op       */
    int32_t fused;   /* glu: up half inside gate's rows                   */
    float   alpha;   /* unary SCALE / SOFTCAP                              */
} mlxn_ew_plan;

typedef struct {
    int64_t rows, cols, mask_rows; /* mask_rows 0: no mask */
    int32_t dtype, mask_dtype;
    float   scale, softcap;
} mlxn_softmax_plan;

/* One resolved buffer argument: the view's first byte and its extent. */
typedef struct {
    void   *ptr;    /* NULL for an absent optional argument */
    int     dtype;  /* mlxn_dtype */
    int64_t numel;
    size_t  nbytes;
} mlxn_arg;

/* A validated op, ready to run. The ops layer fills it; the backend reads it.
   Argument order is fixed per op (documented in src/ops/<family>.c). */
typedef struct mlxn_op_call {
    mlxn_op_kind kind;
    const char  *name;                              /* op name for messages          */
    int          n_args;
    mlxn_arg     args[MLXN_OP_MAX_BUFS];
    const struct mlxn_buffer *bufs[MLXN_OP_MAX_BUFS]; /* the views, kept alive by graphs */
    union {
        mlxn_rope_plan rope;                          /* rope, rope_multi, vision_2d_rope */
        mlxn_norm_plan norm;                          /* rms_norm, l2_norm                */
        mlxn_ew_plan ew;                              /* unary, binary, glu, cast         */
        mlxn_softmax_plan softmax;
        /* the fused-norm, layout and reduction families: the meaning of each
           slot is documented per op in src/ops/<family>.c */
        struct {
            int64_t i[12];
            float   f[4];
            int32_t d[4];
        } gen;
        struct { size_t nbytes; } copy;
    } u;
} mlxn_op_call;

/* dev: the backend's device state; enc: the encoder's backend state. */
typedef int (*mlxn_op_fn)(void *dev, void *enc, const mlxn_op_call *c);

typedef struct mlxn_backend_vtable {
    const char *name;                                            /* "cpu", "cuda" */

    /* devices */
    int  (*device_count)(void);
    int  (*device_open)(int index, void **dev, char *name, size_t name_len);
    void (*device_close)(void *dev);
    int  (*device_synchronize)(void *dev);

    /* memory: alloc returns zero-filled memory; write/read are synchronous */
    int  (*alloc)(void *dev, size_t nbytes, void **ptr);
    void (*free)(void *dev, void *ptr);
    int  (*write)(void *dev, void *dst, const void *src, size_t nbytes);
    int  (*read)(void *dev, void *dst, const void *src, size_t nbytes);
    /* [load] host staging and asynchronous uploads (src/io/load.c). NULL
       entries (the CPU backend): load.c copies with `write` instead. */
    int  (*host_alloc)(void *dev, size_t nbytes, void **ptr); /* page-locked host memory, not zeroed */
    void (*host_free)(void *dev, void *ptr);
    /* queue a host-to-device copy on the encoder's stream; src page-locked */
    int  (*copy_h2d_async)(void *dev, void *enc, void *dst, const void *src, size_t nbytes);
    /* fences: a completion mark recorded on an encoder's stream, waited on by the host */
    int  (*fence_new)(void *dev, void **fence);
    void (*fence_free)(void *dev, void *fence);
    int  (*fence_record)(void *dev, void *fence, void *enc);
    int  (*fence_wait)(void *dev, void *fence);
    /* [/load] */

    /* encoders: an in-order queue */
    int  (*encoder_new)(void *dev, void **enc);
    void (*encoder_free)(void *dev, void *enc);
    int  (*encoder_wait)(void *dev, void *enc);

    /* graph capture (optional: NULL means the core records and replays op calls) */
    int  (*begin_capture)(void *dev, void *enc);
    int  (*end_capture)(void *dev, void *enc, void **graph);
    int  (*graph_launch)(void *dev, void *graph, void *enc);
    void (*graph_free)(void *dev, void *graph);

    /* timers */
    int  (*timer_new)(void *dev, void **t);
    void (*timer_free)(void *dev, void *t);
    int  (*timer_mark)(void *dev, void *t, void *enc, int which);  /* 0 start, 1 stop */
    int  (*timer_elapsed_us)(void *dev, void *t, double *us);

    /* ops: one entry per op */
    mlxn_op_fn copy;
    mlxn_op_fn rope;
    mlxn_op_fn rope_multi;
    mlxn_op_fn vision_2d_rope;
    mlxn_op_fn rms_norm;       /* args: 0 x, 1 w (optional), 2 y          */
    mlxn_op_fn l2_norm;        /* args: 0 x, 2 y                          */
    mlxn_op_fn unary;          /* args: 0 x, 1 y                          */
    mlxn_op_fn binary;         /* args: 0 a, 1 b, 2 y                     */
    mlxn_op_fn glu;            /* args: 0 gate, 1 up (optional), 2 y      */
    mlxn_op_fn cast;           /* args: 0 x, 1 y                          */
    mlxn_op_fn softmax;        /* args: 0 x, 1 mask (optional), 2 y       */
    /* fused norms, layout, reductions: argument orders in src/ops/<family>.c */
    mlxn_op_fn add_rms_norm;
    mlxn_op_fn rms_norm_add;
    mlxn_op_fn rms_norm_gate;
    mlxn_op_fn gather_rows;
    mlxn_op_fn permute;
    mlxn_op_fn copy_2d;
    mlxn_op_fn repeat_heads;
    mlxn_op_fn kv_cache_write;
    mlxn_op_fn kv_cache_write_kv;   /* args: 0 k_src, 1 k_cache, 2 v_src, 3 v_cache */
    mlxn_op_fn argmax;
    mlxn_op_fn cumsum;
    mlxn_op_fn row_sum;
    /* [sort] */
    mlxn_op_fn argsort;        /* args: 0 x, 1 idx, 2 ws                  */
    mlxn_op_fn top_k;          /* args: 0 x, 1 idx, 2 val (optional), 3 ws */
    /* workspace bytes the argsort / top_k call c needs (plan filled, pointers
       unused); NULL means 0 */
    int (*sort_workspace)(void *dev, const mlxn_op_call *c, size_t *bytes);
    /* [/sort] */
    /* [sample] */
    mlxn_op_fn moe_softmax_topk;    /* args: 0 logits, 1 expert_scale, 2 ids, 3 weights        */
    mlxn_op_fn moe_weighted_reduce; /* args: 0 y, 1 w, 2 y_shared, 3 gate, 4 res, 5 out         */
    mlxn_op_fn softmax_sample;      /* args: 0 logits, 1 u, 2 token, 3 logprob, 4 ws            */
    /* [/sample] */
    /* [fused_norm2] */
    mlxn_op_fn rms_norm_mul;
    mlxn_op_fn head_norm_rope;
    mlxn_op_fn moe_wsum_norm_add;
    mlxn_op_fn triple_norm;
    /* [/fused_norm2] */
    /* [backward] */
    mlxn_op_fn softmax_backward;
    mlxn_op_fn rms_norm_backward;
    mlxn_op_fn unary_backward;
    mlxn_op_fn row_sum_backward;
    mlxn_op_fn rms_inv;
    /* [/backward] */
    /* [quant_ggml] */
    mlxn_op_fn dequant_ggml;
    /* [/quant_ggml] */
    /* [quant_mlx] */
    mlxn_op_fn dequant_mlx;
    mlxn_op_fn gather_mlx;
    /* [/quant_mlx] */
} mlxn_backend_vtable;

/* Backends report errors by returning an mlxn_status value and setting the
   message through this function (implemented in src/core/status.c). */
int mlxn_backend_error(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
