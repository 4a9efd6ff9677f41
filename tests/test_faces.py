"""Two semantics, never mixed: a traced value is an ndarray, an eager Tensor a torch.Tensor.

The walk takes every public name that both `np.ndarray` and `torch.Tensor` have, and calls
it in each way a user might (no argument, an axis, a keyword, NumPy's and PyTorch's
spellings). Every call NumPy accepts is made on a traced value (the result compared with
NumPy's, the gradient with finite differences of the NumPy call); every call PyTorch
accepts is made on an eager Tensor (value and gradient compared with PyTorch's). A call
one library refuses is not made on that face. A name both have and symgrad lacks fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.tracing.tracer import Tracer

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.permutation(24).reshape(4, 6) / 7.0 - 1.5  # distinct values: no ties at max, sort...

# Names whose use needs a concrete value or changes the array in place: a traced value
# cannot give them (each raises a clear error instead, see the tests below).
CONCRETE = {"item", "tolist", "nonzero", "put", "resize", "sort", "data", "device"}
# Attributes compared by value, not called.
ATTRIBUTES = {"T", "mT", "shape", "ndim", "size", "dtype", "itemsize", "nbytes", "real", "imag"}

# Calls tried on every method: NumPy's spellings, then PyTorch's.
COMMON = [((), {}), ((0,), {}), ((-1,), {}), ((1,), {}), ((), {"axis": 0}),
          ((), {"axis": -1, "keepdims": True}), ((), {"axis": (0, 1)}), ((), {"ddof": 1}),
          ((), {"axis": 1, "ddof": 1, "keepdims": True}), ((), {"dim": 0}),
          ((), {"dim": -1, "keepdim": True}), ((), {"dim": (0, 1)}), ((), {"correction": 0}),
          ((), {"unbiased": False}), ((1,), {"keepdim": True}), ((0, True), {})]
# Further calls for methods that need arguments.
EXTRA: dict[str, list[tuple[tuple, dict]]] = {
    "reshape": [((6, 4), {}), (((-1,),), {}), ((3, -1), {}), (((2, 12),), {})],
    "view": [((6, 4), {}), ((-1,), {})],
    "clip": [((-0.45, 0.55), {}), ((), {"min": -0.45}), ((None, 0.25), {}), ((), {"max": 0.25}),
             ((X[0] - 0.1, X[0] + 1.0), {})],  # no element at a bound, where the sides disagree
    "dot": [((X[1],), {})],
    "transpose": [((1, 0), {}), (((1, 0),), {})],
    "swapaxes": [((0, 1), {}), ((1, -2), {})],
    "take": [((np.array([0, 5, 7]),), {}), ((np.array([1, 2]),), {"axis": 1}), ((np.array([3, 0]),), {})],
    "repeat": [((2,), {}), ((2, 1), {}), ((2,), {"axis": 0}), ((np.array([1, 2, 1, 3]),), {"axis": 0})],
    "diagonal": [((1,), {}), ((), {"offset": -1})],
    "trace": [((1,), {}), ((), {"offset": -1})],
    "round": [((2,), {}), ((), {"decimals": 1})],
    "flatten": [((0, 1), {})],
    "squeeze": [((0,), {})],
    "cumsum": [((), {"dtype": np.float64})],
    "sum": [((), {"initial": 2.0}), ((), {"where": X > 0}), ((), {"axis": 0, "where": X > 0}),
            ((), {"dtype": np.float32})],
    "prod": [((), {"axis": 1, "initial": 2.0})],
    "max": [((), {"initial": 0.5}), ((), {"axis": 1, "where": X < 0, "initial": -9.0})],
    "min": [((), {"axis": 0, "initial": -0.5})],
    "mean": [((), {"where": X > 0}), ((), {"axis": 1, "where": X > -1, "keepdims": True})],
    "var": [((), {"axis": 0, "correction": 1}), ((), {"mean": X.mean(0, keepdims=True), "axis": 0})],
    "std": [((), {"where": X > -1})],
}
INPUTS = {"squeeze": X[:, None, :], "dot": X[0]}  # a value with a unit dim; torch's dot is 1-D


def shared_names() -> list[str]:
    public = {n for n in dir(np.ndarray) if not n.startswith("_")} & {n for n in dir(torch.Tensor)
                                                                        if not n.startswith("_")}
    return sorted(public - CONCRETE)


def _numpy_call(name: str, a: Any, args: tuple, kwargs: dict) -> Any:
    return getattr(a.copy() if isinstance(a, np.ndarray) else a, name)(*args, **kwargs)


def _torch_args(args: tuple) -> tuple:
    return tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)


def _as_arrays(out: Any) -> list[np.ndarray]:
    if isinstance(out, tuple):
        return [v for item in out for v in _as_arrays(item)]
    if isinstance(out, (torch.Tensor, symgrad.Tensor)):
        return [out.detach().numpy()]
    return [np.asarray(out)]


@pytest.mark.parametrize("name", shared_names())
def test_traced_methods_are_ndarray_methods(name):
    """Each call NumPy accepts gives NumPy's value, and the gradient of NumPy's function."""
    a = INPUTS.get(name, X)
    assert hasattr(Tracer, name), f"traced values lack ndarray.{name}"
    if name in ATTRIBUTES:
        seen = {}

        def read(x):
            seen["value"] = getattr(x, name)
            return seen["value"] if isinstance(seen["value"], Tracer) else x

        out = symgrad.compile(read)(a)
        want = getattr(a, name)
        if isinstance(want, np.ndarray):
            np.testing.assert_array_equal(out, want)
        else:
            assert seen["value"] == want and type(seen["value"]) is type(want), (seen["value"], want)
        return
    made = 0
    for args, kwargs in COMMON + EXTRA.get(name, []):
        try:
            want = _numpy_call(name, a, args, kwargs)
        except (TypeError, ValueError, np.exceptions.AxisError):
            continue
        made += 1
        got = symgrad.compile(lambda x, args=args, kwargs=kwargs: _numpy_call(name, x, args, kwargs))(a)
        for g, w in zip(_as_arrays(got), _as_arrays(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"x.{name}(*{args}, **{kwargs})")
            assert g.shape == w.shape and g.dtype.kind == w.dtype.kind, (name, args, kwargs)
        if np.asarray(want).dtype != np.float64 or name == "round":
            continue  # no gradient, or one finite differences in float32 cannot check
        ct = RNG.standard_normal(np.shape(want))

        def loss(x, args=args, kwargs=kwargs, ct=ct):
            return (_numpy_call(name, x, args, kwargs) * ct).sum()

        fd, = differences(loss, [a.copy()], [0])
        np.testing.assert_allclose(symgrad.grad(loss)(a), fd, rtol=1e-6, atol=1e-6,
                                   err_msg=f"grad of x.{name}(*{args}, **{kwargs})")
    assert made, f"no call of ndarray.{name} was tried"


@pytest.mark.parametrize("name", shared_names())
def test_eager_methods_are_torch_methods(name):
    """Each call PyTorch accepts gives PyTorch's value and gradient."""
    a = INPUTS.get(name, X)
    assert hasattr(symgrad.Tensor, name), f"eager tensors lack torch.Tensor.{name}"
    if name in ATTRIBUTES:
        try:
            want = getattr(torch.from_numpy(a), name)
        except RuntimeError as e:  # torch's imag of a real tensor
            with pytest.raises(RuntimeError, match=str(e).split(" for ")[0]):
                getattr(symgrad.tensor(a), name)
            return
        got = getattr(symgrad.tensor(a), name)
        if callable(want):  # torch's size()
            want, got = want(), got()
        if isinstance(want, torch.Tensor):
            np.testing.assert_array_equal(got.detach().numpy(), want.numpy())
        elif name == "dtype":
            assert str(got).split(".")[-1] == str(want).split(".")[-1]
        else:
            assert (tuple(got) if name == "shape" else got) == want
        return
    made = 0
    for args, kwargs in COMMON + EXTRA.get(name, []):
        t = torch.tensor(a, requires_grad=True)
        try:
            want = getattr(t, name)(*_torch_args(args), **kwargs)
        except (TypeError, RuntimeError, IndexError, ValueError):
            continue
        made += 1
        s = symgrad.tensor(a, requires_grad=True)
        got = getattr(s, name)(*_torch_args_symgrad(args), **kwargs)
        for g, w in zip(_as_arrays(got), _as_arrays(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"x.{name}(*{args}, **{kwargs})")
        first_w, first_g = (want[0], got[0]) if isinstance(want, tuple) else (want, got)
        if first_w.requires_grad:
            ct = RNG.standard_normal(tuple(first_w.shape))
            (first_w * torch.from_numpy(ct)).sum().backward()
            (first_g * symgrad.tensor(ct)).sum().backward()
            np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert made, f"no call of torch.Tensor.{name} was tried"


def _torch_args_symgrad(args: tuple) -> tuple:
    return tuple(symgrad.tensor(a) if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("name", sorted(CONCRETE - {"data", "device"}))
def test_concrete_methods_on_traced_values_say_why(name):
    """What needs a concrete value, or writes in place, fails with an error naming it."""
    with pytest.raises(TypeError, match=rf"\.{name}\(\)"):
        symgrad.compile(lambda x: getattr(x, name)())(X)


def test_var_and_std_defaults_differ_by_face():
    """The silent error of the past: traced var/std divide by n, as NumPy; eager by n - 1."""
    traced = symgrad.compile(lambda x: (x.var(), x.std(), np.var(x), x.var(axis=0, ddof=1)))(X)
    np.testing.assert_allclose(traced[0], X.var())
    np.testing.assert_allclose(traced[1], X.std())
    np.testing.assert_allclose(traced[2], X.var())
    np.testing.assert_allclose(traced[3], X.var(axis=0, ddof=1))
    eager = symgrad.tensor(X)
    np.testing.assert_allclose(eager.var().item(), X.var(ddof=1))
    np.testing.assert_allclose(symgrad.var(eager).item(), X.var(ddof=1))
    np.testing.assert_allclose(np.var(eager).item(), X.var())  # NumPy's function keeps NumPy's meaning


def test_symgrad_functions_keep_torch_meaning_on_traced_values():
    """`symgrad.*` is PyTorch's namespace, whichever kind of value it is given."""
    out = symgrad.compile(lambda x: (symgrad.var(x), symgrad.std(x, 0)))(X)
    np.testing.assert_allclose(out[0], X.var(ddof=1))
    np.testing.assert_allclose(out[1], X.std(0, ddof=1))


def test_size_is_an_int_when_traced_and_a_method_when_eager():
    assert symgrad.compile(lambda x: x * x.size)(X)[0, 0] == X[0, 0] * 24
    assert symgrad.tensor(X).size() == (4, 6) and symgrad.tensor(X).size(1) == 6


def test_reduction_keywords_are_refused_by_name():
    with pytest.raises(TypeError, match="out="):
        symgrad.compile(lambda x: x.sum(out=np.empty(())))(X)
    with pytest.raises(ValueError, match="initial"):
        symgrad.compile(lambda x: x.max(where=x > 0))(X)
