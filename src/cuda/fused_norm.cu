/* fused_norm.cu — placeholder: the kernels of this family are being written. */
#include "cuda_common.h"

extern "C" int mlxn_cuda_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

