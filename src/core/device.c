/* device.c — opening devices, device memory with counters. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mlxn_backend_vtable *vtable_for(mlxn_backend b) {
    switch (b) {
    case MLXN_BACKEND_CPU: return &mlxn_cpu_backend;
#ifdef MLXN_HAVE_CUDA
    case MLXN_BACKEND_CUDA: return &mlxn_cuda_backend;
#endif
    default: return NULL;
    }
}

int mlxn_device_count(mlxn_backend b) {
    if (b == MLXN_BACKEND_AUTO) return mlxn_device_count(MLXN_BACKEND_CUDA) + 1;
    const mlxn_backend_vtable *vt = vtable_for(b);
    return vt ? vt->device_count() : 0;
}

mlxn_status mlxn_device_open(mlxn_backend b, int index, mlxn_device **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "device_open: out is NULL");
    *out = NULL;
    if (b == MLXN_BACKEND_AUTO) {
        b = mlxn_device_count(MLXN_BACKEND_CUDA) > index ? MLXN_BACKEND_CUDA : MLXN_BACKEND_CPU;
        if (b == MLXN_BACKEND_CPU) index = 0;
    }
    if (b != MLXN_BACKEND_CPU && b != MLXN_BACKEND_CUDA)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "device_open: unknown backend %d", (int)b);
    const mlxn_backend_vtable *vt = vtable_for(b);
    if (!vt)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "device_open: this build of mlxn has no CUDA backend");
    int n = vt->device_count();
    if (index < 0 || index >= n)
        return mlxn_set_error(MLXN_ERR_NOT_FOUND, "device_open: %s device %d does not exist (%d present)",
                              vt->name, index, n);
    mlxn_device *d = calloc(1, sizeof *d);
    if (!d) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory");
    d->kind = b;
    d->index = index;
    d->vt = vt;
    int s = vt->device_open(index, &d->impl, d->name, sizeof d->name);
    if (s != MLXN_OK) { free(d); return (mlxn_status)s; }
    *out = d;
    return MLXN_OK;
}

void mlxn_device_close(mlxn_device *d) {
    if (!d) return;
    d->vt->device_close(d->impl);
    free(d);
}

mlxn_backend mlxn_device_backend(const mlxn_device *d) { return d ? d->kind : MLXN_BACKEND_AUTO; }
const char *mlxn_device_name(const mlxn_device *d) { return d ? d->name : "(null)"; }

mlxn_status mlxn_device_synchronize(mlxn_device *d) {
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "device_synchronize: device is NULL");
    atomic_fetch_add(&d->n_syncs, 1);
    return (mlxn_status)d->vt->device_synchronize(d->impl);
}

void mlxn_device_counters(const mlxn_device *d, mlxn_counters *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!d) return;
    mlxn_device *m = (mlxn_device *)d;
    out->dispatches = atomic_load(&m->n_dispatches);
    out->device_allocs = atomic_load(&m->n_allocs);
    out->device_frees = atomic_load(&m->n_frees);
    out->bytes_allocated = atomic_load(&m->n_bytes_alloc);
    out->syncs = atomic_load(&m->n_syncs);
    out->graph_launches = atomic_load(&m->n_graph_launches);
}

void mlxn_device_counters_reset(mlxn_device *d) {
    if (!d) return;
    atomic_store(&d->n_dispatches, 0);
    atomic_store(&d->n_allocs, 0);
    atomic_store(&d->n_frees, 0);
    atomic_store(&d->n_bytes_alloc, 0);
    atomic_store(&d->n_syncs, 0);
    atomic_store(&d->n_graph_launches, 0);
}

mlxn_status mlxn_device_alloc(mlxn_device *d, size_t nbytes, void **ptr) {
    int s = d->vt->alloc(d->impl, nbytes, ptr);
    if (s != MLXN_OK) return (mlxn_status)s;
    atomic_fetch_add(&d->n_allocs, 1);
    atomic_fetch_add(&d->n_bytes_alloc, nbytes);
    return MLXN_OK;
}

void mlxn_device_free_mem(mlxn_device *d, void *ptr, size_t nbytes) {
    (void)nbytes;
    if (!ptr) return;
    d->vt->free(d->impl, ptr);
    atomic_fetch_add(&d->n_frees, 1);
}
