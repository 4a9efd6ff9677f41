"""The one op surface: operators and methods written once over `apply`.

The eager `Tensor`, the tracer's `Tracer` and reverse mode's batched cotangent all subclass
`Surface` and implement the hooks of `symgrad.ops.Value`. Everything a user calls (`x + y`,
`x.sum(1)`, `np.exp(x)`) arrives here and becomes `apply(op, ...)`.

The methods are not listed here: they come from the registry. An op's entry names its
methods and operators (`x.exp()`, `x + y`), and methods with their own arguments
(`x.sum(dim, keepdim)`) are written next to their op or composite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import OPS, UFUNCS, Op, Value, dims
from symgrad.ops.dispatch import ALONE, FACES, METHODS, owner
from symgrad.surface import (  # noqa: F401 - they register
    composites,
    ndarray,
    numpy_binding,
    numpy_more,
    signal,
    statistics,
    tensor_functions,
)


class Surface(Value):
    """Base of every value that records ops: the eager Tensor and the tracer values."""

    __slots__ = ()
    shape: tuple[int, ...]
    dtype: np.dtype

    def __init_subclass__(cls, face: str | None = None, **kwargs: Any) -> None:
        """`class Tracer(Surface, face="numpy")`: the kind takes that face's own methods."""
        super().__init_subclass__(**kwargs)
        for name, fn in FACES[face].items() if face else ():
            setattr(cls, name, fn)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return tuple(self.shape) if dim is None else self.shape[dims.axis(dim, self.ndim)]

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self.dtype.itemsize

    @property
    def mT(self) -> Surface:  # noqa: N802 - NumPy's and PyTorch's name
        """The matrices of a stack transposed: the last two dims swapped."""
        return self.transpose(*range(self.ndim - 2), self.ndim - 1, self.ndim - 2)

    @property
    def real(self) -> Surface:
        """The real part: the value itself (symgrad's dtypes are real)."""
        return self

    def conj(self) -> Surface:
        """The complex conjugate: the value itself (symgrad's dtypes are real)."""
        return self

    def __pos__(self) -> Surface:
        return self

    __hash__ = object.__hash__  # identity, as PyTorch tensors hash (== is elementwise)

    # NumPy protocol: np.exp(value) records the registered op (see numpy_binding) --------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:  # np.exp(x): the op's method, with no detour
            op = UFUNCS.get(ufunc)
            if op is not None:
                return owner(inputs)._apply(op, inputs, _NO_PARAMS, None)
        if method in ("reduce", "accumulate"):
            return statistics.ufunc_method(ufunc, method, inputs, kwargs)
        if method in ("outer", "at"):
            return signal.ufunc_method(ufunc, method, inputs, kwargs)
        if method != "__call__":
            raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported on symgrad values")
        return numpy_binding.ufunc(ufunc, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return numpy_binding.function(func, args, kwargs)


# PyTorch's keyword for the second operand of a binary op: `x.mul(other=y)`, `x.pow(exponent=2)`
_SECOND = {"pow": "exponent"}
_NO_PARAMS: dict = {}  # shared by every call without params: never written to


def _applying(op: Op) -> Callable:
    """The method applying `op` to the value and any further operands."""
    keyword = _SECOND.get(op.name, "other") if len(op.args) == 2 else None

    def method(self: Surface, *others: Any, **named: Any) -> Surface:
        if named:
            extra = next((k for k in named if k != keyword), None)
            if extra is not None:
                raise TypeError(f"{op.name}() got an unexpected keyword argument '{extra}'")
            if others:
                raise TypeError(f"{op.name}() got multiple values for argument '{keyword}'")
            others = (named[keyword],)
        if not others:  # x.exp(): the value's own kind records it
            return ALONE[type(self)]._apply(op, (self,), _NO_PARAMS, None)
        args = (self, *others)
        if len(others) == 1:
            kind, other = type(self), type(others[0])
            if other is kind or other is float or other is int:
                return ALONE[kind]._apply(op, args, _NO_PARAMS, None)
        return owner(args)._apply(op, args, _NO_PARAMS, None)  # apply(op, *args), one call less
    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = op.doc
    return method


def _operator(op: Op) -> Callable:
    """`value <op> other`: an operator, always given one operand."""
    def method(self: Surface, other: Any) -> Surface:
        kind, of_other = type(self), type(other)
        if of_other is kind or of_other is float or of_other is int:
            return ALONE[kind]._apply(op, (self, other), _NO_PARAMS, None)
        args = (self, other)
        return owner(args)._apply(op, args, _NO_PARAMS, None)
    return method


def _reflected(op: Op) -> Callable:
    """`other <op> value`: the reflected operator."""
    def method(self: Surface, other: Any) -> Surface:
        kind, of_other = type(self), type(other)
        if of_other is kind or of_other is float or of_other is int:
            return ALONE[kind]._apply(op, (other, self), _NO_PARAMS, None)
        args = (other, self)
        return owner(args)._apply(op, args, _NO_PARAMS, None)
    return method


def _operators(op: Op) -> dict[str, Callable]:
    """"add" is `__add__`; "radd" is its reflection `__radd__` when "add" is also listed."""
    out = {}
    for name in op.operators:
        reflected = name.startswith("r") and name[1:] in op.operators
        binary = len(op.args) == 2
        out[f"__{name}__"] = _reflected(op) if reflected else _operator(op) if binary else _applying(op)
    return out


def _install() -> None:
    """Give `Surface` every method the registry declares: derived ones, then written ones."""
    for op in OPS.values():
        for name in op.methods:
            setattr(Surface, name, _applying(op))
        for name, fn in _operators(op).items():
            setattr(Surface, name, fn)
    for name, fn in METHODS.items():
        setattr(Surface, name, fn)


_install()
