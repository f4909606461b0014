"""The norm family against its peers: mlxn_rms_norm vs MLX's mx.fast.rms_norm
(peers.md E4) and mlxn_l2_norm vs the float64 formula x / sqrt(sum(x^2) + eps)
(HF/fla l2norm) in numpy.

Tolerance (why it is what it is). Let u32 = 2^-24, u16 = the unit roundoff of
the 16-bit dtype (f16 2^-11, bf16 2^-8), y = x * r * w the exact result from
the (exactly representable) inputs, r = (mean(x^2) + eps)^-1/2, n = dim.
  mlxn computes in f32 and rounds once. Its sum of squares is a short-chain
  sum (CPU: f32 lanes over 256-element blocks, blocks added in double; CUDA:
  <= 32 fmaf per thread, then a <= 10-level tree): <= ~42 u32 relative, so r
  is within ~21 u32 (+ a few for the divide, eps add and rsqrt), and the two
  products add 2 u32: |ours - y| <= 64 u32 |y| (+ u16 |y| for 16-bit output).
  MLX (E4) also reduces in f32, but we assume nothing about its order: a
  sequential sum of n positive terms is off by <= n u32 relative, r by half
  that, plus the divide, eps add, rsqrt and the products: <= (n/2 + 6) u32 |y|.
  For 16-bit x MLX casts the normalized x*r to the dtype (<= u16 relative)
  and multiplies by the weight in the dtype (one more rounding): two roundings
  with a weight, one without. With an f32 weight MLX's output is f32 (dtype
  promotion), so only our rounding counts.
  => tol_i = ((n/2 + 70) u32 + k u16) |y_i| + k * 2^-24, with k = 1 + MLX's
  roundings for 16-bit x (k = 0 for f32); the absolute term covers f16
  subnormal outputs (spacing 2^-24).
  l2_norm against exact float64: tol_i = (64 u32 + u16) |y_i| (+ 2^-24 for f16).
A real bug (eps outside the root, wrong divisor, weight skipped, a row mixed
up) moves elements by far more: the eps 0.1 and 1e-3-magnitude cases make eps
dominate r, so eps is checked to ~1e-4 relative, not just present.
"""
import numpy as np
import pytest

import mlxn
from mlxn import norm
from oracle_util import U_F32, UNIT_ROUNDOFF, decode, encode, uniform_nonzero

DTYPES = ["f32", "f16", "bf16"]
# shapes [..., dim]: short (warp) and long (block) rows, odd widths (scalar paths), 3-D
SHAPES = [(4, 64), (5, 33), (2, 3, 127), (2, 1025), (3, 4096), (1, 8192)]
EPS = [1e-6, 0.1]


def exact_rms(x64, w64, eps):
    r = 1.0 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + np.float64(np.float32(eps)))
    y = x64 * r
    return y if w64 is None else y * w64


def exact_l2(x64, eps):
    return x64 / np.sqrt(np.sum(x64 * x64, axis=-1, keepdims=True) + np.float64(np.float32(eps)))


def to_mx(s, dtype):
    import mlx.core as mx
    if dtype == "bf16":
        return mx.array(decode(s, "bf16").astype(np.float32)).astype(mx.bfloat16)
    return mx.array(s)


def run_ours(device, fn, x_s, dtype, *rest):
    made = []
    try:
        xb = mlxn.Buffer.from_numpy(device, x_s, dtype)
        made.append(xb)
        args = []
        for arr, dt in rest:
            b = None
            if arr is not None:
                b = mlxn.Buffer.from_numpy(device, arr, dt)
                made.append(b)
            args.append(b)
        out = mlxn.Buffer.new(device, dtype, xb.shape)
        made.append(out)
        with mlxn.Encoder(device) as enc:
            fn(enc, xb, *args, out)
            enc.wait()
        return decode(out.numpy(), dtype)
    finally:
        for b in made:
            b.close()


def check(got, ref, tol, what):
    err = np.abs(got - ref)
    assert np.all(np.isfinite(got)), what + ": non-finite output"
    bad = err > tol
    if bad.any():
        i = np.unravel_index(np.argmax(err - tol), err.shape)
        pytest.fail("%s: %d elements over tolerance; worst at %s: got %r, ref %r, tol %.3e"
                    % (what, int(bad.sum()), i, got[i], ref[i], tol[i]))


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weight", ["none", "same", "f32"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_vs_mlx(device, rng, dtype, weight, shape, eps):
    mx = pytest.importorskip("mlx.core")
    if weight == "f32" and dtype == "f32":
        pytest.skip("same as weight=same for f32")
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    w_dt = None if weight == "none" else ("f32" if weight == "f32" else dtype)
    w_s = w64 = None
    if w_dt:
        w_s, w64 = encode(uniform_nonzero(rng, shape[-1:], 0.25, 2.0) * rng.choice([-1.0, 1.0], shape[-1]), w_dt)

    got = run_ours(device, lambda e, x, w, y: norm.rms_norm(e, x, w, y, eps=eps), x_s, dtype, (w_s, w_dt))
    ym = mx.fast.rms_norm(to_mx(x_s, dtype), None if w_s is None else to_mx(w_s, w_dt), eps)
    ref = np.array(ym.astype(mx.float32)).astype(np.float64)

    y = np.abs(exact_rms(x64, w64, eps))
    n = shape[-1]
    k = 0
    if dtype != "f32":
        k = 1 + (0 if w_dt == "f32" else (2 if w_dt else 1))
    tol = ((n / 2 + 70) * U_F32 + k * UNIT_ROUNDOFF[dtype]) * y + k * 2.0**-24
    check(got, ref, tol, "rms_norm %s w=%s %s eps=%g" % (dtype, weight, shape, eps))


@pytest.mark.parametrize("mag", [1e3, 1e-3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_magnitudes_vs_mlx(device, rng, dtype, mag):
    """Large inputs (sum of squares ~1e9) and tiny ones, where eps = 1e-6
    outweighs mean(x^2) ~3e-7 (and f16 inputs are partly subnormal)."""
    mx = pytest.importorskip("mlx.core")
    shape, eps = (3, 4096), 1e-6
    x_s, x64 = encode(uniform_nonzero(rng, shape) * mag, dtype)
    w_s, w64 = encode(uniform_nonzero(rng, shape[-1:], 0.5, 1.5), dtype)
    got = run_ours(device, lambda e, x, w, y: norm.rms_norm(e, x, w, y, eps=eps), x_s, dtype, (w_s, dtype))
    ref = np.array(mx.fast.rms_norm(to_mx(x_s, dtype), to_mx(w_s, dtype), eps).astype(mx.float32)).astype(np.float64)
    k = 0 if dtype == "f32" else 3
    tol = ((shape[-1] / 2 + 70) * U_F32 + k * UNIT_ROUNDOFF[dtype]) * np.abs(exact_rms(x64, w64, eps)) + k * 2.0**-24
    check(got, ref, tol, "rms_norm %s mag=%g" % (dtype, mag))


@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.1])
@pytest.mark.parametrize("shape", SHAPES + [(64, 128)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_norm_vs_numpy(device, rng, dtype, shape, eps):
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    got = run_ours(device, lambda e, x, y: norm.l2_norm(e, x, y, eps=eps), x_s, dtype)
    ref = exact_l2(x64, eps)
    u16 = 0.0 if dtype == "f32" else UNIT_ROUNDOFF[dtype]
    tol = (64 * U_F32 + u16) * np.abs(ref) + (2.0**-24 if dtype == "f16" else 0.0)
    check(got, ref, tol, "l2_norm %s %s eps=%g" % (dtype, shape, eps))


def test_in_place_and_errors(device, rng):
    """y == x is allowed; a bad eps raises with the op's message and leaves y alone."""
    x_s, x64 = encode(uniform_nonzero(rng, (3, 256)), "f32")
    with mlxn.Buffer.from_numpy(device, x_s) as xb, mlxn.Encoder(device) as enc:
        norm.rms_norm(enc, xb, None, xb, eps=1e-6)
        enc.wait()
        got = xb.numpy().astype(np.float64)
        np.testing.assert_allclose(got, exact_rms(x64, None, 1e-6), rtol=64 * U_F32 * 4, atol=0)
        before = xb.numpy()
        with pytest.raises(mlxn.MlxnError) as ei:
            norm.l2_norm(enc, xb, xb, eps=-1.0)
        assert ei.value.message.startswith("l2_norm: eps (-1)")
        np.testing.assert_array_equal(xb.numpy(), before)


def test_numpy_conveniences():
    x = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 64) + np.float32(1e-3)
    got = norm.rms_norm_np(x, np.full(64, 2.0, np.float32), eps=1e-5)
    want = 2.0 * exact_rms(x.astype(np.float64), None, 1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    got = norm.l2_norm_np(x, eps=0.0)
    np.testing.assert_allclose(got, exact_l2(x.astype(np.float64), 0.0), rtol=1e-5)
