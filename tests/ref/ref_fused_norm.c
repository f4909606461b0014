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

/* ---- [fused_norm2] ----------------------------------------------------------
   Same textbook formulas (inv_rms above). The weighted MoE sum is a plain
   double loop over k; head_norm_rope's angle is pos * base^(-2i/D) / ff[i]
   in double with libm cos/sin (< 1 ulp of double for the angles tested). */

void ref_rms_norm_mul(int variant, const double *x, const double *in1, const double *w, const double *m, int m_form,
                      double *y, double *sum, int64_t rows, int64_t dim, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const int64_t b = r * dim;
        double *yr = y + b;
        for (int64_t i = 0; i < dim; i++) yr[i] = variant == 1 ? x[b + i] + in1[b + i] : x[b + i];
        if (variant == 1 && sum)
            for (int64_t i = 0; i < dim; i++) sum[b + i] = yr[i];
        const double k = inv_rms(yr, dim, eps);
        for (int64_t i = 0; i < dim; i++) {
            const double mv = m_form == 0 ? m[b + i] : m_form == 1 ? m[i] : m[0];
            double n = yr[i] * k * (w ? w[i] : 1.0);
            if (variant == 2) n = in1[b + i] + n;
            yr[i] = n * mv;
        }
    }
}

void ref_triple_norm(const double *x, const double *attn, const double *w_post, const double *w3, double *res,
                     double *y0, double *y1, double *y2, int64_t rows, int64_t dim, double eps) {
    double *ys[3] = {y0, y1, y2};
    for (int64_t r = 0; r < rows; r++) {
        const int64_t b = r * dim;
        double *rr = y0 + b; /* scratch for r: y0 is written last */
        if (attn) {
            const double ka = inv_rms(attn + b, dim, eps);
            for (int64_t i = 0; i < dim; i++) rr[i] = x[b + i] + attn[b + i] * ka * w_post[i];
            if (res)
                for (int64_t i = 0; i < dim; i++) res[b + i] = rr[i];
        } else {
            for (int64_t i = 0; i < dim; i++) rr[i] = x[b + i];
        }
        const double k = inv_rms(rr, dim, eps);
        for (int64_t i = 0; i < dim; i++) {
            const double v = rr[i];
            for (int j = 2; j >= 0; j--) ys[j][b + i] = v * k * w3[(int64_t)j * dim + i];
        }
    }
}

void ref_moe_wsum_norm(const double *ys, const double *wk, const double *res, const double *nw, const double *dense,
                       const double *w_dense, double *y, int64_t T, int64_t K, int64_t dim, double eps) {
    for (int64_t t = 0; t < T; t++) {
        double *yr = y + t * dim;
        for (int64_t i = 0; i < dim; i++) {
            double v = 0.0;
            for (int64_t k = 0; k < K; k++) v += wk[t * K + k] * ys[(t * K + k) * dim + i];
            yr[i] = v;
        }
        const double kv = inv_rms(yr, dim, eps);
        const double kd = dense ? inv_rms(dense + t * dim, dim, eps) : 0.0;
        for (int64_t i = 0; i < dim; i++) {
            double o = res ? res[t * dim + i] : 0.0;
            if (dense) o += dense[t * dim + i] * kd * (w_dense ? w_dense[i] : 1.0);
            yr[i] = o + yr[i] * kv * (nw ? nw[i] : 1.0);
        }
    }
}

void ref_head_norm_rope(const double *x, const double *w, const int64_t *pos, const double *ff, double *y, int64_t S,
                        int64_t H, int64_t D, int64_t R, double eps, double base) {
    const int64_t half = D / 2;
    for (int64_t s = 0; s < S; s++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t b = (s * H + h) * D;
            const double k = inv_rms(x + b, D, eps);
            double *yr = y + b;
            for (int64_t i = 0; i < D; i++) yr[i] = x[b + i] * k * (w ? w[i] : 1.0);
            for (int64_t i = 0; i < R / 2; i++) {
                double th = (double)pos[s] * pow(base, -2.0 * (double)i / (double)D);
                if (ff) th /= ff[i];
                const double c = cos(th), sn = sin(th), a0 = yr[i], a1 = yr[i + half];
                yr[i] = a0 * c - a1 * sn;
                yr[i + half] = a0 * sn + a1 * c;
            }
        }
}
