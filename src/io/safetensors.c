/* safetensors.c — a hardened safetensors reader (single files, sharded models
   through model.safetensors.index.json, folders); see the safetensors section
   of mlxn.h for the contract.

   A file is validated WHOLE when it is opened: the 8-byte header length
   against the cap and the bytes present, the header text through jansson
   (UTF-8, JSON syntax, nesting, duplicate keys at every level), then every
   tensor entry (known fields only, dtype, shape and offsets with checked
   arithmetic), and finally the data section is tiled exactly by the tensors
   sorted by offset. The JSON tree is dropped after the open: names, shapes and
   metadata are copied into flat arrays, and tensor data stays in the mapping. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_NAME "model.safetensors.index.json"
#define MAX_INDEX_BYTES ((size_t)MLXN_ST_MAX_HEADER) /* an index is a JSON header too */

/* ------------------------------------------------------------------------- */
/* dtypes                                                                     */
/* ------------------------------------------------------------------------- */

static const struct { const char *name; int bits; int mlxn; } k_dt[MLXN_ST_DTYPE_COUNT] = {
    [MLXN_ST_BOOL] = {"BOOL", 8, MLXN_U8},       [MLXN_ST_U8] = {"U8", 8, MLXN_U8},
    [MLXN_ST_I8] = {"I8", 8, MLXN_I8},           [MLXN_ST_F8_E4M3] = {"F8_E4M3", 8, MLXN_U8},
    [MLXN_ST_F8_E5M2] = {"F8_E5M2", 8, MLXN_U8}, [MLXN_ST_F8_E8M0] = {"F8_E8M0", 8, MLXN_U8},
    [MLXN_ST_I16] = {"I16", 16, MLXN_I16},       [MLXN_ST_U16] = {"U16", 16, MLXN_U16},
    [MLXN_ST_F16] = {"F16", 16, MLXN_F16},       [MLXN_ST_BF16] = {"BF16", 16, MLXN_BF16},
    [MLXN_ST_I32] = {"I32", 32, MLXN_I32},       [MLXN_ST_U32] = {"U32", 32, MLXN_U32},
    [MLXN_ST_F32] = {"F32", 32, MLXN_F32},       [MLXN_ST_I64] = {"I64", 64, MLXN_I64},
    [MLXN_ST_U64] = {"U64", 64, -1},             [MLXN_ST_F64] = {"F64", 64, -1},
    [MLXN_ST_C64] = {"C64", 64, -1},             [MLXN_ST_F4] = {"F4", 4, -1},
    [MLXN_ST_F6_E2M3] = {"F6_E2M3", 6, -1},      [MLXN_ST_F6_E3M2] = {"F6_E3M2", 6, -1},
};

static int dt_ok(long long t) { return t >= 0 && t < MLXN_ST_DTYPE_COUNT; }
const char *mlxn_st_dtype_name(mlxn_st_dtype t) { return dt_ok(t) ? k_dt[t].name : "invalid"; }
int mlxn_st_dtype_bits(mlxn_st_dtype t) { return dt_ok(t) ? k_dt[t].bits : 0; }
int mlxn_st_dtype_to_mlxn(mlxn_st_dtype t, mlxn_dtype *out) {
    if (!dt_ok(t) || k_dt[t].mlxn < 0) return 0;
    if (out) *out = (mlxn_dtype)k_dt[t].mlxn;
    return 1;
}

/* ------------------------------------------------------------------------- */
/* reader state                                                               */
/* ------------------------------------------------------------------------- */

typedef struct {
    char    *name;
    int32_t  dtype;
    int32_t  ndim;
    int64_t  shape[MLXN_ST_MAX_DIMS];
    int64_t  nel;
    uint64_t begin, end; /* relative to the shard's data section */
    int32_t  shard;
} tinfo_t;

typedef struct {
    char          *path;
    const uint8_t *data;
    size_t         size;
    void          *map;      /* owned mapping, or NULL (memory / empty)        */
    uint64_t       data_off; /* 8 + header length                              */
} shard_t;

typedef struct { char *key, *val; } meta_t;

struct mlxn_safetensors {
    shard_t *shards;
    int      n_shards;
    tinfo_t *t;
    int64_t  n_t, cap_t;
    meta_t  *meta;
    int64_t  n_meta, cap_meta;
    int64_t *t_hash, *m_hash; /* open addressing, -1 = empty */
    uint64_t t_hcap, m_hcap;
    uint64_t total;
    char    *dir;
};

/* Escapes a name for an error message: printable ASCII kept, others \xNN, cut at 64. */
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

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

typedef const char *(*name_of_fn)(const mlxn_safetensors *st, int64_t i);
static const char *t_name(const mlxn_safetensors *st, int64_t i) { return st->t[i].name; }
static const char *m_name(const mlxn_safetensors *st, int64_t i) { return st->meta[i].key; }

/* A table of >= 2n slots (n entries); NULL on overflow or out of memory. */
static int64_t *hash_new(uint64_t n, uint64_t *cap) {
    uint64_t c = 8;
    while (c < 2 * n) c <<= 1;
    if (c > SIZE_MAX / sizeof(int64_t)) return NULL;
    int64_t *t = malloc((size_t)c * sizeof(int64_t));
    if (t) memset(t, 0xff, (size_t)c * sizeof(int64_t));
    *cap = c;
    return t;
}
/* Inserts entry idx; returns the index of an entry with the same name already there, or -1. */
static int64_t hash_insert(int64_t *tab, uint64_t cap, name_of_fn get, const mlxn_safetensors *st, int64_t idx) {
    const char *s = get(st, idx);
    for (uint64_t h = fnv(s) & (cap - 1);; h = (h + 1) & (cap - 1)) {
        if (tab[h] < 0) { tab[h] = idx; return -1; }
        if (!strcmp(get(st, tab[h]), s)) return tab[h];
    }
}
static int64_t hash_find(const int64_t *tab, uint64_t cap, name_of_fn get, const mlxn_safetensors *st,
                         const char *s) {
    if (!tab || !s) return -1;
    for (uint64_t h = fnv(s) & (cap - 1);; h = (h + 1) & (cap - 1)) {
        if (tab[h] < 0) return -1;
        if (!strcmp(get(st, tab[h]), s)) return tab[h];
    }
}

void mlxn_safetensors_close(mlxn_safetensors *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n_t; i++) free(st->t[i].name);
    for (int64_t i = 0; i < st->n_meta; i++) { free(st->meta[i].key); free(st->meta[i].val); }
    for (int i = 0; i < st->n_shards; i++) {
        free(st->shards[i].path);
        if (st->shards[i].map) munmap(st->shards[i].map, st->shards[i].size);
    }
    free(st->shards);
    free(st->t);
    free(st->meta);
    free(st->t_hash);
    free(st->m_hash);
    free(st->dir);
    free(st);
}

static mlxn_status oom(const char *what) {
    return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "safetensors: out of memory for %s", what);
}

static const char *json_kind(const json_t *v) {
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

/* A JSON integer >= 0 (jansson rejects integers above INT64_MAX while parsing). */
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* Parses one tensor entry `name`: value `v`, into t (name not yet set). */
static mlxn_status parse_entry(const char *name, json_t *v, tinfo_t *t) {
    char eb[300];
    const char *nm = esc(name, eb);
    if (!json_is_object(v))
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': entry is %s, not an object", nm,
                              json_kind(v));
    const char *k;
    json_t *f;
    json_object_foreach(v, k, f) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char eb2[300];
            return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': unknown field '%s'", nm, esc(k, eb2));
        }
    }
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!dt || !sh || !off)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': missing field '%s'", nm,
                              !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!json_is_string(dt))
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': dtype is %s, not a string", nm, json_kind(dt));
    t->dtype = -1;
    for (int d = 0; d < MLXN_ST_DTYPE_COUNT; d++)
        if (!strcmp(json_string_value(dt), k_dt[d].name)) t->dtype = d;
    if (t->dtype < 0) {
        char eb2[300];
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': unknown dtype '%s'", nm,
                              esc(json_string_value(dt), eb2));
    }
    if (!json_is_array(sh))
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': shape is %s, not an array", nm, json_kind(sh));
    size_t nd = json_array_size(sh);
    if (nd > MLXN_ST_MAX_DIMS)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': shape has %zu dims, at most %d are supported",
                              nm, nd, MLXN_ST_MAX_DIMS);
    t->ndim = (int32_t)nd;
    /* element count and bits with division-based overflow checks */
    uint64_t nel = 1;
    int overflow = 0;
    for (size_t d = 0; d < nd; d++) {
        json_t *e = json_array_get(sh, d);
        uint64_t x;
        if (!json_u64(e, &x)) {
            if (json_is_integer(e))
                return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': shape[%zu] = %lld is negative", nm, d,
                                      (long long)json_integer_value(e));
            return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': shape[%zu] is %s, not an integer", nm, d,
                                  json_kind(e));
        }
        t->shape[d] = (int64_t)x;
        if (x && nel > (uint64_t)INT64_MAX / x) overflow = 1;
        else nel *= x;
    }
    for (size_t d = nd; d < MLXN_ST_MAX_DIMS; d++) t->shape[d] = 0;
    char shp[200];
    size_t o = 0;
    shp[0] = 0;
    for (size_t d = 0; d < nd && o < 170; d++)
        o += (size_t)snprintf(shp + o, sizeof shp - o, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    /* a zero dimension makes the product 0 even if an earlier partial product overflowed */
    for (size_t d = 0; d < nd; d++) if (t->shape[d] == 0) { overflow = 0; nel = 0; }
    if (overflow)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': element count of shape [%s] overflows", nm, shp);
    uint64_t bits = (uint64_t)k_dt[t->dtype].bits;
    if (nel > UINT64_MAX / bits)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': byte size of shape [%s] of %s overflows", nm,
                              shp, k_dt[t->dtype].name);
    if ((nel * bits) % 8)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "safetensors: tensor '%s': shape [%s] of %s is %llu bits, not a whole number of bytes", nm,
                              shp, k_dt[t->dtype].name, (unsigned long long)(nel * bits));
    uint64_t nbytes = nel * bits / 8;
    t->nel = (int64_t)nel;
    if (!json_is_array(off) || json_array_size(off) != 2)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': data_offsets is %s, not [BEGIN, END]", nm,
                              json_is_array(off) ? "an array of the wrong length" : json_kind(off));
    if (!json_u64(json_array_get(off, 0), &t->begin) || !json_u64(json_array_get(off, 1), &t->end))
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "safetensors: tensor '%s': data_offsets entries must be integers >= 0", nm);
    if (t->begin > t->end)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s': data_offsets [%llu, %llu] has BEGIN > END", nm,
                              (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != nbytes)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "safetensors: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, shape [%s] of %s needs %llu",
                              nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)(t->end - t->begin), shp, k_dt[t->dtype].name,
                              (unsigned long long)nbytes);
    return MLXN_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const tinfo_t *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Parses shard si (its data/size already set), appending its tensors and metadata. */
static mlxn_status parse_shard(mlxn_safetensors *st, int si) {
    shard_t *sh = &st->shards[si];
    const uint8_t *p = sh->data;
    size_t size = sh->size;
    if (size < 8)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: file of %zu bytes is too short for the 8-byte header length",
                              size);
    uint64_t n;
    memcpy(&n, p, 8); /* little-endian host */
    if (n > MLXN_ST_MAX_HEADER)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: header length %llu exceeds the limit of %u bytes",
                              (unsigned long long)n, MLXN_ST_MAX_HEADER);
    if (n > size - 8)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "safetensors: header length %llu exceeds the %zu bytes after the length field",
                              (unsigned long long)n, size - 8);
    if (n < 2)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: header length %llu is too short for a JSON object",
                              (unsigned long long)n);
    const char *hdr = (const char *)p + 8;
    if (hdr[0] != '{')
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: header does not start with '{' (byte 0x%02x)",
                              (unsigned char)hdr[0]);
    json_error_t jerr;
    json_t *root = json_loadb(hdr, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: header JSON: %s (line %d, column %d)", jerr.text,
                              jerr.line, jerr.column);
    mlxn_status s = MLXN_OK;
    char eb[300];
    sh->data_off = 8 + n;
    uint64_t data_len = size - sh->data_off;
    int64_t first = st->n_t;
    if (!json_is_object(root)) { /* unreachable after the '{' check; kept for safety */
        json_decref(root);
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: header is %s, not an object", json_kind(root));
    }
    size_t n_entries = json_object_size(root);
    if (n_entries > (size_t)(INT64_MAX / 2) - (size_t)st->n_t) { json_decref(root); return oom("tensors"); }
    if ((int64_t)n_entries + st->n_t > st->cap_t) {
        int64_t cap = st->n_t + (int64_t)n_entries;
        if ((uint64_t)cap > SIZE_MAX / sizeof(tinfo_t)) { json_decref(root); return oom("tensors"); }
        tinfo_t *nt = realloc(st->t, (size_t)(cap ? cap : 1) * sizeof(tinfo_t));
        if (!nt) { json_decref(root); return oom("tensors"); }
        st->t = nt;
        st->cap_t = cap;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (json_is_null(val)) continue;
            if (!json_is_object(val)) {
                s = mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: __metadata__ is %s, not an object", json_kind(val));
                break;
            }
            size_t nm = json_object_size(val);
            if (st->n_meta + (int64_t)nm > st->cap_meta) {
                int64_t cap = st->n_meta + (int64_t)nm;
                meta_t *m = realloc(st->meta, (size_t)(cap ? cap : 1) * sizeof(meta_t));
                if (!m) { s = oom("metadata"); break; }
                st->meta = m;
                st->cap_meta = cap;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    s = mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: __metadata__ value of '%s' is %s, not a string",
                                       esc(mk, eb), json_kind(mv));
                    break;
                }
                char *k2 = strdup(mk), *v2 = strdup(json_string_value(mv));
                if (!k2 || !v2) { free(k2); free(v2); s = oom("metadata"); break; }
                st->meta[st->n_meta++] = (meta_t){k2, v2};
            }
            if (s) break;
            continue;
        }
        if (!key[0]) { s = mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: a tensor name is empty"); break; }
        tinfo_t t;
        memset(&t, 0, sizeof t);
        if ((s = parse_entry(key, val, &t))) break;
        if (t.end > data_len) {
            s = mlxn_set_error(MLXN_ERR_FORMAT,
                               "safetensors: tensor '%s': data_offsets [%llu, %llu] run past the end of the %llu-byte data section",
                               esc(key, eb), (unsigned long long)t.begin, (unsigned long long)t.end,
                               (unsigned long long)data_len);
            break;
        }
        t.name = strdup(key);
        if (!t.name) { s = oom("tensor names"); break; }
        t.shard = si;
        st->t[st->n_t++] = t;
    }
    json_decref(root);
    if (s) return s;
    /* the tensors must tile the data section: sorted by offset, no holes, no overlap */
    size_t cnt = (size_t)(st->n_t - first);
    tinfo_t *ts = cnt ? st->t + first : NULL;
    if (cnt > 1) qsort(ts, cnt, sizeof *ts, cmp_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (ts[i].begin != at) {
            if (ts[i].begin < at) {
                char eb2[300];
                return mlxn_set_error(MLXN_ERR_FORMAT,
                                      "safetensors: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' (which ends at %llu)",
                                      esc(ts[i].name, eb), (unsigned long long)ts[i].begin,
                                      (unsigned long long)ts[i].end, esc(ts[i - 1].name, eb2), (unsigned long long)at);
            }
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "safetensors: tensor '%s': data_offsets [%llu, %llu] leave a hole of %llu bytes at %llu",
                                  esc(ts[i].name, eb), (unsigned long long)ts[i].begin, (unsigned long long)ts[i].end,
                                  (unsigned long long)(ts[i].begin - at), (unsigned long long)at);
        }
        at = ts[i].end;
        st->total += ts[i].end - ts[i].begin;
    }
    if (at != data_len)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "safetensors: the tensors cover %llu bytes of the %llu-byte data section (trailing bytes)",
                              (unsigned long long)at, (unsigned long long)data_len);
    return MLXN_OK;
}

/* Builds the name tables: duplicate tensor names across shards are errors;
   duplicate metadata keys across shards keep the first. */
static mlxn_status finish(mlxn_safetensors *st) {
    char eb[300];
    st->t_hash = hash_new((uint64_t)st->n_t, &st->t_hcap);
    if (!st->t_hash) return oom("the tensor table");
    for (int64_t i = 0; i < st->n_t; i++) {
        int64_t j = hash_insert(st->t_hash, st->t_hcap, t_name, st, i);
        if (j >= 0)
            return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: tensor '%s' is in shard '%s' and in shard '%s'",
                                  esc(st->t[i].name, eb), st->shards[st->t[j].shard].path,
                                  st->shards[st->t[i].shard].path);
    }
    st->m_hash = hash_new((uint64_t)st->n_meta, &st->m_hcap);
    if (!st->m_hash) return oom("the metadata table");
    int64_t w = 0;
    for (int64_t i = 0; i < st->n_meta; i++) {
        st->meta[w] = st->meta[i];
        if (hash_insert(st->m_hash, st->m_hcap, m_name, st, w) >= 0) {
            free(st->meta[w].key);
            free(st->meta[w].val);
        } else {
            w++;
        }
    }
    st->n_meta = w;
    return MLXN_OK;
}

static mlxn_safetensors *st_new(void) {
    mlxn_safetensors *st = calloc(1, sizeof *st);
    if (st) st->dir = strdup("");
    if (st && !st->dir) { free(st); return NULL; }
    return st;
}

mlxn_status mlxn_safetensors_open_memory(const void *data, size_t size, mlxn_safetensors **out) {
    if (out) *out = NULL;
    if (!out || (!data && size))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_open_memory: NULL %s", out ? "data" : "out");
    mlxn_safetensors *st = st_new();
    if (st) st->shards = calloc(1, sizeof(shard_t));
    if (!st || !st->shards) { mlxn_safetensors_close(st); return oom("the reader"); }
    st->n_shards = 1;
    st->shards[0].path = strdup("<memory>");
    st->shards[0].data = data;
    st->shards[0].size = size;
    mlxn_status s = st->shards[0].path ? parse_shard(st, 0) : oom("the reader");
    if (!s) s = finish(st);
    if (s) { mlxn_safetensors_close(st); return s; }
    *out = st;
    return MLXN_OK;
}

/* ---- files ------------------------------------------------------------------ */

/* Maps `path` read-only into shard si. */
static mlxn_status map_file(mlxn_safetensors *st, int si, const char *path) {
    shard_t *sh = &st->shards[si];
    sh->path = strdup(path);
    if (!sh->path) return oom("paths");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mlxn_set_error(MLXN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb)) {
        int e = errno;
        close(fd);
        return mlxn_set_error(MLXN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mlxn_set_error(MLXN_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return mlxn_set_error(MLXN_ERR_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
        }
        sh->map = m;
        sh->data = m;
    }
    sh->size = size;
    close(fd); /* the mapping keeps the file */
    return MLXN_OK;
}

/* Prefixes the current error message with `path` (parse errors are path-less). */
static mlxn_status with_path(mlxn_status s, const char *path) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", mlxn_last_error());
    return mlxn_set_error(s, "%s: %s", path, msg);
}

static mlxn_status open_shard(mlxn_safetensors *st, int si, const char *path) {
    mlxn_status s = map_file(st, si, path);
    if (!s && (s = parse_shard(st, si))) s = with_path(s, path);
    return s;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Reads a whole small file (an index or a config) into a malloc'd buffer. */
mlxn_status mlxn_io_read_small_file(const char *path, size_t max, char **out, size_t *len);
mlxn_status mlxn_io_read_small_file(const char *path, size_t max, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mlxn_set_error(errno == ENOENT ? MLXN_ERR_NOT_FOUND : MLXN_ERR_IO, "%s: cannot open: %s", path,
                                  strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (n < cap) break;
        if (cap >= max) { free(b); fclose(f); return mlxn_set_error(MLXN_ERR_FORMAT, "%s: larger than %zu bytes", path, max); }
        cap = cap * 2 > max ? max : cap * 2;
        char *nb = realloc(b, cap + 1);
        if (!nb) { free(b); b = NULL; break; }
        b = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!b) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory reading it", path);
    if (err) { free(b); return mlxn_set_error(MLXN_ERR_IO, "%s: read error", path); }
    b[n] = 0;
    *out = b;
    *len = n;
    return MLXN_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static mlxn_status alloc_shards(mlxn_safetensors *st, size_t n) {
    if (n > MLXN_ST_MAX_SHARDS)
        return mlxn_set_error(MLXN_ERR_FORMAT, "safetensors: %zu shard files exceed the limit of %d", n, MLXN_ST_MAX_SHARDS);
    st->shards = calloc(n ? n : 1, sizeof(shard_t));
    return st->shards ? MLXN_OK : oom("shards");
}

/* Every *.safetensors file of a folder, in name order. */
static mlxn_status open_folder_files(mlxn_safetensors *st, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return mlxn_set_error(MLXN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    mlxn_status s = MLXN_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 12 || strcmp(e->d_name + l - 12, ".safetensors") || e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { s = oom("file names"); break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { s = oom("file names"); break; }
        n++;
    }
    closedir(d);
    if (!s && n == 0) s = mlxn_set_error(MLXN_ERR_NOT_FOUND, "%s: no " INDEX_NAME " and no .safetensors file", dir);
    if (!s) {
        qsort(names, n, sizeof *names, cmp_str);
        s = alloc_shards(st, n);
    }
    for (size_t i = 0; !s && i < n; i++) {
        char *p = join(dir, names[i]);
        if (!p) { s = oom("paths"); break; }
        st->n_shards = (int)i + 1;
        s = open_shard(st, (int)i, p);
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return s;
}

/* model.safetensors.index.json: weight_map name -> shard file. */
static mlxn_status open_index(mlxn_safetensors *st, const char *index_path, const char *dir) {
    char *txt;
    size_t len;
    mlxn_status s = mlxn_io_read_small_file(index_path, MAX_INDEX_BYTES, &txt, &len);
    if (s) return s == MLXN_ERR_NOT_FOUND ? mlxn_set_error(MLXN_ERR_IO, "%s", mlxn_last_error()) : s;
    json_error_t jerr;
    json_t *root = json_loadb(txt, len, JSON_REJECT_DUPLICATES, &jerr);
    free(txt);
    if (!root)
        return mlxn_set_error(MLXN_ERR_FORMAT, "%s: JSON: %s (line %d, column %d)", index_path, jerr.text, jerr.line,
                              jerr.column);
    char eb[300];
    json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    char **shards = NULL;
    size_t n_sh = 0;
    if (!json_is_object(wm)) {
        s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: %s", index_path,
                           json_is_object(root) ? "no \"weight_map\" object" : "not a JSON object");
        goto done;
    }
    /* the distinct shard names, validated as plain file names */
    size_t n_w = json_object_size(wm);
    shards = calloc(n_w ? n_w : 1, sizeof *shards);
    if (!shards) { s = oom("the index"); goto done; }
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        if (!json_is_string(v)) {
            s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: weight_map['%s'] is %s, not a file name", index_path, esc(k, eb),
                               json_kind(v));
            goto done;
        }
        const char *f = json_string_value(v);
        if (!f[0] || strchr(f, '/') || !strcmp(f, ".") || !strcmp(f, "..")) {
            char eb2[300];
            s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: weight_map['%s'] = '%s' is not a file name in the model folder",
                               index_path, esc(k, eb), esc(f, eb2));
            goto done;
        }
        shards[n_sh++] = (char *)f; /* borrowed from the JSON tree; deduplicated below */
    }
    qsort(shards, n_sh, sizeof *shards, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n_sh; i++)
        if (!u || strcmp(shards[u - 1], shards[i])) shards[u++] = shards[i];
    n_sh = u;
    if ((s = alloc_shards(st, n_sh))) goto done;
    for (size_t i = 0; i < n_sh; i++) {
        char *p = join(dir, shards[i]);
        if (!p) { s = oom("paths"); goto done; }
        st->n_shards = (int)i + 1;
        s = open_shard(st, (int)i, p);
        free(p);
        if (s) goto done;
    }
    if ((s = finish(st))) goto done;
    /* cross-check: the index and the shards describe the same tensors */
    json_object_foreach(wm, k, v) {
        int64_t ti = mlxn_safetensors_find_tensor(st, k);
        const char *want = json_string_value(v);
        if (ti < 0) {
            s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: weight_map lists tensor '%s' in '%s', which has no such tensor",
                               index_path, esc(k, eb), want);
            goto done;
        }
        const char *have = st->shards[st->t[ti].shard].path;
        size_t hl = strlen(have), wl = strlen(want);
        if (hl < wl + 1 || strcmp(have + hl - wl, want) || have[hl - wl - 1] != '/') {
            s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: weight_map lists tensor '%s' in '%s', but it is in '%s'", index_path,
                               esc(k, eb), want, have);
            goto done;
        }
    }
    if ((uint64_t)st->n_t != n_w) {
        /* some shard tensor is not listed: find it for the message */
        for (int64_t i = 0; i < st->n_t; i++)
            if (!json_object_get(wm, st->t[i].name)) {
                s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: tensor '%s' of '%s' is not listed in weight_map", index_path,
                                   esc(st->t[i].name, eb), st->shards[st->t[i].shard].path);
                goto done;
            }
        s = mlxn_set_error(MLXN_ERR_FORMAT, "%s: weight_map has %zu entries, the shards %lld tensors", index_path, n_w,
                           (long long)st->n_t);
    }
done:
    free(shards);
    json_decref(root);
    return s;
}

static char *dirname_of(const char *path) {
    const char *sl = strrchr(path, '/');
    if (!sl) return strdup(".");
    if (sl == path) return strdup("/");
    char *d = malloc((size_t)(sl - path) + 1);
    if (d) { memcpy(d, path, (size_t)(sl - path)); d[sl - path] = 0; }
    return d;
}

mlxn_status mlxn_safetensors_open(const char *path, mlxn_safetensors **out) {
    if (out) *out = NULL;
    if (!path || !out)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_open: NULL %s", path ? "out" : "path");
    struct stat sb;
    if (stat(path, &sb))
        return mlxn_set_error(errno == ENOENT ? MLXN_ERR_IO : MLXN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    mlxn_safetensors *st = st_new();
    if (!st) return oom("the reader");
    mlxn_status s = MLXN_OK;
    size_t pl = strlen(path);
    free(st->dir);
    if (S_ISDIR(sb.st_mode)) {
        st->dir = strdup(path);
        while (st->dir && strlen(st->dir) > 1 && st->dir[strlen(st->dir) - 1] == '/') st->dir[strlen(st->dir) - 1] = 0;
        char *ip = st->dir ? join(st->dir, INDEX_NAME) : NULL;
        struct stat ib;
        if (!ip) s = oom("paths");
        else if (!stat(ip, &ib)) s = open_index(st, ip, st->dir);
        else s = open_folder_files(st, st->dir);
        if (!s && !st->t_hash) s = finish(st);
        free(ip);
    } else if (pl >= 5 && !strcmp(path + pl - 5, ".json")) {
        st->dir = dirname_of(path);
        s = st->dir ? open_index(st, path, st->dir) : oom("paths");
    } else {
        st->dir = dirname_of(path);
        if (!st->dir || (s = alloc_shards(st, 1))) s = s ? s : oom("paths");
        else {
            st->n_shards = 1;
            s = open_shard(st, 0, path);
            if (!s) s = finish(st);
        }
    }
    if (s) { mlxn_safetensors_close(st); return s; }
    *out = st;
    return MLXN_OK;
}

/* ---- accessors ---------------------------------------------------------------- */

int64_t mlxn_safetensors_tensor_count(const mlxn_safetensors *st) { return st ? st->n_t : 0; }
uint64_t mlxn_safetensors_total_bytes(const mlxn_safetensors *st) { return st ? st->total : 0; }
int64_t mlxn_safetensors_metadata_count(const mlxn_safetensors *st) { return st ? st->n_meta : 0; }
int mlxn_safetensors_shard_count(const mlxn_safetensors *st) { return st ? st->n_shards : 0; }
const char *mlxn_safetensors_shard_path(const mlxn_safetensors *st, int i) {
    return st && i >= 0 && i < st->n_shards ? st->shards[i].path : NULL;
}
const char *mlxn_safetensors_dir(const mlxn_safetensors *st) { return st ? st->dir : NULL; }

int64_t mlxn_safetensors_find_tensor(const mlxn_safetensors *st, const char *name) {
    return st ? hash_find(st->t_hash, st->t_hcap, t_name, st, name) : -1;
}

mlxn_status mlxn_safetensors_tensor_info(const mlxn_safetensors *st, int64_t i, mlxn_st_tensor *out) {
    if (!st || !out)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_tensor_info: NULL %s", st ? "out" : "reader");
    if (i < 0 || i >= st->n_t)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_tensor_info: index %lld out of range (%lld tensors)",
                              (long long)i, (long long)st->n_t);
    const tinfo_t *t = &st->t[i];
    const shard_t *sh = &st->shards[t->shard];
    out->name = t->name;
    out->dtype = (mlxn_st_dtype)t->dtype;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof out->shape);
    out->nelements = t->nel;
    out->nbytes = t->end - t->begin;
    out->offset = sh->data_off + t->begin;
    out->data = sh->data + out->offset;
    out->shard = t->shard;
    return MLXN_OK;
}

mlxn_status mlxn_safetensors_metadata(const mlxn_safetensors *st, int64_t i, const char **key, const char **value) {
    if (!st || !key || !value)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_metadata: NULL argument");
    if (i < 0 || i >= st->n_meta)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "safetensors_metadata: index %lld out of range (%lld entries)",
                              (long long)i, (long long)st->n_meta);
    *key = st->meta[i].key;
    *value = st->meta[i].val;
    return MLXN_OK;
}

const char *mlxn_safetensors_get_metadata(const mlxn_safetensors *st, const char *key) {
    int64_t i = st ? hash_find(st->m_hash, st->m_hcap, m_name, st, key) : -1;
    return i >= 0 ? st->meta[i].val : NULL;
}
