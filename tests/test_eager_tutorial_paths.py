"""The tutorial's step (a linear layer, binary cross-entropy with logits, backward) on the
paths made cheap for it: a fused composite's compiled VJP run on the walk's bare arrays,
nodes run as their last consumer finishes, flat signatures, versions checked from the
tensors at backward. Each program runs past `fused.FUSE_FROM`, so its unfused calls, the
build, the checked first compiled backward and the trusted ones are all exercised.

Gradients are compared with PyTorch (when importable) and with central finite differences
in float64, across the spellings of the same loss; then the semantics those paths must
keep: a retained graph run twice, then freed; double backward; hooks and retained
gradients on the intermediate; in-place writes refused; a failed backward leaving every
`.grad` as it was; anomaly mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad.api import fused

REPEATS = fused.FUSE_FROM + 2  # unfused, built, first compiled backward (checked), trusted
RNG = np.random.default_rng(13)
X = RNG.uniform(-1.0, 1.0, 5)
W = RNG.standard_normal((5, 3))
B = RNG.standard_normal(3)
Y = np.array([0.0, 1.0, 0.25])
WEIGHT = np.array([0.5, 2.0, 1.5])
POS = np.array([3.0, 0.5, 1.0])


def _sigmoid(L: Any, z: Any) -> Any:
    return 1 / (1 + (-z).exp())


# each spelling: (lib, z, y) -> a scalar loss; all the binary cross-entropy of sigmoid(z)
SPELLINGS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "functional": lambda L, z, y: L.nn.functional.binary_cross_entropy_with_logits(z, y),
    "weight": lambda L, z, y: L.nn.functional.binary_cross_entropy_with_logits(
        z, y, weight=L.tensor(WEIGHT, dtype=z.dtype)),
    "pos_weight": lambda L, z, y: L.nn.functional.binary_cross_entropy_with_logits(
        z, y, pos_weight=L.tensor(POS, dtype=z.dtype)),
    "sum": lambda L, z, y: L.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum"),
    "none": lambda L, z, y: (L.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")
                             * L.tensor(WEIGHT, dtype=z.dtype)).sum(),
    "module": lambda L, z, y: L.nn.BCEWithLogitsLoss()(z, y),
    "sigmoid_bce": lambda L, z, y: L.nn.functional.binary_cross_entropy(L.sigmoid(z), y),
    "formula": lambda L, z, y: -(y * _sigmoid(L, z).log() + (1 - y) * (1 - _sigmoid(L, z)).log()).mean(),
}


def _step(L: Any, loss: Callable, dtype: Any, x: np.ndarray = X, w: np.ndarray = W,
          b: np.ndarray = B) -> tuple[Any, Any, Any]:
    """The tutorial's step on `L` (symgrad or torch): (loss, w, b) after backward."""
    xt, yt = L.tensor(x, dtype=dtype), L.tensor(Y, dtype=dtype)
    wt, bt = L.tensor(w, dtype=dtype, requires_grad=True), L.tensor(b, dtype=dtype, requires_grad=True)
    out = loss(L, L.matmul(xt, wt) + bt, yt)
    out.backward()
    return out, wt, bt


def _loss_value(loss: Callable, w: np.ndarray, b: np.ndarray) -> float:
    with symgrad.no_grad():
        return float(_step_forward(loss, w, b))


def _step_forward(loss: Callable, w: np.ndarray, b: np.ndarray) -> Any:
    x, y = symgrad.tensor(X), symgrad.tensor(Y)
    return loss(symgrad, symgrad.matmul(x, symgrad.tensor(w)) + symgrad.tensor(b), y)


def _central(loss: Callable, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """d loss / d (w, b) by central differences in float64."""
    grads = []
    for which in ("w", "b"):
        base = W if which == "w" else B
        g = np.zeros_like(base)
        for k in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[k] += eps
            minus[k] -= eps
            args = [(plus, B), (minus, B)] if which == "w" else [(W, plus), (W, minus)]
            g[k] = (_loss_value(loss, *args[0]) - _loss_value(loss, *args[1])) / (2 * eps)
        grads.append(g)
    return grads[0], grads[1]


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_every_spelling_matches_finite_differences_on_every_path(name: str) -> None:
    loss = SPELLINGS[name]
    want_w, want_b = _central(loss)
    for _ in range(REPEATS):
        out, w, b = _step(symgrad, loss, symgrad.float64)
        np.testing.assert_allclose(w.grad.numpy(), want_w, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(b.grad.numpy(), want_b, rtol=1e-6, atol=1e-9)
        assert w.grad.dtype == b.grad.dtype == symgrad.float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(SPELLINGS))
def test_every_spelling_matches_torch(name: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    loss = SPELLINGS[name]
    ref, rw, rb = _step(torch, loss, getattr(torch, dtype))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for _ in range(REPEATS):
        out, w, b = _step(symgrad, loss, getattr(symgrad, dtype))
        assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__
        np.testing.assert_allclose(out.item(), ref.item(), rtol=rtol)
        np.testing.assert_allclose(w.grad.numpy(), rw.grad.numpy(), rtol=rtol, atol=1e-7)
        np.testing.assert_allclose(b.grad.numpy(), rb.grad.numpy(), rtol=rtol, atol=1e-7)
        assert w.grad.dtype == getattr(symgrad, dtype)


def test_the_tutorial_runs_its_compiled_vjp_and_keeps_pytorchs_name() -> None:
    for _ in range(REPEATS):
        out, w, b = _step(symgrad, SPELLINGS["functional"], symgrad.float32)
    node = out.grad_fn
    assert type(node).__name__ == "BinaryCrossEntropyWithLogitsBackward0"
    assert node._inner is None and node._fused is None  # fused, trusted, and freed by backward
    # the gradients are fresh arrays of their own: `.grad` of b and w share nothing
    assert not np.shares_memory(b.grad.numpy(), w.grad.numpy())


def test_an_input_given_twice_gets_both_gradients() -> None:
    """z as the logits and as the target: the compiled VJP's two gradients for one tensor
    are summed by the walk, as any two gradients of one tensor are."""
    torch = pytest.importorskip("torch")
    want = None
    for lib in (torch, *[symgrad] * REPEATS):
        z = lib.tensor(np.array([0.2, 0.7, 0.4]), requires_grad=True)
        lib.nn.functional.binary_cross_entropy_with_logits(z * 1, z * 1).backward()
        if want is None:
            want = z.grad.numpy()
        else:
            np.testing.assert_allclose(z.grad.numpy(), want, rtol=1e-12)


def test_a_retained_graph_runs_twice_then_is_freed() -> None:
    torch = pytest.importorskip("torch")
    results = {}
    for lib in (torch, *[symgrad] * REPEATS):
        x, y = lib.tensor(X), lib.tensor(Y)
        w, b = lib.tensor(W, requires_grad=True), lib.tensor(B, requires_grad=True)
        loss = lib.nn.functional.binary_cross_entropy_with_logits(lib.matmul(x, w) + b, y)
        loss.backward(retain_graph=True)
        once = w.grad.numpy().copy(), b.grad.numpy().copy()
        loss.backward(retain_graph=True)
        np.testing.assert_allclose(w.grad.numpy(), 2 * once[0], rtol=1e-12)
        np.testing.assert_allclose(b.grad.numpy(), 2 * once[1], rtol=1e-12)
        loss.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
        results[lib.__name__] = w.grad.numpy(), b.grad.numpy()
    for got, want in zip(results["symgrad"], results["torch"]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_double_backward_through_the_fused_loss() -> None:
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, *[symgrad] * REPEATS):
        x, y = lib.tensor(X), lib.tensor(Y)
        w, b = lib.tensor(W, requires_grad=True), lib.tensor(B, requires_grad=True)
        loss = lib.nn.functional.binary_cross_entropy_with_logits(lib.matmul(x, w) + b, y)
        gw, gb = lib.autograd.grad(loss, (w, b), create_graph=True)
        ((gw * gw).sum() + (gb ** 3).sum()).backward()
        results.append((gw.detach().numpy(), w.grad.numpy(), b.grad.numpy()))
    for got in results[1:]:
        for g, want in zip(got, results[0]):
            np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-14)


def test_hooks_and_a_retained_grad_on_the_intermediate() -> None:
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, *[symgrad] * REPEATS):
        x = lib.tensor(X)
        w, b = lib.tensor(W, requires_grad=True), lib.tensor(B, requires_grad=True)
        z = lib.matmul(x, w) + b
        z.retain_grad()
        seen: list = []
        z.register_hook(lambda g, seen=seen: seen.append(g) or g * 3)
        lib.nn.functional.binary_cross_entropy_with_logits(z, lib.tensor(Y)).backward()
        kept = seen[0].numpy().copy()
        b.grad.add_(1.0)  # the walk's buffers are not what the hook or z.grad hold
        w.grad.mul_(0.0)
        np.testing.assert_array_equal(seen[0].numpy(), kept)
        results.append((kept, z.grad.numpy(), b.grad.numpy() - 1.0))
    for got in results[1:]:
        for g, want in zip(got, results[0]):
            np.testing.assert_allclose(g, want, rtol=1e-12)
    np.testing.assert_allclose(results[0][2], 3 * results[0][0], rtol=1e-12)  # the hook's gradient


@pytest.mark.parametrize("written", ["logits", "target"])
def test_a_saved_input_written_in_place_is_refused(written: str) -> None:
    torch = pytest.importorskip("torch")
    for lib in (torch, *[symgrad] * REPEATS):
        w = lib.tensor(W, requires_grad=True)
        y = lib.tensor(Y)
        z = lib.matmul(lib.tensor(X), w) * 1.0
        loss = lib.nn.functional.binary_cross_entropy_with_logits(z, y)
        with lib.no_grad():
            (z if written == "logits" else y).add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_a_failed_backward_leaves_every_grad_as_it_was() -> None:
    for _ in range(REPEATS):
        x, y = symgrad.tensor(X), symgrad.tensor(Y)
        w, b = symgrad.tensor(W, requires_grad=True), symgrad.tensor(B, requires_grad=True)
        w.grad, b.grad = symgrad.ones(5, 3, dtype=symgrad.float64), None
        z = symgrad.matmul(x, w) + b

        def fail(g: Any) -> None:
            raise ValueError("hook failed")
        handle = z.register_hook(fail)
        loss = symgrad.nn.functional.binary_cross_entropy_with_logits(z, y)
        with pytest.raises(ValueError, match="hook failed"):
            loss.backward()
        np.testing.assert_array_equal(w.grad.numpy(), np.ones((5, 3)))
        assert b.grad is None
        handle.remove()
        loss.backward()  # nothing was freed: the graph runs
        s = 1 / (1 + np.exp(-(X @ W + B)))
        np.testing.assert_allclose(b.grad.numpy(), (s - Y) / 3, rtol=1e-12)
        np.testing.assert_allclose(w.grad.numpy(), 1 + np.outer(X, (s - Y) / 3), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the nan, as NumPy sees it
def test_anomaly_mode_runs_unfused_and_names_the_node() -> None:
    for _ in range(REPEATS):
        _step(symgrad, SPELLINGS["functional"], symgrad.float64)
    with symgrad.autograd.detect_anomaly():
        out, w, b = _step(symgrad, SPELLINGS["functional"], symgrad.float64)
        assert out.grad_fn is None or type(out.grad_fn).__name__ == "BinaryCrossEntropyWithLogitsBackward0"
        s = 1 / (1 + np.exp(-(X @ W + B)))
        np.testing.assert_allclose(b.grad.numpy(), (s - Y) / 3, rtol=1e-12)
        bad = B.copy()
        bad[1] = np.nan
        with pytest.raises(RuntimeError, match="returned nan values"):
            _step(symgrad, SPELLINGS["functional"], symgrad.float64, b=bad)
