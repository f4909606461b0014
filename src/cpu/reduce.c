/* reduce.c (CPU) — argmax, cumsum and row_sum along the last dimension.
   Plan slots and argument order: src/ops/reduce.c.

   All three work in blocks of BLK elements converted (exactly) to f32 in a
   per-call stack buffer for f16/bf16 (f32 rows are read in place), so every
   inner loop is a plain f32 loop the compiler vectorizes.

   argmax   per block: a SIMD max (NaN never wins a `v > m` compare) and a
            NaN flag. A block whose max is strictly larger than the best so far
            becomes the best block (strict: ties keep the earlier block);
            at the end the best block is rescanned for its first element equal
            to the max: the lowest index among ties. The first block holding a
            NaN ends the row: its first NaN is the answer (numpy.argmax).
            One pass over the row plus one rescan of BLK elements.
   cumsum   per block: a local inclusive scan in f32 (AVX2: 8-lane
            in-register scan, 3 shuffles + adds, carried lane to lane; else
            sequential), then y = (float)(carry + local) with the carry — the
            sum of the previous blocks' f32 totals — kept in double. So f32
            accumulation chains are at most BLK long whatever n is (see
            tests/ops/reduce.c for the error bound this gives).
   row_sum  blocked: each block of BLK is summed in f32 by the SIMD reduction
            (8 or 16 lanes of <= BLK/8 sequential terms, then a lane tree),
            the block sums are added in double. Error ~ u * sqrt(BLK/8)
            relative to the block magnitudes, independent of n.

   Parallelism: OpenMP over rows. When there are fewer rows than threads and
   the rows are long (vocab argmax of one row, one 2M row sum), each row is
   cut into segments of whole blocks spread over the threads and the
   per-segment results are combined in segment order, so the result does
   not depend on the thread count for argmax (the earliest segment wins ties
   and NaNs); row_sum adds the same f32 block sums, only grouped per segment
   in double (a difference of ~1e-16 relative). cumsum
   stays one row per thread (a split scan needs two passes over the row). */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define BLK 1024          /* block of a row (4 KB of f32: L1 resident)           */
#define SPLIT_MIN 32768   /* rows at least this long are split when rows < threads */

/* The block [off, off + len) of x as f32: a pointer into x (f32) or into buf. */
static inline const float *block_f32(int dt, const void *x, int64_t off, int len, float *restrict buf) {
    if (dt == MLXN_F32) return (const float *)x + off;
    const uint16_t *restrict p = (const uint16_t *)x + off;
    if (dt == MLXN_F16) {
#pragma omp simd
        for (int i = 0; i < len; i++) buf[i] = mlxn_h2f_fast(p[i]);
    } else {
#pragma omp simd
        for (int i = 0; i < len; i++) buf[i] = mlxn_b2f(p[i]);
    }
    return buf;
}

static inline float load1(int dt, const void *x, int64_t i) {
    if (dt == MLXN_F32) return ((const float *)x)[i];
    if (dt == MLXN_F16) return mlxn_h2f(((const uint16_t *)x)[i]);
    return mlxn_b2f(((const uint16_t *)x)[i]);
}

static inline void store1(int dt, void *y, int64_t i, float v) {
    if (dt == MLXN_F32) ((float *)y)[i] = v;
    else if (dt == MLXN_F16) ((uint16_t *)y)[i] = mlxn_f2h(v);
    else ((uint16_t *)y)[i] = mlxn_f2b(v);
}

static int64_t imin64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Segments per row: 1, or (few long rows) enough to give every thread work,
   each of at least SPLIT_MIN/2 elements, cut at block boundaries. */
static int64_t segments_for(int64_t rows, int64_t n, int nt) {
    if (rows >= nt || n < SPLIT_MIN) return 1;
    int64_t want = (nt + rows - 1) / rows;
    int64_t most = n / (SPLIT_MIN / 2);
    return want < most ? want : most;
}

/* Segment s of nseg of a row of n: block-aligned [lo, hi). */
static void segment_range(int64_t n, int64_t s, int64_t nseg, int64_t *lo, int64_t *hi) {
    const int64_t nblk = (n + BLK - 1) / BLK;
    *lo = imin64(n, (nblk * s / nseg) * BLK);
    *hi = imin64(n, (nblk * (s + 1) / nseg) * BLK);
}

/* ---- argmax ----------------------------------------------------------------- */

typedef struct {
    float v;   /* the max (NaN when a NaN was found) */
    int64_t i; /* its first index; -1: empty range   */
} am_t;

/* argmax of row elements [lo, hi) of a row starting at x + off. */
static am_t argmax_range(int dt, const void *x, int64_t off, int64_t lo, int64_t hi, float *restrict buf) {
    am_t r = {-INFINITY, -1};
    float best = -INFINITY;
    int64_t best_blk = -1;
    for (int64_t b = lo; b < hi; b += BLK) {
        const int len = (int)imin64(BLK, hi - b);
        const float *restrict p = block_f32(dt, x, off + b, len, buf);
        float m = -INFINITY;
        int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
        for (int i = 0; i < len; i++) {
            const float v = p[i];
            m = v > m ? v : m;
            nan |= v != v;
        }
        if (nan) {
            /* the first NaN of the earliest NaN block wins the whole range */
            for (int i = 0; i < len; i++)
                if (p[i] != p[i]) {
                    r.v = p[i];
                    r.i = b + i;
                    return r;
                }
        }
        if (best_blk < 0 || m > best) {
            best = m;
            best_blk = b;
        }
    }
    if (best_blk < 0) return r;
    const int len = (int)imin64(BLK, hi - best_blk);
    const float *restrict p = block_f32(dt, x, off + best_blk, len, buf);
    for (int i = 0; i < len; i++)
        if (p[i] == best) {
            r.v = p[i];
            r.i = best_blk + i;
            break;
        }
    return r;
}

/* Merges a later range's result b into a: NaN first (earliest), then larger,
   ties to a (the earlier range, so the lower index). */
static void am_merge(am_t *a, am_t b) {
    if (b.i < 0) return;
    if (a->i < 0) {
        *a = b;
        return;
    }
    if (a->v != a->v) return;
    if (b.v != b.v || b.v > a->v) *a = b;
}

int mlxn_cpu_argmax(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0];
    const bool has_val = c->u.gen.d[1] != 0;
    const void *x = c->args[0].ptr;
    int32_t *idx = (int32_t *)c->args[1].ptr;
    float *val = has_val ? (float *)c->args[2].ptr : NULL;
    int nt = mlxn_cpu_threads();
    const int64_t nseg = segments_for(rows, n, nt);
    const int64_t units = rows * nseg;
    if ((int64_t)nt > units) nt = (int)units;
    if (nseg == 1) {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float buf[BLK];
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) {
                const am_t a = argmax_range(dt, x, r * n, 0, n, buf);
                idx[r] = (int32_t)a.i;
                if (val) val[r] = a.v;
            }
        }
        return MLXN_OK;
    }
    /* few long rows: one result per (row, segment), merged in order */
    am_t *part = malloc(sizeof(am_t) * (size_t)units);
    if (!part) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float buf[BLK];
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; u++) {
            int64_t lo, hi;
            segment_range(n, u % nseg, nseg, &lo, &hi);
            part[u] = argmax_range(dt, x, (u / nseg) * n, lo, hi, buf);
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        am_t a = part[r * nseg];
        for (int64_t s = 1; s < nseg; s++) am_merge(&a, part[r * nseg + s]);
        idx[r] = (int32_t)a.i;
        if (val) val[r] = a.v;
    }
    free(part);
    return MLXN_OK;
}

/* ---- cumsum ------------------------------------------------------------------ */

/* s[0] = 0, s[k + 1] = x[0] + ... + x[k] in f32, for k < len; returns s[len].
   AVX2: 8 elements per step, scanned in-register (log2 steps) and offset by
   the running total broadcast from the previous step's last lane. */
static float scan_block(const float *restrict x, int len, float *restrict s) {
    s[0] = 0.0f;
    int k = 0;
#if defined(__AVX2__)
    __m256 run = _mm256_setzero_ps();
    const __m256i last = _mm256_set1_epi32(7);
    for (; k + 8 <= len; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        /* within each 128-bit half: v += v shifted by 1 lane, then by 2 */
        v = _mm256_add_ps(v, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(v), 4)));
        v = _mm256_add_ps(v, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(v), 8)));
        /* the low half's total (its lane 3) added to every lane of the high half */
        const __m256 t = _mm256_shuffle_ps(v, v, _MM_SHUFFLE(3, 3, 3, 3));
        v = _mm256_add_ps(v, _mm256_permute2f128_ps(t, t, 0x08));
        v = _mm256_add_ps(v, run);
        _mm256_storeu_ps(s + k + 1, v);
        run = _mm256_permutevar8x32_ps(v, last);
    }
    float acc = k ? s[k] : 0.0f;
#else
    float acc = 0.0f;
#endif
    for (; k < len; k++) {
        acc += x[k];
        s[k + 1] = acc;
    }
    return acc;
}

int mlxn_cpu_cumsum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0];
    const bool excl = c->u.gen.d[1] != 0, rev = c->u.gen.d[2] != 0;
    const void *x = c->args[0].ptr;
    void *y = c->args[1].ptr;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > rows) nt = (int)rows;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* in: the block in scan order; s: its local prefix sums (s[0] = 0) */
        float in[BLK], s[BLK + 1];
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            double carry = 0.0;
            for (int64_t b = 0; b < n; b += BLK) {
                const int len = (int)imin64(BLK, n - b);
                /* forward: elements r*n + b + k; reverse: r*n + n-1 - (b + k) */
                if (!rev) {
                    const float *p = block_f32(dt, x, r * n + b, len, in);
                    if (p != in) memcpy(in, p, sizeof(float) * (size_t)len);
                } else {
                    const int64_t base = r * n + n - b - len; /* physical start of the block */
                    float tmp[BLK];
                    const float *p = block_f32(dt, x, base, len, tmp);
                    for (int k = 0; k < len; k++) in[k] = p[len - 1 - k];
                }
                const float tot = scan_block(in, len, s);
                /* inclusive: s[k + 1]; exclusive: s[k] (the sum before k) */
                const float *restrict src = excl ? s : s + 1;
                float out[BLK];
#pragma omp simd
                for (int k = 0; k < len; k++) out[k] = (float)(carry + (double)src[k]);
                if (!rev) {
                    if (dt == MLXN_F32) memcpy((float *)y + r * n + b, out, sizeof(float) * (size_t)len);
                    else
                        for (int k = 0; k < len; k++) store1(dt, y, r * n + b + k, out[k]);
                } else {
                    const int64_t last = r * n + n - 1 - b;
                    for (int k = 0; k < len; k++) store1(dt, y, last - k, out[k]);
                }
                carry += (double)tot;
            }
        }
    }
    return MLXN_OK;
}

/* ---- row_sum ----------------------------------------------------------------- */

/* Sum of row elements [lo, hi): f32 per block, blocks in double. */
static double sum_range(int dt, const void *x, int64_t off, int64_t lo, int64_t hi, float *restrict buf) {
    double total = 0.0;
    for (int64_t b = lo; b < hi; b += BLK) {
        const int len = (int)imin64(BLK, hi - b);
        const float *restrict p = block_f32(dt, x, off + b, len, buf);
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < len; i++) s += p[i];
        total += (double)s;
    }
    return total;
}

int mlxn_cpu_row_sum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0], ydt = c->u.gen.d[1];
    const void *x = c->args[0].ptr;
    void *y = c->args[1].ptr;
    int nt = mlxn_cpu_threads();
    const int64_t nseg = segments_for(rows, n, nt);
    const int64_t units = rows * nseg;
    if ((int64_t)nt > units) nt = (int)units;
    if (nseg == 1) {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float buf[BLK];
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) store1(ydt, y, r, (float)sum_range(dt, x, r * n, 0, n, buf));
        }
        return MLXN_OK;
    }
    double *part = malloc(sizeof(double) * (size_t)units);
    if (!part) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float buf[BLK];
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; u++) {
            int64_t lo, hi;
            segment_range(n, u % nseg, nseg, &lo, &hi);
            part[u] = sum_range(dt, x, (u / nseg) * n, lo, hi, buf);
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        double t = 0.0;
        for (int64_t s = 0; s < nseg; s++) t += part[r * nseg + s];
        store1(ydt, y, r, (float)t);
    }
    free(part);
    return MLXN_OK;
}
