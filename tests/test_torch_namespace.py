"""PyTorch's functions that are also Tensor methods: symgrad has each (but an explained few),
as a function and as a method, with PyTorch's value, gradient and grad_fn name; and every
method with an in-place form `f_` has it, with PyTorch's autograd semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import symgrad

torch = pytest.importorskip("torch")

# torch functions-that-are-methods symgrad leaves out, by reason
SKIP = {
    # quantized tensors
    "dequantize", "int_repr", "q_per_channel_axis", "q_per_channel_scales", "q_per_channel_zero_points",
    "q_scale", "q_zero_point", "qscheme",
    # sparse tensors
    "smm", "sspaddmm", "resize_as_sparse_",
    # complex numbers: symgrad's dtypes are real (conj_physical, real, angle... are there)
    "imag", "conj_physical_",
    # FFT-based
    "stft", "istft",
    # decompositions needing SVD, QR or LU (no such primitive), and removed APIs
    "svd", "pinverse", "lstsq", "qr", "geqrf", "orgqr", "ormqr", "lu", "lu_solve", "eig", "symeig",
    "solve", "triangular_solve", "cholesky_inverse", "cholesky_solve", "matrix_exp",
    # storage, strides, devices and tensor internals
    "as_strided", "as_strided_", "as_strided_scatter", "get_device", "hash_tensor", "is_distributed",
    "is_inference", "layout", "dtype", "resize_as_", "nonzero_static", "slice_inverse",
    "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes",
    # integer bit manipulation and number theory (integers only, no gradient)
    "bitwise_left_shift", "bitwise_right_shift", "lcm", "lcm_", "frexp", "nextafter",
    # reductions with no primitive (index_reduce's amax, amin, prod, mean of repeated indices)
    "index_reduce",
}


def _torch_methods_as_functions() -> list[str]:
    return sorted(n for n in dir(torch) if not n.startswith("_") and hasattr(torch.Tensor, n)
                  and callable(getattr(torch, n)))


def test_every_torch_function_that_is_a_method_exists() -> None:
    missing = [n for n in _torch_methods_as_functions() if n not in SKIP and not hasattr(symgrad, n)]
    assert not missing, f"symgrad lacks {missing}"
    stale = sorted(n for n in SKIP if hasattr(symgrad, n))
    assert not stale, f"SKIP lists names symgrad now has: {stale}"


# ---------------------------------------------------------------- the table

class Arg:
    """An index or mask argument: a tensor of each library, never differentiated."""

    def __init__(self, a: Any) -> None:
        self.a = np.asarray(a)


@dataclass
class Case:
    name: str
    inputs: tuple  # float64 arrays (differentiated) or Arg(...) markers
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    grad: bool = True
    id: str = ""


RNG = np.random.default_rng(3)
A = RNG.uniform(0.5, 2.0, (3, 4))
B = RNG.uniform(-2.0, 2.0, (3, 4))
S = RNG.uniform(-2.0, 2.0, (4, 4))
V = RNG.uniform(-2.0, 2.0, 4)
W = RNG.uniform(-2.0, 2.0, 3)
B3 = RNG.uniform(-1.0, 1.0, (2, 3, 4))
C3 = RNG.uniform(-1.0, 1.0, (2, 4, 5))
U = RNG.uniform(-0.9, 0.9, (3, 4))
D = np.array([[1.5, np.nan, -0.5, 2.0], [np.nan, 0.5, np.nan, np.nan], [0.25, 3.0, -1.0, np.nan]])
COLS = Arg([0, 2])
ROWS = Arg([[0, 1, 2, 0], [2, 0, 1, 1]])

CASES = [
    Case("absolute", (B,)), Case("negative", (B,)), Case("positive", (B,)),
    Case("multiply", (A, B)), Case("divide", (B, A)), Case("true_divide", (B, A)),
    Case("divide", (B, A), kwargs={"rounding_mode": "floor"}, id="floor"),
    Case("divide", (B, A), kwargs={"rounding_mode": "trunc"}, id="trunc"),
    Case("subtract", (A, B)), Case("subtract", (A, B), kwargs={"alpha": 2.5}, id="alpha"),
    Case("greater", (A, B), grad=False), Case("greater_equal", (A, B), grad=False),
    Case("less", (A, B), grad=False), Case("less_equal", (A, B), grad=False),
    Case("not_equal", (A, B), grad=False),
    Case("rsqrt", (A,)), Case("clamp_min", (B,), (0.3,)), Case("clamp_max", (B,), (0.3,)),
    Case("clamp_min", (B, A), id="tensor"), Case("clamp_max", (B, A), id="tensor"),
    Case("logaddexp", (B, A)), Case("logaddexp2", (B, A)), Case("deg2rad", (B,)), Case("rad2deg", (B,)),
    Case("lerp", (A, B), (0.3,)), Case("lerp", (A, B, U), id="tensor"),
    Case("addmm", (S, S, S)), Case("addmm", (V, S, S), kwargs={"beta": 0.5, "alpha": 2.0}, id="scaled"),
    Case("addmv", (V, S, V)), Case("addr", (A, W, V), kwargs={"alpha": 3.0}),
    Case("addbmm", (A, B3, C3[:, :, :4])), Case("baddbmm", (C3[:, :3, :], B3, C3)),
    Case("addcmul", (A, B, A), kwargs={"value": 0.5}), Case("addcdiv", (B, B, A), kwargs={"value": 2.0}),
    Case("index_select", (B,), (1, COLS)), Case("index_select", (B,), (0, Arg([2, 2, 0])), id="repeats"),
    Case("masked_fill", (B, Arg(B > 0)), (-1.5,)),
    Case("masked_select", (B, Arg(B > 0))), Case("masked_select", (V, Arg(S > 0)), id="broadcast"),
    Case("kthvalue", (B,), (2,)), Case("kthvalue", (B,), (2, 0, True), id="dim0"),
    Case("nanmedian", (D,)), Case("nanmedian", (D,), (1,), id="dim"),
    Case("nanmedian", (D,), (0, True), id="keepdim"),
    Case("cov", (B,)), Case("cov", (V,), id="vector"), Case("cov", (B,), kwargs={"correction": 0}, id="c0"),
    Case("corrcoef", (B,)),
    Case("rot90", (B,)), Case("rot90", (B3,), (3, (2, 0)), id="k3"), Case("rot90", (B,), (2,), id="k2"),
    Case("unflatten", (B3,), (2, (2, 2))), Case("hsplit", (B,), (2,)), Case("vsplit", (S,), ([1, 3],)),
    Case("dsplit", (B3,), (2,)), Case("diagflat", (V,)), Case("diagflat", (B,), (1,), id="offset"),
    Case("diag_embed", (B,)), Case("diag_embed", (B,), (-1, 0, 2), id="dims"),
    Case("sinc", (np.array([0.0, 0.5, -1.5, 2.25]),)), Case("frac", (B * 2,)),
    Case("float_power", (A, B)), Case("float_power", (A,), (2.5,), id="scalar"),
    Case("fmod", (B * 3, A)), Case("fmod", (B * 3,), (0.7,), id="scalar"),
    Case("remainder", (B * 3, A)), Case("remainder", (B * 3,), (-0.7,), id="scalar"),
    Case("floor_divide", (B * 3, A), grad=False), Case("sgn", (B,)),
    Case("divide", (Arg([7, -7, 6]), Arg([2, 2, -4])), kwargs={"rounding_mode": "trunc"}, grad=False,
         id="ints"),
    Case("divide", (Arg([7, -7, 6]), Arg([2, 2, -4])), kwargs={"rounding_mode": "floor"}, grad=False,
         id="ints_floor"),
    Case("isclose", (A, A + 1e-9), grad=False), Case("dist", (A, B)), Case("dist", (A, B), (1,), id="p1"),
    Case("renorm", (B,), (2, 0, 1.5)), Case("renorm", (B,), (1, 1, 2.0), id="p1"),
    Case("mvlgamma", (A + 2,), (3,)), Case("erfinv", (U,)), Case("hardshrink", (B,), (0.7,)),
    Case("scatter", (B,), (1, Arg([[0, 1], [2, 0]]), B[:2, :2] * 3), id="src"),
    Case("scatter", (B,), (1, Arg([[0, 1], [2, 3]]), 2.0), id="value"),
    # (PyTorch's backward refuses a src larger than the index: these are of its shape)
    Case("scatter_add", (B,), (0, ROWS, A[:2])), Case("scatter_reduce", (B,), (0, ROWS, A[:2], "sum")),
    Case("scatter_reduce", (B,), (0, ROWS, A[:2], "mean"), id="mean"),
    Case("scatter_reduce", (B,), (0, ROWS, A[:2], "mean"), {"include_self": False}, id="mean_exclude"),
    Case("index_add", (B,), (1, COLS, A[:, :2]), {"alpha": 2.0}),
    Case("index_copy", (B,), (1, COLS, A[:, :2])), Case("index_fill", (B,), (1, COLS, -1.0)),
    Case("index_put", (B,), ((Arg([0, 2]),), A[:2])),
    Case("index_put", (B,), ((Arg([0, 0]), Arg([1, 1])), V[:2], True), id="accumulate"),
    Case("mode", (np.round(B * 2),)), Case("mode", (np.round(B * 2),), (0, True), id="dim0"),
    Case("aminmax", (B,)), Case("aminmax", (B,), kwargs={"dim": 1, "keepdim": True}, id="dim"),
    Case("argwhere", (B > 0.5,), grad=False), Case("nonzero", (B > 0.5,), grad=False),
    Case("unique", (np.round(B),), kwargs={"return_inverse": True, "return_counts": True}, grad=False),
    Case("bincount", (Arg([0, 3, 3, 1]),), grad=False),
    Case("bincount", (Arg([0, 3, 3, 1]), V), kwargs={"minlength": 6}, grad=False, id="weights"),
    Case("histc", (B,), kwargs={"bins": 5, "min": -1, "max": 1}, grad=False),
    Case("histc", (B,), (4,), grad=False, id="range"),
    Case("histogram", (B,), (4,), grad=False),
    Case("histogram", (B,), (Arg([-2.0, 0.0, 0.5, 2.0]),), {"weight": Arg(A), "density": True}, grad=False,
         id="edges"),
    Case("unique_consecutive", (Arg([1, 1, 2, 2, 1, 3, 3]),),
         kwargs={"return_inverse": True, "return_counts": True}, grad=False),
    Case("unique_consecutive", (Arg([[1, 1], [1, 1], [2, 0]]),), kwargs={"dim": 0, "return_counts": True},
         grad=False, id="dim"),
    Case("conj_physical", (B,)), Case("resolve_conj", (B,)), Case("resolve_neg", (B,)), Case("real", (B,)),
    Case("conj", (B,)), Case("adjoint", (B,)), Case("angle", (np.array([-1.5, 0.0, 2.0, np.nan]),)),
    Case("isreal", (B,), grad=False), Case("isposinf", (np.array([np.inf, -np.inf, 1.0]),), grad=False),
    Case("isneginf", (np.array([np.inf, -np.inf, 1.0]),), grad=False), Case("ldexp", (B, Arg([1, 2, 3, 0]))),
    Case("select_scatter", (B, V), (0, 1)), Case("slice_scatter", (B, A[:, :2]), (1, 1, 4, 2)),
    Case("slice_scatter", (B, A[:2]), kwargs={"end": 2}, id="rows"),
    Case("diagonal_scatter", (S, V[:3]), (1,)),
    Case("diagonal_scatter", (B3, B[:, :2]), (0, 0, 2), id="dims"),
    Case("put", (B,), (Arg([0, 5, 11]), V[:3])),
    Case("put", (B,), (Arg([1, 1]), V[:2], True), id="accumulate"),
    Case("masked_scatter", (B, Arg(B > 0), A * 3)), Case("prelu", (B, np.array([0.25]))),
    Case("prelu", (B3, np.array([0.25, -0.5, 0.75])), id="channels"),
    Case("narrow_copy", (B,), (1, 1, 2)), Case("split_with_sizes", (B,), ([1, 3], 1)),
    Case("nanquantile", (D,), (0.3,)), Case("nanquantile", (D,), (0.4, 1), id="dim"),
    Case("nanquantile", (D,), (Arg([0.25, 0.5, 0.9]), 1, True), id="vector"),
    Case("nanquantile", (D,), (0.75, None, True), id="keepdim"),
]

def _convert(ns: Any, v: Any, grad: bool) -> Any:
    if isinstance(v, Arg):
        return ns.tensor(v.a)
    if isinstance(v, np.ndarray):
        t = ns.tensor(v)
        return t.requires_grad_(grad) if t.dtype == ns.float64 else t
    if isinstance(v, (tuple, list)) and any(isinstance(e, (Arg, np.ndarray)) for e in v):
        return type(v)(_convert(ns, e, grad) for e in v)
    return v


def _run(ns: Any, case: Case, as_method: bool) -> tuple[list, Any]:
    inputs = [_convert(ns, v, case.grad) for v in case.inputs]
    args = [_convert(ns, v, case.grad) for v in case.args]
    if as_method and case.name == "real":  # an attribute of tensors
        return inputs, inputs[0].real
    call = getattr(inputs[0], case.name) if as_method else getattr(ns, case.name)
    kwargs = {k: _convert(ns, v, False) for k, v in case.kwargs.items()}
    out = call(*inputs[1:], *args, **kwargs) if as_method else call(*inputs, *args, **kwargs)
    return inputs + [a for a in args if hasattr(a, "requires_grad")], out


def _outputs(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _grad_fn(t: Any) -> str | None:
    fn = t.grad_fn
    if fn is None:
        return None
    return fn.name() if hasattr(fn, "name") else type(fn).__name__


@pytest.mark.parametrize("as_method", [False, True], ids=["function", "method"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{c.id}" if c.id else c.name for c in CASES])
def test_matches_torch(case: Case, as_method: bool) -> None:
    ours_in, ours = _run(symgrad, case, as_method)
    theirs_in, theirs = _run(torch, case, as_method)
    ours_out, theirs_out = _outputs(ours), _outputs(theirs)
    assert len(ours_out) == len(theirs_out)
    for o, t in zip(ours_out, theirs_out):
        o_data, t_data = np.asarray(o.detach()), t.detach().numpy()
        assert o_data.shape == t_data.shape
        assert o_data.dtype == t_data.dtype, (o_data.dtype, t_data.dtype)
        np.testing.assert_allclose(o_data, t_data, rtol=1e-10, atol=1e-12, equal_nan=True)
    if not case.grad:
        return
    first, reference = ours_out[0], theirs_out[0]
    expected = None if reference.grad_fn is None else type(reference.grad_fn).__name__
    assert _grad_fn(first) == expected
    weights = np.random.default_rng(0).uniform(0.5, 1.5, tuple(reference.shape))
    (reference * torch.tensor(weights)).nan_to_num().sum().backward()
    (first * symgrad.tensor(weights)).nan_to_num().sum().backward()
    for o, t in zip(ours_in, theirs_in):
        if t.requires_grad:
            expected = np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy(force=True)
            got = np.zeros(tuple(o.shape)) if o.grad is None else np.asarray(o.grad)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, args", [
    ("is_floating_point", ()), ("is_complex", ()), ("is_nonzero", ()), ("is_same_size", ([0.0],)),
    ("numel", ()), ("allclose", ([2.5 + 1e-6],)), ("allclose", ([2.5 + 1e-4],)), ("equal", ([2.5],)),
    ("equal", ([2.5, 2.5],)), ("is_signed", ()), ("is_conj", ()), ("is_neg", ()),
])
@pytest.mark.parametrize("as_method", [False, True], ids=["function", "method"])
def test_predicates(name: str, args: tuple, as_method: bool) -> None:
    for value in ([2.5], [0.0], [3.0]):
        results = []
        for ns in (symgrad, torch):
            x, rest = ns.tensor(value), [ns.tensor(a) for a in args]
            results.append(getattr(x, name)(*rest) if as_method else getattr(ns, name)(x, *rest))
        assert results[0] == results[1], (name, value, results)


def test_clone_ravel_numel_functions() -> None:
    x = symgrad.tensor(B, requires_grad=True)
    y = symgrad.clone(x)
    assert y.grad_fn.name() == "CloneBackward0" and not np.shares_memory(np.asarray(y.detach()), B)
    assert symgrad.ravel(x).shape == (12,) and symgrad.numel(x) == 12


def test_erfinv_kernel_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    from symgrad.ops import kernels
    x = np.concatenate([np.linspace(-0.99999, 0.99999, 401), [0.0, -0.0, 1e-300, 0.5, 1 - 1e-12]])
    expected = torch.erfinv(torch.tensor(x)).numpy()
    monkeypatch.setattr(kernels, "_scipy", lambda name: None)
    np.testing.assert_allclose(kernels.erfinv(x), expected, rtol=1e-13, atol=0)
    edges = kernels.erfinv(np.array([1.0, -1.0, 1.5, np.nan], dtype=np.float32))
    assert edges.dtype == np.float32 and edges[0] == np.inf and edges[1] == -np.inf
    assert np.isnan(edges[2:]).all()


def test_erfinv_second_order() -> None:
    f = lambda x: symgrad.erfinv(x).sum()  # noqa: E731
    x = np.array([-0.7, 0.1, 0.6])
    h = np.asarray(symgrad.hessian(f)(x))
    g = symgrad.grad(f)
    step = 1e-6
    fd = np.stack([(np.asarray(g(x + step * e)) - np.asarray(g(x - step * e))) / (2 * step)
                   for e in np.eye(3)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-6)


TRACED = {
    "logaddexp": lambda x: symgrad.logaddexp(x, x * 2), "logaddexp2": lambda x: x.logaddexp2(1 - x),
    "rsqrt": lambda x: x.rsqrt(), "sinc": lambda x: x.sinc(), "frac": lambda x: (x * 3).frac(),
    "addcmul": lambda x: x.addcmul(x, x, value=0.5), "addcdiv": lambda x: x.addcdiv(x, x + 1),
    "lerp": lambda x: x.lerp(x * 3, 0.25), "addmm": lambda x: x.addmm(x, x.mT, beta=0.5),
    "baddbmm": lambda x: symgrad.baddbmm(x[None], x[None], x[None]), "addr": lambda x: x.addr(x[0], x[1]),
    "fmod": lambda x: symgrad.fmod(x * 3, 0.7), "remainder": lambda x: x.remainder(0.7),
    "index_select": lambda x: x.index_select(0, [2, 0]),
    "index_add": lambda x: x.index_add(0, [1, 1], x[:2] * 2),
    "index_copy": lambda x: x.index_copy(1, [2, 0], x[:, :2] ** 2),
    "scatter": lambda x: x.scatter(0, [[1, 0, 2]], 5.0),
    "scatter_add": lambda x: x.scatter_add(1, [[0, 0], [1, 2], [2, 2]], x[:, :2] * 3),
    "masked_fill": lambda x: x.masked_fill(np.eye(3, dtype=bool), 0.0),
    "kthvalue": lambda x: x.kthvalue(2)[0],
    "nanmedian": lambda x: x.nanmedian(1)[0], "nanquantile": lambda x: x.nanquantile(0.3, 0),
    "cov": lambda x: x.cov(), "corrcoef": lambda x: x.corrcoef(), "dist": lambda x: x.dist(x ** 2),
    "renorm": lambda x: x.renorm(2, 0, 1.0), "mvlgamma": lambda x: (x + 2).mvlgamma(2),
    "erfinv": lambda x: symgrad.erfinv(x * 0.3), "rot90": lambda x: x.rot90(1, (1, 0)),
    "diag_embed": lambda x: x.diag_embed(1), "diagflat": lambda x: x.diagflat(),
    "hsplit": lambda x: x.hsplit([1])[1], "unflatten": lambda x: x.reshape(-1).unflatten(0, (3, 3)),
    "split_with_sizes": lambda x: x.split_with_sizes([2, 1], 1)[0], "prelu": lambda x: (x - 0.5).prelu(0.2),
    "put": lambda x: symgrad.put(x, [0, 4], x[2, :2] * 2),  # x.put is ndarray's (in place) on a trace
    "diagonal_scatter": lambda x: x.diagonal_scatter(x[0] ** 2),
    "select_scatter": lambda x: x.select_scatter(x[0] * x[1], 1, 2),
    "float_power": lambda x: x.float_power(3),
    "aminmax": lambda x: x.aminmax(dim=0)[1], "ldexp": lambda x: x.ldexp(np.array([1, 2, 0])),
    "clamp_min": lambda x: x.clamp_min(0.4), "deg2rad": lambda x: x.deg2rad(),
}


@pytest.mark.parametrize("call", list(TRACED.values()), ids=list(TRACED))
def test_traced_gradients_match_eager(call: Any) -> None:
    """The composites trace: compiled gradients equal the eager ones."""
    x0 = np.array([[0.3, 0.8, 0.45], [0.6, 0.2, 0.9], [0.55, 0.15, 0.7]])

    def f(x: Any) -> Any:
        return (call(x) ** 2).sum()

    compiled = np.asarray(symgrad.grad(f)(x0))
    x = symgrad.tensor(x0, requires_grad=True)
    f(x).backward()
    np.testing.assert_allclose(compiled, np.asarray(x.grad), rtol=1e-12, atol=1e-12)


def test_eager_only_functions_refuse_traced_values() -> None:
    for name in ("masked_select", "nonzero", "argwhere", "unique", "bincount", "histc", "mode"):
        def f(x: Any, name: str = name) -> Any:
            return getattr(symgrad, name)(x) if name != "masked_select" else x.masked_select(x > 0)
        with pytest.raises(TypeError, match="cannot be traced"):
            symgrad.grad(lambda x: f(x).sum())(np.array([1.0, -2.0]))


def test_traced_values_keep_ndarray_meaning() -> None:
    """The torch-only names never shadow an ndarray method: `nonzero` is the torch face's."""
    assert "nonzero" not in symgrad.ops.dispatch.METHODS
    assert symgrad.tensor([0.0, 2.0]).nonzero().tolist() == [[1]]


def test_bad_arguments() -> None:
    x = symgrad.tensor(B)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        x.divide(x, rounding_mode="round")
    with pytest.raises(RuntimeError, match="out of range"):
        x.kthvalue(9)
    with pytest.raises(RuntimeError, match="divisible"):
        x.hsplit(3)
    with pytest.raises(RuntimeError, match="greater than"):
        x.mvlgamma(2)
    with pytest.raises(RuntimeError, match="reduce"):
        x.scatter_reduce(0, ROWS.a, x, "amax")
    with pytest.raises(IndexError):
        x.index_select(1, [7])


# ---------------------------------------------------------------- in-place forms

def _inplace_names() -> list[str]:
    return sorted(n[:-1] for n in dir(torch.Tensor) if n.endswith("_") and not n.startswith("_")
                  and hasattr(torch.Tensor, n[:-1]) and hasattr(symgrad.Tensor, n[:-1]))


# shape-changing in-place forms (the tensor's storage is NumPy's: its shape cannot change)
INPLACE_SKIP = {"squeeze", "unsqueeze", "t", "transpose", "swapaxes", "swapdims", "resize", "detach",
                "requires_grad", "share_memory", "set", "fill_diagonal", "map", "apply", "random",
                "uniform", "normal", "exponential", "geometric", "cauchy", "log_normal", "bernoulli",
                "index_reduce", "put", "masked_scatter", "as_strided", "rename", "resize_as",
                "lcm", "ldexp", "conj_physical", "bitwise_left_shift", "bitwise_right_shift",
                "copy", "zero", "fill", "float_power"}


def test_every_method_with_an_inplace_form_has_it() -> None:
    missing = [f"{n}_" for n in _inplace_names()
               if n not in INPLACE_SKIP and not hasattr(symgrad.Tensor, f"{n}_")]
    assert not missing


UNARY_INPLACE = ["abs", "absolute", "neg", "negative", "exp", "expm1", "sin", "cos", "tanh", "sigmoid",
                 "relu", "sqrt", "rsqrt", "log", "log1p", "round", "floor", "ceil", "trunc", "frac",
                 "sinc", "square", "reciprocal", "erf", "erfinv", "deg2rad", "sgn", "atan", "arctan"]


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_unary_inplace_matches_torch(name: str) -> None:
    x0 = U * 0.9 + 1.0 if name in ("sqrt", "rsqrt", "log", "log1p", "erfinv") else U
    x0 = x0 - 1.0 if name == "erfinv" else x0
    results = []
    for ns in (symgrad, torch):
        x = ns.tensor(x0, requires_grad=True)
        y = x * 2 if name != "erfinv" else x * 1
        version = y._version
        out = getattr(y, f"{name}_")()
        assert out is y and y._version == version + 1
        name_of = y.grad_fn.name() if ns is symgrad else type(y.grad_fn).__name__
        y.sum().backward()
        grad = x.grad.numpy(force=True) if ns is torch else np.asarray(x.grad)
        results.append((np.asarray(y.detach()), grad, name_of))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)
    assert results[0][2] == results[1][2]


@pytest.mark.parametrize("call", [
    lambda ns, y: y.clamp_(-0.2, 0.3), lambda ns, y: y.clamp_min_(0.1), lambda ns, y: y.clamp_max_(0.1),
    lambda ns, y: y.add_(y * 1, alpha=2), lambda ns, y: y.sub_(0.5), lambda ns, y: y.mul_(3.0),
    lambda ns, y: y.div_(4.0), lambda ns, y: y.pow_(2), lambda ns, y: y.lerp_(y * 0 + 1, 0.3),
    lambda ns, y: y.addcmul_(y * 1, y * 1, value=2), lambda ns, y: y.masked_fill_(y > 0, 0.5),
    lambda ns, y: y.index_fill_(1, ns.tensor([0, 2]), 0.0), lambda ns, y: y.fmod_(0.3),
    lambda ns, y: y.remainder_(0.3), lambda ns, y: y.xlogy_(2.0), lambda ns, y: y.multiply_(y * 1),
    lambda ns, y: y.true_divide_(2.0), lambda ns, y: y.subtract_(1.0, alpha=2),
    lambda ns, y: y.divide_(2.0), lambda ns, y: y.nan_to_num_(), lambda ns, y: y.cumsum_(1),
    lambda ns, y: y.tril_(), lambda ns, y: y.scatter_(1, ns.tensor([[0], [1], [2]]), 9.0),
    lambda ns, y: y.index_put_((ns.tensor([0, 1]),), ns.tensor(3.0, dtype=ns.float64)),
    lambda ns, y: ns.exp_(y), lambda ns, y: ns.relu_(y), lambda ns, y: ns.clamp_(y, -0.1, 0.1),
], ids=["clamp", "clamp_min", "clamp_max", "add", "sub", "mul", "div", "pow", "lerp", "addcmul",
        "masked_fill", "index_fill", "fmod", "remainder", "xlogy", "multiply", "true_divide",
        "subtract", "divide", "nan_to_num", "cumsum", "tril", "scatter", "index_put", "torch.exp_",
        "torch.relu_", "torch.clamp_"])
def test_inplace_with_arguments_matches_torch(call: Any) -> None:
    results = []
    for ns in (symgrad, torch):
        x = ns.tensor(U[:, :3], requires_grad=True)
        y = x * 2
        out = call(ns, y)
        assert out is y and y._version >= 1
        name = y.grad_fn.name() if ns is symgrad else type(y.grad_fn).__name__
        (y * ns.tensor(A[:, :3])).sum().backward()
        results.append((np.asarray(y.detach()), np.asarray(x.grad), name))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)
    assert results[0][2] == results[1][2]


@pytest.mark.parametrize("ns", [symgrad, torch], ids=["symgrad", "torch"])
def test_inplace_on_a_leaf_that_requires_grad_raises(ns: Any) -> None:
    x = ns.tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.exp_()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.clamp_min_(1.0)
    with ns.no_grad():
        x.sin_()
    assert x._version == 1


@pytest.mark.parametrize("ns", [symgrad, torch], ids=["symgrad", "torch"])
def test_inplace_after_save_fails_backward(ns: Any) -> None:
    """exp saves its result: changing it in place makes backward refuse, as in PyTorch."""
    x = ns.tensor([0.5, 1.5], requires_grad=True)
    y = x.exp()
    y.sigmoid_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_exp_gradient_and_grad_fn() -> None:
    grads = []
    for ns in (symgrad, torch):
        x = ns.tensor([0.5, -1.0, 2.0], dtype=ns.float64, requires_grad=True)
        y = x * 2
        y.exp_()
        name = y.grad_fn.name() if ns is symgrad else type(y.grad_fn).__name__
        assert name == "ExpBackward0"
        y.sum().backward()
        grads.append(np.asarray(x.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_inplace_on_int_tensor_refuses_a_float_result() -> None:
    for ns in (symgrad, torch):
        with pytest.raises(RuntimeError, match="can't be cast"):
            ns.tensor([1, 2]).exp_()


def test_inplace_operators() -> None:
    x = symgrad.tensor([5.0, -7.0])
    x %= 3.0
    assert x.tolist() == [2.0, 2.0] and x._version == 1
    x //= 2.0
    assert x.tolist() == [1.0, 1.0] and x._version == 2


def test_inplace_through_a_view_matches_torch() -> None:
    """A derived in-place form on a view rewrites the base's history (CopySlices), as PyTorch's."""
    results = []
    for ns in (symgrad, torch):
        x = ns.tensor([[0.5, 1.0], [2.0, -1.0]], dtype=ns.float64, requires_grad=True)
        y = x * 2
        row = y[0]
        row.sin_()
        y.clamp_max_(1.5)
        name = y.grad_fn.name() if ns is symgrad else type(y.grad_fn).__name__
        versions = (row._version, y._version)
        y.sum().backward()
        results.append((np.asarray(y.detach()), np.asarray(x.grad), name, versions))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-14)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-14)
    assert results[0][2:] == results[1][2:]


@pytest.mark.parametrize("name, args", [("zero_", ()), ("fill_", (2.5,)), ("detach_", ()),
                                        ("clamp_min_", (0.2,)), ("sigmoid_", ())])
def test_inplace_functions(name: str, args: tuple) -> None:
    """`torch.zero_(x)` and the others: the in-place forms as functions too."""
    results = []
    for ns in (symgrad, torch):
        x = ns.tensor([0.1, 0.4, -0.3], dtype=ns.float64)
        out = getattr(ns, name)(x, *args)
        assert out is x
        results.append((np.asarray(x), x._version))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-14)
    assert results[0][1] == results[1][1]


SECOND_ORDER = {
    "logaddexp": lambda x: symgrad.logaddexp(x, x[::-1] * 2).sum(),
    "sinc": lambda x: x.sinc().sum(), "rsqrt": lambda x: (x + 2).rsqrt().sum(),
    "addcdiv": lambda x: x.addcdiv(x * x, x + 3, value=0.5).sum(),
    "erfinv": lambda x: (x * 0.4).erfinv().sum(),
    "mvlgamma": lambda x: (x + 3).mvlgamma(3).sum(), "cov": lambda x: x.reshape(2, 2).cov().sum(),
    "nanquantile": lambda x: (x * x).nanquantile(0.6), "dist": lambda x: x.dist(x[::-1] * 0.5 + 1),
    "fmod": lambda x: (x * x).fmod(0.7).sum(),
    "scatter_add": lambda x: (x * x).scatter_add(0, [0, 0, 1, 1], x).prod(),
}


@pytest.mark.parametrize("f", list(SECOND_ORDER.values()), ids=list(SECOND_ORDER))
def test_hessian_matches_differences_of_the_gradient(f: Any) -> None:
    x = np.array([0.35, -0.6, 0.8, 0.15])
    h = np.asarray(symgrad.hessian(f)(x))
    g = symgrad.grad(f)
    step = 1e-6
    fd = np.stack([(np.asarray(g(x + step * e)) - np.asarray(g(x - step * e))) / (2 * step)
                   for e in np.eye(4)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


BAD = {
    "masked_fill with a vector value": lambda ns, x: x.masked_fill(x > 0, ns.tensor([1.0, 2.0])),
    "masked_select with a float mask": lambda ns, x: x.masked_select(x * 1.0),
    "bincount of negatives": lambda ns, x: ns.bincount(ns.tensor([1, -1])),
    "scatter index of other rank": lambda ns, x: x.scatter(0, ns.tensor([0]), 1.0),
    "rot90 about one dim": lambda ns, x: x.rot90(1, (1, 1)),
    "cov of 3 dims": lambda ns, x: x.reshape(1, 3, 4).cov(),
    "nanquantile q above 1": lambda ns, x: x.nanquantile(1.5),
    "prelu weights of other count": lambda ns, x: x.prelu(ns.tensor([0.1, 0.2], dtype=ns.float64)),
    "split_with_sizes not adding up": lambda ns, x: x.split_with_sizes([1, 1], 1),
    "addmm of a vector": lambda ns, x: x.addmm(x[0], x),
    "kthvalue k of 0": lambda ns, x: x.kthvalue(0),
    "vsplit of a vector": lambda ns, x: x[0].vsplit(2),
    "divide rounding 'round'": lambda ns, x: x.divide(x, rounding_mode="round"),
    "is_nonzero of many": lambda ns, x: x.is_nonzero(),
    "exp_ of integers": lambda ns, x: ns.tensor([1, 2]).exp_(),
}


@pytest.mark.parametrize("call", list(BAD.values()), ids=list(BAD))
def test_bad_input_raises_what_torch_raises(call: Any) -> None:
    kinds = []
    for ns in (symgrad, torch):
        with pytest.raises(Exception) as info:  # noqa: PT011 - the type is compared with PyTorch's
            call(ns, ns.tensor(B))
        kinds.append(type(info.value))
    assert issubclass(kinds[0], kinds[1]), kinds
