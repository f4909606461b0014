/* load.c — placeholder. */
#include "internal.h"

typedef int mlxn_io_load_placeholder;
