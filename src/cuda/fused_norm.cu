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
#include <stdlib.h>

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

/* ==== [fused_norm2] rms_norm_mul (3 variants), triple norms, MoE weighted-sum
   norms, head_norm_rope. Argument orders and plan slots: src/ops/fused_norm.c;
   semantics: include/mlxn.h. The CPU kernels (src/cpu/fused_norm.c) compute
   the same f32 values in the same order up to fma contraction.

   Row ops (rms_norm_mul, triple, MoE): the structure of fused_row above —
   warp per row for dim <= 1024 (8 rows per 256-thread block), else a block
   per row (128..1024 threads); each thread keeps NV vectors of the operand
   being normalized in registers and re-reads anything beyond them
   (rms_norm_mul with a full multiplier: also the multiplier's NV vectors,
   loaded before the reduction, NV halved). Row tensors use 16-byte vectors when every row tensor is 16-byte aligned and
   dim is a multiple of the vector width, else scalars. Weights, column and
   scalar multipliers are small, cached, and read element by element through
   their runtime dtype (so an f32 weight can meet a bf16 row and w_post and
   w3 may differ). Kernels with two sums (post_attn_triple_norm, the double
   MoE norm) use two block reductions with separate shared arrays, so the
   second never overwrites partials the first is still reading.

   In place (an output that is exactly an input view, see src/ops): every
   element is read by the thread that later writes it, and every thread's
   reads of its elements happen before the row's (first) reduction returns,
   or again by that thread right before its write (re-read part). Values a
   later pass recomputes (a + b, the post-attention residual, the MoE sum)
   are recomputed by the same inlined code.

   head_norm_rope: grid (S, ceil(H/8)), 256 threads: the block's threads put
   the (cos, sin) of the rope_dim/2 pairs of token s in shared memory (angle
   in double, reduced mod 2 pi, then sincosf: the scheme of rope.cu), then
   warp w normalizes and rotates head 8*blockIdx.y + w. Lane l owns chunks of
   VW consecutive pairs j (elements j and j + D/2), NP chunks in registers,
   the rest re-read. The co-output is written element by element in its own
   dtype, at the natural or the [H, S, D] index. */

enum F2Op {
    F2_MUL = 0,
    F2_TRI = 1,
    F2_MOE = 2,
    F2_MOED = 3, /* the double norm */
    F2_MULP = 4  /* rms_norm_mul with a full multiplier loaded beside the row */
};

struct F2Args {
    const void *in0, *in1, *in2; /* MUL: x|a, b|res; TRI: x|h, attn; MOE: ys, res, dense */
    const void *w0, *w1;         /* MUL: w; TRI: w3, w_post; MOE: nw, w_dense           */
    const void *m;               /* MUL: the multiplier                                 */
    void *out0, *out1, *out2, *out3; /* MUL: y, sum; TRI: res, y0, y1, y2; MOE: y        */
    const float *wk;             /* MOE: [T, K]                                         */
    long long rows;
    int dim, nvec, K;
    int variant, mform, w0dt, w1dt, mdt;
    float eps;
};

/* One element of a runtime-dtype tensor as f32. */
__device__ __forceinline__ float ldx(const void *p, int dt, size_t i) {
    if (dt == MLXN_F32) return static_cast<const float *>(p)[i];
    if (dt == MLXN_F16) return __half2float(static_cast<const __half *>(p)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
}
__device__ __forceinline__ void stx(void *p, int dt, size_t i, float v) {
    if (dt == MLXN_F32) static_cast<float *>(p)[i] = v;
    else if (dt == MLXN_F16) static_cast<__half *>(p)[i] = __float2half_rn(v);
    else static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v);
}

/* VW elements i0.. of a weight-like vector (1 when absent). */
template <int VW>
__device__ __forceinline__ void ldw(const void *w, int dt, size_t i0, float *o) {
#pragma unroll
    for (int j = 0; j < VW; j++) o[j] = w ? ldx(w, dt, i0 + j) : 1.0f;
}

/* Block sum with its own shared array per SLOT (two reductions per kernel). */
template <int SLOT>
__device__ __forceinline__ float block_sum_slot(float v) {
    __shared__ float part[32];
    v = warp_sum(v);
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) part[wid] = v;
    __syncthreads();
    return warp_sum(lane < (int)(blockDim.x >> 5) ? part[lane] : 0.0f);
}
struct WarpRed2 {
    template <int SLOT>
    __device__ __forceinline__ float sum(float v) const { return warp_sum(v); }
};
struct BlockRed2 {
    template <int SLOT>
    __device__ __forceinline__ float sum(float v) const { return block_sum_slot<SLOT>(v); }
};

/* ---- rms_norm_mul ------------------------------------------------------------ */

template <typename T, int VW>
__device__ __forceinline__ void mul_load(const F2Args &a, size_t off, int i, float *v) {
    load_vec<T, VW>(static_cast<const T *>(a.in0) + off + (size_t)i * VW, v);
    if (a.variant == 1) {
        float b[VW];
        load_vec<T, VW>(static_cast<const T *>(a.in1) + off + (size_t)i * VW, b);
#pragma unroll
        for (int j = 0; j < VW; j++) v[j] = v[j] + b[j];
    }
}

template <typename T, int VW>
__device__ __forceinline__ void mul_emit(const F2Args &a, size_t off, int i, const float *v, float r, float m0,
                                         const float *mpre = nullptr) {
    const size_t e0 = (size_t)i * VW;
    float w[VW], o[VW];
    ldw<VW>(a.w0, a.w0dt, e0, w);
#pragma unroll
    for (int j = 0; j < VW; j++) o[j] = v[j] * r * w[j];
    if (a.variant == 2) {
        float res[VW];
        load_vec<T, VW>(static_cast<const T *>(a.in1) + off + e0, res);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = res[j] + o[j];
    }
    float m[VW];
    if (mpre) {
#pragma unroll
        for (int j = 0; j < VW; j++) m[j] = mpre[j];
    } else if (a.mform == 0) load_vec<T, VW>(static_cast<const T *>(a.m) + off + e0, m);
    else if (a.mform == 1) ldw<VW>(a.m, a.mdt, e0, m);
    else {
#pragma unroll
        for (int j = 0; j < VW; j++) m[j] = m0;
    }
#pragma unroll
    for (int j = 0; j < VW; j++) o[j] = o[j] * m[j];
    if (a.out1) store_vec<T, VW>(static_cast<T *>(a.out1) + off + e0, v);
    store_vec<T, VW>(static_cast<T *>(a.out0) + off + e0, o);
}

/* MP (a full multiplier, mform 0): the multiplier's vectors of the register
   part are loaded right after the row's, so both streams are in flight
   before the reduction instead of m only after it. */
template <typename T, int VW, int NV, bool MP, typename Red>
__device__ __forceinline__ void mul_row(const F2Args &a, long long row, int t, int nt, Red red) {
    const size_t off = (size_t)row * (size_t)a.dim;
    const int nvec = a.nvec;
    float v[NV][VW], mv[MP ? NV : 1][VW];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) mul_load<T, VW>(a, off, i, v[k]);
    }
    if constexpr (MP) {
#pragma unroll
        for (int k = 0; k < NV; k++) {
            const int i = t + k * nt;
            if (i < nvec) load_vec<T, VW>(static_cast<const T *>(a.m) + off + (size_t)i * VW, mv[k]);
        }
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
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW];
        mul_load<T, VW>(a, off, i, u);
#pragma unroll
        for (int j = 0; j < VW; j++) ss = fmaf(u[j], u[j], ss);
    }
    ss = red.template sum<0>(ss);
    const float r = rsqrtf(ss / (float)a.dim + a.eps);
    const float m0 = a.mform == 2 ? ldx(a.m, a.mdt, 0) : 0.0f;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) mul_emit<T, VW>(a, off, i, v[k], r, m0, MP ? mv[MP ? k : 0] : nullptr);
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW];
        mul_load<T, VW>(a, off, i, u);
        mul_emit<T, VW>(a, off, i, u, r, m0);
    }
}

/* ---- triple_norm, post_attn_triple_norm -------------------------------------- */

/* post: r = h + attn * ra * w_post for vector i, from attn already in v */
template <typename T, int VW>
__device__ __forceinline__ void tri_post(const F2Args &a, size_t off, int i, float *v, float ra) {
    float h[VW], wp[VW];
    load_vec<T, VW>(static_cast<const T *>(a.in0) + off + (size_t)i * VW, h);
    ldw<VW>(a.w1, a.w1dt, (size_t)i * VW, wp);
#pragma unroll
    for (int j = 0; j < VW; j++) v[j] = h[j] + v[j] * ra * wp[j];
}

template <typename T, int VW>
__device__ __forceinline__ void tri_emit(const F2Args &a, size_t off, int i, const float *v, float r) {
    const size_t e0 = (size_t)i * VW;
    /* v is in registers: an output that is exactly x, h or attn may be
       stored before the others are computed */
    if (a.out0) store_vec<T, VW>(static_cast<T *>(a.out0) + off + e0, v);
    T *const outs[3] = {static_cast<T *>(a.out1), static_cast<T *>(a.out2), static_cast<T *>(a.out3)};
#pragma unroll
    for (int q = 0; q < 3; q++) {
        float o[VW], w[VW];
        ldw<VW>(a.w0, a.w0dt, (size_t)q * (size_t)a.dim + e0, w);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = v[j] * r * w[j];
        store_vec<T, VW>(outs[q] + off + e0, o);
    }
}

template <typename T, int VW, int NV, typename Red>
__device__ __forceinline__ void tri_row(const F2Args &a, long long row, int t, int nt, Red red) {
    const size_t off = (size_t)row * (size_t)a.dim;
    const int nvec = a.nvec;
    const bool post = a.variant == 1;
    const T *first = static_cast<const T *>(post ? a.in1 : a.in0); /* attn or x */
    float v[NV][VW];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) load_vec<T, VW>(first + off + (size_t)i * VW, v[k]);
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
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW];
        load_vec<T, VW>(first + off + (size_t)i * VW, u);
#pragma unroll
        for (int j = 0; j < VW; j++) ss = fmaf(u[j], u[j], ss);
    }
    ss = red.template sum<0>(ss);
    float r = rsqrtf(ss / (float)a.dim + a.eps);
    float ra = 0.0f;
    if (post) { /* uniform across the block */
        ra = r;
        ss = 0.0f;
#pragma unroll
        for (int k = 0; k < NV; k++) {
            const int i = t + k * nt;
            if (i < nvec) {
                tri_post<T, VW>(a, off, i, v[k], ra);
#pragma unroll
                for (int j = 0; j < VW; j++) ss = fmaf(v[k][j], v[k][j], ss);
            }
        }
        for (int i = t + NV * nt; i < nvec; i += nt) {
            float u[VW];
            load_vec<T, VW>(first + off + (size_t)i * VW, u);
            tri_post<T, VW>(a, off, i, u, ra);
#pragma unroll
            for (int j = 0; j < VW; j++) ss = fmaf(u[j], u[j], ss);
        }
        ss = red.template sum<1>(ss);
        r = rsqrtf(ss / (float)a.dim + a.eps);
    }
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) tri_emit<T, VW>(a, off, i, v[k], r);
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW];
        load_vec<T, VW>(first + off + (size_t)i * VW, u);
        if (post) tri_post<T, VW>(a, off, i, u, ra);
        tri_emit<T, VW>(a, off, i, u, r);
    }
}

/* ---- moe_wsum_norm_add, moe_wsum_dnorm_add ------------------------------------- */

template <typename T, int VW>
__device__ __forceinline__ void moe_v(const F2Args &a, long long row, int i, float *v) {
    const T *ys = static_cast<const T *>(a.in0);
    const float *wk = a.wk + (size_t)row * (size_t)a.K;
#pragma unroll
    for (int j = 0; j < VW; j++) v[j] = 0.0f;
    for (int k = 0; k < a.K; k++) {
        float y[VW];
        load_vec<T, VW>(ys + ((size_t)row * (size_t)a.K + (size_t)k) * (size_t)a.dim + (size_t)i * VW, y);
        const float wv = wk[k];
#pragma unroll
        for (int j = 0; j < VW; j++) v[j] = v[j] + y[j] * wv;
    }
}

template <bool DN, typename T, int VW>
__device__ __forceinline__ void moe_emit(const F2Args &a, size_t off, int i, const float *v, const float *d, float rv,
                                         float rd) {
    const size_t e0 = (size_t)i * VW;
    float o[VW], w[VW];
    if (a.in1) load_vec<T, VW>(static_cast<const T *>(a.in1) + off + e0, o);
    else {
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = 0.0f;
    }
    if constexpr (DN) {
        ldw<VW>(a.w1, a.w1dt, e0, w);
#pragma unroll
        for (int j = 0; j < VW; j++) o[j] = o[j] + d[j] * rd * w[j];
    }
    ldw<VW>(a.w0, a.w0dt, e0, w);
#pragma unroll
    for (int j = 0; j < VW; j++) o[j] = o[j] + v[j] * rv * w[j];
    store_vec<T, VW>(static_cast<T *>(a.out0) + off + e0, o);
}

/* DN: the double norm (dense present); without it no d registers exist */
template <bool DN, typename T, int VW, int NV, typename Red>
__device__ __forceinline__ void moe_row(const F2Args &a, long long row, int t, int nt, Red red) {
    const size_t off = (size_t)row * (size_t)a.dim;
    const int nvec = a.nvec;
    const T *dense = static_cast<const T *>(a.in2);
    float v[NV][VW], d[DN ? NV : 1][VW];
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) {
            moe_v<T, VW>(a, row, i, v[k]);
            if constexpr (DN) load_vec<T, VW>(dense + off + (size_t)i * VW, d[k]);
        }
    }
    float sv = 0.0f, sd = 0.0f;
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) {
#pragma unroll
            for (int j = 0; j < VW; j++) {
                sv = fmaf(v[k][j], v[k][j], sv);
                if constexpr (DN) sd = fmaf(d[k][j], d[k][j], sd);
            }
        }
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW], e[VW];
        moe_v<T, VW>(a, row, i, u);
#pragma unroll
        for (int j = 0; j < VW; j++) sv = fmaf(u[j], u[j], sv);
        if constexpr (DN) {
            load_vec<T, VW>(dense + off + (size_t)i * VW, e);
#pragma unroll
            for (int j = 0; j < VW; j++) sd = fmaf(e[j], e[j], sd);
        }
    }
    sv = red.template sum<0>(sv);
    const float rv = rsqrtf(sv / (float)a.dim + a.eps);
    float rd = 0.0f;
    if constexpr (DN) {
        sd = red.template sum<1>(sd);
        rd = rsqrtf(sd / (float)a.dim + a.eps);
    }
#pragma unroll
    for (int k = 0; k < NV; k++) {
        const int i = t + k * nt;
        if (i < nvec) moe_emit<DN, T, VW>(a, off, i, v[k], d[DN ? k : 0], rv, rd);
    }
    for (int i = t + NV * nt; i < nvec; i += nt) {
        float u[VW], e[VW];
        moe_v<T, VW>(a, row, i, u);
        if constexpr (DN) load_vec<T, VW>(dense + off + (size_t)i * VW, e);
        moe_emit<DN, T, VW>(a, off, i, u, e, rv, rd);
    }
}

/* ---- kernels and launch ------------------------------------------------------------ */

template <int OP, typename T, int VW, int NV, typename Red>
__device__ __forceinline__ void f2_row(const F2Args &a, long long row, int t, int nt, Red red) {
    if constexpr (OP == F2_MUL || OP == F2_MULP) mul_row<T, VW, NV, OP == F2_MULP>(a, row, t, nt, red);
    else if constexpr (OP == F2_TRI) tri_row<T, VW, NV>(a, row, t, nt, red);
    else moe_row<OP == F2_MOED, T, VW, NV>(a, row, t, nt, red);
}

template <int OP, typename T, int VW, int NV>
__global__ void __launch_bounds__(32 * WARP_ROWS) f2_warp_kernel(const F2Args a) {
    wait_prior_grid();
    const long long row = (long long)blockIdx.x * WARP_ROWS + (threadIdx.x >> 5);
    if (row >= a.rows) return; /* whole warps leave: the shuffles stay full-warp */
    f2_row<OP, T, VW, NV>(a, row, threadIdx.x & 31, 32, WarpRed2());
}

template <int OP, typename T, int VW, int NV>
__global__ void __launch_bounds__(1024) f2_block_kernel(const F2Args a) {
    wait_prior_grid();
    f2_row<OP, T, VW, NV>(a, (long long)blockIdx.x, (int)threadIdx.x, (int)blockDim.x, BlockRed2());
}

template <typename A>
int launch_any(void (*k)(const A), dim3 grid, unsigned block, size_t smem, const A &a, cudaStream_t st, bool pdl) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = dim3(block);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    MLXN_CK(cudaLaunchKernelEx(&cfg, k, a));
    MLXN_CK_LAUNCH("fused_norm2");
    return MLXN_OK;
}

/* NV: vectors per thread kept in registers: the budget of fused_row (32
   floats) divided by the op's other live state (measured with ptxas -v for
   the 64-register cap of 1024-thread blocks: the triple norm's three
   outputs and the MoE sum's loop need half of it, the double MoE norm holds
   two operands). */
template <int OP>
constexpr int nv_div() { return OP == F2_MUL ? 1 : OP == F2_MOED ? 4 : 2; /* MULP: x and m, so 2 */ }

template <int OP, typename T>
int f2_launch(F2Args a, const char *name, bool vec, cudaStream_t st, bool pdl) {
    constexpr int VW = 16 / (int)sizeof(T);
    constexpr int NVV = nv_of(VW) / nv_div<OP>() > 0 ? nv_of(VW) / nv_div<OP>() : 1;
    constexpr int NVS = nv_of(1) / nv_div<OP>() > 0 ? nv_of(1) / nv_div<OP>() : 1;
    a.nvec = vec ? a.dim / VW : a.dim;
    const int nv = vec ? NVV : NVS;
    if (a.dim <= WARP_MAX_DIM) {
        const long long blocks = (a.rows + WARP_ROWS - 1) / WARP_ROWS;
        if (blocks > INT_MAX)
            return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld rows exceed the CUDA grid limit (%lld)", name,
                                      a.rows, (long long)INT_MAX * WARP_ROWS);
        void (*k)(const F2Args) = vec ? f2_warp_kernel<OP, T, VW, NVV> : f2_warp_kernel<OP, T, 1, NVS>;
        return launch_any(k, dim3((unsigned)blocks), 32 * WARP_ROWS, 0, a, st, pdl);
    }
    if (a.rows > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld rows exceed the CUDA grid limit (%d)", name, a.rows,
                                  INT_MAX);
    long long threads = ((long long)(a.nvec + nv - 1) / nv + 31) / 32 * 32;
    if (threads < 128) threads = 128;
    if (threads > 1024) threads = 1024;
    void (*k)(const F2Args) = vec ? f2_block_kernel<OP, T, VW, NVV> : f2_block_kernel<OP, T, 1, NVS>;
    return launch_any(k, dim3((unsigned)a.rows), (unsigned)threads, 0, a, st, pdl);
}

template <int OP>
int f2_run(void *dev, void *enc, const mlxn_op_call *c, F2Args a, bool aligned) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    const int64_t dim = c->u.gen.i[1];
    if (dim > INT_MAX / 2 || c->u.gen.i[2] > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dim (%lld) exceeds the CUDA kernels' limit (%d)", c->name,
                                  (long long)dim, INT_MAX / 2);
    a.rows = c->u.gen.i[0];
    a.dim = (int)dim;
    a.eps = c->u.gen.f[0];
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = ((const mlxn_cuda_dev *)dev)->pdl != 0;
    const int dtype = (int)c->u.gen.d[0];
    const int vw = dtype == MLXN_F32 ? 4 : 8;
    const bool vec = aligned && a.dim % vw == 0;
    switch (dtype) {
    case MLXN_F32: return f2_launch<OP, float>(a, c->name, vec, st, pdl);
    case MLXN_F16: return f2_launch<OP, __half>(a, c->name, vec, st, pdl);
    case MLXN_BF16: return f2_launch<OP, __nv_bfloat16>(a, c->name, vec, st, pdl);
    default:
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cuda backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)dtype));
    }
}

inline bool al16(const void *p) { return (uintptr_t)p % 16 == 0; }

/* ---- head_norm_rope ------------------------------------------------------------------- */

constexpr int HNR_WARPS = 8; /* heads per block */

struct HArgs {
    const void *x, *w, *pos;
    const float *ff;
    void *y, *co;
    long long S;
    int H, D, half, np; /* np: rotated pairs (rope_dim/2) */
    int wdt, codt, perm, pos_u;
    float eps;
    double log2_base;
};

template <typename T, int VW> struct Vec2;
template <typename T> struct Vec2<T, 1> {
    __device__ static void ld(const T *p, float *o) { o[0] = tof(*p); }
    __device__ static void st(T *p, const float *v) { st1(p, v[0]); }
};
template <> struct Vec2<float, 2> {
    __device__ static void ld(const float *p, float *o) { const float2 q = *reinterpret_cast<const float2 *>(p); o[0] = q.x; o[1] = q.y; }
    __device__ static void st(float *p, const float *v) { *reinterpret_cast<float2 *>(p) = make_float2(v[0], v[1]); }
};
template <> struct Vec2<__half, 2> {
    __device__ static void ld(const __half *p, float *o) { const float2 f = __half22float2(*reinterpret_cast<const __half2 *>(p)); o[0] = f.x; o[1] = f.y; }
    __device__ static void st(__half *p, const float *v) { *reinterpret_cast<__half2 *>(p) = __floats2half2_rn(v[0], v[1]); }
};
template <> struct Vec2<__nv_bfloat16, 2> {
    __device__ static void ld(const __nv_bfloat16 *p, float *o) { const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(p)); o[0] = f.x; o[1] = f.y; }
    __device__ static void st(__nv_bfloat16 *p, const float *v) { *reinterpret_cast<__nv_bfloat162 *>(p) = __floats2bfloat162_rn(v[0], v[1]); }
};

/* Chunk c of a head row: pairs j = c*VW .. +VW, elements j.. (lo) and half + j.. (hi). */
template <typename T, int VW>
__device__ __forceinline__ void hnr_load(const T *xr, int half, int c, float *lo, float *hi) {
    Vec2<T, VW>::ld(xr + (size_t)c * VW, lo);
    Vec2<T, VW>::ld(xr + (size_t)half + (size_t)c * VW, hi);
}

template <typename T, int VW>
__device__ __forceinline__ void hnr_emit(const HArgs &a, const float2 *cs, T *yr, size_t co_base, int c, float *lo,
                                         float *hi, float r) {
    const int j0 = c * VW;
#pragma unroll
    for (int q = 0; q < VW; q++) {
        const int j = j0 + q;
        const float wl = a.w ? ldx(a.w, a.wdt, (size_t)j) : 1.0f;
        const float wh = a.w ? ldx(a.w, a.wdt, (size_t)(a.half + j)) : 1.0f;
        const float n0 = lo[q] * r * wl, n1 = hi[q] * r * wh;
        if (j < a.np) {
            const float2 t = cs[j];
            lo[q] = n0 * t.x - n1 * t.y;
            hi[q] = n0 * t.y + n1 * t.x;
        } else {
            lo[q] = n0;
            hi[q] = n1;
        }
    }
    Vec2<T, VW>::st(yr + j0, lo);
    Vec2<T, VW>::st(yr + a.half + j0, hi);
    if (a.co) {
#pragma unroll
        for (int q = 0; q < VW; q++) {
            stx(a.co, a.codt, co_base + (size_t)(j0 + q), lo[q]);
            stx(a.co, a.codt, co_base + (size_t)(a.half + j0 + q), hi[q]);
        }
    }
}

template <typename T, int VW, int NP>
__global__ void __launch_bounds__(32 * HNR_WARPS) hnr_kernel(const HArgs a) {
    extern __shared__ float2 cs[]; /* (cos, sin) of the token's rotated pairs */
    const long long s = blockIdx.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    wait_prior_grid(); /* positions and freq factors may come from the previous kernel */
    if (a.np > 0) {
        const double pv = a.pos_u ? (double)static_cast<const unsigned *>(a.pos)[s]
                                  : (double)static_cast<const int *>(a.pos)[s];
        for (int p = threadIdx.x; p < a.np; p += blockDim.x) {
            double coef = exp2(-a.log2_base * (2.0 * (double)p / (double)a.D));
            if (a.ff) coef /= (double)a.ff[p];
            const double th = pv * coef;
            const double k = rint(th * 0.15915494309189535); /* 1/(2 pi) */
            double rr = fma(-k, 6.283185307179586, th);       /* 2 pi, hi */
            rr = fma(-k, 2.4492935982947064e-16, rr);         /* 2 pi, lo */
            float sn, cn;
            sincosf((float)rr, &sn, &cn);
            cs[p] = make_float2(cn, sn);
        }
    }
    __syncthreads();
    const int h = (int)blockIdx.y * HNR_WARPS + warp;
    if (h >= a.H) return; /* after the barrier: whole warps leave */
    const size_t row = (size_t)s * (size_t)a.H + (size_t)h;
    const T *xr = static_cast<const T *>(a.x) + row * (size_t)a.D;
    T *yr = static_cast<T *>(a.y) + row * (size_t)a.D;
    const size_t co_base = a.perm ? ((size_t)h * (size_t)a.S + (size_t)s) * (size_t)a.D : row * (size_t)a.D;
    const int nch = a.half / VW;
    float lo[NP][VW], hi[NP][VW];
#pragma unroll
    for (int k = 0; k < NP; k++) {
        const int c = lane + 32 * k;
        if (c < nch) hnr_load<T, VW>(xr, a.half, c, lo[k], hi[k]);
    }
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < NP; k++) {
        const int c = lane + 32 * k;
        if (c < nch) {
#pragma unroll
            for (int q = 0; q < VW; q++) ss = fmaf(hi[k][q], hi[k][q], fmaf(lo[k][q], lo[k][q], ss));
        }
    }
    for (int c = lane + 32 * NP; c < nch; c += 32) {
        float l2[VW], h2[VW];
        hnr_load<T, VW>(xr, a.half, c, l2, h2);
#pragma unroll
        for (int q = 0; q < VW; q++) ss = fmaf(h2[q], h2[q], fmaf(l2[q], l2[q], ss));
    }
    ss = warp_sum(ss);
    const float r = rsqrtf(ss / (float)a.D + a.eps);
#pragma unroll
    for (int k = 0; k < NP; k++) {
        const int c = lane + 32 * k;
        if (c < nch) hnr_emit<T, VW>(a, cs, yr, co_base, c, lo[k], hi[k], r);
    }
    for (int c = lane + 32 * NP; c < nch; c += 32) {
        float l2[VW], h2[VW];
        hnr_load<T, VW>(xr, a.half, c, l2, h2);
        hnr_emit<T, VW>(a, cs, yr, co_base, c, l2, h2, r);
    }
}

template <typename T>
int hnr_launch(const HArgs &a, bool vec2, cudaStream_t st, bool pdl, const char *name) {
    const long long gy = (a.H + HNR_WARPS - 1) / HNR_WARPS;
    if (a.S > INT_MAX || gy > 65535)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld tokens x %d heads exceed the CUDA grid limits", name,
                                  a.S, a.H);
    const size_t smem = sizeof(float2) * (size_t)(a.np > 0 ? a.np : 1);
    const dim3 grid((unsigned)a.S, (unsigned)gy);
    return vec2 ? launch_any(hnr_kernel<T, 2, 8>, grid, 32 * HNR_WARPS, smem, a, st, pdl)
                : launch_any(hnr_kernel<T, 1, 16>, grid, 32 * HNR_WARPS, smem, a, st, pdl);
}

} // namespace

/* [fused_norm2] entry points */
extern "C" int mlxn_cuda_rms_norm_mul(void *dev, void *enc, const mlxn_op_call *c) {
    F2Args a = {};
    a.in0 = c->args[0].ptr;
    a.in1 = c->args[1].ptr;
    a.w0 = c->args[2].ptr;
    a.m = c->args[3].ptr;
    a.out0 = c->args[4].ptr;
    a.out1 = c->args[5].ptr;
    a.variant = (int)c->u.gen.d[3];
    a.mform = (int)c->u.gen.i[2];
    a.w0dt = (int)c->u.gen.d[1];
    a.mdt = (int)c->u.gen.d[2];
    const bool aligned = al16(a.in0) && al16(a.in1) && al16(a.out0) && al16(a.out1) && (a.mform != 0 || al16(a.m));
    static const bool mp_env = [] { /* MLXN_CUDA_NORM_MUL_MP=0: kernel-lab switch */
        const char *e = getenv("MLXN_CUDA_NORM_MUL_MP");
        return !(e && e[0] == '0');
    }();
    if (a.mform == 0 && mp_env) return f2_run<F2_MULP>(dev, enc, c, a, aligned);
    return f2_run<F2_MUL>(dev, enc, c, a, aligned);
}

extern "C" int mlxn_cuda_triple_norm(void *dev, void *enc, const mlxn_op_call *c) {
    F2Args a = {};
    a.in0 = c->args[0].ptr;
    a.in1 = c->args[1].ptr;
    a.w1 = c->args[2].ptr;
    a.w0 = c->args[3].ptr;
    a.out0 = c->args[4].ptr;
    a.out1 = c->args[5].ptr;
    a.out2 = c->args[6].ptr;
    a.out3 = c->args[7].ptr;
    a.variant = (int)c->u.gen.d[3];
    a.w0dt = (int)c->u.gen.d[1];
    a.w1dt = (int)c->u.gen.d[2];
    const bool aligned = al16(a.in0) && al16(a.in1) && al16(a.out0) && al16(a.out1) && al16(a.out2) && al16(a.out3);
    return f2_run<F2_TRI>(dev, enc, c, a, aligned);
}

extern "C" int mlxn_cuda_moe_wsum_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    F2Args a = {};
    a.in0 = c->args[0].ptr;
    a.wk = static_cast<const float *>(c->args[1].ptr);
    a.in1 = c->args[2].ptr;
    a.w0 = c->args[3].ptr;
    a.out0 = c->args[4].ptr;
    a.in2 = c->args[5].ptr;
    a.w1 = c->args[6].ptr;
    a.K = (int)c->u.gen.i[2];
    a.w0dt = (int)c->u.gen.d[1];
    a.w1dt = (int)c->u.gen.d[2];
    const bool aligned = al16(a.in0) && al16(a.in1) && al16(a.in2) && al16(a.out0);
    return a.in2 ? f2_run<F2_MOED>(dev, enc, c, a, aligned) : f2_run<F2_MOE>(dev, enc, c, a, aligned);
}

extern "C" int mlxn_cuda_head_norm_rope(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    HArgs a = {};
    a.x = c->args[0].ptr;
    a.w = c->args[1].ptr;
    a.pos = c->args[2].ptr;
    a.ff = static_cast<const float *>(c->args[3].ptr);
    a.y = c->args[4].ptr;
    a.co = c->args[5].ptr;
    a.S = c->u.gen.i[0];
    if (c->u.gen.i[1] > INT_MAX)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld heads exceed the CUDA grid limits", c->name,
                                  (long long)c->u.gen.i[1]);
    a.H = (int)c->u.gen.i[1];
    a.D = (int)c->u.gen.i[2];
    a.half = a.D / 2;
    a.np = (int)(c->u.gen.i[3] / 2);
    a.perm = (int)c->u.gen.i[4];
    a.pos_u = (int)c->u.gen.i[5];
    a.wdt = (int)c->u.gen.d[1];
    a.codt = (int)c->u.gen.d[2];
    a.eps = c->u.gen.f[0];
    a.log2_base = log2((double)c->u.gen.f[1]);
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    const bool pdl = ((const mlxn_cuda_dev *)dev)->pdl != 0;
    const int dtype = (int)c->u.gen.d[0];
    const size_t es = dtype == MLXN_F32 ? 4 : 2;
    const bool vec2 = a.half % 2 == 0 && (uintptr_t)a.x % (2 * es) == 0 && (uintptr_t)a.y % (2 * es) == 0;
    switch (dtype) {
    case MLXN_F32: return hnr_launch<float>(a, vec2, st, pdl, c->name);
    case MLXN_F16: return hnr_launch<__half>(a, vec2, st, pdl, c->name);
    case MLXN_BF16: return hnr_launch<__nv_bfloat16>(a, vec2, st, pdl, c->name);
    default:
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the cuda backend", c->name,
                                  mlxn_dtype_name((mlxn_dtype)dtype));
    }
}

extern "C" int mlxn_cuda_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_ADD>(dev, enc, c);
}

extern "C" int mlxn_cuda_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_NADD>(dev, enc, c);
}

extern "C" int mlxn_cuda_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c) {
    return run_op<OP_GATE>(dev, enc, c);
}
