"""Kernels compiled ahead of time, so that a later process calls them without Numba.

Importing Numba and starting its compiler (its registries, SciPy's BLAS) costs about half a
second of CPU in every process, even when every kernel is in Numba's cache. So after a
process has compiled a kernel module with Numba (`numba_source.load`), a background process
(`numba_aot.main`) compiles the same kernels with `numba.pycc` into a
CPython extension module for this machine's CPU, `symgrad_aot_<digest>_<cpu>.so` in the
cache directory. A later process that finds it imports it (a few milliseconds, no Numba).
Until it is there, processes use Numba's own cache as before.

`SYMGRAD_NUMBA_AOT=0` turns the background build off (the test suite does: each build takes
seconds of CPU). The kernels read contiguous arrays; a strided one is copied first (`bind`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: builds may run side by side
    fcntl = None

STALE = 600.0  # seconds after which a build's lock file is taken for abandoned


def enabled() -> bool:
    """Whether processes build kernels ahead of time (`SYMGRAD_NUMBA_AOT`, on by default)."""
    return os.environ.get("SYMGRAD_NUMBA_AOT", "1").strip().lower() not in ("0", "false", "no", "off")


@functools.cache
def _cpu() -> str:
    """A tag of this machine's CPU (its flags): a module built for one CPU is not loaded on another."""
    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            text += next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def name(digest: str) -> str:
    """The extension module's name for the kernel module of that digest."""
    return f"symgrad_aot_{digest}_{_cpu()}"


def _path(folder: Path, module: str) -> Path:
    return folder / (module + importlib.machinery.EXTENSION_SUFFIXES[0])


def load(folder: Path, module: str) -> Any | None:
    """The extension module if it was built, else None."""
    if module in sys.modules:
        return sys.modules[module]
    path = _path(folder, module)
    if not path.exists():
        return None
    try:
        spec = importlib.util.spec_from_file_location(module, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except ImportError:
        return None
    sys.modules[module] = mod
    return mod


def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An exported kernel, called with strided arrays copied to contiguous ones: it reads any
    array as contiguous (pycc checks no layout)."""
    def kernel(*args: Any) -> Any:
        if all(a.flags.c_contiguous for a in args if isinstance(a, np.ndarray)):
            return fn(*args)
        return fn(*(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args))
    kernel.__name__ = kernel.__qualname__ = getattr(fn, "__name__", "kernel")
    return kernel


def schedule(folder: Path, source: Path, module: str, signatures: dict[str, str]) -> None:
    """Start the background build of `module` from the kernel file `source`, unless it is
    off, built, failed before (`<module>.failed` holds the error), or being built (a lock
    file younger than STALE seconds)."""
    if not enabled() or _path(folder, module).exists() or (folder / f"{module}.failed").exists():
        return
    lock = folder / f"{module}.building"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < STALE:
                return
            lock.unlink()
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except OSError:
            return
    except OSError:
        return
    os.close(fd)
    run = "import sys; from symgrad.codegen.numba_aot import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", run, str(source), module, json.dumps(signatures)]
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def build(source: Path, module: str, signatures: dict[str, str]) -> Path:
    """Compile the kernels of the file `source` into the extension `module` beside it (built
    in a directory of its own, then moved in whole); its path."""
    from llvmlite import binding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's notice of its deprecation
        from numba.pycc import CC
    spec = importlib.util.spec_from_file_location(source.stem, source)
    kernels = sys.modules[source.stem] = importlib.util.module_from_spec(spec)  # Numba's cache imports it
    spec.loader.exec_module(kernels)
    work = Path(tempfile.mkdtemp(prefix="symgrad-aot-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cc = CC(module)
            cc.output_dir = str(work)
            cc.target_cpu = binding.get_host_cpu_name()  # vector instructions of this CPU, as the JIT
            for kernel, sig in signatures.items():
                cc.export(kernel, sig)(_trampoline(getattr(kernels, kernel)))
            cc.compile()
        built = _path(work, module)
        target = _path(source.parent, module)
        os.replace(built, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _trampoline(dispatcher: Any) -> Callable[..., Any]:
    """A function that calls the kernel: pycc compiles what it exports with Python's error
    model (a check for division by zero in the loop keeps it scalar), the kernel keeps its own
    (NumPy's) when compiled as a callee."""
    code = dispatcher.py_func.__code__
    args = ", ".join(code.co_varnames[:code.co_argcount])
    namespace = {"kernel": dispatcher}
    exec(f"def trampoline({args}):\n    return kernel({args})\n", namespace)  # noqa: S102 - names only
    return namespace["trampoline"]


def main(argv: list[str]) -> None:
    """Build from the command line: KERNELS.py MODULE SIGNATURES_JSON (see `schedule`)."""
    source, module = Path(argv[0]), argv[1]
    if hasattr(os, "nice"):
        os.nice(10)  # behind the user's own work
    try:
        with open(source.parent / "aot.lock", "w") as lock:  # one build at a time per cache directory
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            build(source, module, json.loads(argv[2]))
    except Exception:  # noqa: BLE001 - any failure: kept, so that no later process tries again
        (source.parent / f"{module}.failed").write_text(traceback.format_exc())
    finally:
        (source.parent / f"{module}.building").unlink(missing_ok=True)
