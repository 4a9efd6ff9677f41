"""What `symgrad inspect` prints: graph listings that quote the user's lines, the generated
source (highlighted on a terminal), the source pass by pass, the pass table, timings, DOT
pictures and the JSON document described by `inspect_schema.json`.

Which nodes are the gradient part: a node of a derivative's graph is "forward" when the
function's own graph (traced, or simplified with the same passes) computes the same value,
matched structurally (`alias` nodes, which mark differentiated arguments, are transparent),
and "gradient" otherwise.
"""

from __future__ import annotations

import ast
import difflib
import importlib.metadata
import re
import statistics
import timeit
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from symgrad import codegen
from symgrad.api.signature import describe
from symgrad.cli.target import Result, describe_value
from symgrad.ir import Graph, type_str
from symgrad.ir.graph import Node
from symgrad.ir.printing import equation, names
from symgrad.simplify.passes import DEFAULT_PASSES, simplify
from symgrad.tracing import pytree
from symgrad.tracing.tracer import is_static

SECTIONS = ("forward", "joint", "grad", "source", "stats")
DEFAULT_SECTIONS = ("forward", "grad", "source", "stats")
GRAPH_SECTIONS = ("forward", "joint", "grad")
SCHEMA = Path(__file__).with_name("inspect_schema.json")
FORMAT_VERSION = 1
_WHERE = re.compile(r"^(.*):(\d+): (.*)$")
_MODE_WORDS = {
    "grad": "gradient", "value_and_grad": "value and gradient", "hessian": "Hessian", "jacobian": "Jacobian",
    "jvp": "Jacobian-vector product", "vjp": "vector-Jacobian product", "hvp": "Hessian-vector product",
}


# ---------------------------------------------------------------- the parts of a graph

def _structural_ids(graph: Graph, table: dict[tuple, int]) -> dict[Node, int]:
    """Each node's value as a number, equal for equal computations (in any graph sharing
    `table`): op, params, shape, dtype and the numbers of its inputs."""
    ids: dict[Node, int] = {}
    for n in graph.nodes:
        if n.op == "alias":
            ids[n] = ids[n.inputs[0]]
            continue
        if n.op == "input":
            key: tuple = ("input", n.name)
        elif n.op == "const":
            value = n.value.tobytes() if isinstance(n.value, np.ndarray) else repr(n.value)
            key = ("const", n.shape, n.dtype.str, value)
        else:
            params = tuple(sorted((k, repr(v)) for k, v in n.params.items()))
            key = (n.op, params, n.shape, n.dtype.str, tuple(ids[i] for i in n.inputs))
        ids[n] = table.setdefault(key, len(table))
    return ids


def parts(graph: Graph, forward: Iterable[Graph]) -> dict[Node, str]:
    """Each node's part: "input", "const", "forward" (a value of the function itself, one of
    the `forward` graphs) or "gradient"."""
    table: dict[tuple, int] = {}
    known = {i for g in forward for i in _structural_ids(g, table).values()}
    ids = _structural_ids(graph, table)
    out = {}
    for n in graph.nodes:
        if n.op in ("input", "const"):
            out[n] = n.op
        else:
            out[n] = "forward" if ids[n] in known else "gradient"
    return out


def origin(node: Node) -> tuple[str, int, str] | None:
    """(file name, line, the line's code) of the user's code a node was traced from."""
    m = _WHERE.match(node.where)
    if m is None or m.group(1).startswith("<"):
        return None
    return Path(m.group(1)).name, int(m.group(2)), m.group(3).strip()


def _comment(node: Node, part: str) -> str:
    where = origin(node)
    if where is None:
        return ""
    file, line, code = where
    return f"# grad of line {line}  {code}" if part == "gradient" else f"# {file}:{line}  {code}"


def listing(graph: Graph, part: dict[Node, str]) -> str:
    """The jaxpr-like listing with, before each run of equations from one line of the user's
    code, a comment quoting it (`# loss.py:3  z = x @ w`; `# grad of line 3  z = x @ w`)."""
    named = names(graph)
    args = " ".join(f"{named[n]}:{type_str(n.shape, n.dtype)}" for n in graph.inputs)
    lines, last = [f"{{ lambda {args} . let"], ""
    for n in graph.nodes:
        if n.op == "input" or n.scalar is not None:
            continue
        comment = _comment(n, part[n])
        if comment and comment != last:
            lines.append(f"    {comment}")
        last = comment or last
        lines.append(f"    {equation(n, named)}{_value(n)}")
    outs = ", ".join(repr(n.scalar) if n.scalar is not None else named[n] for n in graph.outputs)
    lines.append(f"  in ({outs}) }}")
    return "\n".join(lines)


def _value(node: Node, limit: int = 27) -> str:
    """` [[1 0] [0 1]]`: a small array constant's value, on one line (else "")."""
    if node.op != "const" or not isinstance(node.value, np.ndarray) or node.value.size > limit:
        return ""
    return " " + array_text(node.value)


def array_text(value: np.ndarray) -> str:
    """An array on one line, NumPy's summary for large ones: `[[1. 0.] [0. 1.]]`."""
    return " ".join(np.array2string(value, threshold=27, edgeitems=2, max_line_width=10**6).split())


def constants(result: Result) -> list[str]:
    """`const0: bool[1,3,3] = [[[ True False False] ...`: the arrays the generated source is
    bound to when loaded (its header names them), one line each."""
    header = re.search(r"^# bound when loaded: (.*)$", result.built.source, re.M)
    if header is None:
        return []
    bound = result.built.fn.__globals__
    out = []
    for name in header.group(1).split(", "):
        value = np.asarray(bound[name])
        out.append(f"{name}: {type_str(value.shape, value.dtype)} = {array_text(value)}")
    return out


@dataclass
class View:
    """One graph section: its key (forward, joint, grad), title, graph and node parts."""

    key: str
    title: str
    graph: Graph
    part: dict[Node, str]


def views(result: Result, sections: Iterable[str]) -> list[View]:
    """The graph sections asked for, each with its title and node parts."""
    fn_name = getattr(result.fn, "__name__", "fn")
    forward = [result.forward.traced.graph, result.forward.graph]
    words, wrt = _MODE_WORDS[result.mode], ", ".join(result.wrt)
    out = []
    for key in sections:
        if key == "forward":
            g = result.forward.traced.graph
            outs = ", ".join(type_str(o.shape, o.dtype) for o in g.outputs)
            out.append(View(key, f"forward graph: {describe(result.forward.traced)} -> {outs}", g,
                            parts(g, [g])))
        elif key == "joint":
            g = result.built.traced.graph
            title = f"joint graph: {fn_name} and its {words} with respect to {wrt}, before the passes"
            out.append(View(key, title, g, parts(g, forward)))
        elif key == "grad":
            g = result.built.graph
            done = ("simplified" if result.passes == DEFAULT_PASSES else
                    f"after {','.join(result.passes)}" if result.passes else "not simplified")
            title = f"{words[0].upper()}{words[1:]} of {fn_name} with respect to {wrt}, {done}"
            out.append(View(key, title, g, parts(g, forward)))
    return out


# ---------------------------------------------------------------- the source, pass by pass

@dataclass
class Step:
    """The graph and source after one pass (`name` "traced" for before the first)."""

    name: str
    nodes_before: int
    nodes_after: int
    seconds: float
    source: str
    numpy_calls: int
    fired: dict[str, int]


def numpy_calls(source: str) -> int:
    """How many NumPy operations the generated function runs: its calls (`exp(c)`,
    `a.sum(...)`) and its operators on arrays (`a @ w`, `a + b`, `-c`; `-0.5` is a literal)."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Call, ast.BinOp, ast.Compare)):
            count += 1
        elif isinstance(node, ast.UnaryOp) and not isinstance(node.operand, ast.Constant):
            count += 1
    return count


def _generate(result: Result, graph: Graph) -> str:
    """The source the mode's transform generates from `graph` (as its build does)."""
    t, traced = result.plan.transform, result.built.traced
    nargs = len(result.plan.values)
    title = "symgrad " + t._title(describe(traced), traced.arg_names, nargs)
    prefix = "" if t.kind == "compiled" else f"{t.kind}_"
    outputs = t._output_names(traced.leaf_names, nargs)
    return codegen.generate(graph, prefix + getattr(t._fn, "__name__", "fn"), title, outputs).source


def steps(result: Result) -> list[Step]:
    """The traced graph, then each pass of the build: node counts, NumPy calls and the source
    after it (the passes are run again one at a time; times are the build's own)."""
    graph = result.built.traced.graph
    source = _generate(result, graph)
    out = [Step("traced", len(graph), len(graph), 0.0, source, numpy_calls(source), {})]
    for stat in result.built.stats:
        graph = simplify(graph, passes=(stat.name,))
        source = _generate(result, graph)
        out.append(Step(stat.name, stat.before, stat.after, stat.seconds, source, numpy_calls(source),
                        dict(stat.fired)))
    return out


def diffs(history: list[Step]) -> list[tuple[str, str]]:
    """(pass, unified diff of the source it changed, "" when it changed nothing)."""
    out = []
    for before, after in zip(history, history[1:]):
        diff = difflib.unified_diff(before.source.splitlines(True), after.source.splitlines(True),
                                    f"before {after.name}", f"after {after.name}")
        out.append((after.name, "".join(diff)))
    return out


def stats_table(history: list[Step], result: Result) -> str:
    """Per pass: nodes before and after, NumPy calls in the source after it, milliseconds;
    then the first call's compile time."""
    width = max(11, *(len(s.name) for s in history)) + 1
    lines = [f"{'pass':<{width}}{'nodes before':>14}{'nodes after':>13}{'numpy calls':>13}{'ms':>9}"]
    for s in history:
        before = "" if s.name == "traced" else s.nodes_before
        ms = "" if s.name == "traced" else f"{s.seconds * 1e3:.2f}"
        lines.append(f"{s.name:<{width}}{before:>14}{s.nodes_after:>13}{s.numpy_calls:>13}{ms:>9}".rstrip())
    passes = sum(s.seconds for s in history)
    lines.append(f"compile (first call): {result.compile_seconds * 1e3:.1f} ms, of which the passes "
                 f"{passes * 1e3:.1f} ms (the rest: tracing, differentiation, code generation, loading)")
    return "\n".join(lines)


# ---------------------------------------------------------------- timing

@dataclass
class Bench:
    """Steady-state time per call of the generated function."""

    seconds: float  # median over repeats
    calls: int  # calls per repeat
    repeats: int


def random_inputs(result: Result, seed: int = 0) -> list[np.ndarray]:
    """The generated function's arguments: standard normal floats of the given shapes and
    dtypes (integers and booleans as traced: zeros; a .npy's own values)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for value in result.plan.values:
        for leaf in pytree.flatten(value)[0]:
            if is_static(leaf):
                continue
            a = np.asarray(leaf)
            if a.dtype.kind == "f" and not any(leaf is file for file in result.args.loaded):
                a = rng.standard_normal(a.shape).astype(a.dtype)
            arrays.append(a)
    return arrays


def bench(result: Result, repeats: int = 7) -> Bench:
    """Time the generated function on random inputs: median of `repeats` runs of as many
    calls as take about 0.1 s."""
    fn, arrays = result.built.fn, random_inputs(result)
    timer = timeit.Timer(lambda: fn(*arrays))
    calls, _ = timer.autorange()
    calls = max(1, calls // 2)
    times = timer.repeat(repeat=repeats, number=calls)
    return Bench(statistics.median(times) / calls, calls, repeats)


def bench_line(b: Bench) -> str:
    return (f"steady state: {_duration(b.seconds)} per call (median of {b.repeats} runs of {b.calls} calls "
            "on random inputs)")


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


# ---------------------------------------------------------------- highlighting

def highlight(text: str, language: str) -> str:
    """`text` coloured for a terminal by Pygments ("python" or "diff"), as is without it."""
    try:
        from pygments import highlight as pyg_highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import DiffLexer, PythonLexer
    except ImportError:
        return text
    lexer = PythonLexer() if language == "python" else DiffLexer()
    return pyg_highlight(text, lexer, TerminalFormatter())


# ---------------------------------------------------------------- DOT

_FILL = {"input": "#ffffff", "const": "#f2f2f2", "forward": "#dbe9f6", "gradient": "#fbd9b4"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(views_: list[View]) -> str:
    """One Graphviz digraph with a cluster per graph section. Nodes are labelled with name,
    op, shape and dtype; the forward part (blue) and the gradient part (orange, in its own
    cluster) are filled differently; each node's tooltip quotes the user's line."""
    lines = ["digraph symgrad {", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10, style=filled];', '  edge [color="#555555"];']
    for k, v in enumerate(views_):
        named = names(v.graph)
        ids = {n: f"g{k}n{n.id}" for n in v.graph.nodes}
        lines += [f"  subgraph cluster_{v.key} {{", f"    label={_quote(v.title)};", "    labeljust=l;"]
        by_part: dict[str, list[Node]] = {}
        for n in v.graph.nodes:
            by_part.setdefault(v.part[n], []).append(n)
        for part in ("input", "const", "forward", "gradient"):
            group = by_part.get(part, [])
            if not group:
                continue
            indent = "    "
            if part == "gradient":  # the gradient part: its own cluster too
                lines += [f"    subgraph cluster_{v.key}_gradient {{", '      label="gradient part";',
                          '      style=dashed; color="#d9822b";']
                indent = "      "
            for n in group:
                lines.append(indent + _dot_node(n, ids[n], named, part))
            if part == "gradient":
                lines.append("    }")
        for n in v.graph.nodes:
            for i in dict.fromkeys(n.inputs):
                lines.append(f"    {ids[i]} -> {ids[n]};")
        for j, n in enumerate(v.graph.outputs):
            lines += [f'    g{k}out{j} [label="output {j}", shape=plaintext, style=""];',
                      f"    {ids[n]} -> g{k}out{j};"]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(n: Node, node_id: str, named: dict[Node, str], part: str) -> str:
    """`c = add` / `f32[3]`: name, op with its params, then type; inputs are boxes."""
    head = named.get(n) or repr(n.scalar)
    params = " ".join(f"{k}={v!r}" for k, v in n.params.items())
    op = n.op + (f"[{params}]" if params else "")
    label = f"{head}\n{op}" if n.op in ("input", "const") else f"{head} = {op}"
    label += "\n" + type_str(n.shape, n.dtype)
    where = origin(n)
    tooltip = f"{where[0]}:{where[1]}: {where[2]}" if where else part
    shape = "box" if n.op == "input" else "ellipse"
    return (f"{node_id} [label={_quote(label)}, shape={shape}, fillcolor={_quote(_FILL[part])}, "
            f"tooltip={_quote(tooltip)}];")


# ---------------------------------------------------------------- JSON

def graph_json(v: View) -> dict[str, Any]:
    """A graph section as JSON (see inspect_schema.json)."""
    named = names(v.graph)
    nodes = []
    for n in v.graph.nodes:
        where = origin(n)
        nodes.append({
            "id": n.id, "name": named.get(n), "op": n.op,
            "params": {k: repr(val) for k, val in n.params.items()},
            "shape": list(n.shape), "dtype": n.dtype.name, "inputs": [i.id for i in n.inputs],
            "value": _const_json(n),
            "part": v.part[n],
            "line": None if where is None else {"file": where[0], "line": where[1], "code": where[2]},
        })
    return {"title": v.title, "inputs": [n.id for n in v.graph.inputs],
            "outputs": [n.id for n in v.graph.outputs], "nodes": nodes}


def _const_json(n: Node) -> str | None:
    if n.op != "const":
        return None
    return repr(n.scalar) if n.scalar is not None else _value(n).strip() or None


def _version() -> str:
    try:
        return importlib.metadata.version("symgrad")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def document(result: Result, target: str, sections: list[str], history: list[Step] | None,
             with_diff: bool, timing: Bench | None) -> dict[str, Any]:
    """The JSON document of an inspection (its schema: `SCHEMA`)."""
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION, "symgrad_version": _version(), "target": target,
        "function": getattr(result.fn, "__name__", "fn"), "mode": result.mode, "wrt": list(result.wrt),
        "arguments": [{"name": n, "type": describe_value(v), "added": n in result.plan.extra}
                      for n, v in zip(result.plan.names, result.plan.values)],
        "passes": list(result.passes),
        "graphs": {v.key: graph_json(v) for v in views(result, [s for s in sections if s in GRAPH_SECTIONS])},
    }
    if "source" in sections:
        doc["source"] = result.built.source
    if history is not None and "stats" in sections:
        doc["stats"] = {
            "passes": [{"name": s.name, "nodes_before": s.nodes_before, "nodes_after": s.nodes_after,
                        "numpy_calls": s.numpy_calls, "ms": s.seconds * 1e3, "fired": s.fired}
                       for s in history],
            "compile_ms": result.compile_seconds * 1e3,
        }
    if history is not None and with_diff:
        doc["diff"] = [{"pass": name, "diff": text} for name, text in diffs(history)]
    if timing is not None:
        doc["bench"] = {"seconds_per_call": timing.seconds, "calls": timing.calls, "repeats": timing.repeats}
    return doc
