"""The program corpus (tests/programs/): realistic NumPy/SciPy programs, each written the way its
own author would, differentiated by symgrad's compiled face.

Every program is a module with `loss(...)` (or several spellings in `LOSSES`), `make_inputs(rng)`
and optionally `ARGNUMS` (default 0) and `HESSIAN = True` (small enough for a Hessian). For
each: the compiled value against the plain NumPy program (to rounding), the compiled gradient
against central finite differences, the same source run on JAX (jax.numpy swapped in) when JAX
is installed, and the Hessian against finite differences of the gradient.
`test_program_is_what_it_says` checks each program's value against an independent reference
(scipy.stats, PyTorch, a formula).
"""

from __future__ import annotations

import math
import re
import statistics
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.optimize
import scipy.spatial.distance
import scipy.stats
from numeric import differences

import symgrad
from symgrad.tracing.pytree import flatten, unflatten

DIR = Path(__file__).parent / "programs"
NAMES = sorted(p.stem for p in DIR.glob("*.py"))
SEED = 0
RTOL = 1e-6


def _load(name: str, source: str | None = None) -> types.ModuleType:
    """The program as a module; `source` replaces the file's text (same filename for tracebacks)."""
    path = DIR / f"{name}.py"
    module = types.ModuleType(f"programs_{name}")
    module.__file__ = str(path)
    exec(compile(path.read_text() if source is None else source, str(path), "exec"), module.__dict__)
    return module


MODULES = {name: _load(name) for name in NAMES}
CASES = [pytest.param(name, fn.__name__, id=name if len(fns) == 1 else f"{name}.{fn.__name__}")
         for name, module in MODULES.items()
         for fns in [getattr(module, "LOSSES", (module.loss,))] for fn in fns]


def _program(name: str, fn_name: str) -> tuple[types.ModuleType, Callable, tuple, tuple[int, ...]]:
    module = MODULES[name]
    args = module.make_inputs(np.random.default_rng(SEED))
    argnums = getattr(module, "ARGNUMS", 0)
    return module, getattr(module, fn_name), args, argnums


def _as_tuple(argnums: int | tuple[int, ...]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _close(got: Any, want: Any, what: str, rtol: float = RTOL) -> None:
    """Leaf by leaf, within `rtol` of each leaf's largest entry (so near-zero entries don't dominate)."""
    got_leaves, got_def = flatten(got)
    want_leaves, want_def = flatten(want)
    assert got_def == want_def, f"{what}: structure {got_def} != {want_def}"
    for i, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        w = np.asarray(w, dtype=np.float64)
        scale = max(float(np.max(np.abs(w), initial=0.0)), 1e-12)
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=rtol * scale,
                                   err_msg=f"{what}, leaf {i}")


def _fd_grad(fn: Callable, args: tuple, argnums: tuple[int, ...]) -> Any:
    """Central differences of `fn` in every float leaf of the differentiated arguments, as a pytree."""
    per_arg = [flatten(a) for a in args]
    leaves = [np.array(leaf, dtype=np.asarray(leaf).dtype) for ls, _ in per_arg for leaf in ls]
    starts = np.cumsum([0] + [len(ls) for ls, _ in per_arg])

    def scalar(*flat: np.ndarray) -> float:
        rebuilt = [unflatten(tree, list(flat[starts[i]:starts[i + 1]]))
                   for i, (_, tree) in enumerate(per_arg)]
        return float(fn(*rebuilt))

    wrt = [j for i in argnums for j in range(starts[i], starts[i + 1])]
    grads = iter(differences(scalar, leaves, wrt))
    out = [unflatten(per_arg[i][1], [next(grads) for _ in range(starts[i], starts[i + 1])])
           for i in argnums]
    return out[0] if len(out) == 1 else tuple(out)


def test_the_corpus_is_big_enough():
    assert len(NAMES) >= 22
    for name, module in MODULES.items():
        assert module.__doc__ and "Leans on" in module.__doc__, name
        assert callable(module.make_inputs) and callable(module.loss), name


@pytest.mark.parametrize("name, fn_name", CASES)
def test_compiled_value_is_numpys(name, fn_name):
    """The compiled value, with and without simplification, is the NumPy program's to rounding.

    Not bit for bit: a composite (logsumexp, quantile, log_expit) need not add up in SciPy's
    order, and the simplifier reassociates; 1e-12 still catches any slip of ddof, axis or order."""
    _, fn, args, _ = _program(name, fn_name)
    want = fn(*args)
    np.testing.assert_allclose(symgrad.compile(fn, passes=())(*args), want, rtol=1e-12)
    np.testing.assert_allclose(symgrad.compile(fn)(*args), want, rtol=1e-12)


@pytest.mark.parametrize("name, fn_name", CASES)
def test_grad_matches_finite_differences(name, fn_name):
    _, fn, args, argnums = _program(name, fn_name)
    want = _fd_grad(fn, args, _as_tuple(argnums))
    if isinstance(argnums, tuple) and len(argnums) == 1:
        want = (want,)
    _close(symgrad.grad(fn, argnums=argnums)(*args), want, "grad")
    value, grads = symgrad.value_and_grad(fn, argnums=argnums)(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-13)
    _close(grads, want, "value_and_grad")


HESSIAN_CASES = [c for c in CASES if getattr(MODULES[c.values[0]], "HESSIAN", False)]


@pytest.mark.parametrize("name, fn_name", HESSIAN_CASES)
def test_hessian_matches_differences_of_grad(name, fn_name):
    _, fn, args, argnums = _program(name, fn_name)
    first = _as_tuple(argnums)[0]
    grad = symgrad.grad(fn, argnums=first)
    x = args[first]
    step = 1e-5
    want = np.zeros(x.shape + x.shape)
    for idx in np.ndindex(x.shape):
        moved = [list(args), list(args)]
        for sign, shifted in zip((1, -1), moved):
            shifted[first] = x.copy()
            shifted[first][idx] += sign * step
        want[(...,) + idx] = (grad(*moved[0]) - grad(*moved[1])) / (2 * step)
    got = symgrad.hessian(fn, argnums=first)(*args)
    assert got.shape == want.shape
    _close(got, want, "hessian")
    _close(got, np.swapaxes(got.reshape(x.size, x.size), 0, 1).reshape(got.shape), "symmetry", 1e-12)


# ---- the same source on JAX ---------------------------------------------------------------------

TO_JAX = [  # (NumPy/SciPy spelling, jax spelling): the programs only use these import forms
    ("import numpy as np\n", "import jax.numpy as np\n"),
    ("from scipy.special import ", "from jax.scipy.special import "),
    ("from scipy import special\n", "from jax.scipy import special\n"),
    ("import scipy.special\n", "import jax.scipy.special\nfrom jax import scipy\n"),
    ("from numpy.lib.stride_tricks import ", "from jax.numpy.lib.stride_tricks import "),
]


@pytest.mark.parametrize("name, fn_name", CASES)
def test_matches_jax(name, fn_name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    _, fn, args, argnums = _program(name, fn_name)
    source = (DIR / f"{name}.py").read_text()
    for ours, theirs in TO_JAX:
        source = source.replace(ours, theirs)
    try:
        jax_fn = getattr(_load(name, source), fn_name)
        jax_args = jax.tree_util.tree_map(jax.numpy.asarray, args)
        value, grads = jax.value_and_grad(jax_fn, argnums=argnums)(*jax_args)
    except Exception as exc:  # JAX is only the reference: a function with no jax twin, a list input...
        pytest.skip(f"{name} cannot run on JAX as written: {type(exc).__name__}: {exc}")
    ours_value, ours_grads = symgrad.value_and_grad(fn, argnums=argnums)(*args)
    np.testing.assert_allclose(ours_value, float(value), rtol=RTOL)
    _close(ours_grads, jax.tree_util.tree_map(np.asarray, grads), "JAX grad")


# ---- each program computes what its docstring says ----------------------------------------------

def _gp(params, x, y):
    sq = scipy.spatial.distance.cdist(x, x, "sqeuclidean")
    ell, sf, sn = (np.exp(params[k]) for k in ("log_lengthscale", "log_signal", "log_noise"))
    K = sf**2 * np.exp(-sq / (2 * ell**2)) + sn**2 * np.eye(len(y))
    return -scipy.stats.multivariate_normal.logpdf(y, np.zeros(len(y)), K)


def _mvn(mean, factor, X):
    A = np.tril(factor)
    return -scipy.stats.multivariate_normal.logpdf(X, mean, A @ A.T + 1e-3 * np.eye(3)).sum()


def _evidence(hyper, x, t):
    alpha, beta = np.exp(hyper[0]), np.exp(hyper[1])
    Phi = np.stack([x**k for k in range(4)], axis=1)
    cov = np.eye(len(t)) / beta + Phi @ Phi.T / alpha
    return -scipy.stats.multivariate_normal.logpdf(t, np.zeros(len(t)), cov)


def _student_t(theta, X, y):
    return -scipy.stats.t.logpdf(y, df=np.exp(theta[4]), loc=X @ theta[:3], scale=np.exp(theta[3])).sum()


def _negbin(params, X, y):
    w, log_r = params
    r, mu = np.exp(log_r), np.exp(X @ w)
    return -scipy.stats.nbinom.logpmf(y, r, r / (r + mu)).sum()


def _mixture(params, X):
    weights = np.exp(params["logits"]) / np.exp(params["logits"]).sum()
    dens = [sum(w * np.prod(scipy.stats.norm.pdf(xi, m, np.exp(s)))
                for w, m, s in zip(weights, params["means"], params["log_scales"])) for xi in X]
    return -np.mean(np.log(dens))


def _kde(log_h, x):
    h = math.exp(log_h)
    return -np.mean([math.log(sum(scipy.stats.norm.pdf(xi, xj, h) for j, xj in enumerate(x) if j != i)
                              / (len(x) - 1)) for i, xi in enumerate(x)])


def _tv(u, f, lam=0.1, eps=1e-3):
    total = 0.0
    for i, j in np.ndindex(u.shape):
        ux = u[i, j + 1] - u[i, j] if j + 1 < u.shape[1] else 0.0
        uy = u[i + 1, j] - u[i, j] if i + 1 < u.shape[0] else 0.0
        total += math.sqrt(ux * ux + uy * uy + eps)
    return 0.5 * np.sum((u - f) ** 2) + lam * total


def _autocorr(a, x, max_lag=4):
    e = np.convolve(np.concatenate([x[-len(a):], x]), np.concatenate([[1.0], -a]), "valid")
    e = e - e.mean()
    acf = np.fft.ifft(np.abs(np.fft.fft(e)) ** 2).real / np.dot(e, e)
    return np.sum(acf[1:max_lag + 1] ** 2)


def _oscillator(theta, observed, dt=0.1):
    omega, zeta, x0, v0 = math.exp(theta[0]), math.exp(theta[1]), theta[2], theta[3]
    wd = omega * math.sqrt(1 - zeta**2)
    t = dt * np.arange(len(observed))
    x = np.exp(-zeta * omega * t) * (x0 * np.cos(wd * t) + (v0 + zeta * omega * x0) / wd * np.sin(wd * t))
    return np.sum((x - observed) ** 2)


def _lotka(rates, y0, observed, dt=0.05):
    a, b, c, d = (math.exp(rates[k]) for k in ("log_alpha", "log_beta", "log_gamma", "log_delta"))
    prey, pred = float(y0[0]), float(y0[1])
    total = 0.0
    for step, obs in enumerate(observed):
        if step:
            prey, pred = prey + dt * (a * prey - b * prey * pred), pred + dt * (d * prey * pred - c * pred)
        total += (math.log(prey) - math.log(obs[0])) ** 2 + (math.log(pred) - math.log(obs[1])) ** 2
    return total / observed.size


def _robust(beta, X, y, trim=4):
    r = y - X @ beta
    sq = list(r**2)
    absr = sorted(abs(r))
    return (statistics.median(sq) + statistics.quantiles(sq, n=4, method="inclusive")[2]
            + statistics.fmean(absr[:-trim]))


def _torch(name: str) -> Callable:
    """A PyTorch translation of program `name`, from its own layers (reference only)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = torch.as_tensor

    def mlp(params, x, onehot):
        h = t(x)
        for i in (1, 2, 3):
            h = F.linear(h, t(params[f"W{i}"]).T, t(params[f"b{i}"]))
            h = torch.tanh(h) if i < 3 else h
        return F.cross_entropy(h, t(onehot.argmax(1))).item()

    def layer_norm(params, x, target):
        gamma, beta, W = map(t, params)
        out = F.layer_norm(t(x), (x.shape[-1],), gamma, beta, eps=1e-5) @ W
        return F.mse_loss(out, t(target)).item()

    def attention(params, x, y):
        q, k, v = (t(x) @ t(params[n]) for n in ("Wq", "Wk", "Wv"))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True) @ t(params["Wo"])
        return F.mse_loss(out, t(y)).item()

    def conv(params, x, target):
        kernel, bias = map(t, params)
        return 0.5 * ((F.relu(F.conv1d(t(x), kernel, bias)) - t(target)) ** 2).sum().item()

    def rnn(params, xs, ys):
        W_x, W_h, b, W_out = map(t, params)
        cell = torch.nn.RNN(W_x.shape[0], W_x.shape[1], batch_first=True).double()
        with torch.no_grad():
            cell.weight_ih_l0.copy_(W_x.T)
            cell.weight_hh_l0.copy_(W_h.T)
            cell.bias_ih_l0.copy_(b)
            cell.bias_hh_l0.zero_()
            out, _ = cell(t(xs))
            return F.mse_loss(out @ W_out, t(ys)).item()

    def batch_norm(params, x, labels):
        p = {k: t(v) for k, v in params.items()}
        h = F.batch_norm(t(x) @ p["W1"], None, None, p["gamma"], p["beta"], training=True, eps=1e-5)
        return F.cross_entropy(F.relu(h) @ p["W2"] + p["b2"], t(labels)).item()

    def softmax_regression(W, b, X, y, weight_decay=1e-2):
        return (F.cross_entropy(t(X) @ t(W) + t(b), t(y)) + weight_decay * (t(W) ** 2).sum()).item()

    def huber(coef, X, y, alpha=1e-3):
        return (F.huber_loss(t(X) @ t(coef), t(y), delta=1.0) + alpha * (t(coef) ** 2).sum()).item()

    return {"mlp_dict": mlp, "layer_norm": layer_norm, "attention": attention, "conv1d_windows": conv,
            "rnn_sequence": rnn, "batch_norm": batch_norm, "softmax_regression": softmax_regression,
            "huber_regression": huber}[name]


def _heat(u0, log_kappa, observed, steps=20, dx=0.1, dt=0.002):
    n = len(u0)
    step = np.eye(n - 2) + math.exp(log_kappa) * dt / dx**2 * (
        np.diag(np.full(n - 3, 1.0), -1) - 2 * np.eye(n - 2) + np.diag(np.full(n - 3, 1.0), 1))
    u = np.concatenate([[0.0], np.linalg.matrix_power(step, steps) @ u0[1:-1], [0.0]])
    return np.mean((u - observed) ** 2)


def _local_level(params, y):
    """The same likelihood as a Gaussian: level_t = l + w_0 + ... + w_t, Var l = 10."""
    t = np.arange(len(y))
    q, r = math.exp(params["log_q"]), math.exp(params["log_r"])
    cov = 10.0 + q * (np.minimum.outer(t, t) + 1) + r * np.eye(len(y))
    return -scipy.stats.multivariate_normal.logpdf(y, np.zeros(len(y)), cov)


def _beta_binomial(params, X, k, n):
    mu = scipy.special.expit(X @ params.coef)
    phi = math.exp(params.log_phi)
    return -scipy.stats.betabinom.logpmf(k, n, mu * phi, (1 - mu) * phi).sum()


def _gated(layers, X, y):
    out = np.maximum(X @ layers[0].W + layers[0].b, 0) @ layers[1].W + layers[1].b
    out = out + X[:, :1] * (np.abs(X[:, :1]) < 0.5)
    return np.mean((out[:, 0] - y) ** 2)


REFERENCES: dict[str, Callable] = {
    "heat_equation_inplace": _heat,
    "kalman_local_level": _local_level,
    "beta_binomial": _beta_binomial,
    "gated_relu_net": _gated,
    "gp_marginal_likelihood": _gp,
    "mvn_logpdf": _mvn,
    "bayes_linreg_evidence": _evidence,
    "student_t_regression": _student_t,
    "poisson_regression": lambda w, X, c: (-scipy.stats.poisson.logpmf(c, np.exp(X @ w)).sum()
                                          + 0.05 * np.sum(w**2)),
    "negbin_regression": _negbin,
    "logistic_regression": lambda w, b, X, y: 0.5 * w @ w + np.mean(np.logaddexp(0, -y * (X @ w + b))),
    "gaussian_mixture": _mixture,
    "kde_bandwidth": _kde,
    "conv1d_loops": lambda taps, s, d: np.sum((np.convolve(s, taps, "valid") - d) ** 2) / len(d),
    "whittaker_smoother": lambda z, y, w: (np.sum(w * (y - z) ** 2)
                                           + 10.0 * np.sum((np.diff(np.eye(len(z)), 2, axis=0) @ z) ** 2)),
    "total_variation": _tv,
    "moving_average": lambda x, obs: (np.mean((np.convolve(x, np.full(4, 0.25), "valid") - obs) ** 2)
                                      + 1e-2 * np.mean(x**2)),
    "autocorrelation_whitening": _autocorr,
    "oscillator_rk4": _oscillator,
    "lotka_volterra_euler": _lotka,
    "rosenbrock": lambda x: scipy.optimize.rosen(x),
    "rastrigin": lambda x: sum(xi * xi - 10 * math.cos(2 * math.pi * xi) + 10 for xi in x),
    "trace_quadratic": lambda X, v, A, B: (np.trace(X.T @ A @ X @ B) + 0.5 * v @ A @ v
                                           + 0.5 * np.sum((X.T @ X - np.eye(2)) ** 2)),
    "robust_quantile_regression": _robust,
    "matrix_factorisation": lambda f, R, M: (0.5 * np.sum((M * (f[0] @ f[1].T - R)) ** 2)
                                             + 0.025 * (np.sum(f[0] ** 2) + np.sum(f[1] ** 2))),
}
TORCH_REFERENCES = ["mlp_dict", "layer_norm", "attention", "conv1d_windows", "rnn_sequence",
                    "batch_norm", "softmax_regression", "huber_regression"]
# the RK4 step (dt=0.1) is compared with the exact solution: its global error is about 1e-4
REFERENCE_RTOL = {"oscillator_rk4": 1e-2}


@pytest.mark.parametrize("name", sorted(REFERENCES) + TORCH_REFERENCES)
def test_program_is_what_it_says(name):
    module = MODULES[name]
    args = module.make_inputs(np.random.default_rng(SEED))
    reference = REFERENCES[name] if name in REFERENCES else _torch(name)
    for fn in getattr(module, "LOSSES", (module.loss,)):
        np.testing.assert_allclose(fn(*args), reference(*args), rtol=REFERENCE_RTOL.get(name, 1e-10))


def test_every_program_has_a_reference():
    assert sorted(set(REFERENCES) | set(TORCH_REFERENCES)) == NAMES


def test_readme_lists_every_program():
    rows = re.findall(r"^\| `(\w+)\.py` \|", (DIR / "README.md").read_text(), re.MULTILINE)
    assert rows == NAMES
