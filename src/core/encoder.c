/* encoder.c — encoders, graph capture/replay, timers, the device copy, and
   mlxn_encode: the single path every validated op takes. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static mlxn_op_fn op_fn(const mlxn_backend_vtable *vt, mlxn_op_kind k) {
    switch (k) {
    case MLXN_OPK_COPY: return vt->copy;
    case MLXN_OPK_ROPE: return vt->rope;
    case MLXN_OPK_ROPE_MULTI: return vt->rope_multi;
    case MLXN_OPK_VISION_2D_ROPE: return vt->vision_2d_rope;
    case MLXN_OPK_RMS_NORM: return vt->rms_norm;
    case MLXN_OPK_L2_NORM: return vt->l2_norm;
    case MLXN_OPK_UNARY: return vt->unary;
    case MLXN_OPK_BINARY: return vt->binary;
    case MLXN_OPK_GLU: return vt->glu;
    case MLXN_OPK_CAST: return vt->cast;
    case MLXN_OPK_SOFTMAX: return vt->softmax;
    case MLXN_OPK_ADD_RMS_NORM: return vt->add_rms_norm;
    case MLXN_OPK_RMS_NORM_ADD: return vt->rms_norm_add;
    case MLXN_OPK_RMS_NORM_GATE: return vt->rms_norm_gate;
    case MLXN_OPK_GATHER_ROWS: return vt->gather_rows;
    case MLXN_OPK_PERMUTE: return vt->permute;
    case MLXN_OPK_COPY_2D: return vt->copy_2d;
    case MLXN_OPK_REPEAT_HEADS: return vt->repeat_heads;
    case MLXN_OPK_KV_CACHE_WRITE: return vt->kv_cache_write;
    case MLXN_OPK_KV_CACHE_WRITE_KV: return vt->kv_cache_write_kv;
    case MLXN_OPK_ARGMAX: return vt->argmax;
    case MLXN_OPK_CUMSUM: return vt->cumsum;
    case MLXN_OPK_ROW_SUM: return vt->row_sum;
    /* [sort] */
    case MLXN_OPK_ARGSORT: return vt->argsort;
    case MLXN_OPK_TOP_K: return vt->top_k;
    /* [/sort] */
    /* [sample] */
    case MLXN_OPK_MOE_SOFTMAX_TOPK: return vt->moe_softmax_topk;
    case MLXN_OPK_MOE_WEIGHTED_REDUCE: return vt->moe_weighted_reduce;
    case MLXN_OPK_SOFTMAX_SAMPLE: return vt->softmax_sample;
    /* [/sample] */
    /* [backward] */
    case MLXN_OPK_SOFTMAX_BACKWARD: return vt->softmax_backward;
    case MLXN_OPK_RMS_NORM_BACKWARD: return vt->rms_norm_backward;
    case MLXN_OPK_UNARY_BACKWARD: return vt->unary_backward;
    case MLXN_OPK_ROW_SUM_BACKWARD: return vt->row_sum_backward;
    case MLXN_OPK_RMS_INV: return vt->rms_inv;
    /* [/backward] */
    /* [quant_ggml] */
    case MLXN_OPK_DEQUANT_GGML: return vt->dequant_ggml;
    /* [/quant_ggml] */
    /* [quant_mlx] */
    case MLXN_OPK_DEQUANT_MLX: return vt->dequant_mlx;
    case MLXN_OPK_GATHER_MLX: return vt->gather_mlx;
    /* [/quant_mlx] */
    /* [fused_norm2] */
    case MLXN_OPK_RMS_NORM_MUL: return vt->rms_norm_mul;
    case MLXN_OPK_HEAD_NORM_ROPE: return vt->head_norm_rope;
    case MLXN_OPK_MOE_WSUM_NORM_ADD: return vt->moe_wsum_norm_add;
    case MLXN_OPK_TRIPLE_NORM: return vt->triple_norm;
    /* [/fused_norm2] */
    default: return NULL;
    }
}

mlxn_status mlxn_encoder_new(mlxn_device *d, mlxn_encoder **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_new: out is NULL");
    *out = NULL;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_new: device is NULL");
    mlxn_encoder *e = calloc(1, sizeof *e);
    if (!e) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "encoder_new: out of host memory");
    e->dev = d;
    int s = d->vt->encoder_new(d->impl, &e->impl);
    if (s) { free(e); return (mlxn_status)s; }
    *out = e;
    return MLXN_OK;
}

static void free_records(mlxn_recorded *rec, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < MLXN_OP_MAX_BUFS; j++) mlxn_buffer_free(rec[i].owned[j]);
    free(rec);
}

void mlxn_encoder_free(mlxn_encoder *e) {
    if (!e) return;
    if (e->capturing) {
        mlxn_graph *g = NULL;
        if (mlxn_encoder_end_capture(e, &g) == MLXN_OK) mlxn_graph_free(g);
    }
    e->dev->vt->encoder_wait(e->dev->impl, e->impl);
    e->dev->vt->encoder_free(e->dev->impl, e->impl);
    free_records(e->rec, e->n_rec);
    free(e);
}

mlxn_device *mlxn_encoder_device(const mlxn_encoder *e) { return e ? e->dev : NULL; }

mlxn_status mlxn_check_encoder(const char *op, const mlxn_encoder *e) {
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: encoder is NULL", op);
    return MLXN_OK;
}

mlxn_status mlxn_check_buffer(const char *op, const char *arg, const mlxn_encoder *e, const mlxn_buffer *b) {
    if (!b) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, arg);
    if (b->st->dev != e->dev)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s lives on device '%s', the encoder on '%s'", op, arg,
                              b->st->dev->name, e->dev->name);
    return MLXN_OK;
}

/* Dtype checks shared by the ops layer (messages name the op and argument). */
mlxn_status mlxn_check_float_dtype(const char *op, const mlxn_buffer *a, const char *an) {
    if (!mlxn_is_float_dtype(a->dtype))
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: %s dtype %s is not supported (f32, f16, bf16)", op, an,
                              mlxn_dtype_name(a->dtype));
    return MLXN_OK;
}

mlxn_status mlxn_check_same_dtype(const char *op, const mlxn_buffer *a, const char *an, const mlxn_buffer *b,
                                    const char *bn) {
    if (a->dtype != b->dtype)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s dtype (%s) must equal %s dtype (%s)", op, bn,
                              mlxn_dtype_name(b->dtype), an, mlxn_dtype_name(a->dtype));
    return MLXN_OK;
}

mlxn_status mlxn_encoder_barrier(mlxn_encoder *e) {
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_barrier: encoder is NULL");
    return MLXN_OK; /* both backends execute an encoder's work in order */
}

mlxn_status mlxn_encoder_commit(mlxn_encoder *e) {
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_commit: encoder is NULL");
    return MLXN_OK; /* work is submitted as it is encoded */
}

mlxn_status mlxn_encoder_wait(mlxn_encoder *e) {
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_wait: encoder is NULL");
    if (e->capturing)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_wait: the encoder is capturing; end the capture first");
    atomic_fetch_add(&e->dev->n_syncs, 1);
    return (mlxn_status)e->dev->vt->encoder_wait(e->dev->impl, e->impl);
}

mlxn_status mlxn_encoder_begin_capture(mlxn_encoder *e) {
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_begin_capture: encoder is NULL");
    if (e->capturing)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_begin_capture: the encoder is already capturing");
    if (e->dev->vt->begin_capture) {
        int s = e->dev->vt->begin_capture(e->dev->impl, e->impl);
        if (s) return (mlxn_status)s;
    }
    e->capturing = true;
    e->capture_error = MLXN_OK;
    free_records(e->rec, e->n_rec);
    e->rec = NULL;
    e->n_rec = e->cap_rec = 0;
    return MLXN_OK;
}

mlxn_status mlxn_encoder_end_capture(mlxn_encoder *e, mlxn_graph **out) {
    if (out) *out = NULL;
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_end_capture: encoder is NULL");
    if (!e->capturing)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_end_capture: the encoder is not capturing");
    e->capturing = false;
    void *impl = NULL;
    mlxn_status s = MLXN_OK;
    if (e->dev->vt->end_capture) s = (mlxn_status)e->dev->vt->end_capture(e->dev->impl, e->impl, &impl);
    mlxn_graph *g = NULL;
    if (s == MLXN_OK && e->capture_error != MLXN_OK)
        s = mlxn_set_error(e->capture_error, "encoder_end_capture: an op failed while capturing");
    if (s == MLXN_OK && !out) s = mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "encoder_end_capture: out is NULL");
    if (s == MLXN_OK) {
        g = calloc(1, sizeof *g);
        if (!g) s = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "encoder_end_capture: out of host memory");
    }
    if (s != MLXN_OK) {
        if (impl) e->dev->vt->graph_free(e->dev->impl, impl);
        free_records(e->rec, e->n_rec);
        e->rec = NULL;
        e->n_rec = e->cap_rec = 0;
        return s;
    }
    g->dev = e->dev;
    g->rec = e->rec;
    g->n_rec = e->n_rec;
    g->impl = impl;
    e->rec = NULL;
    e->n_rec = e->cap_rec = 0;
    *out = g;
    return MLXN_OK;
}

mlxn_status mlxn_graph_launch(mlxn_graph *g, mlxn_encoder *e) {
    if (!g) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "graph_launch: graph is NULL");
    if (!e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "graph_launch: encoder is NULL");
    if (g->dev != e->dev)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "graph_launch: graph of device '%s', encoder of '%s'",
                              g->dev->name, e->dev->name);
    if (e->capturing)
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "graph_launch: launching a graph inside a capture is not supported");
    mlxn_device *d = e->dev;
    if (d->vt->graph_launch) {
        int s = g->impl ? d->vt->graph_launch(d->impl, g->impl, e->impl) : MLXN_OK;
        if (s) return (mlxn_status)s;
    } else {
        for (size_t i = 0; i < g->n_rec; i++) {
            const mlxn_op_call *c = &g->rec[i].call;
            int s = op_fn(d->vt, c->kind)(d->impl, e->impl, c);
            if (s) return (mlxn_status)s;
        }
    }
    atomic_fetch_add(&d->n_dispatches, g->n_rec);
    atomic_fetch_add(&d->n_graph_launches, 1);
    return MLXN_OK;
}

size_t mlxn_graph_size(const mlxn_graph *g) { return g ? g->n_rec : 0; }

void mlxn_graph_free(mlxn_graph *g) {
    if (!g) return;
    if (g->impl) g->dev->vt->graph_free(g->dev->impl, g->impl);
    free_records(g->rec, g->n_rec);
    free(g);
}

static mlxn_status record(mlxn_encoder *e, const mlxn_op_call *c) {
    if (e->n_rec == e->cap_rec) {
        size_t cap = e->cap_rec ? e->cap_rec * 2 : 16;
        mlxn_recorded *nr = realloc(e->rec, cap * sizeof *nr);
        if (!nr) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory while capturing", c->name);
        e->rec = nr;
        e->cap_rec = cap;
    }
    mlxn_recorded *r = &e->rec[e->n_rec];
    memset(r, 0, sizeof *r);
    r->call = *c;
    for (int j = 0; j < MLXN_OP_MAX_BUFS; j++) {
        if (!c->bufs[j]) continue;
        r->owned[j] = mlxn_buffer_clone(c->bufs[j]);
        if (!r->owned[j]) {
            for (int k = 0; k < j; k++) mlxn_buffer_free(r->owned[k]);
            return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of host memory while capturing", c->name);
        }
        r->call.bufs[j] = r->owned[j];
    }
    e->n_rec++;
    return MLXN_OK;
}

mlxn_status mlxn_encode(mlxn_encoder *e, mlxn_op_call *c) {
    mlxn_device *d = e->dev;
    mlxn_op_fn fn = op_fn(d->vt, c->kind);
    if (!fn) {
        const char *dt = c->n_args > 0 ? mlxn_dtype_name((mlxn_dtype)c->args[0].dtype) : "-";
        return mlxn_set_error(MLXN_ERR_UNSUPPORTED, "%s: not supported by the %s backend (dtype %s)", c->name,
                              d->vt->name, dt);
    }
    if (e->capturing) {
        mlxn_status s = record(e, c);
        if (s) { if (!e->capture_error) e->capture_error = s; return s; }
        if (!d->vt->begin_capture) return MLXN_OK; /* CPU: replayed later */
        int rs = fn(d->impl, e->impl, c);
        if (rs) {
            /* drop the record: the op is not part of the graph */
            e->n_rec--;
            for (int j = 0; j < MLXN_OP_MAX_BUFS; j++) mlxn_buffer_free(e->rec[e->n_rec].owned[j]);
            if (!e->capture_error) e->capture_error = (mlxn_status)rs;
        }
        return (mlxn_status)rs;
    }
    int s = fn(d->impl, e->impl, c);
    if (s == MLXN_OK) atomic_fetch_add(&d->n_dispatches, 1);
    return (mlxn_status)s;
}

/* ---- copy ---------------------------------------------------------------- */

mlxn_status mlxn_buffer_copy(mlxn_encoder *e, const mlxn_buffer *src, mlxn_buffer *dst) {
    static const char op[] = "buffer_copy";
    mlxn_status s;
    if ((s = mlxn_check_encoder(op, e))) return s;
    if ((s = mlxn_check_buffer(op, "src", e, src))) return s;
    if ((s = mlxn_check_buffer(op, "dst", e, dst))) return s;
    if (src->nbytes != dst->nbytes)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: src has %zu bytes, dst %zu", op, src->nbytes, dst->nbytes);
    if (mlxn_buffers_overlap(src, dst) && !mlxn_buffers_same_view(src, dst))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: src and dst overlap", op);
    mlxn_op_call c;
    memset(&c, 0, sizeof c);
    c.kind = MLXN_OPK_COPY;
    c.name = op;
    c.n_args = 2;
    c.args[0] = (mlxn_arg){mlxn_buffer_ptr(src), (int)src->dtype, src->numel, src->nbytes};
    c.args[1] = (mlxn_arg){mlxn_buffer_ptr(dst), (int)dst->dtype, dst->numel, dst->nbytes};
    c.bufs[0] = src;
    c.bufs[1] = dst;
    c.u.copy.nbytes = src->nbytes;
    return mlxn_encode(e, &c);
}

/* ---- timers -------------------------------------------------------------- */

struct mlxn_timer {
    mlxn_device *dev;
    void *impl;
};

mlxn_status mlxn_timer_new(mlxn_device *d, mlxn_timer **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "timer_new: out is NULL");
    *out = NULL;
    if (!d) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "timer_new: device is NULL");
    mlxn_timer *t = calloc(1, sizeof *t);
    if (!t) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "timer_new: out of host memory");
    t->dev = d;
    int s = d->vt->timer_new(d->impl, &t->impl);
    if (s) { free(t); return (mlxn_status)s; }
    *out = t;
    return MLXN_OK;
}

void mlxn_timer_free(mlxn_timer *t) {
    if (!t) return;
    t->dev->vt->timer_free(t->dev->impl, t->impl);
    free(t);
}

static mlxn_status timer_mark(mlxn_timer *t, mlxn_encoder *e, int which) {
    if (!t || !e) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "timer_%s: timer or encoder is NULL",
                                        which ? "stop" : "start");
    if (t->dev != e->dev)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "timer_%s: timer on '%s', encoder on '%s'",
                              which ? "stop" : "start", t->dev->name, e->dev->name);
    return (mlxn_status)t->dev->vt->timer_mark(t->dev->impl, t->impl, e->impl, which);
}

mlxn_status mlxn_timer_start(mlxn_timer *t, mlxn_encoder *e) { return timer_mark(t, e, 0); }
mlxn_status mlxn_timer_stop(mlxn_timer *t, mlxn_encoder *e) { return timer_mark(t, e, 1); }

mlxn_status mlxn_timer_elapsed_us(mlxn_timer *t, double *us) {
    if (!t || !us) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "timer_elapsed_us: timer or us is NULL");
    return (mlxn_status)t->dev->vt->timer_elapsed_us(t->dev->impl, t->impl, us);
}
