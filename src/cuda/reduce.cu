/* reduce.cu — argmax, cumsum and row_sum along the last dimension.
   Plan slots and argument order: src/ops/reduce.c.

   One block per row for all three (grid-stride over rows, grid capped),
   except argmax and cumsum of a few long rows on sm_90+, which split each row
   over a thread-block cluster of 8 and combine the slices through distributed
   shared memory (no scratch buffer: ops may not allocate). Otherwise the
   block is sized to the row: threads = next power of two of ceil(n/4),
   clamped to [32, 1024], so a 262144 vocab row gets 1024 threads looping
   64 times over 16-byte loads. Loads are 4 elements wide (16 bytes f32, 8
   bytes f16/bf16) when x's address and n allow every row start to be
   4-element aligned, else scalar.

   argmax   per thread a (value, index) pair; merged by warp shuffles and
            then the warps' pairs in shared memory with `better`: a NaN beats
            any number (two NaNs: the lower index), else the larger value,
            equal values the lower index — the contract's tie and NaN rules,
            whatever order pairs are merged in.
   cumsum   tiles of 4*threads elements: each thread scans its 4 elements
            sequentially in f32, a warp shuffle scan and a scan of the warp
            totals (shared memory) give the f32 tile-local prefix; the carry
            from the previous tiles is kept in double (thread 0 adds the tile
            total), so f32 chains stay within a tile (~14 additions deep)
            and long rows do not drift. reverse reads the row back to front.
            In place (x == y) is safe: a tile is read completely (registers)
            before any of it is written, and the block owns its row.
   row_sum  per thread an f32 sum of its strided elements, then a warp and a
            block tree in f32; the per-thread chains are <= n/(4*threads)
            vectors long (1953 at n = 2e6). */
#include "cuda_common.h"
#include "launch.cuh"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
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

__device__ __forceinline__ void ld4(const float *p, float v[4]) {
    const float4 q = *reinterpret_cast<const float4 *>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void ld4(const __half *p, float v[4]) {
    const uint2 q = *reinterpret_cast<const uint2 *>(p);
    __half2 h0, h1;
    memcpy(&h0, &q.x, 4);
    memcpy(&h1, &q.y, 4);
    const float2 a = __half22float2(h0), b = __half22float2(h1);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void ld4(const __nv_bfloat16 *p, float v[4]) {
    const uint2 q = *reinterpret_cast<const uint2 *>(p);
    __nv_bfloat162 h0, h1;
    memcpy(&h0, &q.x, 4);
    memcpy(&h1, &q.y, 4);
    const float2 a = __bfloat1622float2(h0), b = __bfloat1622float2(h1);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}

/* ---- argmax ----------------------------------------------------------------- */

/* Is (v, i) ahead of (w, j)? i == INT32_MAX marks "nothing yet". */
__device__ __forceinline__ bool better(float v, int i, float w, int j) {
    const bool vn = v != v, wn = w != w;
    if (vn || wn) return vn && (!wn || i < j);
    return v > w || (v == w && i < j);
}

/* Scans xr[lo, hi) with this thread's share (lo + t*VEC, stride G*VEC) into
   (bv, bi). lo is a multiple of VEC; with VEC 4, hi is too or is n (n % 4 == 0).
   Each thread's indices increase, so a plain update keeps its first max; four
   loads are issued before any is used (memory-level parallelism). */
template <typename T, int VEC>
__device__ __forceinline__ void argmax_range(const T *__restrict__ xr, int lo, int hi, int t, int G, float &bv,
                                             int &bi) {
    int j = lo + t * VEC;
    for (; j + 3 * G * VEC < hi; j += 4 * G * VEC) {
        float v[4][VEC];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            if (VEC == 4) ld4(xr + j + u * G * VEC, v[u]);
            else v[u][0] = ld1(xr + j + u * G * VEC);
        }
#pragma unroll
        for (int u = 0; u < 4; u++)
#pragma unroll
            for (int k = 0; k < VEC; k++)
                if (better(v[u][k], j + u * G * VEC + k, bv, bi)) {
                    bv = v[u][k];
                    bi = j + u * G * VEC + k;
                }
    }
    for (; j < hi; j += G * VEC) {
        float v[VEC];
        if (VEC == 4) ld4(xr + j, v);
        else v[0] = ld1(xr + j);
#pragma unroll
        for (int k = 0; k < VEC; k++)
            if (better(v[k], j + k, bv, bi)) {
                bv = v[k];
                bi = j + k;
            }
    }
}

/* Merges the block's pairs; thread 0 returns with the block's (bv, bi).
   sv/si may be reused after the caller's next __syncthreads(). */
__device__ __forceinline__ void argmax_block_merge(float &bv, int &bi, float *sv, int *si) {
    const int t = threadIdx.x, lane = t & 31, w = t >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (better(ov, oi, bv, bi)) {
            bv = ov;
            bi = oi;
        }
    }
    if (lane == 0) {
        sv[w] = bv;
        si[w] = bi;
    }
    __syncthreads();
    if (t == 0)
        for (int k = 1; k < nw; k++)
            if (better(sv[k], si[k], bv, bi)) {
                bv = sv[k];
                bi = si[k];
            }
}

template <typename T, int VEC>
__global__ void __launch_bounds__(1024) argmax_kernel(const T *__restrict__ x, int32_t *__restrict__ idx,
                                                      float *__restrict__ val, int64_t rows, int n) {
    pdl_enter();
    __shared__ float sv[32];
    __shared__ int si[32];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        float bv = -CUDART_INF_F;
        int bi = INT32_MAX;
        argmax_range<T, VEC>(x + row * (int64_t)n, 0, n, (int)threadIdx.x, (int)blockDim.x, bv, bi);
        argmax_block_merge(bv, bi, sv, si);
        if (threadIdx.x == 0) {
            idx[row] = bi;
            if (val) val[row] = bv;
        }
        __syncthreads(); /* sv/si are reused by the next row */
    }
}

/* A few long rows (a vocabulary row at decode) on sm_90: a cluster of
   kCluster blocks per row (grid (kCluster, rows)), each scanning one slice;
   block rank 0 merges the slices' pairs straight from the other blocks'
   shared memory (distributed shared memory), so no scratch buffer is needed. */
constexpr int kCluster = 8;
template <typename T, int VEC>
__global__ void __launch_bounds__(1024) argmax_cluster_kernel(const T *__restrict__ x, int32_t *__restrict__ idx,
                                                              float *__restrict__ val, int n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    pdl_enter();
    __shared__ float sv[32];
    __shared__ int si[32];
    cg::cluster_group cl = cg::this_cluster();
    const int rank = (int)cl.block_rank();
    const int64_t row = blockIdx.y;
    /* slices are a multiple of VEC long, so each starts VEC-aligned */
    const int slice = (int)((((int64_t)n + kCluster * VEC - 1) / (kCluster * VEC)) * VEC);
    const int lo = (int)min((int64_t)rank * slice, (int64_t)n), hi = (int)min((int64_t)lo + slice, (int64_t)n);
    float bv = -CUDART_INF_F;
    int bi = INT32_MAX;
    argmax_range<T, VEC>(x + row * (int64_t)n, lo, hi, (int)threadIdx.x, (int)blockDim.x, bv, bi);
    argmax_block_merge(bv, bi, sv, si);
    __syncthreads(); /* every thread is done reading sv/si before thread 0 rewrites slot 0 */
    if (threadIdx.x == 0) {
        sv[0] = bv;
        si[0] = bi;
    }
    cl.sync(); /* the slices' results are visible cluster-wide */
    if (rank == 0 && threadIdx.x == 0) {
        for (int r = 1; r < kCluster; r++) {
            const float ov = *cl.map_shared_rank(&sv[0], r);
            const int oi = *cl.map_shared_rank(&si[0], r);
            if (better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        idx[row] = bi;
        if (val) val[row] = bv;
    }
    cl.sync(); /* no block leaves while rank 0 may still read its shared memory */
#else
    (void)x;
    (void)idx;
    (void)val;
    (void)n;
#endif
}

/* ---- cumsum ----------------------------------------------------------------- */

/* Scans the logical elements [lo, hi) of one row (logical l is physical l, or
   n-1-l when rev) in tiles of 4*G, starting from carry0 (the sum of every
   logical element before lo). lo is a multiple of 4. The whole block calls it;
   wsum and carry_s are the block's shared scratch. */
template <typename T, int VEC>
__device__ void cumsum_span(const T *xr, T *yr, int64_t n, int64_t lo, int64_t hi, int excl, int rev,
                            double carry0, float *wsum, double *carry_s) {
    const int t = threadIdx.x, G = blockDim.x, lane = t & 31, w = t >> 5, nw = G >> 5;
    const int64_t tile = 4LL * G;
    if (t == 0) *carry_s = carry0;
    __syncthreads();
    for (int64_t base = lo; base < hi; base += tile) {
        /* logical elements base + 4t + k (k < 4); physical = logical, or n-1-logical */
        const int64_t l0 = base + 4LL * t;
        float v[4];
        if (VEC == 4 && l0 + 4 <= hi) {
            /* n % 4 == 0 here, so a reversed quad is also an aligned quad */
            if (!rev) ld4(xr + l0, v);
            else {
                float q[4];
                ld4(xr + (n - 4 - l0), q);
                v[0] = q[3]; v[1] = q[2]; v[2] = q[1]; v[3] = q[0];
            }
        } else {
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const int64_t l = l0 + k;
                v[k] = l < hi ? ld1(xr + (rev ? n - 1 - l : l)) : 0.0f;
            }
        }
        /* thread-local inclusive scan */
        float inc[4];
        inc[0] = v[0];
#pragma unroll
        for (int k = 1; k < 4; k++) inc[k] = inc[k - 1] + v[k];
        /* warp inclusive scan of the thread totals */
        float s = inc[3];
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const float u = __shfl_up_sync(0xffffffffu, s, o);
            if (lane >= o) s += u;
        }
        if (lane == 31) wsum[w] = s;
        __syncthreads();
        if (w == 0) {
            float ws = lane < nw ? wsum[lane] : 0.0f;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const float u = __shfl_up_sync(0xffffffffu, ws, o);
                if (lane >= o) ws += u;
            }
            if (lane < nw) wsum[lane] = ws; /* inclusive over warps */
        }
        __syncthreads();
        const float before = (w ? wsum[w - 1] : 0.0f) + (s - inc[3]); /* sum of earlier threads */
        const double carry = *carry_s;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int64_t l = l0 + k;
            if (l < hi) {
                const float local = excl ? before + (k ? inc[k - 1] : 0.0f) : before + inc[k];
                st1(yr + (rev ? n - 1 - l : l), (float)(carry + (double)local));
            }
        }
        __syncthreads(); /* every thread has read carry_s and wsum */
        if (t == 0) *carry_s = carry + (double)wsum[nw - 1];
        __syncthreads();
    }
}

template <typename T, int VEC>
__global__ void __launch_bounds__(1024) cumsum_kernel(const T *x, T *y, int64_t rows, int64_t n, int excl, int rev) {
    pdl_enter();
    __shared__ float wsum[32];
    __shared__ double carry_s;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x)
        cumsum_span<T, VEC>(x + row * n, y + row * n, n, 0, n, excl, rev, 0.0, wsum, &carry_s);
}

/* A few long rows on sm_90: each row split over a cluster of kCluster blocks
   (grid (kCluster, rows)). Each block first sums its logical slice (per
   thread in f32, then in double), the blocks exchange the slice totals
   through distributed shared memory, and each block scans its slice from the
   sum of the slices before it (in logical order). The slice is read twice;
   the second read comes from L2. In place is safe: a block reads only its own
   slice, and all totals are taken before any block writes. */
template <typename T, int VEC>
__global__ void __launch_bounds__(1024) cumsum_cluster_kernel(const T *x, T *y, int64_t n, int excl, int rev) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    pdl_enter();
    __shared__ float wsum[32];
    __shared__ double dsum[32];
    __shared__ double carry_s, total_s;
    cg::cluster_group cl = cg::this_cluster();
    const int rank = (int)cl.block_rank();
    const int t = threadIdx.x, G = blockDim.x, lane = t & 31, w = t >> 5, nw = G >> 5;
    const int64_t row = blockIdx.y;
    const T *xr = x + row * n;
    T *yr = y + row * n;
    const int64_t slice = ((n + 4 * kCluster - 1) / (4 * kCluster)) * 4; /* a multiple of 4 */
    const int64_t lo = min((int64_t)rank * slice, n), hi = min(lo + slice, n);
    /* the slice's total: its physical range is [lo, hi), or [n-hi, n-lo) reversed */
    const int64_t plo = rev ? n - hi : lo, phi = rev ? n - lo : hi;
    float part = 0.0f;
    for (int64_t j = plo + (int64_t)VEC * t; j < phi; j += (int64_t)VEC * G) {
        if (VEC == 4 && j + 4 <= phi) {
            float v[4];
            ld4(xr + j, v);
            part += (v[0] + v[1]) + (v[2] + v[3]);
        } else {
            for (int k = 0; k < VEC && j + k < phi; k++) part += ld1(xr + j + k);
        }
    }
    double dp = (double)part;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dp += __shfl_xor_sync(0xffffffffu, dp, o);
    if (lane == 0) dsum[w] = dp;
    __syncthreads();
    if (t == 0) {
        double tot = 0.0;
        for (int k = 0; k < nw; k++) tot += dsum[k];
        total_s = tot;
    }
    cl.sync(); /* every slice total is visible cluster-wide */
    double carry0 = 0.0;
    for (int r = 0; r < rank; r++) carry0 += *cl.map_shared_rank(&total_s, r);
    cl.sync(); /* no block leaves (or rewrites its shared memory) while others read it */
    cumsum_span<T, VEC>(xr, yr, n, lo, hi, excl, rev, carry0, wsum, &carry_s);
#else
    (void)x;
    (void)y;
    (void)n;
    (void)excl;
    (void)rev;
#endif
}

/* ---- row_sum ----------------------------------------------------------------- */

template <typename T, typename YT, int VEC>
__global__ void __launch_bounds__(1024) row_sum_kernel(const T *__restrict__ x, YT *__restrict__ y, int64_t rows,
                                                       int64_t n) {
    pdl_enter();
    __shared__ float red[32];
    const int t = threadIdx.x, G = blockDim.x, lane = t & 31, w = t >> 5, nw = G >> 5;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * n;
        float s = 0.0f, s4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        int64_t j = (int64_t)t * VEC;
        const int64_t step = (int64_t)G * VEC;
        /* four independent loads and partial sums per step */
        for (; j + 3 * step < n; j += 4 * step) {
            float v[4][VEC];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                if (VEC == 4) ld4(xr + j + u * step, v[u]);
                else v[u][0] = ld1(xr + j + u * step);
            }
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int k = 0; k < VEC; k++) s4[u] += v[u][k];
        }
        for (; j < n; j += step) {
            float v[VEC];
            if (VEC == 4) ld4(xr + j, v);
            else v[0] = ld1(xr + j);
#pragma unroll
            for (int k = 0; k < VEC; k++) s += v[k];
        }
        s += (s4[0] + s4[1]) + (s4[2] + s4[3]);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) red[w] = s;
        __syncthreads();
        if (w == 0) {
            float r = lane < nw ? red[lane] : 0.0f;
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
            if (lane == 0) st1(y + row, r);
        }
        __syncthreads(); /* red is reused by the next row */
    }
}

/* ---- launch ---------------------------------------------------------------- */

/* Grids are capped (the kernels stride over rows). */
static unsigned grid_for(int64_t rows) {
    const int64_t cap = 65535LL * 8;
    return (unsigned)(rows < cap ? rows : cap);
}

/* threads: the next power of two of ceil(n/4), in [32, 1024]; with many rows
   at most 256, so several blocks share an SM and the grid fills the GPU in one
   wave (each thread then keeps four loads in flight). */
static int threads_for(int64_t n) {
    const int64_t want = (n + 3) / 4;
    int th = 32;
    while (th < 1024 && th < want) th <<= 1;
    return th;
}
static int threads_for_rows(int64_t n, int64_t rows) {
    const int th = threads_for(n);
    return rows >= 256 && th > 256 ? 256 : th;
}

static bool vec_ok(const void *p, int64_t n, size_t es) { return n % 4 == 0 && (uintptr_t)p % (4 * es) == 0; }

template <typename T>
int argmax_t(const mlxn_op_call *c, cudaStream_t st, size_t es, bool pdl, bool cluster) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    int32_t *idx = static_cast<int32_t *>(c->args[1].ptr);
    float *val = c->u.gen.d[1] ? static_cast<float *>(c->args[2].ptr) : nullptr;
    const bool vec = vec_ok(x, n, es);
    if (cluster && n >= 16384 && rows <= 16) {
        if (vec) MLXN_CK(launch_cluster_rows(argmax_cluster_kernel<T, 4>, kCluster, (unsigned)rows, 1024, st, pdl, x, idx, val, (int)n));
        else MLXN_CK(launch_cluster_rows(argmax_cluster_kernel<T, 1>, kCluster, (unsigned)rows, 1024, st, pdl, x, idx, val, (int)n));
        MLXN_CK_LAUNCH("argmax");
        return MLXN_OK;
    }
    const dim3 grid(grid_for(rows)), block(threads_for_rows(n, rows));
    if (vec) MLXN_CK(launch_k(argmax_kernel<T, 4>, grid, block, 0, st, pdl, x, idx, val, rows, (int)n));
    else MLXN_CK(launch_k(argmax_kernel<T, 1>, grid, block, 0, st, pdl, x, idx, val, rows, (int)n));
    MLXN_CK_LAUNCH("argmax");
    return MLXN_OK;
}

template <typename T>
int cumsum_t(const mlxn_op_call *c, cudaStream_t st, size_t es, bool pdl, bool cluster) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    T *y = static_cast<T *>(c->args[1].ptr);
    const int excl = c->u.gen.d[1], rev = c->u.gen.d[2];
    const bool vec = vec_ok(x, n, es);
    if (cluster && n >= 32768 && rows <= 32) {
        if (vec) MLXN_CK(launch_cluster_rows(cumsum_cluster_kernel<T, 4>, kCluster, (unsigned)rows, 1024, st, pdl, x, y, n, excl, rev));
        else MLXN_CK(launch_cluster_rows(cumsum_cluster_kernel<T, 1>, kCluster, (unsigned)rows, 1024, st, pdl, x, y, n, excl, rev));
        MLXN_CK_LAUNCH("cumsum");
        return MLXN_OK;
    }
    const dim3 grid(grid_for(rows)), block(threads_for(n));
    /* only x is loaded 4-wide (stores are scalar), so only x's alignment matters */
    if (vec) MLXN_CK(launch_k(cumsum_kernel<T, 4>, grid, block, 0, st, pdl, x, y, rows, n, excl, rev));
    else MLXN_CK(launch_k(cumsum_kernel<T, 1>, grid, block, 0, st, pdl, x, y, rows, n, excl, rev));
    MLXN_CK_LAUNCH("cumsum");
    return MLXN_OK;
}

template <typename T, typename YT>
int row_sum_ty(const mlxn_op_call *c, cudaStream_t st, size_t es, bool pdl) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    YT *y = static_cast<YT *>(c->args[1].ptr);
    const dim3 grid(grid_for(rows)), block(threads_for_rows(n, rows));
    if (vec_ok(x, n, es)) MLXN_CK(launch_k(row_sum_kernel<T, YT, 4>, grid, block, 0, st, pdl, x, y, rows, n));
    else MLXN_CK(launch_k(row_sum_kernel<T, YT, 1>, grid, block, 0, st, pdl, x, y, rows, n));
    MLXN_CK_LAUNCH("row_sum");
    return MLXN_OK;
}

template <typename T>
int row_sum_t(const mlxn_op_call *c, cudaStream_t st, size_t es, bool pdl) {
    return c->u.gen.d[1] == MLXN_F32 ? row_sum_ty<T, float>(c, st, es, pdl) : row_sum_ty<T, T>(c, st, es, pdl);
}

} // namespace

extern "C" int mlxn_cuda_argmax(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = pdl_on(dev);
    /* thread-block clusters: sm_90+ (MLXN_CUDA_CLUSTERS=0 turns them off, kernel lab) */
    const bool cluster = clusters_on(dev);
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return argmax_t<float>(c, st, 4, pdl, cluster);
    case MLXN_F16: return argmax_t<__half>(c, st, 2, pdl, cluster);
    default: return argmax_t<__nv_bfloat16>(c, st, 2, pdl, cluster);
    }
}

extern "C" int mlxn_cuda_cumsum(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = pdl_on(dev);
    const bool cluster = clusters_on(dev);
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return cumsum_t<float>(c, st, 4, pdl, cluster);
    case MLXN_F16: return cumsum_t<__half>(c, st, 2, pdl, cluster);
    default: return cumsum_t<__nv_bfloat16>(c, st, 2, pdl, cluster);
    }
}

extern "C" int mlxn_cuda_row_sum(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->u.gen.i[0] == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = pdl_on(dev);
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return row_sum_t<float>(c, st, 4, pdl);
    case MLXN_F16: return row_sum_t<__half>(c, st, 2, pdl);
    default: return row_sum_t<__nv_bfloat16>(c, st, 2, pdl);
    }
}
