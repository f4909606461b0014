/* vkit.h — the validation-case kit shared by the family tests: a set of
   buffers filled with byte patterns (read back to prove an op that failed
   wrote nothing), and checks of a rejected call (status, message naming the
   op and the values, no dispatch, buffers untouched) or an accepted one. */
#ifndef MLXN_TEST_VKIT_H
#define MLXN_TEST_VKIT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define VS_MAX 8

/* The buffers of one validation case: bases filled with a byte pattern (read
   back afterwards) and views of them. */
typedef struct {
    mlxn_buffer *base[VS_MAX];
    unsigned char pat[VS_MAX];
    int nbase;
    mlxn_buffer *view[VS_MAX];
    int nview;
    bool setup_ok;
} vset;

typedef struct {
    const test_env *env;
    report_t *rep;
    bool list;
    mlxn_device *other; /* a second CPU device, for "lives on another device" */
} vctx;

static inline mlxn_buffer *vs_new(vset *s, mlxn_device *d, mlxn_dtype t, int nd, const int64_t *shape, unsigned char pat) {
    mlxn_buffer *b = NULL;
    if (!d || s->nbase >= VS_MAX || mlxn_buffer_new(d, t, nd, shape, &b) != MLXN_OK) {
        s->setup_ok = false;
        return NULL;
    }
    const size_t nb = mlxn_buffer_nbytes(b);
    unsigned char *h = malloc(nb);
    if (!h) { s->setup_ok = false; mlxn_buffer_free(b); return NULL; }
    memset(h, pat, nb);
    if (mlxn_buffer_write(b, h, nb) != MLXN_OK) s->setup_ok = false;
    free(h);
    s->base[s->nbase] = b;
    s->pat[s->nbase++] = pat;
    return b;
}

static inline mlxn_buffer *vs_view(vset *s, mlxn_buffer *base, size_t off, mlxn_dtype t, int nd, const int64_t *shape) {
    mlxn_buffer *v = NULL;
    if (!base || s->nview >= VS_MAX || mlxn_buffer_view(base, off, t, nd, shape, &v) != MLXN_OK) {
        s->setup_ok = false;
        return NULL;
    }
    s->view[s->nview++] = v;
    return v;
}

static inline bool vs_untouched(vset *s) {
    bool ok = true;
    for (int i = 0; i < s->nbase; i++) {
        const size_t nb = mlxn_buffer_nbytes(s->base[i]);
        unsigned char *h = malloc(nb);
        if (!h || mlxn_buffer_read(s->base[i], h, nb) != MLXN_OK) ok = false;
        for (size_t k = 0; ok && k < nb; k++) ok = h[k] == s->pat[i];
        free(h);
    }
    return ok;
}

static inline void vs_free(vset *s) {
    for (int i = 0; i < s->nview; i++) mlxn_buffer_free(s->view[i]);
    for (int i = 0; i < s->nbase; i++) mlxn_buffer_free(s->base[i]);
}

static inline uint64_t dispatches(mlxn_device *d) {
    mlxn_counters k;
    mlxn_device_counters(d, &k);
    return k.dispatches;
}

/* Checks a rejected call: status, message (starts with "op: ", contains every
   string of the NULL-terminated list), buffers and dispatch counter unchanged.
   Must be called right after the op, before any other mlxn call. */
static inline void vcheck(vctx *v, const char *name, vset *s, uint64_t d0, mlxn_status st, mlxn_status want, const char *op,
                   ...) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mlxn_last_error());
    char why[768] = "";
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", op);
    if (!s->setup_ok) snprintf(why, sizeof why, "setup failed");
    else if (st != want)
        snprintf(why, sizeof why, "status %s, expected %s (message \"%s\")", mlxn_status_str(st), mlxn_status_str(want),
                 msg);
    else if (strncmp(msg, prefix, strlen(prefix)) != 0)
        snprintf(why, sizeof why, "message \"%s\" does not start with \"%s\"", msg, prefix);
    else {
        va_list ap;
        va_start(ap, op);
        for (const char *sub = va_arg(ap, const char *); sub; sub = va_arg(ap, const char *))
            if (!strstr(msg, sub)) {
                snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", msg, sub);
                break;
            }
        va_end(ap);
    }
    if (!why[0]) {
        (void)mlxn_encoder_wait(v->env->enc);
        if (dispatches(v->env->dev) != d0) snprintf(why, sizeof why, "a dispatch was encoded");
        else if (!vs_untouched(s)) snprintf(why, sizeof why, "a buffer handed to the call was modified");
    }
    report_case(v->rep, name, !why[0], "%s", why[0] ? why : msg);
    vs_free(s);
}

/* A valid call: must succeed and dispatch exactly once. */
static inline void vcheck_ok(vctx *v, const char *name, vset *s, uint64_t d0, mlxn_status st) {
    char why[600] = "";
    if (!s->setup_ok) snprintf(why, sizeof why, "setup failed");
    else if (st != MLXN_OK) snprintf(why, sizeof why, "%s: %s", mlxn_status_str(st), mlxn_last_error());
    else if ((st = mlxn_encoder_wait(v->env->enc)))
        snprintf(why, sizeof why, "wait: %s: %s", mlxn_status_str(st), mlxn_last_error());
    else if (dispatches(v->env->dev) != d0 + 1) snprintf(why, sizeof why, "expected exactly one dispatch");
    report_case(v->rep, name, !why[0], "%s", why);
    vs_free(s);
}

/* `for` header that runs its body once when the case is selected (list mode
   only prints the name). */
static inline bool vbegin(vctx *v, const char *name) {
    if (v->list) { printf("%s\n", name); return false; }
    return report_wants(v->rep, name);
}
#define VCASE(v, name) for (bool once_ = vbegin((v), (name)); once_; once_ = false)

#endif
