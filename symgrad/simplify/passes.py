"""Simplification passes: pure `Graph -> Graph` functions, each named and switchable.

Every pass rebuilds the graph from its outputs, so dead code is dropped and equal
subexpressions are merged (structural hashing in `Graph.add`) as a side effect of any pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symgrad.ir.graph import Graph
from symgrad.ops import OPS
from symgrad.simplify.sympy_pass import sympy_pass
from symgrad.tracing.tracer import const_node, emit


class Builder:
    """A graph under reconstruction; `make` offers each new node to the rules first."""

    def __init__(self, rules: list[Rule], graph: Graph | None = None) -> None:
        self.g, self.rules = Graph() if graph is None else graph, rules

    def make(self, op: str, ins: tuple[int, ...], params: dict) -> int:
        for rule in self.rules:
            m = rule(self, op, ins, params)
            if m is not None:
                return m
        return emit(self.g, OPS[op], ins, params)


Rule = Callable[[Builder, str, tuple[int, ...], dict], "int | None"]


def rebuild(graph: Graph, rules: list[Rule]) -> Graph:
    """A new graph computing the same outputs, each node offered to `rules` first."""
    b = Builder(rules)
    new = b.g
    mapping = {n: new.input(graph[n]["name"], graph[n]["shape"], graph[n]["dtype"])
               for n in graph.inputs}
    live = set(graph.outputs)
    for n in reversed(graph.toposort()):
        if n in live:
            live.update(graph[n]["inputs"])
    for n in graph.toposort():
        attrs = graph[n]
        if n not in live or n in mapping:
            continue
        if attrs["op"] == "const":
            mapping[n] = new.const(attrs["value"], attrs["dtype"], weak=attrs.get("weak", False))
            continue
        mapping[n] = b.make(attrs["op"], tuple(mapping[i] for i in attrs["inputs"]), attrs["params"])
        if attrs.get("where") and not new[mapping[n]].get("where"):
            new[mapping[n]]["where"] = attrs["where"]
    new.outputs = [mapping[n] for n in graph.outputs]
    return new


# ---------------------------------------------------------------- rules

FOLD_LIMIT = 1 << 20  # elements: larger constant results stay computed at run time


def _fold(b: Builder, op: str, ins: tuple[int, ...], params: dict) -> int | None:
    """An op on constants only becomes a constant (Python scalar, or array up to FOLD_LIMIT)."""
    g = b.g
    if not ins or any(g[i]["op"] != "const" for i in ins) or OPS[op].helpers:
        return None
    o = OPS[op]
    if o.elementwise and all(g[i].get("weak") for i in ins):
        return None  # Python scalars: `emit` folds them into a Python scalar, still weak
    if not o.elementwise and op != "astype" and all(g.scalar(i) is not None for i in ins):
        return None  # a broadcast scalar stays a scalar: see _broadcasts
    shape = o.out_shape(tuple(g[i]["shape"] for i in ins), params)
    if int(np.prod(shape)) > FOLD_LIMIT:
        return None
    with np.errstate(all="ignore"):
        values = [g[i]["value"] if o.elementwise else np.asarray(g[i]["value"]) for i in ins]
        result = o.forward(*values, **params)
    result = np.asarray(result, dtype=o.out_dtype(
        tuple(g[i]["value"] if g[i].get("weak") else g[i]["dtype"] for i in ins), params))
    return g.const(result, result.dtype)


def _same_as(g: Graph, op: str, ins: tuple[int, ...], params: dict, keep: int) -> int | None:
    """`ins[keep]`, if the op's result would have exactly its shape and dtype."""
    x = g[ins[keep]]
    o = OPS[op]
    shape = o.out_shape(tuple(g[i]["shape"] for i in ins), params)
    dtype = o.out_dtype(tuple(g[i]["value"] if g[i].get("weak") else g[i]["dtype"] for i in ins), params)
    return ins[keep] if shape == x["shape"] and dtype == x["dtype"] else None


def _identity(b: Builder, op: str, ins: tuple[int, ...], params: dict) -> int | None:
    """Algebraic identities whose result is one of the operands."""
    g = b.g
    s = [g.scalar(i) for i in ins]
    if op == "mul" and s[1] == 1:                            # x * 1 -> x
        return _same_as(g, op, ins, params, 0)
    if op == "mul" and s[0] == 1:                            # 1 * x -> x
        return _same_as(g, op, ins, params, 1)
    if op in ("add", "sub") and s[1] == 0:                   # x + 0, x - 0 -> x
        return _same_as(g, op, ins, params, 0)
    if op == "add" and s[0] == 0:                            # 0 + x -> x
        return _same_as(g, op, ins, params, 1)
    if op == "div" and s[1] == 1:                            # x / 1 -> x
        return _same_as(g, op, ins, params, 0)
    if op == "pow" and s[1] == 1:                            # x ** 1 -> x
        return _same_as(g, op, ins, params, 0)
    if op in ("alias", "stop_gradient"):                     # only differentiation needs them
        return ins[0]
    if op == "neg" and g[ins[0]]["op"] == "neg":             # --x -> x
        return g[ins[0]]["inputs"][0]
    if op == "reshape" and g[ins[0]]["op"] in ("sum", "amax", "amin", "prod") \
            and g[ins[0]]["params"]["keepdims"]:               # reshape(sum(x, keepdims)) -> sum(x)
        inner = g[ins[0]]
        dropped = tuple(n for k, n in enumerate(inner["shape"]) if k not in inner["params"]["axes"])
        if dropped == tuple(params["shape"]):
            return b.make(inner["op"], inner["inputs"], {**inner["params"], "keepdims": False})
    if op == "reshape" and g[ins[0]]["op"] == "reshape":    # reshape(reshape(x)) -> reshape(x)
        return b.make("reshape", g[ins[0]]["inputs"], params)
    if op == "transpose" and g[ins[0]]["op"] == "transpose":  # transpose(transpose(x)) -> one
        inner = g[ins[0]]["params"]["axes"]
        return b.make("transpose", g[ins[0]]["inputs"], {"axes": tuple(inner[a] for a in params["axes"])})
    if op in ("reshape", "broadcast_to") and g[ins[0]]["shape"] == params["shape"]:
        return ins[0]                                        # no-op reshape / broadcast
    if op == "transpose" and params["axes"] == tuple(range(len(params["axes"]))):
        return ins[0]                                        # identity permutation
    if op == "sum" and not params["axes"]:
        return ins[0]                                        # sum over no axes
    if op == "astype" and g[ins[0]]["dtype"] == np.dtype(params["dtype"]):
        return ins[0]                                        # a cast to the dtype it has
    return None


def _negation(b: Builder, op: str, ins: tuple[int, ...], params: dict) -> int | None:
    """Signs move to where they cost nothing."""
    g = b.g
    s = [g.scalar(i) for i in ins]
    if op == "mul" and s[1] == -1:                           # x * -1 -> -x
        return b.make("neg", ins[:1], {}) if _same_as(g, op, ins, params, 0) is not None else None
    if op == "mul" and s[0] == -1:                           # -1 * x -> -x
        return b.make("neg", ins[1:], {}) if _same_as(g, op, ins, params, 1) is not None else None
    if op == "add" and g[ins[1]]["op"] == "neg":             # x + -y -> x - y
        return b.make("sub", (ins[0], g[ins[1]]["inputs"][0]), {})
    if op == "add" and g[ins[0]]["op"] == "neg":             # -x + y -> y - x
        return b.make("sub", (ins[1], g[ins[0]]["inputs"][0]), {})
    if op == "sub":                                          # y - x, with x - y computed -> -(x - y)
        mirror = g.find("sub", (ins[1], ins[0]), {})
        if mirror is not None:
            return b.make("neg", (mirror,), {})
    if op == "sub" and g[ins[1]]["op"] == "neg":             # x - -y -> x + y
        return b.make("add", (ins[0], g[ins[1]]["inputs"][0]), {})
    for k in (0, 1) if op == "mul" else ():                  # (-x) * c, c * (-x) -> -c * x
        x, c = ins[k], ins[1 - k]
        if g[x]["op"] == "neg" and g[c].get("weak") and g.scalar(c) is not None:
            return b.make("mul", (const_node(g, -g.scalar(c)), g[x]["inputs"][0]), {})
    if op == "matmul":                                       # (c * I) @ y -> c * y
        for k in (0, 1):
            scale = _scaled_identity(g, ins[k])
            other = ins[1 - k]
            if scale is not None and len(g[other]["shape"]) <= 2 and _same_as(g, op, ins, params, 1 - k):
                return b.make("mul", (const_node(g, scale), other), {})
    if op in ("add", "mul") and g[ins[1]]["op"] == "const":  # (x + c1) + c2 -> x + (c1 + c2)
        inner = g[ins[0]]
        if inner["op"] == op and g[inner["inputs"][1]]["op"] == "const":
            return b.make(op, (inner["inputs"][0], b.make(op, (inner["inputs"][1], ins[1]), {})), {})
    if op == "add":                                          # y + scatter_add(a) -> index_add(y, a)
        for k in (0, 1):
            sc, y = g[ins[k]], ins[1 - k]
            if sc["op"] == "scatter_add" and g[y]["shape"] == sc["shape"] \
                    and g[y]["dtype"] == sc["dtype"]:
                return b.make("index_add", (y, *sc["inputs"]), {"index": sc["params"]["index"]})
    if op in ("add", "sub"):                                 # c*u + -c*v -> c * (u - v)
        return _common_factor(b, op, ins)
    return None


def _scaled_identity(g: Graph, n: int) -> float | None:
    """c when node n is the constant c * eye(k) (a batched cotangent's seed, after folding)."""
    value = g[n].get("value") if g[n]["op"] == "const" else None
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[0] != value.shape[1]:
        return None
    c = value[0, 0] if value.size else 0
    if not np.array_equal(value, c * np.eye(value.shape[0], dtype=value.dtype)):
        return None
    return c.item() if hasattr(c, "item") else c


def _scaled(g: Graph, n: int) -> tuple[float, int] | None:
    """(c, u) when node n is c * u or u * c for a weak scalar constant c."""
    attrs = g[n]
    if attrs["op"] != "mul":
        return None
    for k in (0, 1):
        c = attrs["inputs"][k]
        if g[c].get("weak") and g.scalar(c) is not None:
            return g.scalar(c), attrs["inputs"][1 - k]
    return None


def _common_factor(b: Builder, op: str, ins: tuple[int, ...]) -> int | None:
    g = b.g
    p, q = _scaled(g, ins[0]), _scaled(g, ins[1])
    if p is None or q is None or g[p[1]]["shape"] != g[q[1]]["shape"]:
        return None
    (c, u), (d, v) = p, q
    if d == c:
        inner = op
    elif d == -c:
        inner = "sub" if op == "add" else "add"
    else:
        return None
    if c < 0 and inner == "sub":                             # -c * (u - v) -> c * (v - u)
        c, u, v = -c, v, u
    return b.make("mul", (const_node(g, c), b.make(inner, (u, v), {})), {})


def _expands(g: Graph, attrs: dict) -> bool:
    """A broadcast, or a reshape that only adds leading unit dims: both implied by broadcasting."""
    if attrs["op"] == "broadcast_to":
        return True
    if attrs["op"] != "reshape":
        return False
    old, new = g[attrs["inputs"][0]]["shape"], attrs["params"]["shape"]
    lead = len(new) - len(old)
    return lead > 0 and new[lead:] == old and all(n == 1 for n in new[:lead])


def _broadcasts(b: Builder, op: str, ins: tuple[int, ...], params: dict) -> int | None:
    """No materialised broadcasts: elementwise ops broadcast their operands themselves."""
    g = b.g
    attrs = [g[i] for i in ins]
    if op == "reshape" and g.scalar(ins[0]) is not None:     # reshape(c, (1,)) -> broadcast
        return b.make("broadcast_to", ins, params)
    if op == "reshape" and attrs[0]["op"] == "broadcast_to" and g.scalar(attrs[0]["inputs"][0]) is not None:
        return b.make("broadcast_to", attrs[0]["inputs"], params)  # reshape(bcast(c)) -> bcast(c)
    if op == "reshape" and attrs[0]["op"] == "broadcast_to" \
            and np.prod(attrs[0]["shape"]) == np.prod(g[attrs[0]["inputs"][0]]["shape"]):
        return b.make("reshape", attrs[0]["inputs"], params)  # a broadcast that only added 1s
    if op == "broadcast_to" and attrs[0]["op"] == "broadcast_to":
        return b.make("broadcast_to", attrs[0]["inputs"], params)  # nested broadcasts
    if op in ("zeros_like", "ones_like"):                  # zeros_like(x) -> bcast(0): no zero tensors
        dtype = attrs[0]["dtype"]
        value = g.const(np.asarray(0 if op == "zeros_like" else 1, dtype), dtype)
        return b.make("broadcast_to", (value,), {"shape": attrs[0]["shape"]})
    if op == "sum" and attrs[0]["op"] == "broadcast_to":    # sum(bcast(x)) -> bcast(count * x)
        return _sum_of_broadcast(b, ins[0], params)
    if op == "astype" and _expands(g, attrs[0]):            # astype(bcast(x)) -> bcast(astype(x))
        node = b.make("astype", attrs[0]["inputs"], params)
        return b.make("broadcast_to", (node,), {"shape": attrs[0]["shape"]})
    if not OPS[op].elementwise or not any(_expands(g, a) for a in attrs):
        return None
    unwrapped = tuple(a["inputs"][0] if _expands(g, a) else i for i, a in zip(ins, attrs))
    shape = OPS[op].out_shape(tuple(a["shape"] for a in attrs), params)
    small = OPS[op].out_shape(tuple(g[i]["shape"] for i in unwrapped), params)
    node = b.make(op, unwrapped, params)              # f(bcast(x), y) -> f(x, y)
    if small == shape:
        return node
    return b.make("broadcast_to", (node,), {"shape": shape})  # f(bcast(x)) -> bcast(f(x))


def _sum_of_broadcast(b: Builder, n: int, params: dict) -> int | None:
    """A sum over axes that a broadcast repeated along is the value times their length; only
    the axes where x itself varies are summed."""
    g = b.g
    x, full = g[n]["inputs"][0], g[n]["shape"]
    padded = (1,) * (len(full) - len(g[x]["shape"])) + g[x]["shape"]
    axes = params["axes"]
    count = int(np.prod([full[a] for a in axes if padded[a] == 1]))
    summed = tuple(a for a in axes if padded[a] != 1)
    y = x if padded == g[x]["shape"] else b.make("reshape", (x,), {"shape": padded})
    if summed:
        y = b.make("sum", (y,), {"axes": summed, "keepdims": True})
    if count != 1:
        y = b.make("mul", (y, const_node(g, count)), {})
    kept = tuple(1 if a in axes else d for a, d in enumerate(full))
    if params["keepdims"]:
        y = b.make("broadcast_to", (y,), {"shape": kept})
    elif g[y]["shape"] == ():  # a scalar: broadcast straight to the result's shape
        y = b.make("broadcast_to", (y,), {"shape": tuple(d for a, d in enumerate(full) if a not in axes)})
    else:
        y = b.make("broadcast_to", (y,), {"shape": kept})
        y = b.make("reshape", (y,), {"shape": tuple(d for a, d in enumerate(full) if a not in axes)})
    expected = OPS["sum"].out_dtype((g[n]["dtype"],), params)
    return y if g[y]["dtype"] == expected else None


def _stability(b: Builder, op: str, ins: tuple[int, ...], params: dict) -> int | None:
    """Rewrites to the numerically stable form of a common expression."""
    g = b.g
    x = g[ins[0]] if ins else None
    if op == "log" and x["op"] == "add":                     # log(1 + x) -> log1p(x)
        for k in (0, 1):
            if g.scalar(x["inputs"][k]) == 1 and g[x["inputs"][k]].get("weak"):
                return b.make("log1p", (x["inputs"][1 - k],), {})
    if op == "sub" and x["op"] == "exp" and g.scalar(ins[1]) == 1 and g[ins[1]].get("weak"):
        return b.make("expm1", x["inputs"], {})              # exp(x) - 1 -> expm1(x)
    if op == "log" and x["op"] == "sigmoid":                 # log(sigmoid(x)) -> -softplus(-x)
        inner = b.make("neg", x["inputs"], {})
        return b.make("neg", (b.make("softplus", (inner,), {}),), {})
    if op == "log" and x["op"] == "sum" and g[x["inputs"][0]]["op"] == "exp" \
            and not _shifted_by_max(g, g[x["inputs"][0]]["inputs"][0]):
        # log(sum(exp(y))) -> m + log(sum(exp(y - m))), m = max(y): logsumexp, no overflow
        y = g[x["inputs"][0]]["inputs"][0]
        axes, keep = x["params"]["axes"], x["params"]["keepdims"]
        m = b.make("stop_gradient", (b.make("amax", (y,), {"axes": axes, "keepdims": True}),), {})
        shifted = b.make("exp", (b.make("sub", (y, m), {}),), {})
        total = b.make("log", (b.make("sum", (shifted,), {"axes": axes, "keepdims": True}),), {})
        out = b.make("add", (total, m), {})
        return out if keep else b.make("reshape", (out,), {"shape": x["shape"]})
    for k in (0, 1) if op in ("add", "sub") else ():
        # m + log(sum(exp(y - m))) and (y - m) - log(sum(exp(y - m))), m = max(y): the result
        # does not change with m, so m gets no gradient (none that cancels in rounding)
        shifted = _shifted_logsumexp(g, ins[1 - k])
        m = g[shifted]["inputs"][1] if shifted is not None else None
        whole = ins[k] == m if op == "add" else ins[k] == shifted and k == 0
        if m is not None and g[m]["op"] == "amax" and whole:
            y, sg = g[shifted]["inputs"][0], b.make("stop_gradient", (m,), {})
            new_shift = b.make("sub", (y, sg), {})
            params = g[g[ins[1 - k]]["inputs"][0]]["params"]
            total = b.make("log", (b.make("sum", (b.make("exp", (new_shift,), {}),), params),), {})
            return b.make(op, (total, sg) if op == "add" else (new_shift, total), {})
    return None


def _shifted_logsumexp(g: Graph, n: int) -> int | None:
    """y - m when node n is log(sum(exp(y - m))) over the axes m = max(y) was taken over."""
    if g[n]["op"] != "log" or g[g[n]["inputs"][0]]["op"] != "sum":
        return None
    total = g[g[n]["inputs"][0]]
    shifted = g[total["inputs"][0]]["inputs"][0] if g[total["inputs"][0]]["op"] == "exp" else None
    if shifted is None or not _shifted_by_max(g, shifted):
        return None
    m = g[g[shifted]["inputs"][1]]
    if m["op"] == "amax" and (m["params"]["axes"] != total["params"]["axes"] or not m["params"]["keepdims"]):
        return None
    return shifted


def _shifted_by_max(g: Graph, n: int) -> bool:
    """Whether node n is y - max(y): an exponent that is already safe."""
    if g[n]["op"] != "sub":
        return False
    m = g[g[n]["inputs"][1]]
    if m["op"] == "stop_gradient":
        m = g[m["inputs"][0]]
    return m["op"] == "amax" and m["inputs"][0] == g[n]["inputs"][0]


def stabilize(graph: Graph, out: int) -> int:
    """`out` recomputed through the stability rewrites, in `graph` itself (before reverse mode,
    so the gradient is taken of the stable form). Unchanged nodes are found again by hashing."""
    b = Builder([_stability], graph)
    mapping: dict[int, int] = {}
    needed = {out}
    for n in reversed(graph.toposort()):
        if n in needed:
            needed.update(graph[n]["inputs"])
    for n in sorted(needed):
        attrs = graph[n]
        if attrs["op"] in ("input", "const"):
            mapping[n] = n
        else:
            mapping[n] = b.make(attrs["op"], tuple(mapping[i] for i in attrs["inputs"]), attrs["params"])
    return mapping[out]


# ---------------------------------------------------------------- passes

PASSES: dict[str, Callable[[Graph], Graph]] = {
    "fold": lambda g: rebuild(g, [_fold]),
    "stability": lambda g: rebuild(g, [_stability]),
    "algebra": lambda g: rebuild(g, [_fold, _identity, _negation, _broadcasts]),
    "sympy": sympy_pass,
    "dce": lambda g: rebuild(g, []),
}


@dataclass
class PassStat:
    """What one pass did: node counts before and after, and its time in seconds."""

    name: str
    before: int
    after: int
    seconds: float


DEFAULT_PASSES = ("fold", "stability", "algebra", "sympy", "algebra", "dce")


def simplify(graph: Graph, passes: tuple[str, ...] = DEFAULT_PASSES,
             stats: list[PassStat] | None = None) -> Graph:
    """Run the named passes in order; append a `PassStat` per pass to `stats` if given."""
    for name in passes:
        start, before = time.perf_counter(), len(graph)
        graph = PASSES[name](graph)
        if stats is not None:
            stats.append(PassStat(name, before, len(graph), time.perf_counter() - start))
    return graph
