"""PyTorch's device queries, answered for a CPU-only library: `symgrad.accelerator`,
`symgrad.cuda` and `symgrad.backends.mps` report no accelerator, so code that picks a device
(`"cuda" if torch.cuda.is_available() else "cpu"`) runs on the CPU."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from symgrad.eager.tensor import device


def _namespace(name: str, doc: str, **functions: Callable) -> ModuleType:
    module = ModuleType(f"symgrad.{name}", doc)
    module.__dict__.update(functions)
    module.__all__ = sorted(functions)
    return module


def _false() -> bool:
    """False: symgrad has no accelerator."""
    return False


def _none(check_available: bool = False) -> None:
    """None: symgrad has no accelerator."""
    return None


def _zero() -> int:
    """0: symgrad has no accelerator."""
    return 0


def _seed(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch's call is lazy and silent without one too)."""


accelerator = _namespace("accelerator", "torch.accelerator: no accelerator here.",
                         is_available=_false, current_accelerator=_none, device_count=_zero)
cuda = _namespace("cuda", "torch.cuda: no CUDA here.", is_available=_false, device_count=_zero,
                  manual_seed=_seed, manual_seed_all=_seed)
backends = _namespace("backends", "torch.backends: only mps's availability query.",
                      mps=_namespace("backends.mps", "torch.backends.mps: no MPS here.",
                                     is_available=_false, is_built=_false))


def set_default_device(dev: Any) -> None:
    """Accept the CPU as the default device (any other raises, naming it)."""
    device(dev)


def get_default_device() -> device:
    """The CPU."""
    return device("cpu")
