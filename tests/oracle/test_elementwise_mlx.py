"""The elementwise family (mlxn_unary, mlxn_binary, mlxn_glu, mlxn_cast) against MLX.

Mapping: GELU == mlx.nn.gelu_approx (0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))),
GELU_ERF == mlx.nn.gelu, SILU == mlx.nn.silu, SIGMOID/TANH/EXP/LOG == mx.sigmoid/
mx.tanh/mx.exp/mx.log, RELU == mlx.nn.relu, SCALE == x * alpha, SOFTCAP ==
alpha * mx.tanh(x / alpha); binary == MLX's + - * / with numpy broadcasting of a
row vector; GLU == act(gate) * up, fused: gate, up = split of the last axis in
halves; CAST == astype (both round to nearest even).

Both sides get the same dtype-rounded inputs. Tolerance (why it is what it is),
per element, with u the unit roundoff of the dtype the arithmetic runs in
(f32: 2^-24; f16: 2^-11, MLX computes f16 inputs in f16):
  Each side evaluates the activation as at most 8 roundings (products, sums,
  one transcendental of <= 2 ulp counted as 2) of intermediates of magnitude
  <= |x| + |y| + 1, propagated through functions whose slopes are <= 1.13 on
  the ranges used (gelu' <= 1.13, tanh' <= 1, sigmoid' <= 1/4; exp and log are
  relative-error functions, bounded by their <= 2 ulp of |y|); the x^3 term of
  gelu_approx only reaches the output through 0.5 x sech^2(v), which is tiny
  where |x|^3 is large. So each side errs by <= 8 u (|x| + |y| + 1) and the
  two together by <= 16 u (|x| + |y| + 1); the mlxn output rounding (<= u |y|)
  fits inside. GLU multiplies that by |up| and adds the product's rounding.
  Binary ops are one correctly rounded operation on both sides: equal up to
  2 u |y|. Casts are exact on both sides and must match value for value.
A real bug (wrong formula, wrong half of a fused row, wrong broadcast) gives
errors of order |y|, orders of magnitude above these bounds.
"""
import numpy as np
import pytest

import mlxn  # noqa: F401
import mlxn.elementwise as ew
from oracle_util import UNIT_ROUNDOFF, decode, encode, uniform_nonzero

mx = pytest.importorskip("mlx.core")
nn = pytest.importorskip("mlx.nn")

MX_DTYPE = {"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}
DTYPES = ["f32", "f16"]
SHAPES = [(1, 7), (3, 33), (64, 257)]


def to_mx(exact, dtype):
    """The exact dtype values as an MLX array of that dtype (exact conversion)."""
    return mx.array(exact.astype(np.float32)).astype(MX_DTYPE[dtype])


def from_mx(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


UNARY = {
    "gelu": (lambda x, a: nn.gelu_approx(x), (-6.0, 6.0)),
    "gelu_erf": (lambda x, a: nn.gelu(x), (-6.0, 6.0)),
    "silu": (lambda x, a: nn.silu(x), (-6.0, 6.0)),
    "sigmoid": (lambda x, a: mx.sigmoid(x), (-6.0, 6.0)),
    "tanh": (lambda x, a: mx.tanh(x), (-6.0, 6.0)),
    "relu": (lambda x, a: nn.relu(x), (-6.0, 6.0)),
    "exp": (lambda x, a: mx.exp(x), (-10.0, 10.0)),
    "log": (lambda x, a: mx.log(x), (0.01, 10.0)),
    "scale": (lambda x, a: x * a, (-4.0, 4.0)),
    "softcap": (lambda x, a: a * mx.tanh(x / a), (-7.5, 7.5)),
}
ALPHA = {"scale": -1.75, "softcap": 2.5}


def assert_close(got, ref, tol, what):
    err = np.abs(got - ref)
    bad = np.argmax(err - tol)
    assert np.all(err <= tol), "%s: |got - mlx| = %g > tol %g at %d (got %r, mlx %r)" % (
        what, err.flat[bad], tol.flat[bad], bad, got.flat[bad], ref.flat[bad])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary(device, rng, op, shape, dtype):
    fn, (lo, hi) = UNARY[op]
    alpha = ALPHA.get(op, 0.0)
    s, x = encode(uniform_nonzero(rng, shape, lo, hi), dtype)
    got = decode(ew.unary_np(s, op, alpha, dtype=dtype, device=device), dtype)
    ref = from_mx(fn(to_mx(x, dtype), alpha))
    u = UNIT_ROUNDOFF[dtype]
    assert_close(got, ref, 16 * u * (np.abs(x) + np.abs(ref) + 1), "%s %s" % (op, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bshape", ["full", "row", "scalar"])
@pytest.mark.parametrize("op", list(ew.BINARY_OPS))
def test_binary(device, rng, op, bshape, dtype):
    a64 = uniform_nonzero(rng, (5, 24), -2.0, 2.0)
    b_dims = {"full": (5, 24), "row": (24,), "scalar": (1,)}[bshape]
    b64 = uniform_nonzero(rng, b_dims, 0.5, 2.0) * rng.choice([-1.0, 1.0], size=b_dims)
    sa, a = encode(a64, dtype)
    sb, b = encode(b64, dtype)
    got = decode(ew.binary_np(sa, sb, op, dtype=dtype, device=device), dtype)
    am, bm = to_mx(a, dtype), to_mx(b, dtype)
    ref = from_mx({"add": am + bm, "sub": am - bm, "mul": am * bm, "div": am / bm}[op])
    assert_close(got, ref, 2 * UNIT_ROUNDOFF[dtype] * np.abs(ref), "%s %s %s" % (op, bshape, dtype))


GLU_ACT = {"swiglu": nn.silu, "geglu": nn.gelu_approx, "geglu_erf": nn.gelu, "sigmoid": mx.sigmoid}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", [False, True], ids=["split", "fused"])
@pytest.mark.parametrize("op", list(GLU_ACT))
def test_glu(device, rng, op, fused, dtype):
    rows, n = 6, 40
    g64 = uniform_nonzero(rng, (rows, n), -6.0, 6.0)
    u64 = uniform_nonzero(rng, (rows, n), -2.0, 2.0)
    sg, g = encode(g64, dtype)
    su, up = encode(u64, dtype)
    if fused:
        sf = np.concatenate([sg, su], axis=-1)  # each row: gate half, then up half (ggml's layout)
        got = ew.glu_np(sf, None, op, dtype=dtype, device=device)
        fm = to_mx(np.concatenate([g, up], axis=-1), dtype)
        gm, um = fm[:, :n], fm[:, n:]
    else:
        got = ew.glu_np(sg, su, op, dtype=dtype, device=device)
        gm, um = to_mx(g, dtype), to_mx(up, dtype)
    got = decode(got, dtype)
    act = from_mx(GLU_ACT[op](gm))
    ref = from_mx(GLU_ACT[op](gm) * um)
    u = UNIT_ROUNDOFF[dtype]
    tol = 16 * u * (np.abs(g) + np.abs(act) + 1) * np.abs(up) + 2 * u * np.abs(ref)
    assert_close(got, ref, tol, "%s %s %s" % (op, "fused" if fused else "split", dtype))


CAST_PAIRS = [(a, b) for a in ("f32", "f16", "bf16") for b in ("f32", "f16", "bf16")]


@pytest.mark.parametrize("src,dst", CAST_PAIRS, ids=["%s-%s" % p for p in CAST_PAIRS])
def test_cast(device, rng, src, dst):
    # magnitudes 2^-26 .. 2^15.9 (f16 subnormals and near-max), both signs, plus specials
    mag = np.exp2(rng.uniform(-26.0, 15.9, size=(4, 100)))
    x64 = mag * rng.choice([-1.0, 1.0], size=mag.shape)
    x64.flat[:6] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 65519.0]
    if src != "f16":
        x64.flat[6:8] = [1.0e5, -3.0e38 if src == "f32" else -1.0e30]  # overflow to +-inf in f16
    s, x = encode(x64, src)
    got = decode(ew.cast_np(s, dst, dtype=src, device=device), dst)
    ref = from_mx(to_mx(x, src).astype(MX_DTYPE[dst]))
    same = (got == ref) & (np.signbit(got) == np.signbit(ref)) | (np.isnan(got) & np.isnan(ref))
    bad = np.flatnonzero(~same)
    assert bad.size == 0, "cast %s->%s: %d mismatches, first at %d: got %r, mlx %r (x %r)" % (
        src, dst, bad.size, bad[0], got.flat[bad[0]], ref.flat[bad[0]], x.flat[bad[0]])
