/* ref_backward.c — float64 references of the backward family. */
#include "ref_backward.h"

typedef int mlxn_ref_backward_placeholder;
