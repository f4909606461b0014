/* fused_norm.c (CPU) — placeholder: the kernels of this family are being written. */
#include "cpu.h"
#include "mlxn.h"

int mlxn_cpu_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

