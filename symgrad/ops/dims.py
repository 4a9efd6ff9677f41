"""Dims and shapes as users give them (PyTorch's `dim`, NumPy's `axis`, `-1` in a shape),
turned into what op params hold: non-negative axes and explicit shapes."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np


def integer(n: Any, what: str = "dim") -> int:
    """`n` as an int: a Python or NumPy integer, or a one-element integer array; a string, a
    float or None is a TypeError naming `what` (as in PyTorch and NumPy)."""
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(n).__name__} {n!r}") from None


def axis(dim: int, ndim: int) -> int:
    """`dim` as a non-negative axis of an `ndim`-D value (a 0-d value takes 0 and -1)."""
    if type(dim) is not int:
        dim = integer(dim)
    if 0 <= dim < ndim:  # the usual case
        return dim
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim % max(ndim, 1)


def axes(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """`dim` (one, several, or None for all) as sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if type(dim) is int and ndim:  # the usual one dim
        return (axis(dim, ndim),)
    dims = (dim,) if isinstance(dim, (int, np.integer)) or not hasattr(dim, "__iter__") \
        else tuple(dim)
    if not ndim and all(d in (0, -1) for d in dims):
        return ()
    out = tuple(sorted({axis(integer(d), ndim) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"dim {tuple(dims)} appears multiple times in the list of dims")
    return out


def numpy_axis(axis: Any) -> Any:
    """NumPy's `axis=` (an int, a sequence or None) as `dim`."""
    return None if axis is None else (axis if isinstance(axis, int) else tuple(axis))


def numpy_dims(dim: Any, keepdim: bool, axis: Any, keepdims: bool | None) -> tuple[Any, bool]:
    """NumPy's axis=/keepdims= (traced NumPy code calls ndarray methods) as dim/keepdim."""
    if axis is not None:
        dim = axis
    return dim, keepdim if keepdims is None else keepdims


def resolve_shape(shape: tuple, old: Any) -> tuple[int, ...]:
    """A shape given as `(2, -1)` or `((2, -1),)`, with the -1 worked out from `old` (a
    shape, or a value whose shape is read only then)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) and hasattr(shape[0], "__iter__"):
        shape = tuple(shape[0])
    for n in shape:  # the usual case, `(4, 4)`: Python ints, none negative
        if type(n) is not int or n < 0:
            break
    else:
        return shape
    try:
        shape = tuple(map(operator.index, shape))
    except TypeError:  # the message names what is not an int
        shape = tuple(integer(n, "a shape's size") for n in shape)
    known, inferred, several = 1, None, False  # the product of the given sizes; where -1 is
    for k, n in enumerate(shape):
        if n >= 0:
            known *= n
        elif n < -1:
            raise RuntimeError(f"invalid shape dimension {n} at index {k} of shape {list(shape)}")
        elif inferred is None:
            inferred = k
        else:
            several = True
    if several:
        raise RuntimeError("only one dimension can be inferred")
    if inferred is None:
        return shape
    total = math.prod(getattr(old, "shape", old))  # math's: np.prod costs 3 us
    if known == 0 or total % known:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {total}")
    return shape[:inferred] + (total // known,) + shape[inferred + 1:]
