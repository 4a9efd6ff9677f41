"""`symgrad export TARGET --arg ... [--mode ...] -o grad_loss.py`: a derivative as a module
that needs only NumPy, for a person to read, paste into a project and review.

It builds what `symgrad inspect` shows for the same arguments and writes it with
`Transform.export`: symgrad's kernels carried as plain NumPy functions, constants embedded
(those over `codegen.standalone.LITERAL_MAX` elements saved beside the module as .npz), a
docstring naming the function, its signature, symgrad's version and this command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from symgrad.api.transforms import Transform, compile, grad, hessian, jacobian, value_and_grad
from symgrad.cli import UserError, _example_args, load_function

MODES: dict[str, Callable[..., Transform]] = {
    "grad": grad, "value_and_grad": value_and_grad, "hessian": hessian, "jacobian": jacobian,
    "function": lambda fn, argnums: compile(fn),  # the function itself, compiled
}


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


def export(target: str, specs: list[str], mode: str, wrt: str | None, output: str | None,
           command: str) -> str:
    """The module's text, also written to `output` if given."""
    fn = load_function(target)
    values, params = _example_args(fn, specs)
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
