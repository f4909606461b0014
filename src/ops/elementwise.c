/* elementwise.c — validation and planning of the elementwise family (being written). */
#include "internal.h"
