"""backend="numba": fused loop kernels agree with the NumPy back end (1e-12 relative in float64).

Each function is compiled once per transform and shared by the tests (Numba's compile is the
slow part; its on-disk cache makes later runs fast). The background builds ahead of time are
off (`SYMGRAD_NUMBA_AOT=0`) but in the test that builds one itself.
"""

import functools
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scipy.special

import symgrad

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _no_background_builds(monkeypatch):
    monkeypatch.setenv("SYMGRAD_NUMBA_AOT", "0")

RNG = np.random.default_rng(0)
X = RNG.uniform(-2, 2, 37)
M = RNG.uniform(-1, 1, (4, 5))
A = RNG.standard_normal((6, 37)) / 6


def chain(x):
    x2 = x * x
    return np.sum(np.sin(x) * np.exp(-x2) + np.tanh(x) / (1 + x2) + x * np.log1p(x2))


def mean_square(x):
    return np.mean((x - 1.0) ** 2)


def amax_of_chain(x):
    return np.max(np.sin(x) * x) + np.sum(np.cos(x))


def broadcast_rows(m):  # (4, 5) against (5,): the broadcast stays NumPy, the rest fuses
    b = np.linspace(-1, 1, 5)
    return np.sum(np.tanh(m * 2.0 + b) ** 2)


def matrix_chain(m):
    return np.sum(np.sqrt(m * m + 1.0) * np.cos(m))


def with_matmul(x):
    return np.sum(np.tanh(A @ x + 0.5) ** 2) + np.sum(x * x)


def sigmoid(x):
    return np.sum(symgrad.sigmoid(x) * x)


def expit(x):
    return np.sum(scipy.special.expit(3 * x) ** 2)


def softplus(x):
    return np.sum(np.logaddexp(0, x) - x / 2)


def logsumexp(x):
    return scipy.special.logsumexp(x * 3) + np.sum(x ** 4)


def relu_where(x):
    return np.sum(np.maximum(x, 0) ** 2 + np.where(x > 0.5, x, 0.1 * x) ** 3)


def log1p_expm1(x):
    return np.sum(np.log1p(np.expm1(x * x / 4)) + np.hypot(x, 1.5) + np.arctan2(x, 2.0))


def slices(x):  # Rosenbrock: the fused values are scattered back by NumPy
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def wide_slices(x):  # offsets 0, 1 and 2: added in place into zeros
    return np.sum((x[2:] - x[:-2]) ** 2 * np.sin(x[1:-1]))


def deep(x):
    for _ in range(20):
        x = np.sin(np.tanh(x) * 1.01 + 0.1)
    return np.sum(x)


def trig(x):  # sin and cos of the argument itself, however big
    return np.sum(np.sin(x) * np.cos(x) * 0.5)


def scaled(x, s):  # a 0-d argument read inside the loop
    return np.sum(s * np.exp(-s * x * x))


FUNCTIONS = [chain, mean_square, amax_of_chain, broadcast_rows, matrix_chain, with_matmul, sigmoid, expit,
             softplus, logsumexp, relu_where, log1p_expm1, slices, wide_slices, deep]


def args_of(fn, dtype=np.float64):
    if fn in (broadcast_rows, matrix_chain):
        return (M.astype(dtype),)
    return (X.astype(dtype),)


@functools.cache
def compiled(transform, fn, backend):
    return getattr(symgrad, transform)(fn, backend=backend)


def close(got, want, rtol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = np.max(np.abs(want)) or 1.0
    assert np.max(np.abs(got - want)) <= rtol * scale, np.max(np.abs(got - want)) / scale


@pytest.mark.parametrize("transform", ["compile", "grad", "hessian"])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_numba_agrees_with_numpy_float64(fn, transform):
    args = args_of(fn)
    want = compiled(transform, fn, "numpy")(*args)
    close(compiled(transform, fn, "numba")(*args), want, 1e-12)


@pytest.mark.parametrize("fn", [chain, sigmoid, softplus, relu_where, matrix_chain], ids=lambda f: f.__name__)
def test_numba_agrees_with_numpy_float32(fn):
    args = args_of(fn, np.float32)
    for transform in ("compile", "grad"):
        want = compiled(transform, fn, "numpy")(*args)
        close(compiled(transform, fn, "numba")(*args), want, 1e-5)


def test_value_and_grad_jacobian_a_0d_argument_and_slices():
    s = np.float64(0.7)
    want = symgrad.value_and_grad(scaled, argnums=(0, 1))(X, s)
    got = symgrad.value_and_grad(scaled, argnums=(0, 1), backend="numba")(X, s)
    close(got[0], want[0], 1e-12)
    for g, w in zip(got[1], want[1]):
        close(g, w, 1e-12)
    for fn in (slices, wide_slices):  # a sum and a scatter in one kernel
        got, want = symgrad.value_and_grad(fn, backend="numba")(X), symgrad.value_and_grad(fn)(X)
        close(got[0], want[0], 1e-12)
        close(got[1], want[1], 1e-12)
    jac = symgrad.jacobian(lambda x: np.tanh(x) * x + 1.0, backend="numba")(X[:5])
    close(jac, symgrad.jacobian(lambda x: np.tanh(x) * x + 1.0)(X[:5]), 1e-12)


def test_big_arrays_fuse_exp_tanh_log1p_sin_cos_and_keep_numpys_other_simd_functions():
    x = np.random.default_rng(1).uniform(-2, 2, 5000)
    src = compiled("grad", chain, "numba").source(x)
    kernels, wrapper = src.split("def grad_chain(x):")
    assert all(f"v{f}(" in kernels for f in ("tanh", "exp", "log1p", "sin", "cos")), kernels
    assert wrapper.count("kernel") == 1 and "tanh" not in wrapper  # one loop, nothing else
    close(compiled("grad", chain, "numba")(x), compiled("grad", chain, "numpy")(x), 1e-12)
    got, want = symgrad.value_and_grad(chain, backend="numba")(x), symgrad.value_and_grad(chain)(x)
    close(got[0], want[0], 1e-12)  # the sum is NumPy's, of the value the vector loop wrote
    close(got[1], want[1], 1e-12)

    def arctan_chain(x):  # arctan has no vector version: a NumPy statement between kernels
        return np.sum(np.arctan(x * 2.0) * x + x)
    src = symgrad.grad(arctan_chain, backend="numba").source(x)
    assert "arctan(" in src.split("def grad_arctan_chain(x):")[1]


def chain_square(x):  # np.square, a sum per term
    x2 = np.square(x)
    return np.sum(np.sin(x) * np.exp(-x2)) + np.sum(np.tanh(x) / (1 + x2)) + np.sum(x * np.log1p(x2))


def chain_pow(x):  # x**2 each time, ** -1 for the division, log(1 + x**2), .sum()
    return (np.sin(x) * np.exp(-x**2) + np.tanh(x) * (1 + x**2) ** -1 + x * np.log(1 + x**2)).sum()


def chain_ufuncs(x):  # NumPy's ufuncs by name
    x2 = np.multiply(x, x)
    terms = np.add(np.multiply(np.sin(x), np.exp(np.negative(x2))), np.divide(np.tanh(x), np.add(1, x2)))
    return np.sum(np.add(terms, np.multiply(x, np.log1p(x2))))


@pytest.mark.parametrize("fn", [chain, chain_square, chain_pow, chain_ufuncs], ids=lambda f: f.__name__)
def test_the_elementwise_chain_however_written_is_one_loop(fn):
    x = np.random.default_rng(5).uniform(-2, 2, 5000)
    grad = compiled("grad", fn, "numba")
    wrapper = grad.source(x).split(f"def grad_{fn.__name__}(x):")[1]
    calls = [line.strip() for line in wrapper.splitlines()[1:] if line.strip()]
    assert calls == ["grad_x = kernel0(x)", "return grad_x"], calls
    close(grad(x), compiled("grad", fn, "numpy")(x), 1e-12)


OUT_OF_RANGE = [np.inf, -np.inf, np.nan, 0.0, -0.0, 5e-324, 1e-310, -1.0, -1.0 + 1e-12, 709.5, -709.5, 750.0,
                -750.0, 1e6, -1e6, 1e301, 1e-300, -1e-300]


@pytest.mark.parametrize("name", ["sin", "cos", "exp", "expm1", "log", "log1p", "tanh"])
def test_an_argument_outside_numba_maths_range_gets_libms_value(name):
    def f(x):
        return getattr(np, name)(x * 1.0) * 1.5 + 0.25
    f.__name__ = f"outside_{name}"
    x = np.random.default_rng(4).uniform(0.1, 2, 5000)
    x[:len(OUT_OF_RANGE)] = OUT_OF_RANGE
    fn = symgrad.compile(f, backend="numba")
    assert f"v{name}(" in fn.source(x)
    with np.errstate(all="ignore"):
        got, want = fn(x), symgrad.compile(f)(x)
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite], equal_nan=True)  # inf, -inf and nan as libm gives them
    assert np.all(np.abs(got[finite] - want[finite]) <= 1e-12 * np.abs(want[finite]))


def test_outputs_of_4_mib_or_more_are_numpy_arrays_the_kernel_fills():
    x = np.random.default_rng(3).uniform(-2, 2, 600_000)
    src = compiled("grad", chain, "numba").source(x)
    assert "np.empty(600000, np.float64)" in src.split("def grad_chain(x):")[1]
    close(compiled("grad", chain, "numba")(x), compiled("grad", chain, "numpy")(x), 1e-12)
    for fn in (slices, wide_slices):  # a scatter written once, or added into zeros, with a sum
        got, want = symgrad.value_and_grad(fn, backend="numba")(x), symgrad.value_and_grad(fn)(x)
        close(got[0], want[0], 1e-12)
        close(got[1], want[1], 1e-12)
        close(compiled("grad", fn, "numba")(x), compiled("grad", fn, "numpy")(x), 1e-12)


def test_numba_math_is_within_a_few_ulp_of_libm():
    from symgrad.codegen import numba_math
    rng = np.random.default_rng(2)
    trig = np.concatenate([rng.uniform(-1000, 1000, 5000), np.arange(-50, 50) * np.pi / 2,
                           [0.0, -0.0, 5e5, -5e5, 1e-300]])
    exp = np.concatenate([rng.uniform(-708, 708, 5000), rng.uniform(-1, 1, 5000),
                          rng.standard_normal(500) * 1e-8, [0.0, -0.0, 708.0, -708.0, 0.35, -0.35, 1e-300]])
    log = np.concatenate([np.exp(rng.uniform(-700, 700, 5000)), 1 + rng.standard_normal(500) * 1e-9,
                          [1.0, 2.2250738585072014e-308, 1.7e308, np.sqrt(2)]])
    log1p = np.concatenate([log - 1, rng.uniform(-1, 1, 5000), rng.standard_normal(500) * 1e-12,
                            [-1 + 1e-16]])
    log1p = log1p[log1p > -1]
    for name, x, ulp in (("sin", trig, 2), ("cos", trig, 2), ("exp", exp, 1), ("expm1", exp, 4),
                         ("tanh", exp, 3), ("log", log, 1), ("log1p", log1p, 1)):
        fn, want = getattr(numba_math, f"v{name}"), getattr(np, name)(x)
        got = np.array([fn(v) for v in x])
        assert np.all(np.abs(got - want) <= ulp * np.spacing(np.abs(want))), name


def test_a_fused_sum_is_numpys_pairwise_sum_to_the_bit():
    def f(x):
        return np.sum(x * x + 1.0)
    for n in (5, 100, 1000, 100_003):
        x = np.random.default_rng(n).standard_normal(n) * 1e3
        assert symgrad.compile(f, backend="numba")(x) == np.sum(x * x + 1.0)


def test_source_shows_the_kernels_and_the_numpy_around_them():
    src = compiled("grad", with_matmul, "numba").source(X)
    assert "@numba.njit(cache=True, error_model='numpy')" in src
    assert "    for i in range(n):" in src
    assert "np.tanh(" in src  # the scalar math, as the NumPy code spells it
    wrapper = src.split("def grad_with_matmul(x):")[1]
    assert "@numba.njit" not in wrapper and "kernel0(" in wrapper
    assert " @ " in src or "matmul" in src  # the matmul stays NumPy


def test_kernels_load_from_files_in_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_NUMBA_CACHE", str(tmp_path))
    f = symgrad.grad(lambda x: np.sum(np.cos(x) * x * 3.25), backend="numba")
    close(f(X), -np.sin(X) * X * 3.25 + np.cos(X) * 3.25, 1e-14)
    files = list(tmp_path.glob("symgrad_numba_*.py"))
    assert len(files) == 1 and "np.cos(" in files[0].read_text()


def test_without_numba_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    for make in (symgrad.compile, symgrad.grad, symgrad.value_and_grad, symgrad.jacobian, symgrad.hessian):
        with pytest.raises(ImportError) as info:
            make(chain, backend="numba")
        assert str(info.value) == "backend='numba' needs Numba: pip install symgrad[numba]"


def test_an_unknown_backend_lists_the_choices():
    with pytest.raises(ValueError, match=r"grad\(chain\): backend must be one of 'numpy', 'array_api', "
                                         r"'numba', got 'jax'"):
        symgrad.grad(chain, backend="jax")


def test_export_of_numba_code_points_to_the_numpy_back_end():
    with pytest.raises(ValueError, match=r"grad\(chain\)\.export\(\): backend='numba' code calls Numba "
                                         r"kernels; export the same function compiled with backend='numpy'"):
        compiled("grad", chain, "numba").export(X)


def test_a_later_build_of_the_same_graph_is_read_from_disk_and_a_changed_one_is_not(tmp_path, monkeypatch):
    from symgrad.api import transforms
    from symgrad.codegen import numba_cache
    monkeypatch.setenv("SYMGRAD_NUMBA_CACHE", str(tmp_path))
    monkeypatch.setattr(symgrad.config, "verify", False)  # the IR verifier runs on fresh builds only
    scale = np.linspace(1.0, 2.0, 37)

    def weighted(x):
        return np.sum(np.tanh(x * scale) ** 2 + x)
    first = symgrad.grad(weighted, backend="numba")
    want = first(X)
    assert len(list((tmp_path / "programs").glob("*.pkl"))) == 1

    def no_simplify(*args, **kwargs):
        raise AssertionError("simplify ran: the stored build was not read")
    with monkeypatch.context() as m:
        m.setattr(transforms, "simplify", no_simplify)
        again = symgrad.grad(weighted, backend="numba")
        assert np.array_equal(again(X), want) and again.source(X) == first.source(X)
        assert str(again.graph(X)) == str(first.graph(X))
        scale[3] = 5.0  # the array it reads changed: a new graph, built afresh
        with pytest.raises(AssertionError, match="simplify ran"):
            symgrad.grad(weighted, backend="numba")(X)
    changed = symgrad.grad(weighted, backend="numba")(X)
    close(changed, symgrad.grad(weighted)(X), 1e-12)
    assert not np.allclose(changed, want)
    assert len(list((tmp_path / "programs").glob("*.pkl"))) == 2

    cube = symgrad.extend("cube_for_numba_cache", lambda x: x ** 3, [lambda ct, ans, x: ct * 3 * x * x])
    traced = symgrad.trace(lambda x: np.sum(cube(x)), X)
    assert numba_cache.digest(traced.graph) is None  # user code the graph does not show: never stored


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="numba.pycc builds an extension module with a C compiler; none is installed")
def test_kernels_built_ahead_of_time_load_without_numba(tmp_path, monkeypatch):
    from symgrad.codegen import numba_aot, numba_cache
    monkeypatch.setenv("SYMGRAD_NUMBA_CACHE", str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    script = """
import sys, numpy as np, symgrad
def f(x):
    return np.sum(np.sin(x) * np.exp(-x * x) + np.tanh(x) * x)
x = np.random.default_rng(0).uniform(-2, 2, 5000)
g = symgrad.grad(f, backend="numba")
np.save(sys.argv[1], g(x))
print(type(g.build(x).fn.__globals__["kernel0"]).__name__, "numba" in sys.modules)
"""

    def run(name):  # a fresh process: its kind of kernel, whether it imported Numba, its gradient
        proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split(), np.load(tmp_path / f"{name}.npy")
    (kind, imported), jit = run("jit")
    assert kind == "CPUDispatcher" and imported == "True"
    (source,) = tmp_path.glob("symgrad_numba_*.py")
    (stored,) = (tmp_path / "programs").glob("*.pkl")
    program = numba_cache.read(stored.stem)[2]
    assert program.signatures == ("float64[::1](float64[::1])",)
    module = numba_aot.name(source.stem.removeprefix("symgrad_numba_"))
    try:
        numba_aot.build(source, module, dict(zip(program.numba_kernels, program.signatures)))
    except Exception as e:  # a machine without pycc's toolchain (distutils, Python's headers)
        if isinstance(e, ImportError) or type(e).__module__.split(".")[0] in ("distutils", "setuptools"):
            pytest.skip(f"numba.pycc cannot build an extension here: {type(e).__name__}: {e}")
        raise
    (kind, imported), aot = run("aot")
    assert kind == "function" and imported == "False"  # the extension module's kernel, no Numba
    assert np.array_equal(aot, jit)
    kernel = numba_aot.bind(numba_aot.load(tmp_path, module).kernel0)
    strided = np.random.default_rng(1).uniform(-2, 2, 10000)[::2]  # copied to a contiguous array
    assert np.array_equal(kernel(strided), kernel(np.ascontiguousarray(strided)))
