/* test_ops.c — the differential harness: every op x dtype x backend against the
   float64 references in tests/ref/, in the spirit of ggml's test-backend-ops.

   For each case: fresh seeded random inputs (never zeros), the output poisoned
   with NaN beforehand and surrounded by guard bytes, the op run on the backend,
   then NMSE = sum((out-ref)^2)/sum(ref^2) against the reference (computed from
   the dtype-rounded inputs) must be under the dtype's limit, no NaN/Inf may
   appear, and the guard bytes must be untouched.

   The RoPE family lives here; the other families in tests/ops/<family>.c.

   usage: test_ops [-b cpu|cuda|all] [-o SUBSTRING] [-v] [--list]
   Case names encode their parameters, e.g.
     rope/neox/f16/b1.s7.h3.d64/nd32/ff/yarn/pos100000/u32/mis1/inplace */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"
#include "ops/families.h"
#include "ref/ref_rope.h"

#define GUARD 64 /* guard elements on each side of the output */

typedef enum { OP_ROPE, OP_ROPE_MULTI, OP_VISION2D } op_id;

typedef struct {
    char name[256];
    op_id op;
    mlxn_dtype dt;
    int64_t batch, seq, heads, hd;
    mlxn_rope_params rp;
    bool use_ff;
    mlxn_rope_multi_params mp;
    mlxn_vision_2d_rope_params vp;
    mlxn_dtype pos_dt;
    int64_t pos_max;
    int misalign; /* elements of offset for the input and output views */
    bool inplace;
} rcase;

static const mlxn_dtype DTYPES[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

static const char *rope_mode_name(int m) { return m == MLXN_ROPE_NORMAL ? "normal" : "neox"; }
static const char *multi_mode_name(int m) {
    return m == MLXN_ROPE_MROPE ? "mrope" : m == MLXN_ROPE_IMROPE ? "imrope" : "vision";
}

static void finish_name(rcase *c) {
    char tail[128];
    snprintf(tail, sizeof tail, "/pos%lld%s%s%s", (long long)c->pos_max, c->pos_dt == MLXN_U32 ? "/u32" : "",
             c->misalign ? "/mis1" : "", c->inplace ? "/inplace" : "");
    strncat(c->name, tail, sizeof c->name - strlen(c->name) - 1);
}

/* ---- running one case ----------------------------------------------------- */

typedef struct {
    mlxn_device *dev;
    mlxn_encoder *enc;
    report_t *rep;
} ctx_t;

static void run_case(ctx_t *cx, const rcase *c) {
    report_t *rep = cx->rep;
    const size_t es = mlxn_dtype_size(c->dt);
    const int64_t n = c->batch * c->seq * c->heads * c->hd;
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));

    double *x = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double *got = malloc(sizeof(double) * (size_t)n);
    const int64_t n_pos = c->op == OP_ROPE_MULTI ? 4 * c->seq : c->seq;
    double *posd = malloc(sizeof(double) * (size_t)(2 * n_pos));
    int64_t *posi = malloc(sizeof(int64_t) * (size_t)(2 * n_pos));
    double ff[MLXN_ROPE_MAX_HEAD_DIM / 2];
    const int64_t tot = n + 2 * GUARD + c->misalign;
    unsigned char *host = malloc((size_t)tot * es), *back = malloc((size_t)tot * es);
    mlxn_buffer *inb = NULL, *outb = NULL, *in = NULL, *out = NULL, *pos = NULL, *pos2 = NULL, *ffb = NULL;
    char msg[512] = "";
    bool ok = false;

    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(&rng, -1.0, 1.0);
    round_through(c->dt, x, (size_t)n);
    for (int64_t i = 0; i < 2 * n_pos; i++) {
        posd[i] = (double)rng_int(&rng, 0, c->pos_max);
        posi[i] = (int64_t)posd[i];
    }
    const int nff = (int)(c->rp.n_dims / 2);
    for (int i = 0; i < nff && c->use_ff; i++) ff[i] = (float)rng_uniform(&rng, 0.5, 4.0);

    /* device buffers: input/output views inside guarded allocations */
    int64_t shp1[1] = {tot};
    mlxn_status s = mlxn_buffer_new(cx->dev, c->dt, 1, shp1, &outb);
    if (!s && !c->inplace) s = mlxn_buffer_new(cx->dev, c->dt, 1, shp1, &inb);
    if (s) { snprintf(msg, sizeof msg, "alloc: %s", mlxn_last_error()); goto done; }
    /* poison: guard bytes 0xA5, the output region all-ones (NaN in every float dtype) */
    memset(host, 0xA5, (size_t)tot * es);
    memset(host + (size_t)(GUARD + c->misalign) * es, 0xFF, (size_t)n * es);
    if (c->inplace) host_from_double(c->dt, x, (size_t)n, host + (size_t)(GUARD + c->misalign) * es);
    if ((s = mlxn_buffer_write(outb, host, (size_t)tot * es))) goto dev_err;
    {
        int64_t shp[4];
        int nd;
        if (c->op == OP_ROPE && c->batch > 1) {
            shp[0] = c->batch; shp[1] = c->seq; shp[2] = c->heads; shp[3] = c->hd; nd = 4;
        } else {
            shp[0] = c->seq; shp[1] = c->heads; shp[2] = c->hd; nd = 3;
        }
        const size_t off = (size_t)(GUARD + c->misalign) * es;
        if ((s = mlxn_buffer_view(outb, off, c->dt, nd, shp, &out))) goto dev_err;
        if (c->inplace) {
            in = out;
        } else {
            void *hx = malloc((size_t)tot * es);
            memset(hx, 0x5A, (size_t)tot * es);
            host_from_double(c->dt, x, (size_t)n, (unsigned char *)hx + off);
            s = mlxn_buffer_write(inb, hx, (size_t)tot * es);
            free(hx);
            if (s) goto dev_err;
            if ((s = mlxn_buffer_view(inb, off, c->dt, nd, shp, &in))) goto dev_err;
        }
    }
    if ((s = upload_values(cx->dev, c->pos_dt, 1, &n_pos, posd, &pos))) goto dev_err;

    if (c->op == OP_ROPE) {
        if (c->use_ff && (s = upload_values(cx->dev, MLXN_F32, 1, &(int64_t){nff}, ff, &ffb))) goto dev_err;
        s = mlxn_rope(cx->enc, in, out, pos, ffb, &c->rp);
        ref_rope(x, ref, c->batch, c->seq, c->heads, c->hd, posi, c->use_ff ? ff : NULL, &c->rp);
    } else if (c->op == OP_ROPE_MULTI) {
        s = mlxn_rope_multi(cx->enc, in, out, pos, &c->mp);
        ref_rope_multi(x, ref, posi, &c->mp);
    } else {
        if ((s = upload_values(cx->dev, c->pos_dt, 1, &n_pos, posd + n_pos, &pos2))) goto dev_err;
        s = mlxn_vision_2d_rope(cx->enc, in, out, pos, pos2, &c->vp);
        ref_vision_2d_rope(x, ref, posi, posi + n_pos, &c->vp);
    }
    if (s == MLXN_OK) s = mlxn_encoder_wait(cx->enc);
    if (s) goto dev_err;
    if ((s = mlxn_buffer_read(outb, back, (size_t)tot * es))) goto dev_err;

    for (int64_t i = 0; i < tot; i++) {
        if (i == GUARD + c->misalign) i += n; /* skip the output itself */
        if (i >= tot) break;
        for (size_t k = 0; k < es; k++)
            if (back[(size_t)i * es + k] != 0xA5) {
                snprintf(msg, sizeof msg, "guard byte overwritten at element %lld of %lld", (long long)i,
                         (long long)tot);
                goto done;
            }
    }
    host_to_double(c->dt, back + (size_t)(GUARD + c->misalign) * es, (size_t)n, got);
    {
        double e = nmse(got, ref, (size_t)n), lim = nmse_limit(c->dt);
        ok = e <= lim;
        snprintf(msg, sizeof msg, "nmse %.3e (limit %.0e)", e, lim);
    }
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    if (in != out) mlxn_buffer_free(in);
    mlxn_buffer_free(out);
    mlxn_buffer_free(inb);
    mlxn_buffer_free(outb);
    mlxn_buffer_free(pos);
    mlxn_buffer_free(pos2);
    mlxn_buffer_free(ffb);
    free(x); free(ref); free(got); free(posd); free(posi); free(host); free(back);
}

/* ---- case lists ------------------------------------------------------------- */

typedef void (*case_fn)(ctx_t *cx, const rcase *c);

static void each(ctx_t *cx, rcase *c, case_fn fn) {
    finish_name(c);
    if (!report_wants(cx->rep, c->name)) return;
    fn(cx, c);
}

static void rope_cases(ctx_t *cx, case_fn fn) {
    /* {batch, seq, heads, head_dim, n_dims}: ggml's eval shapes plus partial,
       odd-group, batched, decode and long-sequence cases */
    static const int64_t shapes[][5] = {
        {1, 2, 32, 128, 128}, {1, 2, 40, 128, 128}, {1, 5, 3, 64, 32}, {1, 3, 32, 80, 20},
        {1, 4, 32, 80, 32},   {2, 3, 4, 64, 64},    {1, 1, 32, 128, 128}, {1, 6, 2, 6, 6},
        {1, 7, 3, 10, 4},     {1, 2048, 4, 16, 16}, {1, 9, 71, 64, 64},
    };
    for (int m = 0; m < 2; m++)
        for (int d = 0; d < 3; d++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                for (int var = 0; var < 5; var++) {
                    rcase c;
                    memset(&c, 0, sizeof c);
                    c.op = OP_ROPE;
                    c.dt = DTYPES[d];
                    c.batch = shapes[si][0]; c.seq = shapes[si][1]; c.heads = shapes[si][2]; c.hd = shapes[si][3];
                    c.rp = mlxn_rope_params_default((uint32_t)shapes[si][4], m ? MLXN_ROPE_NEOX : MLXN_ROPE_NORMAL,
                                                    10000.0f);
                    c.pos_dt = MLXN_I32;
                    c.pos_max = 4096;
                    const char *vname = "plain";
                    switch (var) {
                    case 1: /* freq factors + YaRN as ggml's eval cases set them */
                        c.use_ff = true;
                        c.rp.freq_scale = 1.4245f; c.rp.ext_factor = 0.7465f; c.rp.attn_factor = 1.4245f;
                        c.rp.n_ctx_orig = 0; c.rp.beta_fast = 1.0f; c.rp.beta_slow = 1.0f;
                        vname = "ff.yarn0";
                        break;
                    case 2: /* YaRN with a real context: Llama-3-style ramp over several pairs */
                        c.rp.freq_scale = 0.25f; c.rp.ext_factor = 1.0f; c.rp.attn_factor = 1.0f;
                        c.rp.n_ctx_orig = 8192; c.rp.beta_fast = 32.0f; c.rp.beta_slow = 1.0f;
                        c.rp.freq_base = 500000.0f;
                        vname = "yarn8192";
                        c.pos_max = 32768;
                        break;
                    case 3: /* large positions, u32, misaligned views */
                        c.pos_dt = MLXN_U32; c.pos_max = 1000000; c.misalign = 1;
                        vname = "bigpos";
                        break;
                    case 4:
                        c.inplace = true;
                        vname = "inplace";
                        break;
                    }
                    snprintf(c.name, sizeof c.name, "rope/%s/%s/b%lld.s%lld.h%lld.d%lld/nd%u/%s", rope_mode_name(m),
                             mlxn_dtype_name(c.dt), (long long)c.batch, (long long)c.seq, (long long)c.heads,
                             (long long)c.hd, c.rp.n_dims, vname);
                    each(cx, &c, fn);
                }
}

static void rope_multi_cases(ctx_t *cx, case_fn fn) {
    /* {mode, head_dim, rope_dim, heads, seq, s0, s1, s2, s3, base} */
    static const double v[][10] = {
        {MLXN_ROPE_MROPE, 128, 128, 12, 2, 16, 24, 24, 0, 1e6},    /* Qwen2-VL */
        {MLXN_ROPE_IMROPE, 128, 128, 16, 2, 24, 20, 20, 0, 5e6},   /* Qwen3-VL */
        {MLXN_ROPE_IMROPE, 256, 64, 4, 3, 11, 11, 10, 0, 1e7},     /* Qwen3.5 partial */
        {MLXN_ROPE_MROPE, 256, 64, 4, 3, 11, 11, 10, 0, 1e7},
        {MLXN_ROPE_MROPE, 32, 16, 4, 6, 3, 3, 2, 0, 1e4},          /* sections wrap */
        {MLXN_ROPE_IMROPE, 32, 16, 4, 6, 3, 3, 2, 0, 1e4},
        {MLXN_ROPE_MROPE, 64, 48, 3, 5, 4, 4, 4, 4, 1e4},          /* e axis used */
        {MLXN_ROPE_IMROPE, 64, 48, 3, 5, 4, 4, 4, 4, 1e4},
        {MLXN_ROPE_IMROPE, 16, 8, 2, 4, 2, 2, 1, 0, 2},            /* mlx-native's spec case */
        {MLXN_ROPE_VISION, 80, 80, 16, 2, 20, 20, 0, 0, 1e4},      /* Qwen2-VL ViT */
        {MLXN_ROPE_VISION, 72, 72, 16, 7, 18, 18, 0, 0, 1e4},      /* Qwen3-VL ViT */
        {MLXN_ROPE_VISION, 8, 8, 2, 3, 2, 2, 0, 0, 1e4},
        {MLXN_ROPE_VISION, 12, 12, 2, 3, 4, 2, 0, 0, 1e4},         /* unequal sections */
        {MLXN_ROPE_IMROPE, 128, 128, 32, 1, 24, 20, 20, 0, 5e6},   /* decode */
    };
    for (int d = 0; d < 3; d++)
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            for (int var = 0; var < 3; var++) {
                rcase c;
                memset(&c, 0, sizeof c);
                c.op = OP_ROPE_MULTI;
                c.dt = DTYPES[d];
                c.mp.mode = (mlxn_rope_multi_mode)(int)v[i][0];
                c.mp.head_dim = (uint32_t)v[i][1];
                c.mp.rope_dim = (uint32_t)v[i][2];
                c.mp.n_heads = (uint32_t)v[i][3];
                c.mp.seq_len = (uint32_t)v[i][4];
                for (int k = 0; k < 4; k++) c.mp.sections[k] = (uint32_t)v[i][5 + k];
                c.mp.freq_base = (float)v[i][9];
                c.batch = 1; c.seq = c.mp.seq_len; c.heads = c.mp.n_heads; c.hd = c.mp.head_dim;
                c.pos_dt = MLXN_I32;
                c.pos_max = 4096;
                if (var == 1) { c.pos_dt = MLXN_U32; c.pos_max = 200000; c.misalign = 1; }
                if (var == 2) c.inplace = true;
                snprintf(c.name, sizeof c.name, "rope_multi/%s/%s/s%u.h%u.d%u/r%u/sec%u.%u.%u.%u",
                         multi_mode_name(c.mp.mode), mlxn_dtype_name(c.dt), c.mp.seq_len, c.mp.n_heads,
                         c.mp.head_dim, c.mp.rope_dim, c.mp.sections[0], c.mp.sections[1], c.mp.sections[2],
                         c.mp.sections[3]);
                each(cx, &c, fn);
            }
    /* a long prefill at the bench shape */
    for (int d = 0; d < 3; d++) {
        rcase c;
        memset(&c, 0, sizeof c);
        c.op = OP_ROPE_MULTI;
        c.dt = DTYPES[d];
        c.mp = (mlxn_rope_multi_params){128, 128, 12, 512, 1e6f, MLXN_ROPE_IMROPE, {24, 20, 20, 0}};
        c.batch = 1; c.seq = 512; c.heads = 12; c.hd = 128;
        c.pos_dt = MLXN_I32;
        c.pos_max = 32768;
        snprintf(c.name, sizeof c.name, "rope_multi/imrope/%s/s512.h12.d128/r128/sec24.20.20.0", mlxn_dtype_name(c.dt));
        each(cx, &c, fn);
    }
}

static void vision2d_cases(ctx_t *cx, case_fn fn) {
    static const int64_t v[][3] = {{8, 2, 4}, {12, 3, 6}, {64, 4, 5}, {72, 16, 9}, {4, 1, 3}, {1152 / 16, 16, 64}};
    for (int d = 0; d < 3; d++)
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            for (int var = 0; var < 2; var++) {
                rcase c;
                memset(&c, 0, sizeof c);
                c.op = OP_VISION2D;
                c.dt = DTYPES[d];
                c.vp = (mlxn_vision_2d_rope_params){(uint32_t)v[i][0], (uint32_t)v[i][1], (uint32_t)v[i][2], 100.0f};
                c.batch = 1; c.seq = v[i][2]; c.heads = v[i][1]; c.hd = v[i][0];
                c.pos_dt = var ? MLXN_U32 : MLXN_I32;
                c.pos_max = 64;
                c.misalign = var;
                snprintf(c.name, sizeof c.name, "vision_2d_rope/%s/s%lld.h%lld.d%lld", mlxn_dtype_name(c.dt),
                         (long long)c.seq, (long long)c.heads, (long long)c.hd);
                each(cx, &c, fn);
            }
}

static void list_case(ctx_t *cx, const rcase *c) {
    (void)cx;
    printf("%s\n", c->name);
}

static void suite(const test_env *env, report_t *rep, void *user) {
    (void)user;
    ctx_t cx = {env->dev, env->enc, rep};
    rope_cases(&cx, run_case);
    rope_multi_cases(&cx, run_case);
    vision2d_cases(&cx, run_case);
    norm_suite(env, rep, false);
    elementwise_suite(env, rep, false);
    softmax_suite(env, rep, false);
    fused_norm_suite(env, rep, false);
    layout_suite(env, rep, false);
    reduce_suite(env, rep, false);
    sort_suite(env, rep, false);
    sample_suite(env, rep, false);
    backward_suite(env, rep, false);
    quant_ggml_suite(env, rep, false);
    quant_mlx_suite(env, rep, false);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        report_t rep = {0};
        ctx_t cx = {NULL, NULL, &rep};
        rope_cases(&cx, list_case);
        rope_multi_cases(&cx, list_case);
        vision2d_cases(&cx, list_case);
        test_env none = {NULL, NULL, "none"};
        norm_suite(&none, &rep, true);
        elementwise_suite(&none, &rep, true);
        softmax_suite(&none, &rep, true);
        fused_norm_suite(&none, &rep, true);
        layout_suite(&none, &rep, true);
        reduce_suite(&none, &rep, true);
        sort_suite(&none, &rep, true);
        sample_suite(&none, &rep, true);
        backward_suite(&none, &rep, true);
        quant_ggml_suite(&none, &rep, true);
        quant_mlx_suite(&none, &rep, true);
        return 0;
    }
    return run_suite(argc, argv, "test_ops", suite, NULL);
}
