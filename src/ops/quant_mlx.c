/* quant_mlx.c — validation and planning of the MLX quantized formats:
   mlxn_dequantize_mlx, mlxn_gather_mlx (device ops) and mlxn_quantize_mlx
   (host quantizer). Format and arithmetic: include/mlxn.h "Quantized
   formats: MLX".

   Op call layout (backend.h, generic plan c.u.gen), shared by both ops:

     args: 0 w (u32), 1 scales, 2 biases (ptr NULL for the fp modes), 3 y,
           4 ids (gather_mlx only; NULL for dequantize_mlx)
     i[0] rows of y (dequantize: numel(y) / K; gather: numel(ids))
     i[1] K (elements per row)
     i[2] n_rows of the table (gather; = i[0] for dequantize)
     i[3] scales dtype (mlxn_dtype; u8 for the fp modes)
     i[4] y dtype
     i[5] ids dtype (gather; -1 for dequantize)
     d[0] mode (mlxn_mlxq_mode), d[1] bits, d[2] group_size, d[3] 1 for gather
     i[6] 1 when there is an NVFP4 global scale (then f[0] is its factor)
     f[0] NVFP4 global factor g / 2688 in f32 (may underflow to 0: still applied)
     f[1] gather multiplier (1: none)

   Every row of w is a bit stream of K*bits bits = K*bits/8 bytes, a whole
   number of u32 words; as the rows are contiguous the whole of w is one
   stream, and 8 consecutive elements always occupy `bits` whole bytes
   (a "unit"). Both backends decode by units. Nothing is written before
   mlxn_encode, so a failing call leaves every output untouched. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *mode_name(int m) {
    switch (m) {
    case MLXN_MLXQ_AFFINE: return "affine";
    case MLXN_MLXQ_MXFP4: return "mxfp4";
    case MLXN_MLXQ_MXFP8: return "mxfp8";
    case MLXN_MLXQ_NVFP4: return "nvfp4";
    default: return "invalid";
    }
}

static mlxn_status check_params(const char *op, const mlxn_mlxq_params *p) {
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    const int m = (int)p->mode, b = p->bits, g = p->group_size;
    switch (m) {
    case MLXN_MLXQ_AFFINE:
        if (b < 2 || b > 8 || b == 7)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: affine bits (%d) must be 2, 3, 4, 5, 6 or 8", op, b);
        if (g != 32 && g != 64 && g != 128)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: affine group_size (%d) must be 32, 64 or 128", op,
                                  g);
        break;
    case MLXN_MLXQ_MXFP4:
    case MLXN_MLXQ_MXFP8:
    case MLXN_MLXQ_NVFP4: {
        const int wb = m == MLXN_MLXQ_MXFP8 ? 8 : 4, wg = m == MLXN_MLXQ_NVFP4 ? 16 : 32;
        if (b != wb)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s bits (%d) must be %d", op, mode_name(m), b, wb);
        if (g != wg)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s group_size (%d) must be %d", op, mode_name(m), g,
                                  wg);
        break;
    }
    default: return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mode (%d) is not an mlxn_mlxq_mode", op, m);
    }
    if (m == MLXN_MLXQ_NVFP4) {
        if (!(isfinite(p->global_scale) && p->global_scale >= 0.0f))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: nvfp4 global_scale (%g) must be 0 (none) or finite and > 0", op,
                                  (double)p->global_scale);
    } else if (p->global_scale != 0.0f) {
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: global_scale (%g) must be 0 for mode %s", op,
                              (double)p->global_scale, mode_name(m));
    }
    return MLXN_OK;
}

static void shape_str(char *buf, size_t n, const mlxn_buffer *b) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < b->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)b->shape[i]);
}

/* b's shape equals `lead` (ndim nl) followed by `last`. */
static bool shape_is(const mlxn_buffer *b, int nl, const int64_t *lead, int64_t last) {
    if (b->ndim != nl + 1 || b->shape[nl] != last) return false;
    for (int i = 0; i < nl; i++)
        if (b->shape[i] != lead[i]) return false;
    return true;
}

static mlxn_status shape_error(const char *op, const char *what, const mlxn_buffer *b, const char *lead_name,
                               const mlxn_buffer *lb, int nl, int64_t last) {
    char bs[160], ls[160];
    shape_str(bs, sizeof bs, b);
    ls[0] = 0;
    size_t o = 0;
    for (int i = 0; i < nl && o < sizeof ls; i++)
        o += (size_t)snprintf(ls + o, sizeof ls - o, "%s%lld", i ? "," : "", (long long)lb->shape[i]);
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s shape [%s] must be %s leading dims [%s] + [%lld]", op,
                          what, bs, lead_name, ls, (long long)last);
}

/* The checks common to both ops once K and the leading dims (of y for
   dequantize, of the table for gather) are known: w, scales, biases against
   the params. `tl` are the table's leading dims (count ntl). */
static mlxn_status check_table(const char *op, const mlxn_mlxq_params *p, const mlxn_buffer *w,
                               const mlxn_buffer *scales, const mlxn_buffer *biases, const mlxn_buffer *lead_buf,
                               const char *lead_name, int ntl, int64_t K) {
    const int m = (int)p->mode;
    if (K % p->group_size != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: K (%lld) must be a multiple of group_size (%d)", op,
                              (long long)K, p->group_size);
    if (w->dtype != MLXN_U32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w dtype (%s) must be u32", op, mlxn_dtype_name(w->dtype));
    /* words per row K*bits/32, computed without overflow: K % 16 == 0 (every
       group size is), and K/16 is even whenever bits is odd (groups >= 32) */
    const int64_t kw = K / 16 * p->bits / 2, ks = K / p->group_size;
    if (!shape_is(w, ntl, lead_buf->shape, kw)) return shape_error(op, "w", w, lead_name, lead_buf, ntl, kw);
    if (m == MLXN_MLXQ_AFFINE) {
        if (!mlxn_is_float_dtype(scales->dtype))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: affine scales dtype (%s) must be f32, f16 or bf16",
                                  op, mlxn_dtype_name(scales->dtype));
        if (!biases) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: affine mode needs biases (NULL given)", op);
        if (biases->dtype != scales->dtype)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: biases dtype (%s) must equal scales dtype (%s)", op,
                                  mlxn_dtype_name(biases->dtype), mlxn_dtype_name(scales->dtype));
    } else {
        if (scales->dtype != MLXN_U8)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s scales dtype (%s) must be u8", op, mode_name(m),
                                  mlxn_dtype_name(scales->dtype));
        if (biases) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s mode takes no biases", op, mode_name(m));
    }
    if (!shape_is(scales, ntl, lead_buf->shape, ks))
        return shape_error(op, "scales", scales, lead_name, lead_buf, ntl, ks);
    if (biases && !shape_is(biases, ntl, lead_buf->shape, ks))
        return shape_error(op, "biases", biases, lead_name, lead_buf, ntl, ks);
    return MLXN_OK;
}

static mlxn_status check_no_overlap(const char *op, const mlxn_buffer *y, const mlxn_buffer *in, const char *name) {
    if (in && mlxn_buffers_overlap(y, in))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y overlaps %s", op, name);
    return MLXN_OK;
}

static void fill_call(mlxn_op_call *c, mlxn_op_kind k, const char *op, const mlxn_mlxq_params *p,
                      const mlxn_buffer *w, const mlxn_buffer *scales, const mlxn_buffer *biases, mlxn_buffer *y,
                      const mlxn_buffer *ids, int64_t rows, int64_t K, int64_t n_rows, float mult) {
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->name = op;
    c->n_args = 5;
    c->args[0] = mlxn_arg_of(w);
    c->args[1] = mlxn_arg_of(scales);
    c->args[2] = mlxn_arg_of(biases);
    c->args[3] = mlxn_arg_of(y);
    c->args[4] = mlxn_arg_of(ids);
    c->bufs[0] = w;
    c->bufs[1] = scales;
    c->bufs[2] = biases;
    c->bufs[3] = y;
    c->bufs[4] = ids;
    c->u.gen.i[0] = rows;
    c->u.gen.i[1] = K;
    c->u.gen.i[2] = n_rows;
    c->u.gen.i[3] = (int64_t)scales->dtype;
    c->u.gen.i[4] = (int64_t)y->dtype;
    c->u.gen.i[5] = ids ? (int64_t)ids->dtype : -1;
    c->u.gen.d[0] = (int32_t)p->mode;
    c->u.gen.d[1] = p->bits;
    c->u.gen.d[2] = p->group_size;
    c->u.gen.d[3] = ids ? 1 : 0;
    const bool has_g = p->mode == MLXN_MLXQ_NVFP4 && p->global_scale != 0.0f;
    c->u.gen.i[6] = has_g ? 1 : 0;
    c->u.gen.f[0] = has_g ? p->global_scale / 2688.0f : 0.0f;
    c->u.gen.f[1] = mult;
}

mlxn_status mlxn_dequantize_mlx(mlxn_encoder *e, const mlxn_buffer *w, const mlxn_buffer *scales,
                                const mlxn_buffer *biases, mlxn_buffer *y, const mlxn_mlxq_params *p) {
    static const char op[] = "dequantize_mlx";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "scales", e, scales))) return s;
    if (biases && (s = mlxn_check_buffer(op, "biases", e, biases))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = check_params(op, p))) return s;
    if ((s = mlxn_check_float_dtype(op, y, "y"))) return s;
    if (y->ndim < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y must have at least 1 dim ([..., K])", op);
    const int nl = y->ndim - 1;
    const int64_t K = y->shape[nl];
    if ((s = check_table(op, p, w, scales, biases, y, "y's", nl, K))) return s;
    if ((s = check_no_overlap(op, y, w, "w"))) return s;
    if ((s = check_no_overlap(op, y, scales, "scales"))) return s;
    if ((s = check_no_overlap(op, y, biases, "biases"))) return s;
    const int64_t rows = y->numel / K;
    mlxn_op_call c;
    fill_call(&c, MLXN_OPK_DEQUANT_MLX, op, p, w, scales, biases, y, NULL, rows, K, rows, 1.0f);
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_gather_mlx(mlxn_encoder *e, const mlxn_buffer *w, const mlxn_buffer *scales,
                            const mlxn_buffer *biases, const mlxn_buffer *ids, mlxn_buffer *y,
                            const mlxn_gather_mlx_params *p) {
    static const char op[] = "gather_mlx";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "scales", e, scales))) return s;
    if (biases && (s = mlxn_check_buffer(op, "biases", e, biases))) return s;
    if ((s = mlxn_check_buffer(op, "ids", e, ids))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_params(op, &p->q))) return s;
    if (!isfinite(p->scale))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: scale (%g) must be finite", op, (double)p->scale);
    if ((s = mlxn_check_float_dtype(op, y, "y"))) return s;
    if (ids->dtype != MLXN_I32 && ids->dtype != MLXN_U32)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: ids dtype %s is not supported (i32, u32)", op,
                              mlxn_dtype_name(ids->dtype));
    if (w->ndim != 2)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w must be 2-D [n_rows, K*bits/32], has %d dims", op,
                              w->ndim);
    /* y is ids' shape + [K] */
    if (y->ndim != ids->ndim + 1) {
        char ys[160], is[160];
        shape_str(ys, sizeof ys, y);
        shape_str(is, sizeof is, ids);
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y shape [%s] must be ids shape [%s] + [K]", op, ys, is);
    }
    const int64_t K = y->shape[ids->ndim];
    if (!shape_is(y, ids->ndim, ids->shape, K)) return shape_error(op, "y", y, "ids'", ids, ids->ndim, K);
    if ((s = check_table(op, &p->q, w, scales, biases, w, "w's", 1, K))) return s;
    if ((s = check_no_overlap(op, y, w, "w"))) return s;
    if ((s = check_no_overlap(op, y, scales, "scales"))) return s;
    if ((s = check_no_overlap(op, y, biases, "biases"))) return s;
    if ((s = check_no_overlap(op, y, ids, "ids"))) return s;
    mlxn_op_call c;
    fill_call(&c, MLXN_OPK_GATHER_MLX, op, &p->q, w, scales, biases, y, ids, ids->numel, K, w->shape[0], p->scale);
    return mlxn_encode(e, &c);
}

/* ---- host quantizer ------------------------------------------------------------ */

static float load_x(mlxn_dtype t, const void *x, size_t i) {
    if (t == MLXN_F32) return ((const float *)x)[i];
    if (t == MLXN_F16) return mlxn_f16_to_f32(((const uint16_t *)x)[i]);
    return mlxn_bf16_to_f32(((const uint16_t *)x)[i]);
}

static void store_s(mlxn_dtype t, void *d, size_t i, float v) {
    if (t == MLXN_F32) ((float *)d)[i] = v;
    else if (t == MLXN_F16) ((uint16_t *)d)[i] = mlxn_f32_to_f16(v);
    else ((uint16_t *)d)[i] = mlxn_f32_to_bf16(v);
}

/* ---- the fp modes (MLX's fp_quantize, evaluated as mlx[cpu] does) ----------------
   MLX runs these modes as a chain of array ops in x's dtype T, each result
   rounded to T (rnd below; f32: none), except where an f32 operand promotes
   the rest of the chain to f32 (nvfp4's scale_encode). Per group:
     mx*:   sc = rnd(max|x| / M) (M = 6 for fp4, 448 for fp8);
            e = sc == 0 ? 0 : ceil(log2(sc)) (log2 in f32: what mlx 0.32.4
            produces for every dtype);  scale byte = e + 127 (mod 256);
            v = rnd(x / rnd(2^e))
     nvfp4: se = global_scale ? fl32(2688 / global_scale) : 1;
            s8 = to_fp8(fl32(rnd(max|x| / 6) * se));
            v = fl32(rnd(x / e4m3(s8)) * se)
   then code = to_fp8(v) (mxfp8), or for fp4 the first index i minimizing
   |v - E2M1[i]| computed in v's precision (MLX's argmin; ties go to the
   lower index, so +0 beats -0 and 0.75 maps to 0.5). to_fp8 is MLX's
   round-to-nearest-even E4M3 conversion with saturation at 480 (to 0x7E). */

static float rnd_t(mlxn_dtype t, float v) {
    if (t == MLXN_F16) return mlxn_f16_to_f32(mlxn_f32_to_f16(v));
    if (t == MLXN_BF16) return mlxn_bf16_to_f32(mlxn_f32_to_bf16(v));
    return v;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* MLX's ToFP8 (mlx/backend/cpu/unary_ops.h) */
static uint8_t to_fp8(float f) {
    uint32_t b = f32_bits(f);
    const uint32_t sign = b & 0x80000000u;
    b ^= sign;
    uint8_t r;
    if (b >= (543u << 21)) {
        r = 0x7E;
    } else if (b < (121u << 23)) {
        /* subnormal: the float add rounds the value onto the 2^-9 grid */
        r = (uint8_t)(f32_bits(bits_to_f32(b) + bits_to_f32(141u << 23)) - (141u << 23));
    } else {
        const uint32_t mant_odd = (b >> 20) & 1u;
        b += ((uint32_t)(7 - 127) << 23) + 0x7FFFFu;
        b += mant_odd;
        r = (uint8_t)(b >> 20);
    }
    return (uint8_t)(r | (sign >> 24));
}

static float from_fp8(uint8_t v) {
    const uint32_t e = (v >> 3) & 15u, m = v & 7u;
    if ((v & 0x7Fu) == 0x7Fu) return NAN;
    const float a = e ? bits_to_f32(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f;
    return (v & 0x80u) ? -a : a;
}

static const float FP4_LUT[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                  -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* argmin_i |rnd(v - lut_i)| (first minimum; a NaN v keeps index 0) */
static uint32_t fp4_code(mlxn_dtype t, float v) {
    uint32_t best = 0;
    float bd = fabsf(rnd_t(t, v - FP4_LUT[0]));
    for (uint32_t i = 1; i < 16; i++) {
        const float d = fabsf(rnd_t(t, v - FP4_LUT[i]));
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

static void fp_quantize(const void *x, mlxn_dtype t, size_t n, const mlxn_mlxq_params *p, uint32_t *wq,
                        void *scales) {
    const int gs = p->group_size, fp8 = p->mode == MLXN_MLXQ_MXFP8;
    const float maxval = fp8 ? 448.0f : 6.0f;
    unsigned char *out = (unsigned char *)wq, *sb = scales;
    const size_t n_groups = n / (size_t)gs;
    const float se = p->global_scale != 0.0f ? 2688.0f / p->global_scale : 1.0f;
    for (size_t g = 0; g < n_groups; g++) {
        const size_t x0 = g * (size_t)gs;
        float amax = 0.0f;
        for (int j = 0; j < gs; j++) {
            const float a = fabsf(load_x(t, x, x0 + (size_t)j));
            amax = amax < a ? a : amax;
        }
        const float sc = rnd_t(t, amax / maxval);
        float vals[32];
        if (p->mode == MLXN_MLXQ_NVFP4) {
            /* f32 from here on: scale_encode is an f32 array */
            const uint8_t s8 = to_fp8(sc * se);
            const float d = rnd_t(t, from_fp8(s8));
            for (int j = 0; j < gs; j++) vals[j] = rnd_t(t, load_x(t, x, x0 + (size_t)j) / d) * se;
            sb[g] = s8;
            for (int j = 0; j < gs; j++) {
                const uint32_t q = fp4_code(MLXN_F32, vals[j]);
                if (j & 1) out[(x0 + (size_t)j) / 2] |= (unsigned char)(q << 4);
                else out[(x0 + (size_t)j) / 2] = (unsigned char)q;
            }
            continue;
        }
        const float e = sc == 0.0f ? 0.0f : ceilf(log2f(sc));
        const float pw = rnd_t(t, exp2f(e)); /* power(2, e) in T: exact or over/underflowed */
        for (int j = 0; j < gs; j++) vals[j] = rnd_t(t, load_x(t, x, x0 + (size_t)j) / pw);
        sb[g] = (uint8_t)(int)(e + 127.0f);
        for (int j = 0; j < gs; j++) {
            if (fp8) {
                out[x0 + (size_t)j] = to_fp8(vals[j]);
            } else {
                const uint32_t q = fp4_code(t, vals[j]);
                if (j & 1) out[(x0 + (size_t)j) / 2] |= (unsigned char)(q << 4);
                else out[(x0 + (size_t)j) / 2] = (unsigned char)q;
            }
        }
    }
}

mlxn_status mlxn_quantize_mlx(const void *x, mlxn_dtype x_dtype, int64_t rows, int64_t k, const mlxn_mlxq_params *p,
                              uint32_t *wq, void *scales, void *biases, mlxn_dtype s_dtype) {
    static const char op[] = "quantize_mlx";
    mlxn_status s;
    if ((s = check_params(op, p))) return s;
    const bool affine = p->mode == MLXN_MLXQ_AFFINE;
    if (!x || !wq || !scales || (affine && !biases))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op,
                              !x ? "x" : !wq ? "wq" : !scales ? "scales" : "biases");
    if (!affine && biases)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s mode takes no biases (pass NULL)", op,
                              mode_name((int)p->mode));
    if (!mlxn_is_float_dtype(x_dtype))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x dtype (%s) must be f32, f16 or bf16", op,
                              mlxn_dtype_name(x_dtype));
    if (affine && !mlxn_is_float_dtype(s_dtype))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: scales dtype (%s) must be f32, f16 or bf16", op,
                              mlxn_dtype_name(s_dtype));
    if (!affine && s_dtype != MLXN_U8)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s scales dtype (%s) must be u8", op,
                              mode_name((int)p->mode), mlxn_dtype_name(s_dtype));
    if (rows < 1 || k < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) and k (%lld) must be >= 1", op,
                              (long long)rows, (long long)k);
    const int bits = p->bits, gs = p->group_size;
    if (k % gs != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: k (%lld) must be a multiple of group_size (%d)", op,
                              (long long)k, gs);
    if (rows > INT64_MAX / k || rows * k > (int64_t)(SIZE_MAX / 4))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) x k (%lld) is too large", op,
                              (long long)rows, (long long)k);
    const size_t n = (size_t)rows * (size_t)k;
    for (size_t i = 0; i < n; i++) {
        const float v = load_x(x_dtype, x, i);
        if (!isfinite(v))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x[%lld, %lld] (%g) is not finite", op,
                                  (long long)(i / (size_t)k), (long long)(i % (size_t)k), (double)v);
    }
    if (!affine) {
        fp_quantize(x, x_dtype, n, p, wq, scales);
        return MLXN_OK;
    }
    const float n_bins = (float)((1 << bits) - 1), eps = 1e-7f;
    const size_t n_groups = n / (size_t)gs;
    unsigned char *out = (unsigned char *)wq;
    /* the whole output is one LSB-first bit stream: group g's codes start at
       byte g * gs * bits / 8; 8 codes fill `bits` bytes */
    for (size_t g = 0; g < n_groups; g++) {
        const size_t x0 = g * (size_t)gs;
        float w_min = INFINITY, w_max = -INFINITY;
        for (int j = 0; j < gs; j++) {
            const float v = load_x(x_dtype, x, x0 + (size_t)j);
            w_max = w_max < v ? v : w_max; /* std::max / std::min, as MLX */
            w_min = v < w_min ? v : w_min;
        }
        const bool mask = fabsf(w_min) > fabsf(w_max);
        float scale = fmaxf((w_max - w_min) / n_bins, eps);
        scale = mask ? scale : -scale;
        const float edge = mask ? w_min : w_max;
        const float q0 = rintf(edge / scale);
        float bias = 0.0f;
        if (q0 != 0.0f) {
            scale = edge / q0;
            bias = edge;
        }
        unsigned char *ob = out + g * (size_t)gs * (size_t)bits / 8;
        for (int u = 0; u < gs / 8; u++) {
            uint64_t pack = 0;
            for (int t = 0; t < 8; t++) {
                float q = rintf((load_x(x_dtype, x, x0 + (size_t)(u * 8 + t)) - bias) / scale);
                q = q < 0.0f ? 0.0f : q; /* std::min(std::max(q, 0), n_bins) */
                q = n_bins < q ? n_bins : q;
                pack |= (uint64_t)q << (t * bits);
            }
            for (int b = 0; b < bits; b++) ob[u * bits + b] = (unsigned char)(pack >> (8 * b));
        }
        store_s(s_dtype, scales, g, scale);
        store_s(s_dtype, biases, g, bias);
    }
    return MLXN_OK;
}
