/* quant_ggml.c (CPU) — dequantize_ggml: raw ggml blocks -> f32/f16/bf16.
   Plan slots and argument order: src/ops/quant_ggml.c.

   Block layouts (ggml-common.h; little-endian; f16 = IEEE binary16), by
   byte offset. "Q4_0 order": byte j of qs holds element j in its low nibble
   and element j + half in its high nibble.
     Q4_0   32 el, 18 B: d f16 @0, qs[16] @2            y = (q - 8) * d
     Q4_1   32 el, 20 B: d @0, m @2, qs[16] @4          y = q * d + m
     Q5_0   32 el, 22 B: d @0, qh u32 @2, qs @6         q |= bit j of qh << 4; y = (q - 16) * d
     Q5_1   32 el, 24 B: d @0, m @2, qh @4, qs @8       y = q * d + m
     Q8_0   32 el, 34 B: d @0, qs i8[32] @2             y = q * d
     Q8_1   32 el, 36 B: d @0, s @2 (unused), qs @4     y = q * d
     Q2_K  256 el, 84 B: scales[16] @0, qs[64] @16, d @80, dmin @82
     Q3_K  256 el,110 B: hmask[32] @0, qs[64] @32, scales[12] @96, d @108
     Q4_K  256 el,144 B: d @0, dmin @2, scales[12] @4, qs[128] @16
     Q5_K  256 el,176 B: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
     Q6_K  256 el,210 B: ql[128] @0, qh[64] @128, scales i8[16] @192, d @208
     Q8_K  256 el,292 B: d f32 @0, qs i8[256] @4, bsums i16[16] @260 (unused)
     IQ4_NL 32 el, 18 B: d @0, qs[16] @2 (Q4_0 order)    y = d * kvalues_iq4nl[q]
     IQ4_XS 256 el,136 B: d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8
     MXFP4  32 el, 17 B: e (E8M0) @0, qs[16] @1           y = kvalues_mxfp4[q] * 2^(e-128)
     NVFP4  64 el, 36 B: d[4] (UE4M3) @0, qs[32] @4      per 16: y = kvalues_mxfp4[q] * ue4m3(d[s])/2
     Q1_0  128 el, 18 B: d @0, qs[16] @2                 bit j: y = bit ? d : -d
     Q2_0   64 el, 18 B: d @0, qs[16] @2                 y = ((qs[j/4] >> 2(j%4)) & 3) - 1) * d
   Each formula is evaluated as ggml's dequantize_row_<type> does (e.g. Q4_K:
   d1 = d * sc, m1 = dmin * m, y = d1 * q - m1), one rounding per operation:
   this file is ISO C11 (GCC does not contract into FMAs there).

   Parallelism: OpenMP over runs of blocks; each block is decoded into a
   stack buffer of f32 (or straight into an f32 output), then rounded to
   f16/bf16. Plain types (F32/F16/BF16/F64/I8/I16/I32) are converted by
   one vectorizable loop per type; F32->f32, F16->f16 and BF16->bf16 are
   copies (the same values as the f32 round trip, NaN payloads kept).

   Single-thread cost on the dev machine (2-core x86 with AVX2/F16C, 4M
   elements, f32 / f16 output): q4_0 0.31 / 0.51 ns per element, q8_0
   0.29 / 0.47, q4_k 0.19 / 0.48, q6_k 0.35 / 0.58, mxfp4 0.54 / 0.88,
   iq4_xs 0.63 / 0.96 (the table formats look codes up one at a time). */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

static inline float ldh(const uint8_t *p) { return mlxn_h2f((uint16_t)(p[0] | (p[1] << 8))); }

static const int8_t K_IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static const int8_t K_FP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static inline float e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* UE4M3 (bias 7, 3 mantissa bits; 0x00 and 0x7F are 0; bit 7 ignored) times 0.5, exact. */
static inline float ue4m3_half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int ex = (x >> 3) & 0xF, man = x & 7;
    if (ex == 0) return (float)man * 0x1p-10f;
    uint32_t bits = (uint32_t)(ex - 11 + 127) << 23;
    float p2;
    memcpy(&p2, &bits, 4);
    return (float)(8 + man) * p2;
}

static inline void k4_scale_min(const uint8_t *q, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void dq_q4_0(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y) {
    const float d = ldh(b), m = ldh(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        const float a0 = (float)(qs[j] & 0xF) * d, a1 = (float)(qs[j] >> 4) * d;
        y[j] = a0 + m;
        y[j + 16] = a1 + m;
    }
}

static inline uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void dq_q5_0(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const uint32_t qh = ld32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        const int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
        const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = (float)(q0 - 16) * d;
        y[j + 16] = (float)(q1 - 16) * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y) {
    const float d = ldh(b), m = ldh(b + 2);
    const uint32_t qh = ld32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        const int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
        const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        const float a0 = (float)q0 * d, a1 = (float)q1 * d;
        y[j] = a0 + m;
        y[j + 16] = a1 + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

static void dq_q8_1(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const int8_t *qs = (const int8_t *)(b + 4);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

static void dq_q2_K(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *qs = b + 16;
    const float d = ldh(b + 80), dmin = ldh(b + 82);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int half = 0; half < 2; half++) {
                const uint8_t s = sc[8 * h + 2 * j + half];
                const float dl = d * (float)(s & 0xF), ml = dmin * (float)(s >> 4);
                float *o = y + 128 * h + 32 * j + 16 * half;
                const uint8_t *q = qs + 32 * h + 16 * half;
                for (int l = 0; l < 16; l++) {
                    const float p = dl * (float)((q[l] >> (2 * j)) & 3);
                    o[l] = p - ml;
                }
            }
}

static void dq_q3_K(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *qs = b + 32, *sb = b + 96;
    const float d = ldh(b + 108);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int half = 0; half < 2; half++) {
                const int s = 8 * h + 2 * j + half;
                const int lo = s < 8 ? (sb[s] & 0xF) : (sb[s - 8] >> 4);
                const int hi = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
                const float dl = d * (float)((lo | (hi << 4)) - 32);
                float *o = y + 128 * h + 32 * j + 16 * half;
                for (int l0 = 0; l0 < 16; l0++) {
                    const int l = 16 * half + l0;
                    const int q = (qs[32 * h + l] >> (2 * j)) & 3;
                    const int hb = (hm[l] >> (4 * h + j)) & 1;
                    o[l0] = dl * (float)(q - (hb ? 0 : 4));
                }
            }
}

static void dq_q4_K(const uint8_t *b, float *y) {
    const float d = ldh(b), dmin = ldh(b + 2);
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int c = 0; c < 4; c++) {
        int s1, m1, s2, m2;
        k4_scale_min(sc, 2 * c, &s1, &m1);
        k4_scale_min(sc, 2 * c + 1, &s2, &m2);
        const float d1 = d * (float)s1, mm1 = dmin * (float)m1;
        const float d2 = d * (float)s2, mm2 = dmin * (float)m2;
        const uint8_t *q = qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            const float p1 = d1 * (float)(q[l] & 0xF), p2 = d2 * (float)(q[l] >> 4);
            y[64 * c + l] = p1 - mm1;
            y[64 * c + 32 + l] = p2 - mm2;
        }
    }
}

static void dq_q5_K(const uint8_t *b, float *y) {
    const float d = ldh(b), dmin = ldh(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
    for (int c = 0; c < 4; c++) {
        int s1, m1, s2, m2;
        k4_scale_min(sc, 2 * c, &s1, &m1);
        k4_scale_min(sc, 2 * c + 1, &s2, &m2);
        const float d1 = d * (float)s1, mm1 = dmin * (float)m1;
        const float d2 = d * (float)s2, mm2 = dmin * (float)m2;
        const uint8_t *q = qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            const int q1 = (q[l] & 0xF) + (((qh[l] >> (2 * c)) & 1) ? 16 : 0);
            const int q2 = (q[l] >> 4) + (((qh[l] >> (2 * c + 1)) & 1) ? 16 : 0);
            const float p1 = d1 * (float)q1, p2 = d2 * (float)q2;
            y[64 * c + l] = p1 - mm1;
            y[64 * c + 32 + l] = p2 - mm2;
        }
    }
}

static void dq_q6_K(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = ldh(b + 208);
    for (int h = 0; h < 2; h++)
        for (int is = 0; is < 2; is++) {
            /* elements 128h + 32k + 16is + l, k = 0..3, l < 16: scale sc[8h + is + 2k] */
            const uint8_t *l0 = ql + 64 * h + 16 * is, *hh = qh + 32 * h + 16 * is;
            const float a1 = d * (float)sc[8 * h + is], a2 = d * (float)sc[8 * h + is + 2];
            const float a3 = d * (float)sc[8 * h + is + 4], a4 = d * (float)sc[8 * h + is + 6];
            float *o = y + 128 * h + 16 * is;
#pragma omp simd
            for (int l = 0; l < 16; l++) {
                const int q1 = ((l0[l] & 0xF) | (((hh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((l0[l + 32] & 0xF) | (((hh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((l0[l] >> 4) | (((hh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((l0[l + 32] >> 4) | (((hh[l] >> 6) & 3) << 4)) - 32;
                o[l] = a1 * (float)q1;
                o[l + 32] = a2 * (float)q2;
                o[l + 64] = a3 * (float)q3;
                o[l + 96] = a4 * (float)q4;
            }
        }
}

static void dq_q8_K(const uint8_t *b, float *y) {
    float d;
    memcpy(&d, b, 4);
    const int8_t *qs = (const int8_t *)(b + 4);
    for (int j = 0; j < 256; j++) y[j] = d * (float)qs[j];
}

static void dq_iq4_nl(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)K_IQ4NL[qs[j] & 0xF];
        y[j + 16] = d * (float)K_IQ4NL[qs[j] >> 4];
    }
}

static void dq_iq4_xs(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const unsigned sh = (unsigned)(b[2] | (b[3] << 8));
    const uint8_t *sl = b + 4, *qs = b + 8;
    for (int ib = 0; ib < 8; ib++) {
        const int ls = ((sl[ib / 2] >> (4 * (ib % 2))) & 0xF) | (int)(((sh >> (2 * ib)) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        const uint8_t *q = qs + 16 * ib;
        for (int j = 0; j < 16; j++) {
            y[32 * ib + j] = dl * (float)K_IQ4NL[q[j] & 0xF];
            y[32 * ib + 16 + j] = dl * (float)K_IQ4NL[q[j] >> 4];
        }
    }
}

static void dq_mxfp4(const uint8_t *b, float *y) {
    const float d = e8m0_half(b[0]);
    const uint8_t *qs = b + 1;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)K_FP4[qs[j] & 0xF] * d;
        y[j + 16] = (float)K_FP4[qs[j] >> 4] * d;
    }
}

static void dq_nvfp4(const uint8_t *b, float *y) {
    for (int s = 0; s < 4; s++) {
        const float d = ue4m3_half(b[s]);
        const uint8_t *qs = b + 4 + 8 * s;
        for (int j = 0; j < 8; j++) {
            y[16 * s + j] = (float)K_FP4[qs[j] & 0xF] * d;
            y[16 * s + 8 + j] = (float)K_FP4[qs[j] >> 4] * d;
        }
    }
}

static void dq_q1_0(const uint8_t *b, float *y) {
    const float d = ldh(b), nd = -d;
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 128; j++) y[j] = ((qs[j / 8] >> (j % 8)) & 1) ? d : nd;
}

static void dq_q2_0(const uint8_t *b, float *y) {
    const float d = ldh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 64; j++) y[j] = (float)((int)((qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
}

typedef void (*dq_fn)(const uint8_t *, float *);

static dq_fn dq_of(int type) {
    switch (type) {
    case MLXN_GGML_Q4_0: return dq_q4_0;
    case MLXN_GGML_Q4_1: return dq_q4_1;
    case MLXN_GGML_Q5_0: return dq_q5_0;
    case MLXN_GGML_Q5_1: return dq_q5_1;
    case MLXN_GGML_Q8_0: return dq_q8_0;
    case MLXN_GGML_Q8_1: return dq_q8_1;
    case MLXN_GGML_Q2_K: return dq_q2_K;
    case MLXN_GGML_Q3_K: return dq_q3_K;
    case MLXN_GGML_Q4_K: return dq_q4_K;
    case MLXN_GGML_Q5_K: return dq_q5_K;
    case MLXN_GGML_Q6_K: return dq_q6_K;
    case MLXN_GGML_Q8_K: return dq_q8_K;
    case MLXN_GGML_IQ4_NL: return dq_iq4_nl;
    case MLXN_GGML_IQ4_XS: return dq_iq4_xs;
    case MLXN_GGML_MXFP4: return dq_mxfp4;
    case MLXN_GGML_NVFP4: return dq_nvfp4;
    case MLXN_GGML_Q1_0: return dq_q1_0;
    case MLXN_GGML_Q2_0: return dq_q2_0;
    default: return NULL;
    }
}

#define RUN 1024 /* elements decoded per step of a thread (a stack buffer of 4 KB) */
#define RUN_MAX RUN

/* f32 values -> the output dtype. */
static inline void store_run(int odt, void *dst, int64_t off, const float *v, int n) {
    if (odt == MLXN_F32) {
        memcpy((float *)dst + off, v, sizeof(float) * (size_t)n);
    } else if (odt == MLXN_F16) {
        uint16_t *restrict o = (uint16_t *)dst + off;
        int i = 0;
#if defined(__F16C__) && defined(__AVX__)
        /* 8 at a time with the F16C instruction (round to nearest even), the
           same conversion mlxn_f2h does one element at a time */
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(o + i), _mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT));
#endif
        for (; i < n; i++) o[i] = mlxn_f2h(v[i]);
    } else {
        uint16_t *restrict o = (uint16_t *)dst + off;
        int i = 0;
#if defined(__AVX2__)
        /* mlxn_f2b's formula 8 lanes at a time: round to nearest even on the
           bits, NaN -> quiet NaN with the sign and top payload kept */
        const __m256i k7fff = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
        const __m256i absm = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
        const __m256i qbit = _mm256_set1_epi32(0x40);
        for (; i + 8 <= n; i += 8) {
            const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(v + i));
            const __m256i hi = _mm256_srli_epi32(u, 16);
            __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, k7fff), _mm256_and_si256(hi, one)), 16);
            const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
            r = _mm256_blendv_epi8(r, _mm256_or_si256(hi, qbit), nan);
            _mm_storeu_si128((__m128i *)(o + i),
                             _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
        }
#endif
        for (; i < n; i++) o[i] = mlxn_f2b(v[i]);
    }
}

/* n plain elements (F32 ... I32) starting at p as f32: one simple loop per type. */
static void plain_run(int type, const uint8_t *restrict p, float *restrict o, int n) {
    switch (type) {
    case MLXN_GGML_F32: memcpy(o, p, sizeof(float) * (size_t)n); break;
    case MLXN_GGML_F16: {
        uint16_t h[RUN_MAX];
        memcpy(h, p, 2 * (size_t)n);
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = mlxn_h2f_fast(h[i]);
        break;
    }
    case MLXN_GGML_BF16: {
        uint16_t h[RUN_MAX];
        memcpy(h, p, 2 * (size_t)n);
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = mlxn_b2f(h[i]);
        break;
    }
    case MLXN_GGML_F64: {
        double v[RUN_MAX];
        memcpy(v, p, 8 * (size_t)n);
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = (float)v[i];
        break;
    }
    case MLXN_GGML_I8:
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = (float)(int8_t)p[i];
        break;
    case MLXN_GGML_I16: {
        int16_t v[RUN_MAX];
        memcpy(v, p, 2 * (size_t)n);
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = (float)v[i];
        break;
    }
    default: {
        int32_t v[RUN_MAX];
        memcpy(v, p, 4 * (size_t)n);
#pragma omp simd
        for (int i = 0; i < n; i++) o[i] = (float)v[i];
        break;
    }
    }
}


int mlxn_cpu_dequant_ggml(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const uint8_t *src = c->args[0].ptr;
    void *dst = c->args[1].ptr;
    const int64_t nblocks = c->u.gen.i[0], n = c->u.gen.i[1];
    const int blck = (int)c->u.gen.i[2], tsz = (int)c->u.gen.i[3];
    const int type = c->u.gen.d[0], odt = c->u.gen.d[1];
    const int nt = mlxn_cpu_threads();
    const int64_t nruns = (n + RUN - 1) / RUN;
    const int par = n >= 16384 ? nt : 1;
    const dq_fn fn = dq_of(type);
    if (!fn && blck != 1)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "dequantize_ggml: type %d has no CPU kernel", type);
    (void)nblocks;
#pragma omp parallel for num_threads(par) schedule(static)
    for (int64_t r = 0; r < nruns; r++) {
        float buf[RUN];
        const int64_t e0 = r * RUN;
        const int len = (int)(n - e0 < RUN ? n - e0 : RUN);
        if (blck == 1) {
            const uint8_t *p = src + e0 * tsz;
            /* same format in and out: a copy (exact: the f32 round trip is the identity) */
            if ((type == MLXN_GGML_F32 && odt == MLXN_F32) || (type == MLXN_GGML_F16 && odt == MLXN_F16) ||
                (type == MLXN_GGML_BF16 && odt == MLXN_BF16)) {
                memcpy((char *)dst + e0 * tsz, p, (size_t)tsz * (size_t)len);
                continue;
            }
            plain_run(type, p, buf, len);
        } else {
            /* RUN is a multiple of every block size (32..256), so runs hold whole blocks */
            const int64_t b0 = e0 / blck;
            const int nb = len / blck;
            if (odt == MLXN_F32) {
                for (int k = 0; k < nb; k++) fn(src + (b0 + k) * tsz, (float *)dst + e0 + (int64_t)k * blck);
                continue;
            }
            for (int k = 0; k < nb; k++) fn(src + (b0 + k) * tsz, buf + k * blck);
        }
        store_run(odt, dst, e0, buf, len);
    }
    return MLXN_OK;
}
