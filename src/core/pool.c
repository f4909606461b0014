/* pool.c — power-of-two bucket allocator for per-step scratch buffers.
   Not thread-safe: one pool per thread or external locking. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 64

typedef struct {
    mlxn_storage **v;
    size_t n, cap;
} stor_vec;

struct mlxn_pool {
    mlxn_device *dev;
    stor_vec all;               /* every storage the pool created */
    stor_vec in_use;            /* handed out since the last reset */
    stor_vec free_[N_BUCKETS];  /* per log2(bucket size) */
    mlxn_pool_stats stats;
};

static bool vec_push(stor_vec *v, mlxn_storage *s) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        mlxn_storage **nv = realloc(v->v, cap * sizeof *nv);
        if (!nv) return false;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = s;
    return true;
}

static int bucket_of(size_t nbytes, size_t *size) {
    size_t b = 1;
    int k = 0;
    while (b < nbytes) { b <<= 1; k++; }
    *size = b;
    return k;
}

void mlxn_pool_storage_released(mlxn_storage *s) {
    /* The last buffer of a pooled storage is gone; the storage stays owned by
       the pool and returns to a free list at the next reset. */
    (void)s;
}

mlxn_status mlxn_pool_new(mlxn_device *d, mlxn_pool **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "pool_new: out is NULL");
    *out = NULL;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "pool_new: device is NULL");
    mlxn_pool *p = calloc(1, sizeof *p);
    if (!p) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "pool_new: out of host memory");
    p->dev = d;
    *out = p;
    return MLXN_OK;
}

void mlxn_pool_free(mlxn_pool *p) {
    if (!p) return;
    for (size_t i = 0; i < p->all.n; i++) {
        mlxn_storage *s = p->all.v[i];
        if (atomic_load(&s->refs) == 0) {
            mlxn_device_free_mem(s->dev, s->ptr, s->nbytes);
            free(s);
        } else {
            s->pool = NULL; /* freed with its last buffer */
        }
    }
    free(p->all.v);
    free(p->in_use.v);
    for (int k = 0; k < N_BUCKETS; k++) free(p->free_[k].v);
    free(p);
}

mlxn_status mlxn_pool_alloc(mlxn_pool *p, mlxn_dtype t, int ndim, const int64_t *shape, mlxn_buffer **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "pool_alloc: out is NULL");
    *out = NULL;
    if (!p) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "pool_alloc: pool is NULL");
    int64_t numel;
    size_t nbytes;
    mlxn_status s = mlxn_shape_check("pool_alloc", t, ndim, shape, &numel, &nbytes);
    if (s) return s;
    size_t bsize;
    int k = bucket_of(nbytes, &bsize);
    mlxn_buffer *b = calloc(1, sizeof *b);
    if (!b) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: out of host memory");
    if (!vec_push(&p->in_use, NULL)) { free(b); return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: out of host memory"); }
    p->in_use.n--; /* reserved room; pushed for real below */
    mlxn_storage *st;
    if (p->free_[k].n > 0) {
        st = p->free_[k].v[--p->free_[k].n];
        p->stats.hits++;
        p->stats.free--;
        p->stats.free_bytes -= st->nbytes;
    } else {
        st = calloc(1, sizeof *st);
        if (!st || !vec_push(&p->all, st)) {
            free(st);
            free(b);
            return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: out of host memory");
        }
        s = mlxn_device_alloc(p->dev, bsize, &st->ptr);
        if (s) { p->all.n--; free(st); free(b); return s; }
        atomic_init(&st->refs, 0);
        st->dev = p->dev;
        st->nbytes = bsize;
        st->pool = p;
        p->stats.device_allocs++;
    }
    atomic_fetch_add(&st->refs, 1);
    st->pool_in_use = true;
    p->in_use.v[p->in_use.n++] = st;
    p->stats.in_use++;
    p->stats.in_use_bytes += st->nbytes;
    b->st = st;
    b->offset = 0;
    b->dtype = t;
    b->ndim = ndim;
    for (int i = 0; i < ndim; i++) b->shape[i] = shape[i];
    b->numel = numel;
    b->nbytes = nbytes;
    *out = b;
    return MLXN_OK;
}

void mlxn_pool_reset(mlxn_pool *p) {
    if (!p) return;
    for (size_t i = 0; i < p->in_use.n; i++) {
        mlxn_storage *st = p->in_use.v[i];
        size_t bsize;
        int k = bucket_of(st->nbytes, &bsize);
        st->pool_in_use = false;
        if (vec_push(&p->free_[k], st)) {
            p->stats.free++;
            p->stats.free_bytes += st->nbytes;
        }
        /* on host OOM the storage simply stays unused until pool_free */
    }
    p->in_use.n = 0;
    p->stats.in_use = 0;
    p->stats.in_use_bytes = 0;
}

void mlxn_pool_get_stats(const mlxn_pool *p, mlxn_pool_stats *out) {
    if (!out) return;
    if (!p) { memset(out, 0, sizeof *out); return; }
    *out = p->stats;
}
