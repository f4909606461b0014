/* ref_softmax.h — float64 reference of the softmax family, written from the
   math in include/mlxn.h (ggml soft_max_ext order), sharing no code with the
   library. Inputs and outputs are double arrays. */
#ifndef MLXN_REF_SOFTMAX_H
#define MLXN_REF_SOFTMAX_H

#include <stdint.h>

/* x, y: [rows, cols]; mask: NULL or [mask_rows, cols], row r uses mask row
   r % mask_rows. z = x*scale; z = softcap*tanh(z/softcap) if softcap > 0;
   z += mask; y = exp(z - max z) / sum. A row with a NaN z is all NaN; a row
   whose z is all -inf is all zeros. */
void ref_softmax(const double *x, const double *mask, double *y, int64_t rows, int64_t cols, int64_t mask_rows,
                 double scale, double softcap);

#endif
