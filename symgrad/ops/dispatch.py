"""Dispatch: applying an op to values of any kind, and declaring what users call it by.

Every kind of value that records ops (the eager `Tensor`, the tracer's `Tracer`, reverse
mode's batched cotangent) subclasses `Value` and implements its hooks. `apply(op, *args)`
hands the op to the kind of highest priority among the arguments, so an op on a tracer and
an array records into the trace. The registry names no kind: the eager engine registers
itself as `Value._default`, the kind plain arrays become.

The bindings of an op are declared next to its entry, into three tables the op surface
reads: `@method` (a `Value` method, e.g. `sum` with PyTorch's and NumPy's arguments),
`@function` (a `symgrad.*` function) and `@numpy_function` (what `np.sum(value)` does).
An elementwise op needs none of them: its method, function and ufunc derive from its entry.

Two faces, never mixed: a traced value behaves as an ndarray and an eager Tensor as a
torch.Tensor. A method whose meaning differs between the two (`var`'s default correction,
`max(0)` giving values or (values, indices), `repeat`, `size`) is registered once per face,
`@method(..., face="numpy")` and `face="torch"`; ops' own rules call only shared methods.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from symgrad.ops.core import Op


class Value:
    """Base of every kind of value that ops apply to; each kind implements the hooks."""

    __slots__ = ()
    __array_priority__ = 1000
    _priority = 0  # when values of two kinds meet, the higher priority records the op
    _default: type[Value]  # the kind that plain arrays turn into (the eager Tensor)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Value:
        """Run or record one primitive on `args` (values of this kind, arrays, scalars)."""
        raise NotImplementedError

    @classmethod
    def _apply_one(cls, op: Op, x: Any, params: dict, name: str | None) -> Value:
        """`_apply(op, (x,), params, name)`: a kind may run one operand faster."""
        return cls._apply(op, (x,), params, name)

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Value:
        """Run a composite function: eagerly as one named graph node, or inlined in a trace."""
        raise NotImplementedError

    @classmethod
    def _lift(cls, value: Any) -> Any:
        """A non-value array argument as a value of this kind (the eager default)."""
        raise NotImplementedError

    def _constant(self, value: Any) -> Value:
        """`value` as a constant of this value's kind (and, for a tracer, its graph)."""
        raise NotImplementedError

    def _number(self, value: int | float, *like: Value) -> Value:
        """A Python number as a value of this kind that promotes with `like` as the number
        would (weakly, as in `2.5 * x`)."""
        return self._constant(value)


def apply(op: Op, *args: Any, _name: str | None = None, **params: Any) -> Value:
    """Apply a primitive to values, arrays or Python scalars."""
    if len(args) == 1 and isinstance(args[0], Value):  # `x.T`, `x.t()`: `apply_one`'s path
        return ALONE[type(args[0])]._apply_one(op, args[0], params, _name)
    kind: type[Value] = Value._default  # owner(args), inlined: every op passes here
    for a in args:
        if isinstance(a, Value) and type(a)._priority > kind._priority:
            kind = type(a)
    return kind._apply(op, args, params, _name)


def apply_one(op: Op, x: Value, params: dict, name: str | None = None) -> Value:
    """`apply(op, x, **params)` for a method applying an op to its value alone (`x.reshape`,
    `x.sum`): the owner is `x`'s kind, and the params dict is the caller's."""
    return ALONE[type(x)]._apply_one(op, x, params, name)


def lift(x: Any, *like: Any) -> Value:
    """`x` as a value of the kind found among `like` (a constant of a tracer's graph, or an
    eager tensor): arrays, lists and scalars that an op or function is given."""
    if isinstance(x, Value):
        return x
    kind = owner(like)
    first = next((v for v in like if type(v) is kind), None)
    return first._constant(x) if first is not None else Value._default._lift(np.asarray(x))


def owner(args: Sequence[Any]) -> type[Value]:
    """The kind of value that records an op on `args`."""
    best: type[Value] = Value._default
    for a in args:
        if isinstance(a, Value) and type(a)._priority > best._priority:
            best = type(a)
    return best


class _Alone(dict):
    """kind -> `owner` of values of that kind and Python numbers, worked out once per kind:
    the usual operands (`x + y`, `x * 2.0`, `x.exp()`) skip the loop over them."""

    def __missing__(self, kind: type[Value]) -> type[Value]:
        best = self[kind] = kind if kind._priority > Value._default._priority else Value._default
        return best


ALONE = _Alone()


# ---------------------------------------------------------------- bindings

METHODS: dict[str, Callable] = {}  # name -> method of every Value (operators included)
FACES: dict[str, dict[str, Any]] = {"numpy": {}, "torch": {}}  # face -> its own methods
FUNCTIONS: dict[str, Callable] = {}  # name -> `symgrad.<name>`
NUMPY: dict[Callable, Callable] = {}  # NumPy function -> its implementation on values
INPLACE: set[str] = set()  # methods that also have a PyTorch in-place form `name_` on eager Tensors
COMPOSITES: list[Callable] = []  # every `@composite` as declared (its `__wrapped__` is the definition)


def method(*names: str, function: bool = False, face: str | None = None,
           inplace: bool = False) -> Callable[[Callable], Callable]:
    """Register a method of every value under `names` (of one face's values only, with
    `face`); with `function`, also the `symgrad.*` function of its first name, which lifts
    its first argument to a value. `symgrad.*` is PyTorch's namespace: its functions have
    PyTorch's meaning on every kind of value. With `inplace`, eager Tensors also get the
    in-place form `name_` of each name (an elementwise op's methods always do)."""
    table = METHODS if face is None else FACES[face]
    if inplace:
        INPLACE.update(names)

    def deco(fn: Callable) -> Callable:
        fn.__name__ = fn.__qualname__ = names[0]
        bound = _torch_aliases(fn) if face == "torch" else fn
        for name in names:
            table[name] = torch_keywords(name, bound)
        if function:
            FUNCTIONS[names[0]] = function_of(names[0], fn.__doc__ or "", torch_keywords(names[0], bound))
        return fn
    return deco


# PyTorch's names for arguments that symgrad's methods and functions take positionally
# (`*shape`, `*dims`), in their order after the tensor: `x.reshape(shape=(2, 3))` is
# `x.reshape((2, 3))`, `x.transpose(dim0=0, dim1=1)` is `x.transpose(0, 1)`.
TORCH_KEYWORDS: dict[str, tuple[str, ...]] = {
    "reshape": ("shape",), "view": ("size",), "expand": ("size",), "broadcast_to": ("size",),
    "permute": ("dims",), "flip": ("dims",), "tile": ("dims",), "repeat": ("repeats",),
    "transpose": ("dim0", "dim1"),
    # creation functions (no tensor first): `symgrad.zeros(size=(2, 3))`
    "ones": ("size",), "zeros": ("size",), "empty": ("size",), "rand": ("size",), "randn": ("size",),
}


def torch_keywords(name: str, fn: Callable, start: int = 1) -> Callable:
    """`fn` (registered as `name`) also taking PyTorch's keywords for its positional
    arguments, from `TORCH_KEYWORDS`, which come at `start` (after the tensor; 0 for the
    creation functions). Keywords `fn` itself names are left to it."""
    named = {k for k, p in inspect.signature(fn).parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    keywords = tuple(k for k in TORCH_KEYWORDS.get(name, ()) if k not in named)
    if not keywords:
        return fn

    given = frozenset(keywords)

    @functools.wraps(fn)
    def keyworded(*args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            return fn(*args)
        if given.isdisjoint(kwargs):
            return fn(*args, **kwargs)
        args = list(args)
        for position, keyword in enumerate(keywords, start=start):
            if keyword not in kwargs:
                continue
            if len(args) > position:
                raise TypeError(f"{name}() got multiple values for argument '{keyword}'")
            if len(args) < position:
                raise TypeError(f"{name}() missing required argument '{keywords[len(args) - start]}'")
            args.append(kwargs.pop(keyword))
        return fn(*args, **kwargs)
    return keyworded


def _torch_aliases(fn: Callable) -> Callable:
    """`fn` taking PyTorch's NumPy-style aliases too: `axis=` for `dim=`, `keepdims=` for
    `keepdim=` (`torch.cumsum(x, axis=0)` works)."""
    params = inspect.signature(fn).parameters
    aliases = {a: d for a, d in (("axis", "dim"), ("keepdims", "keepdim")) if d in params and a not in params}
    if not aliases:
        return fn

    @functools.wraps(fn)
    def aliased(*args: Any, **kwargs: Any) -> Any:
        for alias, name in aliases.items():
            if alias in kwargs:
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return aliased


def function_of(name: str, doc: str, fn: Callable | None = None) -> Callable:
    """`symgrad.<name>(input, ...)`: `fn`, or the method `name`, on `input` made a value first
    (a Python number weakly, as in `2.5 * x`: `torch.add(0.75, int32_tensor)` is float32)."""
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        like = [a for a in args if isinstance(a, Value)] if type(input) in (int, float, bool) else None
        value = like[0]._number(input, *like) if like else lift(input)
        return fn(value, *args, **kwargs) if fn else getattr(value, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def function(fn: Callable | None = None, *, name: str | None = None) -> Callable:
    """Register `fn` as the `symgrad.*` function of its name, or of `name`: a dotted name
    ("linalg.solve", "special.expit") puts it in that namespace, as PyTorch's `torch.linalg`."""
    def deco(fn: Callable) -> Callable:
        FUNCTIONS[name or fn.__name__] = fn
        return fn
    return deco(fn) if fn is not None else deco


def numpy_function(*funcs: Callable) -> Callable[[Callable], Callable]:
    """Register what the NumPy functions `funcs` do when given values."""
    def deco(handler: Callable) -> Callable:
        for f in funcs:
            NUMPY[f] = handler
        return handler
    return deco


def composite(grad_fn: str | Callable[..., str]) -> Callable[[Callable], Callable]:
    """Declare a function of primitives that eager mode shows as one `grad_fn` node.

    It has no derivative rule of its own: eager backward walks its primitives and a trace
    inlines them.
    """
    def deco(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        first = next(iter(signature.parameters.values()), None)
        # the first argument is the data (checked as PyTorch checks `input`), unless declared a str
        data_first = first is not None and first.kind is first.POSITIONAL_OR_KEYWORD and (
            first.annotation not in ("str", str))
        positional = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Value:
            if data_first and args and not isinstance(args[0], Value):
                others = (*args[1:], *kwargs.values())
                if not _operand(args[0]) or not any(isinstance(a, Value) for a in others):
                    raise TypeError(f"{fn.__name__}(): argument '{first.name}' (position 1) must be Tensor, "
                                    f"not {type(args[0]).__name__}")
                args = (lift(args[0], *others), *args[1:])  # F.mse_loss(array, x): data like x
            name = grad_fn(*args, **kwargs) if callable(grad_fn) else grad_fn
            if kwargs:  # F.mse_loss(x, target=y): y is an operand like x
                args, kwargs = _by_position(positional, args, kwargs)
            return owner((*args, *kwargs.values()))._composite(fn, name, args, kwargs)
        COMPOSITES.append(wrapper)
        return wrapper
    return deco


def _by_position(names: list[str], args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Keyword arguments that continue the positional ones (`names`, the parameters that
    may be either), moved to their positions, as `inspect.Signature.bind` gives them (its
    `args` and `kwargs`), in a tenth of its time; a wrong call is left to the function."""
    n = len(args)
    if n >= len(names) or names[n] not in kwargs:
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    while n < len(names) and names[n] in kwargs:
        args.append(kwargs.pop(names[n]))
        n += 1
    return tuple(args), kwargs


def _operand(value: Any) -> bool:
    """Whether a composite's first argument can be its data beside a value among the others:
    a number, a numeric array or a (nested) sequence of them; not a string, None or a dict."""
    if isinstance(value, (Value, bool, int, float, np.integer, np.floating, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    return isinstance(value, (list, tuple)) and all(map(_operand, value))


def no_out(name: str, out: Any = None, **kwargs: Any) -> None:
    """NumPy's `out=` and unknown keywords are refused, naming the function."""
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on symgrad values")
    extra = {k: v for k, v in kwargs.items() if v is not None and k not in ("dtype",)}
    if extra:
        raise TypeError(f"numpy.{name}: unsupported argument(s) {', '.join(sorted(extra))}")


# ---------------------------------------------------------------- the user's line

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # symgrad/
# installed libraries (NumPy, SciPy, pytest...) and the standard library: not the user's code
_LIBRARIES = tuple({os.path.abspath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib", "stdlib")})


def _where(frame: Any) -> str:
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{where}: {text}" if text else where


def call_sites(frame: Any = None) -> tuple[str, str]:
    """(`file:line: source` of the innermost caller outside symgrad and installed libraries,
    or ''; the innermost library function between it and symgrad, or ''), from `frame` out."""
    frame = frame or sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    library = ""
    if frame is not None and frame.f_code.co_filename.startswith(_LIBRARIES):
        module = frame.f_globals.get("__name__", "")
        library = f"{module}.{frame.f_code.co_name} ({_where(frame)})"
        while frame is not None and frame.f_code.co_filename.startswith((_PACKAGE, *_LIBRARIES)):
            frame = frame.f_back
    return (_where(frame) if frame is not None else ""), library


def user_site(stop: Any = None) -> str:
    """`file:line: source` of the innermost caller outside symgrad and installed libraries, or
    ''. The search ends at a frame of code object `stop` (`trace`): an op symgrad adds after
    the traced function returned comes from no line of it, not from trace's caller."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED):
        if frame.f_code is stop:
            return ""
        frame = frame.f_back
    return _where(frame) if frame is not None else ""


_SKIPPED = (_PACKAGE, *_LIBRARIES)


def user_line() -> str:
    """` (at file:line: source)` for error messages, or ''."""
    site = user_site()
    return f" (at {site})" if site else ""
