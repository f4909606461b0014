/* test_core.c — unit tests of the core runtime on each backend: status and
   last error, dtypes and exact f16/bf16 conversion (exhaustive and against two
   independent oracles), devices, buffers and views, the pool, encoders, graph
   capture/replay (bit-identical to eager, zero allocations per replay), the
   device copy, timers and use from several threads.

   usage: test_core [-b cpu|cuda|all] [-v] */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mlxn.h"

static report_t *g_rep; /* the suite's report, set by suite() */

#define CHECK(name, cond, ...) report_case(g_rep, name, (cond), __VA_ARGS__)

/* ---- dtypes (backend independent) ---------------------------------------- */

static float bits_f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Independent oracle: round x to the nearest value with `mant` fraction bits,
   minimum normal exponent emin and overflow threshold, ties to even, done in
   double with nearbyint (the FPU's default round-to-nearest-even). */
static double ref_round(double x, int mant, int emin, double max_finite) {
    if (isnan(x) || isinf(x)) return x;
    double ax = fabs(x);
    int e;
    frexp(ax, &e);           /* ax = m * 2^e, m in [0.5, 1) */
    int exp = e - 1;         /* ax in [2^exp, 2^(exp+1)) */
    if (exp < emin) exp = emin;
    double quantum = ldexp(1.0, exp - mant);
    double r = nearbyint(ax / quantum) * quantum;
    /* overflow: values at or past max + half ulp round to Inf */
    double ulp_max = ldexp(1.0, (int)floor(log2(max_finite)) - mant);
    if (r > max_finite || ax >= max_finite + ulp_max / 2) r = INFINITY;
    return copysign(r, x);
}

static void test_dtypes(void) {
    CHECK("dtype/sizes", mlxn_dtype_size(MLXN_F32) == 4 && mlxn_dtype_size(MLXN_BF16) == 2 &&
                             mlxn_dtype_size(MLXN_I64) == 8 && mlxn_dtype_size(MLXN_U8) == 1 &&
                             mlxn_dtype_size((mlxn_dtype)99) == 0, NULL);
    CHECK("dtype/names", !strcmp(mlxn_dtype_name(MLXN_BF16), "bf16") && !strcmp(mlxn_dtype_name(MLXN_U32), "u32") &&
                             !strcmp(mlxn_dtype_name((mlxn_dtype)-1), "invalid"), NULL);
    CHECK("status/strings", !strcmp(mlxn_status_str(MLXN_OK), "ok") &&
                                strcmp(mlxn_status_str(MLXN_ERR_FORMAT), mlxn_status_str(MLXN_ERR_IO)) &&
                                mlxn_status_str((mlxn_status)1234) != NULL, NULL);

    /* f16: every bit pattern round-trips (NaN stays NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mlxn_f16_to_f32((uint16_t)h);
        uint16_t back = mlxn_f32_to_f16(f);
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h) bad++;
        if (!is_nan && (double)f != ref_round((double)f, 10, -14, 65504.0)) bad++;
    }
    CHECK("f16/exhaustive_roundtrip", bad == 0, "%d mismatches", bad);
    bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = mlxn_bf16_to_f32((uint16_t)b);
        uint16_t back = mlxn_f32_to_bf16(f);
        bool is_nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f);
        if (is_nan ? !(isnan(f) && isnan(mlxn_bf16_to_f32(back))) : back != b) bad++;
    }
    CHECK("bf16/exhaustive_roundtrip", bad == 0, "%d mismatches", bad);

    /* f32 -> f16/bf16 rounding on random bit patterns and on the midpoints */
    rng_t r;
    rng_seed(&r, 12345);
    int bad16 = 0, badb = 0, bad_native = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)rng_u64(&r);
        if (i % 4 == 0) u = (u & 0x8000ffffu) | ((uint32_t)rng_int(&r, 95, 145) << 23); /* f16 range */
        if (i % 4 == 1) u = (u & ~0x1fffu) | 0x1000u;                                 /* f16 ties   */
        if (i % 4 == 2) u = (u & ~0xffffu) | 0x8000u;                                 /* bf16 ties  */
        float f = bits_f(u);
        if (isnan(f)) {
            if (!isnan(mlxn_f16_to_f32(mlxn_f32_to_f16(f))) || !isnan(mlxn_bf16_to_f32(mlxn_f32_to_bf16(f)))) bad16++;
            continue;
        }
        double want16 = ref_round((double)f, 10, -14, 65504.0);
        double wantb = ref_round((double)f, 7, -126, (double)bits_f(0x7f7f0000u));
        if ((double)mlxn_f16_to_f32(mlxn_f32_to_f16(f)) != want16 ||
            signbit(mlxn_f16_to_f32(mlxn_f32_to_f16(f))) != signbit(f))
            bad16++;
        if ((double)mlxn_bf16_to_f32(mlxn_f32_to_bf16(f)) != wantb) badb++;
#ifdef __FLT16_MANT_DIG__
        /* the compiler's own correctly rounded conversion, a second oracle */
        _Float16 hf = (_Float16)f;
        uint16_t hb;
        memcpy(&hb, &hf, 2);
        if (hb != mlxn_f32_to_f16(f)) bad_native++;
#endif
    }
    CHECK("f16/rounding_vs_oracle", bad16 == 0, "%d mismatches", bad16);
    CHECK("bf16/rounding_vs_oracle", badb == 0, "%d mismatches", badb);
    CHECK("f16/rounding_vs_Float16", bad_native == 0, "%d mismatches", bad_native);
    CHECK("f16/specials", mlxn_f32_to_f16(65520.0f) == 0x7c00 && mlxn_f32_to_f16(65519.0f) == 0x7bff &&
                              mlxn_f32_to_f16(-0.0f) == 0x8000 && mlxn_f32_to_f16(bits_f(0x33000000u)) == 0 &&
                              mlxn_f32_to_f16(bits_f(0x33000001u)) == 1 && mlxn_f16_to_f32(1) == 0x1p-24f &&
                              isinf(mlxn_f16_to_f32(0xfc00)) && mlxn_f16_to_f32(0xfc00) < 0, NULL);
    CHECK("bf16/specials", mlxn_f32_to_bf16(INFINITY) == 0x7f80 && mlxn_f32_to_bf16(bits_f(0x7f7fffffu)) == 0x7f80 &&
                               mlxn_f32_to_bf16(bits_f(0x00000001u)) == 0 && mlxn_f32_to_bf16(bits_f(0x00008000u)) == 0 &&
                               mlxn_f32_to_bf16(bits_f(0x00018000u)) == 2 && f_bits(mlxn_bf16_to_f32(0x8001)) == 0x80010000u,
          NULL);
}

/* ---- devices and buffers ---------------------------------------------------- */

static void test_devices(mlxn_device *d) {
    mlxn_device *x = NULL;
    mlxn_status s = mlxn_device_open(MLXN_BACKEND_CPU, 3, &x);
    CHECK("device/bad_index", s == MLXN_ERR_NOT_FOUND && x == NULL && strstr(mlxn_last_error(), "device_open"), "%s",
          mlxn_last_error());
    s = mlxn_device_open((mlxn_backend)7, 0, &x);
    CHECK("device/bad_backend", s == MLXN_ERR_INVALID_ARGUMENT && x == NULL, "%s", mlxn_last_error());
    s = mlxn_device_open(MLXN_BACKEND_AUTO, 0, &x);
    CHECK("device/auto", s == MLXN_OK && x && mlxn_device_backend(x) != MLXN_BACKEND_AUTO &&
                             (mlxn_device_backend(x) == MLXN_BACKEND_CUDA) == (mlxn_device_count(MLXN_BACKEND_CUDA) > 0),
          "%s", mlxn_device_name(x));
    mlxn_device_close(x);
    mlxn_device_close(NULL);
    CHECK("device/name", strlen(mlxn_device_name(d)) > 0, "%s", mlxn_device_name(d));
    CHECK("device/sync", mlxn_device_synchronize(d) == MLXN_OK, "%s", mlxn_last_error());
}

static void test_buffers(mlxn_device *d) {
    int64_t shape[3] = {3, 5, 7};
    mlxn_buffer *b = NULL;
    mlxn_status s = mlxn_buffer_new(d, MLXN_F32, 3, shape, &b);
    CHECK("buffer/new", s == MLXN_OK && mlxn_buffer_numel(b) == 105 && mlxn_buffer_nbytes(b) == 420 &&
                            mlxn_buffer_ndim(b) == 3 && mlxn_buffer_shape(b)[1] == 5 && mlxn_buffer_dtype(b) == MLXN_F32 &&
                            mlxn_buffer_device(b) == d, "%s", mlxn_last_error());
    float host[105], back[105];
    for (int i = 0; i < 105; i++) host[i] = 1.0f;
    mlxn_buffer_read(b, host, sizeof host);
    bool zero = true;
    for (int i = 0; i < 105; i++) zero &= host[i] == 0.0f;
    CHECK("buffer/zero_filled", zero, NULL);
    for (int i = 0; i < 105; i++) host[i] = (float)i * 0.5f + 1.0f;
    s = mlxn_buffer_write(b, host, sizeof host);
    if (!s) s = mlxn_buffer_read(b, back, sizeof back);
    CHECK("buffer/roundtrip", s == MLXN_OK && !memcmp(host, back, sizeof host), "%s", mlxn_last_error());
    CHECK("buffer/write_wrong_size", mlxn_buffer_write(b, host, 8) == MLXN_ERR_INVALID_ARGUMENT &&
                                         strstr(mlxn_last_error(), "buffer_write: nbytes (8)"), "%s", mlxn_last_error());
    CHECK("buffer/read_wrong_size", mlxn_buffer_read(b, back, 424) == MLXN_ERR_INVALID_ARGUMENT, "%s", mlxn_last_error());

    /* views: offsets accumulate, and keep the storage alive */
    int64_t vs[2] = {5, 7};
    mlxn_buffer *v = NULL, *vv = NULL;
    s = mlxn_buffer_view(b, 35 * 4, MLXN_F32, 2, vs, &v);
    int64_t vvs[1] = {3};
    if (!s) s = mlxn_buffer_view(v, 4 * 4, MLXN_F32, 1, vvs, &vv);
    float part[3] = {0};
    mlxn_buffer_free(b);
    if (!s) s = mlxn_buffer_read(vv, part, sizeof part);
    CHECK("buffer/view_of_view_after_base_freed", s == MLXN_OK && part[0] == host[39] && part[2] == host[41] &&
                                                      mlxn_buffer_offset(vv) == 39 * 4 && mlxn_buffer_nbytes(vv) == 12,
          "%s", mlxn_last_error());
    mlxn_buffer *bad = (mlxn_buffer *)1;
    CHECK("buffer/view_out_of_range", mlxn_buffer_view(v, 4 * 30, MLXN_F32, 2, vs, &bad) == MLXN_ERR_INVALID_ARGUMENT &&
                                          bad == NULL, "%s", mlxn_last_error());
    CHECK("buffer/view_misaligned", mlxn_buffer_view(v, 2, MLXN_F32, 1, vvs, &bad) == MLXN_ERR_INVALID_ARGUMENT,
          "%s", mlxn_last_error());
    mlxn_buffer *hv = NULL;
    int64_t hs[1] = {6};
    s = mlxn_buffer_view(v, 2, MLXN_F16, 1, hs, &hv);
    CHECK("buffer/view_other_dtype", s == MLXN_OK && mlxn_buffer_nbytes(hv) == 12, "%s", mlxn_last_error());
    mlxn_buffer_free(hv);
    mlxn_buffer_free(vv);
    mlxn_buffer_free(v);
    mlxn_buffer_free(NULL);

    int64_t huge[3] = {1ll << 40, 1ll << 20, 8};
    CHECK("buffer/overflow", mlxn_buffer_new(d, MLXN_F32, 3, huge, &bad) == MLXN_ERR_INVALID_ARGUMENT, "%s",
          mlxn_last_error());
    int64_t zdim[2] = {4, 0};
    CHECK("buffer/zero_dim", mlxn_buffer_new(d, MLXN_F32, 2, zdim, &bad) == MLXN_ERR_INVALID_ARGUMENT &&
                                 strstr(mlxn_last_error(), "shape[1] (0)"), "%s", mlxn_last_error());
    CHECK("buffer/ndim9", mlxn_buffer_new(d, MLXN_F32, 9, shape, &bad) == MLXN_ERR_INVALID_ARGUMENT, "%s",
          mlxn_last_error());
    mlxn_buffer *sc = NULL;
    s = mlxn_buffer_new(d, MLXN_I64, 0, NULL, &sc);
    CHECK("buffer/scalar", s == MLXN_OK && mlxn_buffer_numel(sc) == 1 && mlxn_buffer_nbytes(sc) == 8, "%s",
          mlxn_last_error());
    mlxn_buffer_free(sc);
    int64_t one[1] = {1ll << 45};
    s = mlxn_buffer_new(d, MLXN_U8, 1, one, &bad);
    CHECK("buffer/out_of_memory", s == MLXN_ERR_OUT_OF_MEMORY && bad == NULL, "%s: %s", mlxn_status_str(s),
          mlxn_last_error());
}

static void test_pool(mlxn_device *d) {
    mlxn_pool *p = NULL;
    mlxn_pool_new(d, &p);
    mlxn_counters c0, c1;
    int64_t a[1] = {250}, b[1] = {1000}, c[2] = {3, 100};
    mlxn_buffer *x = NULL, *y = NULL, *z = NULL;
    mlxn_pool_alloc(p, MLXN_F32, 1, a, &x); /* 1000 bytes -> 1024 bucket */
    mlxn_pool_alloc(p, MLXN_U8, 1, b, &y);  /* 1000 bytes -> 1024 bucket */
    mlxn_pool_alloc(p, MLXN_F16, 2, c, &z); /* 600 bytes  -> 1024 bucket */
    mlxn_pool_stats st;
    mlxn_pool_get_stats(p, &st);
    CHECK("pool/first_step", x && y && z && st.in_use == 3 && st.device_allocs == 3 && st.in_use_bytes == 3072 &&
                                 mlxn_buffer_nbytes(z) == 600, "in_use %llu allocs %llu", (unsigned long long)st.in_use,
          (unsigned long long)st.device_allocs);
    mlxn_buffer_free(x);
    mlxn_buffer_free(y);
    mlxn_buffer_free(z);
    mlxn_device_counters(d, &c0);
    for (int step = 0; step < 10; step++) {
        mlxn_pool_reset(p);
        mlxn_pool_alloc(p, MLXN_F32, 1, a, &x);
        mlxn_pool_alloc(p, MLXN_U8, 1, b, &y);
        mlxn_pool_alloc(p, MLXN_F16, 2, c, &z);
        mlxn_buffer_free(x);
        mlxn_buffer_free(y);
        mlxn_buffer_free(z);
    }
    mlxn_device_counters(d, &c1);
    mlxn_pool_get_stats(p, &st);
    CHECK("pool/steps_allocate_nothing", c1.device_allocs == c0.device_allocs && st.hits == 30 && st.device_allocs == 3,
          "device allocs %llu -> %llu, hits %llu", (unsigned long long)c0.device_allocs,
          (unsigned long long)c1.device_allocs, (unsigned long long)st.hits);
    mlxn_pool_reset(p);
    int64_t big[1] = {5000};
    mlxn_pool_alloc(p, MLXN_F32, 1, big, &x); /* new 32 KiB bucket */
    mlxn_pool_get_stats(p, &st);
    CHECK("pool/new_bucket", st.device_allocs == 4 && st.free == 3, NULL);
    mlxn_pool_free(p); /* x still alive: its storage is freed with it */
    float tmp[5000];
    CHECK("pool/buffer_outlives_pool", mlxn_buffer_read(x, tmp, sizeof tmp) == MLXN_OK, "%s", mlxn_last_error());
    mlxn_buffer_free(x);
    CHECK("pool/bad_args", mlxn_pool_alloc(NULL, MLXN_F32, 1, a, &x) == MLXN_ERR_INVALID_ARGUMENT, NULL);
}

/* ---- encoders and graphs ---------------------------------------------------- */

/* A 40-op chain of rope and rope_multi, in place on two buffers. */
static mlxn_status chain(mlxn_encoder *e, mlxn_buffer *q, mlxn_buffer *k, mlxn_buffer *pos, mlxn_buffer *pos4) {
    mlxn_rope_params rp = mlxn_rope_params_default(64, MLXN_ROPE_NEOX, 10000.0f);
    mlxn_rope_multi_params mp = {128, 64, 8, 4, 1e7f, MLXN_ROPE_IMROPE, {11, 11, 10, 0}};
    mlxn_status s = MLXN_OK;
    for (int i = 0; i < 20 && !s; i++) {
        s = mlxn_rope(e, q, q, pos, NULL, &rp);
        if (!s) s = mlxn_rope_multi(e, k, k, pos4, &mp);
    }
    return s;
}

static void test_graph(mlxn_device *d) {
    mlxn_encoder *e = NULL;
    mlxn_encoder_new(d, &e);
    int64_t shq[3] = {4, 8, 128}, shp[1] = {4}, shp4[1] = {16};
    mlxn_buffer *q = NULL, *k = NULL, *pos = NULL, *pos4 = NULL;
    mlxn_buffer_new(d, MLXN_F32, 3, shq, &q);
    mlxn_buffer_new(d, MLXN_BF16, 3, shq, &k);
    mlxn_buffer_new(d, MLXN_I32, 1, shp, &pos);
    mlxn_buffer_new(d, MLXN_I32, 1, shp4, &pos4);
    rng_t r;
    rng_seed(&r, 7);
    float qh[4096];
    uint16_t kh[4096];
    int32_t ph[4] = {3, 17, 256, 1000}, p4[16];
    for (int i = 0; i < 4096; i++) {
        qh[i] = (float)rng_uniform(&r, -1, 1);
        kh[i] = mlxn_f32_to_bf16((float)rng_uniform(&r, -1, 1));
    }
    for (int i = 0; i < 16; i++) p4[i] = (int32_t)rng_int(&r, 0, 5000);
    mlxn_buffer_write(pos, ph, sizeof ph);
    mlxn_buffer_write(pos4, p4, sizeof p4);

    /* eager */
    mlxn_buffer_write(q, qh, sizeof qh);
    mlxn_buffer_write(k, kh, sizeof kh);
    mlxn_status s = chain(e, q, k, pos, pos4);
    if (!s) s = mlxn_encoder_wait(e);
    float qe[4096];
    uint16_t ke[4096];
    mlxn_buffer_read(q, qe, sizeof qe);
    mlxn_buffer_read(k, ke, sizeof ke);
    CHECK("graph/eager_chain", s == MLXN_OK, "%s", mlxn_last_error());

    /* capture, then replay on the original inputs */
    mlxn_buffer_write(q, qh, sizeof qh);
    mlxn_buffer_write(k, kh, sizeof kh);
    mlxn_graph *g = NULL;
    s = mlxn_encoder_begin_capture(e);
    if (!s) s = chain(e, q, k, pos, pos4);
    mlxn_status s2 = mlxn_encoder_end_capture(e, &g);
    CHECK("graph/capture", s == MLXN_OK && s2 == MLXN_OK && mlxn_graph_size(g) == 40, "%s (size %zu)",
          mlxn_last_error(), mlxn_graph_size(g));
    /* capture must not have executed anything */
    float qc[4096];
    mlxn_buffer_read(q, qc, sizeof qc);
    CHECK("graph/capture_does_not_run", !memcmp(qc, qh, sizeof qh), NULL);

    mlxn_device_counters_reset(d);
    s = mlxn_graph_launch(g, e);
    if (!s) s = mlxn_encoder_wait(e);
    mlxn_counters cn;
    mlxn_device_counters(d, &cn);
    float qr[4096];
    uint16_t kr[4096];
    mlxn_buffer_read(q, qr, sizeof qr);
    mlxn_buffer_read(k, kr, sizeof kr);
    CHECK("graph/replay_equals_eager_bitwise", s == MLXN_OK && !memcmp(qr, qe, sizeof qe) && !memcmp(kr, ke, sizeof ke),
          "%s", mlxn_last_error());
    CHECK("graph/replay_allocates_nothing", cn.device_allocs == 0 && cn.dispatches == 40 && cn.graph_launches == 1,
          "allocs %llu dispatches %llu", (unsigned long long)cn.device_allocs, (unsigned long long)cn.dispatches);

    /* the graph keeps its buffers alive after the caller frees them */
    mlxn_buffer_free(pos);
    mlxn_buffer_free(pos4);
    s = mlxn_graph_launch(g, e);
    if (!s) s = mlxn_graph_launch(g, e);
    if (!s) s = mlxn_encoder_wait(e);
    CHECK("graph/keeps_buffers_alive", s == MLXN_OK, "%s", mlxn_last_error());

    /* misuse */
    mlxn_graph *none = (mlxn_graph *)1;
    CHECK("graph/end_without_begin", mlxn_encoder_end_capture(e, &none) == MLXN_ERR_INVALID_ARGUMENT && none == NULL,
          NULL);
    mlxn_encoder_begin_capture(e);
    CHECK("graph/double_begin", mlxn_encoder_begin_capture(e) == MLXN_ERR_INVALID_ARGUMENT, NULL);
    CHECK("graph/wait_while_capturing", mlxn_encoder_wait(e) == MLXN_ERR_INVALID_ARGUMENT, NULL);
    CHECK("graph/launch_while_capturing", mlxn_graph_launch(g, e) != MLXN_OK, NULL);
    mlxn_graph *empty = NULL;
    s = mlxn_encoder_end_capture(e, &empty);
    CHECK("graph/empty", s == MLXN_OK && mlxn_graph_size(empty) == 0 && mlxn_graph_launch(empty, e) == MLXN_OK, "%s",
          mlxn_last_error());
    mlxn_graph_free(empty);
    mlxn_graph_free(g);
    mlxn_graph_free(NULL);

    /* copy and timers */
    mlxn_buffer *q2 = NULL;
    mlxn_buffer_new(d, MLXN_F32, 3, shq, &q2);
    mlxn_timer *t = NULL;
    double us = -1.0;
    s = mlxn_timer_new(d, &t);
    if (!s) s = mlxn_timer_start(t, e);
    if (!s) s = mlxn_buffer_copy(e, q, q2);
    if (!s) s = mlxn_timer_stop(t, e);
    if (!s) s = mlxn_timer_elapsed_us(t, &us);
    float qq[4096];
    mlxn_buffer_read(q2, qq, sizeof qq);
    mlxn_buffer_read(q, qr, sizeof qr);
    CHECK("copy/and_timer", s == MLXN_OK && !memcmp(qq, qr, sizeof qq) && us >= 0.0, "%s (%.2f us)", mlxn_last_error(),
          us);
    CHECK("copy/size_mismatch", mlxn_buffer_copy(e, q, k) == MLXN_ERR_INVALID_ARGUMENT, "%s", mlxn_last_error());
    mlxn_timer_free(t);
    mlxn_buffer_free(q2);
    mlxn_buffer_free(q);
    mlxn_buffer_free(k);
    mlxn_encoder_free(e);
}

/* A decode step on pooled buffers: after the first step, no device allocation. */
static void test_decode_step_allocs(mlxn_device *d) {
    mlxn_pool *p = NULL;
    mlxn_encoder *e = NULL;
    mlxn_pool_new(d, &p);
    mlxn_encoder_new(d, &e);
    int64_t sq[3] = {1, 32, 128}, sp[1] = {1};
    mlxn_rope_params rp = mlxn_rope_params_default(128, MLXN_ROPE_NEOX, 1e6f);
    uint64_t allocs_after_first = 0;
    bool ok = true;
    for (int step = 0; step < 5; step++) {
        mlxn_pool_reset(p);
        mlxn_buffer *x = NULL, *y = NULL, *pos = NULL;
        ok &= mlxn_pool_alloc(p, MLXN_F32, 3, sq, &x) == MLXN_OK;
        ok &= mlxn_pool_alloc(p, MLXN_F32, 3, sq, &y) == MLXN_OK;
        ok &= mlxn_pool_alloc(p, MLXN_I32, 1, sp, &pos) == MLXN_OK;
        ok &= mlxn_rope(e, x, y, pos, NULL, &rp) == MLXN_OK;
        ok &= mlxn_encoder_wait(e) == MLXN_OK;
        mlxn_buffer_free(x);
        mlxn_buffer_free(y);
        mlxn_buffer_free(pos);
        mlxn_counters c;
        mlxn_device_counters(d, &c);
        if (step == 0) allocs_after_first = c.device_allocs;
        else ok &= c.device_allocs == allocs_after_first;
    }
    CHECK("pool/decode_steps_zero_allocs", ok, "%s", mlxn_last_error());
    mlxn_encoder_free(e);
    mlxn_pool_free(p);
}

/* ---- threads: one device, an encoder per thread ------------------------------ */

typedef struct {
    mlxn_device *d;
    int id;
    bool ok;
} thr_arg;

static void *thread_main(void *arg) {
    thr_arg *a = arg;
    mlxn_encoder *e = NULL;
    int64_t sh[3] = {16, 4, 64}, sp[1] = {16};
    mlxn_buffer *x = NULL, *y = NULL, *pos = NULL;
    a->ok = mlxn_encoder_new(a->d, &e) == MLXN_OK && mlxn_buffer_new(a->d, MLXN_F32, 3, sh, &x) == MLXN_OK &&
            mlxn_buffer_new(a->d, MLXN_F32, 3, sh, &y) == MLXN_OK && mlxn_buffer_new(a->d, MLXN_I32, 1, sp, &pos) == MLXN_OK;
    float xh[4096], yh[4096], y0[4096];
    int32_t ph[16];
    for (int i = 0; i < 4096; i++) xh[i] = (float)((i * 7 + a->id) % 13) - 6.0f;
    for (int i = 0; i < 16; i++) ph[i] = i * 3 + a->id;
    mlxn_rope_params rp = mlxn_rope_params_default(64, MLXN_ROPE_NORMAL, 10000.0f);
    if (a->ok) {
        mlxn_buffer_write(x, xh, sizeof xh);
        mlxn_buffer_write(pos, ph, sizeof ph);
        for (int it = 0; it < 50 && a->ok; it++) {
            a->ok = mlxn_rope(e, x, y, pos, NULL, &rp) == MLXN_OK && mlxn_encoder_wait(e) == MLXN_OK &&
                    mlxn_buffer_read(y, yh, sizeof yh) == MLXN_OK;
            if (it == 0) memcpy(y0, yh, sizeof yh);
            else a->ok &= !memcmp(y0, yh, sizeof yh);
        }
    }
    mlxn_buffer_free(x);
    mlxn_buffer_free(y);
    mlxn_buffer_free(pos);
    mlxn_encoder_free(e);
    return NULL;
}

static void test_threads(mlxn_device *d) {
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){d, i, false};
        pthread_create(&th[i], NULL, thread_main, &args[i]);
    }
    bool ok = true;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok &= args[i].ok;
    }
    CHECK("threads/encoder_per_thread", ok, NULL);
}

static void suite(const test_env *env, report_t *rep, void *user) {
    g_rep = rep;
    bool *dtypes_done = user;
    if (!*dtypes_done) test_dtypes(); /* backend independent: once */
    *dtypes_done = true;
    test_devices(env->dev);
    test_buffers(env->dev);
    test_pool(env->dev);
    test_graph(env->dev);
    test_decode_step_allocs(env->dev);
    test_threads(env->dev);
}

int main(int argc, char **argv) {
    bool dtypes_done = false;
    return run_suite(argc, argv, "test_core", suite, &dtypes_done);
}
