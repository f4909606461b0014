/* layout.c (CPU) — gather_rows, permute, copy_2d, repeat_heads and
   kv_cache_write (plans and argument orders: src/ops/layout.c).

   These ops move bytes, so everything that needs no conversion is a memcpy of
   whole rows (bit-exact: NaN payloads and signed zeros survive). Rows are
   split statically over the OpenMP threads; a small op runs on one thread
   (waking the team costs more than copying a few KB). Conversions go through
   f32 with the rounding helpers of cpu_math.h (round to nearest even), one row
   at a time through an L1-sized staging array. The permute transposes
   through 32 x 32 tiles so that both the strided reads and the writes touch
   whole cache lines (2-byte elements: 8 x 8 register transposes inside). */
#include "cpu.h"
#include "cpu_math.h"
#include "mlxn.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MIN_PAR_BYTES (1 << 16) /* below this the op runs on one thread */
#define STAGE 1024              /* f32 staging elements per conversion chunk */
#define TILE 32

static int threads_for(double bytes) { return bytes < MIN_PAR_BYTES ? 1 : mlxn_cpu_threads(); }

/* n values of dtype sdt -> f32 */
static void to_f32(int sdt, const void *src, float *dst, int64_t n) {
    if (sdt == MLXN_F32) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    } else if (sdt == MLXN_F16) {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = mlxn_h2f_fast(s[i]);
    } else {
        const uint16_t *s = src;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dst[i] = mlxn_b2f(s[i]);
    }
}

/* n f32 values -> dtype ddt, rounded to nearest even */
static void from_f32(int ddt, const float *src, void *dst, int64_t n) {
    if (ddt == MLXN_F32) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    } else if (ddt == MLXN_F16) {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = mlxn_f2h(src[i]);
    } else {
        uint16_t *d = dst;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = mlxn_f2b(src[i]);
    }
}

/* One row of n elements from dtype sdt into ddt, times scale when use_scale.
   Same dtype without scale is a plain byte copy. */
static void convert_row(int sdt, const void *src, int ddt, void *dst, int64_t n, float scale, int use_scale) {
    if (sdt == ddt && !use_scale) {
        memcpy(dst, src, (size_t)n * mlxn_dtype_size((mlxn_dtype)sdt));
        return;
    }
    const size_t ses = mlxn_dtype_size((mlxn_dtype)sdt), des = mlxn_dtype_size((mlxn_dtype)ddt);
    float buf[STAGE];
    for (int64_t o = 0; o < n; o += STAGE) {
        const int64_t len = n - o < STAGE ? n - o : STAGE;
        to_f32(sdt, (const char *)src + (size_t)o * ses, buf, len);
        if (use_scale) {
#pragma omp simd
            for (int64_t i = 0; i < len; i++) buf[i] *= scale;
        }
        from_f32(ddt, buf, (char *)dst + (size_t)o * des, len);
    }
}

/* ---- gather_rows ------------------------------------------------------------ */

int mlxn_cpu_gather_rows(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t n = c->u.gen.i[0], dim = c->u.gen.i[1], n_rows = c->u.gen.i[2];
    const int tdt = c->u.gen.d[0], idt = c->u.gen.d[1], ydt = c->u.gen.d[2];
    const float scale = c->u.gen.f[0];
    const int use_scale = scale != 1.0f;
    const char *table = c->args[0].ptr;
    const void *ids = c->args[1].ptr;
    char *y = c->args[2].ptr;
    const size_t tes = mlxn_dtype_size((mlxn_dtype)tdt), yes = mlxn_dtype_size((mlxn_dtype)ydt);
    const int nt = threads_for((double)n * (double)dim * (double)yes);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        /* i32 ids below 0 and u32 ids past the table give a zero row */
        const int64_t id = idt == MLXN_I32 ? (int64_t)((const int32_t *)ids)[r] : (int64_t)((const uint32_t *)ids)[r];
        char *dst = y + (size_t)r * (size_t)dim * yes;
        if (id < 0 || id >= n_rows) memset(dst, 0, (size_t)dim * yes);
        else convert_row(tdt, table + (size_t)id * (size_t)dim * tes, ydt, dst, dim, scale, use_scale);
    }
    return MLXN_OK;
}

/* ---- permute ------------------------------------------------------------------ */

/* y[b, c, r] = x[b, r, c] over a batch of R x C matrices, tile by tile. */
#define TRANSPOSE_T(T)                                                                                       \
    static void transpose_##T(const T *x, T *y, int64_t B, int64_t R, int64_t C, int nt) {                \
        const int64_t tr = (R + TILE - 1) / TILE, tc = (C + TILE - 1) / TILE, tiles = B * tr * tc;        \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (int64_t t = 0; t < tiles; t++) { \
            const int64_t b = t / (tr * tc), rem = t % (tr * tc);                                          \
            const int64_t r0 = rem / tc * TILE, c0 = rem % tc * TILE;                                      \
            const int64_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;          \
            const T *xb = x + b * R * C;                                                                   \
            T *yb = y + b * R * C;                                                                         \
            for (int64_t cc = c0; cc < c1; cc++)                                                           \
                for (int64_t rr = r0; rr < r1; rr++) yb[cc * R + rr] = xb[rr * C + cc];                    \
        }                                                                                                  \
    }

/* Any canonical 4-D permute, walking y in order (writes stream; reads stride). */
#define GENERIC_T(T)                                                                                         \
    static void generic_##T(const T *x, T *y, const int64_t *sh, const int64_t *pm, int nt) {             \
        int64_t xs[4], ys[4], st[4];                                                                       \
        xs[3] = 1;                                                                                         \
        for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * sh[i + 1];                                        \
        for (int j = 0; j < 4; j++) ys[j] = sh[pm[j]], st[j] = xs[pm[j]];                                  \
        const int64_t outer = ys[0] * ys[1] * ys[2];                                                       \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (int64_t o = 0; o < outer; o++) { \
            const int64_t a = o / (ys[1] * ys[2]), b = o / ys[2] % ys[1], cq = o % ys[2];                  \
            const T *xr = x + a * st[0] + b * st[1] + cq * st[2];                                          \
            T *yr = y + o * ys[3];                                                                         \
            for (int64_t d = 0; d < ys[3]; d++) yr[d] = xr[d * st[3]];                                     \
        }                                                                                                  \
    }

TRANSPOSE_T(uint8_t)
TRANSPOSE_T(uint32_t)
TRANSPOSE_T(uint64_t)
#if defined(__SSE2__)
/* 2-byte elements (f16, bf16, i16): each 32 x 32 tile goes through 8 x 8
   blocks transposed in registers (eight 16-byte row loads, three rounds of
   16/32/64-bit unpacks, eight 16-byte column stores: 32 instructions for 64
   elements instead of 64 scalar loads and stores); a tile's ragged edge (R
   or C not a multiple of 8) is copied element by element. A pure copy: the
   bits move unchanged. */
static inline void tr8x8_u16(const uint16_t *x, int64_t C, uint16_t *y, int64_t R) {
    __m128i a[8], b[8], c[8];
    for (int i = 0; i < 8; i++) a[i] = _mm_loadu_si128((const __m128i *)(x + i * C));
    for (int i = 0; i < 4; i++) {
        b[2 * i] = _mm_unpacklo_epi16(a[2 * i], a[2 * i + 1]);     /* columns 0-3 of rows 2i, 2i+1 */
        b[2 * i + 1] = _mm_unpackhi_epi16(a[2 * i], a[2 * i + 1]); /* columns 4-7                  */
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3 (h = 0) and 4-7 (h = 1) */
        const int o = 4 * h;
        c[o + 0] = _mm_unpacklo_epi32(b[o + 0], b[o + 2]); /* columns 0, 1 */
        c[o + 1] = _mm_unpackhi_epi32(b[o + 0], b[o + 2]); /* columns 2, 3 */
        c[o + 2] = _mm_unpacklo_epi32(b[o + 1], b[o + 3]); /* columns 4, 5 */
        c[o + 3] = _mm_unpackhi_epi32(b[o + 1], b[o + 3]); /* columns 6, 7 */
    }
    for (int j = 0; j < 4; j++) {
        _mm_storeu_si128((__m128i *)(y + (2 * j) * R), _mm_unpacklo_epi64(c[j], c[j + 4]));
        _mm_storeu_si128((__m128i *)(y + (2 * j + 1) * R), _mm_unpackhi_epi64(c[j], c[j + 4]));
    }
}

static void transpose_uint16_t(const uint16_t *x, uint16_t *y, int64_t B, int64_t R, int64_t C, int nt) {
    const int64_t tr = (R + TILE - 1) / TILE, tc = (C + TILE - 1) / TILE, tiles = B * tr * tc;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t b = t / (tr * tc), rem = t % (tr * tc);
        const int64_t r0 = rem / tc * TILE, c0 = rem % tc * TILE;
        const int64_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;
        const int64_t r8 = r0 + ((r1 - r0) & ~(int64_t)7), c8 = c0 + ((c1 - c0) & ~(int64_t)7);
        const uint16_t *xb = x + b * R * C;
        uint16_t *yb = y + b * R * C;
        /* columns outer: the 8 y rows of a column block get their whole
           64-byte run (32 elements) before the next 8 are started, so few y
           lines are open at once (y's row stride is often a large power of
           two, whose lines compete for the same L1 sets) */
        for (int64_t cc = c0; cc < c8; cc += 8)
            for (int64_t rr = r0; rr < r8; rr += 8) tr8x8_u16(xb + rr * C + cc, C, yb + cc * R + rr, R);
        for (int64_t cc = c8; cc < c1; cc++) /* columns past the last 8-block, rows of the 8-blocks */
            for (int64_t rr = r0; rr < r8; rr++) yb[cc * R + rr] = xb[rr * C + cc];
        for (int64_t cc = c0; cc < c1; cc++) /* rows past the last 8-block, every column */
            for (int64_t rr = r8; rr < r1; rr++) yb[cc * R + rr] = xb[rr * C + cc];
    }
}
#else
TRANSPOSE_T(uint16_t)
#endif

GENERIC_T(uint8_t)
GENERIC_T(uint16_t)
GENERIC_T(uint32_t)
GENERIC_T(uint64_t)

int mlxn_cpu_permute(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t *sh = &c->u.gen.i[0], *pm = &c->u.gen.i[4];
    const int64_t numel = c->u.gen.i[8];
    const int es = c->u.gen.d[0], kind = c->u.gen.d[2];
    const char *x = c->args[0].ptr;
    char *y = c->args[1].ptr;
    const int nt = threads_for((double)numel * es);
    switch (kind) {
    case 0: /* PERM_COPY */
        memcpy(y, x, (size_t)numel * (size_t)es);
        return MLXN_OK;
    case 1: { /* PERM_ROWS: runs of sh[3] contiguous elements move as wholes */
        int64_t xs[4];
        xs[3] = 1;
        for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * sh[i + 1];
        const int64_t y1 = sh[pm[1]], y2 = sh[pm[2]], outer = sh[pm[0]] * y1 * y2;
        const size_t row = (size_t)sh[3] * (size_t)es;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t o = 0; o < outer; o++) {
            const int64_t a = o / (y1 * y2), b = o / y2 % y1, cq = o % y2;
            memcpy(y + (size_t)o * row, x + (size_t)(a * xs[pm[0]] + b * xs[pm[1]] + cq * xs[pm[2]]) * (size_t)es,
                   row);
        }
        return MLXN_OK;
    }
    case 2: { /* PERM_TRANSPOSE */
        const int64_t B = sh[0] * sh[1], R = sh[2], C = sh[3];
        switch (es) {
        case 1: transpose_uint8_t((const uint8_t *)x, (uint8_t *)y, B, R, C, nt); break;
        case 2: transpose_uint16_t((const uint16_t *)x, (uint16_t *)y, B, R, C, nt); break;
        case 4: transpose_uint32_t((const uint32_t *)x, (uint32_t *)y, B, R, C, nt); break;
        default: transpose_uint64_t((const uint64_t *)x, (uint64_t *)y, B, R, C, nt); break;
        }
        return MLXN_OK;
    }
    default:
        switch (es) {
        case 1: generic_uint8_t((const uint8_t *)x, (uint8_t *)y, sh, pm, nt); break;
        case 2: generic_uint16_t((const uint16_t *)x, (uint16_t *)y, sh, pm, nt); break;
        case 4: generic_uint32_t((const uint32_t *)x, (uint32_t *)y, sh, pm, nt); break;
        default: generic_uint64_t((const uint64_t *)x, (uint64_t *)y, sh, pm, nt); break;
        }
        return MLXN_OK;
    }
}

/* ---- copy_2d -------------------------------------------------------------------- */

int mlxn_cpu_copy_2d(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t rows = c->u.gen.i[0], cols = c->u.gen.i[1];
    const int64_t ss = c->u.gen.i[2], sc = c->u.gen.i[3], ds = c->u.gen.i[4], dc = c->u.gen.i[5];
    const size_t es = (size_t)c->u.gen.d[0], row = (size_t)cols * es;
    const char *src = c->args[0].ptr;
    char *dst = c->args[1].ptr;
    const int nt = threads_for((double)rows * (double)row);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; r++) memcpy(dst + (size_t)(r * ds + dc) * es, src + (size_t)(r * ss + sc) * es, row);
    return MLXN_OK;
}

/* ---- repeat_heads ------------------------------------------------------------------ */

int mlxn_cpu_repeat_heads(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t T = c->u.gen.i[0], Hg = c->u.gen.i[1], H = c->u.gen.i[2], D = c->u.gen.i[3];
    const size_t es = (size_t)c->u.gen.d[0], row = (size_t)D * es;
    const int interleaved = c->u.gen.d[1];
    const int64_t rep = H / Hg;
    const char *x = c->args[0].ptr;
    char *y = c->args[1].ptr;
    const int nt = threads_for((double)T * (double)H * (double)row);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t o = 0; o < T * H; o++) {
        const int64_t t = o / H, h = o % H;
        const int64_t g = interleaved ? h / rep : h % Hg;
        memcpy(y + (size_t)o * row, x + (size_t)(t * Hg + g) * row, row);
    }
    return MLXN_OK;
}

/* ---- kv_cache_write ------------------------------------------------------------------ */

int mlxn_cpu_kv_cache_write(void *dev, void *enc, const mlxn_op_call *c) {
    (void)dev;
    (void)enc;
    const int64_t T = c->u.gen.i[0], H = c->u.gen.i[1], D = c->u.gen.i[2], cap = c->u.gen.i[3], pos = c->u.gen.i[4];
    const int sdt = c->u.gen.d[0], cdt = c->u.gen.d[1], sliding = c->u.gen.d[2];
    const size_t ses = mlxn_dtype_size((mlxn_dtype)sdt), ces = mlxn_dtype_size((mlxn_dtype)cdt);
    const char *src = c->args[0].ptr;
    char *cache = c->args[1].ptr;
    const int nt = threads_for((double)T * (double)H * (double)D * (double)ces);
    /* h outer, t inner: a thread's consecutive rows are consecutive cache slots */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t o = 0; o < H * T; o++) {
        const int64_t h = o / T, t = o % T;
        int64_t slot = pos + t; /* pos < cap when sliding, t < T <= cap: one subtraction wraps */
        if (sliding && slot >= cap) slot -= cap;
        convert_row(sdt, src + (size_t)(t * H + h) * (size_t)D * ses, cdt,
                    cache + (size_t)(h * cap + slot) * (size_t)D * ces, D, 1.0f, 0);
    }
    return MLXN_OK;
}
