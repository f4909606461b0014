"""MLX quantized formats through ctypes (see include/mlxn.h, "Quantized
formats: MLX"): mlxn_dequantize_mlx, mlxn_gather_mlx and the host quantizer
mlxn_quantize_mlx.

    import mlxn, mlxn.quant_mlx as mq
    mq.dequantize(enc, w, scales, biases, y, mode="affine", bits=4, group_size=64)
    mq.gather(enc, w, scales, biases, ids, y, mode="affine", bits=4, group_size=64, scale=1.0)
    wq, scales, biases = mq.quantize(x, bits=4, group_size=64, scales_dtype=None)

Modes: "affine", "mxfp4", "mxfp8", "nvfp4" (MLX's names). MlxqParams and
GatherMlxParams mirror the C structs exactly.
"""
import ctypes

import numpy as np

import mlxn  # noqa: F401  (loads the library)
from mlxn import DTYPES, _check, _lib

__all__ = ["MODES", "MlxqParams", "GatherMlxParams", "dequantize", "gather", "quantize"]

MODES = {"affine": 0, "mxfp4": 1, "mxfp8": 2, "nvfp4": 3}
DEFAULTS = {"affine": (4, 64), "mxfp4": (4, 32), "mxfp8": (8, 32), "nvfp4": (4, 16)}


class MlxqParams(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("bits", ctypes.c_int), ("group_size", ctypes.c_int),
                ("global_scale", ctypes.c_float)]


class GatherMlxParams(ctypes.Structure):
    _fields_ = [("q", MlxqParams), ("scale", ctypes.c_float)]


_vp = ctypes.c_void_p
_deq = _lib.mlxn_dequantize_mlx
_deq.restype = ctypes.c_int
_deq.argtypes = [_vp, _vp, _vp, _vp, _vp, ctypes.POINTER(MlxqParams)]
_gat = _lib.mlxn_gather_mlx
_gat.restype = ctypes.c_int
_gat.argtypes = [_vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(GatherMlxParams)]
_qnt = _lib.mlxn_quantize_mlx
_qnt.restype = ctypes.c_int
_qnt.argtypes = [_vp, ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(MlxqParams), _vp, _vp, _vp,
                 ctypes.c_int]


def params(mode="affine", bits=None, group_size=None, global_scale=0.0):
    """An MlxqParams; bits and group_size default to the mode's (affine: 4, 64)."""
    db, dg = DEFAULTS.get(mode, (4, 64))
    return MlxqParams(MODES[mode] if mode in MODES else int(mode), db if bits is None else bits,
                      dg if group_size is None else group_size, global_scale)


def dequantize(enc, w, scales, biases, y, *, mode="affine", bits=None, group_size=None, global_scale=0.0):
    """y [..., K] (f32/f16/bf16) = dequant(w u32 [..., K*bits/32], scales, biases)."""
    p = params(mode, bits, group_size, global_scale)
    _check(_deq(enc, w, scales, biases, y, ctypes.byref(p)))


def gather(enc, w, scales, biases, ids, y, *, mode="affine", bits=None, group_size=None, global_scale=0.0,
           scale=1.0):
    """y[i] = dequant(table row ids[i]) * scale; out-of-range ids give zero rows."""
    p = GatherMlxParams(params(mode, bits, group_size, global_scale), scale)
    _check(_gat(enc, w, scales, biases, ids, y, ctypes.byref(p)))


_STORE = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}


def quantize(x, *, mode="affine", bits=None, group_size=None, global_scale=0.0, x_dtype=None,
             scales_dtype=None):
    """Host quantizer (mx.quantize's algorithm). x: a 2-D numpy array of
    float32/float16, or uint16 raw bf16 bits with x_dtype="bf16".
    affine: returns (wq uint32 [rows, k*bits/32], scales, biases [rows,
    k/group_size]) with scales/biases in scales_dtype (default: x's dtype; bf16
    as uint16 bits). fp modes: returns (wq, scales uint8)."""
    x = np.ascontiguousarray(x)
    if x_dtype is None:
        x_dtype = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}[x.dtype]
    p = params(mode, bits, group_size, global_scale)
    affine = mode == "affine"
    if scales_dtype is None:
        scales_dtype = x_dtype if affine else "u8"
    rows, k = x.shape
    wq = np.zeros((rows, k * p.bits // 32), dtype=np.uint32)
    sc = np.zeros((rows, k // p.group_size), dtype=_STORE.get(scales_dtype, np.uint8))
    bi = np.zeros_like(sc) if affine else None
    _check(_qnt(x.ctypes.data, DTYPES[x_dtype], rows, k, ctypes.byref(p), wq.ctypes.data, sc.ctypes.data,
                bi.ctypes.data if affine else None, DTYPES[scales_dtype]))
    return (wq, sc, bi) if affine else (wq, sc)
