/* test_safetensors.c — the safetensors reader, MLX quantization configs and
   the device loaders.

   Host part (run with -b cpu): round trips of files built here (every dtype,
   rank 0, zero elements, unaligned offsets, metadata, memory and mmap),
   sharded models (index, folder, every cross-check), MLX config parsing and
   quantized-tensor grouping, and the corrupt-file suite of
   style-and-reliability.md §2.6 for safetensors: each case must return
   MLXN_ERR_FORMAT with a message naming the field, every truncation of a
   small file and 20000 seeded mutations must fail cleanly or load (this test
   runs under ASan + UBSan in `make test`).
   Device part (every backend; the CUDA variant exits 77 without a GPU):
   tensors and whole models from safetensors and GGUF into buffers, read back
   byte for byte, with small staging chunks so that tensors span chunks and
   chunks hold many tensors; the progress callback; the H2D rate. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "mlxn.h"

/* ---- a builder of safetensors files ------------------------------------------ */
typedef struct { char *b; size_t n, cap; } sb_t;
static void sb_put(sb_t *s, const void *p, size_t n) {
    if (s->n + n + 1 > s->cap) {
        s->cap = (s->n + n + 1) * 2 + 256;
        s->b = realloc(s->b, s->cap);
        if (!s->b) abort();
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = 0;
}
static void sb_str(sb_t *s, const char *t) { sb_put(s, t, strlen(t)); }
static void sb_fmt(sb_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sb_t *s, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(s, tmp, (size_t)n);
}

typedef struct {
    const char *name;
    const char *dtype;
    int         ndim;
    int64_t     shape[8];
} tsp;

static int dtype_bits_of(const char *d) {
    for (int t = 0; t < MLXN_ST_DTYPE_COUNT; t++)
        if (!strcmp(mlxn_st_dtype_name((mlxn_st_dtype)t), d)) return mlxn_st_dtype_bits((mlxn_st_dtype)t);
    return 8;
}
static uint64_t tsp_bytes(const tsp *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->shape[d];
    return n * (uint64_t)dtype_bits_of(t->dtype) / 8;
}
static uint8_t pattern(size_t k, size_t i) { return (uint8_t)(k * 7 + i * 13 + 1); }

/* A file holding tensors ts in order (data = pattern), header padded with
   spaces to a multiple of 8; meta: the JSON text of __metadata__ or NULL. */
static uint8_t *build(const tsp *ts, int n, const char *meta, size_t *size) {
    sb_t h = {0};
    sb_str(&h, "{");
    int first = 1;
    if (meta) { sb_fmt(&h, "\"__metadata__\":%s", meta); first = 0; }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        sb_fmt(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", first ? "" : ",", ts[i].name, ts[i].dtype);
        first = 0;
        for (int d = 0; d < ts[i].ndim; d++) sb_fmt(&h, "%s%lld", d ? "," : "", (long long)ts[i].shape[d]);
        uint64_t nb = tsp_bytes(&ts[i]);
        sb_fmt(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    sb_str(&h, "}");
    while (h.n % 8) sb_str(&h, " ");
    uint64_t hn = h.n;
    uint8_t *f = malloc(8 + h.n + off + 1);
    memcpy(f, &hn, 8);
    memcpy(f + 8, h.b, h.n);
    size_t at = 8 + h.n;
    for (int i = 0; i < n; i++) {
        uint64_t nb = tsp_bytes(&ts[i]);
        for (uint64_t k = 0; k < nb; k++) f[at + k] = pattern(k, (size_t)i);
        at += nb;
    }
    free(h.b);
    *size = at;
    return f;
}

#define AUTO_LEN 0x7777777777777777ull /* raw_file: the length field is the text's length */
/* A file from a raw header text (length field = strlen when hlen is AUTO_LEN) and
   `dlen` data bytes of pattern. */
static uint8_t *raw_file(const char *hdr, uint64_t hlen, size_t dlen, size_t *size) {
    size_t hl = strlen(hdr);
    uint8_t *f = malloc(8 + hl + dlen + 1);
    uint64_t n = hlen == AUTO_LEN ? hl : hlen;
    memcpy(f, &n, 8);
    memcpy(f + 8, hdr, hl);
    for (size_t k = 0; k < dlen; k++) f[8 + hl + k] = pattern(k, 0);
    *size = 8 + hl + dlen;
    return f;
}

static int write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static char g_tmp[128];
static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p) unlink(p);
        }
    closedir(d);
    rmdir(dir);
}
static const char *tmp_path(const char *sub, const char *name) {
    static char p[4][1024];
    static int k;
    k = (k + 1) & 3;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, sub);
    mkdir(dir, 0700);
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Accessor walk (as the fuzz harness): every tensor's first/last byte, lookups, metadata. */
static uint64_t walk(const mlxn_safetensors *st) {
    uint64_t h = 0;
    for (int64_t i = 0; i < mlxn_safetensors_tensor_count(st); i++) {
        mlxn_st_tensor t;
        if (mlxn_safetensors_tensor_info(st, i, &t)) return 0;
        h += (uint64_t)mlxn_safetensors_find_tensor(st, t.name) + t.nbytes;
        const uint8_t *p = t.data;
        if (t.nbytes) h += p[0] + p[t.nbytes - 1];
    }
    for (int64_t i = 0; i < mlxn_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        if (!mlxn_safetensors_metadata(st, i, &k, &v)) h += strlen(k) + strlen(v);
        if (mlxn_safetensors_get_metadata(st, k) != v) h += 1000000;
    }
    return h;
}

/* ---- round trips -------------------------------------------------------------------- */

static const char *check_tensors(const mlxn_safetensors *st, const tsp *ts, int n) {
    static char why[300];
    if (mlxn_safetensors_tensor_count(st) != n) return "tensor count";
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        int64_t idx = mlxn_safetensors_find_tensor(st, ts[i].name);
        mlxn_st_tensor t;
        if (idx < 0 || mlxn_safetensors_tensor_info(st, idx, &t)) {
            snprintf(why, sizeof why, "find %s", ts[i].name);
            return why;
        }
        bool ok = !strcmp(t.name, ts[i].name) && !strcmp(mlxn_st_dtype_name(t.dtype), ts[i].dtype) &&
                  t.ndim == ts[i].ndim && t.nbytes == tsp_bytes(&ts[i]);
        int64_t nel = 1;
        for (int d = 0; d < t.ndim; d++) {
            ok = ok && t.shape[d] == ts[i].shape[d];
            nel *= ts[i].shape[d];
        }
        ok = ok && t.nelements == nel;
        for (uint64_t k = 0; ok && k < t.nbytes; k++) ok = ((const uint8_t *)t.data)[k] == pattern(k, (size_t)i);
        if (!ok) {
            snprintf(why, sizeof why, "tensor %s: dtype %s ndim %d nbytes %llu", ts[i].name, mlxn_st_dtype_name(t.dtype),
                     t.ndim, (unsigned long long)t.nbytes);
            return why;
        }
        total += t.nbytes;
    }
    if (mlxn_safetensors_total_bytes(st) != total) return "total bytes";
    mlxn_st_tensor t;
    if (mlxn_safetensors_tensor_info(st, n, &t) != MLXN_ERR_INVALID_ARGUMENT) return "index range";
    if (mlxn_safetensors_tensor_info(st, -1, &t) != MLXN_ERR_INVALID_ARGUMENT) return "index -1";
    if (mlxn_safetensors_find_tensor(st, "no.such") != -1 || mlxn_safetensors_find_tensor(st, NULL) != -1)
        return "find missing";
    return NULL;
}

static void test_dtypes_table(report_t *rep) {
    bool ok = mlxn_st_dtype_bits(MLXN_ST_F32) == 32 && mlxn_st_dtype_bits(MLXN_ST_F4) == 4 &&
              mlxn_st_dtype_bits(MLXN_ST_F6_E3M2) == 6 && mlxn_st_dtype_bits(MLXN_ST_BOOL) == 8 &&
              mlxn_st_dtype_bits((mlxn_st_dtype)99) == 0 && !strcmp(mlxn_st_dtype_name(MLXN_ST_BF16), "BF16") &&
              !strcmp(mlxn_st_dtype_name((mlxn_st_dtype)-1), "invalid");
    mlxn_dtype d = MLXN_F32;
    ok = ok && mlxn_st_dtype_to_mlxn(MLXN_ST_BF16, &d) && d == MLXN_BF16 && mlxn_st_dtype_to_mlxn(MLXN_ST_BOOL, &d) &&
         d == MLXN_U8 && mlxn_st_dtype_to_mlxn(MLXN_ST_F8_E4M3, &d) && d == MLXN_U8 &&
         !mlxn_st_dtype_to_mlxn(MLXN_ST_F64, &d) && !mlxn_st_dtype_to_mlxn(MLXN_ST_F4, &d) &&
         mlxn_st_dtype_to_mlxn(MLXN_ST_I64, &d) && d == MLXN_I64;
    report_case(rep, "dtypes/table", ok, "dtype table mismatch");
}

static void test_roundtrip(report_t *rep) {
    /* every dtype, shape [3, 4] (12 elements: whole bytes for F4 and F6 too),
       written smallest first so that many begin offsets are unaligned */
    tsp ts[MLXN_ST_DTYPE_COUNT + 4];
    int n = 0;
    for (int t = 0; t < MLXN_ST_DTYPE_COUNT; t++) {
        static char names[MLXN_ST_DTYPE_COUNT][32];
        snprintf(names[t], sizeof names[t], "model.t_%s", mlxn_st_dtype_name((mlxn_st_dtype)t));
        ts[n++] = (tsp){names[t], mlxn_st_dtype_name((mlxn_st_dtype)t), 2, {3, 4}};
    }
    ts[n++] = (tsp){"scalar", "F32", 0, {0}};
    ts[n++] = (tsp){"empty", "F16", 2, {0, 5}};
    ts[n++] = (tsp){"odd.u8", "U8", 1, {3}};
    ts[n++] = (tsp){"big.8d", "BF16", 8, {1, 2, 1, 3, 1, 1, 2, 2}};
    size_t size;
    uint8_t *f = build(ts, n, "{\"format\":\"pt\",\"note\":\"h\\u00e9llo\"}", &size);
    mlxn_safetensors *st = NULL;
    const char *why = NULL;
    if (mlxn_safetensors_open_memory(f, size, &st)) why = mlxn_last_error();
    else why = check_tensors(st, ts, n);
    if (!why) {
        const char *k, *v;
        if (mlxn_safetensors_metadata_count(st) != 2 || mlxn_safetensors_metadata(st, 0, &k, &v) ||
            strcmp(k, "format") || strcmp(v, "pt") || strcmp(mlxn_safetensors_get_metadata(st, "note"), "h\xc3\xa9llo") ||
            mlxn_safetensors_get_metadata(st, "nope") || mlxn_safetensors_metadata(st, 2, &k, &v) != MLXN_ERR_INVALID_ARGUMENT)
            why = "metadata";
        else if (mlxn_safetensors_shard_count(st) != 1 || strcmp(mlxn_safetensors_shard_path(st, 0), "<memory>") ||
                 mlxn_safetensors_shard_path(st, 1))
            why = "shards";
    }
    if (!why) { /* data order: the file's tensor order is the offset order */
        mlxn_st_tensor a, b;
        for (int64_t i = 1; i < mlxn_safetensors_tensor_count(st) && !why; i++)
            if (mlxn_safetensors_tensor_info(st, i - 1, &a) || mlxn_safetensors_tensor_info(st, i, &b) ||
                a.offset + a.nbytes != b.offset)
                why = "tensor order is not the offset order";
    }
    report_case(rep, "roundtrip/memory/every_dtype", !why, "%s", why ? why : "");
    mlxn_safetensors_close(st);
    st = NULL;

    /* the same bytes through a file (mmap) */
    const char *path = tmp_path("single", "model.safetensors");
    why = NULL;
    if (write_file(path, f, size)) why = "write";
    else if (mlxn_safetensors_open(path, &st)) why = mlxn_last_error();
    else if (!(why = check_tensors(st, ts, n)) && strcmp(mlxn_safetensors_shard_path(st, 0), path)) why = "path";
    report_case(rep, "roundtrip/file/every_dtype", !why, "%s", why ? why : "");
    if (!why) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/single", g_tmp);
        report_case(rep, "roundtrip/file/dir", !strcmp(mlxn_safetensors_dir(st), dir), "%s", mlxn_safetensors_dir(st));
    }
    mlxn_safetensors_close(st);
    st = NULL;
    /* a folder holding one file */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/single", g_tmp);
    why = NULL;
    if (mlxn_safetensors_open(dir, &st)) why = mlxn_last_error();
    else why = check_tensors(st, ts, n);
    report_case(rep, "roundtrip/folder_one_file", !why, "%s", why ? why : "");
    mlxn_safetensors_close(st);
    st = NULL;
    free(f);

    /* an empty header: no tensors, no data */
    f = raw_file("{}      ", AUTO_LEN, 0, &size);
    mlxn_status s = mlxn_safetensors_open_memory(f, size, &st);
    report_case(rep, "roundtrip/empty_file", s == MLXN_OK && mlxn_safetensors_tensor_count(st) == 0 &&
                                                 mlxn_safetensors_total_bytes(st) == 0, "%s", mlxn_last_error());
    mlxn_safetensors_close(st);
    st = NULL;
    free(f);
    /* accepted edge cases (§2.6 "must load") */
    static const struct { const char *name, *hdr; size_t dlen; } goods[] = {
        {"accept/trailing_spaces", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}       ", 2},
        {"accept/trailing_newline", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}\n", 2},
        {"accept/metadata_null", "{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2},
        {"accept/odd_begin_f32", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", 9},
        {"accept/zero_size_between", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                     "\"z\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[1,1]},"
                                     "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2},
        {"accept/out_of_order_entries", "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                                        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 2},
        {"accept/field_order", "{\"a\":{\"data_offsets\":[0,2],\"shape\":[2],\"dtype\":\"U8\"}}", 2},
        {"accept/unicode_name", "{\"\\u00e9\\u4e16\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2},
        {"accept/zero_dim_overflowing_rest", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,4,0],"
                                             "\"data_offsets\":[0,0]}}", 0},
        {"accept/rank0_bool", "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[0,1]}}", 1},
    };
    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        f = raw_file(goods[i].hdr, AUTO_LEN, goods[i].dlen, &size);
        s = mlxn_safetensors_open_memory(f, size, &st);
        report_case(rep, goods[i].name, s == MLXN_OK, "%s", mlxn_last_error());
        if (!s) walk(st);
        mlxn_safetensors_close(st);
        st = NULL;
        free(f);
    }
    /* argument checks */
    bool ok = mlxn_safetensors_open(NULL, &st) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_safetensors_open("/nonexistent/x.safetensors", &st) == MLXN_ERR_IO && !st &&
              strstr(mlxn_last_error(), "/nonexistent/x.safetensors") &&
              mlxn_safetensors_open_memory(NULL, 5, &st) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_safetensors_open_memory(NULL, 0, &st) == MLXN_ERR_FORMAT &&
              mlxn_safetensors_tensor_count(NULL) == 0 && mlxn_safetensors_find_tensor(NULL, "a") == -1 &&
              mlxn_safetensors_get_metadata(NULL, "a") == NULL;
    mlxn_safetensors_close(NULL);
    report_case(rep, "roundtrip/argument_errors", ok, "%s", mlxn_last_error());
}

/* ---- sharded models ------------------------------------------------------------------- */

static void write_shards(const char *sub, int with_index, const char *index_text) {
    tsp a[] = {{"model.embed.weight", "BF16", 2, {4, 8}}, {"model.layers.0.w", "F32", 1, {5}}};
    tsp b[] = {{"model.layers.1.w", "F16", 2, {3, 3}}, {"lm_head.weight", "BF16", 2, {8, 4}}};
    size_t sa, sbz;
    uint8_t *fa = build(a, 2, "{\"format\":\"mlx\"}", &sa), *fb = build(b, 2, "{\"format\":\"mlx\",\"x\":\"2\"}", &sbz);
    write_file(tmp_path(sub, "model-00001-of-00002.safetensors"), fa, sa);
    write_file(tmp_path(sub, "model-00002-of-00002.safetensors"), fb, sbz);
    if (with_index) {
        const char *idx = index_text ? index_text
                                     : "{\"metadata\":{\"total_size\":178},\"weight_map\":{"
                                       "\"model.embed.weight\":\"model-00001-of-00002.safetensors\","
                                       "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
                                       "\"model.layers.1.w\":\"model-00002-of-00002.safetensors\","
                                       "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}";
        write_file(tmp_path(sub, "model.safetensors.index.json"), idx, strlen(idx));
    }
    free(fa);
    free(fb);
}

static const char *check_sharded(const mlxn_safetensors *st) {
    static const char *names[] = {"model.embed.weight", "model.layers.0.w", "model.layers.1.w", "lm_head.weight"};
    static const int shard[] = {0, 0, 1, 1};
    if (mlxn_safetensors_tensor_count(st) != 4) return "count";
    if (mlxn_safetensors_shard_count(st) != 2) return "shard count";
    for (int i = 0; i < 4; i++) {
        mlxn_st_tensor t;
        int64_t k = mlxn_safetensors_find_tensor(st, names[i]);
        if (k < 0 || mlxn_safetensors_tensor_info(st, k, &t) || t.shard != shard[i]) return names[i];
        /* pattern index = position in its shard file's data order */
        const uint8_t *p = t.data;
        for (uint64_t j = 0; j < t.nbytes; j++)
            if (p[j] != pattern(j, (size_t)(i % 2))) return "bytes";
    }
    if (mlxn_safetensors_metadata_count(st) != 2 || strcmp(mlxn_safetensors_get_metadata(st, "format"), "mlx") ||
        strcmp(mlxn_safetensors_get_metadata(st, "x"), "2"))
        return "merged metadata";
    if (!strstr(mlxn_safetensors_shard_path(st, 1), "model-00002-of-00002.safetensors")) return "shard path";
    return NULL;
}

static void expect_open(report_t *rep, const char *name, const char *path, mlxn_status want, const char *expect) {
    mlxn_safetensors *st = NULL;
    mlxn_status s = mlxn_safetensors_open(path, &st);
    const char *msg = mlxn_last_error();
    bool ok = s == want && (s != MLXN_OK) == (st == NULL) && (!expect || strstr(msg, expect));
    report_case(rep, name, ok, "status %s, message '%s', expected %s naming '%s'", mlxn_status_str(s), msg,
                mlxn_status_str(want), expect ? expect : "");
    mlxn_safetensors_close(st);
}

static void test_sharded(report_t *rep) {
    char dir[600], idx[700];
    write_shards("sharded", 1, NULL);
    snprintf(dir, sizeof dir, "%s/sharded", g_tmp);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    for (int k = 0; k < 2; k++) {
        mlxn_safetensors *st = NULL;
        const char *why = NULL;
        if (mlxn_safetensors_open(k ? idx : dir, &st)) why = mlxn_last_error();
        else why = check_sharded(st);
        if (!why && strcmp(mlxn_safetensors_dir(st), dir)) why = "dir";
        report_case(rep, k ? "sharded/index_path" : "sharded/folder_with_index", !why, "%s", why ? why : "");
        mlxn_safetensors_close(st);
    }
    /* no index: every *.safetensors in name order */
    write_shards("noindex", 0, NULL);
    snprintf(dir, sizeof dir, "%s/noindex", g_tmp);
    {
        mlxn_safetensors *st = NULL;
        const char *why = mlxn_safetensors_open(dir, &st) ? mlxn_last_error() : check_sharded(st);
        report_case(rep, "sharded/folder_without_index", !why, "%s", why ? why : "");
        mlxn_safetensors_close(st);
    }
    /* the index's cross-checks */
    static const struct { const char *name, *index; mlxn_status want; const char *expect; } bad[] = {
        {"missing_shard_file", "{\"weight_map\":{\"model.embed.weight\":\"model-00001-of-00002.safetensors\","
                               "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
                               "\"model.layers.1.w\":\"model-00003-of-00002.safetensors\"}}",
         MLXN_ERR_IO, "model-00003-of-00002.safetensors"},
        {"tensor_in_wrong_shard", "{\"weight_map\":{\"model.embed.weight\":\"model-00002-of-00002.safetensors\","
                                  "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
                                  "\"model.layers.1.w\":\"model-00002-of-00002.safetensors\","
                                  "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}",
         MLXN_ERR_FORMAT, "'model.embed.weight' in 'model-00002-of-00002.safetensors', but it is in"},
        {"tensor_missing_from_shard", "{\"weight_map\":{\"model.embed.weight\":\"model-00001-of-00002.safetensors\","
                                      "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
                                      "\"model.layers.1.w\":\"model-00002-of-00002.safetensors\","
                                      "\"model.layers.9.w\":\"model-00002-of-00002.safetensors\","
                                      "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}",
         MLXN_ERR_FORMAT, "'model.layers.9.w' in 'model-00002-of-00002.safetensors', which has no such tensor"},
        {"tensor_not_listed", "{\"weight_map\":{\"model.embed.weight\":\"model-00001-of-00002.safetensors\","
                              "\"model.layers.0.w\":\"model-00001-of-00002.safetensors\","
                              "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}",
         MLXN_ERR_FORMAT, "tensor 'model.layers.1.w' of"},
        {"duplicate_key", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"a\":\"x\"}}", MLXN_ERR_FORMAT,
         "duplicate"},
        {"path_traversal", "{\"weight_map\":{\"a\":\"../x.safetensors\"}}", MLXN_ERR_FORMAT, "not a file name"},
        {"empty_file_name", "{\"weight_map\":{\"a\":\"\"}}", MLXN_ERR_FORMAT, "not a file name"},
        {"not_a_string", "{\"weight_map\":{\"a\":3}}", MLXN_ERR_FORMAT, "weight_map['a'] is an integer"},
        {"no_weight_map", "{\"metadata\":{}}", MLXN_ERR_FORMAT, "weight_map"},
        {"not_an_object", "[1,2]", MLXN_ERR_FORMAT, "not a JSON object"},
        {"bad_json", "{\"weight_map\":{", MLXN_ERR_FORMAT, "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sub[64], name[128];
        snprintf(sub, sizeof sub, "badidx%zu", i);
        write_shards(sub, 1, bad[i].index);
        snprintf(dir, sizeof dir, "%s/%s", g_tmp, sub);
        snprintf(name, sizeof name, "sharded/index/%s", bad[i].name);
        expect_open(rep, name, dir, bad[i].want, bad[i].expect);
    }
    /* the same tensor in two shards (no index) */
    {
        tsp a[] = {{"x", "F32", 1, {2}}};
        size_t s1;
        uint8_t *f1 = build(a, 1, NULL, &s1);
        write_file(tmp_path("dup", "a.safetensors"), f1, s1);
        write_file(tmp_path("dup", "b.safetensors"), f1, s1);
        free(f1);
        snprintf(dir, sizeof dir, "%s/dup", g_tmp);
        expect_open(rep, "sharded/duplicate_tensor_across_files", dir, MLXN_ERR_FORMAT, "tensor 'x' is in shard");
        /* a corrupt shard names its file */
        write_file(tmp_path("dup", "c.safetensors"), "\x02\0\0\0\0\0\0\0[]", 10);
        expect_open(rep, "sharded/corrupt_shard_named", dir, MLXN_ERR_FORMAT, "c.safetensors: safetensors: header");
    }
    mkdir(tmp_path("emptydir", ""), 0700);
    snprintf(dir, sizeof dir, "%s/emptydir", g_tmp);
    expect_open(rep, "sharded/empty_folder", dir, MLXN_ERR_NOT_FOUND, "no .safetensors");
}

/* ---- the corrupt-file suite ------------------------------------------------------------- */

static void check_bad(report_t *rep, const char *name, const void *data, size_t size, const char *expect) {
    mlxn_safetensors *st = (mlxn_safetensors *)(uintptr_t)1;
    mlxn_status s = mlxn_safetensors_open_memory(data, size, &st);
    const char *msg = mlxn_last_error();
    bool ok = s == MLXN_ERR_FORMAT && st == NULL && !strncmp(msg, "safetensors: ", 13) && (!expect || strstr(msg, expect));
    report_case(rep, name, ok, "status %s, message '%s', expected FORMAT naming '%s'", mlxn_status_str(s), msg,
                expect ? expect : "");
    if (s == MLXN_OK) mlxn_safetensors_close(st);
}

#define T1(dt, shape, off) "{\"t\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}}"

static void test_corrupt(report_t *rep) {
    char name[200];
    size_t size;
    uint8_t *f;
    /* ---- the header length ---- */
    static const struct { const char *name; uint64_t n; const char *expect; } lens[] = {
        {"len/zero", 0, "too short"},
        {"len/one", 1, "too short"},
        {"len/over_cap", MLXN_ST_MAX_HEADER + 1ull, "exceeds the limit"},
        {"len/2^63", 1ull << 63, "exceeds the limit"},
        {"len/max", UINT64_MAX, "exceeds the limit"},
        {"len/wraps_plus_8", UINT64_MAX - 7, "exceeds the limit"},
        {"len/past_file", 60, "exceeds the 16 bytes"},
        {"len/one_past_file", 17, "exceeds the 16 bytes"},
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        f = raw_file("{}              ", lens[i].n, 0, &size);
        snprintf(name, sizeof name, "corrupt/%s", lens[i].name);
        check_bad(rep, name, f, size, lens[i].expect);
        free(f);
    }
    check_bad(rep, "corrupt/len/empty_file", "", 0, "too short for the 8-byte header length");
    check_bad(rep, "corrupt/len/seven_bytes", "\x02\0\0\0\0\0\0", 7, "too short for the 8-byte header length");
    check_bad(rep, "corrupt/len/length_only", "\0\0\0\0\0\0\0\0", 8, "too short for a JSON object");

    /* ---- header text ---- */
    static const struct { const char *name, *hdr; size_t dlen; const char *expect; } hdrs[] = {
        {"text/leading_space", " {}", 0, "does not start with '{'"},
        {"text/leading_newline", "\n{}", 0, "does not start with '{'"},
        {"text/array", "[1,2]", 0, "does not start with '{'"},
        {"text/string", "\"ab\"", 0, "does not start with '{'"},
        {"text/bom", "\xef\xbb\xbf{}", 0, "does not start with '{'"},
        {"text/unterminated", "{\"a\":", 0, "header JSON"},
        {"text/two_objects", "{}{}", 0, "header JSON"},
        {"text/trailing_garbage", "{}  x", 0, "header JSON"},
        {"text/not_utf8_key", "{\"\xff\xfe\":{}}", 0, "header JSON"},
        {"text/overlong_utf8", "{\"\xc0\xaf\":{}}", 0, "header JSON"},
        {"text/surrogate_utf8", "{\"\xed\xa0\x80\":{}}", 0, "header JSON"},
        {"text/nul_escape_in_key", "{\"a\\u0000b\":{}}", 0, "header JSON"},
        {"text/raw_nul", "{\"a\":{}}\0\0", 0, NULL},
        {"text/raw_control_in_string", "{\"a\x01\":{}}", 0, "header JSON"},
        {"text/duplicate_tensor", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                  "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate"},
        {"text/duplicate_field", "{\"t\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
         "duplicate"},
        {"text/duplicate_metadata_key", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "duplicate"},
        {"text/single_quotes", "{'t':1}", 0, "header JSON"},
        {"text/comment", "{/*x*/}", 0, "header JSON"},
        {"text/trailing_comma", "{\"__metadata__\":{},}", 0, "header JSON"},
        /* ---- metadata ---- */
        {"meta/not_object", "{\"__metadata__\":[\"a\"]}", 0, "__metadata__ is an array"},
        {"meta/string", "{\"__metadata__\":\"x\"}", 0, "__metadata__ is a string"},
        {"meta/int_value", "{\"__metadata__\":{\"k\":5}}", 0, "__metadata__ value of 'k' is an integer"},
        {"meta/nested_value", "{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", 0, "value of 'k' is an object"},
        {"meta/null_value", "{\"__metadata__\":{\"k\":null}}", 0, "value of 'k' is null"},
        /* ---- entries ---- */
        {"entry/empty_name", "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "name is empty"},
        {"entry/not_object", "{\"t\":[1]}", 0, "tensor 't': entry is an array"},
        {"entry/number", "{\"t\":5}", 0, "tensor 't': entry is an integer"},
        {"entry/missing_dtype", "{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "missing field 'dtype'"},
        {"entry/missing_shape", "{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "missing field 'shape'"},
        {"entry/missing_offsets", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "missing field 'data_offsets'"},
        {"entry/unknown_field", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
         "unknown field 'x'"},
        {"dtype/unknown", T1("F128", "[1]", "[0,16]"), 16, "unknown dtype 'F128'"},
        {"dtype/lower_case", T1("f32", "[1]", "[0,4]"), 4, "unknown dtype 'f32'"},
        {"dtype/not_string", "{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "dtype is an integer"},
        {"dtype/empty", T1("", "[1]", "[0,1]"), 1, "unknown dtype ''"},
        /* ---- shapes ---- */
        {"shape/negative", T1("U8", "[-1]", "[0,1]"), 1, "shape[0] = -1 is negative"},
        {"shape/float", T1("U8", "[1.0]", "[0,1]"), 1, "shape[0] is a real number"},
        {"shape/string", T1("U8", "[\"1\"]", "[0,1]"), 1, "shape[0] is a string"},
        {"shape/not_array", T1("U8", "1", "[0,1]"), 1, "shape is an integer"},
        {"shape/2^64", T1("U8", "[18446744073709551616]", "[0,1]"), 1, "header JSON"},
        {"shape/2^63", T1("U8", "[9223372036854775808]", "[0,1]"), 1, "header JSON"},
        {"shape/product_overflow", T1("U8", "[4294967296,4294967296]", "[0,1]"), 1, "element count of shape"},
        {"shape/int64_max_x2", T1("U8", "[9223372036854775807,2]", "[0,1]"), 1, "element count of shape"},
        {"shape/bytes_overflow", T1("F64", "[4611686018427387904]", "[0,1]"), 1, "byte size of shape"},
        {"shape/nine_dims", T1("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), 1, "9 dims"},
        {"shape/nested", T1("U8", "[[1]]", "[0,1]"), 1, "shape[0] is an array"},
        {"shape/sub_byte_odd", T1("F4", "[3]", "[0,2]"), 2, "not a whole number of bytes"},
        {"shape/f6_odd", T1("F6_E2M3", "[3]", "[0,3]"), 3, "not a whole number of bytes"},
        /* ---- offsets ---- */
        {"offsets/not_array", T1("U8", "[1]", "{}"), 1, "data_offsets is an object"},
        {"offsets/one_entry", T1("U8", "[1]", "[0]"), 1, "wrong length"},
        {"offsets/three_entries", T1("U8", "[1]", "[0,1,2]"), 1, "wrong length"},
        {"offsets/negative", T1("U8", "[1]", "[-1,0]"), 1, "integers >= 0"},
        {"offsets/float", T1("U8", "[1]", "[0,1.5]"), 1, "integers >= 0"},
        {"offsets/end_before_begin", T1("U8", "[0]", "[1,0]"), 1, "BEGIN > END"},
        {"offsets/bytes_mismatch", T1("F32", "[2,2]", "[0,12]"), 12, "hold 12 bytes, shape [2, 2] of F32 needs 16"},
        {"offsets/bytes_too_many", T1("F16", "[3]", "[0,8]"), 8, "needs 6"},
        {"offsets/end_past_data", T1("U8", "[4]", "[0,4]"), 3, "past the end of the 3-byte data section"},
        {"offsets/huge", T1("U8", "[1]", "[9223372036854775806,9223372036854775807]"), 1, "past the end"},
        {"offsets/hole_at_start", T1("U8", "[1]", "[1,2]"), 2, "hole of 1 bytes at 0"},
        {"offsets/trailing_bytes", T1("U8", "[1]", "[0,1]"), 5, "cover 1 bytes of the 5-byte data section"},
        {"offsets/hole_between", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                 "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}", 3, "hole"},
        {"offsets/overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                            "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3, "overlap tensor 'a'"},
        {"offsets/same_range", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                               "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "overlap"},
        {"offsets/contained", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 4, "overlap"},
        {"offsets/no_tensors_but_data", "{}", 4, "cover 0 bytes of the 4-byte data section"},
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t hl = strlen(hdrs[i].hdr);
        if (!strcmp(hdrs[i].name, "text/raw_nul")) hl = 10; /* the NULs after the object are part of the header */
        uint8_t *b = malloc(8 + hl + hdrs[i].dlen + 1);
        uint64_t n = hl;
        memcpy(b, &n, 8);
        memcpy(b + 8, hdrs[i].hdr, hl);
        for (size_t k = 0; k < hdrs[i].dlen; k++) b[8 + hl + k] = (uint8_t)k;
        snprintf(name, sizeof name, "corrupt/%s", hdrs[i].name);
        if (report_wants(rep, name)) check_bad(rep, name, b, 8 + hl + hdrs[i].dlen, hdrs[i].expect);
        free(b);
    }
    /* deep nesting: inside __metadata__ (deeper than jansson's 2048 levels), and 100 levels */
    for (int depth = 100; depth <= 5000; depth += 4900) {
        sb_t h = {0};
        sb_str(&h, "{\"__metadata__\":{\"k\":");
        for (int d = 0; d < depth; d++) sb_str(&h, "[");
        for (int d = 0; d < depth; d++) sb_str(&h, "]");
        sb_str(&h, "}}");
        f = raw_file(h.b, AUTO_LEN, 0, &size);
        snprintf(name, sizeof name, "corrupt/text/nesting_%d", depth);
        check_bad(rep, name, f, size, depth > 2048 ? "header JSON" : "value of 'k' is an array");
        free(f);
        free(h.b);
    }
    /* a huge (but under the cap) header of spaces around a tiny object must not be slow or fail */
    {
        size_t hl = 20u << 20;
        uint8_t *b = malloc(8 + hl);
        uint64_t n = hl;
        memcpy(b, &n, 8);
        memset(b + 8, ' ', hl);
        memcpy(b + 8, "{}", 2);
        mlxn_safetensors *st = NULL;
        mlxn_status s = mlxn_safetensors_open_memory(b, 8 + hl, &st);
        report_case(rep, "accept/header_20MiB_of_padding", s == MLXN_OK, "%s", mlxn_last_error());
        mlxn_safetensors_close(st);
        free(b);
    }

    /* ---- every truncation of a small valid file ---- */
    tsp ts[] = {{"a", "F32", 2, {2, 3}}, {"b", "BF16", 1, {5}}, {"c", "U8", 0, {0}}};
    uint8_t *v = build(ts, 3, "{\"k\":\"v\"}", &size);
    {
        int bad = 0, total = 0;
        for (size_t cut = 0; cut < size; cut++) {
            mlxn_safetensors *st = NULL;
            mlxn_status s = mlxn_safetensors_open_memory(v, cut, &st);
            total++;
            if (s != MLXN_ERR_FORMAT || st || strncmp(mlxn_last_error(), "safetensors: ", 13)) {
                if (!bad) printf("  truncation at %zu: %s %s\n", cut, mlxn_status_str(s), mlxn_last_error());
                bad++;
            }
            mlxn_safetensors_close(st);
        }
        report_case(rep, "corrupt/truncation_every_byte", bad == 0, "%d of %d truncations not FORMAT", bad, total);
        /* one byte more is a trailing byte */
        uint8_t *w = malloc(size + 1);
        memcpy(w, v, size);
        w[size] = 0;
        check_bad(rep, "corrupt/one_trailing_byte", w, size + 1, "trailing bytes");
        free(w);
    }
    /* ---- seeded random mutations: FORMAT or OK, never a crash ---- */
    {
        rng_t r;
        rng_seed(&r, 0x5afe7e45ull);
        int bad = 0, okc = 0;
        uint8_t *b = malloc(size);
        uint64_t hl;
        memcpy(&hl, v, 8);
        static const uint8_t special[] = {'{', '}', '[', ']', '"', ',', ':', '0', '9', '-', 0, 0xff, 0xc3, ' ', '\\', 'e'};
        for (int it = 0; it < 20000; it++) {
            memcpy(b, v, size);
            int nmut = 1 + (int)(rng_u64(&r) % 4);
            for (int m = 0; m < nmut; m++) {
                size_t at = (size_t)rng_int(&r, 0, (int64_t)((rng_u64(&r) & 7) ? 8 + hl : size) - 1);
                b[at] = (rng_u64(&r) & 1) ? special[rng_u64(&r) & 15] : (uint8_t)rng_u64(&r);
            }
            size_t n = (rng_u64(&r) % 10 == 0) ? (size_t)rng_int(&r, 0, (int64_t)size) : size;
            mlxn_safetensors *st = NULL;
            mlxn_status s = mlxn_safetensors_open_memory(b, n, &st);
            if (s == MLXN_OK) { okc++; walk(st); }
            else if (s != MLXN_ERR_FORMAT || strncmp(mlxn_last_error(), "safetensors: ", 13)) bad++;
            mlxn_safetensors_close(st);
        }
        free(b);
        report_case(rep, "corrupt/random_mutations_20000", bad == 0, "%d results neither OK nor FORMAT", bad);
        if (rep->verbose) printf("  random mutations: %d of 20000 still valid\n", okc);
    }
    free(v);
}

/* ---- MLX quantization configs ------------------------------------------------------------- */

static bool params_are(mlxn_mlxq_layer_params p, int q, int bits, int group, mlxn_mlxq_mode mode) {
    return p.quantized == q && p.bits == bits && p.group_size == group && p.mode == mode;
}

static void test_mlx_config(report_t *rep) {
    const char *cfg =
        "{\"model_type\":\"qwen3\",\"quantization\":{\"group_size\":64,\"bits\":4,\"mode\":\"affine\","
        "\"model.layers.0.mlp.down_proj\":{\"group_size\":32,\"bits\":8},"
        "\"language_model.model.layers.1.self_attn.q_proj\":{\"bits\":6},"
        "\"model.embed_tokens\":{\"bits\":2,\"group_size\":128},"
        "\"lm_head\":false,"
        "\"model.layers.2.mlp.experts\":{\"mode\":\"mxfp4\"},"
        "\"quant_method\":\"mlx\"},"
        "\"quantization_config\":{\"group_size\":64,\"bits\":4}}";
    mlxn_mlxq_config *c = NULL;
    mlxn_status s = mlxn_mlxq_config_parse(cfg, strlen(cfg), 1, "config.json", &c);
    bool ok = s == MLXN_OK;
    mlxn_mlxq_layer_params p;
    if (ok) {
        ok = params_are(mlxn_mlxq_config_defaults(c), 1, 4, 64, MLXN_MLXQ_AFFINE) &&
             mlxn_mlxq_config_override_count(c) == 5 && !strcmp(mlxn_mlxq_config_source(c), "config.json");
        const char *on;
        ok = ok && !mlxn_mlxq_config_override(c, 0, &on, &p) && !strcmp(on, "model.layers.0.mlp.down_proj") &&
             params_are(p, 1, 8, 32, MLXN_MLXQ_AFFINE);
        ok = ok && mlxn_mlxq_config_override(c, 5, &on, &p) == MLXN_ERR_INVALID_ARGUMENT;
        report_case(rep, "mlxq/config/parse", ok, "%s", mlxn_last_error());
        /* the lookup order */
        static const struct { const char *name; int q, bits, group; mlxn_mlxq_mode mode; } look[] = {
            {"model.layers.0.mlp.down_proj", 1, 8, 32, MLXN_MLXQ_AFFINE},           /* exact */
            {"model.layers.0.mlp.down_proj.weight", 1, 8, 32, MLXN_MLXQ_AFFINE},    /* suffix stripped */
            {"model.layers.0.mlp.down_proj.scales", 1, 8, 32, MLXN_MLXQ_AFFINE},
            {"model.layers.0.mlp.down_proj.biases", 1, 8, 32, MLXN_MLXQ_AFFINE},
            {"language_model.model.layers.0.mlp.down_proj.weight", 1, 8, 32, MLXN_MLXQ_AFFINE}, /* prefix removed */
            {"model.layers.1.self_attn.q_proj.weight", 1, 6, 64, MLXN_MLXQ_AFFINE}, /* prefix added */
            {"language_model.model.layers.1.self_attn.q_proj", 1, 6, 64, MLXN_MLXQ_AFFINE},
            {"model.embed_tokens.weight", 1, 2, 128, MLXN_MLXQ_AFFINE},
            {"lm_head.weight", 0, 4, 64, MLXN_MLXQ_AFFINE},                          /* false */
            {"model.layers.2.mlp.experts.scales", 1, 4, 32, MLXN_MLXQ_MXFP4},       /* mode: its fixed values */
            {"model.layers.3.mlp.up_proj.weight", 1, 4, 64, MLXN_MLXQ_AFFINE},      /* defaults */
            {"model.layers.0.mlp.down_proj.weightx", 1, 4, 64, MLXN_MLXQ_AFFINE},   /* no partial matches */
        };
        for (size_t i = 0; i < sizeof look / sizeof look[0]; i++) {
            char name[200];
            snprintf(name, sizeof name, "mlxq/lookup/%s", look[i].name);
            s = mlxn_mlxq_config_lookup(c, look[i].name, &p);
            report_case(rep, name, !s && params_are(p, look[i].q, look[i].bits, look[i].group, look[i].mode),
                        "got quantized %d bits %d group %d mode %s", p.quantized, p.bits, p.group_size,
                        mlxn_mlxq_mode_name(p.mode));
        }
    } else {
        report_case(rep, "mlxq/config/parse", false, "%s", mlxn_last_error());
    }
    mlxn_mlxq_config_free(c);
    c = NULL;
    /* missing keys take the defaults; quantization_config (mlx-lm's copy) is the fallback */
    static const struct { const char *name, *json; int is_cfg; mlxn_status want; int bits, group; mlxn_mlxq_mode mode; } ok_cases[] = {
        {"empty_object_defaults", "{\"quantization\":{}}", 1, MLXN_OK, 4, 64, MLXN_MLXQ_AFFINE},
        {"bits_only", "{\"quantization\":{\"bits\":8}}", 1, MLXN_OK, 8, 64, MLXN_MLXQ_AFFINE},
        {"fallback_quantization_config", "{\"quantization_config\":{\"bits\":3,\"group_size\":32}}", 1, MLXN_OK, 3, 32,
         MLXN_MLXQ_AFFINE},
        {"hf_quantization_config_ignored", "{\"quantization_config\":{\"quant_method\":\"fp8\"}}", 1, MLXN_ERR_NOT_FOUND, 0,
         0, MLXN_MLXQ_AFFINE},
        {"unquantized", "{\"model_type\":\"llama\"}", 1, MLXN_ERR_NOT_FOUND, 0, 0, MLXN_MLXQ_AFFINE},
        {"nvfp4", "{\"quantization\":{\"mode\":\"nvfp4\",\"group_size\":16,\"bits\":4}}", 1, MLXN_OK, 4, 16,
         MLXN_MLXQ_NVFP4},
        {"mxfp8_mode_only", "{\"quantization\":{\"mode\":\"mxfp8\"}}", 1, MLXN_OK, 8, 32, MLXN_MLXQ_MXFP8},
        {"hf2q_file", "{\"bits\":6,\"group_size\":32,\"per_tensor\":{\"x.weight\":{\"bits\":8,\"group_size\":64}}}", 0,
         MLXN_OK, 6, 32, MLXN_MLXQ_AFFINE},
    };
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "mlxq/config/%s", ok_cases[i].name);
        s = mlxn_mlxq_config_parse(ok_cases[i].json, strlen(ok_cases[i].json), ok_cases[i].is_cfg, NULL, &c);
        bool good = s == ok_cases[i].want && (s != MLXN_OK) == (c == NULL);
        if (good && !s)
            good = params_are(mlxn_mlxq_config_defaults(c), 1, ok_cases[i].bits, ok_cases[i].group, ok_cases[i].mode);
        if (good && !s && !ok_cases[i].is_cfg)
            good = !mlxn_mlxq_config_lookup(c, "x.weight", &p) && params_are(p, 1, 8, 64, MLXN_MLXQ_AFFINE) &&
                   !mlxn_mlxq_config_lookup(c, "x", &p) && params_are(p, 1, 6, 32, MLXN_MLXQ_AFFINE);
        report_case(rep, name, good, "status %s: %s", mlxn_status_str(s), mlxn_last_error());
        mlxn_mlxq_config_free(c);
        c = NULL;
    }
    /* bad values: FORMAT naming the key and value */
    static const struct { const char *name, *json; const char *expect; } bad[] = {
        {"bits_7", "{\"quantization\":{\"bits\":7}}", "affine bits must be"},
        {"bits_0", "{\"quantization\":{\"bits\":0}}", "bits = 0"},
        {"bits_string", "{\"quantization\":{\"bits\":\"4\"}}", "quantization.bits is a string"},
        {"bits_real", "{\"quantization\":{\"bits\":4.0}}", "quantization.bits is a real number"},
        {"group_48", "{\"quantization\":{\"group_size\":48}}", "group_size must be 32, 64 or 128"},
        {"group_negative", "{\"quantization\":{\"group_size\":-64}}", "group_size = -64"},
        {"group_huge", "{\"quantization\":{\"group_size\":9223372036854775807}}", "group_size = 9223372036854775807"},
        {"mode_unknown", "{\"quantization\":{\"mode\":\"int4\"}}", "mode 'int4'"},
        {"mode_not_string", "{\"quantization\":{\"mode\":1}}", "mode is an integer"},
        {"mxfp4_group_64", "{\"quantization\":{\"mode\":\"mxfp4\",\"group_size\":64}}", "mxfp4 needs bits 4 and group_size 32"},
        {"nvfp4_bits_8", "{\"quantization\":{\"mode\":\"nvfp4\",\"bits\":8}}", "nvfp4 needs"},
        {"override_bad_bits", "{\"quantization\":{\"a.b\":{\"bits\":9}}}", "quantization['a.b'].bits = 9"},
        {"override_bad_group", "{\"quantization\":{\"a.b\":{\"group_size\":100}}}", "quantization['a.b']"},
        {"quantization_not_object", "{\"quantization\":4}", "quantization is an integer"},
        {"document_array", "[]", "not an object"},
        {"bad_json", "{\"quantization\":{", "JSON"},
        {"duplicate_key", "{\"quantization\":{\"bits\":4,\"bits\":8}}", "duplicate"},
        {"per_tensor_not_object", "{\"quantization\":{\"per_tensor\":[]}}", "per_tensor is an array"},
        {"per_tensor_entry_not_object", "{\"quantization\":{\"per_tensor\":{\"x\":4}}}", "per_tensor"},
        {"empty_module_name", "{\"quantization\":{\"\":{\"bits\":4}}}", "empty module name"},
        {"not_utf8", "{\"quantization\":{\"\xff\":{}}}", "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "mlxq/config_bad/%s", bad[i].name);
        c = (mlxn_mlxq_config *)(uintptr_t)1;
        s = mlxn_mlxq_config_parse(bad[i].json, strlen(bad[i].json), 1, "cfg.json", &c);
        const char *msg = mlxn_last_error();
        report_case(rep, name, s == MLXN_ERR_FORMAT && !c && !strncmp(msg, "cfg.json: ", 10) && strstr(msg, bad[i].expect),
                    "status %s: '%s', expected '%s'", mlxn_status_str(s), msg, bad[i].expect);
        if (s == MLXN_OK) mlxn_mlxq_config_free(c);
    }
}

/* A model folder: config.json + one safetensors file with quantized groups. */
static void test_mlx_group(report_t *rep) {
    /* K = 256: 4-bit -> 32 words, group 64 -> 4 scales; 8-bit group 32 -> 64 words, 8 scales */
    tsp ts[] = {
        {"model.layers.0.mlp.up_proj.weight", "U32", 2, {16, 32}},
        {"model.layers.0.mlp.up_proj.scales", "BF16", 2, {16, 4}},
        {"model.layers.0.mlp.up_proj.biases", "BF16", 2, {16, 4}},
        {"model.layers.0.mlp.down_proj.weight", "U32", 2, {16, 64}},
        {"model.layers.0.mlp.down_proj.scales", "F16", 2, {16, 8}},
        {"model.layers.0.mlp.down_proj.biases", "F16", 2, {16, 8}},
        {"model.layers.0.mlp.experts", "U32", 3, {4, 8, 16}},       /* mxfp4, no .weight suffix: K = 128 */
        {"model.layers.0.mlp.experts.scales", "U8", 3, {4, 8, 4}},
        {"model.norm.weight", "BF16", 1, {256}},
        {"lm_head.weight", "BF16", 2, {8, 256}},
    };
    size_t size;
    uint8_t *f = build(ts, (int)(sizeof ts / sizeof ts[0]), NULL, &size);
    write_file(tmp_path("mlxmodel", "model.safetensors"), f, size);
    free(f);
    const char *cfg = "{\"quantization\":{\"group_size\":64,\"bits\":4,"
                      "\"model.layers.0.mlp.down_proj\":{\"group_size\":32,\"bits\":8},"
                      "\"model.layers.0.mlp.experts\":{\"mode\":\"mxfp4\"},\"lm_head\":false}}";
    const char *cpath = tmp_path("mlxmodel", "config.json");
    write_file(cpath, cfg, strlen(cfg));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/mlxmodel", g_tmp);
    mlxn_safetensors *st = NULL;
    mlxn_mlxq_config *c = NULL;
    mlxn_mlxq_list *l = NULL;
    const char *why = NULL;
    if (mlxn_safetensors_open(dir, &st)) why = mlxn_last_error();
    else if (mlxn_mlxq_config_load(mlxn_safetensors_dir(st), &c)) why = mlxn_last_error();
    else if (mlxn_mlxq_group(st, c, &l)) why = mlxn_last_error();
    else if (mlxn_mlxq_list_count(l) != 3) why = "group count";
    else {
        static const struct { const char *base; int bits, group; mlxn_mlxq_mode mode; int ndim; int64_t shape[3]; int biases; } want[] = {
            {"model.layers.0.mlp.up_proj", 4, 64, MLXN_MLXQ_AFFINE, 2, {16, 256}, 1},
            {"model.layers.0.mlp.down_proj", 8, 32, MLXN_MLXQ_AFFINE, 2, {16, 256}, 1},
            {"model.layers.0.mlp.experts", 4, 32, MLXN_MLXQ_MXFP4, 3, {4, 8, 128}, 0},
        };
        for (int i = 0; i < 3 && !why; i++) {
            mlxn_mlxq_tensor q;
            int found = 0;
            for (int64_t k = 0; k < 3; k++) {
                if (mlxn_mlxq_list_get(l, k, &q) || strcmp(q.name, want[i].base)) continue;
                found = 1;
                bool ok = q.params.bits == want[i].bits && q.params.group_size == want[i].group &&
                          q.params.mode == want[i].mode && q.ndim == want[i].ndim && (q.biases >= 0) == want[i].biases;
                for (int d = 0; d < q.ndim; d++) ok = ok && q.shape[d] == want[i].shape[d];
                mlxn_st_tensor t;
                ok = ok && !mlxn_safetensors_tensor_info(st, q.scales, &t) && strstr(t.name, ".scales") &&
                     mlxn_mlxq_list_find_tensor(l, q.weight) == k && mlxn_mlxq_list_find_tensor(l, q.scales) == k;
                if (!ok) why = want[i].base;
            }
            if (!found) why = "group missing";
        }
        int64_t norm = mlxn_safetensors_find_tensor(st, "model.norm.weight");
        if (!why && mlxn_mlxq_list_find_tensor(l, norm) != -1) why = "unquantized tensor grouped";
        mlxn_mlxq_tensor q;
        if (!why && mlxn_mlxq_list_get(l, 3, &q) != MLXN_ERR_INVALID_ARGUMENT) why = "list range";
    }
    report_case(rep, "mlxq/group/model", !why, "%s", why ? why : "");
    mlxn_mlxq_list_free(l);
    l = NULL;
    mlxn_safetensors_close(st);
    st = NULL;
    /* config_load: quantization_config.json when config.json has none; NOT_FOUND when neither */
    {
        const char *c2 = "{\"model_type\":\"x\"}", *q2 = "{\"bits\":8,\"group_size\":128}";
        write_file(tmp_path("cfg2", "config.json"), c2, strlen(c2));
        char d2[600];
        snprintf(d2, sizeof d2, "%s/cfg2", g_tmp);
        mlxn_mlxq_config *c3 = NULL;
        mlxn_status s = mlxn_mlxq_config_load(d2, &c3);
        bool ok = s == MLXN_ERR_NOT_FOUND && !c3;
        write_file(tmp_path("cfg2", "quantization_config.json"), q2, strlen(q2));
        s = mlxn_mlxq_config_load(d2, &c3);
        ok = ok && s == MLXN_OK && params_are(mlxn_mlxq_config_defaults(c3), 1, 8, 128, MLXN_MLXQ_AFFINE) &&
             strstr(mlxn_mlxq_config_source(c3), "quantization_config.json");
        mlxn_mlxq_config_free(c3);
        c3 = NULL;
        s = mlxn_mlxq_config_load("/nonexistent-dir", &c3);
        ok = ok && s == MLXN_ERR_NOT_FOUND;
        report_case(rep, "mlxq/config_load/fallback", ok, "%s", mlxn_last_error());
    }
    /* grouping errors */
    static const struct { const char *name; tsp t[3]; int n; const char *expect; } bad[] = {
        {"weight_not_u32", {{"a.weight", "F32", 2, {2, 32}}, {"a.scales", "BF16", 2, {2, 4}}, {"a.biases", "BF16", 2, {2, 4}}}, 3, "is F32, not U32"},
        {"words_mismatch", {{"a.weight", "U32", 2, {2, 31}}, {"a.scales", "BF16", 2, {2, 4}}, {"a.biases", "BF16", 2, {2, 4}}}, 3, "31 packed words"},
        {"scales_mismatch", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 2, {2, 5}}, {"a.biases", "BF16", 2, {2, 5}}}, 3, "need 320"},
        {"rows_mismatch", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 2, {3, 4}}, {"a.biases", "BF16", 2, {3, 4}}}, 3, "differ in dim 0"},
        {"rank_mismatch", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 1, {4}}, {"a.biases", "BF16", 1, {4}}}, 3, "differ in rank"},
        {"no_biases", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 2, {2, 4}}}, 2, "needs 'a.biases'"},
        {"biases_dtype", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 2, {2, 4}}, {"a.biases", "F16", 2, {2, 4}}}, 3, "biases (F16"},
        {"biases_shape", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "BF16", 2, {2, 4}}, {"a.biases", "BF16", 2, {2, 3}}}, 3, "differ from scales"},
        {"scales_u8_affine", {{"a.weight", "U32", 2, {2, 32}}, {"a.scales", "U8", 2, {2, 4}}, {"a.biases", "U8", 2, {2, 4}}}, 3, "mode affine needs"},
        {"no_weight", {{"a.scales", "BF16", 2, {2, 4}}, {"a.biases", "BF16", 2, {2, 4}}}, 2, "has no weight"},
        {"orphan_biases", {{"b.biases", "BF16", 2, {2, 4}}}, 1, "'b.biases' has no '.scales'"},
        {"unquantized_with_scales", {{"lm_head.weight", "U32", 2, {2, 32}}, {"lm_head.scales", "BF16", 2, {2, 4}}, {"lm_head.biases", "BF16", 2, {2, 4}}}, 3, "marks it unquantized"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "mlxq/group_bad/%s", bad[i].name);
        f = build(bad[i].t, bad[i].n, NULL, &size);
        l = (mlxn_mlxq_list *)(uintptr_t)1;
        mlxn_status s = mlxn_safetensors_open_memory(f, size, &st);
        if (!s) s = mlxn_mlxq_group(st, c, &l);
        const char *msg = mlxn_last_error();
        report_case(rep, name, s == MLXN_ERR_FORMAT && !l && strstr(msg, bad[i].expect), "status %s: '%s', expected '%s'",
                    mlxn_status_str(s), msg, bad[i].expect);
        if (s == MLXN_OK) mlxn_mlxq_list_free(l);
        mlxn_safetensors_close(st);
        st = NULL;
        free(f);
    }
    mlxn_mlxq_config_free(c);
}

/* ---- device loading ------------------------------------------------------------------ */

typedef struct { uint64_t last, total; int calls, starts, ends, monotonic; } prog_t;
static void on_progress(void *user, uint64_t done, uint64_t total, const char *tensor) {
    prog_t *p = user;
    if (done < p->last) p->monotonic = 0;
    p->last = done;
    p->total = total;
    p->calls++;
    if (!tensor && done == 0) p->starts++;
    if (!tensor && done == total && p->calls > 1) p->ends++;
}

static bool buffer_equals(const mlxn_buffer *b, const void *data, size_t n) {
    if (!b || mlxn_buffer_nbytes(b) != n) return false;
    uint8_t *h = malloc(n ? n : 1);
    bool ok = !mlxn_buffer_read(b, h, n) && !memcmp(h, data, n);
    free(h);
    return ok;
}

static void test_load_safetensors(const test_env *env, report_t *rep) {
    char name[200];
    /* every dtype, plus sizes that span several 4 KiB staging chunks and many tiny tensors */
    tsp ts[MLXN_ST_DTYPE_COUNT + 40];
    int n = 0;
    static char names[MLXN_ST_DTYPE_COUNT + 40][40];
    for (int t = 0; t < MLXN_ST_DTYPE_COUNT; t++) {
        snprintf(names[n], sizeof names[n], "d.%s", mlxn_st_dtype_name((mlxn_st_dtype)t));
        ts[n] = (tsp){names[n], mlxn_st_dtype_name((mlxn_st_dtype)t), 2, {5, 8}};
        n++;
    }
    ts[n++] = (tsp){"big.a", "F32", 2, {37, 301}};   /* 44548 bytes: 11 chunks of 4 KiB */
    ts[n++] = (tsp){"empty", "F16", 1, {0}};
    ts[n++] = (tsp){"scalar", "BF16", 0, {0}};
    for (int k = 0; k < 30; k++) {
        snprintf(names[n], sizeof names[n], "tiny.%d", k);
        ts[n] = (tsp){names[n], k % 2 ? "U8" : "F16", 1, {1 + k % 5}};
        n++;
    }
    ts[n++] = (tsp){"big.b", "BF16", 3, {3, 33, 129}};
    ts[n++] = (tsp){"big.c", "F32", 2, {1001, 777}}; /* 3.1 MB: several 2 MiB host-copy blocks */
    size_t size;
    uint8_t *f = build(ts, n, NULL, &size);
    mlxn_safetensors *st = NULL;
    if (mlxn_safetensors_open_memory(f, size, &st)) {
        report_case(rep, "load/safetensors/open", false, "%s", mlxn_last_error());
        free(f);
        return;
    }
    /* one tensor at a time */
    int bad = 0;
    for (int64_t i = 0; i < mlxn_safetensors_tensor_count(st); i++) {
        mlxn_st_tensor t;
        mlxn_safetensors_tensor_info(st, i, &t);
        mlxn_buffer *b = NULL;
        mlxn_status s = mlxn_safetensors_load_tensor(env->dev, st, i, &b);
        bool ok;
        if (t.nelements == 0) ok = s == MLXN_ERR_UNSUPPORTED && !b && strstr(mlxn_last_error(), t.name);
        else {
            mlxn_dtype want;
            int mapped = mlxn_st_dtype_to_mlxn(t.dtype, &want);
            ok = s == MLXN_OK && buffer_equals(b, t.data, (size_t)t.nbytes) &&
                 mlxn_buffer_dtype(b) == (mapped ? want : MLXN_U8) && mlxn_buffer_ndim(b) == (mapped ? t.ndim : 1);
            for (int d = 0; ok && mapped && d < t.ndim; d++) ok = mlxn_buffer_shape(b)[d] == t.shape[d];
        }
        if (!ok) {
            bad++;
            printf("  load_tensor %s (%s): %s\n", t.name, mlxn_st_dtype_name(t.dtype), mlxn_last_error());
        }
        mlxn_buffer_free(b);
    }
    report_case(rep, "load/safetensors/each_tensor", bad == 0, "%d tensors wrong", bad);
    /* the whole file, with several staging configurations */
    /* on the CPU also through the staging code with deferred copies (load.c's
       emulation), which the CPU backend does not use otherwise */
    static const struct { size_t chunk; int k; } cfgs[] = {{0, 0}, {4096, 2}, {4096, 3}, {5000, 8}, {1 << 20, 2}};
    int n_modes = strcmp(env->backend, "cpu") ? 1 : 2;
    for (size_t c = 0; c < n_modes * (sizeof cfgs / sizeof cfgs[0]); c++) {
        int emu = c >= sizeof cfgs / sizeof cfgs[0];
        if (emu) setenv("MLXN_LOAD_EMULATE_STAGING", "1", 1);
        int64_t nt = mlxn_safetensors_tensor_count(st);
        mlxn_buffer **bufs = calloc((size_t)nt, sizeof *bufs);
        prog_t pr = {0, 0, 0, 0, 0, 1};
        mlxn_load_options opt = {cfgs[c % 5].chunk, cfgs[c % 5].k, on_progress, &pr};
        mlxn_status s = mlxn_safetensors_load_all(env->dev, st, &opt, bufs);
        unsetenv("MLXN_LOAD_EMULATE_STAGING");
        bool ok = s == MLXN_OK;
        for (int64_t i = 0; ok && i < nt; i++) {
            mlxn_st_tensor t;
            mlxn_safetensors_tensor_info(st, i, &t);
            ok = t.nelements == 0 ? bufs[i] == NULL : buffer_equals(bufs[i], t.data, (size_t)t.nbytes);
        }
        ok = ok && pr.monotonic && pr.starts == 1 && pr.ends == 1 && pr.last == mlxn_safetensors_total_bytes(st) &&
             pr.total == pr.last && pr.calls == (int)nt + 1; /* start, nt - 1 non-empty, end */
        snprintf(name, sizeof name, "load/safetensors/all%s/chunk%zu.k%d", emu ? "_emulated_staging" : "",
                 cfgs[c % 5].chunk, cfgs[c % 5].k);
        report_case(rep, name, ok, "status %s (%s), progress calls %d starts %d ends %d last %llu", mlxn_status_str(s),
                    mlxn_last_error(), pr.calls, pr.starts, pr.ends, (unsigned long long)pr.last);
        for (int64_t i = 0; i < nt; i++) mlxn_buffer_free(bufs[i]);
        free(bufs);
    }
    /* argument errors */
    mlxn_buffer *b = NULL;
    bool ok = mlxn_safetensors_load_tensor(NULL, st, 0, &b) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_safetensors_load_tensor(env->dev, NULL, 0, &b) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_safetensors_load_tensor(env->dev, st, 0, NULL) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_safetensors_load_tensor(env->dev, st, 1000, &b) == MLXN_ERR_INVALID_ARGUMENT && !b &&
              mlxn_safetensors_load_all(env->dev, st, NULL, NULL) == MLXN_ERR_INVALID_ARGUMENT;
    report_case(rep, "load/safetensors/argument_errors", ok, "%s", mlxn_last_error());
    mlxn_safetensors_close(st);
    free(f);
}

static void test_load_gguf(const test_env *env, report_t *rep) {
    mlxn_gguf_writer *w = NULL;
    mlxn_gguf_writer_new(&w);
    static const struct { const char *name; mlxn_ggml_type type; int ndim; int64_t ne[4]; mlxn_dtype dt; } ts[] = {
        {"a.f32", MLXN_GGML_F32, 2, {7, 3}, MLXN_F32},     {"b.f16", MLXN_GGML_F16, 3, {5, 2, 2}, MLXN_F16},
        {"c.bf16", MLXN_GGML_BF16, 1, {9}, MLXN_BF16},     {"d.q4_0", MLXN_GGML_Q4_0, 2, {64, 3}, MLXN_U8},
        {"e.i32", MLXN_GGML_I32, 1, {1000}, MLXN_I32},     {"f.q6_k", MLXN_GGML_Q6_K, 1, {512}, MLXN_U8},
        {"g.i8", MLXN_GGML_I8, 4, {3, 2, 2, 2}, MLXN_I8},  {"h.f64", MLXN_GGML_F64, 1, {3}, MLXN_U8},
    };
    enum { NT = sizeof ts / sizeof ts[0] };
    uint8_t *datas[NT];
    for (int i = 0; i < NT; i++) {
        int64_t nel = 1;
        for (int d = 0; d < ts[i].ndim; d++) nel *= ts[i].ne[d];
        uint64_t nb = (uint64_t)(nel / mlxn_ggml_block_size(ts[i].type) * mlxn_ggml_type_size(ts[i].type));
        datas[i] = malloc(nb);
        for (uint64_t k = 0; k < nb; k++) datas[i][k] = pattern(k, (size_t)i);
        mlxn_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].ndim, ts[i].ne, datas[i], nb);
    }
    void *buf = NULL;
    size_t size = 0;
    mlxn_gguf *g = NULL;
    if (mlxn_gguf_writer_write_memory(w, &buf, &size) || mlxn_gguf_open_memory(buf, size, &g)) {
        report_case(rep, "load/gguf/open", false, "%s", mlxn_last_error());
    } else {
        int bad = 0;
        for (int i = 0; i < NT; i++) {
            mlxn_gguf_tensor t;
            mlxn_gguf_tensor_info(g, i, &t);
            mlxn_buffer *b = NULL;
            mlxn_status s = mlxn_gguf_load_tensor(env->dev, g, i, &b);
            bool ok = s == MLXN_OK && buffer_equals(b, datas[i], (size_t)t.nbytes) && mlxn_buffer_dtype(b) == ts[i].dt;
            if (ok && ts[i].dt != MLXN_U8) { /* ne reversed: outermost first */
                ok = mlxn_buffer_ndim(b) == ts[i].ndim;
                for (int d = 0; ok && d < ts[i].ndim; d++) ok = mlxn_buffer_shape(b)[d] == ts[i].ne[ts[i].ndim - 1 - d];
            }
            if (!ok) { bad++; printf("  gguf load %s: %s\n", ts[i].name, mlxn_last_error()); }
            mlxn_buffer_free(b);
        }
        report_case(rep, "load/gguf/each_tensor", bad == 0, "%d wrong", bad);
        for (int emu = 0; emu < (strcmp(env->backend, "cpu") ? 1 : 2); emu++) {
            mlxn_buffer *bufs[NT] = {0};
            prog_t pr = {0, 0, 0, 0, 0, 1};
            mlxn_load_options opt = {4096, 2, on_progress, &pr};
            if (emu) setenv("MLXN_LOAD_EMULATE_STAGING", "1", 1);
            mlxn_status s = mlxn_gguf_load_all(env->dev, g, &opt, bufs);
            unsetenv("MLXN_LOAD_EMULATE_STAGING");
            bool ok = s == MLXN_OK && pr.monotonic && pr.ends == 1;
            for (int i = 0; ok && i < NT; i++) {
                mlxn_gguf_tensor t;
                mlxn_gguf_tensor_info(g, i, &t);
                ok = buffer_equals(bufs[i], datas[i], (size_t)t.nbytes);
            }
            report_case(rep, emu ? "load/gguf/all_emulated_staging" : "load/gguf/all", ok, "status %s: %s",
                        mlxn_status_str(s), mlxn_last_error());
            for (int i = 0; i < NT; i++) mlxn_buffer_free(bufs[i]);
        }
    }
    mlxn_gguf_close(g);
    mlxn_gguf_buffer_free(buf);
    mlxn_gguf_writer_free(w);
    for (int i = 0; i < NT; i++) free(datas[i]);
}

static void test_h2d_rate(const test_env *env, report_t *rep) {
    double gbps = 0;
    mlxn_status s = mlxn_load_h2d_rate(env->dev, (size_t)8 << 20, &gbps);
    report_case(rep, "load/h2d_rate", s == MLXN_OK && gbps > 0.01, "status %s (%s), %.3f GB/s", mlxn_status_str(s),
                mlxn_last_error(), gbps);
    if (rep->verbose) printf("  h2d rate (8 MiB): %.2f GB/s\n", gbps);
    report_case(rep, "load/h2d_rate/args", mlxn_load_h2d_rate(NULL, 0, &gbps) == MLXN_ERR_INVALID_ARGUMENT &&
                                                  mlxn_load_h2d_rate(env->dev, 0, NULL) == MLXN_ERR_INVALID_ARGUMENT,
                "%s", mlxn_last_error());
}

static void suite(const test_env *env, report_t *rep, void *user) {
    (void)user;
    if (!strcmp(env->backend, "cpu")) { /* host-only parts: once */
        test_dtypes_table(rep);
        test_roundtrip(rep);
        test_sharded(rep);
        test_corrupt(rep);
        test_mlx_config(rep);
        test_mlx_group(rep);
    }
    test_load_safetensors(env, rep);
    test_load_gguf(env, rep);
    test_h2d_rate(env, rep);
}

int main(int argc, char **argv) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mlxn_test_st_%d", (int)getpid());
    if (mkdir(g_tmp, 0700) && errno != EEXIST) {
        perror(g_tmp);
        return 1;
    }
    int rc = run_suite(argc, argv, "test_safetensors", suite, NULL);
    /* remove the temp tree (one level of sub-folders) */
    DIR *d = opendir(g_tmp);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                if (snprintf(p, sizeof p, "%s/%s", g_tmp, e->d_name) < (int)sizeof p) rm_tree(p);
            }
        closedir(d);
    }
    rmdir(g_tmp);
    return rc;
}
