"""ctypes binding of the elementwise family (include/mlxn.h, "Elementwise and
activations"): unary, binary, glu and cast, plus numpy-in, numpy-out helpers.

    import numpy as np, mlxn, mlxn.elementwise as ew
    y = ew.unary_np(np.linspace(-3, 3, 8, dtype=np.float32), "gelu")
    z = ew.glu_np(np.ones((4, 16), np.float16), None, "swiglu")      # fused: [4, 8]

Op names: unary "gelu" (tanh approximation), "gelu_erf", "silu", "sigmoid",
"tanh", "relu", "exp", "log", "scale" (alpha), "softcap" (alpha > 0);
binary "add", "sub", "mul", "div" (b: same size as a, or a row vector
repeated over a's rows); glu "swiglu", "geglu", "geglu_erf", "sigmoid"
(up=None: fused, gate rows hold the gate half then the up half).
bf16 arrays travel as uint16 raw bits with dtype="bf16".
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto, _vp
from mlxn.ops import _session

__all__ = ["UNARY_OPS", "BINARY_OPS", "GLU_OPS", "UnaryParams", "BinaryParams", "GluParams",
           "unary", "binary", "glu", "cast", "unary_np", "binary_np", "glu_np", "cast_np"]

# enum values, in the order of mlxn.h
UNARY_OPS = {"gelu": 0, "gelu_erf": 1, "silu": 2, "sigmoid": 3, "tanh": 4, "relu": 5, "exp": 6, "log": 7,
             "scale": 8, "softcap": 9}
BINARY_OPS = {"add": 0, "sub": 1, "mul": 2, "div": 3}
GLU_OPS = {"swiglu": 0, "geglu": 1, "geglu_erf": 2, "sigmoid": 3}

_st = ctypes.c_int


class UnaryParams(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int), ("alpha", ctypes.c_float)]


class BinaryParams(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int)]


class GluParams(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int)]


_proto("mlxn_unary", _st, _vp, _vp, _vp, ctypes.POINTER(UnaryParams))
_proto("mlxn_binary", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(BinaryParams))
_proto("mlxn_glu", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(GluParams))
_proto("mlxn_cast", _st, _vp, _vp, _vp)


# ---------------------------------------------------------------------------
# Ops on mlxn buffers (encode only; call enc.wait() to run and wait)
# ---------------------------------------------------------------------------


def unary(enc, x, out, op, alpha=0.0):
    """mlxn_unary: out = op(x); alpha for "scale" and "softcap"."""
    p = UnaryParams(UNARY_OPS[op], alpha)
    _check(_lib.mlxn_unary(enc, x, out, ctypes.byref(p)))


def binary(enc, a, b, out, op):
    """mlxn_binary: out = a op b, b broadcast as a repeated row when smaller."""
    p = BinaryParams(BINARY_OPS[op])
    _check(_lib.mlxn_binary(enc, a, b, out, ctypes.byref(p)))


def glu(enc, gate, up, out, op):
    """mlxn_glu: out = act(gate) * up; up=None for the fused layout."""
    p = GluParams(GLU_OPS[op])
    _check(_lib.mlxn_glu(enc, gate, up, out, ctypes.byref(p)))


def cast(enc, x, out):
    """mlxn_cast: converts x into out's dtype (round to nearest even)."""
    _check(_lib.mlxn_cast(enc, x, out))


# ---------------------------------------------------------------------------
# numpy in, numpy out (device= an open Device, else backend= is opened)
# ---------------------------------------------------------------------------


def _run(fn, inputs, out_dtype, out_shape, dtype, device, backend):
    with _session(device, backend) as (dev, keep, made):
        bufs = [None if a is None else keep(a, dtype) for a in inputs]
        out = mlxn.Buffer.new(dev, out_dtype or bufs[0].dtype, out_shape)
        made.append(out)
        with mlxn.Encoder(dev) as enc:
            fn(enc, bufs, out)
            enc.wait()
        return out.numpy()


def unary_np(x, op, alpha=0.0, *, dtype=None, device=None, backend="cpu"):
    x = np.asarray(x)
    return _run(lambda e, b, o: unary(e, b[0], o, op, alpha), [x], None, x.shape, dtype, device, backend)


def binary_np(a, b, op, *, dtype=None, device=None, backend="cpu"):
    a = np.asarray(a)
    return _run(lambda e, bb, o: binary(e, bb[0], bb[1], o, op), [a, np.asarray(b)], None, a.shape, dtype,
                device, backend)


def glu_np(gate, up, op, *, dtype=None, device=None, backend="cpu"):
    gate = np.asarray(gate)
    shape = gate.shape if up is not None else gate.shape[:-1] + (gate.shape[-1] // 2,)
    ins = [gate] if up is None else [gate, np.asarray(up)]
    return _run(lambda e, b, o: glu(e, b[0], b[1] if len(b) > 1 else None, o, op), ins, None, shape, dtype,
                device, backend)


def cast_np(x, to, *, dtype=None, device=None, backend="cpu"):
    """x (of dtype, default its numpy dtype) cast to mlxn dtype `to` ("f32", "f16", "bf16")."""
    x = np.asarray(x)
    return _run(lambda e, b, o: cast(e, b[0], o), [x], to, x.shape, dtype, device, backend)
