/* ref_backward.c — see ref_backward.h. Straight loops in double. */
#include "ref_backward.h"

#include <math.h>
#include <stddef.h>

void ref_bw_softmax_fwd(const double *x, double *y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * n;
        double *yr = y + r * n;
        double m = xr[0];
        for (int64_t j = 1; j < n; j++) m = xr[j] > m ? xr[j] : m;
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) {
            yr[j] = exp(xr[j] - m);
            s += yr[j];
        }
        for (int64_t j = 0; j < n; j++) yr[j] /= s;
    }
}

void ref_rms_inv(const double *x, double *r, int64_t rows, int64_t dim, double eps) {
    for (int64_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int64_t j = 0; j < dim; j++) ss += x[i * dim + j] * x[i * dim + j];
        r[i] = 1.0 / sqrt(ss / (double)dim + eps);
    }
}

void ref_bw_rms_norm_fwd(const double *x, const double *w, double *y, int64_t rows, int64_t dim, double eps) {
    for (int64_t i = 0; i < rows; i++) {
        double r;
        ref_rms_inv(x + i * dim, &r, 1, dim, eps);
        for (int64_t j = 0; j < dim; j++) y[i * dim + j] = x[i * dim + j] * r * (w ? w[j] : 1.0);
    }
}

void ref_bw_unary_fwd(int op, const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = op == 0 ? x[i] / (1.0 + exp(-x[i])) : log(x[i]);
}

void ref_bw_row_sum_fwd(const double *x, double *y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += x[r * n + j];
        y[r] = s;
    }
}

void ref_softmax_backward(const double *y, const double *dy, double *dx, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += y[r * n + j] * dy[r * n + j];
        for (int64_t j = 0; j < n; j++) dx[r * n + j] = y[r * n + j] * (dy[r * n + j] - s);
    }
}

void ref_rms_norm_backward(const double *x, const double *w, const double *r, const double *dy, double *dx,
                           double *dw, int64_t rows, int64_t dim) {
    if (dw)
        for (int64_t j = 0; j < dim; j++) dw[j] = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const double *xr = x + i * dim, *dyr = dy + i * dim;
        double s = 0.0;
        for (int64_t j = 0; j < dim; j++) s += dyr[j] * xr[j] * (w ? w[j] : 1.0);
        const double ri = r[i];
        for (int64_t j = 0; j < dim; j++) {
            dx[i * dim + j] = ri * (dyr[j] * (w ? w[j] : 1.0) - xr[j] * s * ri * ri / (double)dim);
            if (dw) dw[j] += dyr[j] * xr[j] * ri;
        }
    }
}

void ref_unary_backward(int op, const double *x, const double *dy, double *dx, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (op == 0) {
            /* sigmoid and 1 - sigmoid from e^-|x|, no cancellation in either tail */
            const double e = exp(-fabs(x[i])), d = 1.0 / (1.0 + e);
            const double sg = x[i] >= 0 ? d : e * d, sm = x[i] >= 0 ? e * d : d;
            dx[i] = dy[i] * sg * (1.0 + x[i] * sm);
        } else {
            dx[i] = dy[i] / x[i];
        }
    }
}

void ref_row_sum_backward(const double *dy, double *dx, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++) dx[r * n + j] = dy[r];
}
