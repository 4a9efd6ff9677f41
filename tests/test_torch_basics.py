"""Tensor basics PyTorch scripts lean on: Python conversions of one-element tensors, `.data`
assignment, dtype conversions, layout queries, `new_*`, in-place random fills, np.asarray of a
tensor that requires grad, and NumPy scalars as weak operands.

Each test runs on symgrad and, when it is installed, on PyTorch (`lib`), asserting the same
closed forms on both, so the expectations are PyTorch's own; np.asarray follows SPEC (the data,
with a warning where PyTorch raises) and is tested on symgrad alone.
"""

from __future__ import annotations

import importlib
import operator
import warnings
from typing import Any

import numpy as np
import pytest

import symgrad


@pytest.fixture(params=["symgrad", "torch"])
def lib(request: pytest.FixtureRequest) -> Any:
    if request.param == "torch":
        return pytest.importorskip("torch")
    return importlib.import_module("symgrad")


def dt(t: Any) -> str:
    """A tensor's dtype by its short name, the same for both libraries ('float32')."""
    return str(t.dtype).removeprefix("torch.")


def name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


# ---------------------------------------------------------------- Python conversions

def test_int_and_index_of_one_element_tensors(lib: Any) -> None:
    n = lib.tensor(3)
    assert int(n) == 3 and operator.index(n) == 3
    assert list(range(lib.tensor(3))) == [0, 1, 2]
    assert ["a", "b", "c"][lib.tensor(1)] == "b"
    assert ["a", "b", "c"][lib.tensor([2])] == "c"  # one element of any shape
    assert int(lib.tensor(-2.7)) == -2 and int(lib.tensor([[3.9]])) == 3
    assert int(lib.tensor(True)) == 1 and operator.index(lib.tensor(True)) == 1
    pred, y = lib.tensor([1, 0, 2, 2]), lib.tensor([1, 1, 2, 0])
    assert int((pred == y).sum()) == 2
    assert hex(lib.tensor(255)) == "0xff"
    assert complex(lib.tensor(2.5)) == 2.5 + 0j


def test_conversion_errors(lib: Any) -> None:
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        operator.index(lib.tensor(3.0))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        range(lib.tensor([1, 2]))
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        int(lib.tensor([1, 2]))
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        float(lib.tensor([]))


def test_float_of_a_tensor_that_requires_grad_warns() -> None:
    """PyTorch's warning (symgrad alone: PyTorch warns once per process, so whether it warns
    here depends on which test ran first)."""
    a = symgrad.tensor(1.5, requires_grad=True)
    with pytest.warns(UserWarning, match="Converting a tensor with requires_grad=True to a scalar"):
        assert float(a) == 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert int(a) == 1 and a.item() == 1.5


def test_format_of_a_0d_tensor_is_its_items(lib: Any) -> None:
    loss = (lib.tensor([1.0, 2.0], requires_grad=True) ** 2).mean()
    assert f"{loss:.3f}" == "2.500"
    assert f"{lib.tensor(2.5)}" == "2.5" and f"{lib.tensor(3):d}" == "3"
    assert f"{lib.tensor(3):.2f}" == "3.00" and f"{lib.tensor(True)}" == "True"
    assert f"loss {lib.tensor(0.123456):8.4f}" == "loss   0.1235"


def test_format_of_other_tensors_is_objects(lib: Any) -> None:
    t = lib.tensor([2.5])
    assert f"{t}" == str(t) == "tensor([2.5000])"
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{t:.3f}"
    p = lib.nn.Parameter(lib.tensor(2.5))  # torch formats only plain 0-d tensors by item
    with pytest.raises(TypeError, match="unsupported format string passed to Parameter.__format__"):
        f"{p:.2f}"


# ---------------------------------------------------------------- .data

def test_data_update_of_the_old_tutorials(lib: Any) -> None:
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    (w ** 2).sum().backward()
    w.data -= 0.1 * w.grad.data  # unrecorded, though grad mode is on
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    w.grad.data.zero_()
    (w ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.6, 3.2], rtol=1e-6)


def test_data_assignment_replaces_values_shape_and_dtype(lib: Any) -> None:
    p = lib.ones(2, requires_grad=True)
    new = lib.zeros(3, dtype=lib.float64)
    p.data = new
    assert tuple(p.shape) == (3,) and dt(p) == "float64" and p.requires_grad and p.is_leaf
    new[0] = 5.0  # p takes new's memory, as torch's set_data
    assert p.tolist() == [5.0, 0.0, 0.0]
    (p * 2).sum().backward()
    assert p.grad.tolist() == [2.0, 2.0, 2.0]
    y = lib.ones(2, requires_grad=True) * 3
    y.data = lib.ones(2)
    assert name(y) == "MulBackward0" and y.tolist() == [1.0, 1.0]
    x = lib.ones(2)
    x.data = lib.tensor([1, 2])
    assert dt(x) == "int64"


def test_data_assignment_errors(lib: Any) -> None:
    p = lib.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        p.data = [1.0, 2.0]
    with pytest.raises(RuntimeError, match="must be floating point or complex dtype"):
        p.data = lib.tensor([1, 2])


def test_data_shares_memory_and_is_cut_from_the_graph(lib: Any) -> None:
    q = lib.ones(2, requires_grad=True)
    d = q.data
    d += 1
    assert q.tolist() == [2.0, 2.0] and not d.requires_grad


# ---------------------------------------------------------------- dtype conversions

@pytest.mark.parametrize(("method", "dtype", "grad"), [
    ("int", "int32", False), ("long", "int64", False), ("bool", "bool", False),
    ("half", "float16", True), ("double", "float64", True)])
def test_dtype_conversions(lib: Any, method: str, dtype: str, grad: bool) -> None:
    y = lib.tensor([[0.0, 1.5, -2.0]], requires_grad=True) * 2
    out = getattr(y, method)()
    assert dt(out) == dtype and out.requires_grad is grad
    assert name(out) == ("ToCopyBackward0" if grad else None)
    assert out.tolist() == np.array([[0.0, 3.0, -4.0]]).astype(dtype).tolist()
    assert y.float() is y


def test_conversions_carry_the_gradient_back(lib: Any) -> None:
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * x.half().double()).sum().backward()
    assert dt(x.grad) == "float32" and x.grad.tolist() == [2.0, 4.0]


def test_type_and_type_as(lib: Any) -> None:
    y = lib.ones(2, requires_grad=True) * 2
    assert y.type() == "torch.FloatTensor" and lib.ones(1).long().type() == "torch.LongTensor"
    assert lib.ones(1).bool().type() == "torch.BoolTensor"
    assert dt(y.type("torch.DoubleTensor")) == "float64"
    assert dt(y.type(lib.float64)) == "float64"
    with pytest.raises(ValueError, match="invalid type: 'torch.float64'"):
        y.type("torch.float64")
    assert y.type_as(lib.ones(1)) is y
    out = y.type_as(lib.ones(1, dtype=lib.float64))
    assert dt(out) == "float64" and name(out) == "ToCopyBackward0"
    assert dt(y.type_as(lib.tensor([1]))) == "int64" and not y.type_as(lib.tensor([1])).requires_grad


# ---------------------------------------------------------------- *_as

def test_expand_view_reshape_as(lib: Any) -> None:
    x = lib.tensor([[1.0], [2.0]], requires_grad=True)
    e = x.expand_as(lib.ones(3, 2, 4))
    v = x.view_as(lib.ones(2))
    r = x.reshape_as(lib.ones(1, 2))
    assert tuple(e.shape) == (3, 2, 4) and name(e) == "ExpandBackward0"
    assert tuple(v.shape) == (2,) and name(v) == "ViewBackward0"
    assert tuple(r.shape) == (1, 2) and name(r) == "ViewBackward0"
    (e.sum() + (v * v).sum() + (3 * r).sum()).backward()
    assert x.grad.tolist() == [[12.0 + 2.0 + 3.0], [12.0 + 4.0 + 3.0]]


# ---------------------------------------------------------------- layout

def test_element_size_and_nelement(lib: Any) -> None:
    x = lib.ones(2, 3)
    assert x.nelement() == x.numel() == 6
    assert x.element_size() == 4 and x.double().element_size() == 8
    assert x.int().element_size() == 4 and x.bool().element_size() == 1 and x.long().element_size() == 8


def test_strides_and_contiguity(lib: Any) -> None:
    y = lib.ones(2, 3, requires_grad=True) * 2
    assert y.stride() == (3, 1) and y.stride(1) == 1 and y.stride(-2) == 3
    assert y.is_contiguous() and y.contiguous() is y
    t = y.t()
    assert t.stride() == (1, 3) and not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1) and name(c) == "CloneBackward0"
    assert c.tolist() == t.tolist()
    c.sum().backward()  # the copy stays in the graph
    assert lib.ones(2, 3).expand(4, 2, 3).stride() == (0, 3, 1)
    assert lib.ones(2, 6)[:, ::2].stride() == (6, 2)
    assert lib.ones(2, 3).flip(0).stride() == (3, 1)
    assert lib.ones(3, 1).stride() == (1, 1) and lib.ones(3).unsqueeze(0).stride() == (3, 1)
    assert lib.tensor(2.0).stride() == () and lib.tensor(2.0).is_contiguous()
    assert lib.ones(3, 1).t().is_contiguous()  # dims of size 1 do not count


# ---------------------------------------------------------------- new_*

def test_new_tensors_take_this_dtype(lib: Any) -> None:
    y = lib.ones(2, requires_grad=True) * 2
    z = y.new_zeros(2, 3)
    assert z.tolist() == [[0.0] * 3] * 2 and dt(z) == "float32" and not z.requires_grad
    assert y.new_zeros((2,)).tolist() == [0.0, 0.0] and tuple(y.new_zeros([]).shape) == ()
    assert dt(y.new_zeros(2, dtype=lib.int64)) == "int64"
    assert y.new_ones(2).tolist() == [1.0, 1.0]
    assert y.new_ones(2, requires_grad=True).requires_grad
    full = y.new_full((2,), 3)
    assert full.tolist() == [3.0, 3.0] and dt(full) == "float32"
    ints = lib.tensor([1, 2])
    assert ints.new_full((2,), 3.5).tolist() == [3, 3] and dt(ints.new_full((2,), 3.5)) == "int64"
    assert y.new_tensor([1, 2]).tolist() == [1.0, 2.0] and dt(y.new_tensor([1, 2])) == "float32"
    assert ints.new_tensor([1.5, 2]).tolist() == [1, 2]
    assert dt(y.new_tensor([1, 2], dtype=lib.float64)) == "float64"
    assert tuple(y.new_empty(2, 3).shape) == (2, 3) and dt(y.new_empty(2)) == "float32"


def test_new_tensor_from_a_tensor_warns_and_copies(lib: Any) -> None:
    y = lib.ones(2)
    src = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        out = y.new_tensor(src)
    assert out.tolist() == [1.0, 2.0] and not out.requires_grad and out.is_leaf


# ---------------------------------------------------------------- in-place fills

def test_random_fills(lib: Any) -> None:
    lib.manual_seed(0)
    u = lib.empty(2000).uniform_(2.0, 3.0)
    assert float(u.min()) >= 2.0 and float(u.max()) < 3.0 and abs(float(u.mean()) - 2.5) < 0.05
    n = lib.empty(2000, dtype=lib.float64).normal_(1.0, 2.0)
    assert dt(n) == "float64" and abs(float(n.mean()) - 1.0) < 0.2 and abs(float(n.std()) - 2.0) < 0.2
    b = lib.zeros(2000).bernoulli_(0.25)
    assert set(b.tolist()) == {0.0, 1.0} and abs(float(b.mean()) - 0.25) < 0.05
    assert lib.zeros(3).bernoulli_(lib.tensor([0.0, 1.0, 1.0])).tolist() == [0.0, 1.0, 1.0]
    assert dt(lib.zeros(3, dtype=lib.int64).bernoulli_(0.5)) == "int64"
    u = lib.zeros(5)
    assert u.uniform_() is u and 0 <= float(u.min()) and float(u.max()) < 1


def test_random_fills_are_seeded(lib: Any) -> None:
    lib.manual_seed(3)
    a = lib.empty(4).normal_()
    lib.manual_seed(3)
    assert lib.empty(4).normal_().tolist() == a.tolist()


def test_random_fill_errors(lib: Any) -> None:
    with pytest.raises(RuntimeError, match=r"uniform_ expects to return a \[from, to\) range, but found"):
        lib.zeros(3).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0, but found std -1"):
        lib.zeros(3).normal_(0, -1)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        lib.zeros(3, dtype=lib.int64).uniform_()
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        lib.zeros(3, dtype=lib.int64).normal_()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        lib.ones(2, requires_grad=True).uniform_()


@pytest.mark.parametrize(("fill", "grad_fn"), [
    (lambda t: t.uniform_(), "UniformBackward0"), (lambda t: t.normal_(), "NormalBackward0"),
    (lambda t: t.bernoulli_(), "BernoulliBackward2"), (lambda t: t.fill_diagonal_(0.0), "CopySlices"),
    (lambda t: t.fill_(0.5), "FillBackward2")])
def test_fills_record_as_torch(lib: Any, fill: Any, grad_fn: str) -> None:
    x = lib.ones(2, 2, requires_grad=True)
    y = fill((x * 3).clone())
    assert name(y) == grad_fn
    (y * 2).sum().backward()
    expected = [[0.0, 6.0], [6.0, 0.0]] if grad_fn == "CopySlices" else [[0.0, 0.0], [0.0, 0.0]]
    assert x.grad.tolist() == expected
    with lib.no_grad():
        x.normal_()  # allowed outside grad mode: nn.init's way


def test_fill_with_a_0d_tensor_passes_the_gradient_to_it(lib: Any) -> None:
    v = lib.tensor(2.0, requires_grad=True)
    out = (lib.ones(3, requires_grad=True) * 1).clone().fill_(v)
    assert name(out) == "FillBackward3" and out.tolist() == [2.0, 2.0, 2.0]
    out.sum().backward()
    assert v.grad.item() == 3.0
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but got tensor"):
        lib.ones(2).fill_(lib.ones(2))


@pytest.mark.parametrize(("shape", "wrap"), [((3, 3), False), ((5, 3), True), ((7, 3), True),
                                             ((7, 3), False), ((3, 5), True), ((2, 2, 2), False)])
def test_fill_diagonal(lib: Any, shape: tuple, wrap: bool) -> None:
    expected = np.zeros(shape, np.float32)
    np.fill_diagonal(expected, 1.5, wrap=wrap)
    assert lib.zeros(*shape).fill_diagonal_(1.5, wrap=wrap).tolist() == expected.tolist()


def test_fill_diagonal_casts_and_checks(lib: Any) -> None:
    assert lib.zeros(2, 2, dtype=lib.int64).fill_diagonal_(1.5).tolist() == [[1, 0], [0, 1]]
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        lib.zeros(2, 3, 2).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        lib.zeros(3).fill_diagonal_(1)


# ---------------------------------------------------------------- NumPy interop

def test_asarray_of_a_tensor_that_requires_grad_gives_its_data_and_warns() -> None:
    """SPEC: np.asarray(t) is t's data without history. For a tensor that requires grad that
    silently drops the gradient of NumPy or SciPy code converting it (PyTorch raises), so it
    warns; .numpy() refuses, as PyTorch's does."""
    x = symgrad.ones(2, requires_grad=True)
    for convert in (np.asarray, np.array):
        with pytest.warns(UserWarning, match="without history"):
            assert convert(x * 1).tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        (x * 2).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.asarray(x.detach()).tolist() == [1.0, 1.0]
        with symgrad.no_grad():
            np.asarray(x)
    plain = symgrad.ones(2)
    shared = np.asarray(plain)
    shared[0] = 7.0
    assert plain.tolist() == [7.0, 1.0]


def test_scipy_on_a_tensor_that_requires_grad_warns_that_the_gradient_is_lost() -> None:
    special = pytest.importorskip("scipy.special")
    x = symgrad.tensor([0.5, 1.5], requires_grad=True)
    with pytest.warns(UserWarning, match="no gradient flows"):
        special.logsumexp(x)
    assert special.logsumexp(x.detach()) == pytest.approx(np.log(np.exp(0.5) + np.exp(1.5)))


def test_tensor_of_a_list_of_tensors_that_require_grad(lib: Any) -> None:
    a = lib.tensor(1.5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns it converts each to a scalar
        out = lib.tensor([a, lib.tensor(2.0)])
    assert out.tolist() == [1.5, 2.0] and not out.requires_grad


def test_symgrad_internals_take_tensors_that_require_grad() -> None:
    w = symgrad.tensor([1.0, 2.0], requires_grad=True)
    assert symgrad.grad(lambda v: (v ** 2).sum())(w).tolist() == [2.0, 4.0]
    traced = symgrad.grad(lambda v: (v * w).sum())(np.ones(2))  # w closed over
    assert traced.tolist() == [1.0, 2.0]
    p = symgrad.nn.Parameter(w * 2)
    assert p.is_leaf and p.tolist() == [2.0, 4.0]


# the dtype of `tensor op scalar` for NumPy scalars: weak, as Python numbers (np.bool_ as a float)
WEAK = [
    (lambda L: L.ones(2) * np.float64(2.0), "float32", [2.0, 2.0]),
    (lambda L: L.ones(2) + np.int64(3), "float32", [4.0, 4.0]),
    (lambda L: np.float64(2) * L.ones(2), "float32", [2.0, 2.0]),
    (lambda L: np.int64(2) * L.ones(2), "float32", [2.0, 2.0]),
    (lambda L: np.float64(2) - L.ones(2), "float32", [1.0, 1.0]),
    (lambda L: L.tensor([1, 2]) * np.float64(2.0), "float32", [2.0, 4.0]),
    (lambda L: L.tensor([1, 2]) / np.int64(2), "float32", [0.5, 1.0]),
    (lambda L: L.tensor([1, 2]) ** np.float64(2), "float32", [1.0, 4.0]),
    (lambda L: np.float64(2) ** L.tensor([1, 2]), "float32", [2.0, 4.0]),
    (lambda L: L.tensor([1, 2], dtype=L.int64) + np.int32(2), "int64", [3, 4]),
    (lambda L: L.tensor([1, 2]) + np.bool_(True), "float32", [2.0, 3.0]),
    (lambda L: L.tensor([True]) + np.bool_(True), "float32", [2.0]),
    (lambda L: L.tensor([True]) + np.int64(2), "int64", [3]),
    (lambda L: L.tensor([True]) + np.float32(2), "float32", [3.0]),
    (lambda L: L.ones(2, dtype=L.float64) * np.float32(2.0), "float64", [2.0, 2.0]),
    (lambda L: L.tensor(1.5) * np.float64(2), "float32", 3.0),
    (lambda L: L.tensor(1) * np.float64(2), "float32", 2.0),
    (lambda L: L.where(L.tensor([True, False]), L.ones(2), np.float64(3)), "float32", [1.0, 3.0]),
    (lambda L: L.ones(2) > np.float64(0.5), "bool", [True, True]),
    (lambda L: L.tensor([1]) & np.int64(3), "int64", [1]),
]


@pytest.mark.parametrize(("expr", "dtype", "value"), WEAK)
def test_numpy_scalars_are_weak(lib: Any, expr: Any, dtype: str, value: Any) -> None:
    out = expr(lib)
    assert dt(out) == dtype and out.tolist() == value


def test_numpy_scalars_keep_the_gradient(lib: Any) -> None:
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (np.float64(3.0) * x + np.int64(1)) ** np.float64(2.0)
    assert dt(y) == "float32" and name(y) == "PowBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [24.0, 42.0] and dt(x.grad) == "float32"
