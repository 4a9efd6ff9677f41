"""The MLP step's array work in its other spellings: layouts, and what the loss computes.

`x @ w.t() + b` (a weight stored (out, in), as nn.Linear stores it) makes its weight's
gradient through a transpose: matmul's rule makes it in the layout of the operand it
differentiates (`w.t()`, column-major), so the transpose's backward hands `.grad` a C-ordered
array of its own instead of a transposed view to copy. What it reads of that operand is its
layout, not its values: an in-place update of `w` before backward is still allowed, as in
PyTorch. Values agree with PyTorch and with central finite differences in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import symgrad

torch = pytest.importorskip("torch")


def _rng_arrays(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _central_difference(f: Callable[[np.ndarray], float], a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


def _transposed_layer_loss(lib, x, w, b, labels):
    F = lib.nn.functional
    return F.cross_entropy(F.relu(x @ w.t() + b), labels)


def test_a_transposed_weights_gradient_is_c_ordered_and_taken_without_a_copy() -> None:
    x, w, b = _rng_arrays(0, (8, 6), (5, 6), (5,))
    labels = np.arange(8) % 5
    for step in range(3):  # the second and later backward replay the traced rules
        sw = symgrad.tensor(w, requires_grad=True)
        sb = symgrad.tensor(b, requires_grad=True)
        _transposed_layer_loss(symgrad, symgrad.tensor(x), sw, sb, symgrad.tensor(labels)).backward()
        tw = torch.tensor(w, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        _transposed_layer_loss(torch, torch.tensor(x), tw, tb, torch.tensor(labels)).backward()
        np.testing.assert_allclose(sw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(sb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)
        data = sw.grad._data
        assert data.flags.c_contiguous, step
        assert not data.flags.owndata, step  # the transpose of the product, kept as it is


def test_the_transposed_weights_gradient_is_the_finite_difference_one() -> None:
    x, w, b = _rng_arrays(1, (4, 3), (2, 3), (2,))
    labels = np.array([0, 1, 1, 0])

    def loss(wv: np.ndarray) -> float:
        t = _transposed_layer_loss(symgrad, symgrad.tensor(x), symgrad.tensor(wv), symgrad.tensor(b),
                                   symgrad.tensor(labels))
        return float(t.item())

    for _ in range(3):
        sw = symgrad.tensor(w, requires_grad=True)
        sx, sb, sl = symgrad.tensor(x), symgrad.tensor(b), symgrad.tensor(labels)
        _transposed_layer_loss(symgrad, sx, sw, sb, sl).backward()
        np.testing.assert_allclose(sw.grad.numpy(), _central_difference(loss, w), rtol=1e-6, atol=1e-8)


def test_a_column_major_left_operand_gets_its_gradient_c_ordered() -> None:
    """`a.t() @ y`: the left operand column-major, its gradient made as (y @ ct.T).T."""
    a, y = _rng_arrays(2, (5, 4), (5, 3))
    for _ in range(3):
        sa = symgrad.tensor(a, requires_grad=True)
        sy = symgrad.tensor(y, requires_grad=True)
        (sa.t() @ sy).tanh().sum().backward()
        ta = torch.tensor(a, requires_grad=True)
        ty = torch.tensor(y, requires_grad=True)
        (ta.t() @ ty).tanh().sum().backward()
        np.testing.assert_allclose(sa.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(sy.grad.numpy(), ty.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert sa.grad._data.flags.c_contiguous and sy.grad._data.flags.c_contiguous

    def loss(av: np.ndarray) -> float:
        return float((symgrad.tensor(av).t() @ symgrad.tensor(y)).tanh().sum().item())
    np.testing.assert_allclose(sa.grad.numpy(), _central_difference(loss, a), rtol=1e-6, atol=1e-8)


def test_one_shape_in_both_layouts_gets_each_its_own_gradient() -> None:
    """A (6, 6) weight used as `w` and another as `v.t()` in one program: the replays of
    their products are traced apart (the layout is part of the signature), and each
    gradient is right and C-ordered."""
    x, w, v = _rng_arrays(3, (4, 6), (6, 6), (6, 6))
    for _ in range(4):
        sw, sv = symgrad.tensor(w, requires_grad=True), symgrad.tensor(v, requires_grad=True)
        sx = symgrad.tensor(x)
        ((sx @ sw).sin().sum() + (sx @ sv.t()).cos().sum()).backward()
        tw, tv = torch.tensor(w, requires_grad=True), torch.tensor(v, requires_grad=True)
        tx = torch.tensor(x)
        ((tx @ tw).sin().sum() + (tx @ tv.t()).cos().sum()).backward()
        for s, t in ((sw, tw), (sv, tv)):
            np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
            assert s.grad._data.flags.c_contiguous


def test_updating_a_transposed_weight_in_place_before_backward_is_allowed() -> None:
    """Its matmul reads the layout of `w.t()`, not its values (PyTorch's mm keeps mat2's
    strides only): as for a C-ordered weight, PyTorch allows the update, and so do we."""
    x, w = _rng_arrays(4, (3, 4), (2, 4))
    grads = []
    for lib in (symgrad, torch):
        tw = lib.tensor(w, requires_grad=True)
        y = (lib.tensor(x) @ tw.t()).sum()
        with lib.no_grad():
            tw.sub_(0.1)
        y.backward()
        grads.append(np.asarray(tw.grad.detach().numpy()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_an_input_read_for_its_values_still_refuses_an_in_place_update() -> None:
    """`x` is read by `w.t()`'s gradient: updating it before backward raises, as in PyTorch."""
    x, w = _rng_arrays(5, (3, 4), (2, 4))
    for lib in (symgrad, torch):
        tx = lib.tensor(x)
        tw = lib.tensor(w, requires_grad=True)
        y = (tx @ tw.t()).sum()
        with lib.no_grad():
            tx.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_plain_sgd_steps_as_torch_with_one_grad_missing() -> None:
    """Plain SGD's one loop: an assigned `.grad` updates its float32 parameter in float32,
    a parameter without `.grad` is skipped, and each update bumps the version."""
    w, b = (a.astype(np.float32) for a in _rng_arrays(6, (3, 2), (2,)))
    g = _rng_arrays(7, (3, 2))[0].astype(np.float32)
    out = []
    for lib in (symgrad, torch):
        tw, tb = lib.tensor(w.copy(), requires_grad=True), lib.tensor(b.copy(), requires_grad=True)
        opt = lib.optim.SGD([tw, tb], lr=0.5)
        tw.grad = lib.tensor(g)
        before = tw._version
        opt.step()
        assert tw._version == before + 1 and tw.dtype == lib.float32
        out.append((tw.detach().numpy().copy(), tb.detach().numpy().copy()))
    for s, t in zip(*out):
        np.testing.assert_array_equal(s, t)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8", ">f4"])
def test_where_with_a_zero_branch_gives_numpys_bits(dtype) -> None:
    """The mask kernel behind `where` on 512 elements or more: NaN, inf and -0.0 kept as
    they are, +0 where the zero branch is taken, NumPy's dtype; -0.0, a bool or a wider
    NumPy zero as the number, a broadcast condition, and a big-endian array go through
    NumPy's own."""
    from symgrad.ops import kernels

    rng = np.random.default_rng(8)
    for shape in ((4, 5), (40, 30)):
        y = (rng.standard_normal(shape) * 10).astype(dtype)
        if np.dtype(dtype).kind == "f":
            y.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
        c = rng.random(shape) < 0.5
        for zero in (0, 0.0, -0.0, np.dtype(dtype).type(0), np.float64(0), False):
            for args in ((c, zero, y), (c, y, zero), (c[0], zero, y)):
                want, got = np.where(*args), kernels.bitwise_where(*args)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), (zero, args[1] is y)


def _clamp_loss(lib, x, w, labels):
    return lib.nn.functional.cross_entropy((x @ w).clamp(min=0) @ w.t(), labels)


def test_clamp_and_its_gradient_match_torch_on_a_large_layer_fused_and_not() -> None:
    """clamp(min=0) on 1024 elements (the mask kernel) forward and backward, over calls
    that run it unfused, then fused; at an input exactly 0 the gradient passes, as PyTorch's."""
    x, w = _rng_arrays(9, (64, 32), (32, 16))
    x[0] = 0.0  # (x @ w)[0] is exactly 0: clamp's gradient passes there, relu's would not
    labels = np.arange(64) % 16
    for _ in range(5):
        grads = []
        for lib in (symgrad, torch):
            tw = lib.tensor(w, requires_grad=True)
            loss = _clamp_loss(lib, lib.tensor(x), tw, lib.tensor(labels))
            loss.backward()
            grads.append((float(loss.item()), tw.grad.numpy().copy()))
        assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


def test_a_where_with_a_number_branch_has_the_finite_difference_gradient() -> None:
    """`torch.where(x < 0, 0, x * y)` on 600 elements: the gradient of the array branch is
    the mask kernel's where(c, 0, ct), checked against central differences and torch."""
    x, y = _rng_arrays(10, (600,), (600,))

    def f(lib, yv):
        tx = lib.tensor(x)
        return (lib.where(tx < 0, 0.0, tx * yv) ** 2).sum()

    for _ in range(3):  # traced once, then replayed
        sy, ty = symgrad.tensor(y, requires_grad=True), torch.tensor(y, requires_grad=True)
        f(symgrad, sy).backward()
        f(torch, ty).backward()
        np.testing.assert_allclose(sy.grad.numpy(), ty.grad.numpy(), rtol=1e-12)
    numeric = _central_difference(lambda yv: float(f(symgrad, symgrad.tensor(yv)).item()), y)
    np.testing.assert_allclose(sy.grad.numpy(), numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(64, 10), (7, 32), (5, 33), (3, 1)])
@pytest.mark.parametrize("keepdims", [True, False])
def test_row_extremes_of_short_rows_are_numpys(shape, keepdims) -> None:
    """max and min over the rows of a matrix, compiled (short rows: the columns of the
    contiguous transpose), are NumPy's bit for bit, with NaN, inf and signed zeros about."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -np.inf][:x.size]
    for reduce in (np.max, np.min):
        got = symgrad.compile(lambda v, r=reduce: r(v, axis=1, keepdims=keepdims))(x)
        want = reduce(x, axis=1, keepdims=keepdims)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_log_softmax_and_its_gradient_over_short_rows_match_torch_fused() -> None:
    """log_softmax over 10 classes of 200 rows, with a row of ties and a row holding -inf,
    over calls that run it unfused then fused (whose shift is the column-wise max): torch's
    values and gradients, and the gradient the finite differences give."""
    z = _rng_arrays(12, (200, 10))[0]
    z[1] = 0.5  # ties
    z[2, :3] = -np.inf
    ct = _rng_arrays(13, (200, 10))[0]
    for _ in range(5):
        outs = []
        for lib in (symgrad, torch):
            tz = lib.tensor(z, requires_grad=True)
            y = lib.nn.functional.log_softmax(tz, dim=1)
            (y * lib.tensor(ct)).sum().backward()
            outs.append((y.detach().numpy().copy(), tz.grad.numpy().copy()))
        np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-10, atol=1e-12)
    finite = z[3:5].copy()

    def f(v: np.ndarray) -> float:
        return float((symgrad.nn.functional.log_softmax(symgrad.tensor(v), dim=1) * symgrad.tensor(ct[3:5]))
                     .sum().item())
    tz = symgrad.tensor(finite, requires_grad=True)
    (symgrad.nn.functional.log_softmax(tz, dim=1) * symgrad.tensor(ct[3:5])).sum().backward()
    np.testing.assert_allclose(tz.grad.numpy(), _central_difference(f, finite), rtol=1e-6, atol=1e-8)


def test_a_negative_target_is_refused_by_the_fused_loss_too() -> None:
    """cross_entropy's fused code does not run the definition's check of the targets: a
    target of -1 (not the ignore_index) must still raise IndexError, as PyTorch's does,
    instead of picking the last class; an ignore_index of -1 still ignores it."""
    z = _rng_arrays(14, (6, 4))[0]
    good, bad = np.array([0, 1, 2, 3, 0, 1]), np.array([0, 1, -1, 3, 0, 1])
    sz = symgrad.tensor(z, requires_grad=True)
    for _ in range(4):  # the third call builds the fused code
        symgrad.nn.functional.cross_entropy(sz, symgrad.tensor(good))
    for lib, t in ((symgrad, sz), (torch, torch.tensor(z))):  # the definition's message, as torch's
        with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.$"):
            lib.nn.functional.cross_entropy(t, lib.tensor(bad))
    with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\.$"):
        symgrad.nn.functional.cross_entropy(sz, symgrad.tensor(np.array([0, 1, 4, 3, 0, 1])))
    for _ in range(4):
        losses = []
        for lib in (symgrad, torch):
            t = lib.tensor(z, requires_grad=True)
            loss = lib.nn.functional.cross_entropy(t, lib.tensor(bad), ignore_index=-1)
            loss.backward()
            losses.append((float(loss.item()), t.grad.numpy().copy()))
        assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-12)
        np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-10, atol=1e-12)


def test_second_order_through_a_transposed_weight_matches_torch() -> None:
    """With create_graph the layout-aware rule runs on Tensors and is differentiated again:
    the gradient of the weight's gradient norm, as PyTorch's."""
    x, w = _rng_arrays(15, (5, 4), (3, 4))
    out = []
    for lib in (symgrad, torch):
        tw = lib.tensor(w, requires_grad=True)
        loss = (lib.tensor(x) @ tw.t()).tanh().sum()
        (g,) = lib.autograd.grad(loss, tw, create_graph=True)
        (g * g).sum().backward()
        out.append((g.detach().numpy().copy(), tw.grad.numpy().copy()))
    for s, t in zip(*out):
        np.testing.assert_allclose(s, t, rtol=1e-10, atol=1e-12)


def test_an_exported_gradient_carries_the_where_kernel_and_runs_without_symgrad(tmp_path) -> None:
    """The compiled face prints the mask kernel and the column-wise row max on these shapes;
    an exported module carries the kernel (and what it reads) and gives the same gradient
    in a Python that cannot import symgrad."""
    import subprocess
    import sys

    def f(x):
        return (np.where(x < 0, 0.0, x) ** 2).sum() + np.max(x, axis=1).sum()

    x = _rng_arrays(16, (64, 16))[0]
    compiled = symgrad.grad(f)
    want = compiled(x)
    source = compiled.export(path=tmp_path / "exported.py")
    assert "bitwise_where(" in source and "ascontiguousarray(" in source
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", want)
    code = ("import sys; sys.modules['symgrad'] = None; import numpy as np; import exported; "
            "fn = next(v for k, v in vars(exported).items() if k.startswith('grad')); "
            "print(np.array_equal(fn(np.load('x.npy')), np.load('want.npy')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
