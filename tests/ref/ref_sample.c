/* ref_sample.c — float64 references of the sample family. */
#include "ref_sample.h"

typedef int mlxn_ref_sample_placeholder;
