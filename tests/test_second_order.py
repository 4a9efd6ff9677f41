"""Second derivatives of `prod`, eagerly (gradgradcheck) and compiled (`symgrad.hessian`).

prod's VJP is the product of each entry's others (`prod_others`), computed with no division.
First derivatives are tested elsewhere; here the VJP is itself differentiated, where zeros
matter again: the second derivative d2 prod / dx_i dx_j is the product of the entries other than i and
j, which is not zero when the two zeros of a row are x_i and x_j. Rows with no zero and with
one, two and three zeros are all tested. prod is multilinear in each row, so its
closed-form Hessian and central differences (exact up to rounding for such a function) both
serve as references.
"""

import numpy as np
import pytest

import symgrad
from symgrad.autograd import gradgradcheck

SHAPE = (3, 4)
REDUCTIONS = [(None, False), (1, False), (0, False), (1, True), (0, True)]  # (dim, keepdim)


def reduction_id(reduction):
    dim, keepdim = reduction
    return f"dim={dim}" + ("-keepdim" if keepdim else "")


def with_zeros(dim, zeros, seed=0):
    """A float64 array of SHAPE, entries of magnitude 0.5 to 1.5 and either sign, with `zeros`
    zeros at random places in each row reduced over `dim` (the whole array when dim is None)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
    rows = x.reshape(1, -1) if dim is None else np.moveaxis(x, dim, -1)  # views: one reduced row each
    for row in rows:
        row[rng.choice(row.size, zeros, replace=False)] = 0.0
    return x


def eager_prod(dim, keepdim):
    """prod as eager code (PyTorch's spelling)."""
    return (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim, keepdim=keepdim))


def weighted_prod(dim, keepdim):
    """A scalar of prod (as NumPy code) with distinct weights per output, for the Hessian."""
    out_shape = np.prod(np.ones(SHAPE), axis=dim, keepdims=keepdim).shape
    weights = np.linspace(0.5, 2.0, int(np.prod(out_shape))).reshape(out_shape)
    return lambda x: np.sum(weights * np.prod(x, axis=dim, keepdims=keepdim)), weights


def closed_form_hessian(x, dim, weights):
    """d2 / dx_a dx_b of sum(weights * prod(x, dim)): the weighted product of the row's other
    entries when a != b share a row, else 0."""
    row_of = np.zeros(SHAPE, int) if dim is None else np.indices(SHAPE)[1 - dim]  # row r has weight r
    rows, xs, w = row_of.ravel(), x.ravel(), np.ravel(weights)
    H = np.zeros((x.size, x.size))
    for a in range(x.size):
        for b in range(x.size):
            if a != b and rows[a] == rows[b]:
                others = [xs[c] for c in range(x.size) if rows[c] == rows[a] and c not in (a, b)]
                H[a, b] = w[rows[a]] * np.prod(others)
    return H.reshape(SHAPE + SHAPE)


def finite_difference_hessian(f, x, h=1e-3):
    """Central second differences of f at x (exact up to rounding for a multilinear f)."""
    n, flat = x.size, x.ravel()

    def at(a, sa, b, sb):
        y = flat.copy()
        y[a] += sa * h
        y[b] += sb * h
        return f(y.reshape(x.shape))

    H = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            H[a, b] = (at(a, 1, b, 1) - at(a, 1, b, -1) - at(a, -1, b, 1) + at(a, -1, b, -1)) / (4 * h * h)
    return H.reshape(x.shape + x.shape)


def test_with_zeros_places_the_zeros_per_reduced_row():
    assert (with_zeros(None, 1) == 0).sum() == 1
    assert ((with_zeros(1, 1) == 0).sum(axis=1) == 1).all()
    assert ((with_zeros(0, 2) == 0).sum(axis=0) == 2).all()


# ---------------------------------------------------------------- eager: gradgradcheck

@pytest.mark.parametrize("zeros", [0, 1, 2, 3], ids=["no zero", "one zero a row", "two zeros a row",
                                                     "three zeros a row"])
@pytest.mark.parametrize("reduction", REDUCTIONS, ids=reduction_id)
def test_prod_gradgradcheck(reduction, zeros):
    dim, keepdim = reduction
    x = symgrad.tensor(with_zeros(dim, zeros), dtype=symgrad.float64, requires_grad=True)
    assert gradgradcheck(eager_prod(dim, keepdim), (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- compiled: hessian

@pytest.mark.parametrize("passes", [None, ()], ids=["simplified", "unsimplified"])
@pytest.mark.parametrize("zeros", [0, 1, 2, 3], ids=["no zero", "one zero a row", "two zeros a row",
                                                     "three zeros a row"])
@pytest.mark.parametrize("reduction", REDUCTIONS, ids=reduction_id)
def test_prod_hessian_matches_closed_form_and_finite_differences(reduction, zeros, passes):
    dim, keepdim = reduction
    x = with_zeros(dim, zeros)
    f, weights = weighted_prod(dim, keepdim)
    H = symgrad.hessian(f, passes=passes)(x)
    assert H.shape == SHAPE + SHAPE and H.dtype == np.float64
    want = closed_form_hessian(x, dim, weights)
    np.testing.assert_allclose(H, want, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(H, finite_difference_hessian(f, x), rtol=0, atol=1e-7)
