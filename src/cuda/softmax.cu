/* softmax.cu — row softmax: z = x*scale, softcap, + mask row r % mask_rows,
   y = exp(z - max z) / sum, f32 arithmetic, rounded once to the output dtype.

   Three kernels by row length, each reading every row from memory once when
   the row fits on chip:
     cols <= 1024       one warp per row, the row in registers (NE per lane),
                        4 rows per 128-thread block; shuffles only. Many
                        unmasked rows of > 512 (4-wide) or > 128 (scalar)
                        columns: a grid of resident warps instead, each
                        loading its next row while it reduces the current
                        one (softmax_warp_pf).
     cols <= 8192       one 256-thread block per row, the row in registers
                        (up to 32 per thread); warp shuffles + 8 partials in smem.
     longer             one 1024-thread block per row, looped: pass 1 keeps an
                        online (max, sum) per thread (the sum is rescaled when
                        the max grows), pass 2 re-reads the row (mostly from L2)
                        and writes.
   Loads/stores are 4 elements wide (16 bytes f32, 8 bytes f16/bf16) when x, y,
   the mask and cols allow it, else scalar.

   Numerics: expf and tanhf are the accurate CUDA functions (<= 2 ulp each, no
   fast-math intrinsics: __expf's error grows with |x| — about 2 + 1.2|x| ulp —
   and z - max spans up to ~90). The max ignores NaN (fmaxf); a NaN z reaches
   the sum through expf and makes the whole row NaN. A row with max -inf is all
   zeros (or all NaN if it held a NaN), never 0/0.

   In place (x == y) is safe: a row is read completely (registers / pass 1)
   before any of it is written, and each row is owned by one warp or block. */
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
__device__ __forceinline__ void st4(float *p, const float v[4]) {
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void ld4(const __half *p, float v[4]) {
    const uint2 q = *reinterpret_cast<const uint2 *>(p);
    __half2 h0, h1;
    memcpy(&h0, &q.x, 4);
    memcpy(&h1, &q.y, 4);
    const float2 a = __half22float2(h0), b = __half22float2(h1);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void st4(__half *p, const float v[4]) {
    const __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
    uint2 q;
    memcpy(&q.x, &a, 4);
    memcpy(&q.y, &b, 4);
    *reinterpret_cast<uint2 *>(p) = q;
}
__device__ __forceinline__ void ld4(const __nv_bfloat16 *p, float v[4]) {
    const uint2 q = *reinterpret_cast<const uint2 *>(p);
    __nv_bfloat162 h0, h1;
    memcpy(&h0, &q.x, 4);
    memcpy(&h1, &q.y, 4);
    const float2 a = __bfloat1622float2(h0), b = __bfloat1622float2(h1);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void st4(__nv_bfloat16 *p, const float v[4]) {
    const __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
    uint2 q;
    memcpy(&q.x, &a, 4);
    memcpy(&q.y, &b, 4);
    *reinterpret_cast<uint2 *>(p) = q;
}

struct SmArgs {
    bool pdl; /* launched with PDL (host side only) */
    bool pf;  /* the prefetching warp kernel may be used (host side only) */
    int sms;  /* the device's SM count (host side only) */
    const void *x;
    const void *mask; /* NULL: no mask */
    void *y;
    int64_t rows, mask_rows;
    int cols;
    float scale, softcap, inv_softcap;
};

/* z = x * scale, then the softcap. */
template <int VEC> __device__ __forceinline__ void shape_z(const SmArgs &a, float z[VEC]) {
#pragma unroll
    for (int v = 0; v < VEC; v++) {
        z[v] *= a.scale;
        if (a.softcap > 0.0f) z[v] = a.softcap * tanhf(z[v] * a.inv_softcap);
    }
}

/* z of VEC consecutive elements starting at column j of row `row`. */
template <typename T, typename MT, int VEC>
__device__ __forceinline__ void load_z(const SmArgs &a, const T *xr, const MT *mr, int j, float z[VEC]) {
    if (VEC == 4) ld4(xr + j, z);
    else z[0] = ld1(xr + j);
    shape_z<VEC>(a, z);
    if (mr) {
        float m[VEC];
        if (VEC == 4) ld4(mr + j, m);
        else m[0] = ld1(mr + j);
#pragma unroll
        for (int v = 0; v < VEC; v++) z[v] += m[v];
    }
}

template <typename T, int VEC>
__device__ __forceinline__ void store_y(T *yr, int j, const float o[VEC]) {
    if (VEC == 4) st4(yr + j, o);
    else st1(yr + j, o[0]);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The reference point for exp: the row max, or 0 when the max is -inf (then
   every finite-looking term is exp(-inf) = 0 and NaNs stay NaN). */
__device__ __forceinline__ float exp_ref(float m) { return m == -CUDART_INF_F ? 0.0f : m; }

/* The output factor: 1/sum, or a NaN/0 marker for a row whose max is -inf. */
__device__ __forceinline__ float out_of(float e, float m, float inv, float s) {
    if (m == -CUDART_INF_F) return s != s ? s : 0.0f;
    return e * inv;
}

/* ---- registers: warp per row (G = 32) or block per row (G = blockDim) ---- */

/* The rest of a row held in registers (z[k] = columns (k*G + t)*VEC ...,
   those < cols; m = the max of this thread's z, taken as they were loaded):
   max, exp, sum, y. */
template <typename T, int VEC, int NV, bool BLOCK>
__device__ __forceinline__ void finish_row(const SmArgs &a, T *yr, int t, int G, float *red, float (&z)[NV][VEC],
                                           float m) {
    m = warp_max(m);
    if (BLOCK) {
        const int w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        if ((threadIdx.x & 31) == 0) red[w] = m;
        __syncthreads();
        m = red[0];
        for (int i = 1; i < nw; i++) m = fmaxf(m, red[i]);
        __syncthreads(); /* red is reused for the sum */
    }
    const float mref = exp_ref(m);
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int j = (k * G + t) * VEC;
        if (j < a.cols) {
#pragma unroll
            for (int v = 0; v < VEC; v++) {
                z[k][v] = expf(z[k][v] - mref);
                s += z[k][v];
            }
        }
    }
    s = warp_sum(s);
    if (BLOCK) {
        const int w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        if ((threadIdx.x & 31) == 0) red[w] = s;
        __syncthreads();
        s = 0.0f;
        for (int i = 0; i < nw; i++) s += red[i];
        __syncthreads(); /* red is reused by the next row of a grid-stride loop */
    }
    const float inv = 1.0f / s;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int j = (k * G + t) * VEC;
        if (j < a.cols) {
            float o[VEC];
#pragma unroll
            for (int v = 0; v < VEC; v++) o[v] = out_of(z[k][v], m, inv, s);
            store_y<T, VEC>(yr, j, o);
        }
    }
}

/* NV vectors of VEC elements per thread; element index of vector k of thread
   t: (k*G + t)*VEC, so consecutive threads touch consecutive 16-byte pieces. */
template <typename T, typename MT, int VEC, int NV, bool BLOCK>
__device__ __forceinline__ void row_in_registers(const SmArgs &a, int64_t row, int t, int G, float *red) {
    const T *xr = static_cast<const T *>(a.x) + row * (int64_t)a.cols;
    T *yr = static_cast<T *>(a.y) + row * (int64_t)a.cols;
    const MT *mr = a.mask ? static_cast<const MT *>(a.mask) + (row % a.mask_rows) * (int64_t)a.cols : nullptr;
    float z[NV][VEC];
    float m = -CUDART_INF_F;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int j = (k * G + t) * VEC;
        if (j < a.cols) {
            load_z<T, MT, VEC>(a, xr, mr, j, z[k]);
#pragma unroll
            for (int v = 0; v < VEC; v++) m = fmaxf(m, z[k][v]);
        }
    }
    finish_row<T, VEC, NV, BLOCK>(a, yr, t, G, red, z, m);
}

/* One warp per row, WPB warps per block, grid-stride over row groups. */
template <typename T, typename MT, int VEC, int NV>
__global__ void __launch_bounds__(128) softmax_warp(const SmArgs a) {
    pdl_enter();
    const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5, wpb = blockDim.x >> 5;
    for (int64_t row = (int64_t)blockIdx.x * wpb + wib; row < a.rows; row += (int64_t)gridDim.x * wpb)
        row_in_registers<T, MT, VEC, NV, false>(a, row, lane, 32, nullptr);
}

/* Many short rows without a mask: a grid of resident warps, each taking rows
   w, w + W, ... and issuing the next row's loads (raw, as stored) before it
   reduces the current one, so every warp keeps a row in flight through its
   exp and shuffle phases. */
template <typename T, int VEC> struct RawVec { using type = T; }; /* VEC 1 */
template <> struct RawVec<float, 4> { using type = float4; };
template <> struct RawVec<__half, 4> { using type = uint2; };
template <> struct RawVec<__nv_bfloat16, 4> { using type = uint2; };

template <typename T, int VEC, int NV>
__global__ void __launch_bounds__(128) softmax_warp_pf(const SmArgs a) {
    pdl_enter();
    using R = typename RawVec<T, VEC>::type;
    const int lane = threadIdx.x & 31;
    const int64_t W = (int64_t)gridDim.x * 4;
    int64_t row = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    R cur[NV], nxt[NV];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int j = (k * 32 + lane) * VEC;
        if (row < a.rows && j < a.cols)
            cur[k] = *reinterpret_cast<const R *>(static_cast<const T *>(a.x) + row * (int64_t)a.cols + j);
    }
    for (; row < a.rows; row += W) {
        const int64_t rn = row + W;
#pragma unroll
        for (int k = 0; k < NV; k++) {
            const int j = (k * 32 + lane) * VEC;
            if (rn < a.rows && j < a.cols)
                nxt[k] = *reinterpret_cast<const R *>(static_cast<const T *>(a.x) + rn * (int64_t)a.cols + j);
        }
        float z[NV][VEC];
        float m = -CUDART_INF_F;
#pragma unroll
        for (int k = 0; k < NV; k++) {
            if ((k * 32 + lane) * VEC < a.cols) {
                if (VEC == 4) ld4(reinterpret_cast<const T *>(&cur[k]), z[k]);
                else z[k][0] = ld1(reinterpret_cast<const T *>(&cur[k]));
                shape_z<VEC>(a, z[k]);
#pragma unroll
                for (int v = 0; v < VEC; v++) m = fmaxf(m, z[k][v]);
            }
        }
        finish_row<T, VEC, NV, false>(a, static_cast<T *>(a.y) + row * (int64_t)a.cols, lane, 32, nullptr, z, m);
#pragma unroll
        for (int k = 0; k < NV; k++) cur[k] = nxt[k];
    }
}

template <typename T, typename MT, int VEC, int NV>
__global__ void __launch_bounds__(256) softmax_block(const SmArgs a) {
    pdl_enter();
    __shared__ float red[32];
    for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x)
        row_in_registers<T, MT, VEC, NV, true>(a, row, threadIdx.x, blockDim.x, red);
}

/* ---- looped: rows longer than the register kernels hold ---------------- */

/* Online (max, sum) merge: s was accumulated relative to m. A state with
   m == -inf holds s == 0 (or NaN), whose rescale factor is 0 (NaN stays). */
__device__ __forceinline__ void merge(float &m, float &s, float m2, float s2) {
    const float M = fmaxf(m, m2);
    const float f1 = m == -CUDART_INF_F ? 0.0f : expf(m - M);
    const float f2 = m2 == -CUDART_INF_F ? 0.0f : expf(m2 - M);
    s = s * f1 + s2 * f2;
    m = M;
}

template <typename T, typename MT, int VEC>
__global__ void __launch_bounds__(1024) softmax_looped(const SmArgs a) {
    pdl_enter();
    __shared__ float rm[32], rs[32];
    const int t = threadIdx.x, G = blockDim.x, nw = blockDim.x >> 5, w = t >> 5;
    for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {
        const T *xr = static_cast<const T *>(a.x) + row * (int64_t)a.cols;
        T *yr = static_cast<T *>(a.y) + row * (int64_t)a.cols;
        const MT *mr = a.mask ? static_cast<const MT *>(a.mask) + (row % a.mask_rows) * (int64_t)a.cols : nullptr;
        float m = -CUDART_INF_F, s = 0.0f;
        /* pass 1: two vectors per step so two loads are in flight per thread */
        for (int j = t * VEC; j < a.cols; j += 2 * G * VEC) {
            float z[2][VEC];
            const int j2 = j + G * VEC;
            load_z<T, MT, VEC>(a, xr, mr, j, z[0]);
            /* past the row end the second vector is -inf: it adds exp(-inf) = 0 */
            if (j2 < a.cols) load_z<T, MT, VEC>(a, xr, mr, j2, z[1]);
            else
#pragma unroll
                for (int v = 0; v < VEC; v++) z[1][v] = -CUDART_INF_F;
            float lm = -CUDART_INF_F;
#pragma unroll
            for (int v = 0; v < VEC; v++) lm = fmaxf(lm, fmaxf(z[0][v], z[1][v]));
            const float M = fmaxf(m, lm), ref = exp_ref(M);
            float ls = 0.0f;
#pragma unroll
            for (int v = 0; v < VEC; v++) {
                ls += expf(z[0][v] - ref);
                ls += expf(z[1][v] - ref);
            }
            s = (m == -CUDART_INF_F ? 0.0f * s : s * expf(m - M)) + ls;
            m = M;
        }
        /* block merge: warp shuffles, then the warps' states in smem */
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
            merge(m, s, m2, s2);
        }
        if ((t & 31) == 0) {
            rm[w] = m;
            rs[w] = s;
        }
        __syncthreads();
        m = rm[0];
        s = rs[0];
        for (int i = 1; i < nw; i++) merge(m, s, rm[i], rs[i]);
        __syncthreads(); /* rm/rs are reused by the next row */
        const float ref = exp_ref(m), inv = 1.0f / s;
        /* pass 2: recompute z (the row is mostly still in L2) and write */
        for (int j = t * VEC; j < a.cols; j += G * VEC) {
            float z[VEC], o[VEC];
            load_z<T, MT, VEC>(a, xr, mr, j, z);
#pragma unroll
            for (int v = 0; v < VEC; v++) o[v] = out_of(expf(z[v] - ref), m, inv, s);
            store_y<T, VEC>(yr, j, o);
        }
    }
}

/* ---- launch ---------------------------------------------------------------- */

/* Grids are capped (the kernels stride over rows); 65535 * 8 blocks is far
   more than enough to fill any GPU. */
static unsigned grid_for(int64_t units) {
    const int64_t cap = 65535LL * 8;
    return (unsigned)(units < cap ? units : cap);
}

/* softmax_warp_pf over as many 128-thread blocks as the SMs hold at once
   (the occupancy query's answer is cached per instantiation). */
template <typename T, int VEC, int NV> cudaError_t launch_pf(const SmArgs &a, cudaStream_t st) {
    /* benign race: every writer writes the same answer (for one GPU model;
       another model only gets a grid of a different size, the rows still
       all done) */
    static int per_sm = 0;
    if (per_sm <= 0) {
        int nb = 0;
        const cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&nb, softmax_warp_pf<T, VEC, NV>, 128, 0);
        if (e != cudaSuccess) return e;
        per_sm = nb > 0 ? nb : 1;
    }
    int64_t grid = (int64_t)per_sm * a.sms;
    if (grid > (a.rows + 3) / 4) grid = (a.rows + 3) / 4;
    return launch_k(softmax_warp_pf<T, VEC, NV>, dim3((unsigned)grid), dim3(128), 0, st, a.pdl, a);
}

template <typename T, typename MT, int VEC>
int launch_vec(const SmArgs &a, cudaStream_t st) {
    const int cols = a.cols;
    if (cols <= 32 * 32 && !a.mask && a.pf && a.rows >= 64LL * a.sms && (cols + 31) / 32 > 4 * VEC) {
        /* many rows of more than 512 (4-wide) or 128 (scalar) columns, no
           mask: the prefetching kernel */
        const int per_lane = (cols + 31) / 32;
        if (per_lane <= 8 * VEC) MLXN_CK((launch_pf<T, VEC, 8>(a, st)));
        else if (per_lane <= 16) MLXN_CK((launch_pf<T, VEC, 16 / VEC>(a, st))); /* VEC 1 only */
        else MLXN_CK((launch_pf<T, VEC, 32 / VEC>(a, st)));
    } else if (cols <= 32 * 32) {
        /* per lane: ceil(cols / 32) elements, i.e. E in {VEC..32} (powers of 2) as NV = E / VEC vectors */
        const int per_lane = (cols + 31) / 32;
        const dim3 block(128);
        const unsigned grid = grid_for((a.rows + 3) / 4);
        if (per_lane <= VEC) MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 1>, grid, block, 0, st, a.pdl, a));
        else if (per_lane <= 2 * VEC) MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 2>, grid, block, 0, st, a.pdl, a));
        else if (per_lane <= 4 * VEC) MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 4>, grid, block, 0, st, a.pdl, a));
        else if (per_lane <= 8 * VEC) MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 8>, grid, block, 0, st, a.pdl, a));
        else if (per_lane <= 16) MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 16 / VEC>, grid, block, 0, st, a.pdl, a)); /* VEC 1 only */
        else MLXN_CK(launch_k(softmax_warp<T, MT, VEC, 32 / VEC>, grid, block, 0, st, a.pdl, a));
    } else if (cols <= 256 * 32) {
        /* per thread: 5..32 elements, held as E in {8, 16, 32} */
        const int per_thread = (cols + 255) / 256;
        const dim3 block(256);
        const unsigned grid = grid_for(a.rows);
        if (per_thread <= 8) MLXN_CK(launch_k(softmax_block<T, MT, VEC, 8 / VEC>, grid, block, 0, st, a.pdl, a));
        else if (per_thread <= 16) MLXN_CK(launch_k(softmax_block<T, MT, VEC, 16 / VEC>, grid, block, 0, st, a.pdl, a));
        else MLXN_CK(launch_k(softmax_block<T, MT, VEC, 32 / VEC>, grid, block, 0, st, a.pdl, a));
    } else {
        MLXN_CK(launch_k(softmax_looped<T, MT, VEC>, grid_for(a.rows), dim3(1024), 0, st, a.pdl, a));
    }
    MLXN_CK_LAUNCH("softmax");
    return MLXN_OK;
}

template <typename T, typename MT>
int launch_mt(const SmArgs &a, size_t es, size_t ms, cudaStream_t st) {
    /* 4-wide when every row start is 4-element aligned for x, y and the mask */
    const bool vec = a.cols % 4 == 0 && (uintptr_t)a.x % (4 * es) == 0 && (uintptr_t)a.y % (4 * es) == 0 &&
                     (!a.mask || (uintptr_t)a.mask % (4 * ms) == 0);
    return vec ? launch_vec<T, MT, 4>(a, st) : launch_vec<T, MT, 1>(a, st);
}

template <typename T>
int launch_t(const SmArgs &a, int mask_dtype, size_t es, cudaStream_t st) {
    switch (mask_dtype) {
    case MLXN_F16: return launch_mt<T, __half>(a, es, 2, st);
    case MLXN_BF16: return launch_mt<T, __nv_bfloat16>(a, es, 2, st);
    default: return launch_mt<T, float>(a, es, 4, st); /* f32 mask, or none (mask NULL) */
    }
}

} // namespace

extern "C" int mlxn_cuda_softmax(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const mlxn_softmax_plan &sp = c->u.softmax;
    SmArgs a;
    a.x = c->args[0].ptr;
    a.mask = sp.mask_rows > 0 ? c->args[1].ptr : nullptr;
    a.y = c->args[2].ptr;
    a.rows = sp.rows;
    a.mask_rows = sp.mask_rows > 0 ? sp.mask_rows : 1;
    a.cols = (int)sp.cols; /* <= INT32_MAX, checked by the ops layer */
    a.scale = sp.scale;
    a.softcap = sp.softcap;
    a.inv_softcap = sp.softcap > 0.0f ? 1.0f / sp.softcap : 0.0f;
    a.pdl = pdl_on(dev);
    a.sms = static_cast<const mlxn_cuda_dev *>(dev)->sm_count > 0 ? static_cast<const mlxn_cuda_dev *>(dev)->sm_count : 1;
    static const bool pf_env = [] { /* MLXN_CUDA_SOFTMAX_PF=0: kernel-lab switch */
        const char *e = getenv("MLXN_CUDA_SOFTMAX_PF");
        return !(e && e[0] == '0');
    }();
    a.pf = pf_env;
    if (a.rows == 0) return MLXN_OK;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (sp.dtype) {
    case MLXN_F32: return launch_t<float>(a, sp.mask_dtype, 4, st);
    case MLXN_F16: return launch_t<__half>(a, sp.mask_dtype, 2, st);
    default: return launch_t<__nv_bfloat16>(a, sp.mask_dtype, 2, st);
    }
}
