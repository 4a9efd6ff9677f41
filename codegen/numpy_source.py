"""Turn a `symgrad.graph.Graph` into NumPy source, one statement a line, and load it.

Each group of statements is preceded by a comment quoting the user's line it comes from
(`# loss.py:3  z = X @ W + b`), or, for a derivative, the line it is the gradient of
(`# grad of line 3  z = X @ W + b`; the file is named when it is not the one most statements
come from). A statement serving several lines quotes the one recorded on its node: CSE keeps
the node made first (a forward value before any gradient reusing it); a fused SymPy cluster
quotes, for each value it hands on, that value's line, and for a subexpression several of them
share, the first one's (so one fused expression of five lines quotes the line of its result).
A statement traced from no line (a reshape symgrad adds to a result) takes its nearest
input's, else its first reader's. Scheduling may interleave lines: a comment opens every run
of statements of one origin, so a line can be quoted more than once.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import linecache
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgrad.codegen import blocks, buffers
from symgrad.ir import Graph, Node, origin
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
    function: str = ""  # the `def` alone, without the header and imports
    numpy_names: tuple[str, ...] = ()  # bound by `from numpy import ...`
    kernels: tuple[str, ...] = ()  # imported from `symgrad.ops.kernels`


@dataclass(eq=False)
class Call:
    """One statement that computes several nodes at once (a fused kernel of another back
    end): `code(output names, input names)` gives its lines; `inputs` are the arrays it reads."""

    outputs: list[Node]
    inputs: list[Node]
    code: Callable[[list[str], list[str]], list[str]]


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
             debug_nans: bool = False, order: list[Node | Call] | None = None) -> Program:
    """Source of a function `name(*inputs)` returning the graph's outputs (a tuple if several).

    With `debug_nans`, each statement is followed by a check that names the op and the line
    it was traced from when the result holds a NaN. `order` gives the statements, some of
    them `Call`s computing several nodes (then no loop blocking and no sin/cos pairing).
    """
    w = _Writer(graph, debug_nans, order)
    fn_name = name_arguments(w, graph, name, output_names)
    for n in graph.nodes:  # named first: a blocked loop may read one listed after it
        if n.op == "const" and n.scalar is None:
            w.names[n] = _identifier(f"const{len(w.constants)}", w.taken)
            w.constants[w.names[n]] = n.value
    body = []
    for n in w.order:
        if isinstance(n, Call):
            body += [f"    {line}" for line in n.code([w.name(o) for o in n.outputs],
                                                      [w.names[i] for i in n.inputs])]
        elif n in w.block_of:
            if n == w.block_of[n].nodes[0]:
                body += w.loop(w.block_of[n])
        elif n in w.pair_of:
            body += w.commented(n, [f"    {w.pair(n, {})}"], "    ")
        elif n not in w.paired:
            body += w.commented(n, w.statement(n), "    ")
    shared = _shared_outputs(graph)
    outs = [_literal(n.scalar) if n.scalar is not None
            else f"{w.names[n]}.copy()" if k in shared else w.names[n] for k, n in enumerate(graph.outputs)]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    args = ", ".join(w.names[n] for n in graph.inputs)
    header = [f"# {line}" for line in title.splitlines()]
    if w.constants:
        header.append(f"# bound when loaded: {', '.join(sorted(w.constants))}")
    imports = ["import numpy as np"]
    if w.lib.np.bound:
        imports.append(f"from numpy import {', '.join(sorted(w.lib.np.bound))}")
    if w.lib.kernels.bound:
        imports.append(f"from symgrad.ops.kernels import {', '.join(sorted(w.lib.kernels.bound))}")
    function = [f"def {fn_name}({args}):", *body, f"    return {ret}", ""]
    source = "\n".join(header + imports + ["", "", *function])
    return Program(fn_name, source, w.constants, "\n".join(function), tuple(sorted(w.lib.np.bound)),
                   tuple(sorted(w.lib.kernels.bound)))


class _Writer:
    """One function's generation: the statement order, loops, sin/cos pairs and buffer plan
    decided up front, then the names, bound constants and kernels met while writing."""

    def __init__(self, graph: Graph, debug_nans: bool, given: list[Node | Call] | None = None) -> None:
        self.graph, self.debug_nans = graph, debug_nans
        self.taken: set[str] = set(_BOUND)  # names the module binds: no argument may shadow them
        for n in graph.nodes:
            if n.op in OPS:
                self.taken.update(OPS[n.op].helpers)
        self.names: dict[Node, str] = {}
        self.loop_names: dict[str, str] = {}  # one loop variable and block name per array
        self.constants: dict[str, Any] = {}
        self.lib = _Lib(_NumPy(self.taken), _Kernels())
        self.listing = graph.names()  # the names the printed graph uses, so source and listing agree
        order = [n for n in graph.nodes if n.op not in ("input", "const")
                 and n.scalar is None]
        self.pair_of: dict[Node, Node] = {}
        loops: list[blocks.Block] = []
        calls = [c for c in given or () if isinstance(c, Call)]
        if given is not None:
            order = [n for n in given if not isinstance(n, Call)]
        elif not debug_nans:
            order, self.pair_of = _sincos_pairs(graph, blocks.schedule(graph, order))
            loops = blocks.find(graph, order)
        self.block_of = {n: b for b in loops for n in b.nodes}
        self.paired = frozenset(self.pair_of) | frozenset(self.pair_of.values())
        outer = [o for n in (given or order) for o in (n.outputs if isinstance(n, Call) else [n])
                 if isinstance(n, Call) or n not in self.block_of or n in self.block_of[n].outputs]
        made = {o: c.inputs for c in calls for o in c.outputs}
        looped = {o: _outside_inputs(graph, b) for b in loops for o in b.outputs}
        self.into = buffers.plan(graph, outer, fresh=self.paired | set(looped) | set(made),
                                 reads={**looped, **made})
        self.order: list[Node | Call] = list(given) if given is not None else order
        for b in loops:
            self.into.update(buffers.plan(graph, b.nodes, fresh=self.paired, fixed=frozenset(b.outputs)))
        uses: dict[Node, int] = {}
        for n in order + calls:
            for i in n.inputs:
                uses[i] = uses.get(i, 0) + 1
        self.inline = set() if debug_nans else {  # views read once, like `w.T`, are written in place
            n for n in order if n.op in ("transpose", "reshape") and uses.get(n) == 1
            and n not in graph.outputs and n.inputs[0].scalar is None}
        self.origins = _origins(graph)
        files = Counter(o.file for n in order if (o := self.origins[n]) is not None)
        self.home = files.most_common(1)[0][0] if files else ""  # ties: the first file met
        self.group: Any = _START  # the origin of the statements being written

    def commented(self, n: Node, lines: list[str], indent: str) -> list[str]:
        """`lines` (n's code), after a comment quoting n's origin if the statement before
        them came from another."""
        o = self.origins[n]
        if not lines or (self.group is not _START and o == self.group):
            return lines
        self.group = o
        return [indent + self.comment(o), *lines]

    def comment(self, o: origin.Origin | None) -> str:
        """`# loss.py:3  z = X @ W + b`, or `# grad of line 3  z = X @ W + b`."""
        if o is None:
            return "# from no line of the function"
        if not o.grad:
            return f"# {o.filename}:{o.line}  {o.text}".rstrip()
        place = f"line {o.line}" if o.file == self.home else f"{o.filename}:{o.line}"
        return f"# grad of {place}  {o.text}".rstrip()

    def name(self, n: Node) -> str:
        """The name of n's value, from the graph listing's name for it."""
        if n not in self.names:
            self.names[n] = _identifier(self.listing[n], self.taken)
        return self.names[n]

    def loop_name(self, name: str) -> str:
        """A name used inside blocked loops: the same in every loop of the function."""
        if name not in self.loop_names:
            self.loop_names[name] = _identifier(name, self.taken)
        return self.loop_names[name]

    def expression(self, n: Node, local: dict[Node, str], out: str | None = None) -> str:
        """The code computing `n`, its operands named by `local` first, then `names`; a
        ufunc writes into `out` when given."""
        op = OPS[n.op]
        operands = _Operands(self, n, local)
        if n in self.into and op.inplace is not None:  # update a dead temporary in place
            expr = op.inplace(operands, n.params, self.lib)
        else:
            if n in self.into:  # write into a dead temporary of the same shape and dtype
                out = local.get(self.into[n]) or self.names[self.into[n]]
            if out is not None:
                expr = f"{getattr(self.lib.np, op.ufunc.__name__)}({', '.join(operands)}, out={out})"
            else:
                expr = op.code_for(operands, n.params, [i.shape for i in n.inputs], self.lib)
        if all(i.scalar is not None for i in n.inputs):
            expr = f"{self.lib.np.asarray}({expr})"  # literals only (an unsimplified graph): keep an array
        for helper, fn in op.helpers.items():  # bound when loaded, if the code calls it
            if re.search(rf"\b{helper}\(", expr):
                self.constants[helper] = fn
        return expr

    def statement(self, n: Node) -> list[str]:
        """The line (and with debug_nans, its check) computing n outside any loop."""
        graph = self.graph
        full = n in graph.outputs and _full(graph, n)
        expr = _full_code(n, self.lib) if full else self.expression(n, {})
        return assign(self, n, expr)

    def pair(self, n: Node, local: dict[Node, str]) -> str:
        """`s, c = sincos(x)` for the first node of a sin/cos pair, named by `local` first."""
        x = n.inputs[0]
        targets = [local.get(m) or self.name(m) for m in _sin_cos(self.graph, n, self.pair_of[n])]
        return f"{', '.join(targets)} = {self.lib.kernels.sincos}({local.get(x) or self.names[x]})"

    def loop(self, block: blocks.Block) -> list[str]:
        """A blocked run: its outputs allocated whole, then a `for` loop over blocks of rows
        in which outside arrays are sliced and every temporary is block-sized."""
        graph = self.graph
        lo, hi = self.loop_name("lo"), self.loop_name("hi")
        lines = []
        for o in block.outputs:
            dtype = np.dtype(o.dtype).type.__name__
            allocate = f"    {self.name(o)} = {self.lib.np.empty}({block.shape}, np.{dtype})"
            lines += self.commented(o, [allocate], "    ")
        unit = ("element" if len(block.shape) == 1 else "row") + ("s" if block.rows > 1 else "")
        lines.append(f"    for {lo} in range(0, {block.shape[0]}, {block.rows}):"
                     f"  # {block.rows} {unit} at a time: temporaries stay in cache")
        lines.append(f"        {hi} = {lo} + {block.rows}")
        self.group = _START  # the loop's body starts its own groups
        local: dict[Node, str] = {}  # the block-sized values
        for i in _outside_inputs(graph, block):
            if i.scalar is None and block.sliced(graph, i):
                local[i] = self.loop_name(f"{self.names[i]}_blk")
                lines.append(f"        {local[i]} = {self.names[i]}[{lo}:{hi}]")
        for k, n in enumerate(block.nodes):
            made = [n, self.pair_of[n]] if n in self.pair_of else [n]
            if n in self.paired and n not in self.pair_of:
                continue  # the second of a pair: made with the first
            for m in made:  # a result read later in this block gets a block-sized name too
                if m not in block.outputs:
                    local[m] = self.name(m)
                elif n in self.pair_of or any(m in r.inputs for r in block.nodes[k + 1:]):
                    local[m] = self.loop_name(f"{self.names[m]}_blk")
            if n in self.pair_of:
                code = [f"        {self.pair(n, local)}"]
            elif n in local:
                code = [f"        {local[n]} = {self.expression(n, local)}"]
            elif OPS[n.op].ufunc is not None:
                code = [f"        {self.expression(n, local, out=f'{self.names[n]}[{lo}:{hi}]')}"]
            else:
                code = [f"        {self.names[n]}[{lo}:{hi}] = {self.expression(n, local)}"]
            code += [f"        {self.names[m]}[{lo}:{hi}] = {local[m]}" for m in made
                     if m in block.outputs and m in local]
            lines += self.commented(n, code, "        ")
        self.group = _START  # what follows the loop starts a group
        return lines


class _Operands(Sequence[str]):
    """The code of a node's operands, each made when the op's printer reads it, so that an
    operand the printer leaves out (a custom VJP's residuals) imports nothing."""

    def __init__(self, writer: _Writer, n: Node, local: dict[Node, str]) -> None:
        self.writer, self.n, self.local = writer, n, local
        self.texts: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.n.inputs)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if k not in self.texts:
            i, w = self.n.inputs[k], self.writer
            if i.scalar is None:
                self.texts[k] = self.local.get(i) or w.names[i]
            elif OPS[self.n.op].elementwise:  # elementwise code takes Python scalars
                self.texts[k] = _literal(i.scalar) if self._literal_keeps_dtype(k) else \
                    f"np.{i.dtype.name}({_literal(i.scalar.item())})"
            else:  # other ops' code may call array methods
                self.texts[k] = f"{w.lib.np.asarray}({_literal(i.scalar)})"
        return self.texts[k]

    def _literal_keeps_dtype(self, k: int) -> bool:
        """Whether operand k, printed as a Python literal (weak in NumPy), leaves the node's
        dtype as it is: a float64 0-d constant times a float32 array must stay float64."""
        i = self.n.inputs[k]
        if i.weak or i.dtype not in (np.float64, np.int64, np.bool_):
            return True  # weak already, or `_literal` spells the dtype out
        types = tuple(i.scalar.item() if j == k else x.type for j, x in enumerate(self.n.inputs))
        return OPS[self.n.op].out_dtype(types, self.n.params) == self.n.dtype


class _NumPy:
    """NumPy's functions as the generated code calls them, each import recorded as it is
    printed: by bare name, bound once by `from numpy import ...` (no attribute lookup per
    call), unless the code already uses that name or it is a builtin's (`abs`, `sum`);
    types and constants keep their `np.`."""

    def __init__(self, taken: set[str]) -> None:
        self.taken, self.bound = taken, set()

    def __getattr__(self, name: str) -> str:
        if name not in self.bound:
            value = getattr(np, name, None)
            bindable = isinstance(value, np.ufunc) or callable(value) and not isinstance(value, type)
            if not bindable or name in self.taken or name in _RESERVED:
                return f"np.{name}"
            self.bound.add(name)
            self.taken.add(name)
        return name


class _Kernels:
    """symgrad's kernels (`symgrad.ops.kernels`), recorded as they are printed."""

    def __init__(self) -> None:
        self.bound: set[str] = set()

    def __getattr__(self, name: str) -> str:
        self.bound.add(name)
        return name


@dataclass
class _Lib:
    """What op printers call functions through: `lib.np.exp`, `lib.kernels.sigmoid`."""

    np: _NumPy
    kernels: _Kernels


_START = object()  # no statement written yet in this block


def _origins(graph: Graph) -> dict[Node, origin.Origin | None]:
    """Each node's origin; one traced from no line takes its nearest input's, else its first
    reader's (a reshape of a result serves the line that computed what it reshapes)."""
    found = {n: origin.parse(n.where) for n in graph.nodes}
    for n in graph.nodes:
        if found[n] is None:
            found[n] = next((found[i] for i in n.inputs if found[i] is not None), None)
    for n, readers in reversed(graph.consumers().items()):
        if found[n] is None:
            found[n] = next((found[r] for r in readers if found[r] is not None), None)
    return found


def name_arguments(writer: Any, graph: Graph, name: str, output_names: list[str] | None) -> str:
    """Name the function (returned), its inputs and its outputs in a writer: shared by the
    array-API writer."""
    fn_name = _identifier(name, writer.taken)
    for n in graph.inputs:
        writer.names[n] = _identifier(n.name, writer.taken)
    for n, out_name in zip(graph.outputs, output_names or []):
        if n not in writer.names and n.scalar is None:
            writer.names[n] = _identifier(out_name, writer.taken)
    return fn_name


def assign(writer: Any, n: Node, expr: str) -> list[str]:
    """The lines binding `n` to `expr` in a writer's function (with its debug_nans check), or
    none for a view read once, written where it is read. Shared by the array-API writer."""
    if n in writer.inline and re.fullmatch(r"\w+(\.T|\[[\w:, ]*\])", expr):
        writer.names[n] = expr  # a postfix view binds tighter than any operator it lands in
        return []
    statement = f"{writer.name(n)} = {expr}"
    if not writer.debug_nans:
        return [f"    {statement}"]
    where = n.where or "an unknown line"
    check = f"{writer.lib.kernels.check_nan}({writer.names[n]}, {n.op!r}, {statement!r}, {where!r})"
    return [f"    {statement}", f"    {check}"]


def _shared_outputs(graph: Graph) -> set[Node]:
    """Positions of outputs that would share memory with an argument, a bound constant or an
    earlier output, or be a read-only broadcast: returned as copies, so that a caller who
    changes a result in place changes nothing else."""
    shared, roots = set(), set()
    for k, n in enumerate(graph.outputs):
        root, broadcast = n, False
        if not _full(graph, n):  # (np.full makes a fresh array)
            while OPS.get(root.op) is not None and OPS[root.op].view:
                broadcast |= root.op == "broadcast_to"
                root = root.inputs[0]
        if root.op in ("input", "const") or root in roots or broadcast:
            shared.add(k)
        roots.add(root)
    return shared


def _full_code(n: Node, lib: _Lib) -> str:
    value = n.inputs[0].scalar
    value = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
    dtype = np.dtype(n.dtype)
    typed = "" if dtype == np.result_type(value) else f", np.{dtype.type.__name__}"
    return f"{lib.np.full}({n.shape}, {_literal(value)}{typed})"


def _full(graph: Graph, n: Node) -> bool:
    """Whether n is a scalar broadcast to a shape."""
    return n.op == "broadcast_to" and n.inputs[0].scalar is not None


def _sincos_pairs(graph: Graph, order: list[Node]) -> tuple[list[Node], dict[Node, Node]]:
    """Big float64 sin(x) and cos(x) of one x, computed together by `kernels.sincos`: the
    later of the two moves up next to the earlier one. Returns the order and {first: second}."""
    found: dict[tuple[str, Node], Node] = {}
    for n in order:
        if n.op in ("sin", "cos") and n.dtype == np.float64 and math.prod(n.shape) >= SINCOS_MIN_SIZE:
            found[n.op, n.inputs[0]] = n
    pair_of: dict[Node, Node] = {}
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


def _sin_cos(graph: Graph, n: Node, m: Node) -> tuple[Node, Node]:
    """The pair (n, m) as (sin node, cos node)."""
    return (n, m) if n.op == "sin" else (m, n)


def _outside_inputs(graph: Graph, block: blocks.Block) -> list[Node]:
    inside = set(block.nodes)
    return list(dict.fromkeys(i for n in block.nodes for i in n.inputs if i not in inside))


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
