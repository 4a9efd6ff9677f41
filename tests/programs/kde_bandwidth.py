"""Leave-one-out log-likelihood of a Gaussian kernel density estimate, for choosing bandwidth.

The bandwidth is given on a log scale; the training points themselves can move too. Leans on
pairwise differences by broadcasting (x[:, None] - x[None, :]), masking the diagonal with
np.eye, np.exp, np.log and .sum(axis=1).
"""

import numpy as np


def loss(log_h, x):
    n = x.shape[0]
    h = np.exp(log_h)
    d = (x[:, None] - x[None, :]) / h
    k = np.exp(-0.5 * d**2) / (h * np.sqrt(2 * np.pi))
    k = k * (1.0 - np.eye(n))
    loo = k.sum(axis=1) / (n - 1)
    return -np.mean(np.log(loo))


ARGNUMS = (0, 1)


def make_inputs(rng):
    x = np.concatenate([rng.normal(-1.0, 0.5, 10), rng.normal(1.5, 0.8, 10)])
    return np.array(np.log(0.4)), x
