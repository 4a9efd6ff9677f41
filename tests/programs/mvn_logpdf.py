"""Multivariate normal log-likelihood of a data set, covariance parametrised as A A^T + eps I.

Written the textbook way: the inverse and the log-determinant, a Mahalanobis term through a
three-operand einsum. Leans on np.linalg.slogdet, np.linalg.inv, np.einsum("ni,ij,nj->n"),
np.tril.
"""

import numpy as np


def loss(mean, factor, X):
    d = X.shape[1]
    A = np.tril(factor)
    cov = A @ A.T + 1e-3 * np.eye(d)
    sign, logdet = np.linalg.slogdet(cov)
    prec = np.linalg.inv(cov)
    centred = X - mean
    maha = np.einsum("ni,ij,nj->n", centred, prec, centred)
    logpdf = -0.5 * (maha + logdet + d * np.log(2.0 * np.pi))
    return -np.sum(logpdf)


ARGNUMS = (0, 1)


def make_inputs(rng):
    d = 3
    true_A = np.array([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [-0.3, 0.2, 0.6]])
    X = rng.standard_normal((20, d)) @ true_A.T + np.array([1.0, -2.0, 0.5])
    mean = np.array([0.8, -1.7, 0.4])
    factor = true_A + 0.1 * rng.standard_normal((d, d))
    return mean, factor, X
