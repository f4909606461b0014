/* tests/ops/sort.c — differential and validation cases of the sort family
   (mlxn_argsort, mlxn_top_k and their workspace-size functions) against
   tests/ref/ref_sort.c.

   Case names encode their parameters:
     argsort/<dtype>/r<rows>.n<n>/<desc|asc>[/mis1][/wsmis]/<fill>
     top_k/<dtype>.<noval|to.vdtype>/r<rows>.n<n>.k<k>[/mis1][/wsmis]/<fill>
   Inputs are seeded from the case name; outputs are guarded views (poisoned,
   guard bytes around them); the workspace (when the backend needs one) is
   filled with a 0xA5 pattern first and, with /wsmis, starts one byte off
   its allocation's alignment.

   Sorting is exact: the contract's order (NaN largest, -0 == +0, ties to
   the lower index) determines every index, so idx must equal the reference
   element for element, and val must be x[idx] bit for bit (NaN for NaN,
   sign of zero included). Every top_k case also runs the backend's own
   descending argsort on the same input and checks top_k == its first k.

   Fills: uniform (non-zero in [-1, 1]), ties (8 distinct values: long runs of
   equal keys), special (NaN of both signs, +-inf, +-0, subnormals, huge
   values, mixed with ties), equal (every element the same), up / down
   (already sorted ascending / descending, with ties). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_sort.h"

enum { OP_ARGSORT, OP_TOPK };
enum { FILL_UNIFORM, FILL_TIES, FILL_SPECIAL, FILL_EQUAL, FILL_UP, FILL_DOWN };
static const char *FILL_NAMES[] = {"uniform", "ties", "special", "equal", "up", "down"};

typedef struct {
    char name[200];
    int op;
    mlxn_dtype dt;
    int vdt; /* top_k val dtype, -1: none */
    int64_t rows, n;
    int k, asc, fill, misalign, wsmis;
} scase;

static const mlxn_dtype DT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

static void name_case(scase *c) {
    const char *mis = c->misalign ? "/mis1" : "", *wm = c->wsmis ? "/wsmis" : "";
    if (c->op == OP_ARGSORT)
        snprintf(c->name, sizeof c->name, "argsort/%s/r%lld.n%lld/%s%s%s/%s", mlxn_dtype_name(c->dt),
                 (long long)c->rows, (long long)c->n, c->asc ? "asc" : "desc", mis, wm, FILL_NAMES[c->fill]);
    else {
        char v[32];
        if (c->vdt < 0) snprintf(v, sizeof v, "noval");
        else snprintf(v, sizeof v, "to.%s", mlxn_dtype_name((mlxn_dtype)c->vdt));
        snprintf(c->name, sizeof c->name, "top_k/%s.%s/r%lld.n%lld.k%d%s%s/%s", mlxn_dtype_name(c->dt), v,
                 (long long)c->rows, (long long)c->n, c->k, mis, wm, FILL_NAMES[c->fill]);
    }
}

static void fill_inputs(const scase *c, rng_t *rng, double *x) {
    static const double TV[8] = {-1.0, -0.5, -0.125, 0.25, 0.375, 0.5, 0.75, 1.0};
    static const double SV[12] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -1e-40, 6e-8, 3e38, -3e38, 0.5};
    const int64_t n = c->n;
    for (int64_t r = 0; r < c->rows; r++) {
        double *xr = x + r * n;
        for (int64_t j = 0; j < n; j++) {
            double v = rng_nonzero(rng, c->dt, -1.0, 1.0);
            switch (c->fill) {
            case FILL_TIES: v = TV[rng_int(rng, 0, 7)]; break;
            case FILL_SPECIAL:
                /* about a third special values, a third ties, a third random */
                switch (rng_int(rng, 0, 2)) {
                case 0: v = SV[rng_int(rng, 0, 11)]; break;
                case 1: v = TV[rng_int(rng, 0, 7)]; break;
                default: break;
                }
                break;
            case FILL_EQUAL: v = 0.375; break;
            case FILL_UP: v = -1.0 + 2.0 * (double)(j / 3) / (double)(n / 3 + 1); break;
            case FILL_DOWN: v = 1.0 - 2.0 * (double)(j / 3) / (double)(n / 3 + 1); break;
            default: break;
            }
            xr[j] = v;
        }
    }
    round_through(c->dt, x, (size_t)(c->rows * n));
}

/* rows x n values of dtype t, `misalign` elements into a fresh allocation. */
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

/* A workspace of `bytes` (none when 0), `mis` bytes into its allocation,
   filled with 0xA5. */
static mlxn_status ws_new(mlxn_device *d, size_t bytes, int mis, mlxn_buffer **base, mlxn_buffer **view) {
    *base = *view = NULL;
    if (!bytes) return MLXN_OK;
    const int64_t tot = (int64_t)bytes + mis, len = (int64_t)bytes;
    mlxn_status s = mlxn_buffer_new(d, MLXN_U8, 1, &tot, base);
    if (s) return s;
    if ((s = mlxn_buffer_view(*base, (size_t)mis, MLXN_U8, 1, &len, view))) return s;
    unsigned char *pat = malloc(bytes);
    if (!pat) return MLXN_ERR_OUT_OF_MEMORY;
    memset(pat, 0xA5, bytes);
    s = mlxn_buffer_write(*view, pat, bytes);
    free(pat);
    return s;
}

static bool same_value(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* The backend's descending argsort of xv into host idx (rows x n). */
static mlxn_status device_argsort(const test_env *env, const mlxn_buffer *xv, int64_t rows, int64_t n, int asc,
                                  int wsmis, int32_t *out) {
    size_t wb = 0;
    mlxn_buffer *idx = NULL, *wsb = NULL, *wsv = NULL;
    const int64_t shp[2] = {rows, n};
    mlxn_status s = mlxn_argsort_workspace_size(env->dev, rows, n, mlxn_buffer_dtype(xv), &wb);
    if (!s) s = ws_new(env->dev, wb, wsmis, &wsb, &wsv);
    if (!s) s = mlxn_buffer_new(env->dev, MLXN_I32, 2, shp, &idx);
    mlxn_argsort_params p = {asc};
    if (!s) s = mlxn_argsort(env->enc, xv, idx, wsv, &p);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (!s) s = mlxn_buffer_read(idx, out, sizeof(int32_t) * (size_t)(rows * n));
    mlxn_buffer_free(idx);
    mlxn_buffer_free(wsv);
    mlxn_buffer_free(wsb);
    return s;
}

static void run_case(const test_env *env, report_t *rep, const scase *c) {
    const int64_t tot = c->rows * c->n, kk = c->op == OP_ARGSORT ? c->n : c->k, nout = c->rows * kk;
    double *x = malloc(sizeof(double) * (size_t)tot), *got = malloc(sizeof(double) * (size_t)nout);
    double *vgot = malloc(sizeof(double) * (size_t)nout);
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)nout), *full = NULL;
    mlxn_buffer *xb = NULL, *xv = NULL, *wsb = NULL, *wsv = NULL;
    guarded_t g, gv;
    memset(&g, 0, sizeof g);
    memset(&gv, 0, sizeof gv);
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!x || !got || !vgot || !ref) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    fill_inputs(c, &rng, x);
    if (c->op == OP_ARGSORT) ref_argsort(x, c->rows, c->n, c->asc, ref);
    else ref_top_k(x, c->rows, c->n, c->k, ref);

    const int64_t shp[2] = {c->rows, kk};
    size_t wb = 0;
    s = c->op == OP_ARGSORT ? mlxn_argsort_workspace_size(env->dev, c->rows, c->n, c->dt, &wb)
                            : mlxn_top_k_workspace_size(env->dev, c->rows, c->n, c->k, c->dt, &wb);
    if (s) goto dev_err;
    if ((s = ws_new(env->dev, wb, c->wsmis, &wsb, &wsv))) goto dev_err;
    if ((s = guarded_new(env->dev, MLXN_I32, 2, shp, c->misalign, &g))) goto dev_err;
    if (c->vdt >= 0 && (s = guarded_new(env->dev, (mlxn_dtype)c->vdt, 2, shp, c->misalign, &gv))) goto dev_err;
    if ((s = upload_view(env->dev, c->dt, c->rows, c->n, x, c->misalign, &xb, &xv))) goto dev_err;
    if (c->op == OP_ARGSORT) {
        mlxn_argsort_params p = {c->asc};
        s = mlxn_argsort(env->enc, xv, g.view, wsv, &p);
    } else {
        mlxn_top_k_params p = {c->k};
        s = mlxn_top_k(env->enc, xv, g.view, c->vdt >= 0 ? gv.view : NULL, wsv, &p);
    }
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool guards_ok = false, gv_ok = true;
    if ((s = guarded_read(&g, got, &guards_ok))) goto dev_err;
    if (c->vdt >= 0 && (s = guarded_read(&gv, vgot, &gv_ok))) goto dev_err;
    if (!guards_ok || !gv_ok) {
        snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
        goto done;
    }
    for (int64_t r = 0; r < c->rows; r++)
        for (int64_t j = 0; j < kk; j++) {
            const int64_t o = r * kk + j;
            if (got[o] != (double)ref[o]) {
                const double gi = got[o];
                snprintf(msg, sizeof msg, "row %lld pos %lld: idx %.0f, expected %d (x there %g, at expected %g)",
                         (long long)r, (long long)j, gi, ref[o],
                         gi >= 0 && gi < (double)c->n ? x[r * c->n + (int64_t)gi] : NAN, x[r * c->n + ref[o]]);
                goto done;
            }
            if (c->vdt >= 0 && !same_value(vgot[o], x[r * c->n + ref[o]])) {
                snprintf(msg, sizeof msg, "row %lld pos %lld: val %g, expected %g (bitwise)", (long long)r,
                         (long long)j, vgot[o], x[r * c->n + ref[o]]);
                goto done;
            }
        }
    if (c->op == OP_TOPK) {
        /* top_k == the first k of the backend's own descending argsort */
        full = malloc(sizeof(int32_t) * (size_t)tot);
        if (!full) {
            snprintf(msg, sizeof msg, "out of host memory");
            goto done;
        }
        if ((s = device_argsort(env, xv, c->rows, c->n, 0, c->wsmis, full))) goto dev_err;
        for (int64_t r = 0; r < c->rows; r++)
            for (int64_t j = 0; j < kk; j++)
                if (got[r * kk + j] != (double)full[r * c->n + j]) {
                    snprintf(msg, sizeof msg, "row %lld pos %lld: top_k idx %.0f, argsort's %d", (long long)r,
                             (long long)j, got[r * kk + j], full[r * c->n + j]);
                    goto done;
                }
    }
    ok = true;
    snprintf(msg, sizeof msg, "%lld indices exact%s (ws %zu bytes)", (long long)nout,
             c->op == OP_TOPK ? ", = argsort's first k" : "", wb);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(wsv);
    mlxn_buffer_free(wsb);
    guarded_free(&g);
    guarded_free(&gv);
    free(x);
    free(got);
    free(vgot);
    free(ref);
    free(full);
}

static void each(const test_env *env, report_t *rep, bool list, scase *c) {
    name_case(c);
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else run_case(env, rep, c);
}

static scase base_case(int op, mlxn_dtype dt, int64_t rows, int64_t n, int k) {
    scase c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.dt = dt;
    c.vdt = -1;
    c.rows = rows;
    c.n = n;
    c.k = k;
    return c;
}

static void differential_cases(const test_env *env, report_t *rep, bool list) {
    /* lengths around the warp, the CUDA shared-memory limit (4096), the
       top_k chunk (4096), a vocab, ggml's 200000; at most 2M elements a case */
    static const int64_t N[] = {1, 2, 3, 31, 33, 100, 256, 1000, 1025, 4096, 4097, 8195, 32000, 200000, 262144};
    static const int64_t R[] = {1, 3, 16, 512};
    for (int d = 0; d < 3; d++) {
        int q = 0;
        for (size_t ni = 0; ni < sizeof N / sizeof N[0]; ni++)
            for (size_t ri = 0; ri < sizeof R / sizeof R[0]; ri++, q++) {
                if (N[ni] * R[ri] > ((int64_t)1 << 21)) continue;
                scase c = base_case(OP_ARGSORT, DT[d], R[ri], N[ni], 0);
                c.asc = q % 2;
                c.misalign = (q / 2) % 2;
                c.wsmis = q % 3 == 0;
                c.fill = q % 3; /* uniform, ties, special */
                each(env, rep, list, &c);
            }
        /* every fill in both orders at the path boundaries */
        static const int64_t FN[] = {5, 1000, 4097, 70000};
        for (size_t ni = 0; ni < 4; ni++)
            for (int f = 0; f < 6; f++)
                for (int asc = 0; asc < 2; asc++) {
                    scase c = base_case(OP_ARGSORT, DT[d], ni == 3 ? 2 : 3, FN[ni], 0);
                    c.fill = f;
                    c.asc = asc;
                    c.misalign = f % 2;
                    each(env, rep, list, &c);
                }
    }
    /* ggml's ARGSORT f32 [200000,16] (16 rows of 200000) */
    {
        scase c = base_case(OP_ARGSORT, MLXN_F32, 16, 200000, 0);
        each(env, rep, list, &c);
    }
    /* top_k */
    static const int64_t TN[] = {1, 5, 40, 100, 1000, 1024, 4096, 4097, 32000, 262144};
    static const int TK[] = {1, 2, 40, 50, 300, 1000, 1024};
    static const int64_t TR[] = {1, 3, 64};
    for (int d = 0; d < 3; d++) {
        int q = 0;
        for (size_t ni = 0; ni < sizeof TN / sizeof TN[0]; ni++)
            for (size_t ki = 0; ki < sizeof TK / sizeof TK[0] + 1; ki++)
                for (size_t ri = 0; ri < 3; ri++, q++) {
                    const int k = ki < sizeof TK / sizeof TK[0] ? TK[ki] : (int)(TN[ni] < 1024 ? TN[ni] : 0);
                    if (k < 1 || k > TN[ni]) continue;
                    if (TN[ni] * TR[ri] > ((int64_t)1 << 21)) continue;
                    if (TN[ni] == 262144 && ri > 1) continue;
                    scase c = base_case(OP_TOPK, DT[d], TR[ri], TN[ni], k);
                    c.vdt = q % 3 == 0 ? -1 : q % 3 == 1 ? (int)DT[d] : (int)MLXN_F32;
                    c.misalign = (q / 3) % 2;
                    c.wsmis = q % 5 == 0;
                    c.fill = q % 3;
                    each(env, rep, list, &c);
                }
        /* ties and specials across the candidate stages of long rows */
        static const int64_t LN[] = {4097, 32000, 262144};
        static const int LK[] = {1, 40, 1024};
        for (size_t ni = 0; ni < 3; ni++)
            for (size_t ki = 0; ki < 3; ki++)
                for (int f = 1; f < 6; f++) {
                    scase c = base_case(OP_TOPK, DT[d], ni == 2 ? 1 : 2, LN[ni], LK[ki]);
                    c.fill = f;
                    c.vdt = (int)DT[d];
                    each(env, rep, list, &c);
                }
    }
    /* decode and batched shapes of the bench */
    {
        scase c = base_case(OP_TOPK, MLXN_F32, 64, 32000, 50);
        c.vdt = MLXN_F32;
        each(env, rep, list, &c);
        scase c2 = base_case(OP_ARGSORT, MLXN_F32, 512, 256, 0);
        each(env, rep, list, &c2);
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
    mlxn_buffer *idx, *val, *ws;
    const void *p;
} vcall;


/* Runs the op on bad arguments: it must return `want`, name the op and
   `needle` in its message, leave idx/val/ws (pre-filled with a pattern)
   untouched and dispatch nothing. */
static void expect_fail(vctx *v, const char *name, vcall k, mlxn_status want, const char *needle) {
    const char *opn = k.op == OP_ARGSORT ? "argsort" : "top_k";
    char full[160];
    snprintf(full, sizeof full, "sort/validate/%s/%s", opn, name);
    if (!report_wants(v->rep, full)) return;
    if (v->list) {
        printf("%s\n", full);
        return;
    }
    mlxn_buffer *outs[3] = {k.idx, k.val, k.ws};
    out_pattern g;
    if (!out_pattern_fill(&g, outs, 3)) {
        report_case(v->rep, full, false, "out of host memory");
        goto out;
    }
    mlxn_counters c0, c1;
    mlxn_device_counters(v->env->dev, &c0);
    mlxn_clear_error();
    mlxn_status s;
    if (k.op == OP_ARGSORT) s = mlxn_argsort(k.e, k.x, k.idx, k.ws, (const mlxn_argsort_params *)k.p);
    else s = mlxn_top_k(k.e, k.x, k.idx, k.val, k.ws, (const mlxn_top_k_params *)k.p);
    mlxn_device_counters(v->env->dev, &c1);
    const char *msg = mlxn_last_error();
    char detail[400];
    bool ok = s == want && strncmp(msg, opn, strlen(opn)) == 0 && strstr(msg, needle);
    snprintf(detail, sizeof detail, "status %s (want %s), message \"%s\" (want \"%s\")", mlxn_status_str(s),
             mlxn_status_str(want), msg, needle);
    if (ok && (c1.dispatches != c0.dispatches || c1.device_allocs != c0.device_allocs)) {
        ok = false;
        snprintf(detail, sizeof detail, "the failing call dispatched or allocated");
    }
    if (ok && !out_pattern_intact(&g, v->env->enc)) {
        ok = false;
        snprintf(detail, sizeof detail, "an output was written although the op failed");
    }
    report_case(v->rep, full, ok, "%s", detail);
out:
    out_pattern_free(&g);
}

/* A size-function case: status `want` and `needle` in the message. */
static void expect_size(vctx *v, const char *name, mlxn_status got, mlxn_status want, const char *opn,
                        const char *needle) {
    char full[160];
    snprintf(full, sizeof full, "sort/validate/%s/%s", opn, name);
    if (!report_wants(v->rep, full)) return;
    if (v->list) {
        printf("%s\n", full);
        return;
    }
    const char *msg = mlxn_last_error();
    const bool ok = got == want && strncmp(msg, opn, strlen(opn)) == 0 && strstr(msg, needle);
    report_case(v->rep, full, ok, "status %s (want %s), message \"%s\" (want \"%s\")", mlxn_status_str(got),
                mlxn_status_str(want), msg, needle);
}

static void size_cases(vctx *v) {
    mlxn_device *d = v->env ? v->env->dev : NULL;
    size_t b = 0;
    const char *A = "argsort_workspace_size", *T = "top_k_workspace_size";
#define SZ(name, call, want, opn, needle)                                                                      \
    do {                                                                                                       \
        mlxn_clear_error();                                                                                    \
        mlxn_status s_ = v->list ? MLXN_OK : (call);                                                           \
        expect_size(v, name, s_, want, opn, needle);                                                           \
    } while (0)
    SZ("null_device", mlxn_argsort_workspace_size(NULL, 1, 8, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, A,
       "device is NULL");
    SZ("null_bytes", mlxn_argsort_workspace_size(d, 1, 8, MLXN_F32, NULL), MLXN_ERR_INVALID_ARGUMENT, A,
       "bytes is NULL");
    SZ("dtype_i32", mlxn_argsort_workspace_size(d, 1, 8, MLXN_I32, &b), MLXN_ERR_UNSUPPORTED, A, "dtype i32");
    SZ("rows_0", mlxn_argsort_workspace_size(d, 0, 8, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, A,
       "rows (0) and n (8) must be >= 1");
    SZ("n_neg", mlxn_argsort_workspace_size(d, 2, -5, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, A,
       "n (-5) must be >= 1");
    SZ("n_2pow31", mlxn_argsort_workspace_size(d, 1, (int64_t)1 << 31, MLXN_F16, &b), MLXN_ERR_INVALID_ARGUMENT, A,
       "rows of 2147483648 elements exceed the i32 index limit");
    SZ("overflow", mlxn_argsort_workspace_size(d, (int64_t)1 << 40, (int64_t)1 << 30, MLXN_F32, &b),
       MLXN_ERR_INVALID_ARGUMENT, A, "overflow");
    SZ("null_device", mlxn_top_k_workspace_size(NULL, 1, 8, 2, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, T,
       "device is NULL");
    SZ("null_bytes", mlxn_top_k_workspace_size(d, 1, 8, 2, MLXN_F32, NULL), MLXN_ERR_INVALID_ARGUMENT, T,
       "bytes is NULL");
    SZ("dtype_u8", mlxn_top_k_workspace_size(d, 1, 8, 2, MLXN_U8, &b), MLXN_ERR_UNSUPPORTED, T, "dtype u8");
    SZ("k_0", mlxn_top_k_workspace_size(d, 1, 8, 0, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, T,
       "k (0) must be in [1, 8]");
    SZ("k_gt_n", mlxn_top_k_workspace_size(d, 1, 8, 9, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, T,
       "k (9) must be in [1, 8]");
    SZ("k_1025", mlxn_top_k_workspace_size(d, 1, 5000, 1025, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, T,
       "k (1025) must be in [1, 1024]");
    SZ("n_2pow31", mlxn_top_k_workspace_size(d, 1, (int64_t)1 << 31, 4, MLXN_F32, &b), MLXN_ERR_INVALID_ARGUMENT, T,
       "i32 index limit");
#undef SZ
}

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list};
    size_cases(&v);
    mlxn_device *d = env->dev;
    enum { X, XI, XH, XL, IDX, IDXF, IDXS, IDXL, TI, TIS, TV, TVB, TVS, TVH, BIG, XB, IDXIN, WSIN, TIIN, TVOV, VIN, TIX, WSL, WSS,
           NB };
    mlxn_buffer *b[NB];
    memset(b, 0, sizeof b);
    /* XL: rows long enough that CUDA needs a workspace (n > 4096) */
    const int64_t s4[2] = {4, 128}, s4b[2] = {4, 100}, sl[2] = {2, 5000}, t4[2] = {4, 8}, t4s[2] = {4, 7},
                  t3[2] = {3, 8}, sb[1] = {4096}, w16[1] = {16};
    size_t wneed = 0;
    if (!list) {
        mlxn_status s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &b[X]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, s4, &b[XI]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 2, s4, &b[XH]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, sl, &b[XL]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, s4, &b[IDX]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &b[IDXF]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, s4b, &b[IDXS]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, sl, &b[IDXL]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, t4, &b[TI]);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, t4s, &b[TIS]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, t4, &b[TV]);
        if (!s) s = mlxn_buffer_new(d, MLXN_BF16, 2, t4, &b[TVB]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, t3, &b[TVS]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 2, t4, &b[TVH]);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, sb, &b[BIG]);
        /* x at the start of a big storage; views inside it and next to it */
        if (!s) s = mlxn_buffer_view(b[BIG], 0, MLXN_F32, 2, s4, &b[XB]);
        if (!s) s = mlxn_buffer_view(b[BIG], 100 * 4, MLXN_I32, 2, s4, &b[IDXIN]);   /* inside x */
        if (!s) s = mlxn_buffer_view(b[BIG], 500 * 4, MLXN_U8, 1, w16, &b[WSIN]);    /* inside x */
        if (!s) s = mlxn_buffer_view(b[BIG], 1024 * 4, MLXN_I32, 2, t4, &b[TIIN]);   /* after x */
        if (!s) s = mlxn_buffer_view(b[BIG], 1040 * 4, MLXN_F32, 2, t4, &b[TVOV]);   /* overlaps TIIN */
        if (!s) s = mlxn_buffer_view(b[BIG], 200 * 4, MLXN_F32, 2, t4, &b[VIN]);     /* inside x */
        if (!s) s = mlxn_buffer_view(b[BIG], 300 * 4, MLXN_I32, 2, t4, &b[TIX]);     /* inside x */
        if (!s) s = mlxn_argsort_workspace_size(d, 2, 5000, MLXN_F32, &wneed);
        const int64_t wl = (int64_t)wneed + 64, ws1 = wneed > 0 ? (int64_t)wneed - 1 : 1;
        if (!s) s = mlxn_buffer_new(d, MLXN_U8, 1, &wl, &b[WSL]);
        if (!s) s = mlxn_buffer_new(d, MLXN_U8, 1, &ws1, &b[WSS]);
        if (s) {
            report_case(rep, "sort/validate/setup", false, "%s", mlxn_last_error());
            goto out;
        }
    }
    mlxn_encoder *e = env->enc;
    const mlxn_argsort_params ad = {0}, bad_asc = {2};
    const mlxn_top_k_params k8 = {8}, k0 = {0}, kbig = {129}, kneg = {-3}, k1025 = {1025};
    const vcall A = {OP_ARGSORT, e, b[X], b[IDX], NULL, NULL, &ad};
    vcall c;
#define AS(nm, field, value, want, needle) \
    do {                                   \
        c = A;                             \
        c.field = value;                   \
        expect_fail(&v, nm, c, want, needle); \
    } while (0)
    AS("null_encoder", e, NULL, MLXN_ERR_INVALID_ARGUMENT, "encoder is NULL");
    AS("null_x", x, NULL, MLXN_ERR_INVALID_ARGUMENT, "x is NULL");
    AS("null_idx", idx, NULL, MLXN_ERR_INVALID_ARGUMENT, "idx is NULL");
    AS("null_params", p, NULL, MLXN_ERR_INVALID_ARGUMENT, "params is NULL");
    AS("ascending_2", p, &bad_asc, MLXN_ERR_INVALID_ARGUMENT, "ascending (2) must be 0 or 1");
    AS("dtype_i32", x, b[XI], MLXN_ERR_UNSUPPORTED, "dtype i32");
    AS("idx_dtype", idx, b[IDXF], MLXN_ERR_INVALID_ARGUMENT, "idx dtype (f32) must be i32");
    AS("idx_shape", idx, b[IDXS], MLXN_ERR_INVALID_ARGUMENT, "idx shape (4, 100) must equal x shape (4, 128)");
    c = A;
    c.x = b[XB];
    c.idx = b[IDXIN];
    expect_fail(&v, "idx_overlaps_x", c, MLXN_ERR_INVALID_ARGUMENT, "idx overlaps x");
    c = A;
    c.x = b[XB];
    c.ws = b[WSIN];
    expect_fail(&v, "ws_overlaps_x", c, MLXN_ERR_INVALID_ARGUMENT, "ws overlaps x");
    /* a too-small workspace: only where the backend needs one for n = 5000 */
    if (list || wneed > 0) {
        char need[96];
        c = A;
        c.x = b[XL];
        c.idx = b[IDXL];
        c.ws = NULL;
        snprintf(need, sizeof need, "workspace has 0 bytes, %zu needed", wneed);
        expect_fail(&v, "ws_null", c, MLXN_ERR_INVALID_ARGUMENT, need);
        c.ws = b[WSS];
        snprintf(need, sizeof need, "workspace has %zu bytes, %zu needed", wneed > 0 ? wneed - 1 : 0, wneed);
        expect_fail(&v, "ws_too_small", c, MLXN_ERR_INVALID_ARGUMENT, need);
    }
    /* top_k */
    const vcall T = {OP_TOPK, e, b[X], b[TI], b[TV], NULL, &k8};
#define TK(nm, field, value, want, needle) \
    do {                                   \
        c = T;                             \
        c.field = value;                   \
        expect_fail(&v, nm, c, want, needle); \
    } while (0)
    TK("null_encoder", e, NULL, MLXN_ERR_INVALID_ARGUMENT, "encoder is NULL");
    TK("null_x", x, NULL, MLXN_ERR_INVALID_ARGUMENT, "x is NULL");
    TK("null_idx", idx, NULL, MLXN_ERR_INVALID_ARGUMENT, "idx is NULL");
    TK("null_params", p, NULL, MLXN_ERR_INVALID_ARGUMENT, "params is NULL");
    TK("dtype_i32", x, b[XI], MLXN_ERR_UNSUPPORTED, "dtype i32");
    TK("k_0", p, &k0, MLXN_ERR_INVALID_ARGUMENT, "k (0) must be in [1, 128]");
    TK("k_neg", p, &kneg, MLXN_ERR_INVALID_ARGUMENT, "k (-3) must be in [1, 128]");
    TK("k_gt_n", p, &kbig, MLXN_ERR_INVALID_ARGUMENT, "k (129) must be in [1, 128]");
    c = T;
    c.x = b[XL];
    c.p = &k1025;
    expect_fail(&v, "k_1025", c, MLXN_ERR_INVALID_ARGUMENT, "k (1025) must be in [1, 1024]");
    TK("idx_dtype", idx, b[TV], MLXN_ERR_INVALID_ARGUMENT, "idx dtype (f32) must be i32");
    TK("idx_shape", idx, b[TIS], MLXN_ERR_INVALID_ARGUMENT, "idx shape (4, 7) must be x's (4, 128) with the last dim k (8)");
    TK("val_dtype", val, b[TVB], MLXN_ERR_INVALID_ARGUMENT, "val dtype (bf16) must be x's (f32) or f32");
    c = T;
    c.x = b[XH];
    c.val = b[TVB];
    expect_fail(&v, "val_dtype_f16_bf16", c, MLXN_ERR_INVALID_ARGUMENT, "val dtype (bf16) must be x's (f16) or f32");
    TK("val_shape", val, b[TVS], MLXN_ERR_INVALID_ARGUMENT, "val shape (3, 8) must be x's (4, 128)");
    c = T;
    c.x = b[XB];
    c.idx = b[TIX];
    expect_fail(&v, "idx_overlaps_x", c, MLXN_ERR_INVALID_ARGUMENT, "idx overlaps x");
    c = T;
    c.x = b[XB];
    c.val = b[VIN];
    expect_fail(&v, "val_overlaps_x", c, MLXN_ERR_INVALID_ARGUMENT, "val overlaps x");
    c = T;
    c.x = b[XB];
    c.idx = b[TIIN];
    c.val = b[TVOV];
    expect_fail(&v, "val_overlaps_idx", c, MLXN_ERR_INVALID_ARGUMENT, "val overlaps idx");
    c = T;
    c.x = b[XB];
    c.ws = b[WSIN];
    expect_fail(&v, "ws_overlaps_x", c, MLXN_ERR_INVALID_ARGUMENT, "ws overlaps x");
    /* any buffer can be a workspace: val itself overlaps val */
    TK("ws_overlaps_idx", ws, b[TI], MLXN_ERR_INVALID_ARGUMENT, "ws overlaps idx");
    TK("ws_overlaps_val", ws, b[TV], MLXN_ERR_INVALID_ARGUMENT, "ws overlaps val");
#undef AS
#undef TK
out:
    for (int i = NB - 1; i >= 0; i--) mlxn_buffer_free(b[i]);
}

/* ---- graph capture ----------------------------------------------------------- */

/* argsort (rows > 4096: CUB on CUDA) and top_k (the candidate stages) captured
   into one graph and replayed twice on fresh inputs: the results must equal
   the reference after each replay, and a replay must allocate nothing. */
static void graph_case(const test_env *env, report_t *rep, bool list) {
    static const char name[] = "sort/graph/argsort.r16.n5000+top_k.r4.n70000.k40";
    if (!report_wants(rep, name)) return;
    if (list) {
        printf("%s\n", name);
        return;
    }
    const int64_t ar = 16, an = 5000, tr = 4, tn = 70000;
    const int tk = 40;
    mlxn_device *d = env->dev;
    mlxn_buffer *xa = NULL, *xt = NULL, *ia = NULL, *it = NULL, *vt = NULL, *wa = NULL, *wt = NULL;
    mlxn_graph *g = NULL;
    double *ha = malloc(sizeof(double) * (size_t)(ar * an)), *ht = malloc(sizeof(double) * (size_t)(tr * tn));
    int32_t *ra = malloc(sizeof(int32_t) * (size_t)(ar * an)), *rt = malloc(sizeof(int32_t) * (size_t)(tr * tk));
    int32_t *ga = malloc(sizeof(int32_t) * (size_t)(ar * an)), *gt = malloc(sizeof(int32_t) * (size_t)(tr * tk));
    float *fa = malloc(sizeof(float) * (size_t)(ar * an)), *ft = malloc(sizeof(float) * (size_t)(tr * tn));
    float *gv = malloc(sizeof(float) * (size_t)(tr * tk));
    char msg[400] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!ha || !ht || !ra || !rt || !ga || !gt || !fa || !ft || !gv) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    const int64_t sa[2] = {ar, an}, st[2] = {tr, tn}, so[2] = {tr, tk};
    size_t wab = 0, wtb = 0;
    if ((s = mlxn_buffer_new(d, MLXN_F32, 2, sa, &xa))) goto dev_err;
    if ((s = mlxn_buffer_new(d, MLXN_F32, 2, st, &xt))) goto dev_err;
    if ((s = mlxn_buffer_new(d, MLXN_I32, 2, sa, &ia))) goto dev_err;
    if ((s = mlxn_buffer_new(d, MLXN_I32, 2, so, &it))) goto dev_err;
    if ((s = mlxn_buffer_new(d, MLXN_F32, 2, so, &vt))) goto dev_err;
    if ((s = mlxn_argsort_workspace_size(d, ar, an, MLXN_F32, &wab))) goto dev_err;
    if ((s = mlxn_top_k_workspace_size(d, tr, tn, tk, MLXN_F32, &wtb))) goto dev_err;
    if (wab) {
        const int64_t w = (int64_t)wab;
        if ((s = mlxn_buffer_new(d, MLXN_U8, 1, &w, &wa))) goto dev_err;
    }
    if (wtb) {
        const int64_t w = (int64_t)wtb;
        if ((s = mlxn_buffer_new(d, MLXN_U8, 1, &w, &wt))) goto dev_err;
    }
    mlxn_argsort_params ap = {0};
    mlxn_top_k_params tp = {tk};
    if ((s = mlxn_encoder_begin_capture(env->enc))) goto dev_err;
    s = mlxn_argsort(env->enc, xa, ia, wa, &ap);
    if (!s) s = mlxn_top_k(env->enc, xt, it, vt, wt, &tp);
    mlxn_status se = mlxn_encoder_end_capture(env->enc, &g);
    if (!s) s = se;
    if (s) goto dev_err;
    rng_t rng;
    rng_seed(&rng, hash_str(name));
    for (int rep_i = 0; rep_i < 2; rep_i++) {
        /* fresh inputs each replay; the second one full of ties */
        for (int64_t i = 0; i < ar * an; i++) ha[i] = rep_i ? (double)rng_int(&rng, -3, 3) : rng_uniform(&rng, -1, 1);
        for (int64_t i = 0; i < tr * tn; i++) ht[i] = rep_i ? (double)rng_int(&rng, -3, 3) : rng_uniform(&rng, -1, 1);
        round_through(MLXN_F32, ha, (size_t)(ar * an));
        round_through(MLXN_F32, ht, (size_t)(tr * tn));
        for (int64_t i = 0; i < ar * an; i++) fa[i] = (float)ha[i];
        for (int64_t i = 0; i < tr * tn; i++) ft[i] = (float)ht[i];
        if ((s = mlxn_buffer_write(xa, fa, sizeof(float) * (size_t)(ar * an)))) goto dev_err;
        if ((s = mlxn_buffer_write(xt, ft, sizeof(float) * (size_t)(tr * tn)))) goto dev_err;
        mlxn_counters c0, c1;
        mlxn_device_counters(d, &c0);
        if ((s = mlxn_graph_launch(g, env->enc))) goto dev_err;
        if ((s = mlxn_encoder_wait(env->enc))) goto dev_err;
        mlxn_device_counters(d, &c1);
        if (c1.device_allocs != c0.device_allocs) {
            snprintf(msg, sizeof msg, "a graph replay allocated device memory");
            goto done;
        }
        if ((s = mlxn_buffer_read(ia, ga, sizeof(int32_t) * (size_t)(ar * an)))) goto dev_err;
        if ((s = mlxn_buffer_read(it, gt, sizeof(int32_t) * (size_t)(tr * tk)))) goto dev_err;
        if ((s = mlxn_buffer_read(vt, gv, sizeof(float) * (size_t)(tr * tk)))) goto dev_err;
        ref_argsort(ha, ar, an, 0, ra);
        ref_top_k(ht, tr, tn, tk, rt);
        if (memcmp(ga, ra, sizeof(int32_t) * (size_t)(ar * an))) {
            snprintf(msg, sizeof msg, "replay %d: argsort differs from the reference", rep_i);
            goto done;
        }
        for (int64_t i = 0; i < tr * tk; i++)
            if (gt[i] != rt[i] || gv[i] != ft[(i / tk) * tn + rt[i]]) {
                snprintf(msg, sizeof msg, "replay %d: top_k differs at %lld (idx %d, expected %d)", rep_i,
                         (long long)i, gt[i], rt[i]);
                goto done;
            }
    }
    ok = true;
    snprintf(msg, sizeof msg, "2 replays exact, no allocation (ws %zu + %zu bytes)", wab, wtb);
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, name, ok, "%s", msg);
    mlxn_graph_free(g);
    mlxn_buffer_free(xa);
    mlxn_buffer_free(xt);
    mlxn_buffer_free(ia);
    mlxn_buffer_free(it);
    mlxn_buffer_free(vt);
    mlxn_buffer_free(wa);
    mlxn_buffer_free(wt);
    free(ha);
    free(ht);
    free(ra);
    free(rt);
    free(ga);
    free(gt);
    free(fa);
    free(ft);
    free(gv);
}

void sort_suite(const test_env *env, report_t *rep, bool list) {
    differential_cases(env, rep, list);
    graph_case(env, rep, list);
    validation_cases(env, rep, list);
}
