/* elementwise.c (CPU) — unary, binary, glu and cast through one mlxn_ew_plan.

   The flat element range is cut into blocks of BLK elements and the blocks are
   split statically over the OpenMP threads (each thread streams one contiguous
   range). Per block, 16-bit inputs are widened into small f32 staging arrays
   that stay in L1, the op runs as one vectorizable f32 loop, and the result is
   rounded once to the output dtype; f32 operands are used in place. Every loop
   is element-wise (element i is read before it is written, by the same
   iteration), so an output that is exactly an input view is safe.

   exp/log/tanh/erfc are written here branch-free (selects, no libm calls) so
   that GCC vectorizes the loops under -fno-trapping-math; each is accurate to
   a few f32 ulps, far below the 16-bit output rounding and the f32 NMSE limit. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

/* The staging arrays below are always filled over [0, len) before they are
   read over the same range; GCC cannot relate the two loop bounds through the
   dtype switch and warns. Zero-filling 8 KB per block to silence it would
   cost real bandwidth. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define BLK 2048                /* elements per block: staging arrays are 8 KB each */
#define MIN_PER_THREAD (1 << 15) /* below this a thread costs more to wake than it saves */

/* ---- f32 math, vectorizable ------------------------------------------------- */

/* Polynomial steps as fused multiply-adds where the target has them (C11
   mode compiles with -ffp-contract=off, so a*b+c would stay two ops). */
#if defined(__FMA__)
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

static inline float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* e^x: k = round(x / ln2) by the 1.5*2^23 trick, r = x - k ln2 (Cody-Waite,
   |r| <= ln2/2), e^r by Cephes' expf polynomial (~1 ulp), then 2^k applied as
   two factors 2^(k/2) 2^(k-k/2) so that results down to the subnormals (and
   overflow to +inf) come out with one rounding. NaN passes through. */
static inline float ew_exp(float x) {
    float xc = x < -104.0f ? -104.0f : x; /* e^-104 already rounds to 0 */
    xc = xc > 89.0f ? 89.0f : xc;         /* e^89 already overflows     */
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

/* ln x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m-1)/(m+1),
   |s| <= 0.1716, series to s^11 (truncation < 1e-9 relative); e ln2 added in
   two parts. Subnormals are scaled by 2^23 first; 0 -> -inf, < 0 -> NaN,
   +inf -> +inf, NaN -> NaN. */
static inline float ew_log(float x) {
    const bool sub = x < FLT_MIN;
    const float xs = sub ? x * 8388608.0f : x;
    const uint32_t u = f_bits(xs);
    float e = (float)((int32_t)((u >> 23) & 0xffu) - 127) - (sub ? 23.0f : 0.0f);
    float m = bits_f((u & 0x7fffffu) | 0x3f800000u);
    const bool big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1.0f : e;
    const float f = m - 1.0f;
    const float s = f / (2.0f + f);
    const float z = s * s;
    float q = 2.0f / 11.0f;
    q = MADD(q, z, 2.0f / 9.0f);
    q = MADD(q, z, 2.0f / 7.0f);
    q = MADD(q, z, 2.0f / 5.0f);
    q = MADD(q, z, 2.0f / 3.0f);
    const float lm = 2.0f * s + s * (z * q);
    float res = e * 0.693359375f + (lm + e * -2.12194440e-4f);
    res = x == 0.0f ? -INFINITY : res;
    res = x < 0.0f ? NAN : res;
    res = x == INFINITY ? INFINITY : res;
    return x == x ? res : x;
}

/* tanh: odd Taylor series to x^9 for |x| < 1/16 (truncation < 1e-10
   relative), else (1 - e)/(1 + e) with e = e^-2|x| (no overflow; |x| large
   gives exactly +-1). Keeps -0 and NaN. */
static inline float ew_tanh(float x) {
    const float a = fabsf(x);
    const float e = ew_exp(-2.0f * a);
    const float big = (1.0f - e) / (1.0f + e);
    const float x2 = x * x;
    const float small = x + x * x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f + x2 * (62.0f / 2835.0f))));
    const float r = a < 0.0625f ? small : (x < 0.0f ? -big : big);
    return x == x ? r : x;
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc: fractional error < 1.2e-7
   everywhere, so the tails keep their relative accuracy). */
static inline float ew_erfc_pos(float z) {
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = MADD(p, t, -0.82215223f);
    p = MADD(p, t, 1.48851587f);
    p = MADD(p, t, -1.13520398f);
    p = MADD(p, t, 0.27886807f);
    p = MADD(p, t, -0.18628806f);
    p = MADD(p, t, 0.09678418f);
    p = MADD(p, t, 0.37409196f);
    p = MADD(p, t, 1.00002368f);
    p = MADD(p, t, -1.26551223f);
    return t * ew_exp(-z * z + p);
}

/* x sigmoid(2u) == 0.5 x (1 + tanh u), without the cancellation of 1 + tanh u
   for negative x. */
static inline float ew_gelu(float x) {
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + ew_exp(-2.0f * u));
}
/* 0.5 x (1 + erf(x/sqrt2)) with 1 + erf(z) = erfc(-z): for z >= 0 that is
   2 - erfc(z), for z < 0 erfc(|z|), accurate in both tails. */
static inline float ew_gelu_erf(float x) {
    const float z = x * 0.7071067811865476f;
    const float c = ew_erfc_pos(fabsf(z));
    return 0.5f * x * (z < 0.0f ? c : 2.0f - c);
}
static inline float ew_sigmoid(float x) { return 1.0f / (1.0f + ew_exp(-x)); }
static inline float ew_silu(float x) { return x / (1.0f + ew_exp(-x)); }
static inline float ew_relu(float x) { return x < 0.0f ? 0.0f : x; } /* NaN kept */

/* ---- loads and stores ------------------------------------------------------- */

static inline void load_f(int dt, const void *src, int64_t off, int64_t n, float *dst) {
    if (dt == MLXN_F32) {
        memmove(dst, (const float *)src + off, sizeof(float) * (size_t)n);
    } else if (dt == MLXN_F16) {
        const uint16_t *s = (const uint16_t *)src + off;
        int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
        /* GCC does not vectorize _Float16 conversions without AVX512-FP16 */
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
#endif
        for (; i < n; i++) dst[i] = mlxn_h2f_fast(s[i]);
    } else {
        const uint16_t *s = (const uint16_t *)src + off;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dst[i] = mlxn_b2f(s[i]);
    }
}

static inline void store_f(int dt, void *dst, int64_t off, int64_t n, const float *src) {
    if (dt == MLXN_F32) {
        memmove((float *)dst + off, src, sizeof(float) * (size_t)n);
    } else if (dt == MLXN_F16) {
        uint16_t *d = (uint16_t *)dst + off;
        int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(d + i),
                             _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
        for (; i < n; i++) d[i] = mlxn_f2h(src[i]);
    } else {
        uint16_t *d = (uint16_t *)dst + off;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = mlxn_f2b(src[i]);
    }
}

/* ---- the f32 loops (x and y may be the same array) ------------------------------- */

#define EW_LOOP(EXPR)                                               \
    do {                                                            \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {       \
            const float v = x[i];                                   \
            y[i] = (EXPR);                                          \
        }                                                           \
    } while (0)

static void unary_f32(int op, float alpha, const float *x, float *y, int64_t n) {
    switch (op) {
    case MLXN_UNARY_GELU: EW_LOOP(ew_gelu(v)); break;
    case MLXN_UNARY_GELU_ERF: EW_LOOP(ew_gelu_erf(v)); break;
    case MLXN_UNARY_SILU: EW_LOOP(ew_silu(v)); break;
    case MLXN_UNARY_SIGMOID: EW_LOOP(ew_sigmoid(v)); break;
    case MLXN_UNARY_TANH: EW_LOOP(ew_tanh(v)); break;
    case MLXN_UNARY_RELU: EW_LOOP(ew_relu(v)); break;
    case MLXN_UNARY_EXP: EW_LOOP(ew_exp(v)); break;
    case MLXN_UNARY_LOG: EW_LOOP(ew_log(v)); break;
    case MLXN_UNARY_SCALE: EW_LOOP(v * alpha); break;
    default: EW_LOOP(alpha * ew_tanh(v / alpha)); break; /* SOFTCAP */
    }
}

#define BIN_LOOP(OPR)                                                   \
    do {                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = a[i] OPR b[i]; \
    } while (0)

static void binary_f32(int op, const float *a, const float *b, float *y, int64_t n) {
    switch (op) {
    case MLXN_BINARY_ADD: BIN_LOOP(+); break;
    case MLXN_BINARY_SUB: BIN_LOOP(-); break;
    case MLXN_BINARY_MUL: BIN_LOOP(*); break;
    default: BIN_LOOP(/); break;
    }
}

#define GLU_LOOP(ACT)                                                   \
    do {                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = ACT(g[i]) * u[i]; \
    } while (0)

static void glu_f32(int op, const float *g, const float *u, float *y, int64_t n) {
    switch (op) {
    case MLXN_GLU_SWIGLU: GLU_LOOP(ew_silu); break;
    case MLXN_GLU_GEGLU: GLU_LOOP(ew_gelu); break;
    case MLXN_GLU_GEGLU_ERF: GLU_LOOP(ew_gelu_erf); break;
    default: GLU_LOOP(ew_sigmoid); break;
    }
}

/* ---- the parallel driver ------------------------------------------------------ */

typedef struct {
    const mlxn_ew_plan *p;
    const void *in0, *in1;
    void *out;
    const float *tile; /* binary: b widened and repeated (small row vectors) */
} ew_ctx;

typedef void (*block_fn)(const ew_ctx *c, int64_t s, int64_t len);

static void run_blocks(const ew_ctx *c, int64_t n, block_fn fn) {
    const int64_t nblk = (n + BLK - 1) / BLK;
    int64_t want = (n + MIN_PER_THREAD - 1) / MIN_PER_THREAD;
    int nt = mlxn_cpu_threads();
    if (want < nt) nt = (int)want;
    if (nt < 1) nt = 1;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t b = 0; b < nblk; b++) {
        const int64_t s = b * BLK;
        fn(c, s, n - s < BLK ? n - s : BLK);
    }
}

/* ---- unary ------------------------------------------------------------------ */

static void unary_block(const ew_ctx *c, int64_t s, int64_t len) {
    const mlxn_ew_plan *p = c->p;
    if (p->dtype == MLXN_F32) {
        unary_f32(p->op, p->alpha, (const float *)c->in0 + s, (float *)c->out + s, len);
        return;
    }
    float t[BLK];
    load_f(p->dtype, c->in0, s, len, t);
    unary_f32(p->op, p->alpha, t, t, len);
    store_f(p->dtype, c->out, s, len, t);
}

int mlxn_cpu_unary(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    ew_ctx x = {&c->u.ew, c->args[0].ptr, NULL, c->args[1].ptr, NULL};
    run_blocks(&x, c->u.ew.n, unary_block);
    return MLXN_OK;
}

/* ---- binary ----------------------------------------------------------------- */

static void binary_block(const ew_ctx *c, int64_t s, int64_t len) {
    const mlxn_ew_plan *p = c->p;
    const int dt = p->dtype;
    float ta[BLK], tb[BLK];
    const float *pa = ta, *pb = tb;
    if (dt == MLXN_F32) pa = (const float *)c->in0 + s;
    else load_f(dt, c->in0, s, len, ta);

    if (p->nb == p->n) {
        if (dt == MLXN_F32) pb = (const float *)c->in1 + s;
        else load_f(dt, c->in1, s, len, tb);
    } else if (c->tile) {
        pb = c->tile + s % p->nb; /* the tile holds >= BLK values from any start < nb */
    } else { /* a long row vector: the block meets at most a few row boundaries */
        for (int64_t k = 0; k < len;) {
            const int64_t bi = (s + k) % p->nb;
            const int64_t l = len - k < p->nb - bi ? len - k : p->nb - bi;
            load_f(dt, c->in1, bi, l, tb + k);
            k += l;
        }
    }
    if (dt == MLXN_F32) {
        binary_f32(p->op, pa, pb, (float *)c->out + s, len);
    } else {
        binary_f32(p->op, pa, pb, ta, len);
        store_f(dt, c->out, s, len, ta);
    }
}

int mlxn_cpu_binary(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const mlxn_ew_plan *p = &c->u.ew;
    ew_ctx x = {p, c->args[0].ptr, c->args[1].ptr, c->args[2].ptr, NULL};
    float *tile = NULL;
    if (p->nb < p->n && p->nb < BLK) {
        /* short rows (bias vectors, scalars): widen b once and repeat it so
           that every block reads one contiguous run of it */
        const int64_t len = p->nb * (BLK / p->nb + 2);
        tile = malloc(sizeof(float) * (size_t)len);
        if (!tile) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
        load_f(p->dtype, c->args[1].ptr, 0, p->nb, tile);
        for (int64_t k = p->nb; k < len; k++) tile[k] = tile[k - p->nb];
        x.tile = tile;
    }
    run_blocks(&x, p->n, binary_block);
    free(tile);
    return MLXN_OK;
}

/* ---- glu -------------------------------------------------------------------- */

static void glu_block(const ew_ctx *c, int64_t s, int64_t len) {
    const mlxn_ew_plan *p = c->p;
    const int dt = p->dtype;
    float tg[BLK], tu[BLK];
    if (!p->fused) {
        if (dt == MLXN_F32) {
            glu_f32(p->op, (const float *)c->in0 + s, (const float *)c->in1 + s, (float *)c->out + s, len);
            return;
        }
        load_f(dt, c->in0, s, len, tg);
        load_f(dt, c->in1, s, len, tu);
    } else {
        /* output element i = (r, col) reads gate[r, col] and gate[r, cols + col] */
        const int64_t cols = p->cols;
        for (int64_t k = 0; k < len;) {
            const int64_t i = s + k, r = i / cols, col = i - r * cols;
            const int64_t l = len - k < cols - col ? len - k : cols - col;
            const int64_t go = r * 2 * cols + col;
            if (dt == MLXN_F32) {
                const float *g = (const float *)c->in0;
                glu_f32(p->op, g + go, g + go + cols, (float *)c->out + i, l);
            } else {
                load_f(dt, c->in0, go, l, tg + k);
                load_f(dt, c->in0, go + cols, l, tu + k);
            }
            k += l;
        }
        if (dt == MLXN_F32) return;
    }
    glu_f32(p->op, tg, tu, tg, len);
    store_f(dt, c->out, s, len, tg);
}

int mlxn_cpu_glu(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    ew_ctx x = {&c->u.ew, c->args[0].ptr, c->args[1].ptr, c->args[2].ptr, NULL};
    run_blocks(&x, c->u.ew.n, glu_block);
    return MLXN_OK;
}

/* ---- cast ------------------------------------------------------------------- */

static void cast_block(const ew_ctx *c, int64_t s, int64_t len) {
    const mlxn_ew_plan *p = c->p;
    const int sd = p->src_dtype, dd = p->dtype;
    if (sd == dd) {
        const size_t es = dd == MLXN_F32 ? 4 : 2;
        memcpy((char *)c->out + (size_t)s * es, (const char *)c->in0 + (size_t)s * es, (size_t)len * es);
    } else if (dd == MLXN_F32) { /* widening is exact: straight into y */
        load_f(sd, c->in0, s, len, (float *)c->out + s);
    } else if (sd == MLXN_F32) { /* one rounding of the f32 value */
        store_f(dd, c->out, s, len, (const float *)c->in0 + s);
    } else { /* f16 <-> bf16: widening to f32 is exact, so this rounds once */
        float t[BLK];
        load_f(sd, c->in0, s, len, t);
        store_f(dd, c->out, s, len, t);
    }
}

int mlxn_cpu_cast(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const mlxn_ew_plan *p = &c->u.ew;
    if (p->src_dtype == p->dtype && c->args[0].ptr == c->args[1].ptr) return MLXN_OK; /* in place, same dtype */
    ew_ctx x = {p, c->args[0].ptr, NULL, c->args[1].ptr, NULL};
    run_blocks(&x, p->n, cast_block);
    return MLXN_OK;
}
