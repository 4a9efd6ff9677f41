"""`symgrad.nn`: neural-network functions (`symgrad.nn.functional`)."""

from symgrad.nn import functional

__all__ = ["functional"]
