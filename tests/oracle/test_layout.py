"""The layout family (gather_rows, permute, copy_2d, repeat_heads,
kv_cache_write) against numpy: np.take, np.transpose, slicing, np.tile /
np.repeat and slice assignment.

These ops copy: results must equal numpy's exactly (bit for bit where nothing
converts; where the op converts, numpy's astype / mlxn.f32_to_bf16 do the same
single round-to-nearest-even conversion). No tolerance is needed or allowed.
"""
import itertools

import numpy as np
import pytest

import mlxn
import mlxn.layout as lay
from oracle_util import decode, encode

NP = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16, "i8": np.int8, "i64": np.int64}


def rand_bits(rng, shape, dtype):
    """Random raw bit patterns of dtype's storage (NaNs with payloads included)."""
    nbytes = int(np.prod(shape)) * np.dtype(NP[dtype]).itemsize
    return np.frombuffer(rng.bytes(nbytes), dtype=NP[dtype]).reshape(shape).copy()


def convert(vals64, dtype):
    """float64 values (exact in their source dtype) -> storage of dtype, rounded once."""
    return encode(vals64, dtype)[0]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("ids_dtype", [np.int32, np.uint32])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 33, 5), (100, 64, 17)])
def test_gather_rows(device, dtype, ids_dtype, shape):
    n_rows, dim, n = shape
    rng = np.random.default_rng(1)
    table = rand_bits(rng, (n_rows, dim), dtype)
    ids = rng.integers(0, n_rows, size=n).astype(ids_dtype)
    y = lay.gather_rows_np(table, ids, dtype=dtype, device=device)
    assert np.array_equal(y.view(np.uint8), np.take(table, ids, axis=0).view(np.uint8))


def test_gather_rows_out_of_range_and_scale(device):
    rng = np.random.default_rng(2)
    table64 = rng.uniform(-4, 4, size=(10, 24))
    table, exact = encode(table64, "bf16")
    ids = np.array([[3, -1, 9], [10, 0, 2**31 - 1]], np.int32)
    scale = np.float32(0.37)
    y = lay.gather_rows_np(table, ids, float(scale), out_dtype="f32", dtype="bf16", device=device)
    valid = (ids >= 0) & (ids < 10)
    want = np.where(valid[..., None], exact.astype(np.float32)[np.clip(ids, 0, 9)] * scale, 0.0).astype(np.float32)
    assert y.shape == (2, 3, 24)
    assert np.array_equal(y, want)


@pytest.mark.parametrize("dtype", ["f32", "f16", "i8", "i64"])
@pytest.mark.parametrize("shape", [(33, 65), (5, 7, 33), (2, 3, 5, 33), (4, 1, 34, 2)])
def test_permute_all_perms(device, dtype, shape):
    rng = np.random.default_rng(3)
    x = rand_bits(rng, shape, dtype)
    for perm in itertools.permutations(range(len(shape))):
        y = lay.permute_np(x, perm, device=device)
        assert np.array_equal(y.view(np.uint8), np.ascontiguousarray(np.transpose(x, perm)).view(np.uint8)), perm


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_copy_2d_qkv_split_and_concat(device, dtype):
    rng = np.random.default_rng(4)
    q, k, v, rows = 64, 32, 16, 7
    qkv = rand_bits(rng, (rows, q + k + v), dtype)
    parts = []
    for col, width in ((0, q), (q, k), (q + k, v)):
        out = lay.copy_2d_np(qkv, np.zeros((rows, width), qkv.dtype), rows, width, src_col=col, dtype=dtype,
                             device=device)
        assert np.array_equal(out.view(np.uint8), qkv[:, col:col + width].copy().view(np.uint8))
        parts.append(out)
    # concatenation by columns, one call per part, into prior contents
    dst = rand_bits(rng, (rows, q + k + v + 3), dtype)
    want = dst.copy()
    col = 1
    for p in parts:
        dst = lay.copy_2d_np(p, dst, rows, p.shape[1], dst_col=col, dtype=dtype, device=device)
        want[:, col:col + p.shape[1]] = p
        col += p.shape[1]
    assert np.array_equal(dst.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("geo", [(3, 2, 6, 5), (7, 4, 32, 64), (5, 1, 4, 33)])
def test_repeat_heads(device, dtype, geo):
    T, Hg, H, D = geo
    rng = np.random.default_rng(5)
    x = rand_bits(rng, (T, Hg, D), dtype)
    tiled = lay.repeat_heads_np(x, H, False, dtype=dtype, device=device)
    inter = lay.repeat_heads_np(x, H, True, dtype=dtype, device=device)
    assert np.array_equal(tiled.view(np.uint8), np.tile(x, (1, H // Hg, 1)).view(np.uint8))
    assert np.array_equal(inter.view(np.uint8), np.repeat(x, H // Hg, axis=1).view(np.uint8))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # f32 -> f16 overflow to inf is part of the test
@pytest.mark.parametrize("sdt,cdt", [("f32", "f32"), ("f32", "f16"), ("f32", "bf16"), ("bf16", "f32"),
                                     ("f16", "bf16"), ("bf16", "bf16")])
@pytest.mark.parametrize("sliding,T,cap,pos", [(False, 5, 16, 3), (False, 16, 16, 0), (True, 6, 8, 5),
                                               (True, 3, 8, 1000003)])
def test_kv_cache_write(device, sdt, cdt, sliding, T, cap, pos):
    H, D = 3, 33
    rng = np.random.default_rng(6)
    mags = np.exp2(rng.uniform(-30, 15.9 if sdt == "f16" else 18, size=(T, H, D)))
    src, src_exact = encode(mags * rng.choice([-1.0, 1.0], size=mags.shape), sdt)
    cache, _ = encode(rng.uniform(-1, 1, size=(H, cap, D)), cdt)
    got = lay.kv_cache_write_np(src, cache, pos, sliding, dtype=sdt, cache_dtype=cdt, device=device)
    want = cache.copy()
    slots = [(pos + t) % cap if sliding else pos + t for t in range(T)]
    want[:, slots, :] = convert(np.transpose(src_exact, (1, 0, 2)), cdt)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))


def test_kv_cache_write_overflow_message(device):
    src = np.zeros((8, 2, 4), np.float32)
    cache = np.zeros((2, 4096, 4), np.float32)
    with pytest.raises(mlxn.MlxnError, match=r"kv_cache_write: pos \(4090\) \+ T \(8\) exceeds cap \(4096\)"):
        lay.kv_cache_write_np(src, cache, 4090, False, device=device)
