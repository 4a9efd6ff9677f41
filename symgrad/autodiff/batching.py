"""Batched cotangents: run reverse mode once for many seeds (a vmap of the VJP rules).

A Jacobian needs one reverse pass per output element; since every VJP is linear in its
cotangent, all of them can run at once on a cotangent with an extra leading axis (the
identity, reshaped). `Batched` is a tracer whose leading axis the ops do not see: each op
applied to it goes through the op's batching rule (see `symgrad.ops.batching`). An op with
no rule raises `NotBatchable`, and `jacobian_rows` falls back to one pass per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.autodiff.reverse import backprop
from symgrad.ops import NotBatchable, Op
from symgrad.ops.shape import stack
from symgrad.surface import Surface
from symgrad.tracing.tracer import Tracer


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
        if op.batch is None:
            raise NotBatchable(op.name)
        size = next(a.size for a in args if isinstance(a, Batched))
        batched = tuple(isinstance(a, Batched) for a in args)
        plain = tuple(a.t if isinstance(a, Batched) else a for a in args)
        return Batched(op.batch(op, plain, batched, params, size), size)

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)


def jacobian_rows(out: Tracer, targets: list[Tracer]) -> list[Tracer]:
    """d out / d t for each target, shaped out.shape + t.shape: one reverse pass with a
    batched identity cotangent, or (for ops with no batching rule) one pass per row."""
    graph, size = out.graph, int(np.prod(out.shape))
    nodes = [t.node for t in targets]
    eye = np.eye(size, dtype=out.dtype).reshape((size, *out.shape))
    try:
        grads = backprop(graph, out.node, nodes, Batched(out._constant(eye), size))
        rows = [None if g is None else g.t for g in grads]
    except NotBatchable:
        per_row = [backprop(graph, out.node, nodes, out._constant(e)) for e in eye]
        rows = [None if any(r[j] is None for r in per_row) else stack([r[j] for r in per_row], 0)
                for j in range(len(targets))]
    return [t.zeros_like().broadcast_to((size, *t.shape)).reshape(*out.shape, *t.shape)
            if r is None else r.reshape(*out.shape, *t.shape) for r, t in zip(rows, targets)]
