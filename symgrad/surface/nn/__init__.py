"""Neural-network functions (`symgrad.nn.functional`), over the op surface; `symgrad.nn`
itself, with PyTorch's modules, is `symgrad/eager/nn.py`."""

from symgrad.surface.nn import functional

__all__ = ["functional"]
