"""Low-rank matrix completion: masked Frobenius reconstruction error plus weight decay.

The collaborative-filtering objective with parameters as a (user factors, item factors) tuple.
Leans on np.linalg.norm(..., "fro"), `@`, .T and a 0/1 observation mask.
"""

import numpy as np


def loss(factors, ratings, mask, lam=0.05):
    U, V = factors
    residual = mask * (U @ V.T - ratings)
    return 0.5 * np.linalg.norm(residual, "fro") ** 2 + 0.5 * lam * (
        np.linalg.norm(U, "fro") ** 2 + np.linalg.norm(V, "fro") ** 2)


def make_inputs(rng):
    U0, V0 = rng.standard_normal((7, 2)), rng.standard_normal((5, 2))
    ratings = U0 @ V0.T + 0.1 * rng.standard_normal((7, 5))
    mask = (rng.uniform(size=(7, 5)) < 0.6).astype(np.float64)
    return (U0 + 0.2 * rng.standard_normal((7, 2)), V0 + 0.2 * rng.standard_normal((5, 2))), ratings, mask
