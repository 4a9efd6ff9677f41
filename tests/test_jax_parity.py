"""symgrad's compiled gradients against JAX's, for NumPy code written once over a namespace.

Each case is a scalar function of `xp` (NumPy for symgrad, `jax.numpy` for JAX) and `sp`
(SciPy's special functions, or JAX's), so the two libraries differentiate the same source.
Gradients agree to 1e-9 in float64; a few second derivatives too. Skipped without JAX.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgrad

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
jsp = pytest.importorskip("jax.scipy.special")
ssp = pytest.importorskip("scipy.special")
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

RNG = np.random.default_rng(11)
A = RNG.standard_normal((4, 4))
SPD = A @ A.T + 4 * np.eye(4)
V = RNG.standard_normal(6)
M = RNG.standard_normal((3, 5))
P = RNG.uniform(0.1, 0.9, 5)


def windows(xp, x, n):
    if xp is np:
        return sliding_window_view(x, n)
    return jnp.stack([x[i:i + n] for i in range(x.shape[0] - n + 1)])


CASES = {
    # linalg
    "cholesky": (lambda xp, sp, a: xp.log(xp.diag(xp.linalg.cholesky(a @ a.T + 4 * xp.eye(4)))).sum(), A),
    "solve": (lambda xp, sp, a: (xp.linalg.solve(a + 4 * xp.eye(4), xp.arange(4.0)) ** 2).sum(), A),
    "inv": (lambda xp, sp, a: xp.linalg.inv(a + 4 * xp.eye(4)).sum(), A),
    "det": (lambda xp, sp, a: xp.linalg.det(a + 4 * xp.eye(4)), A),
    "slogdet": (lambda xp, sp, a: xp.linalg.slogdet(a @ a.T + xp.eye(4))[1], A),
    "eigh values": (lambda xp, sp, a: (xp.linalg.eigh(a + a.T)[0] * xp.arange(4.0)).sum(), A),
    "eigvalsh": (lambda xp, sp, a: xp.linalg.eigvalsh(a @ a.T)[-1], A),
    "norm fro": (lambda xp, sp, a: xp.linalg.norm(a), A),
    "norm 1": (lambda xp, sp, a: xp.linalg.norm(a, 1), A),
    "norm inf axis": (lambda xp, sp, a: xp.linalg.norm(a, np.inf, axis=1).sum(), A),
    "norm 2 vector": (lambda xp, sp, v: xp.linalg.norm(v, 2), V),
    "matrix_power": (lambda xp, sp, a: xp.linalg.matrix_power(a / 3, 3).sum(), A),
    "multi_dot": (lambda xp, sp, a: xp.linalg.multi_dot([a, a.T, a]).sum(), A),
    "trace": (lambda xp, sp, a: xp.trace(a @ a), A),
    "tril triu": (lambda xp, sp, a: (xp.tril(a) * xp.triu(a, 1).T).sum(), A),
    "kron": (lambda xp, sp, a: xp.kron(a[:2, :2], a).sum(), A),
    "cross": (lambda xp, sp, v: xp.cross(v[:3], v[3:]).sum(), V),
    "tensordot": (lambda xp, sp, m: xp.tensordot(m, m, axes=([1], [1])).sum(), M),
    "einsum 3": (lambda xp, sp, a: xp.einsum("i,ij,j->", a[0], a, a[1]), A),
    "einsum trace": (lambda xp, sp, a: xp.einsum("ii", a @ a), A),
    "inner outer": (lambda xp, sp, v: xp.inner(v, v) + xp.outer(v, v).sum(), V),
    # shape
    "diff": (lambda xp, sp, v: (xp.diff(v, n=2) ** 2).sum(), V),
    "cumsum cumprod": (lambda xp, sp, v: xp.cumsum(v).std() + xp.cumprod(v / 2).sum(), V),
    "flip roll": (lambda xp, sp, m: (xp.flip(m, 1) * xp.roll(m, 2, axis=1)).sum(), M),
    "tile repeat": (lambda xp, sp, v: (xp.tile(v, 2) * xp.repeat(v, 2)).sum(), V),
    "pad": (lambda xp, sp, v: (xp.pad(v, 2, mode="reflect") ** 2 * xp.arange(10.0)).sum(), V),
    "stacks": (lambda xp, sp, v: (xp.vstack([v, v ** 2]) @ xp.hstack([v, v])[:6]).sum(), V),
    "split": (lambda xp, sp, v: sum((p ** 2).sum() * (i + 1) for i, p in enumerate(xp.split(v, 3))), V),
    "take_along_axis": (lambda xp, sp, m: xp.take_along_axis(m, np.array([[0], [2], [4]]), 1).sum(), M),
    "windows": (lambda xp, sp, v: (windows(xp, v, 3) @ xp.array([1.0, -2.0, 1.0]) ** 2).sum(), V),
    "moveaxis swap": (lambda xp, sp, m: (xp.moveaxis(m[None], 0, -1)[..., 0] * xp.swapaxes(m, 0, 1).T).sum(),
                      M),
    "meshgrid": (lambda xp, sp, v: (lambda g: (g[0] * g[1] ** 2).sum())(xp.meshgrid(v, v[:3])), V),
    # reductions and order
    "sort": (lambda xp, sp, v: (xp.sort(v) * xp.arange(6.0)).sum(), V),
    "median": (lambda xp, sp, v: xp.median(v ** 2), V),
    "quantile": (lambda xp, sp, m: xp.quantile(m, 0.3, axis=1).sum(), M),
    "percentile": (lambda xp, sp, v: xp.percentile(v, 75), V),
    "ptp": (lambda xp, sp, m: xp.ptp(m, axis=0).sum(), M),
    "average": (lambda xp, sp, v: xp.average(v ** 2, weights=xp.arange(1.0, 7.0)), V),
    "var std": (lambda xp, sp, m: m.var(axis=1).sum() + xp.std(m, ddof=1) + m.mean(0).var(), M),
    "masked mean": (lambda xp, sp, m: xp.mean(m, where=m > -0.5), M),
    "logaddexp reduce": (lambda xp, sp, v: xp.logaddexp.reduce(v) if xp is np else
                         jax.nn.logsumexp(v), V),
    # elementwise
    "hyperbolic": (lambda xp, sp, p: (xp.sinh(p) * xp.cosh(p) + xp.arctanh(p) + xp.arcsinh(p)).sum(), P),
    "inverse trig": (lambda xp, sp, p: (xp.arcsin(p) + xp.arccos(p / 2) + xp.arctan2(p, 1 - p)).sum(), P),
    "logs": (lambda xp, sp, p: (xp.log2(p) + xp.log10(p) + xp.exp2(p) + xp.cbrt(p)).sum(), P),
    "hypot fmax": (lambda xp, sp, p: (xp.hypot(p, 1 - p) + xp.fmax(p, 0.5) + xp.square(p)).sum(), P),
    "clip arrays": (lambda xp, sp, v: (xp.clip(v, -xp.abs(v[::-1]) / 2, 0.7) ** 2).sum(), V),
    # SciPy special
    "expit logit": (lambda xp, sp, p: (sp.expit(p) + sp.logit(p)).sum(), P),
    "erf erfc ndtr": (lambda xp, sp, v: (sp.erf(v) * sp.erfc(v) + sp.ndtr(v) + sp.log_ndtr(v)).sum(), V),
    "gammaln digamma": (lambda xp, sp, p: (sp.gammaln(p + 1) * sp.digamma(p + 1)).sum(), P),
    "xlogy xlog1py": (lambda xp, sp, p: (sp.xlogy(p, p) + sp.xlog1py(p, -p / 2)).sum(), P),
    # stacking a list of traced values
    "np.array of list": (lambda xp, sp, v: (xp.array([v[0] * v[1], v[2], 1.0]) ** 2).sum(), V),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_jax(name):
    fn, x = CASES[name]
    ours = symgrad.grad(lambda x: fn(np, ssp, x))(x)
    theirs = np.asarray(jax.grad(lambda x: fn(jnp, jsp, x))(jnp.asarray(x)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(symgrad.compile(lambda x: fn(np, ssp, x))(x), fn(jnp, jsp, jnp.asarray(x)),
                               rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", ["cholesky", "slogdet", "einsum 3", "cumsum cumprod", "sort", "quantile",
                                  "logs", "gammaln digamma", "pad"])
def test_hessian_matches_jax(name):
    fn, x = CASES[name]
    ours = symgrad.hessian(lambda x: fn(np, ssp, x))(x)
    theirs = np.asarray(jax.hessian(lambda x: fn(jnp, jsp, x))(jnp.asarray(x)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
