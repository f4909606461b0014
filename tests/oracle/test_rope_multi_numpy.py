"""mlxn_rope_multi and mlxn_vision_2d_rope against independent float64 numpy
implementations of ggml's / HF transformers' rules (DESIGN.md "rope_multi
semantics", peers.md C, the doc comments in include/mlxn.h).

Tolerances (per element, M = max|x|, u32 = 2^-24):
  The reference is float64: its error (~1e-16 relative) is negligible.
  mlxn computes each angle in float64 and reduces it there (CPU: double sincos;
  CUDA: reduced mod 2*pi in double, then sincosf), so the error does NOT grow with
  the position (positions here go up to 10^4). What remains is float32:
    cos, sin rounded to f32 (u32 each) plus the f32 trig error on CUDA (<= 6 u32
    even for the fast intrinsics on [-pi, pi])      -> <= 7 u32 each, times |x0|+|x1| <= 2M
    the products x0*cos, x1*sin rounded (<= u32*M each) -> 2 M u32
    their sum rounded (<= u32 * sqrt(2) M)               -> 1.5 M u32
  total <= 17.5 M u32  ->  f32 tolerance 24 M u32 (about 1.4e-6 for M = 1).
  f16 / bf16 outputs are that f32 result rounded once to nearest: add u*|ref| with
  u = 2^-11 (f16) or 2^-8 (bf16), and 2^-25 (half the f16 subnormal spacing).
Dimensions that are not rotated must come back bit for bit.
"""
import numpy as np
import pytest

import mlxn
from oracle_util import UNIT_ROUNDOFF, U_F32, decode, encode, uniform_nonzero

DTYPES = ["f32", "f16", "bf16"]
MAX_POS = 10_000


# ---------------------------------------------------------------------------
# float64 references
# ---------------------------------------------------------------------------


def multi_axis(mode, q, s):
    """Position axis (0 t, 1 h, 2 w, 3 e) of sector q."""
    if mode == "mrope":  # contiguous sections
        if q < s[0]:
            return 0
        if q < s[0] + s[1]:
            return 1
        if q < s[0] + s[1] + s[2]:
            return 2
        return 3
    if mode == "imrope":  # interleaved t, h, w
        if q % 3 == 0 and q < 3 * s[0]:
            return 0
        if q % 3 == 1 and q < 3 * s[1]:
            return 1
        if q % 3 == 2 and q < 3 * s[2]:
            return 2
        return 3
    raise ValueError(mode)


def rotate(y, x, i0, i1, theta):
    """y[..., i0], y[..., i1] = the NeoX pair (x[..., i0], x[..., i1]) rotated by theta [seq]."""
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x0, x1 = x[:, :, i0], x[:, :, i1]
    y[:, :, i0] = x0 * c - x1 * s
    y[:, :, i1] = x0 * s + x1 * c


def rope_multi_ref(x, pos, *, rope_dim, freq_base, mode, sections):
    """x float64 [seq, heads, head_dim]; pos [4, seq] (t, h, w, e)."""
    head_dim = x.shape[-1]
    base = float(np.float32(freq_base))  # the C parameter is a float
    pos = pos.astype(np.float64)
    y = x.copy()  # dims [rope_dim, head_dim) pass through
    n_sect = sum(sections)
    for p in range(rope_dim // 2):
        q = p % n_sect
        if mode == "vision":  # index restarts in the second section; denominator head_dim/2
            axis, local = (0, q) if q < sections[0] else (1, q - sections[0])
            theta = pos[axis] * base ** (-2.0 * local / (head_dim / 2))
            rotate(y, x, p, p + head_dim // 2, theta)
        else:
            theta = pos[multi_axis(mode, q, sections)] * base ** (-2.0 * p / rope_dim)
            rotate(y, x, p, p + rope_dim // 2, theta)  # HF partial rotary pairing
    return y


def vision_2d_ref(x, pos_x, pos_y, theta_base):
    """mlxn.h: q = head_dim/4; the first half rotates (x[i], x[i+q]) by pos_x, the second
    half (x[2q+i], x[3q+i]) by pos_y, angle = pos * theta^(-2i/(head_dim/2))."""
    head_dim = x.shape[-1]
    q = head_dim // 4
    base = float(np.float32(theta_base))
    y = x.copy()
    for i in range(q):
        inv = base ** (-2.0 * i / (head_dim / 2))
        rotate(y, x, i, i + q, pos_x.astype(np.float64) * inv)
        rotate(y, x, 2 * q + i, 3 * q + i, pos_y.astype(np.float64) * inv)
    return y


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------


def assert_close(got_storage, ref, x_exact, dtype, n_rotated_dims):
    got = decode(got_storage, dtype)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(got[..., n_rotated_dims:], x_exact[..., n_rotated_dims:])
    m = np.abs(x_exact).max()
    tol = 24.0 * m * U_F32
    if dtype != "f32":
        tol = tol + UNIT_ROUNDOFF[dtype] * np.abs(ref) + 2.0**-25
    err = np.abs(got - ref)
    worst = np.unravel_index(np.argmax(err - tol), err.shape)
    assert np.all(err <= tol), "at %s: got %r, expected %r (tolerance %.3g)" % (
        worst, got[worst], ref[worst], np.broadcast_to(tol, err.shape)[worst])


# name: (seq, heads, head_dim, rope_dim, freq_base, mode, sections)
MULTI_CONFIGS = {
    "qwen3.5-imrope": (10, 4, 256, 64, 1e7, "imrope", (11, 11, 10, 0)),
    "qwen2vl-mrope": (12, 3, 128, 128, 1e6, "mrope", (16, 24, 24, 0)),
    "qwen3vl-imrope": (9, 3, 128, 128, 5e6, "imrope", (24, 20, 20, 0)),
    "vision": (11, 2, 80, 80, 10000.0, "vision", (20, 20, 0, 0)),
    "vision-uneven": (7, 3, 64, 64, 100.0, "vision", (12, 20, 0, 0)),
    # sections summing to less than rope_dim/2: the sector wraps (p mod 8), e axis used
    "mrope-partial-wrap": (8, 2, 64, 48, 10000.0, "mrope", (3, 2, 2, 1)),
    # sum 17: sectors 14 and 16 fall to the e axis
    "imrope-partial-e": (6, 2, 96, 64, 500000.0, "imrope", (6, 5, 4, 2)),
}


@pytest.mark.parametrize("pos_dtype", [np.int32, np.uint32])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", list(MULTI_CONFIGS))
def test_rope_multi_matches_numpy(device, rng, config, dtype, pos_dtype):
    seq, heads, head_dim, rope_dim, base, mode, sections = MULTI_CONFIGS[config]
    x, x_exact = encode(uniform_nonzero(rng, (seq, heads, head_dim)), dtype)
    pos = rng.integers(0, MAX_POS + 1, size=(4, seq))
    got = mlxn.ops.rope_multi_np(x, pos.reshape(-1).astype(pos_dtype), freq_base=base, mode=mode,
                                 sections=sections, rope_dim=rope_dim,
                                 dtype=dtype, device=device)
    ref = rope_multi_ref(x_exact, pos, rope_dim=rope_dim, freq_base=base, mode=mode, sections=sections)
    assert_close(got, ref, x_exact, dtype, rope_dim)


@pytest.mark.parametrize("config", [c for c in MULTI_CONFIGS if MULTI_CONFIGS[c][5] != "vision"])
def test_rope_multi_equal_axes_is_neox_rope(device, rng, config):
    """With t == h == w == e, MROPE/IMROPE is plain NeoX RoPE with n_dims = rope_dim.
    Both ops compute the same float64 angle pos*base^(-2p/rope_dim); at most its last
    bits (~1e-16 relative, <= 1e-12 absolute here) could differ, which moves cos/sin by
    less than one f32 ulp and the f32 result by a few u32*M (~2e-7): bound 1e-6."""
    seq, heads, head_dim, rope_dim, base, mode, sections = MULTI_CONFIGS[config]
    x = uniform_nonzero(rng, (seq, heads, head_dim)).astype(np.float32)
    pos = rng.integers(0, MAX_POS + 1, size=seq).astype(np.int32)
    multi = mlxn.ops.rope_multi_np(x, np.tile(pos, 4), freq_base=base, mode=mode, sections=sections,
                                   rope_dim=rope_dim, device=device)
    plain = mlxn.ops.rope_np(x, pos, n_dims=rope_dim, freq_base=base, mode="neox", device=device)
    assert np.abs(multi.astype(np.float64) - plain).max() <= 1e-6


# (seq, heads, head_dim, theta, max position)
VISION_2D = [(13, 3, 64, 100.0, 64), (5, 2, 72, 100.0, 1000), (9, 4, 128, 10000.0, MAX_POS)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seq,heads,head_dim,theta,max_pos", VISION_2D)
def test_vision_2d_rope_matches_numpy(device, rng, seq, heads, head_dim, theta, max_pos, dtype):
    x, x_exact = encode(uniform_nonzero(rng, (seq, heads, head_dim)), dtype)
    pos_x = rng.integers(0, max_pos, size=seq).astype(np.int32)
    pos_y = rng.integers(0, max_pos, size=seq).astype(np.int32)
    got = mlxn.ops.vision_2d_rope_np(x, pos_x, pos_y, theta=theta, dtype=dtype, device=device)
    ref = vision_2d_ref(x_exact, pos_x, pos_y, theta)
    assert_close(got, ref, x_exact, dtype, head_dim)
