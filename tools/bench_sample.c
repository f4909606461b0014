/* bench_sample.c — MoE-routing and sampling cases of `mlxn bench`: the router
   of a 128-expert top-8 model over a 512-token prefill and of a 256-expert
   model at decode; the combine of 8 experts (+ a sigmoid-gated shared
   expert and the residual, as Qwen3.5/3.6 MoE) for 512 tokens of 2048; and
   on-device sampling of one 262144 vocab row (Gemma 3/4 decode) and a batch
   of 32 rows of 151936 (Qwen) with llama.cpp's filters (T 0.8, top-k 40,
   top-p 0.95, min-p 0.05) plus plain T=1 sampling of the vocab row. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 op (0 router, 1 combine, 2 sample), 1 rows (T or B), 2 E / K / V,
        3 k (router) / D (combine) / top_k (sample)
   f[]: sample: 0 temperature, 1 top_p, 2 min_p */

typedef struct {
    mlxn_buffer *b[8];
} smp_set;

static void free_set(void *p) {
    smp_set *s = p;
    if (!s) return;
    for (int i = 0; i < 8; i++) mlxn_buffer_free(s->b[i]);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    smp_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t R = c->i[1], N = c->i[2], X = c->i[3];
    mlxn_status st = MLXN_OK;
    if (c->i[0] == 0) {
        const int64_t sx[2] = {R, N}, sk[2] = {R, X};
        st = bench_buffer(d, c->dtype, 2, sx, rng, -4.0, 4.0, 1, &s->b[0]);
        if (!st) st = bench_buffer(d, MLXN_I32, 2, sk, rng, 0, 0, 0, &s->b[1]);
        if (!st) st = bench_buffer(d, MLXN_F32, 2, sk, rng, 0, 0, 0, &s->b[2]);
    } else if (c->i[0] == 1) {
        const int64_t sy[3] = {R, N, X}, sw[2] = {R, N}, sd[2] = {R, X}, sg[1] = {R};
        st = bench_buffer(d, c->dtype, 3, sy, rng, -1.0, 1.0, 1, &s->b[0]);
        if (!st) st = bench_buffer(d, MLXN_F32, 2, sw, rng, 0.0, 1.0, 1, &s->b[1]);
        if (!st) st = bench_buffer(d, c->dtype, 2, sd, rng, -1.0, 1.0, 1, &s->b[2]);
        if (!st) st = bench_buffer(d, c->dtype, 1, sg, rng, -2.0, 2.0, 1, &s->b[3]);
        if (!st) st = bench_buffer(d, c->dtype, 2, sd, rng, -1.0, 1.0, 1, &s->b[4]);
        if (!st) st = bench_buffer(d, c->dtype, 2, sd, rng, 0, 0, 0, &s->b[5]);
    } else {
        const int64_t sx[2] = {R, N}, sr[1] = {R};
        st = bench_buffer(d, c->dtype, 2, sx, rng, -12.0, 12.0, 1, &s->b[0]);
        if (!st) st = bench_buffer(d, MLXN_F32, 1, sr, rng, 0.0, 1.0, 1, &s->b[1]);
        if (!st) st = bench_buffer(d, MLXN_I32, 1, sr, rng, 0, 0, 0, &s->b[2]);
        if (!st) st = bench_buffer(d, MLXN_F32, 1, sr, rng, 0, 0, 0, &s->b[3]);
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    smp_set *s = p;
    if (c->i[0] == 0) {
        mlxn_moe_topk_params q = {(uint32_t)c->i[3], 1};
        return mlxn_moe_softmax_topk(e, s->b[0], NULL, s->b[1], s->b[2], &q);
    }
    if (c->i[0] == 1) {
        mlxn_moe_reduce_params q = {1};
        return mlxn_moe_weighted_reduce(e, s->b[0], s->b[1], s->b[2], s->b[3], s->b[4], s->b[5], &q);
    }
    mlxn_sample_params q = {c->f[0], (uint32_t)c->i[3], c->f[1], c->f[2]};
    return mlxn_softmax_sample(e, s->b[0], s->b[1], s->b[2], s->b[3], NULL, &q);
}

static bench_case *add(bench_case *out, int *n, int max, const char *name, int op, mlxn_dtype t, int64_t rows,
                       int64_t n2, int64_t n3) {
    if (*n >= max) return NULL;
    bench_case *c = &out[(*n)++];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = n2;
    c->i[3] = n3;
    const double es = (double)mlxn_dtype_size(t), R = (double)rows;
    if (op == 0) c->bytes = R * (double)n2 * es + R * (double)n3 * 8.0;
    else if (op == 1) c->bytes = R * (double)n2 * (double)n3 * es + R * (double)n2 * 4.0 + R * es +
                                  3.0 * R * (double)n3 * es;
    else c->bytes = R * (double)n2 * es + R * 12.0;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return c;
}

static void sampling(bench_case *c, float temp, float top_p, float min_p) {
    if (!c) return;
    c->f[0] = temp;
    c->f[1] = top_p;
    c->f[2] = min_p;
}

int bench_sample_cases(bench_case *o, int max) {
    int n = 0;
    add(o, &n, max, "MOE_SOFTMAX_TOPK f32 [512,128] k8", 0, MLXN_F32, 512, 128, 8);
    add(o, &n, max, "MOE_SOFTMAX_TOPK f32 [1,256] k8 (decode)", 0, MLXN_F32, 1, 256, 8);
    add(o, &n, max, "MOE_WEIGHTED_REDUCE bf16 [512,8,2048] +shared+res", 1, MLXN_BF16, 512, 8, 2048);
    sampling(add(o, &n, max, "SOFTMAX_SAMPLE f32 [1,262144] k40 p0.95 m0.05", 2, MLXN_F32, 1, 262144, 40), 0.8f,
             0.95f, 0.05f);
    sampling(add(o, &n, max, "SOFTMAX_SAMPLE bf16 [1,262144] k40 p0.95 m0.05", 2, MLXN_BF16, 1, 262144, 40), 0.8f,
             0.95f, 0.05f);
    sampling(add(o, &n, max, "SOFTMAX_SAMPLE f32 [1,262144] T1 (no filter)", 2, MLXN_F32, 1, 262144, 0), 1.0f, 1.0f,
             0.0f);
    sampling(add(o, &n, max, "SOFTMAX_SAMPLE f32 [1,262144] top-p 0.9 only", 2, MLXN_F32, 1, 262144, 0), 1.0f, 0.9f,
             0.0f);
    sampling(add(o, &n, max, "SOFTMAX_SAMPLE f32 [32,151936] k40 p0.95 m0.05", 2, MLXN_F32, 32, 151936, 40), 0.8f,
             0.95f, 0.05f);
    return n;
}
