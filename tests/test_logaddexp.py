"""logaddexp and logaddexp2 are one primitive, spelled many ways: np.logaddexp traced or on
eager tensors, torch.logaddexp, Tensor.logaddexp. Their values are NumPy's where one term
dominates and at the infinities (a shifted composite gave nan at (-inf, -inf), and y +
softplus(x - y) gave 0 for logaddexp(1, -1e17)); their gradient is torch's, sigmoid(x - y)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numeric import differences

import symgrad

INF, NAN = np.inf, np.nan
# pairs (x, y) holding what the formulas get wrong: equal infinities, one infinite, a nan,
# one term dominating by far, ties, and ordinary values
X = np.array([-INF, INF, -INF, 1.0, INF, INF, NAN, 1.0, -1e17, 3.0, 0.5, -2.0, 700.0])
Y = np.array([-INF, INF, 1.0, -INF, 1.0, -INF, 1.0, -1e17, 1.0, 3.0, -0.25, 1.5, 710.0])

TRACED = {
    "np.logaddexp": lambda x, y: np.logaddexp(x, y),
    "reversed operands": lambda x, y: np.logaddexp(y, x),
    "np.logaddexp2 * ln 2 at 2-based inputs": lambda x, y: np.logaddexp2(x / np.log(2), y / np.log(2))
    * np.log(2),
}
EAGER = {
    "torch.logaddexp": lambda t, x, y: t.logaddexp(x, y),
    "Tensor.logaddexp": lambda t, x, y: x.logaddexp(y),
    "np.logaddexp on tensors": lambda t, x, y: np.logaddexp(x, y),
}


def _quiet(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _torch_formula(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's LogaddexpBackward0 for a cotangent of ones: 1 / (1 + exp(y - x)), and x's
    and y's roles swapped."""
    with np.errstate(all="ignore"):
        return 1 / (1 + np.exp(y - x)), 1 / (1 + np.exp(x - y))


@pytest.mark.parametrize("name", TRACED)
def test_traced_values_are_numpys(name):
    got = _quiet(symgrad.compile(TRACED[name]), X, Y)
    want = _quiet(np.logaddexp, X, Y)
    np.testing.assert_allclose(got, want, rtol=1e-15 if "2" not in name else 1e-13, atol=0)


@pytest.mark.parametrize("name", TRACED)
def test_traced_gradient_is_sigmoid_of_the_difference(name):
    gx, gy = _quiet(symgrad.grad(lambda x, y: np.sum(TRACED[name](x, y)), argnums=(0, 1)), X, Y)
    wx, wy = _torch_formula(X, Y)
    np.testing.assert_allclose(gx, wx, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(gy, wy, rtol=1e-13, atol=1e-300)
    assert gx[4] == 1 and gy[4] == 0  # x = +inf: torch's 1 and 0, not inf / inf


def test_a_literal_zero_is_softplus():
    f = symgrad.grad(lambda z: np.sum(np.logaddexp(0.0, z) + np.logaddexp(z, 0)))
    z = np.linspace(-30, 30, 7)
    np.testing.assert_allclose(f(z), 2 / (1 + np.exp(-z)), rtol=1e-14)
    ops = {n.op for n in f.graph(z).nodes}
    assert "sigmoid" in ops and "logaddexp" not in ops and "sub" not in ops  # softplus' gradient


def test_finite_differences_on_finite_inputs():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=6) * 3, rng.normal(size=6) * 3
    for fn in TRACED.values():
        loss = lambda a, b, fn=fn: np.sum(np.sin(a) * fn(a, b))  # noqa: E731
        got = symgrad.grad(loss, argnums=(0, 1))(x, y)
        for g, ref in zip(got, differences(loss, [x, y], [0, 1])):
            np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", EAGER)
def test_eager_against_torch(name):
    torch = pytest.importorskip("torch")

    def run(lib, fn):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y, dtype=lib.float64, requires_grad=True)
        z = fn(lib, x, y)
        (z * lib.arange(1.0, len(X) + 1, dtype=lib.float64)).sum().backward()
        return z.detach().numpy(), x.grad.numpy(), y.grad.numpy()
    got = _quiet(run, symgrad, EAGER[name])
    want = run(torch, lambda t, x, y: t.logaddexp(x, y))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=0)


def test_eager_names_and_float32():
    x = symgrad.tensor([1.0, 2.0], requires_grad=True)
    assert type(symgrad.logaddexp(x, x * 2).grad_fn).__name__ == "LogaddexpBackward0"
    assert type(x.logaddexp2(x).grad_fn).__name__ == "Logaddexp2Backward0"
    assert symgrad.logaddexp(x, 1.0).dtype == symgrad.float32


def test_logaddexp2_against_numpy_and_its_gradient():
    got = _quiet(symgrad.compile(lambda x, y: np.logaddexp2(x, y)), X, Y)
    np.testing.assert_allclose(got, _quiet(np.logaddexp2, X, Y), rtol=1e-14, atol=0)
    gx, gy = _quiet(symgrad.grad(lambda x, y: np.sum(np.logaddexp2(x, y)), argnums=(0, 1)), X, Y)
    wx, wy = _torch_formula(X * np.log(2), Y * np.log(2))
    np.testing.assert_allclose(gx, wx, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(gy, wy, rtol=1e-13, atol=1e-300)
