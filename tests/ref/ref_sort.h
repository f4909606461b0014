/* ref_sort.h — float64 references of the sort family. */
#ifndef MLXN_REF_SORT_H
#define MLXN_REF_SORT_H

#include <stdint.h>

#endif
