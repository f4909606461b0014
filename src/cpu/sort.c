/* sort.c — placeholder: CPU kernels of the sort family. */
#include "cpu.h"

typedef int mlxn_sort_cpu_placeholder;
