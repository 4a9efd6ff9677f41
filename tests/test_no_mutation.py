"""Inputs are never mutated: not by eager ops, not by compiled functions, buffer reuse included.

Every registered op (the widest case of its row in test_ops.py's table) runs eagerly, compiled
(`symgrad.compile`) and differentiated (`symgrad.grad` of a scalar reduction of it) on
read-only arrays and on non-contiguous views: the inputs must come out unchanged bit for bit,
nothing may complain that an array is read-only, and the results must be those on ordinary
arrays. Big elementwise chains reach the generated code's buffer reuse (`out=`) and blocked
loops; functions that write into their own arguments write into copies; every transform
leaves its primals, tangents and cotangents alone; every benchmark workload, in every
spelling, runs `grad` and `value_and_grad` (the Hessian for its Hessian) on read-only inputs.
Eager code (the autograd tutorial, an MLP step) runs on tensors that share memory with
read-only arrays (`from_numpy`, `as_tensor`), where an in-place op must raise, not write.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_ops import ROWS, Case, Row, cotangent_loss, inputs_for

import symgrad
from symgrad.ops import OPS

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks.workloads import SPELLINGS, WORKLOADS  # noqa: E402

# ---------------------------------------------------------------- helpers


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only copy of `a`: writing into it raises."""
    out = np.array(a)
    out.flags.writeable = False
    return out


def strided(a: np.ndarray) -> np.ndarray:
    """A non-contiguous (every other element of the last axis) view holding `a`'s values."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.copy()
    base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = base[..., ::2]
    view[...] = a
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def snapshot(arrays: Sequence[np.ndarray]) -> list[tuple[bytes, tuple[int, ...]]]:
    """Each array's bytes (through a view: the elements it shows) and shape."""
    return [(np.ascontiguousarray(a).tobytes(), a.shape) for a in arrays]


def assert_unchanged(arrays: Sequence[np.ndarray], before: list, who: str) -> None:
    for i, (a, (data, shape)) in enumerate(zip(arrays, before, strict=True)):
        assert a.shape == shape and np.ascontiguousarray(a).tobytes() == data, f"{who} changed input {i}"


def arrays_of(out: Any) -> list[np.ndarray]:
    """A result (an array, a tuple of them) as a list of arrays."""
    return [np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else (out,))]


def assert_same(got: Any, want: Any, who: str, exact: bool) -> None:
    got, want = arrays_of(got), arrays_of(want)
    assert len(got) == len(want), who
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{who}: {g.shape} {g.dtype} != {w.shape} {w.dtype}"
        if exact:
            assert g.tobytes() == w.tobytes(), f"{who}: results differ on read-only inputs"
        else:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=who)


# ---------------------------------------------------------------- 1. every op

def _widest(row: Row) -> Case:
    """The row's case with the most input elements: broadcasting and matrices, when it has them."""
    return max(row.cases, key=lambda c: (sum(int(np.prod(s)) for s in c.shapes), len(c.shapes)))


OP_CASES = [pytest.param(row, _widest(row), id=row.op) for row in ROWS]
LAYOUTS = {"read-only": read_only, "strided": strided}


def test_the_table_covers_every_registered_op() -> None:
    builtin = {n for n, op in OPS.items() if not op.helpers and not n.startswith("custom_vjp_")}
    assert builtin <= {row.op for row in ROWS}


def _eager(row: Row, case: Case, arrays: list[np.ndarray], ct: np.ndarray, wrt: tuple[int, ...]) -> list:
    """The op's value and its inputs' gradients on tensors sharing memory with `arrays`."""
    ts = [symgrad.from_numpy(a) for a in arrays]
    for i in wrt:
        ts[i].requires_grad_()
    out = row.fn(*ts, **case.params)
    value = out.detach().numpy().copy()
    if not wrt:
        return [value]
    (out * symgrad.tensor(ct)).sum().backward()
    return [value, *(ts[i].grad.numpy() for i in wrt)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("row, case", OP_CASES)
def test_op_leaves_its_inputs_alone(row: Row, case: Case, layout: str) -> None:
    arrays, ct = inputs_for(row, case)
    wrt = row.argnums(case)
    wrt = tuple(i for i in wrt if np.issubdtype(arrays[i].dtype, np.floating))
    fn = lambda *xs: row.fn(*xs, **case.params)  # noqa: E731
    compiled = symgrad.compile(fn)
    grad = symgrad.grad(cotangent_loss(row.fn, ct, **case.params), argnums=wrt) if wrt else None
    faces: dict[str, Callable[..., Any]] = {"eager": lambda *xs: _eager(row, case, list(xs), ct, wrt),
                                            "symgrad.compile": compiled}
    if grad is not None:
        faces["symgrad.grad"] = grad
    want = {face: f(*[a.copy() for a in arrays]) for face, f in faces.items()}
    inputs = [LAYOUTS[layout](a) for a in arrays]
    before = snapshot(inputs)
    for face, f in faces.items():
        got = f(*inputs)
        assert_unchanged(inputs, before, f"{row.op} ({face}, {layout})")
        assert_same(got, want[face], f"{row.op} ({face}, {layout})", exact=layout == "read-only")


# ---------------------------------------------------------------- 2. buffer reuse and blocked loops

UFUNC_OPS = sorted(n for n, op in OPS.items()
                   if op.ufunc is not None and op.elementwise and op.differentiable)


def _chain(name: str) -> Callable[..., Any]:
    """A chain of elementwise ops around `name` with dead temporaries of the inputs' shape:
    what the code generator writes into with `out=` and runs in blocks of rows."""
    op = OPS[name]
    ufunc = op.ufunc

    def f(x: Any, y: Any) -> Any:
        u = np.tanh(x * 0.5) + 0.25 * y
        v = ufunc(u + 1.5, *([y * 0.5 + 2.0] if len(op.args) == 2 else []))
        w = np.exp(-v * v) * x + v.T.T
        return np.sum(w * y + np.sin(w) * np.cos(w))  # big sin and cos of one array: one sincos call
    f.__name__ = f"chain_{name}"
    return f


@pytest.mark.parametrize("rows", [64, 512], ids=["reused-buffers", "blocked-loops"])
@pytest.mark.parametrize("name", UFUNC_OPS)
def test_generated_code_writes_only_into_its_own_buffers(name: str, rows: int) -> None:
    rng = np.random.default_rng(len(name))
    x, y = rng.uniform(0.1, 0.9, (rows, 256)), rng.uniform(0.1, 0.9, (rows, 256))
    fn = _chain(name)
    transforms = [lambda f: symgrad.value_and_grad(f, argnums=(0, 1))]
    if rows == 64:  # (the blocked loops' arrays take longer: the function and gradient at once)
        transforms += [symgrad.compile, lambda f: symgrad.grad(f, argnums=(0, 1))]
    with np.errstate(all="ignore"):
        for transform in transforms:
            compiled = transform(fn)
            want = compiled(x.copy(), y.copy())
            for layout in (read_only, strided):
                inputs = [layout(x), layout(y)]
                before = snapshot(inputs)
                got = compiled(*inputs)
                assert_unchanged(inputs, before, f"{compiled.kind} of {fn.__name__}")
                assert_same(_flat(got), _flat(want), f"{compiled.kind} of {fn.__name__}",
                            exact=layout is read_only)
    if rows == 512:
        assert " in range(0, 512, " in symgrad.grad(fn).source(x, y), "no blocked loop was generated"
    else:
        assert "out=" in symgrad.grad(fn).source(x, y), "no buffer was reused"


def _flat(out: Any) -> list[np.ndarray]:
    leaves, _ = symgrad.tracing.pytree.flatten(out)
    return [np.asarray(a) for a in leaves]


def _writes_by_index(x: Any) -> Any:
    x[0] = 0.5
    return np.sum(np.tanh(x) * x)


def _writes_augmented(x: Any) -> Any:
    x += 1.0
    x *= np.exp(-x)
    return np.sum(x * x)


def _writes_through_a_view(x: Any) -> Any:
    v = x.T
    v[1] = 3.0
    return np.sum(np.sin(x) * v.T)


@pytest.mark.parametrize("fn", [_writes_by_index, _writes_augmented, _writes_through_a_view],
                         ids=lambda f: f.__name__[1:])
@pytest.mark.parametrize("rows", [3, 64], ids=["small", "reused-buffers"])
def test_a_function_writing_into_its_argument_writes_into_a_copy(fn: Callable, rows: int) -> None:
    a = np.linspace(0.1, 1.2, rows * 256).reshape(rows, 256)
    want = fn(a.copy())  # NumPy: the write lands in that copy
    for transform in (symgrad.compile, symgrad.grad, symgrad.value_and_grad):
        compiled = transform(fn)
        for layout in (read_only, strided):
            x = layout(a)
            got = compiled(x)
            assert_unchanged([x], snapshot([a]), f"{compiled.kind} of {fn.__name__}")
            if transform is symgrad.compile:
                np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(RuntimeError, match="read-only"):  # eager: the tensor is the array
        fn(symgrad.from_numpy(read_only(a)))


def _field(x: Any, w: Any) -> Any:
    """A vector field of two arrays with big temporaries (64 x 128)."""
    h = np.tanh(x * w + 0.5)
    return np.exp(-h * h) * w + np.sin(x) * h


def _energy(x: Any, w: Any) -> Any:
    return np.sum(_field(x, w) * x)


SMALL = (4,)  # Jacobians and Hessians of small vectors: their size is the square of the input's
TRANSFORMS: dict[str, tuple[tuple[int, ...], Callable[[list[np.ndarray]], Any]]] = {
    "compile": ((64, 128), lambda a: symgrad.compile(_field)(*a[:2])),
    "grad": ((64, 128), lambda a: symgrad.grad(_energy, argnums=(0, 1))(*a[:2])),
    "value_and_grad": ((64, 128), lambda a: symgrad.value_and_grad(_energy, argnums=(0, 1))(*a[:2])),
    "elementwise_grad": ((64, 128), lambda a: symgrad.elementwise_grad(_field)(*a[:2])),
    "vjp": ((64, 128), lambda a: symgrad.vjp(_field, a[0], a[1])[1](a[2])),
    "jvp": ((64, 128), lambda a: symgrad.jvp(_field, (a[0], a[1]), (a[2], a[3]))),
    "linearize": ((64, 128), lambda a: symgrad.linearize(_field, a[0], a[1])[1](a[2], a[3])),
    "hvp": ((64, 128), lambda a: symgrad.hvp(_energy)(a[0], a[1], a[2])),
    "jacrev": (SMALL, lambda a: symgrad.jacrev(_field)(a[0], a[1])),
    "jacfwd": (SMALL, lambda a: symgrad.jacfwd(_field)(a[0], a[1])),
    "hessian": (SMALL, lambda a: symgrad.hessian(_energy)(a[0], a[1])),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_every_transform_leaves_its_arguments_alone(name: str) -> None:
    shape, call = TRANSFORMS[name]
    rng = np.random.default_rng(7)
    arrays = [rng.uniform(-1.0, 1.0, shape) for _ in range(4)]  # primals, then tangents or cotangents
    want = _flat(call([a.copy() for a in arrays]))
    for layout in (read_only, strided):
        inputs = [layout(a) for a in arrays]
        before = snapshot(inputs)
        got = _flat(call(inputs))
        assert_unchanged(inputs, before, f"{name} ({layout.__name__})")
        assert_same(got, want, f"{name} ({layout.__name__})", exact=layout is read_only)


# ---------------------------------------------------------------- 3. the benchmark workloads

ALL_WORKLOADS = {**WORKLOADS, **SPELLINGS}


@pytest.mark.parametrize("name", sorted(ALL_WORKLOADS))
def test_workload_gradients_leave_read_only_inputs_alone(name: str) -> None:
    w = ALL_WORKLOADS[name]
    inputs = w.inputs(small=True)
    argnums = w.argnums or w.wrt
    transforms = ([symgrad.hessian(w.fn)] if w.kind == "hessian" else
                  [symgrad.grad(w.fn, argnums=argnums), symgrad.value_and_grad(w.fn, argnums=argnums)])
    for compiled in transforms:
        want = _flat(compiled(*w.arguments(tuple(a.copy() for a in inputs))))
        frozen = tuple(read_only(a) for a in inputs)
        args = w.arguments(frozen)
        before = snapshot(frozen)
        got = _flat(compiled(*args))
        assert_unchanged(frozen, before, f"{compiled.kind} of {name}")
        assert_same(got, want, f"{compiled.kind} of {name}", exact=True)


# ---------------------------------------------------------------- 4. eager code on shared, read-only memory

CONSTRUCTORS = {"from_numpy": symgrad.from_numpy, "as_tensor": symgrad.as_tensor, "tensor": symgrad.tensor}


def _tutorial_loss() -> Callable[..., Any]:
    """`loss` of examples/autograd_tutorial.py: PyTorch's autograd tutorial, run on symgrad."""
    path = ROOT / "examples" / "autograd_tutorial.py"
    spec = importlib.util.spec_from_file_location("autograd_tutorial", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loss


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_eager_tutorial_on_read_only_arrays(make: str) -> None:
    """The tutorial's steps, its data and parameters given as read-only arrays: gradients
    accumulate, are zeroed and recomputed in symgrad's own buffers, never in the arrays."""
    loss = _tutorial_loss()
    arrays = [read_only(a) for a in WORKLOADS["tutorial"].inputs()]
    eye = read_only(np.eye(4, 5))
    before = snapshot([*arrays, eye])
    x, y, w, b = (CONSTRUCTORS[make](a) for a in arrays)
    w.requires_grad_()
    b.requires_grad_()
    loss(x, y, w, b).backward()
    want = WORKLOADS["tutorial"].hand(*arrays)
    np.testing.assert_allclose(w.grad.numpy(), want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), want[1], rtol=1e-5, atol=1e-6)
    assert not loss(x.detach(), y, w.detach(), b.detach()).requires_grad
    inp = CONSTRUCTORS[make](eye).requires_grad_()
    out = (inp + 1).pow(2).t()
    for twice in (1, 2):  # d/dinp sum((inp + 1)^2) = 2 (inp + 1), accumulated
        out.backward(symgrad.ones_like(out), retain_graph=True)
        np.testing.assert_array_equal(inp.grad.numpy(), twice * 2 * (eye + 1))
    inp.grad.zero_()
    out.backward(symgrad.ones_like(out), retain_graph=True)
    np.testing.assert_array_equal(inp.grad.numpy(), 2 * (eye + 1))
    assert_unchanged([*arrays, eye], before, f"the tutorial on {make}")


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_eager_mlp_step_on_read_only_data(make: str) -> None:
    rng = np.random.default_rng(0)
    data = read_only(rng.standard_normal((16, 8)).astype(np.float32))
    labels = read_only(rng.integers(0, 3, 16))
    weights = [read_only(rng.standard_normal(s).astype(np.float32) / 3)
               for s in ((8, 16), (16,), (16, 3), (3,))]
    before = snapshot([data, labels, *weights])
    x, t = CONSTRUCTORS[make](data), CONSTRUCTORS[make](labels)
    params = [symgrad.tensor(p, requires_grad=True) for p in weights]  # copies: the step updates them
    opt = symgrad.optim.SGD(params, lr=0.1)
    w1, b1, w2, b2 = params
    loss = symgrad.nn.functional.cross_entropy(symgrad.relu(x @ w1 + b1) @ w2 + b2, t)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert_unchanged([data, labels, *weights], before, f"an MLP step on {make}")
    assert not np.array_equal(params[0].detach().numpy(), weights[0]), "the step did not update w1"
    torch = pytest.importorskip("torch")
    tp = [torch.tensor(np.array(p), requires_grad=True) for p in weights]
    h = torch.relu(torch.tensor(np.array(data)) @ tp[0] + tp[1]) @ tp[2] + tp[3]
    torch.nn.functional.cross_entropy(h, torch.tensor(np.array(labels))).backward()
    for p, q, w0 in zip(params, tp, weights):
        np.testing.assert_allclose(p.detach().numpy(), w0 - 0.1 * q.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", ["from_numpy", "as_tensor"])
@pytest.mark.parametrize("inplace", ["add_", "mul_", "zero_", "setitem", "exp_", "clamp_"])
def test_in_place_op_on_shared_read_only_memory_raises(make: str, inplace: str) -> None:
    a = read_only(np.arange(6.0).reshape(2, 3))
    before = snapshot([a])
    t = CONSTRUCTORS[make](a)
    apply = {"add_": lambda: t.add_(1.0), "mul_": lambda: t.mul_(2.0), "zero_": lambda: t.zero_(),
             "setitem": lambda: t.__setitem__((0, 1), 5.0), "exp_": lambda: t.exp_(),
             "clamp_": lambda: t.clamp_(0.0, 1.0)}[inplace]
    with pytest.raises((RuntimeError, ValueError), match="read-only"):
        apply()
    assert_unchanged([a], before, f"{inplace} on {make}")
    np.testing.assert_array_equal(t.numpy(), a)  # the tensor still shows the array


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_optimizer_step_on_a_parameter_sharing_read_only_memory_raises(optimizer: str) -> None:
    a = read_only(np.linspace(-1.0, 1.0, 6))
    p = symgrad.from_numpy(a).requires_grad_()
    (p * p).sum().backward()
    with pytest.raises((RuntimeError, ValueError), match="read-only"):
        getattr(symgrad.optim, optimizer)([p], lr=0.1).step()
    np.testing.assert_array_equal(a, np.linspace(-1.0, 1.0, 6))


def test_in_place_op_on_a_copy_of_read_only_memory_writes_the_copy() -> None:
    a = read_only(np.arange(6.0))
    t = symgrad.tensor(a)  # torch.tensor copies: the copy is writeable
    t.add_(1.0)
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0) + 1)
    np.testing.assert_array_equal(a, np.arange(6.0))
