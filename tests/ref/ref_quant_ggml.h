/* ref_quant_ggml.h — references of the quant_ggml family, written from the
   block layouts of shared/reference/peers.md §D (not from the kernels):
   a per-element decoder of every block format, and float64 versions of
   ggml's K-quant quantizers for comparing error levels. */
#ifndef MLXN_REF_QUANT_GGML_H
#define MLXN_REF_QUANT_GGML_H

#include <stdint.h>

/* Decodes element j (0 <= j < n) of a tensor of ggml type `type` whose raw
   bytes start at `src`, in f32 with ggml's operation order (what
   dequantize_row_<type> computes). Returns 0 and sets *ok = 0 for a type it
   does not know. */
float ref_ggml_elem(int type, const uint8_t *src, int64_t j, int *ok);

/* Float64 versions of ggml's quantize_row_q4_K_ref / quantize_row_q6_K_ref
   (make_qkx2_quants / make_qx_quants searches in double). They write the
   block's dequantized values (in double, from the chosen integer codes and
   the f16-rounded super-block scales) to y; n is a multiple of 256. */
void ref_quant_q4_K_f64(const float *x, int64_t n, double *y);
void ref_quant_q6_K_f64(const float *x, int64_t n, double *y);

#endif
