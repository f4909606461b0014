/* cpu.h — entry points of the CPU backend's op kernels. */
#ifndef MLXN_CPU_H
#define MLXN_CPU_H

#include "backend.h"

/* OpenMP threads the CPU kernels use (MLXN_NUM_THREADS, else all cores). */
int mlxn_cpu_threads(void);

int mlxn_cpu_rope_run(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_rms_norm(void *dev, void *enc, const mlxn_op_call *c); /* norm.c        */
int mlxn_cpu_l2_norm(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_unary(void *dev, void *enc, const mlxn_op_call *c);    /* elementwise.c */
int mlxn_cpu_binary(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_glu(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_cast(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_softmax(void *dev, void *enc, const mlxn_op_call *c);  /* softmax.c     */
int mlxn_cpu_add_rms_norm(void *dev, void *enc, const mlxn_op_call *c);  /* fused_norm.c */
int mlxn_cpu_rms_norm_add(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_rms_norm_gate(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_gather_rows(void *dev, void *enc, const mlxn_op_call *c);  /* layout.c */
int mlxn_cpu_permute(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_copy_2d(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_repeat_heads(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_argmax(void *dev, void *enc, const mlxn_op_call *c);  /* reduce.c */
int mlxn_cpu_cumsum(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_row_sum(void *dev, void *enc, const mlxn_op_call *c);
/* [sort] */
int mlxn_cpu_argsort(void *dev, void *enc, const mlxn_op_call *c); /* sort.c */
int mlxn_cpu_top_k(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_sort_workspace(void *dev, const mlxn_op_call *c, size_t *bytes);
/* [/sort] */
/* [sample] */
int mlxn_cpu_moe_softmax_topk(void *dev, void *enc, const mlxn_op_call *c); /* sample.c */
int mlxn_cpu_moe_weighted_reduce(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_softmax_sample(void *dev, void *enc, const mlxn_op_call *c);
/* [/sample] */
/* [fused_norm2] */
int mlxn_cpu_rms_norm_mul(void *dev, void *enc, const mlxn_op_call *c); /* fused_norm.c */
int mlxn_cpu_head_norm_rope(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_moe_wsum_norm_add(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_triple_norm(void *dev, void *enc, const mlxn_op_call *c);
/* [/fused_norm2] */
/* [backward] */
int mlxn_cpu_softmax_backward(void *dev, void *enc, const mlxn_op_call *c); /* backward.c */
int mlxn_cpu_rms_norm_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_unary_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_row_sum_backward(void *dev, void *enc, const mlxn_op_call *c);
int mlxn_cpu_rms_inv(void *dev, void *enc, const mlxn_op_call *c);
/* [/backward] */
/* [quant_ggml] */
int mlxn_cpu_dequant_ggml(void *dev, void *enc, const mlxn_op_call *c); /* quant_ggml.c */
/* [/quant_ggml] */
/* [quant_mlx] */
int mlxn_cpu_dequant_mlx(void *dev, void *enc, const mlxn_op_call *c); /* quant_mlx.c */
int mlxn_cpu_gather_mlx(void *dev, void *enc, const mlxn_op_call *c);
/* [/quant_mlx] */

#endif
