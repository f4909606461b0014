/* sort.c — placeholder: the sort family is being written. */
#include "internal.h"

typedef int mlxn_sort_ops_placeholder;
