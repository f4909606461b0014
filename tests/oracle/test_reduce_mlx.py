"""mlxn_argmax / mlxn_cumsum / mlxn_row_sum against MLX (mx.argmax, mx.cumsum
with reverse=/inclusive=, mx.sum) and numpy (np.argmax for the NaN rule).

Tolerances (why they are what they are):
  argmax: exact. The inputs are the same dtype values on both sides and the
    max is an exact compare; ties are avoided in the MLX comparison (MLX does
    not document its tie rule) and tested against numpy instead, whose rule
    (first occurrence, first NaN wins) is the contract's.
  cumsum / row_sum, element i, relative to the float64 sum of |x| over the
    prefix (A_i): each side accumulates in f32 (mlxn: chains of <= 4096 terms
    in blocks carried in double; MLX: f32 scan/reduction) and rounds once to
    the output dtype, so |got - mlx| <= (2 * sqrt(L) * 2 u32) * A_i plus one
    output rounding of each side (u_out * |y| each), L = min(n, 4096)
    (random-walk bound with a 2-sigma margin on each side).
A real bug (wrong direction, inclusive/exclusive swapped, lost carry) gives
errors of order |x|, far above these bounds for the row lengths used.
"""
import numpy as np
import pytest

import mlxn
import mlxn.reduce as mr
from oracle_util import U_F32, UNIT_ROUNDOFF, decode, encode, uniform_nonzero

mx = pytest.importorskip("mlx.core")

DTYPES = ["f32", "f16", "bf16"]
SHAPES = [(1, 1), (3, 33), (16, 1000), (4, 4097), (2, 32000), (1, 262144)]
MXDT = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def to_mx(x64, dtype):
    return mx.array(x64.astype(np.float32)).astype(getattr(mx, MXDT[dtype]))


def mx_np(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


@pytest.mark.parametrize("rows,n", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_argmax_matches_mlx(device, rng, dtype, rows, n):
    # distinct values (a permutation scaled into range) so MLX's tie rule does not matter
    x64 = np.stack([rng.permutation(n) for _ in range(rows)]).astype(np.float64)
    x64 = x64 / max(n, 1) * (60000.0 if dtype == "f16" else 1.0)
    if dtype != "f32":
        # keep values distinct after rounding: small integers are exact in f16/bf16
        x64 = np.stack([rng.permutation(n) for _ in range(rows)]).astype(np.float64) % 256
        x64 += (np.arange(n) == rng.integers(0, n)).astype(np.float64) * 1000.0
    xs, xv = encode(x64, dtype)
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    idx = mlxn.Buffer.new(device, "i32", (rows,))
    val = mlxn.Buffer.new(device, "f32", (rows,))
    mr.argmax(enc, x, idx, val)
    enc.wait()
    got_i, got_v = idx.numpy(), val.numpy()
    for b in (x, idx, val, enc):
        b.close()
    # the first occurrence of the max (numpy) — identical to MLX where the max is unique
    want = np.argmax(xv, axis=-1)
    assert np.array_equal(got_i, want)
    assert np.array_equal(got_v.astype(np.float64), xv[np.arange(rows), want])
    if dtype != "f32":
        return
    ref = np.array(mx.argmax(to_mx(x64, dtype), axis=-1))
    assert np.array_equal(got_i, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_argmax_ties_and_nan_match_numpy(device, rng, dtype):
    n = 5000
    x64 = np.round(uniform_nonzero(rng, (4, n)) * 4) / 4  # many ties
    x64[1, 700] = np.nan
    x64[1, 3000] = np.nan
    x64[2, :] = -np.inf
    x64[3, 4999] = np.nan
    xs, xv = encode(x64, dtype)
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    idx = mlxn.Buffer.new(device, "i32", (4,))
    mr.argmax(enc, x, idx)
    enc.wait()
    got = idx.numpy()
    for b in (x, idx, enc):
        b.close()
    assert np.array_equal(got, np.argmax(xv, axis=-1))


def _bound(x64, n, dtype, scan, reverse):
    L = min(n, 4096)
    a = np.abs(x64)
    if scan:
        A = np.cumsum(a[:, ::-1], axis=-1)[:, ::-1] if reverse else np.cumsum(a, axis=-1)
    else:
        A = a.sum(axis=-1)
    return 2 * (2 * np.sqrt(L) * 2 * U_F32) * A


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("rows,n", [(3, 33), (16, 1000), (4, 4097), (2, 32000)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumsum_matches_mlx(device, rng, dtype, rows, n, reverse, exclusive):
    x64 = uniform_nonzero(rng, (rows, n))
    xs, xv = encode(x64, dtype)
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    y = mlxn.Buffer.new(device, dtype, (rows, n))
    mr.cumsum(enc, x, y, exclusive=exclusive, reverse=reverse)
    enc.wait()
    got = decode(y.numpy(), dtype)
    for b in (x, y, enc):
        b.close()
    # MLX in f32 on the same (rounded) inputs, rounded to the dtype like ours
    ref = mx.cumsum(mx.array(xv.astype(np.float32)), axis=-1, reverse=reverse, inclusive=not exclusive)
    ref = mx_np(ref.astype(getattr(mx, MXDT[dtype])))
    u = UNIT_ROUNDOFF[dtype]
    tol = _bound(xv, n, dtype, True, reverse) + 2 * u * np.abs(ref) + 1e-30
    assert np.all(np.abs(got - ref) <= tol), np.max(np.abs(got - ref) / tol)


@pytest.mark.parametrize("ydt", ["same", "f32"])
@pytest.mark.parametrize("rows,n", [(1, 1), (3, 33), (16, 1000), (4, 4097), (2, 32000), (1, 262144)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_sum_matches_mlx(device, rng, dtype, rows, n, ydt):
    x64 = uniform_nonzero(rng, (rows, n))
    xs, xv = encode(x64, dtype)
    out = dtype if ydt == "same" else "f32"
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    y = mlxn.Buffer.new(device, out, (rows,))
    mr.row_sum(enc, x, y)
    enc.wait()
    got = decode(y.numpy(), out)
    for b in (x, y, enc):
        b.close()
    ref = mx_np(mx.sum(mx.array(xv.astype(np.float32)), axis=-1).astype(getattr(mx, MXDT[out])))
    u = UNIT_ROUNDOFF[out]
    tol = _bound(xv, n, dtype, False, False) + 2 * u * np.abs(ref) + 1e-30
    assert np.all(np.abs(got - ref) <= tol), np.max(np.abs(got - ref) / tol)
    # and numpy's float64 sum
    assert np.all(np.abs(got - xv.sum(axis=-1)) <= tol)
