"""The op functions (`symgrad.exp(x)`, `symgrad.matmul(a, b)`...), gathered from the registry.

An op's entry names its functions (an elementwise op's is its own name); each is the method
of that name on its first argument made a value (lists, arrays and scalars become constant
tensors). Functions with arguments of their own (`cat`, `mm`, `clamp`) are declared next to
their op or composite. Importing the surface first makes sure every one is registered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from symgrad.ops import OPS, Value
from symgrad.ops.core import inplace_methods
from symgrad.ops.dispatch import FUNCTIONS, function_of
from symgrad.surface import base  # noqa: F401 - the surface, and with it every composite


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is an eager symgrad Tensor."""
    return isinstance(obj, Value._default)


def equal(input: Any, other: Any) -> bool:  # noqa: A002 - PyTorch's argument name
    """torch.equal(a, b): whether two tensors have the same shape and elements (a Python bool)."""
    for position, (name, arg) in enumerate((("input", input), ("other", other)), 1):
        if not is_tensor(arg):
            raise TypeError(f"equal(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(arg).__name__}")
    return input.equal(other)


def _with_out(name: str, fn: Callable) -> Callable:
    """`fn` that also takes PyTorch's `out=`: the result (a tuple of them: `out=(values,
    indices)`) is written into the given tensor(s), which are returned."""
    @functools.wraps(fn)
    def function(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(result)} Tensors")
            written = [_write(name, r, o) for r, o in zip(result, out)]
            return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
        return _write(name, result, out)
    return function


def _write(name: str, result: Any, out: Any) -> Any:
    if not isinstance(out, Value._default):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    return out._write_out(name, result)


def _gather(namespace: str = "") -> dict[str, Any]:
    """The functions of `symgrad` (namespace ""), or of `symgrad.linalg` ("linalg")."""
    out = {}
    if not namespace:
        for op in OPS.values():
            for name in op.functions:
                out[name] = _with_out(name, function_of(name, op.doc))
        out["is_tensor"] = is_tensor
        out["equal"] = equal
        for name in (*inplace_methods(), "zero", "fill", "detach"):  # torch.exp_(x), torch.zero_(x)
            out[f"{name}_"] = function_of(f"{name}_", f"In-place `{name}` of input.")
    for name, fn in FUNCTIONS.items():
        space, _, short = name.rpartition(".")
        if space == namespace:
            out[short] = _with_out(short, fn)
    return out


def namespace(name: str) -> ModuleType:
    """`symgrad.linalg`, `symgrad.special`: PyTorch's namespaces of functions, as modules."""
    module = ModuleType(f"symgrad.{name}", f"PyTorch's torch.{name} functions, on symgrad values.")
    module.__dict__.update(_gather(name))
    module.__all__ = sorted(_gather(name))
    return module


linalg = namespace("linalg")
special = namespace("special")
globals().update(_gather())
__all__ = sorted(_gather())
