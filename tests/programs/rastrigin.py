"""The Rastrigin test function (many local minima), a global-optimisation benchmark.

Leans on np.cos, np.pi, x.size and np.sum.
"""

import numpy as np


def loss(x, A=10.0):
    return A * x.size + np.sum(x**2 - A * np.cos(2 * np.pi * x))


HESSIAN = True


def make_inputs(rng):
    return (rng.uniform(-2.0, 2.0, size=5),)
