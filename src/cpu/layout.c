/* layout.c (CPU) — placeholder: the kernels of this family are being written. */
#include "cpu.h"
#include "mlxn.h"

int mlxn_cpu_gather_rows(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_permute(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_copy_2d(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_repeat_heads(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

