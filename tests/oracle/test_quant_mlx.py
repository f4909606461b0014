"""MLX's quantized formats: mlxn_dequantize_mlx / mlxn_gather_mlx /
mlxn_quantize_mlx against MLX itself (mx.quantize, mx.dequantize; mlx[cpu]).

Tolerances (why they are what they are):
  Exact, bit for bit, wherever MLX computes in f32: affine with f32 scales
    (MLX: q*s then + b, two f32 roundings, then one cast to the output dtype),
    affine with f16/bf16 scales compared against MLX given the same scales
    upcast to f32 (mlxn's contract: f32 arithmetic on the exact scale/bias),
    and the fp modes (q * 2^(s-127), q * e4m3(s): exact products) for f32 and
    bf16 outputs. The quantizer's packed words, scales and biases: exact.
  MLX with f16/bf16 scales computes in that dtype (q*s rounded to it, then
    + b rounded again), mlxn in f32 with one final rounding. The two differ by
    the rounding of q*s to the scales' dtype plus one output rounding on each
    side: |got - mlx| <= u * |q*s| + 2u * |y| (u of that dtype), checked with
    |q*s| = |y_exact - b| (about half of the elements agree exactly).
"""
import numpy as np
import pytest

import mlxn
import mlxn.quant_mlx as mq
from oracle_util import UNIT_ROUNDOFF

mx = pytest.importorskip("mlx.core")

MXDT = {"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}
BITS = [2, 3, 4, 5, 6, 8]
GROUPS = [32, 64, 128]


def to_np(a):
    """An mlx array as numpy storage for mlxn (bf16 as uint16 raw bits)."""
    if a.dtype == mx.bfloat16:
        return np.array(a.view(mx.uint16))
    return np.array(a)


def f64(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


def run_dequant(device, wq, s, b, out_dtype, mode="affine", bits=4, gs=64, gscale=0.0, sdt=None):
    enc = mlxn.Encoder(device)
    bw = mlxn.Buffer.from_numpy(device, wq)
    bs = mlxn.Buffer.from_numpy(device, s, dtype=sdt)
    bb = mlxn.Buffer.from_numpy(device, b, dtype=sdt) if b is not None else None
    y = mlxn.Buffer.new(device, out_dtype, (wq.shape[0], wq.shape[1] * 32 // bits))
    mq.dequantize(enc, bw, bs, bb, y, mode=mode, bits=bits, group_size=gs, global_scale=gscale)
    enc.wait()
    out = y.numpy()
    for h in (bw, bs, bb, y, enc):
        if h is not None:
            h.close()
    if out_dtype == "bf16":
        return mlxn.bf16_to_f32(out).astype(np.float64)
    return out.astype(np.float64)


def same_bits(got, want):
    """Value for value, the sign of zero included, NaN where NaN."""
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    nan = np.isnan(w)
    assert np.array_equal(np.isnan(g), nan), "NaN positions differ"
    ok = (g[~nan] == w[~nan]) & (np.signbit(g[~nan]) == np.signbit(w[~nan]))
    if not ok.all():
        i = np.flatnonzero(~ok)[0]
        raise AssertionError("%d of %d differ; first: got %r want %r" % ((~ok).sum(), ok.size, g[~nan][i], w[~nan][i]))


def mx_quantized(rng, rows, k, dtype, bits, gs):
    w = mx.array(rng.standard_normal((rows, k)).astype(np.float32)).astype(MXDT[dtype])
    return mx.quantize(w, group_size=gs, bits=bits)


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("gs", GROUPS)
@pytest.mark.parametrize("sdt", ["f32", "f16", "bf16"])
def test_dequant_affine_of_mx_quantize(device, rng, bits, gs, sdt):
    wq, s, b = mx_quantized(rng, 5, 3 * gs, sdt, bits, gs)
    wq_np = np.array(wq)
    s32, b32 = s.astype(mx.float32), b.astype(mx.float32)
    # f32 arithmetic on the exact scales: MLX given the f32 scales, bit for bit, every output dtype
    for out in ["f32", "f16", "bf16"]:
        want = f64(mx.dequantize(wq, s32, b32, group_size=gs, bits=bits, dtype=MXDT[out]))
        got = run_dequant(device, wq_np, to_np(s), to_np(b), out, bits=bits, gs=gs, sdt=sdt)
        same_bits(got, want)
    if sdt == "f32":
        return
    # MLX computing in the scales' dtype: within the double-rounding bound
    mlx = f64(mx.dequantize(wq, s, b, group_size=gs, bits=bits))
    got = run_dequant(device, wq_np, to_np(s), to_np(b), sdt, bits=bits, gs=gs, sdt=sdt)
    exact = f64(mx.dequantize(wq, s32, b32, group_size=gs, bits=bits))
    bias = np.repeat(f64(b), gs, axis=1)
    u = UNIT_ROUNDOFF[sdt]
    bound = u * np.abs(exact - bias) + 2 * u * np.abs(exact) + 1e-30
    assert (np.abs(got - mlx) <= bound).all()


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("out", ["f32", "bf16"])
def test_dequant_affine_random_words(device, rng, bits, out):
    """Every code pattern: random u32 words, random f32 scales and biases."""
    gs, rows, k = 64, 7, 256
    wq = rng.integers(0, 2**32, size=(rows, k * bits // 32), dtype=np.uint64).astype(np.uint32)
    s = rng.uniform(-0.2, 0.2, size=(rows, k // gs)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(rows, k // gs)).astype(np.float32)
    want = f64(mx.dequantize(mx.array(wq), mx.array(s), mx.array(b), group_size=gs, bits=bits, dtype=MXDT[out]))
    got = run_dequant(device, wq, s, b, out, bits=bits, gs=gs)
    same_bits(got, want)


FP = {"mxfp4": (4, 32), "mxfp8": (8, 32), "nvfp4": (4, 16)}


@pytest.mark.parametrize("mode", list(FP))
@pytest.mark.parametrize("out", ["f32", "bf16"])
def test_dequant_fp_of_mx_quantize(device, rng, mode, out):
    bits, gs = FP[mode]
    w = mx.array((rng.standard_normal((6, 9 * gs)) * 3).astype(np.float32))  # nvfp4: K = 144, odd x 16
    wq, s = mx.quantize(w, mode=mode)
    want = f64(mx.dequantize(wq, s, mode=mode, dtype=MXDT[out]))
    got = run_dequant(device, np.array(wq), np.array(s), None, out, mode=mode, bits=bits, gs=gs)
    same_bits(got, want)


@pytest.mark.parametrize("mode", list(FP))
def test_dequant_fp_random_bytes(device, rng, mode):
    """Every element code and every scale byte (E8M0 0 and 255: 2^-127, inf and
    the NaNs of 0 * inf; E4M3 0x7F/0xFF: NaN)."""
    bits, gs = FP[mode]
    rows, k = 8, 32 * gs  # 256 groups: every scale byte once
    wq = rng.integers(0, 2**32, size=(rows, k * bits // 32), dtype=np.uint64).astype(np.uint32)
    s = rng.permutation(256).astype(np.uint8).reshape(rows, k // gs)
    want = f64(mx.dequantize(mx.array(wq), mx.array(s), mode=mode, dtype=mx.float32))
    got = run_dequant(device, wq, s, None, "f32", mode=mode, bits=bits, gs=gs)
    same_bits(got, want)


@pytest.mark.parametrize("gscale", [1.0, 6.5, 1e-3, 2688.0])
def test_dequant_nvfp4_global_scale(device, rng, gscale):
    w = mx.array((rng.standard_normal((4, 128)) * 0.01).astype(np.float32))
    g = mx.array(gscale, dtype=mx.float32)
    wq, s = mx.quantize(w, mode="nvfp4", global_scale=g)
    want = f64(mx.dequantize(wq, s, mode="nvfp4", global_scale=g, dtype=mx.float32))
    got = run_dequant(device, np.array(wq), np.array(s), None, "f32", mode="nvfp4", bits=4, gs=16, gscale=gscale)
    same_bits(got, want)


@pytest.mark.parametrize("ids_dtype", ["i32", "u32"])
@pytest.mark.parametrize("bits,gs,sdt", [(4, 64, "bf16"), (6, 64, "bf16"), (3, 32, "f16"), (8, 128, "f32")])
def test_gather_matches_dequantized_rows(device, rng, bits, gs, sdt, ids_dtype):
    """mlx-native embedding_gather: rows of the f32-dequantized table (MLX given
    f32 scales) times the multiplier in f32; out-of-range ids give zero rows."""
    n_rows, k, scale = 40, 4 * gs, np.float32(np.sqrt(2560.0))
    wq, s, b = mx_quantized(rng, n_rows, k, sdt, bits, gs)
    table = np.array(mx.dequantize(wq, s.astype(mx.float32), b.astype(mx.float32), group_size=gs, bits=bits))
    ids = rng.integers(0, n_rows, size=(3, 5)).astype(np.int64)
    ids[0, 1] = n_rows
    ids[2, 4] = -1 if ids_dtype == "i32" else 2**32 - 1
    want = np.zeros((3, 5, k), np.float32)
    ok = (ids >= 0) & (ids < n_rows)
    want[ok] = table[ids[ok]] * scale
    enc = mlxn.Encoder(device)
    bw = mlxn.Buffer.from_numpy(device, np.array(wq))
    bs = mlxn.Buffer.from_numpy(device, to_np(s), dtype=sdt)
    bb = mlxn.Buffer.from_numpy(device, to_np(b), dtype=sdt)
    bi = mlxn.Buffer.from_numpy(device, ids.astype(np.int32 if ids_dtype == "i32" else np.uint32))
    y = mlxn.Buffer.new(device, "f32", (3, 5, k))
    mq.gather(enc, bw, bs, bb, bi, y, bits=bits, group_size=gs, scale=float(scale))
    enc.wait()
    got = y.numpy()
    for h in (bw, bs, bb, bi, y, enc):
        h.close()
    same_bits(got, want)


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("gs", GROUPS)
@pytest.mark.parametrize("xdt", ["f32", "f16", "bf16"])
def test_quantize_equals_mx_quantize(rng, bits, gs, xdt):
    rows, k = 9, 4 * gs
    x = rng.standard_normal((rows, k)) * rng.uniform(0.01, 3.0, size=(rows, 1)) + rng.uniform(-1, 1, size=(rows, 1))
    xm = mx.array(x.astype(np.float32)).astype(MXDT[xdt])
    wq, s, b = mx.quantize(xm, group_size=gs, bits=bits)
    gq, gs_, gb = mq.quantize(to_np(xm), bits=bits, group_size=gs, x_dtype=xdt)
    assert np.array_equal(gq, np.array(wq))
    assert np.array_equal(gs_, to_np(s))
    assert np.array_equal(gb, to_np(b))


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("sdt", ["f16", "bf16"])
def test_quantize_f32_to_16bit_scales(rng, bits, sdt):
    """f32 x, f16/bf16 scales: mx.quantize's f32 outputs with scales/biases cast."""
    rows, k, gs = 6, 256, 64
    x = (rng.standard_normal((rows, k)) * 0.05).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(x), group_size=gs, bits=bits)
    gq, gs_, gb = mq.quantize(x, bits=bits, group_size=gs, scales_dtype=sdt)
    assert np.array_equal(gq, np.array(wq))
    assert np.array_equal(gs_, to_np(s.astype(MXDT[sdt])))
    assert np.array_equal(gb, to_np(b.astype(MXDT[sdt])))


def test_quantize_round_trip_through_device(device, rng):
    """mlxn quantize -> mlxn dequantize equals MLX's quantize -> dequantize."""
    x = (rng.standard_normal((16, 512)) * 0.1).astype(np.float32)
    for bits in BITS:
        wq, s, b = mq.quantize(x, bits=bits, group_size=64)
        got = run_dequant(device, wq, s, b, "f32", bits=bits, gs=64)
        want = f64(mx.dequantize(*mx.quantize(mx.array(x), group_size=64, bits=bits), group_size=64, bits=bits))
        same_bits(got, want)


@pytest.mark.parametrize("mode", list(FP))
@pytest.mark.parametrize("xdt", ["f32", "f16", "bf16"])
def test_quantize_fp_equals_mx_quantize(rng, mode, xdt):
    """fp modes: codes and scale bytes equal mx.quantize's (mlx[cpu] evaluates
    them as array ops in x's dtype; the quantizer replays that chain)."""
    bits, gs = FP[mode]
    rows, k = 64, 8 * gs
    x = rng.standard_normal((rows, k)) * np.exp(rng.uniform(-8, 8, size=(rows, 1)))
    x[0, :gs] = 0.0  # an all-zero group
    x[1, 3] = 0.75 * 2.0 ** np.round(np.log2(np.abs(x[1]).max() / 6))  # an fp4 tie
    x[2, 5:9] = [6.0, -6.0, 448.0, 0.25]  # amax / maxval an exact power of two
    if xdt != "f16":
        x[3] *= 2.0**-100  # scales near the bottom of E8M0 and of f32
        x[4] *= 2.0**100
    xm = mx.array(x.astype(np.float32)).astype(MXDT[xdt])
    wq, s = mx.quantize(xm, mode=mode)
    gq, gsc = mq.quantize(to_np(xm), mode=mode, x_dtype=xdt)
    assert np.array_equal(gsc, np.array(s))
    assert np.array_equal(gq, np.array(wq))


@pytest.mark.parametrize("gscale", [6.5, 1e-3, 2688.0])
def test_quantize_nvfp4_global_scale(rng, gscale):
    x = (rng.standard_normal((8, 256)) * 0.01).astype(np.float32)
    g = mx.array(gscale, dtype=mx.float32)
    wq, s = mx.quantize(mx.array(x), mode="nvfp4", global_scale=g)
    gq, gsc = mq.quantize(x, mode="nvfp4", global_scale=gscale)
    assert np.array_equal(gsc, np.array(s))
    assert np.array_equal(gq, np.array(wq))


@pytest.mark.parametrize("mode", list(FP))
def test_dequant_fp_f16_output(device, rng, mode):
    """f16 output: exact where 2^(s-127) is an f16 number (MLX evaluates the
    scale in f16; outside that range, s < 103 or s > 142, it under/overflows
    there first and the contract differs on purpose). NVFP4 scales always fit."""
    bits, gs = FP[mode]
    rows, k = 8, 32 * gs
    wq = rng.integers(0, 2**32, size=(rows, k * bits // 32), dtype=np.uint64).astype(np.uint32)
    if mode == "nvfp4":
        s = rng.permutation(256).astype(np.uint8).reshape(rows, k // gs)
    else:
        s = rng.integers(103, 143, size=(rows, k // gs)).astype(np.uint8)
    want = f64(mx.dequantize(mx.array(wq), mx.array(s), mode=mode, dtype=mx.float16))
    got = run_dequant(device, wq, s, None, "f16", mode=mode, bits=bits, gs=gs)
    same_bits(got, want)
