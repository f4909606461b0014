/* ref_sample.h — float64 references of the MoE-routing and sampling family,
   written from the contracts in include/mlxn.h ("MoE routing and sampling"),
   sharing no code with the library. Inputs are double arrays holding the
   exact values the device sees (already rounded to the input dtype). */
#ifndef MLXN_REF_SAMPLE_H
#define MLXN_REF_SAMPLE_H

#include <stdint.h>

/* Router: per row of E logits, softmax over all E, the k most probable
   experts (logit descending, ties to the lower id) and their probabilities,
   renormalized over the k when renorm, times scale[id] when scale != NULL.
   Rows with a NaN or +inf: ids 0..k-1, weights NaN; rows of only -inf:
   ids 0..k-1, weights 0. */
void ref_moe_softmax_topk(const double *x, int64_t T, int64_t E, int k, int renorm, const double *scale,
                          int32_t *ids, double *w);

/* out[t,:] = sum_j w[t,j] y[t,j,:] + g[t] y_shared[t,:] + res[t,:]; g = gate[t],
   sigmoid(gate[t]) when sigmoid, 1 when gate == NULL; y_shared/res may be NULL. */
void ref_moe_weighted_reduce(const double *y, const double *w, const double *y_shared, const double *gate,
                             int sigmoid, const double *res, int64_t T, int64_t K, int64_t D, double *out);

typedef struct {
    double temperature; /* 0 = greedy */
    int64_t top_k;      /* 0 = off */
    double top_p;       /* 1 = off */
    double min_p;       /* 0 = off */
} ref_sample_params;

/* The final distribution of one row of V logits: prob[i] (0 for filtered
   tokens; sums to 1). Returns 0, or -1 for a row with no distribution (a NaN
   or +inf, or only -inf). The steps that the contract fixes in f32 (z = x/T,
   d = z - zmax, the min-p compare against (float)ln(min_p)) are done in f32;
   masses exp(d) and everything after in double.
   *dlog receives d (the f32 value) per token, for logprobs (may be NULL).
   *tp_margin: how far the top-p decision is from flipping, as a fraction of
   the top-k mass (the smaller of: mass of the kept prefix - top_p * mass, and
   top_p * mass - mass of the prefix one shorter); 1 when top-p is off or
   greedy. *mass (may be NULL): the kept mass in units of the largest
   exp(d) (= 1), i.e. sum of exp(d_i) over the kept tokens. */
int ref_sample_dist(const double *x, int64_t V, const ref_sample_params *p, double *prob, double *dlog,
                    double *tp_margin, double *mass);

/* Inverse CDF over prob in index order: the first i whose running sum exceeds
   u (u clamped to [0, 1) as the contract reads it). *u_margin: the distance
   of u from the nearest CDF boundary of the chosen token that separates it
   from another token (the start of the first and the end of the last token
   with probability > 0 are not such boundaries; may be NULL). */
int64_t ref_sample_draw(const double *prob, int64_t V, double u, double *u_margin);

#endif
