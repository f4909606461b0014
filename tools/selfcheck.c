/* selfcheck.c — `mlxn demo`'s self-check: every op, every float dtype, on the
   chosen device (and on the CPU when that device is a GPU), against the
   float64 references of tests/ref on fresh random inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"
#include "ref/ref_elementwise.h"
#include "ref/ref_norm.h"
#include "ref/ref_rope.h"
#include "ref/ref_softmax.h"

typedef struct {
    const char *name;
    int op; /* 0 rope, 1 rope_multi, 2 vision_2d_rope */
    int seq, heads, hd;
    mlxn_rope_params rp;
    mlxn_rope_multi_params mp;
    mlxn_vision_2d_rope_params vp;
} sc_case;

static double check_one(mlxn_device *d, const sc_case *c, mlxn_dtype t, char *err, size_t errlen) {
    const int64_t n = (int64_t)c->seq * c->heads * c->hd, npos = c->op == 1 ? 4 * c->seq : c->seq;
    const size_t es = mlxn_dtype_size(t);
    double *x = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double *got = malloc(sizeof(double) * (size_t)n);
    int64_t *pi = malloc(sizeof(int64_t) * (size_t)(2 * npos));
    int32_t *ph = malloc(sizeof(int32_t) * (size_t)(2 * npos));
    void *h = malloc((size_t)n * es);
    mlxn_encoder *e = NULL;
    mlxn_buffer *bx = NULL, *by = NULL, *bp = NULL, *bp2 = NULL;
    double res = INFINITY;
    rng_t r;
    rng_seed(&r, hash_str(c->name) ^ (uint64_t)t);
    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(&r, -1, 1);
    round_through(t, x, (size_t)n);
    for (int64_t i = 0; i < 2 * npos; i++) ph[i] = (int32_t)(pi[i] = rng_int(&r, 0, 8192));
    int64_t shp[3] = {c->seq, c->heads, c->hd}, sp[1] = {npos};
    mlxn_status s = mlxn_encoder_new(d, &e);
    if (!s) s = mlxn_buffer_new(d, t, 3, shp, &bx);
    if (!s) s = mlxn_buffer_new(d, t, 3, shp, &by);
    if (!s) s = mlxn_buffer_new(d, MLXN_I32, 1, sp, &bp);
    if (!s) s = mlxn_buffer_new(d, MLXN_I32, 1, sp, &bp2);
    host_from_double(t, x, (size_t)n, h);
    if (!s) s = mlxn_buffer_write(bx, h, (size_t)n * es);
    if (!s) s = mlxn_buffer_write(bp, ph, sizeof(int32_t) * (size_t)npos);
    if (!s) s = mlxn_buffer_write(bp2, ph + npos, sizeof(int32_t) * (size_t)npos);
    memset(h, 0xff, (size_t)n * es); /* poison */
    if (!s) s = mlxn_buffer_write(by, h, (size_t)n * es);
    if (!s) {
        if (c->op == 0) {
            s = mlxn_rope(e, bx, by, bp, NULL, &c->rp);
            ref_rope(x, ref, 1, c->seq, c->heads, c->hd, pi, NULL, &c->rp);
        } else if (c->op == 1) {
            s = mlxn_rope_multi(e, bx, by, bp, &c->mp);
            ref_rope_multi(x, ref, pi, &c->mp);
        } else {
            s = mlxn_vision_2d_rope(e, bx, by, bp, bp2, &c->vp);
            ref_vision_2d_rope(x, ref, pi, pi + npos, &c->vp);
        }
    }
    if (!s) s = mlxn_encoder_wait(e);
    if (!s) s = mlxn_buffer_read(by, h, (size_t)n * es);
    if (!s) {
        host_to_double(t, h, (size_t)n, got);
        res = nmse(got, ref, (size_t)n);
    } else {
        snprintf(err, errlen, "%s", mlxn_last_error());
    }
    mlxn_buffer_free(bx);
    mlxn_buffer_free(by);
    mlxn_buffer_free(bp);
    mlxn_buffer_free(bp2);
    mlxn_encoder_free(e);
    free(x); free(ref); free(got); free(pi); free(ph); free(h);
    return res;
}


/* ---- the memory-bound families: one representative case each ------------- */

typedef enum { MB_RMS, MB_GLU, MB_GELU, MB_SOFTMAX } mb_op;
static const char *MB_NAMES[] = {"rms_norm [33,4096] w", "glu swiglu fused [9,2x1000]", "unary gelu [100003]",
                                 "softmax [64,4096] x0.125 mask"};

static double check_mb(mlxn_device *d, mb_op op, mlxn_dtype t, char *err, size_t errlen) {
    int64_t rows = 1, cols = 1, in_cols = 1;
    switch (op) {
    case MB_RMS: rows = 33; cols = in_cols = 4096; break;
    case MB_GLU: rows = 9; cols = 1000; in_cols = 2000; break;
    case MB_GELU: rows = 1; cols = in_cols = 100003; break;
    case MB_SOFTMAX: rows = 64; cols = in_cols = 4096; break;
    }
    const int64_t nin = rows * in_cols, nout = rows * cols, nmask = 8 * cols;
    double *x = malloc(sizeof(double) * (size_t)nin), *w = malloc(sizeof(double) * (size_t)cols);
    double *m = malloc(sizeof(double) * (size_t)nmask), *ref = malloc(sizeof(double) * (size_t)nout);
    double *got = malloc(sizeof(double) * (size_t)nout);
    mlxn_encoder *e = NULL;
    mlxn_buffer *bx = NULL, *bw = NULL, *bm = NULL, *by = NULL;
    double res = INFINITY;
    rng_t r;
    rng_seed(&r, 977u + (uint64_t)op * 31u + (uint64_t)t);
    for (int64_t i = 0; i < nin; i++) x[i] = rng_uniform(&r, -3, 3);
    for (int64_t i = 0; i < cols; i++) w[i] = rng_uniform(&r, 0.5, 1.5);
    for (int64_t i = 0; i < nmask; i++) m[i] = (i % cols) > (i / cols) * 500 ? -INFINITY : rng_uniform(&r, -1, 0);
    round_through(t, x, (size_t)nin);
    round_through(t, w, (size_t)cols);
    int64_t sx[2] = {rows, in_cols}, sy[2] = {rows, cols}, sw[1] = {cols}, sm[2] = {8, cols};
    mlxn_status s = mlxn_encoder_new(d, &e);
    if (!s) s = upload_values(d, t, 2, sx, x, &bx);
    if (!s) s = upload_values(d, t, 1, sw, w, &bw);
    if (!s) s = upload_values(d, MLXN_F32, 2, sm, m, &bm);
    if (!s) s = mlxn_buffer_new(d, t, 2, sy, &by);
    if (!s) {
        switch (op) {
        case MB_RMS: {
            mlxn_norm_params np = {1e-6f};
            s = mlxn_rms_norm(e, bx, bw, by, &np);
            ref_rms_norm(x, w, ref, rows, cols, 1e-6);
            break;
        }
        case MB_GLU: {
            mlxn_glu_params gp = {MLXN_GLU_SWIGLU};
            s = mlxn_glu(e, bx, NULL, by, &gp);
            ref_glu(MLXN_GLU_SWIGLU, x, NULL, ref, rows, cols);
            break;
        }
        case MB_GELU: {
            mlxn_unary_params up = {MLXN_UNARY_GELU, 0.0f};
            s = mlxn_unary(e, bx, by, &up);
            ref_unary(MLXN_UNARY_GELU, 0.0, x, ref, nout);
            break;
        }
        case MB_SOFTMAX: {
            mlxn_softmax_params sp = {0.125f, 0.0f};
            s = mlxn_softmax(e, bx, bm, by, &sp);
            ref_softmax(x, m, ref, rows, cols, 8, 0.125, 0.0);
            break;
        }
        }
    }
    if (!s) s = mlxn_encoder_wait(e);
    if (!s) {
        void *h = malloc((size_t)nout * mlxn_dtype_size(t));
        s = mlxn_buffer_read(by, h, (size_t)nout * mlxn_dtype_size(t));
        if (!s) {
            host_to_double(t, h, (size_t)nout, got);
            res = nmse(got, ref, (size_t)nout);
        }
        free(h);
    }
    if (s) snprintf(err, errlen, "%s", mlxn_last_error());
    mlxn_buffer_free(bx);
    mlxn_buffer_free(bw);
    mlxn_buffer_free(bm);
    mlxn_buffer_free(by);
    mlxn_encoder_free(e);
    free(x); free(w); free(m); free(ref); free(got);
    return res;
}

int cli_selfcheck(mlxn_device *d) {
    sc_case cases[6];
    memset(cases, 0, sizeof cases);
    cases[0] = (sc_case){"rope NORMAL [64,8,128] YaRN", 0, 64, 8, 128, mlxn_rope_params_default(128, MLXN_ROPE_NORMAL, 1e4f), {0}, {0}};
    cases[0].rp.freq_scale = 0.25f; cases[0].rp.ext_factor = 1.0f; cases[0].rp.n_ctx_orig = 4096;
    cases[1] = (sc_case){"rope NEOX partial [33,32,80] nd20", 0, 33, 32, 80, mlxn_rope_params_default(20, MLXN_ROPE_NEOX, 1e4f), {0}, {0}};
    cases[2] = (sc_case){"rope_multi IMROPE Qwen3.5 [17,8,256] r64", 1, 17, 8, 256, {0}, {256, 64, 8, 17, 1e7f, MLXN_ROPE_IMROPE, {11, 11, 10, 0}}, {0}};
    cases[3] = (sc_case){"rope_multi MROPE Qwen2-VL [9,12,128]", 1, 9, 12, 128, {0}, {128, 128, 12, 9, 1e6f, MLXN_ROPE_MROPE, {16, 24, 24, 0}}, {0}};
    cases[4] = (sc_case){"rope_multi VISION [40,16,80]", 1, 40, 16, 80, {0}, {80, 80, 16, 40, 1e4f, MLXN_ROPE_VISION, {20, 20, 0, 0}}, {0}};
    cases[5] = (sc_case){"vision_2d_rope [64,16,72]", 2, 64, 16, 72, {0}, {0}, {72, 16, 64, 100.0f}};
    const mlxn_dtype dts[3] = {MLXN_F32, MLXN_F16, MLXN_BF16};
    mlxn_device *devs[2] = {d, NULL};
    int ndev = 1;
    if (mlxn_device_backend(d) != MLXN_BACKEND_CPU && mlxn_device_open(MLXN_BACKEND_CPU, 0, &devs[1]) == MLXN_OK) ndev = 2;
    printf("| op | dtype | device | NMSE vs float64 | limit | |\n|---|---|---|---:|---:|---|\n");
    int fails = 0;
    for (int k = 0; k < ndev; k++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            for (int j = 0; j < 3; j++) {
                char err[256] = "";
                double e = check_one(devs[k], &cases[i], dts[j], err, sizeof err);
                bool ok = e <= nmse_limit(dts[j]);
                fails += !ok;
                printf("| %s | %s | %s | %.2e | %.0e | %s%s |\n", cases[i].name, mlxn_dtype_name(dts[j]),
                       mlxn_device_backend(devs[k]) == MLXN_BACKEND_CPU ? "cpu" : "cuda", e, nmse_limit(dts[j]),
                       ok ? "ok" : "FAIL ", err);
            }
    for (int k = 0; k < ndev; k++)
        for (int op = 0; op < 4; op++)
            for (int j = 0; j < 3; j++) {
                char err[256] = "";
                double e = check_mb(devs[k], (mb_op)op, dts[j], err, sizeof err);
                bool ok = e <= nmse_limit(dts[j]);
                fails += !ok;
                printf("| %s | %s | %s | %.2e | %.0e | %s%s |\n", MB_NAMES[op], mlxn_dtype_name(dts[j]),
                       mlxn_device_backend(devs[k]) == MLXN_BACKEND_CPU ? "cpu" : "cuda", e, nmse_limit(dts[j]),
                       ok ? "ok" : "FAIL ", err);
            }
    mlxn_device_close(devs[1]);
    return fails;
}
