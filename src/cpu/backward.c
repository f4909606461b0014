/* backward.c — placeholder: CPU kernels of the backward family. */
#include "cpu.h"

typedef int mlxn_backward_cpu_placeholder;
