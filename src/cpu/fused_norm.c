/* fused_norm.c (CPU) — add_rms_norm, rms_norm_add and rms_norm_gate over
   rows (the last dimension). Argument order and plan slots: src/ops/fused_norm.c.

   Rows run in parallel (OpenMP, static schedule: every row costs the same).
   Each row takes two passes over blocks of BLOCK elements:
     1. the normalized operand v (a + b in f32, or x) is staged as f32 in a
        stack block and its squares are summed in 32 f32 lanes; the block sums
        are added in double (the scheme of src/cpu/norm.c: relative error of
        the sum <= ~14 * 2^-24 whatever the row length);
     2. r = 1/sqrt(ss/dim + eps) (double, rounded to f32); the block's inputs
        are staged again, the outputs computed in f32 and rounded once to the
        dtype by the 8-lane converters.
   A row of up to ~8K elements sits in L1/L2 after pass 1, so pass 2 costs no
   DRAM traffic. Staging every 16-bit block through f32 arrays keeps one
   vectorized conversion routine per dtype (GCC 12 vectorizes neither
   f16 -> f32 nor the f32 -> bf16 rounding well by itself) and lets the
   arithmetic loops be plain f32 loops that vectorize.

   add_rms_norm recomputes s = a + b in pass 2 instead of keeping it: the f32
   sum is deterministic, so the normalized value and sum_out see the same s,
   and no per-row scratch is needed. sum_out = round(s); y = s * r * w, from
   the unrounded s, as the contract states.

   In place (an output the very same view as an input; see the aliasing
   rules in src/ops/fused_norm.c): pass 1 only reads; pass 2 stages a block's
   inputs completely before writing that block's outputs, and blocks do not
   overlap, so every element is read before it is overwritten. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#endif

#define BLOCK 256
#define LANES 32

/* Polynomial steps as fused multiply-adds where the target has them (C11
   mode compiles with -ffp-contract=off, so a*b+c would stay two ops). */
#if defined(__FMA__)
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

/* ---- staging: dtype <-> f32 blocks ------------------------------------------ */

#if defined(__AVX2__) && defined(__F16C__)
/* 8-lane f16/bf16 -> f32 loads and f32 -> f16/bf16 stores rounding to
   nearest even (bf16: the bit formula of mlxn_f2b, NaN kept quiet). */
static inline __m256 ld8h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline void st8h(uint16_t *p, __m256 v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
static inline __m256 ld8b(const uint16_t *p) {
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
static inline void st8b(uint16_t *p, __m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i mag = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    const __m256i is_nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40)), is_nan);
    _mm_storeu_si128((__m128i *)p, _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
}
#endif

/* n elements of dtype dt at p (element offset off) as f32. For f32 input
   the source itself is returned (no copy); else they are converted into tmp. */
static inline const float *stage_in(int dt, const void *p, int64_t off, int n, float *tmp) {
    if (dt == MLXN_F32) return (const float *)p + off;
    const uint16_t *h = (const uint16_t *)p + off;
    int i = 0;
    if (dt == MLXN_F16) {
#if defined(__AVX2__) && defined(__F16C__)
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(tmp + i, ld8h(h + i));
#endif
        for (; i < n; i++) tmp[i] = mlxn_h2f_fast(h[i]);
    } else {
#if defined(__AVX2__) && defined(__F16C__)
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(tmp + i, ld8b(h + i));
#endif
        for (; i < n; i++) tmp[i] = mlxn_b2f(h[i]);
    }
    return tmp;
}

/* Rounds n f32 values once to dtype dt at p + off. */
static inline void stage_out(int dt, const float *v, void *p, int64_t off, int n) {
    if (dt == MLXN_F32) {
        memcpy((float *)p + off, v, sizeof(float) * (size_t)n);
        return;
    }
    uint16_t *h = (uint16_t *)p + off;
    int i = 0;
    if (dt == MLXN_F16) {
#if defined(__AVX2__) && defined(__F16C__)
        for (; i + 8 <= n; i += 8) st8h(h + i, _mm256_loadu_ps(v + i));
#endif
        for (; i < n; i++) h[i] = mlxn_f2h(v[i]);
    } else {
#if defined(__AVX2__) && defined(__F16C__)
        for (; i + 8 <= n; i += 8) st8b(h + i, _mm256_loadu_ps(v + i));
#endif
        for (; i < n; i++) h[i] = mlxn_f2b(v[i]);
    }
}

/* ---- f32 block math -------------------------------------------------------- */

/* Sum of squares of one block (n <= BLOCK) in LANES independent f32
   accumulators (four AVX2 registers, so the adds are not one dependency
   chain), combined pairwise at the end. */
static inline float sumsq(const float *x, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES) {
#pragma omp simd
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j] * x[i + j];
    }
    for (int j = 0; i + j < n; j++) acc[j] += x[i + j] * x[i + j];
    for (int h = LANES / 2; h > 0; h /= 2)
        for (int j = 0; j < h; j++) acc[j] += acc[j + h];
    return acc[0];
}

/* e^x as src/cpu/elementwise.c's ew_exp (Cephes polynomial, ~1 ulp, branch
   free so the gate loop vectorizes; subnormal results and overflow come out
   with one rounding; NaN passes through). */
static inline float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float fexp(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    xc = x == x ? xc : 0.0f;
    const float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (xc - kf * 0.693359375f) - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = MADD(p, r, 1.3981999507e-3f);
    p = MADD(p, r, 8.3334519073e-3f);
    p = MADD(p, r, 4.1665795894e-2f);
    p = MADD(p, r, 1.6666665459e-1f);
    p = MADD(p, r, 5.0000001201e-1f);
    p = MADD(p, r * r, r) + 1.0f;
    const int32_t k = (int32_t)kf;
    const int32_t k1 = k / 2, k2 = k - k1;
    const float res = p * bits_f((uint32_t)(k1 + 127) << 23) * bits_f((uint32_t)(k2 + 127) << 23);
    return x == x ? res : x;
}

/* ---- rows ------------------------------------------------------------------ */

typedef struct {
    int kind;            /* MLXN_OPK_ADD_RMS_NORM / _RMS_NORM_ADD / _RMS_NORM_GATE */
    int dt, wdt;         /* row dtype; weight dtype or -1                           */
    int64_t dim;
    float eps, scale;
    const void *in0, *in1; /* a, b (add_rms_norm) or x, res/z                      */
    const void *w;
    void *y, *sum;       /* sum: add_rms_norm's sum_out or NULL                     */
} fn_args;

/* Stages block [i0, i0+n) of the normalized operand v as f32. */
static inline const float *stage_v(const fn_args *a, int64_t off, int n, float *t0, float *t1) {
    if (a->kind != MLXN_OPK_ADD_RMS_NORM) return stage_in(a->dt, a->in0, off, n, t0);
    const float *pa = stage_in(a->dt, a->in0, off, n, t0);
    const float *pb = stage_in(a->dt, a->in1, off, n, t1);
    /* t0 may be pa itself (16-bit): element i is read before written */
#pragma omp simd
    for (int i = 0; i < n; i++) t0[i] = pa[i] + pb[i];
    return t0;
}

static void row(const fn_args *a, int64_t r) {
    float t0[BLOCK], t1[BLOCK], t2[BLOCK], t3[BLOCK];
    const int64_t dim = a->dim, base = r * dim;
    double ss = 0.0;
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = (int)(dim - i0 < BLOCK ? dim - i0 : BLOCK);
        ss += (double)sumsq(stage_v(a, base + i0, n, t0, t1), n);
    }
    const float rs = (float)(1.0 / sqrt(ss / (double)dim + (double)a->eps));
    const float scale = a->scale;

    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = (int)(dim - i0 < BLOCK ? dim - i0 : BLOCK);
        const float *v = stage_v(a, base + i0, n, t0, t1);
        /* the weight (cache-resident after the first row) */
        const float *w = a->w ? stage_in(a->wdt, a->w, i0, n, t2) : NULL;
        switch (a->kind) {
        case MLXN_OPK_ADD_RMS_NORM:
            if (a->sum) stage_out(a->dt, v, a->sum, base + i0, n);
            if (w) {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = v[i] * rs * w[i];
            } else {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = v[i] * rs;
            }
            break;
        case MLXN_OPK_RMS_NORM_ADD: {
            const float *res = stage_in(a->dt, a->in1, base + i0, n, t1);
            if (w) {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = (res[i] + v[i] * rs * w[i]) * scale;
            } else {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = (res[i] + v[i] * rs) * scale;
            }
            break;
        }
        default: { /* MLXN_OPK_RMS_NORM_GATE: silu(z) = z / (1 + e^-z) */
            const float *z = stage_in(a->dt, a->in1, base + i0, n, t1);
            if (w) {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = v[i] * rs * w[i] * (z[i] / (1.0f + fexp(-z[i])));
            } else {
#pragma omp simd
                for (int i = 0; i < n; i++) t3[i] = v[i] * rs * (z[i] / (1.0f + fexp(-z[i])));
            }
            break;
        }
        }
        stage_out(a->dt, t3, a->y, base + i0, n);
    }
}

static int run(const mlxn_op_call *c) {
    fn_args a;
    a.kind = (int)c->kind;
    a.dt = (int)c->u.gen.d[0];
    a.wdt = (int)c->u.gen.d[1];
    a.dim = c->u.gen.i[1];
    a.eps = c->u.gen.f[0];
    a.scale = c->u.gen.f[1];
    if (a.dt != MLXN_F32 && a.dt != MLXN_F16 && a.dt != MLXN_BF16)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)a.dt));
    if (c->kind == MLXN_OPK_ADD_RMS_NORM) {
        a.in0 = c->args[0].ptr;
        a.in1 = c->args[1].ptr;
        a.w = c->args[2].ptr;
        a.y = c->args[3].ptr;
        a.sum = c->args[4].ptr;
    } else {
        a.in0 = c->args[0].ptr;
        a.w = c->args[1].ptr;
        a.in1 = c->args[2].ptr;
        a.y = c->args[3].ptr;
        a.sum = NULL;
    }
    if (!a.w) a.wdt = -1;
    const int64_t rows = c->u.gen.i[0];
    const int nt = mlxn_cpu_threads();
    /* Waking the team costs a few microseconds: a decode-sized op (one
       4096-wide row) is done faster than that by one thread. */
    const bool par = nt > 1 && rows > 1 && rows * a.dim >= 16384;
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
    for (int64_t r = 0; r < rows; r++) row(&a, r);
    return MLXN_OK;
}

int mlxn_cpu_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return run(c);
}

int mlxn_cpu_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return run(c);
}

int mlxn_cpu_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return run(c);
}

/* ==== [fused_norm2] rms_norm_mul (3 variants), triple norms, MoE weighted-sum
   norms, head_norm_rope. Argument orders and plan slots: src/ops/fused_norm.c.

   The same two-pass block scheme as above (pass 1 stages the normalized
   operand as f32 and sums its squares per block, block sums in double; pass 2
   stages the inputs again and writes every output, rounded once). Outputs of
   a block are computed into f32 temporaries before any of them is stored, so
   an output that is exactly an input view (allowed by the ops layer) never
   feeds a later read of the same block. Operands that are recomputed in a
   later pass (a + b, the post-attention residual, the MoE weighted sum) are
   recomputed with the same f32 operations, so every pass sees the same value. */

static inline bool mlxn_is_float_dt(int dt) { return dt == MLXN_F32 || dt == MLXN_F16 || dt == MLXN_BF16; }

static inline float ld1(int dt, const void *p, int64_t i) {
    if (dt == MLXN_F32) return ((const float *)p)[i];
    if (dt == MLXN_F16) return mlxn_h2f_fast(((const uint16_t *)p)[i]);
    return mlxn_b2f(((const uint16_t *)p)[i]);
}

static inline int blk(int64_t dim, int64_t i0) { return (int)(dim - i0 < BLOCK ? dim - i0 : BLOCK); }

static inline float inv_rms_d(double ss, int64_t dim, float eps) {
    return (float)(1.0 / sqrt(ss / (double)dim + (double)eps));
}

/* The team for `rows` rows of `dim` elements (see run()). */
static inline bool par_rows(int nt, int64_t rows, int64_t work) { return nt > 1 && rows > 1 && work >= 16384; }

/* ---- rms_norm_mul ------------------------------------------------------------ */

typedef struct {
    int variant, dt, wdt, mdt, mform;
    int64_t dim;
    float eps;
    const void *in0, *in1, *w, *m;
    void *y, *sum;
} mul_args;

static inline const float *stage_v2(int dt, const void *in0, const void *in1, int64_t off, int n, float *t0,
                                    float *t1) {
    const float *pa = stage_in(dt, in0, off, n, t0);
    if (!in1) return pa;
    const float *pb = stage_in(dt, in1, off, n, t1);
#pragma omp simd
    for (int i = 0; i < n; i++) t0[i] = pa[i] + pb[i];
    return t0;
}

static void row_mul(const mul_args *a, int64_t r) {
    float t0[BLOCK], t1[BLOCK], tw[BLOCK], tm[BLOCK], tr[BLOCK], to[BLOCK];
    const int64_t dim = a->dim, base = r * dim;
    const void *add = a->variant == 1 ? a->in1 : NULL; /* b is added before the norm */
    double ss = 0.0;
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = blk(dim, i0);
        ss += (double)sumsq(stage_v2(a->dt, a->in0, add, base + i0, n, t0, t1), n);
    }
    const float rs = inv_rms_d(ss, dim, a->eps);
    const float m0 = a->mform == 2 ? ld1(a->mdt, a->m, 0) : 0.0f;
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = blk(dim, i0);
        const float *v = stage_v2(a->dt, a->in0, add, base + i0, n, t0, t1);
        if (a->w) {
            const float *w = stage_in(a->wdt, a->w, i0, n, tw);
#pragma omp simd
            for (int i = 0; i < n; i++) to[i] = v[i] * rs * w[i];
        } else {
#pragma omp simd
            for (int i = 0; i < n; i++) to[i] = v[i] * rs;
        }
        if (a->variant == 2) {
            const float *res = stage_in(a->dt, a->in1, base + i0, n, tr);
#pragma omp simd
            for (int i = 0; i < n; i++) to[i] = res[i] + to[i];
        }
        if (a->mform == 2) {
#pragma omp simd
            for (int i = 0; i < n; i++) to[i] = to[i] * m0;
        } else {
            const float *m = stage_in(a->mdt, a->m, a->mform == 0 ? base + i0 : i0, n, tm);
#pragma omp simd
            for (int i = 0; i < n; i++) to[i] = to[i] * m[i];
        }
        /* v is a staged copy except for f32 x without b: then y == x is read
           above (into to) before this store */
        if (a->sum) stage_out(a->dt, v, a->sum, base + i0, n);
        stage_out(a->dt, to, a->y, base + i0, n);
    }
}

int mlxn_cpu_rms_norm_mul(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    mul_args a;
    a.variant = (int)c->u.gen.d[3];
    a.dt = (int)c->u.gen.d[0];
    a.wdt = (int)c->u.gen.d[1];
    a.mdt = (int)c->u.gen.d[2];
    a.mform = (int)c->u.gen.i[2];
    a.dim = c->u.gen.i[1];
    a.eps = c->u.gen.f[0];
    a.in0 = c->args[0].ptr;
    a.in1 = c->args[1].ptr;
    a.w = c->args[2].ptr;
    a.m = c->args[3].ptr;
    a.y = c->args[4].ptr;
    a.sum = c->args[5].ptr;
    if (!mlxn_is_float_dt(a.dt))
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)a.dt));
    const int64_t rows = c->u.gen.i[0];
    const int nt = mlxn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (par_rows(nt, rows, rows * a.dim))
    for (int64_t r = 0; r < rows; r++) row_mul(&a, r);
    return MLXN_OK;
}

/* ---- triple_norm, post_attn_triple_norm -------------------------------------- */

typedef struct {
    int post, dt, w3dt, wpdt;
    int64_t dim;
    float eps;
    const void *x, *attn, *wp, *w3;
    void *res, *y[3];
} tri_args;

/* The post-attention residual r = h + attn * ra * wp of one block, into tr. */
static inline void post_r(const tri_args *a, int64_t base, int64_t i0, int n, float ra, float *tr, float *t1,
                          float *t2) {
    const float *h = stage_in(a->dt, a->x, base + i0, n, tr);
    const float *at = stage_in(a->dt, a->attn, base + i0, n, t1);
    const float *wp = stage_in(a->wpdt, a->wp, i0, n, t2);
    /* tr may be h itself (16-bit): element i is read before it is written */
#pragma omp simd
    for (int i = 0; i < n; i++) tr[i] = h[i] + at[i] * ra * wp[i];
}

static void row_triple(const tri_args *a, int64_t r) {
    float t0[BLOCK], t1[BLOCK], t2[BLOCK], tw[BLOCK], to[3][BLOCK];
    const int64_t dim = a->dim, base = r * dim;
    float ra = 0.0f;
    double ss = 0.0;
    if (a->post) {
        for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
            const int n = blk(dim, i0);
            ss += (double)sumsq(stage_in(a->dt, a->attn, base + i0, n, t0), n);
        }
        ra = inv_rms_d(ss, dim, a->eps);
        ss = 0.0;
        for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
            const int n = blk(dim, i0);
            post_r(a, base, i0, n, ra, t0, t1, t2);
            ss += (double)sumsq(t0, n);
        }
    } else {
        for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
            const int n = blk(dim, i0);
            ss += (double)sumsq(stage_in(a->dt, a->x, base + i0, n, t0), n);
        }
    }
    const float rs = inv_rms_d(ss, dim, a->eps);
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = blk(dim, i0);
        const float *v;
        if (a->post) {
            post_r(a, base, i0, n, ra, t0, t1, t2);
            v = t0;
        } else {
            v = stage_in(a->dt, a->x, base + i0, n, t0);
        }
        for (int k = 0; k < 3; k++) {
            const float *w = stage_in(a->w3dt, a->w3, (int64_t)k * dim + i0, n, tw);
            float *o = to[k];
#pragma omp simd
            for (int i = 0; i < n; i++) o[i] = v[i] * rs * w[i];
        }
        /* every output of the block is computed: now store */
        if (a->post) stage_out(a->dt, t0, a->res, base + i0, n);
        for (int k = 0; k < 3; k++) stage_out(a->dt, to[k], a->y[k], base + i0, n);
    }
}

int mlxn_cpu_triple_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    tri_args a;
    a.post = (int)c->u.gen.d[3];
    a.dt = (int)c->u.gen.d[0];
    a.w3dt = (int)c->u.gen.d[1];
    a.wpdt = (int)c->u.gen.d[2];
    a.dim = c->u.gen.i[1];
    a.eps = c->u.gen.f[0];
    a.x = c->args[0].ptr;
    a.attn = c->args[1].ptr;
    a.wp = c->args[2].ptr;
    a.w3 = c->args[3].ptr;
    a.res = c->args[4].ptr;
    for (int k = 0; k < 3; k++) a.y[k] = c->args[5 + k].ptr;
    if (!mlxn_is_float_dt(a.dt))
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)a.dt));
    const int64_t rows = c->u.gen.i[0];
    const int nt = mlxn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (par_rows(nt, rows, rows * a.dim))
    for (int64_t r = 0; r < rows; r++) row_triple(&a, r);
    return MLXN_OK;
}

/* ---- moe_wsum_norm_add, moe_wsum_dnorm_add ------------------------------------- */

typedef struct {
    int dn, dt, nwdt, wddt;
    int64_t dim, K;
    float eps;
    const void *ys, *res, *nw, *dense, *wd;
    const float *wk;
    void *y;
} moe_args;

/* v = sum_k wk[t,k] * ys[t,k,i0..i0+n) into acc (f32, k in order). */
static inline void moe_v(const moe_args *a, int64_t t, int64_t i0, int n, float *acc, float *tmp) {
    const float *wk = a->wk + t * a->K;
    for (int i = 0; i < n; i++) acc[i] = 0.0f;
    for (int64_t k = 0; k < a->K; k++) {
        const float *yk = stage_in(a->dt, a->ys, (t * a->K + k) * a->dim + i0, n, tmp);
        const float wv = wk[k];
#pragma omp simd
        for (int i = 0; i < n; i++) acc[i] = acc[i] + yk[i] * wv;
    }
}

static void row_moe(const moe_args *a, int64_t t) {
    float tv[BLOCK], t1[BLOCK], tw[BLOCK], to[BLOCK];
    const int64_t dim = a->dim, base = t * dim;
    double ssv = 0.0, ssd = 0.0;
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = blk(dim, i0);
        moe_v(a, t, i0, n, tv, t1);
        ssv += (double)sumsq(tv, n);
        if (a->dn) ssd += (double)sumsq(stage_in(a->dt, a->dense, base + i0, n, t1), n);
    }
    const float rv = inv_rms_d(ssv, dim, a->eps);
    const float rd = a->dn ? inv_rms_d(ssd, dim, a->eps) : 0.0f;
    for (int64_t i0 = 0; i0 < dim; i0 += BLOCK) {
        const int n = blk(dim, i0);
        moe_v(a, t, i0, n, tv, t1);
        if (a->nw) {
            const float *w = stage_in(a->nwdt, a->nw, i0, n, tw);
#pragma omp simd
            for (int i = 0; i < n; i++) tv[i] = tv[i] * rv * w[i];
        } else {
#pragma omp simd
            for (int i = 0; i < n; i++) tv[i] = tv[i] * rv;
        }
        /* to = res (or 0) + dense part, then + the MoE part */
        if (a->res) {
            const float *rr = stage_in(a->dt, a->res, base + i0, n, t1);
            memcpy(to, rr, sizeof(float) * (size_t)n);
        } else {
            memset(to, 0, sizeof(float) * (size_t)n);
        }
        if (a->dn) {
            const float *d = stage_in(a->dt, a->dense, base + i0, n, t1);
            if (a->wd) {
                const float *w = stage_in(a->wddt, a->wd, i0, n, tw);
#pragma omp simd
                for (int i = 0; i < n; i++) to[i] = to[i] + d[i] * rd * w[i];
            } else {
#pragma omp simd
                for (int i = 0; i < n; i++) to[i] = to[i] + d[i] * rd;
            }
        }
#pragma omp simd
        for (int i = 0; i < n; i++) to[i] = to[i] + tv[i];
        stage_out(a->dt, to, a->y, base + i0, n);
    }
}

int mlxn_cpu_moe_wsum_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    moe_args a;
    a.dn = (int)c->u.gen.d[3];
    a.dt = (int)c->u.gen.d[0];
    a.nwdt = (int)c->u.gen.d[1];
    a.wddt = (int)c->u.gen.d[2];
    a.dim = c->u.gen.i[1];
    a.K = c->u.gen.i[2];
    a.eps = c->u.gen.f[0];
    a.ys = c->args[0].ptr;
    a.wk = (const float *)c->args[1].ptr;
    a.res = c->args[2].ptr;
    a.nw = c->args[3].ptr;
    a.y = c->args[4].ptr;
    a.dense = c->args[5].ptr;
    a.wd = c->args[6].ptr;
    if (!mlxn_is_float_dt(a.dt))
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)a.dt));
    const int64_t T = c->u.gen.i[0];
    const int nt = mlxn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (par_rows(nt, T, T * a.dim * (a.K + 2)))
    for (int64_t t = 0; t < T; t++) row_moe(&a, t);
    return MLXN_OK;
}

/* ---- head_norm_rope ------------------------------------------------------------- */

/* The pair coefficients base^(-2i/D) / ff[i] are computed once per call in
   double. Rows (token, head) run in parallel (static schedule, so a thread
   sees the heads of a token in a row); a thread computes the cos/sin of its
   current token's rope_dim/2 pairs when the token changes: angle pos * coef
   in double, mlxn_sincos_d (reduced by pi/2 in double), rounded to f32 —
   the scheme of src/cpu/rope.c. Per row: the sum of squares (f32 blocks,
   double across blocks), n = x * r * w in f32 into a row buffer, the pairs
   (n[i], n[i + D/2]) rotated in place, the row rounded once into y (and
   y_co). The row buffer is a copy, so y may be x. Buffers live on the
   stack (<= 66 KB per thread, as rope.c's tables): no allocation. */
#define HNR_MAXD MLXN_ROPE_MAX_HEAD_DIM

int mlxn_cpu_head_norm_rope(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t S = c->u.gen.i[0], H = c->u.gen.i[1], D = c->u.gen.i[2], R = c->u.gen.i[3];
    const int perm = (int)c->u.gen.i[4], pos_u = (int)c->u.gen.i[5];
    const int dt = (int)c->u.gen.d[0], wdt = (int)c->u.gen.d[1], codt = (int)c->u.gen.d[2];
    const float eps = c->u.gen.f[0];
    const double log2_base = log2((double)c->u.gen.f[1]);
    const void *x = c->args[0].ptr, *w = c->args[1].ptr, *pos = c->args[2].ptr;
    const float *ff = (const float *)c->args[3].ptr;
    void *y = c->args[4].ptr, *co = c->args[5].ptr;
    if (!mlxn_is_float_dt(dt))
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)dt));
    if (D > HNR_MAXD || R > D)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: head_dim %lld exceeds the cpu kernel's limit (%d)",
                                  c->name, (long long)D, HNR_MAXD);
    const int64_t P = R / 2, half = D / 2, rows = S * H;
    double coef[HNR_MAXD / 2];
    for (int64_t i = 0; i < P; i++) {
        coef[i] = exp2(-log2_base * (2.0 * (double)i / (double)D));
        if (ff) coef[i] /= (double)ff[i];
    }
    const int nt = mlxn_cpu_threads();
#pragma omp parallel num_threads(nt) if (par_rows(nt, rows, rows * D))
    {
        float nb[HNR_MAXD], cs[HNR_MAXD / 2], sn[HNR_MAXD / 2], tw[BLOCK];
        int64_t cur = -1; /* token whose cos/sin are in cs/sn */
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const int64_t s = r / H, h = r % H, base = r * D;
            if (s != cur && P > 0) {
                const double pv = pos_u ? (double)((const uint32_t *)pos)[s] : (double)((const int32_t *)pos)[s];
                for (int64_t i = 0; i < P; i++) {
                    double sv, cv;
                    mlxn_sincos_d(pv * coef[i], &sv, &cv);
                    cs[i] = (float)cv;
                    sn[i] = (float)sv;
                }
                cur = s;
            }
            double ss = 0.0;
            for (int64_t i0 = 0; i0 < D; i0 += BLOCK) {
                const int n = blk(D, i0);
                const float *v = stage_in(dt, x, base + i0, n, nb + i0);
                if (v != nb + i0) memcpy(nb + i0, v, sizeof(float) * (size_t)n);
                ss += (double)sumsq(nb + i0, n);
            }
            const float rs = inv_rms_d(ss, D, eps);
            for (int64_t i0 = 0; i0 < D; i0 += BLOCK) {
                const int n = blk(D, i0);
                float *v = nb + i0;
                if (w) {
                    const float *wv = stage_in(wdt, w, i0, n, tw);
#pragma omp simd
                    for (int i = 0; i < n; i++) v[i] = v[i] * rs * wv[i];
                } else {
#pragma omp simd
                    for (int i = 0; i < n; i++) v[i] = v[i] * rs;
                }
            }
            float *lo = nb, *hi = nb + half;
#pragma omp simd
            for (int64_t i = 0; i < P; i++) {
                const float a0 = lo[i], a1 = hi[i];
                lo[i] = a0 * cs[i] - a1 * sn[i];
                hi[i] = a0 * sn[i] + a1 * cs[i];
            }
            for (int64_t i0 = 0; i0 < D; i0 += BLOCK) stage_out(dt, nb + i0, y, base + i0, blk(D, i0));
            if (co) {
                const int64_t cb = perm ? (h * S + s) * D : base;
                for (int64_t i0 = 0; i0 < D; i0 += BLOCK) stage_out(codt, nb + i0, co, cb + i0, blk(D, i0));
            }
        }
    }
    return MLXN_OK;
}
