"""NumPy's signal and numerical-analysis functions on symgrad values (symgrad/surface/signal.py):
convolve, correlate, interp, searchsorted, trapezoid, gradient, sinc, logaddexp2, select,
piecewise, the polynomial helpers, bincount, ufunc.outer and add.at.

Each row is code written once over a namespace `m` (NumPy for symgrad, `jax.numpy` for JAX),
as users would spell it (keywords, positional modes, negative axes, one operand constant).
It runs through NumPy, compiled and eagerly on Tensors; its gradient (of sum(f(x) * ct)) is
checked against central finite differences, the eager tape, JAX's when installed, and a
Jacobian from one batched reverse pass. Then second order, realistic programs written three
ways, and bad input.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numeric import difference_columns, differences

import symgrad
from symgrad.autodiff import batching as autodiff_batching

FD = {"rtol": 1e-6, "atol": 1e-7}
EXACT = {"rtol": 1e-12, "atol": 1e-12}
RNG = np.random.default_rng(3)
A = RNG.normal(size=9)
K = RNG.normal(size=4)
M = RNG.normal(size=(4, 6))
XP = np.sort(RNG.uniform(-2.0, 2.0, 7))
FP = RNG.normal(size=7)
# points inside, outside on both sides, and never at a knot (where interp has a kink)
X = np.concatenate([RNG.uniform(-1.9, 1.9, 8), [-2.7, 2.9]])
X = X[np.all(np.abs(X[:, None] - XP) > 1e-3, axis=1)]
COORDS = np.cumsum(RNG.uniform(0.3, 1.0, 6))
INDEX = np.array([0, 2, 2, 5, 0, 5])


# ---------------------------------------------------------------- rows: (id, fn(m, *arrays), arrays)

def _conv(name: str, mode: str):
    return lambda m, a, v: getattr(m, name)(a, v, mode)


ROWS = [
    # convolve and correlate: both operands traced, each mode, either operand longer
    *[(f"{name}-{mode}-{'long-short' if first is A else 'short-long'}", _conv(name, mode), (first, second))
      for name in ("convolve", "correlate") for mode in ("full", "same", "valid")
      for first, second in ((A, K), (K, A))],
    ("convolve-default", lambda m, a, v: m.convolve(a, v), (A, K)),
    ("convolve-mode-keyword", lambda m, a, v: m.convolve(a, v=v, mode="same"), (A, K[:3])),
    ("correlate-default", lambda m, a, v: m.correlate(a, v), (A, K)),
    ("correlate-same-even", lambda m, a, v: m.correlate(a, v, mode="same"), (A[:6], K)),
    ("convolve-equal-lengths", lambda m, a, v: m.convolve(a, v, "same"), (A[:4], K)),
    ("convolve-constant-kernel", lambda m, a: m.convolve(a, m.asarray(K), "same"), (A,)),
    ("correlate-constant-signal", lambda m, v: m.correlate(m.asarray(A), v, "full"), (K,)),
    ("convolve-one-element", lambda m, a, v: m.convolve(a, v), (A, K[:1])),
    # interp: traced points, values, knots; left/right; period
    ("interp-x", lambda m, x: m.interp(x, m.asarray(XP), m.asarray(FP)), (X,)),
    ("interp-fp", lambda m, fp: m.interp(m.asarray(X), m.asarray(XP), fp), (FP,)),
    ("interp-all", lambda m, x, xp, fp: m.interp(x, xp, fp), (X, XP, FP)),
    ("interp-left-right", lambda m, x, fp: m.interp(x, m.asarray(XP), fp, left=-3.0, right=fp[0]), (X, FP)),
    ("interp-left-only", lambda m, x, xp, fp: m.interp(x, xp, fp, -1.5), (X, XP, FP)),
    ("interp-period", lambda m, x, fp: m.interp(x, m.asarray(XP), fp, period=5.0), (X, FP)),
    ("interp-2d-points", lambda m, x, fp: m.interp(x.reshape(2, -1), m.asarray(XP), fp), (X, FP)),
    # trapezoid
    ("trapezoid", lambda m, y: m.trapezoid(y), (M,)),
    ("trapezoid-dx-axis0", lambda m, y: m.trapezoid(y, dx=0.25, axis=0), (M,)),
    ("trapezoid-x", lambda m, y, x: m.trapezoid(y, x), (M, COORDS)),
    ("trapezoid-x-2d", lambda m, y, x: m.trapezoid(y, x=x * x, axis=-1), (M, M)),
    # gradient
    ("gradient-1d", lambda m, f: m.gradient(f), (A,)),
    ("gradient-spacing", lambda m, f: m.gradient(f, 0.5, axis=-1), (M,)),
    ("gradient-coords", lambda m, f, x: m.gradient(f, x, axis=1), (M, COORDS)),
    ("gradient-const-coords", lambda m, f: m.gradient(f, m.asarray(COORDS), axis=1), (M,)),
    ("gradient-even-coords", lambda m, f: m.gradient(f, m.arange(6.0) * 0.5, axis=1), (M,)),
    ("gradient-every-axis", lambda m, f: m.stack(m.gradient(f, 2.0, 0.5)), (M,)),
    ("gradient-2d-axis-none", lambda m, f: m.stack(m.gradient(f)), (M,)),
    ("gradient-edge2", lambda m, f: m.gradient(f, edge_order=2), (A,)),
    ("gradient-edge2-coords", lambda m, f, x: m.gradient(f, x, axis=-1, edge_order=2), (M, COORDS)),
    ("gradient-edge2-axes", lambda m, f: m.stack(m.gradient(f, 1.5, COORDS[:6], edge_order=2)), (M,)),
    # elementwise
    ("sinc", lambda m, x: m.sinc(x), (np.concatenate([A, [0.0, 1.0, -2.0]]),)),
    ("logaddexp2", lambda m, x, y: m.logaddexp2(x, y), (M, M[0] * 3)),
    ("logaddexp2-scalar", lambda m, x: m.logaddexp2(x, 0.5) + m.logaddexp2(-1.0, x), (A,)),
    # select, piecewise
    ("select", lambda m, x: m.select([x < -0.5, x > 0.5], [x ** 2, m.sin(x)]), (A,)),
    ("select-default", lambda m, x, y: m.select([x > y], [x * y], default=y - 1.0), (M, M[::-1] * 1.0)),
    ("select-broadcast", lambda m, x, y: m.select([x > 0, x < -1], [y, 2.0], -x), (M, A[:6])),
    ("piecewise", lambda m, x: m.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t ** 2]), (A,)),
    ("piecewise-otherwise", lambda m, x: m.piecewise(x, [x < -1, x > 1], [0.5, lambda t: t ** 3, m.sin]),
     (A * 2,)),
    ("piecewise-one-condition", lambda m, x: m.piecewise(x, x > 0, [m.exp, lambda t: 1 + t]), (A,)),
    ("piecewise-constant-conditions", lambda m, x: m.piecewise(x, [m.asarray(A > 0)], [m.exp, m.cos]), (A,)),
    # polynomials
    ("polyval", lambda m, p, x: m.polyval(p, x), (K, M)),
    ("polyval-list", lambda m, p, x: m.polyval([p[0], 2.0, p[1]], x), (K, A)),
    ("polyval-constant-x", lambda m, p: m.polyval(p, m.asarray(A)), (K,)),
    ("polyder", lambda m, p: m.polyder(p) + m.polyder(p, m=2).sum(), (A,)),
    ("polyint", lambda m, p: m.polyint(p), (K,)),
    ("polyint-k", lambda m, p: m.polyint(p, 2, k=[1.0, -2.0]), (K,)),
    # bincount: constant indices, traced weights
    ("bincount", lambda m, w: m.bincount(m.asarray(INDEX), weights=w), (A[:6],)),
    ("bincount-minlength", lambda m, w: m.bincount(m.asarray(INDEX), w * w, minlength=9), (A[:6],)),
    # ufunc.outer
    ("subtract-outer", lambda m, x: m.subtract.outer(x, x), (A,)),
    ("subtract-outer-2d", lambda m, x, y: m.subtract.outer(x, y), (M, K)),
    ("multiply-outer", lambda m, x: m.multiply.outer(x, m.asarray(K)), (A,)),
    ("add-outer", lambda m, x: m.add.outer(m.asarray(K), x), (A,)),
    ("power-outer", lambda m, x, y: m.power.outer(m.abs(x) + 0.5, y), (A, K)),
    ("maximum-outer", lambda m, x, y: m.maximum.outer(x, y), (A, K)),
    ("gp-kernel", lambda m, x: m.exp(-0.5 * m.subtract.outer(x, x) ** 2), (A,)),
]

# no JAX spelling of the same call (JAX's piecewise takes no NumPy conditions with its arrays, its
# gradient no edge_order=2; polyval and polyint take no lists; jnp.power is no ufunc; piecewise does not
# wrap one condition as NumPy does)
NO_JAX = {"gradient-edge2", "gradient-edge2-coords", "gradient-edge2-axes", "piecewise-constant-conditions",
          "piecewise-one-condition", "polyval-list", "polyint-k", "power-outer"}


def _ct(out: np.ndarray) -> np.ndarray:
    return np.cos(1.0 + np.arange(np.size(out))).reshape(np.shape(out))


@pytest.mark.parametrize("name,fn,args", ROWS, ids=[r[0] for r in ROWS])
def test_row(name, fn, args, monkeypatch):
    """Values (NumPy, compiled, eager), gradient (FD, eager tape), and a Jacobian from one
    batched reverse pass."""
    args = tuple(np.array(a, dtype=np.float64) for a in args)

    def f(*xs):
        return fn(np, *xs)
    want = np.asarray(f(*args))
    compiled = symgrad.compile(f)(*args)
    assert np.shape(compiled) == want.shape
    np.testing.assert_allclose(compiled, want, **EXACT)
    ct = _ct(want)
    tensors = [symgrad.tensor(a, requires_grad=True) for a in args]
    eager = f(*tensors)
    np.testing.assert_allclose(eager.detach().numpy(), want, **EXACT)
    (eager * symgrad.tensor(ct)).sum().backward()

    def scalar(*xs):
        return (f(*xs) * ct).sum()
    wrt = tuple(range(len(args)))
    grads = symgrad.grad(scalar, argnums=wrt)(*args)
    for g, fd, t in zip(grads, differences(scalar, args, wrt), tensors):
        np.testing.assert_allclose(g, fd, **FD)
        np.testing.assert_allclose(np.zeros_like(g) if t.grad is None else t.grad.numpy(), g, **EXACT)
    passes = []
    monkeypatch.setattr(autodiff_batching, "backprop",
                        lambda *a, _run=autodiff_batching.backprop: passes.append(1) or _run(*a))
    jac = symgrad.jacobian(f)(*args)
    assert len(passes) == 1
    np.testing.assert_allclose(np.tensordot(ct, jac, ct.ndim), grads[0], **EXACT)


@pytest.mark.parametrize("name,fn,args", [r for r in ROWS if r[0] not in NO_JAX],
                         ids=[r[0] for r in ROWS if r[0] not in NO_JAX])
def test_row_against_jax(name, fn, args):
    """The same code in jax.numpy: value and gradient (jit-compiled: far faster than op by op)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    args = tuple(np.array(a, dtype=np.float64) for a in args)
    want = np.asarray(fn(np, *args))
    ct = _ct(want)
    wrt = tuple(range(len(args)))
    theirs = jax.value_and_grad(lambda *xs: (fn(jax.numpy, *xs) * ct).sum(), argnums=wrt)
    theirs = (theirs if name.startswith("bincount") else jax.jit(theirs))(*args)  # jit: no length=
    np.testing.assert_allclose(theirs[0], (want * ct).sum(), rtol=1e-12, atol=1e-12)
    ours = symgrad.grad(lambda *xs: (fn(np, *xs) * ct).sum(), argnums=wrt)(*args)
    for a, b in zip(ours, theirs[1]):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10, atol=1e-12)


def test_convolve_and_correlate_every_length_and_mode():
    """Every pair of lengths 1..5 and each mode: NumPy's values (and alignment of 'same')."""
    modes = ("full", "same", "valid", 0, 1, 2)
    for n, k in itertools.product(range(1, 6), range(1, 6)):
        a, v = RNG.normal(size=n), RNG.normal(size=k)
        for func, mode in itertools.product((np.convolve, np.correlate), modes):
            got = symgrad.compile(lambda a, v, func=func, mode=mode: func(a, v, mode))(a, v)
            want = func(a, v, mode)
            assert got.shape == want.shape, (func.__name__, n, k, mode)
            np.testing.assert_allclose(got, want, **EXACT)


def test_interp_exact_at_knots_and_ends():
    """At knots and past either end (infinities too) interp gives fp exactly, as NumPy; NaN
    stays NaN."""
    x = np.concatenate([XP, [XP[0] - 1, XP[-1] + 1, np.nan, np.inf, -np.inf]])
    got = symgrad.compile(lambda x, fp: np.interp(x, XP, fp))(x, FP)
    np.testing.assert_array_equal(got, np.interp(x, XP, FP))
    got = symgrad.compile(lambda x: np.interp(x, XP, FP, left=np.inf, right=-np.inf))(x)
    np.testing.assert_array_equal(got, np.interp(x, XP, FP, left=np.inf, right=-np.inf))


def test_interp_scalar_integer_and_float32_inputs():
    """Python scalars, integer points and float32 values: NumPy's float64 results."""
    got = symgrad.compile(lambda fp: np.interp(1, [0, 2, 4], fp))(np.float32([1, 3, 2]))
    assert got.dtype == np.float64 and got.shape == () and got == 2.0
    g = symgrad.grad(lambda x: np.interp(x, XP, FP))(0.1)
    i = np.searchsorted(XP, 0.1) - 1
    np.testing.assert_allclose(g, (FP[i + 1] - FP[i]) / (XP[i + 1] - XP[i]), **EXACT)


def test_interp_duplicate_knots_keep_gradients_finite():
    """Equal knots make a jump: no NaN reaches the gradient from its unused infinite slope."""
    xp, fp = np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 1.0, 3.0, 4.0])
    x = np.array([0.5, 1.5, 2.5])
    np.testing.assert_allclose(symgrad.compile(np.interp)(x, xp, fp), np.interp(x, xp, fp), **EXACT)
    grads = symgrad.grad(lambda x, xp, fp: np.interp(x, xp, fp).sum(), argnums=(0, 1, 2))(x, xp, fp)
    assert all(np.isfinite(g).all() for g in grads)


def test_searchsorted_spellings():
    """np.searchsorted, the ndarray method, sorter=, and both sides, with ties."""
    a, v = np.array([3.0, 1.0, 2.0, 2.0]), np.array([2.0, 0.0, 5.0, 1.5])
    order = np.argsort(a)

    def f(a, v):
        s = np.sort(a)
        return (np.searchsorted(s, v), s.searchsorted(v, side="right"), s.searchsorted(v, "left"),
                np.searchsorted(a, v, sorter=np.argsort(a)), np.searchsorted(s, 2.0, side="right"))
    got = symgrad.compile(f)(a, v)
    s = np.sort(a)
    want = (np.searchsorted(s, v), s.searchsorted(v, side="right"), s.searchsorted(v),
            np.searchsorted(a, v, sorter=order), np.searchsorted(s, 2.0, side="right"))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == np.intp


def test_trapz_alias_when_numpy_has_it():
    trapz = getattr(np, "trapz", None)
    if trapz is None:
        pytest.skip("this NumPy has no np.trapz (removed in 2.4)")
    np.testing.assert_allclose(symgrad.compile(lambda y: trapz(y, dx=0.5))(A), trapz(A, dx=0.5), **EXACT)


def test_integer_inputs_give_numpy_dtypes():
    """gradient and trapezoid of integers are float64; bincount weights float64; polyval of int
    coefficients at traced float points float64."""
    ints = np.arange(6) ** 2
    f = symgrad.compile(lambda x: (np.gradient(ints * x[0]), np.trapezoid(ints * x[0]),
                                   np.bincount(INDEX, weights=x[:6])))
    got = f(np.ones(6))
    want = (np.gradient(ints * 1.0), np.trapezoid(ints * 1.0), np.bincount(INDEX, weights=np.ones(6)))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, **EXACT)
    np.testing.assert_allclose(symgrad.compile(lambda x: np.gradient(ints, x))(COORDS),
                               np.gradient(ints, COORDS), **EXACT)


# ---------------------------------------------------------------- add.at, in place

def test_add_at_accumulates_repeated_indices_in_place():
    def f(x, w):
        out = np.zeros_like(x)
        np.add.at(out, INDEX, w)
        np.subtract.at(out, (np.array([1, 1]),), x[:2])
        y = x * 1.0
        np.add.at(y, slice(1, 3), 2.0 * w[:2])
        return out * y
    x, w = A[:6].copy(), K[[0, 1, 2, 3, 0, 1]] * 1.0
    want = np.zeros(6)
    np.add.at(want, INDEX, w)
    np.subtract.at(want, (np.array([1, 1]),), x[:2])
    y = x.copy()
    np.add.at(y, slice(1, 3), 2.0 * w[:2])
    np.testing.assert_allclose(symgrad.compile(f)(x, w), want * y, **EXACT)

    def scalar(x, w):
        return (f(x, w) ** 2 * _ct(x)).sum()
    grads = symgrad.grad(scalar, argnums=(0, 1))(x, w)
    for g, fd in zip(grads, differences(scalar, [x, w], [0, 1])):
        np.testing.assert_allclose(g, fd, **FD)
    hess = symgrad.hessian(scalar)(x, w)
    fd = _fd_hessian(lambda x: symgrad.grad(scalar)(x, w), x)
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-6)
    # eager: PyTorch's in-place index_put_ (accumulate=True), recorded like an assignment
    t, u = symgrad.tensor(x, requires_grad=True), symgrad.tensor(w, requires_grad=True)
    loss = scalar(t, u)
    loss.backward()
    np.testing.assert_allclose(t.grad.numpy(), grads[0], **EXACT)
    np.testing.assert_allclose(u.grad.numpy(), grads[1], **EXACT)


def test_add_at_writes_as_item_assignment_and_refuses_a_numpy_array():
    def into_the_argument(x):
        np.add.at(x, [0, 0], 1.0)  # the traced value changes, not the caller's array
        return x

    a = A.copy()
    want = A.copy()
    np.add.at(want, [0, 0], 1.0)
    np.testing.assert_array_equal(symgrad.compile(into_the_argument)(a), want)
    np.testing.assert_array_equal(a, A)
    with pytest.raises(TypeError, match="into a NumPy array"):
        symgrad.compile(lambda x: np.add.at(np.zeros(3), [0, 0], x[:2]))(A)
    with pytest.raises(TypeError, match="multiply.at is not supported"):
        symgrad.compile(lambda x: np.multiply.at(x * 1.0, [0], 2.0))(A)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        np.add.at(symgrad.tensor(A, requires_grad=True), [0], 1.0)


# ---------------------------------------------------------------- second order

def _fd_hessian(grad, x: np.ndarray) -> np.ndarray:
    return np.stack(difference_columns(grad, x), -1).reshape(x.shape + x.shape)


SECOND_ORDER = [
    ("convolve", lambda a: (np.tanh(np.convolve(a, a[:3], "same")) ** 2).sum(), A),
    ("correlate-short-long", lambda v: (np.correlate(v, A, "full") ** 3).sum(), K),
    ("interp-knots", lambda xp: (np.interp(X, np.sort(xp), FP) ** 2).sum(), XP),
    ("interp-periodic", lambda fp: (np.interp(X, XP, fp, period=4.5) ** 3).sum(), FP),
    ("trapezoid-gradient", lambda y: np.trapezoid(np.gradient(np.sin(y), COORDS, edge_order=2) ** 2, COORDS),
     A[:6]),
    ("sinc-logaddexp2", lambda x: (np.sinc(x) * np.logaddexp2(x, -x)).sum(), np.append(A, 0.0)),
    ("select-piecewise", lambda x: (np.select([x > 0], [x ** 3], np.exp(x))
                                    + np.piecewise(x, [x < 0.3], [np.sin, lambda t: t ** 4])).sum(), A),
    ("polyval", lambda p: np.polyval(p, np.sin(p)).sum() + np.polyint(p * p).sum(), K),
    ("gp-kernel", lambda x: np.log(np.linalg.det(np.exp(-np.subtract.outer(x, x) ** 2) + np.eye(5))), A[:5]),
    ("bincount", lambda w: (np.bincount(INDEX, weights=np.tanh(w)) ** 2).sum(), A[:6]),
]


@pytest.mark.parametrize("name,scalar,x", SECOND_ORDER, ids=[r[0] for r in SECOND_ORDER])
def test_hessian_matches_differences_of_the_gradient(name, scalar, x):
    grad = symgrad.grad(scalar)
    np.testing.assert_allclose(grad(x), differences(scalar, [x], [0])[0], **FD)
    hess = symgrad.hessian(scalar)(x)
    np.testing.assert_allclose(hess, _fd_hessian(grad, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-10, atol=1e-10)


def test_sinc_derivatives_near_zero():
    """sinc' and sinc'' at and near 0, where the quotient's derivatives cancel catastrophically,
    against mpmath's at 50 digits."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([0.0, 1e-9, -1e-6, 1e-3, 0.0159, 0.0161, 0.3])

    def sinc(t):
        return mpmath.sinc(mpmath.pi * t)
    want1 = [float(mpmath.diff(sinc, mpmath.mpf(t), 1)) for t in x]
    want2 = [float(mpmath.diff(sinc, mpmath.mpf(t), 2)) for t in x]
    np.testing.assert_allclose(symgrad.elementwise_grad(np.sinc)(x), want1, rtol=1e-12, atol=1e-300)
    hess = symgrad.hessian(lambda x: np.sinc(x).sum())(x)
    np.testing.assert_allclose(np.diag(hess), want2, rtol=1e-10)
    np.testing.assert_allclose(symgrad.compile(np.sinc)(x), np.sinc(x), rtol=2e-16, atol=0)


# ---------------------------------------------------------------- realistic programs, three spellings

def smooth_convolve(x, w):
    return np.convolve(x, w, mode="valid")


def smooth_correlate(x, w):
    return np.correlate(x, w[::-1])


def smooth_windows(x, w):
    return np.lib.stride_tricks.sliding_window_view(x, w.shape[0]) @ w[::-1]


def gp_outer(x, ell):
    return np.exp(-0.5 * np.subtract.outer(x, x) ** 2 / ell ** 2)


def gp_broadcast(x, ell):
    return np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / ell ** 2)


def gp_expand(x, ell):
    d = np.expand_dims(x, 1) - np.expand_dims(x, 0)
    return np.exp(-(d * d) / (2 * ell * ell))


@pytest.mark.parametrize("spellings,args", [
    ((smooth_convolve, smooth_correlate, smooth_windows), (A, K)),
    ((gp_outer, gp_broadcast, gp_expand), (A[:5], np.array(0.7))),
], ids=["valid-convolution", "gp-kernel"])
def test_three_spellings_one_gradient(spellings, args):
    def loss(f):
        return lambda x, p: (np.tanh(f(x, p)) ** 2).sum()
    want = spellings[0](*args)
    grads = [symgrad.grad(loss(f), argnums=(0, 1))(*args) for f in spellings]
    fd = differences(loss(spellings[0]), [a.copy() for a in args], [0, 1])
    for f, (gx, gp) in zip(spellings, grads):
        np.testing.assert_allclose(symgrad.compile(f)(*args), want, **EXACT)
        np.testing.assert_allclose(gx, fd[0], **FD)
        np.testing.assert_allclose(gp, fd[1], **FD)


def test_interp_three_ways():
    """np.interp, a hand-written searchsorted interpolation, and a sum of hat functions."""
    def by_interp(x, fp, xp=XP):
        return np.interp(x, xp, fp)

    def by_hand(x, fp, xp=XP):
        i = np.clip(np.searchsorted(xp, x) - 1, 0, xp.size - 2)
        t = (x - xp[i]) / (xp[i + 1] - xp[i])
        return np.where(x < xp[0], fp[0], np.where(x > xp[-1], fp[-1], (1 - t) * fp[i] + t * fp[i + 1]))

    def by_hats(x, fp, xp=XP):
        left, right = np.diff(xp, prepend=-np.inf), np.diff(xp, append=np.inf)
        d = np.subtract.outer(x, xp)
        hat = np.clip(np.minimum(1 + d / left, 1 - d / right), 0, 1)
        return hat @ fp

    x = np.clip(X, XP[0], XP[-1])
    x = x[np.all(np.abs(x[:, None] - XP) > 1e-3, axis=1)]
    want = np.interp(x, XP, FP)
    for f in (by_interp, by_hand, by_hats):  # knots traced too: XP[i] of an ndarray cannot be
        np.testing.assert_allclose(symgrad.compile(f)(x, FP, XP), want, **EXACT)
        gx, gf = symgrad.grad(lambda x, fp, xp, f=f: (f(x, fp, xp) ** 2).sum(), argnums=(0, 1))(x, FP, XP)
        fd = differences(lambda x, fp: (np.interp(x, XP, fp) ** 2).sum(), [x, FP.copy()], [0, 1])
        np.testing.assert_allclose(gx, fd[0], **FD)
        np.testing.assert_allclose(gf, fd[1], **FD)


def test_generated_convolution_is_one_gather_and_a_matmul():
    source = symgrad.compile(lambda a, v: np.convolve(a, v, "valid")).source(A, K)
    assert source.count("@") == 1 and "for " not in source


# ---------------------------------------------------------------- bad input

BAD = [
    (lambda x: np.convolve(x, x, "middle"), ValueError, "Use one of 'valid', 'same', or 'full'"),
    (lambda x: np.convolve(x[:0], x), ValueError, "a cannot be empty"),
    (lambda x: np.convolve(x, x[:0]), ValueError, "v cannot be empty"),
    (lambda x: np.correlate(x[:0], x), ValueError, "first array argument cannot be empty"),
    (lambda x: np.correlate(x.reshape(3, 3), x), ValueError, "object too deep"),
    (lambda x: np.interp(x, XP, FP[:-1]), ValueError, "fp and xp are not of the same length"),
    (lambda x: np.interp(x, XP[:0], FP[:0]), ValueError, "array of sample points is empty"),
    (lambda x: np.interp(x, XP.reshape(1, -1), FP), ValueError, "object too deep"),
    (lambda x: np.interp(x, XP, FP, period=0), ValueError, "period must be a non-zero value"),
    (lambda x: np.searchsorted(x, x, side="middle"), ValueError, "side must be 'left' or 'right'"),
    (lambda x: np.searchsorted(x.reshape(3, 3), x), ValueError, "object too deep"),
    (lambda x: np.gradient(x, edge_order=3), ValueError, "'edge_order' greater than 2 not supported"),
    (lambda x: np.gradient(x[:2], edge_order=2), ValueError, "Shape of array too small"),
    (lambda x: np.gradient(x, 1.0, 2.0), TypeError, "invalid number of arguments"),
    (lambda x: np.gradient(x, x[:3]), ValueError, "distances must match the length"),
    (lambda x: np.gradient(x, x.reshape(3, 3)), ValueError, "distances must be either scalars or 1d"),
    (lambda x: np.select([x > 0], [x, x]), ValueError, "list of cases must be same length"),
    (lambda x: np.select([], []), ValueError, "empty condition list"),
    (lambda x: np.select([x], [x]), TypeError, "invalid entry 0 in condlist: should be boolean"),
    (lambda x: np.piecewise(x, [x > 0], [np.sin, np.cos, np.tan]), ValueError,
     "with 1 condition\\(s\\), either 1 or 2 functions are expected"),
    (lambda x: np.polyder(x, -1), ValueError, "Order of derivative must be positive"),
    (lambda x: np.polyder(x.reshape(3, 3)), ValueError, "expected a 1-D array of coefficients"),
    (lambda x: np.polyint(x, 3, k=[1.0, 2.0]), ValueError, "k must be a scalar or a rank-1 array"),
    (lambda x: np.bincount(np.arange(9) % 3, weights=x[:4]), ValueError, "don't have the same length"),
    (lambda x: np.bincount(np.array([-1, 0]), weights=x[:2]), ValueError, "no negative elements"),
    (lambda x: np.bincount((x > 0).astype(np.int64), weights=x), TypeError, "x cannot be traced"),
    (lambda x: np.sin.outer(x, x), ValueError, "only supported for binary functions"),
    (lambda x: np.add.outer(x), TypeError, "exactly two arguments expected"),
]


@pytest.mark.parametrize("fn,error,match", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input(fn, error, match):
    with pytest.raises(error, match=match):
        symgrad.compile(fn)(A)
