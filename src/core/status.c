/* status.c — status names and the thread-local last-error message. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char g_last_error[1024];

const char *mlxn_status_str(mlxn_status s) {
    switch (s) {
    case MLXN_OK: return "ok";
    case MLXN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case MLXN_ERR_UNSUPPORTED: return "unsupported";
    case MLXN_ERR_OUT_OF_MEMORY: return "out of memory";
    case MLXN_ERR_DEVICE: return "device error";
    case MLXN_ERR_IO: return "i/o error";
    case MLXN_ERR_FORMAT: return "format error";
    case MLXN_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

const char *mlxn_last_error(void) { return g_last_error; }

void mlxn_clear_error(void) { g_last_error[0] = '\0'; }

static void set_msg(const char *fmt, va_list ap) {
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
}

mlxn_status mlxn_set_error(mlxn_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return s;
}

int mlxn_backend_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return status;
}

const char *mlxn_version(void) { return MLXN_VERSION_STRING; }
