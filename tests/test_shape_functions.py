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

import importlib

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.autodiff import batching as autodiff_batching
from symgrad.ops.arrange import pad as _pad  # noqa: F401 - the functional's own

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
