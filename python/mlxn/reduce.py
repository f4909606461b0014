"""mlxn_argmax, mlxn_cumsum and mlxn_row_sum through ctypes (see include/mlxn.h,
"Reductions").

    import mlxn, mlxn.reduce as mr
    mr.argmax(enc, x, idx, val=None)
    mr.cumsum(enc, x, y, exclusive=False, reverse=False)
    mr.row_sum(enc, x, y)

Built on the loaded library of the mlxn package (mlxn._lib); CumsumParams
mirrors mlxn_cumsum_params exactly.
"""
import ctypes

import mlxn  # noqa: F401  (loads the library)
from mlxn import _check, _lib

__all__ = ["CumsumParams", "argmax", "cumsum", "row_sum"]


class CumsumParams(ctypes.Structure):
    _fields_ = [("exclusive", ctypes.c_int), ("reverse", ctypes.c_int)]


_vp = ctypes.c_void_p
_argmax = _lib.mlxn_argmax
_argmax.restype = ctypes.c_int
_argmax.argtypes = [_vp, _vp, _vp, _vp]
_cumsum = _lib.mlxn_cumsum
_cumsum.restype = ctypes.c_int
_cumsum.argtypes = [_vp, _vp, _vp, ctypes.POINTER(CumsumParams)]
_row_sum = _lib.mlxn_row_sum
_row_sum.restype = ctypes.c_int
_row_sum.argtypes = [_vp, _vp, _vp]


def argmax(enc, x, idx, val=None):
    """idx (i32 [rows]) = per-row argmax of x [..., n] (f32/f16/bf16); val: None
    or f32 [rows] receiving the max. Ties: lowest index; first NaN wins."""
    _check(_argmax(enc, x, idx, val))


def cumsum(enc, x, y, *, exclusive=False, reverse=False):
    """y = prefix sums of x along the last axis (f32 accumulation); y may be x."""
    p = CumsumParams(int(bool(exclusive)), int(bool(reverse)))
    _check(_cumsum(enc, x, y, ctypes.byref(p)))


def row_sum(enc, x, y):
    """y [rows] (x's dtype or f32) = sums of x's rows, accumulated in f32."""
    _check(_row_sum(enc, x, y))
