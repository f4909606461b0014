/* ref_norm.c — float64 references of the norm family (being written). */
#include "mlxn.h"
