"""The compiled (JAX-like) face, checked by value.

Functions written with plain `import numpy as np` are traced, differentiated to any order
and generated as NumPy; every result is compared with a closed form, with central finite
differences in float64, with the eager engine, and with JAX when it is installed.
"""

import ast
import linecache
import logging
import os
import re
import runpy
import subprocess
import sys
import textwrap
import threading
import traceback
from collections import OrderedDict, namedtuple

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numeric import code_of, differences

import symgrad

THIS_FILE = re.escape(__file__.rsplit("/", 1)[-1])  # "test_api.py", as error messages show it
RNG = np.random.default_rng(20240501)
A = RNG.standard_normal((3, 4))  # the input of the NumPy programs below (no ties, no kinks)
W = RNG.standard_normal((4, 2))
C34 = np.arange(12.0).reshape(3, 4) / 7
C43 = np.arange(12.0).reshape(4, 3) / 5
C64 = np.arange(24.0).reshape(6, 4) / 9


# ---------------------------------------------------------------- helpers

def numeric_grad(f, x, eps=1e-6):
    """Central differences of scalar `f` with respect to array `x` (float64)."""
    return differences(f, [np.array(x, dtype=np.float64)], (0,), eps)[0]


def numeric_jacobian(f, x, eps=1e-6):
    """Central differences of array-valued `f`: shape f(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    jac = np.zeros(out_shape + x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        jac[(...,) + i] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


def assert_close(actual, expected, rtol=1e-6, atol=1e-8):
    assert isinstance(actual, np.ndarray), f"expected a NumPy array, got {type(actual).__name__}"
    assert actual.shape == np.shape(expected), f"shape {actual.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def body_line(fn):
    """The line of a one-statement function's body (what a trace-time error should point at)."""
    return fn.__code__.co_firstlineno + 1


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


# ---------------------------------------------------------------- 1. tracing plain NumPy

# each program is written once over a NumPy-like module `xp`: symgrad traces it with `np`,
# JAX runs it with `jax.numpy`
NUMPY_PROGRAMS = {
    "ufuncs": lambda xp, x: xp.sum(xp.exp(x) * xp.sin(x) + xp.cos(x) / (2.0 + x * x) - xp.tanh(x) ** 2),
    "log_family": lambda xp, x: xp.sum(xp.log(x * x + 1.0) + xp.log1p(x * x) + xp.expm1(x)
                                       + xp.sqrt(x * x + 2.0)),
    "arith_ufuncs": lambda xp, x: xp.sum(xp.square(x) + xp.abs(x) + xp.negative(x) * 2.0 + xp.power(x, 3)
                                         + xp.divide(x, 3.0) + xp.subtract(1.0, x) + xp.multiply(x, C34)),
    "sum_axis": lambda xp, x: xp.sum(xp.sum(x, axis=1) ** 2) + xp.sum(xp.sum(x, axis=0, keepdims=True) * x),
    "sum_negative_axis": lambda xp, x: xp.sum(xp.sum(x ** 2, axis=-1, keepdims=True) * x),
    "mean": lambda xp, x: xp.sum(xp.mean(x, axis=0) ** 3) + xp.mean(x) ** 2
    + xp.sum(xp.mean(x, axis=(0, 1), keepdims=True) * x),
    "max_min": lambda xp, x: xp.sum(xp.max(x, axis=1) ** 2) + xp.max(x) * 3.0
    + xp.sum(xp.min(x, axis=0, keepdims=True) * x) + xp.amin(x ** 3),
    "prod": lambda xp, x: xp.sum(xp.prod(x, axis=1)) + xp.prod(x[0])
    + xp.sum(xp.prod(x, axis=0, keepdims=True) * x),
    "dot": lambda xp, x: xp.sum(xp.tanh(xp.dot(x, W))) + xp.dot(x[0], x[1]),
    "matmul": lambda xp, x: xp.sum(xp.matmul(x, W) ** 2) + xp.sum(xp.sin(x @ x.T)),
    "einsum": lambda xp, x: xp.sum(xp.einsum("ij,jk->ik", x, W) ** 2) + xp.einsum("ij,ij->", x, C34)
    + xp.sum(xp.einsum("ij->j", x ** 2) * xp.arange(4.0)) + xp.sum(xp.tanh(xp.einsum("ij,kj->ik", x, x))),
    "where": lambda xp, x: xp.sum(xp.where(x > 0, x ** 2, xp.sin(x)) + xp.where(x < 0.3, 1.0, x)),
    "maximum_minimum": lambda xp, x: xp.sum(xp.maximum(x, 0.1) + xp.minimum(x, x ** 3 * 0.5)
                                            + xp.maximum(x, x[::-1] * 0.5) ** 2),
    "clip": lambda xp, x: xp.sum(xp.clip(x, -0.5, 0.5) ** 2 + xp.clip(x, 0.0, None) * C34),
    "reshape_transpose": lambda xp, x: xp.sum(xp.reshape(x, (4, 3)) * C43) + xp.sum(xp.transpose(x) @ x)
    + xp.sum(xp.transpose(xp.reshape(x, (3, 2, 2)), (2, 0, 1)) ** 2 * xp.arange(2.0).reshape(2, 1, 1)),
    "concatenate_stack": lambda xp, x: xp.sum(xp.concatenate([x, x ** 2], axis=0) * C64)
    + xp.sum(xp.stack([x, xp.sin(x)], axis=-1) ** 2 * xp.array([1.0, 3.0])),
    "squeeze_expand_broadcast": lambda xp, x: xp.sum(xp.squeeze(x[:, :1], axis=1) ** 3)
    + xp.sum(xp.expand_dims(x, 0) * xp.ones((2, 1, 1)) * x)
    + xp.sum(xp.broadcast_to(x[0], (5, 4)) ** 2 * xp.arange(4.0)),
    "slicing": lambda xp, x: xp.sum(x[::-1, ::-2] ** 2 * xp.arange(6.0).reshape(3, 2))
    + xp.sum(x[-1, 1:3]) * 3.0 + xp.sum(x[1] ** 3) + xp.sum(x[..., -1]) ** 2 + x[2, -1] * x[0, 0],
    "integer_array_index": lambda xp, x: xp.sum(x[np.array([0, 2, 0])] ** 2)
    + xp.sum(x[:, np.array([3, 3, 1])] * C34[:, :3]) + xp.sum(x[np.array([2, 1]), np.array([0, 0])] ** 3),
    "var_std": lambda xp, x: xp.var(x) + xp.sum(xp.std(x, axis=0)) + xp.std(x, ddof=0)
    + xp.sum(xp.var(x, axis=1, keepdims=True) * x),
}


@pytest.mark.parametrize("name", sorted(NUMPY_PROGRAMS))
def test_numpy_program_gradient_matches_finite_differences(name):
    program = NUMPY_PROGRAMS[name]
    g = symgrad.grad(lambda x: program(np, x))(A)
    assert_close(g, numeric_grad(lambda x: program(np, x), A), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(NUMPY_PROGRAMS))
def test_numpy_program_gradient_matches_jax(jax, name):
    program = NUMPY_PROGRAMS[name]
    expected = np.asarray(jax.grad(lambda x: program(jax.numpy, x))(A))
    assert_close(symgrad.grad(lambda x: program(np, x))(A), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["sum_axis", "var_std", "max_min", "matmul"])
def test_numpy_program_value_matches_numpy(name):
    program = NUMPY_PROGRAMS[name]
    value = symgrad.compile(lambda x: program(np, x))(A)
    assert_close(value, np.asarray(program(np, A)), rtol=1e-12)


# NumPy code calls array methods too: NumPy's keywords and methods must work on a traced value
NDARRAY_METHOD_PROGRAMS = {
    "sum_axis": lambda x: (x.sum(axis=0) ** 2).sum(),
    "mean_axis_keepdims": lambda x: (x.mean(axis=1, keepdims=True) * x).sum(),
    "max_min_axis": lambda x: x.max(axis=1).sum() + (x.min(axis=0) ** 2).sum(),
    "prod_axis": lambda x: x.prod(axis=1).sum(),
    "squeeze_axis": lambda x: (x[:, :1].squeeze(axis=1) ** 3).sum(),
    "transpose_no_args": lambda x: (x.transpose() @ x).sum(),
    "dot": lambda x: np.tanh(x.dot(W)).sum(),
    "ravel": lambda x: (x.ravel() * np.arange(12.0)).sum(),
    "swapaxes": lambda x: (x.swapaxes(0, 1) @ x).sum(),
}


@pytest.mark.parametrize("name", sorted(NDARRAY_METHOD_PROGRAMS))
def test_ndarray_methods_with_numpy_keywords_trace(name):
    program = NDARRAY_METHOD_PROGRAMS[name]
    assert_close(symgrad.grad(program)(A), numeric_grad(program, A), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("program, expected", [
    (lambda x: x[0, 0], [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
    (lambda x: x[-1, 2] * 3.0, [[0.0, 0.0, 0.0], [0.0, 0.0, 3.0]]),
    (lambda x: x[0][1], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    (lambda x: x[1, 1:].sum() * 2.0, [[0.0, 0.0, 0.0], [0.0, 2.0, 2.0]]),
    (lambda x: x[np.array([0, 0]), np.array([1, 1])].sum(), [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]),
])
def test_gradient_of_selected_elements(program, expected):
    assert_close(symgrad.grad(program)(np.arange(6.0).reshape(2, 3)), np.array(expected))


def uniques(x):
    return np.unique(x).sum()


def unwraps(x):
    return np.unwrap(x).sum()


@pytest.mark.parametrize("fn, numpy_name", [(uniques, "numpy.unique"), (unwraps, "numpy.unwrap")])
def test_numpy_function_without_an_op_fails_at_trace_time(fn, numpy_name):
    expected = rf"{re.escape(numpy_name)} \(at .*{THIS_FILE}:{body_line(fn)}\b.*has no registered symgrad op"
    with pytest.raises(TypeError, match=expected):
        symgrad.trace(fn, np.ones(3))
    with pytest.raises(TypeError, match=expected):
        symgrad.grad(fn)(np.ones(3))


# ---------------------------------------------------------------- 2. the API

def test_trace_listing_and_networkx_graph():
    traced = symgrad.trace(lambda x, w: np.tanh(x @ w).sum(), np.ones(3), np.ones((3, 2)))
    lines = str(traced.graph).splitlines()
    assert lines[0] == "{ lambda x:f64[3] w:f64[3,2] . let"
    assert lines[-1] == "  in (c) }"
    equation = re.compile(r"^    [a-z]+:f64\[[\d,]*\] = [a-z_]+(\[.*\])?( [\w.]+)+$")
    assert [bool(equation.match(line)) for line in lines[1:-1]] == [True] * 3
    assert [line.split(" = ")[1].split()[0] for line in lines[1:-1]] == ["matmul", "tanh", "sum[axes=(0,)"]

    graph = traced.graph.nx
    assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph)
    ops = {attrs["op"]: (n, attrs) for n, attrs in graph.nodes(data=True)}
    assert set(ops) == {"input", "matmul", "tanh", "sum"}
    for _, attrs in graph.nodes(data=True):
        assert {"op", "params", "shape", "dtype"} <= set(attrs)
    assert ops["matmul"][1]["shape"] == (2,) and ops["matmul"][1]["dtype"] == np.float64
    assert ops["sum"][1]["params"] == {"axes": (0,), "keepdims": False} and ops["sum"][1]["shape"] == ()
    assert graph.has_edge(ops["matmul"][0], ops["tanh"][0])
    dot = traced.graph.to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert "tanh" in dot and dot.count("->") >= graph.number_of_edges()


def test_compile_with_static_argnums():
    calls = []

    def poly(x, mode, power):
        calls.append((mode, power))
        y = x ** power
        return np.sin(y).sum() if mode == "sin" else y.sum()

    f = symgrad.compile(poly, static_argnums=(1, 2))
    x = np.array([0.5, -1.5, 2.0])
    assert_close(f(x, "sin", 2), np.sin(x ** 2).sum(), rtol=1e-14)
    assert_close(f(x, "sum", 3), (x ** 3).sum(), rtol=1e-14)
    assert_close(f(x + 1, "sin", 2), np.sin((x + 1) ** 2).sum(), rtol=1e-14)
    assert calls == [("sin", 2), ("sum", 3)]
    assert "sin(" in code_of(f.source(x, "sin", 2)) and "sin" not in code_of(f.source(x, "sum", 3))


def test_grad_argnums_int_and_tuple():
    def f(x, y, z):
        return (np.sin(x) * y ** 2).sum() + z * x.sum()

    x, y, z = np.array([0.3, -0.7]), np.array([1.5, 2.0]), 0.25
    assert_close(symgrad.grad(f)(x, y, z), np.cos(x) * y ** 2 + z)
    assert_close(symgrad.grad(f, argnums=1)(x, y, z), 2 * np.sin(x) * y)
    gz, gx = symgrad.grad(f, argnums=(2, 0))(x, y, z)
    assert_close(gz, np.asarray(x.sum()))
    assert_close(gx, np.cos(x) * y ** 2 + z)
    (only,) = symgrad.grad(f, argnums=(1,))(x, y, z)
    assert_close(only, 2 * np.sin(x) * y)
    with pytest.raises(TypeError, match="argnums 3 is out of range"):
        symgrad.grad(f, argnums=3)(x, y, z)


def test_has_aux_and_value_and_grad():
    def loss(w, x):
        pred = np.tanh(x @ w)
        return (pred ** 2).mean(), pred

    w, x = RNG.standard_normal(3), RNG.standard_normal((4, 3))
    pred = np.tanh(x @ w)
    expected_grad = x.T @ (2 * pred * (1 - pred ** 2) / 4)
    g, aux = symgrad.grad(loss, has_aux=True)(w, x)
    assert_close(g, expected_grad, rtol=1e-12)
    assert_close(aux, pred, rtol=1e-14)
    (value, aux), g = symgrad.value_and_grad(loss, has_aux=True)(w, x)  # JAX's structure
    assert_close(value, np.asarray((pred ** 2).mean()), rtol=1e-14)
    assert_close(g, expected_grad, rtol=1e-12)
    assert_close(aux, pred, rtol=1e-14)
    (value, aux), (gw, gx) = symgrad.value_and_grad(loss, argnums=(0, 1), has_aux=True)(w, x)
    assert_close(gw, expected_grad, rtol=1e-12)
    assert_close(gx, numeric_grad(lambda x_: loss(w, x_)[0], x))
    assert_close(aux, pred, rtol=1e-14)
    value, (gw, gx) = symgrad.value_and_grad(lambda w, x: loss(w, x)[0], argnums=(0, 1))(w, x)
    assert_close(value, np.asarray((pred ** 2).mean()), rtol=1e-14)
    assert_close(gx, numeric_grad(lambda x_: loss(w, x_)[0], x))
    with pytest.raises(TypeError, match="pair"):
        symgrad.grad(lambda w: (w ** 2).sum(), has_aux=True)(w)


def test_vjp_against_closed_form():
    x, y = np.array([0.5, -1.0, 2.0]), np.array([2.0, 3.0, -1.0])
    out, pullback = symgrad.vjp(lambda x, y: np.sin(x) * y, x, y)
    assert_close(out, np.sin(x) * y, rtol=1e-14)
    for ct in (np.ones(3), np.array([1.0, -2.0, 0.5])):
        gx, gy = pullback(ct)
        assert_close(gx, ct * np.cos(x) * y, rtol=1e-14)
        assert_close(gy, ct * np.sin(x), rtol=1e-14)
    with pytest.raises(ValueError, match="cotangent shape"):
        pullback(np.ones(4))


def test_jacobian_shape_is_out_shape_plus_in_shape():
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]])

    def f(x):
        return np.sum(np.tanh(x), axis=0) * x[0]

    jac = symgrad.jacobian(f)(x)
    assert jac.shape == (3, 2, 3)
    assert_close(jac, numeric_jacobian(f, x))


def test_jacobian_with_several_argnums():
    def f(x, y):
        return np.sin(x)[:, None] * y ** 2

    x, y = np.array([0.3, -1.2]), np.array([1.0, 2.0, -0.5])
    jx, jy = symgrad.jacobian(f, argnums=(0, 1))(x, y)
    assert jx.shape == (2, 3, 2) and jy.shape == (2, 3, 3)
    assert_close(jx, numeric_jacobian(lambda x_: f(x_, y), x))
    assert_close(jy, numeric_jacobian(lambda y_: f(x, y_), y))
    expected_jx = np.einsum("ia,j->ija", np.diag(np.cos(x)), y ** 2)  # d sin(x_i) y_j^2 / d x_a
    assert_close(jx, expected_jx, rtol=1e-14)


def coupled(x):
    """f = sum(sin x) * sum(x**2): a Hessian with diagonal and rank-two parts."""
    return np.sin(x).sum() * (x ** 2).sum()


def coupled_hessian(x):
    s, q = np.sin(x).sum(), (x ** 2).sum()
    return np.diag(-np.sin(x) * q + 2 * s) + np.outer(np.cos(x), 2 * x) + np.outer(2 * x, np.cos(x))


def test_hessian_against_closed_form_and_jacobian_of_grad():
    x = np.array([0.4, -1.3, 2.1, 0.7])
    h = symgrad.hessian(coupled)(x)
    assert_close(h, coupled_hessian(x), rtol=1e-12, atol=1e-12)
    assert_close(symgrad.jacobian(symgrad.grad(coupled))(x), h, rtol=1e-12, atol=1e-12)
    assert_close(h, numeric_jacobian(symgrad.grad(coupled), x), rtol=1e-6, atol=1e-7)


def test_hessian_with_several_argnums_gives_blocks():
    # jax.hessian(f, argnums=(0, 1)) returns ((d2f/dx2, d2f/dxdy), (d2f/dydx, d2f/dy2))
    def f(x, y):
        return (x ** 2).sum() * (y ** 3).sum()

    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.5, -0.5])
    (hxx, hxy), (hyx, hyy) = symgrad.hessian(f, argnums=(0, 1))(x, y)
    assert_close(hxx, 2 * (y ** 3).sum() * np.eye(3))
    assert_close(hxy, np.outer(2 * x, 3 * y ** 2))
    assert_close(hyx, np.outer(3 * y ** 2, 2 * x))
    assert_close(hyy, np.diag(6 * y) * (x ** 2).sum())


def test_jacobian_and_hessian_match_jax(jax):
    x = np.array([0.4, -1.3, 2.1, 0.7])
    jnp = jax.numpy

    def vector_fn(xp, x):
        return xp.sum(xp.tanh(xp.outer(x, x[::-1])), axis=1) * xp.exp(x[0])

    assert_close(symgrad.jacobian(lambda x: vector_fn(np, x))(x),
                 np.asarray(jax.jacobian(lambda x: vector_fn(jnp, x))(x)), rtol=1e-10, atol=1e-12)
    assert_close(symgrad.hessian(coupled)(x),
                 np.asarray(jax.hessian(lambda x: jnp.sin(x).sum() * (x ** 2).sum())(x)), rtol=1e-10)

    def softmax_xent(xp, w, x):
        z = x @ w
        m = xp.max(z, axis=1, keepdims=True)
        return xp.mean(m[:, 0] + xp.log(xp.sum(xp.exp(z - m), axis=1)) - z[:, 0])

    w, xs = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 3))
    mine = symgrad.hessian(lambda w, x: softmax_xent(np, w, x))(w, xs)
    assert mine.shape == (3, 4, 3, 4)
    expected = jax.hessian(lambda w, x: softmax_xent(jnp, w, x))(w, xs)
    assert_close(mine, np.asarray(expected), rtol=1e-9, atol=1e-12)


def test_inputs_as_python_floats_and_tensors():
    g = symgrad.grad(lambda a, b: a * np.sin(b) + a ** 3, argnums=(0, 1))
    ga, gb = g(2.0, 0.5)
    assert_close(ga, np.asarray(np.sin(0.5) + 12.0), rtol=1e-14)
    assert_close(gb, np.asarray(2.0 * np.cos(0.5)), rtol=1e-14)

    t = symgrad.tensor([1.0, -2.0, 0.5], dtype=symgrad.float64, requires_grad=True)
    gt = symgrad.grad(lambda t: (t ** 3).sum())(t)
    assert_close(gt, 3 * np.array([1.0, -2.0, 0.5]) ** 2)
    assert t.grad is None  # a compiled gradient leaves the eager graph alone

    t32 = symgrad.tensor([1.0, 2.0])  # float32 by default
    g32 = symgrad.grad(lambda t: (t * t).sum())(t32)
    assert g32.dtype == np.float32
    assert_close(g32, np.array([2.0, 4.0], np.float32))


def test_nested_inputs_give_gradients_of_the_same_structure():
    params = {"layers": [(RNG.standard_normal((3, 2)), RNG.standard_normal(2)),
                         (RNG.standard_normal((2, 1)), np.array([0.1]))],
              "scale": 1.5}
    x = RNG.standard_normal((4, 3))

    def mlp(params, x):
        h = x
        for w, b in params["layers"]:
            h = np.tanh(h @ w + b)
        return params["scale"] * (h ** 2).sum()

    g = symgrad.grad(mlp)(params, x)
    assert set(g) == {"layers", "scale"}
    assert isinstance(g["layers"], list) and all(isinstance(layer, tuple) for layer in g["layers"])
    assert isinstance(g["scale"], np.ndarray) and g["scale"].shape == ()
    assert_close(g["scale"], np.asarray(mlp(params, x) / 1.5), rtol=1e-12)
    for k in range(2):
        for j in range(2):
            def along(v, k=k, j=j):
                layers = [list(layer) for layer in params["layers"]]
                layers[k][j] = v
                return mlp({"layers": [tuple(layer) for layer in layers], "scale": 1.5}, x)
            assert_close(g["layers"][k][j], numeric_grad(along, params["layers"][k][j]), rtol=1e-6, atol=1e-8)


def test_every_transform_returns_numpy_arrays():
    x = np.array([0.5, 1.5])
    f = lambda x: (x ** 3).sum()  # noqa: E731
    results = [symgrad.compile(f)(x), symgrad.compile(lambda x: x * 2)(x), symgrad.grad(f)(x),
               *symgrad.value_and_grad(f)(x), symgrad.jacobian(lambda x: x * x)(x), symgrad.hessian(f)(x),
               symgrad.vjp(lambda x: x * x, x)[0], *symgrad.vjp(lambda x: x * x, x)[1](np.ones(2)),
               symgrad.grad(f)(symgrad.tensor(x)), symgrad.compile(f)(symgrad.tensor(x))]
    assert [type(r) for r in results] == [np.ndarray] * len(results)


# ---------------------------------------------------------------- 3. higher order

@pytest.mark.parametrize("f, second, x0", [
    (np.sin, lambda x: -np.sin(x), 0.7),
    (lambda x: x ** 4, lambda x: 12 * x ** 2, -1.3),
    (lambda x: np.exp(x) * x, lambda x: np.exp(x) * (x + 2), 0.3),
    (lambda x: np.tanh(x), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), 0.4),
    (lambda x: np.log1p(x * x), lambda x: (2 - 2 * x * x) / (1 + x * x) ** 2, 0.8),
])
def test_grad_of_grad_matches_closed_form(f, second, x0):
    assert_close(symgrad.grad(symgrad.grad(f))(x0), np.asarray(second(x0)), rtol=1e-12)


def test_third_and_fourth_derivatives():
    f = lambda x: x ** 4 + np.sin(x)  # noqa: E731
    d3 = symgrad.grad(symgrad.grad(symgrad.grad(f)))
    d4 = symgrad.grad(d3)
    assert_close(d3(1.3), np.asarray(24 * 1.3 - np.cos(1.3)), rtol=1e-12)
    assert_close(d4(1.3), np.asarray(24 + np.sin(1.3)), rtol=1e-12)


def test_jacobian_of_grad_equals_hessian_on_arrays():
    def f(x):
        return np.exp(x[0] * x[1]) + (np.sin(x) ** 2).sum() * x[2]

    x = np.array([0.3, -0.8, 1.7])
    h = symgrad.hessian(f)(x)
    assert_close(symgrad.jacobian(symgrad.grad(f))(x), h, rtol=1e-12)
    assert_close(h, h.T, rtol=1e-12)
    assert_close(h, numeric_jacobian(symgrad.grad(f), x), rtol=1e-6, atol=1e-8)


def test_grad_of_a_function_closing_over_an_outer_traced_value():
    # d/dx [d/dy (x * y)] = d/dx x = 1
    assert_close(symgrad.grad(lambda x: symgrad.grad(lambda y: x * y)(2.0))(3.0), np.asarray(1.0))

    def outer(x):
        inner = symgrad.grad(lambda y: (np.sin(x) * y ** 2).sum())
        return inner(np.array([1.0, 2.0])).sum()  # = sum(2 * y * sin x), y = [1, 2]

    x = np.array([0.5, -0.2])
    assert_close(symgrad.grad(outer)(x), 2 * np.array([1.0, 2.0]) * np.cos(x), rtol=1e-12)


def test_compiled_function_called_inside_another_transform():
    inner = symgrad.compile(lambda x: np.sin(x) * 2.0)
    x = np.array([0.3, -0.2])
    assert_close(inner(x), 2 * np.sin(x))
    assert_close(symgrad.grad(lambda x: inner(x).sum())(x), 2 * np.cos(x), rtol=1e-14)
    assert_close(symgrad.hessian(lambda x: inner(x).sum())(x), np.diag(-2 * np.sin(x)), rtol=1e-14)


def test_no_perturbation_confusion():
    # the inner y is a new variable even when called at x: d/dx [2 * x * y]|y=x = 4x (JAX: 12.0)
    assert_close(symgrad.grad(lambda x: symgrad.grad(lambda y: x * y * y)(x))(3.0), np.asarray(12.0))


# ---------------------------------------------------------------- 4. caching

def test_one_trace_per_signature_and_cache_info():
    calls = []

    def f(x, n):
        calls.append(1)
        return (x ** n).sum()

    g = symgrad.grad(f)
    x = np.array([1.0, 2.0])
    for _ in range(3):
        assert_close(g(x, 2), 2 * x)
    assert len(calls) == 1
    assert g.cache_info() == (2, 1, 64, 1)
    assert_close(g(x + 1, 2), 2 * (x + 1))          # same signature, new values: a hit
    assert len(calls) == 1
    g(np.ones(3), 2)                                 # new shape
    g(np.ones(3, np.float32), 2)                     # new dtype
    assert_close(g(x, 3), 3 * x ** 2)                # new static value
    assert len(calls) == 4
    info = g.cache_info()
    assert (info.misses, info.currsize) == (4, 4) and info.hits == 3
    g(np.ones(3, np.float32), 2)
    assert g.cache_info().hits == 4 and len(calls) == 4


def test_explain_retraces_logs_which_argument_changed(caplog):
    assert "SYMGRAD_EXPLAIN_RETRACES" in symgrad.explain_retraces.__doc__
    def model(weights, x, mode):
        return np.tanh(x @ weights).sum() if mode == "tanh" else (x @ weights).sum()

    f = symgrad.compile(model, static_argnums=2)
    w, x = np.ones((3, 2)), np.ones((4, 3))
    caplog.set_level(logging.WARNING, logger="symgrad")
    symgrad.explain_retraces(True)
    try:
        f(w, x, "tanh")
        assert not caplog.records  # a first trace is not a retrace
        f(w, np.ones((5, 3)), "tanh")
        f(w, np.ones((5, 3), np.float32), "tanh")
        f(w, np.ones((5, 3), np.float32), "linear")
        f(w, np.ones((5, 3), np.float32), "linear")  # cached: nothing logged
    finally:
        symgrad.explain_retraces(False)
    messages = [r.getMessage() for r in caplog.records if r.name == "symgrad"]
    assert len(messages) == 3, messages
    assert re.search(r"model.*'x'.*shape \(4, 3\) -> \(5, 3\)", messages[0])
    assert re.search(r"model.*'x'.*dtype float64 -> float32", messages[1])
    assert re.search(r"model.*'mode'.*'tanh'.*'linear'", messages[2])
    caplog.clear()
    f(w, np.ones((6, 3)), "tanh")  # switched off again
    assert not caplog.records


def test_explain_retraces_names_a_changed_static_int(caplog):
    g = symgrad.grad(lambda x, power: (x ** power).sum())
    caplog.set_level(logging.WARNING, logger="symgrad")
    symgrad.explain_retraces(True)
    try:
        g(np.ones(2), 2)
        g(np.ones(2), 3)
    finally:
        symgrad.explain_retraces(False)
    (message,) = [r.getMessage() for r in caplog.records]
    assert "'power'" in message and "2" in message and "3" in message


def test_compiled_gradient_is_thread_safe():
    calls = []

    def loss(w, x):
        calls.append(1)
        return np.tanh(x @ w).sum()

    g = symgrad.grad(loss)
    inputs = [(RNG.standard_normal((3, 2)), RNG.standard_normal((4, 3))) for _ in range(8)]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(k):
        barrier.wait()  # all eight ask for the first (uncompiled) signature at once
        for _ in range(20):
            results[k] = g(*inputs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (w, x), result in zip(inputs, results):
        assert_close(result, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-12)
    assert len(calls) == 1


# ---------------------------------------------------------------- 5. extension and debugging

cube = symgrad.extend("test_api_cube", lambda x: x ** 3, [lambda ct, ans, x: ct * 3 * x * x])
row_sum = symgrad.extend("test_api_row_sum", lambda x: x.sum(axis=1),
                         [lambda ct, ans, x: ct.reshape(-1, 1) * x.ones_like()], shape=lambda s: s[:1])


def test_extend_op_works_eagerly_traced_and_generated():
    x = np.array([0.5, -1.0, 2.0])
    t = symgrad.tensor(x, requires_grad=True)
    out = cube(t)
    assert_close(out.detach().numpy(), x ** 3)
    out.sum().backward()
    assert_close(t.grad.numpy(), 3 * x ** 2)

    assert "= test_api_cube x" in str(symgrad.trace(lambda x: cube(x), x).graph)
    f = symgrad.compile(lambda x: cube(x) * 2.0)
    assert "op_test_api_cube(x)" in f.source(x)
    assert_close(f(x), 2 * x ** 3)
    assert_close(symgrad.grad(lambda x: np.sin(cube(x)).sum())(x), np.cos(x ** 3) * 3 * x ** 2, rtol=1e-12)


def test_extend_op_is_differentiable_to_second_order():
    assert_close(symgrad.grad(symgrad.grad(cube))(1.5), np.asarray(9.0))
    assert_close(symgrad.hessian(lambda x: cube(x).sum())(np.array([1.0, -2.0])), np.diag([6.0, -12.0]))


def test_extend_op_with_a_shape_rule():
    x = np.arange(6.0).reshape(2, 3)
    assert_close(symgrad.compile(lambda x: row_sum(x) ** 2)(x), x.sum(axis=1) ** 2)
    g = symgrad.grad(lambda x: (row_sum(x) ** 2).sum())(x)
    assert_close(g, 2 * x.sum(axis=1, keepdims=True) * np.ones((2, 3)))
    t = symgrad.tensor(x, requires_grad=True)
    (row_sum(t) ** 2).sum().backward()
    assert_close(t.grad.numpy(), g)


@symgrad.custom_vjp
def clip_gradient(x):
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda residuals, ct: (np.clip(ct, -0.1, 0.1),))


@symgrad.custom_vjp
def log1pexp(x):
    return np.log(1.0 + np.exp(x))


log1pexp.defvjp(lambda x: (np.log(1.0 + np.exp(x)), x),
                lambda x, ct: (ct * (1.0 - 1.0 / (1.0 + np.exp(x))),))


def test_custom_vjp_clips_the_gradient_compiled_and_eager():
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        return (clip_gradient(x) * np.array([5.0, 0.05, -3.0])).sum()

    assert_close(symgrad.grad(f)(x), np.array([0.1, 0.05, -0.1]))
    assert_close(symgrad.compile(f)(x), np.asarray(2.5 - 0.05 - 6.0), rtol=1e-14)
    t = symgrad.tensor(x, requires_grad=True)
    f(t).backward()
    assert_close(t.grad.numpy(), np.array([0.1, 0.05, -0.1]))


def test_custom_vjp_gives_a_stable_log1pexp_gradient():
    x = np.array([1000.0, 0.0, -3.0])
    expected = 1 / (1 + np.exp(-x))
    with np.errstate(over="ignore", invalid="ignore"):
        # why the custom rule is needed: inf / inf, without the canonical softplus that the
        # stability pass makes of log(1 + exp(x))
        naive = symgrad.grad(lambda x: np.log(1.0 + np.exp(x)).sum(), passes=("algebra", "dce"))(x)
        assert np.isnan(naive[0])
        assert_close(symgrad.grad(lambda x: np.log(1.0 + np.exp(x)).sum())(x), expected, rtol=1e-12)
        assert_close(symgrad.grad(lambda x: log1pexp(x).sum())(x), expected, rtol=1e-12)
        t = symgrad.tensor(x, dtype=symgrad.float64, requires_grad=True)
        log1pexp(t).sum().backward()
    assert_close(t.grad.numpy(), expected, rtol=1e-12)


def test_check_grads_passes_on_correct_functions():
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.3, -0.7])
    symgrad.check_grads(lambda x, y: (np.sin(x) * y ** 2).sum(), [x, y], order=2)
    symgrad.check_grads(lambda x: np.tanh(x @ W @ W.T).sum(), [A], order=2)
    symgrad.check_grads(lambda x: log1pexp(x).sum(), [x], order=1)


def test_check_grads_catches_a_wrong_custom_vjp():
    @symgrad.custom_vjp
    def bad_sin(x):
        return np.sin(x)

    bad_sin.defvjp(lambda x: (np.sin(x), x), lambda x, ct: (ct * np.sin(x),))  # should be cos
    with pytest.raises(AssertionError, match="order 1"):
        symgrad.check_grads(lambda x: bad_sin(x).sum(), [np.array([0.5, -1.0, 2.0])], order=1)


def log_of(x):
    return np.log(x).sum()


def sqrt_of(x):
    return (np.sqrt(x) * 3.0).sum()


@pytest.mark.parametrize("transform, fn, op", [
    (symgrad.compile, log_of, "log"),
    (symgrad.compile, sqrt_of, "sqrt"),
    (symgrad.grad, sqrt_of, "sqrt"),
])
def test_debug_nans_names_the_op_and_the_traced_line(transform, fn, op):
    x = np.array([4.0, -1.0])
    f = transform(fn)
    with np.errstate(invalid="ignore"):
        assert np.isnan(f(x)).any()  # off: NaN flows through
        symgrad.debug_nans(True)
        try:
            with pytest.raises(FloatingPointError) as info:
                f(x)
        finally:
            symgrad.debug_nans(False)
        assert np.isnan(f(x)).any()  # off again
    message = str(info.value)
    assert f"'{op}'" in message
    assert re.search(rf"{THIS_FILE}:{body_line(fn)}\b", message), message
    assert f"np.{op}(x)" in message  # the user's line quoted as written


# ---------------------------------------------------------------- 6. control flow

def test_python_control_flow_on_shapes_and_static_ints():
    def f(x, repeats):
        if x.ndim == 2:
            x = np.sum(x, axis=1)
        total = 0.0
        for i in range(x.shape[0]):
            total = total + np.sin(x[i]) * (i + 1)
        for _ in range(repeats):
            total = np.sin(total)
        return total

    g = symgrad.grad(f)
    v = np.array([0.3, 0.5, -0.4])
    for x in (v, np.stack([v, 2 * v], axis=1)):
        for repeats in (0, 2):
            assert_close(g(x, repeats), numeric_grad(lambda x_, r=repeats: f(x_, r), x), atol=1e-9)
    assert g.cache_info().misses == 4


def branch_on_value(x):
    if x.sum() > 0:
        return x.sum()
    return -x.sum()


def to_float(x):
    return float(x.sum())


def to_item(x):
    return x.sum().item()


def to_bool(x):
    return bool(x[0])


def to_int(x):
    return int(x.sum())


@pytest.mark.parametrize("fn, what", [(branch_on_value, r"bool\(\)"), (to_float, r"float\(\)"),
                                      (to_item, r"\.item\(\)"), (to_bool, r"bool\(\)"), (to_int, r"int\(\)")])
def test_concrete_use_of_a_traced_value_names_the_line(fn, what):
    for transform in (symgrad.grad, symgrad.compile):
        with pytest.raises(symgrad.TracerError, match=what) as info:
            transform(fn)(np.ones(3))
        message = str(info.value)
        assert re.search(rf"{THIS_FILE}:{body_line(fn)}\b", message), message
        assert "symgrad.where" in message
    assert issubclass(symgrad.TracerError, TypeError)


# ---------------------------------------------------------------- 7. generated code

def mlp_loss(weights, inputs, targets):
    pred = np.tanh(inputs @ weights)
    return np.mean((pred - targets) ** 2)


MLP_ARGS = (np.ones((4, 2)), np.ones((5, 4)), np.zeros((5, 2)))

DETERMINISM_SCRIPT = textwrap.dedent("""
    import numpy as np, symgrad

    def mlp_loss(weights, inputs, targets):
        pred = np.tanh(inputs @ weights)
        return np.mean((pred - targets) ** 2)

    args = (np.ones((4, 2)), np.ones((5, 4)), np.zeros((5, 2)))
    if __name__ == "__main__":
        print(symgrad.grad(mlp_loss, argnums=(0, 2)).source(*args), end="")
""")


def test_generated_source_is_byte_identical_across_builds_and_processes(tmp_path):
    script = tmp_path / "determinism.py"  # one file, so that the origin comments quote the same lines
    script.write_text(DETERMINISM_SCRIPT)
    loaded = runpy.run_path(str(script))
    in_process = [symgrad.grad(loaded["mlp_loss"], argnums=(0, 2)).source(*loaded["args"]) for _ in range(2)]
    assert in_process[0] == in_process[1]
    assert "# determinism.py:5  pred = np.tanh(inputs @ weights)" in in_process[0]
    for seed in ("0", "12345"):
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, timeout=60, check=True)
        assert run.stdout == in_process[0]


def test_generated_source_reads_like_code():
    source = symgrad.grad(mlp_loss).source(*MLP_ARGS)
    lines = source.splitlines()
    assert lines[0] == ("# symgrad gradient of mlp_loss(weights: f64[4,2], inputs: f64[5,4], "
                        "targets: f64[5,2]) with respect to weights")
    module = ast.parse(source)
    (fn,) = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    assert fn.name == "grad_mlp_loss"
    assert [a.arg for a in fn.args.args] == ["weights", "inputs", "targets"]
    assert all(stmt.lineno == stmt.end_lineno for stmt in fn.body)           # one statement a line
    assert len({stmt.lineno for stmt in fn.body}) == len(fn.body)
    assert not any(";" in line for line in lines if not line.lstrip().startswith("#"))
    assert isinstance(fn.body[-1], ast.Return)


def test_source_method_of_each_transform():
    x = np.array([0.5, 1.5])
    f = lambda x: np.sin(x).sum()  # noqa: E731
    assert "from numpy import sin" in symgrad.compile(f).source(x)
    assert " = sin(x)" in symgrad.compile(f).source(x)
    assert " = cos(x)" in symgrad.grad(f).source(x)
    assert "def value_and_grad_" in symgrad.value_and_grad(f).source(x)
    assert "def jacobian_" in symgrad.jacobian(lambda x: np.sin(x)).source(x)
    _, pullback = symgrad.vjp(lambda x: np.sin(x), x)
    assert "cos(x)" in pullback.source(np.ones(2))
    for source in (symgrad.hessian(f).source(x), pullback.source(np.ones(2))):
        ast.parse(source)


def test_traceback_inside_generated_code_shows_the_generated_line():
    def log_loss(x):
        return np.log(x).sum()

    f = symgrad.compile(log_loss)
    x = np.array([-1.0, 2.0])
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError) as info:
        f(x)
    frame = traceback.extract_tb(info.tb)[-1]
    assert frame.filename.startswith("<symgrad:log_loss:")
    assert "log(x)" in frame.line
    assert "".join(linecache.getlines(frame.filename)) == f.source(x)
    assert "log(x)" in "".join(traceback.format_exception(info.value))


UNSAFE_KEYS = ["my key; import os", "class", "0th", "a\nimport os", "__import__('os')", "np"]


def test_user_strings_never_reach_the_source_raw():
    params = {key: np.full(2, float(k + 1)) for k, key in enumerate(UNSAFE_KEYS)}

    def weird_loss(params):
        return sum((params[key] ** 2).sum() for key in UNSAFE_KEYS)

    g = symgrad.grad(weird_loss)
    source = g.source(params)
    module = ast.parse(source)
    imports = [node for node in ast.walk(module) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["numpy"]
    for key in UNSAFE_KEYS:
        if re.search(r"\W", key):  # not even part of an identifier
            assert key not in source
    assert "import os" not in source and "'os'" not in source
    (fn,) = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    assert not {"class", "np"} & {a.arg for a in fn.args.args}  # a keyword, or shadowing numpy
    grads = g(params)
    assert set(grads) == set(UNSAFE_KEYS)
    for key in UNSAFE_KEYS:
        assert_close(grads[key], 2 * params[key])


def test_function_name_with_newline_stays_in_a_comment():
    def f(x):
        return (x * 2.0).sum()

    f.__name__ = "evil\nimport os"
    source = symgrad.compile(f).source(np.ones(2))
    imports = [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["numpy"]
    assert_close(symgrad.compile(f)(np.ones(2)), np.asarray(4.0))


def scatter_add_user(scatter_add):
    return (scatter_add[np.array([0, 0, 2])] ** 2).sum()


def cube_user(op_test_api_cube):
    return cube(op_test_api_cube).sum()


@pytest.mark.parametrize("fn, expected", [
    (scatter_add_user, np.array([2.0, 0.0, 4.0])),   # the kernel integer-array indexing's gradient calls
    (cube_user, np.array([0.75, 3.0, 12.0])),       # the helper an extended op's forward is bound to
])
def test_argument_names_do_not_shadow_names_the_generated_code_uses(fn, expected):
    x = np.array([0.5, -1.0, 2.0])
    assert_close(symgrad.grad(fn)(x), expected)
    assert_close(symgrad.compile(fn)(x), np.asarray(fn(x)))


# ---------------------------------------------------------------- 8. random programs

UNARY = {
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "exp_of_bounded": lambda v: np.exp(np.tanh(v)),
    "log_of_positive": lambda v: np.log(1.0 + v * v),
    "neg": lambda v: -v,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + b * b),  # denominator >= 1.5
}


@st.composite
def expressions(draw, depth, nargs):
    """A tree of exactly `depth` op levels over ("arg", i) and ("const", c) leaves."""
    if depth == 0:
        i = draw(st.integers(0, nargs))
        return ("arg", i) if i < nargs else ("const", draw(st.sampled_from([0.5, -1.25, 2.0])))
    if draw(st.booleans()):
        return (draw(st.sampled_from(sorted(UNARY))), draw(expressions(depth - 1, nargs)))
    right_depth = draw(st.integers(0, min(depth - 1, 2)))
    left, right = draw(expressions(depth - 1, nargs)), draw(expressions(right_depth, nargs))
    if draw(st.booleans()):
        left, right = right, left
    return (draw(st.sampled_from(sorted(BINARY))), left, right)


@st.composite
def programs(draw):
    """(expression, input arrays): shapes broadcastable against one full shape."""
    full = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    nargs = draw(st.integers(1, 3))
    shapes = []
    for _ in range(nargs):
        lead = draw(st.integers(0, len(full)))
        shapes.append(tuple(1 if draw(st.booleans()) else n for n in full[lead:]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    inputs = [rng.uniform(-1.5, 1.5, shape) for shape in shapes]
    weights = rng.uniform(0.5, 1.5, tuple(full))
    return draw(expressions(draw(st.integers(2, 5)), nargs)), inputs, weights


def evaluate(tree, xs):
    kind = tree[0]
    if kind == "arg":
        return xs[tree[1]]
    if kind == "const":
        return tree[1]
    if kind in UNARY:
        return UNARY[kind](evaluate(tree[1], xs))
    return BINARY[kind](evaluate(tree[1], xs), evaluate(tree[2], xs))


@settings(max_examples=40, deadline=None, report_multiple_bugs=False)
@given(programs())
def test_random_programs_compiled_equals_eager_equals_finite_differences(program):
    tree, inputs, weights = program

    def loss(*xs):
        return ((evaluate(tree, xs) + 0.5 * xs[0]) * weights).sum()

    compiled = symgrad.grad(loss, argnums=tuple(range(len(inputs))))(*inputs)

    tensors = [symgrad.tensor(x, dtype=symgrad.float64, requires_grad=True) for x in inputs]
    loss(*tensors).backward()
    eager = [np.zeros_like(x) if t.grad is None else t.grad.numpy() for x, t in zip(inputs, tensors)]

    for k, x in enumerate(inputs):
        def along(v, k=k):
            return loss(*inputs[:k], v, *inputs[k + 1:])
        assert_close(compiled[k], eager[k], rtol=1e-10, atol=1e-12)
        assert_close(compiled[k], numeric_grad(along, x), rtol=1e-6, atol=1e-7)


Layer = namedtuple("Layer", "W b")


@pytest.mark.parametrize("params", [
    Layer(np.arange(4.0).reshape(2, 2) / 4, np.array([0.1, -0.2])),
    OrderedDict([("b", np.array([0.1, -0.2])), ("W", np.arange(4.0).reshape(2, 2) / 4)]),
    {"W": np.arange(4.0).reshape(2, 2) / 4, "b": np.array([0.1, -0.2]), "prior": None},
    [Layer(np.arange(4.0).reshape(2, 2) / 4, np.array([0.1, -0.2])), None],
], ids=["namedtuple", "OrderedDict", "dict with None", "list of namedtuple and None"])
def test_pytrees_as_jax_has_them_come_back_in_their_own_type(params):
    """namedtuples stay namedtuples (their fields readable inside fn), an OrderedDict keeps its
    order, None is a tree without leaves: the gradient has the argument's structure."""
    def f(p, x):
        W, b = _weights(p)
        return np.sum(np.tanh(x @ W + b))

    x = np.array([0.5, -1.5])
    grad = symgrad.grad(f)(params, x)
    assert type(grad) is type(params)
    if isinstance(params, OrderedDict):
        assert list(grad) == list(params)
    dW, db = differences(lambda W, b: f(Layer(W, b), x), list(_weights(params)), [0, 1])
    got_W, got_b = _weights(grad)
    np.testing.assert_allclose(got_W, dW, atol=1e-7)
    np.testing.assert_allclose(got_b, db, atol=1e-7)


def _weights(p):
    """(W, b) of any of the structures above."""
    q = p[0] if isinstance(p, list) else p
    return (q.W, q.b) if isinstance(q, Layer) else (q["W"], q["b"])


def test_a_namedtuple_output_keeps_its_type():
    out = symgrad.compile(lambda p: Layer(p.W * 2, None))(Layer(np.ones(2), np.ones(1)))
    assert isinstance(out, Layer) and out.b is None
    np.testing.assert_array_equal(out.W, [2.0, 2.0])
