"""Algebraic rewrites, one table row each: constant folding, identities, signs, broadcasts.

Each table is tried in order and the first rule that returns a node wins. Where one rule
must come before another, the later one says so in its comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from symgrad.ir import Node
from symgrad.ops import OPS
from symgrad.simplify.idioms import SCATTERS
from symgrad.simplify.patterns import Builder, Match, P, Rule

x, y = P.var("x"), P.var("y")

# ---------------------------------------------------------------- constant folding

FOLD_LIMIT = 1 << 20  # elements: larger constant results stay computed at run time


def _fold(b: Builder, m: Match) -> Node | None:
    root = m.root
    op = OPS[root.op]
    if not root.inputs or any(i.op != "const" for i in root.inputs) or op.helpers:
        return None
    if op.elementwise and all(i.weak for i in root.inputs):
        return None  # Python scalars: `Graph.apply` folds them into a Python scalar, still weak
    if not op.elementwise and root.op != "astype" and all(i.scalar is not None for i in root.inputs):
        return None  # a broadcast scalar stays a scalar: see BROADCASTS
    if int(np.prod(root.shape)) > FOLD_LIMIT:
        return None
    with np.errstate(all="ignore"):
        values = [i.value if op.elementwise else np.asarray(i.value) for i in root.inputs]
        result = op.forward(*values, **root.params)
    return b.const(np.asarray(result, dtype=root.dtype))


FOLD = [
    Rule("f(constants) -> constant", P(), _fold),
]

# ---------------------------------------------------------------- identities


def _kept_dims_dropped(b: Builder, m: Match) -> Node | None:
    reduced = m.reduced
    if not reduced.params["keepdims"]:
        return None
    dropped = tuple(n for k, n in enumerate(reduced.shape) if k not in reduced.params["axes"])
    if dropped != tuple(m.root.params["shape"]):
        return None
    return b.make(reduced.op, reduced.inputs, {**reduced.params, "keepdims": False})


def _transposes(b: Builder, m: Match) -> Node:
    inner = m.inner.params["axes"]
    return b.make("transpose", (m.x,), {"axes": tuple(inner[a] for a in m.root.params["axes"])})


IDENTITIES = [
    Rule("x * 1 -> x", P("mul", (x, P.const(1))), lambda b, m: m.keep("x")),
    Rule("1 * x -> x", P("mul", (P.const(1), x)), lambda b, m: m.keep("x")),
    Rule("x + 0, x - 0 -> x", P(("add", "sub"), (x, P.const(0))), lambda b, m: m.keep("x")),
    Rule("0 + x -> x", P("add", (P.const(0), x)), lambda b, m: m.keep("x")),
    Rule("x / 1 -> x", P("div", (x, P.const(1))), lambda b, m: m.keep("x")),
    Rule("x ** 1 -> x", P("pow", (x, P.const(1))), lambda b, m: m.keep("x")),
    Rule("x ** 0 -> 1", P("pow", (x, P.const(0))), lambda b, m: b.typed(b.const(1), m.root)),
    # one form of a square, so x**2 and x*x from two derivative rules are one node
    Rule("x ** 2 -> x * x", P("pow", (x, P.const(2))),
         lambda b, m: b.typed(b.make("mul", (m.x, m.x), {}), m.root)),
    # only differentiation needs them
    Rule("alias(x), stop_gradient(x) -> x", P(("alias", "stop_gradient"), (x,)), lambda b, m: m.x),
    Rule("--x -> x", P("neg", (P("neg", (x,)),)), lambda b, m: m.x),
    Rule("reshape(reduce(x, keepdims)) -> reduce(x)",
         P("reshape", (P(("sum", "amax", "amin", "prod"), name="reduced"),)), _kept_dims_dropped),
    Rule("reshape(reshape(x)) -> reshape(x)", P("reshape", (P("reshape", (x,)),)),
         lambda b, m: b.make("reshape", (m.x,), m.root.params)),
    Rule("transpose(transpose(x)) -> transpose(x)", P("transpose", (P("transpose", (x,), name="inner"),)),
         _transposes),
    Rule("reshape or broadcast of x to its own shape -> x", P(("reshape", "broadcast_to"), (x,)),
         lambda b, m: m.x if m.x.shape == m.root.params["shape"] else None),
    Rule("transpose(x) by the identity permutation -> x", P("transpose", (x,)),
         lambda b, m: m.x if m.root.params["axes"] == tuple(range(len(m.root.params["axes"]))) else None),
    Rule("sum(x) over no axes -> x", P("sum", (x,)), lambda b, m: m.x if not m.root.params["axes"] else None),
    Rule("astype(x) to the dtype x has -> x", P("astype", (x,)),
         lambda b, m: m.x if m.x.dtype == np.dtype(m.root.params["dtype"]) else None),
]

# ---------------------------------------------------------------- signs and constants


def _negate(name: str):  # noqa: ANN202 - a rewrite
    return lambda b, m: b.make("neg", (m[name],), {}) if m.keep(name) is not None else None


def _mirror(b: Builder, m: Match) -> Node | None:
    mirror = b.g.find("sub", (m.x, m.y), {})
    return None if mirror is None else b.make("neg", (mirror,), {})


def _scaled_identity(n: Node) -> float | None:
    """c when node n is the constant c * eye(k) (a batched cotangent's seed, after folding)."""
    value = n.value if n.op == "const" else None
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[0] != value.shape[1]:
        return None
    c = value[0, 0] if value.size else 0
    if not np.array_equal(value, c * np.eye(value.shape[0], dtype=value.dtype)):
        return None
    return c.item() if hasattr(c, "item") else c


def _identity_matmul(b: Builder, m: Match) -> Node | None:
    scale = _scaled_identity(m.eye)
    # 0 @ y is nan in each column of y holding inf or nan; 0 * y only where y is
    if not scale or len(m.y.shape) > 2 or m.keep("y") is None:
        return None
    return b.make("mul", (b.const(scale), m.y), {})


def _reassociate(b: Builder, m: Match) -> Node | None:
    if m.inner.op != m.root.op:
        return None
    return b.make(m.root.op, (m.x, b.make(m.root.op, (m.c1, m.c2), {})), {})


def _index_add(b: Builder, m: Match) -> Node | None:
    scatter = m.scatter
    if (m.y.shape, m.y.dtype) != (scatter.shape, scatter.dtype):
        return None
    return b.make("index_add", (m.y, *scatter.inputs), {"index": scatter.params["index"]})


def _scaled(n: Node) -> tuple[float, Node] | None:
    """(c, u) when node n is c * u or u * c for a weak scalar constant c."""
    if n.op != "mul":
        return None
    for k in (0, 1):
        c = n.inputs[k]
        if c.weak:
            return c.scalar, n.inputs[1 - k]
    return None


def _common_factor(b: Builder, m: Match) -> Node | None:
    p, q = _scaled(m.u), _scaled(m.v)
    if p is None and q is not None and m.root.op == "add" and m.u.op == "add":
        return _common_factor_in_sum(b, m.u, q)
    if p is None or q is None or p[1].shape != q[1].shape:
        return None
    (c, u), (d, v) = p, q
    op = m.root.op
    if d == c:
        inner = op
    elif d == -c:
        inner = "sub" if op == "add" else "add"
    else:
        return None
    if c < 0 and inner == "sub":  # -c * (u - v) -> c * (v - u)
        c, u, v = -c, v, u
    return b.make("mul", (b.const(c), b.make(inner, (u, v), {})), {})


def _common_factor_in_sum(b: Builder, total: Node, q: tuple) -> Node | None:
    """(w + c*u) + c*v -> w + c*(u + v): a factor shared across a sum built one term at a
    time (`0.5*A + w + 0.5*A.T`), where the two terms are not neighbours."""
    d, v = q
    for k in (0, 1):
        p = _scaled(total.inputs[k])
        if p is not None and p[0] == d and p[1].shape == v.shape:
            factored = b.make("mul", (b.const(d), b.make("add", (p[1], v), {})), {})
            return b.make("add", (total.inputs[1 - k], factored), {})
    return None

def _negation_out_of_matmul(b: Builder, m: Match) -> Node | None:
    """(-a) @ b -> -(a @ b), and a @ (-b): the sign goes to the smaller side, the product
    (`-X @ w` negates all of X in Python's reading)."""
    root = m.root
    for k in (0, 1):
        x = root.inputs[k]
        if x.op == "neg" and math.prod(root.shape) <= math.prod(x.shape):
            inputs = (x.inputs[0], root.inputs[1]) if k == 0 else (root.inputs[0], x.inputs[0])
            return b.make("neg", (b.make("matmul", inputs, dict(root.params)),), {})
    return None

SIGNS = [
    Rule("x * -1 -> -x", P("mul", (x, P.const(-1))), _negate("x")),
    Rule("-1 * x -> -x", P("mul", (P.const(-1), x)), _negate("x")),
    Rule("x + -y -> x - y", P("add", (x, P("neg", (y,)))), lambda b, m: b.make("sub", (m.x, m.y), {})),
    Rule("-x + y -> y - x", P("add", (P("neg", (x,)), y)), lambda b, m: b.make("sub", (m.y, m.x), {})),
    Rule("y - x, with x - y computed -> -(x - y)", P("sub", (y, x)), _mirror),
    Rule("x - -y -> x + y", P("sub", (x, P("neg", (y,)))), lambda b, m: b.make("add", (m.x, m.y), {})),
    Rule("(-x) * c -> (-c) * x", P("mul", (P("neg", (x,)), P.const(name="c", weak=True)), commutative=True),
         lambda b, m: b.make("mul", (b.const(-m.c.scalar), m.x), {})),
    Rule("(-a) @ b -> -(a @ b), the sign on the smaller side", P("matmul"), _negation_out_of_matmul),
    Rule("(c * I) @ y -> c * y", P("matmul", (P("const", name="eye"), y), commutative=True),
         _identity_matmul),
    Rule("(x + c1) + c2 -> x + (c1 + c2), and the same for *",
         P(("add", "mul"), (P(("add", "mul"), (x, P("const", name="c1")), name="inner"),
                            P("const", name="c2"))),
         _reassociate),
    Rule("y + scatter_add(a) -> index_add(y, a)",
         P("add", (P("scatter_add", name="scatter"), y), commutative=True), _index_add),
    Rule("c*u + -c*v -> c * (u - v)", P(("add", "sub"), (P.var("u"), P.var("v"))), _common_factor),
]

# ---------------------------------------------------------------- broadcasts
# No materialised broadcasts: elementwise ops broadcast their operands themselves.


def _expands(n: Node) -> bool:
    """A broadcast, or a reshape that only adds leading unit dims: both implied by broadcasting."""
    if n.op == "broadcast_to":
        return True
    if n.op != "reshape":
        return False
    old, new = n.inputs[0].shape, n.params["shape"]
    lead = len(new) - len(old)
    return lead > 0 and new[lead:] == old and all(d == 1 for d in new[:lead])


def _like(b: Builder, m: Match) -> Node:
    value = b.const(np.asarray(0 if m.root.op == "zeros_like" else 1, m.x.dtype))
    return b.make("broadcast_to", (value,), {"shape": m.x.shape})


def _sum_of_broadcast(b: Builder, m: Match) -> Node | None:
    """A sum over axes that a broadcast repeated along is the value times their length; only
    the axes where x itself varies are summed."""
    x, full, params = m.x, m.bcast.shape, m.root.params
    if not math.prod(full):  # a sum of nothing is 0, not count * x (nan where x is inf)
        return None
    padded = (1,) * (len(full) - len(x.shape)) + x.shape
    axes = params["axes"]
    count = int(np.prod([full[a] for a in axes if padded[a] == 1]))
    summed = tuple(a for a in axes if padded[a] != 1)
    out = x if padded == x.shape else b.make("reshape", (x,), {"shape": padded})
    if summed:
        out = b.make("sum", (out,), {"axes": summed, "keepdims": True})
    if count != 1:
        out = b.make("mul", (out, b.const(count)), {})
    kept = tuple(1 if a in axes else d for a, d in enumerate(full))
    dropped = tuple(d for a, d in enumerate(full) if a not in axes)
    if params["keepdims"]:
        out = b.make("broadcast_to", (out,), {"shape": kept})
    elif out.shape == ():  # a scalar: broadcast straight to the result's shape
        out = b.make("broadcast_to", (out,), {"shape": dropped})
    else:
        out = b.make("reshape", (b.make("broadcast_to", (out,), {"shape": kept}),), {"shape": dropped})
    return out if out.dtype == m.root.dtype else None


def _cast_first(b: Builder, m: Match) -> Node | None:
    if not _expands(m.bcast):
        return None
    return b.make("broadcast_to", (b.make("astype", (m.x,), m.root.params),), {"shape": m.bcast.shape})


def _unbroadcast_operands(b: Builder, m: Match) -> Node | None:
    root = m.root
    op = OPS[root.op]
    if not op.elementwise or not any(_expands(i) for i in root.inputs):
        return None
    unwrapped = tuple(i.inputs[0] if _expands(i) else i for i in root.inputs)
    node = b.make(root.op, unwrapped, root.params)
    if op.out_shape(tuple(i.shape for i in unwrapped), root.params) == root.shape:
        return node
    return b.make("broadcast_to", (node,), {"shape": root.shape})


BROADCASTS = [
    Rule("reshape(c) -> broadcast_to(c)", P("reshape", (P.const(name="c"),)),
         lambda b, m: b.make("broadcast_to", (m.c,), m.root.params)),
    Rule("reshape(broadcast_to(c)) -> broadcast_to(c)",
         P("reshape", (P("broadcast_to", (P.const(name="c"),)),)),
         lambda b, m: b.make("broadcast_to", (m.c,), m.root.params)),
    Rule("reshape(broadcast_to(x)) that only added 1s -> reshape(x)",
         P("reshape", (P("broadcast_to", (x,), name="bcast"),)),
         lambda b, m: b.make("reshape", (m.x,), m.root.params)
         if np.prod(m.bcast.shape) == np.prod(m.x.shape) else None),
    Rule("broadcast_to(broadcast_to(x)) -> broadcast_to(x)", P("broadcast_to", (P("broadcast_to", (x,)),)),
         lambda b, m: b.make("broadcast_to", (m.x,), m.root.params)),
    Rule("zeros_like(x), ones_like(x) -> broadcast_to(0 or 1)", P(("zeros_like", "ones_like"), (x,)), _like),
    Rule("sum(broadcast_to(x)) -> broadcast_to(count * x)",
         P("sum", (P("broadcast_to", (x,), name="bcast"),)),
         _sum_of_broadcast),
    Rule("astype(broadcast(x)) -> broadcast(astype(x))",
         P("astype", (P(("broadcast_to", "reshape"), (x,), name="bcast"),)), _cast_first),
    Rule("f(broadcast(x), y) -> f(x, y), broadcast after if the result needs it", P(), _unbroadcast_operands),
]

# ---------------------------------------------------------------- reductions
# A factor constant along a sum's axes moves out of it: sum(a * r) -> r' * sum(a),
# sum(a / r) -> sum(a) / r', sum(-a) -> -sum(a), with r' the factor as the sum leaves its
# axes. The summand is read as one signed product (its products, quotients and negations
# flattened), so every spelling and nesting of the same factors meets the rule; it fires
# when the cost model says the gradient gets cheaper.

CALL_ELEMENTS = 512  # a NumPy call's fixed cost (about half a microsecond), in elements of work
MAX_FACTORS = 16  # factors of one summand followed: past it the rest is one factor


def op_cost(shape: tuple[int, ...]) -> int:
    """The cost model of the rules below: an op writing (or a reduction reading) an array of
    `shape` costs its elements plus a call's fixed cost."""
    return math.prod(shape) + CALL_ELEMENTS


@dataclass
class _Product:
    """A summand read as sign * prod(num) / prod(den), and the nodes it was read through."""

    dtype: np.dtype
    sign: int = 1
    num: list[Node] = field(default_factory=list)
    den: list[Node] = field(default_factory=list)
    through: list[Node] = field(default_factory=list)

    def read(self, b: Builder, n: Node, num: list[Node], den: list[Node]) -> None:
        """Node n read in as a factor of `num` (`den` the other side). Products, quotients
        and negations of the summand's dtype are read through, except one that something
        else uses (computed anyway, it stays one factor), and past MAX_FACTORS."""
        if self.through and (n.op not in ("mul", "div", "neg") or n.dtype != self.dtype or b.shared(n)
                             or len(self.num) + len(self.den) >= MAX_FACTORS):
            num.append(n)
            return
        self.through.append(n)
        if n.op == "neg":
            self.sign = -self.sign
        self.read(b, n.inputs[0], num, den)
        if n.op == "mul":
            self.read(b, n.inputs[1], num, den)
        elif n.op == "div":
            self.read(b, n.inputs[1], den, num)


def _constant_along(n: Node, rank: int, axes: tuple[int, ...]) -> bool:
    """Whether node n, broadcast to `rank` dims, has length 1 on each of `axes`."""
    padded = (1,) * (rank - len(n.shape)) + n.shape
    return all(padded[a] == 1 for a in axes)


def _missing_cost(b: Builder, num: list[Node], den: list[Node]) -> int:
    """The cost of the steps multiplying out prod(num) / prod(den), left to right as
    `_multiply_out` does, that the graph does not hold yet."""
    acc = num[0] if num else b.const(1)
    cost, shape, known = 0, acc.shape, True
    for op, f in [*(("mul", f) for f in num[1:]), *(("div", f) for f in den)]:
        shape = np.broadcast_shapes(shape, f.shape)
        if known:
            found = b.g.find(op, (acc, f), {}) or (b.g.find(op, (f, acc), {}) if op == "mul" else None)
            known, acc = found is not None, found
        if not known:
            cost += op_cost(shape)
    return cost


def _multiply_out(b: Builder, num: list[Node], den: list[Node]) -> Node:
    acc = num[0] if num else b.const(1)
    for f in num[1:]:
        acc = b.make("mul", (acc, f), {})
    for f in den:
        acc = b.make("div", (acc, f), {})
    return acc


def _reduced_factor(b: Builder, n: Node, rank: int, axes: tuple[int, ...], keepdims: bool) -> Node:
    """Factor n as the sum leaves the axes: n itself with keepdims (it broadcasts as it
    did), else n with the summed axes dropped."""
    if keepdims or n.scalar is not None:
        return n
    padded = (1,) * (rank - len(n.shape)) + n.shape
    kept = tuple(d for a, d in enumerate(padded) if a not in axes)
    return n if kept == n.shape else b.make("reshape", (n,), {"shape": kept})


def _factor_out_of_sum(b: Builder, m: Match) -> Node | None:
    root, summand = m.root, m.summand
    axes, keepdims = root.params["axes"], root.params["keepdims"]
    rank, dtype = len(summand.shape), summand.dtype
    if dtype.kind not in "fc" or not axes:
        return None
    p = _Product(dtype)
    p.read(b, summand, p.num, p.den)
    if any(f.dtype != dtype and not f.weak for f in (*p.num, *p.den)):
        return None  # a factor of another dtype: the sum would accumulate in another precision
    num = [f for f in p.num if not _constant_along(f, rank, axes)]
    den = [f for f in p.den if not _constant_along(f, rank, axes)]
    outer_num = [f for f in p.num if _constant_along(f, rank, axes)]
    outer_den = [f for f in p.den if _constant_along(f, rank, axes)]
    if not (num or den) or not (outer_num or outer_den or p.sign < 0):
        return None
    # the summand's length on each summed axis is the inner product's (the outer factors' is 1)
    padded = np.broadcast_shapes(*(f.shape for f in (*num, *den)))
    padded = (1,) * (rank - len(padded)) + padded
    # what the rewrite saves (the nodes read through that nothing else uses, and the sum)
    # against what it makes (the missing steps of the product left inside, its sum, and a
    # small op per factor or sign outside)
    saved = sum(op_cost(n.shape) for n in p.through if not b.shared(n)) + op_cost(summand.shape)
    outside = len(outer_num) + len(outer_den) + (p.sign < 0)
    cost = _missing_cost(b, num, den) + op_cost(padded) + outside * op_cost(root.shape)
    if cost >= saved:
        return None
    inner = _multiply_out(b, num, den)
    if len(inner.shape) < rank:
        inner = b.make("reshape", (inner,), {"shape": padded})
    out = b.make("sum", (inner,), root.params)
    for f in outer_num:
        out = b.make("mul", (_reduced_factor(b, f, rank, axes, keepdims), out), {})
    if outer_den:
        out = b.make("div", (out, _multiply_out(b, [_reduced_factor(b, f, rank, axes, keepdims)
                                                    for f in outer_den], [])), {})
    if p.sign < 0:
        out = b.make("neg", (out,), {})
    return b.typed(out, root) if out.dtype == root.dtype else None


REDUCTIONS = [
    Rule("sum(a * r), sum(a / r), sum(-a) -> r' * sum(a), sum(a) / r', -sum(a), r constant along the axes",
         P("sum", (P(("mul", "div", "neg"), name="summand"),)), _factor_out_of_sum),
]

ALGEBRA = [*FOLD, *IDENTITIES, *SIGNS, *BROADCASTS, *REDUCTIONS, *SCATTERS]
