/* norm.c — validation and planning for the norm family: mlxn_rms_norm and
   mlxn_l2_norm (include/mlxn.h, "Norms").

   Both ops build one mlxn_norm_plan (src/backend.h) and an op call with the
   argument order: 0 x, 1 w (rms_norm only; ptr NULL when absent), 2 y.
   Every rule is checked before anything is encoded, so a failed call writes
   nothing; messages name the op and the offending values. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Rules shared by both ops, in the order a caller would fix them: handles,
   params, eps, dtypes, shapes, then aliasing (which depends on everything
   else being a well-formed view). w is checked by the caller. */
static mlxn_status check_common(const char *op, const mlxn_buffer *x, const mlxn_buffer *y, const mlxn_norm_params *p) {
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (!isfinite(p->eps) || p->eps < 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: eps (%g) must be finite and >= 0", op, (double)p->eps);
    if (!mlxn_is_float_dtype(x->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: x dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(x->dtype));
    if (y->dtype != x->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must equal x dtype (%s)", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(x->dtype));
    if (x->ndim < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x must have at least 1 dimension (ndim %d)", op, x->ndim);
    if (y->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, x has %lld", op,
                              (long long)y->numel, (long long)x->numel);
    return MLXN_OK;
}

/* In place is allowed (every kernel reads a row completely before writing
   it, and each element is written by the thread that read it); any other
   overlap of y with an input would make the result depend on timing. */
static mlxn_status check_alias(const char *op, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *y) {
    if (mlxn_buffers_overlap(x, y) && !mlxn_buffers_same_view(x, y))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: y (bytes %zu..%zu) partially overlaps x (bytes %zu..%zu); only y == x is allowed", op,
                              y->offset, y->offset + y->nbytes, x->offset, x->offset + x->nbytes);
    if (w && mlxn_buffers_overlap(w, y))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y (bytes %zu..%zu) overlaps w (bytes %zu..%zu)", op,
                              y->offset, y->offset + y->nbytes, w->offset, w->offset + w->nbytes);
    return MLXN_OK;
}

static void init_call(mlxn_op_call *c, mlxn_op_kind k, const char *name, const mlxn_buffer *x,
                      const mlxn_buffer *w, mlxn_buffer *y, float eps) {
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->name = name;
    c->n_args = 3;
    c->args[0] = mlxn_arg_of(x);
    c->args[1] = mlxn_arg_of(w);
    c->args[2] = mlxn_arg_of(y);
    c->bufs[0] = x;
    c->bufs[1] = w;
    c->bufs[2] = y;
    mlxn_norm_plan *np = &c->u.norm;
    np->dim = x->shape[x->ndim - 1];
    np->rows = x->numel / np->dim;
    np->dtype = (int32_t)x->dtype;
    np->w_dtype = w ? (int32_t)w->dtype : -1;
    np->eps = eps;
}

mlxn_status mlxn_rms_norm(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, mlxn_buffer *y,
                          const mlxn_norm_params *p) {
    static const char op[] = "rms_norm";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = check_common(op, x, y, p))) return s;
    if (w) {
        const int64_t dim = x->shape[x->ndim - 1];
        if (w->numel != dim)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w has %lld elements, expected dim (%lld)", op,
                                  (long long)w->numel, (long long)dim);
        if (w->dtype != x->dtype && w->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w dtype (%s) must be x's dtype (%s) or f32", op,
                                  mlxn_dtype_name(w->dtype), mlxn_dtype_name(x->dtype));
    }
    if ((s = check_alias(op, x, w, y))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_RMS_NORM, op, x, w, y, p->eps);
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_l2_norm(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_norm_params *p) {
    static const char op[] = "l2_norm";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = check_common(op, x, y, p))) return s;
    if ((s = check_alias(op, x, NULL, y))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_L2_NORM, op, x, NULL, y, p->eps);
    return mlxn_encode(e, &c);
}
