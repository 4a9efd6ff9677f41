"""symgrad.optim: update rules against torch.optim step by step, hand-computed steps, the API."""

import numpy as np
import pytest

import symgrad
import symgrad.optim
from symgrad.optim import SGD, Adam, AdamW

# ---------------------------------------------------------------- the problem

# a tiny linear regression, float64; `c` takes no part in the loss, so its grad stays None
_rng = np.random.default_rng(0)
X = _rng.standard_normal((6, 3))
Y = _rng.standard_normal(6)
W0, B0, C0 = _rng.standard_normal(3), np.array(0.5), np.array([1.0, -1.0])


def _params(lib):
    return [lib.tensor(v.copy(), requires_grad=True) for v in (W0, B0, C0)]


def _loss(lib, w, b):
    return ((lib.tensor(X) @ w + b - lib.tensor(Y)) ** 2).mean()


def _trajectory(lib, optim, name, kwargs, grouped, steps=3):
    """The parameters (as arrays) after each of `steps` optimizer steps."""
    w, b, c = _params(lib)
    params = [{"params": [w, c]}, {"params": [b], "lr": 0.05}] if grouped else [w, b, c]
    opt = getattr(optim, name)(params, **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(lib, w, b).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in (w, b, c)])
    return out


CASES = [
    ("SGD", {"lr": 0.1}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}, False),
    ("SGD", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, True),
    ("Adam", {}, False),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1}, False),
    ("Adam", {"lr": 0.3, "betas": (0.9, 0.5), "amsgrad": True}, False),
    ("Adam", {"lr": 0.1, "maximize": True, "eps": 1e-3}, False),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, False),
    ("Adam", {"lr": 0.1, "betas": (0.5, 0.9)}, True),
    ("AdamW", {"lr": 0.1}, False),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.5, "amsgrad": True}, True),
]


@pytest.mark.parametrize("name,kwargs,grouped", CASES)
def test_steps_match_torch(name, kwargs, grouped):
    torch = pytest.importorskip("torch")
    ours = _trajectory(symgrad, symgrad.optim, name, kwargs, grouped)
    theirs = _trajectory(torch, torch.optim, name, kwargs, grouped)
    for step, (got, want) in enumerate(zip(ours, theirs), 1):
        for p, q in zip(got, want):
            np.testing.assert_allclose(p, q, rtol=0, atol=1e-12, err_msg=f"after step {step}")


def test_amsgrad_case_exercises_the_maximum():
    # the torch comparison above only checks amsgrad if v shrinks somewhere within 3 steps
    w, b, _ = _params(symgrad)
    opt = Adam([w, b], lr=0.3, betas=(0.9, 0.5), amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        _loss(symgrad, w, b).backward()
        opt.step()
    state = opt.state[w]
    assert (state["max_exp_avg_sq"].numpy() > state["exp_avg_sq"].numpy()).any()


# ---------------------------------------------------------------- hand-computed steps

def _half_square(p):
    return (p * p).sum() * 0.5  # gradient: p itself


def test_sgd_momentum_by_hand():
    p = symgrad.tensor([1.0], dtype=symgrad.float64, requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    # buffers 1, 0.9*1 + 0.9 = 1.8, 0.9*1.8 + 0.72 = 2.34
    for want in (0.9, 0.72, 0.486):
        opt.zero_grad()
        _half_square(p).backward()
        opt.step()
        assert p.item() == pytest.approx(want, abs=1e-15)


def test_adam_first_step_by_hand():
    # after bias correction m = g and v = g**2, so step one moves each entry by lr * g / (|g| + eps)
    p = symgrad.tensor([1.0, -2.0], dtype=symgrad.float64, requires_grad=True)
    opt = Adam([p], lr=0.1, eps=1e-8)
    _half_square(p).backward()
    opt.step()
    g = np.array([1.0, -2.0])
    np.testing.assert_allclose(p.detach().numpy(), g - 0.1 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)
    assert opt.state[p]["step"] == 1


def test_adamw_decays_the_parameter_not_the_gradient():
    p = symgrad.tensor([2.0], dtype=symgrad.float64, requires_grad=True)
    opt = AdamW([p], lr=0.1, weight_decay=0.5, eps=0.0)
    _half_square(p).backward()
    opt.step()
    assert p.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5) - 0.1, abs=1e-15)


def test_update_keeps_dtype_identity_and_leaf_status():
    p = symgrad.tensor([1.0, 2.0], dtype=symgrad.float32, requires_grad=True)
    data = p._data
    opt = Adam([p], lr=0.1)
    _half_square(p).backward()
    opt.step()
    assert p._data is data and p.dtype == symgrad.float32
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert opt.state[p]["exp_avg"].dtype == symgrad.float32


def test_parameters_without_grad_are_skipped():
    w, b, c = _params(symgrad)
    opt = SGD([w, b, c], lr=0.1, momentum=0.9)
    _loss(symgrad, w, b).backward()
    opt.step()
    np.testing.assert_array_equal(c.detach().numpy(), C0)
    assert c not in opt.state and w in opt.state


def test_backward_through_a_graph_saved_before_the_step_raises():
    # the step writes the parameter in place, as PyTorch's does: old graphs are stale
    p = symgrad.tensor([1.0, 2.0], dtype=symgrad.float64, requires_grad=True)
    opt = SGD([p], lr=0.1)
    loss = (p * p).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---------------------------------------------------------------- zero_grad and step(closure)

def test_zero_grad_sets_to_none_by_default():
    w, b, c = _params(symgrad)
    opt = SGD([w, b, c])
    _loss(symgrad, w, b).backward()
    opt.zero_grad()
    assert w.grad is None and b.grad is None and c.grad is None


def test_zero_grad_in_place():
    w, b, c = _params(symgrad)
    opt = SGD([w, b, c])
    _loss(symgrad, w, b).backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and not grad.numpy().any()
    assert c.grad is None  # a grad that was never made stays None
    _loss(symgrad, w, b).backward()  # accumulates into the zeroed tensor
    assert w.grad is grad and grad.numpy().any()


def test_zero_grad_in_place_detaches_a_grad_with_history():
    p = symgrad.tensor([1.0, 2.0], dtype=symgrad.float64, requires_grad=True)
    (p * p * p).sum().backward(create_graph=True)
    assert p.grad.grad_fn is not None
    SGD([p]).zero_grad(set_to_none=False)
    assert p.grad.grad_fn is None and not p.grad.requires_grad and not p.grad.numpy().any()


def test_step_with_closure_returns_its_loss_and_enables_grad():
    w, b, _ = _params(symgrad)
    opt = SGD([w, b], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = _loss(symgrad, w, b)
        loss.backward()
        calls.append(loss.item())
        return loss

    with symgrad.no_grad():  # the closure still records its graph
        first = opt.step(closure)
    second = opt.step(closure)
    assert first.item() == calls[0] and second.item() == calls[1] < calls[0]
    assert opt.step() is None


# ---------------------------------------------------------------- param groups

def test_param_groups_hold_every_option():
    w, b, c = _params(symgrad)
    opt = SGD([{"params": [w]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"][0] is b
    assert set(opt.param_groups[0]) == {"params", "lr", "momentum", "dampening", "weight_decay",
                                        "nesterov", "maximize"}
    opt.add_param_group({"params": [c], "momentum": 0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0
    assert "SGD (" in repr(opt) and "Parameter Group 2" in repr(opt)


def test_changing_a_groups_lr_takes_effect():
    p = symgrad.tensor([1.0], dtype=symgrad.float64, requires_grad=True)
    opt = SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = 0.5  # what learning-rate schedules do
    _half_square(p).backward()
    opt.step()
    assert p.item() == pytest.approx(0.5)


# ---------------------------------------------------------------- errors

def _leaf():
    return symgrad.tensor([1.0], requires_grad=True)


@pytest.mark.parametrize("make,error,message", [
    (lambda: SGD([]), ValueError, "optimizer got an empty parameter list"),
    (lambda: SGD([_leaf()], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda: Adam([_leaf()], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda: SGD([_leaf()], momentum=-1), ValueError, "Invalid momentum value: -1"),
    (lambda: SGD([_leaf()], weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda: SGD([_leaf()], nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
    (lambda: SGD([_leaf()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: Adam([_leaf()], betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0"),
    (lambda: Adam([_leaf()], betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1"),
    (lambda: Adam([_leaf()], eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (lambda: SGD([_leaf() * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda: SGD(_leaf()), TypeError, "should be an iterable of Tensors or dicts"),
    (lambda: SGD([np.ones(2)]), TypeError, "optimizer can only optimize Tensors"),
    (lambda: SGD([{"params": {_leaf()}}]), TypeError, "ordered collections"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")):
        make()


def test_a_parameter_in_two_groups_raises():
    p = _leaf()
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p], "lr": 0.5}])
    opt = SGD([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})


def test_a_non_leaf_that_retains_grad_can_be_optimized(lib):
    # as in PyTorch: retain_grad() gives a non-leaf a .grad of its own, and the optimizer steps it
    # in place; the leaf it came from keeps its value and accumulates its own gradient
    w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
    x = w * 2
    x.retain_grad()
    opt = lib.optim.SGD([x], lr=0.1)
    x0 = np.array([2.0, -4.0])
    (x * x * x).sum().backward(retain_graph=True)  # d/dx = 3 x**2, d/dw = 2 * 3 x**2
    opt.step()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x0**2, rtol=1e-15)  # [12, 48]
    np.testing.assert_allclose(w.grad.numpy(), 6 * x0**2, rtol=1e-15)  # [24, 96]
    x1 = x0 - 0.1 * 3 * x0**2  # [0.8, -8.8]
    np.testing.assert_allclose(x.detach().numpy(), x1, rtol=1e-15)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, -2.0])
    assert not x.is_leaf and x.grad_fn is not None and x.requires_grad

    opt.zero_grad()  # clears x.grad only: w is not one of this optimizer's parameters
    (x * x * x).sum().backward()
    opt.step()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x1**2, rtol=1e-14)  # from the stepped value
    np.testing.assert_allclose(w.grad.numpy(), 6 * x0**2 + 6 * x1**2, rtol=1e-14)  # accumulated
    np.testing.assert_allclose(x.detach().numpy(), x1 - 0.1 * 3 * x1**2, rtol=1e-14)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, -2.0])
