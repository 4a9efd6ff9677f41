"""Numerics at the edges: the stable functions at magnitude 1e3, and binary cross-entropy at
saturated probabilities.

Each stable function is written the ways different users write it, eagerly (PyTorch's
spellings on `symgrad` tensors) and compiled (NumPy and SciPy spellings traced by
`symgrad.value_and_grad`, and the torch-style spellings traced too), in float32 and float64, at
vectors of magnitude 1e3 of either sign, mixed signs, and all equal. Values and gradients must
be finite and equal to PyTorch's stable function (and JAX's, when it is installed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad.nn import functional as F

torch = pytest.importorskip("torch")
scipy_special = pytest.importorskip("scipy.special")

POINTS = {
    "positive": [1000.0, 999.0, 1001.0, 1000.5],
    "negative": [-1000.0, -999.0, -1001.0, -1000.5],
    "mixed": [1000.0, -1000.0, 999.5, -999.5],
    "equal": [1000.0, 1000.0, 1000.0, 1000.0],
    "equal_negative": [-1000.0, -1000.0, -1000.0, -1000.0],
}
WEIGHTS = np.array([0.3, -1.2, 0.7, 2.0])  # a cotangent that is not all ones
LABELS = np.array([1.0, 0.0, 1.0, 0.0])
TARGET = 1  # the class of the cross-entropy cases


def _lse(x: Any) -> Any:
    """log(sum(exp(x))) as a person who has not heard of overflow writes it."""
    return np.log(np.sum(np.exp(x)))


def _shifted_lse(x: Any) -> Any:
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def _eager_shifted_lse(x: Any) -> Any:
    m = x.max().detach()
    return m + (x - m).exp().sum().log()


def _softmax(x: Any) -> Any:
    e = np.exp(x)
    return e / np.sum(e)


def _shifted_softmax(x: Any) -> Any:
    e = np.exp(x - np.max(x))
    return e / e.sum()


def _expit(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class Case:
    """One stable function: the PyTorch reference, its eager spellings and compiled spellings.

    Each takes the vector x and returns a scalar or a vector (weighted and summed into the loss)."""

    name: str
    torch: Callable[[Any], Any]
    eager: tuple[Callable[[Any], Any], ...]
    compiled: tuple[Callable[[Any], Any], ...]
    jax: Callable[[Any], Any] | None = None


def _labels(like: Any) -> np.ndarray:
    return LABELS.astype(like.dtype)


CASES = [
    Case("logsumexp", lambda x: torch.logsumexp(x, 0),
         (lambda x: symgrad.logsumexp(x, 0), lambda x: x.logsumexp(dim=0, keepdim=True)[0],
          _eager_shifted_lse),
         (_lse, scipy_special.logsumexp, _shifted_lse, lambda x: np.log(np.exp(x).sum()),
          lambda x: symgrad.logsumexp(x, 0)),
         jax=lambda x: _jax().nn.logsumexp(x)),
    Case("log_softmax", lambda x: torch.log_softmax(x, 0),
         (lambda x: F.log_softmax(x, dim=0), lambda x: x.log_softmax(0), lambda x: x - x.logsumexp(0)),
         (lambda x: x - _lse(x), scipy_special.log_softmax, lambda x: np.log(_softmax(x)),
          lambda x: x - scipy_special.logsumexp(x), lambda x: F.log_softmax(x, dim=0)),
         jax=lambda x: _jax().nn.log_softmax(x)),
    Case("softmax", lambda x: torch.softmax(x, 0),
         (lambda x: F.softmax(x, dim=0), lambda x: x.softmax(0), lambda x: (x - x.logsumexp(0)).exp()),
         (_softmax, scipy_special.softmax, _shifted_softmax, lambda x: np.exp(x - scipy_special.logsumexp(x)),
          lambda x: F.softmax(x, dim=0)),
         jax=lambda x: _jax().nn.softmax(x)),
    Case("softplus", lambda x: torch.nn.functional.softplus(x),
         (lambda x: F.softplus(x), lambda x: symgrad.nn.Softplus()(x), lambda x: symgrad.logaddexp(x, x * 0)),
         (lambda x: np.logaddexp(0, x), lambda x: np.log1p(np.exp(x)), lambda x: np.log(1 + np.exp(x)),
          lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), lambda x: F.softplus(x)),
         jax=lambda x: _jax().nn.softplus(x)),
    Case("bce_with_logits",
         lambda x: torch.nn.functional.binary_cross_entropy_with_logits(
             x, torch.tensor(LABELS, dtype=x.dtype), reduction="sum"),
         (lambda x: F.binary_cross_entropy_with_logits(x, symgrad.tensor(LABELS, dtype=x.dtype),
                                                       reduction="sum"),
          lambda x: symgrad.nn.BCEWithLogitsLoss(reduction="sum")(x, symgrad.tensor(LABELS, dtype=x.dtype)),
          lambda x: (F.softplus(x) - symgrad.tensor(LABELS, dtype=x.dtype) * x).sum()),
         (lambda x: -np.sum(_labels(x) * np.log(_expit(x)) + (1 - _labels(x)) * np.log(1 - _expit(x))),
          lambda x: np.sum(np.logaddexp(0, x) - _labels(x) * x),
          lambda x: np.sum(np.maximum(x, 0) - x * _labels(x) + np.log1p(np.exp(-np.abs(x)))),
          lambda x: -np.sum(_labels(x) * scipy_special.log_expit(x)
                            + (1 - _labels(x)) * scipy_special.log_expit(-x)),
          lambda x: F.binary_cross_entropy_with_logits(x, _labels(x), reduction="sum")),
         jax=lambda x: (_jax().nn.softplus(x) - LABELS * x).sum()),
    Case("cross_entropy",
         lambda x: torch.nn.functional.cross_entropy(x[None], torch.tensor([TARGET])),
         (lambda x: F.cross_entropy(x[None], symgrad.tensor([TARGET])),
          lambda x: symgrad.nn.CrossEntropyLoss()(x[None], symgrad.tensor([TARGET])),
          lambda x: F.nll_loss(F.log_softmax(x[None], dim=1), symgrad.tensor([TARGET]))),
         (lambda x: _lse(x) - x[TARGET], lambda x: -np.log(_softmax(x)[TARGET]),
          lambda x: -np.log(_shifted_softmax(x))[TARGET],
          lambda x: -scipy_special.log_softmax(x)[TARGET],
          lambda x: F.cross_entropy(x[None], np.array([TARGET])),
          lambda x: F.nll_loss(F.log_softmax(x[None], dim=1), np.array([TARGET]))),
         jax=lambda x: -_jax().nn.log_softmax(x)[TARGET]),
    Case("sigmoid", torch.sigmoid,
         (symgrad.sigmoid, lambda x: x.sigmoid(), F.sigmoid, lambda x: symgrad.special.expit(x)),
         (_expit, lambda x: np.exp(x) / (1 + np.exp(x)), scipy_special.expit,
          lambda x: 0.5 * (1 + np.tanh(x / 2)),
          symgrad.sigmoid),
         jax=lambda x: _jax().nn.sigmoid(x)),
    Case("logsigmoid", torch.nn.functional.logsigmoid,
         (F.logsigmoid, lambda x: symgrad.nn.LogSigmoid()(x), lambda x: -F.softplus(-x)),
         (lambda x: np.log(_expit(x)), lambda x: -np.logaddexp(0, -x), scipy_special.log_expit,
          lambda x: -np.log1p(np.exp(-x)), F.logsigmoid),
         jax=lambda x: _jax().nn.log_sigmoid(x)),
    Case("tanh", torch.tanh,
         (symgrad.tanh, lambda x: x.tanh(), F.tanh),
         (np.tanh, lambda x: 2 * _expit(2 * x) - 1, lambda x: np.sinh(x) / np.cosh(x),
          lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), symgrad.tanh),
         jax=lambda x: _jax().numpy.tanh(x)),
]


def _jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _loss(f: Callable[[Any], Any], x: Any, weights: Any) -> Any:
    out = f(x)
    return (out * weights).sum() if out.ndim else out


def _reference(case: Case, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = torch.tensor(x, requires_grad=True)
    loss = _loss(case.torch, t, torch.tensor(WEIGHTS, dtype=t.dtype))
    loss.backward()
    return loss.detach().numpy(), t.grad.numpy()


def _tolerance(dtype: type) -> dict:
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-9}


def _check(got: tuple[Any, Any], want: tuple[np.ndarray, np.ndarray], dtype: type) -> None:
    value, grad = (np.asarray(v) for v in got)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)), (value, grad)
    assert grad.dtype == dtype
    np.testing.assert_allclose(value, want[0], **_tolerance(dtype))
    np.testing.assert_allclose(grad, want[1], **_tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_matches_torch_at_1e3(case: Case, point: str, dtype: type) -> None:
    x = np.array(POINTS[point], dtype)
    want = _reference(case, x)
    for spelling in case.eager:
        t = symgrad.tensor(x, requires_grad=True)
        loss = _loss(spelling, t, symgrad.tensor(WEIGHTS, dtype=t.dtype))
        loss.backward()
        _check((loss.detach().numpy(), t.grad.numpy()), want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_matches_torch_at_1e3(case: Case, point: str, dtype: type) -> None:
    x = np.array(POINTS[point], dtype)
    want = _reference(case, x)
    weights = WEIGHTS.astype(dtype)
    for i, spelling in enumerate(case.compiled):
        got = symgrad.value_and_grad(lambda x, f=spelling: _loss(f, x, weights))(x)
        try:
            _check(got, want, dtype)
        except AssertionError as error:
            raise AssertionError(f"{case.name} spelling {i}: {error}") from None


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_matches_jax_at_1e3(case: Case, point: str) -> None:
    jax = _jax()
    x = np.array(POINTS[point])
    want = jax.value_and_grad(lambda x: _loss(case.jax, x, WEIGHTS))(x)
    got = symgrad.value_and_grad(lambda x: _loss(case.compiled[0], x, WEIGHTS))(x)
    _check(got, tuple(np.asarray(w) for w in want), np.float64)


# ---------------------------------------------------------------- binary cross-entropy at p = 0 and 1

PROBABILITIES = np.array([0.0, 1.0, 0.5, 0.0, 1.0, 0.3])
TARGETS = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.4])
CLASS_WEIGHTS = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 1.0])


def _torch_bce(p: np.ndarray, t: np.ndarray, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt, tt = torch.tensor(p, requires_grad=True), torch.tensor(t, requires_grad=True)
    kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    loss = torch.nn.functional.binary_cross_entropy(pt, tt, **kwargs)
    loss.sum().backward()
    return loss.detach().numpy(), pt.grad.numpy(), tt.grad.numpy()


BCE_SPELLINGS = {
    "functional": lambda p, t, **k: F.binary_cross_entropy(p, t, **k),
    "module": lambda p, t, **k: symgrad.nn.BCELoss(**{n: symgrad.tensor(v) if isinstance(v, np.ndarray) else v
                                                     for n, v in k.items()})(p, t),
}


@pytest.mark.parametrize("spelling", BCE_SPELLINGS)
@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bce_saturated_matches_torch(spelling: str, weight: bool, reduction: str, dtype: type) -> None:
    """PyTorch clamps each log at -100 and divides by max(p (1 - p), 1e-12): a finite loss and
    a finite gradient where p is 0 or 1 (the target's gradient is inf at p = 0 or 1 with t
    on the other side, as PyTorch's)."""
    p, t = PROBABILITIES.astype(dtype), TARGETS.astype(dtype)
    kwargs: dict[str, Any] = {"reduction": reduction}
    if weight:
        kwargs["weight"] = CLASS_WEIGHTS.astype(dtype)
    want = _torch_bce(p, t, **kwargs)
    pt, tt = symgrad.tensor(p, requires_grad=True), symgrad.tensor(t, requires_grad=True)
    with np.errstate(divide="ignore"):
        loss = BCE_SPELLINGS[spelling](pt, tt, **kwargs)
        loss.sum().backward()
    assert np.all(np.isfinite(loss.detach().numpy())) and np.all(np.isfinite(pt.grad.numpy()))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for got, expected in zip((loss.detach().numpy(), pt.grad.numpy(), tt.grad.numpy()), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_saturated_compiled_matches_eager(reduction: str) -> None:
    """The same function traced and compiled gives PyTorch's finite loss and gradient."""
    want = _torch_bce(PROBABILITIES, TARGETS, reduction=reduction, weight=CLASS_WEIGHTS)
    value, grad = symgrad.value_and_grad(lambda p: F.binary_cross_entropy(
        p, TARGETS, weight=CLASS_WEIGHTS, reduction=reduction))(PROBABILITIES)
    np.testing.assert_allclose(value, want[0], rtol=1e-13)
    np.testing.assert_allclose(grad, want[1], rtol=1e-13)


def test_bce_saturated_sigmoid_matches_torch() -> None:
    """binary_cross_entropy(sigmoid(z)) at |z| = 1e3: sigmoid saturates to 0 and 1, and PyTorch's
    clamped loss and gradient come out, eager and compiled."""
    z = np.array([-1e3, 1e3, 0.0, 1e3])
    t = np.array([1.0, 0.0, 1.0, 1.0])
    zt = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy(torch.sigmoid(zt), torch.tensor(t))
    loss.backward()
    zs = symgrad.tensor(z, requires_grad=True)
    mine = F.binary_cross_entropy(symgrad.sigmoid(zs), symgrad.tensor(t))
    mine.backward()
    compiled = symgrad.value_and_grad(lambda z: F.binary_cross_entropy(symgrad.sigmoid(z), t))(z)
    for value, grad in ((mine.detach().numpy(), zs.grad.numpy()), compiled):
        np.testing.assert_allclose(value, loss.item(), rtol=1e-13)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("p, t, name", [
    ([1.5, 0.5], [1.0, 0.0], "input"), ([-0.1, 0.5], [1.0, 0.0], "input"),
    ([np.nan, 0.5], [1.0, 0.0], "input"),
    ([0.5, 0.5], [1.5, 0.0], "target"), ([0.5, 0.5], [1.0, -0.5], "target"),
])
def test_bce_outside_unit_interval_raises(p: list, t: list, name: str) -> None:
    """Probabilities or targets outside [0, 1] (or nan) raise RuntimeError, as in PyTorch."""
    with pytest.raises(RuntimeError, match=f"all elements of {name} should be between 0 and 1") as theirs:
        torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t))
    with pytest.raises(RuntimeError, match=f"binary_cross_entropy: {theirs.value}"):
        F.binary_cross_entropy(symgrad.tensor(p), symgrad.tensor(t))
    with pytest.raises(RuntimeError, match=f"all elements of {name} should be between 0 and 1"):
        symgrad.nn.BCELoss()(symgrad.tensor(p), symgrad.tensor(t))


@pytest.mark.parametrize("data, correction", [([], 1), ([], 0), ([1.0], 1), ([1.0, 2.0], 3), ([1.0, 2.0], 2)])
def test_variance_with_no_degrees_of_freedom_is_inf_or_nan_as_the_references(data, correction):
    """n - correction <= 0 divides by 0 (PyTorch's and NumPy's max(0, n - ddof)), never by a negative
    count (was -0. for an empty tensor, -0.5 for ddof=3 on two values)."""
    eager = symgrad.tensor(data, dtype=symgrad.float64).var(correction=correction)
    compiled = symgrad.compile(lambda x: np.var(x, ddof=correction))(np.array(data))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.var(np.array(data), ddof=correction)
    np.testing.assert_array_equal(eager.numpy(), want)
    np.testing.assert_array_equal(compiled, want)
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(eager.numpy(), torch.tensor(data, dtype=torch.float64).var(
            correction=correction).numpy())
