"""The call path, start-up and compile time (issue 11, points 4 and 5), checked by meaning.

Speed itself is shown by `python -m benchmarks.call_overhead`; here are the semantics the fast
paths must keep: a call keyed like an earlier one (`symgrad.api.callpath`) runs the same trace,
any new shape, dtype, structure or static value traces again, Python scalars are typed as
before, pytrees come back in their structure, threads share one cache. Start-up: `import
symgrad` leaves SymPy and networkx out, a first small gradient does not need SymPy, and the
SymPy pass runs where it can gain. Compile time: the block scheduler's order is the one its
rule defines, now found with heaps.
"""

import os
import subprocess
import sys
import threading
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest

import symgrad
from symgrad.api.callpath import MISS, call_key, caller
from symgrad.codegen import blocks
from symgrad.simplify.sympy_gain import may_gain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Layer = namedtuple("Layer", "w b")
RNG = np.random.default_rng(11)
X = RNG.standard_normal(3)
W = RNG.standard_normal((3, 2))
B = RNG.standard_normal(2)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def layer_loss(p, x):
    return np.sum(np.tanh(x @ p["l"][0].w + p["l"][0].b))


def layer_grads(x, w, b):
    """The closed form of layer_loss's gradients with respect to w and b."""
    g_b = 1 - np.tanh(x @ w + b) ** 2
    return np.outer(x, g_b), g_b


# ---------------------------------------------------------------- keys and retraces

def test_a_nested_pytree_comes_back_in_its_structure_on_every_call():
    g = symgrad.grad(layer_loss)
    for _ in range(3):
        out = g({"l": [Layer(W, B)], "skip": None}, X)
        assert type(out) is dict and list(out) == ["l", "skip"] and out["skip"] is None
        assert type(out["l"]) is list and type(out["l"][0]) is Layer
        gw, gb = layer_grads(X, W, B)
        close(out["l"][0].w, gw)
        close(out["l"][0].b, gb)
    assert g.cache_info() == (2, 1, 64, 1)


def test_new_shape_dtype_or_structure_traces_again():
    f = symgrad.compile(lambda p: p[0] * 2 + p[1])
    a, b = np.ones(3), np.arange(3.0)
    close(f((a, b)), a * 2 + b)
    close(f((a, b)), a * 2 + b)
    assert f.cache_info().misses == 1
    for args in [(np.ones(4), np.arange(4.0)),                       # shape
                 (np.ones(3, np.float32), np.arange(3, dtype=np.float32)),  # dtype
                 [a, b]]:                                              # list, not tuple
        out = f(args)
        close(out, args[0] * 2 + args[1])
        assert out.dtype == np.result_type(args[0], args[1])
    assert f.cache_info().misses == 4
    with pytest.raises(IndexError):
        f((a,))  # a one-element tuple: a new structure, traced (and failing), not a reuse


def test_dicts_with_their_keys_in_another_order_share_one_trace():
    g = symgrad.grad(lambda p: np.sum(p["w"] * 2.0) + np.sum(p["b"] ** 2))
    first = g({"w": W, "b": B})
    second = g({"b": B, "w": W})
    assert g.cache_info().misses == 1
    for out in (first, second):
        assert sorted(out) == ["b", "w"]
        close(out["w"], np.full_like(W, 2.0))
        close(out["b"], 2 * B)


def test_ordered_dicts_keep_their_order_and_type():
    g = symgrad.grad(lambda p: np.sum(p["z"] * p["a"]))
    p = OrderedDict([("z", np.ones(2)), ("a", np.arange(2.0))])
    for _ in range(2):
        out = g(p)
        assert type(out) is OrderedDict and list(out) == ["z", "a"]
        close(out["z"], p["a"])
        close(out["a"], p["z"])


def test_python_floats_are_float64_inputs_and_are_not_baked_in():
    g = symgrad.value_and_grad(lambda x, s: np.sum(x * s), argnums=(0, 1))
    x32 = np.ones(3, np.float32)
    for s in (2.0, 3.0, -1.5):
        value, (gx, gs) = g(x32, s)
        close(value, 3 * s)
        close(gx, np.full(3, s))
        close(gs, 3.0)
        assert gs.dtype == np.float64 and gs.shape == ()
    assert g.cache_info().misses == 1
    assert "s: f64[]" in g.source(x32, 2.0)


def test_numpy_scalars_keep_their_dtype():
    f = symgrad.compile(lambda x, s: x * s)
    out = f(np.ones(2, np.float32), np.float32(2))
    assert out.dtype == np.float32
    out = f(np.ones(2, np.float32), np.float64(2))
    assert out.dtype == np.float64
    out = f(np.ones(2, np.float32), np.float32(3))
    close(out, [3.0, 3.0])
    assert f.cache_info().misses == 2


def test_static_ints_and_bools_are_part_of_the_key_at_any_depth():
    f = symgrad.compile(lambda x, k: x * k["n"] + (1.0 if k["flag"] is True else 0.0))
    for n, flag in [(2, True), (3, True), (2, False), (2, True), (3, True)]:
        close(f(X, {"n": n, "flag": flag}), X * n + (1.0 if flag is True else 0.0))
    assert f.cache_info().misses == 3
    close(f(X, {"n": True, "flag": 1}), X * 1)  # True is not 1: another signature


def test_static_argnums_on_the_fast_path():
    f = symgrad.compile(lambda x, mode: np.sin(x) if mode == "sin" else np.cos(x), static_argnums=1)
    for mode in ["sin", "cos", "sin", "cos"]:
        close(f(X, mode), np.sin(X) if mode == "sin" else np.cos(X))
    assert f.cache_info().misses == 2
    with pytest.raises(TypeError, match="hashable"):
        f(X, ["sin"])


def test_alternating_signatures_each_get_their_own_results():
    g = symgrad.grad(lambda x: np.sum(x ** 3))
    xs = [np.arange(3.0), np.arange(4.0), np.arange(3, dtype=np.float32), (np.arange(2.0),)]
    g2 = symgrad.grad(lambda x: np.sum(x[0] ** 3) if isinstance(x, tuple) else np.sum(x ** 3))
    for _ in range(3):
        for x in xs[:3]:
            out = g(x)
            close(out, 3 * x ** 2)
            assert out.dtype == x.dtype and out.shape == x.shape
        out = g2(xs[3])
        assert type(out) is tuple
        close(out[0], 3 * xs[3][0] ** 2)
    assert g.cache_info().misses == 3


def test_other_values_take_the_full_path():
    g = symgrad.grad(lambda p: np.sum(p["w"] ** 2))
    d = defaultdict(list, w=np.arange(3.0))
    assert call_key((d,), (), False) is None
    close(g(d)["w"], 2 * np.arange(3.0))
    t = symgrad.tensor(np.arange(3.0))
    assert call_key((t,), (), False) is None
    close(symgrad.grad(lambda x: np.sum(x ** 2))(t), 2 * np.arange(3.0))
    assert call_key((1 + 2j,), (), False) is None


def test_a_caller_refuses_arguments_it_was_not_made_for():
    pair = ("seq", tuple, (("leaf",), ("leaf",)))
    call = caller(lambda a, b: (a + b, a - b), ({"x": X, "y": 2.0},), (), pair, debug_nans=False)
    s, d = call({"y": 2.0, "x": X})
    close(s, X + 2.0)
    close(d, X - 2.0)
    for args in [({"x": X},), ({"x": X, "y": 2},), ({"x": X, "z": 2.0},), ({"x": X[:2], "y": 2.0},),
                 ({"x": X.astype(np.float32), "y": 2.0},), ([X, 2.0],), ({"x": list(X), "y": 2.0},)]:
        assert call(*args) is MISS


def test_debug_nans_is_honoured_after_calls_took_the_fast_path():
    f = symgrad.compile(lambda p: np.log(p["x"]) * 2.0)
    p = {"x": np.array([1.0, -1.0])}
    with np.errstate(invalid="ignore"):
        f(p)
        f(p)
        symgrad.debug_nans(True)
        try:
            with pytest.raises(FloatingPointError, match="NaN"):
                f(p)
        finally:
            symgrad.debug_nans(False)
        assert np.isnan(f(p)[1])


def test_a_cached_signature_called_inside_another_trace_gives_the_same_values():
    inner = symgrad.compile(lambda p: p["a"] * 3.0)
    p = {"a": np.arange(3.0)}
    inner(p)

    def outer(x):
        return np.sum(x * inner(p))
    close(symgrad.grad(outer)(np.ones(3)), np.arange(3.0) * 3.0)
    close(symgrad.grad(lambda q: np.sum(inner(q)))({"a": np.ones(3)})["a"], np.full(3, 3.0))


def test_threads_calling_with_different_structures_share_the_cache():
    g = symgrad.grad(layer_loss)
    shapes = [(3, 2), (3, 4), (5, 2)]
    inputs = [({"l": [Layer(RNG.standard_normal(s), RNG.standard_normal(s[1]))]}, RNG.standard_normal(s[0]))
              for s in shapes for _ in range(3)]
    failures = []
    barrier = threading.Barrier(len(inputs))

    def work(p, x):
        barrier.wait()
        for _ in range(30):
            out = g(p, x)["l"][0]
            gw, gb = layer_grads(x, p["l"][0].w, p["l"][0].b)
            if not (np.allclose(out.w, gw) and np.allclose(out.b, gb)):
                failures.append((p, x))
    threads = [threading.Thread(target=work, args=a) for a in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert g.cache_info().misses == len(shapes)


def test_cache_clear_forgets_the_last_caller():
    f = symgrad.compile(lambda x: x + 1)
    f(X)
    f.cache_clear()
    close(f(X), X + 1)
    assert f.cache_info().misses == 1


# ---------------------------------------------------------------- start-up

def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_import_leaves_sympy_and_networkx_out_and_a_small_gradient_needs_neither():
    out = _python(
        "import sys, numpy as np, symgrad\n"
        "print(sorted(m for m in ('sympy', 'networkx', 'scipy') if m in sys.modules))\n"
        "g = symgrad.grad(lambda x: np.sum(np.sin(x) * x))\n"
        "print(g(np.ones(3)).round(6).tolist())\n"
        "print('sympy' in sys.modules, 'networkx' in sys.modules)\n"
        "symgrad.grad(lambda x: np.sum(x * x * 3 + 2 * x * x))(np.ones(3))\n"  # like terms: SymPy
        "print('sympy' in sys.modules)\n"
        "print(type(symgrad.trace(lambda x: x + 1, np.ones(2)).graph.nx).__name__)\n")
    lines = out.splitlines()
    assert lines[0] == "[]"
    assert lines[1] == str((np.cos(1.0) + np.sin(1.0)).round(6).repeat(3).tolist())
    assert lines[2:] == ["False False", "True", "DiGraph"]


def test_import_symgrad_as_torch_still_works_in_a_fresh_process():
    out = _python(
        "import symgrad as torch\n"
        "w = torch.randn(5, 3, requires_grad=True)\n"
        "loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.ones(5) @ w, torch.zeros(3))\n"
        "loss.backward()\n"
        "print(type(loss.grad_fn).__name__, tuple(w.grad.shape))\n")
    assert out.split() == ["BinaryCrossEntropyWithLogitsBackward0", "(5,", "3)"]


def _graph(fn, *args, wrt=True):
    g = symgrad.grad(fn, passes=("fold", "stability", "algebra")) if wrt else symgrad.compile(fn, passes=())
    return g.graph(*args)


@pytest.mark.parametrize("fn", [
    lambda x: np.sum(np.sin(x) * x),
    lambda x: np.sum(np.tanh(x) ** 2),
    lambda x: np.sum(np.sqrt(x) * np.tanh(x)),
    lambda x: np.mean((x - 1.0) ** 2),
    lambda x: np.sum(np.logaddexp(0, x) - x * 0.5),
])
def test_the_sympy_pass_is_skipped_where_it_has_nothing_to_gain(fn):
    graph = _graph(fn, np.ones(3))
    assert not may_gain(graph)
    stats = symgrad.grad(fn).build(np.ones(3)).stats
    assert [s.fired for s in stats if s.name == "sympy"] == [{"sympy: nothing to merge or share, skipped": 1}]


@pytest.mark.parametrize("fn, only_sympy", [
    (lambda x: x * x * 3 + 2 * x * x, True),           # like terms
    (lambda x: np.sin(x) * 3 + 2 * np.sin(x) + x, True),  # like terms: 5*sin(x)
    # terms, factors and powers that cancel: SymPy's form is kept out (nan at inf in NumPy)
    (lambda x: np.sin(x) - np.sin(x) + x, False),
    (lambda x: np.exp(x) * np.exp(x) / np.exp(x), False),
    (lambda x: x * np.power(x, -1.0), False),
    (lambda x: np.cos(-x) + np.sin(x), True),          # an even function of a negation
    (lambda x: x * (np.sin(x) * np.exp(x)) + (x * np.sin(x)) * np.cos(x), True),  # x*sin(x), shared
    (lambda x: (x * 2) * 3, False),                    # numbers gathered (the fold pass does it too)
    (lambda x: np.negative(-np.sin(x)), False),        # signs
    (lambda x: 0 - np.exp(x), False),                  # a zero
    (lambda x: x ** np.array([2.0, 3.0, 1.0, 0.5]) * x, False),  # an array exponent: x**(e + 1)
])
def test_the_sympy_pass_runs_where_it_can_gain(fn, only_sympy):
    x = np.linspace(0.5, 1.5, 4)
    assert may_gain(_graph(fn, x, wrt=False))
    f = symgrad.compile(fn)
    close(f(x), fn(x))
    if only_sympy:
        without = symgrad.compile(fn, passes=("fold", "stability", "algebra", "algebra", "dce"))
        assert len(list(f.graph(x).ops())) < len(list(without.graph(x).ops()))


# ---------------------------------------------------------------- compile time

def _schedule_by_scanning(graph, order):
    """The scheduler's rule, as it was written before the heaps: a scan of the ready list."""
    position = {n: k for k, n in enumerate(order)}
    waiting = {n: sum(1 for i in set(n.inputs) if i in position) for n in order}
    readers = {}
    for n in order:
        for i in set(n.inputs):
            if i in position:
                readers.setdefault(i, []).append(n)
    ready = [n for n in order if waiting[n] == 0]
    out = []
    while ready:
        shape = out[-1].shape if out and blocks._eligible(graph, out[-1]) else None
        n = min(ready, key=lambda m: (not (shape is not None and blocks._eligible(graph, m)
                                           and m.shape == shape), position[m]))
        ready.remove(n)
        out.append(n)
        for m in readers.get(n, ()):
            waiting[m] -= 1
            if waiting[m] == 0:
                ready.append(m)
    return out


def _two_big_chains(x, y):
    a, b = x, y
    for k in range(6):
        a = np.tanh(a) * 1.5 + b.sum() * 0.0 if k % 3 == 0 else np.sin(a) + k
        b = np.exp(-b * b) + a[:, :8].sum(axis=1, keepdims=True)
    return np.sum(a) + np.sum(b)


def test_the_block_schedule_is_the_one_its_rule_defines():
    x, y = np.ones((512, 512)), np.ones((512, 256))
    graph = symgrad.grad(_two_big_chains, argnums=(0, 1)).graph(x, y)
    order = [n for n in graph.nodes if n.op not in ("input", "const")]
    assert any(blocks._eligible(graph, n) for n in order)
    assert blocks.schedule(graph, order) == _schedule_by_scanning(graph, order)


def test_a_long_chain_compiles_and_runs():
    def chain(x):
        for _ in range(300):
            x = np.tanh(x) * 1.01 + 0.1
            x = np.sin(x)
        return np.sum(x)
    x = np.linspace(-1, 1, 5)
    eps = 1e-6
    numeric = [(chain(x + eps * e) - chain(x - eps * e)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(symgrad.grad(chain)(x), numeric, rtol=1e-6, atol=1e-9)
