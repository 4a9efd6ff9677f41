"""One-input elementwise ops whose forward is a kernel, not a ufunc (`x.sigmoid()`,
`x.relu()`, `x.erf()`, `x.logit()`, `x.lgamma()`), take the one-frame path on a plain
tensor: the same values, node, saved values and gradients as the general path and as
PyTorch, the general path for other dtypes, and the version check on what the node saves."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad.eager import tensor as eager_tensor
from symgrad.ops import OPS, apply

torch = pytest.importorskip("torch")

# method -> (the op, inputs inside its domain)
KERNEL_OPS = {
    "sigmoid": ("sigmoid", np.linspace(-30, 30, 11)),
    "relu": ("relu", np.array([-2.0, -0.5, 0.0, 0.5, 3.0])),
    "erf": ("erf", np.linspace(-3, 3, 7)),
    "logit": ("logit", np.linspace(0.05, 0.95, 7)),
    "lgamma": ("lgamma", np.linspace(0.5, 6.0, 7)),
    "digamma": ("digamma", np.linspace(0.5, 6.0, 7)),
}


@pytest.mark.parametrize("name", KERNEL_OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_kernel_op_matches_the_general_path_and_torch(name, dtype):
    op, data = KERNEL_OPS[name]
    data = data.astype(dtype)
    ct = np.cos(np.arange(data.size)).astype(dtype)
    results = []
    for run in ("fast", "general", "torch"):
        lib = torch if run == "torch" else symgrad
        x = lib.tensor(data, requires_grad=True)
        y = getattr(x, name)() if run != "general" else apply(OPS[op], x)
        y.backward(lib.tensor(ct))
        results.append((y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__))
    (fast, gfast, nfast), (general, ggeneral, ngeneral), (want, gwant, nwant) = results
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_array_equal(gfast, ggeneral)
    assert nfast == ngeneral == nwant
    assert fast.dtype == want.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fast, want, rtol=tol, atol=tol)
    # PyTorch's trigamma (digamma's derivative) is within 5e-10 of SciPy's; symgrad's is exact
    gtol = max(tol, 1e-9) if name == "digamma" else tol
    np.testing.assert_allclose(gfast, gwant, rtol=gtol, atol=tol)


def test_the_kernel_path_is_one_frame(monkeypatch):
    """A plain float tensor does not reach Tensor._apply; an int one does (it is cast)."""
    calls = []
    general = eager_tensor.Tensor._apply.__func__

    def counting(cls, *args):
        calls.append(args[0].name)
        return general(cls, *args)
    monkeypatch.setattr(eager_tensor.Tensor, "_apply", classmethod(counting))
    x = symgrad.tensor([0.5, -1.0], requires_grad=True)
    x.sigmoid().relu().erf()
    assert calls == []
    out = symgrad.tensor([1, 2]).sigmoid()
    assert calls == ["sigmoid"] and out.dtype == symgrad.float32
    np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-np.array([1.0, 2.0]))), rtol=1e-6)


def test_an_output_written_in_place_is_refused_at_backward():
    for lib in (symgrad, torch):
        x = lib.tensor([0.5, -1.0], requires_grad=True)
        y = x.sigmoid()  # its backward reads y
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_no_grad_and_an_input_without_grad_record_nothing():
    x = symgrad.tensor([0.5, -1.0])
    assert x.sigmoid().grad_fn is None
    with symgrad.no_grad():
        assert symgrad.tensor([0.5], requires_grad=True).sigmoid().grad_fn is None
