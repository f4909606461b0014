/* ref_fused_norm.c — float64 references of the fused-norm family (see
   ref_fused_norm.h).

   As in ref_norm.c: the sum of squares is a plain float64 loop (relative
   error <= dim * 2^-53 < 2e-12 for the rows the tests use, far below any f32
   kernel), the mean is a division by dim and the root 1/sqrt — the textbook
   formula, independent of how a kernel does it. add_rms_norm's s = a + b is
   exact in double for inputs that came from f32/f16/bf16 values of similar
   magnitude, so the reference normalizes the exact sum. silu is z / (1 +
   exp(-z)) in double (libm exp: < 1 ulp of double). */
#include "ref/ref_fused_norm.h"

#include <math.h>
#include <stddef.h>

static double inv_rms(const double *x, int64_t dim, double eps) {
    double s = 0.0;
    for (int64_t i = 0; i < dim; i++) s += x[i] * x[i];
    return 1.0 / sqrt(s / (double)dim + eps);
}

void ref_add_rms_norm(const double *a, const double *b, const double *w, double *y, double *sum, int64_t rows,
                      int64_t dim, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const double *ar = a + r * dim, *br = b + r * dim;
        double *yr = y + r * dim;
        /* y doubles as the row's scratch for s (it is overwritten below) */
        for (int64_t i = 0; i < dim; i++) yr[i] = ar[i] + br[i];
        if (sum)
            for (int64_t i = 0; i < dim; i++) sum[r * dim + i] = yr[i];
        const double k = inv_rms(yr, dim, eps);
        for (int64_t i = 0; i < dim; i++) yr[i] = yr[i] * k * (w ? w[i] : 1.0);
    }
}

void ref_rms_norm_add(const double *x, const double *w, const double *res, double *y, int64_t rows, int64_t dim,
                      double eps, double scale) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * dim, *rr = res + r * dim;
        const double k = inv_rms(xr, dim, eps);
        for (int64_t i = 0; i < dim; i++) y[r * dim + i] = (rr[i] + xr[i] * k * (w ? w[i] : 1.0)) * scale;
    }
}

void ref_rms_norm_gate(const double *x, const double *w, const double *z, double *y, int64_t rows, int64_t dim,
                       double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * dim, *zr = z + r * dim;
        const double k = inv_rms(xr, dim, eps);
        for (int64_t i = 0; i < dim; i++)
            y[r * dim + i] = xr[i] * k * (w ? w[i] : 1.0) * (zr[i] / (1.0 + exp(-zr[i])));
    }
}
