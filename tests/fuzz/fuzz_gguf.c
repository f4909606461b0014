/* fuzz_gguf.c — libFuzzer harness for the GGUF reader: every input goes
   through mlxn_gguf_open_memory and, when accepted, every accessor is walked
   (KVs, nested array elements, tensor infos and the first/last byte of each
   tensor's data), so ASan/UBSan see any out-of-bounds read the validation
   missed. Build: cmake -DMLXN_FUZZ=ON with clang (scripts/test.sh does);
   seeds in tests/fuzz/corpus_gguf/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mlxn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t walk_value(const mlxn_gguf *g, mlxn_gguf_value v, int depth) {
    uint64_t h = (uint64_t)mlxn_gguf_value_type(g, v), u, len;
    int64_t i;
    double f;
    int b;
    const char *s;
    mlxn_gguf_type et;
    if (!mlxn_gguf_value_u64(g, v, &u)) h += u;
    if (!mlxn_gguf_value_i64(g, v, &i)) h += (uint64_t)i;
    if (!mlxn_gguf_value_f64(g, v, &f)) h += f == f;
    if (!mlxn_gguf_value_bool(g, v, &b)) h += (uint64_t)b;
    if (!mlxn_gguf_value_str(g, v, &s, &len) && len) h += (uint8_t)s[0] + (uint8_t)s[len - 1];
    if (depth < 16 && !mlxn_gguf_value_array(g, v, &et, &len)) {
        mlxn_gguf_value e;
        for (uint64_t k = 0; k < len && k < 32; k++)
            if (!mlxn_gguf_value_elem(g, v, k, &e)) h += walk_value(g, e, depth + 1);
        if (len && !mlxn_gguf_value_elem(g, v, len - 1, &e)) h += walk_value(g, e, depth + 1);
        if (!mlxn_gguf_value_elem(g, v, len, &e)) __builtin_trap(); /* out of range must fail */
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mlxn_gguf *g = NULL;
    mlxn_status s = mlxn_gguf_open_memory(data, size, &g);
    if (s != MLXN_OK) {
        /* a file can only be malformed; anything else is a reader bug */
        if (s != MLXN_ERR_FORMAT || g || strncmp(mlxn_last_error(), "gguf: ", 6)) __builtin_trap();
        return 0;
    }
    volatile uint64_t h = mlxn_gguf_version(g) + mlxn_gguf_alignment(g) + mlxn_gguf_data_offset(g);
    for (int64_t i = 0; i < mlxn_gguf_kv_count(g); i++) {
        const char *k = mlxn_gguf_kv_key(g, i);
        if (!k || mlxn_gguf_find_kv(g, k) != i) __builtin_trap();
        uint64_t u;
        (void)mlxn_gguf_get_u64(g, k, &u);
        h += walk_value(g, mlxn_gguf_kv_value(g, i), 0);
    }
    for (int64_t i = 0; i < mlxn_gguf_tensor_count(g); i++) {
        mlxn_gguf_tensor t;
        if (mlxn_gguf_tensor_info(g, i, &t) || mlxn_gguf_find_tensor(g, t.name) != i) __builtin_trap();
        if (t.offset + t.nbytes > size || t.nbytes == 0) __builtin_trap();
        const uint8_t *p = t.data;
        h += p[0] + p[t.nbytes - 1];
    }
    (void)h;
    mlxn_gguf_close(g);
    return 0;
}
