"""The graph IR: the one module that owns a `networkx.DiGraph`.

Every node carries `op` (a registry name, or `input` / `const`), `params`, `shape`, `dtype`
and its ordered `inputs`; a `const` node carries its `value`, an `input` node its `name`.
Nodes are deduplicated on creation (structural hashing), so equal subexpressions are one
node from the start. The printed form is jaxpr-like, one equation a line.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import networkx as nx
import numpy as np


def _short(dtype: np.dtype) -> str:
    return {"f": "f", "i": "i", "u": "u", "b": "bool"}[dtype.kind] + (
        "" if dtype.kind == "b" else str(dtype.itemsize * 8))


def type_str(shape: tuple[int, ...], dtype: np.dtype) -> str:
    """`f32[5,3]`: a dtype and shape the way listings and error messages show them."""
    return f"{_short(dtype)}[{','.join(map(str, shape))}]"


class Graph:
    """A DAG of registered ops with named inputs and ordered outputs."""

    def __init__(self) -> None:
        self._nodes: dict[int, dict[str, Any]] = {}  # the attributes; ids are topological
        self._nx: nx.DiGraph | None = None
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self._ids = itertools.count()
        self._memo: dict[Any, int] = {}

    # building ------------------------------------------------------------------------
    def add(self, op: str, inputs: tuple[int, ...], params: dict, shape: tuple[int, ...],
            dtype: np.dtype, **attrs: Any) -> int:
        """Add a node, or return the existing node that computes the same thing."""
        key = (op, inputs, tuple(sorted(params.items())), _value_key(attrs.get("value")))
        attrs = {k: v for k, v in attrs.items() if v is not None}
        if op != "input" and key in self._memo:
            return self._memo[key]
        n = next(self._ids)
        self._nodes[n] = dict(op=op, inputs=tuple(inputs), params=dict(params), shape=tuple(shape),
                              dtype=np.dtype(dtype), **attrs)
        self._nx = None
        if op == "input":
            self.inputs.append(n)
        else:
            self._memo[key] = n
        return n

    def find(self, op: str, inputs: tuple[int, ...], params: dict) -> int | None:
        """The node computing `op` of `inputs` with `params`, if there is one."""
        return self._memo.get((op, tuple(inputs), tuple(sorted(params.items())), None))

    def input(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> int:
        return self.add("input", (), {}, shape, dtype, name=name)

    def const(self, value: Any, dtype: np.dtype, weak: bool = False) -> int:
        """A constant: a Python scalar (`weak`: it takes the other operand's dtype) or an array."""
        return self.add("const", (), {}, np.shape(value), dtype, value=value, weak=weak)

    def copy(self) -> Graph:
        """An independent copy that new nodes can be added to."""
        new = Graph()
        new._nodes = {n: dict(attrs) for n, attrs in self._nodes.items()}
        new.inputs, new.outputs = list(self.inputs), list(self.outputs)
        new._ids = itertools.count(max(self._nodes, default=-1) + 1)
        new._memo = dict(self._memo)
        return new

    @property
    def nx(self) -> nx.DiGraph:
        """The graph as a `networkx.DiGraph` (built on demand: node attributes are shared)."""
        if self._nx is None:
            g = nx.DiGraph()
            for n, attrs in self._nodes.items():
                g.add_node(n)
                g._node[n] = attrs  # the same dict, so attributes read and written agree
            g.add_edges_from((i, n) for n, attrs in self._nodes.items() for i in attrs["inputs"])
            self._nx = g
        return self._nx

    # reading -------------------------------------------------------------------------
    def __getitem__(self, n: int) -> dict[str, Any]:
        return self._nodes[n]

    def __len__(self) -> int:
        return len(self._nodes)

    def toposort(self) -> list[int]:
        """Every node after its inputs: node ids, since a node is only added after its inputs."""
        return sorted(self._nodes)

    def consumers(self, n: int) -> list[int]:
        return sorted(m for m, attrs in self._nodes.items() if n in attrs["inputs"])

    def ops(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The computing nodes (neither inputs nor constants) in topological order."""
        for n in self.toposort():
            if self[n]["op"] not in ("input", "const"):
                yield n, self[n]

    def scalar(self, n: int) -> Any:
        """The Python value of a scalar constant node, else None."""
        attrs = self[n]
        if attrs["op"] == "const" and not np.shape(attrs["value"]):
            return attrs["value"]
        return None

    # printing ------------------------------------------------------------------------
    def names(self) -> dict[int, str]:
        """Readable names: inputs keep theirs, the rest are a, b, ..., z, ba, ..."""
        names = {n: self[n]["name"] for n in self.inputs}
        taken = set(names.values())
        fresh = (s for s in _letters() if s not in taken)
        for n in self.toposort():
            if n not in names and self.scalar(n) is None:
                names[n] = next(fresh)
        return names

    def _operand(self, n: int, names: dict[int, str]) -> str:
        value = self.scalar(n)
        return repr(value) if value is not None else names[n]

    def __str__(self) -> str:
        names = self.names()
        args = " ".join(f"{names[n]}:{type_str(self[n]['shape'], self[n]['dtype'])}" for n in self.inputs)
        lines = [f"{{ lambda {args} . let"]
        for n in self.toposort():
            attrs = self[n]
            if attrs["op"] == "input" or self.scalar(n) is not None:
                continue
            params = " ".join(f"{k}={v!r}" for k, v in attrs["params"].items())
            head = attrs["op"] + (f"[{params}]" if params else "")
            operands = " ".join(self._operand(i, names) for i in attrs["inputs"])
            typed = f"{names[n]}:{type_str(attrs['shape'], attrs['dtype'])}"
            lines.append(f"    {typed} = {head} {operands}".rstrip())
        outs = ", ".join(self._operand(n, names) for n in self.outputs)
        lines.append(f"  in ({outs}) }}")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """Graphviz DOT source of this graph."""
        names = self.names()
        lines = ["digraph symgrad {", "  rankdir=TB;"]
        for n in self.toposort():
            attrs = self[n]
            label = names.get(n) or repr(self.scalar(n))
            if attrs["op"] not in ("input", "const"):
                label = f"{label} = {attrs['op']}"
            label += f"\\n{type_str(attrs['shape'], attrs['dtype'])}"
            shape = "box" if attrs["op"] == "input" else "ellipse"
            lines.append(f'  n{n} [label="{label}", shape={shape}];')
        for a, b in sorted((i, n) for n, attrs in self._nodes.items() for i in set(attrs["inputs"])):
            lines.append(f"  n{a} -> n{b};")
        for i, n in enumerate(self.outputs):
            lines.append(f'  out{i} [label="out {i}", shape=plaintext];\n  n{n} -> out{i};')
        lines.append("}")
        return "\n".join(lines)


def _letters() -> Iterator[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    for size in itertools.count(1):
        for combo in itertools.product(alphabet, repeat=size):
            yield "".join(combo)


def _value_key(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return ("array", id(value))
    return (type(value), value)
