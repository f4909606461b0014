/* mlx_quant.c — MLX quantization configs (config.json "quantization",
   quantization_config.json) and the grouping of <base>.weight/.scales/.biases
   into quantized-tensor descriptors; see the safetensors section of mlxn.h. */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG_BYTES ((size_t)64 << 20)

mlxn_status mlxn_io_read_small_file(const char *path, size_t max, char **out, size_t *len); /* safetensors.c */

static const char *const k_mode[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
const char *mlxn_mlxq_mode_name(mlxn_mlxq_mode m) { return (unsigned)m < 4 ? k_mode[m] : "invalid"; }

typedef struct { char *name; mlxn_mlxq_layer_params p; } ovr_t;

struct mlxn_mlxq_config {
    char            *source;
    mlxn_mlxq_layer_params def;
    ovr_t           *ovr;
    int64_t          n_ovr;
};

void mlxn_mlxq_config_free(mlxn_mlxq_config *c) {
    if (!c) return;
    for (int64_t i = 0; i < c->n_ovr; i++) free(c->ovr[i].name);
    free(c->ovr);
    free(c->source);
    free(c);
}

/* Escapes untrusted text for a message. */
static const char *esc(const char *s, char buf[300]) {
    size_t o = 0;
    for (size_t i = 0; s[i] && o < 280; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 64) { memcpy(buf + o, "...", 3); o += 3; break; }
        if (ch >= 32 && ch < 127 && ch != '\\') buf[o++] = (char)ch;
        else o += (size_t)snprintf(buf + o, 300 - o, "\\x%02x", ch);
    }
    buf[o] = 0;
    return buf;
}

static const char *kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Checks a (bits, group_size, mode) combination; returns the reason or NULL. */
static const char *combo_error(const mlxn_mlxq_layer_params *p) {
    switch (p->mode) {
    case MLXN_MLXQ_AFFINE:
        if (p->bits != 2 && p->bits != 3 && p->bits != 4 && p->bits != 5 && p->bits != 6 && p->bits != 8)
            return "affine bits must be 2, 3, 4, 5, 6 or 8";
        if (p->group_size != 32 && p->group_size != 64 && p->group_size != 128)
            return "affine group_size must be 32, 64 or 128";
        return NULL;
    case MLXN_MLXQ_MXFP4: return p->bits == 4 && p->group_size == 32 ? NULL : "mxfp4 needs bits 4 and group_size 32";
    case MLXN_MLXQ_MXFP8: return p->bits == 8 && p->group_size == 32 ? NULL : "mxfp8 needs bits 8 and group_size 32";
    case MLXN_MLXQ_NVFP4: return p->bits == 4 && p->group_size == 16 ? NULL : "nvfp4 needs bits 4 and group_size 16";
    }
    return "unknown mode";
}

/* Reads bits / group_size / mode of object o over `base` (the inherited values);
   where: "quantization" or "quantization['name']" for messages. */
static mlxn_status read_params(const char *src, const char *where, json_t *o, const mlxn_mlxq_layer_params *base,
                               mlxn_mlxq_layer_params *out) {
    *out = *base;
    out->quantized = 1;
    json_t *b = json_object_get(o, "bits"), *g = json_object_get(o, "group_size"), *m = json_object_get(o, "mode");
    int mode_given = 0;
    if (m) {
        if (!json_is_string(m))
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.mode is %s, not a string", src, where, kind(m));
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(json_string_value(m), k_mode[i])) found = i;
        if (found < 0) {
            char eb[300];
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.mode '%s' is not affine, mxfp4, mxfp8 or nvfp4", src, where,
                                  esc(json_string_value(m), eb));
        }
        out->mode = (mlxn_mlxq_mode)found;
        mode_given = 1;
    }
    /* an fp mode given without bits/group_size takes that mode's fixed values */
    if (mode_given && out->mode != MLXN_MLXQ_AFFINE) {
        out->bits = out->mode == MLXN_MLXQ_MXFP8 ? 8 : 4;
        out->group_size = out->mode == MLXN_MLXQ_NVFP4 ? 16 : 32;
    }
    if (b) {
        if (!json_is_integer(b))
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.bits is %s, not an integer", src, where, kind(b));
        json_int_t v = json_integer_value(b);
        if (v < 1 || v > 8)
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.bits = %lld is not a supported bit width", src, where,
                                  (long long)v);
        out->bits = (int)v;
    }
    if (g) {
        if (!json_is_integer(g))
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.group_size is %s, not an integer", src, where, kind(g));
        json_int_t v = json_integer_value(g);
        if (v < 1 || v > 4096)
            return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.group_size = %lld is not a supported group size", src, where,
                                  (long long)v);
        out->group_size = (int)v;
    }
    const char *why = combo_error(out);
    if (why)
        return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s: bits %d, group_size %d, mode %s: %s", src, where, out->bits,
                              out->group_size, k_mode[out->mode], why);
    return MLXN_OK;
}

static mlxn_status add_override(mlxn_mlxq_config *c, const char *name, const mlxn_mlxq_layer_params *p, size_t cap) {
    if (!c->ovr) {
        c->ovr = calloc(cap ? cap : 1, sizeof(ovr_t));
        if (!c->ovr) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", c->source);
    }
    char *n = strdup(name);
    if (!n) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", c->source);
    c->ovr[c->n_ovr].name = n;
    c->ovr[c->n_ovr].p = *p;
    c->n_ovr++;
    return MLXN_OK;
}

/* Parses the quantization object q: top-level values, then overrides (every
   key whose value is an object or false; hf2q's "per_tensor" map too). */
static mlxn_status parse_q(mlxn_mlxq_config *c, json_t *q, const char *what) {
    const mlxn_mlxq_layer_params dflt = {1, 4, 64, MLXN_MLXQ_AFFINE};
    mlxn_status s = read_params(c->source, what, q, &dflt, &c->def);
    if (s) return s;
    json_t *pt = json_object_get(q, "per_tensor");
    if (pt && !json_is_object(pt))
        return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s.per_tensor is %s, not an object", c->source, what, kind(pt));
    size_t cap = json_object_size(q) + (pt ? json_object_size(pt) : 0);
    for (int pass = 0; pass < 2; pass++) {
        json_t *obj = pass ? pt : q;
        if (!obj) continue;
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            if (!pass && (!strcmp(k, "per_tensor") || !strcmp(k, "bits") || !strcmp(k, "group_size") ||
                          !strcmp(k, "mode")))
                continue;
            char where[400], eb[300];
            snprintf(where, sizeof where, "%s%s['%s']", what, pass ? ".per_tensor" : "", esc(k, eb));
            mlxn_mlxq_layer_params p;
            if (json_is_false(v)) {
                p = c->def;
                p.quantized = 0;
            } else if (json_is_object(v)) {
                if ((s = read_params(c->source, where, v, &c->def, &p))) return s;
            } else if (pass) {
                return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s is %s, not an object", c->source, where, kind(v));
            } else {
                continue; /* other top-level keys (quant_method, ...) are not overrides */
            }
            if (!k[0]) return mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s: empty module name", c->source, where);
            if ((s = add_override(c, k, &p, cap))) return s;
        }
    }
    return MLXN_OK;
}

mlxn_status mlxn_mlxq_config_parse(const char *json, size_t len, int is_config_json, const char *source,
                                   mlxn_mlxq_config **out) {
    if (out) *out = NULL;
    if (!out || (!json && len))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_config_parse: NULL %s", out ? "json" : "out");
    mlxn_mlxq_config *c = calloc(1, sizeof *c);
    if (!c || !(c->source = strdup(source ? source : "<memory>"))) {
        free(c);
        return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_config_parse: out of memory");
    }
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    mlxn_status s = MLXN_OK;
    if (!root)
        s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: JSON: %s (line %d, column %d)", c->source, jerr.text, jerr.line,
                           jerr.column);
    else if (!json_is_object(root))
        s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: the document is %s, not an object", c->source, kind(root));
    else if (!is_config_json)
        s = parse_q(c, root, "quantization_config");
    else {
        json_t *q = json_object_get(root, "quantization");
        const char *what = "quantization";
        if (!q) {
            json_t *qc = json_object_get(root, "quantization_config");
            if (json_is_object(qc) && json_is_integer(json_object_get(qc, "bits"))) {
                q = qc;
                what = "quantization_config";
            }
        }
        if (!q)
            s = mlxn_set_error(MLXN_ERR_NOT_FOUND, "%s: no \"quantization\" object (an unquantized model)", c->source);
        else if (!json_is_object(q))
            s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s is %s, not an object", c->source, what, kind(q));
        else
            s = parse_q(c, q, what);
    }
    json_decref(root);
    if (s) { mlxn_mlxq_config_free(c); return s; }
    *out = c;
    return MLXN_OK;
}

mlxn_status mlxn_mlxq_config_load(const char *dir, mlxn_mlxq_config **out) {
    if (out) *out = NULL;
    if (!dir || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_config_load: NULL %s", dir ? "out" : "dir");
    static const char *const files[2] = {"config.json", "quantization_config.json"};
    for (int f = 0; f < 2; f++) {
        size_t dl = strlen(dir);
        char *path = malloc(dl + 32);
        if (!path) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_config_load: out of memory");
        snprintf(path, dl + 32, "%s/%s", dir, files[f]);
        char *txt;
        size_t len;
        mlxn_status s = mlxn_io_read_small_file(path, MAX_CONFIG_BYTES, &txt, &len);
        if (s == MLXN_ERR_NOT_FOUND) { free(path); continue; }
        if (s) { free(path); return s; }
        s = mlxn_mlxq_config_parse(txt, len, f == 0, path, out);
        free(txt);
        free(path);
        if (s != MLXN_ERR_NOT_FOUND) return s;
    }
    return mlxn_set_error(MLXN_ERR_NOT_FOUND, "%s: no quantization in config.json or quantization_config.json", dir);
}

const char *mlxn_mlxq_config_source(const mlxn_mlxq_config *c) { return c ? c->source : NULL; }
mlxn_mlxq_layer_params mlxn_mlxq_config_defaults(const mlxn_mlxq_config *c) {
    mlxn_mlxq_layer_params z = {0, 0, 0, MLXN_MLXQ_AFFINE};
    return c ? c->def : z;
}
int64_t mlxn_mlxq_config_override_count(const mlxn_mlxq_config *c) { return c ? c->n_ovr : 0; }
mlxn_status mlxn_mlxq_config_override(const mlxn_mlxq_config *c, int64_t i, const char **name, mlxn_mlxq_layer_params *out) {
    if (!c || !name || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_config_override: NULL argument");
    if (i < 0 || i >= c->n_ovr)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_config_override: index %lld out of range (%lld overrides)",
                              (long long)i, (long long)c->n_ovr);
    *name = c->ovr[i].name;
    *out = c->ovr[i].p;
    return MLXN_OK;
}

static const ovr_t *find_ovr(const mlxn_mlxq_config *c, const char *name, size_t len) {
    for (int64_t i = 0; i < c->n_ovr; i++)
        if (strlen(c->ovr[i].name) == len && !memcmp(c->ovr[i].name, name, len)) return &c->ovr[i];
    return NULL;
}

/* The name without a .weight/.scales/.biases suffix: its length (len if none). */
static size_t strip_suffix(const char *n, size_t len) {
    static const char *const suf[] = {".weight", ".scales", ".biases"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(suf[i]);
        if (len > l && !memcmp(n + len - l, suf[i], l)) return len - l;
    }
    return len;
}

mlxn_status mlxn_mlxq_config_lookup(const mlxn_mlxq_config *c, const char *name, mlxn_mlxq_layer_params *out) {
    if (!c || !name || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_config_lookup: NULL argument");
    static const char lm[] = "language_model.";
    const size_t lml = sizeof lm - 1;
    size_t len = strlen(name);
    const ovr_t *o = find_ovr(c, name, len);
    if (!o) o = find_ovr(c, name, strip_suffix(name, len));
    if (!o && len > lml && !memcmp(name, lm, lml)) {
        o = find_ovr(c, name + lml, len - lml);
        if (!o) o = find_ovr(c, name + lml, strip_suffix(name + lml, len - lml));
    }
    if (!o && c->n_ovr) {
        char *p = malloc(len + lml + 1);
        if (!p) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_config_lookup: out of memory");
        memcpy(p, lm, lml);
        memcpy(p + lml, name, len + 1);
        o = find_ovr(c, p, len + lml);
        if (!o) o = find_ovr(c, p, strip_suffix(p, len + lml));
        free(p);
    }
    *out = o ? o->p : c->def;
    return MLXN_OK;
}

/* ---- grouping ------------------------------------------------------------------ */

struct mlxn_mlxq_list {
    mlxn_mlxq_tensor *q;
    int64_t           n;
    int64_t          *by_tensor; /* tensor index -> group index or -1 */
    int64_t           n_tensors;
};

void mlxn_mlxq_list_free(mlxn_mlxq_list *l) {
    if (!l) return;
    for (int64_t i = 0; i < l->n; i++) free((char *)l->q[i].name);
    free(l->q);
    free(l->by_tensor);
    free(l);
}
int64_t mlxn_mlxq_list_count(const mlxn_mlxq_list *l) { return l ? l->n : 0; }
mlxn_status mlxn_mlxq_list_get(const mlxn_mlxq_list *l, int64_t i, mlxn_mlxq_tensor *out) {
    if (!l || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_list_get: NULL argument");
    if (i < 0 || i >= l->n)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_list_get: index %lld out of range (%lld groups)",
                              (long long)i, (long long)l->n);
    *out = l->q[i];
    return MLXN_OK;
}
int64_t mlxn_mlxq_list_find_tensor(const mlxn_mlxq_list *l, int64_t t) {
    return l && t >= 0 && t < l->n_tensors ? l->by_tensor[t] : -1;
}

static int ends_with(const char *s, size_t len, const char *suf) {
    size_t l = strlen(suf);
    return len > l && !memcmp(s + len - l, suf, l);
}

/* Looks up "<base><suffix>"; -1 if absent. */
static int64_t find_with(const mlxn_safetensors *st, const char *base, size_t bl, const char *suffix, char *scratch) {
    size_t sl = strlen(suffix);
    memcpy(scratch, base, bl);
    memcpy(scratch + bl, suffix, sl + 1);
    return mlxn_safetensors_find_tensor(st, scratch);
}

static const char *shape_str(const mlxn_st_tensor *t, char buf[200]) {
    size_t o = 0;
    buf[0] = 0;
    for (int d = 0; d < t->ndim && o < 170; d++)
        o += (size_t)snprintf(buf + o, 200 - o, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    return buf;
}

/* Validates one group; fills q (name set by the caller). */
static mlxn_status check_group(const mlxn_safetensors *st, int64_t wi, int64_t si, int64_t bi,
                               const mlxn_mlxq_layer_params *p, const char *base, mlxn_mlxq_tensor *q) {
    mlxn_st_tensor w, s, b;
    char eb[300], s1[200], s2[200];
    const char *nm = esc(base, eb);
    mlxn_safetensors_tensor_info(st, wi, &w);
    mlxn_safetensors_tensor_info(st, si, &s);
    if (w.dtype != MLXN_ST_U32)
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': packed weight '%s' is %s, not U32", nm, w.name,
                              mlxn_st_dtype_name(w.dtype));
    int fp = p->mode != MLXN_MLXQ_AFFINE;
    if (fp ? s.dtype != MLXN_ST_U8 : (s.dtype != MLXN_ST_F32 && s.dtype != MLXN_ST_F16 && s.dtype != MLXN_ST_BF16))
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': scales are %s, mode %s needs %s", nm,
                              mlxn_st_dtype_name(s.dtype), k_mode[p->mode], fp ? "U8" : "F32, F16 or BF16");
    if (w.ndim < 1 || w.ndim != s.ndim)
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': weight shape [%s] and scales shape [%s] differ in rank",
                              nm, shape_str(&w, s1), shape_str(&s, s2));
    for (int d = 0; d + 1 < w.ndim; d++)
        if (w.shape[d] != s.shape[d])
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "mlx quant: '%s': weight shape [%s] and scales shape [%s] differ in dim %d", nm,
                                  shape_str(&w, s1), shape_str(&s, s2), d);
    int64_t words = w.shape[w.ndim - 1], groups = s.shape[s.ndim - 1];
    /* K = groups * group_size must hold exactly words * 32 / bits values */
    if (groups < 1 || groups > INT64_MAX / 8 / p->group_size || words < 1 || words > INT64_MAX / 32)
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': weight shape [%s] / scales shape [%s] are empty or too large",
                              nm, shape_str(&w, s1), shape_str(&s, s2));
    int64_t k = groups * p->group_size;
    if (words * 32 != k * p->bits || k / p->group_size != groups)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "mlx quant: '%s': %lld packed words per row hold %lld %d-bit values, the %lld scales per row "
                              "of group_size %d need %lld",
                              nm, (long long)words, (long long)(words * 32 / p->bits), p->bits, (long long)groups,
                              p->group_size, (long long)k);
    if (fp && bi >= 0)
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': mode %s has no biases, but the file has '%s.biases'",
                              nm, k_mode[p->mode], nm);
    if (!fp && bi < 0)
        return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': affine mode needs '%s.biases'", nm, nm);
    if (bi >= 0) {
        mlxn_safetensors_tensor_info(st, bi, &b);
        int same = b.dtype == s.dtype && b.ndim == s.ndim;
        for (int d = 0; same && d < b.ndim; d++) same = b.shape[d] == s.shape[d];
        if (!same)
            return mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s': biases (%s [%s]) differ from scales (%s [%s])", nm,
                                  mlxn_st_dtype_name(b.dtype), shape_str(&b, s1), mlxn_st_dtype_name(s.dtype),
                                  shape_str(&s, s2));
    }
    q->params = *p;
    q->ndim = w.ndim;
    memset(q->shape, 0, sizeof q->shape);
    for (int d = 0; d + 1 < w.ndim; d++) q->shape[d] = w.shape[d];
    q->shape[w.ndim - 1] = k;
    q->weight = wi;
    q->scales = si;
    q->biases = bi;
    return MLXN_OK;
}

mlxn_status mlxn_mlxq_group(const mlxn_safetensors *st, const mlxn_mlxq_config *c, mlxn_mlxq_list **out) {
    if (out) *out = NULL;
    if (!st || !c || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "mlxq_group: NULL argument");
    int64_t nt = mlxn_safetensors_tensor_count(st);
    mlxn_mlxq_list *l = calloc(1, sizeof *l);
    if (l) {
        l->by_tensor = malloc((size_t)(nt ? nt : 1) * sizeof(int64_t));
        l->q = calloc((size_t)(nt ? nt : 1), sizeof(mlxn_mlxq_tensor));
    }
    if (!l || !l->by_tensor || !l->q) {
        mlxn_mlxq_list_free(l);
        return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_group: out of memory");
    }
    l->n_tensors = nt;
    for (int64_t i = 0; i < nt; i++) l->by_tensor[i] = -1;
    mlxn_status s = MLXN_OK;
    char eb[300];
    for (int64_t i = 0; i < nt && !s; i++) {
        mlxn_st_tensor t;
        mlxn_safetensors_tensor_info(st, i, &t);
        size_t len = strlen(t.name);
        if (!ends_with(t.name, len, ".scales")) continue;
        size_t bl = len - 7;
        char *base = malloc(bl + 16);
        if (!base) { s = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_group: out of memory"); break; }
        char *scratch = malloc(bl + 16);
        if (!scratch) { free(base); s = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "mlxq_group: out of memory"); break; }
        memcpy(base, t.name, bl);
        base[bl] = 0;
        int64_t wi = find_with(st, base, bl, ".weight", scratch);
        if (wi < 0) wi = mlxn_safetensors_find_tensor(st, base);
        int64_t bi = find_with(st, base, bl, ".biases", scratch);
        mlxn_mlxq_layer_params p;
        mlxn_mlxq_config_lookup(c, base, &p);
        if (wi < 0)
            s = mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s' has no weight ('%s.weight' or '%s')", t.name,
                               esc(base, eb), base);
        else if (!p.quantized)
            s = mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s' has scales, but %s marks it unquantized (false)",
                               esc(base, eb), mlxn_mlxq_config_source(c));
        else if (l->by_tensor[wi] >= 0)
            s = mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: weight '%s' belongs to two scales tensors", esc(base, eb));
        else {
            mlxn_mlxq_tensor *q = &l->q[l->n];
            s = check_group(st, wi, i, bi, &p, base, q);
            if (!s) {
                q->name = base;
                base = NULL;
                l->by_tensor[wi] = l->by_tensor[i] = l->n;
                if (bi >= 0) l->by_tensor[bi] = l->n;
                l->n++;
            }
        }
        free(base);
        free(scratch);
    }
    /* a .biases outside every group is an orphan (a plain layer bias is ".bias") */
    for (int64_t i = 0; i < nt && !s; i++) {
        mlxn_st_tensor t;
        mlxn_safetensors_tensor_info(st, i, &t);
        if (l->by_tensor[i] < 0 && ends_with(t.name, strlen(t.name), ".biases"))
            s = mlxn_set_error(MLXN_ERR_FORMAT, "mlx quant: '%s' has no '.scales' beside it", esc(t.name, eb));
    }
    if (s) { mlxn_mlxq_list_free(l); return s; }
    *out = l;
    return MLXN_OK;
}
