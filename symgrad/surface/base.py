"""The one op surface: operators and methods written once over `apply`.

The eager `Tensor` and the tracer's `Tracer` both subclass `Surface` and implement two
hooks, `_apply` (run or record one primitive) and `_composite` (run a composite function,
eagerly as one named graph node, or inlined into a trace). Everything a user calls (`x + y`,
`x.sum(1)`, `np.exp(x)`) arrives here and becomes `apply(op, ...)`.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.ops import OPS, Op


class Surface:
    """Base of every value that records ops: the eager Tensor and the tracer value."""

    __slots__ = ()
    __array_priority__ = 1000
    _priority = 0  # when values of two kinds meet, the higher priority records the op
    _default: type[Surface]  # the kind that plain arrays turn into (the eager Tensor)

    # hooks each kind implements ------------------------------------------------------
    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Surface:
        raise NotImplementedError

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Surface:
        raise NotImplementedError

    @classmethod
    def _lift(cls, value: Any) -> Any:
        """Turn a non-surface array argument into a constant of this kind (eager only)."""
        raise NotImplementedError

    def _constant(self, value: Any) -> Surface:
        """`value` as a constant of this value's kind (and, for a tracer, its graph)."""
        raise NotImplementedError

    shape: tuple[int, ...]
    dtype: np.dtype

    # properties ----------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return tuple(self.shape) if dim is None else self.shape[_axis(dim, self.ndim)]

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    # operators -----------------------------------------------------------------------
    def __add__(self, other): return apply(OPS["add"], self, other)
    def __radd__(self, other): return apply(OPS["add"], other, self)
    def __sub__(self, other): return apply(OPS["sub"], self, other)
    def __rsub__(self, other): return apply(OPS["sub"], other, self)
    def __mul__(self, other): return apply(OPS["mul"], self, other)
    def __rmul__(self, other): return apply(OPS["mul"], other, self)
    def __truediv__(self, other): return apply(OPS["div"], self, other)
    def __rtruediv__(self, other): return apply(OPS["div"], other, self)
    def __pow__(self, other): return apply(OPS["pow"], self, other)
    def __rpow__(self, other): return apply(OPS["pow"], other, self)
    def __matmul__(self, other): return apply(OPS["matmul"], self, other)
    def __rmatmul__(self, other): return apply(OPS["matmul"], other, self)
    def __neg__(self): return apply(OPS["neg"], self)
    def __pos__(self): return self
    def __lt__(self, other): return apply(OPS["lt"], self, other)
    def __le__(self, other): return apply(OPS["le"], self, other)
    def __gt__(self, other): return apply(OPS["gt"], self, other)
    def __ge__(self, other): return apply(OPS["ge"], self, other)
    def __eq__(self, other): return apply(OPS["eq"], self, other)  # type: ignore[override]
    def __ne__(self, other): return apply(OPS["ne"], self, other)  # type: ignore[override]
    __hash__ = object.__hash__  # identity, as PyTorch tensors hash

    # elementwise methods ---------------------------------------------------------------
    def abs(self): return apply(OPS["abs"], self)
    __abs__ = abs
    def sign(self): return apply(OPS["sign"], self)
    def sin(self): return apply(OPS["sin"], self)
    def cos(self): return apply(OPS["cos"], self)
    def tan(self): return apply(OPS["tan"], self)
    def erf(self): return apply(OPS["erf"], self)
    def relu(self): return apply(OPS["relu"], self)
    def maximum(self, other): return apply(OPS["maximum"], self, other)
    def minimum(self, other): return apply(OPS["minimum"], self, other)
    def exp(self): return apply(OPS["exp"], self)
    def log(self): return apply(OPS["log"], self)
    def log1p(self): return apply(OPS["log1p"], self)
    def expm1(self): return apply(OPS["expm1"], self)
    def tanh(self): return apply(OPS["tanh"], self)
    def sqrt(self): return apply(OPS["sqrt"], self)
    def sigmoid(self): return apply(OPS["sigmoid"], self)
    def pow(self, exponent): return apply(OPS["pow"], self, exponent)
    def add(self, other, alpha=1): return apply(OPS["add"], self, other if alpha == 1 else alpha * other)
    def sub(self, other, alpha=1): return apply(OPS["sub"], self, other if alpha == 1 else alpha * other)
    def mul(self, other): return apply(OPS["mul"], self, other)
    def div(self, other): return apply(OPS["div"], self, other)
    def neg(self): return apply(OPS["neg"], self)
    def matmul(self, other): return apply(OPS["matmul"], self, other)
    def where(self, condition, other): return apply(OPS["where"], condition, self, other)
    def ones_like(self): return apply(OPS["ones_like"], self)
    def zeros_like(self): return apply(OPS["zeros_like"], self)

    # reductions: PyTorch's dim/keepdim, and NumPy's axis/keepdims for traced NumPy code ----
    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None, dtype: Any = None) -> Surface:
        dim, keepdim = _numpy_dims(dim, keepdim, axis, keepdims)
        return apply(OPS["sum"], self, axes=_axes(dim, self.ndim), keepdims=bool(keepdim))

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None, dtype: Any = None) -> Surface:
        dim, keepdim = _numpy_dims(dim, keepdim, axis, keepdims)
        return composites.mean(self, dim, keepdim)

    def prod(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None, dtype: Any = None) -> Surface:
        dim, keepdim = _numpy_dims(dim, keepdim, axis, keepdims)
        return apply(OPS["prod"], self, axes=_axes(dim, self.ndim), keepdims=bool(keepdim))

    def amax(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Surface:
        axes = _axes(None if dim == () else dim, self.ndim)
        return apply(OPS["amax"], self, axes=axes, keepdims=bool(keepdim))

    def amin(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Surface:
        axes = _axes(None if dim == () else dim, self.ndim)
        return apply(OPS["amin"], self, axes=axes, keepdims=bool(keepdim))

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        if axis is not None or keepdims is not None:  # NumPy's ndarray.max: values only
            return self.amax(() if axis is None else axis, bool(keepdims))
        return composites.extreme(self, dim, keepdim, "max")

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        if axis is not None or keepdims is not None:
            return self.amin(() if axis is None else axis, bool(keepdims))
        return composites.extreme(self, dim, keepdim, "min")

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Surface:
        axis = None if dim is None else _axis(dim, self.ndim)
        return apply(OPS["argmax"], self, axis=axis, keepdims=bool(keepdim) and dim is not None)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Surface:
        axis = None if dim is None else _axis(dim, self.ndim)
        return apply(OPS["argmin"], self, axis=axis, keepdims=bool(keepdim) and dim is not None)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Surface:
        return composites.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Surface:
        return composites.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim: int | Sequence[int], keepdim: bool = False) -> Surface:
        return composites.logsumexp(self, dim, keepdim)

    def softmax(self, dim: int) -> Surface:
        return composites.softmax(self, dim)

    def log_softmax(self, dim: int) -> Surface:
        return composites.log_softmax(self, dim)

    def clamp(self, min: Any = None, max: Any = None) -> Surface:
        return composites.clamp(self, min, max)

    clip = clamp

    # shape methods ---------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Surface:
        return apply(OPS["reshape"], self, shape=_resolve_shape(shape, self.shape))

    def view(self, *shape: Any) -> Surface:
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Surface:
        if not self.ndim:
            return self.reshape(1)
        a, b = _axis(start_dim, self.ndim), _axis(end_dim, self.ndim)
        return self.reshape(*self.shape[:a], -1, *self.shape[b + 1:])

    def permute(self, *dims: Any) -> Surface:
        dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return apply(OPS["transpose"], self, axes=tuple(_axis(d, self.ndim) for d in dims))

    def transpose(self, *dims: Any) -> Surface:
        """PyTorch's transpose(dim0, dim1), or NumPy's transpose(*axes) / transpose()."""
        if len(dims) == 2 and all(isinstance(d, (int, np.integer)) for d in dims):
            return self.swapaxes(*dims)  # (for 2-D, NumPy's permutation means the same)
        if not dims or dims == (None,):
            return self.permute(tuple(range(self.ndim))[::-1])
        return self.permute(*dims)

    def swapaxes(self, axis1: int, axis2: int) -> Surface:
        axes = list(range(self.ndim))
        a, b = _axis(axis1, self.ndim), _axis(axis2, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return apply(OPS["transpose"], self, axes=tuple(axes), _name="TransposeBackward0")

    def ravel(self) -> Surface:
        return self.reshape(-1)

    def dot(self, other: Any) -> Surface:
        return numpy_api.function(np.dot, (self, other), {})

    def t(self) -> Surface:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return apply(OPS["transpose"], self, axes=tuple(range(self.ndim))[::-1], _name="TBackward0")

    @property
    def T(self) -> Surface:
        return apply(OPS["transpose"], self, axes=tuple(range(self.ndim))[::-1])

    def unsqueeze(self, dim: int) -> Surface:
        d = _axis(dim, self.ndim + 1)
        shape = self.shape[:d] + (1,) + self.shape[d:]
        return apply(OPS["reshape"], self, shape=shape, _name="UnsqueezeBackward0")

    def squeeze(self, dim: int | None = None, *, axis: Any = None) -> Surface:
        if axis is not None:
            return numpy_api.function(np.squeeze, (self,), {"axis": axis})
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
            return apply(OPS["reshape"], self, shape=shape, _name="SqueezeBackward0")
        d = _axis(dim, self.ndim) if self.ndim else 0
        shape = self.shape[:d] + self.shape[d + 1:] if self.shape and self.shape[d] == 1 else self.shape
        return apply(OPS["reshape"], self, shape=shape, _name="SqueezeBackward1")

    def broadcast_to(self, shape: Sequence[int]) -> Surface:
        return apply(OPS["broadcast_to"], self, shape=tuple(shape))

    def expand(self, *sizes: Any) -> Surface:
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return self.broadcast_to(shape)

    # indexing ------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Surface:
        index, arrays = _index(key, self)
        return self._getitem(index, arrays)

    def _getitem(self, index: tuple, arrays: tuple) -> Surface:
        return apply(OPS["getitem"], self, *arrays, index=index)

    def _scatter(self, shape: tuple[int, ...], index: tuple, arrays: tuple) -> Surface:
        return apply(OPS["scatter_add"], self, *arrays, shape=tuple(shape), index=index)

    def _setitem(self, value: Any, index: tuple, arrays: tuple) -> Surface:
        return apply(OPS["setitem"], self, value, *arrays, index=index)

    def astype(self, dtype: Any) -> Surface:
        return apply(OPS["astype"], self, dtype=np.dtype(dtype).name)

    def detach(self) -> Surface:
        return apply(OPS["stop_gradient"], self)

    # NumPy protocol: np.exp(value) records the registered op (see symgrad.numpy_api) --
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__":
            raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported on symgrad values")
        return numpy_api.ufunc(ufunc, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return numpy_api.function(func, args, kwargs)


# ---------------------------------------------------------------- dispatch

def apply(op: Op, *args: Any, _name: str | None = None, **params: Any) -> Surface:
    """Apply a primitive to surface values, arrays or Python scalars."""
    return _owner(args)._apply(op, args, params, _name)


def lift(x: Any, *like: Any) -> Surface:
    """`x` as a symgrad value of the kind found among `like` (a constant of a tracer's graph,
    or an eager tensor): arrays, lists and scalars that an op or function is given."""
    if isinstance(x, Surface):
        return x
    kind = _owner(like)
    owner = next((v for v in like if type(v) is kind), None)
    return owner._constant(x) if owner is not None else Surface._default._lift(np.asarray(x))


def _owner(args: Sequence[Any]) -> type[Surface]:
    best: type[Surface] = Surface._default
    for a in args:
        if isinstance(a, Surface) and type(a)._priority > best._priority:
            best = type(a)
    return best


def composite(grad_fn: str | Callable[..., str]) -> Callable[[Callable], Callable]:
    """Declare a function of primitives that eager mode shows as one `grad_fn` node.

    It has no derivative rule of its own: eager backward walks its primitives and a trace
    inlines them.
    """
    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Surface:
            name = grad_fn(*args, **kwargs) if callable(grad_fn) else grad_fn
            return _owner(args)._composite(fn, name, args, kwargs)
        return wrapper
    return deco


# ---------------------------------------------------------------- dims and shapes

def _axis(dim: int, ndim: int) -> int:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim % max(ndim, 1)


def _axes(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not ndim and all(d in (0, -1) for d in dims):
        return ()
    axes = tuple(sorted({_axis(int(d), ndim) for d in dims}))
    if len(axes) != len(dims):
        raise RuntimeError(f"dim {tuple(dims)} appears multiple times in the list of dims")
    return axes


def _numpy_dims(dim: Any, keepdim: bool, axis: Any, keepdims: bool | None) -> tuple[Any, bool]:
    """NumPy's axis=/keepdims= (traced NumPy code calls ndarray methods) as dim/keepdim."""
    if axis is not None:
        dim = axis
    return dim, keepdim if keepdims is None else keepdims


def _resolve_shape(shape: tuple, old: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
    shape = tuple(int(n) for n in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1]))
        total = int(np.prod(old))
        if known == 0 or total % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {total}")
        shape = tuple(total // known if n == -1 else n for n in shape)
    return shape


def where(condition: Any, input: Any, other: Any) -> Surface:
    """Elementwise `input` where `condition` holds, else `other` (a data-dependent choice that traces)."""
    return apply(OPS["where"], condition, input, other)


def _index(key: Any, x: Surface) -> tuple[tuple, tuple]:
    """(structure, integer arrays) for a Python index: see `symgrad.ops.index`."""
    items = key if isinstance(key, tuple) else (key,)
    index: list[tuple] = []
    arrays: list[Any] = []
    for item in items:
        if item is None:
            index.append(("new",))
        elif item is Ellipsis:
            index.append(("...",))
        elif isinstance(item, slice):
            index.append(("slice", *(None if v is None else int(v) for v in
                                     (item.start, item.stop, item.step))))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            index.append(("int", int(item)))
        else:
            for arr in _index_arrays(item):
                index.append(("arr", len(arrays)))
                arrays.append(arr)
    return tuple(index), tuple(arrays)


def _index_arrays(item: Any) -> list[Any]:
    """An array index as integer arrays: a boolean mask becomes one array per dim it covers."""
    if isinstance(item, Surface):
        if item.dtype != np.bool_:
            return [item]
        if type(item) is not Surface._default:
            raise TypeError(
                "boolean mask indexing gives a shape that depends on the values, so it cannot "
                "be traced; use symgrad.where(mask, x, 0) instead")
        item = np.asarray(item)
    array = np.asarray(item)
    if array.dtype == np.bool_:
        return list(np.nonzero(array))
    if array.dtype.kind not in "iu":
        raise IndexError(
            "tensors used as indices must be long, int, byte or bool tensors, got "
            f"{array.dtype}")
    return [array]


def user_site() -> str:
    """`file:line: source` of the innermost caller outside symgrad, or ''."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return ""
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{where}: {text}" if text else where


def user_line() -> str:
    """` (at file:line: source)` for error messages, or ''."""
    site = user_site()
    return f" (at {site})" if site else ""


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # symgrad/

from symgrad.surface import composites  # noqa: E402 - both are written over this surface
from symgrad.surface import numpy_binding as numpy_api  # noqa: E402
