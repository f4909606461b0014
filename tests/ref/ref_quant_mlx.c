/* ref_quant_mlx.c — float64/integer references of the quant_mlx family. */
#include "ref_quant_mlx.h"

#include <math.h>

uint32_t ref_mlxq_code(const unsigned char *w, int64_t K, int bits, int64_t r, int64_t k) {
    const uint64_t pos = ((uint64_t)r * (uint64_t)K + (uint64_t)k) * (uint64_t)bits;
    uint32_t q = 0;
    for (int b = 0; b < bits; b++) {
        const uint64_t at = pos + (uint64_t)b;
        q |= (uint32_t)((w[at / 8] >> (at % 8)) & 1u) << b;
    }
    return q;
}

double ref_mlxq_e2m1(uint32_t n) {
    const int s = (n >> 3) & 1, e = (n >> 1) & 3, m = n & 1;
    const double a = e == 0 ? 0.5 * m : ldexp(1.0 + 0.5 * m, e - 1);
    return s ? -a : a;
}

double ref_mlxq_e4m3(uint32_t v) {
    const int s = (v >> 7) & 1, e = (v >> 3) & 15, m = v & 7;
    if (e == 15 && m == 7) return NAN; /* E4M3FN: S.1111.111 is NaN, no infinities */
    const double a = e == 0 ? ldexp(m / 8.0, -6) : ldexp(1.0 + m / 8.0, e - 7);
    return s ? -a : a;
}

double ref_mlxq_e8m0(uint32_t s) { return s == 255 ? INFINITY : ldexp(1.0, (int)s - 127); }

void ref_mlxq_row(int mode, int bits, int gs, const unsigned char *w, const double *sv, const double *bv,
                  const unsigned char *sb, int64_t K, int64_t src, double gfac, double mult, double *out) {
    const int64_t ng = K / gs;
    for (int64_t k = 0; k < K; k++) {
        const int64_t gi = src * ng + k / gs;
        const uint32_t q = ref_mlxq_code(w, K, bits, src, k);
        double v;
        if (mode == 0) {
            const double p = (float)((double)q * sv[gi]); /* exact product, one f32 rounding */
            v = (float)(p + bv[gi]);                      /* f32 sum (innocuous double rounding) */
        } else {
            double sc;
            if (mode == 3) {
                sc = ref_mlxq_e4m3(sb[gi]);
                if (gfac >= 0.0) sc = (float)(sc * gfac);
            } else {
                sc = ref_mlxq_e8m0(sb[gi]);
            }
            const double e = mode == 2 ? ref_mlxq_e4m3(q) : ref_mlxq_e2m1(q);
            v = (float)(e * sc); /* 0 * inf is NaN, as in f32 */
        }
        if (mult != 1.0) v = (float)(v * mult);
        out[k] = v;
    }
}
