/* mlxn.c — the mlxn command-line tool.

     mlxn demo  [--device cpu|cuda|auto]   self-check every op, then the bench table
     mlxn bench [--device ...] [--filter S] [--reps N]
     mlxn info PATH                         describe a GGUF file or a safetensors file/folder
     mlxn load PATH [--device cpu|cuda|auto] load every tensor onto the device, report the rate
     mlxn version
     mlxn help */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mlxn <command> [options]\n"
            "\n"
            "commands:\n"
            "  demo      open the best device, check every op against float64 references\n"
            "            (and against the CPU), then print the benchmark table\n"
            "  bench     time every op on a device (see docs/PERF.md for the method)\n"
            "  info PATH describe a GGUF file, or a safetensors file, index or folder:\n"
            "            metadata, tensors, per-type totals, MLX quantization summary\n"
            "  load PATH load every tensor of PATH onto the device (progress on stderr),\n"
            "            report the throughput next to the pinned host-to-device rate\n"
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

/* ---- safetensors: mlxn info / mlxn load ------------------------------------------- */

/* GGUF when the file starts with the magic; a folder or anything else is safetensors. */
static int is_gguf(const char *path) {
    struct stat sb;
    if (stat(path, &sb) || S_ISDIR(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    char m[4] = {0};
    size_t n = f ? fread(m, 1, 4, f) : 0;
    if (f) fclose(f);
    return n == 4 && !memcmp(m, "GGUF", 4);
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t len) {
    int o = snprintf(buf, len, "[");
    for (int d = 0; d < ndim && (size_t)o < len; d++)
        o += snprintf(buf + o, len - (size_t)o, "%s%" PRId64, d ? ", " : "", shape[d]);
    if ((size_t)o < len) snprintf(buf + o, len - (size_t)o, "]");
}

typedef struct { int mode, bits, group; uint64_t n, bytes, el; } qrow_t;

static void print_quant_summary(const mlxn_safetensors *st) {
    mlxn_mlxq_config *c = NULL;
    mlxn_status s = mlxn_mlxq_config_load(mlxn_safetensors_dir(st), &c);
    if (s == MLXN_ERR_NOT_FOUND) {
        printf("\nquantization: none (no MLX quantization in config.json / quantization_config.json)\n");
        return;
    }
    if (s) {
        printf("\nquantization: %s\n", mlxn_last_error());
        return;
    }
    mlxn_mlxq_layer_params d = mlxn_mlxq_config_defaults(c);
    printf("\nquantization (%s): mode %s, bits %d, group_size %d, %" PRId64 " per-module overrides\n",
           mlxn_mlxq_config_source(c), mlxn_mlxq_mode_name(d.mode), d.bits, d.group_size,
           mlxn_mlxq_config_override_count(c));
    for (int64_t i = 0; i < mlxn_mlxq_config_override_count(c) && i < 8; i++) {
        const char *name;
        mlxn_mlxq_layer_params p;
        if (mlxn_mlxq_config_override(c, i, &name, &p)) break;
        printf("  ");
        put_escaped(name, strlen(name), 80);
        if (p.quantized) printf(": %s, bits %d, group_size %d\n", mlxn_mlxq_mode_name(p.mode), p.bits, p.group_size);
        else printf(": not quantized\n");
    }
    if (mlxn_mlxq_config_override_count(c) > 8)
        printf("  ... (%" PRId64 " more)\n", mlxn_mlxq_config_override_count(c) - 8);
    mlxn_mlxq_list *l = NULL;
    if (mlxn_mlxq_group(st, c, &l)) {
        printf("quantized tensors: %s\n", mlxn_last_error());
        mlxn_mlxq_config_free(c);
        return;
    }
    /* per (mode, bits, group): tensors, stored bytes, dequantized elements */
    qrow_t row[32];
    int nr = 0;
    for (int64_t i = 0; i < mlxn_mlxq_list_count(l); i++) {
        mlxn_mlxq_tensor q;
        if (mlxn_mlxq_list_get(l, i, &q)) break;
        uint64_t bytes = 0, el = 1;
        int64_t parts[3] = {q.weight, q.scales, q.biases};
        for (int k = 0; k < 3; k++) {
            mlxn_st_tensor t;
            if (parts[k] >= 0 && !mlxn_safetensors_tensor_info(st, parts[k], &t)) bytes += t.nbytes;
        }
        for (int k = 0; k < q.ndim; k++) el *= (uint64_t)q.shape[k];
        int r = 0;
        while (r < nr && !(row[r].mode == (int)q.params.mode && row[r].bits == q.params.bits &&
                           row[r].group == q.params.group_size))
            r++;
        if (r == nr) {
            if (nr == 32) continue;
            row[nr++] = (qrow_t){(int)q.params.mode, q.params.bits, q.params.group_size, 0, 0, 0};
        }
        row[r].n++;
        row[r].bytes += bytes;
        row[r].el += el;
    }
    printf("quantized tensors: %" PRId64 " (weight + scales [+ biases] each)\n", mlxn_mlxq_list_count(l));
    for (int r = 0; r < nr; r++)
        printf("  %-6s bits %d group %3d: %6" PRIu64 " tensors, %14" PRIu64 " bytes, %.3f bits/weight\n",
               mlxn_mlxq_mode_name((mlxn_mlxq_mode)row[r].mode), row[r].bits, row[r].group, row[r].n, row[r].bytes,
               row[r].el ? 8.0 * (double)row[r].bytes / (double)row[r].el : 0.0);
    mlxn_mlxq_list_free(l);
    mlxn_mlxq_config_free(c);
}

static int cmd_info_safetensors(const char *path) {
    mlxn_safetensors *st;
    if (mlxn_safetensors_open(path, &st) != MLXN_OK) {
        fprintf(stderr, "mlxn info: %s\n", mlxn_last_error());
        return 1;
    }
    int ns = mlxn_safetensors_shard_count(st);
    int64_t nt = mlxn_safetensors_tensor_count(st), nm = mlxn_safetensors_metadata_count(st);
    printf("safetensors: %s\nfolder:      %s\nshards:      %d\n", path, mlxn_safetensors_dir(st), ns);
    for (int i = 0; i < ns && ns > 1; i++) printf("  %s\n", mlxn_safetensors_shard_path(st, i));
    printf("\nmetadata (%" PRId64 " keys):\n", nm);
    for (int64_t i = 0; i < nm; i++) {
        const char *k, *v;
        if (mlxn_safetensors_metadata(st, i, &k, &v)) break;
        printf("  ");
        put_escaped(k, strlen(k), 200);
        printf(" = \"");
        put_escaped(v, strlen(v), 120);
        printf("\"\n");
    }
    printf("\ntensors (%" PRId64 "):\n  %-48s %-8s %-28s %14s\n", nt, "name", "dtype", "shape", "bytes");
    uint64_t by_n[MLXN_ST_DTYPE_COUNT] = {0}, by_bytes[MLXN_ST_DTYPE_COUNT] = {0}, tot_el = 0;
    for (int64_t i = 0; i < nt; i++) {
        mlxn_st_tensor t;
        if (mlxn_safetensors_tensor_info(st, i, &t)) continue;
        char shape[160];
        shape_text(t.ndim, t.shape, shape, sizeof shape);
        printf("  ");
        int nl = (int)strlen(t.name);
        put_escaped(t.name, (uint64_t)nl, 100);
        printf("%*s %-8s %-28s %14" PRIu64 "\n", nl < 48 ? 48 - nl : 0, "", mlxn_st_dtype_name(t.dtype), shape,
               t.nbytes);
        by_n[t.dtype]++;
        by_bytes[t.dtype] += t.nbytes;
        tot_el += (uint64_t)t.nelements;
    }
    uint64_t tot = mlxn_safetensors_total_bytes(st);
    printf("\ntotals: %" PRId64 " tensors, %" PRIu64 " elements, %" PRIu64 " bytes (%.2f MiB)\nby dtype:\n", nt, tot_el,
           tot, (double)tot / (1024.0 * 1024.0));
    for (int d = 0; d < MLXN_ST_DTYPE_COUNT; d++)
        if (by_n[d])
            printf("  %-8s %6" PRIu64 " tensors %16" PRIu64 " bytes\n", mlxn_st_dtype_name((mlxn_st_dtype)d), by_n[d],
                   by_bytes[d]);
    print_quant_summary(st);
    mlxn_safetensors_close(st);
    return 0;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* t_start: the streaming starts (every buffer and staging chunk allocated);
   t_end: every byte has landed (before the staging is freed) */
typedef struct { double t_start, t_end, t_last; int tty, last_pct; } bar_t;

static void on_load_progress(void *user, uint64_t done, uint64_t total, const char *tensor) {
    bar_t *b = user;
    double now = wall_s();
    int start = !tensor && done == 0 && b->t_start == 0;
    if (start) b->t_start = now;
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
    int final = !tensor && done == total && !start;
    if (final) b->t_end = now;
    /* a tty gets a bar redrawn at most 10 times a second; a log a line per 10% */
    if (!final && (b->tty ? now - b->t_last < 0.1 : pct / 10 == b->last_pct / 10)) return;
    b->t_last = now;
    b->last_pct = pct;
    char bar[41];
    for (int i = 0; i < 40; i++) bar[i] = i < pct * 40 / 100 ? '#' : ' ';
    bar[40] = 0;
    double dt = now - b->t_start;
    fprintf(stderr, "%s[%s] %3d%% %7.2f / %.2f GB %7.2f GB/s  %-40.40s%s", b->tty ? "\r" : "", bar, pct,
            (double)done / 1e9, (double)total / 1e9, dt > 0 ? (double)done / dt / 1e9 : 0.0, tensor ? tensor : "",
            b->tty && !final ? "" : "\n");
    fflush(stderr);
}

static int cmd_load(const char *path, const char *device) {
    int gg = is_gguf(path);
    mlxn_gguf *g = NULL;
    mlxn_safetensors *st = NULL;
    mlxn_status s = gg ? mlxn_gguf_open(path, &g) : mlxn_safetensors_open(path, &st);
    if (s) {
        fprintf(stderr, "mlxn load: %s\n", mlxn_last_error());
        return 1;
    }
    mlxn_device *d = NULL;
    int rc = open_device(device, &d);
    if (rc) {
        mlxn_gguf_close(g);
        mlxn_safetensors_close(st);
        return rc;
    }
    int64_t n = gg ? mlxn_gguf_tensor_count(g) : mlxn_safetensors_tensor_count(st);
    uint64_t total = 0;
    if (gg) {
        for (int64_t i = 0; i < n; i++) {
            mlxn_gguf_tensor t;
            if (!mlxn_gguf_tensor_info(g, i, &t)) total += t.nbytes;
        }
    } else {
        total = mlxn_safetensors_total_bytes(st);
    }
    printf("mlxn load: %s (%s, %" PRId64 " tensors, %.3f GB) onto %s\n", path, gg ? "GGUF" : "safetensors", n,
           (double)total / 1e9, mlxn_device_name(d));
    fflush(stdout);
    double h2d = 0;
    if (mlxn_load_h2d_rate(d, 0, &h2d)) fprintf(stderr, "mlxn load: H2D rate: %s\n", mlxn_last_error());
    mlxn_buffer **bufs = calloc((size_t)(n ? n : 1), sizeof *bufs);
    bar_t bar = {0, 0, 0, isatty(2), -10};
    mlxn_load_options opt = {0, 0, on_load_progress, &bar};
    double t0 = wall_s();
    if (!bufs) s = MLXN_ERR_OUT_OF_MEMORY;
    else if (gg) s = mlxn_gguf_load_all(d, g, &opt, bufs);
    else s = mlxn_safetensors_load_all(d, st, &opt, bufs);
    double t1 = wall_s();
    if (s) {
        fprintf(stderr, "mlxn load: %s\n", bufs ? mlxn_last_error() : "out of host memory");
        rc = 1;
    } else {
        /* streaming: the data phase alone, from the first byte to the last landed */
        double all = t1 - t0, stream = bar.t_start > 0 ? (bar.t_end > bar.t_start ? bar.t_end : t1) - bar.t_start : all;
        double r_all = all > 0 ? (double)total / all / 1e9 : 0, r_stream = stream > 0 ? (double)total / stream / 1e9 : 0;
        printf("loaded %.3f GB in %.3f s: %.2f GB/s overall (buffer allocation included), %.2f GB/s streaming\n",
               (double)total / 1e9, all, r_all, r_stream);
        printf("pinned host-to-device copy rate (256 MiB, best of 3): %.2f GB/s; streaming reached %.0f%% of it\n", h2d,
               h2d > 0 ? 100.0 * r_stream / h2d : 0.0);
    }
    for (int64_t i = 0; bufs && i < n; i++) mlxn_buffer_free(bufs[i]);
    free(bufs);
    mlxn_device_close(d);
    mlxn_gguf_close(g);
    mlxn_safetensors_close(st);
    return rc;
}

static int cmd_info(const char *path) {
    if (!is_gguf(path)) return cmd_info_safetensors(path);
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
    if (!strcmp(cmd, "load")) {
        if (argc < 3 || argv[2][0] == '-') {
            fprintf(stderr, "usage: mlxn load PATH [--device cpu|cuda|auto]\n");
            return 2;
        }
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
            else {
                fprintf(stderr, "mlxn load: unknown option '%s'\n", argv[i]);
                return 2;
            }
        }
        return cmd_load(argv[2], device);
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
