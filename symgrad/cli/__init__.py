"""The `symgrad` command: `symgrad inspect TARGET --arg x=f32[5] ...` and `symgrad export`.

Both subcommands read TARGET, `--arg`, `--mode` and `--wrt` with `symgrad.cli.target`, which
raises the errors whose exit codes `EXIT_CODES` lists; what `inspect` prints is made in
`symgrad.cli.report`, what `export` writes in `symgrad.cli.export`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from symgrad.cli import export, report
from symgrad.cli.target import (
    EXIT_CODES,
    EXPORT_MODES,
    MODES,
    GraphvizMissing,
    Result,
    UserError,
    build_for,
    cannot_write,
    example_args,
    load_target,
    parse_passes,
    wrt_names,
)
from symgrad.simplify.passes import DEFAULT_PASSES, PASSES

FORMATS = ("text", "dot", "svg", "png", "json")
GRAPHVIZ_HINT = ("--format {fmt} needs Graphviz's `dot` program: install Graphviz (apt install graphviz, "
                 "brew install graphviz, conda install graphviz) or use --format dot")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def _exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:>2}  {what}" for code, what in sorted(EXIT_CODES.items()))


def build_parser() -> argparse.ArgumentParser:
    """The `symgrad` argument parser, with its `inspect` and `export` subcommands."""
    parser = _Parser(prog="symgrad", description="Inspect how symgrad traces, differentiates and "
                     "generates NumPy code for a function, or export that code as a module that needs "
                     "only NumPy.", epilog=_exit_codes_text(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = _subcommand(
        sub, "inspect", MODES, "print a function's graphs, generated source and pass statistics",
        "Trace FUNC on arguments of the given dtypes and shapes, differentiate it in the given mode and "
        "print its forward graph, the simplified derivative graph, the generated NumPy source and per-pass "
        "statistics. Listings quote the user's line each group of equations comes from.")
    p.add_argument("--show", default=",".join(report.DEFAULT_SECTIONS), metavar="SECTIONS",
                   help="comma-separated sections: forward (the function's own graph), joint (forward "
                   "and derivative before the passes), grad (the derivative graph after them), source, "
                   f"stats (default: {','.join(report.DEFAULT_SECTIONS)})")
    p.add_argument("--passes", metavar="LIST", help=f"comma-separated passes to run, of {', '.join(PASSES)} "
                   f"(default: {','.join(DEFAULT_PASSES)})")
    p.add_argument("--no-simplify", action="store_true", help="run no pass: the graph as differentiated")
    p.add_argument("--diff", action="store_true", help="show how the generated source changes pass by "
                   "pass, as unified diffs")
    p.add_argument("--bench", action="store_true", help="time the generated function on random inputs of "
                   "the given shapes (steady state, after the first call)")
    p.add_argument("--format", default="text", choices=FORMATS,
                   help="text for people; dot (Graphviz), svg or png (need Graphviz's dot) draw the graph "
                   "sections; json: one document of graphs, source and stats (schema: "
                   "symgrad/cli/inspect_schema.json)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--no-color", action="store_true", help="no syntax highlighting (the default when "
                   "not writing to a terminal, or without Pygments)")
    e = _subcommand(
        sub, "export", EXPORT_MODES, "write the generated code as a module that needs only NumPy",
        "Write the generated NumPy code of FUNC's derivative in the given mode (or of FUNC itself, --mode "
        "function) as a standalone module: it needs only NumPy, carries the symgrad kernels it calls, and "
        "quotes the line of FUNC each statement comes from. jvp, vjp and hvp take their tangents, "
        "cotangent or vector after FUNC's own arguments.")
    e.add_argument("-o", "--output", metavar="FILE", help="the module to write (default: standard output; "
                   "needed when a constant is too large to write as a literal: it is saved beside FILE)")
    return parser


def _subcommand(sub: argparse._SubParsersAction, name: str, modes: Sequence[str], summary: str,
                description: str) -> argparse.ArgumentParser:
    """A subcommand reading TARGET, --arg, --mode (one of `modes`) and --wrt, with --debug."""
    p = sub.add_parser(name, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=_exit_codes_text(), description=textwrap.fill(description, 80))
    add_target_arguments(p, modes)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def add_target_arguments(p: argparse.ArgumentParser, modes: Sequence[str] = MODES) -> None:
    """TARGET, --arg, --mode (one of `modes`) and --wrt, as `inspect` and `export` take them."""
    p.add_argument("target", metavar="TARGET",
                   help="path/to/file.py:func or package.module:func (func may be Class.method)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=DTYPE[SHAPE]|NAME=FILE.npy",
                   help="one per parameter without a default, e.g. --arg w=f32[5,3] (dtypes: f32 f64 "
                   "i32 i64 bool; [] for a scalar), or --arg x=data.npy for a saved array's shape, dtype "
                   "and values")
    itself = ", or function: the function itself" if "function" in modes else ""
    p.add_argument("--mode", default="grad", choices=modes, help=f"the derivative to build{itself} "
                   "(default: grad)")
    p.add_argument("--wrt", metavar="NAMES", help="comma-separated parameters to differentiate "
                   "(default: every floating-point --arg)")


def inspect(ns: argparse.Namespace) -> Result:
    """Load, trace and build the target as `ns` (parsed `inspect` arguments) asks."""
    fn = load_target(ns.target)
    args = example_args(fn, ns.arg)
    passes = parse_passes(ns.passes, ns.no_simplify)
    return build_for(ns.mode, fn, args, wrt_names(fn, args, ns.wrt), passes)


def _sections(show: str) -> list[str]:
    sections = [s.strip() for s in show.split(",") if s.strip()]
    bad = [s for s in sections if s not in report.SECTIONS]
    if bad or not sections:
        raise UserError(f"--show {(bad or [show])[0]!r} is not one of {', '.join(report.SECTIONS)}")
    return sections


def render(ns: argparse.Namespace, result: Result, sections: list[str], color: bool) -> str | bytes:
    """The output of `symgrad inspect` in the format asked for."""
    history = report.steps(result) if "stats" in sections or ns.diff else None
    timing = report.bench(result) if ns.bench else None
    if ns.format == "json":
        doc = report.document(result, ns.target, sections, history, ns.diff, timing)
        return json.dumps(doc, indent=1) + "\n"
    if ns.format in ("dot", "svg", "png"):
        graphs = [s for s in sections if s in report.GRAPH_SECTIONS]
        if not graphs:
            raise UserError(f"--format {ns.format} draws graphs: --show must name forward, joint or grad")
        source = report.dot(report.views(result, graphs))
        if ns.format == "dot":
            return source
        if shutil.which("dot") is None:
            raise GraphvizMissing(GRAPHVIZ_HINT.format(fmt=ns.format))
        return subprocess.run(["dot", f"-T{ns.format}"], input=source.encode(), capture_output=True,
                              check=True).stdout
    out: list[str] = []
    for view in report.views(result, [s for s in sections if s in report.GRAPH_SECTIONS]):
        out += [f"== {view.title} ==", report.listing(view.graph, view.part), ""]
    if "source" in sections:
        source = result.built.source
        out += ["== generated source ==", report.highlight(source, "python") if color else source]
        bound = report.constants(result)
        if bound:
            out += ["== constants bound when loaded ==", *bound, ""]
    if ns.diff and history is not None:
        out.append("== the source, pass by pass ==")
        for name, text in report.diffs(history):
            if text:
                out.append(report.highlight(text, "diff") if color else text)
            else:
                out.append(f"({name}: no change)\n")
    if "stats" in sections and history is not None:
        out += ["== passes ==", report.stats_table(history, result), ""]
    if timing is not None:
        out += ["== timing ==", report.bench_line(timing), ""]
    return "\n".join(out)


def _wants_color(ns: argparse.Namespace) -> bool:
    return (ns.format == "text" and not ns.no_color and ns.output is None and "NO_COLOR" not in os.environ
            and sys.stdout.isatty())


def run_inspect(ns: argparse.Namespace) -> int:
    """`symgrad inspect`: build, render, write."""
    sections = _sections(ns.show)
    if ns.format == "png" and ns.output is None and sys.stdout.isatty():
        raise UserError("--format png writes binary data: give -o FILE or redirect the output")
    result = inspect(ns)
    out = render(ns, result, sections, _wants_color(ns))
    if ns.output is not None:
        try:
            Path(ns.output).write_bytes(out if isinstance(out, bytes) else out.encode())
        except OSError as e:
            raise cannot_write(ns.output, e) from e
    elif isinstance(out, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.write(out)
    return 0


def run_export(ns: argparse.Namespace, command: str) -> int:
    """`symgrad export`: build, write to -o or standard output."""
    text = export.export(ns, command)
    if ns.output is None:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `symgrad` console script: the exit status (see `EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    debug = "--debug" in argv
    try:
        ns = parser.parse_args(argv)
        if ns.command == "inspect":
            return run_inspect(ns)
        if ns.command == "export":
            return run_export(ns, shlex.join(["symgrad", *argv]))
        parser.print_help()
        return 2
    except UserError as e:
        if debug:
            traceback.print_exception(e)
        print(f"symgrad: error: {e}", file=sys.stderr)
        return e.code
    except Exception as e:  # a bug of symgrad: one line, the traceback under --debug
        if debug:
            traceback.print_exception(e)
        print(f"symgrad: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
