"""mlxn_dequantize_ggml / mlxn_quantize_ggml against gguf-py's gguf.quants
(the reference Python implementation of ggml's block formats, pinned in
requirements.txt).

Tolerance: none. Dequantization is exact f32 arithmetic on the same
operations in the same order as ggml's dequantize_row_* and gguf-py's numpy
code (f16 scales converted exactly, no fused multiply-add), so every f32
output must equal gguf.quants.dequantize bit for bit; an f16 / bf16 output
must equal that f32 value rounded to nearest even (numpy's float16 cast;
bf16 by the bit formula). The quantizers follow ggml's quantize_row_*_ref
with the same f32 operations as gguf-py, so the bytes must be identical.

Raw blocks are random bytes (every bit pattern is a valid code) with the
f16/f32 scale fields replaced by finite values (some f16 subnormals) and
E8M0 exponents kept moderate, so no output overflows. One test writes the
blocks into a GGUF file with gguf.GGUFWriter, opens it with mlxn's reader
and dequantizes the tensor bytes the reader hands out.
"""
import ctypes
import os

import numpy as np
import pytest

import mlxn
import mlxn.quant_ggml as qg

gguf = pytest.importorskip("gguf")
from gguf.quants import dequantize as g_dequantize, quantize as g_quantize  # noqa: E402

T = gguf.GGMLQuantizationType
SIZES = gguf.GGML_QUANT_SIZES

# the types gguf-py dequantizes that mlxn supports
DQ_TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
            "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4", "NVFP4"]
# grid formats: mlxn reports them unsupported
UNSUPPORTED = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "TQ1_0", "TQ2_0"]
# the quantizers gguf-py implements that mlxn has too
Q_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "MXFP4"]

F16_FIELDS = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q2_K": [80, 82],
              "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "IQ4_NL": [0], "IQ4_XS": [0]}


def rand_f16_scales(rng, n):
    mag = np.where(rng.integers(0, 8, n) == 0, rng.uniform(1e-7, 6e-5, n), 10.0 ** rng.uniform(-3, 0, n))
    return (mag * np.where(rng.integers(0, 2, n) == 1, -1.0, 1.0)).astype(np.float16)


def random_blocks(rng, name, n):
    """Raw bytes of n elements of type `name`, as uint8 [n / block, type_size]."""
    blck, tsz = SIZES[T[name]]
    if name == "F32":
        return rng.uniform(-4, 4, n).astype(np.float32).view(np.uint8).reshape(n, 4)
    if name == "F16":
        return rng.uniform(-4, 4, n).astype(np.float16).view(np.uint8).reshape(n, 2)
    if name == "BF16":
        return (rng.uniform(-4, 4, n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16) \
            .view(np.uint8).reshape(n, 2)
    nb = n // blck
    raw = rng.integers(0, 256, size=(nb, tsz), dtype=np.uint8)
    for off in F16_FIELDS.get(name, []):
        raw[:, off:off + 2] = rand_f16_scales(rng, nb).view(np.uint8).reshape(nb, 2)
    if name == "MXFP4":
        raw[:, 0] = rng.integers(110, 141, nb)
    return raw


def bf16_rne(x32):
    u = x32.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def expected(ref32, out):
    if out == "f32":
        return ref32.view(np.uint32)
    if out == "f16":
        return ref32.astype(np.float16).view(np.uint16)
    return bf16_rne(ref32)


def got_bits(y, out):
    return y.view(np.uint32) if out == "f32" else y.view(np.uint16)


SHAPES = [(1, None), (3, 5), (7, 33), (16, 64)]  # (rows, blocks per row; None: one block)


@pytest.mark.parametrize("out", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("rows,bpr", SHAPES)
@pytest.mark.parametrize("name", DQ_TYPES)
def test_dequantize_matches_gguf(device, rng, name, rows, bpr, out):
    blck, tsz = SIZES[T[name]]
    row = blck * (bpr or 1) if blck > 1 else (bpr or 1) * 32 + 1
    raw = random_blocks(rng, name, rows * row).reshape(rows, -1)
    ref = g_dequantize(raw, T[name]).astype(np.float32, copy=False).reshape(rows, row)
    y = qg.dequantize_np(raw, name.lower(), shape=(rows, row), out=out, src_offset=(rows % 2), device=device)
    want, got = expected(ref, out), got_bits(y, out)
    bad = np.flatnonzero(want.reshape(-1) != got.reshape(-1))
    assert bad.size == 0, "%d of %d differ; first at %d: got %r want %r" % (
        bad.size, want.size, bad[0], y.reshape(-1)[bad[0]], ref.reshape(-1)[bad[0]])


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_grid_formats_unsupported(device, name):
    blck, tsz = SIZES[T[name]]
    raw = np.zeros(tsz, np.uint8)
    with pytest.raises(mlxn.MlxnError) as ei:
        qg.dequantize_np(raw, name.lower(), shape=(blck,), device=device)
    assert ei.value.status_name == "unsupported"
    assert name.lower() in ei.value.message


def quant_inputs(rng, kind, nblocks, blck):
    n = nblocks * blck
    if kind == "uniform":
        return rng.uniform(-1, 1, n).astype(np.float32)
    if kind == "mixed":  # blocks of very different magnitudes
        scale = np.repeat(10.0 ** rng.uniform(-4, 4, nblocks), blck)
        return (rng.uniform(-1, 1, n) * scale).astype(np.float32)
    if kind == "normal":
        return rng.standard_normal(n).astype(np.float32)
    # edge blocks: zeros, a constant, one spike, ties of +max/-max, tiny values, integers
    x = rng.uniform(-1, 1, (nblocks, blck)).astype(np.float32)
    x[0] = 0
    x[1] = 0.75
    x[2] = 0
    x[2, 5] = -3.0
    x[3, :] = np.where(np.arange(blck) % 2 == 0, 2.0, -2.0)
    x[4] *= 1e-30
    x[5] = np.round(rng.uniform(-8, 8, blck))
    x[6] = np.abs(x[6])
    x[7] = -np.abs(x[7])
    return x.reshape(-1)


@pytest.mark.parametrize("kind", ["uniform", "mixed", "normal", "edge"])
@pytest.mark.parametrize("name", Q_TYPES)
def test_quantize_matches_gguf(rng, name, kind):
    blck, _ = SIZES[T[name]]
    x = quant_inputs(rng, kind, 64, blck).reshape(8, -1)
    want = g_quantize(x, T[name])
    got = qg.quantize_np(x, name.lower())
    assert got.shape == want.shape
    bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
    assert bad.size == 0, "%d bytes differ, first at byte %d (block %d)" % (
        bad.size, bad[0], bad[0] // SIZES[T[name]][1])


@pytest.mark.parametrize("name", ["Q4_0", "Q8_0", "Q4_K", "Q6_K", "MXFP4"])
def test_quantize_then_dequantize_on_device(device, rng, name):
    """mlxn's own blocks decode on the device exactly as gguf-py decodes them."""
    blck, _ = SIZES[T[name]]
    x = rng.uniform(-2, 2, (4, 2 * max(blck, 256))).astype(np.float32)
    raw = qg.quantize_np(x, name.lower())
    ref = g_dequantize(raw, T[name]).astype(np.float32)
    y = qg.dequantize_np(raw, name.lower(), shape=x.shape, out="f32", device=device)
    assert np.array_equal(y.view(np.uint32), ref.view(np.uint32))


# ---- through a GGUF file ------------------------------------------------------------

class _Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("ndim", ctypes.c_int),
                ("ne", ctypes.c_int64 * 4), ("nelements", ctypes.c_int64), ("nbytes", ctypes.c_uint64),
                ("offset", ctypes.c_uint64), ("data", ctypes.c_void_p)]


def test_gguf_file_tensors(device, rng, tmp_path):
    L = mlxn._lib
    L.mlxn_gguf_open.restype, L.mlxn_gguf_open.argtypes = ctypes.c_int, [ctypes.c_char_p,
                                                                         ctypes.POINTER(ctypes.c_void_p)]
    L.mlxn_gguf_close.restype, L.mlxn_gguf_close.argtypes = None, [ctypes.c_void_p]
    L.mlxn_gguf_find_tensor.restype = ctypes.c_int64
    L.mlxn_gguf_find_tensor.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    L.mlxn_gguf_tensor_info.restype = ctypes.c_int
    L.mlxn_gguf_tensor_info.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(_Tensor)]
    path = str(tmp_path / "q.gguf")
    w = gguf.GGUFWriter(path, "llama")
    tensors = {}
    for i, name in enumerate(["Q4_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "Q3_K", "IQ4_XS", "MXFP4", "BF16"]):
        blck, _ = SIZES[T[name]]
        rows, row = 3, 2 * max(blck, 32) if blck > 1 else 96
        raw = random_blocks(rng, name, rows * row).reshape(rows, -1)
        tname = "blk.%d.%s" % (i, name.lower())
        w.add_tensor(tname, raw, raw_dtype=T[name])
        tensors[tname] = (name, rows, row, raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    g = ctypes.c_void_p()
    assert L.mlxn_gguf_open(path.encode(), ctypes.byref(g)) == 0, L.mlxn_last_error()
    try:
        for tname, (name, rows, row, raw) in tensors.items():
            idx = L.mlxn_gguf_find_tensor(g, tname.encode())
            assert idx >= 0
            info = _Tensor()
            assert L.mlxn_gguf_tensor_info(g, idx, ctypes.byref(info)) == 0
            assert info.type == int(T[name]) and info.ne[0] == row and info.ne[1] == rows
            data = np.frombuffer(ctypes.string_at(info.data, info.nbytes), dtype=np.uint8)
            assert np.array_equal(data, raw.reshape(-1))
            ref = g_dequantize(raw, T[name]).astype(np.float32).reshape(rows, row)
            y = qg.dequantize_np(data, info.type, shape=(rows, row), out="f32", device=device)
            assert np.array_equal(y.view(np.uint32), ref.view(np.uint32)), tname
    finally:
        L.mlxn_gguf_close(g)
