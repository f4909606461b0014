/* bench_quant_ggml.c — quant_ggml cases of `mlxn bench`: dequantizing a
   whole 4096 x 14336 weight (a llama-3-8B FFN matrix, 58.7 M elements) of
   the common GGUF formats to f16 / bf16 / f32, plus a 1-row decode-size
   case. bytes = raw blocks read + output written. No peer anchors (ggml's
   test-backend-ops has no standalone dequantize perf case; its
   CPY/GET_ROWS of quantized types differ in what they move).
   The raw blocks are random bytes with every scale field set to a finite
   value (1.0 for f16 scales, 2^-1 for E8M0): the decode cost does not depend
   on the codes. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 ggml type, 1 rows, 2 row length; dtype: the output dtype */

typedef struct {
    mlxn_buffer *src, *dst;
} dq_set;

static void free_set(void *p) {
    dq_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->src);
    mlxn_buffer_free(s->dst);
    free(s);
}

static void fix_scales(int t, uint8_t *b) {
    static const uint8_t one[2] = {0x00, 0x3C}; /* f16 1.0 */
    switch (t) {
    case MLXN_GGML_Q4_0: case MLXN_GGML_Q5_0: case MLXN_GGML_Q8_0: case MLXN_GGML_IQ4_NL: case MLXN_GGML_IQ4_XS:
        memcpy(b, one, 2);
        break;
    case MLXN_GGML_Q4_1: case MLXN_GGML_Q5_1: case MLXN_GGML_Q4_K: case MLXN_GGML_Q5_K:
        memcpy(b, one, 2);
        memcpy(b + 2, one, 2);
        break;
    case MLXN_GGML_Q2_K: memcpy(b + 80, one, 2); memcpy(b + 82, one, 2); break;
    case MLXN_GGML_Q3_K: memcpy(b + 108, one, 2); break;
    case MLXN_GGML_Q6_K: memcpy(b + 208, one, 2); break;
    case MLXN_GGML_MXFP4: b[0] = 127; break;
    default: break;
    }
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    dq_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int t = (int)c->i[0];
    const int64_t n = c->i[1] * c->i[2];
    const int64_t tsz = mlxn_ggml_type_size((mlxn_ggml_type)t), nbytes = (int64_t)mlxn_quantize_ggml_size(t, n);
    const int64_t bs[1] = {nbytes}, ys[2] = {c->i[1], c->i[2]};
    uint8_t *h = malloc((size_t)nbytes);
    mlxn_status st = h ? mlxn_buffer_new(d, MLXN_U8, 1, bs, &s->src) : MLXN_ERR_OUT_OF_MEMORY;
    if (!st) {
        for (int64_t i = 0; i < nbytes; i += 8) {
            const uint64_t v = rng_u64(rng);
            const int64_t m = nbytes - i < 8 ? nbytes - i : 8;
            memcpy(h + i, &v, (size_t)m);
        }
        for (int64_t b = 0; b < nbytes; b += tsz) fix_scales(t, h + b);
        st = mlxn_buffer_write(s->src, h, (size_t)nbytes);
    }
    free(h);
    if (!st) st = bench_buffer(d, c->dtype, 2, ys, rng, 0, 0, 0, &s->dst);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    dq_set *s = p;
    const mlxn_dequantize_ggml_params prm = {(int)c->i[0]};
    return mlxn_dequantize_ggml(e, s->src, s->dst, &prm);
}

static int add(bench_case *out, int n, int max, const char *name, int t, mlxn_dtype odt, int64_t rows, int64_t k) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = odt;
    c->i[0] = t;
    c->i[1] = rows;
    c->i[2] = k;
    c->bytes = (double)mlxn_quantize_ggml_size(t, rows * k) + (double)(rows * k) * (double)mlxn_dtype_size(odt);
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_quant_ggml_cases(bench_case *o, int max) {
    int n = 0;
    const int64_t R = 4096, K = 14336;
    n = add(o, n, max, "DEQUANT q4_0 -> f16 [4096,14336]", MLXN_GGML_Q4_0, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT q4_0 -> bf16 [4096,14336]", MLXN_GGML_Q4_0, MLXN_BF16, R, K);
    n = add(o, n, max, "DEQUANT q4_0 -> f32 [4096,14336]", MLXN_GGML_Q4_0, MLXN_F32, R, K);
    n = add(o, n, max, "DEQUANT q8_0 -> f16 [4096,14336]", MLXN_GGML_Q8_0, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT q8_0 -> bf16 [4096,14336]", MLXN_GGML_Q8_0, MLXN_BF16, R, K);
    n = add(o, n, max, "DEQUANT q4_k -> f16 [4096,14336]", MLXN_GGML_Q4_K, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT q4_k -> bf16 [4096,14336]", MLXN_GGML_Q4_K, MLXN_BF16, R, K);
    n = add(o, n, max, "DEQUANT q4_k -> f32 [4096,14336]", MLXN_GGML_Q4_K, MLXN_F32, R, K);
    n = add(o, n, max, "DEQUANT q6_k -> f16 [4096,14336]", MLXN_GGML_Q6_K, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT q6_k -> bf16 [4096,14336]", MLXN_GGML_Q6_K, MLXN_BF16, R, K);
    n = add(o, n, max, "DEQUANT mxfp4 -> bf16 [4096,14336]", MLXN_GGML_MXFP4, MLXN_BF16, R, K);
    n = add(o, n, max, "DEQUANT mxfp4 -> f32 [4096,14336]", MLXN_GGML_MXFP4, MLXN_F32, R, K);
    n = add(o, n, max, "DEQUANT q5_k -> f16 [4096,14336]", MLXN_GGML_Q5_K, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT iq4_xs -> f16 [4096,14336]", MLXN_GGML_IQ4_XS, MLXN_F16, R, K);
    n = add(o, n, max, "DEQUANT q4_k -> f16 [1,4096] (one row)", MLXN_GGML_Q4_K, MLXN_F16, 1, 4096);
    return n;
}
