/* sample.c (CPU) — MoE routing (moe_softmax_topk), the MoE combine
   (moe_weighted_reduce) and on-device sampling (softmax_sample).
   Plan slots and argument order: src/ops/sample.c; semantics: mlxn.h.

   moe_softmax_topk  one row per iteration (OpenMP over rows): a pass for the
       max and the non-finite check, then one pass that sums exp(x - max) in
       double and keeps the k best (value, id) pairs in a sorted list
       (insertion; an element enters only when strictly better than the
       current k-th, and rows are scanned in id order, so ties go to the
       lower id).
   moe_weighted_reduce  OpenMP over tokens; per token the row of D is done in
       chunks of 256 f32 accumulators: acc = sum_j w[j] * y[j, :] in j order,
       + g * y_shared, + res, rounded once.
   softmax_sample  one row per thread. The row is turned into keys (the
       logit's f32 bits mapped to an unsigned order, -0 as +0) and fixed-point
       masses q (uint64, mlxn.h); top-k and top-p are the same radix select:
       the shortest prefix of the order (key descending, index ascending)
       whose weight (1 per token for top-k, q for top-p) reaches a target,
       found 8 bits of the key at a time with 256-bin histograms, then the
       ties at the boundary key cut by index. After a top-k the k candidates
       are compacted (in index order) and everything after runs on them
       only; masses are computed for the candidates alone. The CUDA kernel
       makes the same decisions in parallel passes over the whole row; every
       sum is an exact integer, so both backends pick the same token whenever
       their expf values round to the same q. */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline float load1(int dt, const void *x, int64_t i) {
    if (dt == MLXN_F32) return ((const float *)x)[i];
    if (dt == MLXN_F16) return mlxn_h2f(((const uint16_t *)x)[i]);
    return mlxn_b2f(((const uint16_t *)x)[i]);
}

static inline void store1(int dt, void *y, int64_t i, float v) {
    if (dt == MLXN_F32) ((float *)y)[i] = v;
    else if (dt == MLXN_F16) ((uint16_t *)y)[i] = mlxn_f2h(v);
    else ((uint16_t *)y)[i] = mlxn_f2b(v);
}

/* ---- moe_softmax_topk ------------------------------------------------------- */

int mlxn_cpu_moe_softmax_topk(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t T = c->u.gen.i[0], E = c->u.gen.i[1];
    const int k = (int)c->u.gen.i[2];
    const int dt = c->u.gen.d[0], renorm = c->u.gen.d[1];
    const void *x = c->args[0].ptr;
    const float *scale = c->u.gen.d[2] ? (const float *)c->args[1].ptr : NULL;
    int32_t *ids = (int32_t *)c->args[2].ptr;
    float *w = (float *)c->args[3].ptr;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > T) nt = (int)(T > 0 ? T : 1);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t t = 0; t < T; t++) {
        const int64_t off = t * E;
        float m = -INFINITY;
        bool bad = false;
        for (int64_t j = 0; j < E; j++) {
            const float v = load1(dt, x, off + j);
            if (v != v || v == INFINITY) bad = true;
            m = v > m ? v : m;
        }
        int32_t *id = ids + t * k;
        float *wt = w + t * k;
        if (bad || m == -INFINITY) {
            for (int j = 0; j < k; j++) {
                id[j] = j;
                wt[j] = bad ? NAN : 0.0f;
            }
            continue;
        }
        float bv[MLXN_MOE_MAX_TOPK];
        int32_t bi[MLXN_MOE_MAX_TOPK];
        int n = 0;
        double sum = 0.0;
        for (int64_t j = 0; j < E; j++) {
            const float v = load1(dt, x, off + j);
            sum += (double)expf(v - m);
            if (n == k && !(v > bv[k - 1])) continue;
            int pos = n < k ? n++ : k - 1;
            while (pos > 0 && v > bv[pos - 1]) {
                bv[pos] = bv[pos - 1];
                bi[pos] = bi[pos - 1];
                pos--;
            }
            bv[pos] = v;
            bi[pos] = (int32_t)j;
        }
        float e[MLXN_MOE_MAX_TOPK];
        double sel = 0.0;
        for (int j = 0; j < k; j++) {
            e[j] = expf(bv[j] - m);
            sel += (double)e[j];
        }
        const double den = renorm ? sel : sum;
        for (int j = 0; j < k; j++) {
            float v = (float)((double)e[j] / den);
            if (scale) v *= scale[bi[j]];
            id[j] = bi[j];
            wt[j] = v;
        }
    }
    return MLXN_OK;
}

/* ---- moe_weighted_reduce ------------------------------------------------------ */

#define WR_CHUNK 256

int mlxn_cpu_moe_weighted_reduce(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t T = c->u.gen.i[0], K = c->u.gen.i[1], D = c->u.gen.i[2];
    const int dt = c->u.gen.d[0], gdt = c->u.gen.d[1], sig = c->u.gen.d[2];
    const bool has_sh = c->u.gen.d[3] & 1, has_res = c->u.gen.d[3] & 2;
    const void *y = c->args[0].ptr, *ysh = c->args[2].ptr, *gate = c->args[3].ptr, *res = c->args[4].ptr;
    const float *w = (const float *)c->args[1].ptr;
    void *out = c->args[5].ptr;
    const int64_t nchunk = (D + WR_CHUNK - 1) / WR_CHUNK, units = T * nchunk;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > units) nt = (int)(units > 0 ? units : 1);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t u = 0; u < units; u++) {
        const int64_t t = u / nchunk, d0 = (u % nchunk) * WR_CHUNK;
        const int len = (int)(D - d0 < WR_CHUNK ? D - d0 : WR_CHUNK);
        float acc[WR_CHUNK];
        for (int i = 0; i < len; i++) acc[i] = 0.0f;
        for (int64_t j = 0; j < K; j++) {
            const float wj = w[t * K + j];
            const int64_t base = (t * K + j) * D + d0;
            if (dt == MLXN_F32) {
                const float *restrict p = (const float *)y + base;
#pragma omp simd
                for (int i = 0; i < len; i++) acc[i] += wj * p[i];
            } else if (dt == MLXN_F16) {
                const uint16_t *restrict p = (const uint16_t *)y + base;
#pragma omp simd
                for (int i = 0; i < len; i++) acc[i] += wj * mlxn_h2f_fast(p[i]);
            } else {
                const uint16_t *restrict p = (const uint16_t *)y + base;
#pragma omp simd
                for (int i = 0; i < len; i++) acc[i] += wj * mlxn_b2f(p[i]);
            }
        }
        if (has_sh) {
            float g = 1.0f;
            if (gdt >= 0) {
                g = load1(gdt, gate, t);
                if (sig) g = 1.0f / (1.0f + expf(-g));
            }
            for (int i = 0; i < len; i++) acc[i] += g * load1(dt, ysh, t * D + d0 + i);
        }
        if (has_res)
            for (int i = 0; i < len; i++) acc[i] += load1(dt, res, t * D + d0 + i);
        for (int i = 0; i < len; i++) store1(dt, out, t * D + d0 + i, acc[i]);
    }
    return MLXN_OK;
}

/* ---- softmax_sample ---------------------------------------------------------- */

/* The order key of a logit: unsigned compare of keys = float compare, -0 == +0. */
static inline uint32_t fkey(float x) {
    if (x == 0.0f) x = 0.0f;
    uint32_t b;
    memcpy(&b, &x, 4);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static inline float key_f(uint32_t k) {
    const uint32_t b = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/* z = x / T clamped to the finite range (-inf stays -inf). */
static inline float zval(float x, float T) {
    float z = x / T;
    if (x > -INFINITY) z = fminf(fmaxf(z, -FLT_MAX), FLT_MAX);
    return z;
}

/* The fixed-point mass of d: round(exp(d) * 2^32). */
static inline uint64_t qmass(float d) { return (uint64_t)nearbyintf(expf(d) * 4294967296.0f); }

static inline uint64_t umulhi64(uint64_t a, uint64_t b) {
    return (uint64_t)(((unsigned __int128)a * (unsigned __int128)b) >> 64);
}

/* u read as a 64-bit fixed-point fraction: floor(u * 2^64), u clamped to [0, 1). */
static inline uint64_t u_fixed(float u) {
    if (!(u >= 0.0f)) u = 0.0f;
    if (u >= 1.0f) u = 0x1.fffffep-1f;
    return (uint64_t)ldexpf(u, 64);
}

/* A prefix of the order: key > tau, or key == tau and position < cut. */
typedef struct {
    uint32_t tau;
    int64_t cut;
    bool on;
} prefix_t;

static inline bool in_prefix(const prefix_t *p, uint32_t key, int64_t i) {
    return !p->on || key > p->tau || (key == p->tau && i < p->cut);
}

/* The shortest prefix of the order over the n tokens key[0..n) (in index
   order) whose weight reaches `target` (>= 1, <= the total weight). mass:
   weights are q, else 1 per token. */
static prefix_t radix_select(const uint32_t *key, const uint64_t *q, int64_t n, bool mass, uint64_t target) {
    prefix_t r = {0, n, true};
    uint32_t prefix = 0, mask = 0;
    uint64_t above = 0, eq = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        uint64_t hist[256];
        memset(hist, 0, sizeof hist);
        if (mask == 0) {
            if (mass)
                for (int64_t i = 0; i < n; i++) hist[key[i] >> 24] += q[i];
            else
                for (int64_t i = 0; i < n; i++) hist[key[i] >> 24]++;
        } else {
            for (int64_t i = 0; i < n; i++) {
                const uint32_t k = key[i];
                if ((k & mask) == prefix) hist[(k >> shift) & 255u] += mass ? q[i] : 1u;
            }
        }
        int found = -1;
        uint64_t cum = above;
        for (int b = 255; b >= 0; b--) {
            if (!hist[b]) continue;
            if (cum + hist[b] >= target) {
                found = b;
                break;
            }
            cum += hist[b];
        }
        if (found < 0) { /* unreachable when target <= the total weight: keep all */
            r.on = false;
            return r;
        }
        above = cum;
        eq = hist[found];
        prefix |= (uint32_t)found << shift;
        mask |= 0xffu << shift;
    }
    r.tau = prefix;
    /* tied tokens (key == tau) all weigh the same w; take the first m of them */
    uint64_t w = 1;
    if (mass)
        for (int64_t i = 0; i < n; i++)
            if (key[i] == prefix) {
                w = q[i];
                break;
            }
    const uint64_t need = target - above, m = (need + w - 1) / w, cnt = eq / w;
    if (m >= cnt) return r; /* every tied token is in */
    uint64_t seen = 0;
    for (int64_t i = 0; i < n; i++)
        if (key[i] == prefix && ++seen == m) {
            r.cut = i + 1;
            break;
        }
    return r;
}

typedef struct {
    int64_t V, k;
    uint64_t P; /* top-p fraction * 2^64, 0 = off */
    float T, lmin;
    bool top_p, min_p;
} sample_cfg;

/* Per-thread scratch of one row. */
typedef struct {
    uint32_t *key; /* order keys of the candidates          */
    uint64_t *q;   /* their masses                          */
    int32_t *idx;  /* their indices (after a top-k)         */
} scratch_t;

/* One row: returns the token, *lp its log-probability. The candidates are
   the whole row, or after a top-k its k tokens compacted in index order (so
   positions in the candidate list keep the index order the ties need). */
static int32_t sample_row(const sample_cfg *g, int dt, const void *x, int64_t off, float u, const scratch_t *sc,
                          float *lp) {
    const int64_t V = g->V;
    uint32_t *key = sc->key;
    uint64_t *q = sc->q;
    float m = -INFINITY;
    int64_t im = 0;
    bool bad = false;
    for (int64_t i = 0; i < V; i++) {
        const float v = load1(dt, x, off + i);
        if (v != v || v == INFINITY) bad = true;
        if (v > m) {
            m = v;
            im = i;
        }
        key[i] = fkey(v);
    }
    if (bad || m == -INFINITY) {
        *lp = NAN;
        return -1;
    }
    if (g->T == 0.0f) {
        *lp = 0.0f;
        return (int32_t)im;
    }
    const float zmax = zval(m, g->T);
    int64_t n = V;
    const int32_t *idx = NULL;
    if (g->k > 0) {
        const prefix_t k1 = radix_select(key, NULL, V, false, (uint64_t)g->k);
        n = 0;
        for (int64_t i = 0; i < V && n < g->k; i++) /* exactly k (bounded even if k1 were wrong) */
            if (in_prefix(&k1, key[i], i)) {
                key[n] = key[i]; /* n <= i: compaction in place */
                sc->idx[n++] = (int32_t)i;
            }
        idx = sc->idx;
    }
    for (int64_t j = 0; j < n; j++) q[j] = qmass(zval(key_f(key[j]), g->T) - zmax);
    prefix_t k2 = {0, n, false};
    if (g->top_p) {
        uint64_t M1 = 0;
        for (int64_t j = 0; j < n; j++) M1 += q[j];
        uint64_t tgt = umulhi64(g->P, M1);
        if (tgt < 1) tgt = 1;
        k2 = radix_select(key, q, n, true, tgt);
    }
    /* kept: in k2, and d >= ln(min_p); masses of the rest are zeroed */
    uint64_t M = 0;
    for (int64_t j = 0; j < n; j++) {
        bool keep = in_prefix(&k2, key[j], j);
        if (keep && g->min_p) keep = zval(key_f(key[j]), g->T) - zmax >= g->lmin;
        if (!keep) q[j] = 0;
        M += q[j];
    }
    /* M >= 2^32: the first token of the order has d = 0, q = 2^32 and is kept */
    const uint64_t t = umulhi64(u_fixed(u), M);
    uint64_t cum = 0;
    int64_t tok = -1;
    for (int64_t j = 0; j < n; j++) {
        cum += q[j];
        if (cum > t) {
            tok = j;
            break;
        }
    }
    if (tok < 0) { /* unreachable: t < M */
        *lp = NAN;
        return -1;
    }
    const float d = zval(key_f(key[tok]), g->T) - zmax;
    *lp = (float)((double)d - log(ldexp((double)M, -32)));
    return (int32_t)(idx ? idx[tok] : tok);
}

int mlxn_cpu_softmax_sample(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t B = c->u.gen.i[0];
    sample_cfg g;
    g.V = c->u.gen.i[1];
    g.k = c->u.gen.i[2];
    memcpy(&g.P, &c->u.gen.i[3], sizeof g.P);
    g.T = c->u.gen.f[0];
    g.lmin = c->u.gen.f[1];
    g.top_p = c->u.gen.d[2] != 0;
    g.min_p = c->u.gen.d[3] != 0;
    const int dt = c->u.gen.d[0];
    const void *x = c->args[0].ptr;
    const float *u = (const float *)c->args[1].ptr;
    int32_t *tok = (int32_t *)c->args[2].ptr;
    float *lp = c->u.gen.d[1] ? (float *)c->args[3].ptr : NULL;
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > B) nt = (int)B;
    /* per-thread scratch (host memory): keys of one row; masses and indices
       of its candidates (not needed by greedy rows) */
    const bool need = g.T != 0.0f;
    int fail = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        scratch_t sc = {NULL, NULL, NULL};
        sc.key = malloc(sizeof(uint32_t) * (size_t)g.V);
        if (need) {
            sc.q = malloc(sizeof(uint64_t) * (size_t)(g.k > 0 ? g.k : g.V));
            sc.idx = g.k > 0 ? malloc(sizeof(int32_t) * (size_t)g.k) : NULL;
        }
        const bool ok = sc.key && (!need || (sc.q && (g.k == 0 || sc.idx)));
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp barrier
        int f;
#pragma omp atomic read
        f = fail;
        if (!f) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < B; r++) {
                float l;
                const int32_t t = sample_row(&g, dt, x, r * g.V, u[r], &sc, &l);
                tok[r] = t;
                if (lp) lp[r] = l;
            }
        }
        free(sc.key);
        free(sc.q);
        free(sc.idx);
    }
    if (fail) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
    return MLXN_OK;
}
