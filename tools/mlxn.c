/* mlxn.c — the mlxn command-line tool.

     mlxn demo  [--device cpu|cuda|auto]   self-check every op, then the bench table
     mlxn bench [--device ...] [--filter S] [--reps N]
     mlxn version
     mlxn help */
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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1], *device = "auto";
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
