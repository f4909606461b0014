/* bench_layout.c — layout cases of `mlxn bench`: ggml's GET_ROWS and CPY
   (permute) perf shapes, a decode embedding lookup, the qkv split, a KV cache
   write at decode and at prefill, and a GQA head repeat. Shapes are mlxn's
   (outermost first). No peer anchors (figures 0). bytes = what the op reads
   once + writes once (a gather reads only the gathered rows; a kv write only
   the new tokens). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { K_GATHER, K_PERMUTE, K_COPY_2D, K_KV, K_REPEAT, K_KV2 };
/* i[]: 0 kind; GATHER 1 n_rows, 2 dim, 3 n ids; PERMUTE 1..3 x shape (3-D,
   i[3] = 0 for 2-D), 4 perm packed as decimal digits; COPY_2D 1 rows, 2 src
   width, 3 cols; KV (and KV2, K and V in one call) 1 T, 2 H, 3 D, 4 cap, 5 cache dtype; REPEAT 1 T, 2 Hg,
   3 H, 4 D */

typedef struct {
    mlxn_buffer *a, *b, *y, *z;
} lay_set;

static void free_set(void *p) {
    lay_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->a);
    mlxn_buffer_free(s->b);
    mlxn_buffer_free(s->y);
    mlxn_buffer_free(s->z);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    lay_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    mlxn_status st = MLXN_OK;
    switch (c->i[0]) {
    case K_GATHER: {
        const int64_t ts[2] = {c->i[1], c->i[2]}, is[1] = {c->i[3]}, ys[2] = {c->i[3], c->i[2]};
        st = bench_buffer(d, c->dtype, 2, ts, rng, -1.0, 1.0, 1, &s->a);
        if (!st) st = bench_buffer(d, MLXN_I32, 1, is, rng, 0.0, (double)(c->i[1] - 1), 1, &s->b);
        if (!st) st = bench_buffer(d, c->dtype, 2, ys, rng, 0, 0, 0, &s->y);
        break;
    }
    case K_PERMUTE: {
        const int nd = c->i[3] ? 3 : 2;
        int64_t xs[3] = {c->i[1], c->i[2], c->i[3]}, ys[3];
        for (int k = 0, pk = (int)c->i[4]; k < nd; k++) {
            int div = 1;
            for (int j = k + 1; j < nd; j++) div *= 10;
            ys[k] = xs[pk / div % 10];
        }
        st = bench_buffer(d, c->dtype, nd, xs, rng, -1.0, 1.0, 1, &s->a);
        if (!st) st = bench_buffer(d, c->dtype, nd, ys, rng, 0, 0, 0, &s->y);
        break;
    }
    case K_COPY_2D: {
        const int64_t xs[2] = {c->i[1], c->i[2]}, ys[2] = {c->i[1], c->i[3]};
        st = bench_buffer(d, c->dtype, 2, xs, rng, -1.0, 1.0, 1, &s->a);
        if (!st) st = bench_buffer(d, c->dtype, 2, ys, rng, 0, 0, 0, &s->y);
        break;
    }
    case K_KV:
    case K_KV2: {
        const int64_t xs[3] = {c->i[1], c->i[2], c->i[3]}, cs[3] = {c->i[2], c->i[4], c->i[3]};
        st = bench_buffer(d, c->dtype, 3, xs, rng, -1.0, 1.0, 1, &s->a);
        if (!st) st = bench_buffer(d, (mlxn_dtype)c->i[5], 3, cs, rng, 0, 0, 0, &s->y);
        if (!st && c->i[0] == K_KV2) st = bench_buffer(d, c->dtype, 3, xs, rng, -1.0, 1.0, 1, &s->b);
        if (!st && c->i[0] == K_KV2) st = bench_buffer(d, (mlxn_dtype)c->i[5], 3, cs, rng, 0, 0, 0, &s->z);
        break;
    }
    default: {
        const int64_t xs[3] = {c->i[1], c->i[2], c->i[4]}, ys[3] = {c->i[1], c->i[3], c->i[4]};
        st = bench_buffer(d, c->dtype, 3, xs, rng, -1.0, 1.0, 1, &s->a);
        if (!st) st = bench_buffer(d, c->dtype, 3, ys, rng, 0, 0, 0, &s->y);
        break;
    }
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    lay_set *s = p;
    switch (c->i[0]) {
    case K_GATHER: {
        mlxn_gather_params gp = {1.0f};
        return mlxn_gather_rows(e, s->a, s->b, s->y, &gp);
    }
    case K_PERMUTE: {
        const int nd = c->i[3] ? 3 : 2;
        mlxn_permute_params pp = {nd, {0, 0, 0, 0}};
        for (int k = 0, pk = (int)c->i[4]; k < nd; k++) {
            int div = 1;
            for (int j = k + 1; j < nd; j++) div *= 10;
            pp.perm[k] = pk / div % 10;
        }
        return mlxn_permute(e, s->a, s->y, &pp);
    }
    case K_COPY_2D: {
        /* the k part of a [rows, q + k + v] qkv split: column slice at q */
        mlxn_copy_2d_params cp = {c->i[1], c->i[3], c->i[2], c->i[3], c->i[3], 0};
        return mlxn_copy_2d(e, s->a, s->y, &cp);
    }
    case K_KV: {
        mlxn_kv_cache_params kp = {(uint32_t)(c->i[4] / 2), 1}; /* mid-ring; prefill wraps when T > cap/2 */
        return mlxn_kv_cache_write(e, s->a, s->y, &kp);
    }
    case K_KV2: {
        mlxn_kv_cache_params kp = {(uint32_t)(c->i[4] / 2), 1};
        return mlxn_kv_cache_write_kv(e, s->a, s->y, s->b, s->z, &kp);
    }
    default: {
        mlxn_repeat_heads_params rp = {0};
        return mlxn_repeat_heads(e, s->a, s->y, &rp);
    }
    }
}

static bench_case *add(bench_case *out, int *n, int max, const char *name, int kind, mlxn_dtype t, double bytes) {
    if (*n >= max) return NULL;
    bench_case *c = &out[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->dtype = t;
    c->i[0] = kind;
    c->bytes = bytes;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return c;
}

int bench_layout_cases(bench_case *o, int max) {
    int n = 0;
    bench_case *c;
    /* GET_ROWS: 512 ids into a 32000 x 4096 f32 table; a decode lookup of 1 id (bf16 262144 x 2560) */
    if ((c = add(o, &n, max, "GET_ROWS f32 [32000,4096] x 512 ids", K_GATHER, MLXN_F32, 512.0 * 4096 * 4 * 2 + 512 * 4)))
        c->i[1] = 32000, c->i[2] = 4096, c->i[3] = 512;
    if ((c = add(o, &n, max, "GET_ROWS bf16 [262144,2560] x 1 id", K_GATHER, MLXN_BF16, 2560.0 * 2 * 2 + 4)))
        c->i[1] = 262144, c->i[2] = 2560, c->i[3] = 1;
    /* CPY perf shapes: permute {1,0,2} of f32 [768,1024,256]; a 2-D f16 transpose */
    if ((c = add(o, &n, max, "PERMUTE f32 [768,1024,256] {1,0,2}", K_PERMUTE, MLXN_F32, 768.0 * 1024 * 256 * 4 * 2)))
        c->i[1] = 768, c->i[2] = 1024, c->i[3] = 256, c->i[4] = 102;
    if ((c = add(o, &n, max, "PERMUTE f16 [786432,256] {1,0}", K_PERMUTE, MLXN_F16, 786432.0 * 256 * 2 * 2)))
        c->i[1] = 786432, c->i[2] = 256, c->i[3] = 0, c->i[4] = 10;
    /* qkv split part: k = cols [4096, 8192) of [512, 3*4096] */
    if ((c = add(o, &n, max, "COPY_2D f32 qkv split [512,3*4096] -> [512,4096]", K_COPY_2D, MLXN_F32,
                 512.0 * 4096 * 4 * 2)))
        c->i[1] = 512, c->i[2] = 3 * 4096, c->i[3] = 4096;
    if ((c = add(o, &n, max, "KV_CACHE_WRITE bf16 decode [1,8,128] -> [8,32768,128]", K_KV, MLXN_BF16,
                 8.0 * 128 * 2 * 2)))
        c->i[1] = 1, c->i[2] = 8, c->i[3] = 128, c->i[4] = 32768, c->i[5] = MLXN_BF16;
    if ((c = add(o, &n, max, "KV_CACHE_WRITE f32->f16 prefill [512,8,128] -> [8,32768,128]", K_KV, MLXN_F32,
                 512.0 * 8 * 128 * (4 + 2))))
        c->i[1] = 512, c->i[2] = 8, c->i[3] = 128, c->i[4] = 32768, c->i[5] = MLXN_F16;
    if ((c = add(o, &n, max, "KV_CACHE_WRITE_KV bf16 decode K+V [1,8,128] -> 2 x [8,32768,128]", K_KV2, MLXN_BF16,
                 2 * 8.0 * 128 * 2 * 2)))
        c->i[1] = 1, c->i[2] = 8, c->i[3] = 128, c->i[4] = 32768, c->i[5] = MLXN_BF16;
    if ((c = add(o, &n, max, "KV_CACHE_WRITE_KV f32->f16 prefill K+V [512,8,128]", K_KV2, MLXN_F32,
                 2 * 512.0 * 8 * 128 * (4 + 2))))
        c->i[1] = 512, c->i[2] = 8, c->i[3] = 128, c->i[4] = 32768, c->i[5] = MLXN_F16;
    if ((c = add(o, &n, max, "REPEAT_HEADS f32 [512,8->32,128]", K_REPEAT, MLXN_F32, 512.0 * 128 * 4 * (8 + 32))))
        c->i[1] = 512, c->i[2] = 8, c->i[3] = 32, c->i[4] = 128;
    return n;
}
