/* ref_reduce.h — float64 references of the reduce family, written from the
   contracts in include/mlxn.h ("Reductions"), sharing no code with the
   library. Inputs are double arrays [rows, n] holding the exact values the
   device sees (already rounded to the input dtype). */
#ifndef MLXN_REF_REDUCE_H
#define MLXN_REF_REDUCE_H

#include <stdint.h>

/* idx[r] = the index of the max of row r: ties go to the lowest index; a NaN
   counts as larger than everything (the first NaN wins, as numpy.argmax).
   val[r] (if val != NULL) = that element. */
void ref_argmax(const double *x, int64_t rows, int64_t n, int64_t *idx, double *val);

/* y[r][i] = sum of x[r][0..i] (inclusive) or x[r][0..i) (exclusive); reverse
   runs the sums from the end of the row: y[i] = sum x[i..n-1] (or (i..n-1]).
   Plain double accumulation. */
void ref_cumsum(const double *x, double *y, int64_t rows, int64_t n, int exclusive, int reverse);

/* y[r] = sum of row r, in double. */
void ref_row_sum(const double *x, double *y, int64_t rows, int64_t n);

#endif
