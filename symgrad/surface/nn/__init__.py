"""`symgrad.nn`: neural-network functions (`symgrad.nn.functional`)."""

from symgrad.surface.nn import functional

__all__ = ["functional"]
