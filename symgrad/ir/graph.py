"""The graph IR: immutable `Node` records, and the `Graph` that owns a `networkx.DiGraph` view.

A node is an op applied to earlier nodes (`op` a registry name), an `input` (with its
`name`) or a `const` (with its `value`); each has `params`, `shape` and `dtype`. Nodes are
built once and never edited: a rewrite makes new nodes. `Graph.apply` is the one way an op
enters a graph: it infers shape and dtype from the registry and deduplicates (structural
hashing), so equal subexpressions are one node from the start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from symgrad.ir import printing
from symgrad.ops import Op

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    """One value of a graph. `id` is its place in the graph's topological order."""

    id: int
    op: str  # a registry name, or "input" / "const"
    inputs: tuple[Node, ...]
    params: Mapping[str, Any]
    shape: tuple[int, ...]
    dtype: np.dtype
    value: Any = None  # a constant's value: a Python scalar (weak) or an ndarray
    name: str | None = None  # an input's name
    weak: bool = False  # a Python scalar: it takes the other operand's dtype, as in NumPy
    where: str = ""  # `file:line: source` of the user's code it was traced from

    @property
    def scalar(self) -> Any:
        """The value of a scalar constant, else None."""
        if self.op == "const" and not np.shape(self.value):
            return self.value
        return None

    @property
    def type(self) -> Any:
        """What an op's dtype rule reads: a weak scalar's value, else the dtype."""
        return self.value if self.weak else self.dtype

    def __repr__(self) -> str:
        return f"<node {self.id}: {self.op} {printing.type_str(self.shape, self.dtype)}>"


class Graph:
    """A DAG of registered ops with named inputs and ordered outputs."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []  # topological: every node after its inputs
        self.inputs: list[Node] = []
        self.outputs: list[Node] = []
        self._memo: dict[tuple, Node] = {}

    # building ------------------------------------------------------------------------
    def input(self, name: str, shape: tuple[int, ...], dtype: Any) -> Node:
        node = self._new("input", (), {}, shape, dtype, name=name)
        self.inputs.append(node)
        return node

    def const(self, value: Any) -> Node:
        """A constant: a Python scalar stays weakly typed (it takes the other operand's dtype,
        as NumPy treats it); anything else becomes an array."""
        if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
            return self._add("const", (), {}, (), np.result_type(value), value=value, weak=True)
        array = np.asarray(value)
        return self._add("const", (), {}, array.shape, array.dtype, value=array)

    def apply(self, op: Op, inputs: tuple[Node, ...], params: Mapping[str, Any], where: str = "") -> Node:
        """`op` applied to `inputs`, with its shape and dtype from the registry; an existing
        node if one computes the same thing. `where` is the user's line it comes from."""
        if op.commutative:  # y + x is the node x + y, if that exists
            found = self.find(op.name, (inputs[1], inputs[0]), params)
            if found is not None:
                return found
        if op.elementwise and inputs and all(i.weak for i in inputs) and not op.helpers:
            with np.errstate(all="ignore"):  # Python scalars in, a Python scalar out: stays weak
                value = op.forward(*(i.value for i in inputs), **params)
            return self.const(value.item() if hasattr(value, "item") else value)
        shape = op.out_shape(tuple(i.shape for i in inputs), params)
        dtype = op.out_dtype(tuple(i.type for i in inputs), params)
        return self._add(op.name, tuple(inputs), params, shape, dtype, where=where)

    def find(self, op: str, inputs: tuple[Node, ...], params: Mapping[str, Any]) -> Node | None:
        """The node computing `op` of `inputs` with `params`, if there is one."""
        return self._memo.get(_key(op, inputs, params))

    def _add(self, op: str, inputs: tuple[Node, ...], params: Mapping[str, Any], shape: tuple[int, ...],
             dtype: Any, **attrs: Any) -> Node:
        key = _key(op, inputs, params, attrs.get("value"))
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._new(op, inputs, params, shape, dtype, **attrs)
        return found

    def _new(self, op: str, inputs: tuple[Node, ...], params: Mapping[str, Any], shape: tuple[int, ...],
             dtype: Any, **attrs: Any) -> Node:
        node = Node(len(self.nodes), op, tuple(inputs), MappingProxyType(dict(params)), tuple(shape),
                    np.dtype(dtype), **attrs)
        self.nodes.append(node)
        return node

    # reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def ops(self) -> Iterator[Node]:
        """The computing nodes (neither inputs nor constants) in topological order."""
        return (n for n in self.nodes if n.op not in ("input", "const"))

    def live(self) -> set[Node]:
        """The nodes the outputs depend on, by a sweep in reverse id order. (networkx's
        `ancestors` needs the DiGraph built first: 1.2 ms against 53 us on the deep_chain
        benchmark's 509-node graph, six times a compile, about 9% of its first call.)"""
        live = set(self.outputs)
        for n in reversed(self.nodes):
            if n in live:
                live.update(n.inputs)
        return live

    def consumers(self) -> dict[Node, list[Node]]:
        """Each node's consumers, in topological order."""
        out: dict[Node, list[Node]] = {n: [] for n in self.nodes}
        for n in self.nodes:
            for i in dict.fromkeys(n.inputs):
                out[i].append(n)
        return out

    @property
    def nx(self) -> nx.DiGraph:
        """The graph as a `networkx.DiGraph` on the same `Node` objects; each node's data
        holds its op, params, shape and dtype. (networkx is imported here, when first needed.)"""
        import networkx as nx
        g = nx.DiGraph()
        g.add_nodes_from((n, {"op": n.op, "params": dict(n.params), "shape": n.shape, "dtype": n.dtype})
                         for n in self.nodes)
        g.add_edges_from((i, n) for n in self.nodes for i in n.inputs)
        return g

    # printing ------------------------------------------------------------------------
    def names(self) -> dict[Node, str]:
        return printing.names(self)

    def __str__(self) -> str:
        return printing.listing(self)

    def to_dot(self) -> str:
        """Graphviz DOT source of this graph."""
        return printing.dot(self)


def _key(op: str, inputs: tuple[Node, ...], params: Mapping[str, Any], value: Any = None) -> tuple:
    if value is None:
        value_key = None
    elif isinstance(value, np.ndarray):
        value_key = ("array", id(value))
    else:
        value_key = (type(value), value)
    return (op, tuple(inputs), tuple(sorted(params.items())), value_key)

