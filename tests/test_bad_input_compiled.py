"""The compiled face refuses bad input as JAX does, and a refused call does no damage.

Every entry point (`compile`, `grad`, `value_and_grad`, `elementwise_grad`, `jacobian`,
`jacfwd`, `jacrev`, `hessian`, `hvp`, `vjp`, `jvp`, `linearize`) is called with each kind of
bad input that applies to it: leaves that cannot be traced (str, object, datetime, arrays of
strings, bytes, objects or datetimes), integer, boolean and complex differentiated inputs,
outputs that are not a real scalar, bad `argnums` and `static_argnums`, cotangents and
tangents of the wrong structure, shape or dtype. Each raises the exception JAX raises (checked
against JAX when it is importable; the symgrad message names the function, the argument and
the leaf), and the transform's cache, counts and next good call are as they were.
Good but unusual inputs (non-contiguous, read-only, 0-d, empty, NaN) give the closed form and
are never written to. Structures of results (`argnums` spellings, `has_aux`) are JAX's.
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest

import symgrad
from symgrad.tracing import pytree

X = np.array([0.5, -1.0, 2.0])


def scalar_fn(d):
    return (d["a"] * d["a"]).sum() * 0.5


def vector_fn(d):
    return d["a"] * d["a"] * 0.5


# entry point -> (how to call it on a library (symgrad or jax) with a function of `d`,
#                 whether it differentiates (refuses integer inputs), whether JAX has it)
def _grad_like(name, jax_name=None):
    def call(lib, fn, args, **kw):
        return getattr(lib, jax_name if lib is not symgrad and jax_name else name)(fn, **kw)(*args)
    return call


def _hvp(lib, fn, args, **kw):
    return symgrad.hvp(fn, **kw)(*args, args[0])


def _compile(lib, fn, args, **kw):
    return (symgrad.compile if lib is symgrad else lib.jit)(fn, **kw)(*args)


def _vjp(lib, fn, args, **kw):
    out, pullback = lib.vjp(fn, *args)
    return pullback(out)


def _jvp(lib, fn, args, **kw):
    return lib.jvp(fn, tuple(args), tuple(args))


def _linearize(lib, fn, args, **kw):
    out, f_jvp = lib.linearize(fn, *args)
    return f_jvp(*args)


ENTRIES = {  # name: (call, output kind, differentiates, in JAX)
    "grad": (_grad_like("grad"), "scalar", True, True),
    "value_and_grad": (_grad_like("value_and_grad"), "scalar", True, True),
    "elementwise_grad": (_grad_like("elementwise_grad"), "vector", True, False),
    "hvp": (_hvp, "scalar", True, False),
    "hessian": (_grad_like("hessian"), "scalar", True, True),
    "jacobian": (_grad_like("jacobian", "jacrev"), "vector", True, True),
    "jacfwd": (_grad_like("jacfwd"), "vector", True, True),
    "jacrev": (_grad_like("jacrev"), "vector", True, True),
    "compile": (_compile, "vector", False, True),
    "vjp": (_vjp, "vector", False, True),
    "jvp": (_jvp, "vector", False, True),
    "linearize": (_linearize, "vector", False, True),
}

NOW = datetime.datetime(2026, 1, 1)
# bad argument d -> (exception, symgrad message, differentiating entries only, JAX agrees)
BAD_INPUTS = {
    "str leaf": ({"a": X, "b": "text"}, TypeError, r"argument 'd' leaf \['b'\] is str, expected an array",
                 False),
    "object leaf": ({"a": X, "b": object()}, TypeError, r"argument 'd' leaf \['b'\] is object", False),
    "datetime leaf": ({"a": X, "b": NOW}, TypeError, r"argument 'd' leaf \['b'\] is datetime", False),
    "str in a nested list": ({"a": X, "b": [1.0, "text"]}, TypeError, r"leaf \['b'\]\[1\] is str", False),
    "str argument": ("text", TypeError, r"argument 'd' is str, expected an array or a number", False),
    "object array": ({"a": np.array([1.0, "x"], dtype=object)}, TypeError,
                     r"leaf \['a'\] is an array of dtype object", False),
    "string array": ({"a": np.array(["x", "y"])}, TypeError, r"leaf \['a'\] is an array of dtype <U1", False),
    "bytes array": ({"a": np.array([b"xy"])}, TypeError, r"leaf \['a'\] is an array of dtype \|S2", False),
    "datetime64 array": ({"a": np.array(["2020-01-01"], dtype="datetime64[D]")}, TypeError,
                         r"leaf \['a'\] is an array of dtype datetime64\[D\]", False),
    "int array": ({"a": np.arange(3)}, TypeError,
                  r"leaf \['a'\] is int64: \w+ requires real-valued inputs .* set allow_int to True", True),
    "bool array": ({"a": np.array([True, False])}, TypeError, r"leaf \['a'\] is bool: \w+ requires real",
                   True),
    "Python int": ({"a": 3}, TypeError, r"leaf \['a'\] is a Python int, which is static", True),
}


def _bad_input_cases():
    for entry, (_, _, differentiates, _) in ENTRIES.items():
        for bad, (_, _, _, only_differentiating) in BAD_INPUTS.items():
            if differentiates or not only_differentiating:
                yield pytest.param(entry, bad, id=f"{entry}-{bad}")


def _fn(entry):
    return scalar_fn if ENTRIES[entry][1] == "scalar" else vector_fn


@pytest.mark.parametrize("entry, bad", list(_bad_input_cases()))
def test_a_bad_input_is_refused_naming_the_argument_and_leaf(entry, bad):
    call = ENTRIES[entry][0]
    arg, exc, message, _ = BAD_INPUTS[bad]
    with pytest.raises(exc, match=message):
        call(symgrad, _fn(entry), [arg])


@pytest.mark.parametrize("entry, bad", [p for p in _bad_input_cases() if ENTRIES[p.values[0]][3]])
def test_jax_raises_the_same_exception_for_the_bad_input(entry, bad):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    arg, exc, _, _ = BAD_INPUTS[bad]
    if bad in ("object array", "datetime64 array", "string array", "bytes array") or \
            (bad == "Python int" and ENTRIES[entry][2] and entry not in ("grad", "value_and_grad")):
        # JAX refuses these as well, each with an exception of its own that it documents
        # (a jacfwd of a Python int is a TypeError too, through its dtype check)
        with pytest.raises((TypeError, ValueError)):
            ENTRIES[entry][0](jax, _fn(entry), [arg])
        return
    with pytest.raises(exc):
        ENTRIES[entry][0](jax, _fn(entry), [arg])


def test_complex_inputs_are_refused_with_advice():
    """JAX differentiates complex inputs (holomorphic or not); symgrad's generated code is
    real-valued, so it refuses them clearly rather than drop the imaginary part."""
    for entry in ENTRIES:
        with pytest.raises(TypeError, match="complex.*real and imaginary parts as two real arrays"):
            ENTRIES[entry][0](symgrad, _fn(entry), [{"a": X + 1j}])


def test_allow_int_gives_zeros_of_the_input_shape():
    def f(x, n):
        return (x * n).sum()
    n = np.arange(3)
    gx, gn = symgrad.grad(f, argnums=(0, 1), allow_int=True)(X, n)
    np.testing.assert_array_equal(gx, n.astype(float))
    assert gn.shape == n.shape and gn.dtype == np.float64 and not gn.any()
    value, (gx, gn) = symgrad.value_and_grad(f, argnums=(0, 1), allow_int=True)(X, n)
    assert value == pytest.approx((X * n).sum()) and gn.shape == (3,) and not gn.any()
    # an integer argument that is not differentiated needs no allow_int, as in JAX
    np.testing.assert_array_equal(symgrad.grad(f)(X, n), n.astype(float))


# ---------------------------------------------------------------- outputs, argnums

BAD_OUTPUTS = {  # function of d -> (exception, symgrad message)
    "None": (lambda d: None, "returned None"),
    "str": (lambda d: "text", "returned str 'text'"),
    "Python int": (lambda d: 3, r"requires real-valued outputs .* but got int64"),
    "int array": (lambda d: d["a"].astype(np.int64).sum(), r"requires real-valued outputs .* but got int64"),
    "bool": (lambda d: (d["a"] > 0).all(), r"requires real-valued outputs .* but got bool"),
    "non-scalar": (lambda d: d["a"] * 2.0, r"requires a scalar output, got shape \(3,\); use "
                   r"symgrad.vjp or symgrad.jacobian for non-scalar outputs"),
    "tuple": (lambda d: (d["a"].sum(), d["a"].sum()), "returned a tuple"),
}
SCALAR_ENTRIES = ["grad", "value_and_grad", "hvp", "hessian"]


@pytest.mark.parametrize("entry", SCALAR_ENTRIES)
@pytest.mark.parametrize("bad", BAD_OUTPUTS)
def test_an_output_that_is_not_a_real_scalar_is_a_type_error(entry, bad):
    with pytest.raises(TypeError, match=BAD_OUTPUTS[bad][1]):
        ENTRIES[entry][0](symgrad, BAD_OUTPUTS[bad][0], [{"a": X}])
    if entry in ("grad", "value_and_grad"):  # JAX's hessian is jacfwd(jacrev): no scalar check
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        with pytest.raises(TypeError):
            ENTRIES[entry][0](jax, BAD_OUTPUTS[bad][0], [{"a": jax.numpy.asarray(X)}])


ARGNUM_ENTRIES = ["grad", "value_and_grad", "hessian", "jacobian", "jacfwd", "jacrev", "hvp"]
# JAX's exceptions: too few arguments for grad's argnums is a TypeError, for the Jacobians' a
# ValueError, as is a negative index out of range
GRAD_RANGE = {"grad": TypeError, "value_and_grad": TypeError, "hvp": TypeError}
BAD_ARGNUMS = {  # argnums -> (exception, symgrad message)
    "empty": ((), ValueError, r"argnums=\(\) differentiates with respect to nothing"),
    "out of range": (5, None, "argnums 5 is out of range for 1 arguments"),
    "negative out of range": (-3, ValueError, "argnums -3 is out of range for 1 arguments"),
    "a string": ("a", TypeError, "argnums must be an int or a tuple of ints, got 'a'"),
    "floats": ((0.0,), TypeError, r"argnums must be an int or a tuple of ints, got \(0.0,\)"),
}


@pytest.mark.parametrize("entry", ARGNUM_ENTRIES)
@pytest.mark.parametrize("bad", BAD_ARGNUMS)
def test_bad_argnums(entry, bad):
    argnums, exc, message = BAD_ARGNUMS[bad]
    exc = exc or GRAD_RANGE.get(entry, ValueError)
    with pytest.raises(exc, match=message):
        ENTRIES[entry][0](symgrad, _fn(entry), [{"a": X}], argnums=argnums)
    if ENTRIES[entry][3] and bad in ("empty", "out of range", "negative out of range"):
        jax = pytest.importorskip("jax")
        with pytest.raises(exc):
            ENTRIES[entry][0](jax, _fn(entry), [{"a": jax.numpy.asarray(X)}], argnums=argnums)


@pytest.mark.parametrize("entry", ["compile", "grad", "value_and_grad"])
def test_static_argnums_beyond_the_arguments_is_a_value_error(entry):
    fn = _fn(entry)
    with pytest.raises(ValueError, match=r"static_argnums=\(5,\) but the call has 1 positional argument"):
        (symgrad.compile(fn, static_argnums=5) if entry == "compile"
         else getattr(symgrad, entry)(fn, static_argnums=5))({"a": X})
    jax = pytest.importorskip("jax")
    inner = fn if entry == "compile" else getattr(jax, entry)(fn)
    with pytest.raises(ValueError):
        jax.jit(inner, static_argnums=5)({"a": jax.numpy.asarray(X)})


# ---------------------------------------------------------------- cotangents and tangents

def pair(a):
    return a * 2.0, a * 3.0


BAD_COTANGENTS = {  # (function, cotangent) -> (exception, message)
    "list for a tuple": (pair, [X, X], ValueError, r"got list\(\*, \*\), expected tuple\(\*, \*\)"),
    "one of two": (pair, (X,), ValueError, r"got tuple\(\*\), expected tuple\(\*, \*\)"),
    "stacked": (pair, np.stack([X, X]), ValueError, r"got \*, expected tuple\(\*, \*\)"),
    "None": (pair, None, ValueError, r"got None, expected tuple\(\*, \*\)"),
    "tuple for an array": (np.sin, (X,), ValueError, r"got tuple\(\*\), expected \*"),
    "wrong shape": (np.sin, X[:2], ValueError, r"cotangent shape \(2,\) does not match output shape \(3,\)"),
    "wrong leaf shape": (pair, (X, X[:2]), ValueError, r"does not match output leaf \[1\] shape \(3,\)"),
    "int for float": (np.sin, np.arange(3), ValueError,
                      "cotangent of the output is int64, expected a floating"),
    "str": (np.sin, "text", TypeError, "argument 'cotangent' is str"),
}


@pytest.mark.parametrize("bad", BAD_COTANGENTS)
def test_a_vjp_cotangent_must_have_the_output_structure_shape_and_kind(bad):
    fn, ct, exc, message = BAD_COTANGENTS[bad]
    _, pullback = symgrad.vjp(fn, X)
    with pytest.raises(exc, match=message):
        pullback(ct)
    jax = pytest.importorskip("jax")
    _, pullback = jax.vjp(lambda a: fn(a) if fn is pair else jax.numpy.sin(a), jax.numpy.asarray(X))
    with pytest.raises(exc):
        pullback(ct)


def test_a_vjp_of_a_tuple_output_keeps_the_tuple():
    """JAX's structure: the primal output is the tuple, the pullback takes a tuple of
    cotangents and gives one gradient per primal."""
    out, pullback = symgrad.vjp(pair, X)
    assert type(out) is tuple and len(out) == 2
    np.testing.assert_allclose(out[1], 3 * X)
    (g,) = pullback((np.ones(3), np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(g, 2 + 3 * np.array([1.0, 2.0, 3.0]))
    out, pullback = symgrad.vjp(lambda a, b: {"s": a * b[0], "t": b * 2.0}, X, X[:2])
    ga, gb = pullback({"s": np.ones(3), "t": np.ones(2)})
    np.testing.assert_allclose(ga, np.full(3, X[0]))
    np.testing.assert_allclose(gb, [X.sum() + 2.0, 2.0])


BAD_TANGENTS = {  # tangent of X -> (exception, message)
    "wrong shape": (X[:2], ValueError, r"tangent 'a' has shape \(2,\), but the primal has shape \(3,\)"),
    "a tuple": ((X,), TypeError, "must have the structure of the primal"),
    "float32": (X.astype(np.float32), TypeError, "has dtype float32, but the primal has dtype float64"),
}


@pytest.mark.parametrize("bad", BAD_TANGENTS)
def test_a_jvp_tangent_must_match_its_primal(bad):
    tangent, exc, message = BAD_TANGENTS[bad]

    def f(a):
        return a * 2.0
    with pytest.raises(exc, match=message):
        symgrad.jvp(f, (X,), (tangent,))
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    with pytest.raises(exc):
        jax.jvp(f, (jax.numpy.asarray(X),), (tangent,))


# ---------------------------------------------------------------- a refused call does no damage

TRANSFORMS = ["compile", "grad", "value_and_grad", "elementwise_grad", "jacobian", "jacfwd", "jacrev",
              "hessian"]


def _raising(d):
    if d["a"].shape == (4,):
        raise ZeroDivisionError("the user's function failed")
    return (d["a"] * d["a"]).sum() * 0.5


FAILURES = {  # a call of the transform that fails, and why
    "user function raises": ({"a": np.ones(4)}, ZeroDivisionError),
    "bad leaf": ({"a": X, "b": "text"}, TypeError),
    "another structure with a bad leaf": ([X, object()], TypeError),
    "int input": ({"a": np.arange(3)}, TypeError),
    "shape error in the function": ({"a": np.ones((2, 2, 2))}, None),
}


@pytest.mark.parametrize("name, failure", [(n, f) for n in TRANSFORMS for f in FAILURES
                                           if (n, f) != ("compile", "int input")])  # compile takes ints
def test_a_failed_call_leaves_cache_counts_and_next_call_as_they_were(name, failure):
    def fn(d):
        out = _raising(d)
        if d["a"].ndim == 3:
            return d["a"] @ np.ones(5)  # matmul of mismatched shapes: a ValueError while tracing
        return out if name in ("grad", "value_and_grad", "hessian") else d["a"] * out
    transform = getattr(symgrad, name)(fn)
    good = {"a": X}
    first = transform(good)
    info = transform.cache_info()
    arg, exc = FAILURES[failure]
    for _ in range(2):
        with pytest.raises(exc or ValueError):
            transform(arg)
        assert transform.cache_info() == info
    again = transform({"a": X.copy()})
    assert pytree.flatten(again)[1] == pytree.flatten(first)[1]
    for a, b in zip(pytree.flatten(first)[0], pytree.flatten(again)[0]):
        np.testing.assert_array_equal(a, b)
    assert transform.cache_info() == info._replace(hits=info.hits + 1)


# ---------------------------------------------------------------- unusual good inputs

def _views():
    base = np.arange(24.0).reshape(4, 6) / 7 - 1
    readonly = base.copy()
    readonly.flags.writeable = False
    return {
        "non-contiguous": base[:, ::2],
        "transposed": base.T,
        "negative strides": base[::-1, ::-1],
        "read-only": readonly,
        "0-d": np.array(0.75),
        "empty": np.zeros((0, 3)),
        "NaN": np.array([np.nan, 1.0, -2.0]),
    }


@pytest.mark.parametrize("kind", list(_views()))
def test_unusual_arrays_give_the_closed_form_and_are_never_written(kind):
    x = _views()[kind]
    before = x.copy()

    def f(x):
        x = x * 1.0
        x += 1.0  # the function writes into its (traced) argument: never into the caller's array
        return (np.sin(x) * x).sum()
    expected = np.cos(x + 1.0) * (x + 1.0) + np.sin(x + 1.0)
    for transform in (symgrad.grad(f), symgrad.value_and_grad(f)):
        for _ in range(2):  # the traced call, then the generated caller
            got = transform(x)
            g = got[1] if isinstance(got, tuple) else got
            assert g.shape == x.shape
            np.testing.assert_allclose(g, expected, rtol=1e-13, atol=1e-14)
            np.testing.assert_array_equal(x, before)
    (jac,) = [symgrad.jacobian(lambda x: x * x)(x)]
    assert jac.shape == x.shape * 2
    if kind == "NaN":
        assert np.isnan(symgrad.grad(f)(x)[0]) and not np.isnan(symgrad.grad(f)(x)[1:]).any()


def test_grad_of_a_sum_over_an_empty_array_is_an_empty_array():
    g = symgrad.grad(lambda x: x.sum())(np.zeros((0, 4)))
    assert g.shape == (0, 4) and g.dtype == np.float64


# ---------------------------------------------------------------- structures, as JAX returns them

def two_args(a, b, aux):
    value = np.sin(a).sum() * (b ** 2).sum()
    auxes = {"tuple": (a * 2.0, b), "dict": {"p": a * 2.0, "q": b}, "None": None, "array": a * 2.0}
    return (value, auxes[aux]) if aux else value


def _shape_tree(r):
    """A result's structure and shapes, as a string: t(A(3,),A(2,))."""
    if isinstance(r, (tuple, list)):
        return type(r).__name__[0] + "(" + ",".join(_shape_tree(x) for x in r) + ")"
    if isinstance(r, dict):
        return "{" + ",".join(f"{k}:{_shape_tree(v)}" for k, v in r.items()) + "}"
    return "None" if r is None else f"A{tuple(np.shape(r))}"


AUX = {"tuple": "t(A(3,),A(2,))", "dict": "{p:A(3,),q:A(2,)}", "None": "None", "array": "A(3,)"}


def _documented(kind, argnums, aux):
    """JAX's documented structure: a gradient per argnum (a tuple for a sequence of argnums),
    (grad, aux) with has_aux; value_and_grad: (value, grad) or ((value, aux), grad); a
    Jacobian has out.shape + arg.shape, here out is a scalar."""
    shapes = {0: "A(3,)", 1: "A(2,)"}
    g = shapes[argnums] if isinstance(argnums, int) else "t(" + ",".join(shapes[i] for i in argnums) + ")"
    if kind == "value_and_grad":
        return f"t(t(A(),{AUX[aux]}),{g})" if aux else f"t(A(),{g})"
    return f"t({g},{AUX[aux]})" if aux else g


@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "jacobian", "jacfwd", "jacrev"])
@pytest.mark.parametrize("argnums", [0, 1, (0,), (0, 1), [0, 1], (1, 0)], ids=str)
@pytest.mark.parametrize("aux", [None, "tuple", "dict", "None", "array"])
def test_result_structure_is_jaxs(kind, argnums, aux):
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5])
    kw = {"has_aux": True} if aux else {}
    transform = getattr(symgrad, kind)(lambda a, b: two_args(a, b, aux), argnums=argnums, **kw)
    for _ in range(2):  # the traced call, then the generated caller
        got = transform(x, y)
        assert _shape_tree(got) == _documented(kind, argnums, aux)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jax_fn(a, b):
        value = jnp.sin(a).sum() * (b ** 2).sum()
        auxes = {"tuple": (a * 2.0, b), "dict": {"p": a * 2.0, "q": b}, "None": None, "array": a * 2.0}
        return (value, auxes[aux]) if aux else value
    want = getattr(jax, {"jacobian": "jacrev"}.get(kind, kind))(jax_fn, argnums=argnums, **kw)(x, y)
    assert _shape_tree(got) == _shape_tree(want)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("argnums", [0, (0,), (0, 1)], ids=str)
def test_hessian_structure_nests_per_argnum(argnums):
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5])
    got = symgrad.hessian(lambda a, b: two_args(a, b, None), argnums=argnums)(x, y)
    want = {0: "A(3, 3)", (0,): "t(t(A(3, 3)))", (0, 1): "t(t(A(3, 3),A(3, 2)),t(A(2, 3),A(2, 2)))"}
    assert _shape_tree(got) == want[argnums]
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    ref = jax.hessian(lambda a, b: jnp.sin(a).sum() * (b ** 2).sum(), argnums=argnums)(x, y)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "jacobian"])
@pytest.mark.parametrize("empty", [(), {}, []], ids=repr)
def test_an_argument_with_no_leaves_has_that_empty_structure_as_gradient(kind, empty):
    """As JAX: the gradient with respect to an empty pytree is that empty pytree."""
    result = getattr(symgrad, kind)(lambda e, y: (y * y).sum(), argnums=(0, 1))(empty, X)
    grads = result[1] if kind == "value_and_grad" else result
    assert grads[0] == empty
    np.testing.assert_allclose(grads[1], 2 * X)
    alone = getattr(symgrad, kind)(lambda e: 1.0)(empty)
    assert (alone[1] if kind == "value_and_grad" else alone) == empty


def test_a_dtype_returned_from_a_compiled_function_is_a_type_error():
    with pytest.raises(TypeError, match="dtype.*expected an array or a number"):
        symgrad.compile(lambda x: np.result_type(x))(X)
