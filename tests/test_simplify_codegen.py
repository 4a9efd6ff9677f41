"""Corners of the simplifier and code generator that the rule table misses (found by mutation testing).

Each test compiles small user programs and checks values: simplified against `passes=()`,
against NumPy, and gradients against central finite differences in float64. Where a rule
must fire for the test to mean anything, the test also asserts that it fired (from the
pass statistics), so a rule that silently stops firing fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.simplify import sympy_pass

SAME = {"rtol": 1e-12, "atol": 1e-12}


def real(shape: tuple[int, ...], dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    """Values of both signs, with an exact zero first."""
    a = np.random.default_rng(seed).uniform(-2.0, 2.0, shape)
    a.flat[0] = 0.0
    return a.astype(dtype)


def fired(transform: Any, *args: Any) -> set[str]:
    """The rules that fired in any pass while `transform` was built for `args`."""
    return {name for stat in transform.build(*args).stats for name in stat.fired}


def assert_same(got: Any, want: Any, what: str = "", exact: bool = False) -> None:
    """Equal shape and dtype, and equal values (to rounding, float32's or float64's, unless
    `exact`)."""
    got, want = np.asarray(got), np.asarray(want)
    assert (got.shape, got.dtype) == (want.shape, want.dtype), \
        f"{what}: {got.dtype}{got.shape} != {want.dtype}{want.shape}"
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=what)
    elif got.dtype == np.float32:  # two orders of float32 rounding differ by an ulp or so
        np.testing.assert_allclose(got, want, err_msg=what, rtol=4 * np.finfo(np.float32).eps, atol=1e-6)
    else:
        np.testing.assert_allclose(got, want, err_msg=what, **SAME)


def check(fn: Callable, *arrays: np.ndarray, argnums: tuple[int, ...] = (0,)) -> set[str]:
    """Forward and gradient of `fn` simplified equal the unsimplified ones (and NumPy's forward;
    finite differences for float64); returns the rules that fired."""
    simplified, plain = symgrad.compile(fn), symgrad.compile(fn, passes=())
    out = plain(*arrays)
    assert_same(simplified(*arrays), out, "forward")
    assert_same(out, fn(*arrays), "unsimplified forward vs NumPy")
    rules = fired(simplified, *arrays)
    if argnums:
        ct = np.random.default_rng(1).standard_normal(np.shape(out))

        def loss(*xs: Any) -> Any:
            return np.sum(fn(*xs) * ct)

        grad = symgrad.grad(loss, argnums=argnums)
        got, want = grad(*arrays), symgrad.grad(loss, argnums=argnums, passes=())(*arrays)
        for g, w in zip(got, want):
            assert_same(g, w, "gradient")
        if all(arrays[i].dtype == np.float64 for i in argnums):
            for g, d in zip(got, differences(lambda *xs: np.sum(plain(*xs) * ct), arrays, argnums)):
                np.testing.assert_allclose(g, d, rtol=1e-6, atol=1e-6)
        rules |= fired(grad, *arrays)
    return rules


# ---------------------------------------------------------------- signs: x * -1 -> -x

@pytest.mark.parametrize("fn", [
    lambda x: x * -1,
    lambda x: -1 * np.sin(x),
    lambda x: np.multiply(x, -1.0) + x * x,
    lambda x: np.exp(x) * -1.0,
], ids=["x*-1", "-1*sin", "multiply", "exp*-1.0"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_times_minus_one_is_a_negation(fn: Callable, dtype: Any) -> None:
    rules = check(fn, real((3, 4), dtype))
    assert rules & {"x * -1 -> -x", "-1 * x -> -x"}


@pytest.mark.parametrize("fn", [
    lambda x: x * -1.0 + 0.5,
    lambda x: -1.0 * x - 0.25,
])
def test_times_minus_one_guard_keeps_the_promoted_dtype(fn: Callable) -> None:
    """int8 times -1.0 is float64: negating the int8 first would wrap -128 to -128."""
    x = np.array([-128, 0, 5, 127, -3], np.int8)
    for compiled in (symgrad.compile(fn), symgrad.compile(fn, passes=())):
        assert_same(compiled(x), fn(x), exact=True)


def test_negated_times_a_strong_constant_keeps_its_dtype() -> None:
    """(-x) * c moves the sign into c only for a weak (Python) c: a float64 0-d c promotes."""
    x = real((5,), np.float32)
    for fn in (lambda x: -x * np.float64(0.1), lambda x: np.float64(0.3) * np.negative(x)):
        assert_same(symgrad.compile(fn)(x), fn(x))
        assert_same(symgrad.compile(fn, passes=())(x), fn(x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_negated_times_a_python_constant(dtype: Any) -> None:
    rules = check(lambda x: -np.sin(x) * 3.0 + (-x) * 0.5, real((3, 4), dtype))
    assert "(-x) * c -> (-c) * x" in rules


def test_a_constant_array_is_not_a_scalar_one() -> None:
    """`x * 1` drops the 1 only for a scalar 1, never for a constant array."""
    w = np.array([[1.0, 2.0, -1.0, 0.0]])
    for fn in (lambda x: x * w, lambda x: w * x + w, lambda x: x * np.ones((3, 4)) * -1,
               lambda x: x / np.full(4, 2.0) - np.zeros(4)):
        check(fn, real((3, 4)))


def test_log_of_one_plus_a_strong_one_keeps_float64() -> None:
    """log(1 + x) -> log1p(x) needs a weak 1: a float64 0-d 1 makes a float32 x float64."""
    x = np.abs(real((6,), np.float32)) + np.float32(1e-3)
    fn = lambda x: np.log(np.float64(1.0) + x)  # noqa: E731
    assert_same(symgrad.compile(fn)(x), fn(x), exact=False)
    rules = check(lambda x: np.log(1 + x * x), real((3, 4)))
    assert "log(1 + x) -> log1p(x)" in rules


# ---------------------------------------------------------------- (c * I) @ y -> c * y

@pytest.mark.parametrize("fn", [
    lambda y: (0.1 * np.eye(3)) @ y,
    lambda y: np.matmul(y.T, np.eye(3) * -2.5),
    lambda y: np.eye(3) @ np.tanh(y) + y,
])
def test_scaled_identity_matmul(fn: Callable) -> None:
    rules = check(fn, real((3, 4)))
    assert "(c * I) @ y -> c * y" in rules


def test_zero_matmul_is_not_zeros() -> None:
    """0 @ y is not folded to zeros: NumPy's is nan in each column of y holding inf or nan."""
    fn = lambda y: np.dot(np.zeros((3, 3)), y) + y  # noqa: E731
    rules = check(fn, real((3, 4)))
    assert "0 @ x, x @ 0 -> 0" not in rules
    y = np.array([[1.0, np.inf, 2.0, 3.0], [np.nan, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(symgrad.compile(fn)(y), fn(y))


def test_scaled_identity_matmul_keeps_a_promoted_dtype() -> None:
    """float64 (c * I) @ float32 y is float64: c * y in float32 would round."""
    y = real((3, 4), np.float32)
    for fn in (lambda y: (0.1 * np.eye(3)) @ y, lambda y: y.T @ (np.eye(3) / 3)):
        assert_same(symgrad.compile(fn)(y), fn(y))


@pytest.mark.parametrize("fn", [
    lambda y: (2 * np.eye(4)) @ y,          # batched y
    lambda y: np.array([[1.0, 0.5], [0.0, 1.0]]) @ y[0, :2],  # not an identity
    lambda y: np.eye(4)[:3] @ y[0],         # not square
])
def test_identity_matmul_guards(fn: Callable) -> None:
    check(fn, real((2, 4, 5)))


def test_matmul_with_an_empty_identity() -> None:
    """A 0x0 constant is a (vacuous) scaled identity: the product is empty and must not crash."""
    x = np.zeros((2, 0))
    for fn in (lambda x: x @ np.eye(0), lambda x: np.sum(np.eye(0) @ x.T, axis=0)):
        assert_same(symgrad.compile(fn)(x), fn(x), exact=True)


# ---------------------------------------------------------------- zeros_like / ones_like

@pytest.mark.parametrize("fn", [
    lambda x: (x + np.ones_like(x)) * 0.1,
    lambda x: (np.zeros_like(x) - x) / 3 + np.ones_like(x) * 0.7,
    lambda x: np.sin(x) * np.ones_like(x) + 1.1,
])
def test_like_constants_keep_the_dtype(fn: Callable) -> None:
    """ones_like(x) of a float32 x is float32: an int64 1 would make the arithmetic float64."""
    x = np.random.default_rng(2).uniform(-2, 2, 200).astype(np.float32)
    no_sympy = symgrad.compile(fn, passes=("fold", "stability", "algebra", "dce"))  # no reassociation
    assert_same(no_sympy(x), fn(x), exact=True)
    assert "zeros_like(x), ones_like(x) -> broadcast_to(0 or 1)" in fired(no_sympy, x)
    check(fn, real((3, 4)))


# ---------------------------------------------------------------- sum(broadcast_to(x))

@pytest.mark.parametrize("fn", [
    lambda x: np.sum(np.broadcast_to(x, (2, 3, 4)), axis=0),
    lambda x: np.broadcast_to(x, (5, 3, 4)).sum(axis=(0, 2), keepdims=True),
    lambda x: np.sum(np.broadcast_to(x[:, :1], (3, 4)), axis=1),
    lambda x: np.sum(np.broadcast_to(x[0, 0], (3, 4))) * x,
    lambda x: np.broadcast_to(x[0, 0], (2, 3)).sum(axis=1, keepdims=True) + x[:2, :1],
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_of_a_broadcast(fn: Callable, dtype: Any) -> None:
    rules = check(fn, real((3, 4), dtype))
    assert "sum(broadcast_to(x)) -> broadcast_to(count * x)" in rules


@pytest.mark.xfail(strict=True, reason="sum of a bool array has dtype bool in the IR (NumPy: int64), "
                   "so sum(broadcast_to(b)) over a unit axis becomes b and b + b a logical or")
def test_sum_of_a_broadcast_bool_counts() -> None:
    def fn(x: Any) -> Any:
        s = np.sum(np.broadcast_to(x > 0, (1, 3)), axis=0)
        return s + s

    x = np.array([-1.0, 0.0, 2.0])
    assert_same(symgrad.compile(fn)(x), fn(x), exact=True)


# ---------------------------------------------------------------- stability

def stable_logsumexp(z: np.ndarray, axis: int = 1) -> np.ndarray:
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def test_logsumexp_shifted_by_another_max_is_still_stabilised() -> None:
    """exp(z - max(w)) overflows when w is not z: only y - max(y) is safe as it is."""
    z = np.array([[1000.0, 1001.0, 0.0], [-3.0, 0.0, 2.0]])
    w = np.zeros((2, 3))

    def fn(z: Any, w: Any) -> Any:
        return np.log(np.sum(np.exp(z - np.max(w, axis=1, keepdims=True)), axis=1, keepdims=True))

    np.testing.assert_allclose(symgrad.compile(fn)(z, w), stable_logsumexp(z), rtol=1e-13)


def test_logsumexp_shifted_by_a_function_of_itself_is_still_stabilised() -> None:
    """y - exp(y) is not y - max(y): its exps underflow for very negative y."""
    y = np.array([[-1000.0, -1001.0], [0.5, -0.5]])

    def fn(y: Any) -> Any:
        return np.log(np.sum(np.exp(y - np.exp(y)), axis=1))

    want = stable_logsumexp(y - np.exp(y))[:, 0]
    np.testing.assert_allclose(symgrad.compile(fn)(y), want, rtol=1e-13)


def rowmax(z: Any) -> Any:
    return np.max(z, axis=1, keepdims=True)


@pytest.mark.parametrize("fn", [
    lambda z: (m := rowmax(z)) + np.log(np.max(np.exp(z - m), axis=1, keepdims=True)),
    lambda z: (m := rowmax(z)) + np.log(np.sum(np.square(z - m), axis=1, keepdims=True)),
    lambda z: z + np.log(np.sum(z * z)),
    lambda z: np.log(np.mean(np.exp(z), axis=1, keepdims=True)) - z,
    lambda z: (z - 1.0) - np.log(np.sum(np.exp(z - np.max(z, axis=1, keepdims=True)), axis=1, keepdims=True)),
    lambda z: (z - np.max(z, axis=1, keepdims=True)) - np.log(np.sum(np.square(z), axis=1, keepdims=True)),
], ids=["log-max-exp", "log-sum-square-shift", "log-sum-square", "log-mean-exp", "other-shift",
        "square-softmax"])
def test_stability_near_misses(fn: Callable) -> None:
    """Programs that look like logsumexp or log_softmax but are not: values kept."""
    check(fn, real((3, 4)))


@pytest.mark.parametrize("keepdims", [True, False])
def test_logsumexp_keepdims(keepdims: bool) -> None:
    rules = check(lambda z: np.log(np.sum(np.exp(z), axis=1, keepdims=keepdims)), real((3, 4)))
    assert "log(sum(exp(y))) -> c + log(sum(exp(y - c))), c = max(y) kept finite" in rules


def test_debug_nans_names_the_line_of_a_stabilised_op() -> None:
    """A rewritten op keeps the user's line, which debug_nans reports."""
    def fn(x: Any) -> Any:
        return np.log(1 + x)  # the line reported

    line = fn.__code__.co_firstlineno + 1
    symgrad.debug_nans(True)
    try:
        with pytest.raises(FloatingPointError, match=rf"test_simplify_codegen\.py:{line}"):
            with np.errstate(invalid="ignore"):
                symgrad.compile(fn)(np.array([-2.0, 0.5]))
    finally:
        symgrad.debug_nans(False)


# ---------------------------------------------------------------- passes

def test_each_rewriting_pass_runs_and_counts_its_rules() -> None:
    fn = lambda x: np.log(1 + x * 1) * -1 + (0 + x)  # noqa: E731
    x = np.abs(real((3, 4)))
    for passes in [("fold",), ("stability",), ("algebra",), ("dce",), ("sympy",), ("contraction",), None]:
        compiled = symgrad.compile(fn, passes=passes)
        assert_same(compiled(x), fn(x))
    stats = symgrad.compile(fn).build(x).stats
    assert [s.name for s in stats] == ["fold", "stability", "algebra", "contraction", "sympy", "algebra",
                                       "dce"]
    assert {"x * 1 -> x", "0 + x -> x", "x * -1 -> -x"} <= set(stats[2].fired)
    assert stats[1].fired == {"log(1 + x) -> log1p(x)": 1}
    assert stats[5].fired == {}


# ---------------------------------------------------------------- codegen: constant outputs

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, np.bool_])
def test_constant_outputs_have_the_right_dtype(dtype: Any) -> None:
    """An output that is a broadcast scalar is made by `np.full`, in the output's dtype."""
    x = (real((3, 4)) > 0).astype(dtype)
    for fn in (np.ones_like, np.zeros_like, lambda x: np.broadcast_to(x[0, 0], x.shape)):
        for compiled in (symgrad.compile(fn), symgrad.compile(fn, passes=())):
            got = compiled(x)
            assert_same(got, fn(x), exact=True)
            got[...] = 0  # a fresh array, not a read-only broadcast
    if dtype in (np.float64, np.float32):
        for c in (2, 2.5, np.float32(0.25), -1):
            grad = symgrad.grad(lambda x, c=c: np.sum(x * c))
            assert_same(grad(x), np.full(x.shape, c, dtype), exact=True)


# ---------------------------------------------------------------- codegen: blocked loops

def test_blocked_rows_wider_than_a_block() -> None:
    """Rows wider than a block: blocked one row at a time, forward and gradient exact."""
    x = real((5, 40000), seed=3)

    def fn(x: Any) -> Any:
        return np.sum(np.tanh(x) * np.exp(-x * x) + np.sin(x) * 0.5)

    grad = symgrad.grad(fn)
    assert "for lo in range(" in grad.source(x)
    np.testing.assert_allclose(grad(x), symgrad.grad(fn, passes=())(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(symgrad.compile(fn)(x), fn(x), rtol=1e-12)


def test_rules_are_counted_each_time_they_fire() -> None:
    x, y = real((3,)), real((3,), seed=4)
    stats = symgrad.compile(lambda x, y: x * 1 + np.sin(y) * 1 + 1 * np.cos(x)).build(x, y).stats
    assert stats[2].fired["x * 1 -> x"] == 2 and stats[2].fired["1 * x -> x"] == 1
    assert all(0 <= s.seconds < 60 for s in stats)


def test_an_unknown_pass_is_named() -> None:
    message = r"^unknown pass 'nope'; the passes are fold, contraction, stability, algebra, sympy, dce$"
    with pytest.raises(ValueError, match=message):
        symgrad.compile(lambda x: x * 2, passes=("fold", "nope", "other"))(np.ones(3))


def test_constant_matmuls_are_folded() -> None:
    w, w2 = np.linspace(0.5, 2, 12).reshape(3, 4), np.linspace(-1, 1, 20).reshape(4, 5)
    rules = check(lambda x: (x @ w) @ w2, real((2, 3)))
    assert "f(constants) -> constant" in rules


@pytest.mark.parametrize("fn", [
    lambda x, y: -2.0 * x + -2.0 * y,
    lambda x, y: 3 * x + -3 * y,
    lambda x, y: -0.5 * np.sin(x) - 0.5 * y,
    lambda x, y: 1.5 * x - 1.5 * np.exp(y),
    lambda x, y: -1.5 * x - -1.5 * y,
])
def test_common_factor(fn: Callable) -> None:
    rules = check(fn, real((3, 4)), real((3, 4), seed=5), argnums=(0, 1))
    assert "c*u + -c*v -> c * (u - v)" in rules


# ---------------------------------------------------------------- codegen: literals and outputs

@pytest.mark.parametrize("fn", [
    lambda x: np.where(x > 0, np.inf, -np.inf) + x,
    lambda x: np.maximum(x, -np.inf) + np.minimum(x, np.inf) * 2,
    lambda x: x + np.nan,
    lambda x: np.where(x >= 0, x, -np.inf),
    lambda x: np.where(x > 0, True, False),
    lambda x: np.where(x > 0, x < 1, True),
    lambda x: x.astype(np.float32) * np.float32(-2.5) + np.float32(0.5),
    lambda x: x.astype(np.int32) * np.int32(-3),
])
@pytest.mark.parametrize("passes", [None, ()], ids=["simplified", "unsimplified"])
def test_special_literals(fn: Callable, passes: tuple | None) -> None:
    """inf, -inf, nan, booleans and typed 0-d constants are printed so that they mean the same."""
    x = real((7,)) * 3
    assert_same(symgrad.compile(fn, passes=passes)(x), fn(x), exact=True)


@pytest.mark.parametrize("fn", [
    lambda x: np.broadcast_to(np.exp(x)[:, None], (3, 4)),
    lambda x: np.broadcast_to(np.exp(x).reshape(3, 1), (3, 4)).T,
    lambda x: np.broadcast_to(np.sin(x), (2, 3)).reshape(6),
])
def test_broadcast_outputs_are_fresh_and_writable(fn: Callable) -> None:
    x = real((3,))
    compiled = symgrad.compile(fn)
    got = compiled(x)
    assert_same(got, fn(x), exact=True)
    got[...] = 7.0  # writable, and shares nothing with the next call
    assert_same(compiled(x), fn(x), exact=True)


# ---------------------------------------------------------------- SymPy pass

@pytest.mark.parametrize("fn", [
    lambda x, y: 1 / (x * y) + np.sin(x),
    lambda x, y: -1 / (x * y) + np.cos(y),
    lambda x, y: -2.0 / (x * x * y) - x / y ** 3,
    lambda x, y: np.sqrt(x * x + 1) / (y * y) - 1 / y,
])
def test_sympy_quotients(fn: Callable) -> None:
    rng = np.random.default_rng(6)
    x, y = (np.where(rng.random((3, 4)) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 2.0, (3, 4)) for _ in range(2))
    check(fn, x, y, argnums=(0, 1))


def nan_line(fn: Callable, *args: np.ndarray) -> str:
    """The line debug_nans reports for `fn(*args)` compiled."""
    symgrad.debug_nans(True)
    try:
        with pytest.raises(FloatingPointError) as info, np.errstate(all="ignore"):
            symgrad.compile(fn)(*args)
    finally:
        symgrad.debug_nans(False)
    return str(info.value)


def test_debug_nans_names_the_line_in_a_simplified_cluster() -> None:
    def fn(x: Any) -> Any:
        y = np.exp(x) * 2
        return np.sqrt(x * x - 2 * x) + y  # the line reported

    line = fn.__code__.co_firstlineno + 2
    assert f"test_simplify_codegen.py:{line}:" in nan_line(fn, np.array([1.0, 3.0]))


def test_debug_nans_names_the_line_of_an_op_after_a_cluster() -> None:
    def fn(x: Any) -> Any:
        y = x * 10.0 + 1
        return np.sum(y)  # the line reported

    line = fn.__code__.co_firstlineno + 2
    assert "op 'sum'" in nan_line(fn, np.array([1e308, -1e308]))
    assert f"test_simplify_codegen.py:{line}:" in nan_line(fn, np.array([1e308, -1e308]))


def test_the_sympy_budget_counts_ops_so_the_code_does_not_depend_on_timing(monkeypatch):
    """Past BUDGET ops, the SymPy pass rebuilds the rest as it was: the same values, and a cut
    at the same op in every process (a time budget made the code depend on SymPy's caches
    being warm)."""
    def chain(x):
        for _ in range(20):
            x = np.sin(np.tanh(x) * 1.01 + 0.1)
        return np.sum(x)

    given, to_sympy = [], sympy_pass._sympy
    monkeypatch.setattr(sympy_pass, "BUDGET", 10)
    monkeypatch.setattr(sympy_pass, "_sympy", lambda *a: given.append(a) or to_sympy(*a))
    x = np.linspace(-1, 1, 7)
    cut = symgrad.grad(chain)(x)
    assert len(given) == 10
    np.testing.assert_allclose(cut, symgrad.grad(chain, passes=())(x), rtol=1e-14)
