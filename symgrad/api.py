"""The compiled face: `compile`, `grad` and `value_and_grad`, cached per input signature."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import codegen
from symgrad.graph import Graph, type_str
from symgrad.reverse import grad_graph
from symgrad.simplify import PassStat, simplify
from symgrad.tracer import Traced, is_static, trace


@dataclass
class Built:
    """What one signature compiled to: graphs, source, the callable and pass statistics."""

    traced: Traced
    graph: Graph
    source: str
    fn: Callable[..., Any]
    stats: list[PassStat] = field(default_factory=list)


def signature(args: Sequence[Any]) -> tuple:
    """The cache key of a call: shape and dtype of each array, value of each static arg."""
    key = []
    for a in args:
        if is_static(a):
            key.append(("static", type(a), a))
        else:
            a = a if hasattr(a, "shape") and hasattr(a, "dtype") else np.asarray(a)
            key.append((tuple(a.shape), np.dtype(a.dtype)))
    return tuple(key)


def describe(traced: Traced) -> str:
    graph = traced.graph
    by_name = {graph[n]["name"]: n for n in graph.inputs}
    parts = [f"{name}: {type_str(graph[by_name[name]]['shape'], graph[by_name[name]]['dtype'])}"
             if name in by_name else name for name in traced.arg_names]
    return f"{getattr(traced.fn, '__name__', 'fn')}({', '.join(parts)})"


class Compiled:
    """A function traced, differentiated, simplified and generated once per signature."""

    def __init__(self, fn: Callable, argnums: int | tuple[int, ...] | None, with_value: bool,
                 passes: tuple[str, ...] | None = None) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self._argnums, self._with_value = fn, argnums, with_value
        self._passes = passes
        self._cache: dict[tuple, Built] = {}
        self._lock = threading.Lock()

    def _wrt(self) -> tuple[int, ...]:
        if self._argnums is None:
            return ()
        return (self._argnums,) if isinstance(self._argnums, int) else tuple(self._argnums)

    def build(self, *args: Any) -> Built:
        """Trace and compile for the signature of `args` (or return the cached build)."""
        key = signature(args)
        built = self._cache.get(key)
        if built is None:
            with self._lock:
                built = self._cache.get(key) or self._build(args)
                self._cache[key] = built
        return built

    def _build(self, args: Sequence[Any]) -> Built:
        name = getattr(self._fn, "__name__", "fn")
        for i in self._wrt():
            if not -len(args) <= i < len(args):
                raise ValueError(f"{name}: argnums {i} is out of range for {len(args)} arguments")
            if is_static(args[i]):
                raise TypeError(
                    f"{name}: argument {i} is a Python {type(args[i]).__name__}, which is static; "
                    "pass a float or an array to differentiate with respect to it")
        traced = trace(self._fn, *args)
        graph = traced.graph
        by_arg = {traced.arg_names.index(graph[n]["name"]): n for n in graph.inputs}
        wrt = [by_arg[i % len(args)] for i in self._wrt()]
        names = [f"grad_{graph[n]['name']}" for n in wrt]
        if self._argnums is None:
            title, out_names = f"symgrad compiled {describe(traced)}", ["out"]
        else:
            graph = grad_graph(graph, wrt)
            if not self._with_value:
                graph.outputs = graph.outputs[1:]
            wrt_names = ", ".join(graph[n]["name"] for n in wrt)
            title = f"symgrad gradient of {describe(traced)} with respect to {wrt_names}"
            out_names = (["value"] if self._with_value else []) + names
        stats: list[PassStat] = []
        passes = {} if self._passes is None else {"passes": self._passes}
        graph = simplify(graph, stats=stats, **passes)
        program = codegen.generate(graph, ("grad_" if wrt else "") + name, title, out_names)
        return Built(traced, graph, program.source, codegen.load(program), stats)

    def __call__(self, *args: Any) -> Any:
        built = self.build(*args)
        arrays = [np.asarray(a) for a in args if not is_static(a)]
        outs = built.fn(*arrays)
        outs = outs if isinstance(outs, tuple) else (outs,)
        outs = tuple(np.asarray(o) for o in outs)
        if self._argnums is None:
            return outs[0] if len(outs) == 1 else outs
        value, grads = (outs[0], outs[1:]) if self._with_value else (None, outs)
        grads = grads if isinstance(self._argnums, tuple) else grads[0]
        return (value, grads) if self._with_value else grads

    def source(self, *args: Any) -> str:
        """The generated NumPy source for the signature of `args`."""
        return self.build(*args).source

    def graph(self, *args: Any) -> Graph:
        """The simplified graph that the source was generated from."""
        return self.build(*args).graph


def compile(fn: Callable, passes: tuple[str, ...] | None = None) -> Compiled:  # noqa: A001
    """Trace `fn` once per input signature and run it as generated NumPy code."""
    return Compiled(fn, None, False, passes)


def grad(fn: Callable, argnums: int | tuple[int, ...] = 0,
         passes: tuple[str, ...] | None = None) -> Compiled:
    """The compiled gradient of scalar-valued `fn` with respect to argument(s) `argnums`.

    >>> symgrad.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    return Compiled(fn, argnums, False, passes)


def value_and_grad(fn: Callable, argnums: int | tuple[int, ...] = 0,
                   passes: tuple[str, ...] | None = None) -> Compiled:
    """Like `grad`, but returns `(fn(*args), gradient)` from one generated function."""
    return Compiled(fn, argnums, True, passes)
