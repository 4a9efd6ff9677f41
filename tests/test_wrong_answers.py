"""Wrong answers fixed in the engine and the registry, each against a reference.

- `prod` to every order, with any number of zeros in a row: its VJP is `prod_others(x)` (the
  product of each entry's others, with no division) and that op's VJP is itself, one axis up.
  Eager (`create_graph`) and compiled (`symgrad.hessian`, `symgrad.jacobian` of it) derivatives
  up to the 4th are compared with PyTorch, JAX (each when importable), the closed form (the
  k-th derivative in k distinct entries of one row is the product of the row's other entries)
  and central differences of the compiled Hessian.
- Second derivatives through every kind of composite (std, softmax, layer_norm, ...): their
  inner walk no longer frees values that the `create_graph` gradient graph reads (PyTorch is
  the reference).
- Memory and the backward's bookkeeping: after `backward` without `retain_graph` only the
  gradients stay alive (tracemalloc), a second backward raises PyTorch's error, hooks fire once
  and a backward that fails in a hook can be retried.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc

import numpy as np
import pytest

import symgrad

# ---------------------------------------------------------------- prod, to every order


def closed_form(x: np.ndarray, weights: np.ndarray, dim: int | None, keepdim: bool, order: int) -> np.ndarray:
    """The order-th derivative tensor of sum(weights * prod(x, dim)): for distinct entries
    i1..ik of one row, weight of the row times the product of its other entries, else 0."""
    rows = np.zeros(x.shape, int) if dim is None else np.indices(x.shape)[1 - dim]  # x is 2-D with a dim
    w, flat, row_of = np.ravel(weights), x.ravel(), rows.ravel()
    out = np.zeros((x.size,) * order)
    for idx in itertools.product(range(x.size), repeat=order):
        if len(set(idx)) == order and len({row_of[i] for i in idx}) == 1:
            r = row_of[idx[0]]
            out[idx] = w[r] * np.prod([flat[j] for j in range(x.size) if row_of[j] == r and j not in idx])
    return out.reshape(x.shape * order)


def weighted_prod(np_or_lib, weights, dim, keepdim):
    """sum(weights * prod(x, dim)) in the spelling of `np_or_lib` (NumPy, symgrad, torch, jax.numpy)."""
    def f(x):
        p = x.prod() if dim is None else x.prod(dim, keepdim) if hasattr(x, "grad_fn") \
            else np_or_lib.prod(x, axis=dim, keepdims=keepdim)
        return (p * weights).sum()
    return f


def eager_derivative(lib, f, x: np.ndarray, order: int) -> np.ndarray:
    """The order-th derivative tensor of scalar f at x, by repeated `autograd.grad(create_graph=True)`."""
    t = lib.tensor(x, requires_grad=True)
    level = [f(t)]
    for _ in range(order):
        deeper = []
        for y in level:
            g = lib.autograd.grad(y, t, create_graph=True, allow_unused=True)[0] if y.requires_grad else None
            g = lib.zeros_like(t) if g is None else g
            deeper.extend(g.reshape(-1)[i] for i in range(x.size))
        level = deeper
    return np.array([v.item() for v in level], dtype=x.dtype).reshape(x.shape * order)


def compiled_derivative(f, x: np.ndarray, order: int) -> np.ndarray:
    """The order-th derivative tensor of f at x from generated code: grad, hessian, jacobian of those."""
    d = symgrad.grad(f) if order == 1 else symgrad.hessian(f)
    for _ in range(order - 2):
        d = symgrad.jacobian(d)
    return np.asarray(d(x))


ROW = np.array([0.0, 0.0, 0.0, 2.0, -1.5])
MATRIX = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])  # zeros in both rows and both columns
REDUCTIONS = [(None, False), (1, False), (1, True), (0, False), (0, True)]


def _weights(x, dim, keepdim):
    shape = np.prod(np.ones(x.shape), axis=dim, keepdims=keepdim).shape
    return np.linspace(0.5, 2.0, int(np.prod(shape))).reshape(shape).astype(x.dtype)


def test_prod_hessian_with_two_zeros_is_the_product_of_the_others():
    a = np.array([0.0, 0.0, 2.0, 3.0])
    want = np.zeros((4, 4))
    want[0, 1] = want[1, 0] = 6.0
    np.testing.assert_array_equal(eager_derivative(symgrad, lambda t: t.prod(), a, 2), want)
    np.testing.assert_array_equal(symgrad.hessian(lambda v: v.prod())(a), want)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_prod_of_a_row_with_three_zeros_to_the_fourth_order(order):
    torch = pytest.importorskip("torch")
    want = closed_form(ROW, np.ones(1), None, False, order)
    assert (np.abs(want).sum() > 0) == (order >= 3)  # 3 zeros: all-zero Hessian, then not
    got_eager = eager_derivative(symgrad, lambda t: t.prod(), ROW, order)
    got_compiled = compiled_derivative(lambda v: v.prod(), ROW, order)
    np.testing.assert_allclose(eager_derivative(torch, lambda t: t.prod(), ROW, order), want, atol=1e-14)
    np.testing.assert_allclose(got_eager, want, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(got_compiled, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS, ids=lambda r: f"dim={r[0]}" + ("-keepdim" * r[1]))
def test_prod_third_derivative_on_a_matrix_matches_torch_jax_and_differences(reduction, dtype):
    torch = pytest.importorskip("torch")
    dim, keepdim = reduction
    x = MATRIX.astype(dtype)
    w = _weights(x, dim, keepdim)
    tol = {"rtol": 1e-13, "atol": 1e-13} if dtype == np.float64 else {"rtol": 1e-6, "atol": 1e-6}
    want = closed_form(x.astype(np.float64), w.astype(np.float64), dim, keepdim, 3)
    torch_f = weighted_prod(torch, torch.tensor(w), dim, keepdim)
    np.testing.assert_allclose(eager_derivative(torch, torch_f, x, 3), want, **tol)
    eager = eager_derivative(symgrad, weighted_prod(symgrad, symgrad.tensor(w), dim, keepdim), x, 3)
    np.testing.assert_allclose(eager, want, **tol)
    f = weighted_prod(np, w, dim, keepdim)
    compiled = compiled_derivative(f, x, 3)
    assert compiled.dtype == dtype
    np.testing.assert_allclose(compiled, want, **tol)
    # central differences of the compiled Hessian (exact up to rounding: prod is multilinear)
    x64, hessian, h = x.astype(np.float64), symgrad.hessian(weighted_prod(np, w.astype(np.float64), dim,
                                                                          keepdim)), 1e-3
    steps = [(hessian(x64 + h * e) - hessian(x64 - h * e)) / (2 * h) for e in np.eye(x.size).reshape(
        (x.size,) + x.shape)]
    np.testing.assert_allclose(np.moveaxis(np.array(steps), 0, -1).reshape(want.shape), want, atol=1e-9)


@pytest.mark.parametrize("reduction", [(None, False), (0, True)], ids=["dim=None", "dim=0-keepdim"])
def test_prod_third_derivative_matches_jax(reduction):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    dim, keepdim = reduction
    w = _weights(MATRIX, dim, keepdim)
    third = jax.jit(jax.jacfwd(jax.jacrev(jax.jacrev(weighted_prod(jnp, jnp.asarray(w), dim, keepdim)))))
    want = np.asarray(third(jnp.asarray(MATRIX)))
    np.testing.assert_allclose(compiled_derivative(weighted_prod(np, w, dim, keepdim), MATRIX, 3), want,
                               rtol=1e-14, atol=1e-14)


def test_prod_gradient_is_one_readable_line():
    source = symgrad.grad(lambda v: np.prod(v, axis=1).sum()).source(MATRIX)
    assert "prod_others(v, (1,))" in source and "where" not in source and "/" not in source


# ---------------------------------------------------------------- composites, second order

COMPOSITES = {
    "std": lambda m, F, a, b: a.std(1, keepdim=True),
    "standardize": lambda m, F, a, b: (a - a.mean(1, keepdim=True)) / (a.std(1, keepdim=True) + 1),
    "var": lambda m, F, a, b: a.var(0),
    "mean": lambda m, F, a, b: a.mean(1),
    "softmax": lambda m, F, a, b: F.softmax(a, 1),
    "log_softmax": lambda m, F, a, b: F.log_softmax(a, 1),
    "logsumexp": lambda m, F, a, b: a.logsumexp(1),
    "cross_entropy": lambda m, F, a, b: F.cross_entropy(a, m.tensor([0, 3, 1])),
    "nll_loss": lambda m, F, a, b: F.nll_loss(F.log_softmax(a, 1), m.tensor([2, 0, 1])),
    "norm": lambda m, F, a, b: a.norm(dim=1),
    "vector_norm": lambda m, F, a, b: m.linalg.vector_norm(a, 3, dim=0),
    "layer_norm": lambda m, F, a, b: F.layer_norm(a, (4,)),
    "normalize": lambda m, F, a, b: F.normalize(a, dim=1),
    "gelu": lambda m, F, a, b: F.gelu(a),
    "silu": lambda m, F, a, b: F.silu(a),
    "elu": lambda m, F, a, b: F.elu(a),
    "softplus": lambda m, F, a, b: F.softplus(a),
    "logsigmoid": lambda m, F, a, b: F.logsigmoid(a),
    "leaky_relu": lambda m, F, a, b: F.leaky_relu(a, 0.1),
    "mse_loss": lambda m, F, a, b: F.mse_loss(a, b),
    "huber_loss": lambda m, F, a, b: F.huber_loss(a, b),
    "smooth_l1_loss": lambda m, F, a, b: F.smooth_l1_loss(a, b),
    "binary_cross_entropy_with_logits": lambda m, F, a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()),
    "binary_cross_entropy": lambda m, F, a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid()),
    "kl_div": lambda m, F, a, b: F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean"),
    "cosine_similarity": lambda m, F, a, b: F.cosine_similarity(a, b),
    "pairwise_distance": lambda m, F, a, b: F.pairwise_distance(a, b),
    "linear": lambda m, F, a, b: F.linear(a, b),
    "addcmul": lambda m, F, a, b: m.addcmul(a, a, b, value=0.5),
    "addcdiv": lambda m, F, a, b: m.addcdiv(a, b, a * a + 1),
    "lerp": lambda m, F, a, b: m.lerp(a, b, a.sigmoid()),
    "logcumsumexp": lambda m, F, a, b: m.logcumsumexp(a, 1),
    "cov": lambda m, F, a, b: m.cov(a),
    "corrcoef": lambda m, F, a, b: m.corrcoef(a),
    "trace": lambda m, F, a, b: m.trace(a @ a.T),
    "kron": lambda m, F, a, b: m.kron(a, b),
    "dist": lambda m, F, a, b: m.dist(a, b),
    "rsqrt": lambda m, F, a, b: m.rsqrt(a * a + 1),
    "sinc": lambda m, F, a, b: m.sinc(a),
    "logaddexp": lambda m, F, a, b: m.logaddexp(a, b),
    "float_power": lambda m, F, a, b: m.float_power(a * a + 1, 1.5),
    "cross": lambda m, F, a, b: m.linalg.cross(a[:, :3], b[:, :3]),
}
_RNG = np.random.default_rng(0)
A, B, W = (_RNG.standard_normal((3, 4)) for _ in range(3))


def second_order(m, fn):
    """d/d(a, b) of <W, d/da y> + |d/db y|^2, y = sum(fn(a, b) ** 3): the composite's output is
    read by pow's rule and its inner values by its own, so the second walk meets both."""
    a, b = m.tensor(A, requires_grad=True), m.tensor(B, requires_grad=True)
    y = (fn(m, m.nn.functional, a, b) ** 3).sum()
    ga, gb = m.autograd.grad(y, (a, b), create_graph=True, materialize_grads=True)
    s = (ga * m.tensor(W)).sum() + (gb * gb).sum()
    return [g.detach().numpy() for g in m.autograd.grad(s, (a, b), materialize_grads=True)]


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_second_derivative_through_a_composite_matches_torch(name):
    torch = pytest.importorskip("torch")
    want = second_order(torch, COMPOSITES[name])
    for got, ref in zip(second_order(symgrad, COMPOSITES[name]), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_the_issue_standardize_repro():
    a = symgrad.randn(3, 4, dtype=symgrad.float64, requires_grad=True)
    y = ((a - a.mean(1, keepdim=True)) / (a.std(1, keepdim=True) + 1)).pow(3).sum()
    g, = symgrad.autograd.grad(y, a, create_graph=True)
    h, = symgrad.autograd.grad((g * g).sum(), a)  # g.sum() is 0 for every a: shifts change nothing
    eps, x = 1e-6, a.detach().numpy()

    def gsq(v):
        t = symgrad.tensor(v, requires_grad=True)
        z = ((t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1)).pow(3).sum()
        return float((symgrad.autograd.grad(z, t)[0] ** 2).sum())
    fd = np.array([(gsq(x + eps * e) - gsq(x - eps * e)) / (2 * eps) for e in np.eye(12).reshape(12, 3, 4)])
    np.testing.assert_allclose(h.numpy(), fd.reshape(3, 4), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- memory and bookkeeping

def _held_after_backward(keep_loss: bool) -> tuple[int, int]:
    """(bytes still allocated after backward and gc, bytes of x.grad), for an 8 MB float64
    input through elementwise ops, a composite (std) and linear ops (sub, sum)."""
    x = symgrad.tensor(np.random.default_rng(0).standard_normal((1000, 1000)), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h = (x * 2).exp().tanh()
        loss = ((h - h.mean(1, keepdim=True)) / (h.std(1, keepdim=True) + 1)).pow(2).sum()
        loss.backward()
        del h
        if not keep_loss:
            del loss
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return held, x.grad.numpy().nbytes


@pytest.mark.parametrize("keep_loss", [False, True], ids=["loss dropped", "loss kept"])
def test_after_backward_only_the_gradient_stays_alive(keep_loss):
    held, grad_bytes = _held_after_backward(keep_loss)
    assert grad_bytes == 8_000_000
    assert held < grad_bytes + 200_000, f"{held / 1e6:.1f} MB held for an 8 MB gradient"


@pytest.mark.parametrize("make", [
    lambda a: a.exp().sum(),
    lambda a: a.std(),
    lambda a: (a.std(1) * a.sum(1)).sum(),
], ids=["op", "composite", "composite and ops"])
def test_a_second_backward_raises_torchs_error(make):
    a = symgrad.tensor(A, requires_grad=True)
    y = make(a)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_hooks_and_retained_grads_at_a_composites_boundary_fire_once():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (symgrad, torch):
        a = lib.tensor(A, requires_grad=True)
        calls = []
        b = a * 2
        b.register_hook(lambda g, calls=calls: calls.append("b"))
        b.retain_grad()
        a.register_hook(lambda g, calls=calls: calls.append("a"))
        F = lib.nn.functional
        (F.softmax(b, 1) * b).sum().backward()
        results.append((calls, b.grad.numpy(), a.grad.numpy()))
    (calls, b_grad, a_grad), (t_calls, t_b_grad, t_a_grad) = results
    assert sorted(calls) == sorted(t_calls) == ["a", "b"]
    np.testing.assert_allclose(b_grad, t_b_grad, rtol=1e-12)
    np.testing.assert_allclose(a_grad, t_a_grad, rtol=1e-12)


def test_a_backward_failing_in_a_hook_can_be_retried():
    a = symgrad.tensor(A, requires_grad=True)
    b = a.exp()
    b.retain_grad()
    calls = []

    def hook(g):
        calls.append(g)
        if len(calls) == 1:
            raise ValueError("hook failed")
    a.register_hook(hook)
    y = (b.std(1, keepdim=True) * b).sum()
    with pytest.raises(ValueError, match="hook failed"):
        y.backward()
    assert a.grad is None and b.grad is None  # nothing stored, nothing freed
    y.backward()
    t = symgrad.tensor(A, requires_grad=True)
    (t.exp().std(1, keepdim=True) * t.exp()).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-14)
    assert len(calls) == 2
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()
