"""Reverse mode on a graph: run the registry's VJP rules on tracers of the forward graph.

`backprop` adds the gradient nodes to the graph it is given, so a gradient can be taken
inside a trace (grad of grad, hessians) exactly as at the top level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ir.graph import Graph
from symgrad.ops import OPS, vjp
from symgrad.tracing.tracer import Tracer, const_node, traced_from


def backprop(graph: Graph, out: int, wrt: list[int], seed: Any = None) -> list[Any]:
    """d(out)/d(w) for each w in `wrt`, as values whose nodes are added to `graph`.

    `seed` is the output's cotangent (a tracer, possibly batched); by default 1.0, for a
    scalar output. An input the output does not depend on gets None.
    """
    if seed is None:
        if graph[out]["shape"] != ():
            raise TypeError(
                f"grad requires a scalar output, got shape {graph[out]['shape']}; "
                "use symgrad.vjp or symgrad.jacobian for non-scalar outputs")
        seed = Tracer(graph, const_node(graph, 1.0))
    live = _between(graph, wrt, out)
    cts = {out: seed}
    for n in sorted(live, reverse=True):  # node ids are topological: inputs come first
        attrs = graph[n]
        if n not in cts or attrs["op"] in ("input", "const"):
            continue
        op = OPS[attrs["op"]]
        inputs = tuple(Tracer(graph, i) for i in attrs["inputs"])
        ans = Tracer(graph, n)
        with traced_from(attrs.get("where")):
            for i, x in enumerate(attrs["inputs"]):
                g = vjp(op, i, cts[n], ans, inputs, attrs["params"]) if x in live else None
                if g is not None:
                    cts[x] = g if x not in cts else cts[x] + g
    grads = []
    for w in wrt:
        g = cts.get(w)
        if g is not None and tuple(g.shape) != graph[w]["shape"]:
            g = g.broadcast_to(graph[w]["shape"])
        if g is not None and g.dtype != graph[w]["dtype"] and np.dtype(g.dtype).kind == "f" \
                and np.dtype(graph[w]["dtype"]).kind == "f":
            g = g.astype(graph[w]["dtype"])  # a float32 input gets a float32 gradient, as in JAX
        grads.append(g)
    return grads


def _between(graph: Graph, sources: list[int], sink: int) -> set[int]:
    """Nodes on some path from a source to the sink: the only ones that carry gradient."""
    down: set[int] = set(sources)
    order = graph.toposort()
    for n in order:
        if n <= sink and any(i in down for i in graph[n]["inputs"]):
            down.add(n)
    up = {sink}
    for n in reversed(order):
        if n in up:
            up.update(graph[n]["inputs"])
    return down & up
