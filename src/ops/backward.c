/* backward.c — validation and planning of the backward family (include/mlxn.h,
   "Backward kernels"): mlxn_softmax_backward, mlxn_rms_inv,
   mlxn_rms_norm_backward, mlxn_unary_backward, mlxn_row_sum_backward. All f32;
   rows are the last dimension: n = last dim, rows = numel / n.

   Op call layout (backend.h, generic plan c.u.gen):

     softmax_backward   args: 0 y, 1 dy, 2 dx
                        i[0] rows, i[1] n
     rms_inv            args: 0 x, 1 r ([rows])
                        i[0] rows, i[1] dim; f[0] eps
     rms_norm_backward  args: 0 x, 1 w (ptr NULL when absent), 2 r, 3 dy, 4 dx,
                              5 dw (ptr NULL when absent), 6 ws (ptr NULL unless dw)
                        i[0] rows, i[1] dim, i[2] chunks (mlxn_bw_chunks(rows));
                        d[0] 1 when w is present, d[1] 1 when dw is present
     unary_backward     args: 0 x, 1 dy, 2 dx
                        i[0] n (elements); d[0] op (MLXN_UNARY_SILU / _LOG)
     row_sum_backward   args: 0 dy ([rows]), 1 dx
                        i[0] rows, i[1] n

   rms_norm_backward's dw: the rows are dealt into `chunks` = min(rows, 256)
   chunks, chunk c holding rows c, c + chunks, c + 2*chunks, ... (strided, so
   a GPU's blocks stream neighbouring rows at any moment); each backend writes
   chunk c's f32 column sums (rows in order) to ws[c*dim .. c*dim + dim) and
   then adds them in one fixed order: the chunks in groups of four
   consecutive chunks [4g, min(4g + 4, chunks)), each group added in f32 in
   chunk order; the ng = ceil(chunks/4) group sums in double in eight runs of
   consecutive groups, [r*ng/8, (r+1)*ng/8) for r = 0..7, each summed in
   group order from 0.0; then the eight run totals in run order from 0.0
   (runs may be empty).
   The partition and the order depend on rows alone, so dw is the same from
   run to run, whatever the thread count, and the same on every backend.
   The runs let a GPU sum a column with eight warps instead of one serial
   chain; the f32 groups cut each warp's chain of double additions (and
   conversions) from 32 to 8.

   Unused slots are zero. Every check happens here, before anything is
   encoded, so a failing call never writes an output. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define BW_MAX_CHUNKS 256

static int64_t last_dim(const mlxn_buffer *b) { return b->ndim > 0 ? b->shape[b->ndim - 1] : 1; }

static int64_t bw_chunks(int64_t rows) { return rows < BW_MAX_CHUNKS ? rows : BW_MAX_CHUNKS; }

static mlxn_status check_f32(const char *op, const char *arg, const mlxn_buffer *b) {
    if (b->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: %s dtype %s is not supported (f32 only)", op, arg,
                              mlxn_dtype_name(b->dtype));
    return MLXN_OK;
}

/* b must have x's numel and last dimension. */
static mlxn_status check_like(const char *op, const char *arg, const mlxn_buffer *b, const char *xn,
                              const mlxn_buffer *x) {
    if (b->numel != x->numel || last_dim(b) != last_dim(x))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: %s has %lld elements in rows of %lld, %s has %lld in rows of %lld", op, arg,
                              (long long)b->numel, (long long)last_dim(b), xn, (long long)x->numel,
                              (long long)last_dim(x));
    return MLXN_OK;
}

/* An output may be exactly an input (in place) but must not partially overlap it. */
static mlxn_status check_inplace(const char *op, const char *on, const mlxn_buffer *o, const char *in,
                                 const mlxn_buffer *i) {
    if (i && mlxn_buffers_overlap(o, i) && !mlxn_buffers_same_view(o, i))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s partially overlaps %s", op, on, in);
    return MLXN_OK;
}

/* An output must not overlap the buffer at all. */
static mlxn_status check_apart(const char *op, const char *on, const mlxn_buffer *o, const char *in,
                               const mlxn_buffer *i) {
    if (i && o && mlxn_buffers_overlap(o, i))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, on, in);
    return MLXN_OK;
}

mlxn_status mlxn_softmax_backward(mlxn_encoder *e, const mlxn_buffer *y, const mlxn_buffer *dy, mlxn_buffer *dx) {
    static const char op[] = "softmax_backward";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = mlxn_check_buffer(op, "dy", e, dy))) return s;
    if ((s = mlxn_check_buffer(op, "dx", e, dx))) return s;
    if ((s = check_f32(op, "y", y))) return s;
    if ((s = check_f32(op, "dy", dy))) return s;
    if ((s = check_f32(op, "dx", dx))) return s;
    if ((s = check_like(op, "dy", dy, "y", y))) return s;
    if ((s = check_like(op, "dx", dx, "y", y))) return s;
    if ((s = check_inplace(op, "dx", dx, "y", y))) return s;
    if ((s = check_inplace(op, "dx", dx, "dy", dy))) return s;
    const int64_t n = last_dim(y);
    mlxn_op_call c;
    const mlxn_buffer *b[3] = {y, dy, dx};
    mlxn_call_init(&c, MLXN_OPK_SOFTMAX_BACKWARD, op, 3, b);
    c.u.gen.i[0] = y->numel / n;
    c.u.gen.i[1] = n;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_rms_inv(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *r, const mlxn_norm_params *p) {
    static const char op[] = "rms_inv";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "r", e, r))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (!isfinite(p->eps) || p->eps < 0.0f)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: eps (%g) must be finite and >= 0", op, (double)p->eps);
    if ((s = check_f32(op, "x", x))) return s;
    if ((s = check_f32(op, "r", r))) return s;
    const int64_t dim = last_dim(x), rows = x->numel / dim;
    if (r->numel != rows)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: r has %lld elements, x has %lld rows of %lld", op,
                              (long long)r->numel, (long long)rows, (long long)dim);
    if ((s = check_apart(op, "r", r, "x", x))) return s;
    mlxn_op_call c;
    const mlxn_buffer *b[2] = {x, r};
    mlxn_call_init(&c, MLXN_OPK_RMS_INV, op, 2, b);
    c.u.gen.i[0] = rows;
    c.u.gen.i[1] = dim;
    c.u.gen.f[0] = p->eps;
    return mlxn_encode(e, &c);
}

size_t mlxn_rms_norm_backward_workspace_size(const mlxn_device *d, int64_t rows, int64_t dim) {
    (void)d; /* the same partition on every backend */
    if (rows <= 0 || dim <= 0) return 0;
    const int64_t ch = bw_chunks(rows);
    if (dim > (int64_t)(SIZE_MAX / sizeof(float)) / ch) return SIZE_MAX;
    return (size_t)ch * (size_t)dim * sizeof(float);
}

mlxn_status mlxn_rms_norm_backward(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *r,
                                   const mlxn_buffer *dy, mlxn_buffer *dx, mlxn_buffer *dw, mlxn_buffer *ws) {
    static const char op[] = "rms_norm_backward";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if (w && (s = mlxn_check_buffer(op, "w", e, w))) return s;
    if ((s = mlxn_check_buffer(op, "r", e, r))) return s;
    if ((s = mlxn_check_buffer(op, "dy", e, dy))) return s;
    if ((s = mlxn_check_buffer(op, "dx", e, dx))) return s;
    if (dw && (s = mlxn_check_buffer(op, "dw", e, dw))) return s;
    if (ws && (s = mlxn_check_buffer(op, "ws", e, ws))) return s;
    if ((s = check_f32(op, "x", x))) return s;
    if (w && (s = check_f32(op, "w", w))) return s;
    if ((s = check_f32(op, "r", r))) return s;
    if ((s = check_f32(op, "dy", dy))) return s;
    if ((s = check_f32(op, "dx", dx))) return s;
    if (dw && (s = check_f32(op, "dw", dw))) return s;
    const int64_t dim = last_dim(x), rows = x->numel / dim;
    if ((s = check_like(op, "dy", dy, "x", x))) return s;
    if ((s = check_like(op, "dx", dx, "x", x))) return s;
    if (w && w->numel != dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w has %lld elements, rows have %lld", op,
                              (long long)w->numel, (long long)dim);
    if (r->numel != rows)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: r has %lld elements, x has %lld rows of %lld", op,
                              (long long)r->numel, (long long)rows, (long long)dim);
    if (dw && dw->numel != dim)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dw has %lld elements, rows have %lld", op,
                              (long long)dw->numel, (long long)dim);
    const size_t need = dw ? mlxn_rms_norm_backward_workspace_size(e->dev, rows, dim) : 0;
    if (need && !ws)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ws is NULL, dw needs a workspace of %zu bytes", op, need);
    if (need && ws->nbytes < need)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ws has %zu bytes, %zu needed (rows %lld, dim %lld)", op,
                              ws->nbytes, need, (long long)rows, (long long)dim);
    if (need && ((uintptr_t)mlxn_buffer_ptr(ws) % sizeof(float)) != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ws must start at a multiple of 4 bytes (offset %zu)",
                              op, ws->offset);
    /* dx: exactly x or dy, or apart from them; never over w or r */
    if ((s = check_inplace(op, "dx", dx, "x", x))) return s;
    if ((s = check_inplace(op, "dx", dx, "dy", dy))) return s;
    if ((s = check_apart(op, "dx", dx, "w", w))) return s;
    if ((s = check_apart(op, "dx", dx, "r", r))) return s;
    if (dw) {
        const mlxn_buffer *o[5] = {x, w, r, dy, dx};
        const char *on[5] = {"x", "w", "r", "dy", "dx"};
        for (int k = 0; k < 5; k++)
            if ((s = check_apart(op, "dw", dw, on[k], o[k]))) return s;
        const mlxn_buffer *q[6] = {x, w, r, dy, dx, dw};
        const char *qn[6] = {"x", "w", "r", "dy", "dx", "dw"};
        for (int k = 0; k < 6; k++)
            if ((s = check_apart(op, "ws", ws, qn[k], q[k]))) return s;
    }
    mlxn_op_call c;
    const mlxn_buffer *b[7] = {x, w, r, dy, dx, dw, dw ? ws : NULL};
    mlxn_call_init(&c, MLXN_OPK_RMS_NORM_BACKWARD, op, 7, b);
    c.u.gen.i[0] = rows;
    c.u.gen.i[1] = dim;
    c.u.gen.i[2] = bw_chunks(rows);
    c.u.gen.d[0] = w ? 1 : 0;
    c.u.gen.d[1] = dw ? 1 : 0;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_unary_backward(mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *dy, mlxn_buffer *dx,
                                const mlxn_unary_params *p) {
    static const char op[] = "unary_backward";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "dy", e, dy))) return s;
    if ((s = mlxn_check_buffer(op, "dx", e, dx))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->op != MLXN_UNARY_SILU && p->op != MLXN_UNARY_LOG)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: op %d is not supported (SILU %d, LOG %d)", op, (int)p->op,
                              (int)MLXN_UNARY_SILU, (int)MLXN_UNARY_LOG);
    if ((s = check_f32(op, "x", x))) return s;
    if ((s = check_f32(op, "dy", dy))) return s;
    if ((s = check_f32(op, "dx", dx))) return s;
    if (dy->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dy has %lld elements, x %lld", op, (long long)dy->numel,
                              (long long)x->numel);
    if (dx->numel != x->numel)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dx has %lld elements, x %lld", op, (long long)dx->numel,
                              (long long)x->numel);
    if ((s = check_inplace(op, "dx", dx, "x", x))) return s;
    if ((s = check_inplace(op, "dx", dx, "dy", dy))) return s;
    mlxn_op_call c;
    const mlxn_buffer *b[3] = {x, dy, dx};
    mlxn_call_init(&c, MLXN_OPK_UNARY_BACKWARD, op, 3, b);
    c.u.gen.i[0] = x->numel;
    c.u.gen.d[0] = (int32_t)p->op;
    return mlxn_encode(e, &c);
}

mlxn_status mlxn_row_sum_backward(mlxn_encoder *e, const mlxn_buffer *dy, mlxn_buffer *dx) {
    static const char op[] = "row_sum_backward";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "dy", e, dy))) return s;
    if ((s = mlxn_check_buffer(op, "dx", e, dx))) return s;
    if ((s = check_f32(op, "dy", dy))) return s;
    if ((s = check_f32(op, "dx", dx))) return s;
    const int64_t n = last_dim(dx), rows = dx->numel / n;
    if (dy->numel != rows)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dy has %lld elements, dx has %lld rows of %lld", op,
                              (long long)dy->numel, (long long)rows, (long long)n);
    if ((s = check_apart(op, "dx", dx, "dy", dy))) return s;
    mlxn_op_call c;
    const mlxn_buffer *b[2] = {dy, dx};
    mlxn_call_init(&c, MLXN_OPK_ROW_SUM_BACKWARD, op, 2, b);
    c.u.gen.i[0] = rows;
    c.u.gen.i[1] = n;
    return mlxn_encode(e, &c);
}
