"""Factors constant along a sum's axes move out of the sum (algebra's REDUCTIONS), and
logaddexp(0, u) is softplus(u) for every spelling of the zero (idioms).

Each case is a loss written the ways different people write it (np functions or methods,
keepdims or `[:, None]`, a quotient or a product with the reciprocal). Each gradient is
checked against central finite differences in float64 and against the unsimplified gradient
(`passes=()`), and the simplified graph, the one the printed source comes from, is held to
at most as many passes over full-size arrays as before the rule (counted on the graph's
nodes, whatever their spelling).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import symgrad
from symgrad.ir import Graph

RNG = np.random.default_rng(7)
VIEWS = ("input", "const", "reshape", "broadcast_to", "transpose", "alias")


def full_passes(graph: Graph) -> int:
    """Ops of `graph` that read or write an array of its largest size (views are free)."""
    full = max(math.prod(n.shape) for n in graph.nodes if n.op != "const")
    return sum(1 for n in graph.nodes if n.op not in VIEWS
               and max(math.prod(m.shape) for m in (n, *n.inputs) if m.op != "const") >= full)


def numeric_grad(fn, args: tuple, argnum: int, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of scalar fn in argument `argnum`."""
    x = np.array(args[argnum], dtype=np.float64)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = eps
        hi = list(args)
        lo = list(args)
        hi[argnum], lo[argnum] = x + step, x - step
        out[k] = (fn(*hi) - fn(*lo)) / (2 * eps)
    return out


# ---------------------------------------------------------------- the cases

def softmax_np(x, c):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return np.sum(e / np.sum(e, axis=1, keepdims=True) * c)


def softmax_methods(x, c):
    e = np.exp(x - x.max(axis=1)[:, None])
    s = e / e.sum(axis=1)[:, None]
    return (s * c).sum()


def softmax_reciprocal(x, c):
    e = np.exp(x - x.max(1, keepdims=True))
    return (c * (e * (1.0 / e.sum(1, keepdims=True)))).sum()


def softmax_unshifted(x, c):
    e = np.exp(x)
    return (e / e.sum(axis=-1, keepdims=True) * c).sum()


def log_softmax_np(x, c):
    z = x - np.max(x, axis=1, keepdims=True)
    return np.sum(c * (z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))))


def log_softmax_methods(x, c):
    m = x.max(axis=1)
    lse = m + np.log(np.exp(x - m[:, None]).sum(axis=1))
    return ((x - lse[:, None]) * c).sum()


def log_softmax_of_softmax(x, c):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (np.log(e / e.sum(axis=1, keepdims=True)) * c).sum()


def softmax0_np(x, c):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return np.sum(e / np.sum(e, axis=0, keepdims=True) * c)


def softmax0_methods(x, c):
    e = np.exp(x - x.max(axis=0))
    return ((e / e.sum(axis=0)) * c).sum()


def softmax0_reciprocal(x, c):
    e = np.exp(x - x.max(0)[None, :])
    return (e * c * (1 / e.sum(0)[None, :])).sum()


def softmax3_np(x, c):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return np.sum(e / np.sum(e, axis=-1, keepdims=True) * c)


def softmax3_methods(x, c):
    e = np.exp(x - x.max(axis=2)[..., None])
    return ((e / e.sum(axis=2)[..., None]) * c).sum()


def softmax3_expand_dims(x, c):
    e = np.exp(x - np.expand_dims(x.max(axis=2), 2))
    return (c * e * (1.0 / np.expand_dims(e.sum(axis=2), -1))).sum()


def attention_np(q, k, v, c):
    a = q @ k.T / np.sqrt(q.shape[1])
    e = np.exp(a - np.max(a, axis=1, keepdims=True))
    return np.sum((e / np.sum(e, axis=1, keepdims=True)) @ v * c)


def attention_methods(q, k, v, c):
    a = np.matmul(q, k.T) * (1.0 / math.sqrt(q.shape[1]))
    e = np.exp(a - a.max(axis=-1)[:, None])
    return ((e / e.sum(axis=-1)[:, None]).dot(v) * c).sum()


def attention_reciprocal(q, k, v, c):
    e = np.exp(np.einsum("id,jd->ij", q, k) / 2.0)
    p = e * (1 / e.sum(axis=1, keepdims=True))
    return np.einsum("ij,jd,id->", p, v, c)


def weighted_mean_np(x, w, c):
    return np.sum(np.sum(w * x, axis=0) / np.sum(w, axis=0) * c)


def weighted_mean_methods(x, w, c):
    return ((x * w).sum(0) / w.sum(0) * c).sum()


def weighted_mean_average(x, w, c):
    return (np.average(x, axis=0, weights=w) * c).sum()


def weighted_mean_rows(x, w, c):
    m = (w[:, None] * x).sum(axis=0) * (1.0 / w.sum())
    return (m * c).sum()


def layer_norm_np(x, c):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return np.sum((x - mu) / np.sqrt(var + 1e-5) * c)


def layer_norm_methods(x, c):
    mu = x.mean(axis=1)[:, None]
    d = x - mu
    return (d / np.sqrt((d * d).mean(axis=1)[:, None] + 1e-5) * c).sum()


def layer_norm_std(x, c):
    y = (x - x.mean(axis=1, keepdims=True)) * (1.0 / x.std(axis=1, keepdims=True))
    return (y * c).sum()


def _args(*shapes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return tuple(RNG.standard_normal(s) for s in shapes)


X, C = (4, 5), (4, 5)
ATTENTION = ((6, 4), (7, 4), (7, 3), (6, 3))


def _weighted(w_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return (*_args(X), RNG.uniform(0.5, 2, w_shape), *_args((5,)))


# name -> (loss, args, argnums, full-size passes of the simplified gradient before the rule, after)
CASES = {
    "softmax/np": (softmax_np, _args(X, C), (0,), 11, 9),
    "softmax/methods": (softmax_methods, _args(X, C), (0,), 11, 9),
    "softmax/reciprocal": (softmax_reciprocal, _args(X, C), (0,), 16, 9),
    "softmax/unshifted": (softmax_unshifted, _args(X, C), (0,), 11, 9),
    "log_softmax/np": (log_softmax_np, _args(X, C), (0,), 8, 7),
    "log_softmax/methods": (log_softmax_methods, _args(X, C), (0,), 8, 7),
    "log_softmax/of_softmax": (log_softmax_of_softmax, _args(X, C), (0,), 8, 7),
    "softmax_axis0/np": (softmax0_np, _args(X, C), (0,), 11, 9),
    "softmax_axis0/methods": (softmax0_methods, _args(X, C), (0,), 21, 9),
    "softmax_axis0/reciprocal": (softmax0_reciprocal, _args(X, C), (0,), 16, 9),
    "softmax_3d/np": (softmax3_np, _args((2, 3, 5), (2, 3, 5)), (0,), 11, 9),
    "softmax_3d/methods": (softmax3_methods, _args((2, 3, 5), (2, 3, 5)), (0,), 11, 9),
    "softmax_3d/expand_dims": (softmax3_expand_dims, _args((2, 3, 5), (2, 3, 5)), (0,), 16, 9),
    "attention/np": (attention_np, _args(*ATTENTION), (0, 1, 2), 18, 17),
    "attention/methods": (attention_methods, _args(*ATTENTION), (0, 1, 2), 18, 17),
    # two more: the max shift (amax, subtract) the quotient spelling has; without it the
    # exp overflowed (test_reciprocal_attention_is_stable)
    "attention/reciprocal": (attention_reciprocal, _args(*ATTENTION), (0, 1, 2), 15 + 2, 17),
    "weighted_mean/np": (weighted_mean_np, _weighted(X), (0, 1), 6, 6),
    "weighted_mean/methods": (weighted_mean_methods, _weighted(X), (0, 1), 6, 6),
    "weighted_mean/average": (weighted_mean_average, _weighted(X), (0, 1), 6, 6),
    "weighted_mean/rows": (weighted_mean_rows, _weighted((4,)), (0, 1), 5, 5),
    "layer_norm/np": (layer_norm_np, _args(X, C), (0,), 17, 11),
    "layer_norm/methods": (layer_norm_methods, _args(X, C), (0,), 16, 11),
    "layer_norm/std": (layer_norm_std, _args(X, C), (0,), 14, 11),
}


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences_and_the_unsimplified_one(name: str) -> None:
    fn, args, argnums, _, _ = CASES[name]
    got = symgrad.grad(fn, argnums=argnums)(*args)
    plain = symgrad.grad(fn, argnums=argnums, passes=())(*args)
    for k, g, p in zip(argnums, got, plain):
        np.testing.assert_allclose(g, numeric_grad(fn, args, k), rtol=1e-6, atol=1e-7,
                                   err_msg=f"argument {k}")
        np.testing.assert_allclose(g, p, rtol=1e-10, atol=1e-12, err_msg=f"argument {k}")


@pytest.mark.parametrize("name", CASES)
def test_no_more_full_size_passes_than_before(name: str) -> None:
    fn, args, argnums, before, after = CASES[name]
    graph = symgrad.grad(fn, argnums=argnums).graph(*args)
    assert after <= before
    assert full_passes(graph) <= after, str(graph)


# value_and_grad: the forward's softmax is computed anyway (shared), so the rule keeps it
# one factor and sums c * s (before / after the rule)
WITH_VALUE = {"softmax/np": (13, 11), "log_softmax/np": (11, 10), "layer_norm/np": (18, 13),
              "attention/np": (19, 18), "weighted_mean/np": (6, 6)}


@pytest.mark.parametrize("name", WITH_VALUE)
def test_value_and_gradient_passes(name: str) -> None:
    fn, args, argnums, _, _ = CASES[name]
    before, after = WITH_VALUE[name]
    vg = symgrad.value_and_grad(fn, argnums=argnums)
    value, grads = vg(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    for got, want in zip(grads, symgrad.grad(fn, argnums=argnums, passes=())(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert full_passes(vg.graph(*args)) <= after <= before


def test_softmax_gradient_takes_as_many_passes_as_by_hand() -> None:
    """The brief's example: after the forward, c / e, c * d, their row sum, a difference and a
    product: four full-size elementwise ops, as `s = d / e; s * (c - (c * s).sum(1))`."""
    fn, args, _, _, _ = CASES["softmax/methods"]
    graph = symgrad.grad(fn).graph(*args)
    backward = [n for n in graph.nodes if n.shape == X and n.op in ("add", "sub", "mul", "div", "neg")]
    assert len(backward) == 4 + 1, str(graph)  # and the forward's x - max
    assert sum(n.op == "sum" for n in graph.nodes) == 2, str(graph)


def test_reciprocal_attention_is_stable() -> None:
    """exp(a) * (1 / sum(exp(a))) is shifted by its max as exp(a) / sum(exp(a)) is: finite at
    logits of 2000, where exp overflows."""
    q, k, v, c = _args(*ATTENTION)
    q = q * 1000.0
    got = symgrad.grad(attention_reciprocal, argnums=(0, 1, 2))(q, k, v, c)
    want = symgrad.grad(attention_np, argnums=(0, 1, 2))(q, k, v, c)
    for g, w in zip(got, want):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- the rule, one factor at a time

def _factors(n) -> list:
    """The leaves of node n read as a signed product (through mul, div and neg)."""
    if n.op in ("mul", "div"):
        return _factors(n.inputs[0]) + _factors(n.inputs[1])
    return _factors(n.inputs[0]) if n.op == "neg" else [n]


def _constant_along(n, rank: int, axes: tuple[int, ...]) -> bool:
    padded = (1,) * (rank - len(n.shape)) + n.shape
    return all(padded[a] == 1 for a in axes)


A, R, W = RNG.standard_normal((50, 40)), RNG.uniform(0.5, 2, (50, 1)), RNG.uniform(0.5, 2, (40,))
# name -> (fn, args, full-size passes of the simplified graph: the sum and what it sums)
MOVED = {
    "a * r": (lambda a, r: (a * r).sum(axis=1, keepdims=True), (A, R), 1),
    "r * a": (lambda a, r: np.sum(r * a, axis=1), (A, R), 1),
    "a / r": (lambda a, r: (a / r).sum(axis=-1), (A, R), 1),
    "-a": (lambda a: (-a).sum(axis=0), (A,), 1),
    "2 * a": (lambda a: (2.0 * a).sum(), (A,), 1),
    "r[:, None] * a": (lambda a, r: (r[:, 0][:, None] * a).sum(axis=1), (A, R), 1),
    "a * w over axis 0": (lambda a, w: (a * w).sum(axis=0), (A, W), 1),
    "a * w over axis 0, kept": (lambda a, w: (a * w).sum(axis=0, keepdims=True), (A, W), 1),
    "-(a * w) / (r * w) over axis 1": (lambda a, r, w: (-(a * w) / (r * w)).sum(axis=1), (A, R, W), 3),
    "(a * r) * a / w over axis 0": (lambda a, r, w: ((a * r) * a / w).sum(axis=0), (A, R, W), 3),
    "a * (r * (-b)) over axis 1": (lambda a, r, b: (a * (r * -b)).sum(axis=1), (A, R, A + 1), 2),
}


@pytest.mark.parametrize("name", MOVED)
def test_constant_factors_move_out_of_the_sum(name: str) -> None:
    fn, args, full = MOVED[name]
    graph = symgrad.compile(fn).graph(*args)
    (total,) = [n for n in graph.nodes if n.op == "sum"]
    rank, axes = len(total.inputs[0].shape), total.params["axes"]
    assert total.inputs[0].op != "neg", str(graph)
    assert not any(_constant_along(f, rank, axes) for f in _factors(total.inputs[0])), str(graph)
    assert full_passes(graph) == full < full_passes(symgrad.compile(fn, passes=()).graph(*args)), str(graph)
    np.testing.assert_allclose(symgrad.compile(fn)(*args), symgrad.compile(fn, passes=())(*args), rtol=1e-12)


STAYS = {
    # the product is computed anyway (also returned): moving r out would add an op
    "shared product": (lambda a, r: ((a * r).sum(axis=1), a * r), (A, R)),
    # k * sum(1 / v) makes 1 / v, as large as k / v: no gain
    "constant over the summed": (lambda a, r: (r / a).sum(axis=1), (A, R)),
    # float32 values times a float64 factor: the sum accumulates in float64, as written
    "another dtype": (lambda a, r: (a * r).sum(axis=1), (A.astype(np.float32), R)),
}


@pytest.mark.parametrize("name", STAYS)
def test_factors_stay_where_moving_them_gains_nothing(name: str) -> None:
    fn, args = STAYS[name]
    graph = symgrad.compile(fn).graph(*args)
    (total,) = [n for n in graph.nodes if n.op == "sum"]
    assert total.inputs[0].op in ("mul", "div"), str(graph)
    for got, want in zip(symgrad.compile(fn)(*args), symgrad.compile(fn, passes=())(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ---------------------------------------------------------------- logaddexp(0, u) is softplus(u)

U = np.array([[-800.0, -30.0, -1.5, 0.0], [0.25, 3.0, 40.0, 800.0]])
SOFTPLUS = {
    "number": (lambda u: np.logaddexp(0, u), 1),
    "u, 0.0": (lambda u: np.logaddexp(u, 0.0), 1),
    "zeros_like": (lambda u: np.logaddexp(np.zeros_like(u), u), 1),
    "zeros of its shape": (lambda u: np.logaddexp(np.zeros(u.shape), u), 1),
    "u, zeros": (lambda u: np.logaddexp(u, np.zeros(u.shape)), 1),
    "zeros of a row": (lambda u: np.logaddexp(np.zeros((1, 4)), u), 1),
    "zeros of a larger shape": (lambda u: np.logaddexp(np.zeros((3, 2, 4)), u), 3),  # u repeated 3 times
}


@pytest.mark.parametrize("name", SOFTPLUS)
def test_logaddexp_of_zeros_is_softplus(name: str) -> None:
    spelled, repeats = SOFTPLUS[name]

    def loss(u):
        return (spelled(u) * np.linspace(0.5, 1.5, 4)).sum()

    ops = {n.op for n in symgrad.value_and_grad(loss).graph(U).nodes}
    assert "softplus" in ops and "logaddexp" not in ops, ops
    weights = np.linspace(0.5, 1.5, 4)
    with np.errstate(over="ignore"):
        naive = np.log1p(np.exp(U))  # inf at 800: what the rule must not become
    assert np.isinf(naive).any()
    value, grad = symgrad.value_and_grad(loss)(U)
    assert value == pytest.approx(repeats * (np.logaddexp(0, U) * weights).sum(), rel=1e-14)
    np.testing.assert_allclose(grad, repeats * weights * scipy.special.expit(U), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(grad, symgrad.grad(loss, passes=())(U), rtol=1e-14, atol=1e-300)
    small = U / 200  # finite differences where the curvature lets them converge
    np.testing.assert_allclose(symgrad.grad(loss)(small), numeric_grad(loss, (small,), 0),
                               rtol=1e-7, atol=1e-9)


def test_logaddexp_of_float64_zeros_and_float32_values() -> None:
    """zeros of float64 and float32 u: the result is float64, softplus of u in float64."""
    u = U.astype(np.float32)

    def fn(u):
        return np.logaddexp(np.zeros(u.shape), u)

    graph = symgrad.compile(fn).graph(u)
    assert "softplus" in {n.op for n in graph.nodes} and graph.outputs[0].dtype == np.float64
    np.testing.assert_array_equal(symgrad.compile(fn)(u), np.logaddexp(0.0, u.astype(np.float64)))


# ---------------------------------------------------------------- the SymPy pass's products

def test_sympy_products_combine_the_small_factors_first() -> None:
    """3 * (r * x) / (s * 2), r and s rows: 1.5 * r / s on the rows, then one product with x
    (three passes over x's size as written)."""
    x, r, s = A, R, R + 1.0

    def fn(x, r, s):
        return 3 * (r * x) / (s * 2)

    graph = symgrad.compile(fn).graph(x, r, s)
    assert full_passes(graph) == 1 < full_passes(symgrad.compile(fn, passes=()).graph(x, r, s)), str(graph)
    np.testing.assert_allclose(symgrad.compile(fn)(x, r, s), 1.5 * r * x / s, rtol=1e-15)


def test_sympy_products_of_rows_and_matrices_keep_their_values() -> None:
    """A gradient whose SymPy clusters hold products of a matrix, rows and numbers (the
    squares, the row sums times r): built small factors first, the values are the same."""
    x, r, y = A[:6, :5], R[:6], A[-6:, -5:]

    def fn(x, r, y):
        a = (x * r) * (x * r) + x * r
        t = (a.sum(axis=1, keepdims=True) * r) ** 2 + a.sum(axis=1, keepdims=True) * r
        return (t * y).sum() + (a * y).sum()

    got = symgrad.grad(fn)(x, r, y)
    np.testing.assert_allclose(got, symgrad.grad(fn, passes=())(x, r, y), rtol=1e-12)
    np.testing.assert_allclose(got, numeric_grad(fn, (x, r, y), 0), rtol=1e-5, atol=1e-6)


def test_builder_counts_the_consumers_of_what_it_made_and_of_what_it_rebuilds():
    """`Builder.shared`, which keeps a product computed anyway as one factor: consumers among
    the nodes made so far, and those the old nodes it stands for had (two old nodes rebuilt
    as one new node count both)."""
    from symgrad.ops import OPS
    from symgrad.simplify.patterns import Builder, Rules
    f64 = np.dtype("float64")
    b = Builder(Rules())
    x = b.g.input("x", (3,), f64)
    y = b.make("exp", (x,), {})
    b.make("sin", (y,), {})
    assert not b.shared(y)
    b.make("cos", (y,), {})
    assert b.shared(y)

    old = Graph()
    ox = old.input("x", (3,), f64)
    a, c = old.apply(OPS["exp"], (ox,), {}), old.apply(OPS["sin"], (ox,), {})
    old.outputs = [old.apply(OPS["neg"], (n,), {}) for n in (a, c)]
    r = Builder(Rules())
    rx = r.g.input("x", (3,), f64)
    new = r.make("exp", (rx,), {})
    r.origin = (old, old.live(), {ox: rx, a: new})
    assert not r.shared(new)  # one consumer in the old graph
    r.origin[2][c] = new  # a second old node rebuilt as the same new one: its consumer counts too
    assert r.shared(new)


def test_the_cost_model_counts_only_the_steps_the_graph_lacks():
    """`_missing_cost`: multiplying out prod(num) / prod(den) left to right costs nothing for
    the steps the graph already holds (either operand order for a product), and each step it
    lacks costs its broadcast result's elements plus a call."""
    from symgrad.simplify.algebra import _missing_cost, op_cost
    from symgrad.simplify.patterns import Builder, Rules
    f64 = np.dtype("float64")
    b = Builder(Rules())
    c, d, e = (b.g.input(name, shape, f64) for name, shape in (("c", (4, 5)), ("d", (4, 5)), ("e", (4, 1))))
    assert _missing_cost(b, [c, d], [e]) == 2 * op_cost((4, 5))
    cd = b.make("mul", (d, c), {})  # held as d * c: found for c * d too
    assert _missing_cost(b, [c, d], [e]) == op_cost((4, 5))
    b.make("div", (cd, e), {})
    assert _missing_cost(b, [c, d], [e]) == 0
    assert _missing_cost(b, [e], [c]) == op_cost((4, 5))  # e / c broadcasts to c's shape
    assert _missing_cost(b, [], [e]) == op_cost((4, 1))  # 1 / e


@pytest.mark.parametrize("spelling", ["nested", "flat"])
def test_a_quotient_in_a_denominator_is_read_through(spelling):
    """x / (r / s) is x * s / r: the row factors r and s both leave the sum."""
    x, r, s = RNG.standard_normal((6, 5)), RNG.uniform(1, 2, (6, 1)), RNG.uniform(1, 2, (6, 1))

    def f(x, r, s):
        inner = x / (r / s) if spelling == "nested" else x * s / r
        return (np.sin(x) * inner.sum(axis=1, keepdims=True)).sum()
    got = symgrad.grad(f)(x, r, s)
    plain = symgrad.grad(f, passes=())(x, r, s)
    np.testing.assert_allclose(got, plain, rtol=1e-12)
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        dx = np.zeros_like(x)
        dx[i] = eps
        fd[i] = (f(x + dx, r, s) - f(x - dx, r, s)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("spelling", ["vector first", "column first", "methods"])
def test_a_lower_rank_summand_is_padded_before_its_sum(spelling):
    """sum(v * w, axis=1) with v (5,) and w (4, 1): w leaves the sum and v, of lower rank
    than the summand, is summed as (1, 5); values and gradients as without the rule."""
    v, w = RNG.standard_normal(5), RNG.standard_normal((4, 1))

    def f(v, w):
        if spelling == "vector first":
            s = np.sum(v * w, axis=1)
        elif spelling == "column first":
            s = np.sum(w * v, axis=1)
        else:
            s = (v * w).sum(1)
        return (np.sin(s) * np.arange(1.0, 5.0)).sum()
    got = symgrad.grad(f, argnums=(0, 1))(v, w)
    plain = symgrad.grad(f, argnums=(0, 1), passes=())(v, w)
    eps = 1e-6
    for g, p, arg in zip(got, plain, (0, 1)):
        np.testing.assert_allclose(g, p, rtol=1e-12)
        base = [v, w]
        fd = np.zeros_like(base[arg])
        for i in np.ndindex(fd.shape):
            d = np.zeros_like(fd)
            d[i] = eps
            up, down = list(base), list(base)
            up[arg], down[arg] = base[arg] + d, base[arg] - d
            fd[i] = (f(*up) - f(*down)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    simplified = symgrad.compile(lambda v, w: np.sum(v * w, axis=1)).graph(v, w)
    assert [n.op for n in simplified.nodes if n.op == "sum"] and all(
        math.prod(n.inputs[0].shape) == 5 for n in simplified.nodes if n.op == "sum")
