// backward.cu — placeholder: CUDA kernels of the backward family.
#include "cuda_common.h"
