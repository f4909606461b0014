/* ref_quant_mlx.c — float64 references of the quant_mlx family. */
#include "ref_quant_mlx.h"

typedef int mlxn_ref_quant_mlx_placeholder;
