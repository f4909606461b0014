/* ref_layout.c — float64 references of the layout family (being written). */
#include "mlxn.h"
