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
