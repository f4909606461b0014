/* sort.cu — argsort and top_k along the last dimension.
   Plan slots and argument order: src/ops/sort.c; the order: mlxn.h.

   Entries. As on the CPU (src/cpu/sort.c), element j of a row becomes an
   unsigned key whose integer order is the contract's value order (sign-flip
   mapping, -0 -> +0, every NaN -> all ones), complemented for descending
   order, so every sort here is ascending. In shared memory an element is the
   u64 entry (key32 << 32) | j: entries are distinct, and ascending entry
   order is "by value, ties by lower index", so a bitonic network (not
   stable by itself) gives the unique stable result.

   argsort, n <= 4096 (SMALL_N): one block per row (grid-stride over rows),
     the row's entries (padded with all-ones entries to P = next power of
     two) bitonic-sorted in dynamic shared memory (8P bytes <= 32 KB),
     P/2 compare-exchanges per step spread over min(P/2, 1024) threads.
   argsort, n > 4096: CUB's device-wide radix sort (cub::DeviceRadixSort::
     SortPairs, DoubleBuffer form, LSD onesweep) over ALL rows at once, on the
     composite key (row << kbits) | key, where key is the 32-bit key for f32
     and the 16-bit key of the raw f16/bf16 bits; values are the in-row
     indices j. A radix sort is stable, so ties keep index order, and the row
     in the high bits keeps the rows apart. The key type is u32 when
     kbits + row bits <= 32 (one f32 vocab row, f16 rows up to 65536) and u64
     otherwise; CUB sorts only bits [0, kbits + row bits). Rows are processed
     in groups of at most 2^30 elements (one group almost always). The values'
     second buffer is idx itself; when CUB leaves the result in the other one
     (the workspace), one async device copy moves it. Workspace (caller's,
     aligned up to 256 here): keys x2, values x1, CUB temp, whose size is
     queried from CUB both in sort_workspace and again before every sort
     (a mismatch returns an error, never an overrun).
   top_k, n <= 4096: the argsort kernel writing only the first k entries.
   top_k, n > 4096: candidate reduction. Stage 1 cuts each row into chunks
     of C elements (C = the power of two >= 4k within [1024, 4096]: 1024 for
     k <= 256, 4096 for k > 512); a block bitonic-sorts a chunk's entries in shared
     memory and keeps its k smallest entries (the chunk's top k), written to
     the workspace as [row][chunk][k] (chunks shorter than k pad with the
     all-ones entry, which never wins while the row has >= k elements). The
     union of the chunks' top k holds the row's top k, so the same kernel is
     applied to the candidate lists (ceil(L/C) chunks of L = chunks * k
     entries) until one chunk remains, whose first k are the answer; C >= 4k
     makes every stage at least 4x smaller (262144, k = 40: 256 chunks ->
     10240 candidates -> 10 chunks -> 400 -> final; k = 1024: 64 chunks ->
     65536 -> 16384 -> 4096 -> final). Two ping-pong candidate buffers in
     the workspace, each rows * ceil(n / C) * k entries of 8 bytes.

   Everything is stream-ordered on the encoder's stream: no allocation, no
   host synchronization, so it captures into a CUDA Graph (CUB's own calls
   are kernel launches and attribute queries). */
#include "cuda_common.h"

#include <cub/device/device_radix_sort.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int SMALL_N = 4096;              /* rows up to this are sorted in shared memory */
constexpr int CHUNK_MAX = 4096;            /* top_k candidate chunk: 1024..4096 by k        */
constexpr int64_t GROUP_ITEMS = 1LL << 30; /* elements per CUB sort                        */
constexpr size_t ALIGN = 256;

__device__ __forceinline__ float ld1(const float *p) { return *p; }
__device__ __forceinline__ float ld1(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ float ld1(const __nv_bfloat16 *p) { return __bfloat162float(*p); }

/* val = x element: the same dtype is copied bit for bit; f16/bf16 -> f32 is exact. */
template <typename T, typename VT> __device__ __forceinline__ void put_val(VT *dst, const T *src) {
    if constexpr (sizeof(T) == sizeof(VT)) *dst = *src;
    else *dst = ld1(src);
}

__device__ __forceinline__ uint32_t key_f32(float f) {
    uint32_t b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu; /* NaN: largest */
    if (b == 0x80000000u) b = 0;                             /* -0 == +0 */
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ uint32_t key_16(uint32_t h, uint32_t inf_bits) {
    if ((h & 0x7fffu) > inf_bits) return 0xffffu;
    if (h == 0x8000u) h = 0;
    return (h & 0x8000u) ? (~h & 0xffffu) : (h | 0x8000u);
}

/* The shared-memory entry of value v at index j. */
__device__ __forceinline__ uint64_t entry(float v, int64_t j, bool desc) {
    const uint32_t k = desc ? ~key_f32(v) : key_f32(v);
    return ((uint64_t)k << 32) | (uint64_t)(uint32_t)j;
}

/* Ascending bitonic sort of s[0..P), P a power of two (P >= 1); every thread
   of the block calls it; ends with a barrier. */
__device__ __forceinline__ void block_bitonic(uint64_t *s, int P) {
    const int half = P >> 1;
    for (int k = 2; k <= P; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < half; i += blockDim.x) {
                const int lo = 2 * i - (i & (j - 1)), hi = lo + j;
                const uint64_t a = s[lo], b = s[hi];
                const bool up = (lo & k) == 0;
                if ((a > b) == up) {
                    s[lo] = b;
                    s[hi] = a;
                }
            }
            __syncthreads();
        }
}

/* One block per row: sort the row in shared memory, write its first kout
   entries (argsort: kout = n). val may be null. */
template <typename T, typename VT>
__global__ void __launch_bounds__(1024) sort_rows_kernel(const T *__restrict__ x, int32_t *__restrict__ idx,
                                                         VT *__restrict__ val, int64_t rows, int n, int P, int desc,
                                                         int kout) {
    extern __shared__ uint64_t s[];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * (int64_t)n;
        for (int i = threadIdx.x; i < P; i += blockDim.x) s[i] = i < n ? entry(ld1(xr + i), i, desc != 0) : ~0ull;
        __syncthreads();
        block_bitonic(s, P);
        for (int i = threadIdx.x; i < kout; i += blockDim.x) {
            const int j = (int)(uint32_t)s[i];
            const int64_t o = row * (int64_t)kout + i;
            idx[o] = j;
            if (val) put_val(val + o, xr + j);
        }
        __syncthreads(); /* s is reused by the next row */
    }
}

/* One top_k candidate stage: unit u = (row, chunk) of `chunks` chunks over
   rows of L entries. first: the entries come from x (L = n), else from cin
   ([row][L]). last (chunks == 1): write idx/val, else cout [row][chunk][k]. */
template <typename T, typename VT>
__global__ void __launch_bounds__(1024) topk_stage_kernel(const T *__restrict__ x, const uint64_t *__restrict__ cin,
                                                          uint64_t *__restrict__ cout, int32_t *__restrict__ idx,
                                                          VT *__restrict__ val, int64_t rows, int64_t n, int64_t L,
                                                          int64_t chunks, int P, int k, int first, int last) {
    extern __shared__ uint64_t s[];
    const int64_t units = rows * chunks;
    for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
        const int64_t row = u / chunks, ch = u % chunks, base = ch * (int64_t)P;
        const int64_t rem = L - base;
        const int len = rem < P ? (int)rem : P;
        const T *xr = x + row * n;
        for (int i = threadIdx.x; i < P; i += blockDim.x) {
            uint64_t e = ~0ull;
            if (i < len) e = first ? entry(ld1(xr + base + i), base + i, true) : cin[row * L + base + i];
            s[i] = e;
        }
        __syncthreads();
        block_bitonic(s, P);
        if (last) {
            for (int i = threadIdx.x; i < k; i += blockDim.x) {
                const int j = (int)(uint32_t)s[i];
                const int64_t o = row * (int64_t)k + i;
                idx[o] = j;
                if (val) put_val(val + o, xr + j);
            }
        } else {
            uint64_t *co = cout + (row * chunks + ch) * (int64_t)k;
            for (int i = threadIdx.x; i < k; i += blockDim.x) co[i] = s[i];
        }
        __syncthreads();
    }
}

/* CUB path: keys[e] = (r << kbits) | key, vals[e] = j for e = r*n + j < cnt. */
template <typename K>
__global__ void make_keys_kernel(const void *__restrict__ x, K *__restrict__ keys, int32_t *__restrict__ vals,
                                 int64_t cnt, int64_t n, int dt, int kbits, int desc) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < cnt; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / n, j = e - r * n;
        uint32_t key;
        if (dt == MLXN_F32) {
            key = key_f32(static_cast<const float *>(x)[e]);
            if (desc) key = ~key;
        } else {
            const uint32_t h = static_cast<const uint16_t *>(x)[e];
            key = key_16(h, dt == MLXN_F16 ? 0x7c00u : 0x7f80u);
            if (desc) key = ~key & 0xffffu;
        }
        /* kbits == the key width only when the group is one row (r == 0) */
        keys[e] = kbits >= (int)(8 * sizeof(K)) ? (K)key : (((K)r << kbits) | (K)key);
        vals[e] = (int32_t)j;
    }
}

/* ---- planning (shared by sort_workspace and the launchers) ------------------ */

static size_t align_up(size_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

static int bits_for(int64_t v) { /* bits to hold 0..v-1 */
    int b = 0;
    while (b < 63 && (1LL << b) < v) b++;
    return b;
}

typedef struct {
    int64_t group;   /* rows per CUB sort */
    int kbits, rbits;
    bool wide;       /* u64 keys */
    size_t temp;     /* CUB temp bytes for a full group */
    size_t total;    /* workspace bytes incl. alignment slack */
} cub_plan;

template <typename K> static cudaError_t cub_temp_bytes(int64_t cnt, int end_bit, size_t *bytes, cudaStream_t st) {
    cub::DoubleBuffer<K> dk(nullptr, nullptr);
    cub::DoubleBuffer<int32_t> dv(nullptr, nullptr);
    *bytes = 0;
    return cub::DeviceRadixSort::SortPairs(nullptr, *bytes, dk, dv, (int)cnt, 0, end_bit, st);
}

static int plan_cub(int64_t rows, int64_t n, int dt, cub_plan *p) {
    p->group = rows;
    if (rows > GROUP_ITEMS / n) p->group = GROUP_ITEMS / n > 0 ? GROUP_ITEMS / n : 1;
    p->kbits = dt == MLXN_F32 ? 32 : 16;
    p->rbits = bits_for(p->group);
    p->wide = p->kbits + p->rbits > 32;
    const int64_t cnt = p->group * n;
    const size_t ksz = p->wide ? 8 : 4;
    const int end_bit = p->kbits + p->rbits;
    if (p->wide) MLXN_CK(cub_temp_bytes<uint64_t>(cnt, end_bit, &p->temp, 0));
    else MLXN_CK(cub_temp_bytes<uint32_t>(cnt, end_bit, &p->temp, 0));
    p->total = ALIGN + 2 * align_up((size_t)cnt * ksz) + align_up((size_t)cnt * 4) + align_up(p->temp);
    return MLXN_OK;
}

typedef struct {
    int chunk;       /* C: entries a block sorts in a non-final stage */
    int64_t chunks0; /* chunks of the first stage */
    size_t buf;      /* bytes of one candidate buffer */
    size_t total;
} topk_plan;

static int plan_topk(const char *name, int64_t rows, int64_t n, int k, topk_plan *p) {
    /* C >= 4k keeps every stage >= 4x smaller; small k sorts short chunks
       (more blocks, fewer bitonic steps, fewer candidates) */
    p->chunk = 1024;
    while (p->chunk < 4 * k && p->chunk < CHUNK_MAX) p->chunk <<= 1;
    p->chunks0 = (n + p->chunk - 1) / p->chunk;
    uint64_t cand = 0;
    if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)p->chunks0, &cand) ||
        __builtin_mul_overflow(cand, (uint64_t)k * 8u, &cand) || cand > (SIZE_MAX - 4 * ALIGN) / 2)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: %lld rows of %lld need a workspace too large to address",
                                  name, (long long)rows, (long long)n);
    p->buf = align_up((size_t)cand);
    p->total = ALIGN + 2 * p->buf;
    return MLXN_OK;
}

static int threads_for(int P) {
    int th = P / 2;
    if (th < 32) th = 32;
    if (th > 1024) th = 1024;
    return th;
}

static int pow2_at_least(int64_t v) {
    int P = 1;
    while (P < v) P <<= 1;
    return P;
}

static unsigned grid_for(int64_t units) {
    const int64_t cap = 1LL << 20;
    return (unsigned)(units < cap ? units : cap);
}

/* ---- argsort ------------------------------------------------------------------ */

template <typename T>
static int small_sort(const mlxn_op_call *c, cudaStream_t st, int32_t *idx, void *val, int vdt, int kout, int desc) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    const int P = pow2_at_least(n);
    const dim3 grid(grid_for(rows)), block(threads_for(P));
    const size_t smem = sizeof(uint64_t) * (size_t)P;
    if (vdt < 0)
        sort_rows_kernel<T, T><<<grid, block, smem, st>>>(x, idx, nullptr, rows, (int)n, P, desc, kout);
    else if (vdt == MLXN_F32)
        sort_rows_kernel<T, float><<<grid, block, smem, st>>>(x, idx, static_cast<float *>(val), rows, (int)n, P,
                                                              desc, kout);
    else
        sort_rows_kernel<T, T><<<grid, block, smem, st>>>(x, idx, static_cast<T *>(val), rows, (int)n, P, desc, kout);
    MLXN_CK_LAUNCH(c->name);
    return MLXN_OK;
}

template <typename K>
static int cub_sort(const mlxn_op_call *c, cudaStream_t st, const cub_plan *p, char *ws, size_t ws_bytes) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0], desc = c->u.gen.d[1] == 0;
    const size_t es = dt == MLXN_F32 ? 4 : 2;
    const char *x = static_cast<const char *>(c->args[0].ptr);
    int32_t *idx = static_cast<int32_t *>(c->args[1].ptr);
    const int64_t gcnt = p->group * n;
    K *ka = reinterpret_cast<K *>(ws);
    K *kb = reinterpret_cast<K *>(ws + align_up((size_t)gcnt * sizeof(K)));
    int32_t *va = reinterpret_cast<int32_t *>(ws + 2 * align_up((size_t)gcnt * sizeof(K)));
    char *temp = ws + 2 * align_up((size_t)gcnt * sizeof(K)) + align_up((size_t)gcnt * 4);
    const size_t used = (size_t)(temp - ws);
    const size_t temp_have = ws_bytes > used ? ws_bytes - used : 0;
    for (int64_t r0 = 0; r0 < rows; r0 += p->group) {
        const int64_t g = rows - r0 < p->group ? rows - r0 : p->group, cnt = g * n;
        const int end_bit = p->kbits + bits_for(g);
        size_t need = 0;
        MLXN_CK(cub_temp_bytes<K>(cnt, end_bit, &need, st));
        if (need > temp_have)
            return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT,
                                      "%s: CUB needs %zu bytes of temp storage, the workspace leaves %zu", c->name,
                                      need, temp_have);
        const int th = 256;
        const unsigned blocks = grid_for((cnt + th - 1) / th);
        make_keys_kernel<K><<<blocks, th, 0, st>>>(x + (size_t)(r0 * n) * es, ka, va, cnt, n, dt, p->kbits, desc);
        MLXN_CK_LAUNCH(c->name);
        int32_t *out = idx + r0 * n;
        cub::DoubleBuffer<K> dk(ka, kb);
        cub::DoubleBuffer<int32_t> dv(va, out);
        size_t tb = temp_have;
        MLXN_CK(cub::DeviceRadixSort::SortPairs(temp, tb, dk, dv, (int)cnt, 0, end_bit, st));
        if (dv.Current() != out)
            MLXN_CK(cudaMemcpyAsync(out, dv.Current(), (size_t)cnt * 4, cudaMemcpyDeviceToDevice, st));
    }
    return MLXN_OK;
}

/* The workspace pointer aligned up to ALIGN, and the bytes left after it. */
static char *ws_aligned(const mlxn_op_call *c, int arg, size_t *left) {
    char *p = static_cast<char *>(c->args[arg].ptr);
    const size_t have = (size_t)c->u.gen.i[2];
    if (!p) {
        *left = 0;
        return nullptr;
    }
    const size_t pad = (ALIGN - (uintptr_t)p % ALIGN) % ALIGN;
    *left = have > pad ? have - pad : 0;
    return p + pad;
}

static int argsort_run(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int dt = c->u.gen.d[0], desc = c->u.gen.d[1] == 0;
    int32_t *idx = static_cast<int32_t *>(c->args[1].ptr);
    if (n <= SMALL_N) {
        switch (dt) {
        case MLXN_F32: return small_sort<float>(c, st, idx, nullptr, -1, (int)n, desc);
        case MLXN_F16: return small_sort<__half>(c, st, idx, nullptr, -1, (int)n, desc);
        default: return small_sort<__nv_bfloat16>(c, st, idx, nullptr, -1, (int)n, desc);
        }
    }
    cub_plan p{};
    int s = plan_cub(rows, n, dt, &p);
    if (s) return s;
    size_t left;
    char *ws = ws_aligned(c, 2, &left);
    if (!ws || left + ALIGN < p.total)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: workspace has %zu bytes, %zu needed", c->name,
                                  (size_t)c->u.gen.i[2], p.total);
    return p.wide ? cub_sort<uint64_t>(c, st, &p, ws, left) : cub_sort<uint32_t>(c, st, &p, ws, left);
}

/* ---- top_k ------------------------------------------------------------------- */

template <typename T, typename VT>
static int topk_stages(const mlxn_op_call *c, cudaStream_t st, const topk_plan *p, char *ws) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int k = (int)c->u.gen.i[3];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    int32_t *idx = static_cast<int32_t *>(c->args[1].ptr);
    VT *val = static_cast<VT *>(c->args[2].ptr);
    uint64_t *buf[2] = {reinterpret_cast<uint64_t *>(ws), reinterpret_cast<uint64_t *>(ws + p->buf)};
    int64_t L = n;
    int stage = 0;
    for (;;) {
        const int64_t chunks = (L + p->chunk - 1) / p->chunk;
        const bool first = stage == 0, last = chunks == 1;
        const int P = last ? pow2_at_least(L) : p->chunk;
        const uint64_t *cin = first ? nullptr : buf[(stage - 1) & 1];
        uint64_t *cout = last ? nullptr : buf[stage & 1];
        const dim3 grid(grid_for(rows * chunks)), block(threads_for(P));
        topk_stage_kernel<T, VT><<<grid, block, sizeof(uint64_t) * (size_t)P, st>>>(
            x, cin, cout, idx, val, rows, n, L, chunks, P, k, first ? 1 : 0, last ? 1 : 0);
        MLXN_CK_LAUNCH(c->name);
        if (last) break;
        L = chunks * k;
        stage++;
    }
    return MLXN_OK;
}

template <typename T> static int topk_t(const mlxn_op_call *c, cudaStream_t st) {
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    const int k = (int)c->u.gen.i[3], vdt = c->u.gen.d[1];
    int32_t *idx = static_cast<int32_t *>(c->args[1].ptr);
    void *val = c->args[2].ptr;
    if (n <= SMALL_N) return small_sort<T>(c, st, idx, val, vdt, k, 1);
    topk_plan p{};
    int s = plan_topk(c->name, rows, n, k, &p);
    if (s) return s;
    size_t left;
    char *ws = ws_aligned(c, 3, &left);
    if (!ws || left + ALIGN < p.total)
        return mlxn_backend_error(MLXN_ERR_INVALID_ARGUMENT, "%s: workspace has %zu bytes, %zu needed", c->name,
                                  (size_t)c->u.gen.i[2], p.total);
    if (vdt == MLXN_F32) return topk_stages<T, float>(c, st, &p, ws);
    return topk_stages<T, T>(c, st, &p, ws); /* no val (null pointer) or x's dtype */
}

} // namespace

extern "C" int mlxn_cuda_argsort(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    return argsort_run(c, ((mlxn_cuda_enc *)enc)->stream);
}

extern "C" int mlxn_cuda_top_k(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    cudaStream_t st = ((mlxn_cuda_enc *)enc)->stream;
    switch (c->u.gen.d[0]) {
    case MLXN_F32: return topk_t<float>(c, st);
    case MLXN_F16: return topk_t<__half>(c, st);
    default: return topk_t<__nv_bfloat16>(c, st);
    }
}

extern "C" int mlxn_cuda_sort_workspace(void *dev, const mlxn_op_call *c, size_t *bytes) {
    *bytes = 0;
    const int64_t rows = c->u.gen.i[0], n = c->u.gen.i[1];
    if (n <= SMALL_N) return MLXN_OK;
    int s = mlxn_cuda_use((const mlxn_cuda_dev *)dev);
    if (s) return s;
    if (c->kind == MLXN_OPK_ARGSORT) {
        cub_plan p{};
        if ((s = plan_cub(rows, n, c->u.gen.d[0], &p))) return s;
        *bytes = p.total;
        return MLXN_OK;
    }
    topk_plan p{};
    if ((s = plan_topk(c->name, rows, n, (int)c->u.gen.i[3], &p))) return s;
    *bytes = p.total;
    return MLXN_OK;
}
