/* norm.c — validation and planning of the norm family (being written). */
#include "internal.h"
