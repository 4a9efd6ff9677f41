"""Composite functions: written in primitives, with no derivative rule of their own.

Eager mode shows each as one `grad_fn` node named as PyTorch names it; a trace inlines it.
Each is declared with its method, `symgrad.*` function and NumPy binding next to it.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops import OPS, Value, apply, dims, lift
from symgrad.ops.dispatch import composite, function, method, no_out, numpy_function

return_types_max = namedtuple("max", ["values", "indices"])
return_types_min = namedtuple("min", ["values", "indices"])


def _count(x: Value, axes: tuple[int, ...]) -> int:
    return int(np.prod([x.shape[a] for a in axes]))


@composite(lambda x, dim=None, keepdim=False: "MeanBackward0" if dim is None else "MeanBackward1")
def mean(x: Value, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Value:
    """Arithmetic mean over `dim` (all dims by default): a sum divided by the count."""
    axes = dims.axes(dim, x.ndim)
    return x.sum(axes, keepdim=keepdim) / _count(x, axes)


def _correction(unbiased: bool | None, correction: float | None) -> float:
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


@composite(lambda *a, **k: "VarBackward0")
def var(x: Value, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Value:
    """Variance over `dim`, with PyTorch's default Bessel correction (`correction=1`)."""
    axes = dims.axes(dim, x.ndim)
    centered = x - x.sum(axes, keepdim=True) / _count(x, axes)
    dof = max(0, _count(x, axes) - _correction(unbiased, correction))  # PyTorch's: 0 gives inf or nan
    return (centered * centered).sum(axes, keepdim=keepdim) / dof


@composite(lambda *a, **k: "StdBackward0")
def std(x: Value, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Value:
    """Standard deviation: the square root of `var`."""
    return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


@composite("LogsumexpBackward0")
def logsumexp(x: Value, dim: int | Sequence[int], keepdim: bool = False) -> Value:
    """log(sum(exp(x))) over `dim`, shifted by the max so it neither overflows nor underflows."""
    axes = dims.axes(dim, x.ndim)
    shift = x.amax(axes, keepdim=True).detach()
    shift = shift.where(shift.abs() != np.inf, 0.0)  # all -inf (or an inf) must not give nan
    out = (x - shift).exp().sum(axes, keepdim=True).log() + shift
    return out if keepdim else out.reshape(tuple(n for k, n in enumerate(x.shape) if k not in axes))


@composite("SoftmaxBackward0")
def softmax(x: Value, dim: int) -> Value:
    """exp(x) normalised along `dim`, computed from x - max so it never overflows."""
    e = (x - x.amax(dim, keepdim=True).detach()).exp()
    return e / e.sum(dim, keepdim=True)


@composite("LogSoftmaxBackward0")
def log_softmax(x: Value, dim: int) -> Value:
    """log(softmax(x)) along `dim`, as (x - m) - log(sum(exp(x - m))) with m = max(x): stable
    for any logits, and nan on a row holding +inf or only -inf, as PyTorch's."""
    shifted = x - x.amax(dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def _clamp_name(x: Any, min: Any = None, max: Any = None) -> str:
    """PyTorch's ClampBackward1 for number bounds, ClampBackward0 for tensor bounds."""
    return "ClampBackward1" if all(b is None or isinstance(b, (int, float)) for b in (min, max)) \
        else "ClampBackward0"


def _numeric_bound(bound: Any) -> bool:
    """A bound clamp can compare with: a real number, or a value or array of numbers."""
    if isinstance(bound, Value):
        return True
    if isinstance(bound, (list, tuple, np.ndarray, np.generic)):
        try:
            return np.asarray(bound).dtype.kind in "biuf"
        except ValueError:  # ragged
            return False
    return isinstance(bound, (int, float))


@composite(_clamp_name)
def clamp(x: Value, min: Any = None, max: Any = None) -> Value:
    """x limited to [min, max] (bounds numbers or arrays; max wins where min > max, NaN stays).
    The gradient goes to whichever of x, min, max was taken, as in PyTorch."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    for what, bound in (("min", min), ("max", max)):
        if bound is not None and not _numeric_bound(bound):
            raise TypeError(f"clamp(): argument '{what}' must be a real number or a numeric "
                            f"tensor, got {type(bound).__name__} {bound!r}")
    out = x
    if min is not None:
        out = apply(OPS["where"], x < min, min, out)
    if max is not None:
        out = apply(OPS["where"], out > max, max, out)
    return out


@method("max", function=True)
def max_(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum: of everything, or (values, indices) along dim (`axis=` is its alias)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return extreme(self, dim, keepdim, "max")


@method("min", function=True)
def min_(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum: of everything, or (values, indices) along dim (`axis=` is its alias)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return extreme(self, dim, keepdim, "min")


def extreme(x: Value, dim: Any, keepdim: bool, kind: str) -> Any:
    """`max`/`min`: over everything, or along `dim` as (values, indices) like PyTorch."""
    if dim is None:
        op, name = (OPS["amax"], "MaxBackward1") if kind == "max" else (OPS["amin"], "MinBackward1")
        return apply(op, x, axes=tuple(range(x.ndim)), keepdims=False, _name=name)
    d = dims.axis(dim, x.ndim)
    idx = (x.argmax if kind == "max" else x.argmin)(d, keepdim=keepdim)
    values = _take(x, idx, d, keepdim, "MaxBackward0" if kind == "max" else "MinBackward0")
    return (return_types_max if kind == "max" else return_types_min)(values, idx)


def _take(x: Value, idx: Value, d: int, keepdim: bool, name: str) -> Value:
    """x at `idx` along dim d: an integer-array `getitem`, so the gradient goes to the chosen
    element only (PyTorch's max(dim) does the same)."""
    out_dims = list(range(x.ndim)) if keepdim else [k for k in range(x.ndim) if k != d]
    arrays = []
    for k, n in enumerate(x.shape):
        if k == d:
            arrays.append(idx)
            continue
        shape = [1] * len(out_dims)
        shape[out_dims.index(k)] = n
        arrays.append(np.arange(n).reshape(shape))
    index = tuple(("arr", k) for k in range(x.ndim))
    return apply(OPS["getitem"], x, *arrays, index=index, _name=name)


# ---------------------------------------------------------------- methods and NumPy bindings

@method("mean")
def _mean_method(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return mean(self if dtype is None else self.astype(dtype), dim, keepdim)


@method("var")
def _var_method(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return var(self, dim, unbiased, keepdim, correction=correction)


@method("std")
def _std_method(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return std(self, dim, unbiased, keepdim, correction=correction)


@method("logsumexp")
def _logsumexp_method(self, dim, keepdim=False):
    return logsumexp(self, dim, keepdim)


@method("softmax")
def _softmax_method(self, dim):
    return softmax(self, dim)


@method("log_softmax")
def _log_softmax_method(self, dim):
    return log_softmax(self, dim)


@method("clamp", "clip", inplace=True)
def _clamp_method(self, min=None, max=None):
    return clamp(self, min, max)


@function
def clip(input: Any, min: Any = None, max: Any = None) -> Any:
    """Alias of `clamp`."""
    return clamp(lift(input), min, max)


for _fn in (mean, var, std, logsumexp, softmax, log_softmax, clamp):
    function(_fn)





@numpy_function(np.clip)
def _np_clip(a, a_min=None, a_max=None, out=None, **kw):
    no_out("clip", out)
    lo, hi = kw.get("min", a_min), kw.get("max", a_max)
    return numpy_clip(lift(a, a, lo, hi), lo, hi)


def numpy_clip(x: Value, lo: Any, hi: Any) -> Value:
    """`np.clip` and `ndarray.clip`. On an eager Tensor it is PyTorch's clamp (the gradient 1 at
    a bound, which counts as inside); traced, NumPy's own definition minimum(maximum(x, lo), hi),
    whose gradient at a bound is shared half and half with the bound, as JAX's jnp.clip (a zero
    lower bound makes maximum(x, 0), relu, with gradient 0 at 0)."""
    if isinstance(x, Value._default):
        return clamp(x, lo, hi)
    out = x if lo is None else apply(OPS["maximum"], x, lift(lo, x))
    return out if hi is None else apply(OPS["minimum"], out, lift(hi, x))
