/* quant_mlx.c — placeholder: CPU kernels of the quant_mlx family. */
#include "cpu.h"

typedef int mlxn_quant_mlx_cpu_placeholder;
