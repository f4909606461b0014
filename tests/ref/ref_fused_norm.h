/* ref_fused_norm.h — float64 reference implementations of the fused-norm
   family, written from the math in include/mlxn.h ("Fused norms"), sharing
   no code with the library. Inputs and outputs are double arrays of
   rows * dim values; w: NULL (no weight) or [dim]. */
#ifndef MLXN_REF_FUSED_NORM_H
#define MLXN_REF_FUSED_NORM_H

#include <stdint.h>

/* s = a + b; y = s / sqrt(mean(s^2) + eps) * w; sum (if not NULL) = s. */
void ref_add_rms_norm(const double *a, const double *b, const double *w, double *y, double *sum, int64_t rows,
                      int64_t dim, double eps);

/* y = (res + x / sqrt(mean(x^2) + eps) * w) * scale. */
void ref_rms_norm_add(const double *x, const double *w, const double *res, double *y, int64_t rows, int64_t dim,
                      double eps, double scale);

/* y = x / sqrt(mean(x^2) + eps) * w * z / (1 + exp(-z)). */
void ref_rms_norm_gate(const double *x, const double *w, const double *z, double *y, int64_t rows, int64_t dim,
                       double eps);

/* [fused_norm2] */
/* m_form: 0 full (m[r*dim+i]), 1 column (m[i]), 2 scalar (m[0]).
   variant 0: y = n(x) w m;  1: s = x + in1, y = n(s) w m, sum = s;
   variant 2: y = (in1 + n(x) w) m.   (n(v) = v / sqrt(mean(v^2) + eps)) */
void ref_rms_norm_mul(int variant, const double *x, const double *in1, const double *w, const double *m, int m_form,
                      double *y, double *sum, int64_t rows, int64_t dim, double eps);

/* attn NULL: y_k = n(x) w3[k]; else r = x + n(attn) w_post, res = r, y_k = n(r) w3[k]. */
void ref_triple_norm(const double *x, const double *attn, const double *w_post, const double *w3, double *res,
                     double *y0, double *y1, double *y2, int64_t rows, int64_t dim, double eps);

/* v[t] = sum_k wk[t,k] ys[t,k,:]; y = res (or 0) + [n(dense) w_dense] + n(v) nw
   (dense NULL: no dense term). */
void ref_moe_wsum_norm(const double *ys, const double *wk, const double *res, const double *nw, const double *dense,
                       const double *w_dense, double *y, int64_t T, int64_t K, int64_t dim, double eps);

/* x, y [S, H, D]; pos [S]; ff NULL or [>= R/2]: n = n(x) w per head, pairs
   (i, i + D/2) for i < R/2 rotated by pos * base^(-2i/D) / ff[i]. */
void ref_head_norm_rope(const double *x, const double *w, const int64_t *pos, const double *ff, double *y, int64_t S,
                        int64_t H, int64_t D, int64_t R, double eps, double base);
/* [/fused_norm2] */

#endif
