"""Batched cotangents: run reverse mode once for many seeds (a vmap of the VJP rules).

A Jacobian needs one reverse pass per output element; since every VJP is linear in its
cotangent, all of them can run at once on a cotangent with an extra leading axis (the
identity, reshaped). `Batched` is a tracer whose leading axis the ops do not see: each op
applied to it is rewritten by a batching rule (mostly: shift the axes by one). An op with
no rule raises `NotBatchable`, and the caller falls back to one pass per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import OPS, Op, shape_of
from symgrad.surface.base import Surface, apply
from symgrad.tracing.tracer import Tracer


class NotBatchable(Exception):
    """An op met a batched cotangent and has no batching rule."""


class Batched(Surface):
    """A tracer `t` of shape (size, *shape): `size` examples of a value of `shape`."""

    __slots__ = ("t", "size")
    _priority = 3

    def __init__(self, t: Tracer, size: int) -> None:
        self.t, self.size = t, size

    @property
    def shape(self) -> tuple[int, ...]:
        return self.t.shape[1:]

    @property
    def dtype(self) -> np.dtype:
        return self.t.dtype

    def _constant(self, value: Any) -> Tracer:
        return self.t._constant(value)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Batched:
        size = next(a.size for a in args if isinstance(a, Batched))
        rule = RULES.get(op.name) or (_elementwise if op.elementwise else None)
        if rule is None:
            raise NotBatchable(op.name)
        return Batched(rule(op, args, params, size), size)

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)


def _lifted(a: Any, rank: int, size: int) -> Any:
    """A batched value as its tracer with unit dims after the batch axis up to `rank`."""
    if not isinstance(a, Batched):
        return a
    r = len(a.shape)
    return a.t if r == rank else a.t.reshape((size,) + (1,) * (rank - r) + a.shape)


def _full(a: Any, size: int) -> Tracer:
    """Any value as a batched tracer (unbatched ones are broadcast along the batch)."""
    if isinstance(a, Batched):
        return a.t
    return a.broadcast_to((size,) + tuple(shape_of(a)))


def _elementwise(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    rank = max(len(shape_of(a)) for a in args)
    return apply(op, *[_lifted(a, rank, size) for a in args], **params)


def _shifted(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    return apply(op, args[0].t, **{**params, "axes": tuple(a + 1 for a in params["axes"])})


def _arg(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    if params["axis"] is None:
        raise NotBatchable(op.name)
    return apply(op, args[0].t, **{**params, "axis": params["axis"] + 1})


def _reshape(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    return apply(op, args[0].t, shape=(size,) + tuple(params["shape"]))


def _transpose(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    return apply(op, args[0].t, axes=(0,) + tuple(a + 1 for a in params["axes"]))


def _broadcast_to(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    target = tuple(params["shape"])
    return apply(op, _lifted(args[0], len(target), size), shape=(size,) + target)


def _unary(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    return apply(op, args[0].t, **params)


def _matmul(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    x, y = args
    xs, ys = shape_of(x), shape_of(y)
    xb, yb = isinstance(x, Batched), isinstance(y, Batched)
    if len(xs) > 2 or len(ys) > 2:
        raise NotBatchable("batched matmul")
    if xb and yb:
        if len(xs) == 1 and len(ys) == 1:
            return (x.t * y.t).sum(1)
        xt = x.t.unsqueeze(1) if len(xs) == 1 else x.t
        yt = y.t.unsqueeze(-1) if len(ys) == 1 else y.t
        out = xt @ yt
        return out.reshape((size,) + _out_shape(xs, ys))
    if xb:  # (B, k) @ (k, m), (B, n, k) @ (k, m), (B, k) @ (k,): NumPy's rules batch it
        return x.t @ y
    if len(ys) == 1:  # x @ y_b for each b: y (B, k) @ x.T
        return y.t @ (x.T if len(xs) == 2 else x)
    return x @ y.t  # (n, k) @ (B, k, m) or (k,) @ (B, k, m)


def _out_shape(xs: tuple, ys: tuple) -> tuple:
    return xs[:-1] + ys[1:] if len(ys) > 1 else xs[:-1]


def _index_with_batch(op_name: str, index: tuple) -> tuple:
    kinds = [k[0] for k in index]
    advanced = [i for i, k in enumerate(kinds) if k in ("arr", "int")]
    if "arr" in kinds and advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise NotBatchable(f"{op_name} with separated array indices")
    return (("slice", None, None, None),) + tuple(index)


def _getitem(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    if any(isinstance(a, Batched) for a in args[1:]):
        raise NotBatchable("batched index arrays")
    index = _index_with_batch(op.name, params["index"])
    return apply(op, _full(args[0], size), *args[1:], index=index)


def _scatter_add(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    if any(isinstance(a, Batched) for a in args[1:]):
        raise NotBatchable("batched index arrays")
    index = _index_with_batch(op.name, params["index"])
    return apply(op, _full(args[0], size), *args[1:], shape=(size,) + tuple(params["shape"]),
                 index=index)


def _setitem(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    x, v, *arrays = args
    if any(isinstance(a, Batched) for a in arrays):
        raise NotBatchable("batched index arrays")
    index = _index_with_batch(op.name, params["index"])
    region = OPS["getitem"].out_shape((shape_of(x), *map(shape_of, arrays)), {"index": params["index"]})
    return apply(op, _full(x, size), _lifted(v, len(region), size), *arrays, index=index)


def _cat(op: Op, args: tuple, params: dict, size: int) -> Tracer:
    return apply(op, *[_full(a, size) for a in args], axis=params["axis"] + 1)


RULES: dict[str, Callable[[Op, tuple, dict, int], Tracer]] = {
    "sum": _shifted, "prod": _shifted, "amax": _shifted, "amin": _shifted,
    "argmax": _arg, "argmin": _arg, "reshape": _reshape, "transpose": _transpose,
    "broadcast_to": _broadcast_to, "astype": _unary, "matmul": _matmul, "getitem": _getitem,
    "scatter_add": _scatter_add, "setitem": _setitem, "cat": _cat,
}
