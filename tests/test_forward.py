"""Forward mode (`jvp`, `linearize`, `jacfwd`) and Hessian-vector products (`hvp`).

Forward mode has no rules of its own: it transposes the reverse pass, so these tests check
it against what does not share that path (central differences, JAX) and against reverse
mode (`jacrev`), on functions written as different users write them: elementwise, an MLP on
a dict of parameters, softmax, slicing and fancy indexing, reductions, Rosenbrock, a
quadratic form, a tuple output. They also check that the generated code is lean (no n x n
value for an elementwise function or for an hvp), and that bad tangents are refused.
"""


import numpy as np
import pytest

import symgrad
from symgrad.tracing import pytree

RNG = np.random.default_rng(0)


def _mlp(xp):
    def mlp(params, x):
        h = xp.tanh(x @ params["w1"] + params["b1"])
        return h @ params["w2"] + params["b2"]
    return mlp


def _softmax(xp):
    def softmax(z):
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return softmax


def _quadratic(xp):
    return lambda x, a: 0.5 * x @ a @ x + xp.sum(x ** 4) / 4


def _rosen(xp):
    return lambda x: xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _slices(xp):
    return lambda x: xp.concatenate([x[1:] * x[:-1], x[::2] ** 2, x[xp.array([0, 3, 3])]])


def _reductions(xp):
    return lambda m: xp.stack([m.sum(axis=0), xp.mean(m ** 2, axis=0), xp.log(xp.sum(xp.exp(m), axis=0))])


def _elementwise(xp):
    return lambda x: xp.tanh(x) * xp.exp(-x ** 2) + xp.sin(3.0 * x)


def _tuple_out(xp):
    return lambda x, y: (x * y, xp.cos(x).sum() * y)


def _params():
    return {"w1": RNG.normal(size=(3, 4)), "b1": RNG.normal(size=4),
            "w2": RNG.normal(size=(4, 2)), "b2": RNG.normal(size=2)}


# (name, function of the array module, primals)
CASES = [
    ("elementwise", _elementwise, (RNG.normal(size=5),)),
    ("mlp_dict", _mlp, (_params(), RNG.normal(size=(6, 3)))),
    ("softmax", _softmax, (RNG.normal(size=(3, 4)),)),
    ("quadratic_form", _quadratic, (RNG.normal(size=4), RNG.normal(size=(4, 4)))),
    ("rosenbrock", _rosen, (RNG.uniform(-1, 1, size=6),)),
    ("slicing_indexing", _slices, (RNG.normal(size=6),)),
    ("reductions", _reductions, (RNG.normal(size=(3, 4)),)),
    ("tuple_output", _tuple_out, (RNG.normal(size=3), RNG.normal(size=3))),
]
IDS = [c[0] for c in CASES]


def _tangents(primals, seed=1):
    rng = np.random.default_rng(seed)
    return tuple(pytree.unflatten(pytree.flatten(p)[1], [rng.normal(size=np.shape(leaf))
                                                          for leaf in pytree.flatten(p)[0]]) for p in primals)


def _moved(primals, tangents, step):
    return tuple(pytree.unflatten(pytree.flatten(p)[1], [leaf + step * dt for leaf, dt in
                                                         zip(pytree.flatten(p)[0], pytree.flatten(t)[0])])
                 for p, t in zip(primals, tangents))


def _leaves(tree):
    return [np.asarray(leaf) for leaf in pytree.flatten(tree)[0]]


@pytest.mark.parametrize("name, make, primals", CASES, ids=IDS)
def test_jvp_matches_central_differences(name, make, primals):
    fn, tangents, step = make(np), _tangents(primals), 1e-6
    out, tangent_out = symgrad.jvp(fn, primals, tangents)
    for got, want in zip(_leaves(out), _leaves(fn(*primals))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    ahead, behind = fn(*_moved(primals, tangents, step)), fn(*_moved(primals, tangents, -step))
    for got, a, b in zip(_leaves(tangent_out), _leaves(ahead), _leaves(behind)):
        np.testing.assert_allclose(got, (a - b) / (2 * step), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, make, primals", CASES, ids=IDS)
def test_jvp_is_jacrev_times_tangent_and_jacfwd_is_jacrev(name, make, primals):
    fn, tangents = make(np), _tangents(primals)
    argnums = tuple(range(len(primals)))
    _, tangent_out = symgrad.jvp(fn, primals, tangents)
    rev = symgrad.jacrev(fn, argnums=argnums)(*primals)
    fwd = symgrad.jacobian(fn, argnums=argnums, mode="fwd")(*primals)
    rev_leaves, fwd_leaves = _leaves(rev), _leaves(fwd)
    for a, b in zip(fwd_leaves, rev_leaves):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    t_leaves = _leaves(tangents)
    out_leaves = _leaves(tangent_out)
    per_out = len(rev_leaves) // len(out_leaves)  # Jacobians nest per output leaf, then per input leaf
    for k, want in enumerate(out_leaves):
        blocks = rev_leaves[k * per_out:(k + 1) * per_out]
        got = sum(np.tensordot(j, t, axes=t.ndim) for j, t in zip(blocks, t_leaves))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, make, primals", CASES, ids=IDS)
def test_matches_jax(name, make, primals):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    tangents = _tangents(primals)
    out, tangent_out = symgrad.jvp(make(np), primals, tangents)
    jout, jtangent = jax.jvp(make(jnp), primals, tangents)
    for got, want in zip(_leaves(out) + _leaves(tangent_out), _leaves(jout) + _leaves(jtangent)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    argnums = tuple(range(len(primals)))
    for got, want in zip(_leaves(symgrad.jacfwd(make(np), argnums=argnums)(*primals)),
                         _leaves(jax.jacfwd(make(jnp), argnums=argnums)(*primals))):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_jvp_of_an_elementwise_function_is_its_derivative_times_the_tangent():
    """No n x n temporaries, no leftover reverse pass: sin(x) * x pushes v to
    v * sin(x) + x * v * cos(x), a handful of elementwise statements."""
    x, v = np.linspace(0.0, 1.0, 50), np.ones(50)
    out, f_jvp = symgrad.linearize(lambda x: np.sin(x) * x, x)
    np.testing.assert_allclose(f_jvp(v), np.sin(x) + x * np.cos(x), rtol=1e-12)
    graph = f_jvp.graph()
    assert max(int(np.prod(n.shape)) for n in graph.nodes) <= x.size
    assert {n.op for n in graph.nodes} <= {"input", "const", "sin", "cos", "mul", "add"}
    assert len([n for n in graph.nodes if n.op not in ("input", "const")]) <= 6
    assert "def linearized_" in f_jvp.source() and "x_dot" in f_jvp.source()


def test_jvp_spellings_and_composition():
    f = _elementwise(np)
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    out, t = symgrad.jvp(f, [x], [v])  # lists, as JAX accepts
    out2, f_jvp = symgrad.linearize(f, x)
    np.testing.assert_allclose(f_jvp(v), t, rtol=1e-12)
    np.testing.assert_allclose(out2, out, rtol=1e-12)
    compiled = symgrad.compile(lambda x, v: symgrad.jvp(f, (x,), (v,))[1])  # jit(jvp), compiled once
    np.testing.assert_allclose(compiled(x, v), t, rtol=1e-12)
    # the grad of a jvp, the jvp of a grad and jacfwd of a grad: all H @ v of sum(f)
    hv = symgrad.hvp(lambda x: f(x).sum())(x, v)
    np.testing.assert_allclose(symgrad.grad(lambda x: symgrad.jvp(f, (x,), (v,))[1].sum())(x), hv, rtol=1e-10)
    np.testing.assert_allclose(symgrad.jvp(symgrad.grad(lambda x: f(x).sum()), (x,), (v,))[1], hv, rtol=1e-10)
    np.testing.assert_allclose(symgrad.jacfwd(symgrad.grad(lambda x: f(x).sum()))(x) @ v, hv, rtol=1e-10)


def test_jvp_has_aux_and_cache():
    def f(x):
        return np.exp(x).sum(), x.mean()
    x, v = np.arange(3.0), np.ones(3)
    out, t, aux = symgrad.jvp(f, (x,), (v,), has_aux=True)
    np.testing.assert_allclose([out, t, aux], [np.exp(x).sum(), np.exp(x).sum(), 1.0])
    from symgrad.api.forward import _jvp_of
    compiled = _jvp_of(f, 1, True, True)
    before = compiled.cache_info().misses
    symgrad.jvp(f, (x + 1.0,), (v,), has_aux=True)
    assert compiled.cache_info().misses == before  # the same signature is not traced again


def test_jacfwd_and_jacrev_match_differences_and_modes():
    def f(x, y):
        return np.sin(x)[:, None] * y ** 2
    x, y = RNG.normal(size=3), RNG.normal(size=2)
    jx, jy = symgrad.jacfwd(f, argnums=(0, 1))(x, y)
    rx, ry = symgrad.jacrev(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jx, rx, rtol=1e-12)
    np.testing.assert_allclose(jy, ry, rtol=1e-12)
    step = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = step
        np.testing.assert_allclose(jx[..., i], (f(x + e, y) - f(x - e, y)) / (2 * step), atol=1e-8)
    assert jx.shape == (3, 2, 3) and jy.shape == (3, 2, 2)
    with pytest.raises(ValueError, match="mode"):
        symgrad.jacobian(f, mode="forward")


# ---------------------------------------------------------------- hvp

def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_hvp_matches_hessian_and_differences():
    x, v = RNG.uniform(-1, 1, size=7), RNG.normal(size=7)
    hv = symgrad.hvp(rosen)(x, v)
    np.testing.assert_allclose(hv, symgrad.hessian(rosen)(x) @ v, rtol=1e-10)
    g, step = symgrad.grad(rosen), 1e-6
    np.testing.assert_allclose(hv, (g(x + step * v) - g(x - step * v)) / (2 * step), rtol=1e-6, atol=1e-6)
    assert "def hvp_rosen(x, v)" in symgrad.hvp(rosen).source(x, v)


def test_hvp_of_a_dict_of_parameters_and_several_argnums():
    def loss(params, x):
        return np.sum(_mlp(np)(params, x) ** 2)
    params, x = _params(), RNG.normal(size=(5, 3))
    v = _tangents((params,))[0]
    hv = symgrad.hvp(loss)(params, x, v)
    assert set(hv) == set(params)
    g, step = symgrad.grad(loss), 1e-6
    ahead, behind = g(*_moved((params,), (v,), step), x), g(*_moved((params,), (v,), -step), x)
    for k in params:
        np.testing.assert_allclose(hv[k], (ahead[k] - behind[k]) / (2 * step), rtol=1e-5, atol=1e-6)
    quad = _quadratic(np)
    xa, a = RNG.normal(size=3), RNG.normal(size=(3, 3))
    vx, va = RNG.normal(size=3), RNG.normal(size=(3, 3))
    hx, ha = symgrad.hvp(quad, argnums=(0, 1))(xa, a, (vx, va))
    gx = symgrad.grad(quad, argnums=(0, 1))
    ahead, behind = gx(xa + step * vx, a + step * va), gx(xa - step * vx, a - step * va)
    np.testing.assert_allclose(hx, (ahead[0] - behind[0]) / (2 * step), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ha, (ahead[1] - behind[1]) / (2 * step), rtol=1e-5, atol=1e-6)


def test_hvp_drives_scipy_newton_cg_and_trust_ncg():
    """As `hessp=`, it takes SciPy's Newton methods to the minimum along the same iterates as
    SciPy's own exact `rosen_hess_prod`."""
    optimize = pytest.importorskip("scipy.optimize")
    x0 = np.full(10, -1.0)
    for method in ("Newton-CG", "trust-ncg"):
        res = optimize.minimize(rosen, x0, jac=symgrad.grad(rosen), hessp=symgrad.hvp(rosen),
                                method=method, tol=1e-10)
        exact = optimize.minimize(rosen, x0, jac=symgrad.grad(rosen), hessp=optimize.rosen_hess_prod,
                                  method=method, tol=1e-10)
        assert res.success, res.message
        assert res.nit == exact.nit
        np.testing.assert_allclose(res.x, np.ones(10), atol=1e-10)


def _elements_computed(graph) -> int:
    """The values a graph's ops compute: a machine-independent measure of its work."""
    return sum(int(np.prod(node.shape)) for node in graph.nodes if node.op not in ("input", "const"))


def test_hvp_is_hessian_free_and_costs_about_two_gradients():
    n = 10_000
    x, v = RNG.uniform(-1, 1, size=n), RNG.normal(size=n)
    hvp, grad = symgrad.hvp(rosen), symgrad.grad(rosen)
    assert max(int(np.prod(node.shape)) for node in hvp.graph(x, v).nodes) <= n
    # counted, not timed (a timed unit test fails on a loaded machine): 1.75 gradients' work
    assert _elements_computed(hvp.graph(x, v)) <= 2 * _elements_computed(grad.graph(x))


# ---------------------------------------------------------------- bad input

def test_bad_tangents_name_the_argument():
    def f(x, params):
        return x * params["w"]
    x, params = np.ones(3), {"w": np.ones(3)}
    with pytest.raises(TypeError, match="tuples or lists"):
        symgrad.jvp(f, x, x)
    with pytest.raises(TypeError, match="2 primals and 1 tangents"):
        symgrad.jvp(f, (x, params), (x,))
    with pytest.raises(TypeError, match="'params'.*structure"):
        symgrad.jvp(f, (x, params), (x, (np.ones(3),)))
    with pytest.raises(ValueError, match="'x'.*shape \\(4,\\)"):
        symgrad.jvp(f, (x, params), (np.ones(4), params))
    with pytest.raises(TypeError, match="params.*w.*float32"):
        symgrad.jvp(f, (x, params), (x, {"w": np.ones(3, np.float32)}))
    with pytest.raises(ValueError, match="'x'"):
        symgrad.hvp(rosen)(np.ones(4), np.ones(5))
    with pytest.raises(TypeError, match="one per argnum"):
        symgrad.hvp(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, x, x)
    with pytest.raises(TypeError, match="scalar"):
        symgrad.hvp(np.sin)(x, x)
