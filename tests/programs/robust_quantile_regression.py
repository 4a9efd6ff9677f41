"""Robust regression objectives built on order statistics: LMS-style median and trimmed loss.

Least median of squares (Rousseeuw) smoothed by a 0.75 quantile of squared residuals, plus a
trimmed mean of absolute residuals through np.sort. Leans on np.median, np.quantile (linear
interpolation), np.sort, np.abs and `@`.
"""

import numpy as np


def loss(beta, X, y, trim=4):
    r = y - X @ beta
    lms = np.median(r**2) + np.quantile(r**2, 0.75)
    trimmed = np.mean(np.sort(np.abs(r))[:-trim])
    return lms + trimmed


def make_inputs(rng):
    X = np.column_stack([np.ones(21), rng.uniform(-2, 2, size=21)])
    y = X @ np.array([1.0, 2.0]) + 0.3 * rng.standard_normal(21)
    y[[3, 11, 15]] += np.array([8.0, -6.0, 10.0])  # gross outliers
    return np.array([0.8, 1.7]), X, y
