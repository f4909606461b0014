// sample.cu — placeholder: CUDA kernels of the sample family.
#include "cuda_common.h"
