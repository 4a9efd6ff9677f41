"""The raw backward's cheaper per-node paths keep their semantics.

`run` keys each node's compiled VJP by a signature built inline (one part per input, the
edges that take a gradient, params with floats by their bits); the walk sends gradients
inline; an implicit seed copies a kept size-1 one. Each case runs a program several times,
so the trace, its compile and its replays are all checked, against PyTorch where it is
installed and closed forms otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgrad

REPEATS = 4  # first sight traces, second compiles, then replays


def _grad_of(fn, x0: np.ndarray) -> np.ndarray:
    x = symgrad.tensor(x0, requires_grad=True)
    fn(x).backward()
    return np.asarray(x.grad._data)


@pytest.mark.parametrize("c", [0.0, -0.0])
def test_a_float_scalar_is_keyed_by_its_bits(c: float) -> None:
    """x * 0.0 and x * -0.0 share op, shapes and edges: only the float's bits tell their
    replays apart, and the gradient's sign follows it."""
    x0 = np.array([1.0, 2.0, 3.0], np.float32)
    for _ in range(REPEATS):
        for k in (0.0, -0.0):  # interleaved: each replay must be its own
            g = _grad_of(lambda x, k=k: (x * k).sum(), x0)
            assert np.array_equal(np.signbit(g), np.full(3, np.signbit(k)))
    g = _grad_of(lambda x: (x * c).sum(), x0)
    assert np.array_equal(np.signbit(g), np.full(3, np.signbit(c)))


def test_an_int_scalar_and_a_float_scalar_keep_their_promotion() -> None:
    """x ** 2 and x ** 2.0 on an integer-valued float tensor, and 3 * x vs 3.0 * x on float16:
    the same values, the dtypes PyTorch gives, through every replay."""
    x0 = np.array([0.5, 1.5, -2.0], np.float16)
    for _ in range(REPEATS):
        for k in (3, 3.0):
            g = _grad_of(lambda x, k=k: (x * k).sum(), x0)
            assert g.dtype == np.float16
            np.testing.assert_array_equal(g, np.full(3, 3.0, np.float16))
        for e in (2, 2.0):
            g = _grad_of(lambda x, e=e: (x ** e).sum(), x0)
            np.testing.assert_allclose(g, 2 * x0.astype(np.float32), rtol=1e-3)


def test_which_edges_take_a_gradient_is_part_of_the_key() -> None:
    """a * b and a + b with a, b or both requiring grad: same op and shapes, three replays
    (a + b keeps both inputs by their shapes: only its edges tell them apart)."""
    a0 = np.array([1.0, -2.0, 3.0])
    b0 = np.array([4.0, 5.0, -6.0])
    for _ in range(REPEATS):
        for need in ((True, False), (False, True), (True, True)):
            a = symgrad.tensor(a0, requires_grad=need[0])
            b = symgrad.tensor(b0, requires_grad=need[1])
            (a * b).sum().backward()
            assert (a.grad is not None) == need[0] and (b.grad is not None) == need[1]
            if need[0]:
                np.testing.assert_array_equal(a.grad._data, b0)
            if need[1]:
                np.testing.assert_array_equal(b.grad._data, a0)
            a.grad = b.grad = None
            (a + b).sum().backward()
            assert (a.grad is not None) == need[0] and (b.grad is not None) == need[1]
            for t, n in zip((a, b), need):
                if n:
                    np.testing.assert_array_equal(t.grad._data, np.ones(3))


def test_kept_shape_and_saved_tensor_inputs_do_not_share_a_replay() -> None:
    """x * y keeps x by its shape when only x wants a gradient, and reads x when y does:
    the two signatures must differ although shapes and dtypes agree."""
    x0, y0 = np.array([2.0, 3.0]), np.array([5.0, 7.0])
    for _ in range(REPEATS):
        x = symgrad.tensor(x0, requires_grad=True)
        y = symgrad.tensor(y0)
        (x * y).sum().backward()
        np.testing.assert_array_equal(x.grad._data, y0)
        x = symgrad.tensor(x0)
        y = symgrad.tensor(y0, requires_grad=True)
        (x * y).sum().backward()
        np.testing.assert_array_equal(y.grad._data, x0)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_an_implicit_seed_is_a_fresh_one_every_backward(shape: tuple) -> None:
    """A size-1 output's implicit gradient is one of its shape and dtype; the walk may write
    into it in place, so a kept seed shared between backwards would drift."""
    x0 = np.array([1.0, 2.0, 3.0], np.float32)
    for _ in range(REPEATS):
        x = symgrad.tensor(x0, requires_grad=True)
        out = (x.exp() * 2.0).sum().reshape(shape)
        out.backward()
        np.testing.assert_allclose(x.grad._data, 2 * np.exp(x0), rtol=1e-6)
        assert x.grad.dtype == symgrad.float32


def test_a_retained_graph_replays_twice_and_frees_after() -> None:
    """retain_graph keeps a binary node's saved inputs; the next backward frees them
    (OpNode2's release), and a third raises PyTorch's message."""
    a = symgrad.tensor([1.0, 2.0], requires_grad=True)
    b = symgrad.tensor([3.0, 4.0], requires_grad=True)
    out = (a * b).sum()
    out.backward(retain_graph=True)
    out.backward()
    np.testing.assert_array_equal(a.grad._data, [6.0, 8.0])
    np.testing.assert_array_equal(b.grad._data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_a_chain_matches_torch() -> None:
    """The 200-op chain of the benchmark (sin, exp, tanh, mul, add), gradients as PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(16).astype(np.float32)
    y0 = rng.uniform(0.5, 0.9, 16).astype(np.float32)

    def chain(lib, x, y):
        h = x
        for _ in range(40):
            h = (h * y + x).sin().exp().tanh()
        return h.sum()

    for _ in range(3):
        xs, ys = symgrad.tensor(x0, requires_grad=True), symgrad.tensor(y0, requires_grad=True)
        chain(symgrad, xs, ys).backward()
        xt, yt = torch.tensor(x0, requires_grad=True), torch.tensor(y0, requires_grad=True)
        chain(torch, xt, yt).backward()
        np.testing.assert_allclose(xs.grad._data, xt.grad.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ys.grad._data, yt.grad.numpy(), rtol=1e-4, atol=1e-6)
