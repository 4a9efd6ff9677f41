"""logsumexp, log_softmax, softmax and cross_entropy on rows holding +inf, only -inf, nan,
and values at 1e3: eager (fused and unfused) against PyTorch, compiled spellings against
SciPy (or NumPy's own value of the spelling where it does not overflow), gradients against
PyTorch's backward formulas at those values. A max shift already in a definition is not
shifted again (one amax per call), which gave nan (inf - inf) on these rows once fused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy
import scipy.special as ss

import symgrad
import symgrad.api.fused as fused
from symgrad.nn import functional as F

SCIPY_SHIFTS = tuple(int(v) for v in scipy.__version__.split(".")[:2]) >= (1, 17)  # logsumexp's algorithm
RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 5))
X[0, 1] = np.inf               # a row holding +inf
X[1, :] = -np.inf              # a row of -inf only
X[2, 3] = np.nan               # a row holding nan
X[3] *= 1e3                    # overflows exp unshifted
X[4, 0], X[4, 2] = np.inf, -np.inf
ORDINARY = RNG.standard_normal((6, 5))
W = np.cos(np.arange(30.0)).reshape(6, 5)  # a cotangent that is not all ones
TARGET = np.array([1, 2, 0, 4, 3, 1])


def close(got, want) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12, equal_nan=True)


def quiet(fn, *args):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


# ---------------------------------------------------------------- eager, against PyTorch

EAGER = {
    "logsumexp": [lambda t: t.logsumexp(1), lambda t: symgrad.logsumexp(t, dim=1),
                  lambda t: t.logsumexp(-1, keepdim=True)],
    "log_softmax": [lambda t: F.log_softmax(t, 1), lambda t: t.log_softmax(1),
                    lambda t: F.log_softmax(t, dim=-1)],
    "softmax": [lambda t: F.softmax(t, 1), lambda t: t.softmax(1), lambda t: symgrad.softmax(t, -1)],
    "cross_entropy": [lambda t, tg: F.cross_entropy(t, tg, reduction="none"),
                      lambda t, tg: F.cross_entropy(t, tg, reduction="sum"),
                      lambda t, tg: F.cross_entropy(t, F.one_hot(tg, 5).double(), reduction="none")],
}
CASES = [(name, k) for name in EAGER for k in range(3)]


def _run(lib, name: str, k: int, data: np.ndarray):
    """(value, gradient) of spelling k of `name` on `data`, in symgrad or torch."""
    t = lib.tensor(data, requires_grad=True)
    if name == "cross_entropy":
        out = EAGER[name][k](t, lib.tensor(TARGET)) if lib is symgrad else \
            _torch_cross_entropy(k)(t, lib.tensor(TARGET))
    else:
        out = EAGER[name][k](t) if lib is symgrad else _torch_eager(name, k)(t)
    ct = W[:, :out.shape[1]] if out.ndim == 2 else W[:, 0] if out.ndim == 1 else np.float64(1.5)
    out.backward(lib.tensor(np.array(np.broadcast_to(ct, tuple(out.shape)))))
    return out.detach().numpy(), t.grad.numpy()


def _torch_eager(name: str, k: int):
    return {"logsumexp": [lambda t: t.logsumexp(1)] * 2 + [lambda t: t.logsumexp(-1, keepdim=True)],
            "log_softmax": [lambda t: t.log_softmax(1)] * 2 + [lambda t: t.log_softmax(-1)],
            "softmax": [lambda t: t.softmax(1)] * 2 + [lambda t: t.softmax(-1)]}[name][k]


def _torch_cross_entropy(k: int):
    import torch
    f = torch.nn.functional
    return [lambda t, tg: f.cross_entropy(t, tg, reduction="none"),
            lambda t, tg: f.cross_entropy(t, tg, reduction="sum"),
            lambda t, tg: f.cross_entropy(t, f.one_hot(tg, 5).double(), reduction="none")][k]


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("name, k", CASES)
def test_eager_values_and_gradients_are_torchs_on_inf_rows(name: str, k: int, fuse: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(fused, "ENABLED", fuse)
    fused.cache_clear()
    for _ in range(fused.FUSE_FROM + 1):  # built on ordinary data, checked there bit for bit
        quiet(_run, symgrad, name, k, ORDINARY)
    if fuse:
        assert any(e.forward is not None for e in fused._cache.values()), "the composite did not fuse"
    got, grad = quiet(_run, symgrad, name, k, X)
    want, want_grad = quiet(_run, torch, name, k, X)
    close(got, want)
    close(grad, want_grad)


@pytest.mark.parametrize("name", ["logsumexp", "log_softmax", "softmax", "cross_entropy"])
def test_a_fused_definition_that_shifts_is_not_shifted_again(name: str) -> None:
    fused.cache_clear()
    for _ in range(fused.FUSE_FROM + 1):
        quiet(_run, symgrad, name, 0, ORDINARY)
    built = [e for e in fused._cache.values() if e.forward is not None and e.graph is not None]
    assert built, "the composite did not fuse"
    assert max(sum(n.op == "amax" for n in e.graph.nodes) for e in built) == 1


# ---------------------------------------------------------------- compiled, against SciPy


def _lse_hand(x):
    m = np.max(x, axis=1, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)))[:, 0]


def _lse_squeezed(x):
    m = np.max(x, axis=1)
    return m + np.log(np.sum(np.exp(x - m[:, None]), axis=1))


def _lse_safe(x):
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.log(np.sum(np.exp(x - m), axis=1)) + m[:, 0]


def _lsm_hand(x):  # shifted by the max itself: nan on a row holding +inf, as torch's
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def _sm_naive(x):
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def _sm_hand(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _sm_where(x):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - np.where(np.abs(m) != np.inf, m, 0.0))
    return e / e.sum(1, keepdims=True)


def _torch_lsm(x):
    import torch
    return torch.tensor(x).log_softmax(1).numpy()


def _naive_where_finite(spelling):
    """NumPy's own value of a spelling, with the overflowing row (1e3) from the shifted one."""
    def ref(x):
        out = spelling(x)
        out[3] = _sm_hand(x)[3]
        return out
    return ref


# name -> (kind, spellings with their reference); kind picks the gradient formula
COMPILED = {
    "scipy logsumexp": ("lse", lambda x: ss.logsumexp(x, axis=1), lambda x: ss.logsumexp(x, axis=1)),
    "naive logsumexp": ("lse", lambda x: np.log(np.sum(np.exp(x), 1)), lambda x: ss.logsumexp(x, axis=1)),
    "hand max shift, kept": ("lse", _lse_hand, lambda x: ss.logsumexp(x, axis=1)),
    "hand max shift, squeezed": ("lse", _lse_squeezed, lambda x: ss.logsumexp(x, axis=1)),
    "shift kept finite": ("lse", _lse_safe, lambda x: ss.logsumexp(x, axis=1)),
    "scipy log_softmax": ("lsm", lambda x: ss.log_softmax(x, axis=1), lambda x: ss.log_softmax(x, axis=1)),
    "x - scipy logsumexp": ("lsm", lambda x: x - ss.logsumexp(x, axis=1, keepdims=True),
                            lambda x: ss.log_softmax(x, axis=1)),
    "x - naive logsumexp": ("lsm", lambda x: x - np.log(np.sum(np.exp(x), 1, keepdims=True)),
                            lambda x: ss.log_softmax(x, axis=1)),
    "log of naive softmax": ("lsm", lambda x: np.log(_sm_naive(x)), lambda x: ss.log_softmax(x, axis=1)),
    "hand log_softmax": ("lsm", _lsm_hand, _torch_lsm),
    "scipy softmax": ("sm", lambda x: ss.softmax(x, axis=1), lambda x: ss.softmax(x, axis=1)),
    "hand softmax": ("sm", _sm_hand, lambda x: ss.softmax(x, axis=1)),
    "naive softmax": ("sm", _sm_naive, _naive_where_finite(_sm_naive)),
    "softmax shifted by the max kept finite": ("sm", _sm_where, _sm_where),
}


def _torch_formula_grad(kind: str, x: np.ndarray, out: np.ndarray, ct: np.ndarray) -> np.ndarray:
    """PyTorch's backward formula of each function, at the value `out`."""
    if kind == "lse":
        return ct[:, None] * np.exp(x - out[:, None])
    if kind == "lsm":
        return ct - np.exp(out) * ct.sum(1, keepdims=True)
    return out * (ct - (ct * out).sum(1, keepdims=True))


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_spellings_give_scipys_values_and_torchs_gradients(name: str) -> None:
    if "torch" in name or COMPILED[name][2] is _torch_lsm:
        pytest.importorskip("torch")
    kind, fn, ref = COMPILED[name]
    want = quiet(ref, X)
    close(quiet(symgrad.compile(fn), X), want)
    ct = W[:, 0] if kind == "lse" else W

    def loss(x):
        return np.sum(fn(x) * ct)
    # SciPy 1.15's logsumexp is another algorithm (the others' sum over the count of maxima,
    # through log1p), which the normal form does not take for a shifted one: its gradient on
    # the rows holding inf or nan is its own; on finite rows it is the formula's
    rows = np.isfinite(X).all(1) if "scipy logsumexp" in name and not SCIPY_SHIFTS else slice(None)
    close(quiet(symgrad.grad(loss), X)[rows], quiet(_torch_formula_grad, kind, X, want, ct)[rows])


@pytest.mark.parametrize("kind", ["lse", "lsm", "sm"])
def test_the_gradient_formulas_are_torchs(kind: str) -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(X, requires_grad=True)
    out = {"lse": t.logsumexp, "lsm": t.log_softmax, "sm": t.softmax}[kind](1)
    ct = W[:, 0] if kind == "lse" else W
    out.backward(torch.tensor(ct))
    close(quiet(_torch_formula_grad, kind, X, out.detach().numpy(), ct), t.grad.numpy())


def test_a_naive_logsumexp_gets_one_amax_and_no_where() -> None:
    source = symgrad.compile(lambda x: np.log(np.sum(np.exp(x), 1))).source(X)
    assert source.count(".max(") == 1, source
    assert "where(" not in source, source


# a term added to log(sum(exp(x - c))) that is not the shift c: never taken for it (the sum is
# that term's, whatever its shape); and the spellings of the shift taken again, which are
NOT_THE_SHIFT = {
    "mean": lambda x: np.mean(x, 1) + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "other axis": lambda x: np.max(x, 0) + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "kept dims": lambda x: np.max(x, 1, keepdims=True)
    + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "log_softmax broadcast": lambda x: (x - np.max(x, 1, keepdims=True))
    - np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "softmax other axis": lambda x: np.exp(x - np.max(x, 1, keepdims=True))
    / np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 0, keepdims=True),
}
THE_SHIFT = {
    "again": lambda x: np.max(x, 1) + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "reshaped": lambda x: np.max(x, 1, keepdims=True).reshape(-1)
    + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "squeezed": lambda x: np.squeeze(np.max(x, 1, keepdims=True), 1)
    + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)),
    "detached, both": lambda x: symgrad.detach(np.max(x, 1))
    + np.log(np.sum(np.exp(x - symgrad.detach(np.max(x, 1, keepdims=True))), 1)),
}


@pytest.mark.parametrize("name", NOT_THE_SHIFT)
def test_a_term_that_is_not_the_shift_is_kept(name: str) -> None:
    """The value and gradient of the written form (square X: the max over the other axis has
    the sum's shape), on ordinary data."""
    f = NOT_THE_SHIFT[name]
    x = ORDINARY[:5]
    close(symgrad.compile(f)(x), f(x))

    def loss(x):
        y = f(x)
        return np.sum(y * np.cos(np.arange(y.size)).reshape(np.shape(y)))
    grad = symgrad.grad(loss)(x)
    eps, want = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        want[i] = (loss(x + d) - loss(x - d)) / (2 * eps)
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", THE_SHIFT)
def test_the_shift_spelled_again_is_one_amax_and_scipys_value(name: str) -> None:
    f = THE_SHIFT[name]
    source = symgrad.compile(f).source(X)
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    assert sum(".max(" in line for line in code) == 1, source
    close(quiet(symgrad.compile(f), X), quiet(ss.logsumexp, X, 1))


# the shift detached on one side only: d(top) and d(c) no longer cancel, so the written
# gradient (PyTorch's) is softmax -/+ the max's one-hot, not logsumexp's softmax
ONE_SIDE_DETACHED = {
    "the added max": (lambda x: symgrad.detach(np.max(x, 1))
                      + np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1)), -1),
    "the subtracted max": (lambda x: np.max(x, 1)
                           + np.log(np.sum(np.exp(x - symgrad.detach(np.max(x, 1, keepdims=True))), 1)), 1),
}


@pytest.mark.parametrize("name", ONE_SIDE_DETACHED)
def test_a_shift_detached_on_one_side_keeps_the_written_gradient(name: str) -> None:
    f, sign = ONE_SIDE_DETACHED[name]
    x = ORDINARY[:5]
    w = np.cos(np.arange(len(x)))
    close(symgrad.compile(f)(x), ss.logsumexp(x, 1))
    softmax = np.exp(x - ss.logsumexp(x, 1, keepdims=True))
    one_hot = (x == x.max(1, keepdims=True)) * 1.0
    grad = symgrad.grad(lambda x: np.sum(w * f(x)))(x)
    np.testing.assert_allclose(grad, w[:, None] * (softmax + sign * one_hot), rtol=1e-12, atol=1e-14)
