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


# ---- [fused_norm2] ----------------------------------------------------------------
# rms_norm_mul (3 variants), triple norms, MoE weighted-sum norms against float64
# numpy formulas (every dtype); rms_norm_mul and head_norm_rope against MLX
# compositions (f32): mx.fast.rms_norm(x, w) * m and mx.fast.rope(traditional=False)
# after mx.fast.rms_norm.
#
# Tolerances, in the terms of the module docstring: the norm part <= 64 u32 |n|;
# each further f32 product or sum adds one u32 relative to the magnitudes it
# combines; the output is rounded once (u16). rms_norm_mul: (66 u32 (|n| + |res|)
# |m| + u16 |y|). triple: res as rms_norm_add (66 u32 (|n_attn| + |h|)); the
# three outputs normalize the f32 r (within 66 u32 |r|) so
# (66 u32 (|n_attn| + |h|) r |w_k| + (66 u32 + u16) |y|) bounds them (r can
# cancel, so its f32 error is relative to the terms it adds). MoE: the K-term f32 sum has error
# <= K u32 sum_k |w_k y_k| (S below), which moves the normalized value by that
# times r and the norm's own error: tol = 66 u32 (|n_v| + |n_d| + |res|) +
# (K + 2) u32 S r |nw| + u16 |y|.
# head_norm_rope: n within 64 u32 |n|; the rotation uses f32 cos/sin of an angle
# reduced in double (1 u32 each) and two products and a sum:
# tol = (70 u32 + u16) (|n_i| + |n_partner|) per element.
# MLX (f32 only) computes its rope angle in f32 (error ~ theta u32, see
# test_rope_mlx.py): tol = (D/2 + 80) u32 |n| + sqrt(2) max|n| u32 (6 theta_max + 8).

MFORMS = ["full", "col", "scalar"]
MUL_SHAPES = [(1, 1), (5, 33), (2, 3, 127), (2, 1025), (3, 4096)]


def make_m(rng, shape, dtype, form):
    dt = dtype if form == "full" else "f32"
    mshape = shape if form == "full" else (shape[-1],) if form == "col" else (1,)
    m_s, m64 = encode(uniform_nonzero(rng, mshape, 0.25, 2.0) * rng.choice([-1.0, 1.0], mshape), dt)
    return m_s, m64, dt


def run_bufs(device, fn, inputs, outputs):
    """inputs: list of (storage array, dtype) or None; outputs: list of (dtype, shape).
    Runs fn(enc, input buffers..., output buffers...) and returns the outputs decoded."""
    made = []
    try:
        ib = []
        for it in inputs:
            if it is None:
                ib.append(None)
                continue
            ib.append(mlxn.Buffer.from_numpy(device, it[0], it[1]))
            made.append(ib[-1])
        ob = []
        for dt, shp in outputs:
            ob.append(mlxn.Buffer.new(device, dt, shp))
            made.append(ob[-1])
        with mlxn.Encoder(device) as enc:
            fn(enc, *ib, *ob)
            enc.wait()
        return [decode(o.numpy(), dt) for o, (dt, _) in zip(ob, outputs)]
    finally:
        for b in made:
            b.close()


@pytest.mark.parametrize("form", MFORMS)
@pytest.mark.parametrize("shape", MUL_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", ["rms_norm_mul", "add_rms_norm_mul", "rms_norm_add_mul"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_mul_family(device, rng, dtype, op, shape, form):
    eps = 1e-6
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    b_s, b64 = encode(uniform_nonzero(rng, shape), dtype)
    w_s, w64, w_dt = make_w(rng, shape[-1], dtype, "same")
    m_s, m64, m_dt = make_m(rng, shape, dtype, form)
    mm = m64 if form != "scalar" else m64[0]
    if op == "rms_norm_mul":
        (y,) = run_bufs(device, lambda e, x, w, m, o: fused_norm.rms_norm_mul(e, x, w, m, o, eps=eps),
                        [(x_s, dtype), (w_s, w_dt), (m_s, m_dt)], [(dtype, shape)])
        n, res = x64 * inv_rms(x64, eps) * w64, 0.0
        ref = n * mm
    elif op == "add_rms_norm_mul":
        y, s = run_bufs(device, lambda e, a, b, w, m, o, so: fused_norm.add_rms_norm_mul(e, a, b, w, m, o, so, eps=eps),
                        [(x_s, dtype), (b_s, dtype), (w_s, w_dt), (m_s, m_dt)], [(dtype, shape), (dtype, shape)])
        s64 = x64 + b64
        n, res = s64 * inv_rms(s64, eps) * w64, 0.0
        ref = n * mm
        np.testing.assert_array_equal(s, sum_expected(x64, b64, dtype))
    else:
        (y,) = run_bufs(device, lambda e, x, w, r, m, o: fused_norm.rms_norm_add_mul(e, x, w, r, m, o, eps=eps),
                        [(x_s, dtype), (w_s, w_dt), (b_s, dtype), (m_s, m_dt)], [(dtype, shape)])
        n, res = x64 * inv_rms(x64, eps) * w64, b64
        ref = (res + n) * mm
    tol = 66 * U_F32 * (np.abs(n) + np.abs(res)) * np.abs(mm) + u16(dtype) * np.abs(ref) + abs_term(dtype)
    check(y, ref, tol, "%s %s %s m=%s" % (op, dtype, shape, form))


@pytest.mark.parametrize("shape", [(4, 64), (2, 1025), (3, 4096)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("form", MFORMS)
def test_rms_norm_mul_vs_mlx(device, rng, shape, form):
    mx = pytest.importorskip("mlx.core")
    eps = 1e-6
    x_s, x64 = encode(uniform_nonzero(rng, shape), "f32")
    w_s, w64, _ = make_w(rng, shape[-1], "f32", "same")
    m_s, m64, _ = make_m(rng, shape, "f32", form)
    (y,) = run_bufs(device, lambda e, x, w, m, o: fused_norm.rms_norm_mul(e, x, w, m, o, eps=eps),
                    [(x_s, "f32"), (w_s, "f32"), (m_s, "f32")], [("f32", shape)])
    ym = mx.fast.rms_norm(mx.array(x_s), mx.array(w_s), eps) * mx.array(m_s if form != "scalar" else m_s[0])
    ref = np.array(ym).astype(np.float64)
    n = x64 * inv_rms(x64, eps) * w64
    tol = (shape[-1] / 2 + 80) * U_F32 * np.abs(n) * np.abs(m64 if form != "scalar" else m64[0]) + \
        80 * U_F32 * np.abs(ref)
    check(y, ref, tol, "rms_norm_mul f32 %s m=%s vs MLX" % (shape, form))


@pytest.mark.parametrize("shape", [(1, 1), (5, 33), (2, 1025), (3, 2816)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("post", [False, True], ids=["triple", "post_attn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_triple_norms(device, rng, dtype, post, shape):
    eps = 1e-6
    dim = shape[-1]
    x_s, x64 = encode(uniform_nonzero(rng, shape), dtype)
    a_s, a64 = encode(uniform_nonzero(rng, shape), dtype)
    w3_s, w3_64 = encode(uniform_nonzero(rng, (3, dim), 0.25, 2.0) * rng.choice([-1.0, 1.0], (3, dim)), dtype)
    wp_s, wp64, wp_dt = make_w(rng, dim, dtype, "f32" if dtype != "f32" else "same")
    if post:
        outs = run_bufs(device, lambda e, h, at, wp, w3, r, y0, y1, y2:
                        fused_norm.post_attn_triple_norm(e, h, at, wp, w3, r, y0, y1, y2, eps=eps),
                        [(x_s, dtype), (a_s, dtype), (wp_s, wp_dt), (w3_s, dtype)], [(dtype, shape)] * 4)
        na = a64 * inv_rms(a64, eps) * wp64
        r64 = x64 + na
        res_tol = 66 * U_F32 * (np.abs(na) + np.abs(x64)) + u16(dtype) * np.abs(r64) + abs_term(dtype)
        check(outs[0], r64, res_tol, "post_attn_triple_norm res %s %s" % (dtype, shape))
        ys = outs[1:]
        r_err = 66 * U_F32 * (np.abs(na) + np.abs(x64))  # the f32 r, relative to what it sums
    else:
        ys = run_bufs(device, lambda e, x, w3, y0, y1, y2: fused_norm.triple_norm(e, x, w3, y0, y1, y2, eps=eps),
                      [(x_s, dtype), (w3_s, dtype)], [(dtype, shape)] * 3)
        r64 = x64
        r_err = 0.0
    rr = inv_rms(r64, eps)
    for k in range(3):
        ref = r64 * rr * w3_64[k]
        tol = r_err * rr * np.abs(w3_64[k]) + (66 * U_F32 + u16(dtype)) * np.abs(ref) + abs_term(dtype)
        check(ys[k], ref, tol, "triple y%d %s %s post=%s" % (k, dtype, shape, post))


@pytest.mark.parametrize("tkd", [(1, 1, 1), (1, 8, 2816), (5, 2, 33), (3, 4, 1025)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", ["single", "single_nores", "double", "double_nores"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_moe_wsum_norms(device, rng, dtype, variant, tkd):
    T, K, dim = tkd
    eps = 1e-6
    if variant == "double_nores" and dim == 1:
        pytest.skip("a 1-element double norm without res cancels to ~eps (no relative measure applies)")
    ys_s, ys64 = encode(uniform_nonzero(rng, (T, K, dim)), dtype)
    wk = uniform_nonzero(rng, (T, K), 0.05, 1.0).astype(np.float32)
    wk64 = wk.astype(np.float64)
    r_s, r64 = encode(uniform_nonzero(rng, (T, dim)), dtype)
    d_s, d64 = encode(uniform_nonzero(rng, (T, dim)), dtype)
    nw_s, nw64, nw_dt = make_w(rng, dim, dtype, "same")
    wd_s, wd64, wd_dt = make_w(rng, dim, dtype, "f32" if dtype != "f32" else "same")
    with_res = not variant.endswith("nores")
    res_in = (r_s, dtype) if with_res else None
    if variant.startswith("single"):
        (y,) = run_bufs(device, lambda e, ys, wkb, res, nw, o: fused_norm.moe_wsum_norm_add(e, ys, wkb, res, nw, o, eps=eps),
                        [(ys_s, dtype), (wk, "f32"), res_in, (nw_s, nw_dt)], [(dtype, (T, dim))])
        nd = 0.0
    else:
        (y,) = run_bufs(device, lambda e, ys, wkb, dn, wd, res, nw, o:
                        fused_norm.moe_wsum_dnorm_add(e, ys, wkb, dn, wd, res, nw, o, eps=eps),
                        [(ys_s, dtype), (wk, "f32"), (d_s, dtype), (wd_s, wd_dt), res_in, (nw_s, nw_dt)],
                        [(dtype, (T, dim))])
        nd = d64 * inv_rms(d64, eps) * wd64
    v = np.einsum("tk,tkd->td", wk64, ys64)
    S = np.einsum("tk,tkd->td", np.abs(wk64), np.abs(ys64))
    rv = inv_rms(v, eps)
    nv = v * rv * nw64
    res = r64 if with_res else 0.0
    ref = res + nd + nv
    tol = 66 * U_F32 * (np.abs(nv) + np.abs(nd) + np.abs(res)) + (K + 2) * U_F32 * S * rv * np.abs(nw64) + \
        u16(dtype) * np.abs(ref) + abs_term(dtype)
    check(y, ref, tol, "moe %s %s %s" % (variant, dtype, tkd))


def hnr_ref(x64, w64, pos, ff, D, R, eps, base):
    """float64 per-head rms norm + NeoX rope, pairs (i, i + D/2) for i < R/2."""
    n = x64 * inv_rms(x64, eps) * (1.0 if w64 is None else w64)
    y = n.copy()
    half = D // 2
    i = np.arange(R // 2)
    th = pos.astype(np.float64)[:, None] * base ** (-2.0 * i / D)[None, :]
    if ff is not None:
        th = th / ff.astype(np.float64)[None, :R // 2]
    c, s = np.cos(th)[:, None, :], np.sin(th)[:, None, :]
    a0, a1 = n[..., i], n[..., half + i]
    y[..., i] = a0 * c - a1 * s
    y[..., half + i] = a0 * s + a1 * c
    return n, y


@pytest.mark.parametrize("cfg", [(1, 32, 128, 128), (4, 8, 128, 128), (3, 2, 6, 2), (5, 4, 256, 64), (2, 3, 64, 0),
                                 (2, 2, 2048, 1024)], ids=lambda c: "s%d.h%d.d%d.r%d" % c)
@pytest.mark.parametrize("ff", [False, True], ids=["noff", "ff"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_head_norm_rope_numpy(device, rng, dtype, ff, cfg):
    S, H, D, R = cfg
    eps, base = 1e-6, 10000.0
    x_s, x64 = encode(uniform_nonzero(rng, (S, H, D)), dtype)
    w_s, w64, w_dt = make_w(rng, D, dtype, "same")
    pos = rng.integers(0, 100000, S).astype(np.int32)
    ffa = uniform_nonzero(rng, (max(R // 2, 1),), 0.5, 4.0).astype(np.float32) if ff else None
    y, co = run_bufs(device, lambda e, x, w, p, f, o, oc:
                     fused_norm.head_norm_rope(e, x, w, p, f, o, oc, head_dim=D, rope_dim=R, eps=eps, freq_base=base,
                                               co_permuted=True),
                     [(x_s, dtype), (w_s, w_dt), (pos, "i32"), (ffa, "f32") if ff else None],
                     [(dtype, (S, H, D)), ("bf16", (H, S, D))])
    n, ref = hnr_ref(x64, w64, pos, ffa, D, R, np.float64(np.float32(eps)), np.float64(np.float32(base)))
    half = D // 2
    mag = np.abs(n) + np.abs(np.concatenate([n[..., half:], n[..., :half]], axis=-1))
    check(y, ref, (70 * U_F32 + u16(dtype)) * mag + abs_term(dtype), "head_norm_rope %s %s ff=%s" % (dtype, cfg, ff))
    check(co, ref.transpose(1, 0, 2), (70 * U_F32 + UNIT_ROUNDOFF["bf16"]) * mag.transpose(1, 0, 2),
          "head_norm_rope co %s %s" % (dtype, cfg))


@pytest.mark.parametrize("cfg", [(1, 32, 128, 128), (7, 4, 128, 128), (5, 4, 256, 64), (3, 2, 64, 0)],
                         ids=lambda c: "s%d.h%d.d%d.r%d" % c)
def test_head_norm_rope_vs_mlx(device, rng, cfg):
    """mx.fast.rope(traditional=False) over heads [H, S, D] after mx.fast.rms_norm,
    with freqs base^(2i/D) for i < R/2 and inf beyond (mlx-lm's ProportionalRoPE);
    positions offset + s (MLX's consecutive positions)."""
    mx = pytest.importorskip("mlx.core")
    S, H, D, R = cfg
    eps, base, offset = 1e-6, 10000.0, 37
    x_s, x64 = encode(uniform_nonzero(rng, (S, H, D)), "f32")
    w_s, w64, _ = make_w(rng, D, "f32", "same")
    pos = (offset + np.arange(S)).astype(np.int32)
    (y,) = run_bufs(device, lambda e, x, w, p, o: fused_norm.head_norm_rope(e, x, w, p, None, o, head_dim=D,
                                                                            rope_dim=R, eps=eps, freq_base=base),
                    [(x_s, "f32"), (w_s, "f32"), (pos, "i32")], [("f32", (S, H, D))])
    freqs = np.full(D // 2, np.inf, np.float32)
    freqs[:R // 2] = (np.float64(base) ** (np.arange(0, R, 2) / D)).astype(np.float32)
    xn = mx.fast.rms_norm(mx.array(x_s), mx.array(w_s), eps)
    ym = mx.fast.rope(mx.transpose(xn, (1, 0, 2)), D, traditional=False, base=None, scale=1.0, offset=offset,
                      freqs=mx.array(freqs))
    ref = np.array(mx.transpose(ym, (1, 0, 2))).astype(np.float64)
    n = x64 * inv_rms(x64, eps) * w64
    theta_max = float(offset + S)
    tol = (D / 2 + 80) * U_F32 * np.abs(n).max() + np.sqrt(2) * np.abs(n).max() * U_F32 * (6 * theta_max + 8)
    check(y, ref, np.full(y.shape, tol), "head_norm_rope f32 %s vs MLX" % (cfg,))


def test_fused_norm2_errors(device, rng):
    x_s, _ = encode(uniform_nonzero(rng, (2, 4, 64)), "f32")
    with mlxn.Buffer.from_numpy(device, x_s) as xb, mlxn.Buffer.new(device, "f32", (2, 4, 64)) as yb, \
            mlxn.Buffer.from_numpy(device, np.array([3, 4], np.int32)) as pb, mlxn.Encoder(device) as enc:
        before = yb.numpy()
        with pytest.raises(mlxn.MlxnError) as ei:
            fused_norm.head_norm_rope(enc, xb, None, pb, None, yb, head_dim=64, rope_dim=66)
        assert ei.value.message.startswith("head_norm_rope: rope_dim (66) must be even and <= head_dim (64)")
        with pytest.raises(mlxn.MlxnError) as ei:
            fused_norm.rms_norm_mul(enc, xb, None, pb, yb)
        assert ei.value.message.startswith("rms_norm_mul: m has 2 elements; expected 512 (full), dim (64) or 1")
        np.testing.assert_array_equal(yb.numpy(), before)
