"""The first call of `grad(f, backend="numba")` in a fresh process: cold, warm, and warm with
the kernels built ahead of time; the NumPy back end beside it.

Each measurement is a new Python process that imports NumPy and symgrad (not timed: every
back end pays it) and then times `symgrad.grad(f, backend=...)` and its first call on the
workload's inputs, in CPU time (user and system, the process's threads) and wall time. The
states, in the order they are measured, each against the same cache directory:

* `cold`: empty caches (a new `SYMGRAD_NUMBA_CACHE` and `NUMBA_CACHE_DIR`): trace, simplify,
  generate, Numba compiles the kernels (target: 2 s);
* `warm, Numba's cache`: the stored build and Numba's cached kernels, with the kernels built
  ahead of time hidden (`SYMGRAD_NUMBA_AOT=0` and not yet built): imports Numba;
* `warm`: after the background build ahead of time has finished (waited for): what a user's
  second run of a program sees (target: 0.2 s);
* `numpy`: `backend="numpy"` in a fresh process, for scale.

Every state runs `--repeat` times (the median is shown); the cold runs each start from empty
caches. "numba imported" says whether the process imported Numba at all.

    python -m benchmarks.first_call [--only elementwise,deep_chain] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/first_call.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

COLD_TARGET, WARM_TARGET = 2.0, 0.2  # seconds (issue 15)
WORKLOADS = ("elementwise", "rosenbrock", "deep_chain")
CHILD = """
import json, sys, time
import numpy as np
import symgrad
from benchmarks.workloads import WORKLOADS
w = WORKLOADS[sys.argv[1]]
args = w.arguments(w.inputs())
wall, cpu = time.perf_counter(), time.process_time()
g = symgrad.grad(w.fn, argnums=w.argnums or w.wrt, backend=sys.argv[2])
g(*args)
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "numba": "numba" in sys.modules}))
"""


def child(workload: str, backend: str, env: dict[str, str]) -> dict:
    """One fresh process's first call."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**env, "PYTHONPATH": os.pathsep.join([root, env.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, workload, backend], env=env, capture_output=True,
                          text=True, timeout=300, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"first call of {workload} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_for_builds(folder: Path, timeout: float = 120.0) -> bool:
    """Wait until no build ahead of time is running in `folder`; whether one was built."""
    end = time.monotonic() + timeout
    while any(folder.glob("*.building")) and time.monotonic() < end:
        time.sleep(0.2)
    return any(folder.glob("symgrad_aot_*"))


def measure(workload: str, repeat: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {"cold": [], "warm, Numba's cache": [], "warm": [], "numpy": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="symgrad-first-call-") as tmp:
            folder = Path(tmp) / "symgrad"
            env = {**os.environ, "SYMGRAD_NUMBA_CACHE": str(folder),
                   "NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}
            runs["cold"].append(child(workload, "numba", {**env, "SYMGRAD_NUMBA_AOT": "0"}))
            runs["warm, Numba's cache"].append(child(workload, "numba", {**env, "SYMGRAD_NUMBA_AOT": "0"}))
            child(workload, "numba", {**env, "SYMGRAD_NUMBA_AOT": "1"})  # starts the build ahead of time
            if not wait_for_builds(folder):
                failed = [p.read_text() for p in folder.glob("*.failed")]
                raise RuntimeError(f"no kernels built ahead of time for {workload}: {failed}")
            runs["warm"].append(child(workload, "numba", env))
        runs["numpy"].append(child(workload, "numpy", dict(os.environ)))
    return runs


def table(results: dict[str, dict[str, list[dict]]]) -> str:
    head = ("workload", "state", "cpu", "wall", "target", "met", "numba imported")
    rows = []
    for workload, runs in results.items():
        for state, samples in runs.items():
            cpu = statistics.median(s["cpu"] for s in samples)
            wall = statistics.median(s["wall"] for s in samples)
            target = COLD_TARGET if state == "cold" else WARM_TARGET if state == "warm" else None
            met = ("yes" if cpu <= target else "no") if target else "-"
            limit = f"<= {target:g} s" if target else "-"
            imported = "yes" if any(s["numba"] for s in samples) else "no"
            rows.append((workload, state, f"{cpu:.3f} s", f"{wall:.3f} s", limit, met, imported))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["first call in a fresh process, after `import symgrad` (median of the runs)",
             "  " + "  ".join(h.ljust(n) for h, n in zip(head, widths)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(n) for c, n in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.first_call", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", metavar="NAME[,NAME]", help=f"workloads (default {','.join(WORKLOADS)})")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per state (default 3)")
    p.add_argument("--json", metavar="PATH", help="also write the runs as JSON to PATH")
    opts = p.parse_args(argv)
    if importlib.util.find_spec("numba") is None:
        print("skipped: Numba is not installed (pip install symgrad[numba])")
        return 0
    names = [n.strip() for n in opts.only.split(",")] if opts.only else list(WORKLOADS)
    results = {name: measure(name, opts.repeat) for name in names}
    print(table(results), flush=True)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
