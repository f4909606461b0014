/* bench_fused_norm.c — fused-norm cases of `mlxn bench`. Shapes are written
   as ggml's ne = [dim, rows] (hidden size first). ggml's test-backend-ops has
   no fused add+norm perf case, so there is no peer figure: these are judged
   against the copy bandwidth. Bytes = every row input read once + every row
   output written once + w read once (cache-resident after the first rows,
   but counted, as bench_norm.c does).
   i[]: 0 op, 1 rows, 2 dim, 3 weight dtype (-1: none), 4 with sum_out;
   f[]: 0 eps, 1 scale. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { OP_ADD, OP_NADD, OP_GATE };

typedef struct {
    mlxn_buffer *in0, *in1, *w, *y, *sum;
} fn_set;

static void free_set(void *p) {
    fn_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->in0);
    mlxn_buffer_free(s->in1);
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->y);
    mlxn_buffer_free(s->sum);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    fn_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t shp[2] = {c->i[1], c->i[2]}, shw[1] = {c->i[2]};
    /* z of the gate over silu's interesting range */
    const double lo1 = c->i[0] == OP_GATE ? -4.0 : -1.0, hi1 = -lo1;
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -1.0, 1.0, 1, &s->in0);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, lo1, hi1, 1, &s->in1);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
    if (!st && c->i[4]) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->sum);
    if (!st && c->i[3] >= 0) st = bench_buffer(d, (mlxn_dtype)c->i[3], 1, shw, rng, 0.5, 1.5, 1, &s->w);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    fn_set *s = p;
    switch (c->i[0]) {
    case OP_ADD: {
        const mlxn_norm_params np = {c->f[0]};
        return mlxn_add_rms_norm(e, s->in0, s->in1, s->w, s->y, s->sum, &np);
    }
    case OP_NADD: {
        const mlxn_norm_add_params np = {c->f[0], c->f[1]};
        return mlxn_rms_norm_add(e, s->in0, s->w, s->in1, s->y, &np);
    }
    default: {
        const mlxn_norm_params np = {c->f[0]};
        return mlxn_rms_norm_gate(e, s->in0, s->w, s->in1, s->y, &np);
    }
    }
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t dim,
               int w_dtype, int sum, float eps, float scale) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = dim;
    c->i[3] = w_dtype;
    c->i[4] = sum;
    c->f[0] = eps;
    c->f[1] = scale;
    /* two row inputs + y (+ sum_out) */
    c->bytes = (3.0 + (sum ? 1.0 : 0.0)) * (double)rows * (double)dim * (double)mlxn_dtype_size(t) +
               (w_dtype >= 0 ? (double)dim * (double)mlxn_dtype_size((mlxn_dtype)w_dtype) : 0.0);
    c->peer_cuda_us = 0; /* no ggml perf case */
    c->peer_cpu_us = 0;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

/* ---- [fused_norm2] rms_norm_mul (3 variants), triple norms, MoE weighted-sum
   norms, head_norm_rope. i[]: 0 op, 1 rows (tokens), 2 dim (head_dim), 3 K
   (MoE) / heads (head_norm_rope), 4 variant flag (m form for the mul ops: 0
   full, 1 column, 2 scalar; MoE: with res; head_norm_rope: co-output
   permuted bf16), 5 rope_dim. Weights in the row dtype. Bytes: every row
   tensor read once and every output written once (the MoE ys: K rows per
   token; weights and column multipliers counted once). */
enum { OP2_MUL = 16, OP2_ADDMUL, OP2_NADDMUL, OP2_TRI, OP2_PTRI, OP2_MOE, OP2_MOED, OP2_HNR };

typedef struct {
    mlxn_buffer *b[10];
} f2_set;

static void free_set2(void *p) {
    f2_set *s = p;
    if (!s) return;
    for (int i = 0; i < 10; i++) mlxn_buffer_free(s->b[i]);
    free(s);
}

/* b[]: 0 x/a/h/ys, 1 b/res/attn, 2 dense, 3 w, 4 w2 (w_post / w_dense), 5 m / wk / positions,
   6 y (res out), 7..9 more outputs (y0..y2, sum_out, y_co) */
static mlxn_status make_set2(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    f2_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int op = (int)c->i[0];
    const int64_t rows = c->i[1], dim = c->i[2], K = c->i[3];
    const int64_t shp[2] = {rows, dim}, shw[1] = {dim}, sh3[2] = {3, dim}, one[1] = {1};
    const mlxn_dtype t = c->dtype;
    mlxn_status st = MLXN_OK;
#define BB(i, dt, nd, shape, lo, hi, fill) \
    if (!st) st = bench_buffer(d, (dt), (nd), (shape), rng, (lo), (hi), (fill), &s->b[i])
    switch (op) {
    case OP2_MUL: case OP2_ADDMUL: case OP2_NADDMUL: {
        BB(0, t, 2, shp, -1.0, 1.0, 1);
        if (op != OP2_MUL) BB(1, t, 2, shp, -1.0, 1.0, 1);
        BB(3, t, 1, shw, 0.5, 1.5, 1);
        const int mf = (int)c->i[4];
        BB(5, mf == 2 ? MLXN_F32 : t, mf == 0 ? 2 : 1, mf == 0 ? shp : mf == 1 ? shw : one, 0.5, 1.5, 1);
        BB(6, t, 2, shp, 0, 0, 0);
        if (op == OP2_ADDMUL) BB(7, t, 2, shp, 0, 0, 0);
        break;
    }
    case OP2_TRI: case OP2_PTRI:
        BB(0, t, 2, shp, -1.0, 1.0, 1);
        if (op == OP2_PTRI) { BB(1, t, 2, shp, -1.0, 1.0, 1); BB(4, t, 1, shw, 0.5, 1.5, 1); BB(6, t, 2, shp, 0, 0, 0); }
        BB(3, t, 2, sh3, 0.5, 1.5, 1);
        BB(7, t, 2, shp, 0, 0, 0);
        BB(8, t, 2, shp, 0, 0, 0);
        BB(9, t, 2, shp, 0, 0, 0);
        break;
    case OP2_MOE: case OP2_MOED: {
        const int64_t ysh[3] = {rows, K, dim}, wks[2] = {rows, K};
        BB(0, t, 3, ysh, -1.0, 1.0, 1);
        if (c->i[4]) BB(1, t, 2, shp, -1.0, 1.0, 1);
        if (op == OP2_MOED) { BB(2, t, 2, shp, -1.0, 1.0, 1); BB(4, t, 1, shw, 0.5, 1.5, 1); }
        BB(3, t, 1, shw, 0.5, 1.5, 1);
        BB(5, MLXN_F32, 2, wks, 0.05, 1.0, 1);
        BB(6, t, 2, shp, 0, 0, 0);
        break;
    }
    default: { /* head_norm_rope: rows tokens, K heads */
        const int64_t xs[3] = {rows, K, dim}, ps[1] = {rows}, hw[1] = {dim};
        BB(0, t, 3, xs, -1.0, 1.0, 1);
        BB(3, t, 1, hw, 0.5, 1.5, 1);
        BB(5, MLXN_I32, 1, ps, 0.0, 4096.0, 1);
        BB(6, t, 3, xs, 0, 0, 0);
        if (c->i[4]) BB(7, MLXN_BF16, 3, xs, 0, 0, 0);
        break;
    }
    }
#undef BB
    if (st) {
        free_set2(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run2(const bench_case *c, mlxn_encoder *e, void *p) {
    f2_set *s = p;
    mlxn_buffer **b = s->b;
    const mlxn_norm_params np = {c->f[0]};
    switch ((int)c->i[0]) {
    case OP2_MUL: return mlxn_rms_norm_mul(e, b[0], b[3], b[5], b[6], &np);
    case OP2_ADDMUL: return mlxn_add_rms_norm_mul(e, b[0], b[1], b[3], b[5], b[6], b[7], &np);
    case OP2_NADDMUL: return mlxn_rms_norm_add_mul(e, b[0], b[3], b[1], b[5], b[6], &np);
    case OP2_TRI: return mlxn_triple_norm(e, b[0], b[3], b[7], b[8], b[9], &np);
    case OP2_PTRI: return mlxn_post_attn_triple_norm(e, b[0], b[1], b[4], b[3], b[6], b[7], b[8], b[9], &np);
    case OP2_MOE: return mlxn_moe_wsum_norm_add(e, b[0], b[5], b[1], b[3], b[6], &np);
    case OP2_MOED: return mlxn_moe_wsum_dnorm_add(e, b[0], b[5], b[2], b[4], b[1], b[3], b[6], &np);
    default: {
        const mlxn_head_norm_rope_params hp = {(uint32_t)c->i[2], (uint32_t)c->i[5], c->f[0], 10000.0f, 1};
        return mlxn_head_norm_rope(e, b[0], b[3], b[5], NULL, b[6], b[7], &hp);
    }
    }
}

static int add2(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t dim,
                int64_t k, int flag, int64_t rope_dim) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = dim;
    c->i[3] = k;
    c->i[4] = flag;
    c->i[5] = rope_dim;
    c->f[0] = 1e-6f;
    const double es = (double)mlxn_dtype_size(t), row = (double)rows * (double)dim * es, w = (double)dim * es;
    switch (op) {
    case OP2_MUL: case OP2_ADDMUL: case OP2_NADDMUL: {
        const double in = op == OP2_MUL ? 1.0 : 2.0, outs = op == OP2_ADDMUL ? 2.0 : 1.0;
        const double m = flag == 0 ? row : flag == 1 ? w : 4.0;
        c->bytes = (in + outs) * row + w + m;
        break;
    }
    case OP2_TRI: c->bytes = 4.0 * row + 3.0 * w; break;
    case OP2_PTRI: c->bytes = 6.0 * row + 4.0 * w; break;
    case OP2_MOE: case OP2_MOED:
        c->bytes = ((double)k + 1.0 + (flag ? 1.0 : 0.0) + (op == OP2_MOED ? 1.0 : 0.0)) * row + (double)rows * (double)k * 4.0 +
                   (op == OP2_MOED ? 2.0 : 1.0) * w;
        break;
    default: {
        const double x = (double)rows * (double)k * (double)dim * es;
        c->bytes = 2.0 * x + (flag ? x / es * 2.0 : 0.0) + w + (double)rows * 4.0;
        break;
    }
    }
    c->make_set = make_set2;
    c->run = run2;
    c->free_set = free_set2;
    return n + 1;
}

static int bench_fused_norm2_cases(bench_case *o, int n, int max) {
    /* rms_norm_mul: decode (hidden 4096), prefill (512 tokens), and the
       >= 64 MB shape for the bandwidth bar (3 x 128 MB) */
    n = add2(o, n, max, "RMS_NORM_MUL bf16 decode [4096,1] m.full", OP2_MUL, MLXN_BF16, 1, 4096, 0, 0, 0);
    n = add2(o, n, max, "RMS_NORM_MUL bf16 [4096,512] m.full", OP2_MUL, MLXN_BF16, 512, 4096, 0, 0, 0);
    n = add2(o, n, max, "RMS_NORM_MUL f32 [8192,4096] m.full", OP2_MUL, MLXN_F32, 4096, 8192, 0, 0, 0);
    /* Gemma 4 (hidden 2816): residual norms with a device layer scalar */
    n = add2(o, n, max, "ADD_RMS_NORM_MUL f32 decode [2816,1] m.scalar sum", OP2_ADDMUL, MLXN_F32, 1, 2816, 0, 2, 0);
    n = add2(o, n, max, "RMS_NORM_ADD_MUL bf16 [2816,512] m.scalar", OP2_NADDMUL, MLXN_BF16, 512, 2816, 0, 2, 0);
    n = add2(o, n, max, "TRIPLE_NORM f32 decode [2816,1]", OP2_TRI, MLXN_F32, 1, 2816, 0, 0, 0);
    n = add2(o, n, max, "TRIPLE_NORM f32 [2816,512]", OP2_TRI, MLXN_F32, 512, 2816, 0, 0, 0);
    n = add2(o, n, max, "POST_ATTN_TRIPLE_NORM f32 decode [2816,1]", OP2_PTRI, MLXN_F32, 1, 2816, 0, 0, 0);
    n = add2(o, n, max, "POST_ATTN_TRIPLE_NORM f32 [2816,512]", OP2_PTRI, MLXN_F32, 512, 2816, 0, 0, 0);
    n = add2(o, n, max, "MOE_WSUM_NORM_ADD f32 decode [2816,1] k8", OP2_MOE, MLXN_F32, 1, 2816, 8, 1, 0);
    n = add2(o, n, max, "MOE_WSUM_NORM_ADD f32 [2816,512] k8", OP2_MOE, MLXN_F32, 512, 2816, 8, 1, 0);
    n = add2(o, n, max, "MOE_WSUM_DNORM_ADD f32 [2816,512] k8", OP2_MOED, MLXN_F32, 512, 2816, 8, 0, 0);
    /* head_norm_rope: Q of a 32-head, head_dim 128 model */
    n = add2(o, n, max, "HEAD_NORM_ROPE bf16 decode [128,32,1]", OP2_HNR, MLXN_BF16, 1, 128, 32, 0, 128);
    n = add2(o, n, max, "HEAD_NORM_ROPE bf16 [128,32,512]", OP2_HNR, MLXN_BF16, 512, 128, 32, 0, 128);
    n = add2(o, n, max, "HEAD_NORM_ROPE f32 [128,32,512] co.bf16.perm", OP2_HNR, MLXN_F32, 512, 128, 32, 1, 128);
    return n;
}

int bench_fused_norm_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "ADD_RMS_NORM bf16 [4096,512] w.bf16 sum", OP_ADD, MLXN_BF16, 512, 4096, MLXN_BF16, 1, 1e-6f,
            1.0f);
    n = add(o, n, max, "ADD_RMS_NORM bf16 decode [4096,1] w.bf16 sum", OP_ADD, MLXN_BF16, 1, 4096, MLXN_BF16, 1,
            1e-6f, 1.0f);
    n = add(o, n, max, "ADD_RMS_NORM f32 [8192,4096] w.f32 sum", OP_ADD, MLXN_F32, 4096, 8192, MLXN_F32, 1, 1e-6f,
            1.0f);
    /* Qwen3.5 GDN output gate: [head_dim 128, 32 heads x 512 tokens] */
    n = add(o, n, max, "RMS_NORM_GATE f32 [128,32x512] w.f32", OP_GATE, MLXN_F32, 32 * 512, 128, MLXN_F32, 0, 1e-6f,
            1.0f);
    /* Gemma 4 post-norm with the layer scalar */
    n = add(o, n, max, "RMS_NORM_ADD bf16 [2816,512] w.bf16 scale", OP_NADD, MLXN_BF16, 512, 2816, MLXN_BF16, 0,
            1e-6f, 0.5f);
    return bench_fused_norm2_cases(o, n, max);
}
