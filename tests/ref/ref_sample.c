/* ref_sample.c — float64 references of the MoE-routing and sampling family
   (contracts in include/mlxn.h). Plain loops and sorts, written for clarity. */
#include "ref_sample.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* (value desc, index asc): the order of the contracts */
typedef struct {
    double v;
    int64_t i;
} vi_t;

static int cmp_vi(const void *a, const void *b) {
    const vi_t *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void ref_moe_softmax_topk(const double *x, int64_t T, int64_t E, int k, int renorm, const double *scale,
                          int32_t *ids, double *w) {
    vi_t *o = malloc(sizeof(vi_t) * (size_t)E);
    if (!o) return;
    for (int64_t t = 0; t < T; t++) {
        const double *r = x + t * E;
        int bad = 0;
        double m = -INFINITY;
        for (int64_t j = 0; j < E; j++) {
            if (isnan(r[j]) || r[j] == INFINITY) bad = 1;
            if (r[j] > m) m = r[j];
        }
        if (bad || m == -INFINITY) {
            for (int j = 0; j < k; j++) {
                ids[t * k + j] = j;
                w[t * k + j] = bad ? NAN : 0.0;
            }
            continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < E; j++) {
            sum += exp(r[j] - m);
            o[j].v = r[j];
            o[j].i = j;
        }
        qsort(o, (size_t)E, sizeof *o, cmp_vi);
        double sel = 0.0;
        for (int j = 0; j < k; j++) sel += exp(o[j].v - m);
        for (int j = 0; j < k; j++) {
            double v = exp(o[j].v - m) / (renorm ? sel : sum);
            if (scale) v *= scale[o[j].i];
            ids[t * k + j] = (int32_t)o[j].i;
            w[t * k + j] = v;
        }
    }
    free(o);
}

void ref_moe_weighted_reduce(const double *y, const double *w, const double *y_shared, const double *gate,
                             int sigmoid, const double *res, int64_t T, int64_t K, int64_t D, double *out) {
    for (int64_t t = 0; t < T; t++) {
        double g = 1.0;
        if (gate) g = sigmoid ? 1.0 / (1.0 + exp(-gate[t])) : gate[t];
        for (int64_t d = 0; d < D; d++) {
            double s = 0.0;
            for (int64_t j = 0; j < K; j++) s += w[t * K + j] * y[(t * K + j) * D + d];
            if (y_shared) s += g * y_shared[t * D + d];
            if (res) s += res[t * D + d];
            out[t * D + d] = s;
        }
    }
}

static float zf(double x, double T) {
    const float xf = (float)x, Tf = (float)T;
    float z = xf / Tf;
    if (xf > -INFINITY) {
        if (z > FLT_MAX) z = FLT_MAX;
        if (z < -FLT_MAX) z = -FLT_MAX;
    }
    return z;
}

int ref_sample_dist(const double *x, int64_t V, const ref_sample_params *p, double *prob, double *dlog,
                    double *tp_margin, double *mass) {
    *tp_margin = 1.0;
    if (mass) *mass = 1.0;
    double m = -INFINITY;
    int64_t im = 0;
    for (int64_t i = 0; i < V; i++) {
        if (isnan(x[i]) || x[i] == INFINITY) return -1;
        if (x[i] > m) {
            m = x[i];
            im = i;
        }
    }
    if (m == -INFINITY) return -1;
    for (int64_t i = 0; i < V; i++) prob[i] = 0.0;
    if (p->temperature == 0.0) {
        prob[im] = 1.0;
        if (dlog)
            for (int64_t i = 0; i < V; i++) dlog[i] = i == im ? 0.0 : -INFINITY;
        return 0;
    }
    const float zmax = zf(m, p->temperature);
    vi_t *o = malloc(sizeof(vi_t) * (size_t)V);
    double *e = malloc(sizeof(double) * (size_t)V);
    char *keep = calloc((size_t)V, 1);
    if (!o || !e || !keep) {
        free(o);
        free(e);
        free(keep);
        return -1;
    }
    for (int64_t i = 0; i < V; i++) {
        const float d = zf(x[i], p->temperature) - zmax;
        e[i] = exp((double)d);
        if (dlog) dlog[i] = d;
        o[i].v = x[i] == 0.0 ? 0.0 : x[i];
        o[i].i = i;
    }
    qsort(o, (size_t)V, sizeof *o, cmp_vi);
    int64_t n = V; /* kept prefix length of the order */
    if (p->top_k > 0 && p->top_k < V) n = p->top_k;
    /* the parameters are f32 in the API: use the values the device sees */
    const double top_p = (float)p->top_p, min_p = (float)p->min_p;
    if (top_p < 1.0) {
        double M1 = 0.0;
        for (int64_t j = 0; j < n; j++) M1 += e[o[j].i];
        const double tgt = top_p * M1;
        double cum = 0.0, prev = 0.0;
        int64_t cut = n;
        for (int64_t j = 0; j < n; j++) {
            prev = cum;
            cum += e[o[j].i];
            if (cum >= tgt) {
                cut = j + 1;
                break;
            }
        }
        const double a = (cum - tgt) / M1, b = (tgt - prev) / M1;
        *tp_margin = a < b ? a : b;
        n = cut;
    }
    for (int64_t j = 0; j < n; j++) keep[o[j].i] = 1;
    const float lmin = min_p > 0.0 ? (float)log(min_p) : -INFINITY;
    double M = 0.0;
    for (int64_t i = 0; i < V; i++) {
        if (keep[i] && min_p > 0.0) {
            const float d = zf(x[i], p->temperature) - zmax;
            if (!(d >= lmin)) keep[i] = 0;
        }
        if (keep[i]) M += e[i];
    }
    for (int64_t i = 0; i < V; i++) prob[i] = keep[i] ? e[i] / M : 0.0;
    if (mass) *mass = M;
    free(o);
    free(e);
    free(keep);
    return 0;
}

int64_t ref_sample_draw(const double *prob, int64_t V, double u, double *u_margin) {
    if (!(u >= 0.0)) u = 0.0;
    if (u >= 1.0) u = (double)0x1.fffffep-1f;
    double cum = 0.0, prev = 0.0;
    int64_t tok = -1, last = -1, first = -1;
    for (int64_t i = 0; i < V; i++) {
        if (prob[i] <= 0.0) continue;
        if (first < 0) first = i;
        last = i;
        prev = cum;
        cum += prob[i];
        if (cum > u) {
            tok = i;
            break;
        }
    }
    if (tok < 0) { /* u at the very top (rounding of the sum): the last token */
        tok = last;
        if (u_margin) *u_margin = 0.0;
        return tok;
    }
    if (u_margin) {
        bool more = false; /* a token of probability > 0 after tok */
        for (int64_t i = tok + 1; i < V && !more; i++) more = prob[i] > 0.0;
        const double a = more ? cum - u : INFINITY, b = tok > first ? u - prev : INFINITY;
        *u_margin = a < b ? a : b;
    }
    return tok;
}
