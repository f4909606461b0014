"""safetensors files, MLX quantization configs and device loading through ctypes
(see include/mlxn.h, "safetensors, MLX-quantized model configs, loading weights
onto a device").

    import mlxn, mlxn.io as mio
    with mio.SafeTensors("model_dir") as st:          # a file, an index .json or a folder
        print(st.metadata, st.names[:3])
        t = st.info("model.embed_tokens.weight")     # dict: dtype, shape, nbytes, offset, shard
        a = st.numpy("model.norm.weight")            # a copy (BF16 as raw uint16 bits)
        with mlxn.Device("cpu") as dev:
            buf = st.load(dev, "model.norm.weight")  # an mlxn.Buffer
            bufs = st.load_all(dev, progress=lambda done, total, name: None)
    cfg = mio.MlxqConfig.load("model_dir")           # None for an unquantized model
    groups = mio.mlxq_group(st, cfg)                 # list of dicts

Built on the loaded library of the mlxn package (mlxn._lib); the structures
mirror mlxn_st_tensor, mlxn_mlxq_layer_params, mlxn_mlxq_tensor and
mlxn_load_options exactly.
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib

__all__ = ["ST_DTYPES", "SafeTensors", "MlxqConfig", "mlxq_group", "load_h2d_rate", "GgufLoader"]

ST_DTYPES = ("BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32",
             "F32", "I64", "U64", "F64", "C64", "F4", "F6_E2M3", "F6_E3M2")
MLXQ_MODES = ("affine", "mxfp4", "mxfp8", "nvfp4")
MAX_DIMS = 8
# numpy storage of each safetensors dtype (BF16 as uint16 bits, F8 as uint8 bytes); None: raw bytes
_NP = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8,
       "F8_E8M0": np.uint8, "I16": np.int16, "U16": np.uint16, "F16": np.float16, "BF16": np.uint16,
       "I32": np.int32, "U32": np.uint32, "F32": np.float32, "I64": np.int64, "U64": np.uint64,
       "F64": np.float64, "C64": np.complex64, "F4": None, "F6_E2M3": None, "F6_E3M2": None}

_vp, _int, _i64, _u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_uint64


class StTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", _int), ("ndim", _int), ("shape", _i64 * MAX_DIMS),
                ("nelements", _i64), ("nbytes", _u64), ("offset", _u64), ("data", _vp), ("shard", _int)]


class MlxqParams(ctypes.Structure):
    _fields_ = [("quantized", _int), ("bits", _int), ("group_size", _int), ("mode", _int)]


class MlxqTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("params", MlxqParams), ("ndim", _int), ("shape", _i64 * MAX_DIMS),
                ("weight", _i64), ("scales", _i64), ("biases", _i64)]


PROGRESS = ctypes.CFUNCTYPE(None, _vp, _u64, _u64, ctypes.c_char_p)


class LoadOptions(ctypes.Structure):
    _fields_ = [("chunk_bytes", ctypes.c_size_t), ("n_chunks", _int), ("progress", PROGRESS), ("user", _vp)]


def _proto(name, restype, *argtypes):
    fn = getattr(_lib, name)
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


_pp = ctypes.POINTER(_vp)
_cs = ctypes.c_char_p
_open = _proto("mlxn_safetensors_open", _int, _cs, _pp)
_open_mem = _proto("mlxn_safetensors_open_memory", _int, _vp, ctypes.c_size_t, _pp)
_close = _proto("mlxn_safetensors_close", None, _vp)
_count = _proto("mlxn_safetensors_tensor_count", _i64, _vp)
_info = _proto("mlxn_safetensors_tensor_info", _int, _vp, _i64, ctypes.POINTER(StTensor))
_find = _proto("mlxn_safetensors_find_tensor", _i64, _vp, _cs)
_total = _proto("mlxn_safetensors_total_bytes", _u64, _vp)
_mcount = _proto("mlxn_safetensors_metadata_count", _i64, _vp)
_meta = _proto("mlxn_safetensors_metadata", _int, _vp, _i64, ctypes.POINTER(_cs), ctypes.POINTER(_cs))
_nshards = _proto("mlxn_safetensors_shard_count", _int, _vp)
_shard = _proto("mlxn_safetensors_shard_path", _cs, _vp, _int)
_dir = _proto("mlxn_safetensors_dir", _cs, _vp)
_load_t = _proto("mlxn_safetensors_load_tensor", _int, _vp, _vp, _i64, _pp)
_load_all = _proto("mlxn_safetensors_load_all", _int, _vp, _vp, ctypes.POINTER(LoadOptions), _pp)
_h2d = _proto("mlxn_load_h2d_rate", _int, _vp, ctypes.c_size_t, ctypes.POINTER(ctypes.c_double))
_qload = _proto("mlxn_mlxq_config_load", _int, _cs, _pp)
_qparse = _proto("mlxn_mlxq_config_parse", _int, _cs, ctypes.c_size_t, _int, _cs, _pp)
_qfree = _proto("mlxn_mlxq_config_free", None, _vp)
_qsource = _proto("mlxn_mlxq_config_source", _cs, _vp)
_qdef = _proto("mlxn_mlxq_config_defaults", MlxqParams, _vp)
_qocount = _proto("mlxn_mlxq_config_override_count", _i64, _vp)
_qover = _proto("mlxn_mlxq_config_override", _int, _vp, _i64, ctypes.POINTER(_cs), ctypes.POINTER(MlxqParams))
_qlookup = _proto("mlxn_mlxq_config_lookup", _int, _vp, _cs, ctypes.POINTER(MlxqParams))
_qgroup = _proto("mlxn_mlxq_group", _int, _vp, _vp, _pp)
_qlfree = _proto("mlxn_mlxq_list_free", None, _vp)
_qlcount = _proto("mlxn_mlxq_list_count", _i64, _vp)
_qlget = _proto("mlxn_mlxq_list_get", _int, _vp, _i64, ctypes.POINTER(MlxqTensor))
_gopen = _proto("mlxn_gguf_open", _int, _cs, _pp)
_gclose = _proto("mlxn_gguf_close", None, _vp)
_gcount = _proto("mlxn_gguf_tensor_count", _i64, _vp)
_gload_all = _proto("mlxn_gguf_load_all", _int, _vp, _vp, ctypes.POINTER(LoadOptions), _pp)
_bread = _proto("mlxn_buffer_read", _int, _vp, _vp, ctypes.c_size_t)
_bnbytes = _proto("mlxn_buffer_nbytes", ctypes.c_size_t, _vp)


def _params(p):
    return {"quantized": bool(p.quantized), "bits": p.bits, "group_size": p.group_size, "mode": MLXQ_MODES[p.mode]}


def buffer_bytes(buf):
    """The raw bytes of a buffer's view (any dtype)."""
    n = _bnbytes(buf)
    out = ctypes.create_string_buffer(n)
    _check(_bread(buf, out, n))
    return out.raw


def _options(progress, chunk_bytes, n_chunks):
    """LoadOptions and the callback object that must stay alive during the call."""
    cb = PROGRESS(lambda user, done, total, name: progress(done, total, name.decode() if name else None)) \
        if progress else PROGRESS()
    return LoadOptions(chunk_bytes, n_chunks, cb, None), cb


class SafeTensors(mlxn._Handle):
    """A validated safetensors file, index or folder (mlxn_safetensors_open), or bytes in memory."""

    _free = _close

    def __init__(self, path=None, data=None):
        ptr = _vp()
        if data is not None:
            self._data = ctypes.create_string_buffer(bytes(data), len(data))  # kept alive with the reader
            _check(_open_mem(self._data, len(data), ctypes.byref(ptr)))
        else:
            _check(_open(str(path).encode(), ctypes.byref(ptr)))
        self._ptr = ptr.value

    def __len__(self):
        return _count(self)

    def _t(self, i):
        t = StTensor()
        _check(_info(self, i, ctypes.byref(t)))
        return t

    def index(self, name):
        i = _find(self, name.encode())
        if i < 0:
            raise KeyError(name)
        return i

    @property
    def names(self):
        return [self._t(i).name.decode() for i in range(len(self))]

    def info(self, name_or_index):
        i = self.index(name_or_index) if isinstance(name_or_index, str) else name_or_index
        t = self._t(i)
        return {"name": t.name.decode(), "dtype": ST_DTYPES[t.dtype], "shape": tuple(t.shape[:t.ndim]),
                "nelements": t.nelements, "nbytes": t.nbytes, "offset": t.offset, "shard": t.shard}

    def raw(self, name):
        t = self._t(self.index(name))
        return ctypes.string_at(t.data, t.nbytes) if t.nbytes else b""

    def numpy(self, name):
        """A copy of the tensor as numpy (BF16: uint16 bits; F8: uint8; F4/F6: the raw uint8 bytes)."""
        info = self.info(name)
        dt = _NP[info["dtype"]]
        raw = self.raw(name)
        if dt is None:
            return np.frombuffer(raw, dtype=np.uint8).copy()
        return np.frombuffer(raw, dtype=dt).reshape(info["shape"]).copy()

    @property
    def total_bytes(self):
        return _total(self)

    @property
    def metadata(self):
        out = {}
        for i in range(_mcount(self)):
            k, v = _cs(), _cs()
            _check(_meta(self, i, ctypes.byref(k), ctypes.byref(v)))
            out[k.value.decode()] = v.value.decode()
        return out

    @property
    def shards(self):
        return [_shard(self, i).decode() for i in range(_nshards(self))]

    @property
    def dir(self):
        return _dir(self).decode()

    def load(self, device, name):
        """Tensor `name` in a new mlxn.Buffer on `device`."""
        ptr = _vp()
        _check(_load_t(device, self, self.index(name), ctypes.byref(ptr)))
        return mlxn.Buffer(device, ptr.value)

    def load_all(self, device, progress=None, chunk_bytes=0, n_chunks=0):
        """{name: mlxn.Buffer} for every tensor (zero-element tensors are left out).
        progress(done_bytes, total_bytes, tensor_name_or_None)."""
        n = len(self)
        arr = (_vp * max(n, 1))()
        opt, cb = _options(progress, chunk_bytes, n_chunks)
        _check(_load_all(device, self, ctypes.byref(opt), arr))
        del cb
        names = self.names
        return {names[i]: mlxn.Buffer(device, arr[i]) for i in range(n) if arr[i]}


class GgufLoader(mlxn._Handle):
    """Only what the loader needs of a GGUF file: open + load_all (the reader's own
    binding lives with the GGUF tests)."""

    _free = _gclose

    def __init__(self, path):
        ptr = _vp()
        _check(_gopen(str(path).encode(), ctypes.byref(ptr)))
        self._ptr = ptr.value

    def load_all(self, device, progress=None, chunk_bytes=0, n_chunks=0):
        n = _gcount(self)
        arr = (_vp * max(n, 1))()
        opt, cb = _options(progress, chunk_bytes, n_chunks)
        _check(_gload_all(device, self, ctypes.byref(opt), arr))
        del cb
        return [mlxn.Buffer(device, arr[i]) for i in range(n)]


class MlxqConfig(mlxn._Handle):
    """MLX quantization parameters (mlxn_mlxq_config_*)."""

    _free = _qfree

    def __init__(self, ptr):
        self._ptr = ptr

    @classmethod
    def load(cls, model_dir):
        """From config.json / quantization_config.json; None for an unquantized model."""
        ptr = _vp()
        st = _qload(str(model_dir).encode(), ctypes.byref(ptr))
        if st == 7:  # NOT_FOUND
            return None
        _check(st)
        return cls(ptr.value)

    @classmethod
    def parse(cls, text, is_config_json=True, source=None):
        data = text.encode() if isinstance(text, str) else bytes(text)
        ptr = _vp()
        st = _qparse(data, len(data), int(is_config_json), source.encode() if source else None, ctypes.byref(ptr))
        if st == 7:
            return None
        _check(st)
        return cls(ptr.value)

    @property
    def source(self):
        return _qsource(self).decode()

    @property
    def defaults(self):
        return _params(_qdef(self))

    @property
    def overrides(self):
        out = {}
        for i in range(_qocount(self)):
            name, p = _cs(), MlxqParams()
            _check(_qover(self, i, ctypes.byref(name), ctypes.byref(p)))
            out[name.value.decode()] = _params(p)
        return out

    def lookup(self, name):
        p = MlxqParams()
        _check(_qlookup(self, name.encode(), ctypes.byref(p)))
        return _params(p)


def mlxq_group(st, cfg):
    """The quantized tensors of st under cfg: a list of dicts (name, params, shape, and the
    weight/scales/biases tensor names; biases None for the fp modes)."""
    ptr = _vp()
    _check(_qgroup(st, cfg, ctypes.byref(ptr)))
    try:
        names = st.names
        out = []
        for i in range(_qlcount(ptr)):
            q = MlxqTensor()
            _check(_qlget(ptr, i, ctypes.byref(q)))
            out.append({"name": q.name.decode(), "params": _params(q.params), "shape": tuple(q.shape[:q.ndim]),
                        "weight": names[q.weight], "scales": names[q.scales],
                        "biases": names[q.biases] if q.biases >= 0 else None})
        return out
    finally:
        _qlfree(ptr)


def load_h2d_rate(device, nbytes=0):
    """The pinned host-to-device copy rate in GB/s (CPU backend: host memcpy)."""
    r = ctypes.c_double()
    _check(_h2d(device, nbytes, ctypes.byref(r)))
    return r.value
