/* tests/ops/fused_norm.c — differential and validation cases of the
   fused-norm family (mlxn_add_rms_norm, mlxn_rms_norm_add,
   mlxn_rms_norm_gate), run by tests/test_ops.c.

   Differential cases ("<op>/<dtype>/r<rows>.d<dim>/w.<none|dtype>[/sum|/nosum]
   [/scale<s>][/eps<e>][/mag<m>][/mis1][/ip.<out>=<in>]"): every op x
   f32/f16/bf16 x weight (none, the row dtype, f32 for 16-bit rows) over
   dims 1, 3, 64, 257, 1025 (both sides of the CUDA warp/block split at
   1024), 4096, 8192, 16896 and rows 1..512, 1-D and 3-D shapes; then eps 0
   and 0.1, input magnitudes 1e3 and 1e-3 (f16 subnormals), misaligned views
   of every tensor incl. w (forcing the CUDA scalar paths), every allowed
   exact in-place alias (add_rms_norm y=a, y=b, sum_out=a, y=a with
   sum_out=b; rms_norm_add y=res, y=x; rms_norm_gate y=x, y=z),
   add_rms_norm with and without sum_out, rms_norm_add scales 1, 0.25, -1.5.
   Inputs are uniform, seeded from the case name, never zero after rounding
   (a, b, x, res in [-1, 1) * magnitude; z in [-6, 6) to cover both tails
   of silu). Outputs are guarded views (poisoned with NaN, guard bytes
   around); sum_out's guards are checked too, and every input that is not
   also an output must come back unchanged.

   Limits: nmse_limit(dtype) for y and sum_out. The kernels compute in f32
   and round once to the output dtype. For y: the f32 part is the rms_norm
   error analysed in tests/ops/norm.c (<= ~30 * 2^-24 relative) plus, for
   add_rms_norm, one rounding of s = a + b (the normalization of the f32 s
   instead of the exact sum: 2^-24 relative per element), for rms_norm_add
   one add and one scale product (res + n has |res| + |n| in its error
   bound, which NMSE, normalized by sum(y^2), absorbs unless y cancels
   almost everywhere — the inputs are independent, so it does not), for
   rms_norm_gate silu's exp (~1 ulp) and divide: NMSE stays ~1e-12, under
   the f32 limit 1e-10; the single 16-bit rounding is 3.4e-8 (f16) and
   2.2e-6 (bf16): 2^-2p/28 for p = 10 and 7 fraction bits; against limits
   1e-6 and 1e-5. sum_out is round(f32(a + b)):
   two roundings at most, NMSE ~1e-14 (f32), <= 2x the 16-bit figures above.
   No other limit is used.

   Validation cases ("fused_norm/validate/<op>/<rule>"): each rule returns
   the right status, the message starts with "<op>: " and contains the
   offending values, no buffer handed to the call changed (all are filled
   with a byte pattern first) and the device's dispatch counter did not
   move. The valid calls (allowed aliases, no weight, f32 weight, no
   sum_out, scale 0) must succeed with exactly one dispatch. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"
#include "ops/families.h"
#include "ref/ref_fused_norm.h"

typedef enum { OP_ADD, OP_NADD, OP_GATE } fop;
typedef enum { WM_NONE, WM_SAME, WM_F32 } wmode;
/* in-place aliases: which input view an output reuses (-1: its own) */
typedef struct {
    int y, sum;
} alias_t;

typedef struct {
    char name[200];
    fop op;
    mlxn_dtype dt;
    wmode wm;
    int64_t rows, dim;
    int ndim;     /* 1: [dim] (rows 1); 2: [rows, dim]; 3: [2, rows/2, dim] */
    double eps, scale, mag;
    bool sum;     /* add_rms_norm: with sum_out */
    int misalign;
    alias_t al;
} fcase;

static const mlxn_dtype DTYPES[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};
static const char *op_name(fop op) {
    return op == OP_ADD ? "add_rms_norm" : op == OP_NADD ? "rms_norm_add" : "rms_norm_gate";
}
/* names of the two row inputs of each op (in0, in1) */
static const char *in_name(fop op, int k) {
    if (op == OP_ADD) return k == 0 ? "a" : "b";
    if (k == 0) return "x";
    return op == OP_NADD ? "res" : "z";
}
static mlxn_dtype w_dtype(const fcase *c) { return c->wm == WM_F32 ? MLXN_F32 : c->dt; }

static void make_name(fcase *c) {
    char shape[64], sum[16] = "", scale[32] = "", eps[32] = "", mag[24] = "", ip[48] = "";
    snprintf(shape, sizeof shape, "r%lld.d%lld%s", (long long)c->rows, (long long)c->dim,
             c->ndim == 1 ? ".nd1" : c->ndim == 3 ? ".nd3" : "");
    if (c->op == OP_ADD) snprintf(sum, sizeof sum, "/%s", c->sum ? "sum" : "nosum");
    if (c->op == OP_NADD && c->scale != 1.0) snprintf(scale, sizeof scale, "/scale%g", c->scale);
    if (c->eps != 1e-6) snprintf(eps, sizeof eps, "/eps%g", c->eps);
    if (c->mag != 1.0) snprintf(mag, sizeof mag, "/mag%g", c->mag);
    if (c->al.y >= 0 && c->al.sum >= 0)
        snprintf(ip, sizeof ip, "/ip.y=%s.sum=%s", in_name(c->op, c->al.y), in_name(c->op, c->al.sum));
    else if (c->al.y >= 0) snprintf(ip, sizeof ip, "/ip.y=%s", in_name(c->op, c->al.y));
    else if (c->al.sum >= 0) snprintf(ip, sizeof ip, "/ip.sum=%s", in_name(c->op, c->al.sum));
    snprintf(c->name, sizeof c->name, "%s/%s/%s/w.%s%s%s%s%s%s%s", op_name(c->op), mlxn_dtype_name(c->dt), shape,
             c->wm == WM_NONE ? "none" : mlxn_dtype_name(w_dtype(c)), sum, scale, eps, mag,
             c->misalign ? "/mis1" : "", ip);
}

/* A uniform value in [lo, hi) that is nonzero once rounded to dtype t. */
/* w as a buffer; with misalign, a view one element into a larger buffer
   (so the CUDA vector path must notice w's alignment too). */
static void run_case(const test_env *env, report_t *rep, const fcase *c) {
    const int64_t n = c->rows * c->dim;
    int64_t shape[3];
    const int nd = c->ndim;
    if (nd == 1) shape[0] = c->dim;
    else if (nd == 2) { shape[0] = c->rows; shape[1] = c->dim; }
    else { shape[0] = 2; shape[1] = c->rows / 2; shape[2] = c->dim; }
    const size_t nb = sizeof(double) * (size_t)n;

    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    double *in[2] = {malloc(nb), malloc(nb)};
    double *ref = malloc(nb), *ref_sum = malloc(nb), *got = malloc(nb), *back = malloc(nb);
    double *w = malloc(sizeof(double) * (size_t)c->dim);
    guarded_t gin[2] = {{0}, {0}}, gy = {0}, gs = {0};
    mlxn_buffer *wbase = NULL, *wb = NULL;
    mlxn_status s = MLXN_OK;
    if (!in[0] || !in[1] || !ref || !ref_sum || !got || !back || !w) {
        report_case(rep, c->name, false, "host allocation failed");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) in[0][i] = rng_nonzero(&rng, c->dt, -c->mag, c->mag);
    for (int64_t i = 0; i < n; i++) {
        /* add_rms_norm: b of a's magnitude; rms_norm_add: res ~1 whatever
           x's magnitude (the norm is ~1 too); gate: z over silu's range */
        if (c->op == OP_ADD) in[1][i] = rng_nonzero(&rng, c->dt, -c->mag, c->mag);
        else if (c->op == OP_NADD) in[1][i] = rng_nonzero(&rng, c->dt, -1.0, 1.0);
        else in[1][i] = rng_nonzero(&rng, c->dt, -6.0, 6.0);
    }
    /* weights of either sign around 1 (Gemma's 1 + w and plain w alike) */
    for (int64_t i = 0; i < c->dim; i++)
        w[i] = (rng_u64(&rng) & 1 ? -1.0 : 1.0) * rng_nonzero(&rng, w_dtype(c), 0.25, 2.0);

    for (int k = 0; k < 2; k++) {
        if ((s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gin[k]))) goto dev_err;
        if ((s = guarded_fill(&gin[k], in[k]))) goto dev_err;
    }
    if (c->al.y < 0 && (s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gy))) goto dev_err;
    if (c->sum && c->al.sum < 0 && (s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gs))) goto dev_err;
    guarded_t *py = c->al.y >= 0 ? &gin[c->al.y] : &gy;
    guarded_t *ps = !c->sum ? NULL : c->al.sum >= 0 ? &gin[c->al.sum] : &gs;
    if (c->wm != WM_NONE && (s = upload_values_misaligned(env->dev, w_dtype(c), c->dim, w, c->misalign, &wbase, &wb))) goto dev_err;

    const double *wr = wb ? w : NULL;
    if (c->op == OP_ADD) {
        const mlxn_norm_params p = {(float)c->eps};
        s = mlxn_add_rms_norm(env->enc, gin[0].view, gin[1].view, wb, py->view, ps ? ps->view : NULL, &p);
        ref_add_rms_norm(in[0], in[1], wr, ref, ref_sum, c->rows, c->dim, (double)p.eps);
    } else if (c->op == OP_NADD) {
        const mlxn_norm_add_params p = {(float)c->eps, (float)c->scale};
        s = mlxn_rms_norm_add(env->enc, gin[0].view, wb, gin[1].view, py->view, &p);
        ref_rms_norm_add(in[0], wr, in[1], ref, c->rows, c->dim, (double)p.eps, (double)p.scale);
    } else {
        const mlxn_norm_params p = {(float)c->eps};
        s = mlxn_rms_norm_gate(env->enc, gin[0].view, wb, gin[1].view, py->view, &p);
        ref_rms_norm_gate(in[0], wr, in[1], ref, c->rows, c->dim, (double)p.eps);
    }
    if (s == MLXN_OK) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;

    /* inputs that are not outputs: unchanged, guards intact */
    for (int k = 0; k < 2; k++) {
        if (c->al.y == k || (c->sum && c->al.sum == k)) continue;
        bool g_ok = true;
        if ((s = guarded_read(&gin[k], back, &g_ok))) goto dev_err;
        if (!g_ok || memcmp(back, in[k], nb) != 0) {
            report_case(rep, c->name, false, "the input %s (or its guards) was modified", in_name(c->op, k));
            goto done;
        }
    }
    if (ps) {
        bool g_ok = true;
        if ((s = guarded_read(ps, got, &g_ok))) goto dev_err;
        const double e = nmse(got, ref_sum, (size_t)n);
        if (!g_ok || !(e <= nmse_limit(c->dt))) {
            report_case(rep, c->name, false, "sum_out: %s (nmse %.3e, limit %.0e)",
                        g_ok ? "wrong values" : "guard bytes around it were overwritten", e, nmse_limit(c->dt));
            goto done;
        }
    }
    bool guards_ok = true;
    if ((s = guarded_read(py, got, &guards_ok))) goto dev_err;
    check_result(rep, c->name, got, ref, (size_t)n, nmse_limit(c->dt), guards_ok);
    goto done;
dev_err:
    report_case(rep, c->name, false, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    mlxn_buffer_free(wb);
    mlxn_buffer_free(wbase);
    guarded_free(&gin[0]);
    guarded_free(&gin[1]);
    guarded_free(&gy);
    guarded_free(&gs);
    free(in[0]); free(in[1]); free(ref); free(ref_sum); free(got); free(back); free(w);
}

/* ---- differential case lists ------------------------------------------------ */

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} dctx;

static void each(dctx *d, fcase *c) {
    make_name(c);
    if (d->list) { printf("%s\n", c->name); return; }
    if (!report_wants(d->rep, c->name)) return;
    run_case(d->env, d->rep, c);
}

static fcase base_case(fop op, mlxn_dtype dt, wmode wm, int64_t rows, int64_t dim) {
    fcase c;
    memset(&c, 0, sizeof c);
    c.op = op; c.dt = dt; c.wm = wm;
    c.rows = rows; c.dim = dim; c.ndim = 2;
    c.eps = 1e-6; c.scale = 1.0; c.mag = 1.0;
    c.sum = op == OP_ADD;
    c.al.y = c.al.sum = -1;
    return c;
}

static void combo_cases(dctx *d, fop op, mlxn_dtype dt, wmode wm) {
    /* rows, dim, ndim */
    static const int64_t shapes[][3] = {
        {1, 1, 2},    {7, 3, 2},    {1, 64, 1},   {64, 64, 2},  {512, 64, 2}, {33, 257, 2}, {4, 128, 3},
        {3, 1025, 2}, {64, 4096, 2}, {1, 4096, 1}, {2, 8192, 2}, {2, 16896, 2},
    };
    fcase c;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        c = base_case(op, dt, wm, shapes[i][0], shapes[i][1]);
        c.ndim = (int)shapes[i][2];
        each(d, &c);
    }
    /* eps and magnitudes: eps 0.1 and the 1e-3 inputs make eps dominate r */
    static const double ev[][4] = {{3, 4096, 0.0, 1.0}, {3, 4096, 0.1, 1.0}, {3, 4096, 1e-6, 1e3},
                                   {9, 33, 1e-6, 1e-3}, {3, 4096, 1e-6, 1e-3}};
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        c = base_case(op, dt, wm, (int64_t)ev[i][0], (int64_t)ev[i][1]);
        c.eps = ev[i][2]; c.mag = ev[i][3];
        each(d, &c);
    }
    /* misaligned views of every tensor (scalar CUDA paths) */
    static const int64_t mis[][2] = {{64, 4096}, {5, 1025}, {16, 64}, {3, 3}};
    for (size_t i = 0; i < sizeof mis / sizeof mis[0]; i++) {
        c = base_case(op, dt, wm, mis[i][0], mis[i][1]);
        c.misalign = 1;
        each(d, &c);
    }
    /* in place: each allowed exact alias, on a long and a short row */
    static const int64_t ips[][2] = {{8, 4096}, {9, 33}};
    for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++) {
        const alias_t add_al[4] = {{0, -1}, {1, -1}, {-1, 0}, {0, 1}};
        const alias_t one_al[2] = {{0, -1}, {1, -1}};
        const alias_t *al = op == OP_ADD ? add_al : one_al;
        const int nal = op == OP_ADD ? 4 : 2;
        for (int k = 0; k < nal; k++) {
            c = base_case(op, dt, wm, ips[i][0], ips[i][1]);
            c.al = al[k];
            each(d, &c);
        }
    }
    if (op == OP_ADD) { /* without sum_out */
        static const int64_t ns[][2] = {{64, 4096}, {1, 1}, {5, 1025}, {2, 16896}};
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            c = base_case(op, dt, wm, ns[i][0], ns[i][1]);
            c.sum = false;
            each(d, &c);
        }
        c = base_case(op, dt, wm, 64, 4096);
        c.sum = false; c.misalign = 1;
        each(d, &c);
    }
    if (op == OP_NADD) { /* Gemma 4's layer scalar */
        static const double sc[][3] = {{64, 4096, 0.25}, {7, 3, -1.5}, {3, 1025, -1.5}};
        for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
            c = base_case(op, dt, wm, (int64_t)sc[i][0], (int64_t)sc[i][1]);
            c.scale = sc[i][2];
            each(d, &c);
        }
        c = base_case(op, dt, wm, 5, 1025);
        c.scale = 0.25; c.misalign = 1; c.al.y = 1;
        each(d, &c);
    }
}

static void differential_cases(dctx *d) {
    for (int o = 0; o < 3; o++)
        for (int k = 0; k < 3; k++) {
            const mlxn_dtype dt = DTYPES[k];
            combo_cases(d, (fop)o, dt, WM_NONE);
            combo_cases(d, (fop)o, dt, WM_SAME);
            if (dt != MLXN_F32) combo_cases(d, (fop)o, dt, WM_F32);
        }
}

/* ---- validation --------------------------------------------------------------- */


#include "vkit.h"

#define INV MLXN_ERR_INVALID_ARGUMENT
#define UNS MLXN_ERR_UNSUPPORTED

/* Calls op k with the row inputs in0/in1 (a/b, x/res, x/z), w, y, sum_out
   (add_rms_norm only) and eps/scale; params NULL when pnull. */
static mlxn_status call_op(fop k, mlxn_encoder *e, const mlxn_buffer *in0, const mlxn_buffer *in1,
                           const mlxn_buffer *w, mlxn_buffer *y, mlxn_buffer *sum, float eps, float scale, bool pnull) {
    const mlxn_norm_params p = {eps};
    const mlxn_norm_add_params pa = {eps, scale};
    switch (k) {
    case OP_ADD: return mlxn_add_rms_norm(e, in0, in1, w, y, sum, pnull ? NULL : &p);
    case OP_NADD: return mlxn_rms_norm_add(e, in0, w, in1, y, pnull ? NULL : &pa);
    default: return mlxn_rms_norm_gate(e, in0, w, in1, y, pnull ? NULL : &p);
    }
}

static void validation_cases(vctx *v) {
    mlxn_device *dev = v->env->dev;
    mlxn_encoder *enc = v->env->enc;
    const int64_t sh[2] = {4, 128}, shw[1] = {128}, sh_bad[2] = {4, 127}, sh_t[2] = {8, 64}, shw_bad[1] = {100},
                  big[1] = {2048}, sh3[3] = {2, 2, 128};
    const float eps = 1e-6f;
    char name[256];
    uint64_t d0 = 0;

    for (int ki = 0; ki < 3; ki++) {
        const fop k = (fop)ki;
        const char *op = op_name(k);
        const char *n0 = in_name(k, 0), *n1 = in_name(k, 1);
        char m0[64], m1[64], tmp[128], tmp2[64];
#define NAME(rule) (snprintf(name, sizeof name, "fused_norm/validate/%s/%s", op, rule), name)
/* a fresh set: in0 f32 [4,128] (0x3C), in1 f32 [4,128] (0x4D), w f32 [128]
   (0x3E), y f32 [4,128] (0x5A), sum_out (add_rms_norm) f32 [4,128] (0x6B) */
#define STD_SET(s, i0, i1, w, y, sm)                                                    \
        vset s = {.setup_ok = true};                                                    \
        mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);                       \
        mlxn_buffer *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);                       \
        mlxn_buffer *w = vs_new(&s, dev, MLXN_F32, 1, shw, 0x3E);                       \
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);                        \
        mlxn_buffer *sm = k == OP_ADD ? vs_new(&s, dev, MLXN_F32, 2, sh, 0x6B) : NULL;  \
        d0 = dispatches(dev)

        VCASE(v, NAME("null_encoder")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, NULL, i0, i1, w, y, sm, eps, 1, false), INV, op, "encoder is NULL",
                   NULL);
        }
        snprintf(m0, sizeof m0, "%s is NULL", n0);
        snprintf(m1, sizeof m1, "%s is NULL", n1);
        VCASE(v, (snprintf(tmp, sizeof tmp, "null_%s", n0), NAME(tmp))) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)i0;
            vcheck(v, name, &s, d0, call_op(k, enc, NULL, i1, w, y, sm, eps, 1, false), INV, op, m0, NULL);
        }
        VCASE(v, (snprintf(tmp, sizeof tmp, "null_%s", n1), NAME(tmp))) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)i1;
            vcheck(v, name, &s, d0, call_op(k, enc, i0, NULL, w, y, sm, eps, 1, false), INV, op, m1, NULL);
        }
        VCASE(v, NAME("null_y")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)y;
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, NULL, sm, eps, 1, false), INV, op, "y is NULL", NULL);
        }
        VCASE(v, NAME("null_params")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, eps, 1, true), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME("eps_nan")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, NAN, 1, false), INV, op, "eps (nan)", NULL);
        }
        VCASE(v, NAME("eps_inf")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, INFINITY, 1, false), INV, op, "eps (inf)",
                   NULL);
        }
        VCASE(v, NAME("eps_negative")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, -0.5f, 1, false), INV, op, "eps (-0.5)", NULL);
        }
        VCASE(v, NAME("dtype_i32")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_I32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_I32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_I32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s dtype i32", n0);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), UNS, op, tmp, NULL);
        }
        VCASE(v, NAME("y_dtype")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s dtype (f32)", n0);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, "y dtype (f16)",
                   tmp, NULL);
        }
        VCASE(v, (snprintf(tmp2, sizeof tmp2, "%s_dtype", n1), NAME(tmp2))) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s dtype (f32) must equal %s dtype (bf16)", n1, n0);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME("y_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh_bad, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op,
                   "y has 508 elements", "512", NULL);
        }
        VCASE(v, (snprintf(tmp2, sizeof tmp2, "%s_numel", n1), NAME(tmp2))) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh_bad, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s has 508 elements, %s has 512", n1, n0);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, tmp, NULL);
        }
        VCASE(v, (snprintf(tmp2, sizeof tmp2, "%s_last_dim", n1), NAME(tmp2))) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh_t, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s last dimension (64) must equal %s's (128)", n1, n0);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME("y_last_dim")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh_t, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op,
                   "y last dimension (64)", "(128)", NULL);
        }
        VCASE(v, (snprintf(tmp2, sizeof tmp2, "%s_scalar", n0), NAME(tmp2))) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 0, NULL, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 0, NULL, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 0, NULL, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, "ndim 0", NULL);
        }
        VCASE(v, (snprintf(tmp2, sizeof tmp2, "%s_other_device", n1), NAME(tmp2))) {
            vset s = {.setup_ok = v->other != NULL};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *i1 = v->other ? vs_new(&s, v->other, MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s lives on device", n1);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false), INV, op, tmp, NULL);
        }
        for (int which = 0; which < 2; which++) {
            const char *nn = which ? n1 : n0;
            VCASE(v, (snprintf(tmp2, sizeof tmp2, "y_partial_overlap_%s", nn), NAME(tmp2))) {
                vset s = {.setup_ok = true};
                mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
                mlxn_buffer *other = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
                mlxn_buffer *in = vs_view(&s, b, 0, MLXN_F32, 2, sh), *y = vs_view(&s, b, 4, MLXN_F32, 2, sh);
                d0 = dispatches(dev);
                snprintf(tmp, sizeof tmp, "y (bytes 4..2052) partially overlaps %s (bytes 0..2048)", nn);
                vcheck(v, name, &s, d0,
                       call_op(k, enc, which ? other : in, which ? in : other, NULL, y, NULL, eps, 1, false), INV, op,
                       tmp, NULL);
            }
            VCASE(v, (snprintf(tmp2, sizeof tmp2, "inplace_y_is_%s_ok", nn), NAME(tmp2))) {
                vset s = {.setup_ok = true};
                mlxn_buffer *in = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
                mlxn_buffer *other = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
                d0 = dispatches(dev);
                vcheck_ok(v, name, &s, d0,
                          call_op(k, enc, which ? other : in, which ? in : other, NULL, in, NULL, eps, 1, false));
            }
        }
        VCASE(v, NAME("w_numel")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)w;
            mlxn_buffer *wb = vs_new(&s, dev, MLXN_F32, 1, shw_bad, 0x7E);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, wb, y, sm, eps, 1, false), INV, op,
                   "w has 100 elements, expected dim (128)", NULL);
        }
        VCASE(v, NAME("w_dtype_f16_for_bf16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x4D);
            mlxn_buffer *w = vs_new(&s, dev, MLXN_F16, 1, shw, 0x3E), *y = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false), INV, op, "w dtype (f16)",
                   "(bf16) or f32", NULL);
        }
        VCASE(v, NAME("w_dtype_i32")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *w = vs_new(&s, dev, MLXN_I32, 1, shw, 0x3E), *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false), INV, op, "w dtype (i32)",
                   NULL);
        }
        VCASE(v, NAME("w_other_device")) {
            vset s = {.setup_ok = v->other != NULL};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *w = v->other ? vs_new(&s, v->other, MLXN_F32, 1, shw, 0x3E) : NULL;
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false), INV, op, "w lives on device",
                   NULL);
        }
        VCASE(v, NAME("y_overlaps_w")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x5A);
            mlxn_buffer *w = vs_view(&s, b, 0, MLXN_F32, 1, shw), *y = vs_view(&s, b, 256, MLXN_F32, 2, sh);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false), INV, op,
                   "y (bytes 256..2304) overlaps w (bytes 0..512)", NULL);
        }
        VCASE(v, NAME("w_in_input_ok")) { /* w read from an input's storage: only outputs must be disjoint */
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *i0 = vs_view(&s, b, 0, MLXN_F32, 2, sh), *w = vs_view(&s, b, 0, MLXN_F32, 1, shw);
            mlxn_buffer *i1 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D), *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false));
        }
        VCASE(v, NAME("same_input_twice_ok")) { /* in0 == in1: inputs may alias each other */
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, i0, i0, NULL, y, NULL, eps, 1, false));
        }
        VCASE(v, NAME("w_f32_for_f16_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3C), *i1 = vs_new(&s, dev, MLXN_F16, 2, sh, 0x4D);
            mlxn_buffer *w = vs_new(&s, dev, MLXN_F32, 1, shw, 0x3E), *y = vs_new(&s, dev, MLXN_F16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, NULL, eps, 1, false));
        }
        VCASE(v, NAME("no_weight_3d_ok")) { /* different leading shapes, same numel and last dim */
            vset s = {.setup_ok = true};
            mlxn_buffer *i0 = vs_new(&s, dev, MLXN_BF16, 3, sh3, 0x3C), *i1 = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, i0, i1, NULL, y, NULL, eps, 1, false));
        }
    }

    /* add_rms_norm: sum_out rules */
    {
        const fop k = OP_ADD;
        const char *op = "add_rms_norm";
        VCASE(v, NAME("sum_out_dtype")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)sm;
            mlxn_buffer *sb = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x7B);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sb, eps, 1, false), INV, op,
                   "sum_out dtype (bf16) must equal a dtype (f32)", NULL);
        }
        VCASE(v, NAME("sum_out_numel")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)sm;
            mlxn_buffer *sb = vs_new(&s, dev, MLXN_F32, 2, sh_bad, 0x7B);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sb, eps, 1, false), INV, op,
                   "sum_out has 508 elements, a has 512", NULL);
        }
        VCASE(v, NAME("sum_out_last_dim")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)sm;
            mlxn_buffer *sb = vs_new(&s, dev, MLXN_F32, 2, sh_t, 0x7B);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sb, eps, 1, false), INV, op,
                   "sum_out last dimension (64) must equal a's (128)", NULL);
        }
        VCASE(v, NAME("sum_out_other_device")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)sm;
            mlxn_buffer *sb = v->other ? vs_new(&s, v->other, MLXN_F32, 2, sh, 0x7B) : NULL;
            if (!v->other) s.setup_ok = false;
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sb, eps, 1, false), INV, op,
                   "sum_out lives on device", NULL);
        }
        VCASE(v, NAME("sum_out_partial_overlap_b")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *bb = vs_new(&s, dev, MLXN_F32, 1, big, 0x4D);
            mlxn_buffer *a = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            mlxn_buffer *b = vs_view(&s, bb, 8, MLXN_F32, 2, sh), *sb = vs_view(&s, bb, 0, MLXN_F32, 2, sh);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, a, b, NULL, y, sb, eps, 1, false), INV, op,
                   "sum_out (bytes 0..2048) partially overlaps b (bytes 8..2056)", NULL);
        }
        VCASE(v, NAME("sum_out_is_y")) {
            STD_SET(s, i0, i1, w, y, sm);
            (void)sm;
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, y, eps, 1, false), INV, op,
                   "sum_out (bytes 0..2048) overlaps y (bytes 0..2048)", NULL);
        }
        VCASE(v, NAME("sum_out_overlaps_w")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *a = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *b = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A), *bb = vs_new(&s, dev, MLXN_F32, 1, big, 0x6B);
            mlxn_buffer *w = vs_view(&s, bb, 1024, MLXN_F32, 1, shw), *sb = vs_view(&s, bb, 0, MLXN_F32, 2, sh);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, a, b, w, y, sb, eps, 1, false), INV, op,
                   "sum_out (bytes 0..2048) overlaps w (bytes 1024..1536)", NULL);
        }
        VCASE(v, NAME("sum_out_is_a_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *a = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *b = vs_new(&s, dev, MLXN_F32, 2, sh, 0x4D);
            mlxn_buffer *w = vs_new(&s, dev, MLXN_F32, 1, shw, 0x3E), *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, a, b, w, y, a, eps, 1, false));
        }
        VCASE(v, NAME("y_is_a_sum_out_is_b_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *a = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3C), *b = vs_new(&s, dev, MLXN_F16, 2, sh, 0x4D);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, a, b, NULL, a, b, eps, 1, false));
        }
    }
    /* rms_norm_add: scale */
    {
        const fop k = OP_NADD;
        const char *op = "rms_norm_add";
        VCASE(v, NAME("scale_nan")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, eps, NAN, false), INV, op,
                   "scale (nan) must be finite", NULL);
        }
        VCASE(v, NAME("scale_inf")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, eps, -INFINITY, false), INV, op,
                   "scale (-inf) must be finite", NULL);
        }
        VCASE(v, NAME("scale_zero_ok")) {
            STD_SET(s, i0, i1, w, y, sm);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, i0, i1, w, y, sm, eps, 0.0f, false));
        }
    }
#undef NAME
#undef STD_SET
}

void fused_norm_suite(const test_env *env, report_t *rep, bool list) {
    dctx d = {env, rep, list};
    differential_cases(&d);
    vctx v = {env, rep, list, NULL};
    if (!list && mlxn_device_open(MLXN_BACKEND_CPU, 0, &v.other) != MLXN_OK) v.other = NULL;
    validation_cases(&v);
    mlxn_device_close(v.other);
}
