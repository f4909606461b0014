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
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->name = name;
    c->n_args = n_args;
    for (int i = 0; i < n_args; i++) {
        c->args[i] = mlxn_arg_of(bufs[i]);
        c->bufs[i] = bufs[i];
    }
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
