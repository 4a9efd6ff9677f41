"""Reverse mode on a graph: run the registry's VJP rules on tracers of the forward graph.

The gradient graph is the forward graph plus the nodes the VJP rules emit; its outputs are
the forward output followed by one gradient per differentiated input.
"""

from __future__ import annotations

from symgrad.graph import Graph
from symgrad.ops import OPS, vjp
from symgrad.tracer import Tracer, const_node


def grad_graph(forward: Graph, wrt: list[int]) -> Graph:
    """The graph of (output, d output / d wrt[0], ...) for a forward graph with one scalar output."""
    (out,) = forward.outputs
    if forward[out]["shape"] != ():
        raise TypeError(
            f"grad requires a scalar output, got shape {forward[out]['shape']}; "
            "use symgrad.vjp or jacobian for non-scalar outputs")
    graph = forward.copy()
    live = _between(graph, wrt, out)
    cts = {out: Tracer(graph, const_node(graph, 1.0))}
    order = [n for n in graph.toposort() if n in live]
    for n in reversed(order):
        attrs = graph[n]
        if n not in cts or attrs["op"] in ("input", "const"):
            continue
        op = OPS[attrs["op"]]
        inputs = tuple(Tracer(graph, i) for i in attrs["inputs"])
        ans = Tracer(graph, n)
        for i, x in enumerate(attrs["inputs"]):
            g = vjp(op, i, cts[n], ans, inputs, attrs["params"]) if x in live else None
            if g is not None:
                cts[x] = g if x not in cts else cts[x] + g
    grads = []
    for w in wrt:
        g = cts.get(w)
        if g is None:  # the output does not depend on this input
            g = Tracer(graph, w).zeros_like()
        elif g.shape != graph[w]["shape"]:
            g = g.broadcast_to(graph[w]["shape"])
        grads.append(g.node)
    graph.outputs = [out] + grads
    return graph


def _between(graph: Graph, sources: list[int], sink: int) -> set[int]:
    """Nodes on some path from a source to the sink: the only ones that carry gradient."""
    down: set[int] = set(sources)
    for n in graph.toposort():
        if any(i in down for i in graph[n]["inputs"]):
            down.add(n)
    up = {sink}
    for n in reversed(graph.toposort()):
        if n in up:
            up.update(graph[n]["inputs"])
    return down & up

