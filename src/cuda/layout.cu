/* layout.cu — gather_rows, permute, copy_2d, repeat_heads and kv_cache_write
   (plans and argument orders: src/ops/layout.c).

   Four of the five ops (and the row-moving permutes) are "row moves": row r of
   the output is a row of an input found by a small index map (or zeros for a
   gather's out-of-range id). One kernel template does them all: a group of
   TPR threads (a power of two, 32..256, sized to the row) handles one row,
   walking it in units of V elements. V is 16 bytes' worth of elements (one
   uint4 load and store per unit) when every row start on both sides is
   16-byte aligned and the row is a whole number of units, else 1. Plain copies
   move raw bits (uint8..uint64 by element size, so NaN payloads survive);
   conversions (kv_cache_write, gather into f32 or with a scale) go through f32
   with __float2half_rn / __float2bfloat16_rn (round to nearest even), V = 8
   elements (16 or 32 bytes per side). Row groups are spread by a grid-stride
   loop, the grid capped at 32 blocks per SM, so no grid limit is ever hit.

   permute: a permute whose last axis stays last is a row move; perm {0,1,3,2}
   (after the canonical merging of the ops layer: 2-D transposes, [A,B,C] ->
   [A,C,B], [A,B,C] -> [C,A,B] ...) is a batched tiled transpose through a
   32 x 33 shared-memory tile (the padding column keeps the column reads of the
   tile free of bank conflicts), reads and writes both coalesced along rows;
   anything else is a per-element index map. All work goes on the encoder's
   stream and every launch is checked. */
#include "cuda_common.h"
#include "launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;
constexpr int kTileRows = 8; /* a 32 x 8 block moves one 32 x 32 tile, 4 elements per thread */

__device__ __forceinline__ float tof(float v) { return v; }
__device__ __forceinline__ float tof(__half v) { return __half2float(v); }
__device__ __forceinline__ float tof(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T fromf(float v);
template <> __device__ __forceinline__ float fromf<float>(float v) { return v; }
template <> __device__ __forceinline__ __half fromf<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromf<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* ---- row maps: output row r -> (source row start, output row start) in elements,
        src < 0 meaning a row of zeros ---------------------------------------- */

template <typename I> struct GatherMap {
    const I *ids;
    int64_t dim, n_rows;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        const int64_t id = (int64_t)ids[r]; /* i32 sign-extends, u32 zero-extends */
        s = id >= 0 && id < n_rows ? id * dim : -1;
        d = r * dim;
    }
};

struct Copy2dMap {
    int64_t ss, sc, ds, dc;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        s = r * ss + sc;
        d = r * ds + dc;
    }
};

struct RepeatMap {
    int64_t Hg, H, D, rep;
    int interleaved;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        const int64_t t = r / H, h = r - t * H;
        const int64_t g = interleaved ? h / rep : h % Hg;
        s = (t * Hg + g) * D;
        d = r * D;
    }
};

/* rows ordered h-major (r = h * T + t): consecutive rows, consecutive slots */
struct KvMap {
    int64_t T, H, D, cap, pos;
    int sliding;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        const int64_t h = r / T, t = r - h * T;
        int64_t slot = pos + t; /* pos < cap when sliding and t < cap: one wrap at most */
        if (sliding && slot >= cap) slot -= cap;
        s = (t * H + h) * D;
        d = (h * cap + slot) * D;
    }
};

/* K then V: rows [0, half) are K's, [half, 2 half) V's, whose bases lie
   sdelta / ddelta elements from K's (the same dtypes, so whole elements). */
struct KvPairMap {
    KvMap m;
    int64_t half, sdelta, ddelta;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        const bool v = r >= half;
        m(v ? r - half : r, s, d);
        if (v) {
            s += sdelta;
            d += ddelta;
        }
    }
};

/* permute, last axis kept: y row o (of y1*y2 per outer index) is x's run at
   a*st0 + b*st1 + c*st2 */
struct PermRowMap {
    int64_t y1, y2, st0, st1, st2, len;
    __device__ void operator()(int64_t r, int64_t &s, int64_t &d) const {
        const int64_t c = r % y2, ab = r / y2, b = ab % y1, a = ab / y1;
        s = a * st0 + b * st1 + c * st2;
        d = r * len;
    }
};

/* ---- the row-move kernel ----------------------------------------------------- */

template <typename TI, typename TO, int V, bool CONVERT, class M>
__global__ void __launch_bounds__(kThreads)
    rows_kernel(const TI *__restrict__ src, TO *__restrict__ dst, M map, int64_t rows, int64_t cols, int tpr,
                float scale, int use_scale) {
    pdl_enter();
    const int rpb = kThreads / tpr; /* rows per block */
    const int lane = (int)threadIdx.x % tpr;
    const int64_t units = cols / V;
    for (int64_t r = (int64_t)blockIdx.x * rpb + (int)threadIdx.x / tpr; r < rows; r += (int64_t)gridDim.x * rpb) {
        int64_t so, dof;
        map(r, so, dof);
        TO *d = dst + dof;
        if constexpr (!CONVERT) {
            static_assert(sizeof(TI) == sizeof(TO), "raw copy");
            if constexpr (V * sizeof(TI) == 16) {
                uint4 *dv = reinterpret_cast<uint4 *>(d);
                if (so < 0) {
                    for (int64_t u = lane; u < units; u += tpr) dv[u] = make_uint4(0, 0, 0, 0);
                } else {
                    const uint4 *sv = reinterpret_cast<const uint4 *>(src + so);
                    for (int64_t u = lane; u < units; u += tpr) dv[u] = sv[u];
                }
            } else {
                if (so < 0) {
                    for (int64_t u = lane; u < cols; u += tpr) d[u] = TO(0);
                } else {
                    const TI *s = src + so;
                    for (int64_t u = lane; u < cols; u += tpr) d[u] = (TO)s[u];
                }
            }
        } else {
            for (int64_t u = lane; u < units; u += tpr) {
                float f[V];
                if (so < 0) {
#pragma unroll
                    for (int k = 0; k < V; k++) f[k] = 0.0f;
                } else {
                    const TI *s = src + so + u * V;
                    if constexpr (V > 1) {
                        /* V = 8: 16 bytes of a 16-bit type, 32 of f32 */
                        constexpr int CH = (int)(V * sizeof(TI) / 16);
                        uint4 q[CH];
#pragma unroll
                        for (int k = 0; k < CH; k++) q[k] = reinterpret_cast<const uint4 *>(s)[k];
                        const TI *e = reinterpret_cast<const TI *>(q);
#pragma unroll
                        for (int k = 0; k < V; k++) f[k] = tof(e[k]);
                    } else {
                        f[0] = tof(s[0]);
                    }
                    if (use_scale) {
#pragma unroll
                        for (int k = 0; k < V; k++) f[k] *= scale;
                    }
                }
                TO *o = d + u * V;
                if constexpr (V > 1) {
                    constexpr int CH = (int)(V * sizeof(TO) / 16);
                    uint4 q[CH];
                    TO *e = reinterpret_cast<TO *>(q);
#pragma unroll
                    for (int k = 0; k < V; k++) e[k] = fromf<TO>(f[k]);
#pragma unroll
                    for (int k = 0; k < CH; k++) reinterpret_cast<uint4 *>(o)[k] = q[k];
                } else {
                    o[0] = fromf<TO>(f[0]);
                }
            }
        }
    }
}

/* ---- permute kernels ------------------------------------------------------------ */

/* y[b, c, r] = x[b, r, c] for a batch of R x C matrices. Tiles are numbered
   flat (batch, tile row, tile col) and spread by a grid-stride loop, so no
   grid dimension limit applies to B or the tile counts. */
template <typename T>
__global__ void __launch_bounds__(kTile *kTileRows)
    transpose_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t B, int64_t R, int64_t C) {
    pdl_enter();
    __shared__ T tile[kTile][kTile + 1];
    const int64_t tr = (R + kTile - 1) / kTile, tc = (C + kTile - 1) / kTile, tiles = B * tr * tc;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int64_t b = t / (tr * tc), rem = t - b * (tr * tc);
        const int64_t r0 = rem / tc * kTile, c0 = (rem % tc) * kTile;
        const T *xb = x + b * R * C;
        T *yb = y + b * R * C;
        /* read rows of x (coalesced along c) */
#pragma unroll
        for (int k = 0; k < kTile; k += kTileRows) {
            const int64_t r = r0 + ty + k, c = c0 + tx;
            if (r < R && c < C) tile[ty + k][tx] = xb[r * C + c];
        }
        __syncthreads();
        /* write rows of y (coalesced along r); tile column reads hit 32 banks */
#pragma unroll
        for (int k = 0; k < kTile; k += kTileRows) {
            const int64_t c = c0 + ty + k, r = r0 + tx;
            if (r < R && c < C) yb[c * R + r] = tile[tx][ty + k];
        }
        __syncthreads(); /* the tile is reused by the next iteration */
    }
}

/* The 2-byte transpose: 64 x 64 tiles, every global access 4 bytes wide (a
   pair of elements), so a warp moves 128 contiguous bytes per access instead
   of 64. Needs R and C even (pairs never straddle a row) and 4-byte aligned
   x and y. The tile's row stride of 65 halves keeps both the row-wise stores
   and the column-wise loads of shared memory free of bank conflicts. */
constexpr int kT16 = 64;
__global__ void __launch_bounds__(32 * 8)
    transpose16_kernel(const uint16_t *__restrict__ x, uint16_t *__restrict__ y, int64_t B, int64_t R, int64_t C) {
    pdl_enter();
    __shared__ uint16_t tile[kT16][kT16 + 1];
    const int64_t tr = (R + kT16 - 1) / kT16, tc = (C + kT16 - 1) / kT16, tiles = B * tr * tc;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int64_t b = t / (tr * tc), rem = t - b * (tr * tc);
        const int64_t r0 = rem / tc * kT16, c0 = (rem % tc) * kT16;
        const uint16_t *xb = x + b * R * C;
        uint16_t *yb = y + b * R * C;
#pragma unroll
        for (int k = 0; k < kT16; k += 8) {
            const int64_t r = r0 + ty + k, c = c0 + 2 * tx;
            if (r < R && c < C) { /* C even: c + 1 < C too */
                const uint32_t v = *reinterpret_cast<const uint32_t *>(xb + r * C + c);
                tile[ty + k][2 * tx] = (uint16_t)(v & 0xffffu);
                tile[ty + k][2 * tx + 1] = (uint16_t)(v >> 16);
            }
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kT16; k += 8) {
            const int64_t c = c0 + ty + k, r = r0 + 2 * tx;
            if (r < R && c < C) { /* R even: r + 1 < R too */
                const uint32_t v = (uint32_t)tile[2 * tx][ty + k] | ((uint32_t)tile[2 * tx + 1][ty + k] << 16);
                *reinterpret_cast<uint32_t *>(yb + c * R + r) = v;
            }
        }
        __syncthreads(); /* the tile is reused by the next iteration */
    }
}

/* any canonical 4-D permute: one y element per iteration */
template <typename T>
__global__ void __launch_bounds__(kThreads)
    permute_generic_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t n, int64_t y1, int64_t y2, int64_t y3,
                           int64_t st0, int64_t st1, int64_t st2, int64_t st3) {
    pdl_enter();
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t d = i % y3, q = i / y3, c = q % y2, q2 = q / y2, b = q2 % y1, a = q2 / y1;
        y[i] = x[a * st0 + b * st1 + c * st2 + d * st3];
    }
}

/* ---- launch helpers ----------------------------------------------------------------- */

int64_t grid_cap(const void *dev) {
    const mlxn_cuda_dev *cd = static_cast<const mlxn_cuda_dev *>(dev);
    return (int64_t)(cd->sm_count > 0 ? cd->sm_count : 1) * 32;
}

cudaStream_t stream_of(void *enc) { return static_cast<mlxn_cuda_enc *>(enc)->stream; }

bool al16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

/* threads per row: the smallest power of two >= the row's units, in [32, 256] */
int tpr_for(int64_t units) {
    int t = 32;
    while (t < kThreads && t < units) t *= 2;
    return t;
}

template <typename TI, typename TO, int V, bool CONVERT, class M>
int launch_rows(const void *dev, void *enc, const void *src, void *dst, const M &m, int64_t rows, int64_t cols,
                float scale, int use_scale, const char *name) {
    const int tpr = tpr_for(cols / V > 0 ? cols / V : 1);
    const int64_t rpb = kThreads / tpr;
    int64_t blocks = (rows + rpb - 1) / rpb;
    const int64_t cap = grid_cap(dev);
    if (blocks > cap) blocks = cap;
    if (blocks < 1) blocks = 1;
    MLXN_CK(launch_k(rows_kernel<TI, TO, V, CONVERT, M>, (unsigned)blocks, kThreads, 0, stream_of(enc), pdl_on(dev), 
        static_cast<const TI *>(src), static_cast<TO *>(dst), m, rows, cols, tpr, scale, use_scale));
    (void)name; /* MLXN_CK_LAUNCH reports the failing call by its text */
    MLXN_CK_LAUNCH(name);
    return MLXN_OK;
}

/* A raw row move of es-byte elements. vec: every row start on both sides is
   16-byte aligned and cols * es is a multiple of 16. */
template <class M>
int move_rows(const void *dev, void *enc, const void *src, void *dst, const M &m, int64_t rows, int64_t cols, int es,
              bool vec, const char *name) {
    if (vec) {
        switch (es) {
        case 1: return launch_rows<uint8_t, uint8_t, 16, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
        case 2: return launch_rows<uint16_t, uint16_t, 8, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
        case 4: return launch_rows<uint32_t, uint32_t, 4, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
        default: return launch_rows<uint64_t, uint64_t, 2, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
        }
    }
    switch (es) {
    case 1: return launch_rows<uint8_t, uint8_t, 1, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
    case 2: return launch_rows<uint16_t, uint16_t, 1, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
    case 4: return launch_rows<uint32_t, uint32_t, 1, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
    default: return launch_rows<uint64_t, uint64_t, 1, false>(dev, enc, src, dst, m, rows, cols, 1.0f, 0, name);
    }
}

/* A converting row move (V = 8 when vec: cols % 8 == 0 and row starts 16-byte aligned). */
template <typename TI, typename TO, class M>
int convert_rows_t(const void *dev, void *enc, const void *src, void *dst, const M &m, int64_t rows, int64_t cols,
                   bool vec, float scale, int use_scale, const char *name) {
    if (vec) return launch_rows<TI, TO, 8, true>(dev, enc, src, dst, m, rows, cols, scale, use_scale, name);
    return launch_rows<TI, TO, 1, true>(dev, enc, src, dst, m, rows, cols, scale, use_scale, name);
}

template <typename TI, class M>
int convert_rows_from(int odt, const void *dev, void *enc, const void *src, void *dst, const M &m, int64_t rows,
                      int64_t cols, bool vec, float scale, int use_scale, const char *name) {
    switch (odt) {
    case MLXN_F32: return convert_rows_t<TI, float>(dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    case MLXN_F16: return convert_rows_t<TI, __half>(dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    default:
        return convert_rows_t<TI, __nv_bfloat16>(dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    }
}

template <class M>
int convert_rows(int idt, int odt, const void *dev, void *enc, const void *src, void *dst, const M &m, int64_t rows,
                 int64_t cols, bool vec, float scale, int use_scale, const char *name) {
    switch (idt) {
    case MLXN_F32:
        return convert_rows_from<float>(odt, dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    case MLXN_F16:
        return convert_rows_from<__half>(odt, dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    default:
        return convert_rows_from<__nv_bfloat16>(odt, dev, enc, src, dst, m, rows, cols, vec, scale, use_scale, name);
    }
}

/* Every row start is base + k * stride_bytes + off_bytes: all 16-byte aligned
   iff the base is and stride and offset are multiples of 16. */
bool rows_aligned(const void *base, int64_t stride_bytes, int64_t off_bytes) {
    return al16(base) && stride_bytes % 16 == 0 && off_bytes % 16 == 0;
}

template <typename I>
int gather_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const mlxn_op_call &k = *c;
    const int64_t n = k.u.gen.i[0], dim = k.u.gen.i[1];
    const int tdt = k.u.gen.d[0], ydt = k.u.gen.d[2];
    const float scale = k.u.gen.f[0];
    const int use_scale = scale != 1.0f;
    GatherMap<I> m{static_cast<const I *>(k.args[1].ptr), dim, k.u.gen.i[2]};
    const int64_t tes = (int64_t)mlxn_dtype_size((mlxn_dtype)tdt), yes = (int64_t)mlxn_dtype_size((mlxn_dtype)ydt);
    if (tdt == ydt && !use_scale) {
        const bool vec = rows_aligned(k.args[0].ptr, dim * tes, 0) && rows_aligned(k.args[2].ptr, dim * yes, 0);
        return move_rows(dev, enc, k.args[0].ptr, k.args[2].ptr, m, n, dim, (int)tes, vec, "gather_rows");
    }
    const bool vec = dim % 8 == 0 && rows_aligned(k.args[0].ptr, dim * tes, 0) && rows_aligned(k.args[2].ptr, dim * yes, 0);
    return convert_rows(tdt, ydt, dev, enc, k.args[0].ptr, k.args[2].ptr, m, n, dim, vec, scale, use_scale,
                        "gather_rows");
}

template <typename T>
int permute_t(const void *dev, void *enc, const mlxn_op_call *c) {
    const int64_t *sh = &c->u.gen.i[0], *pm = &c->u.gen.i[4];
    const int64_t n = c->u.gen.i[8];
    const T *x = static_cast<const T *>(c->args[0].ptr);
    T *y = static_cast<T *>(c->args[1].ptr);
    const cudaStream_t st = stream_of(enc);
    if (c->u.gen.d[2] == 2) { /* PERM_TRANSPOSE */
        const int64_t B = sh[0] * sh[1], R = sh[2], C = sh[3];
        if (sizeof(T) == 2 && R % 2 == 0 && C % 2 == 0 && (reinterpret_cast<uintptr_t>(x) & 3u) == 0 &&
            (reinterpret_cast<uintptr_t>(y) & 3u) == 0) {
            int64_t blocks = B * ((R + kT16 - 1) / kT16) * ((C + kT16 - 1) / kT16);
            const int64_t cap = grid_cap(dev);
            if (blocks > cap) blocks = cap;
            if (blocks < 1) blocks = 1;
            MLXN_CK(launch_k(transpose16_kernel, (unsigned)blocks, dim3(32, 8), 0, st, pdl_on(dev),
                             reinterpret_cast<const uint16_t *>(x), reinterpret_cast<uint16_t *>(y), B, R, C));
            return MLXN_OK;
        }
        int64_t blocks = B * ((R + kTile - 1) / kTile) * ((C + kTile - 1) / kTile);
        const int64_t cap = grid_cap(dev); /* the grid-stride loop covers the rest */
        if (blocks > cap) blocks = cap;
        if (blocks < 1) blocks = 1;
        MLXN_CK(launch_k(transpose_kernel<T>, (unsigned)blocks, dim3(kTile, kTileRows), 0, st, pdl_on(dev), x, y, B, R, C));
        MLXN_CK_LAUNCH("transpose_kernel");
        return MLXN_OK;
    }
    int64_t xs[4];
    xs[3] = 1;
    for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * sh[i + 1];
    int64_t blocks = (n + kThreads - 1) / kThreads;
    const int64_t cap = grid_cap(dev);
    if (blocks > cap) blocks = cap;
    if (blocks < 1) blocks = 1;
    MLXN_CK(launch_k(permute_generic_kernel<T>, (unsigned)blocks, kThreads, 0, st, pdl_on(dev), x, y, n, sh[pm[1]], sh[pm[2]], sh[pm[3]],
                                                                      xs[pm[0]], xs[pm[1]], xs[pm[2]], xs[pm[3]]));
    MLXN_CK_LAUNCH("permute_generic_kernel");
    return MLXN_OK;
}

} // namespace

extern "C" int mlxn_cuda_gather_rows(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    return c->u.gen.d[1] == MLXN_I32 ? gather_t<int32_t>(dev, enc, c) : gather_t<uint32_t>(dev, enc, c);
}

extern "C" int mlxn_cuda_permute(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const int64_t *sh = &c->u.gen.i[0], *pm = &c->u.gen.i[4];
    const int64_t n = c->u.gen.i[8];
    const int es = c->u.gen.d[0], kind = c->u.gen.d[2];
    if (kind == 0) { /* PERM_COPY */
        MLXN_CK(cudaMemcpyAsync(c->args[1].ptr, c->args[0].ptr, (size_t)n * (size_t)es, cudaMemcpyDeviceToDevice,
                                stream_of(enc)));
        return MLXN_OK;
    }
    if (kind == 1) { /* PERM_ROWS */
        int64_t xs[4];
        xs[3] = 1;
        for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * sh[i + 1];
        const int64_t len = sh[3], rows = n / len;
        PermRowMap m{sh[pm[1]], sh[pm[2]], xs[pm[0]], xs[pm[1]], xs[pm[2]], len};
        /* source runs start at multiples of len (every x stride is one), destination runs too */
        const bool vec = (len * es) % 16 == 0 && al16(c->args[0].ptr) && al16(c->args[1].ptr);
        return move_rows(dev, enc, c->args[0].ptr, c->args[1].ptr, m, rows, len, es, vec, "permute");
    }
    switch (es) {
    case 1: return permute_t<uint8_t>(dev, enc, c);
    case 2: return permute_t<uint16_t>(dev, enc, c);
    case 4: return permute_t<uint32_t>(dev, enc, c);
    default: return permute_t<uint64_t>(dev, enc, c);
    }
}

extern "C" int mlxn_cuda_copy_2d(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const int64_t rows = c->u.gen.i[0], cols = c->u.gen.i[1];
    const int es = c->u.gen.d[0];
    Copy2dMap m{c->u.gen.i[2], c->u.gen.i[3], c->u.gen.i[4], c->u.gen.i[5]};
    const bool vec = (cols * es) % 16 == 0 && rows_aligned(c->args[0].ptr, m.ss * es, m.sc * es) &&
                     rows_aligned(c->args[1].ptr, m.ds * es, m.dc * es);
    return move_rows(dev, enc, c->args[0].ptr, c->args[1].ptr, m, rows, cols, es, vec, "copy_2d");
}

extern "C" int mlxn_cuda_repeat_heads(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const int64_t T = c->u.gen.i[0], Hg = c->u.gen.i[1], H = c->u.gen.i[2], D = c->u.gen.i[3];
    const int es = c->u.gen.d[0];
    RepeatMap m{Hg, H, D, H / Hg, c->u.gen.d[1]};
    const bool vec = (D * es) % 16 == 0 && al16(c->args[0].ptr) && al16(c->args[1].ptr);
    return move_rows(dev, enc, c->args[0].ptr, c->args[1].ptr, m, T * H, D, es, vec, "repeat_heads");
}

/* One launch for K and V. The V buffers are addressed from K's bases
   (one flat device address space), so the row kernel is reused as is; when a
   distance is not a whole number of elements (never with mlxn's allocator,
   whose views start at element offsets), two launches do it. */
extern "C" int mlxn_cuda_kv_cache_write_kv(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const int64_t T = c->u.gen.i[0], H = c->u.gen.i[1], D = c->u.gen.i[2];
    const int sdt = c->u.gen.d[0], cdt = c->u.gen.d[1];
    const int64_t ses = (int64_t)mlxn_dtype_size((mlxn_dtype)sdt), ces = (int64_t)mlxn_dtype_size((mlxn_dtype)cdt);
    const intptr_t sd = reinterpret_cast<intptr_t>(c->args[2].ptr) - reinterpret_cast<intptr_t>(c->args[0].ptr);
    const intptr_t dd = reinterpret_cast<intptr_t>(c->args[3].ptr) - reinterpret_cast<intptr_t>(c->args[1].ptr);
    if (sd % ses != 0 || dd % ces != 0) {
        mlxn_op_call one = *c;
        one.n_args = 2;
        if ((s = mlxn_cuda_kv_cache_write(dev, enc, &one))) return s;
        one.args[0] = c->args[2];
        one.args[1] = c->args[3];
        return mlxn_cuda_kv_cache_write(dev, enc, &one);
    }
    KvPairMap m{KvMap{T, H, D, c->u.gen.i[3], c->u.gen.i[4], c->u.gen.d[2]}, T * H, (int64_t)(sd / ses),
                (int64_t)(dd / ces)};
    if (sdt == cdt) {
        const bool vec = (D * ses) % 16 == 0 && al16(c->args[0].ptr) && al16(c->args[1].ptr) &&
                         al16(c->args[2].ptr) && al16(c->args[3].ptr);
        return move_rows(dev, enc, c->args[0].ptr, c->args[1].ptr, m, 2 * T * H, D, (int)ses, vec,
                         "kv_cache_write_kv");
    }
    const bool vec = D % 8 == 0 && rows_aligned(c->args[0].ptr, D * ses, 0) &&
                     rows_aligned(c->args[1].ptr, D * ces, 0) && rows_aligned(c->args[2].ptr, D * ses, 0) &&
                     rows_aligned(c->args[3].ptr, D * ces, 0);
    return convert_rows(sdt, cdt, dev, enc, c->args[0].ptr, c->args[1].ptr, m, 2 * T * H, D, vec, 1.0f, 0,
                        "kv_cache_write_kv");
}

extern "C" int mlxn_cuda_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c) {
    int s = mlxn_cuda_use(static_cast<const mlxn_cuda_dev *>(dev));
    if (s) return s;
    const int64_t T = c->u.gen.i[0], H = c->u.gen.i[1], D = c->u.gen.i[2];
    const int sdt = c->u.gen.d[0], cdt = c->u.gen.d[1];
    KvMap m{T, H, D, c->u.gen.i[3], c->u.gen.i[4], c->u.gen.d[2]};
    const int64_t ses = (int64_t)mlxn_dtype_size((mlxn_dtype)sdt), ces = (int64_t)mlxn_dtype_size((mlxn_dtype)cdt);
    if (sdt == cdt) {
        const bool vec = (D * ses) % 16 == 0 && al16(c->args[0].ptr) && al16(c->args[1].ptr);
        return move_rows(dev, enc, c->args[0].ptr, c->args[1].ptr, m, T * H, D, (int)ses, vec, "kv_cache_write");
    }
    const bool vec = D % 8 == 0 && rows_aligned(c->args[0].ptr, D * ses, 0) && rows_aligned(c->args[1].ptr, D * ces, 0);
    return convert_rows(sdt, cdt, dev, enc, c->args[0].ptr, c->args[1].ptr, m, T * H, D, vec, 1.0f, 0,
                        "kv_cache_write");
}
