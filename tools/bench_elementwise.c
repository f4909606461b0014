/* bench_elementwise.c — elementwise cases of `mlxn bench`: ggml's
   test-backend-ops perf shapes for GLU (SWIGLU f16/f32, n_tokens 512/2048,
   fused {2*17408, n} and split {17408, n}) and ADD (f32 {4096,1} with nr
   {1,1} and {1,512}), plus 64 MB GELU and CAST cases that check bandwidth.
   No H100 anchors exist for these (peer figures 0). Shapes here are
   [rows, cols] (ggml's ne reversed). bytes = inputs read once + output written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { K_UNARY, K_BINARY, K_GLU, K_CAST };
/* i[]: 0 kind, 1 op, 2 rows, 3 cols (of the output), 4 glu fused / binary b
   elements, 5 cast output dtype */

typedef struct {
    mlxn_buffer *in0, *in1, *y;
} ew_set;

static void free_set(void *p) {
    ew_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->in0);
    mlxn_buffer_free(s->in1);
    mlxn_buffer_free(s->y);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    ew_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t rows = c->i[2], cols = c->i[3];
    const int64_t shp[2] = {rows, cols};
    mlxn_status st = MLXN_OK;
    switch (c->i[0]) {
    case K_UNARY:
        st = bench_buffer(d, c->dtype, 2, shp, rng, -4.0, 4.0, 1, &s->in0);
        if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
        break;
    case K_BINARY: {
        const int64_t nb[1] = {c->i[4]};
        st = bench_buffer(d, c->dtype, 2, shp, rng, -2.0, 2.0, 1, &s->in0);
        if (!st) st = bench_buffer(d, c->dtype, 1, nb, rng, -2.0, 2.0, 1, &s->in1);
        if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
        break;
    }
    case K_GLU: {
        const int64_t gshp[2] = {rows, c->i[4] ? 2 * cols : cols};
        st = bench_buffer(d, c->dtype, 2, gshp, rng, -4.0, 4.0, 1, &s->in0);
        if (!st && !c->i[4]) st = bench_buffer(d, c->dtype, 2, shp, rng, -2.0, 2.0, 1, &s->in1);
        if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
        break;
    }
    default:
        st = bench_buffer(d, c->dtype, 2, shp, rng, -4.0, 4.0, 1, &s->in0);
        if (!st) st = bench_buffer(d, (mlxn_dtype)c->i[5], 2, shp, rng, 0, 0, 0, &s->y);
        break;
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    ew_set *s = p;
    switch (c->i[0]) {
    case K_UNARY: {
        mlxn_unary_params up = {(mlxn_unary_op)c->i[1], c->f[0]};
        return mlxn_unary(e, s->in0, s->y, &up);
    }
    case K_BINARY: {
        mlxn_binary_params bp = {(mlxn_binary_op)c->i[1]};
        return mlxn_binary(e, s->in0, s->in1, s->y, &bp);
    }
    case K_GLU: {
        mlxn_glu_params gp = {(mlxn_glu_op)c->i[1]};
        return mlxn_glu(e, s->in0, s->in1, s->y, &gp);
    }
    default: return mlxn_cast(e, s->in0, s->y);
    }
}

static int add(bench_case *out, int n, int max, const char *name, int kind, int op, mlxn_dtype t, int64_t rows,
               int64_t cols, int64_t aux, mlxn_dtype t_out) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->dtype = t;
    c->i[0] = kind; c->i[1] = op; c->i[2] = rows; c->i[3] = cols; c->i[4] = aux; c->i[5] = t_out;
    const double es = (double)mlxn_dtype_size(t), ny = (double)rows * (double)cols;
    switch (kind) {
    case K_UNARY: c->bytes = 2.0 * ny * es; break;
    case K_BINARY: c->bytes = (2.0 * ny + (double)aux) * es; break; /* a, b once, y */
    case K_GLU: c->bytes = 3.0 * ny * es; break;                      /* gate + up, y (fused or split) */
    default: c->bytes = ny * (es + (double)mlxn_dtype_size(t_out)); break;
    }
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_elementwise_cases(bench_case *o, int max) {
    int n = 0;
    static const int tokens[2] = {512, 2048};
    static const mlxn_dtype dts[2] = {MLXN_F32, MLXN_F16};
    for (int d = 0; d < 2; d++)
        for (int t = 0; t < 2; t++)
            for (int fused = 1; fused >= 0; fused--) {
                char name[96];
                snprintf(name, sizeof name, "SWIGLU %s %s [%s17408,%d]", mlxn_dtype_name(dts[d]),
                         fused ? "fused" : "split", fused ? "2*" : "", tokens[t]);
                n = add(o, n, max, name, K_GLU, MLXN_GLU_SWIGLU, dts[d], tokens[t], 17408, fused, dts[d]);
            }
    n = add(o, n, max, "ADD f32 [1,4096] + [4096]", K_BINARY, MLXN_BINARY_ADD, MLXN_F32, 1, 4096, 4096, MLXN_F32);
    n = add(o, n, max, "ADD f32 [512,4096] + row [4096]", K_BINARY, MLXN_BINARY_ADD, MLXN_F32, 512, 4096, 4096,
            MLXN_F32);
    n = add(o, n, max, "GELU bf16 [4096,8192] (64 MB)", K_UNARY, MLXN_UNARY_GELU, MLXN_BF16, 4096, 8192, 0,
            MLXN_BF16);
    n = add(o, n, max, "CAST f32->bf16 [4096,8192]", K_CAST, 0, MLXN_F32, 4096, 8192, 0, MLXN_BF16);
    return n;
}
