"""Idioms canonicalised before differentiation (symgrad/simplify/idioms.py): every spelling of
sigmoid, softplus, log-sigmoid, binary cross-entropy, softmax, log-softmax and ReLU gets the
canonical op's gradient. Each spelling is checked against finite differences and against the
closed form, and its gradient graph against the ops it must not hold (masks of sign, ties,
scatters), read from the graph, not from the printed source."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numeric import difference_columns, differences

import symgrad

ss = pytest.importorskip("scipy.special")

FD = {"rtol": 1e-6, "atol": 1e-7}
CLOSE = {"rtol": 1e-10, "atol": 1e-12}


def sig(z):
    return 1 / (1 + np.exp(-z))


def exact_sigmoid(z):
    return ss.expit(z)


def ops(fn, *args, argnums=0):
    """The ops of fn's simplified gradient graph, counted."""
    return Counter(n.op for n in symgrad.grad(fn, argnums).graph(*args).nodes)


def check_fd(fn, args, argnums=0):
    got = symgrad.grad(fn, argnums)(*args)
    ref = differences(fn, [np.array(a, dtype=float) for a in args], [argnums])[0]
    np.testing.assert_allclose(got, ref, **FD)
    return got


RNG = np.random.default_rng(7)
Z = RNG.standard_normal(7) * 3
Y = (RNG.random(7) < 0.5) * 1.0
EXTREME = np.array([-800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0])

# ---------------------------------------------------------------- binary cross-entropy

BCE = {
    "stable max/abs": lambda z, y: np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))),
    "stable, terms reordered": lambda z, y: (np.log1p(np.exp(-abs(z))) + np.maximum(0, z) - y * z).sum(),
    "log(sigmoid), log(1 - sigmoid)": lambda z, y: -np.sum(y * np.log(sig(z)) + (1 - y) * np.log(1 - sig(z))),
    "log(p), log1p(-p)": lambda z, y: -np.sum(y * np.log(sig(z)) + (1.0 - y) * np.log1p(-sig(z))),
    "log(1 + exp(z)) - y z": lambda z, y: np.sum(np.log(1 + np.exp(z)) - y * z),
    "logaddexp(0, z) - y z": lambda z, y: np.sum(np.logaddexp(0, z) - y * z),
    "scipy expit": lambda z, y: -np.sum(y * np.log(ss.expit(z)) + (1 - y) * np.log(1 - ss.expit(z))),
    "exp / (1 + exp)": lambda z, y: -np.sum(y * np.log(np.exp(z) / (1 + np.exp(z)))
                                            + (1 - y) * np.log(1 - np.exp(z) / (np.exp(z) + 1))),
    "tanh form": lambda z, y: -np.sum(y * np.log(0.5 * (1 + np.tanh(z / 2)))
                                      + (1 - y) * np.log(1 - (1 + np.tanh(0.5 * z)) / 2)),
    "-log(sigmoid(-z)) - y z": lambda z, y: np.sum(-np.log(sig(-z)) - y * z),
    "y softplus(-z) + (1-y) softplus(z)": lambda z, y: np.sum(y * np.logaddexp(0, -z)
                                                              + (1 - y) * np.logaddexp(0, z)),
}
MASKS = {"sign", "eq", "where", "abs", "maximum", "relu", "exp", "log", "log1p", "div"}


@pytest.mark.parametrize("name", BCE)
def test_bce_spelling_gradient_is_sigmoid_minus_y(name):
    f = BCE[name]
    got = check_fd(f, (Z, Y))
    np.testing.assert_allclose(got, exact_sigmoid(Z) - Y, **CLOSE)
    counted = ops(f, Z, Y)
    assert not MASKS & set(counted), counted
    assert counted == ops(BCE["logaddexp(0, z) - y z"], Z, Y)  # the same gradient graph


@pytest.mark.parametrize("name", BCE)
def test_bce_spelling_at_extreme_logits_and_float32(name):
    f = BCE[name]
    y = np.array([1.0, 0, 1, 0, 1, 0, 1])
    value = symgrad.compile(f)(EXTREME, y)
    grad = symgrad.grad(f)(EXTREME, y)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, exact_sigmoid(EXTREME) - y, **CLOSE)
    z32, y32 = EXTREME.astype(np.float32), y.astype(np.float32)
    g32 = symgrad.grad(f)(z32, y32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, exact_sigmoid(EXTREME) - y, rtol=1e-6, atol=1e-7)


def test_stable_bce_gradient_is_one_sigmoid_and_a_subtraction():
    graph = symgrad.grad(BCE["stable max/abs"]).graph(Z, Y)
    assert [(n.op, [i.op for i in n.inputs]) for n in graph.nodes] == [
        ("input", []), ("input", []), ("sigmoid", ["input"]), ("sub", ["sigmoid", "input"])]


def test_bce_hessian_matches_finite_differences():
    for name in ("stable max/abs", "log(sigmoid), log(1 - sigmoid)"):
        f = BCE[name]
        hess = symgrad.hessian(f)(Z, Y)
        s = exact_sigmoid(Z)
        np.testing.assert_allclose(hess, np.diag(s * (1 - s)), **CLOSE)
        fd = np.stack(difference_columns(lambda z, f=f: symgrad.grad(f)(z, Y), Z), axis=-1)
        np.testing.assert_allclose(hess, fd, **FD)


def test_bce_near_miss_is_left_alone():
    """c softplus(-z) + d softplus(z) with d not 1 - c is not cross-entropy."""
    def f(z, y):
        return np.sum(y * np.logaddexp(0, -z) + (2 - y) * np.logaddexp(0, z))
    got = check_fd(f, (Z, Y))
    np.testing.assert_allclose(got, -Y * exact_sigmoid(-Z) + (2 - Y) * exact_sigmoid(Z), **CLOSE)


# ---------------------------------------------------------------- sigmoid, softplus, log-sigmoid

SIGMOID = {
    "1 / (1 + exp(-z))": lambda z: 1 / (1 + np.exp(-z)),
    "1.0 / (exp(-z) + 1)": lambda z: 1.0 / (np.exp(-1 * z) + 1.0),
    "exp(z) / (1 + exp(z))": lambda z: np.exp(z) / (1 + np.exp(z)),
    "0.5 * (1 + tanh(z / 2))": lambda z: 0.5 * (1 + np.tanh(z / 2)),
    "(1 + tanh(0.5 z)) / 2": lambda z: (1 + np.tanh(0.5 * z)) / 2,
    "0.5 + 0.5 tanh(z / 2)": lambda z: 0.5 + 0.5 * np.tanh(z / 2),
    "scipy expit": lambda z: ss.expit(z),
    "exp(-logaddexp(0, -z))": lambda z: np.exp(-np.logaddexp(0, -z)),
}
SOFTPLUS = {
    "log1p(exp(z))": lambda z: np.log1p(np.exp(z)),
    "log(1 + exp(z))": lambda z: np.log(1 + np.exp(z)),
    "logaddexp(0, z)": lambda z: np.logaddexp(0, z),
    "logaddexp(z, 0.0)": lambda z: np.logaddexp(z, 0.0),
    "stable max/abs": lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))),
    "stable where": lambda z: np.log1p(np.exp(-np.abs(z))) + np.where(z > 0, z, 0),
    "-log(sigmoid(-z))": lambda z: -np.log(sig(-z)),
    "-log(1 - sigmoid(z))": lambda z: -np.log(1 - sig(z)),
    "-log1p(-sigmoid(z))": lambda z: -np.log1p(-ss.expit(z)),
}
LOG_SIGMOID = {
    "log(sigmoid(z))": lambda z: np.log(sig(z)),
    "stable min/abs": lambda z: np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z))),
    "-logaddexp(0, -z)": lambda z: -np.logaddexp(0, -z),
    "scipy log_expit": lambda z: ss.log_expit(z),
}
W = np.cos(np.arange(7.0))


def _weighted(f):
    return lambda z: np.sum(W * f(z))


@pytest.mark.parametrize("name", SIGMOID)
def test_sigmoid_spellings_are_one_sigmoid(name):
    f = _weighted(SIGMOID[name])
    s = exact_sigmoid(Z)
    np.testing.assert_allclose(check_fd(f, (Z,)), W * s * (1 - s), **CLOSE)
    counted = ops(f, Z)
    assert counted["sigmoid"] == 1 and not {"exp", "tanh", "div"} & set(counted), counted
    assert np.all(np.isfinite(symgrad.grad(f)(EXTREME)))


TANH_SIGMOIDS = {  # (spelling, the sigmoid's argument)
    "exp(-logaddexp(0, z))": (lambda z: np.exp(-np.logaddexp(0, z)), lambda z: -z),
    "0.5 * (1 + tanh(z))": (lambda z: 0.5 * (1 + np.tanh(z)), lambda z: 2 * z),
    "(1 + tanh(z * 0.5)) / 2": (lambda z: (1 + np.tanh(z * 0.5)) / 2, lambda z: z),
    "0.5 + tanh(3 z) * 0.5": (lambda z: 0.5 + np.tanh(3 * z) * 0.5, lambda z: 6 * z),
    "0.5 * (1 + tanh(-z / 2))": (lambda z: 0.5 * (1 + np.tanh(-z / 2)), lambda z: -z),
}


@pytest.mark.parametrize("name", TANH_SIGMOIDS)
def test_a_tanh_sigmoid_of_any_argument(name):
    """(1 + tanh(w)) / 2 is sigmoid(2w) whatever w is: halved, scaled or negated (and
    exp(-softplus(z)) is sigmoid(-z))."""
    f, arg = TANH_SIGMOIDS[name]
    np.testing.assert_allclose(symgrad.compile(f)(Z), exact_sigmoid(arg(Z)), **CLOSE)
    check_fd(_weighted(f), (Z,))
    counted = Counter(n.op for n in symgrad.compile(f).graph(Z).nodes)
    assert counted["sigmoid"] == 1 and not {"tanh", "exp"} & set(counted), counted


@pytest.mark.parametrize("table, name, closed", [(SOFTPLUS, k, 1) for k in SOFTPLUS]
                         + [(LOG_SIGMOID, k, -1) for k in LOG_SIGMOID])
def test_softplus_and_log_sigmoid_spellings(table, name, closed):
    """softplus' derivative is sigmoid(z); log-sigmoid's is sigmoid(-z)."""
    f = _weighted(table[name])
    np.testing.assert_allclose(check_fd(f, (Z,)), W * exact_sigmoid(closed * Z), **CLOSE)
    counted = ops(f, Z)
    assert counted["sigmoid"] == 1 and not MASKS & set(counted), counted
    grad, value = symgrad.grad(f)(EXTREME), symgrad.compile(f)(EXTREME)
    assert np.isfinite(value)
    np.testing.assert_allclose(grad, W * exact_sigmoid(closed * EXTREME), **CLOSE)
    hess = symgrad.hessian(f)(Z)
    s = exact_sigmoid(Z)
    np.testing.assert_allclose(hess, np.diag(closed * W * s * (1 - s)), **CLOSE)


# ---------------------------------------------------------------- softmax, log-softmax, cross-entropy

X = RNG.standard_normal((4, 5))
X[1, 3] = X[1, 1] = X[1].max() + 1  # a tie for the max: no tie-splitting may show
ONEHOT = np.eye(5)[[0, 3, 1, 4]]


def _shifted(x, spelling):
    if spelling == "keepdims":
        return x - x.max(axis=1, keepdims=True)
    if spelling == "[:, None]":
        return x - np.max(x, axis=1)[:, None]
    if spelling == "expand_dims":
        return x - np.expand_dims(x.max(-1), -1)
    if spelling == "reshape":
        return x - x.max(1).reshape(-1, 1)
    return x


SHIFTS = ["keepdims", "[:, None]", "expand_dims", "reshape", "none"]


def _log_softmax(x, shift):
    s = _shifted(x, shift)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def _softmax(x, shift):
    e = np.exp(_shifted(x, shift))
    return e / e.sum(axis=1, keepdims=True)


def _lse_squeezed(x):
    m = np.max(x, axis=1)
    return m + np.log(np.sum(np.exp(x - m[:, None]), axis=1))


CE = {f"log-softmax, shift {s}": (lambda x, y, s=s: -np.sum(y * _log_softmax(x, s))) for s in SHIFTS}
CE |= {f"log of softmax, shift {s}": (lambda x, y, s=s: -np.sum(y * np.log(_softmax(x, s)))) for s in SHIFTS}
CE["squeezed logsumexp"] = lambda x, y: np.sum(_lse_squeezed(x) - np.sum(y * x, axis=1))
CE["keepdims logsumexp"] = lambda x, y: np.sum(
    (lambda m: m + np.log(np.exp(x - m).sum(1, keepdims=True)))(x.max(1, keepdims=True))
    - (y * x).sum(1, keepdims=True))
CE["kept max squeezed, m[:, 0] + log(sum(exp(x - m)))"] = lambda x, y: np.sum(
    (lambda m: m[:, 0] + np.log(np.exp(x - m).sum(1)))(x.max(1, keepdims=True)) - np.sum(y * x, axis=1))
SAFE_MAX = ("scipy log_softmax", "log-softmax shifted by a safe max")
CE["scipy log_softmax"] = lambda x, y: -np.sum(y * ss.log_softmax(x, axis=1))
CE["log-softmax shifted by the row mean"] = lambda x, y: -np.sum(
    y * _log_softmax(x - x.mean(axis=1, keepdims=True), "none"))
CE["log-softmax shifted by a safe max"] = lambda x, y: -np.sum(y * _log_softmax(
    x - np.where(np.isfinite(x.max(1, keepdims=True)), x.max(1, keepdims=True), 0.0), "none"))


def _softmax_exact(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("name", CE)
def test_cross_entropy_spellings_have_no_tie_masks(name):
    f = CE[name]
    got = symgrad.grad(f)(X, ONEHOT)
    np.testing.assert_allclose(got, _softmax_exact(X) - ONEHOT, **CLOSE)
    x = RNG.standard_normal((4, 5))  # no ties, for the one-sided differences near one
    np.testing.assert_allclose(symgrad.grad(f)(x, ONEHOT), differences(f, [x, ONEHOT], [0])[0], **FD)
    counted = ops(f, X, ONEHOT)
    assert not {"eq", "scatter_add"} & set(counted), counted
    assert counted["where"] == (name in SAFE_MAX), counted  # the forward's own where(isfinite(m), m, 0)


@pytest.mark.parametrize("shift", ["keepdims", "[:, None]", "none"])
def test_softmax_weighted_and_attention(shift):
    w = np.cos(np.arange(20.0)).reshape(4, 5)
    f = lambda x: np.sum(w * _softmax(x, shift))  # noqa: E731
    p = _softmax_exact(X)
    np.testing.assert_allclose(symgrad.grad(f)(X), p * (w - np.sum(w * p, 1, keepdims=True)), **CLOSE)
    assert "eq" not in ops(f, X)
    q, k, v = (RNG.standard_normal((3, 4)) for _ in range(3))

    def attention(q, k, v):
        return np.sum(np.cos(_softmax(q @ k.T / np.sqrt(4.0), shift) @ v))
    check_fd(attention, (q, k, v))
    assert "eq" not in ops(attention, q, k, v)


# ---------------------------------------------------------------- relu

RELU = {
    "maximum(h, 0)": lambda h: np.maximum(h, 0),
    "maximum(0.0, h)": lambda h: np.maximum(0.0, h),
    "where(h > 0, h, 0)": lambda h: np.where(h > 0, h, 0),
    "where(h <= 0, 0.0, h)": lambda h: np.where(h <= 0, 0.0, h),
    "clip(h, 0, None)": lambda h: np.clip(h, 0, None),
    "where(0 < h, h, 0)": lambda h: np.where(0 < h, h, 0),
    "where(np.less(0, h), h, 0)": lambda h: np.where(np.less(0, h), h, 0),
}


@pytest.mark.parametrize("name", RELU)
def test_relu_spellings_share_the_mask_form_and_tie_convention(name):
    relu = RELU[name]

    def mlp(w1, x, w2):
        return np.sum(relu(x @ w1) @ w2)
    w1, x, w2 = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 3)), RNG.standard_normal((4, 2))
    check_fd(mlp, (w1, x, w2))
    def masked(w1, x, w2):
        h = x @ w1
        return np.sum(np.where(h > 0, h, 0) @ w2)
    counted = ops(mlp, w1, x, w2)
    assert counted == ops(masked, w1, x, w2)
    # one masked pass: a product with the mask
    assert counted["mul"] == 1 and not {"relu", "maximum", "eq", "where"} & set(counted), counted
    # ties: gradient 0 at h == 0, as PyTorch's relu
    h = np.array([-1.0, 0.0, 2.0, -0.0], dtype=np.float32)
    g = symgrad.grad(lambda h: np.sum(relu(h) * 3))(h)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [0.0, 0.0, 3.0, 0.0])


@pytest.mark.parametrize("spelling", [lambda h: np.where(h < 0, 0.0, h), lambda h: np.where(h >= 0, h, 0.0),
                                      lambda h: np.where(0 > h, 0, h),
                                      lambda h: symgrad.clamp(h, min=0)],
                         ids=["where(h < 0, 0, h)", "where(h >= 0, h, 0)", "where(0 > h, 0, h)",
                              "clamp(h, min=0)"])
def test_a_where_that_keeps_h_at_zero_keeps_its_gradient_there(spelling):
    """where(h < 0, 0, h) keeps h at 0, so its gradient there is 1 (JAX's for the same code,
    PyTorch's clamp(min=0)): it is not rewritten to relu, whose gradient at 0 is 0."""
    h = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(symgrad.grad(lambda h: np.sum(spelling(h) * 3))(h), [0.0, 3.0, 3.0])


def test_relus_gradient_is_a_product_with_the_mask():
    """A finite cotangent gives PyTorch's values; a nan one where x <= 0 stays nan (the price
    of a product over a select, documented beside relu's rule)."""
    h = np.array([-1.0, 0.0, 2.0])
    for ct, want in (([1.0, 2.0, 3.0], [0.0, 0.0, 3.0]), ([np.nan, 1.0, 1.0], [np.nan, 0.0, 1.0])):
        f = lambda h, c: np.sum(np.maximum(h, 0) * c)  # noqa: E731
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(symgrad.grad(f)(h, np.array(ct)), want)


def test_a_mask_product_is_not_relu():
    """h * (h > 0) is nan at -inf (0 * inf), as NumPy computes it; relu would be 0."""
    h = np.array([-np.inf, -1.0, 0.0, 2.0])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(symgrad.compile(lambda h: h * (h > 0))(h), h * (h > 0))
    g = symgrad.grad(lambda h: np.sum(h[1:] * (h[1:] > 0)))(h)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 1.0])


def test_maximum_of_two_variables_still_shares_ties():
    g = symgrad.grad(lambda a, b: np.sum(np.maximum(a, b)), (0, 1))(np.zeros(2), np.array([0.0, -1.0]))
    np.testing.assert_array_equal(g[0], [0.5, 1.0])
    np.testing.assert_array_equal(g[1], [0.5, 0.0])


# ---------------------------------------------------------------- constant zeros, unit axes

def _rnn(h0_zero):
    def loss(wx, wh, xs):
        h = np.zeros((2, 3)) if h0_zero else np.tanh(xs[0] @ wx)
        for t in range(0 if h0_zero else 1, xs.shape[0]):
            h = np.tanh(xs[t] @ wx + h @ wh)
        return np.sum(h)
    return loss


def test_zero_initial_state_keeps_numpy_values():
    """zeros @ wh is not dropped: NumPy's is nan where wh holds inf (0 * inf)."""
    wx, wh, xs = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 3)), RNG.standard_normal((3, 2, 4))
    for argnums in (0, 1):
        check_fd(_rnn(True), (wx, wh, xs), argnums)
        got = symgrad.grad(_rnn(True), argnums)(wx, wh, xs)
        np.testing.assert_allclose(got, symgrad.grad(_rnn(False), argnums)(wx, wh, xs), **CLOSE)
    wh[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(symgrad.compile(_rnn(True))(wx, wh, xs), _rnn(True)(wx, wh, xs))


@pytest.mark.parametrize("zero", [lambda x: 0 * x, lambda x: np.zeros(3) * x, lambda x: np.zeros((2, 2)) @ x,
                                  lambda x: np.sin(np.zeros(3)) + x * 0.0])
def test_zero_products_keep_shape_and_dtype(zero):
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    f = lambda x: np.sum(zero(x) + x * x)  # noqa: E731
    g = symgrad.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, 2 * x)
    assert symgrad.compile(zero)(x).shape == zero(x).shape


UNIT = {
    "p[None]": (lambda p: np.sum(p[None] * np.cos(np.arange(12.0)).reshape(4, 3)), (3,)),
    "p[:, None]": (lambda p: np.sum(p[:, None] * np.cos(np.arange(12.0)).reshape(3, 4)), (3,)),
    "p[..., None]": (lambda p: np.sum(np.exp(p[..., None]) * np.arange(4.0)), (3,)),
    "q[0] of a unit axis": (lambda q: np.sum(np.sin(q[0]) * np.arange(3.0)), (1, 3)),
    "q[:, -1] of a unit axis": (lambda q: np.sum(np.sin(q[:, -1]) * np.arange(3.0)), (3, 1)),
}


@pytest.mark.parametrize("name", UNIT)
def test_unit_axis_indexing_is_a_reshape_in_the_gradient(name):
    f, shape = UNIT[name]
    p = RNG.standard_normal(shape)
    check_fd(f, (p,))
    assert not {"scatter_add", "getitem", "index_add"} & set(ops(f, p))


def test_indexing_a_longer_axis_still_scatters():
    f = lambda q: np.sum(np.sin(q[0]))  # noqa: E731
    q = RNG.standard_normal((2, 3))
    check_fd(f, (q,))
    np.testing.assert_allclose(symgrad.grad(f)(q), np.vstack([np.cos(q[0]), np.zeros(3)]), **CLOSE)


PIECES = {
    "np.stack rows": lambda x: np.sum(np.stack([x[:-1], x[1:]])[1] * np.stack([x[:-1], x[1:]])[0] ** 2),
    "np.stack columns": lambda x: np.sum(np.stack([x, np.sin(x)], axis=1)[:, 1] ** 2),
    "concatenate, a slice inside a part": lambda x: np.sum(np.concatenate([x, 2 * x, x**2])[7:10] ** 3),
    "concatenate, negative index": lambda x: np.concatenate([np.cos(x), x**2])[-1] * 3.0,
    "vstack then a row": lambda x: np.sum(np.tanh(np.vstack([x, x**2, np.exp(x)])[2])),
}


@pytest.mark.parametrize("name", PIECES)
def test_a_piece_of_a_concatenation_is_that_piece(name):
    """Indexing what np.stack or concatenate put together, inside one part, reads that part:
    the gradient has no concatenation and no scatter into it."""
    f = PIECES[name]
    x = RNG.standard_normal(6)
    got = check_fd(f, (x,))
    np.testing.assert_allclose(got, symgrad.grad(f, passes=())(x), **CLOSE)
    assert "cat" not in ops(f, x)


def test_an_index_across_two_parts_keeps_the_concatenation():
    f = lambda x: np.sum(np.concatenate([x, 2 * x])[4:8] ** 2)  # noqa: E731
    x = RNG.standard_normal(6)
    np.testing.assert_allclose(check_fd(f, (x,)), symgrad.grad(f, passes=())(x), **CLOSE)


MONOMIALS = {
    "x * x * x * x": (lambda x: np.sum(x * x * x * x), 4),
    "(x * x) * (x * x)": (lambda x: np.sum((x * x) * (x * x)), 4),
    "np.square(x) ** 2": (lambda x: np.sum(np.square(x) ** 2), 4),
    "x ** 2 * x": (lambda x: np.sum(x**2 * x), 3),
    "(x ** 3) ** 2": (lambda x: np.sum((x**3) ** 2), 6),
    "(x ** 2) @ (x ** 2)": (lambda x: (x**2) @ (x**2), 4),
    "np.dot(v, v), v = x * x": (lambda x: np.dot(x * x, x * x), 4),
    "einsum i,i,i,i": (lambda x: np.einsum("i,i,i,i->", x, x, x, x), 4),
}


@pytest.mark.parametrize("name", MONOMIALS)
def test_a_product_of_one_factor_is_a_power(name):
    """Products of one value and dots of a vector with itself are a monomial before
    differentiation: one product-rule term, so the gradient is k * x**(k-1) and the Hessian's
    diagonal one term."""
    f, k = MONOMIALS[name]
    x = RNG.standard_normal(6)
    got = check_fd(f, (x,))
    np.testing.assert_allclose(got, k * x ** (k - 1), **CLOSE)
    np.testing.assert_allclose(symgrad.hessian(f)(x), np.diag(k * (k - 1) * x ** (k - 2)), **CLOSE)
    np.testing.assert_allclose(symgrad.hessian(f)(x), symgrad.hessian(f, passes=())(x), **CLOSE)
    assert sum(ops(f, x).values()) <= 6


def test_a_square_stays_a_product_and_other_bases_stay_apart():
    f = lambda x, y: np.sum(x * x * y)  # noqa: E731
    x, y = RNG.standard_normal(5), RNG.standard_normal(5)
    np.testing.assert_allclose(check_fd(f, (x, y)), 2 * x * y, **CLOSE)
    np.testing.assert_allclose(symgrad.grad(f, 1)(x, y), x * x, **CLOSE)
    xi = np.arange(-3, 3)
    assert symgrad.compile(lambda x: x * x * x)(xi).dtype == xi.dtype


def test_logistic_regression_with_the_sign_on_x():
    """-X @ w negates X in Python's reading; the BCE terms come with their arguments negated
    the other way round. The gradient is still X.T @ (sigmoid(X @ w) - y) / n, and X is not
    negated in it."""
    rng = np.random.default_rng(5)
    X, w, y = rng.standard_normal((8, 3)), rng.standard_normal(3), (rng.random(8) < 0.5) * 1.0

    def loss(w, X, y):
        p = 1 / (1 + np.exp(-X @ w))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    got = check_fd(loss, (w, X, y))
    np.testing.assert_allclose(got, X.T @ (exact_sigmoid(X @ w) - y) / 8, **CLOSE)
    counted = ops(loss, w, X, y)
    assert counted["neg"] == 0 and counted["matmul"] == 2 and counted["log"] == 0, counted


NORMS_SQUARED = {
    "np.linalg.norm(w) ** 2": lambda w: np.linalg.norm(w) ** 2,
    "norm(w, 2) ** 2": lambda w: np.linalg.norm(w, 2) ** 2,
    "np.sqrt(w @ w) ** 2": lambda w: np.sqrt(w @ w) ** 2,
    "np.sqrt(np.sum(w ** 2)) ** 2": lambda w: np.sqrt(np.sum(w**2)) ** 2,
    "np.sqrt(np.sum(np.abs(w) * np.abs(w))) ** 2": lambda w: np.sqrt(np.sum(np.abs(w) * np.abs(w))) ** 2,
}


@pytest.mark.parametrize("name", NORMS_SQUARED)
def test_a_squared_norm_is_a_sum_of_squares(name):
    """sqrt(s) ** 2 is s when s cannot be negative, through the zero guard of norm too: the
    gradient is 2w, with no square root, division or mask in it, and 0 at w = 0."""
    f = NORMS_SQUARED[name]
    w = RNG.standard_normal(5)
    np.testing.assert_allclose(check_fd(f, (w,)), 2 * w, **CLOSE)
    np.testing.assert_array_equal(symgrad.grad(f)(np.zeros(5)), np.zeros(5))
    assert not {"sqrt", "div", "where"} & set(ops(f, w)), ops(f, w)


def test_the_square_of_a_root_of_anything_keeps_the_root():
    f = lambda w: np.sqrt(np.sum(w)) ** 2  # noqa: E731  nan where the sum is negative, as NumPy
    w = np.array([1.0, -3.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(symgrad.compile(f)(w)) and np.isnan(f(w))
    assert "sqrt" in {n.op for n in symgrad.compile(f, passes=("stability",)).graph(w).nodes}


LABELS = np.array([0, 3, 1, 4])
F = symgrad.nn.functional
CE_LABELS = {
    "gather of log-softmax, keepdims": lambda x, k: -np.sum(_log_softmax(x, "keepdims")[np.arange(4), k]),
    "logsumexp minus gather, squeezed": lambda x, k: np.sum(_lse_squeezed(x) - x[np.arange(len(k)), k]),
    "torch cross_entropy": lambda x, k: F.cross_entropy(x, k, reduction="sum"),
    "torch nll_loss of log_softmax": lambda x, k: F.nll_loss(F.log_softmax(x, 1), k, reduction="sum"),
}


@pytest.mark.parametrize("name", CE_LABELS)
def test_cross_entropy_with_labels_has_no_scatter(name):
    f = CE_LABELS[name]
    np.testing.assert_allclose(symgrad.grad(f)(X, LABELS), _softmax_exact(X) - np.eye(5)[LABELS], **CLOSE)
    assert not {"eq", "scatter_add"} & set(ops(f, X, LABELS))


LOGIT = {
    "log(p / (1 - p))": lambda p: np.log(p / (1 - p)),
    "log(p) - log(1 - p)": lambda p: np.log(p) - np.log(1.0 - p),
    "log(p) - log1p(-p)": lambda p: np.log(p) - np.log1p(-p),
    "scipy logit": lambda p: ss.logit(p),
}


@pytest.mark.parametrize("name", LOGIT)
def test_logit_spellings_are_logit(name):
    p = np.linspace(0.05, 0.95, 7)
    f = _weighted(LOGIT[name])
    np.testing.assert_allclose(check_fd(f, (p,)), W / (p * (1 - p)), **CLOSE)
    assert "logit" in {n.op for n in symgrad.compile(LOGIT[name]).graph(p).nodes}
    np.testing.assert_allclose(symgrad.hessian(f)(p), np.diag(W * (2 * p - 1) / (p * (1 - p)) ** 2), **CLOSE)


def test_logit_of_sigmoid_is_the_logit():
    f = lambda z: np.log(sig(z) / (1 - sig(z)))  # noqa: E731
    z = np.array([-50.0, -3.0, 0.0, 3.0, 50.0])
    np.testing.assert_allclose(symgrad.compile(f)(z), z, **CLOSE)
    np.testing.assert_allclose(symgrad.grad(lambda z: np.sum(f(z)))(z), np.ones(5), **CLOSE)
