"""The eager common path: dtype promotion's fast path, integer powers as products, and
`__slots__` on every object made per op call.

The fast path in `Tensor._apply` skips lifting and promotion for tensors of one dtype and
Python numbers; these tests check it against the general path (`_general`) and PyTorch's
result dtypes on a grid of dtypes and operand kinds."""

import operator

import numpy as np
import pytest

import symgrad
from symgrad.eager import tensor as tensor_module
from symgrad.eager.engine import Node
from symgrad.ops import OPS

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
NUMBERS = [3, 2.5, True, np.float64(2.5), np.float32(2.5), np.int64(3), np.bool_(True)]


def _values(dtype: str) -> list:
    return [True, False, True] if dtype == "bool" else [1, 2, 3]


def _pair(dtype: str, ndim: int) -> tuple:
    """The same values as a symgrad tensor and a torch tensor, of `ndim` 1 or 0."""
    values = _values(dtype) if ndim else _values(dtype)[0]
    return symgrad.tensor(values, dtype=np.dtype(dtype)), torch.tensor(values, dtype=getattr(torch, dtype))


def _torch_dtype_name(t: "torch.Tensor") -> str:
    return str(t.dtype).removeprefix("torch.")


def _general(op_name: str, args: tuple) -> np.ndarray:
    """The op on the general path: lifted, promoted by `result_type`, then run. A Python
    number over a tensor is PyTorch's `x.reciprocal() * number` (`Op.reflected`); a NumPy
    scalar's operator is NumPy's ufunc, the op itself."""
    if op_name == "div" and type(args[0]) in (int, float, bool):
        op = OPS["div"]
        reciprocal = np.asarray(op.forward(*tensor_module._general(op, (1.0, args[1]))[1]))
        return _general("mul", (tensor_module.Tensor._make(reciprocal), args[0]))
    op = OPS[op_name]
    _, datas, _ = tensor_module._general(op, args)
    return np.asarray(op.forward(*datas))


def _operands(dtype: str) -> list[tuple]:
    """(symgrad operand, torch operand) of every kind: tensors and 0-d tensors of each dtype,
    Python numbers and NumPy scalars."""
    out = []
    for other in DTYPES:
        out += [_pair(other, 1), _pair(other, 0)]
    return out + [(n, n) for n in NUMBERS]


OPERATORS = {"add": operator.add, "mul": operator.mul, "div": operator.truediv, "sub": operator.sub}


@pytest.mark.parametrize(("op", "dtype"), [(op, dt) for op in OPERATORS for dt in DTYPES
                                           if (op, dt) != ("sub", "bool")])
def test_result_dtype_matches_torch_and_the_general_path(op, dtype):
    """x <op> y for every kind of y on either side: the dtype is PyTorch's, and the fast
    path's result is the general path's, dtype and values."""
    fn = OPERATORS[op]
    ours_x, theirs_x = _pair(dtype, 1)
    checked = 0
    for ours_y, theirs_y in _operands(dtype):
        pairs = (((ours_x, ours_y), (theirs_x, theirs_y)), ((ours_y, ours_x), (theirs_y, theirs_x)))
        for ours, theirs in pairs:
            if op == "sub" and any(getattr(a, "dtype", None) in (np.bool_, torch.bool) or type(a) in (
                    bool, np.bool_) for a in (*ours, *theirs)):
                continue  # PyTorch refuses subtracting booleans
            expected = fn(*theirs)
            with np.errstate(divide="ignore", invalid="ignore"):  # x / False
                got, general = fn(*ours), _general(op, ours)
            what = f"{op}{ours!r}"
            assert str(got.dtype) == _torch_dtype_name(expected), what
            assert got.dtype == general.dtype, what
            np.testing.assert_array_equal(got.numpy(), general, err_msg=what)
            np.testing.assert_allclose(got.numpy().astype(np.float64),
                                       expected.numpy().astype(np.float64), rtol=1e-3, err_msg=what)
            checked += 1
    assert checked > 30


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("number", [2, 3, 0.5, 1.5, -1])
def test_fast_path_keeps_the_tensor_dtype_with_python_numbers(dtype, number):
    """float32 * 0.5 stays float32 (as int32 + 2 stays int32), taken by the fast path: the
    general path agrees, and so does PyTorch."""
    x, t = _pair(dtype, 1)
    for op in ("add", "mul", "sub", "div"):
        got = OPERATORS[op](x, number)
        expected = OPERATORS[op](t, number)
        assert str(got.dtype) == _torch_dtype_name(expected), (op, dtype, number)
        np.testing.assert_array_equal(got.numpy(), _general(op, (x, number)))


# ---------------------------------------------------------------- integer powers are products

EXPONENTS = [2, 3, -1, -2, 0.5, -0.5, 2.0, 3.0]


def _spellings(x, n):
    return {"x ** n": lambda: x ** n, "x.pow(n)": lambda: x.pow(n), "symgrad.pow": lambda: symgrad.pow(x, n),
            "np.power": lambda: np.power(x, n)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", EXPONENTS)
def test_integer_powers_match_torch_within_one_ulp(dtype, n):
    rng = np.random.default_rng(0)
    data = (rng.random(64) * 4 + 0.05).astype(dtype)
    if float(n).is_integer():
        data[::2] *= -1
    expected = torch.pow(torch.tensor(data), n).numpy()
    with np.errstate(all="ignore"):
        for fn in _spellings(symgrad.tensor(data), n).values():
            np.testing.assert_array_max_ulp(fn().numpy(), expected, maxulp=1)


@pytest.mark.parametrize("n", [2, 3, -1, -2])
def test_integer_powers_are_computed_as_products(n):
    """x ** 3 is x * x * x bit for bit, as PyTorch's pow computes it; 1 / (x * x) for -2."""
    data = np.random.default_rng(1).random(2000).astype(np.float32) + 0.5
    products = {2: data * data, 3: data * data * data, -1: 1 / data, -2: 1 / (data * data)}[n]
    for name, fn in _spellings(symgrad.tensor(data), n).items():
        np.testing.assert_array_equal(fn().numpy(), products, err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", EXPONENTS)
def test_integer_power_gradients_match_torch(dtype, n):
    rng = np.random.default_rng(2)
    data = (rng.random(32) * 3 + 0.1).astype(dtype)
    for name in ("x ** n", "np.power"):
        x = symgrad.tensor(data, requires_grad=True)
        y = _spellings(x, n)[name]()
        assert type(y.grad_fn).__name__ == "PowBackward0"
        y.sum().backward()
        t = torch.tensor(data, requires_grad=True)
        torch.pow(t, n).sum().backward()
        np.testing.assert_array_max_ulp(x.grad.numpy(), t.grad.numpy(), maxulp=2)


def test_power_gradient_is_a_product():
    """d/dx x**3 = 3 * x**2 with x**2 a product: the gradient equals 3 * (x * x) bit for bit."""
    data = np.random.default_rng(3).random(100) + 0.5
    x = symgrad.tensor(data, requires_grad=True)
    (x ** 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3 * (data * data))


def test_second_derivative_of_a_power():
    x = symgrad.tensor([0.5, 2.0], dtype=symgrad.float64, requires_grad=True)
    (g,) = symgrad.autograd.grad((x ** 3).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_compiled_power_agrees_with_eager():
    def f(x):
        return (x ** 3 + x ** -2 + x ** 0.5).sum()
    data = np.array([0.5, 1.5, 2.5])
    x = symgrad.tensor(data, requires_grad=True)
    f(x).backward()
    np.testing.assert_allclose(symgrad.grad(f)(data), x.grad.numpy(), rtol=1e-12)
    closed_form = 3 * data ** 2 - 2 * data ** -3 + 0.5 * data ** -0.5
    np.testing.assert_allclose(x.grad.numpy(), closed_form, rtol=1e-12)


# ---------------------------------------------------------------- __slots__

class _Square(symgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def _graph_objects(root: Node) -> list:
    """Every node behind `root` and what each keeps: saved inputs (tensors, shapes)."""
    seen, stack, out = set(), [root], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        saved = getattr(node, "_saved", None)
        if saved is not None:
            out += [a for a in saved[0] if not isinstance(a, (int, float, np.ndarray))]
        stack += [n for n, _ in node.next_functions]
    return out


def test_no_object_made_per_op_call_has_a_dict():
    w = symgrad.nn.Parameter(symgrad.randn(3, 2))
    x = symgrad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    h = (x @ w).exp() * 2.0 + 1.0
    h = _Square.apply(h.reshape(4)[1:] ** 3).sin()
    loss = np.power(h, 2).sum() + h.softmax(0)[0]
    objects = [w, x, h, loss, loss.device, *_graph_objects(loss.grad_fn)]
    kinds = {type(o).__name__ for o in objects}
    assert {"Parameter", "Tensor", "AccumulateGrad", "MmBackward0", "ExpBackward0", "MulBackward0",
            "AddBackward0", "PowBackward0", "SliceBackward0", "_SquareBackward", "SinBackward0",
            "_Shape", "device"} <= kinds, kinds
    with_dict = sorted({type(o).__name__ for o in objects if hasattr(o, "__dict__")})
    assert not with_dict, f"made per call, with a __dict__: {with_dict}"
    loss.backward()
    assert not hasattr(w.grad, "__dict__") and not hasattr(x.grad, "__dict__")
