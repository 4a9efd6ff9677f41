"""Elementwise math and special functions, on both faces, each written the ways users write it.

For every function: values against NumPy/SciPy (compiled and eager), gradients against central
differences in float64, second derivatives (Hessian against differences of the gradient),
and the eager face against PyTorch (value, gradient, grad_fn name) where PyTorch has it.
Gradient-free functions: zero or no gradient, as PyTorch. Then what is special to some:
tails, NaN handling, array bounds, SciPy optional.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import pytest
from numeric import code_of, differences

import symgrad
from symgrad.ops import kernels


def scipy_special() -> Any:
    return pytest.importorskip("scipy.special")


def sc(name: str) -> Callable[..., Any]:
    """scipy.special.<name>, called on whatever it is given (the case skips without SciPy)."""
    return lambda *xs: getattr(scipy_special(), name)(*xs)


def path(lib: Any, dotted: str) -> Callable[..., Any]:
    """`symgrad.special.expit` or `torch.special.expit` from "special.expit"."""
    for part in dotted.split("."):
        lib = getattr(lib, part)
    return lib


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- the smooth functions

@dataclass(frozen=True)
class Fn:
    """A differentiable elementwise function: its spellings, reference and domain."""

    name: str
    spellings: tuple[Callable[..., Any], ...]  # each works on traced and eager values
    reference: Callable[..., np.ndarray]
    domains: tuple[tuple[float, float], ...]  # one (low, high) per input
    torch: str | None = None  # the torch.* name; symgrad has the same name
    grad_fn: str | None = None
    torch_rtol: float = 1e-12  # PyTorch's own error where it is larger (its trigamma)

    def inputs(self, shape: tuple[int, ...] = (5,)) -> list[np.ndarray]:
        rng = np.random.default_rng(len(self.name))
        return [rng.uniform(lo, hi, shape) for lo, hi in self.domains]


UNIT, REAL, POS = (-0.9, 0.9), (-2.0, 2.0), (0.3, 3.0)
FNS = [
    Fn("sinh", (np.sinh, lambda x: x.sinh(), symgrad.sinh), np.sinh, (REAL,), "sinh", "SinhBackward0"),
    Fn("cosh", (np.cosh, lambda x: x.cosh(), symgrad.cosh), np.cosh, (REAL,), "cosh", "CoshBackward0"),
    Fn("arcsin", (np.arcsin, lambda x: x.asin(), lambda x: x.arcsin(), symgrad.arcsin), np.arcsin, (UNIT,),
       "asin", "AsinBackward0"),
    Fn("arccos", (np.arccos, lambda x: x.acos(), symgrad.arccos), np.arccos, (UNIT,), "acos",
       "AcosBackward0"),
    Fn("arcsinh", (np.arcsinh, lambda x: x.asinh(), symgrad.arcsinh), np.arcsinh, (REAL,), "asinh",
       "AsinhBackward0"),
    Fn("arccosh", (np.arccosh, lambda x: x.arccosh(), symgrad.acosh), np.arccosh, ((1.2, 3.0),), "acosh",
       "AcoshBackward0"),
    Fn("arctanh", (np.arctanh, lambda x: x.atanh(), symgrad.arctanh), np.arctanh, (UNIT,), "atanh",
       "AtanhBackward0"),
    Fn("arctan2", (np.arctan2, lambda x, y: x.atan2(y), lambda x, y: x.arctan2(y), symgrad.atan2), np.arctan2,
       (REAL, POS), "atan2", "Atan2Backward0"),
    Fn("hypot", (np.hypot, lambda x, y: x.hypot(y), symgrad.hypot), np.hypot, (REAL, REAL), "hypot",
       "HypotBackward0"),
    Fn("log2", (np.log2, lambda x: x.log2(), symgrad.log2), np.log2, (POS,), "log2", "Log2Backward0"),
    Fn("log10", (np.log10, lambda x: x.log10(), symgrad.log10), np.log10, (POS,), "log10", "Log10Backward0"),
    Fn("exp2", (np.exp2, lambda x: x.exp2(), symgrad.exp2), np.exp2, (REAL,), "exp2", "Exp2Backward0"),
    Fn("square", (np.square, lambda x: x.square(), symgrad.square), np.square, (REAL,), "square",
       "PowBackward0"),
    Fn("reciprocal", (np.reciprocal, lambda x: x.reciprocal(), symgrad.reciprocal), np.reciprocal, (POS,),
       "reciprocal", "ReciprocalBackward0"),
    Fn("cbrt", (np.cbrt,), np.cbrt, ((0.2, 2.0),)),
    Fn("fmax", (np.fmax, lambda x, y: x.fmax(y), symgrad.fmax), np.fmax, (REAL, REAL), "fmax",
       "FmaxBackward0"),
    Fn("fmin", (np.fmin, lambda x, y: x.fmin(y), symgrad.fmin), np.fmin, (REAL, REAL), "fmin",
       "FminBackward0"),
    Fn("copysign", (np.copysign, lambda x, y: x.copysign(y), symgrad.copysign), np.copysign, (REAL, REAL),
       "copysign", "CopysignBackward0"),
    Fn("expit", (sc("expit"), symgrad.special.expit, lambda x: x.sigmoid()), lambda x: 1 / (1 + np.exp(-x)),
       (REAL,), "special.expit", "SigmoidBackward0"),
    Fn("log_expit", (sc("log_expit"),), lambda x: -np.logaddexp(0, -x), (REAL,)),
    Fn("logit", (sc("logit"), lambda x: x.logit(), symgrad.logit, symgrad.special.logit),
       lambda x: np.log(x / (1 - x)), ((0.05, 0.95),), "special.logit", "LogitBackward0"),
    Fn("erf", (sc("erf"), lambda x: x.erf(), symgrad.special.erf), np.vectorize(math.erf), (REAL,),
       "special.erf", "ErfBackward0"),
    Fn("erfc", (sc("erfc"), lambda x: x.erfc(), symgrad.erfc, symgrad.special.erfc), np.vectorize(math.erfc),
       (REAL,), "special.erfc", "ErfcBackward0"),
    Fn("gammaln", (sc("gammaln"), lambda x: x.lgamma(), symgrad.lgamma, symgrad.special.gammaln),
       np.vectorize(math.lgamma), (POS,), "special.gammaln", "LgammaBackward0"),
    Fn("digamma", (sc("psi"), sc("digamma"), lambda x: x.digamma(), symgrad.digamma, symgrad.special.psi),
       sc("psi"), (POS,), "special.digamma", "DigammaBackward0", torch_rtol=1e-8),
    Fn("ndtr", (sc("ndtr"), symgrad.special.ndtr), lambda x: 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2)),
       (REAL,), "special.ndtr", "MulBackward1"),
    Fn("log_ndtr", (sc("log_ndtr"), symgrad.special.log_ndtr), sc("log_ndtr"), ((-8.0, 3.0),),
       "special.log_ndtr", "SpecialLogNdtrBackward0"),
    Fn("xlogy", (sc("xlogy"), lambda x, y: x.xlogy(y), symgrad.xlogy, symgrad.special.xlogy),
       lambda x, y: x * np.log(y), (REAL, POS), "special.xlogy", "XlogyBackward0"),
    Fn("xlog1py", (sc("xlog1py"), symgrad.special.xlog1py), lambda x, y: x * np.log1p(y), (REAL, (-0.5, 2.0)),
       "special.xlog1py", "SpecialXlog1PyBackward0"),
]
SPELLINGS = [pytest.param(f, s, id=f"{f.name}-{i}") for f in FNS for i, s in enumerate(f.spellings)]
BY_NAME = [pytest.param(f, id=f.name) for f in FNS]


@pytest.mark.parametrize("f, spelling", SPELLINGS)
def test_value_matches_numpy_compiled_and_eager(f: Fn, spelling: Callable) -> None:
    xs = f.inputs((2, 3))
    want = f.reference(*xs)
    np.testing.assert_allclose(symgrad.compile(spelling)(*xs), want, rtol=1e-13, atol=1e-15)
    eager = spelling(*[symgrad.tensor(x, dtype=symgrad.float64) for x in xs])
    np.testing.assert_allclose(eager.numpy(), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("f, spelling", SPELLINGS)
def test_gradient_matches_finite_differences(f: Fn, spelling: Callable) -> None:
    xs = f.inputs()
    ct = np.linspace(-1.0, 1.5, 5)
    loss = lambda *vs: (spelling(*vs) * ct).sum()  # noqa: E731
    argnums = tuple(range(len(xs)))
    got = symgrad.grad(loss, argnums=argnums)(*xs)
    want = differences(lambda *vs: float(np.sum(f.reference(*vs) * ct)), xs, argnums)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    leaves = [symgrad.tensor(x, requires_grad=True) for x in xs]
    loss(*leaves).backward()
    for leaf, g in zip(leaves, got):
        np.testing.assert_allclose(leaf.grad.numpy(), g, rtol=1e-12, atol=1e-13)


def gradient_jacobian_fd(grad: Callable, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of a gradient function: the Hessian, column by column."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = step
        cols.append((np.asarray(grad(x + e)) - np.asarray(grad(x - e))).ravel() / (2 * step))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("f", [p for p in BY_NAME if p.values[0].name not in ("fmax", "fmin", "copysign")])
def test_hessian_matches_differences_of_the_gradient(f: Fn) -> None:
    """Second derivatives: symgrad.hessian against central differences of symgrad.grad, and
    the eager double backward (create_graph) against the same."""
    *others, last = f.inputs((4,))  # of two inputs, the second (xlogy's is the nonlinear one)
    spelling = f.spellings[-1]
    fn = lambda x: spelling(*others, x).sum()  # noqa: E731
    hess = symgrad.hessian(fn)(last)
    want = gradient_jacobian_fd(symgrad.grad(fn), last)
    np.testing.assert_allclose(hess, want, rtol=1e-6, atol=1e-6)
    x = symgrad.tensor(last, requires_grad=True)
    (g,) = symgrad.autograd.grad(fn(x), [x], create_graph=True)
    (gg,) = symgrad.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), np.diag(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("f", [p for p in BY_NAME if p.values[0].torch])
def test_eager_matches_torch(torch: Any, f: Fn) -> None:
    """symgrad.<name> against torch.<name>: value, gradient, grad_fn name."""
    xs = f.inputs()
    ct = np.linspace(-1.0, 1.5, 5)
    ours = [symgrad.tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    out, ref = path(symgrad, f.torch)(*ours), path(torch, f.torch)(*theirs)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == f.grad_fn
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=f.torch_rtol, atol=1e-15)
    (out * symgrad.tensor(ct)).sum().backward()
    (ref * torch.tensor(ct)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=f.torch_rtol, atol=1e-14)


def test_cbrt_and_log_expit_are_numpy_and_scipy_only() -> None:
    """PyTorch has no cbrt and no special.log_expit: neither is in its namespaces."""
    assert not hasattr(symgrad, "cbrt") and not hasattr(symgrad.special, "log_expit")
    assert not hasattr(symgrad.tensor(1.0), "cbrt")


# ---------------------------------------------------------------- names of PyTorch's overloads

def test_overload_names_follow_torch(torch: Any) -> None:
    """A Python scalar operand changes PyTorch's grad_fn class: copysign, xlogy, xlog1py."""
    cases = [
        (lambda m, x, y: m.copysign(x, -1.0), "CopysignBackward1"),
        (lambda m, x, y: m.special.xlogy(x, 2.0), "XlogyBackward2"),
        (lambda m, x, y: m.special.xlog1py(x, 2.0), "SpecialXlog1PyBackward2"),
        (lambda m, x, y: m.round(x, decimals=1), "RoundBackward1"),
        (lambda m, x, y: m.round(x), "RoundBackward0"),
        (lambda m, x, y: m.clamp(x, y, y + 1), "ClampBackward0"),
        (lambda m, x, y: m.clamp(x, 0.1, 0.4), "ClampBackward1"),
        (lambda m, x, y: m.polygamma(2, x), "PolygammaBackward0"),
        (lambda m, x, y: m.nan_to_num(x), "NanToNumBackward0"),
    ]
    x, y = np.array([0.3, 0.5]), np.array([0.7, 0.2])
    for case, name in cases:
        ours = case(symgrad, symgrad.tensor(x, requires_grad=True), symgrad.tensor(y))
        ref = case(torch, torch.tensor(x, requires_grad=True), torch.tensor(y))
        assert ours.grad_fn.name() == type(ref.grad_fn).__name__ == name
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12)


# ---------------------------------------------------------------- gradient-free functions

ROUNDING = [
    pytest.param(np.floor, lambda x: x.floor(), "floor", id="floor"),
    pytest.param(np.ceil, lambda x: x.ceil(), "ceil", id="ceil"),
    pytest.param(np.trunc, lambda x: x.trunc(), "trunc", id="trunc"),
    pytest.param(np.fix, lambda x: x.fix(), "fix", id="fix"),
    pytest.param(np.rint, lambda x: x.round(), "round", id="rint"),
    pytest.param(np.round, lambda x: x.round(), "round", id="round"),
    pytest.param(lambda x: np.around(x, 1), lambda x: x.round(decimals=1),
                 lambda m, x: m.round(x, decimals=1), id="around-1"),
]
GRID = np.array([-2.5, -1.5, -0.7, -0.5, 0.0, 0.5, 1.25, 1.5, 2.5, 3.14159])


@pytest.mark.parametrize("np_fn, method, name", ROUNDING)
def test_rounding_values_and_zero_gradient(np_fn: Callable, method: Callable, name: Any) -> None:
    want = np_fn(GRID)
    torch_name = name if callable(name) else (lambda m, x, _n=name: getattr(m, _n)(x))
    for spelling in (np_fn, method, lambda x: torch_name(symgrad, x)):
        np.testing.assert_array_equal(symgrad.compile(spelling)(GRID), want)
        np.testing.assert_array_equal(spelling(symgrad.tensor(GRID)).numpy(), want)
        grad = symgrad.grad(lambda x, s=spelling: (s(x) * x).sum())(GRID)
        np.testing.assert_array_equal(grad, want)  # d(f(x) * x) = f(x): none through f
        np.testing.assert_array_equal(symgrad.grad(lambda x, s=spelling: s(x).sum())(GRID), 0 * GRID)


@pytest.mark.parametrize("np_fn, method, name", ROUNDING)
def test_rounding_matches_torch(torch: Any, np_fn: Callable, method: Callable, name: Any) -> None:
    """PyTorch's rounding results require grad and give zero gradients (FloorBackward0...)."""
    torch_name = name if callable(name) else (lambda m, x, _n=name: getattr(m, _n)(x))
    ours, theirs = symgrad.tensor(GRID, requires_grad=True), torch.tensor(GRID, requires_grad=True)
    a, b = torch_name(symgrad, ours), torch_name(torch, theirs)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert a.grad_fn.name() == type(b.grad_fn).__name__
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0])
PREDICATES = [
    pytest.param(np.isnan, lambda x: x.isnan(), "isnan", id="isnan"),
    pytest.param(np.isinf, lambda x: x.isinf(), "isinf", id="isinf"),
    pytest.param(np.isfinite, lambda x: x.isfinite(), "isfinite", id="isfinite"),
    pytest.param(np.signbit, lambda x: x.signbit(), "signbit", id="signbit"),
    pytest.param(np.logical_not, lambda x: x.logical_not(), "logical_not", id="logical_not"),
]


@pytest.mark.parametrize("np_fn, method, name", PREDICATES)
def test_predicates_are_boolean_without_gradient(torch: Any, np_fn: Callable, method: Callable,
                                                 name: str) -> None:
    want = np_fn(SPECIALS)
    for spelling in (np_fn, method, getattr(symgrad, name)):
        got = symgrad.compile(spelling)(SPECIALS)
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, want)
    out = getattr(symgrad, name)(symgrad.tensor(SPECIALS, requires_grad=True))
    ref = getattr(torch, name)(torch.tensor(SPECIALS, requires_grad=True))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert (out.requires_grad, out.grad_fn) == (ref.requires_grad, ref.grad_fn) == (False, None)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(torch: Any, name: str) -> None:
    x, y = np.array([0.0, 0.0, 1.0, -2.0]), np.array([0.0, 3.0, 0.0, 0.5])
    want = getattr(np, name)(x, y)
    for spelling in (getattr(np, name), lambda a, b: getattr(a, name)(b), getattr(symgrad, name)):
        np.testing.assert_array_equal(symgrad.compile(spelling)(x, y), want)
    out = getattr(symgrad, name)(symgrad.tensor(x, requires_grad=True), symgrad.tensor(y))
    ref = getattr(torch, name)(torch.tensor(x, requires_grad=True), torch.tensor(y))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert not out.requires_grad and not ref.requires_grad


def test_heaviside_values_and_zero_gradient(torch: Any) -> None:
    """Values as NumPy and PyTorch; PyTorch's backward raises (not implemented), symgrad's
    gradient is zero, as for sign."""
    x, h = np.array([-1.0, 0.0, 2.0, 0.0]), np.array([0.5, 0.5, 0.5, 1.0])
    want = np.heaviside(x, h)
    for spelling in (np.heaviside, lambda a, b: a.heaviside(b), symgrad.heaviside):
        np.testing.assert_array_equal(symgrad.compile(spelling)(x, h), want)
    np.testing.assert_array_equal(torch.heaviside(torch.tensor(x), torch.tensor(h)).numpy(), want)
    gx, gh = symgrad.grad(lambda a, b: np.heaviside(a, b).sum(), argnums=(0, 1))(x, h)
    assert not gx.any() and not gh.any()


# ---------------------------------------------------------------- NaN, infinities and bounds

def test_fmax_fmin_ignore_nan_and_route_the_gradient_as_torch(torch: Any) -> None:
    x = np.array([1.0, np.nan, 2.0, np.nan, 0.5, 3.0])
    y = np.array([np.nan, 1.0, 1.0, np.nan, 0.5, 4.0])
    for name in ("fmax", "fmin"):
        np.testing.assert_array_equal(symgrad.compile(getattr(np, name))(x, y), getattr(np, name)(x, y))
        ours = [symgrad.tensor(v, requires_grad=True) for v in (x, y)]
        theirs = [torch.tensor(v, requires_grad=True) for v in (x, y)]
        getattr(symgrad, name)(*ours).sum().backward()
        getattr(torch, name)(*theirs).sum().backward()
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
        compiled = symgrad.grad(lambda a, b, n=name: getattr(np, n)(a, b).sum(), argnums=(0, 1))(x, y)
        for c, b in zip(compiled, theirs):
            np.testing.assert_array_equal(c, b.grad.numpy())


def test_copysign_gradient_is_zero_at_zero_magnitude(torch: Any) -> None:
    x, y = np.array([0.0, -0.0, 2.0, -3.0]), np.array([-1.0, 1.0, -1.0, 2.0])
    gx, gy = symgrad.grad(lambda a, b: np.copysign(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [0.0, 0.0, -1.0, -1.0])
    np.testing.assert_array_equal(gy, np.zeros(4))
    t = torch.tensor(x, requires_grad=True)
    torch.copysign(t, torch.tensor(y)).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), gx)


@pytest.mark.parametrize("kw", [{}, {"nan": 0.5, "posinf": 3.0, "neginf": -3.0}, {"posinf": np.inf},
                                {"nan": -1.0, "neginf": -np.inf}])
def test_nan_to_num(torch: Any, kw: dict) -> None:
    """Values as NumPy for every spelling (the generated code prints float('inf') when asked to
    keep an infinity), and the gradient passes where the input is finite, as PyTorch."""
    x = SPECIALS
    want = np.nan_to_num(x, **kw)
    for spelling in (lambda a: np.nan_to_num(a, **kw), lambda a: a.nan_to_num(**kw),
                     lambda a: symgrad.nan_to_num(a, **kw)):
        np.testing.assert_array_equal(symgrad.compile(spelling)(x), want)
    grad = symgrad.grad(lambda a: np.nan_to_num(a, **kw).sum())(x)
    np.testing.assert_array_equal(grad, np.isfinite(x).astype(float))
    ours, theirs = symgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    symgrad.nan_to_num(ours, **kw).sum().backward()
    torch.nan_to_num(theirs, **kw).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


LO, HI = np.array([-1.0, 0.0, 0.5, -2.0, 1.0]), np.array([1.0, 0.5, 2.0, -1.0, 0.5])
X = np.array([0.3, -0.4, 2.7, 0.1, np.nan])  # inside, below, above, above; NaN stays; last: lo > hi


def test_clip_with_array_bounds_values() -> None:
    want = np.clip(X, LO, HI)
    for spelling in (np.clip, lambda x, lo, hi: np.clip(x, min=lo, max=hi), lambda x, lo, hi: x.clip(lo, hi),
                     lambda x, lo, hi: x.clamp(lo, hi), symgrad.clamp, symgrad.clip):
        np.testing.assert_array_equal(symgrad.compile(spelling)(X, LO, HI), want)
        eager = spelling(*(symgrad.tensor(v) for v in (X, LO, HI)))
        np.testing.assert_array_equal(eager.numpy(), want)
    # a plain array clipped by traced bounds
    np.testing.assert_array_equal(symgrad.compile(lambda lo: np.clip(X, lo, HI))(LO), want)
    np.testing.assert_array_equal(symgrad.compile(lambda x: np.clip(x, 2.0, 1.0))(X[:4]), np.full(4, 1.0))


def test_clip_with_array_bounds_gradients(torch: Any) -> None:
    x = X[:4]
    ct = np.array([1.0, 2.0, 3.0, 4.0])
    loss = lambda a, lo, hi: (np.clip(a, lo, hi) * ct).sum()  # noqa: E731
    got = symgrad.grad(loss, argnums=(0, 1, 2))(x, LO[:4], HI[:4])
    want = differences(lambda *vs: float((np.clip(*vs) * ct).sum()), [x, LO[:4], HI[:4]], (0, 1, 2))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    ours = [symgrad.tensor(v, requires_grad=True) for v in (x, LO[:4], HI[:4])]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, LO[:4], HI[:4])]
    a, b = symgrad.clamp(*ours), torch.clamp(*theirs)
    assert a.grad_fn.name() == type(b.grad_fn).__name__ == "ClampBackward0"
    (a * symgrad.tensor(ct)).sum().backward()
    (b * torch.tensor(ct)).sum().backward()
    for o, t, g in zip(ours, theirs, got):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
        np.testing.assert_array_equal(g, t.grad.numpy())


def test_clamp_keeps_nan_and_gives_max_when_bounds_cross(torch: Any) -> None:
    x = np.array([np.nan, -5.0, 0.5, 5.0])
    for lo, hi in [(0.0, 1.0), (2.0, 1.0)]:
        got = symgrad.clamp(symgrad.tensor(x), lo, hi).numpy()
        np.testing.assert_array_equal(got, torch.clamp(torch.tensor(x), lo, hi).numpy())
        np.testing.assert_array_equal(got, np.clip(x, lo, hi))


# ---------------------------------------------------------------- tails and conventions

def test_log_ndtr_in_the_lower_tail() -> None:
    """log_ndtr(-40) = -804.608..., where log(ndtr) is -inf; its gradient pdf/cdf stays finite."""
    x = np.array([-40.0, -20.0, -5.0, 0.0, 5.0, 40.0])
    value, grad = symgrad.value_and_grad(lambda v: symgrad.special.log_ndtr(v).sum())(x)
    eager = symgrad.special.log_ndtr(symgrad.tensor(x)).numpy()
    np.testing.assert_allclose(eager[0], -804.6084420137539, rtol=1e-14)
    pdf_over_cdf = [float(mpmath.npdf(v) / mpmath.ncdf(v)) for v in x]
    np.testing.assert_allclose(grad, pdf_over_cdf, rtol=1e-12)  # exp(-x**2/2 - ans): ans ~ 800 to 1e-16
    assert np.isfinite(grad).all() and np.isfinite(value)
    assert grad[-1] == 0.0 and eager[-1] == 0.0


def test_log_expit_far_below_zero() -> None:
    special = scipy_special()
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    value = symgrad.compile(special.log_expit)(x)
    np.testing.assert_allclose(value, special.log_expit(x), rtol=1e-15)
    np.testing.assert_allclose(symgrad.grad(lambda v: special.log_expit(v).sum())(x), special.expit(-x),
                               rtol=1e-14)


def test_xlogy_at_zero_is_zero_with_finite_gradient() -> None:
    """xlogy(0, 0) = 0 and xlog1py(0, -1) = 0; the gradients there are 0, never nan."""
    for fn, y0 in [(symgrad.special.xlogy, 0.0), (symgrad.special.xlog1py, -1.0)]:
        x, y = np.array([0.0, 0.0, 2.0]), np.array([y0, 3.0, 3.0])
        assert symgrad.compile(fn)(x, y)[0] == 0.0
        gx, gy = symgrad.grad(lambda a, b, f=fn: f(a, b).sum(), argnums=(0, 1))(x, y)
        assert np.isfinite(gx).all() and np.isfinite(gy).all()
        assert gx[0] == gx[1] == 0.0 and gy[0] == gy[1] == 0.0
        a, b = symgrad.tensor(x, requires_grad=True), symgrad.tensor(y, requires_grad=True)
        fn(a, b).sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), gx)
        np.testing.assert_array_equal(b.grad.numpy(), gy)
    nan = symgrad.special.xlogy(symgrad.tensor([0.0]), symgrad.tensor([np.nan])).numpy()
    assert np.isnan(nan).all()  # 0 * log(nan) is nan, as SciPy and PyTorch


def test_logit_with_eps_matches_torch(torch: Any) -> None:
    x = np.array([0.0, 0.05, 0.3, 0.9, 1.0])
    ours, theirs = symgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = ours.logit(eps=0.1), torch.logit(theirs, eps=0.1)
    assert a.grad_fn.name() == type(b.grad_fn).__name__ == "LogitBackward0"
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-14)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)


# ---------------------------------------------------------------- polygamma

@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_polygamma_values_and_derivatives(n: int) -> None:
    x = np.array([0.4, 1.0, 2.5, 7.0])
    want = scipy_special().polygamma(n, x)
    for spelling in (lambda v: v.polygamma(n), lambda v: symgrad.polygamma(n, v),
                     lambda v: symgrad.special.polygamma(n, v)):
        np.testing.assert_allclose(symgrad.compile(spelling)(x), want, rtol=1e-13)
    grad = symgrad.grad(lambda v: symgrad.polygamma(n, v).sum())
    np.testing.assert_allclose(grad(x), scipy_special().polygamma(n + 1, x), rtol=1e-13)
    hess = symgrad.hessian(lambda v: symgrad.polygamma(n, v).sum())(x)
    np.testing.assert_allclose(hess, gradient_jacobian_fd(grad, x), rtol=1e-6)
    np.testing.assert_allclose(np.diag(hess), scipy_special().polygamma(n + 2, x), rtol=1e-13)


def test_third_derivative_of_gammaln_eagerly() -> None:
    x = symgrad.tensor([0.7, 3.0], dtype=symgrad.float64, requires_grad=True)
    g = x
    out = x.lgamma().sum()
    for _ in range(3):
        (g,) = symgrad.autograd.grad(out, [x], create_graph=True)
        out = g.sum()
    np.testing.assert_allclose(g.detach().numpy(), kernels.polygamma(2, np.array([0.7, 3.0])), rtol=1e-13)


def test_polygamma_rejects_negative_order() -> None:
    with pytest.raises(RuntimeError, match="does not support negative n"):
        symgrad.polygamma(-1, symgrad.tensor([1.0]))


# ---------------------------------------------------------------- batching and generated code

def test_jacobians_batch_through_the_new_ops() -> None:
    x = np.array([0.3, 0.8, 1.7])

    def fn(v: Any) -> Any:
        return (np.hypot(v, 2 * v) + np.arctan2(v, 1.5) + symgrad.polygamma(1, v) + np.cbrt(v)
                + symgrad.special.xlogy(v, v + 1) + np.nan_to_num(v, nan=0.0) + np.round(v, 1) * v)

    jac = symgrad.jacobian(fn)(x)
    value, step = symgrad.compile(fn), 1e-6
    want = np.stack([(value(x + step * e) - value(x - step * e)) / (2 * step) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(jac, want, rtol=1e-6, atol=1e-6)


def test_generated_code_calls_numpy_and_the_kernels() -> None:
    x = np.array([0.3, 0.8])
    source = symgrad.compile(lambda v: np.log2(v) + np.sinh(v) + symgrad.special.gammaln(v)
                             + symgrad.special.log_ndtr(v)).source(x)
    for call in ("log2(", "sinh(", "lgamma(", "log_ndtr("):
        assert call in source


def test_the_sympy_pass_sees_through_binary_functions() -> None:
    """atan2, hypot, xlogy have SymPy forms of two arguments: like terms in them merge (but do
    not cancel: NumPy's h - h is nan at inf), and they are rebuilt as the same ops."""
    x, y = np.array([0.3, 0.8]), np.array([1.5, 0.2])
    merge = symgrad.compile(lambda a, b: np.hypot(a, b) * 2 + np.hypot(a, b) + a)
    assert code_of(merge.source(x, y)).count("hypot(") == 1
    np.testing.assert_allclose(merge(x, y), 3 * np.hypot(x, y) + x, rtol=1e-15)
    cancel = lambda a, b: np.hypot(a, b) * 2 - np.hypot(a, b) - np.hypot(a, b) + a  # noqa: E731
    x_inf = np.array([np.inf, 0.8])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(symgrad.compile(cancel)(x_inf, y), cancel(x_inf, y))
    fused = symgrad.compile(lambda a, b: np.arctan2(a, b) * 2 + symgrad.xlogy(a, b) + np.arctan2(a, b))
    source = code_of(fused.source(x, y))
    assert source.count("arctan2(") == 1 and "xlogy(" in source
    np.testing.assert_allclose(fused(x, y), 3 * np.arctan2(x, y) + x * np.log(y), rtol=1e-15)


# ---------------------------------------------------------------- SciPy is optional

def test_scipy_ufunc_without_a_symgrad_op_is_a_clear_error() -> None:
    special = scipy_special()
    with pytest.raises(TypeError, match=r"scipy\.special\.dawsn\b.*no registered symgrad op"):
        symgrad.compile(special.dawsn)(np.array([1.5]))


def test_scipy_ufunc_on_an_eager_tensor_records_the_op() -> None:
    special = scipy_special()
    t = symgrad.tensor([0.5, 1.5], dtype=symgrad.float64, requires_grad=True)
    out = special.gammaln(t)
    assert out.grad_fn.name() == "LgammaBackward0"
    out.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), special.psi([0.5, 1.5]), rtol=1e-14)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "log_ndtr"])
def test_kernels_without_scipy_match_scipy(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    special = scipy_special()
    x = np.concatenate([np.linspace(-30.3, 30.3, 301), [-60.0, -20.5, -19.5, 1e-3, 0.5, 1e3, 1e8]])
    if name == "log_ndtr":
        x = np.concatenate([x, [-1e5, -40.0, 40.0]])
    want = {"lgamma": special.gammaln, "digamma": special.psi, "log_ndtr": special.log_ndtr}[name](x)
    monkeypatch.setattr(kernels, "_scipy", lambda name: None)
    np.testing.assert_allclose(getattr(kernels, name)(x), want, rtol=2e-13, atol=1e-300)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_kernel_without_scipy_matches_scipy(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Below 0 too, for small n (for large n both lose digits to cancellation between poles)."""
    special = scipy_special()
    x = np.concatenate([np.linspace(-9.7 if n <= 3 else 0.05, 30.3, 201), [1e-3, 0.5, 1e3]])
    want = special.polygamma(n, x)
    monkeypatch.setattr(kernels, "_scipy", lambda name: None)
    np.testing.assert_allclose(kernels.polygamma(n, x), want, rtol=1e-12)


def test_symgrad_works_without_scipy() -> None:
    """With SciPy made unimportable: symgrad imports, never loads it, and its special
    functions compute (against mpmath's values)."""
    script = textwrap.dedent("""
        import sys
        sys.modules["scipy"] = None  # import scipy -> ImportError
        import mpmath
        import numpy as np
        import symgrad
        x = np.array([-2.5, 0.3, 4.0])
        for fn, exact in [(symgrad.special.gammaln, lambda v: mpmath.log(abs(mpmath.gamma(v)))),
                          (symgrad.special.digamma, mpmath.digamma),
                          (symgrad.special.log_ndtr, lambda v: mpmath.log(mpmath.ncdf(v))),
                          (lambda v: symgrad.special.polygamma(2, v), lambda v: mpmath.psi(2, v))]:
            got = symgrad.compile(fn)(x)
            want = np.array([float(exact(v)) for v in x])
            np.testing.assert_allclose(got, want, rtol=1e-13)
        grad = symgrad.grad(lambda v: symgrad.special.gammaln(v).sum())(x)
        np.testing.assert_allclose(grad, [float(mpmath.digamma(v)) for v in x], rtol=1e-13)
        assert "scipy.special" not in sys.modules
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_importing_symgrad_does_not_import_scipy() -> None:
    run = subprocess.run([sys.executable, "-c", "import sys, symgrad; print('scipy' in sys.modules)"],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "False", run.stderr
