"""The norm family of mlxn (include/mlxn.h, "Norms") through ctypes.

    import numpy as np, mlxn
    from mlxn import norm
    with mlxn.Device("cpu") as dev:
        x = mlxn.Buffer.from_numpy(dev, np.random.rand(4, 4096).astype(np.float32))
        w = mlxn.Buffer.from_numpy(dev, np.ones(4096, np.float32))
        y = mlxn.Buffer.new(dev, "f32", x.shape)
        enc = mlxn.Encoder(dev)
        norm.rms_norm(enc, x, w, y, eps=1e-6)
        enc.wait()

rms_norm_np / l2_norm_np are numpy-in, numpy-out conveniences (bf16 travels
as uint16 raw bits with dtype="bf16", as elsewhere in the binding).
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto

__all__ = ["NormParams", "rms_norm", "l2_norm", "rms_norm_np", "l2_norm_np"]


class NormParams(ctypes.Structure):
    _fields_ = [("eps", ctypes.c_float)]


_vp, _st = ctypes.c_void_p, ctypes.c_int
_proto("mlxn_rms_norm", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_l2_norm", _st, _vp, _vp, _vp, ctypes.POINTER(NormParams))


def rms_norm(enc, x, w, out, *, eps=1e-6):
    """mlxn_rms_norm: out = x * rsqrt(mean(x^2) + eps) * w over the last dim.
    w: None or a Buffer [dim] of x's dtype or f32; out may be x itself."""
    p = NormParams(eps)
    _check(_lib.mlxn_rms_norm(enc, x, w, out, ctypes.byref(p)))


def l2_norm(enc, x, out, *, eps=1e-6):
    """mlxn_l2_norm: out = x / sqrt(sum(x^2) + eps) over the last dim; out may be x itself."""
    p = NormParams(eps)
    _check(_lib.mlxn_l2_norm(enc, x, out, ctypes.byref(p)))


def _run(fn, x, w, dtype, w_dtype, device, backend, **params):
    owned = device is None
    dev = mlxn.Device(backend) if owned else device
    made = []
    try:
        xb = mlxn.Buffer.from_numpy(dev, np.asarray(x), dtype)
        made.append(xb)
        wb = None
        if w is not None:
            wb = mlxn.Buffer.from_numpy(dev, np.asarray(w), w_dtype)
            made.append(wb)
        out = mlxn.Buffer.new(dev, xb.dtype, xb.shape)
        made.append(out)
        with mlxn.Encoder(dev) as enc:
            fn(enc, xb, wb, out, **params)
            enc.wait()
        return out.numpy()
    finally:
        for b in made:
            b.close()
        if owned:
            dev.close()


def rms_norm_np(x, w=None, *, eps=1e-6, dtype=None, w_dtype=None, device=None, backend="cpu"):
    """mlxn.norm.rms_norm on numpy arrays; dtype/w_dtype="bf16" for uint16 raw bits."""
    return _run(rms_norm, x, w, dtype, w_dtype, device, backend, eps=eps)


def l2_norm_np(x, *, eps=1e-6, dtype=None, device=None, backend="cpu"):
    """mlxn.norm.l2_norm on a numpy array; dtype="bf16" for uint16 raw bits."""
    return _run(lambda enc, xb, _w, out, **kw: l2_norm(enc, xb, out, **kw), x, None, dtype, None, device, backend,
                eps=eps)
