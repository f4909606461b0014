/* fused_norm.c — validation and planning for the fused-norm family:
   mlxn_add_rms_norm, mlxn_rms_norm_add and mlxn_rms_norm_gate
   (include/mlxn.h, "Fused norms"; the "Norms" common rules apply).

   Argument order of the op calls (c.args[k] / c.bufs[k]; ptr NULL for an
   absent optional argument):
     add_rms_norm   0 a, 1 b, 2 w (optional), 3 y, 4 sum_out (optional)  n_args 5
     rms_norm_add   0 x, 1 w (optional), 2 res, 3 y                      n_args 4
     rms_norm_gate  0 x, 1 w (optional), 2 z,   3 y                      n_args 4
   So for every op: args[1 or 2] is w, args[3] is y; the "row operand" that
   is normalized is args[0] (+ args[1] for add_rms_norm), and the second row
   input of the two other ops (res, z) is args[2].

   Plan slots (c.u.gen, src/backend.h), the same for the three ops:
     i[0] rows     (numel / dim)
     i[1] dim      (the last dimension of the first input)
     d[0] dtype    of every row tensor (a, b, x, res, z, y, sum_out)
     d[1] w dtype  (-1: no weight)
     f[0] eps
     f[1] scale    (rms_norm_add; 1 for the two other ops)
   Every other slot is zero.

   Every rule is checked before anything is encoded, so a failed call writes
   nothing; messages name the op and the offending values. */
#include "internal.h"

#include <math.h>
#include <string.h>

static mlxn_status check_eps(const char *op, float eps) {
    if (!isfinite(eps) || eps < 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: eps (%g) must be finite and >= 0", op, (double)eps);
    return MLXN_OK;
}

/* `t` (named `tn`) is another row tensor of the op: same dtype, numel and
   last dimension as the first input `x` (named `xn`). The last dimension is
   compared too, so a [4,128] buffer cannot stand in for a [8,64] one: the
   rows would silently be cut differently than the caller thinks. */
static mlxn_status check_like(const char *op, const char *xn, const mlxn_buffer *x, const char *tn,
                              const mlxn_buffer *t) {
    if (t->dtype != x->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s dtype (%s) must equal %s dtype (%s)", op, tn,
                              mlxn_dtype_name(t->dtype), xn, mlxn_dtype_name(x->dtype));
    if (t->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s has %lld elements, %s has %lld", op, tn,
                              (long long)t->numel, xn, (long long)x->numel);
    if (t->ndim < 1 || t->shape[t->ndim - 1] != x->shape[x->ndim - 1])
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s last dimension (%lld) must equal %s's (%lld)", op, tn,
                              t->ndim < 1 ? 0LL : (long long)t->shape[t->ndim - 1], xn,
                              (long long)x->shape[x->ndim - 1]);
    return MLXN_OK;
}

/* The first input: a float dtype, at least one dimension. */
static mlxn_status check_first(const char *op, const char *xn, const mlxn_buffer *x) {
    if (!mlxn_is_float_dtype(x->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: %s dtype %s is not supported (f32, f16, bf16)", op, xn,
                              mlxn_dtype_name(x->dtype));
    if (x->ndim < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s must have at least 1 dimension (ndim %d)", op, xn,
                              x->ndim);
    return MLXN_OK;
}

static mlxn_status check_w(const char *op, const char *xn, const mlxn_buffer *x, const mlxn_buffer *w) {
    if (!w) return MLXN_OK;
    const int64_t dim = x->shape[x->ndim - 1];
    if (w->numel != dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w has %lld elements, expected dim (%lld)", op,
                              (long long)w->numel, (long long)dim);
    if (w->dtype != x->dtype && w->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w dtype (%s) must be %s's dtype (%s) or f32", op,
                              mlxn_dtype_name(w->dtype), xn, mlxn_dtype_name(x->dtype));
    return MLXN_OK;
}

/* Output `o` against a row input `in`: disjoint or the very same view. The
   exact alias is safe on both backends: every element of a row is read (a
   row's inputs completely, before the row's reduction finishes) before any
   output element of that row is written, and a later read of element i
   (the second pass) happens in the thread that then writes element i. Any
   other overlap would make the result depend on timing. */
static mlxn_status check_out_in(const char *op, const char *on, const mlxn_buffer *o, const char *inn,
                                const mlxn_buffer *in) {
    if (in && mlxn_buffers_overlap(o, in) && !mlxn_buffers_same_view(o, in))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: %s (bytes %zu..%zu) partially overlaps %s (bytes %zu..%zu); only %s == %s is allowed",
                              op, on, o->offset, o->offset + o->nbytes, inn, in->offset, in->offset + in->nbytes, on,
                              inn);
    return MLXN_OK;
}

/* An output must not overlap w (w is read by every row, so writing it would
   change other rows' results) nor the other output. */
static mlxn_status check_out_disjoint(const char *op, const char *on, const mlxn_buffer *o, const char *bn,
                                      const mlxn_buffer *b) {
    if (b && mlxn_buffers_overlap(o, b))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s (bytes %zu..%zu) overlaps %s (bytes %zu..%zu)", op, on,
                              o->offset, o->offset + o->nbytes, bn, b->offset, b->offset + b->nbytes);
    return MLXN_OK;
}

static void init_call(mlxn_op_call *c, mlxn_op_kind k, const char *name, int n_args, const mlxn_buffer *const *bufs,
                      const mlxn_buffer *first, const mlxn_buffer *w, float eps, float scale) {
    mlxn_call_init(c, k, name, n_args, bufs);
    const int64_t dim = first->shape[first->ndim - 1];
    c->u.gen.i[0] = first->numel / dim;
    c->u.gen.i[1] = dim;
    c->u.gen.d[0] = (int32_t)first->dtype;
    c->u.gen.d[1] = w ? (int32_t)w->dtype : -1;
    c->u.gen.f[0] = eps;
    c->u.gen.f[1] = scale;
}

mlxn_status mlxn_add_rms_norm(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b, const mlxn_buffer *w,
                              mlxn_buffer *y, mlxn_buffer *sum_out, const mlxn_norm_params *p) {
    static const char op[] = "add_rms_norm";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "a", e, a))) return s;
    if ((s = mlxn_check_buffer(op, "b", e, b))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (sum_out && (s = mlxn_check_buffer(op, "sum_out", e, sum_out))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if ((s = check_first(op, "a", a))) return s;
    if ((s = check_like(op, "a", a, "b", b))) return s;
    if ((s = check_like(op, "a", a, "y", y))) return s;
    if (sum_out && (s = check_like(op, "a", a, "sum_out", sum_out))) return s;
    if ((s = check_w(op, "a", a, w))) return s;
    if ((s = check_out_in(op, "y", y, "a", a))) return s;
    if ((s = check_out_in(op, "y", y, "b", b))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w", w))) return s;
    if (sum_out) {
        if ((s = check_out_in(op, "sum_out", sum_out, "a", a))) return s;
        if ((s = check_out_in(op, "sum_out", sum_out, "b", b))) return s;
        if ((s = check_out_disjoint(op, "sum_out", sum_out, "w", w))) return s;
        if ((s = check_out_disjoint(op, "sum_out", sum_out, "y", y))) return s;
    }

    const mlxn_buffer *bufs[5] = {a, b, w, y, sum_out};
    mlxn_op_call c;
    init_call(&c, MLXN_OPK_ADD_RMS_NORM, op, 5, bufs, a, w, p->eps, 1.0f);
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_rms_norm_add(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *res,
                              mlxn_buffer *y, const mlxn_norm_add_params *p) {
    static const char op[] = "rms_norm_add";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "res", e, res))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if (!isfinite(p->scale))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: scale (%g) must be finite", op, (double)p->scale);
    if ((s = check_first(op, "x", x))) return s;
    if ((s = check_like(op, "x", x, "res", res))) return s;
    if ((s = check_like(op, "x", x, "y", y))) return s;
    if ((s = check_w(op, "x", x, w))) return s;
    if ((s = check_out_in(op, "y", y, "res", res))) return s;
    if ((s = check_out_in(op, "y", y, "x", x))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w", w))) return s;

    const mlxn_buffer *bufs[4] = {x, w, res, y};
    mlxn_op_call c;
    init_call(&c, MLXN_OPK_RMS_NORM_ADD, op, 4, bufs, x, w, p->eps, p->scale);
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_rms_norm_gate(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *z,
                               mlxn_buffer *y, const mlxn_norm_params *p) {
    static const char op[] = "rms_norm_gate";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "z", e, z))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if ((s = check_first(op, "x", x))) return s;
    if ((s = check_like(op, "x", x, "z", z))) return s;
    if ((s = check_like(op, "x", x, "y", y))) return s;
    if ((s = check_w(op, "x", x, w))) return s;
    if ((s = check_out_in(op, "y", y, "x", x))) return s;
    if ((s = check_out_in(op, "y", y, "z", z))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w", w))) return s;

    const mlxn_buffer *bufs[4] = {x, w, z, y};
    mlxn_op_call c;
    init_call(&c, MLXN_OPK_RMS_NORM_GATE, op, 4, bufs, x, w, p->eps, 1.0f);
    return mlxn_encode(e, &c);
}

/* ==== [fused_norm2] the remaining norm ops ==================================

   Argument order of the op calls (ptr NULL for an absent optional argument):
     MLXN_OPK_RMS_NORM_MUL   0 x|a, 1 b|res (optional), 2 w (optional), 3 m,
                             4 y, 5 sum_out (optional)                  n_args 6
       d[3] variant: 0 rms_norm_mul (y = n(x) w m), 1 add_rms_norm_mul (s = a+b,
       y = n(s) w m, sum_out = s), 2 rms_norm_add_mul (y = (res + n(x) w) m)
       i[2] m form: 0 full (numel of x), 1 column ([dim]), 2 scalar; d[2] m dtype
     MLXN_OPK_TRIPLE_NORM    0 x|h, 1 attn (optional), 2 w_post (optional),
                             3 w3, 4 res (optional), 5 y0, 6 y1, 7 y2   n_args 8
       d[3] variant: 0 triple_norm, 1 post_attn_triple_norm; d[1] w3 dtype,
       d[2] w_post dtype (-1 without)
     MLXN_OPK_MOE_WSUM_NORM_ADD  0 ys, 1 wk, 2 res (optional), 3 nw (optional),
                             4 y, 5 dense (optional), 6 w_dense (optional)  n_args 7
       d[3] variant: 0 single norm, 1 double norm (dense present);
       i[0] T (rows), i[2] K; d[1] nw dtype, d[2] w_dense dtype (-1 without)
     MLXN_OPK_HEAD_NORM_ROPE 0 x, 1 w (optional), 2 positions, 3 freq_factors
                             (optional), 4 y, 5 y_co (optional)         n_args 6
       i[0] S tokens, i[1] H heads, i[2] D head_dim, i[3] rope_dim,
       i[4] co_permuted, i[5] positions are u32; d[1] w dtype, d[2] y_co dtype
       (-1 without); f[1] freq_base
   Common slots: i[0] rows (the norm ops), i[1] dim, d[0] dtype of the row
   tensors, d[1] (first) weight dtype or -1, f[0] eps. Every other slot is zero. */

/* A weight-like vector `t` (named tn) of `n` elements: numel n, dtype x's or f32. */
static mlxn_status check_vecw(const char *op, const char *tn, const mlxn_buffer *t, int64_t n, const char *xn,
                              const mlxn_buffer *x, const char *what) {
    if (!t) return MLXN_OK;
    if (t->numel != n)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s has %lld elements, expected %s (%lld)", op, tn,
                              (long long)t->numel, what, (long long)n);
    if (t->dtype != x->dtype && t->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s dtype (%s) must be %s's dtype (%s) or f32", op, tn,
                              mlxn_dtype_name(t->dtype), xn, mlxn_dtype_name(x->dtype));
    return MLXN_OK;
}

static int32_t dt_or_none(const mlxn_buffer *b) { return b ? (int32_t)b->dtype : -1; }

/* ---- rms_norm_mul, add_rms_norm_mul, rms_norm_add_mul ---------------------- */

static mlxn_status norm_mul_common(const char *op, int variant, mlxn_encoder *e, const mlxn_buffer *x,
                                   const mlxn_buffer *in1, const mlxn_buffer *w, const mlxn_buffer *m, mlxn_buffer *y,
                                   mlxn_buffer *sum_out, const mlxn_norm_params *p) {
    const char *xn = variant == 1 ? "a" : "x", *n1 = variant == 1 ? "b" : "res";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, xn, e, x))) return s;
    if (variant != 0 && (s = mlxn_check_buffer(op, n1, e, in1))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "m", e, m))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (sum_out && (s = mlxn_check_buffer(op, "sum_out", e, sum_out))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if ((s = check_first(op, xn, x))) return s;
    if (variant != 0 && (s = check_like(op, xn, x, n1, in1))) return s;
    if ((s = check_like(op, xn, x, "y", y))) return s;
    if (sum_out && (s = check_like(op, xn, x, "sum_out", sum_out))) return s;
    if ((s = check_w(op, xn, x, w))) return s;
    const int64_t dim = x->shape[x->ndim - 1];
    int mform;
    if (m->numel == dim || (m->numel == 1 && m->numel != x->numel)) {
        /* a column vector (also when x has a single row: full and column
           are then the same thing), or a scalar */
        mform = m->numel == dim ? 1 : 2;
        if (m->dtype != x->dtype && m->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: m dtype (%s) must be %s's dtype (%s) or f32", op,
                                  mlxn_dtype_name(m->dtype), xn, mlxn_dtype_name(x->dtype));
    } else if (m->numel == x->numel) {
        mform = 0;
        if (m->dtype != x->dtype)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: a full m (%lld elements) must have %s's dtype (%s), not %s", op,
                                  (long long)m->numel, xn, mlxn_dtype_name(x->dtype), mlxn_dtype_name(m->dtype));
        if (m->ndim < 1 || m->shape[m->ndim - 1] != dim)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: m last dimension (%lld) must equal %s's (%lld)", op,
                                  m->ndim < 1 ? 0LL : (long long)m->shape[m->ndim - 1], xn, (long long)dim);
    } else {
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: m has %lld elements; expected %lld (full), dim (%lld) or 1", op,
                              (long long)m->numel, (long long)x->numel, (long long)dim);
    }
    if ((s = check_out_in(op, "y", y, xn, x))) return s;
    if (variant != 0 && (s = check_out_in(op, "y", y, n1, in1))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w", w))) return s;
    if (mform == 0 ? (s = check_out_in(op, "y", y, "m", m)) : (s = check_out_disjoint(op, "y", y, "m", m))) return s;
    if (sum_out) {
        if ((s = check_out_in(op, "sum_out", sum_out, xn, x))) return s;
        if ((s = check_out_in(op, "sum_out", sum_out, n1, in1))) return s;
        if ((s = check_out_disjoint(op, "sum_out", sum_out, "w", w))) return s;
        if ((s = check_out_disjoint(op, "sum_out", sum_out, "m", m))) return s;
        if ((s = check_out_disjoint(op, "sum_out", sum_out, "y", y))) return s;
    }
    const mlxn_buffer *bufs[6] = {x, in1, w, m, y, sum_out};
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_RMS_NORM_MUL, op, 6, bufs);
    c.u.gen.i[0] = x->numel / dim;
    c.u.gen.i[1] = dim;
    c.u.gen.i[2] = mform;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = dt_or_none(w);
    c.u.gen.d[2] = (int32_t)m->dtype;
    c.u.gen.d[3] = variant;
    c.u.gen.f[0] = p->eps;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_rms_norm_mul(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *m,
                              mlxn_buffer *y, const mlxn_norm_params *p) {
    return norm_mul_common("rms_norm_mul", 0, e, x, NULL, w, m, y, NULL, p);
}

mlxn_status mlxn_add_rms_norm_mul(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b, const mlxn_buffer *w,
                                  const mlxn_buffer *m, mlxn_buffer *y, mlxn_buffer *sum_out,
                                  const mlxn_norm_params *p) {
    return norm_mul_common("add_rms_norm_mul", 1, e, a, b, w, m, y, sum_out, p);
}

mlxn_status mlxn_rms_norm_add_mul(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *res,
                                  const mlxn_buffer *m, mlxn_buffer *y, const mlxn_norm_params *p) {
    return norm_mul_common("rms_norm_add_mul", 2, e, x, res, w, m, y, NULL, p);
}

/* ---- triple_norm, post_attn_triple_norm --------------------------------------- */

static mlxn_status triple_common(const char *op, mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *attn,
                                 const mlxn_buffer *w_post, const mlxn_buffer *w3, mlxn_buffer *res, mlxn_buffer *y0,
                                 mlxn_buffer *y1, mlxn_buffer *y2, const mlxn_norm_params *p) {
    const bool post = attn != NULL || res != NULL || w_post != NULL;
    const char *xn = post ? "h" : "x";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, xn, e, x))) return s;
    if (post) {
        if ((s = mlxn_check_buffer(op, "attn", e, attn))) return s;
        if ((s = mlxn_check_buffer(op, "w_post", e, w_post))) return s;
    }
    if ((s = mlxn_check_buffer(op, "w3", e, w3))) return s;
    if (post && (s = mlxn_check_buffer(op, "res", e, res))) return s;
    if ((s = mlxn_check_buffer(op, "y0", e, y0))) return s;
    if ((s = mlxn_check_buffer(op, "y1", e, y1))) return s;
    if ((s = mlxn_check_buffer(op, "y2", e, y2))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if ((s = check_first(op, xn, x))) return s;
    if (post && (s = check_like(op, xn, x, "attn", attn))) return s;
    if (post && (s = check_like(op, xn, x, "res", res))) return s;
    if ((s = check_like(op, xn, x, "y0", y0))) return s;
    if ((s = check_like(op, xn, x, "y1", y1))) return s;
    if ((s = check_like(op, xn, x, "y2", y2))) return s;
    const int64_t dim = x->shape[x->ndim - 1];
    if (post && (s = check_vecw(op, "w_post", w_post, dim, xn, x, "dim"))) return s;
    if ((s = check_vecw(op, "w3", w3, 3 * dim, xn, x, "3 * dim"))) return s;
    mlxn_buffer *outs[4] = {res, y0, y1, y2};
    static const char *const on[4] = {"res", "y0", "y1", "y2"};
    for (int k = 0; k < 4; k++) {
        if (!outs[k]) continue;
        if ((s = check_out_in(op, on[k], outs[k], xn, x))) return s;
        if ((s = check_out_in(op, on[k], outs[k], "attn", attn))) return s;
        if ((s = check_out_disjoint(op, on[k], outs[k], "w_post", w_post))) return s;
        if ((s = check_out_disjoint(op, on[k], outs[k], "w3", w3))) return s;
        for (int j = 0; j < k; j++)
            if ((s = check_out_disjoint(op, on[k], outs[k], on[j], outs[j]))) return s;
    }
    const mlxn_buffer *bufs[8] = {x, attn, w_post, w3, res, y0, y1, y2};
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_TRIPLE_NORM, op, 8, bufs);
    c.u.gen.i[0] = x->numel / dim;
    c.u.gen.i[1] = dim;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = (int32_t)w3->dtype;
    c.u.gen.d[2] = dt_or_none(w_post);
    c.u.gen.d[3] = post ? 1 : 0;
    c.u.gen.f[0] = p->eps;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_triple_norm(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w3, mlxn_buffer *y0,
                             mlxn_buffer *y1, mlxn_buffer *y2, const mlxn_norm_params *p) {
    return triple_common("triple_norm", e, x, NULL, NULL, w3, NULL, y0, y1, y2, p);
}

mlxn_status mlxn_post_attn_triple_norm(mlxn_encoder *e, const mlxn_buffer *h, const mlxn_buffer *attn,
                                       const mlxn_buffer *w_post, const mlxn_buffer *w3, mlxn_buffer *res,
                                       mlxn_buffer *y0, mlxn_buffer *y1, mlxn_buffer *y2,
                                       const mlxn_norm_params *p) {
    static const char op[] = "post_attn_triple_norm";
    /* the three post-attention arguments are required here (triple_common
       treats "any of them present" as the post-attention form) */
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "h", e, h))) return s;
    if ((s = mlxn_check_buffer(op, "attn", e, attn))) return s;
    if ((s = mlxn_check_buffer(op, "w_post", e, w_post))) return s;
    if ((s = mlxn_check_buffer(op, "w3", e, w3))) return s;
    if ((s = mlxn_check_buffer(op, "res", e, res))) return s;
    return triple_common(op, e, h, attn, w_post, w3, res, y0, y1, y2, p);
}

/* ---- moe_wsum_norm_add, moe_wsum_dnorm_add ----------------------------------- */

static mlxn_status moe_common(const char *op, bool dn, mlxn_encoder *e, const mlxn_buffer *ys, const mlxn_buffer *wk,
                              const mlxn_buffer *dense, const mlxn_buffer *w_dense, const mlxn_buffer *res,
                              const mlxn_buffer *nw, mlxn_buffer *y, const mlxn_norm_params *p) {
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "ys", e, ys))) return s;
    if ((s = mlxn_check_buffer(op, "wk", e, wk))) return s;
    if (dn && (s = mlxn_check_buffer(op, "dense", e, dense))) return s;
    if (w_dense && (s = mlxn_check_buffer(op, "w_dense", e, w_dense))) return s;
    if (res && (s = mlxn_check_buffer(op, "res", e, res))) return s;
    if (nw && (s = mlxn_check_buffer(op, "nw", e, nw))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if (!mlxn_is_float_dtype(ys->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: ys dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(ys->dtype));
    if (ys->ndim != 3)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ys must be [T, K, dim] (ndim %d)", op, ys->ndim);
    const int64_t T = ys->shape[0], K = ys->shape[1], dim = ys->shape[2];
    if (wk->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: wk dtype (%s) must be f32", op,
                              mlxn_dtype_name(wk->dtype));
    if (wk->ndim != 2 || wk->shape[0] != T || wk->shape[1] != K)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: wk must be [T, K] = [%lld, %lld] (got ndim %d, %lld elements)",
                              op, (long long)T, (long long)K, wk->ndim, (long long)wk->numel);
    /* y: T*dim elements of ys's dtype with last dim dim */
    if (y->dtype != ys->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must equal ys dtype (%s)", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(ys->dtype));
    if (y->numel != T * dim || y->ndim < 1 || y->shape[y->ndim - 1] != dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: y must hold T * dim = %lld elements with last dimension %lld (has %lld)", op,
                              (long long)(T * dim), (long long)dim, (long long)y->numel);
    if (res && (s = check_like(op, "y", y, "res", res))) return s;
    if (dn && (s = check_like(op, "y", y, "dense", dense))) return s;
    if ((s = check_vecw(op, "nw", nw, dim, "ys", ys, "dim"))) return s;
    if ((s = check_vecw(op, "w_dense", w_dense, dim, "ys", ys, "dim"))) return s;
    if ((s = check_out_in(op, "y", y, "res", res))) return s;
    if ((s = check_out_in(op, "y", y, "dense", dense))) return s;
    if ((s = check_out_disjoint(op, "y", y, "ys", ys))) return s;
    if ((s = check_out_disjoint(op, "y", y, "wk", wk))) return s;
    if ((s = check_out_disjoint(op, "y", y, "nw", nw))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w_dense", w_dense))) return s;
    const mlxn_buffer *bufs[7] = {ys, wk, res, nw, y, dense, w_dense};
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_MOE_WSUM_NORM_ADD, op, 7, bufs);
    c.u.gen.i[0] = T;
    c.u.gen.i[1] = dim;
    c.u.gen.i[2] = K;
    c.u.gen.d[0] = (int32_t)ys->dtype;
    c.u.gen.d[1] = dt_or_none(nw);
    c.u.gen.d[2] = dt_or_none(w_dense);
    c.u.gen.d[3] = dn ? 1 : 0;
    c.u.gen.f[0] = p->eps;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_moe_wsum_norm_add(mlxn_encoder *e, const mlxn_buffer *ys, const mlxn_buffer *wk,
                                   const mlxn_buffer *res, const mlxn_buffer *nw, mlxn_buffer *y,
                                   const mlxn_norm_params *p) {
    return moe_common("moe_wsum_norm_add", false, e, ys, wk, NULL, NULL, res, nw, y, p);
}

mlxn_status mlxn_moe_wsum_dnorm_add(mlxn_encoder *e, const mlxn_buffer *ys, const mlxn_buffer *wk,
                                    const mlxn_buffer *dense, const mlxn_buffer *w_dense, const mlxn_buffer *res,
                                    const mlxn_buffer *nw, mlxn_buffer *y, const mlxn_norm_params *p) {
    return moe_common("moe_wsum_dnorm_add", true, e, ys, wk, dense, w_dense, res, nw, y, p);
}

/* ---- head_norm_rope ------------------------------------------------------------- */

mlxn_status mlxn_head_norm_rope(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w,
                                const mlxn_buffer *positions, const mlxn_buffer *freq_factors, mlxn_buffer *y,
                                mlxn_buffer *y_co, const mlxn_head_norm_rope_params *p) {
    static const char op[] = "head_norm_rope";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "positions", e, positions))) return s;
    if (freq_factors && (s = mlxn_check_buffer(op, "freq_factors", e, freq_factors))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (y_co && (s = mlxn_check_buffer(op, "y_co", e, y_co))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_eps(op, p->eps))) return s;
    if (!isfinite(p->freq_base) || !(p->freq_base > 0.0f))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_base (%g) must be finite and > 0", op,
                              (double)p->freq_base);
    const uint32_t D = p->head_dim, R = p->rope_dim;
    if (D < 2 || D % 2 != 0 || D > MLXN_ROPE_MAX_HEAD_DIM)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: head_dim (%u) must be even and in [2, %d]", op, D,
                              MLXN_ROPE_MAX_HEAD_DIM);
    if (R % 2 != 0 || R > D)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rope_dim (%u) must be even and <= head_dim (%u)", op, R,
                              D);
    if (p->co_permuted != 0 && p->co_permuted != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: co_permuted (%d) must be 0 or 1", op, p->co_permuted);
    if ((s = check_first(op, "x", x))) return s;
    if (x->ndim != 2 && x->ndim != 3)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x must be [S, H, D] or [H, D] (ndim %d)", op, x->ndim);
    if (x->shape[x->ndim - 1] != (int64_t)D)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x last dimension (%lld) must equal head_dim (%u)", op,
                              (long long)x->shape[x->ndim - 1], D);
    const int64_t S = x->ndim == 3 ? x->shape[0] : 1, H = x->shape[x->ndim - 2];
    if (y->dtype != x->dtype || y->ndim != x->ndim || memcmp(y->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y (%s, %lld elements) must have x's dtype (%s) and shape",
                              op, mlxn_dtype_name(y->dtype), (long long)y->numel, mlxn_dtype_name(x->dtype));
    if ((s = check_w(op, "x", x, w))) return s;
    if (positions->dtype != MLXN_I32 && positions->dtype != MLXN_U32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: positions dtype (%s) must be i32 or u32", op,
                              mlxn_dtype_name(positions->dtype));
    if (positions->numel != S)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: positions has %lld elements, expected S (%lld)", op,
                              (long long)positions->numel, (long long)S);
    if (freq_factors) {
        if (freq_factors->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: freq_factors dtype (%s) must be f32", op,
                                  mlxn_dtype_name(freq_factors->dtype));
        if (freq_factors->numel < (int64_t)(R / 2))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: freq_factors has %lld elements, needs >= rope_dim/2 (%u)", op,
                                  (long long)freq_factors->numel, R / 2);
    }
    if (y_co) {
        if (!mlxn_is_float_dtype(y_co->dtype))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y_co dtype (%s) must be f32, f16 or bf16", op,
                                  mlxn_dtype_name(y_co->dtype));
        if (y_co->numel != x->numel)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y_co has %lld elements, x has %lld", op,
                                  (long long)y_co->numel, (long long)x->numel);
    }
    if ((s = check_out_in(op, "y", y, "x", x))) return s;
    if ((s = check_out_disjoint(op, "y", y, "w", w))) return s;
    if ((s = check_out_disjoint(op, "y", y, "positions", positions))) return s;
    if ((s = check_out_disjoint(op, "y", y, "freq_factors", freq_factors))) return s;
    if (y_co) {
        if ((s = check_out_disjoint(op, "y_co", y_co, "x", x))) return s;
        if ((s = check_out_disjoint(op, "y_co", y_co, "y", y))) return s;
        if ((s = check_out_disjoint(op, "y_co", y_co, "w", w))) return s;
        if ((s = check_out_disjoint(op, "y_co", y_co, "positions", positions))) return s;
        if ((s = check_out_disjoint(op, "y_co", y_co, "freq_factors", freq_factors))) return s;
    }
    const mlxn_buffer *bufs[6] = {x, w, positions, freq_factors, y, y_co};
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_HEAD_NORM_ROPE, op, 6, bufs);
    c.u.gen.i[0] = S;
    c.u.gen.i[1] = H;
    c.u.gen.i[2] = D;
    c.u.gen.i[3] = R;
    c.u.gen.i[4] = p->co_permuted;
    c.u.gen.i[5] = positions->dtype == MLXN_U32;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = dt_or_none(w);
    c.u.gen.d[2] = dt_or_none(y_co);
    c.u.gen.f[0] = p->eps;
    c.u.gen.f[1] = p->freq_base;
    return mlxn_encode(e, &c);
}
