"""`symgrad export TARGET --arg ... [--mode ...] -o grad_loss.py`: a derivative as a module
that needs only NumPy, for a person to read, paste into a project and review.

It builds what `symgrad inspect` shows for the same arguments and writes it with
`Transform.export`: symgrad's kernels carried as plain NumPy functions, constants embedded
(those over `codegen.standalone.LITERAL_MAX` elements saved beside the module as .npz), a
docstring naming the function, its signature, symgrad's version and this command.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import re
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from symgrad.api.transforms import Transform, compile, grad, hessian, jacobian, value_and_grad

MODES: dict[str, Callable[..., Transform]] = {
    "grad": grad, "value_and_grad": value_and_grad, "hessian": hessian, "jacobian": jacobian,
    "function": lambda fn, argnums: compile(fn),  # the function itself, compiled
}


DTYPES = {"f32": np.float32, "float32": np.float32, "f64": np.float64, "float64": np.float64,
          "i64": np.int64, "int64": np.int64, "bool": np.bool_}
_ARG = re.compile(r"^([A-Za-z_]\w*)=([A-Za-z0-9_]+)\[([0-9,\s]*)\]$")


class UserError(Exception):
    """Bad input on the command line: one line on stderr, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    """The arguments of `symgrad export`."""
    p = _Parser(prog="symgrad export", description="Write the generated NumPy code of FUNC's derivative "
                "(or of FUNC itself, --mode function) as a standalone module: it needs only NumPy, "
                "carries the symgrad kernels it calls, and quotes the line of FUNC each statement "
                "comes from.")
    p.add_argument("target", metavar="FILE:FUNC", help="a Python file and a function in it")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=DTYPE[SHAPE]",
                   help="one per parameter, e.g. --arg w=f32[5,3] (dtypes: f32 f64 i64 bool; [] for a "
                   "scalar)")
    p.add_argument("--mode", default="grad", choices=list(MODES), help="what to export (default: grad)")
    p.add_argument("--wrt", metavar="NAMES", help="comma-separated parameters to differentiate "
                   "(default: every floating-point one)")
    p.add_argument("-o", "--output", metavar="FILE", help="the module to write (default: standard output; "
                   "needed when a constant is too large to write as a literal)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


# TARGET and --arg as `symgrad inspect` reads them. (Not imported from symgrad.cli, which
# dispatches to this module: tests/test_layout.py allows no import cycle.)

def load_function(target: str) -> Callable:
    """The function FUNC of the Python file FILE, from `FILE:FUNC`."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UserError(f"{target!r} is not FILE:FUNC, e.g. examples/autograd_tutorial.py:loss")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_symgrad_export_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file failed to import: say so in one line
        raise UserError(f"cannot import {path}: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UserError(f"{path} has no function {name!r}")
    return fn


def example_args(fn: Callable, specs: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Zeros of each `--arg NAME=DTYPE[SHAPE]`, in the order of fn's parameters, and their names."""
    given = {}
    for text in specs:
        m = _ARG.match(text.strip())
        if m is None or m[2] not in DTYPES:
            raise UserError(f"--arg {text!r} is not NAME=DTYPE[SHAPE] with DTYPE one of {', '.join(DTYPES)}, "
                            "e.g. x=f32[5,3] or s=f64[]")
        given[m[1]] = np.zeros(tuple(int(d) for d in m[3].split(",") if d.strip()), DTYPES[m[2]])
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise UserError(f"{fn.__name__} has no parameter {unknown[0]!r} (parameters: {', '.join(params)})")
    missing = [p for p in params if p not in given]
    if missing:
        raise UserError(f"missing --arg for parameter {missing[0]!r} of {fn.__name__}")
    return [given[p] for p in params], params


def export(target: str, specs: list[str], mode: str, wrt: str | None, output: str | None,
           command: str) -> str:
    """The module's text, also written to `output` if given."""
    fn = load_function(target)
    values, params = example_args(fn, specs)
    names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else \
        [p for p, v in zip(params, values) if v.dtype.kind == "f"]
    unknown = [w for w in names if w not in params]
    if unknown:
        raise UserError(f"--wrt {unknown[0]!r} is not a parameter of {fn.__name__} (parameters: "
                        f"{', '.join(params)})")
    if not names and mode != "function":
        raise UserError(f"nothing to differentiate: {fn.__name__} has no floating-point argument (use --wrt)")
    argnums: Any = tuple(params.index(n) for n in names)
    transform = MODES[mode](fn, argnums=argnums[0] if len(argnums) == 1 else argnums)
    try:
        transform.build(*values)
    except Exception as e:  # the user's code cannot be traced in this mode: one line
        raise UserError(f"cannot trace the {mode} of {fn.__name__}: {type(e).__name__}: {e}") from e
    try:
        return transform.export(*values, path=output, command=command)
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from e


def main(argv: Sequence[str] | None = None) -> int:
    """`symgrad export ...` (argv without the `export`): the exit status."""
    argv = list(sys.argv[2:] if argv is None else argv)
    try:
        ns = build_parser().parse_args(argv)
        text = export(ns.target, ns.arg, ns.mode, ns.wrt, ns.output, shlex.join(["symgrad", "export", *argv]))
    except UserError as e:
        if "--debug" in argv:
            traceback.print_exception(e)
        print(f"symgrad export: error: {e}", file=sys.stderr)
        return 2
    if ns.output is None:
        sys.stdout.write(text)
    return 0
