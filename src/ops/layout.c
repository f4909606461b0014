/* layout.c — validation and planning of the layout family (being written). */
#include "internal.h"
