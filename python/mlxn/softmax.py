"""mlxn_softmax through ctypes (see include/mlxn.h, "Softmax family").

    import mlxn, mlxn.softmax
    mlxn.softmax.softmax(enc, x, y, mask=None, scale=1.0, softcap=0.0)

Built on the loaded library of the mlxn package (mlxn._lib); the parameter
struct mirrors mlxn_softmax_params exactly.
"""
import ctypes

import mlxn
from mlxn import _check, _lib

__all__ = ["SoftmaxParams", "softmax"]


class SoftmaxParams(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_float), ("softcap", ctypes.c_float)]


_fn = _lib.mlxn_softmax
_fn.restype = ctypes.c_int
_fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(SoftmaxParams)]


def softmax(enc, x, y, mask=None, *, scale=1.0, softcap=0.0):
    """y = softmax(softcap(x*scale) + mask[r % mask_rows]) over the last axis.
    x, y: mlxn.Buffer (f32/f16/bf16, same dtype; y may be x); mask: None or a
    Buffer [mask_rows, cols] (f32/f16/bf16). Raises mlxn.MlxnError on bad arguments."""
    p = SoftmaxParams(scale, softcap)
    _check(_fn(enc, x, mask, y, ctypes.byref(p)))


