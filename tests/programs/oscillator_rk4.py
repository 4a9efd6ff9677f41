"""Fitting a damped harmonic oscillator to noisy positions: classic RK4 in a Python loop.

theta = (log omega, log zeta, x0, v0) in one vector, the scipy.optimize style. Leans on
np.array([...]) of traced scalars for the vector field, np.exp, a Python for-loop over time
steps, np.stack of the states and np.sum of squares.
"""

import numpy as np


def vector_field(state, omega, zeta):
    x, v = state[0], state[1]
    return np.array([v, -2.0 * zeta * omega * v - omega**2 * x])


def simulate(theta, dt, n_steps):
    omega, zeta = np.exp(theta[0]), np.exp(theta[1])
    state = theta[2:4]
    states = [state]
    for _ in range(n_steps):
        k1 = vector_field(state, omega, zeta)
        k2 = vector_field(state + 0.5 * dt * k1, omega, zeta)
        k3 = vector_field(state + 0.5 * dt * k2, omega, zeta)
        k4 = vector_field(state + dt * k3, omega, zeta)
        state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(state)
    return np.stack(states)


def loss(theta, observed, dt=0.1):
    traj = simulate(theta, dt, observed.shape[0] - 1)
    return np.sum((traj[:, 0] - observed) ** 2)


HESSIAN = True


def make_inputs(rng):
    true = np.array([np.log(2.0), np.log(0.15), 1.0, 0.0])
    observed = simulate(true, 0.1, 30)[:, 0] + 0.05 * rng.standard_normal(31)
    return true + np.array([0.1, -0.2, 0.05, 0.1]), observed
