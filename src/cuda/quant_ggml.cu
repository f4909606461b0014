// quant_ggml.cu — dequantize_ggml: raw ggml blocks -> f32/f16/bf16.
// Plan slots and argument order: src/ops/quant_ggml.c; block layouts and
// formulas: src/cpu/quant_ggml.c (the same arithmetic, written with
// __fmul_rn/__fadd_rn/__fsub_rn so nvcc cannot contract a product and a
// sum into an FMA: results equal the CPU and ggml bit for bit).
//
// Two kernels share the decoders (dec8: 8 consecutive elements of one block,
// never straddling a block or a scale group) and the stores (16-byte
// st.global.v4 when dst is 16-byte aligned; f32 output trades halves between
// lane pairs so each store instruction writes whole 32-byte sectors).
//
// Direct kernel (block types, src and dst 16-byte aligned: the usual case).
// One tile of 4096 elements per CTA of 256 threads, grid = tiles; a thread
// decodes its two groups straight from global memory (the loads of both are
// independent, so they are in flight before the first store) and stores
// them. 16-bit outputs run 8 CTAs an SM (32 registers), f32 outputs 4. B8
// may read 3 bytes past a group, so a tile within 16 bytes of the end of
// src, or a partial last tile, is staged in shared memory first. Measured on
// the H100 (docs/PERF.md): 86-93% of copy on every [4096,14336] case, where
// the ring kernel below reached 75-86%: its per-tile barrier and ring
// bookkeeping cost more than the staging saved.
//
// Ring kernel (plain types and misaligned views). Tiles of TE = 4096 output
// elements (a whole number of blocks of every type: block sizes 1, 32, 64,
// 128, 256), so a tile's bytes are TE / block * type_size, a multiple of 16.
// A CTA of 256 threads takes tiles in a grid-stride loop (64-bit indices);
// the grid is one wave of co-resident CTAs (occupancy calculator):
//   1. the tile's raw bytes are staged in shared memory. When src is 16-byte
//      aligned every tile start is too: tiles of <= 8192 bytes go through a
//      ring of Pipe<T>::S stages filled by cp.async 16-byte copies, the CTA's
//      next S - 1 tiles in flight while one is decoded; larger plain tiles
//      are prefetched one tile ahead in registers. A misaligned src (a view
//      at an odd byte offset) is staged byte by byte.
//   2. each thread decodes groups of 8 from shared memory and stores them
//      (element by element when dst is not 16-byte aligned; the last partial
//      group of a plain type too).
// Barriers: in the pipelined loop one per tile (after wait_group, before
// the stage read last time is refilled); elsewhere two per tile.
//
// Decoding: the 8 code bytes of a group are read as two words (B8: three
// aligned 4-byte loads and funnel shifts, or one 8-byte load where the block
// layout guarantees alignment), codes are masked four at a time, and a code
// becomes a float through the exact 1.5 * 2^23 bit trick (codef, i2f)
// instead of the conversion unit.
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <atomic>
#include <cstdlib>

namespace {

constexpr int kThreads = 256;

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

// Every f16 field of every block type sits at an even offset of a block of
// even size, and blocks are read from 16-byte aligned tiles (shared memory)
// or a 16-byte aligned src (direct path): one 2-byte load.
__device__ __forceinline__ float ldh(const uint8_t *p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short *>(p)));
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
// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes q[]
// given as three little-endian words w0..w2, without a branch:
//   j < 4:  sc = q[j] & 63,                            m = q[j+4] & 63
//   j >= 4: sc = (q[j+4] & 15) | (q[j-4] >> 6) << 4,   m = (q[j+4] >> 4) | (q[j] >> 6) << 4
__device__ __forceinline__ void k4_scale_min(uint32_t w0, uint32_t w1, uint32_t w2, int j, int &sc, int &m) {
    const uint32_t sh = 8u * (uint32_t)(j & 3);
    const uint32_t a = w0 >> sh, b = w1 >> sh, c = w2 >> sh;
    if (j < 4) {
        sc = (int)(a & 63u);
        m = (int)(b & 63u);
    } else {
        sc = (int)((c & 0xFu) | ((a >> 6) & 3u) << 4);
        m = (int)(((c >> 4) & 0xFu) | ((b >> 6) & 3u) << 4);
    }
}

// The 8 bytes at p (shared memory, any alignment) as two 32-bit words:
// three aligned 4-byte loads and two funnel shifts instead of eight byte
// loads. May read up to 3 bytes past p + 8 (sm carries 16 bytes of padding);
// those bytes never reach a result. qs[k] is byte k, as a pointer's would be.
struct B8 {
    uint32_t lo, hi;
    __device__ __forceinline__ explicit B8(const uint8_t *p) {
        const uint32_t a = (uint32_t)(reinterpret_cast<uintptr_t>(p) & 3);
        const uint32_t *w = reinterpret_cast<const uint32_t *>(p - a);
        const uint32_t w0 = w[0], w1 = w[1], w2 = w[2];
        lo = __funnelshift_r(w0, w1, 8 * a);
        hi = __funnelshift_r(w1, w2, 8 * a);
    }
    // p 8-byte aligned: one 8-byte load
    struct Aligned {};
    __device__ __forceinline__ B8(const uint8_t *p, Aligned) {
        const uint2 u = *reinterpret_cast<const uint2 *>(p);
        lo = u.x;
        hi = u.y;
    }
    __device__ __forceinline__ int operator[](int k) const {
        return (int)(((k < 4 ? lo : hi) >> (8 * (k & 3))) & 0xFFu);
    }
};
__device__ __forceinline__ float h2f_lo(uint32_t w) { return __half2float(__ushort_as_half((unsigned short)(w & 0xFFFFu))); }
__device__ __forceinline__ float h2f_hi(uint32_t w) { return __half2float(__ushort_as_half((unsigned short)(w >> 16))); }

// An int of magnitude < 2^22 as float, exactly, without the conversion unit
// (I2F issues at a quarter of the FP32 rate): 1.5 * 2^23 + q lies in
// [2^23, 2^24), where the float spacing is 1, so the bit pattern
// 0x4B400000 + q is that value and one exact subtraction leaves q. Equal to
// (float)q for every q it is used with (codes and small tables).
__device__ __forceinline__ float i2f(int q) { return __fsub_rn(__int_as_float(0x4B400000 + q), 12582912.0f); }

// Byte k (0..3) of t, an unsigned code c, minus `bias`, as float, exactly:
// one byte permute builds the bit pattern 0x4B4000cc = 1.5 * 2^23 + c and one
// exact subtraction of 1.5 * 2^23 + bias leaves c - bias. Codes of a group
// are masked four at a time in the words of B8 (t = (w >> sh) & 0x0F0F0F0F).
template <int BIAS> __device__ __forceinline__ float codef(uint32_t t, int k) {
    return __fsub_rn(__int_as_float((int)__byte_perm(t, 0x4B400000u, 0x7650u | (unsigned)k)), 12582912.0f + (float)BIAS);
}

// Decodes elements j0 .. j0+7 of the block at b (j0 a multiple of 8).
template <int T> __device__ __forceinline__ void dec8(const uint8_t *b, int j0, float *v);

template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const B8 qs(b + 2 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
    const uint32_t t0 = (qs.lo >> sh) & 0x0F0F0F0Fu, t1 = (qs.hi >> sh) & 0x0F0F0F0Fu;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(codef<8>(k < 4 ? t0 : t1, k & 3), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b), m = ldh(b + 2);
    const B8 qs(b + 4 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fadd_rn(__fmul_rn(i2f((qs[k] >> sh) & 0xF), d), m);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const uint32_t qh = ld32(b + 2);
    const B8 qs(b + 6 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int q = ((qs[k] >> sh) & 0xF) | (int)(((qh >> (j0 + k)) & 1) << 4);
        v[k] = __fmul_rn(i2f(q - 16), d);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b), m = ldh(b + 2);
    const uint32_t qh = ld32(b + 4);
    const B8 qs(b + 8 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int q = ((qs[k] >> sh) & 0xF) | (int)(((qh >> (j0 + k)) & 1) << 4);
        v[k] = __fadd_rn(__fmul_rn(i2f(q), d), m);
    }
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_0>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const B8 q(b + 2 + j0);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(i2f((int8_t)q[k]), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_1>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const B8 q(b + 4 + j0);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(i2f((int8_t)q[k]), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q2_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, j = (j0 >> 5) & 3, l = j0 & 31;
    const uint8_t s = b[8 * h + 2 * j + (l >> 4)];
    const float d = ldh(b + 80), dmin = ldh(b + 82);
    const float dl = __fmul_rn(d, (float)(s & 0xF)), ml = __fmul_rn(dmin, (float)(s >> 4));
    const B8 q(b + 16 + 32 * h + l);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fsub_rn(__fmul_rn(dl, i2f((q[k] >> (2 * j)) & 3)), ml);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q3_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, j = (j0 >> 5) & 3, l = j0 & 31;
    const int s = 8 * h + 2 * j + (l >> 4);
    const uint8_t *sb = b + 96;
    const int lo = s < 8 ? (sb[s] & 0xF) : (sb[s - 8] >> 4);
    const int hi = (sb[8 + (s & 3)] >> (2 * (s >> 2))) & 3;
    const float dl = __fmul_rn(ldh(b + 108), (float)((lo | (hi << 4)) - 32));
    const B8 q(b + 32 + 32 * h + l), hm(b + l);
    const int hsh = 4 * h + j;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int qq = (q[k] >> (2 * j)) & 3;
        const int hb = (hm[k] >> hsh) & 1;
        v[k] = __fmul_rn(dl, i2f(qq - (hb ? 0 : 4)));
    }
}
// q4_k/q5_k blocks (144/176 bytes) and iq4_xs blocks (136) start 16- and
// 8-byte aligned in every tile and in an aligned src: the header comes in one
// 16-byte (8-byte) load and the 8 code bytes of a group in one 8-byte load.
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q4_K>(const uint8_t *b, int j0, float *v) {
    const int c = j0 >> 6, hi = (j0 >> 5) & 1, l = j0 & 31;
    const uint4 hd = *reinterpret_cast<const uint4 *>(b); // d, dmin, scales[12]
    int sc, m;
    k4_scale_min(hd.y, hd.z, hd.w, 2 * c + hi, sc, m);
    const float d1 = __fmul_rn(h2f_lo(hd.x), (float)sc), m1 = __fmul_rn(h2f_hi(hd.x), (float)m);
    const B8 q(b + 16 + 32 * c + l, B8::Aligned{});
    const int sh = hi ? 4 : 0;
    const uint32_t t0 = (q.lo >> sh) & 0x0F0F0F0Fu, t1 = (q.hi >> sh) & 0x0F0F0F0Fu;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fsub_rn(__fmul_rn(d1, codef<0>(k < 4 ? t0 : t1, k & 3)), m1);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q5_K>(const uint8_t *b, int j0, float *v) {
    const int c = j0 >> 6, hi = (j0 >> 5) & 1, l = j0 & 31;
    const uint4 hd = *reinterpret_cast<const uint4 *>(b);
    int sc, m;
    k4_scale_min(hd.y, hd.z, hd.w, 2 * c + hi, sc, m);
    const float d1 = __fmul_rn(h2f_lo(hd.x), (float)sc), m1 = __fmul_rn(h2f_hi(hd.x), (float)m);
    const B8 q(b + 48 + 32 * c + l, B8::Aligned{}), qh(b + 16 + l, B8::Aligned{});
    const int sh = hi ? 4 : 0, hsh = 2 * c + hi;
    // the fifth bit of each code from qh, four codes at a time
    const uint32_t t0 = ((q.lo >> sh) & 0x0F0F0F0Fu) | (((qh.lo >> hsh) & 0x01010101u) << 4);
    const uint32_t t1 = ((q.hi >> sh) & 0x0F0F0F0Fu) | (((qh.hi >> hsh) & 0x01010101u) << 4);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fsub_rn(__fmul_rn(d1, codef<0>(k < 4 ? t0 : t1, k & 3)), m1);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q6_K>(const uint8_t *b, int j0, float *v) {
    const int h = j0 >> 7, kq = (j0 >> 5) & 3, l = j0 & 31;
    const int is = 8 * h + (l >> 4) + 2 * kq;
    const float a = __fmul_rn(ldh(b + 208), (float)(int8_t)b[192 + is]);
    const B8 ql(b + 64 * h + 32 * (kq & 1) + l), qh(b + 128 + 32 * h + l);
    const int sh = kq >= 2 ? 4 : 0;
    const uint32_t t0 = ((ql.lo >> sh) & 0x0F0F0F0Fu) | (((qh.lo >> (2 * kq)) & 0x03030303u) << 4);
    const uint32_t t1 = ((ql.hi >> sh) & 0x0F0F0F0Fu) | (((qh.hi >> (2 * kq)) & 0x03030303u) << 4);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(a, codef<32>(k < 4 ? t0 : t1, k & 3));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_Q8_K>(const uint8_t *b, int j0, float *v) {
    const float d = __uint_as_float(ld32(b));
    const B8 q(b + 4 + j0);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(d, i2f((int8_t)q[k]));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_IQ4_NL>(const uint8_t *b, int j0, float *v) {
    const float d = ldh(b);
    const B8 qs(b + 2 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(d, i2f(kv_lookup(IQ4_LO, IQ4_HI, (qs[k] >> sh) & 0xF)));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_IQ4_XS>(const uint8_t *b, int j0, float *v) {
    const int ib = j0 >> 5, r = j0 & 31;
    const uint2 hd = *reinterpret_cast<const uint2 *>(b); // d, scales_h, scales_l[4]
    const uint32_t sh_all = hd.x >> 16;
    const int ls = (int)((hd.y >> (8 * (ib >> 1) + 4 * (ib & 1))) & 0xFu) | (int)(((sh_all >> (2 * ib)) & 3) << 4);
    const float dl = __fmul_rn(h2f_lo(hd.x), (float)(ls - 32));
    const B8 qs(b + 8 + 16 * ib + (r & 15), B8::Aligned{});
    const int sh = r >= 16 ? 4 : 0;
    const uint32_t t0 = (qs.lo >> sh) & 0x0F0F0F0Fu, t1 = (qs.hi >> sh) & 0x0F0F0F0Fu;
#pragma unroll
    for (int k = 0; k < 8; k++)
        v[k] = __fmul_rn(dl, i2f(kv_lookup(IQ4_LO, IQ4_HI, (int)(((k < 4 ? t0 : t1) >> (8 * (k & 3))) & 0xFu))));
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_MXFP4>(const uint8_t *b, int j0, float *v) {
    const float d = e8m0_half(b[0]);
    const B8 qs(b + 1 + (j0 & 15));
    const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(i2f(kv_lookup(FP4_LO, FP4_HI, (qs[k] >> sh) & 0xF)), d);
}
template <> __device__ __forceinline__ void dec8<MLXN_GGML_NVFP4>(const uint8_t *b, int j0, float *v) {
    const int s = j0 >> 4;
    const float d = ue4m3_half(b[s]);
    const B8 qs(b + 4 + 8 * s);
    const int sh = (j0 & 8) ? 4 : 0;
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(i2f(kv_lookup(FP4_LO, FP4_HI, (qs[k] >> sh) & 0xF)), d);
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
    for (int k = 0; k < 8; k++) v[k] = __fmul_rn(i2f((int)((qs[k >> 2] >> (2 * (k & 3))) & 3) - 1), d);
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

// One 16-byte store (p 16-byte aligned, in global memory). Written as PTX:
// nvcc split the plain `*(uint4 *)p = q` of this file into four 4-byte
// stores (st.global.u32 x4 in the PTX of q4_0/q8_0 -> f16, scalar f32 stores
// for q4_0 -> f32), a quarter-sector per store instruction.
__device__ __forceinline__ void stv4(void *p, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    // no "memory" clobber: the kernel never reads dst, and shared-memory
    // loads of the next group may move above the store
    asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "r"(a), "r"(b), "r"(c), "r"(d));
}
__device__ __forceinline__ void st8(float *p, const float *v) {
    stv4(p, __float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
    stv4(p + 4, __float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7]));
}
// Two floats as one packed 16-bit pair, one cvt.rn.{f16,bf16}x2.f32 (each
// half rounded as __float2half_rn / __float2bfloat16_rn would).
__device__ __forceinline__ uint32_t pk2(__half *, float a, float b) {
    const __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t *>(&h);
}
__device__ __forceinline__ uint32_t pk2(__nv_bfloat16 *, float a, float b) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const uint32_t *>(&h);
}
template <typename O> __device__ __forceinline__ void st8(O *p, const float *v) {
    stv4(p, pk2(p, v[0], v[1]), pk2(p, v[2], v[3]), pk2(p, v[4], v[5]), pk2(p, v[6], v[7]));
}

// f32 output of a whole warp span (32 lanes x 8 elements, all in range):
// lane pairs trade halves so that each of the two 16-byte store
// instructions writes whole 32-byte sectors (lane 2m and 2m+1 fill lane
// 2m's sector, then lane 2m+1's). Plain st8 would leave every sector half
// written by each instruction (a 32-byte stride of 16-byte stores), which
// costs partial-sector writes in L2/DRAM.
__device__ __forceinline__ void st8_pair(float *p, const float *v) {
    const bool odd = (threadIdx.x & 1) != 0;
    float r[4];
#pragma unroll
    for (int k = 0; k < 4; k++) r[k] = __shfl_xor_sync(0xffffffffu, odd ? v[k] : v[4 + k], 1);
    // even: own [0..3] at p, partner's [0..3] at p + 8;
    // odd: partner's [4..7] at p - 4, own [4..7] at p + 4
    float a[4], c[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        a[k] = odd ? r[k] : v[k];
        c[k] = odd ? v[4 + k] : r[k];
    }
    stv4(odd ? p - 4 : p, __float_as_uint(a[0]), __float_as_uint(a[1]), __float_as_uint(a[2]), __float_as_uint(a[3]));
    stv4(odd ? p + 4 : p + 8, __float_as_uint(c[0]), __float_as_uint(c[1]), __float_as_uint(c[2]),
         __float_as_uint(c[3]));
}

template <typename O> struct IsF32 { static constexpr bool v = false; };
template <> struct IsF32<float> { static constexpr bool v = true; };

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
        if constexpr (IsF32<O>::v) {
            // warp-uniform: the warp's 256 elements all lie in the tile
            // (then every lane is here, in this iteration, with cnt == 8)
            if (store16 && el - (int)(threadIdx.x & 31) * 8 + 256 <= len) {
                st8_pair(dst + el, v);
                continue;
            }
        }
        if (store16) st8(dst + el, v);
        else {
#pragma unroll
            for (int k = 0; k < 8; k++) st1(dst + el + k, v[k]);
        }
    }
}

// A whole tile of TE elements, dst 16-byte aligned: every group is in range
// and (f32) every warp span too, so the loop has a compile-time trip count
// and the decodes of several groups can overlap.
template <int T, typename O, int TE>
__device__ __forceinline__ void emit_full(const uint8_t *sm, O *__restrict__ dst) {
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz;
#pragma unroll 4
    for (int it = 0; it < TE / (kThreads * 8); it++) {
        const int el = threadIdx.x * 8 + it * kThreads * 8;
        float v[8];
        if constexpr (BL == 1) {
#pragma unroll
            for (int k = 0; k < 8; k++) v[k] = plain1<T>(sm + (el + k) * TS);
        } else {
            dec8<T>(sm + (el / BL) * TS, el % BL, v);
        }
        if constexpr (IsF32<O>::v) st8_pair(dst + el, v);
        else st8(dst + el, v);
    }
}

// NV: 16-byte loads of a tile each thread holds in registers.
template <int T, int TE> struct TileIO {
    static constexpr int bytes = TE / Fmt<T>::blck * Fmt<T>::tsz;  // a multiple of 16
    static constexpr int vecs = bytes / 16;
    static constexpr int NV = (vecs + kThreads - 1) / kThreads;
};

// cp.async (sm_80+): 16 bytes global -> shared without a register trip.
__device__ __forceinline__ void cp16(uint8_t *smem, const uint8_t *g) {
    const unsigned sa = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sa), "l"(g) : "memory");
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Pipelined path (aligned src, tiles of at most 8192 bytes): S
// shared-memory stages; the copies of the CTA's next S - 1 tiles are in
// flight (cp.async, no registers held) while a tile is decoded.
template <int T, int TE> struct Pipe {
    static constexpr int TB = TileIO<T, TE>::bytes;
    static constexpr bool on = TB <= 8192;
    // <= 18.75 KB (16.03 KB) of stages per CTA for 4096-element tiles
    static constexpr int S = TB <= 4672 ? 4 : 2;
    static constexpr int stride = TB + 16;        // +16: B8 may read 3 bytes past a tile
};

// Issues the copy of `tile` into stage st (whole 16-byte vectors; the bytes
// of a partial last tile past its last whole vector are copied directly:
// the barriers before that stage is read make them visible).
template <int T, int TE>
__device__ __forceinline__ void issue_tile(uint8_t *st, const uint8_t *__restrict__ src, int64_t n, int64_t tile) {
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz, TB = TileIO<T, TE>::bytes;
    const int64_t e0 = tile * TE;
    const int len = (int)(n - e0 < TE ? n - e0 : TE);
    const int bytes = len / BL * TS, nvec = bytes >> 4;
    const uint8_t *s = src + tile * (int64_t)TB;
    for (int i = threadIdx.x; i < nvec; i += kThreads) cp16(st + 16 * i, s + 16 * i);
    for (int i = (nvec << 4) + threadIdx.x; i < bytes; i += kThreads) st[i] = s[i];
}

// Loads (aligned src) the whole 16-byte vectors of `tile` into r.
template <int T, int TE, int NV>
__device__ __forceinline__ void fetch_tile(uint4 (&r)[NV], const uint8_t *__restrict__ src, int64_t n, int64_t tile) {
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz, TB = TileIO<T, TE>::bytes;
    const int64_t e0 = tile * TE;
    const int len = (int)(n - e0 < TE ? n - e0 : TE);
    const int nvec = (len / BL * TS) >> 4;  // whole 16-byte vectors of the tile
    const uint4 *s = reinterpret_cast<const uint4 *>(src + tile * (int64_t)TB);
#pragma unroll
    for (int i = 0; i < NV; i++) {
        const int idx = threadIdx.x + i * kThreads;
        if (idx < nvec) r[i] = __ldcs(s + idx);
    }
}

// CTAs per SM the register budget is cut for: 8 (32 registers, full
// occupancy, no spills) for block types; Q1_0's f32 kernel spills 8 bytes
// at 32, so 6; plain types (larger register prefetch) 4.
template <int T, int TE> struct MinBlocks {
    static constexpr int v = Fmt<T>::blck == 1 ? 4 : T == MLXN_GGML_Q1_0 ? 6 : 8;
};

template <int T, typename O, int TE>
__global__ void __launch_bounds__(kThreads, MinBlocks<T, TE>::v)
dequant_kernel(const uint8_t *__restrict__ src, O *__restrict__ dst, int64_t n, int aligned_src, int store16) {
    pdl_enter();
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz;
    constexpr int TB = TileIO<T, TE>::bytes, NV = TileIO<T, TE>::NV;
    constexpr int S = Pipe<T, TE>::on ? Pipe<T, TE>::S : 1, STR = Pipe<T, TE>::on ? Pipe<T, TE>::stride : TB + 16;
    __shared__ __align__(16) uint8_t sm[S * STR];
    const int64_t ntiles = (n + TE - 1) / TE;
    const int64_t first = blockIdx.x, G = gridDim.x;
    if (first >= ntiles) return;
    if (aligned_src) {
        if constexpr (Pipe<T, TE>::on) {
            // prologue: tiles first, first + G, ..., first + (S-2)G in flight
            // (one commit group each, empty past the end, so the group count
            // stays fixed and wait_group<S-2> always means "the oldest is in")
#pragma unroll
            for (int k = 0; k < S - 1; k++) {
                if (first + k * G < ntiles) issue_tile<T, TE>(sm + k * STR, src, n, first + k * G);
                cp_commit();
            }
            int stage = 0;
            for (int64_t tile = first; tile < ntiles; tile += G) {
                cp_wait<S - 2>();  // this thread's copies of `tile` have landed
                __syncthreads();   // everyone's have; everyone is done with the stage read last time
                const int64_t ahead = tile + (int64_t)(S - 1) * G;
                const int ws = stage == 0 ? S - 1 : stage - 1;  // the stage read last iteration
                if (ahead < ntiles) issue_tile<T, TE>(sm + ws * STR, src, n, ahead);
                cp_commit();
                const int64_t e0 = tile * TE;
                const int len = (int)(n - e0 < TE ? n - e0 : TE);
                if (len == TE && store16) emit_full<T, O, TE>(sm + stage * STR, dst + e0);
                else emit_tile<T, O>(sm + stage * STR, dst + e0, len, store16 != 0);
                stage = stage == S - 1 ? 0 : stage + 1;
            }
            cp_wait<0>();
        } else {
            // register prefetch of the CTA's next tile
            uint4 r[NV];
            fetch_tile<T, TE, NV>(r, src, n, first);
            for (int64_t tile = first; tile < ntiles; tile += G) {
                const int64_t e0 = tile * TE;
                const int len = (int)(n - e0 < TE ? n - e0 : TE);
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
                if (tile + G < ntiles) fetch_tile<T, TE, NV>(r, src, n, tile + G);
                if (len == TE && store16) emit_full<T, O, TE>(sm, dst + e0);
                else emit_tile<T, O>(sm, dst + e0, len, store16 != 0);
            }
        }
    } else {
        for (int64_t tile = first; tile < ntiles; tile += G) {
            const int64_t e0 = tile * TE;
            const int len = (int)(n - e0 < TE ? n - e0 : TE);
            const int bytes = len / BL * TS;
            const uint8_t *s = src + tile * (int64_t)TB;
            __syncthreads();
            for (int i = threadIdx.x; i < bytes; i += kThreads) sm[i] = s[i];
            __syncthreads();
            emit_tile<T, O>(sm, dst + e0, len, store16 != 0);
        }
    }
}

// Direct variant (kernel lab): no staging. Each CTA takes one tile (grid =
// tiles) and decodes it straight from global memory: dec8 on the raw bytes
// (the loads of the tile's groups are independent, so they are all in
// flight before the first store). B8 may read 3 bytes past a group's bytes,
// so a tile within 16 bytes of the end of src, or a partial one, is staged
// in shared memory first (the slow path, once per tensor).
template <int T, typename O, int TE>
__device__ __forceinline__ void emit_full_g(const uint8_t *__restrict__ s, O *__restrict__ dst) {
    constexpr int BL = Fmt<T>::blck;
    constexpr int TS = Fmt<T>::tsz;
    constexpr int NG = TE / (kThreads * 8);
    if constexpr (IsF32<O>::v) {
        float v[NG][8];
#pragma unroll
        for (int it = 0; it < NG; it++) {
            const int el = threadIdx.x * 8 + it * kThreads * 8;
            dec8<T>(s + (el / BL) * TS, el % BL, v[it]);
        }
#pragma unroll
        for (int it = 0; it < NG; it++) st8_pair(dst + threadIdx.x * 8 + it * kThreads * 8, v[it]);
    } else {
        uint32_t w[NG][4];
#pragma unroll
        for (int it = 0; it < NG; it++) {
            const int el = threadIdx.x * 8 + it * kThreads * 8;
            float v[8];
            dec8<T>(s + (el / BL) * TS, el % BL, v);
#pragma unroll
            for (int k = 0; k < 4; k++) w[it][k] = pk2(dst, v[2 * k], v[2 * k + 1]);
        }
#pragma unroll
        for (int it = 0; it < NG; it++)
            stv4(dst + threadIdx.x * 8 + it * kThreads * 8, w[it][0], w[it][1], w[it][2], w[it][3]);
    }
}

template <int T, typename O, int TE, int MB>
__global__ void __launch_bounds__(kThreads, MB)
dequant_direct(const uint8_t *__restrict__ src, O *__restrict__ dst, int64_t n) {
    pdl_enter();
    constexpr int BL = Fmt<T>::blck, TS = Fmt<T>::tsz, TB = TE / BL * TS;
    __shared__ __align__(16) uint8_t sm[TB + 16];
    const int64_t ntiles = (n + TE - 1) / TE, nbytes = n / BL * TS;
    for (int64_t tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const int64_t e0 = tile * TE;
        const int len = (int)(n - e0 < TE ? n - e0 : TE);
        const uint8_t *s = src + tile * (int64_t)TB;
        if (len == TE && (tile + 1) * (int64_t)TB + 16 <= nbytes) {
            emit_full_g<T, O, TE>(s, dst + e0);
        } else {
            const int bytes = len / BL * TS;
            __syncthreads();
            for (int i = threadIdx.x; i < bytes; i += kThreads) sm[i] = s[i];
            __syncthreads();
            emit_tile<T, O>(sm, dst + e0, len, true);
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

template <int T, typename O, int TE> int launch_o(const Launch &L) {
    const int64_t ntiles = (L.n + TE - 1) / TE;
    // one wave of co-resident CTAs (blocks per SM from the occupancy
    // calculator, asked once per kernel), grid-stride beyond: a grid larger
    // than what fits would leave a second, partial wave
    static std::atomic<int> per_sm{0};
    int b = per_sm.load(std::memory_order_relaxed);
    if (b <= 0) {
        // the stages of 8 CTAs (up to 150 KB) need the large shared carveout;
        // the kernel reads nothing through L1
        MLXN_CK(cudaFuncSetAttribute(dequant_kernel<T, O, TE>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                     (int)cudaSharedmemCarveoutMaxShared));
        MLXN_CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, dequant_kernel<T, O, TE>, kThreads, 0));
        if (b <= 0) b = 1;
        per_sm.store(b, std::memory_order_relaxed);
    }
    const int64_t cap = (int64_t)(L.sm_count > 0 ? L.sm_count : 1) * b;
    const unsigned grid = (unsigned)(ntiles < cap ? ntiles : cap);
    const int aligned_src = ((uintptr_t)L.src & 15) == 0;
    const int store16 = ((uintptr_t)L.dst & 15) == 0;
    MLXN_CK(launch_k(dequant_kernel<T, O, TE>, dim3(grid), dim3(kThreads), 0, L.st, L.pdl, L.src,
                     static_cast<O *>(L.dst), L.n, aligned_src, store16));
    return MLXN_OK;
}

// MLXN_CUDA_DEQ_DIRECT=0 (kernel lab): every call takes the ring kernel.
static bool direct_on() {
    static std::atomic<int> t{-1};
    int v = t.load(std::memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("MLXN_CUDA_DEQ_DIRECT");
        v = e && e[0] == '0' ? 0 : 1;
        t.store(v, std::memory_order_relaxed);
    }
    return v == 1;
}
template <int T, typename O, int MB> int launch_direct(const Launch &L) {
    constexpr int TE = 4096;
    const int64_t ntiles = (L.n + TE - 1) / TE;
    const unsigned grid = (unsigned)(ntiles < (1 << 24) ? ntiles : (1 << 24));
    MLXN_CK(launch_k(dequant_direct<T, O, TE, MB>, dim3(grid), dim3(kThreads), 0, L.st, L.pdl, L.src,
                     static_cast<O *>(L.dst), L.n));
    return MLXN_OK;
}
// Kernel choice: a block type with src and dst 16-byte aligned takes the
// direct kernel (4096-element tiles; 16-bit outputs 8 CTAs an SM, 32
// registers; f32 outputs, which hold twice the results, 4 CTAs and 64
// registers, so none spills); plain types and misaligned views take the ring
// kernel.
template <int T, typename O> int launch_te(const Launch &L) {
    if constexpr (Fmt<T>::blck > 1) {
        if (direct_on() && ((uintptr_t)L.src & 15) == 0 && ((uintptr_t)L.dst & 15) == 0)
            return launch_direct<T, O, IsF32<O>::v ? 4 : 8>(L);
    }
    return launch_o<T, O, 4096>(L);
}
template <int T> int launch_t(const Launch &L) {
    switch (L.odt) {
    case MLXN_F32: return launch_te<T, float>(L);
    case MLXN_F16: return launch_te<T, __half>(L);
    default: return launch_te<T, __nv_bfloat16>(L);
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
