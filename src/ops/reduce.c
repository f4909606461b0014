/* reduce.c — validation and planning of the reduce family: mlxn_argmax,
   mlxn_cumsum, mlxn_row_sum. Every op reduces or scans along the last
   dimension: n = last dim of x, rows = numel(x) / n.

   Op call layout (backend.h, generic plan c.u.gen):

     argmax   args: 0 x, 1 idx (i32 [rows]), 2 val (f32 [rows]; ptr NULL when absent)
              i[0] rows, i[1] n (<= INT32_MAX: indices are i32)
              d[0] x dtype, d[1] 1 when val is present

     cumsum   args: 0 x, 1 y (same dtype and numel; y may be exactly x)
              i[0] rows, i[1] n
              d[0] dtype, d[1] exclusive (0/1), d[2] reverse (0/1)

     row_sum  args: 0 x, 1 y ([rows], x's dtype or f32)
              i[0] rows, i[1] n
              d[0] x dtype, d[1] y dtype

   Unused slots are zero. Every check happens here, before anything is
   encoded, so a failing call never writes an output. */
#include "internal.h"

#include <string.h>

/* The row length: the last dimension (a scalar is one row of 1). */
static int64_t last_dim(const mlxn_buffer *b) { return b->ndim > 0 ? b->shape[b->ndim - 1] : 1; }

static mlxn_status check_x(const char *op, const mlxn_buffer *x) {
    if (!mlxn_is_float_dtype(x->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(x->dtype));
    return MLXN_OK;
}

/* An output of one value per row: `want` dtype (or, with alt >= 0, that one
   too) and exactly rows elements; it must not overlap x. */
static mlxn_status check_per_row(const char *op, const char *arg, const mlxn_buffer *x, const mlxn_buffer *o,
                                 int64_t rows) {
    if (o->numel != rows)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s has %lld elements, x has %lld rows of %lld", op, arg,
                              (long long)o->numel, (long long)rows, (long long)last_dim(x));
    if (mlxn_buffers_overlap(x, o))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s overlaps x", op, arg);
    return MLXN_OK;
}

mlxn_status mlxn_argmax(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *idx, mlxn_buffer *val) {
    static const char op[] = "argmax";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "idx", e, idx))) return s;
    if (val && (s = mlxn_check_buffer(op, "val", e, val))) return s;
    if ((s = check_x(op, x))) return s;
    const int64_t n = last_dim(x), rows = x->numel / n;
    /* indices are returned as i32 */
    if (n > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows of %lld elements exceed the i32 index limit %d", op,
                              (long long)n, INT32_MAX);
    if (idx->dtype != MLXN_I32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: idx dtype (%s) must be i32", op,
                              mlxn_dtype_name(idx->dtype));
    if ((s = check_per_row(op, "idx", x, idx, rows))) return s;
    if (val) {
        if (val->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: val dtype (%s) must be f32", op,
                                  mlxn_dtype_name(val->dtype));
        if ((s = check_per_row(op, "val", x, val, rows))) return s;
        if (mlxn_buffers_overlap(idx, val))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: val overlaps idx", op);
    }
    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_ARGMAX;
    c.name = op;
    c.n_args = 3;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(idx);
    c.args[2] = mlxn_arg_of(val);
    c.bufs[0] = x;
    c.bufs[1] = idx;
    c.bufs[2] = val;
    c.u.gen.i[0] = rows;
    c.u.gen.i[1] = n;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = val ? 1 : 0;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_cumsum(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_cumsum_params *p) {
    static const char op[] = "cumsum";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->exclusive != 0 && p->exclusive != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: exclusive (%d) must be 0 or 1", op, p->exclusive);
    if (p->reverse != 0 && p->reverse != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: reverse (%d) must be 0 or 1", op, p->reverse);
    if ((s = check_x(op, x))) return s;
    if (y->dtype != x->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must equal x dtype (%s)", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(x->dtype));
    if (y->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, x %lld", op, (long long)y->numel,
                              (long long)x->numel);
    /* exactly in place is fine (each element is read before its own output
       is written and nothing else reads it); any other overlap would let one
       element's output clobber another's input */
    if (mlxn_buffers_overlap(x, y) && !mlxn_buffers_same_view(x, y))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y partially overlaps x", op);
    const int64_t n = last_dim(x);
    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_CUMSUM;
    c.name = op;
    c.n_args = 2;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(y);
    c.bufs[0] = x;
    c.bufs[1] = y;
    c.u.gen.i[0] = x->numel / n;
    c.u.gen.i[1] = n;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = p->exclusive;
    c.u.gen.d[2] = p->reverse;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_row_sum(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y) {
    static const char op[] = "row_sum";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = check_x(op, x))) return s;
    if (y->dtype != x->dtype && y->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must be x's (%s) or f32", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(x->dtype));
    const int64_t n = last_dim(x), rows = x->numel / n;
    if ((s = check_per_row(op, "y", x, y, rows))) return s;
    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_ROW_SUM;
    c.name = op;
    c.n_args = 2;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(y);
    c.bufs[0] = x;
    c.bufs[1] = y;
    c.u.gen.i[0] = rows;
    c.u.gen.i[1] = n;
    c.u.gen.d[0] = (int32_t)x->dtype;
    c.u.gen.d[1] = (int32_t)y->dtype;
    return mlxn_encode(e, &c);
}
