"""Shared fixtures: `lib` runs a test on symgrad and on PyTorch, the reference it must agree with."""

import os

import pytest

import symgrad
from symgrad.api import config

# every graph a test compiles is checked by the IR verifier after every simplification pass
config.verify = True
# no test starts a background build of Numba kernels ahead of time (seconds of CPU each), but
# the one that builds and loads them itself
os.environ.setdefault("SYMGRAD_NUMBA_AOT", "0")

try:
    import torch
except Exception:  # not installed, or installed but broken: the torch cases skip
    torch = None


@pytest.fixture(params=["symgrad", "torch"])
def lib(request):
    """The library under test: symgrad, or PyTorch as the reference it must agree with."""
    if request.param == "torch":
        if torch is None:
            pytest.skip("PyTorch is not importable")
        return torch
    return symgrad
