"""Whether the SymPy pass can gain anything on a graph, decided without SymPy.

Importing SymPy and its first use cost about half a second; the pass spends it in proportion
to what it can gain only if graphs where it gains nothing skip it. SymPy changes a cluster of
elementwise ops in these ways only: its canonical sums and products merge like terms and
like factors (`x*x*3 + 2*x*x`, `x - x`, `x**2 * x`, `exp(x)*exp(x)`) and numbers (`2*(3*x)`,
`-(-x)`, `1 + x + 2`), and `sympy.cse` shares sub-sums and sub-products that several values
hold (`x*(y*sin(x))` and `x*(y*cos(x))` share `x*y`). `may_gain` looks for each of these in the
graph: sums and products flattened as SymPy flattens them (through shared nodes too, as SymPy
sees trees), like terms and factors compared by node, and pairs of operands shared by two
sums or products that are not yet one node. Finding none, the pass has nothing to do.
"""

from __future__ import annotations

from collections import Counter

from symgrad.ir import Graph, Node
from symgrad.ops import OPS

ARITHMETIC = ("add", "sub", "mul", "div")
MAX_FLAT = 40  # operands of one flattened sum or product followed; past it a node is an atom


def fusible(n: Node) -> bool:
    """A floating-point elementwise node with a SymPy form: what the SymPy pass takes."""
    op = OPS.get(n.op)
    return (op is not None and op.sympy is not None and n.dtype.kind == "f"
            and all(i.dtype.kind == "f" or i.scalar is not None for i in n.inputs))


class _Gain(Exception):
    """Found something SymPy would merge or share."""


def _number(n: Node) -> bool:
    """A constant: SymPy gathers constants in a sum or product, where they fold."""
    return n.op == "const"


def _zero(n: Node) -> bool:
    return n.op == "const" and n.scalar is not None and bool(n.scalar == 0)


def _unit(n: Node) -> bool:
    return n.weak and n.scalar in (1, -1)


def _cheaper_power(e: Node) -> bool:
    """An exponent SymPy's rebuild turns into cheaper ops: products, a division, a sqrt."""
    return _number(e) and e.weak and (e.scalar < 0 or e.scalar in (0, 0.5, 1, 2, 3, 4))


def _scaled(e: float | None, sign: int) -> float | None:
    return None if e is None else sign * e


def _power(a: float | None, b: float | None, sign: int) -> float:
    """x**a times x**(sign*b): a gain (raises _Gain) where the factors cancel, a symbolic
    exponent adds up, or the power is at least 4 (x**4 takes two products, not three)."""
    if a is None or b is None:
        raise _Gain
    total = a + sign * b
    if a * sign * b < 0 or abs(total) >= 4:
        raise _Gain
    return total


class _Flat:
    """Sums and products of one graph flattened as SymPy flattens them (memoised per node)."""

    def __init__(self, graph: Graph) -> None:
        self.consumers = graph.consumers()
        self.products: dict[Node, tuple[int, dict]] = {}
        self.sums: dict[Node, Counter] = {}
        self.fusible: dict[Node, bool] = {n: fusible(n) for n in graph.nodes}

    def product(self, n: Node) -> tuple[int, dict]:
        """(how many numbers, each factor's base -> exponent) of n as a product; raises _Gain
        on two numbers or a base that SymPy's power would make cheaper."""
        found = self.products.get(n)
        if found is not None:
            return found
        op = n.op if self.fusible[n] else None
        if _number(n):
            out: tuple[int, dict] = (1, {})
        elif op in ("mul", "div"):
            a, b = n.inputs
            if _unit(a) or _unit(b) or _zero(a) or _zero(b) or (op == "mul" and any(
                    self.fusible[i] and i.op == "div" and _unit(i.inputs[0]) for i in n.inputs)):
                raise _Gain  # 1*x, x/1, 0*x, x * (1/d)
            (na, fa), (nb, fb) = self.product(a), self.product(b)
            if na and nb:
                raise _Gain
            sign = 1 if op == "mul" else -1
            merged = dict(fa)
            for base, e in fb.items():
                merged[base] = _power(merged.get(base), e, sign) if base in merged else _scaled(e, sign)
            out = (na + nb, merged)
        elif op == "neg":
            x = n.inputs[0]
            count, factors = self.product(x)
            signed_sum = x.op == "sub" or x.op == "add" and any(map(_number, x.inputs))
            if count or (self.fusible[x] and signed_sum):
                raise _Gain  # -(2*x), -(x - y) is y - x, -(x + 1) is -1 - x
            if all(self.fusible[c] and c.op in ARITHMETIC for c in self.consumers[n]):
                raise _Gain  # the sign goes into a sum: -a*b + c is c - a*b
            out = (1, factors)
        elif op in ("pow", "sqrt"):  # x**a * x**b is x**(a + b): the base is the factor
            base = n.inputs[0]
            if self.fusible[base] and base.op in ("mul", "div", "neg", "pow", "sqrt"):
                raise _Gain  # (x*y)**2, (x**2)**3, sqrt(x)**2
            if op == "pow" and _cheaper_power(n.inputs[1]):
                raise _Gain
            if op == "sqrt":
                out = (0, {base: 0.5})
            else:
                e = n.inputs[1]
                out = (0, {base: None if e.scalar is None else float(e.scalar)})
        else:
            x = n.inputs[0] if len(n.inputs) == 1 else None
            if op is not None and x is not None and self.fusible[x] and x.op == "neg":
                raise _Gain  # cos(-x) is cos(x), sin(-x) is -sin(x): the sign moves out
            out = (0, {n: 1.0})
        if len(out[1]) > MAX_FLAT:
            out = (0, {n: 1.0})
        self.products[n] = out
        return out

    def sum(self, n: Node) -> Counter:
        """The terms of n as a sum (each a product, numbers left out); raises _Gain when two
        are alike (numbers alike too: they add up)."""
        found = self.sums.get(n)
        if found is not None:
            return found
        op = n.op if self.fusible[n] else None
        if op in ("add", "sub"):
            if any(map(_zero, n.inputs)):
                raise _Gain  # 0 - x, x + 0
            a, b = self.sum(n.inputs[0]), self.sum(n.inputs[1])
            if a.keys() & b.keys():
                raise _Gain
            out = a + b
        elif op == "neg":
            out = self.sum(n.inputs[0])
        elif op == "mul" and any(_number(i) and i.weak for i in n.inputs):  # 2*(x + y) is 2*x + 2*y
            out = self.sum(n.inputs[1] if _number(n.inputs[0]) else n.inputs[0])
            self.product(n)
        else:
            out = Counter({frozenset(self.product(n)[1].items()): 1})  # numbers left out
        if len(out) > MAX_FLAT:
            out = Counter({frozenset({(n, 1.0)}): 1})
        self.sums[n] = out
        return out


def _shared_pairs(graph: Graph, live: set[Node], fusible: dict[Node, bool],
                  consumers: dict[Node, list[Node]]) -> bool:
    """Whether a sum or product of three or more operands holds a pair of them that another
    sum or product holds too (what `sympy.cse` shares). Operands: through single-use nodes
    of the same kind, as the graph's own sharing already is a node."""
    kinds = {"add": "sum", "sub": "sum", "mul": "product", "div": "product"}

    def operands(n: Node, kind: str) -> list[Node]:
        out = []
        for i in n.inputs:
            if fusible[i] and kinds.get(i.op) == kind and len(consumers[i]) == 1:
                out += operands(i, kind)
            else:
                out.append(i)
        return out
    seen: dict[tuple, tuple[Node, int]] = {}  # (kind, a, b) -> the first root holding a, b
    for n in graph.nodes:
        kind = kinds.get(n.op)
        if n not in live or kind is None or not fusible[n]:
            continue
        if all(kinds.get(c.op) == kind and fusible[c] for c in consumers[n]) and len(consumers[n]) == 1:
            continue  # inside a larger sum or product: its root's operands hold its own
        ops = sorted(set(operands(n, kind)), key=lambda m: m.id)[:MAX_FLAT]
        for i, a in enumerate(ops):
            for b in ops[i + 1:]:
                other = seen.setdefault((kind, a, b), (n, len(ops)))
                if other[0] is not n and max(other[1], len(ops)) >= 3:
                    return True
    return False


def may_gain(graph: Graph) -> bool:
    """Whether the SymPy pass could make `graph` smaller (see the module doc)."""
    live = graph.live()
    flat = _Flat(graph)
    try:
        for n in graph.nodes:
            if n in live and flat.fusible[n]:
                flat.sum(n)
                flat.product(n)
    except _Gain:
        return True
    return _shared_pairs(graph, live, flat.fusible, flat.consumers)
