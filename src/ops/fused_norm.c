/* fused_norm.c — validation and planning of the fused_norm family (being written). */
#include "internal.h"
