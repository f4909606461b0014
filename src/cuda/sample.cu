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
//     Rows of E <= 512 (every MoE router in use) take moe_topk_reg_kernel: the
//     row is read once into registers (NV values per lane) and the k rounds
//     run on registers and shuffles (decode: one launch-latency-bound warp).
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
//     On sm_90, rows of 8192 <= V <= 262144 with top_k 0 or <= 1024 (or
//     temperature 0) take sample_cluster_kernel instead: a row split over a
//     thread-block cluster of 8 or 16 blocks, read once into shared memory,
//     the passes combined through distributed shared memory, and top-k
//     reduced to its k candidates, finished by one block (see below).
#include "cuda_common.h"
#include "launch.cuh"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <float.h>
#include <math_constants.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace cg = cooperative_groups;

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

// A row of E <= 32 * NV experts held in registers (lane l owns experts
// l, l + 32, ...): one read of the row, then the k rounds run on registers
// (a per-lane taken mask, a warp arg-best by shuffles). Same results as
// moe_topk_kernel (the same f32 sum order: per lane in j order, then the
// xor tree).
template <typename T, int NV>
__global__ void __launch_bounds__(kMoeWarps * 32)
    moe_topk_reg_kernel(const T *__restrict__ x, const float *__restrict__ scale, int32_t *__restrict__ ids,
                        float *__restrict__ wts, int64_t rows, int E, int k, int renorm) {
    __shared__ float s_e[kMoeWarps][MLXN_MOE_MAX_TOPK];
    __shared__ int s_i[kMoeWarps][MLXN_MOE_MAX_TOPK];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int64_t stride = (int64_t)gridDim.x * kMoeWarps;
    for (int64_t row = (int64_t)blockIdx.x * kMoeWarps + w; row < rows; row += stride) {
        const T *xr = x + row * (int64_t)E;
        float v[NV];
#pragma unroll
        for (int j = 0; j < NV; j++) v[j] = lane + 32 * j < E ? ld1(xr + lane + 32 * j) : -CUDART_INF_F;
        float m = -CUDART_INF_F;
        int bad = 0;
#pragma unroll
        for (int j = 0; j < NV; j++) {
            if (lane + 32 * j < E) {
                bad |= (v[j] != v[j]) | (v[j] == CUDART_INF_F);
                m = fmaxf(m, v[j]);
            }
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
#pragma unroll
        for (int j = 0; j < NV; j++)
            if (lane + 32 * j < E) sum += expf(v[j] - m);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        unsigned taken = 0; // bit j: expert lane + 32 j already chosen
        for (int r = 0; r < k; r++) {
            float bv = -CUDART_INF_F;
            int bi = INT32_MAX;
#pragma unroll
            for (int j = 0; j < NV; j++) {
                const int i = lane + 32 * j;
                // j ascending is index ascending within the lane: a strict > keeps the lower index
                if (i < E && !((taken >> j) & 1u) && (bi == INT32_MAX || v[j] > bv)) {
                    bv = v[j];
                    bi = i;
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
            if ((bi & 31) == lane) taken |= 1u << (bi >> 5);
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
            float vv = s_e[w][r] / den;
            if (scale) vv *= scale[e_id];
            id[r] = e_id;
            wt[r] = vv;
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

// D a multiple of VEC = 16 / sizeof(T), every pointer 16-byte aligned: one
// thread per VEC outputs of one token (16-byte loads and stores), grid
// (ceil(D / VEC / 256), min(T, 65535)) striding over tokens; the same f32
// arithmetic per element and order as moe_reduce_kernel.
template <typename T>
__global__ void __launch_bounds__(256)
    moe_reduce_vec_kernel(const T *__restrict__ y, const float *__restrict__ w, const T *__restrict__ ysh,
                          const void *__restrict__ gate, int gdt, int sig, const T *res, T *out, int64_t Tn, int64_t K,
                          int64_t D) {
    constexpr int VEC = 16 / (int)sizeof(T);
    const int64_t d0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (d0 >= D) return;
    for (int64_t t = blockIdx.y; t < Tn; t += gridDim.y) {
        float acc[VEC];
#pragma unroll
        for (int v = 0; v < VEC; v++) acc[v] = 0.0f;
        const T *yt = y + t * K * D + d0;
        const float *wt = w + t * K;
        int64_t j = 0;
        for (; j + 4 <= K; j += 4) { // four 16-byte loads in flight
            uint4 r[4];
#pragma unroll
            for (int q = 0; q < 4; q++) r[q] = *reinterpret_cast<const uint4 *>(yt + (j + q) * D);
#pragma unroll
            for (int q = 0; q < 4; q++) {
                const float wj = wt[j + q];
                const T *e = reinterpret_cast<const T *>(&r[q]);
#pragma unroll
                for (int v = 0; v < VEC; v++) acc[v] += wj * ld1(e + v);
            }
        }
        for (; j < K; j++) {
            const uint4 r = *reinterpret_cast<const uint4 *>(yt + j * D);
            const float wj = wt[j];
            const T *e = reinterpret_cast<const T *>(&r);
#pragma unroll
            for (int v = 0; v < VEC; v++) acc[v] += wj * ld1(e + v);
        }
        const int64_t o = t * D + d0;
        if (ysh) {
            float g = 1.0f;
            if (gdt >= 0) {
                g = ldt(gdt, gate, t);
                if (sig) g = 1.0f / (1.0f + expf(-g));
            }
            const uint4 r = *reinterpret_cast<const uint4 *>(ysh + o);
            const T *e = reinterpret_cast<const T *>(&r);
#pragma unroll
            for (int v = 0; v < VEC; v++) acc[v] += g * ld1(e + v);
        }
        if (res) { // res may be out itself: read before the write
            const uint4 r = *reinterpret_cast<const uint4 *>(res + o);
            const T *e = reinterpret_cast<const T *>(&r);
#pragma unroll
            for (int v = 0; v < VEC; v++) acc[v] += ld1(e + v);
        }
        uint4 st;
        T *so = reinterpret_cast<T *>(&st);
#pragma unroll
        for (int v = 0; v < VEC; v++) st1(so + v, acc[v]);
        *reinterpret_cast<uint4 *>(out + o) = st;
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

// Warp-wide (max, first argmax, any-bad) of the lanes' (bv, bi, bad), in the
// order of ahead() (bi == INT32_MAX: nothing yet); every lane gets the result.
__device__ __forceinline__ void warp_argmax(float &bv, int &bi, int &bad) {
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
}

// Block-wide (max, first argmax, any-bad) of the threads' (bv, bi, bad), in
// the order of ahead(): a warp shuffle tree, then thread 0 folds the warps'
// results in warp order. The result is valid in thread 0 only; sm's rv/ri/rbad
// slots are reused, and the caller's next barrier must come before they are
// written again.
template <typename S> __device__ __forceinline__ void block_argmax(S &sm, float &bv, int &bi, int &bad) {
    const int t = threadIdx.x, lane = t & 31, w = t >> 5, nw = blockDim.x >> 5;
    warp_argmax(bv, bi, bad);
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
    }
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
        block_argmax(sm, bv, bi, bad);
        if (t == 0) {
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

/* ---- softmax_sample over a thread-block cluster (sm_90) ------------------------
   A few long rows: each row is split over a cluster of CS blocks (8 or 16),
   block rank r owning the contiguous slice [r*chunk, min(V, (r+1)*chunk)).
   Each block reads its slice from global memory once, into shared memory
   (as f32); every later pass runs over shared memory, and the per-pass
   block results (histograms, counts, sums) are combined through distributed
   shared memory, every block combining them in rank order (identical results
   in every block). Handles: temperature 0, top-k with 1 <= k <= kCandMax
   (with or without top-p / min-p), and no top-k (with or without top-p /
   min-p). Other settings (k > kCandMax) use sample_kernel.
     top-k: a radix select over the order keys, 8 bits a pass (a 256-bin
       count histogram per block, summed over the cluster), the k-th key tau;
       the tokens tied at tau are cut by index (each block knows the ties of
       the lower ranks). The k kept tokens are appended to a candidate list in
       rank 0's shared memory; rank 0 then sorts them in the order (bitonic),
       takes the top-p prefix by an exact uint64 scan of the masses, applies
       min-p, sorts the survivors by index and draws by a scan of their masses.
     no top-k: top-p is a radix select weighted by the masses (uint64
       histograms summed over the cluster; the ties at the threshold cut by
       index as above); then each block sums its kept masses (and per warp);
       the block whose slice holds the target finds the token with one
       rescanning warp.
   Every sum is an exact uint64: the result equals sample_kernel's. */
constexpr int kCandMax = 1024;           // the largest top-k handled by the cluster kernel
constexpr int kClusterChunkMax = 32768;  // elements of a block's slice (128 KB of f32)

struct CSmem {
    unsigned hist[2][256]; // per-pass local histograms (double-buffered: read remotely)
    unsigned tot[256];     // cluster-summed histogram
    unsigned long long wsum[kMaxWarps];
    float rv[kMaxWarps];
    int ri[kMaxWarps];
    int rbad[kMaxWarps];
    // exchanged through distributed shared memory (written once per row)
    float x_bv;
    int x_bi, x_bad;
    unsigned x_ties;
    unsigned long long x_sum, x_m1;
    unsigned long long hm[2][256]; // top-p without top-k: per-pass local mass histograms
    unsigned long long totm[256];
    // rank 0: the candidate list
    unsigned cnt;
    unsigned long long ck[kCandMax]; // (key << 32) | ~index
    unsigned long long ik[kCandMax];
    // block broadcasts
    float b_max;
    int b_imax, b_bad, b_found, b_idx, b_rank;
    unsigned b_above, b_eq, b_before;
    unsigned long long b_tot, b_rem;
};

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900 // used by the sm_90 kernel body only
// Inclusive block scan of v (every thread of the block); *total gets the sum.
__device__ __forceinline__ unsigned long long block_scan_u64(CSmem &sm, unsigned long long v,
                                                             unsigned long long *total) {
    const int t = threadIdx.x, lane = t & 31, w = t >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long y = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += y;
    }
    __syncthreads(); // wsum's earlier readers are done
    if (lane == 31) sm.wsum[w] = v;
    __syncthreads();
    unsigned long long before = 0, tot = 0;
    for (int q = 0; q < nw; q++) {
        const unsigned long long s = sm.wsum[q];
        if (q < w) before += s;
        tot += s;
    }
    *total = tot;
    return v + before;
}

// Bitonic sort of a[0..n2) (n2 a power of two <= 2 * blockDim.x), ascending
// or descending. Starts and ends with a block barrier.
__device__ __forceinline__ void block_bitonic(unsigned long long *a, int n2, bool desc) {
    const int t = threadIdx.x, nt = blockDim.x;
    for (int size = 2; size <= n2; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            __syncthreads();
            for (int i = t; i < (n2 >> 1); i += nt) {
                const int pos = 2 * i - (i & (stride - 1));
                const unsigned long long x0 = a[pos], x1 = a[pos + stride];
                bool up = (pos & size) == 0;
                if (desc) up = !up;
                if ((x0 > x1) == up) {
                    a[pos] = x1;
                    a[pos + stride] = x0;
                }
            }
        }
    }
    __syncthreads();
}

// The local index bound of the kept ties (key == prefix) of this block's
// slice, when the first `need` ties of the row (in index order) are kept and
// the row has more: each block counts its ties, learns those of the lower
// ranks, and (at most one block) finds its cut with one warp. Every thread
// of every block of the cluster calls it.
__device__ __forceinline__ int cluster_tie_cut(cg::cluster_group &cl, CSmem &sm, const float *sv, int n,
                                               uint32_t prefix, unsigned need) {
    const int t = threadIdx.x, nt = blockDim.x, lane = t & 31, w = t >> 5, nw = nt >> 5;
    const int rank = (int)cl.block_rank();
    int cutL = n;
    unsigned c = 0;
    for (int i = t; i < n; i += nt) c += fkey(sv[i]) == prefix;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) c += __shfl_xor_sync(0xffffffffu, c, o);
    __syncthreads();
    if (lane == 0) sm.rbad[w] = (int)c;
    __syncthreads();
    if (t == 0) {
        unsigned s = 0;
        for (int q = 0; q < nw; q++) s += (unsigned)sm.rbad[q];
        sm.x_ties = s;
    }
    cl.sync(); // every block's tie count is visible
    if (t == 0) {
        unsigned before = 0;
        for (int r = 0; r < rank; r++) before += *cl.map_shared_rank(&sm.x_ties, r);
        sm.b_before = before;
        sm.b_idx = 0;
    }
    __syncthreads();
    const unsigned before = sm.b_before, mine = sm.x_ties;
    const unsigned m = need > before ? min(need - before, mine) : 0u;
    if (m == 0) {
        cutL = 0;
    } else if (m < mine) {
        if (w == 0) {
            unsigned seen = 0;
            for (int base = 0; base < n; base += 32) {
                const int i = base + lane;
                const bool f = i < n && fkey(sv[i]) == prefix;
                const unsigned ball = __ballot_sync(0xffffffffu, f);
                const unsigned pc = (unsigned)__popc(ball);
                if (seen + pc >= m) {
                    if (f && seen + (unsigned)__popc(ball & ((1u << lane) - 1u)) + 1u == m) sm.b_idx = i + 1;
                    break;
                }
                seen += pc;
            }
        }
        __syncthreads();
        cutL = sm.b_idx;
    }
    return cutL;
}

#endif

template <typename T>
__global__ void __launch_bounds__(1024, 1)
    sample_cluster_kernel(const T *__restrict__ x, const float *__restrict__ u, int32_t *__restrict__ tok,
                          float *__restrict__ lp, int64_t rows, int V, int chunk, int k, unsigned long long P,
                          int top_p, float Temp, float lmin, int min_p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    extern __shared__ float sv[];
    __shared__ CSmem sm;
    cg::cluster_group cl = cg::this_cluster();
    const int CS = (int)cl.num_blocks(), rank = (int)cl.block_rank();
    const int t = threadIdx.x, nt = blockDim.x, lane = t & 31, w = t >> 5, nw = nt >> 5;
    const int64_t ncl = gridDim.x / CS;
    const int lo = (int)min((int64_t)rank * chunk, (int64_t)V), n = (int)min((int64_t)V - lo, (int64_t)chunk);
    for (int64_t row = blockIdx.x / CS; row < rows; row += ncl) {
        const T *xr = x + row * (int64_t)V + lo;
        // 1. the slice into shared memory; max, first argmax, non-finite check
        float bv = -CUDART_INF_F;
        int bi = INT32_MAX, bad = 0;
        constexpr int kL = 8;
        for (int base = 0; base < n; base += nt * kL) {
            float v[kL];
#pragma unroll
            for (int j = 0; j < kL; j++) {
                const int i = base + j * nt + t;
                v[j] = i < n ? ld1(xr + i) : 0.0f;
            }
#pragma unroll
            for (int j = 0; j < kL; j++) {
                const int i = base + j * nt + t;
                if (i >= n) continue;
                sv[i] = v[j];
                bad |= (v[j] != v[j]) | (v[j] == CUDART_INF_F);
                if (bi == INT32_MAX || ahead(v[j], lo + i, bv, bi)) {
                    bv = v[j];
                    bi = lo + i;
                }
            }
        }
        block_argmax(sm, bv, bi, bad);
        if (t == 0) {
            sm.x_bv = bv;
            sm.x_bi = bi;
            sm.x_bad = bad;
            sm.cnt = 0;
        }
        cl.sync(); // S1: every block's (max, argmax, bad) is visible; the slices are in shared memory
        if (w == 0) {
            float cv = -CUDART_INF_F;
            int ci = INT32_MAX, cb = 0;
            if (lane < CS) {
                cv = *cl.map_shared_rank(&sm.x_bv, lane);
                ci = *cl.map_shared_rank(&sm.x_bi, lane);
                cb = *cl.map_shared_rank(&sm.x_bad, lane);
            }
            warp_argmax(cv, ci, cb);
            if (lane == 0) {
                sm.b_max = cv;
                sm.b_imax = ci;
                sm.b_bad = cb;
            }
        }
        __syncthreads();
        const float xmax = sm.b_max;
        const int imax = sm.b_imax;
        const bool invalid = sm.b_bad || xmax == -CUDART_INF_F;
        if (invalid || Temp == 0.0f) {
            if (rank == 0 && t == 0) {
                tok[row] = invalid ? -1 : imax;
                if (lp) lp[row] = invalid ? CUDART_NAN_F : 0.0f;
            }
            cl.sync(); // the exchanged slots are read before the next row rewrites them
            continue;
        }
        Row g;
        g.T = Temp;
        g.zmax = zval(xmax, Temp);
        g.lmin = lmin;
        g.min_p = min_p != 0;
        float uu = u[row];
        if (!(uu >= 0.0f)) uu = 0.0f;
        if (uu >= 1.0f) uu = 0x1.fffffep-1f;
        const unsigned long long U = __float2ull_rz(uu * 18446744073709551616.0f);
        if (k > 0) {
            // 2. top-k: radix select of the k-th key over the cluster
            uint32_t prefix = 0, mask = 0;
            unsigned above = 0, eq = 0;
            for (int pass = 0; pass < 4; pass++) {
                const int shift = 24 - 8 * pass;
                unsigned *h = sm.hist[pass & 1];
                for (int b = t; b < 256; b += nt) h[b] = 0;
                __syncthreads();
                for (int base = 0; base < n; base += nt) { // warp-uniform trip count
                    const int i = base + t;
                    int bin = -1;
                    if (i < n) {
                        const uint32_t key = fkey(sv[i]);
                        if ((key & mask) == prefix) bin = (int)((key >> shift) & 255u);
                    }
                    if (__ballot_sync(0xffffffffu, bin >= 0)) {
                        const unsigned grp = __match_any_sync(0xffffffffu, bin);
                        if (bin >= 0 && lane == __ffs(grp) - 1) atomicAdd(&h[bin], (unsigned)__popc(grp));
                    }
                }
                cl.sync(); // every block's histogram of this pass is complete
                for (int b = t; b < 256; b += nt) {
                    unsigned s = 0;
#pragma unroll
                    for (int r = 0; r < 16; r++) // independent remote loads, all in flight
                        if (r < CS) s += *cl.map_shared_rank(&h[b], r);
                    sm.tot[b] = s;
                }
                __syncthreads();
                if (w == 0) {
                    // lane l owns bins 255-8l .. 248-8l (descending)
                    unsigned s8 = 0;
#pragma unroll
                    for (int j = 0; j < 8; j++) s8 += sm.tot[255 - 8 * lane - j];
                    unsigned incl = s8;
#pragma unroll
                    for (int o = 1; o < 32; o <<= 1) {
                        const unsigned y = __shfl_up_sync(0xffffffffu, incl, o);
                        if (lane >= o) incl += y;
                    }
                    const unsigned ball = __ballot_sync(0xffffffffu, above + incl >= (unsigned)k);
                    if (ball) {
                        const int fl = __ffs(ball) - 1;
                        if (lane == fl) {
                            unsigned cum = above + incl - s8;
                            int found = -1;
                            unsigned e = 0;
                            for (int j = 0; j < 8; j++) {
                                const unsigned hh = sm.tot[255 - 8 * lane - j];
                                if (cum + hh >= (unsigned)k) {
                                    found = 255 - 8 * lane - j;
                                    e = hh;
                                    break;
                                }
                                cum += hh;
                            }
                            sm.b_found = found;
                            sm.b_above = cum;
                            sm.b_eq = e;
                        }
                    } else if (lane == 0) { // unreachable: k <= V
                        sm.b_found = -1;
                        sm.b_above = above;
                        sm.b_eq = 0;
                    }
                }
                __syncthreads();
                const int found = sm.b_found;
                above = sm.b_above;
                eq = sm.b_eq;
                if (found < 0) { // unreachable (k <= V): keep everything
                    prefix = 0;
                    mask = 0;
                    above = 0;
                    eq = 0;
                    break;
                }
                prefix |= (uint32_t)found << shift;
                mask |= 0xffu << shift;
            }
            // 3. the ties at tau = prefix: the first `need` of them in index order are kept
            const unsigned need = mask ? (unsigned)k - above : 0u;
            int cutL = n; // local index bound for the kept ties
            if (mask == 0) {
                // (unreachable) keep all: tau = 0 keeps every key via key >= tau
            } else if (need < eq) {
                cutL = cluster_tie_cut(cl, sm, sv, n, prefix, need);
            }
            // 4. the kept tokens into rank 0's candidate list
            unsigned *rcnt = cl.map_shared_rank(&sm.cnt, 0);
            unsigned long long *rck = cl.map_shared_rank(sm.ck, 0);
            for (int base = 0; base < n; base += nt) { // warp-uniform trip count
                const int i = base + t;
                bool keep = false;
                uint32_t key = 0;
                if (i < n) {
                    key = fkey(sv[i]);
                    keep = key > prefix || (key == prefix && i < cutL);
                }
                const unsigned ball = __ballot_sync(0xffffffffu, keep);
                if (ball) {
                    unsigned pos = 0;
                    if (lane == __ffs(ball) - 1) pos = atomicAdd(rcnt, (unsigned)__popc(ball));
                    pos = __shfl_sync(0xffffffffu, pos, __ffs(ball) - 1);
                    pos += (unsigned)__popc(ball & ((1u << lane) - 1u));
                    if (keep && pos < (unsigned)kCandMax)
                        rck[pos] = ((unsigned long long)key << 32) | (unsigned long long)(~(uint32_t)(lo + i));
                }
            }
            cl.sync(); // the candidate list is complete
            if (rank == 0) {
                const int nc = (int)min(sm.cnt, (unsigned)kCandMax); // == k
                int n2 = 2;
                while (n2 < nc) n2 <<= 1;
                for (int i = nc + t; i < n2; i += nt) sm.ck[i] = 0ull; // below every valid key
                block_bitonic(sm.ck, n2, true);                       // the order: key desc, index asc
                // top-p: the shortest prefix of the order reaching tgt
                unsigned long long q = 0;
                float xv = 0.0f;
                if (t < nc) {
                    xv = key_f((uint32_t)(sm.ck[t] >> 32));
                    q = qmass(g, xv);
                }
                unsigned long long M1;
                const unsigned long long incl = block_scan_u64(sm, q, &M1);
                bool keep = t < nc;
                if (top_p) {
                    unsigned long long tgt = __umul64hi(P, M1);
                    if (tgt < 1) tgt = 1;
                    keep = keep && incl - q < tgt;
                }
                if (keep && g.min_p && !(zval(xv, g.T) - g.zmax >= g.lmin)) keep = false;
                if (t < n2) {
                    sm.ik[t] = keep ? (((unsigned long long)(~(uint32_t)sm.ck[t]) << 32) | (sm.ck[t] >> 32))
                                    : ~0ull;
                }
                block_bitonic(sm.ik, n2, false); // kept tokens by index ascending, then the rest
                unsigned long long q2 = 0;
                int idx = -1;
                float xv2 = 0.0f;
                if (t < n2 && sm.ik[t] != ~0ull) {
                    idx = (int)(sm.ik[t] >> 32);
                    xv2 = key_f((uint32_t)sm.ik[t]);
                    q2 = qmass(g, xv2);
                }
                unsigned long long M;
                const unsigned long long inc2 = block_scan_u64(sm, q2, &M);
                const unsigned long long tt = __umul64hi(U, M);
                if (idx >= 0 && inc2 > tt && inc2 - q2 <= tt) { // the first whose running mass exceeds tt
                    tok[row] = idx;
                    if (lp) {
                        const float d = zval(xv2, g.T) - g.zmax;
                        lp[row] = (float)((double)d - log((double)M * 0x1p-32));
                    }
                }
            }
        } else {
            // no top-k: top-p over the whole row (a radix select weighted by
            // the masses), min-p, then the draw over the cluster
            uint32_t pfx = 0; // top-p keeps key > pfx, and key == pfx below the local cut
            int pcut = n;
            const bool pon = top_p != 0;
            if (pon) {
                unsigned long long s1 = 0;
                for (int i = t; i < n; i += nt) s1 += qmass(g, sv[i]);
                s1 = warp_sum_u64(s1);
                if (lane == 0) sm.wsum[w] = s1;
                __syncthreads();
                if (t == 0) {
                    unsigned long long tot = 0;
                    for (int q = 0; q < nw; q++) tot += sm.wsum[q];
                    sm.x_m1 = tot;
                }
                cl.sync(); // every block's mass is visible
                if (w == 0) {
                    unsigned long long m1 = lane < CS ? *cl.map_shared_rank(&sm.x_m1, lane) : 0ull;
                    m1 = warp_sum_u64(m1);
                    if (lane == 0) sm.b_tot = m1;
                }
                __syncthreads();
                unsigned long long tgt = __umul64hi(P, sm.b_tot);
                if (tgt < 1) tgt = 1;
                uint32_t prefix = 0, mask = 0;
                unsigned long long above = 0, eq = 0;
                for (int pass = 0; pass < 4; pass++) {
                    const int shift = 24 - 8 * pass;
                    unsigned long long *h = sm.hm[pass & 1];
                    for (int b = t; b < 256; b += nt) h[b] = 0;
                    __syncthreads();
                    for (int base = 0; base < n; base += nt) { // warp-uniform trip count
                        const int i = base + t;
                        int bin = -1;
                        unsigned long long q = 0;
                        if (i < n) {
                            const uint32_t key = fkey(sv[i]);
                            if ((key & mask) == prefix) {
                                bin = (int)((key >> shift) & 255u);
                                q = qmass(g, sv[i]);
                            }
                        }
                        // the first two bins among the lanes aggregated by warp
                        // sums (logits of one magnitude share the top digits),
                        // the rest by per-lane atomics
                        unsigned pending = __ballot_sync(0xffffffffu, bin >= 0);
                        for (int it = 0; it < 2 && pending; it++) {
                            const int leader = __ffs(pending) - 1;
                            const int b = __shfl_sync(0xffffffffu, bin, leader);
                            const unsigned grp = __ballot_sync(0xffffffffu, bin == b);
                            const unsigned long long sum = warp_sum_u64(bin == b ? q : 0ull);
                            if (lane == leader) atomicAdd(&h[b], sum);
                            pending &= ~grp;
                        }
                        if ((pending >> lane) & 1u) atomicAdd(&h[bin], q);
                    }
                    cl.sync(); // every block's histogram of this pass is complete
                    for (int b = t; b < 256; b += nt) {
                        unsigned long long sb = 0;
#pragma unroll
                        for (int r = 0; r < 16; r++)
                            if (r < CS) sb += *cl.map_shared_rank(&h[b], r);
                        sm.totm[b] = sb;
                    }
                    __syncthreads();
                    if (w == 0) {
                        unsigned long long s8 = 0;
#pragma unroll
                        for (int j = 0; j < 8; j++) s8 += sm.totm[255 - 8 * lane - j];
                        unsigned long long incl = s8;
#pragma unroll
                        for (int o = 1; o < 32; o <<= 1) {
                            const unsigned long long y = __shfl_up_sync(0xffffffffu, incl, o);
                            if (lane >= o) incl += y;
                        }
                        const unsigned ball = __ballot_sync(0xffffffffu, above + incl >= tgt);
                        if (ball) {
                            if (lane == __ffs(ball) - 1) {
                                unsigned long long cum = above + incl - s8, e = 0;
                                int found = -1;
                                for (int j = 0; j < 8; j++) {
                                    const unsigned long long hh = sm.totm[255 - 8 * lane - j];
                                    if (cum + hh >= tgt) {
                                        found = 255 - 8 * lane - j;
                                        e = hh;
                                        break;
                                    }
                                    cum += hh;
                                }
                                sm.b_found = found;
                                sm.b_rem = cum;
                                sm.b_tot = e;
                            }
                        } else if (lane == 0) { // unreachable: tgt <= the row's mass
                            sm.b_found = -1;
                        }
                    }
                    __syncthreads();
                    const int found = sm.b_found;
                    above = sm.b_rem;
                    eq = sm.b_tot;
                    __syncthreads(); // b_* are rewritten by the next pass
                    if (found < 0) { // unreachable: keep everything
                        mask = 0;
                        break;
                    }
                    prefix |= (uint32_t)found << shift;
                    mask |= 0xffu << shift;
                }
                if (mask) {
                    pfx = prefix;
                    // the tied tokens all weigh wt (> 0: their bin reached tgt)
                    const unsigned long long wt = qmass(g, key_f(prefix));
                    const unsigned long long need = tgt - above, m = (need + wt - 1) / wt, cnt = eq / wt;
                    if (m < cnt) pcut = cluster_tie_cut(cl, sm, sv, n, prefix, (unsigned)m);
                } else {
                    pfx = 0; // keep everything: every key >= 0, ties at 0 below n
                }
            }
            const unsigned C = ((unsigned)n + (unsigned)nw - 1u) / (unsigned)nw;
            const unsigned wlo = min((unsigned)w * C, (unsigned)n), whi = min((unsigned)n, wlo + C);
            auto kept = [&](float xv, unsigned i) -> unsigned long long {
                if (pon) {
                    const uint32_t key = fkey(xv);
                    if (!(key > pfx || (key == pfx && (int)i < pcut))) return 0ull;
                }
                if (g.min_p && !(zval(xv, g.T) - g.zmax >= g.lmin)) return 0ull;
                return qmass(g, xv);
            };
            unsigned long long s = 0;
            for (unsigned i = wlo + lane; i < whi; i += 32) s += kept(sv[i], i);
            s = warp_sum_u64(s);
            if (lane == 0) sm.wsum[w] = s;
            __syncthreads();
            if (t == 0) {
                unsigned long long tot = 0;
                for (int q = 0; q < nw; q++) tot += sm.wsum[q];
                sm.x_sum = tot;
            }
            cl.sync(); // every block's kept mass is visible
            if (w == 0) {
                // lane r reads rank r's kept mass; an inclusive scan in rank order
                const unsigned long long sr = lane < CS ? *cl.map_shared_rank(&sm.x_sum, lane) : 0ull;
                unsigned long long incl = sr;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const unsigned long long y = __shfl_up_sync(0xffffffffu, incl, o);
                    if (lane >= o) incl += y;
                }
                const unsigned long long M = __shfl_sync(0xffffffffu, incl, 31);
                const unsigned long long tt = __umul64hi(U, M);
                const unsigned ball = __ballot_sync(0xffffffffu, lane < CS && incl > tt);
                const int rr = ball ? __ffs(ball) - 1 : -1;
                const unsigned long long cum = __shfl_sync(0xffffffffu, incl - sr, rr >= 0 ? rr : 0);
                if (lane == 0) {
                    sm.b_tot = M;
                    sm.b_rank = rr;
                    sm.b_idx = -1;
                    sm.b_found = -1;
                    if (rr == rank) { // the warp of this block holding the target
                        unsigned long long rem = tt - cum, c2 = 0;
                        for (int q = 0; q < nw; q++) {
                            if (c2 + sm.wsum[q] > rem) {
                                sm.b_found = q;
                                sm.b_rem = rem - c2;
                                break;
                            }
                            c2 += sm.wsum[q];
                        }
                    }
                    if (rr < 0 && rank == 0) { // unreachable: M >= 2^32 and tt < M
                        tok[row] = -1;
                        if (lp) lp[row] = CUDART_NAN_F;
                    }
                }
            }
            __syncthreads();
            if (w == sm.b_found) {
                const unsigned long long rem = sm.b_rem;
                unsigned long long run = 0;
                for (unsigned base = wlo; base < whi; base += 32u) {
                    const unsigned i = base + lane;
                    unsigned long long inc = i < whi ? kept(sv[i], i) : 0ull;
#pragma unroll
                    for (int o = 1; o < 32; o <<= 1) {
                        const unsigned long long y = __shfl_up_sync(0xffffffffu, inc, o);
                        if (lane >= o) inc += y;
                    }
                    const unsigned ball = __ballot_sync(0xffffffffu, run + inc > rem);
                    if (ball) {
                        if (lane == __ffs(ball) - 1) {
                            tok[row] = lo + (int)i;
                            if (lp) {
                                const float d = zval(sv[i], g.T) - g.zmax;
                                lp[row] = (float)((double)d - log((double)sm.b_tot * 0x1p-32));
                            }
                        }
                        break;
                    }
                    run += __shfl_sync(0xffffffffu, inc, 31);
                }
            }
        }
        cl.sync(); // end of the row: every remote read is done before the next row's writes
    }
#endif
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
    const int rn = c->u.gen.d[1];
    if (E <= 128) moe_topk_reg_kernel<T, 4><<<grid, kMoeWarps * 32, 0, st>>>(x, scale, ids, w, rows, (int)E, k, rn);
    else if (E <= 256) moe_topk_reg_kernel<T, 8><<<grid, kMoeWarps * 32, 0, st>>>(x, scale, ids, w, rows, (int)E, k, rn);
    else if (E <= 512) moe_topk_reg_kernel<T, 16><<<grid, kMoeWarps * 32, 0, st>>>(x, scale, ids, w, rows, (int)E, k, rn);
    else moe_topk_kernel<T><<<grid, kMoeWarps * 32, 0, st>>>(x, scale, ids, w, rows, (int)E, k, rn);
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
    constexpr int VEC = 16 / (int)sizeof(T);
    auto al = [](const void *q) { return q == nullptr || ((uintptr_t)q & 15u) == 0; };
    if (D % VEC == 0 && al(y) && al(ysh) && al(res) && al(out)) {
        const int64_t gx = (D / VEC + 255) / 256;
        if (gx <= 65535) {
            const dim3 grid((unsigned)gx, (unsigned)(Tn < 65535 ? Tn : 65535));
            moe_reduce_vec_kernel<T><<<grid, 256, 0, st>>>(y, w, ysh, gate, c->u.gen.d[1], c->u.gen.d[2], res, out,
                                                           Tn, K, D);
            MLXN_CK_LAUNCH("moe_weighted_reduce");
            return MLXN_OK;
        }
    }
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

// Launches sample_cluster_kernel<T> with clusters of cs blocks; cs 16 is
// non-portable: used only when the occupancy query says one such cluster
// fits (the answer is cached per element type), else 8.
template <typename T>
static cudaError_t sample_cluster_launch(int cs_want, int64_t rows, int V, int k, unsigned long long P, int top_p,
                                         float Temp, float lmin, int min_p, const T *x, const float *u, int32_t *tok,
                                         float *lp, cudaStream_t st) {
    void (*kfn)(const T *, const float *, int32_t *, float *, int64_t, int, int, int, unsigned long long, int, float,
                float, int) = sample_cluster_kernel<T>;
    cudaError_t e = cudaFuncSetAttribute(kfn, cudaFuncAttributeMaxDynamicSharedMemorySize, kClusterChunkMax * 4);
    if (e != cudaSuccess) return e;
    static int fits16 = -1; // benign race: every writer writes the same answer
    if (cs_want == 16 && fits16 < 0) {
        int ok = 0;
        if (cudaFuncSetAttribute(kfn, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) == cudaSuccess) {
            cudaLaunchConfig_t q = {};
            q.gridDim = dim3(16);
            q.blockDim = dim3(1024);
            q.dynamicSmemBytes = (size_t)kClusterChunkMax * 4;
            cudaLaunchAttribute a[1];
            a[0].id = cudaLaunchAttributeClusterDimension;
            a[0].val.clusterDim.x = 16;
            a[0].val.clusterDim.y = 1;
            a[0].val.clusterDim.z = 1;
            q.attrs = a;
            q.numAttrs = 1;
            int ncl = 0;
            if (cudaOccupancyMaxActiveClusters(&ncl, kfn, &q) == cudaSuccess && ncl >= 1) ok = 1;
        }
        if (!ok) (void)cudaGetLastError(); // the failed query's error is not the op's
        fits16 = ok;
    }
    int cs = 8;
    if (cs_want == 16 && fits16 == 1) {
        e = cudaFuncSetAttribute(kfn, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
        if (e != cudaSuccess) return e;
        cs = 16;
    }
    const int chunk = (int)(((int64_t)V + cs - 1) / cs);
    const int64_t ncl = rows < 65535 ? rows : 65535;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)(ncl * cs));
    cfg.blockDim = dim3(1024);
    cfg.dynamicSmemBytes = (size_t)chunk * 4;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = (unsigned)cs;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kfn, x, u, tok, lp, rows, V, chunk, k, P, top_p, Temp, lmin, min_p);
}

template <typename T>
int sample_t(const void *dev, const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], V = c->u.gen.i[1], k = c->u.gen.i[2];
    unsigned long long P;
    memcpy(&P, &c->u.gen.i[3], sizeof P);
    const T *x = static_cast<const T *>(c->args[0].ptr);
    const float *u = static_cast<const float *>(c->args[1].ptr);
    int32_t *tok = static_cast<int32_t *>(c->args[2].ptr);
    float *lp = c->u.gen.d[1] ? static_cast<float *>(c->args[3].ptr) : nullptr;
    const float Temp = c->u.gen.f[0];
    const int top_p = c->u.gen.d[2];
    // the cluster kernel: long rows whose settings it handles (a slice of
    // V / 8 must fit its shared memory)
    if (clusters_on(dev) && V >= 8192 && V <= 8LL * kClusterChunkMax &&
        (Temp == 0.0f || k <= kCandMax)) {
        const int cs_want = (rows <= 8 && V >= 65536) ? 16 : 8;
        MLXN_CK(sample_cluster_launch<T>(cs_want, rows, (int)V, (int)k, P, top_p, Temp, c->u.gen.f[1], c->u.gen.d[3],
                                         x, u, tok, lp, st));
        MLXN_CK_LAUNCH("softmax_sample");
        return MLXN_OK;
    }
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
    case MLXN_F32: return sample_t<float>(dev, c, st);
    case MLXN_F16: return sample_t<__half>(dev, c, st);
    default: return sample_t<__nv_bfloat16>(dev, c, st);
    }
}
