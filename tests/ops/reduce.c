/* tests/ops/reduce.c — differential and validation cases of the reduce family
   (mlxn_argmax, mlxn_cumsum, mlxn_row_sum) against tests/ref/ref_reduce.c.

   Case names encode their parameters:
     argmax/<dtype>/r<rows>.n<n>[/noval][/mis1]/<fill>
     cumsum/<dtype>/r<rows>.n<n>/<incl|excl>.<fwd|rev>[/mis1][/inplace]/<fill>
     row_sum/<dtype>.to.<ydtype>/r<rows>.n<n>[/mis1]/<fill>
   Inputs are seeded from the case name; every output is a guarded view
   (poisoned, guard bytes around it).

   argmax is checked exactly: every index must equal the reference's and
   every value must be the reference value bit for bit (sign of zero
   included; a NaN for a NaN).

   cumsum / row_sum: NMSE against the float64 reference, limit
     max(nmse_limit(dtype), 4 F + B)
   where F = NMSE of the reference rounded to the output dtype (what the
   output rounding alone costs; 0 for f32) and B bounds the f32 accumulation.
   Derivation of B: in f32 every addition a + b is exact up to a relative
   u = 2^-24 of its result. Both backends keep every f32 accumulation chain
   within a block and carry or combine the blocks in double. cumsum: chains
   of at most L = min(n, 1024) additions (CPU: blocks of 1024 scanned 8 lanes
   at a time, 128 steps + 3 tree levels; CUDA: 4 per thread + a warp and a
   block tree, ~14). row_sum: L = min(n, 4096) (CPU: 1024-blocks in 8-16
   lanes, <= 128 per lane; CUDA: <= n/(4*threads) vectors per thread, 1953 at
   n = 2e6, + a tree). The rounding errors of a chain of k additions are independent
   and of either sign, so their sum is ~ u*sqrt(k)*(the magnitudes summed);
   taking 2 standard deviations, k <= L, and the magnitudes bounded by the
   sum of |x| over the prefix, element i is off by at most
     e_i = 2u*sqrt(L)*A_i + u*|y_i|,   A_i = sum of |x_k| over i's prefix
   (the last term: the final rounding to f32). B = sum e_i^2 / sum y_i^2.
   For positive data (A_i = y_i) that is (2*32 + 1)^2 u^2 = 1.5e-11 for
   cumsum whatever n is, while a naive f32 running sum over the whole row
   errs by about u*sqrt(n/3) relative: measured 6e-11..1.4e-9 at n = 2e6 —
   the "pos" long-row cases report the naive sum's NMSE next to ours (f32
   cumsum has no 1e-10 floor; row_sum keeps nmse_limit, 1e-10). For mixed signs, B is loose
   (A_i >> |y_i|), but a real bug (wrong order, lost carry, wrong row) gives
   errors of the order of y itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_reduce.h"

enum { OP_ARGMAX, OP_CUMSUM, OP_ROWSUM };
enum { FILL_UNIFORM, FILL_POS, FILL_TIES, FILL_NAN, FILL_INF, FILL_EQUAL };
static const char *FILL_NAMES[] = {"uniform", "pos", "ties", "nan", "inf", "equal"};
static const char *OP_NAMES[] = {"argmax", "cumsum", "row_sum"};

typedef struct {
    char name[200];
    int op;
    mlxn_dtype dt, ydt; /* ydt: row_sum's output dtype */
    int64_t rows, n;
    int fill;
    int misalign;
    bool inplace, noval;
    int excl, rev;
} rcase;

static const mlxn_dtype DT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

static void name_case(rcase *c) {
    const char *mis = c->misalign ? "/mis1" : "";
    switch (c->op) {
    case OP_ARGMAX:
        snprintf(c->name, sizeof c->name, "argmax/%s/r%lld.n%lld%s%s/%s", mlxn_dtype_name(c->dt), (long long)c->rows,
                 (long long)c->n, c->noval ? "/noval" : "", mis, FILL_NAMES[c->fill]);
        break;
    case OP_CUMSUM:
        snprintf(c->name, sizeof c->name, "cumsum/%s/r%lld.n%lld/%s.%s%s%s/%s", mlxn_dtype_name(c->dt),
                 (long long)c->rows, (long long)c->n, c->excl ? "excl" : "incl", c->rev ? "rev" : "fwd", mis,
                 c->inplace ? "/inplace" : "", FILL_NAMES[c->fill]);
        break;
    default:
        snprintf(c->name, sizeof c->name, "row_sum/%s.to.%s/r%lld.n%lld%s/%s", mlxn_dtype_name(c->dt),
                 mlxn_dtype_name(c->ydt), (long long)c->rows, (long long)c->n, mis, FILL_NAMES[c->fill]);
        break;
    }
}

/* A view of rows x n values of dtype t starting `misalign` elements into a
   fresh allocation (so the view is misaligned for vector loads). */
static mlxn_status upload_view(mlxn_device *d, mlxn_dtype t, int64_t rows, int64_t n, const double *v, int misalign,
                               mlxn_buffer **base, mlxn_buffer **view) {
    const int64_t tot = rows * n;
    double *tmp = malloc(sizeof(double) * (size_t)(tot + misalign));
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < misalign; i++) tmp[i] = 0.5;
    memcpy(tmp + misalign, v, sizeof(double) * (size_t)tot);
    int64_t shp1[1] = {tot + misalign}, shp2[2] = {rows, n};
    mlxn_status s = upload_values(d, t, 1, shp1, tmp, base);
    free(tmp);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)misalign * mlxn_dtype_size(t), t, 2, shp2, view);
}

static void fill_inputs(const rcase *c, rng_t *rng, double *x) {
    const int64_t n = c->n, tot = c->rows * c->n;
    for (int64_t i = 0; i < tot; i++) {
        double v = c->fill == FILL_POS ? rng_uniform(rng, 0.0, 1.0) : rng_uniform(rng, -1.0, 1.0);
        if (c->fill == FILL_TIES) v = rng_uniform(rng, -1.0, 0.5);
        if (c->fill == FILL_EQUAL) v = 0.375;
        if (v == 0.0) v = 0.25;
        x[i] = v;
    }
    for (int64_t r = 0; r < c->rows; r++) {
        double *xr = x + r * n;
        if (c->fill == FILL_TIES) {
            /* 2..5 copies of the max 0.75 at random places, one of them often
               late, plus the last element of a block boundary when present */
            const int k = 2 + (int)rng_int(rng, 0, 3);
            for (int j = 0; j < k; j++) xr[rng_int(rng, 0, n - 1)] = 0.75;
            if (n > 1024) xr[1023] = 0.75;
        } else if (c->fill == FILL_NAN) {
            switch (r % 4) {
            case 0: /* two NaNs: the first wins; a larger value before it does not */
                xr[n / 2] = NAN;
                xr[n - 1] = NAN;
                xr[0] = 100.0;
                break;
            case 1: xr[0] = NAN; break;
            case 2: break; /* no NaN */
            default:      /* +inf before a NaN at the end: the NaN wins */
                xr[n / 3] = INFINITY;
                xr[n - 1] = NAN;
                break;
            }
        } else if (c->fill == FILL_INF) {
            switch (r % 4) {
            case 0: /* all -inf: index 0 */
                for (int64_t j = 0; j < n; j++) xr[j] = -INFINITY;
                break;
            case 1: /* -inf except the last */
                for (int64_t j = 0; j < n - 1; j++) xr[j] = -INFINITY;
                xr[n - 1] = -3.0;
                break;
            case 2: /* +inf twice */
                xr[(n - 1) / 2] = INFINITY;
                xr[n - 1] = INFINITY;
                break;
            default: /* max 0 as -0.0 first, then +0.0: the -0.0 (bitwise) */
                for (int64_t j = 0; j < n; j++) xr[j] = -fabs(xr[j]);
                xr[n - 1] = 0.0;
                xr[(n - 1) / 2] = -0.0;
                break;
            }
        }
    }
    round_through(c->dt, x, (size_t)tot);
}

/* B of the header comment, for cumsum (scan) or row_sum (only the totals). */
static double accumulation_bound(const double *x, const double *ref, int64_t rows, int64_t n, bool scan, int rev) {
    const int64_t Lmax = scan ? 1024 : 4096;
    const double u = ldexp(1.0, -24), L = (double)(n < Lmax ? n : Lmax), k = 2.0 * u * sqrt(L);
    double num = 0.0, den = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        double A = 0.0;
        for (int64_t q = 0; q < n; q++) {
            const int64_t j = rev ? n - 1 - q : q;
            A += fabs(x[r * n + j]);
            if (scan) {
                const double y = ref[r * n + j], e = k * A + u * fabs(y);
                num += e * e;
                den += y * y;
            }
        }
        if (!scan) {
            const double y = ref[r], e = k * A + u * fabs(y);
            num += e * e;
            den += y * y;
        }
    }
    return den > 0.0 ? num / den : 0.0;
}

static double sum_limit(mlxn_dtype out, const double *ref, size_t nref, double B, bool scan) {
    double F = 0.0;
    if (out != MLXN_F32) {
        double *rr = malloc(sizeof(double) * nref);
        if (rr) {
            memcpy(rr, ref, sizeof(double) * nref);
            round_through(out, rr, nref);
            F = nmse(rr, ref, nref);
            free(rr);
        }
    }
    const double lim = 4.0 * F + B;
    /* f32 cumsum is held to B itself (no 1e-10 floor): that is what makes a
       naive whole-row f32 scan fail the 2M-long positive rows */
    const double floor_lim = scan && out == MLXN_F32 ? 0.0 : nmse_limit(out);
    return lim > floor_lim ? lim : floor_lim;
}

/* NMSE a naive f32 running sum over the whole row would score (for the
   report of the long positive rows). */
static double naive_nmse(const double *x, const double *ref, int64_t rows, int64_t n, bool scan, int rev, int excl) {
    double num = 0.0, den = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        float s = 0.0f;
        for (int64_t q = 0; q < n; q++) {
            const int64_t j = rev ? n - 1 - q : q;
            if (excl && scan) { /* compare the sum before adding x[j] */
                const double d = (double)s - ref[r * n + j];
                num += d * d;
                den += ref[r * n + j] * ref[r * n + j];
                s += (float)x[r * n + j];
                continue;
            }
            s += (float)x[r * n + j];
            if (scan) {
                const double d = (double)s - ref[r * n + j];
                num += d * d;
                den += ref[r * n + j] * ref[r * n + j];
            }
        }
        if (!scan) {
            num += ((double)s - ref[r]) * ((double)s - ref[r]);
            den += ref[r] * ref[r];
        }
    }
    return num / den;
}

static bool same_value(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static void run_case(const test_env *env, report_t *rep, const rcase *c) {
    const int64_t tot = c->rows * c->n;
    const int64_t nout = c->op == OP_CUMSUM ? tot : c->rows;
    double *x = malloc(sizeof(double) * (size_t)tot), *ref = malloc(sizeof(double) * (size_t)nout);
    double *got = malloc(sizeof(double) * (size_t)nout), *vref = malloc(sizeof(double) * (size_t)c->rows);
    double *vgot = malloc(sizeof(double) * (size_t)c->rows);
    int64_t *iref = malloc(sizeof(int64_t) * (size_t)c->rows);
    mlxn_buffer *xb = NULL, *xv = NULL;
    guarded_t g, gv;
    memset(&g, 0, sizeof g);
    memset(&gv, 0, sizeof gv);
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!x || !ref || !got || !vref || !vgot || !iref) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    fill_inputs(c, &rng, x);

    const int64_t shp[2] = {c->rows, c->n}, shr[1] = {c->rows};
    if (c->op == OP_ARGMAX) {
        ref_argmax(x, c->rows, c->n, iref, vref);
        if ((s = guarded_new(env->dev, MLXN_I32, 1, shr, c->misalign, &g))) goto dev_err;
        if (!c->noval && (s = guarded_new(env->dev, MLXN_F32, 1, shr, c->misalign, &gv))) goto dev_err;
    } else if (c->op == OP_CUMSUM) {
        ref_cumsum(x, ref, c->rows, c->n, c->excl, c->rev);
        if ((s = guarded_new(env->dev, c->dt, 2, shp, c->misalign, &g))) goto dev_err;
    } else {
        ref_row_sum(x, ref, c->rows, c->n);
        if ((s = guarded_new(env->dev, c->ydt, 1, shr, c->misalign, &g))) goto dev_err;
    }
    if (c->inplace) {
        if ((s = guarded_fill(&g, x))) goto dev_err;
    } else if ((s = upload_view(env->dev, c->dt, c->rows, c->n, x, c->misalign, &xb, &xv))) {
        goto dev_err;
    }
    if (c->op == OP_ARGMAX) s = mlxn_argmax(env->enc, xv, g.view, c->noval ? NULL : gv.view);
    else if (c->op == OP_CUMSUM) {
        mlxn_cumsum_params p = {c->excl, c->rev};
        s = mlxn_cumsum(env->enc, c->inplace ? g.view : xv, g.view, &p);
    } else s = mlxn_row_sum(env->enc, xv, g.view);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool guards_ok = false, gv_ok = true;
    if ((s = guarded_read(&g, got, &guards_ok))) goto dev_err;
    if (!c->noval && c->op == OP_ARGMAX && (s = guarded_read(&gv, vgot, &gv_ok))) goto dev_err;
    if (!guards_ok || !gv_ok) {
        snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
        goto done;
    }
    if (c->op == OP_ARGMAX) {
        for (int64_t r = 0; r < c->rows; r++) {
            if (got[r] != (double)iref[r]) {
                snprintf(msg, sizeof msg, "row %lld: idx %.0f, expected %lld (x there %g, at expected %g)",
                         (long long)r, got[r], (long long)iref[r],
                         got[r] >= 0 && got[r] < (double)c->n ? x[r * c->n + (int64_t)got[r]] : NAN, vref[r]);
                goto done;
            }
            if (!c->noval && !same_value(vgot[r], vref[r])) {
                snprintf(msg, sizeof msg, "row %lld: val %g, expected %g (bitwise)", (long long)r, vgot[r], vref[r]);
                goto done;
            }
        }
        ok = true;
        snprintf(msg, sizeof msg, "%lld indices exact", (long long)c->rows);
        goto done;
    }
    const bool scan = c->op == OP_CUMSUM;
    const mlxn_dtype out = scan ? c->dt : c->ydt;
    const double B = accumulation_bound(x, ref, c->rows, c->n, scan, c->rev);
    const double lim = sum_limit(out, ref, (size_t)nout, B, scan);
    const double e = nmse(got, ref, (size_t)nout);
    ok = e <= lim;
    if (c->fill == FILL_POS && out == MLXN_F32)
        snprintf(msg, sizeof msg, "nmse %.3e (limit %.2e; a naive f32 running sum: %.3e)", e, lim,
                 naive_nmse(x, ref, c->rows, c->n, scan, c->rev, c->excl));
    else snprintf(msg, sizeof msg, "nmse %.3e (limit %.2e)", e, lim);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    guarded_free(&g);
    guarded_free(&gv);
    free(x);
    free(ref);
    free(got);
    free(vref);
    free(vgot);
    free(iref);
}

static void each(const test_env *env, report_t *rep, bool list, rcase *c) {
    name_case(c);
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else run_case(env, rep, c);
}

static rcase base_case(int op, mlxn_dtype dt, int64_t rows, int64_t n) {
    rcase c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.dt = dt;
    c.ydt = dt;
    c.rows = rows;
    c.n = n;
    return c;
}

static void differential_cases(const test_env *env, report_t *rep, bool list) {
    /* lengths around the warp (32), the CUDA vector width (4), the CPU block
       (1024), a vocab (32000, 262144) and a 2M row; at most 4M elements a case */
    static const int64_t N[] = {1, 2, 3, 31, 32, 33, 1000, 1024, 4097, 32000, 262144, 2000000};
    static const int64_t R[] = {1, 3, 16, 512};
    for (int op = 0; op < 3; op++)
        for (int d = 0; d < 3; d++) {
            int k = 0;
            for (size_t ni = 0; ni < sizeof N / sizeof N[0]; ni++)
                for (size_t ri = 0; ri < sizeof R / sizeof R[0]; ri++, k++) {
                    if (N[ni] * R[ri] > ((int64_t)1 << 22)) continue;
                    rcase c = base_case(op, DT[d], R[ri], N[ni]);
                    c.misalign = k % 2;
                    c.noval = op == OP_ARGMAX && k % 5 == 4;
                    c.excl = (k / 2) % 2;
                    c.rev = (k / 4) % 2 ? 1 : (k % 3 == 0);
                    c.ydt = op == OP_ROWSUM && k % 2 ? MLXN_F32 : DT[d];
                    each(env, rep, list, &c);
                }
        }
    for (int d = 0; d < 3; d++) {
        /* argmax ties: planted equal maxima (incl. across CPU blocks and the
           split segments of a single long row) and all-equal rows */
        static const int64_t TN[] = {33, 1000, 4097, 32000, 262144};
        for (size_t i = 0; i < 5; i++)
            for (int rr = 0; rr < 2; rr++) {
                rcase c = base_case(OP_ARGMAX, DT[d], rr ? 3 : 1, TN[i]);
                c.fill = FILL_TIES;
                c.misalign = (int)(i % 2);
                each(env, rep, list, &c);
                c.fill = FILL_EQUAL;
                each(env, rep, list, &c);
            }
        /* NaN rows and -inf/+inf/signed-zero rows */
        static const int64_t SN[] = {3, 1000, 4097, 262144};
        for (size_t i = 0; i < 4; i++) {
            rcase c = base_case(OP_ARGMAX, DT[d], 4, SN[i]);
            c.fill = FILL_NAN;
            c.misalign = (int)(i % 2);
            each(env, rep, list, &c);
            c.fill = FILL_INF;
            each(env, rep, list, &c);
            /* one row only: the CPU splits it over threads */
            rcase c1 = base_case(OP_ARGMAX, DT[d], 1, SN[i]);
            c1.fill = FILL_NAN;
            each(env, rep, list, &c1);
        }
        /* many long rows (more than the 16 CUDA splits over clusters):
           ties, NaN/inf rows, misaligned */
        {
            static const struct {
                int64_t rows, n;
                int fill, mis;
            } ML[] = {{40, 32000, FILL_TIES, 0}, {17, 20001, FILL_NAN, 1}, {33, 16384, FILL_INF, 0},
                      {100, 16388, FILL_EQUAL, 1}};
            for (size_t i = 0; i < sizeof ML / sizeof ML[0]; i++) {
                rcase c = base_case(OP_ARGMAX, DT[d], ML[i].rows, ML[i].n);
                c.fill = ML[i].fill;
                c.misalign = ML[i].mis;
                each(env, rep, list, &c);
            }
        }
        /* cumsum: every variant, in place, aligned and not */
        /* 131076 and 262147: long rows the GPU splits over a thread-block
           cluster (uneven slices; 262147 also takes the scalar path) */
        static const int64_t CN[] = {33, 4097, 32000, 131076, 262147};
        for (size_t i = 0; i < 5; i++)
            for (int v = 0; v < 4; v++) {
                rcase c = base_case(OP_CUMSUM, DT[d], 3, CN[i]);
                c.excl = v & 1;
                c.rev = v >> 1;
                c.inplace = true;
                c.misalign = (int)((i + (size_t)v) % 2);
                each(env, rep, list, &c);
            }
    }
    /* long positive rows: a naive f32 running sum fails the limit here */
    for (int v = 0; v < 4; v++) {
        rcase c = base_case(OP_CUMSUM, MLXN_F32, 1, 2000000);
        c.fill = FILL_POS;
        c.excl = v & 1;
        c.rev = v >> 1;
        each(env, rep, list, &c);
    }
    for (int d = 0; d < 3; d++) {
        rcase c = base_case(OP_ROWSUM, DT[d], 1, 2000000);
        c.fill = FILL_POS;
        c.ydt = MLXN_F32;
        each(env, rep, list, &c);
        rcase c2 = base_case(OP_ROWSUM, MLXN_F32, 2, 2000000);
        c2.fill = FILL_POS;
        c2.misalign = 1;
        if (d == 0) each(env, rep, list, &c2);
    }
}

/* ---- validation -------------------------------------------------------------- */

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} vctx;

typedef struct {
    int op;
    mlxn_encoder *e;
    const mlxn_buffer *x;
    mlxn_buffer *o1, *o2; /* argmax: idx, val; cumsum/row_sum: y */
    const mlxn_cumsum_params *p;
} vcall;


/* Runs the op on bad arguments: it must return `want`, name the op and
   `needle` in its message, and leave the outputs (pre-filled with a
   pattern) untouched. */
static void expect_fail(vctx *v, const char *name, vcall k, mlxn_status want, const char *needle) {
    char full[160];
    snprintf(full, sizeof full, "reduce/validate/%s/%s", OP_NAMES[k.op], name);
    if (!report_wants(v->rep, full)) return;
    if (v->list) {
        printf("%s\n", full);
        return;
    }
    mlxn_buffer *outs[2] = {k.o1, k.o2};
    out_pattern g;
    if (!out_pattern_fill(&g, outs, 2)) {
        report_case(v->rep, full, false, "out of host memory");
        goto out;
    }
    mlxn_clear_error();
    mlxn_status s;
    if (k.op == OP_ARGMAX) s = mlxn_argmax(k.e, k.x, k.o1, k.o2);
    else if (k.op == OP_CUMSUM) s = mlxn_cumsum(k.e, k.x, k.o1, k.p);
    else s = mlxn_row_sum(k.e, k.x, k.o1);
    const char *msg = mlxn_last_error();
    char detail[400];
    bool ok = s == want && strstr(msg, OP_NAMES[k.op]) && strstr(msg, needle);
    snprintf(detail, sizeof detail, "status %s (want %s), message \"%s\" (want \"%s\")", mlxn_status_str(s),
             mlxn_status_str(want), msg, needle);
    if (ok && !out_pattern_intact(&g, v->env->enc)) {
        ok = false;
        snprintf(detail, sizeof detail, "an output was written although the op failed");
    }
    report_case(v->rep, full, ok, "%s", detail);
out:
    out_pattern_free(&g);
}

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list};
    mlxn_device *d = env->dev;
    enum { X, XI, XH, IDX, IDXF, IDX3, VAL, VALH, VAL3, Y, YH, Y3, YS, YSB, YS3, BIG, XB, PART, IDXIN, VALIN, VALOV, NB };
    mlxn_buffer *b[NB];
    memset(b, 0, sizeof b);
    const int64_t s4[2] = {4, 128}, r4[1] = {4}, r3[1] = {3}, sb[1] = {1024}, s3[2] = {3, 128};
    if (!list) {
        mlxn_status s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &b[X]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, s4, &b[XI]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 2, s4, &b[XH]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 1, r4, &b[IDX]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, r4, &b[IDXF]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 1, r3, &b[IDX3]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, r4, &b[VAL]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 1, r4, &b[VALH]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, r3, &b[VAL3]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &b[Y]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 2, s4, &b[YH]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, s3, &b[Y3]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, r4, &b[YS]);
        if (!s) s = mlxn_buffer_new(d, MLXN_BF16, 1, r4, &b[YSB]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, r3, &b[YS3]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, sb, &b[BIG]);
        /* x in a big storage, a view shifted by 64 elements, and per-row
           outputs inside x's storage */
        if (!s) s = mlxn_buffer_view(b[BIG], 0, MLXN_F32, 2, s4, &b[XB]);
        if (!s) s = mlxn_buffer_view(b[BIG], 64 * 4, MLXN_F32, 2, s4, &b[PART]);
        if (!s) s = mlxn_buffer_view(b[BIG], 8 * 4, MLXN_I32, 1, r4, &b[IDXIN]);
        if (!s) s = mlxn_buffer_view(b[BIG], 16 * 4, MLXN_F32, 1, r4, &b[VALIN]);
        if (!s) s = mlxn_buffer_view(b[BIG], 10 * 4, MLXN_F32, 1, r4, &b[VALOV]); /* inside IDXIN */
        if (s) {
            report_case(rep, "reduce/validate/setup", false, "%s", mlxn_last_error());
            goto out;
        }
    }
    mlxn_encoder *e = env->enc;
    mlxn_cumsum_params cp = {0, 0}, bad_ex = {2, 0}, bad_rev = {0, -1};
    /* argmax */
    expect_fail(&v, "null_encoder", (vcall){OP_ARGMAX, NULL, b[X], b[IDX], b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "encoder");
    expect_fail(&v, "null_x", (vcall){OP_ARGMAX, e, NULL, b[IDX], b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "x is NULL");
    expect_fail(&v, "null_idx", (vcall){OP_ARGMAX, e, b[X], NULL, b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "idx is NULL");
    expect_fail(&v, "dtype_i32", (vcall){OP_ARGMAX, e, b[XI], b[IDX], b[VAL], NULL}, MLXN_ERR_UNSUPPORTED,
                "dtype i32");
    expect_fail(&v, "idx_dtype", (vcall){OP_ARGMAX, e, b[X], b[IDXF], b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "idx dtype (f32) must be i32");
    expect_fail(&v, "idx_numel", (vcall){OP_ARGMAX, e, b[X], b[IDX3], b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "idx has 3 elements, x has 4 rows of 128");
    expect_fail(&v, "val_dtype", (vcall){OP_ARGMAX, e, b[X], b[IDX], b[VALH], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "val dtype (f16) must be f32");
    expect_fail(&v, "val_numel", (vcall){OP_ARGMAX, e, b[X], b[IDX], b[VAL3], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "val has 3 elements, x has 4 rows");
    expect_fail(&v, "idx_overlaps_x", (vcall){OP_ARGMAX, e, b[XB], b[IDXIN], b[VAL], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "idx overlaps x");
    expect_fail(&v, "val_overlaps_x", (vcall){OP_ARGMAX, e, b[XB], b[IDX], b[VALIN], NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "val overlaps x");
    expect_fail(&v, "val_overlaps_idx", (vcall){OP_ARGMAX, e, b[X], b[IDXIN], b[VALOV], NULL},
                MLXN_ERR_INVALID_ARGUMENT, "val overlaps idx");
    /* cumsum */
    expect_fail(&v, "null_encoder", (vcall){OP_CUMSUM, NULL, b[X], b[Y], NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT,
                "encoder");
    expect_fail(&v, "null_x", (vcall){OP_CUMSUM, e, NULL, b[Y], NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT, "x is NULL");
    expect_fail(&v, "null_y", (vcall){OP_CUMSUM, e, b[X], NULL, NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT, "y is NULL");
    expect_fail(&v, "null_params", (vcall){OP_CUMSUM, e, b[X], b[Y], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "params is NULL");
    expect_fail(&v, "exclusive_2", (vcall){OP_CUMSUM, e, b[X], b[Y], NULL, &bad_ex}, MLXN_ERR_INVALID_ARGUMENT,
                "exclusive (2) must be 0 or 1");
    expect_fail(&v, "reverse_neg", (vcall){OP_CUMSUM, e, b[X], b[Y], NULL, &bad_rev}, MLXN_ERR_INVALID_ARGUMENT,
                "reverse (-1) must be 0 or 1");
    expect_fail(&v, "dtype_i32", (vcall){OP_CUMSUM, e, b[XI], b[Y], NULL, &cp}, MLXN_ERR_UNSUPPORTED, "dtype i32");
    expect_fail(&v, "y_dtype", (vcall){OP_CUMSUM, e, b[X], b[YH], NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT,
                "y dtype (f16) must equal x dtype (f32)");
    expect_fail(&v, "y_numel", (vcall){OP_CUMSUM, e, b[X], b[Y3], NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT,
                "y has 384 elements, x 512");
    expect_fail(&v, "partial_overlap", (vcall){OP_CUMSUM, e, b[XB], b[PART], NULL, &cp}, MLXN_ERR_INVALID_ARGUMENT,
                "partially overlaps");
    /* row_sum */
    expect_fail(&v, "null_encoder", (vcall){OP_ROWSUM, NULL, b[X], b[YS], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "encoder");
    expect_fail(&v, "null_x", (vcall){OP_ROWSUM, e, NULL, b[YS], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT, "x is NULL");
    expect_fail(&v, "null_y", (vcall){OP_ROWSUM, e, b[X], NULL, NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT, "y is NULL");
    expect_fail(&v, "dtype_i32", (vcall){OP_ROWSUM, e, b[XI], b[YS], NULL, NULL}, MLXN_ERR_UNSUPPORTED, "dtype i32");
    expect_fail(&v, "y_dtype", (vcall){OP_ROWSUM, e, b[XH], b[YSB], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "y dtype (bf16) must be x's (f16) or f32");
    expect_fail(&v, "y_numel", (vcall){OP_ROWSUM, e, b[X], b[YS3], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "y has 3 elements, x has 4 rows of 128");
    expect_fail(&v, "y_overlaps_x", (vcall){OP_ROWSUM, e, b[XB], b[VALIN], NULL, NULL}, MLXN_ERR_INVALID_ARGUMENT,
                "y overlaps x");
out:
    for (int i = NB - 1; i >= 0; i--) mlxn_buffer_free(b[i]);
}

void reduce_suite(const test_env *env, report_t *rep, bool list) {
    differential_cases(env, rep, list);
    validation_cases(env, rep, list);
}
