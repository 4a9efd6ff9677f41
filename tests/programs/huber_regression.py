"""Huber regression (the robust loss of scikit-learn's HuberRegressor without the scale).

Quadratic near zero, linear beyond delta, selected with np.where. Leans on np.where, np.abs,
np.dot and a methods-style r.mean().
"""

import numpy as np


def huber(r, delta=1.0):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def loss(coef, X, y, alpha=1e-3):
    r = y - np.dot(X, coef)
    return huber(r).mean() + alpha * np.dot(coef, coef)


def make_inputs(rng):
    X = rng.standard_normal((30, 3))
    y = X @ np.array([1.0, -0.5, 2.0]) + 0.5 * rng.standard_cauchy(30)
    return np.array([0.9, -0.4, 1.8]) + 0.05 * rng.standard_normal(3), X, y
