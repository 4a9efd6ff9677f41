"""The array API back end on Dask arrays: gradients of functions written different ways, lazy
and computed, equal the NumPy back end's; nothing is computed before the user asks, and then
each chunk is read once; ops with no array-API spelling are refused by name; the example runs.
Skipped whole without Dask or array-api-compat."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("array_api_compat")
import dask  # noqa: E402

import symgrad  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N, D, CHUNK = 400, 6, 100
rng = np.random.default_rng(0)
X = rng.normal(size=(N, D))
Y = (rng.random(N) > 0.5).astype(np.float64)
W = rng.normal(size=D) * 0.3
W1 = rng.normal(size=(D, 4)) * 0.3


# ---------------------------------------------------------------- functions, written different ways

def logreg(w, X, y):
    z = X @ w
    return (np.logaddexp(0, z) - y * z).mean() + 0.1 * (w ** 2).sum()


def bce_by_hand(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


def bce_with_logits(w, X, y):
    return symgrad.nn.functional.binary_cross_entropy_with_logits(X @ w, y) + 1e-3 * np.sum(w * w)


def mlp(W1, X, y):
    h = np.tanh(X @ W1)
    return ((h.sum(axis=1) - y) ** 2).mean()


def logsumexp(w, X, y):
    z = X @ w
    m = z.max()
    return np.log(np.exp(z - m).sum()) + m


def rosenbrock(w, X, y):  # slices: their gradient writes into zeros
    x = X @ w
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def huber(w, X, y):
    r = X @ w - y
    return np.where(np.abs(r) < 1, 0.5 * r ** 2, np.abs(r) - 0.5).sum()


def reshaped(w, X, y):
    Z = X.reshape(N // 2, 2, D).transpose(2, 1, 0)
    return (Z.sum(axis=2) * w[:, None] ** 2).sum() + (X.T @ y * w).sum()


def smooth_chain(w, X, y):
    x = X @ w
    return np.sqrt(x ** 2 + 1).sum() + np.log1p(np.exp(-x ** 2)).mean() + (np.sin(x) * np.cos(x)).sum()


def relu_and_abs(w, X, y):
    return (np.maximum(X @ w, 0) * y).sum() + np.abs(X).sum(axis=0) @ w ** 2


def cumulative(w, X, y):
    return (np.cumsum(np.concatenate([X @ w, y * 2])) ** 2).mean()


def sigmoid_and_columns(w, X, y):
    return (symgrad.sigmoid(X @ w) * y).sum() + (X[:, 0] * w[0] ** 3).sum() + X[::3, 1:4].sum() * w[2]


def products(w, X, y):  # prod's gradient: products of the others, exact with zeros
    return np.prod(1 + 0.1 * np.tanh(X @ w).reshape(N // 10, 10), axis=1).sum() + (w * w).prod()


FUNCTIONS = [logreg, bce_by_hand, bce_with_logits, mlp, logsumexp, rosenbrock, huber, reshaped,
             smooth_chain, relu_and_abs, cumulative, sigmoid_and_columns, products]


def _params(fn):
    return W1 if fn is mlp else W


def _counted_data() -> tuple[da.Array, da.Array, list]:
    """X and Y as Dask arrays of 4 chunks, with a list that records each chunk of X read."""
    reads: list = []

    def read(block: np.ndarray) -> np.ndarray:
        reads.append(block.shape)
        return block
    Xd = da.from_array(X, chunks=(CHUNK, D)).map_blocks(read, meta=np.empty((0, 0)))
    return Xd, da.from_array(Y, chunks=CHUNK), reads


def _leaves(out):
    return list(out) if isinstance(out, tuple) else [out]


def _close(got, want) -> None:
    want = np.asarray(want)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))


# ---------------------------------------------------------------- equal to the NumPy back end

@pytest.mark.parametrize("transform", [symgrad.grad, symgrad.value_and_grad])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_lazy_gradients_equal_numpy_and_compute_nothing_until_asked(fn, transform) -> None:
    want = _leaves(transform(fn)(_params(fn), X, Y))
    Xd, Yd, reads = _counted_data()
    got = _leaves(transform(fn)(_params(fn), Xd, Yd))
    assert all(isinstance(g, da.Array) for g in got)
    assert reads == []  # only a graph so far
    assert all(Xd.name in g.__dask_graph__().layers for g in got[-1:])  # built on the input's chunks
    computed = dask.compute(*got)
    assert len(reads) >= N // CHUNK
    for g, w in zip(computed, want):
        _close(g, w)


@pytest.mark.parametrize("transform", [symgrad.grad, symgrad.value_and_grad])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_computed_gradients_equal_numpy(fn, transform) -> None:
    want = _leaves(transform(fn)(_params(fn), X, Y))
    Xd, Yd, reads = _counted_data()
    got = _leaves(transform(fn, compute=True)(_params(fn), Xd, Yd))
    assert all(type(g) is np.ndarray for g in got)
    if fn is not rosenbrock:  # (Dask's optimizer reads a chunk twice for its slices' gradient)
        assert len(reads) == N // CHUNK  # each chunk read once, for the value and the gradient together
    for g, w in zip(got, want):
        _close(g, w)
    # NumPy arguments through the array API back end: NumPy's values
    for g, w in zip(_leaves(transform(fn, backend="array_api")(_params(fn), X, Y)), want):
        assert type(g) is np.ndarray
        _close(g, w)


@pytest.mark.parametrize("fn", [logreg, mlp, smooth_chain, rosenbrock], ids=lambda f: f.__name__)
def test_hessian_on_dask_equals_numpy(fn) -> None:
    want = symgrad.hessian(fn)(_params(fn), X, Y)
    Xd, Yd, reads = _counted_data()
    lazy = symgrad.hessian(fn)(_params(fn), Xd, Yd)
    assert isinstance(lazy, da.Array) and reads == []
    _close(lazy.compute(), want)
    _close(symgrad.hessian(fn, compute=True)(_params(fn), Xd, Yd), want)


def test_weights_as_dask_and_python_floats_mix_with_numpy() -> None:
    f = symgrad.grad(lambda w, X, s: s * logreg(w, X, Y), argnums=(0, 2))
    want = f(W, X, 2.0)
    got = f(da.from_array(W), X, 2.0)
    assert all(isinstance(g, da.Array) for g in got)
    for g, w in zip(dask.compute(*got), want):
        _close(g, w)


# ---------------------------------------------------------------- the source, the cache, the refusals

def test_source_is_array_api_code_without_buffers() -> None:
    Xd, Yd, _ = _counted_data()
    f = symgrad.value_and_grad(bce_with_logits)
    src = f.source(W, Xd, Yd)
    assert "xp = array_namespace(w, X, y)" in src
    assert "xp.logaddexp(0.0, a)" in src and "sigmoid(a)" in src
    assert "out=" not in src and "for lo in" not in src
    assert "xp.logaddexp" not in f.source(W, X, Y)  # NumPy arguments: the NumPy back end
    f(W, X, Y), f(W, Xd, Yd), f(W, Xd, Yd)
    assert f.cache_info().currsize == 2  # one build per back end


def test_op_without_an_array_api_spelling_is_refused_by_name() -> None:
    Xd = da.from_array(X, chunks=(CHUNK, D))
    with pytest.raises(NotImplementedError, match=r"op 'fmod' has no array-API spelling \(np.fmod\): "
                                                  r"the array_api back end"):
        symgrad.value_and_grad(lambda w, X: np.fmod(X @ w, 2.0).sum())(W, Xd)
    with pytest.raises(NotImplementedError, match=r"index arrays .*array_api back end"):
        symgrad.grad(lambda w, X: (X[np.array([0, 0, 3])] @ w).sum(), argnums=1)(W, Xd)


def test_bad_backend_and_unknown_chunks_are_named() -> None:
    with pytest.raises(ValueError, match=r"grad\(logreg\): backend must be one of 'numpy', 'array_api'.*"
                                         r"got 'dask'"):
        symgrad.grad(logreg, backend="dask")
    Xd = da.from_array(X, chunks=(CHUNK, D))
    ragged = Xd[Xd[:, 0] > 0]
    with pytest.raises(ValueError, match=r"argument 'X' holds a Dask array of unknown chunk sizes.*"
                                         r"compute_chunk_sizes"):
        symgrad.grad(logreg)(W, ragged, Y)


def test_missing_array_api_compat_is_a_one_line_install_hint(monkeypatch) -> None:
    import symgrad.codegen

    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # as if not installed
    for name in ("array_api_source", "array_api_kernels"):  # imported afresh, without it
        monkeypatch.delitem(sys.modules, f"symgrad.codegen.{name}", raising=False)
        monkeypatch.delattr(symgrad.codegen, name, raising=False)
    with pytest.raises(ImportError, match=r"^backend='array_api' \(Dask, CuPy\) needs array-api-compat "
                                          r"\(array_api_compat is missing\): pip install 'symgrad\[dask\]'$"):
        symgrad.grad(logreg, backend="array_api")(W, X, Y)


def test_cupy_arrays_give_cupy_gradients() -> None:
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - CuPy without a usable GPU
        pytest.skip("CuPy is installed but no GPU is usable")
    got = symgrad.grad(logreg)(cp.asarray(W), cp.asarray(X), cp.asarray(Y))
    assert isinstance(got, cp.ndarray)
    _close(cp.asnumpy(got), symgrad.grad(logreg)(W, X, Y))


# ---------------------------------------------------------------- the example

def test_example_trains_on_two_clusters_small() -> None:
    pytest.importorskip("distributed")
    pytest.importorskip("psutil")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "logreg_dask.py"), "--rows", "20000",
                          "--chunk", "5000", "--steps", "2"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "20000 x 100 float64" in out and "in 4 chunks of 5000 rows" in out
    assert "vs the NumPy back end: max relative difference" in out
    assert "1 worker(s): 2 steps" in out and "2 worker(s): 2 steps" in out and "rows/s" in out
    assert out.count("worker peak memory") == 3  # one line per worker, 1 + 2
    assert elapsed < 30, f"the small example took {elapsed:.1f} s"
