/* softmax.c — validation and planning of the softmax family: mlxn_softmax
   (ggml soft_max_ext order: scale, optional softcap, optional additive mask
   broadcast over rows).

   Op call argument order (backend.h): 0 x, 1 mask (ptr NULL when absent), 2 y. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* The row length of a buffer: its last dimension (a scalar is one row of 1). */
static int64_t last_dim(const mlxn_buffer *b) { return b->ndim > 0 ? b->shape[b->ndim - 1] : 1; }

mlxn_status mlxn_softmax(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *mask, mlxn_buffer *y,
                         const mlxn_softmax_params *p) {
    static const char op[] = "softmax";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (mask && (s = mlxn_check_buffer(op, "mask", e, mask))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);

    if (!isfinite(p->scale))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: scale (%g) must be finite", op, (double)p->scale);
    if (!isfinite(p->softcap) || p->softcap < 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: softcap (%g) must be finite and >= 0 (0 = off)", op,
                              (double)p->softcap);
    if (!mlxn_is_float_dtype(x->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported (f32, f16, bf16)", op,
                              mlxn_dtype_name(x->dtype));
    if (y->dtype != x->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must equal x dtype (%s)", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(x->dtype));
    if (y->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %lld elements, x %lld", op, (long long)y->numel,
                              (long long)x->numel);
    const int64_t cols = last_dim(x);
    /* the kernels index within a row with 32-bit integers */
    if (cols > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows of %lld columns exceed the limit %d", op,
                              (long long)cols, INT32_MAX);
    int64_t mask_rows = 0;
    if (mask) {
        if (!mlxn_is_float_dtype(mask->dtype))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mask dtype (%s) must be f32, f16 or bf16", op,
                                  mlxn_dtype_name(mask->dtype));
        if (last_dim(mask) != cols)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mask has %lld columns, x has %lld", op,
                                  (long long)last_dim(mask), (long long)cols);
        /* numel % cols == 0 follows from the last dimension; kept explicit
           because the kernels rely on it */
        if (mask->numel % cols != 0)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: mask has %lld elements, not a multiple of %lld", op,
                                  (long long)mask->numel, (long long)cols);
        mask_rows = mask->numel / cols;
    }
    /* in place is fine (each row is read completely before it is written);
       a partial overlap would let one row's output clobber another's input */
    if (mlxn_buffers_overlap(x, y) && !mlxn_buffers_same_view(x, y))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y partially overlaps x", op);
    if (mask && mlxn_buffers_overlap(y, mask))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y overlaps mask", op);

    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_SOFTMAX;
    c.name = op;
    c.n_args = 3;
    c.args[0] = mlxn_arg_of(x);
    c.args[1] = mlxn_arg_of(mask);
    c.args[2] = mlxn_arg_of(y);
    c.bufs[0] = x;
    c.bufs[1] = mask;
    c.bufs[2] = y;
    mlxn_softmax_plan *sp = &c.u.softmax;
    sp->rows = x->numel / cols;
    sp->cols = cols;
    sp->mask_rows = mask_rows;
    sp->dtype = (int32_t)x->dtype;
    sp->mask_dtype = mask ? (int32_t)mask->dtype : -1;
    sp->scale = p->scale;
    sp->softcap = p->softcap;
    return mlxn_encode(e, &c);
}
