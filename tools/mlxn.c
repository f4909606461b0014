/* mlxn.c — the mlxn command-line tool.

     mlxn demo  [--device cpu|cuda|auto]   self-check every op, then the bench table
     mlxn bench [--device ...] [--filter S] [--reps N]
     mlxn info PATH                         describe a GGUF file
     mlxn version
     mlxn help */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mlxn <command> [options]\n"
            "\n"
            "commands:\n"
            "  demo      open the best device, check every op against float64 references\n"
            "            (and against the CPU), then print the benchmark table\n"
            "  bench     time every op on a device (see docs/PERF.md for the method)\n"
            "  info PATH describe a GGUF file: metadata, tensors, per-type totals\n"
            "  version   print the library version\n"
            "  help      this text\n"
            "\n"
            "options:\n"
            "  --device cpu|cuda|auto   device to use (default auto: the GPU if present)\n"
            "  --filter TEXT            bench: only cases whose name contains TEXT\n"
            "  --reps N                 bench: timed repetitions per case (median)\n"
            "  --hot                    bench: reuse one input set (cache-warm, as ggml's perf mode)\n");
}

static int open_device(const char *name, mlxn_device **d) {
    mlxn_backend b = MLXN_BACKEND_AUTO;
    if (!strcmp(name, "cpu")) b = MLXN_BACKEND_CPU;
    else if (!strcmp(name, "cuda") || !strcmp(name, "gpu")) b = MLXN_BACKEND_CUDA;
    else if (strcmp(name, "auto")) {
        fprintf(stderr, "mlxn: unknown device '%s' (cpu, cuda or auto)\n", name);
        return 2;
    }
    mlxn_status s = mlxn_device_open(b, 0, d);
    if (s != MLXN_OK) {
        fprintf(stderr, "mlxn: cannot open device '%s': %s\n", name, mlxn_last_error());
        return 1;
    }
    return 0;
}

/* ---- mlxn info ------------------------------------------------------------ */

/* Prints bytes from a file escaped: names and strings are untrusted, and raw
   control bytes would let a file rewrite the terminal (llama #14381). */
static void put_escaped(const char *s, uint64_t n, uint64_t max) {
    for (uint64_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '\\' && c != '"') putchar(c);
        else printf("\\x%02x", c);
    }
    if (n > max) printf("...(%" PRIu64 " bytes)", n);
}

static void print_scalar(const mlxn_gguf *g, mlxn_gguf_value v) {
    uint64_t u, len;
    int64_t i;
    double f;
    int b;
    const char *s;
    mlxn_gguf_type t = mlxn_gguf_value_type(g, v);
    if (t == MLXN_GGUF_STRING && !mlxn_gguf_value_str(g, v, &s, &len)) {
        putchar('"');
        put_escaped(s, len, 120);
        putchar('"');
    } else if (t == MLXN_GGUF_BOOL && !mlxn_gguf_value_bool(g, v, &b)) printf("%s", b ? "true" : "false");
    else if ((t == MLXN_GGUF_F32 || t == MLXN_GGUF_F64) && !mlxn_gguf_value_f64(g, v, &f)) printf("%.9g", f);
    else if (!mlxn_gguf_value_i64(g, v, &i)) printf("%" PRId64, i);
    else if (!mlxn_gguf_value_u64(g, v, &u)) printf("%" PRIu64, u);
}

static void print_value(const mlxn_gguf *g, mlxn_gguf_value v, int depth) {
    mlxn_gguf_type et;
    uint64_t len;
    if (mlxn_gguf_value_array(g, v, &et, &len)) {
        print_scalar(g, v);
        return;
    }
    printf("[%s x %" PRIu64 "]", mlxn_gguf_type_name(et), len);
    if (depth >= 2) return;
    printf(" {");
    for (uint64_t k = 0; k < len && k < 6; k++) {
        mlxn_gguf_value e;
        if (mlxn_gguf_value_elem(g, v, k, &e)) break;
        printf(k ? ", " : "");
        print_value(g, e, depth + 1);
    }
    printf(len > 6 ? ", ...}" : "}");
}

static int cmd_info(const char *path) {
    mlxn_gguf *g;
    if (mlxn_gguf_open(path, &g) != MLXN_OK) {
        fprintf(stderr, "mlxn info: %s\n", mlxn_last_error());
        return 1;
    }
    int64_t nkv = mlxn_gguf_kv_count(g), nt = mlxn_gguf_tensor_count(g);
    printf("file:      %s\nversion:   %u\nalignment: %u\ndata at:   %" PRIu64 "\n\nmetadata (%" PRId64 " keys):\n",
           path, mlxn_gguf_version(g), mlxn_gguf_alignment(g), mlxn_gguf_data_offset(g), nkv);
    for (int64_t i = 0; i < nkv; i++) {
        const char *k = mlxn_gguf_kv_key(g, i);
        printf("  ");
        put_escaped(k, strlen(k), 200);
        printf(" (%s) = ", mlxn_gguf_type_name(mlxn_gguf_kv_type(g, i)));
        print_value(g, mlxn_gguf_kv_value(g, i), 0);
        putchar('\n');
    }
    printf("\ntensors (%" PRId64 "):\n  %-40s %-8s %-28s %14s\n", nt, "name", "type", "shape (ne0 first)", "bytes");
    /* per-type totals, indexed by ggml id (validated by the reader, < 64) */
    uint64_t by_n[64] = {0}, by_bytes[64] = {0}, tot_bytes = 0, tot_el = 0;
    for (int64_t i = 0; i < nt; i++) {
        mlxn_gguf_tensor t;
        if (mlxn_gguf_tensor_info(g, i, &t)) continue;
        char shape[96];
        int o = 0;
        for (int d = 0; d < t.ndim; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%" PRId64, d ? ", " : "[", t.ne[d]);
        snprintf(shape + o, sizeof shape - (size_t)o, "]");
        printf("  ");
        int nl = (int)strlen(t.name);
        put_escaped(t.name, (uint64_t)nl, 80);
        printf("%*s %-8s %-28s %14" PRIu64 "\n", nl < 40 ? 40 - nl : 0, "", mlxn_ggml_type_name(t.type), shape,
               t.nbytes);
        unsigned ty = (unsigned)t.type & 63;
        by_n[ty]++;
        by_bytes[ty] += t.nbytes;
        tot_bytes += t.nbytes;
        tot_el += (uint64_t)t.nelements;
    }
    printf("\ntotals: %" PRId64 " tensors, %" PRIu64 " elements, %" PRIu64 " bytes (%.2f MiB)\nby type:\n", nt,
           tot_el, tot_bytes, (double)tot_bytes / (1024.0 * 1024.0));
    for (int ty = 0; ty < 64; ty++)
        if (by_n[ty])
            printf("  %-8s %6" PRIu64 " tensors %16" PRIu64 " bytes%s\n", mlxn_ggml_type_name((mlxn_ggml_type)ty),
                   by_n[ty], by_bytes[ty],
                   mlxn_ggml_type_known((mlxn_ggml_type)ty) == 2 ? "  (not supported by mlxn kernels)" : "");
    mlxn_gguf_close(g);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1], *device = "auto";
    if (!strcmp(cmd, "info")) {
        if (argc != 3) {
            fprintf(stderr, "usage: mlxn info PATH\n");
            return 2;
        }
        return cmd_info(argv[2]);
    }
    bench_opts bo = {NULL, 0, false};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) bo.filter = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) bo.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hot")) bo.hot = true;
        else {
            fprintf(stderr, "mlxn: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version")) {
        printf("mlxn %s\n", mlxn_version());
        return 0;
    }
    if (strcmp(cmd, "demo") && strcmp(cmd, "bench")) {
        fprintf(stderr, "mlxn: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    mlxn_device *d = NULL;
    int rc = open_device(device, &d);
    if (rc) return rc;
    if (!strcmp(cmd, "demo")) {
        printf("mlxn %s on %s\n\n== self-check: every op against float64 references ==\n\n", mlxn_version(),
               mlxn_device_name(d));
        int fails = cli_selfcheck(d);
        printf("\nself-check: %s\n\n== benchmark ==\n\n", fails ? "FAILED" : "all ops agree");
        rc = cli_bench(d, &bo) || fails ? 1 : 0;
    } else {
        rc = cli_bench(d, &bo);
    }
    mlxn_device_close(d);
    return rc;
}
