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

#endif
