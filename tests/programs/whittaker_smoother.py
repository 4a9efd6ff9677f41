"""Whittaker-Eilers smoother: data fidelity plus a second-difference roughness penalty.

Eilers (2003): minimise sum w (y - z)^2 + lam * sum (Delta^2 z)^2 over the smooth curve z.
Leans on np.diff(z, n=2), np.sum and np.square.
"""

import numpy as np


def loss(z, y, weights, lam=10.0):
    fidelity = np.sum(weights * np.square(y - z))
    roughness = np.sum(np.square(np.diff(z, n=2)))
    return fidelity + lam * roughness


def make_inputs(rng):
    t = np.linspace(0, 1, 30)
    y = np.sin(2 * np.pi * t) + 0.2 * rng.standard_normal(30)
    weights = np.ones(30)
    weights[[4, 17]] = 0.0  # missing observations
    return y + 0.1 * rng.standard_normal(30), y, weights
