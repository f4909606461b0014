/* quant_ggml.c — the ggml block formats: validation and planning of
   mlxn_dequantize_ggml (the device op) and the host quantizers
   mlxn_quantize_ggml (ggml's quantize_row_<type>_ref algorithms).

   Op call layout (backend.h, generic plan c.u.gen):

     dequant_ggml  args: 0 src (raw bytes, any dtype), 1 dst (f32/f16/bf16)
                   i[0] blocks (numel(dst) / block size)
                   i[1] n = numel(dst)
                   i[2] block size (elements), i[3] type size (bytes)
                   d[0] ggml type id, d[1] dst dtype

   Every check happens here, before anything is encoded, so a failing call
   never writes an output. Block layouts (ggml-common.h, verified against
   gguf-py's gguf/quants.py): see the kernels, src/cpu/quant_ggml.c.

   Quantizers: written from ggml-quants.c's algorithms in f32 with every
   product and sum a separate rounding (this file is compiled as ISO C11,
   where GCC does not contract a*b+c into an FMA; numpy, the oracle, never
   does), so the blocks equal gguf-py's bit for bit where it quantizes. The
   float -> int conversions that C leaves undefined out of range (a huge
   x/d when an f16 scale underflowed) go through q_trunc/q_nearest, which
   clamp instead. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- type table ------------------------------------------------------------ */

int mlxn_dequantize_ggml_supported(int type) {
    switch (type) {
    case MLXN_GGML_F32: case MLXN_GGML_F16: case MLXN_GGML_BF16: case MLXN_GGML_F64:
    case MLXN_GGML_I8: case MLXN_GGML_I16: case MLXN_GGML_I32:
    case MLXN_GGML_Q4_0: case MLXN_GGML_Q4_1: case MLXN_GGML_Q5_0: case MLXN_GGML_Q5_1:
    case MLXN_GGML_Q8_0: case MLXN_GGML_Q8_1: case MLXN_GGML_Q2_K: case MLXN_GGML_Q3_K:
    case MLXN_GGML_Q4_K: case MLXN_GGML_Q5_K: case MLXN_GGML_Q6_K: case MLXN_GGML_Q8_K:
    case MLXN_GGML_IQ4_NL: case MLXN_GGML_IQ4_XS: case MLXN_GGML_MXFP4: case MLXN_GGML_NVFP4:
    case MLXN_GGML_Q1_0: case MLXN_GGML_Q2_0:
        return 1;
    default:
        return 0;
    }
}

int mlxn_quantize_ggml_supported(int type) {
    switch (type) {
    case MLXN_GGML_Q4_0: case MLXN_GGML_Q4_1: case MLXN_GGML_Q5_0: case MLXN_GGML_Q5_1:
    case MLXN_GGML_Q8_0: case MLXN_GGML_Q8_1: case MLXN_GGML_Q4_K: case MLXN_GGML_Q6_K:
    case MLXN_GGML_MXFP4:
        return 1;
    default:
        return 0;
    }
}

size_t mlxn_quantize_ggml_size(int type, int64_t n) {
    const int64_t blck = mlxn_ggml_block_size((mlxn_ggml_type)type);
    const int64_t tsz = mlxn_ggml_type_size((mlxn_ggml_type)type);
    if (blck <= 0 || tsz <= 0 || n <= 0 || n % blck) return 0;
    const int64_t nb = n / blck;
    if (nb > INT64_MAX / tsz || (uint64_t)(nb * tsz) > SIZE_MAX) return 0;
    return (size_t)(nb * tsz);
}

/* ---- dequantize_ggml: validation -------------------------------------------- */

mlxn_status mlxn_dequantize_ggml(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst,
                                 const mlxn_dequantize_ggml_params *p) {
    static const char op[] = "dequantize_ggml";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "src", e, src))) return s;
    if ((s = mlxn_check_buffer(op, "dst", e, dst))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    const int t = p->type;
    const int64_t blck = mlxn_ggml_block_size((mlxn_ggml_type)t), tsz = mlxn_ggml_type_size((mlxn_ggml_type)t);
    if (blck <= 0 || tsz <= 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: type id %d is not a ggml type", op, t);
    if (!mlxn_dequantize_ggml_supported(t))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: type %s (id %d) is not supported", op,
                              mlxn_ggml_type_name((mlxn_ggml_type)t), t);
    if (!mlxn_is_float_dtype(dst->dtype))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dst dtype (%s) must be f32, f16 or bf16", op,
                              mlxn_dtype_name(dst->dtype));
    const int64_t row = dst->ndim > 0 ? dst->shape[dst->ndim - 1] : 1;
    if (row % blck)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: dst rows of %lld elements are not a multiple of the %s block size %lld", op,
                              (long long)row, mlxn_ggml_type_name((mlxn_ggml_type)t), (long long)blck);
    const int64_t nblocks = dst->numel / blck;
    /* nblocks * tsz <= numel * 292 / 256 ... numel * 8: cannot overflow int64 for a valid buffer */
    const uint64_t need = (uint64_t)nblocks * (uint64_t)tsz;
    if ((uint64_t)src->nbytes != need)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: src has %zu bytes, %lld elements of %s need %llu (%lld blocks of %lld bytes)", op,
                              src->nbytes, (long long)dst->numel, mlxn_ggml_type_name((mlxn_ggml_type)t),
                              (unsigned long long)need, (long long)nblocks, (long long)tsz);
    if (mlxn_buffers_overlap(src, dst)) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dst overlaps src", op);
    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_DEQUANT_GGML;
    c.name = op;
    c.n_args = 2;
    c.args[0] = mlxn_arg_of(src);
    c.args[1] = mlxn_arg_of(dst);
    c.bufs[0] = src;
    c.bufs[1] = dst;
    c.u.gen.i[0] = nblocks;
    c.u.gen.i[1] = dst->numel;
    c.u.gen.i[2] = blck;
    c.u.gen.i[3] = tsz;
    c.u.gen.d[0] = t;
    c.u.gen.d[1] = (int32_t)dst->dtype;
    return mlxn_encode(e, &c);
}

/* ---- quantizers -------------------------------------------------------------- */

#define QK_K 256
#define GROUP_MAX_EPS 1e-15f

static void put_f16(uint8_t *p, float v) {
    const uint16_t h = mlxn_f32_to_f16(v);
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}
static float get_f16(const uint8_t *p) { return mlxn_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* Truncation toward zero as a C cast, clamped to the int32 range (NaN -> 0)
   instead of undefined. */
static int q_trunc(float v) {
    if (!(v == v)) return 0;
    if (v >= 2147483520.0f) return INT32_MAX;
    if (v <= -2147483648.0f) return INT32_MIN;
    return (int)v;
}

/* ggml's nearest_int: round half to even through the 1.5*2^23 bias trick,
   valid for |v| <= 4194303; beyond that (and NaN) clamped, not undefined. */
static int q_nearest(float v) {
    if (!(v == v)) return 0;
    if (v > 4194303.f) v = 4194303.f;
    if (v < -4194303.f) v = -4194303.f;
    const float b = v + 12582912.f;
    int32_t i;
    memcpy(&i, &b, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Signed value of the largest |x| (the first one on ties), and that |x|. */
static float signed_absmax(const float *x, int n, float *amax_out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) {
            amax = fabsf(v);
            max = v;
        }
    }
    *amax_out = amax;
    return max;
}

/* Q4_0 / Q5_0: d = max / -(2^(bits-1)), q = min(qmax, (int)(x/d... *id + offs)). */
static void quant_q4_0(const float *x, uint8_t *y) {
    float amax;
    const float max = signed_absmax(x, 32, &amax);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 16; j++) {
        const float x0 = x[j] * id, x1 = x[16 + j] * id;
        const float v0 = x0 + 8.5f, v1 = x1 + 8.5f;
        const int q0 = clampi(q_trunc(v0), 0, 15), q1 = clampi(q_trunc(v1), 0, 15);
        y[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void quant_q5_0(const float *x, uint8_t *y) {
    float amax;
    const float max = signed_absmax(x, 32, &amax);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        const float x0 = x[j] * id, x1 = x[16 + j] * id;
        const float v0 = x0 + 16.5f, v1 = x1 + 16.5f;
        const int q0 = clampi(q_trunc(v0), 0, 31), q1 = clampi(q_trunc(v1), 0, 31);
        y[6 + j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
        qh |= (uint32_t)((q0 >> 4) & 1) << j;
        qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++) y[2 + k] = (uint8_t)(qh >> (8 * k));
}

/* Q4_1 / Q5_1: d = (max - min) / (2^bits - 1), m = min, q = (int)((x - min)*id + 0.5). */
static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static void quant_q4_1(const float *x, uint8_t *y) {
    float min, max;
    min_max(x, 32, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, min);
    for (int j = 0; j < 16; j++) {
        const float a0 = x[j] - min, a1 = x[16 + j] - min;
        const float x0 = a0 * id, x1 = a1 * id;
        const float v0 = x0 + 0.5f, v1 = x1 + 0.5f;
        const int q0 = clampi(q_trunc(v0), 0, 15), q1 = clampi(q_trunc(v1), 0, 15);
        y[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void quant_q5_1(const float *x, uint8_t *y) {
    float min, max;
    min_max(x, 32, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        const float a0 = x[j] - min, a1 = x[16 + j] - min;
        const float x0 = a0 * id, x1 = a1 * id;
        const float v0 = x0 + 0.5f, v1 = x1 + 0.5f;
        const int q0 = clampi(q_trunc(v0), 0, 31), q1 = clampi(q_trunc(v1), 0, 31);
        y[8 + j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
        qh |= (uint32_t)((q0 >> 4) & 1) << j;
        qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++) y[4 + k] = (uint8_t)(qh >> (8 * k));
}

/* roundf of a value known to be within [-127.5, 127.5] up to rounding; clamped. */
static int q_round(float v) { return clampi(q_trunc(roundf(v)), -128, 127); }

static void quant_q8_0(const float *x, uint8_t *y, int with_sum) {
    float amax;
    (void)signed_absmax(x, 32, &amax);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    uint8_t *qs = y + (with_sum ? 4 : 2);
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        const float v = x[j] * id;
        const int q = q_round(v);
        qs[j] = (uint8_t)(int8_t)q;
        sum += q;
    }
    if (with_sum) put_f16(y + 2, (float)sum * d);
}

/* MXFP4: e = floor(log2(amax)) - 2 + 127 (log2 rounded to f32 as log2f and
   numpy's float32 log2 do), d = 2^(e-128), each value the nearest of
   kvalues * d (the first on ties). */
static const int8_t K_FP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static float e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void quant_mxfp4(const float *x, uint8_t *y) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]);
    int ei = 0;
    if (amax > 0.0f) {
        const float l2 = (float)log2((double)amax);
        ei = (int)floorf(l2) - 2 + 127; /* within [-24, 253] for finite amax; cast to uint8 as ggml */
    }
    const uint8_t e = (uint8_t)(ei & 0xFF);
    const float d = e8m0_half(e);
    y[0] = e;
    uint8_t q[32];
    for (int j = 0; j < 32; j++) {
        int best = 0;
        float best_err = fabsf((float)K_FP4[0] * d - x[j]);
        for (int k = 1; k < 16; k++) {
            const float p = (float)K_FP4[k] * d;
            const float err = fabsf(p - x[j]);
            if (err < best_err) {
                best = k;
                best_err = err;
            }
        }
        q[j] = (uint8_t)best;
    }
    for (int j = 0; j < 16; j++) y[1 + j] = (uint8_t)(q[j] | (q[16 + j] << 4));
}

/* make_qkx2_quants (ggml-quants.c): an affine fit scale*L + min of n values
   with weights, L in [0, nmax], searching nstep+1 inverse scales. Returns the
   scale; *the_min = -min (>= 0). */
static float make_qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min, uint8_t *Laux,
                       float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float wx = w[i] * x[i];
        sum_w += w[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        const float t = x[i] - min;
        const int l = q_nearest(iscale * t);
        L[i] = (uint8_t)clampi(l, 0, nmax);
        const float sl = scale * (float)L[i];
        const float a = sl + min;
        float diff = a - x[i];
        diff = diff * diff;
        const float wd = w[i] * diff;
        best_error += wd;
    }
    for (int is = 0; is <= nstep; is++) {
        const float rd = rdelta * (float)is;
        const float num = rmin + rd;
        const float num2 = num + (float)nmax;
        iscale = num2 / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const float t = x[i] - min;
            const int l = clampi(q_nearest(iscale * t), 0, nmax);
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            sum_l += wl;
            const float wll = wl * (float)l;
            sum_l2 += wll;
            const float wlx = wl * x[i];
            sum_xl += wlx;
        }
        const float D1 = sum_w * sum_l2, D2 = sum_l * sum_l;
        const float D = D1 - D2;
        if (D > 0) {
            const float s1 = sum_w * sum_xl, s2 = sum_x * sum_l;
            float this_scale = (s1 - s2) / D;
            const float m1 = sum_l2 * sum_x, m2 = sum_l * sum_xl;
            float this_min = (m1 - m2) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                const float sl = this_scale * (float)Laux[i];
                const float a = sl + this_min;
                float diff = a - x[i];
                diff = diff * diff;
                const float wd = w[i] * diff;
                cur_error += wd;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

static void quant_q4_K(const float *x, uint8_t *y) {
    uint8_t L[QK_K], Laux[32];
    float w[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) {
            const float sq = xs[l] * xs[l];
            sum_x2 += sq;
        }
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = make_qkx2(32, 15, xs, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *sc = y + 4;
    memset(sc, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)q_nearest(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)q_nearest(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    put_f16(y, max_scale / 63.f);
    put_f16(y + 2, max_min / 63.f);
    const float dd = get_f16(y), dmin = get_f16(y + 2);
    for (int j = 0; j < 8; j++) {
        int s, m;
        if (j < 4) {
            s = sc[j] & 63;
            m = sc[j + 4] & 63;
        } else {
            s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
            m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        }
        const float d = dd * (float)s;
        if (d == 0.0f) continue;
        const float dm = dmin * (float)m;
        for (int ii = 0; ii < 32; ii++) {
            const float a = x[32 * j + ii] + dm;
            L[32 * j + ii] = (uint8_t)clampi(q_nearest(a / d), 0, 15);
        }
    }
    uint8_t *q = y + 16;
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

/* make_qx_quants with rmse_type 1 (weights x^2) and no importance weights:
   a symmetric fit scale*l, l in [-nmax, nmax-1], searching 18 inverse
   scales around -nmax/max. L receives l + nmax. */
static float make_qx(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = (float)(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = q_nearest(iscale * x[i]);
        l = clampi(l, -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        const float wx = w * x[i];
        const float wxl = wx * (float)l;
        sumlx += wxl;
        const float wl = w * (float)l;
        const float wll = wl * (float)l;
        suml2 += wll;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float t = 0.1f * (float)is;
        const float num = (float)nmax + t;
        iscale = -num / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = clampi(q_nearest(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            const float wx = w * x[i];
            const float wxl = wx * (float)l;
            sumlx += wxl;
            const float wl = w * (float)l;
            const float wll = wl * (float)l;
            suml2 += wll;
        }
        const float lhs = sumlx * sumlx, rhs = best * suml2;
        if (suml2 > 0 && lhs > rhs) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(q_nearest(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void quant_q6_K(const float *x, uint8_t *y) {
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        const float scale = make_qx(16, 32, x + 16 * ib, L + 16 * ib);
        scales[ib] = scale;
        const float as = fabsf(scale);
        if (as > max_abs_scale) {
            max_abs_scale = as;
            max_scale = scale;
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, 210);
        return;
    }
    const float iscale = -128.f / max_scale;
    put_f16(y + 208, 1 / iscale);
    int8_t *sc = (int8_t *)(y + 192);
    for (int ib = 0; ib < 16; ib++) {
        int v = q_nearest(iscale * scales[ib]);
        if (v > 127) v = 127;
        if (v < -128) v = -128;
        sc[ib] = (int8_t)v;
    }
    const float dd = get_f16(y + 208);
    for (int j = 0; j < 16; j++) {
        const float d = dd * (float)sc[j];
        if (d == 0.0f) continue;
        for (int ii = 0; ii < 16; ii++) {
            const int l = clampi(q_nearest(x[16 * j + ii] / d), -32, 31);
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }
    uint8_t *ql = y, *qh = y + 128;
    for (int j = 0; j < QK_K; j += 128) {
        for (int l = 0; l < 32; l++) {
            const uint8_t a = (uint8_t)L[j + l], b = (uint8_t)L[j + l + 32], c = (uint8_t)L[j + l + 64],
                          dq = (uint8_t)L[j + l + 96];
            ql[l] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
            ql[l + 32] = (uint8_t)((b & 0xF) | ((dq & 0xF) << 4));
            qh[l] = (uint8_t)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((dq >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

mlxn_status mlxn_quantize_ggml(int type, const float *src, int64_t n, void *dst, size_t dst_bytes) {
    static const char op[] = "quantize_ggml";
    const int64_t blck = mlxn_ggml_block_size((mlxn_ggml_type)type), tsz = mlxn_ggml_type_size((mlxn_ggml_type)type);
    if (blck <= 0 || tsz <= 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: type id %d is not a ggml type", op, type);
    if (!mlxn_quantize_ggml_supported(type))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: no quantizer for type %s (id %d)", op,
                              mlxn_ggml_type_name((mlxn_ggml_type)type), type);
    if (!src) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: src is NULL", op);
    if (!dst) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dst is NULL", op);
    if (n <= 0 || n % blck)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: n (%lld) must be a positive multiple of the %s block size %lld",
                              op, (long long)n, mlxn_ggml_type_name((mlxn_ggml_type)type), (long long)blck);
    const size_t need = mlxn_quantize_ggml_size(type, n);
    if (need == 0 || dst_bytes != need)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dst_bytes (%zu) must be %zu for %lld elements of %s", op,
                              dst_bytes, need, (long long)n, mlxn_ggml_type_name((mlxn_ggml_type)type));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: src[%lld] is %s (values must be finite)", op,
                                  (long long)i, isnan(src[i]) ? "nan" : "inf");
    const int64_t nb = n / blck;
    uint8_t *out = dst;
    for (int64_t b = 0; b < nb; b++) {
        const float *x = src + b * blck;
        uint8_t *y = out + b * tsz;
        switch (type) {
        case MLXN_GGML_Q4_0: quant_q4_0(x, y); break;
        case MLXN_GGML_Q4_1: quant_q4_1(x, y); break;
        case MLXN_GGML_Q5_0: quant_q5_0(x, y); break;
        case MLXN_GGML_Q5_1: quant_q5_1(x, y); break;
        case MLXN_GGML_Q8_0: quant_q8_0(x, y, 0); break;
        case MLXN_GGML_Q8_1: quant_q8_0(x, y, 1); break;
        case MLXN_GGML_MXFP4: quant_mxfp4(x, y); break;
        case MLXN_GGML_Q4_K: quant_q4_K(x, y); break;
        default: quant_q6_K(x, y); break;
        }
    }
    return MLXN_OK;
}
