/* tests/ops/backward.c — differential, finite-difference and validation cases
   of the backward family (mlxn_softmax_backward, mlxn_rms_inv,
   mlxn_rms_norm_backward, mlxn_unary_backward, mlxn_row_sum_backward) against
   tests/ref/ref_backward.c.

   Case names encode their parameters:
     backward/<op>/r<rows>.n<n>[/w][/dw][/mis1][/inplace_<arg>][/tails][/eps<e>][/repeat]
     backward/fd/<op>/...            the float64 reference gradient against
                                     central differences of its float64 forward
     backward/fd/mutant/<what>       the same check must REJECT a wrong formula
     backward/validate/<op>/<rule>
   Inputs are seeded from the case name, non-zero; every output is a guarded
   view (poisoned with NaN bytes, guard bytes around it); rms_norm_backward's
   workspace is filled with 0xFF bytes (NaN) first, so a kernel that reads
   partial sums it never wrote fails.

   Limits: f32 outputs, NMSE <= nmse_limit(f32) = 1e-10 (docs/TESTING.md).
   Every output is a short f32 expression of its inputs and one row sum; the
   sums run in f32 blocks of <= 1024 terms (CPU) or <= n/(4*threads) per
   thread plus a tree (CUDA), blocks combined in double, and dw in f32 per
   group of four chunks (<= 4 (rows/256 + 1) rows), groups in double:
   relative errors of order u*sqrt(1024) = 2e-6 at worst, NMSE <~ 4e-12,
   while any wrong term, row or column gives errors of the order of the
   values themselves.

   Finite differences: L(x) = sum dy * f(x) in double, dL/dx_i ~=
   (L(x + h e_i) - L(x - h e_i)) / 2h with h = 1e-5: truncation h^2/6 |L'''|
   ~ 1e-11 and rounding ~ 1e-16 |L| / h ~ 1e-10 for the |L| <= 10 used, so
   |fd - ref| <= 1e-7 * max(1, max|ref|) leaves a margin of ~1000, while a
   formula missing a term is off by ~1e-2 or more (the mutant cases prove the
   check catches one). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_backward.h"
#include "vkit.h"

enum { OP_SMB, OP_RMSINV, OP_RMSB, OP_UNB, OP_RSB };
static const char *OP_NAMES[] = {"softmax_backward", "rms_inv", "rms_norm_backward", "unary_backward",
                                 "row_sum_backward"};
enum { IP_NONE, IP_FIRST, IP_DY }; /* dx = nothing / y or x / dy */

typedef struct {
    char name[200];
    int op;
    int64_t rows, n;
    int misalign;
    int inplace;
    bool has_w, has_dw, tails, repeat;
    int uop; /* MLXN_UNARY_SILU / MLXN_UNARY_LOG */
    float eps;
} bcase;

static void name_case(bcase *c) {
    char extra[96] = "";
    if (c->op == OP_UNB) strcat(extra, c->uop == MLXN_UNARY_SILU ? "/silu" : "/log");
    if (c->has_w) strcat(extra, "/w");
    if (c->has_dw) strcat(extra, "/dw");
    if (c->misalign) strcat(extra, "/mis1");
    if (c->inplace == IP_FIRST) strcat(extra, c->op == OP_SMB ? "/inplace_y" : "/inplace_x");
    if (c->inplace == IP_DY) strcat(extra, "/inplace_dy");
    if (c->tails) strcat(extra, "/tails");
    if (c->op == OP_RMSINV || c->op == OP_RMSB) {
        char e[32];
        snprintf(e, sizeof e, "/eps%g", (double)c->eps);
        strcat(extra, e);
    }
    if (c->repeat) strcat(extra, "/repeat");
    snprintf(c->name, sizeof c->name, "backward/%s/r%lld.n%lld%s", OP_NAMES[c->op], (long long)c->rows,
             (long long)c->n, extra);
}

/* A [rows, n] f32 view `misalign` elements into a fresh allocation. */
static mlxn_status upload_2d(mlxn_device *d, int64_t rows, int64_t n, const double *v, int misalign,
                             mlxn_buffer **base, mlxn_buffer **view) {
    const int64_t tot = rows * n;
    double *tmp = malloc(sizeof(double) * (size_t)(tot + misalign));
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < misalign; i++) tmp[i] = 0.5;
    memcpy(tmp + misalign, v, sizeof(double) * (size_t)tot);
    const int64_t shp1[1] = {tot + misalign}, shp2[2] = {rows, n};
    mlxn_status s = upload_values(d, MLXN_F32, 1, shp1, tmp, base);
    free(tmp);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)misalign * 4, MLXN_F32, 2, shp2, view);
}

/* ---- inputs ------------------------------------------------------------------ */

static void fill_uniform(rng_t *rng, double *v, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) v[i] = rng_nonzero(rng, MLXN_F32, lo, hi);
}

/* silu tails: large magnitudes where sigmoid or 1 - sigmoid underflows */
static void plant_tails(double *x, int64_t n) {
    static const double T[] = {20.0, -20.0, 50.0, -50.0, 88.0, -88.0, 95.0, -95.0, 1e-30, -1e-30, -1.2785, 150.0};
    for (int64_t i = 0; i < n && i < (int64_t)(sizeof T / sizeof T[0]); i++) x[(i * 7919) % n] = T[i];
}

/* ---- one differential case ----------------------------------------------------- */

/* The NMSE that f32 rounding alone can cause in rms_norm_backward's dx:
   element (i, j) = r (dy w - x c), c = s r^2 / dim, computed in f32 from a
   sum s whose error is at most ~2 sqrt(L) u sum|dy x w| (L = min(dim, 1024)
   terms a chain, random-walk with a 2-sigma margin), so
     e_ij = 4u r (|dy w| + |x| r^2 / dim (|s| + 2 sqrt(L) sum|dy x w|))
   (4u: the handful of roundings of the two terms and their difference).
   Returns sum e^2 / sum ref^2. For random rows of dim >= 7 this is ~1e-12,
   below the 1e-10 floor; it matters only where the two terms cancel. */
static double rms_bound(const double *x, const double *w, const double *r, const double *dy, const double *ref,
                        int64_t rows, int64_t dim) {
    const double u = ldexp(1.0, -24), L = (double)(dim < 1024 ? dim : 1024);
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        double sv = 0.0, sa = 0.0;
        for (int64_t j = 0; j < dim; j++) {
            const double t = dy[i * dim + j] * x[i * dim + j] * (w ? w[j] : 1.0);
            sv += t;
            sa += fabs(t);
        }
        const double ri = r[i], cabs = ri * ri / (double)dim * (fabs(sv) + 2.0 * sqrt(L) * sa);
        for (int64_t j = 0; j < dim; j++) {
            const double e = 4.0 * u * ri * (fabs(dy[i * dim + j] * (w ? w[j] : 1.0)) + fabs(x[i * dim + j]) * cabs);
            num += e * e;
            den += ref[i * dim + j] * ref[i * dim + j];
        }
    }
    return den > 0.0 ? num / den : 0.0;
}

static void run_case(const test_env *env, report_t *rep, const bcase *c) {
    const int64_t rows = c->rows, n = c->n, tot = rows * n;
    mlxn_device *d = env->dev;
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    double *x = calloc((size_t)tot, sizeof(double)), *dy = calloc((size_t)tot, sizeof(double));
    double *w = calloc((size_t)n, sizeof(double)), *r = calloc((size_t)rows, sizeof(double));
    double *ref = calloc((size_t)tot, sizeof(double)), *got = calloc((size_t)tot, sizeof(double));
    double *refw = calloc((size_t)n, sizeof(double)), *gotw = calloc((size_t)n, sizeof(double));
    double *got2 = calloc((size_t)tot, sizeof(double)), *gotw2 = calloc((size_t)n, sizeof(double));
    mlxn_buffer *xb = NULL, *xv = NULL, *dyb = NULL, *dyv = NULL, *wb = NULL, *rb = NULL, *wsb = NULL;
    guarded_t g, gw;
    memset(&g, 0, sizeof g);
    memset(&gw, 0, sizeof gw);
    if (!x || !dy || !w || !r || !ref || !got || !refw || !gotw || !got2 || !gotw2) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    /* inputs, each rounded to f32 (what the device sees) */
    switch (c->op) {
    case OP_SMB:
        fill_uniform(&rng, x, tot, -4.0, 4.0);
        ref_bw_softmax_fwd(x, x, rows, n); /* x holds y = softmax(logits) */
        round_through(MLXN_F32, x, (size_t)tot);
        fill_uniform(&rng, dy, tot, -1.0, 1.0);
        ref_softmax_backward(x, dy, ref, rows, n);
        break;
    case OP_RMSINV:
        fill_uniform(&rng, x, tot, -1.0, 1.0);
        round_through(MLXN_F32, x, (size_t)tot);
        ref_rms_inv(x, ref, rows, n, (double)c->eps);
        break;
    case OP_RMSB:
        fill_uniform(&rng, x, tot, -1.0, 1.0);
        fill_uniform(&rng, dy, tot, -1.0, 1.0);
        fill_uniform(&rng, w, n, -2.0, 2.0);
        round_through(MLXN_F32, x, (size_t)tot);
        round_through(MLXN_F32, w, (size_t)n);
        ref_rms_inv(x, r, rows, n, (double)c->eps);
        round_through(MLXN_F32, r, (size_t)rows); /* the device gets r in f32 */
        ref_rms_norm_backward(x, c->has_w ? w : NULL, r, dy, ref, c->has_dw ? refw : NULL, rows, n);
        break;
    case OP_UNB:
        if (c->uop == MLXN_UNARY_LOG) fill_uniform(&rng, x, tot, 0.05, 4.0);
        else fill_uniform(&rng, x, tot, -8.0, 8.0);
        if (c->tails) plant_tails(x, tot);
        round_through(MLXN_F32, x, (size_t)tot);
        fill_uniform(&rng, dy, tot, -1.0, 1.0);
        ref_unary_backward(c->uop == MLXN_UNARY_SILU ? 0 : 1, x, dy, ref, tot);
        break;
    default: /* OP_RSB: dy [rows] */
        fill_uniform(&rng, dy, rows, -1.0, 1.0);
        ref_row_sum_backward(dy, ref, rows, n);
        break;
    }
    round_through(MLXN_F32, dy, (size_t)tot);
    /* the reference was computed from dy before rounding for the ops that use
       it; recompute now that dy is in f32 */
    if (c->op == OP_SMB) ref_softmax_backward(x, dy, ref, rows, n);
    if (c->op == OP_RMSB) ref_rms_norm_backward(x, c->has_w ? w : NULL, r, dy, ref, c->has_dw ? refw : NULL, rows, n);
    if (c->op == OP_UNB) ref_unary_backward(c->uop == MLXN_UNARY_SILU ? 0 : 1, x, dy, ref, tot);
    if (c->op == OP_RSB) ref_row_sum_backward(dy, ref, rows, n);

    /* outputs and inputs on the device */
    const int64_t shp[2] = {rows, n}, shr[1] = {rows}, shn[1] = {n};
    const int64_t nout = c->op == OP_RMSINV ? rows : tot;
    if (c->op == OP_RMSINV) s = guarded_new(d, MLXN_F32, 1, shr, c->misalign, &g);
    else s = guarded_new(d, MLXN_F32, 2, shp, c->misalign, &g);
    if (s) goto dev_err;
    const bool need_x = c->op != OP_RSB, need_dy = c->op != OP_RMSINV;
    if (need_x && !(c->inplace == IP_FIRST) && (s = upload_2d(d, rows, n, x, c->misalign, &xb, &xv))) goto dev_err;
    if (need_dy && c->op != OP_RSB && c->inplace != IP_DY &&
        (s = upload_2d(d, rows, n, dy, c->misalign, &dyb, &dyv)))
        goto dev_err;
    if (c->op == OP_RSB && (s = upload_values(d, MLXN_F32, 1, shr, dy, &dyv))) goto dev_err;
    if (c->op == OP_RMSB) {
        if ((s = upload_values(d, MLXN_F32, 1, shr, r, &rb))) goto dev_err;
        if (c->has_w && (s = upload_values(d, MLXN_F32, 1, shn, w, &wb))) goto dev_err;
        if (c->has_dw) {
            if ((s = guarded_new(d, MLXN_F32, 1, shn, c->misalign, &gw))) goto dev_err;
            const size_t wsz = mlxn_rms_norm_backward_workspace_size(d, rows, n);
            const int64_t shw[1] = {(int64_t)wsz};
            if ((s = mlxn_buffer_new(d, MLXN_U8, 1, shw, &wsb))) goto dev_err;
            unsigned char *ff = malloc(wsz);
            if (!ff) {
                snprintf(msg, sizeof msg, "out of host memory");
                goto done;
            }
            memset(ff, 0xFF, wsz);
            s = mlxn_buffer_write(wsb, ff, wsz);
            free(ff);
            if (s) goto dev_err;
        }
    }
    for (int pass = 0; pass < (c->repeat ? 2 : 1); pass++) {
        /* in place: the output view holds the aliased input */
        if (c->inplace == IP_FIRST && (s = guarded_fill(&g, x))) goto dev_err;
        if (c->inplace == IP_DY && (s = guarded_fill(&g, dy))) goto dev_err;
        const mlxn_buffer *X = c->inplace == IP_FIRST ? g.view : xv;
        const mlxn_buffer *DY = c->inplace == IP_DY ? g.view : dyv;
        switch (c->op) {
        case OP_SMB: s = mlxn_softmax_backward(env->enc, X, DY, g.view); break;
        case OP_RMSINV: {
            const mlxn_norm_params p = {c->eps};
            s = mlxn_rms_inv(env->enc, X, g.view, &p);
            break;
        }
        case OP_RMSB: s = mlxn_rms_norm_backward(env->enc, X, wb, rb, DY, g.view, gw.view, wsb); break;
        case OP_UNB: {
            const mlxn_unary_params p = {(mlxn_unary_op)c->uop, 0.0f};
            s = mlxn_unary_backward(env->enc, X, DY, g.view, &p);
            break;
        }
        default: s = mlxn_row_sum_backward(env->enc, DY, g.view); break;
        }
        if (!s) s = mlxn_encoder_wait(env->enc);
        if (s) goto dev_err;
        bool guards_ok = false, gw_ok = true;
        if ((s = guarded_read(&g, pass ? got2 : got, &guards_ok))) goto dev_err;
        if (c->has_dw && (s = guarded_read(&gw, pass ? gotw2 : gotw, &gw_ok))) goto dev_err;
        if (!guards_ok || !gw_ok) {
            snprintf(msg, sizeof msg, "guard bytes around an output were overwritten");
            goto done;
        }
    }
    if (c->repeat &&
        (memcmp(got, got2, sizeof(double) * (size_t)nout) || memcmp(gotw, gotw2, sizeof(double) * (size_t)n))) {
        snprintf(msg, sizeof msg, "two runs on the same inputs differ (not deterministic)");
        goto done;
    }
    const double lim = nmse_limit(MLXN_F32);
    const double e = nmse(got, ref, (size_t)nout);
    /* rms_norm_backward's dx = r (dy w - x c) cancels when x is nearly
       parallel to dy w (dim 1 with a small eps: 1 - x^2 r^2 = eps/(x^2+eps));
       the limit is then the f32 rounding of its two terms (see rms_bound) */
    const double limx = c->op == OP_RMSB ? fmax(lim, rms_bound(x, c->has_w ? w : NULL, r, dy, ref, rows, n)) : lim;
    ok = e <= limx;
    if (c->has_dw) {
        const double ew = nmse(gotw, refw, (size_t)n);
        ok = ok && ew <= lim;
        snprintf(msg, sizeof msg, "dx nmse %.3e (limit %.2e), dw nmse %.3e (limit %.0e)", e, limx, ew, lim);
    } else {
        snprintf(msg, sizeof msg, "nmse %.3e (limit %.2e)", e, limx);
    }
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(dyv);
    mlxn_buffer_free(dyb);
    mlxn_buffer_free(wb);
    mlxn_buffer_free(rb);
    mlxn_buffer_free(wsb);
    guarded_free(&g);
    guarded_free(&gw);
    free(x);
    free(dy);
    free(w);
    free(r);
    free(ref);
    free(got);
    free(refw);
    free(gotw);
    free(got2);
    free(gotw2);
}

static void each(const test_env *env, report_t *rep, bool list, bcase *c) {
    name_case(c);
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else run_case(env, rep, c);
}

static bcase base_case(int op, int64_t rows, int64_t n) {
    bcase c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.rows = rows;
    c.n = n;
    c.eps = 1e-6f;
    c.uop = MLXN_UNARY_SILU;
    return c;
}

static void differential_cases(const test_env *env, report_t *rep, bool list) {
    /* row lengths: 1, odd (not a multiple of the 4- and 8-wide vectors),
       around the CPU block (1024), past 4 * 1024 CUDA threads, a vocab row */
    static const int64_t SM[][2] = {{1, 1},    {1, 2},    {3, 7},     {4, 33},   {16, 1000},
                                    {5, 1024}, {3, 4097}, {2, 32000}, {1, 262144}, {512, 4096}};
    for (size_t i = 0; i < sizeof SM / sizeof SM[0]; i++) {
        bcase c = base_case(OP_SMB, SM[i][0], SM[i][1]);
        c.misalign = (int)(i % 2);
        each(env, rep, list, &c);
        if (i % 3 == 1) {
            c.inplace = IP_FIRST;
            each(env, rep, list, &c);
            c.inplace = IP_DY;
            each(env, rep, list, &c);
        }
        bcase c2 = base_case(OP_RMSINV, SM[i][0], SM[i][1]);
        c2.misalign = (int)((i + 1) % 2);
        each(env, rep, list, &c2);
    }
    {
        bcase c = base_case(OP_RMSINV, 7, 100);
        c.eps = 0.5f;
        each(env, rep, list, &c);
        c.eps = 0.0f;
        each(env, rep, list, &c);
    }
    {
        /* aligned short rows: one warp a row on CUDA, 2, 4 and 16 float4
           units a lane (idle lanes in the last unit) */
        static const int64_t RI[][2] = {{6, 200}, {6, 512}, {9, 1540}};
        for (size_t i = 0; i < sizeof RI / sizeof RI[0]; i++) {
            bcase c = base_case(OP_RMSINV, RI[i][0], RI[i][1]);
            each(env, rep, list, &c);
        }
    }
    /* rms_norm_backward: chunks of one row (rows <= 256) and of several rows
       (300, 1000: 1-2 and 3-4 rows a chunk); a last group of fewer than four
       chunks (3, 37, 9) next to whole groups (4, 257, 512, 300, 1000);
       dims 1, odd, the block, past CUDA's 47 KB shared accumulators (16384) */
    static const int64_t RB[][2] = {{1, 1},    {3, 7},    {300, 33},  {1000, 5}, {4, 1024},
                                    {3, 4097}, {2, 16384}, {257, 64}, {512, 4096}};
    int k = 0;
    for (size_t i = 0; i < sizeof RB / sizeof RB[0]; i++)
        for (int v = 0; v < 4; v++, k++) {
            bcase c = base_case(OP_RMSB, RB[i][0], RB[i][1]);
            c.has_w = v & 1;
            c.has_dw = (v >> 1) & 1;
            c.misalign = k % 3 == 1;
            /* dim 1 with a small eps is ill-conditioned (dx ~ eps / x^2 of
               its terms): those rows get eps 0.25, the one case below shows
               the bound at work */
            c.eps = k % 2 && RB[i][1] > 1 ? 1e-6f : 0.25f;
            each(env, rep, list, &c);
        }
    {
        bcase c = base_case(OP_RMSB, 4, 1);
        c.has_w = true;
        each(env, rep, list, &c);
    }
    {
        static const int64_t IP[][2] = {{5, 33}, {300, 1024}};
        for (int i = 0; i < 2; i++)
            for (int ip = IP_FIRST; ip <= IP_DY; ip++) {
                bcase c = base_case(OP_RMSB, IP[i][0], IP[i][1]);
                c.has_w = c.has_dw = true;
                c.inplace = ip;
                c.misalign = i;
                each(env, rep, list, &c);
            }
        bcase c = base_case(OP_RMSB, 1000, 300);
        c.has_w = c.has_dw = c.repeat = true;
        each(env, rep, list, &c);
        c = base_case(OP_RMSB, 700, 4096);
        c.has_dw = c.repeat = true;
        c.misalign = 1;
        each(env, rep, list, &c);
    }
    {
        /* aligned rows of 2 and 4 float4 units a thread (CUDA's register
           path) with idle units in the last step, and a full 8192 */
        static const int64_t RG[][2] = {{37, 2000}, {300, 6144}, {9, 8192}};
        for (size_t i = 0; i < sizeof RG / sizeof RG[0]; i++)
            for (int v = 0; v < 4; v++) {
                bcase c = base_case(OP_RMSB, RG[i][0], RG[i][1]);
                c.has_w = v & 1;
                c.has_dw = (v >> 1) & 1;
                c.eps = 1e-6f;
                each(env, rep, list, &c);
            }
    }
    /* unary backward */
    static const int64_t UN[][2] = {{1, 1}, {1, 3}, {10, 100}, {1, 4097}, {1024, 1024}, {3, 333333}};
    k = 0;
    for (int op = 0; op < 2; op++)
        for (size_t i = 0; i < sizeof UN / sizeof UN[0]; i++, k++) {
            bcase c = base_case(OP_UNB, UN[i][0], UN[i][1]);
            c.uop = op ? MLXN_UNARY_LOG : MLXN_UNARY_SILU;
            c.misalign = k % 2;
            each(env, rep, list, &c);
            if (i == 3 || i == 4) {
                c.inplace = IP_FIRST;
                each(env, rep, list, &c);
                c.inplace = IP_DY;
                each(env, rep, list, &c);
            }
        }
    {
        bcase c = base_case(OP_UNB, 4, 1000);
        c.tails = true;
        each(env, rep, list, &c);
    }
    /* row_sum backward */
    static const int64_t RS[][2] = {{1, 1}, {3, 1}, {1, 5}, {7, 33}, {4096, 1}, {2, 4097}, {1000, 3}, {512, 4096}};
    for (size_t i = 0; i < sizeof RS / sizeof RS[0]; i++) {
        bcase c = base_case(OP_RSB, RS[i][0], RS[i][1]);
        c.misalign = (int)(i % 2);
        each(env, rep, list, &c);
    }
}

/* ---- finite differences (host only, float64) ----------------------------------- */

enum { FD_SOFTMAX, FD_RMS, FD_SILU, FD_LOG, FD_ROWSUM };

typedef struct {
    int kind;
    int64_t rows, n;
    bool has_w;
    double eps;
    int mutant; /* 0: the reference formula; else a deliberately wrong one */
} fdcase;

/* L = sum dy * forward(x, w) */
static double fd_loss(const fdcase *f, const double *x, const double *w, const double *dy, double *tmp) {
    const int64_t tot = f->rows * f->n;
    int64_t nout = tot;
    switch (f->kind) {
    case FD_SOFTMAX: ref_bw_softmax_fwd(x, tmp, f->rows, f->n); break;
    case FD_RMS: ref_bw_rms_norm_fwd(x, f->has_w ? w : NULL, tmp, f->rows, f->n, f->eps); break;
    case FD_SILU: ref_bw_unary_fwd(0, x, tmp, tot); break;
    case FD_LOG: ref_bw_unary_fwd(1, x, tmp, tot); break;
    default:
        ref_bw_row_sum_fwd(x, tmp, f->rows, f->n);
        nout = f->rows;
        break;
    }
    double L = 0.0;
    for (int64_t i = 0; i < nout; i++) L += dy[i] * tmp[i];
    return L;
}

/* The analytic gradients (dx, and dw for rms) of L from the reference
   backward — or, for a mutant, from a wrong formula. */
static void fd_analytic(const fdcase *f, const double *x, const double *w, const double *dy, double *dx, double *dw,
                        double *tmp) {
    const int64_t tot = f->rows * f->n;
    switch (f->kind) {
    case FD_SOFTMAX:
        ref_bw_softmax_fwd(x, tmp, f->rows, f->n);
        if (f->mutant)
            for (int64_t i = 0; i < tot; i++) dx[i] = tmp[i] * dy[i]; /* drops the row sum */
        else ref_softmax_backward(tmp, dy, dx, f->rows, f->n);
        break;
    case FD_RMS: {
        double *r = tmp;
        ref_rms_inv(x, r, f->rows, f->n, f->eps);
        ref_rms_norm_backward(x, f->has_w ? w : NULL, r, dy, dx, dw, f->rows, f->n);
        if (f->mutant) /* treats r as a constant: dx = r dy w */
            for (int64_t i = 0; i < tot; i++) dx[i] = r[i / f->n] * dy[i] * (f->has_w ? w[i % f->n] : 1.0);
        break;
    }
    case FD_SILU:
        if (f->mutant)
            for (int64_t i = 0; i < tot; i++) dx[i] = dy[i] / (1.0 + exp(-x[i])); /* sigmoid only */
        else ref_unary_backward(0, x, dy, dx, tot);
        break;
    case FD_LOG: ref_unary_backward(1, x, dy, dx, tot); break;
    default: ref_row_sum_backward(dy, dx, f->rows, f->n); break;
    }
}

static void fd_case(report_t *rep, bool list, const char *name, const fdcase *f) {
    if (!report_wants(rep, name)) return;
    if (list) {
        printf("%s\n", name);
        return;
    }
    const int64_t tot = f->rows * f->n;
    double *x = malloc(sizeof(double) * (size_t)tot), *dy = malloc(sizeof(double) * (size_t)tot);
    double *w = malloc(sizeof(double) * (size_t)f->n), *dx = malloc(sizeof(double) * (size_t)tot);
    double *dw = malloc(sizeof(double) * (size_t)f->n), *tmp = malloc(sizeof(double) * (size_t)tot);
    if (!x || !dy || !w || !dx || !dw || !tmp) {
        report_case(rep, name, false, "out of host memory");
        goto out;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(name));
    for (int64_t i = 0; i < tot; i++) {
        x[i] = f->kind == FD_LOG ? rng_uniform(&rng, 0.5, 3.0) : rng_nonzero(&rng, MLXN_F32, -2.0, 2.0);
        dy[i] = rng_nonzero(&rng, MLXN_F32, -1.0, 1.0);
    }
    for (int64_t j = 0; j < f->n; j++) w[j] = rng_nonzero(&rng, MLXN_F32, -2.0, 2.0);
    fd_analytic(f, x, w, dy, dx, dw, tmp);
    const double h = 1e-5;
    double err = 0.0, scale = 1.0;
    for (int64_t i = 0; i < tot; i++) {
        const double x0 = x[i];
        x[i] = x0 + h;
        const double lp = fd_loss(f, x, w, dy, tmp);
        x[i] = x0 - h;
        const double lm = fd_loss(f, x, w, dy, tmp);
        x[i] = x0;
        const double fd = (lp - lm) / (2.0 * h);
        err = fmax(err, fabs(fd - dx[i]));
        scale = fmax(scale, fabs(dx[i]));
    }
    double errw = 0.0;
    if (f->kind == FD_RMS && f->has_w) {
        for (int64_t j = 0; j < f->n; j++) {
            const double w0 = w[j];
            w[j] = w0 + h;
            const double lp = fd_loss(f, x, w, dy, tmp);
            w[j] = w0 - h;
            const double lm = fd_loss(f, x, w, dy, tmp);
            w[j] = w0;
            const double fd = (lp - lm) / (2.0 * h);
            errw = fmax(errw, fabs(fd - dw[j]));
            scale = fmax(scale, fabs(dw[j]));
        }
    }
    const double tol = 1e-7 * scale, worst = fmax(err, errw);
    if (f->mutant)
        report_case(rep, name, worst > 1e3 * tol, "the wrong formula is off by %.3e (tolerance %.1e): %s", worst, tol,
                    worst > 1e3 * tol ? "rejected" : "NOT rejected");
    else report_case(rep, name, worst <= tol, "max |fd - ref| dx %.3e, dw %.3e (tolerance %.1e)", err, errw, tol);
out:
    free(x);
    free(dy);
    free(w);
    free(dx);
    free(dw);
    free(tmp);
}

static void fd_cases(report_t *rep, bool list) {
    static const int64_t SH[][2] = {{1, 1}, {3, 7}, {2, 33}};
    char name[160];
    for (int i = 0; i < 3; i++) {
        const int64_t rows = SH[i][0], n = SH[i][1];
        fdcase f = {FD_SOFTMAX, rows, n, false, 0.0, 0};
        snprintf(name, sizeof name, "backward/fd/softmax/r%lld.n%lld", (long long)rows, (long long)n);
        fd_case(rep, list, name, &f);
        for (int v = 0; v < 4; v++) {
            fdcase g = {FD_RMS, rows, n, v & 1, v & 2 ? 0.5 : 1e-6, 0};
            snprintf(name, sizeof name, "backward/fd/rms_norm/r%lld.n%lld%s/eps%g", (long long)rows, (long long)n,
                     g.has_w ? "/w" : "", g.eps);
            fd_case(rep, list, name, &g);
        }
        fdcase s = {FD_SILU, rows, n, false, 0.0, 0};
        snprintf(name, sizeof name, "backward/fd/silu/r%lld.n%lld", (long long)rows, (long long)n);
        fd_case(rep, list, name, &s);
        fdcase l = {FD_LOG, rows, n, false, 0.0, 0};
        snprintf(name, sizeof name, "backward/fd/log/r%lld.n%lld", (long long)rows, (long long)n);
        fd_case(rep, list, name, &l);
        fdcase rs = {FD_ROWSUM, rows, n, false, 0.0, 0};
        snprintf(name, sizeof name, "backward/fd/row_sum/r%lld.n%lld", (long long)rows, (long long)n);
        fd_case(rep, list, name, &rs);
    }
    /* the check must catch a wrong formula */
    fdcase m1 = {FD_SOFTMAX, 3, 7, false, 0.0, 1};
    fd_case(rep, list, "backward/fd/mutant/softmax_without_row_sum", &m1);
    fdcase m2 = {FD_RMS, 3, 7, true, 1e-6, 1};
    fd_case(rep, list, "backward/fd/mutant/rms_norm_r_constant", &m2);
    fdcase m3 = {FD_SILU, 3, 7, false, 0.0, 1};
    fd_case(rep, list, "backward/fd/mutant/silu_sigmoid_only", &m3);
}

/* ---- validation -------------------------------------------------------------- */

#define INV MLXN_ERR_INVALID_ARGUMENT
#define UNS MLXN_ERR_UNSUPPORTED

static void validation_cases(vctx *v) {
    mlxn_device *dev = v->env->dev;
    mlxn_encoder *enc = v->env->enc;
    const int64_t sh[2] = {4, 128}, sh3[2] = {3, 128}, shc[2] = {8, 64}, r4[1] = {4}, r3[1] = {3}, d128[1] = {128},
                  d100[1] = {100}, big[1] = {2048}, big4k[1] = {4096};
    const mlxn_norm_params np = {1e-6f};
    const mlxn_unary_params up = {MLXN_UNARY_SILU, 0.0f};
    char name[160];
    uint64_t d0 = 0;
    const size_t wsz = mlxn_rms_norm_backward_workspace_size(dev, 4, 128);
    const int64_t shws[1] = {(int64_t)wsz}, shws_small[1] = {(int64_t)wsz - 4};
#define NAME(op, rule) (snprintf(name, sizeof name, "backward/validate/%s/%s", op, rule), name)

    /* ---- softmax_backward ---- */
    {
        const char *op = "softmax_backward";
#define SMB_SET                                                            \
    vset s = {.setup_ok = true};                                           \
    mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);               \
    mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D);              \
    mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);              \
    d0 = dispatches(dev)
        VCASE(v, NAME(op, "null_encoder")) {
            SMB_SET;
            vcheck(v, name, &s, d0, mlxn_softmax_backward(NULL, y, dy, dx), INV, op, "encoder is NULL", NULL);
        }
        VCASE(v, NAME(op, "null_y")) {
            SMB_SET;
            (void)y;
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, NULL, dy, dx), INV, op, "y is NULL", NULL);
        }
        VCASE(v, NAME(op, "null_dy")) {
            SMB_SET;
            (void)dy;
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, NULL, dx), INV, op, "dy is NULL", NULL);
        }
        VCASE(v, NAME(op, "null_dx")) {
            SMB_SET;
            (void)dx;
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, NULL), INV, op, "dx is NULL", NULL);
        }
        VCASE(v, NAME(op, "y_f16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3C);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D), *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), UNS, op, "y dtype f16", "f32 only", NULL);
        }
        VCASE(v, NAME(op, "dx_bf16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D), *dx = vs_new(&s, dev, MLXN_BF16, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), UNS, op, "dx dtype bf16", NULL);
        }
        VCASE(v, NAME(op, "dy_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh3, 0x3D), *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), INV, op,
                   "dy has 384 elements in rows of 128, y has 512 in rows of 128", NULL);
        }
        VCASE(v, NAME(op, "dx_row_length")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D), *dx = vs_new(&s, dev, MLXN_F32, 2, shc, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), INV, op, "dx has 512 elements in rows of 64",
                   NULL);
        }
        VCASE(v, NAME(op, "dx_partially_overlaps_y")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *y = vs_view(&s, b, 0, MLXN_F32, 2, sh), *dx = vs_view(&s, b, 64 * 4, MLXN_F32, 2, sh);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), INV, op, "dx partially overlaps y", NULL);
        }
        VCASE(v, NAME(op, "dy_other_device")) {
            vset s = {.setup_ok = v->other != NULL};
            mlxn_buffer *y = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);
            mlxn_buffer *dy = v->other ? vs_new(&s, v->other, MLXN_F32, 2, sh, 0x3D) : NULL;
            mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dx), INV, op, "dy lives on device", NULL);
        }
        VCASE(v, NAME(op, "ok_in_place_dy")) {
            SMB_SET;
            (void)dx;
            vcheck_ok(v, name, &s, d0, mlxn_softmax_backward(enc, y, dy, dy));
        }
#undef SMB_SET
    }
    /* ---- rms_inv ---- */
    {
        const char *op = "rms_inv";
#define RI_SET                                                \
    vset s = {.setup_ok = true};                              \
    mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);  \
    mlxn_buffer *r = vs_new(&s, dev, MLXN_F32, 1, r4, 0x5A);  \
    d0 = dispatches(dev)
        VCASE(v, NAME(op, "null_params")) {
            RI_SET;
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, NULL), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME(op, "null_r")) {
            RI_SET;
            (void)r;
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, NULL, &np), INV, op, "r is NULL", NULL);
        }
        VCASE(v, NAME(op, "eps_negative")) {
            RI_SET;
            const mlxn_norm_params bad = {-0.5f};
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &bad), INV, op, "eps (-0.5)", NULL);
        }
        VCASE(v, NAME(op, "eps_nan")) {
            RI_SET;
            const mlxn_norm_params bad = {NAN};
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &bad), INV, op, "eps (nan)", NULL);
        }
        VCASE(v, NAME(op, "x_f16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3C), *r = vs_new(&s, dev, MLXN_F32, 1, r4, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &np), UNS, op, "x dtype f16", NULL);
        }
        VCASE(v, NAME(op, "r_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *r = vs_new(&s, dev, MLXN_F32, 1, r3, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &np), INV, op, "r has 3 elements, x has 4 rows of 128",
                   NULL);
        }
        VCASE(v, NAME(op, "r_overlaps_x")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *r = vs_view(&s, b, 100 * 4, MLXN_F32, 1, r4);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &np), INV, op, "r overlaps x", NULL);
        }
        VCASE(v, NAME(op, "ok")) {
            RI_SET;
            vcheck_ok(v, name, &s, d0, mlxn_rms_inv(enc, x, r, &np));
        }
#undef RI_SET
    }
    /* ---- rms_norm_backward ---- */
    {
        const char *op = "rms_norm_backward";
#define RB_SET                                                        \
    vset s = {.setup_ok = true};                                      \
    mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);          \
    mlxn_buffer *w = vs_new(&s, dev, MLXN_F32, 1, d128, 0x3E);        \
    mlxn_buffer *r = vs_new(&s, dev, MLXN_F32, 1, r4, 0x3F);          \
    mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x40);         \
    mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);         \
    mlxn_buffer *dw = vs_new(&s, dev, MLXN_F32, 1, d128, 0x5B);       \
    mlxn_buffer *ws = vs_new(&s, dev, MLXN_U8, 1, shws, 0x5C);        \
    d0 = dispatches(dev)
        VCASE(v, NAME(op, "workspace_size")) {
            /* min(rows, 256) chunks of dim f32 sums; 0 for empty shapes */
            const size_t a = mlxn_rms_norm_backward_workspace_size(dev, 4, 128),
                         b = mlxn_rms_norm_backward_workspace_size(dev, 1000, 64),
                         c = mlxn_rms_norm_backward_workspace_size(dev, 0, 64),
                         e = mlxn_rms_norm_backward_workspace_size(NULL, 3, -1);
            const bool ok = a == 4 * 128 * 4 && b == 256 * 64 * 4 && c == 0 && e == 0;
            report_case(v->rep, name, ok, "sizes %zu %zu %zu %zu", a, b, c, e);
        }
        VCASE(v, NAME(op, "null_r")) {
            RB_SET;
            (void)r;
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, NULL, dy, dx, dw, ws), INV, op, "r is NULL",
                   NULL);
        }
        VCASE(v, NAME(op, "null_dx")) {
            RB_SET;
            (void)dx;
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, NULL, dw, ws), INV, op, "dx is NULL",
                   NULL);
        }
        VCASE(v, NAME(op, "w_f16")) {
            RB_SET;
            (void)w;
            mlxn_buffer *wh = vs_new(&s, dev, MLXN_F16, 1, d128, 0x3E);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, wh, r, dy, dx, dw, ws), UNS, op, "w dtype f16",
                   NULL);
        }
        VCASE(v, NAME(op, "w_numel")) {
            RB_SET;
            (void)w;
            mlxn_buffer *w2 = vs_new(&s, dev, MLXN_F32, 1, d100, 0x3E);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w2, r, dy, dx, dw, ws), INV, op,
                   "w has 100 elements, rows have 128", NULL);
        }
        VCASE(v, NAME(op, "r_numel")) {
            RB_SET;
            (void)r;
            mlxn_buffer *r2 = vs_new(&s, dev, MLXN_F32, 1, r3, 0x3F);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r2, dy, dx, dw, ws), INV, op,
                   "r has 3 elements, x has 4 rows of 128", NULL);
        }
        VCASE(v, NAME(op, "dw_numel")) {
            RB_SET;
            (void)dw;
            mlxn_buffer *dw2 = vs_new(&s, dev, MLXN_F32, 1, d100, 0x5B);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx, dw2, ws), INV, op,
                   "dw has 100 elements, rows have 128", NULL);
        }
        VCASE(v, NAME(op, "dy_shape")) {
            RB_SET;
            (void)dy;
            mlxn_buffer *dy2 = vs_new(&s, dev, MLXN_F32, 2, shc, 0x40);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy2, dx, dw, ws), INV, op,
                   "dy has 512 elements in rows of 64, x has 512 in rows of 128", NULL);
        }
        VCASE(v, NAME(op, "ws_null")) {
            RB_SET;
            (void)ws;
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx, dw, NULL), INV, op,
                   "ws is NULL, dw needs a workspace of 2048 bytes", NULL);
        }
        VCASE(v, NAME(op, "ws_small")) {
            RB_SET;
            (void)ws;
            mlxn_buffer *ws2 = vs_new(&s, dev, MLXN_U8, 1, shws_small, 0x5C);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx, dw, ws2), INV, op,
                   "ws has 2044 bytes, 2048 needed (rows 4, dim 128)", NULL);
        }
        VCASE(v, NAME(op, "ws_misaligned")) {
            RB_SET;
            (void)ws;
            mlxn_buffer *wsb = vs_new(&s, dev, MLXN_U8, 1, big4k, 0x5C);
            mlxn_buffer *ws2 = vs_view(&s, wsb, 1, MLXN_U8, 1, shws);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx, dw, ws2), INV, op,
                   "ws must start at a multiple of 4 bytes", NULL);
        }
        VCASE(v, NAME(op, "dx_partially_overlaps_dy")) {
            RB_SET;
            (void)dy;
            (void)dx;
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x41);
            mlxn_buffer *dy2 = vs_view(&s, b, 0, MLXN_F32, 2, sh), *dx2 = vs_view(&s, b, 4, MLXN_F32, 2, sh);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy2, dx2, dw, ws), INV, op,
                   "dx partially overlaps dy", NULL);
        }
        VCASE(v, NAME(op, "dx_overlaps_r")) {
            RB_SET;
            (void)r;
            (void)dx;
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x41);
            mlxn_buffer *dx2 = vs_view(&s, b, 0, MLXN_F32, 2, sh), *r2 = vs_view(&s, b, 8, MLXN_F32, 1, r4);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r2, dy, dx2, dw, ws), INV, op,
                   "dx overlaps r", NULL);
        }
        VCASE(v, NAME(op, "dw_overlaps_x")) {
            RB_SET;
            (void)x;
            (void)dw;
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x41);
            mlxn_buffer *x2 = vs_view(&s, b, 0, MLXN_F32, 2, sh), *dw2 = vs_view(&s, b, 256, MLXN_F32, 1, d128);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x2, w, r, dy, dx, dw2, ws), INV, op,
                   "dw overlaps x", NULL);
        }
        VCASE(v, NAME(op, "ws_overlaps_dx")) {
            RB_SET;
            (void)dx;
            (void)ws;
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x41);
            mlxn_buffer *dx2 = vs_view(&s, b, 0, MLXN_F32, 2, sh);
            mlxn_buffer *ws2 = vs_view(&s, b, 1024, MLXN_U8, 1, shws);
            vcheck(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx2, dw, ws2), INV, op,
                   "ws overlaps dx", NULL);
        }
        VCASE(v, NAME(op, "ok_no_dw_no_ws")) {
            RB_SET;
            (void)dw;
            (void)ws;
            vcheck_ok(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, w, r, dy, dx, NULL, NULL));
        }
        VCASE(v, NAME(op, "ok_in_place_dy_no_w")) {
            RB_SET;
            (void)w;
            (void)dx;
            vcheck_ok(v, name, &s, d0, mlxn_rms_norm_backward(enc, x, NULL, r, dy, dy, dw, ws));
        }
#undef RB_SET
    }
    /* ---- unary_backward ---- */
    {
        const char *op = "unary_backward";
#define UB_SET                                                    \
    vset s = {.setup_ok = true};                                  \
    mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C);      \
    mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D);     \
    mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);     \
    d0 = dispatches(dev)
        VCASE(v, NAME(op, "null_params")) {
            UB_SET;
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, NULL), INV, op, "params is NULL", NULL);
        }
        VCASE(v, NAME(op, "op_gelu")) {
            UB_SET;
            const mlxn_unary_params bad = {MLXN_UNARY_GELU, 0.0f};
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, &bad), UNS, op, "op 0 is not supported",
                   NULL);
        }
        VCASE(v, NAME(op, "op_out_of_range")) {
            UB_SET;
            const mlxn_unary_params bad = {(mlxn_unary_op)77, 0.0f};
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, &bad), UNS, op, "op 77", NULL);
        }
        VCASE(v, NAME(op, "dy_f16")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *dy = vs_new(&s, dev, MLXN_F16, 2, sh, 0x3D);
            mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, &up), UNS, op, "dy dtype f16", NULL);
        }
        VCASE(v, NAME(op, "dx_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *x = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3C), *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D);
            mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh3, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, &up), INV, op, "dx has 384 elements, x 512",
                   NULL);
        }
        VCASE(v, NAME(op, "dx_partially_overlaps_x")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *x = vs_view(&s, b, 0, MLXN_F32, 2, sh), *dx = vs_view(&s, b, 4, MLXN_F32, 2, sh);
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 2, sh, 0x3D);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, dx, &up), INV, op, "dx partially overlaps x",
                   NULL);
        }
        VCASE(v, NAME(op, "ok_in_place_x")) {
            UB_SET;
            (void)dx;
            vcheck_ok(v, name, &s, d0, mlxn_unary_backward(enc, x, dy, x, &up));
        }
#undef UB_SET
    }
    /* ---- row_sum_backward ---- */
    {
        const char *op = "row_sum_backward";
        VCASE(v, NAME(op, "null_dy")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_row_sum_backward(enc, NULL, dx), INV, op, "dy is NULL", NULL);
        }
        VCASE(v, NAME(op, "dy_numel")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 1, r3, 0x3D), *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_row_sum_backward(enc, dy, dx), INV, op,
                   "dy has 3 elements, dx has 4 rows of 128", NULL);
        }
        VCASE(v, NAME(op, "dx_i32")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 1, r4, 0x3D), *dx = vs_new(&s, dev, MLXN_I32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_row_sum_backward(enc, dy, dx), UNS, op, "dx dtype i32", NULL);
        }
        VCASE(v, NAME(op, "dx_overlaps_dy")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *b = vs_new(&s, dev, MLXN_F32, 1, big, 0x3C);
            mlxn_buffer *dx = vs_view(&s, b, 0, MLXN_F32, 2, sh), *dy = vs_view(&s, b, 40, MLXN_F32, 1, r4);
            d0 = dispatches(dev);
            vcheck(v, name, &s, d0, mlxn_row_sum_backward(enc, dy, dx), INV, op, "dx overlaps dy", NULL);
        }
        VCASE(v, NAME(op, "ok")) {
            vset s = {.setup_ok = true};
            mlxn_buffer *dy = vs_new(&s, dev, MLXN_F32, 1, r4, 0x3D), *dx = vs_new(&s, dev, MLXN_F32, 2, sh, 0x5A);
            d0 = dispatches(dev);
            vcheck_ok(v, name, &s, d0, mlxn_row_sum_backward(enc, dy, dx));
        }
    }
#undef NAME
}

void backward_suite(const test_env *env, report_t *rep, bool list) {
    differential_cases(env, rep, list);
    fd_cases(rep, list);
    vctx v = {env, rep, list, NULL};
    if (!list && mlxn_device_open(MLXN_BACKEND_CPU, 0, &v.other) != MLXN_OK) v.other = NULL;
    validation_cases(&v);
    mlxn_device_close(v.other);
}
