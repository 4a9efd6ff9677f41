"""SciPy's special functions on traced and eager values, second batch (symgrad/ops/special.py).

Each function is called the ways users call it: `scipy.special.f(value)` (through
`__array_ufunc__`), and `symgrad.special.f` / a method where PyTorch has one. For each: the value
against SciPy (compiled and eager), the gradient against central differences in float64, the
Hessian against differences of the gradient, JAX's gradient where `jax.scipy.special` has the
function, PyTorch (value, gradient, grad_fn name) where `torch.special` has it. Then SciPy's
conventions at the edges of the domains, the inputs with no derivative, the Box-Cox lambda
derivative at 0, and SciPy's Python functions (multigammaln, polygamma) that do not trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.ops import kernels

special = pytest.importorskip("scipy.special")


def sc(name: str) -> Callable[..., Any]:
    """scipy.special.<name> itself: the spelling that reaches the op through `__array_ufunc__`."""
    return getattr(special, name)


def path(lib: Any, dotted: str) -> Callable[..., Any]:
    """`symgrad.special.entr` or `torch.special.entr` from "special.entr"."""
    for part in dotted.split("."):
        lib = getattr(lib, part)
    return lib


@dataclass(frozen=True)
class Fn:
    """A SciPy special function: its spellings, domain, differentiable inputs and references."""

    name: str
    spellings: tuple[Callable[..., Any], ...]
    domains: tuple[tuple[float, float], ...]  # one (low, high) per input
    wrt: tuple[int, ...] | None = None  # the inputs with a derivative; None: all
    torch: str | None = None  # the torch.* name; symgrad.* has the same
    grad_fn: str | None = None
    jax: str | None = None  # the jax.scipy.special name, if JAX has it
    smooth: bool = True  # twice differentiable on the domain (the Hessian check applies)

    def inputs(self, shape: tuple[int, ...] = (5,)) -> list[np.ndarray]:
        rng = np.random.default_rng(len(self.name) * 7 + len(self.domains))
        return [rng.uniform(lo, hi, shape) for lo, hi in self.domains]

    def argnums(self) -> tuple[int, ...]:
        return tuple(range(len(self.domains))) if self.wrt is None else self.wrt


REAL, POS, PROB = (-2.0, 2.0), (0.4, 3.0), (0.05, 0.95)
FNS = [
    Fn("gamma", (sc("gamma"),), (POS,), jax="gamma"),
    Fn("rgamma", (sc("rgamma"),), ((-2.9, 3.0),)),
    Fn("loggamma", (sc("loggamma"),), (POS,), jax="gammaln"),
    Fn("betaln", (sc("betaln"),), (POS, POS), jax="betaln"),
    Fn("beta", (sc("beta"),), (POS, POS), jax="beta"),
    Fn("binom", (sc("binom"),), ((3.0, 5.0), POS)),
    Fn("ndtri", (sc("ndtri"), symgrad.special.ndtri), (PROB,), torch="special.ndtri",
       grad_fn="SpecialNdtriBackward0", jax="ndtri"),
    Fn("erfinv", (sc("erfinv"), symgrad.special.erfinv, lambda x: x.erfinv()), ((-0.9, 0.9),),
       torch="special.erfinv", grad_fn="ErfinvBackward0", jax="erfinv"),
    Fn("erfcinv", (sc("erfcinv"),), ((0.05, 1.95),)),
    Fn("erfcx", (sc("erfcx"), symgrad.special.erfcx), (REAL,), torch="special.erfcx",
       grad_fn="SpecialErfcxBackward0", jax="erfcx"),
    Fn("entr", (sc("entr"), symgrad.special.entr), (POS,), torch="special.entr",
       grad_fn="SpecialEntrBackward0", jax="entr"),
    Fn("rel_entr", (sc("rel_entr"),), (POS, POS), jax="rel_entr"),
    Fn("kl_div", (sc("kl_div"),), (POS, POS), jax="kl_div"),
    Fn("huber", (sc("huber"),), ((0.5, 1.5), REAL), smooth=False),
    Fn("pseudo_huber", (sc("pseudo_huber"),), ((0.3, 2.0), REAL)),
    Fn("i0", (sc("i0"), symgrad.special.i0, symgrad.i0, lambda x: x.i0()), (REAL,), torch="special.i0",
       grad_fn="I0Backward0", jax="i0"),
    Fn("i0e", (sc("i0e"), symgrad.special.i0e), ((0.2, 3.0),), torch="special.i0e",
       grad_fn="SpecialI0EBackward0", jax="i0e"),
    Fn("i1", (sc("i1"), symgrad.special.i1), (REAL,), torch="special.i1", grad_fn="SpecialI1Backward0",
       jax="i1"),
    Fn("i1e", (sc("i1e"), symgrad.special.i1e), ((-3.0, -0.2),), torch="special.i1e",
       grad_fn="SpecialI1EBackward0", jax="i1e"),
    Fn("gammainc", (sc("gammainc"), symgrad.special.gammainc, symgrad.igamma, lambda a, x: a.igamma(x)),
       (POS, POS), wrt=(1,), torch="special.gammainc", grad_fn="IgammaBackward0", jax="gammainc"),
    Fn("gammaincc", (sc("gammaincc"), symgrad.special.gammaincc, symgrad.igammac), (POS, POS), wrt=(1,),
       torch="special.gammaincc", grad_fn="IgammacBackward0", jax="gammaincc"),
    Fn("betainc", (sc("betainc"),), (POS, POS, PROB), wrt=(2,), jax="betainc"),
    Fn("boxcox", (sc("boxcox"),), (POS, REAL)),
    Fn("boxcox1p", (sc("boxcox1p"),), ((-0.5, 2.0), REAL)),
    Fn("inv_boxcox", (sc("inv_boxcox"),), (POS, (-0.3, 1.0))),
    # SciPy's own ufunc objects for functions NumPy and symgrad have
    Fn("log1p", (sc("log1p"), symgrad.special.log1p), ((-0.5, 2.0),), torch="special.log1p",
       grad_fn="Log1PBackward0"),
    Fn("expm1", (sc("expm1"), symgrad.special.expm1), (REAL,), torch="special.expm1",
       grad_fn="Expm1Backward0"),
    Fn("exp2", (sc("exp2"), symgrad.special.exp2), (REAL,), torch="special.exp2", grad_fn="Exp2Backward0"),
    Fn("exp10", (sc("exp10"),), (REAL,)),
    Fn("cbrt", (sc("cbrt"),), (POS,)),
    Fn("sindg", (sc("sindg"),), ((-400.0, 400.0),)),
    Fn("cosdg", (sc("cosdg"),), ((-400.0, 400.0),)),
    Fn("logit", (sc("logit"),), (PROB,), jax="logit"),
    Fn("expit", (sc("expit"),), (REAL,), jax="expit"),
]
SPELLINGS = [pytest.param(f, s, id=f"{f.name}-{i}") for f in FNS for i, s in enumerate(f.spellings)]
BY_NAME = [pytest.param(f, id=f.name) for f in FNS]
CT = np.linspace(-1.0, 1.5, 5)


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


@pytest.fixture
def jax() -> Any:
    jax = pytest.importorskip("jax")
    pytest.importorskip("jax.scipy.special")
    jax.config.update("jax_enable_x64", True)
    return jax


# ---------------------------------------------------------------- values and derivatives

@pytest.mark.parametrize("f, spelling", SPELLINGS)
def test_value_matches_scipy_compiled_and_eager(f: Fn, spelling: Callable) -> None:
    xs = f.inputs((2, 3))
    want = sc(f.name)(*xs)
    np.testing.assert_allclose(symgrad.compile(spelling)(*xs), want, rtol=1e-13, atol=1e-15)
    eager = spelling(*[symgrad.tensor(x, dtype=symgrad.float64) for x in xs])
    np.testing.assert_allclose(eager.numpy(), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("f, spelling", SPELLINGS)
def test_gradient_matches_finite_differences(f: Fn, spelling: Callable) -> None:
    xs = f.inputs()
    loss = lambda *vs: (spelling(*vs) * CT).sum()  # noqa: E731
    got = symgrad.grad(loss, argnums=f.argnums())(*xs)
    want = differences(lambda *vs: float(np.sum(sc(f.name)(*vs) * CT)), xs, f.argnums())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    leaves = [symgrad.tensor(x, requires_grad=i in f.argnums()) for i, x in enumerate(xs)]
    loss(*leaves).backward()
    for i, g in zip(f.argnums(), got):
        np.testing.assert_allclose(leaves[i].grad.numpy(), g, rtol=1e-12, atol=1e-13)


def gradient_jacobian_fd(grad: Callable, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of a gradient function: the Hessian, column by column."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = step
        cols.append((np.asarray(grad(x + e)) - np.asarray(grad(x - e))).ravel() / (2 * step))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("f", [p for p in BY_NAME if p.values[0].smooth])
def test_hessian_matches_differences_of_the_gradient(f: Fn) -> None:
    """In each differentiable input, the others held: symgrad.hessian and the eager double
    backward against central differences of symgrad.grad."""
    xs = f.inputs((4,))
    for k in f.argnums():
        def fn(v: Any, k: int = k) -> Any:
            return f.spellings[0](*xs[:k], v, *xs[k + 1:]).sum()
        want = gradient_jacobian_fd(symgrad.grad(fn), xs[k])
        np.testing.assert_allclose(symgrad.hessian(fn)(xs[k]), want, rtol=1e-6, atol=1e-6)
        x = symgrad.tensor(xs[k], requires_grad=True)
        (g,) = symgrad.autograd.grad(fn(x), [x], create_graph=True)
        (gg,) = symgrad.autograd.grad(g.sum(), [x])
        np.testing.assert_allclose(gg.numpy(), np.diag(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("f", [p for p in BY_NAME if p.values[0].jax])
def test_gradient_matches_jax(jax: Any, f: Fn) -> None:
    xs = f.inputs()
    theirs_fn = getattr(jax.scipy.special, f.jax)
    if f.name == "loggamma":  # JAX's loggamma is complex-valued; gammaln is SciPy's on the domain
        theirs_fn = jax.scipy.special.gammaln
    np.testing.assert_allclose(symgrad.compile(f.spellings[0])(*xs), np.asarray(theirs_fn(*xs)), rtol=1e-12)
    ours = symgrad.grad(lambda *vs: (f.spellings[0](*vs) * CT).sum(), argnums=f.argnums())(*xs)
    theirs = jax.grad(lambda *vs: (theirs_fn(*vs) * CT).sum(), argnums=f.argnums())(
        *map(jax.numpy.asarray, xs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("f", [p for p in BY_NAME if p.values[0].torch])
def test_eager_matches_torch(torch: Any, f: Fn) -> None:
    """symgrad.special.<name> against torch.special.<name>: value, gradient, grad_fn name."""
    xs = f.inputs()
    ours = [symgrad.tensor(x, requires_grad=i in f.argnums()) for i, x in enumerate(xs)]
    theirs = [torch.tensor(x, requires_grad=i in f.argnums()) for i, x in enumerate(xs)]
    out, ref = path(symgrad, f.torch)(*ours), path(torch, f.torch)(*theirs)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == f.grad_fn
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    (out * symgrad.tensor(CT)).sum().backward()
    (ref * torch.tensor(CT)).sum().backward()
    for i in f.argnums():
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-11, atol=1e-14)


def test_jacobian_and_float32() -> None:
    """Elementwise: a diagonal Jacobian (batched); float32 stays float32 as SciPy keeps it."""
    x = np.array([0.5, 1.5, 2.5])
    jac = symgrad.jacobian(lambda v: special.i0(v) + special.gamma(v) + special.ndtri(v / 3))(x)
    ndtri_slope = math.sqrt(2 * math.pi) * np.exp(special.ndtri(x / 3) ** 2 / 2) / 3
    want = special.i1(x) + special.gamma(x) * special.psi(x) + ndtri_slope
    np.testing.assert_allclose(jac, np.diag(want), rtol=1e-12)
    x32 = x.astype(np.float32)
    for fn in (special.gamma, special.i1e, special.entr, lambda v: special.boxcox(v, np.float32(0.5))):
        assert symgrad.compile(fn)(x32).dtype == fn(x32).dtype == np.float32


# ---------------------------------------------------------------- SciPy's conventions at the edges

EDGES = {
    "entr": ([-1.0, 0.0, 0.5, np.inf],),
    "rel_entr": ([0.0, 0.0, 1.0, -1.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0, -1.0, 0.5]),
    "kl_div": ([0.0, 0.0, 1.0, -1.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0, -1.0, 0.5]),
    "huber": ([-1.0, 0.0, 1.0, 1.0], [1.0, 2.0, 0.5, -3.0]),
    "pseudo_huber": ([-1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 2.0]),
    "loggamma": ([-0.5, 0.0, 1.0, 2.0],),
    "gamma": ([-1.5, -0.0, 0.0, 171.5],),
    "rgamma": ([-1.0, 0.0, 0.5, 200.0],),
    "erfcinv": ([0.0, 1e-300, 1.0, 2.0],),
    "ndtri": ([0.0, 1e-300, 0.5, 1.0],),
    "boxcox": ([0.0, 1.0, -1.0], [0.5, 0.0, 0.5]),
    "inv_boxcox": ([2.0, 2.0, -3.0], [0.0, -0.5, 0.5]),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_values_follow_scipy(name: str) -> None:
    """Zeros, negative inputs, infinities and nans as SciPy gives them, compiled and eager."""
    xs = [np.array(v) for v in EDGES[name]]
    with np.errstate(all="ignore"):
        want = sc(name)(*xs)
        np.testing.assert_array_equal(symgrad.compile(sc(name))(*xs), want)
        np.testing.assert_array_equal(sc(name)(*[symgrad.tensor(x) for x in xs]).numpy(), want)


def test_gradients_at_zero() -> None:
    """The Bessel derivatives' limits at 0 (i1' = i1e' = 1/2, i0e' = 0), and entr's +inf
    (PyTorch's); kl_div's and rel_entr's y-gradient at x == 0 is 0, never 0/0."""
    zero = np.zeros(1)
    for name, want in [("i1", 0.5), ("i1e", 0.5), ("i0e", 0.0), ("i0", 0.0), ("entr", np.inf)]:
        with np.errstate(divide="ignore"):
            got = symgrad.grad(lambda v, n=name: sc(n)(v).sum())(zero)
        np.testing.assert_array_equal(got, [want], err_msg=name)
    for name, want in [("kl_div", 1.0), ("rel_entr", 0.0)]:
        got = symgrad.grad(lambda y, n=name: sc(n)(np.zeros(2), y).sum())(np.array([0.0, 2.0]))
        np.testing.assert_array_equal(got, [want, want], err_msg=name)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "betainc"])
def test_no_derivative_in_the_parameters_is_an_error(name: str) -> None:
    """gammainc and betainc have no closed-form derivative in a (or b): differentiating in them
    raises NotImplementedError, traced and eager (PyTorch's igamma raises too); in x it works
    with the parameters traced."""
    xs = [np.array([1.5, 2.0]), np.array([2.5, 0.5]), np.array([0.3, 0.6])][:3 if name == "betainc" else 2]
    fn = lambda *vs: sc(name)(*vs).sum()  # noqa: E731
    with pytest.raises(NotImplementedError, match=f"derivative of {name} in a is not implemented"):
        symgrad.grad(fn, argnums=0)(*xs)
    leaves = [symgrad.tensor(x, requires_grad=True) for x in xs]
    with pytest.raises(NotImplementedError, match=f"derivative of {name} in a"):
        fn(*leaves).backward()
    last = len(xs) - 1
    grad = symgrad.grad(fn, argnums=last)(*xs)
    want = differences(lambda *vs: float(np.sum(sc(name)(*vs))), xs, (last,))[0]
    np.testing.assert_allclose(grad, want, rtol=1e-7)


def test_boxcox_lambda_derivative_at_zero() -> None:
    """At lambda == 0 the lambda-derivative is its limit: log(x)**2 / 2 for boxcox (log1p for
    boxcox1p), -y**2 exp(y) / 2 for inv_boxcox; and it is continuous through 0."""
    x = np.array([0.5, 2.0, 5.0])
    for lm in (0.0, 1e-12, -1e-12):
        lam = np.full(3, lm)
        dl = symgrad.grad(lambda a, b: special.boxcox(a, b).sum(), argnums=1)(x, lam)
        np.testing.assert_allclose(dl, np.log(x) ** 2 / 2, rtol=1e-10)
        dl = symgrad.grad(lambda a, b: special.boxcox1p(a, b).sum(), argnums=1)(x, lam)
        np.testing.assert_allclose(dl, np.log1p(x) ** 2 / 2, rtol=1e-10)
        dl = symgrad.grad(lambda a, b: special.inv_boxcox(a, b).sum(), argnums=1)(x, lam)
        np.testing.assert_allclose(dl, -x ** 2 * np.exp(x) / 2, rtol=1e-10)
    # lambda a Python number, x traced: the common spelling
    np.testing.assert_allclose(symgrad.grad(lambda v: special.boxcox(v, 0.0).sum())(x), 1 / x, rtol=1e-14)


@pytest.mark.parametrize("name", ["entr", "rel_entr", "kl_div", "i0", "boxcox", "boxcox1p", "inv_boxcox"])
def test_kernels_without_scipy_match_scipy(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    args = {"entr": ([0.0, 0.5, 2.0, -1.0],), "i0": ([0.0, -1.5, 3.0],)}.get(
        name, ([0.0, 0.5, 2.0, -1.0, 3.0], [0.5, 0.0, 1.0, 2.0, -0.5]))
    if name == "inv_boxcox":
        args = ([0.5, 2.0, 1.0], [0.0, 0.5, -0.3])
    xs = [np.array(a) for a in args]
    with np.errstate(all="ignore"):
        want = sc(name)(*xs)
        monkeypatch.setattr(kernels, "_scipy", lambda name: None)
        np.testing.assert_allclose(getattr(kernels, name)(*xs), want, rtol=1e-14)


def test_kernels_that_need_scipy_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_scipy", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"i1e kernel needs SciPy \(scipy\.special\.i1e\)"):
        kernels.i1e(np.ones(2))


# ---------------------------------------------------------------- SciPy's Python functions

def test_multigammaln_in_symgrad_special() -> None:
    """SciPy's multigammaln checks its input with a data-dependent `if`, so it does not trace;
    symgrad.special.multigammaln (PyTorch's name; also symgrad.mvlgamma and the method) does."""
    x = np.array([2.5, 3.0, 4.5])
    with pytest.raises(symgrad.TracerError, match="multigammaln"):
        symgrad.compile(lambda v: special.multigammaln(v, 3))(x)
    want = special.multigammaln(x, 3)
    for spelling in (lambda v: symgrad.special.multigammaln(v, 3), lambda v: symgrad.mvlgamma(v, p=3),
                     lambda v: v.mvlgamma(3)):
        np.testing.assert_allclose(symgrad.compile(spelling)(x), want, rtol=1e-14)
        grad = symgrad.grad(lambda v, s=spelling: s(v).sum())(x)
        np.testing.assert_allclose(grad, sum(special.psi(x - j / 2) for j in range(3)), rtol=1e-13)
    hess = symgrad.hessian(lambda v: symgrad.special.multigammaln(v, 2).sum())(x)
    want = special.polygamma(1, x) + special.polygamma(1, x - 0.5)
    np.testing.assert_allclose(np.diag(hess), want, rtol=1e-13)
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2"):
        symgrad.special.multigammaln(symgrad.tensor([0.9, 3.0]), 3)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        symgrad.special.multigammaln(symgrad.tensor([3.0]), 0)


def test_multigammaln_matches_torch(torch: Any) -> None:
    x = np.array([2.5, 3.0, 4.5])
    ours, theirs = symgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = symgrad.special.multigammaln(ours, 3), torch.special.multigammaln(theirs, 3)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == "MvlgammaBackward0"
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13)


def test_scipy_polygamma_does_not_trace_use_symgrad_special() -> None:
    """SciPy's polygamma converts its input with np.asarray and calls zeta: a clear
    TracerError naming it; symgrad.special.polygamma is the traceable spelling."""
    x = np.array([0.5, 2.0])
    with pytest.raises(symgrad.TracerError, match="polygamma"):
        symgrad.compile(lambda v: special.polygamma(1, v))(x)
    np.testing.assert_allclose(symgrad.compile(lambda v: symgrad.special.polygamma(1, v))(x),
                               special.polygamma(1, x), rtol=1e-14)
