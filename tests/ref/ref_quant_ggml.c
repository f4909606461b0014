/* ref_quant_ggml.c — references of the quant_ggml family (see the header).
   The decoder works one element at a time straight from the layout tables
   of shared/reference/peers.md §D: locate the element's block, then its
   code bits and its scale, then the value with ggml's operation order (each
   product or sum its own statement, so each is one f32 rounding; this file
   is ISO C11, where GCC does not fuse them). */
#include "ref_quant_ggml.h"

#include <math.h>
#include <string.h>

#include "mlxn.h"

typedef struct { int id, blck, bytes; } fmt_t;
static const fmt_t FMTS[] = {
    {0, 1, 4},      {1, 1, 2},     {30, 1, 2},     {28, 1, 8},     {24, 1, 1},     {25, 1, 2},   {26, 1, 4},
    {2, 32, 18},    {3, 32, 20},   {6, 32, 22},    {7, 32, 24},    {8, 32, 34},    {9, 32, 36},  {10, 256, 84},
    {11, 256, 110}, {12, 256, 144}, {13, 256, 176}, {14, 256, 210}, {15, 256, 292}, {20, 32, 18}, {23, 256, 136},
    {39, 32, 17},   {40, 64, 36},  {41, 128, 18},  {42, 64, 18},
};

static const fmt_t *fmt_of(int id) {
    for (size_t i = 0; i < sizeof FMTS / sizeof FMTS[0]; i++)
        if (FMTS[i].id == id) return &FMTS[i];
    return NULL;
}

static float h16(const uint8_t *p) { return mlxn_f16_to_f32((uint16_t)(p[0] + 256 * p[1])); }
static uint32_t u32le(const uint8_t *p) {
    return (uint32_t)p[0] + 256u * p[1] + 65536u * p[2] + 16777216u * p[3];
}
/* 4-bit code i of 2*m codes stored "low nibbles first half": byte i % m, nibble i / m. */
static int nib(const uint8_t *qs, int i, int m) { return (qs[i % m] >> (4 * (i / m))) & 15; }

static const int IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static const int E2M1X2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* sc/m 6-bit pair k of the 12-byte K-quant scale block */
static void k_scale(const uint8_t *s, int k, int *sc, int *m) {
    if (k < 4) {
        *sc = s[k] % 64;
        *m = s[k + 4] % 64;
    } else {
        *sc = (s[k + 4] % 16) + 16 * (s[k - 4] / 64);
        *m = (s[k + 4] / 16) + 16 * (s[k] / 64);
    }
}

static float mul(float a, float b) { return a * b; }
static float sub(float a, float b) { return a - b; }
static float add(float a, float b) { return a + b; }

float ref_ggml_elem(int type, const uint8_t *src, int64_t j, int *ok) {
    const fmt_t *f = fmt_of(type);
    if (!f) {
        *ok = 0;
        return 0.0f;
    }
    const uint8_t *b = src + (j / f->blck) * f->bytes;
    const int i = (int)(j % f->blck);
    switch (type) {
    case 0: { float v; memcpy(&v, b, 4); return v; }
    case 1: return h16(b);
    case 30: return mlxn_bf16_to_f32((uint16_t)(b[0] + 256 * b[1]));
    case 28: { double v; memcpy(&v, b, 8); return (float)v; }
    case 24: return (float)(int8_t)b[0];
    case 25: { int16_t v; memcpy(&v, b, 2); return (float)v; }
    case 26: { int32_t v; memcpy(&v, b, 4); return (float)v; }
    case 2: return mul((float)(nib(b + 2, i, 16) - 8), h16(b));
    case 3: return add(mul((float)nib(b + 4, i, 16), h16(b)), h16(b + 2));
    case 6: {
        const int q = nib(b + 6, i, 16) + 16 * (int)((u32le(b + 2) >> i) & 1);
        return mul((float)(q - 16), h16(b));
    }
    case 7: {
        const int q = nib(b + 8, i, 16) + 16 * (int)((u32le(b + 4) >> i) & 1);
        return add(mul((float)q, h16(b)), h16(b + 2));
    }
    case 8: return mul((float)(int8_t)b[2 + i], h16(b));
    case 9: return mul((float)(int8_t)b[4 + i], h16(b));
    case 10: { /* Q2_K */
        const int h = i / 128, sh = (i % 128) / 32, l = i % 32;
        const int q = (b[16 + 32 * h + l] >> (2 * sh)) & 3;
        const int sc = b[8 * h + 2 * sh + l / 16];
        const float dl = mul(h16(b + 80), (float)(sc % 16)), ml = mul(h16(b + 82), (float)(sc / 16));
        return sub(mul(dl, (float)q), ml);
    }
    case 11: { /* Q3_K */
        const int h = i / 128, sh = (i % 128) / 32, l = i % 32, s = 8 * h + 2 * sh + l / 16;
        const uint8_t *sb = b + 96;
        const int low = s < 8 ? sb[s] % 16 : sb[s - 8] / 16;
        const int high = (sb[8 + s % 4] >> (2 * (s / 4))) % 4;
        const int q = (b[32 + 32 * h + l] >> (2 * sh)) & 3;
        const int hb = (b[l] >> (4 * h + sh)) & 1;
        const float dl = mul(h16(b + 108), (float)(low + 16 * high - 32));
        return mul(dl, (float)(q - (hb ? 0 : 4)));
    }
    case 12: case 13: { /* Q4_K, Q5_K */
        const int c = i / 64, hi = (i % 64) / 32, l = i % 32;
        int sc, m;
        k_scale(b + 4, 2 * c + hi, &sc, &m);
        const uint8_t *qs = b + (type == 12 ? 16 : 48);
        int q = (qs[32 * c + l] >> (4 * hi)) & 15;
        if (type == 13) q += 16 * ((b[16 + l] >> (2 * c + hi)) & 1);
        const float d1 = mul(h16(b), (float)sc), m1 = mul(h16(b + 2), (float)m);
        return sub(mul(d1, (float)q), m1);
    }
    case 14: { /* Q6_K */
        const int h = i / 128, which = (i % 128) / 32, l = i % 32;
        const int L = b[64 * h + l + (which % 2) * 32];
        const int lo = which < 2 ? L % 16 : L / 16;
        const int hi = (b[128 + 32 * h + l] >> (2 * which)) & 3;
        const int sc = (int8_t)b[192 + 8 * h + l / 16 + 2 * which];
        return mul(mul(h16(b + 208), (float)sc), (float)(lo + 16 * hi - 32));
    }
    case 15: { float d; memcpy(&d, b, 4); return mul(d, (float)(int8_t)b[4 + i]); }
    case 20: return mul(h16(b), (float)IQ4NL[nib(b + 2, i, 16)]);
    case 23: { /* IQ4_XS */
        const int ib = i / 32, r = i % 32;
        const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) + 16 * (((b[2] + 256 * b[3]) >> (2 * ib)) & 3);
        const float dl = mul(h16(b), (float)(ls - 32));
        return mul(dl, (float)IQ4NL[nib(b + 8 + 16 * ib, r, 16)]);
    }
    case 39: return mul((float)E2M1X2[nib(b + 1, i, 16)], ldexpf(1.0f, (int)b[0] - 128));
    case 40: { /* NVFP4 */
        const int s = i / 16, r = i % 16;
        const int x = b[s];
        float d = 0.0f;
        if (x != 0 && x != 0x7F) {
            const int ex = (x / 8) % 16, man = x % 8;
            d = ex == 0 ? ldexpf((float)man, -9) : ldexpf(1.0f + (float)man / 8.0f, ex - 7);
            d = d * 0.5f;
        }
        return mul((float)E2M1X2[nib(b + 4 + 8 * s, r, 8)], d);
    }
    case 41: { const float d = h16(b); return ((b[2 + i / 8] >> (i % 8)) & 1) ? d : -d; }
    case 42: return mul((float)(((b[2 + i / 4] >> (2 * (i % 4))) & 3) - 1), h16(b));
    default: *ok = 0; return 0.0f;
    }
}

/* ---- float64 K-quant quantizers ------------------------------------------------ */

static double f16r(double v) { return (double)mlxn_f16_to_f32(mlxn_f32_to_f16((float)v)); }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static int nearest(double v) { return (int)rint(v); }

/* make_qkx2_quants in double: returns scale, *mn = the (<= 0) offset. */
static double qkx2_f64(int n, int nmax, const double *x, const double *w, int *L, double *mn) {
    double min = x[0], max = x[0], sum_w = 0, sum_x = 0;
    for (int i = 0; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *mn = min;
        return 0;
    }
    double iscale = nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = clampi(nearest(iscale * (x[i] - min)), 0, nmax);
        const double diff = scale * L[i] + min - x[i];
        best += w[i] * diff * diff;
    }
    int Laux[32];
    for (int is = 0; is <= 20; is++) {
        iscale = (-1.0 + 0.1 * is + nmax) / (max - min);
        double sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = l;
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        const double D = sum_w * sl2 - sl * sl;
        if (D > 0) {
            double ts = (sum_w * sxl - sum_x * sl) / D, tm = (sl2 * sum_x - sl * sxl) / D;
            if (tm > 0) {
                tm = 0;
                ts = sxl / sl2;
            }
            double err = 0;
            for (int i = 0; i < n; i++) {
                const double diff = ts * Laux[i] + tm - x[i];
                err += w[i] * diff * diff;
            }
            if (err < best) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best = err;
                scale = ts;
                min = tm;
            }
        }
    }
    *mn = min;
    return scale;
}

void ref_quant_q4_K_f64(const float *xf, int64_t n, double *y) {
    for (int64_t b = 0; b < n / 256; b++) {
        double x[256], sc[8], mn[8], w[32];
        int L[256];
        for (int i = 0; i < 256; i++) x[i] = xf[b * 256 + i];
        double max_sc = 0, max_mn = 0;
        for (int j = 0; j < 8; j++) {
            double s2 = 0;
            for (int l = 0; l < 32; l++) s2 += x[32 * j + l] * x[32 * j + l];
            const double av = sqrt(s2 / 32);
            for (int l = 0; l < 32; l++) w[l] = av + fabs(x[32 * j + l]);
            double m;
            sc[j] = qkx2_f64(32, 15, x + 32 * j, w, L + 32 * j, &m);
            mn[j] = -m;
            if (sc[j] > max_sc) max_sc = sc[j];
            if (mn[j] > max_mn) max_mn = mn[j];
        }
        const double d = f16r(max_sc / 63), dmin = f16r(max_mn / 63);
        for (int j = 0; j < 8; j++) {
            const int ls = max_sc > 0 ? clampi(nearest(63 / max_sc * sc[j]), 0, 63) : 0;
            const int lm = max_mn > 0 ? clampi(nearest(63 / max_mn * mn[j]), 0, 63) : 0;
            const double dj = d * ls, mj = dmin * lm;
            for (int l = 0; l < 32; l++) {
                const int q = dj != 0 ? clampi(nearest((x[32 * j + l] + mj) / dj), 0, 15) : L[32 * j + l];
                y[b * 256 + 32 * j + l] = dj * q - mj;
            }
        }
    }
}

/* make_qx_quants (rmse_type 1) in double; L gets l in [-nmax, nmax-1]. */
static double qx_f64(int n, int nmax, const double *x, int *L) {
    double max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabs(x[i]) > amax) {
            amax = fabs(x[i]);
            max = x[i];
        }
    if (amax < 1e-15) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0;
    }
    double best = -1, scale = 0;
    for (int is = -9; is <= 9; is++) {
        const double iscale = -(nmax + 0.1 * is) / max;
        double slx = 0, sl2 = 0;
        int Lt[16];
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            Lt[i] = l;
            const double w = x[i] * x[i];
            slx += w * x[i] * l;
            sl2 += w * l * l;
        }
        if (sl2 > 0 && (best < 0 || slx * slx / sl2 > best)) {
            best = slx * slx / sl2;
            scale = slx / sl2;
            for (int i = 0; i < n; i++) L[i] = Lt[i];
        }
    }
    return scale;
}

void ref_quant_q6_K_f64(const float *xf, int64_t n, double *y) {
    for (int64_t b = 0; b < n / 256; b++) {
        double x[256], sc[16];
        int L[256];
        for (int i = 0; i < 256; i++) x[i] = xf[b * 256 + i];
        double max_sc = 0, max_abs = 0;
        for (int j = 0; j < 16; j++) {
            sc[j] = qx_f64(16, 32, x + 16 * j, L + 16 * j);
            if (fabs(sc[j]) > max_abs) {
                max_abs = fabs(sc[j]);
                max_sc = sc[j];
            }
        }
        if (max_abs < 1e-15) {
            for (int i = 0; i < 256; i++) y[b * 256 + i] = 0;
            continue;
        }
        const double iscale = -128 / max_sc, d = f16r(1 / iscale);
        for (int j = 0; j < 16; j++) {
            const int s = clampi(nearest(iscale * sc[j]), -128, 127);
            const double dj = d * s;
            for (int l = 0; l < 16; l++) {
                const int q = dj != 0 ? clampi(nearest(x[16 * j + l] / dj), -32, 31) : L[16 * j + l];
                y[b * 256 + 16 * j + l] = dj * q;
            }
        }
    }
}
