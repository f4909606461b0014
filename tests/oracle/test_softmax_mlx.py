"""mlxn_softmax against MLX's mx.softmax(..., precise=True) (peers.md: MLX softmax).

Mapping: MLX has no scale/softcap/mask arguments; they are composed in MLX in
the op's order: z = x*scale; z = softcap*tanh(z/softcap); z = z + mask[r % mask_rows]
(the mask broadcast over leading rows); then mx.softmax(z, axis=-1, precise=True).

Tolerance (why it is what it is), per element, relative to the MLX value p:
  f32: z is formed by the same f32 operations on both sides (scale, add; tanh
    <= 2 ulp on each side, times softcap); exp is <= 2 ulp on each side; the
    row sums differ only in summation order: <= log2(n) + 1 roundings each for
    a pairwise/SIMD tree (mlxn sums 8-lane blocks of 256 and adds the blocks in
    double); the division/reciprocal 1 rounding each. An error dz in z moves p
    by p*(dz_i + max dz) (the max term enters through the sum). So
      |got - p| <= p * u32 * (2*(2 + 2*softcap_term) + 2*2 + 2*(log2(n) + 2) + 4)
    with u32 = 2^-24; we allow that plus 8 u32 for the output rounding of both.
  f16: MLX rounds x*scale, the tanh terms and z + mask to f16 (each <= u16 |z|,
    u16 = 2^-11) while mlxn keeps z in f32; the output is rounded to f16 on both
    sides (<= u16 p each). So |got - p| <= p * (2 * 3 u16 * max|z| + 2 u16) plus
    the f32 bound, and an absolute 2^-24 for results in f16's subnormal range.
A real bug (wrong row of the mask, scale applied twice, no max subtraction,
wrong normalisation) gives errors of order p.
"""
import numpy as np
import pytest

import mlxn
import mlxn.softmax as msm
from oracle_util import U_F16, U_F32, encode

mx = pytest.importorskip("mlx.core")

DTYPES = ["f32", "f16"]
# (rows, cols, mask_rows): warp-sized, block-sized and looped rows, broadcast masks
SHAPES = [(7, 33, 0), (16, 1000, 4), (5, 4096, 5), (3, 8192, 1), (2, 40000, 2), (32, 128, 8)]
PARAMS = [(1.0, 0.0), (0.125, 0.0), (0.125, 30.0), (1.0, 2.0)]


def run_mlxn(device, xs, dtype, mask_s, mask_dtype, scale, softcap):
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    y = mlxn.Buffer.new(device, dtype, xs.shape)
    m = mlxn.Buffer.from_numpy(device, mask_s, dtype=mask_dtype) if mask_s is not None else None
    msm.softmax(enc, x, y, m, scale=scale, softcap=softcap)
    enc.wait()
    out = y.numpy().astype(np.float64)
    for b in (x, y, m, enc):
        if b is not None:
            b.close()
    return out


def run_mlx(xs, mask_s, scale, softcap, dtype):
    mdt = mx.float32 if dtype == "f32" else mx.float16
    z = mx.array(xs).astype(mdt) * scale
    if softcap > 0:
        z = softcap * mx.tanh(z / softcap)
    if mask_s is not None:
        rows, cols = xs.shape
        mr = mask_s.shape[0]
        full = np.tile(mask_s, (rows // mr, 1))
        z = z + mx.array(full).astype(mdt)
    p = mx.softmax(z, axis=-1, precise=True)
    return np.array(p.astype(mx.float32)).astype(np.float64)


def tolerance(p, n, dtype, softcap, zmax):
    rel = U_F32 * (2 * (2 + (4 if softcap > 0 else 0)) + 4 + (10 + n / 8.0 + 3) + 4 + 8)
    if dtype == "f16":
        rel += 2 * 3 * U_F16 * zmax + 2 * U_F16
        return p * rel + 2.0 ** -24
    return p * rel + 1e-37


@pytest.mark.parametrize("scale,softcap", PARAMS)
@pytest.mark.parametrize("rows,cols,mask_rows", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_mlx(device, rng, dtype, rows, cols, mask_rows, scale, softcap):
    x64 = rng.uniform(-4.0, 4.0, size=(rows, cols))
    x64[x64 == 0.0] = 0.5
    xs, _ = encode(x64, dtype)
    mask_s = None
    if mask_rows:
        mk = rng.uniform(-2.0, 2.0, size=(mask_rows, cols))
        # causal-style -inf tail; column 0 always visible (MLX gives NaN for a dead row)
        for r in range(mask_rows):
            mk[r, 1 + (r * 7 + cols // 3) % cols:] = -np.inf
        mask_s, _ = encode(mk, dtype)
    got = run_mlxn(device, xs, dtype, mask_s, dtype, scale, softcap)
    ref = run_mlx(xs, mask_s, scale, softcap, dtype)
    assert np.all(np.isfinite(got))
    zmax = 4.0 * scale + (2.0 if mask_rows else 0.0)
    if softcap > 0:
        zmax = min(zmax, softcap + (2.0 if mask_rows else 0.0))
    err = np.abs(got - ref)
    tol = tolerance(ref, cols, dtype, softcap, zmax)
    worst = np.argmax(err - tol)
    assert np.all(err <= tol), "max excess at %s: got %.9g mlx %.9g tol %.3g" % (
        np.unravel_index(worst, err.shape), got.flat[worst], ref.flat[worst], tol.flat[worst])
    if dtype == "f32":
        z = xs.astype(np.float64) * np.float64(np.float32(scale))
        if softcap > 0:
            z = softcap * np.tanh(z / softcap)
        if mask_rows:
            z = z + np.tile(mask_s.astype(np.float64), (rows // mask_rows, 1))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p64 = e / e.sum(axis=1, keepdims=True)
        # softcap: z = cap*tanh(.) is rounded in f32 by mlxn (|dz| <= ~3 u32 * cap), not by float64
        rel64 = 16 * U_F32 + (2 * 4 * U_F32 * softcap if softcap > 0 else 0.0)
        assert np.all(np.abs(got - p64) <= p64 * rel64 + 1e-37)
    # masked entries are exactly zero on both sides
    if mask_rows:
        full = np.tile(mask_s.astype(np.float64), (rows // mask_rows, 1))
        assert np.all(got[np.isneginf(full)] == 0.0)


def test_softmax_rejects_bad_mask(device):
    x = mlxn.Buffer.new(device, "f32", (4, 128))
    y = mlxn.Buffer.new(device, "f32", (4, 128))
    m = mlxn.Buffer.new(device, "f32", (2, 100))
    enc = mlxn.Encoder(device)
    with pytest.raises(mlxn.MlxnError, match="mask has 100 columns, x has 128"):
        msm.softmax(enc, x, y, m)
    for b in (x, y, m, enc):
        b.close()
