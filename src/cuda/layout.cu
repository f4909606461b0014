/* layout.cu — placeholder: the kernels of this family are being written. */
#include "cuda_common.h"

extern "C" int mlxn_cuda_gather_rows(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_permute(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_copy_2d(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_repeat_heads(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

extern "C" int mlxn_cuda_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cuda backend yet", c->name);
}

