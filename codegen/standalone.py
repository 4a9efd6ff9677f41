"""A generated function as a module that needs only NumPy: what `.export()` writes.

Generated code calls symgrad's kernels (`symgrad.ops.kernels`: sigmoid, sincos, scatter_add...)
and a few op helpers by name. The exported module carries each as the plain NumPy function
it is in symgrad's source, with the module-level helpers and constants that function reads,
comments included. Constant arrays of up to LITERAL_MAX elements are written as literals;
larger ones are saved beside the module in an `.npz` file of the same name and loaded when it
is imported (a constant that size is no code to read; exporting it needs a path).
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
import textwrap
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from symgrad.codegen.numpy_source import Program
from symgrad.ops import kernels

LITERAL_MAX = 1000  # elements: a constant this size or smaller is written into the module
RULE = "# " + "-" * 64


def module(program: Program, docstring: str, sidecar: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """The text of a module defining `program`'s function with no import of symgrad, and the
    constant arrays it loads from `sidecar` (a file name beside it) at import.

    Raises ValueError when the program calls code that cannot be carried (an op a user
    defined with `symgrad.extend`) or holds a large constant and no `sidecar` is given.
    """
    functions = {name: getattr(kernels, name) for name in program.kernels}
    arrays: dict[str, np.ndarray] = {}
    for name, value in program.constants.items():
        if callable(value):
            functions[name] = value
        else:
            arrays[name] = np.asarray(value)
    imports, carried = _carry(functions)
    big = {name: a for name, a in arrays.items() if a.size > LITERAL_MAX}
    if big and sidecar is None:
        name, a = next(iter(big.items()))
        raise ValueError(f"export: constant {name} ({a.dtype}{list(a.shape)}, {a.size} elements) is too "
                         f"large to write as a literal (more than {LITERAL_MAX}); give export a path, and "
                         "it is saved beside the module as .npz")
    defined = {n for chunk in carried for n in _top_names(chunk)}
    clash = defined & ({program.name, *arrays, *program.numpy_names} - set(functions))
    if clash:
        raise ValueError(f"export: the carried kernels define {sorted(clash)[0]!r}, a name the generated "
                         "function uses for something else")
    lines = ['"""' + docstring.strip().replace('"""', "'''") + '\n"""', ""]
    if carried:
        lines.append("from __future__ import annotations  # the kernels' type hints are not evaluated")
        lines.append("")
    stdlib = {i for i in imports if "numpy" not in i} | ({"from pathlib import Path"} if big else set())
    stdlib = sorted(stdlib, key=lambda s: (s.startswith("from"), s))
    lines += [*stdlib, "", "import numpy as np"] if stdlib else ["import numpy as np"]
    if program.numpy_names:
        lines.append(f"from numpy import {', '.join(program.numpy_names)}")
    if carried:
        lines += ["", "", f"{RULE} from symgrad's kernels", "", carried[0]]
        for before, chunk in zip(carried, carried[1:]):  # two blank lines around a def, none else
            lines += ["", "", chunk] if "def " in before + chunk else [chunk]
    if arrays:
        lines += ["", "", f"{RULE} constants", ""]
        lines += [f"{name} = {_array(a)}" for name, a in arrays.items() if name not in big]
        if big:
            lines.append(f"with np.load(Path(__file__).with_name({sidecar!r})) as saved:  # too big to print")
            lines += [f"    {name} = saved[{name!r}]" for name in big]
    lines += ["", "", f"{RULE} the generated function", "", program.function.rstrip("\n"), ""]
    return "\n".join(lines), big


# ---------------------------------------------------------------- carrying symgrad's functions

def _carry(functions: dict[str, Callable]) -> tuple[list[str], list[str]]:
    """(import lines, code chunks) defining each of `functions` under its key, with the
    module-level names their code reads, in the order their modules define them."""
    needed: dict[str, set[str]] = {}  # module name -> its top-level names to carry
    aliases = []
    for alias, fn in sorted(functions.items()):
        source = _source_of(alias, fn)
        needed.setdefault(fn.__module__, set()).update(source.closure(fn.__name__))
        if alias != fn.__name__:
            aliases.append(f"{alias} = {fn.__name__}")
    imports: list[str] = []
    chunks: list[str] = []
    for name, wanted in needed.items():
        source = _Source.of(sys.modules[name])
        for top in wanted:
            if top in source.imports:
                imports.append(source.imports[top])
        chunks += [text for top, text in source.definitions if top in wanted]
    return imports, [*chunks, *aliases]


def _source_of(alias: str, fn: Callable) -> _Source:
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or not module.__name__.startswith("symgrad.") or not inspect.isfunction(fn):
        what = f"{getattr(fn, '__qualname__', fn)!r} from {getattr(fn, '__module__', 'an unknown module')}"
        raise ValueError(f"export: the generated code calls {alias} ({what}), which is not symgrad's own "
                         "code; a standalone module cannot carry it (an op made with symgrad.extend runs "
                         "your Python function)")
    return _Source.of(module)


class _Source:
    """A symgrad module's top-level definitions as text, and the names each one reads."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module.__name__
        text = inspect.getsource(module)
        lines = text.splitlines()
        tree = ast.parse(text)
        self.imports: dict[str, str] = {}  # a name an import binds -> that import's line
        self.definitions: list[tuple[str, str]] = []  # (name, text), in the module's order
        self.reads: dict[str, set[str]] = {}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    continue
                for a in node.names:
                    self.imports[(a.asname or a.name).split(".")[0]] = ast.get_source_segment(text, node)
            elif isinstance(node, (ast.FunctionDef, ast.Assign, ast.AnnAssign)):
                start = node.lineno - 1
                if isinstance(node, ast.FunctionDef) and node.decorator_list:
                    start = node.decorator_list[0].lineno - 1
                above = lines[start - 1] if start > 0 else ""
                while above.startswith("#") and not above.startswith(RULE[:6]):  # not a section's banner
                    start -= 1  # the comment above a definition says why it is so
                    above = lines[start - 1] if start > 0 else ""
                for name in _bound(node):
                    self.definitions.append((name, "\n".join(lines[start:node.end_lineno])))
                    self.reads[name] = _reads(node)

    @staticmethod
    @cache
    def of(module: ModuleType) -> _Source:
        return _Source(module)

    def closure(self, name: str) -> set[str]:
        """`name` and the top-level names its code reads, transitively; an import of symgrad
        among them cannot be carried."""
        found, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n in found:
                continue
            found.add(n)
            if n in self.imports and "symgrad" in self.imports[n]:
                raise ValueError(f"export: {self.module}.{name} reads {n} from symgrad "
                                 f"({self.imports[n]!r}); a standalone module cannot carry it")
            todo += [r for r in self.reads.get(n, ()) if r in self.reads or r in self.imports]
        return found


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _reads(node: ast.AST) -> set[str]:
    """The names a definition reads, type hints left out (they are never evaluated)."""
    out: set[str] = set()
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.Name):
                out.add(child.id)
            elif isinstance(child, ast.AST):
                out |= _reads(child)
    return out


def _top_names(chunk: str) -> list[str]:
    return [n for node in ast.parse(textwrap.dedent(chunk)).body
            if isinstance(node, (ast.FunctionDef, ast.Assign, ast.AnnAssign)) for n in _bound(node)]


# ---------------------------------------------------------------- constants as literals

def _array(a: np.ndarray) -> str:
    """`np.array([...], dtype=np.float64)` that gives back `a` exactly (Python's float repr
    round-trips; a float32 value is exactly a Python float)."""
    body = _nested(a.tolist())
    text = f"np.array({body}, dtype={a.dtype.name!r})"
    if len(text) <= 100:
        return text
    wrapped = textwrap.fill(body, width=96, subsequent_indent="    ", break_long_words=False,
                            break_on_hyphens=False)
    return f"np.array(\n    {wrapped},\n    dtype={a.dtype.name!r})"


def _nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    if isinstance(value, complex):
        return f"complex({_nested(value.real)}, {_nested(value.imag)})"
    return repr(value)
