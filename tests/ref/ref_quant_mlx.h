/* ref_quant_mlx.h — float64 references of the quant_mlx family. */
#ifndef MLXN_REF_QUANT_MLX_H
#define MLXN_REF_QUANT_MLX_H

#include <stdint.h>

#endif
