/* mlx_quant.c — placeholder. */
#include "internal.h"

typedef int mlxn_io_mlx_quant_placeholder;
