/* reduce.c (CPU) — placeholder: the kernels of this family are being written. */
#include "cpu.h"
#include "mlxn.h"

int mlxn_cpu_argmax(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_cumsum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

int mlxn_cpu_row_sum(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the cpu backend yet", c->name);
}

