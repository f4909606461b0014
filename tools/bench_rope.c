/* bench_rope.c — RoPE cases of `mlxn bench`: ggml's test-backend-ops perf
   shapes (ne = [head_dim, n_heads, n_tokens] there, [n_tokens, n_heads,
   head_dim] here) and peer figures from shared/reference/anchors-*.md. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { OP_ROPE, OP_ROPE_MULTI, OP_VISION2D };
/* i[]: 0 op, 1 seq, 2 heads, 3 head_dim, 4 n_dims/rope_dim, 5 mode, 6 sections packed 8 bits each */

typedef struct {
    mlxn_buffer *x, *y, *pos, *pos2;
} rope_set;

static void free_set(void *p) {
    rope_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->y);
    mlxn_buffer_free(s->pos);
    mlxn_buffer_free(s->pos2);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    rope_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    int64_t shp[3] = {c->i[1], c->i[2], c->i[3]}, sp[1] = {c->i[0] == OP_ROPE_MULTI ? 4 * c->i[1] : c->i[1]};
    mlxn_status st = bench_buffer(d, c->dtype, 3, shp, rng, -1.0, 1.0, 1, &s->x);
    if (!st) st = bench_buffer(d, c->dtype, 3, shp, rng, 0, 0, 0, &s->y);
    if (!st) st = bench_buffer(d, MLXN_I32, 1, sp, rng, 0, 4096, 1, &s->pos);
    if (!st && c->i[0] == OP_VISION2D) st = bench_buffer(d, MLXN_I32, 1, sp, rng, 0, 4096, 1, &s->pos2);
    if (st) { free_set(s); return st; }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    rope_set *s = p;
    const uint32_t seq = (uint32_t)c->i[1], heads = (uint32_t)c->i[2], hd = (uint32_t)c->i[3], nd = (uint32_t)c->i[4];
    switch (c->i[0]) {
    case OP_ROPE: {
        mlxn_rope_params rp = mlxn_rope_params_default(nd, (mlxn_rope_mode)c->i[5], 10000.0f);
        return mlxn_rope(e, s->x, s->y, s->pos, NULL, &rp);
    }
    case OP_ROPE_MULTI: {
        const int64_t sec = c->i[6];
        mlxn_rope_multi_params mp = {hd, nd, heads, seq, 10000.0f, (mlxn_rope_multi_mode)c->i[5],
                                     {(uint32_t)(sec & 255), (uint32_t)((sec >> 8) & 255),
                                      (uint32_t)((sec >> 16) & 255), (uint32_t)((sec >> 24) & 255)}};
        return mlxn_rope_multi(e, s->x, s->y, s->pos, &mp);
    }
    default: {
        mlxn_vision_2d_rope_params vp = {hd, heads, seq, 100.0f};
        return mlxn_vision_2d_rope(e, s->x, s->y, s->pos, s->pos2, &vp);
    }
    }
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int seq, int heads, int hd,
               int nd, int mode, unsigned s0, unsigned s1, unsigned s2, unsigned s3, double peer_cuda, double peer_cpu) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op; c->i[1] = seq; c->i[2] = heads; c->i[3] = hd; c->i[4] = nd; c->i[5] = mode;
    c->i[6] = (int64_t)(s0 | s1 << 8 | s2 << 16 | (uint64_t)s3 << 24);
    const double npos = op == OP_ROPE_MULTI ? 4.0 * seq : op == OP_VISION2D ? 2.0 * seq : seq;
    c->bytes = 2.0 * seq * heads * hd * (double)mlxn_dtype_size(t) + 4.0 * npos;
    c->peer_cuda_us = peer_cuda;
    c->peer_cpu_us = peer_cpu;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_rope_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "ROPE NORMAL f32 [128,32,512] nd128", OP_ROPE, MLXN_F32, 512, 32, 128, 128, MLXN_ROPE_NORMAL, 0, 0, 0, 0, 12.16, 357.6);
    n = add(o, n, max, "ROPE NORMAL f32 [128,64,512] nd128", OP_ROPE, MLXN_F32, 512, 64, 128, 128, MLXN_ROPE_NORMAL, 0, 0, 0, 0, 22.73, 0);
    n = add(o, n, max, "ROPE NEOX f32 [80,32,512] nd20", OP_ROPE, MLXN_F32, 512, 32, 80, 20, MLXN_ROPE_NEOX, 0, 0, 0, 0, 20.26, 0);
    n = add(o, n, max, "ROPE NEOX f32 [64,8,512] nd64", OP_ROPE, MLXN_F32, 512, 8, 64, 64, MLXN_ROPE_NEOX, 0, 0, 0, 0, 5.37, 0);
    n = add(o, n, max, "ROPE MROPE f32 [128,12,512]", OP_ROPE_MULTI, MLXN_F32, 512, 12, 128, 128, MLXN_ROPE_MROPE, 16, 24, 24, 0, 5.25, 368.9);
    n = add(o, n, max, "ROPE IMROPE f32 [128,12,512]", OP_ROPE_MULTI, MLXN_F32, 512, 12, 128, 128, MLXN_ROPE_IMROPE, 24, 20, 20, 0, 5.33, 481.6);
    n = add(o, n, max, "ROPE VISION f32 [80,16,2]", OP_ROPE_MULTI, MLXN_F32, 2, 16, 80, 80, MLXN_ROPE_VISION, 20, 20, 0, 0, 4.23, 0);
    n = add(o, n, max, "ROPE NORMAL f16 [128,32,512] nd128", OP_ROPE, MLXN_F16, 512, 32, 128, 128, MLXN_ROPE_NORMAL, 0, 0, 0, 0, 0, 0);
    n = add(o, n, max, "ROPE NEOX bf16 [128,32,512] nd128", OP_ROPE, MLXN_BF16, 512, 32, 128, 128, MLXN_ROPE_NEOX, 0, 0, 0, 0, 0, 0);
    n = add(o, n, max, "ROPE IMROPE bf16 Qwen3.5 [256,32,512] r64", OP_ROPE_MULTI, MLXN_BF16, 512, 32, 256, 64, MLXN_ROPE_IMROPE, 11, 11, 10, 0, 0, 0);
    n = add(o, n, max, "ROPE NEOX f32 decode [128,32,1]", OP_ROPE, MLXN_F32, 1, 32, 128, 128, MLXN_ROPE_NEOX, 0, 0, 0, 0, 0, 0);
    n = add(o, n, max, "ROPE NEOX f32 prefill [128,32,4096]", OP_ROPE, MLXN_F32, 4096, 32, 128, 128, MLXN_ROPE_NEOX, 0, 0, 0, 0, 0, 0);
    n = add(o, n, max, "VISION_2D f32 [72,16,4096]", OP_VISION2D, MLXN_F32, 4096, 16, 72, 72, 0, 0, 0, 0, 0, 0, 0);
    return n;
}
