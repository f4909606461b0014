/* quant_ggml.c — placeholder: the quant_ggml family is being written. */
#include "internal.h"

typedef int mlxn_quant_ggml_ops_placeholder;
