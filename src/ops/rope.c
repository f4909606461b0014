/* rope.c — validation and planning for the RoPE family: mlxn_rope (ggml
   NORMAL/NEOX with YaRN and freq factors), mlxn_rope_multi (MROPE, IMROPE,
   VISION) and mlxn_vision_2d_rope (Gemma-4 vision).

   Every op builds one mlxn_rope_plan (ops/rope_plan.h) and an op call with the
   argument order: 0 input, 1 output, 2 positions (pos_x), 3 freq_factors (pos_y). */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

static bool finite_f(float v) { return isfinite(v); }

/* Checks shared by all three ops: the output matches the input's dtype and
   element count, the dtype is a float type, and the output overlaps no input
   (it may be the input itself: every kernel rotates each pair in place). */
static mlxn_status check_io(const char *op, const mlxn_buffer *in, const mlxn_buffer *out, const mlxn_buffer *pos,
                            const char *pos_name, const mlxn_buffer *aux, const char *aux_name) {
    if (in->dtype != out->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output dtype (%s) must equal input dtype (%s)", op,
                              mlxn_dtype_name(out->dtype), mlxn_dtype_name(in->dtype));
    if (in->numel != out->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output has %lld elements, input %lld", op,
                              (long long)out->numel, (long long)in->numel);
    if (!mlxn_is_float_dtype(in->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(in->dtype));
    if (mlxn_buffers_overlap(in, out) && !mlxn_buffers_same_view(in, out))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output partially overlaps input", op);
    if (mlxn_buffers_overlap(out, pos))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output overlaps %s", op, pos_name);
    if (aux && mlxn_buffers_overlap(out, aux))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output overlaps %s", op, aux_name);
    return MLXN_OK;
}

static mlxn_status check_positions(const char *op, const char *name, const mlxn_buffer *pos, int64_t want) {
    if (pos->dtype != MLXN_I32 && pos->dtype != MLXN_U32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s dtype (%s) must be i32 or u32", op, name,
                              mlxn_dtype_name(pos->dtype));
    if (pos->numel != want)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s has %lld elements, expected %lld", op, name,
                              (long long)pos->numel, (long long)want);
    return MLXN_OK;
}

/* n_heads must fit the kernels' int32 index and the element count
   seq_len*n_heads*head_dim must not overflow (it is compared with buffer sizes). */
static mlxn_status check_dims(const char *op, uint32_t seq_len, uint32_t n_heads, uint32_t head_dim) {
    if (n_heads > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: n_heads (%u) must be <= %d", op, n_heads, INT32_MAX);
    if ((uint64_t)seq_len * n_heads > (uint64_t)INT64_MAX / head_dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: seq_len (%u) * n_heads (%u) * head_dim (%u) overflows the element count", op,
                              seq_len, n_heads, head_dim);
    return MLXN_OK;
}

static void init_call(mlxn_op_call *c, mlxn_op_kind k, const char *name, const mlxn_buffer *in,
                      const mlxn_buffer *out, const mlxn_buffer *pos, const mlxn_buffer *aux) {
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->name = name;
    c->n_args = 4;
    c->args[0] = mlxn_arg_of(in);
    c->args[1] = mlxn_arg_of(out);
    c->args[2] = mlxn_arg_of(pos);
    c->args[3] = mlxn_arg_of(aux);
    c->bufs[0] = in;
    c->bufs[1] = out;
    c->bufs[2] = pos;
    c->bufs[3] = aux;
}

/* ---- mlxn_rope ----------------------------------------------------------- */

mlxn_rope_params mlxn_rope_params_default(uint32_t n_dims, mlxn_rope_mode mode, float freq_base) {
    mlxn_rope_params p;
    memset(&p, 0, sizeof p);
    p.n_dims = n_dims;
    p.mode = mode;
    p.freq_base = freq_base;
    p.freq_scale = 1.0f;
    p.ext_factor = 0.0f;
    p.attn_factor = 1.0f;
    p.beta_fast = 32.0f;
    p.beta_slow = 1.0f;
    p.n_ctx_orig = 0;
    return p;
}

/* ggml's ggml_rope_yarn_corr_dim, in float as ggml computes it. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

mlxn_status mlxn_rope(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output, const mlxn_buffer *positions,
                      const mlxn_buffer *freq_factors, const mlxn_rope_params *p) {
    static const char op[] = "rope";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "input", e, input))) return s;
    if ((s = mlxn_check_buffer(op, "output", e, output))) return s;
    if ((s = mlxn_check_buffer(op, "positions", e, positions))) return s;
    if (freq_factors && (s = mlxn_check_buffer(op, "freq_factors", e, freq_factors))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);

    if (input->ndim != 3 && input->ndim != 4)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: input must be [seq, heads, head_dim] or [batch, seq, heads, head_dim] (ndim %d)", op,
                              input->ndim);
    if (output->ndim != input->ndim || memcmp(output->shape, input->shape, sizeof(int64_t) * (size_t)input->ndim))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output shape must equal input shape", op);
    const int nd = input->ndim;
    const int64_t head_dim = input->shape[nd - 1], n_heads = input->shape[nd - 2], seq = input->shape[nd - 3];
    if (p->mode != MLXN_ROPE_NORMAL && p->mode != MLXN_ROPE_NEOX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mode (%d) must be NORMAL (0) or NEOX (2)", op,
                              (int)p->mode);
    if (head_dim > MLXN_ROPE_MAX_HEAD_DIM)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%lld) must be <= %d", op, (long long)head_dim,
                              MLXN_ROPE_MAX_HEAD_DIM);
    if (n_heads > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: n_heads (%lld) is too large", op, (long long)n_heads);
    if (p->n_dims < 2 || p->n_dims % 2 != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: n_dims (%u) must be even and >= 2", op, p->n_dims);
    if ((int64_t)p->n_dims > head_dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: n_dims (%u) must be <= head_dim (%lld)", op, p->n_dims,
                              (long long)head_dim);
    if (!finite_f(p->freq_base) || p->freq_base <= 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_base (%g) must be finite and > 0", op,
                              (double)p->freq_base);
    if (!finite_f(p->freq_scale) || p->freq_scale <= 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_scale (%g) must be finite and > 0", op,
                              (double)p->freq_scale);
    if (!finite_f(p->ext_factor) || !finite_f(p->attn_factor) || !finite_f(p->beta_fast) || !finite_f(p->beta_slow))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: ext_factor (%g), attn_factor (%g), beta_fast (%g), beta_slow (%g) must be finite", op,
                              (double)p->ext_factor, (double)p->attn_factor, (double)p->beta_fast,
                              (double)p->beta_slow);
    if ((s = check_positions(op, "positions", positions, seq))) return s;
    if (freq_factors) {
        if (freq_factors->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_factors dtype (%s) must be f32", op,
                                  mlxn_dtype_name(freq_factors->dtype));
        if (freq_factors->numel < (int64_t)p->n_dims / 2)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_factors has %lld elements, needs >= n_dims/2 (%u)",
                                  op, (long long)freq_factors->numel, p->n_dims / 2);
    }
    if ((s = check_io(op, input, output, positions, "positions", freq_factors, "freq_factors"))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_ROPE, op, input, output, positions, freq_factors);
    mlxn_rope_plan *rp = &c.u.rope;
    rp->n_rows = input->numel / (n_heads * head_dim);
    rp->seq_len = seq;
    rp->n_heads = (int32_t)n_heads;
    rp->head_dim = (int32_t)head_dim;
    rp->n_pairs = (int32_t)(p->n_dims / 2);
    rp->group = p->mode == MLXN_ROPE_NORMAL ? 1 : rp->n_pairs;
    rp->kind = MLXN_RP_PLAIN;
    rp->dtype = (int32_t)input->dtype;
    rp->pos_unsigned = positions->dtype == MLXN_U32;
    rp->has_ff = freq_factors != NULL;
    rp->log2_base = log2((double)p->freq_base);
    rp->denom = (double)p->n_dims;
    rp->freq_scale = (double)p->freq_scale;
    rp->ext_factor = (double)p->ext_factor;
    float mscale = p->attn_factor;
    if (p->ext_factor != 0.0f) {
        rp->yarn = 1;
        float start = floorf(yarn_corr_dim((int)p->n_dims, (int)p->n_ctx_orig, p->beta_fast, p->freq_base));
        float end = ceilf(yarn_corr_dim((int)p->n_dims, (int)p->n_ctx_orig, p->beta_slow, p->freq_base));
        float low = 0.0f > start ? 0.0f : start;
        float high = (float)(p->n_dims - 1) < end ? (float)(p->n_dims - 1) : end;
        rp->corr_low = (double)low;
        rp->corr_high = (double)high;
        mscale *= 1.0f + 0.1f * logf(1.0f / p->freq_scale);
    }
    rp->mscale = (double)mscale;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_rope_multi ----------------------------------------------------- */

mlxn_status mlxn_rope_multi(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output,
                            const mlxn_buffer *positions, const mlxn_rope_multi_params *p) {
    static const char op[] = "rope_multi";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "input", e, input))) return s;
    if ((s = mlxn_check_buffer(op, "output", e, output))) return s;
    if ((s = mlxn_check_buffer(op, "positions", e, positions))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);

    if (p->head_dim == 0 || p->rope_dim == 0 || p->n_heads == 0 || p->seq_len == 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: head_dim (%u), rope_dim (%u), n_heads (%u) and seq_len (%u) must be > 0", op,
                              p->head_dim, p->rope_dim, p->n_heads, p->seq_len);
    if (p->head_dim % 2 != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u) must be even", op, p->head_dim);
    if (p->rope_dim % 2 != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rope_dim (%u) must be even", op, p->rope_dim);
    if (p->rope_dim > p->head_dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rope_dim (%u) must be <= head_dim (%u)", op, p->rope_dim,
                              p->head_dim);
    if (p->head_dim > MLXN_ROPE_MAX_HEAD_DIM)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u) must be <= %d", op, p->head_dim,
                              MLXN_ROPE_MAX_HEAD_DIM);
    if ((s = check_dims(op, p->seq_len, p->n_heads, p->head_dim))) return s;
    if (!finite_f(p->freq_base) || p->freq_base <= 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_base (%g) must be finite and > 0", op,
                              (double)p->freq_base);
    if (p->mode != MLXN_ROPE_MROPE && p->mode != MLXN_ROPE_IMROPE && p->mode != MLXN_ROPE_VISION)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mode (%d) must be MROPE (8), VISION (24) or IMROPE (40)",
                              op, (int)p->mode);
    const uint64_t sec_sum = (uint64_t)p->sections[0] + p->sections[1] + p->sections[2] + p->sections[3];
    if (sec_sum < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: sections [%u,%u,%u,%u] must sum to at least 1", op,
                              p->sections[0], p->sections[1], p->sections[2], p->sections[3]);
    if (p->mode == MLXN_ROPE_VISION) {
        if (p->rope_dim != p->head_dim)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: VISION needs rope_dim (%u) == head_dim (%u)", op,
                                  p->rope_dim, p->head_dim);
        if ((uint64_t)p->sections[0] + p->sections[1] != p->head_dim / 2)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: VISION needs sections[0] + sections[1] (%u + %u) == head_dim/2 (%u)", op,
                                  p->sections[0], p->sections[1], p->head_dim / 2);
    }
    const uint64_t want = (uint64_t)p->seq_len * p->n_heads * p->head_dim;
    if ((uint64_t)input->numel != want)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: input has %lld elements, expected seq_len*n_heads*head_dim = %llu", op,
                              (long long)input->numel, (unsigned long long)want);
    if ((uint64_t)output->numel != want)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: output has %lld elements, expected seq_len*n_heads*head_dim = %llu", op,
                              (long long)output->numel, (unsigned long long)want);
    if (input->dtype != output->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: output dtype (%s) must equal input dtype (%s)", op,
                              mlxn_dtype_name(output->dtype), mlxn_dtype_name(input->dtype));
    if ((s = check_positions(op, "positions", positions, 4 * (int64_t)p->seq_len))) return s;
    if ((s = check_io(op, input, output, positions, "positions", NULL, NULL))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_ROPE_MULTI, op, input, output, positions, NULL);
    mlxn_rope_plan *rp = &c.u.rope;
    rp->n_rows = p->seq_len;
    rp->seq_len = p->seq_len;
    rp->n_heads = (int32_t)p->n_heads;
    rp->head_dim = (int32_t)p->head_dim;
    rp->n_pairs = (int32_t)(p->rope_dim / 2);
    rp->group = rp->n_pairs;
    rp->kind = p->mode == MLXN_ROPE_MROPE ? MLXN_RP_MROPE : p->mode == MLXN_ROPE_IMROPE ? MLXN_RP_IMROPE : MLXN_RP_VISION;
    rp->dtype = (int32_t)input->dtype;
    rp->pos_unsigned = positions->dtype == MLXN_U32;
    /* Sections only matter below the pair count (<= 4096); clamping keeps
       every comparison and the modulo identical while the sums fit in int32. */
    for (int i = 0; i < 4; i++) rp->sections[i] = (int32_t)(p->sections[i] > 65536u ? 65536u : p->sections[i]);
    rp->log2_base = log2((double)p->freq_base);
    rp->denom = p->mode == MLXN_ROPE_VISION ? (double)(p->head_dim / 2) : (double)p->rope_dim;
    rp->freq_scale = 1.0;
    rp->mscale = 1.0;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_vision_2d_rope ------------------------------------------------- */

mlxn_status mlxn_vision_2d_rope(mlxn_encoder *e, const mlxn_buffer *input, mlxn_buffer *output,
                                const mlxn_buffer *pos_x, const mlxn_buffer *pos_y,
                                const mlxn_vision_2d_rope_params *p) {
    static const char op[] = "vision_2d_rope";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "input", e, input))) return s;
    if ((s = mlxn_check_buffer(op, "output", e, output))) return s;
    if ((s = mlxn_check_buffer(op, "pos_x", e, pos_x))) return s;
    if ((s = mlxn_check_buffer(op, "pos_y", e, pos_y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->head_dim == 0 || p->n_heads == 0 || p->seq_len == 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u), n_heads (%u) and seq_len (%u) must be > 0",
                              op, p->head_dim, p->n_heads, p->seq_len);
    if (p->head_dim % 4 != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u) must be a multiple of 4", op, p->head_dim);
    if (p->head_dim > MLXN_ROPE_MAX_HEAD_DIM)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u) must be <= %d", op, p->head_dim,
                              MLXN_ROPE_MAX_HEAD_DIM);
    if ((s = check_dims(op, p->seq_len, p->n_heads, p->head_dim))) return s;
    if (!finite_f(p->theta) || p->theta <= 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: theta (%g) must be finite and > 0", op, (double)p->theta);
    const uint64_t want = (uint64_t)p->seq_len * p->n_heads * p->head_dim;
    if ((uint64_t)input->numel != want)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: input has %lld elements, expected seq_len*n_heads*head_dim = %llu", op,
                              (long long)input->numel, (unsigned long long)want);
    if ((s = check_positions(op, "pos_x", pos_x, p->seq_len))) return s;
    if ((s = check_positions(op, "pos_y", pos_y, p->seq_len))) return s;
    if (pos_x->dtype != pos_y->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: pos_x (%s) and pos_y (%s) must have the same dtype", op,
                              mlxn_dtype_name(pos_x->dtype), mlxn_dtype_name(pos_y->dtype));
    if ((s = check_io(op, input, output, pos_x, "pos_x", pos_y, "pos_y"))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_VISION_2D_ROPE, op, input, output, pos_x, pos_y);
    mlxn_rope_plan *rp = &c.u.rope;
    rp->n_rows = p->seq_len;
    rp->seq_len = p->seq_len;
    rp->n_heads = (int32_t)p->n_heads;
    rp->head_dim = (int32_t)p->head_dim;
    rp->n_pairs = (int32_t)(p->head_dim / 2);
    rp->group = (int32_t)(p->head_dim / 4);
    rp->kind = MLXN_RP_VISION2D;
    rp->dtype = (int32_t)input->dtype;
    rp->pos_unsigned = pos_x->dtype == MLXN_U32;
    rp->log2_base = log2((double)p->theta);
    rp->denom = (double)(p->head_dim / 2);
    rp->freq_scale = 1.0;
    rp->mscale = 1.0;
    return mlxn_encode(e, &c);
}
