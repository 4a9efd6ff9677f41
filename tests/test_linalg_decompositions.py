"""Linear-algebra decompositions and norms, on both faces.

Traced NumPy (`np.linalg.cholesky(a)` inside `symgrad.grad`) and eager PyTorch-style
(`symgrad.linalg.cholesky(t)`, `t.det()`): values against NumPy, gradients against central
differences (first order, and the Hessian against differences of the gradient), compiled
against eager, eager against PyTorch (value, gradient, grad_fn name), Jacobians through
the batching rules, single and stacked matrices. Cholesky and eigh read one triangle of a
symmetric matrix, so their checks differentiate a function of an unconstrained M through
A = M M^T + 3 I, which finite differences can perturb freely. Then norms of every order,
a Gaussian-process log-likelihood written three ways, and the errors for bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import assert_eager_matches_torch, differences

import symgrad

RNG = np.random.default_rng(7)
M3 = RNG.standard_normal((3, 3))
M_STACK = RNG.standard_normal((2, 3, 3))
B3 = RNG.standard_normal((3, 2))
V3 = RNG.standard_normal(3)
FD = {"rtol": 1e-6, "atol": 1e-7}
SAME = {"rtol": 1e-11, "atol": 1e-12}


def spd(m: Any) -> Any:
    """Symmetric positive definite, from any (stack of) square M, of any face."""
    eye = np.eye(m.shape[-1])
    if type(m).__module__.startswith("torch"):
        eye = __import__("torch").from_numpy(eye)
    return m @ m.swapaxes(-1, -2) + 3 * eye


def invertible(m: np.ndarray) -> np.ndarray:
    return m + 3 * np.eye(m.shape[-1])


def fd_grad(f: Callable, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of scalar f (run on plain NumPy arrays) in every element of x."""
    return differences(lambda a: float(f(a)), [np.array(x, dtype=np.float64)], [0], step)[0]


def torch_or_skip() -> Any:
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- traced NumPy: value and gradient

# scalar functions of M, each a different spelling a NumPy user would write
NUMPY_PROGRAMS: dict[str, Callable] = {
    "cholesky": lambda m: (np.linalg.cholesky(spd(m)) ** 2 * np.arange(1.0, 10.0).reshape(3, 3)).sum(),
    "cholesky_upper": lambda m: np.linalg.cholesky(spd(m), upper=True)[0, :].sum(),
    "cholesky_stacked": lambda m: np.sin(np.linalg.cholesky(spd(m))).sum(),
    "solve_matrix": lambda m: np.tanh(np.linalg.solve(invertible(m), B3)).sum(),
    "solve_vector": lambda m: (np.linalg.solve(invertible(m), V3) ** 2).sum(),
    "solve_stacked": lambda m: np.linalg.solve(invertible(m), B3).sum(),
    "inv": lambda m: (np.linalg.inv(invertible(m)) @ V3).sum(),
    "inv_stacked": lambda m: np.linalg.inv(invertible(m))[..., 0, :].sum(),
    "det": lambda m: np.linalg.det(invertible(m)),
    "det_stacked": lambda m: np.linalg.det(invertible(m)).prod(),
    "slogdet": lambda m: np.linalg.slogdet(invertible(m))[1],
    "slogdet_fields": lambda m: (np.linalg.slogdet(invertible(m)).logabsdet
                                 * np.linalg.slogdet(invertible(m)).sign).sum(),
    "eigvalsh": lambda m: np.linalg.eigvalsh(spd(m)) @ np.array([1.0, -2.0, 3.0]),
    "eigvalsh_upper": lambda m: np.linalg.eigvalsh(spd(m), UPLO="U")[-1],
    "eigh": lambda m: (np.linalg.eigh(spd(m))[1] ** 2 * np.arange(9.0).reshape(3, 3)).sum()
    + np.linalg.eigh(spd(m)).eigenvalues.sum(),
    "eigh_stacked": lambda m: (np.abs(np.linalg.eigh(spd(m)).eigenvectors[..., 0, :])).sum(),
}
STACKED = {"cholesky_stacked", "solve_stacked", "inv_stacked", "det_stacked", "eigh_stacked"}


def _input(name: str) -> np.ndarray:
    return M_STACK if name in STACKED else M3


@pytest.mark.parametrize("name", NUMPY_PROGRAMS)
def test_traced_numpy_value_and_gradient(name: str) -> None:
    """Compiled value equals NumPy's; compiled gradient equals central differences and the
    eager tape (the same program run on an eager Tensor through __array_function__)."""
    f, m = NUMPY_PROGRAMS[name], _input(name)
    np.testing.assert_allclose(symgrad.compile(f)(m), f(m), **SAME)
    got = symgrad.grad(f)(m)
    np.testing.assert_allclose(got, fd_grad(f, m), **FD)
    t = symgrad.tensor(m, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(got, t.grad.numpy(), **SAME)


@pytest.mark.parametrize("name", ["cholesky", "solve_matrix", "inv", "det", "slogdet", "eigh", "eigvalsh"])
def test_hessian_matches_differences_of_the_gradient(name: str) -> None:
    """The VJP rules are made of registered ops, so they differentiate again."""
    f = NUMPY_PROGRAMS[name]
    grad = symgrad.grad(f)
    want = np.stack([fd_grad(lambda a, k=k: grad(a).ravel()[k], M3, 1e-5) for k in range(9)])
    got = symgrad.hessian(f)(M3).reshape(9, 9)
    np.testing.assert_allclose(got, want.reshape(9, 9), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, got.T, rtol=1e-9, atol=1e-10)


JACOBIAN_PROGRAMS = {
    "cholesky": lambda m: np.linalg.cholesky(spd(m)),
    "solve": lambda m: np.linalg.solve(invertible(m), B3),
    "inv": lambda m: np.linalg.inv(invertible(m)),
    "det": lambda m: np.linalg.det(invertible(m)),
    "slogdet": lambda m: np.linalg.slogdet(invertible(m)).logabsdet,
    "eigvalsh": lambda m: np.linalg.eigvalsh(spd(m)),
    "eigh": lambda m: np.linalg.eigh(spd(m)).eigenvectors[..., 0, :] * np.linalg.eigh(spd(m)).eigenvectors,
}


@pytest.mark.parametrize("name", JACOBIAN_PROGRAMS)
def test_jacobian_is_one_batched_pass(name: str) -> None:
    """jacobian runs the batching rules (no per-row `cat` in its graph) and matches differences."""
    f = JACOBIAN_PROGRAMS[name]
    jac = symgrad.jacobian(f)
    out = np.asarray(f(M3))
    want = np.stack([fd_grad(lambda a, k=k: np.ravel(f(a))[k], M3) for k in range(out.size)])
    np.testing.assert_allclose(jac(M3).reshape(want.shape), want, **FD)
    ops = {n.op for n in symgrad.jacobian(f, passes=()).graph(M3).nodes}
    assert "cat" not in ops


def test_batching_rules_match_a_loop_over_examples() -> None:
    """Each primitive applied to a batch of stacked examples equals a loop over them."""
    from symgrad.ops import OPS
    a = invertible(RNG.standard_normal((4, 2, 3, 3)))
    s = spd(a)
    b = RNG.standard_normal((4, 3, 2))
    for name, x in [("cholesky", s), ("inv", a), ("det", a), ("logabsdet", a), ("eigvalsh", s)]:
        op = OPS[name]
        got = op.batch(op, (symgrad.tensor(x),), (True,), {}, 4).numpy()
        np.testing.assert_allclose(got, np.stack([op.forward(e) for e in x]), **SAME)
    solve = OPS["solve"]
    both = solve.batch(solve, (symgrad.tensor(a), symgrad.tensor(b)), (True, True), {}, 4).numpy()
    np.testing.assert_allclose(both, np.stack([np.linalg.solve(x, y) for x, y in zip(a, b)]), **SAME)
    one = solve.batch(solve, (a[0], symgrad.tensor(b)), (False, True), {}, 4).numpy()
    np.testing.assert_allclose(one, np.stack([np.linalg.solve(a[0], y[None]) for y in b]), **SAME)


# ---------------------------------------------------------------- eager against PyTorch

# a function of (module, matrix), run with module symgrad and torch, and its input; each
# output is reduced with fixed weights
EAGER: dict[str, tuple[Callable, Callable]] = {
    "linalg.cholesky": (lambda s, a: s.linalg.cholesky(spd(a)), lambda: M3),
    "linalg.cholesky_upper": (lambda s, a: s.linalg.cholesky(spd(a), upper=True), lambda: M_STACK),
    "cholesky": (lambda s, a: s.cholesky(spd(a)), lambda: M3),
    "cholesky_upper": (lambda s, a: s.cholesky(spd(a), upper=True), lambda: M3),
    "method_cholesky": (lambda s, a: spd(a).cholesky(), lambda: M_STACK),
    "linalg.solve": (lambda s, a: s.linalg.solve(a, s.tensor(B3)), lambda: invertible(M3)),
    "linalg.solve_batch_of_vectors": (lambda s, a: s.linalg.solve(a, s.tensor(B3.T)),
                                      lambda: invertible(M_STACK)),
    "linalg.solve_right": (lambda s, a: s.linalg.solve(a, s.tensor(B3.T), left=False),
                           lambda: invertible(M3)),
    "linalg.inv": (lambda s, a: s.linalg.inv(a), lambda: invertible(M_STACK)),
    "inverse": (lambda s, a: s.inverse(a), lambda: invertible(M3)),
    "method_inverse": (lambda s, a: a.inverse(), lambda: invertible(M3)),
    "linalg.det": (lambda s, a: s.linalg.det(a), lambda: invertible(M_STACK)),
    "det": (lambda s, a: s.det(a), lambda: invertible(M3)),
    "method_det": (lambda s, a: a.det(), lambda: invertible(M3)),
    "linalg.slogdet": (lambda s, a: s.linalg.slogdet(a).logabsdet, lambda: invertible(M_STACK)),
    "slogdet": (lambda s, a: s.slogdet(a)[1], lambda: invertible(M3)),
    "method_slogdet": (lambda s, a: a.slogdet().logabsdet, lambda: invertible(M3)),
    "logdet": (lambda s, a: s.logdet(a), lambda: invertible(M_STACK)),
    "method_logdet": (lambda s, a: a.logdet(), lambda: invertible(M3)),
    "linalg.eigvalsh": (lambda s, a: s.linalg.eigvalsh(spd(a)), lambda: M_STACK),
    "linalg.eigh_values": (lambda s, a: s.linalg.eigh(spd(a)).eigenvalues, lambda: M3),
    "linalg.eigh_vectors": (lambda s, a: (lambda v: v * v[..., :1, :])(s.linalg.eigh(spd(a))[1]),
                            lambda: M_STACK),
    "linalg.eigh_upper": (lambda s, a: s.linalg.eigh(spd(a), UPLO="U").eigenvalues, lambda: M3),
}


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.parametrize("name", EAGER)
def test_eager_matches_torch(name: str) -> None:
    """Value, grad_fn name and gradient (of a fixed weighting of the output) as PyTorch's."""
    torch = torch_or_skip()
    fn, make = EAGER[name]
    a = make()
    assert_eager_matches_torch(torch, fn, a, SAME, SAME)


@pytest.mark.parametrize("name", ["linalg.cholesky", "linalg.solve", "linalg.inv", "det", "linalg.slogdet",
                                  "linalg.eigh_vectors", "logdet"])
def test_eager_compiled_and_create_graph_agree(name: str) -> None:
    """The torch-style program compiled (traced with symgrad.grad) equals the eager tape, and
    eager second derivatives (create_graph) equal the compiled Hessian."""
    fn, make = EAGER[name]
    a = make()

    def loss(x: Any) -> Any:
        return (fn(symgrad, x) ** 2).sum()

    t = symgrad.tensor(a, requires_grad=True)
    (g,) = symgrad.autograd.grad(loss(t), t, create_graph=True)
    np.testing.assert_allclose(symgrad.grad(loss)(a), g.detach().numpy(), **SAME)
    (gg,) = symgrad.autograd.grad((g * symgrad.tensor(np.ones(a.shape))).sum(), t)
    hess = symgrad.hessian(loss)(a).reshape(a.size, a.size)
    np.testing.assert_allclose(hess.sum(0).reshape(a.shape), gg.numpy(), rtol=1e-9, atol=1e-9)


def test_result_types() -> None:
    """NumPy 2's SlogdetResult/EighResult when traced; torch.return_types' names eagerly."""
    torch_names = {"slogdet": symgrad.slogdet, "linalg_slogdet": symgrad.linalg.slogdet}
    a = symgrad.tensor(invertible(M3))
    for tname, fn in torch_names.items():
        r = fn(a)
        assert type(r).__name__ == tname and r._fields == ("sign", "logabsdet")
    assert type(symgrad.linalg.eigh(spd(a))).__name__ == "linalg_eigh"
    seen = {}

    def f(m: Any) -> Any:
        r, e = np.linalg.slogdet(m), np.linalg.eigh(spd(m))
        seen["fields"] = (r._fields, e._fields)
        sign, logabsdet = r
        return logabsdet * sign + e.eigenvalues.sum()

    symgrad.grad(f)(invertible(M3))
    assert seen["fields"] == (np.linalg.slogdet(M3)._fields, np.linalg.eigh(spd(M3))._fields)
    sign = symgrad.linalg.slogdet(symgrad.tensor(-invertible(M3), requires_grad=True)).sign
    assert sign.item() == -1.0 and not sign.requires_grad  # no gradient (PyTorch's is zero)


def test_logdet_of_a_negative_determinant_is_nan() -> None:
    a = -invertible(M3)
    assert np.isnan(symgrad.logdet(symgrad.tensor(a)).item())
    torch = torch_or_skip()
    assert np.isnan(torch.logdet(torch.tensor(a)).item())


# ---------------------------------------------------------------- norms

X = RNG.standard_normal((3, 4))
X3 = RNG.standard_normal((2, 3, 4))
NORM_CASES = [  # (input, ord, axis, keepdims)
    (X, None, None, False), (X, None, None, True), (X3, None, None, False), (X, "fro", None, False),
    (X, "nuc", None, False), (X, 1, None, False), (X, -1, None, True), (X, 2, None, False),
    (X, -2, None, False), (X, np.inf, None, False), (X, -np.inf, None, True),
    (X[0], None, None, False), (X[0], 1, None, False), (X[0], 2, None, False), (X[0], 3, None, False),
    (X[0], 0.5, None, False), (X[0], -1, None, False), (X[0], np.inf, None, False),
    (X[0], -np.inf, None, False), (X[0], 0, None, False),
    (X, None, -1, False), (X, 1, 0, True), (X, np.inf, 1, False), (X3, 3, -1, True),
    (X3, None, (1, 2), False), (X3, "fro", (-1, 0), True), (X3, 2, (1, 2), False),
    (X3, "nuc", (2, 1), True), (X3, 1, (0, 2), False), (X3, -np.inf, (-2, -1), True),
    (X3.transpose(0, 2, 1), -2, (1, 2), False), (X3, np.inf, (2, 0), True),
]


@pytest.mark.parametrize("x, ord, axis, keepdims", NORM_CASES, ids=[f"{x.shape}-{o}-{a}-{k}"
                         for x, o, a, k in NORM_CASES])
def test_numpy_norm(x: np.ndarray, ord: Any, axis: Any, keepdims: bool) -> None:
    """np.linalg.norm of every order, traced: value and shape as NumPy, gradient as differences."""
    def f(v: Any) -> Any:
        return np.linalg.norm(v, ord, axis, keepdims)

    want = np.linalg.norm(x, ord, axis, keepdims)
    got = symgrad.compile(f)(x)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    weight = np.cos(np.arange(np.size(want), dtype=float)).reshape(np.shape(want))

    def loss(v: Any) -> Any:
        return (f(v) * weight).sum()

    np.testing.assert_allclose(symgrad.grad(loss)(x), fd_grad(loss, x), **FD)


def test_norm_keyword_spellings_and_hessian() -> None:
    v = X[1]
    for f in (lambda a: np.linalg.norm(a), lambda a: np.linalg.norm(a, ord=2, axis=-1),
              lambda a: np.linalg.norm(a, axis=0, keepdims=False), lambda a: np.linalg.norm(a, 2, 0)):
        np.testing.assert_allclose(symgrad.grad(f)(v), v / np.linalg.norm(v), **SAME)
    hess = symgrad.hessian(lambda a: np.linalg.norm(a))(v)
    n = np.linalg.norm(v)
    np.testing.assert_allclose(hess, (np.eye(4) - np.outer(v, v) / n**2) / n, **SAME)


@pytest.mark.parametrize("ord", [2, 1, 3, np.inf])
def test_norm_gradient_at_zero_is_zero_as_pytorch(ord: float) -> None:
    """The subgradient 0 where the norm is 0 (not 0 * inf = nan), eager and compiled."""
    x = np.zeros(3)
    t = symgrad.tensor(x, requires_grad=True)
    symgrad.linalg.vector_norm(t, ord).backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(symgrad.grad(lambda v: np.linalg.norm(v, ord))(x), np.zeros(3))
    torch = torch_or_skip()
    tt = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch.linalg.vector_norm(tt, ord).backward()
    np.testing.assert_array_equal(tt.grad.numpy(), np.zeros(3))


TORCH_NORMS = [  # (a function of (module, x), input)
    (lambda s, x: s.linalg.norm(x), X3), (lambda s, x: s.linalg.norm(x, 2), X),
    (lambda s, x: s.linalg.norm(x, "nuc"), X), (lambda s, x: s.linalg.norm(x, -1), X),
    (lambda s, x: s.linalg.norm(x, float("inf"), dim=(0, 2), keepdim=True), X3),
    (lambda s, x: s.linalg.norm(x, 3, dim=-1), X), (lambda s, x: s.linalg.norm(x[0], float("-inf")), X),
    (lambda s, x: s.linalg.vector_norm(x), X3), (lambda s, x: s.linalg.vector_norm(x, 1, dim=(0, 1)), X3),
    (lambda s, x: s.linalg.vector_norm(x, 0.5, dim=-1, keepdim=True), X),
    (lambda s, x: s.linalg.vector_norm(x, float("inf")), X),
    (lambda s, x: s.linalg.matrix_norm(x), X3), (lambda s, x: s.linalg.matrix_norm(x, -2), X3),
    (lambda s, x: s.linalg.matrix_norm(x, 1, dim=(2, 0)), X3),
    (lambda s, x: s.linalg.matrix_norm(x, "nuc", keepdim=True), X3),
    (lambda s, x: s.norm(x), X3), (lambda s, x: s.norm(x, dim=1), X3),
    (lambda s, x: x.norm(), X), (lambda s, x: x.norm(1), X3), (lambda s, x: x.norm(2, dim=(0, 1)), X3),
    (lambda s, x: x.norm("nuc"), X), (lambda s, x: x.norm(p=3, dim=-1, keepdim=True), X3),
]


@pytest.mark.parametrize("k", range(len(TORCH_NORMS)))
def test_torch_norms(k: int) -> None:
    """symgrad.linalg.norm / vector_norm / matrix_norm / Tensor.norm as PyTorch's: value,
    grad_fn name and gradient; and compiled (traced) as eager."""
    torch = torch_or_skip()
    fn, x = TORCH_NORMS[k]
    t, tt = symgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = fn(symgrad, t), fn(torch, tt)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert y.grad_fn.name() == type(yt.grad_fn).__name__
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(symgrad.grad(lambda v: fn(symgrad, v).sum())(x), t.grad.numpy(), **SAME)


# ---------------------------------------------------------------- a realistic program

POINTS = np.linspace(0.0, 3.0, 6)
Y = np.sin(POINTS) + 0.1 * np.cos(7 * POINTS)


def kernel(params: Any) -> Any:
    """A squared-exponential kernel matrix with noise, from (log amplitude, log length, log noise)."""
    d = (POINTS[:, None] - POINTS[None, :]) ** 2
    return np.exp(params[0]) * np.exp(-0.5 * d / np.exp(2 * params[1])) + np.exp(params[2]) * np.eye(6)


def loglik_cholesky(params: Any) -> Any:
    k = kernel(params)
    chol = np.linalg.cholesky(k)
    alpha = np.linalg.solve(k, Y)
    diag = (chol * np.eye(6)).sum(-1)
    return -0.5 * (Y @ alpha) - np.log(diag).sum() - 3 * np.log(2 * np.pi)


def loglik_slogdet(params: Any) -> Any:
    k = kernel(params)
    _, logdet = np.linalg.slogdet(k)
    return -0.5 * (Y @ np.linalg.solve(k, Y[:, None]))[0] - 0.5 * logdet - 3 * np.log(2 * np.pi)


def loglik_inv(params: Any) -> Any:
    k = kernel(params)
    return -0.5 * Y @ np.linalg.inv(k) @ Y - 0.5 * np.log(np.linalg.det(k)) - 3 * np.log(2 * np.pi)


def test_gaussian_process_log_likelihood_three_ways() -> None:
    """cholesky+solve, slogdet+solve and inv+det give one likelihood and one gradient in the
    kernel's hyperparameters, compiled and eager; and the Hessian is symmetric and as differences."""
    params = np.array([0.3, -0.2, -2.0])
    values = [f(params) for f in (loglik_cholesky, loglik_slogdet, loglik_inv)]
    np.testing.assert_allclose(values, values[0], rtol=1e-10)
    grads = [symgrad.grad(f)(params) for f in (loglik_cholesky, loglik_slogdet, loglik_inv)]
    for g in grads:
        np.testing.assert_allclose(g, grads[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grads[0], fd_grad(loglik_cholesky, params), **FD)
    t = symgrad.tensor(params, requires_grad=True)
    loglik_cholesky(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), grads[0], **SAME)
    hessians = [symgrad.hessian(f)(params) for f in (loglik_cholesky, loglik_slogdet, loglik_inv)]
    grad = symgrad.grad(loglik_slogdet)
    want = np.stack([fd_grad(lambda p, k=k: grad(p)[k], params, 1e-5) for k in range(3)])
    for h in hessians:
        np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", [np.linalg.cholesky, np.linalg.inv, np.linalg.det, np.linalg.slogdet,
                                np.linalg.eigh, np.linalg.eigvalsh, lambda a: np.linalg.solve(a, V3)])
def test_numpy_non_square_raises_linalg_error(fn: Callable) -> None:
    with pytest.raises(np.linalg.LinAlgError, match="must be square.*3 by 4"):
        symgrad.grad(lambda a: np.sum(fn(a)[0]))(np.ones((3, 4)))
    with pytest.raises(np.linalg.LinAlgError, match="1-dimensional array given"):
        symgrad.grad(lambda a: np.sum(fn(a)[0]))(np.ones(3))


@pytest.mark.parametrize("fn", [symgrad.linalg.cholesky, symgrad.linalg.inv, symgrad.det, symgrad.inverse,
                                lambda a: a.det(), symgrad.linalg.slogdet, symgrad.linalg.eigh,
                                lambda a: symgrad.linalg.solve(a, symgrad.ones(2))])
def test_torch_non_square_raises_runtime_error(fn: Callable) -> None:
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3"):
        fn(symgrad.ones(4, 2, 3, dtype=symgrad.float64, requires_grad=True))


def test_other_bad_arguments() -> None:
    a = symgrad.tensor(invertible(M3))
    with pytest.raises(ValueError, match="core dimension|right-hand side"):
        np.linalg.solve(a, np.ones(4))
    with pytest.raises(ValueError, match="UPLO"):
        symgrad.linalg.eigh(a, UPLO="X")
    with pytest.raises(ValueError, match="Invalid norm order 'fro' for vectors"):
        np.linalg.norm(a[0], "fro")
    with pytest.raises(ValueError, match="Invalid norm order 3 for matrices"):
        np.linalg.norm(a, 3)
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        np.linalg.norm(symgrad.ones(2, 2, 2), 2)
    out = symgrad.empty(3, 3)  # PyTorch's out= writes the result (it is not refused)
    symgrad.linalg.inv(a, out=out)
    np.testing.assert_allclose(out.numpy(), np.linalg.inv(a.numpy()))
