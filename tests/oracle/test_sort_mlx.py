"""mlxn_argsort / mlxn_top_k against MLX (mx.argsort, mx.topk) and numpy
(np.argsort(kind="stable"), np.lexsort) for the tie and NaN rules.

Everything here is exact: the inputs are the same dtype values on both
sides and sorting only compares them, so indices are compared element for
element and values bit for bit (as float64 after an exact decode).
  - mx.argsort is ascending; MLX does not document a tie rule, so the MLX
    comparisons use distinct values (a permutation scaled into range), and
    ties, -0/+0 and NaN are checked against numpy's stable argsort (NaN
    last ascending, equal values in index order: the contract's rule).
  - Descending order is checked against np.lexsort on (index, -value,
    not-NaN): NaN first, then largest, ties by lower index.
  - mx.topk returns the k largest unordered: its values, sorted, must equal
    ours sorted; our order itself is checked against the descending argsort
    (top_k == its first k).
"""
import numpy as np
import pytest

import mlxn
import mlxn.sort as ms
from oracle_util import decode, encode, uniform_nonzero

mx = pytest.importorskip("mlx.core")

DTYPES = ["f32", "f16", "bf16"]
MXDT = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
SHAPES = [(1, 1), (3, 33), (16, 256), (4, 4097), (2, 32000), (1, 262144)]


def to_mx(xv, dtype):
    # xv holds values exact in dtype, so the cast back is exact
    return mx.array(xv.astype(np.float32)).astype(getattr(mx, MXDT[dtype]))


def distinct(rng, rows, n, dtype):
    """Rows of distinct values that stay distinct in dtype."""
    x = np.stack([rng.permutation(n) for _ in range(rows)]).astype(np.float64)
    if dtype == "f32":
        return (x - n / 2) / max(n, 1)
    if dtype == "f16":
        return x - n / 2 if n <= 2048 else None  # integers up to 2048 are exact in f16
    return x - n / 2 if n <= 256 else None       # bf16: 8 significant bits


def run_argsort(device, xs, dtype, ascending):
    rows, n = xs.shape
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    idx = mlxn.Buffer.new(device, "i32", (rows, n))
    ms.argsort(enc, x, idx, ascending=ascending)
    enc.wait()
    got = idx.numpy()
    for b in (x, idx, enc):
        b.close()
    return got


def run_top_k(device, xs, dtype, k, vdt):
    rows, n = xs.shape
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    idx = mlxn.Buffer.new(device, "i32", (rows, k))
    val = mlxn.Buffer.new(device, vdt, (rows, k))
    ms.top_k(enc, x, idx, k, val)
    enc.wait()
    got_i, got_v = idx.numpy(), decode(val.numpy(), vdt)
    for b in (x, idx, val, enc):
        b.close()
    return got_i, got_v


def desc_ref(xv):
    """Stable descending order with NaN largest (np.lexsort: last key first)."""
    out = []
    for row in xv:
        nan = np.isnan(row)
        v = np.where(nan, 0.0, row)
        out.append(np.lexsort((np.arange(row.size), -v, ~nan)))
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("rows,n", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_argsort_matches_mlx(device, rng, dtype, rows, n):
    x64 = distinct(rng, rows, n, dtype)
    if x64 is None:
        pytest.skip("%s cannot hold %d distinct values exactly in this test's scheme" % (dtype, n))
    xs, xv = encode(x64, dtype)
    got = run_argsort(device, xs, dtype, True)
    ref = np.array(mx.argsort(to_mx(xv, dtype), axis=-1))
    assert np.array_equal(got, ref)
    got_d = run_argsort(device, xs, dtype, False)
    assert np.array_equal(got_d, ref[:, ::-1])  # distinct values: descending is the reverse


@pytest.mark.parametrize("rows,n", [(4, 7), (3, 1000), (2, 5000), (1, 70000)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_argsort_ties_nan_match_numpy(device, rng, dtype, rows, n):
    x64 = np.round(uniform_nonzero(rng, (rows, n)) * 4) / 4  # many ties, zeros included
    x64[x64 == 0.0] = np.where(rng.random((x64 == 0.0).sum()) < 0.5, 0.0, -0.0)
    flat = x64.reshape(-1)
    pick = rng.choice(flat.size, size=max(1, flat.size // 50), replace=False)
    flat[pick[0::4]] = np.nan
    flat[pick[1::4]] = np.inf
    flat[pick[2::4]] = -np.inf
    flat[pick[3::4]] = -np.nan
    xs, xv = encode(x64, dtype)
    got = run_argsort(device, xs, dtype, True)
    assert np.array_equal(got, np.argsort(xv, axis=-1, kind="stable"))
    got_d = run_argsort(device, xs, dtype, False)
    assert np.array_equal(got_d, desc_ref(xv))


@pytest.mark.parametrize("rows,n,k", [(1, 5, 5), (3, 100, 7), (16, 256, 8), (2, 4097, 40), (64, 32000, 50),
                                      (1, 262144, 40), (1, 262144, 1024)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_top_k_matches_mlx(device, rng, dtype, rows, n, k):
    x64 = uniform_nonzero(rng, (rows, n)) * (100.0 if dtype == "f16" else 1.0)
    xs, xv = encode(x64, dtype)
    got_i, got_v = run_top_k(device, xs, dtype, k, "f32")
    ref = mx.topk(to_mx(xv, dtype), k, axis=-1).astype(mx.float32)
    ref_sorted = np.sort(np.array(ref).astype(np.float64), axis=-1)
    assert np.array_equal(np.sort(got_v, axis=-1), ref_sorted)
    # ours are ordered: the first k of the descending argsort, and val = x[idx]
    assert np.array_equal(got_i, desc_ref(xv)[:, :k])
    assert np.array_equal(got_v, np.take_along_axis(xv, got_i.astype(np.int64), axis=-1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_top_k_ties_nan_match_numpy(device, rng, dtype):
    rows, n, k = 3, 50000, 64
    x64 = np.round(uniform_nonzero(rng, (rows, n)) * 2) / 2
    x64[0, [7, 30000, 49999]] = np.nan
    x64[1, :] = 0.5          # all equal: the first k indices
    x64[2, 100:200] = np.inf
    xs, xv = encode(x64, dtype)
    got_i, got_v = run_top_k(device, xs, dtype, k, dtype)
    want = desc_ref(xv)[:, :k]
    assert np.array_equal(got_i, want)
    assert np.array_equal(got_i[1], np.arange(k))
    wv = np.take_along_axis(xv, want, axis=-1)
    assert np.array_equal(np.isnan(got_v), np.isnan(wv))
    assert np.array_equal(got_v[~np.isnan(wv)], wv[~np.isnan(wv)])
