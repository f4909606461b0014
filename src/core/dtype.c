/* dtype.c — element sizes, names and exact f16/bf16 conversions. */
#include "internal.h"

#include <string.h>

size_t mlxn_dtype_size(mlxn_dtype t) {
    switch (t) {
    case MLXN_F32: case MLXN_I32: case MLXN_U32: return 4;
    case MLXN_F16: case MLXN_BF16: case MLXN_I16: case MLXN_U16: return 2;
    case MLXN_I8: case MLXN_U8: return 1;
    case MLXN_I64: return 8;
    }
    return 0;
}

const char *mlxn_dtype_name(mlxn_dtype t) {
    static const char *names[MLXN_DTYPE_COUNT] = {"f32", "f16", "bf16", "i8", "u8",
                                                  "i16", "u16", "i32", "u32", "i64"};
    if ((unsigned)t >= MLXN_DTYPE_COUNT) return "invalid";
    return names[t];
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* f32 -> binary16, round to nearest even. Works on the bit pattern so the
   result does not depend on the FPU's rounding mode or on _Float16 support. */
uint16_t mlxn_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) { /* Inf or NaN: keep NaN quiet and non-zero */
        if (man == 0) return sign | 0x7c00u;
        return (uint16_t)(sign | 0x7e00u | (man >> 13));
    }
    int32_t e = (int32_t)exp - 127 + 15; /* biased f16 exponent */
    if (e >= 31) return sign | 0x7c00u;  /* overflow -> Inf */
    if (e <= 0) {
        /* subnormal f16 (or zero): value = m * 2^-24 with m = full mantissa >> shift */
        if (e < -10) return sign; /* below half the smallest subnormal -> 0 */
        uint32_t m = man | 0x800000u;            /* implicit 1 */
        uint32_t shift = (uint32_t)(14 - e);     /* 14..24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q); /* a carry into bit 10 is the smallest normal */
    }
    uint32_t q = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++; /* carry may reach Inf: correct */
    return (uint16_t)(sign | q);
}

float mlxn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: normalize */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400u));
        man &= 0x3ffu;
        return bits_f32(sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13));
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t mlxn_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) /* NaN: quiet, keep sign */
        return (uint16_t)((x >> 16) | 0x40u);
    uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb; /* round to nearest even; overflow correctly becomes Inf */
    return (uint16_t)(x >> 16);
}

float mlxn_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }
