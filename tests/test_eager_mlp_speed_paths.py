"""The MLP step's fast paths, written three ways, against PyTorch.

An SGD step of a float32 ReLU MLP with a cross-entropy loss, spelled as users spell it:
raw tensors with `F.relu` and `F.cross_entropy`; `nn.Sequential` of `nn.Linear` and
`nn.ReLU`; raw tensors with `x.clamp(min=0)`, `torch.relu` and `nll_loss(log_softmax)`.
Each agrees with PyTorch (loss, gradients, updated parameters) to 1e-5 over steps that run
the composites unfused, then fused. And each takes the lean path the benchmark's speed rests
on: the fused loss saves its softmax for backward instead of computing it again (residuals),
a linear layer's weight gradient is made in C order (no copy into `.grad`), relu's backward
writes into the cotangent only the walk holds, and never into one a user can see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad.api import fused
from symgrad.eager import raw

SIZES, BATCH, LR, STEPS = (20, 16, 12, 5), 8, 0.1, fused.FUSE_FROM + 2


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    a = {"x": rng.standard_normal((BATCH, SIZES[0])).astype(np.float32),
         "labels": rng.integers(0, SIZES[-1], BATCH)}
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:]), 1):
        a[f"w{i}"] = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        a[f"b{i}"] = (0.1 * rng.standard_normal(fan_out)).astype(np.float32)
    return a


def _raw_params(lib: Any, a: dict) -> list:
    return [lib.tensor(a[k].copy(), requires_grad=True) for k in ("w1", "b1", "w2", "b2", "w3", "b3")]


def functional_relu(lib: Any, a: dict) -> tuple[Callable[[], Any], list]:
    """Raw tensors, F.relu, F.cross_entropy (the benchmark's spelling)."""
    F, x, labels = lib.nn.functional, lib.tensor(a["x"]), lib.tensor(a["labels"])
    ps = w1, b1, w2, b2, w3, b3 = _raw_params(lib, a)

    def loss() -> Any:
        h1 = F.relu(x @ w1 + b1)
        h2 = F.relu(h1 @ w2 + b2)
        return F.cross_entropy(h2 @ w3 + b3, labels)
    return loss, ps


def sequential(lib: Any, a: dict) -> tuple[Callable[[], Any], list]:
    """nn.Sequential of nn.Linear (weights (out, in): x @ W.T) and nn.ReLU modules."""
    nn = lib.nn
    model = nn.Sequential(*[m for k, (i, o) in enumerate(zip(SIZES, SIZES[1:]), 1)
                            for m in (nn.Linear(i, o), nn.ReLU())][:-1])
    with lib.no_grad():
        for k, layer in zip((1, 2, 3), (model[0], model[2], model[4])):
            layer.weight.copy_(lib.tensor(a[f"w{k}"].T.copy()))
            layer.bias.copy_(lib.tensor(a[f"b{k}"]))
    x, labels = lib.tensor(a["x"]), lib.tensor(a["labels"])
    return lambda: nn.functional.cross_entropy(model(x), labels), list(model.parameters())


def clamp_nll(lib: Any, a: dict) -> tuple[Callable[[], Any], list]:
    """Raw tensors, x.clamp(min=0) and torch.relu, nll_loss of log_softmax."""
    F, x, labels = lib.nn.functional, lib.tensor(a["x"]), lib.tensor(a["labels"])
    ps = w1, b1, w2, b2, w3, b3 = _raw_params(lib, a)

    def loss() -> Any:
        h1 = (x @ w1 + b1).clamp(min=0)
        h2 = lib.relu(h1 @ w2 + b2)
        return F.nll_loss(F.log_softmax(h2 @ w3 + b3, dim=1), labels)
    return loss, ps


PROGRAMS = [functional_relu, sequential, clamp_nll]


def _steps(lib: Any, program: Callable) -> tuple[list, list]:
    """STEPS SGD steps; the losses and, per step, the gradients then the parameters."""
    loss_fn, params = program(lib, _arrays())
    opt = lib.optim.SGD(params, lr=LR)
    losses, seen = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        seen.append([p.grad.detach().numpy().copy() for p in params])
        opt.step()
        seen.append([p.detach().numpy().copy() for p in params])
        losses.append(float(loss.detach()))
    return losses, seen


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    fused.cache_clear()  # every program's composites run unfused first, then fused


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_steps_agree_with_torch(program: Callable) -> None:
    torch = pytest.importorskip("torch")
    got_losses, got = _steps(symgrad, program)
    want_losses, want = _steps(torch, program)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for k, (g, w) in enumerate(zip(got, want)):
        for gi, wi in zip(g, w):
            assert gi.dtype == np.float32 and gi.shape == wi.shape
            np.testing.assert_allclose(gi, wi, rtol=1e-5, atol=1e-5 * np.abs(wi).max(),
                                       err_msg=f"step {k // 2}, {'parameters' if k % 2 else 'gradients'}")


def _hot(program: Callable) -> tuple[Any, list]:
    """The program's loss with its composites fused (and each compiled VJP trusted)."""
    loss_fn, params = program(symgrad, _arrays())
    for _ in range(fused.FUSE_FROM):
        loss = loss_fn()
        loss.backward()
    return loss_fn(), params


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_the_fused_loss_saves_its_softmax_for_backward(program: Callable) -> None:
    """The loss's node runs a compiled VJP that reads the softmax its forward saved: no exp
    in backward (the unsplit VJP computed it again, as the forward had)."""
    loss, _ = _hot(program)
    node = loss.grad_fn  # cross_entropy's; or nll_loss's, whose input is log_softmax's
    if type(node).__name__ == "NllLossBackward0" and program is clamp_nll:
        node = node.next_functions[0][0]
    saved = node._fused
    assert saved is not None and saved.trusted() and saved.vjp.forward is not None and saved.residuals
    assert "exp" in saved.vjp.forward.__symgrad_source__
    assert "exp" not in saved.vjp.fn.__symgrad_source__, saved.vjp.fn.__symgrad_source__


def test_a_linear_weights_gradient_is_made_in_c_order() -> None:
    """nn.Linear's weight gradient, (x.T @ ct).T by the chain rule, is computed as ct.T @ x:
    C order, the weight's own, so `.grad` takes it as it is instead of copying a transpose."""
    loss, params = _hot(sequential)
    node = loss.grad_fn.next_functions[0][0]  # the last Linear's AddmmBackward0
    saved = node._fused
    assert type(node).__name__ == "AddmmBackward0" and saved.trusted()
    ct = np.ones(saved.call.operands[0].shape[:1] + (SIZES[-1],), np.float32)
    grads = saved.vjp.fn(*saved.arrays, *saved.residuals, ct)
    weight = grads[1]  # linear(input, weight, bias): all three take a gradient
    assert weight.shape == (SIZES[-1], SIZES[-2]) and weight.flags.c_contiguous
    x = saved.arrays[0]
    np.testing.assert_allclose(weight, ct.T @ x, rtol=1e-6)


def _relu_replays() -> list[str]:
    return [f.__symgrad_source__ for k, f in raw._CACHE.items()
            if callable(f) and k[0].name == "relu"]


def test_relus_backward_writes_into_the_cotangent_the_walk_owns() -> None:
    """ReluBackward0 is a compare and an in-place product, as the floor's `gh *= h > 0`:
    the cotangent from the matrix product below is the walk's own buffer."""
    raw._CACHE.clear()
    _hot(functional_relu)
    replays = _relu_replays()
    assert replays and all("out=v0" in r for r in replays), replays
    assert all("astype" not in r for r in replays), replays  # float32 * bool: NumPy's own loop


def test_a_cotangent_a_hook_sees_is_never_written() -> None:
    """A gradient handed to a hook (or retained) is a tensor the user holds: relu's
    backward then makes a new array, and what the hook kept is still the gradient."""
    raw._CACHE.clear()
    rng = np.random.default_rng(1)
    w = symgrad.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    x = symgrad.tensor(rng.standard_normal((3, 4)))
    c = symgrad.tensor(rng.standard_normal((3, 5)))
    for _ in range(3):  # traced, compiled, replayed
        z = x @ w
        h = z.relu()
        kept: list = []
        h.register_hook(kept.append)  # the product's fresh gradient, c: relu's cotangent
        z.retain_grad()
        w.grad = None
        (h * c).sum().backward()
        np.testing.assert_array_equal(kept[0].numpy(), c.numpy())
        want = c.numpy() * (z.detach().numpy() > 0)
        np.testing.assert_array_equal(z.grad.numpy(), want)
        np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ want, rtol=1e-12)


def test_a_cotangent_read_twice_is_written_at_its_last_read_only() -> None:
    """x * y with both requiring grad reads the cotangent in both rules: the first product
    must not land in it. exp(x * y) hands mul a cotangent the walk owns."""
    raw._CACHE.clear()
    rng = np.random.default_rng(2)
    xv, yv = rng.standard_normal(6), rng.standard_normal(6)
    for _ in range(3):
        x = symgrad.tensor(xv, requires_grad=True)
        y = symgrad.tensor(yv, requires_grad=True)
        (x * y).exp().sum().backward()
        e = np.exp(xv * yv)
        np.testing.assert_allclose(x.grad.numpy(), e * yv, rtol=1e-12)
        np.testing.assert_allclose(y.grad.numpy(), e * xv, rtol=1e-12)


def test_the_users_gradient_argument_is_never_written() -> None:
    """backward(gradient=g): g is the user's tensor, though only it holds its array."""
    raw._CACHE.clear()
    xv, gv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    for _ in range(3):
        x = symgrad.tensor(xv, requires_grad=True)
        g = symgrad.tensor(gv.copy())
        x.exp().backward(gradient=g)
        np.testing.assert_array_equal(g.numpy(), gv)
        np.testing.assert_allclose(x.grad.numpy(), gv * np.exp(xv), rtol=1e-12)
