"""Robust linear regression with a Student-t likelihood (location, scale and dof learned).

Leans on scipy.special.gammaln, np.log1p, np.exp, `@`, and a flat parameter vector unpacked
by slicing, as a scipy.optimize.minimize user writes it.
"""

import numpy as np
from scipy.special import gammaln


def loss(theta, X, y):
    d = X.shape[1]
    w, log_sigma, log_nu = theta[:d], theta[d], theta[d + 1]
    sigma, nu = np.exp(log_sigma), np.exp(log_nu)
    z = (y - X @ w) / sigma
    logpdf = (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - log_sigma
              - (nu + 1) / 2 * np.log1p(z**2 / nu))
    return -logpdf.sum()


def make_inputs(rng):
    X = np.column_stack([np.ones(25), rng.standard_normal((25, 2))])
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.3 * rng.standard_t(3.0, size=25)
    theta = np.array([0.4, -0.9, 1.8, np.log(0.4), np.log(4.0)])
    return theta, X, y
