/* tests/ops/quant_ggml.c — differential, quantizer and validation cases of
   the quant_ggml family (mlxn_dequantize_ggml, mlxn_quantize_ggml) against
   tests/ref/ref_quant_ggml.c.

   Case names:
     quant_ggml/dq/<type>/<out dtype>/r<rows>.k<row>[/smis][/dmis][/special]
     quant_ggml/quant/<type>/<fill>
     quant_ggml/validate/...

   dq: random blocks (random bytes are valid codes for every format; the
   f16/f32 scale fields are overwritten with finite values, including f16
   subnormals; E8M0 exponents kept in [110, 140] and plain values in range
   so no output overflows). Every output element must equal the reference
   decoder's f32 value, rounded to the output dtype by the library's
   reference conversions, bit for bit (sign of zero included): the op is
   exact arithmetic on the same operations. Rows are odd lengths of whole
   blocks; tensors span up to 40 tiles of the CUDA kernel; /smis puts src
   one byte off its allocation (the CUDA byte-staging path), /dmis puts dst
   one element off (element stores). /special: the plain float types with
   NaN, +-Inf, -0, subnormals and rounding ties planted (a NaN must come out
   as a NaN, everything else bit for bit).

   quant: the host quantizer on 16384 values (uniform [-1,1], or blocks of
   32 scaled by 10^u, u uniform in [-3,3]), dequantized by the device op
   (f32), NMSE against the input under a per-type limit = 1.5 x the
   expected uniform-quantization error (step^2/12 over the signal power
   1/3, step = the format's code spacing for a [-1,1] block: Q4_0 1/8,
   Q4_1 ~2/15, Q5_0 1/16, Q5_1 ~2/31, Q8_0 1/127, Q6_K 1/32, Q4_K ~2/15);
   MXFP4 (E2M1 on a power-of-two scale, no closed form used here): 2x the
   0.021 gguf-py measures on uniform data. Q4_K and Q6_K are also held to
   1.1 x the NMSE of the float64 versions of the same searches
   (tests/ref): an f32 implementation that went wrong in the search would
   lose to it. gguf-py's quantizers are compared bit for bit in
   tests/oracle/test_quant_ggml.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_quant_ggml.h"
#include "vkit.h"

static const int DQ_TYPES[] = {
    MLXN_GGML_F32,  MLXN_GGML_F16,  MLXN_GGML_BF16, MLXN_GGML_F64,  MLXN_GGML_I8,    MLXN_GGML_I16,    MLXN_GGML_I32,
    MLXN_GGML_Q4_0, MLXN_GGML_Q4_1, MLXN_GGML_Q5_0, MLXN_GGML_Q5_1, MLXN_GGML_Q8_0,  MLXN_GGML_Q8_1,   MLXN_GGML_Q2_K,
    MLXN_GGML_Q3_K, MLXN_GGML_Q4_K, MLXN_GGML_Q5_K, MLXN_GGML_Q6_K, MLXN_GGML_Q8_K,  MLXN_GGML_IQ4_NL, MLXN_GGML_IQ4_XS,
    MLXN_GGML_MXFP4, MLXN_GGML_NVFP4, MLXN_GGML_Q1_0, MLXN_GGML_Q2_0,
};
#define N_DQ ((int)(sizeof DQ_TYPES / sizeof DQ_TYPES[0]))
static const mlxn_dtype ODT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

/* ---- random blocks ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t h) {
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

static uint16_t rand_f16_scale(rng_t *r) {
    /* mostly normal magnitudes in [1e-3, 1], one in 8 an f16 subnormal */
    const double mag = rng_int(r, 0, 7) == 0 ? rng_uniform(r, 1e-7, 6e-5) : pow(10.0, rng_uniform(r, -3.0, 0.0));
    const double v = rng_int(r, 0, 1) ? -mag : mag;
    return mlxn_f32_to_f16((float)v);
}

/* The byte offsets of the f16 scale fields of a block. */
static int f16_fields(int t, int *off) {
    switch (t) {
    case MLXN_GGML_Q4_1: case MLXN_GGML_Q5_1: case MLXN_GGML_Q8_1: case MLXN_GGML_Q4_K: case MLXN_GGML_Q5_K:
        off[0] = 0;
        off[1] = 2;
        return 2;
    case MLXN_GGML_Q2_K: off[0] = 80; off[1] = 82; return 2;
    case MLXN_GGML_Q3_K: off[0] = 108; return 1;
    case MLXN_GGML_Q6_K: off[0] = 208; return 1;
    case MLXN_GGML_Q4_0: case MLXN_GGML_Q5_0: case MLXN_GGML_Q8_0: case MLXN_GGML_IQ4_NL: case MLXN_GGML_IQ4_XS:
    case MLXN_GGML_Q1_0: case MLXN_GGML_Q2_0:
        off[0] = 0;
        return 1;
    default: return 0;
    }
}

/* Fills n elements' worth of raw bytes of type t. */
static void fill_blocks(int t, mlxn_dtype odt, uint8_t *p, int64_t n, rng_t *r) {
    const int64_t blck = mlxn_ggml_block_size((mlxn_ggml_type)t), tsz = mlxn_ggml_type_size((mlxn_ggml_type)t);
    const int64_t nb = n / blck;
    for (int64_t i = 0; i < nb * tsz; i += 8) {
        const uint64_t v = rng_u64(r);
        for (int k = 0; k < 8 && i + k < nb * tsz; k++) p[i + k] = (uint8_t)(v >> (8 * k));
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *q = p + b * tsz;
        int off[2];
        const int nf = f16_fields(t, off);
        for (int k = 0; k < nf; k++) put16(q + off[k], rand_f16_scale(r));
        switch (t) {
        case MLXN_GGML_Q8_K: {
            const float d = (float)rng_uniform(r, -1.0, 1.0);
            memcpy(q, &d, 4);
            break;
        }
        case MLXN_GGML_MXFP4: q[0] = (uint8_t)rng_int(r, 110, 140); break;
        case MLXN_GGML_F32: {
            const float v = (float)rng_nonzero(r, MLXN_F32, -4.0, 4.0);
            memcpy(q, &v, 4);
            break;
        }
        case MLXN_GGML_F16: put16(q, mlxn_f32_to_f16((float)rng_nonzero(r, MLXN_F16, -4.0, 4.0))); break;
        case MLXN_GGML_BF16: put16(q, mlxn_f32_to_bf16((float)rng_nonzero(r, MLXN_BF16, -4.0, 4.0))); break;
        case MLXN_GGML_F64: {
            const double v = rng_uniform(r, -1000.0, 1000.0);
            memcpy(q, &v, 8);
            break;
        }
        case MLXN_GGML_I32: {
            const int32_t lim = odt == MLXN_F16 ? 60000 : (1 << 26);
            const int32_t v = (int32_t)rng_int(r, -lim, lim);
            memcpy(q, &v, 4);
            break;
        }
        default: break;
        }
    }
}

static double round_to(mlxn_dtype odt, float v) {
    if (odt == MLXN_F16) return (double)mlxn_f16_to_f32(mlxn_f32_to_f16(v));
    if (odt == MLXN_BF16) return (double)mlxn_bf16_to_f32(mlxn_f32_to_bf16(v));
    return (double)v;
}

/* Special values for the plain float types, one of 10 kinds every 10
   elements: NaN, +Inf, -Inf, -0, an f32 subnormal, 65520 (rounds to f16
   Inf), 1 + 2^-8 and 1 + 2^-11 + 2^-12 (ties/near-ties of bf16 and f16
   rounding), -65504, 2^-24 (the smallest f16 subnormal). */
static void plant_specials(int t, uint8_t *raw, int64_t n) {
    static const float sv[10] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-40f, 65520.0f, 1.00390625f, 1.000732421875f,
                                 -65504.0f, 5.9604644775390625e-08f};
    for (int64_t i = 0; i < n; i += 10) {
        const float v = sv[(i / 10) % 10];
        if (t == MLXN_GGML_F32) memcpy(raw + 4 * i, &v, 4);
        else if (t == MLXN_GGML_F64) {
            const double dv = v;
            memcpy(raw + 8 * i, &dv, 8);
        } else if (t == MLXN_GGML_F16) put16(raw + 2 * i, mlxn_f32_to_f16(v));
        else if (t == MLXN_GGML_BF16) put16(raw + 2 * i, mlxn_f32_to_bf16(v));
    }
}

/* A U8 view of `bytes` bytes placed `mis` bytes into a fresh allocation. */
static mlxn_status upload_bytes(mlxn_device *d, const uint8_t *p, int64_t bytes, int mis, mlxn_buffer **base,
                                mlxn_buffer **view) {
    const int64_t tot = bytes + mis;
    uint8_t *tmp = malloc((size_t)tot);
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    memset(tmp, 0x5A, (size_t)mis);
    memcpy(tmp + mis, p, (size_t)bytes);
    const int64_t s1[1] = {tot}, s2[1] = {bytes};
    mlxn_status s = mlxn_buffer_new(d, MLXN_U8, 1, s1, base);
    if (!s) s = mlxn_buffer_write(*base, tmp, (size_t)tot);
    free(tmp);
    if (!s) s = mlxn_buffer_view(*base, (size_t)mis, MLXN_U8, 1, s2, view);
    return s;
}

/* ---- dequantize cases ------------------------------------------------------------- */

typedef struct {
    char name[160];
    int type;
    mlxn_dtype odt;
    int64_t rows, k;
    int smis, dmis;
    int special; /* plain float types: NaN, +-Inf, -0, subnormals, rounding ties planted */
} dqcase;

static void run_dq(const test_env *env, report_t *rep, const dqcase *c) {
    const int64_t n = c->rows * c->k;
    const int64_t bytes = (int64_t)mlxn_quantize_ggml_size(c->type, n);
    uint8_t *raw = malloc((size_t)bytes);
    double *got = malloc(sizeof(double) * (size_t)n);
    mlxn_buffer *sb = NULL, *sv = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    char msg[400] = "";
    bool ok = false;
    mlxn_status s;
    if (!raw || !got || bytes <= 0) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    fill_blocks(c->type, c->odt, raw, n, &rng);
    if (c->special) plant_specials(c->type, raw, n);
    const int64_t shp[2] = {c->rows, c->k};
    if ((s = upload_bytes(env->dev, raw, bytes, c->smis, &sb, &sv))) goto dev_err;
    if ((s = guarded_new(env->dev, c->odt, 2, shp, c->dmis, &g))) goto dev_err;
    mlxn_dequantize_ggml_params p = {c->type};
    if ((s = mlxn_dequantize_ggml(env->enc, sv, g.view, &p))) goto dev_err;
    if ((s = mlxn_encoder_wait(env->enc))) goto dev_err;
    bool guards_ok = false;
    if ((s = guarded_read(&g, got, &guards_ok))) goto dev_err;
    if (!guards_ok) {
        snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
        goto done;
    }
    int64_t bad = 0, first = -1;
    double fe = 0, fg = 0;
    for (int64_t i = 0; i < n; i++) {
        int rok = 1;
        const double e = round_to(c->odt, ref_ggml_elem(c->type, raw, i, &rok));
        if (!rok) {
            snprintf(msg, sizeof msg, "reference does not know type %d", c->type);
            goto done;
        }
        const bool same = isnan(e) ? isnan(got[i]) : (got[i] == e && signbit(got[i]) == signbit(e));
        if (!same) {
            if (first < 0) {
                first = i;
                fe = e;
                fg = got[i];
            }
            bad++;
        }
    }
    ok = bad == 0;
    if (ok) snprintf(msg, sizeof msg, "%lld elements bit-exact", (long long)n);
    else
        snprintf(msg, sizeof msg, "%lld of %lld elements differ; first at %lld: got %.9g, expected %.9g", (long long)bad,
                 (long long)n, (long long)first, fg, fe);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(sv);
    mlxn_buffer_free(sb);
    guarded_free(&g);
    free(raw);
    free(got);
}

static void each_dq(const test_env *env, report_t *rep, bool list, dqcase *c) {
    snprintf(c->name, sizeof c->name, "quant_ggml/dq/%s/%s/r%lld.k%lld%s%s%s",
             mlxn_ggml_type_name((mlxn_ggml_type)c->type), mlxn_dtype_name(c->odt), (long long)c->rows,
             (long long)c->k, c->smis ? "/smis" : "", c->dmis ? "/dmis" : "", c->special ? "/special" : "");
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else run_dq(env, rep, c);
}

static void dq_cases(const test_env *env, report_t *rep, bool list) {
    for (int ti = 0; ti < N_DQ; ti++)
        for (int o = 0; o < 3; o++) {
            const int t = DQ_TYPES[ti];
            const int64_t B = mlxn_ggml_block_size((mlxn_ggml_type)t);
            /* rows x row length (in elements): one block; odd rows of 5 blocks;
               7 rows across a 4096-element tile; 40 tiles aligned; 5 rows of
               4099 / 17 blocks + 1, misaligned both ways */
            const int64_t sh[5][2] = {{1, B}, {3, 5 * B}, {7, B == 1 ? 613 : B * ((613 + B - 1) / B)},
                                      {40, 4096}, {5, B == 1 ? 4099 : 17 * B + B}};
            const int mis[5][2] = {{0, 0}, {0, 1}, {1, 0}, {0, 0}, {1, 1}};
            for (int v = 0; v < 5; v++) {
                dqcase c;
                memset(&c, 0, sizeof c);
                c.type = t;
                c.odt = ODT[o];
                c.rows = sh[v][0];
                c.k = sh[v][1];
                c.smis = mis[v][0];
                c.dmis = mis[v][1];
                each_dq(env, rep, list, &c);
            }
            if (t == MLXN_GGML_F32 || t == MLXN_GGML_F16 || t == MLXN_GGML_BF16 || t == MLXN_GGML_F64) {
                dqcase c;
                memset(&c, 0, sizeof c);
                c.type = t;
                c.odt = ODT[o];
                c.rows = 3;
                c.k = 4099;
                c.special = 1;
                each_dq(env, rep, list, &c);
            }
        }
    /* many tiles per CUDA block: the grid is one wave (<= 8 blocks per SM),
       so 4099 x 5376 elements (5380 tiles of 4096, the last one partial) go
       round a 132-SM GPU's 4-stage (2-stage for f16) shared-memory ring of
       tiles more than once per block; aligned */
    static const struct {
        int type;
        mlxn_dtype odt;
    } RING[] = {{MLXN_GGML_Q4_0, MLXN_F32}, {MLXN_GGML_Q8_0, MLXN_F16}, {MLXN_GGML_Q4_K, MLXN_BF16},
                {MLXN_GGML_F16, MLXN_F32}};
    for (int i = 0; i < (int)(sizeof RING / sizeof RING[0]); i++) {
        dqcase c;
        memset(&c, 0, sizeof c);
        c.type = RING[i].type;
        c.odt = RING[i].odt;
        c.rows = 4099;
        c.k = 5376;
        each_dq(env, rep, list, &c);
    }
}

/* ---- quantizer cases -------------------------------------------------------------- */

typedef struct {
    int type;
    double limit;
} qlim;

static const qlim QTYPES[] = {
    {MLXN_GGML_Q4_0, 1.5 * (1.0 / 64 / 12) * 3}, {MLXN_GGML_Q4_1, 1.5 * (4.0 / 225 / 12) * 3},
    {MLXN_GGML_Q5_0, 1.5 * (1.0 / 256 / 12) * 3}, {MLXN_GGML_Q5_1, 1.5 * (4.0 / 961 / 12) * 3},
    {MLXN_GGML_Q8_0, 1.5 * (1.0 / 16129 / 12) * 3}, {MLXN_GGML_Q8_1, 1.5 * (1.0 / 16129 / 12) * 3},
    {MLXN_GGML_MXFP4, 2.0 * 0.021}, {MLXN_GGML_Q4_K, 1.5 * (4.0 / 225 / 12) * 3},
    {MLXN_GGML_Q6_K, 1.5 * (1.0 / 1024 / 12) * 3},
};

static void run_quant(const test_env *env, report_t *rep, const char *name, const qlim *q, int mixed) {
    const int64_t n = 16384;
    const size_t bytes = mlxn_quantize_ggml_size(q->type, n);
    float *x = malloc(sizeof(float) * (size_t)n);
    double *xd = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)n);
    double *r64 = malloc(sizeof(double) * (size_t)n);
    uint8_t *raw = malloc(bytes ? bytes : 1);
    mlxn_buffer *sb = NULL, *sv = NULL, *yb = NULL;
    char msg[400] = "";
    bool ok = false;
    mlxn_status s;
    if (!x || !xd || !y || !r64 || !raw || !bytes) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(name));
    for (int64_t b = 0; b < n / 32; b++) {
        const double sc = mixed ? pow(10.0, rng_uniform(&rng, -3.0, 3.0)) : 1.0;
        for (int k = 0; k < 32; k++) {
            x[b * 32 + k] = (float)(sc * rng_nonzero(&rng, MLXN_F32, -1.0, 1.0));
            xd[b * 32 + k] = x[b * 32 + k];
        }
    }
    if ((s = mlxn_quantize_ggml(q->type, x, n, raw, bytes))) goto dev_err;
    const int64_t shp[1] = {n};
    if ((s = upload_bytes(env->dev, raw, (int64_t)bytes, 0, &sb, &sv))) goto dev_err;
    if ((s = mlxn_buffer_new(env->dev, MLXN_F32, 1, shp, &yb))) goto dev_err;
    mlxn_dequantize_ggml_params p = {q->type};
    if ((s = mlxn_dequantize_ggml(env->enc, sv, yb, &p))) goto dev_err;
    if ((s = mlxn_encoder_wait(env->enc))) goto dev_err;
    float *yf = (float *)r64; /* scratch: n floats fit in n doubles */
    if ((s = mlxn_buffer_read(yb, yf, sizeof(float) * (size_t)n))) goto dev_err;
    for (int64_t i = n - 1; i >= 0; i--) y[i] = yf[i];
    const double e = nmse(y, xd, (size_t)n);
    ok = e <= q->limit;
    if (q->type == MLXN_GGML_Q4_K || q->type == MLXN_GGML_Q6_K) {
        if (q->type == MLXN_GGML_Q4_K) ref_quant_q4_K_f64(x, n, r64);
        else ref_quant_q6_K_f64(x, n, r64);
        const double e64 = nmse(r64, xd, (size_t)n);
        ok = ok && e <= 1.1 * e64;
        snprintf(msg, sizeof msg, "round-trip nmse %.3e (limit %.2e; float64 search %.3e, limit 1.1x)", e, q->limit,
                 e64);
    } else {
        snprintf(msg, sizeof msg, "round-trip nmse %.3e (limit %.2e)", e, q->limit);
    }
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, name, ok, "%s", msg);
    mlxn_buffer_free(yb);
    mlxn_buffer_free(sv);
    mlxn_buffer_free(sb);
    free(x);
    free(xd);
    free(y);
    free(r64);
    free(raw);
}

static void quant_cases(const test_env *env, report_t *rep, bool list) {
    for (size_t i = 0; i < sizeof QTYPES / sizeof QTYPES[0]; i++)
        for (int mixed = 0; mixed < 2; mixed++) {
            char name[120];
            snprintf(name, sizeof name, "quant_ggml/quant/%s/%s", mlxn_ggml_type_name((mlxn_ggml_type)QTYPES[i].type),
                     mixed ? "mixed" : "uniform");
            if (!report_wants(rep, name)) continue;
            if (list) printf("%s\n", name);
            else run_quant(env, rep, name, &QTYPES[i], mixed);
        }
}

/* ---- validation ------------------------------------------------------------------- */

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list, NULL};
    mlxn_device *d = env->dev;
    mlxn_encoder *e = env->enc;
    const int64_t s64[2] = {2, 64}, s48[2] = {2, 48}, b36[1] = {72}, b35[1] = {71}, big[1] = {4096};
    const mlxn_dequantize_ggml_params q40 = {MLXN_GGML_Q4_0};
    static const char op[] = "dequantize_ggml";
#define DQ_CALL(E, SRC, DST, P)                                                     \
    do {                                                                            \
        const uint64_t d0_ = dispatches(d);                                         \
        mlxn_clear_error();                                                         \
        st = mlxn_dequantize_ggml((E), (SRC), (DST), (P));                          \
        d0 = d0_;                                                                   \
    } while (0)
    mlxn_status st;
    uint64_t d0;
    VCASE(&v, "quant_ggml/validate/dequantize/null_encoder") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        DQ_CALL(NULL, x, y, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/null_encoder", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op, "encoder",
               NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/null_src") {
        vset s = {.setup_ok = true};
        mlxn_buffer *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        DQ_CALL(e, NULL, y, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/null_src", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op, "src is NULL",
               NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/null_dst") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11);
        DQ_CALL(e, x, NULL, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/null_dst", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op, "dst is NULL",
               NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/null_params") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        DQ_CALL(e, x, y, NULL);
        vcheck(&v, "quant_ggml/validate/dequantize/null_params", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "params is NULL", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/unknown_type") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        const mlxn_dequantize_ggml_params p = {4};
        DQ_CALL(e, x, y, &p);
        vcheck(&v, "quant_ggml/validate/dequantize/unknown_type", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "type id 4 is not a ggml type", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/negative_type") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        const mlxn_dequantize_ggml_params p = {-7};
        DQ_CALL(e, x, y, &p);
        vcheck(&v, "quant_ggml/validate/dequantize/negative_type", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "type id -7", NULL);
    }
    static const struct { int t; const char *name; } UNS[] = {
        {MLXN_GGML_IQ2_XXS, "iq2_xxs"}, {MLXN_GGML_IQ2_XS, "iq2_xs"}, {MLXN_GGML_IQ3_XXS, "iq3_xxs"},
        {MLXN_GGML_IQ1_S, "iq1_s"},     {MLXN_GGML_IQ3_S, "iq3_s"},   {MLXN_GGML_IQ2_S, "iq2_s"},
        {MLXN_GGML_IQ1_M, "iq1_m"},     {MLXN_GGML_TQ1_0, "tq1_0"},   {MLXN_GGML_TQ2_0, "tq2_0"},
        {MLXN_GGML_I64, "i64"},
    };
    for (size_t i = 0; i < sizeof UNS / sizeof UNS[0]; i++) {
        char nm[120];
        snprintf(nm, sizeof nm, "quant_ggml/validate/dequantize/unsupported_%s", UNS[i].name);
        VCASE(&v, nm) {
            vset s = {.setup_ok = true};
            const int64_t blck = mlxn_ggml_block_size((mlxn_ggml_type)UNS[i].t);
            const int64_t tsz = mlxn_ggml_type_size((mlxn_ggml_type)UNS[i].t);
            const int64_t sb[1] = {tsz}, sy[1] = {blck};
            mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, sb, 0x11), *y = vs_new(&s, d, MLXN_F32, 1, sy, 0x22);
            const mlxn_dequantize_ggml_params p = {UNS[i].t};
            DQ_CALL(e, x, y, &p);
            vcheck(&v, nm, &s, d0, st, MLXN_ERR_UNSUPPORTED, op, UNS[i].name, "not supported", NULL);
        }
    }
    VCASE(&v, "quant_ggml/validate/dequantize/dst_dtype_i32") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_I32, 2, s64, 0x22);
        DQ_CALL(e, x, y, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/dst_dtype_i32", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "dst dtype (i32) must be f32, f16 or bf16", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/row_not_multiple") {
        vset s = {.setup_ok = true};
        const int64_t b54[1] = {54}; /* 3 blocks = 96 elements = 2 rows of 48 */
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b54, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s48, 0x22);
        DQ_CALL(e, x, y, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/row_not_multiple", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "rows of 48 elements are not a multiple of the q4_0 block size 32", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/byte_size") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b35, 0x11), *y = vs_new(&s, d, MLXN_F32, 2, s64, 0x22);
        DQ_CALL(e, x, y, &q40);
        vcheck(&v, "quant_ggml/validate/dequantize/byte_size", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "src has 71 bytes, 128 elements of q4_0 need 72", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/overlap") {
        vset s = {.setup_ok = true};
        mlxn_buffer *bb = vs_new(&s, d, MLXN_U8, 1, big, 0x33);
        mlxn_buffer *x = vs_view(&s, bb, 0, MLXN_U8, 1, b36);
        mlxn_buffer *y = vs_view(&s, bb, 64, MLXN_F32, 2, s64);
        mlxn_buffer *x2 = vs_view(&s, bb, 300, MLXN_U8, 1, b36); /* inside y's 512 bytes at 64 */
        DQ_CALL(e, x2, y, &q40);
        (void)x;
        vcheck(&v, "quant_ggml/validate/dequantize/overlap", &s, d0, st, MLXN_ERR_INVALID_ARGUMENT, op,
               "dst overlaps src", NULL);
    }
    VCASE(&v, "quant_ggml/validate/dequantize/ok_f16_dst") {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, d, MLXN_U8, 1, b36, 0x11), *y = vs_new(&s, d, MLXN_F16, 2, s64, 0x22);
        DQ_CALL(e, x, y, &q40);
        vcheck_ok(&v, "quant_ggml/validate/dequantize/ok_f16_dst", &s, d0, st);
    }
#undef DQ_CALL
    /* host quantizer */
    static const char qop[] = "quantize_ggml";
    float xs[64];
    for (int i = 0; i < 64; i++) xs[i] = 0.25f * (float)(i - 31);
    uint8_t out[80], pat[80];
    struct {
        const char *name;
        int type;
        const float *src;
        int64_t n;
        void *dst;
        size_t bytes;
        int bad_index; /* put a non-finite value here (-1: none) */
        float bad;
        mlxn_status want;
        const char *needle;
    } Q[] = {
        {"null_src", MLXN_GGML_Q4_0, NULL, 64, out, 36, -1, 0, MLXN_ERR_INVALID_ARGUMENT, "src is NULL"},
        {"null_dst", MLXN_GGML_Q4_0, xs, 64, NULL, 36, -1, 0, MLXN_ERR_INVALID_ARGUMENT, "dst is NULL"},
        {"n_not_multiple", MLXN_GGML_Q4_0, xs, 48, out, 27, -1, 0, MLXN_ERR_INVALID_ARGUMENT,
         "n (48) must be a positive multiple of the q4_0 block size 32"},
        {"n_zero", MLXN_GGML_Q8_0, xs, 0, out, 0, -1, 0, MLXN_ERR_INVALID_ARGUMENT, "n (0)"},
        {"dst_bytes", MLXN_GGML_Q8_0, xs, 64, out, 67, -1, 0, MLXN_ERR_INVALID_ARGUMENT,
         "dst_bytes (67) must be 68 for 64 elements of q8_0"},
        {"nan_input", MLXN_GGML_Q4_1, xs, 64, out, 40, 37, NAN, MLXN_ERR_INVALID_ARGUMENT, "src[37] is nan"},
        {"inf_input", MLXN_GGML_Q5_0, xs, 64, out, 44, 3, -INFINITY, MLXN_ERR_INVALID_ARGUMENT, "src[3] is inf"},
        {"unsupported_q2_k", MLXN_GGML_Q2_K, xs, 256, out, 84, -1, 0, MLXN_ERR_UNSUPPORTED, "no quantizer for type q2_k"},
        {"unknown_type", 5, xs, 64, out, 36, -1, 0, MLXN_ERR_INVALID_ARGUMENT, "type id 5 is not a ggml type"},
    };
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++) {
        char nm[120];
        snprintf(nm, sizeof nm, "quant_ggml/validate/quantize/%s", Q[i].name);
        if (list) {
            printf("%s\n", nm);
            continue;
        }
        if (!report_wants(rep, nm)) continue;
        float src[256];
        for (int k = 0; k < 256; k++) src[k] = xs[k % 64];
        if (Q[i].bad_index >= 0) src[Q[i].bad_index] = Q[i].bad;
        memset(out, 0xC3, sizeof out);
        memcpy(pat, out, sizeof out);
        mlxn_clear_error();
        const mlxn_status r =
            mlxn_quantize_ggml(Q[i].type, Q[i].src ? src : NULL, Q[i].n, Q[i].dst, Q[i].bytes);
        const char *m = mlxn_last_error();
        const bool good = r == Q[i].want && strncmp(m, "quantize_ggml: ", strlen(qop) + 2) == 0 &&
                          strstr(m, Q[i].needle) && memcmp(out, pat, sizeof out) == 0;
        report_case(rep, nm, good, "status %s (want %s), message \"%s\" (want \"%s\")", mlxn_status_str(r),
                    mlxn_status_str(Q[i].want), m, Q[i].needle);
    }
    /* the size helper */
    {
        const char *nm = "quant_ggml/validate/quantize/size_helper";
        if (list) printf("%s\n", nm);
        else if (report_wants(rep, nm)) {
            const bool good = mlxn_quantize_ggml_size(MLXN_GGML_Q4_K, 512) == 288 &&
                              mlxn_quantize_ggml_size(MLXN_GGML_Q4_K, 500) == 0 &&
                              mlxn_quantize_ggml_size(MLXN_GGML_Q4_0, -32) == 0 &&
                              mlxn_quantize_ggml_size(4, 32) == 0 &&
                              mlxn_quantize_ggml_size(MLXN_GGML_Q8_0, INT64_MAX - 31) == 0 &&
                              mlxn_quantize_ggml_size(MLXN_GGML_F32, 3) == 12;
            report_case(rep, nm, good, "sizes of q4_k/q4_0/unknown/overflow/f32");
        }
    }
}

void quant_ggml_suite(const test_env *env, report_t *rep, bool list) {
    dq_cases(env, rep, list);
    quant_cases(env, rep, list);
    validation_cases(env, rep, list);
}
