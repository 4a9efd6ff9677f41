"""The op functions (`symgrad.exp(x)`, `symgrad.matmul(a, b)`...): the surface as functions.

Each is the method of the same name; arguments that are not yet tensors (lists, arrays,
scalars) become constant tensors first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.surface.base import Surface, lift, where
from symgrad.surface.composites import cat, clamp, log_softmax, logsumexp, mean, softmax, stack, std, var


def _method(name: str, doc: str) -> Any:
    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(lift(input), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


_METHODS = {
    "add": "input + alpha * other, elementwise with broadcasting.",
    "sub": "input - alpha * other, elementwise with broadcasting.",
    "mul": "input * other, elementwise with broadcasting.",
    "div": "input / other (true division), elementwise with broadcasting.",
    "neg": "-input.", "abs": "|input|.", "sign": "The sign of input (-1, 0 or 1).",
    "pow": "input ** exponent.", "exp": "e ** input.", "log": "Natural logarithm.",
    "log1p": "log(1 + input), accurate near 0.", "expm1": "exp(input) - 1, accurate near 0.",
    "sqrt": "Square root.", "sin": "Sine.", "cos": "Cosine.", "tan": "Tangent.",
    "tanh": "Hyperbolic tangent.", "sigmoid": "1 / (1 + exp(-input)), without overflow.",
    "erf": "The error function.", "relu": "max(input, 0).",
    "maximum": "Elementwise maximum (ties share the gradient).",
    "minimum": "Elementwise minimum (ties share the gradient).",
    "matmul": "Matrix product with NumPy's 1-D and batch rules.",
    "sum": "Sum over dim (all dims by default).", "prod": "Product over dim.",
    "amax": "Maximum over dims (ties share the gradient).",
    "amin": "Minimum over dims (ties share the gradient).",
    "max": "Maximum: of everything, or (values, indices) along dim.",
    "min": "Minimum: of everything, or (values, indices) along dim.",
    "argmax": "Index of the maximum.", "argmin": "Index of the minimum.",
    "reshape": "The same elements in a new shape.", "flatten": "Dims start_dim..end_dim as one.",
    "transpose": "Swap two dims.", "permute": "Reorder the dims.", "t": "Transpose of a 2-D tensor.",
    "squeeze": "Drop dims of size 1.", "unsqueeze": "Insert a dim of size 1.",
    "broadcast_to": "Broadcast to a shape.", "detach": "The value, without history.",
}
globals().update({name: _method(name, doc) for name, doc in _METHODS.items()})


def mm(input: Any, mat2: Any) -> Surface:
    """Product of two matrices."""
    if np.ndim(input) != 2 or np.ndim(mat2) != 2:
        raise RuntimeError(f"mm: both arguments must be matrices, got {np.ndim(input)}-D and "
                           f"{np.ndim(mat2)}-D")
    return lift(input) @ mat2


def bmm(input: Any, mat2: Any) -> Surface:
    """Batched product of two stacks of matrices, (b, n, m) @ (b, m, p)."""
    if np.ndim(input) != 3 or np.ndim(mat2) != 3:
        raise RuntimeError(f"bmm: both arguments must be 3-D, got {np.ndim(input)}-D and "
                           f"{np.ndim(mat2)}-D")
    return lift(input) @ mat2


def mv(input: Any, vec: Any) -> Surface:
    """Matrix times vector."""
    return lift(input) @ vec


def dot(input: Any, other: Any) -> Surface:
    """Inner product of two 1-D tensors."""
    if np.ndim(input) != 1 or np.ndim(other) != 1:
        raise RuntimeError(f"1D tensors expected, but got {np.ndim(input)}D and {np.ndim(other)}D tensors")
    return lift(input) @ other


def outer(input: Any, vec2: Any) -> Surface:
    """Outer product of two 1-D tensors."""
    return lift(input).unsqueeze(-1) * lift(vec2).unsqueeze(0)


def clip(input: Any, min: Any = None, max: Any = None) -> Surface:
    """Alias of `clamp`."""
    return clamp(lift(input), min, max)


def expand(input: Any, *sizes: Any) -> Surface:
    return lift(input).expand(*sizes)


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is an eager symgrad Tensor."""
    return isinstance(obj, Surface._default)


__all__ = [
    *_METHODS, "mm", "bmm", "mv", "dot", "outer", "clip", "expand", "where", "cat", "stack",
    "clamp", "mean", "var", "std", "logsumexp", "softmax", "log_softmax", "is_tensor",
]
