"""The fused-norm family against float64 numpy formulas (and, for f32, against
an MLX composition built on mx.fast.rms_norm): mlxn_add_rms_norm,
mlxn_rms_norm_add, mlxn_rms_norm_gate.

Tolerance (why it is what it is). u32 = 2^-24, u16 = the unit roundoff of
the 16-bit dtype (f16 2^-11, bf16 2^-8; 0 for f32), n = rms_norm(v) * w the
exact normalized value from the exactly representable inputs.
  mlxn computes in f32 and rounds each output once. The rms_norm part is the
  one of tests/oracle/test_norm_mlx.py: <= 64 u32 |n| (short-chain sum of
  squares <= ~42 u32, halved by the root, + divide, eps add, rsqrt, two
  products).
  add_rms_norm: s = a + b is rounded to f32 once (u32 per element, and the
  sum of squares of the rounded s moves r by <= u32): y within
  (66 u32 + u16) |y|. Normalizing the ROUNDED 16-bit s instead (the bug the
  contract rules out) adds up to u16 |y| more, which this bound rejects on
  many elements. sum_out must equal round(f32(a + b)) bit for bit.
  rms_norm_add: n (<= 64 u32 |n|), + res and * scale (one u32 each, relative
  to |res + n| and |y|): within (66 u32 (|n| + |res|) |scale| + u16 |y|).
  rms_norm_gate: silu(z) = z / (1 + e^-z) with a ~1-ulp exp, the divide and
  one more product: within (72 u32 + u16) |y|.
  f16 outputs may be subnormal (spacing 2^-24): + 2^-24 absolute for f16.
The MLX compositions (f32 only) evaluate in f32 in an order we do not know:
MLX's rms_norm is within (n/2 + 6) u32 (see test_norm_mlx.py), the add, the
silu (sigmoid * z) and the products a few u32 more:
tol = (dim/2 + 80) u32 (|n| + |res|) + 80 u32 |y|.
"""
import numpy as np
import pytest

import mlxn
from mlxn import fused_norm
from oracle_util import U_F32, UNIT_ROUNDOFF, decode, encode, uniform_nonzero

DTYPES = ["f32", "f16", "bf16"]
SHAPES = [(1, 1), (4, 64), (5, 33), (2, 3, 127), (2, 1025), (3, 4096), (1, 8192)]
WEIGHTS = ["none", "same", "f32"]


def inv_rms(v64, eps):
    return 1.0 / np.sqrt(np.mean(v64 * v64, axis=-1, keepdims=True) + np.float64(np.float32(eps)))


def silu64(z):
    return z / (1.0 + np.exp(-z))


def round_to(x32, dtype):
    """float32 values rounded once to dtype, as exact float64."""
    return encode(x32.astype(np.float64), dtype)[1] if dtype != "f32" else x32.astype(np.float64)


def u16(dtype):
    return 0.0 if dtype == "f32" else UNIT_ROUNDOFF[dtype]


def abs_term(dtype):
    return 2.0**-24 if dtype == "f16" else 0.0


def make_w(rng, dim, dtype, weight):
    w_dt = None if weight == "none" else ("f32" if weight == "f32" else dtype)
    if w_dt is None:
        return None, None, None
    w_s, w64 = encode(uniform_nonzero(rng, (dim,), 0.25, 2.0) * rng.choice([-1.0, 1.0], dim), w_dt)
    return w_s, w64, w_dt


def run(device, fn, rows, dtype, w_s, w_dt, n_out, alias=None):
    """rows: storage arrays of the row inputs; fn(enc, row bufs, w buf, out bufs).
    alias: {output index: row index} to pass an input view as that output."""
    made = []
    try:
        rb = [mlxn.Buffer.from_numpy(device, r, dtype) for r in rows]
        made += rb
        wb = None
        if w_s is not None:
            wb = mlxn.Buffer.from_numpy(device, w_s, w_dt)
            made.append(wb)
        outs = []
        for k in range(n_out):
            if alias and k in alias:
                outs.append(rb[alias[k]])
            else:
                outs.append(mlxn.Buffer.new(device, dtype, rb[0].shape))
                made.append(outs[-1])
        with mlxn.Encoder(device) as enc:
            fn(enc, rb, wb, outs)
            enc.wait()
        return [decode(o.numpy(), dtype) for o in outs], [r.numpy() for r in rb]
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


def add_case(rng, dtype, shape, mag=1.0):
    a_s, a64 = encode(uniform_nonzero(rng, shape) * mag, dtype)
    b_s, b64 = encode(uniform_nonzero(rng, shape) * mag, dtype)
    return a_s, a64, b_s, b64


def sum_expected(a64, b64, dtype):
    return round_to(a64.astype(np.float32) + b64.astype(np.float32), dtype)


@pytest.mark.parametrize("eps", [1e-6, 0.1])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_rms_norm(device, rng, dtype, weight, shape, eps):
    if weight == "f32" and dtype == "f32":
        pytest.skip("same as weight=same for f32")
    a_s, a64, b_s, b64 = add_case(rng, dtype, shape)
    w_s, w64, w_dt = make_w(rng, shape[-1], dtype, weight)
    (y, s), _ = run(device, lambda e, r, w, o: fused_norm.add_rms_norm(e, r[0], r[1], w, o[0], o[1], eps=eps),
                    [a_s, b_s], dtype, w_s, w_dt, 2)
    s64 = a64 + b64
    ref = s64 * inv_rms(s64, eps) * (1.0 if w64 is None else w64)
    check(y, ref, (66 * U_F32 + u16(dtype)) * np.abs(ref) + abs_term(dtype),
          "add_rms_norm %s w=%s %s eps=%g" % (dtype, weight, shape, eps))
    np.testing.assert_array_equal(s, sum_expected(a64, b64, dtype))


@pytest.mark.parametrize("mag", [1e3, 1e-3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_rms_norm_magnitudes_and_aliases(device, rng, dtype, mag):
    """Large and tiny inputs; y written over a and sum_out over b."""
    shape, eps = (3, 4096), 1e-6
    a_s, a64, b_s, b64 = add_case(rng, dtype, shape, mag)
    w_s, w64, w_dt = make_w(rng, shape[-1], dtype, "same")
    (y, s), _ = run(device, lambda e, r, w, o: fused_norm.add_rms_norm(e, r[0], r[1], w, o[0], o[1], eps=eps),
                    [a_s, b_s], dtype, w_s, w_dt, 2, alias={0: 0, 1: 1})
    s64 = a64 + b64
    ref = s64 * inv_rms(s64, eps) * w64
    check(y, ref, (66 * U_F32 + u16(dtype)) * np.abs(ref) + abs_term(dtype), "add_rms_norm %s mag=%g" % (dtype, mag))
    np.testing.assert_array_equal(s, sum_expected(a64, b64, dtype))


@pytest.mark.parametrize("scale", [1.0, 0.25, -1.5])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_add(device, rng, dtype, weight, shape, scale):
    if weight == "f32" and dtype == "f32":
        pytest.skip("same as weight=same for f32")
    eps = 1e-6
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    r_s, r64 = encode(uniform_nonzero(rng, shape), dtype)
    w_s, w64, w_dt = make_w(rng, shape[-1], dtype, weight)
    (y,), _ = run(device, lambda e, r, w, o: fused_norm.rms_norm_add(e, r[0], w, r[1], o[0], eps=eps, scale=scale),
                  [x_s, r_s], dtype, w_s, w_dt, 1, alias={0: 1})
    n = x64 * inv_rms(x64, eps) * (1.0 if w64 is None else w64)
    ref = (r64 + n) * np.float64(np.float32(scale))
    tol = 66 * U_F32 * (np.abs(n) + np.abs(r64)) * abs(scale) + u16(dtype) * np.abs(ref) + abs_term(dtype)
    check(y, ref, tol, "rms_norm_add %s w=%s %s scale=%g" % (dtype, weight, shape, scale))


@pytest.mark.parametrize("eps", [1e-6, 0.1])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_gate(device, rng, dtype, weight, shape, eps):
    if weight == "f32" and dtype == "f32":
        pytest.skip("same as weight=same for f32")
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    z_s, z64 = encode(uniform_nonzero(rng, shape, -8.0, 8.0), dtype)
    w_s, w64, w_dt = make_w(rng, shape[-1], dtype, weight)
    (y,), _ = run(device, lambda e, r, w, o: fused_norm.rms_norm_gate(e, r[0], w, r[1], o[0], eps=eps),
                  [x_s, z_s], dtype, w_s, w_dt, 1)
    ref = x64 * inv_rms(x64, eps) * (1.0 if w64 is None else w64) * silu64(z64)
    check(y, ref, (72 * U_F32 + u16(dtype)) * np.abs(ref) + abs_term(dtype),
          "rms_norm_gate %s w=%s %s eps=%g" % (dtype, weight, shape, eps))


@pytest.mark.parametrize("shape", [(4, 64), (2, 1025), (3, 4096)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", ["add_rms_norm", "rms_norm_add", "rms_norm_gate"])
def test_f32_vs_mlx_composition(device, rng, op, shape):
    mx = pytest.importorskip("mlx.core")
    eps, scale = 1e-6, 0.5
    p_s, p64 = encode(uniform_nonzero(rng, shape), "f32")
    q_s, q64 = encode(uniform_nonzero(rng, shape, -4.0, 4.0), "f32")
    w_s, w64, w_dt = make_w(rng, shape[-1], "f32", "same")
    P, Q, W = mx.array(p_s), mx.array(q_s), mx.array(w_s)
    if op == "add_rms_norm":
        (y, _), _ = run(device, lambda e, r, w, o: fused_norm.add_rms_norm(e, r[0], r[1], w, o[0], o[1], eps=eps),
                        [p_s, q_s], "f32", w_s, w_dt, 2)
        ym = mx.fast.rms_norm(P + Q, W, eps)
        s64 = p64 + q64
        n, res = s64 * inv_rms(s64, eps) * w64, 0.0
    elif op == "rms_norm_add":
        (y,), _ = run(device, lambda e, r, w, o: fused_norm.rms_norm_add(e, r[0], w, r[1], o[0], eps=eps,
                                                                          scale=scale), [p_s, q_s], "f32", w_s, w_dt, 1)
        ym = (Q + mx.fast.rms_norm(P, W, eps)) * scale
        n, res = p64 * inv_rms(p64, eps) * w64, q64
    else:
        (y,), _ = run(device, lambda e, r, w, o: fused_norm.rms_norm_gate(e, r[0], w, r[1], o[0], eps=eps),
                      [p_s, q_s], "f32", w_s, w_dt, 1)
        ym = mx.fast.rms_norm(P, W, eps) * (Q * mx.sigmoid(Q))
        n, res = p64 * inv_rms(p64, eps) * w64 * silu64(q64), 0.0
    ref = np.array(ym).astype(np.float64)
    tol = (shape[-1] / 2 + 80) * U_F32 * (np.abs(n) + np.abs(res)) + 80 * U_F32 * np.abs(ref)
    check(y, ref, tol, "%s f32 %s vs MLX" % (op, shape))


def test_in_place_and_errors(device, rng):
    """y == res and y == z are allowed; bad params raise with the op's message
    and leave the outputs alone."""
    x_s, x64 = encode(uniform_nonzero(rng, (3, 256)), "f32")
    z_s, z64 = encode(uniform_nonzero(rng, (3, 256)), "f32")
    with mlxn.Buffer.from_numpy(device, x_s) as xb, mlxn.Buffer.from_numpy(device, z_s) as zb, \
            mlxn.Encoder(device) as enc:
        fused_norm.rms_norm_gate(enc, xb, None, zb, zb, eps=1e-6)
        enc.wait()
        want = x64 * inv_rms(x64, 1e-6) * silu64(z64)
        np.testing.assert_allclose(zb.numpy().astype(np.float64), want, rtol=72 * U_F32 * 4, atol=0)
        before = zb.numpy()
        with pytest.raises(mlxn.MlxnError) as ei:
            fused_norm.rms_norm_add(enc, xb, None, zb, zb, eps=1e-6, scale=float("inf"))
        assert ei.value.message.startswith("rms_norm_add: scale (inf)")
        with pytest.raises(mlxn.MlxnError) as ei:
            fused_norm.add_rms_norm(enc, xb, zb, None, zb, xb, eps=-1.0)
        assert ei.value.message.startswith("add_rms_norm: eps (-1)")
        with pytest.raises(mlxn.MlxnError) as ei:
            fused_norm.add_rms_norm(enc, xb, xb, None, zb, zb, eps=1e-6)
        assert "sum_out" in ei.value.message and "overlaps y" in ei.value.message
        np.testing.assert_array_equal(zb.numpy(), before)
        np.testing.assert_array_equal(xb.numpy(), x_s)


def test_numpy_conveniences():
    a = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 64) + np.float32(1e-3)
    b = np.full((2, 64), 0.25, np.float32)
    y, s = fused_norm.add_rms_norm_np(a, b, np.full(64, 2.0, np.float32), eps=1e-5)
    s64 = a.astype(np.float64) + 0.25
    np.testing.assert_allclose(y, 2.0 * s64 * inv_rms(s64, 1e-5), rtol=1e-5)
    np.testing.assert_array_equal(s, a + b)
    y = fused_norm.rms_norm_add_np(a, b, eps=1e-5, scale=2.0)
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(y, 2.0 * (0.25 + a64 * inv_rms(a64, 1e-5)), rtol=1e-5)
    y = fused_norm.rms_norm_gate_np(a, b, eps=1e-5)
    np.testing.assert_allclose(y, a64 * inv_rms(a64, 1e-5) * silu64(np.full((2, 64), 0.25)), rtol=1e-5)
