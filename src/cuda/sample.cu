// sample.cu — MoE routing (moe_softmax_topk), the MoE combine
// (moe_weighted_reduce) and on-device sampling (softmax_sample).
// Plan slots and argument order: src/ops/sample.c; semantics: mlxn.h. The
// CPU kernels (src/cpu/sample.c) run the same algorithms sequentially.
//
// moe_softmax_topk  one warp per token row (4 rows per 128-thread block,
//     grid-stride over rows). Lanes stride over the E logits: a warp max and
//     non-finite check, a warp f32 sum of exp(x - max), then k rounds of a
//     warp arg-best restricted to the elements that come after the previous
//     winner in the order (value descending, id ascending): no per-element
//     state, k <= 64 passes over a row that sits in L1.
// moe_weighted_reduce  one thread per output element (grid-stride over
//     T*D), f32 accumulation over j in order, one rounding.
// softmax_sample  one block per row (grid-stride over rows). Every pass
//     reads the row again (it stays in L2) and recomputes keys and masses:
//       1. max, first argmax and the non-finite check (block reduction);
//       2. top-k: radix select on the order keys, 8 bits at a time, with a
//          256-bin histogram of counts in shared memory (integer atomics,
//          aggregated per warp and bin: order-independent, deterministic);
//       3. top-p: the kept mass (block sum of uint64 masses), then the same
//          radix select weighted by the masses;
//       4. the draw: per-warp sums of the kept masses over warp-contiguous
//          ranges (lanes stride inside the range), the warp whose range
//          holds the target found by thread 0, then that warp rescans its
//          range 32 elements at a time with a warp scan until the running
//          mass exceeds the target.
//     Ties at a radix boundary are cut by index with the same warp-range
//     search (the m-th tied token). Every row pass loads kU = 4 elements per
//     thread before using them (and the rescanning warp kR = 8 chunks of 32),
//     so several L2 loads are in flight per warp. Every sum is an exact uint64, so the
//     result does not depend on thread or block order. No workspace: a row
//     is owned by one block.
#include "cuda_common.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <float.h>
#include <math_constants.h>
#include <stdint.h>
#include <string.h>

namespace {

__device__ __forceinline__ float ld1(const float *p) { return *p; }
__device__ __forceinline__ float ld1(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ float ld1(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st1(float *p, float v) { *p = v; }
__device__ __forceinline__ void st1(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void st1(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

// Loads element i of a buffer of dtype dt as f32.
__device__ __forceinline__ float ldt(int dt, const void *p, int64_t i) {
    if (dt == MLXN_F32) return static_cast<const float *>(p)[i];
    if (dt == MLXN_F16) return __half2float(static_cast<const __half *>(p)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
}

// (v, i) ahead of (w, j) in the order: value descending, index ascending.
__device__ __forceinline__ bool ahead(float v, int i, float w, int j) { return v > w || (v == w && i < j); }

/* ---- moe_softmax_topk ------------------------------------------------------- */

constexpr int kMoeWarps = 4;

template <typename T>
__global__ void __launch_bounds__(kMoeWarps * 32)
    moe_topk_kernel(const T *__restrict__ x, const float *__restrict__ scale, int32_t *__restrict__ ids,
                    float *__restrict__ wts, int64_t rows, int E, int k, int renorm) {
    __shared__ float s_e[kMoeWarps][MLXN_MOE_MAX_TOPK];
    __shared__ int s_i[kMoeWarps][MLXN_MOE_MAX_TOPK];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int64_t stride = (int64_t)gridDim.x * kMoeWarps;
    for (int64_t row = (int64_t)blockIdx.x * kMoeWarps + w; row < rows; row += stride) {
        const T *xr = x + row * (int64_t)E;
        float m = -CUDART_INF_F;
        int bad = 0;
        for (unsigned j = lane; j < (unsigned)E; j += 32) {
            const float v = ld1(xr + j);
            bad |= (v != v) | (v == CUDART_INF_F);
            m = fmaxf(m, v);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
            bad |= __shfl_xor_sync(0xffffffffu, bad, o);
        }
        int32_t *id = ids + row * k;
        float *wt = wts + row * k;
        if (bad || m == -CUDART_INF_F) {
            for (int j = lane; j < k; j += 32) {
                id[j] = j;
                wt[j] = bad ? CUDART_NAN_F : 0.0f;
            }
            continue;
        }
        float sum = 0.0f;
        for (unsigned j = lane; j < (unsigned)E; j += 32) sum += expf(ld1(xr + j) - m);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        // k rounds: the best element after the previous winner (pv, pi)
        float pv = CUDART_INF_F;
        int pi = -1;
        for (int r = 0; r < k; r++) {
            float bv = -CUDART_INF_F;
            int bi = INT32_MAX;
            for (unsigned j = lane; j < (unsigned)E; j += 32) {
                const float v = ld1(xr + j);
                const bool after = pi < 0 || ahead(pv, pi, v, (int)j);
                if (after && (bi == INT32_MAX || ahead(v, (int)j, bv, bi))) {
                    bv = v;
                    bi = (int)j;
                }
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
                const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (oi != INT32_MAX && (bi == INT32_MAX || ahead(ov, oi, bv, bi))) {
                    bv = ov;
                    bi = oi;
                }
            }
            // k <= E, so a winner always exists
            pv = bv;
            pi = bi;
            if (lane == 0) {
                s_e[w][r] = expf(bv - m);
                s_i[w][r] = bi;
            }
        }
        __syncwarp();
        float sel = 0.0f;
        if (renorm)
            for (int r = 0; r < k; r++) sel += s_e[w][r]; // the same order in every lane
        const float den = renorm ? sel : sum;
        for (int r = lane; r < k; r += 32) {
            const int e_id = s_i[w][r];
            float v = s_e[w][r] / den;
            if (scale) v *= scale[e_id];
            id[r] = e_id;
            wt[r] = v;
        }
        __syncwarp(); // s_e/s_i are rewritten by the warp's next row
    }
}

/* ---- moe_weighted_reduce ------------------------------------------------------ */

template <typename T>
__global__ void __launch_bounds__(256)
    moe_reduce_kernel(const T *__restrict__ y, const float *__restrict__ w, const T *__restrict__ ysh,
                      const void *__restrict__ gate, int gdt, int sig, const T *res, T *out, int64_t Tn, int64_t K,
                      int64_t D) {
    const int64_t n = Tn * D;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < n; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = o / D, d = o - t * D;
        float acc = 0.0f;
        for (int64_t j = 0; j < K; j++) acc += w[t * K + j] * ld1(y + (t * K + j) * D + d);
        if (ysh) {
            float g = 1.0f;
            if (gdt >= 0) {
                g = ldt(gdt, gate, t);
                if (sig) g = 1.0f / (1.0f + expf(-g));
            }
            acc += g * ld1(ysh + o);
        }
        if (res) acc += ld1(res + o); // res may be out itself: read before the write
        st1(out + o, acc);
    }
}

/* ---- softmax_sample ---------------------------------------------------------- */

constexpr int kMaxWarps = 32;

// The order key of a logit: unsigned compare of keys = float compare, -0 == +0.
__device__ __forceinline__ uint32_t fkey(float x) {
    if (x == 0.0f) x = 0.0f;
    const uint32_t b = __float_as_uint(x);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ float key_f(uint32_t k) {
    return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ __forceinline__ float zval(float x, float T) {
    float z = x / T; // IEEE division (no fast math), as the CPU
    if (x > -CUDART_INF_F) z = fminf(fmaxf(z, -FLT_MAX), FLT_MAX);
    return z;
}

struct Row {
    float T, zmax, lmin;
    bool min_p;
};

__device__ __forceinline__ uint64_t qmass(const Row &g, float x) {
    return __float2ull_rn(expf(zval(x, g.T) - g.zmax) * 4294967296.0f);
}

struct Pfx {
    uint32_t tau;
    int cut;
    bool on;
};

__device__ __forceinline__ bool in_pfx(const Pfx &p, uint32_t key, int i) {
    return !p.on || key > p.tau || (key == p.tau && i < p.cut);
}

// Shared state of one block.
struct Smem {
    unsigned long long hist[256];
    unsigned long long wsum[kMaxWarps];
    float rv[kMaxWarps];
    int ri[kMaxWarps];
    int rbad[kMaxWarps];
    // broadcasts
    float b_max;
    int b_imax, b_bad;
    int b_found;
    unsigned long long b_above, b_eq, b_tot, b_t;
    int b_warp, b_idx;
};

__device__ __forceinline__ unsigned long long warp_sum_u64(unsigned long long v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

constexpr int kU = 4;  // loads in flight per thread in the row passes
constexpr int kR = 8;  // 32-element chunks loaded at once by the rescanning warp

// The first index (in index order) where the running sum of wfn(x_i, i) over
// the row exceeds t, with t = tfn(total). Warp w owns [w*C, min(V, (w+1)*C)).
// Returns -1 when no index exceeds t (t >= total). *total receives the sum.
// Must be called by every thread of the block.
template <typename T, typename WF, typename TF>
__device__ __forceinline__ int block_find_exceed(Smem &sm, const T *xr, int V, WF wfn, TF tfn,
                                                 unsigned long long *total) {
    const int t = threadIdx.x, lane = t & 31, w = t >> 5, nw = blockDim.x >> 5;
    const unsigned C = ((unsigned)V + (unsigned)nw - 1u) / (unsigned)nw;
    const unsigned lo = (unsigned)w * C, hi = min((unsigned)V, lo + C);
    unsigned long long s = 0;
    for (unsigned base = lo; base < hi; base += 32u * kU) {
        float v[kU];
#pragma unroll
        for (int j = 0; j < kU; j++) {
            const unsigned i = base + 32u * j + lane;
            v[j] = i < hi ? ld1(xr + i) : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < kU; j++) {
            const unsigned i = base + 32u * j + lane;
            if (i < hi) s += wfn(v[j], (int)i);
        }
    }
    s = warp_sum_u64(s);
    if (lane == 0) sm.wsum[w] = s;
    __syncthreads();
    if (t == 0) {
        unsigned long long tot = 0;
        for (int k = 0; k < nw; k++) tot += sm.wsum[k];
        const unsigned long long tt = tfn(tot);
        unsigned long long cum = 0;
        int ww = -1;
        for (int k = 0; k < nw; k++) {
            if (cum + sm.wsum[k] > tt) {
                ww = k;
                break;
            }
            cum += sm.wsum[k];
        }
        sm.b_tot = tot;
        sm.b_t = tt - (ww >= 0 ? cum : 0); // the remainder inside warp ww
        sm.b_warp = ww;
        sm.b_idx = -1;
    }
    __syncthreads();
    const int ww = sm.b_warp;
    if (w == ww) {
        const unsigned long long rem = sm.b_t;
        unsigned long long run = 0;
        bool done = false; // warp-uniform
        for (unsigned base = lo; base < hi && !done; base += 32u * kR) {
            float v[kR];
#pragma unroll
            for (int j = 0; j < kR; j++) {
                const unsigned i = base + 32u * j + lane;
                v[j] = i < hi ? ld1(xr + i) : 0.0f;
            }
#pragma unroll
            for (int j = 0; j < kR; j++) {
                if (done) break;
                const unsigned i = base + 32u * j + lane;
                unsigned long long inc = i < hi ? wfn(v[j], (int)i) : 0ull;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const unsigned long long u = __shfl_up_sync(0xffffffffu, inc, o);
                    if (lane >= o) inc += u;
                }
                const unsigned ball = __ballot_sync(0xffffffffu, run + inc > rem);
                if (ball) {
                    if (lane == __ffs(ball) - 1) sm.b_idx = (int)i;
                    done = true;
                } else {
                    run += __shfl_sync(0xffffffffu, inc, 31);
                }
            }
        }
    }
    __syncthreads();
    *total = sm.b_tot;
    const int r = sm.b_idx;
    __syncthreads(); // the broadcasts are reused by the next call
    return r;
}

// The shortest prefix (within S) of the order whose weight reaches target
// (1 <= target <= weight of S). MASS: weights are the masses, else 1.
template <typename T, bool MASS>
__device__ __forceinline__ Pfx radix_select(Smem &sm, const T *xr, int V, const Row &g, const Pfx &S, unsigned long long target) {
    const int t = threadIdx.x, nt = blockDim.x, lane = t & 31;
    uint32_t prefix = 0, mask = 0;
    unsigned long long above = 0, eq = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = t; b < 256; b += nt) sm.hist[b] = 0;
        __syncthreads();
        // warp-uniform trip count; per step each warp adds one aggregated
        // value per distinct bin among its lanes (logits of one magnitude
        // share the top digits: per-lane atomics would serialize on a bin)
        for (unsigned base = 0; base < (unsigned)V; base += (unsigned)nt * kU) {
            float v[kU];
#pragma unroll
            for (int j = 0; j < kU; j++) {
                const unsigned i = base + (unsigned)(j * nt + t);
                v[j] = i < (unsigned)V ? ld1(xr + i) : 0.0f;
            }
#pragma unroll
            for (int j = 0; j < kU; j++) {
                const unsigned i = base + (unsigned)(j * nt + t);
                int bin = -1;
                unsigned long long wv = 0;
                if (i < (unsigned)V) {
                    const uint32_t key = fkey(v[j]);
                    if ((key & mask) == prefix && in_pfx(S, key, (int)i)) {
                        bin = (int)((key >> shift) & 255u);
                        wv = MASS ? qmass(g, v[j]) : 1ull;
                    }
                }
                unsigned pending = __ballot_sync(0xffffffffu, bin >= 0);
                while (pending) {
                    const int leader = __ffs(pending) - 1;
                    const int b = __shfl_sync(0xffffffffu, bin, leader);
                    const unsigned grp = __ballot_sync(0xffffffffu, bin == b);
                    const unsigned long long sum =
                        MASS ? warp_sum_u64(bin == b ? wv : 0ull) : (unsigned long long)__popc(grp);
                    if (lane == leader) atomicAdd(&sm.hist[b], sum);
                    pending &= ~grp;
                }
            }
        }
        __syncthreads();
        if (t == 0) {
            int found = -1;
            unsigned long long cum = above;
            for (int b = 255; b >= 0; b--) {
                const unsigned long long h = sm.hist[b];
                if (!h) continue;
                if (cum + h >= target) {
                    found = b;
                    break;
                }
                cum += h;
            }
            sm.b_found = found;
            sm.b_above = cum;
            sm.b_eq = found >= 0 ? sm.hist[found] : 0;
        }
        __syncthreads();
        const int found = sm.b_found;
        above = sm.b_above;
        eq = sm.b_eq;
        __syncthreads(); // hist and the broadcasts are rewritten next
        if (found < 0) return Pfx{0, V, false}; // unreachable when target <= weight(S): keep all of S
        prefix |= (uint32_t)found << shift;
        mask |= 0xffu << shift;
    }
    // the tied tokens (key == prefix) all weigh the same
    const unsigned long long wt = MASS ? qmass(g, key_f(prefix)) : 1ull;
    const unsigned long long need = target - above, m = (need + wt - 1) / wt, cnt = eq / wt;
    Pfx r{prefix, V, true};
    if (m >= cnt) return r;
    unsigned long long tot;
    const int idx = block_find_exceed(
        sm, xr, V,
        [&](float xv, int i) -> unsigned long long {
            const uint32_t key = fkey(xv);
            return (key == prefix && in_pfx(S, key, i)) ? 1ull : 0ull;
        },
        [&](unsigned long long) -> unsigned long long { return m - 1; }, &tot);
    if (idx >= 0) r.cut = idx + 1;
    return r;
}

template <typename T>
__global__ void __launch_bounds__(1024, 1)
    sample_kernel(const T *__restrict__ x, const float *__restrict__ u, int32_t *__restrict__ tok,
                  float *__restrict__ lp, int64_t rows, int V, int k, unsigned long long P, int top_p, float Temp,
                  float lmin, int min_p) {
    __shared__ Smem sm;
    const int t = threadIdx.x, lane = t & 31, w = t >> 5, nw = blockDim.x >> 5;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * (int64_t)V;
        // 1. max, first argmax, non-finite check
        float bv = -CUDART_INF_F;
        int bi = INT32_MAX, bad = 0;
        for (unsigned base = 0; base < (unsigned)V; base += blockDim.x * kU) {
            float v[kU];
#pragma unroll
            for (int j = 0; j < kU; j++) {
                const unsigned i = base + j * blockDim.x + t;
                v[j] = i < (unsigned)V ? ld1(xr + i) : 0.0f;
            }
#pragma unroll
            for (int j = 0; j < kU; j++) {
                const unsigned i = base + j * blockDim.x + t;
                if (i >= (unsigned)V) continue;
                bad |= (v[j] != v[j]) | (v[j] == CUDART_INF_F);
                if (bi == INT32_MAX || ahead(v[j], (int)i, bv, bi)) {
                    bv = v[j];
                    bi = (int)i;
                }
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            bad |= __shfl_xor_sync(0xffffffffu, bad, o);
            if (oi != INT32_MAX && (bi == INT32_MAX || ahead(ov, oi, bv, bi))) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0) {
            sm.rv[w] = bv;
            sm.ri[w] = bi;
            sm.rbad[w] = bad;
        }
        __syncthreads();
        if (t == 0) {
            for (int q = 1; q < nw; q++) {
                bad |= sm.rbad[q];
                if (sm.ri[q] != INT32_MAX && (bi == INT32_MAX || ahead(sm.rv[q], sm.ri[q], bv, bi))) {
                    bv = sm.rv[q];
                    bi = sm.ri[q];
                }
            }
            sm.b_max = bv;
            sm.b_imax = bi;
            sm.b_bad = bad;
        }
        __syncthreads();
        const float xmax = sm.b_max;
        const int imax = sm.b_imax;
        const bool invalid = sm.b_bad || xmax == -CUDART_INF_F;
        __syncthreads();
        if (invalid || Temp == 0.0f) {
            if (t == 0) {
                tok[row] = invalid ? -1 : imax;
                if (lp) lp[row] = invalid ? CUDART_NAN_F : 0.0f;
            }
            continue;
        }
        Row g;
        g.T = Temp;
        g.zmax = zval(xmax, Temp);
        g.lmin = lmin;
        g.min_p = min_p != 0;
        const Pfx all{0, V, false};
        Pfx k1 = all, k2 = all;
        // 2. top-k
        if (k > 0) k1 = radix_select<T, false>(sm, xr, V, g, all, (unsigned long long)k);
        // 3. top-p within the top-k
        if (top_p) {
            unsigned long long s = 0;
            for (unsigned base = 0; base < (unsigned)V; base += blockDim.x * kU) {
                float v[kU];
#pragma unroll
                for (int j = 0; j < kU; j++) {
                    const unsigned i = base + j * blockDim.x + t;
                    v[j] = i < (unsigned)V ? ld1(xr + i) : 0.0f;
                }
#pragma unroll
                for (int j = 0; j < kU; j++) {
                    const unsigned i = base + j * blockDim.x + t;
                    if (i < (unsigned)V && in_pfx(k1, fkey(v[j]), (int)i)) s += qmass(g, v[j]);
                }
            }
            s = warp_sum_u64(s);
            if (lane == 0) sm.wsum[w] = s;
            __syncthreads();
            if (t == 0) {
                unsigned long long M1 = 0;
                for (int q = 0; q < nw; q++) M1 += sm.wsum[q];
                sm.b_tot = M1;
            }
            __syncthreads();
            const unsigned long long M1 = sm.b_tot;
            __syncthreads();
            unsigned long long tgt = __umul64hi(P, M1);
            if (tgt < 1) tgt = 1;
            k2 = radix_select<T, true>(sm, xr, V, g, k1, tgt);
        }
        // 4. the draw
        float uu = u[row];
        if (!(uu >= 0.0f)) uu = 0.0f;
        if (uu >= 1.0f) uu = 0x1.fffffep-1f;
        const unsigned long long U = __float2ull_rz(uu * 18446744073709551616.0f);
        auto kept_mass = [&](float xv, int i) -> unsigned long long {
            const uint32_t key = fkey(xv);
            if (!in_pfx(k1, key, i) || !in_pfx(k2, key, i)) return 0ull;
            if (g.min_p && !(zval(xv, g.T) - g.zmax >= g.lmin)) return 0ull;
            return qmass(g, xv);
        };
        unsigned long long M = 0;
        const int idx = block_find_exceed(
            sm, xr, V, kept_mass, [&](unsigned long long tot) -> unsigned long long { return __umul64hi(U, tot); }, &M);
        if (t == 0) {
            if (idx < 0) { // unreachable: M >= 2^32 and t < M
                tok[row] = -1;
                if (lp) lp[row] = CUDART_NAN_F;
            } else {
                tok[row] = idx;
                if (lp) {
                    const float d = zval(ld1(xr + idx), g.T) - g.zmax;
                    lp[row] = (float)((double)d - log((double)M * 0x1p-32));
                }
            }
        }
        // block_find_exceed ends with a barrier; the next row's first writes
        // to shared memory come after another one
    }
}

/* ---- launch ---------------------------------------------------------------- */

static unsigned grid_cap(int64_t n) {
    const int64_t cap = 65535LL * 8;
    return (unsigned)(n < cap ? (n > 0 ? n : 1) : cap);
}

template <typename T>
int moe_topk_t(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], E = c->u.gen.i[1];
    const int k = (int)c->u.gen.i[2];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    const float *scale = c->u.gen.d[2] ? static_cast<const float *>(c->args[1].ptr) : nullptr;
    int32_t *ids = static_cast<int32_t *>(c->args[2].ptr);
    float *w = static_cast<float *>(c->args[3].ptr);
    const unsigned grid = grid_cap((rows + kMoeWarps - 1) / kMoeWarps);
    moe_topk_kernel<T><<<grid, kMoeWarps * 32, 0, st>>>(x, scale, ids, w, rows, (int)E, k, c->u.gen.d[1]);
    MLXN_CK_LAUNCH("moe_softmax_topk");
    return MLXN_OK;
}

template <typename T>
int moe_reduce_t(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t Tn = c->u.gen.i[0], K = c->u.gen.i[1], D = c->u.gen.i[2];
    const int flags = c->u.gen.d[3];
    const T *y = static_cast<const T *>(c->args[0].ptr);
    const float *w = static_cast<const float *>(c->args[1].ptr);
    const T *ysh = (flags & 1) ? static_cast<const T *>(c->args[2].ptr) : nullptr;
    const void *gate = c->u.gen.d[1] >= 0 ? c->args[3].ptr : nullptr;
    const T *res = (flags & 2) ? static_cast<const T *>(c->args[4].ptr) : nullptr;
    T *out = static_cast<T *>(c->args[5].ptr);
    const unsigned grid = grid_cap((Tn * D + 255) / 256);
    moe_reduce_kernel<T><<<grid, 256, 0, st>>>(y, w, ysh, gate, c->u.gen.d[1], c->u.gen.d[2], res, out, Tn, K, D);
    MLXN_CK_LAUNCH("moe_weighted_reduce");
    return MLXN_OK;
}

// threads: the next power of two of ceil(V/8), in [32, 1024].
static int sample_threads(int64_t V) {
    const int64_t want = (V + 7) / 8;
    int th = 32;
    while (th < 1024 && th < want) th <<= 1;
    return th;
}

template <typename T>
int sample_t(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], V = c->u.gen.i[1], k = c->u.gen.i[2];
    unsigned long long P;
    memcpy(&P, &c->u.gen.i[3], sizeof P);
    const T *x = static_cast<const T *>(c->args[0].ptr);
    const float *u = static_cast<const float *>(c->args[1].ptr);
    int32_t *tok = static_cast<int32_t *>(c->args[2].ptr);
    float *lp = c->u.gen.d[1] ? static_cast<float *>(c->args[3].ptr) : nullptr;
    sample_kernel<T><<<grid_cap(rows), sample_threads(V), 0, st>>>(x, u, tok, lp, rows, (int)V, (int)k, P,
                                                                   c->u.gen.d[2], c->u.gen.f[0], c->u.gen.f[1],
                                                                   c->u.gen.d[3]);
    MLXN_CK_LAUNCH("softmax_sample");
    return MLXN_OK;
}

} // namespace

extern "C" int mlxn_cuda_moe_softmax_topk(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return moe_topk_t<float>(c, st);
    case MLXN_F16: return moe_topk_t<__half>(c, st);
    default: return moe_topk_t<__nv_bfloat16>(c, st);
    }
}

extern "C" int mlxn_cuda_moe_weighted_reduce(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] * c->u.gen.i[2] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return moe_reduce_t<float>(c, st);
    case MLXN_F16: return moe_reduce_t<__half>(c, st);
    default: return moe_reduce_t<__nv_bfloat16>(c, st);
    }
}

extern "C" int mlxn_cuda_softmax_sample(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return sample_t<float>(c, st);
    case MLXN_F16: return sample_t<__half>(c, st);
    default: return sample_t<__nv_bfloat16>(c, st);
    }
}
