/* fused_norm.cu — add_rms_norm, rms_norm_add and rms_norm_gate over rows
   (the last dimension). Argument order and plan slots: src/ops/fused_norm.c.

   The structure of norm.cu (read it first), with one row routine for the
   three ops:
     - rows of dim <= 1024: one warp per row, 8 rows per 256-thread block,
       warp-shuffle reduction only;
     - longer rows: one block per row (128..1024 threads), warp shuffles then
       one shared-memory step.
   Pass 1: each thread loads its share of the normalized operand v (x, or
   a + b computed in f32) — up to NV vectors — into registers as f32 before
   using any of it, so the row's loads are all in flight at once, and sums
   the squares. After the reduction, pass 2 reads the second row input (res
   or z) and the weight, computes the outputs from the registers and stores
   them: a, b and x are read from DRAM once. Parts of rows beyond
   threads * NV vectors (rows longer than 32K elements, or the scalar
   fallback's 8 per thread) are read again in pass 2.

   Numerics: all in f32, one rounding per output. add_rms_norm keeps the f32
   sum s in registers: y = s * r * w from the unrounded s, sum_out = round(s).
   rms_norm_add: y = (res + x * r * w) * scale; rms_norm_gate: y = x * r * w *
   silu(z), silu(z) = z / (1 + expf(-z)) (full-precision expf, as
   elementwise.cu). nvcc may contract res + (x*r)*w into an fma: that is one
   rounding fewer, still within the f32 error the tests allow.

   Vectors are 16 bytes (4 f32 or 8 f16/bf16) when every tensor (inputs,
   outputs, w) is 16-byte aligned and dim is a multiple of the vector width
   (checked at launch); otherwise every access is scalar (VW = 1).

   Registers: v is NV * VW = 32 floats per thread for the vector paths (the
   budget of norm.cu, which keeps the same values converted to f32), 8 for
   the scalar one, so 1024-thread blocks stay under their 64-register cap.

   In place (an output that is exactly an input view, see src/ops): every
   element of a row is read in pass 1 before the row's reduction completes;
   in pass 2 each element is read (res, z, or the re-read remainder) and
   written by the one thread that owns it, reads first. */
#include "cuda_common.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>

namespace {

constexpr int WARP_MAX_DIM = 1024; /* longest row handled by one warp     */
constexpr int WARP_ROWS = 8;       /* rows (warps) per block, warp kernel */
__host__ __device__ constexpr int nv_of(int vw) { return vw == 1 ? 8 : 32 / vw; }
constexpr int NV_SHORT = 2; /* warp kernel, rows of <= 64 vectors: fewer registers, more rows in flight */

enum Op { OP_ADD = 0, OP_NADD = 1, OP_GATE = 2 };

struct FArgs {
    const void *in0;  /* a, or x                    */
    const void *in1;  /* b, res or z                */
    const void *w;    /* NULL: no weight            */
    void *y;
    void *sum;        /* add_rms_norm's sum_out or NULL */
    long long rows;
    int dim;
    int nvec;         /* vectors per row (dim / VW) */
    float eps, scale;
};

/* ---- element conversions --------------------------------------------------- */

#include "vec16.cuh"
}

/* VW elements of a T row at p as floats (one 16-byte load, or one scalar). */
template <typename T, int VW>
__device__ __forceinline__ void load_vec(const T *p, float *o) {
    if constexpr (VW == 1) o[0] = tof(*p);
    else unpack(*reinterpret_cast<const uint4 *>(p), o, p);
}

template <typename T, int VW>
__device__ __forceinline__ void store_vec(T *p, const float *v) {
    if constexpr (VW == 1) st1(p, v[0]);
    else *reinterpret_cast<uint4 *>(p) = pack(v, static_cast<const T *>(nullptr));
}

/* VW weights (1 when absent); with vectors, w is 16-byte aligned and an f32
   weight for 16-bit rows spans two 16-byte loads. */
template <typename W, int VW>
__device__ __forceinline__ void load_w(const W *w, size_t i, float *o) {
    if (!w) {
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = 1.0f;
        return;
    }
    const W *p = w + i;
    if constexpr (VW == 1) {
        o[0] = tof(*p);
    } else {
        constexpr int per = 16 / (int)sizeof(W);
        static_assert(VW % per == 0, "weight vector is whole 16-byte chunks");
#pragma unroll
        for (int c = 0; c < VW / per; c++) unpack(reinterpret_cast<const uint4 *>(p)[c], o + c * per, p);
    }
}

#include "norm_reduce.cuh"

/* ---- the row routine ------------------------------------------------------ */

/* The normalized operand of vector i of the row: x, or a + b in f32. */
template <int OP, typename T, int VW>
__device__ __forceinline__ void load_v(const T *r0, const T *r1, int i, float *v) {
    load_vec<T, VW>(r0 + (size_t)i * VW, v);
    if constexpr (OP == OP_ADD) {
        float b[VW];
        load_vec<T, VW>(r1 + (size_t)i * VW, b);
#pragma unroll
        for (int j = 0; j < VW; j++) v[j] = v[j] + b[j];
    }
}

/* Pass 2 for vector i, with v (the normalized operand) already in hand. */
template <int OP, typename T, typename W, int VW>
__device__ __forceinline__ void emit(const FArgs &a, const T *r1, T *yr, T *sr, const W *w, int i, const float *v,
                                     float r) {
    (void)a; /* scale: rms_norm_add only */
    (void)r1; /* res or z: not add_rms_norm */
    (void)sr; /* sum_out: add_rms_norm only */
    float wv[VW], o[VW];
    load_w<W, VW>(w, (size_t)i * VW, wv);
    if constexpr (OP == OP_ADD) {
        if (sr) store_vec<T, VW>(sr + (size_t)i * VW, v);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = v[j] * r * wv[j];
    } else if constexpr (OP == OP_NADD) {
        float res[VW];
        load_vec<T, VW>(r1 + (size_t)i * VW, res);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = (res[j] + v[j] * r * wv[j]) * a.scale;
    } else {
        float z[VW];
        load_vec<T, VW>(r1 + (size_t)i * VW, z);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = v[j] * r * wv[j] * (z[j] / (1.0f + expf(-z[j])));
    }
    store_vec<T, VW>(yr + (size_t)i * VW, o);
}

/* Thread t of nt handles row `row`: vectors t, t + nt, ... */
template <int OP, typename T, typename W, int VW, int NV, typename Reduce>
__device__ __forceinline__ void fused_row(const FArgs &a, long long row, int t, int nt, Reduce reduce) {
    const size_t off = (size_t)row * (size_t)a.dim;
    const T *r0 = static_cast<const T *>(a.in0) + off;
    const T *r1 = static_cast<const T *>(a.in1) + off;
    T *yr = static_cast<T *>(a.y) + off;
    T *sr = a.sum ? static_cast<T *>(a.sum) + off : nullptr;
    const W *w = static_cast<const W *>(a.w);
    const int nvec = a.nvec;

    float v[NV][VW];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) load_v<OP, T, VW>(r0, r1, i, v[k]);
    }
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) {
#pragma unroll
            for (int j = 0; j < VW; j++) ss = fmaf(v[k][j], v[k][j], ss);
        }
    }
    for (int i = t + NV * nt; i < nvec; i += nt) { /* rows longer than nt*NV vectors */
        float u[VW];
        load_v<OP, T, VW>(r0, r1, i, u);
#pragma unroll
        for (int j = 0; j < VW; j++) ss = fmaf(u[j], u[j], ss);
    }
    ss = reduce(ss);
    const float r = rsqrtf(ss / (float)a.dim + a.eps);

#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) emit<OP, T, W, VW>(a, r1, yr, sr, w, i, v[k], r);
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW];
        load_v<OP, T, VW>(r0, r1, i, u);
        emit<OP, T, W, VW>(a, r1, yr, sr, w, i, u, r);
    }
}

/* With programmatic dependent launch (sm_90+), this kernel may start while
   the previous one still runs: wait for it before touching memory. */
__device__ __forceinline__ void wait_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();
#endif
}

template <int OP, typename T, typename W, int VW, int NV>
__global__ void __launch_bounds__(32 * WARP_ROWS) fused_warp_kernel(const FArgs a) {
    wait_prior_grid();
    const long long row = (long long)blockIdx.x * WARP_ROWS + (threadIdx.x >> 5);
    if (row >= a.rows) return; /* whole warps leave: the shuffles stay full-warp */
    fused_row<OP, T, W, VW, NV>(a, row, threadIdx.x & 31, 32, WarpReduce());
}

template <int OP, typename T, typename W, int VW, int NV>
__global__ void __launch_bounds__(1024) fused_block_kernel(const FArgs a) {
    wait_prior_grid();
    fused_row<OP, T, W, VW, NV>(a, (long long)blockIdx.x, (int)threadIdx.x, (int)blockDim.x, BlockReduce());
}

int launch(void (*k)(const FArgs), unsigned grid, unsigned block, const FArgs &a, cudaStream_t st, bool pdl) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(block);
    cfg.dynamicSmemBytes = 0;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    MLXN_CK(cudaLaunchKernelEx(&cfg, k, a));
    MLXN_CK_LAUNCH("fused_norm");
    return MLXN_OK;
}

template <int OP, typename T, typename W>
int launch_tw(FArgs a, const char *name, cudaStream_t st, bool pdl) {
    constexpr int VW = 16 / (int)sizeof(T);
    constexpr int NVV = nv_of(VW), NVS = nv_of(1);
    const uintptr_t addr =
        (uintptr_t)a.in0 | (uintptr_t)a.in1 | (uintptr_t)a.w | (uintptr_t)a.y | (uintptr_t)a.sum;
    const bool vec = addr % 16 == 0 && a.dim % VW == 0;
    a.nvec = vec ? a.dim / VW : a.dim;
    if (a.dim <= WARP_MAX_DIM) {
        const long long blocks = (a.rows + WARP_ROWS - 1) / WARP_ROWS;
        if (blocks > INT_MAX)
            return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld rows exceed the CUDA grid limit (%lld)", name,
                                      a.rows, (long long)INT_MAX * WARP_ROWS);
        void (*k)(const FArgs) = !vec                      ? fused_warp_kernel<OP, T, W, 1, NVS>
                                 : a.nvec <= 32 * NV_SHORT ? fused_warp_kernel<OP, T, W, VW, NV_SHORT>
                                                           : fused_warp_kernel<OP, T, W, VW, NVV>;
        return launch(k, (unsigned)blocks, 32 * WARP_ROWS, a, st, pdl);
    }
    if (a.rows > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld rows exceed the CUDA grid limit (%d)", name, a.rows,
                                  INT_MAX);
    /* enough threads that each keeps at most NV vectors, within [128, 1024] */
    const int nv = vec ? NVV : NVS;
    long long threads = ((long long)(a.nvec + nv - 1) / nv + 31) / 32 * 32;
    if (threads < 128) threads = 128;
    if (threads > 1024) threads = 1024;
    return launch(vec ? fused_block_kernel<OP, T, W, VW, NVV> : fused_block_kernel<OP, T, W, 1, NVS>,
                  (unsigned)a.rows, (unsigned)threads, a, st, pdl);
}

template <int OP>
int run_op(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], dim = c->u.gen.i[1];
    const int dtype = (int)c->u.gen.d[0], w_dtype = (int)c->u.gen.d[1];
    if (dim > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dim (%lld) exceeds the CUDA kernels' limit (%d)", c->name,
                                  (long long)dim, INT_MAX);
    FArgs a;
    a.in0 = c->args[0].ptr;
    if (OP == OP_ADD) {
        a.in1 = c->args[1].ptr;
        a.w = c->args[2].ptr;
        a.sum = c->args[4].ptr;
    } else {
        a.w = c->args[1].ptr;
        a.in1 = c->args[2].ptr;
        a.sum = nullptr;
    }
    a.y = c->args[3].ptr;
    a.rows = rows;
    a.dim = (int)dim;
    a.nvec = 0;
    a.eps = c->u.gen.f[0];
    a.scale = c->u.gen.f[1];
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = ((const mlxn_cuda_dev *)dev)->pdl != 0;
    const bool wf32 = a.w && w_dtype == MLXN_F32;
    switch (dtype) {
    case MLXN_F32: return launch_tw<OP, float, float>(a, c->name, st, pdl);
    case MLXN_F16:
        return wf32 ? launch_tw<OP, __half, float>(a, c->name, st, pdl)
                    : launch_tw<OP, __half, __half>(a, c->name, st, pdl);
    case MLXN_BF16:
        return wf32 ? launch_tw<OP, __nv_bfloat16, float>(a, c->name, st, pdl)
                    : launch_tw<OP, __nv_bfloat16, __nv_bfloat16>(a, c->name, st, pdl);
    default:
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cuda backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)dtype));
    }
}

} // namespace

extern "C" int mlxn_cuda_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_ADD>(dev, enc, c);
}

extern "C" int mlxn_cuda_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_NADD>(dev, enc, c);
}

extern "C" int mlxn_cuda_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_GATE>(dev, enc, c);
}
