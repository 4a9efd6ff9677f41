"""Stability rewrites: common expressions rewritten to the form that does not overflow or lose
precision. They run on the forward trace before reverse mode (`stabilize`), so gradients are
taken of the stable form, and again as a pass.

A log-sum-exp has one normal form, whatever its spelling (naive, shifted by the max, by the
max kept finite, squeezed or kept): c + log(sum(exp(y - c))) with c = max(y) clamped to the
dtype's finite range and without gradient. It cannot overflow, a row holding +inf gives inf
and a row of -inf gives -inf (as torch.logsumexp and scipy.special.logsumexp; a shift by the
max itself gives inf - inf = nan there), and on finite rows c is the max, bit for bit. An
exponent already shifted by its max (`max_shift`) is left with its own shift: a second one
would cost an amax per call and turn those rows to nan.
"""

from __future__ import annotations

from symgrad.ir import Graph, Node
from symgrad.simplify.idioms import IDIOMS, finite_max, guarded_max, max_shift, stopped
from symgrad.simplify.patterns import Builder, Match, P, Rule, Rules

x, y = P.var("x"), P.var("y")
ONE = P.const(1, weak=True)


def _normal_logsumexp(b: Builder, y: Node, axes: tuple[int, ...], keep: bool, shape: tuple[int, ...]) -> Node:
    """The logsumexp of y over `axes` in its normal form (see the module's docstring)."""
    top = finite_max(b, y, axes)
    shifted = b.make("exp", (b.make("sub", (y, top), {}),), {})
    total = b.make("log", (b.make("sum", (shifted,), {"axes": axes, "keepdims": True}),), {})
    out = b.make("add", (total, top), {})
    return out if keep else b.make("reshape", (out,), {"shape": shape})


def _logsumexp(b: Builder, m: Match) -> Node | None:
    """log(sum(exp(y))) -> its normal form, unless y is shifted by its max already."""
    if max_shift(m.y) is not None:
        return None
    total = m.total
    return _normal_logsumexp(b, m.y, total.params["axes"], total.params["keepdims"], total.shape)


def _lse_parts(lse: Node) -> tuple[Node, Node, Node] | None:
    """(y, m, shifted) when node lse is log(sum(exp(shifted))) over the axes of m, with
    shifted = y - c and c the max m of y or m kept finite."""
    total = lse.inputs[0] if lse.op == "log" else None
    if total is None or total.op != "sum" or total.inputs[0].op != "exp":
        return None
    shifted = total.inputs[0].inputs[0]
    found = max_shift(shifted)
    if found is None or found[1].params["axes"] != total.params["axes"]:
        return None
    return found[0], found[1], shifted


def _is_shift(top: Node, shift: Node, m: Node, total: Node) -> bool:
    """Whether node top, added back to log(total), is the shift: the subtracted c itself, the
    max m (squeezed, or taken again without keepdims), or m kept finite."""
    if top.shape != total.shape:  # c (5, 1) + log(sum(..., 1)) (5,): a broadcast, not a logsumexp
        return False
    if top is shift:
        return True
    top = top.inputs[0] if top.op == "stop_gradient" else top
    if top.op == "reshape":
        top = top.inputs[0]
    if top.op == "amax":
        return top is m or (top.inputs[0] is m.inputs[0] and top.params["axes"] == m.params["axes"])
    return guarded_max(top) is m


def _shift_plus_logsumexp(b: Builder, m: Match) -> Node | None:
    """c + log(sum(exp(y - c))), c the max of y or the max kept finite -> the normal form."""
    parts = _lse_parts(m.lse)
    if parts is None:
        return None
    y, top, shifted = parts
    total, shift = m.lse.inputs[0], shifted.inputs[1]
    if m.top is shift and stopped(shift) and shift.op == "minimum":
        return None  # the normal form already (the max clamped, not a where)
    if not _is_shift(m.top, shift, top, total):
        return None
    if m.top is not shift and stopped(m.top) != stopped(shift):
        return None  # one side detached: the written gradient keeps +-d max, the normal form has none
    return _normal_logsumexp(b, y, total.params["axes"], total.params["keepdims"], m.root.shape)


def _log_softmax(b: Builder, m: Match) -> Node | None:
    """(y - c) - log(sum(exp(y - c))), c the max of y or the max kept finite: the same with c
    without gradient (the result does not change with c). c stays the spelling's own: torch's
    log_softmax shifts by the max (nan on a row holding +inf), SciPy's by the max kept
    finite (-inf there, and nan at the +inf)."""
    parts = _lse_parts(m.lse)
    if parts is None or m.shifted is not parts[2] or not m.lse.inputs[0].params["keepdims"]:
        return None
    shift = m.shifted.inputs[1]
    if stopped(shift):
        return None
    new_shift = b.make("sub", (parts[0], b.make("stop_gradient", (shift,), {})), {})
    total = b.make("sum", (b.make("exp", (new_shift,), {}),), m.lse.inputs[0].params)
    return b.make("sub", (new_shift, b.make("log", (total,), {})), {})


STABILITY = [
    Rule("log(1 + x) -> log1p(x)", P("log", (P("add", (ONE, x), commutative=True),)),
         lambda b, m: b.make("log1p", (m.x,), {})),
    Rule("exp(x) - 1 -> expm1(x)", P("sub", (P("exp", (x,)), ONE)), lambda b, m: b.make("expm1", (m.x,), {})),
    Rule("log(sigmoid(x)) -> -softplus(-x)", P("log", (P("sigmoid", (x,)),)),
         lambda b, m: b.make("neg", (b.make("softplus", (b.make("neg", (m.x,), {}),), {}),), {})),
    Rule("log(sum(exp(y))) -> c + log(sum(exp(y - c))), c = max(y) kept finite",
         P("log", (P("sum", (P("exp", (y,)),), name="total"),)), _logsumexp),
    # the result does not change with c, so c gets no gradient (none that cancels in rounding)
    Rule("m + log(sum(exp(y - m))), m = max(y) or kept finite -> c + log(sum(exp(y - c))), "
         "c = stop_gradient(max(y) kept finite)",
         P("add", (P.var("top"), P("log", name="lse")), commutative=True), _shift_plus_logsumexp),
    Rule("(y - c) - log(sum(exp(y - c))) -> the same, c = stop_gradient(c), c = max(y) or kept finite",
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
