"""ctypes binding of the layout family (include/mlxn.h, "Layout, gathers and
the KV cache"): gather_rows, permute, copy_2d, repeat_heads, kv_cache_write,
plus numpy-in, numpy-out helpers.

    import numpy as np, mlxn.layout as lay
    y = lay.gather_rows_np(np.eye(4, dtype=np.float32), np.array([2, 0], np.int32))
    t = lay.permute_np(np.zeros((2, 3, 4), np.float16), (1, 0, 2))
    cache = lay.kv_cache_write_np(src, cache, pos=5, sliding=True)   # returns the new cache

bf16 arrays travel as uint16 raw bits with dtype="bf16".
"""
import ctypes

import numpy as np

import mlxn
from mlxn import _check, _lib, _proto, _vp
from mlxn.ops import _session

__all__ = ["GatherParams", "PermuteParams", "Copy2dParams", "RepeatHeadsParams", "KvCacheParams",
           "gather_rows", "permute", "copy_2d", "repeat_heads", "kv_cache_write",
           "gather_rows_np", "permute_np", "copy_2d_np", "repeat_heads_np", "kv_cache_write_np"]

_st = ctypes.c_int


class GatherParams(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_float)]


class PermuteParams(ctypes.Structure):
    _fields_ = [("ndim", ctypes.c_int), ("perm", ctypes.c_int * 4)]


class Copy2dParams(ctypes.Structure):
    _fields_ = [("rows", ctypes.c_int64), ("cols", ctypes.c_int64),
                ("src_stride", ctypes.c_int64), ("src_col", ctypes.c_int64),
                ("dst_stride", ctypes.c_int64), ("dst_col", ctypes.c_int64)]


class RepeatHeadsParams(ctypes.Structure):
    _fields_ = [("interleaved", ctypes.c_int)]


class KvCacheParams(ctypes.Structure):
    _fields_ = [("pos", ctypes.c_uint32), ("sliding", ctypes.c_int)]


_proto("mlxn_gather_rows", _st, _vp, _vp, _vp, _vp, ctypes.POINTER(GatherParams))
_proto("mlxn_permute", _st, _vp, _vp, _vp, ctypes.POINTER(PermuteParams))
_proto("mlxn_copy_2d", _st, _vp, _vp, _vp, ctypes.POINTER(Copy2dParams))
_proto("mlxn_repeat_heads", _st, _vp, _vp, _vp, ctypes.POINTER(RepeatHeadsParams))
_proto("mlxn_kv_cache_write", _st, _vp, _vp, _vp, ctypes.POINTER(KvCacheParams))


# ---------------------------------------------------------------------------
# Ops on mlxn buffers (encode only; call enc.wait() to run and wait)
# ---------------------------------------------------------------------------


def gather_rows(enc, table, ids, out, scale=1.0):
    """mlxn_gather_rows: out[i] = table[ids[i]] * scale (zeros for an id out of range)."""
    p = GatherParams(scale)
    _check(_lib.mlxn_gather_rows(enc, table, ids, out, ctypes.byref(p)))


def permute(enc, x, out, perm):
    """mlxn_permute: out = x transposed by perm (2..4 axes)."""
    perm = tuple(int(a) for a in perm)
    p = PermuteParams(len(perm), (ctypes.c_int * 4)(*(perm + (0,) * (4 - len(perm)))))
    _check(_lib.mlxn_permute(enc, x, out, ctypes.byref(p)))


def copy_2d(enc, src, dst, rows, cols, src_stride, src_col, dst_stride, dst_col):
    """mlxn_copy_2d: dst[r*dst_stride + dst_col + c] = src[r*src_stride + src_col + c]."""
    p = Copy2dParams(rows, cols, src_stride, src_col, dst_stride, dst_col)
    _check(_lib.mlxn_copy_2d(enc, src, dst, ctypes.byref(p)))


def repeat_heads(enc, x, out, interleaved=False):
    """mlxn_repeat_heads: x [T, Hg, D] -> out [T, H, D] (tiled, or interleaved as HF repeat_kv)."""
    p = RepeatHeadsParams(1 if interleaved else 0)
    _check(_lib.mlxn_repeat_heads(enc, x, out, ctypes.byref(p)))


def kv_cache_write(enc, src, cache, pos, sliding=False):
    """mlxn_kv_cache_write: src [T, H, D] into cache [H, cap, D] from slot pos (ring if sliding)."""
    p = KvCacheParams(pos, 1 if sliding else 0)
    _check(_lib.mlxn_kv_cache_write(enc, src, cache, ctypes.byref(p)))


# ---------------------------------------------------------------------------
# numpy in, numpy out (device= an open Device, else backend= is opened)
# ---------------------------------------------------------------------------


def _run(fn, inputs, out_dtype, out_shape, dtype, device, backend, out_init=None):
    """inputs[0] is uploaded with dtype (the rest with their own); out is a new
    buffer of out_dtype (default inputs[0]'s), or out_init's contents."""
    with _session(device, backend) as (dev, keep, made):
        bufs = [keep(a, dtype if i == 0 else None) for i, a in enumerate(inputs)]
        if out_init is not None:
            out = keep(out_init[0], out_init[1])
        else:
            out = mlxn.Buffer.new(dev, out_dtype or bufs[0].dtype, out_shape)
            made.append(out)
        with mlxn.Encoder(dev) as enc:
            fn(enc, bufs, out)
            enc.wait()
        return out.numpy()


def gather_rows_np(table, ids, scale=1.0, *, out_dtype=None, dtype=None, device=None, backend="cpu"):
    """table [n_rows, dim]; ids int32/uint32 of any shape -> ids.shape + (dim,)."""
    table, ids = np.asarray(table), np.asarray(ids)
    return _run(lambda e, b, o: gather_rows(e, b[0], b[1], o, scale), [table, ids], out_dtype,
                ids.shape + (table.shape[1],), dtype, device, backend)


def permute_np(x, perm, *, dtype=None, device=None, backend="cpu"):
    x = np.asarray(x)
    return _run(lambda e, b, o: permute(e, b[0], o, perm), [x], None, tuple(x.shape[a] for a in perm), dtype,
                device, backend)


def copy_2d_np(src, dst, rows, cols, src_col=0, dst_col=0, *, dtype=None, device=None, backend="cpu"):
    """src, dst 2-D (row strides = their widths); returns dst after the copy."""
    src, dst = np.asarray(src), np.asarray(dst)
    return _run(lambda e, b, o: copy_2d(e, b[0], o, rows, cols, src.shape[1], src_col, dst.shape[1], dst_col),
                [src], None, None, dtype, device, backend, out_init=(dst, dtype))


def repeat_heads_np(x, n_heads, interleaved=False, *, dtype=None, device=None, backend="cpu"):
    x = np.asarray(x)
    return _run(lambda e, b, o: repeat_heads(e, b[0], o, interleaved), [x], None,
                (x.shape[0], n_heads, x.shape[2]), dtype, device, backend)


def kv_cache_write_np(src, cache, pos, sliding=False, *, dtype=None, cache_dtype=None, device=None, backend="cpu"):
    """src [T, H, D]; cache [H, cap, D] (its prior contents); returns the new cache."""
    src, cache = np.asarray(src), np.asarray(cache)
    return _run(lambda e, b, o: kv_cache_write(e, b[0], o, pos, sliding), [src], None, None, dtype, device,
                backend, out_init=(cache, cache_dtype))
