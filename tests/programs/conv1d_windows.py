"""A 1-D convolutional layer (multi-channel, 'valid') and ReLU, regressed onto a target.

Written with sliding_window_view, the way NumPy users vectorise a convolution: windows of
shape (batch, in_channels, positions, taps) contracted with the kernel by np.einsum. Leans on
numpy.lib.stride_tricks.sliding_window_view(axis=-1), np.einsum, np.maximum.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv1d(x, kernel, bias):
    windows = sliding_window_view(x, kernel.shape[-1], axis=-1)
    return np.einsum("bcpk,ock->bop", windows, kernel) + bias[:, None]


def loss(params, x, target):
    kernel, bias = params
    h = np.maximum(conv1d(x, kernel, bias), 0.0)
    return 0.5 * np.sum((h - target) ** 2)


def make_inputs(rng):
    x = rng.standard_normal((2, 2, 12))
    kernel = 0.5 * rng.standard_normal((3, 2, 4))
    bias = np.array([0.1, -0.05, 0.2])
    return (kernel, bias), x, rng.standard_normal((2, 3, 9))
