// sort.cu — placeholder: CUDA kernels of the sort family.
#include "cuda_common.h"
