"""A trace objective from subspace learning: tr(X^T A X B) plus a quadratic form in v.

The kind of term in PCA/LDA-style and Sylvester-equation objectives; written with einsum of
three and four operands. Leans on np.einsum("ji,jk,kl,il->", ...) and np.einsum("i,ij,j->", ...)
and np.trace of a product for the orthogonality penalty.
"""

import numpy as np


def loss(X, v, A, B, mu=0.5):
    fit = np.einsum("ji,jk,kl,il->", X, A, X, B)
    quad = 0.5 * np.einsum("i,ij,j->", v, A, v)
    gram = X.T @ X - np.eye(X.shape[1])
    return fit + quad + mu * np.trace(gram @ gram)


ARGNUMS = (0, 1)
HESSIAN = True


def make_inputs(rng):
    M = rng.standard_normal((5, 5))
    A = M @ M.T / 5 + np.eye(5)
    B = np.diag([1.0, 0.5])
    return rng.standard_normal((5, 2)) / 2, rng.standard_normal(5), A, B
