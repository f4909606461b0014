// quant_ggml.cu — dequantize_ggml: raw ggml blocks -> f32/f16/bf16.
// Plan slots and argument order: src/ops/quant_ggml.c; block layouts and
// formulas: src/cpu/quant_ggml.c (the same arithmetic, written with
// __fmul_rn/__fadd_rn/__fsub_rn so nvcc cannot contract a product and a
// sum into an FMA: results equal the CPU and ggml bit for bit).
//
// Tiles of TILE = 4096 output elements (a whole number of blocks of every
// type: block sizes 1, 32, 64, 128, 256), so a tile's bytes are
// TILE / block * type_size, a multiple of 16. A CTA of 256 threads takes
// tiles in a grid-stride loop (64-bit indices):
//   1. the tile's raw bytes are staged in shared memory. When src is 16-byte
//      aligned every tile start is too, and the bytes come in as coalesced
//      16-byte loads; the next tile's loads are issued into registers before
//      the current tile is decoded (one tile in flight per CTA). A
//      misaligned src (a view at an odd byte offset) is staged byte by byte.
//   2. each thread decodes groups of 8 consecutive elements (8 elements
//      never straddle a block or a scale group: groups of 16/32 share a
//      scale) from shared memory and writes them with 16-byte stores (f16 /
//      bf16: one uint4, f32: two) when dst is 16-byte aligned, else element
//      by element. The last partial group of a plain type (block size 1)
//      is decoded and stored element by element.
// Two __syncthreads per tile separate the shared-memory writers of one tile
// from the readers of the previous and the current one.
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;
constexpr int kTile = 4096;

template <int T> struct Fmt;
#define FMT(T, B, S)                      \
    template <> struct Fmt<T> {           \
        static constexpr int blck = B;    \
        static constexpr int tsz = S;     \
    };
FMT(MLXN_GGML_F32, 1, 4)
FMT(MLXN_GGML_F16, 1, 2)
FMT(MLXN_GGML_BF16, 1, 2)
FMT(MLXN_GGML_F64, 1, 8)
FMT(MLXN_GGML_I8, 1, 1)
FMT(MLXN_GGML_I16, 1, 2)
FMT(MLXN_GGML_I32, 1, 4)
FMT(MLXN_GGML_Q4_0, 32, 18)
FMT(MLXN_GGML_Q4_1, 32, 20)
FMT(MLXN_GGML_Q5_0, 32, 22)
FMT(MLXN_GGML_Q5_1, 32, 24)
FMT(MLXN_GGML_Q8_0, 32, 34)
FMT(MLXN_GGML_Q8_1, 32, 36)
FMT(MLXN_GGML_Q2_K, 256, 84)
FMT(MLXN_GGML_Q3_K, 256, 110)
FMT(MLXN_GGML_Q4_K, 256, 144)
FMT(MLXN_GGML_Q5_K, 256, 176)
FMT(MLXN_GGML_Q6_K, 256, 210)
FMT(MLXN_GGML_Q8_K, 256, 292)
FMT(MLXN_GGML_IQ4_NL, 32, 18)
FMT(MLXN_GGML_IQ4_XS, 256, 136)
FMT(MLXN_GGML_MXFP4, 32, 17)
FMT(MLXN_GGML_NVFP4, 64, 36)
FMT(MLXN_GGML_Q1_0, 128, 18)
FMT(MLXN_GGML_Q2_0, 64, 18)
#undef FMT

__device__ __forceinline__ float ldh(const uint8_t *p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}
__device__ __forceinline__ uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

// 16-entry int8 tables held in two 64-bit constants (register selects, no
// local or constant memory with divergent indices).
__device__ __forceinline__ int kv_lookup(uint64_t lo, uint64_t hi, int i) {
    const uint64_t w = i < 8 ? lo : hi;
    return (int)(int8_t)(uint8_t)(w >> (8 * (i & 7)));
}
// kvalues_iq4nl {-127,-104,-83,-65,-49,-35,-22,-10, 1,13,25,38,53,69,89,113}
constexpr uint64_t IQ4_LO = 0xF6EADDCFBFAD9881ull, IQ4_HI = 0x7159453526190D01ull;
// kvalues_mxfp4 {0,1,2,3,4,6,8,12, 0,-1,-2,-3,-4,-6,-8,-12}
constexpr uint64_t FP4_LO = 0x0C08060403020100ull, FP4_HI = 0xF4F8FAFCFDFEFF00ull;

__device__ __forceinline__ float e8m0_half(uint32_t e) {
    return __uint_as_float(e < 2 ? 0x00200000u << e : (e - 1) << 23);
}
__device__ __forceinline__ float ue4m3_half(uint32_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const uint32_t ex = (x >> 3) & 0xF, man = x & 7;
    if (ex == 0) return __fmul_rn((float)man, 0x1p-10f);
    return __fmul_rn((float)(8 + man), __uint_as_float((ex - 11 + 127) << 23));
}
__device__ __forceinline__ void k4_scale_min(const uint8_t *q, int j, int &sc, int &m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Decodes elements j0 .. j0+7 of the block at b (j0 a multiple of 8).
template <int T> __device__ __forceinline__ void dec8(const uint8_t *b, int j0, float *v);

template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)(((qs[k] >> sh) & 0xF) - 8), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b), m = ldh(b + 2);
    const uint8_t *qs = b + 4 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fadd_rn(__fmul_rn((float)((qs[k] >> sh) & 0xF), d), m);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const uint32_t qh = ld32(b + 2);
    const uint8_t *qs = b + 6 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int q = ((qs[k] >> sh) & 0xF) | (int)(((qh >> (j0 + k)) & 1) << 4);
        v[k] = __fmul_rn((float)(q - 16), d);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b), m = ldh(b + 2);
    const uint32_t qh = ld32(b + 4);
    const uint8_t *qs = b + 8 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int q = ((qs[k] >> sh) & 0xF) | (int)(((qh >> (j0 + k)) & 1) << 4);
        v[k] = __fadd_rn(__fmul_rn((float)q, d), m);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)(int8_t)b[2 + j0 + k], d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)(int8_t)b[4 + j0 + k], d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q2_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, j = (j0 >> 5) & 3, l = j0 & 31;
    const uint8_t s = b[8 * h + 2 * j + (l >> 4)];
    const float d = ldh(b + 80), dmin = ldh(b + 82);
    const float dl = __fmul_rn(d, (float)(s & 0xF)), ml = __fmul_rn(dmin, (float)(s >> 4));
    const uint8_t *q = b + 16 + 32 * h + l;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fsub_rn(__fmul_rn(dl, (float)((q[k] >> (2 * j)) & 3)), ml);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q3_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, j = (j0 >> 5) & 3, l = j0 & 31;
    const int s = 8 * h + 2 * j + (l >> 4);
    const uint8_t *sb = b + 96;
    const int lo = s < 8 ? (sb[s] & 0xF) : (sb[s - 8] >> 4);
    const int hi = (sb[8 + (s & 3)] >> (2 * (s >> 2))) & 3;
    const float dl = __fmul_rn(ldh(b + 108), (float)((lo | (hi << 4)) - 32));
    const uint8_t *q = b + 32 + 32 * h + l, *hm = b + l;
    const int hsh = 4 * h + j;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int qq = (q[k] >> (2 * j)) & 3;
        const int hb = (hm[k] >> hsh) & 1;
        v[k] = __fmul_rn(dl, (float)(qq - (hb ? 0 : 4)));
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_K>(const uint8_t *b, int j0, float *v) {
    const int c = j0 >> 6, hi = (j0 >> 5) & 1, l = j0 & 31;
    int sc, m;
    k4_scale_min(b + 4, 2 * c + hi, sc, m);
    const float d1 = __fmul_rn(ldh(b), (float)sc), m1 = __fmul_rn(ldh(b + 2), (float)m);
    const uint8_t *q = b + 16 + 32 * c + l;
    const int sh = hi ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fsub_rn(__fmul_rn(d1, (float)((q[k] >> sh) & 0xF)), m1);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_K>(const uint8_t *b, int j0, float *v) {
    const int c = j0 >> 6, hi = (j0 >> 5) & 1, l = j0 & 31;
    int sc, m;
    k4_scale_min(b + 4, 2 * c + hi, sc, m);
    const float d1 = __fmul_rn(ldh(b), (float)sc), m1 = __fmul_rn(ldh(b + 2), (float)m);
    const uint8_t *q = b + 48 + 32 * c + l, *qh = b + 16 + l;
    const int sh = hi ? 4 : 0, hsh = 2 * c + hi;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int qq = ((q[k] >> sh) & 0xF) + (((qh[k] >> hsh) & 1) ? 16 : 0);
        v[k] = __fsub_rn(__fmul_rn(d1, (float)qq), m1);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q6_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, kq = (j0 >> 5) & 3, l = j0 & 31;
    const int is = 8 * h + (l >> 4) + 2 * kq;
    const float a = __fmul_rn(ldh(b + 208), (float)(int8_t)b[192 + is]);
    const uint8_t *ql = b + 64 * h + 32 * (kq & 1) + l, *qh = b + 128 + 32 * h + l;
    const int sh = kq >= 2 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int q = (((ql[k] >> sh) & 0xF) | (((qh[k] >> (2 * kq)) & 3) << 4)) - 32;
        v[k] = __fmul_rn(a, (float)q);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_K>(const uint8_t *b, int j0, float *v) {
    const float d = __uint_as_float(ld32(b));
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(d, (float)(int8_t)b[4 + j0 + k]);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_IQ4_NL>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(d, (float)kv_lookup(IQ4_LO, IQ4_HI, (qs[k] >> sh) & 0xF));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_IQ4_XS>(const uint8_t *b, int j0, float *v) {
    const int ib = j0 >> 5, r = j0 & 31;
    const uint32_t sh_all = (uint32_t)(b[2] | (b[3] << 8));
    const int ls = ((b[4 + (ib >> 1)] >> (4 * (ib & 1))) & 0xF) | (int)(((sh_all >> (2 * ib)) & 3) << 4);
    const float dl = __fmul_rn(ldh(b), (float)(ls - 32));
    const uint8_t *qs = b + 8 + 16 * ib + (r & 15);
    const int sh = r >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(dl, (float)kv_lookup(IQ4_LO, IQ4_HI, (qs[k] >> sh) & 0xF));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_MXFP4>(const uint8_t *b, int j0, float *v) {
    const float d = e8m0_half(b[0]);
    const uint8_t *qs = b + 1 + (j0 & 15);
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)kv_lookup(FP4_LO, FP4_HI, (qs[k] >> sh) & 0xF), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_NVFP4>(const uint8_t *b, int j0, float *v) {
    const int s = j0 >> 4;
    const float d = ue4m3_half(b[s]);
    const uint8_t *qs = b + 4 + 8 * s;
    const int sh = (j0 & 8) ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)kv_lookup(FP4_LO, FP4_HI, (qs[k] >> sh) & 0xF), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q1_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b), nd = -d;
    const uint8_t q = b[2 + (j0 >> 3)];
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = ((q >> k) & 1) ? d : nd;
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q2_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2 + (j0 >> 2);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn((float)((int)((qs[k >> 2] >> (2 * (k & 3))) & 3) - 1), d);
}

// Plain types: element e at byte e * tsz of the (16-byte aligned) tile.
template <int T> __device__ __forceinline__ float plain1(const uint8_t *p);
template <> __device__ __forceinline__ float plain1<MLXN_GGML_F32>(const uint8_t *p) { return *(const float *)p; }
template <> __device__ __forceinline__ float plain1<MLXN_GGML_F16>(const uint8_t *p) {
    return __half2float(*(const __half *)p);
}
template <> __device__ __forceinline__ float plain1<MLXN_GGML_BF16>(const uint8_t *p) {
    return __bfloat162float(*(const __nv_bfloat16 *)p);
}
template <> __device__ __forceinline__ float plain1<MLXN_GGML_F64>(const uint8_t *p) {
    return __double2float_rn(*(const double *)p);
}
template <> __device__ __forceinline__ float plain1<MLXN_GGML_I8>(const uint8_t *p) { return (float)(int8_t)p[0]; }
template <> __device__ __forceinline__ float plain1<MLXN_GGML_I16>(const uint8_t *p) {
    return (float)*(const int16_t *)p;
}
template <> __device__ __forceinline__ float plain1<MLXN_GGML_I32>(const uint8_t *p) {
    return __int2float_rn(*(const int32_t *)p);
}

__device__ __forceinline__ void st1(float *p, float v) { *p = v; }
__device__ __forceinline__ void st1(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void st1(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

__device__ __forceinline__ void st8(float *p, const float *v) {
    uint4 *q = reinterpret_cast<uint4 *>(p);
    q[0] = make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
    q[1] = make_uint4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7]));
}
__device__ __forceinline__ uint32_t pk(__half a, __half b) {
    return (uint32_t)__half_as_ushort(a) | ((uint32_t)__half_as_ushort(b) << 16);
}
__device__ __forceinline__ uint32_t pk(__nv_bfloat16 a, __nv_bfloat16 b) {
    return (uint32_t)__bfloat16_as_ushort(a) | ((uint32_t)__bfloat16_as_ushort(b) << 16);
}
__device__ __forceinline__ void st8(__half *p, const float *v) {
    uint4 q;
    q.x = pk(__float2half_rn(v[0]), __float2half_rn(v[1]));
    q.y = pk(__float2half_rn(v[2]), __float2half_rn(v[3]));
    q.z = pk(__float2half_rn(v[4]), __float2half_rn(v[5]));
    q.w = pk(__float2half_rn(v[6]), __float2half_rn(v[7]));
    *reinterpret_cast<uint4 *>(p) = q;
}
__device__ __forceinline__ void st8(__nv_bfloat16 *p, const float *v) {
    uint4 q;
    q.x = pk(__float2bfloat16_rn(v[0]), __float2bfloat16_rn(v[1]));
    q.y = pk(__float2bfloat16_rn(v[2]), __float2bfloat16_rn(v[3]));
    q.z = pk(__float2bfloat16_rn(v[4]), __float2bfloat16_rn(v[5]));
    q.w = pk(__float2bfloat16_rn(v[6]), __float2bfloat16_rn(v[7]));
    *reinterpret_cast<uint4 *>(p) = q;
}

// Decodes and stores the tile held in sm: `len` elements starting at dst.
template <int T, typename O>
__device__ __forceinline__ void emit_tile(const uint8_t *sm, O *__restrict__ dst, int len, bool store16) {
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz;
    for (int el = threadIdx.x * 8; el < len; el += kThreads * 8) {
        float v[8];
        if constexpr (BL == 1) {
            const int cnt = len - el < 8 ? len - el : 8;
            if (cnt == 8) {
#pragma unroll
                for (int k = 0; k < 8; k++) v[k] = plain1<T>(sm + (el + k) * TS);
            } else {
                for (int k = 0; k < cnt; k++) st1(dst + el + k, plain1<T>(sm + (el + k) * TS));
                continue;
            }
        } else {
            dec8<T>(sm + (el / BL) * TS, el % BL, v);
        }
        if (store16) st8(dst + el, v);
        else {
#pragma unroll
            for (int k = 0; k < 8; k++) st1(dst + el + k, v[k]);
        }
    }
}

// NV: 16-byte loads of a tile each thread holds in registers.
template <int T> struct TileIO {
    static constexpr int bytes = kTile / Fmt<T>::blck * Fmt<T>::tsz;  // a multiple of 16
    static constexpr int vecs = bytes / 16;
    static constexpr int NV = (vecs + kThreads - 1) / kThreads;
};

template <int T, typename O>
__global__ void __launch_bounds__(kThreads)
dequant_kernel(const uint8_t *__restrict__ src, O *__restrict__ dst, int64_t n, int aligned_src, int store16) {
    pdl_enter();
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz;
    constexpr int TB = TileIO<T>::bytes, NV = TileIO<T>::NV;
    __shared__ __align__(16) uint8_t sm[TB];
    const int64_t ntiles = (n + kTile - 1) / kTile;
    const int64_t first = blockIdx.x;
    if (first >= ntiles) return;
    if (aligned_src) {
        // register prefetch of the CTA's next tile
        uint4 r[NV];
        auto fetch = [&](int64_t tile) {
            const int64_t e0 = tile * kTile;
            const int len = (int)(n - e0 < kTile ? n - e0 : kTile);
            const int nvec = (len / BL * TS) >> 4;  // whole 16-byte vectors of the tile
            const uint4 *s = reinterpret_cast<const uint4 *>(src + tile * (int64_t)TB);
#pragma unroll
            for (int i = 0; i < NV; i++) {
                const int idx = threadIdx.x + i * kThreads;
                if (idx < nvec) r[i] = __ldcs(s + idx);
            }
        };
        fetch(first);
        for (int64_t tile = first; tile < ntiles; tile += gridDim.x) {
            const int64_t e0 = tile * kTile;
            const int len = (int)(n - e0 < kTile ? n - e0 : kTile);
            const int bytes = len / BL * TS, nvec = bytes >> 4;
            __syncthreads();  // readers of the previous tile are done with sm
#pragma unroll
            for (int i = 0; i < NV; i++) {
                const int idx = threadIdx.x + i * kThreads;
                if (idx < nvec) reinterpret_cast<uint4 *>(sm)[idx] = r[i];
            }
            // a partial last tile may end inside a 16-byte vector
            const uint8_t *s = src + tile * (int64_t)TB;
            for (int i = (nvec << 4) + threadIdx.x; i < bytes; i += kThreads) sm[i] = s[i];
            __syncthreads();
            if (tile + gridDim.x < ntiles) fetch(tile + gridDim.x);
            emit_tile<T, O>(sm, dst + e0, len, store16 != 0);
        }
    } else {
        for (int64_t tile = first; tile < ntiles; tile += gridDim.x) {
            const int64_t e0 = tile * kTile;
            const int len = (int)(n - e0 < kTile ? n - e0 : kTile);
            const int bytes = len / BL * TS;
            const uint8_t *s = src + tile * (int64_t)TB;
            __syncthreads();
            for (int i = threadIdx.x; i < bytes; i += kThreads) sm[i] = s[i];
            __syncthreads();
            emit_tile<T, O>(sm, dst + e0, len, store16 != 0);
        }
    }
}

struct Launch {
    const uint8_t *src;
    void *dst;
    int64_t n;
    int odt;
    int sm_count;
    cudaStream_t st;
    bool pdl;
};

template <int T, typename O> int launch_o(const Launch &L) {
    const int64_t ntiles = (L.n + kTile - 1) / kTile;
    // enough CTAs to fill every SM (8 x 256 threads each), grid-stride beyond
    const int64_t cap = (int64_t)(L.sm_count > 0 ? L.sm_count : 1) * 8;
    const unsigned grid = (unsigned)(ntiles < cap ? ntiles : cap);
    const int aligned_src = ((uintptr_t)L.src & 15) == 0;
    const int store16 = ((uintptr_t)L.dst & 15) == 0;
    MLXN_CK(launch_k(dequant_kernel<T, O>, dim3(grid), dim3(kThreads), 0, L.st, L.pdl, L.src,
                     static_cast<O *>(L.dst), L.n, aligned_src, store16));
    return MLXN_OK;
}

template <int T> int launch_t(const Launch &L) {
    switch (L.odt) {
    case MLXN_F32: return launch_o<T, float>(L);
    case MLXN_F16: return launch_o<T, __half>(L);
    default: return launch_o<T, __nv_bfloat16>(L);
    }
}

}  // namespace

extern "C" int mlxn_cuda_dequant_ggml(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    Launch L;
    L.src = static_cast<const uint8_t *>(c->args[0].ptr);
    L.dst = c->args[1].ptr;
    L.n = c->u.gen.i[1];
    L.odt = c->u.gen.d[1];
    L.sm_count = ((const mlxn_cuda_dev *)dev)->sm_count;
    L.st = ((mlxn_cuda_enc *)enc)->stream;
    L.pdl = pdl_on(dev);
    if (L.n <= 0) return MLXN_OK;
    switch (c->u.gen.d[0]) {
    case MLXN_GGML_F32: return launch_t<MLXN_GGML_F32>(L);
    case MLXN_GGML_F16: return launch_t<MLXN_GGML_F16>(L);
    case MLXN_GGML_BF16: return launch_t<MLXN_GGML_BF16>(L);
    case MLXN_GGML_F64: return launch_t<MLXN_GGML_F64>(L);
    case MLXN_GGML_I8: return launch_t<MLXN_GGML_I8>(L);
    case MLXN_GGML_I16: return launch_t<MLXN_GGML_I16>(L);
    case MLXN_GGML_I32: return launch_t<MLXN_GGML_I32>(L);
    case MLXN_GGML_Q4_0: return launch_t<MLXN_GGML_Q4_0>(L);
    case MLXN_GGML_Q4_1: return launch_t<MLXN_GGML_Q4_1>(L);
    case MLXN_GGML_Q5_0: return launch_t<MLXN_GGML_Q5_0>(L);
    case MLXN_GGML_Q5_1: return launch_t<MLXN_GGML_Q5_1>(L);
    case MLXN_GGML_Q8_0: return launch_t<MLXN_GGML_Q8_0>(L);
    case MLXN_GGML_Q8_1: return launch_t<MLXN_GGML_Q8_1>(L);
    case MLXN_GGML_Q2_K: return launch_t<MLXN_GGML_Q2_K>(L);
    case MLXN_GGML_Q3_K: return launch_t<MLXN_GGML_Q3_K>(L);
    case MLXN_GGML_Q4_K: return launch_t<MLXN_GGML_Q4_K>(L);
    case MLXN_GGML_Q5_K: return launch_t<MLXN_GGML_Q5_K>(L);
    case MLXN_GGML_Q6_K: return launch_t<MLXN_GGML_Q6_K>(L);
    case MLXN_GGML_Q8_K: return launch_t<MLXN_GGML_Q8_K>(L);
    case MLXN_GGML_IQ4_NL: return launch_t<MLXN_GGML_IQ4_NL>(L);
    case MLXN_GGML_IQ4_XS: return launch_t<MLXN_GGML_IQ4_XS>(L);
    case MLXN_GGML_MXFP4: return launch_t<MLXN_GGML_MXFP4>(L);
    case MLXN_GGML_NVFP4: return launch_t<MLXN_GGML_NVFP4>(L);
    case MLXN_GGML_Q1_0: return launch_t<MLXN_GGML_Q1_0>(L);
    case MLXN_GGML_Q2_0: return launch_t<MLXN_GGML_Q2_0>(L);
    default:
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "dequantize_ggml: type %d has no CUDA kernel", c->u.gen.d[0]);
    }
}
