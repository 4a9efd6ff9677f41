"""Blocked loops over big elementwise runs, for every way an operand can broadcast into them.

A run of elementwise statements on at least 2**17 elements is generated as a `for lo in range(...)`
loop over blocks of rows of axis 0. Each operand from outside the run is either sliced a block at a
time (when it has the run's rank and its full first axis) or read whole and broadcast against every
block. Getting that choice, the row count or the slice bounds wrong gives a crash or wrong rows only
for big arrays, which the small arrays of the op tests never reach. So each row here pairs a big
operand of rank 1, 2 or 3 with operands of every broadcasting kind: Python scalars and 0-d arrays,
a trailing-axes vector such as `X(400, 400) * b(400,)` (square, so its length equals the number of
rows), a column, the full shape, leading-unit shapes, and for rank 3 the mixes `(n, 1, 1)`,
`(1, m, k)` and `(m, k)`. Forward values are checked against NumPy, gradients against the same
function compiled with `passes=()` and against eager mode; every row asserts from `.source()` that
a blocked loop was generated, so a change of thresholds cannot silently turn a row into a test of
whole-array code.
"""

import math

import numpy as np
import pytest

import symgrad

LOOP = "for lo in range("  # how the generated source opens a blocked loop
MIN_SIZE = 2**17  # elements; codegen's threshold for blocking (asserted, not imported: the module is moving)

N1 = 163_963  # rank 1: whole blocks and a partial one
R2 = (400, 400)  # rank 2: square, so a (400,) operand is as long as axis 0; the last block partial
R3 = (48, 48, 64)  # rank 3: axes 0 and 1 equal, so an (m, k) operand has axis 0's length first

PY = "python float"  # an operand spec: a Python float argument, not an array

ROWS = [
    ((N1,), [PY]),
    ((N1,), [()]),
    ((N1,), [(1,)]),
    ((N1,), [(N1,)]),
    ((N1,), [PY, (1,), (N1,)]),
    ((MIN_SIZE,), [(MIN_SIZE,)]),  # exactly the threshold, a whole number of blocks
    (R2, [PY]),
    (R2, [()]),
    (R2, [(400,)]),
    (R2, [(400, 1)]),
    (R2, [R2]),
    (R2, [(1, 400)]),
    (R2, [(1, 1)]),
    (R2, [(400,), (400, 1), (1, 400), PY]),
    ((512, 256), [(256,), (512, 1)]),  # exactly the threshold
    (R3, [PY]),
    (R3, [()]),
    (R3, [(64,)]),
    (R3, [(48, 1, 1)]),
    (R3, [(1, 48, 64)]),
    (R3, [(48, 64)]),
    (R3, [R3]),
    (R3, [(48, 1, 64)]),
    (R3, [(1, 48, 1)]),
    (R3, [(48, 1, 1), (1, 48, 64), (48, 64), ()]),
]


def row_id(row):
    """`X(400,400)*(400,),py`: the big shape and the operands' shapes."""
    big, specs = row
    return "X" + str(big).replace(" ", "") + "*" + ",".join(
        "py" if s == PY else str(s).replace(" ", "") for s in specs)


def make_args(big, specs, seed):
    """X of the big shape and one operand per spec, from a seeded generator."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, big)
    operands = [float(rng.uniform(0.5, 1.5)) if s == PY else rng.uniform(0.5, 1.5, s) for s in specs]
    return (X, *operands)


def forward(X, *operands):
    """An elementwise run over X's shape that reads every operand, returning the result and an
    intermediate that the run also reads (a loop output written back from a block-sized value)."""
    u = X
    for a in operands:
        u = u * a + 0.25
    y = np.tanh(u) * np.exp(-X * X) + u / (1.0 + X * X)
    return y, u


def loss(X, *operands):
    """A scalar of the run, so the gradient is a blocked run of the same shape too."""
    y, u = forward(X, *operands)
    return np.sum(y * y) + np.sum(np.sin(u) * X)


def eager_grads_of(f, args):
    """Gradients of scalar `f` in eager mode, every argument (Python floats too) a float64 leaf."""
    ts = [symgrad.tensor(a, dtype=symgrad.float64, requires_grad=True) for a in args]
    f(*ts).backward()
    return [t.grad.numpy() for t in ts]


def assert_grads_close(got, want, args, rtol):
    """Each gradient matches in shape and value (atol scaled to the gradient's size: a reduced
    gradient sums ~10**5 terms, whose rounding depends on the order of summation)."""
    assert len(got) == len(want) == len(args)
    for g, w, a in zip(got, want, args):
        assert np.shape(g) == np.shape(a)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(w)))))


@pytest.mark.parametrize("row", ROWS, ids=[row_id(r) for r in ROWS])
def test_blocked_forward_matches_numpy(row):
    big, specs = row
    assert math.prod(big) >= MIN_SIZE  # the row is big enough to block at all
    args = make_args(big, specs, seed=1)
    compiled = symgrad.compile(forward)
    assert LOOP in compiled.source(*args)
    y, u = compiled(*args)
    want_y, want_u = forward(*args)
    assert y.shape == u.shape == big and y.dtype == u.dtype == np.float64
    np.testing.assert_allclose(u, want_u, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(y, want_y, rtol=1e-13, atol=1e-13)
    assert not np.shares_memory(y, u)


@pytest.mark.parametrize("row", ROWS, ids=[row_id(r) for r in ROWS])
def test_blocked_gradient_matches_unsimplified_and_eager(row):
    big, specs = row
    args = make_args(big, specs, seed=2)
    keep = [np.copy(a) for a in args]
    argnums = tuple(range(len(args)))
    g = symgrad.grad(loss, argnums=argnums)
    plain = symgrad.grad(loss, argnums=argnums, passes=())
    assert LOOP in g.source(*args) and LOOP in plain.source(*args)
    got = g(*args)
    assert_grads_close(got, plain(*args), args, rtol=1e-12)
    assert_grads_close(got, eager_grads_of(loss, args), args, rtol=1e-11)
    for a, k in zip(args, keep):  # blocks are written into fresh arrays, never into arguments
        np.testing.assert_array_equal(a, k)


def test_a_big_run_with_a_scalar_constant_and_a_row_vector_in_one_statement():
    """`X * b` with b as long as X's rows, spelled with a literal in the same expression: the
    bug class of slicing a 1-D operand by rows, in the shortest program that shows it."""
    rng = np.random.default_rng(3)
    X, b = rng.standard_normal(R2), rng.standard_normal(400)

    def f(X, b):
        return np.exp(-(X * b) ** 2) * 2.0

    compiled = symgrad.compile(f)
    assert LOOP in compiled.source(X, b)
    np.testing.assert_allclose(compiled(X, b), f(X, b), rtol=1e-14, atol=1e-14)
    gb = symgrad.grad(lambda X, b: np.sum(f(X, b)), argnums=1)(X, b)
    want = np.sum(-4.0 * (X * b) * X * np.exp(-(X * b) ** 2), axis=0)
    np.testing.assert_allclose(gb, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("other", [(400, 512), (160_000,), (20, 100, 80)],
                         ids=lambda s: str(s).replace(" ", ""))
def test_two_big_runs_of_different_shapes_are_separate_loops(other):
    """Each loop covers statements of one shape: a run that carried on into another big shape
    would slice and allocate that one by the first shape's rows."""
    rng = np.random.default_rng(4)
    X, Z = rng.uniform(-1.5, 1.5, R2), rng.uniform(-1.5, 1.5, other)

    def both(X, Z):  # no reduction between the two runs: they are adjacent in the program
        return np.tanh(X) * X + 1.0, np.exp(-Z * Z) * Z + 0.5

    def f(X, Z):
        u, v = both(X, Z)
        return np.sum(u) * np.sum(v)

    compiled = symgrad.compile(both)
    assert compiled.source(X, Z).count(LOOP) == 2
    for got, want in zip(compiled(X, Z), both(X, Z)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    g = symgrad.grad(f, argnums=(0, 1))
    assert g.source(X, Z).count(LOOP) >= 2
    assert_grads_close(g(X, Z), eager_grads_of(f, (X, Z)), (X, Z), rtol=1e-11)
