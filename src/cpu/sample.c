/* sample.c — placeholder: CPU kernels of the sample family. */
#include "cpu.h"

typedef int mlxn_sample_cpu_placeholder;
