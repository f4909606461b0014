/* norm.cu — rms_norm and l2_norm over rows (the last dimension).

   Two kernels, one row routine:
     - rows of dim <= 1024: one warp per row, 8 rows per 256-thread block;
       the reduction is warp shuffles only (no shared memory, no barrier);
     - longer rows: one block per row (128..1024 threads), warp shuffles then
       one shared-memory step.
   Each thread loads its share of the row (up to NV vectors) into registers
   before using any of it, so a row's loads are all in flight at once; after
   the reduction the same registers are scaled and stored: x is read from
   DRAM once. Parts of rows that do not fit (more than threads * NV
   vectors: rows beyond 32K elements, or the scalar fallback) are read again in the second pass.

   Vectors are 16 bytes (4 f32 or 8 f16/bf16) when x, y and w are 16-byte
   aligned and dim is a multiple of the vector width (checked at launch);
   otherwise every access is scalar (VW = 1). Arithmetic is f32: the sum of
   squares with fmaf (a per-thread chain of at most 32 terms plus the
   re-read remainder, then a log2(threads)-deep tree: <= ~100 roundings for
   the rows models use), r = rsqrt(sum/div + eps), y = x * r * w rounded once.

   In place (y == x) is safe: every element of a row is read before the
   row's reduction completes, and in the second pass each element is read (if
   at all) and written by the one thread that owns it. */
#include "cuda_common.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>

namespace {

constexpr int WARP_MAX_DIM = 1024; /* longest row handled by one warp     */
constexpr int WARP_ROWS = 8;       /* rows (warps) per block, warp kernel */
/* Vectors each thread keeps in registers (NV): 32 elements for the vector
   paths (the compiler keeps them converted to f32 between the two passes,
   i.e. 32 registers; more would spill under the 64-register cap of
   1024-thread blocks), 8 for the scalar fallback (unrolled scalar accesses
   cost an index and a predicate each). Short rows in the warp kernel use
   NV 2, which fits any row of <= 64 vectors: fewer registers, more warps
   resident per SM, more rows in flight (GDN's 128-wide q/k rows). */
__host__ __device__ constexpr int nv_of(int vw) { return vw == 1 ? 8 : 32 / vw; }
constexpr int NV_SHORT = 2;

struct NormArgs {
    const void *x;
    void *y;
    const void *w; /* NULL: no weight */
    long long rows;
    int dim;
    int nvec;      /* vectors per row (dim / VW) */
    float div;     /* dim for rms_norm (the mean), 1 for l2_norm */
    float eps;
};

/* ---- element conversions --------------------------------------------------- */

#include "vec16.cuh"

/* One vector of x as loaded (raw bits, converted on use: 4 registers per
   16 bytes whatever the dtype, so cached 16-bit data costs no more
   registers than f32). */
template <typename T, int VW>
struct XVec {
    static_assert(VW * sizeof(T) == 16, "vector accesses are 16 bytes");
    uint4 r;
    __device__ __forceinline__ void load(const T *p) { r = *reinterpret_cast<const uint4 *>(p); }
    __device__ __forceinline__ void get(float *o) const { unpack(r, o, static_cast<const T *>(nullptr)); }
};
template <typename T>
struct XVec<T, 1> {
    T r;
    __device__ __forceinline__ void load(const T *p) { r = *p; }
    __device__ __forceinline__ void get(float *o) const { o[0] = tof(r); }
};

template <typename T, int VW>
__device__ __forceinline__ void store_vec(T *p, const float *v) {
    if constexpr (VW == 1) st1(p, v[0]);
    else *reinterpret_cast<uint4 *>(p) = pack(v, static_cast<const T *>(nullptr));
}

/* VW weights; with vectors, w is 16-byte aligned and an f32 weight for
   16-bit x spans two 16-byte loads. */
template <typename W, int VW>
__device__ __forceinline__ void load_w(const W *p, float *o) {
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

/* Thread t of nt normalizes row (xr -> yr): vectors t, t + nt, ... */
template <typename T, typename W, int VW, int NV, typename Reduce>
__device__ __forceinline__ void norm_row(const NormArgs &a, const T *xr, T *yr, int t, int nt, Reduce reduce) {
    const W *w = static_cast<const W *>(a.w);
    const int nvec = a.nvec;
    XVec<T, VW> v[NV];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) v[k].load(xr + (size_t)i * VW);
    }
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) {
            float f[VW];
            v[k].get(f);
#pragma unroll
            for (int j = 0; j < VW; j++) ss = fmaf(f[j], f[j], ss);
        }
    }
    for (int i = t + NV * nt; i < nvec; i += nt) { /* rows longer than nt*NV vectors */
        XVec<T, VW> u;
        u.load(xr + (size_t)i * VW);
        float f[VW];
        u.get(f);
#pragma unroll
        for (int j = 0; j < VW; j++) ss = fmaf(f[j], f[j], ss);
    }
    ss = reduce(ss);
    const float r = rsqrtf(ss / a.div + a.eps);

#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) {
            float f[VW], wv[VW];
            v[k].get(f);
            if (w) load_w<W, VW>(w + (size_t)i * VW, wv);
            else {
#pragma unroll
                for (int j = 0; j < VW; j++) wv[j] = 1.0f;
            }
#pragma unroll
            for (int j = 0; j < VW; j++) f[j] = f[j] * r * wv[j];
            store_vec<T, VW>(yr + (size_t)i * VW, f);
        }
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        XVec<T, VW> u;
        u.load(xr + (size_t)i * VW);
        float f[VW], wv[VW];
        u.get(f);
        if (w) load_w<W, VW>(w + (size_t)i * VW, wv);
        else {
#pragma unroll
            for (int j = 0; j < VW; j++) wv[j] = 1.0f;
        }
#pragma unroll
        for (int j = 0; j < VW; j++) f[j] = f[j] * r * wv[j];
        store_vec<T, VW>(yr + (size_t)i * VW, f);
    }
}

/* With programmatic dependent launch (sm_90+), this kernel may start while
   the previous one still runs: wait for it before touching memory. */
__device__ __forceinline__ void wait_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();
    cudaTriggerProgrammaticLaunchCompletion();
#endif
}

template <typename T, typename W, int VW, int NV>
__global__ void __launch_bounds__(32 * WARP_ROWS) norm_warp_kernel(const NormArgs a) {
    wait_prior_grid();
    const long long row = (long long)blockIdx.x * WARP_ROWS + (threadIdx.x >> 5);
    if (row >= a.rows) return; /* whole warps leave: the shuffles stay full-warp */
    const size_t off = (size_t)row * (size_t)a.dim;
    norm_row<T, W, VW, NV>(a, static_cast<const T *>(a.x) + off, static_cast<T *>(a.y) + off, threadIdx.x & 31, 32,
                       WarpReduce());
}

template <typename T, typename W, int VW, int NV>
__global__ void __launch_bounds__(1024) norm_block_kernel(const NormArgs a) {
    wait_prior_grid();
    const size_t off = (size_t)blockIdx.x * (size_t)a.dim;
    norm_row<T, W, VW, NV>(a, static_cast<const T *>(a.x) + off, static_cast<T *>(a.y) + off, (int)threadIdx.x,
                       (int)blockDim.x, BlockReduce());
}

int launch(void (*k)(const NormArgs), unsigned grid, unsigned block, const NormArgs &a, cudaStream_t st, bool pdl) {
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
    MLXN_CK_LAUNCH("norm");
    return MLXN_OK;
}

template <typename T, typename W>
int launch_tw(NormArgs a, const char *name, cudaStream_t st, bool pdl) {
    constexpr int VW = 16 / (int)sizeof(T);
    constexpr int NVV = nv_of(VW), NVS = nv_of(1);
    const uintptr_t addr = (uintptr_t)a.x | (uintptr_t)a.y | (uintptr_t)a.w;
    const bool vec = addr % 16 == 0 && a.dim % VW == 0;
    a.nvec = vec ? a.dim / VW : a.dim;
    if (a.dim <= WARP_MAX_DIM) {
        const long long blocks = (a.rows + WARP_ROWS - 1) / WARP_ROWS;
        if (blocks > INT_MAX)
            return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld rows exceed the CUDA grid limit (%lld)", name,
                                      a.rows, (long long)INT_MAX * WARP_ROWS);
        void (*k)(const NormArgs) = !vec                      ? norm_warp_kernel<T, W, 1, NVS>
                                    : a.nvec <= 32 * NV_SHORT ? norm_warp_kernel<T, W, VW, NV_SHORT>
                                                              : norm_warp_kernel<T, W, VW, NVV>;
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
    return launch(vec ? norm_block_kernel<T, W, VW, NVV> : norm_block_kernel<T, W, 1, NVS>, (unsigned)a.rows,
                  (unsigned)threads, a, st, pdl);
}

int run(void *dev, void *enc, const mlxn_op_call *c, const void *w, bool rms) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const mlxn_norm_plan &np = c->u.norm;
    if (np.dim > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dim (%lld) exceeds the CUDA kernels' limit (%d)", c->name,
                                  (long long)np.dim, INT_MAX);
    NormArgs a;
    a.x = c->args[0].ptr;
    a.y = c->args[2].ptr;
    a.w = w;
    a.rows = np.rows;
    a.dim = (int)np.dim;
    a.nvec = 0;
    a.div = rms ? (float)np.dim : 1.0f;
    a.eps = np.eps;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = ((const mlxn_cuda_dev *)dev)->pdl != 0;
    const bool wf32 = w && np.w_dtype == MLXN_F32;
    switch (np.dtype) {
    case MLXN_F32: return launch_tw<float, float>(a, c->name, st, pdl);
    case MLXN_F16:
        return wf32 ? launch_tw<__half, float>(a, c->name, st, pdl) : launch_tw<__half, __half>(a, c->name, st, pdl);
    case MLXN_BF16:
        return wf32 ? launch_tw<__nv_bfloat16, float>(a, c->name, st, pdl)
                    : launch_tw<__nv_bfloat16, __nv_bfloat16>(a, c->name, st, pdl);
    default:
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cuda backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)np.dtype));
    }
}

} // namespace

extern "C" int mlxn_cuda_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    return run(dev, enc, c, c->args[1].ptr, true);
}

extern "C" int mlxn_cuda_l2_norm(void *dev, void *enc, const mlxn_op_call *c) {
    return run(dev, enc, c, nullptr, false);
}
