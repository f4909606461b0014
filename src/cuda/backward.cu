// backward.cu — softmax_backward, rms_inv, rms_norm_backward, unary_backward
// (silu, log) and row_sum_backward, all f32. Plan slots and argument order:
// src/ops/backward.c; the CPU twin is src/cpu/backward.c (same semantics).
//
// Row kernels (softmax_backward, rms_inv, rms_norm_backward): one block per row
// (grid-stride over rows, grid capped; rms_norm_backward with dw: one block per
// row chunk). Threads = next power of two of ceil(n/4) in [32, 1024]. A thread
// owns the columns {4t + 4Gk + q} (VEC = 4, float4 loads, when every pointer is
// 16-byte aligned and n % 4 == 0) or {t + Gk} (VEC = 1) and is the only one to
// read or write them in its row's second pass, which starts after the block
// reduction's barrier: so dx may be exactly y/dy/x (the block reads its whole
// row for the sum before anyone writes).
//
// Sums: per-thread f32 partials, a warp shuffle tree, the warps' partials
// through shared memory; every block_sum ends with a barrier so the next
// row may reuse the shared slots.
//
// rms_norm_backward's dw: block c handles rows [c*rows/C, (c+1)*rows/C) of the
// C = i[2] chunks and accumulates dy*x*r per column in f32, in dynamic shared
// memory when dim floats fit in 47 KB, else directly in its workspace slice
// (each column touched only by its owning thread, so no races either way);
// the shared accumulators are then copied to ws[c*dim ...]. A second kernel
// adds the C slices per column in chunk order in double. Deterministic: the
// partition and every summation order are fixed by rows/dim alone.
#include "cuda_common.h"

#include <math_constants.h>
#include <stdint.h>

namespace {

constexpr int kMaxChunks = 256; // mirrors BW_MAX_CHUNKS of src/ops/backward.c

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

template <int VEC>
__global__ void __launch_bounds__(1024) rms_inv_kernel(const float *x, float *r, int64_t rows, int64_t dim,
                                                       float eps) {
    __shared__ float red[32];
    const int64_t G = blockDim.x;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const float *xr = x + row * dim;
        float s = 0.0f;
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC) {
            float a[VEC];
            ldv<VEC>(xr + j, a);
#pragma unroll
            for (int k = 0; k < VEC; k++) s += a[k] * a[k];
        }
        s = block_sum(s, red);
        if (threadIdx.x == 0) r[row] = (float)(1.0 / sqrt((double)s / (double)dim + (double)eps));
    }
}

// ---- rms_norm_backward --------------------------------------------------------

// Rows [r0, r1) of one block: dx = r (dy w - x c), c = s r^2 / dim, s = sum dy x w;
// with DW, acc[j] += dy x r for the thread's own columns.
template <int VEC, bool HAS_W, bool DW>
__device__ __forceinline__ void rms_bw_rows(const float *x, const float *w, const float *rr, const float *dy,
                                            float *dx, int64_t r0, int64_t r1, int64_t dim, float *acc,
                                            float *red) {
    const int64_t G = blockDim.x;
    for (int64_t row = r0; row < r1; row++) {
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
        rms_bw_rows<VEC, HAS_W, false>(x, w, rr, dy, dx, row, row + 1, dim, nullptr, red);
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
    const int64_t r0 = ch * rows / nch, r1 = (ch + 1) * rows / nch;
    rms_bw_rows<VEC, HAS_W, true>(x, w, rr, dy, dx, r0, r1, dim, acc, red);
    if (SMEM)
        for (int64_t j = threadIdx.x * (int64_t)VEC; j < dim; j += G * VEC)
#pragma unroll
            for (int k = 0; k < VEC; k++) slice[j + k] = acc[j + k];
}

// dw[j] = sum over chunks c (in order) of ws[c*dim + j], in double.
__global__ void __launch_bounds__(256) rms_bw_dw_kernel(const float *ws, float *dw, int64_t dim, int64_t nch) {
    const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= dim) return;
    double t = 0.0;
    for (int64_t c = 0; c < nch; c++) t += (double)ws[c * dim + j];
    dw[j] = (float)t;
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

template <int VEC, bool HAS_W>
int rms_bw_launch(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1], nch = c->u.gen.i[2];
    const float *x = static_cast<const float *>(c->args[0].ptr);
    const float *w = static_cast<const float *>(c->args[1].ptr);
    const float *rr = static_cast<const float *>(c->args[2].ptr);
    const float *dy = static_cast<const float *>(c->args[3].ptr);
    float *dx = static_cast<float *>(c->args[4].ptr);
    const dim3 block(threads_for(dim));
    if (!c->u.gen.d[1]) {
        rms_bw_dx_kernel<VEC, HAS_W><<<grid_rows(rows), block, 0, st>>>(x, w, rr, dy, dx, rows, dim);
        MLXN_CK_LAUNCH("rms_norm_backward");
        return MLXN_OK;
    }
    float *dw = static_cast<float *>(c->args[5].ptr);
    float *ws = static_cast<float *>(c->args[6].ptr);
    if (nch < 1 || nch > kMaxChunks)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: chunk count %lld out of range", c->name,
                                  (long long)nch);
    const size_t smem = (size_t)dim * sizeof(float);
    if (smem <= 47 * 1024) // + the 128 static bytes of red: under the 48 KB default
        rms_bw_chunk_kernel<VEC, HAS_W, true><<<(unsigned)nch, block, smem, st>>>(x, w, rr, dy, dx, ws, rows, dim, nch);
    else
        rms_bw_chunk_kernel<VEC, HAS_W, false><<<(unsigned)nch, block, 0, st>>>(x, w, rr, dy, dx, ws, rows, dim, nch);
    MLXN_CK_LAUNCH("rms_norm_backward");
    const int64_t gb = (dim + 255) / 256;
    if (gb > INT32_MAX)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: dim %lld too large", c->name, (long long)dim);
    rms_bw_dw_kernel<<<(unsigned)gb, 256, 0, st>>>(ws, dw, dim, nch);
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
    const dim3 grid(grid_rows(rows)), block(threads_for(dim));
    cudaStream_t st = stream_of(enc);
    if (dim % 4 == 0 && al16(x)) rms_inv_kernel<4><<<grid, block, 0, st>>>(x, r, rows, dim, c->u.gen.f[0]);
    else rms_inv_kernel<1><<<grid, block, 0, st>>>(x, r, rows, dim, c->u.gen.f[0]);
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
    if (vec) return has_w ? rms_bw_launch<4, true>(c, st) : rms_bw_launch<4, false>(c, st);
    return has_w ? rms_bw_launch<1, true>(c, st) : rms_bw_launch<1, false>(c, st);
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
