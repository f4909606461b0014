/* ref_quant_ggml.c — float64 references of the quant_ggml family. */
#include "ref_quant_ggml.h"

typedef int mlxn_ref_quant_ggml_placeholder;
