"""The raw interpreter of the VJP rules: a backward without `create_graph` runs on arrays.

The registry's rules are written with the op surface (`ct * y`, `ct.sum(axes, keepdim=True)`),
so they run on any kind of value. On eager Tensors each of their ops pays the whole dispatch:
lifting, promotion, the recording checks. A backward that records nothing needs none but the
promotion, so it runs the same rules on `Raw` values: an array in a `Tensor` subclass whose
`_apply` is `op.forward` on PyTorch's promoted dtypes (the Tensor's own `_promote`), with no
graph, no versions and no hooks. One rule per op serves both paths, and the two paths agree
bit for bit because each op runs the same NumPy code on the same dtypes.

Between nodes the walk passes bare arrays: `run` takes a node's cotangents as arrays and
returns its gradients as arrays, wrapping them as `Raw` only inside, where a rule is
interpreted. Hooks, retained and captured gradients, and nodes other than primitives' see
Tensors (`tensor`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager.engine import RAW, OpNode, OpNode2, _nodes, _Shape
from symgrad.eager.tensor import Tensor, _promote, _ufunc_called, _weak
from symgrad.ops import Op, vjp


class Raw(Tensor):
    """An array that the VJP rules' ops run on directly (a Tensor only for promotion's sake)."""

    __slots__ = ()
    _priority = 2  # above Tensor's: an op meeting a Raw and a Tensor runs raw
    _requires_grad, grad_fn = False, None  # what Tensor's methods (__array__, repr) read

    @classmethod
    def _make(cls, data: Any, grad_fn: Any = None, counter: list | None = None) -> Raw:
        r = object.__new__(Raw)
        r._data = data if type(data) is np.ndarray else np.asarray(data)
        return r

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def detach(self) -> Raw:
        """No graph to cut: the value itself (a rule's composite, `softmax`, detaches its shift)."""
        return self

    def _constant(self, value: Any) -> Raw:
        return value if isinstance(value, Raw) else Raw._make(
            value._data if isinstance(value, Tensor) else np.asarray(value))

    @classmethod
    def _lift(cls, value: Any, fn: str = "tensor") -> Any:
        """As `Tensor._lift` (which checks every operand), an operand's array as a Raw."""
        if isinstance(value, np.generic):
            return _weak(value)
        if isinstance(value, np.ndarray):
            return Raw._make(value)
        return Tensor._lift(value, fn)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Raw:
        return Raw._make(_forward(op, args, params)[2])

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)


def _forward(op: Op, args: tuple, params: dict) -> tuple[tuple, list, Any]:
    """`op` on `args` as a rule applies it: operands lifted, promoted as PyTorch promotes,
    the forward run (a ShapeError naming the op where shapes do not combine). Returns the
    operands, the arrays the op ran on and its result."""
    for a in args:
        if not isinstance(a, Tensor) and type(a) is not float and type(a) is not int:
            args = tuple(Raw._lift(a, op.name) for a in args)
            break
    datas = _promote(op, args)
    try:
        out = op.forward(*datas, **params)
    except (ValueError, IndexError):
        op.out_shape(tuple(np.shape(d) for d in datas), params)  # raises ShapeError
        raise
    return args, datas, out


def accumulate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b, two gradients of one tensor (arrays): NumPy's sum when their dtypes agree (so
    does PyTorch's promotion), the promoting op otherwise."""
    out = a + b if a.dtype == b.dtype else (Raw._make(a) + Raw._make(b))._data
    return out if type(out) is np.ndarray else np.asarray(out)  # 0-d: an array, not a scalar


def tensor(g: np.ndarray) -> Tensor:
    """A gradient (an array) as the Tensor users see."""
    return Tensor._make(g)


def arrays(gs: list) -> list:
    """Gradients as the walk passes them: Tensors (or a user's array-likes) as arrays, None
    kept."""
    out = []
    for g in gs:
        if g is not None:
            g = g._data if isinstance(g, Tensor) else np.asarray(g)
        out.append(g)
    return out


def interpret(node: OpNode, cts: list) -> list:
    """`node.apply` without `create_graph`, on raw values: the registry's VJP of each input
    that takes a gradient (an edge), None for the others, whose rules never run. Arrays in,
    arrays out."""
    inputs, ans = node.saved_values()
    return arrays(_vjps(node, Raw._make(cts[0]), None if ans is None else Raw._make(ans),
                        tuple(Raw._make(a._data) if isinstance(a, Tensor) else a for a in inputs)))


def _on_tensors(node: OpNode, cts: list) -> list:
    """A user's rule runs as it always has: on the Tensors it was written for."""
    inputs, ans = node.saved_values()
    return arrays(_vjps(node, Tensor._make(cts[0]), None if ans is None else Tensor._make(ans), inputs))


def _vjps(node: OpNode, ct: Any, ans: Any, inputs: tuple) -> list:
    op, params = node._op, node._params
    return [None if child is None else vjp(op, i, ct, ans, inputs, params)
            for i, child in enumerate(_nodes(node))]


# ---------------------------------------------------------------- rules traced once per signature

class _Untraceable(Exception):
    """A rule read a traced value's data in Python: its trace would not replay."""


class _Trace:
    """The NumPy calls one VJP application made, as straight-line code to replay them.

    Each line is (result, function, operands, keywords, candidates): `candidates` are the
    operands whose buffer the result could be written into (a ufunc's operand of the
    result's shape and dtype). `fresh` holds the variables whose buffer nothing outside
    the replay holds: a ufunc's results, and the cotangent `v0` when the walk owns it.
    At compile, a candidate read for the last time and fresh becomes the ufunc's `out=`,
    as PyTorch's backward reuses a buffer only it holds."""

    def __init__(self, n_args: int, owned: bool = False) -> None:
        self.lines: list[tuple[str, str, list[str], str | None, list[str]]] = []
        self.names: dict[str, Any] = {}
        self.n_args = self.n = n_args
        self.fresh: set[str] = {"v0"} if owned else set()

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def bind(self, value: Any) -> str:
        name = f"c{len(self.names)}"
        self.names[name] = value
        return name

    def compile(self, outs: list, zero_d: frozenset[str] | set[str] = frozenset()) -> Callable:
        """The replay: arguments `v0...`, returning `outs`, those named in `zero_d` (0-d
        in the trace, where a ufunc returns a NumPy scalar) made arrays, so the walk takes
        the replay's tuple as it is."""
        last = {}  # variable -> the last line that reads it (the outputs: past the end)
        for k, (_, _, refs, _, _) in enumerate(self.lines):
            for r in refs:  # `v3`, or `v3.astype(c1)`: a read of v3 all the same
                last[r.partition(".")[0]] = k
        for o in outs:
            last[o] = len(self.lines)
        body = []
        for k, (var, fn, refs, kwargs, candidates) in enumerate(self.lines):
            call = ", ".join(refs + ([f"**{kwargs}"] if kwargs else []))
            into = next((c for c in candidates if c in self.fresh and last[c] == k), None)
            if into is not None:
                call += f", out={into}"
            body.append(f"    {var} = {fn}({call})\n")
        args = ", ".join(f"v{i}" for i in range(self.n_args))
        results = "".join(f"_asarray({o}), " if o in zero_d else f"{o}, " for o in outs)
        source = f"def replay({args}):\n{''.join(body)}    return ({results})\n"
        scope = dict(self.names, _asarray=np.asarray)
        exec(compile(source, "<symgrad raw backward>", "exec"), scope)  # noqa: S102 - our own code
        scope["replay"].__symgrad_source__ = source  # to read, as a fused composite's
        return scope["replay"]


class _Recorded(Raw):
    """A Raw that also writes each op applied to it into its trace."""

    __slots__ = ("_trace", "_var")
    _priority = 3

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Raw:
        trace = next(a._trace for a in args if type(a) is _Recorded)
        args, datas, out = _forward(op, args, params)
        out = out if type(out) is np.ndarray else np.asarray(out)
        ufunc = _ufunc(op)
        if ufunc is not None and _same_loop(ufunc, args, datas):
            datas = [a._data if isinstance(a, Tensor) else d for a, d in zip(args, datas)]
        refs, candidates = [], []
        elementwise = ufunc is not None and ufunc.signature is None  # not matmul's gufunc
        for a, d in zip(args, datas):
            if type(a) is _Recorded and a._trace is trace:
                if d is a._data:
                    refs.append(a._var)
                    if elementwise and d.shape == out.shape and d.dtype == out.dtype and out.ndim:
                        candidates.append(a._var)
                else:
                    refs.append(f"{a._var}.astype({trace.bind(d.dtype)})")
            else:  # a constant of the rule: the same for every replay of this signature
                refs.append(trace.bind(d))
        var = trace.var()
        trace.lines.append((var, trace.bind(ufunc if elementwise else op.forward), refs,
                            trace.bind(params) if params else None, candidates))
        if ufunc is not None:
            trace.fresh.add(var)
        return _recorded(out, trace, var)

    def _data_read(self, *args: Any, **kwargs: Any) -> Any:
        raise _Untraceable

    __bool__ = __float__ = __int__ = __index__ = __complex__ = __array__ = _data_read
    item = tolist = numpy = equal = _data_read


_UFUNCS: dict[Op, np.ufunc | None] = {}


def _ufunc(op: Op) -> np.ufunc | None:
    """The ufunc `op.forward` is a call of, on its operands in order (`np.exp({x})`,
    `{x} * {y}`), else None: its result is a fresh array, which `out=` can name."""
    if op not in _UFUNCS:
        _UFUNCS[op] = _ufunc_called(op)
    return _UFUNCS[op]


def _same_loop(ufunc: np.ufunc, args: tuple, datas: list) -> bool:
    """Whether NumPy runs `ufunc` on the operands as promotion left them in the same loop
    as on the arrays promotion cast (float32 * bool as float32 * float32): then the cast,
    a pass and a buffer, is NumPy's own, made as it reads."""
    if not all(isinstance(a, Tensor) for a in args):  # a Python number: its cast stays explicit
        return False
    outs = (None,) * ufunc.nout
    try:
        given = ufunc.resolve_dtypes(tuple(a._data.dtype for a in args) + outs)
        cast = ufunc.resolve_dtypes(tuple(d.dtype for d in datas) + outs)
    except (TypeError, ValueError):  # no loop for the operands as given
        return False
    return given == cast


def _recorded(data: Any, trace: _Trace, var: str) -> _Recorded:
    r = object.__new__(_Recorded)
    r._data = data if type(data) is np.ndarray else np.asarray(data)
    r._trace, r._var = trace, var
    return r


_CACHE: dict = {}  # signature -> [trace, outputs, 0-d outputs] once seen, then the compiled replay
_PURE: dict[Op, bool] = {}  # whether an op's rules are pure functions of their arguments
_UNTRACEABLE = object()


def run(node: OpNode, cts: list) -> list:
    """`interpret`, compiled: a node's VJPs (arrays in, arrays out) run as straight-line
    NumPy code traced from the rules once per signature (op, params, which inputs want
    gradients, the cotangent's and inputs' shapes and dtypes, the layouts of a node's several
    inputs (`linalg._column_major`), scalar inputs' values), the second time it is seen. The
    trace records each op's forward with the dtype casts promotion made, which depend on
    nothing else. A rule that reads a value's data in Python stays interpreted; a user's rule
    (extend, custom_vjp: it may read a global that changes) runs on Tensors. (A node runs
    once per backward: its signature is built inline, flat.)"""
    op = node._op
    pure = _PURE.get(op)
    if pure is None:  # the registry's own rules
        pure = _PURE[op] = all(r is None or r.__module__.startswith("symgrad.ops.") for r in op.vjps)
    if not pure:
        return _on_tensors(node, cts)
    inputs, ans = node.saved_values()
    ct = cts[0]
    # a buffer that only the walk holds (here the list `cts`, `ct` and the argument) the
    # replay may write into: a buffer shared with anything, a Tensor, a user's, has more
    owned = _refcount(ct) == 3 and (f := ct.flags).owndata and f.writeable
    # the signature, flat: the op, params, ownership, which edges take a gradient (a bit
    # each), the cotangent's shape and dtype, then per input its kept `_Shape` itself (one
    # per shape, dtype and layout), an array's shape, dtype and strides (three parts), or a
    # number's key (a pair led by its type): each part tells its kind, so no input's parts
    # read as another's
    params = node._params
    pk = _params_key(params) if params else None
    if len(inputs) == 1:  # a recorded op of one input: its edge takes a gradient
        a = inputs[0]
        if type(a) is _Shape:
            sig = (op, pk, owned, ct.shape, ct.dtype, a)
        elif isinstance(a, Tensor):
            a = a._data
            sig = (op, pk, owned, ct.shape, ct.dtype, a.shape, a.dtype)
        else:
            sig = (op, pk, owned, ct.shape, ct.dtype, _number(a))
        args = (ct, ans, a)
    else:
        if isinstance(node, OpNode2):  # its edges in slots
            edges = (node._edge0 is None) + 2 * (node._edge1 is None)
        else:
            edges = sum(1 << i for i, c in enumerate(node._next) if c is None)
        parts, args = [op, pk, owned, edges, ct.shape, ct.dtype], [ct, ans]
        for a in inputs:
            if type(a) is _Shape:
                parts.append(a)
            elif isinstance(a, Tensor):  # and its layout, which matmul's rule reads
                a = a._data
                parts.append(a.shape)
                parts.append(a.dtype)
                parts.append(a.strides)
            else:
                parts.append(_number(a))
            args.append(a)
        sig = tuple(parts)
    try:
        entry = _CACHE.get(sig)
    except TypeError:  # unhashable params
        return interpret(node, cts)
    if entry is None or type(entry) is list:
        return _traced(node, sig, entry, list(args), inputs)
    if entry is _UNTRACEABLE:
        return interpret(node, cts)
    return entry(*args)  # a tuple of arrays and None


_refcount = sys.getrefcount


def _number(a: Any) -> tuple:
    """A number input's part of a signature, its value being the trace's: a float by its bits
    where its value does not tell them (-0.0 is 0.0, nan is no nan), a bool is not 1."""
    if type(a) is float and (a != a or not a):
        return (float, a.hex())
    return (type(a), a)


def _params_key(params: dict) -> tuple:
    """A node's params as a key: a float by its bits (-0.0 is not 0.0, 1.0 is not 1)."""
    for v in params.values():
        if type(v) is float:
            return tuple((k, v.hex() if type(v) is float else v) for k, v in params.items())
    return tuple(params.items())


def _traced(node: OpNode, sig: tuple, entry: list | None, args: list, inputs: tuple) -> list:
    """The first sight of a signature records its trace; the second compiles it."""
    if entry is not None:
        trace, outs, zero_d = entry
        replay = trace.compile(outs, zero_d)
        _CACHE[sig] = replay
        return arrays(replay(*args))
    ct, ans = args[0], args[1]
    trace = _Trace(2 + len(inputs), owned=sig[2])
    try:
        got = _vjps(node, _recorded(ct, trace, "v0"),
                    None if ans is None else _recorded(ans, trace, "v1"),
                    tuple(_recorded(a._data, trace, f"v{k + 2}") if isinstance(a, Tensor) else a
                          for k, a in enumerate(inputs)))
    except _Untraceable:
        _CACHE[sig] = _UNTRACEABLE
        return interpret(node, [ct])
    outs, zero_d = [], set()
    for g in got:
        if g is None:
            outs.append("None")
        elif type(g) is _Recorded and g._trace is trace:
            outs.append(g._var)
            if not g._data.ndim:
                zero_d.add(g._var)
        else:
            outs.append(trace.bind(g._data))
    if len(_CACHE) > 4096:  # a long-running process meeting ever new shapes
        _CACHE.clear()
    _CACHE[sig] = [trace, outs, zero_d]
    return arrays(got)


RAW.update(run=run, visible=tensor, hold=Raw._make, add=accumulate, arrays=arrays)
