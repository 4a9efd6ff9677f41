"""Matrix products and matrix structure: einsum of any arity, tensordot, inner, kron, cross,
matrix_power, multi_dot, and diag/diagonal/trace/tril/triu, traced (NumPy's face) and eager
(PyTorch's face).

Each case, in float64: the value matches NumPy, compiled and eager; the gradient of
`sum(f(*xs) * ct)` matches central finite differences, compiled and eager; the eager value,
gradient and grad_fn name match PyTorch's; a few second derivatives (`symgrad.hessian`) match
finite differences of the gradient, and `symgrad.jacobian` works. Bad input raises NumPy's or
PyTorch's error type, naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import code_of, differences

import symgrad
from symgrad.ops.dispatch import FUNCTIONS

FD_TOL = {"rtol": 1e-6, "atol": 1e-6}
EXACT = {"rtol": 1e-10, "atol": 1e-12}


def _torch() -> Any:
    return pytest.importorskip("torch")


def _inputs(shapes: tuple, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, s) for s in shapes]


def _cotangent(shape: tuple) -> np.ndarray:
    return np.random.default_rng(7).uniform(-1.0, 1.0, shape)


def check_numpy_face(fn: Callable, arrays: list[np.ndarray], wrt: tuple[int, ...] | None = None) -> None:
    """`fn` written with NumPy calls: traced and eager values match NumPy; the compiled
    gradient, simplified and not, matches finite differences and eager backward."""
    want = fn(*arrays)
    got = symgrad.compile(fn)(*arrays)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, **EXACT)
    tensors = [symgrad.tensor(a, requires_grad=True) for a in arrays]
    eager = fn(*tensors)
    np.testing.assert_allclose(eager.detach().numpy(), want, **EXACT)

    wrt = tuple(range(len(arrays))) if wrt is None else wrt
    ct = _cotangent(np.shape(want))
    fd = differences(lambda *a: (fn(*a) * ct).sum(), arrays, wrt)
    (eager * symgrad.tensor(ct)).sum().backward()
    for passes in (None, ()):  # simplified, and not
        compiled = symgrad.grad(lambda *a: (fn(*a) * ct).sum(), argnums=wrt, passes=passes)(*arrays)
        compiled = compiled if isinstance(compiled, tuple) else (compiled,)
        for i, g, d in zip(wrt, compiled, fd):
            np.testing.assert_allclose(g, d, **FD_TOL)
            np.testing.assert_allclose(tensors[i].grad.numpy(), g, **EXACT)


def check_torch_face(fn: Callable, arrays: list[np.ndarray], name: bool = True) -> None:
    """`fn(lib, *tensors)` written with PyTorch's names: symgrad's eager value, gradient and
    grad_fn name match PyTorch's; the same code traced matches too."""
    torch = _torch()
    ours = [symgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    got, want = fn(symgrad, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **EXACT)
    if name:
        assert got.grad_fn.name() == type(want.grad_fn).__name__
    ct = _cotangent(tuple(want.shape))
    (got * symgrad.tensor(ct)).sum().backward()
    (want * torch.tensor(ct)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), **EXACT)


# ---------------------------------------------------------------- einsum

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("i,i->", [(3,), (3,)]),
    ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i->i", [(3,), (3,)]),
    ("ij,j->i", [(2, 3), (3,)]),
    ("ii", [(3, 3)]),  # trace
    ("ii->i", [(3, 3)]),  # diagonal
    ("iij->j", [(3, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ba", [(2, 3)]),  # implicit output is alphabetical: a transpose
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),  # three operands
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("a,b,c->abc", [(2,), (3,), (4,)]),
    ("ij,jk,kl,lm->im", [(2, 3), (3, 4), (4, 5), (5, 2)]),  # four operands
    ("ab,bc,ca->", [(2, 3), (3, 4), (4, 2)]),  # a trace of a product
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),  # ellipsis, broadcast batch
    ("...ii->...i", [(2, 3, 3)]),
    ("i...,i...", [(3, 2), (3, 2)]),
    ("...j,...j->...", [(2, 1, 3), (4, 3)]),
    ("ij,jk", [(2, 1), (3, 4)]),  # a letter of size 1 broadcasts
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),  # a bilinear layer
]


@pytest.mark.parametrize("spec, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum_matches_numpy_and_finite_differences(spec, shapes):
    check_numpy_face(lambda *a: np.einsum(spec, *a), _inputs(shapes))


@pytest.mark.parametrize("spec, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum_matches_pytorch(spec, shapes):
    check_torch_face(lambda lib, *a: lib.einsum(spec, *a), _inputs(shapes))


def test_einsum_takes_a_list_of_operands_and_numpys_sublists():
    a, b = _inputs([(2, 3), (3, 4)])
    ta, tb = symgrad.tensor(a), symgrad.tensor(b)
    np.testing.assert_allclose(symgrad.einsum("ij,jk", [ta, tb]).numpy(), a @ b)
    np.testing.assert_allclose(symgrad.einsum("ij,jk", (ta, tb)).numpy(), a @ b)
    sublists = symgrad.compile(lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]))(a, b)
    np.testing.assert_allclose(sublists, a @ b)
    implicit = symgrad.compile(lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1, 2]))(a, b)
    np.testing.assert_allclose(implicit, a @ b)
    optimize = symgrad.compile(lambda a, b: np.einsum("ij,jk->ik", a, b, optimize="optimal"))(a, b)
    np.testing.assert_allclose(optimize, a @ b)


def _statements(source: str) -> list[str]:
    return [line.strip() for line in code_of(source).splitlines() if " = " in line]


def test_einsum_contracts_in_the_greedy_order_as_one_matmul_each():
    """A chain of three contracts the cheap pair first, each pair one `@` in the code."""
    a, b, c = _inputs([(2, 30), (30, 40), (40, 3)])
    source = symgrad.compile(lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c)).source(a, b, c)
    assert _statements(source) == ["d = b @ c", "out = a @ d"]


@pytest.mark.parametrize("spelling", ["matmul", "operator", "einsum", "tensordot", "inner", "dot"])
def test_one_contraction_any_spelling_has_the_same_gradient(spelling):
    a, b = _inputs([(3, 4), (4, 5)])
    fn = {
        "matmul": lambda a, b: np.matmul(a, b),
        "operator": lambda a, b: a @ b,
        "einsum": lambda a, b: np.einsum("ij,jk->ik", a, b),
        "tensordot": lambda a, b: np.tensordot(a, b, axes=1),
        "inner": lambda a, b: np.inner(a, b.T),
        "dot": lambda a, b: np.dot(a, b),
    }[spelling]
    ct = _cotangent((3, 5))
    grads = symgrad.grad(lambda a, b: (fn(a, b) * ct).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(grads[0], ct @ b.T, **EXACT)
    np.testing.assert_allclose(grads[1], a.T @ ct, **EXACT)
    check_numpy_face(fn, [a, b])


# ---------------------------------------------------------------- NumPy's face: the rest

NUMPY_CASES: list[tuple[str, Callable, list[tuple]]] = [
    ("tensordot-int", lambda a, b: np.tensordot(a, b, 2), [(2, 3, 4), (3, 4, 5)]),
    ("tensordot-pairs", lambda a, b: np.tensordot(a, b, axes=([1, 2], [1, 0])), [(2, 3, 4), (4, 3, 5)]),
    ("tensordot-0", lambda a, b: np.tensordot(a, b, 0), [(2,), (3,)]),
    ("tensordot-ints", lambda a, b: np.tensordot(a, b, axes=(0, -1)), [(3, 2), (4, 3)]),
    ("inner-vectors", np.inner, [(3,), (3,)]),
    ("inner-nd", np.inner, [(2, 3, 4), (5, 4)]),
    ("inner-scalar", np.inner, [(), (2, 3)]),
    ("dot-nd", np.dot, [(2, 3), (4, 3, 5)]),
    ("vdot", np.vdot, [(2, 3), (3, 2)]),
    ("outer-flattens", np.outer, [(2, 2), (3,)]),
    ("kron", np.kron, [(2, 3), (3, 2)]),
    ("kron-ranks", np.kron, [(3,), (2, 2)]),
    ("cross", np.cross, [(3,), (3,)]),
    ("cross-broadcast", np.cross, [(4, 3), (3,)]),
    ("cross-axes", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), [(3, 2), (2, 3)]),
    ("cross-axis", lambda a, b: np.cross(a, b, axis=0), [(3, 2), (3, 2)]),
    ("matrix_power-5", lambda a: np.linalg.matrix_power(a, 5), [(3, 3)]),
    ("matrix_power-batch", lambda a: np.linalg.matrix_power(a, 2), [(2, 3, 3)]),
    ("matrix_power-1", lambda a: np.linalg.matrix_power(a, 1), [(3, 3)]),
    ("multi_dot", lambda a, b, c: np.linalg.multi_dot([a, b, c]), [(2, 30), (30, 4), (4, 5)]),
    ("multi_dot-vectors", lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]), [(3,), (3, 4), (4, 2), (2,)]),
    ("trace", np.trace, [(3, 4)]),
    ("trace-offset", lambda a: np.trace(a, 1, 1, 2), [(2, 3, 4)]),
    ("trace-keywords", lambda a: np.trace(a, offset=-1, axis1=1, axis2=0), [(4, 3)]),
    ("diagonal", np.diagonal, [(3, 4)]),
    ("diagonal-axes", lambda a: np.diagonal(a, -1, axis1=2, axis2=0), [(3, 2, 4)]),
    ("diagonal-method", lambda a: a.diagonal(1, 0, 2), [(3, 2, 4)]),
    ("diagonal-past-the-end", lambda a: a.diagonal(5), [(3, 4)]),
    ("diag-vector", lambda v: np.diag(v, k=-2), [(3,)]),
    ("diag-matrix", lambda a: np.diag(a, 1), [(3, 4)]),
    ("tril", np.tril, [(3, 4)]),
    ("tril-k", lambda a: np.tril(a, k=-1), [(2, 3, 3)]),
    ("triu-k", lambda a: np.triu(a, 1), [(4, 3)]),
    ("triu-vector", np.triu, [(3,)]),
]


@pytest.mark.parametrize("name, fn, shapes", NUMPY_CASES, ids=[c[0] for c in NUMPY_CASES])
def test_numpy_functions_match_numpy_and_finite_differences(name, fn, shapes):
    check_numpy_face(fn, _inputs(shapes))


def test_matrix_power_zero_is_the_identity_with_a_zero_gradient():
    a = _inputs([(2, 3, 3)])[0]
    np.testing.assert_array_equal(symgrad.compile(lambda a: np.linalg.matrix_power(a, 0))(a),
                                  np.broadcast_to(np.eye(3), (2, 3, 3)))
    grad = symgrad.grad(lambda a: np.linalg.matrix_power(a, 0).sum())(a)
    np.testing.assert_array_equal(grad, np.zeros_like(a))


@pytest.mark.parametrize("shapes, order", [
    ([(10, 100), (100, 5), (5, 50)], ["d = a @ b", "out = d @ c"]),
    ([(50, 5), (5, 100), (100, 10)], ["d = b @ c", "out = a @ d"]),
])
def test_multi_dot_multiplies_in_the_cheapest_order(shapes, order):
    source = symgrad.compile(lambda a, b, c: np.linalg.multi_dot([a, b, c])).source(*_inputs(shapes))
    assert _statements(source) == order


# ---------------------------------------------------------------- PyTorch's face

TORCH_CASES: list[Any] = [
    ("mm-method", lambda t, a, b: a.mm(b), [(2, 3), (3, 4)]),
    ("mm-t-method", lambda t, a, b: a.t().mm(b), [(3, 2), (3, 4)]),
    ("mm", lambda t, a, b: t.mm(a, b), [(2, 3), (3, 4)]),
    ("bmm-method", lambda t, a, b: a.bmm(b), [(2, 3, 4), (2, 4, 5)]),
    ("mv-method", lambda t, a, b: a.mv(b), [(2, 3), (3,)]),
    ("mv", lambda t, a, b: t.mv(a, b), [(2, 3), (3,)]),
    ("dot-method", lambda t, a, b: a.dot(b), [(3,), (3,)]),
    ("vdot", lambda t, a, b: t.vdot(a, b), [(3,), (3,)]),
    ("outer-method", lambda t, a, b: a.outer(b), [(2,), (3,)]),
    ("ger", lambda t, a, b: a.ger(b), [(2,), (3,)]),
    ("matmul-method", lambda t, a, b: a.matmul(b), [(2, 3, 4), (4, 5)]),
    ("matmul-vector-matrix", lambda t, a, b: a @ b, [(3,), (3, 4)]),
    ("matmul-matrix-batch", lambda t, a, b: a @ b, [(2, 3), (4, 3, 5)]),
    ("inner-method", lambda t, a, b: a.inner(b), [(2, 3, 4), (5, 4)]),
    ("inner", lambda t, a, b: t.inner(a, b), [(3,), (3,)]),
    ("tensordot", lambda t, a, b: t.tensordot(a, b, dims=([1, 2], [1, 0])), [(2, 3, 4), (4, 3, 5)]),
    ("tensordot-int", lambda t, a, b: t.tensordot(a, b, 1), [(2, 3), (3, 4)]),
    ("kron-method", lambda t, a, b: a.kron(b), [(2, 3), (3, 2)]),
    ("kron", lambda t, a, b: t.kron(a, b), [(3,), (2, 2)]),
    ("cross-method", lambda t, a, b: a.cross(b, dim=1), [(4, 3), (4, 3)]),
    pytest.param("cross-default-dim", lambda t, a, b: t.cross(a, b), [(3, 4), (3, 4)],
                 marks=pytest.mark.filterwarnings("ignore:Using (torch.)?cross without specifying the dim")),
    ("linalg.cross", lambda t, a, b: t.linalg.cross(a, b), [(4, 3), (1, 3)]),
    ("linalg.cross-dim", lambda t, a, b: t.linalg.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    ("matrix_power-method", lambda t, a: a.matrix_power(3), [(3, 3)]),
    ("linalg.matrix_power", lambda t, a: t.linalg.matrix_power(a, 4), [(2, 3, 3)]),
    ("matrix_power-0", lambda t, a: t.matrix_power(a, 0), [(3, 3)]),
    ("matrix_power-1", lambda t, a: a.matrix_power(1), [(3, 3)]),
    ("linalg.multi_dot", lambda t, a, b, c: t.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4, 2)]),
    ("linalg.vecdot", lambda t, a, b: t.linalg.vecdot(a, b, dim=0), [(3, 2), (3, 1)]),
    ("diag-vector", lambda t, a: a.diag(1), [(3,)]),
    ("diag-matrix", lambda t, a: t.diag(a, diagonal=-1), [(3, 4)]),
    ("diagonal-method", lambda t, a: a.diagonal(1, 0, 2), [(3, 2, 4)]),
    ("diagonal", lambda t, a: t.diagonal(a, offset=-1, dim1=2, dim2=1), [(2, 3, 4)]),
    ("trace-method", lambda t, a: a.trace(), [(3, 4)]),
    ("tril-method", lambda t, a: a.tril(-1), [(2, 3, 4)]),
    ("tril", lambda t, a: t.tril(a), [(3, 3)]),
    ("triu", lambda t, a: t.triu(a, diagonal=1), [(4, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", TORCH_CASES,
                         ids=[c.values[0] if hasattr(c, "values") else c[0] for c in TORCH_CASES])
def test_pytorch_functions_and_methods_match_pytorch(name, fn, shapes):
    check_torch_face(fn, _inputs(shapes))


def test_cross_without_dim_warns_as_pytorch_does():
    """(PyTorch warns once per process, so only symgrad's warning is checked here.)"""
    with pytest.warns(UserWarning, match="cross without specifying the dim"):
        symgrad.ones(3, 3).cross(symgrad.ones(3, 3))


def test_every_product_method_of_torch_tensor_is_on_tensors_from_the_registry():
    names = ["mm", "bmm", "mv", "outer", "dot", "vdot", "matmul", "inner", "diag", "diagonal", "trace",
             "tril", "triu", "kron", "cross", "matrix_power"]
    for name in names:
        assert callable(getattr(symgrad.Tensor, name)), name
    assert {"linalg.matrix_power", "linalg.multi_dot", "linalg.cross", "linalg.vecdot"} <= set(FUNCTIONS)
    assert {"matrix_power", "multi_dot", "cross", "vecdot"} <= set(dir(symgrad.linalg))


def test_pytorch_tutorial_lines_run():
    """The two-layer net of PyTorch's autograd tutorials, by hand: x.mm(w1), h.t().mm(g)."""
    x, w1, w2, y = _inputs([(8, 5), (5, 4), (4, 2), (8, 2)])
    xt, w1t, w2t = symgrad.tensor(x), symgrad.tensor(w1), symgrad.tensor(w2)
    h_relu = xt.mm(w1t).clamp(min=0)
    y_pred = h_relu.mm(w2t)
    grad_y_pred = 2.0 * (y_pred - symgrad.tensor(y))
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h = grad_y_pred.mm(w2t.t())
    h = np.maximum(x @ w1, 0)
    np.testing.assert_allclose(grad_w2.numpy(), h.T @ (2 * (h @ w2 - y)), **EXACT)
    assert grad_h.shape == (8, 4)


def test_the_two_faces_differ_where_numpy_and_pytorch_do():
    a = _inputs([(2, 3, 3)])[0]
    traced = symgrad.compile(lambda a: a.trace(0, 1, 2))(a)  # ndarray.trace(offset, axis1, axis2)
    np.testing.assert_allclose(traced, a.trace(0, 1, 2), **EXACT)
    traced_dot = symgrad.compile(lambda a: a[0].dot(a[1]))(a)  # ndarray.dot: a matrix product
    np.testing.assert_allclose(traced_dot, a[0] @ a[1], **EXACT)
    with pytest.raises(RuntimeError, match="expected a matrix"):
        symgrad.tensor(a).trace()
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        symgrad.tensor(a[0]).dot(symgrad.tensor(a[1]))


# ---------------------------------------------------------------- second order, jacobians

QUADRATIC = [
    ("matmul", lambda x, A: x @ A @ x),
    ("einsum", lambda x, A: np.einsum("i,ij,j->", x, A, x)),
    ("tensordot", lambda x, A: np.tensordot(np.tensordot(x, A, 1), x, 1)),
    ("inner", lambda x, A: np.inner(x, np.inner(A, x))),
    ("multi_dot", lambda x, A: np.linalg.multi_dot([x, A, x])),
]


@pytest.mark.parametrize("name, fn", QUADRATIC, ids=[q[0] for q in QUADRATIC])
def test_hessian_of_a_quadratic_form_is_a_plus_its_transpose(name, fn):
    x, A = _inputs([(4,), (4, 4)])
    np.testing.assert_allclose(symgrad.hessian(fn)(x, A), A + A.T, **EXACT)


@pytest.mark.parametrize("name, fn", [
    ("einsum-diagonal", lambda x, A: (np.einsum("ii->i", A * x) ** 2).sum() * x.sum()),
    ("tril-matrix_power", lambda x, A: x @ np.linalg.matrix_power(np.tril(A), 3) @ x),
    ("kron-cross", lambda x, A: (np.kron(x, A) ** 2).sum() + (np.cross(x[:3], x[1:]) ** 2).sum()),
    ("diag-trace", lambda x, A: np.trace(np.diag(x) @ A @ np.diag(x ** 2))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_hessian_matches_finite_differences_of_the_gradient(name, fn):
    x, A = _inputs([(4,), (4, 4)])
    grad = symgrad.grad(fn)
    step = 1e-5
    columns = [(grad(x + step * e, A) - grad(x - step * e, A)) / (2 * step) for e in np.eye(4)]
    np.testing.assert_allclose(symgrad.hessian(fn)(x, A), np.stack(columns, 1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, fn", [
    ("einsum", lambda x, A: np.einsum("ij,j,jk->ik", A, x, A)),
    ("diag", lambda x, A: np.diag(x) + np.tril(A @ A)),
    ("trace-kron", lambda x, A: np.kron(x, np.trace(A * x))),
    ("cross", lambda x, A: np.cross(A[:, :3], x[1:])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_jacobian_matches_finite_differences(name, fn):
    x, A = _inputs([(4,), (4, 4)])
    jac = symgrad.jacobian(fn)(x, A)
    want = np.stack([(fn(x + 1e-6 * e, A) - fn(x - 1e-6 * e, A)) / 2e-6 for e in np.eye(4)], -1)
    np.testing.assert_allclose(jac, want, **FD_TOL)


@pytest.mark.parametrize("fn", [
    lambda x, A: np.einsum("bij,bjk->bik", A.reshape(2, 2, 4) * x, A.reshape(2, 4, 2)),
    lambda x, A: np.linalg.matrix_power(A.reshape(1, 4, 4) * x, 3),
    lambda x, A: np.einsum("...ii->...i", A.reshape(1, 4, 4) * x) @ np.tril(A),
], ids=["bmm-einsum", "batched-matrix_power", "diagonal"])
def test_jacobians_of_stacked_products_take_one_reverse_pass(fn, monkeypatch):
    """Stacks of matrices batch (matmul's rule), so a Jacobian is one pass, not one per row."""
    from symgrad.autodiff import batching
    passes = []
    backprop = batching.backprop
    monkeypatch.setattr(batching, "backprop", lambda *a, **k: passes.append(1) or backprop(*a, **k))
    x, A = _inputs([(4,), (4, 4)])
    jac = symgrad.jacobian(fn)(x, A)
    want = np.stack([(fn(x + 1e-6 * e, A) - fn(x - 1e-6 * e, A)) / 2e-6 for e in np.eye(4)], -1)
    np.testing.assert_allclose(jac, want, **FD_TOL)
    assert len(passes) == 1


# ---------------------------------------------------------------- bad input

def _trace_error(fn: Callable, *shapes: tuple) -> Callable[[], Any]:
    return lambda: symgrad.compile(fn)(*_inputs(shapes))


@pytest.mark.parametrize("call, error, match", [
    (_trace_error(lambda a, b: np.einsum("ij,jk->ik", a, b), (2, 3), (4, 5)), ValueError,
     r"'ij,jk->ik': subscript 'j' has size 3 in operand 0 \(shape \(2, 3\)\) "
     r"but 4 in operand 1 \(shape \(4, 5\)\)"),
    (_trace_error(lambda a, b: np.einsum("ij->i", a, b), (2, 3), (3,)), ValueError, "more operands"),
    (_trace_error(lambda a: np.einsum("ij,jk", a), (2, 3)), ValueError, "fewer operands"),
    (_trace_error(lambda a: np.einsum("i1", a), (2, 3)), ValueError, "invalid subscript '1'"),
    (_trace_error(lambda a: np.einsum("ijk", a), (2, 3)), ValueError, "too many subscripts for operand 0"),
    (_trace_error(lambda a: np.einsum("i", a), (2, 3)), ValueError, "no '...' ellipsis"),
    (_trace_error(lambda a: np.einsum("ij->ii", a), (2, 2)), ValueError,
     "output subscript 'i' multiple times"),
    (_trace_error(lambda a: np.einsum("ij->k", a), (2, 2)), ValueError, "'k' which never appeared"),
    (_trace_error(lambda a: np.einsum("ii", a), (2, 3)), ValueError,
     r"collapsing index 'i' don't match \(2 != 3"),
    (_trace_error(lambda a: np.einsum("...i->i", a), (2, 3)), ValueError, "no '...' ellipsis provided"),
    (_trace_error(lambda a: np.einsum("i.j", a), (2, 3)), ValueError, "not part of an ellipsis"),
    (_trace_error(lambda a, b: np.tensordot(a, b, ([0], [0])), (2, 3), (3, 2)), ValueError,
     "size 2 in dim 0 and second has size 3 in dim 0"),
    (_trace_error(lambda a: np.linalg.matrix_power(a, 2), (2, 3)), ValueError, "square"),
    (_trace_error(lambda a: np.linalg.matrix_power(a, 2.0), (3, 3)), TypeError, "integer"),
    (_trace_error(lambda a, b: np.linalg.multi_dot([a, b]), (2, 3), (2, 3)), ValueError,
     r"tensors 0 and 1 with shapes \[2, 3\] and \[2, 3\] cannot be multiplied"),
    (_trace_error(lambda a, b: np.cross(a, b), (4,), (4,)), ValueError, "3-vectors"),
    (_trace_error(lambda a: np.diag(a), (2, 2, 2)), ValueError, "1-D or 2-D"),
    (_trace_error(lambda a: a.diagonal(0, 1, 1), (2, 2)), ValueError, "cannot be identical"),
    (lambda: symgrad.tensor(np.ones(3)).tril(), RuntimeError, "at least 2 dimensions"),
    (lambda: symgrad.mm(symgrad.ones(2, 3, 4), symgrad.ones(4, 2)), RuntimeError, "mm: expected 2-D and 2-D"),
    (lambda: symgrad.mv(symgrad.ones(2, 3), symgrad.ones(3, 1)), RuntimeError, "mv: expected 2-D and 1-D"),
    (lambda: symgrad.outer(symgrad.ones(2, 3), symgrad.ones(3)), RuntimeError, "outer: expected 1-D"),
    (lambda: symgrad.dot(symgrad.ones(2), symgrad.ones(3)), RuntimeError, "inconsistent tensor size"),
    (lambda: symgrad.inner(symgrad.ones(2), symgrad.ones(3)), RuntimeError, "last dimension must match"),
    (lambda: symgrad.linalg.cross(symgrad.ones(2, 4), symgrad.ones(2, 4)), RuntimeError,
     "must have length 3"),
    (lambda: symgrad.linalg.cross(symgrad.ones(2, 3), symgrad.ones(3)), RuntimeError,
     "same number of dimensions"),
    (lambda: symgrad.linalg.multi_dot([symgrad.ones(2, 2)]), RuntimeError, "at least 2 tensors"),
    (lambda: symgrad.linalg.matrix_power(symgrad.ones(2, 3), 2), RuntimeError, "2 by 3 matrices"),
    (lambda: symgrad.tensordot(symgrad.ones(2, 3), symgrad.ones(2, 3), dims=([0], [1])), RuntimeError,
     "contracted dimensions need to match"),
    (lambda: symgrad.einsum("ij,jk", symgrad.ones(2, 3), symgrad.ones(4, 5)), RuntimeError,
     "subscript 'j' has size 3"),
], ids=lambda v: "" if callable(v) or isinstance(v, type) else v[:30])
def test_bad_input_raises_the_right_error_naming_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_negative_matrix_power_uses_inv_or_says_it_is_missing():
    a = np.eye(3) * 2.0 + 0.1
    if "linalg.inv" not in FUNCTIONS:
        with pytest.raises(NotImplementedError, match="negative exponent needs linalg.inv"):
            symgrad.compile(lambda a: np.linalg.matrix_power(a, -2))(a)
        return
    np.testing.assert_allclose(symgrad.compile(lambda a: np.linalg.matrix_power(a, -2))(a),
                               np.linalg.matrix_power(a, -2), rtol=1e-10)


def test_pytorch_refuses_the_same_bad_input():
    """The error types above are PyTorch's own for the same calls."""
    torch = _torch()
    for call in (lambda: torch.ones(3).tril(), lambda: torch.mm(torch.ones(2, 3, 4), torch.ones(4, 2)),
                 lambda: torch.dot(torch.ones(2), torch.ones(3)),
                 lambda: torch.linalg.multi_dot([torch.ones(2, 2)]),
                 lambda: torch.linalg.cross(torch.ones(2, 4), torch.ones(2, 4)),
                 lambda: torch.linalg.matrix_power(torch.ones(2, 3), 2)):
        with pytest.raises(RuntimeError):
            call()
    with pytest.raises(ValueError):  # NumPy's errors for the traced cases are ValueErrors
        np.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
