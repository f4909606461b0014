"""mlxn_rope against MLX's mx.fast.rope (peers.md C and E3).

Mapping: ggml NORMAL == traditional=True, NEOX == traditional=False; MLX `scale`
multiplies positions == our freq_scale with ext_factor 0 and attn_factor 1; MLX
positions are offset + arange(T) == our positions array. MLX `freqs` are periods
(theta_i = pos*scale/freqs_i); our freq factors ff_i give
theta_i = pos*base^(-2i/n)/ff_i, so freqs_i = base^(2i/n)*ff_i.

Layouts: mlxn takes [seq, heads, head_dim] ([batch, seq, heads, head_dim]); MLX
takes the sequence on axis -2, so it gets [heads, seq, head_dim]
([batch, heads, seq, head_dim]).

Tolerance (why it is what it is). Let u = 2^-24, M = max|x|, P = the largest
angle theta used (max position * scale * max inverse frequency).
  MLX computes in float32 (fast.cpp fallback):
    pos = (arange+offset)*scale            one rounding: <= u relative
    inv_i = exp(-i * (log(base)/(dims/2)))   the argument a_i carries <= 3u relative
        error (log, divide, multiply), so inv_i is off by <= (3|a_i| + 2)u relative
        (2u: exp's own error); theta_i*|a_i| = pos*|a_i|*e^-|a_i| <= pos/e.
    theta_i = pos*inv_i                     one rounding
    => |dtheta| <= (3/e + 2 + 1 + 1) * P * u ~ 5.1 P u; with `freqs`, inv = 1/freqs
       (one rounding) of freqs rounded to f32 (one) => <= 4 P u. Bound: 6 P u.
  mlxn computes theta in float64: its angle error is negligible next to that.
  An angle error dtheta moves the rotated pair by |dtheta| * |(x0, x1)| <= sqrt(2) M |dtheta|.
  cos/sin rounding (<= 2u each, both sides) plus the f32 products and sums of the
  rotation add <= 8u * sqrt(2) M.
  => f32:  atol = sqrt(2) * M * u * (6 P + 8)
  f16 adds the 16-bit arithmetic (u16 = 2^-11): MLX casts cos and sin to f16
  (|x0|+|x1| <= 2M u16), rounds x0*cos and x1*sin to f16 (<= 2M u16) and their sum
  (<= sqrt(2) M u16); mlxn rounds its f32 result once (<= sqrt(2) M u16):
  total <= 6.9 M u16 -> 8 M u16 on top of the f32 bound.
Measured on CPU the f32 error is about 1 * P * u * M, well inside the bound; a real
bug (wrong pairing, position, frequency or base) gives errors of order M.
"""
import math

import numpy as np
import pytest

import mlxn
from oracle_util import U_F16, U_F32, encode, uniform_nonzero

mx = pytest.importorskip("mlx.core")

MODES = [pytest.param(True, id="normal"), pytest.param(False, id="neox")]  # MLX traditional flag
DTYPES = ["f32", "f16"]
# (seq, heads, head_dim, dims): full rotation, half, and partial with a non power of two head
SHAPES = [(16, 4, 64, 64), (9, 3, 64, 32), (7, 2, 80, 48)]
# (base, scale, offset)
CASES = [
    (10000.0, 1.0, 0),
    (10000.0, 1.0, 4000),
    (500000.0, 0.25, 37),
    (1000000.0, 1.0, 1234),
    (100.0, 2.0, 5),
    (10000.0, 0.125, 8000),
]


def tolerance(max_theta, max_abs_x, dtype):
    """The bound derived in the module docstring."""
    tol = math.sqrt(2.0) * max_abs_x * U_F32 * (6.0 * max_theta + 8.0)
    if dtype == "f16":
        tol += 8.0 * max_abs_x * U_F16
    return tol


def mlx_rope(x, dims, traditional, base, scale, offset, freqs=None):
    """x in mlxn layout [..., seq, heads, D]; returns MLX's result in the same layout (float64)."""
    xm = mx.array(np.swapaxes(x, -3, -2))
    if freqs is None:
        y = mx.fast.rope(xm, dims, traditional=traditional, base=base, scale=scale, offset=offset)
    else:
        y = mx.fast.rope(xm, dims, traditional=traditional, base=None, scale=scale, offset=offset,
                         freqs=mx.array(freqs))
    return np.swapaxes(np.array(y.astype(mx.float32)), -3, -2).astype(np.float64)


def check(got, ref, x, dims, max_theta, dtype):
    got = got.astype(np.float64)
    assert np.all(np.isfinite(got))
    # dims [n_dims, head_dim) are copied bit for bit
    np.testing.assert_array_equal(got[..., dims:], x[..., dims:].astype(np.float64))
    err = np.abs(got - ref).max()
    tol = tolerance(max_theta, np.abs(x.astype(np.float64)).max(), dtype)
    assert err <= tol, "max abs diff %.3g > tolerance %.3g" % (err, tol)


@pytest.mark.parametrize("base,scale,offset", CASES)
@pytest.mark.parametrize("seq,heads,head_dim,dims", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("traditional", MODES)
def test_rope_matches_mlx(device, rng, traditional, dtype, seq, heads, head_dim, dims, base, scale, offset):
    x, _ = encode(uniform_nonzero(rng, (seq, heads, head_dim)), dtype)
    positions = (offset + np.arange(seq)).astype(np.int32)
    got = mlxn.ops.rope_np(x, positions, n_dims=dims, freq_base=base, freq_scale=scale,
                           mode="normal" if traditional else "neox", device=device)
    ref = mlx_rope(x, dims, traditional, base, scale, offset)
    check(got, ref, x, dims, (offset + seq - 1) * scale, dtype)


@pytest.mark.parametrize("pos_dtype", [np.int32, np.uint32])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("traditional", MODES)
def test_rope_batched_matches_mlx(device, rng, traditional, dtype, pos_dtype):
    """[batch, seq, heads, head_dim] input; positions shared by every batch row."""
    batch, seq, heads, head_dim, dims, base, scale, offset = 3, 11, 4, 64, 64, 10000.0, 0.5, 300
    x, _ = encode(uniform_nonzero(rng, (batch, seq, heads, head_dim)), dtype)
    positions = (offset + np.arange(seq)).astype(pos_dtype)
    got = mlxn.ops.rope_np(x, positions, n_dims=dims, freq_base=base, freq_scale=scale,
                           mode="normal" if traditional else "neox", device=device)
    ref = mlx_rope(x, dims, traditional, base, scale, offset)
    check(got, ref, x, dims, (offset + seq - 1) * scale, dtype)


@pytest.mark.parametrize("base,scale,offset", [(10000.0, 1.0, 17), (500000.0, 0.25, 3000)])
@pytest.mark.parametrize("seq,heads,head_dim,dims", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("traditional", MODES)
def test_rope_freq_factors_match_mlx_freqs(device, rng, traditional, dtype, seq, heads, head_dim, dims, base,
                                           scale, offset):
    x, _ = encode(uniform_nonzero(rng, (seq, heads, head_dim)), dtype)
    ff = rng.uniform(0.5, 8.0, dims // 2).astype(np.float32)  # e.g. Llama-3 long-context factors
    i = np.arange(dims // 2)
    freqs = (np.float64(np.float32(base)) ** (2.0 * i / dims) * ff.astype(np.float64)).astype(np.float32)
    positions = (offset + np.arange(seq)).astype(np.int32)
    got = mlxn.ops.rope_np(x, positions, ff, n_dims=dims, freq_base=base, freq_scale=scale,
                           mode="normal" if traditional else "neox", device=device)
    ref = mlx_rope(x, dims, traditional, base, scale, offset, freqs=freqs)
    max_theta = (offset + seq - 1) * scale * float(np.max(1.0 / freqs.astype(np.float64)))
    check(got, ref, x, dims, max_theta, dtype)
