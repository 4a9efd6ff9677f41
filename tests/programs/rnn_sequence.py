"""An Elman RNN unrolled with a Python loop over time steps, predicting the next value.

Parameters are a tuple (W_x, W_h, b, W_out); the hidden states are collected in a list and
stacked. Leans on `@`, np.tanh, np.zeros, np.stack(axis=1) and np.mean.
"""

import numpy as np


def loss(params, xs, ys):
    W_x, W_h, b, W_out = params
    batch, steps, _ = xs.shape
    h = np.zeros((batch, W_h.shape[0]))
    outputs = []
    for t in range(steps):
        h = np.tanh(xs[:, t] @ W_x + h @ W_h + b)
        outputs.append(h @ W_out)
    preds = np.stack(outputs, axis=1)
    return np.mean((preds - ys) ** 2)


def make_inputs(rng):
    n_in, n_hidden, n_out = 2, 4, 1
    params = (0.5 * rng.standard_normal((n_in, n_hidden)),
              0.4 * rng.standard_normal((n_hidden, n_hidden)),
              0.1 * rng.standard_normal(n_hidden),
              0.5 * rng.standard_normal((n_hidden, n_out)))
    t = np.linspace(0, 4 * np.pi, 7)
    xs = np.stack([np.stack([np.sin(t + p), np.cos(t + p)], axis=-1) for p in (0.0, 1.0, 2.0)])
    ys = np.sin(t + 0.3)[None, :, None] * np.ones((3, 1, 1))
    return params, xs, ys
