/* cli.h — the subcommands of the mlxn tool. */
#ifndef MLXN_CLI_H
#define MLXN_CLI_H

#include <stdbool.h>

#include "mlxn.h"

typedef struct {
    const char *filter; /* substring of the case name, or NULL */
    int reps;           /* timed repetitions (median taken)    */
    bool hot;           /* one input set, reused: cache-warm like ggml's perf mode */
} bench_opts;

/* Prints the copy-bandwidth line and the op table; returns 0 on success. */
int cli_bench(mlxn_device *d, const bench_opts *o);
/* Runs every op on d (and on the CPU when d is a GPU) against the float64
   references; prints a table; returns the number of failures (or -1). */
int cli_selfcheck(mlxn_device *d);

#endif
