/* elementwise.cu — unary, binary, glu and cast through one mlxn_ew_plan.

   Every kernel is a grid-stride loop over units of V elements: V = 8 (one
   16-byte access per 16-bit operand, two per f32 operand) when every pointer
   is 16-byte aligned and rows split into whole units, else V = 1 (any
   alignment, any row length). The few elements past the last whole unit (flat
   layouts only) are done by the first threads of the grid after the loop.
   Math is f32 with CUDA's accurate expf/tanhf/erfcf/logf (no fast-math); each
   result is rounded once to the output dtype. In-place is safe: each element
   is read and written by the same thread, and no read-only (nc) loads are
   used. The grid is capped at 32 blocks per SM; the loop covers the rest. */
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float tof(float v) { return v; }
__device__ __forceinline__ float tof(__half v) { return __half2float(v); }
__device__ __forceinline__ float tof(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T fromf(float v);
template <> __device__ __forceinline__ float fromf<float>(float v) { return v; }
template <> __device__ __forceinline__ __half fromf<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromf<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* V consecutive elements of p as floats. For V = 8 the access is one (16-bit)
   or two (f32) 16-byte transactions; p is 16-byte aligned there. */
template <typename T, int V> __device__ __forceinline__ void load(const T *p, float (&f)[V]) {
    if constexpr (V * sizeof(T) % 16 == 0) {
        constexpr int CH = (int)(V * sizeof(T) / 16);
        uint4 q[CH];
#pragma unroll
        for (int c = 0; c < CH; c++) q[c] = reinterpret_cast<const uint4 *>(p)[c];
        const T *e = reinterpret_cast<const T *>(q);
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = tof(e[k]);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = tof(p[k]);
    }
}

template <typename T, int V> __device__ __forceinline__ void store(T *p, const float (&f)[V]) {
    if constexpr (V * sizeof(T) % 16 == 0) {
        constexpr int CH = (int)(V * sizeof(T) / 16);
        uint4 q[CH];
        T *e = reinterpret_cast<T *>(q);
#pragma unroll
        for (int k = 0; k < V; k++) e[k] = fromf<T>(f[k]);
#pragma unroll
        for (int c = 0; c < CH; c++) reinterpret_cast<uint4 *>(p)[c] = q[c];
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) p[k] = fromf<T>(f[k]);
    }
}

/* ---- activations (f32, accurate libdevice functions) ------------------------ */

/* x sigmoid(2u) == 0.5 x (1 + tanh u) without the cancellation of 1 + tanh u */
__device__ __forceinline__ float gelu_tanh(float x) {
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}
/* 1 + erf(z) == erfc(-z): accurate in the negative tail */
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * erfcf(-0.7071067811865476f * x); }
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

template <int OP> __device__ __forceinline__ float unary_f(float x, float alpha) {
    switch (OP) {
    case MLXN_UNARY_GELU: return gelu_tanh(x);
    case MLXN_UNARY_GELU_ERF: return gelu_erf(x);
    case MLXN_UNARY_SILU: return silu(x);
    case MLXN_UNARY_SIGMOID: return sigmoid(x);
    case MLXN_UNARY_TANH: return tanhf(x);
    case MLXN_UNARY_RELU: return x < 0.0f ? 0.0f : x; /* NaN kept */
    case MLXN_UNARY_EXP: return expf(x);
    case MLXN_UNARY_LOG: return logf(x);
    case MLXN_UNARY_SCALE: return x * alpha;
    default: return alpha * tanhf(x / alpha); /* SOFTCAP */
    }
}

template <int OP> __device__ __forceinline__ float binary_f(float a, float b) {
    switch (OP) {
    case MLXN_BINARY_ADD: return a + b;
    case MLXN_BINARY_SUB: return a - b;
    case MLXN_BINARY_MUL: return a * b;
    default: return a / b;
    }
}

template <int OP> __device__ __forceinline__ float glu_f(float g, float u) {
    switch (OP) {
    case MLXN_GLU_SWIGLU: return silu(g) * u;
    case MLXN_GLU_GEGLU: return gelu_tanh(g) * u;
    case MLXN_GLU_GEGLU_ERF: return gelu_erf(g) * u;
    default: return sigmoid(g) * u;
    }
}

/* i % m and i / m in 32 bits when everything fits (a 64-bit divide is a long
   software sequence on the GPU); `narrow` is uniform over the grid. */
__device__ __forceinline__ int64_t mod_of(int64_t i, int64_t m, bool narrow) {
    return narrow ? (int64_t)((uint32_t)i % (uint32_t)m) : i % m;
}
__device__ __forceinline__ int64_t div_of(int64_t i, int64_t m, bool narrow) {
    return narrow ? (int64_t)((uint32_t)i / (uint32_t)m) : i / m;
}

/* ---- kernels ------------------------------------------------------------------- */

template <typename T, int V, int OP>
__global__ void __launch_bounds__(kThreads) unary_kernel(const T *x, T *y, int64_t n, float alpha) {
    pdl_enter();
    const int64_t units = n / V, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t u = tid; u < units; u += stride) {
        float f[V];
        load<T, V>(x + u * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = unary_f<OP>(f[k], alpha);
        store<T, V>(y + u * V, f);
    }
    const int64_t i = units * V + tid;
    if (i < n) y[i] = fromf<T>(unary_f<OP>(tof(x[i]), alpha));
}

/* b[i % nb]; with V = 8, nb % 8 == 0 so a unit never straddles a row of b */
template <typename T, int V, int OP>
__global__ void __launch_bounds__(kThreads) binary_kernel(const T *a, const T *b, T *y, int64_t n, int64_t nb,
                                                          bool narrow) {
    pdl_enter();
    const int64_t units = n / V, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const bool bcast = nb != n;
    for (int64_t u = tid; u < units; u += stride) {
        const int64_t i = u * V;
        const int64_t j = bcast ? mod_of(i, nb, narrow) : i;
        float fa[V], fb[V];
        load<T, V>(a + i, fa);
        load<T, V>(b + j, fb);
#pragma unroll
        for (int k = 0; k < V; k++) fa[k] = binary_f<OP>(fa[k], fb[k]);
        store<T, V>(y + i, fa);
    }
    const int64_t i = units * V + tid;
    if (i < n) y[i] = fromf<T>(binary_f<OP>(tof(a[i]), tof(b[bcast ? mod_of(i, nb, narrow) : i])));
}

/* Split: gate[i], up[i]. Fused: output (r, c) reads gate[r*2cols + c] and
   gate[r*2cols + cols + c] (up == gate + cols); with V = 8, cols % 8 == 0. */
template <typename T, int V, int OP>
__global__ void __launch_bounds__(kThreads) glu_kernel(const T *g, const T *up, T *y, int64_t n, int64_t cols,
                                                       bool fused, bool narrow) {
    pdl_enter();
    const int64_t units = n / V, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t u = tid; u < units; u += stride) {
        const int64_t i = u * V;
        const int64_t gi = fused ? i + div_of(i, cols, narrow) * cols : i;
        float fg[V], fu[V];
        load<T, V>(g + gi, fg);
        load<T, V>(up + gi, fu);
#pragma unroll
        for (int k = 0; k < V; k++) fg[k] = glu_f<OP>(fg[k], fu[k]);
        store<T, V>(y + i, fg);
    }
    const int64_t i = units * V + tid;
    if (i < n) {
        const int64_t gi = fused ? i + div_of(i, cols, narrow) * cols : i;
        y[i] = fromf<T>(glu_f<OP>(tof(g[gi]), tof(up[gi])));
    }
}

template <typename TI, typename TO, int V>
__global__ void __launch_bounds__(kThreads) cast_kernel(const TI *x, TO *y, int64_t n) {
    pdl_enter();
    const int64_t units = n / V, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t u = tid; u < units; u += stride) {
        float f[V];
        load<TI, V>(x + u * V, f); /* widening to f32 is exact: one rounding */
        store<TO, V>(y + u * V, f);
    }
    const int64_t i = units * V + tid;
    if (i < n) y[i] = fromf<TO>(tof(x[i]));
}

/* ---- launch helpers ------------------------------------------------------------ */

struct Launch {
    unsigned blocks;
    cudaStream_t st;
    bool pdl;
};

/* Enough blocks for one unit per thread, capped at 32 blocks per SM (full
   occupancy several times over); at least one block, which also covers the
   tail elements (fewer than V, all handled by thread ids < V). */
Launch launch_of(const void *dev, void *enc, int64_t n, int v) {
    const mlxn_cuda_dev *cd = static_cast<const mlxn_cuda_dev *>(dev);
    const int64_t units = n / v;
    int64_t blocks = (units + kThreads - 1) / kThreads;
    const int64_t cap = (int64_t)(cd->sm_count > 0 ? cd->sm_count : 1) * 32;
    if (blocks > cap) blocks = cap;
    if (blocks < 1) blocks = 1;
    Launch l;
    l.blocks = (unsigned)blocks;
    l.st = static_cast<mlxn_cuda_enc *>(enc)->stream;
    l.pdl = pdl_on(dev);
    return l;
}

bool aligned16(const void *p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

/* ---- unary ---- */

template <typename T, int V>
int unary_v(const Launch &l, const mlxn_op_call *c) {
    const mlxn_ew_plan &p = c->u.ew;
    const T *x = static_cast<const T *>(c->args[0].ptr);
    T *y = static_cast<T *>(c->args[1].ptr);
    switch (p.op) {
#define U_CASE(OPV)                                                                       \
    case OPV: MLXN_CK(launch_k(unary_kernel<T, V, OPV>, l.blocks, kThreads, 0, l.st, l.pdl, x, y, p.n, p.alpha)); break;
        U_CASE(MLXN_UNARY_GELU)
        U_CASE(MLXN_UNARY_GELU_ERF)
        U_CASE(MLXN_UNARY_SILU)
        U_CASE(MLXN_UNARY_SIGMOID)
        U_CASE(MLXN_UNARY_TANH)
        U_CASE(MLXN_UNARY_RELU)
        U_CASE(MLXN_UNARY_EXP)
        U_CASE(MLXN_UNARY_LOG)
        U_CASE(MLXN_UNARY_SCALE)
        U_CASE(MLXN_UNARY_SOFTCAP)
#undef U_CASE
    default: return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op %d unknown", c->name, (int)p.op);
    }
    MLXN_CK_LAUNCH("unary_kernel");
    return MLXN_OK;
}

template <typename T>
int unary_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const bool vec = aligned16(c->args[0].ptr) && aligned16(c->args[1].ptr);
    if (vec) return unary_v<T, 8>(launch_of(dev, enc, c->u.ew.n, 8), c);
    return unary_v<T, 1>(launch_of(dev, enc, c->u.ew.n, 1), c);
}

/* ---- binary ---- */

template <typename T, int V>
int binary_v(const Launch &l, const mlxn_op_call *c) {
    const mlxn_ew_plan &p = c->u.ew;
    const T *a = static_cast<const T *>(c->args[0].ptr);
    const T *b = static_cast<const T *>(c->args[1].ptr);
    T *y = static_cast<T *>(c->args[2].ptr);
    const bool narrow = p.n <= (int64_t)UINT32_MAX;
    switch (p.op) {
#define B_CASE(OPV)                                                                             \
    case OPV: MLXN_CK(launch_k(binary_kernel<T, V, OPV>, l.blocks, kThreads, 0, l.st, l.pdl, a, b, y, p.n, p.nb, narrow)); break;
        B_CASE(MLXN_BINARY_ADD)
        B_CASE(MLXN_BINARY_SUB)
        B_CASE(MLXN_BINARY_MUL)
        B_CASE(MLXN_BINARY_DIV)
#undef B_CASE
    default: return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op %d unknown", c->name, (int)p.op);
    }
    MLXN_CK_LAUNCH("binary_kernel");
    return MLXN_OK;
}

template <typename T>
int binary_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const mlxn_ew_plan &p = c->u.ew;
    const bool vec = aligned16(c->args[0].ptr) && aligned16(c->args[1].ptr) && aligned16(c->args[2].ptr) &&
                     (p.nb == p.n || p.nb % 8 == 0);
    if (vec) return binary_v<T, 8>(launch_of(dev, enc, p.n, 8), c);
    return binary_v<T, 1>(launch_of(dev, enc, p.n, 1), c);
}

/* ---- glu ---- */

template <typename T, int V>
int glu_v(const Launch &l, const mlxn_op_call *c) {
    const mlxn_ew_plan &p = c->u.ew;
    const T *g = static_cast<const T *>(c->args[0].ptr);
    const T *up = p.fused ? g + p.cols : static_cast<const T *>(c->args[1].ptr);
    T *y = static_cast<T *>(c->args[2].ptr);
    const bool fused = p.fused != 0;
    const bool narrow = p.n <= (int64_t)UINT32_MAX;
    switch (p.op) {
#define G_CASE(OPV)                                                                                        \
    case OPV: MLXN_CK(launch_k(glu_kernel<T, V, OPV>, l.blocks, kThreads, 0, l.st, l.pdl, g, up, y, p.n, p.cols, fused, narrow)); break;
        G_CASE(MLXN_GLU_SWIGLU)
        G_CASE(MLXN_GLU_GEGLU)
        G_CASE(MLXN_GLU_GEGLU_ERF)
        G_CASE(MLXN_GLU_SIGMOID)
#undef G_CASE
    default: return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: op %d unknown", c->name, (int)p.op);
    }
    MLXN_CK_LAUNCH("glu_kernel");
    return MLXN_OK;
}

template <typename T>
int glu_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const mlxn_ew_plan &p = c->u.ew;
    const void *up = p.fused ? static_cast<const T *>(c->args[0].ptr) + p.cols : c->args[1].ptr;
    const bool vec = aligned16(c->args[0].ptr) && aligned16(up) && aligned16(c->args[2].ptr) &&
                     (!p.fused || p.cols % 8 == 0);
    if (vec) return glu_v<T, 8>(launch_of(dev, enc, p.n, 8), c);
    return glu_v<T, 1>(launch_of(dev, enc, p.n, 1), c);
}

/* ---- cast ---- */

template <typename TI, typename TO>
int cast_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const TI *x = static_cast<const TI *>(c->args[0].ptr);
    TO *y = static_cast<TO *>(c->args[1].ptr);
    const int64_t n = c->u.ew.n;
    if (aligned16(x) && aligned16(y)) {
        const Launch l = launch_of(dev, enc, n, 8);
        MLXN_CK(launch_k(cast_kernel<TI, TO, 8>, l.blocks, kThreads, 0, l.st, l.pdl, x, y, n));
    } else {
        const Launch l = launch_of(dev, enc, n, 1);
        MLXN_CK(launch_k(cast_kernel<TI, TO, 1>, l.blocks, kThreads, 0, l.st, l.pdl, x, y, n));
    }
    MLXN_CK_LAUNCH("cast_kernel");
    return MLXN_OK;
}

template <typename TI>
int cast_from(const void *dev, void *enc, const mlxn_op_call *c) {
    switch (c->u.ew.dtype) {
    case MLXN_F32: return cast_t<TI, float>(dev, enc, c);
    case MLXN_F16: return cast_t<TI, __half>(dev, enc, c);
    default: return cast_t<TI, __nv_bfloat16>(dev, enc, c);
    }
}

} // namespace

extern "C" int mlxn_cuda_unary(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    switch (c->u.ew.dtype) {
    case MLXN_F32: return unary_t<float>(dev, enc, c);
    case MLXN_F16: return unary_t<__half>(dev, enc, c);
    default: return unary_t<__nv_bfloat16>(dev, enc, c);
    }
}

extern "C" int mlxn_cuda_binary(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    switch (c->u.ew.dtype) {
    case MLXN_F32: return binary_t<float>(dev, enc, c);
    case MLXN_F16: return binary_t<__half>(dev, enc, c);
    default: return binary_t<__nv_bfloat16>(dev, enc, c);
    }
}

extern "C" int mlxn_cuda_glu(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    switch (c->u.ew.dtype) {
    case MLXN_F32: return glu_t<float>(dev, enc, c);
    case MLXN_F16: return glu_t<__half>(dev, enc, c);
    default: return glu_t<__nv_bfloat16>(dev, enc, c);
    }
}

extern "C" int mlxn_cuda_cast(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const mlxn_ew_plan &p = c->u.ew;
    if (p.src_dtype == p.dtype) {
        /* same dtype: a copy (nothing at all in place) */
        if (c->args[0].ptr == c->args[1].ptr) return MLXN_OK;
        MLXN_CK(cudaMemcpyAsync(c->args[1].ptr, c->args[0].ptr, c->args[1].nbytes, cudaMemcpyDeviceToDevice,
                                static_cast<mlxn_cuda_enc *>(enc)->stream));
        return MLXN_OK;
    }
    switch (p.src_dtype) {
    case MLXN_F32: return cast_from<float>(dev, enc, c);
    case MLXN_F16: return cast_from<__half>(dev, enc, c);
    default: return cast_from<__nv_bfloat16>(dev, enc, c);
    }
}
