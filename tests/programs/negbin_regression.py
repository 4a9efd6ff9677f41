"""Negative binomial regression (NB2, mean mu and dispersion r) for overdispersed counts.

The parameters are a (weights, log_r) tuple. Leans on scipy.special.gammaln (three calls),
np.logaddexp for log(r + mu) on the log scale, np.exp and x.sum().
"""

import numpy as np
from scipy import special


def loss(params, X, y):
    w, log_r = params
    r = np.exp(log_r)
    log_mu = X @ w
    log_r_plus_mu = np.logaddexp(log_r, log_mu)
    ll = (special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
          + r * (log_r - log_r_plus_mu) + y * (log_mu - log_r_plus_mu))
    return -ll.sum()


def make_inputs(rng):
    X = np.column_stack([np.ones(30), rng.standard_normal((30, 2))])
    mu = np.exp(X @ np.array([1.5, 0.3, -0.6]))
    r = 2.0
    y = rng.negative_binomial(r, r / (r + mu)).astype(np.float64)
    return (np.array([1.4, 0.2, -0.5]), np.array(np.log(1.5))), X, y
