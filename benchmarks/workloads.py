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

Each workload is also written other ways, as people write the same loss (`SPELLINGS`): a
dict of parameters instead of positional arrays, a numerically stable idiom, `einsum` for
`@`, an outer product for a quadratic form... A spelling is a `Workload` named
"workload/spelling" with its own `fn` and the main spelling's inputs, floor and target;
`pack` turns the inputs into its arguments and `unpack` its gradient into the floor's
order, so every spelling is held to the same floor.

The floor must be right for the ratios to mean anything; tests/test_benchmarks.py checks
each `hand` against finite differences and against symgrad.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.special


@dataclass(frozen=True)
class Workload:
    """One benchmark: a function, its inputs, and the floor for its derivative."""

    name: str
    fn: Callable[..., Any]
    inputs: Callable[..., tuple[np.ndarray, ...]]  # inputs(small=False); small for tests
    wrt: tuple[int, ...]
    hand: Callable[..., tuple[np.ndarray, ...]]
    torch_fn: Callable[..., Any]
    target: float  # the compiled gradient's target, as a ratio to `hand` (issue 5)
    kind: str = "grad"
    what: str = ""
    rtol: float = 1e-9  # largest max relative error vs the floor that counts as agreement
    spelling: str = ""  # "" for the main spelling, else the name after the "/"
    pack: Callable[[tuple], tuple] | None = None  # inputs -> fn's arguments (None: as they are)
    argnums: tuple[int, ...] | None = None  # fn's differentiated arguments (None: `wrt`)
    unpack: Callable[[Any], tuple] | None = None  # fn's gradient -> the floor's tuple
    portable: bool = True  # fn calls only `np`, so `with_numpy` runs it under JAX

    def arguments(self, inputs: tuple) -> tuple:
        """`fn`'s arguments for the workload's inputs (a dict of parameters, for a pytree)."""
        return self.pack(inputs) if self.pack else inputs

    def loss(self, *inputs: Any) -> Any:
        """`fn` at the workload's inputs: the same number for every spelling."""
        return self.fn(*self.arguments(inputs))

    def gradient(self, out: Any) -> tuple:
        """A derivative of `fn` (as `argnums` gives it) in the floor's order."""
        return self.unpack(out) if self.unpack else out


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


def tutorial_inputs(small=False):
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


def mlp_inputs(small=False):
    rng = _rng()
    f32 = np.float32
    layers = [(32, 16), (16, 8), (8, 10)] if small else [(784, 256), (256, 128), (128, 10)]
    x = rng.standard_normal((64, layers[0][0])).astype(f32)  # 64 rows: the loss divides by 64
    onehot = np.eye(10, dtype=f32)[rng.integers(0, 10, 64)]
    params = []
    for fan_in, fan_out in layers:
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


def elementwise_inputs(small=False):
    return (_rng().uniform(-2, 2, 1000 if small else 10**6),)


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


def rosenbrock_inputs(small=False):
    return (_rng().uniform(-2, 2, 1000 if small else 10**6),)


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


def logreg_inputs(small=False):
    rng = _rng()
    n, d = (1000, 10) if small else (100_000, 100)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / 10
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    return (0.1 * rng.standard_normal(d), X, y)


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


def deep_chain_inputs(small=False):
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


def quartic_inputs(small=False):
    rng = _rng()
    M = rng.standard_normal((50, 50))
    return (rng.standard_normal(50), (M + M.T) / 2)


def quartic_hand(x, A):
    return (np.diag(3 * x**2) + A,)


def quartic_torch(x, A):
    import torch
    return torch.sum(x**4) / 4 + x @ A @ x / 2


# ---------------------------------------------------------------- other spellings
# The same mathematics as each workload above, written as other people write it. Each
# function takes the main spelling's arguments unless its `pack` says otherwise.

def _bce_params(inputs):  # (x, y, w, b) -> ({"w", "b"}, x, y)
    x, y, w, b = inputs
    return {"w": w, "b": b}, x, y


def tutorial_pytree(params, x, y):
    """parameters in a dict {"w", "b"}, differentiated as one pytree."""
    z = x @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, z) - y * z)


def tutorial_stable(x, y, w, b):
    """stable BCE: max(z, 0) - z*y + log1p(exp(-|z|))."""
    z = x @ w + b
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def tutorial_log_sigmoid(x, y, w, b):
    """BCE as -(y log p + (1-y) log(1-p)) with p = 1/(1+exp(-z))."""
    p = 1 / (1 + np.exp(-(x @ w + b)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def tutorial_softplus(x, y, w, b):
    """np.dot, log(1 + exp(z)) - y*z."""
    z = np.dot(x, w) + b
    return np.mean(np.log(1 + np.exp(z)) - y * z)


def tutorial_expit(x, y, w, b):
    """einsum and scipy.special.log_expit of z and -z."""
    z = np.einsum("i,ij->j", x, w) + b
    return -np.mean(y * scipy.special.log_expit(z) + (1 - y) * scipy.special.log_expit(-z))


def _mlp_params(inputs):  # (x, onehot, w1, b1, ...) -> ([{"w", "b"} per layer], x, onehot)
    x, onehot, *wb = inputs
    return [{"w": w, "b": b} for w, b in zip(wb[::2], wb[1::2])], x, onehot


def _mlp_grads(layers):
    return tuple(g for layer in layers for g in (layer["w"], layer["b"]))


def mlp_pytree(layers, x, onehot):
    """a list of {"w", "b"} layers looped over; keepdims shift; mean over rows."""
    h = x
    for layer in layers[:-1]:
        h = np.tanh(h @ layer["w"] + layer["b"])
    z = h @ layers[-1]["w"] + layers[-1]["b"]
    z = z - np.max(z, axis=-1, keepdims=True)
    return -np.mean(np.sum(onehot * (z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))), axis=-1))


def mlp_squeeze(x, onehot, w1, b1, w2, b2, w3, b3):
    """np.dot; max shift without keepdims, re-broadcast with [:, None]."""
    h1 = np.tanh(np.dot(x, w1) + b1)
    h2 = np.tanh(np.dot(h1, w2) + b2)
    z = np.dot(h2, w3) + b3
    m = z.max(axis=1)  # shift without keepdims, re-broadcast by hand
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return -(np.sum(onehot * z) - np.sum(lse)) / 64


def mlp_logsumexp(x, onehot, w1, b1, w2, b2, w3, b3):
    """einsum('bi,ij->bj') layers, scipy.special.logsumexp."""
    h1 = np.tanh(np.einsum("bi,ij->bj", x, w1) + b1)
    h2 = np.tanh(np.einsum("bi,ij->bj", h1, w2) + b2)
    z = np.einsum("bi,ij->bj", h2, w3) + b3
    return np.mean(scipy.special.logsumexp(z, axis=1) - np.sum(onehot * z, axis=1))


def mlp_log_softmax(x, onehot, w1, b1, w2, b2, w3, b3):
    """scipy.special.log_softmax, picked by integer labels."""
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    logp = scipy.special.log_softmax(h2 @ w3 + b3, axis=1)
    labels = np.argmax(onehot, axis=1)
    return -np.mean(logp[np.arange(len(labels)), labels])


def mlp_expand_dims(x, onehot, w1, b1, w2, b2, w3, b3):
    """softmax by hand with np.expand_dims, then log of it."""
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    e = np.exp(z - np.expand_dims(np.max(z, axis=1), 1))
    p = e / np.expand_dims(np.sum(e, axis=1), 1)
    return -np.sum(onehot * np.log(p)) / 64


def elementwise_power(x):
    """np.power(x, 2) written out three times."""
    return np.sum(np.sin(x) * np.exp(-np.power(x, 2)) + np.tanh(x) / (1 + np.power(x, 2))
                  + x * np.log1p(np.power(x, 2)))


def elementwise_square(x):
    """np.square, three sums."""
    x2 = np.square(x)
    return np.sum(np.sin(x) * np.exp(-x2)) + np.sum(np.tanh(x) / (1 + x2)) + np.sum(x * np.log1p(x2))


def elementwise_pow(x):
    """x**2 three times, ** -1 for the division, log(1 + x**2), .sum()."""
    return (np.sin(x) * np.exp(-x**2) + np.tanh(x) * (1 + x**2) ** -1 + x * np.log(1 + x**2)).sum()


def elementwise_ufuncs(x):
    """np.multiply, np.add, np.divide, np.negative."""
    x2 = np.multiply(x, x)
    terms = np.add(np.multiply(np.sin(x), np.exp(np.negative(x2))),
                   np.divide(np.tanh(x), np.add(1, x2)))
    return np.sum(np.add(terms, np.multiply(x, np.log1p(x2))))


def rosenbrock_slices(x):
    """a, b = x[:-1], x[1:]; a*a."""
    a, b = x[:-1], x[1:]
    return np.sum(100 * (b - a * a) ** 2 + (1 - a) ** 2)


def rosenbrock_square(x):
    """np.square, two sums."""
    return 100 * np.sum(np.square(x[1:] - np.square(x[:-1]))) + np.sum(np.square(1 - x[:-1]))


def rosenbrock_dot(x):
    """sums of squares as dot products r @ r."""
    r, s = x[1:] - x[:-1] ** 2, 1 - x[:-1]
    return 100 * (r @ r) + np.dot(s, s)


def rosenbrock_zip(x):
    """the pairs (x_i, x_i+1) stacked as two rows."""
    head, tail = x[:-1], x[1:]  # pairs (x_i, x_i+1) as two stacked rows
    pairs = np.stack([head, tail])
    return np.sum(100 * (pairs[1] - pairs[0] ** 2) ** 2 + (1 - pairs[0]) ** 2)


def logreg_stable(w, X, y):
    """stable BCE: max(z, 0) - z*y + log1p(exp(-|z|)); LAM/2 w.w."""
    z = X @ w
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))) + LAM / 2 * np.dot(w, w)


def logreg_log_sigmoid(w, X, y):
    """np.dot, -(y log p + (1-y) log(1-p)) with p = 1/(1+exp(-z)), w**2."""
    p = 1 / (1 + np.exp(-np.dot(X, w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.5 * LAM * np.sum(w**2)


def logreg_softplus(w, X, y):
    """einsum('nd,d->n'), log(1 + exp(z)), sum / len(y)."""
    z = np.einsum("nd,d->n", X, w)
    return np.sum(np.log(1 + np.exp(z)) - y * z) / len(y) + 0.5 * LAM * w @ w


def logreg_expit(w, X, y):
    """scipy.special.log_expit of z and -z, np.linalg.norm(w) ** 2."""
    z = X @ w
    nll = -(y * scipy.special.log_expit(z) + (1 - y) * scipy.special.log_expit(-z))
    return nll.mean() + 0.5 * LAM * np.linalg.norm(w) ** 2


def deep_chain_reduce(x):
    """functools.reduce over 50 copies of one step function."""
    def step(v, _):
        return np.sin(np.tanh(v) * 1.01 + 0.1)
    return np.sum(functools.reduce(step, range(50), x))


def deep_chain_ops(x):
    """an explicit list of the 200 ops, applied in a loop."""
    ops = [np.tanh, lambda v: v * 1.01, lambda v: v + 0.1, np.sin] * 50
    for op in ops:
        x = op(x)
    return x.sum()


def deep_chain_ufuncs(x):
    """np.sin(np.add(np.multiply(np.tanh(x), 1.01), 0.1)) 50 times."""
    for _ in range(50):
        x = np.sin(np.add(np.multiply(np.tanh(x), 1.01), 0.1))
    return np.sum(x)


def deep_chain_recursive(x):
    """recursion, one step per level."""
    def chain(v, depth):
        return v if depth == 0 else chain(np.sin(np.tanh(v) * 1.01 + 0.1), depth - 1)
    return np.sum(chain(x, 50))


def quartic_outer(x, A):
    """np.sum(np.outer(x, x) * A) / 2."""
    return np.sum(x**4) / 4 + np.sum(np.outer(x, x) * A) / 2


def quartic_broadcast(x, A):
    """np.sum(x[:, None] * A * x[None, :]) / 2."""
    return np.sum(x**4) / 4 + np.sum(x[:, None] * A * x[None, :]) / 2


def quartic_einsum(x, A):
    """np.einsum('i,ij,j->', x, A, x) / 2, np.power(x, 4)."""
    return np.sum(np.power(x, 4)) / 4 + np.einsum("i,ij,j->", x, A, x) / 2


def quartic_trace(x, A):
    """np.trace(A @ np.outer(x, x)) / 2, np.square(x) ** 2."""
    return np.sum(np.square(x) ** 2) / 4 + np.trace(A @ np.outer(x, x)) / 2


def quartic_dot(x, A):
    """0.5 * x.dot(A.dot(x)), (x**4).sum()."""
    return (x**4).sum() / 4 + 0.5 * x.dot(A.dot(x))


def quartic_products(x, A):
    """(x * x) @ (x * x) / 4 and (x * A).sum(axis=1) @ x / 2: products, no powers."""
    return (x * x) @ (x * x) / 4 + (x * A).sum(axis=1) @ x / 2


def quartic_tensordot(x, A):
    """np.tensordot(np.tensordot(x, A, axes=1), x, axes=1) / 2."""
    return np.sum(x**4) / 4 + np.tensordot(np.tensordot(x, A, axes=1), x, axes=1) / 2


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


def _spelling(main: str, name: str, fn: Callable[..., Any], **how: Any) -> Workload:
    """The workload `main` written as `fn` (its docstring says how), with the same floor."""
    base = WORKLOADS[main]
    what = f"{base.what.split(';')[0].split(',')[0]}: {fn.__doc__}"  # the workload, then how it is written
    return replace(base, name=f"{main}/{name}", spelling=name, fn=fn, what=what, **how)


_TUTORIAL_TREE = dict(pack=_bce_params, argnums=(0,), unpack=lambda g: (g[0]["w"], g[0]["b"]))
_MLP_TREE = dict(pack=_mlp_params, argnums=(0,), unpack=lambda g: _mlp_grads(g[0]))

SPELLINGS: dict[str, Workload] = {w.name: w for w in [
    _spelling("tutorial", "pytree", tutorial_pytree, **_TUTORIAL_TREE),
    _spelling("tutorial", "stable", tutorial_stable),
    _spelling("tutorial", "log_sigmoid", tutorial_log_sigmoid),
    _spelling("tutorial", "softplus", tutorial_softplus),
    _spelling("tutorial", "expit", tutorial_expit, portable=False),
    _spelling("mlp", "pytree", mlp_pytree, **_MLP_TREE),
    _spelling("mlp", "squeeze", mlp_squeeze),
    _spelling("mlp", "logsumexp", mlp_logsumexp, portable=False),
    _spelling("mlp", "log_softmax", mlp_log_softmax, portable=False),
    _spelling("mlp", "expand_dims", mlp_expand_dims),
    _spelling("elementwise", "power", elementwise_power),
    _spelling("elementwise", "square", elementwise_square),
    _spelling("elementwise", "pow", elementwise_pow),
    _spelling("elementwise", "ufuncs", elementwise_ufuncs),
    _spelling("rosenbrock", "slices", rosenbrock_slices),
    _spelling("rosenbrock", "square", rosenbrock_square),
    _spelling("rosenbrock", "dot", rosenbrock_dot),
    _spelling("rosenbrock", "zip", rosenbrock_zip),
    _spelling("logreg", "stable", logreg_stable),
    _spelling("logreg", "log_sigmoid", logreg_log_sigmoid),
    _spelling("logreg", "softplus", logreg_softplus),
    _spelling("logreg", "expit", logreg_expit, portable=False),
    _spelling("deep_chain", "reduce", deep_chain_reduce),
    _spelling("deep_chain", "ops", deep_chain_ops),
    _spelling("deep_chain", "ufuncs", deep_chain_ufuncs),
    _spelling("deep_chain", "recursive", deep_chain_recursive),
    _spelling("hessian", "outer", quartic_outer),
    _spelling("hessian", "broadcast", quartic_broadcast),
    _spelling("hessian", "einsum", quartic_einsum),
    _spelling("hessian", "trace", quartic_trace),
    _spelling("hessian", "dot", quartic_dot),
    _spelling("hessian", "tensordot", quartic_tensordot),
    _spelling("hessian", "products", quartic_products),
]}
"""Every spelling but the main one, by "workload/spelling"."""


def spellings(name: str) -> list[Workload]:
    """A workload's spellings, the main one first: "hessian" -> hessian, hessian/outer..."""
    return [WORKLOADS[name], *(w for w in SPELLINGS.values() if w.name.split("/")[0] == name)]
