/* elementwise.cu — placeholder: the kernels of this family are being written. */
#include "cuda_common.h"

extern "C" int mlxn_cuda_unary(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_binary(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_glu(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_cast(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

