"""Turn a `symgrad.graph.Graph` into NumPy source, one statement a line, and load it."""

from __future__ import annotations

import builtins
import hashlib
import keyword
import linecache
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from codegen import buffers
from symgrad.graph import Graph
from symgrad.ops import OPS, kernels

_RESERVED = {"np"} | set(keyword.kwlist) | set(dir(builtins))
_BOUND = {name for name in dir(kernels) if not name.startswith("_")}


@dataclass
class Program:
    """Generated source with the constants it refers to by name."""

    name: str
    source: str
    constants: dict[str, np.ndarray]


def _identifier(name: str, taken: set[str]) -> str:
    """A valid, unused Python name for `name`: user strings never reach the source raw."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    while ident in _RESERVED or ident in taken:
        ident += "_"
    taken.add(ident)
    return ident


def _literal(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.dtype not in (np.float64, np.int64, np.bool_):
        return f"np.{value.dtype.name}({_literal(value.item())})"  # a 0-d constant keeps its dtype
    value = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "(-np.inf)")
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def generate(graph: Graph, name: str, title: str, output_names: list[str] | None = None,
             debug_nans: bool = False) -> Program:
    """Source of a function `name(*inputs)` returning the graph's outputs (a tuple if several).

    With `debug_nans`, each statement is followed by a check that names the op and the line
    it was traced from when the result holds a NaN.
    """
    taken: set[str] = set(_BOUND)  # names the module binds: no argument may shadow them
    for n in graph.toposort():
        if graph[n]["op"] in OPS:
            taken.update(OPS[graph[n]["op"]].helpers)
    fn_name = _identifier(name, taken)
    names: dict[int, str] = {n: _identifier(graph[n]["name"], taken) for n in graph.inputs}
    for n, out_name in zip(graph.outputs, output_names or []):
        if n not in names and graph.scalar(n) is None:
            names[n] = _identifier(out_name, taken)
    constants: dict[str, Any] = {}
    kernels: set[str] = {"check_nan"} if debug_nans else set()
    listing = graph.names()  # the names the printed graph uses, so source and listing agree
    body = []
    order = [n for n in graph.toposort() if graph[n]["op"] not in ("input", "const")
             and graph.scalar(n) is None]
    into = buffers.plan(graph, order)
    uses: dict[int, int] = {}
    for n in order:
        for i in graph[n]["inputs"]:
            uses[i] = uses.get(i, 0) + 1
    inline = set() if debug_nans else {  # views read once, like `w.T`, are written in place
        n for n in order if graph[n]["op"] in ("transpose", "reshape") and uses.get(n) == 1
        and n not in graph.outputs and graph.scalar(graph[n]["inputs"][0]) is None}
    for n in graph.toposort():
        attrs = graph[n]
        if attrs["op"] == "input" or graph.scalar(n) is not None:
            continue
        if attrs["op"] == "const":
            names[n] = _identifier(f"const{len(constants)}", taken)
            constants[names[n]] = attrs["value"]
            continue
        if n not in names:
            names[n] = _identifier(listing[n], taken)
        op = OPS[attrs["op"]]
        # elementwise code takes Python scalars; other ops' code may call array methods
        operands = [names[i] if graph.scalar(i) is None else _literal(graph.scalar(i))
                    if op.elementwise else f"np.asarray({_literal(graph.scalar(i))})"
                    for i in attrs["inputs"]]
        for helper, fn in op.helpers.items():
            constants[helper] = fn
        shapes = [graph[i]["shape"] for i in attrs["inputs"]]
        expr = op.code_for(operands, attrs["params"], shapes)
        kernels.update(k for k in op.kernels if k + "(" in expr)
        if n in into and op.inplace is not None:  # update a dead temporary in place
            expr = op.inplace(operands, attrs["params"])
            kernels.update(k for k in op.kernels if k + "(" in expr)
        elif n in into:  # write into a dead temporary of the same shape and dtype
            expr = f"np.{op.ufunc.__name__}({', '.join(operands)}, out={names[into[n]]})"
        if all(graph.scalar(i) is not None for i in attrs["inputs"]):
            expr = f"np.asarray({expr})"  # literals only (an unsimplified graph): keep an array
        if n in inline and re.fullmatch(r"\w+(\.T|\[[\w:, ]*\])", expr):
            names[n] = expr  # a postfix view binds tighter than any operator it lands in
            continue
        statement = f"{names[n]} = {expr}"
        body.append(f"    {statement}")
        if debug_nans:
            where = attrs.get("where") or "an unknown line"
            body.append(f"    check_nan({names[n]}, {op.name!r}, {statement!r}, {where!r})")
    outs = [_literal(graph.scalar(n)) if graph.scalar(n) is not None else names[n]
            for n in graph.outputs]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    args = ", ".join(names[n] for n in graph.inputs)
    header = [f"# {line}" for line in title.splitlines()]
    if constants:
        header.append(f"# bound when loaded: {', '.join(sorted(constants))}")
    imports = ["import numpy as np"]
    if kernels:
        imports.append(f"from symgrad.ops.kernels import {', '.join(sorted(kernels))}")
    lines = header + imports + ["", "", f"def {fn_name}({args}):", *body, f"    return {ret}", ""]
    return Program(fn_name, "\n".join(lines), constants)


def load(program: Program) -> Callable[..., Any]:
    """Compile a program into a function, its source registered with `linecache`."""
    digest = hashlib.sha1(program.source.encode()).hexdigest()[:12]
    filename = f"<symgrad:{program.name}:{digest}>"
    linecache.cache[filename] = (len(program.source), None, program.source.splitlines(True), filename)
    namespace: dict[str, Any] = dict(program.constants)
    exec(compile(program.source, filename, "exec"), namespace)  # noqa: S102 - our generated source
    fn = namespace[program.name]
    fn.__symgrad_source__ = program.source
    return fn
