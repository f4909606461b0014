/* ref_norm.h — float64 reference implementations of the norm family, written
   from the math in include/mlxn.h ("Norms"), sharing no code with the
   library. Inputs and outputs are double arrays of rows * dim values. */
#ifndef MLXN_REF_NORM_H
#define MLXN_REF_NORM_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w per row; w: NULL (no weight) or [dim]. */
void ref_rms_norm(const double *x, const double *w, double *y, int64_t rows, int64_t dim, double eps);

/* y = x / sqrt(sum(x^2) + eps) per row. */
void ref_l2_norm(const double *x, double *y, int64_t rows, int64_t dim, double eps);

#endif
