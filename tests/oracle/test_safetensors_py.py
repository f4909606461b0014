"""Oracle for the safetensors reader, the MLX quantization configs and the loaders.

- Files written by the reference writer (`safetensors` from PyPI, numpy API;
  pinned in requirements.txt) for every dtype numpy has must read back through
  mlxn exactly: dtype names, shapes, data offsets (as the file's own header
  states them), every byte, and the metadata.
- Files written by MLX's independent writer (mx.save_safetensors) for the
  dtypes numpy lacks (BF16) and C64 read back exactly too.
- A sharded model (two shards + model.safetensors.index.json) reads as one set.
- MLX-quantized models: mx.quantize output (every affine bits/group, mxfp4,
  mxfp8, nvfp4) saved by MLX with an mlx-lm style config.json groups into the
  right descriptors, and the packed bytes load onto the device unchanged.
- Every tensor loaded onto the device (CPU, and CUDA where present) equals the
  file's bytes.
"""
import json
import struct

import numpy as np
import pytest

import mlxn
import mlxn.io as mio

st_np = pytest.importorskip("safetensors.numpy")

NUMPY_DTYPES = {  # numpy dtype -> safetensors dtype name
    np.float64: "F64", np.float32: "F32", np.float16: "F16", np.int64: "I64", np.int32: "I32",
    np.int16: "I16", np.int8: "I8", np.uint8: "U8", np.bool_: "BOOL", np.uint16: "U16",
    np.uint32: "U32", np.uint64: "U64",
}


def _header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


def _random(rng, dt, shape):
    if dt == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dt)


def test_numpy_writer_every_dtype(tmp_path, rng):
    tensors = {}
    shapes = [(3, 5), (7,), (2, 3, 4), (), (0, 4), (1, 1, 1, 1, 1, 1, 1, 2)]
    for k, dt in enumerate(NUMPY_DTYPES):
        tensors["t.%s" % NUMPY_DTYPES[dt]] = _random(rng, dt, shapes[k % len(shapes)])
    tensors["nan.f32"] = np.array([np.nan, -np.inf, np.inf, -0.0], dtype=np.float32)
    meta = {"format": "np", "note": "h\u00e9llo \u4e16\u754c"}
    path = tmp_path / "all.safetensors"
    st_np.save_file(tensors, str(path), metadata=meta)
    n, hdr = _header(path)
    with mio.SafeTensors(path) as st:
        assert st.metadata == meta
        assert sorted(st.names) == sorted(tensors)
        assert st.total_bytes == sum(a.nbytes for a in tensors.values())
        for name, arr in tensors.items():
            info = st.info(name)
            assert info["dtype"] == NUMPY_DTYPES[arr.dtype.type], name
            assert info["shape"] == arr.shape, name
            assert info["nbytes"] == arr.nbytes
            assert info["offset"] == 8 + n + hdr[name]["data_offsets"][0], name
            assert st.raw(name) == arr.tobytes(), name
            got = st.numpy(name)
            assert got.dtype == arr.dtype and got.shape == arr.shape
            assert got.tobytes() == arr.tobytes()
    # the same bytes from memory
    with mio.SafeTensors(data=path.read_bytes()) as st:
        for name, arr in tensors.items():
            assert st.raw(name) == arr.tobytes(), name


def test_numpy_reader_agrees(tmp_path, rng):
    """Both readers see the same tensors in a file with many small, unaligned entries."""
    tensors = {"a%03d" % i: _random(rng, [np.uint8, np.float32, np.int16][i % 3], (i % 5 + 1,)) for i in range(40)}
    path = tmp_path / "many.safetensors"
    st_np.save_file(tensors, str(path))
    ref = st_np.load_file(str(path))
    with mio.SafeTensors(path) as st:
        for name, arr in ref.items():
            assert st.raw(name) == arr.tobytes()
            assert st.info(name)["shape"] == arr.shape


def test_mlx_writer(tmp_path):
    mx = pytest.importorskip("mlx.core")
    arrs = {
        "bf16": mx.random.normal((4, 6)).astype(mx.bfloat16),
        "f16": mx.random.normal((3,)).astype(mx.float16),
        "f32": mx.random.normal((2, 2, 2)),
        "i32": mx.arange(10, dtype=mx.int32),
        "u32": mx.arange(5, dtype=mx.uint32) * 1000003,
        "b": mx.array([True, False, True]),
        "c64": mx.array([1 + 2j, -3.5j], dtype=mx.complex64),
    }
    path = tmp_path / "mlx.safetensors"
    mx.save_safetensors(str(path), arrs, metadata={"format": "mlx"})
    want_dtype = {"bf16": "BF16", "f16": "F16", "f32": "F32", "i32": "I32", "u32": "U32", "b": "BOOL", "c64": "C64"}
    with mio.SafeTensors(path) as st:
        assert st.metadata == {"format": "mlx"}
        for name, a in arrs.items():
            info = st.info(name)
            assert info["dtype"] == want_dtype[name]
            assert info["shape"] == tuple(a.shape)
            ref = np.array(a.view(mx.uint16)) if name == "bf16" else np.array(a)
            assert st.raw(name) == ref.tobytes(), name


def test_sharded_index(tmp_path, rng):
    a = {"model.embed.weight": _random(rng, np.float32, (8, 4)), "model.layers.0.w": _random(rng, np.float16, (5,))}
    b = {"model.layers.1.w": _random(rng, np.int8, (3, 3)), "lm_head.weight": _random(rng, np.float32, (4, 8))}
    st_np.save_file(a, str(tmp_path / "model-00001-of-00002.safetensors"), metadata={"format": "np"})
    st_np.save_file(b, str(tmp_path / "model-00002-of-00002.safetensors"), metadata={"format": "np"})
    wm = {k: "model-00001-of-00002.safetensors" for k in a}
    wm.update({k: "model-00002-of-00002.safetensors" for k in b})
    total = sum(x.nbytes for x in list(a.values()) + list(b.values()))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": wm}))
    for target in (tmp_path, tmp_path / "model.safetensors.index.json"):
        with mio.SafeTensors(target) as st:
            assert len(st.shards) == 2
            assert st.total_bytes == total
            for name, arr in {**a, **b}.items():
                assert st.raw(name) == arr.tobytes()
                assert st.info(name)["shard"] == (0 if name in a else 1)


def _np_bytes_of(mx, a):
    return np.array(a).tobytes()


MODES = [("affine", b, g) for b in (2, 3, 4, 5, 6, 8) for g in (32, 64, 128)] + \
        [("mxfp4", 4, 32), ("mxfp8", 8, 32), ("nvfp4", 4, 16)]


def test_mlx_quantized_model(tmp_path, device):
    mx = pytest.importorskip("mlx.core")
    arrays, quant = {}, {"group_size": 64, "bits": 4, "mode": "affine"}
    expect = {}
    for i, (mode, bits, group) in enumerate(MODES):
        base = "model.layers.%d.mlp.proj" % i
        w = mx.random.normal((8, 256), key=mx.random.key(i))
        out = mx.quantize(w, group_size=group, bits=bits, mode=mode)
        arrays[base + ".weight"] = out[0]
        arrays[base + ".scales"] = out[1]
        if mode == "affine":
            arrays[base + ".biases"] = out[2]
        if (mode, bits, group) != ("affine", 4, 64):
            quant[base] = {"group_size": group, "bits": bits, "mode": mode}
        expect[base] = (mode, bits, group)
    arrays["lm_head.weight"] = mx.random.normal((4, 256)).astype(mx.bfloat16)
    quant["lm_head"] = False
    mx.save_safetensors(str(tmp_path / "model.safetensors"), arrays, metadata={"format": "mlx"})
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "test", "quantization": quant,
                                                       "quantization_config": quant}))
    cfg = mio.MlxqConfig.load(tmp_path)
    assert cfg is not None and cfg.defaults == {"quantized": True, "bits": 4, "group_size": 64, "mode": "affine"}
    assert cfg.lookup("lm_head.weight")["quantized"] is False
    with mio.SafeTensors(tmp_path) as st:
        groups = {g["name"]: g for g in mio.mlxq_group(st, cfg)}
        assert set(groups) == set(expect)
        for base, (mode, bits, group) in expect.items():
            g = groups[base]
            assert g["params"] == {"quantized": True, "bits": bits, "group_size": group, "mode": mode}, base
            assert g["shape"] == (8, 256), base
            assert (g["biases"] is not None) == (mode == "affine")
            # the packed words reach the device unchanged
            buf = st.load(device, g["weight"])
            assert mio.buffer_bytes(buf) == np.array(arrays[base + ".weight"]).tobytes()
            buf.close()


def test_load_all_exact(tmp_path, rng, device):
    tensors = {"w%d" % i: _random(rng, dt, (i + 1, 17)) for i, dt in enumerate(NUMPY_DTYPES)}
    tensors["big"] = _random(rng, np.float32, (513, 1031))
    tensors["empty"] = np.zeros((0, 3), np.float32)
    path = tmp_path / "load.safetensors"
    st_np.save_file(tensors, str(path))
    calls = []
    with mio.SafeTensors(path) as st:
        for chunk, k in ((0, 0), (4096, 2), (65536, 3)):
            calls.clear()
            bufs = st.load_all(device, progress=lambda d, t, n: calls.append((d, t, n)), chunk_bytes=chunk, n_chunks=k)
            assert set(bufs) == set(tensors) - {"empty"}
            for name, buf in bufs.items():
                assert mio.buffer_bytes(buf) == tensors[name].tobytes(), name
                buf.close()
            done = [c[0] for c in calls]
            assert done == sorted(done) and calls[-1] == (st.total_bytes, st.total_bytes, None)
    assert mio.load_h2d_rate(device, 1 << 20) > 0
