/* ref_norm.c — float64 references of the norm family (see ref_norm.h).

   The sum of squares is a plain float64 loop: for the row lengths the tests
   use (<= 16896) its relative error is <= dim * 2^-53 < 2e-12, far below
   what any f32 kernel can reach, so it serves as the exact value. The
   divisor is applied as a division (not a multiply by 1/dim) and the root
   as 1/sqrt — the textbook formula, independent of how a kernel does it. */
#include "ref/ref_norm.h"

#include <math.h>
#include <stddef.h>

static double sum_sq(const double *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

void ref_rms_norm(const double *x, const double *w, double *y, int64_t rows, int64_t dim, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * dim;
        double *yr = y + r * dim;
        const double scale = 1.0 / sqrt(sum_sq(xr, dim) / (double)dim + eps);
        for (int64_t i = 0; i < dim; i++) yr[i] = xr[i] * scale * (w ? w[i] : 1.0);
    }
}

void ref_l2_norm(const double *x, double *y, int64_t rows, int64_t dim, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * dim;
        double *yr = y + r * dim;
        const double norm = sqrt(sum_sq(xr, dim) + eps);
        for (int64_t i = 0; i < dim; i++) yr[i] = xr[i] / norm;
    }
}
