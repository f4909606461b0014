/* norm_reduce.cuh — the warp and block sums shared by the norm kernels
   (norm.cu, fused_norm.cu); included inside their anonymous namespace. */
/* ---- reductions -------------------------------------------------------------- */

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, called once per kernel):
   every warp reduces the per-warp partials itself, so one barrier suffices. */
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[32];
    v = warp_sum(v);
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) part[wid] = v;
    __syncthreads();
    return warp_sum(lane < (int)(blockDim.x >> 5) ? part[lane] : 0.0f);
}

struct WarpReduce {
    __device__ __forceinline__ float operator()(float v) const { return warp_sum(v); }
};
struct BlockReduce {
    __device__ __forceinline__ float operator()(float v) const { return block_sum(v); }
};

