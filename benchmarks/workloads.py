"""The seven benchmark workloads of SPEC.md: each a plain NumPy function and its gradients.

A `Workload` holds:

* `fn`: the function, written against `numpy` only (`np.tanh(x @ w).sum()`), so that
  symgrad can trace it, eager symgrad tensors can run it (they implement `__array_ufunc__`
  and `__array_function__`), and JAX and HIPS autograd can run the very same code with
  `np` rebound to `jax.numpy` or `autograd.numpy` (see `with_numpy`);
* `inputs()`: seeded example inputs, and `wrt`, the positions of the differentiated ones;
* `hand`: the hand-written NumPy gradient, what a careful person would write: the floor
  every candidate is compared with, in time and in value;
* `torch_fn`: the same function written with torch ops (PyTorch has no NumPy namespace);
* `kind`: "grad" (gradients of `wrt`, in that order) or "hessian" (of argument 0).

The floor must be right for the ratios to mean anything; tests/test_benchmarks.py checks
each `hand` against finite differences and against symgrad.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Workload:
    """One benchmark: a function, its inputs, and the floor for its derivative."""

    name: str
    fn: Callable[..., Any]
    inputs: Callable[[], tuple[np.ndarray, ...]]
    wrt: tuple[int, ...]
    hand: Callable[..., tuple[np.ndarray, ...]]
    torch_fn: Callable[..., Any]
    target: float  # the compiled gradient's target, as a ratio to `hand` (issue 5)
    kind: str = "grad"
    what: str = ""
    rtol: float = 1e-9  # largest max relative error vs the floor that counts as agreement


def with_numpy(fn: Callable, module: Any) -> Callable:
    """The same code object as `fn` with its global `np` bound to `module` (jax.numpy...)."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ---------------------------------------------------------------- 1. tutorial

def tutorial(x, y, w, b):
    z = x @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def tutorial_inputs():
    rng = _rng()
    f32 = np.float32
    return (np.ones(5, f32), np.zeros(3, f32), rng.standard_normal((5, 3)).astype(f32),
            rng.standard_normal(3).astype(f32))


def tutorial_hand(x, y, w, b):
    z = x @ w + b
    g = (1 / (1 + np.exp(-z)) - y) / 3
    return np.outer(x, g), g


def tutorial_torch(x, y, w, b):
    import torch
    z = x @ w + b
    return (torch.logaddexp(torch.zeros_like(z), z) - y * z).mean()


# ---------------------------------------------------------------- 2. mlp

def mlp(x, onehot, w1, b1, w2, b2, w3, b3):
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    m = np.max(z, axis=1, keepdims=True)
    logp = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -(onehot * logp).sum() / 64


def mlp_inputs():
    rng = _rng()
    f32 = np.float32
    x = rng.standard_normal((64, 784)).astype(f32)
    onehot = np.eye(10, dtype=f32)[rng.integers(0, 10, 64)]
    params = []
    for fan_in, fan_out in [(784, 256), (256, 128), (128, 10)]:
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(f32))
        params.append((0.1 * rng.standard_normal(fan_out)).astype(f32))
    return (x, onehot, *params)


def mlp_hand(x, onehot, w1, b1, w2, b2, w3, b3):
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    e = np.exp(z - z.max(axis=1, keepdims=True))
    gz = (e / e.sum(axis=1, keepdims=True) - onehot) / 64  # softmax - onehot: its rows sum to 1
    gh2 = (gz @ w3.T) * (1 - h2 * h2)
    gh1 = (gh2 @ w2.T) * (1 - h1 * h1)
    return x.T @ gh1, gh1.sum(0), h1.T @ gh2, gh2.sum(0), h2.T @ gz, gz.sum(0)


def mlp_torch(x, onehot, w1, b1, w2, b2, w3, b3):
    import torch
    h1 = torch.tanh(x @ w1 + b1)
    h2 = torch.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    m = torch.amax(z, dim=1, keepdim=True)
    logp = z - m - torch.log(torch.sum(torch.exp(z - m), dim=1, keepdim=True))
    return -(onehot * logp).sum() / 64


# ---------------------------------------------------------------- 3. elementwise

def elementwise(x):
    # 12 elementwise ops: x*x, sin, -, exp, *, tanh, 1+, /, +, log1p, x*, +; then the sum
    x2 = x * x
    return np.sum(np.sin(x) * np.exp(-x2) + np.tanh(x) / (1 + x2) + x * np.log1p(x2))


def elementwise_inputs():
    return (_rng().uniform(-2, 2, 10**6),)


def elementwise_hand(x):
    x2 = x * x
    tx = 2 * x
    q = 1 / (1 + x2)
    t = np.tanh(x)
    # d/dx of each of the three terms, accumulated in place
    g = (np.cos(x) - tx * np.sin(x)) * np.exp(-x2)
    g += (1 - t * t - tx * t * q) * q
    g += np.log1p(x2) + tx * x * q
    return (g,)


def elementwise_torch(x):
    import torch
    x2 = x * x
    return torch.sum(torch.sin(x) * torch.exp(-x2) + torch.tanh(x) / (1 + x2) + x * torch.log1p(x2))


# ---------------------------------------------------------------- 4. rosenbrock

def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_inputs():
    return (_rng().uniform(-2, 2, 10**6),)


def rosenbrock_hand(x):
    a, b = x[:-1], x[1:]
    d = 200 * (b - a * a)
    g = np.zeros_like(x)
    g[1:] = d
    g[:-1] += -2 * a * d - 2 * (1 - a)
    return (g,)


def rosenbrock_torch(x):
    import torch
    return torch.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


# ---------------------------------------------------------------- 5. logreg

LAM = 1e-3


def logreg(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z) + 0.5 * LAM * np.sum(w * w)


def logreg_inputs():
    rng = _rng()
    X = rng.standard_normal((100_000, 100))
    w_true = rng.standard_normal(100) / 10
    y = (rng.random(100_000) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    return (0.1 * rng.standard_normal(100), X, y)


def logreg_hand(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    p -= y
    return (X.T @ p / len(y) + LAM * w,)


def logreg_torch(w, X, y):
    import torch
    z = X @ w
    return torch.mean(torch.logaddexp(torch.zeros_like(z), z) - y * z) + 0.5 * LAM * torch.sum(w * w)


# ---------------------------------------------------------------- 6. deep_chain

def deep_chain(x):
    for _ in range(50):  # 200 elementwise ops: tanh, *, +, sin; |x| stays below 1.2
        x = np.tanh(x) * 1.01 + 0.1
        x = np.sin(x)
    return np.sum(x)


def deep_chain_inputs():
    return (_rng().uniform(-1, 1, 16),)


def deep_chain_hand(x):
    # forward keeping what the backward needs, then the chain rule step by step
    saved = []
    for _ in range(50):
        t = np.tanh(x)
        u = t * 1.01 + 0.1
        saved.append((t, u))
        x = np.sin(u)
    g = np.ones_like(x)
    for t, u in reversed(saved):
        g = g * np.cos(u) * (1.01 * (1 - t * t))
    return (g,)


def deep_chain_torch(x):
    import torch
    for _ in range(50):
        x = torch.tanh(x) * 1.01 + 0.1
        x = torch.sin(x)
    return torch.sum(x)


# ---------------------------------------------------------------- 7. hessian

def quartic(x, A):
    return np.sum(x**4) / 4 + x @ A @ x / 2


def quartic_inputs():
    rng = _rng()
    M = rng.standard_normal((50, 50))
    return (rng.standard_normal(50), (M + M.T) / 2)


def quartic_hand(x, A):
    return (np.diag(3 * x**2) + A,)


def quartic_torch(x, A):
    import torch
    return torch.sum(x**4) / 4 + x @ A @ x / 2


# ---------------------------------------------------------------- the table

WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("tutorial", tutorial, tutorial_inputs, (2, 3), tutorial_hand, tutorial_torch, 1.3,
             what="BCE-with-logits, x[5] w[5,3] b[3], f32; grads of w, b", rtol=1e-4),
    Workload("mlp", mlp, mlp_inputs, (2, 3, 4, 5, 6, 7), mlp_hand, mlp_torch, 1.1,
             what="64x784-256-128-10 tanh MLP, softmax cross-entropy, f32; grads of all weights",
             rtol=1e-4),
    Workload("elementwise", elementwise, elementwise_inputs, (0,), elementwise_hand, elementwise_torch, 0.8,
             what="12-op elementwise chain over 1e6 f64, summed"),
    Workload("rosenbrock", rosenbrock, rosenbrock_inputs, (0,), rosenbrock_hand, rosenbrock_torch, 0.9,
             what="vectorised Rosenbrock over 1e6 f64"),
    Workload("logreg", logreg, logreg_inputs, (0,), logreg_hand, logreg_torch, 1.05,
             what="logistic regression N=100000 d=100 f64, L2 penalty; grad of w"),
    Workload("deep_chain", deep_chain, deep_chain_inputs, (0,), deep_chain_hand, deep_chain_torch, 1.0,
             what="200 sequential elementwise ops on 16 f64 values"),
    Workload("hessian", quartic, quartic_inputs, (0,), quartic_hand, quartic_torch, 3.0, kind="hessian",
             what="Hessian of sum(x**4)/4 + x@A@x/2, 50 f64 variables"),
]}
