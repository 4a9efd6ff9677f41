"""Cumulative and ordering primitives along one axis: cumsum, cumprod, argsort.

A sort is no primitive: it is `argsort` (no gradient) and a gather of the values at those
indices (an integer-array `getitem`), whose gradient scatters back through the permutation;
see `symgrad.surface.statistics`, which holds the functions users call (`np.cumsum`,
`x.sort()`, `np.median`...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops.core import ShapeError, defop
from symgrad.ops.dispatch import apply


def _along(x: tuple, *, axis: int, **_: Any) -> tuple:
    if not 0 <= axis < len(x):
        raise ShapeError(f"axis {axis} is out of range for shape {x}")
    return x


def _accumulated(inputs: tuple, params: dict) -> np.dtype:
    """NumPy's (and PyTorch's) accumulation dtype: bools and small integers widen to int64."""
    return np.cumsum(np.zeros(1, np.result_type(inputs[0]))).dtype


def _shifted(op: Any, args: tuple, batched: tuple[bool, ...], params: dict, size: int) -> Any:
    """Along `axis` of an example is along axis + 1 of the batch."""
    return apply(op, args[0], **{**params, "axis": params["axis"] + 1})


# ---------------------------------------------------------------- cumsum

def _cumsum_code(names: list[str], p: dict, lib: Any) -> str:
    x, a = names[0], p["axis"]
    if not p["reverse"]:
        return f"{lib.np.cumsum}({x}, axis={a})"
    return f"{lib.np.flip}({lib.np.cumsum}({lib.np.flip}({x}, {a}), axis={a}), {a})"


def _cumsum(x: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
    if not reverse:
        return np.cumsum(x, axis=axis)
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


# `reverse` sums from the end: cumsum's adjoint, so its VJP is one op (and so is that one's)
CUMSUM = defop(
    "cumsum", _cumsum_code, forward=_cumsum, shape=_along, dtype=_accumulated, linear=True,
    batch=_shifted,
    vjps=(lambda ct, ans, x, *, axis, reverse: apply(CUMSUM, ct, axis=axis, reverse=not reverse),),
)


# ---------------------------------------------------------------- cumprod

def _cumprod_vjp(ct, ans, x, *, axis):
    # d ans_j / d x_i (i <= j) is the product of x[..j] but x_i. Along each row, split at its
    # first two zeros z1 < z2. Before z1 that is ans_j / x_i. At z1 it is the cumprod of x
    # with x[z1] = 1. Between z1 and z2 it is x[z1] times that over x_i, and at z2 x[z1] times
    # the cumprod with x[z1] = x[z2] = 1: zero in value, but the factor x[z1] keeps the
    # derivative a Hessian needs. After z2 every term holds two zeros: zero to second order.
    # So, unlike ans / x, the rule holds with zeros, to second order (as PyTorch's does).
    count = apply(CUMSUM, x == 0, axis=axis, reverse=False)  # zeros among x[..i]
    nth = count.where(x == 0, 0)  # k at the k-th zero, 0 elsewhere
    safe = x.where(x != 0, 1.0)
    x1 = x.where(nth != 1, 1.0)
    x12 = x1.where(nth != 2, 1.0)
    at_z1 = x.where(nth == 1, 0.0).sum(axis, keepdim=True)

    def tail(p):  # sum over j >= i of ct_j * p_j
        return apply(CUMSUM, ct * p, axis=axis, reverse=True)

    after_z1 = tail(apply(CUMPROD, x1, axis=axis))
    grad = (at_z1 * tail(apply(CUMPROD, x12, axis=axis))).where(nth == 2, 0.0)
    grad = (at_z1 * after_z1 / safe).where(count == 1, grad)
    grad = after_z1.where(nth == 1, grad)
    return (tail(ans) / safe).where(count == 0, grad)


CUMPROD = defop("cumprod", "np.cumprod({x}, axis={axis})", shape=_along, dtype=_accumulated,
                batch=_shifted, vjps=(_cumprod_vjp,))


# ---------------------------------------------------------------- argsort

def _argsort_code(names: list[str], p: dict, lib: Any) -> str:
    x, a = names[0], p["axis"]
    if not p["descending"]:
        return f"{lib.np.argsort}({x}, axis={a}, kind='stable')"
    # stable and descending: sort the reversed row ascending, then reverse back (NaN first, as PyTorch)
    return (f"{x}.shape[{a}] - 1 - {lib.np.flip}({lib.np.argsort}({lib.np.flip}({x}, {a}), axis={a}, "
            f"kind='stable'), {a})")


def _argsort(x: np.ndarray, *, axis: int, descending: bool) -> np.ndarray:
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    return x.shape[axis] - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)


ARGSORT = defop("argsort", _argsort_code, forward=_argsort, shape=_along,
                dtype=lambda inputs, params: np.dtype(np.int64), batch=_shifted, vjps=(None,))


# ---------------------------------------------------------------- where running extremes were found

# cummax/cummin are this and a gather of x at its indices, whose gradient scatters back
CUMULATIVE_ARGMAX = defop(
    "cumulative_argmax", "cumulative_argmax({x}, {axis}, {largest})", kernels=("cumulative_argmax",),
    shape=_along, dtype=lambda inputs, params: np.dtype(np.int64), batch=_shifted, vjps=(None,),
)
