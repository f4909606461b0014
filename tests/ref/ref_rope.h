/* ref_rope.h — float64 reference implementations of the RoPE family, written
   from the math in include/mlxn.h and DESIGN.md (ggml/HF semantics), sharing
   no code with the library. Inputs and outputs are double arrays; positions
   are given as int64 so i32 and u32 are both represented exactly. */
#ifndef MLXN_REF_ROPE_H
#define MLXN_REF_ROPE_H

#include <stdint.h>

#include "mlxn.h"

/* x, y: [batch*seq, n_heads, head_dim]; pos: [seq]; ff: NULL or [n_dims/2]. */
void ref_rope(const double *x, double *y, int64_t batch, int64_t seq, int64_t n_heads, int64_t head_dim,
              const int64_t *pos, const double *ff, const mlxn_rope_params *p);

/* x, y: [seq, n_heads, head_dim]; pos: [4*seq] axis-major. */
void ref_rope_multi(const double *x, double *y, const int64_t *pos, const mlxn_rope_multi_params *p);

/* x, y: [seq, n_heads, head_dim]; pos_x, pos_y: [seq]. */
void ref_vision_2d_rope(const double *x, double *y, const int64_t *pos_x, const int64_t *pos_y,
                        const mlxn_vision_2d_rope_params *p);

#endif
