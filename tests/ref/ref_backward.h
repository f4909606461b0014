/* ref_backward.h — float64 references of the backward family. */
#ifndef MLXN_REF_BACKWARD_H
#define MLXN_REF_BACKWARD_H

#include <stdint.h>

#endif
