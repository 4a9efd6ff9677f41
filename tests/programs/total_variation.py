"""Isotropic total-variation (ROF) denoising energy of a small image, smoothed with eps.

Rudin-Osher-Fatemi: 0.5 * ||u - f||^2 + lam * sum sqrt(ux^2 + uy^2 + eps), forward differences
padded with a zero difference past the last row and column (Neumann boundary). Leans on
np.diff(axis=0 / axis=1), np.pad with a pad-width tuple, np.sqrt and np.sum.
"""

import numpy as np


def loss(u, f, lam=0.1, eps=1e-3):
    ux = np.pad(np.diff(u, axis=1), ((0, 0), (0, 1)))
    uy = np.pad(np.diff(u, axis=0), ((0, 1), (0, 0)))
    tv = np.sum(np.sqrt(ux**2 + uy**2 + eps))
    return 0.5 * np.sum((u - f) ** 2) + lam * tv


def make_inputs(rng):
    clean = np.zeros((8, 8))
    clean[2:6, 3:7] = 1.0
    f = clean + 0.2 * rng.standard_normal((8, 8))
    return f.copy() + 0.05 * rng.standard_normal((8, 8)), f
