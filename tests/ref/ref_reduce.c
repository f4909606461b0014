/* ref_reduce.c — see ref_reduce.h. Straight loops in double: for the row
   lengths tested (<= 2e6) double's 53 bits keep the reference sums within
   ~2e6 * 2^-53 ~ 2e-10 relative of exact in the worst case, far below the
   f32 results they judge. */
#include "ref_reduce.h"

#include <math.h>
#include <stddef.h>

void ref_argmax(const double *x, int64_t rows, int64_t n, int64_t *idx, double *val) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * n;
        int64_t best = 0;
        for (int64_t j = 0; j < n; j++) {
            if (isnan(xr[j])) { /* the first NaN wins outright */
                best = j;
                break;
            }
            if (xr[j] > xr[best]) best = j; /* strict: ties keep the lower index */
        }
        /* a NaN at 0 is caught by the loop (j = 0); best = 0 otherwise starts
           the compare, and a later NaN still breaks out */
        idx[r] = best;
        if (val) val[r] = xr[best];
    }
}

void ref_cumsum(const double *x, double *y, int64_t rows, int64_t n, int exclusive, int reverse) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * n;
        double *yr = y + r * n;
        double s = 0.0;
        for (int64_t k = 0; k < n; k++) {
            const int64_t j = reverse ? n - 1 - k : k;
            if (exclusive) {
                yr[j] = s;
                s += xr[j];
            } else {
                s += xr[j];
                yr[j] = s;
            }
        }
    }
}

void ref_row_sum(const double *x, double *y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += x[r * n + j];
        y[r] = s;
    }
}
