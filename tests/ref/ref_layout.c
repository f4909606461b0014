/* ref_layout.c — references of the layout family: plain nested loops over the
   index formulas of include/mlxn.h, nothing clever, so that they are easy to
   check by reading. */
#include "ref/ref_layout.h"

#include <string.h>

void ref_gather_rows(const double *table, int64_t n_rows, int64_t dim, const int64_t *ids, int64_t n, double scale,
                     double *y) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < dim; k++)
            y[i * dim + k] = ids[i] < 0 || ids[i] >= n_rows ? 0.0 : (double)(float)(table[ids[i] * dim + k] * scale);
}

void ref_permute(const void *x, void *y, size_t es, int ndim, const int64_t *shape, const int *perm) {
    int64_t xstride[8], yshape[8], n = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        xstride[i] = n;
        n *= shape[i];
    }
    for (int i = 0; i < ndim; i++) yshape[i] = shape[perm[i]];
    for (int64_t o = 0; o < n; o++) {
        /* y index of flat o, then the x element it comes from */
        int64_t rem = o, xo = 0;
        for (int i = ndim - 1; i >= 0; i--) {
            const int64_t idx = rem % yshape[i];
            rem /= yshape[i];
            xo += idx * xstride[perm[i]];
        }
        memcpy((char *)y + (size_t)o * es, (const char *)x + (size_t)xo * es, es);
    }
}

void ref_copy_2d(const void *src, void *dst, size_t es, int64_t rows, int64_t cols, int64_t ss, int64_t sc, int64_t ds,
                 int64_t dc) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            memcpy((char *)dst + (size_t)(r * ds + dc + c) * es, (const char *)src + (size_t)(r * ss + sc + c) * es, es);
}

void ref_repeat_heads(const void *x, void *y, size_t es, int64_t T, int64_t Hg, int64_t H, int64_t D, int interleaved) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t g = interleaved ? h / (H / Hg) : h % Hg;
            for (int64_t d = 0; d < D; d++)
                memcpy((char *)y + (size_t)((t * H + h) * D + d) * es, (const char *)x + (size_t)((t * Hg + g) * D + d) * es,
                       es);
        }
}

void ref_kv_cache_write(const double *src, double *cache, int64_t T, int64_t H, int64_t D, int64_t cap, uint32_t pos,
                        int sliding) {
    for (int64_t t = 0; t < T; t++) {
        const int64_t slot = sliding ? (int64_t)(((uint64_t)pos + (uint64_t)t) % (uint64_t)cap) : (int64_t)pos + t;
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < D; d++) cache[(h * cap + slot) * D + d] = src[(t * H + h) * D + d];
    }
}
