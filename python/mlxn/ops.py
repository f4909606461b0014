"""numpy in, numpy out: each op run once on a device.

Pass device= (an open mlxn.Device, reused) or backend= ("cpu", "cuda", "auto";
a device is opened and closed around the call). Inputs keep their dtype
(float32, float16; bfloat16 as uint16 raw bits with dtype="bf16"); positions are
int32 or uint32.
"""
import contextlib

import numpy as np

import mlxn


@contextlib.contextmanager
def _session(device, backend):
    """Yields (device, keep): buffers made through keep() are freed on exit."""
    owned = device is None
    dev = mlxn.Device(backend) if owned else device
    made = []

    def keep(array, dtype=None):
        buf = mlxn.Buffer.from_numpy(dev, array, dtype)
        made.append(buf)
        return buf

    try:
        yield dev, keep, made
    finally:
        for b in made:
            b.close()
        if owned:
            dev.close()


def _run(op, arrays, dtype, device, backend, **params):
    """Uploads arrays[0] (with dtype) and the rest, runs op(enc, x, out, *rest), returns out."""
    with _session(device, backend) as (dev, keep, made):
        x = keep(arrays[0], dtype)
        rest = [None if a is None else keep(a) for a in arrays[1:]]
        out = mlxn.Buffer.new(dev, x.dtype, x.shape)
        made.append(out)
        with mlxn.Encoder(dev) as enc:
            op(enc, x, out, *rest, **params)
            enc.wait()
        return out.numpy()


def rope_np(x, positions, freq_factors=None, *, n_dims=None, freq_base, mode="neox", dtype=None,
            device=None, backend="cpu", **params):
    """mlxn.rope on x [seq, heads, head_dim] or [batch, seq, heads, head_dim];
    n_dims defaults to head_dim; other params as mlxn.rope."""
    n_dims = np.shape(x)[-1] if n_dims is None else n_dims
    ff = None if freq_factors is None else np.asarray(freq_factors, dtype=np.float32)
    return _run(mlxn.rope, [x, positions, ff], dtype, device, backend,
                n_dims=n_dims, freq_base=freq_base, mode=mode, **params)


def rope_multi_np(x, positions, *, freq_base, mode, sections, rope_dim=None, dtype=None,
                  device=None, backend="cpu"):
    """mlxn.rope_multi on x [seq, heads, head_dim]; positions [4*seq] axis-major."""
    return _run(mlxn.rope_multi, [x, positions], dtype, device, backend,
                freq_base=freq_base, mode=mode, sections=sections, rope_dim=rope_dim)


def vision_2d_rope_np(x, pos_x, pos_y, *, theta, dtype=None, device=None, backend="cpu"):
    """mlxn.vision_2d_rope on x [seq, heads, head_dim]."""
    return _run(mlxn.vision_2d_rope, [x, pos_x, pos_y], dtype, device, backend, theta=theta)
