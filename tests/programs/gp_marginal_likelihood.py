"""Gaussian-process regression: negative log marginal likelihood of an RBF kernel.

The hyperparameters (log length scale, log signal and noise standard deviations) are a dict,
as in a JAX/GPJax-style codebase. Leans on np.linalg.cholesky, np.linalg.solve, np.diag,
np.log, broadcasting of a squared-distance matrix and np.sum with axis=-1.
"""

import numpy as np


def rbf_kernel(x1, x2, lengthscale, variance):
    sq = np.sum((x1[:, None, :] - x2[None, :, :]) ** 2, axis=-1)
    return variance * np.exp(-0.5 * sq / lengthscale**2)


def loss(params, x, y):
    ell = np.exp(params["log_lengthscale"])
    sf2 = np.exp(2.0 * params["log_signal"])
    sn2 = np.exp(2.0 * params["log_noise"])
    n = x.shape[0]
    K = rbf_kernel(x, x, ell, sf2) + sn2 * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2 * np.pi)


def make_inputs(rng):
    x = rng.uniform(-3.0, 3.0, size=(12, 2))
    y = np.sin(x[:, 0]) + 0.5 * np.cos(2.0 * x[:, 1]) + 0.1 * rng.standard_normal(12)
    params = {"log_lengthscale": np.array(0.3), "log_signal": np.array(-0.1),
              "log_noise": np.array(-1.5)}
    return params, x, y
