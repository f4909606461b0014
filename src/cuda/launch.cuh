// launch.cuh — kernel launches with programmatic dependent launch (PDL).
//
// On sm_90+, a kernel launched with the programmatic-serialization attribute
// may be scheduled while the kernel before it in the stream is still running;
// it must then wait (pdl_enter) before it touches memory. Each kernel also
// signals at entry that its own dependents may be scheduled: the dependent
// still waits for this grid's completion and memory flush in its own
// pdl_enter, so the early signal only hides launch latency. Because every
// block of the primary has started when the signal completes, a waiting
// dependent never holds SM slots a primary block still needs.
#ifndef MLXN_CUDA_LAUNCH_CUH
#define MLXN_CUDA_LAUNCH_CUH

#include <utility>

#include "cuda_common.h"

__device__ __forceinline__ void pdl_enter() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();
    cudaTriggerProgrammaticLaunchCompletion();
#endif
}

// True when the device's kernels launch with PDL (sm_90+, not disabled by
// MLXN_CUDA_PDL=0).
static inline bool pdl_on(const void *dev) { return static_cast<const mlxn_cuda_dev *>(dev)->pdl != 0; }

// Launches k<<<grid, block, smem, st>>>(args...), with PDL when pdl is set.
// Returns the launch's cudaError_t (check it with MLXN_CK).
template <typename... KArgs, typename... Args>
static cudaError_t launch_k(void (*k)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, bool pdl,
                            Args &&...args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, k, std::forward<Args>(args)...);
}

// True when thread-block clusters may be used: sm_90+ code on an sm_90+
// device, not turned off by MLXN_CUDA_CLUSTERS=0 (src/cuda/cuda.cu).
static inline bool clusters_on(const void *dev) { return static_cast<const mlxn_cuda_dev *>(dev)->clusters != 0; }

// Launches k<<<grid, block, smem, st>>>(args...) in thread-block clusters of
// cluster_x blocks along x (sm_90+; grid.x a multiple of cluster_x), with PDL
// when pdl is set.
template <typename... KArgs, typename... Args>
static cudaError_t launch_kc(void (*k)(KArgs...), dim3 grid, dim3 block, size_t smem, unsigned cluster_x,
                             cudaStream_t st, bool pdl, Args &&...args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cudaLaunchAttribute attr[2];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = cluster_x;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 2 : 1;
    return cudaLaunchKernelEx(&cfg, k, std::forward<Args>(args)...);
}

// Launches k over grid (cluster_x, rows) in clusters of cluster_x blocks
// along x: one cluster per row.
template <typename... KArgs, typename... Args>
static cudaError_t launch_cluster_rows(void (*k)(KArgs...), unsigned cluster_x, unsigned rows, unsigned threads,
                                       cudaStream_t st, bool pdl, Args &&...args) {
    return launch_kc(k, dim3(cluster_x, rows), dim3(threads), 0, cluster_x, st, pdl, std::forward<Args>(args)...);
}

#endif
