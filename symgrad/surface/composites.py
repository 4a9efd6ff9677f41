"""Composite functions: written in primitives, with no derivative rule of their own.

Eager mode shows each as one `grad_fn` node named as PyTorch names it; a trace inlines it.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops import OPS
from symgrad.surface.base import Surface, _axes, _axis, apply, composite, lift

return_types_max = namedtuple("max", ["values", "indices"])
return_types_min = namedtuple("min", ["values", "indices"])


def _count(x: Surface, axes: tuple[int, ...]) -> int:
    return int(np.prod([x.shape[a] for a in axes]))


@composite(lambda x, dim=None, keepdim=False: "MeanBackward0" if dim is None else "MeanBackward1")
def mean(x: Surface, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Surface:
    """Arithmetic mean over `dim` (all dims by default): a sum divided by the count."""
    axes = _axes(dim, x.ndim)
    return x.sum(axes, keepdim=keepdim) / _count(x, axes)


def _correction(unbiased: bool | None, correction: float | None) -> float:
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


@composite(lambda *a, **k: "VarBackward0")
def var(x: Surface, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Surface:
    """Variance over `dim`, with PyTorch's default Bessel correction (`correction=1`)."""
    axes = _axes(dim, x.ndim)
    centered = x - x.sum(axes, keepdim=True) / _count(x, axes)
    dof = _count(x, axes) - _correction(unbiased, correction)
    return (centered * centered).sum(axes, keepdim=keepdim) / dof


@composite(lambda *a, **k: "StdBackward0")
def std(x: Surface, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Surface:
    """Standard deviation: the square root of `var`."""
    return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


@composite("LogsumexpBackward0")
def logsumexp(x: Surface, dim: int | Sequence[int], keepdim: bool = False) -> Surface:
    """log(sum(exp(x))) over `dim`, shifted by the max so it neither overflows nor underflows."""
    axes = _axes(dim, x.ndim)
    shift = x.amax(axes, keepdim=True).detach()
    shift = shift.where(shift.abs() != np.inf, 0.0)  # all -inf (or an inf) must not give nan
    out = (x - shift).exp().sum(axes, keepdim=True).log() + shift
    return out if keepdim else out.reshape(tuple(n for k, n in enumerate(x.shape) if k not in axes))


@composite("SoftmaxBackward0")
def softmax(x: Surface, dim: int) -> Surface:
    """exp(x) normalised along `dim`, computed from x - max so it never overflows."""
    e = (x - x.amax(dim, keepdim=True).detach()).exp()
    return e / e.sum(dim, keepdim=True)


@composite("LogSoftmaxBackward0")
def log_softmax(x: Surface, dim: int) -> Surface:
    """log(softmax(x)) along `dim`, as x - logsumexp(x): stable for any logits."""
    return x - logsumexp(x, dim, keepdim=True)


@composite(lambda x, min=None, max=None: "ClampBackward1")
def clamp(x: Surface, min: Any = None, max: Any = None) -> Surface:
    """x limited to [min, max]; the gradient passes where min <= x <= max, as in PyTorch."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = x
    if min is not None:
        out = out.where(x >= min, min)
    if max is not None:
        out = out.where(x <= max, max)
    return out


def extreme(x: Surface, dim: Any, keepdim: bool, kind: str) -> Any:
    """`max`/`min`: over everything, or along `dim` as (values, indices) like PyTorch."""
    if dim is None:
        op, name = (OPS["amax"], "MaxBackward1") if kind == "max" else (OPS["amin"], "MinBackward1")
        return apply(op, x, axes=tuple(range(x.ndim)), keepdims=False, _name=name)
    d = _axis(dim, x.ndim)
    idx = (x.argmax if kind == "max" else x.argmin)(d, keepdim=keepdim)
    values = _take(x, idx, d, keepdim, "MaxBackward0" if kind == "max" else "MinBackward0")
    return (return_types_max if kind == "max" else return_types_min)(values, idx)


def _take(x: Surface, idx: Surface, d: int, keepdim: bool, name: str) -> Surface:
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


def cat(tensors: Sequence[Any], dim: int = 0) -> Surface:
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ndim = max(len(np.shape(t)) for t in tensors)
    return apply(OPS["cat"], *tensors, axis=_axis(dim, ndim), _name="CatBackward0")


def stack(tensors: Sequence[Any], dim: int = 0) -> Surface:
    """Join tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    lifted = [lift(t, *tensors) for t in tensors]
    d = _axis(dim, lifted[0].ndim + 1)
    return apply(OPS["cat"], *[t.unsqueeze(d) for t in lifted], axis=d, _name="StackBackward0")
