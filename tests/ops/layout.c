/* tests/ops/layout.c — differential and validation cases of the layout family
   (mlxn_gather_rows, mlxn_permute, mlxn_copy_2d, mlxn_repeat_heads,
   mlxn_kv_cache_write) against tests/ref/ref_layout.c.

   These ops copy, so results are compared exactly, never by NMSE:
   permute, copy_2d and repeat_heads move random raw bytes (any element size;
   float bit patterns include NaNs with payloads) and must match the reference
   byte for byte; gather_rows and kv_cache_write compare values exactly after
   the one correctly rounded conversion (round to nearest even) the contract
   defines, and bit for bit where nothing converts. Every output sits between
   guard bytes (tests/harness.h guarded_t) that must survive. Outputs that are
   only partly written (copy_2d's dst, the kv cache) are first filled with
   random prior contents, which every element outside the written block must
   keep. `mis1` shifts every view by one element (misaligned: also forces the
   CUDA scalar paths).

   Names encode the parameters, e.g. permute/f16/5x7x33/p201/mis1,
   copy_2d/bf16/qkv/r7.q64k32v32, repeat_heads/f32/tiled/T3.Hg2.H6.D5,
   gather_rows/bf16.f32/i32/r100.d64.n17/s0.125, kv_cache_write/f32.f16/ring/T6.H3.D33.cap8.pos5,
   layout/validate/kv_cache_write/linear_overflow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_layout.h"

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} ctx_t;

/* True when the case should run (and then it must be reported); in list mode
   prints the name instead. */
static bool begin(ctx_t *cx, const char *name) {
    if (!report_wants(cx->rep, name)) return false;
    if (cx->list) {
        printf("%s\n", name);
        return false;
    }
    return true;
}

static int64_t prod(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static void random_bytes(rng_t *r, unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(rng_u64(r) >> 56);
}

/* A view `mis` elements into a fresh allocation holding `bytes`. */
static mlxn_status input_raw(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, int mis, const void *bytes,
                             mlxn_buffer **base, mlxn_buffer **view) {
    const size_t es = mlxn_dtype_size(t);
    const int64_t n = prod(ndim, shape), total = n + mis;
    *base = NULL;
    *view = NULL;
    mlxn_status s = mlxn_buffer_new(d, t, 1, &total, base);
    if (s) return s;
    if ((s = mlxn_buffer_view(*base, (size_t)mis * es, t, ndim, shape, view))) return s;
    return mlxn_buffer_write(*view, bytes, (size_t)n * es);
}

/* Reads a guarded output's view bytes; *guards_ok tells whether the guards survived. */
static mlxn_status read_raw(guarded_t *g, void *bytes, bool *guards_ok) {
    const size_t es = mlxn_dtype_size(g->dtype);
    unsigned char *h = malloc((size_t)g->total * es);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    mlxn_status s = mlxn_buffer_read(g->base, h, (size_t)g->total * es);
    if (!s) {
        *guards_ok = true;
        for (int64_t i = 0; i < g->total; i++) {
            if (i == g->lead) i += g->n;
            if (i >= g->total) break;
            for (size_t k = 0; k < es; k++) *guards_ok &= h[(size_t)i * es + k] == 0xA5;
        }
        memcpy(bytes, h + (size_t)g->lead * es, (size_t)g->n * es);
    }
    free(h);
    return s;
}

/* Byte comparison, reporting the first differing element. */
static void check_bytes(report_t *rep, const char *name, const unsigned char *got, const unsigned char *want, size_t es,
                        int64_t n, bool guards_ok) {
    int64_t bad = -1, nbad = 0;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(got + (size_t)i * es, want + (size_t)i * es, es) != 0) {
            if (bad < 0) bad = i;
            nbad++;
        }
    if (bad < 0) {
        report_case(rep, name, guards_ok, "%lld elements bit-exact%s", (long long)n, guards_ok ? "" : ", guards overwritten");
        return;
    }
    unsigned long long g = 0, w = 0;
    memcpy(&g, got + (size_t)bad * es, es);
    memcpy(&w, want + (size_t)bad * es, es);
    report_case(rep, name, false, "%lld of %lld elements differ; first at %lld: got 0x%llx want 0x%llx%s",
                (long long)nbad, (long long)n, (long long)bad, g, w, guards_ok ? "" : ", guards overwritten");
}

/* Exact value comparison (same value, same sign of zero; NaN only for NaN). */
static void check_values(report_t *rep, const char *name, const double *got, const double *want, int64_t n,
                         bool guards_ok) {
    int64_t bad = -1, nbad = 0;
    for (int64_t i = 0; i < n; i++) {
        const bool same = isnan(want[i]) ? isnan(got[i]) : got[i] == want[i] && signbit(got[i]) == signbit(want[i]);
        if (!same) {
            if (bad < 0) bad = i;
            nbad++;
        }
    }
    if (bad < 0) {
        report_case(rep, name, guards_ok, "%lld values exact%s", (long long)n, guards_ok ? "" : ", guards overwritten");
        return;
    }
    report_case(rep, name, false, "%lld of %lld values differ; first at %lld: got %.9g want %.9g%s", (long long)nbad,
                (long long)n, (long long)bad, got[bad], want[bad], guards_ok ? "" : ", guards overwritten");
}

static void fail_api(report_t *rep, const char *name, const char *what) {
    report_case(rep, name, false, "%s: %s", what, mlxn_last_error());
}

static mlxn_status run_wait(mlxn_encoder *e, mlxn_status s) {
    if (s) return s;
    if ((s = mlxn_encoder_commit(e))) return s;
    return mlxn_encoder_wait(e);
}

/* ---- raw-copy ops: permute, copy_2d, repeat_heads ------------------------------- */

typedef enum { RAW_PERMUTE, RAW_COPY_2D, RAW_REPEAT } raw_kind;

typedef struct {
    raw_kind kind;
    mlxn_dtype dt;
    int mis;
    int ndim;
    int64_t xshape[4], yshape[4]; /* permute, repeat: shapes; copy_2d: src/dst as 1-D lengths in [0] */
    int perm[4];
    mlxn_copy_2d_params cp;
    int interleaved;
} raw_case;

static void run_raw(ctx_t *cx, const char *name, const raw_case *c) {
    if (!begin(cx, name)) return;
    mlxn_device *d = cx->env->dev;
    const size_t es = mlxn_dtype_size(c->dt);
    const int xnd = c->kind == RAW_COPY_2D ? 1 : c->ndim, ynd = xnd;
    const int64_t nx = prod(xnd, c->xshape), ny = prod(ynd, c->yshape);
    rng_t r;
    rng_seed(&r, hash_str(name));
    unsigned char *hx = malloc((size_t)nx * es), *prior = malloc((size_t)ny * es), *want = malloc((size_t)ny * es),
                  *got = malloc((size_t)ny * es);
    mlxn_buffer *xb = NULL, *xv = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    if (!hx || !prior || !want || !got) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    random_bytes(&r, hx, (size_t)nx * es);
    random_bytes(&r, prior, (size_t)ny * es);
    memcpy(want, prior, (size_t)ny * es);
    if (input_raw(d, c->dt, xnd, c->xshape, c->mis, hx, &xb, &xv) ||
        guarded_new(d, c->dt, ynd, c->yshape, c->mis, &g)) {
        fail_api(cx->rep, name, "alloc");
        goto out;
    }
    mlxn_status s;
    switch (c->kind) {
    case RAW_PERMUTE: {
        ref_permute(hx, want, es, c->ndim, c->xshape, c->perm);
        mlxn_permute_params p = {c->ndim, {0, 0, 0, 0}};
        for (int i = 0; i < c->ndim; i++) p.perm[i] = c->perm[i];
        s = mlxn_permute(cx->env->enc, xv, g.view, &p);
        break;
    }
    case RAW_COPY_2D:
        /* dst holds prior contents outside the block */
        if ((s = mlxn_buffer_write(g.view, prior, (size_t)ny * es))) break;
        ref_copy_2d(hx, want, es, c->cp.rows, c->cp.cols, c->cp.src_stride, c->cp.src_col, c->cp.dst_stride,
                    c->cp.dst_col);
        s = mlxn_copy_2d(cx->env->enc, xv, g.view, &c->cp);
        break;
    default: {
        ref_repeat_heads(hx, want, es, c->xshape[0], c->xshape[1], c->yshape[1], c->xshape[2], c->interleaved);
        mlxn_repeat_heads_params p = {c->interleaved};
        s = mlxn_repeat_heads(cx->env->enc, xv, g.view, &p);
        break;
    }
    }
    if ((s = run_wait(cx->env->enc, s))) {
        fail_api(cx->rep, name, "op");
        goto out;
    }
    bool guards = false;
    if (read_raw(&g, got, &guards)) {
        fail_api(cx->rep, name, "read");
        goto out;
    }
    check_bytes(cx->rep, name, got, want, es, ny, guards);
out:
    guarded_free(&g);
    mlxn_buffer_free(xv);
    mlxn_buffer_free(xb);
    free(hx);
    free(prior);
    free(want);
    free(got);
}

static const char *dtn(mlxn_dtype t) { return mlxn_dtype_name(t); }

static void shape_str(char *buf, size_t n, int nd, const int64_t *s) {
    size_t o = 0;
    for (int i = 0; i < nd && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "x" : "", (long long)s[i]);
}

/* every permutation of 0..nd-1 in lexicographic order */
static int all_perms(int nd, int out[][4]) {
    int cnt = 0, p[4] = {0, 1, 2, 3};
    for (;;) {
        memcpy(out[cnt++], p, sizeof p);
        int i = nd - 2;
        while (i >= 0 && p[i] > p[i + 1]) i--;
        if (i < 0) return cnt;
        int j = nd - 1;
        while (p[j] < p[i]) j--;
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
        for (int a = i + 1, b = nd - 1; a < b; a++, b--) t = p[a], p[a] = p[b], p[b] = t;
    }
}

static void permute_cases(ctx_t *cx) {
    static const int64_t shapes[][5] = {
        {2, 1, 1},  {2, 1, 7},   {2, 7, 1},   {2, 33, 65},  {2, 64, 96},  {2, 100, 3},  /* 2-D */
        {3, 5, 7, 33}, {3, 2, 64, 40}, {3, 1, 35, 3}, {3, 4, 1, 9}, {3, 33, 2, 64},      /* 3-D */
        {4, 2, 3, 5, 33}, {4, 3, 1, 34, 2}, {4, 2, 32, 3, 16},                          /* 4-D */
    };
    static const mlxn_dtype dts[] = {MLXN_F32, MLXN_F16, MLXN_BF16, MLXN_I8, MLXN_I64};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        raw_case c;
        memset(&c, 0, sizeof c);
        c.kind = RAW_PERMUTE;
        c.ndim = (int)shapes[si][0];
        for (int i = 0; i < c.ndim; i++) c.xshape[i] = shapes[si][1 + i];
        int perms[24][4];
        const int np = all_perms(c.ndim, perms);
        for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++)
            for (int pi = 0; pi < np; pi++)
                for (int mis = 0; mis < 2; mis++) {
                    /* misaligned views for f32/f16 only: enough to hit every scalar path */
                    if (mis && dts[di] != MLXN_F32 && dts[di] != MLXN_F16) continue;
                    c.dt = dts[di];
                    c.mis = mis;
                    char ps[8] = "", ss[64];
                    for (int i = 0; i < c.ndim; i++) {
                        c.perm[i] = perms[pi][i];
                        ps[i] = (char)('0' + perms[pi][i]);
                        c.yshape[i] = c.xshape[perms[pi][i]];
                    }
                    shape_str(ss, sizeof ss, c.ndim, c.xshape);
                    char name[160];
                    snprintf(name, sizeof name, "permute/%s/%s/p%s%s", dtn(c.dt), ss, ps, mis ? "/mis1" : "");
                    run_raw(cx, name, &c);
                }
    }
    /* a large 2-D transpose and permute_021 (many 32 x 32 tiles, long rows) */
    raw_case c;
    memset(&c, 0, sizeof c);
    c.kind = RAW_PERMUTE;
    c.ndim = 2;
    c.dt = MLXN_F16;
    c.xshape[0] = 1000, c.xshape[1] = 257, c.perm[0] = 1, c.perm[1] = 0, c.yshape[0] = 257, c.yshape[1] = 1000;
    run_raw(cx, "permute/f16/1000x257/p10", &c);
    c.ndim = 3;
    c.dt = MLXN_F32;
    c.xshape[0] = 48, c.xshape[1] = 64, c.xshape[2] = 256;
    c.perm[0] = 1, c.perm[1] = 0, c.perm[2] = 2;
    c.yshape[0] = 64, c.yshape[1] = 48, c.yshape[2] = 256;
    run_raw(cx, "permute/f32/48x64x256/p102", &c);
}

static void copy_2d_cases(ctx_t *cx) {
    static const mlxn_dtype dts[] = {MLXN_F32, MLXN_F16, MLXN_BF16, MLXN_I8, MLXN_I64};
    for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++)
        for (int mis = 0; mis < 2; mis++) {
            raw_case c;
            memset(&c, 0, sizeof c);
            c.kind = RAW_COPY_2D;
            c.dt = dts[di];
            c.mis = mis;
            char name[160];
            const char *m = mis ? "/mis1" : "";
            /* column slices: src [R, W] cols [a, a + n) -> dst [R, n] */
            static const int64_t sl[][4] = {{1, 1, 0, 1}, {7, 33, 5, 17}, {64, 256, 64, 128}, {9, 100, 99, 1},
                                            {3, 4097, 1, 4095}};
            for (size_t k = 0; k < sizeof sl / sizeof sl[0]; k++) {
                const int64_t R = sl[k][0], W = sl[k][1], a = sl[k][2], n = sl[k][3];
                c.xshape[0] = R * W;
                c.yshape[0] = R * n;
                c.cp = (mlxn_copy_2d_params){R, n, W, a, n, 0};
                snprintf(name, sizeof name, "copy_2d/%s/slice/r%lld.w%lld.c%lld.n%lld%s", dtn(c.dt), (long long)R,
                         (long long)W, (long long)a, (long long)n, m);
                run_raw(cx, name, &c);
            }
            /* concatenation by columns: parts [R, n] into dst [R, W] at column a */
            static const int64_t cc[][4] = {{5, 48, 16, 32}, {5, 48, 0, 16}, {11, 37, 3, 7}, {128, 4096, 1024, 2048}};
            for (size_t k = 0; k < sizeof cc / sizeof cc[0]; k++) {
                const int64_t R = cc[k][0], W = cc[k][1], a = cc[k][2], n = cc[k][3];
                c.xshape[0] = R * n;
                c.yshape[0] = R * W;
                c.cp = (mlxn_copy_2d_params){R, n, n, 0, W, a};
                snprintf(name, sizeof name, "copy_2d/%s/concat/r%lld.w%lld.at%lld.n%lld%s", dtn(c.dt), (long long)R,
                         (long long)W, (long long)a, (long long)n, m);
                run_raw(cx, name, &c);
            }
            /* qkv split: [R, q + k + v] -> q, k, v (one case per part) */
            static const int64_t qk[][4] = {{7, 64, 32, 32}, {3, 40, 8, 8}, {2, 33, 5, 7}};
            for (size_t k = 0; k < sizeof qk / sizeof qk[0]; k++)
                for (int part = 0; part < 3; part++) {
                    const int64_t R = qk[k][0], W = qk[k][1] + qk[k][2] + qk[k][3];
                    const int64_t a = part == 0 ? 0 : part == 1 ? qk[k][1] : qk[k][1] + qk[k][2], n = qk[k][1 + part];
                    c.xshape[0] = R * W;
                    c.yshape[0] = R * n;
                    c.cp = (mlxn_copy_2d_params){R, n, W, a, n, 0};
                    snprintf(name, sizeof name, "copy_2d/%s/qkv/r%lld.q%lldk%lldv%lld/%c%s", dtn(c.dt), (long long)R,
                             (long long)qk[k][1], (long long)qk[k][2], (long long)qk[k][3], "qkv"[part], m);
                    run_raw(cx, name, &c);
                }
            /* strided to strided, a buffer larger than the block */
            c.xshape[0] = 1000;
            c.yshape[0] = 777;
            c.cp = (mlxn_copy_2d_params){9, 13, 100, 50, 80, 3};
            snprintf(name, sizeof name, "copy_2d/%s/strided/r9.c13.ss100.sc50.ds80.dc3%s", dtn(c.dt), m);
            run_raw(cx, name, &c);
        }
}

static void repeat_cases(ctx_t *cx) {
    static const int64_t g[][4] = {{1, 1, 1, 1}, {3, 2, 6, 5}, {7, 4, 32, 64}, {2, 8, 32, 128}, {5, 1, 4, 33},
                                   {4, 3, 3, 16}};
    static const mlxn_dtype dts[] = {MLXN_F32, MLXN_F16, MLXN_BF16, MLXN_I8};
    for (size_t gi = 0; gi < sizeof g / sizeof g[0]; gi++)
        for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++)
            for (int il = 0; il < 2; il++)
                for (int mis = 0; mis < 2; mis++) {
                    raw_case c;
                    memset(&c, 0, sizeof c);
                    c.kind = RAW_REPEAT;
                    c.dt = dts[di];
                    c.mis = mis;
                    c.ndim = 3;
                    c.interleaved = il;
                    c.xshape[0] = g[gi][0], c.xshape[1] = g[gi][1], c.xshape[2] = g[gi][3];
                    c.yshape[0] = g[gi][0], c.yshape[1] = g[gi][2], c.yshape[2] = g[gi][3];
                    char name[160];
                    snprintf(name, sizeof name, "repeat_heads/%s/%s/T%lld.Hg%lld.H%lld.D%lld%s", dtn(c.dt),
                             il ? "interleaved" : "tiled", (long long)g[gi][0], (long long)g[gi][1], (long long)g[gi][2],
                             (long long)g[gi][3], mis ? "/mis1" : "");
                    run_raw(cx, name, &c);
                }
}

/* ---- gather_rows --------------------------------------------------------------- */

static void gather_case(ctx_t *cx, mlxn_dtype tdt, mlxn_dtype ydt, mlxn_dtype idt, int64_t n_rows, int64_t dim,
                        int ids_nd, const int64_t *ids_shape, float scale, int mis) {
    char name[192], is[48];
    shape_str(is, sizeof is, ids_nd, ids_shape);
    snprintf(name, sizeof name, "gather_rows/%s.%s/%s/r%lld.d%lld.n%s/s%g%s", dtn(tdt), dtn(ydt), dtn(idt),
             (long long)n_rows, (long long)dim, is, (double)scale, mis ? "/mis1" : "");
    if (!begin(cx, name)) return;
    mlxn_device *d = cx->env->dev;
    const int64_t n = prod(ids_nd, ids_shape);
    rng_t r;
    rng_seed(&r, hash_str(name));
    double *tab = malloc(sizeof(double) * (size_t)(n_rows * dim)), *want = malloc(sizeof(double) * (size_t)(n * dim)),
           *got = malloc(sizeof(double) * (size_t)(n * dim));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
    double *idv = malloc(sizeof(double) * (size_t)n);
    mlxn_buffer *tb = NULL, *tv = NULL, *ib = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    int64_t yshape[5];
    for (int i = 0; i < ids_nd; i++) yshape[i] = ids_shape[i];
    yshape[ids_nd] = dim;
    if (!tab || !want || !got || !ids || !idv) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n_rows * dim; i++) {
        /* magnitudes 2^-20 .. 2^14: scaled f16 results round, some to subnormals */
        tab[i] = (rng_int(&r, 0, 1) ? -1.0 : 1.0) * exp2(rng_uniform(&r, -20.0, tdt == MLXN_F16 ? 14.0 : 18.0));
    }
    round_through(tdt, tab, (size_t)(n_rows * dim));
    for (int64_t i = 0; i < n; i++) {
        /* one id in four out of range: negative (i32) or past the table */
        const int64_t k = rng_int(&r, 0, 7);
        if (k == 0) ids[i] = idt == MLXN_I32 ? -rng_int(&r, 1, 1000) : n_rows + rng_int(&r, 0, 1000);
        else if (k == 1) ids[i] = idt == MLXN_I32 ? (int64_t)INT32_MIN : (int64_t)UINT32_MAX;
        else ids[i] = rng_int(&r, 0, n_rows - 1);
        idv[i] = (double)ids[i];
    }
    ref_gather_rows(tab, n_rows, dim, ids, n, (double)scale, want);
    round_through(ydt, want, (size_t)(n * dim));
    unsigned char *traw = malloc((size_t)(n_rows * dim) * mlxn_dtype_size(tdt));
    if (!traw) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    host_from_double(tdt, tab, (size_t)(n_rows * dim), traw);
    const int64_t tshape[2] = {n_rows, dim};
    mlxn_status s = input_raw(d, tdt, 2, tshape, mis, traw, &tb, &tv);
    free(traw);
    if (s || upload_values(d, idt, ids_nd, ids_shape, idv, &ib) ||
        guarded_new(d, ydt, ids_nd + 1, yshape, mis, &g)) {
        fail_api(cx->rep, name, "alloc");
        goto out;
    }
    mlxn_gather_params p = {scale};
    if (run_wait(cx->env->enc, mlxn_gather_rows(cx->env->enc, tv, ib, g.view, &p))) {
        fail_api(cx->rep, name, "op");
        goto out;
    }
    bool guards = false;
    if (guarded_read(&g, got, &guards)) {
        fail_api(cx->rep, name, "read");
        goto out;
    }
    check_values(cx->rep, name, got, want, n * dim, guards);
out:
    guarded_free(&g);
    mlxn_buffer_free(ib);
    mlxn_buffer_free(tv);
    mlxn_buffer_free(tb);
    free(tab);
    free(want);
    free(got);
    free(ids);
    free(idv);
}

static void gather_cases(ctx_t *cx) {
    static const mlxn_dtype tdts[] = {MLXN_F32, MLXN_F16, MLXN_BF16};
    static const int64_t geo[][3] = {{1, 1, 1}, {7, 33, 5}, {100, 64, 17}, {50, 4097, 3}, {300, 256, 64}};
    static const float scales[] = {1.0f, 0.125f, 3.3f};
    for (size_t ti = 0; ti < 3; ti++)
        for (int yf = 0; yf < 2; yf++) {
            const mlxn_dtype ydt = yf ? MLXN_F32 : tdts[ti];
            if (yf && tdts[ti] == MLXN_F32) continue;
            for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
                for (int ii = 0; ii < 2; ii++)
                    for (size_t si = 0; si < 3; si++)
                        for (int mis = 0; mis < 2; mis++) {
                            if (mis && (si != 0 || ii != 0)) continue;
                            const int64_t ns[1] = {geo[gi][2]};
                            gather_case(cx, tdts[ti], ydt, ii ? MLXN_U32 : MLXN_I32, geo[gi][0], geo[gi][1], 1, ns,
                                        scales[si], mis);
                        }
        }
    /* batch-shaped ids: [2, 3] -> y [2, 3, dim] */
    const int64_t ids2[2] = {2, 3};
    gather_case(cx, MLXN_BF16, MLXN_BF16, MLXN_I32, 40, 24, 2, ids2, 1.0f, 0);
    gather_case(cx, MLXN_F16, MLXN_F32, MLXN_U32, 40, 24, 2, ids2, 8.0f, 0);
}

/* ---- kv_cache_write ------------------------------------------------------------------ */

static void kv_case(ctx_t *cx, mlxn_dtype sdt, mlxn_dtype cdt, int sliding, int64_t T, int64_t H, int64_t D,
                    int64_t cap, uint32_t pos, int mis) {
    char name[192];
    snprintf(name, sizeof name, "kv_cache_write/%s.%s/%s/T%lld.H%lld.D%lld.cap%lld.pos%u%s", dtn(sdt), dtn(cdt),
             sliding ? "ring" : "linear", (long long)T, (long long)H, (long long)D, (long long)cap, pos,
             mis ? "/mis1" : "");
    if (!begin(cx, name)) return;
    mlxn_device *d = cx->env->dev;
    const int64_t ns = T * H * D, nc = H * cap * D;
    rng_t r;
    rng_seed(&r, hash_str(name));
    double *src = malloc(sizeof(double) * (size_t)ns), *want = malloc(sizeof(double) * (size_t)nc),
           *got = malloc(sizeof(double) * (size_t)nc);
    unsigned char *sraw = malloc((size_t)ns * mlxn_dtype_size(sdt));
    mlxn_buffer *sb = NULL, *sv = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    if (!src || !want || !got || !sraw) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    for (int64_t i = 0; i < ns; i++) {
        /* magnitudes 2^-30 .. 2^18 from f32/bf16: f16 subnormals, flushes and overflow to inf */
        const double e = rng_uniform(&r, -30.0, sdt == MLXN_F16 ? 15.9 : 18.0);
        src[i] = (rng_int(&r, 0, 1) ? -1.0 : 1.0) * exp2(e);
    }
    round_through(sdt, src, (size_t)ns);
    for (int64_t i = 0; i < nc; i++) want[i] = rng_uniform(&r, -1.0, 1.0); /* prior cache contents */
    round_through(cdt, want, (size_t)nc);
    host_from_double(sdt, src, (size_t)ns, sraw);
    const int64_t sshape[3] = {T, H, D}, cshape[3] = {H, cap, D};
    if (input_raw(d, sdt, 3, sshape, mis, sraw, &sb, &sv) || guarded_new(d, cdt, 3, cshape, mis, &g) ||
        guarded_fill(&g, want)) {
        fail_api(cx->rep, name, "alloc");
        goto out;
    }
    double *conv = malloc(sizeof(double) * (size_t)ns);
    if (!conv) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    memcpy(conv, src, sizeof(double) * (size_t)ns);
    round_through(cdt, conv, (size_t)ns); /* the one conversion, round to nearest even */
    ref_kv_cache_write(conv, want, T, H, D, cap, pos, sliding);
    free(conv);
    mlxn_kv_cache_params p = {pos, sliding};
    if (run_wait(cx->env->enc, mlxn_kv_cache_write(cx->env->enc, sv, g.view, &p))) {
        fail_api(cx->rep, name, "op");
        goto out;
    }
    bool guards = false;
    if (guarded_read(&g, got, &guards)) {
        fail_api(cx->rep, name, "read");
        goto out;
    }
    check_values(cx->rep, name, got, want, nc, guards);
out:
    guarded_free(&g);
    mlxn_buffer_free(sv);
    mlxn_buffer_free(sb);
    free(src);
    free(want);
    free(got);
    free(sraw);
}

/* K and V in one call: each pair must equal the single write's reference.
   V's source and cache get their own values (a mixed-up pair fails). */
static void kv2_case(ctx_t *cx, mlxn_dtype sdt, mlxn_dtype cdt, int sliding, int64_t T, int64_t H, int64_t D,
                     int64_t cap, uint32_t pos, int mis) {
    char name[192];
    snprintf(name, sizeof name, "kv_cache_write_kv/%s.%s/%s/T%lld.H%lld.D%lld.cap%lld.pos%u%s", dtn(sdt), dtn(cdt),
             sliding ? "ring" : "linear", (long long)T, (long long)H, (long long)D, (long long)cap, pos,
             mis ? "/mis1" : "");
    if (!begin(cx, name)) return;
    mlxn_device *d = cx->env->dev;
    const int64_t ns = T * H * D, nc = H * cap * D;
    rng_t r;
    rng_seed(&r, hash_str(name));
    double *src[2] = {NULL, NULL}, *want[2] = {NULL, NULL}, *got = malloc(sizeof(double) * (size_t)nc);
    unsigned char *sraw[2] = {NULL, NULL};
    mlxn_buffer *sb[2] = {NULL, NULL}, *sv[2] = {NULL, NULL};
    guarded_t g[2];
    memset(g, 0, sizeof g);
    const int64_t sshape[3] = {T, H, D}, cshape[3] = {H, cap, D};
    bool ok = got != NULL;
    for (int k = 0; k < 2 && ok; k++) {
        src[k] = malloc(sizeof(double) * (size_t)ns);
        want[k] = malloc(sizeof(double) * (size_t)nc);
        sraw[k] = malloc((size_t)ns * mlxn_dtype_size(sdt));
        if (!src[k] || !want[k] || !sraw[k]) {
            ok = false;
            break;
        }
        for (int64_t i = 0; i < ns; i++) src[k][i] = rng_nonzero(&r, sdt, -4.0, 4.0);
        round_through(sdt, src[k], (size_t)ns);
        for (int64_t i = 0; i < nc; i++) want[k][i] = rng_uniform(&r, -1.0, 1.0); /* prior cache contents */
        round_through(cdt, want[k], (size_t)nc);
        host_from_double(sdt, src[k], (size_t)ns, sraw[k]);
        if (input_raw(d, sdt, 3, sshape, mis, sraw[k], &sb[k], &sv[k]) ||
            guarded_new(d, cdt, 3, cshape, mis, &g[k]) || guarded_fill(&g[k], want[k])) {
            fail_api(cx->rep, name, "alloc");
            goto out;
        }
        round_through(cdt, src[k], (size_t)ns); /* the one conversion */
        ref_kv_cache_write(src[k], want[k], T, H, D, cap, pos, sliding);
    }
    if (!ok) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    mlxn_kv_cache_params p = {pos, sliding};
    if (run_wait(cx->env->enc, mlxn_kv_cache_write_kv(cx->env->enc, sv[0], g[0].view, sv[1], g[1].view, &p))) {
        fail_api(cx->rep, name, "op");
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        char sub[200];
        snprintf(sub, sizeof sub, "%s/%c", name, "kv"[k]);
        bool guards = false;
        if (guarded_read(&g[k], got, &guards)) {
            fail_api(cx->rep, sub, "read");
            goto out;
        }
        check_values(cx->rep, sub, got, want[k], nc, guards);
    }
out:
    for (int k = 0; k < 2; k++) {
        guarded_free(&g[k]);
        mlxn_buffer_free(sv[k]);
        mlxn_buffer_free(sb[k]);
        free(src[k]);
        free(want[k]);
        free(sraw[k]);
    }
    free(got);
}

static void kv_cases(ctx_t *cx) {
    static const mlxn_dtype dts[] = {MLXN_F32, MLXN_F16, MLXN_BF16};
    static const struct { int sliding; int64_t T, H, D, cap; uint32_t pos; } geo[] = {
        {0, 1, 1, 1, 1, 0},    {0, 1, 3, 64, 16, 15},   {0, 5, 3, 33, 16, 3},  {0, 16, 2, 8, 16, 0},
        {0, 7, 4, 128, 40, 20}, {1, 6, 3, 33, 8, 5},    {1, 8, 2, 64, 8, 4},   {1, 3, 2, 16, 8, 1000003},
        {1, 1, 8, 128, 32, 31}, {1, 5, 1, 7, 5, 4294967295u},
    };
    for (size_t si = 0; si < 3; si++)
        for (size_t ci = 0; ci < 3; ci++)
            for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
                for (int mis = 0; mis < 2; mis++) {
                    if (mis && gi % 3 != 1) continue;
                    kv_case(cx, dts[si], dts[ci], geo[gi].sliding, geo[gi].T, geo[gi].H, geo[gi].D, geo[gi].cap,
                            geo[gi].pos, mis);
                }
    for (size_t si = 0; si < 3; si++)
        for (size_t ci = 0; ci < 3; ci++)
            for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi += 2)
                kv2_case(cx, dts[si], dts[ci], geo[gi + (si + ci) % 2].sliding, geo[gi + (si + ci) % 2].T,
                         geo[gi + (si + ci) % 2].H, geo[gi + (si + ci) % 2].D, geo[gi + (si + ci) % 2].cap,
                         geo[gi + (si + ci) % 2].pos, (int)((si + gi) % 2));
}

/* ---- validation ------------------------------------------------------------------------ */

typedef struct {
    ctx_t *cx;
    char name[160];
    guarded_t g;           /* the output, NaN-poisoned: must stay untouched */
    mlxn_buffer *tmp[6];
    int ntmp;
} vctx;

static bool vbegin(vctx *v, ctx_t *cx, const char *name, mlxn_dtype ydt, int ndim, const int64_t *yshape) {
    memset(v, 0, sizeof *v);
    v->cx = cx;
    snprintf(v->name, sizeof v->name, "layout/validate/%s", name);
    if (!begin(cx, v->name)) return false;
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

static bool untouched(guarded_t *g) {
    const size_t es = mlxn_dtype_size(g->dtype);
    unsigned char *h = malloc((size_t)g->total * es);
    if (!h || mlxn_buffer_read(g->base, h, (size_t)g->total * es)) {
        free(h);
        return false;
    }
    bool ok = true;
    for (int64_t i = 0; i < g->total; i++) {
        const bool in = i >= g->lead && i < g->lead + g->n;
        for (size_t k = 0; k < es; k++) ok &= h[(size_t)i * es + k] == (in ? 0xFF : 0xA5);
    }
    free(h);
    return ok;
}

/* Status `want`, a message starting "<op>:" containing s1 and s2, the output untouched. */
static void vend(vctx *v, mlxn_status got, mlxn_status want, const char *op, const char *s1, const char *s2) {
    /* let anything wrongly encoded run before looking at the output */
    (void)mlxn_encoder_commit(v->cx->env->enc);
    (void)mlxn_encoder_wait(v->cx->env->enc);
    const char *msg = mlxn_last_error();
    char head[32];
    snprintf(head, sizeof head, "%s:", op);
    const bool ok = got == want && strncmp(msg, head, strlen(head)) == 0 && (!s1 || strstr(msg, s1)) &&
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
    vctx v;

    /* gather_rows */
    const int64_t t84[2] = {8, 4}, n3[1] = {3}, y34[2] = {3, 4};
    mlxn_gather_params gp = {1.0f};
    if (vbegin(&v, cx, "gather_rows/null_encoder", MLXN_F32, 2, y34))
        vend(&v, mlxn_gather_rows(NULL, NULL, NULL, v.g.view, &gp), INV, "gather_rows", "encoder", NULL);
    if (vbegin(&v, cx, "gather_rows/null_table", MLXN_F32, 2, y34)) {
        mlxn_buffer *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, NULL, ids, v.g.view, &gp), INV, "gather_rows", "table is NULL", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/null_ids", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84);
        vend(&v, mlxn_gather_rows(e, t, NULL, v.g.view, &gp), INV, "gather_rows", "ids is NULL", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/null_params", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, NULL), INV, "gather_rows", "params", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/scale_nan", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        mlxn_gather_params p = {NAN};
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &p), INV, "gather_rows", "scale (nan)", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/table_i32", MLXN_I32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_I32, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), UNS, "gather_rows", "table dtype i32", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/ids_i64", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84), *ids = vbuf(&v, MLXN_I64, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), UNS, "gather_rows", "ids dtype i64", NULL);
    }
    if (vbegin(&v, cx, "gather_rows/y_dtype", MLXN_F16, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_BF16, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), INV, "gather_rows", "y dtype (f16)", "bf16");
    }
    if (vbegin(&v, cx, "gather_rows/table_3d", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 4, 4}), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), INV, "gather_rows", "table must be 2-D", "3 dims");
    }
    if (vbegin(&v, cx, "gather_rows/y_dim", MLXN_F32, 2, (const int64_t[]){3, 5})) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), INV, "gather_rows", "[3,5]", "dim (4)");
    }
    if (vbegin(&v, cx, "gather_rows/y_rows", MLXN_F32, 2, (const int64_t[]){4, 4})) {
        mlxn_buffer *t = vbuf(&v, MLXN_F32, 2, t84), *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), INV, "gather_rows", "[4,4]", "ids shape [3]");
    }
    if (vbegin(&v, cx, "gather_rows/y_overlaps_table", MLXN_F32, 2, y34)) {
        mlxn_buffer *t = vview(&v, v.g.base, (size_t)(v.g.lead - 4) * 4, MLXN_F32, 2, t84);
        mlxn_buffer *ids = vbuf(&v, MLXN_I32, 1, n3);
        vend(&v, mlxn_gather_rows(e, t, ids, v.g.view, &gp), INV, "gather_rows", "y overlaps table", NULL);
    }

    /* permute */
    const int64_t x23[2] = {2, 3}, y32[2] = {3, 2};
    mlxn_permute_params pp = {2, {1, 0, 0, 0}};
    if (vbegin(&v, cx, "permute/null_x", MLXN_F32, 2, y32))
        vend(&v, mlxn_permute(e, NULL, v.g.view, &pp), INV, "permute", "x is NULL", NULL);
    if (vbegin(&v, cx, "permute/null_params", MLXN_F32, 2, y32)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, x23);
        vend(&v, mlxn_permute(e, x, v.g.view, NULL), INV, "permute", "params", NULL);
    }
    if (vbegin(&v, cx, "permute/ndim_5", MLXN_F32, 2, y32)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, x23);
        mlxn_permute_params p = {5, {1, 0, 2, 3}};
        vend(&v, mlxn_permute(e, x, v.g.view, &p), INV, "permute", "ndim (5)", "[2, 4]");
    }
    if (vbegin(&v, cx, "permute/ndim_mismatch", MLXN_F32, 2, y32)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, x23);
        mlxn_permute_params p = {3, {1, 0, 2, 0}};
        vend(&v, mlxn_permute(e, x, v.g.view, &p), INV, "permute", "x has 2 dims", "ndim is 3");
    }
    if (vbegin(&v, cx, "permute/axis_out_of_range", MLXN_F32, 2, y32)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, x23);
        mlxn_permute_params p = {2, {2, 0, 0, 0}};
        vend(&v, mlxn_permute(e, x, v.g.view, &p), INV, "permute", "perm[0] (2)", "[0, 1]");
    }
    if (vbegin(&v, cx, "permute/repeated_axis", MLXN_F32, 3, (const int64_t[]){2, 3, 2})) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 3, 2});
        mlxn_permute_params p = {3, {0, 1, 0, 0}};
        vend(&v, mlxn_permute(e, x, v.g.view, &p), INV, "permute", "repeats axis 0", NULL);
    }
    if (vbegin(&v, cx, "permute/y_shape", MLXN_F32, 2, x23)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, x23);
        vend(&v, mlxn_permute(e, x, v.g.view, &pp), INV, "permute", "y.shape[0] (2)", "(3)");
    }
    if (vbegin(&v, cx, "permute/dtype_mismatch", MLXN_F16, 2, y32)) {
        mlxn_buffer *x = vbuf(&v, MLXN_BF16, 2, x23);
        vend(&v, mlxn_permute(e, x, v.g.view, &pp), INV, "permute", "f16", "bf16");
    }
    if (vbegin(&v, cx, "permute/in_place", MLXN_F32, 2, (const int64_t[]){3, 3})) {
        vend(&v, mlxn_permute(e, v.g.view, v.g.view, &pp), INV, "permute", "y overlaps x", "not in place");
    }

    /* copy_2d */
    const int64_t s40[1] = {40}, s20[1] = {20};
    mlxn_copy_2d_params cp = {4, 5, 10, 2, 5, 0};
    if (vbegin(&v, cx, "copy_2d/null_dst", MLXN_F32, 1, s20)) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 1, s40);
        vend(&v, mlxn_copy_2d(e, s, NULL, &cp), INV, "copy_2d", "dst is NULL", NULL);
    }
    if (vbegin(&v, cx, "copy_2d/null_params", MLXN_F32, 1, s20)) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 1, s40);
        vend(&v, mlxn_copy_2d(e, s, v.g.view, NULL), INV, "copy_2d", "params", NULL);
    }
    {
        static const struct { const char *name; mlxn_copy_2d_params p; const char *s1, *s2; } bc[] = {
            {"copy_2d/rows_zero", {0, 5, 10, 2, 5, 0}, "rows (0)", ">= 1"},
            {"copy_2d/cols_negative", {4, -1, 10, 2, 5, 0}, "cols (-1)", ">= 1"},
            {"copy_2d/src_col_negative", {4, 5, 10, -2, 5, 0}, "src_col (-2)", ">= 0"},
            {"copy_2d/src_stride_zero", {4, 5, 0, 2, 5, 0}, "src_stride (0)", ">= 1"},
            {"copy_2d/src_row_overrun", {4, 5, 10, 6, 5, 0}, "src_col (6) + cols (5) exceeds src_stride (10)", NULL},
            {"copy_2d/src_rows_overrun", {5, 5, 10, 2, 5, 0}, "block of 5 rows", "src's 40 elements"},
            {"copy_2d/dst_rows_overrun", {4, 5, 10, 2, 6, 1}, "block of 4 rows", "dst's 20 elements"},
            {"copy_2d/dst_col_overflow", {1, 5, 10, 0, INT64_MAX, INT64_MAX - 2}, "dst_col", "exceeds dst_stride", },
            {"copy_2d/huge_rows_no_overflow", {INT64_MAX, 1, 10, 0, INT64_MAX / 2, 0}, "block of", "src's 40"},
            {"copy_2d/huge_stride_no_overflow", {3, 1, INT64_MAX / 2, 0, 5, 0}, "block of 3 rows", "src's 40"},
        };
        for (size_t i = 0; i < sizeof bc / sizeof bc[0]; i++)
            if (vbegin(&v, cx, bc[i].name, MLXN_F32, 1, s20)) {
                mlxn_buffer *s = vbuf(&v, MLXN_F32, 1, s40);
                vend(&v, mlxn_copy_2d(e, s, v.g.view, &bc[i].p), INV, "copy_2d", bc[i].s1, bc[i].s2);
            }
    }
    if (vbegin(&v, cx, "copy_2d/dtype_mismatch", MLXN_F32, 1, s20)) {
        mlxn_buffer *s = vbuf(&v, MLXN_I32, 1, s40);
        vend(&v, mlxn_copy_2d(e, s, v.g.view, &cp), INV, "copy_2d", "i32", "f32");
    }
    if (vbegin(&v, cx, "copy_2d/overlap", MLXN_F32, 1, s20)) {
        mlxn_buffer *s = vview(&v, v.g.base, (size_t)(v.g.lead + 10) * 4, MLXN_F32, 1, s20);
        mlxn_copy_2d_params p = {2, 5, 10, 0, 10, 0};
        vend(&v, mlxn_copy_2d(e, s, v.g.view, &p), INV, "copy_2d", "dst overlaps src", NULL);
    }

    /* repeat_heads */
    const int64_t x324[3] = {3, 2, 4}, y384[3] = {3, 8, 4};
    mlxn_repeat_heads_params rp = {0};
    if (vbegin(&v, cx, "repeat_heads/null_params", MLXN_F32, 3, y384)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, x324);
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, NULL), INV, "repeat_heads", "params", NULL);
    }
    if (vbegin(&v, cx, "repeat_heads/bad_interleaved", MLXN_F32, 3, y384)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, x324);
        mlxn_repeat_heads_params p = {2};
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &p), INV, "repeat_heads", "interleaved (2)", NULL);
    }
    if (vbegin(&v, cx, "repeat_heads/h_not_multiple", MLXN_F32, 3, (const int64_t[]){3, 8, 4})) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, (const int64_t[]){3, 3, 4});
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "H (8)", "Hg (3)");
    }
    if (vbegin(&v, cx, "repeat_heads/t_mismatch", MLXN_F32, 3, (const int64_t[]){2, 8, 4})) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, x324);
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "y T (2)", "x T (3)");
    }
    if (vbegin(&v, cx, "repeat_heads/d_mismatch", MLXN_F32, 3, (const int64_t[]){3, 8, 5})) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 3, x324);
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "y D (5)", "x D (4)");
    }
    if (vbegin(&v, cx, "repeat_heads/x_2d", MLXN_F32, 3, y384)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F32, 2, (const int64_t[]){3, 8});
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "x must be 3-D", NULL);
    }
    if (vbegin(&v, cx, "repeat_heads/dtype_mismatch", MLXN_F32, 3, y384)) {
        mlxn_buffer *x = vbuf(&v, MLXN_F16, 3, x324);
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "f16", "f32");
    }
    if (vbegin(&v, cx, "repeat_heads/overlap", MLXN_F32, 3, y384)) {
        mlxn_buffer *x = vview(&v, v.g.base, (size_t)(v.g.lead + 8) * 4, MLXN_F32, 3, x324);
        vend(&v, mlxn_repeat_heads(e, x, v.g.view, &rp), INV, "repeat_heads", "y overlaps x", NULL);
    }

    /* kv_cache_write */
    const int64_t c4[3] = {8, 4096, 16}, s8[3] = {8, 8, 16};
    mlxn_kv_cache_params kp = {4090, 0};
    if (vbegin(&v, cx, "kv_cache_write/linear_overflow", MLXN_F16, 3, c4)) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, s8);
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &kp), INV, "kv_cache_write",
             "kv_cache_write: pos (4090) + T (8) exceeds cap (4096)", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/linear_pos_max", MLXN_F16, 3, c4)) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, s8);
        mlxn_kv_cache_params p = {4294967295u, 0};
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &p), INV, "kv_cache_write", "pos (4294967295) + T (8)", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/ring_t_exceeds_cap", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){5, 2, 8});
        mlxn_kv_cache_params p = {0, 1};
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &p), INV, "kv_cache_write", "T (5) exceeds cap (4)", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/bad_sliding", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_kv_cache_params p = {0, 7};
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &p), INV, "kv_cache_write", "sliding (7)", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/h_mismatch", MLXN_F32, 3, (const int64_t[]){3, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &(mlxn_kv_cache_params){0, 0}), INV, "kv_cache_write",
             "cache H (3)", "src H (2)");
    }
    if (vbegin(&v, cx, "kv_cache_write/d_mismatch", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 16});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &(mlxn_kv_cache_params){0, 0}), INV, "kv_cache_write",
             "cache D (8)", "src D (16)");
    }
    if (vbegin(&v, cx, "kv_cache_write/src_2d", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 2, (const int64_t[]){2, 8});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &(mlxn_kv_cache_params){0, 0}), INV, "kv_cache_write",
             "src must be 3-D", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/cache_i8", MLXN_I8, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &(mlxn_kv_cache_params){0, 0}), UNS, "kv_cache_write",
             "cache dtype i8", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/null_params", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, NULL), INV, "kv_cache_write", "params", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write/src_inside_cache", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *s = vview(&v, v.g.base, (size_t)(v.g.lead + 16) * 4, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        vend(&v, mlxn_kv_cache_write(e, s, v.g.view, &(mlxn_kv_cache_params){0, 0}), INV, "kv_cache_write",
             "cache overlaps src", NULL);
    }
    /* kv_cache_write_kv: the output under guard is k_cache (or v_cache) */
    const mlxn_kv_cache_params kv0 = {0, 0};
    if (vbegin(&v, cx, "kv_cache_write_kv/v_cache_dtype", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *ks = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vs = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vc = vbuf(&v, MLXN_F16, 3, (const int64_t[]){2, 4, 8});
        vend(&v, mlxn_kv_cache_write_kv(e, ks, v.g.view, vs, vc, &kv0), INV, "kv_cache_write_kv",
             "same dtypes", "v_cache f16");
    }
    if (vbegin(&v, cx, "kv_cache_write_kv/v_src_shape", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *ks = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vs = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 2, 8});
        mlxn_buffer *vc = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 4, 8});
        vend(&v, mlxn_kv_cache_write_kv(e, ks, v.g.view, vs, vc, &kv0), INV, "kv_cache_write_kv",
             "same shapes", "1 vs 2");
    }
    if (vbegin(&v, cx, "kv_cache_write_kv/v_overflow", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *ks = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vs = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vc = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 4, 8});
        vend(&v, mlxn_kv_cache_write_kv(e, ks, v.g.view, vs, vc, &(mlxn_kv_cache_params){4, 0}), INV,
             "kv_cache_write_kv", "pos (4) + T (1) exceeds cap (4)", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write_kv/v_cache_is_k_cache", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *ks = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vs = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        vend(&v, mlxn_kv_cache_write_kv(e, ks, v.g.view, vs, v.g.view, &kv0), INV, "kv_cache_write_kv",
             "v_cache overlaps k_cache", NULL);
    }
    if (vbegin(&v, cx, "kv_cache_write_kv/v_src_inside_k_cache", MLXN_F32, 3, (const int64_t[]){2, 4, 8})) {
        mlxn_buffer *ks = vbuf(&v, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vs = vview(&v, v.g.base, (size_t)(v.g.lead + 16) * 4, MLXN_F32, 3, (const int64_t[]){1, 2, 8});
        mlxn_buffer *vc = vbuf(&v, MLXN_F32, 3, (const int64_t[]){2, 4, 8});
        vend(&v, mlxn_kv_cache_write_kv(e, ks, v.g.view, vs, vc, &kv0), INV, "kv_cache_write_kv",
             "k_cache overlaps v_src", NULL);
    }
}

void layout_suite(const test_env *env, report_t *rep, bool list) {
    ctx_t cx = {env, rep, list};
    gather_cases(&cx);
    permute_cases(&cx);
    copy_2d_cases(&cx);
    repeat_cases(&cx);
    kv_cases(&cx);
    validate_cases(&cx);
}
