/* sample.c — validation and planning of the MoE-routing and sampling family:
   mlxn_moe_softmax_topk, mlxn_moe_weighted_reduce, mlxn_softmax_sample (the
   semantics are in mlxn.h, "MoE routing and sampling").

   Op call layout (backend.h, generic plan c.u.gen):

     moe_softmax_topk     args: 0 logits, 1 expert_scale (f32 [E]; ptr NULL when absent),
                                2 ids (i32 [T*k]), 3 weights (f32 [T*k])
                          i[0] T, i[1] E, i[2] k
                          d[0] logits dtype, d[1] renormalize (0/1), d[2] 1 when expert_scale

     moe_weighted_reduce  args: 0 y ([T,k,D]), 1 w (f32 [T*k]), 2 y_shared (NULL when absent),
                                3 gate (NULL when absent), 4 res (NULL when absent), 5 out
                          i[0] T, i[1] k, i[2] D
                          d[0] y dtype (= y_shared, res, out), d[1] gate dtype (-1 when absent),
                          d[2] shared_sigmoid (0/1), d[3] bit 0: y_shared present, bit 1: res present

     softmax_sample       args: 0 logits, 1 u (f32 [B]), 2 token (i32 [B]),
                                3 logprob (f32 [B]; NULL when absent), 4 ws (NULL when absent)
                          i[0] B (rows), i[1] V, i[2] top_k (0 = off; already 0 when >= V),
                          i[3] top-p fraction P = floor(top_p * 2^64) as uint64 bits (0 = off)
                          f[0] temperature (0 = greedy), f[1] ln(min_p) rounded to f32
                          d[0] logits dtype, d[1] 1 when logprob, d[2] 1 when top-p is on,
                          d[3] 1 when min-p is on

   Unused slots are zero. Every check happens here, before anything is
   encoded, so a failing call never writes an output. */
#include "internal.h"

#include <math.h>
#include <string.h>

static int64_t last_dim(const mlxn_buffer *b) { return b->ndim > 0 ? b->shape[b->ndim - 1] : 1; }

static mlxn_status overlap_err(const char *op, const char *a, const char *b) {
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, a, b);
}

/* ---- moe_softmax_topk ------------------------------------------------------- */

mlxn_status mlxn_moe_softmax_topk(mlxn_encoder *e, const mlxn_buffer *logits, const mlxn_buffer *expert_scale,
                                  mlxn_buffer *ids, mlxn_buffer *weights, const mlxn_moe_topk_params *p) {
    static const char op[] = "moe_softmax_topk";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "logits", e, logits))) return s;
    if (expert_scale && (s = mlxn_check_buffer(op, "expert_scale", e, expert_scale))) return s;
    if ((s = mlxn_check_buffer(op, "ids", e, ids))) return s;
    if ((s = mlxn_check_buffer(op, "weights", e, weights))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mlxn_check_float_dtype(op, logits, "logits"))) return s;
    const int64_t E = last_dim(logits), T = logits->numel / E;
    if (E > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: E (%lld) exceeds the i32 id limit %d", op,
                              (long long)E, INT32_MAX);
    if (p->k < 1 || p->k > MLXN_MOE_MAX_TOPK)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: k (%u) must be in [1, %d]", op, p->k,
                              MLXN_MOE_MAX_TOPK);
    if ((int64_t)p->k > E)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: k (%u) must be <= E (%lld)", op, p->k, (long long)E);
    if (p->renormalize != 0 && p->renormalize != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: renormalize (%d) must be 0 or 1", op, p->renormalize);
    const int64_t nk = T * (int64_t)p->k;
    if (ids->dtype != MLXN_I32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ids dtype (%s) must be i32", op,
                              mlxn_dtype_name(ids->dtype));
    if (ids->numel != nk)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ids has %lld elements, T*k is %lld (T %lld, k %u)", op,
                              (long long)ids->numel, (long long)nk, (long long)T, p->k);
    if (weights->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: weights dtype (%s) must be f32", op,
                              mlxn_dtype_name(weights->dtype));
    if (weights->numel != nk)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: weights has %lld elements, T*k is %lld (T %lld, k %u)",
                              op, (long long)weights->numel, (long long)nk, (long long)T, p->k);
    if (expert_scale) {
        if (expert_scale->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: expert_scale dtype (%s) must be f32", op,
                                  mlxn_dtype_name(expert_scale->dtype));
        if (expert_scale->numel != E)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: expert_scale has %lld elements, E is %lld", op,
                                  (long long)expert_scale->numel, (long long)E);
    }
    if (mlxn_buffers_overlap(ids, logits)) return overlap_err(op, "ids", "logits");
    if (mlxn_buffers_overlap(weights, logits)) return overlap_err(op, "weights", "logits");
    if (expert_scale && mlxn_buffers_overlap(ids, expert_scale)) return overlap_err(op, "ids", "expert_scale");
    if (expert_scale && mlxn_buffers_overlap(weights, expert_scale))
        return overlap_err(op, "weights", "expert_scale");
    if (mlxn_buffers_overlap(ids, weights)) return overlap_err(op, "weights", "ids");
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_MOE_SOFTMAX_TOPK, op, 4, (const mlxn_buffer *const[]){logits, expert_scale, ids, weights});
    c.u.gen.i[0] = T;
    c.u.gen.i[1] = E;
    c.u.gen.i[2] = p->k;
    c.u.gen.d[0] = (int32_t)logits->dtype;
    c.u.gen.d[1] = p->renormalize;
    c.u.gen.d[2] = expert_scale ? 1 : 0;
    return mlxn_encode(e, &c);
}

/* ---- moe_weighted_reduce ---------------------------------------------------- */

/* A [T, D] companion of y (y_shared, res, out): y's dtype, T*D elements, last dim D. */
static mlxn_status check_td(const char *op, const char *arg, const mlxn_buffer *b, const mlxn_buffer *y, int64_t T,
                            int64_t D) {
    if (b->dtype != y->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s dtype (%s) must equal y dtype (%s)", op, arg,
                              mlxn_dtype_name(b->dtype), mlxn_dtype_name(y->dtype));
    if (b->numel != T * D || last_dim(b) != D)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: %s must have T*D = %lld elements with last dim D = %lld (has %lld, last dim %lld)",
                              op, arg, (long long)(T * D), (long long)D, (long long)b->numel,
                              (long long)last_dim(b));
    return MLXN_OK;
}

mlxn_status mlxn_moe_weighted_reduce(mlxn_encoder *e, const mlxn_buffer *y, const mlxn_buffer *w,
                                     const mlxn_buffer *y_shared, const mlxn_buffer *gate, const mlxn_buffer *res,
                                     mlxn_buffer *out, const mlxn_moe_reduce_params *p) {
    static const char op[] = "moe_weighted_reduce";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "y", e, y))) return s;
    if ((s = mlxn_check_buffer(op, "w", e, w))) return s;
    if (y_shared && (s = mlxn_check_buffer(op, "y_shared", e, y_shared))) return s;
    if (gate && (s = mlxn_check_buffer(op, "gate", e, gate))) return s;
    if (res && (s = mlxn_check_buffer(op, "res", e, res))) return s;
    if ((s = mlxn_check_buffer(op, "out", e, out))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->shared_sigmoid != 0 && p->shared_sigmoid != 1)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: shared_sigmoid (%d) must be 0 or 1", op,
                              p->shared_sigmoid);
    if ((s = mlxn_check_float_dtype(op, y, "y"))) return s;
    if (y->ndim != 3)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: y must be 3-D [T, k, D] (ndim %d)", op, y->ndim);
    const int64_t T = y->shape[0], k = y->shape[1], D = y->shape[2];
    if (w->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: w dtype (%s) must be f32", op, mlxn_dtype_name(w->dtype));
    if (w->numel != T * k || last_dim(w) != k)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "%s: w must have T*k = %lld elements with last dim k = %lld (has %lld, last dim %lld)",
                              op, (long long)(T * k), (long long)k, (long long)w->numel, (long long)last_dim(w));
    if (gate && !y_shared)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: gate is given without y_shared", op);
    if (y_shared && (s = check_td(op, "y_shared", y_shared, y, T, D))) return s;
    if (gate) {
        if ((s = mlxn_check_float_dtype(op, gate, "gate"))) return s;
        if (gate->numel != T)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: gate has %lld elements, T is %lld", op,
                                  (long long)gate->numel, (long long)T);
    }
    if (res && (s = check_td(op, "res", res, y, T, D))) return s;
    if ((s = check_td(op, "out", out, y, T, D))) return s;
    /* out: exactly res is fine (each element reads its res before its own
       output is written); any other overlap is not */
    if (mlxn_buffers_overlap(out, y)) return overlap_err(op, "out", "y");
    if (mlxn_buffers_overlap(out, w)) return overlap_err(op, "out", "w");
    if (y_shared && mlxn_buffers_overlap(out, y_shared)) return overlap_err(op, "out", "y_shared");
    if (gate && mlxn_buffers_overlap(out, gate)) return overlap_err(op, "out", "gate");
    if (res && mlxn_buffers_overlap(out, res) && !mlxn_buffers_same_view(out, res))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: out partially overlaps res", op);
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_MOE_WEIGHTED_REDUCE, op, 6, (const mlxn_buffer *const[]){y, w, y_shared, gate, res, out});
    c.u.gen.i[0] = T;
    c.u.gen.i[1] = k;
    c.u.gen.i[2] = D;
    c.u.gen.d[0] = (int32_t)y->dtype;
    c.u.gen.d[1] = gate ? (int32_t)gate->dtype : -1;
    c.u.gen.d[2] = p->shared_sigmoid;
    c.u.gen.d[3] = (y_shared ? 1 : 0) | (res ? 2 : 0);
    return mlxn_encode(e, &c);
}

/* ---- softmax_sample ------------------------------------------------------------ */

mlxn_sample_params mlxn_sample_params_default(void) {
    mlxn_sample_params p = {1.0f, 0, 1.0f, 0.0f};
    return p;
}

mlxn_status mlxn_softmax_sample_workspace_size(const mlxn_device *d, int64_t rows, int64_t V, size_t *bytes) {
    static const char op[] = "softmax_sample_workspace_size";
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: device is NULL", op);
    if (!bytes) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", op);
    if (rows < 1 || V < 1 || V > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) must be >= 1 and V (%lld) in [1, %d]", op,
                              (long long)rows, (long long)V, INT32_MAX);
    *bytes = 0;
    return MLXN_OK;
}

mlxn_status mlxn_softmax_sample(mlxn_encoder *e, const mlxn_buffer *logits, const mlxn_buffer *u,
                                mlxn_buffer *token, mlxn_buffer *logprob, mlxn_buffer *ws,
                                const mlxn_sample_params *p) {
    static const char op[] = "softmax_sample";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "logits", e, logits))) return s;
    if ((s = mlxn_check_buffer(op, "u", e, u))) return s;
    if ((s = mlxn_check_buffer(op, "token", e, token))) return s;
    if (logprob && (s = mlxn_check_buffer(op, "logprob", e, logprob))) return s;
    if (ws && (s = mlxn_check_buffer(op, "ws", e, ws))) return s;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: temperature (%g) must be finite and >= 0 (0 = greedy)",
                              op, (double)p->temperature);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: top_p (%g) must be in (0, 1] (1 = off)", op,
                              (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: min_p (%g) must be in [0, 1] (0 = off)", op,
                              (double)p->min_p);
    if ((s = mlxn_check_float_dtype(op, logits, "logits"))) return s;
    const int64_t V = last_dim(logits), B = logits->numel / V;
    if (V > INT32_MAX)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: V (%lld) exceeds the i32 token limit %d", op,
                              (long long)V, INT32_MAX);
    if (u->dtype != MLXN_F32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: u dtype (%s) must be f32", op, mlxn_dtype_name(u->dtype));
    if (u->numel != B)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: u has %lld elements, logits has %lld rows of %lld", op,
                              (long long)u->numel, (long long)B, (long long)V);
    if (token->dtype != MLXN_I32)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: token dtype (%s) must be i32", op,
                              mlxn_dtype_name(token->dtype));
    if (token->numel != B)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: token has %lld elements, logits has %lld rows", op,
                              (long long)token->numel, (long long)B);
    if (logprob) {
        if (logprob->dtype != MLXN_F32)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: logprob dtype (%s) must be f32", op,
                                  mlxn_dtype_name(logprob->dtype));
        if (logprob->numel != B)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: logprob has %lld elements, logits has %lld rows", op,
                                  (long long)logprob->numel, (long long)B);
    }
    size_t need = 0;
    if ((s = mlxn_softmax_sample_workspace_size(e->dev, B, V, &need))) return s;
    const size_t have = ws ? ws->nbytes : 0;
    if (have < need)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ws has %zu bytes, %zu needed for %lld rows of %lld", op,
                              have, need, (long long)B, (long long)V);
    if (mlxn_buffers_overlap(token, logits)) return overlap_err(op, "token", "logits");
    if (mlxn_buffers_overlap(token, u)) return overlap_err(op, "token", "u");
    if (logprob && mlxn_buffers_overlap(logprob, logits)) return overlap_err(op, "logprob", "logits");
    if (logprob && mlxn_buffers_overlap(logprob, u)) return overlap_err(op, "logprob", "u");
    if (logprob && mlxn_buffers_overlap(logprob, token)) return overlap_err(op, "logprob", "token");
    if (ws) {
        if (mlxn_buffers_overlap(ws, logits)) return overlap_err(op, "ws", "logits");
        if (mlxn_buffers_overlap(ws, u)) return overlap_err(op, "ws", "u");
        if (mlxn_buffers_overlap(ws, token)) return overlap_err(op, "ws", "token");
        if (logprob && mlxn_buffers_overlap(ws, logprob)) return overlap_err(op, "ws", "logprob");
    }
    const int greedy = p->temperature == 0.0f;
    const int64_t k = (!greedy && p->top_k > 0 && (int64_t)p->top_k < V) ? (int64_t)p->top_k : 0;
    const int top_p_on = !greedy && p->top_p < 1.0f;
    const int min_p_on = !greedy && p->min_p > 0.0f;
    /* floor(top_p * 2^64): exact (top_p < 1 has 24 significant bits) */
    uint64_t P = 0;
    if (top_p_on) P = (uint64_t)ldexp((double)p->top_p, 64);
    mlxn_op_call c;
    mlxn_call_init(&c, MLXN_OPK_SOFTMAX_SAMPLE, op, 5, (const mlxn_buffer *const[]){logits, u, token, logprob, ws});
    c.u.gen.i[0] = B;
    c.u.gen.i[1] = V;
    c.u.gen.i[2] = k;
    memcpy(&c.u.gen.i[3], &P, sizeof P);
    c.u.gen.f[0] = p->temperature;
    c.u.gen.f[1] = min_p_on ? (float)log((double)p->min_p) : -INFINITY;
    c.u.gen.d[0] = (int32_t)logits->dtype;
    c.u.gen.d[1] = logprob ? 1 : 0;
    c.u.gen.d[2] = top_p_on;
    c.u.gen.d[3] = min_p_on;
    return mlxn_encode(e, &c);
}
