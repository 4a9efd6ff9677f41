"""Shape and indexing functions (symgrad/ops/arrange.py): NumPy's on traced values, PyTorch's on
eager tensors.

Each NumPy row is a function of arrays written as a user would (np.func, the ndarray method,
keywords, negative axes); it runs through NumPy, compiled, and eagerly on Tensors, and its
gradient (of sum(f(x) * ct)) is checked against central finite differences, the eager tape
and a Jacobian. Each PyTorch row runs the same code on symgrad and on torch (value, gradient,
grad_fn names). Then second order, realistic programs written three ways, face-specific
methods, and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.autodiff import batching as autodiff_batching

F = symgrad.nn.functional
swv = np.lib.stride_tricks.sliding_window_view
FD = {"rtol": 1e-6, "atol": 1e-7}
EXACT = {"rtol": 1e-12, "atol": 1e-12}
RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, 4, 5))
V = RNG.normal(size=(6,))
M = RNG.normal(size=(4, 5))
IDX = np.array([[[2], [0], [3], [3]]])

# ---------------------------------------------------------------- NumPy rows: (id, fn, args)

NUMPY_ROWS = [
    ("diff", lambda x: np.diff(x), (X,)),
    ("diff-axis0-n2", lambda x: np.diff(x, 2, axis=0), (X,)),
    ("diff-neg-axis", lambda x: np.diff(x, n=1, axis=-2), (X,)),
    ("diff-prepend-append", lambda x: np.diff(x, prepend=0.5, append=x[..., -1:]), (X,)),
    ("diff-n0", lambda x: np.diff(x, n=0), (V,)),
    ("flip-all", lambda x: np.flip(x), (X,)),
    ("flip-int", lambda x: np.flip(x, 1), (X,)),
    ("flip-tuple", lambda x: np.flip(x, axis=(0, -1)), (X,)),
    ("fliplr", lambda x: np.fliplr(x), (M,)),
    ("flipud", lambda x: np.flipud(x), (X,)),
    ("roll-flat", lambda x: np.roll(x, 7), (X,)),
    ("roll-axis", lambda x: np.roll(x, -1, axis=1), (X,)),
    ("roll-tuple", lambda x: np.roll(x, (1, 2), axis=(0, -1)), (X,)),
    ("roll-same-axis", lambda x: np.roll(x, shift=(1, 2), axis=0), (M,)),
    ("roll-full-turn", lambda x: np.roll(x, 6), (V,)),
    ("tile-int", lambda x: np.tile(x, 2), (M,)),
    ("tile-more-dims", lambda x: np.tile(x, (2, 1, 3)), (M,)),
    ("tile-fewer-reps", lambda x: np.tile(x, (2,)), (X,)),
    ("repeat-flat", lambda x: np.repeat(x, 2), (M,)),
    ("repeat-axis", lambda x: np.repeat(x, 3, axis=-1), (M,)),
    ("repeat-counts", lambda x: np.repeat(x, [1, 0, 2, 3], axis=0), (M,)),
    ("repeat-method", lambda x: x.repeat(2, axis=1), (X,)),
    ("repeat-method-flat", lambda x: x.repeat([2]), (V,)),
    ("pad-int", lambda x: np.pad(x, 1), (M,)),
    ("pad-pairs", lambda x: np.pad(x, ((1, 0), (2, 3)), constant_values=1.5), (M,)),
    ("pad-per-side-values", lambda x: np.pad(x, ((1, 2), (0, 1)), "constant",
                                             constant_values=((1, 2), (3, 4))), (M,)),
    ("pad-one-pair", lambda x: np.pad(x, (2, 1), mode="edge"), (X,)),
    ("pad-reflect", lambda x: np.pad(x, [(1, 2), (3, 0)], mode="reflect"), (M,)),
    ("pad-reflect-wide", lambda x: np.pad(x, 9, mode="reflect"), (V,)),
    ("pad-symmetric", lambda x: np.pad(x, (2, 3), mode="symmetric"), (V,)),
    ("pad-wrap", lambda x: np.pad(x, ((0, 1), (2, 2)), mode="wrap"), (M,)),
    ("hstack", lambda x, v: np.hstack([v, v[:2]]), (M, V)),
    ("hstack-2d", lambda x, v: np.hstack((x, x[:, :2])), (M, V)),
    ("vstack", lambda x, v: np.vstack([x, v[:5]]), (M, V)),
    ("column-stack", lambda x, v: np.column_stack([v[:4], x]), (M, V)),
    ("dstack", lambda x, v: np.dstack([x, 2 * x, x[..., None]]), (M, V)),
    ("stack-neg", lambda x, v: np.stack([x, 2 * x], axis=-1), (M, V)),
    ("concatenate-none", lambda x, v: np.concatenate([x, v], axis=None), (M, V)),
    ("split", lambda x: np.split(x, 2, axis=1)[1], (X,)),
    ("split-indices", lambda x: np.split(x, [1, 3], axis=-1)[2], (X,)),
    ("array-split", lambda x: np.array_split(x, 3, -1)[0] * 2, (X,)),
    ("array-split-sum", lambda x: sum(p.sum() for p in np.array_split(x, 4)), (V,)),
    ("atleast-1d", lambda x: np.atleast_1d(x.sum()), (V,)),
    ("atleast-2d-pair", lambda x: np.atleast_2d(x, x.sum())[1] + np.atleast_2d(x)[0, 0], (V,)),
    ("atleast-3d", lambda x: np.atleast_3d(x), (M,)),
    ("atleast-3d-vec", lambda x: np.atleast_3d(x), (V,)),
    ("expand-dims-tuple", lambda x: np.expand_dims(x, (0, -1)), (M,)),
    ("expand-dims-neg", lambda x: np.expand_dims(x, axis=-2), (M,)),
    ("moveaxis", lambda x: np.moveaxis(x, 0, -1), (X,)),
    ("moveaxis-tuple", lambda x: np.moveaxis(x, (0, 1), (2, 0)), (X,)),
    ("swapaxes", lambda x: np.swapaxes(x, 0, 2), (X,)),
    ("swapaxes-method", lambda x: x.swapaxes(-1, 1), (X,)),
    ("ravel", lambda x: np.ravel(x) * np.arange(60), (X,)),
    ("ravel-method", lambda x: x.ravel(), (X,)),
    ("flatten-method", lambda x: x.flatten(), (X,)),
    ("squeeze", lambda x: np.squeeze(x[:, :1]), (X,)),
    ("squeeze-axis", lambda x: np.squeeze(x[:1, :, None], axis=(0, -1)), (M,)),
    ("squeeze-method", lambda x: x[:, :1].squeeze(1), (X,)),
    ("take-flat", lambda x: np.take(x, [0, 7, 7, -1]), (X,)),
    ("take-axis", lambda x: np.take(x, [[0, 2], [1, 1]], axis=1), (X,)),
    ("take-method", lambda x: x.take(np.array([4, 0, 4]), axis=-1), (X,)),
    ("take-scalar", lambda x: np.take(x, 2), (V,)),
    ("take-along-axis", lambda x: np.take_along_axis(x, IDX, axis=1), (X,)),
    ("take-along-axis-bcast", lambda x: np.take_along_axis(x, np.array([[1, 1, 0]]), -1), (M[:3, :2],)),
    ("take-along-none", lambda x: np.take_along_axis(x, np.array([5, 5, 0]), None), (M,)),
    ("sliding-window", lambda x: swv(x, 3), (V,)),
    ("sliding-window-axes", lambda x: swv(x, (2, 3), axis=(1, 2)), (X,)),
    ("sliding-window-all", lambda x: swv(x, window_shape=(2, 2)), (M,)),
    ("sliding-window-repeat-axis", lambda x: swv(x, (2, 2), axis=(1, 1)), (M,)),
    ("meshgrid-xy", lambda x, v: np.meshgrid(x[0], v)[0] * np.meshgrid(x[0], v)[1], (M, V)),
    ("meshgrid-ij", lambda x, v: np.meshgrid(x[0], v, indexing="ij")[1], (M, V)),
    ("meshgrid-sparse", lambda x, v: sum(np.meshgrid(x[0], v, x[1, :2], sparse=True)), (M, V)),
    ("broadcast-arrays", lambda x, v: np.broadcast_arrays(x[:, :1], v[:5])[0], (M, V)),
    ("broadcast-arrays-both", lambda x, v: np.multiply(*np.broadcast_arrays(x, v[:5])), (M, V)),
]


# ndarray methods whose torch.Tensor namesake differs: no eager run (see test_faces)
NDARRAY_ONLY = {"repeat-method", "repeat-method-flat"}


def _ct(out: np.ndarray) -> np.ndarray:
    return np.cos(1.0 + np.arange(np.size(out))).reshape(np.shape(out))


def _args(args: tuple) -> tuple:
    return tuple(np.array(a, dtype=np.float64) for a in args)


@pytest.mark.parametrize("name,fn,args", NUMPY_ROWS, ids=[r[0] for r in NUMPY_ROWS])
def test_numpy_row(name, fn, args, monkeypatch):
    """Values (NumPy, compiled, eager), gradient (FD, eager tape), and a Jacobian from one
    batched reverse pass (every piece has a batching rule)."""
    args = _args(args)
    want = np.asarray(fn(*args))
    compiled = symgrad.compile(fn)(*args)
    np.testing.assert_allclose(compiled, want, **EXACT)
    assert np.shape(compiled) == want.shape
    ct = _ct(want)
    tensors = [symgrad.tensor(a, requires_grad=True) for a in args]
    if name not in NDARRAY_ONLY:
        eager = fn(*tensors)
        np.testing.assert_allclose(eager.detach().numpy(), want, **EXACT)
        (eager * symgrad.tensor(ct)).sum().backward()

    def scalar(*xs):
        return (fn(*xs) * ct).sum()
    wrt = tuple(range(len(args)))
    grads = symgrad.grad(scalar, argnums=wrt)(*args)
    for g, fd, t in zip(grads, differences(scalar, args, wrt), tensors):
        np.testing.assert_allclose(g, fd, **FD)
        if name not in NDARRAY_ONLY:
            eager_grad = np.zeros_like(g) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(eager_grad, g, **EXACT)
    passes = []
    monkeypatch.setattr(autodiff_batching, "backprop",
                        lambda *a, _run=autodiff_batching.backprop: passes.append(1) or _run(*a))
    jac = symgrad.jacobian(fn)(*args)
    assert len(passes) == 1
    np.testing.assert_allclose(np.tensordot(ct, jac, ct.ndim), grads[0], **EXACT)


# ---------------------------------------------------------------- PyTorch rows: same code, both libraries

TORCH_ROWS = [
    ("diff", lambda m, x: m.diff(x)),
    ("diff-method", lambda m, x: x.diff(n=2, dim=0)),
    ("diff-prepend", lambda m, x: m.diff(x, dim=-1, prepend=x[..., :1], append=x[..., :2])),
    ("flip", lambda m, x: m.flip(x, (0, 2))),
    ("flip-method", lambda m, x: x.flip(-1)),
    ("fliplr", lambda m, x: m.fliplr(x)),
    ("flipud-method", lambda m, x: x.flipud()),
    ("roll", lambda m, x: m.roll(x, 1, 0)),
    ("roll-flat", lambda m, x: x.roll(7)),
    ("roll-tuple", lambda m, x: m.roll(x, shifts=(1, -2), dims=(0, 2))),
    ("tile", lambda m, x: m.tile(x, (2,))),
    ("tile-method", lambda m, x: x.tile(2, 1, 1, 2)),
    ("repeat", lambda m, x: x.repeat(2, 1, 3)),
    ("repeat-tuple", lambda m, x: x.repeat((1, 2, 1, 1))),
    ("repeat-interleave", lambda m, x: x.repeat_interleave(2, dim=1)),
    ("repeat-interleave-flat", lambda m, x: m.repeat_interleave(x, 2)),
    ("repeat-interleave-counts", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0)),
    ("pad-constant", lambda m, x: m.nn.functional.pad(x, (1, 2))),
    ("pad-constant-value", lambda m, x: m.nn.functional.pad(x, (1, 0, 0, 2), value=1.5)),
    ("pad-constant-crop", lambda m, x: m.nn.functional.pad(x, (-1, 2, 1, -2))),
    ("pad-reflect", lambda m, x: m.nn.functional.pad(x, (2, 3), mode="reflect")),
    ("pad-reflect-2d", lambda m, x: m.nn.functional.pad(x, (1, 2, 3, 0), mode="reflect")),
    ("pad-replicate", lambda m, x: m.nn.functional.pad(x, (2, 1), "replicate")),
    ("pad-replicate-2d", lambda m, x: m.nn.functional.pad(x, [0, 1, 2, 1], mode="replicate")),
    ("pad-circular", lambda m, x: m.nn.functional.pad(x, (2, 1), mode="circular")),
    ("unfold", lambda m, x: x.unfold(2, 2, 1)),
    ("unfold-step", lambda m, x: x.unfold(-1, 2, 2)),
    ("unfold-dim0", lambda m, x: x.unfold(0, 3, 1)),
    ("gather", lambda m, x: m.gather(x, 1, m.tensor([[[0, 1, 2, 0, 1], [3, 3, 3, 3, 3]]]))),
    ("gather-method", lambda m, x: x.gather(-1, m.tensor([[[4], [0]], [[1], [1]]]))),
    ("take-along-dim", lambda m, x: m.take_along_dim(x, m.tensor([[[2], [0], [3]]]), 1)),
    ("take-along-dim-flat", lambda m, x: x.take_along_dim(m.tensor([59, 0, 7]))),
    ("take", lambda m, x: m.take(x, m.tensor([[0, 5], [59, -1]]))),
    ("take-method", lambda m, x: x.take(m.tensor([3, 3]))),
    ("split", lambda m, x: m.split(x, 2, 1)),
    ("split-method", lambda m, x: x.split(3, dim=-1)),
    ("split-sizes", lambda m, x: m.split(x, [1, 3], dim=1)),
    ("chunk", lambda m, x: m.chunk(x, 2, 1)),
    ("chunk-method", lambda m, x: x.chunk(3, -1)),
    ("tensor-split", lambda m, x: m.tensor_split(x, 3, dim=1)),
    ("tensor-split-indices", lambda m, x: x.tensor_split([1, 3], 2)),
    ("movedim", lambda m, x: m.movedim(x, 0, 2)),
    ("movedim-tuple", lambda m, x: x.movedim((0, 1), (2, 0))),
    ("moveaxis", lambda m, x: m.moveaxis(x, -1, 0)),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 2)),
    ("swapdims-method", lambda m, x: x.swapdims(1, -1)),
    ("flatten", lambda m, x: m.flatten(x, 1)),
    ("flatten-method", lambda m, x: x.flatten(0, 1)),
    ("hstack", lambda m, x: m.hstack([x, x[:, :1]])),
    ("hstack-vectors", lambda m, x: m.hstack((x[0, 0], x[1, 1]))),
    ("vstack", lambda m, x: m.vstack([x[0, 0], x[1, 1]])),
    ("column-stack", lambda m, x: m.column_stack([x[0, :, 0], x[1], x[2, :, 1]])),
    ("dstack", lambda m, x: m.dstack([x[0], x[1]])),
    ("atleast-1d", lambda m, x: m.atleast_1d(x.sum())),
    ("atleast-2d", lambda m, x: m.atleast_2d(x[0, 0])),
    ("atleast-3d", lambda m, x: m.atleast_3d(x[0, 0])),
    ("atleast-3d-matrix", lambda m, x: m.atleast_3d(x[0])),
    ("atleast-2d-several", lambda m, x: m.atleast_2d(x[0, 0], x.sum())),
    ("atleast-1d-list", lambda m, x: m.atleast_1d([x.sum(0), x.sum()])),
    ("meshgrid-ij", lambda m, x: m.meshgrid(x[0, 0], x[1, 1, :3], indexing="ij")),
    ("meshgrid-xy", lambda m, x: m.meshgrid(x[0, 0], x[1, 1, :3], indexing="xy")),
    ("meshgrid-list", lambda m, x: m.meshgrid([x[0, 0], x[1, 1]], indexing="ij")),
    ("broadcast-tensors", lambda m, x: m.broadcast_tensors(x[0, 0], x[..., :1])),
    ("narrow", lambda m, x: m.narrow(x, 1, 1, 2)),
    ("narrow-method", lambda m, x: x.narrow(-1, -3, 2)),
    ("select", lambda m, x: m.select(x, 1, 2)),
    ("select-method", lambda m, x: x.select(-1, -1)),
    ("unbind", lambda m, x: m.unbind(x, 1)),
    ("unbind-method", lambda m, x: x.unbind()),
]


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


# torch.Tensor methods whose ndarray namesake differs (or is missing): not on traced values
TENSOR_ONLY = {"repeat", "repeat-tuple", "split-method", "flatten-method"}


@pytest.mark.parametrize("name,fn", TORCH_ROWS, ids=[r[0] for r in TORCH_ROWS])
def test_torch_row(name, fn):
    """Value, gradient and grad_fn names as PyTorch's; the same code compiled (NumPy face)
    gives the same gradient."""
    torch = pytest.importorskip("torch")
    outs, grads, names = [], [], []
    for m in (symgrad, torch):
        x = m.tensor(X, requires_grad=True)
        got = _outputs(fn(m, x))
        names.append([type(o.grad_fn).__name__ for o in got])
        outs.append([o.detach().numpy() for o in got])
        total = sum((o * m.tensor(_ct(o.detach().numpy()))).sum() for o in got)
        total.backward()
        grads.append(x.grad.numpy())
    assert names[0] == names[1]
    assert len(outs[0]) == len(outs[1])
    for a, b in zip(*outs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **EXACT)
    np.testing.assert_allclose(grads[0], grads[1], **EXACT)
    if name in TENSOR_ONLY:
        return

    def scalar(x):
        return sum((o * _ct(want)).sum() for o, want in zip(_outputs(fn(symgrad, x)), outs[0]))
    np.testing.assert_allclose(symgrad.grad(scalar)(X), grads[0], **EXACT)


# ---------------------------------------------------------------- the two faces

def test_repeat_flatten_squeeze_split_per_face():
    """A traced value's methods are ndarray's; an eager tensor's are torch.Tensor's."""
    seen = {}

    def traced(x):
        seen["repeat"] = x.repeat(2).shape  # np.repeat: flattened, each element twice
        seen["flatten"] = x.flatten().shape
        seen["has split"] = hasattr(x, "split")  # ndarray has no split method
        seen["split"] = [p.shape for p in symgrad.split(x, 3, 1)]  # symgrad.*: PyTorch's
        with pytest.raises(ValueError, match="size not equal to one"):
            x.squeeze(0)
        return x.repeat([1, 2, 0, 1], axis=0).sum()
    g = symgrad.grad(traced)(M)
    np.testing.assert_allclose(g, np.repeat([[1.0], [2.0], [0.0], [1.0]], 5, axis=1))
    assert seen == {"repeat": (40,), "flatten": (20,), "has split": False, "split": [(4, 3), (4, 2)]}
    t = symgrad.tensor(M, requires_grad=True)
    assert t.repeat(1, 2).shape == (4, 10) and t.repeat(2, 1, 1).shape == (2, 4, 5)
    assert t.flatten(0, 0).shape == (4, 5) and t.squeeze(0).shape == (4, 5)
    assert [p.shape for p in t.split(3, 1)] == [(4, 3), (4, 2)]


def test_tensor_functions_on_numpy_face():
    """np.* functions on eager tensors are recorded (NumPy's meaning, PyTorch's grad_fns)."""
    t = symgrad.tensor(V, requires_grad=True)
    assert type(np.flip(t).grad_fn).__name__ == "FlipBackward0"
    assert type(np.roll(t, 2).grad_fn).__name__ == "RollBackward0"
    assert type(np.tile(t, 2).grad_fn).__name__ == "RepeatBackward0"
    y = np.pad(t, 2, mode="reflect")
    (y * y).sum().backward()
    copies = np.bincount(np.pad(np.arange(6), 2, mode="reflect"))  # how often each appears
    np.testing.assert_allclose(t.grad.numpy(), 2 * V * copies, **EXACT)


# ---------------------------------------------------------------- second order

def _energy(x):
    """A scalar using several of the functions, nonlinear so its Hessian is not constant."""
    d = np.diff(x)
    window = swv(np.pad(x, 1, mode="reflect"), 3)
    return ((d * np.roll(x, 1)[1:]) ** 2).sum() + np.tanh(window @ np.array([0.3, -1.0, 0.5])).sum() \
        + (np.repeat(x, 2)[::3] * np.flip(np.tile(x, 2))[:4].sum()).sum()


def test_hessian_matches_differences_of_the_gradient():
    x = V.copy()
    hess = symgrad.hessian(_energy)(x)
    grad = symgrad.grad(_energy)
    fd = np.stack([(grad(x + e * 1e-6) - grad(x - e * 1e-6)) / 2e-6 for e in np.eye(x.size)], 1)
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hess, hess.T, **EXACT)
    np.testing.assert_allclose(grad(x), differences(_energy, [x], [0])[0], **FD)


def test_torch_second_order_through_unfold_and_pad():
    torch = pytest.importorskip("torch")
    out = []
    for m in (symgrad, torch):
        x = m.tensor(V, requires_grad=True)
        y = m.nn.functional.pad(x[None], (2, 1), mode="replicate").unfold(-1, 3, 2)
        loss = (y.prod(-1) * m.roll(y, 1, -1).sum(-1)).sum() + m.diff(x, n=2).pow(3).sum()
        (g,) = m.autograd.grad(loss, x, create_graph=True)
        (gg,) = m.autograd.grad((g * g).sum(), x)
        out.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, **EXACT)


# ---------------------------------------------------------------- realistic programs, three spellings

KERNEL = np.array([0.25, -0.5, 1.0, 0.125])


def conv_windows(x, w):
    return np.lib.stride_tricks.sliding_window_view(x, w.shape[0]) @ w[::-1]


def conv_slices(x, w):
    k, n = w.shape[0], x.shape[0]
    return sum(x[j:n - k + 1 + j] * w[k - 1 - j] for j in range(k))


def test_valid_convolution_three_ways():
    """sliding_window_view and slices compiled, Tensor.unfold eager: one gradient."""
    x = RNG.normal(size=20)
    want = np.convolve(x, KERNEL, mode="valid")

    def loss(conv):
        return lambda x, w: (np.tanh(conv(x, w)) ** 2).sum()
    grads = [symgrad.grad(loss(conv), argnums=(0, 1))(x, KERNEL) for conv in (conv_windows, conv_slices)]
    for conv in (conv_windows, conv_slices):
        np.testing.assert_allclose(symgrad.compile(conv)(x, KERNEL), want, **EXACT)
    t, w = symgrad.tensor(x, requires_grad=True), symgrad.tensor(KERNEL, requires_grad=True)
    (symgrad.tanh(t.unfold(0, 4, 1) @ w.flip(0)) ** 2).sum().backward()
    grads.append((t.grad.numpy(), w.grad.numpy()))
    fd = differences(loss(conv_windows), [x, KERNEL.copy()], [0, 1])
    for gx, gw in grads:
        np.testing.assert_allclose(gx, fd[0], **FD)
        np.testing.assert_allclose(gw, fd[1], **FD)


def laplacian_diff(u):
    p = np.pad(u, 1, mode="wrap")
    return np.diff(p, 2, axis=0)[:, 1:-1] + np.diff(p, 2)[1:-1]


def laplacian_roll(u):
    return np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u


def laplacian_slices(u):
    p = np.concatenate([u[-1:], u, u[:1]], axis=0)
    p = np.hstack([p[:, -1:], p, p[:, :1]])
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u


def test_periodic_laplacian_three_ways():
    """np.diff of a wrapped pad, np.roll, and slices of a concatenation: one gradient."""
    u = RNG.normal(size=(5, 6))

    def energy(lap):
        return lambda u: (lap(u) ** 2).sum() + (np.sin(u) * lap(u)).sum()
    values = [laplacian(u) for laplacian in (laplacian_diff, laplacian_roll, laplacian_slices)]
    for v in values[1:]:
        np.testing.assert_allclose(v, values[0], **EXACT)
    grads = [symgrad.grad(energy(lap))(u) for lap in (laplacian_diff, laplacian_roll, laplacian_slices)]
    for g in grads:
        np.testing.assert_allclose(g, grads[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grads[0], differences(energy(laplacian_roll), [u], [0])[0], **FD)


# ---------------------------------------------------------------- bad input

def _traced(fn):
    """fn run on a traced value of M's shape (the NumPy face)."""
    return lambda: symgrad.compile(fn)(M)


def _eager(fn):
    """fn run on an eager tensor of X (the PyTorch face)."""
    return lambda: fn(symgrad.tensor(X, requires_grad=True))


BAD = [
    (_traced(lambda x: np.split(x, 3)), ValueError, "equal division"),
    (_traced(lambda x: np.array_split(x, 0)), ValueError, "larger than 0"),
    (_traced(lambda x: np.diff(x, n=-1)), ValueError, "non-negative"),
    (_traced(lambda x: np.diff(x.sum())), ValueError, "at least one dimensional"),
    (_traced(lambda x: np.fliplr(x[0])), ValueError, ">= 2-d"),
    (_traced(lambda x: np.flip(x, 2)), IndexError, "out of range"),
    (_traced(lambda x: np.tile(x, -1)), ValueError, "negative"),
    (_traced(lambda x: np.repeat(x, [1, 2], axis=0)), ValueError, "same size"),
    (_traced(lambda x: np.repeat(x, -1)), ValueError, "negative"),
    (_traced(lambda x: np.repeat(x, 1.5)), TypeError, "integers"),
    (_traced(lambda x: np.pad(x, ((1, 2, 3),))), ValueError, "broadcast"),
    (_traced(lambda x: np.pad(x, -1)), ValueError, "negative"),
    (_traced(lambda x: np.pad(x, 1.5)), TypeError, "integral"),
    (_traced(lambda x: np.pad(x, 1, mode="median")), NotImplementedError, "median"),
    (_traced(lambda x: np.pad(x, 1, mode="edge", constant_values=3)), ValueError, "constant_values"),
    (_traced(lambda x: np.hstack([])), ValueError, "at least one array"),
    (_traced(lambda x: np.vstack([x, x[:, :2]])), ValueError, r"\(4, 5\) and \(4, 2\)"),
    (_traced(lambda x: np.take(x, [20])), IndexError, "out of bounds"),
    (_traced(lambda x: np.take(x, [0.5])), TypeError, "integers"),
    (_traced(lambda x: np.take_along_axis(x, np.zeros(3, int), 0)), ValueError, "same number of dim"),
    (_traced(lambda x: np.take_along_axis(x, np.zeros((3, 3), int), 0)), ValueError, "do not match"),
    (_traced(lambda x: swv(x, 6)), ValueError, "window_shape for all"),
    (_traced(lambda x: swv(x, (2, 6))), ValueError, "larger than input"),
    (_traced(lambda x: swv(x, 2, axis=(0, 1))), ValueError, "matching length"),
    (_traced(lambda x: np.meshgrid(x[0], indexing="ji")), ValueError, "'xy' and 'ij'"),
    (_traced(lambda x: np.broadcast_arrays(x, x[:3])), ValueError, r"\(4, 5\) and \(3, 5\)"),
    (_traced(lambda x: np.moveaxis(x, (0, 1), 0)), ValueError, "same number of elements"),
    (_traced(lambda x: np.expand_dims(x, (0, 0))), ValueError, "repeated axis"),
    (_traced(lambda x: np.squeeze(x, 0)), ValueError, "size not equal to one"),
    (_traced(lambda x: np.repeat(x, x.sum().astype(np.int64))), TypeError, "cannot be traced"),
    (_eager(lambda t: t.repeat(2)), RuntimeError, "can not be smaller"),
    (_eager(lambda t: symgrad.split(t, [1, 1], 1)), RuntimeError, "sum exactly to 4"),
    (_eager(lambda t: t.split(0)), RuntimeError, "split_size"),
    (_eager(lambda t: t.chunk(0)), RuntimeError, "greater than 0"),
    (_eager(lambda t: t.unfold(2, 6, 1)), RuntimeError, "maximum size for tensor at dimension 2 is 5"),
    (_eager(lambda t: t.unfold(2, 2, 0)), RuntimeError, "must be > 0"),
    (_eager(lambda t: t.gather(0, symgrad.tensor([0]))), RuntimeError, "same number of dimensions"),
    (_eager(lambda t: t.gather(0, symgrad.tensor([[[3]]]))), RuntimeError, "out of bounds"),
    (_eager(lambda t: t.narrow(1, 3, 2)), RuntimeError, "exceeds dimension size"),
    (_eager(lambda t: t.select(1, 4)), IndexError, "out of range"),
    (_eager(lambda t: t.roll((1, 2))), RuntimeError, "must align"),
    (_eager(lambda t: F.pad(t, (1,))), RuntimeError, "divisible by 2"),
    (_eager(lambda t: F.pad(t, (1, 1) * 4)), RuntimeError, "less than or equal"),
    (_eager(lambda t: F.pad(t, (5, 0), mode="reflect")), RuntimeError, "should be less than"),
    (_eager(lambda t: F.pad(t, (1, 1), mode="reflectt")), NotImplementedError, "reflectt"),
    (_eager(lambda t: F.pad(t[0, 0], (1, 1), mode="replicate")), NotImplementedError, "1D input"),
    (_eager(lambda t: symgrad.meshgrid(t, t)), RuntimeError, "0D or 1D"),
    (_eager(lambda t: symgrad.movedim(t, 0, 3)), IndexError, "Dimension out of range"),
]


@pytest.mark.parametrize("call,error,match", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_errors_agree_with_numpy_and_torch():
    """The same bad calls fail in NumPy and PyTorch with the same exception types."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        np.split(M, 3)
    with pytest.raises(RuntimeError):
        torch.tensor(X).repeat(2)
    with pytest.raises(RuntimeError):
        torch.split(torch.tensor(X), [1, 1], 1)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.pad(torch.tensor(X)[0, 0], (1, 1), mode="replicate")


def test_traced_index_arrays():
    """Index arrays passed as arguments are traced inputs: the gradient scatters through them."""
    idx = np.array([[3], [0], [0], [4]])

    def f(x, i):
        return (np.take_along_axis(x, i, axis=1) ** 2).sum() + np.take(x, i[:, 0], axis=1).sum()
    dfdx = symgrad.grad(f)
    for i in (idx, idx[::-1].copy()):  # one trace: the indices are an input like x
        np.testing.assert_allclose(dfdx(M, i), differences(lambda x, i=i: f(x, i), [M], [0])[0], **FD)
    assert dfdx.cache_info().misses == 1


def test_reshape_with_two_unknown_dims_is_refused_as_pytorch_refuses_it():
    with pytest.raises(RuntimeError, match="^only one dimension can be inferred$"):
        symgrad.ones(6).reshape(-1, -1)
    with pytest.raises(RuntimeError, match="^only one dimension can be inferred$"):
        symgrad.compile(lambda x: x.reshape(-1, 3, -1))(np.ones(6))
