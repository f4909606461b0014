/* internal.h — object layouts and helpers shared by src/core, src/ops and the
   backends. Not installed. */
#ifndef MLXN_INTERNAL_H
#define MLXN_INTERNAL_H

#include "mlxn.h"
#include "backend.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------- */

/* Sets this thread's last error (printf-style) and returns `s`. */
mlxn_status mlxn_set_error(mlxn_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- storage, buffers ---------------------------------------------------- */

typedef struct mlxn_storage {
    atomic_int   refs;
    mlxn_device *dev;
    void        *ptr;      /* host pointer (CPU) or device pointer (CUDA) */
    size_t       nbytes;   /* allocation size                              */
    struct mlxn_pool *pool; /* owning pool, or NULL                        */
    bool         pool_in_use; /* handed out since the pool's last reset    */
} mlxn_storage;

struct mlxn_buffer {
    mlxn_storage *st;
    size_t        offset;  /* byte offset of the view in st->ptr */
    mlxn_dtype    dtype;
    int           ndim;
    int64_t       shape[MLXN_MAX_DIMS];
    int64_t       numel;
    size_t        nbytes;
};

static inline void *mlxn_buffer_ptr(const mlxn_buffer *b) {
    return b ? (char *)b->st->ptr + b->offset : NULL;
}

void mlxn_storage_retain(mlxn_storage *s);
void mlxn_storage_release(mlxn_storage *s);

/* Validates dtype/ndim/shape and computes numel and nbytes without overflow. */
mlxn_status mlxn_shape_check(const char *who, mlxn_dtype t, int ndim, const int64_t *shape,
                             int64_t *numel, size_t *nbytes);

/* f32, f16 or bf16: the float dtypes every float op accepts. */
static inline bool mlxn_is_float_dtype(mlxn_dtype t) { return t == MLXN_F32 || t == MLXN_F16 || t == MLXN_BF16; }

/* The resolved op-call argument of an optional view (all zero for NULL). */
static inline mlxn_arg mlxn_arg_of(const mlxn_buffer *b) {
    mlxn_arg a = {0};
    if (!b) return a;
    a.ptr = (char *)b->st->ptr + b->offset;
    a.dtype = (int)b->dtype;
    a.numel = b->numel;
    a.nbytes = b->nbytes;
    return a;
}

/* Starts an op call: zeroed plan, kind, name and its n buffer arguments in
   order (NULL for an absent optional one); each view is resolved and kept
   (graphs hold on to it). */
static inline void mlxn_call_init(mlxn_op_call *c, mlxn_op_kind kind, const char *name, int n,
                                  const mlxn_buffer *const *b) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->name = name;
    c->n_args = n;
    for (int i = 0; i < n && i < MLXN_OP_MAX_BUFS; i++) {
        c->args[i] = mlxn_arg_of(b[i]);
        c->bufs[i] = b[i];
    }
}

/* A heap copy of view b that shares (retains) its storage. */
mlxn_buffer *mlxn_buffer_clone(const mlxn_buffer *b);

/* ---- device -------------------------------------------------------------- */

struct mlxn_device {
    mlxn_backend               kind;
    int                        index;
    const mlxn_backend_vtable *vt;
    void                      *impl;   /* backend state */
    char                       name[160];
    atomic_uint_fast64_t       n_dispatches, n_allocs, n_frees, n_bytes_alloc, n_syncs, n_graph_launches;
    atomic_int                 live_objects; /* buffers storages, encoders, pools alive */
};

/* Allocate/free device storage through the backend, keeping the counters. */
mlxn_status mlxn_device_alloc(mlxn_device *d, size_t nbytes, void **ptr);
void        mlxn_device_free_mem(mlxn_device *d, void *ptr, size_t nbytes);

/* ---- encoder, graph ------------------------------------------------------ */

typedef struct mlxn_recorded {
    mlxn_op_call call;           /* buffers point at clones owned by the graph */
    mlxn_buffer *owned[MLXN_OP_MAX_BUFS];
} mlxn_recorded;

struct mlxn_encoder {
    mlxn_device *dev;
    void        *impl;          /* backend state (CUDA: the stream)          */
    bool         capturing;
    /* CPU recording (also used to count dispatches of a CUDA capture) */
    mlxn_recorded *rec;
    size_t         n_rec, cap_rec;
    mlxn_status    capture_error; /* first failure while capturing         */
};

struct mlxn_graph {
    mlxn_device   *dev;
    mlxn_recorded *rec;          /* CPU: the replay list; CUDA: kept for buffer lifetime */
    size_t         n_rec;
    void          *impl;         /* CUDA: cudaGraphExec_t */
};

/* Runs or records an op call on the encoder: the single path every op takes
   after validation. */
mlxn_status mlxn_encode(mlxn_encoder *e, mlxn_op_call *c);

/* Shared argument checks used by the ops layer. Each returns INVALID_ARGUMENT
   with a message naming `op` and the argument. */
mlxn_status mlxn_check_encoder(const char *op, const mlxn_encoder *e);
mlxn_status mlxn_check_buffer(const char *op, const char *arg, const mlxn_encoder *e, const mlxn_buffer *b);
/* UNSUPPORTED unless b is f32/f16/bf16; INVALID_ARGUMENT unless a and b share a dtype. */
mlxn_status mlxn_check_float_dtype(const char *op, const mlxn_buffer *b, const char *name);
mlxn_status mlxn_check_same_dtype(const char *op, const mlxn_buffer *a, const char *an, const mlxn_buffer *b,
                                  const char *bn);
bool        mlxn_buffers_overlap(const mlxn_buffer *a, const mlxn_buffer *b);
bool        mlxn_buffers_same_view(const mlxn_buffer *a, const mlxn_buffer *b);

/* The backends available in this build. */
extern const mlxn_backend_vtable mlxn_cpu_backend;
#ifdef MLXN_HAVE_CUDA
extern const mlxn_backend_vtable mlxn_cuda_backend;
#endif

#endif
