"""Reductions over a tuple of axes: sum, prod, amax/amin (and the argmax/argmin they imply).

Their methods take PyTorch's `dim`/`keepdim` and, since traced NumPy code calls ndarray
methods, NumPy's `axis`/`keepdims`; a batch of examples reduces over shifted axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import batching, dims
from symgrad.ops.core import ShapeError, defop, ndim_of
from symgrad.ops.dispatch import Value, apply, apply_one, method
from symgrad.ops.elementwise import WHERE


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
        len(params["axes"]) == ndim_of(inputs[0]) else partial


SUM = defop("sum", "{x}.sum(axis={axes}, keepdims={keepdims})", shape=reduce_shape, linear=True,
            batch=batching.shift_axes, grad_fn=_name("SumBackward0", "SumBackward1"), vjps=(_sum_vjp,))


def accumulating(x: Any, dtype: Any) -> Any:
    """`x` as PyTorch's sum, prod, cumsum, cumprod and nansum take it: cast to `dtype=` when
    given (the reduction then runs, and wraps, in that dtype), else an eager tensor of bool or
    integers to int64 (NumPy would sum uint8 in uint64), any other as it is. A traced value
    keeps NumPy's rule when no dtype is given. The one place the rule lives."""
    if dtype is None:
        kind = x.dtype.kind
        if kind not in "biu" or x.dtype == np.int64 or not isinstance(x, Value._default):
            return x
        dtype = np.int64
    dt = np.dtype(dtype)
    return x if x.dtype == dt else x.astype(dt)


def kept_dtype(out: Any, x: Any) -> Any:
    """A reduction `out` of `x` back in x's dtype: NumPy sums int32 (or uint8) in int64, where
    `sum(dtype=int32)` is int32 (wrapping as PyTorch's does)."""
    return out if out.dtype == x.dtype else out.astype(x.dtype)


@method("sum", function=True)
def sum_(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
    """Sum over dim (all dims by default), in `dtype` if given (int64 for bool and integers)."""
    if axis is not None or keepdims is not None:
        dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    x = accumulating(self, dtype)
    return kept_dtype(apply_one(SUM, x, {"axes": dims.axes(dim, ndim_of(x)), "keepdims": bool(keepdim)}), x)



def _prod_vjp(ct, ans, x, *, axes, keepdims):
    # d prod / d x_i is the product of the others: no division, so zeros need no special case
    return _kept(ct, x, axes, keepdims) * apply(PROD_OTHERS, x, axes=axes)


PROD = defop("prod", "{x}.prod(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
             batch=batching.shift_axes, grad_fn=_name("ProdBackward0", "ProdBackward1"), vjps=(_prod_vjp,))


def _prod_others(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Each entry's product of the other entries of its row (the entries reduced together over
    `axes`): the exclusive cumulative products from the left and from the right, multiplied.
    Exact with zeros, where prod / x is not."""
    to = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, to)
    rows = moved.reshape(moved.shape[:x.ndim - len(axes)] + (int(np.prod([x.shape[a] for a in axes])),))
    ones = np.ones_like(rows[..., :1])
    left = np.cumprod(np.concatenate([ones, rows[..., :-1]], -1), -1)
    right = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], -1), -1)[..., ::-1]
    return np.moveaxis((left * right).reshape(moved.shape), to, axes)


def _prod_others_vjp(ct, ans, x, *, axes):
    # d others_i / d x_k (i != k, one row) is the product of the row but x_i and x_k: others_i
    # of the row with x_k set to 1. A new leading axis holds that copy of x for each k, so the
    # rule is this op again, one axis up, and so is its own rule: right to every order, with no
    # division (at the cost of a copy of each row per entry of it).
    n = int(np.prod([x.shape[a] for a in axes]))
    eye = np.eye(n, dtype=bool).reshape((n,) + tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim)))
    up = tuple(a + 1 for a in axes)
    others = apply(PROD_OTHERS, apply(WHERE, eye, 1.0, x), axes=up)  # [k, ..., i]: without x_i, x_k
    per_k = apply(WHERE, eye, 0.0, ct * others).sum(up, keepdim=True)  # sum over i != k
    return apply(WHERE, eye, per_k, 0.0).sum(0)  # back to position k


def _same_shape(x: tuple, *, axes: tuple[int, ...]) -> tuple:
    reduce_shape(x, axes=axes, keepdims=False)  # checks the axes
    return x


PROD_OTHERS = defop("prod_others", "prod_others({x}, {axes})", shape=_same_shape,
                    helpers={"prod_others": _prod_others}, batch=batching.shift_axes,
                    vjps=(_prod_others_vjp,))


@method("prod", function=True)
def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
    """Product over dim (all dims by default), in `dtype` if given (int64 for bool and integers)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    x = accumulating(self, dtype)
    return kept_dtype(apply(PROD, x, axes=dims.axes(dim, x.ndim), keepdims=bool(keepdim)), x)



def _extreme_vjp(ct, ans, x, *, axes, keepdims):
    # ties share the gradient evenly, as PyTorch's amax/amin do
    ct, ans = _kept(ct, x, axes, keepdims), _kept(ans, x, axes, keepdims)
    hit = x == ans
    return (ct / hit.astype(x.dtype).sum(axes, keepdim=True)).where(hit, 0.0)  # a float count: no promotion


SHORT_ROWS = 32  # a last axis up to this long is reduced column-wise (see `_print_extreme`)


def _print_extreme(method: str) -> Callable[..., str | None]:
    def printer(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
        """The max (min) of each row of a matrix with short rows (the logits of a batch over
        10 classes: softmax's and cross-entropy's shift), as the max of the columns of its
        transpose made contiguous: NumPy reduces a short contiguous row with a vector loop
        set up per row, 4.4 us on 64x10 and 58 on 1000x10, against 1.7 and 5.6 this way.
        The same values: a max is exact in any order."""
        shape = tuple(shapes[0])
        if len(shape) != 2 or tuple(params["axes"]) != (1,) or shape[1] > SHORT_ROWS:
            return None
        out = f"{lib.np.ascontiguousarray}({names[0]}.T).{method}(axis=0)"
        return f"{out}[:, None]" if params["keepdims"] else out
    return printer


AMAX = defop("amax", "{x}.max(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
             printer=_print_extreme("max"), batch=batching.shift_axes, grad_fn="AmaxBackward0",
             vjps=(_extreme_vjp,))
AMIN = defop("amin", "{x}.min(axis={axes}, keepdims={keepdims})", shape=reduce_shape,
             printer=_print_extreme("min"), batch=batching.shift_axes, grad_fn="AminBackward0",
             vjps=(_extreme_vjp,))


@method("amax", function=True)
def amax(self, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Maximum over dims (all by default; ties share the gradient)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return apply(AMAX, self, axes=dims.axes(None if dim == () else dim, self.ndim), keepdims=bool(keepdim))


@method("amin", function=True)
def amin(self, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Minimum over dims (all by default; ties share the gradient)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return apply(AMIN, self, axes=dims.axes(None if dim == () else dim, self.ndim), keepdims=bool(keepdim))




def _arg_shape(x: tuple, *, axis: int | None, keepdims: bool) -> tuple:
    if axis is None:
        return (1,) * len(x) if keepdims else ()
    return reduce_shape(x, axes=(axis,), keepdims=keepdims)


def _int64(inputs: tuple, params: dict) -> np.dtype:
    return np.dtype(np.int64)


def _arg_batch(op, args, batched, params, size):
    if params["axis"] is None:
        raise batching.NotBatchable(op.name)
    return apply(op, args[0], **{**params, "axis": params["axis"] + 1})


ARGMAX = defop("argmax", "np.argmax({x}, axis={axis}, keepdims={keepdims})", shape=_arg_shape,
               dtype=_int64, batch=_arg_batch, vjps=(None,))
ARGMIN = defop("argmin", "np.argmin({x}, axis={axis}, keepdims={keepdims})", shape=_arg_shape,
               dtype=_int64, batch=_arg_batch, vjps=(None,))


@method("argmax", function=True)
def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the maximum (of the flattened value, or along dim)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    axis = None if dim is None else dims.axis(dim, self.ndim)
    return apply(ARGMAX, self, axis=axis, keepdims=bool(keepdim))


@method("argmin", function=True)
def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the minimum (of the flattened value, or along dim)."""
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    axis = None if dim is None else dims.axis(dim, self.ndim)
    return apply(ARGMIN, self, axis=axis, keepdims=bool(keepdim))

