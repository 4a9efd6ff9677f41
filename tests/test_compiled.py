"""The compiled face: trace listings, passes, generated source, caching."""

import linecache
import traceback

import numpy as np
import pytest

import symgrad
from symgrad.simplify.passes import simplify

F = symgrad.nn.functional


def tutorial_loss(x, y, w, b):
    z = symgrad.matmul(x, w) + b
    return F.binary_cross_entropy_with_logits(z, y)


def tutorial_args(dtype=np.float64):
    rng = np.random.default_rng(0)
    return (np.ones(5, dtype), np.zeros(3, dtype), rng.standard_normal((5, 3)).astype(dtype),
            rng.standard_normal(3).astype(dtype))


def test_trace_prints_a_jaxpr_like_listing():
    traced = symgrad.trace(tutorial_loss, *tutorial_args(np.float32))
    assert str(traced.graph) == (
        "{ lambda x:f32[5] y:f32[3] w:f32[5,3] b:f32[3] . let\n"
        "    a:f32[3] = matmul x w\n"
        "    c:f32[3] = add a b\n"
        "    d:f32[3] = softplus c\n"
        "    e:f32[3] = mul y c\n"
        "    f:f32[3] = sub d e\n"
        "    g:f32[] = sum[axes=(0,) keepdims=False] f\n"
        "    h:f32[] = div g 3\n"
        "  in (h) }")


def test_graph_nodes_carry_op_params_shape_dtype():
    graph = symgrad.trace(lambda x: x.sum(0, keepdim=True), np.ones((2, 3))).graph
    (n,) = graph.ops()
    assert (n.op, dict(n.params), n.shape) == ("sum", {"axes": (0,), "keepdims": True}, (1, 3))
    assert n.dtype == np.float64
    assert graph.nx.nodes[n]["op"] == "sum"
    assert graph.nx.nodes[n]["params"] == {"axes": (0,), "keepdims": True}
    assert graph.nx.nodes[n]["shape"] == (1, 3)
    assert graph.nx.nodes[n]["dtype"] == np.float64
    assert "digraph" in graph.to_dot()


def test_tutorial_gradient_matches_closed_form_and_eager():
    x, y, w, b = tutorial_args()
    grad_w, grad_b = symgrad.grad(tutorial_loss, argnums=(2, 3))(x, y, w, b)
    z = x @ w + b
    expected_b = (1 / (1 + np.exp(-z)) - y) / 3
    np.testing.assert_allclose(grad_b, expected_b, rtol=1e-13)
    np.testing.assert_allclose(grad_w, np.outer(x, expected_b), rtol=1e-13)
    tw = symgrad.tensor(w, dtype=symgrad.float64, requires_grad=True)
    tb = symgrad.tensor(b, dtype=symgrad.float64, requires_grad=True)
    tutorial_loss(symgrad.tensor(x, dtype=symgrad.float64), symgrad.tensor(y, dtype=symgrad.float64),
                  tw, tb).backward()
    np.testing.assert_allclose(grad_w, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_b, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_value_and_grad_and_compile():
    args = tutorial_args()
    value, grad_b = symgrad.value_and_grad(tutorial_loss, argnums=3)(*args)
    z = args[0] @ args[2] + args[3]
    expected = np.mean(np.logaddexp(0, z) - args[1] * z)
    assert value.shape == () and value == pytest.approx(expected, rel=1e-14)
    assert grad_b.shape == (3,)
    assert symgrad.compile(tutorial_loss)(*args) == pytest.approx(expected, rel=1e-14)


def test_generated_source_is_deterministic_and_readable():
    args = tutorial_args(np.float32)
    first = symgrad.grad(tutorial_loss, argnums=(2, 3)).source(*args)
    second = symgrad.grad(tutorial_loss, argnums=(2, 3)).source(*args)
    assert first == second
    assert first.startswith("# symgrad gradient of tutorial_loss(x: f32[5], y: f32[3], w: f32[5,3], "
                            "b: f32[3]) with respect to w, b\n")
    assert "def grad_tutorial_loss(x, y, w, b):" in first
    assert "return (grad_w, grad_b)" in first
    body = [line for line in first.splitlines() if line.startswith("    ") and not line.startswith("    #")]
    assert all(line.count(" = ") == 1 for line in body[:-1])  # one statement a line
    assert len(body) <= 10


def test_cache_is_per_signature():
    calls = []

    def f(x):
        calls.append(x.shape)
        return (x * x).sum()

    g = symgrad.grad(f)
    np.testing.assert_allclose(g(np.arange(3.0)), 2 * np.arange(3.0))
    np.testing.assert_allclose(g(np.ones(3)), 2 * np.ones(3))
    assert len(calls) == 1
    g(np.ones(4))
    assert len(calls) == 2


def test_static_int_arguments_specialise_the_trace():
    def f(x, n):
        for _ in range(n):
            x = x.tanh()
        return x.sum()

    g = symgrad.grad(f)
    x = np.array([0.1, -0.4])
    expected = 1 - np.tanh(x) ** 2
    np.testing.assert_allclose(g(x, 1), expected, rtol=1e-14)
    t = np.tanh(x)
    np.testing.assert_allclose(g(x, 2), (1 - np.tanh(t) ** 2) * (1 - t ** 2), rtol=1e-14)
    with pytest.raises(TypeError, match="argument 'n' is a Python int, which is static"):
        symgrad.grad(f, argnums=1)(x, 2)


def test_unused_input_gets_a_zero_gradient():
    g = symgrad.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))
    gx, gy = g(np.ones(3), np.ones((2, 2)))
    np.testing.assert_array_equal(gx, 2 * np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros((2, 2)))


def test_gradients_agree_with_passes_off():
    args = tutorial_args()
    on = symgrad.grad(tutorial_loss, argnums=(2, 3))(*args)
    off = symgrad.grad(tutorial_loss, argnums=(2, 3), passes=())(*args)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_numpy_ufuncs_trace():
    g = symgrad.grad(lambda x: np.tanh(np.exp(x) * x).sum())
    x = np.array([0.3, -1.2, 2.0])
    u = np.exp(x) * x
    np.testing.assert_allclose(g(x), (1 - np.tanh(u) ** 2) * np.exp(x) * (1 + x), rtol=1e-13)


def test_control_flow_on_traced_values_names_the_line():
    def f(x):
        if x.sum() > 0:
            return x.sum()
        return -x.sum()

    with pytest.raises(symgrad.TracerError, match=r"bool\(\) on a traced value \(at .*test_compiled.py"):
        symgrad.grad(f)(np.ones(3))
    np.testing.assert_allclose(
        symgrad.grad(lambda x: symgrad.where(x > 0, x, -x).sum())(np.array([-2.0, 3.0])), [-1.0, 1.0])


def test_non_scalar_output_is_refused():
    with pytest.raises(TypeError, match="grad requires a scalar output, got shape \\(3,\\)"):
        symgrad.grad(lambda x: x * 2)(np.ones(3))


def test_traceback_shows_the_generated_line():
    g = symgrad.compile(lambda x, y: x @ y)
    with pytest.raises(ValueError) as info:
        g(np.ones((2, 3)), np.ones(4))
    # the shape error is caught at trace time, naming the op and both shapes
    assert "matmul: shapes (2, 3) and (4,) cannot be multiplied" in str(info.value)

    def boom(x):  # max, not sum: the division moves out of a sum (sum(x) / 0.0)
        return (x / 0.0).max()

    f = symgrad.compile(boom)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError) as info:
        f(np.ones(2))
    frames = traceback.extract_tb(info.tb)
    assert frames[-1].filename.startswith("<symgrad:boom:")
    assert frames[-1].line == linecache.getline(frames[-1].filename, frames[-1].lineno).strip()
    assert "x / 0.0" in frames[-1].line


def test_logsumexp_rewrite_keeps_large_logits_finite():
    x = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    out = symgrad.compile(lambda x: np.log(np.sum(np.exp(x), axis=1)))(x)
    np.testing.assert_allclose(out, [1000.0, 3.0 + np.log1p(np.exp(-1) + np.exp(-2))], rtol=1e-14)


def test_gradients_are_taken_of_the_stable_form():
    x = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    g = symgrad.grad(lambda x: np.log(np.sum(np.exp(x), axis=1)).sum())(x)
    softmax = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(g, softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-14)
    unstable = symgrad.grad(lambda x: np.log(np.sum(np.exp(x), axis=1)).sum(), passes=())
    with np.errstate(all="ignore"):
        assert np.isnan(unstable(x)).any()  # without the pass, exp(1000) overflows


def hand_log_softmax(z):
    m = np.max(z, axis=1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def hand_logsumexp(z, max_axis=1):
    m = np.max(z, axis=max_axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


@pytest.mark.parametrize("fn, cancels", [
    (hand_log_softmax, True),
    (hand_logsumexp, True),
    (lambda z: hand_logsumexp(z, max_axis=0), False),  # a shift that varies along the sum
])
def test_a_hand_written_max_shift_gets_no_gradient(fn, cancels):
    z = np.random.default_rng(3).standard_normal((4, 5))
    weights = np.arange(20.0).reshape(4, 5) / 20

    def loss(z):
        return np.sum(fn(z) * weights[:, :np.shape(fn(z))[1]])

    g = symgrad.grad(loss)
    assert ("where(" not in g.source(z)) == cancels  # no mask of where the max was
    t = symgrad.tensor(z, requires_grad=True)
    loss(t).backward()
    np.testing.assert_allclose(g(z), t.grad.numpy(), rtol=1e-13, atol=1e-15)
    symgrad.check_grads(loss, (z,), order=2)


def test_sums_of_broadcasts_become_scaled_values():
    graph = symgrad.trace(symgrad.grad(lambda x, c: np.sum(x * 2.0 + c), argnums=(0, 1)),
                          np.ones((3, 4)), np.ones((3, 1))).graph
    listing = str(simplify(graph))
    assert "sum" not in listing and "broadcast_to[shape=(3, 1)] 4.0" in listing
    c = np.arange(3.0).reshape(3, 1)
    graph = symgrad.trace(lambda c: np.sum(np.broadcast_to(c, (5, 3, 4)), axis=(0, 2)), c).graph
    listing = str(simplify(graph))
    assert "broadcast_to" not in listing and "mul" in listing and "20" in listing
    f = symgrad.compile(lambda c: np.sum(np.broadcast_to(c, (5, 3, 4)), axis=(0, 2)))
    np.testing.assert_array_equal(f(c), [0.0, 20.0, 40.0])


@pytest.mark.parametrize("kind, fn, argnums", [
    ("grad", lambda x, w: np.sum(np.tanh(x * 3.0) + w), 0),
    ("grad", lambda x, w: np.mean(x * w) + np.sum(x), (0, 1)),
    ("jacobian", lambda x, w: np.sin(x) * w, 0),
    ("hessian", lambda x, w: np.sum(x ** 3 * w), 0),
])
def test_float32_inputs_get_float32_gradients(kind, fn, argnums):
    # float32 in, float32 out: and the values are the float64 ones rounded, and eager mode's
    def eager(x, w):
        """The same derivatives in eager mode, by backward or one autograd.grad per row."""
        ts = [symgrad.tensor(a, requires_grad=True) for a in (x, w)]
        wrt = [ts[i] for i in ((argnums,) if isinstance(argnums, int) else argnums)]
        if kind == "grad":
            fn(*ts).backward()
            return tuple(t.grad.numpy() for t in wrt)
        out = fn(*ts) if kind == "jacobian" else symgrad.autograd.grad(fn(*ts), wrt, create_graph=True)[0]
        return (np.stack([symgrad.autograd.grad(out[i], wrt, retain_graph=True)[0].numpy()
                          for i in range(out.shape[0])]),)

    x, w = np.linspace(-1, 1, 4), np.linspace(0.5, 2.0, 4)
    transform = getattr(symgrad, kind)(fn, argnums=argnums)
    out = transform(x.astype(np.float32), w.astype(np.float32))
    out = out if isinstance(out, tuple) else (out,)
    want = transform(x, w)
    want = want if isinstance(want, tuple) else (want,)
    from_eager = eager(x.astype(np.float32), w.astype(np.float32))
    assert len(out) == len(want) == len(from_eager)
    for g, g64, e in zip(out, want, from_eager):
        assert g.dtype == np.float32 and g64.dtype == np.float64 and e.dtype == np.float32
        assert g.shape == g64.shape == e.shape
        np.testing.assert_allclose(g, g64, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("detour", [
    lambda z: z.astype(np.float64).max(axis=1, keepdims=True).astype(np.float32),
    lambda z: np.where(np.isfinite(z.max(1, keepdims=True)), z.max(1, keepdims=True),
                       np.int64(0)).astype(z.dtype),
    lambda z: (z.astype(np.float64) * 0.5).mean(axis=1, keepdims=True).astype(np.float32),
])
def test_a_float64_detour_stays_local_in_the_backward_pass(detour):
    """Each cotangent has its value's dtype (as in JAX): a float64 detour in a float32
    program (SciPy's log_softmax takes one) does not turn the matmuls behind it float64."""
    def loss(w, x):
        z = np.tanh(x @ w)
        s = z - detour(z)
        return np.sum(s * s)

    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    grad = symgrad.grad(loss)
    got = grad(w, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, symgrad.grad(loss, passes=())(w.astype(np.float64), x.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)
    for graph in (grad.graph(w, x), symgrad.grad(loss, passes=()).graph(w, x)):
        assert all(n.dtype == np.float32 for n in graph.nodes if n.op == "matmul"), str(graph)


def test_a_cast_depends_on_its_dtype_not_on_an_earlier_trace():
    x = np.linspace(0, 1, 6).reshape(2, 3) + 1e-9
    assert symgrad.compile(lambda x: x.astype("float32"))(x).dtype == np.float32
    graph = symgrad.trace(lambda x: x.astype("float64") * 3.0, x).graph
    assert all(n.dtype == np.float64 for n in graph.ops())


def test_results_never_share_memory_with_arguments_constants_or_each_other():
    y = np.arange(3.0)
    C = np.arange(6.0).reshape(2, 3)
    cases = [
        (symgrad.grad(lambda x, y: np.sum(x * y)), (np.ones(3), y)),           # the gradient is y
        (symgrad.grad(lambda x, y: np.sum(x.T * y)), (np.ones((3, 2)), C.copy())),  # a view of y
        (symgrad.grad(lambda x: np.sum(x * C)), (np.ones((2, 3)),)),            # a bound constant
        (symgrad.grad(lambda x, y: np.sum(x + y), argnums=(0, 1)), (np.ones(3), y)),  # equal results
        (symgrad.grad(lambda x: np.sum(x)), (np.ones(3),)),                     # a broadcast 1.0
        (symgrad.compile(lambda x: x), (y,)),
    ]
    for f, args in cases:
        outs = f(*args)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for k, out in enumerate(outs):
            assert out.flags.writeable
            assert not any(np.shares_memory(out, a) for a in args)
            assert not np.shares_memory(out, C)
            assert not any(np.shares_memory(out, other) for other in outs[:k])
    first = symgrad.grad(lambda x: np.sum(x * C))
    first(np.ones((2, 3)))[:] = 0  # changing a result in place leaves the next call alone
    np.testing.assert_array_equal(first(np.ones((2, 3))), C)


@pytest.mark.parametrize("shape, full", [((), (2, 3)), ((3,), (2, 3)), ((2, 1), (2, 3)),
                                         ((1, 3, 1), (4, 3, 2)), ((4, 1, 2), (4, 3, 2)), ((2,), (4, 3, 2))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_of_broadcast_rewrite_matches_numpy(shape, full, keepdims):
    x = np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape)
    for k in range(1, 2 ** len(full)):
        axes = tuple(a for a in range(len(full)) if k >> a & 1)
        def summed(x, axes=axes):
            return np.sum(np.broadcast_to(x, full), axis=axes, keepdims=keepdims)

        f = symgrad.compile(summed)
        want = summed(x)
        got = f(x)
        assert np.shape(got) == want.shape and np.allclose(got, want, rtol=1e-15)
        assert str(full) not in f.source(x)  # the broadcast is never materialised
