/* layout.c — validation and planning of the layout family: mlxn_gather_rows,
   mlxn_permute, mlxn_copy_2d, mlxn_repeat_heads and mlxn_kv_cache_write.

   Every op fills the generic plan c.u.gen (backend.h). Argument orders in
   c.args[] and the meaning of each slot, per op:

     gather_rows     args: 0 table, 1 ids, 2 y
                     i[0] n (ids), i[1] dim, i[2] n_rows (table)
                     d[0] table dtype, d[1] ids dtype, d[2] y dtype
                     f[0] scale
     permute         args: 0 x, 1 y
                     i[0..3] x shape, canonical 4-D (see below)
                     i[4..7] perm, canonical 4-D: y axis j is x axis i[4+j]
                     i[8] numel
                     d[0] element size in bytes, d[1] dtype
                     d[2] kind: PERM_COPY, PERM_ROWS, PERM_TRANSPOSE, PERM_GENERIC
     copy_2d         args: 0 src, 1 dst
                     i[0] rows, i[1] cols, i[2] src_stride, i[3] src_col,
                     i[4] dst_stride, i[5] dst_col (all in elements)
                     d[0] element size in bytes
     repeat_heads    args: 0 x, 1 y
                     i[0] T, i[1] Hg, i[2] H, i[3] D
                     d[0] element size in bytes, d[1] interleaved
     kv_cache_write  args: 0 src, 1 cache
     kv_cache_write_kv  args: 0 k_src, 1 k_cache, 2 v_src, 3 v_cache (plan as kv_cache_write;
                     K and V share dtypes, shapes and the plan)
                     i[0] T, i[1] H, i[2] D, i[3] cap, i[4] pos
                     d[0] src dtype, d[1] cache dtype, d[2] sliding

   The permute plan is canonical so that the backends only see four kinds:
   axes of size 1 are dropped, and x axes that stay adjacent and in order in y
   are merged (a [A,B,C] -> [C,A,B] permute is a 2-D transpose of [A*B, C]).
   What is left is padded with leading size-1 axes to 4-D. Then
     PERM_COPY       the permute moves nothing (a flat copy),
     PERM_ROWS       the last axis stays last: runs of i[3] contiguous elements,
     PERM_TRANSPOSE  perm {0,1,3,2}: a batch of i[1] x i[2] x i[3] transposes
                     (i[0] is 1 there: an outer axis would have merged),
     PERM_GENERIC    anything else (per-element index arithmetic).

   Nothing is written before mlxn_encode, so a failed validation leaves every
   output untouched. None of these ops works in place: each output may not
   overlap any input (a copy that reads what another thread already wrote
   would be wrong, and the contracts say so). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PERM_COPY, PERM_ROWS, PERM_TRANSPOSE, PERM_GENERIC };

static void init_call(mlxn_op_call *c, mlxn_op_kind k, const char *name, int n, const mlxn_buffer *b0,
                      const mlxn_buffer *b1, const mlxn_buffer *b2) {
    const mlxn_buffer *b[3] = {b0, b1, b2};
    mlxn_call_init(c, k, name, n, b); /* n <= 3 */
}

static mlxn_status check_no_overlap(const char *op, const mlxn_buffer *out, const char *out_name,
                                    const mlxn_buffer *in, const char *in_name) {
    if (!mlxn_buffers_overlap(out, in)) return MLXN_OK;
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                          "%s: %s overlaps %s (offsets %zu and %zu, %zu and %zu bytes); the op is not in place", op,
                          out_name, in_name, out->offset, in->offset, out->nbytes, in->nbytes);
}

static mlxn_status check_ndim(const char *op, const mlxn_buffer *b, const char *bn, int want, const char *layout) {
    if (b->ndim != want)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s must be %d-D %s, has %d dims", op, bn, want, layout,
                              b->ndim);
    return MLXN_OK;
}

/* ---- mlxn_gather_rows -------------------------------------------------------- */

mlxn_status mlxn_gather_rows(mlxn_encoder *e, const mlxn_buffer *table, const mlxn_buffer *ids, mlxn_buffer *y,
                             const mlxn_gather_params *p) {
    static const char op[] = "gather_rows";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "table", e, table))) return s;
    if ((s = mlxn_check_buffer(op, "ids", e, ids))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (!isfinite(p->scale))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: scale (%g) must be finite", op, (double)p->scale);
    if ((s = mlxn_check_float_dtype(op, table, "table"))) return s;
    if (ids->dtype != MLXN_I32 && ids->dtype != MLXN_U32)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: ids dtype %s is not supported (i32, u32)", op,
                              mlxn_dtype_name(ids->dtype));
    if (y->dtype != table->dtype && y->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y dtype (%s) must be table's (%s) or f32", op,
                              mlxn_dtype_name(y->dtype), mlxn_dtype_name(table->dtype));
    if ((s = check_ndim(op, table, "table", 2, "[n_rows, dim]"))) return s;
    /* ids may carry batch axes ([B, S] -> y [B, S, dim]); y is ids' shape + dim */
    const int64_t dim = table->shape[1];
    bool shape_ok = y->ndim == ids->ndim + 1 && y->shape[y->ndim - 1] == dim;
    for (int i = 0; shape_ok && i < ids->ndim; i++) shape_ok = y->shape[i] == ids->shape[i];
    if (!shape_ok) {
        char ys[160] = "", is[160] = "";
        size_t o = 0;
        for (int i = 0; i < y->ndim && o < sizeof ys; i++)
            o += (size_t)snprintf(ys + o, sizeof ys - o, "%s%lld", i ? "," : "", (long long)y->shape[i]);
        o = 0;
        for (int i = 0; i < ids->ndim && o < sizeof is; i++)
            o += (size_t)snprintf(is + o, sizeof is - o, "%s%lld", i ? "," : "", (long long)ids->shape[i]);
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y shape [%s] must be ids shape [%s] + [dim (%lld)]", op,
                              ys, is, (long long)dim);
    }
    if ((s = check_no_overlap(op, y, "y", table, "table"))) return s;
    if ((s = check_no_overlap(op, y, "y", ids, "ids"))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_GATHER_ROWS, op, 3, table, ids, y);
    c.u.gen.i[0] = ids->numel;
    c.u.gen.i[1] = dim;
    c.u.gen.i[2] = table->shape[0];
    c.u.gen.d[0] = (int32_t)table->dtype;
    c.u.gen.d[1] = (int32_t)ids->dtype;
    c.u.gen.d[2] = (int32_t)y->dtype;
    c.u.gen.f[0] = p->scale;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_permute -------------------------------------------------------------- */

mlxn_status mlxn_permute(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_permute_params *p) {
    static const char op[] = "permute";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->ndim < 2 || p->ndim > 4)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ndim (%d) must be in [2, 4]", op, p->ndim);
    const int nd = p->ndim;
    if (x->ndim != nd)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: x has %d dims, params ndim is %d", op, x->ndim, nd);
    if (y->ndim != nd)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y has %d dims, params ndim is %d", op, y->ndim, nd);
    bool seen[4] = {false, false, false, false};
    for (int i = 0; i < nd; i++) {
        const int a = p->perm[i];
        if (a < 0 || a >= nd)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: perm[%d] (%d) must be in [0, %d]", op, i, a, nd - 1);
        if (seen[a])
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: perm repeats axis %d (not a permutation)", op, a);
        seen[a] = true;
    }
    if ((s = mlxn_check_same_dtype(op, x, "x", y, "y"))) return s;
    for (int i = 0; i < nd; i++)
        if (y->shape[i] != x->shape[p->perm[i]])
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y.shape[%d] (%lld) must equal x.shape[perm[%d] = %d] (%lld)",
                                  op, i, (long long)y->shape[i], i, p->perm[i], (long long)x->shape[p->perm[i]]);
    if ((s = check_no_overlap(op, y, "y", x, "x"))) return s;

    /* canonical form: drop size-1 axes (x order), keeping the perm among the rest */
    int64_t sh[4];
    int pm[4], nk = 0, newidx[4];
    for (int i = 0; i < nd; i++) {
        newidx[i] = -1;
        if (x->shape[i] > 1) {
            newidx[i] = nk;
            sh[nk] = x->shape[i];
            nk++;
        }
    }
    int np = 0;
    for (int j = 0; j < nd; j++)
        if (newidx[p->perm[j]] >= 0) pm[np++] = newidx[p->perm[j]];
    /* merge x axes a, a+1 that are adjacent (in this order) in y as well */
    for (bool merged = true; merged && nk > 1;) {
        merged = false;
        for (int j = 0; j + 1 < nk; j++) {
            const int a = pm[j];
            if (pm[j + 1] != a + 1) continue;
            sh[a] *= sh[a + 1];
            for (int k = a + 1; k + 1 < nk; k++) sh[k] = sh[k + 1];
            for (int k = j + 1; k + 1 < nk; k++) pm[k] = pm[k + 1];
            nk--;
            for (int k = 0; k < nk; k++)
                if (pm[k] > a) pm[k]--;
            merged = true;
            break;
        }
    }
    mlxn_op_call c;
    init_call(&c, MLXN_OPK_PERMUTE, op, 2, x, y, NULL);
    const int pad = 4 - nk;
    for (int i = 0; i < 4; i++) {
        c.u.gen.i[i] = i < pad ? 1 : sh[i - pad];
        c.u.gen.i[4 + i] = i < pad ? i : pm[i - pad] + pad;
    }
    c.u.gen.i[8] = x->numel;
    c.u.gen.d[0] = (int32_t)mlxn_dtype_size(x->dtype);
    c.u.gen.d[1] = (int32_t)x->dtype;
    const int64_t *P = &c.u.gen.i[4];
    int kind;
    if (nk <= 1) kind = PERM_COPY; /* only the identity is left after merging */
    else if (P[3] == 3) kind = PERM_ROWS;
    else if (P[0] == 0 && P[1] == 1 && P[2] == 3 && P[3] == 2) kind = PERM_TRANSPOSE;
    else kind = PERM_GENERIC;
    c.u.gen.d[2] = kind;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_copy_2d -------------------------------------------------------------- */

/* The block of one side must lie inside its buffer: 0 <= col, col + cols <=
   stride (rows of the block do not run into each other), and the last
   element (rows - 1) * stride + col + cols <= numel, evaluated by division so
   that no product can overflow. */
static mlxn_status check_block(const char *op, const char *side, int64_t rows, int64_t cols, int64_t stride,
                               int64_t col, int64_t numel) {
    if (stride < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s_stride (%lld) must be >= 1", op, side,
                              (long long)stride);
    if (col < 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s_col (%lld) must be >= 0", op, side, (long long)col);
    if (col > stride - cols)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: %s_col (%lld) + cols (%lld) exceeds %s_stride (%lld)", op, side, (long long)col,
                              (long long)cols, side, (long long)stride);
    /* col + cols <= stride fits; the block fits iff rows - 1 <= (numel - col - cols) / stride */
    const int64_t tail = col + cols;
    if (tail > numel || rows - 1 > (numel - tail) / stride)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: block of %lld rows (%s_stride %lld, %s_col %lld, cols %lld) does not fit %s's %lld elements",
                              op, (long long)rows, side, (long long)stride, side, (long long)col, (long long)cols, side,
                              (long long)numel);
    return MLXN_OK;
}

mlxn_status mlxn_copy_2d(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst, const mlxn_copy_2d_params *p) {
    static const char op[] = "copy_2d";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "src", e, src))) return s;
    if ((s = mlxn_check_buffer(op, "dst", e, dst))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->rows < 1 || p->cols < 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) and cols (%lld) must be >= 1", op,
                              (long long)p->rows, (long long)p->cols);
    if ((s = mlxn_check_same_dtype(op, src, "src", dst, "dst"))) return s;
    if ((s = check_block(op, "src", p->rows, p->cols, p->src_stride, p->src_col, src->numel))) return s;
    if ((s = check_block(op, "dst", p->rows, p->cols, p->dst_stride, p->dst_col, dst->numel))) return s;
    if ((s = check_no_overlap(op, dst, "dst", src, "src"))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_COPY_2D, op, 2, src, dst, NULL);
    c.u.gen.i[0] = p->rows;
    c.u.gen.i[1] = p->cols;
    c.u.gen.i[2] = p->src_stride;
    c.u.gen.i[3] = p->src_col;
    c.u.gen.i[4] = p->dst_stride;
    c.u.gen.i[5] = p->dst_col;
    c.u.gen.d[0] = (int32_t)mlxn_dtype_size(src->dtype);
    return mlxn_encode(e, &c);
}

/* ---- mlxn_repeat_heads ------------------------------------------------------------ */

mlxn_status mlxn_repeat_heads(mlxn_encoder *e, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_repeat_heads_params *p) {
    static const char op[] = "repeat_heads";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "x", e, x))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->interleaved != 0 && p->interleaved != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: interleaved (%d) must be 0 or 1", op, p->interleaved);
    if ((s = mlxn_check_same_dtype(op, x, "x", y, "y"))) return s;
    if ((s = check_ndim(op, x, "x", 3, "[T, Hg, D]"))) return s;
    if ((s = check_ndim(op, y, "y", 3, "[T, H, D]"))) return s;
    const int64_t T = x->shape[0], Hg = x->shape[1], D = x->shape[2], H = y->shape[1];
    if (y->shape[0] != T)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y T (%lld) must equal x T (%lld)", op,
                              (long long)y->shape[0], (long long)T);
    if (y->shape[2] != D)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y D (%lld) must equal x D (%lld)", op,
                              (long long)y->shape[2], (long long)D);
    if (H % Hg != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: H (%lld) must be a multiple of Hg (%lld)", op,
                              (long long)H, (long long)Hg);
    if ((s = check_no_overlap(op, y, "y", x, "x"))) return s;

    mlxn_op_call c;
    init_call(&c, MLXN_OPK_REPEAT_HEADS, op, 2, x, y, NULL);
    c.u.gen.i[0] = T;
    c.u.gen.i[1] = Hg;
    c.u.gen.i[2] = H;
    c.u.gen.i[3] = D;
    c.u.gen.d[0] = (int32_t)mlxn_dtype_size(x->dtype);
    c.u.gen.d[1] = p->interleaved;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_kv_cache_write ------------------------------------------------------------ */

/* Validates one (src, cache) pair and fills the call's plan; sname/cname
   name the two in messages. */
static mlxn_status kv_plan(const char *op, mlxn_encoder *e, const mlxn_buffer *src, const char *sname,
                           const mlxn_buffer *cache, const char *cname, const mlxn_kv_cache_params *p,
                           mlxn_op_call *c) {
    mlxn_status s;
    if ((s = mlxn_check_buffer(op, sname, e, src))) return s;
    if ((s = mlxn_check_buffer(op, cname, e, cache))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->sliding != 0 && p->sliding != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: sliding (%d) must be 0 or 1", op, p->sliding);
    if ((s = mlxn_check_float_dtype(op, src, sname))) return s;
    if ((s = mlxn_check_float_dtype(op, cache, cname))) return s;
    if ((s = check_ndim(op, src, sname, 3, "[T, H, D]"))) return s;
    if ((s = check_ndim(op, cache, cname, 3, "[H, cap, D]"))) return s;
    const int64_t T = src->shape[0], H = src->shape[1], D = src->shape[2], cap = cache->shape[1];
    if (cache->shape[0] != H)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s H (%lld) must equal %s H (%lld)", op, cname,
                              (long long)cache->shape[0], sname, (long long)H);
    if (cache->shape[2] != D)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s D (%lld) must equal %s D (%lld)", op, cname,
                              (long long)cache->shape[2], sname, (long long)D);
    if (p->sliding) {
        if (T > cap)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: T (%lld) exceeds cap (%lld); a sliding write must not lap the ring", op,
                                  (long long)T, (long long)cap);
    } else if ((int64_t)p->pos + T > cap) { /* pos < 2^32 and T < 2^62: no overflow */
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: pos (%u) + T (%lld) exceeds cap (%lld)", op, p->pos,
                              (long long)T, (long long)cap);
    }
    if ((s = check_no_overlap(op, cache, cname, src, sname))) return s;

    c->u.gen.i[0] = T;
    c->u.gen.i[1] = H;
    c->u.gen.i[2] = D;
    c->u.gen.i[3] = cap;
    /* a ring's first slot, reduced here once (backends then add t < cap) */
    c->u.gen.i[4] = p->sliding ? (int64_t)(p->pos % (uint64_t)cap) : (int64_t)p->pos;
    c->u.gen.d[0] = (int32_t)src->dtype;
    c->u.gen.d[1] = (int32_t)cache->dtype;
    c->u.gen.d[2] = p->sliding;
    return MLXN_OK;
}

mlxn_status mlxn_kv_cache_write(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *cache,
                                const mlxn_kv_cache_params *p) {
    static const char op[] = "kv_cache_write";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    mlxn_op_call c;
    init_call(&c, MLXN_OPK_KV_CACHE_WRITE, op, 2, src, cache, NULL);
    if ((s = kv_plan(op, e, src, "src", cache, "cache", p, &c))) return s;
    return mlxn_encode(e, &c);
}

/* ---- mlxn_kv_cache_write_kv ---------------------------------------------------------- */

mlxn_status mlxn_kv_cache_write_kv(mlxn_encoder *e, const mlxn_buffer *k_src, mlxn_buffer *k_cache,
                                   const mlxn_buffer *v_src, mlxn_buffer *v_cache, const mlxn_kv_cache_params *p) {
    static const char op[] = "kv_cache_write_kv";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    mlxn_op_call c, cv;
    const mlxn_buffer *kv[4] = {k_src, k_cache, v_src, v_cache};
    mlxn_call_init(&c, MLXN_OPK_KV_CACHE_WRITE_KV, op, 4, kv);
    init_call(&cv, MLXN_OPK_KV_CACHE_WRITE_KV, op, 2, v_src, v_cache, NULL);
    if ((s = kv_plan(op, e, k_src, "k_src", k_cache, "k_cache", p, &c))) return s;
    if ((s = kv_plan(op, e, v_src, "v_src", v_cache, "v_cache", p, &cv))) return s;
    if (v_src->dtype != k_src->dtype || v_cache->dtype != k_cache->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: K and V must have the same dtypes (k_src %s, v_src %s, k_cache %s, v_cache %s)", op,
                              mlxn_dtype_name(k_src->dtype), mlxn_dtype_name(v_src->dtype),
                              mlxn_dtype_name(k_cache->dtype), mlxn_dtype_name(v_cache->dtype));
    for (int d = 0; d < 3; d++)
        if (v_src->shape[d] != k_src->shape[d] || v_cache->shape[d] != k_cache->shape[d])
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                                  "%s: K and V must have the same shapes (src dim %d: %lld vs %lld, cache dim %d: "
                                  "%lld vs %lld)",
                                  op, d, (long long)k_src->shape[d], (long long)v_src->shape[d], d,
                                  (long long)k_cache->shape[d], (long long)v_cache->shape[d]);
    if ((s = check_no_overlap(op, k_cache, "k_cache", v_src, "v_src"))) return s;
    if ((s = check_no_overlap(op, v_cache, "v_cache", k_src, "k_src"))) return s;
    if ((s = check_no_overlap(op, v_cache, "v_cache", k_cache, "k_cache"))) return s;
    return mlxn_encode(e, &c);
}
