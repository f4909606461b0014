/* tests/ops/softmax.c — differential and validation cases of the softmax
   family (mlxn_softmax) against tests/ref/ref_softmax.c.

   Case names encode their parameters:
     softmax/<dtype>/r<rows>.c<cols>/scale<s>/cap<c>/mask.<dtype>.r<mask_rows>[.causal|.dead]/mis1/inplace/<fill>
   Inputs are seeded from the case name. Every output is a guarded view
   (poisoned with NaN, guard bytes around it). Besides NMSE, every element
   whose reference is exactly 0 (fully masked) must be exactly 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_softmax.h"

enum { MASK_NONE, MASK_RAND, MASK_CAUSAL, MASK_DEAD };
enum { FILL_UNIFORM, FILL_BIG, FILL_EQUAL, FILL_NAN, FILL_EXPULP, FILL_WIDE };

typedef struct {
    char name[200];
    mlxn_dtype dt;
    int64_t rows, cols;
    float scale, softcap;
    int mask_kind;
    mlxn_dtype mdt;
    int64_t mask_rows;
    int misalign;
    bool inplace;
    int fill;
} scase;

static const mlxn_dtype DT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};
static const char *FILL_NAMES[] = {"", "/big", "/equal", "/nan", "/expf_ulp", "/wide"};

static void name_case(scase *c) {
    char m[64] = "";
    if (c->mask_kind != MASK_NONE)
        snprintf(m, sizeof m, "/mask.%s.r%lld%s", mlxn_dtype_name(c->mdt), (long long)c->mask_rows,
                 c->mask_kind == MASK_CAUSAL ? ".causal" : c->mask_kind == MASK_DEAD ? ".dead" : "");
    snprintf(c->name, sizeof c->name, "softmax/%s/r%lld.c%lld/scale%g/cap%g%s%s%s%s", mlxn_dtype_name(c->dt),
             (long long)c->rows, (long long)c->cols, (double)c->scale, (double)c->softcap, m,
             c->misalign ? "/mis1" : "", c->inplace ? "/inplace" : "", FILL_NAMES[c->fill]);
}

/* A view of `n` values of dtype t starting `misalign` elements into a fresh
   allocation (so the view's address is misaligned for vector loads). */
static mlxn_status upload_view(mlxn_device *d, mlxn_dtype t, int64_t rows, int64_t cols, const double *v, int misalign,
                               mlxn_buffer **base, mlxn_buffer **view) {
    const int64_t n = rows * cols;
    double *tmp = malloc(sizeof(double) * (size_t)(n + misalign));
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < misalign; i++) tmp[i] = 0.5;
    memcpy(tmp + misalign, v, sizeof(double) * (size_t)n);
    int64_t shp1[1] = {n + misalign}, shp2[2] = {rows, cols};
    mlxn_status s = upload_values(d, t, 1, shp1, tmp, base);
    free(tmp);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)misalign * mlxn_dtype_size(t), t, 2, shp2, view);
}

static void fill_inputs(const scase *c, rng_t *rng, double *x, double *mask) {
    const int64_t n = c->rows * c->cols;
    for (int64_t i = 0; i < n; i++) {
        switch (c->fill) {
        case FILL_BIG: /* |x| ~ 1e4: without the max subtraction exp overflows */
            x[i] = (i / c->cols) % 2 ? -1e4 + rng_uniform(rng, -8.0, 8.0) : 1e4 + rng_uniform(rng, -8.0, 8.0);
            break;
        case FILL_EQUAL: x[i] = 0.7; break;
        case FILL_WIDE: x[i] = rng_uniform(rng, -8.0, 8.0); break;
        case FILL_EXPULP: /* row [0, v]: y1 = exp(v) exactly as the kernel's exp gives it (see expulp_check) */
            x[i] = i % 2 ? rng_uniform(rng, -87.3, -17.5) : 0.0;
            break;
        default: x[i] = rng_uniform(rng, -4.0, 4.0); break;
        }
        if (x[i] == 0.0 && c->fill != FILL_EXPULP) x[i] = 0.25; /* never zeros */
    }
    if (c->fill == FILL_NAN) x[1 * c->cols + c->cols / 2] = NAN; /* row 1 gets one NaN */
    round_through(c->dt, x, (size_t)n);
    if (c->mask_kind == MASK_NONE) return;
    for (int64_t r = 0; r < c->mask_rows; r++)
        for (int64_t j = 0; j < c->cols; j++) {
            double v = rng_uniform(rng, -2.0, 2.0);
            if (v == 0.0) v = 0.5;
            /* causal: mask row r hides the columns after a row-dependent cut */
            if (c->mask_kind == MASK_CAUSAL && j > (r * 7 + c->cols / 3) % c->cols) v = -INFINITY;
            /* dead: mask row 1 (or 0 when there is one) hides everything, others like causal */
            if (c->mask_kind == MASK_DEAD) {
                if (r == (c->mask_rows > 1 ? 1 : 0)) v = -INFINITY;
                else if (j > (r * 5 + c->cols / 2) % c->cols) v = -INFINITY;
            }
            mask[r * c->cols + j] = v;
        }
    round_through(c->mdt, mask, (size_t)(c->mask_rows * c->cols));
}

/* The tolerance: the dtype's NMSE limit, or, when the output dtype's own
   rounding of the exact result already costs more (f16 probabilities below
   6e-5 land on the subnormal grid, e.g. rows of 200001 columns), four times
   that cost: a result off by at most one grid step passes, a wrong one does not. */
static double limit_for(mlxn_dtype t, const double *ref, size_t n) {
    double lim = nmse_limit(t);
    if (t == MLXN_F32) return lim;
    double *rr = malloc(sizeof(double) * n);
    if (!rr) return lim;
    memcpy(rr, ref, sizeof(double) * n);
    round_through(t, rr, n);
    double floor_e = nmse(rr, ref, n);
    free(rr);
    return 4.0 * floor_e > lim ? 4.0 * floor_e : lim;
}

/* expf_ulp: rows [0, v] with v in [-87.3, -17.5]: exp(v) < 2^-25 so the f32
   sum 1 + exp(v) is exactly 1 and y1 is the kernel's exp(v) itself. Every
   reduced argument r in [-ln2/2, ln2/2] and exponents 2^-126..2^-25 occur.
   Limit 2 ulp: CUDA documents expf at <= 2 ulp; the CPU's polynomial exp
   is measured at about 1.5 ulp here. */
static bool expulp_check(const double *got, const double *ref, int64_t n, char *msg, size_t msz) {
    double worst = 0.0;
    for (int64_t i = 1; i < n; i += 2) {
        double ulp = ldexp(1.0, ilogb(ref[i]) - 23);
        double e = fabs(got[i] - ref[i]) / ulp;
        if (!(e <= worst)) worst = e; /* NaN becomes the worst */
        if (got[i - 1] != 1.0) {
            snprintf(msg, msz, "y0 = %.9g, expected 1", got[i - 1]);
            return false;
        }
    }
    snprintf(msg, msz, "max exp error %.3f ulp (limit 2)", worst);
    return worst <= 2.0;
}

/* nan: row 1 (holding a NaN) must be all NaN, the other rows as usual. */
static bool nan_check(const scase *c, const double *got, const double *ref, double lim, char *msg, size_t msz) {
    const int64_t cols = c->cols;
    for (int64_t j = 0; j < cols; j++)
        if (!isnan(got[cols + j])) {
            snprintf(msg, msz, "row 1 has a NaN input but y[1][%lld] = %g", (long long)j, got[cols + j]);
            return false;
        }
    double e = nmse(got, ref, (size_t)cols); /* row 0 */
    double e2 = c->rows > 2 ? nmse(got + 2 * cols, ref + 2 * cols, (size_t)((c->rows - 2) * cols)) : 0.0;
    if (e2 > e) e = e2;
    snprintf(msg, msz, "NaN row ok; other rows nmse %.3e (limit %.0e)", e, lim);
    return e <= lim;
}

static void run_case(const test_env *env, report_t *rep, const scase *c) {
    const int64_t n = c->rows * c->cols, nm = c->mask_rows * c->cols;
    double *x = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double *got = malloc(sizeof(double) * (size_t)n);
    double *mask = nm ? malloc(sizeof(double) * (size_t)nm) : NULL;
    mlxn_buffer *xb = NULL, *xv = NULL, *mb = NULL, *mv = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    char msg[512] = "";
    bool ok = false;
    mlxn_status s = MLXN_OK;
    if (!x || !ref || !got || (nm && !mask)) {
        snprintf(msg, sizeof msg, "out of host memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, hash_str(c->name));
    fill_inputs(c, &rng, x, mask);
    ref_softmax(x, mask, ref, c->rows, c->cols, c->mask_rows, (double)c->scale, (double)c->softcap);

    const int64_t shp[2] = {c->rows, c->cols};
    if ((s = guarded_new(env->dev, c->dt, 2, shp, c->misalign, &g))) goto dev_err;
    if (c->inplace) {
        if ((s = guarded_fill(&g, x))) goto dev_err;
    } else if ((s = upload_view(env->dev, c->dt, c->rows, c->cols, x, c->misalign, &xb, &xv))) {
        goto dev_err;
    }
    if (nm && (s = upload_view(env->dev, c->mdt, c->mask_rows, c->cols, mask, c->misalign, &mb, &mv))) goto dev_err;
    mlxn_softmax_params p = {c->scale, c->softcap};
    s = mlxn_softmax(env->enc, c->inplace ? g.view : xv, mv, g.view, &p);
    if (!s) s = mlxn_encoder_wait(env->enc);
    if (s) goto dev_err;
    bool guards_ok = false;
    if ((s = guarded_read(&g, got, &guards_ok))) goto dev_err;
    if (!guards_ok) {
        snprintf(msg, sizeof msg, "guard bytes around the output were overwritten");
        goto done;
    }
    /* exact zeros where the reference is exactly zero (fully masked entries) */
    for (int64_t i = 0; i < n; i++)
        if (ref[i] == 0.0 && got[i] != 0.0) {
            snprintf(msg, sizeof msg, "y[%lld][%lld] = %g, expected exactly 0 (masked)", (long long)(i / c->cols),
                     (long long)(i % c->cols), got[i]);
            goto done;
        }
    if (c->fill == FILL_EXPULP) {
        ok = expulp_check(got, ref, n, msg, sizeof msg);
    } else if (c->fill == FILL_NAN) {
        ok = nan_check(c, got, ref, limit_for(c->dt, ref, (size_t)c->cols), msg, sizeof msg);
    } else {
        check_result(rep, c->name, got, ref, (size_t)n, limit_for(c->dt, ref, (size_t)n), true);
        goto cleanup;
    }
    goto done;
dev_err:
    snprintf(msg, sizeof msg, "%s: %s", mlxn_status_str(s), mlxn_last_error());
done:
    report_case(rep, c->name, ok, "%s", msg);
cleanup:
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(mv);
    mlxn_buffer_free(mb);
    guarded_free(&g);
    free(x);
    free(ref);
    free(got);
    free(mask);
}

static void each(const test_env *env, report_t *rep, bool list, scase *c) {
    name_case(c);
    if (!report_wants(rep, c->name)) return;
    if (list) printf("%s\n", c->name);
    else run_case(env, rep, c);
}

static scase base_case(mlxn_dtype dt, int64_t rows, int64_t cols) {
    scase c;
    memset(&c, 0, sizeof c);
    c.dt = dt;
    c.rows = rows;
    c.cols = cols;
    c.scale = 1.0f;
    c.mdt = MLXN_F32;
    return c;
}

static void differential_cases(const test_env *env, report_t *rep, bool list) {
    /* rows of every kernel regime: CUDA warp-per-row (<= 1024), block with the
       row in registers (<= 8192), looped (longer); CPU whole-row (<= 32768)
       and streamed (longer) */
    static const int64_t COLS[] = {1, 3, 16, 31, 33, 1000, 1024, 4096, 8192, 32769, 200001};
    for (int d = 0; d < 3; d++)
        for (size_t ci = 0; ci < sizeof COLS / sizeof COLS[0]; ci++) {
            const int64_t cols = COLS[ci];
            const int64_t rows = cols <= 1024 ? 7 : cols <= 8192 ? 5 : 2;
            for (int v = 0; v < 4; v++) {
                scase c = base_case(DT[d], rows, cols);
                switch (v) {
                case 1: /* Gemma-style softcap plus a causal f32 mask, one mask row per row */
                    c.scale = 0.125f; c.softcap = 30.0f;
                    c.mask_kind = MASK_CAUSAL; c.mdt = MLXN_F32; c.mask_rows = rows;
                    break;
                case 2: /* f16 mask broadcast over rows, misaligned views */
                    c.scale = 0.125f;
                    c.mask_kind = MASK_RAND; c.mdt = MLXN_F16; c.mask_rows = rows > 2 ? 2 : 1;
                    c.misalign = 1;
                    break;
                case 3: /* one bf16 mask row for all, in place */
                    c.mask_kind = MASK_RAND; c.mdt = MLXN_BF16; c.mask_rows = 1;
                    c.inplace = true;
                    break;
                default: break;
                }
                each(env, rep, list, &c);
            }
        }
    /* ggml's longest eval row */
    {
        scase c = base_case(MLXN_F32, 3, 643251);
        each(env, rep, list, &c);
    }
    for (int d = 0; d < 3; d++) {
        /* a fully -inf masked row in each regime: exact zeros, no NaN */
        static const int64_t DEAD[] = {33, 1000, 4096, 40000};
        for (size_t i = 0; i < 4; i++) {
            scase c = base_case(DT[d], 6, DEAD[i]);
            c.mask_kind = MASK_DEAD; c.mdt = DT[(d + i) % 3]; c.mask_rows = 3; c.scale = 0.125f;
            c.misalign = (int)(i % 2);
            each(env, rep, list, &c);
        }
        /* equal values: exactly 1/cols */
        static const int64_t EQ[] = {5, 1000, 5000, 50000};
        for (size_t i = 0; i < 4; i++) {
            scase c = base_case(DT[d], 3, EQ[i]);
            c.fill = FILL_EQUAL;
            each(env, rep, list, &c);
        }
        /* |x| ~ 1e4: overflow without the max subtraction */
        static const int64_t BIG[] = {64, 2048, 20000, 40000};
        for (size_t i = 0; i < 4; i++) {
            scase c = base_case(DT[d], 4, BIG[i]);
            c.fill = FILL_BIG;
            c.scale = i % 2 ? 0.125f : 1.0f; /* powers of two keep z exact */
            each(env, rep, list, &c);
        }
        /* softcap 2 over [-8, 8]: both branches of the tanh (|z/cap| up to 4) */
        static const int64_t CAP[] = {100, 3000, 9000};
        for (size_t i = 0; i < 3; i++) {
            scase c = base_case(DT[d], 4, CAP[i]);
            c.fill = FILL_WIDE; c.softcap = 2.0f;
            each(env, rep, list, &c);
        }
        /* attention-shaped: 4 heads x 8 queries over 40 keys, causal f16 mask [8, 40] */
        {
            scase c = base_case(DT[d], 32, 40);
            c.scale = 0.125f; c.mask_kind = MASK_CAUSAL; c.mdt = MLXN_F16; c.mask_rows = 8;
            each(env, rep, list, &c);
        }
        /* NaN propagation in each regime */
        static const int64_t NANC[] = {100, 3000, 20000, 40000};
        for (size_t i = 0; i < 4 && d < 2; i++) {
            scase c = base_case(DT[d], 3, NANC[i]);
            c.fill = FILL_NAN;
            each(env, rep, list, &c);
        }
    }
    {
        scase c = base_case(MLXN_F32, 65536, 2);
        c.fill = FILL_EXPULP;
        each(env, rep, list, &c);
    }
    /* many unmasked rows (CUDA's prefetching warp kernel: >= 64 rows an SM
       of an H100, more than 512 columns 4-wide or 128 scalar), the row count
       odd so the last warps of the grid run out of rows at different steps */
    {
        static const struct {
            int d;
            int64_t cols;
            int misalign, inplace, fill;
            float cap;
        } MANY[] = {{0, 1000, 0, 0, FILL_UNIFORM, 0.0f}, {2, 1024, 0, 1, FILL_UNIFORM, 0.0f},
                    {1, 700, 1, 0, FILL_UNIFORM, 0.0f},  {0, 300, 1, 0, FILL_WIDE, 2.0f},
                    {0, 777, 0, 0, FILL_NAN, 0.0f},      {2, 1000, 0, 0, FILL_BIG, 0.0f}};
        for (size_t i = 0; i < sizeof MANY / sizeof MANY[0]; i++) {
            scase c = base_case(DT[MANY[i].d], 9001, MANY[i].cols);
            c.misalign = MANY[i].misalign;
            c.inplace = MANY[i].inplace != 0;
            c.fill = MANY[i].fill;
            c.softcap = MANY[i].cap;
            each(env, rep, list, &c);
        }
    }
}

/* ---- validation -------------------------------------------------------------- */

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} vctx;

/* Runs the op on bad arguments: it must return `want`, name the op and
   `needle` in its message, and leave y (pre-filled with a pattern) untouched. */
static void expect_fail(vctx *v, const char *name, mlxn_encoder *e, const mlxn_buffer *x, const mlxn_buffer *mask,
                        mlxn_buffer *y, const mlxn_softmax_params *p, mlxn_status want, const char *needle) {
    char full[160];
    snprintf(full, sizeof full, "softmax/validate/%s", name);
    if (!report_wants(v->rep, full)) return;
    if (v->list) {
        printf("%s\n", full);
        return;
    }
    size_t nb = y ? mlxn_buffer_nbytes(y) : 0;
    unsigned char *pat = nb ? malloc(nb) : NULL, *back = nb ? malloc(nb) : NULL;
    if (nb && (!pat || !back)) {
        report_case(v->rep, full, false, "out of host memory");
        free(pat);
        free(back);
        return;
    }
    for (size_t i = 0; i < nb; i++) pat[i] = (unsigned char)(0x3C + i * 7);
    if (nb) mlxn_buffer_write(y, pat, nb);
    mlxn_clear_error();
    mlxn_status s = mlxn_softmax(e, x, mask, y, p);
    const char *msg = mlxn_last_error();
    char detail[400];
    bool ok = s == want && strstr(msg, "softmax") && strstr(msg, needle);
    snprintf(detail, sizeof detail, "status %s (want %s), message \"%s\" (want \"%s\")", mlxn_status_str(s),
             mlxn_status_str(want), msg, needle);
    if (ok && nb) {
        mlxn_encoder_wait(v->env->enc);
        mlxn_buffer_read(y, back, nb);
        if (memcmp(pat, back, nb)) {
            ok = false;
            snprintf(detail, sizeof detail, "y was written although the op failed");
        }
    }
    report_case(v->rep, full, ok, "%s", detail);
    free(pat);
    free(back);
}

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list};
    mlxn_device *d = env->dev;
    mlxn_buffer *x = NULL, *y = NULL, *xi = NULL, *yh = NULL, *y2 = NULL, *m100 = NULL, *mi = NULL, *big = NULL,
                *part = NULL, *mb = NULL, *xb = NULL;
    const int64_t s4[2] = {4, 128}, s3[2] = {3, 128}, m1[2] = {2, 100}, m2[2] = {2, 128}, sb[1] = {1024};
    if (!list) {
        mlxn_status s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &x);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, s4, &y);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, s4, &xi);
        if (!s) s = mlxn_buffer_new(d, MLXN_F16, 2, s4, &yh);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, s3, &y2);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 2, m1, &m100);
        if (!s) s = mlxn_buffer_new(d, MLXN_I32, 2, m2, &mi);
        if (!s) s = mlxn_buffer_new(d, MLXN_F32, 1, sb, &big);
        /* x and a view of the same storage shifted by 64 elements */
        if (!s) s = mlxn_buffer_view(big, 0, MLXN_F32, 2, s4, &xb);
        if (!s) s = mlxn_buffer_view(big, 64 * 4, MLXN_F32, 2, s4, &part);
        /* a mask inside the same storage as xb */
        if (!s) s = mlxn_buffer_view(big, 0, MLXN_F32, 2, m2, &mb);
        if (s) {
            report_case(rep, "softmax/validate/setup", false, "%s", mlxn_last_error());
            goto out;
        }
        double *ones = malloc(sizeof(double) * 512);
        if (ones) {
            for (int i = 0; i < 512; i++) ones[i] = 0.5 + i % 3;
            void *h = malloc(512 * 4);
            if (h) {
                host_from_double(MLXN_F32, ones, 512, h);
                mlxn_buffer_write(x, h, 512 * 4);
                free(h);
            }
            free(ones);
        }
    }
    mlxn_softmax_params ok = {1.0f, 0.0f};
    mlxn_softmax_params nan_scale = {NAN, 0.0f}, inf_scale = {INFINITY, 0.0f};
    mlxn_softmax_params neg_cap = {1.0f, -1.5f}, inf_cap = {1.0f, INFINITY};
    expect_fail(&v, "null_encoder", NULL, x, NULL, y, &ok, MLXN_ERR_INVALID_ARGUMENT, "encoder");
    expect_fail(&v, "null_x", env->enc, NULL, NULL, y, &ok, MLXN_ERR_INVALID_ARGUMENT, "x");
    expect_fail(&v, "null_y", env->enc, x, NULL, NULL, &ok, MLXN_ERR_INVALID_ARGUMENT, "y");
    expect_fail(&v, "null_params", env->enc, x, NULL, y, NULL, MLXN_ERR_INVALID_ARGUMENT, "params");
    expect_fail(&v, "scale_nan", env->enc, x, NULL, y, &nan_scale, MLXN_ERR_INVALID_ARGUMENT, "scale (nan)");
    expect_fail(&v, "scale_inf", env->enc, x, NULL, y, &inf_scale, MLXN_ERR_INVALID_ARGUMENT, "scale (inf)");
    expect_fail(&v, "softcap_neg", env->enc, x, NULL, y, &neg_cap, MLXN_ERR_INVALID_ARGUMENT, "softcap (-1.5)");
    expect_fail(&v, "softcap_inf", env->enc, x, NULL, y, &inf_cap, MLXN_ERR_INVALID_ARGUMENT, "softcap (inf)");
    expect_fail(&v, "dtype_i32", env->enc, xi, NULL, y, &ok, MLXN_ERR_UNSUPPORTED, "dtype i32");
    expect_fail(&v, "y_dtype", env->enc, x, NULL, yh, &ok, MLXN_ERR_INVALID_ARGUMENT, "y dtype (f16)");
    expect_fail(&v, "y_numel", env->enc, x, NULL, y2, &ok, MLXN_ERR_INVALID_ARGUMENT, "y has 384 elements, x 512");
    expect_fail(&v, "mask_cols", env->enc, x, m100, y, &ok, MLXN_ERR_INVALID_ARGUMENT,
                "mask has 100 columns, x has 128");
    expect_fail(&v, "mask_dtype", env->enc, x, mi, y, &ok, MLXN_ERR_INVALID_ARGUMENT, "mask dtype (i32)");
    expect_fail(&v, "partial_overlap", env->enc, xb, NULL, part, &ok, MLXN_ERR_INVALID_ARGUMENT, "partially overlaps");
    expect_fail(&v, "y_overlaps_mask", env->enc, x, mb, xb, &ok, MLXN_ERR_INVALID_ARGUMENT, "y overlaps mask");
out:
    mlxn_buffer_free(x);
    mlxn_buffer_free(y);
    mlxn_buffer_free(xi);
    mlxn_buffer_free(yh);
    mlxn_buffer_free(y2);
    mlxn_buffer_free(m100);
    mlxn_buffer_free(mi);
    mlxn_buffer_free(mb);
    mlxn_buffer_free(xb);
    mlxn_buffer_free(part);
    mlxn_buffer_free(big);
}

void softmax_suite(const test_env *env, report_t *rep, bool list) {
    differential_cases(env, rep, list);
    validation_cases(env, rep, list);
}
