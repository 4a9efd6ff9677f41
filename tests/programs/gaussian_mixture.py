"""Negative log-likelihood of a diagonal Gaussian mixture, fitted by gradient descent (no EM).

Parameters are a dict (mixture logits, means, log scales). Leans on scipy.special.logsumexp
with axis=, log-softmax written as logits - logsumexp(logits), broadcasting [:, None, :] and
.sum(axis=-1) methods.
"""

import numpy as np
from scipy.special import logsumexp


def loss(params, X):
    log_w = params["logits"] - logsumexp(params["logits"])
    mu, log_s = params["means"], params["log_scales"]
    z = (X[:, None, :] - mu[None, :, :]) / np.exp(log_s)
    log_comp = -0.5 * (z**2).sum(axis=-1) - log_s.sum(axis=-1) - 0.5 * X.shape[1] * np.log(2 * np.pi)
    return -logsumexp(log_w + log_comp, axis=1).mean()


def make_inputs(rng):
    centres = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]])
    X = centres[rng.integers(0, 3, size=30)] + 0.7 * rng.standard_normal((30, 2))
    params = {"logits": np.array([0.1, -0.2, 0.05]),
              "means": centres + 0.3 * rng.standard_normal((3, 2)),
              "log_scales": np.log(0.8) + 0.1 * rng.standard_normal((3, 2))}
    return params, X
