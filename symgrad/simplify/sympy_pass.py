"""The SymPy pass: clusters of elementwise ops become SymPy expressions, and come back simpler.

Consecutive floating-point elementwise nodes are translated through each op's `sympy`
form; SymPy's canonical form merges like terms and powers (`x*x*3 + 2*x*x` -> `5*x**2`),
`sympy.cse` shares subexpressions across every value the cluster must produce, and the
result is rebuilt from registered ops (so the rest of the pipeline, codegen included, sees
an ordinary graph). A cluster that is too large, too slow or holds something SymPy cannot
express is rebuilt as it was.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen import cfunctions

from symgrad.ir import Graph, Node
from symgrad.ops import OPS, Op
from symgrad.simplify.sympy_gain import fusible

MAX_TREE = 40  # ops in one expression (as a tree): bigger clusters are cut into windows
# ops given to SymPy in one pass; past it, the rest is rebuilt as it was. A count, not a time,
# so that the generated code does not depend on the machine or on SymPy's caches being warm
# (about 0.25 s cold here).
BUDGET = 1000
# leaf values SymPy's form of a cluster is checked on against the cluster as written (see
# `_Pass.same_nonfinite`): each leaf gets PROBE_LANES of them, drawn with a fixed seed, so
# the generated code does not vary between runs
PROBE_VALUES = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0, 0.5, 2.0, -3.0])
PROBE_LANES = 64



class Sigmoid(sp.Function):
    """sigmoid as an opaque SymPy function: rewriting it as 1/(1+exp(-x)) would overflow."""


class Softplus(sp.Function):
    """softplus as an opaque SymPy function, for the same reason."""


class Logaddexp(sp.Function):
    """logaddexp as an opaque SymPy function: log(exp(x) + exp(y)) would overflow."""


class Digamma(sp.Function):
    """digamma as an opaque SymPy function: SymPy's digamma(x) is polygamma(0, x), two arguments."""


class Logit(sp.Function):
    """logit as an opaque SymPy function: log(x / (1 - x)) would be rebuilt as a log of a division."""


class Xlogy(sp.Function):
    """xlogy as an opaque SymPy function: x*log(y) is nan, not 0, at x == 0, y == 0."""


class Xlog1py(sp.Function):
    """xlog1py as an opaque SymPy function, for the same reason."""


class LogNdtr(sp.Function):
    """log_ndtr as an opaque SymPy function: log(ndtr(x)) underflows in the lower tail."""


def form(op: Op) -> Any:
    """An op's SymPy form as a callable: a name (`op.sympy` is a string, so that registering
    ops does not import SymPy) is one of the opaque functions above, a C function of
    `sympy.codegen.cfunctions` (log1p, expm1, ...), or a SymPy function (exp, Abs, ...)."""
    spec = op.sympy
    if not isinstance(spec, str):
        return spec
    found = globals().get(spec)
    if not (isinstance(found, type) and issubclass(found, sp.Function)):
        found = getattr(sp, spec, None) or getattr(cfunctions, spec)
    return found


_FUNCS: dict[Any, str] = {}  # SymPy function class -> op name


def _functions() -> dict[Any, str]:
    if not _FUNCS:
        for name, op in OPS.items():
            if op.sympy is not None and not op.params:
                expr = form(op)(*sp.symbols(f"probe:{len(op.args)}"))
                if isinstance(expr, sp.Function) or getattr(expr, "func", None) in (sp.exp, sp.log):
                    _FUNCS[expr.func] = name
    return _FUNCS


def _sympy(form: Any, args: list) -> Any:
    """Apply an op's SymPy form. Functions are not evaluated: `sin(big expression)` would
    query SymPy's assumptions about its argument, which can take seconds."""
    if isinstance(form, type) and issubclass(form, sp.Function):
        return form(*args, evaluate=False)
    return form(*args)


class _Unsupported(Exception):
    pass


class _Pass:
    def __init__(self, graph: Graph) -> None:
        self.old, self.g = graph, Graph()
        self.mapping: dict[Node, Node] = {}
        self.exprs: dict[Node, Any] = {}  # old node -> SymPy expression (pending ones)
        self.tree: dict[Node, int] = {}  # old node -> size of its expression as a tree
        self.pending: list[Node] = []
        self.symbols: dict[Node, sp.Symbol] = {}  # new node -> its symbol
        self.nodes: dict[sp.Symbol, Node] = {}
        self.fused = 0  # ops given to SymPy so far (see BUDGET)
        self.shapes: dict[Any, tuple[int, ...]] = {}  # expression -> its shape, in one cluster
        self.where = ""  # the user's line the nodes being made come from
        self.consumers = graph.consumers()

    def run(self) -> Graph:
        old = self.old
        live = self.live = old.live()
        for n in old.inputs:
            self.mapping[n] = self.g.input(n.name, n.shape, n.dtype)
        for n in old.nodes:
            if n not in live or n in self.mapping:
                continue
            if n.op == "const":
                self.mapping[n] = self.g.const(n.value)
            elif fusible(n) and self.fused < BUDGET:
                size = 1 + sum(self.tree.get(i, 0) for i in n.inputs if i in self.exprs)
                if size > MAX_TREE:  # SymPy distributes and re-sorts: keep expressions small
                    self.flush()
                    size = 1
                self.exprs[n] = _sympy(form(OPS[n.op]), [self.expr_of(i) for i in n.inputs])
                self.fused += 1
                self.tree[n] = size
                self.pending.append(n)
            else:
                if any(i in self.exprs for i in n.inputs):
                    self.flush()
                ins = tuple(self.mapping[i] for i in n.inputs)
                self.mapping[n] = self.g.apply(OPS[n.op], ins, n.params, n.where)
        self.flush()
        self.g.outputs = [self.typed(self.mapping[n], n) for n in old.outputs]
        return self.g

    def expr_of(self, n: Node) -> Any:
        if n in self.exprs:
            return self.exprs[n]
        value = n.scalar
        if value is not None and n.weak:
            return sp.Integer(value) if isinstance(value, (int, np.integer)) else sp.Float(value)
        new = self.mapping[n]
        if new not in self.symbols:
            sym = sp.Symbol(f"v{new.id}")
            self.symbols[new], self.nodes[sym] = sym, new
        return self.symbols[new]

    def flush(self) -> None:
        """Materialise the pending values that something outside the cluster needs."""
        if not self.pending:
            return
        # needed outside: by a graph output, or a consumer that is not in this cluster
        want = [p for p in self.pending if p in self.old.outputs
                or any(c not in self.exprs for c in self.consumers[p] if c in self.live)]
        # the nodes built for a value come from its line; shared subexpressions from the first's
        first = self.where = next((p.where for p in want if p.where), "")
        try:
            replacements, reduced = sp.cse([self.exprs[p] for p in want], order="none")
            self.shapes.clear()  # cse names its values x0, x1... afresh in each cluster
            built: dict[Any, Node] = {}
            for sym, e in replacements:
                self.nodes[sym] = self.build(e, built)
            results = []
            for p, e in zip(want, reduced):
                self.where = p.where or first
                results.append(self.build(e, built))
            self.where = first
        except _Unsupported:
            self.where = first
            results = [self.plain(p) for p in want]
        kept = self.same_nonfinite(want, results)
        for p, r, ok in zip(want, results, kept):
            if ok:
                self.mapping[p] = self.typed(r, p)
        for p, ok in zip(want, kept):
            if not ok:
                self.mapping[p] = self.plain(p)
        for p in self.pending:
            del self.exprs[p]
            self.tree.pop(p, None)
        self.pending = []

    def same_nonfinite(self, want: list[Node], results: list[Node]) -> list[bool]:
        """For each value, whether SymPy's form is nan and inf exactly where the cluster as
        written is, on PROBE_LANES fixed probes of its leaves (nan, +-inf, 0 and small
        numbers). SymPy assumes finite numbers: x - x is 0, x*y/y is x, sqrt(x)**2 is x,
        where NumPy's x - x is nan at inf. A value that differs keeps its written form."""
        rng = np.random.default_rng(0)
        probes: dict[Node, np.ndarray] = {}

        def probe(new: Node) -> np.ndarray:
            if new not in probes:
                probes[new] = rng.choice(PROBE_VALUES, PROBE_LANES)
            return probes[new]

        def leaf(new: Node) -> Any:
            value = new.scalar if new.op == "const" else None
            return probe(new) if value is None else np.float64(value)

        before: dict[Node, Any] = {}

        def old_value(n: Node) -> Any:
            if n not in self.exprs:
                return np.float64(n.scalar) if n.weak and n.scalar is not None else leaf(self.mapping[n])
            if n not in before:
                before[n] = OPS[n.op].forward(*(old_value(i) for i in n.inputs), **n.params)
            return before[n]

        after: dict[Node, Any] = {}

        def new_value(n: Node) -> Any:
            if n in self.symbols or n.op == "const":
                return leaf(n)
            if n not in after:
                after[n] = OPS[n.op].forward(*(new_value(i) for i in n.inputs), **n.params)
            return after[n]

        kept = []
        with np.errstate(all="ignore"):
            for p, r in zip(want, results):
                try:
                    a, b = np.broadcast_arrays(np.asarray(old_value(p), float),
                                               np.asarray(new_value(r), float))
                except (TypeError, ValueError):  # an op whose forward wants more than lanes of numbers
                    kept.append(False)
                    continue
                nan_a, nan_b = np.isnan(a), np.isnan(b)
                inf_differs = (np.isinf(a) | np.isinf(b)) & (a != b) & ~nan_a & ~nan_b
                kept.append(bool(np.array_equal(nan_a, nan_b) and not inf_differs.any()))
        return kept

    def typed(self, r: Node, p: Node) -> Node:
        """`r` with old node p's shape and dtype (a cluster may simplify to a bare number)."""
        if r.shape != p.shape:
            r = self.g.apply(OPS["broadcast_to"], (r,), {"shape": p.shape}, self.where)
        if r.dtype != p.dtype:
            r = self.g.apply(OPS["astype"], (r,), {"dtype": p.dtype.name}, self.where)
        return r

    def plain(self, n: Node) -> Node:
        """Rebuild an old node as it was (its pending inputs first)."""
        if n in self.mapping:
            return self.mapping[n]
        ins = tuple(self.plain(i) for i in n.inputs)
        self.mapping[n] = self.g.apply(OPS[n.op], ins, n.params, n.where or self.where)
        return self.mapping[n]

    # SymPy expression -> registered ops -------------------------------------------------
    def build(self, e: Any, memo: dict[Any, Node]) -> Node:
        if e in memo:
            return memo[e]
        node = self._build(e, memo)
        memo[e] = node
        return node

    def op(self, name: str, *ins: Node) -> Node:
        return self.g.apply(OPS[name], ins, {}, self.where)

    def number(self, e: Any) -> Node:
        if e.is_Integer:
            return self.g.const(int(e))
        if e.is_real:
            return self.g.const(float(e))
        raise _Unsupported

    def product(self, coeff: Any, num: list, den: list, memo: dict[Any, Node]) -> Node:
        """coeff * prod(num) / prod(den), the factors smaller than the largest (a row's sum
        against a matrix) and the coefficient combined first: each op on the largest shape
        is one more pass over it, one on a row costs little (`x * (s / n)`, not `x * s / n`).
        Each factor is built where it is used, as written (fewer arrays live at once)."""
        size = max((math.prod(self.shape(f)) for f in (*num, *den)), default=0)
        small_num = [f for f in num if math.prod(self.shape(f)) < size]
        small_den = [f for f in den if math.prod(self.shape(f)) < size]
        num = [f for f in num if f not in small_num]
        den = [f for f in den if f not in small_den]
        small = None
        for f in small_num:
            node = self.build(f, memo)
            small = node if small is None else self.op("mul", small, node)
        if coeff != 1 and (small is not None or not num):
            small, coeff = self.scaled(small, coeff), 1
        divisor = None
        for f in small_den:
            node = self.build(f, memo)
            divisor = node if divisor is None else self.op("mul", divisor, node)
        if divisor is not None and small is not None:
            small, divisor = self.op("div", small, divisor), None
        acc = small
        for f in num:
            node = self.build(f, memo)
            acc = node if acc is None else self.op("mul", acc, node)
        if coeff != 1 or acc is None:
            acc = self.scaled(acc, coeff)
        for f in den:
            acc = self.op("div", acc, self.build(f, memo))
        return acc if divisor is None else self.op("div", acc, divisor)  # x / d, not x * (1 / d)

    def shape(self, e: Any) -> tuple[int, ...]:
        """The shape of SymPy expression e built: its symbols' shapes broadcast together."""
        found = self.shapes.get(e)
        if found is None:
            if e.is_Symbol:
                found = self.nodes[e].shape
            else:
                found = np.broadcast_shapes(*(self.shape(a) for a in e.args)) if e.args else ()
            self.shapes[e] = found
        return found

    def scaled(self, acc: Node | None, coeff: Any) -> Node:
        """coeff * acc, a negation for -1; the number itself for no acc."""
        if acc is None:
            return self.number(coeff)
        return self.op("neg", acc) if coeff == -1 else self.op("mul", self.number(coeff), acc)

    def _build(self, e: Any, memo: dict[Any, Node]) -> Node:
        if e.is_Symbol:
            return self.nodes[e]
        if e.is_Number:
            return self.number(e)
        if e.is_Add:
            pos = [t for t in e.args if not t.could_extract_minus_sign()]
            neg = [-t for t in e.args if t.could_extract_minus_sign()]
            acc = self.build(pos[0], memo) if pos else self.op("neg", self.build(neg.pop(0), memo))
            for t in pos[1:]:
                acc = self.op("add", acc, self.build(t, memo))
            for t in neg:
                acc = self.op("sub", acc, self.build(t, memo))
            return acc
        if e.is_Mul:
            coeff, rest = e.as_coeff_Mul()
            num, den = [], []
            for f in sp.Mul.make_args(rest):
                if f.is_Pow and f.exp.is_Number and f.exp.is_negative:
                    den.append(f.base if f.exp == -1 else f.base ** -f.exp)
                else:
                    num.append(f)
            return self.product(coeff, num, den, memo)
        if e.is_Pow:
            base, ex = e.args
            if ex == sp.Rational(1, 2):
                return self.op("sqrt", self.build(base, memo))
            if ex.is_Number and ex.is_negative:
                return self.op("div", self.g.const(1.0), self.build(base ** -ex, memo))
            if ex in (2, 3, 4):  # a product is exact and several times cheaper than pow
                b = self.build(base, memo)
                square = self.op("mul", b, b)
                return square if ex == 2 else self.op("mul", square, b if ex == 3 else square)
            return self.op("pow", self.build(base, memo), self.build(ex, memo))
        name = _functions().get(e.func)
        if name is None or len(e.args) != len(OPS[name].args):
            raise _Unsupported
        return self.op(name, *(self.build(a, memo) for a in e.args))


def sympy_pass(graph: Graph) -> Graph:
    """Simplify and CSE each cluster of elementwise ops through SymPy (see the module doc)."""
    return _Pass(graph).run()
