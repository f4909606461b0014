// quant_ggml.cu — placeholder: CUDA kernels of the quant_ggml family.
#include "cuda_common.h"
