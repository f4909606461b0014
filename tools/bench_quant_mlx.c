/* bench_quant_mlx.c — MLX quantized formats in `mlxn bench`: dequantizing a
   whole [14336, 4096] weight (a llama-8B/Qwen FFN matrix: 29 MB packed at 4
   bits, 117 MB of bf16 out) in the common layouts, and the decode-time
   quantized embedding gather of a Gemma-sized [262144, 2560] 4-bit table
   (1 id and 512 ids). Bytes moved: the packed words, scales and biases read
   (for a gather only the gathered rows) plus the output written. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 gather (0/1), 1 rows (table rows), 2 K, 3 mode, 4 bits, 5 group, 6 n ids;
   dtype: the output dtype; f[0]: scales dtype as a number (mlxn_dtype). */

typedef struct {
    mlxn_buffer *w, *s, *b, *ids, *y;
} q_set;

static void free_set(void *p) {
    q_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->s);
    mlxn_buffer_free(s->b);
    mlxn_buffer_free(s->ids);
    mlxn_buffer_free(s->y);
    free(s);
}

/* u8 fp-mode scale bytes in a moderate range (2^-15 .. 2^15) */
static mlxn_status u8_scales(mlxn_device *d, int64_t rows, int64_t ng, rng_t *rng, mlxn_buffer **out) {
    const int64_t sh[2] = {rows, ng};
    mlxn_status st = mlxn_buffer_new(d, MLXN_U8, 2, sh, out);
    if (st) return st;
    const size_t n = (size_t)(rows * ng);
    unsigned char *h = malloc(n);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++) h[i] = (unsigned char)(112 + rng_u64(rng) % 30);
    st = mlxn_buffer_write(*out, h, n);
    free(h);
    return st;
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    q_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int gather = (int)c->i[0], mode = (int)c->i[3], bits = (int)c->i[4], gs = (int)c->i[5];
    const int64_t rows = c->i[1], K = c->i[2], nid = c->i[6];
    const mlxn_dtype sdt = (mlxn_dtype)(int)c->f[0];
    const int64_t wsh[2] = {rows, K * bits / 32}, ssh[2] = {rows, K / gs}, ish[1] = {nid};
    const int64_t ysh[2] = {gather ? nid : rows, K};
    mlxn_status st = bench_buffer(d, MLXN_U32, 2, wsh, rng, 0.0, 4294967295.0, 1, &s->w);
    if (!st) {
        if (mode == MLXN_MLXQ_AFFINE) {
            st = bench_buffer(d, sdt, 2, ssh, rng, -0.01, 0.01, 1, &s->s);
            if (!st) st = bench_buffer(d, sdt, 2, ssh, rng, -0.1, 0.1, 1, &s->b);
        } else {
            st = u8_scales(d, rows, K / gs, rng, &s->s);
        }
    }
    if (!st && gather) st = bench_buffer(d, MLXN_I32, 1, ish, rng, 0.0, (double)(rows - 1), 1, &s->ids);
    if (!st) st = bench_buffer(d, c->dtype, 2, ysh, rng, 0, 0, 0, &s->y);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    q_set *s = p;
    mlxn_mlxq_params q = {(mlxn_mlxq_mode)c->i[3], (int)c->i[4], (int)c->i[5], 0.0f};
    if (c->i[0]) {
        mlxn_gather_mlx_params gp = {q, 50.596443f}; /* Gemma's sqrt(2560) */
        return mlxn_gather_mlx(e, s->w, s->s, s->b, s->ids, s->y, &gp);
    }
    return mlxn_dequantize_mlx(e, s->w, s->s, s->b, s->y, &q);
}

static int add(bench_case *o, int n, int max, const char *name, int gather, int64_t rows, int64_t K, int mode,
               int bits, int gs, mlxn_dtype sdt, mlxn_dtype ydt, int64_t nid) {
    if (n >= max) return n;
    bench_case *c = &o[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = ydt;
    c->i[0] = gather;
    c->i[1] = rows;
    c->i[2] = K;
    c->i[3] = mode;
    c->i[4] = bits;
    c->i[5] = gs;
    c->i[6] = nid;
    c->f[0] = (float)sdt;
    const double out_rows = gather ? (double)nid : (double)rows;
    const double per_row = (double)K * bits / 8.0 + (double)(K / gs) * (mode == MLXN_MLXQ_AFFINE ? 2.0 * (double)mlxn_dtype_size(sdt) : 1.0);
    c->bytes = out_rows * per_row + out_rows * (double)K * (double)mlxn_dtype_size(ydt) + (gather ? 4.0 * nid : 0.0);
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_quant_mlx_cases(bench_case *o, int max) {
    int n = 0;
    const int A = MLXN_MLXQ_AFFINE;
    n = add(o, n, max, "DEQUANT_MLX q4 g64 bf16 -> bf16 [14336,4096]", 0, 14336, 4096, A, 4, 64, MLXN_BF16, MLXN_BF16, 0);
    n = add(o, n, max, "DEQUANT_MLX q4 g64 bf16 -> f32 [14336,4096]", 0, 14336, 4096, A, 4, 64, MLXN_BF16, MLXN_F32, 0);
    n = add(o, n, max, "DEQUANT_MLX q8 g64 bf16 -> bf16 [14336,4096]", 0, 14336, 4096, A, 8, 64, MLXN_BF16, MLXN_BF16, 0);
    n = add(o, n, max, "DEQUANT_MLX q3 g64 f16 -> f16 [14336,4096]", 0, 14336, 4096, A, 3, 64, MLXN_F16, MLXN_F16, 0);
    n = add(o, n, max, "DEQUANT_MLX q6 g64 bf16 -> bf16 [14336,4096]", 0, 14336, 4096, A, 6, 64, MLXN_BF16, MLXN_BF16, 0);
    n = add(o, n, max, "DEQUANT_MLX mxfp4 -> bf16 [14336,4096]", 0, 14336, 4096, MLXN_MLXQ_MXFP4, 4, 32, MLXN_U8,
            MLXN_BF16, 0);
    n = add(o, n, max, "GATHER_MLX q4 g64 bf16 [262144,2560] x 1 id -> f32", 1, 262144, 2560, A, 4, 64, MLXN_BF16,
            MLXN_F32, 1);
    n = add(o, n, max, "GATHER_MLX q4 g64 bf16 [262144,2560] x 512 ids -> bf16", 1, 262144, 2560, A, 4, 64,
            MLXN_BF16, MLXN_BF16, 512);
    return n;
}
