/* backward.c — placeholder: the backward family is being written. */
#include "internal.h"

typedef int mlxn_backward_ops_placeholder;
