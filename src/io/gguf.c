/* gguf.c — a hardened GGUF reader and a GGUF writer (see the GGUF section of
   mlxn.h for the contract).

   The reader validates the whole file in mlxn_gguf_open*, so accessors never
   re-check the file. Every read goes through a cursor that checks the bytes
   remaining, and every count is checked against those bytes (count times the
   smallest possible entry) BEFORE anything is allocated: a count can then
   never ask for more memory than a small multiple of the file size (the
   classic GGUF heap overflows, style-and-reliability.md §2.1). Metadata values
   are kept as a flat table of nodes pointing into the file; strings are not
   copied. Hosts are assumed little-endian (as GGUF v3 files). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define MAX_NAME 65535u /* keys and tensor names: at most 65535 bytes */

/* ------------------------------------------------------------------------- */
/* ggml types                                                                 */
/* ------------------------------------------------------------------------- */

typedef struct { const char *name; int64_t blck, size; int known; } ggml_traits;

/* Indexed by id; removed ids have blck 0. Sizes from ggml-common.h. */
static const ggml_traits k_ggml[] = {
    [0] = {"f32", 1, 4, 1},         [1] = {"f16", 1, 2, 1},        [2] = {"q4_0", 32, 18, 1},
    [3] = {"q4_1", 32, 20, 1},      [6] = {"q5_0", 32, 22, 1},     [7] = {"q5_1", 32, 24, 1},
    [8] = {"q8_0", 32, 34, 1},      [9] = {"q8_1", 32, 36, 1},     [10] = {"q2_k", 256, 84, 1},
    [11] = {"q3_k", 256, 110, 1},   [12] = {"q4_k", 256, 144, 1},  [13] = {"q5_k", 256, 176, 1},
    [14] = {"q6_k", 256, 210, 1},   [15] = {"q8_k", 256, 292, 1},  [16] = {"iq2_xxs", 256, 66, 2},
    [17] = {"iq2_xs", 256, 74, 2},  [18] = {"iq3_xxs", 256, 98, 2}, [19] = {"iq1_s", 256, 50, 2},
    [20] = {"iq4_nl", 32, 18, 1},   [21] = {"iq3_s", 256, 110, 2}, [22] = {"iq2_s", 256, 82, 2},
    [23] = {"iq4_xs", 256, 136, 1}, [24] = {"i8", 1, 1, 1},        [25] = {"i16", 1, 2, 1},
    [26] = {"i32", 1, 4, 1},        [27] = {"i64", 1, 8, 1},       [28] = {"f64", 1, 8, 1},
    [29] = {"iq1_m", 256, 56, 2},   [30] = {"bf16", 1, 2, 1},      [34] = {"tq1_0", 256, 54, 2},
    [35] = {"tq2_0", 256, 66, 2},   [39] = {"mxfp4", 32, 17, 1},   [40] = {"nvfp4", 64, 36, 1},
    [41] = {"q1_0", 128, 18, 1},    [42] = {"q2_0", 64, 18, 1},
};
#define N_GGML ((int)(sizeof k_ggml / sizeof k_ggml[0]))

static const ggml_traits *ggml_tr(long long t) {
    return (t >= 0 && t < N_GGML && k_ggml[t].blck > 0) ? &k_ggml[t] : NULL;
}
const char *mlxn_ggml_type_name(mlxn_ggml_type t) { const ggml_traits *r = ggml_tr(t); return r ? r->name : "unknown"; }
int64_t mlxn_ggml_block_size(mlxn_ggml_type t) { const ggml_traits *r = ggml_tr(t); return r ? r->blck : 0; }
int64_t mlxn_ggml_type_size(mlxn_ggml_type t) { const ggml_traits *r = ggml_tr(t); return r ? r->size : 0; }
int mlxn_ggml_type_known(mlxn_ggml_type t) { const ggml_traits *r = ggml_tr(t); return r ? r->known : 0; }

/* GGUF value types: size of a scalar (0 for string/array). */
static const char *const k_gtype_name[13] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                             "bool", "string", "array", "u64", "i64", "f64"};
static const uint8_t k_gtype_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static int gtype_ok(long long t) { return t >= 0 && t <= 12; }
const char *mlxn_gguf_type_name(mlxn_gguf_type t) { return gtype_ok(t) ? k_gtype_name[t] : "invalid"; }

/* Computes nelements and nbytes of a tensor without overflow (both <= INT64_MAX).
   Returns NULL on success, else a static description of the problem. */
static const char *tensor_size(long long type, int ndim, const int64_t *ne, int64_t *nel, uint64_t *nbytes) {
    const ggml_traits *tr = ggml_tr(type);
    if (!tr) return "type";
    if (ndim < 1 || ndim > MLXN_GGUF_MAX_DIMS) return "ndim";
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (ne[d] < 1) return "dim";
        /* division-based: checks before multiplying (the INT64_MAX,2 bypass of llama #27203) */
        if (n > INT64_MAX / ne[d]) return "element count";
        n *= ne[d];
    }
    if (ne[0] % tr->blck) return "block";
    int64_t blocks = n / tr->blck;
    if (blocks > INT64_MAX / tr->size) return "byte size";
#if SIZE_MAX < UINT64_MAX
    if ((uint64_t)(blocks * tr->size) > SIZE_MAX) return "byte size";
#endif
    *nel = n;
    *nbytes = (uint64_t)(blocks * tr->size);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Reader                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct {
    int32_t  type, elem_type; /* elem_type: arrays only                        */
    uint32_t kv;              /* owning KV, for error messages                 */
    uint64_t off;             /* payload: scalar bytes, string bytes, first element */
    uint64_t len;             /* string length or array count                  */
    uint64_t child;           /* arrays of strings/arrays: first child node    */
} node_t;

typedef struct { char *key; uint64_t node; } kv_t;

typedef struct {
    char    *name;
    int32_t  type;
    int      ndim;
    int64_t  ne[4], nel;
    uint64_t nbytes, rel; /* rel: offset relative to the data section */
} tinfo_t;

struct mlxn_gguf {
    const uint8_t *data;
    size_t         size;
    void          *map;
    size_t         map_len;
    uint32_t       version, alignment;
    uint64_t       data_off;
    kv_t          *kvs;
    uint64_t       n_kv;
    tinfo_t       *t;
    uint64_t       n_t;
    node_t        *nodes;
    uint64_t       n_nodes, cap_nodes;
    int64_t       *kv_hash, *t_hash; /* open addressing, -1 = empty */
    uint64_t       kv_hcap, t_hcap;
};

typedef struct { const uint8_t *p; uint64_t size, pos; } cur_t;

static uint64_t remain(const cur_t *c) { return c->size - c->pos; }
static int rd(cur_t *c, void *out, uint64_t n) {
    if (remain(c) < n) return 0;
    memcpy(out, c->p + c->pos, (size_t)n);
    c->pos += n;
    return 1;
}

static uint64_t fnv(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static uint64_t hcap_for(uint64_t n) {
    uint64_t c = 8;
    while (c < 2 * n) c <<= 1; /* n <= file size / 14, so no overflow */
    return c;
}
/* Inserts string idx into table; returns the index of an equal string already there, or -1. */
static int64_t hash_insert(int64_t *tab, uint64_t cap, char *(*get)(const mlxn_gguf *, int64_t), const mlxn_gguf *g,
                           int64_t idx) {
    const char *s = get(g, idx);
    size_t n = strlen(s);
    for (uint64_t h = fnv(s, n) & (cap - 1);; h = (h + 1) & (cap - 1)) {
        if (tab[h] < 0) { tab[h] = idx; return -1; }
        if (!strcmp(get(g, tab[h]), s)) return tab[h];
    }
}
static int64_t hash_find(const int64_t *tab, uint64_t cap, char *(*get)(const mlxn_gguf *, int64_t),
                         const mlxn_gguf *g, const char *s) {
    if (!tab || !s) return -1;
    for (uint64_t h = fnv(s, strlen(s)) & (cap - 1);; h = (h + 1) & (cap - 1)) {
        if (tab[h] < 0) return -1;
        if (!strcmp(get(g, tab[h]), s)) return tab[h];
    }
}
static char *kv_name(const mlxn_gguf *g, int64_t i) { return g->kvs[i].key; }
static char *t_name(const mlxn_gguf *g, int64_t i) { return g->t[i].name; }

/* Escapes a name for an error message: printable ASCII kept, others as \xNN, cut at 64. */
static const char *esc(const char *s, size_t n, char buf[300]) {
    size_t o = 0;
    for (size_t i = 0; i < n && o < 280; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 64) { memcpy(buf + o, "...", 3); o += 3; break; }
        if (ch >= 32 && ch < 127 && ch != '\\') buf[o++] = (char)ch;
        else o += (size_t)snprintf(buf + o, 300 - o, "\\x%02x", ch);
    }
    buf[o] = 0;
    return buf;
}

/* Reads a key or tensor name ("key" / "tensor name"): u64 length, 1..65535 bytes, no NUL. */
static mlxn_status read_name(cur_t *c, const char *what, uint64_t idx, char **out) {
    uint64_t len;
    if (!rd(c, &len, 8))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: %s %llu: file truncated at its length (offset %llu)", what,
                              (unsigned long long)idx, (unsigned long long)c->pos);
    if (len == 0)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: %s %llu is empty", what, (unsigned long long)idx);
    if (len > MAX_NAME)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: %s %llu length %llu exceeds %u", what, (unsigned long long)idx,
                              (unsigned long long)len, MAX_NAME);
    if (len > remain(c))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: %s %llu length %llu exceeds the %llu bytes left in the file",
                              what, (unsigned long long)idx, (unsigned long long)len,
                              (unsigned long long)remain(c));
    const char *s = (const char *)c->p + c->pos;
    if (memchr(s, 0, (size_t)len))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: %s %llu contains a NUL byte", what, (unsigned long long)idx);
    char *k = malloc((size_t)len + 1);
    if (!k) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: out of memory for %s %llu", what,
                                  (unsigned long long)idx);
    memcpy(k, s, (size_t)len);
    k[len] = 0;
    c->pos += len;
    *out = k;
    return MLXN_OK;
}

/* Reserves n nodes; n was already checked against the bytes left, so the
   total stays below size/8 + n_kv. */
static mlxn_status nodes_reserve(mlxn_gguf *g, uint64_t n, uint64_t *first) {
    if (n > UINT64_MAX / 2 - g->n_nodes) return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: too many metadata values");
    uint64_t need = g->n_nodes + n;
    if (need > g->cap_nodes) {
        uint64_t cap = g->cap_nodes ? g->cap_nodes : 64;
        while (cap < need) cap *= 2;
        if (cap > SIZE_MAX / sizeof(node_t))
            return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: too many metadata values (%llu)",
                                  (unsigned long long)need);
        node_t *nn = realloc(g->nodes, (size_t)cap * sizeof(node_t));
        if (!nn) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: out of memory for %llu metadata values",
                                       (unsigned long long)need);
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    memset(g->nodes + g->n_nodes, 0, (size_t)n * sizeof(node_t));
    *first = g->n_nodes;
    g->n_nodes = need;
    return MLXN_OK;
}

/* Parses one value of `type` into node ni. depth counts array levels. */
static mlxn_status parse_value(mlxn_gguf *g, cur_t *c, int32_t type, int depth, uint64_t ni, uint32_t kv) {
    char eb[300];
    /* the escaped key, computed only on the error paths (this runs per array element) */
#define key esc(g->kvs[kv].key, strlen(g->kvs[kv].key), eb)
    g->nodes[ni].type = type;
    g->nodes[ni].kv = kv;
    if (type != MLXN_GGUF_STRING && type != MLXN_GGUF_ARRAY) {
        uint64_t sz = k_gtype_size[type];
        if (remain(c) < sz)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': %s value truncated at offset %llu", key,
                                  k_gtype_name[type], (unsigned long long)c->pos);
        if (type == MLXN_GGUF_BOOL && c->p[c->pos] > 1)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': bool byte %u at offset %llu is not 0 or 1", key,
                                  c->p[c->pos], (unsigned long long)c->pos);
        g->nodes[ni].off = c->pos;
        c->pos += sz;
        return MLXN_OK;
    }
    if (type == MLXN_GGUF_STRING) {
        uint64_t len;
        if (!rd(c, &len, 8))
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': string length truncated at offset %llu", key,
                                  (unsigned long long)c->pos);
        if (len > remain(c))
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "gguf: key '%s': string length %llu exceeds the %llu bytes left in the file", key,
                                  (unsigned long long)len, (unsigned long long)remain(c));
        g->nodes[ni].off = c->pos;
        g->nodes[ni].len = len;
        c->pos += len;
        return MLXN_OK;
    }
    /* array */
    uint32_t et;
    uint64_t n;
    if (!rd(c, &et, 4) || !rd(c, &n, 8))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': array header truncated at offset %llu", key,
                              (unsigned long long)c->pos);
    if (!gtype_ok(et))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': array element type %u is not a GGUF type", key, et);
    if (et == MLXN_GGUF_ARRAY && depth + 1 >= MLXN_GGUF_MAX_DEPTH)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': arrays nested deeper than %d levels", key,
                              MLXN_GGUF_MAX_DEPTH);
    /* smallest encoded element: a scalar's size, 8 (string length), 12 (array header) */
    uint64_t minsz = et == MLXN_GGUF_STRING ? 8 : et == MLXN_GGUF_ARRAY ? 12 : k_gtype_size[et];
    if (n > remain(c) / minsz)
        return mlxn_set_error(MLXN_ERR_FORMAT,
                              "gguf: key '%s': array count %llu of %s exceeds the %llu bytes left in the file", key,
                              (unsigned long long)n, k_gtype_name[et], (unsigned long long)remain(c));
    g->nodes[ni].elem_type = (int32_t)et;
    g->nodes[ni].len = n;
    g->nodes[ni].off = c->pos;
    if (minsz == k_gtype_size[et] && k_gtype_size[et]) { /* scalar elements: validated in place */
        if (et == MLXN_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1)
                    return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': bool element %llu is %u, not 0 or 1",
                                          key, (unsigned long long)i, c->p[c->pos + i]);
        c->pos += n * minsz;
        return MLXN_OK;
    }
    uint64_t first;
    mlxn_status s = nodes_reserve(g, n, &first);
    if (s) return s;
    g->nodes[ni].child = first; /* children contiguous; grandchildren are appended after them */
    for (uint64_t i = 0; i < n; i++) {
        /* an element array is encoded as (elem type, count, payload), exactly
           what parse_value reads for a value of type ARRAY */
        s = parse_value(g, c, (int32_t)et, depth + 1, first + i, kv);
        if (s) return s;
    }
    return MLXN_OK;
#undef key
}

void mlxn_gguf_close(mlxn_gguf *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kvs && i < g->n_kv; i++) free(g->kvs[i].key);
    for (uint64_t i = 0; g->t && i < g->n_t; i++) free(g->t[i].name);
    free(g->kvs);
    free(g->t);
    free(g->nodes);
    free(g->kv_hash);
    free(g->t_hash);
    if (g->map) munmap(g->map, g->map_len);
    free(g);
}

static int cmp_rel(const void *a, const void *b, void *ctx) {
    const tinfo_t *t = ctx;
    uint64_t x = t[*(const uint64_t *)a].rel, y = t[*(const uint64_t *)b].rel;
    return x < y ? -1 : x > y;
}

static mlxn_status parse(mlxn_gguf *g) {
    cur_t c = {g->data, g->size, 0};
    char magic[4];
    uint32_t ver;
    uint64_t n_t, n_kv;
    char eb[300];
    if (!rd(&c, magic, 4))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: file of %llu bytes is too short for the magic",
                              (unsigned long long)g->size);
    if (memcmp(magic, GGUF_MAGIC, 4))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: bad magic %02x %02x %02x %02x (expected \"GGUF\")",
                              (unsigned char)magic[0], (unsigned char)magic[1], (unsigned char)magic[2],
                              (unsigned char)magic[3]);
    if (!rd(&c, &ver, 4)) return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: file truncated in the version");
    if (ver != 2 && ver != 3) {
        if ((ver & 0xFFFF) == 0 && ver != 0)
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "gguf: version 0x%08x looks byte-swapped: big-endian files are not supported", ver);
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: version %u is not supported (2 or 3)", ver);
    }
    g->version = ver;
    if (!rd(&c, &n_t, 8) || !rd(&c, &n_kv, 8))
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: file truncated in the header counts");
    /* the smallest KV is 14 bytes (8 length, 1 key byte, 4 type, 1 value);
       the smallest tensor info 33 (8 + 1 name, 4 ndim, 8 dim, 4 type, 8 offset) */
    if (n_kv > remain(&c) / 14)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: n_kv %llu cannot fit the %llu bytes left in the file",
                              (unsigned long long)n_kv, (unsigned long long)remain(&c));
    if (n_t > remain(&c) / 33)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: n_tensors %llu cannot fit the %llu bytes left in the file",
                              (unsigned long long)n_t, (unsigned long long)remain(&c));
    g->alignment = MLXN_GGUF_DEFAULT_ALIGNMENT;

    /* ---- KVs ---- */
    g->kvs = calloc((size_t)n_kv + 1, sizeof(kv_t));
    g->kv_hcap = hcap_for(n_kv);
    g->kv_hash = malloc((size_t)g->kv_hcap * sizeof(int64_t));
    if (!g->kvs || !g->kv_hash) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: out of memory for %llu KVs",
                                                     (unsigned long long)n_kv);
    memset(g->kv_hash, 0xff, (size_t)g->kv_hcap * sizeof(int64_t));
    for (uint64_t i = 0; i < n_kv; i++) {
        mlxn_status s = read_name(&c, "key", i, &g->kvs[i].key);
        if (s) return s;
        g->n_kv = i + 1; /* owns the key from here (close frees it) */
        const char *k = g->kvs[i].key;
        if (hash_insert(g->kv_hash, g->kv_hcap, kv_name, g, (int64_t)i) >= 0)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: duplicate key '%s'", esc(k, strlen(k), eb));
        uint32_t type;
        if (!rd(&c, &type, 4))
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': type truncated", esc(k, strlen(k), eb));
        if (!gtype_ok(type))
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: key '%s': value type %u is not a GGUF type",
                                  esc(k, strlen(k), eb), type);
        uint64_t ni;
        if ((s = nodes_reserve(g, 1, &ni))) return s;
        g->kvs[i].node = ni;
        if ((s = parse_value(g, &c, (int32_t)type, 0, ni, (uint32_t)i))) return s;
        if (!strcmp(k, "general.alignment")) {
            if (type != MLXN_GGUF_U32)
                return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: general.alignment has type %s, must be u32",
                                      k_gtype_name[type]);
            uint32_t a;
            memcpy(&a, g->data + g->nodes[ni].off, 4);
            if (a == 0 || (a & (a - 1)))
                return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: general.alignment %u is not a power of two", a);
            g->alignment = a;
        }
    }

    /* ---- tensor infos ---- */
    g->t = calloc((size_t)n_t + 1, sizeof(tinfo_t));
    g->t_hcap = hcap_for(n_t);
    g->t_hash = malloc((size_t)g->t_hcap * sizeof(int64_t));
    if (!g->t || !g->t_hash) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: out of memory for %llu tensors",
                                                   (unsigned long long)n_t);
    memset(g->t_hash, 0xff, (size_t)g->t_hcap * sizeof(int64_t));
    for (uint64_t i = 0; i < n_t; i++) {
        tinfo_t *t = &g->t[i];
        mlxn_status s = read_name(&c, "tensor name", i, &t->name);
        if (s) return s;
        g->n_t = i + 1;
        const char *nm = esc(t->name, strlen(t->name), eb);
        if (hash_insert(g->t_hash, g->t_hcap, t_name, g, (int64_t)i) >= 0)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: duplicate tensor name '%s'", nm);
        uint32_t nd;
        if (!rd(&c, &nd, 4)) return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': n_dims truncated", nm);
        if (nd < 1 || nd > MLXN_GGUF_MAX_DIMS)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': n_dims %u is not in 1..4", nm, nd);
        t->ndim = (int)nd;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v;
            if (!rd(&c, &v, 8)) return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': ne[%u] truncated", nm, d);
            if (v == 0 || v > INT64_MAX)
                return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': ne[%u] = %lld must be >= 1", nm, d,
                                      (long long)v);
            t->ne[d] = (int64_t)v;
        }
        uint32_t type;
        uint64_t off;
        if (!rd(&c, &type, 4) || !rd(&c, &off, 8))
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': type/offset truncated", nm);
        if (!ggml_tr(type))
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s': type id %u is not a known ggml type", nm, type);
        t->type = (int32_t)type;
        const char *why = tensor_size(type, t->ndim, t->ne, &t->nel, &t->nbytes);
        if (why) {
            if (!strcmp(why, "block"))
                return mlxn_set_error(MLXN_ERR_FORMAT,
                                      "gguf: tensor '%s': ne[0] = %lld is not a multiple of the %s block size %lld",
                                      nm, (long long)t->ne[0], k_ggml[type].name, (long long)k_ggml[type].blck);
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "gguf: tensor '%s': %s overflows for shape [%lld, %lld, %lld, %lld] of %s", nm, why,
                                  (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                                  (long long)t->ne[3], k_ggml[type].name);
        }
        t->rel = off;
    }

    /* ---- data section: starts at the next alignment boundary ---- */
    uint64_t a = g->alignment;
    if (c.pos > UINT64_MAX - (a - 1)) return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: data offset overflows");
    g->data_off = (c.pos + a - 1) / a * a;
    if (n_t == 0) return MLXN_OK;
    if (g->data_off > g->size)
        return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: data section at offset %llu starts past the end of the file (%llu)",
                              (unsigned long long)g->data_off, (unsigned long long)g->size);
    uint64_t avail = g->size - g->data_off;
    for (uint64_t i = 0; i < n_t; i++) {
        const tinfo_t *t = &g->t[i];
        const char *nm = esc(t->name, strlen(t->name), eb);
        if (t->rel % a)
            return mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s' offset %llu is not aligned to %llu", nm,
                                  (unsigned long long)t->rel, (unsigned long long)a);
        if (t->rel > avail || t->nbytes > avail - t->rel)
            return mlxn_set_error(MLXN_ERR_FORMAT,
                                  "gguf: tensor '%s' data [%llu, +%llu) runs past the end of the data section (%llu bytes)",
                                  nm, (unsigned long long)t->rel, (unsigned long long)t->nbytes,
                                  (unsigned long long)avail);
    }
    /* overlap: sort by offset, then each tensor must end before the next starts */
    uint64_t *ord = malloc((size_t)n_t * sizeof(uint64_t));
    if (!ord) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    for (uint64_t i = 0; i < n_t; i++) ord[i] = i;
    qsort_r(ord, (size_t)n_t, sizeof(uint64_t), cmp_rel, g->t);
    mlxn_status s = MLXN_OK;
    for (uint64_t i = 1; i < n_t; i++) {
        const tinfo_t *p = &g->t[ord[i - 1]], *q = &g->t[ord[i]];
        if (p->rel + p->nbytes > q->rel) {
            char eb2[300];
            s = mlxn_set_error(MLXN_ERR_FORMAT, "gguf: tensor '%s' data [%llu, +%llu) overlaps tensor '%s' at %llu",
                               esc(q->name, strlen(q->name), eb), (unsigned long long)q->rel,
                               (unsigned long long)q->nbytes, esc(p->name, strlen(p->name), eb2),
                               (unsigned long long)p->rel);
            break;
        }
    }
    free(ord);
    return s;
}

mlxn_status mlxn_gguf_open_memory(const void *data, size_t size, mlxn_gguf **out) {
    if (out) *out = NULL;
    if (!out || (!data && size))
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_open_memory: NULL %s", out ? "data" : "out");
    mlxn_gguf *g = calloc(1, sizeof *g);
    if (!g) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf_open_memory: out of memory");
    g->data = data;
    g->size = size;
    mlxn_status s = parse(g);
    if (s) {
        mlxn_gguf_close(g);
        return s;
    }
    *out = g;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_open(const char *path, mlxn_gguf **out) {
    if (out) *out = NULL;
    if (!path || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_open: NULL %s", path ? "out" : "path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mlxn_set_error(MLXN_ERR_IO, "gguf_open: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return mlxn_set_error(MLXN_ERR_IO, "gguf_open: cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mlxn_set_error(MLXN_ERR_IO, "gguf_open: '%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return mlxn_set_error(MLXN_ERR_IO, "gguf_open: cannot map '%s' (%zu bytes): %s", path, size, strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file */
    mlxn_gguf *g = NULL;
    mlxn_status s = mlxn_gguf_open_memory(map, size, &g);
    if (s) {
        if (map) munmap(map, size);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mlxn_last_error());
        return mlxn_set_error(s, "%s: %s", path, msg);
    }
    g->map = map;
    g->map_len = size;
    *out = g;
    return MLXN_OK;
}

uint32_t mlxn_gguf_version(const mlxn_gguf *g) { return g ? g->version : 0; }
uint32_t mlxn_gguf_alignment(const mlxn_gguf *g) { return g ? g->alignment : 0; }
uint64_t mlxn_gguf_data_offset(const mlxn_gguf *g) { return g ? g->data_off : 0; }
int64_t mlxn_gguf_kv_count(const mlxn_gguf *g) { return g ? (int64_t)g->n_kv : 0; }
int64_t mlxn_gguf_tensor_count(const mlxn_gguf *g) { return g ? (int64_t)g->n_t : 0; }

static int kv_ok(const mlxn_gguf *g, int64_t i) { return g && i >= 0 && (uint64_t)i < g->n_kv; }
const char *mlxn_gguf_kv_key(const mlxn_gguf *g, int64_t i) { return kv_ok(g, i) ? g->kvs[i].key : NULL; }
mlxn_gguf_type mlxn_gguf_kv_type(const mlxn_gguf *g, int64_t i) {
    return kv_ok(g, i) ? (mlxn_gguf_type)g->nodes[g->kvs[i].node].type : MLXN_GGUF_INVALID;
}
int64_t mlxn_gguf_find_kv(const mlxn_gguf *g, const char *key) {
    return g ? hash_find(g->kv_hash, g->kv_hcap, kv_name, g, key) : -1;
}
int64_t mlxn_gguf_find_tensor(const mlxn_gguf *g, const char *name) {
    return g ? hash_find(g->t_hash, g->t_hcap, t_name, g, name) : -1;
}

#define NO_INDEX UINT64_MAX
mlxn_gguf_value mlxn_gguf_kv_value(const mlxn_gguf *g, int64_t i) {
    mlxn_gguf_value v = {UINT64_MAX, NO_INDEX};
    if (kv_ok(g, i)) v.node_ = g->kvs[i].node;
    return v;
}

/* Resolves a reference to (type, pointer to scalar bytes or string, string length). */
typedef struct { int32_t type; const node_t *n; const uint8_t *p; } rval;
static int resolve(const mlxn_gguf *g, mlxn_gguf_value v, rval *r) {
    if (!g || v.node_ >= g->n_nodes) return 0;
    const node_t *n = &g->nodes[v.node_];
    if (v.index_ == NO_INDEX) {
        r->type = n->type;
        r->n = n;
        r->p = g->data + n->off;
        return 1;
    }
    /* an element of a scalar array */
    if (n->type != MLXN_GGUF_ARRAY || !k_gtype_size[n->elem_type] || v.index_ >= n->len) return 0;
    r->type = n->elem_type;
    r->n = NULL;
    r->p = g->data + n->off + v.index_ * k_gtype_size[n->elem_type];
    return 1;
}

mlxn_gguf_type mlxn_gguf_value_type(const mlxn_gguf *g, mlxn_gguf_value v) {
    rval r;
    return resolve(g, v, &r) ? (mlxn_gguf_type)r.type : MLXN_GGUF_INVALID;
}

static mlxn_status bad_ref(const char *fn) {
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL file or invalid value reference", fn);
}
static mlxn_status wrong_type(const mlxn_gguf *g, const rval *r, mlxn_gguf_value v, const char *fn, const char *want) {
    uint32_t kv = g->nodes[v.node_].kv;
    char eb[300];
    return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: key '%s'%s is %s, not %s", fn,
                          esc(g->kvs[kv].key, strlen(g->kvs[kv].key), eb),
                          v.index_ != NO_INDEX || g->kvs[kv].node != v.node_ ? " (an array element)" : "",
                          k_gtype_name[r->type], want);
}

mlxn_status mlxn_gguf_value_array(const mlxn_gguf *g, mlxn_gguf_value v, mlxn_gguf_type *et, uint64_t *len) {
    rval r;
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_array");
    if (r.type != MLXN_GGUF_ARRAY) return wrong_type(g, &r, v, "gguf_value_array", "an array");
    if (et) *et = (mlxn_gguf_type)r.n->elem_type;
    if (len) *len = r.n->len;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_kv_array(const mlxn_gguf *g, int64_t i, mlxn_gguf_type *et, uint64_t *len) {
    return mlxn_gguf_value_array(g, mlxn_gguf_kv_value(g, i), et, len);
}

mlxn_status mlxn_gguf_value_elem(const mlxn_gguf *g, mlxn_gguf_value v, uint64_t idx, mlxn_gguf_value *out) {
    rval r;
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_elem: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_elem");
    if (r.type != MLXN_GGUF_ARRAY) return wrong_type(g, &r, v, "gguf_value_elem", "an array");
    if (idx >= r.n->len)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_elem: index %llu out of range (length %llu)",
                              (unsigned long long)idx, (unsigned long long)r.n->len);
    if (k_gtype_size[r.n->elem_type]) {
        out->node_ = v.node_;
        out->index_ = idx;
    } else {
        out->node_ = r.n->child + idx;
        out->index_ = NO_INDEX;
    }
    return MLXN_OK;
}

/* Reads any integer type as (value, negative?) into a u64 magnitude-preserving form. */
static int read_int(const rval *r, int64_t *sv, uint64_t *uv, int *is_signed) {
    const uint8_t *p = r->p;
    *is_signed = 0;
    switch (r->type) {
    case MLXN_GGUF_U8: *uv = p[0]; return 1;
    case MLXN_GGUF_U16: { uint16_t x; memcpy(&x, p, 2); *uv = x; return 1; }
    case MLXN_GGUF_U32: { uint32_t x; memcpy(&x, p, 4); *uv = x; return 1; }
    case MLXN_GGUF_U64: { memcpy(uv, p, 8); return 1; }
    case MLXN_GGUF_I8: { int8_t x; memcpy(&x, p, 1); *sv = x; *is_signed = 1; return 1; }
    case MLXN_GGUF_I16: { int16_t x; memcpy(&x, p, 2); *sv = x; *is_signed = 1; return 1; }
    case MLXN_GGUF_I32: { int32_t x; memcpy(&x, p, 4); *sv = x; *is_signed = 1; return 1; }
    case MLXN_GGUF_I64: { memcpy(sv, p, 8); *is_signed = 1; return 1; }
    default: return 0;
    }
}

mlxn_status mlxn_gguf_value_u64(const mlxn_gguf *g, mlxn_gguf_value v, uint64_t *out) {
    rval r;
    int64_t sv = 0;
    uint64_t uv = 0;
    int sg;
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_u64: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_u64");
    if (!read_int(&r, &sv, &uv, &sg)) return wrong_type(g, &r, v, "gguf_value_u64", "an integer");
    if (sg && sv < 0) return wrong_type(g, &r, v, "gguf_value_u64", "a non-negative integer");
    *out = sg ? (uint64_t)sv : uv;
    return MLXN_OK;
}
mlxn_status mlxn_gguf_value_i64(const mlxn_gguf *g, mlxn_gguf_value v, int64_t *out) {
    rval r;
    int64_t sv = 0;
    uint64_t uv = 0;
    int sg;
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_i64: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_i64");
    if (!read_int(&r, &sv, &uv, &sg)) return wrong_type(g, &r, v, "gguf_value_i64", "an integer");
    if (!sg && uv > INT64_MAX) return wrong_type(g, &r, v, "gguf_value_i64", "an integer <= INT64_MAX");
    *out = sg ? sv : (int64_t)uv;
    return MLXN_OK;
}
mlxn_status mlxn_gguf_value_f64(const mlxn_gguf *g, mlxn_gguf_value v, double *out) {
    rval r;
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_f64: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_f64");
    if (r.type == MLXN_GGUF_F32) { float f; memcpy(&f, r.p, 4); *out = f; return MLXN_OK; }
    if (r.type == MLXN_GGUF_F64) { memcpy(out, r.p, 8); return MLXN_OK; }
    return wrong_type(g, &r, v, "gguf_value_f64", "f32 or f64");
}
mlxn_status mlxn_gguf_value_bool(const mlxn_gguf *g, mlxn_gguf_value v, int *out) {
    rval r;
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_bool: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_bool");
    if (r.type != MLXN_GGUF_BOOL) return wrong_type(g, &r, v, "gguf_value_bool", "bool");
    *out = r.p[0];
    return MLXN_OK;
}
mlxn_status mlxn_gguf_value_str(const mlxn_gguf *g, mlxn_gguf_value v, const char **s, uint64_t *len) {
    rval r;
    if (!s || !len) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_value_str: NULL out");
    if (!resolve(g, v, &r)) return bad_ref("gguf_value_str");
    if (r.type != MLXN_GGUF_STRING) return wrong_type(g, &r, v, "gguf_value_str", "string");
    *s = (const char *)r.p;
    *len = r.n->len;
    return MLXN_OK;
}

static mlxn_status find_val(const mlxn_gguf *g, const char *key, const char *fn, mlxn_gguf_value *v) {
    if (!g || !key) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn, g ? "key" : "file");
    int64_t i = mlxn_gguf_find_kv(g, key);
    char eb[300];
    if (i < 0) return mlxn_set_error(MLXN_ERR_NOT_FOUND, "%s: no key '%s'", fn, esc(key, strlen(key), eb));
    *v = mlxn_gguf_kv_value(g, i);
    return MLXN_OK;
}
#define KEY_GETTER(NAME, T)                                                              \
    mlxn_status mlxn_gguf_get_##NAME(const mlxn_gguf *g, const char *key, T *out) {      \
        mlxn_gguf_value v;                                                               \
        mlxn_status s = find_val(g, key, "gguf_get_" #NAME, &v);                         \
        return s ? s : mlxn_gguf_value_##NAME(g, v, out);                                \
    }
KEY_GETTER(u64, uint64_t)
KEY_GETTER(i64, int64_t)
KEY_GETTER(f64, double)
KEY_GETTER(bool, int)
mlxn_status mlxn_gguf_get_str(const mlxn_gguf *g, const char *key, const char **s, uint64_t *len) {
    mlxn_gguf_value v;
    mlxn_status st = find_val(g, key, "gguf_get_str", &v);
    return st ? st : mlxn_gguf_value_str(g, v, s, len);
}

mlxn_status mlxn_gguf_tensor_info(const mlxn_gguf *g, int64_t i, mlxn_gguf_tensor *out) {
    if (!g || !out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_tensor_info: NULL %s", g ? "out" : "file");
    if (i < 0 || (uint64_t)i >= g->n_t)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_tensor_info: index %lld out of range (%llu tensors)",
                              (long long)i, (unsigned long long)g->n_t);
    const tinfo_t *t = &g->t[i];
    out->name = t->name;
    out->type = (mlxn_ggml_type)t->type;
    out->ndim = t->ndim;
    memcpy(out->ne, t->ne, sizeof t->ne);
    out->nelements = t->nel;
    out->nbytes = t->nbytes;
    out->offset = g->data_off + t->rel;
    out->data = g->data + out->offset;
    return MLXN_OK;
}

/* ------------------------------------------------------------------------- */
/* Writer                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct { char *key; uint8_t *val; size_t len; } wkv_t; /* val: u32 type + payload */
typedef struct {
    char *name;
    int32_t type;
    uint32_t ndim;
    int64_t ne[4];
    const void *data;
    uint64_t nbytes;
} wt_t;

struct mlxn_gguf_writer {
    wkv_t *kv;
    size_t n_kv, cap_kv;
    wt_t *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

mlxn_status mlxn_gguf_writer_new(mlxn_gguf_writer **out) {
    if (!out) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_new: NULL out");
    *out = calloc(1, sizeof **out);
    if (!*out) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf_writer_new: out of memory");
    (*out)->alignment = MLXN_GGUF_DEFAULT_ALIGNMENT;
    return MLXN_OK;
}

void mlxn_gguf_writer_free(mlxn_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) { free(w->kv[i].key); free(w->kv[i].val); }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static mlxn_status check_name(const char *fn, const char *what, const char *s) {
    if (!s) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn, what);
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %s length %zu is not in 1..%u", fn, what, n, MAX_NAME);
    return MLXN_OK;
}

/* Sets key to the encoded value (type + payload), taking ownership of val. */
static mlxn_status w_set(mlxn_gguf_writer *w, const char *fn, const char *key, uint8_t *val, size_t len) {
    mlxn_status s = MLXN_OK;
    if (!w) s = mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL writer", fn);
    else s = check_name(fn, "key", key);
    if (!s && !val) s = mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (!s && !strcmp(key, "general.alignment")) {
        uint32_t t, a = 0;
        memcpy(&t, val, 4);
        if (t == MLXN_GGUF_U32) memcpy(&a, val + 4, 4);
        if (t != MLXN_GGUF_U32 || a == 0 || (a & (a - 1)) || a > (1u << 30))
            s = mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT,
                               "%s: general.alignment must be a u32 power of two in 1..2^30", fn);
        else w->alignment = a;
    }
    if (s) { free(val); return s; }
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) { free(w->kv[i].val); w->kv[i].val = val; w->kv[i].len = len; return MLXN_OK; }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv_t *nk = realloc(w->kv, cap * sizeof *nk);
        if (!nk) { free(val); return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn); }
        w->kv = nk;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) { free(val); return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn); }
    w->kv[w->n_kv++] = (wkv_t){k, val, len};
    return MLXN_OK;
}

static uint8_t *enc_scalar(uint32_t type, const void *v, size_t n, size_t *len) {
    uint8_t *b = malloc(4 + n);
    if (b) { memcpy(b, &type, 4); memcpy(b + 4, v, n); }
    *len = 4 + n;
    return b;
}
#define W_SCALAR(NAME, CT, GT)                                                         \
    mlxn_status mlxn_gguf_writer_set_##NAME(mlxn_gguf_writer *w, const char *key, CT v) { \
        size_t n;                                                                      \
        uint8_t *b = enc_scalar(GT, &v, sizeof v, &n);                                 \
        return w_set(w, "gguf_writer_set_" #NAME, key, b, n);                          \
    }
W_SCALAR(u8, uint8_t, MLXN_GGUF_U8)
W_SCALAR(i8, int8_t, MLXN_GGUF_I8)
W_SCALAR(u16, uint16_t, MLXN_GGUF_U16)
W_SCALAR(i16, int16_t, MLXN_GGUF_I16)
W_SCALAR(u32, uint32_t, MLXN_GGUF_U32)
W_SCALAR(i32, int32_t, MLXN_GGUF_I32)
W_SCALAR(u64, uint64_t, MLXN_GGUF_U64)
W_SCALAR(i64, int64_t, MLXN_GGUF_I64)
W_SCALAR(f32, float, MLXN_GGUF_F32)
W_SCALAR(f64, double, MLXN_GGUF_F64)

mlxn_status mlxn_gguf_writer_set_bool(mlxn_gguf_writer *w, const char *key, int v) {
    uint8_t b8 = v ? 1 : 0;
    size_t n;
    uint8_t *b = enc_scalar(MLXN_GGUF_BOOL, &b8, 1, &n);
    return w_set(w, "gguf_writer_set_bool", key, b, n);
}

mlxn_status mlxn_gguf_writer_set_str(mlxn_gguf_writer *w, const char *key, const char *s, uint64_t len) {
    if (!s && len) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_str: NULL string");
    if (len > SIZE_MAX - 12) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_str: length too large");
    uint8_t *b = malloc((size_t)len + 12);
    if (b) {
        uint32_t t = MLXN_GGUF_STRING;
        memcpy(b, &t, 4);
        memcpy(b + 4, &len, 8);
        if (len) memcpy(b + 12, s, (size_t)len);
    }
    return w_set(w, "gguf_writer_set_str", key, b, (size_t)len + 12);
}

mlxn_status mlxn_gguf_writer_set_array(mlxn_gguf_writer *w, const char *key, mlxn_gguf_type et, const void *data,
                                       uint64_t n) {
    if (!gtype_ok(et) || !k_gtype_size[et])
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_array: element type %d is not a scalar type",
                              (int)et);
    if (!data && n) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_array: NULL data");
    size_t es = k_gtype_size[et];
    if (n > (SIZE_MAX - 16) / es) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_array: n too large");
    size_t len = 16 + (size_t)n * es;
    uint8_t *b = malloc(len);
    if (b) {
        uint32_t t = MLXN_GGUF_ARRAY, e = (uint32_t)et;
        memcpy(b, &t, 4);
        memcpy(b + 4, &e, 4);
        memcpy(b + 8, &n, 8);
        if (n) memcpy(b + 16, data, (size_t)n * es);
        if (et == MLXN_GGUF_BOOL) /* normalize: the reader rejects bool bytes other than 0/1 */
            for (size_t i = 0; i < n; i++) b[16 + i] = b[16 + i] ? 1 : 0;
    }
    return w_set(w, "gguf_writer_set_array", key, b, len);
}

mlxn_status mlxn_gguf_writer_set_str_array(mlxn_gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    if (!strs && n) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_str_array: NULL strs");
    size_t len = 16;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i])
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_str_array: string %llu is NULL",
                                  (unsigned long long)i);
        size_t l = strlen(strs[i]);
        if (l > SIZE_MAX - 8 - len) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_set_str_array: too large");
        len += 8 + l;
    }
    uint8_t *b = malloc(len);
    if (b) {
        uint32_t t = MLXN_GGUF_ARRAY, e = MLXN_GGUF_STRING;
        memcpy(b, &t, 4);
        memcpy(b + 4, &e, 4);
        memcpy(b + 8, &n, 8);
        size_t o = 16;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t l = strlen(strs[i]);
            memcpy(b + o, &l, 8);
            memcpy(b + o + 8, strs[i], (size_t)l);
            o += 8 + (size_t)l;
        }
    }
    return w_set(w, "gguf_writer_set_str_array", key, b, len);
}

mlxn_status mlxn_gguf_writer_set_alignment(mlxn_gguf_writer *w, uint32_t a) {
    size_t n;
    uint8_t *b = enc_scalar(MLXN_GGUF_U32, &a, 4, &n);
    return w_set(w, "gguf_writer_set_alignment", "general.alignment", b, n);
}

mlxn_status mlxn_gguf_writer_add_tensor(mlxn_gguf_writer *w, const char *name, mlxn_ggml_type type, int ndim,
                                        const int64_t *ne, const void *data, uint64_t nbytes) {
    const char *fn = "gguf_writer_add_tensor";
    if (!w || !ne) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn, w ? "ne" : "writer");
    mlxn_status s = check_name(fn, "name", name);
    if (s) return s;
    int64_t nel;
    uint64_t nb;
    const char *why = tensor_size(type, ndim, ne, &nel, &nb);
    if (why)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: tensor '%s': invalid %s (type %d, ndim %d)", fn, name,
                              why, (int)type, ndim);
    if (nb != nbytes)
        return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: tensor '%s': nbytes %llu, expected %llu for its shape and %s",
                              fn, name, (unsigned long long)nbytes, (unsigned long long)nb, mlxn_ggml_type_name(type));
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "%s: duplicate tensor name '%s'", fn, name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        wt_t *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        w->t = nt;
        w->cap_t = cap;
    }
    wt_t t = {strdup(name), (int32_t)type, (uint32_t)ndim, {1, 1, 1, 1}, data, nbytes};
    if (!t.name) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    for (int d = 0; d < ndim; d++) t.ne[d] = ne[d];
    w->t[w->n_t++] = t;
    return MLXN_OK;
}

/* Output: a memory buffer of known size or a FILE. */
typedef struct { uint8_t *buf; size_t pos; FILE *f; int err; } sink_t;
static void emit(sink_t *s, const void *p, size_t n) {
    if (s->err || !n) return;
    if (s->f) {
        if (p) { if (fwrite(p, 1, n, s->f) != n) s->err = 1; }
        else {
            static const uint8_t zeros[4096];
            while (n && !s->err) {
                size_t k = n < sizeof zeros ? n : sizeof zeros;
                if (fwrite(zeros, 1, k, s->f) != k) s->err = 1;
                n -= k;
            }
        }
        return;
    }
    if (p) memcpy(s->buf + s->pos, p, n);
    else memset(s->buf + s->pos, 0, n);
    s->pos += n;
}

static uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Total size and the header size; fails only on overflow. */
static mlxn_status w_layout(const mlxn_gguf_writer *w, uint64_t *hdr, uint64_t *total) {
    uint64_t h = 24, a = w->alignment, d = 0;
    for (size_t i = 0; i < w->n_kv; i++) h += 8 + strlen(w->kv[i].key) + w->kv[i].len;
    for (size_t i = 0; i < w->n_t; i++) h += 8 + strlen(w->t[i].name) + 4 + 8 * (uint64_t)w->t[i].ndim + 12;
    for (size_t i = 0; i < w->n_t; i++) {
        if (d > UINT64_MAX / 2 - a || w->t[i].nbytes > UINT64_MAX / 2 - a - d)
            return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_write: total size overflows");
        d = pad_to(d + w->t[i].nbytes, a);
    }
    *hdr = h;
    *total = w->n_t ? pad_to(h, a) + d : h;
    return MLXN_OK;
}

static void w_emit(const mlxn_gguf_writer *w, sink_t *s, uint64_t hdr) {
    uint32_t ver = 3;
    uint64_t nt = w->n_t, nkv = w->n_kv, a = w->alignment;
    emit(s, GGUF_MAGIC, 4);
    emit(s, &ver, 4);
    emit(s, &nt, 8);
    emit(s, &nkv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        uint64_t l = strlen(w->kv[i].key);
        emit(s, &l, 8);
        emit(s, w->kv[i].key, (size_t)l);
        emit(s, w->kv[i].val, w->kv[i].len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wt_t *t = &w->t[i];
        uint64_t l = strlen(t->name);
        uint32_t ty = (uint32_t)t->type;
        emit(s, &l, 8);
        emit(s, t->name, (size_t)l);
        emit(s, &t->ndim, 4);
        emit(s, t->ne, 8 * t->ndim);
        emit(s, &ty, 4);
        emit(s, &off, 8);
        off = pad_to(off + t->nbytes, a);
    }
    if (!w->n_t) return;
    emit(s, NULL, (size_t)(pad_to(hdr, a) - hdr));
    for (size_t i = 0; i < w->n_t; i++) {
        emit(s, w->t[i].data, (size_t)w->t[i].nbytes);
        emit(s, NULL, (size_t)(pad_to(w->t[i].nbytes, a) - w->t[i].nbytes));
    }
}

mlxn_status mlxn_gguf_writer_write_memory(const mlxn_gguf_writer *w, void **buf, size_t *size) {
    if (!w || !buf || !size) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_write_memory: NULL argument");
    *buf = NULL;
    *size = 0;
    uint64_t hdr, total;
    mlxn_status s = w_layout(w, &hdr, &total);
    if (s) return s;
#if SIZE_MAX < UINT64_MAX
    if (total > SIZE_MAX) return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf_writer_write_memory: too large");
#endif
    sink_t k = {malloc((size_t)total), 0, NULL, 0};
    if (!k.buf)
        return mlxn_set_error(MLXN_ERR_OUT_OF_MEMORY, "gguf_writer_write_memory: cannot allocate %llu bytes",
                              (unsigned long long)total);
    w_emit(w, &k, hdr);
    *buf = k.buf;
    *size = (size_t)total;
    return MLXN_OK;
}

void mlxn_gguf_buffer_free(void *buf) { free(buf); }

mlxn_status mlxn_gguf_writer_write(const mlxn_gguf_writer *w, const char *path) {
    if (!w || !path) return mlxn_set_error(MLXN_ERR_INVALID_ARGUMENT, "gguf_writer_write: NULL argument");
    uint64_t hdr, total;
    mlxn_status s = w_layout(w, &hdr, &total);
    if (s) return s;
    FILE *f = fopen(path, "wb");
    if (!f) return mlxn_set_error(MLXN_ERR_IO, "gguf_writer_write: cannot create '%s': %s", path, strerror(errno));
    sink_t k = {NULL, 0, f, 0};
    w_emit(w, &k, hdr);
    int e = k.err ? errno : 0;
    if (fclose(f) && !k.err) { k.err = 1; e = errno; }
    if (k.err) return mlxn_set_error(MLXN_ERR_IO, "gguf_writer_write: writing '%s' failed: %s", path, strerror(e));
    return MLXN_OK;
}
