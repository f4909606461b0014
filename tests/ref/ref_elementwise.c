/* ref_elementwise.c — float64 references of the elementwise family (being written). */
#include "mlxn.h"
