/* tests/ops/sample.c — differential, statistical and validation cases of the
   MoE-routing and sampling family (mlxn_moe_softmax_topk,
   mlxn_moe_weighted_reduce, mlxn_softmax_sample) against tests/ref/ref_sample.c.

   Case names encode their parameters:
     moe_topk/<dtype>/T<T>.E<E>.k<k>/<renorm|raw>[/scale][/mis1]/<fill>
     moe_reduce/<dtype>/T<T>.k<k>.D<D>[/shared[.gate-<dtype>][.sig]][/res|/inplace][/mis1]
     sample/<dtype>/B<B>.V<V>/T<t>.k<k>.p<p>.m<m>[/nolp][/mis1]/<fill>/<u>
     sample_chi2/<dtype>/V50.N20000/T<t>.k<k>.p<p>.m<m>/<fill>
   Inputs are seeded from the case name; outputs are guarded views (poisoned,
   guard bytes around them); outputs whose expected value could equal the
   poison (token -1, logprob NaN) are pre-filled with other values instead.

   moe_topk: ids are exact (the order is the order of the logits, compared
   exactly); weights NMSE <= 1e-10 (f32 output of f32 math: exp within a few
   ulp, sums of <= 512 terms). NaN rows must give NaN weights, -inf rows 0.
   moe_reduce: NMSE under nmse_limit(out dtype): one rounding of a sum of
   <= 10 f32 products (relative error ~1e-6 at most before the rounding).

   sample (exact): for every row the token must equal the float64
   reference's inverse-CDF token, and the logprob must agree within
   2*delta + 2^-23*|lp|, except for rows where a decision is within rounding
   distance of flipping: u lies within delta of a CDF boundary between two
   tokens of the reference, or the top-p cut within delta of its threshold
   (as fractions of the mass), with delta = 5e-7 + V*2^-32/M (M: the kept
   mass in units of the largest exp(d), >= 1). Why: the kernels' masses
   q_i = round(expf(d_i) * 2^32) differ from exp(d_i) by <= 2 ulp of f32
   (CUDA's expf bound; glibc is < 1 ulp), 2.4e-7 relative, plus 2^-33
   absolute per token (the fixed-point rounding: <= V*2^-33 in all, against
   a mass M); the steps the contract fixes in f32 (z, d, the min-p compare)
   are mirrored exactly by the reference. Skipped rows are counted in the
   message and may not exceed a quarter of the rows (plus one), so no case
   can pass by skipping.

   sample_chi2 (statistical): one row of 50 logits repeated N = 20000 times
   and drawn with N seeded uniform u (24-bit f32 values). The counts are
   compared with the exact filtered distribution of the reference by Pearson's
   chi-square over cells of expected count >= 5 (the rest merged). Critical
   value: the 1 - 1e-4 quantile of chi-square with cells-1 degrees of freedom
   (Wilson-Hilferty, z = 3.719; conservative for small df). A correct sampler
   fails a given case with probability 1e-4; because the u are seeded the
   result is deterministic, so a pass is reproducible and a failure is a real
   bias (or a 1e-4 fluke that a different seed would clear, never silently
   tolerated). Every filtered token (probability 0) must have count 0.
   The message also shows the statistic against the unfiltered T=1
   distribution: the power of the test against a wrong filter. A second run
   with stratified u_j = (j + 0.5)/N must give every token a count within 1.5
   of N*p_i (the inverse CDF maps each stratum to exactly one token). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_sample.h"
#include "vkit.h"

static const mlxn_dtype DT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

/* A view of rows x n values of dtype t, `mis` elements into a fresh allocation. */
static mlxn_status upload2d(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, const double *v, int mis,
                            mlxn_buffer **base, mlxn_buffer **view) {
    int64_t tot = 1;
    for (int i = 0; i < ndim; i++) tot *= shape[i];
    double *tmp = malloc(sizeof(double) * (size_t)(tot + mis));
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < mis; i++) tmp[i] = 0.5;
    memcpy(tmp + mis, v, sizeof(double) * (size_t)tot);
    int64_t s1[1] = {tot + mis};
    mlxn_status s = upload_values(d, t, 1, s1, tmp, base);
    free(tmp);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)mis * mlxn_dtype_size(t), t, ndim, shape, view);
}

static bool same_nan(double a, double b) { return isnan(a) && isnan(b); }

/* ---- moe_softmax_topk ------------------------------------------------------- */

enum { MF_UNIFORM, MF_TIES, MF_SPECIAL };
static const char *MF_NAMES[] = {"uniform", "ties", "special"};

typedef struct {
    char name[160];
    mlxn_dtype dt;
    int64_t T, E;
    int k, renorm, scale, fill, mis;
} mcase;

static void moe_topk_run(const test_env *env, report_t *rep, const mcase *c) {
    const int64_t n = c->T * c->E, nk = c->T * c->k;
    double *x = malloc(sizeof(double) * (size_t)n), *sc = malloc(sizeof(double) * (size_t)c->E);
    double *wref = malloc(sizeof(double) * (size_t)nk), *wgot = malloc(sizeof(double) * (size_t)nk);
    double *igot = malloc(sizeof(double) * (size_t)nk);
    int32_t *iref = malloc(sizeof(int32_t) * (size_t)nk);
    mlxn_buffer *xb = NULL, *xv = NULL, *sb = NULL;
    guarded_t gi, gw;
    memset(&gi, 0, sizeof gi);
    memset(&gw, 0, sizeof gw);
    char msg[400] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!x || !sc || !wref || !wgot || !igot || !iref) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    for (int64_t i = 0; i < n; i++) {
        double v = rng_nonzero(&rng, c->dt, -4.0, 4.0);
        if (c->fill == MF_TIES) v = (double)rng_int(&rng, -2, 2) * 0.5; /* includes 0 */
        x[i] = v;
    }
    if (c->fill == MF_TIES)
        for (int64_t t = 0; t < c->T; t++) x[t * c->E + (c->E - 1)] = -0.0; /* -0 ties +0 */
    if (c->fill == MF_SPECIAL)
        for (int64_t t = 0; t < c->T; t++) {
            double *r = x + t * c->E;
            switch (t % 5) {
            case 0: /* a third of the experts -inf */
                for (int64_t j = 0; j < c->E; j += 3) r[j] = -INFINITY;
                break;
            case 1: /* all -inf: ids 0..k-1, weights 0 */
                for (int64_t j = 0; j < c->E; j++) r[j] = -INFINITY;
                break;
            case 2: r[c->E / 2] = NAN; break;
            case 3: r[c->E - 1] = INFINITY; break;
            default: /* only one finite expert: the rest of the k are -inf experts, weight 0 */
                for (int64_t j = 0; j < c->E; j++) r[j] = -INFINITY;
                r[c->E - 1] = 1.5;
                break;
            }
        }
    round_through(c->dt, x, (size_t)n);
    for (int64_t j = 0; j < c->E; j++) sc[j] = rng_uniform(&rng, 0.5, 2.0);
    round_through(MLXN_F32, sc, (size_t)c->E);
    ref_moe_softmax_topk(x, c->T, c->E, c->k, c->renorm, c->scale ? sc : NULL, iref, wref);
    const int64_t shp[2] = {c->T, c->E}, sk[2] = {c->T, c->k}, se[1] = {c->E};
    if ((s = upload2d(env->dev, c->dt, 2, shp, x, c->mis, &xb, &xv))) goto dev_err;
    if (c->scale && (s = upload_values(env->dev, MLXN_F32, 1, se, sc, &sb))) goto dev_err;
    if ((s = guarded_new(env->dev, MLXN_I32, 2, sk, c->mis, &gi))) goto dev_err;
    if ((s = guarded_new(env->dev, MLXN_F32, 2, sk, c->mis, &gw))) goto dev_err;
    {
        /* ids pre-filled with -7 (the poison -1 is not an id either, but keep it obvious) */
        double *fill = malloc(sizeof(double) * (size_t)nk);
        if (!fill) {
            snprintf(msg, sizeof msg, "out of host memory");
            goto done;
        }
        for (int64_t i = 0; i < nk; i++) fill[i] = -7.0;
        s = guarded_fill(&gi, fill);
        free(fill);
        if (s) goto dev_err;
    }
    mlxn_moe_topk_params p = {(uint32_t)c->k, c->renorm};
    s = mlxn_moe_softmax_topk(env->enc, xv, sb, gi.view, gw.view, &p);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool g1 = false, g2 = false;
    if ((s = guarded_read(&gi, igot, &g1)) || (s = guarded_read(&gw, wgot, &g2))) goto dev_err;
    if (!g1 || !g2) {
        snprintf(msg, sizeof msg, "guard bytes around an output were overwritten");
        goto done;
    }
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < nk; i++) {
        if (igot[i] != (double)iref[i]) {
            snprintf(msg, sizeof msg, "token %lld slot %lld: id %.0f, expected %d", (long long)(i / c->k),
                     (long long)(i % c->k), igot[i], iref[i]);
            goto done;
        }
        if (isnan(wref[i])) {
            if (!same_nan(wgot[i], wref[i])) {
                snprintf(msg, sizeof msg, "token %lld slot %lld: weight %g, expected NaN", (long long)(i / c->k),
                         (long long)(i % c->k), wgot[i]);
                goto done;
            }
            continue;
        }
        if (wref[i] == 0.0 && wgot[i] != 0.0) {
            snprintf(msg, sizeof msg, "token %lld slot %lld: weight %g, expected exactly 0", (long long)(i / c->k),
                     (long long)(i % c->k), wgot[i]);
            goto done;
        }
        if (!isfinite(wgot[i])) {
            snprintf(msg, sizeof msg, "token %lld slot %lld: weight %g is not finite", (long long)(i / c->k),
                     (long long)(i % c->k), wgot[i]);
            goto done;
        }
        num += (wgot[i] - wref[i]) * (wgot[i] - wref[i]);
        den += wref[i] * wref[i];
    }
    const double e = den > 0.0 ? num / den : num;
    ok = e <= 1e-10;
    snprintf(msg, sizeof msg, "ids exact, weights nmse %.3e (limit 1e-10)", e);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(sb);
    guarded_free(&gi);
    guarded_free(&gw);
    free(x);
    free(sc);
    free(wref);
    free(wgot);
    free(igot);
    free(iref);
}

static void moe_topk_cases(const test_env *env, report_t *rep, bool list) {
    static const struct {
        int64_t T, E;
        int k;
    } S[] = {{1, 1, 1}, {3, 8, 8}, {5, 8, 2}, {512, 128, 8}, {1, 256, 8}, {7, 512, 64}, {9, 60, 4},
             {4, 40, 33}, {2, 2048, 16}, {33, 100, 1}};
    int idx = 0;
    for (int d = 0; d < 3; d++)
        for (size_t si = 0; si < sizeof S / sizeof S[0]; si++)
            for (int f = 0; f < 3; f++, idx++) {
                mcase c;
                memset(&c, 0, sizeof c);
                c.dt = DT[d];
                c.T = S[si].T;
                c.E = S[si].E;
                c.k = S[si].k;
                c.fill = f;
                if (f == MF_SPECIAL && c.T < 5) c.T = 5;
                c.renorm = idx % 3 != 2;
                c.scale = idx % 4 == 1;
                c.mis = idx % 2;
                snprintf(c.name, sizeof c.name, "moe_topk/%s/T%lld.E%lld.k%d/%s%s%s/%s", mlxn_dtype_name(c.dt),
                         (long long)c.T, (long long)c.E, c.k, c.renorm ? "renorm" : "raw", c.scale ? "/scale" : "",
                         c.mis ? "/mis1" : "", MF_NAMES[f]);
                if (!report_wants(rep, c.name)) continue;
                if (list) printf("%s\n", c.name);
                else moe_topk_run(env, rep, &c);
            }
}

/* ---- moe_weighted_reduce ------------------------------------------------------ */

typedef struct {
    char name[200];
    mlxn_dtype dt;
    int gdt; /* -1: no gate */
    int64_t T, K, D;
    int shared, sig, res, inplace, mis;
} rcase;

static void moe_reduce_run(const test_env *env, report_t *rep, const rcase *c) {
    const int64_t ny = c->T * c->K * c->D, nw = c->T * c->K, nd = c->T * c->D;
    double *y = malloc(sizeof(double) * (size_t)ny), *w = malloc(sizeof(double) * (size_t)nw);
    double *ys = malloc(sizeof(double) * (size_t)nd), *rs = malloc(sizeof(double) * (size_t)nd);
    double *g = malloc(sizeof(double) * (size_t)c->T), *ref = malloc(sizeof(double) * (size_t)nd);
    double *got = malloc(sizeof(double) * (size_t)nd);
    mlxn_buffer *yb = NULL, *yv = NULL, *wb = NULL, *sb = NULL, *gb = NULL, *rb = NULL;
    guarded_t go;
    memset(&go, 0, sizeof go);
    char msg[400] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!y || !w || !ys || !rs || !g || !ref || !got) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    for (int64_t i = 0; i < ny; i++) y[i] = rng_nonzero(&rng, c->dt, -1.0, 1.0);
    for (int64_t i = 0; i < nw; i++) w[i] = rng_nonzero(&rng, MLXN_F32, 0.0, 1.0);
    for (int64_t i = 0; i < nd; i++) ys[i] = rng_nonzero(&rng, c->dt, -1.0, 1.0);
    for (int64_t i = 0; i < nd; i++) rs[i] = rng_nonzero(&rng, c->dt, -2.0, 2.0);
    const mlxn_dtype gdt = c->gdt >= 0 ? (mlxn_dtype)c->gdt : MLXN_F32;
    for (int64_t i = 0; i < c->T; i++) g[i] = rng_nonzero(&rng, gdt, -3.0, 3.0);
    /* in place, the output buffer holds the residual on entry */
    ref_moe_weighted_reduce(y, w, c->shared ? ys : NULL, c->gdt >= 0 ? g : NULL, c->sig,
                            (c->res || c->inplace) ? rs : NULL, c->T, c->K, c->D, ref);
    const int64_t s3[3] = {c->T, c->K, c->D}, s2[2] = {c->T, c->K}, sd[2] = {c->T, c->D}, st[1] = {c->T};
    if ((s = upload2d(env->dev, c->dt, 3, s3, y, c->mis, &yb, &yv))) goto dev_err;
    if ((s = upload_values(env->dev, MLXN_F32, 2, s2, w, &wb))) goto dev_err;
    if (c->shared && (s = upload_values(env->dev, c->dt, 2, sd, ys, &sb))) goto dev_err;
    if (c->gdt >= 0 && (s = upload_values(env->dev, gdt, 1, st, g, &gb))) goto dev_err;
    if ((s = guarded_new(env->dev, c->dt, 2, sd, c->mis, &go))) goto dev_err;
    if (c->inplace) {
        if ((s = guarded_fill(&go, rs))) goto dev_err;
    } else if (c->res && (s = upload_values(env->dev, c->dt, 2, sd, rs, &rb))) {
        goto dev_err;
    }
    mlxn_moe_reduce_params p = {c->sig};
    s = mlxn_moe_weighted_reduce(env->enc, yv, wb, sb, gb, c->inplace ? go.view : rb, go.view, &p);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool gok = false;
    if ((s = guarded_read(&go, got, &gok))) goto dev_err;
    if (!gok) {
        snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
        goto done;
    }
    const double e = nmse(got, ref, (size_t)nd), lim = nmse_limit(c->dt);
    ok = e <= lim;
    snprintf(msg, sizeof msg, "nmse %.3e (limit %.0e)", e, lim);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(yv);
    mlxn_buffer_free(yb);
    mlxn_buffer_free(wb);
    mlxn_buffer_free(sb);
    mlxn_buffer_free(gb);
    mlxn_buffer_free(rb);
    guarded_free(&go);
    free(y);
    free(w);
    free(ys);
    free(rs);
    free(g);
    free(ref);
    free(got);
}

static void moe_reduce_cases(const test_env *env, report_t *rep, bool list) {
    static const int64_t S[][3] = {{1, 1, 1}, {3, 2, 33}, {7, 4, 1000}, {64, 8, 2048}, {2, 8, 257}, {5, 1, 4096}};
    int idx = 0;
    for (int d = 0; d < 3; d++)
        for (size_t si = 0; si < sizeof S / sizeof S[0]; si++)
            for (int v = 0; v < 5; v++, idx++) {
                rcase c;
                memset(&c, 0, sizeof c);
                c.dt = DT[d];
                c.T = S[si][0];
                c.K = S[si][1];
                c.D = S[si][2];
                c.gdt = -1;
                c.mis = idx % 2;
                switch (v) {
                case 0: break;                                  /* plain */
                case 1: c.shared = 1; break;                    /* shared, gate 1 */
                case 2: c.shared = 1; c.gdt = MLXN_F32; c.sig = 1; c.res = 1; break; /* Qwen */
                case 3: c.shared = 1; c.gdt = DT[(d + 1) % 3]; c.inplace = 1; break;
                default: c.res = 1; break;
                }
                char sh[64] = "", gs[32] = "";
                if (c.gdt >= 0) snprintf(gs, sizeof gs, ".gate-%s%s", mlxn_dtype_name((mlxn_dtype)c.gdt),
                                         c.sig ? ".sig" : "");
                if (c.shared) snprintf(sh, sizeof sh, "/shared%s", gs);
                snprintf(c.name, sizeof c.name, "moe_reduce/%s/T%lld.k%lld.D%lld%s%s%s", mlxn_dtype_name(c.dt),
                         (long long)c.T, (long long)c.K, (long long)c.D, sh,
                         c.inplace ? "/inplace" : c.res ? "/res" : "", c.mis ? "/mis1" : "");
                if (!report_wants(rep, c.name)) continue;
                if (list) printf("%s\n", c.name);
                else moe_reduce_run(env, rep, &c);
            }
}

/* ---- softmax_sample: exact cases ------------------------------------------------ */

enum { SF_UNIFORM, SF_TIES, SF_NINF, SF_BAD, SF_WIDE };
static const char *SF_NAMES[] = {"uniform", "ties", "ninf", "nan", "wide"};
enum { U_RANDOM, U_SPECIAL };

typedef struct {
    char name[200];
    mlxn_dtype dt;
    int64_t B, V;
    ref_sample_params p;
    int fill, ufill, mis, nolp;
} scase;

static mlxn_sample_params to_params(const ref_sample_params *r) {
    mlxn_sample_params p = {(float)r->temperature, (uint32_t)r->top_k, (float)r->top_p, (float)r->min_p};
    return p;
}

static void fill_logits(const scase *c, rng_t *rng, double *x) {
    const int64_t V = c->V;
    for (int64_t r = 0; r < c->B; r++) {
        double *xr = x + r * V;
        for (int64_t i = 0; i < V; i++) {
            double v = rng_nonzero(rng, c->dt, -6.0, 6.0);
            if (c->fill == SF_TIES) v = (double)rng_int(rng, -6, 6) * 0.5;
            if (c->fill == SF_WIDE) v = rng_nonzero(rng, c->dt, -40.0, 40.0);
            xr[i] = v;
        }
        if (c->fill == SF_TIES) xr[V - 1] = -0.0;
        if (c->fill == SF_NINF) {
            for (int64_t i = 0; i < V; i++)
                if (rng_int(rng, 0, 9) < 3) xr[i] = -INFINITY;
            if (r % 5 == 1)
                for (int64_t i = 0; i + 1 < V; i++) xr[i] = -INFINITY;
            if (r % 7 == 3)
                for (int64_t i = 0; i < V; i++) xr[i] = -INFINITY;
            if (r % 5 == 0) xr[0] = 3.0; /* at least one finite in most rows */
        }
        if (c->fill == SF_BAD) {
            if (r % 3 == 0) xr[V / 2] = NAN;
            if (r % 3 == 1) xr[V - 1] = INFINITY;
        }
    }
    round_through(c->dt, x, (size_t)(c->B * V));
}

static void sample_run(const test_env *env, report_t *rep, const scase *c) {
    const int64_t B = c->B, V = c->V, n = B * V;
    double *x = malloc(sizeof(double) * (size_t)n), *u = malloc(sizeof(double) * (size_t)B);
    double *prob = malloc(sizeof(double) * (size_t)V), *dl = malloc(sizeof(double) * (size_t)V);
    double *tg = malloc(sizeof(double) * (size_t)B), *lg = malloc(sizeof(double) * (size_t)B);
    double *pre = malloc(sizeof(double) * (size_t)B);
    mlxn_buffer *xb = NULL, *xv = NULL, *ub = NULL;
    guarded_t gt, gl;
    memset(&gt, 0, sizeof gt);
    memset(&gl, 0, sizeof gl);
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!x || !u || !prob || !dl || !tg || !lg || !pre) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    fill_logits(c, &rng, x);
    static const double USP[] = {0.0, 0x1.fffffep-1, 1.0, -0.5, NAN, 0.5, 0x1p-30};
    for (int64_t r = 0; r < B; r++)
        u[r] = c->ufill == U_SPECIAL ? USP[r % 7] : (double)(float)rng_uniform(&rng, 0.0, 1.0);
    const int64_t shp[2] = {B, V}, sb[1] = {B};
    if ((s = upload2d(env->dev, c->dt, 2, shp, x, c->mis, &xb, &xv))) goto dev_err;
    if ((s = upload_values(env->dev, MLXN_F32, 1, sb, u, &ub))) goto dev_err;
    if ((s = guarded_new(env->dev, MLXN_I32, 1, sb, c->mis, &gt))) goto dev_err;
    if (!c->nolp && (s = guarded_new(env->dev, MLXN_F32, 1, sb, c->mis, &gl))) goto dev_err;
    for (int64_t r = 0; r < B; r++) pre[r] = -7.0;
    if ((s = guarded_fill(&gt, pre))) goto dev_err;
    for (int64_t r = 0; r < B; r++) pre[r] = 12345.0;
    if (!c->nolp && (s = guarded_fill(&gl, pre))) goto dev_err;
    mlxn_sample_params p = to_params(&c->p);
    s = mlxn_softmax_sample(env->enc, xv, ub, gt.view, c->nolp ? NULL : gl.view, NULL, &p);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool g1 = false, g2 = true;
    if ((s = guarded_read(&gt, tg, &g1))) goto dev_err;
    if (!c->nolp && (s = guarded_read(&gl, lg, &g2))) goto dev_err;
    if (!g1 || !g2) {
        snprintf(msg, sizeof msg, "guard bytes around an output were overwritten");
        goto done;
    }
    int64_t skipped = 0, exact = 0, invalid = 0;
    double worst_lp = 0.0;
    for (int64_t r = 0; r < B; r++) {
        double tpm = 1.0, um = 1.0, mass = 1.0;
        const int rv = ref_sample_dist(x + r * V, V, &c->p, prob, dl, &tpm, &mass);
        if (rv < 0) {
            invalid++;
            if (tg[r] != -1.0 || (!c->nolp && !isnan(lg[r]))) {
                snprintf(msg, sizeof msg, "row %lld has no distribution: token %.0f (want -1), logprob %g (want NaN)",
                         (long long)r, tg[r], c->nolp ? NAN : lg[r]);
                goto done;
            }
            continue;
        }
        const int64_t want = ref_sample_draw(prob, V, u[r], &um);
        const double margin = tpm < um ? tpm : um;
        /* the kernels' mass errors, relative to the kept mass: 2 ulp of expf
           (+ margin) and 2^-33 per token of fixed-point rounding */
        const double delta = 5e-7 + (double)V * ldexp(1.0, -32) / mass;
        if (c->p.temperature != 0.0 && margin < delta) {
            /* a decision within rounding distance: any kept-or-borderline token */
            if (!(tg[r] >= 0 && tg[r] < (double)V && isfinite(x[r * V + (int64_t)tg[r]]))) {
                snprintf(msg, sizeof msg, "row %lld (near a boundary): token %.0f is not a finite-logit token",
                         (long long)r, tg[r]);
                goto done;
            }
            skipped++;
            continue;
        }
        if (tg[r] != (double)want) {
            snprintf(msg, sizeof msg,
                     "row %lld: token %.0f, expected %lld (u %.9g, margin %.2e, top-p margin %.2e, p[want] %.3e, "
                     "p[got] %.3e)",
                     (long long)r, tg[r], (long long)want, u[r], um, tpm, prob[want],
                     tg[r] >= 0 && tg[r] < (double)V ? prob[(int64_t)tg[r]] : -1.0);
            goto done;
        }
        if (!c->nolp) {
            const double lw = c->p.temperature == 0.0 ? 0.0 : log(prob[want]);
            const double err = fabs(lg[r] - lw), tol = 2.0 * delta + ldexp(fabs(lw), -23);
            if (c->p.temperature == 0.0 ? lg[r] != 0.0 : !(err <= tol)) {
                snprintf(msg, sizeof msg, "row %lld: logprob %.9g, expected %.9g (tolerance %.2e)", (long long)r, lg[r],
                         lw, tol);
                goto done;
            }
            if (err > worst_lp) worst_lp = err;
        }
        exact++;
    }
    if (skipped > (B - invalid) / 4 + 1) {
        snprintf(msg, sizeof msg, "%lld of %lld rows were within rounding distance of a boundary: too many to judge",
                 (long long)skipped, (long long)B);
        goto done;
    }
    ok = true;
    snprintf(msg, sizeof msg, "%lld tokens exact, %lld invalid rows, %lld near a boundary; logprob err %.2e",
             (long long)exact, (long long)invalid, (long long)skipped, worst_lp);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(ub);
    guarded_free(&gt);
    guarded_free(&gl);
    free(x);
    free(u);
    free(prob);
    free(dl);
    free(tg);
    free(lg);
    free(pre);
}

static const ref_sample_params PSETS[] = {
    {1.0, 0, 1.0, 0.0},     /* plain */
    {0.7, 40, 1.0, 0.0},    /* top-k */
    {1.0, 0, 0.9, 0.0},     /* top-p */
    {1.3, 0, 1.0, 0.05},    /* min-p */
    {0.8, 40, 0.93, 0.05},  /* all (llama.cpp's defaults, but top_p 0.95 * 40 tied tokens is an exact 38) */
    {0.0, 0, 1.0, 0.0},     /* greedy */
    {1.0, 1, 1.0, 0.0},     /* top-1 */
    {1.0, 0, 0.001, 0.0},   /* top-p tiny: the max only */
    {2.0, 0, 1.0, 1.0},     /* min-p 1: the ties of the max */
    {0.5, 3, 0.5, 0.0},     /* small k, then top-p */
};
#define NPSETS (int)(sizeof PSETS / sizeof PSETS[0])

static void sample_name(scase *c) {
    snprintf(c->name, sizeof c->name, "sample/%s/B%lld.V%lld/T%g.k%lld.p%g.m%g%s%s/%s/%s", mlxn_dtype_name(c->dt),
             (long long)c->B, (long long)c->V, c->p.temperature, (long long)c->p.top_k, c->p.top_p, c->p.min_p,
             c->nolp ? "/nolp" : "", c->mis ? "/mis1" : "", SF_NAMES[c->fill], c->ufill ? "uspecial" : "urandom");
}

static void sample_each(const test_env *env, report_t *rep, bool list, scase *c) {
    sample_name(c);
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else sample_run(env, rep, c);
}

static void sample_cases(const test_env *env, report_t *rep, bool list) {
    /* shapes: V = 1, a warp, a block's worth and more, vocabularies */
    static const int64_t SH[][2] = {{1, 1}, {7, 2}, {64, 50}, {16, 1000}, {8, 4097}, {4, 32000}, {1, 262144},
                                    {3, 151936}};
    int idx = 0;
    for (int d = 0; d < 3; d++)
        for (size_t si = 0; si < sizeof SH / sizeof SH[0]; si++)
            for (int pi = 0; pi < NPSETS; pi++, idx++) {
                scase c;
                memset(&c, 0, sizeof c);
                c.dt = DT[d];
                c.B = SH[si][0];
                c.V = SH[si][1];
                c.p = PSETS[pi];
                c.fill = SF_UNIFORM;
                c.mis = idx % 2;
                c.nolp = idx % 7 == 3;
                /* the big vocabularies: fewer parameter sets per dtype */
                if (c.V >= 100000 && pi % 3 != d % 3 && pi != 4) continue;
                sample_each(env, rep, list, &c);
            }
    /* ties, -inf, NaN/+inf rows, wide logits (masses below 2^-33), special u */
    static const int64_t SV[] = {2, 50, 1000, 4097, 32000};
    for (int d = 0; d < 3; d++)
        for (size_t vi = 0; vi < sizeof SV / sizeof SV[0]; vi++)
            for (int f = SF_TIES; f <= SF_WIDE; f++)
                for (int pi = 0; pi < NPSETS; pi += (f == SF_TIES ? 1 : 2), idx++) {
                    scase c;
                    memset(&c, 0, sizeof c);
                    c.dt = DT[d];
                    c.B = SV[vi] >= 32000 ? 14 : 21;
                    c.V = SV[vi];
                    c.p = PSETS[pi];
                    c.fill = f;
                    c.mis = idx % 2;
                    sample_each(env, rep, list, &c);
                }
    for (int d = 0; d < 3; d++)
        for (int pi = 0; pi < NPSETS; pi++) {
            scase c;
            memset(&c, 0, sizeof c);
            c.dt = DT[d];
            c.B = 14;
            c.V = 300;
            c.p = PSETS[pi];
            c.ufill = U_SPECIAL;
            sample_each(env, rep, list, &c);
        }
}

/* ---- softmax_sample: chi-square ------------------------------------------------- */

/* The 1 - 1e-4 quantile of chi-square with df degrees of freedom (Wilson-Hilferty). */
static double chi2_crit(int df) {
    const double z = 3.719, a = 2.0 / (9.0 * df);
    const double t = 1.0 - a + z * sqrt(a);
    return df * t * t * t;
}

/* Pearson's statistic of counts against probabilities over cells of expected
   count >= 5 (smaller ones merged into one cell; that cell, if still < 5,
   into the smallest big cell). *cells receives the number of cells. */
static double chi2_stat(const int64_t *cnt, const double *p, int64_t V, int64_t N, int *cells) {
    double stat = 0.0, ro = 0.0, re = 0.0;
    int nc = 0;
    int64_t small_i = -1;
    for (int64_t i = 0; i < V; i++) {
        const double e = p[i] * (double)N;
        if (e >= 5.0) {
            nc++;
            if (small_i < 0 || e < p[small_i] * (double)N) small_i = i;
        } else {
            ro += (double)cnt[i];
            re += e;
        }
    }
    for (int64_t i = 0; i < V; i++) {
        double e = p[i] * (double)N, o = (double)cnt[i];
        if (e < 5.0) continue;
        if (i == small_i && re > 0.0 && re < 5.0) {
            e += re;
            o += ro;
        }
        stat += (o - e) * (o - e) / e;
    }
    if (re >= 5.0) {
        stat += (ro - re) * (ro - re) / re;
        nc++;
    }
    *cells = nc;
    return stat;
}

typedef struct {
    char name[200];
    mlxn_dtype dt;
    ref_sample_params p;
    int ties;
} xcase;

static void chi2_run(const test_env *env, report_t *rep, const xcase *c) {
    enum { V = 50, N = 20000 };
    double x[V], prob[V], alt[V], *xs = malloc(sizeof(double) * V * N), *u = malloc(sizeof(double) * N);
    double *got = malloc(sizeof(double) * N);
    int64_t cnt[V];
    mlxn_buffer *xb = NULL, *ub = NULL;
    guarded_t gt;
    memset(&gt, 0, sizeof gt);
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!xs || !u || !got) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    /* logits whose top-p decision is clearly away from its threshold */
    double tpm = 0.0;
    for (int attempt = 0; attempt < 20; attempt++) {
        for (int i = 0; i < V; i++)
            x[i] = c->ties ? (double)rng_int(&rng, -4, 4) * 0.5 : rng_nonzero(&rng, c->dt, -3.0, 3.0);
        round_through(c->dt, x, V);
        if (ref_sample_dist(x, V, &c->p, prob, NULL, &tpm, NULL) == 0 && tpm > 1e-3) break;
    }
    if (!(tpm > 1e-3)) {
        snprintf(msg, sizeof msg, "setup: no logits with a top-p margin > 1e-3 found");
        goto done;
    }
    const ref_sample_params plain = {1.0, 0, 1.0, 0.0};
    double tpm2;
    ref_sample_dist(x, V, &plain, alt, NULL, &tpm2, NULL);
    for (int r = 0; r < N; r++) memcpy(xs + (int64_t)r * V, x, sizeof x);
    const int64_t shp[2] = {N, V}, sn[1] = {N};
    if ((s = upload_values(env->dev, c->dt, 2, shp, xs, &xb))) goto dev_err;
    if ((s = guarded_new(env->dev, MLXN_I32, 1, sn, 0, &gt))) goto dev_err;
    mlxn_sample_params p = to_params(&c->p);
    double stat = 0.0, crit = 0.0, stat_alt = 0.0, worst_strat = 0.0;
    int cells = 0, cells_alt = 0;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: seeded random u (24-bit values in [0, 1)); pass 1: stratified */
        for (int r = 0; r < N; r++)
            u[r] = pass == 0 ? ldexp((double)rng_int(&rng, 0, (1 << 24) - 1), -24) : (float)((r + 0.5) / N);
        mlxn_buffer_free(ub);
        ub = NULL;
        if ((s = upload_values(env->dev, MLXN_F32, 1, sn, u, &ub))) goto dev_err;
        s = mlxn_softmax_sample(env->enc, xb, ub, gt.view, NULL, NULL, &p);
        if (!s) s = mlxn_encoder_wait(env->enc);
        if (s) goto dev_err;
        bool gok = false;
        if ((s = guarded_read(&gt, got, &gok))) goto dev_err;
        if (!gok) {
            snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
            goto done;
        }
        memset(cnt, 0, sizeof cnt);
        for (int r = 0; r < N; r++) {
            if (!(got[r] >= 0 && got[r] < V)) {
                snprintf(msg, sizeof msg, "draw %d: token %.0f out of range", r, got[r]);
                goto done;
            }
            cnt[(int)got[r]]++;
        }
        for (int i = 0; i < V; i++)
            if (prob[i] == 0.0 && cnt[i]) {
                snprintf(msg, sizeof msg, "pass %d: filtered token %d drawn %lld times", pass, i, (long long)cnt[i]);
                goto done;
            }
        if (pass == 0) {
            stat = chi2_stat(cnt, prob, V, N, &cells);
            stat_alt = chi2_stat(cnt, alt, V, N, &cells_alt);
            crit = cells > 1 ? chi2_crit(cells - 1) : 0.0;
            if (cells > 1 ? !(stat <= crit) : stat != 0.0) {
                snprintf(msg, sizeof msg, "chi2 %.2f > critical %.2f (%d cells, p = 1e-4)", stat, crit, cells);
                goto done;
            }
        } else {
            for (int i = 0; i < V; i++) {
                const double dv = fabs((double)cnt[i] - prob[i] * N);
                if (dv > worst_strat) worst_strat = dv;
            }
            if (worst_strat > 1.5) {
                snprintf(msg, sizeof msg, "stratified u: a count is %.2f away from N*p (limit 1.5)", worst_strat);
                goto done;
            }
        }
    }
    ok = true;
    snprintf(msg, sizeof msg,
             "chi2 %.2f <= %.2f (%d cells, p = 1e-4; vs unfiltered T=1: %.1f); stratified: max |count - Np| %.2f", stat,
             crit, cells, stat_alt, worst_strat);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(ub);
    guarded_free(&gt);
    free(xs);
    free(u);
    free(got);
}

static void chi2_cases(const test_env *env, report_t *rep, bool list) {
    static const ref_sample_params P[] = {
        {1.0, 0, 1.0, 0.0},  {0.5, 0, 1.0, 0.0},  {2.0, 0, 1.0, 0.0},   {1.0, 10, 1.0, 0.0},
        {1.0, 0, 0.8, 0.0},  {1.0, 0, 1.0, 0.1},  {0.8, 20, 0.9, 0.05}, {1.0, 10, 0.7, 0.2},
        {0.0, 0, 1.0, 0.0},
    };
    for (int d = 0; d < 3; d++)
        for (size_t i = 0; i < sizeof P / sizeof P[0]; i++)
            for (int ties = 0; ties < 2; ties++) {
                if (d > 0 && i != 6 && i != 3) continue; /* 16-bit logits: two settings */
                if (ties && i != 3 && i != 4 && i != 7) continue;
                xcase c;
                memset(&c, 0, sizeof c);
                c.dt = DT[d];
                c.p = P[i];
                c.ties = ties;
                snprintf(c.name, sizeof c.name, "sample_chi2/%s/V50.N20000/T%g.k%lld.p%g.m%g/%s", mlxn_dtype_name(c.dt),
                         c.p.temperature, (long long)c.p.top_k, c.p.top_p, c.p.min_p, ties ? "ties" : "uniform");
                if (!report_wants(rep, c.name)) continue;
                if (list) printf("%s\n", c.name);
                else chi2_run(env, rep, &c);
            }
}

/* ---- validation -------------------------------------------------------------- */

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list, NULL};
    if (!list && mlxn_device_open(MLXN_BACKEND_CPU, 0, &v.other) != MLXN_OK) v.other = NULL;
    mlxn_device *d = env->dev;
    mlxn_encoder *e = env->enc;
    const int64_t L[2] = {4, 16}, K[2] = {4, 2}, K3[2] = {4, 3}, E1[1] = {16}, E5[1] = {5}, L1[2] = {4, 1},
                  BIG[1] = {4096};
    const char *OP = "moe_softmax_topk";
    const mlxn_moe_topk_params k2 = {2, 1}, k0 = {0, 1}, k65 = {65, 1}, k3 = {3, 1}, kr = {2, 2};
    /* ---- moe_softmax_topk ---- */
#define SETUP_T()                                                         \
    vset s = {.setup_ok = true};                                          \
    mlxn_buffer *x = vs_new(&s, d, MLXN_F32, 2, L, 0x11);                 \
    mlxn_buffer *sc = vs_new(&s, d, MLXN_F32, 1, E1, 0x22);               \
    mlxn_buffer *id = vs_new(&s, d, MLXN_I32, 2, K, 0x33);                \
    mlxn_buffer *wt = vs_new(&s, d, MLXN_F32, 2, K, 0x44);                \
    (void)x; (void)sc; (void)id; (void)wt;                                \
    const uint64_t d0 = dispatches(d)
#define REJECT_T(nm, call, st, ...)                                       \
    VCASE(&v, "sample/validate/moe_topk/" nm) {                           \
        SETUP_T();                                                        \
        mlxn_status r_ = (call);                                          \
        vcheck(&v, "sample/validate/moe_topk/" nm, &s, d0, r_, st, __VA_ARGS__, NULL); \
    }
    VCASE(&v, "sample/validate/moe_topk/ok") {
        SETUP_T();
        vcheck_ok(&v, "sample/validate/moe_topk/ok", &s, d0, mlxn_moe_softmax_topk(e, x, sc, id, wt, &k2));
    }
    REJECT_T("null_encoder", mlxn_moe_softmax_topk(NULL, x, sc, id, wt, &k2), MLXN_ERR_INVALID_ARGUMENT, OP,
             "encoder");
    REJECT_T("null_logits", mlxn_moe_softmax_topk(e, NULL, sc, id, wt, &k2), MLXN_ERR_INVALID_ARGUMENT, OP,
             "logits is NULL");
    REJECT_T("null_ids", mlxn_moe_softmax_topk(e, x, sc, NULL, wt, &k2), MLXN_ERR_INVALID_ARGUMENT, OP,
             "ids is NULL");
    REJECT_T("null_weights", mlxn_moe_softmax_topk(e, x, sc, id, NULL, &k2), MLXN_ERR_INVALID_ARGUMENT, OP,
             "weights is NULL");
    REJECT_T("null_params", mlxn_moe_softmax_topk(e, x, sc, id, wt, NULL), MLXN_ERR_INVALID_ARGUMENT, OP,
             "params is NULL");
    REJECT_T("k0", mlxn_moe_softmax_topk(e, x, sc, id, wt, &k0), MLXN_ERR_INVALID_ARGUMENT, OP, "k (0)", "[1, 64]");
    REJECT_T("k65", mlxn_moe_softmax_topk(e, x, sc, id, wt, &k65), MLXN_ERR_INVALID_ARGUMENT, OP, "k (65)");
    REJECT_T("renorm2", mlxn_moe_softmax_topk(e, x, sc, id, wt, &kr), MLXN_ERR_INVALID_ARGUMENT, OP,
             "renormalize (2)");
    REJECT_T("ids_numel", mlxn_moe_softmax_topk(e, x, sc, id, wt, &k3), MLXN_ERR_INVALID_ARGUMENT, OP,
             "ids has 8 elements, T*k is 12");
    VCASE(&v, "sample/validate/moe_topk/k_gt_E") {
        SETUP_T();
        mlxn_buffer *x1 = vs_new(&s, d, MLXN_F32, 2, L1, 0x55);
        vcheck(&v, "sample/validate/moe_topk/k_gt_E", &s, d0, mlxn_moe_softmax_topk(e, x1, NULL, id, wt, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "k (2) must be <= E (1)", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/dtype_i32") {
        SETUP_T();
        mlxn_buffer *xi = vs_new(&s, d, MLXN_I32, 2, L, 0x55);
        vcheck(&v, "sample/validate/moe_topk/dtype_i32", &s, d0, mlxn_moe_softmax_topk(e, xi, NULL, id, wt, &k2),
               MLXN_ERR_UNSUPPORTED, OP, "logits dtype i32", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/ids_dtype") {
        SETUP_T();
        mlxn_buffer *i2 = vs_new(&s, d, MLXN_U32, 2, K, 0x55);
        vcheck(&v, "sample/validate/moe_topk/ids_dtype", &s, d0, mlxn_moe_softmax_topk(e, x, NULL, i2, wt, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "ids dtype (u32) must be i32", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/weights_dtype") {
        SETUP_T();
        mlxn_buffer *w2 = vs_new(&s, d, MLXN_BF16, 2, K, 0x55);
        vcheck(&v, "sample/validate/moe_topk/weights_dtype", &s, d0, mlxn_moe_softmax_topk(e, x, NULL, id, w2, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "weights dtype (bf16) must be f32", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/weights_numel") {
        SETUP_T();
        mlxn_buffer *w3 = vs_new(&s, d, MLXN_F32, 2, K3, 0x55);
        vcheck(&v, "sample/validate/moe_topk/weights_numel", &s, d0, mlxn_moe_softmax_topk(e, x, NULL, id, w3, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "weights has 12 elements, T*k is 8", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/scale_numel") {
        SETUP_T();
        mlxn_buffer *s5 = vs_new(&s, d, MLXN_F32, 1, E5, 0x55);
        vcheck(&v, "sample/validate/moe_topk/scale_numel", &s, d0, mlxn_moe_softmax_topk(e, x, s5, id, wt, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "expert_scale has 5 elements, E is 16", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/scale_dtype") {
        SETUP_T();
        mlxn_buffer *sh = vs_new(&s, d, MLXN_F16, 1, E1, 0x55);
        vcheck(&v, "sample/validate/moe_topk/scale_dtype", &s, d0, mlxn_moe_softmax_topk(e, x, sh, id, wt, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "expert_scale dtype (f16) must be f32", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/other_device") {
        SETUP_T();
        mlxn_buffer *xo = vs_new(&s, v.other, MLXN_F32, 2, L, 0x55);
        vcheck(&v, "sample/validate/moe_topk/other_device", &s, d0, mlxn_moe_softmax_topk(e, xo, NULL, id, wt, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "logits lives on device", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/overlaps") {
        SETUP_T();
        mlxn_buffer *bg = vs_new(&s, d, MLXN_F32, 1, BIG, 0x55);
        mlxn_buffer *xin = vs_view(&s, bg, 0, MLXN_F32, 2, L);
        mlxn_buffer *win = vs_view(&s, bg, 16, MLXN_F32, 2, K);
        vcheck(&v, "sample/validate/moe_topk/overlaps", &s, d0, mlxn_moe_softmax_topk(e, xin, NULL, id, win, &k2),
               MLXN_ERR_INVALID_ARGUMENT, OP, "weights overlaps logits", NULL);
    }
    VCASE(&v, "sample/validate/moe_topk/ids_overlap_weights") {
        SETUP_T();
        mlxn_buffer *bg = vs_new(&s, d, MLXN_F32, 1, BIG, 0x55);
        mlxn_buffer *iin = vs_view(&s, bg, 0, MLXN_I32, 2, K);
        mlxn_buffer *win = vs_view(&s, bg, 8, MLXN_F32, 2, K);
        vcheck(&v, "sample/validate/moe_topk/ids_overlap_weights", &s, d0,
               mlxn_moe_softmax_topk(e, x, NULL, iin, win, &k2), MLXN_ERR_INVALID_ARGUMENT, OP,
               "weights overlaps ids", NULL);
    }
    /* ---- moe_weighted_reduce ---- */
    const char *OR = "moe_weighted_reduce";
    const int64_t Y[3] = {4, 2, 16}, W[2] = {4, 2}, D2[2] = {4, 16}, D3[2] = {4, 15}, G[1] = {4}, G5[1] = {5},
                  Y2[2] = {8, 16}, W3[2] = {4, 3};
    const mlxn_moe_reduce_params r0 = {0}, r1 = {1}, r2 = {2};
#define SETUP_R()                                                         \
    vset s = {.setup_ok = true};                                          \
    mlxn_buffer *y = vs_new(&s, d, MLXN_BF16, 3, Y, 0x11);                \
    mlxn_buffer *w = vs_new(&s, d, MLXN_F32, 2, W, 0x22);                 \
    mlxn_buffer *ys = vs_new(&s, d, MLXN_BF16, 2, D2, 0x33);              \
    mlxn_buffer *g = vs_new(&s, d, MLXN_F32, 1, G, 0x44);                 \
    mlxn_buffer *rs = vs_new(&s, d, MLXN_BF16, 2, D2, 0x55);              \
    mlxn_buffer *o = vs_new(&s, d, MLXN_BF16, 2, D2, 0x66);               \
    (void)y; (void)w; (void)ys; (void)g; (void)rs; (void)o;               \
    const uint64_t d0 = dispatches(d)
#define REJECT_R(nm, call, st, ...)                                       \
    VCASE(&v, "sample/validate/moe_reduce/" nm) {                         \
        SETUP_R();                                                        \
        mlxn_status r_ = (call);                                          \
        vcheck(&v, "sample/validate/moe_reduce/" nm, &s, d0, r_, st, __VA_ARGS__, NULL); \
    }
    VCASE(&v, "sample/validate/moe_reduce/ok") {
        SETUP_R();
        vcheck_ok(&v, "sample/validate/moe_reduce/ok", &s, d0, mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, o, &r1));
    }
    VCASE(&v, "sample/validate/moe_reduce/ok_inplace") {
        SETUP_R();
        vcheck_ok(&v, "sample/validate/moe_reduce/ok_inplace", &s, d0,
                  mlxn_moe_weighted_reduce(e, y, w, ys, g, o, o, &r1));
    }
    REJECT_R("null_encoder", mlxn_moe_weighted_reduce(NULL, y, w, ys, g, rs, o, &r1), MLXN_ERR_INVALID_ARGUMENT, OR,
             "encoder");
    REJECT_R("null_y", mlxn_moe_weighted_reduce(e, NULL, w, ys, g, rs, o, &r1), MLXN_ERR_INVALID_ARGUMENT, OR,
             "y is NULL");
    REJECT_R("null_w", mlxn_moe_weighted_reduce(e, y, NULL, ys, g, rs, o, &r1), MLXN_ERR_INVALID_ARGUMENT, OR,
             "w is NULL");
    REJECT_R("null_out", mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, NULL, &r1), MLXN_ERR_INVALID_ARGUMENT, OR,
             "out is NULL");
    REJECT_R("null_params", mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, o, NULL), MLXN_ERR_INVALID_ARGUMENT, OR,
             "params is NULL");
    REJECT_R("sigmoid2", mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, o, &r2), MLXN_ERR_INVALID_ARGUMENT, OR,
             "shared_sigmoid (2)");
    REJECT_R("gate_without_shared", mlxn_moe_weighted_reduce(e, y, w, NULL, g, rs, o, &r0),
             MLXN_ERR_INVALID_ARGUMENT, OR, "gate is given without y_shared");
    REJECT_R("y_dtype", mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, w, &r0), MLXN_ERR_INVALID_ARGUMENT, OR,
             "out dtype (f32) must equal y dtype (bf16)");
    VCASE(&v, "sample/validate/moe_reduce/y_2d") {
        SETUP_R();
        mlxn_buffer *y2 = vs_new(&s, d, MLXN_BF16, 2, Y2, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/y_2d", &s, d0, mlxn_moe_weighted_reduce(e, y2, w, ys, g, rs, o, &r0),
               MLXN_ERR_INVALID_ARGUMENT, OR, "y must be 3-D", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/y_i32") {
        SETUP_R();
        mlxn_buffer *yi = vs_new(&s, d, MLXN_I32, 3, Y, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/y_i32", &s, d0, mlxn_moe_weighted_reduce(e, yi, w, ys, g, rs, o, &r0),
               MLXN_ERR_UNSUPPORTED, OR, "y dtype i32", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/w_shape") {
        SETUP_R();
        mlxn_buffer *w3 = vs_new(&s, d, MLXN_F32, 2, W3, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/w_shape", &s, d0, mlxn_moe_weighted_reduce(e, y, w3, ys, g, rs, o, &r0),
               MLXN_ERR_INVALID_ARGUMENT, OR, "w must have T*k = 8", "has 12", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/w_dtype") {
        SETUP_R();
        mlxn_buffer *wb = vs_new(&s, d, MLXN_BF16, 2, W, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/w_dtype", &s, d0, mlxn_moe_weighted_reduce(e, y, wb, ys, g, rs, o, &r0),
               MLXN_ERR_INVALID_ARGUMENT, OR, "w dtype (bf16) must be f32", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/out_shape") {
        SETUP_R();
        mlxn_buffer *o3 = vs_new(&s, d, MLXN_BF16, 2, D3, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/out_shape", &s, d0, mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, o3, &r0),
               MLXN_ERR_INVALID_ARGUMENT, OR, "out must have T*D = 64", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/shared_dtype") {
        SETUP_R();
        mlxn_buffer *sf = vs_new(&s, d, MLXN_F16, 2, D2, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/shared_dtype", &s, d0,
               mlxn_moe_weighted_reduce(e, y, w, sf, g, rs, o, &r0), MLXN_ERR_INVALID_ARGUMENT, OR,
               "y_shared dtype (f16) must equal y dtype (bf16)", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/gate_numel") {
        SETUP_R();
        mlxn_buffer *g5 = vs_new(&s, d, MLXN_F32, 1, G5, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/gate_numel", &s, d0, mlxn_moe_weighted_reduce(e, y, w, ys, g5, rs, o, &r0),
               MLXN_ERR_INVALID_ARGUMENT, OR, "gate has 5 elements, T is 4", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/gate_dtype") {
        SETUP_R();
        mlxn_buffer *gi = vs_new(&s, d, MLXN_I32, 1, G, 0x77);
        vcheck(&v, "sample/validate/moe_reduce/gate_dtype", &s, d0, mlxn_moe_weighted_reduce(e, y, w, ys, gi, rs, o, &r0),
               MLXN_ERR_UNSUPPORTED, OR, "gate dtype i32", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/out_overlaps_y") {
        SETUP_R();
        mlxn_buffer *yv = vs_view(&s, y, 0, MLXN_BF16, 2, D2);
        vcheck(&v, "sample/validate/moe_reduce/out_overlaps_y", &s, d0,
               mlxn_moe_weighted_reduce(e, y, w, ys, g, rs, yv, &r0), MLXN_ERR_INVALID_ARGUMENT, OR,
               "out overlaps y", NULL);
    }
    VCASE(&v, "sample/validate/moe_reduce/out_partial_res") {
        SETUP_R();
        const int64_t D1[2] = {4, 16};
        mlxn_buffer *bg = vs_new(&s, d, MLXN_BF16, 1, BIG, 0x77);
        mlxn_buffer *ra = vs_view(&s, bg, 0, MLXN_BF16, 2, D1);
        mlxn_buffer *ob = vs_view(&s, bg, 8, MLXN_BF16, 2, D1);
        vcheck(&v, "sample/validate/moe_reduce/out_partial_res", &s, d0,
               mlxn_moe_weighted_reduce(e, y, w, ys, g, ra, ob, &r0), MLXN_ERR_INVALID_ARGUMENT, OR,
               "out partially overlaps res", NULL);
    }
    /* ---- softmax_sample ---- */
    const char *OS = "softmax_sample";
    const int64_t X[2] = {4, 100}, B4[1] = {4}, B3[1] = {3};
    const mlxn_sample_params sp = {0.8f, 40, 0.95f, 0.05f};
#define SETUP_S()                                                         \
    vset s = {.setup_ok = true};                                          \
    mlxn_buffer *x = vs_new(&s, d, MLXN_BF16, 2, X, 0x11);                \
    mlxn_buffer *u = vs_new(&s, d, MLXN_F32, 1, B4, 0x22);                \
    mlxn_buffer *tk = vs_new(&s, d, MLXN_I32, 1, B4, 0x33);               \
    mlxn_buffer *lp = vs_new(&s, d, MLXN_F32, 1, B4, 0x44);               \
    (void)x; (void)u; (void)tk; (void)lp;                                 \
    mlxn_sample_params q = sp;                                            \
    (void)q;                                                              \
    const uint64_t d0 = dispatches(d)
#define REJECT_SP(nm, field, val, ...)                                    \
    VCASE(&v, "sample/validate/softmax_sample/" nm) {                     \
        SETUP_S();                                                        \
        q.field = val;                                                    \
        mlxn_status r_ = mlxn_softmax_sample(e, x, u, tk, lp, NULL, &q);  \
        vcheck(&v, "sample/validate/softmax_sample/" nm, &s, d0, r_, MLXN_ERR_INVALID_ARGUMENT, OS, __VA_ARGS__, NULL); \
    }
#define REJECT_S(nm, call, st, ...)                                       \
    VCASE(&v, "sample/validate/softmax_sample/" nm) {                     \
        SETUP_S();                                                        \
        mlxn_status r_ = (call);                                          \
        vcheck(&v, "sample/validate/softmax_sample/" nm, &s, d0, r_, st, __VA_ARGS__, NULL); \
    }
    VCASE(&v, "sample/validate/softmax_sample/ok") {
        SETUP_S();
        vcheck_ok(&v, "sample/validate/softmax_sample/ok", &s, d0, mlxn_softmax_sample(e, x, u, tk, lp, NULL, &q));
    }
    VCASE(&v, "sample/validate/softmax_sample/ok_greedy_no_logprob") {
        SETUP_S();
        q.temperature = 0.0f;
        vcheck_ok(&v, "sample/validate/softmax_sample/ok_greedy_no_logprob", &s, d0,
                  mlxn_softmax_sample(e, x, u, tk, NULL, NULL, &q));
    }
    REJECT_SP("temperature_neg", temperature, -0.5f, "temperature (-0.5)", "0 = greedy");
    REJECT_SP("temperature_nan", temperature, NAN, "temperature (nan)");
    REJECT_SP("temperature_inf", temperature, INFINITY, "temperature (inf)");
    REJECT_SP("top_p_0", top_p, 0.0f, "top_p (0) must be in (0, 1]");
    REJECT_SP("top_p_gt1", top_p, 1.5f, "top_p (1.5)");
    REJECT_SP("top_p_nan", top_p, NAN, "top_p (nan)");
    REJECT_SP("min_p_neg", min_p, -0.25f, "min_p (-0.25) must be in [0, 1]");
    REJECT_SP("min_p_gt1", min_p, 2.0f, "min_p (2)");
    REJECT_SP("min_p_nan", min_p, NAN, "min_p (nan)");
    REJECT_S("null_encoder", mlxn_softmax_sample(NULL, x, u, tk, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "encoder");
    REJECT_S("null_logits", mlxn_softmax_sample(e, NULL, u, tk, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "logits is NULL");
    REJECT_S("null_u", mlxn_softmax_sample(e, x, NULL, tk, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "u is NULL");
    REJECT_S("null_token", mlxn_softmax_sample(e, x, u, NULL, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "token is NULL");
    REJECT_S("null_params", mlxn_softmax_sample(e, x, u, tk, lp, NULL, NULL), MLXN_ERR_INVALID_ARGUMENT, OS,
             "params is NULL");
    REJECT_S("u_as_token", mlxn_softmax_sample(e, x, tk, u, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "u dtype (i32) must be f32");
    REJECT_S("token_f32", mlxn_softmax_sample(e, x, u, lp, NULL, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "token dtype (f32) must be i32");
    REJECT_S("logprob_i32", mlxn_softmax_sample(e, x, u, tk, tk, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
             "logprob dtype (i32) must be f32");
    VCASE(&v, "sample/validate/softmax_sample/u_numel") {
        SETUP_S();
        mlxn_buffer *u3 = vs_new(&s, d, MLXN_F32, 1, B3, 0x55);
        vcheck(&v, "sample/validate/softmax_sample/u_numel", &s, d0, mlxn_softmax_sample(e, x, u3, tk, lp, NULL, &q),
               MLXN_ERR_INVALID_ARGUMENT, OS, "u has 3 elements, logits has 4 rows of 100", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/token_numel") {
        SETUP_S();
        mlxn_buffer *t3 = vs_new(&s, d, MLXN_I32, 1, B3, 0x55);
        vcheck(&v, "sample/validate/softmax_sample/token_numel", &s, d0,
               mlxn_softmax_sample(e, x, u, t3, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
               "token has 3 elements, logits has 4 rows", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/logprob_numel") {
        SETUP_S();
        mlxn_buffer *l3 = vs_new(&s, d, MLXN_F32, 1, B3, 0x55);
        vcheck(&v, "sample/validate/softmax_sample/logprob_numel", &s, d0,
               mlxn_softmax_sample(e, x, u, tk, l3, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
               "logprob has 3 elements", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/logits_i32") {
        SETUP_S();
        mlxn_buffer *xi = vs_new(&s, d, MLXN_I32, 2, X, 0x55);
        vcheck(&v, "sample/validate/softmax_sample/logits_i32", &s, d0,
               mlxn_softmax_sample(e, xi, u, tk, lp, NULL, &q), MLXN_ERR_UNSUPPORTED, OS, "logits dtype i32", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/other_device") {
        SETUP_S();
        mlxn_buffer *uo = vs_new(&s, v.other, MLXN_F32, 1, B4, 0x55);
        vcheck(&v, "sample/validate/softmax_sample/other_device", &s, d0,
               mlxn_softmax_sample(e, x, uo, tk, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS, "u lives on device",
               NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/logprob_overlaps_token") {
        SETUP_S();
        mlxn_buffer *bg = vs_new(&s, d, MLXN_F32, 1, BIG, 0x55);
        mlxn_buffer *ti = vs_view(&s, bg, 0, MLXN_I32, 1, B4);
        mlxn_buffer *li = vs_view(&s, bg, 8, MLXN_F32, 1, B4);
        vcheck(&v, "sample/validate/softmax_sample/logprob_overlaps_token", &s, d0,
               mlxn_softmax_sample(e, x, u, ti, li, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
               "logprob overlaps token", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/token_overlaps_logits") {
        SETUP_S();
        mlxn_buffer *bg = vs_new(&s, d, MLXN_F32, 1, BIG, 0x55);
        mlxn_buffer *xf = vs_view(&s, bg, 0, MLXN_F32, 2, X);
        mlxn_buffer *ti = vs_view(&s, bg, 64, MLXN_I32, 1, B4);
        vcheck(&v, "sample/validate/softmax_sample/token_overlaps_logits", &s, d0,
               mlxn_softmax_sample(e, xf, u, ti, lp, NULL, &q), MLXN_ERR_INVALID_ARGUMENT, OS,
               "token overlaps logits", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/ws_overlaps_u") {
        SETUP_S();
        vcheck(&v, "sample/validate/softmax_sample/ws_overlaps_u", &s, d0,
               mlxn_softmax_sample(e, x, u, tk, lp, u, &q), MLXN_ERR_INVALID_ARGUMENT, OS, "ws overlaps u", NULL);
    }
    VCASE(&v, "sample/validate/softmax_sample/workspace_size_args") {
        size_t nb = 99;
        const mlxn_status a = mlxn_softmax_sample_workspace_size(NULL, 1, 10, &nb);
        const mlxn_status b = mlxn_softmax_sample_workspace_size(d, 0, 10, &nb);
        const mlxn_status c2 = mlxn_softmax_sample_workspace_size(d, 1, (int64_t)1 << 32, &nb);
        const mlxn_status ok2 = mlxn_softmax_sample_workspace_size(d, 32, 151936, &nb);
        const bool good = a == MLXN_ERR_INVALID_ARGUMENT && b == MLXN_ERR_INVALID_ARGUMENT &&
                          c2 == MLXN_ERR_INVALID_ARGUMENT && ok2 == MLXN_OK && nb == 0;
        report_case(rep, "sample/validate/softmax_sample/workspace_size_args", good,
                    "NULL device, 0 rows, V 2^32 rejected; 32 x 151936 -> %zu bytes", nb);
    }
    mlxn_device_close(v.other);
#undef SETUP_T
#undef REJECT_T
#undef SETUP_R
#undef REJECT_R
#undef SETUP_S
#undef REJECT_S
#undef REJECT_SP
}

void sample_suite(const test_env *env, report_t *rep, bool list) {
    moe_topk_cases(env, rep, list);
    moe_reduce_cases(env, rep, list);
    sample_cases(env, rep, list);
    chi2_cases(env, rep, list);
    validation_cases(env, rep, list);
}
