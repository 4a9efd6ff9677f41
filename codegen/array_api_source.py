"""The array API back end: a graph as source against its inputs' own array namespace.

The function reads like the NumPy back end's, one statement a line, but calls everything
through `xp`, the namespace array-api-compat finds for its arguments:

    def grad_loss(w, X, y):
        xp = array_namespace(w, X, y)
        a = X @ w
        b = sigmoid(a)
        ...

Dask arrays in give lazy Dask arrays out (the statements build a task graph, chunk by
chunk), CuPy arrays give GPU code, NumPy arrays NumPy's values. Nothing is written into a
buffer (`out=`), blocked into loops or updated in place, which Dask cannot do. An op whose
NumPy code has no array-API spelling (`np.fmod`, SciPy's special functions, a scatter with
index arrays) is a NotImplementedError naming the op, when the code is generated.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.codegen import array_api_kernels, blocks
from symgrad.codegen.numpy_source import (
    _BOUND,
    Program,
    _full,
    _identifier,
    _literal,
    _Operands,
    _shared_outputs,
    assign,
    name_arguments,
)
from symgrad.ir import Graph, Node
from symgrad.ops import OPS

BACKEND = "array_api"
INSTALL = "pip install 'symgrad[dask]'"

# NumPy's names that the standard spells otherwise, and those it spells alike
_RENAMED = {"arccos": "acos", "arccosh": "acosh", "arcsin": "asin", "arcsinh": "asinh",
            "arctan": "atan", "arctan2": "atan2", "arctanh": "atanh", "invert": "bitwise_invert",
            "concatenate": "concat", "power": "pow", "absolute": "abs", "cumprod": "cumulative_prod"}
_STANDARD = {
    "abs", "exp", "expm1", "log", "log1p", "log2", "log10", "logaddexp", "sqrt", "sin", "cos", "tan",
    "sinh", "cosh", "tanh", "ceil", "floor", "trunc", "sign", "signbit", "copysign", "hypot",
    "maximum", "minimum", "where", "isfinite", "isinf", "isnan", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "floor_divide",
    "remainder", "broadcast_to", "ones_like", "zeros_like", "argmax", "argmin", "searchsorted",
    "asarray", "full", "linalg", "square", "clip",
}
_KERNELS = {name for name, fn in vars(array_api_kernels).items()
            if inspect.isfunction(fn) and fn.__module__ == array_api_kernels.__name__}
_TAKEN = {"xp", "np", "array_namespace"} | _BOUND | _KERNELS


class _NoSpelling(Exception):
    """A function the array API has no name for (caught where the op is known)."""


class _Namespace:
    """What op printers call NumPy's functions through (`lib.np.exp`), printed as the
    standard's (`xp.exp`, `xp.acos` for `np.arccos`); others raise _NoSpelling."""

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _RENAMED:
            return f"xp.{_RENAMED[name]}"
        if name in _STANDARD:
            return f"xp.{name}"
        raise _NoSpelling(f"np.{name}")


class _Kernels:
    """symgrad's kernels, as their array-API forms (`array_api_kernels`); recorded as printed."""

    def __init__(self) -> None:
        self.bound: set[str] = set()

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in _KERNELS:
            raise _NoSpelling(f"symgrad's {name} kernel")
        self.bound.add(name)
        return name


class _Lib:
    def __init__(self) -> None:
        self.np, self.kernels = _Namespace(), _Kernels()


# ---------------------------------------------------------------- ops the NumPy way does not fit

def _basic(index: tuple) -> bool:
    return all(kind != "arr" for kind, *_ in index)


def _reduce(fn: str) -> Callable[..., str]:
    return lambda names, p, shapes, lib: (f"xp.{fn}({names[0]}, axis={p['axes']!r}, "
                                          f"keepdims={p['keepdims']!r})")


def _transpose(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
    if len(p["axes"]) == 2 and p["axes"] == (1, 0):
        return f"{names[0]}.T"
    return f"xp.permute_dims({names[0]}, {p['axes']!r})"


def _reshape(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
    indexed = OPS["reshape"].printer(names, p, shapes, lib)  # `x[:, None]`: a basic index
    return indexed if indexed is not None else f"xp.reshape({names[0]}, {p['shape']!r})"


def _cumsum(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
    x, a = names[0], p["axis"]
    if not p["reverse"]:
        return f"xp.cumulative_sum({x}, axis={a})"
    return f"xp.flip(xp.cumulative_sum(xp.flip({x}, axis={a}), axis={a}), axis={a})"


def _round(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
    if p["decimals"] != 0:
        raise _NoSpelling(f"np.round to {p['decimals']} decimals")
    return f"xp.round({names[0]})"


def _indexed(kernel: str, arrays_from: int) -> Callable[..., str]:
    """A scatter/setitem/index_add kernel call, for basic indices only."""
    from symgrad.ops.index import key_code

    def code(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
        if not _basic(p["index"]):
            raise _NoSpelling("item assignment at index arrays (np.add.at)")
        head = ", ".join(names[:arrays_from]) if kernel != "scatter_add" else f"{names[0]}, {p['shape']!r}"
        return f"{getattr(lib.kernels, kernel)}({head}, {key_code(p['index'], names[arrays_from:], True)})"
    return code


def _nan_to_num(names: list[str], p: dict, shapes: list, lib: _Lib) -> str:
    def literal(v: float | None) -> str:
        return repr(v) if v is None or math.isfinite(v) else f"float('{v}')"
    bounds = ", ".join(literal(p[k]) for k in ("nan", "posinf", "neginf"))
    return f"{lib.kernels.nan_to_num}({names[0]}, {bounds})"


_SPELLINGS: dict[str, Callable[[list[str], dict, list, _Lib], str]] = {
    "sum": _reduce("sum"), "amax": _reduce("max"), "amin": _reduce("min"), "prod": _reduce("prod"),
    "astype": lambda names, p, shapes, lib: f"xp.astype({names[0]}, xp.{np.dtype(p['dtype']).name})",
    "transpose": _transpose, "reshape": _reshape, "cumsum": _cumsum,
    "round": _round, "nan_to_num": _nan_to_num,
    "pow": lambda names, p, shapes, lib: f"xp.pow({names[0]}, {names[1]})",
    "cat": lambda names, p, shapes, lib: f"xp.concat(({', '.join(names)},), axis={p['axis']})",
    "sigmoid": lambda names, p, shapes, lib: f"{lib.kernels.sigmoid}({names[0]})",
    "binary_cross_entropy": lambda names, p, shapes, lib: f"{lib.kernels.binary_cross_entropy}({names[0]}, "
                                                          f"{names[1]})",
    "prod_others": lambda names, p, shapes, lib: f"{lib.kernels.prod_others}({names[0]}, {p['axes']!r})",
    "svdvals": lambda names, p, shapes, lib: f"xp.linalg.svdvals({names[0]})",
    # NumPy's is a kernel (`kernels.bitwise_where`: a bit mask for a zero branch); the standard's plain
    "where": lambda names, p, shapes, lib: f"xp.where({names[0]}, {names[1]}, {names[2]})",
    "scatter_add": _indexed("scatter_add", 1), "setitem": _indexed("setitem", 2),
    "index_add": _indexed("index_add", 2),
}


# ---------------------------------------------------------------- generation

def generate(graph: Graph, name: str, title: str, output_names: list[str] | None = None,
             debug_nans: bool = False) -> Program:
    """Source of `name(*inputs)` computing the graph's outputs in the inputs' namespace.

    Raises NotImplementedError naming the op for an op with no array-API spelling.
    """
    w = _Writer(graph, debug_nans)
    fn_name = name_arguments(w, graph, name, output_names)
    args = ", ".join(w.names[n] for n in graph.inputs)
    body = [f"    xp = array_namespace({args})" if args else "    xp = array_namespace(np.zeros(()))"]
    for n in graph.nodes:  # bound as NumPy arrays, moved into xp's arrays (a CuPy device) per call
        if n.op == "const" and n.scalar is None:
            w.names[n] = _identifier(f"const{len(w.constants)}", w.taken)
            host = _identifier(f"{w.names[n]}_host", w.taken)
            w.constants[host] = n.value
            body.append(f"    {w.names[n]} = xp.asarray({host})")
    for n in w.order:
        body += w.statement(n)
    shared = _shared_outputs(graph)
    outs = [_literal(n.scalar) if n.scalar is not None
            else f"xp.asarray({w.names[n]}, copy=True)" if k in shared else w.names[n]
            for k, n in enumerate(graph.outputs)]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    header = [f"# {line}" for line in title.splitlines()]
    header.append("# array API back end: xp is the arguments' namespace (NumPy, Dask, CuPy...)")
    if w.constants:
        header.append(f"# bound when loaded: {', '.join(sorted(w.constants))}")
    imports = ["import numpy as np", "from array_api_compat import array_namespace"]
    if w.lib.kernels.bound:
        kernels = ", ".join(sorted(w.lib.kernels.bound))
        imports.append(f"from symgrad.codegen.array_api_kernels import {kernels}")
    lines = header + imports + ["", "", f"def {fn_name}({args}):", *body, f"    return {ret}", ""]
    return Program(fn_name, "\n".join(lines), w.constants)


class _Writer:
    """One function's statements, in the NumPy back end's order, each a fresh array."""

    def __init__(self, graph: Graph, debug_nans: bool) -> None:
        self.graph, self.debug_nans = graph, debug_nans
        self.taken = set(_TAKEN)
        for n in graph.nodes:
            if n.op in OPS:
                self.taken.update(OPS[n.op].helpers)
        self.names: dict[Node, str] = {}
        self.constants: dict[str, Any] = {}
        self.lib = _Lib()
        self.listing = graph.names()
        order = [n for n in graph.nodes if n.op not in ("input", "const") and n.scalar is None]
        self.order = order if debug_nans else blocks.schedule(graph, order)
        uses: dict[Node, int] = {}
        for n in order:
            for i in n.inputs:
                uses[i] = uses.get(i, 0) + 1
        self.inline = set() if debug_nans else {  # views read once, like `w.T`, are written in place
            n for n in order if n.op in ("transpose", "reshape") and uses.get(n) == 1
            and n not in graph.outputs and n.inputs[0].scalar is None}

    def name(self, n: Node) -> str:
        if n not in self.names:
            self.names[n] = _identifier(self.listing[n], self.taken)
        return self.names[n]

    def expression(self, n: Node) -> str:
        """The array-API code computing `n`; NotImplementedError for an op with none."""
        op = OPS[n.op]
        operands: Sequence[str] = _Operands(self, n, {})  # type: ignore[arg-type]
        shapes = [i.shape for i in n.inputs]
        try:
            if _full(self.graph, n):
                value = n.inputs[0].scalar
                value = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
                return f"xp.full({n.shape!r}, {_literal(value)}, dtype=xp.{np.dtype(n.dtype).name})"
            if n.op in _SPELLINGS:
                expr = _SPELLINGS[n.op](operands, n.params, shapes, self.lib)
            elif op.helpers:
                raise _NoSpelling(f"its helper {', '.join(op.helpers)}")
            elif callable(op.code):
                expr = op.code(operands, n.params, self.lib)
            else:
                fields = dict(zip(op.args, operands))
                fields.update({k: repr(v) for k, v in n.params.items()})
                expr = op.template.format(np=self.lib.np, kernels=self.lib.kernels, **fields)
        except _NoSpelling as e:
            raise NotImplementedError(
                f"op '{n.op}' has no array-API spelling ({e}): the {BACKEND} back end (Dask, CuPy) "
                f"cannot generate it; use backend='numpy' on NumPy arrays") from None
        if all(i.scalar is not None for i in n.inputs):
            expr = f"xp.asarray({expr})"  # literals only (an unsimplified graph): keep an array
        return expr

    def statement(self, n: Node) -> list[str]:
        return assign(self, n, self.expression(n))


# ---------------------------------------------------------------- calling

def arguments(leaves: Sequence[Any]) -> list[Any]:
    """The arguments' leaves in one namespace: that of their Dask or CuPy arrays (or NumPy's
    for none), NumPy arrays and numbers moved into it (`xp.asarray`), so that a NumPy weight
    vector meets Dask data chunks (or a CuPy device) as one of them."""
    from array_api_compat import array_namespace, is_array_api_obj

    foreign = [leaf for leaf in leaves if is_array_api_obj(leaf) and not isinstance(leaf, np.ndarray)]
    xp = array_namespace(*foreign) if foreign else array_namespace(np.zeros(()))
    return [leaf if any(leaf is f for f in foreign) else xp.asarray(np.asarray(leaf)) for leaf in leaves]


def finish(outs: Any, compute: bool) -> Any:
    """The generated function's results, computed together (one pass over the chunks they
    share) when `compute` and any is a Dask array; as they are otherwise (lazy)."""
    if not compute:
        return outs
    import sys

    dask = sys.modules.get("dask")
    several = isinstance(outs, tuple)
    values = outs if several else (outs,)
    if dask is None or not any(dask.is_dask_collection(v) for v in values):
        return outs
    values = dask.compute(*values)
    return values if several else values[0]


def as_returned(value: Any) -> Any:
    """One result as the transform returns it: a NumPy scalar (what computing a 0-d Dask array
    gives) as a 0-d array, like the NumPy back end's; any array as it is."""
    return np.asarray(value) if isinstance(value, (np.generic, float, int)) else value
