"""The Numba back end: elementwise clusters, and a sum over one, as loops under `numba.njit`.

A cluster is a set of elementwise statements of one shape whose operands are arrays of
that shape, 0-d values or literals (a broadcast between other shapes stays NumPy). Each
becomes one kernel: a plain Python loop over the flattened index that reads its inputs once
and writes only the values read outside it, so no temporary is ever allocated. A full `sum`
of a cluster's value is folded into its kernel, summed in NumPy's own pairwise order (so
the result is the one `ndarray.sum` gives, to the bit), and so is the scatter of clustered
values into 1-D slices (the gradient of `x[1:]` and `x[:-1]`). On big float64 arrays, `sin`,
`cos`, `exp`, `expm1`, `log`, `log1p` and `tanh` are `numba_math`'s vectorizable versions (the
loop runs again with libm's when an argument is outside their range), and the other functions
NumPy runs in SIMD loops (`log2`, `arctan`...) stay NumPy calls between kernels. Everything
else (matmul, indexing, broadcasts, reductions over some axes) stays NumPy, written by
`numpy_source` around the kernel calls.

Numba caches compiled kernels on disk only for functions defined in a real file: the kernels
of a program are written to `<cache>/symgrad_numba_<hash>.py` (the hash of their text;
`SYMGRAD_NUMBA_CACHE`, else `$XDG_CACHE_HOME/symgrad/numba`) and imported from there. A later
process skips more: `numba_cache` reads its whole build back (no simplify, no SymPy), and
`numba_aot` gives it the kernels compiled ahead of time (no Numba import).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import importlib.util
import linecache
import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symgrad.codegen import numba_aot, numpy_source
from symgrad.codegen.numpy_source import Call, Program, _identifier, _literal
from symgrad.ir import Graph, Node
from symgrad.ops import OPS

INSTALL = "backend='numba' needs Numba: pip install symgrad[numba]"
# numba_math's vectorizable functions (`v` and the op's name), each with the test that its
# argument `{x}` is in the range where it holds, false for NaN (numba_math.LIMIT, EXP_LIMIT...,
# spelled out here: numba_math imports Numba)
VECTOR: dict[str, str] = {
    "sin": "abs({x}) <= 524288.0",
    "cos": "abs({x}) <= 524288.0",
    "exp": "abs({x}) <= 708.0",
    "expm1": "abs({x}) <= 708.0",
    "log": "2.2250738585072014e-308 <= {x} <= 1.7976931348623157e308",
    "log1p": "-1.0 < {x} <= 1e300",
    "tanh": "{x} == {x}",
}

# The scalar form of each fused op, with `np.` ufuncs Numba compiles for scalars. Ops left out
# (kernels of symgrad.ops.kernels such as erf, integer ops) stay NumPy statements.
_SAME = ("add sub mul div neg pow exp log log1p expm1 tanh sqrt softplus lt le gt ge eq ne abs sign "
         "alias stop_gradient sin cos tan atan sinh cosh asin acos asinh acosh atanh atan2 hypot log2 "
         "log10 exp2 cbrt maximum minimum fmax fmin copysign floor ceil trunc logical_and logical_or "
         "logical_xor logical_not isnan isinf isfinite signbit logit relu").split()
SCALAR: dict[str, str] = {name: "" for name in _SAME}  # "": the op's own NumPy template
SCALAR.update({
    "sigmoid": "{one} / ({one} + {np.exp}(-{x}))",  # kernels.sigmoid's formula: exp overflow gives 0
    "where": "({y} if {x} else {z})",
})
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.bool_))
# NumPy runs these in SIMD loops (SVML) 3-8x faster than the libm call Numba makes for each
# element (measured on 10^6 float64: exp 1.3 ms against 5.7, tanh 2.4 against 13.7, log1p 1.5
# against 11): on big arrays they stay NumPy statements between kernels, unless `numba_math`
# has a vectorizable version (VECTOR, float64), which runs in the kernel's loop with no pass
# over memory of its own.
NUMPY_SIMD = frozenset("exp log log1p expm1 tanh tan atan sinh cosh asinh acosh atanh asin acos log2 log10 "
                       "exp2 cbrt".split())
SIMD_MIN_SIZE = 4096  # elements; below this one NumPy call costs more than the libm calls
# NumPy asks the kernel for huge pages on arrays of 4 MiB or more (madvise), Numba's allocator
# does not: a fresh 8 MB array then costs 4 page faults instead of 2048, about 1.5 ms less.
# Kernels write such arrays into `np.empty`s the NumPy code passes them.
GIVEN_MIN_BYTES = 1 << 22


class _Np:
    """Prints `{np.exp}` as `np.exp` in the kernels."""

    def __getattr__(self, name: str) -> str:
        return f"np.{name}"


def require() -> None:
    """A one-line ImportError saying how to install Numba when it is missing. Numba is not
    imported (a fifth of a second): a process that finds its kernels built ahead of time
    (`aot`) never imports it."""
    if importlib.util.find_spec("numba") is None:
        raise ImportError(INSTALL)


# ---------------------------------------------------------------- finding clusters

@dataclass(eq=False)
class Kernel:
    """One fused loop: elementwise `nodes` of `shape`, optionally a full sum of one of them."""

    shape: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    total: Node | None = None  # a `sum` over all axes of one of `nodes`, folded into the loop
    # a scatter_add of one of `nodes` into zeros, then index_adds of others into the result
    # (the gradient of slices, x[1:] and x[:-1]), each added in the loop where it is made
    scatter: list[Node] = field(default_factory=list)

    def extra(self) -> list[Node]:
        """The statements folded into the loop besides `nodes`."""
        return ([self.total] if self.total is not None else []) + self.scatter


def fusible(n: Node) -> bool:
    """Whether n can be a statement of a kernel: a scalar form, a float or bool dtype, and
    operands of its own shape, 0-d or literal."""
    if n.op not in SCALAR or not n.shape or math.prod(n.shape) == 0 or n.dtype not in _DTYPES:
        return False
    if n.op in NUMPY_SIMD and math.prod(n.shape) >= SIMD_MIN_SIZE and not _vector(n):
        return False
    return all(i.scalar is not None or (i.shape in (n.shape, ()) and i.dtype in _DTYPES) for i in n.inputs)


def _vector(n: Node) -> bool:
    """Whether a kernel of n's shape may compute n with numba_math (sin and cos in any float
    dtype, the others in float64: they build floats from their bits)."""
    return n.op in VECTOR and (n.op in ("sin", "cos") or all(i.scalar is not None or i.dtype == np.float64
                                                           for i in n.inputs))


def _offset(n: Node, k: Kernel, value: Node) -> int | None:
    """Where a 1-D scatter_add/index_add n puts element 0 of the kernel's `value`: the start of
    its one unit-step slice covering exactly the kernel's length, else None."""
    index, shape = n.params.get("index"), n.shape
    if len(k.shape) != 1 or len(shape) != 1 or value.shape != k.shape or len(n.inputs) != (
            1 if n.op == "scatter_add" else 2) or len(index) != 1 or index[0][0] != "slice":
        return None
    start, stop, step = index[0][1:]
    if step not in (None, 1):
        return None
    lo, hi, _ = slice(start, stop).indices(shape[0])
    return lo if hi - lo == k.shape[0] and np.dtype(n.dtype) == value.dtype else None


def _summable(n: Node, member: Node) -> bool:
    return (n.op == "sum" and n.inputs[0] is member and not n.params["keepdims"]
            and len(n.params["axes"]) == len(member.shape) and n.dtype in _DTYPES[:2])


def clusters(graph: Graph) -> list[Kernel]:
    """The kernels worth making (two statements or more, or one and a sum), in program order.

    A statement joins a kernel of its shape (the one its operands come from first, else the
    newest) unless one of its operands depends on that kernel: fused, that is a cycle.
    `reach[n]` holds the kernels n reads through other statements, `after[k]` those the
    kernel k reads (each kernel counts as one statement: all its inputs before any output)."""
    kernel_of: dict[Node, Kernel] = {}
    reach: dict[Node, set[int]] = {}
    after: dict[int, set[int]] = {}
    kernels: list[Kernel] = []
    latest: dict[tuple[int, ...], Kernel] = {}  # the newest kernel of each shape
    readers: dict[Node, int] = {n: 1 for n in graph.outputs}
    for n in graph.nodes:
        for i in set(n.inputs):
            readers[i] = readers.get(i, 0) + 1

    def depends(i: Node, k: Kernel) -> bool:
        seen, todo = set(), list(reach.get(i, ()))
        while todo:
            j = todo.pop()
            if j == id(k):
                return True
            if j not in seen:
                seen.add(j)
                todo += after[j]
        return False
    for n in graph.nodes:
        below = set().union(*(reach.get(i, ()) for i in n.inputs))
        home = None
        if fusible(n):
            candidates = [kernel_of[i] for i in reversed(n.inputs) if i in kernel_of
                          and kernel_of[i].shape == n.shape]
            if n.shape in latest:
                candidates.append(latest[n.shape])
            home = next((k for k in candidates if not any(kernel_of.get(i) is not k and depends(i, k)
                                                          for i in n.inputs)), None)
            if home is None:
                home = latest[n.shape] = Kernel(n.shape)
                kernels.append(home)
                after[id(home)] = set()
            home.nodes.append(n)
            kernel_of[n] = home
            after[id(home)] |= below - {id(home)}
            below.add(id(home))
        elif n.op == "sum" and n.inputs[0] in kernel_of and kernel_of[n.inputs[0]].total is None \
                and _summable(n, n.inputs[0]):
            kernel_of[n.inputs[0]].total = n
        elif n.op == "scatter_add" and n.inputs[0] in kernel_of and not kernel_of[n.inputs[0]].scatter \
                and _offset(n, kernel_of[n.inputs[0]], n.inputs[0]) is not None:
            kernel_of[n.inputs[0]].scatter.append(n)
        elif n.op == "index_add" and n.inputs[1] in kernel_of and kernel_of[n.inputs[1]].scatter \
                and kernel_of[n.inputs[1]].scatter[-1] is n.inputs[0] and readers[n.inputs[0]] == 1 \
                and _offset(n, kernel_of[n.inputs[1]], n.inputs[1]) is not None:
            kernel_of[n.inputs[1]].scatter.append(n)
        reach[n] = below
    _sink(graph, kernels, readers)
    for k in kernels:
        if k.total is not None and _vectorized(k):
            k.total = None  # NumPy sums the written value: the summing loop would be scalar
    return [k for k in kernels if len(k.nodes) + len(k.extra()) > 1]


def _vectorized(k: Kernel) -> bool:
    """Whether the kernel computes VECTOR functions with numba_math: 4096 elements or more
    (on small arrays the vector loop gains little, and its second loop doubles the compile)."""
    return math.prod(k.shape) >= SIMD_MIN_SIZE and any(_vector(n) for n in k.nodes)


def _sink(graph: Graph, kernels: list[Kernel], uses: dict[Node, int]) -> None:
    """Move statements of a kernel that only a later kernel of its shape reads into that
    kernel, with what only they read: the first kernel then writes fewer arrays and the
    second reads fewer. (NumPy statements between two kernels, such as an `exp` kept out
    of the loops, split a cluster so: `kernel0` would write everything `kernel1` reads.)"""
    read_by: dict[Node, list[Node]] = {}
    for n in graph.nodes:
        for i in set(n.inputs):
            read_by.setdefault(i, []).append(n)
    for j, first in enumerate(kernels):
        for second in kernels[j + 1:]:
            if second.shape != first.shape:
                continue
            there = set(second.nodes)
            moved: set[Node] = set()
            for n in reversed(first.nodes):
                if n not in graph.outputs and read_by.get(n) and all(
                        r in there or r in moved for r in read_by[n]):
                    moved.add(n)
            if moved:
                first.nodes = [n for n in first.nodes if n not in moved]
                second.nodes = sorted(second.nodes + list(moved), key=lambda n: n.id)


def _schedule(graph: Graph, kernels: list[Kernel]) -> list[Node | Kernel]:
    """The statements and kernels in an order that computes each before its readers: a
    topological order of the graph with each kernel as one unit, kept near graph order."""
    unit: dict[Node, Any] = {}
    for k in kernels:
        for n in k.nodes + k.extra():
            unit[n] = k
    nodes = [n for n in graph.nodes if n.op not in ("input", "const") and n.scalar is None]
    units: list[Any] = list(dict.fromkeys(unit.get(n, n) for n in nodes))
    position = {u: k for k, u in enumerate(units)}
    members = {u: u.nodes + u.extra() if isinstance(u, Kernel) else [u]
               for u in units}
    needs = {u: {unit.get(i, i) for m in members[u] for i in m.inputs} & position.keys() - {u} for u in units}
    readers: dict[Any, list[Any]] = {}
    for u, ins in needs.items():
        for v in ins:
            readers.setdefault(v, []).append(u)
    waiting = {u: len(ins) for u, ins in needs.items()}
    ready = [position[u] for u in units if waiting[u] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        u = units[heapq.heappop(ready)]
        out.append(u)
        for r in readers.get(u, ()):
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, position[r])
    return out


# ---------------------------------------------------------------- writing kernels

class _KernelWriter:
    """The source of one kernel and the Call that invokes it from the NumPy wrapper."""

    def __init__(self, graph: Graph, kernel: Kernel, name: str, listing: dict[Node, str]) -> None:
        self.graph, self.kernel, self.name = graph, kernel, name
        inside = set(kernel.nodes)
        folded = set(kernel.extra())
        readers = {i for n in graph.nodes if n not in inside and n not in folded for i in n.inputs}
        self.outputs = [n for n in kernel.nodes if n in readers or n in graph.outputs]
        self.scatter = kernel.scatter[-1] if kernel.scatter else None  # the array the scatter makes
        self.inputs = list(dict.fromkeys(i for n in kernel.nodes for i in n.inputs
                                         if i not in inside and i.scalar is None))
        taken = {"np", "numba", "i", "n", "lo", "hi"}
        self.args = [_identifier(listing.get(i, "x"), taken) for i in self.inputs]
        self.arrays = {i: a for i, a in zip(self.inputs, self.args) if i.shape}
        self.values = {i: a for i, a in zip(self.inputs, self.args) if not i.shape}
        self.local = {n: _identifier(listing[n], taken) for n in kernel.nodes}
        self.out = {n: _identifier(f"{self.local[n]}_out", taken) for n in self.outputs}
        if self.scatter is not None:
            self.out[self.scatter] = _identifier(listing[self.scatter], taken)

    def given(self) -> list[Node]:
        """The arrays the NumPy code allocates and passes in (GIVEN_MIN_BYTES or more)."""
        return [n for n in self.written()
                if math.prod(n.shape) * np.dtype(n.dtype).itemsize >= GIVEN_MIN_BYTES]

    def fast(self) -> bool:
        """Whether the loop runs with numba_math's functions, and again with libm's when an
        argument is out of their range (a kernel with a sum has none: `clusters` unfolds it)."""
        return _vectorized(self.kernel)

    def written(self) -> list[Node]:
        """The arrays the kernel returns: values read outside, then the scatter's result."""
        return self.outputs + ([self.scatter] if self.scatter is not None else [])

    # the loop body: one line per statement, then the writes of the values read outside
    def body(self, fast: bool = False) -> list[str]:
        lines = []
        for n in self.kernel.nodes:
            lines.append(f"{self.local[n]} = {self.scalar(n, fast)}")
            if fast and _vector(n):
                lines.append(f"outside |= not ({VECTOR[n.op].format(x=self.operand(n, n.inputs[0]))})")
        lines += [f"{self.out[n]}[i] = {self.local[n]}" for n in self.outputs]
        stencil = self.stencil()
        if stencil is None:  # each added where it goes: the result starts as zeros
            for c, value, at in self.scattered():
                lines.append(f"{self.out[self.scatter]}[{'i + ' + str(at) if at else 'i'}] += "
                             f"{self.local[value]}  # {c.op} at {_slice_text(c.params['index'][0])}")
        elif stencil:
            low, terms = stencil
            at = f"i + {low}" if low else "i"
            lines.append(f"{self.out[self.scatter]}[{at}] = {' + '.join(terms)}")
            lines += [f"{self.carried(value)} = {self.local[value]}" for _, value, at in self.scattered()
                      if at > low]
        return lines

    def scattered(self) -> list[tuple[Node, Node, int]]:
        """The scatter's statements, each with the value it adds and where element 0 goes."""
        out = []
        for c in self.kernel.scatter:
            value = c.inputs[0] if c.op == "scatter_add" else c.inputs[1]
            out.append((c, value, _offset(c, self.kernel, value)))
        return out

    def stencil(self) -> tuple[int, list[str]] | None:
        """When the scattered values land at two neighbouring offsets at most (x[1:] and x[:-1]):
        the first offset and the terms of element i + low of the result, in the order NumPy
        adds them, those of the farther offset carried from the step before. Each element is
        then written once, with no zero fill and no read. None otherwise (and with a sum)."""
        if self.scatter is None or self.kernel.total is not None:
            return None
        offsets = [at for _, _, at in self.scattered()]
        low = min(offsets)
        if max(offsets) - low > 1:
            return None
        return low, [self.local[v] if at == low else self.carried(v) for _, v, at in self.scattered()]

    def carried(self, value: Node) -> str:
        return f"{self.local[value]}_before"

    def operand(self, n: Node, i: Node) -> str:
        if i.scalar is not None:
            text = _literal(i.scalar)
            if isinstance(i.scalar, (float, np.floating)) or np.dtype(i.dtype).kind == "f":
                return f"np.{_compute_dtype(n).name}({text})" if _compute_dtype(n) != np.float64 else text
            return text
        if i in self.local:
            return self.local[i]
        return f"{self.arrays[i]}[i]" if i in self.arrays else self.values[i]

    def scalar(self, n: Node, fast: bool = False) -> str:
        op = OPS[n.op]
        fields = dict(zip(op.args, (self.operand(n, i) for i in n.inputs)))
        fields.update({k: repr(v) for k, v in n.params.items()})
        dtype = _compute_dtype(n)
        one = "1.0" if dtype == np.float64 else f"np.{dtype.name}(1.0)"
        template = SCALAR[n.op] or op.template
        if fast and _vector(n):
            template = f"v{n.op}({{x}})"
        expr = template.format(np=_Np(), one=one, **fields)
        if n.dtype == np.float32:
            expr = f"np.float32({expr})"  # Numba promotes float32 with a Python number to float64
        return expr

    def source(self) -> str:
        k, dtype_of = self.kernel, (lambda n: np.dtype(n.dtype).name)
        given = [self.out[n] for n in self.given()]
        head = ["@numba.njit(cache=True, error_model='numpy')",
                f"def {self.name}({', '.join(self.args + given)}):"]
        what = ", ".join(self.local[n] if n in self.local else self.out[n] for n in self.written())
        ops = len(k.nodes)
        doc = f'    """{ops} elementwise ops in one loop, writing {what}'
        first = next(iter(self.arrays.values()))
        alloc = [f"    {self.out[n]} = np.empty(n, np.{dtype_of(n)})" for n in self.outputs
                 if n not in self.given()]
        results = [self.out[n] for n in self.written()]
        fill = None
        if self.scatter is not None:
            fill = "zeros" if self.stencil() is None else "empty"
            if self.scatter not in self.given():
                alloc.append(f"    {self.out[self.scatter]} = np.{fill}({self.scatter.shape[0]}, "
                             f"np.{dtype_of(self.scatter)})")
        if k.total is None:
            before, after = self.stencil_edges()
            loop = [*before, "    for i in range(n):", *[f"        {line}" for line in self.body()], *after]
            if self.fast():
                redo = [f"    {self.out[self.scatter]}[:] = 0.0"] if fill == "zeros" else []
                fast = ["    outside = False  # an argument outside the range of numba_math's functions",
                        *before,
                        "    for i in range(n):", *[f"        {line}" for line in self.body(fast=True)],
                        *after,
                        "    if outside:  # the loop again, with libm's functions",
                        *[f"    {line}" for line in redo + loop]]
                loop = fast
            lines = [*head, doc + '."""', f"    n = {first}.size", *alloc, *loop]
            lines.append(f"    return {', '.join(results) if len(results) > 1 else results[0]}")
            return "\n".join(lines) + "\n"
        summed = self.local[k.total.inputs[0]]
        at = f"{self.name}_at"
        params = ", ".join(["i", *self.args, *results])
        dtype = dtype_of(k.total)

        def element(index: str) -> str:
            return f"{at}({params.replace('i, ', index + ', ', 1)})"
        lines = [
            "@numba.njit(cache=True, error_model='numpy')",
            f"def {at}({params}):",
            f'    """Element i: the values written out, and {summed}, the term summed."""',
            *[f"    {line}" for line in self.body()],
            f"    return {summed}",
            "",
            "",
            *head,
            doc + f', and the sum of {summed}',
            "    in NumPy's pairwise order (ndarray.sum's result to the bit): blocks of at most 128",
            "    summed in 8 lanes, each pair of halves added when both are done (no recursion: Numba",
            '    cannot cache a recursive function)."""',
            f"    n = {first}.size",
            *alloc,
            "    todo = np.empty((128, 3), np.int64)  # halves still to sum: start, size, sums they close",
            f"    done = np.empty(64, np.{dtype})  # sums waiting for the half to their right",
            "    todo[0, 0], todo[0, 1], todo[0, 2] = 0, n, 0",
            "    waiting, top = 1, 0",
            "    while waiting:",
            "        waiting -= 1",
            "        lo, size, closes = todo[waiting, 0], todo[waiting, 1], todo[waiting, 2]",
            "        if size > 128:  # split in halves, the first a multiple of 8: the right one waits",
            "            half = size // 2",
            "            half -= half % 8",
            "            todo[waiting, 0], todo[waiting, 1] = lo + half, size - half",
            "            todo[waiting, 2] = closes + 1",
            "            todo[waiting + 1, 0], todo[waiting + 1, 1], todo[waiting + 1, 2] = lo, half, 0",
            "            waiting += 2",
            "            continue",
            "        if size < 8:",
            f"            res = np.{dtype}(-0.0)",
            "            for i in range(lo, lo + size):",
            f"                res += {element('i')}",
            "        else:",
            *[f"            r{j} = {element(f'lo + {j}')}" for j in range(8)],
            "            hi = lo + size - size % 8",
            "            for i in range(lo + 8, hi, 8):",
            *[f"                r{j} += {element(f'i + {j}' if j else 'i')}" for j in range(8)],
            "            res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))",
            "            for i in range(hi, lo + size):",
            f"                res += {element('i')}",
            "        done[top] = res",
            "        top += 1",
            "        for _ in range(closes):",
            "            top -= 1",
            "            done[top - 1] += done[top]",
            f"    return {', '.join([*results, 'done[0]'])}",
        ]
        return "\n".join(lines) + "\n"

    def stencil_edges(self) -> tuple[list[str], list[str]]:
        """With a stencil: the lines before the loop (the carried values start at 0, the
        elements no value reaches are 0) and after it (the last element, from carried values)."""
        stencil = self.stencil()
        if not stencil:
            return [], []
        low, _ = stencil
        out, size = self.out[self.scatter], self.scatter.shape[0]
        zero = "0.0" if self.scatter.dtype == np.float64 else f"np.{np.dtype(self.scatter.dtype).name}(0.0)"
        far = [v for _, v, at in self.scattered() if at > low]
        before = [f"    {name} = {zero}" for name in dict.fromkeys(self.carried(v) for v in far)]
        before += [f"    {out}[:{low}] = {zero}"] if low else []
        after = [f"    {out}[n + {low}] = {' + '.join(self.carried(v) for v in far)}"] if far else []
        end = low + (1 if far else 0)
        after += [f"    {out}[n + {end}:] = {zero}"] if self.kernel.shape[0] + end < size else []
        return before, after

    def signature(self) -> str:
        """The kernel's Numba signature, for building it ahead of time (`numba_aot`):
        contiguous 1-D arrays and scalars in, the arrays written (and the sum) out."""
        def numba_type(n: Node, array: bool = True) -> str:
            dtype = "boolean" if n.dtype == np.bool_ else np.dtype(n.dtype).name
            return f"{dtype}[::1]" if array else dtype
        args = [numba_type(i, bool(i.shape)) for i in self.inputs] + [numba_type(n) for n in self.given()]
        results = [numba_type(n) for n in self.written()]
        if self.kernel.total is not None:
            results.append(numba_type(self.kernel.total, False))
        result = results[0] if len(results) == 1 else f"Tuple(({', '.join(results)}))"
        return f"{result}({', '.join(args)})"

    def call(self) -> Call:
        """The wrapper's statement: flat inputs in, outputs reshaped to the cluster's shape."""
        k = self.kernel
        outputs = self.written() + ([k.total] if k.total is not None else [])
        shape, name = k.shape, self.name

        def code(outs: list[str], ins: list[str]) -> list[str]:
            args = [f"{a}.ravel()" if len(i.shape) > 1 else a if i.shape else f"{a}[()]"
                    for i, a in zip(self.inputs, ins)]
            for n in self.given():  # flat: the kernel indexes them with one i
                fill = "zeros" if n is self.scatter and self.stencil() is None else "empty"
                args.append(f"np.{fill}({math.prod(n.shape)}, np.{np.dtype(n.dtype).name})")
            lines = [f"{', '.join(outs)} = {name}({', '.join(args)})"]
            if len(shape) > 1:
                lines += [f"{o} = {o}.reshape({shape})" for o in outs[:len(self.outputs)]]
            if k.total is not None:
                lines.append(f"{outs[-1]} = np.{np.dtype(k.total.dtype).name}({outs[-1]})")
            return lines
        return Call(outputs, self.inputs, code)


def _slice_text(index: tuple) -> str:
    """(("slice", 1, None, None)) as `[1:]`."""
    start, stop, _ = index[1:]
    return f"[{'' if start is None else start}:{'' if stop is None else stop}]"


def _compute_dtype(n: Node) -> np.dtype:
    """The float dtype n computes in: its operands' (a comparison's result is bool)."""
    kinds = [np.dtype(i.dtype) for i in n.inputs if i.scalar is None and np.dtype(i.dtype).kind == "f"]
    if kinds:
        return np.result_type(*kinds)
    return np.dtype(n.dtype) if np.dtype(n.dtype).kind == "f" else np.dtype(np.float64)


# ---------------------------------------------------------------- programs

@dataclass
class NumbaProgram(Program):
    """A program whose kernels (`module`, the first `offset` lines of `source`) load from a file."""

    module: str = ""
    offset: int = 0
    numba_kernels: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()  # of numba_kernels, for numba_aot


def generate(graph: Graph, name: str, title: str, output_names: list[str] | None = None,
             debug_nans: bool = False) -> Program:
    """The NumPy program of `numpy_source.generate` with its elementwise clusters as Numba
    kernels, shown above it. With `debug_nans` it is the plain NumPy program (one NaN check
    per NumPy statement)."""
    kernels = [] if debug_nans else clusters(graph)
    if not kernels:
        return numpy_source.generate(graph, name, title, output_names, debug_nans)
    listing = graph.names()
    # named apart from the function, so that equal kernels of any function share a file and
    # Numba's cache of it
    taken = {listing[n] for n in graph.inputs} | {_identifier(name, set())}
    writers = [_KernelWriter(graph, k, _identifier(f"kernel{j}", taken), listing)
               for j, k in enumerate(kernels)]
    by_kernel = {id(w.kernel): w for w in writers}
    order = [by_kernel[id(u)].call() if isinstance(u, Kernel) else u for u in _schedule(graph, kernels)]
    wrapper = numpy_source.generate(graph, name, title + "\n(numba back end: kernels above)", output_names,
                                    order=order)
    imports = ["# symgrad's Numba kernels", "import numba", "import numpy as np"]
    used = sorted({f"v{n.op}" for w in writers if w.fast() for n in w.kernel.nodes if _vector(n)})
    if used:  # Numba's cache of a kernel does not see a change of the functions it calls: the
        # digest of numba_math's text, in the module's, names a new file when they change
        imports.append(f"from symgrad.codegen.numba_math import {', '.join(used)}  # {_math_digest()}")
    module = "\n".join([*imports, "", "",
                        "\n\n".join(w.source() for w in writers)])
    names = ", ".join(w.name for w in writers)
    shown = wrapper.source.replace("import numpy as np", f"import numpy as np  # and {names}", 1)
    source = f"{module}\n\n{shown}"
    return NumbaProgram(wrapper.name, source, wrapper.constants, wrapper.function, wrapper.numpy_names,
                        wrapper.kernels, module=module, offset=module.count("\n") + 2,
                        numba_kernels=tuple(w.name for w in writers),
                        signatures=tuple(w.signature() for w in writers))


@functools.cache
def _math_digest() -> str:
    """The first 12 hex digits of the SHA-1 of numba_math.py's text."""
    text = (Path(__file__).parent / "numba_math.py").read_bytes()
    return hashlib.sha1(text).hexdigest()[:12]


def cache_dir() -> Path:
    """Where kernel modules (and Numba's cache of them) are written."""
    given = os.environ.get("SYMGRAD_NUMBA_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symgrad" / "numba"


def _digest(module: str) -> str:
    return hashlib.sha1(module.encode()).hexdigest()[:16]


def _import(module: str) -> Any:
    """The kernel module, from its file in the cache directory (written once, atomically)."""
    mod_name = f"symgrad_numba_{_digest(module)}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mod_name}.py"
    if not path.exists() or path.read_text() != module:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(module)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules[mod_name] = mod
    return mod


def kernels(program: NumbaProgram) -> dict[str, Callable[..., Any]]:
    """The program's kernels by name: built ahead of time if they were (no Numba import),
    else Numba's, with the build ahead of time started for the next process."""
    folder, digest = cache_dir(), _digest(program.module)
    aot = numba_aot.load(folder, numba_aot.name(digest)) if program.signatures else None
    if aot is not None:
        return {k: numba_aot.bind(getattr(aot, k)) for k in program.numba_kernels}
    require()
    mod = _import(program.module)
    if program.signatures:
        numba_aot.schedule(folder, folder / f"symgrad_numba_{digest}.py", numba_aot.name(digest),
                           dict(zip(program.numba_kernels, program.signatures)))
    return {k: getattr(mod, k) for k in program.numba_kernels}


def load(program: Program) -> Callable[..., Any]:
    """The program's function, its kernels imported from the cache directory and bound by name."""
    if not isinstance(program, NumbaProgram):
        return numpy_source.load(program)
    digest = hashlib.sha1(program.source.encode()).hexdigest()[:12]
    filename = f"<symgrad:{program.name}:{digest}>"
    linecache.cache[filename] = (len(program.source), None, program.source.splitlines(True), filename)
    namespace: dict[str, Any] = dict(program.constants)
    namespace.update(kernels(program))
    wrapper = program.source.split("\n", program.offset)[-1]
    exec(compile("\n" * program.offset + wrapper, filename, "exec"), namespace)  # noqa: S102 - generated
    fn = namespace[program.name]
    fn.__symgrad_source__ = program.source
    return fn
