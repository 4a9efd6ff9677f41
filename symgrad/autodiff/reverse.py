"""Reverse mode on a graph: run the registry's VJP rules on tracers of the forward graph.

`backprop` adds the gradient nodes to the graph it is given, so a gradient can be taken
inside a trace (grad of grad, hessians) exactly as at the top level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ir import Graph, Node, origin
from symgrad.ops import OPS, vjp
from symgrad.tracing.tracer import Tracer, traced_from


def backprop(graph: Graph, out: Node, wrt: list[Node], seed: Any = None) -> list[Any]:
    """d(out)/d(w) for each w in `wrt`, as values whose nodes are added to `graph`.

    `seed` is the output's cotangent (a tracer, possibly batched); by default 1.0, for a
    scalar output. An input the output does not depend on gets None. Each cotangent has the
    dtype of its value, as in JAX, so a float64 detour (SciPy's casts) stays local.
    """
    if seed is None:
        if out.shape != ():
            raise TypeError(
                f"grad requires a scalar output, got shape {out.shape}; "
                "use symgrad.vjp or symgrad.jacobian for non-scalar outputs")
        seed = Tracer(graph, graph.const(1.0))
    live = _between(graph, wrt, out)
    cts = {out: seed}
    for n in sorted(live, key=lambda n: n.id, reverse=True):  # consumers before their inputs
        if n not in cts or n.op in ("input", "const"):
            continue
        inputs = tuple(Tracer(graph, i) for i in n.inputs)
        ans = Tracer(graph, n)
        with traced_from(origin.gradient(n.where)):  # the line it serves, marked as a gradient
            for i, x in enumerate(n.inputs):
                g = vjp(OPS[n.op], i, cts[n], ans, inputs, n.params) if x in live else None
                if g is None:
                    continue
                if _wider(g, x):
                    g = g.astype(x.dtype)  # a cotangent has its value's dtype, as in JAX
                cts[x] = g if x not in cts else cts[x] + g
    grads = []
    for w in wrt:
        g = cts.get(w)
        if g is not None and tuple(g.shape) != w.shape:
            g = g.broadcast_to(w.shape)
        if g is not None and g.dtype != w.dtype and np.dtype(g.dtype).kind == "f" and w.dtype.kind == "f":
            g = g.astype(w.dtype)  # a constant gradient too: a float32 input's is float32
        grads.append(g)
    return grads


def _constant(node: Node) -> bool:
    while node.op in ("broadcast_to", "reshape"):
        node = node.inputs[0]
    return node.op == "const"


def _wider(ct: Any, x: Node) -> bool:
    """Whether cotangent `ct` is a float array wider than float value x because a wider
    value was computed (SciPy's float64 detour), not because a constant promoted it: a
    constant, or a product of x's dtype with a constant, folds and simplifies as it is."""
    if ct.dtype == x.dtype or np.dtype(ct.dtype).kind != "f" or x.dtype.kind != "f":
        return False
    node = getattr(ct, "node", None)
    if node is None:
        return True
    return not (_constant(node) or all(_constant(i) or i.dtype == x.dtype for i in node.inputs))


def _between(graph: Graph, sources: list[Node], sink: Node) -> set[Node]:
    """Nodes on some path from a source to the sink: the only ones that carry gradient."""
    down: set[Node] = set(sources)
    for n in graph.nodes[:sink.id + 1]:
        if any(i in down for i in n.inputs):
            down.add(n)
    up = {sink}
    for n in reversed(graph.nodes[:sink.id + 1]):
        if n in up:
            up.update(n.inputs)
    return down & up
