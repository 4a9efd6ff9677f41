"""The op registry's core: `Op`, `defop`, and broadcasting undone in one place.

An entry gives the op's name, its NumPy code (a template that is both the eager forward and
what `codegen` prints), its shape and dtype rules, its SymPy form, one vector-Jacobian
product per input, its batching rule, and what users call it by: method names, operators,
the NumPy ufunc, a docstring. VJP rules are written with the operators and methods of the
op surface, so the same rule runs on eager tensors (and records when `create_graph=True`)
and on tracer values (and emits gradient graph nodes). Broadcasting is undone once, in
`vjp`, never in a rule.

Composite functions (`mean`, `binary_cross_entropy_with_logits`, ...) are ordinary
functions of primitives; they have no derivative rule of their own.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import inspect
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgrad.ops import batching
from symgrad.ops import kernels as kernels_module
from symgrad.ops.dispatch import INPLACE


class ShapeError(RuntimeError, ValueError):
    """Shapes that an op cannot combine; a RuntimeError like PyTorch's, a ValueError like NumPy's."""


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: NumPy code template, shape rule, dtype rule and per-input VJPs."""

    name: str
    code: str | Callable[[list[str], dict, Any], str]  # template, or a function of names, params, lib
    template: str | None  # `code` with NumPy's functions and kernels as fields, for printing
    args: tuple[str, ...]
    params: tuple[str, ...]
    shape_rule: Callable[..., tuple[int, ...]]
    vjps: tuple[Callable[..., Any] | None, ...]
    grad_fn: Callable[[tuple, dict], str]  # PyTorch's grad_fn class name for (inputs, params)
    elementwise: bool
    linear: bool
    promote: str | None  # eager dtype promotion: "common" (PyTorch's rules), "float", or None
    forward: Callable[..., np.ndarray]
    dtype_rule: Callable[[tuple, dict], np.dtype] | None
    variadic: bool  # any number of inputs; its VJP rules get `argnum=i`
    kernels: tuple[str, ...]  # helpers from `symgrad.ops.kernels` that its code calls
    reads: tuple[frozenset, ...]  # per VJP rule: input positions ("*": variadic), "ans" it reads
    helpers: dict[str, Callable]  # functions its code calls, bound when generated code loads
    printer: Callable[[list[str], dict, list, Any], str | None] | None  # a form for given shapes
    ufunc: np.ufunc | None  # the NumPy ufunc its code calls: generated code may pass out=
    differentiable: bool  # whether any input has a VJP rule
    inplace: Callable[[list[str], dict, Any], str] | None  # code that writes into input 0, if dead
    view: bool  # its result may share memory with input 0 (generated code must not reuse it)
    # its SymPy form (elementwise ops), for the sympy pass: a function of SymPy expressions, or
    # the name of one (`"exp"`, `"log1p"`, `"Sigmoid"`) that the pass looks up when it runs, so
    # that SymPy is imported only then (see `symgrad.simplify.sympy_pass.form`)
    sympy: Callable[..., Any] | str | None
    batch: Callable[..., Any] | None  # batching rule: see `symgrad.ops.batching`
    commutative: bool  # f(x, y) == f(y, x): a graph reuses f(y, x) for f(x, y)
    methods: tuple[str, ...]  # Surface methods that apply it as is
    functions: tuple[str, ...]  # `symgrad.*` functions that apply it as is
    operators: tuple[str, ...]  # Python operators: "add" is `__add__`, "radd" its reflection
    doc: str
    # PyTorch's Scalar overloads (`pow(x, 2)`, `rsub(x, 2.0)`, `remainder(x, 2)`): input
    # positions where a Python number is a param of the eager node, not an input with an edge
    # (`x ** 2` is PowBackward0 with one edge, where `x * 2` is MulBackward0 with two, the
    # number's None): see `bound`
    scalars: tuple[int, ...] = ()
    # what the eager (PyTorch) face's reflected operator `other <op> x` applies: "commuted",
    # the op on (x, other) (PyTorch's `__radd__` is `add`: x's edge first); a function of
    # (x, other) (`2.0 - x` is `rsub(x, 2.0)`, `2.0 / x` is `x.reciprocal() * 2.0`); or None,
    # the op on (other, x), as Python reads it (`2 ** x`). A traced value keeps Python's.
    reflected: str | Callable[[Any, Any], Any] | None = None

    def saved(self, needs: list[bool]) -> frozenset:
        """What a backward reads when the inputs flagged in `needs` want gradients: the
        values eager mode must keep (and check for in-place changes), as PyTorch saves them.

        A linear op's rules read only shapes, like PyTorch's AddBackward0 that saves nothing.
        """
        if self.linear:
            return frozenset()
        out: frozenset = frozenset()
        for i, need in enumerate(needs):
            if need:
                out |= self.reads[min(i, len(self.reads) - 1)]
        return out

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    def bound(self, positions: tuple[int, ...]) -> Op:
        """This op with the Python numbers at `positions` (some of `scalars`) made params:
        what an eager node records for `x ** 2`, whose one edge is x's. Its rules are this
        op's, given the numbers back in their places; it reads what they read of the
        remaining inputs. Made once per op and positions."""
        return _bound(self, positions)

    def out_shape(self, shapes: tuple[tuple[int, ...], ...], params: dict) -> tuple[int, ...]:
        """The output shape for these input shapes, or a ShapeError naming the op."""
        try:
            return tuple(self.shape_rule(*shapes, **params))
        except ShapeError as e:
            raise ShapeError(f"{self.name}: {e}") from None

    def out_dtype(self, inputs: tuple, params: dict) -> np.dtype:
        """The output dtype NumPy gives for these inputs (dtypes, or Python scalars)."""
        if self.dtype_rule is not None:  # may read params (astype's dtype): not cached
            return np.dtype(self.dtype_rule(inputs, params))
        key = (self, tuple(v if isinstance(v, np.dtype) else type(v) for v in inputs))
        dt = _DTYPE_CACHE.get(key)
        if dt is None:
            if self.elementwise:
                probes = [np.zeros((), v) if isinstance(v, np.dtype) else v for v in inputs]
                with np.errstate(all="ignore"):
                    dt = np.asarray(self.forward(*probes, **params)).dtype
            else:
                dt = np.result_type(*inputs)
            _DTYPE_CACHE[key] = dt
        return dt

    def code_for(self, names: list[str], params: dict, shapes: list, lib: Any) -> str:
        """This op's NumPy expression over the given input expressions, of `shapes`.

        `lib.np.exp` and `lib.kernels.sigmoid` are how the code generator spells NumPy's
        functions and symgrad's kernels; it records each import as the code asks for it.
        """
        if self.printer is not None:
            text = self.printer(names, params, shapes, lib)
            if text is not None:
                return text
        if callable(self.code):
            return self.code(names, params, lib)
        fields = dict(zip(self.args, names))
        fields.update({k: repr(v) for k, v in params.items()})
        return self.template.format(np=lib.np, kernels=lib.kernels, **fields)


@functools.cache
def _bound(op: Op, positions: tuple[int, ...]) -> Op:
    """`Op.bound`: the rules of the inputs that stay, each taking the numbers as params."""
    names = tuple(op.args[p] for p in positions)
    kept = [i for i in range(len(op.args)) if i not in positions]

    def rule_of(i: int) -> Callable | None:
        rule = op.vjps[min(i, len(op.vjps) - 1)]
        if rule is None:
            return None

        def bound_rule(ct: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
            full = list(inputs)
            for p, name in zip(positions, names):
                full.insert(p, params.pop(name))
            return rule(ct, ans, *full, **params)
        return bound_rule

    def reads_of(i: int) -> frozenset:
        read = op.reads[min(i, len(op.reads) - 1)]
        return frozenset(r if r == "ans" else kept.index(r) for r in read if r == "ans" or r in kept)

    vjps = tuple(rule_of(i) for i in kept)
    return dataclasses.replace(op, args=tuple(op.args[i] for i in kept), params=op.params + names, vjps=vjps,
                               reads=tuple(reads_of(i) for i in kept), scalars=(), reflected=None,
                               differentiable=any(rule is not None for rule in vjps))


_DTYPE_CACHE: dict = {}
OPS: dict[str, Op] = {}
UFUNCS: dict[np.ufunc, Op] = {}


def defop(
    name: str,
    code: str,
    vjps: tuple = (),
    shape: Callable[..., tuple[int, ...]] | None = None,
    grad_fn: str | Callable[[tuple, dict], str] | None = None,
    ufunc: np.ufunc | None = None,
    linear: bool = False,
    promote: str | None = "default",
    forward: Callable[..., np.ndarray] | None = None,
    dtype: Callable[[tuple, dict], np.dtype] | None = None,
    variadic: bool = False,
    kernels: tuple[str, ...] = (),
    helpers: dict[str, Callable] | None = None,
    printer: Callable[[list[str], dict, list, Any], str | None] | None = None,
    sympy: Callable[..., Any] | str | None = None,
    inplace: Callable[[list[str], dict, Any], str] | None = None,
    view: bool = False,
    batch: Callable[..., Any] | None = None,
    commutative: bool = False,
    methods: tuple[str, ...] | None = None,
    functions: tuple[str, ...] | None = None,
    operators: tuple[str, ...] = (),
    doc: str = "",
    scalars: tuple[int, ...] = (),
    reflected: str | Callable[[Any, Any], Any] | None = None,
) -> Op:
    """Register a primitive. Without `shape`, it is elementwise with NumPy broadcasting.

    `code` is a NumPy expression with `{role}` fields for inputs and params; it is compiled
    into the eager forward and printed by codegen, so the two never disagree. An op whose
    code depends on its params' structure (indexing) gives `code` as a function of the
    input names, params and `lib` (see `Op.code_for`), and its `forward` explicitly.

    What is left out is derived: an elementwise op is a method and a `symgrad.*` function
    of its own name (`methods`), batches by broadcasting (`batch`), and NumPy calls reach it
    through its `ufunc`. A non-elementwise op writes its method, NumPy binding and batching
    rule next to its entry (see `symgrad.ops.dispatch`).
    """
    args: tuple[str, ...] = ("x",)
    params: tuple[str, ...] = ()
    template = None
    if not callable(code):
        template = _printable(code, kernels)
        fields = [f for _, f, _, _ in string.Formatter().parse(code) if f]
        args = tuple(a for a in "xyzw" if a in fields)  # in this order, as `{y} - {x}` takes them
        params = tuple(dict.fromkeys(f for f in fields if f not in args))
        signature = ", ".join(args) + (", *, " + ", ".join(params) if params else "")
        body = code.format(**{f: f for f in fields})
        namespace = {"np": np, **{k: getattr(kernels_module, k) for k in kernels}, **(helpers or {})}
        source = compile(f"lambda {signature}: {body}", f"<symgrad op {name}>", "eval")
        forward = eval(source, namespace)  # noqa: S307 - our own templates
    if grad_fn is None:
        grad_fn = "".join(p.capitalize() for p in name.split("_")) + "Backward0"
    name_rule = grad_fn if callable(grad_fn) else (lambda inputs, params, _n=grad_fn: _n)
    if not callable(grad_fn):
        name_rule.constant = grad_fn  # the same on every call: eager mode looks it up once
    methods = ((name,) if shape is None else ()) if methods is None else tuple(methods)
    op = Op(
        name=name, code=code, template=template, args=args, params=params,
        shape_rule=shape or broadcast_shapes, vjps=tuple(vjps), grad_fn=name_rule,
        elementwise=shape is None, linear=linear, forward=forward,
        promote=("common" if shape is None else None) if promote == "default" else promote,
        dtype_rule=dtype, variadic=variadic, kernels=kernels,
        reads=tuple(frozenset() if r is None else frozenset(_loaded(r)) for r in vjps),
        helpers=dict(helpers or {}), printer=printer, ufunc=ufunc, sympy=sympy,
        differentiable=any(r is not None for r in vjps), inplace=inplace, view=view,
        batch=batch if batch is not None or shape is not None else batching.elementwise,
        commutative=commutative, operators=tuple(operators), doc=doc,
        methods=methods, functions=methods if functions is None else tuple(functions),
        scalars=tuple(scalars), reflected=reflected,
    )
    OPS[name] = op
    if ufunc is not None:
        UFUNCS[ufunc] = op
    return op


def inplace_methods() -> set[str]:
    """The methods whose in-place form `name_` eager Tensors have, as PyTorch's do: every
    elementwise op's (but the predicates `isnan`, `signbit`...: PyTorch has no in-place
    form of them) and those declared with `@method(..., inplace=True)`."""
    names = {m for op in OPS.values() if op.elementwise for m in op.methods
             if not m.startswith("is") and m != "signbit"}
    return names | INPLACE


def _printable(code: str, kernels: tuple[str, ...]) -> str:
    """A template's printing form: `np.exp({x})` -> `{np.exp}({x})`, `sigmoid({x})` ->
    `{kernels.sigmoid}({x})`, so the printer names (and imports) each function it prints."""
    marked = re.sub(r"\bnp\.(\w+)", r"{np.\1}", code)
    for k in kernels:
        marked = re.sub(rf"\b{k}\(", f"{{kernels.{k}}}(", marked)
    return marked


_METADATA = frozenset({"shape", "ndim", "dtype", "size"})
_METADATA_READERS: set[str] = set()  # functions of a value's metadata (a rule's `f(y)` reads no values)


def metadata_reader(fn: Callable) -> Callable:
    """Declare `fn(v)` a function of `v`'s metadata only (its layout), so that a VJP rule
    calling it on an input does not make eager mode keep that input's values."""
    _METADATA_READERS.add(fn.__name__)
    return fn


def _loaded(rule: Callable) -> set:
    """What a VJP rule `(ct, ans, *inputs)` reads, from its bytecode: input positions, "ans",
    and "*" for a variadic input."""
    names: set[str] = set()
    instructions = list(dis.get_instructions(rule))
    for before, ins, after in zip([None, *instructions], instructions, instructions[1:] + [None]):
        if ins.opname.startswith("LOAD_FAST") or ins.opname == "LOAD_DEREF":
            if isinstance(ins.argval, str) and after is not None and after.opname == "LOAD_ATTR" \
                    and after.argval in _METADATA:
                continue  # `y.ndim`: the rule needs y's shape, not its values
            if isinstance(ins.argval, str) and before is not None and before.opname == "LOAD_GLOBAL" \
                    and before.argval in _METADATA_READERS and after is not None \
                    and after.opname.startswith(("PRECALL", "CALL")) and after.arg == 1:
                continue  # `_column_major(y)`: y's layout, not its values
            names.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    code = rule.__code__
    params = code.co_varnames[:code.co_argcount]
    reads: set = {i for i, name in enumerate(params[2:]) if name in names}
    if len(params) > 1 and params[1] in names:
        reads.add("ans")
    if code.co_flags & inspect.CO_VARARGS and code.co_varnames[code.co_argcount] in names:
        reads.add("*")
    return reads


# ---------------------------------------------------------------- shape rules

_BROADCAST_CACHE: dict[tuple, tuple[int, ...]] = {}

def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast shape, remembered per tuple of shapes (np.broadcast_shapes takes
    4 us, and every elementwise node of every pass asks)."""
    try:
        out = _BROADCAST_CACHE.get(shapes)
    except TypeError:  # a shape given as a list
        shapes = tuple(map(tuple, shapes))
        out = _BROADCAST_CACHE.get(shapes)
    if out is not None:
        return out
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"cannot broadcast shapes {listed}") from None
    if len(_BROADCAST_CACHE) > 4096:  # a long-running process tracing ever new shapes
        _BROADCAST_CACHE.clear()
    _BROADCAST_CACHE[shapes] = out
    return out


# ---------------------------------------------------------------- broadcasting, undone once

def ndim_of(v: Any) -> int:
    """`np.ndim(v)`, without NumPy's dispatch to a value's `__array_function__` (0.5 us a call)."""
    ndim = getattr(v, "ndim", None)
    return np.ndim(v) if ndim is None else ndim


def shape_of(v: Any) -> tuple[int, ...]:
    shape = getattr(v, "shape", None)  # read once: a Tensor's makes a Size
    return () if shape is None else tuple(shape)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, bool, np.number))


def unbroadcast(ct: Any, shape: tuple[int, ...]) -> Any:
    """Sum a cotangent back to an input's shape: the one rule for every broadcasting op."""
    ct_shape = shape_of(ct)
    if ct_shape == shape:
        return ct
    lead = len(ct_shape) - len(shape)
    inner = tuple(lead + i for i, n in enumerate(shape) if n == 1 and ct_shape[lead + i] != 1)
    if lead and not inner:  # only leading axes (a bias's gradient): summed away, no reshape
        return ct.sum(tuple(range(lead)), keepdim=False)
    if lead or inner:
        ct = ct.sum(tuple(range(lead)) + inner, keepdim=True)
    if shape_of(ct) != shape:
        ct = ct.reshape(shape)
    return ct


def vjp(op: Op, i: int, ct: Any, ans: Any, inputs: tuple, params: dict) -> Any:
    """Cotangent of input `i` of one op application, summed back to that input's shape.

    None when the op is not differentiable in that input.
    """
    rule = op.vjps[min(i, len(op.vjps) - 1)]
    if rule is None:
        return None
    if op.variadic:
        return unbroadcast(rule(ct, ans, *inputs, argnum=i, **params), shape_of(inputs[i]))
    return unbroadcast(rule(ct, ans, *inputs, **params), shape_of(inputs[i]))
