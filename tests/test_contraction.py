"""The contraction pass: products, sums, matmuls, views, diagonals and identity constants as
one einsum, identities removed by index substitution (symgrad/simplify/contraction.py).

Every rewrite is checked by value against the unsimplified graph (`passes=()`); Hessians also
against their closed form and central differences of `symgrad.grad`; and the graphs are
checked for what the pass exists to remove: no node larger than the inputs and outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numeric import code_of, difference_columns

import symgrad
from symgrad.simplify import simplify
from symgrad.simplify.contraction import structure

N = 6


def quartic(x: Any) -> Any:
    return np.sum(x ** 4) / 4


# sum(x^4)/4 + x'Ax/2, spelled as people write it: every Hessian is diag(3x^2) + (A + A')/2
HESSIAN_SPELLINGS: dict[str, Callable] = {
    "x @ A @ x": lambda x, A: quartic(x) + x @ A @ x / 2,
    "outer product": lambda x, A: quartic(x) + np.sum(np.outer(x, x) * A) / 2,
    "broadcast": lambda x, A: quartic(x) + np.sum(x[:, None] * A * x[None, :]) / 2,
    "einsum i,ij,j": lambda x, A: quartic(x) + np.einsum("i,ij,j->", x, A, x) / 2,
    "dot method": lambda x, A: (x ** 4).sum() / 4 + 0.5 * x.dot(A.dot(x)),
    "trace of A xx'": lambda x, A: quartic(x) + np.trace(A @ np.outer(x, x)) / 2,
    "tensordot": lambda x, A: quartic(x) + np.tensordot(x, A @ x, 1) / 2,
    "(x * Ax).sum()": lambda x, A: quartic(x) + (x * (A @ x)).sum() / 2,
    "nested einsum": lambda x, A: quartic(x) + np.einsum("i,i->", x, np.einsum("ij,j->i", A, x)) / 2,
    "x @ (A @ x)": lambda x, A: quartic(x) + x @ (A @ x) / 2,
    "x.T @ A @ x": lambda x, A: quartic(x) + x.T @ A @ x / 2,
    "vdot": lambda x, A: quartic(x) + np.vdot(x, A @ x) / 2,
    "inner": lambda x, A: quartic(x) + np.inner(x, A @ x) / 2,
    "einsum ij,ij": lambda x, A: quartic(x) + np.einsum("ij,ij->", A, np.outer(x, x)) / 2,
    "sum over both axes": lambda x, A: quartic(x) + (A * x).sum(axis=1) @ x / 2,
}


def inputs(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal((n, n))


def largest_node(graph: Any) -> int:
    return max(int(np.prod(n.shape)) for n in graph.nodes)


def largest_io(graph: Any) -> int:
    return max(int(np.prod(n.shape)) for n in [*graph.inputs, *graph.outputs])


def fired(transform: Any, *args: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for stat in transform.build(*args).stats:
        for name, count in stat.fired.items():
            out[name] = out.get(name, 0) + count
    return out


# ---------------------------------------------------------------- the Hessian workload

@pytest.mark.parametrize("name", HESSIAN_SPELLINGS)
def test_every_hessian_spelling_is_the_closed_form(name: str) -> None:
    fn = HESSIAN_SPELLINGS[name]
    x, A = inputs()
    got = symgrad.hessian(fn)(x, A)
    np.testing.assert_allclose(got, np.diag(3 * x ** 2) + (A + A.T) / 2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, symgrad.hessian(fn, passes=())(x, A), rtol=1e-12, atol=1e-12)
    grad = symgrad.grad(fn)
    columns = difference_columns(lambda v: grad(v, A), x)
    np.testing.assert_allclose(got, np.stack(columns, axis=-1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", HESSIAN_SPELLINGS)
def test_no_hessian_spelling_materialises_more_than_its_inputs_and_output(name: str) -> None:
    """The batched identity cotangent (n x n, broadcast to n x n x n) is gone by substitution."""
    x, A = inputs(n=7)
    graph = symgrad.hessian(HESSIAN_SPELLINGS[name]).graph(x, A)
    assert largest_node(graph) <= largest_io(graph), str(graph)


QUARTICS = {
    "np.square(x) ** 2": lambda x: np.sum(np.square(x) ** 2) / 4,
    "x * x * x * x": lambda x: np.sum(x * x * x * x) / 4,
    "(x ** 2) @ (x ** 2)": lambda x: (x**2) @ (x**2) / 4,
    "einsum i,i,i,i": lambda x: np.einsum("i,i,i,i->", x, x, x, x) / 4,
}


@pytest.mark.parametrize("name", QUARTICS)
def test_the_diagonal_part_is_written_once(name: str) -> None:
    """However the quartic is spelled, its Hessian's diagonal 3x^2 is one diagonal write: the
    derivative's summands (x**2 from one rule, x*x from another) are one term."""
    x, A = inputs(n=7)
    fn = lambda x, A: QUARTICS[name](x) + np.trace(A @ np.outer(x, x)) / 2  # noqa: E731
    hessian = symgrad.hessian(fn)
    np.testing.assert_allclose(hessian(x, A), np.diag(3 * x**2) + (A + A.T) / 2, rtol=1e-12, atol=1e-12)
    graph = hessian.graph(x, A)
    square = [n for n in graph.nodes if n.shape == (7, 7) and n.op not in ("input", "const", "transpose")]
    assert sum(n.op == "const" and n.shape == (7, 7) for n in graph.nodes) <= 1, str(graph)
    assert len(square) <= 4, str(graph)


def test_the_outer_product_hessian_is_lean() -> None:
    x, A = inputs(n=50)
    hessian = symgrad.hessian(HESSIAN_SPELLINGS["outer product"])
    assert fired(hessian, x, A).get("contraction", 0) >= 1
    source = code_of(hessian.source(x, A))
    body = [line for line in source.splitlines() if line.startswith("    ") and "=" in line]
    assert len(body) <= 6, source
    assert "sum(" not in source and "broadcast_to" not in source, source
    unsimplified = symgrad.hessian(HESSIAN_SPELLINGS["outer product"], passes=()).graph(x, A)
    assert largest_node(unsimplified) == 50 ** 3  # what there was to remove


def test_the_pass_alone_keeps_values_and_verifies() -> None:
    """Run on the unsimplified graph by itself, with the IR verifier after it."""
    x, A = inputs()
    for fn in HESSIAN_SPELLINGS.values():
        graph = symgrad.hessian(fn, passes=()).graph(x, A)
        once = simplify(graph, passes=("contraction",), check=True)
        assert largest_node(once) <= largest_node(graph)
        compiled = symgrad.hessian(fn, passes=("contraction",))
        closed = np.diag(3 * x ** 2) + (A + A.T) / 2
        np.testing.assert_allclose(compiled(x, A), closed, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- other contractions

X4, A4 = inputs(4, seed=1)
B43 = np.random.default_rng(2).standard_normal((4, 3))
T244 = np.random.default_rng(3).standard_normal((2, 4, 4))

PROGRAMS: dict[str, tuple[Callable, tuple]] = {
    "trace of a product": (lambda A, B: np.trace(A @ A.T @ A) + np.sum(B), (A4, B43)),
    "diag(x) @ A": (lambda x, A: np.sum(np.diag(x) @ A * A), (X4, A4)),
    "diagonal of a product": (lambda x, A: np.sum(np.diagonal(A * np.outer(x, x)) ** 2), (X4, A4)),
    "eye times x": (lambda x, A: np.sum((np.eye(4) * x) @ A @ (np.eye(4) * x)), (X4, A4)),
    "einsum ii": (lambda x, A: np.einsum("ii->", np.outer(x, x) @ A), (X4, A4)),
    "batched einsum": (lambda x, T: np.sum(np.einsum("bij,j->bi", T, x) ** 2), (X4, T244)),
    "batched matmul": (lambda x, T: np.sum((T @ x) * (T @ x)), (X4, T244)),
    "tensordot axes": (lambda x, B: np.sum(np.tensordot(np.outer(x, x), B, axes=([1], [0])) ** 2), (X4, B43)),
    "three-way broadcast": (lambda x, A: np.sum(x[:, None, None] * A[None] * x[None, None, :]), (X4, A4)),
    "einsum i,j,k": (lambda x, A: np.sum(np.einsum("i,j,k->ijk", x, x, x) * A[:, :, None]), (X4, A4)),
    "cubic form": (lambda x, A: np.sum(np.einsum("i,j,k->ijk", x, x, x) ** 2) / 6 + np.sum(A), (X4, A4)),
    "through exp": (lambda x, A: np.sum(np.exp(A @ x) * x), (X4, A4)),
    "a product of sums": (lambda x, A: np.inner(x, A @ x) * np.sum(x), (X4, A4)),
    "keepdims": (lambda x, A: np.sum(np.sum(np.outer(x, x) * A, axis=1, keepdims=True) * x[:, None]),
                 (X4, A4)),
    "transposed outer": (lambda x, A: np.sum(np.outer(x, A @ x).T * A), (X4, A4)),
    "torch spelling": (lambda x, A: symgrad.einsum("i,ij,j->", x, A, x) + symgrad.trace(A) * x.sum(),
                       (X4, A4)),
}


def _derivatives(fn: Callable, passes: tuple | None) -> list[Callable]:
    return [symgrad.compile(fn, passes=passes), symgrad.grad(fn, argnums=(0, 1), passes=passes),
            symgrad.hessian(fn, passes=passes),
            symgrad.jacobian(symgrad.grad(fn, argnums=1), argnums=(0, 1), passes=passes)]


def _same(got: Any, want: Any) -> None:
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert (g.shape, g.dtype) == (w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", PROGRAMS)
def test_derivatives_match_the_unsimplified_graph(name: str) -> None:
    """Value, gradient, Hessian and a mixed Jacobian, with all passes and with the
    contraction pass alone, equal the unsimplified graph's."""
    fn, args = PROGRAMS[name]
    plain = [d(*args) for d in _derivatives(fn, ())]
    for passes in (None, ("contraction",)):
        for got, want in zip((d(*args) for d in _derivatives(fn, passes)), plain):
            _same(got, want)


@pytest.mark.parametrize("name", [k for k in PROGRAMS if k != "cubic form"])
def test_second_derivatives_hold_no_oversized_temporary(name: str) -> None:
    """(The cubic form's forward holds an n^3 tensor of its own.)"""
    fn, args = PROGRAMS[name]
    for derivative in _derivatives(fn, None)[1:]:
        graph = derivative.graph(*args)
        forward = symgrad.compile(fn).graph(*args)
        assert largest_node(graph) <= max(largest_io(graph), largest_node(forward)), str(graph)


def test_float32_stays_float32() -> None:
    x, A = (a.astype(np.float32) for a in inputs())
    for fn in (HESSIAN_SPELLINGS["outer product"], HESSIAN_SPELLINGS["trace of A xx'"]):
        got = symgrad.hessian(fn)(x, A)
        assert got.dtype == np.float32
        graph = symgrad.hessian(fn).graph(x, A)  # its seed is float64: widened operands still contract
        assert largest_node(graph) <= largest_io(graph), str(graph)
        np.testing.assert_allclose(got, symgrad.hessian(fn, passes=())(x, A), rtol=1e-5, atol=1e-5)


def test_einsum_matmul_gradient_is_two_matmuls() -> None:
    """einsum('ij,jk->ik') is the same BLAS call as A @ B, and so is its gradient."""
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((30, 20)), rng.standard_normal((20, 10))
    for fn in (lambda A, B: np.sum(np.einsum("ij,jk->ik", A, B) ** 2),
               lambda A, B: np.sum(np.sum(A[:, :, None] * B[None, :, :], axis=1) ** 2)):
        grad = symgrad.grad(fn, argnums=(0, 1))
        listing = str(grad.graph(A, B))
        assert listing.count(" = matmul") == 3, listing  # the forward and one per operand
        assert largest_node(grad.graph(A, B)) <= 30 * 20, listing
        _same(grad(A, B), symgrad.grad(fn, argnums=(0, 1), passes=())(A, B))


def test_equal_contractions_are_shared() -> None:
    """Two spellings of one contraction in one program: computed once."""
    x, A = inputs()
    fn = lambda x, A: np.sum(np.outer(x, x) * A) + np.einsum("i,ij,j->", x, A, x)  # noqa: E731
    graph = symgrad.hessian(fn).graph(x, A)
    assert str(graph).count(" = matmul") <= 1
    _same(symgrad.hessian(fn)(x, A), symgrad.hessian(fn, passes=())(x, A))


# ---------------------------------------------------------------- constants read as deltas

def test_structure_of_an_identity() -> None:
    core, labels, sizes = structure(np.eye(3) * 2.5)
    assert labels == [0, 0] and sizes == [3]
    np.testing.assert_array_equal(core, [2.5, 2.5, 2.5])


def test_structure_of_a_broadcast_identity() -> None:
    """eye(3) broadcast along a middle axis: constant along it, a diagonal in the others."""
    value = np.broadcast_to(np.eye(3)[:, None, :], (3, 4, 3))
    core, labels, sizes = structure(value)
    assert labels == [0, None, 0] and sizes == [3]
    np.testing.assert_array_equal(core, np.ones(3))


def test_structure_of_a_plain_matrix() -> None:
    value = np.arange(6.0).reshape(2, 3)
    core, labels, _ = structure(value)
    assert labels == [0, 1]
    np.testing.assert_array_equal(core, value)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 3), scale=st.floats(-3, 3, allow_nan=False),
       seed=st.integers(0, 2 ** 16))
def test_structure_rebuilds_the_constant(n: int, m: int, scale: float, seed: int) -> None:
    """Whatever the constant, expanding its core along its labels gives it back."""
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        value = scale * np.eye(n)[:, None, :] * rng.standard_normal((1, m, 1))
    elif kind == 1:
        value = np.einsum("ij,k->ijk", np.diag(rng.standard_normal(n)), np.ones(m))
    else:
        value = rng.integers(-1, 2, (n, m, n)).astype(float)
    core, labels, sizes = structure(value)
    rebuilt = np.zeros(value.shape)
    for idx in np.ndindex(*value.shape):
        names = {}
        ok = True
        for k, i in zip(labels, idx):
            if k is not None and names.setdefault(k, i) != i:
                ok = False
        if ok:
            rebuilt[idx] = core[tuple(names[k] for k in range(len(sizes)))] if sizes else core
    assert core.ndim == len(sizes)
    np.testing.assert_array_equal(rebuilt, value)


# ---------------------------------------------------------------- random einsum programs

@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_random_einsum_hessians_match_the_unsimplified_graph(data: Any) -> None:
    """A quadratic or cubic contraction of x with random matrices, spelled with einsum
    letters drawn at random: its Hessian equals the unsimplified one."""
    n = data.draw(st.integers(2, 4))
    order = data.draw(st.integers(2, 3))
    letters = "ijk"[:order]
    # a matrix operand on a random pair of letters, and x on every letter
    pair = data.draw(st.permutations(letters))[:2]
    out = data.draw(st.sampled_from(["", letters[0]]))
    spec = ",".join([*letters, "".join(pair)]) + "->" + out
    A = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal((n, n))
    x = np.random.default_rng(7).standard_normal(n)

    def fn(x: Any, A: Any) -> Any:
        return np.sum(np.einsum(spec, *([x] * order), A))

    _same(symgrad.hessian(fn)(x, A), symgrad.hessian(fn, passes=())(x, A))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_einsum_gradients_match_the_unsimplified_graph(data: Any) -> None:
    """Two or three operands with random letters (repeats too: a diagonal), sizes (1 too:
    a broadcast) and output: value, gradients and the Hessian in the first operand."""
    sizes = {c: data.draw(st.integers(1, 3)) for c in "ijk"}
    count = data.draw(st.integers(2, 3))
    terms = [data.draw(st.text("ijk", min_size=1, max_size=3)) for _ in range(count)]
    named = sorted(set("".join(terms)))
    out = "".join(data.draw(st.permutations(named))[:data.draw(st.integers(0, len(named)))])
    spec = ",".join(terms) + "->" + out
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    arrays = [rng.standard_normal(tuple(sizes[c] for c in t)) for t in terms]
    ct = rng.standard_normal(tuple(sizes[c] for c in out))

    def fn(*xs: Any) -> Any:
        return np.sum(np.einsum(spec, *xs) * ct)

    wrt = tuple(range(count))
    _same(symgrad.compile(fn)(*arrays), symgrad.compile(fn, passes=())(*arrays))
    _same(symgrad.grad(fn, argnums=wrt)(*arrays), symgrad.grad(fn, argnums=wrt, passes=())(*arrays))
    _same(symgrad.hessian(fn)(*arrays), symgrad.hessian(fn, passes=())(*arrays))


def test_indexing_that_only_adds_unit_axes_has_a_reshape_for_adjoint() -> None:
    """x[:, None] is a reshape (the idioms' rule, before differentiation), so its adjoint is
    one too: no scatter_add or index_add into zeros."""
    x, A = inputs()
    hessian = symgrad.hessian(HESSIAN_SPELLINGS["broadcast"])
    assert "index_add" not in hessian.source(x, A) and "scatter_add" not in hessian.source(x, A)
    grad = symgrad.grad(lambda x, A: np.sum(np.sin(x[:, None] * A)))
    _same(grad(x, A), symgrad.grad(lambda x, A: np.sum(np.sin(x[:, None] * A)), passes=())(x, A))


MATRIX_OUTPUTS: dict[str, tuple[Callable, tuple]] = {
    "outer product": (lambda x, A: np.outer(x, A @ x), (X4, A4)),
    "matrix product": (lambda x, B: np.outer(x, x) @ B, (X4, B43)),
    "product times the argument": (lambda x, A: (A * x) @ A.T * x[:, None], (X4, A4)),
}


@pytest.mark.parametrize("name", MATRIX_OUTPUTS)
def test_jacobians_of_matrix_outputs_read_the_seed_as_a_delta(name: str) -> None:
    """The seed of a matrix output is eye(n*m).reshape(n*m, n, m): its leading axis is read
    as the compound of the next two, a delta with each, so no (n*m, n, m) product remains."""
    fn, args = MATRIX_OUTPUTS[name]
    jacobian = symgrad.jacobian(fn, argnums=(0, 1))
    _same(jacobian(*args), symgrad.jacobian(fn, argnums=(0, 1), passes=())(*args))
    graph = jacobian.graph(*args)
    assert largest_node(graph) <= largest_io(graph), str(graph)


def test_hessian_in_a_matrix_argument() -> None:
    X, B = np.random.default_rng(6).standard_normal((4, 3)), B43[:3]
    for fn in (lambda X, B: np.sum((X @ B) ** 2),
               lambda X, B: np.trace(X.T @ X @ B @ B.T) + np.sum(np.diag(X @ X.T) ** 2)):
        hessian = symgrad.hessian(fn)
        _same(hessian(X, B), symgrad.hessian(fn, passes=())(X, B))
        graph = hessian.graph(X, B)
        assert largest_node(graph) <= largest_io(graph), str(graph)


def test_a_product_of_long_sums_is_read_as_one_operand():
    """Past 32 summands a product of sums is not expanded: it is an operand of the region,
    and values, gradients and Hessians stay those of the unsimplified graph."""
    def fn(x, A):
        left = A + A.T + 2 * A * x + A * x[:, None] + np.outer(x, x) + 3 * A.T * x
        right = A * 0.5 + A.T * x + np.outer(x, x) * A + x[:, None] * A.T + A * A + np.outer(x, x)
        return np.sum(left * right @ np.eye(len(x)))
    x, A = inputs(n=5)
    for transform in (symgrad.compile, symgrad.grad, symgrad.hessian):
        want = transform(fn, passes=())(x, A)
        np.testing.assert_allclose(transform(fn)(x, A), want, rtol=1e-10, atol=1e-10)
