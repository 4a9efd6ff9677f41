"""Finite differences, the reference every gradient test compares against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def differences(scalar: Callable[..., float], arrays: Sequence[np.ndarray], wrt: Sequence[int],
                step: float = 1e-6, scheme: str = "central") -> list[np.ndarray]:
    """The gradient of `scalar(*arrays)` in every element of each `arrays[i]`, i in `wrt`.

    `scheme` "central" has O(step²) error; "backward" (O(step)) is for a function that jumps
    just above the point, such as a clamp at its bound."""
    grads = []
    for i in wrt:
        g = np.zeros_like(arrays[i])
        for idx in np.ndindex(g.shape):
            def at(delta: float, i: int = i, idx: tuple = idx) -> float:
                moved = [a.copy() for a in arrays]
                moved[i][idx] += delta
                return float(scalar(*moved))
            if scheme == "central":
                g[idx] = (at(step) - at(-step)) / (2 * step)
            else:
                g[idx] = (at(0.0) - at(-step)) / step
        grads.append(g)
    return grads


def assert_eager_matches_torch(torch: Any, fn: Callable, a: np.ndarray, value_tol: dict,
                               grad_tol: dict) -> None:
    """`fn(lib, tensor)` on symgrad and on PyTorch: the same value, `grad_fn` name, and gradient
    of a fixed weighting of the output (cos 0, cos 1, ...)."""
    import symgrad

    t, tt = symgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = fn(symgrad, t), fn(torch, tt)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **value_tol)
    assert y.grad_fn.name() == type(yt.grad_fn).__name__
    w = np.cos(np.arange(float(y.numel()))).reshape(y.shape)
    (y * symgrad.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), **grad_tol)


def difference_columns(fn: Callable[[np.ndarray], Any], x: np.ndarray, step: float = 1e-6) -> list:
    """Central differences of an array-valued `fn` in each element of x, in x's flat order:
    the columns of its Jacobian (of a Hessian, when `fn` is a gradient)."""
    out = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = step
        out.append((fn(x + e.reshape(x.shape)) - fn(x - e.reshape(x.shape))) / (2 * step))
    return out


def code_of(source: str) -> str:
    """Generated source without its comments (the origin quotes hold the user's own code):
    what a test of the generated statements should search."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
