"""Gradients at kinks: PyTorch's in eager mode, JAX's in the compiled face.

Each row is one op at points on its kinks (0, the bounds of a clamp, ties), written once over a
library: eagerly with `L` = symgrad or torch (the same code), compiled with `xp` = NumPy (traced
by `symgrad.grad`) or `jax.numpy`. Where symgrad's compiled convention differs from JAX's on
purpose, the row says why and holds the documented value (README, "Gradients at kinks").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import symgrad

torch = pytest.importorskip("torch")

X = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]
TIES = [1.0, 3.0, 3.0, 2.0]
WEIGHTS = [1.0, 2.0, 3.0, 4.0]  # a cotangent that tells positions apart


def _jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _const(lib: Any, values: list[float]) -> Any:
    """`values` as an array of the library that runs the row (no gradient)."""
    if lib in (symgrad, torch):
        return lib.tensor(values, dtype=lib.float64)
    return lib.asarray(values)


@dataclass(frozen=True)
class Kink:
    """One op at its kinks: `eager(L, x)` and `compiled(xp, x)` return arrays summed into the loss."""

    name: str
    eager: Callable[[Any, Any], Any] | None
    compiled: Callable[[Any, Any], Any] | None
    x: tuple[float, ...] = tuple(X)
    not_jax: str = ""  # why symgrad's compiled gradient is not JAX's here
    documented: tuple[float, ...] | None = None  # symgrad's compiled gradient when not JAX's


ROWS = [
    Kink("relu", lambda L, x: L.relu(x), lambda xp, x: xp.where(x > 0, x, 0)),
    Kink("relu as maximum(x, 0)", lambda L, x: L.nn.functional.relu(x),
         lambda xp, x: xp.maximum(x, 0),
         not_jax="np.maximum(x, 0) is relu (gradient 0 at 0, as jax.nn.relu); jnp.maximum shares the tie",
         documented=(0, 0, 0, 1, 1, 1)),
    Kink("abs", lambda L, x: x.abs(), lambda xp, x: xp.abs(x),
         not_jax="abs' = sign, 0 at 0 (PyTorch's and NumPy autograd's); JAX's is 1 at 0",
         documented=(-1, -1, 0, 1, 1, 1)),
    Kink("clamp / clip inside (-1, 1)", lambda L, x: L.clamp(x, -1, 1), lambda xp, x: xp.clip(x, -1, 1)),
    Kink("clamp / clip at a zero bound", lambda L, x: x.clip(0, 1), lambda xp, x: xp.clip(x, 0, 1),
         not_jax="a zero lower bound makes np.maximum(x, 0), relu: 0 at 0", documented=(0, 0, 0, 1, 0.5, 0)),
    Kink("clamp_min / clip(lo, None)", lambda L, x: x.clamp_min(-1), lambda xp, x: xp.clip(x, -1, None)),
    Kink("clamp_max / clip(None, hi)", lambda L, x: x.clamp_max(1), lambda xp, x: xp.clip(x, None, 1)),
    Kink("clamp / clip with min > max", lambda L, x: L.clamp(x, 1, -1), lambda xp, x: xp.clip(x, 1, -1)),
    Kink("clamp / clip, tensor bounds",
         lambda L, x: L.clamp(x, _const(L, [-1.0] * 6), _const(L, [1.0] * 6)),
         lambda xp, x: xp.clip(x, _const(xp, [-1.0] * 6), _const(xp, [1.0] * 6))),
    Kink("maximum, ties", lambda L, x: L.maximum(x, _const(L, [-2.0, 0, 0, 0.5, 0, 0])),
         lambda xp, x: xp.maximum(x, _const(xp, [-2.0, 0, 0, 0.5, 0, 0]))),
    Kink("minimum, ties", lambda L, x: L.minimum(x, _const(L, [-2.0, 0, 0, 0.5, 0, 0])),
         lambda xp, x: xp.minimum(x, _const(xp, [-2.0, 0, 0, 0.5, 0, 0]))),
    Kink("fmax, ties", lambda L, x: L.fmax(x, _const(L, [-2.0, 0, 0, 0.5, 0, 0])),
         lambda xp, x: xp.fmax(x, _const(xp, [-2.0, 0, 0, 0.5, 0, 0])),
         not_jax="one rule: the first operand takes a tie (PyTorch's FmaxBackward0); JAX's the second",
         documented=(1, 0, 1, 1, 1, 1)),
    Kink("max / amax of everything, ties", lambda L, x: x.max(), lambda xp, x: xp.max(x), x=tuple(TIES)),
    Kink("amax along an axis, ties", lambda L, x: x.amax(0), lambda xp, x: xp.amax(x, axis=0), x=tuple(TIES)),
    Kink("max(dim), ties", lambda L, x: x.max(0)[0], lambda xp, x: x[xp.argmax(x)], x=tuple(TIES)),
    Kink("min of everything, ties", lambda L, x: (-x).min(), lambda xp, x: xp.min(-x), x=tuple(TIES)),
    Kink("sign", lambda L, x: x.sign(), lambda xp, x: xp.sign(x)),
    Kink("floor", lambda L, x: x.floor(), lambda xp, x: xp.floor(x)),
    Kink("round", lambda L, x: x.round(), lambda xp, x: xp.round(x + 0.5)),
    Kink("sqrt at 0 (inf)", lambda L, x: x.sqrt(), lambda xp, x: xp.sqrt(x), x=(0.0, 1.0, 4.0)),
    Kink("norm at 0", lambda L, x: x.norm(), lambda xp, x: xp.linalg.norm(x), x=(0.0, 0.0, 0.0),
         not_jax="the norm's gradient at 0 is 0 (PyTorch's subgradient); JAX's is nan (0/0)",
         documented=(0, 0, 0)),
    Kink("where", lambda L, x: L.where(x > 0, x, -x), lambda xp, x: xp.where(x > 0, x, -x)),
    Kink("where keeping x at 0", lambda L, x: L.where(x < 0, 0.0 * x, x),
         lambda xp, x: xp.where(x < 0, 0, x)),
    Kink("sort, ties", lambda L, x: x.sort()[0] * _const(L, WEIGHTS),
         lambda xp, x: xp.sort(x) * _const(xp, WEIGHTS), x=tuple(TIES)),
    Kink("topk, ties", lambda L, x: x.topk(2)[0] * _const(L, [1.0, 5.0]),
         lambda xp, x: xp.sort(x)[::-1][:2] * _const(xp, [1.0, 5.0]), x=tuple(TIES)),
    Kink("median, ties", lambda L, x: x.median(), lambda xp, x: xp.median(x), x=tuple(TIES)),
    Kink("quantile 0.5, ties", lambda L, x: L.quantile(x, 0.5), lambda xp, x: xp.quantile(x, 0.5),
         x=tuple(TIES)),
    Kink("leaky_relu at 0", lambda L, x: L.nn.functional.leaky_relu(x, 0.1),
         lambda xp, x: xp.where(x > 0, x, 0.1 * x)),
    Kink("hardtanh at its bounds", lambda L, x: L.nn.functional.hardtanh(x), None),
    Kink("relu6 at 0 and 6", lambda L, x: L.nn.functional.relu6(x), None, x=(-1.0, 0.0, 3.0, 6.0, 7.0)),
    Kink("ReLU6, Hardtanh modules", lambda L, x: L.nn.ReLU6()(x) + L.nn.Hardtanh(0.0, 0.5)(x), None,
         x=(-1.0, 0.0, 0.5, 6.0, 7.0)),
    Kink("heaviside", None, lambda xp, x: xp.heaviside(x, 0.5)),
]
EAGER = [row for row in ROWS if row.eager is not None]
COMPILED = [row for row in ROWS if row.compiled is not None]


@pytest.fixture(autouse=True)
def _inf_is_expected() -> Any:
    """sqrt's gradient at 0 is 1 / 0 = inf in every library."""
    with np.errstate(divide="ignore"):
        yield


def _eager_grad(lib: Any, row: Kink) -> np.ndarray:
    x = lib.tensor(row.x, dtype=lib.float64, requires_grad=True)
    row.eager(lib, x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("row", EAGER, ids=lambda r: r.name)
def test_eager_gradient_at_kinks_is_pytorchs(row: Kink) -> None:
    np.testing.assert_array_equal(_eager_grad(symgrad, row), _eager_grad(torch, row))


def _jax_grad(row: Kink) -> np.ndarray:
    jax = _jax()
    return np.asarray(jax.grad(lambda x: row.compiled(jax.numpy, x).sum())(np.array(row.x)))


@pytest.mark.parametrize("row", COMPILED, ids=lambda r: r.name)
def test_compiled_gradient_at_kinks_is_jaxs(row: Kink) -> None:
    got = symgrad.grad(lambda x: row.compiled(np, x).sum())(np.array(row.x))
    if row.not_jax:
        np.testing.assert_array_equal(got, row.documented)
        assert not np.array_equal(got, _jax_grad(row), equal_nan=True), f"JAX agrees now: {row.not_jax}"
    else:
        np.testing.assert_array_equal(got, _jax_grad(row))


TORCH_FUNCTIONS = {
    "clamp(x, 0, 1)": lambda L, x: L.clamp(x, 0, 1),
    "clip(x, 0, 1)": lambda L, x: L.clip(x, 0, 1),
    "clamp(x, min=0)": lambda L, x: L.clamp(x, min=0),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x),
    "relu6": lambda L, x: L.nn.functional.relu6(3 * x),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.1),
    "relu": lambda L, x: L.nn.functional.relu(x),
}


@pytest.mark.parametrize("name", TORCH_FUNCTIONS)
def test_torch_functions_keep_pytorchs_kinks_when_compiled(name: str) -> None:
    """`symgrad.*` and `nn.functional` keep PyTorch's meaning on either face: traced, clamp's
    bounds are inclusive (gradient 1 at x == min, also for min = 0) and hardtanh's exclusive."""
    fn = TORCH_FUNCTIONS[name]
    x = np.array(X)
    got = symgrad.grad(lambda x: fn(symgrad, x).sum())(x)
    np.testing.assert_array_equal(got, _eager_grad(torch, Kink(name, fn, None, tuple(X))))


def test_bounds_get_gradients_as_in_each_library() -> None:
    """Tensor bounds: where x is below min, min takes the gradient (PyTorch: x at a bound keeps
    it; JAX and compiled np.clip: half to x, half to the bound)."""
    x, lo, hi = np.array(X), np.full(6, -1.0), np.full(6, 1.0)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, lo, hi)]
    torch.clamp(*tensors).sum().backward()
    mine = [symgrad.tensor(a, requires_grad=True) for a in (x, lo, hi)]
    symgrad.clamp(*mine).sum().backward()
    for a, b in zip(mine, tensors):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    jax = _jax()
    want = jax.grad(lambda *a: jax.numpy.clip(*a).sum(), argnums=(0, 1, 2))(x, lo, hi)
    got = symgrad.grad(lambda *a: np.clip(*a).sum(), argnums=(0, 1, 2))(x, lo, hi)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_second_derivative_through_clamp() -> None:
    """d2/dx2 of clamp(x, -1, 1)**2 is 2 inside and at the bounds (PyTorch), 2 inside and 1 at
    the bounds compiled (JAX: the first derivative 2 clip(x) clip'(x) takes half at a bound)."""
    def twice(lib: Any) -> np.ndarray:
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((lib.clamp(x, -1, 1) ** 2).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        return h.numpy()
    np.testing.assert_array_equal(twice(symgrad), twice(torch))
    jax = _jax()
    hessian_diagonal = jax.grad(lambda x: jax.grad(lambda x: (jax.numpy.clip(x, -1, 1) ** 2).sum())(x).sum())
    compiled = symgrad.grad(lambda x: symgrad.grad(lambda x: (np.clip(x, -1, 1) ** 2).sum())(x).sum())
    np.testing.assert_array_equal(compiled(np.array(X)), np.asarray(hessian_diagonal(np.array(X))))


def test_hardtanh_keeps_nan_and_rejects_crossed_bounds() -> None:
    x = symgrad.tensor([float("nan"), -3.0, 0.25, 3.0])
    np.testing.assert_array_equal(symgrad.nn.functional.hardtanh(x).numpy(),
                                  torch.nn.functional.hardtanh(torch.tensor(x.numpy())).numpy())
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        symgrad.nn.functional.hardtanh(x, 1.0, -1.0)


def test_heaviside_has_no_gradient_compiled_and_zero_eager() -> None:
    """heaviside's derivative is 0 wherever it exists; eagerly symgrad gives that 0 where
    PyTorch raises (its derivative is not implemented)."""
    x = symgrad.tensor(X, dtype=symgrad.float64, requires_grad=True)
    symgrad.heaviside(x, symgrad.tensor([0.5], dtype=symgrad.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(6))
    t = torch.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        torch.heaviside(t, torch.tensor([0.5], dtype=t.dtype)).sum().backward()
