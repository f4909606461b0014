/* cpu_math.h — small vectorizable math helpers for the CPU kernels. */
#ifndef MLXN_CPU_MATH_H
#define MLXN_CPU_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* sin and cos of a double angle, written branch-free so that a loop over
   angles vectorizes. Cody-Waite reduction by pi/2 in double (absolute error
   about |x| * 1e-17, so positions up to millions keep ~1e-10 accuracy), then
   Taylor polynomials on [-pi/4, pi/4] whose truncation error is below 1e-16. */
static inline void mlxn_sincos_d(double x, double *s_out, double *c_out) {
    const double two_over_pi = 0.63661977236758134308;
    const double pio2_hi = 1.57079632679489655800e+00; /* pi/2 rounded to double */
    const double pio2_lo = 6.12323399573676603587e-17; /* pi/2 - pio2_hi        */
    double k = floor(x * two_over_pi + 0.5);
    double r = (x - k * pio2_hi) - k * pio2_lo;
    double r2 = r * r;
    double s = r * (1.0 + r2 * (-1.0 / 6 + r2 * (1.0 / 120 + r2 * (-1.0 / 5040 + r2 * (1.0 / 362880 +
               r2 * (-1.0 / 39916800 + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0))))))));
    double c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 + r2 * (1.0 / 40320 + r2 * (-1.0 / 3628800 +
               r2 * (1.0 / 479001600 + r2 * (-1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0))))))));
    /* quadrant k mod 4 in double arithmetic, so the selects vectorize */
    double q = k - 4.0 * floor(k * 0.25);
    bool odd = q == 1.0 || q == 3.0;
    double ss = odd ? c : s;
    double cc = odd ? s : c;
    *s_out = q >= 2.0 ? -ss : ss;
    *c_out = (q == 1.0 || q == 2.0) ? -cc : cc;
}

static inline float mlxn_h2f(uint16_t h) {
    /* branch-light f16 -> f32 for kernels (exact, incl. subnormals via scaling) */
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    uint32_t bits;
    if (em >= 0x7c00u) bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13);
    else if (em >= 0x400u) bits = sign | ((em + ((127u - 15u) << 10)) << 13);
    else {
        float f = (float)em * 5.9604644775390625e-08f; /* 2^-24 */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float mlxn_b2f(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* f32 -> bf16, round to nearest even, NaN kept quiet: branch-free so loops vectorize. */
static inline uint16_t mlxn_f2b(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (uint16_t)(((u & 0x7fffffffu) > 0x7f800000u) ? nan : r);
}

/* f32 -> f16 with the compiler's correctly rounded conversion where the
   target has one (F16C), else the library's exact bit-level routine. */
#if defined(__FLT16_MANT_DIG__) && defined(__F16C__)
static inline uint16_t mlxn_f2h(float f) {
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, 2);
    return u;
}
static inline float mlxn_h2f_fast(uint16_t u) {
    _Float16 h;
    memcpy(&h, &u, 2);
    return (float)h;
}
#else
uint16_t mlxn_f32_to_f16(float f);
static inline uint16_t mlxn_f2h(float f) { return mlxn_f32_to_f16(f); }
static inline float mlxn_h2f_fast(uint16_t u) { return mlxn_h2f(u); }
#endif

#endif
