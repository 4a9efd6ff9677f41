"""NumPy code as its authors write it: NumPy's reduction keywords, `np.array` of traced values,
`elementwise_grad`, and errors that give the fix when something cannot be traced."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numeric import differences

import symgrad

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 5))
MASK = X > -0.5
MASK[0, :] = MASK[:, 0] = True  # each row and column keeps an element: no mean of nothing


# ---------------------------------------------------------------- reductions, as functions

REDUCTIONS = [
    (np.sum, {}), (np.sum, {"axis": 1}), (np.sum, {"axis": (0, 1), "keepdims": True}),
    (np.sum, {"where": MASK}), (np.sum, {"axis": 0, "initial": 1.5}), (np.prod, {"axis": 1}),
    (np.prod, {"where": MASK, "initial": 2.0}), (np.mean, {}), (np.mean, {"axis": -1, "keepdims": True}),
    (np.mean, {"axis": 0, "where": MASK}), (np.var, {}), (np.var, {"axis": 0}), (np.var, {"ddof": 1}),
    (np.var, {"axis": 1, "ddof": 2, "keepdims": True}), (np.var, {"where": MASK}), (np.std, {}),
    (np.std, {"axis": -1, "ddof": 1}), (np.max, {"axis": 0}), (np.max, {"initial": 3.0}),
    (np.amin, {"axis": 1, "keepdims": True}), (np.min, {"where": MASK, "initial": 0.0}),
]


@pytest.mark.parametrize("func, kwargs", REDUCTIONS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_numpy_reductions_keep_numpy_semantics(func, kwargs):
    """np.var divides by n - ddof with ddof=0 by default; where=, initial=, keepdims= as NumPy."""
    ct = RNG.standard_normal(np.shape(func(X, **kwargs)))

    def loss(x):
        return (func(x, **kwargs) * ct).sum()

    np.testing.assert_allclose(symgrad.compile(lambda x: func(x, **kwargs))(X), func(X, **kwargs), rtol=1e-13)
    fd, = differences(loss, [X.copy()], [0])
    np.testing.assert_allclose(symgrad.grad(loss)(X), fd, rtol=1e-6, atol=1e-7)


def test_function_method_and_symgrad_spellings():
    """np.var(x), x.var() and symgrad.var(x, correction=0) are one value; symgrad.var(x) is PyTorch's."""
    f = symgrad.compile(lambda x: (np.var(x, axis=1), x.var(axis=1), x.var(1),
                                   symgrad.var(x, 1, correction=0), symgrad.var(x, 1)))
    a, b, c, d, e = f(X)
    for v in (a, b, c, d):
        np.testing.assert_allclose(v, X.var(axis=1), rtol=1e-13)
    np.testing.assert_allclose(e, X.var(axis=1, ddof=1), rtol=1e-13)


def test_integer_mean_is_float_as_numpy_gives():
    ints = np.arange(6).reshape(2, 3)
    out = symgrad.compile(lambda x, k: (k * x).mean(axis=0))(ints, np.float64(1.0))
    np.testing.assert_array_equal(out, (1.0 * ints).mean(axis=0))
    assert symgrad.compile(lambda x: x.mean())(ints).dtype == np.float64


def test_keyword_errors_name_the_problem():
    with pytest.raises(ValueError, match="ddof and correction"):
        symgrad.compile(lambda x: np.var(x, ddof=1, correction=1))(X)
    with pytest.raises(ValueError, match="zero-size array"):
        symgrad.compile(lambda x: x[:0].max())(X)


# ---------------------------------------------------------------- np.array of traced values

def euler_listed(y0, k):
    """An ODE integrated by an author who collects states in a list and calls np.array."""
    ys = [y0]
    for _ in range(4):
        ys.append(ys[-1] - 0.1 * k * ys[-1] ** 2)
    return np.array(ys)


def euler_stacked(y0, k):
    ys = [y0]
    for _ in range(4):
        ys.append(ys[-1] - 0.1 * k * ys[-1] ** 2)
    return np.stack(ys)


def rotation(theta):
    """A matrix of traced scalars and numbers, nested lists, as a textbook writes it."""
    c, s = np.cos(theta), np.sin(theta)
    return np.asarray([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("build", [euler_listed, euler_stacked,
                                   lambda y0, k: np.asarray(tuple(euler_stacked(y0, k)), dtype=np.float64)])
def test_np_array_of_traced_values_stacks_them(build):
    y0, k = np.array([1.0, 0.5, -0.3]), 0.7
    np.testing.assert_allclose(symgrad.compile(build)(y0, k), euler_stacked(y0, k), rtol=1e-14)
    loss = lambda y0, k: (build(y0, k) ** 2).sum()  # noqa: E731
    gy, gk = symgrad.grad(loss, argnums=(0, 1))(y0, k)
    fy, fk = differences(lambda a, b: loss(a, float(b)), [y0.copy(), np.array(k)], [0, 1])
    np.testing.assert_allclose(gy, fy, rtol=1e-6)
    np.testing.assert_allclose(gk, fk, rtol=1e-6)


def test_nested_lists_of_scalars_and_numbers():
    theta = np.array(0.3)
    np.testing.assert_allclose(symgrad.compile(rotation)(theta), rotation(0.3), rtol=1e-15)
    g = symgrad.grad(lambda t: (rotation(t) @ np.array([1.0, 2.0, 3.0])).sum())(theta)
    np.testing.assert_allclose(g, -np.sin(0.3) * 3 + np.cos(0.3) * -1, rtol=1e-12)


def test_constructors_are_numpys_own_outside_a_trace():
    """The wrappers exist only while a trace runs, even one that fails."""
    original = np.array
    with pytest.raises(ZeroDivisionError):
        symgrad.compile(lambda x: np.array([x, 1 / 0]))(X)
    assert np.array is original and np.asarray(5).dtype == np.array(5).dtype
    symgrad.compile(lambda x: np.array([x, x]))(X)
    assert np.array is original


def test_plain_data_inside_a_trace_stays_an_array():
    out = symgrad.compile(lambda x: x * np.array([1.0, 2.0, 3.0, 4.0, 5.0]).sum() + np.asarray(2).item())(X)
    np.testing.assert_allclose(out, X * 15 + 2)


def test_traces_on_threads_leave_the_constructors_right():
    results, errors = [], []

    def work():
        try:
            results.append(symgrad.compile(lambda x: np.array([x, 2 * x]).sum())(np.ones(4)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [12.0] * 6
    assert np.array([1, 2]).tolist() == [1, 2] and type(np.array).__name__ == "builtin_function_or_method"


# ---------------------------------------------------------------- elementwise_grad

@pytest.mark.parametrize("fn, derivative", [
    (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    (lambda x: x.sin() * x, lambda x: np.cos(x) * x + np.sin(x)),
    (lambda x: 1.0 / (1.0 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
])
def test_elementwise_grad_is_the_derivative_at_each_element(fn, derivative):
    np.testing.assert_allclose(symgrad.elementwise_grad(fn)(X), derivative(X), rtol=1e-12)


def test_elementwise_grad_of_a_non_elementwise_function_sums_the_jacobian_columns():
    def f(x, w):
        return np.tanh(w @ x)
    w = RNG.standard_normal((4, 3))
    x = RNG.standard_normal(3)
    want = symgrad.jacobian(f)(x, w).sum(0)
    np.testing.assert_allclose(symgrad.elementwise_grad(f)(x, w), want, rtol=1e-12)
    fd, = differences(lambda w: f(x, w).sum(), [w.copy()], [0])
    np.testing.assert_allclose(symgrad.elementwise_grad(f, argnum=1)(x, w), fd, rtol=1e-6)


# ---------------------------------------------------------------- errors that give the fix

def test_assignment_into_a_numpy_array_names_the_line_and_says_stack():
    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = x[i] * 2
        return out.sum()

    with pytest.raises(symgrad.TracerError) as info:
        symgrad.grad(f)(np.ones(3))
    message = str(info.value)
    assert "out[i] = x[i] * 2" in message and "test_numpy_face.py" in message
    assert "np.stack" in message and "symgrad.where" not in message


def test_a_library_that_converts_its_input_names_the_users_line():
    stats = pytest.importorskip("scipy.stats")

    def f(x):
        return stats.norm.logpdf(x).sum()  # a Python function that calls np.asarray

    with pytest.raises(symgrad.TracerError) as info:
        symgrad.grad(f)(np.ones(3))
    message = str(info.value)
    assert "stats.norm.logpdf(x).sum()" in message  # the user's line, quoted
    assert message.startswith("scipy.stats") and "np.asarray" in message and "symgrad.*" in message


def test_control_flow_keeps_its_advice():
    def f(x):
        if x.sum() > 0:
            return x.sum()
        return -x.sum()

    with pytest.raises(symgrad.TracerError, match=r"bool\(\).*if x.sum\(\) > 0.*where"):
        symgrad.grad(f)(np.ones(3))


def test_result_type_answers_for_traced_values():
    """Libraries ask np.result_type before computing; a traced value answers with its dtype."""
    out = symgrad.compile(lambda x: x * (np.result_type(x, np.float32) == np.float64) +
                          (np.result_type(x.astype(np.float32), 1.0) == np.float32))(X)
    np.testing.assert_array_equal(out, X + 1)


def test_copy_invert_and_vander_as_numpy():
    """x.copy(), ~mask and np.vander, which NumPy authors reach for."""
    def f(x):
        mask = ~(x > 0)
        return (np.vander(x.copy()[0], 3, increasing=True) * np.where(mask[0], 2.0, 1.0)[:, None]).sum()

    np.testing.assert_allclose(symgrad.compile(f)(X), f(X), rtol=1e-14)
    fd, = differences(f, [X.copy()], [0])
    np.testing.assert_allclose(symgrad.grad(f)(X), fd, rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="'invert' not supported"):  # NumPy's refusal of ~float
        symgrad.compile(lambda x: ~x)(X)


BETWEEN = [
    lambda x: (x > -0.5) & (x < 0.5),
    lambda x: np.logical_and(x > -0.5, x < 0.5),
    lambda x: ~((x <= -0.5) | (x >= 0.5)),
    lambda x: np.bitwise_and(np.greater(x, -0.5), np.less(x, 0.5)),
    lambda x: (x > -0.5) ^ (x >= 0.5),
]


@pytest.mark.parametrize("between", BETWEEN)
def test_masks_combine_with_operators_as_numpy(between):
    """`(x > a) & (x < b)`, `~m`, `m1 | m2`, `m1 ^ m2` on traced masks, as NumPy code writes them."""
    def f(x):
        return np.where(between(x), x ** 2, np.sin(x)).sum()

    assert symgrad.compile(f)(X) == pytest.approx(f(X), rel=1e-14)
    np.testing.assert_allclose(symgrad.grad(f)(X), np.where(between(X), 2 * X, np.cos(X)), rtol=1e-14)


def test_bitwise_operators_on_integers_as_numpy():
    def f(x):
        k = np.arange(X.size).reshape(X.shape)
        return (x * ((k & 3) | (k ^ 5) | ~k)).sum()

    k = np.arange(X.size).reshape(X.shape)
    np.testing.assert_allclose(symgrad.grad(f)(X), ((k & 3) | (k ^ 5) | ~k).astype(float), rtol=0)


@pytest.mark.parametrize("make", [
    lambda x: np.zeros_like(x, dtype=np.int64), lambda x: np.ones_like(x, dtype=np.float32),
    lambda x: np.empty_like(x) * 0 + x, lambda x: np.full_like(x, 2.5),
    lambda x: np.full_like(x.astype(np.int64), 2.5), lambda x: np.full_like(x, x[0, 0], dtype=np.float32),
])
def test_like_constructors_take_numpys_dtype(make):
    """np.*_like(x, dtype=) gives that dtype; np.full_like casts the fill to it (2.5 -> 2)."""
    out, expected = symgrad.compile(make)(X), make(X)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("f, args, words", [
    (lambda x: np.sum(np.abs((2 + 1j) * x) ** 2), (X,), ["(2+1j) is complex", "symgrad differentiates real"]),
    (lambda x: (x * np.array([1j, 1, 1, 1, 1])).sum(), (X,), ["is complex"]),
    (lambda z: np.sum(np.abs(z) ** 2), (np.array([1 + 1j]),), ["argument 'z' is complex"]),
], ids=["python complex", "complex array", "complex argument"])
def test_complex_values_are_refused_clearly(f, args, words):
    """symgrad's values are real: a complex constant or argument is a TypeError saying so, not
    a complex gradient (or a KeyError)."""
    with pytest.raises(TypeError) as info:
        symgrad.grad(f)(*args)
    assert all(word in str(info.value) for word in words)


@pytest.mark.parametrize("f", [
    lambda p: np.linalg.norm([p[0] - 1.0, p[1]]),
    lambda p: np.sum([p[0], p[1] ** 2]),
    lambda p: np.max((p[0], p[1])),
])
def test_a_list_of_traced_values_given_to_numpy_says_stack_it(f):
    with pytest.raises(symgrad.TracerError) as info:
        symgrad.grad(f)(np.array([0.3, 0.4]))
    message = str(info.value)
    assert "inside a list or tuple" in message and "np.stack" in message
    assert "test_numpy_face.py" in message


def test_accumulating_into_a_numpy_array_says_make_it_traced():
    def f(k, x):
        out = np.zeros(3)
        for i in range(2):
            out += k[i] * x[i:i + 3]
        return out.sum()

    with pytest.raises(TypeError, match=r"NumPy array.*out \+= k\[i\].*np.zeros_like"):
        symgrad.grad(f)(np.ones(2), np.arange(4.0))


def test_a_traced_value_lives_on_the_cpu_as_numpy_arrays_do():
    assert symgrad.compile(lambda x: (x * (x.device == "cpu")).sum())(X) == pytest.approx(X.sum())


def test_a_numpy_array_indexed_by_a_traced_value_says_compare_instead():
    def one_hot_by_indexing(W, y):
        return np.sum(np.eye(3)[y] * W)

    with pytest.raises(symgrad.TracerError) as info:
        symgrad.grad(one_hot_by_indexing)(np.ones((2, 3)), np.array([0, 2]))
    assert "np.eye(3)[y] * W" in str(info.value) and "(y[:, None] == np.arange(k))" in str(info.value)

    def one_hot_by_comparison(W, y):
        return np.sum((y[:, None] == np.arange(3)) * W)

    np.testing.assert_array_equal(symgrad.grad(one_hot_by_comparison)(np.ones((2, 3)), np.array([0, 2])),
                                  np.eye(3)[[0, 2]])


@pytest.mark.parametrize("clip", [
    lambda a, lo, hi: np.clip(a, lo, hi), lambda a, lo, hi: a.clip(lo, hi),
    lambda a, lo, hi: a.clip(min=lo, max=hi),
])
def test_a_numpy_array_clipped_by_traced_bounds(clip):
    """ndarray.clip of a NumPy array with traced bounds reaches NumPy's unexported clip ufunc."""
    a = np.arange(5.0)
    grad = symgrad.grad(lambda lo, hi: clip(a, lo, hi).sum(), argnums=(0, 1))(np.array(1.5), np.array(2.5))
    np.testing.assert_array_equal(grad, (2.0, 2.0))  # 0 and 1 below lo, 3 and 4 above hi


@pytest.mark.parametrize("f", [
    lambda x: np.sin(np.deg2rad(x * 30)), lambda x: np.sin(np.radians(x * 30)),
    lambda x: np.rad2deg(x) / 57.0, lambda x: np.degrees(x) / 57.0, lambda x: np.fabs(x) * x,
    lambda x: np.ldexp(x, np.arange(5) % 3), lambda x: np.float_power(np.abs(x) + 1.0, 1.5),
], ids=["deg2rad", "radians", "rad2deg", "degrees", "fabs", "ldexp", "float_power"])
def test_more_numpy_ufuncs_trace(f):
    """NumPy's own names for functions symgrad has under PyTorch's (radians is deg2rad...)."""
    def loss(x):
        return (f(x) ** 2).sum()

    assert symgrad.compile(loss)(X) == pytest.approx(loss(X), rel=1e-14)
    fd, = differences(loss, [X.copy()], [0])
    np.testing.assert_allclose(symgrad.grad(loss)(X), fd, rtol=1e-6, atol=1e-8)
