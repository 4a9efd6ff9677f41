"""Negative log-likelihood of a local-level (random walk plus noise) model by the Kalman filter.

The filter as time-series texts write it: filtered means and variances kept in preallocated
arrays filled by item assignment inside a Python loop over time, read back the next step;
variances in a dict of log-parameters. Leans on np.zeros_like, m[t] = ..., np.log, np.exp.
"""

import numpy as np


def loss(params, y):
    q, r = np.exp(params["log_q"]), np.exp(params["log_r"])
    m = np.zeros_like(y)
    P = np.zeros_like(y)
    m_prev, P_prev = 0.0, 10.0
    nll = 0.0
    for t in range(len(y)):
        P_pred = P_prev + q
        S = P_pred + r
        K = P_pred / S
        v = y[t] - m_prev
        m[t] = m_prev + K * v
        P[t] = (1.0 - K) * P_pred
        nll += 0.5 * (np.log(2 * np.pi * S) + v**2 / S)
        m_prev, P_prev = m[t], P[t]
    return nll


def make_inputs(rng):
    level = np.cumsum(0.3 * rng.standard_normal(25))
    return {"log_q": np.log(0.09), "log_r": np.log(0.25)}, level + 0.5 * rng.standard_normal(25)
