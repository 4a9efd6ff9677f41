"""Time symgrad's gradients against a hand-written NumPy gradient (the floor) and the peers.

For each workload of benchmarks/workloads.py, one process times:

* `symgrad`: the compiled gradient (`symgrad.grad`, or `symgrad.hessian`), steady state;
  its first-call time (trace, simplify, generate, run) is taken on a fresh object;
* `symgrad numba`: the same with `backend="numba"` (skipped without Numba);
* `symgrad eager`: the forward and `.backward()` on symgrad tensors (for the Hessian, a
  `create_graph` gradient, then one backward through it per row);
* `hand`: the hand-written NumPy gradient, the floor every ratio is taken against;
* the peers that import (on a workload's main spelling; on its other spellings, only JAX
  runs, on those written with `np` alone): PyTorch eager (`.backward()`, or `torch.autograd.functional.
  hessian`) and `torch.func.grad`/`hessian`, `torch.compile(torch.func.grad)` (Inductor's
  fused C++ loops; left out by --quick, as each compile takes seconds), `jax.jit(jax.grad)`
  (`jax.hessian`), HIPS autograd's `grad`/`hessian`. A peer that does not import is listed
  as skipped, and one whose compile fails as FAILED, with its error.

Timing is interleaved: each round times every candidate once, in a rotating order, so a
slow drift of the machine (frequency, another process) touches all of them alike. One
sample runs the candidate enough times in a row to last at least `--min-sample-ms`. The
table reports the median over rounds of the time per call, and the ratio to the floor as
the median over rounds of (the candidate's sample / the floor's sample in that round),
which cancels most of the noise a shared machine adds. Times are the process's CPU time
(user and system, every thread) unless `--clock wall`: on a machine shared with other
work, time slices given to other processes then do not count, and long samples are not
penalised against short ones. The garbage collector stays on.
BLAS, OpenMP, XLA and PyTorch are held to one thread, so ratios compare code and not
thread pools.

"max rel err" is max |candidate - floor| / max |floor| over every gradient array: about
1e-15 for float64 workloads and 1e-7 for float32 when the two agree.

Each workload runs in its main spelling and in each of its other spellings (a row
"hessian/outer" per spelling, see `SPELLINGS`), all against the same floor and target.

The summary's eager column gives symgrad eager's ratio to the floor and to PyTorch eager;
`--eager` then times the eager programs of benchmarks/eager_overhead.py (the autograd
tutorial, a 200-op chain, an MLP step...) against PyTorch eager, with their targets.

    python -m benchmarks [--only tutorial,hessian/outer] [--quick] [--eager] [--json results.json]
"""

import os

# before NumPy, PyTorch or JAX start their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

if __package__ in (None, ""):  # run as `python benchmarks/run.py`: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import symgrad  # noqa: E402
from benchmarks.workloads import SPELLINGS, WORKLOADS, Workload, spellings, with_numpy  # noqa: E402

FIRST_CALL_TARGET = 0.5  # seconds, every workload (issue 5)
ALL: dict[str, Workload] = {w.name: w for main in WORKLOADS for w in spellings(main)}  # every row
Thunk = Callable[[], Any]


# ---------------------------------------------------------------- the peers

def _import_torch() -> Any:
    import torch
    torch.set_num_threads(1)
    return torch


def _import_jax() -> Any:
    import jax
    jax.config.update("jax_enable_x64", True)  # float64 workloads stay float64
    return jax


def _import_autograd() -> Any:
    import autograd
    import autograd.numpy  # noqa: F401 - the namespace the traced code is rebound to
    return autograd


def _import_numba() -> Any:
    import numba
    return numba


def make_symgrad_numba(w: Workload, args: tuple) -> Thunk:
    """symgrad's compiled derivative with backend="numba" (fused loop kernels)."""
    return make_symgrad(w, args, backend="numba")


def _try(load: Callable[[], Any]) -> tuple[Any, str]:
    try:
        return load(), ""
    except ImportError as e:
        return None, f"not installed ({e.name or e})"
    except Exception as e:  # installed but broken: leave its columns out, say why
        return None, f"failed to import: {type(e).__name__}: {e}"


# ---------------------------------------------------------------- candidates
# Each maker takes a workload and its inputs and returns a thunk: one call computes the
# derivative and returns the gradients (a tuple, in `wrt` order) or the Hessian.

def make_symgrad(w: Workload, args: tuple, backend: str = "numpy") -> Thunk:
    args = w.arguments(args)
    if w.kind == "hessian":
        derivative = symgrad.hessian(w.fn, backend=backend)

        def step() -> Any:
            return derivative(*args)
    else:
        derivative = symgrad.grad(w.fn, argnums=w.argnums or w.wrt, backend=backend)

        def step() -> Any:
            return w.gradient(derivative(*args))
    step.source = lambda: derivative.source(*args)  # type: ignore[attr-defined]
    return step


def make_eager(w: Workload, args: tuple) -> Thunk:
    ts = [symgrad.tensor(a, requires_grad=i in w.wrt) for i, a in enumerate(args)]
    if w.kind == "hessian":
        x = ts[0]

        def hessian() -> Any:  # one backward through the gradient per row
            (g,) = symgrad.autograd.grad(w.fn(*ts), x, create_graph=True)
            return np.stack([symgrad.autograd.grad(g[i], x, retain_graph=True)[0].numpy()
                             for i in range(len(g))])
        return hessian
    return _backward_step(w.fn, ts, [ts[i] for i in w.wrt])


def _backward_step(fn: Callable, ts: list, leaves: list) -> Thunk:
    """Forward and backward on tensors with PyTorch's API (symgrad's or torch's): the leaves'
    fresh `.grad`s."""
    def step() -> Any:
        for t in leaves:
            t.grad = None
        fn(*ts).backward()
        return tuple(t.grad for t in leaves)
    return step


def make_hand(w: Workload, args: tuple) -> Thunk:
    if w.kind == "hessian":
        return lambda: w.hand(*args)[0]
    return lambda: w.hand(*args)


def make_torch(torch: Any) -> Callable[[Workload, tuple], Thunk]:
    def make(w: Workload, args: tuple) -> Thunk:
        ts = [torch.from_numpy(a) for a in args]
        if w.kind == "hessian":
            x, rest = ts[0], ts[1:]
            return lambda: torch.autograd.functional.hessian(lambda x: w.torch_fn(x, *rest), x)
        for i in w.wrt:
            ts[i].requires_grad_(True)
        return _backward_step(w.torch_fn, ts, [ts[i] for i in w.wrt])
    return make


def make_torch_func(torch: Any) -> Callable[[Workload, tuple], Thunk]:
    def make(w: Workload, args: tuple) -> Thunk:
        ts = [torch.from_numpy(a) for a in args]
        if w.kind == "hessian":
            hess = torch.func.hessian(w.torch_fn)
            return lambda: hess(*ts)
        grad = torch.func.grad(w.torch_fn, argnums=w.wrt)
        return lambda: grad(*ts)
    return make


def make_torch_compile(torch: Any) -> Callable[[Workload, tuple], Thunk]:
    """The whole derivative as one graph for Inductor, as `jax.jit(jax.grad)` is for XLA
    (compiling the forward and calling `.backward()` measured slower here)."""
    def make(w: Workload, args: tuple) -> Thunk:
        ts = [torch.from_numpy(a) for a in args]
        derivative = torch.func.hessian(w.torch_fn) if w.kind == "hessian" else torch.func.grad(
            w.torch_fn, argnums=w.wrt)
        compiled = torch.compile(derivative, dynamic=False)
        return lambda: compiled(*ts)
    return make


def make_jax(jax: Any) -> Callable[[Workload, tuple], Thunk]:
    def make(w: Workload, args: tuple) -> Thunk:
        fn = with_numpy(w.fn, jax.numpy)
        xs = jax.device_put(w.arguments(args))
        if w.kind == "hessian":
            compiled = jax.jit(jax.hessian(fn))
            return lambda: jax.block_until_ready(compiled(*xs))
        compiled = jax.jit(jax.grad(fn, argnums=w.argnums or w.wrt))
        return lambda: w.gradient(jax.block_until_ready(compiled(*xs)))
    return make


def make_autograd(autograd: Any) -> Callable[[Workload, tuple], Thunk]:
    def make(w: Workload, args: tuple) -> Thunk:
        fn = with_numpy(w.fn, autograd.numpy)
        if w.kind == "hessian":
            hess = autograd.hessian(fn)
            return lambda: hess(*args)
        grad = autograd.grad(fn, argnum=w.wrt)
        return lambda: grad(*args)
    return make


@dataclass
class Candidate:
    name: str
    make: Callable[[Workload, tuple], Thunk] | None
    skipped: str = ""  # why it is not timed


def candidates(compile_torch: bool = True) -> list[Candidate]:
    """The floor first, then symgrad, then each peer (skipped when it does not import);
    torch.compile only with `compile_torch` (left out by --quick)."""
    out = [Candidate("hand (floor)", make_hand), Candidate("symgrad", make_symgrad)]
    numba, why = _try(_import_numba)
    out += [Candidate("symgrad numba", numba and make_symgrad_numba, why),
            Candidate("symgrad eager", make_eager)]
    torch, why = _try(_import_torch)
    out += [Candidate("torch eager", torch and make_torch(torch), why),
            Candidate("torch.func", torch and make_torch_func(torch), why)]
    if compile_torch:
        out.append(Candidate("torch.compile", torch and make_torch_compile(torch), why))
    jax, why = _try(_import_jax)
    out.append(Candidate("jax.jit", jax and make_jax(jax), why))
    autograd, why = _try(_import_autograd)
    out.append(Candidate("autograd", autograd and make_autograd(autograd), why))
    return out


def candidates_for(w: Workload, cands: list[Candidate]) -> list[Candidate]:
    """All candidates for a main spelling; for another spelling, the floor, symgrad and JAX
    (which runs the same code only when it calls `np` alone)."""
    if not w.spelling:
        return cands
    out = [c for c in cands if c.name in ("hand (floor)", "symgrad", "symgrad numba")]
    for c in cands:
        if c.name == "jax.jit":
            out.append(c if w.portable or c.skipped else Candidate(c.name, None, "calls SciPy"))
    return out


# ---------------------------------------------------------------- measuring

@dataclass
class Result:
    name: str
    seconds: float = math.nan  # median per call
    ratio: float = math.nan  # to the floor: median over rounds of (this sample / floor's sample)
    first_call: float = math.nan
    rel_err: float = math.nan
    loops: int = 0
    samples: list[float] = field(default_factory=list)
    skipped: str = ""
    source: str = ""  # the generated code, for symgrad with --source


def as_arrays(out: Any) -> list[np.ndarray]:
    """A candidate's output as NumPy arrays: tensors of any library, or a tuple of them."""
    return [_numpy(o) for o in out] if isinstance(out, (tuple, list)) else [_numpy(out)]


def _numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):  # torch and symgrad tensors
        a = a.detach()
    if hasattr(a, "numpy"):
        return np.asarray(a.numpy())
    return np.asarray(a)


def rel_err(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    if len(got) != len(want):
        raise ValueError(f"returned {len(got)} arrays, the floor {len(want)}")
    err = 0.0
    for g, f in zip(got, want):
        if g.shape != f.shape:
            raise ValueError(f"returned shape {g.shape}, the floor {f.shape}")
        scale = float(np.max(np.abs(f))) or 1.0
        err = max(err, float(np.max(np.abs(g.astype(np.float64) - f))) / scale)
    return err


def first_call(thunk: Thunk, timeout: float, clock: Callable[[], float]) -> tuple[Any, float]:
    """Run `thunk` once; its time. Raises TimeoutError after `timeout` s (main thread, POSIX)."""
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        def expire(signum: int, frame: Any) -> None:
            raise TimeoutError(f"first call took more than {timeout:g} s")
        old = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        t0 = clock()
        out = thunk()
        return out, clock() - t0
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def loops_for(thunk: Thunk, min_sample: float, clock: Callable[[], float]) -> int:
    """How many calls in a row make one sample last at least `min_sample` seconds."""
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            thunk()
        dt = clock() - t0
        if dt >= min_sample:
            return n
        n = max(n + 1, math.ceil(n * 1.2 * min_sample / max(dt, 1e-9)))


def measure(w: Workload, cands: list[Candidate], opts: argparse.Namespace) -> list[Result]:
    args = w.inputs()
    results, thunks = [], {}
    floor = None
    for c in cands:
        r = Result(c.name, skipped=c.skipped and "skipped: " + c.skipped)
        results.append(r)
        if c.make is None:
            continue
        try:
            thunk = c.make(w, args)
            out, r.first_call = first_call(thunk, opts.timeout, opts.clock)
            got = as_arrays(out)
            if floor is None:  # the floor is the first candidate
                floor = got
            r.rel_err = rel_err(got, floor)
            if opts.source and hasattr(thunk, "source"):
                r.source = thunk.source()
            r.loops = loops_for(thunk, opts.min_sample_ms / 1000, opts.clock)
        except Exception as e:  # a failing candidate is reported, the others still run
            r.skipped = f"FAILED: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            if floor is None:
                raise
            continue
        thunks[c.name] = thunk
    timed = [r for r in results if r.name in thunks]
    gc.collect()
    start = time.perf_counter()
    for k in range(opts.rounds):
        if k >= opts.min_rounds and time.perf_counter() - start > opts.budget:
            break
        for r in timed[k % len(timed):] + timed[:k % len(timed)]:  # rotate the order
            thunk, n = thunks[r.name], r.loops
            t0 = opts.clock()
            for _ in range(n):
                thunk()
            r.samples.append((opts.clock() - t0) / n)
    floor_samples = timed[0].samples
    for r in timed:
        r.seconds = statistics.median(r.samples)
        r.ratio = statistics.median(t / f for t, f in zip(r.samples, floor_samples))
    return results


# ---------------------------------------------------------------- reporting

def _time(s: float) -> str:
    if math.isnan(s):
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}" if s / scale < 100 else f"{s / scale:.0f} {unit}"
    return f"{s * 1e9:.0f} ns"


def table(w: Workload, results: list[Result]) -> str:
    head = ("candidate", "time/call", "x floor", "first call", "max rel err", "samples")
    rows = []
    for r in results:
        if r.skipped:
            rows.append((r.name, r.skipped))
            continue
        wrong = " WRONG" if r.rel_err > w.rtol else ""
        rows.append((r.name, _time(r.seconds), f"{r.ratio:.2f}", _time(r.first_call),
                     f"{r.rel_err:.1e}{wrong}", f"{len(r.samples)}x{r.loops}"))
    widths = [max(len(head[i]), *(len(row[i]) for row in rows if len(row) > 2)) for i in range(len(head))]
    lines = [f"{w.name}: {w.what}", "  " + "  ".join(h.ljust(n) for h, n in zip(head, widths)).rstrip()]
    for row in rows:
        if len(row) == 2:  # skipped or failed: the reason
            lines.append(f"  {row[0].ljust(widths[0])}  {row[1]}")
        else:
            lines.append("  " + "  ".join(c.rjust(n) if i else c.ljust(n)
                                          for i, (c, n) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)


PEERS = ("torch eager", "torch.func", "torch.compile", "jax.jit", "autograd")


def eager_ratios(results: list[Result]) -> tuple[str, str]:
    """The eager column of the summary: symgrad eager over the floor, and over PyTorch eager
    (the median over rounds of the two samples' ratio, as both ran in every round)."""
    by = {r.name: r for r in results}
    eager, torch = by.get("symgrad eager"), by.get("torch eager")
    if eager is None or eager.skipped:
        return "-", "-"
    to_torch = "-"
    if torch is not None and not torch.skipped:
        to_torch = f"{statistics.median(e / t for e, t in zip(eager.samples, torch.samples)):.2f}"
    return f"{eager.ratio:.2f}", to_torch


def summary(report: dict[str, list[Result]], workloads: dict[str, Workload] = ALL) -> str:
    head = ("workload", "symgrad/floor", "target", "first call", "target", "met", "best peer/floor",
            "eager/floor", "eager/torch eager", "numba/floor")
    rows = []
    for name, results in report.items():
        w, by = workloads[name], {r.name: r for r in results}
        sg = by["symgrad"]
        peers = [r for r in results if r.name in PEERS and not r.skipped]
        best = min(peers, key=lambda r: r.ratio, default=None)
        best_txt = f"{best.ratio:.2f} ({best.name})" if best else "-"
        eager = eager_ratios(results)
        nb = by.get("symgrad numba")
        numba_txt = f"{nb.ratio:.2f}" if nb is not None and not nb.skipped else "-"
        if sg.skipped:
            rows.append((name, "FAILED", f"<= {w.target:g}", "-", f"<= {FIRST_CALL_TARGET:g} s", "no",
                         best_txt, *eager, numba_txt))
            continue
        ratio = sg.ratio
        misses = [what for what, ok in (("time", ratio <= w.target), ("first call", sg.first_call
                                        <= FIRST_CALL_TARGET), ("error", sg.rel_err <= w.rtol))
                  if not ok]
        rows.append((name, f"{ratio:.2f}", f"<= {w.target:g}", f"{sg.first_call:.3f} s",
                     f"<= {FIRST_CALL_TARGET:g} s", "yes" if not misses else "no: " + ", ".join(misses),
                     best_txt, *eager, numba_txt))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["summary (ratios to the hand-written NumPy gradient; lower is better)",
             "  " + "  ".join(h.ljust(n) for h, n in zip(head, widths)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(n) for c, n in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("symgrad", "torch", "jax", "autograd"):
        if mod in sys.modules:
            try:
                versions[mod] = importlib.metadata.version(mod)
            except importlib.metadata.PackageNotFoundError:
                versions[mod] = getattr(sys.modules[mod], "__version__", "?")
    return {"machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count(),
            "threads": 1, "versions": versions}


# ---------------------------------------------------------------- command line

def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", metavar="NAME[,NAME]", help="workloads to run, each with all its spellings "
                   "(" + ", ".join(WORKLOADS) + "), or one spelling (" + ", ".join(SPELLINGS) + ")")
    p.add_argument("--quick", action="store_true", help="few rounds and short samples (tests, CI)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--source", action="store_true", help="print symgrad's generated code under each table")
    p.add_argument("--eager", action="store_true", help="then time the eager programs against PyTorch "
                   "eager and their targets (the programs table of benchmarks/eager_overhead.py)")
    p.add_argument("--rounds", type=int, help="interleaved rounds per workload (default 41; quick 5)")
    p.add_argument("--min-sample-ms", type=float, help="least duration of one sample (default 2; quick 1)")
    p.add_argument("--budget", type=float, help="seconds of timing per workload after which rounds "
                   "stop early, once 5 (quick 3) are done (default 20; quick 2)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="cpu (default): the "
                   "process's CPU time, user and system, all threads, which time slices lost to other "
                   "processes do not inflate; wall: elapsed time")
    p.add_argument("--timeout", type=float, default=120.0, help="give up on a first call after this "
                   "many seconds (default 120)")
    opts = p.parse_args(argv)
    opts.clock_name = opts.clock
    opts.clock = time.process_time if opts.clock == "cpu" else time.perf_counter
    quick = opts.quick
    opts.rounds = opts.rounds or (5 if quick else 41)
    opts.min_rounds = min(opts.rounds, 3 if quick else 5)
    opts.min_sample_ms = opts.min_sample_ms or (1.0 if quick else 2.0)
    opts.budget = opts.budget if opts.budget is not None else (2.0 if quick else 20.0)
    asked = list(WORKLOADS) if not opts.only else [n.strip() for n in opts.only.split(",") if n.strip()]
    unknown = [n for n in asked if n not in ALL]
    if unknown:
        p.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)} or a "
                f"workload/spelling: {', '.join(SPELLINGS)}")
    names = [w.name for n in asked for w in (spellings(n) if n in WORKLOADS else [ALL[n]])]
    opts.names = list(dict.fromkeys(names))  # each once, in the order asked
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    cands = candidates(compile_torch=not opts.quick)
    env = environment()
    v = env["versions"]
    print(f"symgrad benchmarks: {env['system']} {env['machine']}, {env['cpus']} CPUs, 1 thread; "
          + ", ".join(f"{k} {x}" for k, x in v.items()), flush=True)
    print(f"{opts.rounds} interleaved rounds at most ({opts.budget:g} s budget), samples >= "
          f"{opts.min_sample_ms:g} ms, median per call, {opts.clock_name} clock\n", flush=True)
    report = {}
    for name in opts.names:
        report[name] = measure(ALL[name], candidates_for(ALL[name], cands), opts)
        print(table(ALL[name], report[name]) + "\n", flush=True)
        for r in report[name]:
            if r.source:
                print(f"{r.name} source for {name}:\n{r.source.rstrip()}\n", flush=True)
    print(summary(report), flush=True)
    programs = eager_programs(opts) if opts.eager else None
    if not opts.eager:
        print("\neager programs against PyTorch eager (the tutorial, a 200-op chain, an MLP step...), "
              "with their targets: python -m benchmarks --eager, or python -m benchmarks.eager_overhead")
    if opts.json:
        settings = ("rounds", "min_sample_ms", "budget", "quick", "clock_name")
        data = {"environment": env, "settings": {k: getattr(opts, k) for k in settings},
                "workloads": {name: {"target": ALL[name].target, "what": ALL[name].what,
                                     "candidates": [_jsonable(r) for r in results]}
                              for name, results in report.items()}}
        if programs is not None:
            data["eager_programs"] = programs
        with open(opts.json, "w") as f:
            json.dump(data, f, indent=2)
    return 0


def eager_programs(opts: argparse.Namespace) -> list[dict[str, Any]]:
    """Time and print the eager programs table (PyTorch-style programs on symgrad and torch)."""
    from benchmarks import eager_overhead
    use_torch = eager_overhead.torch is not None
    if use_torch:
        eager_overhead.torch.set_num_threads(1)
    print("\neager programs: the same PyTorch-style code on symgrad and PyTorch eager", flush=True)
    rows = eager_overhead.program_table(use_torch, eager_overhead.settings(opts.quick, clock=opts.clock))
    print(eager_overhead.format_program_table(rows), flush=True)
    return [dataclasses.asdict(r) for r in rows]


def _jsonable(r: Result) -> dict[str, Any]:
    def num(x: float) -> float | None:
        return None if math.isnan(x) else x
    return {"name": r.name, "seconds": num(r.seconds), "ratio": num(r.ratio), "first_call": num(r.first_call),
            "rel_err": num(r.rel_err), "loops": r.loops, "samples": r.samples, "skipped": r.skipped or None,
            "source": r.source or None}


if __name__ == "__main__":
    sys.exit(main())
