// quant_mlx.cu — placeholder: CUDA kernels of the quant_mlx family.
#include "cuda_common.h"
