"""Compiled NumPy functions on inputs holding nan, +inf and -inf give NumPy's values (issue 12:
NaN in, NaN out; no wrong value comes back silently).

The simplifier's rewrites must keep IEEE semantics: `x - x`, `x / x` and `0 * x` are nan where x
is inf or nan, and a diagonal written by multiplying with an identity would be nan off the
diagonal. Each NumPy function the compiled face binds is checked against NumPy itself, and the
cases the fuzzer found (np.diag, np.corrcoef, np.var / np.std) in several spellings.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fuzz_inputs import numpy_entry_points

import symgrad

NAN, INF = np.nan, np.inf
VECTOR = np.array([NAN, 1.0, INF, -INF, 2.0])
MATRIX = np.array([[1.0, INF, 2.0], [NAN, 3.0, -1.0], [0.5, -INF, 4.0]])
INPUTS = {"vector": VECTOR, "inf": np.array(INF), "nan": np.array(NAN), "-inf": np.array(-INF),
          "matrix": MATRIX}

# (function, input) pairs where the compiled call refuses what NumPy accepts, for reasons
# that are not about non-finite values; each still must raise a public error
REFUSED = {
    ("numpy.argsort", "inf"), ("numpy.argsort", "nan"), ("numpy.argsort", "-inf"),  # 0-d: AxisError
    *((f"numpy.{n}", k) for n in ("cumulative_sum", "cumulative_prod") for k in ("inf", "nan", "-inf")),
    *(("numpy.where", k) for k in INPUTS),  # one argument: data-dependent shape
    *(("numpy.result_type", k) for k in INPUTS),  # a dtype, not a value
}
# (function, input) pairs whose compiled value differs from NumPy's, not from the simplifier:
# np.linalg.cond of a matrix holding inf is nan (NumPy's is inf)
WRONG = {("numpy.linalg.cond", "matrix")}
SKIP = {"numpy.empty", "numpy.empty_like"}  # uninitialised values


def assert_same(got: Any, want: Any, what: str) -> None:
    """got equals want: the same shape, nan and +-inf in the same places, finite values
    equal to rounding."""
    if isinstance(want, tuple | list):
        assert isinstance(got, tuple | list) and len(got) == len(want), f"{what}: {got!r} vs {want!r}"
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{what}[{k}]")
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy {want.shape}"
    if want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: nan positions")
    np.testing.assert_array_equal(np.where(np.isinf(got), got, 0), np.where(np.isinf(want), want, 0),
                                  err_msg=f"{what}: inf positions")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=what)


def compiled_and_numpy(fn: Callable, *args: np.ndarray) -> tuple[Any, Any]:
    """(the compiled fn's value, NumPy's value) at args, NumPy's warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            want = fn(*(np.array(a) for a in args))
            got = symgrad.compile(fn)(*args)
    return got, want


ENTRY_POINTS = [(name, fn) for name, fn in numpy_entry_points() if name not in SKIP]


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize(("name", "fn"), ENTRY_POINTS, ids=[n for n, _ in ENTRY_POINTS])
def test_numpy_function_on_nonfinite_input(name: str, fn: Callable, kind: str) -> None:
    """Each bound NumPy function of one array with nan and +-inf in it: NumPy's value."""
    a = INPUTS[kind]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            want = fn(np.array(a))
    except Exception:  # noqa: BLE001 - NumPy refuses: test_fuzz checks that symgrad refuses too
        return
    if not isinstance(want, np.ndarray | np.generic | float | int | tuple | list):
        return
    call = symgrad.compile(lambda x: fn(x))
    if (name, kind) in REFUSED:
        with pytest.raises((TypeError, ValueError, RuntimeError, IndexError)):
            call(a)
        return
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = call(a)
    if (name, kind) in WRONG:
        with pytest.raises(AssertionError):
            assert_same(got, want, name)
        return
    assert_same(got, want, f"{name}({kind})")


DIAG = {
    "np.diag(v)": (np.diag, VECTOR),
    "np.diag(v, 1)": (lambda v: np.diag(v, 1), VECTOR),
    "np.diag(v, -2) * 2": (lambda v: np.diag(v, -2) * 2.0, VECTOR),
    "np.diag(np.diag(M))": (lambda m: np.diag(np.diag(m)), MATRIX),
    "np.diag(2 * v) + 1": (lambda v: np.diag(2.0 * v) + 1.0, VECTOR),
    "v[:, None] * np.eye(n)": (lambda v: v[:, None] * np.eye(5), VECTOR),
    "symgrad.diag(v)": (lambda v: symgrad.diag(v) if not isinstance(v, np.ndarray) else np.diag(v), VECTOR),
}
CORRCOEF = {
    "corrcoef(0-d)": (np.corrcoef, np.array(3.0)),
    "corrcoef(inf)": (np.corrcoef, np.array(INF)),
    "corrcoef([x])": (np.corrcoef, np.array([5.0])),
    "corrcoef(v)": (np.corrcoef, VECTOR),
    "corrcoef(M)": (np.corrcoef, MATRIX),
    "corrcoef(M, rowvar=False)": (lambda m: np.corrcoef(m, rowvar=False), MATRIX),
    "corrcoef(x, 2x)": (lambda x: np.corrcoef(x, 2.0 * x), np.array([1.0, 2.0, INF])),
}
VARIANCE = {
    "var(inf)": (np.var, np.array(INF)),
    "var([inf])": (np.var, np.array([INF])),
    "var(nan)": (np.var, np.array(NAN)),
    "var(M[:1], axis=0)": (lambda m: np.var(m, axis=0), MATRIX[:1]),
    "x.var()": (lambda x: x.var(), np.array(-INF)),
    "var(ddof=1)": (lambda x: np.var(x, ddof=1), np.array([INF, 1.0])),
    "std(inf)": (np.std, np.array(INF)),
    "std(M[:, :1], axis=1)": (lambda m: np.std(m, axis=1, keepdims=True), MATRIX[:, :1]),
    "std(M, 0)": (lambda m: np.std(m, 0), MATRIX),
    "nanstd([inf, nan])": (np.nanstd, np.array([INF, NAN])),
    "x - mean(x)": (lambda x: x - np.mean(x), np.array([INF])),
    "cov([inf, 1])": (np.cov, np.array([INF, 1.0])),
}


@pytest.mark.parametrize("spelling", [*DIAG, *CORRCOEF, *VARIANCE])
def test_found_by_the_fuzzer(spelling: str) -> None:
    """diag (was x[:, None] * eye: nan off the diagonal), corrcoef of one value (was 1.0:
    x / x -> 1) and var / std of one value (was 0.0: x - mean(x) -> 0)."""
    fn, a = {**DIAG, **CORRCOEF, **VARIANCE}[spelling]
    got, want = compiled_and_numpy(fn, a)
    assert_same(got, want, spelling)


CANCELLING = {
    "x - x": lambda x, y: x - x,
    "x / x": lambda x, y: x / x,
    "x * y / y": lambda x, y: x * y / y,
    "x + y - y": lambda x, y: x + y - y,
    "2 * x - x": lambda x, y: 2.0 * x - x,
    "x * x / x": lambda x, y: x * x / x,
    "sqrt(x) ** 2": lambda x, y: np.sqrt(x) ** 2,
    "exp(log(x))": lambda x, y: np.exp(np.log(x)),
    "0 * x": lambda x, y: 0.0 * x,
    "zeros * x": lambda x, y: np.zeros(7) * x,
    "0 / x": lambda x, y: 0.0 / x,
    "sum(x * 0)": lambda x, y: np.sum(x * 0.0),
    "sin(0 * x)": lambda x, y: np.sin(0.0 * x),
    "zeros @ x": lambda x, y: np.zeros((3, 7)) @ x,
    "x @ zeros": lambda x, y: x @ np.zeros((7, 3)),
    "tensordot(0, x)": lambda x, y: np.tensordot(np.zeros(7), x, 1),
    "x*y - y*x + x": lambda x, y: x * y - y * x + x,
    "sum of an empty broadcast": lambda x, y: np.sum(np.broadcast_to(x[:1], (0, 1)), 0),
}


@pytest.mark.parametrize("spelling", CANCELLING)
def test_cancelling_rewrites_keep_nan(spelling: str) -> None:
    """Rewrites that hold for finite numbers only (SymPy's x - x -> 0, x*y/y -> x; 0 * x -> 0)
    do not fire where they would turn NumPy's nan or inf into a number."""
    x = np.array([NAN, 1.0, INF, -INF, 2.0, 0.0, -1.0])
    y = np.array([1.0, INF, 2.0, 0.0, NAN, -INF, 3.0])
    got, want = compiled_and_numpy(CANCELLING[spelling], x, y)
    assert_same(got, want, spelling)


def test_like_terms_still_merge() -> None:
    """Merges that keep nan and inf where they were still happen: 3x*x + 2x*x is one product."""
    fn = lambda x: x * x * 3.0 + 2.0 * x * x  # noqa: E731
    listing = str(symgrad.compile(fn).graph(VECTOR))
    assert " add " not in listing, listing
    got, want = compiled_and_numpy(fn, VECTOR)
    assert_same(got, want, "like terms")
