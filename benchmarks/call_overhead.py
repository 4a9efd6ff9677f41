"""Fixed costs of the compiled face: per-call overhead, import time, first call, compile time.

* per call: a compiled gradient called on arguments it has seen, against the generated
  function it runs called directly on the same leaves; the difference is what the call path
  costs (finding the trace, taking the leaves out of the pytree, rebuilding the output). The
  arguments are bare arrays, a Python float, a tuple, a dict, a nested pytree (a dict of a
  list of namedtuples) and the tutorial workload's four float32 arrays.
* import: `import symgrad` in a fresh interpreter (bytecode cached), median of several.
* first call: in a fresh interpreter after the import, the first call of the gradient of
  `sum(sin(x) * x)`: trace, differentiate, simplify, generate, load.
* compile curve: the first call of the gradient of a chain of n elementwise ops
  (`x = tanh(x)*1.01 + 0.1; x = sin(x)`, n/4 times), in one process after a warm-up.

Times are medians (per-call: the median over repeats of the two timed alternately, each
repeat short, so that other processes on the machine disturb both alike).

    python -m benchmarks.call_overhead [--quick] [--sizes 100,1000,3000,10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np

import symgrad
from benchmarks.workloads import WORKLOADS
from symgrad.tracing import pytree
from symgrad.tracing.tracer import is_static

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Layer = namedtuple("Layer", "w b")


def _cases() -> dict[str, tuple[Callable, tuple, Any]]:
    """name -> (function, arguments, argnums) of the gradients whose calls are timed."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(3), rng.standard_normal((3, 2)), rng.standard_normal(2)
    tutorial = WORKLOADS["tutorial"]
    return {
        "arrays": (lambda x, w: np.sum(np.tanh(x @ w)), (x, w), 0),
        "python float": (lambda x, s: np.sum(x * s), (x, 2.0), 0),
        "tuple": (lambda p, x: np.sum(np.tanh(x @ p[0] + p[1])), ((w, b), x), 0),
        "dict": (lambda p, x: np.sum(np.tanh(x @ p["w"] + p["b"])), ({"w": w, "b": b}, x), 0),
        "nested pytree": (lambda p, x: np.sum(np.tanh(x @ p["l"][0].w + p["l"][0].b)),
                          ({"l": [Layer(w, b)]}, x), 0),
        "tutorial": (tutorial.fn, tutorial.inputs(), tutorial.wrt),
    }


def _pair(fn: Callable, args: tuple, argnums: Any, repeat: int, number: int) -> tuple[float, float]:
    """Median µs per call of grad(fn) and of the generated function it runs, timed alternately
    so that a busy machine slows both alike."""
    g = symgrad.grad(fn, argnums=argnums)
    g(*args)
    generated = g.build(*args).fn
    leaves = [np.asarray(leaf) for a in args for leaf in pytree.flatten(a)[0] if not is_static(leaf)]
    calls, direct = [], []
    for _ in range(repeat):
        calls.append(timeit.timeit(lambda: g(*args), number=number) / number)
        direct.append(timeit.timeit(lambda: generated(*leaves), number=number) / number)
    return statistics.median(calls) * 1e6, statistics.median(direct) * 1e6


def per_call(repeat: int, number: int) -> list[tuple[str, float, float]]:
    """(case, µs per compiled call, µs per call of the generated function it runs)."""
    return [(name, *_pair(fn, args, argnums, repeat, number))
            for name, (fn, args, argnums) in _cases().items()]


def _fresh(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout


def import_time(runs: int) -> float:
    """Median seconds of `import symgrad` in a fresh interpreter (after one that caches bytecode)."""
    code = "import time; t = time.perf_counter(); import symgrad; print(time.perf_counter() - t)"
    _fresh(code)
    return statistics.median(float(_fresh(code)) for _ in range(runs))


def first_call(runs: int) -> float:
    """Median seconds of the first call of a 3-op gradient in a fresh interpreter."""
    code = ("import time, numpy as np, symgrad\n"
            "g = symgrad.grad(lambda x: np.sum(np.sin(x) * x)); x = np.ones(3)\n"
            "t = time.perf_counter(); g(x); print(time.perf_counter() - t)")
    return statistics.median(float(_fresh(code)) for _ in range(runs))


def _chain(n: int) -> Callable:
    def chain(x: Any) -> Any:
        for _ in range(n // 4):
            x = np.tanh(x) * 1.01 + 0.1
            x = np.sin(x)
        return np.sum(x)
    return chain


def compile_curve(sizes: list[int]) -> list[tuple[int, float]]:
    """(ops, seconds of the first call of the chain's gradient), after a warm-up compile."""
    symgrad.grad(_chain(40))(np.ones(3))  # SymPy imported, caches warm
    rows = []
    for n in sizes:
        g = symgrad.grad(_chain(n))
        start = time.process_time()
        g(np.ones(3))
        rows.append((n, time.process_time() - start))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a shorter curve")
    parser.add_argument("--sizes", help="chain lengths of the compile curve (default 100,1000,3000,10000)")
    opts = parser.parse_args(argv)
    repeat, number, runs = (15, 200, 3) if opts.quick else (41, 1000, 7)
    sizes = [int(s) for s in opts.sizes.split(",")] if opts.sizes else (
        [100, 1000, 3000] if opts.quick else [100, 1000, 3000, 10000])

    print("per call, µs (median)       compiled  generated  overhead")
    for name, call, direct in per_call(repeat, number):
        print(f"  {name:24s} {call:9.2f}  {direct:9.2f}  {call - direct:8.2f}")
    print(f"import symgrad               {import_time(runs) * 1e3:7.0f} ms")
    print(f"first call, 3-op gradient    {first_call(runs) * 1e3:7.1f} ms")
    print("compile curve (CPU time)     ops        s     µs/op")
    for n, seconds in compile_curve(sizes):
        print(f"  {'':24s} {n:6d} {seconds:8.3f} {seconds / n * 1e6:9.0f}")


if __name__ == "__main__":
    main()
