"""Oracle for the GGUF reader: files written by the reference Python writer
(`gguf` package, pinned in requirements.txt) must read back through mlxn with
every metadata value and every tensor byte exact, and with the same data
offsets that gguf.GGUFReader reports.

mlxn is reached through a small ctypes shim defined here (the GGUF API is not
part of the python/ binding yet); the library is found as python/mlxn does:
MLXN_LIB, else build/libmlxn.so.
"""
import ctypes
import os

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class _Value(ctypes.Structure):
    _fields_ = [("node_", ctypes.c_uint64), ("index_", ctypes.c_uint64)]


class _Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("ndim", ctypes.c_int),
                ("ne", ctypes.c_int64 * 4), ("nelements", ctypes.c_int64), ("nbytes", ctypes.c_uint64),
                ("offset", ctypes.c_uint64), ("data", ctypes.c_void_p)]


def _lib():
    path = os.environ.get("MLXN_LIB") or os.path.join(_REPO, "build", "libmlxn.so")
    if not os.path.exists(path):
        pytest.skip(f"mlxn library not found at {path}")
    L = ctypes.CDLL(path)
    P, V, u64, i64, c_int = ctypes.c_void_p, _Value, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int
    sigs = {
        "mlxn_gguf_open": (c_int, [ctypes.c_char_p, ctypes.POINTER(P)]),
        "mlxn_gguf_close": (None, [P]),
        "mlxn_last_error": (ctypes.c_char_p, []),
        "mlxn_gguf_version": (ctypes.c_uint32, [P]),
        "mlxn_gguf_alignment": (ctypes.c_uint32, [P]),
        "mlxn_gguf_kv_count": (i64, [P]),
        "mlxn_gguf_kv_key": (ctypes.c_char_p, [P, i64]),
        "mlxn_gguf_kv_value": (V, [P, i64]),
        "mlxn_gguf_value_type": (c_int, [P, V]),
        "mlxn_gguf_value_array": (c_int, [P, V, ctypes.POINTER(c_int), ctypes.POINTER(u64)]),
        "mlxn_gguf_value_elem": (c_int, [P, V, u64, ctypes.POINTER(V)]),
        "mlxn_gguf_value_u64": (c_int, [P, V, ctypes.POINTER(u64)]),
        "mlxn_gguf_value_i64": (c_int, [P, V, ctypes.POINTER(i64)]),
        "mlxn_gguf_value_f64": (c_int, [P, V, ctypes.POINTER(ctypes.c_double)]),
        "mlxn_gguf_value_bool": (c_int, [P, V, ctypes.POINTER(c_int)]),
        "mlxn_gguf_value_str": (c_int, [P, V, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(u64)]),
        "mlxn_gguf_tensor_count": (i64, [P]),
        "mlxn_gguf_tensor_info": (c_int, [P, i64, ctypes.POINTER(_Tensor)]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    return L


# GGUF value type ids
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)


def _read_value(L, g, v):
    """A GGUF value as (type id, python value); arrays as (ARRAY, (elem type, [values]))."""
    t = L.mlxn_gguf_value_type(g, v)
    if t == ARRAY:
        et, n = ctypes.c_int(), ctypes.c_uint64()
        assert L.mlxn_gguf_value_array(g, v, ctypes.byref(et), ctypes.byref(n)) == 0
        out = []
        for i in range(n.value):
            e = _Value()
            assert L.mlxn_gguf_value_elem(g, v, i, ctypes.byref(e)) == 0
            out.append(_read_value(L, g, e)[1])
        return t, (et.value, out)
    if t == STRING:
        p, n = ctypes.c_void_p(), ctypes.c_uint64()
        assert L.mlxn_gguf_value_str(g, v, ctypes.byref(p), ctypes.byref(n)) == 0
        return t, ctypes.string_at(p, n.value) if n.value else b""
    if t == BOOL:
        b = ctypes.c_int()
        assert L.mlxn_gguf_value_bool(g, v, ctypes.byref(b)) == 0
        return t, bool(b.value)
    if t in (F32, F64):
        d = ctypes.c_double()
        assert L.mlxn_gguf_value_f64(g, v, ctypes.byref(d)) == 0
        return t, d.value
    if t in (I8, I16, I32, I64):
        x = ctypes.c_int64()
        assert L.mlxn_gguf_value_i64(g, v, ctypes.byref(x)) == 0
        return t, x.value
    x = ctypes.c_uint64()
    assert L.mlxn_gguf_value_u64(g, v, ctypes.byref(x)) == 0
    return t, x.value


def _open(L, path):
    g = ctypes.c_void_p()
    st = L.mlxn_gguf_open(str(path).encode(), ctypes.byref(g))
    assert st == 0, L.mlxn_last_error().decode()
    return g


SCALARS = [  # key, writer method, value, expected type id
    ("t.u8", "add_uint8", 250, U8), ("t.i8", "add_int8", -120, I8),
    ("t.u16", "add_uint16", 65000, U16), ("t.i16", "add_int16", -32000, I16),
    ("t.u32", "add_uint32", 4_000_000_000, U32), ("t.i32", "add_int32", -2_000_000_000, I32),
    ("t.u64", "add_uint64", 2**64 - 1, U64), ("t.i64", "add_int64", -(2**63), I64),
    ("t.f32", "add_float32", 0.25, F32), ("t.f64", "add_float64", 1.0 / 3.0, F64),
    ("t.bool", "add_bool", True, BOOL), ("t.str", "add_string", "h\u00e9llo \u4e16\u754c", STRING),
]


def test_gguf_py_roundtrip(tmp_path):
    L = _lib()
    path = tmp_path / "oracle.gguf"
    w = gguf.GGUFWriter(str(path), arch="llama")
    for key, meth, val, _ in SCALARS:
        getattr(w, meth)(key, val)
    w.add_array("a.ints", [1, -2, 3])
    w.add_array("a.floats", [0.5, -1.5])
    w.add_array("a.strs", ["<s>", "", "tok"])
    w.add_array("a.nested", [[1, 2], [3]])
    rng = np.random.default_rng(7)
    tensors = {
        "tok_embd.weight": rng.standard_normal((3, 8)).astype(np.float32),
        "blk.0.attn_norm.weight": rng.standard_normal(16).astype(np.float16),
        "blk.0.x3d": rng.standard_normal((2, 3, 4)).astype(np.float32),
    }
    for name, arr in tensors.items():
        w.add_tensor(name, arr)
    q = None
    try:
        src = rng.standard_normal((2, 64)).astype(np.float32)
        q = gguf.quants.quantize(src, gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor("blk.0.attn_q.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    except (AttributeError, NotImplementedError):
        q = None
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    g = _open(L, path)
    try:
        assert L.mlxn_gguf_version(g) == 3
        kv = {}
        for i in range(L.mlxn_gguf_kv_count(g)):
            kv[L.mlxn_gguf_kv_key(g, i).decode()] = _read_value(L, g, L.mlxn_gguf_kv_value(g, i))
        assert kv["general.architecture"] == (STRING, b"llama")
        for key, _, val, tid in SCALARS:
            t, got = kv[key]
            assert t == tid, key
            if tid == F32:
                assert got == np.float32(val), key
            elif tid == STRING:
                assert got == val.encode(), key
            else:
                assert got == val, key
        assert kv["a.ints"] == (ARRAY, (I32, [1, -2, 3]))
        assert kv["a.floats"] == (ARRAY, (F32, [0.5, -1.5]))
        assert kv["a.strs"] == (ARRAY, (STRING, [b"<s>", b"", b"tok"]))
        assert kv["a.nested"] == (ARRAY, (ARRAY, [(I32, [1, 2]), (I32, [3])]))

        # tensors: ggml order is numpy's reversed; bytes exact; same offsets as GGUFReader
        ref = {t.name: t for t in gguf.GGUFReader(str(path)).tensors}
        want = dict(tensors)
        if q is not None:
            want["blk.0.attn_q.weight"] = q
        assert L.mlxn_gguf_tensor_count(g) == len(want)
        with open(path, "rb") as f:
            raw = f.read()
        for i in range(L.mlxn_gguf_tensor_count(g)):
            t = _Tensor()
            assert L.mlxn_gguf_tensor_info(g, i, ctypes.byref(t)) == 0
            name = t.name.decode()
            arr = want[name]
            data = ctypes.string_at(t.data, t.nbytes)
            assert data == arr.tobytes(), name
            assert raw[t.offset:t.offset + t.nbytes] == data
            assert t.offset == ref[name].data_offset, name
            assert t.type == int(ref[name].tensor_type), name
            ne = [t.ne[d] for d in range(t.ndim)]
            assert ne == [int(x) for x in ref[name].shape], name
            assert t.offset % L.mlxn_gguf_alignment(g) == 0
    finally:
        L.mlxn_gguf_close(g)
