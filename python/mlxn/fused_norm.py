"""The fused-norm family of mlxn (include/mlxn.h, "Fused norms") through ctypes.

    import numpy as np, mlxn
    from mlxn import fused_norm
    with mlxn.Device("cpu") as dev:
        a = mlxn.Buffer.from_numpy(dev, np.random.rand(4, 4096).astype(np.float32))
        b = mlxn.Buffer.from_numpy(dev, np.random.rand(4, 4096).astype(np.float32))
        y = mlxn.Buffer.new(dev, "f32", a.shape)
        s = mlxn.Buffer.new(dev, "f32", a.shape)
        with mlxn.Encoder(dev) as enc:
            fused_norm.add_rms_norm(enc, a, b, None, y, s, eps=1e-6)
            enc.wait()

add_rms_norm_np / rms_norm_add_np / rms_norm_gate_np are numpy-in,
numpy-out conveniences (bf16 travels as uint16 raw bits with dtype="bf16",
as elsewhere in the binding).
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto

__all__ = ["NormParams", "NormAddParams", "add_rms_norm", "rms_norm_add", "rms_norm_gate",
           "add_rms_norm_np", "rms_norm_add_np", "rms_norm_gate_np"]


class NormParams(ctypes.Structure):
    _fields_ = [("eps", ctypes.c_float)]


class NormAddParams(ctypes.Structure):
    _fields_ = [("eps", ctypes.c_float), ("scale", ctypes.c_float)]


_vp, _st = ctypes.c_void_p, ctypes.c_int
_proto("mlxn_add_rms_norm", _st, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_rms_norm_add", _st, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormAddParams))
_proto("mlxn_rms_norm_gate", _st, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))


def add_rms_norm(enc, a, b, w, out, sum_out=None, *, eps=1e-6):
    """mlxn_add_rms_norm: s = a + b; out = rms_norm(s) * w; sum_out (optional) = s.
    w: None or [dim] of a's dtype or f32. out may be a or b; sum_out may be a or b."""
    p = NormParams(eps)
    _check(_lib.mlxn_add_rms_norm(enc, a, b, w, out, sum_out, ctypes.byref(p)))


def rms_norm_add(enc, x, w, res, out, *, eps=1e-6, scale=1.0):
    """mlxn_rms_norm_add: out = (res + rms_norm(x) * w) * scale; out may be res (or x)."""
    p = NormAddParams(eps, scale)
    _check(_lib.mlxn_rms_norm_add(enc, x, w, res, out, ctypes.byref(p)))


def rms_norm_gate(enc, x, w, z, out, *, eps=1e-6):
    """mlxn_rms_norm_gate: out = rms_norm(x) * w * silu(z); out may be x or z."""
    p = NormParams(eps)
    _check(_lib.mlxn_rms_norm_gate(enc, x, w, z, out, ctypes.byref(p)))


def _run(fn, rows, w, dtype, w_dtype, device, backend, n_out):
    """Uploads the row arrays, runs fn(enc, row buffers..., w buffer, outputs...)
    and returns the outputs as numpy arrays."""
    owned = device is None
    dev = mlxn.Device(backend) if owned else device
    made = []
    try:
        bufs = []
        for r in rows:
            bufs.append(mlxn.Buffer.from_numpy(dev, np.asarray(r), dtype))
            made.append(bufs[-1])
        wb = None
        if w is not None:
            wb = mlxn.Buffer.from_numpy(dev, np.asarray(w), w_dtype)
            made.append(wb)
        outs = []
        for _ in range(n_out):
            outs.append(mlxn.Buffer.new(dev, bufs[0].dtype, bufs[0].shape))
            made.append(outs[-1])
        with mlxn.Encoder(dev) as enc:
            fn(enc, bufs, wb, outs)
            enc.wait()
        return [o.numpy() for o in outs]
    finally:
        for b in made:
            b.close()
        if owned:
            dev.close()


def add_rms_norm_np(a, b, w=None, *, eps=1e-6, dtype=None, w_dtype=None, device=None, backend="cpu"):
    """mlxn.fused_norm.add_rms_norm on numpy arrays; returns (y, sum)."""
    y, s = _run(lambda enc, r, wb, o: add_rms_norm(enc, r[0], r[1], wb, o[0], o[1], eps=eps),
                [a, b], w, dtype, w_dtype, device, backend, 2)
    return y, s


def rms_norm_add_np(x, res, w=None, *, eps=1e-6, scale=1.0, dtype=None, w_dtype=None, device=None, backend="cpu"):
    """mlxn.fused_norm.rms_norm_add on numpy arrays."""
    return _run(lambda enc, r, wb, o: rms_norm_add(enc, r[0], wb, r[1], o[0], eps=eps, scale=scale),
                [x, res], w, dtype, w_dtype, device, backend, 1)[0]


def rms_norm_gate_np(x, z, w=None, *, eps=1e-6, dtype=None, w_dtype=None, device=None, backend="cpu"):
    """mlxn.fused_norm.rms_norm_gate on numpy arrays."""
    return _run(lambda enc, r, wb, o: rms_norm_gate(enc, r[0], wb, r[1], o[0], eps=eps),
                [x, z], w, dtype, w_dtype, device, backend, 1)[0]


# ---- [fused_norm2] ------------------------------------------------------------

class HeadNormRopeParams(ctypes.Structure):
    _fields_ = [("head_dim", ctypes.c_uint32), ("rope_dim", ctypes.c_uint32), ("eps", ctypes.c_float),
                ("freq_base", ctypes.c_float), ("co_permuted", ctypes.c_int)]


_proto("mlxn_rms_norm_mul", _st, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_add_rms_norm_mul", _st, _vp, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_rms_norm_add_mul", _st, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_triple_norm", _st, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_post_attn_triple_norm", _st, _vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_moe_wsum_norm_add", _st, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_moe_wsum_dnorm_add", _st, _vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(NormParams))
_proto("mlxn_head_norm_rope", _st, _vp, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(HeadNormRopeParams))

__all__ += ["HeadNormRopeParams", "rms_norm_mul", "add_rms_norm_mul", "rms_norm_add_mul", "triple_norm",
            "post_attn_triple_norm", "moe_wsum_norm_add", "moe_wsum_dnorm_add", "head_norm_rope"]


def rms_norm_mul(enc, x, w, m, out, *, eps=1e-6):
    """mlxn_rms_norm_mul: out = rms_norm(x) * w * m; m full (x's shape), [dim] or one element."""
    _check(_lib.mlxn_rms_norm_mul(enc, x, w, m, out, ctypes.byref(NormParams(eps))))


def add_rms_norm_mul(enc, a, b, w, m, out, sum_out=None, *, eps=1e-6):
    """mlxn_add_rms_norm_mul: s = a + b; out = rms_norm(s) * w * m; sum_out (optional) = s."""
    _check(_lib.mlxn_add_rms_norm_mul(enc, a, b, w, m, out, sum_out, ctypes.byref(NormParams(eps))))


def rms_norm_add_mul(enc, x, w, res, m, out, *, eps=1e-6):
    """mlxn_rms_norm_add_mul: out = (res + rms_norm(x) * w) * m."""
    _check(_lib.mlxn_rms_norm_add_mul(enc, x, w, res, m, out, ctypes.byref(NormParams(eps))))


def triple_norm(enc, x, w3, y0, y1, y2, *, eps=1e-6):
    """mlxn_triple_norm: y_k = rms_norm(x) * w3[k]; w3 [3, dim]."""
    _check(_lib.mlxn_triple_norm(enc, x, w3, y0, y1, y2, ctypes.byref(NormParams(eps))))


def post_attn_triple_norm(enc, h, attn, w_post, w3, res, y0, y1, y2, *, eps=1e-6):
    """mlxn_post_attn_triple_norm: res = h + rms_norm(attn) * w_post; y_k = rms_norm(res) * w3[k]."""
    _check(_lib.mlxn_post_attn_triple_norm(enc, h, attn, w_post, w3, res, y0, y1, y2, ctypes.byref(NormParams(eps))))


def moe_wsum_norm_add(enc, ys, wk, res, nw, out, *, eps=1e-6):
    """mlxn_moe_wsum_norm_add: out = res + rms_norm(sum_k wk[:, k] * ys[:, k]) * nw (res may be None)."""
    _check(_lib.mlxn_moe_wsum_norm_add(enc, ys, wk, res, nw, out, ctypes.byref(NormParams(eps))))


def moe_wsum_dnorm_add(enc, ys, wk, dense, w_dense, res, nw, out, *, eps=1e-6):
    """mlxn_moe_wsum_dnorm_add: out = res + rms_norm(dense) * w_dense + rms_norm(sum_k wk ys) * nw."""
    _check(_lib.mlxn_moe_wsum_dnorm_add(enc, ys, wk, dense, w_dense, res, nw, out, ctypes.byref(NormParams(eps))))


def head_norm_rope(enc, x, w, positions, freq_factors, out, out_co=None, *, head_dim, rope_dim=None, eps=1e-6,
                   freq_base=10000.0, co_permuted=False):
    """mlxn_head_norm_rope: per-head rms norm (* w) then NeoX RoPE with pairs (i, i + D/2) for
    i < rope_dim/2, angle pos * freq_base^(-2i/D) / ff[i]; out_co: optional second output."""
    p = HeadNormRopeParams(head_dim, head_dim if rope_dim is None else rope_dim, eps, freq_base,
                           1 if co_permuted else 0)
    _check(_lib.mlxn_head_norm_rope(enc, x, w, positions, freq_factors, out, out_co, ctypes.byref(p)))
