/* ref_sort.c — float64 references of the sort family. */
#include "ref_sort.h"

typedef int mlxn_ref_sort_placeholder;
