// quant_mlx.cu — dequantize_mlx and gather_mlx (plans and argument order:
// src/ops/quant_mlx.c; formats and arithmetic: include/mlxn.h "Quantized
// formats: MLX").
//
// One thread decodes one unit of 8 consecutive output elements. 8 codes fill
// exactly `bits` bytes of the packed stream (unit u at byte u*bits), so a
// unit never shares a byte with another and lies inside at most two aligned
// u32 words: word (u*bits)/4 and, only when the unit's bytes run past it,
// the next one (that word then holds bytes of this unit, so it is in
// bounds). The 8 results go out as one 16-byte store (f16/bf16) or two (f32)
// when y is 16-byte aligned, which makes a warp's stores 512 or 1024
// contiguous bytes; a misaligned y takes scalar stores. Each thread handles
// kUnits units kThreads apart (loads of all of them first, then the math and
// the stores); the grid has one block per kThreads * kUnits units (at most
// 2^24 blocks, then blocks stride), so no grid limit applies, and indices
// are 64-bit throughout.
//
// The arithmetic is the CPU backend's, operation for operation, with the
// rounding intrinsics that forbid contraction into an fma:
//   affine  __fadd_rn(__fmul_rn(q, s), b)
//   fp      __fmul_rn(value, scale)  (nvfp4 scale: __fmul_rn(e4m3, g/2688))
//   gather  __fmul_rn(r, mult) when mult != 1
// then one __float2half_rn / __float2bfloat16_rn for 16-bit outputs.
#include "cuda_common.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;
constexpr int kUnits = 2; /* units per thread per step */
constexpr int64_t kMaxBlocks = (int64_t)1 << 24;

enum { M_AFFINE = 0, M_MXFP4 = 1, M_MXFP8 = 2, M_NVFP4 = 3 };

__device__ __forceinline__ float e2m1(uint32_t n) {
    const uint32_t e = (n >> 1) & 3u, m = n & 1u;
    const float a = e ? __uint_as_float(((e + 126u) << 23) | (m << 22)) : 0.5f * (float)m;
    return (n & 8u) ? -a : a;
}

/* E4M3 (OCP E4M3FN, as MLX's from_fp8): no infinities, 0x7F/0xFF NaN */
__device__ __forceinline__ float e4m3(uint32_t v) {
    if ((v & 0x7Fu) == 0x7Fu) return __uint_as_float(0x7FC00000u);
    const uint32_t e = (v >> 3) & 15u, m = v & 7u;
    const float a = e ? __uint_as_float(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f;
    return (v & 0x80u) ? -a : a;
}

/* E8M0: 2^(s-127); 0 -> 2^-127, 255 -> +inf */
__device__ __forceinline__ float e8m0(uint32_t s) { return __uint_as_float(s ? s << 23 : 0x00400000u); }

__device__ __forceinline__ float load_sc(const void *p, int sdt, int64_t i) {
    if (sdt == MLXN_F32) return static_cast<const float *>(p)[i];
    if (sdt == MLXN_F16) return __half2float(static_cast<const __half *>(p)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
}

__device__ __forceinline__ void st1(float *p, float v) { *p = v; }
__device__ __forceinline__ void st1(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void st1(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* 8 results -> 16-byte aligned y (f32: two uint4, 16-bit: one) */
__device__ __forceinline__ void st8(float *p, const float *v) {
    uint4 *q = reinterpret_cast<uint4 *>(p);
    q[0] = make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
    q[1] = make_uint4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7]));
}
__device__ __forceinline__ void st8(__half *p, const float *v) {
    uint4 q;
    __half2 *h = reinterpret_cast<__half2 *>(&q);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4 *>(p) = q;
}
__device__ __forceinline__ void st8(__nv_bfloat16 *p, const float *v) {
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
    int64_t units;       /* output units (8 elements each)   */
    int64_t upr;         /* units per row: K / 8             */
    int64_t n_rows;      /* table rows (gather)              */
    int ids_signed;      /* gather ids are i32               */
    int gs_shift;        /* log2(group_size)                 */
    int sdt;             /* affine scales dtype              */
    int vec;             /* y is 16-byte aligned             */
    int has_g;           /* nvfp4 global scale present       */
    float gfac;          /* its factor g / 2688              */
    float mult;          /* output multiplier, 1 = none      */
};

/* The source unit of output unit u (-1: a zero row of the gather). */
__device__ __forceinline__ int64_t src_unit(const Args &a, int64_t u) {
    if (!a.ids) return u;
    const int64_t t = u / a.upr, j = u - t * a.upr;
    const uint32_t raw = a.ids[t];
    const int64_t id = a.ids_signed ? (int64_t)(int32_t)raw : (int64_t)raw;
    return id >= 0 && id < a.n_rows ? id * a.upr + j : -1;
}

template <int MODE, int BITS, typename TY>
__global__ void __launch_bounds__(kThreads) deq_kernel(Args a, TY *__restrict__ y) {
    constexpr uint32_t mask = (1u << BITS) - 1u;
    const int64_t step = (int64_t)gridDim.x * kThreads * kUnits;
    for (int64_t u0 = (int64_t)blockIdx.x * kThreads * kUnits + threadIdx.x; u0 < a.units; u0 += step) {
        uint64_t pk[kUnits];
        float sc[kUnits], bs[kUnits];
        bool live[kUnits];
        /* loads */
#pragma unroll
        for (int k = 0; k < kUnits; k++) {
            const int64_t u = u0 + (int64_t)k * kThreads;
            pk[k] = 0;
            sc[k] = 0.0f;
            bs[k] = 0.0f;
            live[k] = false;
            if (u >= a.units) continue;
            const int64_t s = src_unit(a, u);
            if (s < 0) continue;
            live[k] = true;
            const int64_t byte = s * BITS, word = byte >> 2;
            const int sh = (int)(byte & 3) * 8;
            uint64_t v = a.w[word];
            if ((byte & 3) + BITS > 4) v |= (uint64_t)a.w[word + 1] << 32;
            pk[k] = v >> sh;
            const int64_t g = (s * 8) >> a.gs_shift;
            if constexpr (MODE == M_AFFINE) {
                sc[k] = load_sc(a.scales, a.sdt, g);
                bs[k] = load_sc(a.biases, a.sdt, g);
            } else {
                const uint32_t b = static_cast<const uint8_t *>(a.scales)[g];
                if constexpr (MODE == M_NVFP4) {
                    float f = e4m3(b);
                    if (a.has_g) f = __fmul_rn(f, a.gfac);
                    sc[k] = f;
                } else {
                    sc[k] = e8m0(b);
                }
            }
        }
        /* math and stores */
#pragma unroll
        for (int k = 0; k < kUnits; k++) {
            const int64_t u = u0 + (int64_t)k * kThreads;
            if (u >= a.units) continue;
            float r[8];
#pragma unroll
            for (int t = 0; t < 8; t++) {
                const uint32_t q = (uint32_t)(pk[k] >> (t * BITS)) & mask;
                float x;
                if constexpr (MODE == M_AFFINE) x = __fadd_rn(__fmul_rn((float)q, sc[k]), bs[k]);
                else if constexpr (MODE == M_MXFP8) x = __fmul_rn(e4m3(q), sc[k]);
                else x = __fmul_rn(e2m1(q), sc[k]);
                if (a.mult != 1.0f) x = __fmul_rn(x, a.mult);
                r[t] = live[k] ? x : 0.0f;
            }
            TY *o = y + u * 8;
            if (a.vec) {
                st8(o, r);
            } else {
#pragma unroll
                for (int t = 0; t < 8; t++) st1(o + t, r[t]);
            }
        }
    }
}

template <int MODE, int BITS, typename TY>
int launch(const mlxn_cuda_dev *cd, cudaStream_t st, const Args &a, void *y) {
    (void)cd;
    int64_t blocks = (a.units + (int64_t)kThreads * kUnits - 1) / ((int64_t)kThreads * kUnits);
    /* one pass of blocks (the hardware balances them; a capped grid-stride
       loop would leave some blocks one step longer than others); the loop
       covers what a grid of kMaxBlocks cannot */
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    if (blocks < 1) blocks = 1;
    deq_kernel<MODE, BITS, TY><<<(unsigned)blocks, kThreads, 0, st>>>(a, static_cast<TY *>(y));
    MLXN_CK_LAUNCH("deq_kernel");
    return MLXN_OK;
}

template <typename TY>
int dispatch_bits(const mlxn_cuda_dev *cd, cudaStream_t st, int mode, int bits, const Args &a, void *y) {
    switch (mode) {
    case M_MXFP4: return launch<M_MXFP4, 4, TY>(cd, st, a, y);
    case M_MXFP8: return launch<M_MXFP8, 8, TY>(cd, st, a, y);
    case M_NVFP4: return launch<M_NVFP4, 4, TY>(cd, st, a, y);
    default: break;
    }
    switch (bits) {
    case 2: return launch<M_AFFINE, 2, TY>(cd, st, a, y);
    case 3: return launch<M_AFFINE, 3, TY>(cd, st, a, y);
    case 4: return launch<M_AFFINE, 4, TY>(cd, st, a, y);
    case 5: return launch<M_AFFINE, 5, TY>(cd, st, a, y);
    case 6: return launch<M_AFFINE, 6, TY>(cd, st, a, y);
    default: return launch<M_AFFINE, 8, TY>(cd, st, a, y);
    }
}

int run(void *dev, void *enc, const mlxn_op_call *c, bool gather) {
    const mlxn_cuda_dev *cd = static_cast<const mlxn_cuda_dev *>(dev);
    int s = mlxn_cuda_use(cd);
    if (s) return s;
    const cudaStream_t st = static_cast<mlxn_cuda_enc *>(enc)->stream;
    const int64_t rows = c->u.gen.i[0], K = c->u.gen.i[1];
    const int gs = c->u.gen.d[2];
    Args a;
    a.w = static_cast<const uint32_t *>(c->args[0].ptr);
    a.scales = c->args[1].ptr;
    a.biases = c->args[2].ptr;
    a.ids = gather ? static_cast<const uint32_t *>(c->args[4].ptr) : nullptr;
    a.upr = K / 8;
    a.units = rows * a.upr;
    a.n_rows = c->u.gen.i[2];
    a.ids_signed = gather && c->u.gen.i[5] == MLXN_I32;
    a.gs_shift = 0;
    while ((1 << a.gs_shift) < gs) a.gs_shift++;
    a.sdt = (int)c->u.gen.i[3];
    a.vec = (reinterpret_cast<uintptr_t>(c->args[3].ptr) & 15u) == 0;
    a.has_g = (int)c->u.gen.i[6];
    a.gfac = c->u.gen.f[0];
    a.mult = c->u.gen.f[1];
    if (a.units == 0) return MLXN_OK;
    const int mode = c->u.gen.d[0], bits = c->u.gen.d[1];
    void *y = c->args[3].ptr;
    switch ((int)c->u.gen.i[4]) {
    case MLXN_F32: return dispatch_bits<float>(cd, st, mode, bits, a, y);
    case MLXN_F16: return dispatch_bits<__half>(cd, st, mode, bits, a, y);
    default: return dispatch_bits<__nv_bfloat16>(cd, st, mode, bits, a, y);
    }
}

} // namespace

extern "C" int mlxn_cuda_dequant_mlx(void *dev, void *enc, const mlxn_op_call *c) { return run(dev, enc, c, false); }

extern "C" int mlxn_cuda_gather_mlx(void *dev, void *enc, const mlxn_op_call *c) { return run(dev, enc, c, true); }
