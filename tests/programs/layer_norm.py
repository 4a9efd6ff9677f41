"""Layer normalisation followed by a linear read-out and a squared-error loss.

Written the NumPy way: mean and variance over the last axis with keepdims (np.var's ddof=0,
like every layer-norm paper), then gamma * x_hat + beta. Leans on .mean(axis=-1,
keepdims=True), .var(axis=-1, keepdims=True), np.sqrt and `@`.
"""

import numpy as np


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def loss(params, x, target):
    gamma, beta, W = params
    out = layer_norm(x, gamma, beta) @ W
    return ((out - target) ** 2).mean()


ARGNUMS = (0, 1)


def make_inputs(rng):
    x = 2.0 + 1.5 * rng.standard_normal((2, 4, 6))
    params = (1.0 + 0.1 * rng.standard_normal(6), 0.1 * rng.standard_normal(6),
              rng.standard_normal((6, 3)) / np.sqrt(6))
    return params, x, rng.standard_normal((2, 4, 3))
