/* norm.c (CPU) — rms_norm and l2_norm over rows (the last dimension).

   Rows run in parallel (OpenMP, static schedule: every row costs the same).
   Each row takes two passes: the sum of squares, then y = x * r * w. A row
   of up to ~8K f32 sits in L1/L2 after the first pass, so the second pass
   costs no DRAM traffic: the op moves x once, y once and w (cache-resident).

   The sum of squares runs in f32 SIMD lanes over blocks of BLOCK elements
   and the block sums are added in double. Within a block each of the 32
   lanes sums at most BLOCK/32 = 8 squares (+5 pairwise levels to combine
   lanes), so the relative error of the sum is <= ~14 * 2^-24 whatever the
   row length; a plain f32 lane sum would grow like dim/8 * 2^-24 (1e-4
   worst case for the 16K-wide rows of large models). Double lanes would do as well but halve the SIMD width,
   and GCC 12 does not vectorize an f16 -> double loop. r is computed in double,
   rounded to f32, and x * r * w is computed in f32 and rounded once to the
   output dtype, as the contract states. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <math.h>
#include <stdint.h>
#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#endif

#define BLOCK 256

typedef void (*row_fn)(const void *x, void *y, const void *w, int64_t dim, double div, double eps);

/* element loads/stores of x and y, and the weight read (1 when absent) */
#define LD_F32(v) (v)
#define ST_F32(v) (v)
#define W_NONE(w, i) 1.0f
#define W_F32(w, i) (((const float *)(w))[i])
#define W_F16(w, i) mlxn_h2f_fast(((const uint16_t *)(w))[i])
#define W_BF16(w, i) mlxn_b2f(((const uint16_t *)(w))[i])

/* Sum of squares of one block (n <= BLOCK) in LANES independent f32
   accumulators (four AVX2 registers: the adds of one register form a
   dependency chain, so one register would run at a quarter of the FMA
   throughput), combined pairwise at the end. */
#define LANES 32
#define DEFINE_SUMSQ(NAME, T, LDX)                                                          \
    static inline float NAME(const T *x, int64_t n) {                                       \
        float acc[LANES] = {0};                                                             \
        int64_t i = 0;                                                                      \
        for (; i + LANES <= n; i += LANES) {                                                \
            _Pragma("omp simd") for (int j = 0; j < LANES; j++) {                           \
                const float v = LDX(x[i + j]);                                              \
                acc[j] += v * v;                                                            \
            }                                                                               \
        }                                                                                   \
        const int rest = (int)(n - i); /* < LANES */                                        \
        for (int j = 0; j < rest; j++) {                                                    \
            const float v = LDX(x[i + j]);                                                  \
            acc[j] += v * v;                                                                \
        }                                                                                   \
        for (int h = LANES / 2; h > 0; h /= 2)                                              \
            for (int j = 0; j < h; j++) acc[j] += acc[j + h];                               \
        return acc[0];                                                                      \
    }

#if defined(__AVX2__) && defined(__F16C__)
/* 8-lane f16 -> f32 and bf16 -> f32 loads; f32 -> f16 / bf16 stores rounding
   to nearest even (bf16: the bit formula of mlxn_f2b, NaN kept quiet). */
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

DEFINE_SUMSQ(sumsq_f32, float, LD_F32)
DEFINE_SUMSQ(sumsq_bf16, uint16_t, mlxn_b2f)
#if defined(__AVX2__) && defined(__F16C__)
/* GCC 12 turns the generic f16 loop into scalar conversions (2.5 cycles per
   element): the same 32 lanes (four registers) through F16C by hand. */
static inline float sumsq_f16(const uint16_t *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 v0 = ld8h(x + i), v1 = ld8h(x + i + 8), v2 = ld8h(x + i + 16), v3 = ld8h(x + i + 24);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(v0, v0));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(v1, v1));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(v2, v2));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(v3, v3));
    }
    float acc[LANES];
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
    _mm256_storeu_ps(acc + 16, a2);
    _mm256_storeu_ps(acc + 24, a3);
    const int rest = (int)(n - i);
    for (int j = 0; j < rest; j++) {
        const float v = mlxn_h2f_fast(x[i + j]);
        acc[j] += v * v;
    }
    for (int h = LANES / 2; h > 0; h /= 2)
        for (int j = 0; j < h; j++) acc[j] += acc[j + h];
    return acc[0];
}
#else
DEFINE_SUMSQ(sumsq_f16, uint16_t, mlxn_h2f_fast)
#endif

/* y = x * r * w over one row, rounded once to T. x and y may be the same
   array (in place): each iteration reads x[i] before writing y[i] and no
   other, so the simd pragma (which asserts exactly that independence) is
   right and restrict would not be. Multiplying by the constant 1.0f of
   W_NONE is exact and folds away. */
#define DEFINE_SCALE(NAME, T, LDX, STX, LDW)                                                \
    static void NAME(const T *x, T *y, const void *w, float r, int64_t dim) {               \
        _Pragma("omp simd") for (int64_t i = 0; i < dim; i++) y[i] = STX(LDX(x[i]) * r * LDW(w, i)); \
        (void)w;                                                                            \
    }

DEFINE_SCALE(scale_f32, float, LD_F32, ST_F32, W_NONE)
DEFINE_SCALE(scale_f32_wf32, float, LD_F32, ST_F32, W_F32)

#if defined(__AVX2__) && defined(__F16C__)
/* GCC 12 does not vectorize float -> _Float16 narrowing at all, and makes
   slow 16-byte code of the bf16 rounding: both 16-bit outputs go through the
   8-lane converters above (same single rounding as mlxn_f2h / mlxn_f2b). */
#define DEFINE_SCALE_16(NAME, LD8, ST8, LDX, STX, LD8W, LDW)                                \
    static void NAME(const uint16_t *x, uint16_t *y, const void *w, float r, int64_t dim) { \
        const __m256 rv = _mm256_set1_ps(r);                                                \
        int64_t i = 0;                                                                      \
        for (; i + 8 <= dim; i += 8) ST8(y + i, _mm256_mul_ps(_mm256_mul_ps(LD8(x + i), rv), LD8W(w, i))); \
        for (; i < dim; i++) y[i] = STX(LDX(x[i]) * r * LDW(w, i));                        \
        (void)w;                                                                            \
    }
#define W8_NONE(w, i) _mm256_set1_ps(1.0f)
#define W8_F16(w, i) ld8h((const uint16_t *)(w) + (i))
#define W8_BF16(w, i) ld8b((const uint16_t *)(w) + (i))
#define W8_F32(w, i) _mm256_loadu_ps((const float *)(w) + (i))
DEFINE_SCALE_16(scale_f16, ld8h, st8h, mlxn_h2f_fast, mlxn_f2h, W8_NONE, W_NONE)
DEFINE_SCALE_16(scale_f16_wf16, ld8h, st8h, mlxn_h2f_fast, mlxn_f2h, W8_F16, W_F16)
DEFINE_SCALE_16(scale_f16_wf32, ld8h, st8h, mlxn_h2f_fast, mlxn_f2h, W8_F32, W_F32)
DEFINE_SCALE_16(scale_bf16, ld8b, st8b, mlxn_b2f, mlxn_f2b, W8_NONE, W_NONE)
DEFINE_SCALE_16(scale_bf16_wbf16, ld8b, st8b, mlxn_b2f, mlxn_f2b, W8_BF16, W_BF16)
DEFINE_SCALE_16(scale_bf16_wf32, ld8b, st8b, mlxn_b2f, mlxn_f2b, W8_F32, W_F32)
#else
DEFINE_SCALE(scale_f16, uint16_t, mlxn_h2f_fast, mlxn_f2h, W_NONE)
DEFINE_SCALE(scale_f16_wf16, uint16_t, mlxn_h2f_fast, mlxn_f2h, W_F16)
DEFINE_SCALE(scale_f16_wf32, uint16_t, mlxn_h2f_fast, mlxn_f2h, W_F32)
DEFINE_SCALE(scale_bf16, uint16_t, mlxn_b2f, mlxn_f2b, W_NONE)
DEFINE_SCALE(scale_bf16_wbf16, uint16_t, mlxn_b2f, mlxn_f2b, W_BF16)
DEFINE_SCALE(scale_bf16_wf32, uint16_t, mlxn_b2f, mlxn_f2b, W_F32)
#endif

/* One row: the sum of squares over blocks (read pass), then the scale pass,
   which finds the row in cache. */
#define DEFINE_ROW(NAME, T, SUMSQ, SCALE)                                                   \
    static void NAME(const void *xv, void *yv, const void *w, int64_t dim, double div,     \
                     double eps) {                                                          \
        const T *x = (const T *)xv;                                                         \
        double ss = 0.0;                                                                    \
        for (int64_t i0 = 0; i0 < dim; i0 += BLOCK)                                         \
            ss += (double)SUMSQ(x + i0, dim - i0 < BLOCK ? dim - i0 : BLOCK);               \
        SCALE(x, (T *)yv, w, (float)(1.0 / sqrt(ss / div + eps)), dim);                     \
    }

DEFINE_ROW(row_f32, float, sumsq_f32, scale_f32)
DEFINE_ROW(row_f32_wf32, float, sumsq_f32, scale_f32_wf32)
DEFINE_ROW(row_f16, uint16_t, sumsq_f16, scale_f16)
DEFINE_ROW(row_f16_wf16, uint16_t, sumsq_f16, scale_f16_wf16)
DEFINE_ROW(row_f16_wf32, uint16_t, sumsq_f16, scale_f16_wf32)
DEFINE_ROW(row_bf16, uint16_t, sumsq_bf16, scale_bf16)
DEFINE_ROW(row_bf16_wbf16, uint16_t, sumsq_bf16, scale_bf16_wbf16)
DEFINE_ROW(row_bf16_wf32, uint16_t, sumsq_bf16, scale_bf16_wf32)

static row_fn pick(int dtype, int w_dtype) {
    const bool wf32 = w_dtype == MLXN_F32;
    switch (dtype) {
    case MLXN_F32: return w_dtype < 0 ? row_f32 : row_f32_wf32;
    case MLXN_F16: return w_dtype < 0 ? row_f16 : wf32 ? row_f16_wf32 : row_f16_wf16;
    case MLXN_BF16: return w_dtype < 0 ? row_bf16 : wf32 ? row_bf16_wf32 : row_bf16_wbf16;
    default: return NULL;
    }
}

/* div: the divisor of the sum of squares inside the root (dim for the mean
   of rms_norm, 1 for l2_norm). */
static int run(const mlxn_op_call *c, const void *w, double div) {
    const mlxn_norm_plan *np = &c->u.norm;
    row_fn fn = pick(np->dtype, np->w_dtype);
    if (!fn)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cpu backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)np->dtype));
    const char *x = (const char *)c->args[0].ptr;
    char *y = (char *)c->args[2].ptr;
    const int64_t rows = np->rows, dim = np->dim;
    const size_t rb = (size_t)dim * mlxn_dtype_size((mlxn_dtype)np->dtype);
    const double eps = (double)np->eps;
    const int nt = mlxn_cpu_threads();
    /* Waking the team costs a few microseconds: a decode-sized op (one
       4096-wide row) is done faster than that by one thread. */
    const bool par = nt > 1 && rows > 1 && rows * dim >= 16384;
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
    for (int64_t r = 0; r < rows; r++) fn(x + (size_t)r * rb, y + (size_t)r * rb, w, dim, div, eps);
    return MLXN_OK;
}

int mlxn_cpu_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return run(c, c->args[1].ptr, (double)c->u.norm.dim);
}

int mlxn_cpu_l2_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return run(c, NULL, 1.0);
}
