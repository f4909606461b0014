/* ref_quant_mlx.h — float64/integer references of the quant_mlx family
   (MLX's affine, mxfp4, mxfp8 and nvfp4 formats; include/mlxn.h documents
   them). Written from the format description, sharing no code with the
   library: codes are read bit by bit from the stream, element values come
   from ldexp formulas, and the f32 operations of the contract are emulated
   in double (a product of an 8-bit code and an f32 is exact in double; a
   double-rounded f32 sum equals the f32 sum because 53 >= 2*24 + 2). */
#ifndef MLXN_REF_QUANT_MLX_H
#define MLXN_REF_QUANT_MLX_H

#include <stdint.h>

/* The code of element k of a row of K elements, row r, of the packed bytes w
   (one LSB-first bit stream across rows). */
uint32_t ref_mlxq_code(const unsigned char *w, int64_t K, int bits, int64_t r, int64_t k);

double ref_mlxq_e2m1(uint32_t nibble);
double ref_mlxq_e4m3(uint32_t byte);   /* E4M3FN: 0x7F/0xFF NaN, no infinities */
double ref_mlxq_e8m0(uint32_t byte);   /* 2^(s-127), 255 -> +inf               */

/* Row `src` of a quantized table (K elements), dequantized as the contract
   says, times `mult` (1: none), each value an f32 result held in a double.
   mode: 0 affine, 1 mxfp4, 2 mxfp8, 3 nvfp4. Affine: sv/bv are the scales and
   biases as doubles ([rows, K/gs]); fp modes: sb the u8 scales. gfac: the
   nvfp4 global factor as an f32 value (it may be 0), or -1 for none. */
void ref_mlxq_row(int mode, int bits, int gs, const unsigned char *w, const double *sv, const double *bv,
                  const unsigned char *sb, int64_t K, int64_t src, double gfac, double mult, double *out);

#endif
