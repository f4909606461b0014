/* ref_elementwise.h — float64 references of the elementwise family, written
   from the math in include/mlxn.h (no code shared with src/). */
#ifndef MLXN_REF_ELEMENTWISE_H
#define MLXN_REF_ELEMENTWISE_H

#include <stdint.h>

#include "mlxn.h"

/* y[i] = op(x[i]) for i < n (alpha: SCALE, SOFTCAP). */
void ref_unary(mlxn_unary_op op, double alpha, const double *x, double *y, int64_t n);
/* y[i] = a[i] op b[i % nb] for i < n. */
void ref_binary(mlxn_binary_op op, const double *a, const double *b, int64_t nb, double *y, int64_t n);
/* y[r, c] = act(gate) * up over rows x cols outputs. up != NULL: split, gate
   and up [rows, cols]; up == NULL: fused, gate [rows, 2 cols] (gate half, then up half). */
void ref_glu(mlxn_glu_op op, const double *gate, const double *up, double *y, int64_t rows, int64_t cols);

#endif
