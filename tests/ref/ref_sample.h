/* ref_sample.h — float64 references of the sample family. */
#ifndef MLXN_REF_SAMPLE_H
#define MLXN_REF_SAMPLE_H

#include <stdint.h>

#endif
