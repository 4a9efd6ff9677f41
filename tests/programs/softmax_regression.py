"""Multinomial logistic (softmax) regression: mean cross-entropy picked with take_along_axis.

Leans on scipy.special.logsumexp(axis=1, keepdims=True), np.take_along_axis with an index
array of shape (N, 1), np.dot and np.sum(w * w) weight decay.
"""

import numpy as np
from scipy.special import logsumexp


def loss(W, b, X, y, weight_decay=1e-2):
    logits = np.dot(X, W) + b
    log_probs = logits - logsumexp(logits, axis=1, keepdims=True)
    picked = np.take_along_axis(log_probs, y[:, None], axis=1)
    return -np.mean(picked) + weight_decay * np.sum(W * W)


ARGNUMS = (0, 1)


def make_inputs(rng):
    X = rng.standard_normal((12, 4))
    y = np.argmax(X @ rng.standard_normal((4, 3)), axis=1)
    return 0.1 * rng.standard_normal((4, 3)), np.zeros(3), X, y
