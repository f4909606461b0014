/* softmax.c — validation and planning of the softmax family (being written). */
#include "internal.h"
