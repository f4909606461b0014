/* load.c — tensors from safetensors / GGUF files into device buffers.

   Two phases: every buffer is allocated first (allocation zero-fills and, on
   CUDA, synchronizes the device, which must not happen between queued
   copies), then the bytes stream in file order.

   CUDA (the backend has copy_h2d_async): the tensors' bytes are packed into
   page-locked staging chunks (a chunk may hold pieces of many small tensors
   or one piece of a large one). For each chunk: wait for the fence of the
   chunk's previous use, copy the pieces from the mapping into it with several
   host threads, queue one asynchronous copy per piece, record the fence. With
   K chunks in flight the host fills chunk c+1 while the DMA engine drains
   chunk c, so the rate approaches min(host copy rate, pinned H2D rate). The
   host copy is the usual limit (page faults on the mapping + memory traffic),
   so: non-temporal stores into staging (no read-for-ownership), small blocks
   (threads reach a chunk's end together), and the read-ahead hints of the
   chunks ahead issued by one copy thread, never serially by the caller.

   CPU (no copy_h2d_async): the backend's write, in parallel blocks. */
#include "internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_NT 1
#else
#define HAVE_NT 0
#endif

#define DEFAULT_CHUNK ((size_t)64 << 20)
#define DEFAULT_CHUNKS 3
#define MAX_CHUNKS 8
#define BLOCK ((size_t)256 << 10) /* host copy granule: 256 per 64 MiB chunk, so the threads
                                      finish a chunk within a small fraction of each other */

/* Copies n bytes into staging memory that only the DMA engine reads next:
   non-temporal stores (x86) write whole lines without first reading them
   (no read-for-ownership), a third less memory traffic than memcpy, and
   leave the caches to the source. nt 0 (MLXN_LOAD_NT=0): plain memcpy. */
static void stage_copy(uint8_t *dst, const uint8_t *src, size_t n, int nt) {
#if HAVE_NT
    if (nt && n >= 256) {
        size_t head = (size_t)(-(uintptr_t)dst & 15);
        memcpy(dst, src, head);
        dst += head;
        src += head;
        n -= head;
        __m128i *d = (__m128i *)(void *)dst;
        const __m128i *s = (const __m128i *)(const void *)src;
        size_t k = n / 64;
        for (size_t i = 0; i < k; i++, d += 4, s += 4) {
            __m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1), c = _mm_loadu_si128(s + 2),
                    e = _mm_loadu_si128(s + 3);
            _mm_stream_si128(d, a);
            _mm_stream_si128(d + 1, b);
            _mm_stream_si128(d + 2, c);
            _mm_stream_si128(d + 3, e);
        }
        memcpy(d, s, n - k * 64);
        _mm_sfence(); /* visible before the DMA that the joining thread queues */
        return;
    }
#else
    (void)nt;
#endif
    memcpy(dst, src, n);
}

static int use_nt(void) {
    const char *e = getenv("MLXN_LOAD_NT");
    return !(e && e[0] == '0');
}

typedef struct {
    void          *dst;  /* device pointer of the buffer's view */
    const uint8_t *src;  /* in the mapping                      */
    size_t         n;
    const char    *name;
} job_t;

typedef struct { void *dst; const uint8_t *src; size_t n; } piece_t;

/* Hints the kernel to read [p, p + n) ahead (the mapping may be cold). */
static void prefetch(const void *p, size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !n) return;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
    (void)madvise((void *)a, n + ((uintptr_t)p - a), MADV_WILLNEED);
}

typedef struct { const uint8_t *src; size_t n; } range_t;

enum { COPY_WRITE, COPY_MEM, COPY_NT }; /* the backend's write; into staging: memcpy, non-temporal */

/* Copies pieces with the backend's write (CPU) or stage_copy (into staging),
   in parallel blocks of BLOCK bytes; meanwhile one thread hints the `nra`
   ranges `ra` (the bytes of the chunks ahead) to the kernel, off the calling
   thread's path. Returns the first failing status. */
static int copy_pieces_ra(mlxn_device *d, const piece_t *p, size_t np, int how, const range_t *ra,
                          size_t nra) {
    /* block list: (piece, offset) pairs */
    size_t nb = 0;
    for (size_t i = 0; i < np; i++) nb += (p[i].n + BLOCK - 1) / BLOCK;
    if (nb == 0) {
        for (size_t i = 0; i < nra; i++) prefetch(ra[i].src, ra[i].n);
        return MLXN_OK;
    }
    if (np == 1 && nb == 1 && !nra) {
        if (how == COPY_WRITE) return d->vt->write(d->impl, p[0].dst, p[0].src, p[0].n);
        stage_copy(p[0].dst, p[0].src, p[0].n, how == COPY_NT);
        return MLXN_OK;
    }
    size_t *bp = malloc(nb * sizeof *bp), *bo = malloc(nb * sizeof *bo);
    if (!bp || !bo) {
        free(bp);
        free(bo);
        return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        for (size_t o = 0; o < p[i].n; o += BLOCK) { bp[k] = i; bo[k] = o; k++; }
    int status = MLXN_OK;
#pragma omp parallel if (nb > 1 || nra)
    {
#pragma omp single nowait
        for (size_t i = 0; i < nra; i++) prefetch(ra[i].src, ra[i].n);
#pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            const piece_t *q = &p[bp[b]];
            size_t o = bo[b], n = q->n - o < BLOCK ? q->n - o : BLOCK;
            if (how == COPY_WRITE) {
                int s = d->vt->write(d->impl, (uint8_t *)q->dst + o, q->src + o, n);
                if (s) {
#pragma omp atomic write
                    status = s;
                }
            } else {
                stage_copy((uint8_t *)q->dst + o, q->src + o, n, how == COPY_NT);
            }
        }
    }
    free(bp);
    free(bo);
    return status;
}

static int copy_pieces(mlxn_device *d, const piece_t *p, size_t np, int how) {
    return copy_pieces_ra(d, p, np, how, NULL, 0);
}

/* The staging operations: the backend's [load] entries, or (tests) an emulation
   on the CPU backend that defers every copy until a fence wait or the final
   drain, as a DMA engine would run it later: a staging chunk reused before its
   copies ran would then deliver the wrong bytes. MLXN_LOAD_EMULATE_STAGING=1
   turns the emulation on where the backend has no staging (the CPU). */
typedef struct {
    int  (*host_alloc)(void *dev, size_t nbytes, void **ptr);
    void (*host_free)(void *dev, void *ptr);
    int  (*copy)(void *dev, void *q, void *dst, const void *src, size_t nbytes);
    int  (*fence_new)(void *dev, void **fence);
    void (*fence_free)(void *dev, void *fence);
    int  (*fence_record)(void *dev, void *fence, void *q);
    int  (*fence_wait)(void *dev, void *fence);
} stage_ops;

typedef struct { piece_t *p; size_t n, cap, done; } emu_q;
typedef struct { emu_q *q; size_t mark; } emu_fence;

static int emu_run(emu_q *q, size_t upto) {
    for (; q->done < upto; q->done++) memcpy(q->p[q->done].dst, q->p[q->done].src, q->p[q->done].n);
    return MLXN_OK;
}
static int emu_host_alloc(void *dev, size_t n, void **ptr) {
    (void)dev;
    *ptr = malloc(n ? n : 1);
    return *ptr ? MLXN_OK : mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
}
static void emu_host_free(void *dev, void *ptr) { (void)dev; free(ptr); }
static int emu_copy(void *dev, void *qv, void *dst, const void *src, size_t n) {
    (void)dev;
    emu_q *q = qv;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        piece_t *np = realloc(q->p, cap * sizeof *np);
        if (!np) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
        q->p = np;
        q->cap = cap;
    }
    q->p[q->n++] = (piece_t){dst, src, n};
    return MLXN_OK;
}
static int emu_fence_new(void *dev, void **f) {
    (void)dev;
    *f = calloc(1, sizeof(emu_fence));
    return *f ? MLXN_OK : mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
}
static void emu_fence_free(void *dev, void *f) { (void)dev; free(f); }
static int emu_fence_record(void *dev, void *fv, void *qv) {
    (void)dev;
    emu_fence *f = fv;
    f->q = qv;
    f->mark = f->q->n;
    return MLXN_OK;
}
static int emu_fence_wait(void *dev, void *fv) {
    (void)dev;
    emu_fence *f = fv;
    return f->q ? emu_run(f->q, f->mark) : MLXN_OK;
}
static const stage_ops k_emu = {emu_host_alloc, emu_host_free, emu_copy, emu_fence_new, emu_fence_free,
                                emu_fence_record, emu_fence_wait};

typedef struct {
    mlxn_device  *d;
    stage_ops     ops;
    mlxn_encoder *enc;  /* backend staging: the copy stream              */
    emu_q        *emu;  /* emulation: the deferred copies                */
    void         *q;    /* what ops.copy / fence_record take: enc->impl or emu */
    size_t        chunk;
    int           k;
    uint8_t      *stage[MAX_CHUNKS];
    void         *fence[MAX_CHUNKS];
    int           used[MAX_CHUNKS];
    int           slot;
    size_t        fill;
    piece_t      *pc;   /* pieces of the current chunk: dst = device, src = mapping */
    size_t        npc, cappc;
    piece_t      *tmp;  /* the same pieces with dst = staging */
    /* read-ahead hints: the jobs in stream order, the cursor up to which their
       bytes were hinted, the stream offset of the current chunk */
    const job_t  *jobs;
    size_t        nj, pf_job, pf_off;
    uint64_t      pf_done, base;
    range_t      *ra;
    size_t        nra, capra;
    int           nt;   /* non-temporal stores into staging */
} stream_t;

/* Moves the read-ahead cursor to stream offset `to`; with `hint`, collects the
   bytes passed over as ranges (adjacent ones merged). */
static int stream_ahead(stream_t *s, uint64_t to, int hint) {
    while (s->pf_done < to && s->pf_job < s->nj) {
        const job_t *j = &s->jobs[s->pf_job];
        size_t take = j->n - s->pf_off;
        if ((uint64_t)take > to - s->pf_done) take = (size_t)(to - s->pf_done);
        const uint8_t *src = j->src + s->pf_off;
        if (hint && take) {
            range_t *l = s->nra ? &s->ra[s->nra - 1] : NULL;
            uintptr_t end = l ? (uintptr_t)l->src + l->n : 0;
            if (l && (uintptr_t)src >= end && (uintptr_t)src - end <= ((uintptr_t)64 << 10)) {
                l->n = (size_t)((uintptr_t)src + take - (uintptr_t)l->src);
            } else {
                if (s->nra == s->capra) {
                    size_t cap = s->capra ? s->capra * 2 : 16;
                    range_t *a = realloc(s->ra, cap * sizeof *a);
                    if (!a) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
                    s->ra = a;
                    s->capra = cap;
                }
                s->ra[s->nra++] = (range_t){src, take};
            }
        }
        s->pf_done += take;
        s->pf_off += take;
        if (s->pf_off == j->n) { s->pf_job++; s->pf_off = 0; }
    }
    return MLXN_OK;
}

static int stream_flush(stream_t *s) {
    if (!s->npc) return MLXN_OK;
    mlxn_device *d = s->d;
    int st = MLXN_OK;
    if (s->used[s->slot]) st = s->ops.fence_wait(d->impl, s->fence[s->slot]);
    if (st) return st;
    /* hint the bytes of the next k - 1 chunks while this one is copied (the
       current chunk's own bytes are faulted in by the copy itself) */
    s->nra = 0;
    if ((st = stream_ahead(s, s->base + s->fill, 0))) return st;
    if ((st = stream_ahead(s, s->base + (uint64_t)s->k * s->chunk, 1))) return st;
    size_t off = 0;
    for (size_t i = 0; i < s->npc; i++) {
        s->tmp[i] = (piece_t){s->stage[s->slot] + off, s->pc[i].src, s->pc[i].n};
        off += s->pc[i].n;
    }
    if ((st = copy_pieces_ra(d, s->tmp, s->npc, s->nt ? COPY_NT : COPY_MEM, s->ra, s->nra))) return st;
    off = 0;
    for (size_t i = 0; i < s->npc && !st; i++) {
        st = s->ops.copy(d->impl, s->q, s->pc[i].dst, s->stage[s->slot] + off, s->pc[i].n);
        off += s->pc[i].n;
    }
    if (!st) st = s->ops.fence_record(d->impl, s->fence[s->slot], s->q);
    if (st) return st;
    s->used[s->slot] = 1;
    s->slot = (s->slot + 1) % s->k;
    s->base += s->fill;
    s->fill = 0;
    s->npc = 0;
    return MLXN_OK;
}

static int stream_add(stream_t *s, void *dst, const uint8_t *src, size_t n) {
    while (n) {
        if (s->npc == s->cappc) {
            size_t cap = s->cappc ? s->cappc * 2 : 64;
            piece_t *a = realloc(s->pc, cap * sizeof *a), *b;
            if (!a) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
            s->pc = a;
            b = realloc(s->tmp, cap * sizeof *b);
            if (!b) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
            s->tmp = b;
            s->cappc = cap;
        }
        size_t take = s->chunk - s->fill < n ? s->chunk - s->fill : n;
        s->pc[s->npc++] = (piece_t){dst, src, take};
        s->fill += take;
        dst = (uint8_t *)dst + take;
        src += take;
        n -= take;
        if (s->fill == s->chunk) {
            int st = stream_flush(s);
            if (st) return st;
        }
    }
    return MLXN_OK;
}

/* Waits for every queued copy. */
static int stream_drain(stream_t *s) {
    if (s->emu) return emu_run(s->emu, s->emu->n);
    return s->enc ? mlxn_encoder_wait(s->enc) : MLXN_OK;
}

static void stream_close(stream_t *s) {
    mlxn_device *d = s->d;
    (void)stream_drain(s); /* no staging chunk may be freed under a DMA */
    for (int i = 0; i < s->k; i++) {
        if (s->fence[i]) s->ops.fence_free(d->impl, s->fence[i]);
        if (s->stage[i]) s->ops.host_free(d->impl, s->stage[i]);
    }
    mlxn_encoder_free(s->enc);
    if (s->emu) free(s->emu->p);
    free(s->emu);
    free(s->pc);
    free(s->tmp);
    free(s->ra);
}

static int emulate_staging(void) {
    const char *e = getenv("MLXN_LOAD_EMULATE_STAGING");
    return e && e[0] == '1';
}

/* Copies every job's bytes to its device buffer; progress per job. */
static mlxn_status run_jobs(mlxn_device *d, const job_t *jobs, size_t nj, const mlxn_load_options *opt) {
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < nj; i++) total += jobs[i].n;
    void (*cb)(void *, uint64_t, uint64_t, const char *) = opt ? opt->progress : NULL;
    void *user = opt ? opt->user : NULL;
    const mlxn_backend_vtable *vt = d->vt;
    int have = vt->copy_h2d_async && vt->host_alloc && vt->host_free && vt->fence_new && vt->fence_free &&
               vt->fence_record && vt->fence_wait;
    int st = MLXN_OK;
    if (!have && !emulate_staging()) {
        if (cb) cb(user, 0, total, NULL);
        for (size_t i = 0; i < nj && !st; i++) {
            prefetch(jobs[i].src, jobs[i].n);
            piece_t p = {jobs[i].dst, jobs[i].src, jobs[i].n};
            st = copy_pieces(d, &p, 1, COPY_WRITE);
            done += jobs[i].n;
            if (!st && cb) cb(user, done, total, jobs[i].name);
        }
    } else {
        stream_t s;
        memset(&s, 0, sizeof s);
        s.d = d;
        s.jobs = jobs;
        s.nj = nj;
        s.nt = use_nt();
        if (have) {
            s.ops = (stage_ops){vt->host_alloc, vt->host_free, vt->copy_h2d_async, vt->fence_new, vt->fence_free,
                                vt->fence_record, vt->fence_wait};
            st = mlxn_encoder_new(d, &s.enc);
            if (!st) s.q = s.enc->impl;
        } else {
            s.ops = k_emu;
            s.emu = calloc(1, sizeof *s.emu);
            if (!s.emu) st = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load: out of host memory");
            s.q = s.emu;
        }
        s.chunk = opt && opt->chunk_bytes ? opt->chunk_bytes : DEFAULT_CHUNK;
        s.k = opt && opt->n_chunks ? opt->n_chunks : DEFAULT_CHUNKS;
        if (s.k < 2) s.k = 2;
        if (s.k > MAX_CHUNKS) s.k = MAX_CHUNKS;
        if (s.chunk < 4096) s.chunk = 4096;
        /* no more staging than the bytes need */
        if (total < (uint64_t)s.chunk) s.chunk = total ? (size_t)total : 1;
        uint64_t nchunks = (total + s.chunk - 1) / s.chunk;
        if (nchunks < (uint64_t)s.k) s.k = nchunks < 2 ? 2 : (int)nchunks;
        for (int i = 0; i < s.k && !st; i++) {
            void *p = NULL;
            st = s.ops.host_alloc(d->impl, s.chunk, &p);
            s.stage[i] = p;
            if (!st) st = s.ops.fence_new(d->impl, &s.fence[i]);
        }
        if (!st) {
            /* the host threads are started before the streaming starts */
#pragma omp parallel
            { (void)0; }
        }
        if (!st && cb) cb(user, 0, total, NULL); /* set up: the streaming starts */
        if (!st) {
            /* the first chunk's bytes are hinted here, later ones during the copies */
            uint64_t first = total < (uint64_t)s.chunk ? total : (uint64_t)s.chunk;
            s.nra = 0;
            st = stream_ahead(&s, first, 1);
            for (size_t i = 0; i < s.nra && !st; i++) prefetch(s.ra[i].src, s.ra[i].n);
        }
        for (size_t i = 0; i < nj && !st; i++) {
            st = stream_add(&s, jobs[i].dst, jobs[i].src, jobs[i].n);
            done += jobs[i].n;
            if (!st && cb) cb(user, done, total, jobs[i].name);
        }
        if (!st) st = stream_flush(&s);
        if (!st) st = stream_drain(&s);
        /* every byte has landed: reported before the staging is freed */
        if (!st && cb) cb(user, total, total, NULL);
        stream_close(&s);
        return (mlxn_status)st;
    }
    if (st) return (mlxn_status)st;
    if (cb) cb(user, total, total, NULL);
    return MLXN_OK;
}

/* ---- buffers for tensors --------------------------------------------------------- */

static mlxn_status st_buffer(mlxn_device *d, const mlxn_st_tensor *t, mlxn_buffer **out) {
    mlxn_dtype dt;
    *out = NULL;
    if (t->nelements == 0)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "load: tensor '%s' has no elements (buffers cannot be empty)",
                              t->name);
    if (mlxn_st_dtype_to_mlxn(t->dtype, &dt)) {
        if (t->ndim == 0) return mlxn_buffer_new(d, dt, 0, NULL, out);
        return mlxn_buffer_new(d, dt, t->ndim, t->shape, out);
    }
    int64_t n = (int64_t)t->nbytes;
    return mlxn_buffer_new(d, MLXN_U8, 1, &n, out);
}

static mlxn_status gguf_buffer(mlxn_device *d, const mlxn_gguf_tensor *t, mlxn_buffer **out) {
    *out = NULL;
    mlxn_dtype dt;
    int plain = 1;
    switch (t->type) {
    case MLXN_GGML_F32: dt = MLXN_F32; break;
    case MLXN_GGML_F16: dt = MLXN_F16; break;
    case MLXN_GGML_BF16: dt = MLXN_BF16; break;
    case MLXN_GGML_I8: dt = MLXN_I8; break;
    case MLXN_GGML_I16: dt = MLXN_I16; break;
    case MLXN_GGML_I32: dt = MLXN_I32; break;
    case MLXN_GGML_I64: dt = MLXN_I64; break;
    default: dt = MLXN_U8; plain = 0; break;
    }
    if (plain) {
        int64_t shape[MLXN_GGUF_MAX_DIMS];
        for (int k = 0; k < t->ndim; k++) shape[k] = t->ne[t->ndim - 1 - k];
        return mlxn_buffer_new(d, dt, t->ndim, shape, out);
    }
    int64_t n = (int64_t)t->nbytes;
    return mlxn_buffer_new(d, MLXN_U8, 1, &n, out);
}

static mlxn_status check_dev(const char *fn, mlxn_device *d, const void *file, const void *out) {
    if (!d || !file || !out)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn, !d ? "device" : !file ? "file" : "out");
    return MLXN_OK;
}

mlxn_status mlxn_safetensors_load_tensor(mlxn_device *d, const mlxn_safetensors *st, int64_t i, mlxn_buffer **out) {
    mlxn_status s = check_dev("safetensors_load_tensor", d, st, out);
    if (s) return s;
    *out = NULL;
    mlxn_st_tensor t;
    if ((s = mlxn_safetensors_tensor_info(st, i, &t))) return s;
    mlxn_buffer *b;
    if ((s = st_buffer(d, &t, &b))) return s;
    job_t j = {mlxn_buffer_ptr(b), t.data, (size_t)t.nbytes, t.name};
    if ((s = run_jobs(d, &j, 1, NULL))) { mlxn_buffer_free(b); return s; }
    *out = b;
    return MLXN_OK;
}

mlxn_status mlxn_safetensors_load_all(mlxn_device *d, const mlxn_safetensors *st, const mlxn_load_options *opt,
                                      mlxn_buffer **bufs) {
    mlxn_status s = check_dev("safetensors_load_all", d, st, bufs);
    if (s) return s;
    int64_t n = mlxn_safetensors_tensor_count(st);
    for (int64_t i = 0; i < n; i++) bufs[i] = NULL;
    job_t *jobs = malloc((size_t)(n ? n : 1) * sizeof *jobs);
    if (!jobs) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "safetensors_load_all: out of host memory");
    size_t nj = 0;
    /* tensor order is shard by shard in offset order: the file order */
    for (int64_t i = 0; i < n && !s; i++) {
        mlxn_st_tensor t;
        mlxn_safetensors_tensor_info(st, i, &t);
        if (t.nelements == 0) continue;
        if ((s = st_buffer(d, &t, &bufs[i]))) break;
        jobs[nj++] = (job_t){mlxn_buffer_ptr(bufs[i]), t.data, (size_t)t.nbytes, t.name};
    }
    if (!s) s = run_jobs(d, jobs, nj, opt);
    free(jobs);
    if (s)
        for (int64_t i = 0; i < n; i++) { mlxn_buffer_free(bufs[i]); bufs[i] = NULL; }
    return s;
}

mlxn_status mlxn_gguf_load_tensor(mlxn_device *d, const mlxn_gguf *g, int64_t i, mlxn_buffer **out) {
    mlxn_status s = check_dev("gguf_load_tensor", d, g, out);
    if (s) return s;
    *out = NULL;
    mlxn_gguf_tensor t;
    if ((s = mlxn_gguf_tensor_info(g, i, &t))) return s;
    mlxn_buffer *b;
    if ((s = gguf_buffer(d, &t, &b))) return s;
    job_t j = {mlxn_buffer_ptr(b), t.data, (size_t)t.nbytes, t.name};
    if ((s = run_jobs(d, &j, 1, NULL))) { mlxn_buffer_free(b); return s; }
    *out = b;
    return MLXN_OK;
}

static int cmp_src(const void *a, const void *b) {
    const job_t *x = a, *y = b;
    return x->src < y->src ? -1 : x->src > y->src;
}

mlxn_status mlxn_gguf_load_all(mlxn_device *d, const mlxn_gguf *g, const mlxn_load_options *opt, mlxn_buffer **bufs) {
    mlxn_status s = check_dev("gguf_load_all", d, g, bufs);
    if (s) return s;
    int64_t n = mlxn_gguf_tensor_count(g);
    for (int64_t i = 0; i < n; i++) bufs[i] = NULL;
    job_t *jobs = malloc((size_t)(n ? n : 1) * sizeof *jobs);
    if (!jobs) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf_load_all: out of host memory");
    for (int64_t i = 0; i < n && !s; i++) {
        mlxn_gguf_tensor t;
        mlxn_gguf_tensor_info(g, i, &t);
        if ((s = gguf_buffer(d, &t, &bufs[i]))) break;
        jobs[i] = (job_t){mlxn_buffer_ptr(bufs[i]), t.data, (size_t)t.nbytes, t.name};
    }
    if (!s) {
        qsort(jobs, (size_t)n, sizeof *jobs, cmp_src); /* file order */
        s = run_jobs(d, jobs, (size_t)n, opt);
    }
    free(jobs);
    if (s)
        for (int64_t i = 0; i < n; i++) { mlxn_buffer_free(bufs[i]); bufs[i] = NULL; }
    return s;
}

/* ---- the reference rate ---------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mlxn_status mlxn_load_h2d_rate(mlxn_device *d, size_t nbytes, double *gbps) {
    if (!d || !gbps) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "load_h2d_rate: NULL %s", d ? "gbps" : "device");
    if (!nbytes) nbytes = (size_t)256 << 20;
    if (nbytes > ((size_t)1 << 40))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "load_h2d_rate: %zu bytes is too many", nbytes);
    *gbps = 0;
    const mlxn_backend_vtable *vt = d->vt;
    int staged = vt->copy_h2d_async && vt->host_alloc && vt->fence_new;
    int64_t n = (int64_t)nbytes;
    mlxn_buffer *dst = NULL;
    mlxn_encoder *enc = NULL;
    uint8_t *src = NULL;
    mlxn_status s = mlxn_buffer_new(d, MLXN_U8, 1, &n, &dst);
    if (!s) {
        if (staged) {
            void *p = NULL;
            s = (mlxn_status)vt->host_alloc(d->impl, nbytes, &p);
            src = p;
            if (!s) s = mlxn_encoder_new(d, &enc);
        } else {
            src = malloc(nbytes);
            if (!src) s = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "load_h2d_rate: out of host memory");
        }
    }
    double best = 0;
    if (!s) {
        memset(src, 0x5a, nbytes); /* touch every page */
        for (int r = 0; r < 4 && !s; r++) { /* run 0 warms up */
            double t0 = now_s();
            if (staged) {
                s = (mlxn_status)vt->copy_h2d_async(d->impl, enc->impl, mlxn_buffer_ptr(dst), src, nbytes);
                if (!s) s = mlxn_encoder_wait(enc);
            } else {
                piece_t p = {mlxn_buffer_ptr(dst), src, nbytes};
                s = (mlxn_status)copy_pieces(d, &p, 1, COPY_WRITE);
            }
            double t = now_s() - t0;
            if (!s && r > 0 && t > 0 && (double)nbytes / t / 1e9 > best) best = (double)nbytes / t / 1e9;
        }
    }
    mlxn_encoder_free(enc);
    if (src) {
        if (staged) vt->host_free(d->impl, src);
        else free(src);
    }
    mlxn_buffer_free(dst);
    if (s) return s;
    *gbps = best;
    return MLXN_OK;
}
