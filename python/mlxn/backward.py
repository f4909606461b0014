"""The backward family of mlxn (include/mlxn.h, "Backward kernels") through ctypes.

    import numpy as np, mlxn
    from mlxn import backward as bw
    with mlxn.Device("cpu") as dev:
        enc = mlxn.Encoder(dev)
        bw.softmax_backward(enc, y, dy, dx)             # dx = y * (dy - sum(y * dy))
        bw.rms_inv(enc, x, r, eps=1e-6)                 # r = 1/sqrt(mean(x^2) + eps)
        ws = bw.rms_norm_backward_workspace(dev, rows, dim)
        bw.rms_norm_backward(enc, x, w, r, dy, dx, dw, ws)
        bw.unary_backward(enc, x, dy, dx, op="silu")    # or "log"
        bw.row_sum_backward(enc, dy, dx)                # dx[r, :] = dy[r]
        enc.wait()

All f32. The *_np helpers take and return numpy float32 arrays.
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto

__all__ = ["softmax_backward", "rms_inv", "rms_norm_backward", "rms_norm_backward_workspace_size",
           "rms_norm_backward_workspace", "unary_backward", "row_sum_backward",
           "softmax_backward_np", "rms_inv_np", "rms_norm_backward_np", "unary_backward_np",
           "row_sum_backward_np"]

UNARY_OPS = {"silu": 2, "log": 7}  # mlxn_unary_op values


class _NormParams(ctypes.Structure):
    _fields_ = [("eps", ctypes.c_float)]


class _UnaryParams(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int), ("alpha", ctypes.c_float)]


_vp, _st = ctypes.c_void_p, ctypes.c_int
_proto("mlxn_softmax_backward", _st, _vp, _vp, _vp, _vp)
_proto("mlxn_rms_inv", _st, _vp, _vp, _vp, ctypes.POINTER(_NormParams))
_proto("mlxn_rms_norm_backward_workspace_size", ctypes.c_size_t, _vp, ctypes.c_int64, ctypes.c_int64)
_proto("mlxn_rms_norm_backward", _st, _vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp)
_proto("mlxn_unary_backward", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(_UnaryParams))
_proto("mlxn_row_sum_backward", _st, _vp, _vp, _vp)


def softmax_backward(enc, y, dy, dx):
    """dx = y * (dy - sum_j y_j dy_j) per row; y = the softmax output."""
    _check(_lib.mlxn_softmax_backward(enc, y, dy, dx))


def rms_inv(enc, x, r, *, eps=1e-6):
    """r [rows] = 1 / sqrt(mean(x^2) + eps) per row of x [..., dim]."""
    p = _NormParams(eps)
    _check(_lib.mlxn_rms_inv(enc, x, r, ctypes.byref(p)))


def rms_norm_backward_workspace_size(device, rows, dim):
    return _lib.mlxn_rms_norm_backward_workspace_size(device, rows, dim)


def rms_norm_backward_workspace(device, rows, dim):
    """A u8 Buffer big enough for rms_norm_backward's dw (None when 0 bytes)."""
    n = rms_norm_backward_workspace_size(device, rows, dim)
    return mlxn.Buffer.new(device, "u8", (n,)) if n else None


def rms_norm_backward(enc, x, w, r, dy, dx, dw=None, ws=None):
    """dx = r (dy w - x s r^2 / dim), s = sum dy x w; dw = sum_rows dy x r (w None: w = 1)."""
    _check(_lib.mlxn_rms_norm_backward(enc, x, w, r, dy, dx, dw, ws))


def unary_backward(enc, x, dy, dx, *, op):
    """dx = dy * f'(x) for op "silu" or "log"."""
    p = _UnaryParams(UNARY_OPS[op], 0.0)
    _check(_lib.mlxn_unary_backward(enc, x, dy, dx, ctypes.byref(p)))


def row_sum_backward(enc, dy, dx):
    """dx[r, :] = dy[r]."""
    _check(_lib.mlxn_row_sum_backward(enc, dy, dx))


# ---- numpy in, numpy out ------------------------------------------------------

def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _with(device, backend, fn):
    owned = device is None
    dev = mlxn.Device(backend) if owned else device
    made = []

    def up(a):
        b = mlxn.Buffer.from_numpy(dev, _f32(a))
        made.append(b)
        return b

    def new(shape, dtype="f32"):
        b = mlxn.Buffer.new(dev, dtype, shape)
        made.append(b)
        return b

    try:
        with mlxn.Encoder(dev) as enc:
            outs = fn(dev, enc, up, new)
            enc.wait()
        return tuple(o.numpy() for o in outs) if isinstance(outs, tuple) else outs.numpy()
    finally:
        for b in made:
            b.close()
        if owned:
            dev.close()


def softmax_backward_np(y, dy, *, device=None, backend="cpu"):
    def go(dev, enc, up, new):
        yb, dyb = up(y), up(dy)
        dx = new(yb.shape)
        softmax_backward(enc, yb, dyb, dx)
        return dx
    return _with(device, backend, go)


def rms_inv_np(x, *, eps=1e-6, device=None, backend="cpu"):
    def go(dev, enc, up, new):
        xb = up(x)
        r = new((int(np.prod(xb.shape[:-1])) if len(xb.shape) > 1 else 1,))
        rms_inv(enc, xb, r, eps=eps)
        return r
    return _with(device, backend, go)


def rms_norm_backward_np(x, w, r, dy, *, want_dw=True, device=None, backend="cpu"):
    """(dx, dw) — dw is None unless want_dw."""
    def go(dev, enc, up, new):
        xb, rb, dyb = up(x), up(r), up(dy)
        wb = None if w is None else up(w)
        dim = xb.shape[-1]
        rows = int(np.prod(xb.shape)) // dim
        dx = new(xb.shape)
        dw = new((dim,)) if want_dw else None
        ws = new((rms_norm_backward_workspace_size(dev, rows, dim),), "u8") if want_dw else None
        rms_norm_backward(enc, xb, wb, rb, dyb, dx, dw, ws)
        return (dx, dw) if want_dw else (dx,)
    out = _with(device, backend, go)
    return (out[0], out[1]) if want_dw else (out[0], None)


def unary_backward_np(x, dy, *, op, device=None, backend="cpu"):
    def go(dev, enc, up, new):
        xb, dyb = up(x), up(dy)
        dx = new(xb.shape)
        unary_backward(enc, xb, dyb, dx, op=op)
        return dx
    return _with(device, backend, go)


def row_sum_backward_np(dy, shape, *, device=None, backend="cpu"):
    """dx of the given shape ([..., n]) from dy [rows]."""
    def go(dev, enc, up, new):
        dyb = up(dy)
        dx = new(tuple(shape))
        row_sum_backward(enc, dyb, dx)
        return dx
    return _with(device, backend, go)
