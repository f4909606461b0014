/* elementwise.c — validation and planning of the elementwise family:
   mlxn_unary, mlxn_binary, mlxn_glu and mlxn_cast.

   Every op fills one mlxn_ew_plan (backend.h) and an op call with the argument
   orders the backends read:
     unary   0 x,    1 y
     binary  0 a,    1 b,              2 y
     glu     0 gate, 1 up (NULL fused), 2 y
     cast    0 x,    1 y
   Nothing is written before mlxn_encode, so a failed validation leaves every
   output untouched. */
#include "internal.h"

#include <math.h>
#include <string.h>

static void init_call(mlxn_op_call *c, mlxn_op_kind k, const char *name, const mlxn_buffer *b0,
                      const mlxn_buffer *b1, const mlxn_buffer *b2) {
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->name = name;
    c->n_args = k == MLXN_OPK_UNARY || k == MLXN_OPK_CAST ? 2 : 3;
    c->args[0] = mlxn_arg_of(b0);
    c->args[1] = mlxn_arg_of(b1);
    c->args[2] = mlxn_arg_of(b2);
    c->bufs[0] = b0;
    c->bufs[1] = b1;
    c->bufs[2] = b2;
}

/* The output may be exactly an input (every kernel reads element i before it
   writes element i, in the same thread), never a partial overlap: a shifted
   view would read elements another thread already wrote. */
static mlxn_status check_overlap(const char *op, const mlxn_buffer *out, const mlxn_buffer *in, const char *in_name,
                                 bool same_view_ok) {
    if (!in || !mlxn_buffers_overlap(out, in)) return MLXN_OK;
    if (same_view_ok && mlxn_buffers_same_view(out, in)) return MLXN_OK;
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y overlaps %s (offsets %zu and %zu, %zu and %zu bytes)%s", op,
                          in_name, out->offset, in->offset, out->nbytes, in->nbytes,
                          same_view_ok ? "; only the exact same view is allowed" : "");
}

/* Shared dtype checks: `b` must have `a`'s dtype (INVALID_ARGUMENT), and that
   dtype must be a float type (UNSUPPORTED). */
/* ---- mlxn_unary ------------------------------------------------------------ */

mlxn_status mlxn_unary(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_unary_params *p) {
    static const char op[] = "unary";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((int)p->op < (int)MLXN_UNARY_GELU || (int)p->op > (int)MLXN_UNARY_SOFTCAP)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op (%d) must be in [0, %d]", op, (int)p->op,
                              (int)MLXN_UNARY_SOFTCAP);
    if (p->op == MLXN_UNARY_SCALE && !isfinite(p->alpha))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: SCALE alpha (%g) must be finite", op, (double)p->alpha);
    if (p->op == MLXN_UNARY_SOFTCAP && (!isfinite(p->alpha) || !(p->alpha > 0.0f)))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: SOFTCAP alpha (%g) must be finite and > 0", op,
                              (double)p->alpha);
    if ((s = mlxn_check_same_dtype(op, x, "x", y, "y"))) return s;
    if ((s = mlxn_check_float_dtype(op, x, "x"))) return s;
    if (x->numel != y->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, x %lld", op, (long long)y->numel,
                              (long long)x->numel);
    if ((s = check_overlap(op, y, x, "x", true))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_UNARY, op, x, y, NULL);
    mlxn_ew_plan *ep = &c.u.ew;
    ep->n = y->numel;
    ep->nb = 0;
    ep->cols = y->ndim ? y->shape[y->ndim - 1] : 1;
    ep->dtype = (int32_t)y->dtype;
    ep->src_dtype = (int32_t)x->dtype;
    ep->op = (int32_t)p->op;
    ep->alpha = p->op == MLXN_UNARY_SCALE || p->op == MLXN_UNARY_SOFTCAP ? p->alpha : 0.0f;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_binary ----------------------------------------------------------- */

mlxn_status mlxn_binary(mlxn_encoder *e, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                        const mlxn_binary_params *p) {
    static const char op[] = "binary";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "a", e, a))) return s;
    if ((s = mlxn_check_buffer(op, "b", e, b))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((int)p->op < (int)MLXN_BINARY_ADD || (int)p->op > (int)MLXN_BINARY_DIV)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op (%d) must be in [0, %d]", op, (int)p->op,
                              (int)MLXN_BINARY_DIV);
    if ((s = mlxn_check_same_dtype(op, a, "a", b, "b"))) return s;
    if ((s = mlxn_check_same_dtype(op, a, "a", y, "y"))) return s;
    if ((s = mlxn_check_float_dtype(op, a, "a"))) return s;
    if (a->numel != y->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, a %lld", op, (long long)y->numel,
                              (long long)a->numel);
    if (b->numel > a->numel || a->numel % b->numel != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: b has %lld elements, which does not divide a's %lld", op,
                              (long long)b->numel, (long long)a->numel);
    if ((s = check_overlap(op, y, a, "a", true))) return s;
    /* a broadcast b is read once per row: y may not even equal it */
    if ((s = check_overlap(op, y, b, "b", b->numel == a->numel))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_BINARY, op, a, b, y);
    mlxn_ew_plan *ep = &c.u.ew;
    ep->n = y->numel;
    ep->nb = b->numel;
    ep->cols = b->numel;
    ep->dtype = (int32_t)y->dtype;
    ep->src_dtype = (int32_t)a->dtype;
    ep->op = (int32_t)p->op;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_glu -------------------------------------------------------------- */

mlxn_status mlxn_glu(mlxn_encoder *e, const mlxn_buffer *gate, const mlxn_buffer *up, mlxn_buffer *y,
                     const mlxn_glu_params *p) {
    static const char op[] = "glu";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "gate", e, gate))) return s;
    if (up && (s = mlxn_check_buffer(op, "up", e, up))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((int)p->op < (int)MLXN_GLU_SWIGLU || (int)p->op > (int)MLXN_GLU_SIGMOID)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op (%d) must be in [0, %d]", op, (int)p->op,
                              (int)MLXN_GLU_SIGMOID);
    if (up && (s = mlxn_check_same_dtype(op, gate, "gate", up, "up"))) return s;
    if ((s = mlxn_check_same_dtype(op, gate, "gate", y, "y"))) return s;
    if ((s = mlxn_check_float_dtype(op, gate, "gate"))) return s;

    const int64_t y_cols = y->ndim ? y->shape[y->ndim - 1] : 1;
    int64_t cols;
    if (up) {
        if (up->numel != gate->numel)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: up has %lld elements, gate %lld", op,
                                  (long long)up->numel, (long long)gate->numel);
        if (y->numel != gate->numel)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, gate %lld", op,
                                  (long long)y->numel, (long long)gate->numel);
        cols = y_cols;
        if ((s = check_overlap(op, y, gate, "gate", true))) return s;
        if ((s = check_overlap(op, y, up, "up", true))) return s;
    } else {
        const int64_t g_cols = gate->ndim ? gate->shape[gate->ndim - 1] : 1;
        if (g_cols % 2 != 0)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: fused gate's last dim (%lld) must be even (gate half, then up half)", op,
                                  (long long)g_cols);
        if (y_cols != g_cols / 2)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y's last dim (%lld) must be half of gate's (%lld)", op,
                                  (long long)y_cols, (long long)g_cols);
        if (y->numel != gate->numel / 2)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, must be half of gate's %lld", op,
                                  (long long)y->numel, (long long)gate->numel);
        cols = y_cols;
        /* rows of y and gate have different strides: no in-place form */
        if ((s = check_overlap(op, y, gate, "gate", false))) return s;
    }

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_GLU, op, gate, up, y);
    mlxn_ew_plan *ep = &c.u.ew;
    ep->n = y->numel;
    ep->cols = cols;
    ep->dtype = (int32_t)y->dtype;
    ep->src_dtype = (int32_t)gate->dtype;
    ep->op = (int32_t)p->op;
    ep->fused = up == NULL;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_cast ------------------------------------------------------------- */

mlxn_status mlxn_cast(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y) {
    static const char op[] = "cast";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = mlxn_check_float_dtype(op, x, "x"))) return s;
    if ((s = mlxn_check_float_dtype(op, y, "y"))) return s;
    if (x->numel != y->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, x %lld", op, (long long)y->numel,
                              (long long)x->numel);
    /* f16 <-> bf16 views of one storage could be "the same view" byte for
       byte, but the contract keeps casts between dtypes out of place */
    if (x->dtype != y->dtype && mlxn_buffers_overlap(x, y))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y (%s) overlaps x (%s); casts between dtypes are not in place",
                              op, mlxn_dtype_name(y->dtype), mlxn_dtype_name(x->dtype));
    if ((s = check_overlap(op, y, x, "x", true))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_CAST, op, x, y, NULL);
    mlxn_ew_plan *ep = &c.u.ew;
    ep->n = y->numel;
    ep->cols = y->ndim ? y->shape[y->ndim - 1] : 1;
    ep->dtype = (int32_t)y->dtype;
    ep->src_dtype = (int32_t)x->dtype;
    return mlxn_encode(e, &c);
}
