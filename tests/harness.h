/* harness.h — helpers shared by the C tests and the self-check of `mlxn demo`:
   a seeded RNG, host conversions to and from device dtypes, error measures,
   and a tiny check/report layer. */
#ifndef MLXN_TEST_HARNESS_H
#define MLXN_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlxn.h"

#define MLXN_TEST_SKIP 77 /* CTest SKIP_RETURN_CODE */

/* ---- RNG (splitmix64 / xoshiro256**) --------------------------------------- */
typedef struct { uint64_t s[4]; } rng_t;
void     rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_u64(rng_t *r);
double   rng_uniform(rng_t *r, double lo, double hi); /* [lo, hi) */
int64_t  rng_int(rng_t *r, int64_t lo, int64_t hi);   /* [lo, hi] */
uint64_t hash_str(const char *s);                       /* FNV-1a, for per-case seeds */

/* ---- host <-> dtype ---------------------------------------------------------- */
/* Writes n values (rounded to dtype t) into dst; returns bytes written. */
size_t host_from_double(mlxn_dtype t, const double *src, size_t n, void *dst);
/* Reads n values of dtype t as doubles. */
void   host_to_double(mlxn_dtype t, const void *src, size_t n, double *dst);
/* Rounds each value through dtype t (what the device sees). */
void   round_through(mlxn_dtype t, double *v, size_t n);

/* ---- measures ---------------------------------------------------------------- */
/* Normalized error sum((a-b)^2) / sum(b^2). Returns +Inf if any a is NaN/Inf
   while b is finite (NaN never passes). */
double nmse(const double *a, const double *b, size_t n);
/* The per-dtype NMSE limit for a result rounded once to dtype t after an
   f32 computation: f32 1e-10, f16 1e-6, bf16 1e-5 (see docs/TESTING.md). */
double nmse_limit(mlxn_dtype t);

/* ---- reporting ------------------------------------------------------------------ */
typedef struct {
    int passed, failed, skipped;
    const char *filter; /* substring a case name must contain, or NULL */
    bool verbose;
} report_t;
bool report_wants(const report_t *r, const char *name);
void report_case(report_t *r, const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prints the closing "N passed, N failed, N skipped" line; returns the exit code. */
int  report_finish(const report_t *r, const char *suite);

/* Parses "-b cpu|cuda|all" into the list of backends to run; opens none.
   Returns the count written to out (<= 2). */
int  parse_backends(const char *arg, mlxn_backend out[2]);

/* What a suite runs against: one opened device and an encoder on it. */
typedef struct {
    mlxn_device  *dev;
    mlxn_encoder *enc;
    const char   *backend; /* "cpu" or "cuda" */
} test_env;
typedef void (*suite_fn)(const test_env *env, report_t *rep, void *user);

/* The common main of the C tests: parses -b cpu|cuda|all, -o SUBSTRING and -v
   (any other argument is an error), then runs fn once per backend that can be
   opened (one that cannot counts as skipped, so a run with no GPU exits 77),
   and prints the closing "N passed, N failed, N skipped" line. Returns the
   process exit code. */
int run_suite(int argc, char **argv, const char *suite, suite_fn fn, void *user);

/* ---- device buffers for differential cases --------------------------------- */

#define GUARD_ELEMS 64 /* guard elements on each side of a guarded output */

/* An output view inside a larger allocation: the view is poisoned with
   all-ones bytes (NaN in every float dtype), GUARD_ELEMS elements on each side
   hold 0xA5 bytes. `misalign` shifts the view by that many elements. */
typedef struct {
    mlxn_buffer *base, *view;
    mlxn_dtype dtype;
    int64_t n, lead; /* view elements; elements before the view */
    int64_t total;
} guarded_t;
mlxn_status guarded_new(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, int misalign, guarded_t *g);
/* Writes host values (rounded to the dtype) into the view, keeping the guards. */
mlxn_status guarded_fill(guarded_t *g, const double *v);
/* Reads the view back as doubles; *guards_ok tells whether every guard byte survived. */
mlxn_status guarded_read(guarded_t *g, double *out, bool *guards_ok);
void guarded_free(guarded_t *g);

/* A new buffer of dtype t and shape holding v (rounded to t). */
mlxn_status upload_values(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, const double *v, mlxn_buffer **out);

/* A uniform draw in [lo, hi) that is non-zero after rounding to dtype t. */
double rng_nonzero(rng_t *rng, mlxn_dtype t, double lo, double hi);

/* A 1-D buffer of n values of dtype t held as a view `misalign` elements into
   a larger base (the elements before it are 1.0): the misaligned-input form
   of upload_values. Free *view, then *base. */
mlxn_status upload_values_misaligned(mlxn_device *d, mlxn_dtype t, int64_t n, const double *v, int misalign,
                                     mlxn_buffer **base, mlxn_buffer **view);

/* Checks a differential case's result: NMSE under `limit` (and guards intact);
   reports it under `name`. */
void check_result(report_t *rep, const char *name, const double *got, const double *ref, size_t n, double limit,
                  bool guards_ok);

/* Outputs of a validation case: filled with a byte pattern before the bad
   call, and after it they must still hold exactly what they held then
   (outputs may overlap one another: the snapshot is taken after all the
   patterns are written). NULL outputs are skipped. */
#define OUT_PATTERN_MAX 4
typedef struct {
    mlxn_buffer *out[OUT_PATTERN_MAX];
    unsigned char *pat[OUT_PATTERN_MAX], *back[OUT_PATTERN_MAX];
    int n;
} out_pattern;

/* Writes the patterns and takes the snapshot; false when host memory ran out. */
bool out_pattern_fill(out_pattern *g, mlxn_buffer *const *outs, int n);
/* Waits for enc, then tells whether every output still holds its snapshot. */
bool out_pattern_intact(out_pattern *g, mlxn_encoder *enc);
void out_pattern_free(out_pattern *g);

#endif
