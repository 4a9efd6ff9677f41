"""The N-dimensional Rosenbrock function in three spellings people actually write.

A Python loop over coordinates (textbook), vectorised slices (scipy.optimize.rosen), and
np.diff with methods (x[:-1] ** 2 via .sum()). Leans on slicing, np.diff, np.sum, .sum().
"""

import numpy as np


def rosen_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


def rosen_slices(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)


def rosen_diff(x):
    head = x[:-1]
    return (100 * (np.diff(x) + head - head**2) ** 2).sum() + ((1 - head) ** 2).sum()


loss = rosen_slices
LOSSES = (rosen_loop, rosen_slices, rosen_diff)
HESSIAN = True


def make_inputs(rng):
    return (np.array([-1.2, 1.0, 0.8, 1.3, 0.5, -0.4]) + 0.01 * rng.standard_normal(6),)
