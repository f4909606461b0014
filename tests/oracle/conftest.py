"""Shared fixtures of the peer-oracle tests.

Run:  MLXN_LIB=build/libmlxn.so python -m pytest -q tests/oracle
Every test that takes `device` runs on the CPU backend and, where a GPU is
visible to a CUDA build, on the CUDA backend (else that variant is skipped).
"""
import os
import sys

import numpy as np
import pytest

_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
if os.path.isdir(_PY) and _PY not in sys.path:
    sys.path.insert(0, _PY)

import mlxn  # noqa: E402

HAVE_CUDA = mlxn.device_count("cuda") > 0

BACKENDS = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda",
                 marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or library built without CUDA)")),
]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def device(backend):
    dev = mlxn.Device(backend)
    yield dev
    dev.close()


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fresh per case, reproducible."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)

