/* tests/ops/quant_mlx.c — differential and validation cases of the MLX
   quantized formats (mlxn_dequantize_mlx, mlxn_gather_mlx, mlxn_quantize_mlx)
   against tests/ref/ref_quant_mlx.c.

   The contract fixes every f32 operation (include/mlxn.h), so results are
   compared exactly, value for value (the sign of zero included; NaN only
   where the reference is NaN), never by NMSE. Inputs are random packed words
   (every u32 is a valid affine or fp4/fp8 payload), scales/biases drawn
   non-zero and rounded to their dtype, fp-mode scale bytes in a finite range
   (and a `full` variant with every byte, 0 and 255 included: 2^-127, inf and
   the NaNs of 0 * inf). Outputs sit between guard bytes, poisoned with NaN.
   `mis1` shifts every view (w by one word, scales/biases/ids/y by one
   element): misaligned starts, which also force the CUDA scalar store path.

   Names: quant_mlx/dequant/affine.b3.g64/bf16.f32/r5.k192[/mis1],
   quant_mlx/dequant/nvfp4.b4.g16/u8.f16/r3.k48/gs6.5, quant_mlx/gather/...,
   quant_mlx/quantize/b5.g32/f32.bf16/r7.k96, quant_mlx/validate/<name>. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ref/ref_quant_mlx.h"
#include "vkit.h"

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
} ctx_t;

static bool begin(ctx_t *cx, const char *name) {
    if (!report_wants(cx->rep, name)) return false;
    if (cx->list) {
        printf("%s\n", name);
        return false;
    }
    return true;
}

static const char *MODE[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};

/* A view `mis` elements into a fresh allocation holding `bytes`. */
static mlxn_status input_raw(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, int mis, const void *bytes,
                             mlxn_buffer **base, mlxn_buffer **view) {
    const size_t es = mlxn_dtype_size(t);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    const int64_t total = n + mis; /* the view ends where the allocation does: ASan sees any over-read */
    *base = NULL;
    *view = NULL;
    mlxn_status s = mlxn_buffer_new(d, t, 1, &total, base);
    if (s) return s;
    if ((s = mlxn_buffer_view(*base, (size_t)mis * es, t, ndim, shape, view))) return s;
    return mlxn_buffer_write(*view, bytes, (size_t)n * es);
}

static void check_exact(report_t *rep, const char *name, const double *got, const double *want, int64_t n,
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

typedef struct {
    int mode, bits, gs;
    mlxn_dtype sdt, ydt;
    int64_t rows, K;  /* dequantize: y rows; gather: table rows */
    int mis;
    int full;         /* fp modes: every scale byte */
    float gscale;     /* nvfp4 global scale (0 none) */
    /* gather */
    int gather;
    mlxn_dtype idt;
    int64_t nids;
    float mult;
    int batch;        /* dequantize: y as [2, rows/2, K] */
} qcase;

static void run_case(ctx_t *cx, const char *name, const qcase *c) {
    if (!begin(cx, name)) return;
    mlxn_device *d = cx->env->dev;
    rng_t r;
    rng_seed(&r, hash_str(name));
    const int64_t K = c->K, rows = c->rows, kw = K * c->bits / 32, ng = K / c->gs;
    const int64_t nw = rows * kw, ns = rows * ng;
    const int64_t nout_rows = c->gather ? c->nids : rows, nout = nout_rows * K;
    const bool affine = c->mode == 0;
    uint32_t *hw = malloc(sizeof(uint32_t) * (size_t)nw);
    double *sv = malloc(sizeof(double) * (size_t)ns), *bv = malloc(sizeof(double) * (size_t)ns);
    unsigned char *sb = malloc((size_t)ns), *sraw = malloc((size_t)ns * 4), *braw = malloc((size_t)ns * 4);
    int64_t *idv = malloc(sizeof(int64_t) * (size_t)(c->nids > 0 ? c->nids : 1));
    uint32_t *idraw = malloc(sizeof(uint32_t) * (size_t)(c->nids > 0 ? c->nids : 1));
    double *want = malloc(sizeof(double) * (size_t)nout), *got = malloc(sizeof(double) * (size_t)nout);
    mlxn_buffer *wb = NULL, *wv = NULL, *scb = NULL, *scv = NULL, *bb = NULL, *bvw = NULL, *ib = NULL, *iv = NULL;
    guarded_t g;
    memset(&g, 0, sizeof g);
    if (!hw || !sv || !bv || !sb || !sraw || !braw || !idv || !idraw || !want || !got) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    for (int64_t i = 0; i < nw; i++) hw[i] = (uint32_t)(rng_u64(&r) >> 32);
    if (affine) {
        for (int64_t i = 0; i < ns; i++) {
            sv[i] = rng_nonzero(&r, c->sdt, -0.5, 0.5);
            bv[i] = rng_nonzero(&r, c->sdt, -1.0, 1.0);
        }
        host_from_double(c->sdt, sv, (size_t)ns, sraw);
        host_from_double(c->sdt, bv, (size_t)ns, braw);
        host_to_double(c->sdt, sraw, (size_t)ns, sv);
        host_to_double(c->sdt, braw, (size_t)ns, bv);
    } else {
        for (int64_t i = 0; i < ns; i++) {
            if (c->full || c->mode == 3) sb[i] = (unsigned char)(rng_u64(&r) >> 56);
            else sb[i] = (unsigned char)rng_int(&r, 112, 142);
        }
        if (c->full && ns >= 2) {
            sb[0] = 0;
            sb[ns - 1] = 255;
        }
    }
    const double gfac = c->gscale != 0.0f ? (double)(c->gscale / 2688.0f) : -1.0;
    const double mult = c->gather ? (double)c->mult : 1.0;
    if (c->gather) {
        for (int64_t t = 0; t < c->nids; t++) {
            int64_t id = rng_int(&r, 0, rows - 1);
            if (t % 5 == 3) id = c->idt == MLXN_I32 ? -1 - rng_int(&r, 0, 3) : rows + rng_int(&r, 0, 3); /* out of range */
            if (t % 7 == 6) id = c->idt == MLXN_I32 ? INT32_MIN : (int64_t)UINT32_MAX;
            idv[t] = id;
            idraw[t] = (uint32_t)id; /* two's complement for i32 */
            double *o = want + t * K;
            if (id < 0 || id >= rows)
                for (int64_t k = 0; k < K; k++) o[k] = 0.0;
            else
                ref_mlxq_row(c->mode, c->bits, c->gs, (const unsigned char *)hw, sv, bv, sb, K, id, gfac, mult, o);
        }
    } else {
        for (int64_t rr = 0; rr < rows; rr++)
            ref_mlxq_row(c->mode, c->bits, c->gs, (const unsigned char *)hw, sv, bv, sb, K, rr, gfac, 1.0,
                         want + rr * K);
    }
    round_through(c->ydt, want, (size_t)nout);

    /* device buffers */
    const int64_t half = rows / 2;
    const bool batch = c->batch && !c->gather && rows % 2 == 0;
    int64_t wsh[3], ssh[3], ysh[3];
    int nd = 2;
    if (batch) {
        nd = 3;
        wsh[0] = ssh[0] = ysh[0] = 2;
        wsh[1] = ssh[1] = ysh[1] = half;
        wsh[2] = kw;
        ssh[2] = ng;
        ysh[2] = K;
    } else {
        wsh[0] = ssh[0] = rows;
        wsh[1] = kw;
        ssh[1] = ng;
        ysh[0] = nout_rows;
        ysh[1] = K;
    }
    mlxn_status s = input_raw(d, MLXN_U32, nd, wsh, c->mis, hw, &wb, &wv);
    if (!s) s = input_raw(d, affine ? c->sdt : MLXN_U8, nd, ssh, c->mis, affine ? (void *)sraw : (void *)sb, &scb, &scv);
    if (!s && affine) s = input_raw(d, c->sdt, nd, ssh, c->mis, braw, &bb, &bvw);
    if (!s && c->gather) s = input_raw(d, c->idt, 1, &c->nids, c->mis, idraw, &ib, &iv);
    if (!s) s = guarded_new(d, c->ydt, nd, ysh, c->mis, &g);
    if (s) {
        report_case(cx->rep, name, false, "setup: %s", mlxn_last_error());
        goto out;
    }
    mlxn_mlxq_params p = {(mlxn_mlxq_mode)c->mode, c->bits, c->gs, c->gscale};
    if (c->gather) {
        mlxn_gather_mlx_params gp = {p, c->mult};
        s = mlxn_gather_mlx(cx->env->enc, wv, scv, bvw, iv, g.view, &gp);
    } else {
        s = mlxn_dequantize_mlx(cx->env->enc, wv, scv, bvw, g.view, &p);
    }
    if (!s) s = mlxn_encoder_commit(cx->env->enc);
    if (!s) s = mlxn_encoder_wait(cx->env->enc);
    if (s) {
        report_case(cx->rep, name, false, "op: %s", mlxn_last_error());
        goto out;
    }
    bool guards = false;
    if (guarded_read(&g, got, &guards)) {
        report_case(cx->rep, name, false, "read: %s", mlxn_last_error());
        goto out;
    }
    check_exact(cx->rep, name, got, want, nout, guards);
out:
    guarded_free(&g);
    mlxn_buffer_free(wv);
    mlxn_buffer_free(wb);
    mlxn_buffer_free(scv);
    mlxn_buffer_free(scb);
    mlxn_buffer_free(bvw);
    mlxn_buffer_free(bb);
    mlxn_buffer_free(iv);
    mlxn_buffer_free(ib);
    free(hw);
    free(sv);
    free(bv);
    free(sb);
    free(sraw);
    free(braw);
    free(idv);
    free(idraw);
    free(want);
    free(got);
}

static void case_name(char *buf, size_t n, const qcase *c) {
    const char *sd = c->mode == 0 ? mlxn_dtype_name(c->sdt) : "u8";
    int o;
    if (c->gather)
        o = snprintf(buf, n, "quant_mlx/gather/%s.b%d.g%d/%s.%s/%s/r%lld.k%lld.n%lld/s%g", MODE[c->mode], c->bits,
                     c->gs, sd, mlxn_dtype_name(c->ydt), mlxn_dtype_name(c->idt), (long long)c->rows,
                     (long long)c->K, (long long)c->nids, (double)c->mult);
    else
        o = snprintf(buf, n, "quant_mlx/dequant/%s.b%d.g%d/%s.%s/r%lld.k%lld%s", MODE[c->mode], c->bits, c->gs, sd,
                     mlxn_dtype_name(c->ydt), (long long)c->rows, (long long)c->K, c->batch ? "/batch2" : "");
    if (c->full) o += snprintf(buf + o, n - (size_t)o, "/full");
    if (c->gscale != 0.0f) o += snprintf(buf + o, n - (size_t)o, "/gs%g", (double)c->gscale);
    if (c->mis) snprintf(buf + o, n - (size_t)o, "/mis%d", c->mis);
}

static void run(ctx_t *cx, const qcase *c) {
    char name[200];
    case_name(name, sizeof name, c);
    run_case(cx, name, c);
}

static const mlxn_dtype FDT[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};

static void differential_cases(ctx_t *cx) {
    static const int BITS[] = {2, 3, 4, 5, 6, 8}, GS[] = {32, 64, 128};
    /* every affine bits x group x scale dtype x output dtype, odd row count */
    for (int bi = 0; bi < 6; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int si = 0; si < 3; si++)
                for (int yi = 0; yi < 3; yi++) {
                    qcase c = {0};
                    c.mode = 0;
                    c.bits = BITS[bi];
                    c.gs = GS[gi];
                    c.sdt = FDT[si];
                    c.ydt = FDT[yi];
                    c.rows = 5;
                    c.K = 3 * c.gs;
                    run(cx, &c);
                    c.mis = 1; /* misaligned views */
                    run(cx, &c);
                }
    /* the fp modes, each output dtype, aligned and misaligned, full scale range */
    static const int FPB[4] = {0, 4, 8, 4}, FPG[4] = {0, 32, 32, 16};
    for (int m = 1; m <= 3; m++)
        for (int yi = 0; yi < 3; yi++)
            for (int v = 0; v < 3; v++) {
                qcase c = {0};
                c.mode = m;
                c.bits = FPB[m];
                c.gs = FPG[m];
                c.sdt = MLXN_U8;
                c.ydt = FDT[yi];
                c.rows = 7;
                c.K = 4 * c.gs;
                c.mis = v == 1;
                c.full = v == 2;
                run(cx, &c);
                if (m == 3 && v == 0) {
                    c.gscale = 6.5f; /* nvfp4 global scale */
                    run(cx, &c);
                    c.gscale = 1e-3f;
                    c.mis = 1;
                    run(cx, &c);
                    c.gscale = 1e-44f; /* its factor underflows to 0 in f32: still applied */
                    run(cx, &c);
                    /* K an odd multiple of 16: rows of an odd number of 8-byte halves */
                    c.gscale = 0.0f;
                    c.mis = 0;
                    c.K = 48;
                    run(cx, &c);
                    c.K = 16;
                    c.mis = 1;
                    run(cx, &c);
                }
            }
    /* large enough that every GPU thread decodes all of its items on the fast
       path (several 16-byte items per thread, many blocks per SM), for each
       bits value and the fp modes, into every output dtype */
    {
        static const int LB[] = {2, 3, 4, 5, 6, 8};
        for (int b = 0; b < 6; b++) {
            qcase c = {0};
            c.mode = 0;
            c.bits = LB[b];
            c.gs = b % 2 ? 128 : 64;
            c.sdt = b % 3 == 0 ? MLXN_F32 : b % 3 == 1 ? MLXN_F16 : MLXN_BF16;
            c.ydt = b % 3 == 0 ? MLXN_BF16 : b % 3 == 1 ? MLXN_F32 : MLXN_F16;
            c.rows = 517;
            c.K = 2048;
            c.mis = b == 5;
            run(cx, &c);
        }
        for (int m = 1; m < 4; m++) {
            qcase c = {0};
            c.mode = m;
            c.bits = FPB[m];
            c.gs = FPG[m];
            c.sdt = MLXN_U8;
            c.ydt = m == 2 ? MLXN_F32 : MLXN_BF16;
            c.rows = 517;
            c.K = 2048;
            run(cx, &c);
        }
    }
    /* larger and batched shapes */
    {
        qcase c = {0};
        c.mode = 0;
        c.bits = 4;
        c.gs = 64;
        c.sdt = MLXN_BF16;
        c.ydt = MLXN_BF16;
        c.rows = 33;
        c.K = 4096;
        run(cx, &c);
        c.bits = 3;
        c.ydt = MLXN_F32;
        c.rows = 4;
        c.batch = 1;
        c.K = 128 * 7;
        c.gs = 128;
        run(cx, &c);
        c.bits = 6;
        c.mis = 1;
        run(cx, &c);
        c.mode = 1;
        c.bits = 4;
        c.gs = 32;
        c.sdt = MLXN_U8;
        c.mis = 0;
        run(cx, &c);
    }
    /* gather: every affine bit width, both id dtypes, out-of-range ids, multiplier */
    for (int bi = 0; bi < 6; bi++)
        for (int ii = 0; ii < 2; ii++) {
            qcase c = {0};
            c.gather = 1;
            c.mode = 0;
            c.bits = BITS[bi];
            c.gs = GS[(bi + ii) % 3];
            c.sdt = FDT[bi % 3];
            c.ydt = FDT[(bi + ii + 1) % 3];
            c.idt = ii ? MLXN_U32 : MLXN_I32;
            c.rows = 11;
            c.K = 2 * c.gs;
            c.nids = 17;
            c.mult = ii ? 1.0f : 45.254834f; /* sqrt(2048) */
            run(cx, &c);
            c.mis = 1;
            run(cx, &c);
        }
    for (int m = 1; m <= 3; m++) {
        qcase c = {0};
        c.gather = 1;
        c.mode = m;
        c.bits = FPB[m];
        c.gs = FPG[m];
        c.sdt = MLXN_U8;
        c.ydt = FDT[m - 1];
        c.idt = MLXN_I32;
        c.rows = 9;
        c.K = 3 * c.gs; /* nvfp4: K = 48 */
        c.nids = 12;
        c.mult = 2.5f;
        run(cx, &c);
    }
    {
        /* decode shape: one id from a wide table */
        qcase c = {0};
        c.gather = 1;
        c.mode = 0;
        c.bits = 4;
        c.gs = 64;
        c.sdt = MLXN_BF16;
        c.ydt = MLXN_F32;
        c.idt = MLXN_U32;
        c.rows = 300;
        c.K = 2560;
        c.nids = 1;
        c.mult = 50.596443f; /* sqrt(2560) */
        run(cx, &c);
    }
}

/* ---- the host quantizer: round trip through dequantize_mlx ---------------------- */

/* Checks the quantizer's own contract on random rows (the oracle tests compare
   it with mx.quantize bit for bit). With the stored scale s and bias b of a
   group (exact doubles) the codes decode to the grid b + j*s, j in [0, 2^bits):
   (1) every element's code is a nearest grid point to x, up to the f32
   arithmetic of the quantizer and the rounding of s and b to s_dtype (MLX
   clamps, so an element beyond the grid maps to its end); (2) the bias is
   the group's larger-magnitude extreme (rounded to s_dtype), which the grid
   therefore hits exactly. */
static void quantize_case(ctx_t *cx, int bits, int gs, mlxn_dtype xdt, mlxn_dtype sdt) {
    char name[160];
    const int64_t rows = 7, k = 3 * gs;
    snprintf(name, sizeof name, "quant_mlx/quantize/b%d.g%d/%s.%s/r%lld.k%lld", bits, gs, mlxn_dtype_name(xdt),
             mlxn_dtype_name(sdt), (long long)rows, (long long)k);
    if (!begin(cx, name)) return;
    rng_t r;
    rng_seed(&r, hash_str(name));
    const int64_t n = rows * k, ng = n / gs, nw = n * bits / 32, nb = (1 << bits) - 1;
    double *x = malloc(sizeof(double) * (size_t)n), *sv = malloc(sizeof(double) * (size_t)ng),
           *bv = malloc(sizeof(double) * (size_t)ng);
    unsigned char *xr = malloc((size_t)n * 4), *sr = malloc((size_t)ng * 4), *br = malloc((size_t)ng * 4);
    uint32_t *wq = malloc(sizeof(uint32_t) * (size_t)nw);
    if (!x || !sv || !bv || !xr || !sr || !br || !wq) {
        report_case(cx->rep, name, false, "host out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        /* groups of different spans and offsets, some all-positive, some all-negative */
        const int64_t grp = i / gs;
        const double c0 = (grp % 3 == 0) ? 0.0 : (grp % 3 == 1 ? 2.0 : -3.0), span = 0.01 + (double)(grp % 5);
        x[i] = c0 + rng_nonzero(&r, xdt, -span, span);
    }
    host_from_double(xdt, x, (size_t)n, xr);
    host_to_double(xdt, xr, (size_t)n, x);
    mlxn_mlxq_params p = {MLXN_MLXQ_AFFINE, bits, gs, 0.0f};
    mlxn_status s = mlxn_quantize_mlx(xr, xdt, rows, k, &p, wq, sr, br, sdt);
    if (s) {
        report_case(cx->rep, name, false, "quantize: %s", mlxn_last_error());
        goto out;
    }
    host_to_double(sdt, sr, (size_t)ng, sv);
    host_to_double(sdt, br, (size_t)ng, bv);
    const double us = sdt == MLXN_F32 ? 0x1p-24 : sdt == MLXN_F16 ? 0x1p-11 : 0x1p-8, u32 = 0x1p-24;
    char why[200] = "";
    double worst = 0.0;
    for (int64_t gi = 0; gi < ng && !why[0]; gi++) {
        const double sc = sv[gi], b = bv[gi];
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < gs; j++) {
            lo = fmin(lo, x[gi * gs + j]);
            hi = fmax(hi, x[gi * gs + j]);
        }
        double edge = fabs(lo) > fabs(hi) ? lo : hi;
        round_through(sdt, &edge, 1);
        if (b != edge) {
            snprintf(why, sizeof why, "group %lld: bias %.9g is not the extreme %.9g", (long long)gi, b, edge);
            break;
        }
        const double slack = 4.0 * u32 * (fabs(edge) + nb * fabs(sc)) + 2.0 * us * (fabs(b) + nb * fabs(sc));
        for (int j = 0; j < gs; j++) {
            const int64_t e = gi * gs + j;
            const double xv = x[e];
            const uint32_t q = ref_mlxq_code((const unsigned char *)wq, n, bits, 0, e);
            double best = INFINITY;
            for (int64_t c = 0; c <= nb; c++) best = fmin(best, fabs(xv - (c * sc + b)));
            const double err = fabs(xv - (q * sc + b));
            if (err - best > worst) worst = err - best;
            if (!(err <= best + slack)) {
                snprintf(why, sizeof why, "x[%lld] %.9g: code %u decodes %.9g away, the nearest grid point %.9g",
                         (long long)e, xv, q, err, best);
                break;
            }
        }
    }
    report_case(cx->rep, name, !why[0], "%s", why[0] ? why : "codes on the nearest grid points, bias on the extreme");
out:
    free(x);
    free(sv);
    free(bv);
    free(xr);
    free(sr);
    free(br);
    free(wq);
}

static void quantize_cases(ctx_t *cx) {
    static const int BITS[] = {2, 3, 4, 5, 6, 8}, GS[] = {32, 64, 128};
    for (int bi = 0; bi < 6; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int xi = 0; xi < 3; xi++) quantize_case(cx, BITS[bi], GS[gi], FDT[xi], FDT[(xi + bi) % 3]);
}

/* ---- validation ----------------------------------------------------------------- */

static void validation_cases(const test_env *env, report_t *rep, bool list) {
    vctx v = {env, rep, list, NULL};
    mlxn_device *d = env->dev;
    mlxn_encoder *e = env->enc;
    const int64_t W[2] = {4, 16}, S[2] = {4, 2}, Y[2] = {4, 128}, S3[2] = {4, 3}, W3[2] = {4, 12}, YK[2] = {4, 96},
                  YB[2] = {5, 128}, W1[1] = {16}, ID[1] = {3}, YG[2] = {3, 128}, SF[2] = {4, 4};
    const mlxn_mlxq_params p4 = {MLXN_MLXQ_AFFINE, 4, 64, 0.0f};
    /* a valid call, as the baseline of every rejected variant */
#define SETUP(...)                                                                       \
    vset s = {.setup_ok = true};                                                         \
    mlxn_buffer *w = vs_new(&s, d, MLXN_U32, 2, W, 0x11);                                \
    mlxn_buffer *sc = vs_new(&s, d, MLXN_BF16, 2, S, 0x22);                              \
    mlxn_buffer *bi = vs_new(&s, d, MLXN_BF16, 2, S, 0x33);                              \
    mlxn_buffer *y = vs_new(&s, d, MLXN_F32, 2, Y, 0x44);                                \
    (void)w; (void)sc; (void)bi; (void)y;                                                \
    const uint64_t d0 = dispatches(d)
    VCASE(&v, "quant_mlx/validate/dequant/ok") {
        SETUP();
        vcheck_ok(&v, "quant_mlx/validate/dequant/ok", &s, d0, mlxn_dequantize_mlx(e, w, sc, bi, y, &p4));
    }
#define REJECT(nm, call, st, ...)                                                             \
    VCASE(&v, "quant_mlx/validate/" nm) {                                                     \
        SETUP();                                                                              \
        mlxn_status r_ = (call);                                                              \
        vcheck(&v, "quant_mlx/validate/" nm, &s, d0, r_, st, __VA_ARGS__, NULL);              \
    }
    const char *DQ = "dequantize_mlx", *GA = "gather_mlx";
    mlxn_mlxq_params pb7 = {MLXN_MLXQ_AFFINE, 7, 64, 0.0f}, pb1 = {MLXN_MLXQ_AFFINE, 1, 64, 0.0f},
                     pg48 = {MLXN_MLXQ_AFFINE, 4, 48, 0.0f}, pm9 = {(mlxn_mlxq_mode)9, 4, 64, 0.0f},
                     pmx8 = {MLXN_MLXQ_MXFP4, 8, 32, 0.0f}, pmxg = {MLXN_MLXQ_MXFP4, 4, 64, 0.0f},
                     pnvg = {MLXN_MLXQ_NVFP4, 4, 32, 0.0f}, pgs = {MLXN_MLXQ_AFFINE, 4, 64, 2.0f},
                     pnvn = {MLXN_MLXQ_NVFP4, 4, 16, -1.0f}, pnvi = {MLXN_MLXQ_NVFP4, 4, 16, INFINITY},
                     pmx = {MLXN_MLXQ_MXFP4, 4, 32, 0.0f}, p3 = {MLXN_MLXQ_AFFINE, 3, 32, 0.0f},
                     p8 = {MLXN_MLXQ_AFFINE, 8, 64, 0.0f};
    REJECT("dequant/null_encoder", mlxn_dequantize_mlx(NULL, w, sc, bi, y, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "encoder");
    REJECT("dequant/null_w", mlxn_dequantize_mlx(e, NULL, sc, bi, y, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ, "w is NULL");
    REJECT("dequant/null_scales", mlxn_dequantize_mlx(e, w, NULL, bi, y, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "scales is NULL");
    REJECT("dequant/null_y", mlxn_dequantize_mlx(e, w, sc, bi, NULL, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ, "y is NULL");
    REJECT("dequant/null_params", mlxn_dequantize_mlx(e, w, sc, bi, y, NULL), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "params is NULL");
    REJECT("dequant/bits7", mlxn_dequantize_mlx(e, w, sc, bi, y, &pb7), MLXN_ERR_INVALID_ARGUMENT, DQ, "bits (7)");
    REJECT("dequant/bits1", mlxn_dequantize_mlx(e, w, sc, bi, y, &pb1), MLXN_ERR_INVALID_ARGUMENT, DQ, "bits (1)");
    REJECT("dequant/group48", mlxn_dequantize_mlx(e, w, sc, bi, y, &pg48), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "group_size (48)");
    REJECT("dequant/mode9", mlxn_dequantize_mlx(e, w, sc, bi, y, &pm9), MLXN_ERR_INVALID_ARGUMENT, DQ, "mode (9)");
    REJECT("dequant/mxfp4_bits8", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pmx8), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "mxfp4 bits (8) must be 4");
    REJECT("dequant/mxfp4_group64", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pmxg), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "mxfp4 group_size (64) must be 32");
    REJECT("dequant/nvfp4_group32", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pnvg), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "nvfp4 group_size (32) must be 16");
    REJECT("dequant/affine_global_scale", mlxn_dequantize_mlx(e, w, sc, bi, y, &pgs), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "global_scale (2)");
    REJECT("dequant/nvfp4_global_neg", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pnvn), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "global_scale (-1)");
    REJECT("dequant/nvfp4_global_inf", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pnvi), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "global_scale (inf)");
    /* shapes */
    VCASE(&v, "quant_mlx/validate/dequant/k_not_multiple_of_group") {
        SETUP();
        mlxn_buffer *yk = vs_new(&s, d, MLXN_F32, 2, YK, 0x55); /* K 96, group 64 */
        vcheck(&v, "quant_mlx/validate/dequant/k_not_multiple_of_group", &s, d0,
               mlxn_dequantize_mlx(e, w, sc, bi, yk, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ,
               "K (96) must be a multiple of group_size (64)", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/w_shape") {
        SETUP();
        mlxn_buffer *w3 = vs_new(&s, d, MLXN_U32, 2, W3, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/w_shape", &s, d0, mlxn_dequantize_mlx(e, w3, sc, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w shape [4,12]", "[4] + [16]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/w_bits_mismatch") {
        SETUP(); /* 16 words per row hold K 128 at 4 bits, not at 8 */
        mlxn_buffer *s8 = vs_new(&s, d, MLXN_BF16, 2, S, 0x55), *b8 = vs_new(&s, d, MLXN_BF16, 2, S, 0x66);
        vcheck(&v, "quant_mlx/validate/dequant/w_bits_mismatch", &s, d0, mlxn_dequantize_mlx(e, w, s8, b8, y, &p8),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w shape [4,16]", "+ [32]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/w_1d") {
        SETUP();
        mlxn_buffer *w1 = vs_new(&s, d, MLXN_U32, 1, W1, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/w_1d", &s, d0, mlxn_dequantize_mlx(e, w1, sc, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w shape [16]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/scales_shape") {
        SETUP();
        mlxn_buffer *s3 = vs_new(&s, d, MLXN_BF16, 2, S3, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/scales_shape", &s, d0, mlxn_dequantize_mlx(e, w, s3, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "scales shape [4,3]", "[4] + [2]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/biases_shape") {
        SETUP();
        mlxn_buffer *b3 = vs_new(&s, d, MLXN_BF16, 2, S3, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/biases_shape", &s, d0, mlxn_dequantize_mlx(e, w, sc, b3, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "biases shape [4,3]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/rows_mismatch") {
        SETUP();
        mlxn_buffer *yb = vs_new(&s, d, MLXN_F32, 2, YB, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/rows_mismatch", &s, d0, mlxn_dequantize_mlx(e, w, sc, bi, yb, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w shape [4,16]", "[5] + [16]", NULL);
    }
    /* dtypes */
    VCASE(&v, "quant_mlx/validate/dequant/w_dtype") {
        SETUP();
        mlxn_buffer *wi = vs_new(&s, d, MLXN_I32, 2, W, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/w_dtype", &s, d0, mlxn_dequantize_mlx(e, wi, sc, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w dtype (i32) must be u32", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/scales_u8_affine") {
        SETUP();
        mlxn_buffer *su = vs_new(&s, d, MLXN_U8, 2, S, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/scales_u8_affine", &s, d0, mlxn_dequantize_mlx(e, w, su, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "affine scales dtype (u8)", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/biases_dtype") {
        SETUP();
        mlxn_buffer *bh = vs_new(&s, d, MLXN_F16, 2, S, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/biases_dtype", &s, d0, mlxn_dequantize_mlx(e, w, sc, bh, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "biases dtype (f16) must equal scales dtype (bf16)", NULL);
    }
    REJECT("dequant/affine_no_biases", mlxn_dequantize_mlx(e, w, sc, NULL, y, &p4), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "needs biases");
    REJECT("dequant/mxfp4_scales_bf16", mlxn_dequantize_mlx(e, w, sc, NULL, y, &pmx), MLXN_ERR_INVALID_ARGUMENT, DQ,
           "mxfp4 scales dtype (bf16) must be u8");
    VCASE(&v, "quant_mlx/validate/dequant/mxfp4_with_biases") {
        SETUP();
        mlxn_buffer *su = vs_new(&s, d, MLXN_U8, 2, SF, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/mxfp4_with_biases", &s, d0, mlxn_dequantize_mlx(e, w, su, bi, y, &pmx),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "mxfp4 mode takes no biases", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/y_i32") {
        SETUP();
        mlxn_buffer *yi = vs_new(&s, d, MLXN_I32, 2, Y, 0x55);
        vcheck(&v, "quant_mlx/validate/dequant/y_i32", &s, d0, mlxn_dequantize_mlx(e, w, sc, bi, yi, &p4),
               MLXN_ERR_UNSUPPORTED, DQ, "i32", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/y_overlaps_w") {
        vset s = {.setup_ok = true};
        const int64_t big[1] = {4096};
        mlxn_buffer *base = vs_new(&s, d, MLXN_F32, 1, big, 0x11);
        mlxn_buffer *w = vs_view(&s, base, 0, MLXN_U32, 2, W);
        mlxn_buffer *sc = vs_new(&s, d, MLXN_BF16, 2, S, 0x22), *bi = vs_new(&s, d, MLXN_BF16, 2, S, 0x33);
        mlxn_buffer *y = vs_view(&s, base, 128, MLXN_F32, 2, Y);
        const uint64_t d0 = dispatches(d);
        vcheck(&v, "quant_mlx/validate/dequant/y_overlaps_w", &s, d0, mlxn_dequantize_mlx(e, w, sc, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "y overlaps w", NULL);
    }
    VCASE(&v, "quant_mlx/validate/dequant/other_device") {
        SETUP();
        mlxn_device *o = NULL;
        mlxn_buffer *wo = NULL;
        if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &o) || mlxn_buffer_new(o, MLXN_U32, 2, W, &wo)) s.setup_ok = false;
        vcheck(&v, "quant_mlx/validate/dequant/other_device", &s, d0, mlxn_dequantize_mlx(e, wo, sc, bi, y, &p4),
               MLXN_ERR_INVALID_ARGUMENT, DQ, "w", NULL);
        mlxn_buffer_free(wo);
        mlxn_device_close(o);
    }
    /* gather */
    VCASE(&v, "quant_mlx/validate/gather/ok") {
        SETUP();
        mlxn_buffer *ids = vs_new(&s, d, MLXN_I32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, YG, 0x55);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck_ok(&v, "quant_mlx/validate/gather/ok", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, yg, &gp));
    }
    VCASE(&v, "quant_mlx/validate/gather/scale_nan") {
        SETUP();
        mlxn_buffer *ids = vs_new(&s, d, MLXN_I32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, YG, 0x55);
        mlxn_gather_mlx_params gp = {p4, NAN};
        vcheck(&v, "quant_mlx/validate/gather/scale_nan", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, yg, &gp),
               MLXN_ERR_INVALID_ARGUMENT, GA, "scale (nan) must be finite", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/ids_f32") {
        SETUP();
        mlxn_buffer *ids = vs_new(&s, d, MLXN_F32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, YG, 0x55);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck(&v, "quant_mlx/validate/gather/ids_f32", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, yg, &gp),
               MLXN_ERR_UNSUPPORTED, GA, "ids dtype f32", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/y_rows") {
        SETUP();
        mlxn_buffer *ids = vs_new(&s, d, MLXN_I32, 1, ID, 0x00);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck(&v, "quant_mlx/validate/gather/y_rows", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, y, &gp),
               MLXN_ERR_INVALID_ARGUMENT, GA, "y shape [4,128]", "ids' leading dims [3]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/k_mismatch") {
        SETUP();
        const int64_t yk[2] = {3, 192};
        mlxn_buffer *ids = vs_new(&s, d, MLXN_I32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, yk, 0x55);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck(&v, "quant_mlx/validate/gather/k_mismatch", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, yg, &gp),
               MLXN_ERR_INVALID_ARGUMENT, GA, "w shape [4,16]", "[4] + [24]", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/w_3d") {
        SETUP();
        const int64_t w3[3] = {2, 2, 16};
        mlxn_buffer *wq = vs_new(&s, d, MLXN_U32, 3, w3, 0x55);
        mlxn_buffer *ids = vs_new(&s, d, MLXN_I32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, YG, 0x66);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck(&v, "quant_mlx/validate/gather/w_3d", &s, d0, mlxn_gather_mlx(e, wq, sc, bi, ids, yg, &gp),
               MLXN_ERR_INVALID_ARGUMENT, GA, "w must be 2-D", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/null_ids") {
        SETUP();
        mlxn_buffer *yg = vs_new(&s, d, MLXN_F32, 2, YG, 0x55);
        mlxn_gather_mlx_params gp = {p4, 1.0f};
        vcheck(&v, "quant_mlx/validate/gather/null_ids", &s, d0, mlxn_gather_mlx(e, w, sc, bi, NULL, yg, &gp),
               MLXN_ERR_INVALID_ARGUMENT, GA, "ids is NULL", NULL);
    }
    VCASE(&v, "quant_mlx/validate/gather/bits3_group32_ok") {
        vset s = {.setup_ok = true};
        const int64_t w3s[2] = {4, 12}, s3s[2] = {4, 4}, y3s[2] = {3, 128};
        mlxn_buffer *w = vs_new(&s, d, MLXN_U32, 2, w3s, 0x11);
        mlxn_buffer *sc = vs_new(&s, d, MLXN_F16, 2, s3s, 0x22), *bi = vs_new(&s, d, MLXN_F16, 2, s3s, 0x33);
        mlxn_buffer *ids = vs_new(&s, d, MLXN_U32, 1, ID, 0x00);
        mlxn_buffer *yg = vs_new(&s, d, MLXN_BF16, 2, y3s, 0x55);
        const uint64_t d0 = dispatches(d);
        mlxn_gather_mlx_params gp = {p3, 2.0f};
        vcheck_ok(&v, "quant_mlx/validate/gather/bits3_group32_ok", &s, d0, mlxn_gather_mlx(e, w, sc, bi, ids, yg, &gp));
    }
#undef REJECT
#undef SETUP
    /* host quantizer */
    struct {
        const char *name;
        int bits, gs, mode;
        mlxn_dtype xdt, sdt;
        int64_t rows, k;
        int nonfinite, null_out;
        mlxn_status want;
        const char *needle;
    } qv[] = {
        {"quantize/bits7", 7, 64, 0, MLXN_F32, MLXN_F32, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT, "bits (7)"},
        {"quantize/group16", 4, 16, 0, MLXN_F32, MLXN_F32, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT, "group_size (16)"},
        {"quantize/k_not_multiple", 4, 64, 0, MLXN_F32, MLXN_F32, 2, 96, 0, 0, MLXN_ERR_INVALID_ARGUMENT,
         "k (96) must be a multiple of group_size (64)"},
        {"quantize/rows0", 4, 64, 0, MLXN_F32, MLXN_F32, 0, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT, "rows (0)"},
        {"quantize/x_i32", 4, 64, 0, MLXN_I32, MLXN_F32, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT, "x dtype (i32)"},
        {"quantize/scales_u8", 4, 64, 0, MLXN_F32, MLXN_U8, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT,
         "scales dtype (u8)"},
        {"quantize/mxfp4_biases", 4, 32, 1, MLXN_F32, MLXN_U8, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT,
         "mxfp4 mode takes no biases"},
        {"quantize/mxfp8_scales_f32", 8, 32, 2, MLXN_F32, MLXN_F32, 2, 64, 0, 0, MLXN_ERR_INVALID_ARGUMENT,
         "mxfp8 scales dtype (f32) must be u8"},
        {"quantize/nan", 4, 64, 0, MLXN_F32, MLXN_F32, 2, 64, 1, 0, MLXN_ERR_INVALID_ARGUMENT,
         "x[1, 5] (nan) is not finite"},
        {"quantize/null_wq", 4, 64, 0, MLXN_F32, MLXN_F32, 2, 64, 0, 1, MLXN_ERR_INVALID_ARGUMENT, "wq is NULL"},
    };
    for (size_t i = 0; i < sizeof qv / sizeof qv[0]; i++) {
        char name[120];
        snprintf(name, sizeof name, "quant_mlx/validate/%s", qv[i].name);
        VCASE(&v, name) {
            float x[256];
            uint32_t wq[64];
            float sc[16], bi[16];
            for (int j = 0; j < 256; j++) x[j] = (float)(j % 17) - 8.0f;
            if (qv[i].nonfinite) x[64 + 5] = NAN;
            memset(wq, 0x5A, sizeof wq);
            memset(sc, 0x5A, sizeof sc);
            memset(bi, 0x5A, sizeof bi);
            mlxn_mlxq_params p = {(mlxn_mlxq_mode)qv[i].mode, qv[i].bits, qv[i].gs, 0.0f};
            /* the fp modes take no biases, except in the case that checks that */
            void *biases = qv[i].mode && !strstr(qv[i].name, "biases") ? NULL : bi;
            mlxn_status st = mlxn_quantize_mlx(x, qv[i].xdt, qv[i].rows, qv[i].k, &p, qv[i].null_out ? NULL : wq, sc,
                                               biases, qv[i].sdt);
            const char *msg = mlxn_last_error();
            bool untouched = true;
            for (size_t b = 0; b < sizeof wq; b++) untouched &= ((unsigned char *)wq)[b] == 0x5A;
            for (size_t b = 0; b < sizeof sc; b++) untouched &= ((unsigned char *)sc)[b] == 0x5A;
            for (size_t b = 0; b < sizeof bi; b++) untouched &= ((unsigned char *)bi)[b] == 0x5A;
            const bool ok = st == qv[i].want && strncmp(msg, "quantize_mlx: ", 14) == 0 && strstr(msg, qv[i].needle) &&
                            untouched;
            report_case(rep, name, ok, "status %s (want %s), message \"%s\" (want \"%s\")%s", mlxn_status_str(st),
                        mlxn_status_str(qv[i].want), msg, qv[i].needle, untouched ? "" : ", an output was written");
        }
    }
}

void quant_mlx_suite(const test_env *env, report_t *rep, bool list) {
    ctx_t cx = {env, rep, list};
    differential_cases(&cx);
    quantize_cases(&cx);
    validation_cases(env, rep, list);
}
