"""Writing into traced arrays as NumPy code does (`y[i] = v`, `y[mask] = 0`, `y[1:] -= y[:-1]`,
`row *= 2` through a view), and the SciPy functions that write into a copy of their input
(`scipy.special.logsumexp`, `log_softmax`, `softmax`)."""

from __future__ import annotations

import numpy as np
import pytest
from numeric import differences

import symgrad

RNG = np.random.default_rng(11)
X = RNG.standard_normal((4, 3))


def _loss(y):
    return np.sin(y).sum() + (y * y).sum()


# Each mathematical program three ways, as different people write it.
def diff_augmented(x):
    y = x.copy()
    y[1:] -= y[:-1]
    return _loss(y)


def diff_copy_then_slice(x):
    y = np.array(x)
    y[1:] = x[1:] - x[:-1]
    return _loss(y)


def diff_rows_in_a_loop(x):
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = x[i] - x[i - 1]
    return _loss(y)


def relu_mask(x):
    h = x * 1.5
    h[h < 0] = 0
    return _loss(h)


def relu_mask_function(x):
    h = np.multiply(x, 1.5)
    h[np.less(h, 0.0)] = 0.0
    return _loss(h)


def relu_mask_row_of_rows(x):
    h = (1.5 * x).copy()
    h[(x < 0).reshape(4, 3)] = np.float64(0)
    return _loss(h)


def columns_by_index_list(x):
    y = x ** 2
    y[:, [0, 2]] = x[:, [1, 1]]
    y[-1, -1] = 3.0
    return _loss(y)


def columns_by_ellipsis(x):
    y = np.square(x)
    y[..., 0] = x[..., 1]
    y[..., 2] = x[..., 1]
    y[3, 2] = 3.0
    return _loss(y)


def columns_one_by_one(x):
    y = x * x
    for j in (0, 2):
        y[:, j] = x[:, 1]
    y[(3, 2)] = 3
    return _loss(y)


def rows_by_leading_mask(x):
    y = x.copy()
    y[x[:, 0] > 0] = 2.0
    return _loss(y)


def rows_by_traced_scalar(x):
    y = np.empty_like(x)
    y[:] = x
    y[2] = x[0, 0]  # one traced value, broadcast over a row
    return _loss(y)


def into_a_view_of_a_temporary(x):
    y = (x * 2)[1:]
    y[0] = 1.0
    return _loss(y)


PROGRAMS = [diff_augmented, diff_copy_then_slice, diff_rows_in_a_loop, relu_mask, relu_mask_function,
            relu_mask_row_of_rows, columns_by_index_list, columns_by_ellipsis, columns_one_by_one,
            rows_by_leading_mask, rows_by_traced_scalar, into_a_view_of_a_temporary]


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_item_assignment_traces_as_numpy_runs(fn):
    """Value as NumPy computes it; gradient against central differences; the Hessian (through
    setitem's batching rule) against differences of the gradient."""
    assert symgrad.compile(fn)(X) == pytest.approx(fn(X.copy()), rel=1e-13)
    grad = symgrad.grad(fn)
    (expected,) = differences(fn, [X], [0])
    np.testing.assert_allclose(grad(X), expected, atol=1e-6)
    (hessian,) = differences(lambda x: grad(x)[0, 0], [X], [0])
    np.testing.assert_allclose(symgrad.hessian(fn)(X)[0, 0], hessian, atol=1e-5)


@pytest.mark.parametrize("fn", [relu_mask, relu_mask_function, relu_mask_row_of_rows],
                         ids=lambda f: f.__name__)
def test_a_masked_write_at_the_boundary_keeps_the_unmasked_derivative(fn):
    """At h == 0 the mask `h < 0` is false: the entry keeps its value, and its derivative
    (1.5 (cos h + 2h) = 1.5), as np.where(h < 0, 0, h) gives."""
    x = X.copy()
    x[1, 1] = 0.0
    assert symgrad.grad(fn)(x)[1, 1] == pytest.approx(1.5, rel=1e-15)


@pytest.mark.parametrize("fn", [diff_augmented, diff_copy_then_slice, diff_rows_in_a_loop])
def test_spellings_of_one_program_agree(fn):
    np.testing.assert_allclose(symgrad.grad(fn)(X), symgrad.grad(diff_augmented)(X), rtol=1e-13)


def test_the_written_value_gets_its_gradient_and_the_overwritten_entries_none():
    def f(x, v):
        y = x.copy()
        y[1] = v
        return (y ** 3).sum()

    v = RNG.standard_normal(3)
    gx, gv = symgrad.grad(f, argnums=(0, 1))(X, v)
    expected = 3 * X ** 2
    expected[1] = 0.0
    np.testing.assert_allclose(gx, expected, rtol=1e-13)
    np.testing.assert_allclose(gv, 3 * v ** 2, rtol=1e-13)


# ---------------------------------------------------------------- copies and aliases as NumPy has them

def copy_by_np_array(x):
    y = x * 1.0
    z = np.array(y)
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


def copy_by_np_copy(x):
    y = x * 1.0
    z = np.copy(y)
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


def copy_by_astype(x):
    y = x * 1.0
    z = y.astype(np.float64)
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


def copy_by_np_astype(x):
    y = x * 1.0
    z = np.astype(y, np.float64)
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


def alias_by_asarray(x):
    y = x * 1.0
    z = np.asarray(y)  # the same array: writing into z writes into y
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


def alias_by_astype_without_copy(x):
    y = x * 1.0
    z = y.astype(np.float64, copy=False)
    z[0] = 0.0
    return y.sum() - 2 * z.sum()


@pytest.mark.parametrize("fn", [
    copy_by_np_array, copy_by_np_copy, copy_by_astype, alias_by_asarray, alias_by_astype_without_copy,
    pytest.param(copy_by_np_astype,
                 marks=pytest.mark.skipif(not hasattr(np, "astype"), reason="NumPy < 2.1")),
], ids=lambda f: f.__name__)
def test_copies_and_aliases_behave_as_numpys(fn):
    assert symgrad.compile(fn)(X) == pytest.approx(fn(X.copy()), rel=1e-13)
    (expected,) = differences(fn, [X], [0])
    np.testing.assert_allclose(symgrad.grad(fn)(X), expected, atol=1e-6)


def test_a_cast_numpy_forbids_is_refused():
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        symgrad.compile(lambda x: x.astype(np.int64, casting="safe"))(X)


# ---------------------------------------------------------------- views and in-place operators

def into_an_argument(x):
    x[0] = 1.0
    x += 2.0
    return (x ** 2).sum()


def into_an_argument_leaf(params):
    params["w"][0] = 1.0
    return (params["w"] ** 2).sum()


def into_a_view_in_use(x):
    y = x * 2
    row = y[0]
    row[1] = 5.0
    return (y ** 2).sum() + row.sum()


def into_a_value_with_a_view_in_use(x):
    y = x * 2
    top = y[:2]
    y[0, 1] = 5.0
    return (top ** 2).sum() + y.sum()


def into_a_value_with_a_transpose_in_use(x):
    y = x * 2
    t = y.T
    y[0] = 0.0
    return (t @ y).sum() + _placed(t.T)


PLACES = np.arange(12.0).reshape(4, 3)


def _placed(v):
    """A loss that sees where each entry of a (4, 3) value is, not only which entries there
    are (a write through a view that put them elsewhere changes it, or fails to broadcast)."""
    return (v * PLACES).sum() + (v ** 2).sum()


def through_a_transpose(x):
    y = x * 1
    t = y.T
    t[0] = 5.0
    return _placed(y) + _placed(t.T)


def through_a_reshape(x):
    y = x * 1
    flat = y.reshape(-1)
    flat[3] = 7.0
    return _placed(y) + _placed(flat.reshape(4, 3))


def through_a_view_of_a_view(x):
    y = x * 1
    block = y[1:]
    cell = block[0]
    cell *= 3.0
    return (y ** 2).sum() + block.sum()


def two_views_of_one_row(x):
    y = x * 1
    a, b = y[0], y[0]
    a[1] = 9.0
    return (b ** 2).sum() + y.sum()


def nested_indexing_in_a_loop(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i][j] = x[i, j] * (i + j)
    return (out ** 2).sum()


def inplace_on_a_slice(x):
    u = x.copy()
    row = u[1:-1]
    row *= 2.0
    return (u ** 2).sum() + row.sum()


def inplace_after_a_view_was_taken(x):
    u = x * 1
    v = u[1:]
    u += 1.0
    u -= x / 2
    u /= 3.0
    u **= 2
    return v.sum() + u.sum()


def inplace_with_broadcasting(x):
    y = x * 1
    y *= x[:, :1]
    y += np.arange(3.0)
    y @= np.eye(3) * 2
    return (y ** 2).sum()


def elements_are_copies_rows_are_views(x):
    m = x * 1
    a = m[0, 0]  # an element: a scalar copy, as in NumPy
    row = m[1]  # a row: a view
    col = m[..., 2]  # a view too
    m[0, 0] = 5.0
    m[1, 1] = -3.0
    m[2, 2] = 4.0
    return a * m.sum() + (row ** 2).sum() + (col ** 3).sum()


VIEW_PROGRAMS = [elements_are_copies_rows_are_views, into_an_argument, into_an_argument_leaf,
                 into_a_view_in_use, into_a_value_with_a_view_in_use,
                 into_a_value_with_a_transpose_in_use, through_a_transpose, through_a_reshape,
                 through_a_view_of_a_view, two_views_of_one_row, nested_indexing_in_a_loop,
                 inplace_on_a_slice, inplace_after_a_view_was_taken, inplace_with_broadcasting]


@pytest.mark.parametrize("fn", VIEW_PROGRAMS, ids=lambda f: f.__name__)
def test_writes_reach_views_as_in_numpy(fn):
    """A write into a view reaches the value it views, and a write into a value reaches its
    views in use, as NumPy's shared memory does; so does `x op= y`."""
    arg = {"w": X} if fn is into_an_argument_leaf else X
    copy = {"w": X.copy()} if fn is into_an_argument_leaf else X.copy()
    assert symgrad.compile(fn)(arg) == pytest.approx(fn(copy), rel=1e-13)
    grad = symgrad.grad(fn)(arg)
    (expected,) = differences(lambda x: fn({"w": x} if fn is into_an_argument_leaf else x), [X], [0])
    np.testing.assert_allclose(grad["w"] if isinstance(grad, dict) else grad, expected, atol=1e-6)


def test_writing_into_an_argument_leaves_the_callers_array_alone():
    x = X.copy()
    symgrad.compile(into_an_argument)(x)
    np.testing.assert_array_equal(x, X)


def test_a_write_into_a_broadcast_view_is_refused_as_numpy_refuses_it():
    def f(x):
        b = np.broadcast_to(x[0], (4, 3))
        b[0] = 1.0
        return b.sum()

    with pytest.raises(ValueError, match="read-only"):
        symgrad.compile(f)(X)


def test_inplace_keeps_the_dtype_and_shape_as_numpy():
    def f(x):
        y = x.astype(np.float32)
        y += x  # float64 into float32: same-kind, cast
        return y

    assert symgrad.compile(f)(X).dtype == np.float32
    with pytest.raises(TypeError, match="same_kind"):
        symgrad.compile(lambda x: _iadd(np.zeros_like(x, dtype=np.int64), x))(X)
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        symgrad.compile(lambda x: _iadd(x[0] * 1, x))(X)


def _iadd(y, x):
    y += x
    return y


def test_a_masked_write_of_several_values_is_refused():
    def f(x):
        y = x.copy()
        y[y > 0] = np.arange(3.0)  # how many values are taken depends on the data
        return y.sum()

    with pytest.raises(symgrad.TracerError, match="np.where"):
        symgrad.compile(f)(X)


def test_a_mask_of_the_wrong_shape_is_an_index_error():
    def f(x):
        y = x.copy()
        y[x[:2] > 0] = 0.0
        return y.sum()

    with pytest.raises(IndexError, match=r"\(2, 3\).*\(4, 3\)"):
        symgrad.compile(f)(X)


def test_a_refused_write_leaves_the_cache_usable():
    def refused(x):
        y = x.copy()
        y[y > 0] = np.arange(3.0)
        return y.sum()

    compiled = symgrad.compile(refused)
    with pytest.raises(symgrad.TracerError):
        compiled(X)
    assert symgrad.compile(relu_mask)(X) == pytest.approx(relu_mask(X.copy()), rel=1e-13)


# ---------------------------------------------------------------- SciPy's array-API functions

try:
    from scipy import special
except ImportError:  # the tests below skip
    special = None
needs_scipy = pytest.mark.skipif(special is None, reason="SciPy is not installed")

A = RNG.standard_normal((3, 5))
A[0, :2] = 1.25  # a tie for the maximum: SciPy's mask picks both


def _softmax(a, axis):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


LSE = [
    ("logsumexp", lambda a: special.logsumexp(a)),
    ("logsumexp axis=1", lambda a: special.logsumexp(a, axis=1).sum()),
    ("logsumexp axis=-1 keepdims", lambda a: (special.logsumexp(a, axis=-1, keepdims=True) * a).sum()),
    ("logsumexp axis=(0, 1)", lambda a: special.logsumexp(a, axis=(0, 1))),
    ("logsumexp b=", lambda a: special.logsumexp(a, axis=0, b=np.linspace(0.5, 1.5, 5)).sum()),
    ("log_softmax", lambda a: (special.log_softmax(a, axis=1) * A).sum()),
    ("softmax", lambda a: (special.softmax(a, axis=0) * A).sum()),
    ("logits - logsumexp", lambda a: ((a - special.logsumexp(a, axis=1, keepdims=True)) ** 2).sum()),
]


@needs_scipy
@pytest.mark.parametrize("name, fn", LSE, ids=[name for name, _ in LSE])
def test_scipy_functions_that_write_into_a_copy_trace(name, fn):
    assert symgrad.compile(fn)(A) == pytest.approx(fn(A.copy()), rel=1e-12)
    (expected,) = differences(fn, [A], [0])
    np.testing.assert_allclose(symgrad.grad(fn)(A), expected, atol=1e-6)


@needs_scipy
@pytest.mark.parametrize("a", [A[1], A[2] * 30.0], ids=["plain", "wide"])
def test_logsumexp_derivatives_are_the_closed_forms(a):
    """∇ logsumexp = softmax p, and ∇² = diag(p) - p pᵀ."""
    p = _softmax(a, 0)
    np.testing.assert_allclose(symgrad.grad(special.logsumexp)(a), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(symgrad.hessian(special.logsumexp)(a), np.diag(p) - np.outer(p, p),
                               rtol=1e-10, atol=1e-15)


@needs_scipy
def test_logsumexp_gradient_at_a_tie_is_the_softmax():
    """SciPy's formula masks every maximum; the gradient still splits as the softmax does.
    (Its second derivative at an exact tie is the masked formula's, not logsumexp's: SciPy's
    code, differentiated as written, is flat along the tied entries' difference.)"""
    a = A[0]
    np.testing.assert_allclose(symgrad.grad(special.logsumexp)(a), _softmax(a, 0), rtol=1e-12)


@needs_scipy
def test_softmax_jacobian_is_the_closed_form():
    p = _softmax(A[2], 0)
    jac = symgrad.jacobian(special.softmax)(A[2])
    np.testing.assert_allclose(jac, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def test_a_traced_value_names_numpy_as_its_array_namespace():
    seen = []
    symgrad.compile(lambda x: seen.append(x.__array_namespace__()) or x.sum())(A)
    assert seen == [np]
