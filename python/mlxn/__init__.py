"""mlxn — a small ctypes binding of libmlxn (see include/mlxn.h, the documentation).

The library is found through the environment variable MLXN_LIB (a path to
libmlxn.so), else in the repository's build/ folder, next to this package, or on
the system library path.

    import numpy as np, mlxn
    with mlxn.Device("cpu") as dev:
        x = mlxn.Buffer.from_numpy(dev, np.random.rand(8, 4, 64).astype(np.float32))
        pos = mlxn.Buffer.from_numpy(dev, np.arange(8, dtype=np.int32))
        y = mlxn.Buffer.new(dev, "f32", x.shape)
        enc = mlxn.Encoder(dev)
        mlxn.rope(enc, x, y, pos, n_dims=64, mode="neox", freq_base=10000.0)
        enc.wait()
        out = y.numpy()

Handles are freed by close() (or when garbage collected); closing a Device
first frees whatever buffers and encoders of it are still open.
"""
import ctypes
import ctypes.util
import os
import weakref

import numpy as np

__all__ = [
    "MlxnError", "Device", "Buffer", "Encoder", "device_count", "version",
    "rope", "rope_multi", "vision_2d_rope", "bf16_to_f32", "f32_to_bf16",
    "RopeParams", "RopeMultiParams", "Vision2dRopeParams",
]

# ---------------------------------------------------------------------------
# Loading the library
# ---------------------------------------------------------------------------

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("MLXN_LIB")
    if env:
        return [env]  # an explicit choice is never second-guessed
    repo = os.path.normpath(os.path.join(_HERE, "..", ".."))
    paths = [os.path.join(repo, "build", "libmlxn.so"),
             os.path.join(_HERE, "libmlxn.so"),
             os.path.join(repo, "lib", "libmlxn.so")]
    found = ctypes.util.find_library("mlxn")
    if found:
        paths.append(found)
    return paths


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
    raise ImportError("mlxn: libmlxn.so not found; set MLXN_LIB. Tried: " + "; ".join(tried))


_lib = _load()

# ---------------------------------------------------------------------------
# Enums and parameter structs (layouts mirror include/mlxn.h exactly)
# ---------------------------------------------------------------------------

STATUS_NAMES = ("OK", "INVALID_ARGUMENT", "UNSUPPORTED", "OUT_OF_MEMORY", "DEVICE", "IO", "FORMAT", "NOT_FOUND")
DTYPES = {"f32": 0, "f16": 1, "bf16": 2, "i8": 3, "u8": 4, "i16": 5, "u16": 6, "i32": 7, "u32": 8, "i64": 9}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
# numpy storage of each mlxn dtype; bf16 is held as its raw uint16 bits
_NP_OF = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16, "i8": np.int8, "u8": np.uint8,
          "i16": np.int16, "u16": np.uint16, "i32": np.int32, "u32": np.uint32, "i64": np.int64}
_DTYPE_OF_NP = {np.dtype(v): k for k, v in _NP_OF.items() if k != "bf16"}
BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}
_BACKEND_NAMES = {v: k for k, v in BACKENDS.items()}
ROPE_MODES = {"normal": 0, "neox": 2}
ROPE_MULTI_MODES = {"mrope": 8, "vision": 24, "imrope": 40}
MAX_DIMS = 8

_u32, _f32, _int = ctypes.c_uint32, ctypes.c_float, ctypes.c_int


class RopeParams(ctypes.Structure):
    _fields_ = [("n_dims", _u32), ("mode", _int), ("freq_base", _f32), ("freq_scale", _f32),
                ("ext_factor", _f32), ("attn_factor", _f32), ("beta_fast", _f32), ("beta_slow", _f32),
                ("n_ctx_orig", _u32)]


class RopeMultiParams(ctypes.Structure):
    _fields_ = [("head_dim", _u32), ("rope_dim", _u32), ("n_heads", _u32), ("seq_len", _u32),
                ("freq_base", _f32), ("mode", _int), ("sections", _u32 * 4)]


class Vision2dRopeParams(ctypes.Structure):
    _fields_ = [("head_dim", _u32), ("n_heads", _u32), ("seq_len", _u32), ("theta", _f32)]


# ---------------------------------------------------------------------------
# Prototypes
# ---------------------------------------------------------------------------

_vp, _st = ctypes.c_void_p, ctypes.c_int
_i64p = ctypes.POINTER(ctypes.c_int64)


def _proto(name, restype, *argtypes):
    fn = getattr(_lib, name)
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


_proto("mlxn_version", ctypes.c_char_p)
_proto("mlxn_status_str", ctypes.c_char_p, _st)
_proto("mlxn_last_error", ctypes.c_char_p)
_proto("mlxn_clear_error", None)
_proto("mlxn_device_open", _st, _int, _int, ctypes.POINTER(_vp))
_proto("mlxn_device_close", None, _vp)
_proto("mlxn_device_backend", _int, _vp)
_proto("mlxn_device_name", ctypes.c_char_p, _vp)
_proto("mlxn_device_count", _int, _int)
_proto("mlxn_device_synchronize", _st, _vp)
_proto("mlxn_buffer_new", _st, _vp, _int, _int, _i64p, ctypes.POINTER(_vp))
_proto("mlxn_buffer_view", _st, _vp, ctypes.c_size_t, _int, _int, _i64p, ctypes.POINTER(_vp))
_proto("mlxn_buffer_free", None, _vp)
_proto("mlxn_buffer_write", _st, _vp, _vp, ctypes.c_size_t)
_proto("mlxn_buffer_read", _st, _vp, _vp, ctypes.c_size_t)
_proto("mlxn_buffer_dtype", _int, _vp)
_proto("mlxn_buffer_ndim", _int, _vp)
_proto("mlxn_buffer_shape", _i64p, _vp)
_proto("mlxn_buffer_nbytes", ctypes.c_size_t, _vp)
_proto("mlxn_buffer_offset", ctypes.c_size_t, _vp)
_proto("mlxn_encoder_new", _st, _vp, ctypes.POINTER(_vp))
_proto("mlxn_encoder_free", None, _vp)
_proto("mlxn_encoder_commit", _st, _vp)
_proto("mlxn_encoder_wait", _st, _vp)
_proto("mlxn_rope_params_default", RopeParams, _u32, _int, _f32)
_proto("mlxn_rope", _st, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(RopeParams))
_proto("mlxn_rope_multi", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(RopeMultiParams))
_proto("mlxn_vision_2d_rope", _st, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(Vision2dRopeParams))

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class MlxnError(RuntimeError):
    """A failed mlxn call: .status (int), .status_name ("invalid argument"), .message (mlxn_last_error)."""

    def __init__(self, status, message):
        self.status = int(status)
        self.status_name = _lib.mlxn_status_str(self.status).decode()
        self.message = message
        super().__init__("%s: %s" % (self.status_name, message))


def _check(status):
    if status != 0:
        raise MlxnError(status, _lib.mlxn_last_error().decode(errors="replace"))


def version():
    return _lib.mlxn_version().decode()


def device_count(backend="cpu"):
    return _lib.mlxn_device_count(BACKENDS[backend])


# ---------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------


class _Handle:
    _free = None  # the C function that releases the handle
    _ptr = None

    def close(self):
        ptr, self._ptr = self._ptr, None
        if ptr:
            type(self)._free(ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return not self._ptr

    @property
    def _as_parameter_(self):  # lets a handle be passed straight to a C function
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr


class Device(_Handle):
    """A backend instance: Device("cpu"), Device("cuda", index), Device("auto")."""

    _free = _lib.mlxn_device_close

    def __init__(self, backend="auto", index=0):
        ptr = _vp()
        _check(_lib.mlxn_device_open(BACKENDS[backend], index, ctypes.byref(ptr)))
        self._ptr = ptr.value
        self._children = weakref.WeakSet()  # open buffers and encoders, freed before the device

    @property
    def name(self):
        return _lib.mlxn_device_name(self).decode()

    @property
    def backend(self):
        return _BACKEND_NAMES[_lib.mlxn_device_backend(self)]

    def synchronize(self):
        _check(_lib.mlxn_device_synchronize(self))

    def close(self):
        if self._ptr:
            for child in sorted(self._children, key=lambda c: not isinstance(c, Encoder)):
                child.close()  # encoders first: they wait for their work
        super().close()

    def __repr__(self):
        return "Device(%r)" % (self.name if self._ptr else "closed")


class _Child(_Handle):
    def _adopt(self, device, ptr):
        self.device = device
        self._ptr = ptr
        device._children.add(self)


def _shape_arg(shape):
    shape = tuple(int(s) for s in shape)
    return shape, (ctypes.c_int64 * max(len(shape), 1))(*shape)


class Buffer(_Child):
    """A typed, shaped view of device storage. dtype is a name from DTYPES."""

    _free = _lib.mlxn_buffer_free

    def __init__(self, device, ptr):
        self._adopt(device, ptr)

    @classmethod
    def new(cls, device, dtype, shape):
        """A zero-filled buffer."""
        shape, cshape = _shape_arg(shape)
        ptr = _vp()
        _check(_lib.mlxn_buffer_new(device, DTYPES[dtype], len(shape), cshape, ctypes.byref(ptr)))
        return cls(device, ptr.value)

    @classmethod
    def from_numpy(cls, device, array, dtype=None):
        """A buffer holding a copy of `array`. dtype defaults to the array's
        (float32, float16, int32, uint32, ...); pass dtype="bf16" with a uint16
        array of raw bfloat16 bits."""
        array = np.ascontiguousarray(array)
        if dtype is None:
            if array.dtype not in _DTYPE_OF_NP:
                raise TypeError("mlxn: no mlxn dtype for numpy %s" % array.dtype)
            dtype = _DTYPE_OF_NP[array.dtype]
        if array.dtype != np.dtype(_NP_OF[dtype]):
            raise TypeError("mlxn: dtype %s needs a numpy %s array, got %s"
                            % (dtype, np.dtype(_NP_OF[dtype]), array.dtype))
        buf = cls.new(device, dtype, array.shape)
        buf.write(array)
        return buf

    def view(self, byte_offset, dtype, shape):
        """A view of this buffer's storage (it keeps the storage alive)."""
        shape, cshape = _shape_arg(shape)
        ptr = _vp()
        _check(_lib.mlxn_buffer_view(self, byte_offset, DTYPES[dtype], len(shape), cshape, ctypes.byref(ptr)))
        return Buffer(self.device, ptr.value)

    @property
    def dtype(self):
        return _DTYPE_NAMES[_lib.mlxn_buffer_dtype(self)]

    @property
    def shape(self):
        shp = _lib.mlxn_buffer_shape(self)
        return tuple(shp[i] for i in range(_lib.mlxn_buffer_ndim(self)))

    @property
    def nbytes(self):
        return _lib.mlxn_buffer_nbytes(self)

    @property
    def offset(self):
        return _lib.mlxn_buffer_offset(self)

    def write(self, array):
        array = np.ascontiguousarray(array)
        if array.nbytes != self.nbytes:
            raise ValueError("mlxn: array has %d bytes, buffer %d" % (array.nbytes, self.nbytes))
        _check(_lib.mlxn_buffer_write(self, array.ctypes.data, array.nbytes))

    def numpy(self):
        """A host copy (bf16 comes back as uint16 raw bits; see bf16_to_f32)."""
        out = np.empty(self.shape, dtype=_NP_OF[self.dtype])
        _check(_lib.mlxn_buffer_read(self, out.ctypes.data, out.nbytes))
        return out

    def __repr__(self):
        return "Buffer(%s, %s)" % (self.dtype, self.shape) if self._ptr else "Buffer(closed)"


class Encoder(_Child):
    """An ordered queue of work on one device."""

    _free = _lib.mlxn_encoder_free

    def __init__(self, device):
        ptr = _vp()
        _check(_lib.mlxn_encoder_new(device, ctypes.byref(ptr)))
        self._adopt(device, ptr.value)

    def commit(self):
        _check(_lib.mlxn_encoder_commit(self))

    def wait(self):
        """Commits what is queued and waits for it."""
        self.commit()
        _check(_lib.mlxn_encoder_wait(self))


# ---------------------------------------------------------------------------
# Ops (keyword arguments mirror the C parameter structs)
# ---------------------------------------------------------------------------


def _layout(x, head_dim, n_heads, seq_len):
    """Defaults for [seq_len, n_heads, head_dim] from the input's shape."""
    shp = x.shape
    return (shp[-1] if head_dim is None else head_dim,
            shp[-2] if n_heads is None else n_heads,
            shp[-3] if seq_len is None else seq_len)


def rope(enc, x, out, positions, freq_factors=None, *, n_dims, freq_base, mode="neox", freq_scale=1.0,
         ext_factor=0.0, attn_factor=1.0, beta_fast=32.0, beta_slow=1.0, n_ctx_orig=0):
    """mlxn_rope: ggml NORMAL ("normal") or NEOX ("neox") rotary embedding with YaRN."""
    p = RopeParams(n_dims, ROPE_MODES[mode], freq_base, freq_scale, ext_factor, attn_factor,
                   beta_fast, beta_slow, n_ctx_orig)
    _check(_lib.mlxn_rope(enc, x, out, positions, freq_factors, ctypes.byref(p)))


def rope_multi(enc, x, out, positions, *, freq_base, mode, sections, rope_dim=None,
               head_dim=None, n_heads=None, seq_len=None):
    """mlxn_rope_multi: mode "mrope", "imrope" or "vision"; positions [4*seq_len] axis-major.
    head_dim, n_heads, seq_len default to x's shape; rope_dim to head_dim."""
    head_dim, n_heads, seq_len = _layout(x, head_dim, n_heads, seq_len)
    rope_dim = head_dim if rope_dim is None else rope_dim
    p = RopeMultiParams(head_dim, rope_dim, n_heads, seq_len, freq_base, ROPE_MULTI_MODES[mode],
                        (_u32 * 4)(*sections))
    _check(_lib.mlxn_rope_multi(enc, x, out, positions, ctypes.byref(p)))


def vision_2d_rope(enc, x, out, pos_x, pos_y, *, theta, head_dim=None, n_heads=None, seq_len=None):
    """mlxn_vision_2d_rope (Gemma-4 vision); head_dim, n_heads, seq_len default to x's shape."""
    head_dim, n_heads, seq_len = _layout(x, head_dim, n_heads, seq_len)
    p = Vision2dRopeParams(head_dim, n_heads, seq_len, theta)
    _check(_lib.mlxn_vision_2d_rope(enc, x, out, pos_x, pos_y, ctypes.byref(p)))


# ---------------------------------------------------------------------------
# bfloat16 helpers (pure numpy; bf16 travels as uint16 raw bits)
# ---------------------------------------------------------------------------


def bf16_to_f32(bits):
    """Exact: the bits are the top half of a float32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x):
    """Round to nearest, ties to even (NaN stays NaN)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((b + np.uint32(0x7FFF) + ((b >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, ((b >> 16) | np.uint32(0x40)).astype(np.uint16), rounded)


from . import ops  # noqa: E402  (numpy-in, numpy-out conveniences)
from . import norm, elementwise, softmax  # noqa: E402  (op families, each its own module)
