"""The op functions (`symgrad.exp(x)`, `symgrad.matmul(a, b)`...), gathered from the registry.

An op's entry names its functions (an elementwise op's is its own name); each is the method
of that name on its first argument made a value (lists, arrays and scalars become constant
tensors). Functions with arguments of their own (`cat`, `mm`, `clamp`) are declared next to
their op or composite. Importing the surface first makes sure every one is registered.
"""

from __future__ import annotations

from typing import Any

from symgrad.ops import OPS, Value
from symgrad.ops.dispatch import FUNCTIONS, function_of
from symgrad.surface import base  # noqa: F401 - the surface, and with it every composite


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is an eager symgrad Tensor."""
    return isinstance(obj, Value._default)


def _gather() -> dict[str, Any]:
    out = {}
    for op in OPS.values():
        for name in op.functions:
            out[name] = function_of(name, op.doc)
    out.update(FUNCTIONS)
    out["is_tensor"] = is_tensor
    return out


globals().update(_gather())
__all__ = sorted(_gather())
