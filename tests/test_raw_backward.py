"""A backward without `create_graph` runs the registry's VJP rules on raw arrays.

For every op of test_ops.py's table: the gradients of the raw path (first sight of a
signature: traced; second: compiled; third: the compiled replay) equal the tape's
(`create_graph=True`, the rules on Tensors) bit for bit, dtype included, in float64 and in
float32, and match central differences in float64. A backward without `create_graph` applies
no Tensor op (the tutorial, an MLP step), computes no gradient for an input that does not
require one (the MLP's `X`), and hands users Tensors (hooks, retained grads, `autograd.grad`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from test_ops import FD_TOL, ROWS, Case, Row, cotangent_loss, finite_differences, inputs_for

import symgrad
import symgrad.nn.functional as F
from symgrad.api import fused
from symgrad.eager import raw
from symgrad.eager import tensor as eager_tensor
from symgrad.eager.tensor import Tensor
from symgrad.ops import OPS
from symgrad.ops.core import _loaded


def _grads(row: Row, case: Case, arrays: list[np.ndarray], ct: np.ndarray, wrt: tuple[int, ...],
           create_graph: bool) -> list[np.ndarray]:
    ts = [symgrad.tensor(a, dtype=a.dtype, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    loss = (row.fn(*ts, **case.params) * symgrad.tensor(ct)).sum()
    loss.backward(create_graph=create_graph)
    return [ts[i].grad.detach().numpy().copy() for i in wrt]


def _float_inputs(row: Row, case: Case, arrays: list[np.ndarray]) -> tuple[int, ...]:
    return tuple(i for i in row.argnums(case) if arrays[i].dtype.kind == "f")


def _as(arrays: list[np.ndarray], ct: np.ndarray, dtype: type) -> tuple[list[np.ndarray], np.ndarray]:
    return [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays], ct.astype(dtype)


CASES = [pytest.param(row, case, id=f"{row.op}-{case.name}") for row in ROWS if row.wrt != ()
         for case in row.cases]
WIDEST = [pytest.param(row, max(row.cases, key=lambda c: sum(int(np.prod(s)) for s in c.shapes)), id=row.op)
          for row in ROWS if row.wrt != ()]


def _assert_same(got: list[np.ndarray], want: list[np.ndarray], who: str) -> None:
    """Equal, but for one ulp on 0-d values: generated code may hold one as a 1-element
    array, which NumPy runs through its SIMD loops where the tape ran its scalar ones."""
    assert len(got) == len(want), who
    for g, w in zip(got, want):
        assert (g.shape, g.dtype) == (w.shape, w.dtype), f"{who}: {g.shape} {g.dtype} != {w.shape} {w.dtype}"
        if g.shape == () and g.dtype.kind == "f":
            np.testing.assert_array_max_ulp(g, w, maxulp=1)
        else:
            np.testing.assert_array_equal(g, w, err_msg=who)


@pytest.fixture
def unfused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Composites as their primitives: the rows compare the primitives' raw and tape rules
    (a fused composite's compiled VJP is checked against them in test_fused_composites)."""
    monkeypatch.setattr(fused, "ENABLED", False)


@pytest.mark.usefixtures("unfused")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row, case", CASES)
def test_raw_gradients_are_the_tapes(row: Row, case: Case, dtype: type) -> None:
    arrays, ct = _as(*inputs_for(row, case), dtype)
    wrt = _float_inputs(row, case, arrays)
    if not wrt:
        pytest.skip("no float input takes a gradient")
    want = _grads(row, case, arrays, ct, wrt, create_graph=True)
    raw._CACHE.clear()
    for sight in ("traced", "compiled", "replayed"):
        _assert_same(_grads(row, case, arrays, ct, wrt, create_graph=False), want, f"{row.op} ({sight})")


@pytest.mark.parametrize("row, case", WIDEST)
def test_replayed_gradients_match_finite_differences(row: Row, case: Case) -> None:
    arrays, ct = inputs_for(row, case)
    wrt = _float_inputs(row, case, arrays)
    if not wrt:
        pytest.skip("no float input takes a gradient")
    raw._CACHE.clear()
    for _ in range(3):  # traced, compiled, replayed: the last one is checked
        got = _grads(row, case, arrays, ct, wrt, create_graph=False)
    want = finite_differences(cotangent_loss(row.fn, ct, **case.params), arrays, wrt, row.fd_step)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **FD_TOL)


# ---------------------------------------------------------------- no dispatch, no unwanted gradient

def _tutorial() -> tuple[Callable[[], Any], list[Tensor]]:
    x, y = symgrad.ones(5), symgrad.zeros(3)
    w = symgrad.randn(5, 3, requires_grad=True)
    b = symgrad.randn(3, requires_grad=True)
    return lambda: F.binary_cross_entropy_with_logits(x @ w + b, y), [w, b]


def _mlp() -> tuple[Callable[[], Any], list[Tensor]]:
    rng = np.random.default_rng(0)
    X = symgrad.tensor(rng.standard_normal((8, 12)).astype(np.float32))
    onehot = symgrad.tensor(np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)])
    ps = []
    for fan_in, fan_out in [(12, 6), (6, 5), (5, 4)]:
        for shape in ((fan_in, fan_out), (fan_out,)):
            ps.append(symgrad.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True))

    def loss() -> Any:
        w1, b1, w2, b2, w3, b3 = ps
        h1 = (X @ w1 + b1).tanh()
        h2 = (h1 @ w2 + b2).tanh()
        return F.cross_entropy(h2 @ w3 + b3, onehot.argmax(1))
    return loss, ps


@pytest.mark.parametrize("program", [_tutorial, _mlp], ids=["tutorial", "mlp"])
def test_backward_applies_no_tensor_op(program: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[str] = []
    apply = Tensor._apply.__func__

    def counting(cls: type, op: Any, args: tuple, params: dict, name: str | None) -> Any:
        applied.append(op.name)
        return apply(cls, op, args, params, name)
    monkeypatch.setattr(Tensor, "_apply", classmethod(counting))
    loss_fn, params = program()
    for _ in range(3):  # composites fused, and their compiled VJPs checked once against the tape
        loss_fn().backward()
    raw._CACHE.clear()
    for _ in range(3):  # traced, compiled, replayed
        loss = loss_fn()
        assert applied, "the forward applies Tensor ops: the counter counts"
        applied.clear()
        want = symgrad.autograd.grad(loss_fn(), params, create_graph=True)
        applied.clear()
        for p in params:
            p.grad = None
        loss.backward()
        assert applied == []
        for p, g in zip(params, want):
            assert type(p.grad) is Tensor and p.grad.dtype == p.dtype
            # the fused loss's compiled VJP is the tape's up to float32 rounding
            np.testing.assert_allclose(p.grad.numpy(), g.detach().numpy(), rtol=2e-6, atol=1e-7)


def test_no_gradient_is_computed_for_an_input_that_does_not_require_one() -> None:
    """The MLP's X @ W1 computes W1's gradient only: 5 matrix products in its backward, not 6
    (layers 3 and 2: both operands; layer 1: W1 alone), traced, compiled or replayed."""
    loss_fn, params = _mlp()
    matmul = OPS["matmul"]
    products = []
    forward = matmul.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        products.append(args[0].shape)
        return forward(*args, **kwargs)
    object.__setattr__(matmul, "forward", counting)  # the frozen Op: restored below
    try:
        raw._CACHE.clear()
        for _ in range(3):
            loss = loss_fn()
            products.clear()
            loss.backward()
            assert len(products) == 5, products
    finally:
        object.__setattr__(matmul, "forward", forward)
        raw._CACHE.clear()  # no replay keeps the counting forward


# ---------------------------------------------------------------- what users see, what the signature holds

def test_hooks_retained_grads_and_grad_see_tensors() -> None:
    x = symgrad.tensor([0.5, -1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(type(g)))
    y = x.exp()
    y.retain_grad()
    y.register_hook(lambda g: seen.append(type(g)) or g * 2)
    for _ in range(3):
        x.grad = y.grad = None
        (y * y).sum().backward(retain_graph=True)
    assert seen == [Tensor, Tensor] * 3
    assert type(y.grad) is Tensor and type(x.grad) is Tensor
    np.testing.assert_array_equal(y.grad.numpy(), 4 * y.detach().numpy())  # as the hook doubled it
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(2 * x.detach().numpy()), rtol=1e-6)
    (g,) = symgrad.autograd.grad((x * x).sum(), x)
    assert type(g) is Tensor and g.grad_fn is None
    np.testing.assert_array_equal(g.numpy(), 2 * x.detach().numpy())


@pytest.mark.parametrize("scalar", [1.5, 2.5, -3, True])
def test_a_scalar_operand_is_part_of_the_signature(scalar: Any) -> None:
    """`x * c` compiles once per value of c: a replay never reuses another constant."""
    x = symgrad.tensor([1.0, 2.0], dtype=symgrad.float32, requires_grad=True)
    for _ in range(3):
        x.grad = None
        (x * scalar).pow(2).sum().backward()
        assert x.grad.dtype == np.float32
        want = 2 * float(scalar) ** 2 * np.array([1, 2])
        np.testing.assert_array_equal(x.grad.numpy(), want.astype(np.float32))


def test_a_signed_zero_is_not_the_other_zero() -> None:
    """-0.0 == 0.0, but x * -0.0 has the gradient -0.0: the signature tells the two apart."""
    x = symgrad.tensor([1.0, 2.0], requires_grad=True)
    for scalar in (0.0, 0.0, -0.0, -0.0, 0.0):
        x.grad = None
        (x * scalar).sum().backward()
        assert (np.signbit(x.grad.numpy()) == np.signbit(scalar)).all(), scalar


def test_a_rule_reading_data_in_python_stays_interpreted() -> None:
    """A registry rule that reads a value (here `float(x.amax())`) cannot be replayed: each
    backward interprets it, with that backward's values."""
    def rule(ct: Any, ans: Any, x: Any) -> Any:
        return ct * ans * float(x.amax())
    with _exp_rule(rule):
        for top in (1.0, 2.0, 3.0):
            x = symgrad.tensor([0.5, top], requires_grad=True)
            x.exp().sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, top]) * top, rtol=1e-6)


@contextlib.contextmanager
def _exp_rule(rule: Callable) -> Iterator[None]:
    """exp's VJP replaced by `rule`, as a registry rule (what it reads saved with it)."""
    exp = OPS["exp"]
    rules, reads = exp.vjps, exp.reads
    rule.__module__ = rules[0].__module__  # a registry rule, as far as the engine can tell
    object.__setattr__(exp, "vjps", (rule,))  # the frozen Op: restored below
    object.__setattr__(exp, "reads", (frozenset(_loaded(rule)),))
    eager_tensor._PLANS.pop(exp, None)
    raw._CACHE.clear()
    try:
        yield
    finally:
        object.__setattr__(exp, "vjps", rules)
        object.__setattr__(exp, "reads", reads)
        eager_tensor._PLANS.pop(exp, None)
        raw._CACHE.clear()


def test_a_rule_calling_a_composite_that_detaches_is_replayed_with_new_values() -> None:
    """softmax detaches its shift (the max): a replay computes it again, for the new input."""
    def rule(ct: Any, ans: Any, x: Any) -> Any:
        return ct * x.softmax(0)
    with _exp_rule(rule):
        for values in ([0.0, 1.0], [2.0, 3.0], [1000.0, 1001.0]):  # a stale shift overflows
            x = symgrad.tensor(values, dtype=symgrad.float64, requires_grad=True)
            with np.errstate(over="ignore"):  # the forward's exp(1000), not the gradient
                x.exp().sum().backward()
            e = np.exp(np.array(values) - values[1])
            np.testing.assert_allclose(x.grad.numpy(), e / e.sum(), rtol=1e-15)


def test_a_users_rule_runs_every_time() -> None:
    """A custom_vjp's bwd may read state that changes between backwards: never replayed;
    and it is given the Tensors it was written for."""
    scale = [1.0]
    given = []

    @symgrad.custom_vjp
    def scaled(x: Any) -> Any:
        return x

    scaled.defvjp(lambda x: (x, None), lambda res, ct: given.append(type(ct)) or (ct * scale[0],))
    x = symgrad.tensor([1.0, 2.0], requires_grad=True)
    for s in (1.0, 3.0, -2.0, 0.5):
        scale[0] = s
        x.grad = None
        (scaled(x) * x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), s * x.detach().numpy() + x.detach().numpy())
    assert given == [Tensor] * 4


@pytest.mark.parametrize("program", [
    lambda a, b, c: (a * b).sin().sum(),  # b is cast to float32 in the VJP of a: ct * b
    lambda a, b, c: ((a * b).sin() * c).sum(),  # float64 flows back through float32 ops
], ids=["float32", "into-float64"])
def test_mixed_dtypes_promote_as_on_the_tape(program: Callable) -> None:
    """float32 * float64: PyTorch's promotion (a 0-d float64 does not widen a float32 tensor),
    the same on both paths, casts included, in every replay."""
    a = symgrad.tensor([1.0, 2.0, 3.0], dtype=symgrad.float32, requires_grad=True)
    b = symgrad.tensor(2.0, dtype=symgrad.float64, requires_grad=True)
    c = symgrad.tensor([0.5, 0.25, 2.0], dtype=symgrad.float64, requires_grad=True)
    want = symgrad.autograd.grad(program(a, b, c), [a, b, c], create_graph=True, allow_unused=True)
    raw._CACHE.clear()
    for _ in range(3):
        got = symgrad.autograd.grad(program(a, b, c), [a, b, c], allow_unused=True)
        for g, w in zip(got, want):
            assert (g is None) == (w is None)
            if g is not None:
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g.numpy(), w.detach().numpy())


def test_grad_takes_the_walks_buffer_only_when_nothing_else_holds_it() -> None:
    """A fresh gradient becomes `.grad` without a copy (as PyTorch's AccumulateGrad steals
    it); one that a user's tensor or another leaf also holds is copied, so accumulating into
    one `.grad` never changes another or the user's `gradient=`."""
    a = symgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = symgrad.tensor([4.0, 5.0, 6.0], requires_grad=True)
    seed = symgrad.ones(3)
    (a + b).backward(gradient=seed)  # add's rule hands the same cotangent to both
    grads = [a.grad.numpy(), b.grad.numpy(), seed.numpy()]
    assert not any(np.shares_memory(p, q) for i, p in enumerate(grads) for q in grads[i + 1:])
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(seed.numpy(), [1.0, 1.0, 1.0])
    c = symgrad.tensor([0.5, 1.5], requires_grad=True)
    (c * c).exp().sum().backward()  # a fresh gradient: taken as it is, and right
    np.testing.assert_allclose(c.grad.numpy(), 2 * np.array([0.5, 1.5]) * np.exp([0.25, 2.25]), rtol=1e-6)
    assert c.grad.numpy().flags.owndata and c.grad.numpy().flags.writeable


@pytest.mark.parametrize("index", [np.s_[1:3], np.s_[::2], np.s_[1:, None]], ids=["slice", "step", "none"])
def test_an_interpreted_rule_runs_on_arrays_too(index: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose params have no signature (a slice) is interpreted every time, still on
    arrays: no Tensor op in its backward, and the gradient of x[index] is right."""
    applied: list[str] = []
    apply = Tensor._apply.__func__

    def counting(cls: type, op: Any, args: tuple, params: dict, name: str | None) -> Any:
        applied.append(op.name)
        return apply(cls, op, args, params, name)
    x = symgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    for _ in range(3):
        picked = x[index]  # the seed, a Tensor, goes straight into the interpreted node
        seed = symgrad.tensor(np.arange(1.0, 5.0)[index] * 2)
        monkeypatch.setattr(Tensor, "_apply", classmethod(counting))
        x.grad = None
        picked.backward(gradient=seed)
        monkeypatch.undo()
        assert applied == []
        want = np.zeros(4)
        np.add.at(want, (np.arange(4)[index],), 2 * np.arange(1.0, 5.0)[index])
        np.testing.assert_array_equal(x.grad.numpy(), want)
        assert type(x.grad) is Tensor


_seen: list[tuple[type, type]] = []


def _softplus_rule(ct: Any, ans: Any, x: Any) -> Any:
    """d softplus(x) = 1 - exp(-softplus(x)): reads the output, as a user's rule may."""
    _seen.append((type(ct), type(ans)))
    return ct * (1 - (-ans).exp())


user_softplus = symgrad.extend("test_raw_user_softplus", lambda x: np.logaddexp(0.0, x), [_softplus_rule])


def test_a_users_rule_reading_the_output_is_given_it() -> None:
    """An extend() rule reading `ans` gets the forward's value, as a Tensor, every backward,
    and the gradient is the closed form sigmoid(x)."""
    _seen.clear()
    for values in ([-3.0, 0.0, 2.5], [1.0, -1.0, 40.0]):
        x = symgrad.tensor(values, dtype=symgrad.float64, requires_grad=True)
        (user_softplus(x) * 2.0).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2.0 / (1.0 + np.exp(-np.array(values))), rtol=1e-13)
    assert _seen == [(Tensor, Tensor)] * 2
