/* test_gguf.c — the GGUF reader and writer: round trips through the writer and
   reader (every metadata type, nested arrays, tensors of several types,
   alignments 32 and 64, v2 and v3 headers, memory and file), and the
   corrupt-file suite of style-and-reliability.md §2.6: each mutation of a
   valid file must fail with MLXN_ERR_FORMAT and a message naming the field,
   and nothing may crash (this test runs under ASan + UBSan in `make test`).
   Host-only: needs no device. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mlxn.h"

/* ---- a byte builder for hand-made files ------------------------------------ */
typedef struct { uint8_t *b; size_t n, cap; } bb_t;
static size_t put(bb_t *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->b = realloc(b->b, b->cap);
        if (!b->b) abort();
    }
    memcpy(b->b + b->n, p, n);
    size_t at = b->n;
    b->n += n;
    return at;
}
static size_t put_u32(bb_t *b, uint32_t v) { return put(b, &v, 4); }
static size_t put_u64(bb_t *b, uint64_t v) { return put(b, &v, 8); }
static size_t put_str(bb_t *b, const char *s) { size_t at = put_u64(b, strlen(s)); put(b, s, strlen(s)); return at; }
static void put_zeros(bb_t *b, size_t n) { while (n--) { uint8_t z = 0; put(b, &z, 1); } }
static void pad(bb_t *b, size_t a) { put_zeros(b, (a - b->n % a) % a); }

/* Accessor walk: touches every KV, array element (recursively) and tensor
   byte range; returns a checksum so nothing is optimized away. */
static uint64_t walk_value(const mlxn_gguf *g, mlxn_gguf_value v, int depth) {
    uint64_t h = (uint64_t)mlxn_gguf_value_type(g, v), u;
    int64_t i;
    double f;
    int bo;
    const char *s;
    uint64_t len;
    mlxn_gguf_type et;
    if (!mlxn_gguf_value_u64(g, v, &u)) h += u;
    if (!mlxn_gguf_value_i64(g, v, &i)) h += (uint64_t)i;
    if (!mlxn_gguf_value_f64(g, v, &f)) h += (uint64_t)(f == f);
    if (!mlxn_gguf_value_bool(g, v, &bo)) h += (uint64_t)bo;
    if (!mlxn_gguf_value_str(g, v, &s, &len)) for (uint64_t k = 0; k < len; k++) h = h * 31 + (uint8_t)s[k];
    if (!mlxn_gguf_value_array(g, v, &et, &len)) {
        uint64_t n = len < 64 ? len : 64;
        for (uint64_t k = 0; k < n; k++) {
            mlxn_gguf_value e;
            if (!mlxn_gguf_value_elem(g, v, k, &e)) h += walk_value(g, e, depth + 1);
        }
        mlxn_gguf_value e;
        if (len && !mlxn_gguf_value_elem(g, v, len - 1, &e)) h += walk_value(g, e, depth + 1);
        if (!mlxn_gguf_value_elem(g, v, len, &e)) h += 1000; /* must fail */
    }
    return h;
}
static uint64_t walk(const mlxn_gguf *g) {
    uint64_t h = mlxn_gguf_version(g) + mlxn_gguf_alignment(g);
    for (int64_t i = 0; i < mlxn_gguf_kv_count(g); i++) {
        const char *k = mlxn_gguf_kv_key(g, i);
        h += (uint64_t)mlxn_gguf_find_kv(g, k) + (uint64_t)mlxn_gguf_kv_type(g, i);
        h += walk_value(g, mlxn_gguf_kv_value(g, i), 0);
    }
    for (int64_t i = 0; i < mlxn_gguf_tensor_count(g); i++) {
        mlxn_gguf_tensor t;
        if (mlxn_gguf_tensor_info(g, i, &t)) continue;
        h += (uint64_t)mlxn_gguf_find_tensor(g, t.name);
        const uint8_t *p = t.data;
        if (t.nbytes) h += p[0] + p[t.nbytes - 1];
    }
    return h;
}

/* ---- round trip ---------------------------------------------------------------- */
typedef struct { const char *name; mlxn_ggml_type type; int ndim; int64_t ne[4]; } tspec;
static const tspec k_tensors[] = {
    {"tok_embd.weight", MLXN_GGML_F32, 2, {7, 3, 1, 1}},
    {"blk.0.attn_norm.weight", MLXN_GGML_F16, 1, {5, 1, 1, 1}},
    {"blk.0.attn_q.weight", MLXN_GGML_Q4_0, 2, {64, 2, 1, 1}},
    {"blk.0.ffn_up.weight", MLXN_GGML_Q8_0, 1, {32, 1, 1, 1}},
    {"blk.0.x4d", MLXN_GGML_BF16, 4, {3, 2, 2, 1}},
    {"blk.0.ids", MLXN_GGML_I32, 1, {10, 1, 1, 1}},
    {"blk.0.ffn_down.weight", MLXN_GGML_Q4_K, 2, {256, 3, 1, 1}},
    {"blk.0.iq", MLXN_GGML_IQ2_XXS, 1, {256, 1, 1, 1}},
    {"output.weight", MLXN_GGML_Q6_K, 1, {512, 1, 1, 1}},
};
#define N_T (sizeof k_tensors / sizeof k_tensors[0])

static uint64_t tsize(const tspec *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->ne[d];
    return (uint64_t)(n / mlxn_ggml_block_size(t->type) * mlxn_ggml_type_size(t->type));
}

static const uint8_t au8[] = {1, 2, 255};
static const int8_t ai8[] = {-128, 0, 127};
static const uint16_t au16[] = {0, 65535};
static const int16_t ai16[] = {-32768, 32767};
static const uint32_t au32[] = {1u, 4000000000u};
static const int32_t ai32[] = {-5, 2147483647};
static const float af32[] = {1.5f, -0.0f, 3e38f};
static const uint8_t abool[] = {1, 0, 1};
static const uint64_t au64[] = {UINT64_MAX, 0};
static const int64_t ai64[] = {INT64_MIN, 7};
static const double af64[] = {3.141592653589793, -1e300};
static const char *const astr[] = {"<s>", "", "h\xc3\xa9llo", "</s>"};

static mlxn_gguf_writer *make_writer(uint32_t align, uint8_t **datas) {
    mlxn_gguf_writer *w;
    if (mlxn_gguf_writer_new(&w)) return NULL;
    int bad = 0;
    if (align != 32) bad |= mlxn_gguf_writer_set_alignment(w, align);
    bad |= mlxn_gguf_writer_set_str(w, "general.architecture", "llama", 5);
    bad |= mlxn_gguf_writer_set_u8(w, "t.u8", 200);
    bad |= mlxn_gguf_writer_set_i8(w, "t.i8", -100);
    bad |= mlxn_gguf_writer_set_u16(w, "t.u16", 60000);
    bad |= mlxn_gguf_writer_set_i16(w, "t.i16", -30000);
    bad |= mlxn_gguf_writer_set_u32(w, "t.u32", 4000000000u);
    bad |= mlxn_gguf_writer_set_i32(w, "t.i32", -2000000000);
    bad |= mlxn_gguf_writer_set_u64(w, "t.u64", UINT64_MAX);
    bad |= mlxn_gguf_writer_set_i64(w, "t.i64", INT64_MIN);
    bad |= mlxn_gguf_writer_set_f32(w, "t.f32", 0.25f);
    bad |= mlxn_gguf_writer_set_f64(w, "t.f64", -1.0 / 3.0);
    bad |= mlxn_gguf_writer_set_bool(w, "t.bool", 1);
    bad |= mlxn_gguf_writer_set_str(w, "t.str.bin", "a\0b\xff", 4);
    bad |= mlxn_gguf_writer_set_str(w, "t.str.empty", "", 0);
    bad |= mlxn_gguf_writer_set_array(w, "a.u8", MLXN_GGUF_U8, au8, 3);
    bad |= mlxn_gguf_writer_set_array(w, "a.i8", MLXN_GGUF_I8, ai8, 3);
    bad |= mlxn_gguf_writer_set_array(w, "a.u16", MLXN_GGUF_U16, au16, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.i16", MLXN_GGUF_I16, ai16, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.u32", MLXN_GGUF_U32, au32, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.i32", MLXN_GGUF_I32, ai32, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.f32", MLXN_GGUF_F32, af32, 3);
    bad |= mlxn_gguf_writer_set_array(w, "a.bool", MLXN_GGUF_BOOL, abool, 3);
    bad |= mlxn_gguf_writer_set_array(w, "a.u64", MLXN_GGUF_U64, au64, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.i64", MLXN_GGUF_I64, ai64, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.f64", MLXN_GGUF_F64, af64, 2);
    bad |= mlxn_gguf_writer_set_array(w, "a.empty", MLXN_GGUF_F32, NULL, 0);
    bad |= mlxn_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens", astr, 4);
    bad |= mlxn_gguf_writer_set_u32(w, "t.replaced", 1);
    bad |= mlxn_gguf_writer_set_u32(w, "t.replaced", 2); /* replaces in place */
    for (size_t i = 0; i < N_T; i++) {
        uint64_t n = tsize(&k_tensors[i]);
        datas[i] = malloc(n);
        for (uint64_t k = 0; k < n; k++) datas[i][k] = (uint8_t)(k * 7 + i * 13 + 1);
        bad |= mlxn_gguf_writer_add_tensor(w, k_tensors[i].name, k_tensors[i].type, k_tensors[i].ndim,
                                           k_tensors[i].ne, datas[i], n);
    }
    if (bad) { fprintf(stderr, "writer setup: %s\n", mlxn_last_error()); mlxn_gguf_writer_free(w); return NULL; }
    return w;
}

/* Checks everything make_writer stored; returns a failure description or NULL. */
static const char *check_file(const mlxn_gguf *g, uint32_t align, uint32_t version, uint8_t *const *datas) {
    static char why[256];
    uint64_t u;
    int64_t i;
    double f;
    int b;
    const char *s;
    uint64_t len;
    mlxn_gguf_type et;
    if (mlxn_gguf_version(g) != version) return "version";
    if (mlxn_gguf_alignment(g) != align) return "alignment";
    if (mlxn_gguf_kv_count(g) != 28 + (align != 32)) return "kv count";
    if (mlxn_gguf_get_str(g, "general.architecture", &s, &len) || len != 5 || memcmp(s, "llama", 5)) return "arch";
    if (mlxn_gguf_get_u64(g, "t.u8", &u) || u != 200) return "u8";
    if (mlxn_gguf_get_i64(g, "t.i8", &i) || i != -100) return "i8";
    if (mlxn_gguf_get_u64(g, "t.u16", &u) || u != 60000) return "u16";
    if (mlxn_gguf_get_i64(g, "t.i16", &i) || i != -30000) return "i16";
    if (mlxn_gguf_get_u64(g, "t.u32", &u) || u != 4000000000u) return "u32";
    if (mlxn_gguf_get_i64(g, "t.i32", &i) || i != -2000000000) return "i32";
    if (mlxn_gguf_get_u64(g, "t.u64", &u) || u != UINT64_MAX) return "u64";
    if (mlxn_gguf_get_i64(g, "t.i64", &i) || i != INT64_MIN) return "i64";
    if (mlxn_gguf_get_f64(g, "t.f32", &f) || f != 0.25) return "f32";
    if (mlxn_gguf_get_f64(g, "t.f64", &f) || f != -1.0 / 3.0) return "f64";
    if (mlxn_gguf_get_bool(g, "t.bool", &b) || b != 1) return "bool";
    if (mlxn_gguf_get_str(g, "t.str.bin", &s, &len) || len != 4 || memcmp(s, "a\0b\xff", 4)) return "binary str";
    if (mlxn_gguf_get_str(g, "t.str.empty", &s, &len) || len != 0) return "empty str";
    if (mlxn_gguf_get_u64(g, "t.replaced", &u) || u != 2) return "replaced";
    /* conversions that must fail */
    if (mlxn_gguf_get_i64(g, "t.u64", &i) != MLXN_ERR_INVALID_ARGUMENT) return "u64 -> i64 must fail";
    if (mlxn_gguf_get_u64(g, "t.i8", &u) != MLXN_ERR_INVALID_ARGUMENT) return "negative -> u64 must fail";
    if (mlxn_gguf_get_f64(g, "t.u8", &f) != MLXN_ERR_INVALID_ARGUMENT || !strstr(mlxn_last_error(), "t.u8") ||
        !strstr(mlxn_last_error(), "u8"))
        return "wrong type message";
    if (mlxn_gguf_get_str(g, "t.bool", &s, &len) != MLXN_ERR_INVALID_ARGUMENT) return "bool -> str must fail";
    if (mlxn_gguf_get_u64(g, "no.such.key", &u) != MLXN_ERR_NOT_FOUND || !strstr(mlxn_last_error(), "no.such.key"))
        return "missing key";
    if (mlxn_gguf_find_kv(g, "no.such") != -1 || mlxn_gguf_find_kv(g, NULL) != -1) return "find_kv missing";
    if (mlxn_gguf_kv_key(g, -1) || mlxn_gguf_kv_key(g, 1000) || mlxn_gguf_kv_type(g, 1000) != MLXN_GGUF_INVALID)
        return "kv index range";
    /* arrays */
    struct { const char *k; mlxn_gguf_type t; uint64_t n; const void *v; } arr[] = {
        {"a.u8", MLXN_GGUF_U8, 3, au8},    {"a.i8", MLXN_GGUF_I8, 3, ai8},     {"a.u16", MLXN_GGUF_U16, 2, au16},
        {"a.i16", MLXN_GGUF_I16, 2, ai16}, {"a.u32", MLXN_GGUF_U32, 2, au32},  {"a.i32", MLXN_GGUF_I32, 2, ai32},
        {"a.f32", MLXN_GGUF_F32, 3, af32}, {"a.bool", MLXN_GGUF_BOOL, 3, abool}, {"a.u64", MLXN_GGUF_U64, 2, au64},
        {"a.i64", MLXN_GGUF_I64, 2, ai64}, {"a.f64", MLXN_GGUF_F64, 2, af64},  {"a.empty", MLXN_GGUF_F32, 0, NULL},
    };
    for (size_t a = 0; a < sizeof arr / sizeof arr[0]; a++) {
        int64_t ki = mlxn_gguf_find_kv(g, arr[a].k);
        if (mlxn_gguf_kv_type(g, ki) != MLXN_GGUF_ARRAY) return "array type";
        if (mlxn_gguf_kv_array(g, ki, &et, &len) || et != arr[a].t || len != arr[a].n) return arr[a].k;
        mlxn_gguf_value v = mlxn_gguf_kv_value(g, ki), e;
        for (uint64_t k = 0; k < len; k++) {
            if (mlxn_gguf_value_elem(g, v, k, &e) || mlxn_gguf_value_type(g, e) != et) return arr[a].k;
            int ok = 0;
            switch (et) {
            case MLXN_GGUF_U8: ok = !mlxn_gguf_value_u64(g, e, &u) && u == au8[k]; break;
            case MLXN_GGUF_I8: ok = !mlxn_gguf_value_i64(g, e, &i) && i == ai8[k]; break;
            case MLXN_GGUF_U16: ok = !mlxn_gguf_value_u64(g, e, &u) && u == au16[k]; break;
            case MLXN_GGUF_I16: ok = !mlxn_gguf_value_i64(g, e, &i) && i == ai16[k]; break;
            case MLXN_GGUF_U32: ok = !mlxn_gguf_value_u64(g, e, &u) && u == au32[k]; break;
            case MLXN_GGUF_I32: ok = !mlxn_gguf_value_i64(g, e, &i) && i == ai32[k]; break;
            case MLXN_GGUF_F32: ok = !mlxn_gguf_value_f64(g, e, &f) && (float)f == af32[k] && !signbit(f) == !signbit(af32[k]); break;
            case MLXN_GGUF_BOOL: ok = !mlxn_gguf_value_bool(g, e, &b) && b == abool[k]; break;
            case MLXN_GGUF_U64: ok = !mlxn_gguf_value_u64(g, e, &u) && u == au64[k]; break;
            case MLXN_GGUF_I64: ok = !mlxn_gguf_value_i64(g, e, &i) && i == ai64[k]; break;
            case MLXN_GGUF_F64: ok = !mlxn_gguf_value_f64(g, e, &f) && f == af64[k]; break;
            default: break;
            }
            if (!ok) { snprintf(why, sizeof why, "%s[%llu]", arr[a].k, (unsigned long long)k); return why; }
        }
        if (mlxn_gguf_value_elem(g, v, len, &e) != MLXN_ERR_INVALID_ARGUMENT) return "elem out of range";
    }
    int64_t ti = mlxn_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (mlxn_gguf_kv_array(g, ti, &et, &len) || et != MLXN_GGUF_STRING || len != 4) return "tokens";
    for (uint64_t k = 0; k < 4; k++) {
        mlxn_gguf_value e;
        if (mlxn_gguf_value_elem(g, mlxn_gguf_kv_value(g, ti), k, &e) || mlxn_gguf_value_str(g, e, &s, &len) ||
            len != strlen(astr[k]) || memcmp(s, astr[k], len))
            return "token string";
    }
    /* tensors */
    if (mlxn_gguf_tensor_count(g) != (int64_t)N_T) return "tensor count";
    for (size_t k = 0; k < N_T; k++) {
        mlxn_gguf_tensor t;
        int64_t idx = mlxn_gguf_find_tensor(g, k_tensors[k].name);
        if (idx != (int64_t)k || mlxn_gguf_tensor_info(g, idx, &t)) return "find tensor";
        if (strcmp(t.name, k_tensors[k].name) || t.type != k_tensors[k].type || t.ndim != k_tensors[k].ndim ||
            memcmp(t.ne, k_tensors[k].ne, sizeof t.ne) || t.nbytes != tsize(&k_tensors[k]))
            { snprintf(why, sizeof why, "tensor %s info", k_tensors[k].name); return why; }
        if (t.offset % align || (t.offset - mlxn_gguf_data_offset(g)) % align) return "tensor offset alignment";
        if (memcmp(t.data, datas[k], t.nbytes)) { snprintf(why, sizeof why, "tensor %s bytes", t.name); return why; }
    }
    mlxn_gguf_tensor t;
    if (mlxn_gguf_tensor_info(g, (int64_t)N_T, &t) != MLXN_ERR_INVALID_ARGUMENT) return "tensor index range";
    if (mlxn_gguf_find_tensor(g, "nope") != -1) return "find missing tensor";
    return NULL;
}

static void test_roundtrip(report_t *rep) {
    for (int ai = 0; ai < 2; ai++) {
        uint32_t align = ai ? 64 : 32;
        uint8_t *datas[N_T] = {0};
        char name[96];
        mlxn_gguf_writer *w = make_writer(align, datas);
        void *buf = NULL;
        size_t size = 0;
        mlxn_gguf *g = NULL;
        const char *why = NULL;
        snprintf(name, sizeof name, "roundtrip/memory/align%u", align);
        if (!w) why = "writer";
        else if (mlxn_gguf_writer_write_memory(w, &buf, &size)) why = mlxn_last_error();
        else if (mlxn_gguf_open_memory(buf, size, &g)) why = mlxn_last_error();
        else why = check_file(g, align, 3, datas);
        report_case(rep, name, !why, "%s", why ? why : "");
        mlxn_gguf_close(g);
        g = NULL;

        /* v2: same layout as v3 (64-bit counts) apart from the version field */
        snprintf(name, sizeof name, "roundtrip/v2/align%u", align);
        why = NULL;
        if (buf) {
            uint8_t *b2 = malloc(size);
            memcpy(b2, buf, size);
            b2[4] = 2;
            if (mlxn_gguf_open_memory(b2, size, &g)) why = mlxn_last_error();
            else why = check_file(g, align, 2, datas);
            mlxn_gguf_close(g);
            g = NULL;
            free(b2);
        } else why = "no buffer";
        report_case(rep, name, !why, "%s", why ? why : "");

        /* file: writer_write + mmap reader, and the bytes equal write_memory's */
        char path[128];
        snprintf(path, sizeof path, "/tmp/mlxn_test_gguf_%d_%u.gguf", (int)getpid(), align);
        snprintf(name, sizeof name, "roundtrip/file/align%u", align);
        why = NULL;
        if (!w || mlxn_gguf_writer_write(w, path)) why = mlxn_last_error();
        else if (mlxn_gguf_open(path, &g)) why = mlxn_last_error();
        else {
            why = check_file(g, align, 3, datas);
            FILE *f = fopen(path, "rb");
            uint8_t *fb = malloc(size + 1);
            size_t n = f ? fread(fb, 1, size + 1, f) : 0;
            if (f) fclose(f);
            if (!why && (n != size || memcmp(fb, buf, size))) why = "file bytes differ from write_memory";
            free(fb);
        }
        report_case(rep, name, !why, "%s", why ? why : "");
        mlxn_gguf_close(g);
        unlink(path);
        mlxn_gguf_buffer_free(buf);
        mlxn_gguf_writer_free(w);
        for (size_t k = 0; k < N_T; k++) free(datas[k]);
    }
}

static void test_types(report_t *rep) {
    bool ok = mlxn_ggml_type_size(MLXN_GGML_Q4_0) == 18 && mlxn_ggml_block_size(MLXN_GGML_Q4_0) == 32 &&
              mlxn_ggml_type_size(MLXN_GGML_Q6_K) == 210 && mlxn_ggml_type_size(MLXN_GGML_TQ1_0) == 54 &&
              mlxn_ggml_type_size(MLXN_GGML_MXFP4) == 17 && mlxn_ggml_type_size(MLXN_GGML_BF16) == 2 &&
              mlxn_ggml_type_known((mlxn_ggml_type)4) == 0 && mlxn_ggml_type_known((mlxn_ggml_type)-1) == 0 &&
              mlxn_ggml_type_known((mlxn_ggml_type)1000) == 0 && mlxn_ggml_type_known(MLXN_GGML_IQ2_XXS) == 2 &&
              mlxn_ggml_type_known(MLXN_GGML_Q4_K) == 1 && !strcmp(mlxn_ggml_type_name(MLXN_GGML_Q8_0), "q8_0") &&
              !strcmp(mlxn_ggml_type_name((mlxn_ggml_type)33), "unknown") &&
              !strcmp(mlxn_gguf_type_name(MLXN_GGUF_STRING), "string");
    report_case(rep, "types/table", ok, "type table mismatch");
}

/* Writer argument validation. */
static void test_writer_errors(report_t *rep) {
    mlxn_gguf_writer *w;
    mlxn_gguf_writer_new(&w);
    int64_t ne[2] = {32, 2}, bad_ne[1] = {33};
    bool ok = mlxn_gguf_writer_set_alignment(w, 13) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_set_alignment(w, 0) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_set_i32(w, "general.alignment", 32) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_set_u32(w, "", 1) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_set_u32(w, NULL, 1) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_set_array(w, "x", MLXN_GGUF_STRING, "a", 1) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_add_tensor(w, "t", MLXN_GGML_F32, 2, ne, NULL, 255) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_add_tensor(w, "t", MLXN_GGML_Q4_0, 1, bad_ne, NULL, 18) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_add_tensor(w, "t", (mlxn_ggml_type)4, 2, ne, NULL, 256) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_add_tensor(w, "t", MLXN_GGML_F32, 5, ne, NULL, 256) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_add_tensor(w, "t", MLXN_GGML_F32, 2, ne, NULL, 256) == MLXN_OK &&
              mlxn_gguf_writer_add_tensor(w, "t", MLXN_GGML_F32, 2, ne, NULL, 256) == MLXN_ERR_INVALID_ARGUMENT &&
              mlxn_gguf_writer_write(w, "/nonexistent-dir/x.gguf") == MLXN_ERR_IO;
    /* a NULL-data tensor is written as zeros */
    void *buf;
    size_t size;
    mlxn_gguf *g = NULL;
    mlxn_gguf_tensor t;
    ok = ok && !mlxn_gguf_writer_write_memory(w, &buf, &size);
    if (ok) {
        ok = !mlxn_gguf_open_memory(buf, size, &g) && !mlxn_gguf_tensor_info(g, 0, &t) && t.nbytes == 256;
        for (uint64_t k = 0; ok && k < t.nbytes; k++) ok = ((const uint8_t *)t.data)[k] == 0;
        mlxn_gguf_close(g);
        mlxn_gguf_buffer_free(buf);
    }
    mlxn_gguf_writer_free(w);
    mlxn_gguf_writer_free(NULL);
    mlxn_gguf_close(NULL);
    ok = ok && mlxn_gguf_open("/nonexistent/file.gguf", &g) == MLXN_ERR_IO && !g &&
         strstr(mlxn_last_error(), "/nonexistent/file.gguf") && mlxn_gguf_open("/tmp", &g) == MLXN_ERR_IO &&
         mlxn_gguf_open_memory(NULL, 0, &g) == MLXN_ERR_FORMAT;
    report_case(rep, "writer/errors", ok, "%s", mlxn_last_error());
}

/* ---- the corrupt-file suite ---------------------------------------------------- */

/* The base file, with the offsets of the fields the mutations patch. */
typedef struct {
    bb_t b;
    size_t ver, nt, nkv, k_align_type, k_align_val, k1_len, k1_key, k1_strlen, k2_key, k2_type, k2_et, k2_cnt,
        k3_val, t0_namelen, t0_name, t0_nd, t0_ne, t1_name, t1_ne, t1_type, t1_off;
} base_t;

static void make_base(base_t *f) {
    memset(f, 0, sizeof *f);
    bb_t *b = &f->b;
    put(b, "GGUF", 4);
    f->ver = put_u32(b, 3);
    f->nt = put_u64(b, 2);
    f->nkv = put_u64(b, 4);
    put_str(b, "general.alignment");
    f->k_align_type = put_u32(b, MLXN_GGUF_U32);
    f->k_align_val = put_u32(b, 32);
    f->k1_len = put_str(b, "a.x");
    f->k1_key = f->k1_len + 8;
    put_u32(b, MLXN_GGUF_STRING);
    f->k1_strlen = put_str(b, "hello");
    f->k2_key = put_str(b, "a.y") + 8;
    f->k2_type = put_u32(b, MLXN_GGUF_ARRAY);
    f->k2_et = put_u32(b, MLXN_GGUF_U32);
    f->k2_cnt = put_u64(b, 3);
    put_u32(b, 1), put_u32(b, 2), put_u32(b, 3);
    put_str(b, "a.b");
    put_u32(b, MLXN_GGUF_BOOL);
    uint8_t one = 1;
    f->k3_val = put(b, &one, 1);
    f->t0_namelen = put_str(b, "t0");
    f->t0_name = f->t0_namelen + 8;
    f->t0_nd = put_u32(b, 2);
    f->t0_ne = put_u64(b, 32);
    put_u64(b, 2);
    put_u32(b, MLXN_GGML_F32);
    put_u64(b, 0);
    f->t1_name = put_str(b, "t1") + 8;
    put_u32(b, 1);
    f->t1_ne = put_u64(b, 64);
    f->t1_type = put_u32(b, MLXN_GGML_Q8_0);
    f->t1_off = put_u64(b, 256);
    pad(b, 32);
    for (int i = 0; i < 256 + 96; i++) { uint8_t v = (uint8_t)i; put(b, &v, 1); }
}

#define F(x) offsetof(base_t, x)
#define ABS0 ((size_t)-1) /* the mutation patches absolute offset 0 */
typedef struct { const char *name; size_t field; int delta; int width; uint64_t val; const char *expect; } mut_t;

static void check_bad(report_t *rep, const char *name, const void *data, size_t size, const char *expect) {
    mlxn_gguf *g = (mlxn_gguf *)(uintptr_t)1;
    mlxn_status s = mlxn_gguf_open_memory(data, size, &g);
    const char *msg = mlxn_last_error();
    bool ok = s == MLXN_ERR_FORMAT && g == NULL && !strncmp(msg, "gguf: ", 6) && (!expect || strstr(msg, expect));
    report_case(rep, name, ok, "status %s, message '%s', expected FORMAT naming '%s'", mlxn_status_str(s), msg,
                expect ? expect : "");
    if (s == MLXN_OK) mlxn_gguf_close(g);
}

static uint8_t *patched(const base_t *f, const mut_t *m) {
    uint8_t *b = malloc(f->b.n);
    memcpy(b, f->b.b, f->b.n);
    size_t at = (m->field == ABS0 ? 0 : *(const size_t *)((const char *)f + m->field)) + (size_t)m->delta;
    memcpy(b + at, &m->val, (size_t)m->width); /* little-endian host: low bytes first */
    return b;
}

static void test_corrupt(report_t *rep) {
    base_t f;
    make_base(&f);
    char name[160];
    {
        mlxn_gguf *g;
        mlxn_status s = mlxn_gguf_open_memory(f.b.b, f.b.n, &g);
        report_case(rep, "corrupt/base_is_valid", s == MLXN_OK && mlxn_gguf_tensor_count(g) == 2,
                    "%s", mlxn_last_error());
        if (s == MLXN_OK) mlxn_gguf_close(g);
    }
    const uint64_t U = UINT64_MAX, I = (uint64_t)INT64_MAX;
    const mut_t muts[] = {
        {"header/bad_magic", ABS0, 0, 4, 0x58554747, "magic"},
        {"header/version_0", F(ver), 0, 4, 0, "version 0"},
        {"header/version_1", F(ver), 0, 4, 1, "version 1"},
        {"header/version_4", F(ver), 0, 4, 4, "version 4"},
        {"header/version_byteswapped", F(ver), 0, 4, 0x03000000, "big-endian"},
        {"header/n_tensors_max", F(nt), 0, 8, U, "n_tensors"},
        {"header/n_tensors_2^63", F(nt), 0, 8, 1ull << 63, "n_tensors"},
        {"header/n_tensors_just_over", F(nt), 0, 8, 20, "n_tensors"},
        {"header/n_tensors_plus1", F(nt), 0, 8, 3, NULL},
        {"header/n_kv_max", F(nkv), 0, 8, U, "n_kv"},
        {"header/n_kv_2^63", F(nkv), 0, 8, 1ull << 63, "n_kv"},
        {"header/n_kv_just_over", F(nkv), 0, 8, 40, "n_kv"},
        {"header/n_kv_plus1", F(nkv), 0, 8, 5, NULL},
        {"key/empty", F(k1_len), 0, 8, 0, "key 1 is empty"},
        {"key/len_max", F(k1_len), 0, 8, U, "key 1 length"},
        {"key/len_2^63", F(k1_len), 0, 8, 1ull << 63, "key 1 length"},
        {"key/len_over_65535", F(k1_len), 0, 8, 70000, "exceeds 65535"},
        {"key/len_past_end", F(k1_len), 0, 8, 60000, "bytes left"},
        {"key/nul_byte", F(k1_key), 1, 1, 0, "NUL"},
        {"key/duplicate", F(k2_key), 2, 1, 'x', "duplicate key 'a.x'"},
        {"kv/type_13", F(k2_type), 0, 4, 13, "value type 13"},
        {"kv/type_minus1", F(k2_type), 0, 4, 0xFFFFFFFFu, "value type 4294967295"},
        {"kv/type_2^31", F(k2_type), 0, 4, 0x80000000u, "value type"},
        {"kv/string_len_max", F(k1_strlen), 0, 8, U, "string length"},
        {"kv/string_len_past_end", F(k1_strlen), 0, 8, 100000, "string length"},
        {"kv/array_elem_type_13", F(k2_et), 0, 4, 13, "element type 13"},
        {"kv/array_count_max", F(k2_cnt), 0, 8, U, "array count"},
        {"kv/array_count_2^62", F(k2_cnt), 0, 8, 1ull << 62, "array count"},
        {"kv/array_of_strings_bad_len", F(k2_et), 0, 4, MLXN_GGUF_STRING, "string length"},
        {"kv/array_of_arrays_bad", F(k2_et), 0, 4, MLXN_GGUF_ARRAY, NULL},
        {"kv/bool_byte_2", F(k3_val), 0, 1, 2, "bool byte 2"},
        {"kv/bool_byte_ff", F(k3_val), 0, 1, 0xff, "'a.b'"},
        {"align/zero", F(k_align_val), 0, 4, 0, "general.alignment 0"},
        {"align/13", F(k_align_val), 0, 4, 13, "general.alignment 13"},
        {"align/2^30", F(k_align_val), 0, 4, 1u << 30, "past the end"},
        {"align/2^31", F(k_align_val), 0, 4, 1u << 31, "past the end"},
        {"align/wrong_type_i32", F(k_align_type), 0, 4, MLXN_GGUF_I32, "must be u32"},
        {"align/wrong_type_u8", F(k_align_type), 0, 4, MLXN_GGUF_U8, NULL},
        {"tensor/name_empty", F(t0_namelen), 0, 8, 0, "tensor name 0 is empty"},
        {"tensor/name_len_max", F(t0_namelen), 0, 8, U, "tensor name 0 length"},
        {"tensor/name_len_over_65535", F(t0_namelen), 0, 8, 65536, "exceeds 65535"},
        {"tensor/name_duplicate", F(t1_name), 1, 1, '0', "duplicate tensor name 't0'"},
        {"tensor/name_nul", F(t0_name), 0, 1, 0, "NUL"},
        {"tensor/n_dims_0", F(t0_nd), 0, 4, 0, "n_dims 0"},
        {"tensor/n_dims_5", F(t0_nd), 0, 4, 5, "n_dims 5"},
        {"tensor/n_dims_max", F(t0_nd), 0, 4, 0xFFFFFFFFu, "n_dims 4294967295"},
        {"tensor/ne_zero", F(t0_ne), 0, 8, 0, "ne[0] = 0"},
        {"tensor/ne1_zero", F(t0_ne), 8, 8, 0, "ne[1] = 0"},
        {"tensor/ne_negative", F(t0_ne), 0, 8, U, "ne[0] = -1"},
        {"tensor/ne_int64_max_x2", F(t0_ne), 0, 8, I, "element count overflows"},
        {"tensor/ne_product_overflow", F(t0_ne), 0, 8, 1ull << 62, "element count overflows"},
        {"tensor/nbytes_overflow_q8_0", F(t1_ne), 0, 8, 0x7FFFFFFFFFFFFFE0ull, "byte size overflows"},
        {"tensor/nbytes_past_end", F(t0_ne), 0, 8, 1ull << 40, "past the end"},
        {"tensor/ne0_not_block_multiple", F(t1_ne), 0, 8, 48, "not a multiple of the q8_0 block size 32"},
        {"tensor/type_removed_4", F(t1_type), 0, 4, 4, "type id 4"},
        {"tensor/type_removed_31", F(t1_type), 0, 4, 31, "type id 31"},
        {"tensor/type_count_43", F(t1_type), 0, 4, 43, "type id 43"},
        {"tensor/type_minus1", F(t1_type), 0, 4, 0xFFFFFFFFu, "type id 4294967295"},
        {"offset/unaligned", F(t1_off), 0, 8, 257, "tensor 't1' offset 257 is not aligned to 32"},
        {"offset/past_end", F(t1_off), 0, 8, 1ull << 40, "past the end"},
        {"offset/wrapping", F(t1_off), 0, 8, U - 31, "past the end"},
        {"offset/overlap", F(t1_off), 0, 8, 224, "overlaps"},
        {"offset/overlap_same", F(t1_off), 0, 8, 0, "overlaps"},
        {"offset/end_just_past", F(t1_off), 0, 8, 288, "past the end"},
    };
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        uint8_t *b = patched(&f, &muts[i]);
        snprintf(name, sizeof name, "corrupt/%s", muts[i].name);
        if (report_wants(rep, name)) check_bad(rep, name, b, f.b.n, muts[i].expect);
        free(b);
    }
    /* accepted on purpose: non-UTF-8 keys are opaque bytes (documented in mlxn.h);
       alignment 1 is a power of two (ggml accepts it); gaps/out-of-order offsets */
    const mut_t goods[] = {
        {"accept/key_not_utf8", F(k1_key), 0, 1, 0xff, NULL},
        {"accept/tensor_name_not_utf8", F(t0_name), 1, 1, 0xc3, NULL},
        {"accept/alignment_1", F(k_align_val), 0, 4, 1, NULL},
        {"accept/out_of_order_offsets", F(t1_off), 0, 8, 256, NULL},
    };
    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        uint8_t *b = patched(&f, &goods[i]);
        mlxn_gguf *g = NULL;
        mlxn_status s = mlxn_gguf_open_memory(b, f.b.n, &g);
        snprintf(name, sizeof name, "corrupt/%s", goods[i].name);
        report_case(rep, name, s == MLXN_OK, "%s", mlxn_last_error());
        if (g) walk(g);
        mlxn_gguf_close(g);
        free(b);
    }
    /* truncation at every prefix length (includes empty and magic-only): FORMAT
       until the last tensor's last byte; cutting only the final padding is valid */
    {
        int bad = 0;
        size_t first = 0, need = f.b.n - 352 + 256 + 68;
        for (size_t n = 0; n < f.b.n; n++) {
            uint8_t *b = malloc(n ? n : 1); /* exact-size copy: ASan catches any read past n */
            memcpy(b, f.b.b, n);
            mlxn_gguf *g = NULL;
            mlxn_status s = mlxn_gguf_open_memory(b, n, &g);
            bool good = n < need ? s == MLXN_ERR_FORMAT && !g && !strncmp(mlxn_last_error(), "gguf: ", 6) : s == MLXN_OK;
            if (!good && !bad++) first = n;
            mlxn_gguf_close(g);
            free(b);
        }
        report_case(rep, "corrupt/truncate_every_prefix", bad == 0, "%d of %zu prefixes not FORMAT (first at %zu)",
                    bad, f.b.n, first);
    }
    /* seeded random byte mutations: OK or FORMAT, never a crash */
    {
        rng_t r;
        rng_seed(&r, 0x66756666);
        int bad = 0, okc = 0;
        uint8_t *b = malloc(f.b.n);
        for (int it = 0; it < 20000; it++) {
            memcpy(b, f.b.b, f.b.n);
            int k = (int)rng_int(&r, 1, 4);
            size_t hdr = f.t1_off + 8; /* mutate mostly the metadata, sometimes anywhere */
            for (int j = 0; j < k; j++) {
                size_t at = (size_t)rng_int(&r, 0, (int64_t)((rng_u64(&r) & 7) ? hdr : f.b.n) - 1);
                static const uint8_t special[] = {0, 0xff, 0x7f, 0x80, 1, 2, 13, 64};
                b[at] = (rng_u64(&r) & 1) ? special[rng_u64(&r) & 7] : (uint8_t)rng_u64(&r);
            }
            size_t n = (rng_u64(&r) % 10 == 0) ? (size_t)rng_int(&r, 0, (int64_t)f.b.n) : f.b.n;
            mlxn_gguf *g = NULL;
            mlxn_status s = mlxn_gguf_open_memory(b, n, &g);
            if (s == MLXN_OK) { okc++; walk(g); }
            else if (s != MLXN_ERR_FORMAT) bad++;
            mlxn_gguf_close(g);
        }
        free(b);
        report_case(rep, "corrupt/random_mutations_20000", bad == 0, "%d results neither OK nor FORMAT", bad);
        if (rep->verbose) printf("  random mutations: %d of 20000 still valid\n", okc);
    }
    free(f.b.b);
}

/* Nested arrays: depth up to the limit, arrays of arrays of mixed types,
   a string array, and one level too deep. */
static size_t put_nested(bb_t *b, int levels) {
    /* an array of 2 arrays of ... of u16 [7, 9] */
    size_t start = b->n;
    if (levels == 0) {
        put_u32(b, MLXN_GGUF_U16);
        put_u64(b, 2);
        uint16_t v[2] = {7, 9};
        put(b, v, 4);
        return start;
    }
    put_u32(b, MLXN_GGUF_ARRAY);
    put_u64(b, 2);
    put_nested(b, levels - 1);
    put_nested(b, levels - 1);
    return start;
}
static void test_nested(report_t *rep) {
    for (int levels = 1; levels <= MLXN_GGUF_MAX_DEPTH + 1; levels++) {
        bb_t b = {0};
        put(&b, "GGUF", 4);
        put_u32(&b, 3);
        put_u64(&b, 0);
        put_u64(&b, 2);
        put_str(&b, "n.deep");
        put_u32(&b, MLXN_GGUF_ARRAY);
        put_nested(&b, levels - 1); /* `levels` array levels in total */
        put_str(&b, "n.strs");
        put_u32(&b, MLXN_GGUF_ARRAY);
        put_u32(&b, MLXN_GGUF_STRING);
        put_u64(&b, 2);
        put_str(&b, "ab");
        put_str(&b, "");
        mlxn_gguf *g = NULL;
        mlxn_status s = mlxn_gguf_open_memory(b.b, b.n, &g);
        char name[64];
        snprintf(name, sizeof name, "nested/depth_%d", levels);
        bool want_ok = levels <= MLXN_GGUF_MAX_DEPTH;
        bool ok;
        if (want_ok) {
            ok = s == MLXN_OK;
            /* follow element 1 down to the innermost u16 array, element 1 = 9 */
            mlxn_gguf_value v = mlxn_gguf_kv_value(g, 0), e;
            for (int l = 0; ok && l < levels - 1; l++) ok = !mlxn_gguf_value_elem(g, v, 1, &e) && (v = e, 1);
            mlxn_gguf_type et;
            uint64_t len, u;
            ok = ok && !mlxn_gguf_value_array(g, v, &et, &len) && et == MLXN_GGUF_U16 && len == 2 &&
                 !mlxn_gguf_value_elem(g, v, 1, &e) && !mlxn_gguf_value_u64(g, e, &u) && u == 9;
            const char *str;
            ok = ok && !mlxn_gguf_value_elem(g, mlxn_gguf_kv_value(g, 1), 0, &e) &&
                 !mlxn_gguf_value_str(g, e, &str, &len) && len == 2 && !memcmp(str, "ab", 2);
            if (ok) walk(g);
        } else {
            ok = s == MLXN_ERR_FORMAT && strstr(mlxn_last_error(), "nested deeper") &&
                 strstr(mlxn_last_error(), "n.deep");
        }
        report_case(rep, name, ok, "status %s: %s", mlxn_status_str(s), mlxn_last_error());
        mlxn_gguf_close(g);
        free(b.b);
    }
}

int main(int argc, char **argv) {
    report_t rep = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) rep.verbose = true;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) rep.filter = argv[++i];
    }
    test_types(&rep);
    test_roundtrip(&rep);
    test_writer_errors(&rep);
    test_corrupt(&rep);
    test_nested(&rep);
    return report_finish(&rep, "test_gguf");
}
