/* rope.cu — every RoPE flavour (NORMAL/NEOX/YaRN, MROPE/IMROPE/VISION,
   Gemma-4 vision 2-D) through one mlxn_rope_plan.

   One block per token row. The block first computes cos/sin of every pair of
   its token once (angle in double, reduced mod 2*pi, then sincosf) into shared
   memory, then all heads of the row are rotated with 16-byte (f32) or 8-byte
   (f16/bf16) accesses. Variants (RV):
     0  scalar pairs             (any layout, any alignment)
     1  interleaved, 2 pairs/vec (NORMAL; n_pairs even)
     2  grouped, 4 pairs/2 vecs  (NeoX-like; group % 4 == 0)
   The pass-through tail [2*n_pairs, head_dim) is copied 4 elements at a time
   when aligned. In-place (x == y) is safe: each element is read and written by
   the same thread. */
#include "cuda_common.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

__device__ __forceinline__ float ld1(const float *p) { return *p; }
__device__ __forceinline__ float ld1(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ float ld1(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st1(float *p, float v) { *p = v; }
__device__ __forceinline__ void st1(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void st1(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

__device__ __forceinline__ void ld4(const float *p, float v[4]) {
    float4 q = *reinterpret_cast<const float4 *>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void st4(float *p, const float v[4]) {
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void ld4(const __half *p, float v[4]) {
    uint2 q = *reinterpret_cast<const uint2 *>(p);
    float2 a = __half22float2(*reinterpret_cast<__half2 *>(&q.x));
    float2 b = __half22float2(*reinterpret_cast<__half2 *>(&q.y));
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void st4(__half *p, const float v[4]) {
    __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
    uint2 q;
    q.x = *reinterpret_cast<unsigned *>(&a);
    q.y = *reinterpret_cast<unsigned *>(&b);
    *reinterpret_cast<uint2 *>(p) = q;
}
__device__ __forceinline__ void ld4(const __nv_bfloat16 *p, float v[4]) {
    uint2 q = *reinterpret_cast<const uint2 *>(p);
    float2 a = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&q.x));
    float2 b = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&q.y));
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void st4(__nv_bfloat16 *p, const float v[4]) {
    __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
    uint2 q;
    q.x = *reinterpret_cast<unsigned *>(&a);
    q.y = *reinterpret_cast<unsigned *>(&b);
    *reinterpret_cast<uint2 *>(p) = q;
}

struct RopeArgs {
    mlxn_rope_plan rp;
    const void *x;
    void *y;
    const void *pos[4];
    const float *ff;
    int rot_units;  /* per head */
    int pass_units; /* per head */
    int pass_vec;   /* pass-through copied 4 at a time */
};

__device__ __forceinline__ double pos_at(const RopeArgs &a, int axis, int64_t t) {
    return a.rp.pos_unsigned ? (double)((const uint32_t *)a.pos[axis])[t] : (double)((const int32_t *)a.pos[axis])[t];
}

/* The elements one thread moves for one unit (a rotated unit or a copied
   pass-through unit), held in registers between the load and the store. */
struct Unit {
    float a[4], b[4];
};

template <typename T, int RV>
__device__ __forceinline__ void load_unit(const RopeArgs &a, const T *xh, int k, Unit &v) {
    const int G = a.rp.group;
    if (k < a.rot_units) {
        if (RV == 1) {
            ld4(xh + 4 * k, v.a);
        } else if (RV == 2) {
            const int p = 4 * k, e = (p / G) * 2 * G + p % G;
            ld4(xh + e, v.a);
            ld4(xh + e + G, v.b);
        } else {
            const int e = (k / G) * 2 * G + k % G;
            v.a[0] = ld1(xh + e);
            v.b[0] = ld1(xh + e + G);
        }
    } else if (a.pass_vec) {
        ld4(xh + 2 * a.rp.n_pairs + 4 * (k - a.rot_units), v.a);
    } else {
        v.a[0] = ld1(xh + 2 * a.rp.n_pairs + (k - a.rot_units));
    }
}

template <typename T, int RV>
__device__ __forceinline__ void store_unit(const RopeArgs &a, const float2 *cs, T *yh, int k, const Unit &v) {
    const int G = a.rp.group;
    if (k < a.rot_units) {
        if (RV == 1) { /* pairs 2k, 2k+1 at elements 4k..4k+3 */
            const float2 c0 = cs[2 * k], c1 = cs[2 * k + 1];
            float o[4] = {v.a[0] * c0.x - v.a[1] * c0.y, v.a[0] * c0.y + v.a[1] * c0.x,
                          v.a[2] * c1.x - v.a[3] * c1.y, v.a[2] * c1.y + v.a[3] * c1.x};
            st4(yh + 4 * k, o);
        } else if (RV == 2) { /* pairs 4k..4k+3 inside one group */
            const int p = 4 * k, e = (p / G) * 2 * G + p % G;
            float o0[4], o1[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const float2 c = cs[p + i];
                o0[i] = v.a[i] * c.x - v.b[i] * c.y;
                o1[i] = v.a[i] * c.y + v.b[i] * c.x;
            }
            st4(yh + e, o0);
            st4(yh + e + G, o1);
        } else {
            const int e = (k / G) * 2 * G + k % G;
            const float2 c = cs[k];
            st1(yh + e, v.a[0] * c.x - v.b[0] * c.y);
            st1(yh + e + G, v.a[0] * c.y + v.b[0] * c.x);
        }
    } else if (a.pass_vec) {
        st4(yh + 2 * a.rp.n_pairs + 4 * (k - a.rot_units), v.a);
    } else {
        st1(yh + 2 * a.rp.n_pairs + (k - a.rot_units), v.a[0]);
    }
}


/* Units base, base + blockDim, ... (UNROLL of them) of token row `row`. */
template <typename T, int RV, int UNROLL>
__device__ __forceinline__ void load_batch(const RopeArgs &a, const T *x, int64_t row, int base, Unit (&v)[UNROLL]) {
    const int uph = a.rot_units + a.pass_units, total = a.rp.n_heads * uph;
#pragma unroll
    for (int j = 0; j < UNROLL; j++) {
        const int u = base + j * (int)blockDim.x;
        if (u < total) {
            const int h = u / uph;
            load_unit<T, RV>(a, x + (row * a.rp.n_heads + h) * (int64_t)a.rp.head_dim, u - h * uph, v[j]);
        }
    }
}

template <typename T, int RV, int UNROLL>
__device__ __forceinline__ void store_batch(const RopeArgs &a, const float2 *cs, T *y, int64_t row, int base,
                                            const Unit (&v)[UNROLL]) {
    const int uph = a.rot_units + a.pass_units, total = a.rp.n_heads * uph;
#pragma unroll
    for (int j = 0; j < UNROLL; j++) {
        const int u = base + j * (int)blockDim.x;
        if (u < total) {
            const int h = u / uph;
            store_unit<T, RV>(a, cs, y + (row * a.rp.n_heads + h) * (int64_t)a.rp.head_dim, u - h * uph, v[j]);
        }
    }
}

/* One block per token row. Order of work, chosen so that the three memory
   latencies of a row overlap instead of adding up: (1) the first batch of
   each thread's data loads and the position loads are issued, (2) the pair
   coefficients are computed in double while those loads fly, (3) cos/sin go to
   shared memory, (4) the batch is rotated and stored, later batches are
   loaded UNROLL units at a time before any of them is stored. With UNROLL 8 a
   row of up to 2048 units is in flight at once, so typical rows take one batch. */
template <typename T, int RV, int UNROLL>
__global__ void __launch_bounds__(256) rope_kernel(const RopeArgs a) {
    extern __shared__ float2 cs[]; /* (cos, sin) * mscale per pair */
    const mlxn_rope_plan &rp = a.rp;
    const int64_t row = blockIdx.x;
    const int64_t t = row % rp.seq_len;
    const T *x = static_cast<const T *>(a.x);
    T *y = static_cast<T *>(a.y);
    const int uph = a.rot_units + a.pass_units;
    const int total = rp.n_heads * uph;
    const int bd = blockDim.x, tid = threadIdx.x;

    /* the pair coefficients need no input: compute them before waiting on the
       previous kernel (programmatic dependent launch; a no-op otherwise) */
    const int p0 = tid;
    int idx0 = 0, axis0 = 0;
    double coef0 = 0.0;
    if (p0 < rp.n_pairs) {
        axis0 = mlxn_rope_axis(&rp, p0, &idx0);
        coef0 = mlxn_rope_coef(&rp, p0, idx0);
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();
    cudaTriggerProgrammaticLaunchCompletion();
#endif

    Unit v[UNROLL];
    int base = tid;
    load_batch<T, RV, UNROLL>(a, x, row, base, v);

    for (int p = tid; p < rp.n_pairs; p += bd) {
        int idx = idx0, axis = axis0;
        double coef = coef0;
        if (p != p0) {
            axis = mlxn_rope_axis(&rp, p, &idx);
            coef = mlxn_rope_coef(&rp, p, idx);
        }
        const double pos = pos_at(a, axis, t);
        if (a.ff) coef /= (double)a.ff[p];
        const double th = pos * coef;
        const double k = rint(th * 0.15915494309189535); /* 1/(2 pi) */
        double r = fma(-k, 6.283185307179586, th);       /* 2 pi, hi */
        r = fma(-k, 2.4492935982947064e-16, r);          /* 2 pi, lo */
        float s, c;
        sincosf((float)r, &s, &c);
        const float ms = (float)rp.mscale;
        cs[p] = make_float2(c * ms, s * ms);
    }
    __syncthreads();

    for (;;) {
        store_batch<T, RV, UNROLL>(a, cs, y, row, base, v);
        base += UNROLL * bd;
        if (base >= total) break;
        load_batch<T, RV, UNROLL>(a, x, row, base, v);
    }
}

template <typename T, int UN>
int launch_un(const RopeArgs &a, int rv, int threads, size_t smem, cudaStream_t st, bool pdl) {
    void (*k)(const RopeArgs) = rv == 1 ? rope_kernel<T, 1, UN> : rv == 2 ? rope_kernel<T, 2, UN> : rope_kernel<T, 0, UN>;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)a.rp.n_rows);
    cfg.blockDim = dim3((unsigned)threads);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    MLXN_CK(cudaLaunchKernelEx(&cfg, k, a));
    return MLXN_OK;
}

template <typename T>
int launch_t(const RopeArgs &a, int rv, int threads, size_t smem, cudaStream_t st, int unroll, bool pdl) {
    if (unroll == 4) return launch_un<T, 4>(a, rv, threads, smem, st, pdl);
    return launch_un<T, 8>(a, rv, threads, smem, st, pdl);
}

} // namespace

extern "C" int mlxn_cuda_rope_run(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    RopeArgs a;
    a.rp = c->u.rope;
    const mlxn_rope_plan &rp = a.rp;
    if (rp.n_rows > 0x7fffffffLL)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %lld token rows exceed the CUDA grid limit", c->name,
                                  (long long)rp.n_rows);
    a.x = c->args[0].ptr;
    a.y = c->args[1].ptr;
    const void *pos = c->args[2].ptr;
    for (int i = 0; i < 4; i++) a.pos[i] = pos;
    if (rp.kind == MLXN_RP_MROPE || rp.kind == MLXN_RP_IMROPE || rp.kind == MLXN_RP_VISION)
        for (int i = 0; i < 4; i++) a.pos[i] = (const int32_t *)pos + (int64_t)i * rp.seq_len;
    if (rp.kind == MLXN_RP_VISION2D) a.pos[1] = c->args[3].ptr;
    a.ff = rp.has_ff ? (const float *)c->args[3].ptr : NULL;

    const size_t es = c->args[0].nbytes / (size_t)c->args[0].numel;
    const uintptr_t align = (uintptr_t)a.x | (uintptr_t)a.y;
    const bool aligned = (align % (4 * es)) == 0 && rp.head_dim % 4 == 0;
    int rv = 0;
    if (aligned && rp.group == 1 && rp.n_pairs % 2 == 0) rv = 1;
    else if (aligned && rp.group % 4 == 0) rv = 2;
    a.rot_units = rv == 1 ? rp.n_pairs / 2 : rv == 2 ? rp.n_pairs / 4 : rp.n_pairs;
    const int tail = rp.head_dim - 2 * rp.n_pairs;
    a.pass_vec = aligned && tail % 4 == 0;
    a.pass_units = a.pass_vec ? tail / 4 : tail;

    const long long units = (long long)rp.n_heads * (a.rot_units + a.pass_units);
    if (units > 0x7fffffffLL)
        return mlxn_backend_error(MLXN_ERR_UNSUPPORTED, "%s: %d heads per token exceed the CUDA kernel's index range",
                                  c->name, rp.n_heads);
    /* enough threads that each handles about one batch of UNROLL units, at
       least 64 (the pair coefficients are spread over the block too) */
    /* Variant choice, measured on the H100 (docs/PERF.md): 8 units per thread
       batch win on long rows (>= 2048 units: the whole row is in flight with
       256 threads), 4 on shorter rows (more threads share the row). The
       MLXN_CUDA_ROPE_UNROLL=4 kernel-lab switch forces 4. */
    const mlxn_cuda_dev *cd = (const mlxn_cuda_dev *)dev;
    const int unroll = cd->rope_unroll == 8 && units >= 2048 ? 8 : 4;
    long long want = (units + unroll - 1) / unroll;
    if (want < rp.n_pairs) want = rp.n_pairs;
    int threads = (int)((want + 31) / 32 * 32);
    if (threads < 64) threads = 64;
    if (threads > 256) threads = 256;
    const size_t smem = sizeof(float2) * (size_t)rp.n_pairs;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (rp.dtype) {
    case MLXN_F32: return launch_t<float>(a, rv, threads, smem, st, unroll, cd->pdl);
    case MLXN_F16: return launch_t<__half>(a, rv, threads, smem, st, unroll, cd->pdl);
    default: return launch_t<__nv_bfloat16>(a, rv, threads, smem, st, unroll, cd->pdl);
    }
}
