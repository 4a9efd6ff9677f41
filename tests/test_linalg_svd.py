"""The SVD family: svd, svdvals, qr, pinv and lstsq, on both faces.

Traced NumPy (`np.linalg.svd(a)` inside `symgrad.grad`) and eager PyTorch-style
(`symgrad.linalg.svd(t)`): values against NumPy, gradients against central differences
(first order, and the Hessian against differences of the gradient), compiled against eager,
eager against PyTorch (value, gradient, grad_fn name), Jacobians through the batching rules,
and gradients against JAX where it is installed. Singular vectors have an arbitrary sign,
so every function of them checked here is blind to it (|U|, U diag(s) U^T, U * U[0]).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import assert_eager_matches_torch, differences

import symgrad

RNG = np.random.default_rng(11)
TALL = RNG.standard_normal((4, 3))
WIDE = RNG.standard_normal((3, 4))
SQUARE = RNG.standard_normal((3, 3))
STACK = RNG.standard_normal((2, 4, 3))
B = RNG.standard_normal((4, 2))
BV = RNG.standard_normal(4)
FD = {"rtol": 1e-6, "atol": 1e-7}
SAME = {"rtol": 1e-10, "atol": 1e-12}


def fd_grad(f: Callable, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of scalar f (run on plain NumPy arrays) in every element of x."""
    return differences(lambda a: float(f(a)), [np.array(x, dtype=np.float64)], [0], step)[0]


def signless(u: Any) -> Any:
    """Singular vectors (columns) times their first components: the same for either sign."""
    return u * u[..., :1, :]


# ---------------------------------------------------------------- traced NumPy: value and gradient

# (scalar function of a matrix, its input): the spellings a NumPy user would write
NUMPY_PROGRAMS: dict[str, tuple[Callable, np.ndarray]] = {
    "svd_values": (lambda a: np.linalg.svd(a)[1].sum(), TALL),
    "svd_compute_uv_false": (lambda a: np.linalg.svd(a, compute_uv=False) @ np.array([1.0, -2.0, 3.0]), WIDE),
    "svdvals": (lambda a: np.linalg.svdvals(a)[0], SQUARE),
    "svd_stacked_values": (lambda a: np.sin(np.linalg.svd(a, full_matrices=False).S).sum(), STACK),
    "svd_abs_u": (lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[0]).sum(), TALL),
    "svd_abs_vh_wide": (lambda a: (np.abs(np.linalg.svd(a, full_matrices=False).Vh) * np.arange(12.0)
                                   .reshape(3, 4)).sum(), WIDE),
    "svd_u_s_ut": (lambda a: np.tanh((lambda u, s: (u * s) @ u.T)(*np.linalg.svd(a, full_matrices=False)[:2]))
                   .sum(), TALL),
    "svd_reconstruction_norm": (lambda a: np.linalg.norm((lambda u, s, vh: u @ np.diag(s) @ vh)(
        *np.linalg.svd(a, full_matrices=False))), WIDE),
    "svd_full_first_columns": (lambda a: np.abs(np.linalg.svd(a)[0][:, :3]).sum()
                               + np.abs(np.linalg.svd(a).Vh).sum(), TALL),
    "svd_stacked_vectors": (lambda a: (signless(np.linalg.svd(a, full_matrices=False).U) ** 2).sum()
                            + (signless(np.swapaxes(np.linalg.svd(a, full_matrices=False)[2], -1, -2))
                               * np.cos(np.arange(9.0)).reshape(3, 3)).sum(), STACK),
    "qr_q": (lambda a: (np.linalg.qr(a)[0] * np.arange(12.0).reshape(4, 3)).sum(), TALL),
    "qr_fields": (lambda a: np.exp(np.linalg.qr(a).R).sum() + np.linalg.qr(a).Q[0].sum(), SQUARE),
    "qr_mode_r": (lambda a: (np.linalg.qr(a, mode="r") ** 2 * np.arange(9.0).reshape(3, 3)).sum(), TALL),
    "qr_wide": (lambda a: np.sin(np.linalg.qr(a, mode="reduced").R).sum() + np.linalg.qr(a)[0][1].sum(),
                WIDE),
    "qr_stacked": (lambda a: (np.linalg.qr(a)[0][..., 0, :] * np.linalg.qr(a)[1][..., 0, :]).sum(), STACK),
    "pinv": (lambda a: (np.linalg.pinv(a) * np.arange(12.0).reshape(3, 4)).sum(), TALL),
    "pinv_rtol": (lambda a: np.tanh(np.linalg.pinv(a, rtol=None)).sum(), WIDE),
    "pinv_rcond_stacked": (lambda a: (np.linalg.pinv(a, rcond=1e-12) @ BV).sum(), STACK),
    "lstsq_solution": (lambda a: (np.linalg.lstsq(a, B)[0] * np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, 1.0]]))
                       .sum(), TALL),
    "lstsq_vector": (lambda a: np.linalg.lstsq(a, BV, rcond=None)[0] @ np.array([1.0, -2.0, 0.5]), TALL),
    "lstsq_wide": (lambda a: (np.linalg.lstsq(a, B[:3])[0] ** 2).sum(), WIDE),
    "lstsq_residuals": (lambda a: np.linalg.lstsq(a, B)[1] @ np.array([1.0, 2.0]), TALL),
    "lstsq_singular_values": (lambda a: np.linalg.lstsq(a, BV)[3].sum(), TALL),
}


@pytest.mark.parametrize("name", NUMPY_PROGRAMS)
def test_traced_numpy_value_and_gradient(name: str) -> None:
    """Compiled value equals NumPy's; compiled gradient equals central differences and the
    eager tape (the same program run on an eager Tensor through __array_function__)."""
    f, a = NUMPY_PROGRAMS[name]
    np.testing.assert_allclose(symgrad.compile(f)(a), f(a), **SAME)
    got = symgrad.grad(f)(a)
    np.testing.assert_allclose(got, fd_grad(f, a), **FD)
    t = symgrad.tensor(a, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(got, t.grad.numpy(), **SAME)


@pytest.mark.parametrize("name", ["svd_values", "svdvals", "svd_abs_u", "svd_u_s_ut", "qr_fields", "qr_wide",
                                  "pinv", "lstsq_solution", "lstsq_vector"])
def test_hessian_matches_differences_of_the_gradient(name: str) -> None:
    """The VJP rules are made of registered ops, so they differentiate again."""
    f, a = NUMPY_PROGRAMS[name]
    grad = symgrad.grad(f)
    want = np.stack([fd_grad(lambda x, k=k: grad(x).ravel()[k], a, 1e-5).ravel() for k in range(a.size)])
    got = symgrad.hessian(f)(a).reshape(a.size, a.size)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, got.T, rtol=1e-8, atol=1e-9)


JACOBIAN_PROGRAMS: dict[str, tuple[Callable, np.ndarray]] = {
    "svdvals": (lambda a: np.linalg.svdvals(a), TALL),
    "svd_vectors": (lambda a: signless(np.linalg.svd(a, full_matrices=False)[0]), WIDE),
    "svd_vh": (lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[2]), TALL),
    "qr": (lambda a: np.linalg.qr(a)[0] + np.linalg.qr(a)[1].sum(), TALL),
    "qr_wide": (lambda a: np.linalg.qr(a, mode="r"), WIDE),
    "pinv": (lambda a: np.linalg.pinv(a), TALL),
    "lstsq": (lambda a: np.linalg.lstsq(a, B)[0], TALL),
}


@pytest.mark.parametrize("name", JACOBIAN_PROGRAMS)
def test_jacobian_is_one_batched_pass(name: str) -> None:
    """jacobian runs the batching rules (no per-row `cat` in its graph) and matches differences."""
    f, a = JACOBIAN_PROGRAMS[name]
    out = np.asarray(f(a))
    want = np.stack([fd_grad(lambda x, k=k: np.ravel(f(x))[k], a) for k in range(out.size)])
    np.testing.assert_allclose(symgrad.jacobian(f)(a).reshape(want.shape), want, **FD)
    ops = {n.op for n in symgrad.jacobian(f, passes=()).graph(a).nodes}
    assert "cat" not in ops or name == "qr_wide"  # the wide QR's own rule joins two blocks


def test_batching_rules_match_a_loop_over_examples() -> None:
    """Each primitive applied to a batch of stacked examples equals a loop over them."""
    from symgrad.ops import OPS
    a = RNG.standard_normal((3, 2, 4, 3))
    for name, params in [("svdvals", {}), ("svd_u", {"full": False}), ("svd_u", {"full": True}),
                         ("svd_vh", {"full": False}), ("qr_q", {"mode": "reduced"}),
                         ("qr_r", {"mode": "complete"})]:
        op = OPS[name]
        got = op.batch(op, (symgrad.tensor(a),), (True,), params, 3).numpy()
        np.testing.assert_allclose(got, np.stack([op.forward(e, **params) for e in a]), **SAME)


# ---------------------------------------------------------------- results NumPy gives

def test_numpy_results() -> None:
    """Shapes, result types and the values that carry no gradient: full U and Vh, R alone,
    lstsq's residuals, rank and singular values."""
    seen: dict[str, Any] = {}

    def f(a: Any) -> Any:
        seen["svd"] = np.linalg.svd(a)
        seen["qr"] = np.linalg.qr(a)
        seen["complete"] = np.linalg.qr(a, mode="complete")
        seen["lstsq"] = np.linalg.lstsq(a, B, rcond=None)
        return seen["svd"].S.sum()

    symgrad.grad(f)(TALL)
    assert type(seen["svd"]).__name__ == "SVDResult" and seen["svd"]._fields == ("U", "S", "Vh")
    assert type(seen["qr"]).__name__ == "QRResult" and seen["qr"]._fields == ("Q", "R")
    assert [v.shape for v in seen["svd"]] == [(4, 4), (3,), (3, 3)]
    assert [v.shape for v in seen["complete"]] == [(4, 4), (4, 3)]
    assert [np.shape(v) for v in seen["lstsq"]] == [(3, 2), (2,), (), (3,)]
    for fn in (lambda a: np.linalg.svd(a)[0], lambda a: np.linalg.qr(a, mode="complete")[0],
               lambda a: np.linalg.qr(a, "complete").R, lambda a: np.linalg.lstsq(a, B)[1],
               lambda a: np.linalg.lstsq(a, B)[2], lambda a: np.linalg.lstsq(a, BV)[1]):
        np.testing.assert_allclose(np.abs(symgrad.compile(fn)(TALL)), np.abs(fn(TALL)), **SAME)
    got = symgrad.compile(lambda a: np.linalg.lstsq(a, B[:3])[1])(WIDE)  # wide: no residuals
    assert got.shape == (0,)
    deficient = np.outer(np.arange(1.0, 5.0), [1.0, 2.0, 3.0])  # rank 1
    assert symgrad.compile(lambda a: np.linalg.lstsq(a, B)[2])(deficient) == 1
    np.testing.assert_allclose(symgrad.compile(np.linalg.pinv)(deficient), np.linalg.pinv(deficient), **SAME)


def test_torch_qr_mode_r_and_full_svd() -> None:
    """mode='r' gives an empty Q and R; full_matrices=True (the default) full U and Vh."""
    torch = pytest.importorskip("torch")
    for a in (TALL, WIDE):
        got, want = symgrad.linalg.qr(symgrad.tensor(a), mode="r"), torch.linalg.qr(torch.tensor(a), mode="r")
        assert type(got).__name__ == type(want).__name__ and got.Q.shape == tuple(want.Q.shape)
        np.testing.assert_allclose(got.R.numpy(), want.R.numpy(), **SAME)
        got, want = symgrad.linalg.svd(symgrad.tensor(a)), torch.linalg.svd(torch.tensor(a))
        assert type(got).__name__ == type(want).__name__ and all(hasattr(want, f) for f in got._fields)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.abs(g.numpy()), np.abs(w.numpy()), **SAME)


def test_full_u_gradient_ignores_its_extra_columns() -> None:
    """Full U's columns past min(m, n) are arbitrary: they get no gradient, as in PyTorch."""
    g = symgrad.grad(lambda a: np.linalg.svd(a)[0][:, 3:].sum())(TALL)
    np.testing.assert_array_equal(g, np.zeros_like(TALL))


# ---------------------------------------------------------------- eager against PyTorch

EAGER: dict[str, tuple[Callable, np.ndarray]] = {
    "linalg.svd_S": (lambda s, a: s.linalg.svd(a).S, TALL),
    "linalg.svd_U": (lambda s, a: signless(s.linalg.svd(a, full_matrices=False).U), WIDE),
    "linalg.svd_Vh": (lambda s, a: signless(s.linalg.svd(a, False)[2].mT), STACK),
    "linalg.svd_full_square": (lambda s, a: signless(s.linalg.svd(a)[0]), SQUARE),
    "linalg.svdvals": (lambda s, a: s.linalg.svdvals(a), STACK),
    "linalg.qr_Q": (lambda s, a: s.linalg.qr(a).Q, TALL),
    "linalg.qr_R": (lambda s, a: s.linalg.qr(a, mode="reduced")[1], STACK),
    "linalg.qr_wide": (lambda s, a: s.linalg.qr(a).R, WIDE),
    "linalg.pinv": (lambda s, a: s.linalg.pinv(a), TALL),
    "linalg.pinv_atol": (lambda s, a: s.linalg.pinv(a, atol=1e-8), STACK),
    "linalg.lstsq": (lambda s, a: s.linalg.lstsq(a, s.tensor(B)).solution, TALL),
    "linalg.lstsq_vector": (lambda s, a: s.linalg.lstsq(a, s.tensor(BV))[0], TALL),
    "linalg.lstsq_batched": (lambda s, a: s.linalg.lstsq(a, s.tensor(B[None]), driver="gelsd").solution,
                             STACK),
    "linalg.lstsq_residuals": (lambda s, a: s.linalg.lstsq(a, s.tensor(B), driver="gelsd").residuals, TALL),
}


@pytest.mark.parametrize("name", EAGER)
def test_eager_matches_torch(name: str) -> None:
    """Value, grad_fn name and gradient (of a fixed weighting of the output) as PyTorch's."""
    torch = pytest.importorskip("torch")
    fn, a = EAGER[name]
    assert_eager_matches_torch(torch, fn, a, SAME, {"rtol": 1e-9, "atol": 1e-10})


def test_lstsq_fields_as_torch() -> None:
    """rank, residuals and singular values filled as PyTorch's CPU drivers fill them."""
    torch = pytest.importorskip("torch")
    for driver in (None, "gelsy", "gelsd", "gelss", "gels"):
        got = symgrad.linalg.lstsq(symgrad.tensor(STACK), symgrad.tensor(B[None]), driver=driver)
        want = torch.linalg.lstsq(torch.tensor(STACK), torch.tensor(B[None]), driver=driver)
        assert type(got).__name__ == type(want).__name__ and all(hasattr(want, f) for f in got._fields)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape), driver
            np.testing.assert_allclose(g.numpy(), w.numpy(), **SAME)


@pytest.mark.parametrize("name", ["linalg.svd_S", "linalg.svd_U", "linalg.qr_Q", "linalg.qr_wide",
                                  "linalg.pinv", "linalg.lstsq"])
def test_eager_compiled_and_create_graph_agree(name: str) -> None:
    """The torch-style program compiled (traced with symgrad.grad) equals the eager tape, and
    eager second derivatives (create_graph) equal the compiled Hessian."""
    fn, a = EAGER[name]

    def loss(x: Any) -> Any:
        return (fn(symgrad, x) ** 2).sum()

    t = symgrad.tensor(a, requires_grad=True)
    (g,) = symgrad.autograd.grad(loss(t), t, create_graph=True)
    np.testing.assert_allclose(symgrad.grad(loss)(a), g.detach().numpy(), **SAME)
    # retain_graph: a composite's (pinv's, lstsq's) inner walk frees nodes the outer walk of a
    # second-order graph still needs (an engine issue, reported)
    (gg,) = symgrad.autograd.grad((g * symgrad.tensor(np.ones(a.shape))).sum(), t, retain_graph=True)
    hess = symgrad.hessian(loss)(a).reshape(a.size, a.size)
    np.testing.assert_allclose(hess.sum(0).reshape(a.shape), gg.numpy(), rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------- against JAX

JAX_PROGRAMS = ["svd_stacked_values", "svd_abs_u", "svd_u_s_ut", "svd_stacked_vectors", "qr_q", "qr_wide",
                "pinv", "lstsq_solution"]


@pytest.mark.parametrize("name", JAX_PROGRAMS)
def test_gradient_matches_jax(name: str) -> None:
    """The same NumPy program run by jax.numpy: the gradient agrees with JAX's rules."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    f, a = NUMPY_PROGRAMS[name]

    in_jax = _with_module(f, jnp)  # the program with NumPy's module swapped for jax.numpy
    np.testing.assert_allclose(symgrad.grad(f)(a), np.asarray(jax.grad(in_jax)(jnp.asarray(a))),
                               rtol=1e-9, atol=1e-10)


def _with_module(f: Callable, module: Any) -> Callable:
    """f with its global `np` bound to `module`."""
    import types
    return types.FunctionType(f.__code__, {**f.__globals__, "np": module}, f.__name__, f.__defaults__,
                              f.__closure__)


# ---------------------------------------------------------------- bad input

def test_errors() -> None:
    """NumPy's and PyTorch's errors, of their types, naming the problem."""
    t = symgrad.tensor(np.ones(3))
    with pytest.raises(np.linalg.LinAlgError, match="at least two-dimensional"):
        symgrad.grad(lambda v: np.linalg.svd(v)[1].sum())(np.ones(3))
    with pytest.raises(RuntimeError, match="at least two-dimensional"):
        symgrad.linalg.svdvals(t)
    with pytest.raises(ValueError, match="Unrecognized mode"):
        symgrad.compile(lambda a: np.linalg.qr(a, mode="economic"))(TALL)
    with pytest.raises(ValueError, match="can't be both set"):
        symgrad.compile(lambda a: np.linalg.pinv(a, rcond=1e-3, rtol=1e-3))(TALL)
    with pytest.raises(np.linalg.LinAlgError, match="Incompatible dimensions"):
        symgrad.compile(lambda a: np.linalg.lstsq(a, np.ones(5))[0])(TALL)
    with pytest.raises(np.linalg.LinAlgError, match="two-dimensional"):
        symgrad.compile(lambda a: np.linalg.lstsq(a, B)[0])(STACK)
    with pytest.raises(RuntimeError, match="greater or equal"):
        symgrad.linalg.lstsq(symgrad.tensor(STACK), symgrad.tensor(BV))
    with pytest.raises(RuntimeError, match="should match"):
        symgrad.linalg.lstsq(symgrad.tensor(TALL), symgrad.tensor(np.ones((5, 2))))
    with pytest.raises(NotImplementedError, match="mode='complete'"):
        symgrad.grad(lambda a: np.linalg.qr(a, mode="complete")[0].sum())(TALL)
