"""Log evidence (type-II likelihood) of Bayesian linear regression with polynomial features.

Bishop's PRML section 3.5: precision alpha on the weights, noise precision beta, both given
on a log scale as a tuple. Leans on np.vander, np.dot, .T, np.linalg.slogdet,
np.linalg.solve, np.eye and np.sum of squares.
"""

import numpy as np


def log_evidence(log_alpha, log_beta, Phi, t):
    alpha, beta = np.exp(log_alpha), np.exp(log_beta)
    N, M = Phi.shape
    A = alpha * np.eye(M) + beta * np.dot(Phi.T, Phi)
    m_N = beta * np.linalg.solve(A, np.dot(Phi.T, t))
    E = 0.5 * beta * np.sum((t - np.dot(Phi, m_N)) ** 2) + 0.5 * alpha * np.dot(m_N, m_N)
    _, logdet_A = np.linalg.slogdet(A)
    return (0.5 * M * log_alpha + 0.5 * N * log_beta - E - 0.5 * logdet_A
            - 0.5 * N * np.log(2 * np.pi))


def loss(hyper, x, t):
    log_alpha, log_beta = hyper
    Phi = np.vander(x, 4, increasing=True)
    return -log_evidence(log_alpha, log_beta, Phi, t)


def make_inputs(rng):
    x = np.linspace(-1.0, 1.0, 15)
    t = np.sin(np.pi * x) + 0.2 * rng.standard_normal(15)
    return (np.array(0.5), np.array(2.5)), x, t
