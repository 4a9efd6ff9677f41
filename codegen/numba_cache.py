"""Programs of backend="numba" kept on disk, so that a later process skips simplify and codegen.

A process's first call of a numba transform pays for SymPy's import (the sympy pass) and for
simplifying and generating code, a quarter of a second or more, before Numba's own start.
The traced graph (cheap to make: tracing runs the user's code, so it sees every change of
it, of the functions it calls and of the arrays it reads) is hashed with what else the
program depends on (the transform's names, its passes, symgrad's files); the simplified
graph, the pass statistics and the program are stored under that digest in `<cache>/programs`
(the Numba back end's cache directory) and read back by the next process that traces the
same graph.

Not stored: graphs with ops registered by `symgrad.extend` (their forward is user code the
graph does not show) or with params of other types than numbers, strings, tuples and dtypes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

import symgrad
from symgrad.ir import Graph, Node
from symgrad.ops import OPS

_PLAIN = (int, float, bool, str, bytes, type(None), np.generic, np.dtype, slice)
FORMAT = 1  # of the stored files: bumped when what they hold changes


def _plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def _symgrad_files() -> str:
    """symgrad's version and the size and time of each of its .py files (and the codegen
    package's): a change of the library names new entries."""
    parts = [getattr(symgrad, "__version__", ""), str(FORMAT)]
    for root in sorted({Path(symgrad.__file__).parent, Path(__file__).parent}):
        for path in sorted(root.rglob("*.py")):
            st = path.stat()
            parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


_LIBRARY: list[str] = []  # _symgrad_files(), once per process


def digest(graph: Graph, *extra: Any) -> str | None:
    """The key of a traced graph and `extra` (plain values), or None when it must not be stored."""
    h = hashlib.sha1()
    if not _LIBRARY:
        _LIBRARY.append(_symgrad_files())
    h.update(_LIBRARY[0].encode())
    if not _plain(extra):
        return None
    h.update(repr(extra).encode())
    index = {n: k for k, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        op = OPS.get(n.op)
        if op is not None and any(name.startswith("op_") for name in op.helpers):  # symgrad.extend
            return None
        params = tuple(sorted(n.params.items()))
        if not _plain(params):
            return None
        value = n.value
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value).tobytes()
            value = ("array", value.shape, value.dtype.str, hashlib.sha1(data).hexdigest())
        elif not _plain(value):
            return None
        h.update(repr((n.op, tuple(index[i] for i in n.inputs), params, n.shape, n.dtype.str, value, n.name,
                       n.weak, n.where)).encode())
    h.update(repr(([index[n] for n in graph.inputs], [index[n] for n in graph.outputs])).encode())
    return h.hexdigest()[:24]


def _folder() -> Path:
    from symgrad.codegen.numba_source import cache_dir
    return cache_dir() / "programs"


def _pack(graph: Graph) -> tuple:
    index = {n: k for k, n in enumerate(graph.nodes)}
    nodes = [(n.op, tuple(index[i] for i in n.inputs), dict(n.params), n.shape, n.dtype, n.value, n.name,
              n.weak, n.where) for n in graph.nodes]
    return nodes, [index[n] for n in graph.inputs], [index[n] for n in graph.outputs]


def _unpack(packed: tuple) -> Graph:
    nodes, inputs, outputs = packed
    graph = Graph()
    for k, (op, ins, params, shape, dtype, value, name, weak, where) in enumerate(nodes):
        graph.nodes.append(Node(k, op, tuple(graph.nodes[i] for i in ins), MappingProxyType(params), shape,
                                dtype, value, name, weak, where))
    graph.inputs = [graph.nodes[i] for i in inputs]
    graph.outputs = [graph.nodes[i] for i in outputs]
    return graph


def read(key: str | None) -> tuple[Graph, list, Any] | None:
    """The simplified graph, pass statistics and program stored under `key`, if any."""
    if key is None:
        return None
    try:
        with open(_folder() / f"{key}.pkl", "rb") as f:
            packed, stats, program = pickle.load(f)  # noqa: S301 - our own cache directory
    except Exception:  # noqa: BLE001 - missing, half-written by a crash, or of another version: build again
        return None
    return _unpack(packed), stats, program


def write(key: str | None, graph: Graph, stats: list, program: Any) -> None:
    """Store a build under `key` (atomically: a reader sees the whole file or none)."""
    if key is None:
        return
    folder = _folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps((_pack(graph), stats, program), protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / f"{key}.pkl")
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return  # an unwritable cache, or a value pickle refuses: the next process builds again
