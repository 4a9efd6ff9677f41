"""Whitening penalty: circular autocorrelation of a filtered signal at lags 1..L, squared.

Filters a coloured noise sequence with a learnable AR-inverse (FIR) and penalises the
autocorrelation left at small lags. Leans on np.roll (circular shifts), a list comprehension
turned into an array with np.array, x - x.mean(), np.var, np.dot.
"""

import numpy as np


def autocorr(e, max_lag):
    e = e - e.mean()
    return np.array([np.dot(e, np.roll(e, k)) for k in range(1, max_lag + 1)]) / (e.size * np.var(e))


def loss(a, x, max_lag=4):
    residual = x.copy()
    for k in range(1, a.size + 1):
        residual = residual - a[k - 1] * np.roll(x, k)
    return np.sum(autocorr(residual, max_lag) ** 2)


def make_inputs(rng):
    n = 64
    noise = rng.standard_normal(n)
    x = np.zeros(n)
    for t in range(n):
        x[t] = noise[t] + 0.6 * x[t - 1] - 0.2 * x[t - 2]
    return np.array([0.4, -0.1]), x
