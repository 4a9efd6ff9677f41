"""The back end's speed features keep results exact: buffer reuse (`out=`) and loops over
blocks of big elementwise runs, checked against eager mode and against the unblocked code."""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.codegen import blocks, numpy_source

N = max(5 * blocks.BLOCK, blocks.MIN_SIZE) + 123  # big enough to block, and not a whole number of blocks


def chain(x):
    x2 = x * x
    return np.sum(np.sin(x) * np.exp(-x2) + np.tanh(x) / (1 + x2) + x * np.log1p(x2))


def broadcasting(X, b, c):
    z = np.tanh(X * b + c) * (1 / (1 + np.exp(-X)))
    return np.sum(np.where(X > 0, z, 0.1 * z) ** 2 + 2.0 * c)


def eager_grad(f, *args):
    ts = [symgrad.tensor(a, requires_grad=True) for a in args]
    f(*ts).backward()
    return [np.zeros_like(a) if t.grad is None else t.grad.numpy() for a, t in zip(args, ts)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_a_big_elementwise_gradient_runs_in_blocks_and_matches_eager(rng):
    x = rng.uniform(-2, 2, N)
    keep = x.copy()
    g = symgrad.grad(chain)
    source = g.source(x)
    assert f"for lo in range(0, {N}, {blocks.BLOCK}):" in source
    assert "x_blk = x[lo:hi]" in source
    out = g(x)
    np.testing.assert_allclose(out, eager_grad(chain, x)[0], rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(x, keep)  # the argument is read, never written
    again = g(x)
    assert again is not out and not np.shares_memory(again, out)
    np.testing.assert_array_equal(again, out)


def test_blocking_agrees_with_whole_array_code(rng, monkeypatch):
    x = rng.uniform(-2, 2, N)
    blocked = symgrad.grad(chain)(x)
    monkeypatch.setattr(blocks, "MIN_SIZE", 10 * N)
    whole = symgrad.grad(chain)
    assert "for lo in range" not in whole.source(x)
    np.testing.assert_allclose(blocked, whole(x), rtol=1e-15, atol=1e-15)


def test_rows_are_blocked_and_broadcast_operands_read_whole(rng):
    X = rng.standard_normal((700, 500))
    b = rng.standard_normal(500)
    c = rng.standard_normal((700, 1))
    g = symgrad.grad(broadcasting, argnums=(0, 1, 2))
    source = g.source(X, b, c)
    rows = blocks.BLOCK // 500
    assert f"for lo in range(0, 700, {rows}):" in source and "c_blk = c[lo:hi]" in source
    assert "b_blk" not in source  # a row vector broadcasts over every block
    for got, want in zip(g(X, b, c), eager_grad(broadcasting, X, b, c)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_block_outputs_read_inside_and_after_the_block(rng):
    def f(x):
        u = np.tanh(x) + 1
        return np.sum(u * u) + np.sum(u[::3]) + np.sum(np.sqrt(u))

    x = rng.uniform(-2, 2, N)
    value, grad = symgrad.value_and_grad(f)(x)
    want = eager_grad(f, x)[0]
    np.testing.assert_allclose(grad, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(value, f(x), rtol=1e-13)


def test_compiled_outputs_computed_in_blocks_are_whole_and_fresh(rng):
    def f(x):
        y = np.exp(np.sin(x))
        return y, y * y + x, y > 1.0

    x = rng.uniform(-2, 2, N)
    compiled = symgrad.compile(f)
    assert "for lo in range" in compiled.source(x)
    y, z, mask = compiled(x)
    np.testing.assert_allclose(y, np.exp(np.sin(x)), rtol=1e-15)
    np.testing.assert_allclose(z, y * y + x, rtol=1e-14, atol=1e-14)
    assert mask.dtype == np.bool_ and np.array_equal(mask, np.exp(np.sin(x)) > 1.0)
    assert not np.shares_memory(y, z)


def test_small_arrays_and_debug_nans_are_not_blocked(rng):
    small = rng.uniform(-2, 2, 1000)
    assert "for lo in range" not in symgrad.grad(chain).source(small)
    x = rng.uniform(-2, 2, N)
    symgrad.debug_nans(True)
    try:
        checked = symgrad.grad(chain)
        assert "for lo in range" not in checked.source(x)
        got = checked(x)
    finally:
        symgrad.debug_nans(False)
    np.testing.assert_allclose(got, symgrad.grad(chain)(x), rtol=1e-15)


def test_buffer_reuse_never_writes_into_arguments_or_returned_arrays(rng):
    def f(x, y):
        a = np.exp(x) * y
        b = np.sin(a) + a
        return b, np.cos(b) * a

    x, y = rng.standard_normal(5000), rng.standard_normal(5000)
    kx, ky = x.copy(), y.copy()
    compiled = symgrad.compile(f)
    assert "out=" in compiled.source(x, y)
    b, c = compiled(x, y)
    np.testing.assert_array_equal(x, kx)
    np.testing.assert_array_equal(y, ky)
    want_b, want_c = f(kx, ky)
    np.testing.assert_allclose(b, want_b, rtol=1e-15)
    np.testing.assert_allclose(c, want_c, rtol=1e-15)
    assert not np.shares_memory(b, c)


def ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.mark.parametrize("scale", [1e-300, 1e-5, 2.0, 100.0, 1e5, 5e5, 1e12])
def test_sincos_is_within_4_ulp_of_libm(rng, scale):
    from symgrad.ops.kernels import sincos

    x = rng.uniform(-scale, scale, 200_000)
    sin, cos = sincos(x)
    assert ulps(sin, np.sin(x)).max() <= 4 and ulps(cos, np.cos(x)).max() <= 4


def test_sincos_next_to_multiples_of_half_pi_and_at_special_values():
    from symgrad.ops.kernels import sincos

    k = np.arange(-200_000, 200_000) * (np.pi / 2)
    x = np.concatenate([k, np.nextafter(k, np.inf), np.nextafter(k, -np.inf)])
    sin, cos = sincos(x)  # relative accuracy where the result is near zero
    assert ulps(sin, np.sin(x)).max() <= 4 and ulps(cos, np.cos(x)).max() <= 4
    finite = np.array([1e-310, -1e-310, 2.0**19, -(2.0**19) * 1.5, 1e308])
    sin, cos = sincos(finite)
    assert ulps(sin, np.sin(finite)).max() <= 4 and ulps(cos, np.cos(finite)).max() <= 4
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    with np.errstate(invalid="ignore"):
        sin, cos = sincos(special)
    np.testing.assert_array_equal(sin, [0.0, -0.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(cos, [1.0, 1.0, np.nan, np.nan, np.nan])
    assert np.signbit(sin[1])


def test_sin_and_cos_of_one_value_are_computed_together(rng):
    def f(x):
        return np.sum(np.sin(x) ** 2 + x * np.cos(x))

    x = rng.uniform(-10, 10, N)
    for transform in (symgrad.grad(f), symgrad.value_and_grad(f)):
        assert "= sincos(" in transform.source(x)
    value, grad = symgrad.value_and_grad(f)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-13)
    np.testing.assert_allclose(grad, eager_grad(f, x)[0], rtol=1e-13, atol=1e-13)
    small = x[:100]
    assert "sincos" not in symgrad.grad(f).source(small)
    assert "sincos" not in symgrad.grad(f).source(x.astype(np.float32))


def test_a_sin_cos_pair_returned_whole():
    x = np.linspace(-7, 7, N)
    compiled = symgrad.compile(lambda x: (np.sin(x), np.cos(x), np.sin(x) * 2))
    assert "sincos(" in compiled.source(x)
    sin, cos, twice = compiled(x)
    np.testing.assert_allclose(sin, np.sin(x), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(cos, np.cos(x), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(twice, 2 * np.sin(x), rtol=1e-15, atol=1e-15)


def test_numpy_functions_are_bound_once_unless_a_name_is_taken():
    def f(x, sin):
        return np.sum(np.sin(x) * sin + np.abs(x))

    args = np.linspace(-1, 1, 3), np.ones(3)
    source = symgrad.compile(f).source(*args)
    assert "np.sin(x)" in source  # the argument `sin` keeps the name
    assert "np.abs(x)" in source  # a builtin's name is never shadowed
    source = symgrad.grad(f).source(*args)
    assert "from numpy import cos, sign\n" in source and " = cos(x)" in source
    np.testing.assert_allclose(symgrad.compile(f)(*args), f(*args), rtol=1e-15)


UNARY = {"tanh": np.tanh, "sin": np.sin, "cos": np.cos, "exp": lambda v: np.exp(np.tanh(v)),
         "log": lambda v: np.log(1.0 + v * v), "neg": lambda v: -v, "relu": lambda v: np.maximum(v, 0.0)}
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": lambda a, b: a / (1.5 + b * b),
          "where": lambda a, b: np.where(a > b, a, 2.0 * b)}


@st.composite
def programs(draw):
    """A random elementwise expression over inputs that broadcast against a (rows, cols) shape."""
    full = (draw(st.integers(20, 40)), draw(st.sampled_from([1, 3, 16])))
    nargs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from([full, full[1:], (full[0], 1), (1, full[1]), ()])) for _ in range(nargs)]
    shapes[0] = full

    def expression(depth):
        if depth == 0:
            return ("arg", draw(st.integers(0, nargs - 1)))
        if draw(st.booleans()):
            return (draw(st.sampled_from(sorted(UNARY))), expression(depth - 1))
        op = draw(st.sampled_from(sorted(BINARY)))
        return (op, expression(depth - 1), expression(draw(st.integers(0, 2))))

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return expression(draw(st.integers(2, 6))), [rng.uniform(-1.5, 1.5, s) for s in shapes]


def evaluate(tree, xs):
    if tree[0] == "arg":
        return xs[tree[1]]
    if tree[0] in UNARY:
        return UNARY[tree[0]](evaluate(tree[1], xs))
    return BINARY[tree[0]](evaluate(tree[1], xs), evaluate(tree[2], xs))


@settings(max_examples=60, deadline=None, report_multiple_bugs=False)
@given(programs())
def test_random_blocked_programs_match_eager(program):
    """With tiny thresholds, random programs run in blocks (and sin/cos pairs fuse)."""
    tree, inputs = program

    def loss(*xs):
        y = evaluate(tree, xs)
        return np.sum(y * y) + np.sum(np.cos(xs[0]) * y)

    with mock.patch.object(blocks, "MIN_SIZE", 16), mock.patch.object(blocks, "BLOCK", 8), \
            mock.patch.object(numpy_source, "SINCOS_MIN_SIZE", 16):
        f = symgrad.value_and_grad(loss, argnums=tuple(range(len(inputs))))
        value, grads = f(*inputs)
    want = eager_grad(loss, *inputs)
    np.testing.assert_allclose(value, loss(*inputs), rtol=1e-12, atol=1e-12)
    for got, w, x in zip(grads, want, inputs):
        assert got.shape == x.shape
        np.testing.assert_allclose(got, w, rtol=1e-11, atol=1e-11)


passthrough = symgrad.extend("test_codegen_passthrough", lambda x: x, [lambda ct, ans, x: ct])


def test_a_user_op_that_returns_its_input_keeps_that_buffer_alive():
    """A user's forward may hand back its input array itself: the buffer planner must count
    the result as sharing the input's buffer, or a later statement writes over it."""
    def f(x):
        a = np.exp(x) * 1.5  # a big temporary, read once more below through y
        y = passthrough(a)
        b = np.sin(x) * 2.0  # would take a's buffer, if a looked dead here
        c = np.cos(b) + b
        return y * c

    x = np.linspace(-1.0, 1.0, 1 << 17)
    np.testing.assert_allclose(symgrad.compile(f)(x), f(x), rtol=1e-15)
