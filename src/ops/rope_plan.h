/* rope_plan.h — one description of every RoPE flavour, shared by the CPU and
   CUDA kernels (C and CUDA C++).

   All flavours rotate pairs of elements of each head. Pair p (0 <= p < n_pairs)
   lives at element  a(p) = (p / group) * 2*group + p % group  and its partner at
   a(p) + group:
     NORMAL (interleaved):        group = 1            -> (2p, 2p+1)
     NEOX, MROPE, IMROPE, VISION: group = n_pairs      -> (p, p + n_dims/2)
     Gemma-4 vision 2-D:          group = head_dim/4   -> two NeoX halves
   Elements [2*n_pairs, head_dim) are copied.

   The angle of pair p is  theta = pos[axis(p)] * coef(p) / ff[p]  (ff only for
   plain RoPE with freq factors), and cos/sin are scaled by mscale. coef folds
   freq_base^(-2*idx/denom) and the YaRN interpolation mix; it is computed in
   double precision so that large positions keep their accuracy. */
#ifndef MLXN_ROPE_PLAN_H
#define MLXN_ROPE_PLAN_H

#include <stdint.h>
#ifndef __CUDACC__
#include <math.h>
#endif

#ifdef __CUDACC__
#define MLXN_HD __host__ __device__ __forceinline__
#else
#define MLXN_HD static inline
#endif

typedef enum {
    MLXN_RP_PLAIN = 0,   /* ggml NORMAL/NEOX, one position axis, YaRN, freq factors */
    MLXN_RP_MROPE,       /* contiguous sections                                      */
    MLXN_RP_IMROPE,      /* interleaved sections                                     */
    MLXN_RP_VISION,      /* two sections, index restarts in the second               */
    MLXN_RP_VISION2D     /* Gemma-4 vision: axis = p / group, idx = p % group          */
} mlxn_rope_kind;

#ifndef MLXN_ROPE_MAX_HEAD_DIM
#define MLXN_ROPE_MAX_HEAD_DIM 8192 /* also in mlxn.h */
#endif

typedef struct {
    int64_t n_rows;     /* batch * seq_len token rows                         */
    int64_t seq_len;    /* token t of row r is r % seq_len                     */
    int32_t n_heads;
    int32_t head_dim;
    int32_t n_pairs;    /* rotated pairs                                       */
    int32_t group;      /* pair layout, see above                              */
    int32_t kind;       /* mlxn_rope_kind                                      */
    int32_t dtype;      /* mlxn_dtype of input/output                          */
    int32_t pos_unsigned; /* positions are u32 (else i32)                     */
    int32_t has_ff;
    int32_t sections[4];
    int32_t yarn;       /* ext_factor != 0                                     */
    double  log2_base;  /* log2(freq_base)                                     */
    double  denom;      /* exponent denominator: n_dims, rope_dim or head_dim/2 */
    double  freq_scale, ext_factor, corr_low, corr_high;
    double  mscale;     /* cos/sin scale: attn_factor (times YaRN's correction) */
} mlxn_rope_plan;

/* Position axis and frequency index of pair p. */
MLXN_HD int mlxn_rope_axis(const mlxn_rope_plan *rp, int p, int *idx) {
    const int32_t *s = rp->sections;
    switch (rp->kind) {
    case MLXN_RP_MROPE: {
        int sum = s[0] + s[1] + s[2] + s[3];
        int q = p % sum;
        *idx = p;
        if (q < s[0]) return 0;
        if (q < s[0] + s[1]) return 1;
        if (q < s[0] + s[1] + s[2]) return 2;
        return 3;
    }
    case MLXN_RP_IMROPE: {
        int sum = s[0] + s[1] + s[2] + s[3];
        int q = p % sum;
        *idx = p;
        if (q % 3 == 0 && q < 3 * s[0]) return 0;
        if (q % 3 == 1 && q < 3 * s[1]) return 1;
        if (q % 3 == 2 && q < 3 * s[2]) return 2;
        return 3;
    }
    case MLXN_RP_VISION: {
        int sum = s[0] + s[1];
        int q = p % sum;
        if (q < s[0]) { *idx = q; return 0; }
        *idx = q - s[0];
        return 1;
    }
    case MLXN_RP_VISION2D:
        *idx = p % rp->group;
        return p / rp->group;
    default:
        *idx = p;
        return 0;
    }
}

/* coef(p): freq_base^(-2*idx/denom) times the YaRN interpolation factor. */
MLXN_HD double mlxn_rope_coef(const mlxn_rope_plan *rp, int p, int idx) {
    double c = exp2(-rp->log2_base * (2.0 * (double)idx / rp->denom));
    if (rp->kind == MLXN_RP_PLAIN) {
        double mix = 0.0;
        if (rp->yarn) {
            double width = rp->corr_high - rp->corr_low;
            if (!(width > 0.001)) width = 0.001; /* also catches -inf */
            double y = ((double)p - rp->corr_low) / width;
            if (y < 0.0) y = 0.0;
            if (y > 1.0) y = 1.0;
            mix = (1.0 - y) * rp->ext_factor;
        }
        c *= rp->freq_scale * (1.0 - mix) + mix;
    }
    return c;
}

#endif
