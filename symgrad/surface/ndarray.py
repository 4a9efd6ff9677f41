"""The NumPy face: what a traced value does where an ndarray and a torch.Tensor differ.

A traced value behaves as the ndarray it stands for: `x.var()` divides by n (`ddof=0`),
`x.max(0)` gives values, `x.size` is an int, and reductions take NumPy's keywords (`axis=`,
`keepdims=`, `dtype=`, `where=`, `initial=`). The same functions serve `np.sum(x, ...)`
and `x.sum(...)`, so NumPy's functions and methods never disagree. An eager Tensor keeps
PyTorch's meaning for the same names (`symgrad.surface.composites`, `symgrad.ops.reduce`).

PyTorch's `keepdim=` is accepted beside `keepdims=`: it can mean only one thing, and the
ops' own rules use it on values of either face.
"""

from __future__ import annotations

import copy as copy_
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import OPS, apply, dims, lift
from symgrad.ops.dispatch import FACES, method, no_out, numpy_function, user_line
from symgrad.surface.composites import numpy_clip


def _keep(keepdims: bool, keepdim: bool | None) -> bool:
    return bool(keepdims if keepdim is None else keepdim)


def _axes(x: Any, axis: Any) -> tuple[int, ...]:
    return dims.axes(dims.numpy_axis(axis), x.ndim)


def _cast(x: Any, dtype: Any) -> Any:
    return x if dtype is None or np.dtype(dtype) == x.dtype else x.astype(dtype)


def _masked(x: Any, where: Any, fill: float) -> Any:
    """x where `where` holds, else `fill` (the reduction's identity): NumPy's `where=`."""
    return x if where is None or where is True else x.where(lift(where, x), fill)


def _reduction(op: str, identity: float, combine: Callable[[Any, Any], Any]) -> Callable:
    """NumPy's `sum`/`prod`: axis, dtype, keepdims, `initial` (combined in) and `where`."""
    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
               initial: Any = None, where: Any = None, *, keepdim: bool | None = None) -> Any:
        no_out(op, out)
        x = _cast(lift(a), dtype)
        result = apply(OPS[op], _masked(x, where, identity), axes=_axes(x, axis),
                       keepdims=_keep(keepdims, keepdim))
        return result if initial is None else combine(result, initial)
    reduce.__name__ = op
    reduce.__doc__ = f"NumPy's {op}: over `axis` (all by default), with `initial` and `where=`."
    return reduce


sum_ = _reduction("sum", 0.0, lambda r, v: r + v)
prod = _reduction("prod", 1.0, lambda r, v: r * v)


def _extreme(op: str, fill: float) -> Callable:
    """NumPy's `max`/`min` (`amax`/`amin`): values only; `where=` needs `initial`."""
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
               where: Any = None, *, keepdim: bool | None = None) -> Any:
        no_out(op, out)
        x = lift(a)
        ufunc = "maximum" if op == "amax" else "minimum"
        if where is not None and where is not True and initial is None:
            raise ValueError(f"reduction operation '{ufunc}' does not have an identity, so to use a "
                             "where mask one has to specify 'initial'")
        if x.ndim and 0 in [x.shape[k] for k in _axes(x, axis)] and initial is None:
            raise ValueError(f"zero-size array to reduction operation {ufunc} which has no identity")
        result = apply(OPS[op], _masked(x, where, fill), axes=_axes(x, axis),
                       keepdims=_keep(keepdims, keepdim))
        if initial is None:
            return result
        return np.maximum(result, initial) if op == "amax" else np.minimum(result, initial)
    reduce.__name__ = op
    reduce.__doc__ = f"NumPy's {op}: the values over `axis`, with `initial` and `where=`."
    return reduce


amax = _extreme("amax", -np.inf)
amin = _extreme("amin", np.inf)


def _count(x: Any, axis: Any, keepdims: bool, where: Any) -> Any:
    """How many elements each reduction over `axis` sees: a number, or a value with `where=`."""
    if where is None or where is True:
        return int(np.prod([x.shape[k] for k in _axes(x, axis)]))
    mask = lift(where, x)
    return sum_(mask.astype(np.float64) * np.ones(x.shape), axis, keepdims=keepdims)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         where: Any = None, *, keepdim: bool | None = None) -> Any:
    """NumPy's mean: a float result for integer input, as NumPy gives."""
    no_out("mean", out)
    x = lift(a)
    if dtype is None and x.dtype.kind in "biu":
        dtype = np.float64
    keep = _keep(keepdims, keepdim)
    return sum_(x, axis, dtype, keepdims=keep, where=where) / _count(x, axis, keep, where)


_mean = mean  # var's `mean=` argument shadows it


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False,
        where: Any = None, *, mean: Any = None, correction: float | None = None,
        keepdim: bool | None = None) -> Any:
    """NumPy's var: divided by n - ddof (`ddof=0` by default, not PyTorch's n - 1)."""
    no_out("var", out)
    if correction is not None:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    x = lift(a)
    centre = _mean(x, axis, dtype, keepdims=True, where=where) if mean is None else mean
    deviation = x - centre
    keep = _keep(keepdims, keepdim)
    squares = sum_(deviation * deviation, axis, dtype, keepdims=keep, where=where)
    return squares / np.maximum(_count(x, axis, keep, where) - ddof, 0)  # NumPy's: 0 gives inf or nan


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False,
        where: Any = None, *, mean: Any = None, correction: float | None = None,
        keepdim: bool | None = None) -> Any:
    """NumPy's std: the square root of `var`, with `ddof=0` by default."""
    return var(a, axis, dtype, out, ddof, keepdims, where, mean=mean, correction=correction,
               keepdim=keepdim).sqrt()


def _arg(op: str) -> Callable:
    def reduce(a: Any, axis: int | None = None, out: Any = None, *, keepdims: bool = False,
               keepdim: bool | None = None) -> Any:
        no_out(op, out)
        x = lift(a)
        return apply(OPS[op], x, axis=None if axis is None else dims.axis(axis, x.ndim),
                     keepdims=_keep(keepdims, keepdim))
    reduce.__name__ = op
    reduce.__doc__ = f"NumPy's {op}: the index of the flattened value, or along `axis`."
    return reduce


argmax = _arg("argmax")
argmin = _arg("argmin")

for _names, _fn, _numpy in [
    (("sum",), sum_, (np.sum,)), (("prod",), prod, (np.prod,)), (("max",), amax, (np.max, np.amax)),
    (("min",), amin, (np.min, np.amin)), (("mean",), mean, (np.mean,)), (("var",), var, (np.var,)),
    (("std",), std, (np.std,)), (("argmax",), argmax, (np.argmax,)), (("argmin",), argmin, (np.argmin,)),
]:
    method(*_names, face="numpy")(_fn)
    numpy_function(*_numpy)(_fn)


@method("clip", face="numpy")
def clip(self: Any, min: Any = None, max: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """ndarray.clip: `min` and `max` may be arrays, either may be None (both None: the value)."""
    no_out("clip", out)
    lo, hi = kwargs.pop("a_min", min), kwargs.pop("a_max", max)
    if kwargs:
        raise TypeError(f"clip() got unexpected keyword argument(s) {', '.join(kwargs)}")
    return self if lo is None and hi is None else numpy_clip(self, lo, hi)


@numpy_function(np.copy)
@method("copy", face="numpy")
def copy(self: Any, order: str = "K", subok: bool = False) -> Any:
    """ndarray.copy() and np.copy: the same value in a new array, which item assignment may
    write into."""
    return copy_.copy(self)


@method("astype", face="numpy")
def astype(self: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
           copy: bool = True) -> Any:
    """ndarray.astype and np.astype: the value as `dtype` in a new array, refused as NumPy
    refuses a cast `casting` forbids; with copy=False a value of that dtype is itself."""
    dtype = np.dtype(dtype)
    if not np.can_cast(self.dtype, dtype, casting):
        raise TypeError(f"Cannot cast array data from {self.dtype!r} to {dtype!r} according to "
                        f"the rule {casting!r}")
    if dtype == self.dtype and not copy:
        return self
    return apply(OPS["astype"], self, dtype=dtype.name)


if hasattr(np, "astype"):  # NumPy 2.1+
    @numpy_function(np.astype)
    def np_astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
        return astype(lift(x), dtype, copy=copy)


@numpy_function(np.vander)
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803 - NumPy's name
    """The Vandermonde matrix: columns of powers of x (decreasing unless `increasing`)."""
    x = lift(x)
    if x.ndim != 1:
        raise ValueError("numpy.vander: x must be a one-dimensional array or sequence, "
                         f"got shape {tuple(x.shape)}")
    n = x.shape[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    return x.reshape(-1, 1) ** powers


@method("view", face="numpy")
def view(self: Any, dtype: Any = None) -> Any:
    """ndarray.view(): the same value; reading its bytes as another dtype is not traceable."""
    if dtype is not None:
        raise TypeError(f"ndarray.view({dtype!r}) reinterprets bytes; on a traced value use "
                        f".astype({dtype!r}) to convert, or .reshape(...) for a new shape{user_line()}")
    return self


FACES["numpy"]["imag"] = property(lambda self: self.zeros_like(), doc="The imaginary part: zeros.")
FACES["numpy"]["device"] = property(lambda self: "cpu", doc="Where the array lives: 'cpu', as NumPy 2's.")
FACES["numpy"]["size"] = property(
    lambda self: int(np.prod(self.shape, dtype=np.int64)),
    doc="The number of elements, an int as ndarray.size (PyTorch's is the method `size()`).")

