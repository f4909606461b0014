/* quant_mlx.c — placeholder: the quant_mlx family is being written. */
#include "internal.h"

typedef int mlxn_quant_mlx_ops_placeholder;
