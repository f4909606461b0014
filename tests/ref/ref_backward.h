/* ref_backward.h — float64 references of the backward family, written from
   the contracts in include/mlxn.h ("Backward kernels") and from the forward
   ops they differentiate, sharing no code with the library. Arrays are
   [rows, n] row-major doubles holding the exact values the device sees. The
   forward functions exist so that tests/ops/backward.c can check every
   gradient formula against central finite differences of its forward. */
#ifndef MLXN_REF_BACKWARD_H
#define MLXN_REF_BACKWARD_H

#include <stdint.h>

/* ---- forwards ---- */
/* y = softmax of each row (max-subtracted). */
void ref_bw_softmax_fwd(const double *x, double *y, int64_t rows, int64_t n);
/* y = x * r * w, r = 1/sqrt(mean(x^2) + eps) per row; w NULL means 1. */
void ref_bw_rms_norm_fwd(const double *x, const double *w, double *y, int64_t rows, int64_t dim, double eps);
/* y = silu(x) = x / (1 + e^-x) (op 0) or log(x) (op 1), elementwise. */
void ref_bw_unary_fwd(int op, const double *x, double *y, int64_t n);
/* y[r] = sum of row r. */
void ref_bw_row_sum_fwd(const double *x, double *y, int64_t rows, int64_t n);

/* ---- backwards ---- */
/* dx = y * (dy - sum_j y_j dy_j) per row; y is softmax's output. */
void ref_softmax_backward(const double *y, const double *dy, double *dx, int64_t rows, int64_t n);
/* r[row] = 1 / sqrt(mean(x^2) + eps). */
void ref_rms_inv(const double *x, double *r, int64_t rows, int64_t dim, double eps);
/* dx = r (dy w - x s r^2 / dim), s = sum_j dy_j x_j w_j; dw (if not NULL) =
   sum over rows of dy x r. w NULL means 1. r as given (the device's f32 r). */
void ref_rms_norm_backward(const double *x, const double *w, const double *r, const double *dy, double *dx,
                           double *dw, int64_t rows, int64_t dim);
/* dx = dy * f'(x): op 0 silu (sigmoid(x) (1 + x (1 - sigmoid(x)))), op 1 log (dy / x). */
void ref_unary_backward(int op, const double *x, const double *dy, double *dx, int64_t n);
/* dx[r, j] = dy[r]. */
void ref_row_sum_backward(const double *dy, double *dx, int64_t rows, int64_t n);

#endif
