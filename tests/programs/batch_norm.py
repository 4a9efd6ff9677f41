"""A dense layer with batch normalisation (training mode) and a softmax cross-entropy head.

Batch statistics over axis 0 with NumPy's biased variance (ddof=0), as in Ioffe & Szegedy
(2015). Leans on x.mean(axis=0), x.var(axis=0), np.sqrt, np.maximum (ReLU), `@`,
scipy.special.log_softmax and integer-array indexing of the labels.
"""

import numpy as np
from scipy.special import log_softmax


def batch_norm(h, gamma, beta, eps=1e-5):
    mean = h.mean(axis=0)
    var = h.var(axis=0)
    return gamma * (h - mean) / np.sqrt(var + eps) + beta


def loss(params, x, labels):
    h = x @ params["W1"]
    h = np.maximum(batch_norm(h, params["gamma"], params["beta"]), 0.0)
    logits = h @ params["W2"] + params["b2"]
    logp = log_softmax(logits, axis=1)
    return -logp[np.arange(x.shape[0]), labels].mean()


def make_inputs(rng):
    params = {"W1": rng.standard_normal((5, 6)) / np.sqrt(5),
              "gamma": 1.0 + 0.1 * rng.standard_normal(6), "beta": 0.1 * rng.standard_normal(6),
              "W2": rng.standard_normal((6, 3)) / np.sqrt(6), "b2": np.zeros(3)}
    return params, rng.standard_normal((10, 5)), rng.integers(0, 3, size=10)
