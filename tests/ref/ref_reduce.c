/* ref_reduce.c — float64 references of the reduce family (being written). */
#include "mlxn.h"
