/* rope.c (CPU) — every RoPE flavour through one mlxn_rope_plan.

   Per token row: the angles of all pairs are computed once in double
   (vectorized sincos) and reused by every head; the rotation runs in f32 over
   contiguous runs of `group` pairs so the compiler vectorizes it. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"
#include "ops/rope_plan.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#define MAXP (MLXN_ROPE_MAX_HEAD_DIM / 2)

typedef struct {
    const mlxn_rope_plan *rp;
    const void *pos[4];   /* position array of each axis */
    double coef[MAXP];    /* per pair: freq coefficient (YaRN and 1/ff folded in) */
    int8_t axis[MAXP];
} rope_ctx;

static double pos_at(const rope_ctx *c, int axis, int64_t t) {
    const void *p = c->pos[axis];
    return c->rp->pos_unsigned ? (double)((const uint32_t *)p)[t] : (double)((const int32_t *)p)[t];
}

/* cos/sin (times mscale) of every pair of token t. */
static void row_angles(const rope_ctx *c, int64_t t, float *cs, float *sn) {
    const mlxn_rope_plan *rp = c->rp;
    double pv[4];
    int n_axes = rp->kind == MLXN_RP_PLAIN ? 1 : rp->kind == MLXN_RP_VISION2D || rp->kind == MLXN_RP_VISION ? 2 : 4;
    for (int a = 0; a < n_axes; a++) pv[a] = pos_at(c, a, t);
    for (int a = n_axes; a < 4; a++) pv[a] = 0.0;
    const double ms = rp->mscale;
    double th[MAXP];
    for (int p = 0; p < rp->n_pairs; p++) th[p] = pv[c->axis[p]] * c->coef[p];
#pragma omp simd
    for (int p = 0; p < rp->n_pairs; p++) {
        double s, co;
        mlxn_sincos_d(th[p], &s, &co);
        cs[p] = (float)(co * ms);
        sn[p] = (float)(s * ms);
    }
}

#define DEFINE_ROTATE(NAME, T, LOAD, STORE)                                                              \
    static void NAME(const mlxn_rope_plan *rp, const T *x, T *y, const float *cs, const float *sn) {     \
        const int G = rp->group, np = rp->n_pairs;                                                       \
        if (G == 1) {                                                                                    \
            for (int p = 0; p < np; p++) {                                                               \
                float x0 = LOAD(x[2 * p]), x1 = LOAD(x[2 * p + 1]);                                      \
                y[2 * p] = STORE(x0 * cs[p] - x1 * sn[p]);                                               \
                y[2 * p + 1] = STORE(x0 * sn[p] + x1 * cs[p]);                                           \
            }                                                                                            \
        } else {                                                                                         \
            for (int b = 0; b < np / G; b++) {                                                           \
                const T *xa = x + 2 * b * G, *xb = xa + G;                                               \
                T *ya = y + 2 * b * G, *yb = ya + G;                                                     \
                const float *c = cs + b * G, *s = sn + b * G;                                            \
                _Pragma("omp simd") for (int i = 0; i < G; i++) {                                        \
                    float x0 = LOAD(xa[i]), x1 = LOAD(xb[i]);                                            \
                    ya[i] = STORE(x0 * c[i] - x1 * s[i]);                                                \
                    yb[i] = STORE(x0 * s[i] + x1 * c[i]);                                                \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        if (x != y)                                                                                      \
            memcpy(y + 2 * np, x + 2 * np, sizeof(T) * (size_t)(rp->head_dim - 2 * np));                 \
    }

#define ID(v) (v)
DEFINE_ROTATE(rotate_f32, float, ID, ID)
DEFINE_ROTATE(rotate_f16, uint16_t, mlxn_h2f_fast, mlxn_f2h)
DEFINE_ROTATE(rotate_bf16, uint16_t, mlxn_b2f, mlxn_f2b)

#if defined(__AVX2__) && defined(__FMA__)
/* f32 fast path, 8 lanes. Interleaved pairs use cos duplicated per pair and
   sin with alternating sign (-s, +s), so y = x*c2 + swap_pairs(x)*s2. Large
   outputs are written with streaming stores: the output is not read by this
   op, and skipping the read-for-ownership saves a third of the traffic. */
#define DEFINE_ROTATE_AVX(NAME, T, LD8, ST8)                                                             \
    static bool NAME(const mlxn_rope_plan *rp, const T *x, T *y, const float *c2, const float *s2,       \
                     const float *cs, const float *sn, bool stream) {                                     \
        const int G = rp->group, np = rp->n_pairs;                                                       \
        if ((G == 1 && (2 * np) % 8) || (G > 1 && G % 8)) return false;                                  \
        if (((uintptr_t)y % 32) != 0 || rp->head_dim % 8 != 0) stream = false;                           \
        if (G == 1) {                                                                                    \
            for (int j = 0; j < 2 * np; j += 8) {                                                        \
                __m256 v = LD8(x + j);                                                                   \
                __m256 sw = _mm256_permute_ps(v, 0xB1);                                                  \
                ST8(y + j, _mm256_fmadd_ps(v, _mm256_loadu_ps(c2 + j), _mm256_mul_ps(sw, _mm256_loadu_ps(s2 + j)))); \
            }                                                                                            \
        } else {                                                                                         \
            for (int b = 0; b < np / G; b++) {                                                           \
                const T *xa = x + 2 * b * G, *xb = xa + G;                                               \
                T *ya = y + 2 * b * G, *yb = ya + G;                                                     \
                for (int i = 0; i < G; i += 8) {                                                         \
                    __m256 x0 = LD8(xa + i), x1 = LD8(xb + i);                                           \
                    __m256 c = _mm256_loadu_ps(cs + b * G + i), s = _mm256_loadu_ps(sn + b * G + i);     \
                    ST8(ya + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));                           \
                    ST8(yb + i, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));                           \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        if (x != y) {                                                                                    \
            int j = 2 * np;                                                                              \
            for (; j + 8 <= rp->head_dim; j += 8) ST8(y + j, LD8(x + j));                               \
            for (; j < rp->head_dim; j++) y[j] = x[j];                                                   \
        }                                                                                                \
        (void)stream;                                                                                    \
        return true;                                                                                     \
    }

#define LD8F(p) _mm256_loadu_ps(p)
#define ST8F(p, v) (stream ? _mm256_stream_ps((p), (v)) : _mm256_storeu_ps((p), (v)))
DEFINE_ROTATE_AVX(rotate_f32_avx, float, LD8F, ST8F)
#endif

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
/* f16 through the F16C converters, 8 lanes (compute in f32, round once). */
static inline __m256 ld8h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline void st8h(uint16_t *p, __m256 v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
DEFINE_ROTATE_AVX(rotate_f16_avx, uint16_t, ld8h, st8h)
#endif

static void rotate_head(const mlxn_rope_plan *rp, const void *x, void *y, int64_t elem_off, const float *cs,
                        const float *sn, const float *c2, const float *s2, bool stream) {
#if defined(__AVX2__) && defined(__FMA__)
    if (rp->dtype == MLXN_F32 &&
        rotate_f32_avx(rp, (const float *)x + elem_off, (float *)y + elem_off, c2, s2, cs, sn, stream))
        return;
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    if (rp->dtype == MLXN_F16 &&
        rotate_f16_avx(rp, (const uint16_t *)x + elem_off, (uint16_t *)y + elem_off, c2, s2, cs, sn, false))
        return;
#endif
#if !defined(__AVX2__) || !defined(__FMA__)
    (void)c2;
    (void)s2;
    (void)stream;
#endif
    switch (rp->dtype) {
    case MLXN_F32: rotate_f32(rp, (const float *)x + elem_off, (float *)y + elem_off, cs, sn); break;
    case MLXN_F16: rotate_f16(rp, (const uint16_t *)x + elem_off, (uint16_t *)y + elem_off, cs, sn); break;
    default: rotate_bf16(rp, (const uint16_t *)x + elem_off, (uint16_t *)y + elem_off, cs, sn); break;
    }
}

/* Interleaved-pair tables for the 8-lane path: cos per element, sin with the
   sign of its slot in the pair. */
static void dup_tables(const mlxn_rope_plan *rp, const float *cs, const float *sn, float *c2, float *s2) {
    if (rp->group != 1 || rp->dtype == MLXN_BF16) return;
    for (int p = 0; p < rp->n_pairs; p++) {
        c2[2 * p] = c2[2 * p + 1] = cs[p];
        s2[2 * p] = -sn[p];
        s2[2 * p + 1] = sn[p];
    }
}

int mlxn_cpu_rope_run(void *dev, void *enc, const mlxn_op_call *call) {
    (void)dev;
    (void)enc;
    const mlxn_rope_plan *rp = &call->u.rope;
    rope_ctx *c = malloc(sizeof *c);
    if (!c) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", call->name);
    c->rp = rp;
    const void *pos = call->args[2].ptr;
    for (int a = 0; a < 4; a++) c->pos[a] = pos;
    if (rp->kind == MLXN_RP_MROPE || rp->kind == MLXN_RP_IMROPE || rp->kind == MLXN_RP_VISION)
        for (int a = 0; a < 4; a++) c->pos[a] = (const int32_t *)pos + (int64_t)a * rp->seq_len;
    if (rp->kind == MLXN_RP_VISION2D) c->pos[1] = call->args[3].ptr;
    const float *ff = rp->has_ff ? (const float *)call->args[3].ptr : NULL;
    for (int p = 0; p < rp->n_pairs; p++) {
        int idx;
        c->axis[p] = (int8_t)mlxn_rope_axis(rp, p, &idx);
        c->coef[p] = mlxn_rope_coef(rp, p, idx);
        if (ff) c->coef[p] /= (double)ff[p];
    }
    const void *x = call->args[0].ptr;
    void *y = call->args[1].ptr;
    const int64_t n_rows = rp->n_rows, n_heads = rp->n_heads, hd = rp->head_dim;
    const int nt = mlxn_cpu_threads();
    /* Stream (bypass the cache) only when input + output exceed the last-level
       cache: then the output would be evicted before anyone reads it and the
       streaming stores save the read-for-ownership. Below that, keeping the
       output in cache wins (measured, docs/PERF.md). */
    static size_t llc = 0;
    if (!llc) {
        long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        llc = v > 0 ? (size_t)v : ((size_t)32 << 20);
    }
    const bool stream = call->args[0].nbytes + call->args[1].nbytes > llc && x != y;
    if (n_rows >= 2 * nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t r = 0; r < n_rows; r++) {
            float cs[MAXP], sn[MAXP], c2[2 * MAXP], s2[2 * MAXP];
            row_angles(c, r % rp->seq_len, cs, sn);
            dup_tables(rp, cs, sn, c2, s2);
            for (int64_t h = 0; h < n_heads; h++)
                rotate_head(rp, x, y, (r * n_heads + h) * hd, cs, sn, c2, s2, stream);
        }
    } else {
        /* few tokens (decode): split heads across threads, each computing the
           (cheap) angles of its own rows */
        const int64_t chunk = 8;
        const int64_t n_chunks = (n_heads + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t w = 0; w < n_rows * n_chunks; w++) {
            float cs[MAXP], sn[MAXP], c2[2 * MAXP], s2[2 * MAXP];
            int64_t r = w / n_chunks, h0 = (w % n_chunks) * chunk;
            int64_t h1 = h0 + chunk < n_heads ? h0 + chunk : n_heads;
            row_angles(c, r % rp->seq_len, cs, sn);
            dup_tables(rp, cs, sn, c2, s2);
            for (int64_t h = h0; h < h1; h++)
                rotate_head(rp, x, y, (r * n_heads + h) * hd, cs, sn, c2, s2, stream);
        }
    }
#if defined(__AVX2__) && defined(__FMA__)
    if (stream) _mm_sfence(); /* streaming stores are weakly ordered */
#endif
    free(c);
    return MLXN_OK;
}
