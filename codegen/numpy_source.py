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

from codegen import blocks, buffers
from symgrad.graph import Graph
from symgrad.ops import OPS, kernels

_RESERVED = {"np"} | set(keyword.kwlist) | set(dir(builtins))
_BOUND = {name for name in dir(kernels) if not name.startswith("_")}
SINCOS_MIN_SIZE = 4096  # elements; below this one kernel call saves less than it costs


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
    for n in graph.toposort():  # named first: a blocked loop may read one listed after it
        if graph[n]["op"] == "const" and graph.scalar(n) is None:
            names[n] = _identifier(f"const{len(constants)}", taken)
            constants[names[n]] = graph[n]["value"]
    order = [n for n in graph.toposort() if graph[n]["op"] not in ("input", "const")
             and graph.scalar(n) is None]
    pair_of: dict[int, int] = {}
    if not debug_nans:
        order, pair_of = _sincos_pairs(graph, blocks.schedule(graph, order))
    loops = [] if debug_nans else blocks.find(graph, order)
    block_of = {n: b for b in loops for n in b.nodes}
    outer = [n for n in order if n not in block_of or n in block_of[n].outputs]
    paired = frozenset(pair_of) | frozenset(pair_of.values())
    into = buffers.plan(graph, outer, fresh=paired | {o for b in loops for o in b.outputs},
                        reads={o: _outside_inputs(graph, b) for b in loops for o in b.outputs})
    for b in loops:
        into.update(buffers.plan(graph, b.nodes, fresh=paired, fixed=frozenset(b.outputs)))
    uses: dict[int, int] = {}
    for n in order:
        for i in graph[n]["inputs"]:
            uses[i] = uses.get(i, 0) + 1
    inline = set() if debug_nans else {  # views read once, like `w.T`, are written in place
        n for n in order if graph[n]["op"] in ("transpose", "reshape") and uses.get(n) == 1
        and n not in graph.outputs and graph.scalar(graph[n]["inputs"][0]) is None}

    def expression(n: int, local: dict[int, str], out: str | None = None) -> str:
        """The code computing `n`, its operands named by `local` first, then `names`; a
        ufunc writes into `out` when given. For the first of a sin/cos pair, both at once."""
        attrs = graph[n]
        if n in pair_of:
            kernels.add("sincos")
            return f"sincos({local.get(attrs['inputs'][0]) or names[attrs['inputs'][0]]})"
        op = OPS[attrs["op"]]
        # elementwise code takes Python scalars; other ops' code may call array methods
        operands = [local.get(i) or names[i] if graph.scalar(i) is None else _literal(graph.scalar(i))
                    if op.elementwise else f"np.asarray({_literal(graph.scalar(i))})"
                    for i in attrs["inputs"]]
        for helper, fn in op.helpers.items():
            constants[helper] = fn
        shapes = [graph[i]["shape"] for i in attrs["inputs"]]
        expr = op.code_for(operands, attrs["params"], shapes)
        if n in into and op.inplace is not None:  # update a dead temporary in place
            expr = op.inplace(operands, attrs["params"])
            out = None
        elif n in into:  # write into a dead temporary of the same shape and dtype
            out = local.get(into[n]) or names[into[n]]
        if out is not None and op.inplace is None:
            expr = f"np.{op.ufunc.__name__}({', '.join(operands)}, out={out})"
        kernels.update(k for k in op.kernels if k + "(" in expr)
        if all(graph.scalar(i) is not None for i in attrs["inputs"]):
            expr = f"np.asarray({expr})"  # literals only (an unsimplified graph): keep an array
        return expr

    body = []
    loop_names: dict[str, str] = {}  # one loop variable and block name per array, in every loop
    for n in order:
        if n in block_of:
            if n == block_of[n].nodes[0]:
                body += _loop(graph, block_of[n], names, listing, taken, loop_names, expression, pair_of)
            continue
        if n in paired:
            if n in pair_of:
                for m in _sin_cos(graph, n, pair_of[n]):
                    names.setdefault(m, _identifier(listing[m], taken))
                body.append(f"    {', '.join(names[m] for m in _sin_cos(graph, n, pair_of[n]))} = "
                            f"{expression(n, {})}")
            continue
        if n not in names:
            names[n] = _identifier(listing[n], taken)
        expr = expression(n, {})
        if n in graph.outputs and _full(graph, n):  # a returned broadcast scalar: a real array
            expr = _full_code(graph, n)
        if n in inline and re.fullmatch(r"\w+(\.T|\[[\w:, ]*\])", expr):
            names[n] = expr  # a postfix view binds tighter than any operator it lands in
            continue
        statement = f"{names[n]} = {expr}"
        body.append(f"    {statement}")
        if debug_nans:
            where = graph[n].get("where") or "an unknown line"
            body.append(f"    check_nan({names[n]}, {graph[n]['op']!r}, {statement!r}, {where!r})")
    shared = _shared_outputs(graph)
    outs = [_literal(graph.scalar(n)) if graph.scalar(n) is not None
            else f"{names[n]}.copy()" if k in shared else names[n] for k, n in enumerate(graph.outputs)]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    args = ", ".join(names[n] for n in graph.inputs)
    header = [f"# {line}" for line in title.splitlines()]
    if constants:
        header.append(f"# bound when loaded: {', '.join(sorted(constants))}")
    body, bound = _bind_numpy(body, taken)
    imports = ["import numpy as np"]
    if bound:
        imports.append(f"from numpy import {', '.join(bound)}")
    if kernels:
        imports.append(f"from symgrad.ops.kernels import {', '.join(sorted(kernels))}")
    lines = header + imports + ["", "", f"def {fn_name}({args}):", *body, f"    return {ret}", ""]
    return Program(fn_name, "\n".join(lines), constants)


_CALL = re.compile(r"\bnp\.([A-Za-z_]\w*)\(")


def _bind_numpy(body: list[str], taken: set[str]) -> tuple[list[str], list[str]]:
    """The NumPy functions the body calls, bound once by an import line and called by bare
    name (no attribute lookup per call). One whose name the code already uses, or a
    builtin's (`abs`, `sum`), keeps its `np.`."""
    called = {name for line in body for name in _CALL.findall(line)}
    bound = sorted(name for name in called if name not in taken and name not in _RESERVED
                   and (isinstance(getattr(np, name, None), np.ufunc)
                        or callable(getattr(np, name, None)) and not isinstance(getattr(np, name), type)))
    if not bound:
        return body, []
    pattern = re.compile(r"\bnp\.(" + "|".join(bound) + r")\(")
    return [pattern.sub(r"\1(", line) for line in body], bound


def _shared_outputs(graph: Graph) -> set[int]:
    """Positions of outputs that would share memory with an argument, a bound constant or an
    earlier output, or be a read-only broadcast: returned as copies, so that a caller who
    changes a result in place changes nothing else."""
    shared, roots = set(), set()
    for k, n in enumerate(graph.outputs):
        root, broadcast = n, False
        if not _full(graph, n):  # (np.full makes a fresh array)
            while OPS.get(graph[root]["op"]) is not None and OPS[graph[root]["op"]].view:
                broadcast |= graph[root]["op"] == "broadcast_to"
                root = graph[root]["inputs"][0]
        if graph[root]["op"] in ("input", "const") or root in roots or broadcast:
            shared.add(k)
        roots.add(root)
    return shared


def _full_code(graph: Graph, n: int) -> str:
    value = graph.scalar(graph[n]["inputs"][0])
    value = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
    dtype = np.dtype(graph[n]["dtype"])
    typed = "" if dtype == np.result_type(value) else f", np.{dtype.type.__name__}"
    return f"np.full({graph[n]['shape']}, {_literal(value)}{typed})"


def _full(graph: Graph, n: int) -> bool:
    """Whether n is a scalar broadcast to a shape."""
    return graph[n]["op"] == "broadcast_to" and graph.scalar(graph[n]["inputs"][0]) is not None


def _sincos_pairs(graph: Graph, order: list[int]) -> tuple[list[int], dict[int, int]]:
    """Big float64 sin(x) and cos(x) of one x, computed together by `kernels.sincos`: the
    later of the two moves up next to the earlier one. Returns the order and {first: second}."""
    found: dict[tuple[str, int], int] = {}
    for n in order:
        attrs = graph[n]
        if (attrs["op"] in ("sin", "cos") and np.dtype(attrs["dtype"]) == np.float64
                and math.prod(attrs["shape"]) >= SINCOS_MIN_SIZE):
            found[attrs["op"], attrs["inputs"][0]] = n
    pair_of: dict[int, int] = {}
    for (op, x), n in found.items():
        m = found.get(("cos", x)) if op == "sin" else None
        if m is not None:
            first, second = sorted((n, m), key=order.index)
            pair_of[first] = second
    seconds = set(pair_of.values())
    out = []
    for n in order:
        if n not in seconds:
            out.append(n)
        if n in pair_of:
            out.append(pair_of[n])
    return out, pair_of


def _sin_cos(graph: Graph, n: int, m: int) -> tuple[int, int]:
    """The pair (n, m) as (sin node, cos node)."""
    return (n, m) if graph[n]["op"] == "sin" else (m, n)


def _outside_inputs(graph: Graph, block: blocks.Block) -> list[int]:
    inside = set(block.nodes)
    return list(dict.fromkeys(i for n in block.nodes for i in graph[n]["inputs"] if i not in inside))


def _loop(graph: Graph, block: blocks.Block, names: dict[int, str], listing: dict[int, str],
          taken: set[str], loop_names: dict[str, str], expression: Callable[..., str],
          pair_of: dict[int, int]) -> list[str]:
    """A blocked run: its outputs allocated whole, then a `for` loop over blocks of rows in
    which outside arrays are sliced and every temporary is block-sized."""

    def loop_name(name: str) -> str:
        if name not in loop_names:
            loop_names[name] = _identifier(name, taken)
        return loop_names[name]

    lo, hi = loop_name("lo"), loop_name("hi")
    lines = []
    for o in block.outputs:
        if o not in names:
            names[o] = _identifier(listing[o], taken)
        dtype = np.dtype(graph[o]["dtype"]).type.__name__
        lines.append(f"    {names[o]} = np.empty({block.shape}, np.{dtype})")
    unit = "elements" if len(block.shape) == 1 else "rows"
    lines.append(f"    for {lo} in range(0, {block.shape[0]}, {block.rows}):"
                 f"  # {block.rows} {unit} at a time: temporaries stay in cache")
    lines.append(f"        {hi} = {lo} + {block.rows}")
    local: dict[int, str] = {}
    for i in _outside_inputs(graph, block):
        if graph.scalar(i) is None and block.sliced(graph, i):
            local[i] = loop_name(f"{names[i]}_blk")
            lines.append(f"        {local[i]} = {names[i]}[{lo}:{hi}]")
    seconds = set(pair_of.values())
    for k, n in enumerate(block.nodes):
        if n in pair_of:
            pair = _sin_cos(graph, n, pair_of[n])
            for m in pair:
                if m in block.outputs:
                    local[m] = loop_name(f"{names[m]}_blk")
                else:
                    names[m] = local[m] = _identifier(listing[m], taken)
            lines.append(f"        {', '.join(local[m] for m in pair)} = {expression(n, local)}")
            lines += [f"        {names[m]}[{lo}:{hi}] = {local[m]}" for m in pair if m in block.outputs]
        elif n in seconds:
            continue
        elif n not in block.outputs:
            names[n] = local[n] = _identifier(listing[n], taken)
            lines.append(f"        {local[n]} = {expression(n, local)}")
        elif any(n in graph[m]["inputs"] for m in block.nodes[k + 1:]):
            local[n] = loop_name(f"{names[n]}_blk")
            lines.append(f"        {local[n]} = {expression(n, local)}")
            lines.append(f"        {names[n]}[{lo}:{hi}] = {local[n]}")
        elif OPS[graph[n]["op"]].ufunc is not None:
            lines.append(f"        {expression(n, local, out=f'{names[n]}[{lo}:{hi}]')}")
        else:
            lines.append(f"        {names[n]}[{lo}:{hi}] = {expression(n, local)}")
    return lines


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
