"""PyTorch fidelity of the eager face where it once differed, as sweeps over the ways people
spell the same thing (operators, reflected operators, functions, methods, in-place forms,
Python numbers of each type, 0-d tensors, dtypes), each against PyTorch:

- the `grad_fn` of an op with a Python number: its class name, `name()` and edges (a number
  an op's Scalar overload takes is no edge: `x ** 2` is PowBackward0 with one; a reflected
  operator is PyTorch's: `2.0 - x` is RsubBackward1, `2.0 + x` has x's edge first,
  `2.0 / x` is `x.reciprocal() * 2.0`), values and gradients (first and second order, and
  central finite differences in float64);
- the dtype of sum, prod, cumsum, cumprod, nansum and mean of bool and integer tensors, with
  and without `dim`, `keepdim`, `dtype=`;
- `view` on non-contiguous tensors: refused exactly where PyTorch refuses, with its message.

The spellings PyTorch refuses (`torch.maximum(x, 2.0)`, subtracting a bool, `mean` of
integers) are symgrad's extensions and left out; so are those whose PyTorch node has no
derivative (`x // 2`, `2.0 % x`: NotImplemented), tested on their own below.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
import pytest
from numeric import differences

import symgrad


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def _dtype(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.").removeprefix("symgrad.")


def _numpy(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


# ---------------------------------------------------------------- grad_fn with a number

OPERATORS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow", "%": "mod"}
NUMBERS = ["2.0", "2", "True", "-1.5"]
ZERO_D = ["z0", "zg"]  # 0-d tensors: without and with grad (edges, as any tensor)
# functions and methods taking a tensor and a number on either side, as PyTorch does
EITHER_SIDE = ["add", "sub", "mul", "div", "pow", "true_divide", "multiply", "subtract", "divide", "xlogy"]
OTHER_ONLY = ["remainder", "fmod", "copysign", "rsub"]  # a number second only (torch refuses it first)


def _grad_fn_spellings() -> list[str]:
    out = []
    for sym, name in OPERATORS.items():
        for n in NUMBERS + ZERO_D:
            out += [f"a {sym} {n}", f"a.__{name}__({n})"]
            if sym != "%":  # torch: `2.0 % x` has no derivative (below)
                out += [f"{n} {sym} a", f"a.__r{name}__({n})"]
        out += [f"a {sym} b", f"a.__r{name}__(b)"]
    for f in EITHER_SIDE + OTHER_ONLY:
        for n in NUMBERS + ZERO_D:
            out.append(f"L.{f}(a, {n})")
            if f in EITHER_SIDE or n in ZERO_D:
                out.append(f"L.{f}({n}, a)")
        out.append(f"L.{f}(a, b)")
        if f != "rsub":  # no method in PyTorch
            out += [f"a.{f}(2.0)", f"a.{f}(2)", f"a.{f}(z0)", f"a.{f}(b)", f"(a * 1).{f}_(2.0)",
                    f"(a * 1).{f}_(2)", f"(a * 1).{f}_(b)"]
    out += ["a.__rdiv__(2.0)", "a.__rdiv__(b)", "L.sub(2.0, a)", "L.rsub(b, a)", "L.reciprocal(a) * 2.0",
            "(a * 1).pow_(z0)", "(2 ** a) ** 3", "1 - (1 - a) ** 2"]
    # PyTorch refuses subtracting a bool: symgrad's extension
    return [s for s in dict.fromkeys(out) if not ("True" in s and ("sub" in s or " - " in s))]


GRAD_FN_SPELLINGS = _grad_fn_spellings()


def _leaves(lib: Any, dtype: str) -> dict:
    dt = getattr(lib, dtype)
    x = lib.tensor([1.5, 2.0, 3.25], dtype=dt, requires_grad=True)
    w = lib.tensor([0.5, -1.0, 1.25], dtype=dt, requires_grad=True)
    return {"L": lib, "a": x, "w": w, "b": w.exp(), "z0": lib.tensor(2.0, dtype=dt),
            "zg": lib.tensor(2.0, dtype=dt, requires_grad=True)}


def _edges(node: Any) -> tuple:
    """A node's edges as PyTorch shows them, by name: (name, its edges, output number), a
    leaf's accumulator by its name alone."""
    out = []
    for n, nr in node.next_functions:
        if n is None or type(n).__name__ == "AccumulateGrad":
            out.append((None if n is None else "AccumulateGrad", nr))
        else:
            out.append((type(n).__name__, n.name(), _edges(n), nr))
    return tuple(out)


def _graph(t: Any) -> tuple:
    fn = t.grad_fn
    return (type(fn).__name__, fn.name(), _edges(fn), _dtype(t))


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spelling", GRAD_FN_SPELLINGS)
def test_grad_fn_of_an_op_with_a_number_is_torchs(torch, spelling, dtype):
    """Class name, `name()`, edges (which are None, output numbers, the nodes behind them),
    dtype and values of each spelling."""
    want = eval(spelling, _leaves(torch, dtype))
    got = eval(spelling, _leaves(symgrad, dtype))
    assert _graph(got) == _graph(want)
    np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=1e-6 if dtype == "float32" else 1e-14)


def _gradients(lib: Any, spelling: str, order: int) -> list:
    """d/d(a, w, zg) of a weighted sum of the spelling's result, and with `order` 2, of the
    sum of those gradients (None where no gradient flows)."""
    env = _leaves(lib, "float64")
    leaves = [env["a"], env["w"], env["zg"]]
    out = eval(spelling, env)
    weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    grads = lib.autograd.grad((out * weights).sum(), leaves, allow_unused=True, create_graph=order > 1)
    if order > 1:
        total = sum(g.sum() for g in grads if g is not None and g.requires_grad)
        if not isinstance(total, (lib.Tensor,)):
            return []
        grads = lib.autograd.grad(total, leaves, allow_unused=True)
    return [None if g is None else _numpy(g) for g in grads]


# PyTorch's backward of a bool base (`True ** x`) fails inside PyTorch ("unknown ivalue tag")
GRADIENT_SPELLINGS = [s for s in GRAD_FN_SPELLINGS
                      if not any(b in s for b in ("True **", "pow(True", "pow__(True"))]


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # (-1.5) ** x: nan, as in PyTorch
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("spelling", GRADIENT_SPELLINGS)
def test_gradients_of_an_op_with_a_number_are_torchs(torch, spelling, order):
    got, want = _gradients(symgrad, spelling, order), _gradients(torch, spelling, order)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("spelling", [s for s in GRAD_FN_SPELLINGS  # not at a kink: a = 2.0 for % 2
                                      if not any(k in s for k in ("%", "mod", "remainder", "copysign"))])
def test_gradients_of_an_op_with_a_number_match_finite_differences(spelling):
    """In a (float64), away from kinks: the recorded rule, with the number as a param."""
    def value(a: np.ndarray) -> float:
        env = _leaves(symgrad, "float64")
        env["a"] = symgrad.tensor(a)
        with symgrad.no_grad():
            out = eval(spelling, env)
            weights = symgrad.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
            return float((out * weights).sum())

    env = _leaves(symgrad, "float64")
    out = eval(spelling, env)
    weights = symgrad.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    (grad,) = symgrad.autograd.grad((out * weights).sum(), [env["a"]], allow_unused=True)
    expected = differences(value, [_numpy(env["a"]).copy()], [0])[0]
    got = np.zeros(3) if grad is None else _numpy(grad)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_the_number_is_a_param_of_the_node_not_an_input():
    """`x ** 2` keeps x (its rule reads it) and 2 as a param; `2 ** x` keeps only its output."""
    x = symgrad.tensor([1.5, 2.0], requires_grad=True)
    square, power = x ** 2, 2 ** x
    assert square.grad_fn._params == {"y": 2} and square.grad_fn._inputs is x
    assert power.grad_fn._params == {"x": 2} and power.grad_fn._ans is not None
    assert symgrad.pow(2.0, x).grad_fn._params == {"x": 2.0}  # the function's number, not a tensor


def test_reflected_add_and_mul_are_the_operators_themselves():
    """`2.0 + x` costs what `x + 2.0` does: PyTorch's `__radd__` is `add`, and so is ours."""
    assert symgrad.Tensor.__radd__ is symgrad.Tensor.__add__
    assert symgrad.Tensor.__rmul__ is symgrad.Tensor.__mul__


def test_a_traced_value_keeps_pythons_reflected_operators():
    """`Op.reflected` is the eager face's: a trace records `2.0 - x` as sub and `1 / x` as div."""
    def f(x):
        return (2.0 - x) * (1.0 / x)
    names = {node.op for node in symgrad.trace(f, np.ones(3)).graph.nodes}
    assert {"sub", "div"} <= names and not {"rsub", "reciprocal"} & names


def test_an_integer_base_is_differentiated_in_float64():
    """d(2 ** x)/dx = 2 ** x * log 2: log 2 in the exponent's dtype, not float32."""
    x = symgrad.tensor([0.5, 1.0], dtype=symgrad.float64, requires_grad=True)
    (g,) = symgrad.autograd.grad((2 ** x).sum(), [x])
    np.testing.assert_allclose(_numpy(g), 2 ** np.array([0.5, 1.0]) * np.log(2), rtol=1e-15)


@pytest.mark.parametrize("spelling", ["a // 2.0", "2.0 // a", "L.floor_divide(a, 2)", "a.floor_divide(2)",
                                      "2.0 % a", "L.remainder(2, a)"])
def test_ops_without_a_torch_derivative_have_one_edge_and_a_gradient(spelling):
    """PyTorch's node for these is NotImplemented (its backward raises); symgrad names the op's
    own and gives its derivative: zero for floor division, -floor(2 / x) for 2 % x. The number
    is no edge, as in PyTorch."""
    env = _leaves(symgrad, "float64")
    out = eval(spelling, env)
    assert [n is None for n, _ in out.grad_fn.next_functions] == [False]
    (grad,) = symgrad.autograd.grad(out.sum(), [env["a"]])
    x = _numpy(env["a"])
    expected = np.zeros(3) if "//" in spelling or "floor" in spelling else -np.floor(2 / x)
    np.testing.assert_array_equal(_numpy(grad), expected)


# ---------------------------------------------------------------- reduction dtypes

REDUCTION_DTYPES = ["uint8", "int8", "int16", "int32", "int64", "bool", "float16", "float32", "float64"]
REDUCTIONS = [
    "t.sum()", "t.sum(0)", "t.sum(1, keepdim=True)", "t.sum(dim=(0, 1))", "t.sum(dtype=L.int32)",
    "t.sum(0, dtype=L.float64)", "t.sum(dtype=L.uint8)", "L.sum(t)", "L.sum(t, 0)",
    "L.sum(t, dim=1, keepdim=True)", "L.sum(t, dtype=L.int16)", "t.sum(0).sum()", "(t + t).sum()",
    "t.prod()", "t.prod(0)", "t.prod(1, keepdim=True)", "t.prod(dtype=L.int32)", "L.prod(t)", "L.prod(t, 1)",
    "t.prod(0, dtype=L.float32)",
    "t.cumsum(0)", "t.cumsum(1)", "t.cumsum(0, dtype=L.int32)", "L.cumsum(t, 1)", "L.cumsum(t, dim=0)",
    "t.cumsum(1, dtype=L.float64)", "t.cumprod(0)", "L.cumprod(t, 1)", "t.cumprod(0, dtype=L.int16)",
    "t.nansum()", "L.nansum(t, 0)", "t.mean(dtype=L.float64)", "t.mean(0, dtype=L.float32)",
]


def _reduced(lib: Any, call: str, dtype: str) -> tuple:
    data = np.array([[3, 250, 7], [1, 2, 200]]) if dtype != "bool" else np.array([[1, 0, 1], [1, 1, 0]])
    out = eval(call, {"L": lib, "t": lib.tensor(data.astype(dtype))})
    return _dtype(out), _numpy(out).tolist()


@pytest.mark.filterwarnings("ignore:overflow encountered")  # float16's product of 250 and 200
@pytest.mark.parametrize("dtype", REDUCTION_DTYPES)
@pytest.mark.parametrize("call", REDUCTIONS)
def test_reduction_dtypes_are_torchs(torch, call, dtype):
    """bool and integers sum, multiply and accumulate in int64 (uint8 too: NumPy's is uint64);
    `dtype=` is the result's, the values wrapping in it as PyTorch's."""
    assert _reduced(symgrad, call, dtype) == _reduced(torch, call, dtype)


def test_reductions_of_integers_without_torch():
    t = symgrad.tensor(np.array([200, 100], np.uint8))
    assert t.sum().dtype == np.int64 and int(t.sum()) == 300
    assert t.sum(dtype=symgrad.uint8).dtype == np.uint8 and int(t.sum(dtype=symgrad.uint8)) == 44
    assert t.cumsum(0).dtype == np.int64 and t.prod().dtype == np.int64
    x = symgrad.tensor([1.0, 2.0], requires_grad=True)
    s = x.sum(dtype=symgrad.float64)
    s.backward()
    assert s.dtype == np.float64 and x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


def test_a_traced_integer_sum_keeps_numpys_dtype():
    """The int64 rule is PyTorch's, for eager tensors: a traced value sums as NumPy does."""
    graph = symgrad.trace(lambda x: x.sum(), np.array([200, 100], np.uint8)).graph
    assert [node.op for node in graph.nodes] == ["input", "sum"]  # no cast to int64


# ---------------------------------------------------------------- view of non-contiguous tensors

# transposed, permuted, sliced with steps, expanded, selected, flipped (NumPy's negative
# strides: a copy in PyTorch), empty
VIEW_BASES = ["x", "x.t()", "x.T", "x[:, ::2]", "x[::2]", "x[:, 1:]", "x[1:]", "y.permute(2, 0, 1)",
              "y.permute(1, 0, 2)", "y.transpose(1, 2)", "y.transpose(0, 1)", "y[:, :, ::2]", "y[:, ::2]",
              "y[::2]", "v.expand(3, 4)", "v.expand(2, 3, 4)", "v.unsqueeze(0).expand(2, 4)",
              "s.expand(3, 1)", "y[:, 0]", "y[..., 0]", "y[:, :, 0:1]", "z.t()", "x.flip(0)", "x.flip(1)",
              "x.flip(0).t()", "y.flip(2).transpose(0, 1)", "x.t().unsqueeze(0)",
              "y.permute(0, 2, 1).unsqueeze(-1)", "e.t()", "w[:, :1]", "w.t()[:1]", "y[:, 1:2]"]
VIEW_SHAPES = ["(-1,)", "(6,)", "(12,)", "(4,)", "(3, 4)", "(4, 3)", "(2, 3)", "(3, 2)", "(2, 12)",
               "(12, 2)", "(6, 4)", "(4, 6)", "(2, 3, 4)", "(2, 4, 3)", "(3, 2, 4)", "(4, 2, 3)", "(3, 4, 2)",
               "(2, 2, 6)", "(1, -1)", "(-1, 1)", "(3, 1, 4)", "(3, 4, 1)", "(1, 3, 4)", "(2, 1, 3)",
               "(3, 2, 1)", "(2, 6)", "(6, 2)", "(2, 2, 3, 2)", "(2, 3, 2, 2)", "(0,)", "(0, 3)", "(8,)",
               "(1,)", "(4, 1, 1)", "()"]


def _viewed(lib: Any, base: str, shape: str) -> tuple:
    env = {"x": lib.arange(12.0).reshape(3, 4), "y": lib.arange(24.0).reshape(2, 3, 4), "v": lib.arange(4.0),
           "s": lib.tensor([5.0]), "z": lib.arange(6.0).reshape(2, 3), "e": lib.zeros(0, 3),
           "w": lib.arange(8.0).reshape(4, 2)}
    t = eval(base, env)
    try:
        out = t.view(eval(shape))
    except RuntimeError as e:  # (a ShapeError too: a RuntimeError, as PyTorch's)
        return ("raises", "spans across two contiguous subspaces" in str(e))
    return ("view", tuple(out.shape), _numpy(out).tolist())


@pytest.mark.parametrize("shape", VIEW_SHAPES)
@pytest.mark.parametrize("base", VIEW_BASES)
def test_view_refuses_where_torch_does(torch, base, shape):
    """Succeeds (same shape, values) or raises (with PyTorch's message for a layout it cannot
    view) exactly as PyTorch: splitting and merging only dims that lie contiguously."""
    assert _viewed(symgrad, base, shape) == _viewed(torch, base, shape)


def test_view_of_a_transpose_raises_torchs_error():
    x = symgrad.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's size and "
                                           r"stride \(at least one dimension spans across two contiguous "
                                           r"subspaces\)\. Use \.reshape\(\.\.\.\) instead\."):
        x.t().view(6)
    assert x.t().reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(RuntimeError, match="spans across two contiguous subspaces"):
        x.t().view(size=(6,))  # the keyword spelling takes the general path
    with pytest.raises(RuntimeError, match="spans across two contiguous subspaces"):
        x.t().view_as(symgrad.zeros(6))


def test_a_view_of_a_non_contiguous_tensor_shares_its_memory_and_gradient(torch):
    """`x.t().view(4, 1, 3)` (a dim split off, none merged) is a view: a write through it shows
    in x, and its gradient is PyTorch's."""
    x = symgrad.arange(12.0).reshape(3, 4)
    v = x.t().view(4, 1, 3)
    v[0, 0, 1] = 100.0
    assert x[1, 0].item() == 100.0
    a = np.arange(12.0).reshape(3, 4)
    weights = np.cos(np.arange(12.0)).reshape(4, 1, 3)
    grads = []
    for lib in (symgrad, torch):
        t = lib.tensor(a, requires_grad=True)
        (t.t().view(4, 1, 3) * lib.tensor(weights)).sum().backward()
        grads.append(_numpy(t.grad))
    np.testing.assert_array_equal(grads[0], grads[1])


def test_the_library_runs_without_view_of_non_contiguous_tensors():
    """Modules, losses and optimizers that use view internally run on transposed inputs."""
    nn = importlib.import_module("symgrad.nn")
    layer = nn.Linear(3, 2)
    x = symgrad.arange(12.0).reshape(3, 4).t()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = nn.functional.cross_entropy(layer(x), symgrad.tensor([0, 1, 1, 0]))
        loss.backward()
        x.flatten(), x.reshape(-1), x.contiguous().view(-1)
    assert layer.weight.grad.shape == (2, 3)
