"""Fused composites (symgrad.eager.fused): a hot composite runs as generated code, forward and
backward, and gives what its unfused primitives give, and what PyTorch gives.

Every registered `@composite` is found from the registry and called with the first argument
pattern its definition accepts; the fused and unfused paths are compared on it (value,
gradient, gradient of the gradient, grad_fn name). The composites of the tutorial and of
classification losses are also compared with torch, to second order.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad.api import fused
from symgrad.api.config import config
from symgrad.ops.dispatch import COMPOSITES, composite

# kl_div's 'mean' and cross's missing dim warn, as PyTorch's do: not what is tested here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RNG = np.random.default_rng(7)
X0 = RNG.uniform(0.2, 0.8, (3, 4))
Y0 = RNG.uniform(0.2, 0.8, (3, 4))
Z0 = RNG.uniform(0.2, 0.8, (3, 4))
W0 = RNG.uniform(0.2, 0.8, (4, 3))
LABELS = np.array([0, 3, 1])
SQ0 = RNG.uniform(0.2, 0.8, (4, 4)) + 2 * np.eye(4)  # well conditioned, for the linalg composites

# argument patterns, tried in order: floats shaped (3, 4) that require grad, dims, labels
PATTERNS: list[Callable[[Callable], tuple]] = [
    lambda t: (t(X0),),
    lambda t: (t(X0), 1),
    lambda t: (t(X0), t(Y0)),
    lambda t: (t(X0), t(W0)),
    lambda t: (t(X0), symgrad.tensor(LABELS)),
    lambda t: (t(X0), t(Y0), t(Z0)),
    lambda t: (t(X0), (4,)),
    lambda t: (t(X0), 1, 1),
    lambda t: (t(X0), t(Y0), 1),
    lambda t: (t(X0[0]), t(Y0[0])),
    lambda t: (t(X0[0]),),
    lambda t: (t(X0[:3, :3]),),
    lambda t: (t(X0.reshape(1, 3, 2, 2)), 2),
    lambda t: (t(SQ0),),
    lambda t: (t(SQ0), t(SQ0.T.copy())),
    lambda t: (t(SQ0), t(SQ0[:, :2].copy())),
    lambda t: (t(SQ0), t(SQ0[:, 0].copy())),
    lambda t: (t(SQ0), 2),
]


def _leaf(dtype: Any) -> Callable[[np.ndarray], Any]:
    return lambda a: symgrad.tensor(a, dtype=dtype, requires_grad=True)


def _unfused(fn: Callable, args: tuple) -> Any:
    fused.ENABLED = False
    try:
        return fn(*args)
    finally:
        fused.ENABLED = True


def _pattern(fn: Callable) -> int | None:
    """The first pattern the composite runs on, to a float output that has a gradient."""
    for k, make in enumerate(PATTERNS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = _unfused(fn, make(_leaf(symgrad.float64)))
        except Exception:  # noqa: BLE001 - any refusal: try the next pattern
            continue
        if isinstance(out, symgrad.Tensor) and out.grad_fn is not None and \
                np.isfinite(out.detach().numpy()).all():
            return k
    return None


def _composites() -> list[tuple[str, Callable, int | None]]:
    seen, out = set(), []
    for fn in COMPOSITES:
        name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
        if name not in seen:
            seen.add(name)
            out.append((name, fn, _pattern(fn)))
    return out


CASES = _composites()
RUNNABLE = [(n, f, k) for n, f, k in CASES if k is not None]


def test_the_registry_lists_the_composites_and_most_run_on_some_pattern():
    names = {n for n, _, _ in CASES}
    assert {"composites.mean", "composites.softmax", "composites.log_softmax", "composites.std",
            "functional.binary_cross_entropy_with_logits", "functional.cross_entropy",
            "functional.layer_norm"} <= names
    assert len(CASES) >= 90 and len(RUNNABLE) >= 0.7 * len(CASES), \
        [n for n, _, k in CASES if k is None]


def _grads(out: Any, inputs: list, create_graph: bool = False) -> tuple:
    ct = symgrad.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape), dtype=out.dtype)
    return symgrad.autograd.grad(out, inputs, ct, create_graph=create_graph, allow_unused=True)


def _hot(fn: Callable, make: Callable, dtype: Any) -> tuple[Any, list]:
    """The composite called until its signature is fused and its compiled VJP checked (at
    its first backward), then once more: that output and its inputs."""
    for _ in range(fused.FUSE_FROM + 1):
        args = make(_leaf(dtype))
        inputs = [a for a in args if isinstance(a, symgrad.Tensor) and a.requires_grad]
        out = fn(*args)
        if out.requires_grad and _ < fused.FUSE_FROM:
            _grads(out, inputs)
    return out, inputs


def _close(got: Any, want: Any, rtol: float) -> None:
    if want is None:
        assert got is None or not np.any(got.numpy())
        return
    w = want.detach().numpy()
    np.testing.assert_allclose(got.detach().numpy(), w, rtol=rtol, atol=rtol * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("dtype,rtol", [(symgrad.float64, 1e-12), (symgrad.float32, 1e-5)])
@pytest.mark.parametrize("name,fn,k", RUNNABLE, ids=[n for n, _, _ in RUNNABLE])
def test_fused_equals_unfused(name, fn, k, dtype, rtol):
    make = PATTERNS[k]
    args = make(_leaf(dtype))
    want = _unfused(fn, args)
    inputs = [a for a in args if isinstance(a, symgrad.Tensor) and a.requires_grad]
    fused.ENABLED = False
    try:
        want_g = _grads(want, inputs)
    finally:
        fused.ENABLED = True
    got, got_inputs = _hot(fn, make, dtype)
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    assert got.dtype == want.dtype and got.shape == want.shape
    _close(got, want, rtol)
    for g, w in zip(_grads(got, got_inputs), want_g):
        _close(g, w, rtol)


def _second(fn: Callable, args: tuple) -> list:
    """d/dx of <d out/dx . ct, v>: a gradient of the gradient."""
    inputs = [a for a in args if isinstance(a, symgrad.Tensor) and a.requires_grad]
    out = fn(*args)
    first = _grads(out, inputs, create_graph=True)
    total = sum((g * float(i + 1)).sum() for i, g in enumerate(first) if g is not None and g.requires_grad)
    if not isinstance(total, symgrad.Tensor):
        return []
    return list(symgrad.autograd.grad(total, inputs, allow_unused=True))


@pytest.mark.parametrize("name,fn,k", RUNNABLE, ids=[n for n, _, _ in RUNNABLE])
def test_second_order_through_a_fused_node_is_the_unfused_one(name, fn, k):
    make = PATTERNS[k]
    fused.ENABLED = False
    try:
        want = _second(fn, make(_leaf(symgrad.float64)))
    finally:
        fused.ENABLED = True
    _hot(fn, make, symgrad.float64)
    got = _second(fn, make(_leaf(symgrad.float64)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        _close(g, w, 1e-10)


def test_the_common_composites_fuse_and_their_backward_is_lean():
    fused.cache_clear()
    z = _hot(lambda z, y: symgrad.nn.functional.binary_cross_entropy_with_logits(z, y),
             lambda t: (t(X0), symgrad.tensor(Y0)), symgrad.float64)[0]
    node = z.grad_fn
    assert type(node).__name__ == "BinaryCrossEntropyWithLogitsBackward0" and node._inner is None
    vjp = node._fused.vjp
    source = vjp.fn.__symgrad_source__
    # sigmoid(z) computed by the forward and saved, or by the VJP
    assert "exp" in source + (vjp.forward.__symgrad_source__ if vjp.forward is not None else "")
    assert source.count("\n    ") <= 8, source  # sigmoid(z) - y, scaled: a handful of lines
    for fn, make in [(lambda x: x.mean(), PATTERNS[0]), (lambda x: x.softmax(1), PATTERNS[0]),
                     (lambda x: x.log_softmax(1), PATTERNS[0]), (lambda x: x.std(), PATTERNS[0]),
                     (lambda x, t: symgrad.nn.functional.cross_entropy(x, t), PATTERNS[4]),
                     (lambda x: symgrad.nn.functional.layer_norm(x, (4,)), PATTERNS[0])]:
        out = _hot(fn, make, symgrad.float64)[0]
        assert out.grad_fn._inner is None and out.grad_fn._fused.trusted(), type(out.grad_fn).__name__


torch_cases = [
    ("mean", lambda L, x: (x * x).mean(1)),
    ("std", lambda L, x: x.std(0)),
    ("softmax", lambda L, x: L.softmax(x, 1)),
    ("log_softmax", lambda L, x: L.log_softmax(x, 0)),
    ("logsumexp", lambda L, x: L.logsumexp(x, 1)),
    ("bce_logits", lambda L, x: L.nn.functional.binary_cross_entropy_with_logits(x, L.tensor(Y0))),
    ("cross_entropy", lambda L, x: L.nn.functional.cross_entropy(x, L.tensor(LABELS))),
    ("layer_norm", lambda L, x: L.nn.functional.layer_norm(x, (4,))),
    ("mse", lambda L, x: L.nn.functional.mse_loss(x, L.tensor(Y0))),
]


@pytest.mark.parametrize("name,f", torch_cases, ids=[c[0] for c in torch_cases])
def test_fused_matches_torch_to_second_order(name, f):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, *[symgrad] * fused.FUSE_FROM):  # symgrad's last call is fused
        x = lib.tensor(X0, dtype=lib.float64, requires_grad=True)
        out = f(lib, x)
        ct = lib.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)), dtype=lib.float64)
        (g,) = lib.autograd.grad(out, x, ct, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        results.append((type(out.grad_fn).__name__, out.detach().numpy(), g.detach().numpy(), h.numpy()))
    assert results[-1][0] == results[0][0]
    for got, want in zip(results[-1][1:], results[0][1:]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_the_tutorial_is_fused_and_right_against_torch():
    torch = pytest.importorskip("torch")
    grads = {}
    for lib in (torch, symgrad):
        for _ in range(fused.FUSE_FROM + 1):
            x, y = lib.ones(5, dtype=lib.float64), lib.zeros(3, dtype=lib.float64)
            w = lib.tensor(np.linspace(-0.5, 0.5, 15).reshape(5, 3), requires_grad=True)
            b = lib.tensor(np.array([0.1, -0.2, 0.3]), requires_grad=True)
            loss = lib.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y)
            fast = lib is torch or loss.grad_fn._inner is None and loss.grad_fn._fused.trusted()
            loss.backward()
        grads[lib.__name__] = (loss.item(), w.grad.numpy(), b.grad.numpy(), type(loss.grad_fn).__name__)
    assert fast  # the last symgrad call ran the fused forward and the checked compiled VJP
    assert grads["symgrad"][3] == grads["torch"][3] == "BinaryCrossEntropyWithLogitsBackward0"
    for got, want in zip(grads["symgrad"][:3], grads["torch"][:3]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@composite("SignedBackward0")
def _signed(x: Any) -> Any:
    """A composite with data-dependent control flow: it does not trace."""
    return x * 2 if float(x.sum()) > 0 else -x


def test_an_untraceable_composite_falls_back_and_stays_right():
    fused.cache_clear()
    for sign in (1.0, 1.0, 1.0, 1.0, -1.0):
        x = symgrad.tensor(sign * X0, requires_grad=True)
        out = _signed(x)
        assert type(out.grad_fn).__name__ == "SignedBackward0" and out.grad_fn._inner is not None
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full(X0.shape, 2.0 if sign > 0 else -1.0))
    (e,) = [e for k, e in fused._cache.items() if k[0] is _signed.__wrapped__]
    assert e.broken and e.forward is None


def test_hooks_retain_grad_and_a_second_backward_at_a_fused_node():
    for _ in range(fused.FUSE_FROM + 1):
        x = symgrad.tensor(X0, requires_grad=True)
        out = x.softmax(1)
        out.retain_grad()
        out.register_hook(lambda g: g * 2)
        out.pow(2).sum().backward(retain_graph=True)
    assert out.grad_fn._inner is None
    np.testing.assert_allclose(out.grad.numpy(), 4 * out.detach().numpy())  # the hook's result
    s = out.detach().numpy()
    g = 4 * s
    np.testing.assert_allclose(x.grad.numpy(), s * (g - (g * s).sum(1, keepdims=True)), rtol=1e-12)
    out.pow(2).sum().backward()  # retained: runs again
    out2 = x.softmax(1)
    out2.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out2.sum().backward()


def test_an_input_changed_in_place_after_a_fused_forward_is_refused():
    for _ in range(fused.FUSE_FROM):
        x = symgrad.tensor(X0, requires_grad=True)
        h = x * 1
        out = h.softmax(1)
    with symgrad.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_no_grad_runs_only_the_fused_forward():
    x = symgrad.tensor(X0, requires_grad=True)
    for _ in range(fused.FUSE_FROM):
        with symgrad.no_grad():
            out = x.log_softmax(1)
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), X0 - np.log(np.exp(X0).sum(1, keepdims=True)), rtol=1e-12)


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(config, "cache_size", 5)
    fused.cache_clear()
    for n in range(1, 12):
        for _ in range(fused.FUSE_FROM):
            symgrad.ones(n, requires_grad=True).mean().backward()
    size, bound = fused.cache_info()
    assert bound == 5 and size == 5


def test_the_definition_is_what_a_composite_wraps():
    for fn in COMPOSITES:
        assert callable(inspect.unwrap(fn))


def test_a_composite_lifting_an_array_constant_fuses():
    """kron(x, B) with B a nested list: B is lifted into the trace as a constant of the
    PyTorch face, the signature fuses, and value and gradient are the closed forms."""
    fused.cache_clear()
    b = [[1.0, -2.0], [0.5, 3.0]]
    out, (x,) = _hot(lambda x: symgrad.kron(x, b), lambda t: (t(X0),), symgrad.float64)
    assert out.grad_fn._inner is None and out.grad_fn._fused.trusted()
    np.testing.assert_allclose(out.detach().numpy(), np.kron(X0, b), rtol=1e-15)
    ct = np.linspace(0.5, 1.5, out.numel()).reshape(out.shape)
    (g,) = symgrad.autograd.grad(out, [x], symgrad.tensor(ct))
    blocks = ct.reshape(3, 2, 4, 2) * np.array(b)[None, :, None, :]
    np.testing.assert_allclose(g.numpy(), blocks.sum(axis=(1, 3)), rtol=1e-13)
