/* quant_ggml.c — placeholder: CPU kernels of the quant_ggml family. */
#include "cpu.h"

typedef int mlxn_quant_ggml_cpu_placeholder;
