"""Reductions over a tuple of axes: sum, prod, amax/amin (and the argmax/argmin they imply)."""

from __future__ import annotations

import numpy as np

from symgrad.ops.core import ShapeError, defop, shape_of


def reduce_shape(x: tuple, *, axes: tuple[int, ...], keepdims: bool) -> tuple:
    for a in axes:
        if not 0 <= a < len(x):
            raise ShapeError(f"axis {a} is out of range for shape {x}")
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(x))
    return tuple(n for i, n in enumerate(x) if i not in axes)


def _kept(v, x, axes, keepdims):
    """`v` (reduced over `axes`) with the reduced axes kept as 1s, so it broadcasts against x."""
    return v if keepdims else v.reshape(reduce_shape(x.shape, axes=axes, keepdims=True))


def _sum_vjp(ct, ans, x, *, axes, keepdims):
    return _kept(ct, x, axes, keepdims).broadcast_to(x.shape)


def _name(full: str, partial: str):
    return lambda inputs, params: full if not params["keepdims"] and \
        len(params["axes"]) == len(shape_of(inputs[0])) else partial


defop("sum", "{x}.sum(axis={axes}, keepdims={keepdims})", shape=reduce_shape, linear=True,
      grad_fn=_name("SumBackward0", "SumBackward1"), vjps=(_sum_vjp,))


def _prod_vjp(ct, ans, x, *, axes, keepdims):
    # d prod / d x_i is the product of the others: ans / x_i, except where x has zeros
    ct, ans = _kept(ct, x, axes, keepdims), _kept(ans, x, axes, keepdims)
    safe = x.where(x != 0, 1.0)
    zeros = (x == 0).sum(axes, keepdim=True)
    at_zero = safe.prod(axes, keepdim=True).where(zeros == 1, 0.0)  # only a lone zero has one
    return ct * (ans / safe).where(x != 0, at_zero)


defop("prod", "{x}.prod(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
      grad_fn=_name("ProdBackward0", "ProdBackward1"), vjps=(_prod_vjp,))


def _extreme_vjp(ct, ans, x, *, axes, keepdims):
    # ties share the gradient evenly, as PyTorch's amax/amin do
    ct, ans = _kept(ct, x, axes, keepdims), _kept(ans, x, axes, keepdims)
    hit = x == ans
    return (ct / hit.sum(axes, keepdim=True)).where(hit, 0.0)


defop("amax", "{x}.max(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
      grad_fn="AmaxBackward0", vjps=(_extreme_vjp,))
defop("amin", "{x}.min(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
      grad_fn="AminBackward0", vjps=(_extreme_vjp,))


def _arg_shape(x: tuple, *, axis: int | None, keepdims: bool) -> tuple:
    if axis is None:
        return (1,) * len(x) if keepdims else ()
    return reduce_shape(x, axes=(axis,), keepdims=keepdims)


def _int64(inputs: tuple, params: dict) -> np.dtype:
    return np.dtype(np.int64)


defop("argmax", "np.argmax({x}, axis={axis}, keepdims={keepdims})", shape=_arg_shape,
      dtype=_int64, vjps=(None,))
defop("argmin", "np.argmin({x}, axis={axis}, keepdims={keepdims})", shape=_arg_shape,
      dtype=_int64, vjps=(None,))
