"""Two-hidden-layer MLP classifier with parameters in a dict, JAX/Flax tutorial style.

Leans on `@`, np.tanh, a softmax cross-entropy stabilised by the max-shift
(logits - logits.max(axis=1, keepdims=True)), np.log(np.sum(np.exp(...), axis=1)) and
one-hot targets.
"""

import numpy as np


def predict(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    h = np.tanh(h @ params["W2"] + params["b2"])
    return h @ params["W3"] + params["b3"]


def loss(params, x, onehot):
    logits = predict(params, x)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(onehot * log_probs, axis=1))


def make_inputs(rng):
    sizes = [4, 6, 5, 3]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((m, n)) / np.sqrt(m)
        params[f"b{i}"] = 0.1 * rng.standard_normal(n)
    x = rng.standard_normal((8, 4))
    onehot = np.eye(3)[rng.integers(0, 3, size=8)]
    return params, x, onehot
