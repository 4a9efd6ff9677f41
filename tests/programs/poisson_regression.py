"""Poisson GLM (log link) negative log-likelihood with an L2 penalty on the weights.

Leans on scipy.special.gammaln for log(y!), np.exp, np.dot and an np.sum over the data.
"""

import numpy as np
import scipy.special


def loss(w, X, counts, l2=0.1):
    eta = np.dot(X, w)
    loglik = counts * eta - np.exp(eta) - scipy.special.gammaln(counts + 1)
    return -np.sum(loglik) + 0.5 * l2 * np.sum(w**2)


def make_inputs(rng):
    X = np.column_stack([np.ones(30), rng.uniform(-1.0, 1.0, size=(30, 3))])
    counts = rng.poisson(np.exp(X @ np.array([1.0, 0.5, -0.4, 0.2]))).astype(np.float64)
    return np.array([0.8, 0.4, -0.3, 0.1]), X, counts
