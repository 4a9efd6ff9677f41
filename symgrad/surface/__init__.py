"""The op surface: what users call (operators, methods, `symgrad.*` functions, `nn.functional`,
NumPy's functions on symgrad values), written once over the registry's `apply`."""

from symgrad.surface.base import Surface

__all__ = ["Surface"]
