/* ref_sort.c — references of the sort family (see ref_sort.h). */
#include "ref_sort.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* -1, 0, 1: a before, equal to, after b in ascending value order. */
static int cmp_value(double a, double b) {
    const int an = isnan(a), bn = isnan(b);
    if (an || bn) return an - bn; /* NaN == NaN, NaN > any number */
    return (a > b) - (a < b);     /* -0 == +0 */
}

/* Does element i come strictly before element j (ignoring indices)? */
static int before(const double *xr, int32_t i, int32_t j, int ascending) {
    const int c = cmp_value(xr[i], xr[j]);
    return ascending ? c < 0 : c > 0;
}

/* Stable top-down merge sort of a[0..n) (tmp: room for n). */
static void msort(const double *xr, int32_t *a, int32_t *tmp, int64_t n, int ascending) {
    if (n < 2) return;
    const int64_t h = n / 2;
    msort(xr, a, tmp, h, ascending);
    msort(xr, a + h, tmp, n - h, ascending);
    int64_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        /* take from the right half only if it is strictly before: stability */
        if (before(xr, a[j], a[i], ascending)) tmp[o++] = a[j++];
        else tmp[o++] = a[i++];
    }
    while (i < h) tmp[o++] = a[i++];
    while (j < n) tmp[o++] = a[j++];
    memcpy(a, tmp, sizeof(int32_t) * (size_t)n);
}

void ref_argsort(const double *x, int64_t rows, int64_t n, int ascending, int32_t *idx) {
    int32_t *tmp = malloc(sizeof(int32_t) * (size_t)n);
    if (!tmp) abort(); /* test-side reference only */
    for (int64_t r = 0; r < rows; r++) {
        int32_t *a = idx + r * n;
        for (int64_t j = 0; j < n; j++) a[j] = (int32_t)j;
        msort(x + r * n, a, tmp, n, ascending);
    }
    free(tmp);
}

void ref_top_k(const double *x, int64_t rows, int64_t n, int k, int32_t *idx) {
    int32_t *full = malloc(sizeof(int32_t) * (size_t)n);
    if (!full) abort();
    for (int64_t r = 0; r < rows; r++) {
        ref_argsort(x + r * n, 1, n, 0, full);
        memcpy(idx + r * k, full, sizeof(int32_t) * (size_t)k);
    }
    free(full);
}
