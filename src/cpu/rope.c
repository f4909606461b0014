/* rope.c (CPU) — every RoPE flavour through one mlxn_rope_plan.

   Per token row: the angles of all pairs are computed once in double
   (vectorized sincos) and reused by every head; the rotation runs in f32 over
   contiguous runs of `group` pairs so the compiler vectorizes it. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"
#include "ops/rope_plan.h"

#include <stdlib.h>
#include <string.h>

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
#pragma omp simd
    for (int p = 0; p < rp->n_pairs; p++) {
        double s, co;
        mlxn_sincos_d(pv[c->axis[p]] * c->coef[p], &s, &co);
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
DEFINE_ROTATE(rotate_f16, uint16_t, mlxn_h2f, mlxn_f32_to_f16)
DEFINE_ROTATE(rotate_bf16, uint16_t, mlxn_b2f, mlxn_f32_to_bf16)

static void rotate_head(const mlxn_rope_plan *rp, const void *x, void *y, int64_t elem_off, const float *cs,
                        const float *sn) {
    switch (rp->dtype) {
    case MLXN_F32: rotate_f32(rp, (const float *)x + elem_off, (float *)y + elem_off, cs, sn); break;
    case MLXN_F16: rotate_f16(rp, (const uint16_t *)x + elem_off, (uint16_t *)y + elem_off, cs, sn); break;
    default: rotate_bf16(rp, (const uint16_t *)x + elem_off, (uint16_t *)y + elem_off, cs, sn); break;
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
    if (n_rows >= 2 * nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t r = 0; r < n_rows; r++) {
            float cs[MAXP], sn[MAXP];
            row_angles(c, r % rp->seq_len, cs, sn);
            for (int64_t h = 0; h < n_heads; h++) rotate_head(rp, x, y, (r * n_heads + h) * hd, cs, sn);
        }
    } else {
        /* few tokens (decode): split heads across threads, each computing the
           (cheap) angles of its own rows */
        const int64_t chunk = 8;
        const int64_t n_chunks = (n_heads + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t w = 0; w < n_rows * n_chunks; w++) {
            float cs[MAXP], sn[MAXP];
            int64_t r = w / n_chunks, h0 = (w % n_chunks) * chunk;
            int64_t h1 = h0 + chunk < n_heads ? h0 + chunk : n_heads;
            row_angles(c, r % rp->seq_len, cs, sn);
            for (int64_t h = h0; h < h1; h++) rotate_head(rp, x, y, (r * n_heads + h) * hd, cs, sn);
        }
    }
    free(c);
    return MLXN_OK;
}
