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
#if (defined(__F16C__) && defined(__AVX__)) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

/* The AVX2 paths of GELU, SiLU and sigmoid (unary and GLU): 8 elements a
   step straight from the input dtype to the output dtype, no staging. */
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define EW_VEC 1
#else
#define EW_VEC 0
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

/* ---- AVX2 GELU, SiLU, sigmoid ------------------------------------------------------
   All three are x / (1 + e^z) or 1 / (1 + e^z) (gelu: z = -2u; silu, sigmoid:
   z = -x). z is formed directly in base-2 units, t = z log2(e) (the constant
   folded into gelu's polynomial), and 2^t = 2^k 2^f with k = round(t),
   f = t - k in [-1/2, 1/2] (exact), 2^k one exponent add, 2^f a polynomial:
   degree 6 (relative error 1.6e-8, below f32's half ulp: the f32 results
   stay within a few ulps, like ew_exp's) for f32 outputs, degree 4 (2.7e-6,
   under 1% of the half ulp of f16 (4.9e-4) and bf16 (3.9e-3)) for 16-bit
   outputs, which are rounded once from it. Folding log2(e) in costs nothing
   in accuracy: the rounding of z itself already moves e^z by u |z|.
   t is clamped to [-126, 128]: k = -126 keeps 2^k normal (e^z < 1.2e-38 is
   returned as ~1.2e-38, and 1 + e^z == 1 either way); k = 128 is the bit
   pattern of +inf, so t >= 127.5 (e^z > 2.4e38, within a factor 1.4 of the
   f32 overflow) gives +inf, and x / (1 + inf) is -0/+0 instead of a
   subnormal. The special values come out as the scalar functions give them:
   gelu(+inf) = silu(+inf) = +inf, gelu(-inf) = silu(-inf) = -inf / inf = NaN,
   sigmoid(+-inf) = 1, 0, NaN -> NaN (max/min return their second operand, t,
   when it is NaN, and a NaN t stays NaN through the polynomial). */
#if EW_VEC
static inline __m256 v_exp2_act(__m256 t, bool hi) {
    t = _mm256_max_ps(_mm256_set1_ps(-126.0f), t);
    t = _mm256_min_ps(_mm256_set1_ps(128.0f), t);
    const __m256 kf = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(t, kf);
    __m256 p;
    if (hi) {
        p = _mm256_set1_ps(1.5337791410274804e-4f);
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3399862218648195e-3f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618518874049187e-3f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550329014658928e-2f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022646248340607e-1f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931471824645996e-1f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    } else {
        p = _mm256_set1_ps(9.560763835906982e-3f);
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.591706186532974e-2f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4024975299835205e-1f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931219696998596e-1f));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.999991655349731e-1f));
    }
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(kf), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* gelu = x / (1 + e^-2u), -2u log2(e) = x (c0 + c1 x^2), c0 = -2 sqrt(2/pi) log2(e), c1 = c0 0.044715 */
static inline __m256 v_gelu(__m256 x, bool hi) {
    const float c0 = (float)(-2.0 * 0.79788456080286536 * 1.4426950408889634);
    const float c1 = (float)(-2.0 * 0.79788456080286536 * 1.4426950408889634 * 0.044715);
    const __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(c1), _mm256_mul_ps(x, x), _mm256_set1_ps(c0));
    const __m256 e = v_exp2_act(_mm256_mul_ps(x, q), hi);
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static inline __m256 v_silu(__m256 x, bool hi) {
    const __m256 e = v_exp2_act(_mm256_mul_ps(x, _mm256_set1_ps(-1.4426950408889634f)), hi);
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static inline __m256 v_sigmoid(__m256 x, bool hi) {
    const __m256 e = v_exp2_act(_mm256_mul_ps(x, _mm256_set1_ps(-1.4426950408889634f)), hi);
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* 16 elements of dtype dt at p[i..i+16) as two f32 vectors (exact widening).
   bf16 is widened by interleaving with zeros inside each 128-bit lane, so
   the vectors hold elements {0-3, 8-11} and {4-7, 12-15}: every operand of
   an op is loaded the same way and v_store16's pack undoes the order. */
static inline void v_load16(int dt, const void *p, int64_t i, __m256 *a, __m256 *b) {
    if (dt == MLXN_F32) {
        *a = _mm256_loadu_ps((const float *)p + i);
        *b = _mm256_loadu_ps((const float *)p + i + 8);
    } else if (dt == MLXN_F16) {
        const __m128i *q = (const __m128i *)((const uint16_t *)p + i);
        *a = _mm256_cvtph_ps(_mm_loadu_si128(q));
        *b = _mm256_cvtph_ps(_mm_loadu_si128(q + 1));
    } else {
        const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
        const __m256i z = _mm256_setzero_si256();
        *a = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, h));
        *b = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, h));
    }
}

/* f32 -> bf16 bits in the low half of each 32-bit lane, exactly as mlxn_f2b:
   round to nearest even, NaN kept quiet with its sign and top payload. */
static inline __m256i v_bf16_bits(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i hi = _mm256_srli_epi32(u, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nanv = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(nanv),
                                                _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

/* The inverse of v_load16: a and b rounded to dtype dt at p[i..i+16) (f16 by
   F16C, round to nearest even as mlxn_f2h). */
static inline void v_store16(int dt, void *p, int64_t i, __m256 a, __m256 b) {
    if (dt == MLXN_F32) {
        _mm256_storeu_ps((float *)p + i, a);
        _mm256_storeu_ps((float *)p + i + 8, b);
    } else if (dt == MLXN_F16) {
        __m128i *q = (__m128i *)((uint16_t *)p + i);
        _mm_storeu_si128(q, _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm_storeu_si128(q + 1, _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    } else {
        /* per lane: packus(a's 4, b's 4) = elements 0-7 (8-15) in order */
        _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), _mm256_packus_epi32(v_bf16_bits(a), v_bf16_bits(b)));
    }
}
#endif

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

/* ---- the AVX2 ranges (GELU, SiLU, sigmoid) --------------------------------------- */

#if EW_VEC
static inline float ld1(int dt, const void *p, int64_t i) {
    if (dt == MLXN_F32) return ((const float *)p)[i];
    if (dt == MLXN_F16) return mlxn_h2f_fast(((const uint16_t *)p)[i]);
    return mlxn_b2f(((const uint16_t *)p)[i]);
}
static inline void st1(int dt, void *p, int64_t i, float v) {
    if (dt == MLXN_F32) ((float *)p)[i] = v;
    else if (dt == MLXN_F16) ((uint16_t *)p)[i] = mlxn_f2h(v);
    else ((uint16_t *)p)[i] = mlxn_f2b(v);
}

static bool unary_has_vec(int op) { return op == MLXN_UNARY_GELU || op == MLXN_UNARY_SILU || op == MLXN_UNARY_SIGMOID; }

/* y[s + k] = op(x[s + k]) for k < len; x may be y (each step loads its 8
   elements before it stores them). The last len % 8 go through the scalar
   functions, which give the same values. */
#define UNARY_VEC_LOOP(VF, SF)                                                \
    do {                                                                      \
        for (; k + 16 <= len; k += 16) {                                      \
            __m256 a, b;                                                      \
            v_load16(dt, x, s + k, &a, &b);                                   \
            v_store16(dt, y, s + k, VF(a, hi), VF(b, hi));                    \
        }                                                                     \
        for (; k < len; k++) st1(dt, y, s + k, SF(ld1(dt, x, s + k)));        \
    } while (0)

static void unary_vec(int op, int dt, const void *x, void *y, int64_t s, int64_t len) {
    int64_t k = 0;
    const bool hi = dt == MLXN_F32; /* the f32-accurate polynomial for f32 outputs */
    switch (op) {
    case MLXN_UNARY_GELU: UNARY_VEC_LOOP(v_gelu, ew_gelu); break;
    case MLXN_UNARY_SILU: UNARY_VEC_LOOP(v_silu, ew_silu); break;
    default: UNARY_VEC_LOOP(v_sigmoid, ew_sigmoid); break;
    }
}

static bool glu_has_vec(int op) { return op != MLXN_GLU_GEGLU_ERF; }

/* y[ys + k] = act(g[gs + k]) * u[us + k] for k < len (g and u of the same dtype). */
#define GLU_VEC_LOOP(VF, SF)                                                                   \
    do {                                                                                       \
        for (; k + 16 <= len; k += 16) {                                                       \
            __m256 g0, g1, u0, u1;                                                             \
            v_load16(dt, g, gs + k, &g0, &g1);                                                 \
            v_load16(dt, u, us + k, &u0, &u1);                                                 \
            v_store16(dt, y, ys + k, _mm256_mul_ps(VF(g0, hi), u0), _mm256_mul_ps(VF(g1, hi), u1)); \
        }                                                                                      \
        for (; k < len; k++) st1(dt, y, ys + k, SF(ld1(dt, g, gs + k)) * ld1(dt, u, us + k)); \
    } while (0)

static void glu_vec(int op, int dt, const void *g, int64_t gs, const void *u, int64_t us, void *y, int64_t ys,
                    int64_t len) {
    int64_t k = 0;
    const bool hi = dt == MLXN_F32;
    switch (op) {
    case MLXN_GLU_SWIGLU: GLU_VEC_LOOP(v_silu, ew_silu); break;
    case MLXN_GLU_GEGLU: GLU_VEC_LOOP(v_gelu, ew_gelu); break;
    default: GLU_VEC_LOOP(v_sigmoid, ew_sigmoid); break;
    }
}
#endif

/* ---- unary ------------------------------------------------------------------ */

static void unary_block(const ew_ctx *c, int64_t s, int64_t len) {
    const mlxn_ew_plan *p = c->p;
#if EW_VEC
    if (unary_has_vec(p->op)) {
        unary_vec(p->op, p->dtype, c->in0, c->out, s, len);
        return;
    }
#endif
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
#if EW_VEC
    if (glu_has_vec(p->op)) {
        if (!p->fused) {
            glu_vec(p->op, dt, c->in0, s, c->in1, s, c->out, s, len);
            return;
        }
        const int64_t cols = p->cols;
        for (int64_t k = 0; k < len;) {
            const int64_t i = s + k, r = i / cols, col = i - r * cols;
            const int64_t l = len - k < cols - col ? len - k : cols - col;
            const int64_t go = r * 2 * cols + col;
            glu_vec(p->op, dt, c->in0, go, c->in0, go + cols, c->out, i, l);
            k += l;
        }
        return;
    }
#endif
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
