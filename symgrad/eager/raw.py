"""The raw interpreter of the VJP rules: a backward without `create_graph` runs on arrays.

The registry's rules are written with the op surface (`ct * y`, `ct.sum(axes, keepdim=True)`),
so they run on any kind of value. On eager Tensors each of their ops pays the whole dispatch:
lifting, promotion, the recording checks. A backward that records nothing needs none but the
promotion, so it runs the same rules on `Raw` values: an array in a `Tensor` subclass whose
`_apply` is `op.forward` on PyTorch's promoted dtypes (the Tensor's own `_promote`), with no
graph, no versions and no hooks. One rule per op serves both paths, and the two paths agree
bit for bit because each op runs the same NumPy code on the same dtypes.

A `Raw` never leaves the backward walk: hooks, retained and captured gradients, and nodes
other than primitives' see Tensors (`tensor`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager.engine import OpNode
from symgrad.eager.tensor import Tensor, _promote, _weak
from symgrad.ops import Op, vjp


class Raw(Tensor):
    """An array that the VJP rules' ops run on directly (a Tensor only for promotion's sake)."""

    __slots__ = ()
    _priority = 2  # above Tensor's: an op meeting a Raw and a Tensor runs raw

    @classmethod
    def _make(cls, data: Any, grad_fn: Any = None, counter: list | None = None) -> Raw:
        r = object.__new__(Raw)
        r._data = data if type(data) is np.ndarray else np.asarray(data)
        r._requires_grad, r.grad_fn = False, None  # read by Tensor's methods (__array__, repr)
        return r

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def _constant(self, value: Any) -> Raw:
        return value if isinstance(value, Raw) else Raw._make(
            value._data if isinstance(value, Tensor) else np.asarray(value))

    @classmethod
    def _lift(cls, value: Any, fn: str = "tensor") -> Any:
        """As `Tensor._lift` (which checks every operand), an operand's array as a Raw."""
        if isinstance(value, np.generic):
            return _weak(value)
        if isinstance(value, np.ndarray):
            return Raw._make(value)
        return Tensor._lift(value, fn)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Raw:
        for a in args:
            if not isinstance(a, Tensor) and type(a) is not float and type(a) is not int:
                args = tuple(cls._lift(a, op.name) for a in args)
                break
        datas = _promote(op, args)
        try:
            out = op.forward(*datas, **params)
        except (ValueError, IndexError):
            op.out_shape(tuple(np.shape(d) for d in datas), params)  # raises ShapeError
            raise
        return Raw._make(out)

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)


def raw(g: Any) -> Any:
    """A gradient as a Raw (None stays None)."""
    return g if g is None or type(g) is Raw else Raw._make(g._data)


def tensor(g: Any) -> Any:
    """A gradient as the Tensor users see (None stays None)."""
    return Tensor._make(g._data) if type(g) is Raw else g


def run(node: OpNode, cts: list) -> list:
    """`node.apply` without `create_graph`, on raw values: the registry's VJP of each input
    that takes a gradient (an edge), None for the others, whose rules never run."""
    inputs, ans = node.saved_values()
    op, params, ct = node._op, node._params, raw(cts[0])
    ans = None if ans is None else Raw._make(ans)
    inputs = tuple(Raw._make(a._data) if isinstance(a, Tensor) else a for a in inputs)
    return [None if edge[0] is None else vjp(op, i, ct, ans, inputs, params)
            for i, edge in enumerate(node.next_functions)]
