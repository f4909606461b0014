"""The ctypes binding itself: struct layouts, errors, buffers and views."""
import numpy as np
import pytest

import mlxn
from oracle_util import uniform_nonzero


def test_version():
    assert mlxn.version() == "0.1.0"


def test_rope_params_layout_round_trips():
    """mlxn_rope_params_default returns the struct by value: every field must land where
    the binding's layout says (a wrong layout shifts or garbles them)."""
    p = mlxn._lib.mlxn_rope_params_default(96, mlxn.ROPE_MODES["neox"], 500000.0)
    assert (p.n_dims, p.mode, p.freq_base, p.freq_scale, p.ext_factor, p.attn_factor,
            p.beta_fast, p.beta_slow, p.n_ctx_orig) == (96, 2, 500000.0, 1.0, 0.0, 1.0, 32.0, 1.0, 0)


@pytest.mark.parametrize("dtype,np_dtype", [("f32", np.float32), ("f16", np.float16), ("i32", np.int32),
                                            ("u32", np.uint32), ("bf16", np.uint16)])
def test_buffer_round_trip_and_view(device, rng, dtype, np_dtype):
    a = (rng.integers(1, 60000, size=(3, 5, 4)) if dtype in ("i32", "u32", "bf16")
         else uniform_nonzero(rng, (3, 5, 4))).astype(np_dtype)
    buf = mlxn.Buffer.from_numpy(device, a, "bf16" if dtype == "bf16" else None)
    assert (buf.dtype, buf.shape, buf.nbytes) == (dtype, (3, 5, 4), a.nbytes)
    np.testing.assert_array_equal(buf.numpy(), a)
    row = buf.view(a[0].nbytes, dtype, (5, 4))  # the second [5, 4] slab
    assert row.offset == a[0].nbytes
    np.testing.assert_array_equal(row.numpy(), a[1])
    buf.close()  # the view keeps the storage alive
    np.testing.assert_array_equal(row.numpy(), a[1])
    row.close()


def test_bf16_needs_uint16_bits(device):
    with pytest.raises(TypeError):
        mlxn.Buffer.from_numpy(device, np.ones(4, np.float32), "bf16")


def test_bf16_helpers():
    x = np.array([1.0, -2.5, 3.140625, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8], np.float32)
    bits = mlxn.f32_to_bf16(x)  # ties go to even
    np.testing.assert_array_equal(mlxn.bf16_to_f32(bits), [1.0, -2.5, 3.140625, 1.0, 1.0 + 2.0**-6])


def test_errors_raise_with_status_and_message(device):
    x = np.ones((2, 1, 64), np.float32)
    with pytest.raises(mlxn.MlxnError) as info:
        mlxn.ops.rope_multi_np(x, np.zeros(8, np.int32), freq_base=1e4, mode="mrope",
                               sections=(16, 16, 0, 0), rope_dim=96, device=device)
    assert info.value.status == 1 and info.value.status_name == "invalid argument"
    assert info.value.message == "rope_multi: rope_dim (96) must be <= head_dim (64)"


def test_device_close_frees_children(backend):
    dev = mlxn.Device(backend)
    assert dev.backend == backend and dev.name
    buf = mlxn.Buffer.new(dev, "f32", (4,))
    enc = mlxn.Encoder(dev)
    dev.close()
    assert buf.closed and enc.closed and dev.closed
