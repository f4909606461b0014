/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader and the
   MLX quantization-config parser.

   Every input goes through mlxn_safetensors_open_memory; when accepted, every
   accessor is walked (tensor infos, lookups by name, the first and last byte
   of each tensor's data, metadata) so ASan/UBSan see any out-of-bounds read
   the validation missed, and the tiling invariant is re-checked. The header
   bytes are also parsed as a config.json, and an accepted file's metadata
   entry "mlx_config" (if any) is parsed as one and used to group the file's
   quantized tensors. A file can only be malformed: any status other than OK
   and FORMAT (NOT_FOUND for a config without quantization) traps.
   Build: cmake -DMLXN_FUZZ=ON with clang (scripts/test.sh does); seeds in
   tests/fuzz/corpus_safetensors/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mlxn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_config(const char *json, size_t len, const mlxn_safetensors *st) {
    mlxn_mlxq_config *c = NULL;
    mlxn_status s = mlxn_mlxq_config_parse(json, len, 1, "fuzz", &c);
    if (s != MLXN_OK) {
        if ((s != MLXN_ERR_FORMAT && s != MLXN_ERR_NOT_FOUND) || c || strncmp(mlxn_last_error(), "fuzz: ", 6))
            __builtin_trap();
        return;
    }
    volatile uint64_t h = (uint64_t)mlxn_mlxq_config_defaults(c).bits;
    for (int64_t i = 0; i < mlxn_mlxq_config_override_count(c); i++) {
        const char *name;
        mlxn_mlxq_layer_params p, q;
        if (mlxn_mlxq_config_override(c, i, &name, &p)) __builtin_trap();
        if (mlxn_mlxq_config_lookup(c, name, &q)) __builtin_trap();
        h += (uint64_t)q.bits + (uint64_t)p.group_size;
    }
    if (st) {
        mlxn_mlxq_list *l = NULL;
        s = mlxn_mlxq_group(st, c, &l);
        if (s != MLXN_OK && (s != MLXN_ERR_FORMAT || l)) __builtin_trap();
        for (int64_t i = 0; i < mlxn_mlxq_list_count(l); i++) {
            mlxn_mlxq_tensor q;
            if (mlxn_mlxq_list_get(l, i, &q)) __builtin_trap();
            if (mlxn_mlxq_list_find_tensor(l, q.weight) != i || mlxn_mlxq_list_find_tensor(l, q.scales) != i)
                __builtin_trap();
            h += (uint64_t)q.shape[q.ndim - 1];
        }
        mlxn_mlxq_list_free(l);
    }
    (void)h;
    mlxn_mlxq_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mlxn_safetensors *st = NULL;
    mlxn_status s = mlxn_safetensors_open_memory(data, size, &st);
    if (s != MLXN_OK) {
        /* a file can only be malformed; anything else is a reader bug */
        if (s != MLXN_ERR_FORMAT || st || strncmp(mlxn_last_error(), "safetensors: ", 13)) __builtin_trap();
    } else {
        volatile uint64_t h = 0;
        uint64_t covered = 0, data_end = 0;
        for (int64_t i = 0; i < mlxn_safetensors_tensor_count(st); i++) {
            mlxn_st_tensor t;
            if (mlxn_safetensors_tensor_info(st, i, &t) || mlxn_safetensors_find_tensor(st, t.name) != i)
                __builtin_trap();
            if (t.offset > size || t.nbytes > size - t.offset || t.ndim < 0 || t.ndim > MLXN_ST_MAX_DIMS)
                __builtin_trap();
            if ((uint64_t)t.nelements * (uint64_t)mlxn_st_dtype_bits(t.dtype) != t.nbytes * 8) __builtin_trap();
            const uint8_t *p = t.data;
            if (t.nbytes) h += p[0] + p[t.nbytes - 1];
            covered += t.nbytes;
            if (t.offset + t.nbytes > data_end) data_end = t.offset + t.nbytes;
        }
        if (covered != mlxn_safetensors_total_bytes(st)) __builtin_trap();
        if (mlxn_safetensors_tensor_count(st) && data_end != size) __builtin_trap(); /* exact tiling */
        const char *cfg = NULL;
        for (int64_t i = 0; i < mlxn_safetensors_metadata_count(st); i++) {
            const char *k, *v;
            if (mlxn_safetensors_metadata(st, i, &k, &v) || mlxn_safetensors_get_metadata(st, k) != v) __builtin_trap();
            h += strlen(k) + strlen(v);
            if (!strcmp(k, "mlx_config")) cfg = v;
        }
        (void)h;
        if (cfg) fuzz_config(cfg, strlen(cfg), st);
    }
    /* the header text as a config.json */
    if (size >= 8) {
        uint64_t n;
        memcpy(&n, data, 8);
        if (n > size - 8) n = size - 8;
        fuzz_config((const char *)data + 8, (size_t)n, NULL);
    }
    mlxn_safetensors_close(st);
    return 0;
}
