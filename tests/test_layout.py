"""The layout holds: no import cycles, and each part imports only what sits below it.

Every import of every module of symgrad (those inside functions included; those under
`if TYPE_CHECKING:` excluded, since they never run) is read with `ast`. Importing a
submodule also runs its packages' `__init__`, so that counts as importing them too.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"symgrad": ROOT / "symgrad", "symgrad.codegen": ROOT / "codegen"}  # as installed


def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    out = {}
    for prefix, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([prefix, *parts])] = path
    return out


def _runtime_nodes(tree: ast.AST):
    """The import statements that run: `if TYPE_CHECKING:` blocks are skipped."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The symgrad modules `name` imports, with the package `__init__`s that run first."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:  # from .x import y, from .. import z
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if not target.startswith("symgrad"):
                continue
            parts = target.split(".")
            for k in range(1, len(parts) + 1):  # the packages on the way run their __init__
                module = ".".join(parts[:k])
                if module in known and not name.startswith(module + ".") and module != name:
                    found.add(module)
    return found


def import_graph() -> nx.DiGraph:
    known = modules()
    g = nx.DiGraph()
    g.add_nodes_from(known)
    for name, path in known.items():
        g.add_edges_from((name, target) for target in imports(name, path, known))
    return g


def reached(g: nx.DiGraph, name: str) -> set[str]:
    return nx.descendants(g, name) | {name}


def part(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# (who, what it must not import, why): each checked on everything the part reaches
RULES = [
    ("symgrad.ops", ("symgrad.eager", "symgrad.surface", "symgrad.tracing", "symgrad.autodiff",
                     "symgrad.simplify", "symgrad.codegen", "symgrad.api", "symgrad.ir"),
     "the registry imports no engine and no binding"),
    ("symgrad.ir", ("symgrad.eager", "symgrad.surface", "symgrad.tracing", "symgrad.autodiff",
                    "symgrad.simplify", "symgrad.codegen", "symgrad.api"),
     "the IR imports no engine"),
    ("symgrad.codegen", ("symgrad.eager", "symgrad.surface", "symgrad.tracing", "symgrad.autodiff",
                         "symgrad.simplify", "symgrad.api", "symgrad.cli", "symgrad.extend"),
     "codegen reads only the IR and the registry"),
    ("symgrad.eager", ("symgrad.tracing", "symgrad.autodiff", "symgrad.simplify", "symgrad.codegen",
                       "symgrad.api"),
     "the eager engine imports nothing of tracing, autodiff, simplification or codegen"),
    ("symgrad.simplify", ("symgrad.tracing", "symgrad.autodiff", "symgrad.eager", "symgrad.api"),
     "simplification never imports the tracer"),
    ("symgrad.surface", ("symgrad.eager", "symgrad.tracing", "symgrad.autodiff", "symgrad.simplify",
                         "symgrad.codegen", "symgrad.api"),
     "the op surface is written over the registry only"),
]


def test_there_is_no_import_cycle():
    g = import_graph()
    cycles = list(nx.simple_cycles(g))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


@pytest.mark.parametrize("who, forbidden, why", RULES, ids=[r[0] for r in RULES])
def test_each_part_imports_only_what_sits_below_it(who, forbidden, why):
    g = import_graph()
    members = [m for m in g if part(m, who)]
    assert members, f"no module {who}"
    bad = sorted((m, r) for m in members for r in reached(g, m) if any(part(r, f) for f in forbidden))
    assert not bad, f"{why}, but: " + "; ".join(f"{m} reaches {r}" for m, r in bad[:5])


def test_the_walk_sees_lazy_imports_and_skips_type_checking_ones(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from symgrad.ir import Graph\n"
                      "def f():\n    from symgrad.eager import tensor\n")
    known = {"symgrad": source, "symgrad.eager": source, "symgrad.eager.tensor": source, "symgrad.ir": source}
    assert imports("symgrad.ops.m", source, known) == {"symgrad.eager", "symgrad.eager.tensor"}


def test_the_top_level_holds_a_handful_of_modules_and_the_parts():
    top = sorted(p.name for p in (ROOT / "symgrad").iterdir()
                 if p.suffix == ".py" or (p / "__init__.py").exists())
    modules_ = [t for t in top if t.endswith(".py")]
    assert len(modules_) <= 5, modules_
    assert {"ops", "ir", "surface", "eager", "tracing", "autodiff", "simplify", "api"} <= set(top)


def test_an_installed_wheel_has_symgrad_as_its_only_top_level_name(tmp_path):
    """codegen/ is installed as symgrad.codegen (a setuptools package-dir mapping)."""
    # setuptools copies into build/lib and never deletes there: a module moved or removed since
    # the last build would still be packaged
    shutil.rmtree(ROOT / "build" / "lib", ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot build a wheel here: {done.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("symgrad-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"symgrad"}
    packaged = {n for n in names if n.endswith(".py")}
    expected = {"/".join(["symgrad", *path.relative_to(folder).parts]) if prefix == "symgrad"
                else "/".join(["symgrad", "codegen", *path.relative_to(folder).parts])
                for prefix, folder in SOURCES.items() for path in folder.rglob("*.py")}
    assert packaged == expected  # every module is in the wheel: no package left off the list
    assert "symgrad/cli/inspect_schema.json" in names  # package data: the schema of inspect's JSON
