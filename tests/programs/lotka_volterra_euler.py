"""Lotka-Volterra predator-prey model, forward Euler, fitted to log-populations.

Parameters are a dict of scalar rates; the trajectory is a Python list of (prey, predator)
pairs turned into an array with np.array(list). Leans on list.append, np.array of traced
values, np.log, np.exp and np.mean.
"""

import numpy as np


def euler(rates, y0, dt, n_steps):
    a, b = np.exp(rates["log_alpha"]), np.exp(rates["log_beta"])
    c, d = np.exp(rates["log_gamma"]), np.exp(rates["log_delta"])
    prey, pred = y0[0], y0[1]
    traj = [[prey, pred]]
    for _ in range(n_steps):
        prey, pred = (prey + dt * (a * prey - b * prey * pred),
                      pred + dt * (d * prey * pred - c * pred))
        traj.append([prey, pred])
    return np.array(traj)


def loss(rates, y0, observed, dt=0.05):
    traj = euler(rates, y0, dt, observed.shape[0] - 1)
    return np.mean((np.log(traj) - np.log(observed)) ** 2)


def make_inputs(rng):
    true = {"log_alpha": np.log(1.0), "log_beta": np.log(0.4),
            "log_gamma": np.log(0.8), "log_delta": np.log(0.2)}
    y0 = np.array([4.0, 2.0])
    observed = euler(true, y0, 0.05, 40) * np.exp(0.05 * rng.standard_normal((41, 2)))
    rates = {k: np.array(v + 0.1 * rng.standard_normal()) for k, v in true.items()}
    return rates, y0, observed
