/* buffer.c — refcounted storage and typed views. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void mlxn_storage_retain(mlxn_storage *s) { atomic_fetch_add(&s->refs, 1); }

void mlxn_pool_storage_released(mlxn_storage *s); /* pool.c */

void mlxn_storage_release(mlxn_storage *s) {
    if (!s) return;
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    if (s->pool) { mlxn_pool_storage_released(s); return; }
    mlxn_device_free_mem(s->dev, s->ptr, s->nbytes);
    free(s);
}

mlxn_status mlxn_shape_check(const char *who, mlxn_dtype t, int ndim, const int64_t *shape,
                             int64_t *numel, size_t *nbytes) {
    size_t es = mlxn_dtype_size(t);
    if (es == 0) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d", who, (int)t);
    if (ndim < 0 || ndim > MLXN_MAX_DIMS)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: ndim (%d) must be in [0, %d]", who, ndim,
                              MLXN_MAX_DIMS);
    if (ndim > 0 && !shape) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: shape is NULL", who);
    /* cap total bytes at 2^62 so every later offset computation fits in int64 */
    const uint64_t limit = (uint64_t)1 << 62;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: shape[%d] (%lld) must be >= 1", who, i,
                                  (long long)shape[i]);
        if ((uint64_t)shape[i] > limit / n / es)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: shape too large (dim %d = %lld overflows)",
                                  who, i, (long long)shape[i]);
        n *= (uint64_t)shape[i];
    }
    *numel = (int64_t)n;
    *nbytes = (size_t)(n * es);
    return MLXN_OK;
}

static void set_shape(mlxn_buffer *b, mlxn_dtype t, int ndim, const int64_t *shape, int64_t numel,
                      size_t nbytes) {
    b->dtype = t;
    b->ndim = ndim;
    for (int i = 0; i < ndim; i++) b->shape[i] = shape[i];
    b->numel = numel;
    b->nbytes = nbytes;
}

mlxn_status mlxn_buffer_new(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, mlxn_buffer **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_new: out is NULL");
    *out = NULL;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_new: device is NULL");
    int64_t numel;
    size_t nbytes;
    mlxn_status s = mlxn_shape_check("buffer_new", t, ndim, shape, &numel, &nbytes);
    if (s) return s;
    mlxn_storage *st = calloc(1, sizeof *st);
    mlxn_buffer *b = calloc(1, sizeof *b);
    if (!st || !b) {
        free(st);
        free(b);
        return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "buffer_new: out of host memory");
    }
    s = mlxn_device_alloc(d, nbytes, &st->ptr);
    if (s) { free(st); free(b); return s; }
    atomic_init(&st->refs, 1);
    st->dev = d;
    st->nbytes = nbytes;
    b->st = st;
    set_shape(b, t, ndim, shape, numel, nbytes);
    *out = b;
    return MLXN_OK;
}

mlxn_status mlxn_buffer_view(mlxn_buffer *base, size_t byte_offset, mlxn_dtype t, int ndim, const int64_t *shape,
                             mlxn_buffer **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_view: out is NULL");
    *out = NULL;
    if (!base) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_view: base is NULL");
    int64_t numel;
    size_t nbytes;
    mlxn_status s = mlxn_shape_check("buffer_view", t, ndim, shape, &numel, &nbytes);
    if (s) return s;
    if (byte_offset > base->nbytes || nbytes > base->nbytes - byte_offset)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "buffer_view: view [%zu, %zu + %zu) exceeds the base view of %zu bytes", byte_offset,
                              byte_offset, nbytes, base->nbytes);
    size_t abs_off = base->offset + byte_offset;
    if (abs_off % mlxn_dtype_size(t) != 0)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                              "buffer_view: byte offset %zu is not aligned to the %s element size %zu", abs_off,
                              mlxn_dtype_name(t), mlxn_dtype_size(t));
    mlxn_buffer *b = calloc(1, sizeof *b);
    if (!b) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "buffer_view: out of host memory");
    mlxn_storage_retain(base->st);
    b->st = base->st;
    b->offset = abs_off;
    set_shape(b, t, ndim, shape, numel, nbytes);
    *out = b;
    return MLXN_OK;
}

mlxn_buffer *mlxn_buffer_clone(const mlxn_buffer *b) {
    mlxn_buffer *c = malloc(sizeof *c);
    if (!c) return NULL;
    *c = *b;
    mlxn_storage_retain(c->st);
    return c;
}

void mlxn_buffer_free(mlxn_buffer *b) {
    if (!b) return;
    mlxn_storage_release(b->st);
    free(b);
}

mlxn_status mlxn_buffer_write(mlxn_buffer *b, const void *src, size_t nbytes) {
    if (!b) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_write: buffer is NULL");
    if (!src) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_write: src is NULL");
    if (nbytes != b->nbytes)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_write: nbytes (%zu) must equal the view's %zu bytes",
                              nbytes, b->nbytes);
    mlxn_device *d = b->st->dev;
    atomic_fetch_add(&d->n_syncs, 1);
    return (mlxn_status)d->vt->write(d->impl, mlxn_buffer_ptr(b), src, nbytes);
}

mlxn_status mlxn_buffer_read(const mlxn_buffer *b, void *dst, size_t nbytes) {
    if (!b) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_read: buffer is NULL");
    if (!dst) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_read: dst is NULL");
    if (nbytes != b->nbytes)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "buffer_read: nbytes (%zu) must equal the view's %zu bytes",
                              nbytes, b->nbytes);
    mlxn_device *d = b->st->dev;
    atomic_fetch_add(&d->n_syncs, 1);
    return (mlxn_status)d->vt->read(d->impl, dst, mlxn_buffer_ptr(b), nbytes);
}

mlxn_dtype mlxn_buffer_dtype(const mlxn_buffer *b) { return b ? b->dtype : MLXN_F32; }
int mlxn_buffer_ndim(const mlxn_buffer *b) { return b ? b->ndim : 0; }
const int64_t *mlxn_buffer_shape(const mlxn_buffer *b) { return b ? b->shape : NULL; }
int64_t mlxn_buffer_numel(const mlxn_buffer *b) { return b ? b->numel : 0; }
size_t mlxn_buffer_nbytes(const mlxn_buffer *b) { return b ? b->nbytes : 0; }
size_t mlxn_buffer_offset(const mlxn_buffer *b) { return b ? b->offset : 0; }
mlxn_device *mlxn_buffer_device(const mlxn_buffer *b) { return b ? b->st->dev : NULL; }

bool mlxn_buffers_overlap(const mlxn_buffer *a, const mlxn_buffer *b) {
    if (!a || !b || a->st != b->st) return false;
    return a->offset < b->offset + b->nbytes && b->offset < a->offset + a->nbytes;
}

bool mlxn_buffers_same_view(const mlxn_buffer *a, const mlxn_buffer *b) {
    return a && b && a->st == b->st && a->offset == b->offset && a->nbytes == b->nbytes;
}
