/* ref_layout.h — references of the layout family, written from the contracts
   in include/mlxn.h (no code shared with src/). The pure copies work on raw
   bytes (any element size), so a test can compare bit for bit; the ops that
   convert work on float64 values that the caller rounds to the output dtype. */
#ifndef MLXN_REF_LAYOUT_H
#define MLXN_REF_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* y[i, :] = table[ids[i], :] * scale, the product taken in f32 (as the
   contract's f32 arithmetic does; exact in double, then rounded to f32);
   an id outside [0, n_rows) gives a row of zeros. */
void ref_gather_rows(const double *table, int64_t n_rows, int64_t dim, const int64_t *ids, int64_t n, double scale,
                     double *y);

/* y = x with axes permuted (y.shape[i] = shape[perm[i]]), es-byte elements. */
void ref_permute(const void *x, void *y, size_t es, int ndim, const int64_t *shape, const int *perm);

/* dst[r*ds + dc + c] = src[r*ss + sc + c] for r < rows, c < cols. */
void ref_copy_2d(const void *src, void *dst, size_t es, int64_t rows, int64_t cols, int64_t ss, int64_t sc, int64_t ds,
                 int64_t dc);

/* x [T, Hg, D] -> y [T, H, D]: head h reads x head h % Hg (tiled) or h / (H/Hg) (interleaved). */
void ref_repeat_heads(const void *x, void *y, size_t es, int64_t T, int64_t Hg, int64_t H, int64_t D, int interleaved);

/* cache[h, slot(t), :] = src[t, h, :] with slot(t) = pos + t (linear) or
   (pos + t) mod cap (sliding); other slots keep their values. */
void ref_kv_cache_write(const double *src, double *cache, int64_t T, int64_t H, int64_t D, int64_t cap, uint32_t pos,
                        int sliding);

#endif
