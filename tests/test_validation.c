/* test_validation.c — every validation rule of the RoPE ops and of the core
   runtime returns the right status, names the call and the offending values
   in mlxn_last_error(), and leaves every output untouched (DESIGN.md, Tests 3).

   For each rule one case starts from a valid call, breaks exactly that rule
   and checks:
     (a) the exact status (INVALID_ARGUMENT, UNSUPPORTED or NOT_FOUND),
     (b) the message starts with "<op>: " and contains the offending values,
         e.g. "rope_multi: rope_dim (96) must be <= head_dim (64)",
     (c) nothing was written: every buffer handed to the call (outputs and
         inputs) is filled with a byte pattern beforehand and read back
         afterwards, and the device's dispatch counter did not move; calls
         that create objects leave *out NULL and allocate nothing.
   Bad inputs: NULL encoder/buffers/params, zero and huge dims (shape-product
   overflow, head_dim > MLXN_ROPE_MAX_HEAD_DIM, seq_len*n_heads*head_dim that
   wraps 64 bits), odd dims, rope_dim > head_dim, NaN/Inf/0/negative bases,
   bad modes, sections summing to 0, VISION rules, element-count and dtype
   mismatches, unsupported dtypes, bad positions and freq_factors, buffers of
   another device (a second CPU device), out-of-range and misaligned views,
   partially overlapping input/output, output overlapping positions. Each
   group ends with valid calls that must succeed, so the checks are not vacuous.

   usage: test_validation [-b cpu|cuda|all] [-o SUBSTRING] [-v] */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"

#define INV MLXN_ERR_INVALID_ARGUMENT
#define UNS MLXN_ERR_UNSUPPORTED
#define NFD MLXN_ERR_NOT_FOUND

typedef struct {
    mlxn_device *dev;   /* the backend under test                          */
    mlxn_device *other; /* a second, distinct device (always a CPU device) */
    mlxn_encoder *enc;  /* on dev                                           */
    report_t *rep;
    const char *bname;
} ctx_t;

/* ---- buffers ------------------------------------------------------------------ */

static void setup_fail(const char *what) {
    printf("  FAIL setup: %s: %s\n", what, mlxn_last_error());
    exit(1);
}

static mlxn_buffer *mk(mlxn_device *d, mlxn_dtype t, int nd, const int64_t *shape) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_new(d, t, nd, shape, &b) != MLXN_OK) setup_fail("buffer_new");
    return b;
}
static mlxn_buffer *mk1(mlxn_device *d, mlxn_dtype t, int64_t n) { return mk(d, t, 1, (int64_t[]){n}); }
static mlxn_buffer *mk3(mlxn_device *d, mlxn_dtype t, int64_t a, int64_t b, int64_t c) {
    return mk(d, t, 3, (int64_t[]){a, b, c});
}
static mlxn_buffer *view(mlxn_buffer *base, size_t off, mlxn_dtype t, int nd, const int64_t *shape) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_view(base, off, t, nd, shape, &b) != MLXN_OK) setup_fail("buffer_view");
    return b;
}

/* Replaces the buffer in *slot (freeing the old one). */
static void put(mlxn_buffer **slot, mlxn_buffer *nb) {
    mlxn_buffer_free(*slot);
    *slot = nb;
}

/* ---- the untouched-output guard ------------------------------------------------ */

#define MAXG 6

typedef struct {
    int n;
    const mlxn_buffer *b[MAXG];
    unsigned char *snap[MAXG];
    mlxn_device *dev;
    uint64_t dispatches, allocs;
} guard_t;

/* Fills every distinct non-NULL buffer with its own byte pattern, then
   snapshots them all (after all writes, so overlapping views agree). */
static void guard_begin(guard_t *g, mlxn_device *dev, mlxn_buffer *const *bufs, int nb) {
    memset(g, 0, sizeof *g);
    g->dev = dev;
    for (int i = 0; i < nb && g->n < MAXG; i++) {
        if (!bufs[i]) continue;
        bool dup = false;
        for (int k = 0; k < g->n; k++) dup |= g->b[k] == bufs[i];
        if (dup) continue;
        size_t n = mlxn_buffer_nbytes(bufs[i]);
        unsigned char *h = malloc(n);
        if (!h) setup_fail("malloc");
        for (size_t j = 0; j < n; j++) h[j] = (unsigned char)(0xA5 + 0x3B * j + 0x11 * (size_t)g->n);
        if (mlxn_buffer_write(bufs[i], h, n) != MLXN_OK) setup_fail("poison write");
        g->b[g->n] = bufs[i];
        g->snap[g->n++] = h;
    }
    for (int k = 0; k < g->n; k++)
        if (mlxn_buffer_read(g->b[k], g->snap[k], mlxn_buffer_nbytes(g->b[k])) != MLXN_OK) setup_fail("snapshot");
    mlxn_counters c;
    mlxn_device_counters(dev, &c);
    g->dispatches = c.dispatches;
    g->allocs = c.device_allocs;
}

/* True when every guarded buffer still holds its snapshot and nothing was
   dispatched; else `why` says what changed. Frees the snapshots. */
static bool guard_end(guard_t *g, char *why, size_t wl) {
    bool ok = true;
    for (int k = 0; k < g->n; k++) {
        size_t n = mlxn_buffer_nbytes(g->b[k]);
        unsigned char *h = malloc(n);
        if (!h) setup_fail("malloc");
        if (mlxn_buffer_read(g->b[k], h, n) != MLXN_OK) setup_fail("guard read");
        for (size_t j = 0; j < n && ok; j++)
            if (h[j] != g->snap[k][j]) {
                snprintf(why, wl, "buffer %d changed at byte %zu of %zu", k, j, n);
                ok = false;
            }
        free(h);
        free(g->snap[k]);
    }
    if (g->dev) {
        mlxn_counters c;
        mlxn_device_counters(g->dev, &c);
        if (ok && c.dispatches != g->dispatches) {
            snprintf(why, wl, "%llu dispatch(es) were encoded", (unsigned long long)(c.dispatches - g->dispatches));
            ok = false;
        }
        if (ok && c.device_allocs != g->allocs) {
            snprintf(why, wl, "%llu device allocation(s) were made", (unsigned long long)(c.device_allocs - g->allocs));
            ok = false;
        }
    }
    g->n = 0;
    return ok;
}

/* ---- checking one failing call ---------------------------------------------------- */

/* Checks status `got` against `want`, that `msg` starts with "<who>: " and
   contains every fragment (NULL-terminated list), and the guard (may be NULL);
   `extra`, when not NULL, is a further reason the case failed. */
static void vexpect(ctx_t *cx, guard_t *g, const char *name, mlxn_status got, const char *msg, const char *extra,
                    mlxn_status want, const char *who, va_list ap) {
    char full[256], why[512] = "", gw[160] = "";
    snprintf(full, sizeof full, "%s/%s", cx->bname, name);
    if (!report_wants(cx->rep, full)) {
        if (g) guard_end(g, gw, sizeof gw);
        return;
    }
    bool ok = true;
    if (got != want) {
        snprintf(why, sizeof why, "status '%s', want '%s'", mlxn_status_str(got), mlxn_status_str(want));
        ok = false;
    }
    size_t wl = strlen(who);
    if (ok && (strncmp(msg, who, wl) != 0 || msg[wl] != ':' || msg[wl + 1] != ' ')) {
        snprintf(why, sizeof why, "message does not start with '%s: '", who);
        ok = false;
    }
    for (const char *f = va_arg(ap, const char *); ok && f; f = va_arg(ap, const char *))
        if (!strstr(msg, f)) {
            snprintf(why, sizeof why, "message lacks '%s'", f);
            ok = false;
        }
    if (g && !guard_end(g, gw, sizeof gw) && ok) {
        snprintf(why, sizeof why, "output touched: %s", gw);
        ok = false;
    }
    if (ok && extra) {
        snprintf(why, sizeof why, "%s", extra);
        ok = false;
    }
    report_case(cx->rep, full, ok, "%s%s[%s]", why, why[0] ? " " : "", msg);
}

/* expect() reads mlxn_last_error() itself: call it right after the call. */
static void expect(ctx_t *cx, guard_t *g, const char *name, mlxn_status got, const char *extra, mlxn_status want,
                   const char *who, ...) __attribute__((sentinel));
static void expect(ctx_t *cx, guard_t *g, const char *name, mlxn_status got, const char *extra, mlxn_status want,
                   const char *who, ...) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mlxn_last_error()); /* before any other mlxn call */
    va_list ap;
    va_start(ap, who);
    vexpect(cx, g, name, got, msg, extra, want, who, ap);
    va_end(ap);
}

/* expect() with a message saved earlier. */
static void expect_msg(ctx_t *cx, guard_t *g, const char *name, mlxn_status got, const char *msg, const char *extra,
                       mlxn_status want, const char *who, ...) __attribute__((sentinel));
static void expect_msg(ctx_t *cx, guard_t *g, const char *name, mlxn_status got, const char *msg, const char *extra,
                       mlxn_status want, const char *who, ...) {
    va_list ap;
    va_start(ap, who);
    vexpect(cx, g, name, got, msg, extra, want, who, ap);
    va_end(ap);
}

/* The `extra` of a creating call: its *out must stay NULL. */
static const char *out_left(const void *out) { return out ? "*out is not NULL after the failure" : NULL; }

static void expect_ok(ctx_t *cx, const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void expect_ok(ctx_t *cx, const char *name, bool ok, const char *fmt, ...) {
    char full[256], why[512];
    snprintf(full, sizeof full, "%s/%s", cx->bname, name);
    if (!report_wants(cx->rep, full)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    report_case(cx->rep, full, ok, "%s", why);
}

/* ---- the RoPE ops: one call built from a valid default ------------------------- */

typedef enum { OP_ROPE, OP_MULTI, OP_V2D } op_id;
static const char *const OPNAME[3] = {"rope", "rope_multi", "vision_2d_rope"};

typedef struct {
    op_id op;
    mlxn_encoder *enc;
    mlxn_buffer *in, *out, *pos, *aux; /* aux: freq_factors (rope) or pos_y (vision_2d_rope) */
    mlxn_buffer *extra[2];             /* view bases, freed with the call */
    mlxn_rope_params rp;
    mlxn_rope_multi_params mp;
    mlxn_vision_2d_rope_params vp;
    bool null_params;
    bool capture;      /* run inside a capture that is discarded, never launched */
} call_t;

/* Valid defaults: seq 3, heads 2, head_dim 8, f32, i32 positions. */
static void call_default(ctx_t *cx, op_id op, call_t *c) {
    memset(c, 0, sizeof *c);
    c->op = op;
    c->enc = cx->enc;
    c->in = mk3(cx->dev, MLXN_F32, 3, 2, 8);
    c->out = mk3(cx->dev, MLXN_F32, 3, 2, 8);
    c->rp = mlxn_rope_params_default(8, MLXN_ROPE_NEOX, 10000.0f);
    c->mp = (mlxn_rope_multi_params){8, 8, 2, 3, 10000.0f, MLXN_ROPE_IMROPE, {2, 1, 1, 0}};
    c->vp = (mlxn_vision_2d_rope_params){8, 2, 3, 100.0f};
    if (op == OP_ROPE) {
        c->pos = mk1(cx->dev, MLXN_I32, 3);
    } else if (op == OP_MULTI) {
        c->pos = mk1(cx->dev, MLXN_I32, 12);
    } else {
        c->pos = mk1(cx->dev, MLXN_I32, 3);
        c->aux = mk1(cx->dev, MLXN_I32, 3);
    }
}

static void call_free(call_t *c) {
    if (c->out != c->in) mlxn_buffer_free(c->out);
    mlxn_buffer_free(c->in);
    mlxn_buffer_free(c->pos);
    mlxn_buffer_free(c->aux);
    mlxn_buffer_free(c->extra[0]);
    mlxn_buffer_free(c->extra[1]);
    memset(c, 0, sizeof *c);
}

static mlxn_status call_run(call_t *c) {
    mlxn_clear_error();
    switch (c->op) {
    case OP_ROPE: return mlxn_rope(c->enc, c->in, c->out, c->pos, c->aux, c->null_params ? NULL : &c->rp);
    case OP_MULTI: return mlxn_rope_multi(c->enc, c->in, c->out, c->pos, c->null_params ? NULL : &c->mp);
    default: return mlxn_vision_2d_rope(c->enc, c->in, c->out, c->pos, c->aux, c->null_params ? NULL : &c->vp);
    }
}

/* Runs the (broken) call under the guard, checks it, frees it. */
static void fail_call(ctx_t *cx, call_t *c, const char *name, mlxn_status want, ...) __attribute__((sentinel));
static void fail_call(ctx_t *cx, call_t *c, const char *name, mlxn_status want, ...) {
    char full[200];
    snprintf(full, sizeof full, "%s/%s", OPNAME[c->op], name);
    guard_t g;
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){c->out, c->in, c->pos, c->aux}, 4);
    if (c->capture && mlxn_encoder_begin_capture(c->enc) != MLXN_OK) setup_fail("begin_capture");
    mlxn_status s = call_run(c);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mlxn_last_error());
    if (c->capture) {
        mlxn_graph *gr = NULL;
        (void)mlxn_encoder_end_capture(c->enc, &gr);
        if (mlxn_graph_size(gr) > 0) strncat(msg, " (the op was recorded)", sizeof msg - strlen(msg) - 1);
        mlxn_graph_free(gr); /* never launched */
    }
    va_list ap;
    va_start(ap, want);
    vexpect(cx, &g, full, s, msg, NULL, want, OPNAME[c->op], ap);
    va_end(ap);
    call_free(c);
}

/* A valid call must succeed, and write the (poisoned) output. */
static void ok_call(ctx_t *cx, call_t *c, const char *name) {
    char full[200];
    snprintf(full, sizeof full, "%s/%s", OPNAME[c->op], name);
    /* positions in range, inputs non-zero */
    int64_t np = mlxn_buffer_numel(c->pos);
    int32_t *pv = malloc(sizeof(int32_t) * (size_t)np);
    for (int64_t i = 0; i < np; i++) pv[i] = (int32_t)(1 + i % 5);
    bool ok = mlxn_buffer_write(c->pos, pv, sizeof(int32_t) * (size_t)np) == MLXN_OK;
    if (c->aux && c->op == OP_V2D) ok &= mlxn_buffer_write(c->aux, pv, sizeof(int32_t) * 3) == MLXN_OK;
    if (c->aux && c->op == OP_ROPE) {
        float ff[4] = {1.0f, 2.0f, 3.0f, 4.0f};
        ok &= mlxn_buffer_write(c->aux, ff, sizeof ff) == MLXN_OK;
    }
    size_t n = mlxn_buffer_nbytes(c->out);
    float *x = malloc(n), *y = malloc(n);
    for (size_t i = 0; i < n / 4; i++) x[i] = 0.25f + 0.01f * (float)i;
    if (c->in != c->out) {
        memset(y, 0xFF, n); /* NaN poison in the output */
        ok &= mlxn_buffer_write(c->out, y, n) == MLXN_OK;
    }
    ok &= mlxn_buffer_write(c->in, x, n) == MLXN_OK;
    mlxn_status s = call_run(c);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mlxn_last_error());
    if (s == MLXN_OK) s = mlxn_encoder_wait(c->enc);
    ok &= s == MLXN_OK && mlxn_buffer_read(c->out, y, n) == MLXN_OK;
    bool written = true, changed = false;
    for (size_t i = 0; ok && i < n / 4; i++) {
        written &= isfinite(y[i]);
        changed |= y[i] != x[i];
    }
    expect_ok(cx, full, ok && written && changed, "status '%s' %s%s%s", mlxn_status_str(s), msg,
              ok && !written ? " output not written" : "", ok && !changed ? " output equals input" : "");
    free(pv);
    free(x);
    free(y);
    call_free(c);
}

/* ---- mlxn_rope --------------------------------------------------------------------- */

static void rope_cases(ctx_t *cx) {
    const op_id R = OP_ROPE;
    call_t c;

    call_default(cx, R, &c); c.enc = NULL;
    fail_call(cx, &c, "null_encoder", INV, "rope: encoder is NULL", NULL);
    call_default(cx, R, &c); put(&c.in, NULL);
    fail_call(cx, &c, "null_input", INV, "rope: input is NULL", NULL);
    call_default(cx, R, &c); put(&c.out, NULL);
    fail_call(cx, &c, "null_output", INV, "rope: output is NULL", NULL);
    call_default(cx, R, &c); put(&c.pos, NULL);
    fail_call(cx, &c, "null_positions", INV, "rope: positions is NULL", NULL);
    call_default(cx, R, &c); c.null_params = true;
    fail_call(cx, &c, "null_params", INV, "rope: params is NULL", NULL);

    /* buffers of another device */
    const char *oname = mlxn_device_name(cx->other);
    call_default(cx, R, &c); put(&c.in, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/input", INV, "rope: input lives on device '", oname, NULL);
    call_default(cx, R, &c); put(&c.out, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/output", INV, "rope: output lives on device '", oname, NULL);
    call_default(cx, R, &c); put(&c.pos, mk1(cx->other, MLXN_I32, 3));
    fail_call(cx, &c, "other_device/positions", INV, "rope: positions lives on device '", oname, NULL);
    call_default(cx, R, &c); put(&c.aux, mk1(cx->other, MLXN_F32, 4));
    fail_call(cx, &c, "other_device/freq_factors", INV, "rope: freq_factors lives on device '", oname, NULL);

    /* shapes */
    call_default(cx, R, &c);
    put(&c.in, mk(cx->dev, MLXN_F32, 2, (int64_t[]){6, 8}));
    put(&c.out, mk(cx->dev, MLXN_F32, 2, (int64_t[]){6, 8}));
    fail_call(cx, &c, "ndim2", INV, "rope: input must be [seq, heads, head_dim] or [batch, seq, heads, head_dim] (ndim 2)",
              NULL);
    call_default(cx, R, &c);
    put(&c.in, mk(cx->dev, MLXN_F32, 5, (int64_t[]){1, 1, 3, 2, 8}));
    put(&c.out, mk(cx->dev, MLXN_F32, 5, (int64_t[]){1, 1, 3, 2, 8}));
    fail_call(cx, &c, "ndim5", INV, "(ndim 5)", NULL);
    call_default(cx, R, &c); put(&c.out, mk3(cx->dev, MLXN_F32, 3, 8, 2));
    fail_call(cx, &c, "output_shape_permuted", INV, "rope: output shape must equal input shape", NULL);
    call_default(cx, R, &c); put(&c.out, mk(cx->dev, MLXN_F32, 4, (int64_t[]){1, 3, 2, 8}));
    fail_call(cx, &c, "output_ndim_differs", INV, "rope: output shape must equal input shape", NULL);
    call_default(cx, R, &c); put(&c.out, mk3(cx->dev, MLXN_F32, 3, 2, 10));
    fail_call(cx, &c, "output_count", INV, "rope: output shape must equal input shape", NULL);

    /* mode */
    static const int bad_modes[] = {1, 3, 8, 40, -1};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        char nm[64], fr[96];
        call_default(cx, R, &c);
        c.rp.mode = (mlxn_rope_mode)bad_modes[i];
        snprintf(nm, sizeof nm, "mode_%d", bad_modes[i]);
        snprintf(fr, sizeof fr, "rope: mode (%d) must be NORMAL (0) or NEOX (2)", bad_modes[i]);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }

    /* head_dim above the maximum */
    call_default(cx, R, &c);
    put(&c.in, mk3(cx->dev, MLXN_F32, 1, 1, MLXN_ROPE_MAX_HEAD_DIM + 2));
    put(&c.out, mk3(cx->dev, MLXN_F32, 1, 1, MLXN_ROPE_MAX_HEAD_DIM + 2));
    put(&c.pos, mk1(cx->dev, MLXN_I32, 1));
    fail_call(cx, &c, "head_dim_too_large", INV, "rope: head_dim (8194) must be <= 8192", NULL);

    /* n_dims */
    static const uint32_t bad_nd[] = {0, 1, 7};
    for (size_t i = 0; i < 3; i++) {
        char nm[64], fr[96];
        call_default(cx, R, &c);
        c.rp.n_dims = bad_nd[i];
        snprintf(nm, sizeof nm, "n_dims_%u", bad_nd[i]);
        snprintf(fr, sizeof fr, "rope: n_dims (%u) must be even and >= 2", bad_nd[i]);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }
    call_default(cx, R, &c); c.rp.n_dims = 10;
    fail_call(cx, &c, "n_dims_gt_head_dim", INV, "rope: n_dims (10) must be <= head_dim (8)", NULL);
    call_default(cx, R, &c); c.rp.n_dims = 0xFFFFFFFEu;
    fail_call(cx, &c, "n_dims_huge", INV, "rope: n_dims (4294967294) must be <= head_dim (8)", NULL);

    /* float params */
    static const struct { float v; const char *s; } badf[] = {
        {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {0.0f, "0"}, {-0.0f, "-0"}, {-1.0f, "-1"}};
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        char nm[64], fr[96];
        call_default(cx, R, &c);
        c.rp.freq_base = badf[i].v;
        snprintf(nm, sizeof nm, "freq_base_%s", badf[i].s);
        snprintf(fr, sizeof fr, "rope: freq_base (%s) must be finite and > 0", badf[i].s);
        fail_call(cx, &c, nm, INV, fr, NULL);
        call_default(cx, R, &c);
        c.rp.freq_scale = badf[i].v;
        snprintf(nm, sizeof nm, "freq_scale_%s", badf[i].s);
        snprintf(fr, sizeof fr, "rope: freq_scale (%s) must be finite and > 0", badf[i].s);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }
    call_default(cx, R, &c); c.rp.ext_factor = NAN;
    fail_call(cx, &c, "ext_factor_nan", INV,
              "rope: ext_factor (nan), attn_factor (1), beta_fast (32), beta_slow (1) must be finite", NULL);
    call_default(cx, R, &c); c.rp.attn_factor = INFINITY;
    fail_call(cx, &c, "attn_factor_inf", INV, "attn_factor (inf)", "must be finite", NULL);
    call_default(cx, R, &c); c.rp.beta_fast = -INFINITY;
    fail_call(cx, &c, "beta_fast_-inf", INV, "beta_fast (-inf)", "must be finite", NULL);
    call_default(cx, R, &c); c.rp.beta_slow = NAN;
    fail_call(cx, &c, "beta_slow_nan", INV, "beta_slow (nan)", "must be finite", NULL);

    /* positions */
    call_default(cx, R, &c); put(&c.pos, mk1(cx->dev, MLXN_F32, 3));
    fail_call(cx, &c, "positions_f32", INV, "rope: positions dtype (f32) must be i32 or u32", NULL);
    call_default(cx, R, &c); put(&c.pos, mk1(cx->dev, MLXN_I64, 3));
    fail_call(cx, &c, "positions_i64", INV, "rope: positions dtype (i64) must be i32 or u32", NULL);
    call_default(cx, R, &c); put(&c.pos, mk1(cx->dev, MLXN_I32, 2));
    fail_call(cx, &c, "positions_short", INV, "rope: positions has 2 elements, expected 3", NULL);
    call_default(cx, R, &c); put(&c.pos, mk1(cx->dev, MLXN_U32, 4));
    fail_call(cx, &c, "positions_long", INV, "rope: positions has 4 elements, expected 3", NULL);

    /* freq_factors */
    call_default(cx, R, &c); put(&c.aux, mk1(cx->dev, MLXN_F16, 4));
    fail_call(cx, &c, "freq_factors_f16", INV, "rope: freq_factors dtype (f16) must be f32", NULL);
    call_default(cx, R, &c); put(&c.aux, mk1(cx->dev, MLXN_I32, 4));
    fail_call(cx, &c, "freq_factors_i32", INV, "rope: freq_factors dtype (i32) must be f32", NULL);
    call_default(cx, R, &c); put(&c.aux, mk1(cx->dev, MLXN_F32, 3));
    fail_call(cx, &c, "freq_factors_short", INV, "rope: freq_factors has 3 elements, needs >= n_dims/2 (4)", NULL);

    /* dtypes */
    call_default(cx, R, &c); put(&c.out, mk3(cx->dev, MLXN_F16, 3, 2, 8));
    fail_call(cx, &c, "dtype_f32_to_f16", INV, "rope: output dtype (f16) must equal input dtype (f32)", NULL);
    call_default(cx, R, &c); put(&c.in, mk3(cx->dev, MLXN_BF16, 3, 2, 8));
    fail_call(cx, &c, "dtype_bf16_to_f32", INV, "rope: output dtype (f32) must equal input dtype (bf16)", NULL);
    call_default(cx, R, &c);
    put(&c.in, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    put(&c.out, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    fail_call(cx, &c, "dtype_i32", UNS, "rope: dtype i32 is not supported (f32, f16, bf16)", NULL);
    call_default(cx, R, &c);
    put(&c.in, mk3(cx->dev, MLXN_U8, 3, 2, 8));
    put(&c.out, mk3(cx->dev, MLXN_U8, 3, 2, 8));
    fail_call(cx, &c, "dtype_u8", UNS, "rope: dtype u8 is not supported", NULL);

    /* overlaps */
    call_default(cx, R, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.in, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.out, view(c.extra[0], 16, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    fail_call(cx, &c, "overlap/input_output", INV, "rope: output partially overlaps input", NULL);
    call_default(cx, R, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 48);
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.pos, view(c.extra[0], 180, MLXN_I32, 1, (int64_t[]){3}));
    fail_call(cx, &c, "overlap/output_positions", INV, "rope: output overlaps positions", NULL);
    call_default(cx, R, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 48);
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.aux, view(c.extra[0], 176, MLXN_F32, 1, (int64_t[]){4}));
    fail_call(cx, &c, "overlap/output_freq_factors", INV, "rope: output overlaps freq_factors", NULL);

    /* valid calls */
    call_default(cx, R, &c);
    ok_call(cx, &c, "valid");
    call_default(cx, R, &c); put(&c.aux, mk1(cx->dev, MLXN_F32, 4)); c.rp.mode = MLXN_ROPE_NORMAL;
    ok_call(cx, &c, "valid/normal_ff");
    call_default(cx, R, &c);
    put(&c.in, mk(cx->dev, MLXN_F32, 4, (int64_t[]){2, 3, 2, 8}));
    put(&c.out, mk(cx->dev, MLXN_F32, 4, (int64_t[]){2, 3, 2, 8}));
    ok_call(cx, &c, "valid/batched");
    call_default(cx, R, &c); mlxn_buffer_free(c.out); c.out = c.in;
    ok_call(cx, &c, "valid/inplace");
    call_default(cx, R, &c); /* the same view through a second handle is in-place too */
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.in, view(c.extra[0], 16, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.out, view(c.extra[0], 16, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    ok_call(cx, &c, "valid/inplace_second_handle");
}

/* ---- mlxn_rope_multi ---------------------------------------------------------------- */

static void multi_cases(ctx_t *cx) {
    const op_id M = OP_MULTI;
    call_t c;

    call_default(cx, M, &c); c.enc = NULL;
    fail_call(cx, &c, "null_encoder", INV, "rope_multi: encoder is NULL", NULL);
    call_default(cx, M, &c); put(&c.in, NULL);
    fail_call(cx, &c, "null_input", INV, "rope_multi: input is NULL", NULL);
    call_default(cx, M, &c); put(&c.out, NULL);
    fail_call(cx, &c, "null_output", INV, "rope_multi: output is NULL", NULL);
    call_default(cx, M, &c); put(&c.pos, NULL);
    fail_call(cx, &c, "null_positions", INV, "rope_multi: positions is NULL", NULL);
    call_default(cx, M, &c); c.null_params = true;
    fail_call(cx, &c, "null_params", INV, "rope_multi: params is NULL", NULL);

    const char *oname = mlxn_device_name(cx->other);
    call_default(cx, M, &c); put(&c.in, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/input", INV, "rope_multi: input lives on device '", oname, NULL);
    call_default(cx, M, &c); put(&c.out, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/output", INV, "rope_multi: output lives on device '", oname, NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->other, MLXN_I32, 12));
    fail_call(cx, &c, "other_device/positions", INV, "rope_multi: positions lives on device '", oname, NULL);

    /* zero dims */
    call_default(cx, M, &c); c.mp.head_dim = 0;
    fail_call(cx, &c, "head_dim_0", INV,
              "rope_multi: head_dim (0), rope_dim (8), n_heads (2) and seq_len (3) must be > 0", NULL);
    call_default(cx, M, &c); c.mp.rope_dim = 0;
    fail_call(cx, &c, "rope_dim_0", INV, "rope_dim (0)", "must be > 0", NULL);
    call_default(cx, M, &c); c.mp.n_heads = 0;
    fail_call(cx, &c, "n_heads_0", INV, "n_heads (0)", "must be > 0", NULL);
    call_default(cx, M, &c); c.mp.seq_len = 0;
    fail_call(cx, &c, "seq_len_0", INV, "seq_len (0)", "must be > 0", NULL);

    /* odd dims, rope_dim > head_dim, huge dims */
    call_default(cx, M, &c); c.mp.head_dim = 15;
    fail_call(cx, &c, "head_dim_odd", INV, "rope_multi: head_dim (15) must be even", NULL);
    call_default(cx, M, &c); c.mp.rope_dim = 7;
    fail_call(cx, &c, "rope_dim_odd", INV, "rope_multi: rope_dim (7) must be even", NULL);
    call_default(cx, M, &c); c.mp.head_dim = 64; c.mp.rope_dim = 96;
    fail_call(cx, &c, "rope_dim_gt_head_dim", INV, "rope_multi: rope_dim (96) must be <= head_dim (64)", NULL);
    call_default(cx, M, &c); c.mp.rope_dim = 10;
    fail_call(cx, &c, "rope_dim_gt_head_dim/10_8", INV, "rope_multi: rope_dim (10) must be <= head_dim (8)", NULL);
    call_default(cx, M, &c); c.mp.head_dim = MLXN_ROPE_MAX_HEAD_DIM + 2;
    fail_call(cx, &c, "head_dim_too_large", INV, "rope_multi: head_dim (8194) must be <= 8192", NULL);
    call_default(cx, M, &c); c.mp.head_dim = 0xFFFFFFFEu;
    fail_call(cx, &c, "head_dim_huge", INV, "rope_multi: head_dim (4294967294) must be <= 8192", NULL);
    /* n_heads beyond int32: the message must name n_heads, not head_dim */
    call_default(cx, M, &c); c.mp.n_heads = 0x80000000u;
    fail_call(cx, &c, "n_heads_too_large", INV, "n_heads (2147483648)", NULL);

    /* freq_base */
    static const struct { float v; const char *s; } badf[] = {
        {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {0.0f, "0"}, {-0.0f, "-0"}, {-1.0f, "-1"}};
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        char nm[64], fr[96];
        call_default(cx, M, &c);
        c.mp.freq_base = badf[i].v;
        snprintf(nm, sizeof nm, "freq_base_%s", badf[i].s);
        snprintf(fr, sizeof fr, "rope_multi: freq_base (%s) must be finite and > 0", badf[i].s);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }

    /* modes: the plain RoPE modes and neighbours of the valid ones */
    static const int bad_modes[] = {0, 2, 7, 9, 23, 25, 39, 41, -1};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        char nm[64], fr[128];
        call_default(cx, M, &c);
        c.mp.mode = (mlxn_rope_multi_mode)bad_modes[i];
        snprintf(nm, sizeof nm, "mode_%d", bad_modes[i]);
        snprintf(fr, sizeof fr, "rope_multi: mode (%d) must be MROPE (8), VISION (24) or IMROPE (40)", bad_modes[i]);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }

    /* sections */
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_MROPE; memset(c.mp.sections, 0, sizeof c.mp.sections);
    fail_call(cx, &c, "sections_zero/mrope", INV, "rope_multi: sections [0,0,0,0] must sum to at least 1", NULL);
    call_default(cx, M, &c); memset(c.mp.sections, 0, sizeof c.mp.sections);
    fail_call(cx, &c, "sections_zero/imrope", INV, "rope_multi: sections [0,0,0,0] must sum to at least 1", NULL);

    /* VISION rules */
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION; c.mp.rope_dim = 4;
    c.mp.sections[0] = 2; c.mp.sections[1] = 2; c.mp.sections[2] = 0;
    fail_call(cx, &c, "vision/rope_dim_lt_head_dim", INV, "rope_multi: VISION needs rope_dim (4) == head_dim (8)", NULL);
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION;
    c.mp.head_dim = 4; c.mp.rope_dim = 4; c.mp.sections[0] = 4; c.mp.sections[1] = 4; c.mp.sections[2] = 0;
    put(&c.in, mk3(cx->dev, MLXN_F32, 3, 2, 4));
    put(&c.out, mk3(cx->dev, MLXN_F32, 3, 2, 4));
    fail_call(cx, &c, "vision/sections_4_4_head_4", INV,
              "rope_multi: VISION needs sections[0] + sections[1] (4 + 4) == head_dim/2 (2)", NULL);
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION;
    c.mp.sections[0] = 1; c.mp.sections[1] = 2; c.mp.sections[2] = 1; /* total 4, but s0+s1 = 3 */
    fail_call(cx, &c, "vision/sections_1_2_1", INV, "VISION needs sections[0] + sections[1] (1 + 2) == head_dim/2 (4)",
              NULL);
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION;
    c.mp.sections[0] = 0; c.mp.sections[1] = 0; c.mp.sections[2] = 4;
    fail_call(cx, &c, "vision/sections_0_0_4", INV, "VISION needs sections[0] + sections[1] (0 + 0) == head_dim/2 (4)",
              NULL);
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION; /* s0 + s1 wraps to 4 in 32 bits */
    c.mp.sections[0] = 0xFFFFFFFFu; c.mp.sections[1] = 5; c.mp.sections[2] = 0;
    fail_call(cx, &c, "vision/sections_wrap32", INV,
              "VISION needs sections[0] + sections[1] (4294967295 + 5) == head_dim/2 (4)", NULL);

    /* element counts */
    call_default(cx, M, &c); put(&c.in, mk3(cx->dev, MLXN_F32, 3, 2, 6));
    fail_call(cx, &c, "input_count", INV,
              "rope_multi: input has 36 elements, expected seq_len*n_heads*head_dim = 48", NULL);
    call_default(cx, M, &c); put(&c.out, mk3(cx->dev, MLXN_F32, 4, 2, 8));
    fail_call(cx, &c, "output_count", INV,
              "rope_multi: output has 64 elements, expected seq_len*n_heads*head_dim = 48", NULL);
    call_default(cx, M, &c); c.mp.n_heads = 3;
    fail_call(cx, &c, "params_vs_buffers", INV, "rope_multi: input has 48 elements, expected", "= 72", NULL);

    /* dtypes */
    call_default(cx, M, &c); put(&c.out, mk3(cx->dev, MLXN_F16, 3, 2, 8));
    fail_call(cx, &c, "dtype_f32_to_f16", INV, "rope_multi: output dtype (f16) must equal input dtype (f32)", NULL);
    call_default(cx, M, &c); put(&c.in, mk3(cx->dev, MLXN_BF16, 3, 2, 8));
    fail_call(cx, &c, "dtype_bf16_to_f32", INV, "rope_multi: output dtype (f32) must equal input dtype (bf16)", NULL);
    call_default(cx, M, &c);
    put(&c.in, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    put(&c.out, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    fail_call(cx, &c, "dtype_i32", UNS, "rope_multi: dtype i32 is not supported (f32, f16, bf16)", NULL);
    call_default(cx, M, &c);
    put(&c.in, mk3(cx->dev, MLXN_I16, 3, 2, 8));
    put(&c.out, mk3(cx->dev, MLXN_I16, 3, 2, 8));
    fail_call(cx, &c, "dtype_i16", UNS, "rope_multi: dtype i16 is not supported", NULL);

    /* positions */
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_F32, 12));
    fail_call(cx, &c, "positions_f32", INV, "rope_multi: positions dtype (f32) must be i32 or u32", NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_I64, 12));
    fail_call(cx, &c, "positions_i64", INV, "rope_multi: positions dtype (i64) must be i32 or u32", NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_I16, 24));
    fail_call(cx, &c, "positions_i16", INV, "rope_multi: positions dtype (i16) must be i32 or u32", NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_I32, 3));
    fail_call(cx, &c, "positions_text_length", INV, "rope_multi: positions has 3 elements, expected 12", NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_I32, 11));
    fail_call(cx, &c, "positions_short", INV, "rope_multi: positions has 11 elements, expected 12", NULL);
    call_default(cx, M, &c); put(&c.pos, mk1(cx->dev, MLXN_U32, 13));
    fail_call(cx, &c, "positions_long", INV, "rope_multi: positions has 13 elements, expected 12", NULL);

    /* overlaps */
    call_default(cx, M, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.in, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.out, view(c.extra[0], 4, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    fail_call(cx, &c, "overlap/input_output", INV, "rope_multi: output partially overlaps input", NULL);
    call_default(cx, M, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.in, view(c.extra[0], 64, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    fail_call(cx, &c, "overlap/output_before_input", INV, "rope_multi: output partially overlaps input", NULL);
    call_default(cx, M, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.pos, view(c.extra[0], 160, MLXN_I32, 1, (int64_t[]){12}));
    fail_call(cx, &c, "overlap/output_positions", INV, "rope_multi: output overlaps positions", NULL);

    /* seq_len*n_heads*head_dim wraps 64 bits to the buffers' 16384 elements:
       2148008 * 1073479712 * 8000 = 2^64 + 16384. Run inside a capture so that
       a library that accepts it records, but never executes, the kernel. */
    call_default(cx, M, &c);
    c.mp = (mlxn_rope_multi_params){8000, 2, 1073479712u, 2148008u, 10000.0f, MLXN_ROPE_MROPE, {1, 0, 0, 0}};
    put(&c.in, mk1(cx->dev, MLXN_F32, 16384));
    put(&c.out, mk1(cx->dev, MLXN_F32, 16384));
    put(&c.pos, mk1(cx->dev, MLXN_I32, 4 * 2148008LL));
    c.capture = true;
    fail_call(cx, &c, "numel_wraps_64bit", INV, "seq_len (2148008)", "n_heads (1073479712)", "head_dim (8000)", NULL);

    /* valid calls */
    call_default(cx, M, &c);
    ok_call(cx, &c, "valid/imrope");
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_MROPE;
    ok_call(cx, &c, "valid/mrope");
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_VISION; c.mp.sections[0] = 2; c.mp.sections[1] = 2;
    ok_call(cx, &c, "valid/vision");
    call_default(cx, M, &c); c.mp.mode = MLXN_ROPE_MROPE; c.mp.sections[0] = 0xFFFFFFFFu; c.mp.sections[1] = 1;
    ok_call(cx, &c, "valid/huge_sections");
    call_default(cx, M, &c); mlxn_buffer_free(c.out); c.out = c.in;
    ok_call(cx, &c, "valid/inplace");
}

/* ---- mlxn_vision_2d_rope -------------------------------------------------------------- */

static void v2d_cases(ctx_t *cx) {
    const op_id V = OP_V2D;
    call_t c;

    call_default(cx, V, &c); c.enc = NULL;
    fail_call(cx, &c, "null_encoder", INV, "vision_2d_rope: encoder is NULL", NULL);
    call_default(cx, V, &c); put(&c.in, NULL);
    fail_call(cx, &c, "null_input", INV, "vision_2d_rope: input is NULL", NULL);
    call_default(cx, V, &c); put(&c.out, NULL);
    fail_call(cx, &c, "null_output", INV, "vision_2d_rope: output is NULL", NULL);
    call_default(cx, V, &c); put(&c.pos, NULL);
    fail_call(cx, &c, "null_pos_x", INV, "vision_2d_rope: pos_x is NULL", NULL);
    call_default(cx, V, &c); put(&c.aux, NULL);
    fail_call(cx, &c, "null_pos_y", INV, "vision_2d_rope: pos_y is NULL", NULL);
    call_default(cx, V, &c); c.null_params = true;
    fail_call(cx, &c, "null_params", INV, "vision_2d_rope: params is NULL", NULL);

    const char *oname = mlxn_device_name(cx->other);
    call_default(cx, V, &c); put(&c.in, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/input", INV, "vision_2d_rope: input lives on device '", oname, NULL);
    call_default(cx, V, &c); put(&c.out, mk3(cx->other, MLXN_F32, 3, 2, 8));
    fail_call(cx, &c, "other_device/output", INV, "vision_2d_rope: output lives on device '", oname, NULL);
    call_default(cx, V, &c); put(&c.pos, mk1(cx->other, MLXN_I32, 3));
    fail_call(cx, &c, "other_device/pos_x", INV, "vision_2d_rope: pos_x lives on device '", oname, NULL);
    call_default(cx, V, &c); put(&c.aux, mk1(cx->other, MLXN_I32, 3));
    fail_call(cx, &c, "other_device/pos_y", INV, "vision_2d_rope: pos_y lives on device '", oname, NULL);

    call_default(cx, V, &c); c.vp.head_dim = 0;
    fail_call(cx, &c, "head_dim_0", INV, "vision_2d_rope: head_dim (0), n_heads (2) and seq_len (3) must be > 0", NULL);
    call_default(cx, V, &c); c.vp.n_heads = 0;
    fail_call(cx, &c, "n_heads_0", INV, "n_heads (0)", "must be > 0", NULL);
    call_default(cx, V, &c); c.vp.seq_len = 0;
    fail_call(cx, &c, "seq_len_0", INV, "seq_len (0) must be > 0", NULL);
    static const uint32_t bad_hd[] = {6, 2, 10, 7};
    for (size_t i = 0; i < sizeof bad_hd / sizeof bad_hd[0]; i++) {
        char nm[64], fr[96];
        call_default(cx, V, &c);
        c.vp.head_dim = bad_hd[i];
        snprintf(nm, sizeof nm, "head_dim_%u", bad_hd[i]);
        snprintf(fr, sizeof fr, "vision_2d_rope: head_dim (%u) must be a multiple of 4", bad_hd[i]);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }
    call_default(cx, V, &c); c.vp.head_dim = MLXN_ROPE_MAX_HEAD_DIM + 4;
    fail_call(cx, &c, "head_dim_too_large", INV, "vision_2d_rope: head_dim (8196) must be <= 8192", NULL);
    call_default(cx, V, &c); c.vp.n_heads = 0x80000000u;
    fail_call(cx, &c, "n_heads_too_large", INV, "n_heads (2147483648)", NULL);

    static const struct { float v; const char *s; } badf[] = {
        {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {0.0f, "0"}, {-1.0f, "-1"}};
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        char nm[64], fr[96];
        call_default(cx, V, &c);
        c.vp.theta = badf[i].v;
        snprintf(nm, sizeof nm, "theta_%s", badf[i].s);
        snprintf(fr, sizeof fr, "vision_2d_rope: theta (%s) must be finite and > 0", badf[i].s);
        fail_call(cx, &c, nm, INV, fr, NULL);
    }

    call_default(cx, V, &c); put(&c.in, mk3(cx->dev, MLXN_F32, 3, 2, 4));
    fail_call(cx, &c, "input_count", INV,
              "vision_2d_rope: input has 24 elements, expected seq_len*n_heads*head_dim = 48", NULL);
    call_default(cx, V, &c); put(&c.out, mk3(cx->dev, MLXN_F32, 4, 2, 8));
    fail_call(cx, &c, "output_count", INV, "vision_2d_rope: output has 64 elements, input 48", NULL);

    call_default(cx, V, &c); put(&c.pos, mk1(cx->dev, MLXN_F32, 3));
    fail_call(cx, &c, "pos_x_f32", INV, "vision_2d_rope: pos_x dtype (f32) must be i32 or u32", NULL);
    call_default(cx, V, &c); put(&c.aux, mk1(cx->dev, MLXN_I64, 3));
    fail_call(cx, &c, "pos_y_i64", INV, "vision_2d_rope: pos_y dtype (i64) must be i32 or u32", NULL);
    call_default(cx, V, &c); put(&c.pos, mk1(cx->dev, MLXN_I32, 2));
    fail_call(cx, &c, "pos_x_short", INV, "vision_2d_rope: pos_x has 2 elements, expected 3", NULL);
    call_default(cx, V, &c); put(&c.aux, mk1(cx->dev, MLXN_I32, 4));
    fail_call(cx, &c, "pos_y_long", INV, "vision_2d_rope: pos_y has 4 elements, expected 3", NULL);
    call_default(cx, V, &c); put(&c.aux, mk1(cx->dev, MLXN_U32, 3));
    fail_call(cx, &c, "pos_dtypes_differ", INV, "vision_2d_rope: pos_x (i32) and pos_y (u32) must have the same dtype",
              NULL);

    call_default(cx, V, &c); put(&c.out, mk3(cx->dev, MLXN_F16, 3, 2, 8));
    fail_call(cx, &c, "dtype_f32_to_f16", INV, "vision_2d_rope: output dtype (f16) must equal input dtype (f32)", NULL);
    call_default(cx, V, &c);
    put(&c.in, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    put(&c.out, mk3(cx->dev, MLXN_I32, 3, 2, 8));
    fail_call(cx, &c, "dtype_i32", UNS, "vision_2d_rope: dtype i32 is not supported (f32, f16, bf16)", NULL);

    call_default(cx, V, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 64);
    put(&c.in, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.out, view(c.extra[0], 32, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    fail_call(cx, &c, "overlap/input_output", INV, "vision_2d_rope: output partially overlaps input", NULL);
    call_default(cx, V, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 48);
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.pos, view(c.extra[0], 8, MLXN_I32, 1, (int64_t[]){3}));
    /* the library words this "output overlaps positions" (the argument is pos_x) */
    fail_call(cx, &c, "overlap/output_pos_x", INV, "vision_2d_rope: output overlaps pos", NULL);
    call_default(cx, V, &c);
    c.extra[0] = mk1(cx->dev, MLXN_F32, 48);
    put(&c.out, view(c.extra[0], 0, MLXN_F32, 3, (int64_t[]){3, 2, 8}));
    put(&c.aux, view(c.extra[0], 100, MLXN_I32, 1, (int64_t[]){3}));
    fail_call(cx, &c, "overlap/output_pos_y", INV, "vision_2d_rope: output overlaps pos_y", NULL);

    /* 2148008 * 1073479712 * 8000 = 2^64 + 16384 (see rope_multi) */
    call_default(cx, V, &c);
    c.vp = (mlxn_vision_2d_rope_params){8000, 1073479712u, 2148008u, 100.0f};
    put(&c.in, mk1(cx->dev, MLXN_F32, 16384));
    put(&c.out, mk1(cx->dev, MLXN_F32, 16384));
    put(&c.pos, mk1(cx->dev, MLXN_I32, 2148008));
    put(&c.aux, mk1(cx->dev, MLXN_I32, 2148008));
    c.capture = true;
    fail_call(cx, &c, "numel_wraps_64bit", INV, "seq_len (2148008)", "n_heads (1073479712)", "head_dim (8000)", NULL);

    call_default(cx, V, &c);
    ok_call(cx, &c, "valid");
    call_default(cx, V, &c); mlxn_buffer_free(c.out); c.out = c.in;
    ok_call(cx, &c, "valid/inplace");
}

/* ---- core: buffers, views, host transfers, copies ------------------------------------ */

#define P40 ((int64_t)1 << 40)

static void buffer_cases(ctx_t *cx) {
    guard_t g;
    mlxn_buffer *b;
    mlxn_status s;
    const int64_t s2[2] = {4, 4};

    /* buffer_new: nothing allocated, *out stays NULL */
#define NEW_FAIL(nm, dev_, dt, nd, shp, want, ...)                                   \
    do {                                                                           \
        b = NULL;                                                                  \
        guard_begin(&g, cx->dev, NULL, 0);                                         \
        mlxn_clear_error();                                                        \
        s = mlxn_buffer_new(dev_, dt, nd, shp, &b);                                \
        expect(cx, &g, nm, s, out_left(b), want, "buffer_new", __VA_ARGS__, NULL); \
        mlxn_buffer_free(b);                                                       \
    } while (0)
    guard_begin(&g, cx->dev, NULL, 0);
    mlxn_clear_error();
    s = mlxn_buffer_new(cx->dev, MLXN_F32, 2, s2, NULL);
    expect(cx, &g, "buffer_new/null_out", s, NULL, INV, "buffer_new", "buffer_new: out is NULL", NULL);
    NEW_FAIL("buffer_new/null_device", NULL, MLXN_F32, 2, s2, INV, "buffer_new: device is NULL");
    NEW_FAIL("buffer_new/dtype_99", cx->dev, (mlxn_dtype)99, 2, s2, INV, "buffer_new: invalid dtype 99");
    NEW_FAIL("buffer_new/dtype_-1", cx->dev, (mlxn_dtype)-1, 2, s2, INV, "buffer_new: invalid dtype -1");
    NEW_FAIL("buffer_new/ndim_-1", cx->dev, MLXN_F32, -1, s2, INV, "buffer_new: ndim (-1) must be in [0, 8]");
    NEW_FAIL("buffer_new/ndim_9", cx->dev, MLXN_F32, 9, ((int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}), INV,
             "buffer_new: ndim (9) must be in [0, 8]");
    NEW_FAIL("buffer_new/null_shape", cx->dev, MLXN_F32, 2, NULL, INV, "buffer_new: shape is NULL");
    NEW_FAIL("buffer_new/zero_dim", cx->dev, MLXN_F32, 2, ((int64_t[]){4, 0}), INV,
             "buffer_new: shape[1] (0) must be >= 1");
    NEW_FAIL("buffer_new/negative_dim", cx->dev, MLXN_F32, 1, ((int64_t[]){-3}), INV,
             "buffer_new: shape[0] (-3) must be >= 1");
    NEW_FAIL("buffer_new/overflow_2^40x2^40", cx->dev, MLXN_F32, 2, ((int64_t[]){P40, P40}), INV,
             "buffer_new: shape too large (dim 1 = 1099511627776 overflows)");
    NEW_FAIL("buffer_new/overflow_2^31x2^31", cx->dev, MLXN_F32, 2, ((int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31}),
             INV, "buffer_new: shape too large (dim 1 = 2147483648 overflows)");
    NEW_FAIL("buffer_new/overflow_bytes_2^63", cx->dev, MLXN_F32, 1, ((int64_t[]){(int64_t)1 << 61}), INV,
             "buffer_new: shape too large (dim 0 = 2305843009213693952 overflows)");
    NEW_FAIL("buffer_new/overflow_int64_max", cx->dev, MLXN_U8, 1, ((int64_t[]){INT64_MAX}), INV,
             "buffer_new: shape too large (dim 0 = 9223372036854775807 overflows)");
    NEW_FAIL("buffer_new/overflow_8x256", cx->dev, MLXN_U8, 8, ((int64_t[]){256, 256, 256, 256, 256, 256, 256, 256}),
             INV, "buffer_new: shape too large (dim 7 = 256 overflows)");
#undef NEW_FAIL
    {
        mlxn_buffer *sc = NULL;
        s = mlxn_buffer_new(cx->dev, MLXN_F32, 0, NULL, &sc);
        float v = 1.0f;
        bool ok = s == MLXN_OK && mlxn_buffer_numel(sc) == 1 && mlxn_buffer_read(sc, &v, 4) == MLXN_OK && v == 0.0f;
        expect_ok(cx, "buffer_new/valid_scalar_zero_filled", ok, "%s", mlxn_last_error());
        mlxn_buffer_free(sc);
    }

    /* buffer_view: the base is guarded, *out stays NULL */
    mlxn_buffer *base = mk1(cx->dev, MLXN_F32, 16); /* 64 bytes */
    mlxn_buffer *mid = view(base, 16, MLXN_F32, 1, (int64_t[]){8});  /* bytes [16, 48) */
    mlxn_buffer *odd = view(base, 1, MLXN_U8, 1, (int64_t[]){8});    /* absolute offset 1 */
#define VIEW_FAIL(nm, base_, off, dt, nd, shp, ...)                                          \
    do {                                                                                  \
        b = NULL;                                                                         \
        guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);                             \
        mlxn_clear_error();                                                               \
        s = mlxn_buffer_view(base_, off, dt, nd, shp, &b);                                \
        expect(cx, &g, nm, s, out_left(b), INV, "buffer_view", __VA_ARGS__, NULL);       \
        mlxn_buffer_free(b);                                                              \
    } while (0)
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);
    mlxn_clear_error();
    s = mlxn_buffer_view(base, 0, MLXN_F32, 1, (int64_t[]){4}, NULL);
    expect(cx, &g, "buffer_view/null_out", s, NULL, INV, "buffer_view", "buffer_view: out is NULL", NULL);
    VIEW_FAIL("buffer_view/null_base", NULL, 0, MLXN_F32, 1, ((int64_t[]){4}), "buffer_view: base is NULL");
    VIEW_FAIL("buffer_view/dtype_99", base, 0, (mlxn_dtype)99, 1, ((int64_t[]){4}), "buffer_view: invalid dtype 99");
    VIEW_FAIL("buffer_view/ndim_9", base, 0, MLXN_F32, 9, ((int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}),
              "buffer_view: ndim (9) must be in [0, 8]");
    VIEW_FAIL("buffer_view/null_shape", base, 0, MLXN_F32, 1, NULL, "buffer_view: shape is NULL");
    VIEW_FAIL("buffer_view/zero_dim", base, 0, MLXN_F32, 2, ((int64_t[]){2, 0}), "buffer_view: shape[1] (0) must be >= 1");
    VIEW_FAIL("buffer_view/overflow", base, 0, MLXN_F32, 2, ((int64_t[]){P40, P40}),
              "buffer_view: shape too large (dim 1 = 1099511627776 overflows)");
    VIEW_FAIL("buffer_view/too_long", base, 0, MLXN_F32, 1, ((int64_t[]){17}),
              "buffer_view: view [0, 0 + 68) exceeds the base view of 64 bytes");
    VIEW_FAIL("buffer_view/shifted_past_end", base, 4, MLXN_F32, 1, ((int64_t[]){16}),
              "buffer_view: view [4, 4 + 64) exceeds the base view of 64 bytes");
    VIEW_FAIL("buffer_view/at_end", base, 64, MLXN_F32, 0, NULL,
              "buffer_view: view [64, 64 + 4) exceeds the base view of 64 bytes");
    VIEW_FAIL("buffer_view/offset_beyond", base, 100, MLXN_U8, 1, ((int64_t[]){1}),
              "buffer_view: view [100, 100 + 1) exceeds the base view of 64 bytes");
    VIEW_FAIL("buffer_view/offset_size_max", base, SIZE_MAX, MLXN_U8, 1, ((int64_t[]){1}),
              "buffer_view: view [18446744073709551615, 18446744073709551615 + 1) exceeds the base view of 64 bytes");
    VIEW_FAIL("buffer_view/of_view_too_long", mid, 4, MLXN_F32, 1, ((int64_t[]){8}),
              "buffer_view: view [4, 4 + 32) exceeds the base view of 32 bytes");
    VIEW_FAIL("buffer_view/misaligned_f32", base, 2, MLXN_F32, 1, ((int64_t[]){4}),
              "buffer_view: byte offset 2 is not aligned to the f32 element size 4");
    VIEW_FAIL("buffer_view/misaligned_f16", base, 1, MLXN_F16, 1, ((int64_t[]){4}),
              "buffer_view: byte offset 1 is not aligned to the f16 element size 2");
    VIEW_FAIL("buffer_view/misaligned_i64", base, 4, MLXN_I64, 1, ((int64_t[]){2}),
              "buffer_view: byte offset 4 is not aligned to the i64 element size 8");
    VIEW_FAIL("buffer_view/misaligned_through_base", odd, 0, MLXN_F32, 1, ((int64_t[]){1}),
              "buffer_view: byte offset 1 is not aligned to the f32 element size 4");
#undef VIEW_FAIL
    {
        mlxn_buffer *v1 = NULL, *v2 = NULL;
        bool ok = mlxn_buffer_view(base, 60, MLXN_F32, 0, NULL, &v1) == MLXN_OK &&
                  mlxn_buffer_view(mid, 0, MLXN_BF16, 2, (int64_t[]){4, 4}, &v2) == MLXN_OK &&
                  mlxn_buffer_offset(v1) == 60 && mlxn_buffer_offset(v2) == 16 && mlxn_buffer_nbytes(v2) == 32;
        expect_ok(cx, "buffer_view/valid_last_element_and_reinterpret", ok, "%s", mlxn_last_error());
        mlxn_buffer_free(v1);
        mlxn_buffer_free(v2);
    }

    /* buffer_write: the target (and the whole storage around a view) unchanged */
    unsigned char host[128];
    memset(host, 0x3C, sizeof host);
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);
    mlxn_clear_error();
    s = mlxn_buffer_write(NULL, host, 64);
    expect(cx, &g, "buffer_write/null_buffer", s, NULL, INV, "buffer_write", "buffer_write: buffer is NULL", NULL);
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);
    mlxn_clear_error();
    s = mlxn_buffer_write(base, NULL, 64);
    expect(cx, &g, "buffer_write/null_src", s, NULL, INV, "buffer_write", "buffer_write: src is NULL", NULL);
    static const size_t bad_n[] = {0, 63, 65, 128};
    for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
        char nm[64], fr[96];
        snprintf(nm, sizeof nm, "buffer_write/nbytes_%zu", bad_n[i]);
        snprintf(fr, sizeof fr, "buffer_write: nbytes (%zu) must equal the view's 64 bytes", bad_n[i]);
        guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);
        mlxn_clear_error();
        s = mlxn_buffer_write(base, host, bad_n[i]);
        expect(cx, &g, nm, s, NULL, INV, "buffer_write", fr, NULL);
    }
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){base}, 1);
    mlxn_clear_error();
    s = mlxn_buffer_write(mid, host, 64);
    expect(cx, &g, "buffer_write/view_nbytes", s, NULL, INV, "buffer_write",
           "buffer_write: nbytes (64) must equal the view's 32 bytes", NULL);

    /* buffer_read: the host destination unchanged */
    static const struct { const char *nm; int which; size_t n; const char *fr; } rd[] = {
        {"buffer_read/null_buffer", 0, 64, "buffer_read: buffer is NULL"},
        {"buffer_read/null_dst", 1, 64, "buffer_read: dst is NULL"},
        {"buffer_read/nbytes_65", 2, 65, "buffer_read: nbytes (65) must equal the view's 64 bytes"},
        {"buffer_read/nbytes_0", 2, 0, "buffer_read: nbytes (0) must equal the view's 64 bytes"},
        {"buffer_read/view_nbytes", 3, 64, "buffer_read: nbytes (64) must equal the view's 32 bytes"},
    };
    for (size_t i = 0; i < sizeof rd / sizeof rd[0]; i++) {
        unsigned char ref[128];
        memset(host, 0x5A, sizeof host);
        memcpy(ref, host, sizeof ref);
        guard_begin(&g, cx->dev, NULL, 0);
        mlxn_clear_error();
        s = rd[i].which == 0   ? mlxn_buffer_read(NULL, host, rd[i].n)
            : rd[i].which == 1 ? mlxn_buffer_read(base, NULL, rd[i].n)
            : rd[i].which == 2 ? mlxn_buffer_read(base, host, rd[i].n)
                               : mlxn_buffer_read(mid, host, rd[i].n);
        bool same = !memcmp(ref, host, sizeof ref); /* no mlxn call: the message stays */
        expect(cx, &g, rd[i].nm, s, same ? NULL : "the host destination was written", INV, "buffer_read", rd[i].fr,
               NULL);
    }

    /* buffer_copy: dst (and src) unchanged */
    mlxn_buffer *src = mk1(cx->dev, MLXN_F32, 16), *dst = mk1(cx->dev, MLXN_F32, 16);
    mlxn_buffer *osrc = mk1(cx->other, MLXN_F32, 16), *odst = mk1(cx->other, MLXN_F32, 16);
    mlxn_buffer *short_dst = mk1(cx->dev, MLXN_F32, 15);
    mlxn_buffer *ov = mk1(cx->dev, MLXN_F32, 32);
    mlxn_buffer *ov_a = view(ov, 0, MLXN_F32, 1, (int64_t[]){16}), *ov_b = view(ov, 32, MLXN_F32, 1, (int64_t[]){16});
    const char *oname = mlxn_device_name(cx->other);
#define COPY_FAIL(nm, e_, s_, d_, ...)                                                   \
    do {                                                                             \
        guard_begin(&g, cx->dev, (mlxn_buffer *[]){d_, s_}, 2);                      \
        mlxn_clear_error();                                                          \
        s = mlxn_buffer_copy(e_, s_, d_);                                            \
        expect(cx, &g, nm, s, NULL, INV, "buffer_copy", __VA_ARGS__, NULL);          \
    } while (0)
    COPY_FAIL("buffer_copy/null_encoder", NULL, src, dst, "buffer_copy: encoder is NULL");
    COPY_FAIL("buffer_copy/null_src", cx->enc, NULL, dst, "buffer_copy: src is NULL");
    COPY_FAIL("buffer_copy/null_dst", cx->enc, src, NULL, "buffer_copy: dst is NULL");
    COPY_FAIL("buffer_copy/other_device_src", cx->enc, osrc, dst, "buffer_copy: src lives on device '", oname);
    COPY_FAIL("buffer_copy/other_device_dst", cx->enc, src, odst, "buffer_copy: dst lives on device '", oname);
    COPY_FAIL("buffer_copy/nbytes", cx->enc, src, short_dst, "buffer_copy: src has 64 bytes, dst 60");
    COPY_FAIL("buffer_copy/partial_overlap", cx->enc, ov_a, ov_b, "buffer_copy: src and dst overlap");
#undef COPY_FAIL
    {
        mlxn_buffer *idst = mk1(cx->dev, MLXN_I32, 16);
        float fv[16];
        int32_t iv[16];
        for (int i = 0; i < 16; i++) fv[i] = 0.5f + (float)i;
        s = mlxn_buffer_write(src, fv, sizeof fv);
        if (!s) s = mlxn_buffer_copy(cx->enc, src, idst);
        if (!s) s = mlxn_encoder_wait(cx->enc);
        if (!s) s = mlxn_buffer_read(idst, iv, sizeof iv);
        expect_ok(cx, "buffer_copy/valid_raw_bytes_f32_to_i32", s == MLXN_OK && !memcmp(fv, iv, sizeof fv), "%s",
                  s ? mlxn_last_error() : "");
        mlxn_buffer_free(idst);
    }
    mlxn_buffer_free(ov_a);
    mlxn_buffer_free(ov_b);
    mlxn_buffer_free(ov);
    mlxn_buffer_free(short_dst);
    mlxn_buffer_free(osrc);
    mlxn_buffer_free(odst);
    mlxn_buffer_free(src);
    mlxn_buffer_free(dst);
    mlxn_buffer_free(odd);
    mlxn_buffer_free(mid);
    mlxn_buffer_free(base);
}

/* ---- core: encoders, capture, graphs, timers ---------------------------------------- */

static void encoder_cases(ctx_t *cx) {
    guard_t g;
    mlxn_status s;
    mlxn_encoder *e = NULL;
    mlxn_graph *gr = NULL;

    guard_begin(&g, cx->dev, NULL, 0);
    mlxn_clear_error();
    s = mlxn_encoder_new(cx->dev, NULL);
    expect(cx, &g, "encoder_new/null_out", s, NULL, INV, "encoder_new", "encoder_new: out is NULL", NULL);
    guard_begin(&g, cx->dev, NULL, 0);
    mlxn_clear_error();
    s = mlxn_encoder_new(NULL, &e);
    expect(cx, &g, "encoder_new/null_device", s, out_left(e), INV, "encoder_new", "encoder_new: device is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_barrier(NULL);
    expect(cx, NULL, "encoder_barrier/null", s, NULL, INV, "encoder_barrier", "encoder_barrier: encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_commit(NULL);
    expect(cx, NULL, "encoder_commit/null", s, NULL, INV, "encoder_commit", "encoder_commit: encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_wait(NULL);
    expect(cx, NULL, "encoder_wait/null", s, NULL, INV, "encoder_wait", "encoder_wait: encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_begin_capture(NULL);
    expect(cx, NULL, "encoder_begin_capture/null", s, NULL, INV, "encoder_begin_capture",
           "encoder_begin_capture: encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_end_capture(NULL, &gr);
    expect(cx, NULL, "encoder_end_capture/null", s, out_left(gr), INV, "encoder_end_capture",
           "encoder_end_capture: encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_end_capture(cx->enc, &gr);
    expect(cx, NULL, "encoder_end_capture/not_capturing", s, out_left(gr), INV, "encoder_end_capture",
           "encoder_end_capture: the encoder is not capturing", NULL);

    if (mlxn_encoder_begin_capture(cx->enc) != MLXN_OK) setup_fail("begin_capture");
    mlxn_clear_error();
    s = mlxn_encoder_begin_capture(cx->enc);
    expect(cx, NULL, "encoder_begin_capture/twice", s, NULL, INV, "encoder_begin_capture",
           "encoder_begin_capture: the encoder is already capturing", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_wait(cx->enc);
    expect(cx, NULL, "encoder_wait/while_capturing", s, NULL, INV, "encoder_wait",
           "encoder_wait: the encoder is capturing; end the capture first", NULL);
    mlxn_clear_error();
    s = mlxn_encoder_end_capture(cx->enc, NULL);
    expect(cx, NULL, "encoder_end_capture/null_out", s, NULL, INV, "encoder_end_capture",
           "encoder_end_capture: out is NULL", NULL);
    s = mlxn_encoder_wait(cx->enc); /* the failed end_capture still ended the capture */
    expect_ok(cx, "encoder_end_capture/null_out_ends_capture", s == MLXN_OK, "%s", s ? mlxn_last_error() : "");

    /* graphs: a captured copy src -> dst; failed launches leave dst as it was */
    mlxn_buffer *src = mk1(cx->dev, MLXN_F32, 16), *dst = mk1(cx->dev, MLXN_F32, 16);
    mlxn_encoder *oenc = NULL;
    if (mlxn_encoder_new(cx->other, &oenc) != MLXN_OK) setup_fail("encoder_new (other)");
    if (mlxn_encoder_begin_capture(cx->enc) != MLXN_OK || mlxn_buffer_copy(cx->enc, src, dst) != MLXN_OK ||
        mlxn_encoder_end_capture(cx->enc, &gr) != MLXN_OK)
        setup_fail("capture");
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){dst, src}, 2);
    mlxn_clear_error();
    s = mlxn_graph_launch(NULL, cx->enc);
    expect(cx, &g, "graph_launch/null_graph", s, NULL, INV, "graph_launch", "graph_launch: graph is NULL", NULL);
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){dst, src}, 2);
    mlxn_clear_error();
    s = mlxn_graph_launch(gr, NULL);
    expect(cx, &g, "graph_launch/null_encoder", s, NULL, INV, "graph_launch", "graph_launch: encoder is NULL", NULL);
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){dst, src}, 2);
    mlxn_clear_error();
    s = mlxn_graph_launch(gr, oenc);
    {
        char fr1[256], fr2[256];
        snprintf(fr1, sizeof fr1, "graph of device '%s'", mlxn_device_name(cx->dev));
        snprintf(fr2, sizeof fr2, "encoder of '%s'", mlxn_device_name(cx->other));
        expect(cx, &g, "graph_launch/other_device_encoder", s, NULL, INV, "graph_launch", fr1, fr2, NULL);
    }
    guard_begin(&g, cx->dev, (mlxn_buffer *[]){dst, src}, 2);
    if (mlxn_encoder_begin_capture(cx->enc) != MLXN_OK) setup_fail("begin_capture");
    mlxn_clear_error();
    s = mlxn_graph_launch(gr, cx->enc);
    {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mlxn_last_error());
        mlxn_graph *inner = NULL;
        mlxn_status se = mlxn_encoder_end_capture(cx->enc, &inner);
        size_t n_inner = mlxn_graph_size(inner);
        mlxn_graph_free(inner);
        char why[160] = "";
        bool gok = guard_end(&g, why, sizeof why);
        bool ok = s == UNS && !strcmp(msg, "graph_launch: launching a graph inside a capture is not supported") &&
                  se == MLXN_OK && n_inner == 0 && gok;
        expect_ok(cx, "graph_launch/inside_capture", ok, "status '%s' [%s] end_capture '%s' recorded %zu %s",
                  mlxn_status_str(s), msg, mlxn_status_str(se), n_inner, why);
    }
    {
        /* the same graph launched properly copies src into dst */
        size_t n = mlxn_buffer_nbytes(src);
        unsigned char *a = malloc(n), *b = malloc(n);
        s = mlxn_buffer_read(src, a, n);
        if (!s) s = mlxn_graph_launch(gr, cx->enc);
        if (!s) s = mlxn_encoder_wait(cx->enc);
        if (!s) s = mlxn_buffer_read(dst, b, n);
        expect_ok(cx, "graph_launch/valid", s == MLXN_OK && !memcmp(a, b, n) && mlxn_graph_size(gr) == 1, "%s",
                  s ? mlxn_last_error() : "");
        free(a);
        free(b);
    }
    /* a rejected op is not recorded into a capture */
    {
        call_t c;
        call_default(cx, OP_MULTI, &c);
        c.mp.rope_dim = 96;
        c.mp.head_dim = 64;
        mlxn_graph *g2 = NULL;
        if (mlxn_encoder_begin_capture(cx->enc) != MLXN_OK) setup_fail("begin_capture");
        s = call_run(&c);
        mlxn_status se = mlxn_encoder_end_capture(cx->enc, &g2);
        expect_ok(cx, "capture/rejected_op_not_recorded", s == INV && se == MLXN_OK && mlxn_graph_size(g2) == 0,
                  "op '%s' end_capture '%s' size %zu", mlxn_status_str(s), mlxn_status_str(se), mlxn_graph_size(g2));
        mlxn_graph_free(g2);
        call_free(&c);
    }
    mlxn_graph_free(gr);
    mlxn_encoder_free(oenc);
    mlxn_buffer_free(src);
    mlxn_buffer_free(dst);

    /* timers */
    mlxn_timer *t = NULL, *ot = NULL;
    double us = 0;
    mlxn_clear_error();
    s = mlxn_timer_new(cx->dev, NULL);
    expect(cx, NULL, "timer_new/null_out", s, NULL, INV, "timer_new", "timer_new: out is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_timer_new(NULL, &t);
    expect(cx, NULL, "timer_new/null_device", s, out_left(t), INV, "timer_new", "timer_new: device is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_timer_start(NULL, cx->enc);
    expect(cx, NULL, "timer_start/null_timer", s, NULL, INV, "timer_start", "timer_start: timer or encoder is NULL",
           NULL);
    if (mlxn_timer_new(cx->other, &ot) != MLXN_OK) setup_fail("timer_new");
    mlxn_clear_error();
    s = mlxn_timer_stop(ot, NULL);
    expect(cx, NULL, "timer_stop/null_encoder", s, NULL, INV, "timer_stop", "timer_stop: timer or encoder is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_timer_start(ot, cx->enc);
    expect(cx, NULL, "timer_start/other_device", s, NULL, INV, "timer_start", "timer on '",
           NULL);
    mlxn_clear_error();
    s = mlxn_timer_elapsed_us(NULL, &us);
    expect(cx, NULL, "timer_elapsed_us/null_timer", s, NULL, INV, "timer_elapsed_us",
           "timer_elapsed_us: timer or us is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_timer_elapsed_us(ot, NULL);
    expect(cx, NULL, "timer_elapsed_us/null_us", s, NULL, INV, "timer_elapsed_us",
           "timer_elapsed_us: timer or us is NULL", NULL);
    mlxn_timer_free(ot);
}

/* ---- core: pools and devices ---------------------------------------------------------- */

static void pool_device_cases(ctx_t *cx) {
    guard_t g;
    mlxn_status s;
    mlxn_pool *pool = NULL;
    mlxn_buffer *b = NULL;

    guard_begin(&g, cx->dev, NULL, 0);
    mlxn_clear_error();
    s = mlxn_pool_new(cx->dev, NULL);
    expect(cx, &g, "pool_new/null_out", s, NULL, INV, "pool_new", "pool_new: out is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_pool_new(NULL, &pool);
    expect(cx, NULL, "pool_new/null_device", s, out_left(pool), INV, "pool_new", "pool_new: device is NULL", NULL);
    if (mlxn_pool_new(cx->dev, &pool) != MLXN_OK) setup_fail("pool_new");
    mlxn_buffer *warm = NULL; /* one storage in use, so stats are non-trivial */
    if (mlxn_pool_alloc(pool, MLXN_F32, 1, (int64_t[]){16}, &warm) != MLXN_OK) setup_fail("pool_alloc");

#define POOL_FAIL(nm, pool_, dt, nd, shp, ...)                                              \
    do {                                                                                 \
        mlxn_pool_stats st0, st1;                                                        \
        mlxn_pool_get_stats(pool, &st0);                                                 \
        b = NULL;                                                                        \
        guard_begin(&g, cx->dev, NULL, 0);                                               \
        mlxn_clear_error();                                                              \
        s = mlxn_pool_alloc(pool_, dt, nd, shp, &b);                                     \
        char m_[1024];                                                                   \
        snprintf(m_, sizeof m_, "%s", mlxn_last_error());                                \
        mlxn_pool_get_stats(pool, &st1);                                                 \
        const char *x_ = b ? "*out is not NULL after the failure"                        \
                         : memcmp(&st0, &st1, sizeof st0) ? "the pool's stats changed" : NULL; \
        expect_msg(cx, &g, nm, s, m_, x_, INV, "pool_alloc", __VA_ARGS__, NULL);          \
        mlxn_buffer_free(b);                                                             \
    } while (0)
    guard_begin(&g, cx->dev, NULL, 0);
    mlxn_clear_error();
    s = mlxn_pool_alloc(pool, MLXN_F32, 1, (int64_t[]){4}, NULL);
    expect(cx, &g, "pool_alloc/null_out", s, NULL, INV, "pool_alloc", "pool_alloc: out is NULL", NULL);
    POOL_FAIL("pool_alloc/null_pool", NULL, MLXN_F32, 1, ((int64_t[]){4}), "pool_alloc: pool is NULL");
    POOL_FAIL("pool_alloc/dtype_99", pool, (mlxn_dtype)99, 1, ((int64_t[]){4}), "pool_alloc: invalid dtype 99");
    POOL_FAIL("pool_alloc/ndim_9", pool, MLXN_F32, 9, ((int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}),
              "pool_alloc: ndim (9) must be in [0, 8]");
    POOL_FAIL("pool_alloc/null_shape", pool, MLXN_F32, 2, NULL, "pool_alloc: shape is NULL");
    POOL_FAIL("pool_alloc/zero_dim", pool, MLXN_F32, 2, ((int64_t[]){3, 0}), "pool_alloc: shape[1] (0) must be >= 1");
    POOL_FAIL("pool_alloc/overflow", pool, MLXN_F32, 2, ((int64_t[]){P40, P40}),
              "pool_alloc: shape too large (dim 1 = 1099511627776 overflows)");
#undef POOL_FAIL
    s = mlxn_pool_alloc(pool, MLXN_F16, 2, (int64_t[]){3, 5}, &b);
    expect_ok(cx, "pool_alloc/valid", s == MLXN_OK && b && mlxn_buffer_nbytes(b) == 30, "%s",
              s ? mlxn_last_error() : "");
    mlxn_buffer_free(b);
    mlxn_buffer_free(warm);
    mlxn_pool_free(pool);

    /* devices */
    mlxn_backend bk = mlxn_device_backend(cx->dev);
    const char *vt = bk == MLXN_BACKEND_CPU ? "cpu" : "cuda";
    int count = mlxn_device_count(bk);
    mlxn_device *d = NULL;
    mlxn_clear_error();
    s = mlxn_device_open(bk, 0, NULL);
    expect(cx, NULL, "device_open/null_out", s, NULL, INV, "device_open", "device_open: out is NULL", NULL);
    mlxn_clear_error();
    s = mlxn_device_open((mlxn_backend)7, 0, &d);
    expect(cx, NULL, "device_open/backend_7", s, out_left(d), INV, "device_open", "device_open: unknown backend 7",
           NULL);
    mlxn_device_close(d);
    d = NULL;
    mlxn_clear_error();
    s = mlxn_device_open((mlxn_backend)-1, 0, &d);
    expect(cx, NULL, "device_open/backend_-1", s, out_left(d), INV, "device_open", "device_open: unknown backend -1",
           NULL);
    mlxn_device_close(d);
    d = NULL;
    {
        char fr[128];
        snprintf(fr, sizeof fr, "device_open: %s device -1 does not exist (%d present)", vt, count);
        mlxn_clear_error();
        s = mlxn_device_open(bk, -1, &d);
        expect(cx, NULL, "device_open/index_-1", s, out_left(d), NFD, "device_open", fr, NULL);
        mlxn_device_close(d);
        d = NULL;
        snprintf(fr, sizeof fr, "device_open: %s device %d does not exist (%d present)", vt, count, count);
        mlxn_clear_error();
        s = mlxn_device_open(bk, count, &d);
        expect(cx, NULL, "device_open/index_count", s, out_left(d), NFD, "device_open", fr, NULL);
        mlxn_device_close(d);
        d = NULL;
        mlxn_clear_error();
        s = mlxn_device_open(bk, 1000000, &d);
        expect(cx, NULL, "device_open/index_1000000", s, out_left(d), NFD, "device_open", "device 1000000 does not exist",
               NULL);
        mlxn_device_close(d);
        d = NULL;
    }
    mlxn_clear_error();
    s = mlxn_device_synchronize(NULL);
    expect(cx, NULL, "device_synchronize/null", s, NULL, INV, "device_synchronize", "device_synchronize: device is NULL",
           NULL);
    /* two opens of CPU device 0 are two distinct devices (what the other-device cases rely on) */
    expect_ok(cx, "device_open/second_cpu_device_distinct", cx->other != cx->dev && cx->other != NULL, "%p %p",
              (void *)cx->dev, (void *)cx->other);
}

/* ---- main ----------------------------------------------------------------------------- */

static void suite(const test_env *env, report_t *rep, void *user) {
    (void)user;
    mlxn_device *other = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &other) != MLXN_OK) {
        report_case(rep, "setup/second_cpu_device", false, "%s", mlxn_last_error());
        return;
    }
    ctx_t cx = {env->dev, other, env->enc, rep, env->backend};
    rope_cases(&cx);
    multi_cases(&cx);
    v2d_cases(&cx);
    buffer_cases(&cx);
    encoder_cases(&cx);
    pool_device_cases(&cx);
    mlxn_device_close(other);
}

int main(int argc, char **argv) { return run_suite(argc, argv, "test_validation", suite, NULL); }
