"""Beta-binomial regression of success counts, the overdispersed binomial of ecology papers.

The log-pmf through scipy.special.betaln and gammaln, a logit-linear mean and a log
concentration, parameters in a namedtuple. Leans on scipy.special.betaln, gammaln, expit,
namedtuple attribute access and `@`.
"""

from collections import namedtuple

import numpy as np
from scipy.special import betaln, expit, gammaln

Params = namedtuple("Params", "coef log_phi")


def loss(params, X, k, n):
    mu = expit(X @ params.coef)
    phi = np.exp(params.log_phi)
    a, b = mu * phi, (1 - mu) * phi
    log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return -np.sum(log_choose + betaln(k + a, n - k + b) - betaln(a, b))


def make_inputs(rng):
    X = np.column_stack([np.ones(40), rng.standard_normal(40)])
    n = rng.integers(5, 20, 40).astype(float)
    p = rng.beta(2.0, 3.0, 40)
    k = rng.binomial(n.astype(int), p).astype(float)
    return Params(np.array([-0.4, 0.3]), np.log(4.0)), X, k, n
