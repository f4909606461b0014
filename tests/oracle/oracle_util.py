"""Helpers shared by the oracle tests: dtype round trips and unit roundoffs."""
import numpy as np

import mlxn

# Unit roundoff u = 2^-p (p = significand bits incl. the hidden one): rounding to
# nearest changes a value v by at most u*|v|.
U_F32 = 2.0**-24
U_F16 = 2.0**-11
U_BF16 = 2.0**-8
UNIT_ROUNDOFF = {"f32": U_F32, "f16": U_F16, "bf16": U_BF16}


def uniform_nonzero(rng, shape, lo=-1.0, hi=1.0):
    """Uniform [lo, hi) float64 values, none exactly 0 (zeros would hide errors)."""
    x = rng.uniform(lo, hi, size=shape)
    x[x == 0.0] = 0.5
    return x


def encode(x64, dtype):
    """(storage array for mlxn, its exact values as float64). bf16 is uint16 raw bits."""
    if dtype == "f32":
        s = x64.astype(np.float32)
    elif dtype == "f16":
        s = x64.astype(np.float16)
    elif dtype == "bf16":
        s = mlxn.f32_to_bf16(x64.astype(np.float32))
    else:
        raise ValueError(dtype)
    return s, decode(s, dtype)


def decode(s, dtype):
    """Exact float64 values of an mlxn storage array."""
    if dtype == "bf16":
        return mlxn.bf16_to_f32(s).astype(np.float64)
    return s.astype(np.float64)
