/* sort.c — validation and planning of the sort family: mlxn_argsort,
   mlxn_top_k and their workspace-size functions. Both work per row along the
   last dimension: n = last dim of x, rows = numel(x) / n. The order (NaN
   largest, -0 == +0, ties to the lower index) is defined in mlxn.h.

   Op call layout (backend.h, generic plan c.u.gen):

     argsort  args: 0 x, 1 idx (i32, x's shape), 2 ws (ptr NULL when absent)
              i[0] rows, i[1] n (<= INT32_MAX), i[2] ws bytes available
              d[0] x dtype, d[1] ascending (0/1)

     top_k    args: 0 x, 1 idx (i32 [rows, k]), 2 val ([rows, k]; ptr NULL when
              absent), 3 ws (ptr NULL when absent)
              i[0] rows, i[1] n, i[2] ws bytes available, i[3] k
              d[0] x dtype, d[1] val dtype (-1 when absent)

   The backend's sort_workspace(dev, c, &bytes) tells the workspace a plan
   needs (only kind and the plan slots are read); the ops layer checks the
   caller's ws against it here, so a backend can rely on ws being large
   enough. Every check happens before anything is encoded. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int64_t last_dim(const mlxn_buffer *b) { return b->ndim > 0 ? b->shape[b->ndim - 1] : 1; }

/* "(4, 128)" */
static const char *shape_str(const mlxn_buffer *b, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "(");
    for (int i = 0; i < b->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)b->shape[i]);
    if (o < len) snprintf(buf + o, len - o, ")");
    return buf;
}

/* Shape rules shared by the size functions and the ops. */
static mlxn_status check_dims(const char *op, int64_t rows, int64_t n, mlxn_dtype t) {
    if (!mlxn_is_float_dtype(t))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(t));
    if (rows < 1 || n < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) and n (%lld) must be >= 1", op,
                              (long long)rows, (long long)n);
    if (n > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows of %lld elements exceed the i32 index limit %d", op,
                              (long long)n, INT32_MAX);
    if (rows > INT64_MAX / n)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %lld rows of %lld elements overflow", op,
                              (long long)rows, (long long)n);
    return MLXN_OK;
}

static mlxn_status check_k(const char *op, int32_t k, int64_t n) {
    const int64_t kmax = n < MLXN_TOP_K_MAX ? n : MLXN_TOP_K_MAX;
    if (k < 1 || k > kmax)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: k (%d) must be in [1, %lld] (n %lld, at most %d)", op,
                              (int)k, (long long)kmax, (long long)n, MLXN_TOP_K_MAX);
    return MLXN_OK;
}

/* Asks d's backend for the workspace of plan c. */
static mlxn_status backend_ws(const char *op, const mlxn_device *d, const mlxn_op_call *c, size_t *bytes) {
    *bytes = 0;
    if (!d->vt->sort_workspace) return MLXN_OK;
    int s = d->vt->sort_workspace(d->impl, c, bytes);
    if (s) {
        /* the backend set the message; make sure it names the op */
        if (!strstr(mlxn_last_error(), op))
            return mlxn_set_error((mlxn_status)s, "%s: %s", op, mlxn_last_error());
        return (mlxn_status)s;
    }
    return MLXN_OK;
}

static void plan_argsort(mlxn_op_call *c, int64_t rows, int64_t n, mlxn_dtype t, int ascending) {
    memset(c, 0, sizeof *c);
    c->kind = MLXN_OPK_ARGSORT;
    c->name = "argsort";
    c->u.gen.i[0] = rows;
    c->u.gen.i[1] = n;
    c->u.gen.d[0] = (int32_t)t;
    c->u.gen.d[1] = ascending;
}

static void plan_top_k(mlxn_op_call *c, int64_t rows, int64_t n, int32_t k, mlxn_dtype t, int vdt) {
    memset(c, 0, sizeof *c);
    c->kind = MLXN_OPK_TOP_K;
    c->name = "top_k";
    c->u.gen.i[0] = rows;
    c->u.gen.i[1] = n;
    c->u.gen.i[3] = k;
    c->u.gen.d[0] = (int32_t)t;
    c->u.gen.d[1] = vdt;
}

mlxn_status mlxn_argsort_workspace_size(const mlxn_device *d, int64_t rows, int64_t n, mlxn_dtype t,
                                        size_t *bytes) {
    static const char op[] = "argsort_workspace_size";
    if (!bytes) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", op);
    *bytes = 0;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: device is NULL", op);
    mlxn_status s;
    if ((s = check_dims(op, rows, n, t))) return s;
    mlxn_op_call c;
    plan_argsort(&c, rows, n, t, 0);
    return backend_ws(op, d, &c, bytes);
}

mlxn_status mlxn_top_k_workspace_size(const mlxn_device *d, int64_t rows, int64_t n, int32_t k, mlxn_dtype t,
                                      size_t *bytes) {
    static const char op[] = "top_k_workspace_size";
    if (!bytes) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", op);
    *bytes = 0;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: device is NULL", op);
    mlxn_status s;
    if ((s = check_dims(op, rows, n, t))) return s;
    if ((s = check_k(op, k, n))) return s;
    mlxn_op_call c;
    plan_top_k(&c, rows, n, k, t, -1);
    return backend_ws(op, d, &c, bytes);
}

/* ws: on the encoder's device, large enough, overlapping none of the others. */
static mlxn_status check_ws(const char *op, const mlxn_encoder *e, const mlxn_buffer *ws, size_t need,
                            const mlxn_buffer *const *others, const char *const *names, int n_others) {
    mlxn_status s;
    if (ws && (s = mlxn_check_buffer(op, "ws", e, ws))) return s;
    const size_t have = ws ? ws->nbytes : 0;
    if (have < need)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: workspace has %zu bytes, %zu needed (see mlxn_%s_workspace_size)", op, have, need,
                              op);
    for (int i = 0; i < n_others; i++)
        if (others[i] && mlxn_buffers_overlap(ws, others[i]))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ws overlaps %s", op, names[i]);
    return MLXN_OK;
}

mlxn_status mlxn_argsort(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *ws,
                         const mlxn_argsort_params *p) {
    static const char op[] = "argsort";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "idx", e, idx))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->ascending != 0 && p->ascending != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ascending (%d) must be 0 or 1", op, p->ascending);
    const int64_t n = last_dim(x), rows = x->numel / n;
    if ((s = check_dims(op, rows, n, x->dtype))) return s;
    if (idx->dtype != MLXN_I32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx dtype (%s) must be i32", op,
                              mlxn_dtype_name(idx->dtype));
    bool same = idx->ndim == x->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = idx->shape[i] == x->shape[i];
    if (!same) {
        char a[128], b[128];
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx shape %s must equal x shape %s", op,
                              shape_str(idx, a, sizeof a), shape_str(x, b, sizeof b));
    }
    if (mlxn_buffers_overlap(x, idx)) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx overlaps x", op);
    mlxn_op_call c;
    plan_argsort(&c, rows, n, x->dtype, p->ascending);
    size_t need;
    if ((s = backend_ws(op, e->dev, &c, &need))) return s;
    const mlxn_buffer *others[2] = {x, idx};
    const char *names[2] = {"x", "idx"};
    if ((s = check_ws(op, e, ws, need, others, names, 2))) return s;
    c.n_args = 3;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(idx);
    c.args[2] = mlxn_arg_of(ws);
    c.bufs[0] = x;
    c.bufs[1] = idx;
    c.bufs[2] = ws;
    c.u.gen.i[2] = ws ? (int64_t)ws->nbytes : 0;
    return mlxn_encode(e, &c);
}

/* o: [lead dims of x..., k] */
static mlxn_status check_topk_shape(const char *op, const char *arg, const mlxn_buffer *x, const mlxn_buffer *o,
                                    int32_t k) {
    bool same = x->ndim == 0 ? (o->ndim == 0 || (o->ndim == 1 && o->shape[0] == k)) && k == 1 : o->ndim == x->ndim;
    for (int i = 0; same && x->ndim > 0 && i < x->ndim - 1; i++) same = o->shape[i] == x->shape[i];
    if (same && x->ndim > 0) same = o->shape[x->ndim - 1] == k;
    if (!same) {
        char a[128], b[128];
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s shape %s must be x's %s with the last dim k (%d)",
                              op, arg, shape_str(o, a, sizeof a), shape_str(x, b, sizeof b), (int)k);
    }
    return MLXN_OK;
}

mlxn_status mlxn_top_k(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *val, mlxn_buffer *ws,
                       const mlxn_top_k_params *p) {
    static const char op[] = "top_k";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "idx", e, idx))) return s;
    if (val && (s = mlxn_check_buffer(op, "val", e, val))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    const int64_t n = last_dim(x), rows = x->numel / n;
    if ((s = check_dims(op, rows, n, x->dtype))) return s;
    if ((s = check_k(op, p->k, n))) return s;
    if (idx->dtype != MLXN_I32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx dtype (%s) must be i32", op,
                              mlxn_dtype_name(idx->dtype));
    if ((s = check_topk_shape(op, "idx", x, idx, p->k))) return s;
    if (mlxn_buffers_overlap(x, idx)) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx overlaps x", op);
    if (val) {
        if (val->dtype != x->dtype && val->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: val dtype (%s) must be x's (%s) or f32", op,
                                  mlxn_dtype_name(val->dtype), mlxn_dtype_name(x->dtype));
        if ((s = check_topk_shape(op, "val", x, val, p->k))) return s;
        if (mlxn_buffers_overlap(x, val)) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: val overlaps x", op);
        if (mlxn_buffers_overlap(idx, val))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: val overlaps idx", op);
    }
    mlxn_op_call c;
    plan_top_k(&c, rows, n, p->k, x->dtype, val ? (int)val->dtype : -1);
    size_t need;
    if ((s = backend_ws(op, e->dev, &c, &need))) return s;
    const mlxn_buffer *others[3] = {x, idx, val};
    const char *names[3] = {"x", "idx", "val"};
    if ((s = check_ws(op, e, ws, need, others, names, 3))) return s;
    c.n_args = 4;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(idx);
    c.args[2] = mlxn_arg_of(val);
    c.args[3] = mlxn_arg_of(ws);
    c.bufs[0] = x;
    c.bufs[1] = idx;
    c.bufs[2] = val;
    c.bufs[3] = ws;
    c.u.gen.i[2] = ws ? (int64_t)ws->nbytes : 0;
    return mlxn_encode(e, &c);
}
