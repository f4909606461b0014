/* safetensors.c — placeholder. */
#include "internal.h"

typedef int mlxn_io_safetensors_placeholder;
