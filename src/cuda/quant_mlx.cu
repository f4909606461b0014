// quant_mlx.cu — dequantize_mlx and gather_mlx (plans and argument order:
// src/ops/quant_mlx.c; formats and arithmetic: include/mlxn.h "Quantized
// formats: MLX").
//
// Work is split into items of E output elements, one 16-byte store each:
// E = 8 for f16/bf16 y, E = 4 for f32 y. Item i's codes are the IB = E*bits
// consecutive bits of the packed stream at bit i*IB (8 codes fill exactly
// `bits` bytes, so an item never shares bits with another), and they lie in
// at most two u32 words: word (i*IB)/32 and, only when the item's bits run
// past it, the next one (that word then holds bits of this item, so it is in
// bounds). Lane l of a warp writes the l-th 16 bytes of the warp's 512-byte
// span, for f32 too (there an item is half an 8-code unit: lanes 2m and 2m+1
// read the same words and take their own half).
//
// A block of kThreads threads takes a tile of kThreads * kk consecutive
// items; thread t handles items t + k*kThreads, k < kk (kk = kItems = 8 once
// the op has items for two such blocks per SM, fewer on smaller ops). It
// issues the loads of all of them first (packed words, scales, biases), then
// decodes and stores them. In a full tile of dequantize_mlx every item of a
// thread sits at the same bit phase (kThreads*IB is a multiple of 32), so
// the word addresses are one base plus compile-time offsets, the scale
// addresses one base plus a uniform stride, and there is no per-item index
// arithmetic; the last (partial) tile and every gather tile take the general
// per-item path with bounds checks (gather: the row of an item through a
// 64-bit multiply-shift division by the items per row, no divide routine).
// One tile per block, ceil(items / tile) blocks (at most 2^24, then blocks
// stride), indices 64-bit throughout; launched with PDL like the other
// kernels (launch.cuh); at most 64 registers a thread (4 blocks, 32 warps
// an SM, no spills). With y not 16-byte aligned the results go out element
// by element.
//
// The arithmetic is the CPU backend's, operation for operation, with the
// rounding intrinsics that forbid contraction into an fma:
//   affine  __fadd_rn(__fmul_rn(q, s), b)   (q as float through the exact
//           2^23 magic: float(0x4B000000 | q) - 2^23 == q for q < 2^23)
//   fp      __fmul_rn(value, scale)  (nvfp4 scale: __fmul_rn(e4m3, g/2688))
//   gather  __fmul_rn(r, mult) when mult != 1; an out-of-range id gives +0
// then one __float2half_rn / __float2bfloat16_rn for 16-bit outputs. The E2M1
// and E4M3 values are built as f32 bit patterns scaled by an exact power of
// two (their subnormals come out of the f32 subnormal range exactly; no
// flush-to-zero in this build).
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;
constexpr int kItems = 8; /* items per thread per tile */
constexpr int64_t kMaxBlocks = (int64_t)1 << 24;

enum { M_AFFINE = 0, M_MXFP4 = 1, M_MXFP8 = 2, M_NVFP4 = 3 };

/* E2M1 code n (4 bits): its magnitude bits placed as an f32 exponent/mantissa
   (exponent field e, mantissa bit m) times 2^126 is 2^(e-1)(1+m/2), or m/2
   for e = 0 (an f32 subnormal scaled exactly); the sign bit rides along. */
__device__ __forceinline__ float e2m1(uint32_t n) {
    return __fmul_rn(__uint_as_float(((n & 7u) << 22) | ((n & 8u) << 28)), 0x1p126f);
}

/* E4M3 (OCP E4M3FN, as MLX's from_fp8): no infinities, 0x7F/0xFF NaN. The
   same construction: exponent/mantissa bits as f32 times 2^120. */
__device__ __forceinline__ float e4m3(uint32_t v) {
    const uint32_t m7 = v & 0x7Fu;
    const float a = __fmul_rn(__uint_as_float((m7 << 20) | ((v & 0x80u) << 24)), 0x1p120f);
    return m7 == 0x7Fu ? __uint_as_float(0x7FC00000u) : a;
}

/* E8M0: 2^(s-127); 0 -> 2^-127, 255 -> +inf */
__device__ __forceinline__ float e8m0(uint32_t s) { return __uint_as_float(s ? s << 23 : 0x00400000u); }

/* exact float of a code q < 2^23 without the conversion unit */
__device__ __forceinline__ float qf(uint32_t q) { return __fsub_rn(__uint_as_float(q | 0x4B000000u), 8388608.0f); }

__device__ __forceinline__ void st1(float *p, float v) { *p = v; }
__device__ __forceinline__ void st1(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void st1(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* one item's results -> 16-byte aligned y */
__device__ __forceinline__ void st16(float *p, const float (&v)[4]) {
    *reinterpret_cast<uint4 *>(p) =
        make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
}
__device__ __forceinline__ void st16(__half *p, const float (&v)[8]) {
    uint4 q;
    __half2 *h = reinterpret_cast<__half2 *>(&q);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4 *>(p) = q;
}
__device__ __forceinline__ void st16(__nv_bfloat16 *p, const float (&v)[8]) {
    uint4 q;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&q);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4 *>(p) = q;
}

struct Args {
    const uint32_t *w;
    const void *scales;  /* affine: f32/f16/bf16; fp modes: u8 */
    const void *biases;  /* affine only */
    const uint32_t *ids; /* gather: raw i32/u32 bits; NULL for dequantize */
    int64_t items;       /* output items (E elements each) */
    int64_t tile;        /* items per block step: kThreads * kk */
    int kk;              /* items per thread per step, 1..kItems */
    int64_t ipr;         /* items per row: K / E */
    int64_t n_rows;      /* table rows (gather) */
    uint64_t ipr_m;      /* i / ipr by multiply and shift (row_of) */
    int ipr_l;
    int ids_signed;      /* gather ids are i32 */
    int gs_shift;        /* log2(group_size) */
    int s_bf16;          /* 16-bit affine scales are bf16 (else f16) */
    int vec;             /* y is 16-byte aligned */
    int has_g;           /* nvfp4 global scale present */
    float gfac;          /* its factor g / 2688 */
    float mult;          /* output multiplier, 1 = none */
};

/* Scale storage: SK bytes per scale (1: fp-mode u8, 2: f16/bf16, 4: f32). */
template <int SK> __device__ __forceinline__ uint32_t ld_raw(const void *p, int64_t g) {
    if constexpr (SK == 4) return __float_as_uint(__ldg(static_cast<const float *>(p) + g));
    else if constexpr (SK == 2) return __ldg(static_cast<const unsigned short *>(p) + g);
    else return __ldg(static_cast<const unsigned char *>(p) + g);
}

template <int MODE, int SK> __device__ __forceinline__ float scale_of(const Args &a, uint32_t raw) {
    if constexpr (MODE == M_AFFINE) {
        if constexpr (SK == 4) return __uint_as_float(raw);
        else return a.s_bf16 ? __uint_as_float(raw << 16) : __half2float(__ushort_as_half((unsigned short)raw));
    } else if constexpr (MODE == M_NVFP4) {
        const float f = e4m3(raw);
        return a.has_g ? __fmul_rn(f, a.gfac) : f;
    } else {
        return e8m0(raw);
    }
}

template <int BITS, typename TY> struct Shape {
    static constexpr int E = sizeof(TY) == 4 ? 4 : 8; /* elements per item */
    static constexpr int IB = E * BITS;               /* packed bits per item */
    static constexpr bool ONE = IB <= 32 && 32 % IB == 0; /* never crosses a word */
    static constexpr bool TWO = IB == 64;                 /* always two whole words */
    static constexpr bool PHASE0 = IB % 32 == 0;          /* items start on a word */
};

/* Decodes one item (words lo, hi; bit phase sh < 32) into r[]: raw values
   (before mult) as the contract's f32 operations give them. */
template <int MODE, int BITS, int E>
__device__ __forceinline__ void decode(uint32_t lo, uint32_t hi, uint32_t sh, float s, float b, float (&r)[E]) {
    constexpr uint32_t mask = (1u << BITS) - 1u;
    constexpr int IB = E * BITS;
    uint32_t L, H = 0;
    if constexpr (IB <= 32) {
        L = __funnelshift_r(lo, hi, sh);
    } else {
        L = __funnelshift_r(lo, hi, sh);
        H = hi >> sh;
    }
#pragma unroll
    for (int t = 0; t < E; t++) {
        const int o = t * BITS;
        uint32_t q;
        if (o + BITS <= 32) q = (L >> o) & mask;
        else if (o >= 32) q = (H >> (o - 32)) & mask;
        else q = __funnelshift_r(L, H, o) & mask;
        float x;
        if constexpr (MODE == M_AFFINE) x = __fadd_rn(__fmul_rn(qf(q), s), b);
        else if constexpr (MODE == M_MXFP8) x = __fmul_rn(e4m3(q), s);
        else x = __fmul_rn(e2m1(q), s);
        r[t] = x;
    }
}

template <typename TY, int E> __device__ __forceinline__ void put(const Args &a, TY *y, int64_t i, const float (&r)[E]) {
    TY *o = y + i * E;
    if (a.vec) {
        st16(o, r);
    } else {
#pragma unroll
        for (int t = 0; t < E; t++) st1(o + t, r[t]);
    }
}

/* A full tile of dequantize_mlx: no bounds, one bit phase per thread. */
template <int MODE, int BITS, typename TY, int SK>
__device__ __forceinline__ void tile_full(const Args &a, TY *__restrict__ y, int64_t base) {
    using S = Shape<BITS, TY>;
    constexpr int E = S::E, IB = S::IB;
    constexpr int WSTEP = kThreads * IB / 32; /* words between a thread's items */
    const int64_t i0 = base + threadIdx.x;
    const int64_t bo = i0 * IB;
    const uint32_t *wp = a.w + (bo >> 5);
    const uint32_t sh = S::PHASE0 ? 0u : (uint32_t)bo & 31u;
    const bool need = S::TWO || (!S::ONE && sh + IB > 32);
    const int kk = a.kk;
    uint32_t lo[kItems], hi[kItems], sr[kItems], br[kItems];
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        lo[k] = hi[k] = 0;
        if (k >= kk) continue;
        lo[k] = __ldg(wp + k * WSTEP);
        if constexpr (S::TWO) hi[k] = __ldg(wp + k * WSTEP + 1);
        else if constexpr (!S::ONE) {
            if (need) hi[k] = __ldg(wp + k * WSTEP + 1);
        }
    }
    const int64_t g0 = (i0 * E) >> a.gs_shift;
    const int gstep = (kThreads * E) >> a.gs_shift; /* groups between a thread's items */
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        sr[k] = br[k] = 0;
        if (k >= kk) continue;
        sr[k] = ld_raw<SK>(a.scales, g0 + (int64_t)k * gstep);
        if constexpr (MODE == M_AFFINE) br[k] = ld_raw<SK>(a.biases, g0 + (int64_t)k * gstep);
    }
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        if (k >= kk) break;
        float r[E];
        const float s = scale_of<MODE, SK>(a, sr[k]);
        const float b = MODE == M_AFFINE ? scale_of<MODE, SK>(a, br[k]) : 0.0f;
        decode<MODE, BITS, E>(lo[k], hi[k], sh, s, b, r);
        put<TY, E>(a, y, i0 + (int64_t)k * kThreads, r);
    }
}

/* item i's row: i / ipr (Granlund-Montgomery: t = mulhi(n, m),
   q = (t + ((n - t) >> 1)) >> (l - 1); l = 0 only for ipr = 1) */
__device__ __forceinline__ int64_t row_of(const Args &a, int64_t i) {
    const uint64_t n = (uint64_t)i;
    if (a.ipr_l == 0) return i;
    const uint64_t t = __umul64hi(n, a.ipr_m);
    return (int64_t)((t + ((n - t) >> 1)) >> (a.ipr_l - 1));
}

/* Any tile: bounds-checked, per-item addresses; the gather's rows. */
template <int MODE, int BITS, typename TY, int SK, bool GATHER>
__device__ __forceinline__ void tile_any(const Args &a, TY *__restrict__ y, int64_t base) {
    using S = Shape<BITS, TY>;
    constexpr int E = S::E, IB = S::IB;
    uint32_t lo[kItems], hi[kItems], sr[kItems], br[kItems], sh[kItems];
    bool ok[kItems];
    int64_t src[kItems];
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        const int64_t i = base + threadIdx.x + (int64_t)k * kThreads;
        src[k] = i;
        ok[k] = k < a.kk && i < a.items;
        if constexpr (GATHER) {
            if (ok[k]) {
                const int64_t t = row_of(a, i), j = i - t * a.ipr;
                const uint32_t raw = __ldg(a.ids + t);
                const int64_t id = a.ids_signed ? (int64_t)(int32_t)raw : (int64_t)raw;
                ok[k] = id >= 0 && id < a.n_rows;
                src[k] = id * a.ipr + j;
            }
        }
    }
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        lo[k] = hi[k] = sr[k] = br[k] = sh[k] = 0;
        if (!ok[k]) continue;
        const int64_t bo = src[k] * IB;
        const uint32_t *wp = a.w + (bo >> 5);
        sh[k] = S::PHASE0 ? 0u : (uint32_t)bo & 31u;
        lo[k] = __ldg(wp);
        if (S::TWO || (!S::ONE && sh[k] + IB > 32)) hi[k] = __ldg(wp + 1);
        const int64_t g = (src[k] * E) >> a.gs_shift;
        sr[k] = ld_raw<SK>(a.scales, g);
        if constexpr (MODE == M_AFFINE) br[k] = ld_raw<SK>(a.biases, g);
    }
#pragma unroll
    for (int k = 0; k < kItems; k++) {
        const int64_t i = base + threadIdx.x + (int64_t)k * kThreads;
        if (k >= a.kk || i >= a.items) continue;
        float r[E];
        const float s = scale_of<MODE, SK>(a, sr[k]);
        const float b = MODE == M_AFFINE ? scale_of<MODE, SK>(a, br[k]) : 0.0f;
        decode<MODE, BITS, E>(lo[k], hi[k], sh[k], s, b, r);
        if constexpr (GATHER) {
            const bool live = ok[k];
#pragma unroll
            for (int t = 0; t < E; t++) {
                float x = r[t];
                if (a.mult != 1.0f) x = __fmul_rn(x, a.mult);
                r[t] = live ? x : 0.0f;
            }
        }
        put<TY, E>(a, y, i, r);
    }
}

template <int MODE, int BITS, typename TY, int SK, bool GATHER>
__global__ void __launch_bounds__(kThreads, 4) deq_kernel(const Args a, TY *__restrict__ y) {
    pdl_enter();
    const int64_t step = (int64_t)gridDim.x * a.tile;
    for (int64_t base = (int64_t)blockIdx.x * a.tile; base < a.items; base += step) {
        if (!GATHER && base + a.tile <= a.items) tile_full<MODE, BITS, TY, SK>(a, y, base);
        else tile_any<MODE, BITS, TY, SK, GATHER>(a, y, base);
    }
}

template <int MODE, int BITS, typename TY, int SK>
int launch(const mlxn_cuda_dev *cd, cudaStream_t st, const Args &a, void *y, bool gather) {
    int64_t blocks = (a.items + a.tile - 1) / a.tile;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    if (blocks < 1) blocks = 1;
    if (gather)
        MLXN_CK(launch_k(deq_kernel<MODE, BITS, TY, SK, true>, dim3((unsigned)blocks), dim3(kThreads), 0, st,
                         pdl_on(cd), a, static_cast<TY *>(y)));
    else
        MLXN_CK(launch_k(deq_kernel<MODE, BITS, TY, SK, false>, dim3((unsigned)blocks), dim3(kThreads), 0, st,
                         pdl_on(cd), a, static_cast<TY *>(y)));
    return MLXN_OK;
}

template <typename TY>
int dispatch_bits(const mlxn_cuda_dev *cd, cudaStream_t st, int mode, int bits, bool s32, const Args &a, void *y,
                  bool gather) {
    switch (mode) {
    case M_MXFP4: return launch<M_MXFP4, 4, TY, 1>(cd, st, a, y, gather);
    case M_MXFP8: return launch<M_MXFP8, 8, TY, 1>(cd, st, a, y, gather);
    case M_NVFP4: return launch<M_NVFP4, 4, TY, 1>(cd, st, a, y, gather);
    default: break;
    }
#define MLXN_QM_BITS(B)                                                                     \
    case B:                                                                                 \
        return s32 ? launch<M_AFFINE, B, TY, 4>(cd, st, a, y, gather)                       \
                   : launch<M_AFFINE, B, TY, 2>(cd, st, a, y, gather);
    switch (bits) {
        MLXN_QM_BITS(2)
        MLXN_QM_BITS(3)
        MLXN_QM_BITS(4)
        MLXN_QM_BITS(5)
        MLXN_QM_BITS(6)
    default: break;
    }
#undef MLXN_QM_BITS
    return s32 ? launch<M_AFFINE, 8, TY, 4>(cd, st, a, y, gather) : launch<M_AFFINE, 8, TY, 2>(cd, st, a, y, gather);
}

/* multiply-shift constants of the division by d (1 <= d < 2^63) for 64-bit
   numerators: l = ceil(log2 d), m = floor(2^64 (2^l - d) / d) + 1 */
void fastdiv_of(uint64_t d, uint64_t *m, int *l) {
    int s = 0;
    while (((uint64_t)1 << s) < d) s++;
    *l = s;
    *m = (uint64_t)(((((unsigned __int128)1 << s) - d) << 64) / d + 1);
}

int run(void *dev, void *enc, const mlxn_op_call *c, bool gather) {
    const mlxn_cuda_dev *cd = static_cast<const mlxn_cuda_dev *>(dev);
    int s = mlxn_cuda_use(cd);
    if (s) return s;
    const cudaStream_t st = static_cast<mlxn_cuda_enc *>(enc)->stream;
    const int64_t rows = c->u.gen.i[0], K = c->u.gen.i[1];
    const int gs = c->u.gen.d[2];
    const int ydt = (int)c->u.gen.i[4];
    const int E = ydt == MLXN_F32 ? 4 : 8;
    Args a;
    a.w = static_cast<const uint32_t *>(c->args[0].ptr);
    a.scales = c->args[1].ptr;
    a.biases = c->args[2].ptr;
    a.ids = gather ? static_cast<const uint32_t *>(c->args[4].ptr) : nullptr;
    a.ipr = K / E;
    a.items = rows * a.ipr;
    a.n_rows = c->u.gen.i[2];
    a.ipr_m = 1;
    a.ipr_l = 0;
    if (a.ipr > 0) fastdiv_of((uint64_t)a.ipr, &a.ipr_m, &a.ipr_l);
    a.ids_signed = gather && c->u.gen.i[5] == MLXN_I32;
    a.gs_shift = 0;
    while ((1 << a.gs_shift) < gs) a.gs_shift++;
    const int sdt = (int)c->u.gen.i[3];
    a.s_bf16 = sdt == MLXN_BF16;
    a.vec = (reinterpret_cast<uintptr_t>(c->args[3].ptr) & 15u) == 0;
    a.has_g = (int)c->u.gen.i[6];
    a.gfac = c->u.gen.f[0];
    a.mult = c->u.gen.f[1];
    if (a.items == 0) return MLXN_OK;
    /* kItems items per thread once there are enough for two blocks of that
       size per SM; fewer on smaller ops, so they still spread over every SM */
    const int64_t per_k = (int64_t)kThreads * 2 * (cd->sm_count > 0 ? cd->sm_count : 1);
    const int64_t kk = (a.items + per_k - 1) / per_k;
    a.kk = kk > kItems ? kItems : (int)kk;
    a.tile = (int64_t)kThreads * a.kk;
    const int mode = c->u.gen.d[0], bits = c->u.gen.d[1];
    const bool s32 = sdt == MLXN_F32;
    void *y = c->args[3].ptr;
    switch (ydt) {
    case MLXN_F32: return dispatch_bits<float>(cd, st, mode, bits, s32, a, y, gather);
    case MLXN_F16: return dispatch_bits<__half>(cd, st, mode, bits, s32, a, y, gather);
    default: return dispatch_bits<__nv_bfloat16>(cd, st, mode, bits, s32, a, y, gather);
    }
}

} // namespace

extern "C" int mlxn_cuda_dequant_mlx(void *dev, void *enc, const mlxn_op_call *c) { return run(dev, enc, c, false); }

extern "C" int mlxn_cuda_gather_mlx(void *dev, void *enc, const mlxn_op_call *c) { return run(dev, enc, c, true); }
