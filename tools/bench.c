/* bench.c — `mlxn bench`: times each op on a device.

   Method (docs/PERF.md): the device's copy bandwidth is measured first (a
   device-to-device copy, bytes read + written). Each case then gets K input
   and output sets, enough that K ops move >= 256 MB on a GPU (5x the H100's
   50 MB L2) so no op is served from cache; a timed repetition launches the op
   once per set back to back between two device timers (CUDA events), and the
   per-op time is elapsed / K, which includes launch gaps as a real decode step
   does. The median of the repetitions is reported, with GB/s (10^9), the share
   of the copy bandwidth, and the peer's figure with the ratio peer/ours
   (> 1 means mlxn is faster). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cli.h"
#include "harness.h"

static double host_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define CK(expr)                                                                         \
    do {                                                                                 \
        mlxn_status s_ = (expr);                                                         \
        if (s_ != MLXN_OK) {                                                             \
            fprintf(stderr, "bench: %s: %s\n", mlxn_status_str(s_), mlxn_last_error()); \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

static double copy_bandwidth(mlxn_device *d, mlxn_encoder *e, int reps) {
    const bool gpu = mlxn_device_backend(d) == MLXN_BACKEND_CUDA;
    int64_t n[1] = {gpu ? (1ll << 30) : (256ll << 20)};
    mlxn_buffer *a = NULL, *b = NULL;
    mlxn_timer *t = NULL;
    double *us = calloc((size_t)reps, sizeof *us), res = 0.0;
    CK(mlxn_buffer_new(d, MLXN_U8, 1, n, &a));
    CK(mlxn_buffer_new(d, MLXN_U8, 1, n, &b));
    CK(mlxn_timer_new(d, &t));
    for (int i = 0; i < 2; i++) CK(mlxn_buffer_copy(e, a, b));
    for (int r = 0; r < reps; r++) {
        CK(mlxn_timer_start(t, e));
        CK(mlxn_buffer_copy(e, r % 2 ? b : a, r % 2 ? a : b));
        CK(mlxn_timer_stop(t, e));
        CK(mlxn_timer_elapsed_us(t, &us[r]));
    }
    res = 2.0 * (double)n[0] / (median(us, reps) * 1e3); /* GB/s */
fail:
    free(us);
    mlxn_timer_free(t);
    mlxn_buffer_free(a);
    mlxn_buffer_free(b);
    return res;
}

mlxn_status bench_buffer(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, rng_t *rng, double lo,
                         double hi, int fill, mlxn_buffer **out) {
    mlxn_status s = mlxn_buffer_new(d, t, ndim, shape, out);
    if (s || !fill) return s;
    /* fill through a small double chunk: a multi-GB table must not need 8
       bytes of host memory per element */
    const size_t n = (size_t)mlxn_buffer_numel(*out), es = mlxn_dtype_size(t), chunk = (size_t)1 << 16;
    double *v = malloc(sizeof(double) * chunk);
    unsigned char *h = malloc(n * es);
    if (!v || !h) {
        free(v);
        free(h);
        return MLXN_ERR_OUT_OF_MEMORY;
    }
    const bool integer = t == MLXN_I32 || t == MLXN_U32;
    for (size_t at = 0; at < n; at += chunk) {
        const size_t m = n - at < chunk ? n - at : chunk;
        for (size_t i = 0; i < m; i++)
            v[i] = integer ? (double)rng_int(rng, (int64_t)lo, (int64_t)hi) : rng_uniform(rng, lo, hi);
        host_from_double(t, v, m, h + at * es);
    }
    s = mlxn_buffer_write(*out, h, n * es);
    free(v);
    free(h);
    return s;
}

/* Times one case; returns the median microseconds per op, or -1. */
static double time_case(mlxn_device *d, mlxn_encoder *e, const bench_case *c, int reps, bool hot, double *graph_us,
                        double *host_out) {
    const bool gpu = mlxn_device_backend(d) == MLXN_BACKEND_CUDA;
    const double target = gpu ? 256e6 : 64e6;
    int K = (int)ceil(target / c->bytes);
    if (K < 1) K = 1;
    if (K > 64) K = 64;
    /* hot: K launches on one set (cache-warm, ggml's perf mode); else K sets,
       as many as fit a memory budget: a case that reads one row of a 1.3 GB
       table moves little but holds much (the first set's size is measured) */
    int nsets = hot ? 1 : K;
    void **sets = calloc((size_t)K, sizeof *sets);
    mlxn_timer *t = NULL;
    double *us = calloc((size_t)reps, sizeof *us), *host = calloc((size_t)reps, sizeof *host), res = -1.0;
    rng_t r;
    rng_seed(&r, hash_str(c->name));
    *graph_us = -1.0;
    if (!sets || !us || !host) goto fail;
    mlxn_counters c0, c1;
    mlxn_device_counters(d, &c0);
    CK(c->make_set(c, d, &r, &sets[0]));
    mlxn_device_counters(d, &c1);
    const double set_bytes = (double)(c1.bytes_allocated - c0.bytes_allocated);
    const double budget = gpu ? 8e9 : 1e9;
    if (set_bytes > 0 && nsets * set_bytes > budget) nsets = (int)(budget / set_bytes) > 1 ? (int)(budget / set_bytes) : 1;
    for (int k = 1; k < nsets; k++) CK(c->make_set(c, d, &r, &sets[k]));
    CK(mlxn_timer_new(d, &t));
    for (int k = 0; k < K; k++) CK(c->run(c, e, sets[k % nsets])); /* warm-up */
    CK(mlxn_encoder_wait(e));
    for (int rep = 0; rep < reps; rep++) {
        CK(mlxn_timer_start(t, e));
        const double h0 = host_us();
        for (int k = 0; k < K; k++) CK(c->run(c, e, sets[k % nsets]));
        host[rep] = (host_us() - h0) / K; /* host cost of encoding one op */
        CK(mlxn_timer_stop(t, e));
        CK(mlxn_timer_elapsed_us(t, &us[rep]));
        us[rep] /= K;
    }
    const double per = c->ops_per_run > 0 ? (double)c->ops_per_run : 1.0;
    res = median(us, reps) / per;
    *host_out = median(host, reps) / per;
    /* the same K ops replayed from one captured graph: the device-side cost
       per op without host launch overhead (CUDA Graphs; the CPU has none) */
    if (gpu) {
        mlxn_graph *g = NULL;
        CK(mlxn_encoder_begin_capture(e));
        for (int k = 0; k < K; k++) CK(c->run(c, e, sets[k % nsets]));
        CK(mlxn_encoder_end_capture(e, &g));
        mlxn_status gs = mlxn_graph_launch(g, e);
        for (int rep = 0; rep < reps && !gs; rep++) {
            gs = mlxn_timer_start(t, e);
            if (!gs) gs = mlxn_graph_launch(g, e);
            if (!gs) gs = mlxn_timer_stop(t, e);
            if (!gs) gs = mlxn_timer_elapsed_us(t, &us[rep]);
            us[rep] /= K;
        }
        mlxn_graph_free(g);
        CK(gs);
        *graph_us = median(us, reps) / per;
    }
fail:
    for (int k = 0; sets && k < nsets; k++)
        if (sets[k]) c->free_set(sets[k]);
    free(sets);
    free(us);
    free(host);
    mlxn_timer_free(t);
    return res;
}

int cli_bench(mlxn_device *d, const bench_opts *o) {
    mlxn_encoder *e = NULL;
    if (mlxn_encoder_new(d, &e) != MLXN_OK) {
        fprintf(stderr, "bench: %s\n", mlxn_last_error());
        return 1;
    }
    const bool gpu = mlxn_device_backend(d) == MLXN_BACKEND_CUDA;
    const int reps = o->reps > 0 ? o->reps : (gpu ? 50 : 10);
    const double bw = copy_bandwidth(d, e, reps);
    printf("device: %s\n", mlxn_device_name(d));
    printf("copy bandwidth: %.0f GB/s (device-to-device, read + write, median of %d)\n", bw, reps);
    printf("inputs: %s\n\n", o->hot ? "one set reused (cache-warm, as ggml's perf mode)"
                                     : "rotated over sets of >= 256 MB (GPU) / 64 MB (CPU), so not served from cache");
    printf("| case | us | graph us | host us | GB/s | %% of copy | peer us | peer/ours |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    int fails = 0;
    enum { MAX_CASES = 512 };
    bench_case *cases = calloc(MAX_CASES, sizeof *cases);
    if (!cases) return 1;
    int nc = 0;
    nc += bench_rope_cases(cases + nc, MAX_CASES - nc);
    nc += bench_norm_cases(cases + nc, MAX_CASES - nc);
    nc += bench_elementwise_cases(cases + nc, MAX_CASES - nc);
    nc += bench_softmax_cases(cases + nc, MAX_CASES - nc);
    nc += bench_fused_norm_cases(cases + nc, MAX_CASES - nc);
    nc += bench_layout_cases(cases + nc, MAX_CASES - nc);
    nc += bench_reduce_cases(cases + nc, MAX_CASES - nc);
    nc += bench_sort_cases(cases + nc, MAX_CASES - nc);
    nc += bench_sample_cases(cases + nc, MAX_CASES - nc);
    nc += bench_backward_cases(cases + nc, MAX_CASES - nc);
    nc += bench_quant_ggml_cases(cases + nc, MAX_CASES - nc);
    nc += bench_quant_mlx_cases(cases + nc, MAX_CASES - nc);
    nc += bench_chain_cases(cases + nc, MAX_CASES - nc);
    for (int i = 0; i < nc; i++) {
        const bench_case *c = &cases[i];
        if (o->filter && !strstr(c->name, o->filter)) continue;
        double gus = -1.0, hus = -1.0;
        double us = time_case(d, e, c, reps, o->hot, &gus, &hus);
        const double bytes = c->bytes / (c->ops_per_run > 0 ? c->ops_per_run : 1);
        if (us < 0) {
            printf("| %s | failed | | | | | | |\n", c->name);
            fails++;
            continue;
        }
        const double gbs = bytes / (us * 1e3);
        const double peer = gpu ? c->peer_cuda_us : c->peer_cpu_us;
        char peer_s[32] = "-", ratio_s[32] = "-";
        if (peer > 0) {
            snprintf(peer_s, sizeof peer_s, "%.2f", peer);
            snprintf(ratio_s, sizeof ratio_s, "%.2fx", peer / us);
        }
        char graph_s[32] = "-";
        if (gus > 0) snprintf(graph_s, sizeof graph_s, "%.2f", gus);
        printf("| %s | %.2f | %s | %.2f | %.0f | %.0f%% | %s | %s |\n", c->name, us, graph_s, hus, gbs,
               bw > 0 ? 100.0 * gbs / bw : 0.0, peer_s, ratio_s);
        fflush(stdout);
    }
    free(cases);
    mlxn_encoder_free(e);
    return fails ? 1 : 0;
}
