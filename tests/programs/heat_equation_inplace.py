"""Explicit finite differences for the 1-D heat equation, fitted to a final profile.

Written as numerical-methods courses write it: a copy of the initial profile updated in place
each step through a view of its interior (`interior += r * lap`), Dirichlet boundaries set by
item assignment. Leans on x.copy(), slicing views, in-place `+=` through a view, np.exp, np.mean.
"""

import numpy as np


def loss(u0, log_kappa, observed, steps=20, dx=0.1, dt=0.002):
    r = np.exp(log_kappa) * dt / dx**2
    u = u0.copy()
    u[0] = u[-1] = 0.0
    interior = u[1:-1]
    for _ in range(steps):
        lap = u[2:] - 2 * u[1:-1] + u[:-2]
        interior += r * lap
    return np.mean((u - observed) ** 2)


ARGNUMS = (0, 1)
HESSIAN = True


def make_inputs(rng):
    x = np.linspace(0.0, 1.0, 11)
    u0 = np.sin(np.pi * x) + 0.1 * rng.standard_normal(11)
    observed = 0.7 * np.sin(np.pi * x)
    return u0, np.log(0.8), observed
