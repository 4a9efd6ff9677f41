"""Finite differences, the reference every gradient test compares against."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
