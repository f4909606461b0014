/* quant_mlx.c (CPU) — dequantize_mlx and gather_mlx (plans and argument
   order: src/ops/quant_mlx.c; formats and arithmetic: include/mlxn.h).

   A row of K elements is decoded group by group into an L1-resident f32
   array, then stored (converted, round to nearest even). Inside a group the
   codes are read by units of 8 elements, which always fill `bits` whole bytes
   of the LSB-first stream: the unit's bytes are loaded into a u64 and code t
   is (u >> t*bits) & mask. One decoder per bit width is instantiated (the
   width a compile-time constant) so the shifts unroll. The affine value is
   q*s then + b as two separate f32 operations: this file is compiled as ISO
   C (-std=c11), where GCC and Clang do not contract a*b + c into an fma, and
   the bit-exact tests against MLX would catch it if they did.

   Parallelism: OpenMP over rows, statically; small ops run on one thread. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MIN_PAR_ELEMS (1 << 15) /* below this many output elements: one thread */

static const float E2M1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                               -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* E4M3 (E4M3FN) values by byte, as e4m3() computes them: exact decimals of
   dyadic values, so the compiler's conversion is exact */
static const float E4M3[256] = {
    0.0f, 0.001953125f, 0.00390625f, 0.005859375f, 0.0078125f, 0.009765625f, 0.01171875f, 0.013671875f,
    0.015625f, 0.017578125f, 0.01953125f, 0.021484375f, 0.0234375f, 0.025390625f, 0.02734375f, 0.029296875f,
    0.03125f, 0.03515625f, 0.0390625f, 0.04296875f, 0.046875f, 0.05078125f, 0.0546875f, 0.05859375f,
    0.0625f, 0.0703125f, 0.078125f, 0.0859375f, 0.09375f, 0.1015625f, 0.109375f, 0.1171875f,
    0.125f, 0.140625f, 0.15625f, 0.171875f, 0.1875f, 0.203125f, 0.21875f, 0.234375f,
    0.25f, 0.28125f, 0.3125f, 0.34375f, 0.375f, 0.40625f, 0.4375f, 0.46875f,
    0.5f, 0.5625f, 0.625f, 0.6875f, 0.75f, 0.8125f, 0.875f, 0.9375f,
    1.0f, 1.125f, 1.25f, 1.375f, 1.5f, 1.625f, 1.75f, 1.875f,
    2.0f, 2.25f, 2.5f, 2.75f, 3.0f, 3.25f, 3.5f, 3.75f,
    4.0f, 4.5f, 5.0f, 5.5f, 6.0f, 6.5f, 7.0f, 7.5f,
    8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f, 14.0f, 15.0f,
    16.0f, 18.0f, 20.0f, 22.0f, 24.0f, 26.0f, 28.0f, 30.0f,
    32.0f, 36.0f, 40.0f, 44.0f, 48.0f, 52.0f, 56.0f, 60.0f,
    64.0f, 72.0f, 80.0f, 88.0f, 96.0f, 104.0f, 112.0f, 120.0f,
    128.0f, 144.0f, 160.0f, 176.0f, 192.0f, 208.0f, 224.0f, 240.0f,
    256.0f, 288.0f, 320.0f, 352.0f, 384.0f, 416.0f, 448.0f, NAN,
    -0.0f, -0.001953125f, -0.00390625f, -0.005859375f, -0.0078125f, -0.009765625f, -0.01171875f, -0.013671875f,
    -0.015625f, -0.017578125f, -0.01953125f, -0.021484375f, -0.0234375f, -0.025390625f, -0.02734375f, -0.029296875f,
    -0.03125f, -0.03515625f, -0.0390625f, -0.04296875f, -0.046875f, -0.05078125f, -0.0546875f, -0.05859375f,
    -0.0625f, -0.0703125f, -0.078125f, -0.0859375f, -0.09375f, -0.1015625f, -0.109375f, -0.1171875f,
    -0.125f, -0.140625f, -0.15625f, -0.171875f, -0.1875f, -0.203125f, -0.21875f, -0.234375f,
    -0.25f, -0.28125f, -0.3125f, -0.34375f, -0.375f, -0.40625f, -0.4375f, -0.46875f,
    -0.5f, -0.5625f, -0.625f, -0.6875f, -0.75f, -0.8125f, -0.875f, -0.9375f,
    -1.0f, -1.125f, -1.25f, -1.375f, -1.5f, -1.625f, -1.75f, -1.875f,
    -2.0f, -2.25f, -2.5f, -2.75f, -3.0f, -3.25f, -3.5f, -3.75f,
    -4.0f, -4.5f, -5.0f, -5.5f, -6.0f, -6.5f, -7.0f, -7.5f,
    -8.0f, -9.0f, -10.0f, -11.0f, -12.0f, -13.0f, -14.0f, -15.0f,
    -16.0f, -18.0f, -20.0f, -22.0f, -24.0f, -26.0f, -28.0f, -30.0f,
    -32.0f, -36.0f, -40.0f, -44.0f, -48.0f, -52.0f, -56.0f, -60.0f,
    -64.0f, -72.0f, -80.0f, -88.0f, -96.0f, -104.0f, -112.0f, -120.0f,
    -128.0f, -144.0f, -160.0f, -176.0f, -192.0f, -208.0f, -224.0f, -240.0f,
    -256.0f, -288.0f, -320.0f, -352.0f, -384.0f, -416.0f, -448.0f, NAN,
};

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* E4M3 (OCP E4M3FN, as MLX's from_fp8): no infinities, 0x7F/0xFF NaN */
static inline float e4m3(uint32_t v) {
    const uint32_t e = (v >> 3) & 15u, m = v & 7u;
    if ((v & 0x7Fu) == 0x7Fu) return bits_f32(0x7FC00000u);
    const float a = e ? bits_f32(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f; /* m * 2^-9 */
    return (v & 0x80u) ? -a : a;
}

/* E8M0: 2^(s-127); 0 -> 2^-127 (an f32 subnormal), 255 -> +inf */
static inline float e8m0(uint32_t s) { return s ? bits_f32(s << 23) : bits_f32(0x00400000u); }

static inline float load_f(int dt, const void *p, int64_t i) {
    if (dt == MLXN_F32) return ((const float *)p)[i];
    if (dt == MLXN_F16) return mlxn_h2f(((const uint16_t *)p)[i]);
    return mlxn_b2f(((const uint16_t *)p)[i]);
}

typedef struct {
    int mode, bits, gs, sdt, ydt;
    int64_t K, n_table_rows; /* the table's rows: the last group of the last row is read exactly */
    int has_g;  /* nvfp4 global scale present */
    float gfac; /* its factor g / 2688 */
    float mult; /* output multiplier, 1 = none */
    const unsigned char *w;
    const void *scales, *biases;
} plan_t;

/* Decodes the codes of one group (gs elements starting at byte p) into q[].
   wide: at least 8 bytes are readable from every unit's start, so a unit of
   3, 5 or 6 bytes is fetched with one 8-byte load (the excess is masked off). */
static inline __attribute__((always_inline)) void codes(const unsigned char *p, int bits, int gs, uint32_t *q,
                                                        int wide) {
    const uint64_t mask = (1u << bits) - 1u;
    for (int u = 0; u < gs / 8; u++) {
        uint64_t v = 0;
        memcpy(&v, p + u * bits, wide ? 8u : (size_t)bits); /* little-endian host */
        for (int t = 0; t < 8; t++) q[u * 8 + t] = (uint32_t)((v >> (t * bits)) & mask);
    }
}

static void codes_any(const unsigned char *p, int bits, int gs, uint32_t *q, int wide) {
    switch (bits) {
    case 2: codes(p, 2, gs, q, 0); break;
    case 3:
        if (wide) codes(p, 3, gs, q, 1);
        else codes(p, 3, gs, q, 0);
        break;
    case 4: codes(p, 4, gs, q, 0); break;
    case 5:
        if (wide) codes(p, 5, gs, q, 1);
        else codes(p, 5, gs, q, 0);
        break;
    case 6:
        if (wide) codes(p, 6, gs, q, 1);
        else codes(p, 6, gs, q, 0);
        break;
    default: codes(p, 8, gs, q, 0); break;
    }
}

static void store_row(int ydt, void *y, const float *v, int64_t n) {
    if (ydt == MLXN_F32) {
        memcpy(y, v, sizeof(float) * (size_t)n);
    } else if (ydt == MLXN_F16) {
        uint16_t *d = y;
        for (int64_t i = 0; i < n; i++) d[i] = mlxn_f2h(v[i]);
    } else {
        uint16_t *d = y;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = mlxn_f2b(v[i]);
    }
}

/* Decodes table row `src` into output row pointer y. */
static void decode_row(const plan_t *P, int64_t src, void *y) {
    const int gs = P->gs, bits = P->bits;
    const int64_t ng = P->K / gs;
    const size_t row_bytes = (size_t)P->K / 8 * (size_t)bits, gbytes = (size_t)gs / 8 * (size_t)bits;
    const size_t yes = mlxn_dtype_size((mlxn_dtype)P->ydt);
    const unsigned char *wr = P->w + (size_t)src * row_bytes;
    uint32_t q[128];
    float v[128];
    for (int64_t g = 0; g < ng; g++) {
        const int64_t gi = src * ng + g;
        /* 8-byte loads stay inside the buffer except in its very last group */
        const unsigned char *gp = wr + (size_t)g * gbytes;
        if (P->mode == MLXN_MLXQ_AFFINE) {
            const float s = load_f(P->sdt, P->scales, gi), b = load_f(P->sdt, P->biases, gi);
            /* q*s then + b: two roundings, as MLX. 8/4/2 bits straight from the
               bytes (loops the compiler vectorizes), else through the units */
            if (bits == 8) {
                for (int i = 0; i < gs; i++) {
                    const float p = (float)gp[i] * s;
                    v[i] = p + b;
                }
            } else if (bits == 4) {
                for (int i = 0; i < gs / 2; i++) {
                    const unsigned c = gp[i];
                    const float p0 = (float)(c & 15u) * s, p1 = (float)(c >> 4) * s;
                    v[2 * i] = p0 + b;
                    v[2 * i + 1] = p1 + b;
                }
            } else if (bits == 2) {
                for (int i = 0; i < gs / 4; i++) {
                    const unsigned c = gp[i];
                    const float p0 = (float)(c & 3u) * s, p1 = (float)((c >> 2) & 3u) * s;
                    const float p2 = (float)((c >> 4) & 3u) * s, p3 = (float)(c >> 6) * s;
                    v[4 * i] = p0 + b;
                    v[4 * i + 1] = p1 + b;
                    v[4 * i + 2] = p2 + b;
                    v[4 * i + 3] = p3 + b;
                }
            } else {
                codes_any(gp, bits, gs, q, src < P->n_table_rows - 1 || g < ng - 1);
#pragma omp simd
                for (int i = 0; i < gs; i++) {
                    const float p = (float)q[i] * s;
                    v[i] = p + b;
                }
            }
        } else {
            const uint32_t sb = ((const unsigned char *)P->scales)[gi];
            float sc;
            if (P->mode == MLXN_MLXQ_NVFP4) {
                sc = e4m3(sb);
                if (P->has_g) sc = sc * P->gfac;
            } else {
                sc = e8m0(sb);
            }
            /* one code per byte (fp8) or two, low nibble first (fp4) */
            if (P->mode == MLXN_MLXQ_MXFP8) {
                for (int i = 0; i < gs; i++) v[i] = E4M3[gp[i]] * sc;
            } else {
                float lut[16]; /* the same products, once per group */
                for (int i = 0; i < 16; i++) lut[i] = E2M1[i] * sc;
                for (int i = 0; i < gs / 2; i++) {
                    v[2 * i] = lut[gp[i] & 15u];
                    v[2 * i + 1] = lut[gp[i] >> 4];
                }
            }
        }
        if (P->mult != 1.0f) {
#pragma omp simd
            for (int i = 0; i < gs; i++) v[i] *= P->mult;
        }
        store_row(P->ydt, (char *)y + (size_t)(g * gs) * yes, v, gs);
    }
}


static void plan_of(const mlxn_op_call *c, plan_t *P) {
    P->n_table_rows = c->u.gen.i[2];
    P->mode = c->u.gen.d[0];
    P->bits = c->u.gen.d[1];
    P->gs = c->u.gen.d[2];
    P->K = c->u.gen.i[1];
    P->sdt = (int)c->u.gen.i[3];
    P->ydt = (int)c->u.gen.i[4];
    P->has_g = (int)c->u.gen.i[6];
    P->gfac = c->u.gen.f[0];
    P->mult = c->u.gen.f[1];
    P->w = c->args[0].ptr;
    P->scales = c->args[1].ptr;
    P->biases = c->args[2].ptr;
}

int mlxn_cpu_dequant_mlx(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    plan_t P;
    plan_of(c, &P);
    const int64_t rows = c->u.gen.i[0];
    const size_t yrow = (size_t)P.K * mlxn_dtype_size((mlxn_dtype)P.ydt);
    char *y = c->args[3].ptr;
    const int nt = (double)rows * (double)P.K < MIN_PAR_ELEMS ? 1 : mlxn_cpu_threads();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; r++) decode_row(&P, r, y + (size_t)r * yrow);
    return MLXN_OK;
}

int mlxn_cpu_gather_mlx(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    plan_t P;
    plan_of(c, &P);
    const int64_t n = c->u.gen.i[0], n_rows = c->u.gen.i[2];
    const int idt = (int)c->u.gen.i[5];
    const void *ids = c->args[4].ptr;
    const size_t yrow = (size_t)P.K * mlxn_dtype_size((mlxn_dtype)P.ydt);
    char *y = c->args[3].ptr;
    const int nt = (double)n * (double)P.K < MIN_PAR_ELEMS ? 1 : mlxn_cpu_threads();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        /* i32 ids below 0 and u32 ids past the table give a zero row */
        const int64_t id = idt == MLXN_I32 ? (int64_t)((const int32_t *)ids)[r] : (int64_t)((const uint32_t *)ids)[r];
        char *dst = y + (size_t)r * yrow;
        if (id < 0 || id >= n_rows) memset(dst, 0, yrow);
        else decode_row(&P, id, dst);
    }
    return MLXN_OK;
}
