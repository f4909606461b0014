/* ref_softmax.c — see ref_softmax.h. One row at a time in double: the exact
   max, then exp and a plain sum (double's 53 bits make its rounding
   negligible next to the f32 results it judges). */
#include "ref_softmax.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

void ref_softmax(const double *x, const double *mask, double *y, int64_t rows, int64_t cols, int64_t mask_rows,
                 double scale, double softcap) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * cols;
        const double *mr = mask ? mask + (r % mask_rows) * cols : NULL;
        double *yr = y + r * cols;
        double mx = -INFINITY;
        bool nan = false;
        for (int64_t j = 0; j < cols; j++) {
            double z = xr[j] * scale;
            if (softcap > 0.0) z = softcap * tanh(z / softcap);
            if (mr) z += mr[j];
            yr[j] = z;
            if (isnan(z)) nan = true;
            else if (z > mx) mx = z;
        }
        if (nan || mx == -INFINITY) {
            for (int64_t j = 0; j < cols; j++) yr[j] = nan ? NAN : 0.0;
            continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            yr[j] = exp(yr[j] - mx); /* +inf max gives NaN (inf - inf), as IEEE */
            sum += yr[j];
        }
        for (int64_t j = 0; j < cols; j++) yr[j] /= sum;
    }
}
