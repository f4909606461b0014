/* cases.h — the benchmark cases of `mlxn bench` and the peer's figures.

   Shapes follow ggml's test-backend-ops perf cases (ne = [head_dim, n_heads,
   n_tokens] there, [n_tokens, n_heads, head_dim] here) so the numbers compare
   directly. Peer figures: ggml 0.21.0 (d99724f), test-backend-ops perf, f32,
   on our H100 (shared/reference/anchors-h100.md) and on our 2-core CPU
   machine (anchors-cpu.md; the side-by-side run of docs/PERF.md where measured). */
#ifndef MLXN_BENCH_CASES_H
#define MLXN_BENCH_CASES_H

#include "mlxn.h"

typedef enum { BENCH_ROPE, BENCH_ROPE_MULTI, BENCH_VISION2D } bench_op;

typedef struct {
    const char *name;      /* what the table prints */
    bench_op op;
    mlxn_dtype dtype;
    int seq, heads, head_dim, n_dims; /* n_dims: rotated dims (rope) or rope_dim (rope_multi) */
    int mode;              /* mlxn_rope_mode or mlxn_rope_multi_mode */
    unsigned sections[4];
    double peer_cuda_us;   /* 0 = no peer figure */
    double peer_cpu_us;
} bench_case;

static const bench_case BENCH_CASES[] = {
    {"ROPE NORMAL f32 [128,32,512] nd128", BENCH_ROPE, MLXN_F32, 512, 32, 128, 128, MLXN_ROPE_NORMAL, {0}, 12.16, 357.6},
    {"ROPE NORMAL f32 [128,64,512] nd128", BENCH_ROPE, MLXN_F32, 512, 64, 128, 128, MLXN_ROPE_NORMAL, {0}, 22.73, 0},
    {"ROPE NEOX f32 [80,32,512] nd20", BENCH_ROPE, MLXN_F32, 512, 32, 80, 20, MLXN_ROPE_NEOX, {0}, 20.26, 0},
    {"ROPE NEOX f32 [64,8,512] nd64", BENCH_ROPE, MLXN_F32, 512, 8, 64, 64, MLXN_ROPE_NEOX, {0}, 5.37, 0},
    {"ROPE MROPE f32 [128,12,512]", BENCH_ROPE_MULTI, MLXN_F32, 512, 12, 128, 128, MLXN_ROPE_MROPE, {16, 24, 24, 0},
     5.25, 368.9},
    {"ROPE IMROPE f32 [128,12,512]", BENCH_ROPE_MULTI, MLXN_F32, 512, 12, 128, 128, MLXN_ROPE_IMROPE, {24, 20, 20, 0},
     5.33, 481.6},
    {"ROPE VISION f32 [80,16,2]", BENCH_ROPE_MULTI, MLXN_F32, 2, 16, 80, 80, MLXN_ROPE_VISION, {20, 20, 0, 0}, 4.23, 0},
    {"ROPE NORMAL f16 [128,32,512] nd128", BENCH_ROPE, MLXN_F16, 512, 32, 128, 128, MLXN_ROPE_NORMAL, {0}, 0, 0},
    {"ROPE NEOX bf16 [128,32,512] nd128", BENCH_ROPE, MLXN_BF16, 512, 32, 128, 128, MLXN_ROPE_NEOX, {0}, 0, 0},
    {"ROPE IMROPE bf16 Qwen3.5 [256,32,512] r64", BENCH_ROPE_MULTI, MLXN_BF16, 512, 32, 256, 64, MLXN_ROPE_IMROPE,
     {11, 11, 10, 0}, 0, 0},
    {"ROPE NEOX f32 decode [128,32,1]", BENCH_ROPE, MLXN_F32, 1, 32, 128, 128, MLXN_ROPE_NEOX, {0}, 0, 0},
    {"ROPE NEOX f32 prefill [128,32,4096]", BENCH_ROPE, MLXN_F32, 4096, 32, 128, 128, MLXN_ROPE_NEOX, {0}, 0, 0},
    {"VISION_2D f32 [72,16,4096]", BENCH_VISION2D, MLXN_F32, 4096, 16, 72, 72, 0, {0}, 0, 0},
};

#define BENCH_N_CASES (sizeof BENCH_CASES / sizeof BENCH_CASES[0])

#endif
