"""Eager autograd against PyTorch's "Automatic Differentiation with torch.autograd" tutorial.

Most tests take the `lib` fixture and run twice: on symgrad and, when it is importable, on
PyTorch itself, so every expectation written here is checked to be PyTorch's behaviour.
Values are checked against closed forms, and against PyTorch on the same data.
"""

import re
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgrad

try:
    import torch
except Exception:  # not installed, or installed but broken: the torch cases skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not importable")
ignore_create_graph_warning = pytest.mark.filterwarnings(
    "ignore:Using backward\\(\\) with create_graph=True")

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- helpers

def values(t):
    """A tensor's data as a NumPy array (works for symgrad and torch tensors)."""
    return np.array(t.detach().numpy())


def assert_values(t, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(values(t), np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


def tutorial_network(lib, w, b):
    """The tutorial's one-layer network on leaves `w` (5x3) and `b` (3,)."""
    x = lib.ones(5)
    y = lib.zeros(3)
    z = lib.matmul(x, w) + b
    loss = lib.nn.functional.binary_cross_entropy_with_logits(z, y)
    return x, y, z, loss


def tutorial_closed_form(w, b):
    """Loss, d loss/d w and d loss/d b of the tutorial network (x = ones, y = zeros), in float64."""
    x, y = np.ones(5), np.zeros(3)
    z = x @ w.astype(np.float64) + b.astype(np.float64)
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    grad_b = (1.0 / (1.0 + np.exp(-z)) - y) / 3
    return loss, np.outer(x, grad_b), grad_b


def fixed_parameters(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((5, 3)).astype(np.float32),
            rng.standard_normal(3).astype(np.float32))


def leaves_reached(node):
    """The variables of every AccumulateGrad node reachable from `node`."""
    found, stack = [], [node]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if type(n).__name__ == "AccumulateGrad":
            found.append(n.variable)
        stack.extend(child for child, _ in n.next_functions)
    return found


def jacobian_example(lib):
    """The tutorial's `out = (inp + 1).pow(2).t()` with inp = eye(4, 5)."""
    inp = lib.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    return inp, out


# d out / d inp summed against ones: 2 (inp + 1), i.e. 4 on the diagonal and 2 elsewhere
JACOBIAN_GRAD = 2 * (np.eye(4, 5) + 1)


# ---------------------------------------------------------------- the tutorial's network

def test_tutorial_network_gradients_equal_closed_form(lib):
    lib.manual_seed(0)
    w = lib.randn(5, 3, requires_grad=True)
    b = lib.randn(3, requires_grad=True)
    _, _, _, loss = tutorial_network(lib, w, b)
    expected_loss, expected_gw, expected_gb = tutorial_closed_form(values(w), values(b))

    assert_values(loss, expected_loss)
    assert w.grad is None and b.grad is None
    loss.backward()
    assert w.grad.shape == (5, 3) and b.grad.shape == (3,)
    assert w.grad.dtype == lib.float32
    assert_values(b.grad, expected_gb)
    assert_values(w.grad, expected_gw)


def test_tutorial_network_grad_fn_graph(lib):
    w0, b0 = fixed_parameters()
    w = lib.tensor(w0, requires_grad=True)
    b = lib.tensor(b0, requires_grad=True)
    x, y, z, loss = tutorial_network(lib, w, b)

    assert type(z.grad_fn).__name__ == "AddBackward0"
    assert z.grad_fn.name() == "AddBackward0"
    assert type(loss.grad_fn).__name__ == "BinaryCrossEntropyWithLogitsBackward0"
    assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    assert loss.grad_fn.next_functions == ((z.grad_fn, 0), (None, 0))

    # leaves have no grad_fn; a leaf that requires grad is fed through AccumulateGrad
    assert w.grad_fn is None and b.grad_fn is None and x.grad_fn is None and y.grad_fn is None
    accumulate, index = z.grad_fn.next_functions[1]
    assert type(accumulate).__name__ == "AccumulateGrad" and index == 0
    assert accumulate.variable is b
    assert {id(v) for v in leaves_reached(loss.grad_fn)} == {id(w), id(b)}


def test_leaf_used_twice_has_one_accumulator(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    (left, _), (right, _) = (w * w).grad_fn.next_functions
    assert left is right and left.variable is w


def test_tutorial_gradients_accumulate_with_retain_graph(lib):
    w0, b0 = fixed_parameters(1)
    w = lib.tensor(w0, requires_grad=True)
    b = lib.tensor(b0, requires_grad=True)
    *_, loss = tutorial_network(lib, w, b)
    _, expected_gw, expected_gb = tutorial_closed_form(w0, b0)

    loss.backward(retain_graph=True)
    loss.backward()
    assert_values(w.grad, 2 * expected_gw)
    assert_values(b.grad, 2 * expected_gb)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()


@needs_torch
def test_tutorial_network_matches_torch():
    w0, b0 = fixed_parameters(2)
    results = []
    for lib in (symgrad, torch):
        w = lib.tensor(w0, requires_grad=True)
        b = lib.tensor(b0, requires_grad=True)
        *_, loss = tutorial_network(lib, w, b)
        loss.backward()
        results.append((values(loss), values(w.grad), values(b.grad)))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_tutorial_example_script_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "autograd_tutorial.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Gradient function for z = <AddBackward0 object at" in out
    assert "Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at" in out
    assert "Second call\ntensor([[8., 4., 4., 4., 4.]," in out
    assert "Call after zeroing gradients\ntensor([[4., 2., 2., 2., 2.]," in out


# ---------------------------------------------------------------- requires_grad, no_grad, detach

def test_requires_grad_propagates_and_is_leaf(lib):
    x = lib.ones(5)
    w = lib.randn(5, 3, requires_grad=True)
    assert not x.requires_grad and x.is_leaf
    assert w.requires_grad and w.is_leaf

    constant = x * 2 + 1
    assert not constant.requires_grad and constant.grad_fn is None and constant.is_leaf

    z = lib.matmul(x, w)
    assert z.requires_grad and not z.is_leaf and z.grad_fn is not None

    b = lib.zeros(3)
    assert b.requires_grad_() is b
    assert b.requires_grad and b.is_leaf
    assert (z + b).requires_grad


def test_requires_grad_of_a_non_leaf_cannot_be_switched_off(lib):
    z = lib.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        z.requires_grad = False


def test_no_grad_context_manager(lib):
    w = lib.randn(5, 3, requires_grad=True)
    x = lib.ones(5)
    assert lib.is_grad_enabled()
    with lib.no_grad():
        assert not lib.is_grad_enabled()
        z = lib.matmul(x, w)
        with lib.enable_grad():
            inner = lib.matmul(x, w)
    assert lib.is_grad_enabled()
    assert not z.requires_grad and z.grad_fn is None and z.is_leaf
    assert inner.requires_grad and inner.grad_fn is not None


def test_no_grad_restores_grad_mode_after_an_exception(lib):
    with pytest.raises(KeyError), lib.no_grad():
        raise KeyError("boom")
    assert lib.is_grad_enabled()


@pytest.mark.parametrize("called", [True, False], ids=["no_grad()", "bare-no_grad"])
def test_no_grad_as_decorator(lib, called):
    def double(t):
        assert not lib.is_grad_enabled()
        return t * 2

    decorated = lib.no_grad()(double) if called else lib.no_grad(double)
    out = decorated(lib.ones(3, requires_grad=True))
    assert not out.requires_grad and out.grad_fn is None
    assert_values(out, [2.0, 2.0, 2.0])
    assert lib.is_grad_enabled()


def test_no_grad_allows_in_place_update_of_a_parameter(lib):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    param = w
    (w * w).sum().backward()
    with lib.no_grad():
        w -= 0.1 * w.grad
    assert w is param, "`w -= ...` under no_grad must update the parameter in place"
    assert w.requires_grad and w.is_leaf
    assert_values(w, [0.8, 1.6, 2.4])


def _zero_(t):
    t.zero_()


def _isub(t):
    t -= 1.0


@pytest.mark.parametrize("in_place", [_zero_, _isub], ids=["zero_", "-="])
def test_in_place_op_on_a_leaf_that_requires_grad_raises(lib, in_place):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        in_place(w)
    assert_values(w, [1.0, 2.0])


def test_detach_shares_data_and_drops_history(lib):
    w = lib.randn(5, 3, requires_grad=True)
    z = lib.matmul(lib.ones(5), w) + 1
    z_det = z.detach()
    assert not z_det.requires_grad and z_det.grad_fn is None and z_det.is_leaf
    assert z.requires_grad and z.grad_fn is not None
    np.testing.assert_array_equal(values(z_det), values(z))

    assert np.shares_memory(z_det.numpy(), z.detach().numpy())
    z_det.zero_()
    np.testing.assert_array_equal(values(z), np.zeros(3))


def test_non_leaf_grad_is_none_with_a_warning_unless_retained(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    kept = x * 3
    kept.retain_grad()
    (y.sum() + kept.sum()).backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_values(kept.grad, [1.0, 1.0, 1.0])
    assert_values(x.grad, [5.0, 7.0, 9.0])


# ---------------------------------------------------------------- Jacobian products, retain_graph

def test_jacobian_product_accumulates_and_zeroes(lib):
    inp, out = jacobian_example(lib)
    ones = lib.ones_like(out)
    assert out.shape == (5, 4)

    out.backward(ones, retain_graph=True)
    assert_values(inp.grad, JACOBIAN_GRAD)
    out.backward(ones, retain_graph=True)
    assert_values(inp.grad, 2 * JACOBIAN_GRAD)
    inp.grad.zero_()
    out.backward(ones, retain_graph=True)
    assert_values(inp.grad, JACOBIAN_GRAD)


@pytest.mark.parametrize("first_retains", [True, False])
def test_second_backward_without_retain_graph_raises(lib, first_retains):
    inp, out = jacobian_example(lib)
    ones = lib.ones_like(out)
    if first_retains:
        out.backward(ones, retain_graph=True)
    out.backward(ones)  # frees the saved buffers
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        out.backward(ones)


def test_graph_that_saves_nothing_can_backward_twice(lib):
    a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = (a + 1).sum()
    s.backward()
    s.backward()
    assert_values(a.grad, [2.0, 2.0, 2.0])


def _freed_chain(lib, w):
    loss = (w * w).sum()
    loss.backward()
    return loss  # its MulBackward0 has freed what it saved


def _new_node_on_freed_graph(lib, w):
    h = w * w
    h.sum().backward()
    return (h * w).sum()  # a fresh node that reaches w directly and through the freed one


def _fresh_branch_plus_freed_graph(lib, w):
    shared = (w * w).sum()
    shared.backward()
    return w.sum() + shared


@pytest.mark.parametrize("failing_graph", [_freed_chain, _new_node_on_freed_graph,
                                           _fresh_branch_plus_freed_graph])
def test_failing_backward_leaves_grads_unchanged(lib, failing_graph):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    loss = failing_graph(lib, w)
    assert_values(w.grad, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()
    assert_values(w.grad, [2.0, 4.0])
    (w * w).sum().backward()  # the leaf is still usable and accumulates normally
    assert_values(w.grad, [4.0, 8.0])


@pytest.mark.parametrize(("step", "factor"), [(lambda t: t * 1.0000001, 1.0000001),
                                              (lambda t: t + 0.0, 1.0)], ids=["mul", "add"])
def test_backward_through_a_chain_of_100_000_ops(step, factor):
    n = 100_000
    w = symgrad.tensor(2.0, dtype=symgrad.float64, requires_grad=True)
    t = w
    for _ in range(n):
        t = step(t)
    t.backward()
    assert w.grad.item() == pytest.approx(factor ** n, rel=1e-9)
    assert t.item() == pytest.approx(2.0 * factor ** n, rel=1e-9)


# ---------------------------------------------------------------- create_graph

@ignore_create_graph_warning
def test_second_and_third_derivative_with_create_graph(lib):
    x0 = np.array([1.0, 2.0, 3.0])
    x = lib.tensor(x0.tolist(), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.grad_fn is not None
    assert_values(first, 3 * x0 ** 2)

    x.grad = None
    first.sum().backward(create_graph=True)
    second = x.grad
    assert_values(second, 6 * x0)

    x.grad = None
    second.sum().backward()
    assert_values(x.grad, [6.0, 6.0, 6.0])


@ignore_create_graph_warning
def test_create_graph_gradient_accumulates_into_the_same_grad(lib):
    x0 = np.array([1.0, 2.0, 3.0])
    x = lib.tensor(x0.tolist(), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    first.sum().backward()  # adds d(sum 3x^2)/dx = 6x to x.grad, in place
    assert x.grad is first
    assert_values(x.grad, 3 * x0 ** 2 + 6 * x0)


# ---------------------------------------------------------------- errors

def test_implicit_gradient_of_non_scalar_raises(lib):
    _, out = jacobian_example(lib)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        out.backward()


@pytest.mark.parametrize("make", [lambda lib: lib.tensor(1.5),
                                  lambda lib: (lib.ones(3) * 2).sum()], ids=["leaf", "computed"])
def test_backward_without_grad_fn_raises(lib, make):
    with pytest.raises(RuntimeError,
                       match="element 0 of tensors does not require grad and does not have a grad_fn"):
        make(lib).backward()


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1, 2], requires_grad=True),
    lambda lib: lib.ones(3, dtype=lib.int64, requires_grad=True),
    lambda lib: lib.tensor([1, 2]).requires_grad_(),
], ids=["tensor", "ones", "requires_grad_"])
def test_integer_tensor_cannot_require_grad(lib, make):
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
        make(lib)


@pytest.mark.parametrize(("combine", "a_shape", "b_shape"), [
    (lambda a, b: a + b, (2, 3), (4,)),
    (lambda a, b: a * b, (2, 3), (3, 2)),
    (lambda a, b: a @ b, (2, 3), (4, 5)),
], ids=["add", "mul", "matmul"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_shape_mismatch_raises_shape_error_naming_both_shapes(combine, a_shape, b_shape, requires_grad):
    a = symgrad.ones(a_shape, requires_grad=requires_grad)
    b = symgrad.ones(b_shape)
    with pytest.raises(symgrad.ShapeError) as info:
        combine(a, b)
    assert isinstance(info.value, RuntimeError)
    assert str(a_shape) in str(info.value) and str(b_shape) in str(info.value)


def test_shape_mismatch_is_a_runtime_error(lib):
    with pytest.raises(RuntimeError):
        lib.ones(2, 3) + lib.ones(4)


@pytest.mark.parametrize("grad_shape", [(4, 5), (4,), (5, 4, 1)])
def test_gradient_of_wrong_shape_raises(lib, grad_shape):
    inp, out = jacobian_example(lib)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        out.backward(lib.ones(grad_shape))
    assert inp.grad is None


# ---------------------------------------------------------------- creation

@pytest.mark.parametrize(("data", "dtype_name"), [
    (1.5, "float32"),
    ([1.0, 2.0], "float32"),
    ([1, 2.5], "float32"),
    ([1, 2], "int64"),
    ([[1, 2], [3, 4]], "int64"),
    (True, "bool"),
    (np.array([1.0, 2.0]), "float64"),
    (np.array([1.0, 2.0], dtype=np.float32), "float32"),
])
def test_tensor_infers_dtype(lib, data, dtype_name):
    assert lib.tensor(data).dtype == getattr(lib, dtype_name)


def test_tensor_dtype_argument_and_aliases(lib):
    assert lib.tensor([1, 2], dtype=lib.float32).dtype == lib.float32
    assert lib.tensor([1.5], dtype=lib.float64).dtype == lib.float64
    assert lib.float == lib.float32 and lib.double == lib.float64 and lib.long == lib.int64


def test_tensor_copies_its_data(lib):
    source = np.array([1.0, 2.0])
    t = lib.tensor(source)
    source[0] = 9.0
    assert_values(t, [1.0, 2.0])


@pytest.mark.parametrize("name", ["ones", "zeros", "randn"])
def test_sizes_as_varargs_or_tuple(lib, name):
    make = getattr(lib, name)
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert t.shape == (2, 3) and t.dtype == lib.float32 and t.is_leaf and not t.requires_grad
    assert make(5).shape == (5,)
    t = make(4, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert make(2, dtype=lib.float64).dtype == lib.float64


def test_ones_and_zeros_values(lib):
    np.testing.assert_array_equal(values(lib.ones(2, 3)), np.ones((2, 3)))
    np.testing.assert_array_equal(values(lib.zeros(3)), np.zeros(3))


@pytest.mark.parametrize("size", [(3,), (4, 5), (5, 4)])
def test_eye(lib, size):
    t = lib.eye(*size)
    assert t.dtype == lib.float32
    np.testing.assert_array_equal(values(t), np.eye(*size))


def test_ones_like(lib):
    w = lib.randn(2, 3, requires_grad=True)
    o = lib.ones_like(w)
    assert o.shape == (2, 3) and o.dtype == lib.float32
    assert not o.requires_grad and o.is_leaf
    np.testing.assert_array_equal(values(o), np.ones((2, 3)))
    assert lib.ones_like(lib.tensor([1, 2])).dtype == lib.int64
    assert lib.ones_like(w, dtype=lib.float64).dtype == lib.float64


def test_manual_seed_makes_randn_reproducible(lib):
    lib.manual_seed(0)
    a = values(lib.randn(2, 3))
    lib.manual_seed(0)
    b = values(lib.randn((2, 3)))
    lib.manual_seed(1)
    c = values(lib.randn(2, 3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.std() > 0.1  # samples, not a constant


# ---------------------------------------------------------------- repr

REPR_CASES = [
    ("requires_grad", lambda lib: lib.tensor([0.2964, 0.1372], requires_grad=True),
     "tensor([0.2964, 0.1372], requires_grad=True)"),
    ("grad_fn", lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
     "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    ("0d_grad_fn", lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum(),
     "tensor(3., grad_fn=<SumBackward0>)"),
    ("0d_mean", lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).mean(),
     "tensor(1.5000, grad_fn=<MeanBackward0>)"),
    ("integer_valued", lambda lib: lib.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    ("negative_integer_valued", lambda lib: lib.tensor([-1.0, 10.0]), "tensor([-1., 10.])"),
    ("sci_small", lambda lib: lib.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    ("sci_large", lambda lib: lib.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    ("padded", lambda lib: lib.tensor([-1.5, 2.25, 100.0]), "tensor([ -1.5000,   2.2500, 100.0000])"),
    ("nan_inf", lambda lib: lib.tensor([float("nan"), float("-inf"), 1.0]), "tensor([nan, -inf, 1.])"),
    ("int64", lambda lib: lib.tensor([1, -20, 300]), "tensor([  1, -20, 300])"),
    ("int64_2d", lambda lib: lib.tensor([[1, -20], [300, 4]]), "tensor([[  1, -20],\n        [300,   4]])"),
    ("bool", lambda lib: lib.tensor([True, False]), "tensor([ True, False])"),
    ("matrix", lambda lib: 2 * (lib.eye(4, 5) + 1),
     "tensor([[4., 2., 2., 2., 2.],\n        [2., 4., 2., 2., 2.],\n"
     "        [2., 2., 4., 2., 2.],\n        [2., 2., 2., 4., 2.]])"),
    ("3d", lambda lib: lib.tensor(np.arange(8).reshape(2, 2, 2).tolist()),
     "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"),
    ("0d_float", lambda lib: lib.tensor(3.5), "tensor(3.5000)"),
    ("0d_int", lambda lib: lib.tensor(3), "tensor(3)"),
    ("float64", lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
     "tensor([1., 2.], dtype=symgrad.float64)"),
    ("0d_float64", lambda lib: lib.tensor(1.5, dtype=lib.float64, requires_grad=True),
     "tensor(1.5000, dtype=symgrad.float64, requires_grad=True)"),
    ("float64_grad_fn", lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64, requires_grad=True) + 1,
     "tensor([2.5000, 3.0000], dtype=symgrad.float64, grad_fn=<AddBackward0>)"),
    ("suffix_wrapped", lambda lib: lib.tensor(np.arange(12.0).tolist(), requires_grad=True) * 1,
     "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11.],\n"
     "       grad_fn=<MulBackward0>)"),
    ("suffixes_wrapped", lambda lib: lib.tensor([0.25] * 7, dtype=lib.float64, requires_grad=True),
     "tensor([0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500],\n"
     "       dtype=symgrad.float64, requires_grad=True)"),
    ("empty", lambda lib: lib.tensor([]), "tensor([])"),
    ("empty_2d", lambda lib: lib.zeros(0, 3), "tensor([], size=(0, 3))"),
    ("wrapped", lambda lib: lib.tensor((np.arange(30.0) / 7).tolist()),
     "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
     "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
     "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
     "        3.8571, 4.0000, 4.1429])"),
    ("summarized", lambda lib: lib.tensor(np.arange(2000.0).tolist()),
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
     "        1.9990e+03])"),
    ("summarized_2d", lambda lib: lib.tensor(np.arange(1200).reshape(40, 30).tolist()),
     "tensor([[   0,    1,    2,  ...,   27,   28,   29],\n"
     "        [  30,   31,   32,  ...,   57,   58,   59],\n"
     "        [  60,   61,   62,  ...,   87,   88,   89],\n"
     "        ...,\n"
     "        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n"
     "        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n"
     "        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])"),
]


@pytest.mark.parametrize(("make", "expected"), [case[1:] for case in REPR_CASES],
                         ids=[case[0] for case in REPR_CASES])
def test_repr(lib, make, expected):
    assert repr(make(lib)).replace("torch.", "symgrad.") == expected


def _random_array(seed):
    """Arrays of varied shape, magnitude, sign and integrality for repr comparisons."""
    rng = np.random.default_rng(seed)
    shape = [(7,), (3, 4), (2, 3, 2), (1,), (12,)][seed % 5]
    scale = [1e-6, 1e-3, 1.0, 37.0, 1e4, 1e9][seed % 6]
    a = rng.standard_normal(shape) * scale
    if seed % 3 == 0 and scale >= 1:
        a = np.round(a)
    if seed % 4 == 0:
        a = np.abs(a)
    return a.astype(np.float64 if seed % 7 == 0 else np.float32)


@needs_torch
@pytest.mark.parametrize("with_grad_fn", [False, True], ids=["plain", "grad_fn"])
@pytest.mark.parametrize("seed", range(30))
def test_repr_matches_torch_on_varied_data(seed, with_grad_fn):
    a = _random_array(seed)
    ours, theirs = symgrad.tensor(a), torch.tensor(a)
    if with_grad_fn:
        ours, theirs = ours.requires_grad_() * 1, theirs.requires_grad_() * 1
    # "symgrad." is two characters longer than "torch.", so a suffix can wrap in one and not
    # the other: compare with the suffix separators normalised
    def unwrap(text):
        return re.sub(r",\n +(dtype|grad_fn|requires_grad)", r", \1", text)

    assert unwrap(repr(ours)) == unwrap(repr(theirs).replace("torch.", "symgrad."))


@pytest.mark.parametrize("name, shapes", [
    ("mm", ((3, 4), (4, 2))), ("bmm", ((5, 3, 4), (5, 4, 2))),
])
def test_mm_and_bmm_multiply_and_refuse_other_ranks(lib, name, shapes):
    a, b = (np.arange(float(np.prod(s))).reshape(s) / 7 for s in shapes)
    product = getattr(lib, name)(lib.tensor(a), lib.tensor(b))
    np.testing.assert_allclose(product.numpy(), a @ b)
    with pytest.raises(RuntimeError, match=name if lib is symgrad else None):
        getattr(lib, name)(lib.tensor(a[0]), lib.tensor(b))
