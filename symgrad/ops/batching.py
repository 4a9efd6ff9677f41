"""Batching rules: an op applied to values with an extra leading axis of `size` examples.

A Jacobian needs one reverse pass per output element; since every VJP is linear in its
cotangent, all of them can run at once on a cotangent with a leading batch axis (the
identity). An op's `batch` rule gets its arguments with that axis in place (`batched[i]`
says which carry it; the others are plain values, arrays or scalars) and returns the
batched result, made of ordinary ops. An op without a rule raises `NotBatchable`, and the
caller falls back to one pass per row. Elementwise ops share `elementwise`; the others
write theirs next to their entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops.dispatch import apply


class NotBatchable(Exception):
    """An op met a batched cotangent and has no batching rule for it."""


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)


def lifted(a: Any, batched: bool, rank: int, size: int) -> Any:
    """A batched value with unit dims after the batch axis, up to `rank` example dims, so it
    broadcasts against unbatched values of that rank. Unbatched values pass."""
    if not batched:
        return a
    shape = shape_of(a)[1:]
    return a if len(shape) == rank else a.reshape((size,) + (1,) * (rank - len(shape)) + shape)


def full(a: Any, batched: bool, size: int) -> Any:
    """Any value with the batch axis: an unbatched one is broadcast along it."""
    return a if batched else a.broadcast_to((size,) + shape_of(a))


def example_shape(a: Any, batched: bool) -> tuple[int, ...]:
    """The shape of one example of `a`."""
    return shape_of(a)[1:] if batched else shape_of(a)


def elementwise(op: Any, args: tuple, batched: tuple[bool, ...], params: dict, size: int) -> Any:
    rank = max(len(example_shape(a, b)) for a, b in zip(args, batched))
    return apply(op, *[lifted(a, b, rank, size) for a, b in zip(args, batched)], **params)


def shift_axes(op: Any, args: tuple, batched: tuple[bool, ...], params: dict, size: int) -> Any:
    """A reduction over `axes` of the examples is over axes + 1 of the batch."""
    return apply(op, args[0], **{**params, "axes": tuple(a + 1 for a in params["axes"])})


def unary(op: Any, args: tuple, batched: tuple[bool, ...], params: dict, size: int) -> Any:
    """An op that acts on each element alone, whatever its params."""
    return apply(op, args[0], **params)
