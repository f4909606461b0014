/* tests/ops/elementwise.c — differential and validation cases of the
   elementwise family (mlxn_unary, mlxn_binary, mlxn_glu, mlxn_cast) against
   the float64 references in tests/ref/ref_elementwise.c.

   Every case draws fresh uniform inputs seeded from its name (never zeros),
   rounds them to the input dtype, runs the op into a NaN-poisoned, guarded
   output and compares with the reference computed from the rounded inputs:
   NMSE under nmse_limit(output dtype) (the result is one rounding of an f32
   computation), guards intact. Lengths that are no multiple of any vector
   width (1, 3, 7, 1023, 4097), 1<<20-element cases, misaligned views (mis1,
   which also forces the CUDA scalar path) and in-place forms are covered.

   `special` cases mix +-inf, NaN and +-0 into the inputs: every element whose
   reference is not finite must come out as the same class (NaN, +inf, -inf),
   which NMSE cannot judge; the finite rest goes through NMSE.

   Casts are exact (one correctly rounded conversion of an exactly known
   value), so they are compared value for value, with the sign of zero and
   NaN-ness, not by NMSE.

   Names encode the parameters, e.g. glu/swiglu/f16/fused/r512.n17408/mis1,
   binary/add/bf16/r5.n1023/brow/inplace_a, cast/f32.bf16/n4097/mis1,
   elementwise/validate/binary/b_not_divide. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_elementwise.h"

typedef enum { K_UNARY, K_BINARY, K_GLU, K_CAST } kind_t;
enum { B_ROW, B_FULL, B_SCALAR };

typedef struct {
    char name[192];
    kind_t kind;
    int op;
    mlxn_dtype dt, dt_out; /* input dtype; output dtype (differs only for casts) */
    int64_t rows, cols;    /* output shape                                     */
    int bmode;             /* binary: B_ROW, B_FULL, B_SCALAR                   */
    bool fused;            /* glu                                              */
    int mis;               /* elements of misalignment of every view           */
    int inplace;           /* 0; 1: y is the first input; 2: y is the second   */
    bool special;          /* +-inf, NaN, +-0 mixed into the inputs             */
    float alpha;           /* unary SCALE, SOFTCAP                              */
} ecase;

static const mlxn_dtype DT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};
static const char *UNARY_NAMES[] = {"gelu", "gelu_erf", "silu", "sigmoid", "tanh",
                                    "relu", "exp",      "log",  "scale",   "softcap"};
static const char *BINARY_NAMES[] = {"add", "sub", "mul", "div"};
static const char *GLU_NAMES[] = {"swiglu", "geglu", "geglu_erf", "sigmoid"};

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} ctx_t;

/* ---- inputs ------------------------------------------------------------------ */

static int64_t numel_in(const ecase *c, int which) {
    const int64_t n = c->rows * c->cols;
    if (which == 0) return c->kind == K_GLU && c->fused ? 2 * n : n;
    if (c->kind == K_BINARY) return c->bmode == B_FULL ? n : c->bmode == B_ROW ? c->cols : 1;
    if (c->kind == K_GLU && !c->fused) return n;
    return 0;
}

/* Uniform values for input `which`, in a range where the op is well
   conditioned and every dtype represents the results (f16 max 65504). */
static void gen(const ecase *c, int which, rng_t *r, double *v, int64_t n) {
    double lo = -6.0, hi = 6.0;
    if (c->kind == K_UNARY) {
        if (c->op == MLXN_UNARY_EXP) lo = -10.0, hi = 10.0;
        if (c->op == MLXN_UNARY_LOG) lo = 0.01, hi = 10.0;
        if (c->op == MLXN_UNARY_SCALE) lo = -4.0, hi = 4.0;
        if (c->op == MLXN_UNARY_SOFTCAP) lo = -3.0 * c->alpha, hi = 3.0 * c->alpha;
    } else if (c->kind == K_BINARY) {
        lo = -2.0, hi = 2.0;
    } else if (c->kind == K_GLU) {
        if (which == 1) lo = -2.0, hi = 2.0; /* up */
    }
    for (int64_t i = 0; i < n; i++) {
        if (c->kind == K_CAST) {
            /* magnitudes 2^-30 .. 2^18: f16 subnormals, overflow past 65504,
               and, from f32/bf16, 1 in 8 down at 2^-140 (f32/bf16 subnormals,
               flushed by rounding to f16) */
            double e = rng_uniform(r, -30.0, 18.0);
            if (c->dt != MLXN_F16 && rng_int(r, 0, 7) == 0) e = rng_uniform(r, -140.0, -30.0);
            if (c->dt == MLXN_F16 && e > 15.9) e = 15.9; /* the input itself must be finite */
            v[i] = (rng_int(r, 0, 1) ? -1.0 : 1.0) * exp2(e);
        } else if (c->kind == K_BINARY && c->op == MLXN_BINARY_DIV && which == 1) {
            v[i] = (rng_int(r, 0, 1) ? -1.0 : 1.0) * rng_uniform(r, 0.5, 2.0); /* no near-zero divisor */
        } else {
            v[i] = rng_uniform(r, lo, hi);
        }
        if (v[i] == 0.0) v[i] = 0.5;
    }
    /* fused glu: the up half of each row in [-2, 2] like a split up */
    if (c->kind == K_GLU && c->fused)
        for (int64_t rr = 0; rr < c->rows; rr++)
            for (int64_t k = 0; k < c->cols; k++) v[rr * 2 * c->cols + c->cols + k] /= 3.0;
    if (c->special) {
        static const double sp[] = {INFINITY, -INFINITY, NAN, 0.0, -0.0, -1.0};
        const int nsp = c->kind == K_UNARY && c->op == MLXN_UNARY_LOG ? 6 : 5; /* log(-1) = NaN */
        for (int64_t i = which; i < n; i += 3) v[i] = sp[(i / 3) % nsp];
    }
    round_through(c->dt, v, (size_t)n);
}

/* A view of `shape` `mis` elements into a fresh allocation (filler around it). */
static mlxn_status make_input(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, int mis, const double *v,
                              mlxn_buffer **base, mlxn_buffer **view) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    const size_t es = mlxn_dtype_size(t);
    const int64_t total = n + mis;
    mlxn_status s = mlxn_buffer_new(d, t, 1, &total, base);
    if (s) return s;
    unsigned char *h = malloc((size_t)total * es);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    memset(h, 0x5A, (size_t)total * es);
    host_from_double(t, v, (size_t)n, h + (size_t)mis * es);
    s = mlxn_buffer_write(*base, h, (size_t)total * es);
    free(h);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)mis * es, t, ndim, shape, view);
}

/* ---- comparing ---------------------------------------------------------------- */

static bool same_class(double g, double r) {
    if (isnan(r)) return isnan(g);
    return g == r; /* +-inf */
}

/* Non-finite reference elements must match in class; the rest by NMSE. */
static void compare(report_t *rep, const char *name, const double *got, const double *ref, int64_t n, double limit,
                    bool guards_ok) {
    int64_t bad = -1, m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(ref[i])) continue;
        if (!same_class(got[i], ref[i]) && bad < 0) bad = i;
        m++;
    }
    if (bad >= 0) {
        report_case(rep, name, false, "element %lld: got %g, want %g", (long long)bad, got[bad], ref[bad]);
        return;
    }
    if (m == 0) {
        check_result(rep, name, got, ref, (size_t)n, limit, guards_ok);
        return;
    }
    double *gf = malloc(sizeof(double) * (size_t)(n - m + 1)), *rf = malloc(sizeof(double) * (size_t)(n - m + 1));
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i])) gf[k] = got[i], rf[k] = ref[i], k++;
    check_result(rep, name, gf, rf, (size_t)k, limit, guards_ok);
    free(gf);
    free(rf);
}

/* Casts: value for value, including the sign of zero and NaN-ness. */
static void compare_exact(report_t *rep, const char *name, const double *got, const double *ref, int64_t n,
                          bool guards_ok) {
    for (int64_t i = 0; i < n; i++) {
        const bool ok = (isnan(got[i]) && isnan(ref[i])) || (got[i] == ref[i] && signbit(got[i]) == signbit(ref[i]));
        if (!ok) {
            report_case(rep, name, false, "element %lld: got %.9g, want %.9g", (long long)i, got[i], ref[i]);
            return;
        }
    }
    report_case(rep, name, guards_ok, guards_ok ? "exact" : "guard bytes around the output were overwritten");
}

/* ---- one differential case ---------------------------------------------------- */

static void run_case(ctx_t *cx, const ecase *c) {
    report_t *rep = cx->rep;
    mlxn_device *dev = cx->env->dev;
    const int64_t n = c->rows * c->cols, n0 = numel_in(c, 0), n1 = numel_in(c, 1);
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    double *x0 = malloc(sizeof(double) * (size_t)n0), *x1 = n1 ? malloc(sizeof(double) * (size_t)n1) : NULL;
    double *ref = malloc(sizeof(double) * (size_t)n), *got = malloc(sizeof(double) * (size_t)n);
    guarded_t g;
    memset(&g, 0, sizeof g);
    mlxn_buffer *b0 = NULL, *v0 = NULL, *b1 = NULL, *v1 = NULL;
    char msg[384] = "";
    mlxn_status s;
    bool guards_ok = false;

    gen(c, 0, &rng, x0, n0);
    if (n1) gen(c, 1, &rng, x1, n1);

    const int64_t shp_y[2] = {c->rows, c->cols};
    if ((s = guarded_new(dev, c->dt_out, 2, shp_y, c->mis, &g))) goto dev_err;
    /* first input */
    {
        const int64_t shp[2] = {c->rows, n0 / c->rows};
        if (c->inplace == 1) {
            if ((s = guarded_fill(&g, x0))) goto dev_err;
            v0 = g.view;
        } else if ((s = make_input(dev, c->dt, 2, shp, c->mis, x0, &b0, &v0))) {
            goto dev_err;
        }
    }
    if (n1) {
        const int64_t shp_row[1] = {n1};
        const bool two_d = n1 == n;
        if (c->inplace == 2) {
            if ((s = guarded_fill(&g, x1))) goto dev_err;
            v1 = g.view;
        } else if ((s = make_input(dev, c->dt, two_d ? 2 : 1, two_d ? shp_y : shp_row, c->mis, x1, &b1, &v1))) {
            goto dev_err;
        }
    }

    switch (c->kind) {
    case K_UNARY: {
        mlxn_unary_params p = {(mlxn_unary_op)c->op, c->alpha};
        s = mlxn_unary(cx->env->enc, v0, g.view, &p);
        ref_unary((mlxn_unary_op)c->op, c->alpha, x0, ref, n);
        break;
    }
    case K_BINARY: {
        mlxn_binary_params p = {(mlxn_binary_op)c->op};
        s = mlxn_binary(cx->env->enc, v0, v1, g.view, &p);
        ref_binary((mlxn_binary_op)c->op, x0, x1, n1, ref, n);
        break;
    }
    case K_GLU: {
        mlxn_glu_params p = {(mlxn_glu_op)c->op};
        s = mlxn_glu(cx->env->enc, v0, c->fused ? NULL : v1, g.view, &p);
        ref_glu((mlxn_glu_op)c->op, x0, c->fused ? NULL : x1, ref, c->rows, c->cols);
        break;
    }
    case K_CAST:
        s = mlxn_cast(cx->env->enc, v0, g.view);
        memcpy(ref, x0, sizeof(double) * (size_t)n);
        round_through(c->dt_out, ref, (size_t)n);
        break;
    }
    if (s == MLXN_OK) s = mlxn_encoder_wait(cx->env->enc);
    if (s) goto dev_err;
    if ((s = guarded_read(&g, got, &guards_ok))) goto dev_err;
    if (c->kind == K_CAST) compare_exact(rep, c->name, got, ref, n, guards_ok);
    else {
        /* nmse_limit assumes many elements (mean squared rounding error
           ~u^2/3). A handful can all round by nearly u (bf16: u = 2^-8, so
           u^2 = 1.5e-5 > 1e-5); one rounding never exceeds u relative, so
           short outputs get u^2 (+10% for the f32 arithmetic before it). */
        double lim = nmse_limit(c->dt_out);
        const double u = c->dt_out == MLXN_BF16 ? 0x1p-8 : c->dt_out == MLXN_F16 ? 0x1p-11 : 0x1p-24;
        if (n < 64 && lim < 1.1 * u * u) lim = 1.1 * u * u;
        compare(rep, c->name, got, ref, n, lim, guards_ok);
    }
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
    report_case(rep, c->name, false, "%s", msg);
done:
    if (v0 != g.view) mlxn_buffer_free(v0);
    if (v1 != g.view) mlxn_buffer_free(v1);
    mlxn_buffer_free(b0);
    mlxn_buffer_free(b1);
    guarded_free(&g);
    free(x0);
    free(x1);
    free(ref);
    free(got);
}

static void each(ctx_t *cx, const ecase *c) {
    if (!report_wants(cx->rep, c->name)) return;
    if (cx->list) printf("%s\n", c->name);
    else run_case(cx, c);
}

static void tail(ecase *c) {
    char t[64];
    snprintf(t, sizeof t, "%s%s", c->mis ? "/mis1" : "", c->special ? "/special" : "");
    strncat(c->name, t, sizeof c->name - strlen(c->name) - 1);
}

/* ---- case lists ----------------------------------------------------------------- */

static const int64_t LENS[] = {1, 3, 7, 1023, 4097, 1 << 20};
#define NLENS (int)(sizeof LENS / sizeof LENS[0])

static void unary_cases(ctx_t *cx) {
    for (int op = 0; op <= MLXN_UNARY_SOFTCAP; op++)
        for (int d = 0; d < 3; d++) {
            for (int li = 0; li < NLENS + 1; li++)
                for (int var = 0; var < 3; var++) {
                    const bool big = li == NLENS - 1, special = li == NLENS;
                    if ((big && var == 1) || (special && var > 0)) continue; /* big: aligned paths only */
                    ecase c;
                    memset(&c, 0, sizeof c);
                    c.kind = K_UNARY;
                    c.op = op;
                    c.dt = c.dt_out = DT[d];
                    c.rows = 1;
                    c.cols = special ? 997 : LENS[li];
                    c.alpha = op == MLXN_UNARY_SCALE ? -1.75f : 2.5f;
                    c.mis = var == 1;
                    c.inplace = var == 2;
                    c.special = special;
                    snprintf(c.name, sizeof c.name, "unary/%s/%s/n%lld%s", UNARY_NAMES[op], mlxn_dtype_name(c.dt),
                             (long long)c.cols, c.inplace ? "/inplace" : "");
                    tail(&c);
                    each(cx, &c);
                }
        }
}

static void binary_cases(ctx_t *cx) {
    /* (rows, cols): odd lengths, a row length that is a multiple of 8 (the
       vectorized broadcast), a bias row longer than the CPU block, 1<<20 */
    static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 1023}, {2, 4097}, {3, 4096}, {256, 4096}};
    static const char *bnames[] = {"brow", "bfull", "bscalar"};
    for (int op = 0; op <= MLXN_BINARY_DIV; op++)
        for (int d = 0; d < 3; d++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0] + 1; si++)
                for (int bm = 0; bm < 3; bm++)
                    for (int var = 0; var < 4; var++) {
                        const bool special = si == sizeof shapes / sizeof shapes[0];
                        const bool big = !special && shapes[si][0] * shapes[si][1] >= (1 << 20);
                        if (var == 3 && bm != B_FULL) continue; /* y == b needs a full b */
                        if (bm == B_SCALAR && var >= 2) continue;
                        if (big && var != 0 && !(var == 2 && bm == B_ROW)) continue;
                        if (special && (var != 0 || bm != B_FULL)) continue;
                        ecase c;
                        memset(&c, 0, sizeof c);
                        c.kind = K_BINARY;
                        c.op = op;
                        c.dt = c.dt_out = DT[d];
                        c.rows = special ? 3 : shapes[si][0];
                        c.cols = special ? 7 : shapes[si][1];
                        c.bmode = bm;
                        c.mis = var == 1;
                        c.inplace = var == 2 ? 1 : var == 3 ? 2 : 0;
                        c.special = special;
                        snprintf(c.name, sizeof c.name, "binary/%s/%s/r%lld.n%lld/%s%s", BINARY_NAMES[op],
                                 mlxn_dtype_name(c.dt), (long long)c.rows, (long long)c.cols, bnames[bm],
                                 c.inplace == 1 ? "/inplace_a" : c.inplace == 2 ? "/inplace_b" : "");
                        tail(&c);
                        each(cx, &c);
                    }
}

static void glu_cases(ctx_t *cx) {
    /* (rows, cols of y): odd lengths, ggml's eval shape {128,2,2,2} (fused
       rows of 128 -> 64 outputs, 8 rows) and {5,7,11,13} (rows of 5), row
       lengths that are multiples of 8 (vectorized fused path), 1<<20 */
    static const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 7}, {2, 1023}, {3, 4097},
                                        {8, 64}, {1001, 5}, {4, 1024}, {64, 16384}};
    const size_t ns = sizeof shapes / sizeof shapes[0];
    for (int op = 0; op <= MLXN_GLU_SIGMOID; op++)
        for (int d = 0; d < 3; d++)
            for (int fu = 0; fu < 2; fu++)
                for (size_t si = 0; si < ns + 1; si++)
                    for (int var = 0; var < 4; var++) {
                        const bool special = si == ns, big = !special && shapes[si][0] * shapes[si][1] >= (1 << 20);
                        if (fu && var >= 2) continue; /* fused has no in-place form */
                        if ((big || special) && var != 0) continue;
                        ecase c;
                        memset(&c, 0, sizeof c);
                        c.kind = K_GLU;
                        c.op = op;
                        c.dt = c.dt_out = DT[d];
                        c.rows = special ? 3 : shapes[si][0];
                        c.cols = special ? 7 : shapes[si][1];
                        c.fused = fu;
                        c.mis = var == 1;
                        c.inplace = var == 2 ? 1 : var == 3 ? 2 : 0;
                        c.special = special;
                        snprintf(c.name, sizeof c.name, "glu/%s/%s/%s/r%lld.n%lld%s", GLU_NAMES[op],
                                 mlxn_dtype_name(c.dt), fu ? "fused" : "split", (long long)c.rows, (long long)c.cols,
                                 c.inplace == 1 ? "/inplace_gate" : c.inplace == 2 ? "/inplace_up" : "");
                        tail(&c);
                        each(cx, &c);
                    }
    /* the ggml perf shape (SWIGLU fused {2*17408, 512}), aligned and misaligned */
    for (int d = 0; d < 3; d++)
        for (int mis = 0; mis < 2; mis++) {
            if (mis && DT[d] != MLXN_F16) continue;
            ecase c;
            memset(&c, 0, sizeof c);
            c.kind = K_GLU;
            c.op = MLXN_GLU_SWIGLU;
            c.dt = c.dt_out = DT[d];
            c.rows = 512;
            c.cols = 17408;
            c.fused = true;
            c.mis = mis;
            snprintf(c.name, sizeof c.name, "glu/swiglu/%s/fused/r512.n17408", mlxn_dtype_name(c.dt));
            tail(&c);
            each(cx, &c);
        }
}

static void cast_cases(ctx_t *cx) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int li = 0; li < NLENS + 1; li++)
                for (int var = 0; var < 3; var++) {
                    const bool big = li == NLENS - 1, special = li == NLENS;
                    if (var == 2 && (a != b || li != 4)) continue; /* in place: same dtype only */
                    if ((big || special) && var != 0) continue;
                    ecase c;
                    memset(&c, 0, sizeof c);
                    c.kind = K_CAST;
                    c.dt = DT[a];
                    c.dt_out = DT[b];
                    c.rows = 1;
                    c.cols = special ? 1023 : LENS[li];
                    c.mis = var == 1;
                    c.inplace = var == 2;
                    c.special = special;
                    snprintf(c.name, sizeof c.name, "cast/%s.%s/n%lld%s", mlxn_dtype_name(c.dt),
                             mlxn_dtype_name(c.dt_out), (long long)c.cols, c.inplace ? "/inplace" : "");
                    tail(&c);
                    each(cx, &c);
                }
}

/* ---- validation ------------------------------------------------------------------- */

/* Every byte of the guarded output as guarded_new left it (0xA5 guards, 0xFF view). */
static bool untouched(guarded_t *g) {
    const size_t es = mlxn_dtype_size(g->dtype);
    unsigned char *h = malloc((size_t)g->total * es);
    bool ok = h && mlxn_buffer_read(g->base, h, (size_t)g->total * es) == MLXN_OK;
    for (int64_t i = 0; ok && i < g->total * (int64_t)es; i++) {
        const bool in_view = i >= g->lead * (int64_t)es && i < (g->lead + g->n) * (int64_t)es;
        if (h[i] != (in_view ? 0xFF : 0xA5)) ok = false;
    }
    free(h);
    return ok;
}

typedef struct {
    ctx_t *cx;
    char name[160];
    guarded_t g;           /* the output */
    mlxn_buffer *tmp[4];   /* inputs to free */
    int ntmp;
    bool skip;
} vctx;

static bool vbegin(vctx *v, ctx_t *cx, const char *name, mlxn_dtype ydt, int ndim, const int64_t *yshape) {
    memset(v, 0, sizeof *v);
    v->cx = cx;
    snprintf(v->name, sizeof v->name, "elementwise/validate/%s", name);
    if (!report_wants(cx->rep, v->name)) return false;
    if (cx->list) {
        printf("%s\n", v->name);
        return false;
    }
    if (guarded_new(cx->env->dev, ydt, ndim, yshape, 0, &v->g)) {
        report_case(cx->rep, v->name, false, "alloc: %s", mlxn_last_error());
        return false;
    }
    return true;
}

static mlxn_buffer *vbuf(vctx *v, mlxn_dtype t, int ndim, const int64_t *shape) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_new(v->cx->env->dev, t, ndim, shape, &b) == MLXN_OK) v->tmp[v->ntmp++] = b;
    return b;
}

static mlxn_buffer *vview(vctx *v, mlxn_buffer *base, size_t off, mlxn_dtype t, int ndim, const int64_t *shape) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_view(base, off, t, ndim, shape, &b) == MLXN_OK) v->tmp[v->ntmp++] = b;
    return b;
}

/* The call's status must be `want`, its message must start with "<op>:" and
   contain s1 and s2 (NULL: none), and the output must be untouched. */
static void vend(vctx *v, mlxn_status got, mlxn_status want, const char *op, const char *s1, const char *s2) {
    const char *msg = mlxn_last_error();
    char head[32];
    snprintf(head, sizeof head, "%s:", op);
    bool ok = got == want && strncmp(msg, head, strlen(head)) == 0 && (!s1 || strstr(msg, s1)) &&
              (!s2 || strstr(msg, s2));
    const bool clean = untouched(&v->g);
    report_case(v->cx->rep, v->name, ok && clean, "status %s (want %s), message \"%s\"%s", mlxn_status_str(got),
                mlxn_status_str(want), msg, clean ? "" : ", output was written");
    for (int i = v->ntmp - 1; i >= 0; i--) mlxn_buffer_free(v->tmp[i]);
    guarded_free(&v->g);
}

static void validate_cases(ctx_t *cx) {
    mlxn_encoder *e = cx->env->enc;
    const mlxn_status INV = MLXN_ERR_INVALID_ARGUMENT, UNS = MLXN_ERR_UNSUPPORTED;
    const int64_t s48[2] = {4, 8}, s47[2] = {4, 7}, s32[1] = {32};
    vctx v;
    mlxn_unary_params up = {MLXN_UNARY_SILU, 0.0f};

    if (vbegin(&v, cx, "unary/null_encoder", MLXN_F32, 2, s48))
        vend(&v, mlxn_unary(NULL, v.g.view, v.g.view, &up), INV, "unary", "encoder", NULL);
    if (vbegin(&v, cx, "unary/null_x", MLXN_F32, 2, s48))
        vend(&v, mlxn_unary(e, NULL, v.g.view, &up), INV, "unary", "x is NULL", NULL);
    if (vbegin(&v, cx, "unary/null_params", MLXN_F32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s48);
        vend(&v, mlxn_unary(e, x, v.g.view, NULL), INV, "unary", "params", NULL);
    }
    if (vbegin(&v, cx, "unary/bad_op", MLXN_F32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_unary_params p = {(mlxn_unary_op)42, 1.0f};
        vend(&v, mlxn_unary(e, x, v.g.view, &p), INV, "unary", "op (42)", NULL);
    }
    {
        static const struct { const char *name; int op; float alpha; const char *want; } al[] = {
            {"unary/softcap_alpha_zero", MLXN_UNARY_SOFTCAP, 0.0f, "alpha (0)"},
            {"unary/softcap_alpha_negative", MLXN_UNARY_SOFTCAP, -2.0f, "alpha (-2)"},
            {"unary/softcap_alpha_inf", MLXN_UNARY_SOFTCAP, INFINITY, "alpha (inf)"},
            {"unary/scale_alpha_nan", MLXN_UNARY_SCALE, NAN, "alpha (nan)"},
            {"unary/scale_alpha_inf", MLXN_UNARY_SCALE, -INFINITY, "alpha (-inf)"},
        };
        for (size_t i = 0; i < sizeof al / sizeof al[0]; i++)
            if (vbegin(&v, cx, al[i].name, MLXN_F32, 2, s48)) {
                mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s48);
                mlxn_unary_params p = {(mlxn_unary_op)al[i].op, al[i].alpha};
                vend(&v, mlxn_unary(e, x, v.g.view, &p), INV, "unary", al[i].want, NULL);
            }
    }
    if (vbegin(&v, cx, "unary/dtype_mismatch", MLXN_F32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F16, 2, s48);
        vend(&v, mlxn_unary(e, x, v.g.view, &up), INV, "unary", "f16", "f32");
    }
    if (vbegin(&v, cx, "unary/i32_unsupported", MLXN_I32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_I32, 2, s48);
        vend(&v, mlxn_unary(e, x, v.g.view, &up), UNS, "unary", "i32", NULL);
    }
    if (vbegin(&v, cx, "unary/numel_mismatch", MLXN_F32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s47);
        vend(&v, mlxn_unary(e, x, v.g.view, &up), INV, "unary", "32", "28");
    }
    if (vbegin(&v, cx, "unary/partial_overlap", MLXN_F32, 1, s32)) {
        mlxn_buffer *x = vview(&v, v.g.base, (size_t)(v.g.lead + 1) * 4, MLXN_F32, 1, s32);
        vend(&v, mlxn_unary(e, x, v.g.view, &up), INV, "unary", "overlaps", NULL);
    }

    mlxn_binary_params bp = {MLXN_BINARY_ADD};
    if (vbegin(&v, cx, "binary/b_not_divide", MLXN_F32, 1, (const int64_t[]){4096})) {
        mlxn_buffer *a = vbuf(&v, MLXN_F32, 1, (const int64_t[]){4096});
        mlxn_buffer *b = vbuf(&v, MLXN_F32, 1, (const int64_t[]){7});
        vend(&v, mlxn_binary(e, a, b, v.g.view, &bp), INV, "binary",
             "b has 7 elements, which does not divide a's 4096", NULL);
    }
    if (vbegin(&v, cx, "binary/b_larger", MLXN_F32, 2, s48)) {
        mlxn_buffer *a = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_buffer *b = vbuf(&v, MLXN_F32, 1, (const int64_t[]){64});
        vend(&v, mlxn_binary(e, a, b, v.g.view, &bp), INV, "binary", "64", "32");
    }
    if (vbegin(&v, cx, "binary/b_dtype", MLXN_F32, 2, s48)) {
        mlxn_buffer *a = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_buffer *b = vbuf(&v, MLXN_F16, 1, (const int64_t[]){8});
        vend(&v, mlxn_binary(e, a, b, v.g.view, &bp), INV, "binary", "f16", "f32");
    }
    if (vbegin(&v, cx, "binary/bad_op", MLXN_F32, 2, s48)) {
        mlxn_buffer *a = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_binary_params p = {(mlxn_binary_op)-1};
        vend(&v, mlxn_binary(e, a, a, v.g.view, &p), INV, "binary", "op (-1)", NULL);
    }
    if (vbegin(&v, cx, "binary/y_overlaps_row_b", MLXN_F32, 2, s48)) {
        mlxn_buffer *a = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_buffer *b = vview(&v, v.g.base, (size_t)(v.g.lead + 8) * 4, MLXN_F32, 1, (const int64_t[]){8});
        vend(&v, mlxn_binary(e, a, b, v.g.view, &bp), INV, "binary", "overlaps b", NULL);
    }
    if (vbegin(&v, cx, "binary/i32_unsupported", MLXN_I32, 2, s48)) {
        mlxn_buffer *a = vbuf(&v, MLXN_I32, 2, s48);
        vend(&v, mlxn_binary(e, a, a, v.g.view, &bp), UNS, "binary", "i32", NULL);
    }

    mlxn_glu_params gp = {MLXN_GLU_SWIGLU};
    if (vbegin(&v, cx, "glu/fused_odd", MLXN_F32, 2, (const int64_t[]){4, 3})) {
        mlxn_buffer *g = vbuf(&v, MLXN_F32, 2, s47);
        vend(&v, mlxn_glu(e, g, NULL, v.g.view, &gp), INV, "glu", "(7)", "even");
    }
    if (vbegin(&v, cx, "glu/fused_y_cols", MLXN_F32, 2, (const int64_t[]){8, 2})) {
        mlxn_buffer *g = vbuf(&v, MLXN_F32, 2, s48);
        vend(&v, mlxn_glu(e, g, NULL, v.g.view, &gp), INV, "glu", "(2)", "(8)");
    }
    if (vbegin(&v, cx, "glu/fused_y_numel", MLXN_F32, 2, (const int64_t[]){2, 4})) {
        mlxn_buffer *g = vbuf(&v, MLXN_F32, 2, s48);
        vend(&v, mlxn_glu(e, g, NULL, v.g.view, &gp), INV, "glu", "8 elements", "32");
    }
    if (vbegin(&v, cx, "glu/split_up_numel", MLXN_F32, 2, s48)) {
        mlxn_buffer *g = vbuf(&v, MLXN_F32, 2, s48), *u = vbuf(&v, MLXN_F32, 2, s47);
        vend(&v, mlxn_glu(e, g, u, v.g.view, &gp), INV, "glu", "28", "32");
    }
    if (vbegin(&v, cx, "glu/up_dtype", MLXN_BF16, 2, s48)) {
        mlxn_buffer *g = vbuf(&v, MLXN_BF16, 2, s48), *u = vbuf(&v, MLXN_F16, 2, s48);
        vend(&v, mlxn_glu(e, g, u, v.g.view, &gp), INV, "glu", "f16", "bf16");
    }
    if (vbegin(&v, cx, "glu/bad_op", MLXN_F32, 2, s48)) {
        mlxn_buffer *g = vbuf(&v, MLXN_F32, 2, s48);
        mlxn_glu_params p = {(mlxn_glu_op)9};
        vend(&v, mlxn_glu(e, g, g, v.g.view, &p), INV, "glu", "op (9)", NULL);
    }
    if (vbegin(&v, cx, "glu/fused_y_inside_gate", MLXN_F32, 2, (const int64_t[]){4, 4})) {
        /* gate [4, 8] starts 8 elements before y, so y lies inside it */
        mlxn_buffer *g = vview(&v, v.g.base, (size_t)(v.g.lead - 8) * 4, MLXN_F32, 2, s48);
        vend(&v, mlxn_glu(e, g, NULL, v.g.view, &gp), INV, "glu", "overlaps gate", NULL);
    }
    if (vbegin(&v, cx, "glu/split_up_partial_overlap", MLXN_F16, 2, s48)) {
        mlxn_buffer *g = vbuf(&v, MLXN_F16, 2, s48);
        mlxn_buffer *u = vview(&v, v.g.base, (size_t)(v.g.lead - 3) * 2, MLXN_F16, 2, s48);
        vend(&v, mlxn_glu(e, g, u, v.g.view, &gp), INV, "glu", "overlaps up", NULL);
    }

    if (vbegin(&v, cx, "cast/inplace_f16_to_bf16", MLXN_BF16, 2, s48)) {
        mlxn_buffer *x = vview(&v, v.g.base, (size_t)v.g.lead * 2, MLXN_F16, 2, s48);
        vend(&v, mlxn_cast(e, x, v.g.view), INV, "cast", "bf16", "not in place");
    }
    if (vbegin(&v, cx, "cast/i8_unsupported", MLXN_F32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_I8, 2, s48);
        vend(&v, mlxn_cast(e, x, v.g.view), UNS, "cast", "i8", NULL);
    }
    if (vbegin(&v, cx, "cast/to_i32_unsupported", MLXN_I32, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s48);
        vend(&v, mlxn_cast(e, x, v.g.view), UNS, "cast", "i32", NULL);
    }
    if (vbegin(&v, cx, "cast/numel_mismatch", MLXN_F16, 2, s48)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, s47);
        vend(&v, mlxn_cast(e, x, v.g.view), INV, "cast", "32", "28");
    }
}

void elementwise_suite(const test_env *env, report_t *rep, bool list) {
    ctx_t cx = {env, rep, list};
    unary_cases(&cx);
    binary_cases(&cx);
    glu_cases(&cx);
    cast_cases(&cx);
    validate_cases(&cx);
}
