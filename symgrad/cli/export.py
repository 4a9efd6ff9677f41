"""`symgrad export TARGET --arg ... [--mode ...] -o grad_loss.py`: a derivative (or the function
itself, `--mode function`) as a module that needs only NumPy, for a person to read, paste into
a project and review.

TARGET, `--arg`, `--mode` and `--wrt` are read and built as `symgrad inspect` reads and builds
them (`symgrad.cli.target`), with the same errors and exit codes; the build is written with
`Transform.export`: symgrad's kernels carried as plain NumPy functions, constants embedded
(those over `codegen.standalone.LITERAL_MAX` elements saved beside the module as .npz), a
docstring naming the function, its signature, symgrad's version and the command.
"""

from __future__ import annotations

import argparse

from symgrad.cli.target import UserError, build_for, cannot_write, example_args, load_target, wrt_names


def export(ns: argparse.Namespace, command: str) -> str:
    """The module's text for `ns` (parsed `export` arguments), also written to `ns.output` if
    given; `command` is the command line its header quotes."""
    fn = load_target(ns.target)
    args = example_args(fn, ns.arg)
    if ns.mode == "function" and ns.wrt:
        raise UserError("--wrt does not apply to --mode function (it differentiates nothing)")
    wrt = [] if ns.mode == "function" else wrt_names(fn, args, ns.wrt)
    result = build_for(ns.mode, fn, args, wrt)
    try:
        return result.plan.transform.export(*result.plan.values, path=ns.output, command=command)
    except ValueError as e:  # a constant too large for a literal and no -o, code it cannot carry
        raise UserError(str(e)) from e
    except OSError as e:
        raise cannot_write(ns.output, e) from e
