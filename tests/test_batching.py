"""Batching rules: how `jacobian` and `hessian` run one reverse pass for every output at once.

Two kinds of check. Programs using each op with a rule of its own (matmul, indexing, item
assignment, broadcast_to) are differentiated with `symgrad.jacobian`/`hessian` and compared
with central differences or closed forms, and their Jacobian graph must hold no per-row
`cat` (the fallback when a rule declines). Then each rule is applied directly to a batch of
examples, as a Jacobian applies it to its cotangent, and compared with a loop over the
examples: this reaches the combinations that no VJP rule builds today (both operands
batched, a batched value written into a plain array, argmax of a batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import symgrad
from symgrad.autodiff.batching import Batched
from symgrad.ops import OPS, NotBatchable, ShapeError, apply, batching, defop
from symgrad.ops.index import index_of

STEP = 1e-6


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def fd_jacobian(f: Callable, args: Sequence[np.ndarray], argnum: int = 0) -> np.ndarray:
    """d f / d args[argnum], shaped out.shape + arg.shape, by central differences one input
    element (one column) at a time, in float64."""
    args = [np.asarray(a, dtype=np.float64) for a in args]
    x = args[argnum]
    out = np.asarray(f(*args))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        moved = []
        for sign in (1.0, -1.0):
            a = [v.copy() for v in args]
            a[argnum][idx] += sign * STEP
            moved.append(np.asarray(f(*a)))
        jac[(...,) + idx] = (moved[0] - moved[1]) / (2 * STEP)
    return jac


def fd_hessian(f: Callable, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The Hessian of scalar f by second-order central differences, shaped x.shape * 2."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            total = 0.0
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                y = x.copy().ravel()
                y[i] += si * h
                y[j] += sj * h
                total += si * sj * float(f(y.reshape(x.shape)))
            hess[i, j] = total / (4 * h * h)
    return hess.reshape(x.shape + x.shape)


def ops_of(transform: Callable, *args: np.ndarray, **kw) -> set[str]:
    """The ops of the unsimplified graph that `transform(f, passes=())` builds for args."""
    return {n.op for n in transform(passes=(), **kw).graph(*args).nodes}


def assert_one_pass(f: Callable, *args: np.ndarray, argnums=0, hessian: bool = False) -> None:
    """The Jacobian (or Hessian) of f ran the batching rules: one reverse pass for all rows,
    not one per row stacked with `cat`, which is what a rule that declines leads to."""
    make = symgrad.hessian if hessian else symgrad.jacobian
    assert "cat" not in ops_of(lambda **kw: make(f, argnums=argnums, **kw), *args)


def numeric(x) -> bool:
    """x is a NumPy value (a reference computation), not a traced one."""
    return isinstance(x, (np.ndarray, np.generic))


def assign(x, key, value):
    """x with x[key] = value, as a new value: what item assignment on a tensor records."""
    if numeric(x):
        out = x.copy()
        out[key] = value
        return out
    return x._setitem(value, *index_of(key, x))


# ---------------------------------------------------------------- matmul through jacobian

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((1, 3), (3, 1)),
    ((3,), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 2)),
]
SPELLINGS = {
    "operator": lambda x, y: x @ y,
    "np.matmul": np.matmul,
    "method": lambda x, y: x.__matmul__(y),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("xs, ys", MATMUL_SHAPES, ids=str)
def test_matmul_jacobian_matches_differences(spelling, xs, ys):
    """d tanh(x @ y) in both operands, for every rank pairing of NumPy's matmul."""
    mm = SPELLINGS[spelling]
    r = rng(len(xs) * 10 + len(ys))
    x, y = r.normal(size=xs), r.normal(size=ys)

    def f(x, y):
        return np.tanh(mm(x, y))

    jx, jy = symgrad.jacobian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jx, fd_jacobian(f, (x, y), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jy, fd_jacobian(f, (x, y), 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("xs, ys", [s for s in MATMUL_SHAPES if max(map(len, s)) <= 2], ids=str)
def test_matmul_jacobian_is_one_pass(xs, ys):
    """Matrix and vector operands batch without falling back to one pass per output row
    (stacks of matrices may: the rule declines those)."""
    r = rng(1)
    x, y = r.normal(size=xs), r.normal(size=ys)
    assert_one_pass(lambda x, y: np.sin(x @ y), x, y, argnums=(0, 1))


def test_dot_jacobian_closed_form():
    """d (x * (x . w)) / dx = diag(x . w) + outer(x, w): the dot's cotangent is a scalar per
    row, which must be lifted against the vector w rather than broadcast along it."""
    r = rng(2)
    x, w = r.normal(size=4), r.normal(size=4)
    for f in (lambda x, w: x * (x @ w), lambda x, w: x * np.dot(x, w), lambda x, w: (w @ x) * x):
        jac = symgrad.jacobian(f)(x, w)
        np.testing.assert_allclose(jac, np.diag(np.full(4, x @ w)) + np.outer(x, w), rtol=1e-12)
        assert_one_pass(f, x, w)


def test_quadratic_form_hessian():
    """The Hessian of x @ A @ x is A + A.T, and of (x @ A @ x)**2 the closed form below."""
    r = rng(3)
    a, x = r.normal(size=(4, 4)), r.normal(size=4)
    np.testing.assert_allclose(symgrad.hessian(lambda x: x @ a @ x)(x), a + a.T, rtol=1e-12)
    s, g = x @ a @ x, (a + a.T) @ x
    expected = 2 * np.outer(g, g) + 2 * s * (a + a.T)
    np.testing.assert_allclose(symgrad.hessian(lambda x: (x @ a @ x) ** 2)(x), expected, rtol=1e-10)
    assert_one_pass(lambda x: (x @ a @ x) ** 2, x, hessian=True)


@pytest.mark.parametrize("xs, ws", [((5, 3), (3, 2)), ((1, 3), (3, 2)), ((2, 4, 3), (3, 1)), ((3,), (3, 2))],
                         ids=str)
def test_matmul_hessian_of_a_batch(xs, ws):
    """A loss over a batch of inputs: its Hessian in the weights and in the inputs."""
    r = rng(4)
    x, w = r.normal(size=xs), r.normal(size=ws)

    def loss_w(w):
        return np.sum(np.tanh(x @ w) ** 2)

    def loss_x(x):
        return np.sum(np.tanh(x @ w) ** 2)

    np.testing.assert_allclose(symgrad.hessian(loss_w)(w), fd_hessian(loss_w, w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(symgrad.hessian(loss_x)(x), fd_hessian(loss_x, x), rtol=1e-5, atol=1e-6)


def test_matmul_of_a_scalar_is_a_shape_error():
    """NumPy's matmul refuses 0-D operands; so does the traced one, naming the shapes."""
    for f in (lambda x: x @ x.sum(), lambda x: x.sum() @ x):
        with pytest.raises(ShapeError, match=r"at least 1-D.*\(\)"):
            symgrad.jacobian(f)(np.ones(3))


# ---------------------------------------------------------------- indexing through jacobian

IDX = np.array([2, 0, 2])
KEYS = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "step": slice(None, None, 2),
    "array": IDX,
    "mask": np.array([True, False, True]),
    "newaxis": (None, slice(1, None)),
    "ellipsis": (Ellipsis, 0),
    "int, array": (1, np.array([0, 3])),
    "array, int": (IDX, 1),
    ":, array": (slice(None), np.array([3, 3, 0])),
    "rows, cols": (np.array([0, 2, 1]), np.array([3, 0, 3])),
    "2-d array": np.array([[0, 1], [2, 2]]),
    "2-d mask": np.array([[True, False, False, True]] * 3),
}
SEPARATED = {  # advanced indices split by a slice: NumPy moves their dims first
    "array, :, int": (IDX, slice(None), 1),
    "int, :, array": (0, slice(None), np.array([1, 1])),
}


def _x(shape=(3, 4)) -> np.ndarray:
    return rng(5).normal(size=shape)


@pytest.mark.parametrize("name", KEYS)
def test_getitem_jacobian(name):
    """d sin(x)[key] * x[key]: getitem's VJP is a scatter, batched over the rows."""
    key = KEYS[name]
    x = _x()

    def f(x):
        return np.sin(x)[key] * x[key]

    np.testing.assert_allclose(symgrad.jacobian(f)(x), fd_jacobian(f, (x,)), rtol=1e-6, atol=1e-9)
    assert_one_pass(f, x)


@pytest.mark.parametrize("name", KEYS)
def test_getitem_hessian_closed_form(name):
    """The Hessian of sum(x[key]**3) is diagonal: 6 x_i times the number of times x_i is read
    (repeated indices accumulate). It batches getitem and scatter_add alike."""
    key = KEYS[name]
    x = _x()
    counts = np.zeros_like(x)
    np.add.at(counts, key, 1.0)
    expected = np.diag((6 * counts * x).ravel()).reshape(x.shape * 2)

    def f(x):
        return (x[key] ** 3).sum()

    np.testing.assert_allclose(symgrad.hessian(f)(x), expected, rtol=1e-12, atol=1e-12)
    assert_one_pass(f, x, hessian=True)


@pytest.mark.parametrize("name", SEPARATED)
def test_separated_array_indices(name):
    """A leading batch slice would move NumPy's advanced dims; the rule declines and the
    Jacobian and Hessian are still right, one row at a time."""
    key = SEPARATED[name]
    x = _x((3, 2, 4))

    def f(x):
        return np.sin(x)[key] * x[key]

    np.testing.assert_allclose(symgrad.jacobian(f)(x), fd_jacobian(f, (x,)), rtol=1e-6, atol=1e-9)
    counts = np.zeros_like(x)
    np.add.at(counts, key, 1.0)
    expected = np.diag((6 * counts * x).ravel()).reshape(x.shape * 2)
    np.testing.assert_allclose(symgrad.hessian(lambda x: (x[key] ** 3).sum())(x), expected, atol=1e-12)


# ---------------------------------------------------------------- item assignment through jacobian

ASSIGNED = {
    "int": (1, lambda x: np.sin(x[1])),
    "slice": (slice(1, 3), lambda x: np.sin(x[0:2])),
    "array": (np.array([0, 2]), lambda x: np.exp(x[1])),
    "mask": (np.array([True, False, True]), lambda x: x[1] * x[0]),
    "column, scalar value": ((slice(None), 1), lambda x: np.sin(x[0, 0])),
    "int, array": ((0, np.array([3, 1])), lambda x: x[2, :2] ** 2),
    "rows, cols, constant": ((np.array([0, 2]), np.array([1, 3])), lambda x: 0.5),
}


@pytest.mark.parametrize("name", ASSIGNED)
def test_setitem_jacobian(name):
    """y = x**2; y[key] = v(x): the overwritten region gets v's derivative, the rest 2x."""
    key, value = ASSIGNED[name]
    x = _x()

    def f(x):
        return np.tanh(assign(x * x, key, value(x))) * x

    np.testing.assert_allclose(symgrad.jacobian(f)(x), fd_jacobian(f, (x,)), rtol=1e-6, atol=1e-9)
    assert_one_pass(f, x)


@pytest.mark.parametrize("name", ASSIGNED)
def test_setitem_hessian(name):
    key, value = ASSIGNED[name]
    x = _x()

    def f(x):
        return (np.sin(assign(x * x, key, value(x))) * x).sum()

    np.testing.assert_allclose(symgrad.hessian(f)(x), fd_hessian(f, x), rtol=1e-5, atol=1e-6)
    assert_one_pass(f, x, hessian=True)


# ---------------------------------------------------------------- broadcast_to through jacobian

@pytest.mark.parametrize("spelling", ["np.broadcast_to", "expand", "method"])
def test_broadcast_to_jacobian(spelling):
    x = _x((3, 1))
    spelled = {"np.broadcast_to": lambda x: np.broadcast_to(x, (2, 3, 4)),
               "expand": lambda x: x.expand(2, -1, 4),
               "method": lambda x: x.broadcast_to((2, 3, 4))}[spelling]

    def cast(x):
        return np.broadcast_to(x, (2, 3, 4)) if numeric(x) else spelled(x)

    def f(x):
        return np.sin(cast(x)) * cast(x ** 2).sum(0)

    np.testing.assert_allclose(symgrad.jacobian(f)(x), fd_jacobian(f, (x,)), rtol=1e-6, atol=1e-9)
    assert_one_pass(f, x)


# ---------------------------------------------------------------- each rule against a loop

def batched_call(fn: Callable, args: Sequence, batched: Sequence[bool]) -> np.ndarray:
    """fn applied to a batch of examples at once: the args marked `batched` carry a leading
    example axis that the ops do not see, so each op runs its batching rule, exactly as on a
    Jacobian's cotangent. Compiled, so the batched ops also go through codegen."""
    size = next(len(a) for a, b in zip(args, batched) if b)

    def traced(*values):
        return fn(*[Batched(v, size) if b else v for v, b in zip(values, batched)]).t
    return symgrad.compile(traced)(*args)


def looped(fn: Callable, args: Sequence, batched: Sequence[bool]) -> np.ndarray:
    """fn on one example at a time, in NumPy: what batched_call must equal."""
    size = next(len(a) for a, b in zip(args, batched) if b)
    return np.stack([np.asarray(fn(*[a[k] if b else a for a, b in zip(args, batched)]))
                     for k in range(size)])


def check_rule(fn: Callable, args: Sequence, batched: Sequence[bool], may_decline: bool = False) -> None:
    """The batched result equals the loop; a rule may raise NotBatchable only if allowed."""
    try:
        got = batched_call(fn, args, batched)
    except NotBatchable:
        if not may_decline:
            raise
        return
    want = looped(fn, args, batched)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got.dtype == want.dtype


B = 5  # examples in a batch: no shape below has a dim of 5, so a misplaced batch axis shows


@pytest.mark.parametrize("xs, ys", [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((1, 3), (3, 1)), ((3,), (3, 1)),
], ids=str)
@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)], ids=str)
def test_matmul_rule(xs, ys, batched):
    """Vectors and matrices batch on either side or both, and never decline."""
    r = rng(6)
    args = [r.normal(size=((B,) if b else ()) + s) for s, b in zip((xs, ys), batched)]
    check_rule(lambda x, y: x @ y, args, batched)


@pytest.mark.parametrize("xs, ys", [
    ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 3)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (2, 4, 1)),
], ids=str)
@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)], ids=str)
def test_matmul_rule_with_stacks(xs, ys, batched):
    """A stack of matrices in an example: the rule may decline, but never answers wrongly."""
    r = rng(7)
    args = [r.normal(size=((B,) if b else ()) + s) for s, b in zip((xs, ys), batched)]
    check_rule(lambda x, y: x @ y, args, batched, may_decline=True)


@pytest.mark.parametrize("xs, ys, batched", [
    ((B,), (2, 3), (True, False)), ((B, 3), (2, 3), (True, False)),
    ((B, 3), (B, 2, 3), (True, True)), ((B, 1, 3), (4, 1), (True, False)), ((2, 1), (B, 4), (False, True)),
    ((B, 2, 1), (B,), (True, True)), ((B, 2, 3), (3,), (True, False)),
], ids=str)
def test_elementwise_rule(xs, ys, batched):
    """Operands of different ranks: a batched one gets unit dims after its batch axis."""
    r = rng(8)
    x, y = r.normal(size=xs), r.normal(size=ys)
    shaped = [(s[1:] if b else s) for s, b in zip((xs, ys), batched)]
    for fn in (lambda x, y: x * y, lambda x, y: np.maximum(x, np.sin(y)) - y):
        check_rule(fn, (x, y), batched)
    mask = r.random(size=np.broadcast_shapes(*shaped)) < 0.5
    check_rule(lambda x, y: np.where(mask, x, y) if numeric(x) else symgrad.where(mask, x, y),
               (x, y), batched)


@pytest.fixture(scope="module")
def scaled():
    """A registered op with a param that batches as elementwise ops do: x * factor."""
    name = "test_batching_scaled"
    op = defop(name, "{x} * {factor}", shape=lambda x, *, factor: x, batch=batching.elementwise,
               dtype=lambda inputs, params: np.result_type(inputs[0]), methods=(), functions=(),
               vjps=(lambda ct, ans, x, *, factor: apply(op, ct, factor=factor),))
    yield lambda x, factor: apply(op, x, factor=factor)
    del OPS[name]


def test_elementwise_rule_keeps_params(scaled):
    """The op's params reach the batched application: the Jacobian of x * 3 is 3 I."""
    x = _x((2, 3))
    jac = symgrad.jacobian(lambda x: scaled(np.sin(x), factor=3.0))(x)
    np.testing.assert_allclose(jac, 3.0 * np.diag(np.cos(x).ravel()).reshape(2, 3, 2, 3), rtol=1e-12)
    check_rule(lambda x: -2.0 * x if numeric(x) else scaled(x, factor=-2.0),
               (rng(9).normal(size=(B, 3)),), (True,))


@pytest.mark.parametrize("key", [*KEYS.values(), (slice(None), None, Ellipsis)],
                         ids=[*KEYS, ":, None, ..."])
def test_getitem_rule(key):
    x = rng(10).normal(size=(B, 3, 4))
    check_rule(lambda x: x[key], (x,), (True,))


@pytest.mark.parametrize("key", SEPARATED.values(), ids=list(SEPARATED))
def test_getitem_rule_separated(key):
    x = rng(11).normal(size=(B, 3, 2, 4))
    check_rule(lambda x: x[key], (x,), (True,), may_decline=True)
    with pytest.raises(NotBatchable, match="separated"):
        batched_call(lambda x: x[key], (x,), (True,))


@pytest.mark.parametrize("x_batched", [True, False])
def test_index_arrays_must_not_be_batched(x_batched):
    """An index array with a batch axis would index every example with every row: refused,
    for getitem, its adjoint scatter_add and setitem alike."""
    x = rng(12).normal(size=((B,) if x_batched else ()) + (3, 4))
    idx = np.tile(np.array([[2, 0]]), (B, 1))
    cases = [
        lambda x, i: x[i],
        lambda x, i: x[:, i],
        lambda x, i: x._scatter((6, 4), (("arr", 0),), (i,)),
        lambda x, i: x._setitem(0.0, (("arr", 0),), (i,)),
        lambda x, i: x._setitem(0.0, (("slice", None, None, None), ("arr", 0)), (i,)),
    ]
    for fn in cases:
        with pytest.raises(NotBatchable, match="index arrays"):
            batched_call(fn, (x, idx), (x_batched, True))


@pytest.mark.parametrize("key, value_shape", [
    (1, (4,)), (1, ()), (slice(0, 2), (4,)), (slice(0, 2), (2, 1)), (np.array([2, 0]), (4,)),
    ((slice(None), np.array([3, 1])), (2,)), ((0, np.array([3, 1])), ()), ((np.array([0, 2]), 1), (2,)),
    (np.array([True, False, True]), (1, 4)),
], ids=str)
@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)], ids=str)
def test_setitem_rule(key, value_shape, batched):
    """x[key] = v with x, v or both batched; v broadcasts into the region as NumPy does."""
    r = rng(13)
    x = r.normal(size=((B,) if batched[0] else ()) + (3, 4))
    v = r.normal(size=((B,) if batched[1] else ()) + value_shape)
    check_rule(lambda x, v: assign(x, key, v), (x, v), batched)


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((), (4,)), ((1, 3), (2, 2, 3)), ((3, 1), (3, 4))],
                         ids=str)
def test_broadcast_to_rule(shape, target):
    x = rng(14).normal(size=(B,) + shape)
    check_rule(lambda x: np.broadcast_to(x, target), (x,), (True,))
    check_rule(lambda x: np.broadcast_to(x, target) if numeric(x) else x.expand(*target),
               (x,), (True,))


ARG = {
    "argmax(1)": (lambda x: x.argmax(1), lambda x: x.argmax(1)),
    "argmin(0)": (lambda x: x.argmin(0), lambda x: x.argmin(0)),
    "argmax(dim=0, keepdim)": (lambda x: x.argmax(dim=0, keepdim=True), lambda x: x.argmax(0, keepdims=True)),
    "np.argmin(axis=-1)": (lambda x: np.argmin(x, axis=-1), lambda x: np.argmin(x, axis=-1)),
    "np.argmax(axis=1, keepdims)": (lambda x: np.argmax(x, axis=1, keepdims=True),
                                    lambda x: np.argmax(x, axis=1, keepdims=True)),
}


@pytest.mark.parametrize("name", ARG)
def test_arg_rule(name):
    """argmax/argmin along an axis of each example is along the next axis of the batch."""
    traced, plain = ARG[name]
    x = rng(15).normal(size=(B, 3, 4))
    got = batched_call(traced, (x,), (True,))
    want = np.stack([plain(e) for e in x])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_arg_rule_of_flattened_declines():
    """argmax of a whole example is not one op on the batch: the rule declines."""
    x = rng(16).normal(size=(B, 3, 4))
    for fn in (lambda x: x.argmax(), lambda x: np.argmin(x)):
        with pytest.raises(NotBatchable, match="arg"):
            batched_call(fn, (x,), (True,))
