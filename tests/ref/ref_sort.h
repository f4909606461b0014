/* ref_sort.h — references of the sort family, written from the contract in
   include/mlxn.h ("Sorting and top-k"), sharing no code with the library.
   Inputs are double arrays [rows, n] holding the exact values the device
   sees (already rounded to the input dtype). */
#ifndef MLXN_REF_SORT_H
#define MLXN_REF_SORT_H

#include <stdint.h>

/* idx[r][j] = the index of the j-th element of row r in descending
   (ascending = 0) or ascending value order, by a stable merge sort over the
   indices with the contract's compare: NaNs are equal to each other and
   larger than everything, -0 == +0 (double compare), ties keep index order. */
void ref_argsort(const double *x, int64_t rows, int64_t n, int ascending, int32_t *idx);

/* idx[r][j], j < k: the first k entries of the descending ref_argsort of row r. */
void ref_top_k(const double *x, int64_t rows, int64_t n, int k, int32_t *idx);

#endif
