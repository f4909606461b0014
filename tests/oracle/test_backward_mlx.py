"""The backward family against MLX's autograd: mx.vjp of mx.softmax,
mx.fast.rms_norm, x * mx.sigmoid(x) (silu), mx.log and mx.sum(axis=-1), i.e.
the gradients MLX users get from the forward ops, f32 on both sides.

Tolerances (per element, u = 2^-24; each side computes in f32):
  softmax   dx = y (dy - s), s = sum y dy:  |a - b| <= 4u y (|dy| + |s|) + 4u y sqrt(n) sum|y dy|
            (the rounding of dy - s and of the product on each side, plus each
            side's f32 sum s, random-walk with margin)
  rms_norm  dx = r (dy w - x c), c = s r^2/dim. Each side's sums of n terms
            (x^2 for r, dy x w for s) are taken within 2 sqrt(n) u of their
            magnitudes (random walk, 2 sigma), which moves MLX's r by up to
            (4 + 2 sqrt(n)) u relative (MLX's r is NOT blocked: measured 33u at
            n = 32000) and ours by 4u (measured 0.9u); r enters dx as r and r^3.
            With dr = (8 + 2 sqrt(n)) u the two sides' r errors together:
              |a - b| <= u r ((16 + dr/u) |dy w|
                               + |x| r^2/dim ((32 + 3 dr/u) |s| + 4 sqrt(n) sum|dy x w|))
            dw = sum_rows dy x r: |a - b| <= (24 + 4 sqrt(rows) + 2 sqrt(n)) u sum_rows |dy x r|
  silu      dx = dy sg (1 + x (1 - sg)): |a - b| <= 16u |dy| (sg + |x| sg (1 - sg)) + tiny
            (MLX differentiates x * sigmoid(x) by the product rule: sg + x sg (1 - sg);
            near the zero of silu' the two terms cancel, hence a bound in the terms'
            magnitudes; 8u a side: ours measured 4u, MLX 7.8u from the float64 truth)
  log       dx = dy / x: one correctly rounded division each: |a - b| <= 2u |dx|
  row_sum   dx[r, :] = dy[r]: exact.
A wrong term, a lost row sum or a transposed index gives errors of the order
of the values themselves, orders of magnitude above these bounds.
"""
import numpy as np
import pytest

import mlxn
import mlxn.backward as bw
from oracle_util import U_F32, uniform_nonzero

mx = pytest.importorskip("mlx.core")

SHAPES = [(1, 1), (3, 33), (16, 1000), (4, 4097), (2, 32000)]
U = U_F32


def f32(a):
    return np.asarray(a, dtype=np.float32)


def vjp(fn, primals, cot):
    _, grads = mx.vjp(fn, [mx.array(p) for p in primals], [mx.array(cot)])
    return [np.array(g).astype(np.float64) for g in grads]


@pytest.mark.parametrize("rows,n", SHAPES)
def test_softmax_backward_matches_mlx_vjp(device, rng, rows, n):
    x = f32(uniform_nonzero(rng, (rows, n), -4.0, 4.0))
    dy = f32(uniform_nonzero(rng, (rows, n)))
    y = np.array(mx.softmax(mx.array(x), axis=-1))
    (want,) = vjp(lambda a: mx.softmax(a, axis=-1), [x], dy)
    got = bw.softmax_backward_np(y, dy, device=device).astype(np.float64)
    y64, dy64 = y.astype(np.float64), dy.astype(np.float64)
    s = (y64 * dy64).sum(-1, keepdims=True)
    sa = np.abs(y64 * dy64).sum(-1, keepdims=True)
    tol = 4 * U * y64 * (np.abs(dy64) + np.abs(s)) + 4 * U * y64 * np.sqrt(n) * sa + 1e-38
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / tol)


@pytest.mark.parametrize("with_w", [True, False])
@pytest.mark.parametrize("rows,n", SHAPES + [(300, 64)])
def test_rms_norm_backward_matches_mlx_vjp(device, rng, rows, n, with_w):
    eps = 1e-5
    x = f32(uniform_nonzero(rng, (rows, n)))
    dy = f32(uniform_nonzero(rng, (rows, n)))
    w = f32(uniform_nonzero(rng, (n,), -2.0, 2.0)) if with_w else None
    if with_w:
        want_dx, want_dw = vjp(lambda a, b: mx.fast.rms_norm(a, b, eps), [x, w], dy)
    else:
        (want_dx,) = vjp(lambda a: mx.fast.rms_norm(a, None, eps), [x], dy)
    r = bw.rms_inv_np(x, eps=eps, device=device)
    got_dx, got_dw = bw.rms_norm_backward_np(x, w, r, dy, want_dw=True, device=device)
    x64, dy64, r64 = x.astype(np.float64), dy.astype(np.float64), r.astype(np.float64)[:, None]
    w64 = w.astype(np.float64) if with_w else np.ones(n)
    t = dy64 * x64 * w64
    s, sa = t.sum(-1, keepdims=True), np.abs(t).sum(-1, keepdims=True)
    dr = 8 + 2 * np.sqrt(n)
    tol = U * r64 * ((16 + dr) * np.abs(dy64 * w64)
                     + np.abs(x64) * r64**2 / n * ((32 + 3 * dr) * np.abs(s) + 4 * np.sqrt(n) * sa))
    assert np.all(np.isfinite(got_dx))
    assert np.all(np.abs(got_dx - want_dx) <= tol), np.max(np.abs(got_dx - want_dx) / tol)
    if with_w:
        tolw = (24 + 4 * np.sqrt(rows) + 2 * np.sqrt(n)) * U * np.abs(dy64 * x64 * r64).sum(0)
        assert np.all(np.abs(got_dw - want_dw) <= tolw), np.max(np.abs(got_dw - want_dw) / tolw)


@pytest.mark.parametrize("rows,n", SHAPES)
def test_silu_backward_matches_mlx_vjp(device, rng, rows, n):
    x = f32(uniform_nonzero(rng, (rows, n), -10.0, 10.0))
    dy = f32(uniform_nonzero(rng, (rows, n)))
    (want,) = vjp(lambda a: a * mx.sigmoid(a), [x], dy)
    got = bw.unary_backward_np(x, dy, op="silu", device=device).astype(np.float64)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    sg = 1.0 / (1.0 + np.exp(-x64))
    tol = 16 * U * np.abs(dy64) * (sg + np.abs(x64) * sg * (1 - sg)) + 1e-38
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / tol)


@pytest.mark.parametrize("rows,n", SHAPES)
def test_log_backward_matches_mlx_vjp(device, rng, rows, n):
    x = f32(rng.uniform(0.01, 5.0, size=(rows, n)))
    dy = f32(uniform_nonzero(rng, (rows, n)))
    (want,) = vjp(mx.log, [x], dy)
    got = bw.unary_backward_np(x, dy, op="log", device=device).astype(np.float64)
    assert np.all(np.abs(got - want) <= 2 * U * np.abs(want))


@pytest.mark.parametrize("rows,n", SHAPES)
def test_row_sum_backward_matches_mlx_vjp(device, rng, rows, n):
    x = f32(uniform_nonzero(rng, (rows, n)))
    dy = f32(uniform_nonzero(rng, (rows,)))
    (want,) = vjp(lambda a: mx.sum(a, axis=-1), [x], dy)
    got = bw.row_sum_backward_np(dy, (rows, n), device=device).astype(np.float64)
    np.testing.assert_array_equal(got, want)


def test_rms_norm_backward_is_deterministic(device, rng):
    x = f32(uniform_nonzero(rng, (1000, 300)))
    dy = f32(uniform_nonzero(rng, (1000, 300)))
    w = f32(uniform_nonzero(rng, (300,)))
    r = bw.rms_inv_np(x, device=device)
    a = bw.rms_norm_backward_np(x, w, r, dy, device=device)
    b = bw.rms_norm_backward_np(x, w, r, dy, device=device)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
