"""FIR filter design by least squares: a 1-D 'valid' convolution written as a loop over taps.

The np.convolve spelling (kernel flipped) with a Python loop accumulating shifted slices, the
way a signal-processing author writes it before vectorising. Leans on slicing, a Python
for-loop, accumulation from 0.0 and np.linalg.norm.
"""

import numpy as np


def fir(signal, taps):
    K = taps.shape[0]
    n_out = signal.shape[0] - K + 1
    out = 0.0
    for k in range(K):
        out = out + taps[K - 1 - k] * signal[k:k + n_out]
    return out


def loss(taps, signal, desired):
    return np.linalg.norm(fir(signal, taps) - desired) ** 2 / desired.shape[0]


def make_inputs(rng):
    t = np.arange(40) / 40.0
    signal = np.sin(2 * np.pi * 3 * t) + 0.5 * rng.standard_normal(40)
    true_taps = np.array([0.2, 0.3, 0.3, 0.2, 0.05])
    desired = np.convolve(signal, true_taps, mode="valid")
    return 0.2 * np.ones(5) + 0.05 * rng.standard_normal(5), signal, desired
