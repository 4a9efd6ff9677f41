"""L2-regularised logistic regression, the scikit-learn objective, with a stable log-sigmoid.

Labels are in {-1, +1} as in liblinear. Leans on scipy.special.log_expit, `@`, np.mean
and np.dot.
"""

import numpy as np
from scipy.special import log_expit


def loss(w, b, X, y, C=1.0):
    margins = y * (X @ w + b)
    return 0.5 * np.dot(w, w) / C - np.mean(log_expit(margins))


ARGNUMS = (0, 1)


def make_inputs(rng):
    X = rng.standard_normal((40, 5))
    y = np.where(X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.3 > rng.logistic(size=40), 1.0, -1.0)
    return 0.1 * rng.standard_normal(5), np.array(0.2), X, y
