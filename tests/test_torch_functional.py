"""`symgrad.autograd.functional` (jacobian, hessian, vjp, jvp, hvp, vhp) on the eager engine,
and the PyTorch spellings a script run with `import symgrad as torch` uses: `torch.trace`
of a matrix, `torch.where(condition)`, keyword names (`dims=`, `size=`, `dim0=`...) and
`div(rounding_mode=)`. Each is checked against a closed form and against PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp
from tests.numeric import differences

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3))
V = RNG.standard_normal(3)


def _np(x: Any) -> Any:
    """Results of either library as NumPy, keeping tuple structure."""
    if isinstance(x, tuple):
        return tuple(_np(v) for v in x)
    return x.detach().numpy()


def _close(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, w in zip(a, b):
            _close(u, w)
    else:
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _af(ns: Any) -> Any:
    """`torch.autograd.functional` of either library."""
    return ns.autograd.functional


def _both(call: Any, *arrays: np.ndarray) -> tuple:
    """`call(ns, *tensors)` run on symgrad and on torch, as NumPy."""
    ours = call(symgrad, *(symgrad.tensor(a) for a in arrays))
    theirs = call(torch, *(torch.tensor(a) for a in arrays))
    return _np(ours), _np(theirs)


# ---------------------------------------------------------------- the module path

def test_module_paths() -> None:
    import symgrad.autograd.functional as F
    assert F.jacobian is jacobian is symgrad.autograd.functional.jacobian
    from symgrad.autograd import Function, grad  # noqa: F401 - the old names still import


# ---------------------------------------------------------------- jacobian

def test_jacobian_closed_form() -> None:
    x = symgrad.tensor(X)
    J = jacobian(lambda x: x.exp().sum(dim=1), x)
    expected = np.zeros((2, 2, 3))
    expected[0, 0], expected[1, 1] = np.exp(X[0]), np.exp(X[1])
    assert J.shape == (2, 2, 3) and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), expected)


JACOBIANS = [
    lambda ns, x: _af(ns).jacobian(lambda x: x.exp().sum(dim=1), x),
    lambda ns, x: _af(ns).jacobian(lambda x: (x.tanh() * x).sum(), x[0]),
    lambda ns, x: _af(ns).jacobian(lambda a, b: a * b, (x[0], x[1])),
    lambda ns, x: _af(ns).jacobian(lambda a, b: (a * b, (a ** 2).sum(), b.sin()), (x[0], x[1])),
    lambda ns, x: _af(ns).jacobian(lambda a: (a @ a.T, a.sum(0)), x),
    lambda ns, x: _af(ns).jacobian(lambda a: a.softmax(-1), x, vectorize=True),
    lambda ns, x: _af(ns).jacobian(lambda a: a.sum(), x[0, 0]),
    lambda ns, x: _af(ns).jacobian(lambda a, b: 2 * a, (x[0], x[1])),  # b unused: zeros
    lambda ns, x: _af(ns).jacobian(lambda a: ns.ones(2, dtype=a.dtype), x[0]),  # constant
]


@pytest.mark.parametrize("call", JACOBIANS)
def test_jacobian_matches_torch(call: Any) -> None:
    ours, theirs = _both(call, X)
    _close(ours, theirs)


def test_jacobian_create_graph_is_differentiable() -> None:
    y = symgrad.tensor([1.0, 2.0], dtype=symgrad.float64, requires_grad=True)
    J = jacobian(lambda x: x ** 3, y, create_graph=True)
    np.testing.assert_allclose(J.detach().numpy(), np.diag([3.0, 12.0]))
    assert J.grad_fn is not None
    J.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])  # d/dy sum(3 y^2)
    assert not jacobian(lambda x: x ** 3, y).requires_grad


def test_jacobian_under_no_grad() -> None:
    with symgrad.no_grad():
        J = jacobian(lambda x: x * x, symgrad.tensor(V))
    np.testing.assert_allclose(J.numpy(), np.diag(2 * V))


# ---------------------------------------------------------------- hessian

def _scalar(x: Any) -> Any:
    return (x ** 3).sum() + x[0] * x[1] + x.sin().prod()


def test_hessian_matches_differences_of_the_gradient() -> None:
    def gradient(a: np.ndarray) -> np.ndarray:
        t = symgrad.tensor(a, requires_grad=True)
        return symgrad.autograd.grad(_scalar(t), t)[0].numpy()
    H = hessian(_scalar, symgrad.tensor(V)).numpy()
    numeric = np.stack([differences(lambda a, k=k: gradient(a)[k], [V.copy()], [0])[0] for k in range(3)])
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


HESSIANS = [
    lambda ns, x: _af(ns).hessian(_scalar, x[0]),
    lambda ns, x: _af(ns).hessian(lambda a: (a ** 3).sum().reshape(1), x[0]),
    lambda ns, x: _af(ns).hessian(lambda a, b: (a * b).sum() + (a ** 2 * b).sum(), (x[0], x[1])),
    lambda ns, x: _af(ns).hessian(lambda a: a.logsumexp(dim=1).sum(), x, vectorize=True),
]


@pytest.mark.parametrize("call", HESSIANS)
def test_hessian_matches_torch(call: Any) -> None:
    ours, theirs = _both(call, X)
    _close(ours, theirs)


def test_hessian_closed_form() -> None:
    H = hessian(lambda a, b: (a * b).sum(), (symgrad.tensor(V), symgrad.tensor(V)))
    eye = np.eye(3)
    _close(_np(H), ((0 * eye, eye), (eye, 0 * eye)))


# ---------------------------------------------------------------- vjp, jvp, hvp, vhp

PRODUCTS = [
    lambda ns, x, v: _af(ns).vjp(lambda a: a ** 2, x[0], v),
    lambda ns, x, v: _af(ns).vjp(lambda a: (a ** 2).sum(), x[0]),
    lambda ns, x, v: _af(ns).vjp(lambda a, b: (a * b, a.exp()), (x[0], x[1]), (v, v)),
    lambda ns, x, v: _af(ns).jvp(lambda a: a ** 2, x[0], v),
    lambda ns, x, v: _af(ns).jvp(lambda a, b: (a * b).sum(dim=0), (x[0], x[1]), (v, v)),
    lambda ns, x, v: _af(ns).jvp(lambda a: a.exp(), x[0, 0]),
    lambda ns, x, v: _af(ns).hvp(lambda a: (a ** 3).sum(), x[0], v),
    lambda ns, x, v: _af(ns).hvp(lambda a, b: (a * b.exp()).sum(), (x[0], x[1]), (v, v)),
    lambda ns, x, v: _af(ns).vhp(_scalar, x[0], v),
    lambda ns, x, v: _af(ns).vhp(lambda a, b: (a * b.exp()).sum(), (x[0], x[1]), (v, v)),
    lambda ns, x, v: _af(ns).vjp(lambda a: a.sum(), x[0], strict=False),
    lambda ns, x, v: _af(ns).vjp(lambda a: ns.zeros(3, dtype=a.dtype), x[0], v),  # constant
]


@pytest.mark.parametrize("call", PRODUCTS)
def test_products_match_torch(call: Any) -> None:
    ours = call(symgrad, symgrad.tensor(X), symgrad.tensor(V))
    theirs = call(torch, torch.tensor(X), torch.tensor(V))
    _close(_np(ours), _np(theirs))


def test_products_closed_forms() -> None:
    x, v = symgrad.tensor(X[0]), symgrad.tensor(V)
    out, g = vjp(lambda a: a ** 2, x, v)
    np.testing.assert_allclose(out.numpy(), X[0] ** 2)
    np.testing.assert_allclose(g.numpy(), 2 * X[0] * V)
    np.testing.assert_allclose(jvp(lambda a: a.sin(), x, v)[1].numpy(), np.cos(X[0]) * V)
    np.testing.assert_allclose(hvp(lambda a: (a ** 3).sum(), x, v)[1].numpy(), 6 * X[0] * V)
    np.testing.assert_allclose(vhp(lambda a: (a ** 3).sum(), x, v)[1].numpy(), 6 * X[0] * V)


def test_create_graph_reaches_inputs_that_require_grad() -> None:
    y = symgrad.tensor(X[0], requires_grad=True)
    out, g = vjp(lambda a: a ** 3, y, symgrad.tensor(V), create_graph=True)
    assert out.grad_fn is not None and g.grad_fn is not None
    g.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 6 * X[0] * V)
    out, g = vjp(lambda a: a ** 3, y, symgrad.tensor(V))
    assert not out.requires_grad and not g.requires_grad


BAD = [
    lambda ns, x: _af(ns).vjp(lambda a: a ** 2, x),
    lambda ns, x: _af(ns).vjp(lambda a: a ** 2, x, ns.ones(2, dtype=x.dtype)),
    lambda ns, x: _af(ns).jvp(lambda a: a ** 2, x),
    lambda ns, x: _af(ns).jacobian(lambda a: 3, x),
    lambda ns, x: _af(ns).jacobian(lambda a: a, [x]),
    lambda ns, x: _af(ns).hessian(lambda a: a, x),
    lambda ns, x: _af(ns).hessian(lambda a: (a, a), x),
    lambda ns, x: _af(ns).hvp(lambda a: a ** 2, x, x),
    lambda ns, x: _af(ns).jacobian(lambda a: ns.ones(2), x, strict=True),
    lambda ns, x: _af(ns).jacobian(lambda a, b: a, (x, x), strict=True),
    lambda ns, x: _af(ns).vjp(lambda a, b: a.sum(), (x, x), strict=True),
]


@pytest.mark.parametrize("call", BAD)
def test_bad_input_raises_what_torch_raises(call: Any) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch, torch.tensor(V))
    with pytest.raises(type(theirs.value)) as ours:
        call(symgrad, symgrad.tensor(V))
    words = str(theirs.value).split(" ")[:4]
    assert str(ours.value).startswith(" ".join(words)), (ours.value, theirs.value)


# ---------------------------------------------------------------- torch.trace, torch.where

def test_trace_of_a_matrix_and_of_a_function() -> None:
    m = RNG.standard_normal((3, 3))
    t = symgrad.tensor(m, requires_grad=True)
    y = symgrad.trace(t)
    tt = torch.tensor(m, requires_grad=True)
    ty = torch.trace(tt)
    np.testing.assert_allclose(y.item(), np.trace(m))
    assert y.grad_fn.name() == type(ty.grad_fn).__name__
    y.backward()
    ty.backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy())
    np.testing.assert_allclose(symgrad.trace(m).item(), np.trace(m))  # an array: the matrix trace too
    assert symgrad.trace(symgrad.tensor([[1, 2], [3, 4]])).item() == 5
    np.testing.assert_allclose(symgrad.grad(lambda a: symgrad.trace(a) * 2)(m), 2 * np.eye(3))
    traced = symgrad.trace(lambda x: (x * 2).sum(), np.ones(3))  # the tracing API, as documented
    assert isinstance(traced, symgrad.Traced) and "mul" in str(traced)
    with pytest.raises(RuntimeError, match="expected a matrix"):
        symgrad.trace(symgrad.ones(3))
    with pytest.raises(TypeError, match="function first"):
        symgrad.trace(symgrad.eye(2), 1)


def test_where_with_the_condition_alone() -> None:
    ours, theirs = _both(lambda ns, x: ns.where(x > 0), X)
    _close(ours, theirs)
    rows, cols = symgrad.where(symgrad.tensor(X) > 0)
    assert rows.dtype == cols.dtype == np.int64
    np.testing.assert_array_equal(np.stack([rows.numpy(), cols.numpy()]), np.stack(np.nonzero(X > 0)))
    np.testing.assert_allclose(symgrad.where(symgrad.tensor(X) > 0, symgrad.tensor(X), 0.0).numpy(),
                               np.where(X > 0, X, 0.0))
    with pytest.raises(TypeError, match="cannot be traced"):
        symgrad.compile(lambda a: symgrad.where(a > 0)[0].sum())(X)
    with pytest.raises(TypeError, match="both input and other"):
        symgrad.where(symgrad.tensor(X) > 0, symgrad.tensor(X))


# ---------------------------------------------------------------- PyTorch's keyword names

KEYWORDS = [
    lambda ns, x: ns.flip(x, dims=[0]),
    lambda ns, x: x.flip(dims=(0, 1)),
    lambda ns, x: x.permute(dims=(1, 0)),
    lambda ns, x: ns.permute(x, dims=(1, 0)),
    lambda ns, x: x.transpose(dim0=0, dim1=1),
    lambda ns, x: ns.transpose(x, 0, dim1=1),
    lambda ns, x: x.view(size=(3, 2)),
    lambda ns, x: x.reshape(shape=(3, 2)),
    lambda ns, x: ns.reshape(x, shape=(-1,)),
    lambda ns, x: x[:1].expand(size=(4, 3)),
    lambda ns, x: ns.broadcast_to(x, size=(2, 2, 3)),
    lambda ns, x: x.repeat(repeats=(2, 1)),
    lambda ns, x: x.tile(dims=(2,)),
    lambda ns, x: ns.zeros(size=(2,), dtype=x.dtype),
    lambda ns, x: ns.ones(size=(2, 3), dtype=x.dtype),
    lambda ns, x: ns.empty(size=(2,)).shape,
    lambda ns, x: ns.rand(size=(2, 3)).shape,
    lambda ns, x: ns.randn(size=(4,)).shape,
    lambda ns, x: ns.full(size=(2,), fill_value=3.0, dtype=x.dtype),
    lambda ns, x: ns.div(x, 0.4, rounding_mode="floor"),
    lambda ns, x: x.div(0.4, rounding_mode="trunc"),
    lambda ns, x: x.div(0.4, rounding_mode=None),
    lambda ns, x: ns.divide(x, x + 3, rounding_mode="floor"),
    lambda ns, x: ns.div(ns.arange(-5, 5), 3, rounding_mode="trunc"),
    lambda ns, x: ns.arange(-5, 5).div(3, rounding_mode="floor"),
    lambda ns, x: ns.div(x, other=2),
]


@pytest.mark.parametrize("call", KEYWORDS)
def test_keywords_match_torch(call: Any) -> None:
    ours = call(symgrad, symgrad.tensor(X))
    theirs = call(torch, torch.tensor(X))
    if isinstance(theirs, torch.Size):
        assert tuple(ours) == tuple(theirs)
        return
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_keywords_in_place_and_traced() -> None:
    y = symgrad.arange(-5, 5)
    y.div_(3, rounding_mode="floor")
    np.testing.assert_array_equal(y.numpy(), np.arange(-5, 5) // 3)
    f = symgrad.compile(lambda a: a.reshape(shape=(3, 2)).transpose(dim0=0, dim1=1).sum())
    np.testing.assert_allclose(f(X), X.sum())


def test_div_rounding_gradients_and_names() -> None:
    for mode, name in ((None, "DivBackward0"), ("floor", "DivBackward2"), ("trunc", "DivBackward2")):
        x = symgrad.tensor(X, requires_grad=True)
        tx = torch.tensor(X, requires_grad=True)
        y, ty = x.div(0.7, rounding_mode=mode), tx.div(0.7, rounding_mode=mode) if mode else tx.div(0.7)
        assert y.grad_fn.name() == type(ty.grad_fn).__name__ == name
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(RuntimeError, match="rounding_mode"):
        symgrad.div(symgrad.tensor(X), 2, rounding_mode="round")


def test_keyword_errors() -> None:
    x = symgrad.tensor(X)
    with pytest.raises(TypeError, match="multiple values for argument 'dim0'"):
        x.transpose(0, dim0=1)
    with pytest.raises(TypeError, match="missing required argument 'dim0'"):
        x.transpose(dim1=1)
    with pytest.raises(TypeError, match="multiple values for argument 'size'"):
        symgrad.zeros(2, size=(2,))


# ---------------------------------------------------------------- torch.func

FUNC = [
    lambda ns, x: ns.func.grad(lambda a: (a ** 3).sum())(x[0]),
    lambda ns, x: ns.func.grad(ns.func.grad(lambda a: (a ** 3).sum()))(x[0, 0]),
    lambda ns, x: ns.func.grad(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(x[0], x[1]),
    lambda ns, x: ns.func.grad(lambda a, b: (a * b.exp()).sum(), argnums=-1)(x[0], x[1]),
    lambda ns, x: ns.func.grad(lambda a: ((a ** 2).sum(), a.sum()), has_aux=True)(x[0]),
    lambda ns, x: ns.func.grad_and_value(lambda a: a.tanh().sum())(x),
    lambda ns, x: ns.func.grad_and_value(lambda a: ((a ** 2).sum(), a.sum()), has_aux=True)(x),
    lambda ns, x: ns.func.grad(lambda a, b: (b ** 2).sum())(x[0], x[1]),  # a unused: zeros
]


@pytest.mark.parametrize("call", FUNC)
def test_func_grad_matches_torch(call: Any) -> None:
    ours, theirs = _both(call, X)
    _close(ours, theirs)


def test_func_grad_closed_form_and_errors() -> None:
    from symgrad.func import grad
    np.testing.assert_allclose(grad(lambda a: a.sin().sum())(symgrad.tensor(V)).numpy(), np.cos(V))
    np.testing.assert_allclose(grad(grad(lambda a: a.sin()))(symgrad.tensor(0.3)).item(), -np.sin(0.3))
    p = symgrad.tensor(V, requires_grad=True)  # a parameter: the gradient joins its graph
    g = grad(lambda a: (a ** 3).sum())(p)
    g.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), 6 * V)
    for bad, message in ((lambda a: a ** 2, "scalar Tensor"), (lambda a: 3.0, "return a Tensor")):
        with pytest.raises(RuntimeError, match=message):
            grad(bad)(symgrad.tensor(V))
    with pytest.raises(RuntimeError, match="argnum=2"):
        grad(lambda a: a.sum(), argnums=2)(symgrad.tensor(V))
    with pytest.raises(RuntimeError, match="tuple"):
        grad(lambda a: a.sum(), has_aux=True)(symgrad.tensor(V))
