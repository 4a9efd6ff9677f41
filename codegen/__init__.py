"""symgrad's back end: a graph IR in, readable Python/NumPy source and a callable out.

It reads `symgrad.graph` and the op registry only, never the eager engine or the public API.
"""

from symgrad.codegen.numpy_source import Program, generate, load

__all__ = ["Program", "generate", "load"]
