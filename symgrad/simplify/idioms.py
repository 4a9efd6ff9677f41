"""Idioms in canonical form: the spellings people write for sigmoid, softplus, log-sigmoid,
logit, binary cross-entropy, ReLU and max-shifted softmax become one op each, on the forward
trace before reverse mode (`stabilize` runs these rules), so every spelling gets the same
gradient.

The rules read the mathematics, not one spelling: negation is recognised however it is
written (`-u`, `-1 * u`, `0 - u`), sums are flattened into signed terms so that two terms
that make one function are found wherever they sit (`max(z, 0) - z*y + log1p(exp(-|z|))`
holds softplus(z) with a term between), and scalar constants match weak or strong.

Conventions: ReLU (`maximum(x, 0)`, `where(x > 0, x, 0)`, `clip(x, 0, None)`) has gradient 0
at x == 0, as PyTorch's relu and `jax.nn.relu` (np.maximum of two variables still shares
ties); a rule keeps the gradient the spelling has at a kink otherwise (`where(x < 0, 0, x)` is
not relu: it keeps x at 0, with gradient 1); `x * (x > 0)` is left alone: it is nan at
x = -inf where relu is 0, and its gradient is already one masked product. Constant zeros
propagate: `0 * x` and `0 @ W` are zeros even where x holds inf or nan (as in PyTensor's and
XLA's simplifiers).
"""

from __future__ import annotations

import numpy as np

from symgrad.ir import Node
from symgrad.simplify.patterns import Builder, Match, P, Rule

x, y, u = P.var("x"), P.var("y"), P.var("u")
REDUCTIONS = ("sum", "amax", "amin", "prod")


# ---------------------------------------------------------------- reading nodes

def _is(n: Node, value: float) -> bool:
    """Whether node n is the scalar constant `value` (weak or strong, any dtype)."""
    s = n.scalar
    return s is not None and not isinstance(s, (bool, np.bool_)) and s == value


def _zero(n: Node) -> bool:
    """Whether node n is a constant made only of zeros (a scalar or an array, or
    `zeros_like(x)`, whatever x holds)."""
    if n.op == "broadcast_to":
        n = n.inputs[0]
    if n.op == "zeros_like":
        return n.dtype.kind in "biuf"
    if n.op != "const" or n.dtype.kind not in "biuf":
        return False
    return not np.any(n.value)


def _negated(n: Node) -> Node | None:
    """u when node n is -u, spelled neg(u), -1 * u, u * -1 or 0 - u; else None."""
    if n.op == "neg":
        return n.inputs[0]
    if n.op == "mul":
        for k in (0, 1):
            if _is(n.inputs[k], -1):
                return n.inputs[1 - k]
    if n.op == "sub" and _is(n.inputs[0], 0):
        return n.inputs[1]
    return None


def _negate(b: Builder, n: Node) -> Node:
    """-n, without a double negation."""
    inner = _negated(n)
    return inner if inner is not None else b.make("neg", (n,), {})


def _doubled(b: Builder, n: Node) -> Node:
    """2 * n, reading n = u / 2 or n = 0.5 * u as u."""
    if n.op == "div" and _is(n.inputs[1], 2):
        return n.inputs[0]
    if n.op == "mul":
        for k in (0, 1):
            if _is(n.inputs[k], 0.5):
                return n.inputs[1 - k]
    return b.make("mul", (b.const(2), n), {})


def _same(b: Builder, m: Match, node: Node) -> Node | None:
    """`node` as the proposed node's replacement: None unless shape and dtype agree."""
    root = m.root
    return node if (node.shape, node.dtype) == (root.shape, root.dtype) else None


def _softplus(b: Builder, arg: Node) -> Node:
    return b.make("softplus", (arg,), {})


def _sigmoid(b: Builder, m: Match, arg: Node) -> Node | None:
    return _same(b, m, b.make("sigmoid", (arg,), {}))


# ---------------------------------------------------------------- sigmoid

def _one_over(b: Builder, m: Match) -> Node | None:
    """1 / (1 + exp(v)) -> sigmoid(-v)."""
    return _sigmoid(b, m, _negate(b, m.v)) if _is(m.one, 1) and _is(m.one2, 1) else None


def _exp_over(b: Builder, m: Match) -> Node | None:
    """exp(u) / (1 + exp(u)) -> sigmoid(u)."""
    return _sigmoid(b, m, m.u) if _is(m.one, 1) else None


def _tanh_form(b: Builder, m: Match) -> Node | None:
    """0.5 * (1 + tanh(w)) and (1 + tanh(w)) / 2 -> sigmoid(2w)."""
    half = m.get("half")
    if (half is not None and not _is(half, 0.5)) or ("two" in m and not _is(m.two, 2)) or not _is(m.one, 1):
        return None
    return _sigmoid(b, m, _doubled(b, m.w))


def _half_plus(b: Builder, m: Match) -> Node | None:
    """0.5 + 0.5 * tanh(w) -> sigmoid(2w)."""
    if not (_is(m.half, 0.5) and _is(m.half2, 0.5)):
        return None
    return _sigmoid(b, m, _doubled(b, m.w))


def _log_one_minus_sigmoid(b: Builder, m: Match) -> Node | None:
    """log(1 - sigmoid(u)) = log(sigmoid(-u)) -> -softplus(u). Only under a log: elsewhere
    1 - s is cheaper than a second sigmoid (sigmoid's own derivative is s * (1 - s))."""
    return _same(b, m, b.make("neg", (_softplus(b, m.u),), {})) if _is(m.one, 1) else None


# ---------------------------------------------------------------- tanh

def _exp_ratio(b: Builder, m: Match) -> Node | None:
    """(exp(u) - exp(-u)) / (exp(u) + exp(-u)) -> tanh(u): the quotient is inf / inf = nan
    beyond |u| = 710 (89 in float32), tanh is finite everywhere."""
    top, bottom = m.top.inputs, m.bottom.inputs
    if {id(n) for n in top} != {id(n) for n in bottom}:
        return None
    u, v = top[0].inputs[0], top[1].inputs[0]
    if _negated(v) is not u and _negated(u) is not v:
        return None
    return _same(b, m, b.make("tanh", (u,), {}))


def _exp_minus_softplus(b: Builder, m: Match) -> Node | None:
    """exp(-softplus(v)) -> sigmoid(-v)."""
    v = _negated(m.n)
    if v is None or v.op != "softplus":
        return None
    return _sigmoid(b, m, _negate(b, v.inputs[0]))


# ---------------------------------------------------------------- softplus and log-sigmoid

def _softplus_of_zero(b: Builder, m: Match) -> Node | None:
    """logaddexp(0, u) -> softplus(u) for a zero written as a number or as an array of zeros
    (`np.zeros_like(u)`, `np.zeros(u.shape)`): u in the result's dtype first, and broadcast
    after when the zeros have the larger shape (logaddexp(zeros((3, n)), u) repeats u)."""
    root, v = m.root, m.u
    if not _zero(m.zero) or v.dtype.kind not in "biuf" or root.dtype.kind != "f":
        return None
    if v.dtype != root.dtype:
        v = b.make("astype", (v,), {"dtype": root.dtype.name})
    return b.typed(_softplus(b, v), root)


def _log1p_minus_sigmoid(b: Builder, m: Match) -> Node | None:
    """log1p(-sigmoid(u)) = log(sigmoid(-u)) -> -softplus(u)."""
    s = _negated(m.n)
    if s is None or s.op != "sigmoid":
        return None
    return _same(b, m, b.make("neg", (_softplus(b, s.inputs[0]),), {}))


def _one_minus(n: Node, p: Node) -> bool:
    """Whether node n is 1 - p."""
    return n.op == "sub" and _is(n.inputs[0], 1) and n.inputs[1] is p


def _log_of_complement(n: Node, p: Node) -> bool:
    """Whether node n is log(1 - p) or log1p(-p)."""
    return ((n.op == "log" and _one_minus(n.inputs[0], p))
            or (n.op == "log1p" and _negated(n.inputs[0]) is p))


def _logit_of_ratio(b: Builder, m: Match) -> Node | None:
    """log(p / (1 - p)) -> logit(p)."""
    return _same(b, m, b.make("logit", (m.p,), {})) if _one_minus(m.q, m.p) else None


def _logit_of_difference(b: Builder, m: Match) -> Node | None:
    """log(p) - log(1 - p), log(p) - log1p(-p) -> logit(p)."""
    return _same(b, m, b.make("logit", (m.p,), {})) if _log_of_complement(m.c, m.p) else None


# sums as signed terms: (sign, coefficient or None, atom)
Term = tuple[int, "Node | None", Node]
_ATOMS = ("softplus", "relu", "minimum")


MAX_TERMS = 8  # a longer sum is left as it is: flattening shared sums could grow exponentially


def _terms(n: Node, sign: int, out: list[Term]) -> bool:
    """Node n as signed terms of a sum, appended to `out`: additions, subtractions and
    negations flattened, a product split into coefficient and atom when one factor is
    softplus, relu or minimum. False when the sum has more than MAX_TERMS terms."""
    inner = _negated(n)
    if inner is not None:
        return _terms(inner, -sign, out)
    if n.op in ("add", "sub"):
        return (_terms(n.inputs[0], sign, out)
                and _terms(n.inputs[1], sign if n.op == "add" else -sign, out))
    if len(out) >= MAX_TERMS:
        return False
    if n.op == "mul":
        factors = []
        for f in n.inputs:
            g = _negated(f)
            if g is not None:
                sign, f = -sign, g
            factors.append(f)
        a, c = factors
        if c.op in _ATOMS and a.op not in _ATOMS:
            a, c = c, a
        if a.op in _ATOMS:
            out.append((sign, c, a))
            return True
    out.append((sign, None, n))
    return True


def _log1p_exp_minus_abs(n: Node) -> Node | None:
    """u when node n is softplus(-|u|) (log1p(exp(-|u|)) after the rules)."""
    if n.op != "softplus":
        return None
    a = _negated(n.inputs[0])
    return a.inputs[0] if a is not None and a.op == "abs" else None


def _relu_of(n: Node) -> Node | None:
    return n.inputs[0] if n.op == "relu" else None


def _min0_of(n: Node) -> Node | None:
    """u when node n is minimum(u, 0)."""
    if n.op == "minimum":
        for k in (0, 1):
            if _is(n.inputs[k], 0):
                return n.inputs[1 - k]
    return None


def _complement(c: Node | None, d: Node | None) -> bool:
    """Whether d is 1 - c."""
    return c is not None and d is not None and d.op == "sub" and _is(d.inputs[0], 1) and d.inputs[1] is c


def _combine(b: Builder, terms: list[Term]) -> bool:
    """Replace one pair of terms that make one function by that function; False if none."""
    for i, (s, c, a) in enumerate(terms):
        for j, (t, d, e) in enumerate(terms):
            if i == j:
                continue
            w = _log1p_exp_minus_abs(e)
            # max(u, 0) + log1p(exp(-|u|)) = softplus(u)
            if w is not None and c is d and s == t and _relu_of(a) is w:
                new = [(s, c, _softplus(b, w))]
            # min(u, 0) - log1p(exp(-|u|)) = -softplus(-u), the log-sigmoid
            elif w is not None and c is d and s == -t and _min0_of(a) is w:
                new = [(-s, c, _softplus(b, _negate(b, w)))]
            # c softplus(-u) + (1 - c) softplus(u) = softplus(u) - c u: binary cross-entropy
            elif (s == t and a.op == e.op == "softplus" and _complement(c, d)
                  and (_negated(a.inputs[0]) is e.inputs[0] or _negated(e.inputs[0]) is a.inputs[0])):
                z = e.inputs[0]
                new = [(s, None, _softplus(b, z)), (-s, None, b.make("mul", (c, z), {}))]
            else:
                continue
            terms[:] = [term for k, term in enumerate(terms) if k not in (i, j)] + new
            return True
    return False


def _node(b: Builder, term: Term) -> Node:
    _, c, a = term
    return a if c is None else b.make("mul", (c, a), {})


def _sum_of_terms(b: Builder, m: Match) -> Node | None:
    """A sum holding the two halves of softplus, log-sigmoid or binary cross-entropy, with the
    halves made one function."""
    terms: list[Term] = []
    if not _terms(m.root, 1, terms) or len(terms) < 2 or not _combine(b, terms):
        return None
    while _combine(b, terms):
        pass
    terms.sort(key=lambda term: -term[0])  # a positive term first: no leading negation
    out = _node(b, terms[0])
    if terms[0][0] < 0:
        out = b.make("neg", (out,), {})
    for s, c, a in terms[1:]:
        out = b.make("add" if s > 0 else "sub", (out, _node(b, (s, c, a))), {})
    return b.typed(out, m.root)


# ---------------------------------------------------------------- relu

def _relu(b: Builder, m: Match) -> Node | None:
    return _same(b, m, b.make("relu", (m.x,), {})) if _is(m.zero, 0) else None


def _compares(c: Node, v: Node, above: bool) -> bool:
    """Whether comparison c is true exactly where v > 0 (`above`) or exactly where v <= 0 (not
    `above`), with the zero on either side: then the where that keeps v has relu's gradient 0
    at v == 0. `v >= 0` or `v < 0` keep v at 0, where the gradient is 1 (`clamp(v, min=0)`)."""
    if c.op not in ("gt", "ge", "lt", "le"):
        return False
    a, d = c.inputs
    if above:
        return (c.op == "gt" and a is v and _is(d, 0)) or (c.op == "lt" and d is v and _is(a, 0))
    return (c.op == "le" and a is v and _is(d, 0)) or (c.op == "ge" and d is v and _is(a, 0))


def _relu_where(b: Builder, m: Match) -> Node | None:
    """where(x > 0, x, 0) and where(x <= 0, 0, x), the zero on either side of the comparison
    -> relu(x). where(x >= 0, x, 0) and where(x < 0, 0, x) (`h[h < 0] = 0`, PyTorch's clamp
    with min=0) stay: they keep x at 0, and its gradient 1 there (JAX's for the same code)."""
    c, first, second = m.root.inputs
    for kept, zero, above in ((first, second, True), (second, first, False)):
        if _is(zero, 0) and _compares(c, kept, above):
            return _same(b, m, b.make("relu", (kept,), {}))
    return None


# ---------------------------------------------------------------- zeros

def _finite(n: Node) -> bool:
    """Whether node n is a constant made only of finite numbers."""
    if n.op == "broadcast_to":
        n = n.inputs[0]
    return n.op == "const" and n.dtype.kind in "biuf" and bool(np.all(np.isfinite(n.value)))


def _zeros(b: Builder, m: Match) -> Node | None:
    """A product with a zero constant -> zeros, when its other operands are finite constants:
    NumPy's 0 * x is nan where x is inf or nan."""
    root = m.root
    if not any(_zero(i) for i in root.inputs) or not all(_zero(i) or _finite(i) for i in root.inputs):
        return None
    return b.make("broadcast_to", (b.const(np.zeros((), root.dtype)),), {"shape": root.shape})


def _zeros_first(b: Builder, m: Match) -> Node | None:
    """0 * x, 0 / x and any product with a zero constant -> zeros (x a finite constant, and
    no zero divisor: 0 / 0 is nan)."""
    root = m.root
    if root.op == "div" and (not _zero(root.inputs[0]) or not _finite(root.inputs[1])
                             or not np.all(_value(root.inputs[1]))):
        return None
    return _zeros(b, m)


def _value(n: Node) -> np.ndarray:
    return (n.inputs[0] if n.op == "broadcast_to" else n).value


def _plus_zero(b: Builder, m: Match) -> Node | None:
    """x + 0, 0 + x, x - 0 with a zero array -> x; 0 - x -> -x."""
    a, c = m.root.inputs
    if _zero(c) and c.scalar is None:  # a scalar 0 is algebra's (IDENTITIES)
        return b.typed(a, m.root)
    if _zero(a) and a.scalar is None:
        return b.typed(c if m.root.op == "add" else b.make("neg", (c,), {}), m.root)
    return None


# ---------------------------------------------------------------- shapes and shifts

def _unit_axes(index: tuple, shape: tuple[int, ...]) -> bool:
    """Whether a basic index only adds axes (None), keeps whole axes (:, ...) or takes item
    0 or -1 of unit axes: the result is then a reshape of the input."""
    rest = sum(1 for item in index if item[0] in ("int", "slice"))
    axis = 0
    for item in index:
        kind = item[0]
        if kind == "new":
            continue
        if kind == "...":
            axis += len(shape) - rest
        elif kind == "slice":
            if item[1:] not in ((None, None, None), (0, None, None), (None, None, 1), (0, None, 1)):
                return False
            axis += 1
        elif kind == "int":
            if shape[axis] != 1 or item[1] not in (0, -1):
                return False
            axis += 1
        else:
            return False
    return True


def _index_as_reshape(b: Builder, m: Match) -> Node | None:
    root = m.root
    if len(root.inputs) != 1 or not _unit_axes(root.params["index"], m.x.shape):
        return None
    return b.make("reshape", (m.x,), {"shape": root.shape})


def _piece_of_cat(b: Builder, m: Match) -> Node | None:
    """cat(parts, axis)[..., k or lo:hi, ...] that falls inside one part -> that part, indexed
    (what `np.stack` or `concatenate` put together and indexing takes apart again)."""
    root, cat = m.root, m.cat
    index, axis = root.params["index"], cat.params["axis"] % len(cat.shape)
    if len(root.inputs) != 1 or len(index) <= axis:
        return None
    if any(item != ("slice", None, None, None) for item in index[:axis]):
        return None
    item, size = index[axis], cat.shape[axis]
    if item[0] == "int":
        lo = item[1] % size if -size <= item[1] < size else None
        hi = None if lo is None else lo + 1
    elif item[0] == "slice" and item[3] in (None, 1):
        lo, hi, _ = slice(item[1], item[2]).indices(size)
    else:
        return None
    start = 0
    for part in cat.inputs:
        end = start + part.shape[axis]
        if lo is not None and start <= lo and hi <= end and lo < hi:
            moved = ("int", lo - start) if item[0] == "int" else ("slice", lo - start, hi - start, None)
            if moved == ("slice", 0, part.shape[axis], None) and len(index) == axis + 1:
                return part
            return b.make("getitem", (part,), {"index": (*index[:axis], moved, *index[axis + 1:])})
        start = end
    return None


def _monomial(n: Node) -> tuple[Node, int]:
    """(x, k) when node n is x ** k for a positive integer constant k (x * x is x ** 2), else
    (n, 1)."""
    if n.op == "mul" and n.inputs[0] is n.inputs[1]:
        x, k = _monomial(n.inputs[0])
        return x, 2 * k
    if n.op == "pow":
        k = n.inputs[1].scalar
        if k is not None and not isinstance(k, (bool, np.bool_)) and float(k).is_integer() and k > 0:
            return n.inputs[0], int(k)
    return n, 1


def _power_of_products(b: Builder, m: Match) -> Node | None:
    """x**a * x**b -> x**(a + b) (of degree 3 or more) and (x**a)**b -> x**(a*b), a and b
    positive integers: a monomial differentiates as one term (x*x*x*x has four product-rule
    terms, x**4 one)."""
    root = m.root
    if root.op == "mul":
        (x, a), (y, c) = _monomial(root.inputs[0]), _monomial(root.inputs[1])
        if x is not y or x.op == "const" or a + c < 3:  # x*x stays: its derivative is as lean
            return None
        return b.typed(b.make("pow", (x, b.const(a + c)), {}), root)
    x, a = _monomial(root.inputs[0])
    _, c = _monomial(root)
    if x is root.inputs[0] or c == 1:
        return None
    return b.typed(b.make("pow", (x, b.const(a * c)), {}), root)


def _nonnegative(n: Node) -> bool:
    """Whether node n is >= 0 wherever it is defined, by its form: a square, an abs, an exp,
    a sum of such (what a norm's square root is taken of)."""
    if n.op == "mul":
        return n.inputs[0] is n.inputs[1] or all(map(_nonnegative, n.inputs))
    if n.op == "pow":
        k = n.inputs[1].scalar
        return k is not None and float(k).is_integer() and int(k) % 2 == 0
    if n.op in ("sum", "add"):
        return all(map(_nonnegative, n.inputs))
    return n.op in ("abs", "exp", "sqrt")


def _square_of_root(b: Builder, m: Match) -> Node | None:
    """sqrt(s) ** 2 -> s for s >= 0, also through the guard norms use against a zero
    (`where(s != 0, sqrt(where(s != 0, s, 1)), 0)`): `norm(w) ** 2` is `sum(w * w)`, whose
    gradient is 2w, not a quotient by the norm."""
    root = m.root
    if root.inputs[1].scalar != 2:
        return None
    r = root.inputs[0]
    if r.op == "where" and _is(r.inputs[2], 0) and r.inputs[1].op == "sqrt":
        mask, inner = r.inputs[0], r.inputs[1].inputs[0]
        s = mask.inputs[0] if mask.op == "ne" and _is(mask.inputs[1], 0) else None
        if s is None or not (inner.op == "where" and inner.inputs[0] is mask and inner.inputs[1] is s):
            return None
    elif r.op == "sqrt":
        s = r.inputs[0]
    else:
        return None
    return b.typed(s, root) if _nonnegative(s) else None


def _dot_with_itself(b: Builder, m: Match) -> Node | None:
    """v @ v, np.dot(v, v), np.inner(v, v) of one 1-D value -> sum(v * v)."""
    root = m.root
    v = root.inputs[0]
    if len(root.inputs) != 2 or root.inputs[1] is not v or len(v.shape) != 1:
        return None
    return b.typed(b.make("sum", (b.make("mul", (v, v), {}),), {"axes": (0,), "keepdims": False}), root)


def _kept_dims(b: Builder, m: Match) -> Node | None:
    """reshape(reduce(x)) that puts back the reduced axes as 1s -> reduce(x, keepdims=True)."""
    reduced = m.reduced
    if reduced.params["keepdims"]:
        return None
    kept = tuple(1 if k in reduced.params["axes"] else n for k, n in enumerate(reduced.inputs[0].shape))
    if kept != tuple(m.root.params["shape"]):
        return None
    return b.make(reduced.op, reduced.inputs, {**reduced.params, "keepdims": True})


def _peeled(n: Node) -> Node:
    """Node n without what leaves its value as it is: stop_gradient, a cast to its own dtype,
    a reshape to its own shape."""
    while (n.op == "stop_gradient" or (n.op == "astype" and n.inputs[0].dtype == n.dtype)
           or (n.op == "reshape" and n.inputs[0].shape == n.shape)):
        n = n.inputs[0]
    return n


def _finite_test(t: Node, m: Node) -> bool | None:
    """True when bool node t says m is finite (isfinite(m), |m| != inf, |m| < inf), False when
    it says m is not (isinf(m), |m| == inf, or a test negated), None otherwise."""
    t = _peeled(t)
    if t.op in ("bitwise_not", "logical_not"):
        inner = _finite_test(t.inputs[0], m)
        return None if inner is None else not inner
    if t.op in ("isfinite", "isinf"):
        return t.op == "isfinite" if _peeled(t.inputs[0]) is m else None
    if t.op in ("ne", "lt", "eq") and t.inputs[1].scalar == np.inf and t.inputs[0].op == "abs" \
            and _peeled(t.inputs[0].inputs[0]) is m:
        return t.op != "eq"
    return None


def guarded_max(c: Node) -> Node | None:
    """The max m when node c is m kept finite: where(m is finite, m, k) for a finite constant k
    (torch's and SciPy's logsumexp, `np.where(np.isfinite(m), m, 0)`), or m clamped to the
    dtype's finite range (the normal form below)."""
    c = _peeled(c)
    if c.op == "where":
        test, p, q = c.inputs
        for top, k, finite in ((p, q, True), (q, p, False)):
            top = _peeled(top)
            if top.op == "amax" and k.scalar is not None and np.isfinite(k.scalar) \
                    and _finite_test(test, top) is finite:
                return top
        return None
    if c.op == "minimum" and c.inputs[0].op == "maximum":
        top, low, high = _peeled(c.inputs[0].inputs[0]), c.inputs[0].inputs[1], c.inputs[1]
        if top.op == "amax" and low.scalar is not None and high.scalar is not None \
                and np.isfinite(low.scalar) and np.isfinite(high.scalar):
            return top
    return None


def max_shift(n: Node) -> tuple[Node, Node] | None:
    """(x, m) when node n is x - c with c the max m = max(x) that broadcasts back (kept dims,
    or leading axes: `x - x.max(axis=0)`) or m kept finite (`guarded_max`), its gradient
    stopped or not: an exponent exp(n) that cannot overflow. The
    guarded shift leaves a row of infinities unshifted, so a logsumexp of it is inf or -inf
    where a shift by the max itself gives inf - inf = nan."""
    if n.op != "sub":
        return None
    c = _peeled(n.inputs[1])
    top = c if c.op == "amax" else guarded_max(c)
    if top is not None and top.inputs[0] is n.inputs[0] and _broadcasts_back(top):
        return n.inputs[0], top
    return None


def stopped(c: Node) -> bool:
    """Whether shift c has no gradient: stop_gradient(c), or a guard of a stopped max."""
    while c.op in ("astype", "reshape") and (c.inputs[0].dtype, c.inputs[0].shape) == (c.dtype, c.shape):
        c = c.inputs[0]
    if c.op in ("stop_gradient", "const") or c.dtype == np.bool_:
        return True
    return c.op in ("where", "minimum", "maximum") and all(stopped(i) for i in c.inputs)


def finite_max(b: Builder, y: Node, axes: tuple[int, ...]) -> Node:
    """stop_gradient(max(y)) over `axes` (kept), clamped to y's finite range when y is real."""
    top = b.make("stop_gradient", (b.make("amax", (y,), {"axes": axes, "keepdims": True}),), {})
    if y.dtype.kind != "f":
        return top
    big = np.finfo(y.dtype).max
    low = b.make("maximum", (top, b.const(np.asarray(-big, y.dtype))), {})
    return b.make("minimum", (low, b.const(np.asarray(big, y.dtype))), {})


def _broadcasts_back(total: Node) -> bool:
    """Whether reduction `total` broadcasts against its input as it would with keepdims: it
    keeps them, or its axes are the leading ones (`np.sum(e)` of a vector, `e.sum(0)`)."""
    axes = sorted(a % len(total.inputs[0].shape) for a in total.params["axes"])
    return total.params["keepdims"] or axes == list(range(len(axes)))


def _softmax_of(b: Builder, e: Node, total: Node) -> Node | None:
    """exp(x - max(x)) / sum(exp(x - max(x))) and exp(x) / sum(exp(x)) for e the exp and
    total its sum: the max gets no gradient (the quotient does not depend on it), and an
    unshifted exp is shifted. None if total is not e's sum or the shift is stopped already."""
    if total.op != "sum" or total.inputs[0] is not e or e.op != "exp" or not _broadcasts_back(total):
        return None
    axes, arg = total.params["axes"], e.inputs[0]
    found = max_shift(arg)
    if found is not None:
        base, top = found
        if top.params["axes"] != axes or stopped(arg.inputs[1]):
            return None
        top = arg.inputs[1]  # the spelling's own shift, the max or the max kept finite
    else:
        base = arg
        top = finite_max(b, base, axes)  # exp(x) / sum(exp(x)) keeps its value at +inf: [0, nan, 0]
    shifted = b.make("exp", (b.make("sub", (base, b.make("stop_gradient", (top,), {})), {}),), {})
    return b.make("div", (shifted, b.make("sum", (shifted,), total.params)), {})


def _softmax(b: Builder, m: Match) -> Node | None:
    """exp(x - max(x)) / sum(exp(x - max(x))) -> the same, stable (`_softmax_of`)."""
    quotient = _softmax_of(b, m.e, m.total)
    return None if quotient is None else _same(b, m, quotient)


def _product_factors(n: Node, depth: int = 3) -> list[Node]:
    """Node n as the factors of a product, read through `depth` levels of nested products."""
    if n.op != "mul" or depth == 0:
        return [n]
    return _product_factors(n.inputs[0], depth - 1) + _product_factors(n.inputs[1], depth - 1)


def _softmax_in_product(b: Builder, m: Match) -> Node | None:
    """c * exp(s) * (1 / sum(exp(s))) and c * exp(s) / sum(exp(s)) -> c * softmax(s): the
    quotient found inside a product (a reciprocal multiplied, another factor between), then
    made stable as `_softmax_of` makes it."""
    root = m.root
    for a, d in (root.inputs, root.inputs[::-1]) if root.op == "mul" else (root.inputs,):
        if root.op == "mul":
            if d.op != "div" or not _is(d.inputs[0], 1):
                continue
            d = d.inputs[1]
        factors = _product_factors(a)
        e = d.inputs[0] if d.op == "sum" else None
        if e is None or e not in factors or (root.op == "div" and len(factors) == 1):
            continue  # exp(s) / sum(exp(s)) itself is `_softmax`'s
        quotient = _softmax_of(b, e, d)
        if quotient is None:
            continue
        factors.remove(e)
        for f in factors:
            quotient = b.make("mul", (f, quotient), {})
        return _same(b, m, quotient)
    return None


def _log_of_quotient(b: Builder, m: Match) -> Node | None:
    """log(exp(s) / sum(exp(s))) -> s - log(sum(exp(s))): log-softmax without the round trip."""
    e, total = m.e, m.total
    if total.inputs[0] is not e or not _broadcasts_back(total):
        return None
    s = e.inputs[0]
    return _same(b, m, b.make("sub", (s, b.make("log", (total,), {})), {}))


def _log_of_item(b: Builder, m: Match) -> Node | None:
    """log(q[k]) -> log(q)[k] for q a softmax quotient exp(s) / sum(exp(s)): the log meets the
    quotient and becomes s - log(sum(exp(s))), finite where q[k] underflows to 0
    (`-np.log(softmax(x)[label])`)."""
    item, q = m.item, m.q
    if q.inputs[1].inputs[0] is not q.inputs[0] or not _broadcasts_back(q.inputs[1]):
        return None
    log_q = b.make("log", (q,), {})
    return _same(b, m, b.make("getitem", (log_q, *item.inputs[1:]), item.params))


def _stable_lse_of(lse: Node, s: Node) -> tuple | None:
    """The sum's params when node lse is log(sum(exp(s - c))) + c for a shift c without
    gradient, the stable logsumexp of s with keepdims that the stability rules write, else None."""
    if lse.op != "add":
        return None
    for k in (0, 1):
        log, top = lse.inputs[k], lse.inputs[1 - k]
        total = log.inputs[0] if log.op == "log" else None
        if total is None or total.op != "sum" or not total.params["keepdims"] or not stopped(top):
            continue
        e = total.inputs[0]
        if e.op == "exp" and e.inputs[0].op == "sub" and e.inputs[0].inputs == (s, top):
            return total.params
    return None


def _any_shift_of_log_softmax(b: Builder, m: Match) -> Node | None:
    """(y - c) - logsumexp(y - c) for any c constant along the summed axes (SciPy shifts by
    where(isfinite(max), max, 0)): the result does not depend on c, so c gets no gradient."""
    s, lse = m.s, m.lse
    params = _stable_lse_of(lse, s)
    c = s.inputs[1]
    if params is None or c.op == "stop_gradient" or len(c.shape) != len(s.shape):
        return None
    if any(c.shape[a] != 1 for a in params["axes"]):
        return None
    shifted = b.make("sub", (s.inputs[0], b.make("stop_gradient", (c,), {})), {})
    kept_max = b.make("amax", (shifted,), {"axes": params["axes"], "keepdims": True})
    top = b.make("stop_gradient", (kept_max,), {})
    total = b.make("sum", (b.make("exp", (b.make("sub", (shifted, top), {}),), {}),), params)
    return _same(b, m, b.make("sub", (shifted, b.make("add", (b.make("log", (total,), {}), top), {})), {}))


ONE, ONE2 = P.const(name="one"), P.const(name="one2")
# not alias: a variable of differentiation that is a constant zero must stay a variable
ELEMENTWISE_ZERO = ("neg", "tanh", "sin", "sinh", "tan", "relu", "atan", "asinh", "atanh", "asin",
                    "expm1", "log1p", "sqrt", "abs", "sign")

IDIOMS = [
    Rule("--x -> x", P("neg", (P("neg", (x,)),)), lambda b, m: m.x),
    # sigmoid
    Rule("1 / (1 + exp(v)) -> sigmoid(-v)",
         P("div", (ONE, P("add", (ONE2, P("exp", (P.var("v"),))), commutative=True))), _one_over),
    Rule("exp(u) / (1 + exp(u)) -> sigmoid(u)",
         P("div", (P("exp", (u,)), P("add", (ONE, P("exp", (u,))), commutative=True))), _exp_over),
    Rule("0.5 * (1 + tanh(w)) -> sigmoid(2w)",
         P("mul", (P.const(name="half"), P("add", (ONE, P("tanh", (P.var("w"),))), commutative=True)),
           commutative=True), _tanh_form),
    Rule("(1 + tanh(w)) / 2 -> sigmoid(2w)",
         P("div", (P("add", (ONE, P("tanh", (P.var("w"),))), commutative=True), P.const(name="two"))),
         _tanh_form),
    Rule("0.5 + 0.5 * tanh(w) -> sigmoid(2w)",
         P("add", (P.const(name="half"), P("mul", (P.const(name="half2"), P("tanh", (P.var("w"),))),
                                            commutative=True)), commutative=True), _half_plus),
    Rule("log(1 - sigmoid(u)) -> -softplus(u)", P("log", (P("sub", (ONE, P("sigmoid", (u,)))),)),
         _log_one_minus_sigmoid),
    Rule("exp(-softplus(v)) -> sigmoid(-v)", P("exp", (P.var("n"),)), _exp_minus_softplus),
    # tanh
    Rule("sinh(u) / cosh(u) -> tanh(u)", P("div", (P("sinh", (u,)), P("cosh", (u,)))),
         lambda b, m: _same(b, m, b.make("tanh", (m.u,), {}))),
    Rule("(exp(u) - exp(-u)) / (exp(u) + exp(-u)) -> tanh(u)",
         P("div", (P("sub", (P("exp"), P("exp")), name="top"),
                   P("add", (P("exp"), P("exp")), name="bottom"))),
         _exp_ratio),
    # logit
    Rule("log(p / (1 - p)) -> logit(p)", P("log", (P("div", (P.var("p"), P.var("q"))),)), _logit_of_ratio),
    Rule("log(p) - log(1 - p) -> logit(p)",
         P("sub", (P("log", (P.var("p"),)), P(("log", "log1p"), name="c"))), _logit_of_difference),
    Rule("logit(sigmoid(u)) -> u", P("logit", (P("sigmoid", (u,)),)), lambda b, m: m.keep("u")),
    # softplus, log-sigmoid, binary cross-entropy
    Rule("log1p(exp(u)) -> softplus(u)", P("log1p", (P("exp", (u,)),)),
         lambda b, m: _same(b, m, _softplus(b, m.u))),
    Rule("logaddexp(0, u) -> softplus(u), 0 a scalar or an array of zeros",
         P("logaddexp", (P.var("zero"), u), commutative=True), _softplus_of_zero),
    Rule("log1p(-sigmoid(u)) -> -softplus(u)", P("log1p", (P.var("n"),)), _log1p_minus_sigmoid),
    Rule("sums holding softplus, log-sigmoid or cross-entropy -> those functions",
         P(("add", "sub")), _sum_of_terms),
    # relu
    Rule("maximum(x, 0) -> relu(x)", P("maximum", (x, P.const(name="zero")), commutative=True), _relu),
    Rule("where(x > 0, x, 0), where(x <= 0, 0, x) -> relu(x)", P("where"), _relu_where),
    # relu's gradient masks by its output, as PyTorch's; the input gives the same mask, and
    # the output need not be computed when nothing else reads it
    Rule("relu(x) > 0 -> x > 0", P("gt", (P("relu", (x,)), P.const(name="zero"))),
         lambda b, m: b.make("gt", (m.x, m.zero), {}) if _is(m.zero, 0) else None),
    # zeros
    Rule("0 * x, 0 / x -> 0", P(("mul", "div")), _zeros_first),
    Rule("0 @ x, x @ 0 -> 0", P(("matmul", "dot", "tensordot", "inner", "outer")), _zeros),
    Rule("x + 0, x - 0 -> x, with 0 an array", P(("add", "sub")), _plus_zero),
    Rule("f(0) -> 0 for f with f(0) = 0", P(ELEMENTWISE_ZERO), _zeros),
    # shapes
    Rule("x[None], x[:, None], x[0] of a unit axis -> reshape(x)", P("getitem", (x,)), _index_as_reshape),
    Rule("x**a * x**b -> x**(a+b), (x**a)**b -> x**(ab)", P(("mul", "pow")), _power_of_products),
    Rule("sqrt(s) ** 2 -> s for s >= 0 (norm(w) ** 2)", P("pow"), _square_of_root),
    Rule("v @ v -> sum(v * v)", P(("matmul", "dot", "inner", "vdot")), _dot_with_itself),
    Rule("cat(parts)[k] inside one part -> part[k']", P("getitem", (P("cat", name="cat"),)), _piece_of_cat),
    Rule("reshape(reduce(x)) back to the kept dims -> reduce(x, keepdims)",
         P("reshape", (P(REDUCTIONS, name="reduced"),)), _kept_dims),
    # max shifts
    Rule("exp(x - m) / sum(exp(x - m)) -> the same, m = stop_gradient(max(x))",
         P("div", (P("exp", name="e"), P("sum", name="total"))), _softmax),
    Rule("c * exp(s) * (1 / sum(exp(s))), c * exp(s) / sum(exp(s)) -> c * softmax(s), stable",
         P(("mul", "div")), _softmax_in_product),
    Rule("log(exp(s) / sum(exp(s))) -> s - log(sum(exp(s)))",
         P("log", (P("div", (P("exp", name="e"), P("sum", name="total"))),)), _log_of_quotient),
    Rule("log(q[k]) -> log(q)[k] for q = exp(s) / sum(exp(s))",
         P("log", (P("getitem", (P("div", (P("exp"), P("sum")), name="q"),), name="item"),)), _log_of_item),
    Rule("(y - c) - logsumexp(y - c) -> the same, c without gradient, for any c constant along the axes",
         P("sub", (P("sub", name="s"), P("add", name="lse"))), _any_shift_of_log_softmax),
]


# ---------------------------------------------------------------- scatters (on gradient graphs)

def _one_per_row(scatter: Node) -> bool:
    """Whether scatter_add puts one value in each row: index (arange(n), j) into (n, c)."""
    index, shape = scatter.params["index"], scatter.params["shape"]
    if index != (("arr", 0), ("arr", 1)) or len(shape) != 2 or len(scatter.inputs) != 3:
        return False
    rows = scatter.inputs[1]
    return (rows.op == "const" and rows.shape == (shape[0],) and scatter.inputs[0].shape == (shape[0],)
            and np.array_equal(rows.value, np.arange(shape[0])))


def _row_sums(b: Builder, m: Match) -> Node | None:
    """sum(scatter_add(v, (arange(n), j)), axis=1) -> v: each row holds one value of v (the
    cotangent of x[np.arange(n), labels], summed by log-softmax's gradient)."""
    if m.root.params["axes"] != (1,) or not _one_per_row(m.scatter):
        return None
    values = m.scatter.inputs[0]
    if m.root.params["keepdims"]:
        values = b.make("reshape", (values,), {"shape": m.root.shape})
    return b.typed(values, m.root)


def _negated_scatter(b: Builder, m: Match) -> Node:
    """-scatter_add(v) -> scatter_add(-v): the negation on the values, not the full array."""
    s = m.scatter
    return b.make("scatter_add", (b.make("neg", (s.inputs[0],), {}), *s.inputs[1:]), s.params)


SCATTERS = [
    Rule("-scatter_add(v) -> scatter_add(-v)", P("neg", (P("scatter_add", name="scatter"),)),
         _negated_scatter),
    Rule("sum(scatter_add(v, (arange(n), j)), axis=1) -> v", P("sum", (P("scatter_add", name="scatter"),)),
         _row_sums),
]
