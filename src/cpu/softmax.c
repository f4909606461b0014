/* softmax.c (CPU) — row softmax: z = x*scale, softcap, + mask row r % mask_rows,
   y = exp(z - max z) / sum, in f32, rounded once to the output dtype.

   Rows are spread over OpenMP threads. A row of up to ROWBUF columns is
   turned into z once (in a per-thread f32 buffer that stays in L2), then
   max, exp+sum and the scaled store run over that buffer: x is read once and
   y written once. Longer rows are streamed in CHUNK pieces with an online
   max/sum (the running sum is rescaled when the max grows), then a second
   pass recomputes z and writes: two reads of x, no buffer of the row's size.

   Every inner loop is a plain loop over f32 arrays that the compiler
   vectorizes (omp simd); exp and tanh are written branch-free for that
   (libm's are scalar calls). */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define ROWBUF 32768 /* columns a row may have to be kept whole (128 KB of f32) */
#define CHUNK 4096   /* piece of a longer row (16 KB, L1/L2 resident)          */

/* exp(x) for x <= 0 (softmax only ever takes exp(z - max)), vectorizable.
   x = k ln2 + r with k = rint(x/ln2), |r| <= ln2/2, using a two-part ln2
   (Cody-Waite: k*LN2_HI is exact for |k| < 2^12, so r carries only the
   rounding of LN2_LO's product); exp(r) = 1 + r + r^2 P(r), P the degree-5
   minimax fit of Cephes' expf (relative error of the fit ~1e-7 on
   |r| <= 0.3466); the result is 2^k * exp(r) with 2^k built in the exponent
   bits. Measured through the op (tests/ops/softmax.c, "expf_ulp" cases,
   every r in range and k from -126 to -25): 0.97 ulp max (CUDA's expf: 2).
   x < ln(FLT_MIN) = -87.34 returns 0: the true value is below 1.2e-38 and
   softmax outputs are divided by a sum >= 1, so the absolute error is at
   most 1.2e-38. -inf gives 0 and NaN stays NaN (the clamps compare with <
   and >, which keep NaN, and NaN survives the polynomial and the scaling). */
static inline float sm_exp(float x) {
    const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    const float MAGIC = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x < -87.3365447f ? -87.3365447f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    float t = xc * LOG2E + MAGIC;
    float k = t - MAGIC;
    float r = xc - k * LN2_HI;
    r = r - k * LN2_LO;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* k is an integer in [-126, 127]: 2^k = (k + 127) << 23 as float bits */
    int32_t ki = (int32_t)k;
    uint32_t bits = (uint32_t)(ki + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, 4);
    float res = p * two_k;
    /* below the clamp: exact 0 (the clamped value would give FLT_MIN) */
    return x < -87.3365447f ? 0.0f : res;
}

/* tanh(t), vectorizable, <= ~3 ulp: for |t| < 0.625 an odd polynomial
   t*Q(t^2) (least-squares fit of tanh(t)/t, max 1.22 ulp measured in f32);
   above, 1 - 2/(exp(2|t|) + 1) where tanh >= 0.55 so the subtraction loses
   at most one bit. exp(2|t|) is capped at 2^44 (tanh is 1 to f32 long before). */
static inline float sm_tanh(float t) {
    float a = fabsf(t);
    float s = t * t;
    float q = 0.002125637838616967f;
    q = q * s - 0.008155734278261662f;
    q = q * s + 0.021690327674150467f;
    q = q * s - 0.05394439399242401f;
    q = q * s + 0.1333318054676056f;
    q = q * s - 0.333333283662796f;
    q = q * s + 1.0f;
    float small = t * q;
    float a2 = a > 15.0f ? 15.0f : a;
    float e = sm_exp(-2.0f * a2); /* exp(-2|t|) in (0, 1]: 1 - 2e/(1+e) */
    float big = 1.0f - 2.0f * e / (1.0f + e);
    big = t < 0.0f ? -big : big;
    return a < 0.625f ? small : big;
}

typedef struct {
    const mlxn_softmax_plan *sp;
    const void *x, *mask;
    void *y;
} sm_args;

/* z[i] = x[off + i] * scale for n elements. */
static inline void load_scaled(int dt, const void *x, int64_t off, int n, float scale, float *restrict z) {
    if (dt == MLXN_F32) {
        const float *restrict p = (const float *)x + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] = p[i] * scale;
    } else if (dt == MLXN_F16) {
        const uint16_t *restrict p = (const uint16_t *)x + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] = mlxn_h2f_fast(p[i]) * scale;
    } else {
        const uint16_t *restrict p = (const uint16_t *)x + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] = mlxn_b2f(p[i]) * scale;
    }
}

static inline void add_mask(int dt, const void *m, int64_t off, int n, float *restrict z) {
    if (dt == MLXN_F32) {
        const float *restrict p = (const float *)m + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] += p[i];
    } else if (dt == MLXN_F16) {
        const uint16_t *restrict p = (const uint16_t *)m + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] += mlxn_h2f_fast(p[i]);
    } else {
        const uint16_t *restrict p = (const uint16_t *)m + off;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] += mlxn_b2f(p[i]);
    }
}

/* z for columns [j0, j0 + n) of row r; returns their max (NaN ignored, as
   fmaxf: a NaN reaches the sum through exp instead). */
static float make_z(const sm_args *a, int64_t r, int64_t j0, int n, float *restrict z) {
    const mlxn_softmax_plan *sp = a->sp;
    load_scaled(sp->dtype, a->x, r * sp->cols + j0, n, sp->scale, z);
    if (sp->softcap > 0.0f) {
        const float c = sp->softcap, ic = 1.0f / sp->softcap;
#pragma omp simd
        for (int i = 0; i < n; i++) z[i] = c * sm_tanh(z[i] * ic);
    }
    if (sp->mask_rows) add_mask(sp->mask_dtype, a->mask, (r % sp->mask_rows) * sp->cols + j0, n, z);
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int i = 0; i < n; i++) m = z[i] > m ? z[i] : m;
    return m;
}

/* z[i] = exp(z[i] - m); returns the sum. Blocks of 256 are summed in f32
   (8 lanes x 32 terms: relative error ~1e-7) and the blocks in double, so a
   row of 10^5 terms keeps f32 accuracy instead of growing sqrt(n) * u. */
static double exp_sum(float *restrict z, int n, float m) {
    double total = 0.0;
    for (int b = 0; b < n; b += 256) {
        const int e = n - b < 256 ? n : b + 256;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = b; i < e; i++) {
            float v = sm_exp(z[i] - m);
            z[i] = v;
            s += v;
        }
        total += (double)s;
    }
    return total;
}

/* y[off + i] = z[i] * inv, rounded once to the dtype. */
static void store_scaled(int dt, void *y, int64_t off, int n, const float *restrict z, float inv, bool stream) {
    if (dt == MLXN_F32) {
        float *restrict p = (float *)y + off;
#if defined(__AVX2__)
        /* streaming stores skip the read-for-ownership of y when the op's
           data exceed the cache (y would be evicted before use anyway) */
        if (stream && ((uintptr_t)p % 32) == 0) {
            const __m256 vi = _mm256_set1_ps(inv);
            int i = 0;
            for (; i + 8 <= n; i += 8) _mm256_stream_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(z + i), vi));
            for (; i < n; i++) p[i] = z[i] * inv;
            return;
        }
#else
        (void)stream;
#endif
#pragma omp simd
        for (int i = 0; i < n; i++) p[i] = z[i] * inv;
    } else if (dt == MLXN_F16) {
        uint16_t *restrict p = (uint16_t *)y + off;
#pragma omp simd
        for (int i = 0; i < n; i++) p[i] = mlxn_f2h(z[i] * inv);
    } else {
        uint16_t *restrict p = (uint16_t *)y + off;
#pragma omp simd
        for (int i = 0; i < n; i++) p[i] = mlxn_f2b(z[i] * inv);
    }
}

/* A row whose max is -inf: every z is -inf or NaN. All -inf gives zeros (the
   contract); any NaN gives NaN, as exp(NaN) would in a finite row. */
static void degenerate_row(const sm_args *a, int64_t r, float *z) {
    const mlxn_softmax_plan *sp = a->sp;
    bool nan = false;
    for (int64_t j0 = 0; j0 < sp->cols && !nan; j0 += CHUNK) {
        int n = (int)(sp->cols - j0 < CHUNK ? sp->cols - j0 : CHUNK);
        make_z(a, r, j0, n, z);
        for (int i = 0; i < n; i++) nan |= z[i] != z[i];
    }
    const float v = nan ? NAN : 0.0f;
    for (int i = 0; i < CHUNK; i++) z[i] = v;
    for (int64_t j0 = 0; j0 < sp->cols; j0 += CHUNK) {
        int n = (int)(sp->cols - j0 < CHUNK ? sp->cols - j0 : CHUNK);
        store_scaled(sp->dtype, a->y, r * sp->cols + j0, n, z, 1.0f, false);
    }
}

static void row_whole(const sm_args *a, int64_t r, float *z, bool stream) {
    const mlxn_softmax_plan *sp = a->sp;
    const int n = (int)sp->cols;
    const float m = make_z(a, r, 0, n, z);
    if (m == -INFINITY) {
        degenerate_row(a, r, z);
        return;
    }
    const double s = exp_sum(z, n, m);
    store_scaled(sp->dtype, a->y, r * sp->cols, n, z, (float)(1.0 / s), stream);
}

/* Long rows: online max/sum over chunks, then recompute and write. The sum
   is carried in double across chunks (hundreds of thousands of terms). */
static void row_streamed(const sm_args *a, int64_t r, float *z, bool stream) {
    const mlxn_softmax_plan *sp = a->sp;
    const int64_t cols = sp->cols;
    float m = -INFINITY;
    double s = 0.0;
    for (int64_t j0 = 0; j0 < cols; j0 += CHUNK) {
        const int n = (int)(cols - j0 < CHUNK ? cols - j0 : CHUNK);
        const float mc = make_z(a, r, j0, n, z);
        if (mc > m) {
            if (m != -INFINITY) s *= exp((double)m - (double)mc);
            m = mc;
        }
        if (m != -INFINITY) s += exp_sum(z, n, m);
    }
    if (m == -INFINITY) {
        degenerate_row(a, r, z);
        return;
    }
    const float inv = (float)(1.0 / s);
    for (int64_t j0 = 0; j0 < cols; j0 += CHUNK) {
        const int n = (int)(cols - j0 < CHUNK ? cols - j0 : CHUNK);
        make_z(a, r, j0, n, z);
        exp_sum(z, n, m);
        store_scaled(sp->dtype, a->y, r * cols + j0, n, z, inv, stream);
    }
}

int mlxn_cpu_softmax(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const mlxn_softmax_plan *sp = &c->u.softmax;
    sm_args a = {sp, c->args[0].ptr, c->args[1].ptr, c->args[2].ptr};
    const int64_t rows = sp->rows;
    const bool whole = sp->cols <= ROWBUF;
    const size_t zlen = whole ? (size_t)sp->cols : CHUNK;
    static size_t llc = 0;
    if (!llc) {
        long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        llc = v > 0 ? (size_t)v : ((size_t)32 << 20);
    }
    /* stream only when x + y exceed the last-level cache and y is not x (in
       place, the row was just read into the cache anyway) */
    const bool stream = c->args[0].nbytes + c->args[2].nbytes > llc && a.x != a.y;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > rows) nt = (int)rows;
    /* every thread's buffer is allocated before any row is written, so a
       failure leaves y untouched */
    /* >= CHUNK (degenerate_row fills CHUNK), a multiple of 16 floats so every
       thread's buffer starts on a 64-byte line (no false sharing, aligned loads) */
    const size_t len = ((zlen > CHUNK ? zlen : CHUNK) + 15) / 16 * 16;
    float *zall = aligned_alloc(64, ((size_t)nt * len * sizeof(float) + 63) / 64 * 64);
    if (!zall) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory for row buffers", c->name);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *z = zall + (size_t)omp_get_thread_num() * len;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (whole) row_whole(&a, r, z, stream);
            else row_streamed(&a, r, z, stream);
        }
    }
#if defined(__AVX2__)
    if (stream) _mm_sfence(); /* streaming stores are weakly ordered */
#endif
    free(zall);
    return MLXN_OK;
}
