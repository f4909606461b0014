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

static void fn2_differential(dctx *d);
static void fn2_validation(vctx *v);

void fused_norm_suite(const test_env *env, report_t *rep, bool list) {
    dctx d = {env, rep, list};
    differential_cases(&d);
    fn2_differential(&d);
    vctx v = {env, rep, list, NULL};
    if (!list && mlxn_device_open(MLXN_BACKEND_CPU, 0, &v.other) != MLXN_OK) v.other = NULL;
    validation_cases(&v);
    fn2_validation(&v);
    mlxn_device_close(v.other);
}

/* ==== [fused_norm2] rms_norm_mul, add_rms_norm_mul, rms_norm_add_mul,
   triple_norm, post_attn_triple_norm, moe_wsum_norm_add, moe_wsum_dnorm_add,
   head_norm_rope ==============================================================

   Differential cases ("<op>/<dtype>/<shape>/w.<none|dtype>[/m.<full|col|scalar>.<dtype>]
   [/sum][/res][/R<rope_dim>][/ff][/co.<dtype>[.perm]][/u32][/pos<max>][/eps<e>]
   [/mag<m>][/mis1][/ip.<out>=<in>][/nan][/comp]"): every op x f32/f16/bf16 x
   weight none / row dtype / f32 (triple norms: the row dtype or f32, w3 is
   required) over rows of 1, 3, 64, 257, 1025, 4096 and 16896 elements (dim 1,
   dims that are no multiple of any vector width, both sides of the CUDA
   warp/block split at 1024, and rows longer than the CUDA kernels keep in
   registers, so their re-read path runs: 16896 on the scalar path via a
   misaligned view, 40000 on the vector path); the three multiplier forms; every
   allowed exact in-place alias; misaligned views of every tensor; eps 0 and
   0.1; magnitudes 1e3 / 1e-3; a NaN in one input element (its row — for
   head_norm_rope its head row — must come out all NaN and nothing else may
   change: the reference propagates it, and the NaN positions must match
   exactly). head_norm_rope: one token [H, D] and batches [S, H, D], head_dim
   2..8192, partial rotary (rope_dim < head_dim, 0 = norm only), freq
   factors, i32/u32 positions up to 10^6, the co-output in every float dtype,
   natural and permuted [H, S, D]; when y is f32 the co-output must be exactly
   y rounded to its dtype, when the co-output is f32 y must be exactly it
   rounded to y's dtype (one f32 value, rounded once per output).
   head_norm_rope is also checked against the composition the header names:
   the float64 reference against ref_rope (NEOX, n_dims = head_dim, freq
   factors padded with +inf) applied to the float64 per-head rms norm (NMSE
   < 1e-24: the same math), and, for f32/f16 (".../comp"), against mlxn_rms_norm
   followed by mlxn_rope on the device (nmse_limit of the dtype; bf16 is left
   out because the composition rounds twice, ~2 u^2/3 = 1e-5, the limit).

   Limits: nmse_limit(dtype) for every output (see the analysis at the top of
   this file: f32 arithmetic and one rounding per output; the MoE sum adds K
   f32 products and adds, the rotation two products and an add, all far below
   the f32 limit). Inputs uniform in [-1, 1) * magnitude (res and dense ~1,
   routing weights wk in [0.05, 1), weights +-[0.25, 2), multipliers
   +-[0.25, 2)), seeded from the case name, never zero. */

#include "ref/ref_norm.h"
#include "ref/ref_rope.h"

typedef enum { F2_MUL, F2_ADDMUL, F2_NADDMUL, F2_TRI, F2_PTRI, F2_MOE, F2_MOED, F2_HNR } f2op;
static const char *f2_name(f2op o) {
    static const char *const n[] = {"rms_norm_mul",       "add_rms_norm_mul",  "rms_norm_add_mul",  "triple_norm",
                                    "post_attn_triple_norm", "moe_wsum_norm_add", "moe_wsum_dnorm_add", "head_norm_rope"};
    return n[o];
}

typedef struct {
    char name[240];
    f2op op;
    mlxn_dtype dt;
    wmode wm;
    int mform;    /* multiplier form: 0 full, 1 column, 2 scalar          */
    bool mf32;    /* column/scalar multiplier in f32                       */
    int64_t rows, dim, K;
    int64_t S, H, R;
    int ndim;     /* row tensors [rows, dim] (2) or [2, rows/2, dim] (3); HNR: 2 = [H, D], 3 = [S, H, D] */
    bool res;     /* MoE: with res; add_rms_norm_mul: with sum_out         */
    bool ff, co, perm, pos_u, comp, nan;
    mlxn_dtype codt;
    double eps, mag, base, pos_max;
    int misalign;
    int alias;    /* op-specific, see f2_alias_name                        */
} f2case;

static const char *f2_alias_name(const f2case *c) {
    switch (c->op) {
    case F2_MUL: return c->alias == 1 ? "y=x" : "y=m";
    case F2_ADDMUL: return c->alias == 1 ? "y=a" : c->alias == 2 ? "y=b.sum=a" : "y=m";
    case F2_NADDMUL: return c->alias == 1 ? "y=x" : c->alias == 2 ? "y=res" : "y=m";
    case F2_TRI: return "y0=x";
    case F2_PTRI: return c->alias == 1 ? "res=h" : "res=h.y1=attn";
    case F2_MOE: return "y=res";
    case F2_MOED: return c->alias == 1 ? "y=res" : "y=dense";
    default: return "y=x";
    }
}

static void f2_make_name(f2case *c) {
    char shape[80], w[40], m[40] = "", x[160] = "";
    if (c->op == F2_HNR)
        snprintf(shape, sizeof shape, "s%lld.h%lld.d%lld%s", (long long)c->S, (long long)c->H, (long long)c->dim,
                 c->ndim == 2 ? ".one" : "");
    else if (c->op == F2_MOE || c->op == F2_MOED)
        snprintf(shape, sizeof shape, "t%lld.k%lld.d%lld", (long long)c->rows, (long long)c->K, (long long)c->dim);
    else
        snprintf(shape, sizeof shape, "r%lld.d%lld%s", (long long)c->rows, (long long)c->dim,
                 c->ndim == 3 ? ".nd3" : "");
    snprintf(w, sizeof w, "w.%s", c->wm == WM_NONE ? "none" : c->wm == WM_F32 ? "f32" : mlxn_dtype_name(c->dt));
    if (c->op <= F2_NADDMUL)
        snprintf(m, sizeof m, "/m.%s.%s", c->mform == 0 ? "full" : c->mform == 1 ? "col" : "scalar",
                 c->mform != 0 && c->mf32 ? "f32" : mlxn_dtype_name(c->dt));
    size_t k = 0;
#define ADDX(...) k += (size_t)snprintf(x + k, k < sizeof x ? sizeof x - k : 0, __VA_ARGS__)
    if (c->res && c->op == F2_ADDMUL) ADDX("/sum");
    if (c->res && (c->op == F2_MOE || c->op == F2_MOED)) ADDX("/res");
    if (c->op == F2_HNR) {
        ADDX("/R%lld", (long long)c->R);
        if (c->ff) ADDX("/ff");
        if (c->co) ADDX("/co.%s%s", mlxn_dtype_name(c->codt), c->perm ? ".perm" : "");
        if (c->pos_u) ADDX("/u32");
        ADDX("/pos%g", c->pos_max);
        if (c->base != 10000.0) ADDX("/base%g", c->base);
    }
    if (c->eps != 1e-6) ADDX("/eps%g", c->eps);
    if (c->mag != 1.0) ADDX("/mag%g", c->mag);
    if (c->misalign) ADDX("/mis1");
    if (c->alias) ADDX("/ip.%s", f2_alias_name(c));
    if (c->nan) ADDX("/nan");
    if (c->comp) ADDX("/comp");
#undef ADDX
    snprintf(c->name, sizeof c->name, "%s/%s/%s/%s%s%s", f2_name(c->op), mlxn_dtype_name(c->dt), shape, w, m, x);
}

/* NaN-aware comparison: every NaN of ref must be NaN in got (and only
   there); the rest through NMSE. Returns the NMSE (inf on a NaN mismatch). */
static double f2_err(const double *got, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(ref[i]) || isnan(got[i])) {
            if (isnan(ref[i]) != isnan(got[i])) return INFINITY;
            continue;
        }
        if (!isfinite(got[i])) return INFINITY;
        const double d = got[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return num / den;
}

/* nmse_limit assumes many elements (mean squared rounding error ~u^2/3);
   a handful can all round by nearly u (bf16: u^2 = 1.5e-5 > 1e-5), so
   outputs of fewer than 64 elements get u^2 (+10% for the f32 arithmetic
   before the rounding), as tests/ops/elementwise.c. */
static double f2_limit(mlxn_dtype t, int64_t n) {
    double lim = nmse_limit(t);
    const double u = t == MLXN_BF16 ? 0x1p-8 : t == MLXN_F16 ? 0x1p-11 : 0x1p-24;
    if (n < 64 && lim < 1.1 * u * u) lim = 1.1 * u * u;
    return lim;
}

static bool same_values(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return false;
    return true;
}

#define F2_IN 4
#define F2_OUT 4

/* One case: row inputs in[k] (guarded views), outputs out[k] (guarded, or
   an input view when aliased), weights, multiplier, positions. */
static void f2_run(const test_env *env, report_t *rep, const f2case *c) {
    const bool hnr = c->op == F2_HNR, moe = c->op == F2_MOE || c->op == F2_MOED;
    const int64_t dim = c->dim;
    const int64_t rows = hnr ? c->S * c->H : c->rows;
    const int64_t n = rows * dim;
    int n_in = 0, n_out = 0;
    int64_t in_n[F2_IN] = {0};
    const char *in_nm[F2_IN] = {0}, *out_nm[F2_OUT] = {0};
    double *in[F2_IN] = {0}, *ref[F2_OUT] = {0}, *got = NULL, *back = NULL, *wv[3] = {0}, *mv = NULL, *ffv = NULL;
    int64_t *pos = NULL;
    double *wkv = NULL, *outs_got[F2_OUT] = {0};
    mlxn_buffer *wkb = NULL, *wkbase = NULL;
    guarded_t gin[F2_IN], gout[F2_OUT], gm;
    memset(gin, 0, sizeof gin);
    memset(gout, 0, sizeof gout);
    memset(&gm, 0, sizeof gm);
    mlxn_buffer *wbase[3] = {0}, *wb[3] = {0}, *mbase = NULL, *mb = NULL, *pb = NULL, *ffb = NULL;
    guarded_t *po[F2_OUT] = {0};
    int out_alias[F2_OUT] = {-1, -1, -1, -1}; /* which input an output is (-1: its own) */
    mlxn_status s = MLXN_OK;
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));

    /* ---- the row inputs and outputs of each op ---- */
    switch (c->op) {
    case F2_MUL: n_in = 1; in_nm[0] = "x"; n_out = 1; out_nm[0] = "y"; break;
    case F2_ADDMUL: n_in = 2; in_nm[0] = "a"; in_nm[1] = "b"; n_out = c->res ? 2 : 1; out_nm[0] = "y"; out_nm[1] = "sum_out"; break;
    case F2_NADDMUL: n_in = 2; in_nm[0] = "x"; in_nm[1] = "res"; n_out = 1; out_nm[0] = "y"; break;
    case F2_TRI: n_in = 1; in_nm[0] = "x"; n_out = 3; out_nm[0] = "y0"; out_nm[1] = "y1"; out_nm[2] = "y2"; break;
    case F2_PTRI:
        n_in = 2; in_nm[0] = "h"; in_nm[1] = "attn";
        n_out = 4; out_nm[0] = "res"; out_nm[1] = "y0"; out_nm[2] = "y1"; out_nm[3] = "y2";
        break;
    case F2_MOE: case F2_MOED:
        n_in = 2; in_nm[0] = "ys"; in_nm[1] = "res";
        if (c->op == F2_MOED) { n_in = 3; in_nm[2] = "dense"; }
        n_out = 1; out_nm[0] = "y";
        break;
    default: n_in = 1; in_nm[0] = "x"; n_out = c->co ? 2 : 1; out_nm[0] = "y"; out_nm[1] = "y_co"; break;
    }
    for (int k = 0; k < n_in; k++) in_n[k] = n;
    if (moe) in_n[0] = rows * c->K * dim;
    const size_t nb = sizeof(double) * (size_t)n;
    for (int k = 0; k < n_in; k++)
        if (!(in[k] = malloc(sizeof(double) * (size_t)in_n[k]))) goto oom;
    for (int k = 0; k < n_out; k++)
        if (!(ref[k] = malloc(nb))) goto oom;
    if (!(got = malloc(nb)) || !(back = malloc(sizeof(double) * (size_t)(moe ? in_n[0] : n)))) goto oom;

    /* ---- values ---- */
    for (int k = 0; k < n_in; k++) {
        const bool unit = (c->op == F2_NADDMUL && k == 1) || (moe && k > 0) || (c->op == F2_PTRI && k == 0);
        const double mg = unit ? 1.0 : c->mag;
        for (int64_t i = 0; i < in_n[k]; i++) in[k][i] = rng_nonzero(&rng, c->dt, -mg, mg);
    }
    if (c->nan) in[0][(rows > 1 ? dim : 0) + dim / 2] = NAN; /* row 1 (or 0) */
    const int n_w = c->op == F2_TRI ? 1 : c->op == F2_PTRI ? 2 : c->op == F2_MOED ? 2 : 1;
    const mlxn_dtype wdt = c->wm == WM_F32 ? MLXN_F32 : c->dt;
    for (int j = 0; j < n_w; j++) {
        const bool w3 = (c->op == F2_TRI && j == 0) || (c->op == F2_PTRI && j == 1);
        const int64_t wn = w3 ? 3 * dim : dim;
        if (c->wm == WM_NONE && !(c->op == F2_TRI || c->op == F2_PTRI)) continue;
        if (!(wv[j] = malloc(sizeof(double) * (size_t)wn))) goto oom;
        for (int64_t i = 0; i < wn; i++)
            wv[j][i] = (rng_u64(&rng) & 1 ? -1.0 : 1.0) * rng_nonzero(&rng, wdt, 0.25, 2.0);
    }
    mlxn_dtype mdt = c->dt;
    int64_t mn = 0;
    if (c->op <= F2_NADDMUL) {
        mdt = c->mform != 0 && c->mf32 ? MLXN_F32 : c->dt;
        mn = c->mform == 0 ? n : c->mform == 1 ? dim : 1;
        if (!(mv = malloc(sizeof(double) * (size_t)mn))) goto oom;
        for (int64_t i = 0; i < mn; i++) mv[i] = (rng_u64(&rng) & 1 ? -1.0 : 1.0) * rng_nonzero(&rng, mdt, 0.25, 2.0);
    }
    if (moe) {
        if (!(wkv = malloc(sizeof(double) * (size_t)(rows * c->K)))) goto oom;
        for (int64_t i = 0; i < rows * c->K; i++) wkv[i] = rng_nonzero(&rng, MLXN_F32, 0.05, 1.0);
    }
    if (hnr) {
        if (!(pos = malloc(sizeof(int64_t) * (size_t)c->S)) || !(ffv = malloc(sizeof(double) * (size_t)(dim / 2 + 1))))
            goto oom;
        for (int64_t i = 0; i < c->S; i++) pos[i] = rng_int(&rng, 0, (int64_t)c->pos_max);
        for (int64_t i = 0; i < dim / 2 + 1; i++) ffv[i] = rng_nonzero(&rng, MLXN_F32, 0.5, 4.0);
    }

    /* ---- device buffers ---- */
    int64_t shape[3];
    int nd = c->ndim;
    if (hnr) {
        if (nd == 2) { shape[0] = c->H; shape[1] = dim; }
        else { shape[0] = c->S; shape[1] = c->H; shape[2] = dim; }
    } else if (nd == 3) { shape[0] = 2; shape[1] = rows / 2; shape[2] = dim; }
    else { nd = 2; shape[0] = rows; shape[1] = dim; }
    for (int k = 0; k < n_in; k++) {
        if (moe && k == 0) {
            const int64_t ysh[3] = {rows, c->K, dim};
            if ((s = guarded_new(env->dev, c->dt, 3, ysh, c->misalign, &gin[0]))) goto dev_err;
        } else if (moe && k == 1 && !c->res) {
            continue;
        } else if ((s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gin[k]))) goto dev_err;
        if ((s = guarded_fill(&gin[k], in[k]))) goto dev_err;
    }
    /* aliases: output index -> input index */
    switch (c->op) {
    case F2_MUL: if (c->alias == 1) out_alias[0] = 0; break;
    case F2_ADDMUL: if (c->alias == 1) out_alias[0] = 0; if (c->alias == 2) { out_alias[0] = 1; out_alias[1] = 0; } break;
    case F2_NADDMUL: if (c->alias) out_alias[0] = c->alias == 1 ? 0 : c->alias == 2 ? 1 : -1; break;
    case F2_TRI: if (c->alias) out_alias[0] = 0; break;
    case F2_PTRI: if (c->alias) out_alias[0] = 0; if (c->alias == 2) out_alias[2] = 1; break;
    case F2_MOE: if (c->alias) out_alias[0] = 1; break;
    case F2_MOED: if (c->alias) out_alias[0] = c->alias == 1 ? 1 : 2; break;
    default: if (c->alias) out_alias[0] = 0; break;
    }
    const bool m_alias = c->op <= F2_NADDMUL && c->alias == 3; /* y is the full m */
    for (int k = 0; k < n_out; k++) {
        if (out_alias[k] >= 0) { po[k] = &gin[out_alias[k]]; continue; }
        if (m_alias && k == 0) continue; /* set below */
        const mlxn_dtype odt = hnr && k == 1 ? c->codt : c->dt;
        if (hnr && k == 1) {
            const int64_t csh[1] = {n};
            if ((s = guarded_new(env->dev, odt, 1, csh, c->misalign, &gout[k]))) goto dev_err;
        } else if ((s = guarded_new(env->dev, odt, nd, shape, c->misalign, &gout[k]))) goto dev_err;
        po[k] = &gout[k];
    }
    for (int j = 0; j < n_w; j++) {
        if (!wv[j]) continue;
        const bool w3 = (c->op == F2_TRI && j == 0) || (c->op == F2_PTRI && j == 1);
        if ((s = upload_values_misaligned(env->dev, wdt, w3 ? 3 * dim : dim, wv[j], c->misalign, &wbase[j], &wb[j])))
            goto dev_err;
    }
    if (mv) {
        if (c->mform == 0) {
            if ((s = guarded_new(env->dev, mdt, nd, shape, c->misalign, &gm))) goto dev_err;
            if ((s = guarded_fill(&gm, mv))) goto dev_err;
            mb = gm.view;
            if (m_alias) po[0] = &gm;
        } else if ((s = upload_values_misaligned(env->dev, mdt, mn, mv, c->misalign, &mbase, &mb))) goto dev_err;
    }
    if (moe) {
        const int64_t wsh[2] = {rows, c->K};
        if ((s = upload_values_misaligned(env->dev, MLXN_F32, rows * c->K, wkv, c->misalign, &wkbase, &wkb))) goto dev_err;
        mlxn_buffer *v2 = NULL; /* the 1-D view as [T, K] */
        if ((s = mlxn_buffer_view(wkbase, (size_t)c->misalign * 4, MLXN_F32, 2, wsh, &v2))) goto dev_err;
        mlxn_buffer_free(wkb);
        wkb = v2;
    }
    if (hnr) {
        const int64_t psh[1] = {c->S};
        if ((s = mlxn_buffer_new(env->dev, c->pos_u ? MLXN_U32 : MLXN_I32, 1, psh, &pb))) goto dev_err;
        int32_t *ph = malloc(sizeof(int32_t) * (size_t)c->S);
        if (!ph) goto oom;
        for (int64_t i = 0; i < c->S; i++) ph[i] = (int32_t)pos[i];
        s = mlxn_buffer_write(pb, ph, sizeof(int32_t) * (size_t)c->S);
        free(ph);
        if (s) goto dev_err;
        if (c->ff) {
            mlxn_buffer *ffbase = NULL;
            if ((s = upload_values_misaligned(env->dev, MLXN_F32, dim / 2 + 1, ffv, c->misalign, &ffbase, &ffb)))
                goto dev_err;
            mlxn_buffer_free(ffbase); /* the view keeps the storage */
        }
    }

    /* ---- run and reference ---- */
    {
        const mlxn_norm_params np = {(float)c->eps};
        const double eps = (double)np.eps;
        const double *w0 = wv[0];
        switch (c->op) {
        case F2_MUL:
            s = mlxn_rms_norm_mul(env->enc, gin[0].view, wb[0], mb, po[0]->view, &np);
            ref_rms_norm_mul(0, in[0], NULL, w0, mv, c->mform, ref[0], NULL, rows, dim, eps);
            break;
        case F2_ADDMUL:
            s = mlxn_add_rms_norm_mul(env->enc, gin[0].view, gin[1].view, wb[0], mb, po[0]->view,
                                      c->res ? po[1]->view : NULL, &np);
            ref_rms_norm_mul(1, in[0], in[1], w0, mv, c->mform, ref[0], c->res ? ref[1] : NULL, rows, dim, eps);
            break;
        case F2_NADDMUL:
            s = mlxn_rms_norm_add_mul(env->enc, gin[0].view, wb[0], gin[1].view, mb, po[0]->view, &np);
            ref_rms_norm_mul(2, in[0], in[1], w0, mv, c->mform, ref[0], NULL, rows, dim, eps);
            break;
        case F2_TRI:
            s = mlxn_triple_norm(env->enc, gin[0].view, wb[0], po[0]->view, po[1]->view, po[2]->view, &np);
            ref_triple_norm(in[0], NULL, NULL, wv[0], NULL, ref[0], ref[1], ref[2], rows, dim, eps);
            break;
        case F2_PTRI:
            s = mlxn_post_attn_triple_norm(env->enc, gin[0].view, gin[1].view, wb[0], wb[1], po[0]->view, po[1]->view,
                                           po[2]->view, po[3]->view, &np);
            ref_triple_norm(in[0], in[1], wv[0], wv[1], ref[0], ref[1], ref[2], ref[3], rows, dim, eps);
            break;
        case F2_MOE:
        case F2_MOED: {
            const bool dn = c->op == F2_MOED;
            const mlxn_buffer *resb = c->res ? gin[1].view : NULL;
            if (dn)
                s = mlxn_moe_wsum_dnorm_add(env->enc, gin[0].view, wkb, gin[2].view, wb[1], resb, wb[0], po[0]->view,
                                            &np);
            else
                s = mlxn_moe_wsum_norm_add(env->enc, gin[0].view, wkb, resb, wb[0], po[0]->view, &np);
            ref_moe_wsum_norm(in[0], wkv, c->res ? in[1] : NULL, wv[0], dn ? in[2] : NULL, dn ? wv[1] : NULL, ref[0],
                              rows, c->K, dim, eps);
            break;
        }
        default: {
            const mlxn_head_norm_rope_params hp = {(uint32_t)dim, (uint32_t)c->R, (float)c->eps, (float)c->base,
                                                   c->perm ? 1 : 0};
            s = mlxn_head_norm_rope(env->enc, gin[0].view, wb[0], pb, ffb, po[0]->view, c->co ? po[1]->view : NULL,
                                    &hp);
            ref_head_norm_rope(in[0], w0, pos, c->ff ? ffv : NULL, ref[0], c->S, c->H, dim, c->R, eps,
                               (double)hp.freq_base);
            if (c->co) {
                for (int64_t sidx = 0; sidx < c->S; sidx++)
                    for (int64_t h = 0; h < c->H; h++) {
                        const int64_t src = (sidx * c->H + h) * dim, dst = c->perm ? (h * c->S + sidx) * dim : src;
                        memcpy(ref[1] + dst, ref[0] + src, sizeof(double) * (size_t)dim);
                    }
            }
            break;
        }
        }
    }
    if (s == MLXN_OK) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;

    /* ---- checks ---- */
    for (int k = 0; k < n_in; k++) {
        if (!gin[k].view) continue;
        bool aliased = false;
        for (int j = 0; j < n_out; j++) aliased |= out_alias[j] == k;
        if (aliased) continue;
        bool g_ok = true;
        if ((s = guarded_read(&gin[k], back, &g_ok))) goto dev_err;
        if (!g_ok || !same_values(back, in[k], (size_t)in_n[k])) {
            report_case(rep, c->name, false, "the input %s (or its guards) was modified", in_nm[k]);
            goto done;
        }
    }
    double worst = 0.0;
    for (int k = 0; k < n_out; k++) {
        const mlxn_dtype odt = hnr && k == 1 ? c->codt : c->dt;
        bool g_ok = true;
        if (!(outs_got[k] = malloc(nb))) goto oom;
        if ((s = guarded_read(po[k], outs_got[k], &g_ok))) goto dev_err;
        const double e = f2_err(outs_got[k], ref[k], (size_t)n);
        const double lim = f2_limit(odt, n);
        if (!g_ok || !(e <= lim)) {
            report_case(rep, c->name, false, "%s: %s (nmse %.3e, limit %.1e)", out_nm[k],
                        g_ok ? "wrong values" : "guard bytes around it were overwritten", e, lim);
            goto done;
        }
        if (e > worst) worst = e;
    }
    if (hnr && c->co && (c->dt == MLXN_F32 || c->codt == MLXN_F32)) {
        /* one f32 value per element, rounded once per output */
        for (int64_t sidx = 0; sidx < c->S; sidx++)
            for (int64_t h = 0; h < c->H; h++)
                for (int64_t i = 0; i < dim; i++) {
                    const int64_t src = (sidx * c->H + h) * dim + i;
                    const int64_t dst = c->perm ? (h * c->S + sidx) * dim + i : src;
                    double a = outs_got[0][src], b = outs_got[1][dst];
                    if (c->dt == MLXN_F32) round_through(c->codt, &a, 1);
                    else round_through(c->dt, &b, 1);
                    if (!(a == b || (isnan(a) && isnan(b)))) {
                        report_case(rep, c->name, false,
                                    "y_co[%lld] (%.9g) is not y[%lld] (%.9g) rounded once (%.9g vs %.9g)",
                                    (long long)dst, outs_got[1][dst], (long long)src, outs_got[0][src], a, b);
                        goto done;
                    }
                }
    }
    if (hnr) {
        /* the header's composition: float64 first */
        double *nr = malloc(nb), *cr = malloc(nb), *ffp = malloc(sizeof(double) * (size_t)(dim / 2));
        bool ok = nr && cr && ffp;
        if (ok) {
            ref_rms_norm(in[0], wv[0], nr, rows, dim, (double)(float)c->eps);
            for (int64_t i = 0; i < dim / 2; i++) ffp[i] = i < c->R / 2 ? (c->ff ? ffv[i] : 1.0) : INFINITY;
            mlxn_rope_params rp = mlxn_rope_params_default((uint32_t)dim, MLXN_ROPE_NEOX, (float)c->base);
            ref_rope(nr, cr, 1, c->S, c->H, dim, pos, ffp, &rp);
            const double e = f2_err(cr, ref[0], (size_t)n);
            if (!(e < 1e-24)) {
                report_case(rep, c->name, false, "float64: ref_rope(ref_rms_norm) differs from the reference (nmse %.3e)", e);
                ok = false;
            }
        }
        /* then the device composition */
        if (ok && c->comp) {
            mlxn_buffer *t1 = NULL, *t2 = NULL, *ffpb = NULL;
            mlxn_status s2 = mlxn_buffer_new(env->dev, c->dt, nd, shape, &t1);
            if (!s2) s2 = mlxn_buffer_new(env->dev, c->dt, nd, shape, &t2);
            if (!s2) s2 = upload_values(env->dev, MLXN_F32, 1, (int64_t[1]){dim / 2}, ffp, &ffpb);
            const mlxn_norm_params np = {(float)c->eps};
            if (!s2) s2 = mlxn_rms_norm(env->enc, gin[0].view, wb[0], t1, &np);
            mlxn_rope_params rp = mlxn_rope_params_default((uint32_t)dim, MLXN_ROPE_NEOX, (float)c->base);
            /* rope wants [S, H, D] (3-D) */
            mlxn_buffer *t1v = NULL, *t2v = NULL;
            const int64_t sh3[3] = {c->S, c->H, dim};
            if (!s2) s2 = mlxn_buffer_view(t1, 0, c->dt, 3, sh3, &t1v);
            if (!s2) s2 = mlxn_buffer_view(t2, 0, c->dt, 3, sh3, &t2v);
            if (!s2) s2 = mlxn_rope(env->enc, t1v, t2v, pb, ffpb, &rp);
            if (!s2) s2 = mlxn_encoder_wait(env->enc);
            if (!s2) {
                void *h = malloc((size_t)n * mlxn_dtype_size(c->dt));
                if (!h) s2 = MLXN_ERR_OUT_OF_MEMORY;
                else {
                    s2 = mlxn_buffer_read(t2, h, (size_t)n * mlxn_dtype_size(c->dt));
                    host_to_double(c->dt, h, (size_t)n, cr);
                    free(h);
                }
            }
            if (s2) {
                report_case(rep, c->name, false, "composition: %s: %s", mlxn_status_str(s2), mlxn_last_error());
                ok = false;
            } else {
                const double e = f2_err(outs_got[0], cr, (size_t)n);
                if (!(e <= nmse_limit(c->dt))) {
                    report_case(rep, c->name, false, "differs from rms_norm + rope (NEOX) on the device (nmse %.3e)", e);
                    ok = false;
                }
            }
            mlxn_buffer_free(t1v); mlxn_buffer_free(t2v);
            mlxn_buffer_free(t1); mlxn_buffer_free(t2); mlxn_buffer_free(ffpb);
        }
        free(nr); free(cr); free(ffp);
        if (!ok) goto done;
    }
    report_case(rep, c->name, true, "nmse %.3e", worst);
    goto done;
oom:
    report_case(rep, c->name, false, "host allocation failed");
    goto done;
dev_err:
    report_case(rep, c->name, false, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    for (int j = 0; j < 3; j++) { mlxn_buffer_free(wb[j]); mlxn_buffer_free(wbase[j]); free(wv[j]); }
    mlxn_buffer_free(mb != gm.view ? mb : NULL);
    mlxn_buffer_free(mbase);
    guarded_free(&gm);
    mlxn_buffer_free(pb);
    mlxn_buffer_free(ffb);
    if (moe) { mlxn_buffer_free(wkb); mlxn_buffer_free(wkbase); }
    for (int k = 0; k < F2_IN; k++) { guarded_free(&gin[k]); free(in[k]); }
    for (int k = 0; k < F2_OUT; k++) { guarded_free(&gout[k]); free(ref[k]); free(outs_got[k]); }
    free(got); free(back); free(mv); free(wkv); free(pos); free(ffv);
}

/* ---- [fused_norm2] case lists ---------------------------------------------- */

static f2case f2_base(f2op op, mlxn_dtype dt, wmode wm, int64_t rows, int64_t dim) {
    f2case c;
    memset(&c, 0, sizeof c);
    c.op = op; c.dt = dt; c.wm = wm;
    c.rows = rows; c.dim = dim; c.K = 1; c.ndim = 2;
    c.eps = 1e-6; c.mag = 1.0; c.base = 10000.0; c.pos_max = 4096;
    c.codt = MLXN_BF16;
    return c;
}

static void f2_each(dctx *d, f2case *c) {
    f2_make_name(c);
    if (d->list) { printf("%s\n", c->name); return; }
    if (!report_wants(d->rep, c->name)) return;
    f2_run(d->env, d->rep, c);
}

/* rows x dim shapes of the row ops (ndim 3 where rows is even) */
static const int64_t F2_SHAPES[][3] = {{1, 1, 2},  {7, 3, 2},    {1, 64, 2},   {64, 64, 3}, {33, 257, 2},
                                      {3, 1025, 2}, {4, 4096, 3}, {1, 2816, 2}, {2, 16896, 2}};
#define F2_NSHAPES (sizeof F2_SHAPES / sizeof F2_SHAPES[0])

static void f2_mul_cases(dctx *d, f2op op, mlxn_dtype dt, wmode wm) {
    f2case c;
    for (size_t i = 0; i < F2_NSHAPES; i++) {
        c = f2_base(op, dt, wm, F2_SHAPES[i][0], F2_SHAPES[i][1]);
        c.ndim = (int)F2_SHAPES[i][2];
        c.mform = (int)(i % 3);
        c.mf32 = (i / 3) % 2 == 1;
        c.res = op == F2_ADDMUL && i % 2 == 0; /* sum_out */
        f2_each(d, &c);
    }
    if (wm == WM_F32) return; /* the variants below once per dtype and weight presence */
    for (int mf = 0; mf < 3; mf++) {
        c = f2_base(op, dt, wm, 5, 1025);
        c.mform = mf; c.mf32 = mf != 0 && dt != MLXN_F32; c.misalign = 1; c.res = op == F2_ADDMUL;
        f2_each(d, &c);
    }
    static const double ev[][4] = {{3, 4096, 0.0, 1.0}, {3, 4096, 0.1, 1.0}, {3, 4096, 1e-6, 1e3}, {9, 33, 1e-6, 1e-3}};
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        c = f2_base(op, dt, wm, (int64_t)ev[i][0], (int64_t)ev[i][1]);
        c.eps = ev[i][2]; c.mag = ev[i][3]; c.mform = (int)(i % 3);
        f2_each(d, &c);
    }
    const int n_alias = op == F2_MUL ? 2 : 3;
    for (int al = 1; al <= n_alias; al++) {
        c = f2_base(op, dt, wm, 6, 257);
        c.alias = op == F2_MUL && al == 2 ? 3 : al;
        c.mform = 0;
        c.res = op == F2_ADDMUL && al == 2; /* y=b with sum_out=a */
        f2_each(d, &c);
        c = f2_base(op, dt, wm, 3, 2048);
        c.alias = op == F2_MUL && al == 2 ? 3 : al;
        c.res = op == F2_ADDMUL && al == 2;
        c.misalign = 1;
        f2_each(d, &c);
    }
    c = f2_base(op, dt, wm, 4, 130);
    c.nan = true; c.mform = 1; c.res = op == F2_ADDMUL;
    f2_each(d, &c);
    /* rows longer than the CUDA kernels keep in registers on the vector
       path (40000) and on the scalar path (misaligned 16896) */
    c = f2_base(op, dt, wm, 2, 40000); c.mform = 0; c.res = op == F2_ADDMUL; f2_each(d, &c);
    c = f2_base(op, dt, wm, 2, 16896); c.mform = 1; c.misalign = 1; f2_each(d, &c);
}

static void f2_tri_cases(dctx *d, f2op op, mlxn_dtype dt, wmode wm) {
    f2case c;
    for (size_t i = 0; i < F2_NSHAPES; i++) {
        c = f2_base(op, dt, wm, F2_SHAPES[i][0], F2_SHAPES[i][1]);
        c.ndim = (int)F2_SHAPES[i][2];
        f2_each(d, &c);
    }
    if (wm == WM_F32 && dt != MLXN_F32) return;
    c = f2_base(op, dt, wm, 5, 1025); c.misalign = 1; f2_each(d, &c);
    c = f2_base(op, dt, wm, 3, 4096); c.eps = 0.1; f2_each(d, &c);
    c = f2_base(op, dt, wm, 3, 4096); c.mag = 1e3; f2_each(d, &c);
    c = f2_base(op, dt, wm, 9, 33); c.mag = 1e-3; f2_each(d, &c);
    c = f2_base(op, dt, wm, 6, 257); c.alias = 1; f2_each(d, &c);
    c = f2_base(op, dt, wm, 3, 2048); c.alias = 1; c.misalign = 1; f2_each(d, &c);
    if (op == F2_PTRI) { c = f2_base(op, dt, wm, 6, 257); c.alias = 2; f2_each(d, &c); }
    c = f2_base(op, dt, wm, 4, 130); c.nan = true; f2_each(d, &c);
    c = f2_base(op, dt, wm, 1, 40000); f2_each(d, &c);
    c = f2_base(op, dt, wm, 2, 16896); c.misalign = 1; f2_each(d, &c);
}

static void f2_moe_cases(dctx *d, f2op op, mlxn_dtype dt, wmode wm) {
    static const int64_t sh[][3] = {{1, 1, 1},    {1, 8, 2816}, {5, 2, 3},    {7, 4, 257},
                                    {3, 8, 1025}, {2, 3, 4096}, {64, 2, 64}, {1, 2, 16896}};
    f2case c;
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        c = f2_base(op, dt, wm, sh[i][0], sh[i][2]);
        c.K = sh[i][1];
        /* without res, the double norm of a 1-element row is +-1 +- 1: it
           cancels to ~eps and no relative measure applies, so the short rows
           keep res */
        c.res = i % 2 == 1 || op == F2_MOE || sh[i][2] < 64;
        f2_each(d, &c);
    }
    if (wm == WM_F32) return;
    c = f2_base(op, dt, wm, 5, 1025); c.K = 3; c.res = true; c.misalign = 1; f2_each(d, &c);
    c = f2_base(op, dt, wm, 3, 4096); c.K = 2; c.res = true; c.eps = 0.1; f2_each(d, &c);
    c = f2_base(op, dt, wm, 3, 4096); c.K = 2; c.res = false; c.mag = 1e3; f2_each(d, &c);
    c = f2_base(op, dt, wm, 6, 257); c.K = 4; c.res = true; c.alias = 1; f2_each(d, &c);
    if (op == F2_MOED) { c = f2_base(op, dt, wm, 3, 2048); c.K = 2; c.res = true; c.alias = 2; c.misalign = 1; f2_each(d, &c); }
    c = f2_base(op, dt, wm, 4, 130); c.K = 3; c.res = true; c.nan = true; f2_each(d, &c);
    c = f2_base(op, dt, wm, 1, 40000); c.K = 2; c.res = true; f2_each(d, &c);
    c = f2_base(op, dt, wm, 2, 16896); c.K = 2; c.res = op == F2_MOE; c.misalign = 1; f2_each(d, &c);
}

static void f2_hnr_cases(dctx *d, mlxn_dtype dt, wmode wm) {
    /* S, H, D, R, ndim */
    static const int64_t sh[][5] = {{1, 32, 128, 128, 2}, {4, 8, 128, 128, 3}, {3, 2, 2, 2, 3},
                                    {2, 3, 6, 2, 3},      {5, 4, 256, 64, 3},  {2, 2, 512, 512, 3},
                                    {3, 4, 64, 0, 3},     {2, 3, 2048, 1024, 3}, {1, 2, 8192, 8192, 2},
                                    {33, 2, 130, 66, 3}};
    f2case c;
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        c = f2_base(F2_HNR, dt, wm, 0, sh[i][2]);
        c.S = sh[i][0]; c.H = sh[i][1]; c.R = sh[i][3]; c.ndim = (int)sh[i][4];
        c.ff = i % 3 == 1;
        f2_each(d, &c);
    }
    if (wm == WM_F32) return;
    static const mlxn_dtype cod[3] = {MLXN_BF16, MLXN_F32, MLXN_F16};
    for (int k = 0; k < 3; k++)
        for (int perm = 0; perm < 2; perm++) {
            c = f2_base(F2_HNR, dt, wm, 0, 128);
            c.S = 5; c.H = 4; c.R = 128; c.ndim = 3;
            c.co = true; c.codt = cod[k]; c.perm = perm == 1;
            f2_each(d, &c);
        }
    c = f2_base(F2_HNR, dt, wm, 0, 256); c.S = 3; c.H = 2; c.R = 64; c.ndim = 3;
    c.co = true; c.perm = true; c.ff = true; c.misalign = 1;
    f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 128); c.S = 1; c.H = 32; c.R = 128; c.ndim = 2; c.co = true; c.perm = true;
    f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 128); c.S = 6; c.H = 3; c.R = 96; c.ndim = 3;
    c.pos_u = true; c.pos_max = 1e6; c.base = 1e6; c.ff = true;
    f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 64); c.S = 4; c.H = 3; c.R = 64; c.ndim = 3; c.alias = 1; f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 64); c.S = 4; c.H = 3; c.R = 32; c.ndim = 3; c.alias = 1; c.misalign = 1; f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 128); c.S = 3; c.H = 4; c.R = 128; c.ndim = 3; c.eps = 0.1; f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 128); c.S = 3; c.H = 4; c.R = 128; c.ndim = 3; c.mag = 1e-3; f2_each(d, &c);
    c = f2_base(F2_HNR, dt, wm, 0, 128); c.S = 3; c.H = 4; c.R = 128; c.ndim = 3; c.nan = true; c.co = true; f2_each(d, &c);
    if (dt != MLXN_BF16) {
        static const int64_t cs[][4] = {{4, 8, 128, 128}, {5, 4, 256, 64}, {3, 2, 2048, 512}};
        for (int k = 0; k < 3; k++) {
            c = f2_base(F2_HNR, dt, wm, 0, cs[k][2]);
            c.S = cs[k][0]; c.H = cs[k][1]; c.R = cs[k][3]; c.ndim = 3; c.comp = true; c.ff = k == 1;
            c.pos_max = k == 2 ? 1e5 : 4096;
            f2_each(d, &c);
        }
    }
}

static void fn2_differential(dctx *d) {
    for (int k = 0; k < 3; k++) {
        const mlxn_dtype dt = DTYPES[k];
        for (int op = F2_MUL; op <= F2_NADDMUL; op++) {
            f2_mul_cases(d, (f2op)op, dt, WM_NONE);
            f2_mul_cases(d, (f2op)op, dt, WM_SAME);
            if (dt != MLXN_F32) f2_mul_cases(d, (f2op)op, dt, WM_F32);
        }
        for (int op = F2_TRI; op <= F2_PTRI; op++) {
            f2_tri_cases(d, (f2op)op, dt, WM_SAME);
            if (dt != MLXN_F32) f2_tri_cases(d, (f2op)op, dt, WM_F32);
        }
        for (int op = F2_MOE; op <= F2_MOED; op++) {
            f2_moe_cases(d, (f2op)op, dt, WM_NONE);
            f2_moe_cases(d, (f2op)op, dt, WM_SAME);
            if (dt != MLXN_F32) f2_moe_cases(d, (f2op)op, dt, WM_F32);
        }
        f2_hnr_cases(d, dt, WM_NONE);
        f2_hnr_cases(d, dt, WM_SAME);
        if (dt != MLXN_F32) f2_hnr_cases(d, dt, WM_F32);
    }
}

/* ---- [fused_norm2] validation ---------------------------------------------- */

/* k: 0 rms_norm_mul, 1 add_rms_norm_mul, 2 rms_norm_add_mul */
static mlxn_status f2_call_mul(int k, mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *in1,
                               const mlxn_buffer *w, const mlxn_buffer *m, mlxn_buffer *y, mlxn_buffer *sum, float eps,
                               bool pnull) {
    const mlxn_norm_params p = {eps};
    const mlxn_norm_params *pp = pnull ? NULL : &p;
    if (k == 0) return mlxn_rms_norm_mul(e, x, w, m, y, pp);
    if (k == 1) return mlxn_add_rms_norm_mul(e, x, in1, w, m, y, sum, pp);
    return mlxn_rms_norm_add_mul(e, x, w, in1, m, y, pp);
}

static void fn2_validation(vctx *v) {
    mlxn_device *dev = v->env->dev;
    mlxn_encoder *enc = v->env->enc;
    const int64_t sh[2] = {4, 128}, shw[1] = {128}, sh_t[2] = {8, 64}, sh_bad[2] = {4, 127}, big[1] = {4096},
                  sh5[1] = {5}, one[1] = {1}, w3s[2] = {3, 128};
    const float eps = 1e-6f;
    char name[256], tmp[200];
    uint64_t d0 = 0;
#define NAME2(op, rule) (snprintf(name, sizeof name, "fused_norm/validate/%s/%s", (op), (rule)), name)
#define NEWB(t, nd, shp, pat) vs_new(&s, dev, (t), (nd), (shp), (pat))

    /* ---- rms_norm_mul, add_rms_norm_mul, rms_norm_add_mul ---- */
    for (int k = 0; k < 3; k++) {
        const char *op = k == 0 ? "rms_norm_mul" : k == 1 ? "add_rms_norm_mul" : "rms_norm_add_mul";
        const char *xn = k == 1 ? "a" : "x", *n1 = k == 1 ? "b" : "res";
#define MUL_SET                                                                                  \
        vset s = {.setup_ok = true};                                                             \
        mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL; \
        mlxn_buffer *w = NEWB(MLXN_F32, 1, shw, 0x3E), *m = NEWB(MLXN_F32, 1, shw, 0x2A);          \
        mlxn_buffer *y = NEWB(MLXN_F32, 2, sh, 0x5A);                                              \
        (void)x; (void)i1; (void)w; (void)m; (void)y;                                            \
        d0 = dispatches(dev)
        VCASE(v, NAME2(op, "null_encoder")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, NULL, x, i1, w, m, y, NULL, eps, false), INV, op, "encoder is NULL", NULL);
        }
        VCASE(v, NAME2(op, k == 1 ? "null_a" : "null_x")) {
            MUL_SET;
            snprintf(tmp, sizeof tmp, "%s is NULL", xn);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, NULL, i1, w, m, y, NULL, eps, false), INV, op, tmp, NULL);
        }
        if (k) VCASE(v, NAME2(op, k == 1 ? "null_b" : "null_res")) {
            MUL_SET;
            snprintf(tmp, sizeof tmp, "%s is NULL", n1);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, NULL, w, m, y, NULL, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "null_m")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, NULL, y, NULL, eps, false), INV, op, "m is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_y")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, m, NULL, NULL, eps, false), INV, op, "y is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_params")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, m, y, NULL, eps, true), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME2(op, "eps_nan")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, m, y, NULL, NAN, false), INV, op, "eps (nan)", NULL);
        }
        VCASE(v, NAME2(op, "eps_negative")) {
            MUL_SET;
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, m, y, NULL, -1.0f, false), INV, op, "eps (-1)", NULL);
        }
        VCASE(v, NAME2(op, "dtype_i32")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_I32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_I32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_I32, 1, one, 0x2A), *y = NEWB(MLXN_I32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s dtype i32", xn);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), UNS, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "y_dtype")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 1, one, 0x2A), *y = NEWB(MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "y dtype (bf16)", NULL);
        }
        if (k) VCASE(v, NAME2(op, k == 1 ? "b_numel" : "res_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = NEWB(MLXN_F32, 2, sh_bad, 0x4D);
            mlxn_buffer *m = NEWB(MLXN_F32, 1, one, 0x2A), *y = NEWB(MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "%s has 508 elements, %s has 512", n1, xn);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "m_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 1, sh5, 0x2A), *y = NEWB(MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "m has 5 elements; expected 512 (full), dim (128) or 1", NULL);
        }
        VCASE(v, NAME2(op, "m_full_dtype")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_BF16, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_BF16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 2, sh, 0x2A), *y = NEWB(MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "a full m (512 elements) must have %s's dtype (bf16), not f32", xn);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "m_full_last_dim")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 2, sh_t, 0x2A), *y = NEWB(MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "m last dimension (64) must equal", "(128)", NULL);
        }
        VCASE(v, NAME2(op, "m_col_dtype_f16_for_bf16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_BF16, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_BF16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F16, 1, shw, 0x2A), *y = NEWB(MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "m dtype (f16) must be", "(bf16) or f32", NULL);
        }
        VCASE(v, NAME2(op, "w_numel")) {
            MUL_SET;
            (void)w;
            mlxn_buffer *wb = NEWB(MLXN_F32, 1, sh5, 0x7E);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, wb, m, y, NULL, eps, false), INV, op,
                   "w has 5 elements, expected dim (128)", NULL);
        }
        VCASE(v, NAME2(op, "m_other_device")) {
            vset s = {.setup_ok = v->other != NULL};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = v->other ? vs_new(&s, v->other, MLXN_F32, 1, one, 0x2A) : NULL;
            mlxn_buffer *y = NEWB(MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "m lives on device", NULL);
        }
        VCASE(v, NAME2(op, "y_partial_overlap_x")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = NEWB(MLXN_F32, 1, big, 0x3C), *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 1, one, 0x2A);
            mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *y = vs_view(&s, b, 8, MLXN_F32, 2, sh);
            d0 = dispatches(dev);
            snprintf(tmp, sizeof tmp, "y (bytes 8..2056) partially overlaps %s (bytes 0..2048)", xn);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "y_overlaps_column_m")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = NEWB(MLXN_F32, 1, big, 0x5A), *x = NEWB(MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *i1 = k ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *y = vs_view(&s, b, 0, MLXN_F32, 2, sh), *m = vs_view(&s, b, 512, MLXN_F32, 1, shw);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, NULL, eps, false), INV, op,
                   "y (bytes 0..2048) overlaps m (bytes 512..1024)", NULL);
        }
        VCASE(v, NAME2(op, "y_is_full_m_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F16, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_F16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F16, 2, sh, 0x2A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, m, NULL, eps, false));
        }
        VCASE(v, NAME2(op, k == 1 ? "y_is_a_scalar_m_f32_ok" : "y_is_x_scalar_m_f32_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_BF16, 2, sh, 0x3C), *i1 = k ? NEWB(MLXN_BF16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *m = NEWB(MLXN_F32, 1, one, 0x2A), *w = NEWB(MLXN_F32, 1, shw, 0x3E);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, f2_call_mul(k, enc, x, i1, w, m, x, NULL, eps, false));
        }
        if (k == 1) {
            VCASE(v, NAME2(op, "sum_out_is_y")) {
                MUL_SET;
                (void)w;
                vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, y, eps, false), INV, op,
                       "sum_out (bytes 0..2048) overlaps y (bytes 0..2048)", NULL);
            }
            VCASE(v, NAME2(op, "sum_out_dtype")) {
                MUL_SET;
                (void)w;
                mlxn_buffer *sb = NEWB(MLXN_F16, 2, sh, 0x6B);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, y, sb, eps, false), INV, op,
                       "sum_out dtype (f16) must equal a dtype (f32)", NULL);
            }
            VCASE(v, NAME2(op, "y_is_b_sum_out_is_a_ok")) {
                MUL_SET;
                (void)w; (void)y;
                vcheck_ok(v, name, &s, d0, f2_call_mul(k, enc, x, i1, NULL, m, i1, x, eps, false));
            }
        }
#undef MUL_SET
    }

    /* ---- triple_norm, post_attn_triple_norm ---- */
    for (int post = 0; post < 2; post++) {
        const char *op = post ? "post_attn_triple_norm" : "triple_norm";
        const char *xn = post ? "h" : "x";
/* TRI_SETX: the standard set with the shapes of attn, w_post, w3 and y2 given */
#define TRI_SETX(ATS, WPN, WPS, W3N, W3S, Y2S)                                                    \
        vset s = {.setup_ok = true};                                                              \
        mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *at = post ? NEWB(MLXN_F32, 2, ATS, 0x4D) : NULL; \
        mlxn_buffer *wp = post ? NEWB(MLXN_F32, WPN, WPS, 0x3E) : NULL, *w3 = NEWB(MLXN_F32, W3N, W3S, 0x2A); \
        mlxn_buffer *r = post ? NEWB(MLXN_F32, 2, sh, 0x6B) : NULL, *y0 = NEWB(MLXN_F32, 2, sh, 0x5A);    \
        mlxn_buffer *y1 = NEWB(MLXN_F32, 2, sh, 0x5B), *y2 = NEWB(MLXN_F32, 2, Y2S, 0x5C);            \
        (void)x; (void)at; (void)wp; (void)w3; (void)r; (void)y0; (void)y1; (void)y2;             \
        d0 = dispatches(dev)
#define TRI_SET TRI_SETX(sh, 1, shw, 2, w3s, sh)
#define TRI(xx, aa, wpp, ww3, rr, a0, a1, a2, ee, pn)                                                      \
        (post ? mlxn_post_attn_triple_norm(enc, xx, aa, wpp, ww3, rr, a0, a1, a2,                          \
                                           (pn) ? NULL : &(mlxn_norm_params){ee})                          \
              : mlxn_triple_norm(enc, xx, ww3, a0, a1, a2, (pn) ? NULL : &(mlxn_norm_params){ee}))
        VCASE(v, NAME2(op, post ? "null_h" : "null_x")) {
            TRI_SET;
            snprintf(tmp, sizeof tmp, "%s is NULL", xn);
            vcheck(v, name, &s, d0, TRI(NULL, at, wp, w3, r, y0, y1, y2, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "null_w3")) {
            TRI_SET;
            vcheck(v, name, &s, d0, TRI(x, at, wp, NULL, r, y0, y1, y2, eps, false), INV, op, "w3 is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_y1")) {
            TRI_SET;
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, NULL, y2, eps, false), INV, op, "y1 is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_params")) {
            TRI_SET;
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, true), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME2(op, "eps_inf")) {
            TRI_SET;
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, INFINITY, false), INV, op, "eps (inf)", NULL);
        }
        VCASE(v, NAME2(op, "w3_numel")) {
            TRI_SETX(sh, 1, shw, 1, shw, sh);
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op,
                   "w3 has 128 elements, expected 3 * dim (384)", NULL);
        }
        VCASE(v, NAME2(op, "w3_dtype_f16_for_bf16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_BF16, 2, sh, 0x3C), *at = post ? NEWB(MLXN_BF16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *wp = post ? NEWB(MLXN_BF16, 1, shw, 0x3E) : NULL, *w3 = NEWB(MLXN_F16, 2, w3s, 0x2A);
            mlxn_buffer *r = post ? NEWB(MLXN_BF16, 2, sh, 0x6B) : NULL, *y0 = NEWB(MLXN_BF16, 2, sh, 0x5A);
            mlxn_buffer *y1 = NEWB(MLXN_BF16, 2, sh, 0x5B), *y2 = NEWB(MLXN_BF16, 2, sh, 0x5C);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op, "w3 dtype (f16)",
                   "(bf16) or f32", NULL);
        }
        VCASE(v, NAME2(op, "y2_last_dim")) {
            TRI_SETX(sh, 1, shw, 2, w3s, sh_t);
            snprintf(tmp, sizeof tmp, "y2 last dimension (64) must equal %s's (128)", xn);
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op, tmp, NULL);
        }
        VCASE(v, NAME2(op, "y1_is_y0")) {
            TRI_SET;
            (void)y1;
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y0, y2, eps, false), INV, op,
                   "y1 (bytes 0..2048) overlaps y0 (bytes 0..2048)", NULL);
        }
        VCASE(v, NAME2(op, "y0_overlaps_w3")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F32, 2, sh, 0x3C), *at = post ? NEWB(MLXN_F32, 2, sh, 0x4D) : NULL;
            mlxn_buffer *wp = post ? NEWB(MLXN_F32, 1, shw, 0x3E) : NULL, *b = NEWB(MLXN_F32, 1, big, 0x2A);
            mlxn_buffer *w3 = vs_view(&s, b, 0, MLXN_F32, 2, w3s), *y0 = vs_view(&s, b, 1024, MLXN_F32, 2, sh);
            mlxn_buffer *r = post ? NEWB(MLXN_F32, 2, sh, 0x6B) : NULL;
            mlxn_buffer *y1 = NEWB(MLXN_F32, 2, sh, 0x5B), *y2 = NEWB(MLXN_F32, 2, sh, 0x5C);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op,
                   "y0 (bytes 1024..3072) overlaps w3 (bytes 0..1536)", NULL);
        }
        VCASE(v, NAME2(op, post ? "y0_is_h_ok" : "y0_is_x_ok")) {
            TRI_SET;
            (void)y0;
            vcheck_ok(v, name, &s, d0, TRI(x, at, wp, w3, r, x, y1, y2, eps, false));
        }
        VCASE(v, NAME2(op, "w3_f32_for_f16_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = NEWB(MLXN_F16, 2, sh, 0x3C), *at = post ? NEWB(MLXN_F16, 2, sh, 0x4D) : NULL;
            mlxn_buffer *wp = post ? NEWB(MLXN_F16, 1, shw, 0x3E) : NULL, *w3 = NEWB(MLXN_F32, 2, w3s, 0x2A);
            mlxn_buffer *r = post ? NEWB(MLXN_F16, 2, sh, 0x6B) : NULL, *y0 = NEWB(MLXN_F16, 2, sh, 0x5A);
            mlxn_buffer *y1 = NEWB(MLXN_F16, 2, sh, 0x5B), *y2 = NEWB(MLXN_F16, 2, sh, 0x5C);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false));
        }
        if (post) {
            VCASE(v, NAME2(op, "null_attn")) {
                TRI_SET;
                vcheck(v, name, &s, d0, TRI(x, NULL, wp, w3, r, y0, y1, y2, eps, false), INV, op, "attn is NULL", NULL);
            }
            VCASE(v, NAME2(op, "null_w_post")) {
                TRI_SET;
                vcheck(v, name, &s, d0, TRI(x, at, NULL, w3, r, y0, y1, y2, eps, false), INV, op, "w_post is NULL", NULL);
            }
            VCASE(v, NAME2(op, "null_res")) {
                TRI_SET;
                vcheck(v, name, &s, d0, TRI(x, at, wp, w3, NULL, y0, y1, y2, eps, false), INV, op, "res is NULL", NULL);
            }
            VCASE(v, NAME2(op, "attn_numel")) {
                TRI_SETX(sh_bad, 1, shw, 2, w3s, sh);
                vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op,
                       "attn has 508 elements, h has 512", NULL);
            }
            VCASE(v, NAME2(op, "w_post_numel")) {
                TRI_SETX(sh, 1, sh5, 2, w3s, sh);
                vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op,
                       "w_post has 5 elements, expected dim (128)", NULL);
            }
            VCASE(v, NAME2(op, "res_partial_overlap_h")) {
                vset s = {.setup_ok = true};
                mlxn_buffer *b = NEWB(MLXN_F32, 1, big, 0x3C), *at = NEWB(MLXN_F32, 2, sh, 0x4D);
                mlxn_buffer *wp = NEWB(MLXN_F32, 1, shw, 0x3E), *w3 = NEWB(MLXN_F32, 2, w3s, 0x2A);
                mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *r = vs_view(&s, b, 4, MLXN_F32, 2, sh);
                mlxn_buffer *y0 = NEWB(MLXN_F32, 2, sh, 0x5A), *y1 = NEWB(MLXN_F32, 2, sh, 0x5B);
                mlxn_buffer *y2 = NEWB(MLXN_F32, 2, sh, 0x5C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, TRI(x, at, wp, w3, r, y0, y1, y2, eps, false), INV, op,
                       "res (bytes 4..2052) partially overlaps h (bytes 0..2048)", NULL);
            }
            VCASE(v, NAME2(op, "res_is_h_y1_is_attn_ok")) {
                TRI_SET;
                (void)r; (void)y1;
                vcheck_ok(v, name, &s, d0, TRI(x, at, wp, w3, x, y0, at, y2, eps, false));
            }
        }
#undef TRI
#undef TRI_SET
#undef TRI_SETX
    }

    /* ---- moe_wsum_norm_add, moe_wsum_dnorm_add ---- */
    {
        const int64_t ysh[3] = {4, 2, 128}, wks[2] = {4, 2}, wkb[2] = {4, 3}, ys2[2] = {8, 128};
        for (int dn = 0; dn < 2; dn++) {
            const char *op = dn ? "moe_wsum_dnorm_add" : "moe_wsum_norm_add";
#define MOE_SET                                                                                    \
            vset s = {.setup_ok = true};                                                           \
            mlxn_buffer *ys = NEWB(MLXN_F32, 3, ysh, 0x3C), *wk = NEWB(MLXN_F32, 2, wks, 0x31);    \
            mlxn_buffer *res = NEWB(MLXN_F32, 2, sh, 0x4D), *nw = NEWB(MLXN_F32, 1, shw, 0x3E);    \
            mlxn_buffer *dense = dn ? NEWB(MLXN_F32, 2, sh, 0x4E) : NULL;                          \
            mlxn_buffer *y = NEWB(MLXN_F32, 2, sh, 0x5A);                                          \
            (void)ys; (void)wk; (void)res; (void)nw; (void)dense; (void)y;                         \
            d0 = dispatches(dev)
#define MOE(yys, wwk, dd, wd, rr, nnw, yy, pn)                                                     \
            (dn ? mlxn_moe_wsum_dnorm_add(enc, yys, wwk, dd, wd, rr, nnw, yy, (pn) ? NULL : &(mlxn_norm_params){eps}) \
                : mlxn_moe_wsum_norm_add(enc, yys, wwk, rr, nnw, yy, (pn) ? NULL : &(mlxn_norm_params){eps}))
            VCASE(v, NAME2(op, "null_ys")) {
                MOE_SET;
                vcheck(v, name, &s, d0, MOE(NULL, wk, dense, NULL, res, nw, y, false), INV, op, "ys is NULL", NULL);
            }
            VCASE(v, NAME2(op, "null_wk")) {
                MOE_SET;
                vcheck(v, name, &s, d0, MOE(ys, NULL, dense, NULL, res, nw, y, false), INV, op, "wk is NULL", NULL);
            }
            VCASE(v, NAME2(op, "null_y")) {
                MOE_SET;
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, nw, NULL, false), INV, op, "y is NULL", NULL);
            }
            VCASE(v, NAME2(op, "null_params")) {
                MOE_SET;
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, nw, y, true), INV, op, "params is NULL", NULL);
            }
            VCASE(v, NAME2(op, "ys_ndim")) {
                MOE_SET;
                (void)ys;
                mlxn_buffer *yb = NEWB(MLXN_F32, 2, ys2, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(yb, wk, dense, NULL, res, nw, y, false), INV, op,
                       "ys must be [T, K, dim] (ndim 2)", NULL);
            }
            VCASE(v, NAME2(op, "ys_dtype_i32")) {
                MOE_SET;
                (void)ys;
                mlxn_buffer *yb = NEWB(MLXN_I32, 3, ysh, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(yb, wk, dense, NULL, res, nw, y, false), UNS, op, "ys dtype i32", NULL);
            }
            VCASE(v, NAME2(op, "wk_dtype")) {
                MOE_SET;
                (void)wk;
                mlxn_buffer *wb = NEWB(MLXN_BF16, 2, wks, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wb, dense, NULL, res, nw, y, false), INV, op,
                       "wk dtype (bf16) must be f32", NULL);
            }
            VCASE(v, NAME2(op, "wk_shape")) {
                MOE_SET;
                (void)wk;
                mlxn_buffer *wb = NEWB(MLXN_F32, 2, wkb, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wb, dense, NULL, res, nw, y, false), INV, op,
                       "wk must be [T, K] = [4, 2]", "12 elements", NULL);
            }
            VCASE(v, NAME2(op, "y_numel")) {
                MOE_SET;
                (void)y;
                mlxn_buffer *yb = NEWB(MLXN_F32, 2, sh_t, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, nw, yb, false), INV, op,
                       "y must hold T * dim = 512 elements with last dimension 128", NULL);
            }
            VCASE(v, NAME2(op, "y_dtype")) {
                MOE_SET;
                (void)y;
                mlxn_buffer *yb = NEWB(MLXN_F16, 2, sh, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, nw, yb, false), INV, op,
                       "y dtype (f16) must equal ys dtype (f32)", NULL);
            }
            VCASE(v, NAME2(op, "res_dtype")) {
                MOE_SET;
                (void)res;
                mlxn_buffer *rb = NEWB(MLXN_BF16, 2, sh, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, rb, nw, y, false), INV, op,
                       "res dtype (bf16) must equal y dtype (f32)", NULL);
            }
            VCASE(v, NAME2(op, "nw_numel")) {
                MOE_SET;
                (void)nw;
                mlxn_buffer *wb = NEWB(MLXN_F32, 1, sh5, 0x7C);
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, wb, y, false), INV, op,
                       "nw has 5 elements, expected dim (128)", NULL);
            }
            VCASE(v, NAME2(op, "y_overlaps_ys")) {
                vset s = {.setup_ok = true};
                mlxn_buffer *b = NEWB(MLXN_F32, 1, big, 0x3C), *wk = NEWB(MLXN_F32, 2, wks, 0x31);
                mlxn_buffer *ys = vs_view(&s, b, 0, MLXN_F32, 3, ysh), *y = vs_view(&s, b, 2048, MLXN_F32, 2, sh);
                mlxn_buffer *dense = dn ? NEWB(MLXN_F32, 2, sh, 0x4E) : NULL;
                d0 = dispatches(dev);
                vcheck(v, name, &s, d0, MOE(ys, wk, dense, NULL, NULL, NULL, y, false), INV, op,
                       "y (bytes 2048..4096) overlaps ys (bytes 0..4096)", NULL);
            }
            VCASE(v, NAME2(op, "y_is_res_ok")) {
                MOE_SET;
                (void)y;
                vcheck_ok(v, name, &s, d0, MOE(ys, wk, dense, NULL, res, nw, res, false));
            }
            VCASE(v, NAME2(op, "no_res_no_weight_ok")) {
                MOE_SET;
                (void)res; (void)nw;
                vcheck_ok(v, name, &s, d0, MOE(ys, wk, dense, NULL, NULL, NULL, y, false));
            }
            if (dn) {
                VCASE(v, NAME2(op, "null_dense")) {
                    MOE_SET;
                    vcheck(v, name, &s, d0, MOE(ys, wk, NULL, NULL, res, nw, y, false), INV, op, "dense is NULL", NULL);
                }
                VCASE(v, NAME2(op, "dense_numel")) {
                    MOE_SET;
                    (void)dense;
                    mlxn_buffer *db = NEWB(MLXN_F32, 2, sh_bad, 0x7C);
                    d0 = dispatches(dev);
                    vcheck(v, name, &s, d0, MOE(ys, wk, db, NULL, res, nw, y, false), INV, op,
                           "dense has 508 elements, y has 512", NULL);
                }
                VCASE(v, NAME2(op, "w_dense_dtype")) {
                    MOE_SET;
                    mlxn_buffer *wd = NEWB(MLXN_F16, 1, shw, 0x7C);
                    d0 = dispatches(dev);
                    vcheck(v, name, &s, d0, MOE(ys, wk, dense, wd, res, nw, y, false), INV, op,
                           "w_dense dtype (f16) must be ys's dtype (f32) or f32", NULL);
                }
                VCASE(v, NAME2(op, "y_is_dense_ok")) {
                    MOE_SET;
                    (void)y;
                    mlxn_buffer *wd = NEWB(MLXN_F32, 1, shw, 0x7C);
                    d0 = dispatches(dev);
                    vcheck_ok(v, name, &s, d0, MOE(ys, wk, dense, wd, res, nw, dense, false));
                }
            }
#undef MOE
#undef MOE_SET
        }
    }

    /* ---- head_norm_rope ---- */
    {
        const char *op = "head_norm_rope";
        const int64_t xs[3] = {3, 4, 64}, x2[2] = {4, 64}, ps[1] = {3}, p4[1] = {4}, ws[1] = {64}, ffs[1] = {32},
                      xs_d[3] = {3, 4, 32}, x1[1] = {768}, x4[4] = {1, 3, 4, 64}, bigh[1] = {2048};
        const mlxn_head_norm_rope_params hp0 = {64, 64, 1e-6f, 10000.0f, 0};
#define HNR_SET                                                                                    \
        vset s = {.setup_ok = true};                                                               \
        mlxn_buffer *x = NEWB(MLXN_F32, 3, xs, 0x3C), *w = NEWB(MLXN_F32, 1, ws, 0x3E);           \
        mlxn_buffer *pos = NEWB(MLXN_I32, 1, ps, 0x01), *ff = NEWB(MLXN_F32, 1, ffs, 0x3F);        \
        mlxn_buffer *y = NEWB(MLXN_F32, 3, xs, 0x5A), *co = NEWB(MLXN_BF16, 3, xs, 0x6B);          \
        mlxn_head_norm_rope_params hp = hp0;                                                       \
        (void)x; (void)w; (void)pos; (void)ff; (void)y; (void)co; (void)hp;                        \
        d0 = dispatches(dev)
#define HNR(xx, ww, pp, fff, yy, cc) mlxn_head_norm_rope(enc, xx, ww, pp, fff, yy, cc, &hp)
        VCASE(v, NAME2(op, "null_encoder")) {
            HNR_SET;
            vcheck(v, name, &s, d0, mlxn_head_norm_rope(NULL, x, w, pos, ff, y, co, &hp), INV, op, "encoder is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_x")) {
            HNR_SET;
            vcheck(v, name, &s, d0, HNR(NULL, w, pos, ff, y, co), INV, op, "x is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_positions")) {
            HNR_SET;
            vcheck(v, name, &s, d0, HNR(x, w, NULL, ff, y, co), INV, op, "positions is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_y")) {
            HNR_SET;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, NULL, co), INV, op, "y is NULL", NULL);
        }
        VCASE(v, NAME2(op, "null_params")) {
            HNR_SET;
            vcheck(v, name, &s, d0, mlxn_head_norm_rope(enc, x, w, pos, ff, y, co, NULL), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME2(op, "eps_negative")) {
            HNR_SET;
            hp.eps = -1e-3f;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "eps (-0.001)", NULL);
        }
        VCASE(v, NAME2(op, "freq_base_zero")) {
            HNR_SET;
            hp.freq_base = 0.0f;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "freq_base (0) must be finite and > 0", NULL);
        }
        VCASE(v, NAME2(op, "freq_base_nan")) {
            HNR_SET;
            hp.freq_base = NAN;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "freq_base (nan)", NULL);
        }
        VCASE(v, NAME2(op, "head_dim_odd")) {
            HNR_SET;
            hp.head_dim = 63;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "head_dim (63) must be even and in [2, 8192]",
                   NULL);
        }
        VCASE(v, NAME2(op, "head_dim_zero")) {
            HNR_SET;
            hp.head_dim = 0;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "head_dim (0)", NULL);
        }
        VCASE(v, NAME2(op, "head_dim_huge")) {
            HNR_SET;
            hp.head_dim = 16384;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "head_dim (16384)", NULL);
        }
        VCASE(v, NAME2(op, "rope_dim_odd")) {
            HNR_SET;
            hp.rope_dim = 31;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op,
                   "rope_dim (31) must be even and <= head_dim (64)", NULL);
        }
        VCASE(v, NAME2(op, "rope_dim_too_big")) {
            HNR_SET;
            hp.rope_dim = 66;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "rope_dim (66)", "head_dim (64)", NULL);
        }
        VCASE(v, NAME2(op, "co_permuted_2")) {
            HNR_SET;
            hp.co_permuted = 2;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, co), INV, op, "co_permuted (2) must be 0 or 1", NULL);
        }
        VCASE(v, NAME2(op, "x_dtype_i32")) {
            HNR_SET;
            (void)x; (void)y;
            mlxn_buffer *xb = NEWB(MLXN_I32, 3, xs, 0x7C), *yb = NEWB(MLXN_I32, 3, xs, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, NULL, pos, NULL, yb, NULL), UNS, op, "x dtype i32", NULL);
        }
        VCASE(v, NAME2(op, "x_ndim_1")) {
            HNR_SET;
            (void)x; (void)y;
            mlxn_buffer *xb = NEWB(MLXN_F32, 1, x1, 0x7C), *yb = NEWB(MLXN_F32, 1, x1, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, w, pos, ff, yb, NULL), INV, op, "x must be [S, H, D] or [H, D] (ndim 1)",
                   NULL);
        }
        VCASE(v, NAME2(op, "x_ndim_4")) {
            HNR_SET;
            (void)x; (void)y;
            mlxn_buffer *xb = NEWB(MLXN_F32, 4, x4, 0x7C), *yb = NEWB(MLXN_F32, 4, x4, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, w, pos, ff, yb, NULL), INV, op, "(ndim 4)", NULL);
        }
        VCASE(v, NAME2(op, "x_last_dim")) {
            HNR_SET;
            (void)x; (void)y;
            mlxn_buffer *xb = NEWB(MLXN_F32, 3, xs_d, 0x7C), *yb = NEWB(MLXN_F32, 3, xs_d, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, NULL, pos, ff, yb, NULL), INV, op,
                   "x last dimension (32) must equal head_dim (64)", NULL);
        }
        VCASE(v, NAME2(op, "y_shape")) {
            HNR_SET;
            (void)y;
            const int64_t ysh[3] = {4, 3, 64};
            mlxn_buffer *yb = NEWB(MLXN_F32, 3, ysh, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, yb, co), INV, op, "y (f32, 768 elements) must have x's dtype",
                   "and shape", NULL);
        }
        VCASE(v, NAME2(op, "y_dtype")) {
            HNR_SET;
            (void)y;
            mlxn_buffer *yb = NEWB(MLXN_F16, 3, xs, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, yb, co), INV, op, "y (f16", NULL);
        }
        VCASE(v, NAME2(op, "w_numel")) {
            HNR_SET;
            (void)w;
            mlxn_buffer *wb = NEWB(MLXN_F32, 1, ffs, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, wb, pos, ff, y, co), INV, op, "w has 32 elements, expected dim (64)", NULL);
        }
        VCASE(v, NAME2(op, "positions_dtype")) {
            HNR_SET;
            (void)pos;
            mlxn_buffer *pb = NEWB(MLXN_F32, 1, ps, 0x7D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pb, ff, y, co), INV, op, "positions dtype (f32) must be i32 or u32", NULL);
        }
        VCASE(v, NAME2(op, "positions_numel")) {
            HNR_SET;
            (void)pos;
            mlxn_buffer *pb = NEWB(MLXN_I32, 1, p4, 0x01);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pb, ff, y, co), INV, op, "positions has 4 elements, expected S (3)", NULL);
        }
        VCASE(v, NAME2(op, "freq_factors_dtype")) {
            HNR_SET;
            (void)ff;
            mlxn_buffer *fb = NEWB(MLXN_F16, 1, ffs, 0x3F);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, fb, y, co), INV, op, "freq_factors dtype (f16) must be f32", NULL);
        }
        VCASE(v, NAME2(op, "freq_factors_numel")) {
            HNR_SET;
            (void)ff;
            mlxn_buffer *fb = NEWB(MLXN_F32, 1, sh5, 0x3F);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, fb, y, co), INV, op,
                   "freq_factors has 5 elements, needs >= rope_dim/2 (32)", NULL);
        }
        VCASE(v, NAME2(op, "y_co_dtype")) {
            HNR_SET;
            (void)co;
            mlxn_buffer *cb = NEWB(MLXN_I32, 3, xs, 0x6B);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, cb), INV, op, "y_co dtype (i32) must be f32, f16 or bf16",
                   NULL);
        }
        VCASE(v, NAME2(op, "y_co_numel")) {
            HNR_SET;
            (void)co;
            mlxn_buffer *cb = NEWB(MLXN_BF16, 3, xs_d, 0x6B);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, cb), INV, op, "y_co has 384 elements, x has 768", NULL);
        }
        VCASE(v, NAME2(op, "y_co_is_y")) {
            HNR_SET;
            (void)co;
            vcheck(v, name, &s, d0, HNR(x, w, pos, ff, y, y), INV, op, "y_co (bytes 0..3072) overlaps y (bytes 0..3072)",
                   NULL);
        }
        VCASE(v, NAME2(op, "y_co_overlaps_x")) {
            HNR_SET;
            (void)co; (void)x;
            mlxn_buffer *b = NEWB(MLXN_F32, 1, bigh, 0x3C);
            mlxn_buffer *xb = vs_view(&s, b, 0, MLXN_F32, 3, xs), *cb = vs_view(&s, b, 2048, MLXN_BF16, 3, xs);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, w, pos, ff, y, cb), INV, op, "y_co (bytes 2048..3584) overlaps x", NULL);
        }
        VCASE(v, NAME2(op, "y_partial_overlap_x")) {
            HNR_SET;
            (void)x; (void)y;
            mlxn_buffer *b = NEWB(MLXN_F32, 1, bigh, 0x3C);
            mlxn_buffer *xb = vs_view(&s, b, 0, MLXN_F32, 3, xs), *yb = vs_view(&s, b, 256, MLXN_F32, 3, xs);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, HNR(xb, w, pos, ff, yb, co), INV, op,
                   "y (bytes 256..3328) partially overlaps x (bytes 0..3072)", NULL);
        }
        VCASE(v, NAME2(op, "y_is_x_ok")) {
            HNR_SET;
            (void)y;
            vcheck_ok(v, name, &s, d0, HNR(x, w, pos, ff, x, co));
        }
        VCASE(v, NAME2(op, "rope_dim_0_u32_one_token_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *xb = NEWB(MLXN_BF16, 2, x2, 0x3C), *yb = NEWB(MLXN_BF16, 2, x2, 0x5A);
            mlxn_buffer *w = NEWB(MLXN_F32, 1, ws, 0x3E), *pb = NEWB(MLXN_U32, 1, one, 0x01);
            mlxn_buffer *co = NEWB(MLXN_F16, 2, x2, 0x6B);
            mlxn_head_norm_rope_params hp = hp0;
            hp.rope_dim = 0;
            hp.co_permuted = 1;
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, HNR(xb, w, pb, NULL, yb, co));
        }
#undef HNR
#undef HNR_SET
    }
#undef NEWB
#undef NAME2
}
