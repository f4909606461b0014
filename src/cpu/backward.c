/* backward.c (CPU) — softmax_backward, rms_inv, rms_norm_backward,
   unary_backward (silu, log) and row_sum_backward, all f32. Plan slots and
   argument order: src/ops/backward.c.

   Row sums (softmax's sum y*dy, rms_inv's sum x^2, rms backward's sum
   dy*x*w) are taken in blocks of BLK elements: each block in f32 by a SIMD
   reduction (8-16 lanes of <= BLK/8 terms), the blocks added in double, so
   the f32 chains stay short whatever the row length. The per-element passes
   are single `omp simd` loops in which element j is read before it is
   written by the same iteration, so dx may be exactly an input view.

   rms_norm_backward's dw: the rows are dealt into the fixed (strided) chunks
   of src/ops/backward.c; each chunk (one thread) accumulates its column sums
   dy*x*r in f32 into its own slice of the workspace, then the column blocks
   are summed over the chunks in the order of src/ops/backward.c (groups of
   four consecutive chunks in f32, eight runs of consecutive groups in double,
   then the run totals). The partition does not depend on the thread count,
   so dw is reproducible bit for bit.

   silu' uses a branch-free exp (Cody-Waite reduction and Cephes' expf
   polynomial, ~1 ulp) on -|x|, so neither sigmoid(x) nor 1 - sigmoid(x) is
   formed by cancellation: e = exp(-|x|), d = 1/(1+e); for x >= 0
   sigmoid = d, 1 - sigmoid = e*d, for x < 0 the other way round. */
#include "cpu.h"
#include "mlxn.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define BW_GROUP 4 /* chunks per group: mirrors src/ops/backward.c */

#define BLK 1024 /* elements per summed block */

#if defined(__FMA__)
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

static int64_t imin64(int64_t a, int64_t b) { return a < b ? a : b; }

static int threads_for(int64_t units) {
    int nt = mlxn_cpu_threads();
    if ((int64_t)nt > units) nt = (int)(units > 0 ? units : 1);
    return nt;
}

/* ---- math ------------------------------------------------------------------- */

static inline float bits_to_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* e^x for x <= 0 (the only use here): k = round(x/ln2), r = x - k ln2 in two
   parts, Cephes' polynomial for e^r, 2^k applied as two exact factors so
   results down to the subnormals come out with one rounding; x < -104 gives 0. */
static inline float exp_nonpos(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    const float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (xc - kf * 0.693359375f) - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = MADD(p, r, 1.3981999507e-3f);
    p = MADD(p, r, 8.3334519073e-3f);
    p = MADD(p, r, 4.1665795894e-2f);
    p = MADD(p, r, 1.6666665459e-1f);
    p = MADD(p, r, 5.0000001201e-1f);
    p = MADD(p, r * r, r) + 1.0f;
    const int32_t k = (int32_t)kf;
    const int32_t k1 = k / 2, k2 = k - k1;
    const float res = p * bits_to_f((uint32_t)(k1 + 127) << 23) * bits_to_f((uint32_t)(k2 + 127) << 23);
    return x < -104.0f ? 0.0f : res;
}

/* silu'(x) = sigmoid(x) (1 + x (1 - sigmoid(x))); +inf -> 1, -inf -> 0, NaN -> NaN. */
static inline float silu_grad(float x) {
    const float e = exp_nonpos(-fabsf(x));
    const float d = 1.0f / (1.0f + e);
    const float ed = e * d;
    const float sg = x >= 0.0f ? d : ed;  /* sigmoid(x)     */
    const float sm = x >= 0.0f ? ed : d;  /* 1 - sigmoid(x) */
    float g = sg * (1.0f + x * sm);
    g = x == INFINITY ? 1.0f : g;
    g = x == -INFINITY ? 0.0f : g;
    return x == x ? g : x;
}

/* ---- blocked sums ------------------------------------------------------------- */

static double sum_prod(const float *a, const float *b, int64_t n) {
    double tot = 0.0;
    for (int64_t o = 0; o < n; o += BLK) {
        const int len = (int)imin64(BLK, n - o);
        const float *pa = a + o, *pb = b + o;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < len; i++) s += pa[i] * pb[i];
        tot += (double)s;
    }
    return tot;
}

static double sum_prod3(const float *a, const float *b, const float *c, int64_t n) {
    double tot = 0.0;
    for (int64_t o = 0; o < n; o += BLK) {
        const int len = (int)imin64(BLK, n - o);
        const float *pa = a + o, *pb = b + o, *pc = c + o;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < len; i++) s += pa[i] * pb[i] * pc[i];
        tot += (double)s;
    }
    return tot;
}

/* ---- softmax_backward --------------------------------------------------------- */

int mlxn_cpu_softmax_backward(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const float *y = (const float *)c->args[0].ptr;
    const float *dy = (const float *)c->args[1].ptr;
    float *dx = (float *)c->args[2].ptr;
    const int nt = threads_for(rows);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        const float s = (float)sum_prod(yr, dyr, n);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) dxr[j] = yr[j] * (dyr[j] - s);
    }
    return MLXN_OK;
}

/* ---- rms_inv ------------------------------------------------------------------ */

int mlxn_cpu_rms_inv(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1];
    const double eps = (double)c->u.gen.f[0];
    const float *x = (const float *)c->args[0].ptr;
    float *rr = (float *)c->args[1].ptr;
    const int nt = threads_for(rows);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        const double ss = sum_prod(x + r * dim, x + r * dim, dim);
        rr[r] = (float)(1.0 / sqrt(ss / (double)dim + eps));
    }
    return MLXN_OK;
}

/* ---- rms_norm_backward -------------------------------------------------------- */

/* One row: dx = r (dy w - x c), c = s r^2 / dim; acc (if not NULL) += dy x r. */
static void rms_bw_row(const float *x, const float *w, float r, const float *dy, float *dx, int64_t dim,
                       float *restrict acc) {
    double s;
    if (w) s = sum_prod3(dy, x, w, dim);
    else s = sum_prod(dy, x, dim);
    const float cf = (float)(s * (double)r * (double)r / (double)dim);
    if (w && acc) {
#pragma omp simd
        for (int64_t j = 0; j < dim; j++) {
            const float xj = x[j], dyj = dy[j];
            acc[j] += dyj * xj * r;
            dx[j] = r * (dyj * w[j] - xj * cf);
        }
    } else if (w) {
#pragma omp simd
        for (int64_t j = 0; j < dim; j++) dx[j] = r * (dy[j] * w[j] - x[j] * cf);
    } else if (acc) {
#pragma omp simd
        for (int64_t j = 0; j < dim; j++) {
            const float xj = x[j], dyj = dy[j];
            acc[j] += dyj * xj * r;
            dx[j] = r * (dyj - xj * cf);
        }
    } else {
#pragma omp simd
        for (int64_t j = 0; j < dim; j++) dx[j] = r * (dy[j] - x[j] * cf);
    }
}

int mlxn_cpu_rms_norm_backward(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1], nch = c->u.gen.i[2];
    const bool has_w = c->u.gen.d[0] != 0, has_dw = c->u.gen.d[1] != 0;
    const float *x = (const float *)c->args[0].ptr;
    const float *w = has_w ? (const float *)c->args[1].ptr : NULL;
    const float *rr = (const float *)c->args[2].ptr;
    const float *dy = (const float *)c->args[3].ptr;
    float *dx = (float *)c->args[4].ptr;
    if (!has_dw) {
        const int nt = threads_for(rows);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t r = 0; r < rows; r++) rms_bw_row(x + r * dim, w, rr[r], dy + r * dim, dx + r * dim, dim, NULL);
        return MLXN_OK;
    }
    float *dw = (float *)c->args[5].ptr;
    float *ws = (float *)c->args[6].ptr;
    int nt = threads_for(nch);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t ch = 0; ch < nch; ch++) {
        float *acc = ws + ch * dim;
        memset(acc, 0, sizeof(float) * (size_t)dim);
        for (int64_t r = ch; r < rows; r += nch) rms_bw_row(x + r * dim, w, rr[r], dy + r * dim, dx + r * dim, dim, acc);
    }
    /* dw: column blocks in parallel; groups of BW_GROUP chunks added in f32,
       eight runs of groups, each added in order in double, then the run
       totals in order */
    const int64_t ng = (nch + BW_GROUP - 1) / BW_GROUP;
    const int64_t ncb = (dim + BLK - 1) / BLK;
    nt = threads_for(ncb);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t cb = 0; cb < ncb; cb++) {
        const int64_t j0 = cb * BLK;
        const int len = (int)imin64(BLK, dim - j0);
        double t[BLK], u[BLK];
        for (int j = 0; j < len; j++) t[j] = 0.0;
        for (int64_t run = 0; run < 8; run++) {
            for (int j = 0; j < len; j++) u[j] = 0.0;
            for (int64_t g = run * ng / 8; g < (run + 1) * ng / 8; g++) {
                const int64_t c0 = g * BW_GROUP, c1 = imin64(c0 + BW_GROUP, nch);
                const float *p = ws + c0 * dim + j0;
#pragma omp simd
                for (int j = 0; j < len; j++) {
                    float gs = p[j];
                    for (int64_t ch = c0 + 1; ch < c1; ch++) gs += p[(ch - c0) * dim + j];
                    u[j] += (double)gs;
                }
            }
            for (int j = 0; j < len; j++) t[j] += u[j];
        }
        for (int j = 0; j < len; j++) dw[j0 + j] = (float)t[j];
    }
    return MLXN_OK;
}

/* ---- unary_backward ----------------------------------------------------------- */

int mlxn_cpu_unary_backward(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t n = c->u.gen.i[0];
    const int op = c->u.gen.d[0];
    const float *x = (const float *)c->args[0].ptr;
    const float *dy = (const float *)c->args[1].ptr;
    float *dx = (float *)c->args[2].ptr;
    const int64_t nblk = (n + 8 * BLK - 1) / (8 * BLK);
    const int nt = threads_for(n >= (1 << 15) ? nblk : 1);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t b = 0; b < nblk; b++) {
        const int64_t o = b * 8 * BLK, len = imin64(8 * BLK, n - o);
        const float *xb = x + o, *dyb = dy + o;
        float *dxb = dx + o;
        if (op == MLXN_UNARY_SILU) {
#pragma omp simd
            for (int64_t j = 0; j < len; j++) dxb[j] = dyb[j] * silu_grad(xb[j]);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < len; j++) dxb[j] = dyb[j] / xb[j];
        }
    }
    return MLXN_OK;
}

/* ---- row_sum_backward --------------------------------------------------------- */

int mlxn_cpu_row_sum_backward(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const float *dy = (const float *)c->args[0].ptr;
    float *dx = (float *)c->args[1].ptr;
    const int nt = threads_for(rows * n >= (1 << 15) ? rows : 1);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        const float v = dy[r];
        float *d = dx + r * n;
#pragma omp simd
        for (int64_t j = 0; j < n; j++) d[j] = v;
    }
    return MLXN_OK;
}
