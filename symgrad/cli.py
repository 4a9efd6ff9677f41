"""The `symgrad` command: `symgrad inspect FILE:FUNC --arg x=f32[5] ...`."""

from __future__ import annotations

import argparse
import importlib.util
import inspect as pyinspect
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from symgrad.api.signature import describe
from symgrad.api.transforms import Built, grad

DTYPES = {
    "f32": np.float32, "float32": np.float32, "f64": np.float64, "float64": np.float64,
    "i64": np.int64, "int64": np.int64, "bool": np.bool_,
}
SHOW = ("graph", "grad", "source", "stats")
_ARG = re.compile(r"^([A-Za-z_]\w*)=([A-Za-z0-9_]+)\[([0-9,\s]*)\]$")


class UserError(Exception):
    """Bad input on the command line: printed as one line, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def parse_arg(text: str) -> tuple[str, np.dtype, tuple[int, ...]]:
    """`x=f32[5,3]` -> ("x", float32, (5, 3))."""
    m = _ARG.match(text.strip())
    if m is None:
        raise UserError(f"--arg {text!r} is not NAME=DTYPE[SHAPE], e.g. x=f32[5,3] or s=f64[]")
    name, dtype, dims = m.groups()
    if dtype not in DTYPES:
        raise UserError(f"--arg {text!r}: unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    shape = tuple(int(d) for d in dims.split(",") if d.strip())
    return name, np.dtype(DTYPES[dtype]), shape


def load_function(target: str) -> Callable:
    """The function FUNC of the Python file FILE, from `FILE:FUNC`."""
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise UserError(f"{target!r} is not FILE:FUNC, e.g. examples/autograd_tutorial.py:loss")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_symgrad_inspect_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file failed to import: say so in one line
        raise UserError(f"cannot import {path}: {type(e).__name__}: {e}") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise UserError(f"{path} has no function {func!r}")
    return fn


def _example_args(fn: Callable, specs: list[str]) -> tuple[list[Any], list[str]]:
    parsed = [parse_arg(s) for s in specs]
    given = {name: (dtype, shape) for name, dtype, shape in parsed}
    params = [p.name for p in pyinspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise UserError(f"{fn.__name__} has no parameter {unknown[0]!r} (parameters: {', '.join(params)})")
    missing = [p for p in params if p not in given]
    if missing:
        raise UserError(f"missing --arg for parameter {missing[0]!r} of {fn.__name__}")
    return [np.zeros(given[p][1], given[p][0]) for p in params], params


def _dot_to_svg(dot: str) -> str:
    if shutil.which("dot") is None:
        raise UserError("--format svg needs Graphviz's `dot` on PATH; use --format dot instead")
    return subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout


def inspect(target: str, args: list[str], wrt: str | None, show: str, fmt: str) -> str:
    """The report `symgrad inspect` prints."""
    sections = [s.strip() for s in show.split(",") if s.strip()]
    bad = [s for s in sections if s not in SHOW]
    if bad:
        raise UserError(f"--show {bad[0]!r} is not one of {', '.join(SHOW)}")
    fn = load_function(target)
    values, params = _example_args(fn, args)
    if wrt:
        names = [w.strip() for w in wrt.split(",") if w.strip()]
        unknown = [w for w in names if w not in params]
        if unknown:
            raise UserError(f"--wrt {unknown[0]!r} is not a parameter of {fn.__name__}")
    else:
        names = [p for p, v in zip(params, values) if v.dtype.kind == "f"]
    if not names:
        raise UserError("nothing to differentiate: no floating-point argument (use --wrt)")
    argnums = tuple(params.index(n) for n in names)
    try:
        built: Built = grad(fn, argnums=argnums).build(*values)
    except Exception as e:  # untraceable user code: one line, no traceback
        raise UserError(f"cannot trace {fn.__name__}: {type(e).__name__}: {e}") from None
    render = {"text": str, "dot": lambda g: g.to_dot(), "svg": lambda g: _dot_to_svg(g.to_dot())}[fmt]
    out = []
    if "graph" in sections:
        out += [f"== forward graph: {describe(built.traced)} ==", render(built.traced.graph), ""]
    if "grad" in sections:
        out += [f"== gradient graph, simplified: d {fn.__name__} / d {', '.join(names)} ==",
                render(built.graph), ""]
    if "source" in sections:
        out += ["== generated source ==", built.source]
    if "stats" in sections:
        width = max([4, *(len(s.name) for s in built.stats)]) + 1
        out += ["== passes ==", f"{'pass':<{width}}{'nodes before':>14}{'nodes after':>13}{'ms':>9}"]
        out += [f"{s.name:<{width}}{s.before:>14}{s.after:>13}{s.seconds * 1e3:>9.2f}" for s in built.stats]
        out.append("")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgrad", description="Inspect how symgrad traces, differentiates and "
                     "generates NumPy code for a function.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("inspect", help="print the traced graph, gradient graph and generated source",
                       description="Trace FUNC from FILE on arguments of the given dtypes and shapes; "
                       "print its forward graph, its simplified gradient graph, the generated NumPy "
                       "source and per-pass statistics.")
    p.add_argument("target", metavar="FILE:FUNC", help="a Python file and a function in it")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=DTYPE[SHAPE]",
                   help="one per parameter, e.g. --arg w=f32[5,3] (dtypes: f32 f64 i64 bool; "
                   "[] for a scalar)")
    p.add_argument("--wrt", metavar="NAMES", help="comma-separated parameters to differentiate "
                   "(default: every floating-point one)")
    p.add_argument("--show", default=",".join(SHOW), metavar="SECTIONS",
                   help=f"comma-separated sections to print (default: {','.join(SHOW)})")
    p.add_argument("--format", default="text", choices=("text", "dot", "svg"),
                   help="how graphs are printed: jaxpr-like text, Graphviz DOT, or SVG (needs dot)")
    sub.add_parser("export", help="write the generated code as a module that needs only NumPy "
                   "(symgrad export --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `symgrad` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:  # its own parser: symgrad/export.py
        from symgrad.export import main as export_main
        return export_main(argv[1:])
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
        if ns.command != "inspect":
            parser.print_help()
            return 2
        sys.stdout.write(inspect(ns.target, ns.arg, ns.wrt, ns.show, ns.format))
        return 0
    except UserError as e:
        print(f"symgrad: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
