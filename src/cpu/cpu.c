/* cpu.c — the CPU backend: host memory, an encoder that runs work as it is
   encoded (so it is always in order and complete), host-clock timers. */
#include "cpu.h"
#include "mlxn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mlxn_cpu_threads(void) {
    static int n = 0;
    if (n == 0) {
        const char *env = getenv("MLXN_NUM_THREADS");
        int v = env ? atoi(env) : 0;
        n = v > 0 ? v : omp_get_max_threads();
    }
    return n;
}

static int cpu_device_count(void) { return 1; }

static int cpu_device_open(int index, void **dev, char *name, size_t name_len) {
    (void)index;
    *dev = NULL;
    snprintf(name, name_len, "cpu (%d threads)", mlxn_cpu_threads());
    return MLXN_OK;
}

static void cpu_device_close(void *dev) { (void)dev; }
static int cpu_sync(void *dev) { (void)dev; return MLXN_OK; }

static int cpu_alloc(void *dev, size_t nbytes, void **ptr) {
    (void)dev;
    /* 64-byte aligned, zero-filled; calloc of a rounded size keeps large
       allocations lazily zeroed by the OS */
    size_t n = (nbytes + 63) & ~(size_t)63;
    if (n < nbytes) return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "cpu: allocation of %zu bytes overflows", nbytes);
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0 || !p)
        return mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "cpu: out of host memory allocating %zu bytes", nbytes);
    memset(p, 0, n ? n : 64);
    *ptr = p;
    return MLXN_OK;
}

static void cpu_free(void *dev, void *ptr) { (void)dev; free(ptr); }

static int cpu_copy_mem(void *dev, void *dst, const void *src, size_t n) {
    (void)dev;
    if (n) memmove(dst, src, n);
    return MLXN_OK;
}

static int cpu_encoder_new(void *dev, void **enc) { (void)dev; *enc = NULL; return MLXN_OK; }
static void cpu_encoder_free(void *dev, void *enc) { (void)dev; (void)enc; }
static int cpu_encoder_wait(void *dev, void *enc) { (void)dev; (void)enc; return MLXN_OK; }

typedef struct { double t[2]; } cpu_timer;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cpu_timer_new(void *dev, void **t) {
    (void)dev;
    *t = calloc(1, sizeof(cpu_timer));
    return *t ? MLXN_OK : mlxn_backend_error(MLXN_ERR_OUT_OF_MEMORY, "timer_new: out of host memory");
}
static void cpu_timer_free(void *dev, void *t) { (void)dev; free(t); }
static int cpu_timer_mark(void *dev, void *t, void *enc, int which) {
    (void)dev;
    (void)enc;
    ((cpu_timer *)t)->t[which] = now_us();
    return MLXN_OK;
}
static int cpu_timer_elapsed(void *dev, void *t, double *us) {
    (void)dev;
    *us = ((cpu_timer *)t)->t[1] - ((cpu_timer *)t)->t[0];
    return MLXN_OK;
}

static int cpu_copy_op(void *dev, void *enc, const mlxn_op_call *c) {
    (void)enc;
    return cpu_copy_mem(dev, c->args[1].ptr, c->args[0].ptr, c->u.copy.nbytes);
}

const mlxn_backend_vtable mlxn_cpu_backend = {
    .name = "cpu",
    .device_count = cpu_device_count,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .device_synchronize = cpu_sync,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .write = cpu_copy_mem,
    .read = cpu_copy_mem,
    .encoder_new = cpu_encoder_new,
    .encoder_free = cpu_encoder_free,
    .encoder_wait = cpu_encoder_wait,
    .begin_capture = NULL,
    .end_capture = NULL,
    .graph_launch = NULL,
    .graph_free = NULL,
    .timer_new = cpu_timer_new,
    .timer_free = cpu_timer_free,
    .timer_mark = cpu_timer_mark,
    .timer_elapsed_us = cpu_timer_elapsed,
    .copy = cpu_copy_op,
    .rope = mlxn_cpu_rope_run,
    .rope_multi = mlxn_cpu_rope_run,
    .vision_2d_rope = mlxn_cpu_rope_run,
};
