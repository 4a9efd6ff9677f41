"""The compiled functions' cache: one trace per signature (shapes, dtypes, structure, static values).

A compiled function keeps two caches: the signature of any call, and a faster key for calls whose
arguments are all ndarrays. A key that leaves out a dtype, a dimension, the pytree structure or a
static value makes a call silently reuse another signature's trace: results of the wrong dtype,
shape or value, with no error. So every call here checks the result's values and dtypes against a
closed form, and `cache_info()` against the number of distinct signatures seen so far (misses),
for each of `grad`, `value_and_grad`, `compile`, `jacobian` and `hessian`: dtypes of one shape in
turn, pytree arguments, Python floats, static arguments, shapes that differ in one dimension or in
rank, and a failing call between good ones.
"""

import logging

import numpy as np
import pytest

import symgrad
from symgrad.api import config

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-13),
       np.int64: dict(rtol=0, atol=0)}


def scalar_fn(x):
    return np.sum(np.sin(x) * x) + 0.5 * np.sum(x) ** 2


def vector_fn(x):
    return np.sin(x) * x + np.sum(x)


def integer_fn(x):
    return x * 3 + x * x - 1  # keeps an int64 input int64, as in NumPy


def _diagonal(d, shape):
    """An array of shape `shape + shape` with `d` (shaped `shape`) on its diagonal."""
    return np.diag(np.ravel(d)).reshape(shape + shape)


def _grad_of_scalar_fn(x):
    return np.cos(x) * x + np.sin(x) + np.sum(x)


# name -> (the transform, its closed form in float64)
TRANSFORMS = {
    "grad": (lambda: symgrad.grad(scalar_fn), _grad_of_scalar_fn),
    "value_and_grad": (lambda: symgrad.value_and_grad(scalar_fn),
                       lambda x: (scalar_fn(x), _grad_of_scalar_fn(x))),
    "compile": (lambda: symgrad.compile(integer_fn), integer_fn),
    "jacobian": (lambda: symgrad.jacobian(vector_fn),
                 lambda x: _diagonal(np.cos(x) * x + np.sin(x), x.shape) + 1.0),
    "hessian": (lambda: symgrad.hessian(scalar_fn),
                lambda x: _diagonal(2 * np.cos(x) - x * np.sin(x), x.shape) + 1.0),
}


def outputs(result):
    """A transform's result as a tuple of arrays."""
    return result if isinstance(result, tuple) else (result,)


def check_call(transform, reference, x, seen, calls):
    """Call `transform(x)`; check every output's dtype and values against `reference`, and the
    cache counts: one miss per distinct (shape, dtype) in `seen`, every other call a hit."""
    seen.add((x.shape, x.dtype))
    got = outputs(transform(x))
    want = outputs(reference(x.astype(np.float64)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == x.dtype, f"{x.dtype} input gave a {g.dtype} result"
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL[x.dtype.type])
    misses = len(seen)
    assert transform.cache_info() == (calls - misses, misses, 64, misses)


# ---------------------------------------------------------------- dtypes of one shape

@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_dtype_of_one_shape_gets_its_own_trace(name):
    make, reference = TRANSFORMS[name]
    transform = make()
    base = np.linspace(-2.0, 2.0, 5) if name != "compile" else np.arange(-2.0, 3.0)
    dtypes = [np.float32, np.float64, np.float32, np.float64]
    if name == "compile":
        dtypes += [np.int64, np.float32, np.int64]
    seen: set = set()
    for calls, dtype in enumerate(dtypes, 1):
        check_call(transform, reference, base.astype(dtype), seen, calls)
    assert "f32[5]" in transform.source(base.astype(np.float32))  # each trace is of its own dtype
    assert "f64[5]" in transform.source(base)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_shapes_that_differ_in_one_dimension_or_in_rank(name):
    make, reference = TRANSFORMS[name]
    transform = make()
    shapes = [(3, 4), (3, 5), (2, 4), (4, 3), (2, 6), (12,), (13,), (), (1, 12), (12, 1), (2, 3, 2),
              (2, 2, 3), (3, 4), (12,), ()]  # the same size in many shapes, then three seen before
    rng = np.random.default_rng(0)
    seen: set = set()
    for calls, shape in enumerate(shapes, 1):
        x = rng.uniform(-2, 2, shape) if name != "compile" else rng.integers(-5, 5, shape)
        check_call(transform, reference, np.asarray(x), seen, calls)
    assert transform.cache_info() == (3, 12, 64, 12)


def test_every_argument_is_part_of_the_key():
    # same first argument, a second argument of another shape or dtype
    outer = symgrad.compile(lambda x, y: x[:, None] * y)
    x = np.arange(3.0)
    for y in (np.ones(4), np.ones(5), np.ones(5, np.float32), np.ones(4)):
        got = outer(x, y)
        assert got.shape == (3, y.size) and got.dtype == np.result_type(x, y)
        np.testing.assert_array_equal(got, np.outer(x, y))
    assert outer.cache_info() == (1, 3, 64, 3)


# ---------------------------------------------------------------- pytrees, Python floats, statics

def tree_loss(params, x):
    """A loss of a pytree of parameters: {"w": (n,), "b": ()} or the pair (w, b)."""
    w, b = (params["w"], params["b"]) if isinstance(params, dict) else params
    return np.sum(np.tanh(w * x + b))


def tree_grads(w, b, x):
    """Closed-form gradients of `tree_loss` with respect to w and b, in float64."""
    w, b, x = (np.asarray(a, np.float64) for a in (w, b, x))
    s = 1 - np.tanh(w * x + b) ** 2
    return s * x, np.sum(s)


def test_pytree_arguments_of_several_dtypes():
    g = symgrad.grad(tree_loss)
    rng = np.random.default_rng(1)
    w, b, x = rng.standard_normal(4), rng.standard_normal(()), rng.standard_normal(4)
    for k, dtype in enumerate([np.float32, np.float64, np.float32, np.float64], 1):
        params = {"w": w.astype(dtype), "b": b.astype(dtype)}
        got = g(params, x.astype(dtype))
        assert set(got) == {"w", "b"}
        want_w, want_b = tree_grads(w, b, x)
        for key, want in (("w", want_w), ("b", want_b)):
            assert got[key].dtype == dtype and got[key].shape == params[key].shape
            np.testing.assert_allclose(got[key], want, **TOL[dtype])
        misses = min(k, 2)
        assert g.cache_info() == (k - misses, misses, 64, misses)


def test_pytree_structure_is_part_of_the_key():
    g = symgrad.grad(tree_loss)
    w, b, x = np.array([0.5, -1.0, 2.0]), np.array(0.25), np.array([1.0, 2.0, -1.0])
    want = tree_grads(w, b, x)
    as_tuple = g((w, b), x)
    as_list = g([w, b], x)  # the same leaves in another container: another trace
    as_dict = g({"w": w, "b": b}, x)
    assert type(as_tuple) is tuple and type(as_list) is list and type(as_dict) is dict
    for got in (as_tuple, as_list, (as_dict["w"], as_dict["b"])):
        for gi, wi in zip(got, want):
            np.testing.assert_allclose(gi, wi, rtol=1e-13)
    renamed = symgrad.grad(lambda p, x: np.sum(np.tanh(p["w"] * x + p[sorted(p)[0]])))
    first = renamed({"w": w, "b": b}, x)
    second = renamed({"w": w, "a": b}, x)  # one key renamed, shapes and dtypes unchanged
    assert set(first) == {"w", "b"} and set(second) == {"w", "a"}
    np.testing.assert_allclose(second["a"], want[1], rtol=1e-13)
    assert g.cache_info().misses == 3 and renamed.cache_info().misses == 2


def test_each_leaf_of_a_mixed_precision_pytree_gets_a_gradient_of_its_dtype():
    g = symgrad.grad(lambda p: np.sum(p["a"] * p["b"]))
    a, b = np.linspace(-1, 1, 3).astype(np.float32), np.array([0.5, 2.0, -1.0])
    got = g({"a": a, "b": b})
    ta = symgrad.tensor(a, requires_grad=True)
    tb = symgrad.tensor(b, dtype=symgrad.float64, requires_grad=True)
    (ta * tb).sum().backward()
    assert tb.grad.dtype == symgrad.float64  # eager mode: float64, as in PyTorch
    np.testing.assert_allclose(got["b"], a.astype(np.float64), rtol=1e-7)
    assert got["a"].dtype == np.float32 and got["b"].dtype == np.float64


def test_python_floats_are_traced_not_baked_in():
    g = symgrad.grad(lambda x, y: x * x * y, argnums=(0, 1))
    # a Python float is traced as a float64 0-d input (symgrad.trace's docstring), so it shares
    # the trace of 0-d float64 arrays; float32 scalars are another signature
    calls = [((1.5, 2.0), np.float64, 1), ((np.float32(1.5), np.float32(2.0)), np.float32, 2),
             ((0.5, 4.0), np.float64, 2), ((np.array(1.5), np.array(2.0)), np.float64, 2),
             ((np.float32(-3.0), np.float32(0.5)), np.float32, 2), ((-3.0, 0.5), np.float64, 2)]
    for k, ((x, y), dtype, misses) in enumerate(calls, 1):
        gx, gy = g(x, y)
        assert gx.shape == gy.shape == () and gx.dtype == gy.dtype == dtype
        assert (float(gx), float(gy)) == pytest.approx((2 * float(x) * float(y), float(x) ** 2))
        assert g.cache_info() == (k - misses, misses, 64, misses)
    scale = symgrad.compile(lambda x, s: x * s)
    x = np.arange(3.0)
    for s in (2.0, 3.0, -0.5):
        np.testing.assert_array_equal(scale(x, s), x * s)
    assert scale.cache_info() == (2, 1, 64, 1)


def steps(x, scale, n):
    """`n` times y -> tanh(y) * scale, summed: `scale` and `n` shape the trace."""
    for _ in range(n):
        x = np.tanh(x) * scale
    return np.sum(x)


def steps_grad(x, scale, n):
    """Closed-form gradient of `steps` with respect to x."""
    g, y = np.ones_like(x), x
    for _ in range(n):
        g, y = g * scale * (1 - np.tanh(y) ** 2), np.tanh(y) * scale
    return g


@pytest.mark.parametrize("kind", ["grad", "value_and_grad"])
def test_static_arguments_are_part_of_the_key(kind):
    transform = getattr(symgrad, kind)(steps, static_argnums=1)  # n is a Python int: static anyway
    x = np.linspace(-1, 1, 4)
    calls = [(x, 2.0, 1, 1), (x, 3.0, 1, 2), (x, 2.0, 2, 3), (x.astype(np.float32), 2.0, 1, 4),
             (x, 2.0, 1, 4), (x.astype(np.float32), 2.0, 1, 4), (x, 3.0, 2, 5), (x, 3.0, 1, 5)]
    for k, (arg, scale, n, misses) in enumerate(calls, 1):
        out = outputs(transform(arg, scale, n))
        grad = out[-1]
        assert grad.dtype == arg.dtype
        np.testing.assert_allclose(grad, steps_grad(x, scale, n), **TOL[arg.dtype.type])
        if kind == "value_and_grad":
            assert out[0].dtype == arg.dtype
            np.testing.assert_allclose(out[0], steps(x, scale, n), **TOL[arg.dtype.type])
        assert transform.cache_info() == (k - misses, misses, 64, misses)


def test_static_ints_inside_a_pytree_are_part_of_the_key():
    g = symgrad.grad(lambda x, cfg: steps(x, cfg["scale"], cfg["n"]))
    x = np.linspace(-1, 1, 4)
    for n, misses in ((1, 1), (2, 2), (1, 2), (3, 3)):
        np.testing.assert_allclose(g(x, {"scale": 1.5, "n": n}), steps_grad(x, 1.5, n), rtol=1e-13)
        assert g.cache_info().misses == misses


# ---------------------------------------------------------------- failures and switches

def test_a_bad_call_leaves_the_cache_working():
    f = symgrad.compile(lambda x, y: x @ y)
    good = (np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0]))
    np.testing.assert_array_equal(f(*good), good[0] @ good[1])
    for _ in range(2):  # a failed trace is not cached, as a failure or as anything else
        with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\) cannot be multiplied"):
            f(good[0], np.ones(4))
    with pytest.raises(TypeError, match="argument .y. is object, expected an array or a number"):
        f(good[0], object())
    assert f.cache_info() == (0, 1, 64, 1)
    np.testing.assert_array_equal(f(*good), good[0] @ good[1])
    other = (np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    got = f(*other)
    assert got.dtype == np.float32 and got.shape == (2, 2)
    np.testing.assert_array_equal(got, np.full((2, 2), 3.0))
    assert f.cache_info() == (1, 2, 64, 2)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_a_failing_trace_between_good_calls(name):
    make, reference = TRANSFORMS[name]
    transform = make()
    x = np.linspace(-1, 1, 3) if name != "compile" else np.arange(3)
    seen: set = set()
    check_call(transform, reference, x, seen, 1)
    with pytest.raises((TypeError, ValueError)):
        transform(np.array(["a", "b", "c"]))  # strings: no op accepts them
    with pytest.raises(TypeError):
        transform(x, x)  # one argument too many for the function
    check_call(transform, reference, x, seen, 2)
    check_call(transform, reference, x[:2], seen, 3)


def test_switching_debug_nans_does_not_reuse_the_unchecked_trace():
    f = symgrad.compile(lambda x: np.log(x) * 2.0)
    x = np.array([1.0, -1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(f(x)[1])
        symgrad.debug_nans(True)
        try:
            with pytest.raises(FloatingPointError, match="NaN"):
                f(x)
        finally:
            symgrad.debug_nans(False)
        assert np.isnan(f(x)[1])
    assert f.cache_info().misses == 2


def test_a_retrace_is_explained_against_the_nearest_signature(caplog):
    g = symgrad.grad(lambda x, s, t: np.sum(np.tanh(x) * s + t), static_argnums=(1, 2))
    x = np.linspace(-1, 1, 3)
    symgrad.explain_retraces(True)
    try:
        with caplog.at_level(logging.WARNING, logger="symgrad"):
            g(x.astype(np.float32), 2.0, 1.0)
            g(x, 5.0, 7.0)
            caplog.clear()
            g(x, 2.0, 1.0)  # one dtype from the first signature, two static values from the second
    finally:
        symgrad.explain_retraces(False)
    assert [r.getMessage() for r in caplog.records] == [
        "symgrad: retracing grad <lambda>: argument 'x' changed dtype float32 -> float64"]
    np.testing.assert_allclose(g(x, 2.0, 1.0), 2.0 * (1 - np.tanh(x) ** 2), rtol=1e-13)
    assert g.cache_info() == (1, 3, 64, 3)


# ---------------------------------------------------------------- a bounded cache (LRU)

def _sources_of(name):
    """The generated sources of functions called `name` still registered with linecache."""
    import linecache
    return [k for k in linecache.cache if k.startswith(f"<symgrad:{name}:")]


@pytest.mark.parametrize("name", ["grad", "value_and_grad", "compile", "jacobian", "hessian"])
def test_the_cache_keeps_the_most_recently_used_signatures(name):
    reference = TRANSFORMS[name][1]
    fn = {"compile": integer_fn, "jacobian": vector_fn}.get(name, scalar_fn)
    transform = getattr(symgrad, name)(fn, cache_size=2)
    a, b, c = np.linspace(-1, 1, 2), np.linspace(-1, 1, 3), np.linspace(-1, 1, 4)
    if name == "compile":
        a, b, c = np.arange(2), np.arange(3), np.arange(4)
    calls = [(a, 1, 0), (b, 2, 0), (a, 2, 1),  # a is used last: b is the least recently used
             (c, 3, 1),                         # so c evicts b, not a
             (a, 3, 2), (c, 3, 3), (b, 4, 3)]   # b is traced again, evicting a
    for x, misses, hits in calls:
        got = outputs(transform(x))
        want = outputs(reference(x.astype(np.float64)))
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
        assert transform.cache_info() == (hits, misses, 2, 2 if misses > 1 else 1)
    transform(a)
    assert transform.cache_info() == (3, 5, 2, 2)


def test_cache_size_comes_from_the_config_unless_given(monkeypatch):
    monkeypatch.setattr(config, "cache_size", 3)
    f = symgrad.compile(lambda x: x * 2.0)
    g = symgrad.compile(lambda x: x * 2.0, cache_size=5)
    for n in range(1, 9):
        np.testing.assert_array_equal(f(np.ones(n)), np.full(n, 2.0))
        g(np.ones(n))
    assert f.cache_info() == (0, 8, 3, 3) and g.cache_info() == (0, 8, 5, 5)
    monkeypatch.setattr(config, "cache_size", None)  # no bound
    h = symgrad.compile(lambda x: x * 2.0)
    for n in range(1, 9):
        h(np.ones(n))
    assert h.cache_info() == (0, 8, None, 8)
    with pytest.raises(ValueError, match="cache_size must be a positive int or None, got 0"):
        symgrad.grad(np.sum, cache_size=0)


def test_eviction_drops_the_callers_and_the_registered_source():
    """What an evicted signature held goes with it: its generated callers (the fast path's
    keys) and its source in `linecache`, so memory stays bounded over ever new shapes."""
    def many_shapes(d):
        return np.sum(np.tanh(d["a"]) * 3.0)
    g = symgrad.grad(many_shapes, cache_size=4)
    g({"a": np.ones(3), "b": np.ones(2)})
    g({"a": np.ones(1)})
    g({"b": np.ones(2), "a": np.ones(3)})  # the first signature, under a call key of its own
    assert g.cache_info() == (1, 2, 4, 2) and len(g._fast) == 3
    for n in range(2, 61):
        got = g({"a": np.full(n, 0.5)})["a"]
        np.testing.assert_allclose(got, np.full(n, 3 * (1 - np.tanh(0.5) ** 2)), rtol=1e-14)
        assert len(g._fast) <= 4 and len(_sources_of("grad_many_shapes")) <= 4
    assert g.cache_info() == (1, 61, 4, 4)
    assert not any("b" in key[0] for key in g._fast)  # both keys of the evicted signature went
    g({"a": np.full(60, 0.5)})  # the last one used is kept
    assert g.cache_info() == (2, 61, 4, 4)


def test_memory_stays_bounded_over_new_shapes():
    """Tracing 120 shapes with a cache of 8 holds no more than tracing the first 30 (each
    build is ~20 KB: an unbounded cache grows by ~1.8 MB between the two points)."""
    import gc
    import tracemalloc

    from symgrad.ops import core

    g = symgrad.grad(lambda x: (np.tanh(x) ** 2).sum(), cache_size=8)
    for n in range(1, 11):
        g(np.ones(n))
    tracemalloc.start()
    try:
        for n in range(11, 41):
            g(np.ones(n))
        core._BROADCAST_CACHE.clear()  # ops' own bounded memo (cleared past 100,000 shapes)
        gc.collect()
        at_30 = tracemalloc.get_traced_memory()[0]
        for n in range(41, 131):
            g(np.ones(n))
        core._BROADCAST_CACHE.clear()
        gc.collect()
        at_120 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert at_120 - at_30 < 100_000, (at_30, at_120)
