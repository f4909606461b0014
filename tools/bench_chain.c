/* bench_chain.c — a decode-shaped chain of 40 ops (10 x {rms_norm, rope,
   SwiGLU, residual add}) on one token, hidden 4096, 32 heads of 128. It shows
   the per-op cost of a real decode step: launched one by one (host launch cost
   included) and replayed from one captured graph, which is how an engine runs
   a step. Times are reported per op. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct {
    mlxn_buffer *x, *h, *hv, *w, *pos, *gu, *g; /* hv: h viewed as [1, 32 heads, 128] */
} chain_set;

static void free_set(void *p) {
    chain_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->h);
    mlxn_buffer_free(s->hv);
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->pos);
    mlxn_buffer_free(s->gu);
    mlxn_buffer_free(s->g);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    chain_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    int64_t hid[2] = {1, 4096}, heads[3] = {1, 32, 128}, wv[1] = {4096}, one[1] = {1}, gu[2] = {1, 2 * 4096}, g[2] = {1, 4096};
    mlxn_status st = bench_buffer(d, c->dtype, 2, hid, rng, -1, 1, 1, &s->x);
    if (!st) st = bench_buffer(d, c->dtype, 2, hid, rng, 0, 0, 0, &s->h);
    if (!st) st = mlxn_buffer_view(s->h, 0, c->dtype, 3, heads, &s->hv);
    if (!st) st = bench_buffer(d, c->dtype, 1, wv, rng, 0.5, 1.5, 1, &s->w);
    if (!st) st = bench_buffer(d, MLXN_I32, 1, one, rng, 0, 4096, 1, &s->pos);
    if (!st) st = bench_buffer(d, c->dtype, 2, gu, rng, -1, 1, 1, &s->gu);
    if (!st) st = bench_buffer(d, c->dtype, 2, g, rng, 0, 0, 0, &s->g);
    if (st) { free_set(s); return st; }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    (void)c;
    chain_set *s = p;
    mlxn_norm_params np = {1e-6f};
    mlxn_rope_params rp = mlxn_rope_params_default(128, MLXN_ROPE_NEOX, 1e6f);
    mlxn_glu_params gp = {MLXN_GLU_SWIGLU};
    mlxn_binary_params bp = {MLXN_BINARY_ADD};
    mlxn_status st = MLXN_OK;
    for (int i = 0; i < 10 && !st; i++) {
        st = mlxn_rms_norm(e, s->x, s->w, s->h, &np);
        if (!st) st = mlxn_rope(e, s->hv, s->hv, s->pos, NULL, &rp);
        if (!st) st = mlxn_glu(e, s->gu, NULL, s->g, &gp);
        if (!st) st = mlxn_binary(e, s->x, s->h, s->x, &bp);
    }
    return st;
}

int bench_chain_cases(bench_case *o, int max) {
    if (max < 1) return 0;
    bench_case *c = &o[0];
    snprintf(c->name, sizeof c->name, "CHAIN40 decode bf16 (rms_norm, rope, swiglu, add) x10");
    c->dtype = MLXN_BF16;
    c->ops_per_run = 40;
    /* per run: 10 x (norm 8+8+8 KB, rope 8+8, glu 16+8, add 8+8+8) */
    c->bytes = 10.0 * (3 * 8192 + 2 * 8192 + 3 * 8192 + 3 * 8192);
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return 1;
}
