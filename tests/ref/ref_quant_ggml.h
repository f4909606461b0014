/* ref_quant_ggml.h — float64 references of the quant_ggml family. */
#ifndef MLXN_REF_QUANT_GGML_H
#define MLXN_REF_QUANT_GGML_H

#include <stdint.h>

#endif
