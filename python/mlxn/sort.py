"""mlxn_argsort and mlxn_top_k through ctypes (see include/mlxn.h, "Sorting
and top-k": the order is NaN largest, -0 == +0, ties to the lower index).

    import mlxn, mlxn.sort as ms
    ms.argsort(enc, x, idx, ascending=False)            # idx: i32, x's shape
    ms.top_k(enc, x, idx, k, val=None)                  # idx: i32 [..., k]
    ms.argsort_workspace_size(dev, rows, n, "f32")      # bytes (0 on the CPU)

The workspace is made here when the backend needs one (a u8 buffer of the
size the library asks for), unless one is passed as ws=.
ArgsortParams / TopKParams mirror the C structs exactly.
"""
import ctypes

import mlxn  # noqa: F401  (loads the library)
from mlxn import _check, _lib

__all__ = ["ArgsortParams", "TopKParams", "argsort", "top_k", "argsort_workspace_size", "top_k_workspace_size"]

_DT = {"f32": 0, "f16": 1, "bf16": 2}


class ArgsortParams(ctypes.Structure):
    _fields_ = [("ascending", ctypes.c_int)]


class TopKParams(ctypes.Structure):
    _fields_ = [("k", ctypes.c_int32)]


_vp = ctypes.c_void_p
_i64 = ctypes.c_int64
_argsort = _lib.mlxn_argsort
_argsort.restype = ctypes.c_int
_argsort.argtypes = [_vp, _vp, _vp, _vp, ctypes.POINTER(ArgsortParams)]
_top_k = _lib.mlxn_top_k
_top_k.restype = ctypes.c_int
_top_k.argtypes = [_vp, _vp, _vp, _vp, _vp, ctypes.POINTER(TopKParams)]
_as_ws = _lib.mlxn_argsort_workspace_size
_as_ws.restype = ctypes.c_int
_as_ws.argtypes = [_vp, _i64, _i64, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
_tk_ws = _lib.mlxn_top_k_workspace_size
_tk_ws.restype = ctypes.c_int
_tk_ws.argtypes = [_vp, _i64, _i64, ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]


def argsort_workspace_size(device, rows, n, dtype):
    b = ctypes.c_size_t(0)
    _check(_as_ws(device, rows, n, _DT[dtype], ctypes.byref(b)))
    return b.value


def top_k_workspace_size(device, rows, n, k, dtype):
    b = ctypes.c_size_t(0)
    _check(_tk_ws(device, rows, n, k, _DT[dtype], ctypes.byref(b)))
    return b.value


def _rows_n(x):
    shape = tuple(x.shape)
    n = shape[-1] if shape else 1
    rows = 1
    for d in shape:
        rows *= d
    return rows // n, n


def _workspace(device, nbytes):
    return mlxn.Buffer.new(device, "u8", (nbytes,)) if nbytes else None


def argsort(enc, x, idx, *, ascending=False, ws=None):
    """idx (i32, x's shape) = per-row argsort of x [..., n] (f32/f16/bf16):
    descending unless ascending; NaN largest, stable."""
    own = None
    if ws is None:
        rows, n = _rows_n(x)
        own = ws = _workspace(x.device, argsort_workspace_size(x.device, rows, n, x.dtype))
    p = ArgsortParams(int(bool(ascending)))
    try:
        _check(_argsort(enc, x, idx, ws, ctypes.byref(p)))
    finally:
        if own is not None:
            enc.wait()
            own.close()


def top_k(enc, x, idx, k, val=None, *, ws=None):
    """idx (i32 [..., k]) = the k largest of each row, largest first (the
    first k of the descending argsort); val: None or [..., k] of x's dtype
    or f32 receiving the values."""
    own = None
    if ws is None:
        rows, n = _rows_n(x)
        own = ws = _workspace(x.device, top_k_workspace_size(x.device, rows, n, k, x.dtype))
    p = TopKParams(int(k))
    try:
        _check(_top_k(enc, x, idx, val, ws, ctypes.byref(p)))
    finally:
        if own is not None:
            enc.wait()
            own.close()
