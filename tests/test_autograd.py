"""symgrad.autograd against PyTorch: grad/backward, hooks, grad modes, in-place ops and the
version counter, freed buffers and memory, custom Functions, gradcheck, anomaly mode, dtype
promotion and error messages.

Most tests take the `lib` fixture and run twice: on symgrad and, when it is importable, on
PyTorch itself, so every expectation written here is checked to be PyTorch's behaviour.
"""

import gc
import inspect
import threading
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import symgrad

try:
    import torch
except Exception:  # not installed, or installed but broken: the torch cases skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not importable")
ignore_anomaly_warnings = pytest.mark.filterwarnings(
    "ignore:Anomaly Detection has been enabled", "ignore:Error detected in",
    "ignore:invalid value encountered", "ignore:divide by zero encountered")


@pytest.fixture(autouse=True)
def _restore_modes():
    """A failing test must not leave grad mode off or anomaly mode on for the next one."""
    yield
    for module in (symgrad, torch):
        if module is not None:
            module.set_grad_enabled(True)
            module.autograd.set_detect_anomaly(False)


# ---------------------------------------------------------------- helpers

def values(t):
    """A tensor's data as a float64 NumPy array (symgrad or torch tensor)."""
    return np.array(t.detach().numpy(), dtype=np.float64)


def assert_values(t, expected, rtol=1e-5, atol=1e-6):
    assert t is not None, "expected a tensor, got None"
    np.testing.assert_allclose(values(t), np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


def dtype_name(t):
    """'float32', 'int64', 'bool', ... for a symgrad or torch tensor."""
    return str(t.dtype).removeprefix("torch.")


def leaf(lib, data, dtype=None):
    return lib.tensor(data, dtype=dtype or lib.float64, requires_grad=True)


def caller_line():
    """The line number of the line that calls this."""
    return inspect.currentframe().f_back.f_lineno


# ================================================================ 1. grad and backward

def test_grad_with_grad_outputs_returns_without_accumulating(lib):
    x = leaf(lib, [1.0, 2.0, 3.0])
    (g,) = lib.autograd.grad(x * x, x, grad_outputs=lib.tensor([1.0, 0.5, -1.0], dtype=lib.float64))
    assert_values(g, [2.0, 2.0, -6.0])
    assert not g.requires_grad
    assert x.grad is None


def test_grad_frees_the_graph_unless_retain_graph(lib):
    x = leaf(lib, [1.0, 2.0])
    y = (x * x).sum()
    (g1,) = lib.autograd.grad(y, x, retain_graph=True)
    (g2,) = lib.autograd.grad(y, x)
    assert_values(g1, [2.0, 4.0])
    assert_values(g2, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        lib.autograd.grad(y, x)


def test_second_and_third_derivative_of_cube(lib):
    x = leaf(lib, [1.0, 2.0, -3.0])
    (g,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    assert_values(g, 3 * np.array([1.0, 4.0, 9.0]))
    (h,) = lib.autograd.grad(g.sum(), x, create_graph=True)
    assert_values(h, [6.0, 12.0, -18.0])
    (third,) = lib.autograd.grad(h.sum(), x)
    assert_values(third, [6.0, 6.0, 6.0])


def test_hessian_vector_product_equals_closed_form(lib):
    a = np.array([[1.0, 2.0, 0.0], [-1.0, 3.0, 1.0], [0.5, 0.0, 2.0]])
    x0, v0 = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -1.0])
    x, v, A = leaf(lib, x0), lib.tensor(v0), lib.tensor(a)
    f = x @ A @ x + (x ** 3).sum()  # Hessian: A + A^T + diag(6x)
    (g,) = lib.autograd.grad(f, x, create_graph=True)
    assert_values(g, (a + a.T) @ x0 + 3 * x0 ** 2)
    (hv,) = lib.autograd.grad(g, x, grad_outputs=v)
    assert_values(hv, (a + a.T) @ v0 + 6 * x0 * v0)


def test_allow_unused(lib):
    x, unused = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph. Set "
                                           "allow_unused=True if this is the desired behavior"):
        lib.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = lib.autograd.grad(y, [x, unused], allow_unused=True)
    assert_values(gx, [2.0, 2.0])
    assert gu is None


def test_materialize_grads_gives_zeros_for_unused_inputs(lib):
    x, unused = leaf(lib, [1.0, 2.0]), leaf(lib, [[3.0, 4.0]])
    gx, gu = lib.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert_values(gx, [2.0, 2.0])
    assert tuple(gu.shape) == (1, 2)
    assert_values(gu, [[0.0, 0.0]])


def test_materialize_grads_with_allow_unused_false_is_a_value_error(lib):
    x, unused = leaf(lib, [1.0]), leaf(lib, [3.0])
    with pytest.raises(ValueError, match="allow_unused"):
        lib.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True, allow_unused=False)


def test_grad_of_several_outputs_and_inputs(lib):
    a, b = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, -1.0])
    y1, y2 = a * b, a + b * b
    ga, gb = lib.autograd.grad([y1, y2], [a, b], grad_outputs=[lib.ones(2, dtype=lib.float64),
                                                               lib.tensor([2.0, 3.0], dtype=lib.float64)])
    assert_values(ga, [3.0 + 2.0, -1.0 + 3.0])
    assert_values(gb, [1.0 + 2 * 2 * 3.0, 2.0 + 3 * 2 * -1.0])
    assert a.grad is None and b.grad is None


def test_backward_inputs_accumulates_only_into_those(lib):
    a, b = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
    loss = (a * b).sum()
    loss.backward(inputs=[a], retain_graph=True)
    assert_values(a.grad, [3.0, 4.0])
    assert b.grad is None
    loss.backward(inputs=[a])
    assert_values(a.grad, [6.0, 8.0])
    assert b.grad is None


def test_backward_inputs_may_name_a_non_leaf(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a populated .grad of an input gives no warning
        (y * y).sum().backward(inputs=[y])
        assert_values(y.grad, [6.0, 12.0])
    assert x.grad is None


def test_autograd_backward_of_several_tensors(lib):
    x = leaf(lib, [1.0, 2.0])
    y1, y2 = x * 2, x ** 2
    grads = [lib.ones(2, dtype=lib.float64), lib.tensor([1.0, 3.0], dtype=lib.float64)]
    lib.autograd.backward([y1, y2], grads)
    assert_values(x.grad, [2 + 2 * 1.0 * 1, 2 + 2 * 2.0 * 3])
    lib.autograd.backward([(x * 5).sum(), (x * x).sum()])  # scalars: implicit gradients of one
    assert_values(x.grad, [4 + 5 + 2.0, 14 + 5 + 4.0])


# ================================================================ 2. retain_grad and hooks

def test_non_leaf_grad_warns_and_is_none(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert y.grad is None
    assert_values(x.grad, [2.0, 2.0])


def test_retain_grad_keeps_non_leaf_grad_without_warning(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 3
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z = (y * y).sum()
    z.backward(retain_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_values(y.grad, [6.0, 12.0])
    z.backward()  # retained grads accumulate like a leaf's
    assert_values(y.grad, [12.0, 24.0])
    assert_values(x.grad, [36.0, 72.0])


def test_hook_doubling_a_leaf_gradient_changes_grad(lib):
    x = leaf(lib, [1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    assert_values(x.grad, [6.0, 6.0])
    (x * x).sum().backward()  # hooks run on every backward, before accumulation
    assert_values(x.grad, [6.0 + 4.0, 6.0 + 8.0])


def test_hook_on_non_leaf_changes_what_flows_on(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 3
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert_values(x.grad, 3 * 10 * 2 * np.array([3.0, 6.0]))


def test_hook_returning_none_observes_the_summed_gradient_once(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 1
    seen_y, seen_x = [], []
    y.register_hook(lambda g: seen_y.append(values(g)))
    x.register_hook(lambda g: seen_x.append(values(g)))
    (y * 2 + y * 5 + x).sum().backward()
    assert len(seen_y) == 1 and len(seen_x) == 1
    np.testing.assert_allclose(seen_y[0], [7.0, 7.0])
    np.testing.assert_allclose(seen_x[0], [8.0, 8.0])
    assert_values(x.grad, [8.0, 8.0])


def test_hooks_run_in_registration_order(lib):
    x = leaf(lib, [1.0])
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    assert_values(x.grad, [8.0])


def test_removed_hook_does_not_run(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 1
    hx = x.register_hook(lambda g: g * 100)
    hy = y.register_hook(lambda g: g * 100)
    hx.remove()
    hy.remove()
    hy.remove()  # removing twice is harmless
    (y * 3).sum().backward()
    assert_values(x.grad, [3.0, 3.0])


@pytest.mark.parametrize("hook_first", [True, False])
def test_retained_grad_sees_the_hooked_gradient_in_either_order(lib, hook_first):
    x = leaf(lib, [1.0, 2.0])
    y = x * 3
    if hook_first:
        y.register_hook(lambda g: g * 10)
    y.retain_grad()
    if not hook_first:
        y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert_values(y.grad, [60.0, 120.0])
    assert_values(x.grad, [180.0, 360.0])


def test_leaf_hook_applies_to_autograd_grad(lib):
    x = leaf(lib, [1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    (g,) = lib.autograd.grad((x * 3).sum(), x)
    assert_values(g, [6.0, 6.0])
    assert x.grad is None


def test_hook_on_tensor_without_grad_raises(lib):
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require "
                                           "gradient"):
        lib.ones(2).register_hook(lambda g: g)


# ================================================================ 3. grad modes

def _grad_mode_decorators():
    return {
        "no_grad()": (lambda L: L.no_grad(), False),
        "no_grad": (lambda L: L.no_grad, False),
        "enable_grad()": (lambda L: L.enable_grad(), True),
        "enable_grad": (lambda L: L.enable_grad, True),
        "inference_mode()": (lambda L: L.inference_mode(), False),
        "inference_mode": (lambda L: L.inference_mode, False),
        "set_grad_enabled(False)": (lambda L: L.set_grad_enabled(False), False),
        "set_grad_enabled(True)": (lambda L: L.set_grad_enabled(True), True),
    }


@pytest.mark.parametrize("name", list(_grad_mode_decorators()))
@pytest.mark.parametrize("outside", [True, False])
def test_grad_mode_decorators(lib, name, outside):
    make, inside = _grad_mode_decorators()[name]
    x = leaf(lib, [1.0, 2.0])
    with lib.set_grad_enabled(outside):
        decorator = make(lib)

        @decorator
        def double(t):
            """Doubles."""
            return t * 2, lib.is_grad_enabled()

        assert lib.is_grad_enabled() is outside, "decorating must not change the grad mode"
        y, enabled = double(x)
        assert enabled is inside
        assert y.requires_grad is inside
        assert lib.is_grad_enabled() is outside
    assert double.__name__ == "double" and double.__doc__ == "Doubles."


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "set_grad_enabled"])
def test_grad_off_context_managers(lib, mode):
    x = leaf(lib, [1.0, 2.0])
    cm = {"no_grad": lambda: lib.no_grad(), "inference_mode": lambda: lib.inference_mode(),
          "set_grad_enabled": lambda: lib.set_grad_enabled(False)}[mode]
    with cm():
        assert not lib.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
        with lib.enable_grad():
            assert lib.is_grad_enabled()
            # (PyTorch's inference mode still records nothing here: its tensors are special)
            assert (x * 2).requires_grad or mode == "inference_mode"
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_function(lib):
    x = leaf(lib, [1.0])
    lib.set_grad_enabled(False)
    assert not lib.is_grad_enabled()
    assert not (x * 2).requires_grad
    lib.set_grad_enabled(True)
    assert lib.is_grad_enabled()
    assert (x * 2).requires_grad


def test_nested_grad_modes_restore_on_exit_and_on_error(lib):
    with lib.no_grad():
        with lib.set_grad_enabled(True):
            assert lib.is_grad_enabled()
            with pytest.raises(ZeroDivisionError), lib.no_grad():
                raise ZeroDivisionError
            assert lib.is_grad_enabled()
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()


def test_inference_mode_false_enables_grad(lib):
    with lib.inference_mode(False):
        assert lib.is_grad_enabled()
    with lib.no_grad():
        with lib.inference_mode(False):
            assert lib.is_grad_enabled()
            assert (leaf(lib, [1.0]) * 2).requires_grad
        assert not lib.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_affect_another(lib):
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with lib.no_grad():
            seen["worker"] = lib.is_grad_enabled()
            entered.set()
            release.wait(10)
        seen["worker after"] = lib.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(10)
        x = leaf(lib, [1.0])
        assert lib.is_grad_enabled()
        assert (x * 2).requires_grad
    finally:
        release.set()
        thread.join(10)
    assert seen == {"worker": False, "worker after": True}


def test_new_thread_starts_with_grad_enabled_and_its_changes_stay_there(lib):
    seen = {}

    def worker():
        seen["start"] = lib.is_grad_enabled()
        lib.set_grad_enabled(False)
        seen["set"] = lib.is_grad_enabled()

    with lib.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
        assert not lib.is_grad_enabled()
    assert seen == {"start": True, "set": False}
    assert lib.is_grad_enabled()


# ================================================================ 4. in-place ops and versions

INPLACE_VALUES = {
    "add_": (lambda t, L: t.add_(1), [2.0, 3.0, 4.0]),
    "add_ alpha": (lambda t, L: t.add_(L.tensor([1.0, 1.0, 2.0]), alpha=2), [3.0, 4.0, 7.0]),
    "sub_": (lambda t, L: t.sub_(0.5), [0.5, 1.5, 2.5]),
    "sub_ alpha": (lambda t, L: t.sub_(L.tensor([2.0, 2.0, 2.0]), alpha=0.5), [0.0, 1.0, 2.0]),
    "mul_": (lambda t, L: t.mul_(L.tensor([2.0, 0.0, -1.0])), [2.0, 0.0, -3.0]),
    "div_": (lambda t, L: t.div_(4), [0.25, 0.5, 0.75]),
    "zero_": (lambda t, L: t.zero_(), [0.0, 0.0, 0.0]),
    "fill_": (lambda t, L: t.fill_(7), [7.0, 7.0, 7.0]),
    "copy_": (lambda t, L: t.copy_(L.tensor([4.0, 5.0, 6.0])), [4.0, 5.0, 6.0]),
    "copy_ broadcast": (lambda t, L: t.copy_(L.tensor(9.0)), [9.0, 9.0, 9.0]),
    "copy_ float64": (lambda t, L: t.copy_(L.tensor([0.5, 1.5, 2.5], dtype=L.float64)), [0.5, 1.5, 2.5]),
    "pow_": (lambda t, L: t.pow_(2), [1.0, 4.0, 9.0]),
    "clamp_": (lambda t, L: t.clamp_(1.5, 2.5), [1.5, 2.0, 2.5]),
    "neg_": (lambda t, L: t.neg_(), [-1.0, -2.0, -3.0]),
}


@pytest.mark.parametrize("name", list(INPLACE_VALUES))
def test_inplace_method_values_identity_dtype_and_version(lib, name):
    op, expected = INPLACE_VALUES[name]
    t = lib.tensor([1.0, 2.0, 3.0])
    assert t._version == 0
    out = op(t, lib)
    assert out is t
    assert dtype_name(t) == "float32"
    assert_values(t, expected)
    assert t._version == 1


def test_augmented_assignment_operators(lib):
    t = lib.tensor([1.0, 2.0, 3.0])
    same = t
    t += 1
    assert_values(t, [2.0, 3.0, 4.0])
    t -= lib.tensor([1.0, 1.0, 2.0])
    assert_values(t, [1.0, 2.0, 2.0])
    t *= 3
    assert_values(t, [3.0, 6.0, 6.0])
    t /= lib.tensor(2.0)
    assert_values(t, [1.5, 3.0, 3.0])
    assert t is same
    assert t._version == 4


def test_inplace_cannot_change_the_dtype(lib):
    i = lib.tensor([1, 2])
    for op in (lambda: i.div_(2), lambda: i.add_(1.5)):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output "
                                               "type Long|can't be cast to the desired output type"):
            op()
    assert_values(i, [1, 2])
    i += 3  # int + int stays int
    assert dtype_name(i) == "int64"
    assert_values(i, [4, 5])


def test_view_shares_the_version_counter_and_memory(lib):
    t = lib.tensor([1.0, 2.0, 3.0])
    v = t[:2]
    v.add_(10)
    assert_values(t, [11.0, 12.0, 3.0])
    assert t._version == 1 and v._version == 1


LEAF_INPLACE = {
    "add_": lambda w, L: w.add_(1),
    "sub_": lambda w, L: w.sub_(1),
    "mul_": lambda w, L: w.mul_(2),
    "div_": lambda w, L: w.div_(2),
    "zero_": lambda w, L: w.zero_(),
    "fill_": lambda w, L: w.fill_(1),
    "copy_": lambda w, L: w.copy_(L.ones(3)),
    "+=": lambda w, L: w.__iadd__(1),
    "-=": lambda w, L: w.__isub__(1),
    "*=": lambda w, L: w.__imul__(2),
    "/=": lambda w, L: w.__itruediv__(2),
    "setitem": lambda w, L: w.__setitem__(0, 5.0),
}


@pytest.mark.parametrize("name", list(LEAF_INPLACE))
def test_inplace_on_leaf_that_requires_grad_raises_in_grad_mode(lib, name):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an "
                                           "in-place operation"):
        LEAF_INPLACE[name](w, lib)
    assert_values(w, [1.0, 2.0, 3.0])
    assert w._version == 0


@pytest.mark.parametrize("name", list(LEAF_INPLACE))
def test_inplace_on_leaf_works_under_no_grad(lib, name):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with lib.no_grad():
        LEAF_INPLACE[name](w, lib)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    assert w._version == 1


def test_sgd_step_under_no_grad_keeps_the_parameter(lib):
    w = lib.tensor([1.0, -2.0], requires_grad=True)
    same = w
    (w * w).sum().backward()
    with lib.no_grad():
        w -= 0.1 * w.grad
    assert w is same
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    assert_values(w, [1.0 - 0.2, -2.0 + 0.4])
    w.grad.zero_()
    (w * 3).sum().backward()  # and it keeps working as a parameter
    assert_values(w.grad, [3.0, 3.0])


def _saved_modification_cases():
    """name -> (build(L, x, b, c) returning the loss, whether PyTorch raises, expected grads of x, b).

    x and b are leaves [-1, 2, 3] and [2, 3, 4]; c is the constant [2, 4, 5]."""
    x0 = np.array([-1.0, 2.0, 3.0])
    b0, c0 = np.array([2.0, 3.0, 4.0]), np.array([2.0, 4.0, 5.0])

    def exp_output(L, x, b, c):
        y = x.exp()
        y.add_(1)
        return y.sum()

    def mul_input(L, x, b, c):
        a = x * 1
        y = a * b
        a.mul_(2)
        return y.sum()

    def mul_input_other_constant(L, x, b, c):
        a = x * 1
        y = a * c
        a.mul_(2)
        return y.sum()

    def add_input(L, x, b, c):
        a = x * 1
        y = a + b
        a.mul_(2)
        return y.sum()

    def sum_input(L, x, b, c):
        a = x * 1
        y = a.sum()
        a.add_(1)
        return y

    def sin_input(L, x, b, c):
        a = x * 1
        y = a.sin()
        a.add_(1)
        return y.sum()

    def tanh_output(L, x, b, c):
        y = x.tanh()
        y.mul_(2)
        return y.sum()

    def sigmoid_output(L, x, b, c):
        y = x.sigmoid()
        y.mul_(2)
        return y.sum()

    def relu_output(L, x, b, c):
        y = x.relu()
        y.add_(1)
        return y.sum()

    def relu_input(L, x, b, c):
        a = x * 1
        y = a.relu()
        a.add_(1)
        return y.sum()

    def div_numerator(L, x, b, c):
        a = x * 1
        y = a / c
        a.mul_(2)
        return y.sum()

    def div_denominator(L, x, b, c):
        a = x * 1
        y = c / a
        a.mul_(2)
        return y.sum()

    def pow_base(L, x, b, c):
        a = x * 1
        y = a ** 2
        a.add_(1)
        return y.sum()

    def through_a_view(L, x, b, c):
        a = x * 1
        y = a * b
        a[0:1].mul_(2)
        return y.sum()

    def by_item_assignment(L, x, b, c):
        a = x * 1
        y = a * b
        a[0] = 5.0
        return y.sum()

    return {
        "exp output": (exp_output, True, None),
        "mul input": (mul_input, True, None),
        "mul input, other constant": (mul_input_other_constant, False, (c0, None)),
        "add input": (add_input, False, (np.ones(3), np.ones(3))),
        "sum input": (sum_input, False, (np.ones(3), None)),
        "sin input": (sin_input, True, None),
        "tanh output": (tanh_output, True, None),
        "sigmoid output": (sigmoid_output, True, None),
        "relu output": (relu_output, True, None),
        "relu input": (relu_input, False, ((x0 > 0) * 1.0, None)),
        "div numerator, constant denominator": (div_numerator, False, (1 / c0, None)),
        "div denominator": (div_denominator, True, None),
        "pow base": (pow_base, True, None),
        "through a view": (through_a_view, True, None),
        "by item assignment": (by_item_assignment, True, None),
    }, x0, b0, c0


SAVED_CASES, _X0, _B0, _C0 = _saved_modification_cases()


@pytest.mark.parametrize("name", list(SAVED_CASES))
def test_inplace_change_of_saved_tensor_is_detected_only_when_saved(lib, name):
    build, raises, grads = SAVED_CASES[name]
    x, b = leaf(lib, _X0, lib.float32), leaf(lib, _B0, lib.float32)
    loss = build(lib, x, b, lib.tensor(_C0))
    if raises:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
        return
    loss.backward()
    gx, gb = grads
    assert_values(x.grad, gx)
    if gb is None:
        assert b.grad is None
    else:
        assert_values(b.grad, gb)


def _recorded_inplace_cases():
    """name -> (apply(L, y, x, b) in place on y = x * 1, expected grads of x and b).

    x = [-1, 2, 3] and b = [2, 4, 5] are leaves; the loss is y.sum()."""
    x0, b0 = np.array([-1.0, 2.0, 3.0]), np.array([2.0, 4.0, 5.0])
    return {
        "mul_ scalar": (lambda L, y, x, b: y.mul_(6), (6 * np.ones(3), None)),
        "mul_ then mul_": (lambda L, y, x, b: y.mul_(2).mul_(3), (6 * np.ones(3), None)),
        "add_ self input": (lambda L, y, x, b: y.add_(x), (2 * np.ones(3), None)),
        "add_ alpha": (lambda L, y, x, b: y.add_(b, alpha=2), (np.ones(3), 2 * np.ones(3))),
        "sub_": (lambda L, y, x, b: y.sub_(b), (np.ones(3), -np.ones(3))),
        "mul_ tensor": (lambda L, y, x, b: y.mul_(b), (b0, x0)),
        "div_ tensor": (lambda L, y, x, b: y.div_(b), (1 / b0, -x0 / b0 ** 2)),
        "pow_": (lambda L, y, x, b: y.pow_(2), (2 * x0, None)),
        "exp_": (lambda L, y, x, b: y.exp_(), (np.exp(x0), None)),
        "clamp_": (lambda L, y, x, b: y.clamp_(0.0, 2.5), ([0.0, 1.0, 0.0], None)),
        "neg_": (lambda L, y, x, b: y.neg_(), (-np.ones(3), None)),
        "zero_": (lambda L, y, x, b: y.zero_(), (np.zeros(3), None)),
        "fill_": (lambda L, y, x, b: y.fill_(5.0), (np.zeros(3), None)),
        "copy_ from a tensor with history": (lambda L, y, x, b: y.copy_(b * 3),
                                             (np.zeros(3), 3 * np.ones(3))),
        "copy_ from a constant": (lambda L, y, x, b: y.copy_(L.tensor([7.0, 8.0, 9.0])),
                                  (np.zeros(3), None)),
        "+=": (lambda L, y, x, b: y.__iadd__(b), (np.ones(3), np.ones(3))),
        "*=": (lambda L, y, x, b: y.__imul__(b), (b0, x0)),
        "/= then -=": (lambda L, y, x, b: y.__itruediv__(2).__isub__(x), (-0.5 * np.ones(3), None)),
    }, x0, b0


RECORDED_CASES, _RX0, _RB0 = _recorded_inplace_cases()


@pytest.mark.parametrize("name", list(RECORDED_CASES))
def test_inplace_ops_are_recorded_with_correct_gradients(lib, name):
    apply, (gx, gb) = RECORDED_CASES[name]
    x, b = leaf(lib, _RX0, lib.float32), leaf(lib, _RB0, lib.float32)
    y = x * 1
    apply(lib, y, x, b)
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    assert_values(x.grad, gx)
    if gb is None:
        assert b.grad is None
    else:
        assert_values(b.grad, gb)


def test_inplace_grad_fn_names(lib):
    x = leaf(lib, [1.0, 2.0])
    y = x * 2
    assert y.mul_(3).grad_fn.name() == "MulBackward0"
    assert y.add_(x).grad_fn.name() == "AddBackward0"
    assert y._version == 2


def test_inplace_with_a_grad_argument_gives_history_to_a_plain_tensor(lib):
    x = leaf(lib, [1.0, 2.0])
    a = lib.zeros(2, dtype=lib.float64)
    a.add_(x * 3)
    assert a.requires_grad and not a.is_leaf
    a.sum().backward()
    assert_values(x.grad, [3.0, 3.0])


def test_inplace_through_a_view_updates_the_base_gradient(lib):
    x = leaf(lib, [1.0, 2.0, 3.0])
    y = x * 1
    y[:2].mul_(3)
    assert_values(y, [3.0, 6.0, 3.0])
    y.sum().backward()
    assert_values(x.grad, [3.0, 3.0, 1.0])


def test_setitem_slice_records_copy_slices(lib):
    x, v = leaf(lib, [1.0, 2.0, 3.0, 4.0]), leaf(lib, [10.0, 20.0])
    w = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)
    t = x * 1
    t[1:3] = v
    assert type(t.grad_fn).__name__ == "CopySlices"
    assert t._version == 1
    assert_values(t, [1.0, 10.0, 20.0, 4.0])
    (t * w).sum().backward()
    assert_values(x.grad, [1.0, 0.0, 0.0, 4.0])
    assert_values(v.grad, [2.0, 3.0])


def test_setitem_mask_to_zero(lib):
    x = leaf(lib, [1.0, 5.0, 2.0, 7.0])
    w = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)
    t = x * 1
    t[t > 2] = 0
    assert_values(t, [1.0, 0.0, 2.0, 0.0])
    assert t._version == 1
    (t * w).sum().backward()
    assert_values(x.grad, [1.0, 0.0, 3.0, 0.0])


@pytest.mark.parametrize("key, value, expected_x, expected_v", [
    (0, [7.0, 8.0, 9.0], [[0, 0, 0], [4, 5, 6]], [1, 2, 3]),
    ((slice(None), 1), [7.0, 8.0], [[1, 0, 3], [4, 0, 6]], [2, 5]),
    ((1, slice(0, 2)), 7.0, [[1, 2, 3], [0, 0, 6]], 4 + 5),  # a 0-d value, broadcast
    (([0, 1], [2, 0]), [7.0, 8.0], [[1, 2, 0], [0, 5, 6]], [3, 4]),  # integer arrays
], ids=["row", "column", "broadcast 0-d", "integer arrays"])
def test_setitem_gradients_to_both_sides(lib, key, value, expected_x, expected_v):
    x0 = np.arange(6.0).reshape(2, 3)
    x, v = leaf(lib, x0), leaf(lib, value)
    w = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3))
    t = x * 1
    t[key] = v
    assert t._version == 1
    x0[key] = value
    assert_values(t, x0)
    (t * w).sum().backward()
    assert_values(x.grad, expected_x)
    assert_values(v.grad, expected_v)


def test_setitem_of_a_grad_value_into_a_plain_tensor(lib):
    v = leaf(lib, [1.0, 2.0])
    a = lib.zeros(4, dtype=lib.float64)
    a[1:3] = v * 2
    assert a.requires_grad and type(a.grad_fn).__name__ == "CopySlices"
    assert_values(a, [0.0, 2.0, 4.0, 0.0])
    (a * lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward()
    assert_values(v.grad, [4.0, 6.0])


def test_version_counts_every_inplace_write(lib):
    t = lib.zeros(3)
    t.add_(1)
    t[0] = 2.0
    t *= 2
    t.zero_()
    assert t._version == 4
    assert (t + 1)._version == 0


# ================================================================ 5. freed buffers and memory

def test_second_backward_raises_unless_graph_retained(lib):
    x = leaf(lib, [1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    expected = 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    assert_values(x.grad, expected)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()
    assert_values(x.grad, expected)


def _make_intermediates(lib, x):
    h = x.exp()
    return h, (h * h).sum()


@pytest.mark.parametrize("how", ["backward", "backward retain_graph", "no backward"])
def test_graph_dies_by_reference_counting(lib, how):
    """Once the loss is dropped, the graph and its saved tensors are freed without the cycle
    collector, as PyTorch frees them."""
    x = leaf(lib, [1.0, 2.0])
    gc.collect()
    gc.disable()
    try:
        h, loss = _make_intermediates(lib, x)
        h_ref, loss_ref = weakref.ref(h), weakref.ref(loss)
        del h
        assert h_ref() is not None  # saved for backward by the product
        if how != "no backward":
            loss.backward(retain_graph=how.endswith("retain_graph"))
        if how == "backward":
            assert h_ref() is None, "backward must free the saved tensors"
        del loss
        assert loss_ref() is None and h_ref() is None
    finally:
        gc.enable()


def _train(lib, params, x, target, steps, lr=0.01):
    w1, b1, w2 = params
    for _ in range(steps):
        hidden = (x @ w1 + b1).tanh()
        loss = ((hidden @ w2 - target) ** 2).mean()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= lr * p.grad
            w1.grad.zero_()
        b1.grad = None
        w2.grad = None


def test_memory_does_not_grow_over_a_long_training_loop():
    """10,000 steps of forward, backward and a no_grad update on a small MLP: after the first
    500 steps neither the memory held between chunks nor the peak within one grows.

    Each chunk ends with a full collection, which also empties CPython's free lists: filling
    those looks like growth (up to a fixed bound) to tracemalloc.
    """
    rng = np.random.default_rng(0)
    shapes = [(4, 8), (8,), (8, 1)]
    params = [symgrad.tensor(rng.standard_normal(s) * 0.3, requires_grad=True) for s in shapes]
    x = symgrad.tensor(rng.standard_normal((16, 4)))
    target = symgrad.tensor(rng.standard_normal((16, 1)))
    _train(symgrad, params, x, target, 50)  # warm caches before measuring
    gc.collect()
    measured = []
    tracemalloc.start()
    try:
        for _ in range(20):
            _train(symgrad, params, x, target, 500)
            gc.collect()
            measured.append(tracemalloc.get_traced_memory())
            tracemalloc.reset_peak()
    finally:
        tracemalloc.stop()
    (first_current, first_peak), (last_current, _) = measured[0], measured[-1]
    later_peak = max(peak for _, peak in measured[1:])
    assert last_current - first_current < 16_000, f"held memory grew: {measured}"
    assert later_peak - first_peak < 16_000, f"peak memory grew: {measured}"


# ================================================================ 6. custom Functions

def _functions(lib):
    """Custom Functions defined on `lib.autograd.Function`."""
    Function = lib.autograd.Function

    class MyExp(Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved_tensors
            return grad * out

    class MulAdd(Function):
        """x * y + y."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y + y

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            gx = grad * y if ctx.needs_input_grad[0] else None
            gy = grad * (x + 1) if ctx.needs_input_grad[1] else None
            return gx, gy

    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gsin, gcos):
            (x,) = ctx.saved_tensors
            return gsin * x.cos() - gcos * x.sin()

    class Scale(Function):
        """x * k for a Python number k, which gets no gradient."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.k, None

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    class CubeDetached(Cube):
        """Right first derivative, but its backward is not differentiable in x."""

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x.detach() ** 2

    class WrongSin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x.sin()  # should be cos

    class TooFewGrads(MulAdd):
        @staticmethod
        def backward(ctx, grad):
            return grad

    return {c.__name__: c for c in (MyExp, MulAdd, SinCos, Scale, Cube, CubeDetached, WrongSin, TooFewGrads)}


def test_function_with_saved_output(lib):
    MyExp = _functions(lib)["MyExp"]
    x = leaf(lib, [0.0, 1.0, -2.0])
    y = MyExp.apply(x)
    assert type(y.grad_fn).__name__ == "MyExpBackward"
    assert y.grad_fn.name() == "MyExpBackward"
    assert y.requires_grad and not y.is_leaf
    assert_values(y, np.exp([0.0, 1.0, -2.0]))
    (y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
    assert_values(x.grad, np.exp([0.0, 1.0, -2.0]) * [1.0, 2.0, 3.0])


def test_function_with_two_inputs_and_needs_input_grad(lib):
    MulAdd = _functions(lib)["MulAdd"]
    x, y = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, -1.0])
    out = MulAdd.apply(x, y)
    assert_values(out, [1.0 * 3 + 3, 2.0 * -1 - 1])
    out.sum().backward()
    assert_values(x.grad, [3.0, -1.0])
    assert_values(y.grad, [2.0, 3.0])

    constant = lib.tensor([3.0, -1.0], dtype=lib.float64)
    x.grad = None
    out = MulAdd.apply(x, constant)
    assert out.grad_fn is not None
    out.sum().backward()
    assert_values(x.grad, [3.0, -1.0])
    assert not constant.requires_grad and constant.grad is None


def test_needs_input_grad_is_set_in_forward(lib):
    x = leaf(lib, [1.0])
    seen = {}

    class Probe(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = tuple(ctx.needs_input_grad)
            seen["grad enabled in forward"] = lib.is_grad_enabled()
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    Probe.apply(x, lib.tensor([2.0], dtype=lib.float64))
    assert seen == {"needs": (True, False), "grad enabled in forward": False}


def test_function_without_grad_inputs_records_nothing(lib):
    MulAdd = _functions(lib)["MulAdd"]
    out = MulAdd.apply(lib.ones(2), lib.ones(2))
    assert not out.requires_grad and out.grad_fn is None


def test_function_with_two_outputs(lib):
    SinCos = _functions(lib)["SinCos"]
    x0 = np.array([0.3, -1.2])
    x = leaf(lib, x0)
    s, c = SinCos.apply(x)
    assert s.grad_fn is c.grad_fn
    (2 * s + 3 * c).sum().backward()
    assert_values(x.grad, 2 * np.cos(x0) - 3 * np.sin(x0))
    x.grad = None
    s, c = SinCos.apply(x)
    s.sum().backward()  # the unused output's gradient arrives as zeros
    assert_values(x.grad, np.cos(x0))


def test_function_returning_none_for_a_non_tensor_input(lib):
    Scale = _functions(lib)["Scale"]
    x = leaf(lib, [1.0, 2.0])
    Scale.apply(x, 2.5).sum().backward()
    assert_values(x.grad, [2.5, 2.5])


def test_function_returning_too_few_gradients_raises(lib):
    TooFewGrads = _functions(lib)["TooFewGrads"]
    x, y = leaf(lib, [1.0]), leaf(lib, [2.0])
    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        TooFewGrads.apply(x, y).sum().backward()


def test_double_backward_through_a_function(lib):
    Cube = _functions(lib)["Cube"]
    x = leaf(lib, [1.0, -2.0])
    (g,) = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert_values(g, [3.0, 12.0])
    assert g.requires_grad
    (h,) = lib.autograd.grad(g.sum(), x)
    assert_values(h, [6.0, -12.0])


def test_function_that_saves_nothing_can_backward_twice(lib):
    Scale = _functions(lib)["Scale"]
    x = leaf(lib, [1.0, 2.0])
    loss = Scale.apply(x, 3.0).sum()
    loss.backward()
    loss.backward()
    assert_values(x.grad, [6.0, 6.0])


def test_function_that_saved_tensors_cannot_backward_twice(lib):
    MyExp = _functions(lib)["MyExp"]
    x = leaf(lib, [1.0])
    loss = MyExp.apply(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()


def test_function_output_saved_for_backward_is_freed_with_the_graph(lib):
    MyExp = _functions(lib)["MyExp"]
    x = leaf(lib, [1.0])
    gc.collect()
    gc.disable()
    try:
        y = MyExp.apply(x)
        ref = weakref.ref(y)
        y.sum().backward()
        del y
        assert ref() is None
    finally:
        gc.enable()


# ================================================================ 7. gradcheck

GRADCHECK = {
    "sin": (lambda L: lambda x: x.sin(), [(3, 2)]),
    "exp": (lambda L: lambda x: x.exp(), [(4,)]),
    "tanh": (lambda L: lambda x: x.tanh(), [(4,)]),
    "matmul": (lambda L: lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "softmax": (lambda L: lambda x: x.softmax(dim=-1), [(2, 4)]),
    "log_softmax": (lambda L: lambda x: x.log_softmax(dim=0), [(3, 2)]),
    "logsumexp": (lambda L: lambda x: x.logsumexp(dim=1), [(2, 5)]),
    "var": (lambda L: lambda x: x.var(dim=0), [(4, 3)]),
    "prod with a zero": (lambda L: lambda x: x.prod(), [np.array([2.0, 0.0, -1.5, 0.7])]),
    "prod dim with a zero": (lambda L: lambda x: x.prod(dim=1),
                             [np.array([[2.0, 0.0, 3.0], [1.0, -2.0, 0.5]])]),
    "cross_entropy": (lambda L: lambda x: L.nn.functional.cross_entropy(x, L.tensor([0, 2, 1])), [(3, 4)]),
    "broadcast mul": (lambda L: lambda a, b: (a * b).sum(dim=0), [(3, 1), (1, 4)]),
    "custom Cube": (lambda L: _functions(L)["Cube"].apply, [(3,)]),
}


def _check_inputs(lib, specs):
    """Float64 leaves: given arrays, or seeded normal samples of the given shapes."""
    made = []
    for k, spec in enumerate(specs):
        data = spec if isinstance(spec, np.ndarray) else np.random.default_rng(k + 7).standard_normal(spec)
        made.append(leaf(lib, data))
    return made


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck_and_gradgradcheck_pass_on_correct_functions(lib, name):
    make, specs = GRADCHECK[name]
    fn, inputs = make(lib), _check_inputs(lib, specs)
    assert lib.autograd.gradcheck(fn, inputs) is True
    assert lib.autograd.gradgradcheck(fn, inputs) is True


def test_gradcheck_catches_a_wrong_backward(lib):
    WrongSin = _functions(lib)["WrongSin"]
    x = leaf(lib, [0.3, 1.1, -0.4])
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        lib.autograd.gradcheck(WrongSin.apply, (x,))
    assert lib.autograd.gradcheck(WrongSin.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(lib):
    CubeDetached = _functions(lib)["CubeDetached"]
    x = leaf(lib, [0.3, 1.1, -0.4])
    assert lib.autograd.gradcheck(CubeDetached.apply, (x,)) is True
    assert lib.autograd.gradgradcheck(CubeDetached.apply, (x,), raise_exception=False) is False


# ================================================================ 8. anomaly detection

def _anomaly_text(lib, build, enable):
    """Run backward of build(x) under anomaly mode; the error plus any warnings, as text."""
    x = leaf(lib, [0.0, 1.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError) as err:
            if enable == "context manager":
                with lib.autograd.detect_anomaly():
                    loss, line = build(lib, x)
                    loss.backward()
            else:
                lib.autograd.set_detect_anomaly(True)
                loss, line = build(lib, x)
                loss.backward()
    return str(err.value) + "\n".join(str(w.message) for w in caught), line


def _sqrt_times_zero(lib, x):
    y, line = x.sqrt(), caller_line()
    return (y * 0).sum(), line


def _where_of_sqrt(lib, x):
    y, line = (x - 0.5).sqrt(), caller_line()
    return lib.where(x > 0.5, y, lib.zeros(2, dtype=lib.float64)).sum(), line


@ignore_anomaly_warnings
@pytest.mark.parametrize("build", [_sqrt_times_zero, _where_of_sqrt])
@pytest.mark.parametrize("enable", ["context manager", "set_detect_anomaly"])
def test_anomaly_mode_names_the_backward_and_the_forward_line(lib, build, enable):
    text, line = _anomaly_text(lib, build, enable)
    assert "Function 'SqrtBackward0' returned nan values in its 0th output" in text
    assert "test_autograd.py" in text
    assert f"line {line}" in text


@ignore_anomaly_warnings
def test_nan_gradient_passes_silently_with_anomaly_mode_off(lib):
    x = leaf(lib, [0.0, 1.0])
    (x.sqrt() * 0).sum().backward()
    grad = values(x.grad)
    assert np.isnan(grad[0]) and grad[1] == 0.0


@ignore_anomaly_warnings
def test_anomaly_mode_leaves_finite_gradients_alone(lib):
    x = leaf(lib, [1.0, 4.0])
    with lib.autograd.detect_anomaly():
        x.sqrt().sum().backward()
    assert_values(x.grad, [0.5, 0.25])


# ================================================================ 9. dtypes and promotion

PROMOTION = {
    "int64 + 1.5": (lambda L: L.tensor([1, 2]) + 1.5, "float32"),
    "int64 + 1": (lambda L: L.tensor([1, 2]) + 1, "int64"),
    "int64 * True": (lambda L: L.tensor([1, 2]) * True, "int64"),
    "bool + bool": (lambda L: L.tensor([True, False]) + L.tensor([True, True]), "bool"),
    "bool + 1": (lambda L: L.tensor([True, False]) + 1, "int64"),
    "bool + 1.5": (lambda L: L.tensor([True, False]) + 1.5, "float32"),
    "float32 + float64 0-d": (lambda L: L.ones(2) + L.tensor(2.0, dtype=L.float64), "float32"),
    "float32 + float64 1-d": (lambda L: L.ones(2) + L.tensor([2.0], dtype=L.float64), "float64"),
    "float32 0-d + float64 0-d": (lambda L: L.tensor(1.0) + L.tensor(2.0, dtype=L.float64), "float64"),
    "float32 (2,3) * float64 (1,)": (lambda L: L.ones(2, 3) * L.tensor([2.0], dtype=L.float64), "float64"),
    "int64 + float64 0-d": (lambda L: L.tensor([1, 2]) + L.tensor(0.5, dtype=L.float64), "float64"),
    "int64 + float32 0-d": (lambda L: L.tensor([1, 2]) + L.tensor(0.5), "float32"),
    "int64 0-d + float32": (lambda L: L.tensor(3) + L.ones(2), "float32"),
    "bool + float64 0-d": (lambda L: L.tensor([True]) + L.tensor(0.5, dtype=L.float64), "float64"),
    "int64 + float32": (lambda L: L.tensor([1, 2]) + L.ones(2), "float32"),
    "float64 * 2.0": (lambda L: L.ones(2, dtype=L.float64) * 2.0, "float64"),
    "float32 * 2": (lambda L: L.ones(2) * 2, "float32"),
    "int / int": (lambda L: L.tensor([1, 2]) / L.tensor([2, 4]), "float32"),
    "int 0-d / 2": (lambda L: L.tensor(3) / 2, "float32"),
    "1 / int": (lambda L: 1 / L.tensor([2, 4]), "float32"),
    "int ** 2": (lambda L: L.tensor([1, 2]) ** 2, "int64"),
    "int ** 0.5": (lambda L: L.tensor([1, 4]) ** 0.5, "float32"),
    "2 ** int": (lambda L: 2 ** L.tensor([1, 2]), "int64"),
    "2.0 ** int": (lambda L: 2.0 ** L.tensor([1, 2]), "float32"),
    "exp(int)": (lambda L: L.tensor([0, 1]).exp(), "float32"),
    "sqrt(bool)": (lambda L: L.tensor([True, False]).sqrt(), "float32"),
    "float32 < int": (lambda L: L.ones(2) < L.tensor([1, 2]), "bool"),
    "int == 1.5": (lambda L: L.tensor([1, 2]) == 1.5, "bool"),
    "float64 >= float32": (lambda L: L.ones(2, dtype=L.float64) >= L.ones(2), "bool"),
    "sum(bool)": (lambda L: L.tensor([True, True, False]).sum(), "int64"),
    "sum(int64)": (lambda L: L.tensor([[1, 2], [3, 4]]).sum(dim=0), "int64"),
    "where(mask, int, float32)": (lambda L: L.where(L.tensor([True, False]), L.tensor([1, 2]), L.ones(2)),
                                  "float32"),
    "matmul float64": (lambda L: L.ones(2, 3, dtype=L.float64) @ L.ones(3, dtype=L.float64), "float64"),
    "mean float32": (lambda L: L.ones(2, 3).mean(dim=1), "float32"),
    # a Python number first in a function is weak, as in an operator
    "add(0.75, int32)": (lambda L: L.add(0.75, L.ones(2, dtype=L.int32)), "float32"),
    "mul(2.5, int64)": (lambda L: L.mul(2.5, L.tensor([1, 2])), "float32"),
    "sub(1.5, float16)": (lambda L: L.sub(1.5, L.ones(2, dtype=L.float16)), "float16"),
    "div(3, int 0-d)": (lambda L: L.div(3, L.tensor(2)), "float32"),
    "mul(2, uint8)": (lambda L: L.mul(2, L.ones(2, dtype=L.uint8)), "uint8"),
    "pow(2, int32)": (lambda L: L.pow(2, L.tensor([1, 2], dtype=L.int32)), "int32"),
    "add(1, bool)": (lambda L: L.add(1, L.tensor([True, False])), "int64"),
    "add(0.5, float64 0-d)": (lambda L: L.add(0.5, L.tensor(1.0, dtype=L.float64)), "float64"),
}


@pytest.mark.parametrize("name", list(PROMOTION))
def test_result_dtype(lib, name):
    make, expected = PROMOTION[name]
    assert dtype_name(make(lib)) == expected


@needs_torch
@pytest.mark.parametrize("name", list(PROMOTION))
def test_promoted_values_match_torch(name):
    make = PROMOTION[name][0]
    ours, theirs = make(symgrad), make(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(values(ours), values(theirs), rtol=1e-6)


@pytest.mark.parametrize("fn, ufunc, number", [(symgrad.add, np.add, 0.75), (symgrad.mul, np.multiply, 2),
                                               (symgrad.sub, np.subtract, 1.5)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float64])
def test_a_leading_python_number_is_weak_when_traced(fn, ufunc, number, dtype):
    """symgrad.add(0.75, x) traced promotes as NumPy's np.add(0.75, x): float32 stays float32."""
    x = np.arange(1, 4).astype(dtype)
    got = symgrad.compile(lambda x: fn(number, x))(x)
    want = ufunc(number, x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_gradient_dtypes_follow_their_inputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    s = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
    y = x * s
    assert dtype_name(y) == "float32"
    y.sum().backward()
    assert dtype_name(x.grad) == "float32" and dtype_name(s.grad) == "float64"
    assert_values(x.grad, [3.0, 3.0])
    assert_values(s.grad, 3.0)


@pytest.mark.parametrize("make", [
    lambda L: L.tensor([1, 2], requires_grad=True),
    lambda L: L.tensor([True], requires_grad=True),
    lambda L: L.ones(2, dtype=L.int64, requires_grad=True),
    lambda L: L.arange(3).requires_grad_(),
    lambda L: L.zeros(2, dtype=L.bool).requires_grad_(True),
], ids=["tensor int", "tensor bool", "ones int64", "arange requires_grad_", "zeros bool"])
def test_requires_grad_on_non_float_raises(lib, make):
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point (and complex )?dtype can "
                                           "require gradients"):
        make(lib)


FLOAT32_OPS = {
    "exp": lambda L, x, y: x.exp(),
    "tanh": lambda L, x, y: x.tanh(),
    "sigmoid": lambda L, x, y: x.sigmoid(),
    "softmax": lambda L, x, y: x.softmax(dim=1),
    "log_softmax": lambda L, x, y: x.log_softmax(dim=0),
    "logsumexp": lambda L, x, y: x.logsumexp(dim=1),
    "var": lambda L, x, y: x.var(dim=1),
    "std": lambda L, x, y: x.std(),
    "matmul": lambda L, x, y: x @ y,
    "sqrt of abs": lambda L, x, y: (x.abs() + 0.1).sqrt(),
    "pow": lambda L, x, y: (x * x + 1) ** 1.5,
    "cross_entropy": lambda L, x, y: L.nn.functional.cross_entropy(x, L.tensor([0, 3, 2])),
    "mse_loss": lambda L, x, y: L.nn.functional.mse_loss(x @ y, L.ones(3, 3)),
}


@needs_torch
@pytest.mark.parametrize("name", list(FLOAT32_OPS))
def test_float32_values_and_gradients_match_torch(name):
    rng = np.random.default_rng(3)
    xd, yd = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    results = []
    for L in (symgrad, torch):
        x, y = L.tensor(xd, requires_grad=True), L.tensor(yd, requires_grad=True)
        out = FLOAT32_OPS[name](L, x, y)
        weights = L.tensor(np.linspace(-1.0, 2.0, int(np.prod(out.shape))).reshape(tuple(out.shape)),
                           dtype=L.float32)
        (out * weights).sum().backward()
        assert dtype_name(out) == "float32"
        assert dtype_name(x.grad) == "float32"
        results.append((values(out), values(x.grad), None if y.grad is None else values(y.grad)))
    (ours, ours_gx, ours_gy), (theirs, theirs_gx, theirs_gy) = results
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(ours_gx, theirs_gx, rtol=2e-5, atol=2e-6)
    assert (ours_gy is None) == (theirs_gy is None)
    if ours_gy is not None:
        np.testing.assert_allclose(ours_gy, theirs_gy, rtol=2e-5, atol=2e-6)


# ================================================================ 10. errors

ERRORS = {
    "backward twice": (lambda L, x: [(loss := (x * x).sum()).backward(), loss.backward()], RuntimeError,
                       "Trying to backward through the graph a second time"),
    "implicit gradient of a non-scalar": (lambda L, x: (x * 2).backward(), RuntimeError,
                                          "grad can be implicitly created only for scalar outputs"),
    "backward of a tensor without grad": (lambda L, x: L.ones(2).sum().backward(), RuntimeError,
                                          "element 0 of tensors does not require grad and does not have "
                                          "a grad_fn"),
    "grad of an input without grad": (lambda L, x: L.autograd.grad((x * 2).sum(), L.ones(3)), RuntimeError,
                                      "One of the differentiated Tensors does not require grad"),
    "gradient of the wrong shape": (lambda L, x: (x * 2).backward(L.ones(2)), RuntimeError,
                                    r"Mismatch in shape: grad_output\[0\] has a shape of"),
    "broadcast mismatch": (lambda L, x: L.ones(2, 3) + L.ones(4), RuntimeError,
                           r"The size of tensor a \(3\) must match the size of tensor b \(4\)|"
                           r"\(2, 3\) and \(4,\)"),
    "matmul mismatch": (lambda L, x: L.ones(2, 3) @ L.ones(4, 5), RuntimeError,
                        r"2x3 and 4x5|\(2, 3\).*\(4, 5\)"),
    "index out of range": (lambda L, x: L.ones(3)[5], IndexError,
                           "index 5 is out of bounds for (dimension|axis) 0 with size 3"),
    "index out of range in dim 1": (lambda L, x: L.ones(2, 3)[:, 7], IndexError,
                                    "index 7 is out of bounds for (dimension|axis) 1 with size 3"),
    "sum dim out of range": (lambda L, x: L.ones(2, 3).sum(dim=2), IndexError,
                             r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    "softmax dim out of range": (lambda L, x: L.ones(2, 3).softmax(dim=-3), IndexError,
                                 r"Dimension out of range \(expected to be in range of \[-2, 1\], "
                                 r"but got -3\)"),
    "unsqueeze dim out of range": (lambda L, x: L.ones(2, 3).unsqueeze(3), IndexError,
                                   r"Dimension out of range \(expected to be in range of \[-3, 2\], "
                                   r"but got 3\)"),
    "transpose dim out of range": (lambda L, x: L.ones(2, 3).transpose(0, 2), IndexError,
                                   "Dimension out of range"),
    "item of several elements": (lambda L, x: L.ones(3).item(), RuntimeError,
                                 "a Tensor with 3 elements cannot be converted to Scalar"),
    "numpy of a tensor that requires grad": (lambda L, x: x.numpy(), RuntimeError,
                                             r"Can't call numpy\(\) on Tensor that requires grad"),
    "requires_grad off on a non-leaf": (lambda L, x: (x * 2).requires_grad_(False), RuntimeError,
                                        "you can only change requires_grad flags of leaf variables"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_types_and_messages(lib, name):
    run, kind, pattern = ERRORS[name]
    x = leaf(lib, [1.0, 2.0, 3.0])
    with pytest.raises(kind, match=pattern):
        run(lib, x)


def test_pow_derivatives_at_zero_are_pytorchs():
    """d(x**0)/dx = 0 and d(0**y)/dy = 0 for y >= 0 (not 0 * inf = nan), eager and compiled:
    polynomial features of data holding 0, written three ways."""
    x = np.array([0.0, 1.0, 2.0])
    powers = np.arange(4.0)
    expected = (powers[1:] * x[:, None] ** (powers[1:] - 1)).sum(1)  # [1, 6, 17]
    for features in (lambda t: t[:, None] ** powers, lambda t: np.power(t[:, None], powers),
                     lambda t: np.stack([t ** k for k in range(4)], 1)):
        np.testing.assert_allclose(symgrad.grad(lambda t, f=features: f(t).sum())(x), expected, rtol=1e-15)
    t = symgrad.tensor(x, requires_grad=True)
    t.unsqueeze(-1).pow(symgrad.tensor(powers)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-15)
    y = symgrad.tensor([0.0, 1.0, 2.0], dtype=symgrad.float64, requires_grad=True)
    (symgrad.tensor([0.0, 0.0, 3.0], dtype=symgrad.float64) ** y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.0, 0.0, 9 * np.log(3)], rtol=1e-15)
    np.testing.assert_allclose(symgrad.grad(lambda y: (np.array([0.0, 0.0, 3.0]) ** y).sum())(
        np.array([0.0, 1.0, 2.0])), [0.0, 0.0, 9 * np.log(3)], rtol=1e-15)
    z = symgrad.tensor([0.0, 1.0, -1.0], dtype=symgrad.float64, requires_grad=True)
    with np.errstate(divide="ignore"):
        (0.0 ** z).sum().backward()  # a Python base: 0 for y >= 0, -inf below, as PyTorch
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(symgrad.grad(lambda y: (0.0 ** y).sum())(np.array([0.0, 1.0, 2.0])),
                                  [0.0, 0.0, 0.0])


def test_an_input_read_only_for_its_shape_is_not_saved():
    """x @ w with x needing no gradient: w's values are not needed backward (only its ndim),
    so updating w in place before backward is allowed, as in PyTorch; x is saved, so
    updating x in place is refused."""
    x = symgrad.tensor([[1.0, 2.0]])
    w = symgrad.ones(2, 1, requires_grad=True)
    y = (x @ w).sum()
    with symgrad.no_grad():
        w.sub_(0.1)
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1.0], [2.0]])
    z = (x @ w).sum()
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


@pytest.mark.filterwarnings("ignore:Using backward.. with create_graph=True")  # torch's advice
def test_grad_is_never_a_tensor_the_user_or_another_leaf_holds(lib):
    """A leaf's `.grad` is its own buffer, as PyTorch's AccumulateGrad makes it: a `gradient=`
    seed is not written by a later backward, and under create_graph x.grad and y.grad of x + y
    are two writable tensors (they were one read-only tensor)."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    seed = lib.tensor([1.0, 1.0])
    x.backward(seed)
    x.backward(seed)
    assert seed.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.backward(seed, create_graph=True)
    x.grad.add_(1.0)
    assert seed.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]
    x, y = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [1.0, 1.0]
    v = lib.tensor([1.0, 1.0], requires_grad=True)  # a seed that requires grad keeps its graph
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lib.autograd.grad(x * x, x, v, create_graph=True)
    assert lib.autograd.grad(g.sum(), v)[0].tolist() == [2.0, 4.0]
