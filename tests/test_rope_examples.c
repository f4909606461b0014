/* test_rope_examples.c — worked examples of the RoPE family, derived by hand
   for OUR semantics (DESIGN.md "rope_multi semantics", which follows HF
   transformers and ggml; mlxn.h for mlxn_rope and mlxn_vision_2d_rope).

   These are mlx-native's rope_multi / vision_2d_rope spec tests
   (reference/mlx-native.md §7) re-derived: mlx-native rotates the NeoX pair
   (x[p], x[p + head_dim/2]); we rotate (x[p], x[p + rope_dim/2]) and copy
   [rope_dim, head_dim) bit for bit. Every case writes its pair -> axis mapping
   and its angles as literal tables (never a loop that re-implements the
   library), computes the expected rotation with cos/sin in double, and
   compares the f32 output:
     rotated elements:    |y - expected| <= 1e-6. Inputs and outputs are O(1)
                          (|x| <= 1, |y| <= sqrt(2) * 1.07); the library rounds
                          cos/sin to f32 and rotates in f32, a few roundings of
                          relative size 6e-8 each, so its error is < 5e-7.
     pass-through elements: bit-identical to the input.
   Every output element must be covered by a table (a gap fails the case).
   Inputs are seeded random values in +-[0.1, 1] (never zero).

   Cases (numbered as in the brief / the mlx-native test list):
     1 IMROPE head 16, rope 8, base 2, sections [2,2,1,0]
     2 MROPE on the same example, and where it differs from IMROPE
     3 Qwen3.5 shape (head 256, rope 64, [11,11,10,0], base 1e7) under IMROPE
       and MROPE; pass-through of elements 64..255; determinism
     4 IMROPE with equal axes == mlxn_rope NEOX with n_dims = rope_dim
     5 VISION head 8, [2,2,0,0], base 1e4, y = [3,5], x = [7,11]; differs from MROPE
     6 VISION with y == x: finite, explicit, both halves alike
     7 vision_2d_rope: identity at (0,0), pair structure at D=4 and D=8, D=6 rejected
     8 mlxn_rope NORMAL / NEOX at head_dim 4 and partial n_dims
     9 mlxn_rope YaRN with n_ctx_orig = 0 (ramp 1 at pair 0, 0 after)

   usage: test_rope_examples [-b cpu|cuda|all] [-o SUBSTRING] [-v] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"

#define TOL 1e-6

typedef struct {
    mlxn_device *dev;
    mlxn_encoder *enc;
    report_t *rep;
    const char *bname;
} ctx_t;

/* ---- running one op on host arrays ------------------------------------------------ */

typedef enum { OP_ROPE, OP_MULTI, OP_V2D } op_id;

typedef struct {
    op_id op;
    int64_t seq, heads, hd;
    mlxn_rope_params rp;
    mlxn_rope_multi_params mp;
    mlxn_vision_2d_rope_params vp;
    const int32_t *pos; /* rope: [seq]; rope_multi: [4*seq] axis-major; vision_2d_rope: pos_x [seq] */
    const int32_t *pos2; /* vision_2d_rope: pos_y [seq] */
} job_t;

static mlxn_buffer *upload(ctx_t *cx, mlxn_dtype t, int nd, const int64_t *shape, const void *data, mlxn_status *s) {
    mlxn_buffer *b = NULL;
    if (*s) return NULL;
    if ((*s = mlxn_buffer_new(cx->dev, t, nd, shape, &b))) return NULL;
    if ((*s = mlxn_buffer_write(b, data, mlxn_buffer_nbytes(b)))) return b;
    return b;
}

/* Runs the job on x (f32 [seq, heads, hd]) into y; the output starts as NaN.
   On failure returns the status and copies the message into err. */
static mlxn_status run_job(ctx_t *cx, const job_t *j, const float *x, float *y, char *err, size_t el) {
    const int64_t n = j->seq * j->heads * j->hd;
    const int64_t shape[3] = {j->seq, j->heads, j->hd};
    const int64_t npos = j->op == OP_MULTI ? 4 * j->seq : j->seq;
    mlxn_status s = MLXN_OK;
    for (int64_t i = 0; i < n; i++) y[i] = NAN;
    mlxn_buffer *in = upload(cx, MLXN_F32, 3, shape, x, &s);
    mlxn_buffer *out = upload(cx, MLXN_F32, 3, shape, y, &s);
    mlxn_buffer *pos = upload(cx, MLXN_I32, 1, &npos, j->pos, &s);
    mlxn_buffer *pos2 = j->op == OP_V2D ? upload(cx, MLXN_I32, 1, &npos, j->pos2, &s) : NULL;
    if (!s) {
        switch (j->op) {
        case OP_ROPE: s = mlxn_rope(cx->enc, in, out, pos, NULL, &j->rp); break;
        case OP_MULTI: s = mlxn_rope_multi(cx->enc, in, out, pos, &j->mp); break;
        case OP_V2D: s = mlxn_vision_2d_rope(cx->enc, in, out, pos, pos2, &j->vp); break;
        }
    }
    if (!s) s = mlxn_encoder_wait(cx->enc);
    if (!s) s = mlxn_buffer_read(out, y, sizeof(float) * (size_t)n);
    if (s) snprintf(err, el, "%s: %s", mlxn_status_str(s), mlxn_last_error());
    mlxn_buffer_free(in);
    mlxn_buffer_free(out);
    mlxn_buffer_free(pos);
    mlxn_buffer_free(pos2);
    return s;
}

/* Seeded inputs in +-[0.1, 1]. */
static void fill(float *x, int64_t n, const char *seed) {
    rng_t r;
    rng_seed(&r, hash_str(seed));
    for (int64_t i = 0; i < n; i++) {
        double m = rng_uniform(&r, 0.1, 1.0);
        x[i] = (float)((rng_u64(&r) & 1) ? -m : m);
    }
}

/* ---- expected outputs ------------------------------------------------------------- */

enum { E_UNSET = 0, E_ROT, E_PASS };

typedef struct {
    int64_t n;
    double *v;
    unsigned char *kind;
} expect_t;

static void exp_init(expect_t *e, int64_t n) {
    e->n = n;
    e->v = calloc((size_t)n, sizeof(double));
    e->kind = calloc((size_t)n, 1);
    if (!e->v || !e->kind) { printf("out of host memory\n"); exit(1); }
}
static void exp_free(expect_t *e) {
    free(e->v);
    free(e->kind);
}

/* Element pair (off+a, off+b) of x rotated by `angle`, both scaled by ms:
   y_a = (x_a cos - x_b sin) ms,  y_b = (x_a sin + x_b cos) ms. */
static void exp_rot(expect_t *e, const float *x, int64_t off, int a, int b, double angle, double ms) {
    const double xa = x[off + a], xb = x[off + b], c = cos(angle), s = sin(angle);
    e->v[off + a] = (xa * c - xb * s) * ms;
    e->v[off + b] = (xa * s + xb * c) * ms;
    e->kind[off + a] = e->kind[off + b] = E_ROT;
}
/* Elements [off+from, off+to) copied bit for bit. */
static void exp_pass(expect_t *e, int64_t off, int from, int to) {
    for (int i = from; i < to; i++) e->kind[off + i] = E_PASS;
}

/* Every element covered; rotated ones within TOL, pass-through ones bit-exact. */
static bool exp_check(const expect_t *e, const float *x, const float *y, int64_t hd, char *why, size_t wl) {
    double worst = 0.0;
    for (int64_t i = 0; i < e->n; i++) {
        const int64_t row = i / hd, el = i % hd;
        switch (e->kind[i]) {
        case E_UNSET:
            snprintf(why, wl, "test bug: element %lld (head row %lld, dim %lld) not covered by a table", (long long)i,
                     (long long)row, (long long)el);
            return false;
        case E_PASS:
            if (memcmp(&x[i], &y[i], sizeof(float)) != 0) {
                snprintf(why, wl, "head row %lld dim %lld: pass-through %.9g became %.9g", (long long)row,
                         (long long)el, (double)x[i], (double)y[i]);
                return false;
            }
            break;
        default: {
            double d = fabs((double)y[i] - e->v[i]);
            if (!(d <= TOL)) {
                snprintf(why, wl, "head row %lld dim %lld: got %.9g, expected %.9g (|diff| %.3g)", (long long)row,
                         (long long)el, (double)y[i], e->v[i], d);
                return false;
            }
            if (d > worst) worst = d;
        }
        }
    }
    snprintf(why, wl, "max |diff| %.3g", worst);
    return true;
}

/* Reports "<backend>/<name>" (unless -o filters it out). */
static void report(ctx_t *cx, const char *name, bool ok, const char *why) {
    char full[256];
    snprintf(full, sizeof full, "%s/%s", cx->bname, name);
    if (report_wants(cx->rep, full)) report_case(cx->rep, full, ok, "%s", why);
}

/* Runs the job and checks it against e; y receives the output. */
static void run_and_check(ctx_t *cx, const char *name, const job_t *j, const float *x, float *y, const expect_t *e) {
    char why[512];
    if (run_job(cx, j, x, y, why, sizeof why)) {
        report(cx, name, false, why);
        return;
    }
    report(cx, name, exp_check(e, x, y, j->hd, why, sizeof why), why);
}

/* ---- 1, 2: IMROPE / MROPE, head 16, rope 8, base 2, sections [2,2,1,0] ------------ */
/* rope_dim 8 -> 4 pairs; sector = p mod 5 = p. Pair p rotates (x[p], x[p+4]);
   elements 8..15 pass through. freq_base^(-2p/8) = 2^(-p/4):
     p0: 1, p1: 2^-0.25 = 0.8408964152537145, p2: 2^-0.5 = 0.7071067811865476,
     p3: 2^-0.75 = 0.5946035575013605.
   IMROPE: p0 sector 0 (0%3==0, 0<6) t; p1 (1%3==1, 1<6) h; p2 (2%3==2, 2<3) w;
           p3 (3%3==0, 3<6) t.
   MROPE:  p0, p1 < s0=2 -> t; p2, p3 < s0+s1=4 -> h.
   Positions (axis-major): token 0: t5 h7 w9 e0; token 1: t2 h3 w4 e6. */

static const int32_t POS12[8] = {5, 2, /* t */ 7, 3, /* h */ 9, 4, /* w */ 0, 6 /* e */};
/* angle[token][pair] */
static const double ANG_IMROPE12[2][4] = {
    {5.0 * 1.0, 7.0 * 0.8408964152537145, 9.0 * 0.7071067811865476, 5.0 * 0.5946035575013605},
    {2.0 * 1.0, 3.0 * 0.8408964152537145, 4.0 * 0.7071067811865476, 2.0 * 0.5946035575013605},
};
static const double ANG_MROPE12[2][4] = {
    {5.0 * 1.0, 5.0 * 0.8408964152537145, 7.0 * 0.7071067811865476, 7.0 * 0.5946035575013605},
    {2.0 * 1.0, 2.0 * 0.8408964152537145, 3.0 * 0.7071067811865476, 3.0 * 0.5946035575013605},
};

static void case_1_2(ctx_t *cx) {
    enum { SEQ = 2, H = 2, D = 16, N = SEQ * H * D };
    float x[N], yi[N], ym[N];
    fill(x, N, "ex1");
    job_t j = {.op = OP_MULTI, .seq = SEQ, .heads = H, .hd = D, .pos = POS12};
    j.mp = (mlxn_rope_multi_params){16, 8, H, SEQ, 2.0f, MLXN_ROPE_IMROPE, {2, 2, 1, 0}};

    expect_t e;
    exp_init(&e, N);
    for (int t = 0; t < SEQ; t++)
        for (int h = 0; h < H; h++) {
            int64_t off = (t * H + h) * D;
            for (int p = 0; p < 4; p++) exp_rot(&e, x, off, p, p + 4, ANG_IMROPE12[t][p], 1.0);
            exp_pass(&e, off, 8, 16);
        }
    run_and_check(cx, "ex1/imrope_h16_r8_sec2.2.1.0", &j, x, yi, &e);

    /* the hand value of pair 0 of token 0, head 0: rotation by 5 rad */
    {
        double c = cos(5.0), s = sin(5.0);
        double e0 = x[0] * c - x[4] * s, e4 = x[0] * s + x[4] * c;
        char why[256];
        bool ok = fabs(yi[0] - e0) <= TOL && fabs(yi[4] - e4) <= TOL;
        snprintf(why, sizeof why, "y0 %.9g vs %.9g, y4 %.9g vs %.9g", (double)yi[0], e0, (double)yi[4], e4);
        report(cx, "ex1/pair0_is_cos5_sin5", ok, why);
    }
    exp_free(&e);

    j.mp.mode = MLXN_ROPE_MROPE;
    exp_init(&e, N);
    for (int t = 0; t < SEQ; t++)
        for (int h = 0; h < H; h++) {
            int64_t off = (t * H + h) * D;
            for (int p = 0; p < 4; p++) exp_rot(&e, x, off, p, p + 4, ANG_MROPE12[t][p], 1.0);
            exp_pass(&e, off, 8, 16);
        }
    run_and_check(cx, "ex2/mrope_h16_r8_sec2.2.1.0", &j, x, ym, &e);
    exp_free(&e);

    /* pairs 1 and 2 (elements 1,5 and 2,6) use different axes in the two modes */
    bool ok = true;
    char why[256] = "pairs 1 and 2 differ in every head";
    for (int r = 0; r < SEQ * H && ok; r++)
        for (int p = 1; p <= 2 && ok; p++) {
            const int64_t a = r * D + p, b = a + 4;
            double d = fmax(fabs(yi[a] - ym[a]), fabs(yi[b] - ym[b]));
            if (!(d > 1e-3)) {
                snprintf(why, sizeof why, "head row %d pair %d: MROPE and IMROPE differ by only %.3g", r, p, d);
                ok = false;
            }
        }
    report(cx, "ex2/mrope_differs_from_imrope", ok, why);
}

/* ---- 3: Qwen3.5 shape ---------------------------------------------------------------- */
/* head 256, rope 64 -> 32 pairs, sections [11,11,10,0] (sum 32, so sector = p),
   base 1e7; angle = pos[axis] * 1e7^(-2p/64). Pair p rotates (x[p], x[p+32]);
   pairs 32..127, i.e. elements 64..255, pass through.
   IMROPE: t at p in {0,3,...,30} (11), h at {1,4,...,31} (11), w at {2,5,...,29} (10).
   MROPE:  t at 0..10, h at 11..21, w at 22..31.
   The e axis is never used; its positions differ so a wrong axis shows. */
static const char AXES_IMROPE_Q35[] = "thwthwthwthwthwthwthwthwthwthwth";
static const char AXES_MROPE_Q35[] = "ttttttttttthhhhhhhhhhhwwwwwwwwww";
static const int32_t POS_Q35[12] = {1, 17, 300, /* t */ 2, 40, 1000, /* h */ 3, 55, 2500, /* w */ 99, 98, 97 /* e */};

static int axis_index(char a) { return a == 't' ? 0 : a == 'h' ? 1 : a == 'w' ? 2 : 3; }

static void case_3(ctx_t *cx) {
    enum { SEQ = 3, H = 4, D = 256, N = SEQ * H * D };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *y2 = malloc(sizeof(float) * N);
    fill(x, N, "ex3");
    for (int m = 0; m < 2; m++) {
        const char *axes = m == 0 ? AXES_IMROPE_Q35 : AXES_MROPE_Q35;
        char name[96], why[512];
        /* the literal tables themselves: 32 entries, 11 t, 11 h, 10 w */
        int cnt[4] = {0, 0, 0, 0};
        for (int p = 0; axes[p]; p++) cnt[axis_index(axes[p])]++;
        bool tab_ok = strlen(axes) == 32 && cnt[0] == 11 && cnt[1] == 11 && cnt[2] == 10 && cnt[3] == 0;
        snprintf(name, sizeof name, "ex3/%s/table", m == 0 ? "imrope" : "mrope");
        snprintf(why, sizeof why, "t %d h %d w %d e %d", cnt[0], cnt[1], cnt[2], cnt[3]);
        report(cx, name, tab_ok, why);

        job_t j = {.op = OP_MULTI, .seq = SEQ, .heads = H, .hd = D, .pos = POS_Q35};
        j.mp = (mlxn_rope_multi_params){256, 64, H, SEQ, 1e7f, m == 0 ? MLXN_ROPE_IMROPE : MLXN_ROPE_MROPE,
                                        {11, 11, 10, 0}};
        expect_t e;
        exp_init(&e, N);
        for (int t = 0; t < SEQ; t++)
            for (int h = 0; h < H; h++) {
                int64_t off = (t * H + h) * D;
                for (int p = 0; p < 32; p++) {
                    double pos = POS_Q35[axis_index(axes[p]) * SEQ + t];
                    exp_rot(&e, x, off, p, p + 32, pos * pow(1e7, -(double)p / 32.0), 1.0);
                }
                exp_pass(&e, off, 64, 256);
            }
        snprintf(name, sizeof name, "ex3/%s/h256_r64_sec11.11.10.0", m == 0 ? "imrope" : "mrope");
        run_and_check(cx, name, &j, x, y, &e);
        exp_free(&e);

        /* determinism: two more runs, bit-identical to the first */
        bool same = true;
        for (int run = 0; run < 2 && same; run++) {
            if (run_job(cx, &j, x, y2, why, sizeof why)) same = false;
            else if (memcmp(y, y2, sizeof(float) * N) != 0) {
                snprintf(why, sizeof why, "run %d differs from run 0", run + 1);
                same = false;
            }
        }
        if (same) snprintf(why, sizeof why, "3 runs bit-identical");
        snprintf(name, sizeof name, "ex3/%s/deterministic", m == 0 ? "imrope" : "mrope");
        report(cx, name, same, why);
    }
    free(x);
    free(y);
    free(y2);
}

/* ---- 4: IMROPE with all axes equal == mlxn_rope NEOX ---------------------------------- */
/* head 32, rope 16, [3,3,2,0], base 1e4: when t == h == w == e every pair takes
   pos * 1e4^(-2p/16) and rotates (x[p], x[p+8]) -- exactly mlxn_rope NEOX with
   n_dims 16 (pair (x[p], x[p + n_dims/2])); elements 16..31 are copied by both. */
static void case_4(ctx_t *cx) {
    enum { SEQ = 5, H = 3, D = 32, N = SEQ * H * D };
    static const int32_t tok[SEQ] = {0, 1, 7, 100, 4095};
    int32_t pos4[4 * SEQ];
    for (int a = 0; a < 4; a++) memcpy(pos4 + a * SEQ, tok, sizeof tok);
    float x[N], ym[N], yr[N];
    fill(x, N, "ex4");
    job_t jm = {.op = OP_MULTI, .seq = SEQ, .heads = H, .hd = D, .pos = pos4};
    jm.mp = (mlxn_rope_multi_params){32, 16, H, SEQ, 1e4f, MLXN_ROPE_IMROPE, {3, 3, 2, 0}};
    job_t jr = {.op = OP_ROPE, .seq = SEQ, .heads = H, .hd = D, .pos = tok};
    jr.rp = mlxn_rope_params_default(16, MLXN_ROPE_NEOX, 1e4f);
    char why[512];
    if (run_job(cx, &jm, x, ym, why, sizeof why) || run_job(cx, &jr, x, yr, why, sizeof why)) {
        report(cx, "ex4/imrope_equal_axes_is_neox", false, why);
        return;
    }
    double worst = 0.0;
    bool pass_ok = true;
    for (int i = 0; i < N; i++) {
        worst = fmax(worst, fabs((double)ym[i] - yr[i]));
        if (i % D >= 16) pass_ok &= !memcmp(&ym[i], &x[i], 4) && !memcmp(&yr[i], &x[i], 4);
    }
    if (!(worst <= TOL)) worst = INFINITY; /* NaN too */
    snprintf(why, sizeof why, "max |rope_multi - rope| %.3g (%s), dims 16..31 %s", worst,
             memcmp(ym, yr, sizeof ym) ? "not bit-identical" : "bit-identical", pass_ok ? "copied" : "NOT copied");
    report(cx, "ex4/imrope_equal_axes_is_neox", worst <= TOL && pass_ok, why);
}

/* ---- 5: VISION head 8, sections [2,2,0,0] ---------------------------------------------- */
/* rope_dim = head_dim = 8, 4 pairs, s0 + s1 = 4 = head_dim/2. Pair p rotates
   (x[p], x[p+4]). p0: axis 0 (y), local 0 -> y * 1e4^(0)    = y
                   p1: axis 0 (y), local 1 -> y * 1e4^(-2/4) = y * 0.01
                   p2: axis 1 (x), local 0 -> x
                   p3: axis 1 (x), local 1 -> x * 0.01
   y = [3,5], x = [7,11]: token 0 [3, 0.03, 7, 0.07], token 1 [5, 0.05, 11, 0.11].
   Axes 2 and 3 of the positions buffer carry values that must not be used.
   MROPE on the same input uses 1e4^(-2p/8) per global p: pair 1 angle y * 0.1,
   so the outputs differ at pair 1. */
static const int32_t POS_VIS[8] = {3, 5, /* y */ 7, 11, /* x */ 13, 17, 19, 23};
static const double ANG_VIS[2][4] = {{3.0, 0.03, 7.0, 0.07}, {5.0, 0.05, 11.0, 0.11}};

static void case_5(ctx_t *cx) {
    enum { SEQ = 2, H = 2, D = 8, N = SEQ * H * D };
    float x[N], yv[N], ym[N];
    fill(x, N, "ex5");
    job_t j = {.op = OP_MULTI, .seq = SEQ, .heads = H, .hd = D, .pos = POS_VIS};
    j.mp = (mlxn_rope_multi_params){8, 8, H, SEQ, 1e4f, MLXN_ROPE_VISION, {2, 2, 0, 0}};
    expect_t e;
    exp_init(&e, N);
    for (int t = 0; t < SEQ; t++)
        for (int h = 0; h < H; h++)
            for (int p = 0; p < 4; p++) exp_rot(&e, x, (t * H + h) * D, p, p + 4, ANG_VIS[t][p], 1.0);
    run_and_check(cx, "ex5/vision_h8_sec2.2_y3.5_x7.11", &j, x, yv, &e);
    exp_free(&e);

    j.mp.mode = MLXN_ROPE_MROPE;
    char why[512];
    if (run_job(cx, &j, x, ym, why, sizeof why)) {
        report(cx, "ex5/vision_differs_from_mrope", false, why);
        return;
    }
    bool ok = true;
    snprintf(why, sizeof why, "pair 1 differs in every head");
    for (int r = 0; r < SEQ * H && ok; r++) {
        double d = fmax(fabs(yv[r * D + 1] - ym[r * D + 1]), fabs(yv[r * D + 5] - ym[r * D + 5]));
        if (!(d > 1e-3)) {
            snprintf(why, sizeof why, "head row %d: VISION and MROPE pair 1 differ by only %.3g", r, d);
            ok = false;
        }
    }
    report(cx, "ex5/vision_differs_from_mrope", ok, why);
}

/* ---- 6: VISION with y == x ------------------------------------------------------------- */
/* head 16 = rope 16, sections [4,4,0,0], base 1e4: 8 pairs, pair p rotates
   (x[p], x[p+8]); p 0..3 axis 0 local p, p 4..7 axis 1 local p-4; factor
   1e4^(-2l/8) = 1e4^(-l/4): l0 1, l1 0.1, l2 0.01, l3 0.001. With y == x the two
   halves use the same angles, so equal inputs give bit-equal outputs. */
static const struct { int axis; double f; } VIS6[8] = {
    {0, 1.0}, {0, 0.1}, {0, 0.01}, {0, 0.001}, {1, 1.0}, {1, 0.1}, {1, 0.01}, {1, 0.001}};

static void case_6(ctx_t *cx) {
    enum { SEQ = 3, H = 2, D = 16, N = SEQ * H * D };
    static const int32_t pos[12] = {3, 8, 1000, /* y */ 3, 8, 1000, /* x == y */ 5, 6, 7, 9, 10, 11};
    float x[N], y[N];
    fill(x, N, "ex6");
    /* make pair p and pair p+4 (p < 4) hold the same values */
    for (int r = 0; r < SEQ * H; r++)
        for (int p = 0; p < 4; p++) {
            x[r * D + p + 4] = x[r * D + p];
            x[r * D + p + 12] = x[r * D + p + 8];
        }
    job_t j = {.op = OP_MULTI, .seq = SEQ, .heads = H, .hd = D, .pos = pos};
    j.mp = (mlxn_rope_multi_params){16, 16, H, SEQ, 1e4f, MLXN_ROPE_VISION, {4, 4, 0, 0}};
    expect_t e;
    exp_init(&e, N);
    for (int t = 0; t < SEQ; t++)
        for (int h = 0; h < H; h++)
            for (int p = 0; p < 8; p++)
                exp_rot(&e, x, (t * H + h) * D, p, p + 8, pos[VIS6[p].axis * SEQ + t] * VIS6[p].f, 1.0);
    run_and_check(cx, "ex6/vision_y_eq_x/explicit", &j, x, y, &e);
    exp_free(&e);
    bool finite = true, halves = true;
    for (int i = 0; i < N; i++) finite &= isfinite(y[i]) != 0;
    for (int r = 0; r < SEQ * H; r++)
        for (int p = 0; p < 4; p++)
            halves &= !memcmp(&y[r * D + p], &y[r * D + p + 4], 4) && !memcmp(&y[r * D + p + 8], &y[r * D + p + 12], 4);
    report(cx, "ex6/vision_y_eq_x/finite_and_halves_alike", finite && halves,
           finite ? (halves ? "finite; pair p == pair p+4 bit for bit" : "pair p and pair p+4 differ")
                  : "non-finite output");
}

/* ---- 7: vision_2d_rope ---------------------------------------------------------------- */
/* With q = D/4: the first half rotates (x[i], x[i+q]) by pos_x, the second half
   (x[2q+i], x[3q+i]) by pos_y, angle = pos * theta^(-2i/(D/2)). */
static void case_7(ctx_t *cx) {
    char why[512];
    {   /* identity at (0, 0): seq 4, 2 heads, D 8 */
        enum { SEQ = 4, H = 2, D = 8, N = SEQ * H * D };
        static const int32_t zero[SEQ] = {0, 0, 0, 0};
        float x[N], y[N];
        fill(x, N, "ex7a");
        job_t j = {.op = OP_V2D, .seq = SEQ, .heads = H, .hd = D, .pos = zero, .pos2 = zero};
        j.vp = (mlxn_vision_2d_rope_params){D, H, SEQ, 100.0f};
        expect_t e;
        exp_init(&e, N);
        for (int r = 0; r < SEQ * H; r++) {
            exp_rot(&e, x, r * D, 0, 2, 0.0, 1.0);
            exp_rot(&e, x, r * D, 1, 3, 0.0, 1.0);
            exp_rot(&e, x, r * D, 4, 6, 0.0, 1.0);
            exp_rot(&e, x, r * D, 5, 7, 0.0, 1.0);
        }
        run_and_check(cx, "ex7/v2d_identity_at_0_0", &j, x, y, &e);
        exp_free(&e);
    }
    {   /* D 4 (q 1), pos_x 3, pos_y 5: pair (x0,x1) by 3, pair (x2,x3) by 5 */
        enum { SEQ = 1, H = 2, D = 4, N = SEQ * H * D };
        static const int32_t px[1] = {3}, py[1] = {5};
        float x[N], y[N];
        fill(x, N, "ex7b");
        job_t j = {.op = OP_V2D, .seq = SEQ, .heads = H, .hd = D, .pos = px, .pos2 = py};
        j.vp = (mlxn_vision_2d_rope_params){D, H, SEQ, 100.0f};
        expect_t e;
        exp_init(&e, N);
        for (int h = 0; h < H; h++) {
            exp_rot(&e, x, h * D, 0, 1, 3.0, 1.0);
            exp_rot(&e, x, h * D, 2, 3, 5.0, 1.0);
        }
        run_and_check(cx, "ex7/v2d_D4_x3_y5", &j, x, y, &e);
        exp_free(&e);
    }
    {   /* D 8 (q 2), theta 100: 100^(-2i/4): i0 1, i1 0.1.
           pos_x [3, 6], pos_y [5, 10]:
           token 0: (0,2) 3, (1,3) 0.3, (4,6) 5,  (5,7) 0.5
           token 1: (0,2) 6, (1,3) 0.6, (4,6) 10, (5,7) 1.0 */
        enum { SEQ = 2, H = 3, D = 8, N = SEQ * H * D };
        static const int32_t px[2] = {3, 6}, py[2] = {5, 10};
        static const struct { int a, b; double ang[2]; } T[4] = {
            {0, 2, {3.0, 6.0}}, {1, 3, {0.3, 0.6}}, {4, 6, {5.0, 10.0}}, {5, 7, {0.5, 1.0}}};
        float x[N], y[N];
        fill(x, N, "ex7c");
        job_t j = {.op = OP_V2D, .seq = SEQ, .heads = H, .hd = D, .pos = px, .pos2 = py};
        j.vp = (mlxn_vision_2d_rope_params){D, H, SEQ, 100.0f};
        expect_t e;
        exp_init(&e, N);
        for (int t = 0; t < SEQ; t++)
            for (int h = 0; h < H; h++)
                for (int k = 0; k < 4; k++) exp_rot(&e, x, (t * H + h) * D, T[k].a, T[k].b, T[k].ang[t], 1.0);
        run_and_check(cx, "ex7/v2d_D8_theta100", &j, x, y, &e);
        exp_free(&e);
    }
    {   /* D 6 is not a multiple of 4 */
        enum { SEQ = 1, H = 1, D = 6, N = SEQ * H * D };
        static const int32_t p0[1] = {1};
        float x[N], y[N];
        fill(x, N, "ex7d");
        job_t j = {.op = OP_V2D, .seq = SEQ, .heads = H, .hd = D, .pos = p0, .pos2 = p0};
        j.vp = (mlxn_vision_2d_rope_params){D, H, SEQ, 100.0f};
        mlxn_status s = run_job(cx, &j, x, y, why, sizeof why);
        bool ok = s == MLXN_ERR_INVALID_ARGUMENT && strstr(why, "vision_2d_rope: head_dim (6) must be a multiple of 4");
        if (s == MLXN_OK) snprintf(why, sizeof why, "accepted");
        report(cx, "ex7/v2d_D6_rejected", ok, why);
    }
}

/* ---- 8: mlxn_rope NORMAL and NEOX, small heads ------------------------------------------- */
/* base 1e4; n_dims 4 -> factors 1e4^(-2p/4): p0 1, p1 0.01. Positions [1, 2].
   NORMAL rotates (x[2p], x[2p+1]); NEOX (x[p], x[p + n_dims/2]). With head_dim 8
   and n_dims 4, elements 4..7 are copied. */
static void case_8(ctx_t *cx) {
    static const int32_t pos[2] = {1, 2};
    static const double ANG[2][2] = {{1.0, 0.01}, {2.0, 0.02}}; /* [token][pair] */
    static const struct { const char *name; mlxn_rope_mode mode; int hd; int pairs[2][2]; } V[4] = {
        {"ex8/normal_hd4_nd4", MLXN_ROPE_NORMAL, 4, {{0, 1}, {2, 3}}},
        {"ex8/neox_hd4_nd4", MLXN_ROPE_NEOX, 4, {{0, 2}, {1, 3}}},
        {"ex8/normal_hd8_nd4", MLXN_ROPE_NORMAL, 8, {{0, 1}, {2, 3}}},
        {"ex8/neox_hd8_nd4", MLXN_ROPE_NEOX, 8, {{0, 2}, {1, 3}}},
    };
    for (int v = 0; v < 4; v++) {
        enum { SEQ = 2, H = 2 };
        const int D = V[v].hd, N = SEQ * H * D;
        float x[SEQ * H * 8], y[SEQ * H * 8];
        fill(x, N, V[v].name);
        job_t j = {.op = OP_ROPE, .seq = SEQ, .heads = H, .hd = D, .pos = pos};
        j.rp = mlxn_rope_params_default(4, V[v].mode, 1e4f);
        expect_t e;
        exp_init(&e, N);
        for (int t = 0; t < SEQ; t++)
            for (int h = 0; h < H; h++) {
                int64_t off = (t * H + h) * D;
                for (int p = 0; p < 2; p++) exp_rot(&e, x, off, V[v].pairs[p][0], V[v].pairs[p][1], ANG[t][p], 1.0);
                exp_pass(&e, off, 4, D);
            }
        run_and_check(cx, V[v].name, &j, x, y, &e);
        exp_free(&e);
    }
}

/* ---- 9: YaRN with n_ctx_orig = 0 ------------------------------------------------------- */
/* freq_scale 0.5, ext_factor 1, attn_factor 1, beta_fast = beta_slow = 1,
   n_ctx_orig 0, n_dims = head_dim = 8, base 1e4. ggml's corr dims:
     corr_dim(beta) = n_dims * ln(n_ctx_orig / (beta * 2 pi)) / (2 ln base)
                    = 8 * ln(0) / ... = -inf for both betas;
     low = max(0, floor(-inf)) = 0, high = min(n_dims - 1, ceil(-inf)) = -inf.
   ramp(p) = 1 - clamp((p - low) / max(0.001, high - low), 0, 1)
           = 1 - clamp(p / 0.001, 0, 1): pair 0 -> 1, pairs >= 1 -> 0.
   mix = ramp * ext_factor; theta = theta_interp (1 - mix) + theta_extrap mix with
   theta_interp = 0.5 theta_extrap: pair 0 keeps theta_extrap, pairs 1..3 get
   0.5 theta_extrap. mscale = attn_factor (1 + 0.1 ln(1/0.5)) = 1 + 0.1 ln 2
   = 1.0693147180559945, applied to cos and sin.
   theta_extrap = pos * 1e4^(-2p/8) = pos * [1, 0.1, 0.01, 0.001]; positions [3, 10]:
     token 0: [3, 0.15, 0.015, 0.0015]   token 1: [10, 0.5, 0.05, 0.005]. */
static void case_9(ctx_t *cx) {
    enum { SEQ = 2, H = 2, D = 8, N = SEQ * H * D };
    static const int32_t pos[2] = {3, 10};
    static const double ANG[2][4] = {{3.0, 0.15, 0.015, 0.0015}, {10.0, 0.5, 0.05, 0.005}};
    static const double MSCALE = 1.0693147180559945;
    for (int m = 0; m < 2; m++) {
        const char *name = m == 0 ? "ex9/yarn_nctx0_neox" : "ex9/yarn_nctx0_normal";
        float x[N], y[N];
        fill(x, N, name);
        job_t j = {.op = OP_ROPE, .seq = SEQ, .heads = H, .hd = D, .pos = pos};
        j.rp = mlxn_rope_params_default(8, m == 0 ? MLXN_ROPE_NEOX : MLXN_ROPE_NORMAL, 1e4f);
        j.rp.freq_scale = 0.5f;
        j.rp.ext_factor = 1.0f;
        j.rp.attn_factor = 1.0f;
        j.rp.beta_fast = 1.0f;
        j.rp.beta_slow = 1.0f;
        j.rp.n_ctx_orig = 0;
        expect_t e;
        exp_init(&e, N);
        for (int t = 0; t < SEQ; t++)
            for (int h = 0; h < H; h++)
                for (int p = 0; p < 4; p++) {
                    int a = m == 0 ? p : 2 * p, b = m == 0 ? p + 4 : 2 * p + 1;
                    exp_rot(&e, x, (t * H + h) * D, a, b, ANG[t][p], MSCALE);
                }
        run_and_check(cx, name, &j, x, y, &e);
        exp_free(&e);
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static void suite(const test_env *env, report_t *rep, void *user) {
    (void)user;
    ctx_t cx = {env->dev, env->enc, rep, env->backend};
    case_1_2(&cx);
    case_3(&cx);
    case_4(&cx);
    case_5(&cx);
    case_6(&cx);
    case_7(&cx);
    case_8(&cx);
    case_9(&cx);
}

int main(int argc, char **argv) { return run_suite(argc, argv, "test_rope_examples", suite, NULL); }
