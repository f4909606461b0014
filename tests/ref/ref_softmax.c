/* ref_softmax.c — float64 references of the softmax family (being written). */
#include "mlxn.h"
