// backward.cu — softmax_backward, rms_inv, rms_norm_backward, unary_backward
// (silu, log) and row_sum_backward, all f32. Plan slots and argument order:
// src/ops/backward.c; the CPU twin is src/cpu/backward.c (same semantics).
//
// softmax_backward and the generic rms_norm_backward path: one block per row
// (grid-stride over rows, grid capped; with dw: one block per row chunk).
// Threads = next power of two of ceil(n/4) in [32, 1024]. A thread owns the
// columns {4t + 4Gk + q} (VEC = 4, float4 loads, when every pointer is
// 16-byte aligned and n % 4 == 0) or {t + Gk} (VEC = 1) and is the only one to
// read or write them in its row's second pass, which starts after the block
// reduction's barrier: so dx may be exactly y/dy/x (the block reads its whole
// row for the sum before anyone writes).
//
// rms_inv: a warp per row for aligned rows of <= 2048 floats (every load of
// the row issued at once), else a block per row with four independent loads
// in flight per thread (256 threads when rows are many, as reduce.cu's
// row_sum). rms_norm_backward for aligned rows of <= 8192 floats: the
// register path (rms_bw_reg_kernel) reads x and dy once, R rows at a time,
// one barrier per R rows; the others fall back to the two-pass kernels.
//
// Sums: per-thread f32 partials, a warp shuffle tree, the warps' partials
// through shared memory; every block_sum ends with a barrier so the next
// row may reuse the shared slots.
//
// rms_norm_backward's dw: block c handles chunk c of the C = i[2] chunks,
// rows c, c + C, c + 2C, ... (src/ops/backward.c: at any moment the blocks
// work on neighbouring rows, which DRAM serves faster than C far-apart
// streams), and accumulates dy*x*r per column in f32, rows in order
// (register path: in registers; generic path: in dynamic shared memory when
// dim floats fit in 47 KB, else directly in its workspace slice; each column
// touched only by its owning thread, so no races either way), then writes
// them to ws[c*dim ...]. A second kernel adds the C slices per column in the
// fixed order of src/ops/backward.c (groups of four chunks in f32, eight runs
// of groups in double).
// Deterministic: the partition and every summation order are fixed by
// rows/dim alone. Kernels added here launch with PDL
// (launch.cuh) and wait in pdl_enter before touching memory.
#include "cuda_common.h"
#include "launch.cuh"

#include <math_constants.h>
#include <stdint.h>

namespace {

constexpr int kMaxChunks = 256; // mirrors BW_MAX_CHUNKS of src/ops/backward.c
constexpr int kGroup = 4;        // mirrors BW_GROUP of src/cpu/backward.c

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block (blockDim.x a multiple of 32); every thread gets the
// result. The trailing barrier lets the caller call it again at once.
__device__ __forceinline__ float block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) red[w] = v;
    __syncthreads();
    float t = lane < nw ? red[lane] : 0.0f;
    t = warp_sum(t);
    __syncthreads();
    return t;
}

template <int VEC> __device__ __forceinline__ void ldv(const float *p, float (&v)[VEC]) {
    if constexpr (VEC == 4) {
        const float4 q = *reinterpret_cast<const float4 *>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    } else {
        v[0] = *p;
    }
}
template <int VEC> __device__ __forceinline__ void stv(float *p, const float (&v)[VEC]) {
    if constexpr (VEC == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        *p = v[0];
    }
}

// ---- softmax_backward ---------------------------------------------------------

template <int VEC>
__global__ void __launch_bounds__(1024) softmax_bw_kernel(const float *y, const float *dy, float *dx, int64_t rows,
                                                          int64_t n) {
    __shared__ float red[32];
    const int64_t G = blockDim.x;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const float *yr = y + row * n, *dyr = dy + row * n;
        float *dxr = dx + row * n;
        float s = 0.0f;
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < n; j += G * VEC) {
            float a[VEC], b[VEC];
            ldv<VEC>(yr + j, a);
            ldv<VEC>(dyr + j, b);
#pragma unroll
            for (int k = 0; k < VEC; k++) s += a[k] * b[k];
        }
        s = block_sum(s, red);
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < n; j += G * VEC) {
            float a[VEC], b[VEC], o[VEC];
            ldv<VEC>(yr + j, a);
            ldv<VEC>(dyr + j, b);
#pragma unroll
            for (int k = 0; k < VEC; k++) o[k] = a[k] * (b[k] - s);
            stv<VEC>(dxr + j, o);
        }
    }
}

// ---- rms_inv ------------------------------------------------------------------

__device__ __forceinline__ float rms_of(float s, int64_t dim, float eps) {
    return (float)(1.0 / sqrt((double)s / (double)dim + (double)eps));
}

// One block per row (grid-stride), four independent loads in flight per thread
// per step (as reduce.cu's row_sum_kernel).
template <int VEC>
__global__ void __launch_bounds__(1024) rms_inv_kernel(const float *__restrict__ x, float *__restrict__ r,
                                                       int64_t rows, int64_t dim, float eps) {
    pdl_enter();
    __shared__ float red[32];
    const int64_t G = blockDim.x, step = G * VEC;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const float *xr = x + row * dim;
        float s = 0.0f, s4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        int64_t j = threadIdx.x * (int64_t)VEC;
        for (; j + 3 * step < dim; j += 4 * step) {
            float a[4][VEC];
#pragma unroll
            for (int u = 0; u < 4; u++) ldv<VEC>(xr + j + u * step, a[u]);
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int k = 0; k < VEC; k++) s4[u] += a[u][k] * a[u][k];
        }
        for (; j < dim; j += step) {
            float a[VEC];
            ldv<VEC>(xr + j, a);
#pragma unroll
            for (int k = 0; k < VEC; k++) s += a[k] * a[k];
        }
        s += (s4[0] + s4[1]) + (s4[2] + s4[3]);
        s = block_sum(s, red);
        if (threadIdx.x == 0) r[row] = rms_of(s, dim, eps);
    }
}

// One warp per row for short rows (VEC = 4, dim <= 128 U): lane l loads the
// float4 units l + 32k, k < U, all at once.
template <int U>
__global__ void __launch_bounds__(256) rms_inv_warp_kernel(const float *__restrict__ x, float *__restrict__ r,
                                                           int64_t rows, int64_t dim, float eps) {
    pdl_enter();
    const int lane = threadIdx.x & 31;
    const int64_t wpb = blockDim.x >> 5, nv = dim >> 2;
    for (int64_t row = blockIdx.x * wpb + (threadIdx.x >> 5); row < rows; row += (int64_t)gridDim.x * wpb) {
        const float4 *xr = reinterpret_cast<const float4 *>(x + row * dim);
        float4 v[U];
#pragma unroll
        for (int k = 0; k < U; k++) v[k] = lane + 32 * k < nv ? xr[lane + 32 * k] : make_float4(0.f, 0.f, 0.f, 0.f);
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < U; k++) s += (v[k].x * v[k].x + v[k].y * v[k].y) + (v[k].z * v[k].z + v[k].w * v[k].w);
        s = warp_sum(s);
        if (lane == 0) r[row] = rms_of(s, dim, eps);
    }
}

// ---- rms_norm_backward --------------------------------------------------------

// Rows first, first + stride, ... (count of them) of one block:
// dx = r (dy w - x c), c = s r^2 / dim, s = sum dy x w;
// with DW, acc[j] += dy x r for the thread's own columns.
template <int VEC, bool HAS_W, bool DW>
__device__ __forceinline__ void rms_bw_rows(const float *x, const float *w, const float *rr, const float *dy,
                                            float *dx, int64_t first, int64_t count, int64_t stride, int64_t dim,
                                            float *acc, float *red) {
    const int64_t G = blockDim.x;
    for (int64_t i = 0; i < count; i++) {
        const int64_t row = first + i * stride;
        const float *xr = x + row * dim, *dyr = dy + row * dim;
        float *dxr = dx + row * dim;
        float s = 0.0f;
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC) {
            float a[VEC], b[VEC], ww[VEC];
            ldv<VEC>(xr + j, a);
            ldv<VEC>(dyr + j, b);
            if (HAS_W) ldv<VEC>(w + j, ww);
#pragma unroll
            for (int k = 0; k < VEC; k++) s += HAS_W ? b[k] * a[k] * ww[k] : b[k] * a[k];
        }
        s = block_sum(s, red);
        const float r = rr[row];
        const float cf = (float)((double)s * (double)r * (double)r / (double)dim);
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC) {
            float a[VEC], b[VEC], ww[VEC], o[VEC];
            ldv<VEC>(xr + j, a);
            ldv<VEC>(dyr + j, b);
            if (HAS_W) ldv<VEC>(w + j, ww);
#pragma unroll
            for (int k = 0; k < VEC; k++) {
                if (DW) acc[j + k] += b[k] * a[k] * r;
                o[k] = r * ((HAS_W ? b[k] * ww[k] : b[k]) - a[k] * cf);
            }
            stv<VEC>(dxr + j, o);
        }
    }
}

// Without dw: grid-stride over rows.
template <int VEC, bool HAS_W>
__global__ void __launch_bounds__(1024) rms_bw_dx_kernel(const float *x, const float *w, const float *rr,
                                                         const float *dy, float *dx, int64_t rows, int64_t dim) {
    __shared__ float red[32];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x)
        rms_bw_rows<VEC, HAS_W, false>(x, w, rr, dy, dx, row, 1, 1, dim, nullptr, red);
}

// With dw: block c = one chunk of rows; its column sums go to ws[c*dim ...].
template <int VEC, bool HAS_W, bool SMEM>
__global__ void __launch_bounds__(1024) rms_bw_chunk_kernel(const float *x, const float *w, const float *rr,
                                                            const float *dy, float *dx, float *ws, int64_t rows,
                                                            int64_t dim, int64_t nch) {
    __shared__ float red[32];
    extern __shared__ float sacc[];
    const int64_t G = blockDim.x, ch = blockIdx.x;
    float *slice = ws + ch * dim;
    float *acc = SMEM ? sacc : slice;
    for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC)
#pragma unroll
        for (int k = 0; k < VEC; k++) acc[j + k] = 0.0f;
    // chunk ch: rows ch, ch + nch, ch + 2 nch, ... (src/ops/backward.c)
    rms_bw_rows<VEC, HAS_W, true>(x, w, rr, dy, dx, ch, (rows - ch + nch - 1) / nch, nch, dim, acc, red);
    if (SMEM)
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC)
#pragma unroll
            for (int k = 0; k < VEC; k++) slice[j + k] = acc[j + k];
}

// Register path (VEC = 4, dim <= 4 G K): thread t owns the float4 units
// u = t + G k (k < K) of every row, so it reads x and dy once, keeps its
// columns' dw partials in registers (w in shared memory, each thread its own
// units, so no barrier), and is the only one to touch
// those columns (dx may be exactly x or dy). Rows go R at a time: their loads
// are all issued before one block reduction of the R sums (partials in a
// double-buffered smem slot, so one barrier per batch). Block b takes rows
// b, b + nb, b + 2 nb, ...; with DW, nb is the chunk count and the block
// writes its f32 column sums (rows in order) to ws[b*dim ...].
template <int K, int R, bool HAS_W, bool DW>
__global__ void __launch_bounds__(K == 1 ? 256 : 512, K <= 2 ? 2 : 1)
    rms_bw_reg_kernel(const float *x, const float *__restrict__ w, const float *__restrict__ rr, const float *dy,
                      float *dx, float *__restrict__ ws, int64_t rows, int64_t dim, int64_t nb, bool ws4) {
    pdl_enter();
    __shared__ float red[2][R][32];
    const int t = threadIdx.x, lane = t & 31, wid = t >> 5, nw = blockDim.x >> 5, G = blockDim.x;
    const int64_t nv = dim >> 2, b = blockIdx.x;
    // rows b, b + nb, b + 2 nb, ...: cnt of them (nb <= rows, so cnt >= 1)
    const int64_t cnt = (rows - b + nb - 1) / nb;
    extern __shared__ float4 sw[]; // w (HAS_W): each thread stages and reads its own units
    bool ok[K];
    float4 acc[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        ok[k] = t + G * k < nv;
        if (HAS_W && ok[k]) sw[t + G * k] = __ldg(reinterpret_cast<const float4 *>(w) + t + G * k);
        acc[k] = make_float4(0.f, 0.f, 0.f, 0.f);
    }
    int par = 0;
    for (int64_t i0 = 0; i0 < cnt; i0 += R, par ^= 1) {
        float4 xa[R][K], da[R][K];
        float rv[R], s[R];
#pragma unroll
        for (int i = 0; i < R; i++) {
            const bool live = i0 + i < cnt;
            const int64_t row = live ? b + (i0 + i) * nb : b;
            const float4 *xr = reinterpret_cast<const float4 *>(x + row * dim);
            const float4 *dr = reinterpret_cast<const float4 *>(dy + row * dim);
#pragma unroll
            for (int k = 0; k < K; k++) {
                const bool l = live && ok[k];
                xa[i][k] = l ? xr[t + G * k] : make_float4(0.f, 0.f, 0.f, 0.f);
                da[i][k] = l ? dr[t + G * k] : make_float4(0.f, 0.f, 0.f, 0.f);
            }
            rv[i] = live ? rr[row] : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < R; i++) {
            float p = 0.0f;
#pragma unroll
            for (int k = 0; k < K; k++) {
                const float4 q = xa[i][k], d = da[i][k];
                const float4 ww = HAS_W && ok[k] ? sw[t + G * k] : make_float4(1.f, 1.f, 1.f, 1.f);
                p += HAS_W ? (d.x * q.x * ww.x + d.y * q.y * ww.y) + (d.z * q.z * ww.z + d.w * q.w * ww.w)
                           : (d.x * q.x + d.y * q.y) + (d.z * q.z + d.w * q.w);
            }
            p = warp_sum(p);
            if (lane == 0) red[par][i][wid] = p;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < R; i++) s[i] = warp_sum(lane < nw ? red[par][i][lane] : 0.0f);
#pragma unroll
        for (int i = 0; i < R; i++) {
            if (i0 + i >= cnt) break;
            const float r = rv[i];
            const float cf = (float)((double)s[i] * (double)r * (double)r / (double)dim);
            float4 *dxr = reinterpret_cast<float4 *>(dx + (b + (i0 + i) * nb) * dim);
#pragma unroll
            for (int k = 0; k < K; k++) {
                if (!ok[k]) continue;
                const float4 q = xa[i][k], d = da[i][k];
                const float4 ww = HAS_W ? sw[t + G * k] : make_float4(1.f, 1.f, 1.f, 1.f);
                if (DW) {
                    acc[k].x += d.x * q.x * r;
                    acc[k].y += d.y * q.y * r;
                    acc[k].z += d.z * q.z * r;
                    acc[k].w += d.w * q.w * r;
                }
                float4 o;
                o.x = r * ((HAS_W ? d.x * ww.x : d.x) - q.x * cf);
                o.y = r * ((HAS_W ? d.y * ww.y : d.y) - q.y * cf);
                o.z = r * ((HAS_W ? d.z * ww.z : d.z) - q.z * cf);
                o.w = r * ((HAS_W ? d.w * ww.w : d.w) - q.w * cf);
                dxr[t + G * k] = o;
            }
        }
    }
    if (DW) {
        // ws is only 4-byte aligned (dim % 4 == 0: every slice as aligned as ws)
        float *sl = ws + b * dim;
#pragma unroll
        for (int k = 0; k < K; k++) {
            if (!ok[k]) continue;
            float *p = sl + 4 * (t + G * k);
            if (ws4) {
                *reinterpret_cast<float4 *>(p) = acc[k];
            } else {
                p[0] = acc[k].x;
                p[1] = acc[k].y;
                p[2] = acc[k].z;
                p[3] = acc[k].w;
            }
        }
    }
}

// dw[j] = the chunk slices ws[c*dim + j] added in the order of
// src/ops/backward.c: groups of kGroup consecutive chunks, each added in f32
// in chunk order; eight runs of consecutive groups [r*ng/8, (r+1)*ng/8), each
// summed in double in group order; then the eight run totals in run order.
// A block of 8 warps takes 32 columns; warp r sums run r for its lane's
// column (one coalesced 128-byte load per chunk, all of a run's loads in
// flight), then warp 0 adds the runs.
constexpr int kDwCols = 32, kDwRuns = 8;
__global__ void __launch_bounds__(256) rms_bw_dw_kernel(const float *__restrict__ ws, float *__restrict__ dw,
                                                        int64_t dim, int64_t nch) {
    pdl_enter();
    __shared__ double part[kDwRuns][kDwCols];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t j = (int64_t)blockIdx.x * kDwCols + lane;
    const bool in = j < dim;
    const int64_t ng = (nch + kGroup - 1) / kGroup;
    const int64_t g0 = wid * ng / kDwRuns, g1 = (wid + 1) * ng / kDwRuns;
    double t = 0.0;
    if (in) {
        // a run has at most kMaxChunks / kGroup / kDwRuns = 8 groups, 32
        // chunks: all their loads at once (this form, 100 registers, measured
        // 0.7 us faster on the H100 than an equivalent one bounding the loop
        // by chunk index, 80 registers; the schedules were not compared)
        constexpr int kRun = kMaxChunks / kGroup / kDwRuns;
        const int len = (int)(g1 - g0);
        const int64_t c1 = g1 * kGroup < nch ? g1 * kGroup : nch; // chunks [g0 kGroup, c1)
        float v[kRun * kGroup];
#pragma unroll
        for (int u = 0; u < kRun * kGroup; u++)
            v[u] = g0 * kGroup + u < c1 ? ws[(g0 * kGroup + u) * dim + j] : 0.0f;
#pragma unroll
        for (int i = 0; i < kRun; i++) {
            if (i >= len) break;
            float gs = v[i * kGroup];
#pragma unroll
            for (int m = 1; m < kGroup; m++)
                if ((g0 + i) * kGroup + m < c1) gs += v[i * kGroup + m];
            t += (double)gs;
        }
    }
    part[wid][lane] = t;
    __syncthreads();
    if (wid != 0 || !in) return;
    double s = 0.0;
#pragma unroll
    for (int r = 0; r < kDwRuns; r++) s += part[r][lane];
    dw[j] = (float)s;
}

// ---- unary_backward -----------------------------------------------------------

// silu'(x) = sigmoid(x) (1 + x (1 - sigmoid(x))) from e = exp(-|x|) without
// cancellation (see src/cpu/backward.c); +inf -> 1, -inf -> 0, NaN -> NaN.
__device__ __forceinline__ float silu_grad(float x) {
    const float e = expf(-fabsf(x));
    const float d = 1.0f / (1.0f + e);
    const float ed = e * d;
    const float sg = x >= 0.0f ? d : ed;
    const float sm = x >= 0.0f ? ed : d;
    float g = sg * (1.0f + x * sm);
    if (x == CUDART_INF_F) g = 1.0f;
    if (x == -CUDART_INF_F) g = 0.0f;
    return x == x ? g : x;
}

template <int VEC, bool SILU>
__global__ void __launch_bounds__(256) unary_bw_kernel(const float *x, const float *dy, float *dx, int64_t n) {
    const int64_t units = n / VEC;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u < units; u += stride) {
        float a[VEC], b[VEC], o[VEC];
        ldv<VEC>(x + u * VEC, a);
        ldv<VEC>(dy + u * VEC, b);
#pragma unroll
        for (int k = 0; k < VEC; k++) o[k] = SILU ? b[k] * silu_grad(a[k]) : b[k] / a[k];
        stv<VEC>(dx + u * VEC, o);
    }
}

// ---- row_sum_backward ---------------------------------------------------------

// dx[i] = dy[i / n] over units of VEC elements (VEC = 4 needs n % 4 == 0, so a
// unit never straddles rows); 32-bit division when the element count fits.
template <int VEC, bool NARROW>
__global__ void __launch_bounds__(256) row_sum_bw_kernel(const float *dy, float *dx, int64_t total, int64_t n) {
    const int64_t units = total / VEC;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u < units; u += stride) {
        const int64_t i = u * VEC;
        const int64_t row = NARROW ? (int64_t)((uint32_t)i / (uint32_t)n) : i / n;
        const float v = dy[row];
        float o[VEC];
#pragma unroll
        for (int k = 0; k < VEC; k++) o[k] = v;
        stv<VEC>(dx + i, o);
    }
}

// ---- launch helpers -----------------------------------------------------------

unsigned grid_rows(int64_t rows) {
    const int64_t cap = 65535LL * 8;
    return (unsigned)(rows < cap ? rows : cap);
}

int threads_for(int64_t n) {
    const int64_t want = (n + 3) / 4;
    int th = 32;
    while (th < 1024 && th < want) th <<= 1;
    return th;
}

bool al16(const void *p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

unsigned grid_flat(const void *dev, int64_t units) {
    const mlxn_cuda_dev *cd = static_cast<const mlxn_cuda_dev *>(dev);
    int64_t blocks = (units + 255) / 256;
    const int64_t cap = (int64_t)(cd->sm_count > 0 ? cd->sm_count : 1) * 32;
    if (blocks > cap) blocks = cap;
    if (blocks < 1) blocks = 1;
    return (unsigned)blocks;
}

cudaStream_t stream_of(void *enc) { return static_cast<mlxn_cuda_enc *>(enc)->stream; }

// Register path of rms_norm_backward (VEC = 4, dim <= 8192): K float4 units
// per thread, G threads (a power of two in [32, 512], G K >= dim / 4; K = 1
// only with G <= 256, its launch bound).
bool rms_bw_reg_shape(int64_t dim, int &K, int &G) {
    const int64_t nv = dim / 4;
    if (nv <= 256) K = 1;
    else if (nv <= 1024) K = 2;
    else if (nv <= 2048) K = 4;
    else return false;
    G = 32;
    while ((int64_t)G * K < nv) G <<= 1;
    return true;
}

template <int K, bool HAS_W, bool DW>
cudaError_t rms_bw_reg_go(unsigned nb, int G, cudaStream_t st, bool pdl, const float *x, const float *w,
                          const float *rr, const float *dy, float *dx, float *ws, int64_t rows, int64_t dim,
                          bool ws4) {
    // rows per batch: with dw and K = 2 one row (54 registers instead of 64;
    // measured on the H100 for [4096,4096]: 79 us instead of 81, the cause
    // not isolated); else as many as the registers allow
    constexpr int R = K == 1 ? 8 : (K == 2 && DW) ? 1 : 2;
    // w staged in shared memory (dim <= 8192: at most 32 KB, under the 48 KB default)
    const size_t smem = HAS_W ? (size_t)dim * sizeof(float) : 0;
    return launch_k(rms_bw_reg_kernel<K, R, HAS_W, DW>, dim3(nb), dim3(G), smem, st, pdl, x, w, rr, dy, dx, ws, rows,
                    dim, (int64_t)nb, ws4);
}

template <bool HAS_W, bool DW>
cudaError_t rms_bw_reg_k(int K, unsigned nb, int G, cudaStream_t st, bool pdl, const float *x, const float *w,
                         const float *rr, const float *dy, float *dx, float *ws, int64_t rows, int64_t dim,
                         bool ws4) {
    if (K == 1) return rms_bw_reg_go<1, HAS_W, DW>(nb, G, st, pdl, x, w, rr, dy, dx, ws, rows, dim, ws4);
    if (K == 2) return rms_bw_reg_go<2, HAS_W, DW>(nb, G, st, pdl, x, w, rr, dy, dx, ws, rows, dim, ws4);
    return rms_bw_reg_go<4, HAS_W, DW>(nb, G, st, pdl, x, w, rr, dy, dx, ws, rows, dim, ws4);
}

template <int VEC, bool HAS_W>
int rms_bw_launch(const void *dev, const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1], nch = c->u.gen.i[2];
    const float *x = static_cast<const float *>(c->args[0].ptr);
    const float *w = static_cast<const float *>(c->args[1].ptr);
    const float *rr = static_cast<const float *>(c->args[2].ptr);
    const float *dy = static_cast<const float *>(c->args[3].ptr);
    float *dx = static_cast<float *>(c->args[4].ptr);
    const bool pdl = pdl_on(dev);
    const int sms = static_cast<const mlxn_cuda_dev *>(dev)->sm_count > 0
                        ? static_cast<const mlxn_cuda_dev *>(dev)->sm_count
                        : 1;
    int K = 0, G = 0;
    const bool reg = VEC == 4 && rms_bw_reg_shape(dim, K, G);
    const dim3 block(threads_for(dim));
    if (!c->u.gen.d[1]) {
        if (reg) {
            // strided rows, about two blocks' worth of threads per SM
            const int64_t R = K == 1 ? 8 : 2;
            int64_t nb = (int64_t)sms * 2 * (512 / G);
            if (nb > (rows + R - 1) / R) nb = (rows + R - 1) / R;
            MLXN_CK((rms_bw_reg_k<HAS_W, false>(K, (unsigned)nb, G, st, pdl, x, w, rr, dy, dx, nullptr, rows, dim,
                                                 false)));
        } else {
            rms_bw_dx_kernel<VEC, HAS_W><<<grid_rows(rows), block, 0, st>>>(x, w, rr, dy, dx, rows, dim);
        }
        MLXN_CK_LAUNCH("rms_norm_backward");
        return MLXN_OK;
    }
    float *dw = static_cast<float *>(c->args[5].ptr);
    float *ws = static_cast<float *>(c->args[6].ptr);
    if (nch < 1 || nch > kMaxChunks)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: chunk count %lld out of range", c->name,
                                  (long long)nch);
    const int64_t gb = (dim + kDwCols - 1) / kDwCols;
    if (gb > INT32_MAX)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dim %lld too large", c->name, (long long)dim);
    if (reg) {
        MLXN_CK((rms_bw_reg_k<HAS_W, true>(K, (unsigned)nch, G, st, pdl, x, w, rr, dy, dx, ws, rows, dim, al16(ws))));
    } else {
        const size_t smem = (size_t)dim * sizeof(float);
        if (smem <= 47 * 1024) // + the 128 static bytes of red: under the 48 KB default
            rms_bw_chunk_kernel<VEC, HAS_W, true><<<(unsigned)nch, block, smem, st>>>(x, w, rr, dy, dx, ws, rows, dim,
                                                                                      nch);
        else
            rms_bw_chunk_kernel<VEC, HAS_W, false><<<(unsigned)nch, block, 0, st>>>(x, w, rr, dy, dx, ws, rows, dim,
                                                                                    nch);
    }
    MLXN_CK_LAUNCH("rms_norm_backward");
    MLXN_CK(launch_k(rms_bw_dw_kernel, dim3((unsigned)gb), dim3(256), 0, st, pdl, (const float *)ws, dw, dim, nch));
    MLXN_CK_LAUNCH("rms_norm_backward dw");
    return MLXN_OK;
}

} // namespace

extern "C" int mlxn_cuda_softmax_backward(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    if (rows == 0) return MLXN_OK;
    const float *y = static_cast<const float *>(c->args[0].ptr);
    const float *dy = static_cast<const float *>(c->args[1].ptr);
    float *dx = static_cast<float *>(c->args[2].ptr);
    const dim3 grid(grid_rows(rows)), block(threads_for(n));
    cudaStream_t st = stream_of(enc);
    if (n % 4 == 0 && al16(y) && al16(dy) && al16(dx))
        softmax_bw_kernel<4><<<grid, block, 0, st>>>(y, dy, dx, rows, n);
    else softmax_bw_kernel<1><<<grid, block, 0, st>>>(y, dy, dx, rows, n);
    MLXN_CK_LAUNCH("softmax_backward");
    return MLXN_OK;
}

extern "C" int mlxn_cuda_rms_inv(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1];
    if (rows == 0) return MLXN_OK;
    const float *x = static_cast<const float *>(c->args[0].ptr);
    float *r = static_cast<float *>(c->args[1].ptr);
    const float eps = c->u.gen.f[0];
    const bool pdl = pdl_on(dev);
    cudaStream_t st = stream_of(enc);
    const bool vec = dim % 4 == 0 && al16(x);
    if (vec && dim <= 2048) { // a warp per row, 8 rows per block
        const int64_t nv = dim / 4;
        int64_t blocks = (rows + 7) / 8;
        const int64_t cap = 65535LL * 8;
        if (blocks > cap) blocks = cap;
        const dim3 grid((unsigned)blocks), block(256);
        if (nv <= 32) MLXN_CK(launch_k(rms_inv_warp_kernel<1>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
        else if (nv <= 64) MLXN_CK(launch_k(rms_inv_warp_kernel<2>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
        else if (nv <= 128) MLXN_CK(launch_k(rms_inv_warp_kernel<4>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
        else if (nv <= 256) MLXN_CK(launch_k(rms_inv_warp_kernel<8>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
        else MLXN_CK(launch_k(rms_inv_warp_kernel<16>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
    } else {
        // with many rows at most 256 threads, so several blocks share an SM
        int th = threads_for(dim);
        if (rows >= 256 && th > 256) th = 256;
        const dim3 grid(grid_rows(rows)), block(th);
        if (vec) MLXN_CK(launch_k(rms_inv_kernel<4>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
        else MLXN_CK(launch_k(rms_inv_kernel<1>, grid, block, 0, st, pdl, x, r, rows, dim, eps));
    }
    MLXN_CK_LAUNCH("rms_inv");
    return MLXN_OK;
}

extern "C" int mlxn_cuda_rms_norm_backward(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1];
    if (rows == 0) return MLXN_OK;
    const bool has_w = c->u.gen.d[0] != 0;
    // the workspace is only read and written as scalars: its alignment (4, checked
    // by the ops layer) does not matter for VEC
    const bool vec = dim % 4 == 0 && al16(c->args[0].ptr) && al16(c->args[1].ptr) && al16(c->args[3].ptr) &&
                     al16(c->args[4].ptr);
    cudaStream_t st = stream_of(enc);
    if (vec) return has_w ? rms_bw_launch<4, true>(dev, c, st) : rms_bw_launch<4, false>(dev, c, st);
    return has_w ? rms_bw_launch<1, true>(dev, c, st) : rms_bw_launch<1, false>(dev, c, st);
}

extern "C" int mlxn_cuda_unary_backward(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t n = c->u.gen.i[0];
    if (n == 0) return MLXN_OK;
    const float *x = static_cast<const float *>(c->args[0].ptr);
    const float *dy = static_cast<const float *>(c->args[1].ptr);
    float *dx = static_cast<float *>(c->args[2].ptr);
    const bool silu = c->u.gen.d[0] == MLXN_UNARY_SILU;
    cudaStream_t st = stream_of(enc);
    if (n % 4 == 0 && al16(x) && al16(dy) && al16(dx)) {
        const unsigned g = grid_flat(dev, n / 4);
        if (silu) unary_bw_kernel<4, true><<<g, 256, 0, st>>>(x, dy, dx, n);
        else unary_bw_kernel<4, false><<<g, 256, 0, st>>>(x, dy, dx, n);
    } else {
        const unsigned g = grid_flat(dev, n);
        if (silu) unary_bw_kernel<1, true><<<g, 256, 0, st>>>(x, dy, dx, n);
        else unary_bw_kernel<1, false><<<g, 256, 0, st>>>(x, dy, dx, n);
    }
    MLXN_CK_LAUNCH("unary_backward");
    return MLXN_OK;
}

extern "C" int mlxn_cuda_row_sum_backward(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    if (rows == 0) return MLXN_OK;
    const float *dy = static_cast<const float *>(c->args[0].ptr);
    float *dx = static_cast<float *>(c->args[1].ptr);
    const int64_t total = rows * n;
    const bool narrow = total <= (int64_t)UINT32_MAX;
    cudaStream_t st = stream_of(enc);
    if (n % 4 == 0 && al16(dx)) {
        const unsigned g = grid_flat(dev, total / 4);
        if (narrow) row_sum_bw_kernel<4, true><<<g, 256, 0, st>>>(dy, dx, total, n);
        else row_sum_bw_kernel<4, false><<<g, 256, 0, st>>>(dy, dx, total, n);
    } else {
        const unsigned g = grid_flat(dev, total);
        if (narrow) row_sum_bw_kernel<1, true><<<g, 256, 0, st>>>(dy, dx, total, n);
        else row_sum_bw_kernel<1, false><<<g, 256, 0, st>>>(dy, dx, total, n);
    }
    MLXN_CK_LAUNCH("row_sum_backward");
    return MLXN_OK;
}
