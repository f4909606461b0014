/* reduce.cu — placeholder: the kernels of this family are being written. */
#include "cuda_common.h"

extern "C" int mlxn_cuda_argmax(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_cumsum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_row_sum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

