/* ref_rope.c — see ref_rope.h. Plain loops in double, one element pair at a time. */
#include "ref_rope.h"

#include <math.h>
#include <string.h>

static void rotate(double x0, double x1, double theta, double mscale, double *y0, double *y1) {
    double c = cos(theta) * mscale, s = sin(theta) * mscale;
    *y0 = x0 * c - x1 * s;
    *y1 = x0 * s + x1 * c;
}

/* ggml: corr_dim(n_rot) = n_dims*ln(n_ctx_orig/(n_rot*2pi)) / (2 ln base), evaluated in float. */
static float corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

void ref_rope(const double *x, double *y, int64_t batch, int64_t seq, int64_t n_heads, int64_t head_dim,
              const int64_t *pos, const double *ff, const mlxn_rope_params *p) {
    const int64_t n_dims = p->n_dims;
    const double base = p->freq_base, fs = p->freq_scale, ef = p->ext_factor;
    double mscale = p->attn_factor;
    double low = 0.0, high = 0.0;
    if (ef != 0.0) {
        float start = floorf(corr_dim((int)n_dims, (int)p->n_ctx_orig, p->beta_fast, p->freq_base));
        float end = ceilf(corr_dim((int)n_dims, (int)p->n_ctx_orig, p->beta_slow, p->freq_base));
        low = start > 0.0f ? start : 0.0f;
        high = end < (float)(n_dims - 1) ? end : (float)(n_dims - 1);
        mscale = (double)(p->attn_factor * (1.0f + 0.1f * logf(1.0f / p->freq_scale)));
    }
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < seq; t++)
            for (int64_t h = 0; h < n_heads; h++) {
                const int64_t off = ((b * seq + t) * n_heads + h) * head_dim;
                const double *xr = x + off;
                double *yr = y + off;
                memcpy(yr, xr, sizeof(double) * (size_t)head_dim);
                for (int64_t i = 0; i < n_dims / 2; i++) {
                    double theta_extrap = (double)pos[t] * pow(base, -2.0 * (double)i / (double)n_dims);
                    if (ff) theta_extrap /= ff[i];
                    double theta = fs * theta_extrap;
                    if (ef != 0.0) {
                        double w = high - low;
                        if (!(w > 0.001)) w = 0.001;
                        double r = ((double)i - low) / w;
                        r = r < 0.0 ? 0.0 : r > 1.0 ? 1.0 : r;
                        double mix = (1.0 - r) * ef;
                        theta = fs * theta_extrap * (1.0 - mix) + theta_extrap * mix;
                    }
                    int64_t i0, i1;
                    if (p->mode == MLXN_ROPE_NORMAL) { i0 = 2 * i; i1 = 2 * i + 1; }
                    else { i0 = i; i1 = i + n_dims / 2; }
                    rotate(xr[i0], xr[i1], theta, mscale, &yr[i0], &yr[i1]);
                }
            }
}

void ref_rope_multi(const double *x, double *y, const int64_t *pos, const mlxn_rope_multi_params *p) {
    const int64_t S = p->seq_len, H = p->n_heads, D = p->head_dim, R = p->rope_dim;
    const int64_t s0 = p->sections[0], s1 = p->sections[1], s2 = p->sections[2], s3 = p->sections[3];
    for (int64_t t = 0; t < S; t++)
        for (int64_t h = 0; h < H; h++) {
            const double *xr = x + (t * H + h) * D;
            double *yr = y + (t * H + h) * D;
            memcpy(yr, xr, sizeof(double) * (size_t)D);
            if (p->mode == MLXN_ROPE_VISION) {
                for (int64_t i = 0; i < D / 2; i++) {
                    int64_t q = i % (s0 + s1);
                    int64_t axis = q < s0 ? 0 : 1;
                    int64_t local = q < s0 ? q : q - s0;
                    double theta = (double)pos[axis * S + t] * pow(p->freq_base, -2.0 * (double)local / (double)(D / 2));
                    rotate(xr[i], xr[i + D / 2], theta, 1.0, &yr[i], &yr[i + D / 2]);
                }
                continue;
            }
            for (int64_t i = 0; i < R / 2; i++) {
                int64_t q = i % (s0 + s1 + s2 + s3), axis;
                if (p->mode == MLXN_ROPE_MROPE) {
                    axis = q < s0 ? 0 : q < s0 + s1 ? 1 : q < s0 + s1 + s2 ? 2 : 3;
                } else {
                    if (q % 3 == 0 && q < 3 * s0) axis = 0;
                    else if (q % 3 == 1 && q < 3 * s1) axis = 1;
                    else if (q % 3 == 2 && q < 3 * s2) axis = 2;
                    else axis = 3;
                }
                double theta = (double)pos[axis * S + t] * pow(p->freq_base, -2.0 * (double)i / (double)R);
                rotate(xr[i], xr[i + R / 2], theta, 1.0, &yr[i], &yr[i + R / 2]);
            }
        }
}

void ref_vision_2d_rope(const double *x, double *y, const int64_t *pos_x, const int64_t *pos_y,
                        const mlxn_vision_2d_rope_params *p) {
    const int64_t S = p->seq_len, H = p->n_heads, D = p->head_dim, Q = D / 4;
    for (int64_t t = 0; t < S; t++)
        for (int64_t h = 0; h < H; h++) {
            const double *xr = x + (t * H + h) * D;
            double *yr = y + (t * H + h) * D;
            for (int64_t i = 0; i < Q; i++) {
                double f = pow(p->theta, -2.0 * (double)i / (double)(D / 2));
                rotate(xr[i], xr[i + Q], (double)pos_x[t] * f, 1.0, &yr[i], &yr[i + Q]);
                rotate(xr[2 * Q + i], xr[3 * Q + i], (double)pos_y[t] * f, 1.0, &yr[2 * Q + i], &yr[3 * Q + i]);
            }
        }
}
