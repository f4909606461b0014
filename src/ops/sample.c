/* sample.c — placeholder: the sample family is being written. */
#include "internal.h"

typedef int mlxn_sample_ops_placeholder;
