/*
 * mlxn.h — the public API of mlxn, a C11 library of CPU and CUDA kernels for
 * transformer inference, with the runtime that dispatches them.
 *
 * This header is the documentation. Every function has a short contract.
 *
 * Overview
 * --------
 *   mlxn_device   a backend instance (CPU, or one CUDA GPU).
 *   mlxn_buffer   a typed, shaped view (dtype, shape, byte offset) of refcounted
 *                 device storage. Shapes are outermost first, row-major, contiguous.
 *   mlxn_pool     a power-of-two bucket allocator for per-step scratch buffers.
 *   mlxn_encoder  an ordered queue of work on one device (a CUDA stream on CUDA).
 *   mlxn_graph    a captured sequence of encoded work that can be replayed
 *                 (a CUDA Graph on CUDA, a recorded replay on CPU).
 *
 *   Ops are   mlxn_status mlxn_<op>(mlxn_encoder *e, inputs..., outputs..., const mlxn_<op>_params *p);
 *   They validate their arguments, then encode work. They never allocate device
 *   memory and never synchronize.
 *
 * Errors
 * ------
 *   Every fallible call returns an mlxn_status. On failure mlxn_last_error()
 *   (thread-local) names the function or op and the offending values, e.g.
 *   "rope_multi: rope_dim (96) must be <= head_dim (64)", and no output buffer
 *   has been written. Nothing a caller or a file can cause aborts the process.
 *
 * A minimal session
 * -----------------
 *   mlxn_device *dev;  mlxn_device_open(MLXN_BACKEND_AUTO, 0, &dev);
 *   int64_t shape[3] = {seq, heads, head_dim};
 *   mlxn_buffer *x, *y, *pos;
 *   mlxn_buffer_new(dev, MLXN_F32, 3, shape, &x);   ... same for y, pos (MLXN_I32, {seq})
 *   mlxn_buffer_write(x, host_x, nbytes);
 *   mlxn_encoder *enc;  mlxn_encoder_new(dev, &enc);
 *   mlxn_rope_params rp = mlxn_rope_params_default(head_dim, MLXN_ROPE_NEOX, 10000.0f);
 *   mlxn_rope(enc, x, y, pos, NULL, &rp);
 *   mlxn_encoder_commit(enc);  mlxn_encoder_wait(enc);
 *   mlxn_buffer_read(y, host_y, nbytes);
 *   ... *_free / mlxn_device_close (each accepts NULL).
 *
 * Thread safety: a device may be used from several threads, each with its own
 * encoder. A single encoder, pool or graph must not be used from two threads at once.
 */
#ifndef MLXN_H
#define MLXN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MLXN_API
#else
#define MLXN_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------- */
/* Version                                                                    */
/* ------------------------------------------------------------------------- */

#define MLXN_VERSION_MAJOR 0
#define MLXN_VERSION_MINOR 1
#define MLXN_VERSION_PATCH 0
#define MLXN_VERSION_STRING "0.1.0"

/* The version of the linked library, "MAJOR.MINOR.PATCH"; compare with
   MLXN_VERSION_STRING to detect a header/library mismatch. */
MLXN_API const char *mlxn_version(void);

/* ------------------------------------------------------------------------- */
/* Status and errors                                                          */
/* ------------------------------------------------------------------------- */

typedef enum {
    MLXN_OK = 0,
    MLXN_ERR_INVALID_ARGUMENT, /* a parameter, shape, dtype or handle is wrong        */
    MLXN_ERR_UNSUPPORTED,      /* valid, but this backend/dtype does not implement it */
    MLXN_ERR_OUT_OF_MEMORY,    /* host or device allocation failed                    */
    MLXN_ERR_DEVICE,           /* the device (driver, CUDA runtime) reported an error */
    MLXN_ERR_IO,               /* reading or mapping a file failed                    */
    MLXN_ERR_FORMAT,           /* a file's contents are malformed                     */
    MLXN_ERR_NOT_FOUND         /* a named thing (device, tensor, key) does not exist  */
} mlxn_status;

/* A static, human-readable name for a status ("invalid argument"). Never NULL. */
MLXN_API const char *mlxn_status_str(mlxn_status s);

/* The message of the last failed call on this thread ("" if none). The pointer
   stays valid until the next mlxn call on this thread. */
MLXN_API const char *mlxn_last_error(void);

/* Clears this thread's last error message. */
MLXN_API void mlxn_clear_error(void);

/* ------------------------------------------------------------------------- */
/* Data types                                                                 */
/* ------------------------------------------------------------------------- */

typedef enum {
    MLXN_F32, MLXN_F16, MLXN_BF16, MLXN_I8, MLXN_U8, MLXN_I16, MLXN_U16,
    MLXN_I32, MLXN_U32, MLXN_I64
} mlxn_dtype;

#define MLXN_DTYPE_COUNT 10

/* Bytes per element; 0 for a value outside the enum. */
MLXN_API size_t mlxn_dtype_size(mlxn_dtype t);
/* "f32", "f16", "bf16", "i8", ...; "invalid" for a value outside the enum. */
MLXN_API const char *mlxn_dtype_name(mlxn_dtype t);

/* Exact conversions between f32 and the 16-bit float formats. f32 -> f16/bf16
   rounds to nearest, ties to even; overflow gives Inf; NaN stays NaN (quiet,
   sign kept); subnormals are produced and read exactly. */
MLXN_API uint16_t mlxn_f32_to_f16(float f);
MLXN_API float    mlxn_f16_to_f32(uint16_t h);
MLXN_API uint16_t mlxn_f32_to_bf16(float f);
MLXN_API float    mlxn_bf16_to_f32(uint16_t b);

/* ------------------------------------------------------------------------- */
/* Devices                                                                    */
/* ------------------------------------------------------------------------- */

typedef enum { MLXN_BACKEND_AUTO, MLXN_BACKEND_CPU, MLXN_BACKEND_CUDA } mlxn_backend;

typedef struct mlxn_device  mlxn_device;
typedef struct mlxn_buffer  mlxn_buffer;
typedef struct mlxn_encoder mlxn_encoder;
typedef struct mlxn_graph   mlxn_graph;
typedef struct mlxn_pool    mlxn_pool;
typedef struct mlxn_timer   mlxn_timer;

/* Opens device `index` of backend `b`. AUTO picks CUDA device `index` when the
   library was built with CUDA and a GPU is present, else the CPU. Errors:
   NOT_FOUND (no such device; the message says why, e.g. no GPU present),
   UNSUPPORTED (CUDA requested but not compiled in), DEVICE. */
MLXN_API mlxn_status  mlxn_device_open(mlxn_backend b, int index, mlxn_device **out);
/* Closes a device; accepts NULL. Every buffer, pool, encoder and graph of the
   device must have been freed first. */
MLXN_API void         mlxn_device_close(mlxn_device *d);
/* MLXN_BACKEND_CPU or MLXN_BACKEND_CUDA (never AUTO). */
MLXN_API mlxn_backend mlxn_device_backend(const mlxn_device *d);
/* "cpu (N threads)" or the GPU's name, e.g. "NVIDIA H100 80GB HBM3". */
MLXN_API const char  *mlxn_device_name(const mlxn_device *d);
/* Number of devices of backend b (CPU: 1; CUDA: visible GPUs, 0 if none or not built). */
MLXN_API int          mlxn_device_count(mlxn_backend b);
/* Waits until all work queued on the device (every encoder) has finished;
   reports asynchronous device errors. */
MLXN_API mlxn_status  mlxn_device_synchronize(mlxn_device *d);

/* Counters a test or profiler reads to prove what a step cost. They count since
   the device was opened or last reset. */
typedef struct {
    uint64_t dispatches;      /* kernels (op executions) encoded, incl. graph replays of them */
    uint64_t device_allocs;   /* device memory allocations (buffer and pool storage)         */
    uint64_t device_frees;    /* device memory releases                                      */
    uint64_t bytes_allocated; /* total bytes of those allocations                            */
    uint64_t syncs;           /* host waits on the device (encoder_wait, buffer read/write)  */
    uint64_t graph_launches;  /* mlxn_graph_launch calls                                     */
} mlxn_counters;
MLXN_API void mlxn_device_counters(const mlxn_device *d, mlxn_counters *out);
MLXN_API void mlxn_device_counters_reset(mlxn_device *d);

/* ------------------------------------------------------------------------- */
/* Buffers                                                                    */
/* ------------------------------------------------------------------------- */

#define MLXN_MAX_DIMS 8

/* A new zero-filled buffer of the given dtype and shape (0 <= ndim <= 8; every
   dim >= 1; ndim 0 is a scalar). Errors: INVALID_ARGUMENT (bad shape, overflow),
   OUT_OF_MEMORY. */
MLXN_API mlxn_status mlxn_buffer_new(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape,
                                     mlxn_buffer **out);
/* A view of base's storage starting `byte_offset` bytes into base's view, with
   its own dtype and shape. The view keeps the storage alive. It must lie inside
   base's view and be aligned to its element size. */
MLXN_API mlxn_status mlxn_buffer_view(mlxn_buffer *base, size_t byte_offset, mlxn_dtype t, int ndim,
                                      const int64_t *shape, mlxn_buffer **out);
/* Drops this view's reference; the storage is freed with its last view. Accepts NULL. */
MLXN_API void        mlxn_buffer_free(mlxn_buffer *b);
/* Copies nbytes from host memory into the view. nbytes must equal the view's
   nbytes. Waits for all work queued on the device first (counted as a sync). */
MLXN_API mlxn_status mlxn_buffer_write(mlxn_buffer *b, const void *src, size_t nbytes);
/* Copies the view into host memory; nbytes must equal the view's nbytes. Waits
   for all work queued on the device first. */
MLXN_API mlxn_status mlxn_buffer_read(const mlxn_buffer *b, void *dst, size_t nbytes);
MLXN_API mlxn_dtype  mlxn_buffer_dtype(const mlxn_buffer *b);
MLXN_API int         mlxn_buffer_ndim(const mlxn_buffer *b);
MLXN_API const int64_t *mlxn_buffer_shape(const mlxn_buffer *b);
/* Elements and bytes of the view (never the whole allocation). */
MLXN_API int64_t     mlxn_buffer_numel(const mlxn_buffer *b);
MLXN_API size_t      mlxn_buffer_nbytes(const mlxn_buffer *b);
MLXN_API size_t      mlxn_buffer_offset(const mlxn_buffer *b);
MLXN_API mlxn_device *mlxn_buffer_device(const mlxn_buffer *b);

/* ------------------------------------------------------------------------- */
/* Buffer pool: per-step scratch without per-step device allocations         */
/* ------------------------------------------------------------------------- */

/* Storage is bucketed by the next power of two of its byte size. A fresh
   bucket allocation is zero-filled; a reused one is NOT cleared (that is the
   point: no device work on the hot path). */
typedef struct {
    uint64_t in_use;        /* storages handed out since the last reset */
    uint64_t in_use_bytes;
    uint64_t free;          /* storages waiting in free lists          */
    uint64_t free_bytes;
    uint64_t device_allocs; /* device allocations the pool has made     */
    uint64_t hits;          /* allocations served from a free list      */
} mlxn_pool_stats;

MLXN_API mlxn_status mlxn_pool_new(mlxn_device *d, mlxn_pool **out);
/* Frees the pool's storage; buffers still alive keep theirs until freed. Accepts NULL. */
MLXN_API void        mlxn_pool_free(mlxn_pool *p);
/* A buffer (dtype, shape) backed by pooled storage. Free the buffer with
   mlxn_buffer_free as usual; its storage returns to the pool at the next
   mlxn_pool_reset, not before. */
MLXN_API mlxn_status mlxn_pool_alloc(mlxn_pool *p, mlxn_dtype t, int ndim, const int64_t *shape,
                                     mlxn_buffer **out);
/* Returns every storage handed out since the last reset to the free lists (the
   per-step arena reset). Buffers from before the reset must no longer be used. */
MLXN_API void        mlxn_pool_reset(mlxn_pool *p);
MLXN_API void        mlxn_pool_get_stats(const mlxn_pool *p, mlxn_pool_stats *out);

/* ------------------------------------------------------------------------- */
/* Encoders and graphs                                                        */
/* ------------------------------------------------------------------------- */

MLXN_API mlxn_status mlxn_encoder_new(mlxn_device *d, mlxn_encoder **out);
/* Frees the encoder after waiting for its work. Accepts NULL. */
MLXN_API void        mlxn_encoder_free(mlxn_encoder *e);
MLXN_API mlxn_device *mlxn_encoder_device(const mlxn_encoder *e);
/* Order: later dispatches see earlier writes. (Work on one encoder is already
   in order on both backends; this is kept for engines that reorder.) */
MLXN_API mlxn_status mlxn_encoder_barrier(mlxn_encoder *e);
/* Submit, do not wait. */
MLXN_API mlxn_status mlxn_encoder_commit(mlxn_encoder *e);
/* Wait for the encoder's work; reports asynchronous device errors. */
MLXN_API mlxn_status mlxn_encoder_wait(mlxn_encoder *e);
/* Start recording: ops encoded until end_capture are recorded, not run. */
MLXN_API mlxn_status mlxn_encoder_begin_capture(mlxn_encoder *e);
/* Stop recording and return the graph (possibly empty). */
MLXN_API mlxn_status mlxn_encoder_end_capture(mlxn_encoder *e, mlxn_graph **out);
/* Replay the graph on e (CUDA Graphs on CUDA). Replays read and write the
   buffers that were captured, and equal eager execution bit for bit. The
   graph keeps its buffers' storage alive. A replay allocates nothing. */
MLXN_API mlxn_status mlxn_graph_launch(mlxn_graph *g, mlxn_encoder *e);
/* Number of op dispatches recorded in the graph. */
MLXN_API size_t      mlxn_graph_size(const mlxn_graph *g);
MLXN_API void        mlxn_graph_free(mlxn_graph *g);

/* Device-to-device copy of src's view into dst's view (equal nbytes; the
   dtypes may differ only as a raw byte copy). Encoded like an op. */
MLXN_API mlxn_status mlxn_buffer_copy(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst);

/* Device timers: CUDA events on CUDA, the host clock on CPU. */
MLXN_API mlxn_status mlxn_timer_new(mlxn_device *d, mlxn_timer **out);
MLXN_API void        mlxn_timer_free(mlxn_timer *t);
MLXN_API mlxn_status mlxn_timer_start(mlxn_timer *t, mlxn_encoder *e);
MLXN_API mlxn_status mlxn_timer_stop(mlxn_timer *t, mlxn_encoder *e);
/* Waits for the stop mark and returns the elapsed microseconds between the marks. */
MLXN_API mlxn_status mlxn_timer_elapsed_us(mlxn_timer *t, double *us);

/* ------------------------------------------------------------------------- */
/* RoPE family                                                                */
/* ------------------------------------------------------------------------- */

/* Rotary position embedding with ggml's semantics (llama.cpp ROPE).
   input/output: [seq_len, n_heads, head_dim] or [batch, seq_len, n_heads, head_dim],
   f32, f16 or bf16 (same dtype, same shape; output may be the input itself).
   positions: i32 or u32 [seq_len] (the same for every batch row).
   freq_factors: NULL or f32 [>= n_dims/2]; pair p's angle is divided by it.

   For pair p < n_dims/2:  theta = pos * freq_base^(-2p/n_dims) / ff[p], then YaRN:
     theta_interp = freq_scale * theta;  if ext_factor != 0, mix = ramp(p)*ext_factor
     (ramp from beta_fast/beta_slow/n_ctx_orig as ggml's ggml_rope_yarn_corr_dims),
     theta = theta_interp*(1-mix) + theta*mix and mscale = attn_factor*(1+0.1*ln(1/freq_scale));
     else theta = theta_interp and mscale = attn_factor.
   NORMAL rotates (x[2p], x[2p+1]); NEOX rotates (x[p], x[p + n_dims/2]):
     y0 = (x0*cos - x1*sin)*mscale,  y1 = (x0*sin + x1*cos)*mscale.
   Dimensions [n_dims, head_dim) are copied. Angles are computed in double
   precision; the rotation in f32. */
typedef enum { MLXN_ROPE_NORMAL = 0, MLXN_ROPE_NEOX = 2 } mlxn_rope_mode;

/* The largest head_dim any RoPE op accepts. */
#define MLXN_ROPE_MAX_HEAD_DIM 8192

typedef struct {
    uint32_t       n_dims;      /* rotated dims: even, 2 <= n_dims <= head_dim     */
    mlxn_rope_mode mode;
    float          freq_base;   /* > 0, finite (10000 for llama)                   */
    float          freq_scale;  /* 1 = no scaling; > 0, finite                      */
    float          ext_factor;  /* 0 = no YaRN extrapolation mix                   */
    float          attn_factor; /* 1                                                */
    float          beta_fast;   /* 32                                               */
    float          beta_slow;   /* 1                                                */
    uint32_t       n_ctx_orig;  /* original training context (YaRN); 0 allowed      */
} mlxn_rope_params;

/* Parameters with no scaling: freq_scale 1, ext_factor 0, attn_factor 1,
   beta_fast 32, beta_slow 1, n_ctx_orig 0. */
MLXN_API mlxn_rope_params mlxn_rope_params_default(uint32_t n_dims, mlxn_rope_mode mode, float freq_base);

MLXN_API mlxn_status mlxn_rope(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output,
                               const mlxn_buffer *positions, const mlxn_buffer *freq_factors,
                               const mlxn_rope_params *p);

/* Multi-section RoPE (Qwen2-VL/Qwen3-VL/Qwen3.5/3.6). input/output: [seq_len, n_heads, head_dim]
   f32, f16 or bf16 (same dtype); positions: i32 or u32 [4 * seq_len], axis-major
   (t[0..seq), h[0..seq), w[0..seq), e[0..seq)).
   Semantics of HF transformers and ggml: for pair p < rope_dim/2, sector = p mod (s0+s1+s2+s3);
   the axis by mode (MROPE: contiguous sections; IMROPE: interleaved t,h,w); theta =
   pos[axis] * freq_base^(-2p/rope_dim); the NeoX pair (x[p], x[p + rope_dim/2]) is rotated;
   dims [rope_dim, head_dim) are copied. VISION: rope_dim == head_dim, s0+s1 == head_dim/2,
   axis 0 for sector < s0 (local index p) else axis 1 (local index p - s0),
   theta = pos[axis] * freq_base^(-2*local/(head_dim/2)), pair (x[p], x[p + head_dim/2]).
   Validation: dims > 0, head_dim and rope_dim even, rope_dim <= head_dim, freq_base finite > 0,
   sections sum >= 1, VISION rules, shapes match the params, positions i32/u32 of 4*seq_len. */
typedef enum { MLXN_ROPE_MROPE = 8, MLXN_ROPE_VISION = 24, MLXN_ROPE_IMROPE = 40 } mlxn_rope_multi_mode;
typedef struct {
    uint32_t head_dim, rope_dim, n_heads, seq_len;
    float freq_base;
    mlxn_rope_multi_mode mode;
    uint32_t sections[4];
} mlxn_rope_multi_params;
MLXN_API mlxn_status mlxn_rope_multi(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output,
                                     const mlxn_buffer *positions, const mlxn_rope_multi_params *p);

/* Gemma-4 vision 2-D RoPE (mlx-native vision_2d_rope). input/output [seq_len, n_heads, head_dim]
   f32/f16/bf16, head_dim % 4 == 0. pos_x, pos_y: i32/u32 [seq_len]. With q = head_dim/4 and
   i < q: the first half rotates (x[i], x[i+q]) by pos_x, the second half rotates
   (x[2q+i], x[2q+i+q]) by pos_y, angle = pos * theta^(-2i/(head_dim/2)). */
typedef struct {
    uint32_t head_dim, n_heads, seq_len;
    float theta; /* base, > 0 finite (100 in Gemma 4 vision) */
} mlxn_vision_2d_rope_params;
MLXN_API mlxn_status mlxn_vision_2d_rope(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output,
                                         const mlxn_buffer *pos_x, const mlxn_buffer *pos_y,
                                         const mlxn_vision_2d_rope_params *p);


/* ------------------------------------------------------------------------- */
/* Norms                                                                      */
/* ------------------------------------------------------------------------- */
/* Common rules for the row ops below: a "row" is the last dimension; an input
   of numel N with row length `dim` has N/dim rows. Inputs and outputs are f32,
   f16 or bf16 (output dtype = input dtype unless stated); arithmetic and
   reductions are in f32 and the result is rounded once to the output dtype.
   Output may be the input itself (in place) unless stated. */

typedef struct {
    float eps; /* >= 0, finite (1e-6 typical) */
} mlxn_norm_params;

/* RMS norm (llama, Qwen, Gemma; MLX mx.fast.rms_norm):
   y = x * rsqrt(mean(x^2) + eps) * w.  x, y: [..., dim]; w: NULL (no weight) or
   [dim] of x's dtype or f32. */
MLXN_API mlxn_status mlxn_rms_norm(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, mlxn_buffer *y,
                                   const mlxn_norm_params *p);

/* L2 norm (Qwen3.5 Gated-DeltaNet q/k, HF/fla l2norm): y = x / sqrt(sum(x^2) + eps). */
MLXN_API mlxn_status mlxn_l2_norm(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_norm_params *p);

/* ------------------------------------------------------------------------- */
/* Elementwise and activations                                                */
/* ------------------------------------------------------------------------- */

typedef enum {
    MLXN_UNARY_GELU,     /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (tanh approximation) */
    MLXN_UNARY_GELU_ERF, /* 0.5 x (1 + erf(x / sqrt(2)))                                            */
    MLXN_UNARY_SILU,     /* x * sigmoid(x)                                                          */
    MLXN_UNARY_SIGMOID,  /* 1 / (1 + exp(-x))                                                       */
    MLXN_UNARY_TANH,
    MLXN_UNARY_RELU,
    MLXN_UNARY_EXP,
    MLXN_UNARY_LOG,      /* natural log; log(0) = -inf, log(<0) = NaN as IEEE                      */
    MLXN_UNARY_SCALE,    /* x * alpha                                                               */
    MLXN_UNARY_SOFTCAP   /* alpha * tanh(x / alpha), alpha > 0 (Gemma logit soft-capping)          */
} mlxn_unary_op;

typedef struct {
    mlxn_unary_op op;
    float alpha; /* SCALE, SOFTCAP */
} mlxn_unary_params;

/* y = op(x). x, y: same numel and dtype (any shapes). */
MLXN_API mlxn_status mlxn_unary(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_unary_params *p);

typedef enum { MLXN_BINARY_ADD, MLXN_BINARY_SUB, MLXN_BINARY_MUL, MLXN_BINARY_DIV } mlxn_binary_op;
typedef struct {
    mlxn_binary_op op;
} mlxn_binary_params;

/* y = a op b. a, y: same numel and dtype. b: a's dtype; either the same numel
   as a, or a row vector repeated along the leading dims (numel(a) % numel(b) == 0,
   element i of a meets element i % numel(b) of b) — bias and per-channel scale. */
MLXN_API mlxn_status mlxn_binary(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                                 const mlxn_binary_params *p);

typedef enum {
    MLXN_GLU_SWIGLU,   /* silu(gate) * up          (llama, Qwen)       */
    MLXN_GLU_GEGLU,    /* gelu_tanh(gate) * up     (Gemma)             */
    MLXN_GLU_GEGLU_ERF,/* gelu_erf(gate) * up                          */
    MLXN_GLU_SIGMOID   /* sigmoid(gate) * up       (Qwen3.5 attn gate) */
} mlxn_glu_op;
typedef struct {
    mlxn_glu_op op;
} mlxn_glu_params;

/* Gated linear units: y = act(gate) * up.
   Split form: gate, up, y all [..., n], same dtype.
   Fused form (up == NULL): gate is [..., 2n] with the gate half first and the up
   half second in each row (ggml's fused GLU layout); y is [..., n]. */
MLXN_API mlxn_status mlxn_glu(mlxn_encoder *e, const mlxn_buffer *gate, const mlxn_buffer *up, mlxn_buffer *y,
                              const mlxn_glu_params *p);

/* Converts between f32, f16 and bf16 (any pair, same numel; round to nearest
   even; NaN/Inf kept). Not in place unless the dtypes are equal. */
MLXN_API mlxn_status mlxn_cast(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y);

/* ------------------------------------------------------------------------- */
/* Softmax family                                                             */
/* ------------------------------------------------------------------------- */

typedef struct {
    float scale;   /* multiplies x first (1 = none); finite                      */
    float softcap; /* 0 = off; else z = softcap * tanh(z / softcap), > 0        */
} mlxn_softmax_params;

/* Row softmax with ggml's soft_max_ext order: z = x*scale; z = softcap*tanh(z/softcap)
   when softcap > 0; z += mask; y = exp(z - max z) / sum. x, y: [..., cols].
   mask: NULL, or [mask_rows, cols] (f32, f16 or bf16; -inf allowed) added to row r
   as mask row r % mask_rows. A row whose z is all -inf gives all zeros (not NaN). */
MLXN_API mlxn_status mlxn_softmax(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *mask, mlxn_buffer *y,
                                  const mlxn_softmax_params *p);


/* ------------------------------------------------------------------------- */
/* Fused norms                                                                */
/* ------------------------------------------------------------------------- */

/* Pre-norm residual (llama-style blocks): s = a + b; y = rms_norm(s) * w.
   a, b, y (and sum_out): [..., dim] same dtype (f32/f16/bf16); w: NULL or [dim]
   (x's dtype or f32). sum_out: NULL, or receives s (rounded to the dtype) — the
   next residual. s is normalized in f32 before rounding. */
MLXN_API mlxn_status mlxn_add_rms_norm(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b,
                                       const mlxn_buffer *w, mlxn_buffer *y, mlxn_buffer *sum_out,
                                       const mlxn_norm_params *p);

typedef struct {
    float eps;   /* >= 0, finite            */
    float scale; /* multiplies the result; finite (1 = none; Gemma 4's layer scalar) */
} mlxn_norm_add_params;

/* Post-norm residual (Gemma): y = (res + rms_norm(x) * w) * scale. x, res, y:
   [..., dim] same dtype; w: NULL or [dim] (x's dtype or f32). y may be res. */
MLXN_API mlxn_status mlxn_rms_norm_add(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                       const mlxn_buffer *res, mlxn_buffer *y, const mlxn_norm_add_params *p);

/* Gated RMS norm (Qwen3.5 Gated-DeltaNet output gate): y = rms_norm(x) * w * silu(z).
   x, z, y: [..., dim] same dtype; w: NULL or [dim] (x's dtype or f32). */
MLXN_API mlxn_status mlxn_rms_norm_gate(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                        const mlxn_buffer *z, mlxn_buffer *y, const mlxn_norm_params *p);

/* [fused_norm2] */
/* Norm times a multiplier tensor m (the multiplier lives on the device).
   m: numel equal to x's (a full [..., dim] tensor of x's dtype: mlx-native
   rms_norm_mul, the fusion of rms_norm then mul), or numel dim (one value per
   column, x's dtype or f32), or numel 1 (a device scalar, x's dtype or f32:
   Gemma 4's layer scalar). The forms are told apart by numel: dim means a
   column vector (also when x has a single row, where full and column are the
   same thing), then numel(x) full, then 1 scalar (when dim is 1 a scalar is a
   column). w: NULL or [dim] (x's dtype or f32). An output may be exactly one of
   the row inputs (x, a, b, res) and y may be exactly a full m; outputs must not
   overlap each other, w or a column/scalar m.
     rms_norm_mul:      y = rms_norm(x) * w * m
     add_rms_norm_mul:  s = a + b; y = rms_norm(s) * w * m; sum_out: NULL or s
                        (rounded; s is normalized in f32 before rounding)
                        (mlx-native fused_residual_norm(_scalar), vector or scalar)
     rms_norm_add_mul:  y = (res + rms_norm(x) * w) * m
                        (mlx-native fused_norm_add_scalar with a device scalar/vector)
   The other mlx-native residual forms are already ops above: fused_residual_norm
   (rms_norm(res + in) * w, optional sum) is mlxn_add_rms_norm; fused_norm_add
   (res + rms_norm(in) * w, with or without w) and fused_norm_add_scalar with a
   host scalar are mlxn_rms_norm_add. */
MLXN_API mlxn_status mlxn_rms_norm_mul(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                       const mlxn_buffer *m, mlxn_buffer *y, const mlxn_norm_params *p);
MLXN_API mlxn_status mlxn_add_rms_norm_mul(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b,
                                           const mlxn_buffer *w, const mlxn_buffer *m, mlxn_buffer *y,
                                           mlxn_buffer *sum_out, const mlxn_norm_params *p);
MLXN_API mlxn_status mlxn_rms_norm_add_mul(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                           const mlxn_buffer *res, const mlxn_buffer *m, mlxn_buffer *y,
                                           const mlxn_norm_params *p);

/* Triple norm (Gemma 4 pre-FFN; mlx-native rms_norm_f32_triple): one RMS of x,
   three weights: y_k = rms_norm(x) * w3[k, :] for k = 0, 1, 2.
   x, y0, y1, y2: [..., dim] same dtype (f32/f16/bf16); w3: [3, dim] (the three
   weights stacked; x's dtype or f32). An output may be exactly x; outputs must
   not overlap each other or w3. */
MLXN_API mlxn_status mlxn_triple_norm(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w3, mlxn_buffer *y0,
                                      mlxn_buffer *y1, mlxn_buffer *y2, const mlxn_norm_params *p);

/* Post-attention triple norm (mlx-native fused_post_attn_triple_norm):
   r = h + rms_norm(attn) * w_post;  res = r;  y_k = rms_norm(r) * w3[k, :].
   r is kept in f32 (res receives it rounded). h, attn, res, y0..y2: [..., dim]
   same dtype; w_post: [dim], w3: [3, dim] (each x's dtype or f32). An output
   may be exactly h or attn; outputs must not overlap each other or the weights. */
MLXN_API mlxn_status mlxn_post_attn_triple_norm(mlxn_encoder *e, const mlxn_buffer *h, const mlxn_buffer *attn,
                                                const mlxn_buffer *w_post, const mlxn_buffer *w3, mlxn_buffer *res,
                                                mlxn_buffer *y0, mlxn_buffer *y1, mlxn_buffer *y2,
                                                const mlxn_norm_params *p);

/* MoE weighted sum, norm and residual (Gemma 4 MoE; mlx-native
   fused_moe_wsum_norm_add): v[t] = sum_k wk[t, k] * ys[t, k, :] (in f32, k in
   order); y[t] = res[t] + rms_norm(v[t]) * nw.
   ys: [T, K, dim] f32/f16/bf16; wk: f32 [T, K]; res, y: [T, dim] (any shape of
   T*dim elements with last dim dim) of ys's dtype; res NULL: y = rms_norm(v) * nw;
   nw: NULL or [dim] (ys's dtype or f32). y may be exactly res; it must not
   overlap ys, wk or nw. */
MLXN_API mlxn_status mlxn_moe_wsum_norm_add(mlxn_encoder *e, const mlxn_buffer *ys, const mlxn_buffer *wk,
                                            const mlxn_buffer *res, const mlxn_buffer *nw, mlxn_buffer *y,
                                            const mlxn_norm_params *p);

/* The double-norm variant (mlx-native fused_moe_wsum_dnorm_add): the dense MLP
   output and the MoE weighted sum are normed separately, each with its weight:
   y[t] = res[t] + rms_norm(dense[t]) * w_dense + rms_norm(v[t]) * nw.
   mlx-native's kernel has no residual term: pass res = NULL for it. dense: like
   res; w_dense: NULL or [dim] (ys's dtype or f32). y may be exactly res or dense. */
MLXN_API mlxn_status mlxn_moe_wsum_dnorm_add(mlxn_encoder *e, const mlxn_buffer *ys, const mlxn_buffer *wk,
                                             const mlxn_buffer *dense, const mlxn_buffer *w_dense,
                                             const mlxn_buffer *res, const mlxn_buffer *nw, mlxn_buffer *y,
                                             const mlxn_norm_params *p);

typedef struct {
    uint32_t head_dim;   /* D: even, 2 .. MLXN_ROPE_MAX_HEAD_DIM                       */
    uint32_t rope_dim;   /* rotated dims: even, 0 .. head_dim (0: norm only)            */
    float    eps;        /* >= 0, finite                                                */
    float    freq_base;  /* > 0, finite (theta: 10000, 1e6, ...)                        */
    int      co_permuted;/* y_co layout: 0 as y ([S, H, D]), 1 permuted to [H, S, D]    */
} mlxn_head_norm_rope_params;

/* Per-head RMS norm + NeoX RoPE (Gemma 4 Q/K; mlx-native fused_head_norm_rope).
   x, y: [S, H, D] (a batch of S tokens) or [H, D] (one token, S = 1), f32/f16/bf16,
   same dtype and shape (y may be x). w: NULL or [D] (x's dtype or f32).
   positions: i32 or u32 [S]. freq_factors: NULL or f32 [>= rope_dim/2].
   For token s, head h: n = x[s,h,:] * rsqrt(mean(x[s,h,:]^2) + eps) * w; for
   i < rope_dim/2 the pair (n[i], n[i + D/2]) is rotated by
     theta = pos[s] * freq_base^(-2i/D) / ff[i]:
     y[i] = n[i] cos - n[i+D/2] sin,  y[i+D/2] = n[i] sin + n[i+D/2] cos;
   every other element is n itself. Note the convention (mlx-native's, and
   mlx-lm's ProportionalRoPE for Gemma 4's partial rotary): the exponent's
   denominator is head_dim and the partner is always at D/2, whatever rope_dim.
   It equals mlxn_rms_norm followed by mlxn_rope(NEOX, n_dims = head_dim) with
   freq factors ff[i] for i < rope_dim/2 and +inf beyond (within rounding); for
   rope_dim == head_dim it is plain NeoX RoPE. Angles in double, rotation in f32,
   one rounding per output.
   y_co: NULL, or a second output of S*H*D elements (any float dtype) receiving
   the same f32 values rounded to its dtype (mlx-native's bf16 co-write), laid
   out as y, or as [H, S, D] when co_permuted (the layout attention wants).
   y_co must not overlap x, y, w, positions or freq_factors. */
MLXN_API mlxn_status mlxn_head_norm_rope(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                         const mlxn_buffer *positions, const mlxn_buffer *freq_factors,
                                         mlxn_buffer *y, mlxn_buffer *y_co, const mlxn_head_norm_rope_params *p);
/* [/fused_norm2] */

/* ------------------------------------------------------------------------- */
/* Layout, gathers and the KV cache                                           */
/* ------------------------------------------------------------------------- */

typedef struct {
    float scale; /* multiplies every gathered value (1 = none; Gemma scales embeddings by sqrt(hidden)) */
} mlxn_gather_params;

/* Row gather (embedding lookup): y[i, :] = table[ids[i], :] * scale.
   table: [n_rows, dim] f32/f16/bf16; ids: i32 or u32 [n]; y: [n, dim] of table's
   dtype or f32. ids live on the device and cannot be checked before the op runs:
   an id outside [0, n_rows) yields a row of zeros. */
MLXN_API mlxn_status mlxn_gather_rows(mlxn_encoder *e, const mlxn_buffer *table, const mlxn_buffer *ids,
                                      mlxn_buffer *y, const mlxn_gather_params *p);

typedef struct {
    int ndim;    /* 2..4, equal to x's ndim */
    int perm[4]; /* a permutation of 0..ndim-1 */
} mlxn_permute_params;

/* y = x with its axes permuted: y.shape[i] == x.shape[perm[i]]. Any dtype (a
   copy of 1/2/4/8-byte elements); not in place. {1,0} is a 2-D transpose,
   {1,0,2} permute_021, {0,2,1} transpose_last2. */
MLXN_API mlxn_status mlxn_permute(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y,
                                  const mlxn_permute_params *p);

typedef struct {
    int64_t rows, cols;            /* the block, in elements                     */
    int64_t src_stride, src_col;   /* src row stride and first column (elements) */
    int64_t dst_stride, dst_col;   /* dst row stride and first column            */
} mlxn_copy_2d_params;

/* Copies a rows x cols block between two row-major matrices of the same dtype:
   dst[r*dst_stride + dst_col + c] = src[r*src_stride + src_col + c]. The block
   must lie inside both buffers and src and dst must not overlap. Column slices,
   concatenation by columns (one call per part), qkv_split, strided copies. */
MLXN_API mlxn_status mlxn_copy_2d(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst,
                                  const mlxn_copy_2d_params *p);

typedef struct {
    int interleaved; /* 0: tiled y[t,h] = x[t, h % Hg] (ggml_repeat); 1: y[t,h] = x[t, h / (H/Hg)] (HF repeat_kv) */
} mlxn_repeat_heads_params;

/* GQA head repeat: x [T, Hg, D] -> y [T, H, D], H a multiple of Hg, same dtype. */
MLXN_API mlxn_status mlxn_repeat_heads(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y,
                                       const mlxn_repeat_heads_params *p);

typedef struct {
    uint32_t pos;  /* cache slot of the first new token */
    int sliding;   /* 0: linear cache, pos + T > cap is an error; 1: ring, slot (pos + t) % cap, T <= cap */
} mlxn_kv_cache_params;

/* Writes T new tokens into a KV cache: src [T, H, D] (f32/f16/bf16), cache
   [H, cap, D] (f32/f16/bf16; values converted, rounded to nearest even).
   Token t of head h goes to cache[h, slot(t), :]. */
MLXN_API mlxn_status mlxn_kv_cache_write(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *cache,
                                         const mlxn_kv_cache_params *p);
/* K and V in one launch (the prefill/decode "dual" copy): exactly
   mlxn_kv_cache_write(k_src -> k_cache) and (v_src -> v_cache) with the same
   params. K and V must have the same dtypes and shapes; no buffer may overlap
   another's output. */
MLXN_API mlxn_status mlxn_kv_cache_write_kv(mlxn_encoder *e, const mlxn_buffer *k_src, mlxn_buffer *k_cache,
                                            const mlxn_buffer *v_src, mlxn_buffer *v_cache,
                                            const mlxn_kv_cache_params *p);

/* ------------------------------------------------------------------------- */
/* Reductions                                                                 */
/* ------------------------------------------------------------------------- */

/* Per-row argmax: x [..., n] f32/f16/bf16 -> idx i32 [rows]; val: NULL or f32
   [rows] receiving the maximum. Ties go to the lowest index; a NaN counts as
   larger than any number (the first NaN wins, as numpy.argmax). */
MLXN_API mlxn_status mlxn_argmax(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *val);

typedef struct {
    int exclusive; /* 1: y[i] = sum of x[0..i)  (else inclusive)  */
    int reverse;   /* 1: sums run from the end of the row         */
} mlxn_cumsum_params;

/* Prefix sums along the last dim, accumulated in f32: x, y [..., n] same dtype
   (f32/f16/bf16), y may be x. */
MLXN_API mlxn_status mlxn_cumsum(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_cumsum_params *p);

/* Row sums: x [..., n] f32/f16/bf16 -> y [rows] of x's dtype or f32, accumulated in f32. */
MLXN_API mlxn_status mlxn_row_sum(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y);

/* ------------------------------------------------------------------------- */
/* Sorting and top-k                                                         */
/* ------------------------------------------------------------------------- */
/*
 * Workspaces. Ops never allocate. An op that needs scratch memory takes a
 * caller-owned buffer `ws` (any dtype; its view's bytes are what counts) of at
 * least the size that its mlxn_<op>_workspace_size(...) function returns for
 * the device and shapes; NULL is accepted where that size is 0. The op may
 * overwrite the workspace; it must not overlap any input or output. Size it
 * once for the largest shape and reuse it every step (or take it from a pool).
 */
/* [sort] */
/*
 * Order. Both ops rank the elements of each row (the last dimension; rows =
 * numel / n) by value, with these rules, the same on every backend:
 *   - -0.0 and +0.0 are equal; every NaN (any sign or payload) is equal to
 *     every other NaN and LARGER than +inf (numpy's sort order);
 *   - equal values keep their index order: the lower index comes first, in
 *     descending and in ascending order alike (a stable sort).
 * So a descending row starts with its NaNs (lowest index first), then +inf,
 * ..., -inf; an ascending row ends with its NaNs. The result is a
 * permutation of 0..n-1 determined exactly by these rules, and top_k(x, k)
 * equals the first k entries of the descending argsort.
 */
typedef struct {
    int ascending; /* 0: descending, largest first (the default); 1: ascending */
} mlxn_argsort_params;

/* The workspace bytes mlxn_argsort needs on device d for `rows` rows of n
   elements of dtype t (the same for either order). CPU: 0. CUDA: 0 for rows
   of up to 4096 (sorted in shared memory), else 12 (u32 keys: one f32 row,
   or f16/bf16 rows up to 65536) or 20 (u64 keys) bytes per element plus
   CUB's temp storage. Errors: INVALID_ARGUMENT (d or
   bytes NULL, rows or n < 1, n > INT32_MAX, rows * n overflowing),
   UNSUPPORTED (t not f32/f16/bf16). */
MLXN_API mlxn_status mlxn_argsort_workspace_size(const mlxn_device *d, int64_t rows, int64_t n, mlxn_dtype t,
                                                 size_t *bytes);

/* Per-row argsort: idx[r, j] = the index in row r of its j-th element in the
   order above (descending unless p->ascending). x: [..., n] f32/f16/bf16
   (n <= INT32_MAX); idx: i32 of x's shape; ws: a workspace of at least
   mlxn_argsort_workspace_size bytes (NULL when that is 0), see "Workspaces".
   idx and ws must not overlap x or each other. */
MLXN_API mlxn_status mlxn_argsort(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *ws,
                                  const mlxn_argsort_params *p);

#define MLXN_TOP_K_MAX 1024 /* the largest k mlxn_top_k accepts */

typedef struct {
    int32_t k; /* 1 <= k <= min(n, MLXN_TOP_K_MAX) */
} mlxn_top_k_params;

/* The workspace bytes mlxn_top_k needs on d for rows x n of dtype t and this
   k. CPU: 0. CUDA: 0 for rows of up to 4096, else 16 bytes per candidate
   (rows * ceil(n / C) * k candidates, C = 1024 for k <= 256, up to 4096 for
   larger k). Errors: as
   mlxn_argsort_workspace_size, plus INVALID_ARGUMENT for k out of range. */
MLXN_API mlxn_status mlxn_top_k_workspace_size(const mlxn_device *d, int64_t rows, int64_t n, int32_t k,
                                               mlxn_dtype t, size_t *bytes);

/* Per-row top k, largest first: idx[r, j] = the index of row r's j-th
   largest element (the first k entries of the descending argsort: NaN
   largest, ties to the lower index); val: NULL, or receives x[r, idx[r, j]]
   exactly (a NaN stays NaN). x: [..., n] f32/f16/bf16; idx: i32 [..., k]
   (x's leading dims); val: NULL or idx's shape, x's dtype or f32 (both exact).
   ws: at least mlxn_top_k_workspace_size bytes (NULL when that is 0).
   idx, val and ws must not overlap x or each other. */
MLXN_API mlxn_status mlxn_top_k(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *val,
                                mlxn_buffer *ws, const mlxn_top_k_params *p);
/* [/sort] */

/* ------------------------------------------------------------------------- */
/* MoE routing and sampling                                                  */
/* ------------------------------------------------------------------------- */
/* [sample] */
/* The largest k of the MoE router. */
#define MLXN_MOE_MAX_TOPK 64

typedef struct {
    uint32_t k;      /* experts per token, 1 <= k <= min(E, MLXN_MOE_MAX_TOPK)             */
    int renormalize; /* 1: the k weights are divided by their sum (Qwen3.5/3.6, mlx-native,
                        HF norm_topk_prob); 0: they stay softmax probabilities over all E */
} mlxn_moe_topk_params;

/* MoE router (mlx-native moe_softmax_topk; Gemma-4/ggml routing with expert_scale):
   logits [T, E] f32/f16/bf16 -> ids i32 [T, k] and weights f32 [T, k].
     p = softmax(logits[t, :]) over all E (f32 math: e_j = exp(x_j - max));
     ids[t, :] = the k experts of largest probability, in descending order of
       probability; the order is the order of the logits (the exact softmax is
       monotone), ties to the lower expert id, so ids are exact and identical on
       every backend;
     weights = p of those experts, divided by their sum when renormalize (i.e.
       e_j / sum over the k selected e), then multiplied by expert_scale[id]
       when expert_scale is given (after the renormalization, as ggml/Gemma 4;
       no renormalization after the scale).
   expert_scale: NULL or f32 [E]. E >= 1, E <= INT32_MAX.
   Non-finite logits: -inf is an expert of probability 0 (ranked last, ties to
   the lower id); a row whose logits are all -inf gets ids 0..k-1 and weights 0.
   A row holding a NaN or +inf gets ids 0..k-1 and NaN weights (no valid
   distribution; the NaN propagates instead of a silent choice).
   ids, weights must not overlap each other or the inputs. */
MLXN_API mlxn_status mlxn_moe_softmax_topk(mlxn_encoder *e, const mlxn_buffer *logits,
                                           const mlxn_buffer *expert_scale, mlxn_buffer *ids,
                                           mlxn_buffer *weights, const mlxn_moe_topk_params *p);

typedef struct {
    int shared_sigmoid; /* 1: the shared-expert gate is a logit, sigmoid(gate[t]) is used (Qwen2-MoE,
                           Qwen3.5/3.6); 0: gate[t] is used as is */
} mlxn_moe_reduce_params;

/* MoE combine (mlx-native moe_weighted_reduce):
     out[t, :] = sum_j w[t, j] * y[t, j, :]  (j = 0..k-1 in order)
               + g[t] * y_shared[t, :]       (when y_shared is given; g = gate[t], or
                                              sigmoid(gate[t]) with shared_sigmoid, or 1
                                              when gate is NULL)
               + res[t, :]                   (when res is given)
   accumulated in f32 in that order, rounded once to out's dtype.
   y: [T, k, D] f32/f16/bf16 (3-D); w: f32 [T, k] (any shape of T*k elements whose
   last dim is k); y_shared, res, out: y's dtype, T*D elements with last dim D;
   gate: NULL or T elements of any float dtype (needs y_shared).
   out may be res itself (in place); it must not overlap anything else. */
MLXN_API mlxn_status mlxn_moe_weighted_reduce(mlxn_encoder *e, const mlxn_buffer *y, const mlxn_buffer *w,
                                              const mlxn_buffer *y_shared, const mlxn_buffer *gate,
                                              const mlxn_buffer *res, mlxn_buffer *out,
                                              const mlxn_moe_reduce_params *p);

typedef struct {
    float    temperature; /* 0: greedy (argmax); > 0 finite: z = logits / temperature      */
    uint32_t top_k;       /* 0 = off (also when >= V)                                       */
    float    top_p;       /* (0, 1]; 1 = off                                                */
    float    min_p;       /* [0, 1]; 0 = off                                                */
} mlxn_sample_params;

/* {temperature 1, top_k 0, top_p 1, min_p 0}: plain sampling from softmax(logits). */
MLXN_API mlxn_sample_params mlxn_sample_params_default(void);

/* The workspace bytes mlxn_softmax_sample needs on d for `rows` rows of V
   logits (see "Workspaces"). Currently 0 on both backends (one CPU thread, or
   one CUDA block or thread-block cluster, owns a row); callers should still
   ask and pass a buffer of that size, which keeps working if a later version
   needs scratch. */
MLXN_API mlxn_status mlxn_softmax_sample_workspace_size(const mlxn_device *d, int64_t rows, int64_t V,
                                                        size_t *bytes);

/* Samples one token per row on the device, without copying logits to the host.
   logits [B, V] (any shape; rows of the last dim) f32/f16/bf16; u f32 [B]:
   caller-supplied uniform numbers in [0, 1) (NaN or < 0 is read as 0, >= 1 as
   the largest float below 1); token i32 [B]; logprob NULL or f32 [B]; ws: see
   mlxn_softmax_sample_workspace_size (NULL when 0). V <= INT32_MAX.

   Order (HF transformers' warper order; llama.cpp applies temperature last
   instead): temperature, top-k, top-p, min-p, then one draw.
     The total order of tokens: by logit descending, equal logits by index
     ascending (-0 == +0). "Prefix" below means a first part of that order.
     z_i = x_i / T clamped to [-FLT_MAX, FLT_MAX] (-inf logits stay -inf) and
     d_i = z_i - max_j z_j, both rounded to f32;
     e_i = exp(d_i) (p_i = e_i / sum e), e_i rounded to a fixed-point mass
     q_i = round(e_i * 2^32) (uint64; all sums below are exact integers, so the
     result is deterministic and does not depend on summation order; a token
     whose probability relative to the most likely one is below 2^-33 has mass
     0 and is never drawn).
     top-k: keep the first k tokens of the order (exactly k; ties at the k-th
       logit go to the lower indices).
     top-p: among the kept tokens, keep the shortest prefix whose mass is
       >= top_p * (kept mass), the product taken in the fixed-point masses and
       rounded down (at least 1 unit); ties at the threshold go to the lower
       indices.
     min-p: keep the tokens with d_i >= ln(min_p) (rounded to f32), i.e.
       p_i >= min_p * p_max; tokens tied at the threshold are all kept.
     The most likely token is always kept. The draw: M = kept mass,
     t = floor(u * M) (exact, u as a 64-bit fixed-point fraction), token = the
     first kept index, in index order, whose running kept mass exceeds t
     (inverse CDF; deterministic given u).
   logprob = log of the token's probability in the final (filtered,
   renormalized) distribution: d_token - ln(M * 2^-32).
   temperature 0 is greedy: token = the first index of the largest logit,
   logprob 0 (the final distribution is a point mass); filters and u are ignored.
   A row holding a NaN or +inf logit, or only -inf logits, has no distribution:
   token -1 and logprob NaN (the caller must check; ops cannot fail on data).
   token and logprob must not overlap each other, the inputs or ws. */
MLXN_API mlxn_status mlxn_softmax_sample(mlxn_encoder *e, const mlxn_buffer *logits, const mlxn_buffer *u,
                                         mlxn_buffer *token, mlxn_buffer *logprob, mlxn_buffer *ws,
                                         const mlxn_sample_params *p);
/* [/sample] */

/* ------------------------------------------------------------------------- */
/* Backward kernels (f32, for calibration and training)                      */
/* ------------------------------------------------------------------------- */
/* [backward] */
/* Reverse-mode gradients (vector-Jacobian products) of forward ops: given the
   forward input (or output) and dy, the gradient of a loss with respect to the
   forward output, each writes dx (and dw) — mlx-native's "Track 1" autograd
   kernels for calibration. f32 only (any other dtype: UNSUPPORTED); rows are
   the last dimension, as in the forward ops; sums are accumulated in f32 in
   blocks combined in double. Where an output "may be exactly" an input, it
   may be the same view (in place); any other overlap is rejected. */

/* Softmax backward: dx = y * (dy - sum_j y_j dy_j) per row, with y = softmax(x)
   the forward OUTPUT. y, dy, dx: [..., n] f32, same numel and same last dim;
   dx may be exactly y or dy. */
MLXN_API mlxn_status mlxn_softmax_backward(mlxn_encoder *e, const mlxn_buffer *y, const mlxn_buffer *dy,
                                           mlxn_buffer *dx);

/* Inverse RMS per row, the saved statistic of an RMS norm:
   r = 1 / sqrt(mean(x^2) + eps). x: [..., dim] f32; r: [rows] f32, not
   overlapping x. */
MLXN_API mlxn_status mlxn_rms_inv(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *r, const mlxn_norm_params *p);

/* RMS-norm backward for y = x * r * w (r from mlxn_rms_inv, per row):
     dx = r * (dy * w - x * s * r^2 / dim),  s = sum_j dy_j x_j w_j  (per row)
     dw = sum over rows of dy * x * r                               (per column)
   x, dy, dx: [..., dim] f32, same numel and last dim; r: [rows] f32; w: NULL
   (w = 1) or [dim] f32; dw: NULL (not computed) or [dim] f32 (with w NULL it
   is the gradient at w = 1). dx may be exactly x or dy; dw overlaps nothing.
   ws (see "Workspaces" above the sorting section): needed when dw is given,
   at least mlxn_rms_norm_backward_workspace_size(dev, rows, dim) bytes,
   starting at a multiple of 4 bytes; NULL allowed when dw is NULL.
   dw is deterministic: the rows are dealt into a fixed number C of chunks
   (chunk c: rows c, c + C, ...; C independent of threads and device), each
   chunk's column sums are taken in f32, and the chunks are added in a fixed
   order (groups of four consecutive chunks in f32; the group sums in double
   in eight runs of consecutive groups, each in order, then the run totals),
   the same on every backend. */
MLXN_API size_t mlxn_rms_norm_backward_workspace_size(const mlxn_device *d, int64_t rows, int64_t dim);
MLXN_API mlxn_status mlxn_rms_norm_backward(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                            const mlxn_buffer *r, const mlxn_buffer *dy, mlxn_buffer *dx,
                                            mlxn_buffer *dw, mlxn_buffer *ws);

/* Unary backward: dx = dy * f'(x) for the forward mlxn_unary op p->op (alpha unused):
     MLXN_UNARY_SILU: f'(x) = sigmoid(x) (1 + x (1 - sigmoid(x)))
     MLXN_UNARY_LOG:  dx = dy / x  (x = 0 gives +-inf, as IEEE division)
   Other ops: UNSUPPORTED. x, dy, dx: f32, same numel; dx may be exactly x or dy. */
MLXN_API mlxn_status mlxn_unary_backward(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *dy,
                                         mlxn_buffer *dx, const mlxn_unary_params *p);

/* Row-sum backward (broadcast): dx[r, j] = dy[r]. dy: [rows] f32; dx: [..., n]
   f32 with numel(dx) / n == rows (n = dx's last dim); no overlap. */
MLXN_API mlxn_status mlxn_row_sum_backward(mlxn_encoder *e, const mlxn_buffer *dy, mlxn_buffer *dx);
/* [/backward] */

/* ------------------------------------------------------------------------- */
/* Quantized formats: ggml blocks (dequantize on device, quantize on host)   */
/* ------------------------------------------------------------------------- */
/* [quant_ggml] */
/* The ggml type ids (mlxn_ggml_type) and their block and byte sizes are in the
   GGUF section below. A tensor of n elements of type t occupies
   n / mlxn_ggml_block_size(t) blocks of mlxn_ggml_type_size(t) bytes, blocks
   consecutive along each row (ne[0]). */
typedef struct {
    int type; /* an mlxn_ggml_type id (int so that any stored id can be passed) */
} mlxn_dequantize_ggml_params;

/* Dequantizes raw ggml blocks on the device: dst = decode(src).
   src: the tensor's raw bytes, any dtype (read as bytes; a U8 view of the
   file's tensor data is the usual form); its nbytes must equal
   numel(dst) / block_size * type_size. dst: [..., row] f32, f16 or bf16 with
   the row (last dim) a multiple of the type's block size; it must not overlap src.
   Types: F32, F16, BF16, F64 (rounded to f32 first), I8, I16, I32 (values
   converted), Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K,
   Q6_K, Q8_K, IQ4_NL, IQ4_XS, MXFP4, NVFP4, Q1_0, Q2_0. Each element is
   computed in f32 exactly as ggml's dequantize_row_<type> (f16 scales
   converted exactly, the same products in the same order, no fused
   multiply-add), so f32 output equals ggml and gguf-py's
   gguf.quants.dequantize bit for bit; f16/bf16 output is that f32 value
   rounded to nearest even. Scales that are Inf/NaN propagate as IEEE
   arithmetic does. Errors: UNSUPPORTED names the type for the grid formats
   (IQ1_*, IQ2_*, IQ3_*, TQ1_0, TQ2_0) and I64; INVALID_ARGUMENT for an
   unknown id, a row not a multiple of the block size, a byte-size mismatch,
   a dst dtype other than f32/f16/bf16, or overlapping buffers. */
MLXN_API mlxn_status mlxn_dequantize_ggml(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst,
                                          const mlxn_dequantize_ggml_params *p);

/* Host quantizers with ggml's reference algorithms (quantize_row_<type>_ref in
   ggml-quants.c): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (bit-exact with gguf-py's
   gguf.quants.quantize), Q8_1, MXFP4 (bit-exact with gguf-py), Q4_K
   (make_qkx2_quants search) and Q6_K (make_qx_quants search). CPU only,
   single-threaded, for tests, tools and writers of model files; not an
   encoder op.
   src: n host floats, n a multiple of the block size, every value finite.
   dst: dst_bytes must equal mlxn_quantize_ggml_size(type, n).
   Errors: INVALID_ARGUMENT (NULL pointers, n <= 0 or not a multiple of the
   block size, dst_bytes mismatch, a non-finite input, naming its index),
   UNSUPPORTED (a type without a quantizer here). On error dst is untouched. */
MLXN_API mlxn_status mlxn_quantize_ggml(int type, const float *src, int64_t n, void *dst, size_t dst_bytes);
/* Bytes n elements of `type` occupy; 0 when the type is unknown, n <= 0, n is
   not a multiple of the block size, or the size overflows. */
MLXN_API size_t mlxn_quantize_ggml_size(int type, int64_t n);
/* 1 if mlxn_quantize_ggml supports `type`, else 0. */
MLXN_API int mlxn_quantize_ggml_supported(int type);
/* 1 if mlxn_dequantize_ggml supports `type` (on every backend), else 0. */
MLXN_API int mlxn_dequantize_ggml_supported(int type);
/* [/quant_ggml] */

/* ------------------------------------------------------------------------- */
/* Quantized formats: MLX (affine, mxfp4, mxfp8, nvfp4)                      */
/* ------------------------------------------------------------------------- */
/* [quant_mlx] */
/*
 * MLX's quantized weights, as mx.quantize stores them (mlx 0.32, mlx-lm
 * checkpoints). A quantized matrix [N, K] is three arrays:
 *   w       u32 [..., K*bits/32]: each row is one little-endian, LSB-first bit
 *           stream; element k occupies bits [k*bits, (k+1)*bits) of the row's
 *           bytes (so 3-, 5- and 6-bit values straddle bytes and words).
 *   scales  [..., K/group_size]: AFFINE f32/f16/bf16; MXFP4/MXFP8 u8 E8M0
 *           (scale = 2^(s-127); s = 0 gives 2^-127, s = 255 gives +inf as MLX);
 *           NVFP4 u8 E4M3 (0x7F/0xFF are NaN, as MLX's from_fp8).
 *   biases  AFFINE only: the scales' dtype and shape. NULL for the fp modes.
 * Element values: AFFINE q = the unsigned integer; MXFP4/NVFP4 q = E2M1
 * (nibble -> 0, .5, 1, 1.5, 2, 3, 4, 6, -0, -.5, ..., -6); MXFP8 q = E4M3
 * (bytes 0x7F/0xFF are NaN).
 * Dequantized value, computed in f32 and rounded once to the output dtype
 * (round to nearest even):
 *   AFFINE  y = (q * scale) + bias    two f32 roundings, no fused multiply-add:
 *                                     bit-exact with mx.dequantize for f32
 *                                     scales and any output dtype. For f16/bf16
 *                                     scales, MLX computes in the scales' dtype
 *                                     (rounding q*scale to it first); mlxn
 *                                     computes in f32 from the exact scale and
 *                                     bias, so results may differ from MLX's by
 *                                     that extra rounding (half an ulp of
 *                                     q*scale in that dtype) plus one ulp of y.
 *   MXFP4/MXFP8  y = q * 2^(s-127)    exact in f32 and bf16, as MLX.
 *   NVFP4   y = q * e4m3(s), or with a global scale g:
 *           y = q * (e4m3(s) * (g / 2688))   (2688 = 448 * 6), as MLX.
 * For f16 output of the fp modes MLX evaluates 2^(s-127) in f16 (inf for
 * s > 142, 0 for s < 103) before multiplying; mlxn rounds the f32 product
 * once, so the two agree exactly only for s in [103, 142].
 */
typedef enum {
    MLXN_MLXQ_AFFINE = 0, /* bits 2, 3, 4, 5, 6, 8; group_size 32, 64, 128 */
    MLXN_MLXQ_MXFP4 = 1,  /* bits 4, group_size 32 */
    MLXN_MLXQ_MXFP8 = 2,  /* bits 8, group_size 32 */
    MLXN_MLXQ_NVFP4 = 3   /* bits 4, group_size 16 */
} mlxn_mlxq_mode;

typedef struct {
    mlxn_mlxq_mode mode;
    int   bits;          /* as listed for the mode */
    int   group_size;    /* as listed for the mode */
    float global_scale;  /* NVFP4 only: 0 = none, else finite > 0; must be 0 for the other modes */
} mlxn_mlxq_params;

/* Dequantizes an MLX-quantized matrix: w u32 [..., K*bits/32], scales (and
   biases) [..., K/group_size], y [..., K] f32/f16/bf16 (same leading dims in
   all four). K must be a multiple of group_size. y must not overlap the inputs.
   Errors: INVALID_ARGUMENT (params, shapes, dtypes of w/scales/biases, NULLs,
   overlap), UNSUPPORTED (y dtype). */
MLXN_API mlxn_status mlxn_dequantize_mlx(mlxn_encoder *e, const mlxn_buffer *w, const mlxn_buffer *scales,
                                         const mlxn_buffer *biases, mlxn_buffer *y, const mlxn_mlxq_params *p);

typedef struct {
    mlxn_mlxq_params q;
    float scale; /* multiplies every dequantized value in f32 (1 = none; Gemma: sqrt(hidden)); finite */
} mlxn_gather_mlx_params;

/* Quantized embedding lookup (mlx-native embedding_gather):
   y[i, :] = dequant(table row ids[i]) * scale, rounded once to y's dtype.
   w u32 [n_rows, K*bits/32], scales/biases [n_rows, K/group_size] (as
   mlxn_dequantize_mlx), ids i32/u32 of any shape, y f32/f16/bf16 of ids'
   shape + [K]. ids live on the device and cannot be checked before the op
   runs: an id outside [0, n_rows) yields a row of zeros (as mlxn_gather_rows). */
MLXN_API mlxn_status mlxn_gather_mlx(mlxn_encoder *e, const mlxn_buffer *w, const mlxn_buffer *scales,
                                     const mlxn_buffer *biases, const mlxn_buffer *ids, mlxn_buffer *y,
                                     const mlxn_gather_mlx_params *p);

/* Host quantizer with MLX's algorithms (mlx 0.32.4, mlx[cpu]), equal to
   mx.quantize bit for bit.
   AFFINE (mlx/backend/cpu/quantized.cpp): per group, w_min/w_max in f32;
   scale = max((w_max - w_min) / (2^bits - 1), 1e-7), negated unless |w_min| > |w_max|; edge = w_min or w_max
   accordingly; q0 = rint(edge / scale); if q0 != 0: scale = edge / q0, bias =
   edge, else bias = 0; q = clamp(rint((x - bias) / scale), 0, 2^bits - 1)
   (rint: nearest even). The scale and bias are rounded to s_dtype only when
   stored (the codes use the f32 values).
   x: rows x k host values of x_dtype (f32/f16/bf16), row-major, all finite;
   wq: rows * k*bits/32 u32; scales, biases: rows * k/group_size values of
   s_dtype (f32/f16/bf16). With s_dtype == x_dtype the three outputs equal
   mx.quantize(x, group_size, bits) bit for bit; with f32 x and f16/bf16
   s_dtype they equal mx.quantize's outputs with scales and biases cast to
   s_dtype.
   MXFP4/MXFP8/NVFP4 (mlx's fp_quantize, array ops evaluated in x's dtype T,
   each result rounded to T): biases NULL, s_dtype u8, scales one byte per
   group. mx*: sc = T(max|x| / M) (M 6 for fp4, 448 for fp8), e = sc == 0 ? 0
   : ceil(log2(sc)) (log2 in f32), byte = e + 127 (wrapping mod 256 below
   2^-127, as MLX), v = T(x / T(2^e)). nvfp4: se = global_scale ? 2688 /
   global_scale : 1 (f32), byte = to_e4m3(f32(T(max|x| / 6) * se)),
   v = f32(T(x / e4m3(byte)) * se). Codes: E4M3 of v (round to nearest even,
   saturating to 448 from 480 up) or for fp4 the first E2M1 value nearest
   to v (ties to the lower code: 0.75 -> 0.5, 0 -> +0).
   Errors: INVALID_ARGUMENT (params, k not a multiple of group_size,
   rows/k < 1, NULL pointers, biases given for an fp mode, wrong s_dtype,
   non-finite x: nothing is written). Runs on the calling thread. */
MLXN_API mlxn_status mlxn_quantize_mlx(const void *x, mlxn_dtype x_dtype, int64_t rows, int64_t k,
                                       const mlxn_mlxq_params *p, uint32_t *wq, void *scales, void *biases,
                                       mlxn_dtype s_dtype);
/* [/quant_mlx] */

/* ------------------------------------------------------------------------- */
/* GGUF                                                                       */
/* ------------------------------------------------------------------------- */
/*
 * A hardened reader and a writer of GGUF files (versions 2 and 3, little-endian).
 *
 * The reader validates the WHOLE file when it is opened, so every accessor
 * afterwards is a bounds-checked lookup: magic; version 2 or 3 (a byte-swapped
 * version is reported as a big-endian file, unsupported); every count and
 * string/array length against the bytes that remain (checked before anything
 * is allocated); value types, nested arrays up to MLXN_GGUF_MAX_DEPTH levels;
 * bool bytes 0 or 1; unique keys; general.alignment a u32 power of two (any,
 * including 1, as ggml); unique tensor names; ndim 1..4; every dim >= 1; the
 * element count and byte size overflow-checked (<= INT64_MAX); ne[0] a
 * multiple of the type's block size; known type ids; offsets aligned, data
 * inside the file and no two tensors overlapping (gaps and any order are
 * allowed). Failures are MLXN_ERR_FORMAT naming the field, the key or tensor
 * and the value, e.g. "gguf: tensor 'blk.0.attn_q.weight' offset 123 is not
 * aligned to 32"; MLXN_ERR_IO for OS errors.
 *
 * Keys and tensor names: non-empty, at most 65535 bytes, no NUL byte. Other
 * bytes, including non-ASCII and invalid UTF-8, are accepted as opaque bytes
 * (real files carry non-ASCII names); compare them with memcmp/strcmp, and
 * escape them before printing (`mlxn info` does).
 *
 * String values are returned as (pointer, length) into the file, NOT
 * NUL-terminated, and may contain any bytes. Multi-byte scalars inside the file
 * may be unaligned; the getters copy them out.
 */

#define MLXN_GGUF_MAX_DEPTH 8          /* array nesting levels accepted by the reader */
#define MLXN_GGUF_DEFAULT_ALIGNMENT 32
#define MLXN_GGUF_MAX_DIMS 4

/* ggml tensor type ids, as stored in GGUF files. Ids 4, 5, 31-33 and 36-38
   were removed from ggml and are unknown here. */
typedef enum {
    MLXN_GGML_F32 = 0, MLXN_GGML_F16 = 1, MLXN_GGML_Q4_0 = 2, MLXN_GGML_Q4_1 = 3,
    MLXN_GGML_Q5_0 = 6, MLXN_GGML_Q5_1 = 7, MLXN_GGML_Q8_0 = 8, MLXN_GGML_Q8_1 = 9,
    MLXN_GGML_Q2_K = 10, MLXN_GGML_Q3_K = 11, MLXN_GGML_Q4_K = 12, MLXN_GGML_Q5_K = 13,
    MLXN_GGML_Q6_K = 14, MLXN_GGML_Q8_K = 15, MLXN_GGML_IQ2_XXS = 16, MLXN_GGML_IQ2_XS = 17,
    MLXN_GGML_IQ3_XXS = 18, MLXN_GGML_IQ1_S = 19, MLXN_GGML_IQ4_NL = 20, MLXN_GGML_IQ3_S = 21,
    MLXN_GGML_IQ2_S = 22, MLXN_GGML_IQ4_XS = 23, MLXN_GGML_I8 = 24, MLXN_GGML_I16 = 25,
    MLXN_GGML_I32 = 26, MLXN_GGML_I64 = 27, MLXN_GGML_F64 = 28, MLXN_GGML_IQ1_M = 29,
    MLXN_GGML_BF16 = 30, MLXN_GGML_TQ1_0 = 34, MLXN_GGML_TQ2_0 = 35, MLXN_GGML_MXFP4 = 39,
    MLXN_GGML_NVFP4 = 40, MLXN_GGML_Q1_0 = 41, MLXN_GGML_Q2_0 = 42
} mlxn_ggml_type;

/* "f32", "q4_0", "iq2_xxs", ...; "unknown" for an id that is not a ggml type. */
MLXN_API const char *mlxn_ggml_type_name(mlxn_ggml_type t);
/* Elements per block (1 for plain types, 32/64/128/256 for quantized); 0 if unknown. */
MLXN_API int64_t mlxn_ggml_block_size(mlxn_ggml_type t);
/* Bytes per block; 0 if unknown. */
MLXN_API int64_t mlxn_ggml_type_size(mlxn_ggml_type t);
/* 0: not a ggml type id (files using it are rejected).
   1: known and within mlxn's scope (float/int types and the block formats
      whose layout mlxn implements: Q4_0..Q8_K, IQ4_NL, IQ4_XS, MXFP4, NVFP4, Q1_0, Q2_0).
   2: known but unsupported (IQ1/IQ2/IQ3, TQ1_0/TQ2_0: grid-table formats);
      files holding them are still parsed and their bytes reachable. */
MLXN_API int mlxn_ggml_type_known(mlxn_ggml_type t);

/* GGUF metadata value types (the file's ids). */
typedef enum {
    MLXN_GGUF_INVALID = -1, /* returned for a bad index or reference */
    MLXN_GGUF_U8 = 0, MLXN_GGUF_I8 = 1, MLXN_GGUF_U16 = 2, MLXN_GGUF_I16 = 3,
    MLXN_GGUF_U32 = 4, MLXN_GGUF_I32 = 5, MLXN_GGUF_F32 = 6, MLXN_GGUF_BOOL = 7,
    MLXN_GGUF_STRING = 8, MLXN_GGUF_ARRAY = 9, MLXN_GGUF_U64 = 10, MLXN_GGUF_I64 = 11,
    MLXN_GGUF_F64 = 12
} mlxn_gguf_type;

/* "u8", ..., "string", "array", "f64"; "invalid" otherwise. */
MLXN_API const char *mlxn_gguf_type_name(mlxn_gguf_type t);

typedef struct mlxn_gguf mlxn_gguf;

/* Maps `path` read-only and validates it (see above). The mapping lives until
   mlxn_gguf_close. Errors: INVALID_ARGUMENT (NULL), IO, FORMAT, OUT_OF_MEMORY.
   A file truncated by another process while mapped can still raise SIGBUS:
   that is outside what a reader can prevent. */
MLXN_API mlxn_status mlxn_gguf_open(const char *path, mlxn_gguf **out);
/* Same, over `size` bytes at `data`, without copying: the caller keeps the
   bytes alive and unchanged until mlxn_gguf_close. */
MLXN_API mlxn_status mlxn_gguf_open_memory(const void *data, size_t size, mlxn_gguf **out);
/* Accepts NULL. */
MLXN_API void mlxn_gguf_close(mlxn_gguf *g);

MLXN_API uint32_t mlxn_gguf_version(const mlxn_gguf *g);
/* general.alignment, or 32 when absent. */
MLXN_API uint32_t mlxn_gguf_alignment(const mlxn_gguf *g);
/* Absolute file offset where the tensor data section starts. */
MLXN_API uint64_t mlxn_gguf_data_offset(const mlxn_gguf *g);

/* ---- metadata ---- */
MLXN_API int64_t        mlxn_gguf_kv_count(const mlxn_gguf *g);
/* The key of KV i (NUL-terminated, owned by g); NULL if i is out of range. */
MLXN_API const char    *mlxn_gguf_kv_key(const mlxn_gguf *g, int64_t i);
/* The type of KV i; MLXN_GGUF_INVALID if out of range. */
MLXN_API mlxn_gguf_type mlxn_gguf_kv_type(const mlxn_gguf *g, int64_t i);
/* Index of `key`, or -1. */
MLXN_API int64_t        mlxn_gguf_find_kv(const mlxn_gguf *g, const char *key);

/* Typed getters by key. NOT_FOUND if the key is absent; INVALID_ARGUMENT
   (naming the key and both types) if its type does not convert:
     u64: any integer type holding a value >= 0;  i64: any integer type whose
     value fits int64;  f64: f32 or f64;  bool: bool;  str: string. */
MLXN_API mlxn_status mlxn_gguf_get_u64(const mlxn_gguf *g, const char *key, uint64_t *out);
MLXN_API mlxn_status mlxn_gguf_get_i64(const mlxn_gguf *g, const char *key, int64_t *out);
MLXN_API mlxn_status mlxn_gguf_get_f64(const mlxn_gguf *g, const char *key, double *out);
MLXN_API mlxn_status mlxn_gguf_get_bool(const mlxn_gguf *g, const char *key, int *out);
MLXN_API mlxn_status mlxn_gguf_get_str(const mlxn_gguf *g, const char *key, const char **s, uint64_t *len);

/* A reference to one value inside an open file: a KV's value or an element
   of an array (at any nesting depth). Plain data, valid while g is open;
   its fields are private. */
typedef struct { uint64_t node_, index_; } mlxn_gguf_value;

/* The value of KV i (an invalid reference if i is out of range: every getter
   then returns INVALID_ARGUMENT). */
MLXN_API mlxn_gguf_value mlxn_gguf_kv_value(const mlxn_gguf *g, int64_t i);
MLXN_API mlxn_gguf_type  mlxn_gguf_value_type(const mlxn_gguf *g, mlxn_gguf_value v);
/* Array shape of v: element type and length. INVALID_ARGUMENT if v is not an array. */
MLXN_API mlxn_status mlxn_gguf_value_array(const mlxn_gguf *g, mlxn_gguf_value v, mlxn_gguf_type *elem_type,
                                           uint64_t *len);
/* Element `idx` of array v (itself maybe an array). INVALID_ARGUMENT if v is not
   an array or idx >= its length. */
MLXN_API mlxn_status mlxn_gguf_value_elem(const mlxn_gguf *g, mlxn_gguf_value v, uint64_t idx,
                                          mlxn_gguf_value *out);
/* Scalar getters with the conversions of mlxn_gguf_get_*. */
MLXN_API mlxn_status mlxn_gguf_value_u64(const mlxn_gguf *g, mlxn_gguf_value v, uint64_t *out);
MLXN_API mlxn_status mlxn_gguf_value_i64(const mlxn_gguf *g, mlxn_gguf_value v, int64_t *out);
MLXN_API mlxn_status mlxn_gguf_value_f64(const mlxn_gguf *g, mlxn_gguf_value v, double *out);
MLXN_API mlxn_status mlxn_gguf_value_bool(const mlxn_gguf *g, mlxn_gguf_value v, int *out);
MLXN_API mlxn_status mlxn_gguf_value_str(const mlxn_gguf *g, mlxn_gguf_value v, const char **s, uint64_t *len);
/* Shorthand: array shape of KV i. */
MLXN_API mlxn_status mlxn_gguf_kv_array(const mlxn_gguf *g, int64_t i, mlxn_gguf_type *elem_type, uint64_t *len);

/* ---- tensors ---- */
typedef struct {
    const char    *name;     /* NUL-terminated, owned by the mlxn_gguf        */
    mlxn_ggml_type type;
    int            ndim;     /* 1..4                                          */
    int64_t        ne[MLXN_GGUF_MAX_DIMS]; /* ggml order: ne[0] innermost; unused dims 1 */
    int64_t        nelements;
    uint64_t       nbytes;
    uint64_t       offset;   /* absolute offset of the data in the file       */
    const void    *data;     /* pointer into the mapping / caller's memory    */
} mlxn_gguf_tensor;

MLXN_API int64_t     mlxn_gguf_tensor_count(const mlxn_gguf *g);
/* INVALID_ARGUMENT if i is out of range. */
MLXN_API mlxn_status mlxn_gguf_tensor_info(const mlxn_gguf *g, int64_t i, mlxn_gguf_tensor *out);
/* Index of tensor `name`, or -1. */
MLXN_API int64_t     mlxn_gguf_find_tensor(const mlxn_gguf *g, const char *name);

/* ---- writer ---- */
/* Builds a GGUF v3 file in memory order: KVs in first-set order (setting a key
   again replaces its value in place), tensors in add order, each tensor's data
   aligned. Keys and names are validated as the reader does. */
typedef struct mlxn_gguf_writer mlxn_gguf_writer;

MLXN_API mlxn_status mlxn_gguf_writer_new(mlxn_gguf_writer **out);
/* Accepts NULL. */
MLXN_API void        mlxn_gguf_writer_free(mlxn_gguf_writer *w);
/* A power of two (1 .. 2^30); also stored as the u32 KV general.alignment. */
MLXN_API mlxn_status mlxn_gguf_writer_set_alignment(mlxn_gguf_writer *w, uint32_t alignment);
MLXN_API mlxn_status mlxn_gguf_writer_set_u8(mlxn_gguf_writer *w, const char *key, uint8_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_i8(mlxn_gguf_writer *w, const char *key, int8_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_u16(mlxn_gguf_writer *w, const char *key, uint16_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_i16(mlxn_gguf_writer *w, const char *key, int16_t v);
/* Setting "general.alignment" with set_u32 is the same as set_alignment; any
   other type for that key is INVALID_ARGUMENT. */
MLXN_API mlxn_status mlxn_gguf_writer_set_u32(mlxn_gguf_writer *w, const char *key, uint32_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_i32(mlxn_gguf_writer *w, const char *key, int32_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_u64(mlxn_gguf_writer *w, const char *key, uint64_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_i64(mlxn_gguf_writer *w, const char *key, int64_t v);
MLXN_API mlxn_status mlxn_gguf_writer_set_f32(mlxn_gguf_writer *w, const char *key, float v);
MLXN_API mlxn_status mlxn_gguf_writer_set_f64(mlxn_gguf_writer *w, const char *key, double v);
MLXN_API mlxn_status mlxn_gguf_writer_set_bool(mlxn_gguf_writer *w, const char *key, int v);
/* A string of `len` bytes (any bytes). */
MLXN_API mlxn_status mlxn_gguf_writer_set_str(mlxn_gguf_writer *w, const char *key, const char *s, uint64_t len);
/* An array of n scalars of elem_type (not STRING/ARRAY), given as a host array
   of that C type (uint8_t, int8_t, ..., float, bool as uint8_t 0/1, double). */
MLXN_API mlxn_status mlxn_gguf_writer_set_array(mlxn_gguf_writer *w, const char *key, mlxn_gguf_type elem_type,
                                                const void *data, uint64_t n);
/* An array of n NUL-terminated strings. */
MLXN_API mlxn_status mlxn_gguf_writer_set_str_array(mlxn_gguf_writer *w, const char *key,
                                                    const char *const *strs, uint64_t n);
/* Adds a tensor: ndim 1..4, ne in ggml order (ne[0] innermost, a multiple of
   the block size), nbytes must equal the computed size. `data` is NOT copied:
   it must stay valid until the last write; NULL writes zeros. */
MLXN_API mlxn_status mlxn_gguf_writer_add_tensor(mlxn_gguf_writer *w, const char *name, mlxn_ggml_type type,
                                                 int ndim, const int64_t *ne, const void *data, uint64_t nbytes);
/* Writes the file (version 3). IO on OS errors (a partial file may remain). */
MLXN_API mlxn_status mlxn_gguf_writer_write(const mlxn_gguf_writer *w, const char *path);
/* Writes into a new malloc'd buffer; free it with mlxn_gguf_buffer_free. */
MLXN_API mlxn_status mlxn_gguf_writer_write_memory(const mlxn_gguf_writer *w, void **buf, size_t *size);
MLXN_API void        mlxn_gguf_buffer_free(void *buf);


/* ------------------------------------------------------------------------- */
/* safetensors, MLX-quantized model configs, loading weights onto a device   */
/* ------------------------------------------------------------------------- */
/* [safetensors] */
/*
 * safetensors reader
 * ------------------
 * A .safetensors file is: u64 little-endian N, N bytes of UTF-8 JSON (the
 * header), then the data section. The header is an object: per tensor
 * "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]}
 * (offsets relative to the data section, END exclusive), plus the optional
 * "__metadata__": a string -> string map.
 *
 * The reader maps the file read-only and validates it WHOLE when it is opened
 * (the format's own rules, style-and-reliability.md §2.2): 8 <= file size;
 * 2 <= N <= MLXN_ST_MAX_HEADER (100 MB) and N + 8 <= file size; the header
 * starts with '{', is valid UTF-8 JSON (jansson; nesting <= 2048) whose top
 * level is an object with no duplicate key at any level, and may be padded
 * with trailing whitespace; "__metadata__" is an object of strings; every
 * other key is a non-empty tensor name without NUL bytes whose value is an
 * object with exactly the fields dtype (a known dtype name, upper-case as the
 * format spells it), shape (0..MLXN_ST_MAX_DIMS integers >= 0) and
 * data_offsets (two integers BEGIN <= END); the element count and the byte
 * size are computed with overflow checks and END - BEGIN must equal the byte
 * size (a sub-byte dtype must fill whole bytes); sorted by BEGIN the tensors
 * must tile the data section exactly: the first begins at 0, each begins
 * where the previous ended (no holes, no overlap) and the last ends at the
 * end of the file (no trailing bytes). Zero-element tensors, rank-0 scalars,
 * NaN payloads and unaligned BEGIN offsets are accepted (the format does
 * not align data: `data` pointers may be unaligned for their dtype).
 * Failures are MLXN_ERR_FORMAT with a message starting "safetensors: " that
 * names the field, the tensor and the value, e.g.
 * "safetensors: tensor 'w': data_offsets [0, 12] hold 12 bytes, shape [2, 2] of F32 needs 16";
 * MLXN_ERR_IO for OS errors; MLXN_ERR_OUT_OF_MEMORY.
 *
 * Sharded models: mlxn_safetensors_open also takes a folder or a
 * model.safetensors.index.json. The index's "weight_map" (tensor name ->
 * shard file name, a plain file name in the index's folder) is read; every
 * shard is opened and validated up front, and cross-checked: each tensor the
 * index names must be in the shard it names, each tensor of a shard must be
 * listed for that shard, a name in two shards is an error, a shard file that
 * is missing is MLXN_ERR_IO naming it. A folder without an index is read as
 * every *.safetensors file in it, in name order (names must be unique across
 * files). The tensors of all shards then form one set: tensor i lists its
 * shard. Metadata of all shards is merged: a key keeps its first shard's value.
 *
 * Tensor order: shard by shard, in data-offset order (the file's layout).
 * Names and metadata strings are NUL-terminated copies owned by the reader.
 * Thread safety: a reader is read-only after open: any thread may use it.
 */
#define MLXN_ST_MAX_HEADER 100000000u /* header bytes accepted (the format's own limit) */
#define MLXN_ST_MAX_DIMS   8          /* shape entries accepted (mlxn buffers have <= 8) */
#define MLXN_ST_MAX_SHARDS 65536      /* shard files per model                          */

/* safetensors dtypes, with the file's names. Bits per element in brackets. */
typedef enum {
    MLXN_ST_BOOL,     /* "BOOL"     [8]  one byte, 0 or 1 (values are not checked) */
    MLXN_ST_U8,       /* "U8"       [8]  */
    MLXN_ST_I8,       /* "I8"       [8]  */
    MLXN_ST_F8_E4M3,  /* "F8_E4M3"  [8]  */
    MLXN_ST_F8_E5M2,  /* "F8_E5M2"  [8]  */
    MLXN_ST_F8_E8M0,  /* "F8_E8M0"  [8]  */
    MLXN_ST_I16,      /* "I16"      [16] */
    MLXN_ST_U16,      /* "U16"      [16] */
    MLXN_ST_F16,      /* "F16"      [16] */
    MLXN_ST_BF16,     /* "BF16"     [16] */
    MLXN_ST_I32,      /* "I32"      [32] */
    MLXN_ST_U32,      /* "U32"      [32] */
    MLXN_ST_F32,      /* "F32"      [32] */
    MLXN_ST_I64,      /* "I64"      [64] */
    MLXN_ST_U64,      /* "U64"      [64] */
    MLXN_ST_F64,      /* "F64"      [64] */
    MLXN_ST_C64,      /* "C64"      [64] complex of two f32 */
    MLXN_ST_F4,       /* "F4"       [4]  E2M1, two per byte, element 2k in the low nibble */
    MLXN_ST_F6_E2M3,  /* "F6_E2M3"  [6]  */
    MLXN_ST_F6_E3M2   /* "F6_E3M2"  [6]  */
} mlxn_st_dtype;
#define MLXN_ST_DTYPE_COUNT 20

/* "F32", "BF16", ...; "invalid" for a value outside the enum. */
MLXN_API const char *mlxn_st_dtype_name(mlxn_st_dtype t);
/* Bits per element (4, 6, 8, 16, 32, 64); 0 for a value outside the enum. */
MLXN_API int mlxn_st_dtype_bits(mlxn_st_dtype t);
/* The mlxn dtype a tensor of this dtype is loaded as (see "Loading" below):
   F32/F16/BF16/I8/U8/I16/U16/I32/U32/I64 as themselves, BOOL and the F8
   types as U8 (same shape). Returns 1 and sets *out, or 0 when the tensor is
   loaded as raw bytes (F64, U64, C64, F4, F6: U8 of shape [nbytes]). */
MLXN_API int mlxn_st_dtype_to_mlxn(mlxn_st_dtype t, mlxn_dtype *out);

typedef struct mlxn_safetensors mlxn_safetensors;

typedef struct {
    const char   *name;      /* NUL-terminated, owned by the reader                  */
    mlxn_st_dtype dtype;
    int           ndim;      /* 0..MLXN_ST_MAX_DIMS                                  */
    int64_t       shape[MLXN_ST_MAX_DIMS]; /* outermost first; unused entries 0      */
    int64_t       nelements; /* product of shape (1 for rank 0; may be 0)            */
    uint64_t      nbytes;    /* END - BEGIN                                          */
    uint64_t      offset;    /* absolute offset of the data in its shard file        */
    const void   *data;      /* into the mapping (NULL-free: valid even when nbytes 0) */
    int           shard;     /* index of the shard file holding it (0 for one file)  */
} mlxn_st_tensor;

/* Opens a .safetensors file, a model.safetensors.index.json, or a folder
   holding either (see above). Errors: INVALID_ARGUMENT (NULL), IO (including a
   shard the index names that does not exist), FORMAT, NOT_FOUND (a folder
   with neither an index nor a .safetensors file), OUT_OF_MEMORY. Messages
   start with the offending path. */
MLXN_API mlxn_status mlxn_safetensors_open(const char *path, mlxn_safetensors **out);
/* One file's bytes in memory, not copied: the caller keeps them alive and
   unchanged until close. */
MLXN_API mlxn_status mlxn_safetensors_open_memory(const void *data, size_t size, mlxn_safetensors **out);
/* Accepts NULL. */
MLXN_API void        mlxn_safetensors_close(mlxn_safetensors *st);

MLXN_API int64_t     mlxn_safetensors_tensor_count(const mlxn_safetensors *st);
/* INVALID_ARGUMENT if i is out of range. */
MLXN_API mlxn_status mlxn_safetensors_tensor_info(const mlxn_safetensors *st, int64_t i, mlxn_st_tensor *out);
/* Index of tensor `name`, or -1. */
MLXN_API int64_t     mlxn_safetensors_find_tensor(const mlxn_safetensors *st, const char *name);
/* Sum of every tensor's nbytes. */
MLXN_API uint64_t    mlxn_safetensors_total_bytes(const mlxn_safetensors *st);

/* Metadata ("__metadata__"), in file order. */
MLXN_API int64_t     mlxn_safetensors_metadata_count(const mlxn_safetensors *st);
/* Key and value of entry i (owned by the reader); INVALID_ARGUMENT if out of range. */
MLXN_API mlxn_status mlxn_safetensors_metadata(const mlxn_safetensors *st, int64_t i, const char **key,
                                               const char **value);
/* The value of `key`, or NULL if absent. */
MLXN_API const char *mlxn_safetensors_get_metadata(const mlxn_safetensors *st, const char *key);

/* Shard files (1 for a single file or memory). Path: as opened ("<memory>" for
   open_memory); NULL if i is out of range. */
MLXN_API int         mlxn_safetensors_shard_count(const mlxn_safetensors *st);
MLXN_API const char *mlxn_safetensors_shard_path(const mlxn_safetensors *st, int i);
/* The folder the model was opened from (where config.json is looked for):
   the folder argument, the index's folder or the file's folder; "" for memory. */
MLXN_API const char *mlxn_safetensors_dir(const mlxn_safetensors *st);

/*
 * MLX-quantized models
 * --------------------
 * mlx-lm stores a quantized linear or embedding `<base>` as three tensors:
 * `<base>.weight` (U32, [..., K*bits/32], the packed values; `<base>` itself
 * is accepted when `.weight` is absent), `<base>.scales` ([..., K/group_size])
 * and, for mode affine only, `<base>.biases` (same shape and dtype as the
 * scales). Affine scales are F32, F16 or BF16; mxfp4/mxfp8/nvfp4 scales are
 * U8 (E8M0, E8M0, E4M3). The parameters come from config.json "quantization"
 * (else config.json "quantization_config" when it holds integer "bits", else
 * quantization_config.json): "bits" and "group_size" (defaults 4 and 64 where
 * absent), "mode" (default "affine"), and per-module overrides: any other key
 * whose value is an object (its own bits/group_size/mode, defaulting to the
 * top level's) or false (the module is not quantized); hf2q's
 * quantization_config.json may also nest overrides under "per_tensor".
 * Override lookup for a tensor name, first match wins (mlx-native §3): the
 * exact name; the name without a ".weight"/".scales"/".biases" suffix; the
 * same two with a leading "language_model." removed; the same two with
 * "language_model." added; else the top-level values.
 * Valid: affine bits 2, 3, 4, 5, 6, 8 with group_size 32, 64 or 128; mxfp4
 * bits 4 group 32; mxfp8 bits 8 group 32; nvfp4 bits 4 group 16. Anything
 * else, a non-integer or missing field where one is required, or a bad JSON
 * file is MLXN_ERR_FORMAT naming the file, the key and the value.
 */
/* mlxn_mlxq_mode: declared in "Quantized formats: MLX" above (lead: one enum for both sections). */
/* "affine", "mxfp4", "mxfp8", "nvfp4"; "invalid" otherwise. */
MLXN_API const char *mlxn_mlxq_mode_name(mlxn_mlxq_mode m);

/* (lead: renamed from mlxn_mlxq_params, which the MLX-formats section above already defines) */
typedef struct {
    int            quantized;  /* 0: the module is stored unquantized (override false) */
    int            bits;
    int            group_size;
    mlxn_mlxq_mode mode;
} mlxn_mlxq_layer_params;

typedef struct mlxn_mlxq_config mlxn_mlxq_config;

/* Reads the quantization parameters of the model folder `dir` (lookup order
   above). NOT_FOUND when no file has any (an unquantized model); FORMAT; IO. */
MLXN_API mlxn_status mlxn_mlxq_config_load(const char *dir, mlxn_mlxq_config **out);
/* Parses one JSON document of `len` bytes: a config.json (is_config_json 1:
   "quantization", else "quantization_config" with integer "bits") or a
   quantization_config.json (0: the whole object). `source` names it in errors
   (NULL: "<memory>"). NOT_FOUND when a config.json holds no quantization. */
MLXN_API mlxn_status mlxn_mlxq_config_parse(const char *json, size_t len, int is_config_json, const char *source,
                                            mlxn_mlxq_config **out);
/* Accepts NULL. */
MLXN_API void        mlxn_mlxq_config_free(mlxn_mlxq_config *c);
/* The file the parameters came from ("config.json", ...). */
MLXN_API const char *mlxn_mlxq_config_source(const mlxn_mlxq_config *c);
/* The top-level parameters (quantized = 1). */
MLXN_API mlxn_mlxq_layer_params mlxn_mlxq_config_defaults(const mlxn_mlxq_config *c);
/* Per-module overrides, in file order: name (owned by c) and parameters. */
MLXN_API int64_t     mlxn_mlxq_config_override_count(const mlxn_mlxq_config *c);
MLXN_API mlxn_status mlxn_mlxq_config_override(const mlxn_mlxq_config *c, int64_t i, const char **name,
                                               mlxn_mlxq_layer_params *out);
/* The parameters that apply to tensor or module `name` (lookup order above). */
MLXN_API mlxn_status mlxn_mlxq_config_lookup(const mlxn_mlxq_config *c, const char *name, mlxn_mlxq_layer_params *out);

/* One quantized tensor: the three stored tensors grouped and validated. */
typedef struct {
    const char    *name;     /* <base>, owned by the list                          */
    mlxn_mlxq_layer_params params;
    int            ndim;     /* of the dequantized tensor (= the stored weight's)  */
    int64_t        shape[MLXN_ST_MAX_DIMS]; /* dequantized shape: [..., K]          */
    int64_t        weight, scales, biases;  /* tensor indices; biases -1 if none   */
} mlxn_mlxq_tensor;

typedef struct mlxn_mlxq_list mlxn_mlxq_list;

/* Groups every `<base>.scales` of st with its weight (and biases) under the
   parameters c gives `<base>`, and validates them: weight U32 with the scales'
   leading dims, weight's last dim * 32 == K * bits and scales' last dim * group_size
   == K for one K >= 1, the scales' dtype for the mode, biases present exactly
   for affine and shaped like the scales. A `.biases` or `.scales` without its
   weight, or a module whose override says "not quantized" but has scales, is
   FORMAT naming the tensor. Tensors outside any group are left alone. */
MLXN_API mlxn_status mlxn_mlxq_group(const mlxn_safetensors *st, const mlxn_mlxq_config *c, mlxn_mlxq_list **out);
MLXN_API void        mlxn_mlxq_list_free(mlxn_mlxq_list *l);
MLXN_API int64_t     mlxn_mlxq_list_count(const mlxn_mlxq_list *l);
/* INVALID_ARGUMENT if i is out of range. */
MLXN_API mlxn_status mlxn_mlxq_list_get(const mlxn_mlxq_list *l, int64_t i, mlxn_mlxq_tensor *out);
/* Index of the group whose weight, scales or biases is tensor t, or -1. */
MLXN_API int64_t     mlxn_mlxq_list_find_tensor(const mlxn_mlxq_list *l, int64_t t);

/*
 * Loading tensors onto a device
 * -----------------------------
 * A tensor becomes a new buffer (mlxn_buffer_new, zero-copy nowhere: device
 * memory is filled from the mapping). Its dtype and shape: safetensors see
 * mlxn_st_dtype_to_mlxn; GGUF F32/F16/BF16/I8/I16/I32/I64 as themselves with
 * ne reversed (outermost first), every other ggml type (block formats, F64)
 * as U8 of shape [nbytes]. A zero-element tensor has no buffer: the loaders
 * return UNSUPPORTED for it alone and leave NULL in a whole-model load.
 *
 * On CUDA the bytes stream through page-locked staging buffers: the mapping
 * is copied (in parallel host threads) into one staging chunk while the
 * previous chunks' asynchronous host-to-device copies run, so a model
 * streams near the pinned copy rate. On the CPU backend the bytes are copied
 * directly. Every function waits for its copies before it returns.
 * (Tests: MLXN_LOAD_EMULATE_STAGING=1 runs the staging code on the CPU
 * backend too, each copy deferred to its fence as a DMA engine would run it.)
 */
typedef struct {
    size_t chunk_bytes; /* staging chunk size; 0: 64 MiB                          */
    int    n_chunks;    /* staging chunks in flight, 2..8; 0: 3                      */
    /* Called from the calling thread: once before the first byte is copied
       (done 0, tensor NULL; every buffer and staging chunk is allocated by then), after each
       tensor is queued, and once when every byte has landed (tensor NULL,
       done == total). NULL: none. */
    void (*progress)(void *user, uint64_t done_bytes, uint64_t total_bytes, const char *tensor);
    void  *user;
} mlxn_load_options;

/* Tensor i of st into a new buffer on d. Errors: INVALID_ARGUMENT, UNSUPPORTED
   (zero elements), OUT_OF_MEMORY, DEVICE. */
MLXN_API mlxn_status mlxn_safetensors_load_tensor(mlxn_device *d, const mlxn_safetensors *st, int64_t i,
                                                  mlxn_buffer **out);
/* Every tensor of st: bufs[i] receives tensor i (count = tensor_count), NULL
   for zero-element tensors. opt may be NULL. On failure every buffer created
   is freed and bufs is all NULL. */
MLXN_API mlxn_status mlxn_safetensors_load_all(mlxn_device *d, const mlxn_safetensors *st,
                                               const mlxn_load_options *opt, mlxn_buffer **bufs);
MLXN_API mlxn_status mlxn_gguf_load_tensor(mlxn_device *d, const mlxn_gguf *g, int64_t i, mlxn_buffer **out);
MLXN_API mlxn_status mlxn_gguf_load_all(mlxn_device *d, const mlxn_gguf *g, const mlxn_load_options *opt,
                                        mlxn_buffer **bufs);
/* Measures the host-to-device copy rate from page-locked memory (CUDA; the CPU
   backend: memcpy between host buffers) with `nbytes` (0: 256 MiB) per copy,
   best of a few runs, in GB/s (10^9 bytes/s). Allocates and frees its buffers. */
MLXN_API mlxn_status mlxn_load_h2d_rate(mlxn_device *d, size_t nbytes, double *gbps);
/* [/safetensors] */

#ifdef __cplusplus
}
#endif
#endif /* MLXN_H */
