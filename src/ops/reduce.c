/* reduce.c — validation and planning of the reduce family (being written). */
#include "internal.h"
