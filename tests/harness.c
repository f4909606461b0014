/* harness.c — see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(rng_t *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(rng_t *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double rng_uniform(rng_t *r, double lo, double hi) {
    return lo + (hi - lo) * ((double)(rng_u64(r) >> 11) * 0x1.0p-53);
}

int64_t rng_int(rng_t *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(span ? rng_u64(r) % span : rng_u64(r));
}

uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

size_t host_from_double(mlxn_dtype t, const double *src, size_t n, void *dst) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case MLXN_F32: ((float *)dst)[i] = (float)src[i]; break;
        case MLXN_F16: ((uint16_t *)dst)[i] = mlxn_f32_to_f16((float)src[i]); break;
        case MLXN_BF16: ((uint16_t *)dst)[i] = mlxn_f32_to_bf16((float)src[i]); break;
        case MLXN_I32: ((int32_t *)dst)[i] = (int32_t)src[i]; break;
        case MLXN_U32: ((uint32_t *)dst)[i] = (uint32_t)src[i]; break;
        default: break;
        }
    }
    return n * mlxn_dtype_size(t);
}

void host_to_double(mlxn_dtype t, const void *src, size_t n, double *dst) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case MLXN_F32: dst[i] = ((const float *)src)[i]; break;
        case MLXN_F16: dst[i] = mlxn_f16_to_f32(((const uint16_t *)src)[i]); break;
        case MLXN_BF16: dst[i] = mlxn_bf16_to_f32(((const uint16_t *)src)[i]); break;
        case MLXN_I32: dst[i] = ((const int32_t *)src)[i]; break;
        case MLXN_U32: dst[i] = ((const uint32_t *)src)[i]; break;
        default: dst[i] = NAN; break;
        }
    }
}

void round_through(mlxn_dtype t, double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case MLXN_F32: v[i] = (float)v[i]; break;
        case MLXN_F16: v[i] = mlxn_f16_to_f32(mlxn_f32_to_f16((float)v[i])); break;
        case MLXN_BF16: v[i] = mlxn_bf16_to_f32(mlxn_f32_to_bf16((float)v[i])); break;
        default: break;
        }
    }
}

double nmse(const double *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) && isfinite(b[i])) return INFINITY;
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return num / den;
}

double nmse_limit(mlxn_dtype t) {
    switch (t) {
    case MLXN_F16: return 1e-6;
    case MLXN_BF16: return 1e-5;
    default: return 1e-10;
    }
}

bool report_wants(const report_t *r, const char *name) { return !r->filter || strstr(name, r->filter); }

void report_case(report_t *r, const char *name, bool ok, const char *fmt, ...) {
    if (ok) r->passed++;
    else r->failed++;
    if (!ok || r->verbose) {
        printf("%s %s", ok ? "  ok  " : "  FAIL", name);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            printf("  ");
            vprintf(fmt, ap);
            va_end(ap);
        }
        printf("\n");
    }
}

int report_finish(const report_t *r, const char *suite) {
    printf("%s: %d passed, %d failed, %d skipped\n", suite, r->passed, r->failed, r->skipped);
    if (r->failed) return 1;
    if (r->passed == 0 && r->skipped > 0) return MLXN_TEST_SKIP;
    return 0;
}

int parse_backends(const char *arg, mlxn_backend out[2]) {
    if (!arg || !strcmp(arg, "all")) {
        out[0] = MLXN_BACKEND_CPU;
        out[1] = MLXN_BACKEND_CUDA;
        return 2;
    }
    if (!strcmp(arg, "cpu")) { out[0] = MLXN_BACKEND_CPU; return 1; }
    if (!strcmp(arg, "cuda")) { out[0] = MLXN_BACKEND_CUDA; return 1; }
    return 0;
}

int run_suite(int argc, char **argv, const char *suite, suite_fn fn, void *user) {
    const char *barg = "all";
    report_t rep = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-b") && i + 1 < argc) barg = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) rep.filter = argv[++i];
        else if (!strcmp(argv[i], "-v")) rep.verbose = true;
        else {
            fprintf(stderr, "usage: %s [-b cpu|cuda|all] [-o SUBSTRING] [-v]\n", argv[0]);
            return 2;
        }
    }
    mlxn_backend bk[2];
    int nb = parse_backends(barg, bk);
    if (!nb) {
        fprintf(stderr, "%s: unknown backend '%s'\n", suite, barg);
        return 2;
    }
    for (int b = 0; b < nb; b++) {
        const char *bname = bk[b] == MLXN_BACKEND_CPU ? "cpu" : "cuda";
        test_env env = {NULL, NULL, bname};
        if (mlxn_device_open(bk[b], 0, &env.dev) != MLXN_OK) {
            printf("backend %s: skipped (%s)\n", bname, mlxn_last_error());
            rep.skipped++;
            continue;
        }
        if (mlxn_encoder_new(env.dev, &env.enc) != MLXN_OK) {
            printf("backend %s: encoder_new failed: %s\n", bname, mlxn_last_error());
            rep.failed++;
            mlxn_device_close(env.dev);
            continue;
        }
        printf("backend: %s\n", mlxn_device_name(env.dev));
        int before = rep.failed;
        fn(&env, &rep, user);
        printf("  %s: %d failures\n", mlxn_device_name(env.dev), rep.failed - before);
        mlxn_encoder_free(env.enc);
        mlxn_device_close(env.dev);
    }
    return report_finish(&rep, suite);
}

mlxn_status guarded_new(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, int misalign, guarded_t *g) {
    memset(g, 0, sizeof *g);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    const size_t es = mlxn_dtype_size(t);
    g->dtype = t;
    g->n = n;
    g->lead = GUARD_ELEMS + misalign;
    g->total = n + g->lead + GUARD_ELEMS;
    int64_t sh[1] = {g->total};
    mlxn_status s = mlxn_buffer_new(d, t, 1, sh, &g->base);
    if (s) return s;
    unsigned char *h = malloc((size_t)g->total * es);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    memset(h, 0xA5, (size_t)g->total * es);
    memset(h + (size_t)g->lead * es, 0xFF, (size_t)n * es);
    s = mlxn_buffer_write(g->base, h, (size_t)g->total * es);
    free(h);
    if (s) return s;
    return mlxn_buffer_view(g->base, (size_t)g->lead * es, t, ndim, shape, &g->view);
}

mlxn_status guarded_fill(guarded_t *g, const double *v) {
    void *h = malloc((size_t)g->n * mlxn_dtype_size(g->dtype));
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    host_from_double(g->dtype, v, (size_t)g->n, h);
    mlxn_status s = mlxn_buffer_write(g->view, h, (size_t)g->n * mlxn_dtype_size(g->dtype));
    free(h);
    return s;
}

mlxn_status guarded_read(guarded_t *g, double *out, bool *guards_ok) {
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
        host_to_double(g->dtype, h + (size_t)g->lead * es, (size_t)g->n, out);
    }
    free(h);
    return s;
}

void guarded_free(guarded_t *g) {
    mlxn_buffer_free(g->view);
    mlxn_buffer_free(g->base);
    memset(g, 0, sizeof *g);
}

mlxn_status upload_values(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, const double *v, mlxn_buffer **out) {
    mlxn_status s = mlxn_buffer_new(d, t, ndim, shape, out);
    if (s) return s;
    const size_t n = mlxn_buffer_numel(*out), es = mlxn_dtype_size(t);
    void *h = malloc(n * es);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    host_from_double(t, v, n, h);
    s = mlxn_buffer_write(*out, h, n * es);
    free(h);
    return s;
}

void check_result(report_t *rep, const char *name, const double *got, const double *ref, size_t n, double limit,
                  bool guards_ok) {
    double e = nmse(got, ref, n);
    if (!guards_ok) {
        report_case(rep, name, false, "guard bytes around the output were overwritten (nmse %.3e)", e);
        return;
    }
    report_case(rep, name, e <= limit, "nmse %.3e (limit %.0e)", e, limit);
}

double rng_nonzero(rng_t *rng, mlxn_dtype t, double lo, double hi) {
    for (;;) {
        double v = rng_uniform(rng, lo, hi);
        round_through(t, &v, 1);
        if (v != 0.0) return v;
    }
}

mlxn_status upload_values_misaligned(mlxn_device *d, mlxn_dtype t, int64_t n, const double *v, int misalign,
                                     mlxn_buffer **base, mlxn_buffer **view) {
    const int64_t total = n + misalign;
    double *tmp = calloc((size_t)total, sizeof *tmp);
    if (!tmp) return MLXN_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++) tmp[misalign + i] = v[i];
    for (int64_t i = 0; i < misalign; i++) tmp[i] = 1.0;
    mlxn_status s = upload_values(d, t, 1, &total, tmp, base);
    free(tmp);
    if (s) return s;
    return mlxn_buffer_view(*base, (size_t)misalign * mlxn_dtype_size(t), t, 1, &n, view);
}

/* ---- output patterns of validation cases ---- */

static size_t out_nbytes(const mlxn_buffer *b) { return b ? mlxn_buffer_nbytes(b) : 0; }

bool out_pattern_fill(out_pattern *g, mlxn_buffer *const *outs, int n) {
    memset(g, 0, sizeof *g);
    g->n = n < OUT_PATTERN_MAX ? n : OUT_PATTERN_MAX;
    bool mem_ok = true;
    for (int i = 0; i < g->n; i++) {
        g->out[i] = outs[i];
        const size_t nb = out_nbytes(outs[i]);
        if (!nb) continue;
        g->pat[i] = malloc(nb);
        g->back[i] = malloc(nb);
        if (!g->pat[i] || !g->back[i]) {
            mem_ok = false;
            continue;
        }
        for (size_t j = 0; j < nb; j++) g->pat[i][j] = (unsigned char)(0x3C + j * 7 + (size_t)i);
        mlxn_buffer_write(outs[i], g->pat[i], nb);
    }
    if (!mem_ok) return false;
    for (int i = 0; i < g->n; i++)
        if (out_nbytes(g->out[i])) mlxn_buffer_read(g->out[i], g->pat[i], out_nbytes(g->out[i]));
    return true;
}

bool out_pattern_intact(out_pattern *g, mlxn_encoder *enc) {
    mlxn_encoder_wait(enc);
    bool ok = true;
    for (int i = 0; i < g->n; i++) {
        const size_t nb = out_nbytes(g->out[i]);
        if (!nb) continue;
        mlxn_buffer_read(g->out[i], g->back[i], nb);
        if (memcmp(g->pat[i], g->back[i], nb)) ok = false;
    }
    return ok;
}

void out_pattern_free(out_pattern *g) {
    for (int i = 0; i < OUT_PATTERN_MAX; i++) {
        free(g->pat[i]);
        free(g->back[i]);
        g->pat[i] = g->back[i] = NULL;
    }
}
