"""Tracing: run a function on `Tracer` values and record the ops it applies as a `Graph`."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgrad.ir import Graph, Node, type_str
from symgrad.ops import Op
from symgrad.ops.dispatch import user_line, user_site
from symgrad.surface import Surface

_traced_from = threading.local()  # reverse mode: gradient ops carry their forward op's line


class traced_from:
    """Attribute the ops emitted inside this block to `site` (a forward op's source line)."""

    def __init__(self, site: str | None) -> None:
        self.site = site

    def __enter__(self) -> None:
        self.prev = getattr(_traced_from, "site", None)
        _traced_from.site = self.site

    def __exit__(self, *exc: object) -> None:
        _traced_from.site = self.prev


class TracerError(TypeError):
    """A traced value was used where a concrete one is needed (Python control flow)."""


class Tracer(Surface):
    """A symbolic value: a node of the graph being traced, with its shape and dtype."""

    __slots__ = ("graph", "node")
    _priority = 2

    def __init__(self, graph: Graph, node: Node) -> None:
        self.graph, self.node = graph, node

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    @property
    def dtype(self) -> np.dtype:
        return self.node.dtype

    def __repr__(self) -> str:
        return f"Tracer<{type_str(self.shape, self.dtype)}>"

    def _constant(self, value: Any) -> Tracer:
        return value if isinstance(value, Tracer) else Tracer(self.graph, _node(self.graph, value))

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Tracer:
        graph = next(a.graph for a in args if isinstance(a, Tracer))
        nodes = tuple(_node(graph, a) for a in args)
        where = getattr(_traced_from, "site", None) or user_site()
        return Tracer(graph, graph.apply(op, nodes, params, where))

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)

    # Python control flow needs concrete values: say where, and what to do instead ----
    def _concrete(self, what: str) -> TracerError:
        return TracerError(
            f"{what} on a traced value{user_line()}: the value is not known while tracing. "
            "Use symgrad.where for a data-dependent choice, or run the function in eager mode.")

    def __bool__(self) -> bool:
        raise self._concrete("bool()")

    def __float__(self) -> float:
        raise self._concrete("float()")

    def __int__(self) -> int:
        raise self._concrete("int()")

    def __index__(self) -> int:
        raise self._concrete("using it as an index")

    def item(self) -> Any:
        raise self._concrete(".item()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._concrete("conversion to a NumPy array")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]


def _node(graph: Graph, value: Any) -> Node:
    if isinstance(value, Tracer):
        return value.node
    if isinstance(value, Surface):  # an eager Tensor closed over by the traced function
        return graph.const(np.asarray(value))
    return graph.const(value)


# ---------------------------------------------------------------- trace

@dataclass
class Traced:
    """The result of `trace`: the forward graph and the argument names its inputs came from."""

    graph: Graph
    fn: Callable
    arg_names: tuple[str, ...]

    def __str__(self) -> str:
        return str(self.graph)


def arg_names(fn: Callable, count: int) -> tuple[str, ...]:
    """Names for the first `count` positional arguments of `fn` (`arg0`... when unknown)."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:count]]
    names += [f"arg{i}" for i in range(len(names), count)]
    return tuple(names)


def is_static(value: Any) -> bool:
    """Python ints and bools are static: part of the cache key, not graph inputs."""
    return isinstance(value, (bool, int)) and not isinstance(value, np.generic)


def trace(fn: Callable, *args: Any) -> Traced:
    """Trace `fn` on arguments shaped like `args` into a `Graph`.

    Array, Tensor and float arguments become graph inputs (only their shape and dtype
    matter); Python ints and bools are passed through as static values.

    >>> symgrad.trace(lambda x: (x * 2).sum(), np.ones(3)).graph
    """
    graph = Graph()
    names = arg_names(fn, len(args))
    values = []
    for name, a in zip(names, args):
        if is_static(a):
            values.append(a)
            continue
        array = np.asarray(a) if not hasattr(a, "shape") else a
        values.append(Tracer(graph, graph.input(name, tuple(array.shape), np.dtype(array.dtype))))
    out = fn(*values)
    outs = out if isinstance(out, tuple) else (out,)
    graph.outputs = [_node(graph, o) for o in outs]
    return Traced(graph, fn, names)
