"""The one-frame dispatch paths of eager ops, against the general path and PyTorch.

Elementwise ops on plain tensors of one dtype (and Python numbers) dispatch and record in
their method (`symgrad.eager.tensor._binary`, `_unary`), and ops with params through
positional forwards; every other operand takes `Tensor._apply`. These tests run each
spelling of an op on both paths and on torch: values, dtypes, `grad_fn` names and edges,
gradients (and central finite differences in float64), version checks, hooks,
`retain_grad`, `create_graph`, anomaly mode and errors."""

import operator
import warnings

import numpy as np
import pytest

import symgrad
from symgrad.eager.engine import OpNode2, _Shape
from symgrad.eager.tensor import Tensor
from symgrad.ops import OPS, apply

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A = RNG.uniform(1.0, 3.0, (3, 4))  # as ints, 1 to 2: no division by zero
B = RNG.uniform(1.0, 3.0, (3, 4))


def _both(data: np.ndarray, dtype: str = "float32", grad: bool = True) -> tuple:
    """The same values as a symgrad and a torch tensor (a float one requiring grad)."""
    data = np.asarray(data).astype(dtype)
    grad = grad and np.dtype(dtype).kind == "f"
    return (symgrad.tensor(data, requires_grad=grad),
            torch.tensor(data, requires_grad=grad))


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _same(got, want, dtype: str | None = None) -> None:
    got_np, want_np = _np(got), _np(want)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (got.dtype, want.dtype)
    assert got_np.shape == want_np.shape
    tol = 1e-6 if got_np.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got_np, want_np, rtol=tol, atol=tol)


# ---------------------------------------------------------------- binary spellings

SPELLINGS = {
    "x + y": lambda lib, x, y: x + y,
    "lib.add(x, y)": lambda lib, x, y: lib.add(x, y),
    "x.add(y)": lambda lib, x, y: x.add(y),
    "y.__radd__(x)": lambda lib, x, y: y.__radd__(x),
    "x - y": lambda lib, x, y: x - y,
    "x * y": lambda lib, x, y: x * y,
    "x.mul(y)": lambda lib, x, y: x.mul(y),
    "x.mul(other=y)": lambda lib, x, y: x.mul(other=y),
    "lib.mul(x, y)": lambda lib, x, y: lib.mul(x, y),
    "x / y": lambda lib, x, y: x / y,
    "lib.maximum(x, y)": lambda lib, x, y: lib.maximum(x, y),
    "lib.atan2(x, y)": lambda lib, x, y: lib.atan2(x, y),
}

NAMES = {spelling: next(n for n in ("add", "sub", "mul", "maximum", "atan2") if n in spelling)
         if any(n in spelling for n in ("add", "sub", "mul", "maximum", "atan2"))
         else {"+": "add", "-": "sub", "*": "mul", "/": "div"}[spelling[2]] for spelling in SPELLINGS}

# (x's dtype, y's dtype or a Python number's type, y's shape): one dtype, mixed dtypes,
# int with float, broadcasting, 0-d tensors
OPERANDS = [
    ("float32", "float32", (3, 4)),
    ("float64", "float64", (3, 4)),
    ("float32", "float64", (3, 4)),
    ("int64", "float32", (3, 4)),
    ("float32", "float32", (4,)),
    ("float32", "float32", (3, 1)),
    ("float32", "float32", ()),
    ("float64", "float32", ()),
    ("float32", float, ()),
    ("float32", int, ()),
    ("int32", float, ()),
    ("int32", int, ()),
]


def _operands(x_dtype: str, y_kind, y_shape: tuple) -> tuple:
    xs, xt = _both(A, x_dtype)
    if y_kind is float:
        return xs, xt, 0.75, 0.75
    if y_kind is int:
        return xs, xt, 2, 2
    ys, yt = _both(B[:y_shape[0], :1] if y_shape == (3, 1) else B[0] if y_shape == (4,)
                   else B[0, 0] if y_shape == () else B, y_kind)
    return xs, xt, ys, yt


def _general(op_name: str, x, y):
    """The op on the general path: `apply`, which goes through `Tensor._apply`."""
    return apply(OPS[op_name], x, y)


def _edges(node) -> tuple:
    """A node's edges: a leaf's accumulator itself, a node made in the call by its name and
    edges (the `x.reciprocal()` of `2.0 / x`)."""
    return tuple((n if n is None or type(n).__name__ == "AccumulateGrad" else (n.name(), _edges(n)), nr)
                 for n, nr in node.next_functions)


def _reference(spelling: str, x, y):
    """What `spelling` applies, on the general path: a reflected operator is PyTorch's
    (`y.__radd__(x)` is y + x; `2.0 - y` is rsub(y, 2.0), of one edge; `2.0 / y` is
    y.reciprocal() * 2.0), see `Op.reflected`."""
    name = NAMES[spelling]
    if spelling.startswith("y.__r"):
        x, y = y, x
    elif not isinstance(x, Tensor):  # `2.0 - y`: y.__rsub__(2.0)
        if name == "sub":
            return symgrad.rsub(y, x)
        if name == "div":
            return y.reciprocal() * x
        x, y = y, x
    return _general(name, x, y)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("operands", OPERANDS, ids=str)
def test_binary_spellings_match_torch(spelling, operands):
    """Value, dtype, grad_fn name, edges and gradients of each spelling, on either side."""
    fn = SPELLINGS[spelling]
    for swap in (False, True):
        xs, xt, ys, yt = _operands(*operands)
        if swap:
            xs, xt, ys, yt = ys, yt, xs, xt
        first = ys if spelling.startswith("y.") else xs
        if not isinstance(first, Tensor) and spelling not in ("x + y", "x - y", "x * y", "x / y"):
            continue  # methods and functions take a tensor first
        try:
            want = fn(torch, xt, yt)
        except TypeError:  # torch.maximum(x, 2.0): torch takes tensors only there
            continue
        got = fn(symgrad, xs, ys)
        _same(got, want)
        assert (got.grad_fn is None) == (want.grad_fn is None)
        if want.grad_fn is None:
            continue
        # the general path's name and edges, of the op PyTorch's spelling applies
        general = _reference(spelling, xs, ys)
        assert got.grad_fn.name() == general.grad_fn.name()
        assert _edges(got.grad_fn) == _edges(general.grad_fn)
        ct = np.linspace(-1, 1, want.numel()).reshape(want.shape)
        got.backward(symgrad.tensor(ct.astype(str(got.dtype))))
        want.backward(torch.tensor(ct.astype(str(got.dtype))))
        for s, t in ((xs, xt), (ys, yt)):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                _same(s.grad, t.grad)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "hypot"])
@pytest.mark.parametrize("operands", OPERANDS, ids=str)
def test_fast_and_general_paths_make_the_same_node(name, operands):
    """The method's node and the general path's: one class, the same edges, the same kept
    inputs (a tensor read, or the `_Shape` of one not read, or the number) and versions."""
    xs, _, ys, _ = _operands(*operands)
    method = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv}.get(name, getattr(symgrad, name, None))
    fast, general = method(xs, ys), _general(name, xs, ys)
    np.testing.assert_array_equal(fast.detach().numpy(), general.detach().numpy())
    assert fast.dtype == general.dtype
    a, b = fast.grad_fn, general.grad_fn
    assert type(a) is type(b)
    if a is None:
        return
    assert isinstance(a, OpNode2)
    for slot in ("_op", "_edge0", "_edge1", "_seen", "_seen1", "_nrs", "_ans_vc", "_stack"):
        assert getattr(a, slot) == getattr(b, slot), slot
    for slot in ("_kept0", "_kept1"):
        assert _kept(getattr(a, slot)) == _kept(getattr(b, slot)), slot
    assert (a._ans is None) == (b._ans is None)


def _kept(value):
    """What a node keeps of an input, comparable: a `_Shape` by its shape and dtype."""
    if type(value) is _Shape:
        return ("shape", value.shape, value.dtype)
    return ("tensor", id(value)) if isinstance(value, Tensor) else value


UNARY = ["exp", "log", "sin", "tanh", "sqrt", "neg", "abs", "expm1", "atan"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("shape", [(3, 4), ()])
def test_unary_methods_match_torch(name, dtype, shape):
    data = A if shape else A[0, 0]
    xs, xt = _both(data, dtype)
    for spell in (lambda lib, x: getattr(x, name)(), lambda lib, x: getattr(lib, name)(x)):
        got, want = spell(symgrad, xs), spell(torch, xt)
        _same(got, want)
        if want.grad_fn is not None:
            assert got.grad_fn.name() == want.grad_fn.name()
            got.sum().backward()
            want.sum().backward()
            _same(xs.grad, xt.grad)
            xs.grad = xt.grad = None
    assert -xs is not None and (-xs).dtype == xs.dtype


def test_a_non_float_unary_and_extra_arguments_take_the_general_path():
    x = symgrad.tensor([1, -2, 3])
    assert x.abs().tolist() == [1, 2, 3]
    assert x.exp().dtype == symgrad.float32  # an int promotes to the default dtype
    with pytest.raises(TypeError, match="exp"):
        symgrad.tensor([1.0]).exp(2.0)


def test_parameters_and_subclasses_take_the_general_path():
    w = symgrad.nn.Parameter(symgrad.tensor(A))
    wt = torch.nn.Parameter(torch.tensor(A))
    xs, xt = _both(B, "float64")
    for fn in (lambda x, w: x + w, lambda x, w: w * x, lambda x, w: w.exp(), lambda x, w: 2.0 / w):
        got, want = fn(xs, w), fn(xt, wt)
        _same(got, want)
        got.sum().backward()
        want.sum().backward()
    _same(w.grad, wt.grad)
    _same(xs.grad, xt.grad)


# ---------------------------------------------------------------- what recording must keep

def test_no_grad_records_nothing():
    xs, _ = _both(A)
    with symgrad.no_grad():
        out = (xs * xs + 1.0).exp()
    assert out.grad_fn is None and not out.requires_grad


def test_one_operand_without_grad_has_no_edge_and_gets_no_gradient():
    xs, xt = _both(A, "float64")
    cs, ct = _both(B, "float64", grad=False)
    for fn in (lambda x, c: x * c, lambda x, c: c * x, lambda x, c: c - x, lambda x, c: x / c):
        got, want = fn(xs, cs), fn(xt, ct)
        assert [e[0] is None for e in got.grad_fn.next_functions] == \
            [e[0] is None for e in want.grad_fn.next_functions]
        got.sum().backward()
        want.sum().backward()
        _same(xs.grad, xt.grad)
        assert cs.grad is None
        xs.grad = xt.grad = None


def test_writing_a_saved_input_in_place_then_backward_raises():
    """mul reads its inputs and exp its output: a write after recording bumps the version,
    and backward raises PyTorch's error; add reads neither, so it still runs."""
    for lib in (symgrad, torch):
        x = lib.tensor(A, requires_grad=True)
        h = x * 1.0
        out = h * x
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()
        e = x.exp()
        e.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            e.sum().backward()
        h = x * 1.0
        out = h + x
        h.add_(1.0)
        out.sum().backward()
        np.testing.assert_allclose(_np(x.grad), 2.0)


def test_hooks_retain_grad_and_multiple_backwards():
    got = {}
    for name, lib in (("symgrad", symgrad), ("torch", torch)):
        x = lib.tensor(A, requires_grad=True)
        y = lib.tensor(B, requires_grad=True)
        h = x * y
        h.register_hook(lambda g: g * 3.0)
        h.retain_grad()
        e = (h + 2.0).exp()
        e.retain_grad()
        e.sum().backward(retain_graph=True)
        e.sum().backward()
        got[name] = [_np(t) for t in (x.grad, y.grad, h.grad, e.grad)]
    for s, t in zip(got["symgrad"], got["torch"]):
        np.testing.assert_allclose(s, t, rtol=1e-12)


def test_an_input_that_is_not_output_0_of_its_node():
    """`_output_nr` of an autograd.Function's second output reaches the new node's edges."""
    got = {}
    for name, lib in (("symgrad", symgrad), ("torch", torch)):
        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2.0, x * 3.0

            @staticmethod
            def backward(ctx, ga, gb):
                return ga * 2.0 + gb * 3.0

        x = lib.tensor(A, requires_grad=True)
        a, b = Split.apply(x)
        out = (b * x + a).exp() + b.sin()
        assert [e[1] for e in (b * x).grad_fn.next_functions] == [1, 0]
        out.sum().backward()
        got[name] = _np(x.grad)
    np.testing.assert_allclose(got["symgrad"], got["torch"], rtol=1e-12)


def test_create_graph_gives_second_derivatives():
    for lib in (symgrad, torch):
        x = lib.tensor(A[0], requires_grad=True)
        y = (x * x * x + 2.0 * x).exp().sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        e = np.exp(A[0] ** 3 + 2 * A[0])
        d1 = 3 * A[0] ** 2 + 2
        np.testing.assert_allclose(_np(g), e * d1, rtol=1e-12)
        np.testing.assert_allclose(_np(h), e * (d1 * d1 + 6 * A[0]), rtol=1e-12)


def _chain(lib, x, y):
    return ((x * y + x).sin().exp().tanh() / (1.0 + y) - 2.0 * x).sum()


def test_the_chain_matches_central_differences_in_float64():
    xs = symgrad.tensor(A, requires_grad=True)
    ys = symgrad.tensor(B, requires_grad=True)
    _chain(symgrad, xs, ys).backward()
    eps = 1e-6
    for k, leaf in enumerate((xs, ys)):
        fd = np.zeros_like(A)
        for i in np.ndindex(A.shape):
            values = []
            for step in (eps, -eps):
                moved = [A.copy(), B.copy()]
                moved[k][i] += step
                values.append(_chain(symgrad, *map(symgrad.tensor, moved)).item())
            fd[i] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(leaf.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_anomaly_mode_keeps_the_forward_stack():
    """The node a one-frame method records keeps where the user's line made it."""
    x = symgrad.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(), symgrad.autograd.detect_anomaly():
        warnings.simplefilter("ignore")
        y = x.sqrt()  # the line named
        with pytest.raises(RuntimeError, match="SqrtBackward0") as err:
            (y * 0.0).sum().backward()
    assert "y = x.sqrt()  # the line named" in str(err.value)


def test_errors_are_the_general_paths():
    x = symgrad.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with pytest.raises(Exception, match="broadcast") as fast:
        x + symgrad.tensor(np.ones(4, np.float32))
    with pytest.raises(type(fast.value), match="broadcast"):
        _general("add", x, symgrad.tensor(np.ones(4, np.float32)))
    with pytest.raises(TypeError, match="str"):
        x + "a"
    with pytest.raises(TypeError, match="unexpected keyword argument 'y'"):
        x.mul(y=x)


# ---------------------------------------------------------------- ops with params

M3 = RNG.uniform(-1.0, 1.0, (2, 3, 4))

PARAM_SPELLINGS = {  # name -> (function of a 3-D tensor, what it exercises)
    "sum()": lambda x: x.sum(),
    "sum(1)": lambda x: x.sum(1),
    "sum(-1, True)": lambda x: x.sum(-1, True),
    "sum(dim=0)": lambda x: x.sum(dim=0),
    "sum((0, 2))": lambda x: x.sum((0, 2)),
    "lib.sum(x, 1)": lambda x: (symgrad if isinstance(x, Tensor) else torch).sum(x, 1),
    "reshape(6, 4)": lambda x: x.reshape(6, 4),
    "reshape((4, 6))": lambda x: x.reshape((4, 6)),
    "reshape(x.shape)": lambda x: x.reshape(x.shape),
    "reshape(-1)": lambda x: x.reshape(-1),
    "reshape(shape=(24,))": lambda x: x.reshape(shape=(24,)),
    "view(2, 12)": lambda x: x.view(2, 12),
    "view(-1, 4)": lambda x: x.view(-1, 4),
    "T of 2-D": lambda x: x[0].T,
    ".t()": lambda x: x[1].t(),
    "transpose(0, 2)": lambda x: x.transpose(0, 2),
    "transpose(-1, -2)": lambda x: x.transpose(-1, -2),
    "transpose(dim0=0, dim1=1)": lambda x: x.transpose(dim0=0, dim1=1),
    "unsqueeze(0)": lambda x: x.unsqueeze(0),
    "unsqueeze(-1)": lambda x: x.unsqueeze(-1),
    "unsqueeze(2)": lambda x: x.unsqueeze(2),
    "expand(3, 2, 3, 4)": lambda x: x.expand(3, 2, 3, 4),
    "expand(-1, 3, 4)": lambda x: x.expand(-1, 3, 4),
    "expand((2, 2, 3, 4))": lambda x: x.expand((2, 2, 3, 4)),
    "x[1]": lambda x: x[1],
    "x[-1]": lambda x: x[-1],
    "x[np.int64(1)]": lambda x: x[np.int64(1)],
    "x[1:3]": lambda x: x[1:3],
    "x[:1]": lambda x: x[:1],
    "x[::2]": lambda x: x[::2],
    "x[-2:]": lambda x: x[-2:],
    "x[np.int64(0):1]": lambda x: x[np.int64(0):1],
    "x[:, 1:3]": lambda x: x[:, 1:3],
    "x[-1, ::2, None]": lambda x: x[-1, ::2, None],
    "x[..., 0]": lambda x: x[..., 0],
    "x[[0, 1], 1]": lambda x: x[[0, 1], 1],
    "x @ w": lambda x: x @ x[0].transpose(0, 1),
}


@pytest.mark.parametrize("spelling", PARAM_SPELLINGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_params_spellings_match_torch(spelling, dtype):
    """Value, dtype, grad_fn name and gradient of each spelling of an op with params."""
    fn = PARAM_SPELLINGS[spelling]
    xs, xt = _both(M3, dtype)
    got, want = fn(xs), fn(xt)
    _same(got, want)
    assert got.grad_fn.name() == want.grad_fn.name()
    ct = np.linspace(-1, 1, want.numel()).reshape(tuple(want.shape)).astype(dtype)
    got.backward(symgrad.tensor(ct))
    want.backward(torch.tensor(ct))
    _same(xs.grad, xt.grad)
    with symgrad.no_grad():
        assert fn(xs).grad_fn is None


@pytest.mark.parametrize("spelling", PARAM_SPELLINGS)
def test_params_spellings_on_the_general_path_agree(spelling):
    """A Parameter takes the registered methods: the same values, names and gradients."""
    fn = PARAM_SPELLINGS[spelling]
    xs = symgrad.tensor(M3, requires_grad=True)
    ps = symgrad.nn.Parameter(symgrad.tensor(M3))
    got, general = fn(xs), fn(ps)
    np.testing.assert_array_equal(got.detach().numpy(), general.detach().numpy())
    assert got.grad_fn.name() == general.grad_fn.name()
    assert got.grad_fn._params == general.grad_fn._params
    got.sum().backward()
    general.sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), ps.grad.numpy())


def test_views_share_the_version_counter_and_write_through():
    """A view made on the fast path shares its base's counter: a write to either is seen
    by a backward that saved the other, and a write into the view reaches the base."""
    for lib in (symgrad, torch):
        x = lib.tensor(M3, requires_grad=True)
        h = x * 1.0
        v = h.transpose(0, 2)
        out = v.exp()  # saves its output, a new tensor
        r = h.reshape(6, 4)
        saved = (r * r).sum()  # saves r, a view of h
        v[0, 0, 0] = 5.0  # writes h's memory through v
        assert h.detach()[0, 0, 0].item() == 5.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            saved.backward()
        out.sum().backward()
    s = symgrad.tensor(M3)
    assert s[1]._version_counter is s.T._version_counter is s._version_counter


def test_shape_errors_are_the_registered_methods():
    x = symgrad.tensor(M3, requires_grad=True)
    with pytest.raises(Exception, match="reshape|shape"):
        x.reshape(5, 5)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.unsqueeze(4)
    with pytest.raises(RuntimeError, match="t\\(\\) expects"):
        x.t()
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(TypeError):
        x.reshape(2.0, 12)


# ---------------------------------------------------------------- composites' keyword arguments

def _signature_bind_cases():
    def f(input, target, weight=None, ignore_index=-100, *, reduction="mean"):
        return None
    calls = [((1,), {"target": 2}), ((1, 2), {"reduction": "sum"}), ((1, 2), {"ignore_index": 4}),
             ((1,), {"target": 2, "weight": 3, "ignore_index": 4, "reduction": 5}), ((1, 2, 3, 4), {}),
             ((1, 2), {"weight": 3, "reduction": "sum"}), ((), {"input": 1, "target": 2})]
    return f, calls


def test_keywords_move_to_their_positions_as_signature_bind_has_them():
    import inspect

    from symgrad.ops.dispatch import _by_position
    f, calls = _signature_bind_cases()
    sig = inspect.signature(f)
    names = [p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    for args, kwargs in calls:
        bound = sig.bind(*args, **kwargs)
        assert _by_position(names, args, kwargs) == (tuple(bound.args), dict(bound.kwargs))


def test_a_composite_called_with_keywords_is_the_positional_call():
    z = np.cos(np.arange(12.0)).reshape(4, 3)
    labels = np.array([0, 2, 1, 2])
    results = []
    for call in (lambda F, z, y: F.cross_entropy(z, y, None, -100, "sum"),
                 lambda F, z, y: F.cross_entropy(z, target=y, reduction="sum"),
                 lambda F, z, y: F.cross_entropy(input=z, target=y, reduction="sum", ignore_index=-100)):
        for _ in range(4):  # fused from the third call of a signature
            x = symgrad.tensor(z, requires_grad=True)
            loss = call(symgrad.nn.functional, x, symgrad.tensor(labels))
            loss.backward()
        results.append((loss.item(), x.grad.numpy(), type(loss.grad_fn).__name__))
    t = torch.tensor(z, requires_grad=True)
    want = torch.nn.functional.cross_entropy(t, torch.tensor(labels), reduction="sum")
    want.backward()
    for value, grad, name in results:
        assert value == pytest.approx(want.item(), rel=1e-12) and name == type(want.grad_fn).__name__
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="cross_entropy.*unexpected keyword argument 'reductio'"):
        symgrad.nn.functional.cross_entropy(symgrad.tensor(z), target=symgrad.tensor(labels), reductio="sum")
