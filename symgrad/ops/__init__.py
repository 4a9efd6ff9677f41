"""The op registry: every primitive is declared once, in the module of its family.

An entry (`defop`) gives the op's name, its NumPy code (a template that is both the eager
forward and what `codegen` prints), its shape and dtype rules, its SymPy form, one
vector-Jacobian product per input and its batching rule; what users call it by (methods,
operators, `symgrad.*` functions, NumPy functions) hangs off the entry or is written next to
it (`dispatch`). VJP rules are written with the methods of the op surface, so the same rule
serves eager mode, `create_graph`, and reverse mode on graphs.

Composite functions (`mean`, `softmax`, `cross_entropy`, ...) are ordinary functions of
primitives, with no derivative rule of their own (`symgrad.surface`).
"""

from symgrad.ops import (  # noqa: F401 - they register
    arrange,
    decompositions,
    einsum,
    elementwise,
    index,
    linalg,
    order,
    reduce,
    shape,
    signal_ops,
    special,
)
from symgrad.ops.batching import NotBatchable
from symgrad.ops.core import OPS, UFUNCS, Op, ShapeError, defop, shape_of, unbroadcast, vjp
from symgrad.ops.dispatch import Value, apply, lift

__all__ = ["OPS", "UFUNCS", "NotBatchable", "Op", "ShapeError", "Value", "apply", "defop", "lift", "shape_of",
           "unbroadcast", "vjp"]
