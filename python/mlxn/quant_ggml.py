"""ctypes binding of the ggml block formats (include/mlxn.h, "Quantized
formats: ggml blocks"): mlxn_dequantize_ggml (device op) and
mlxn_quantize_ggml (host quantizer), plus numpy-in, numpy-out helpers.

    import numpy as np, mlxn.quant_ggml as qg
    raw = qg.quantize_np(x.astype(np.float32), "q4_0")      # uint8 blocks
    y = qg.dequantize_np(raw, "q4_0", shape=x.shape, out="f16")

Types are ggml type ids or their names ("q4_0", "q6_k", "mxfp4", ...). raw
blocks are any numpy array; its bytes are what counts. bf16 outputs come back
as uint16 raw bits (see mlxn.bf16_to_f32).
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto, _vp
from mlxn.ops import _session

__all__ = ["GGML_TYPES", "DequantizeGgmlParams", "type_id", "dequantize", "quantize_np", "dequantize_np",
           "quantize_supported", "dequantize_supported", "quantized_size"]

# ggml type ids (include/mlxn.h mlxn_ggml_type)
GGML_TYPES = {
    "f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q8_1": 9, "q2_k": 10,
    "q3_k": 11, "q4_k": 12, "q5_k": 13, "q6_k": 14, "q8_k": 15, "iq2_xxs": 16, "iq2_xs": 17, "iq3_xxs": 18,
    "iq1_s": 19, "iq4_nl": 20, "iq3_s": 21, "iq2_s": 22, "iq4_xs": 23, "i8": 24, "i16": 25, "i32": 26,
    "i64": 27, "f64": 28, "iq1_m": 29, "bf16": 30, "tq1_0": 34, "tq2_0": 35, "mxfp4": 39, "nvfp4": 40,
    "q1_0": 41, "q2_0": 42,
}

_st = ctypes.c_int


class DequantizeGgmlParams(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int)]


_proto("mlxn_dequantize_ggml", _st, _vp, _vp, _vp, ctypes.POINTER(DequantizeGgmlParams))
_proto("mlxn_quantize_ggml", _st, ctypes.c_int, _vp, ctypes.c_int64, _vp, ctypes.c_size_t)
_proto("mlxn_quantize_ggml_size", ctypes.c_size_t, ctypes.c_int, ctypes.c_int64)
_proto("mlxn_quantize_ggml_supported", ctypes.c_int, ctypes.c_int)
_proto("mlxn_dequantize_ggml_supported", ctypes.c_int, ctypes.c_int)
_proto("mlxn_ggml_block_size", ctypes.c_int64, ctypes.c_int)


def type_id(t):
    """A ggml type id from an int, a name ("q4_k") or a gguf.GGMLQuantizationType."""
    if isinstance(t, str):
        return GGML_TYPES[t.lower()]
    return int(t)


def quantize_supported(t):
    return bool(_lib.mlxn_quantize_ggml_supported(type_id(t)))


def dequantize_supported(t):
    return bool(_lib.mlxn_dequantize_ggml_supported(type_id(t)))


def quantized_size(t, n):
    """Bytes n elements of type t occupy (0 if n is not a positive multiple of the block size)."""
    return _lib.mlxn_quantize_ggml_size(type_id(t), int(n))


def dequantize(enc, src, dst, type):
    """dst (f32/f16/bf16 [..., row]) = the ggml blocks of `type` held in src (raw bytes)."""
    p = DequantizeGgmlParams(type_id(type))
    _check(_lib.mlxn_dequantize_ggml(enc, src, dst, ctypes.byref(p)))


def quantize_np(x, type):
    """ggml blocks (uint8, shape [..., row / block * type_size]) of float32 x [..., row]."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    t = type_id(type)
    blck = _lib.mlxn_ggml_block_size(t)
    if x.ndim == 0 or blck <= 0 or x.shape[-1] % blck:
        raise ValueError("mlxn: rows of %s must be a multiple of the block size %d" % (x.shape[-1:], blck))
    nbytes = _lib.mlxn_quantize_ggml_size(t, x.size)
    out = np.empty(nbytes, dtype=np.uint8)
    _check(_lib.mlxn_quantize_ggml(t, x.ctypes.data, x.size, out.ctypes.data, nbytes))
    return out.reshape(x.shape[:-1] + (nbytes // max(1, x.size // x.shape[-1]),))


def dequantize_np(raw, type, *, shape, out="f32", src_offset=0, device=None, backend="cpu"):
    """Dequantizes the bytes of `raw` (type `type`) to an `out` array of `shape`
    on a device. src_offset > 0 uploads the bytes that many bytes into a
    larger buffer (a misaligned view)."""
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    with _session(device, backend) as (dev, keep, made):
        if src_offset:
            base = keep(np.concatenate([np.full(src_offset, 0x5A, np.uint8), raw]))
            src = base.view(src_offset, "u8", (raw.size,))
            made.append(src)
        else:
            src = keep(raw)
        y = mlxn.Buffer.new(dev, out, tuple(shape))
        made.append(y)
        with mlxn.Encoder(dev) as enc:
            dequantize(enc, src, y, type)
            enc.wait()
        return y.numpy()
