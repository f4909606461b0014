/* ref_fused_norm.c — float64 references of the fused_norm family (being written). */
#include "mlxn.h"
