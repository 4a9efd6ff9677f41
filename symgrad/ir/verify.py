"""A verifier for graphs, in the manner of JAX's `check_jaxpr`: run after every pass in tests.

It checks that every node's inputs are defined before it in the same graph (so the graph is
acyclic), that each op's shape and dtype are what the registry's rules give, and that the
graph's inputs and outputs are its own nodes. A failure shows the equations around the bad one.
"""

from __future__ import annotations

import numpy as np

from symgrad.ir import printing
from symgrad.ir.graph import Graph, Node
from symgrad.ops import OPS, ShapeError


class GraphError(ValueError):
    """A graph that breaks an invariant of the IR."""


def verify(graph: Graph) -> Graph:
    """`graph` itself if it is well formed, else a GraphError naming the bad node in context."""
    position = {n: k for k, n in enumerate(graph.nodes)}
    for k, n in enumerate(graph.nodes):
        problem = _problem(n, k, position)
        if problem is not None:
            raise GraphError(f"{problem}\n{_context(graph, n)}")
    for what, nodes in (("input", graph.inputs), ("output", graph.outputs)):
        for n in nodes:
            if n not in position:
                raise GraphError(f"{what} {n!r} is not a node of the graph")
    if any(n.op != "input" for n in graph.inputs):
        raise GraphError("an entry of graph.inputs is not an input node")
    return graph


def _problem(n: Node, k: int, position: dict[Node, int]) -> str | None:
    if n.id != k:
        return f"node {n.id} is at position {k}"
    for i in n.inputs:
        if position.get(i, k) >= k:
            return f"an input of {n.op} is not defined before it"
    if n.op == "input":
        return None if n.name else "an input without a name"
    if n.op == "const":
        shape = np.shape(n.value)
        return None if shape == n.shape else f"a constant of shape {shape} typed {n.shape}"
    op = OPS.get(n.op)
    if op is None:
        return f"unknown op {n.op!r}"
    try:
        shape = op.out_shape(tuple(i.shape for i in n.inputs), n.params)
        dtype = op.out_dtype(tuple(i.type for i in n.inputs), n.params)
    except (ShapeError, TypeError, ValueError) as e:
        return f"{n.op}: {e}"
    if (tuple(shape), np.dtype(dtype)) != (n.shape, n.dtype):
        return (f"{n.op} is typed {printing.type_str(n.shape, n.dtype)} but its rule gives "
                f"{printing.type_str(shape, dtype)}")
    return None


def _context(graph: Graph, bad: Node, around: int = 3) -> str:
    """The equations before and after `bad`, with a marker on it."""
    names = printing.names(graph)
    for n in graph.nodes:  # a broken graph may name a node it does not hold
        for i in n.inputs:
            names.setdefault(i, f"?{i.id}")
    shown = [n for n in graph.nodes if n.op != "input" and n.scalar is None]
    at = shown.index(bad) if bad in shown else 0
    lines = []
    for n in shown[max(0, at - around):at + around + 1]:
        mark = ">>  " if n is bad else "    "
        lines.append(mark + printing.equation(n, names))
    return "\n".join(lines)
