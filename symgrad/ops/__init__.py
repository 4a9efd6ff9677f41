"""The op registry: every primitive is declared once, in the module of its family.

An entry gives the op's name, its NumPy code (a template that is both the eager forward and
what `codegen` prints), its shape rule and one vector-Jacobian product per input. VJP
rules are written with the operators and methods of the op surface (`symgrad.surface`), so
the same rule runs on eager tensors (and records when `create_graph=True`) and on tracer
values (and emits gradient graph nodes). Broadcasting is undone once, in `core.vjp`.

Composite functions (`mean`, `softmax`, `cross_entropy`, ...) are ordinary functions of
primitives, with no derivative rule of their own.
"""

from symgrad.ops import elementwise, index, linalg, reduce, shape  # noqa: F401 - they register
from symgrad.ops.core import OPS, UFUNCS, Op, ShapeError, defop, shape_of, unbroadcast, vjp

__all__ = ["OPS", "UFUNCS", "Op", "ShapeError", "defop", "shape_of", "unbroadcast", "vjp"]
