/* tests/ops/norm.c — differential and validation cases of the norm family
   (mlxn_rms_norm, mlxn_l2_norm), run by tests/test_ops.c.

   Differential cases ("rms_norm/...", "l2_norm/..."): both ops x f32/f16/bf16
   x weight (none, x's dtype, f32 for 16-bit x) over long rows (4096..16896),
   short rows (1..1025, both sides of the CUDA warp/block split at 1024), a
   single element, many rows [512, 4096], 1-D and 3-D shapes; then eps in
   {0, 1e-5, 0.1}, misaligned views of x, y and w (forcing the CUDA scalar
   paths), in place, and inputs of magnitude ~1e3 and ~1e-3 (f16 subnormals).
   Inputs are uniform in [-1, 1) * magnitude, seeded from the case name, never
   zero after rounding to the dtype. The output is a guarded view (poisoned
   with NaN, guard bytes around it); x must come back unchanged unless the
   case is in place.

   Limits: nmse_limit(dtype). The kernels compute in f32 and round once to
   the output dtype. The f32 part has relative error <= ~30 * 2^-24 (sum of
   squares: <= ~14 roundings deep on the CPU, <= ~42 on CUDA, halved by the
   root; then rsqrt and two products; see src/cpu/norm.c, src/cuda/norm.cu),
   i.e. NMSE <= ~3e-12: the f32 limit 1e-10 holds with margin. For f16/bf16 the single rounding adds
   an error uniform in +-ulp/2, whose NMSE over a binade is
   (ulp^2/12) / (7/3 * 2^2e) = 2^-2p / 28 (p = significand bits - 1):
   f16 8.5e-9 (limit 1e-6), bf16 2.2e-6 (limit 1e-5). So the existing
   limits apply unchanged; a wrong eps, divisor or weight shows as >= 1e-4.

   Validation cases ("norm/validate/<op>/<rule>"): each rule returns the right
   status, the message starts with "<op>: " and contains the offending
   values, no buffer handed to the call changed (all are filled with a byte
   pattern first) and the device's dispatch counter did not move. Valid calls
   at the end (in place, no weight, f32 weight) must succeed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"
#include "ops/families.h"
#include "ref/ref_norm.h"

typedef enum { NORM_RMS, NORM_L2 } norm_op;
typedef enum { WM_NONE, WM_SAME, WM_F32 } wmode;

typedef struct {
    char name[200];
    norm_op op;
    mlxn_dtype dt;
    wmode wm;
    int64_t rows, dim;
    int ndim;   /* 1: [dim] (rows 1); 2: [rows, dim]; 3: [2, rows/2, dim] */
    double eps;
    double mag; /* inputs uniform in [-mag, mag) */
    int misalign;
    bool inplace;
} ncase;

static const mlxn_dtype DTYPES[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};
static const char *op_name(norm_op op) { return op == NORM_RMS ? "rms_norm" : "l2_norm"; }

static mlxn_dtype w_dtype(const ncase *c) { return c->wm == WM_F32 ? MLXN_F32 : c->dt; }

static void make_name(ncase *c) {
    char shape[64], w[16] = "", mag[24] = "";
    snprintf(shape, sizeof shape, "r%lld.d%lld%s", (long long)c->rows, (long long)c->dim,
             c->ndim == 1 ? ".nd1" : c->ndim == 3 ? ".nd3" : "");
    if (c->op == NORM_RMS)
        snprintf(w, sizeof w, "/w.%s", c->wm == WM_NONE ? "none" : mlxn_dtype_name(w_dtype(c)));
    if (c->mag != 1.0) snprintf(mag, sizeof mag, "/mag%g", c->mag);
    snprintf(c->name, sizeof c->name, "%s/%s/%s%s/eps%g%s%s%s", op_name(c->op), mlxn_dtype_name(c->dt), shape, w,
             c->eps, mag, c->misalign ? "/mis1" : "", c->inplace ? "/inplace" : "");
}

/* A uniform value in [lo, hi) that is nonzero once rounded to dtype t. */
/* w as a buffer; with misalign, a view one element into a larger buffer
   (so the CUDA vector path must notice w's alignment too). */
static void run_case(const test_env *env, report_t *rep, const ncase *c) {
    const int64_t n = c->rows * c->dim;
    int64_t shape[3];
    int nd = c->ndim;
    if (nd == 1) shape[0] = c->dim;
    else if (nd == 2) { shape[0] = c->rows; shape[1] = c->dim; }
    else { shape[0] = 2; shape[1] = c->rows / 2; shape[2] = c->dim; }

    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    double *x = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double *got = malloc(sizeof(double) * (size_t)n), *xback = malloc(sizeof(double) * (size_t)n);
    double *w = malloc(sizeof(double) * (size_t)c->dim);
    guarded_t gx = {0}, gy = {0};
    mlxn_buffer *wbase = NULL, *wb = NULL;
    mlxn_status s = MLXN_OK;
    if (!x || !ref || !got || !xback || !w) {
        report_case(rep, c->name, false, "host allocation failed");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) x[i] = rng_nonzero(&rng, c->dt, -c->mag, c->mag);
    /* weights of either sign around 1 (Gemma's 1 + w and plain w alike) */
    for (int64_t i = 0; i < c->dim; i++)
        w[i] = (rng_u64(&rng) & 1 ? -1.0 : 1.0) * rng_nonzero(&rng, w_dtype(c), 0.25, 2.0);

    if ((s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gy))) goto dev_err;
    if (c->inplace) {
        if ((s = guarded_fill(&gy, x))) goto dev_err;
    } else {
        if ((s = guarded_new(env->dev, c->dt, nd, shape, c->misalign, &gx))) goto dev_err;
        if ((s = guarded_fill(&gx, x))) goto dev_err;
    }
    mlxn_buffer *xb = c->inplace ? gy.view : gx.view;
    if (c->op == NORM_RMS && c->wm != WM_NONE &&
        (s = upload_values_misaligned(env->dev, w_dtype(c), c->dim, w, c->misalign, &wbase, &wb)))
        goto dev_err;

    const mlxn_norm_params p = {(float)c->eps};
    if (c->op == NORM_RMS) {
        s = mlxn_rms_norm(env->enc, xb, wb, gy.view, &p);
        ref_rms_norm(x, wb ? w : NULL, ref, c->rows, c->dim, (double)p.eps);
    } else {
        s = mlxn_l2_norm(env->enc, xb, gy.view, &p);
        ref_l2_norm(x, ref, c->rows, c->dim, (double)p.eps);
    }
    if (s == MLXN_OK) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;

    bool guards_ok = true, x_ok = true;
    if ((s = guarded_read(&gy, got, &guards_ok))) goto dev_err;
    if (!c->inplace) {
        bool gx_ok = true;
        if ((s = guarded_read(&gx, xback, &gx_ok))) goto dev_err;
        x_ok = gx_ok && memcmp(xback, x, sizeof(double) * (size_t)n) == 0;
    }
    if (!x_ok) report_case(rep, c->name, false, "the input x (or its guards) was modified");
    else check_result(rep, c->name, got, ref, (size_t)n, nmse_limit(c->dt), guards_ok);
    goto done;
dev_err:
    report_case(rep, c->name, false, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    mlxn_buffer_free(wb);
    mlxn_buffer_free(wbase);
    guarded_free(&gx);
    guarded_free(&gy);
    free(x); free(ref); free(got); free(xback); free(w);
}

/* ---- differential case lists ------------------------------------------------ */

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} dctx;

static void each(dctx *d, ncase *c) {
    make_name(c);
    if (d->list) { printf("%s\n", c->name); return; }
    if (!report_wants(d->rep, c->name)) return;
    run_case(d->env, d->rep, c);
}

/* One (op, dtype, weight) combination: every shape, then the variants. */
static void combo_cases(dctx *d, norm_op op, mlxn_dtype dt, wmode wm) {
    /* {rows, dim, ndim} */
    static const int64_t shapes[][3] = {
        {3, 4096, 2}, {2, 5120, 2}, {2, 8192, 2}, {2, 16896, 2},           /* long rows      */
        {37, 1, 2},   {1000, 3, 2}, {9, 33, 2},   {13, 64, 2},  {5, 127, 2}, /* short rows     */
        {6, 1024, 2}, {3, 1025, 2},                                        /* warp/block edge */
        {1, 1, 1},                                                         /* one element     */
        {512, 4096, 2},                                                    /* many rows       */
        {1, 4096, 1},                                                      /* decode          */
        {8, 128, 3},                                                       /* [2, 4, 128]     */
    };
    /* {rows, dim, eps, mag, misalign, inplace} */
    static const double variants[][6] = {
        {13, 64, 0, 1, 0, 0},       {13, 64, 1e-5, 1, 0, 0},    {13, 64, 0.1, 1, 0, 0},
        {3, 4096, 0, 1, 0, 0},      {3, 4096, 1e-5, 1, 0, 0},   {3, 4096, 0.1, 1, 0, 0},
        {5, 127, 1e-6, 1, 1, 0},    {6, 1024, 1e-6, 1, 1, 0},   {3, 1025, 1e-6, 1, 1, 0},
        {3, 4096, 1e-6, 1, 1, 0},   {2, 16896, 1e-6, 1, 1, 0},
        {13, 64, 1e-6, 1, 0, 1},    {3, 4096, 1e-6, 1, 0, 1},
        {2, 5120, 1e-6, 1, 1, 1},   {9, 33, 1e-6, 1, 1, 1},
        {3, 4096, 1e-6, 1e3, 0, 0}, {9, 33, 1e-6, 1e3, 0, 0},
        {3, 4096, 1e-6, 1e-3, 0, 0}, {9, 33, 1e-6, 1e-3, 0, 0}, {3, 4096, 0, 1e-3, 0, 0},
    };
    ncase c;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        memset(&c, 0, sizeof c);
        c.op = op; c.dt = dt; c.wm = wm;
        c.rows = shapes[i][0]; c.dim = shapes[i][1]; c.ndim = (int)shapes[i][2];
        c.eps = 1e-6; c.mag = 1.0;
        each(d, &c);
    }
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        memset(&c, 0, sizeof c);
        c.op = op; c.dt = dt; c.wm = wm;
        c.rows = (int64_t)variants[i][0]; c.dim = (int64_t)variants[i][1]; c.ndim = 2;
        c.eps = variants[i][2]; c.mag = variants[i][3];
        c.misalign = (int)variants[i][4]; c.inplace = variants[i][5] != 0;
        each(d, &c);
    }
}

static void differential_cases(dctx *d) {
    for (int k = 0; k < 3; k++) {
        const mlxn_dtype dt = DTYPES[k];
        combo_cases(d, NORM_RMS, dt, WM_NONE);
        combo_cases(d, NORM_RMS, dt, WM_SAME);
        if (dt != MLXN_F32) combo_cases(d, NORM_RMS, dt, WM_F32);
        combo_cases(d, NORM_L2, dt, WM_NONE);
    }
}

/* ---- validation --------------------------------------------------------------- */

#include "vkit.h"

#define INV MLXN_ERR_INVALID_ARGUMENT
#define UNS MLXN_ERR_UNSUPPORTED

/* Calls op `k` (0 rms_norm, 1 l2_norm) with the given arguments. */
static mlxn_status call_op(int k, mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *w, mlxn_buffer *y,
                           const mlxn_norm_params *p) {
    return k == 0 ? mlxn_rms_norm(e, x, w, y, p) : mlxn_l2_norm(e, x, y, p);
}

static void validation_cases(vctx *v) {
    mlxn_device *dev = v->env->dev;
    mlxn_encoder *enc = v->env->enc;
    const int64_t sh[2] = {4, 128}, shw[1] = {128}, sh_bad[2] = {4, 127}, shw_bad[1] = {100}, big[1] = {2048};
    const mlxn_norm_params p = {1e-6f};
    char name[128];
    uint64_t d0 = 0;

    for (int k = 0; k < 2; k++) {
        const char *op = k == 0 ? "rms_norm" : "l2_norm";
#define NAME(rule) (snprintf(name, sizeof name, "norm/validate/%s/%s", op, rule), name)
/* a fresh set: x f32 [4,128] (0x3C), w f32 [128] for rms_norm (0x3E), y f32 [4,128] (0x5A) */
#define STD_SET(s, x, w, y)                                                      \
        vset s = {.setup_ok = true};                                             \
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);                 \
        mlxn_buffer *w = k == 0 ? vs_new(&s, dev, MLXN_F32, 1, shw, 0x3E) : NULL; \
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);                 \
        d0 = dispatches(dev)

        VCASE(v, NAME("null_encoder")) {
            STD_SET(s, x, w, y);
            vcheck(v, name, &s, d0, call_op(k, NULL, x, w, y, &p), INV, op, "encoder is NULL", NULL);
        }
        VCASE(v, NAME("null_x")) {
            STD_SET(s, x, w, y);
            (void)x;
            vcheck(v, name, &s, d0, call_op(k, enc, NULL, w, y, &p), INV, op, "x is NULL", NULL);
        }
        VCASE(v, NAME("null_y")) {
            STD_SET(s, x, w, y);
            (void)y;
            vcheck(v, name, &s, d0, call_op(k, enc, x, w, NULL, &p), INV, op, "y is NULL", NULL);
        }
        VCASE(v, NAME("null_params")) {
            STD_SET(s, x, w, y);
            vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, NULL), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME("eps_nan")) {
            STD_SET(s, x, w, y);
            const mlxn_norm_params bad = {NAN};
            vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &bad), INV, op, "eps (nan)", NULL);
        }
        VCASE(v, NAME("eps_inf")) {
            STD_SET(s, x, w, y);
            const mlxn_norm_params bad = {INFINITY};
            vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &bad), INV, op, "eps (inf)", NULL);
        }
        VCASE(v, NAME("eps_negative")) {
            STD_SET(s, x, w, y);
            const mlxn_norm_params bad = {-0.5f};
            vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &bad), INV, op, "eps (-0.5)", NULL);
        }
        VCASE(v, NAME("dtype_i32")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_I32, 2, sh, 0x3C), *y = vs_new(&s, dev, MLXN_I32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), UNS, op, "i32", NULL);
        }
        VCASE(v, NAME("y_dtype")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *y = vs_new(&s, dev, MLXN_F16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), INV, op, "y dtype (f16)", "x dtype (f32)", NULL);
        }
        VCASE(v, NAME("y_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *y = vs_new(&s, dev, MLXN_F32, 2, sh_bad, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), INV, op, "508", "512", NULL);
        }
        VCASE(v, NAME("x_scalar")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 0, NULL, 0x3C), *y = vs_new(&s, dev, MLXN_F32, 0, NULL, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), INV, op, "ndim 0", NULL);
        }
        VCASE(v, NAME("x_other_device")) {
            vset s = {.setup_ok = v->other != NULL};
            mlxn_buffer *x = v->other ? vs_new(&s, v->other, MLXN_F32, 2, sh, 0x3C) : NULL;
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), INV, op, "x lives on device", NULL);
        }
        VCASE(v, NAME("y_partial_overlap")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *y = vs_view(&s, b, 4, MLXN_F32, 2, sh);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p), INV, op, "partially overlaps x",
                   "bytes 4..2052", "bytes 0..2048", NULL);
        }
        VCASE(v, NAME("inplace_ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, call_op(k, enc, x, NULL, x, &p));
        }
    }

    /* weight rules (rms_norm only) */
    const char *op = "rms_norm";
    const int k = 0;
    VCASE(v, NAME("w_numel")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *w = vs_new(&s, dev, MLXN_F32, 1, shw_bad, 0x3E);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &p), INV, op, "w has 100 elements, expected dim (128)", NULL);
    }
    VCASE(v, NAME("w_dtype_f16_for_bf16")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x3C), *w = vs_new(&s, dev, MLXN_F16, 1, shw, 0x3E);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &p), INV, op, "w dtype (f16)", "(bf16)", NULL);
    }
    VCASE(v, NAME("w_dtype_i32")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *w = vs_new(&s, dev, MLXN_I32, 1, shw, 0x3E);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &p), INV, op, "w dtype (i32)", NULL);
    }
    VCASE(v, NAME("w_other_device")) {
        vset s = {.setup_ok = v->other != NULL};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
        mlxn_buffer *w = v->other ? vs_new(&s, v->other, MLXN_F32, 1, shw, 0x3E) : NULL;
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &p), INV, op, "w lives on device", NULL);
    }
    VCASE(v, NAME("y_overlaps_w")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
        mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x5A);
        mlxn_buffer *w = vs_view(&s, b, 0, MLXN_F32, 1, shw), *y = vs_view(&s, b, 256, MLXN_F32, 2, sh);
        d0 = dispatches(dev);
        vcheck(v, name, &s, d0, call_op(k, enc, x, w, y, &p), INV, op, "overlaps w", "bytes 256..2304",
               "bytes 0..512", NULL);
    }
    VCASE(v, NAME("w_is_x_ok")) { /* reading w from x's storage is fine: only y must be disjoint */
        vset s = {.setup_ok = true};
        mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
        mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *w = vs_view(&s, b, 0, MLXN_F32, 1, shw);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck_ok(v, name, &s, d0, call_op(k, enc, x, w, y, &p));
    }
    VCASE(v, NAME("w_f32_for_f16_ok")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3C), *w = vs_new(&s, dev, MLXN_F32, 1, shw, 0x3E);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_F16, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck_ok(v, name, &s, d0, call_op(k, enc, x, w, y, &p));
    }
    VCASE(v, NAME("no_weight_ok")) {
        vset s = {.setup_ok = true};
        mlxn_buffer *x = vs_new(&s, dev, MLXN_BF16, 3, (int64_t[]){2, 2, 128}, 0x3C);
        mlxn_buffer *y = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
        d0 = dispatches(dev);
        vcheck_ok(v, name, &s, d0, call_op(k, enc, x, NULL, y, &p));
    }
#undef NAME
#undef STD_SET
}

void norm_suite(const test_env *env, report_t *rep, bool list) {
    dctx d = {env, rep, list};
    differential_cases(&d);
    vctx v = {env, rep, list, NULL};
    if (!list && mlxn_device_open(MLXN_BACKEND_CPU, 0, &v.other) != MLXN_OK) v.other = NULL;
    validation_cases(&v);
    mlxn_device_close(v.other);
}
