"""mlxn_moe_softmax_topk, mlxn_moe_weighted_reduce and mlxn_softmax_sample
through ctypes (see include/mlxn.h, "MoE routing and sampling").

    import mlxn, mlxn.sample as ms
    ms.moe_softmax_topk(enc, logits, ids, weights, k=8, renormalize=True, expert_scale=None)
    ms.moe_weighted_reduce(enc, y, w, out, y_shared=None, gate=None, res=None, shared_sigmoid=False)
    ms.softmax_sample(enc, logits, u, token, logprob=None, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    ms.softmax_sample_workspace_size(device, rows, V)

Built on the loaded library of the mlxn package (mlxn._lib); the parameter
structs mirror the C structs exactly.
"""
import ctypes

import mlxn  # noqa: F401  (loads the library)
from mlxn import _check, _lib

__all__ = ["MoeTopkParams", "MoeReduceParams", "SampleParams", "moe_softmax_topk", "moe_weighted_reduce",
           "softmax_sample", "softmax_sample_workspace_size"]


class MoeTopkParams(ctypes.Structure):
    _fields_ = [("k", ctypes.c_uint32), ("renormalize", ctypes.c_int)]


class MoeReduceParams(ctypes.Structure):
    _fields_ = [("shared_sigmoid", ctypes.c_int)]


class SampleParams(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_uint32), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float)]


_vp = ctypes.c_void_p
_topk = _lib.mlxn_moe_softmax_topk
_topk.restype = ctypes.c_int
_topk.argtypes = [_vp, _vp, _vp, _vp, _vp, ctypes.POINTER(MoeTopkParams)]
_reduce = _lib.mlxn_moe_weighted_reduce
_reduce.restype = ctypes.c_int
_reduce.argtypes = [_vp, _vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(MoeReduceParams)]
_sample = _lib.mlxn_softmax_sample
_sample.restype = ctypes.c_int
_sample.argtypes = [_vp, _vp, _vp, _vp, _vp, _vp, ctypes.POINTER(SampleParams)]
_ws = _lib.mlxn_softmax_sample_workspace_size
_ws.restype = ctypes.c_int
_ws.argtypes = [_vp, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(ctypes.c_size_t)]


def moe_softmax_topk(enc, logits, ids, weights, *, k, renormalize=True, expert_scale=None):
    """ids (i32 [T, k]) and weights (f32 [T, k]) of the k most probable experts of
    softmax(logits [T, E]), descending, ties to the lower id; weights renormalized
    over the k when renormalize, then times expert_scale[id] (f32 [E]) if given."""
    p = MoeTopkParams(int(k), int(bool(renormalize)))
    _check(_topk(enc, logits, expert_scale, ids, weights, ctypes.byref(p)))


def moe_weighted_reduce(enc, y, w, out, *, y_shared=None, gate=None, res=None, shared_sigmoid=False):
    """out[t] = sum_j w[t, j] y[t, j] + g[t] y_shared[t] + res[t] (f32 accumulation);
    g = gate, sigmoid(gate) when shared_sigmoid, 1 when gate is None."""
    p = MoeReduceParams(int(bool(shared_sigmoid)))
    _check(_reduce(enc, y, w, y_shared, gate, res, out, ctypes.byref(p)))


def softmax_sample(enc, logits, u, token, logprob=None, *, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0,
                   ws=None):
    """One token per row of logits [B, V] drawn with the caller's u (f32 [B] in [0, 1)):
    temperature (0 = greedy), top-k, top-p, min-p, then an inverse-CDF draw.
    token: i32 [B] (-1 for a row with no distribution); logprob: None or f32 [B]."""
    p = SampleParams(float(temperature), int(top_k), float(top_p), float(min_p))
    _check(_sample(enc, logits, u, token, logprob, ws, ctypes.byref(p)))


def softmax_sample_workspace_size(device, rows, V):
    """Bytes of the workspace mlxn_softmax_sample needs on device for rows x V."""
    n = ctypes.c_size_t()
    _check(_ws(device, int(rows), int(V), ctypes.byref(n)))
    return n.value
