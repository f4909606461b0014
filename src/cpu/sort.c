/* sort.c (CPU) — argsort and top_k along the last dimension.
   Plan slots and argument order: src/ops/sort.c; the order: mlxn.h.

   Keys. Every element becomes an unsigned key whose integer order is the
   contract's value order: the float bits with the sign bit flipped for
   positives and all bits flipped for negatives (the classic radix-sort
   mapping), after mapping -0 to +0 and every NaN to the all-ones key (larger
   than +inf's). f32 gives 32-bit keys; f16 and bf16 give 16-bit keys from
   their own bits (no conversion). Descending order uses the complement key,
   so both orders are an ascending sort. The sort entry of element j is the
   u64 (key << 32) | j: all entries of a row are distinct, and ascending u64
   order is exactly "by key, ties by lower index". Every result is therefore
   unique, and any correct sort of the entries gives it bit for bit.

   argsort  one row per thread: an LSD radix sort of the entries on the key
            bits only (8-bit digits: 4 passes for f32, 2 for f16/bf16; all
            histograms in one read pass; a pass whose digit is the same for
            every entry is skipped). LSD radix is stable and the entries start
            in index order, so ties stay in index order. Rows of <= 32 use
            insertion sort on the u64 entries; f32 rows of >= 65536 use
            11/11/10-bit digits (3 passes).
   top_k    the k smallest entries by a bounded max-heap over the row, then
            the k sorted. The row is scanned in blocks of 64 whose keys are
            computed in SIMD; a block whose smallest key is not below the
            heap top's key is skipped whole (after warm-up almost every
            block: ~0.3 ns per element for a vocab row).
            When 8k >= n the row is argsorted instead. When there are fewer
            rows than threads and the rows are long, each row is cut into
            segments whose heaps are merged (the k smallest of the union of
            the segments' k smallest is the k smallest of the row).

   Scratch: per-thread host arrays (malloc), so the CPU workspace size is 0. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_MIN 65536 /* top_k rows at least this long are split when rows < threads */

static inline uint32_t key_f32_bits(uint32_t b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu; /* NaN: largest */
    if (b == 0x80000000u) b = 0;                             /* -0 == +0 */
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static inline uint32_t key_16(uint16_t h, uint16_t inf_bits) {
    if ((h & 0x7fffu) > inf_bits) return 0xffffu;
    if (h == 0x8000u) h = 0;
    return (h & 0x8000u) ? (uint16_t)~h : (uint16_t)(h | 0x8000u);
}

/* Key of element i of x (dtype dt), complemented (within its width) when desc. */
static inline uint32_t key_at(int dt, const void *x, int64_t i, bool desc) {
    if (dt == MLXN_F32) {
        uint32_t b;
        memcpy(&b, (const char *)x + 4 * i, 4);
        const uint32_t k = key_f32_bits(b);
        return desc ? ~k : k;
    }
    const uint16_t h = ((const uint16_t *)x)[i];
    const uint32_t k = key_16(h, dt == MLXN_F16 ? 0x7c00u : 0x7f80u);
    return desc ? (~k & 0xffffu) : k;
}

static void keys_block(int dt, const void *x, int64_t i0, bool desc, uint32_t *restrict kb, int len);

static void insertion_sort(uint64_t *a, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        const uint64_t v = a[i];
        int64_t j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Sorts a[0..n) ascending by bits [32, 32 + kbits) (kbits 16 or 32), stably;
   tmp has room for n. Returns the array holding the result (a or tmp).
   Digits: 8 bits, or for 32-bit keys of long rows 11 + 11 + 10 bits (three
   scatter passes instead of four; 2048 buckets only pay off for long rows). */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, int64_t n, int kbits) {
    if (n <= 32) {
        insertion_sort(a, n);
        return a;
    }
    int width[4], passes;
    if (kbits == 32 && n >= 65536) {
        passes = 3;
        width[0] = 11;
        width[1] = 11;
        width[2] = 10;
    } else {
        passes = kbits / 8;
        for (int p = 0; p < passes; p++) width[p] = 8;
    }
    int shift[4];
    for (int p = 0, at = 0; p < passes; at += width[p], p++) shift[p] = 32 + at;
    int64_t hist[4][2048];
    for (int p = 0; p < passes; p++) memset(hist[p], 0, sizeof(int64_t) * ((size_t)1 << width[p]));
    for (int64_t i = 0; i < n; i++) {
        const uint64_t v = a[i];
        for (int p = 0; p < passes; p++) hist[p][(v >> shift[p]) & ((1u << width[p]) - 1u)]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int p = 0; p < passes; p++) {
        int64_t *h = hist[p];
        const int nb = 1 << width[p];
        const uint64_t mask = (uint64_t)nb - 1u;
        bool trivial = false;
        for (int b = 0; b < nb; b++)
            if (h[b] == n) trivial = true;
        if (trivial) continue;
        int64_t sum = 0;
        for (int b = 0; b < nb; b++) {
            const int64_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        const int sh = shift[p];
        for (int64_t i = 0; i < n; i++) {
            const uint64_t v = src[i];
            dst[h[(v >> sh) & mask]++] = v;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* The sorted entries of row r into a (tmp: scratch); returns where they are. */
static uint64_t *sort_row(int dt, const void *x, int64_t r, int64_t n, bool desc, uint64_t *a, uint64_t *tmp) {
    const int64_t off = r * n;
    uint32_t kb[256];
    for (int64_t j0 = 0; j0 < n; j0 += 256) {
        const int len = n - j0 < 256 ? (int)(n - j0) : 256;
        keys_block(dt, x, off + j0, desc, kb, len);
        for (int i = 0; i < len; i++) a[j0 + i] = ((uint64_t)kb[i] << 32) | (uint64_t)(j0 + i);
    }
    return radix_sort(a, tmp, n, dt == MLXN_F32 ? 32 : 16);
}

static int oom(const mlxn_op_call *c) {
    return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
}

int mlxn_cpu_argsort(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0];
    const bool desc = c->u.gen.d[1] == 0;
    const void *x = c->args[0].ptr;
    int32_t *idx = (int32_t *)c->args[1].ptr;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > rows) nt = (int)rows;
    if ((uint64_t)n > SIZE_MAX / 16 / (uint64_t)nt) return oom(c);
    uint64_t *scratch = malloc((size_t)n * 16 * (size_t)nt);
    if (!scratch) return oom(c);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        uint64_t *a = scratch + (size_t)omp_get_thread_num() * 2 * (size_t)n, *tmp = a + n;
#pragma omp for schedule(dynamic, 1)
        for (int64_t r = 0; r < rows; r++) {
            const uint64_t *s = sort_row(dt, x, r, n, desc, a, tmp);
            int32_t *o = idx + r * n;
            for (int64_t j = 0; j < n; j++) o[j] = (int32_t)(uint32_t)s[j];
        }
    }
    free(scratch);
    return MLXN_OK;
}

/* ---- top_k ------------------------------------------------------------------ */

static inline void sift_down(uint64_t *h, int k, int i) {
    const uint64_t v = h[i];
    for (;;) {
        int ch = 2 * i + 1;
        if (ch >= k) break;
        if (ch + 1 < k && h[ch + 1] > h[ch]) ch++;
        if (h[ch] <= v) break;
        h[i] = h[ch];
        i = ch;
    }
    h[i] = v;
}

/* Keys of len elements from element i0 of x into kb (branch-free, vectorizable). */
static void keys_block(int dt, const void *x, int64_t i0, bool desc, uint32_t *restrict kb, int len) {
    const uint32_t flip = desc ? 0xffffffffu : 0u;
    if (dt == MLXN_F32) {
        const uint32_t *restrict p = (const uint32_t *)x + i0;
#pragma omp simd
        for (int i = 0; i < len; i++) {
            uint32_t b = p[i];
            const bool nan = (b & 0x7fffffffu) > 0x7f800000u;
            b = b == 0x80000000u ? 0u : b;
            uint32_t k = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
            k = nan ? 0xffffffffu : k;
            kb[i] = k ^ flip;
        }
        return;
    }
    const uint16_t *restrict p = (const uint16_t *)x + i0;
    const uint32_t inf = dt == MLXN_F16 ? 0x7c00u : 0x7f80u, flip16 = flip & 0xffffu;
#pragma omp simd
    for (int i = 0; i < len; i++) {
        uint32_t h = p[i];
        const bool nan = (h & 0x7fffu) > inf;
        h = h == 0x8000u ? 0u : h;
        uint32_t k = (h & 0x8000u) ? (~h & 0xffffu) : (h | 0x8000u);
        k = nan ? 0xffffu : k;
        kb[i] = k ^ flip16;
    }
}

/* A max-heap h[0..k) sorted ascending in place. */
static void heap_sort(uint64_t *h, int k) {
    for (int i = k - 1; i > 0; i--) {
        const uint64_t t = h[0];
        h[0] = h[i];
        h[i] = t;
        sift_down(h, i, 0);
    }
}

/* The k smallest entries of row elements [lo, hi) (hi - lo >= k) into h[0..k),
   unordered (a max-heap). */
static void heap_select(int dt, const void *x, int64_t off, int64_t lo, int64_t hi, bool desc, int k, uint64_t *h) {
    for (int i = 0; i < k; i++) h[i] = ((uint64_t)key_at(dt, x, off + lo + i, desc) << 32) | (uint64_t)(lo + i);
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
    uint64_t top = h[0];
    int64_t j = lo + k;
    /* blocks of 64: keys computed in SIMD; a block whose smallest key is >=
       the heap top's key is skipped whole (every heap entry has a lower
       index than the block's, so an equal key loses the tie) */
    uint32_t kb[64];
    for (; j + 64 <= hi; j += 64) {
        keys_block(dt, x, off + j, desc, kb, 64);
        uint32_t mn = 0xffffffffu;
#pragma omp simd reduction(min : mn)
        for (int i = 0; i < 64; i++) mn = kb[i] < mn ? kb[i] : mn;
        if (mn >= (uint32_t)(top >> 32)) continue;
        for (int i = 0; i < 64; i++) {
            const uint64_t e = ((uint64_t)kb[i] << 32) | (uint64_t)(j + i);
            if (e < top) {
                h[0] = e;
                sift_down(h, k, 0);
                top = h[0];
            }
        }
    }
    for (; j < hi; j++) {
        const uint64_t e = ((uint64_t)key_at(dt, x, off + j, desc) << 32) | (uint64_t)j;
        if (e < top) {
            h[0] = e;
            sift_down(h, k, 0);
            top = h[0];
        }
    }
}

static void write_row(const mlxn_op_call *c, int64_t r, const uint64_t *s, int k) {
    const int64_t n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0], vdt = c->u.gen.d[1];
    int32_t *idx = (int32_t *)c->args[1].ptr + r * k;
    for (int j = 0; j < k; j++) idx[j] = (int32_t)(uint32_t)s[j];
    if (vdt < 0) return;
    const void *x = c->args[0].ptr;
    void *val = c->args[2].ptr;
    for (int j = 0; j < k; j++) {
        const int64_t src = r * n + (int64_t)(uint32_t)s[j], dsti = r * k + j;
        if (dt == MLXN_F32) memcpy((float *)val + dsti, (const float *)x + src, 4);
        else if (vdt == dt) ((uint16_t *)val)[dsti] = ((const uint16_t *)x)[src];
        else {
            const uint16_t h = ((const uint16_t *)x)[src];
            ((float *)val)[dsti] = dt == MLXN_F16 ? mlxn_h2f(h) : mlxn_b2f(h);
        }
    }
}

int mlxn_cpu_top_k(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int k = (int)c->u.gen.i[3];
    const int dt = c->u.gen.d[0];
    const void *x = c->args[0].ptr;
    int nt = mlxn_cpu_threads();
    const bool full = 8 * (int64_t)k >= n;
    /* segments per row: few long rows are split over the threads */
    int64_t nseg = 1;
    if (!full && rows < nt && n >= SPLIT_MIN) {
        nseg = (nt + rows - 1) / rows;
        const int64_t most = n / (8 * (int64_t)k); /* each segment >= 8k long */
        if (nseg > most) nseg = most;
        if (nseg < 1) nseg = 1;
    }
    const int64_t units = rows * nseg;
    if ((int64_t)nt > units) nt = (int)units;
    /* per thread: full sort 2n entries; heap: k entries */
    const size_t per = full ? 2 * (size_t)n : (size_t)k;
    if (per > SIZE_MAX / 8 / (size_t)nt) return oom(c);
    uint64_t *scratch = malloc(per * 8 * (size_t)nt);
    if (!scratch) return oom(c);
    if (nseg == 1) {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            uint64_t *a = scratch + (size_t)omp_get_thread_num() * per;
#pragma omp for schedule(dynamic, 1)
            for (int64_t r = 0; r < rows; r++) {
                if (full) {
                    write_row(c, r, sort_row(dt, x, r, n, true, a, a + n), k);
                } else {
                    heap_select(dt, x, r * n, 0, n, true, k, a);
                    heap_sort(a, k);
                    write_row(c, r, a, k);
                }
            }
        }
        free(scratch);
        return MLXN_OK;
    }
    /* few long rows: each (row, segment) keeps its k smallest, merged per row */
    uint64_t *part = malloc(sizeof(uint64_t) * (size_t)units * (size_t)k);
    if (!part) {
        free(scratch);
        return oom(c);
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t u = 0; u < units; u++) {
        const int64_t r = u / nseg, s = u % nseg;
        const int64_t lo = n * s / nseg, hi = n * (s + 1) / nseg;
        heap_select(dt, x, r * n, lo, hi, true, k, part + u * k);
    }
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *cand = part + r * nseg * k;
        const int64_t m = nseg * k;
        /* the k smallest of the m candidates: heap over them, then sort */
        uint64_t *h = scratch;
        for (int i = 0; i < k; i++) h[i] = cand[i];
        for (int i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
        for (int64_t j = k; j < m; j++)
            if (cand[j] < h[0]) {
                h[0] = cand[j];
                sift_down(h, k, 0);
            }
        heap_sort(h, k);
        write_row(c, r, h, k);
    }
    free(part);
    free(scratch);
    return MLXN_OK;
}

int mlxn_cpu_sort_workspace(void *dev, const mlxn_op_call *c, size_t *bytes) {
    (void)dev;
    (void)c;
    *bytes = 0;
    return MLXN_OK;
}
