"""Stability rewrites: common expressions rewritten to the form that does not overflow or lose
precision. They run on the forward trace before reverse mode (`stabilize`), so gradients are
taken of the stable form, and again as a pass.
"""

from __future__ import annotations

from symgrad.ir import Graph, Node
from symgrad.simplify.idioms import IDIOMS
from symgrad.simplify.patterns import Builder, Match, P, Rule, Rules

x, y = P.var("x"), P.var("y")
ONE = P.const(1, weak=True)


def _shifted_by_max(n: Node) -> bool:
    """Whether node n is y - max(y): an exponent that is already safe."""
    if n.op != "sub":
        return False
    m = n.inputs[1]
    if m.op == "stop_gradient":
        m = m.inputs[0]
    return m.op == "amax" and m.inputs[0] is n.inputs[0]


def _shifted_logsumexp(n: Node) -> Node | None:
    """y - m when node n is log(sum(exp(y - m))) over the axes m = max(y) was taken over."""
    if n.op != "log" or n.inputs[0].op != "sum":
        return None
    total = n.inputs[0]
    shifted = total.inputs[0].inputs[0] if total.inputs[0].op == "exp" else None
    if shifted is None or not _shifted_by_max(shifted):
        return None
    m = shifted.inputs[1]
    if m.op == "amax" and (m.params["axes"] != total.params["axes"] or not m.params["keepdims"]):
        return None
    return shifted


def _logsumexp(b: Builder, m: Match) -> Node | None:
    """log(sum(exp(y))) -> m + log(sum(exp(y - m))) with m = max(y), which cannot overflow."""
    if _shifted_by_max(m.y):
        return None
    axes, keep = m.total.params["axes"], m.total.params["keepdims"]
    top = b.make("stop_gradient", (b.make("amax", (m.y,), {"axes": axes, "keepdims": True}),), {})
    shifted = b.make("exp", (b.make("sub", (m.y, top), {}),), {})
    total = b.make("log", (b.make("sum", (shifted,), {"axes": axes, "keepdims": True}),), {})
    out = b.make("add", (total, top), {})
    return out if keep else b.make("reshape", (out,), {"shape": m.total.shape})


def _unshifted(b: Builder, lse: Node, shifted: Node) -> tuple[Node, Node, Node]:
    """(sg(m), y - sg(m), log(sum(exp(y - sg(m))))) for the logsumexp `lse` of y - m."""
    top = b.make("stop_gradient", (shifted.inputs[1],), {})
    new_shift = b.make("sub", (shifted.inputs[0], top), {})
    params = lse.inputs[0].params
    total = b.make("log", (b.make("sum", (b.make("exp", (new_shift,), {}),), params),), {})
    return top, new_shift, total


def _shift_plus_logsumexp(b: Builder, m: Match) -> Node | None:
    shifted = _shifted_logsumexp(m.lse)
    if shifted is None or m.top is not shifted.inputs[1] or m.top.op != "amax":
        return None
    top, _, total = _unshifted(b, m.lse, shifted)
    return b.make("add", (total, top), {})


def _log_softmax(b: Builder, m: Match) -> Node | None:
    shifted = _shifted_logsumexp(m.lse)
    if shifted is None or m.shifted is not shifted or shifted.inputs[1].op != "amax":
        return None
    _, new_shift, total = _unshifted(b, m.lse, shifted)
    return b.make("sub", (new_shift, total), {})


STABILITY = [
    Rule("log(1 + x) -> log1p(x)", P("log", (P("add", (ONE, x), commutative=True),)),
         lambda b, m: b.make("log1p", (m.x,), {})),
    Rule("exp(x) - 1 -> expm1(x)", P("sub", (P("exp", (x,)), ONE)), lambda b, m: b.make("expm1", (m.x,), {})),
    Rule("log(sigmoid(x)) -> -softplus(-x)", P("log", (P("sigmoid", (x,)),)),
         lambda b, m: b.make("neg", (b.make("softplus", (b.make("neg", (m.x,), {}),), {}),), {})),
    Rule("log(sum(exp(y))) -> m + log(sum(exp(y - m))), m = max(y)",
         P("log", (P("sum", (P("exp", (y,)),), name="total"),)), _logsumexp),
    # the result does not change with m, so m gets no gradient (none that cancels in rounding)
    Rule("m + log(sum(exp(y - m))) -> the same, m = stop_gradient(max(y))",
         P("add", (P.var("top"), P("log", name="lse")), commutative=True), _shift_plus_logsumexp),
    Rule("(y - m) - log(sum(exp(y - m))) -> the same, m = stop_gradient(max(y))",
         P("sub", (P("sub", name="shifted"), P("log", name="lse"))), _log_softmax),
]


def stabilize(graph: Graph, out: Node) -> Node:
    """`out` recomputed through the stability rewrites and the idioms' canonical forms, in
    `graph` itself (before reverse mode, so the gradient is taken of the stable, canonical
    form). Unchanged nodes are found again by hashing."""
    b = Builder(Rules(STABILITY, IDIOMS), graph)
    mapping: dict[Node, Node] = {}
    needed = {out}
    for n in reversed(graph.nodes[:out.id + 1]):
        if n in needed:
            needed.update(n.inputs)
    for n in sorted(needed, key=lambda n: n.id):
        if n.op in ("input", "const"):
            mapping[n] = n
        else:
            b.where = n.where
            mapping[n] = b.make(n.op, tuple(mapping[i] for i in n.inputs), n.params)
    return mapping[out]
