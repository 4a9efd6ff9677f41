"""What `symgrad inspect` and `symgrad export` share: the TARGET, the `--arg`s, the mode.

`load_target("path/to/file.py:func")` or `load_target("package.module:func")` gives the
function; `example_args(fn, ["x=f32[5]", ...])` the arguments to trace it on (defaults from
its signature, shapes and dtypes from `.npy` files); `build_for(mode, fn, args, wrt)` the
compiled `Built` of one of the transforms. Bad input raises a `UserError` whose `code` is
the command's exit status, one per kind of mistake (`EXIT_CODES`).
"""

from __future__ import annotations

import importlib
import inspect as pyinspect
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symgrad.api.forward import HVP, JVP
from symgrad.api.transforms import VJP, Built, Grad, Hessian, Jacobian, Transform
from symgrad.ir import type_str
from symgrad.simplify.passes import DEFAULT_PASSES, PASSES
from symgrad.tracing import pytree

DTYPES = {
    "f32": np.float32, "float32": np.float32, "f64": np.float64, "float64": np.float64,
    "i32": np.int32, "int32": np.int32, "i64": np.int64, "int64": np.int64, "bool": np.bool_,
}
MODES = ("grad", "value_and_grad", "hessian", "jacobian", "jvp", "vjp", "hvp")  # what inspect shows
EXPORT_MODES = (*MODES, "function")  # and, for export, the function itself compiled
SCALAR_MODES = ("grad", "value_and_grad", "hessian", "hvp")  # differentiate a scalar output
_NAME = r"[A-Za-z_]\w*(?:\.\w+)*"  # a parameter, or a leaf of one: params.W, layers.0.b
_ARG = re.compile(rf"^({_NAME})=([A-Za-z0-9_]+)\[([0-9,\s]*)\]$")
_NPY = re.compile(rf"^({_NAME})=(.+\.npy)$")


class UserError(Exception):
    """Bad input: printed as one line on stderr, the command exiting with `code`."""

    code = 2
    kind = "usage error"


class GraphvizMissing(UserError):
    code, kind = 3, "Graphviz is not installed"


class TargetNotFound(UserError):
    code, kind = 4, "no such file or module"


class FunctionNotFound(UserError):
    code, kind = 5, "no such function"


class BadArg(UserError):
    code, kind = 6, "malformed --arg"


class ArgumentMismatch(UserError):
    code, kind = 7, "arguments do not match the function's parameters"


class ModeUnsupported(UserError):
    code, kind = 8, "the mode does not apply to this function"


class TraceFailed(UserError):
    code, kind = 9, "the function cannot be traced"


class ImportFailed(UserError):
    code, kind = 10, "the target's module raised an error when imported"


EXIT_CODES: dict[int, str] = {
    0: "success", 1: "an internal error of symgrad (a bug; --debug shows the traceback)",
    **{cls.code: cls.kind for cls in (UserError, GraphvizMissing, TargetNotFound, FunctionNotFound, BadArg,
                                      ArgumentMismatch, ModeUnsupported, TraceFailed, ImportFailed)},
}


def cannot_write(path: str, e: OSError) -> UserError:
    """The error of an output file `-o path` that cannot be written."""
    return UserError(f"-o {path}: cannot write: {e.strerror or _one_line(e)}")


# ---------------------------------------------------------------- the target

def load_target(target: str) -> Callable:
    """The function named by `path/to/file.py:func` or `package.module:func` (a dotted
    `func` reaches into a class or object: `module:Model.loss`)."""
    where, sep, func = target.rpartition(":")
    if not sep or not where or not func:
        raise UserError(f"{target!r} is not FILE:FUNC or MODULE:FUNC, e.g. "
                        "examples/autograd_tutorial.py:loss or mypackage.losses:loss")
    if where.endswith(".py") or "/" in where or "\\" in where or Path(where).is_file():
        module, origin = _load_file(Path(where)), where
    else:
        module, origin = _load_module(where), f"module {where}"
    obj: Any = module
    for part in func.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if not callable(obj):
        found = sorted(n for n, v in vars(module).items()
                       if pyinspect.isfunction(v) and v.__module__ == module.__name__)
        raise FunctionNotFound(f"{origin} has no function {func!r}"
                               + (f" (its functions: {', '.join(found)})" if found else ""))
    return obj


def _load_file(file: Path) -> Any:
    if not file.is_file():
        raise TargetNotFound(f"no such file: {file}")
    spec = importlib.util.spec_from_file_location(f"_symgrad_target_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    added = str(file.resolve().parent)
    sys.path.insert(0, added)  # the file's own imports of its neighbours work, as under `python file.py`
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file failed to import: say so in one line
        raise ImportFailed(f"cannot import {file}: {_one_line(e)}") from e
    finally:
        sys.path.remove(added)
    return module


def _load_module(name: str) -> Any:
    sys.path.insert(0, str(Path.cwd()))  # as `python -m` finds modules of the current directory
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            raise TargetNotFound(f"no such module: {name} (no module named {e.name!r})") from e
        raise ImportFailed(f"cannot import {name}: {_one_line(e)}") from e
    except Exception as e:
        raise ImportFailed(f"cannot import {name}: {_one_line(e)}") from e
    finally:
        sys.path.pop(0)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# ---------------------------------------------------------------- the arguments

def parse_arg(text: str) -> tuple[str, np.ndarray | tuple[np.dtype, tuple[int, ...]]]:
    """`x=f32[5,3]` -> ("x", (float32, (5, 3))); `x=data.npy` -> ("x", the saved array).
    The name may be dotted, a leaf of a dict or tuple parameter: `params.W=f32[3,4]`."""
    text = text.strip()
    m = _NPY.match(text)
    if m is not None:
        name, file = m.groups()
        try:
            array = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise BadArg(f"--arg {text!r}: cannot read {file}: {_one_line(e)}") from e
        if not isinstance(array, np.ndarray):
            raise BadArg(f"--arg {text!r}: {file} holds {type(array).__name__}, expected one array (.npy)")
        return name, array
    m = _ARG.match(text)
    if m is None:
        raise BadArg(f"--arg {text!r} is not NAME=DTYPE[SHAPE] or NAME=FILE.npy, e.g. x=f32[5,3], "
                     "s=f64[] or x=data.npy")
    name, dtype, dims = m.groups()
    if dtype not in DTYPES:
        raise BadArg(f"--arg {text!r}: unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    shape = tuple(int(d) for d in dims.split(",") if d.strip())
    return name, (np.dtype(DTYPES[dtype]), shape)


@dataclass
class Args:
    """The arguments a function is traced on, in parameter order."""

    names: list[str]
    values: list[Any]  # zeros of each --arg's shape and dtype, a .npy's array, or the default
    given: set[str] = field(default_factory=set)  # names that came from --arg (not defaults)
    loaded: list[np.ndarray] = field(default_factory=list)  # the leaves read from .npy files

    def describe(self, name: str) -> str:
        """`f32[5]`, `{'W': f32[3,4]}`: a parameter's type, as messages show it."""
        return describe_value(self.values[self.names.index(name)])


def describe_value(value: Any) -> str:
    """An argument's type: `f32[5]`, `{'W': f32[3,4]}`, `[f32[2], f32[2]]`; else its repr."""
    if isinstance(value, (np.ndarray, np.generic)):
        return type_str(value.shape, value.dtype)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(describe_value, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(describe_value, value)) + ")"
    return repr(value)


def example_args(fn: Callable, specs: Sequence[str]) -> Args:
    """The arguments to trace `fn` on: one per positional parameter, from `specs` or else
    from the parameter's default. Dotted names build dict and list parameters leaf by leaf
    (`params.W=f32[3,4] params.b=f32[4]`: a dict; `layers.0.W=...`: a tuple of dicts)."""
    given: dict[str, dict[tuple[str, ...], np.ndarray]] = {}
    loaded = []
    for spec in specs:
        name, parsed = parse_arg(spec)
        root, *path = name.split(".")
        leaves = given.setdefault(root, {})
        if tuple(path) in leaves:
            raise BadArg(f"--arg {name!r} is given twice")
        if isinstance(parsed, np.ndarray):
            loaded.append(parsed)
        leaves[tuple(path)] = parsed if isinstance(parsed, np.ndarray) else np.zeros(parsed[1], parsed[0])
    try:
        params = list(pyinspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as e:
        raise ArgumentMismatch(f"cannot read the parameters of {_name(fn)}: {_one_line(e)}") from e
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = [n for n in given if n not in [p.name for p in positional]]
    if unknown:
        names = ", ".join(p.name for p in positional) or "none"
        raise ArgumentMismatch(f"{_name(fn)} takes no argument {unknown[0]!r} (its parameters: {names})")
    required_kw = [p.name for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    if required_kw:
        raise ArgumentMismatch(f"{_name(fn)}: keyword-only parameter {required_kw[0]!r} has no default; "
                               "symgrad inspect passes arguments by position")
    # defaulted parameters after the last one given are left to their defaults, as in a call
    # fn(x): they are constants of the trace, not inputs
    last = max([i for i, p in enumerate(positional) if p.name in given or p.default is p.empty], default=-1)
    positional = positional[:last + 1]
    values = []
    for p in positional:
        if p.name in given:
            values.append(_assemble(p.name, given[p.name]))
        elif p.default is not p.empty:
            values.append(p.default)
        else:
            raise ArgumentMismatch(f"missing --arg for parameter {p.name!r} of {_name(fn)} "
                                   f"(e.g. --arg {p.name}=f64[3])")
    return Args([p.name for p in positional], values, set(given), loaded)


def _assemble(name: str, leaves: dict[tuple[str, ...], np.ndarray]) -> Any:
    """A parameter from its leaves by path: an array, or dicts and tuples of them."""
    if () in leaves:
        if len(leaves) > 1:
            raise BadArg(f"--arg {name!r} is given both whole and by its parts")
        return leaves[()]
    children: dict[str, dict[tuple[str, ...], np.ndarray]] = {}
    for (key, *rest), leaf in leaves.items():
        children.setdefault(key, {})[tuple(rest)] = leaf
    if all(k.isdigit() for k in children):
        if sorted(int(k) for k in children) != list(range(len(children))):
            raise BadArg(f"--arg {name}.N: tuple items must be numbered 0, 1, 2...; got "
                         f"{', '.join(sorted(children, key=int))}")
        return tuple(_assemble(f"{name}.{k}", children[k]) for k in sorted(children, key=int))
    return {k: _assemble(f"{name}.{k}", v) for k, v in children.items()}


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", "the function")


def _is_float(value: Any) -> bool:
    """Whether every leaf of `value` is floating-point (an array, a float)."""
    leaves = pytree.flatten(value)[0]
    return bool(leaves) and all(leaf.dtype.kind == "f" if isinstance(leaf, (np.ndarray, np.generic))
                                else isinstance(leaf, float) for leaf in leaves)


def wrt_names(fn: Callable, args: Args, wrt: str | None) -> list[str]:
    """The parameters to differentiate: `--wrt`'s names, else every floating-point `--arg`."""
    if wrt:
        names = [w.strip() for w in wrt.split(",") if w.strip()]
        unknown = [w for w in names if w not in args.names]
        if unknown:
            raise ArgumentMismatch(f"--wrt {unknown[0]!r} is not a parameter of {_name(fn)} "
                                   f"(its parameters: {', '.join(args.names)})")
        if len(set(names)) != len(names):
            raise UserError(f"--wrt {wrt!r} names a parameter twice")
        return names
    names = [n for n, v in zip(args.names, args.values) if n in args.given and _is_float(v)]
    if not names:
        raise ModeUnsupported(f"nothing to differentiate: {_name(fn)} gets no floating-point --arg "
                              "(name the parameters with --wrt)")
    return names


def parse_passes(passes: str | None, no_simplify: bool) -> tuple[str, ...]:
    """`--passes fold,dce` -> ("fold", "dce"); `--no-simplify` -> (); else the default passes."""
    if no_simplify:
        if passes is not None:
            raise UserError("--passes and --no-simplify exclude each other")
        return ()
    if passes is None:
        return DEFAULT_PASSES
    names = tuple(p.strip() for p in passes.split(",") if p.strip())
    bad = [p for p in names if p not in PASSES]
    if bad:
        raise UserError(f"--passes: unknown pass {bad[0]!r}; the passes are {', '.join(PASSES)} "
                        f"(default: {','.join(DEFAULT_PASSES)})")
    return names


# ---------------------------------------------------------------- building

@dataclass
class Plan:
    """One mode's compiled transform and the arguments it is built and called with: the
    function's own, then any it adds (`x_dot` tangents, a cotangent, the vector `v`)."""

    mode: str
    transform: Transform
    names: list[str]
    values: list[Any]
    extra: list[str]  # the names of the added arguments


@dataclass
class Result:
    """A function inspected in one mode: its forward build, the mode's build and timings."""

    fn: Callable
    mode: str
    args: Args
    wrt: list[str]
    passes: tuple[str, ...]
    forward: Built  # the function alone, traced and simplified with the same passes
    built: Built
    plan: Plan
    compile_seconds: float  # the mode's first call: trace, passes, codegen and load


def _trace_error(fn: Callable, e: BaseException, what: str) -> TraceFailed:
    """One line naming the user's line that failed (the innermost frame in fn's file)."""
    message = _one_line(e)
    file = getattr(getattr(fn, "__code__", None), "co_filename", None)
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == file]
    if frames:
        at = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
        if at not in message:
            message += f" (at {at}: {(frames[-1].line or '').strip()})"
    return TraceFailed(f"cannot {what} {_name(fn)}: {message}")


def _positions(args: Args, wrt: list[str]) -> tuple[int, ...]:
    return tuple(args.names.index(n) for n in wrt)


def _vector_name(taken: Sequence[str], name: str) -> str:
    while name in taken:
        name += "_"
    return name


def _named(fn: Callable, name: str, names: Sequence[str], user: Callable) -> Callable:
    """`fn` as a function `name(*names)`: the generated source names its arguments `names`, and
    an exported module's header the `user`'s function it computes a derivative of (the wrapper
    unwraps to it)."""
    def wrapper(*a: Any) -> Any:
        return fn(*a)
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__wrapped__ = user  # type: ignore[attr-defined]
    wrapper.__signature__ = pyinspect.Signature(  # type: ignore[attr-defined]
        [pyinspect.Parameter(n, pyinspect.Parameter.POSITIONAL_ONLY) for n in names])
    return wrapper


def plan_for(mode: str, fn: Callable, args: Args, wrt: list[str], out: Any,
             passes: tuple[str, ...]) -> Plan:
    """The transform of `mode` on `fn` and the arguments to build it with; `out` is the
    function's output on `args` (zeros from its forward build: a vjp's cotangent)."""
    if mode not in EXPORT_MODES:
        raise UserError(f"--mode {mode!r} is not one of {', '.join(EXPORT_MODES)}")
    pos, names, values = _positions(args, wrt), list(args.names), list(args.values)
    one = pos[0] if len(pos) == 1 else pos
    name = _name(fn)
    if mode == "function":
        return Plan(mode, Transform(fn, passes=passes), names, values, [])
    if mode in ("grad", "value_and_grad"):
        transform = Grad(fn, one, with_value=mode == "value_and_grad", passes=passes)
        return Plan(mode, transform, names, values, [])
    if mode == "hessian":
        return Plan(mode, Hessian(Grad(fn, one), one, passes=passes), names, values, [])
    if mode == "jacobian":
        return Plan(mode, Jacobian(fn, one, passes=passes), names, values, [])
    if mode == "hvp":
        v = _vector_name(names, "v")
        vec = values[pos[0]] if len(pos) == 1 else tuple(values[i] for i in pos)
        transform = HVP(_named(fn, name, names, fn), one, passes=passes)
        return Plan(mode, transform, [*names, v], [*values, vec], [v])
    # jvp and vjp differentiate every argument they get: a wrapper takes all of fn's, passes
    # the differentiated ones to them and closes over the rest
    def partial(full: Sequence[Any]) -> Callable:
        def of_wrt(*w: Any) -> Any:
            merged = list(full)
            for i, value in zip(pos, w):
                merged[i] = value
            return fn(*merged)
        return _named(of_wrt, name, [names[i] for i in pos], fn)

    n, k = len(names), len(pos)
    n_out = len(pytree.flatten(out)[0])
    if mode == "jvp":
        dots = [_vector_name(names, f"{names[i]}_dot") for i in pos]

        def jvp_rule(*a: Any) -> Any:
            return JVP(partial(a[:n]), k, passes=passes).rule(*(a[i] for i in pos), *a[n:])
        outputs = _numbered("out", n_out) + _numbered("tangent", n_out)
        title = f"Jacobian-vector product of {{}} with respect to {', '.join(wrt)}"
        transform = _Wrapped(_named(jvp_rule, name, [*names, *dots], fn), "jvp", title, outputs, passes)
        return Plan(mode, transform, [*names, *dots], [*values, *(values[i] for i in pos)], dots)
    ct = _vector_name(names, "cotangent")

    def vjp_rule(*a: Any) -> Any:
        return VJP(partial(a[:n]), k, passes=passes).rule(*(a[i] for i in pos), a[n])
    title = f"vector-Jacobian product of {{}} with respect to {', '.join(wrt)}"
    outputs = [f"vjp_{w}" for w in wrt]
    transform = _Wrapped(_named(vjp_rule, name, [*names, ct], fn), "vjp", title, outputs, passes)
    return Plan(mode, transform, [*names, ct], [*values, out], [ct])


def _numbered(stem: str, count: int) -> list[str]:
    return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]


class _Wrapped(Transform):
    """A compiled wrapper around a transform's rule (jvp, vjp over some arguments), with the
    transform's kind, title and output names in its generated source."""

    def __init__(self, fn: Callable, kind: str, title: str, outputs: list[str],
                 passes: tuple[str, ...]) -> None:
        super().__init__(fn, passes=passes)
        self.kind, self._title_format, self._outputs = kind, title, outputs

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return self._title_format.format(described)

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        return self._outputs


def _check_output(mode: str, fn: Callable, forward: Built, args: Args, wrt: list[str]) -> None:
    """A ModeUnsupported error when `mode` cannot apply to fn's output or to the arguments."""
    outs = forward.graph.outputs
    described = ", ".join(type_str(o.shape, o.dtype) for o in outs) or "nothing"
    if mode in SCALAR_MODES and (forward.out_tree != pytree.LEAF or outs[0].shape != ()):
        raise ModeUnsupported(f"--mode {mode} needs a scalar output, but {_name(fn)} returns {described}; "
                              "use --mode jacobian, jvp or vjp for an array output")
    if mode in (*SCALAR_MODES, "jacobian") and any(o.dtype.kind != "f" for o in outs):
        raise ModeUnsupported(f"--mode {mode} needs a floating-point output, but {_name(fn)} returns "
                              f"{described}")
    if mode != "vjp":
        for n in wrt:
            value = args.values[args.names.index(n)]
            if not _is_float(value):
                raise ModeUnsupported(f"--mode {mode} differentiates with respect to floating-point "
                                      f"arguments, but {n!r} is {args.describe(n)} (see --wrt)")


# Ops symgrad adds outside the user's code (a Jacobian's batching) are attributed by the tracer
# to the innermost frame outside symgrad: builds are called from this frame, named so that
# listings skip it (`<...>`), rather than from whatever called `symgrad inspect`.
_ENTRY = compile("built = transform.build(*values)", "<symgrad inspect>", "exec")


def _build(transform: Transform, values: Sequence[Any]) -> Built:
    scope = {"transform": transform, "values": values}
    exec(_ENTRY, scope)  # noqa: S102 - the constant line above
    return scope["built"]


def build_for(mode: str, fn: Callable, args: Args, wrt: list[str],
              passes: tuple[str, ...] = DEFAULT_PASSES) -> Result:
    """Trace `fn` alone, check that `mode` applies, and compile the mode's transform.

    Errors: TraceFailed when `fn` cannot be traced (naming the user's line), ModeUnsupported
    when the mode cannot apply (a Hessian of a vector output) or its derivative cannot be taken.
    """
    try:
        forward = _build(Transform(fn, passes=passes), args.values)
    except Exception as e:  # the user's code: one line naming where it failed
        raise _trace_error(fn, e, "trace") from e
    _check_output(mode, fn, forward, args, wrt)
    out = pytree.unflatten(forward.out_tree, [np.zeros(o.shape, o.dtype) for o in forward.graph.outputs])
    plan = plan_for(mode, fn, args, wrt, out, passes)
    start = time.perf_counter()
    try:
        built = _build(plan.transform, plan.values)
    except Exception as e:
        error = _trace_error(fn, e, f"compute the {mode} of")
        raise ModeUnsupported(str(error)) from e
    return Result(fn, mode, args, wrt, passes, forward, built, plan, time.perf_counter() - start)
