"""Stress symgrad where the speed benchmarks do not look: size, time, shapes and threads.

Four measurements, printed as a plain table part by part:

* compile curve: chains of 100 to 10,000 elementwise ops, the first call of `symgrad.compile`
  and of `symgrad.grad` of their sum (trace, simplify, generate, run once), and ops per second;
* memory: traced Python allocations (tracemalloc) and the process's resident size over 10,000
  eager training steps (an MLP, cross-entropy, Adam) and 10,000 compiled `value_and_grad`
  steps (the benchmark MLP, plain SGD), at the start, at the end and as growth per 1000 steps;
* cache growth: one compiled gradient called on 1,000 shapes, one trace each: KB per shape,
  and the function's `cache_info()`;
* threads: eight threads making the first call of one compiled gradient at once (one trace),
  then calling it, and running eager forward/backward, each on its own data at once; results
  must equal the single-thread ones bit for bit, and the throughput is reported beside the
  single-thread one.

    python -m benchmarks.stress [--quick]

Times are the process's CPU time (on a shared machine, other processes' time slices do not
count), except the threads' throughput, which is wall time. `--quick` runs every part small
(a few seconds); tests/test_benchmarks.py runs it so that the script keeps working.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/stress.py`
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

import symgrad  # noqa: E402
from benchmarks.workloads import mlp, mlp_inputs  # noqa: E402

THREADS = 8


@dataclass(frozen=True)
class Sizes:
    """How big each part runs: the full run, or `--quick`."""

    chains: tuple[int, ...]
    steps: int
    shapes: int
    calls: int  # per thread


FULL = Sizes(chains=(100, 300, 1000, 3000, 10000), steps=10_000, shapes=1000, calls=200)
QUICK = Sizes(chains=(30, 100), steps=100, shapes=10, calls=5)


@dataclass(frozen=True)
class Row:
    """One figure of the table."""

    part: str
    what: str
    value: str


# ---------------------------------------------------------------- measuring

def rss_mb() -> float:
    """The process's resident set size in MB (Linux's /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def traced_mb() -> float:
    """Python allocations alive now, as tracemalloc counts them, in MB."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20


# ---------------------------------------------------------------- 1. compile curve

def chain(n: int) -> Callable[[np.ndarray], Any]:
    """sum(f_n(...f_1(x))): n elementwise ops cycling sin, *1.5, tanh, +0.25, none of which
    the simplifier can fold away."""
    def f(x: np.ndarray) -> Any:
        for k in range(n):
            r = k % 4
            if r == 0:
                x = np.sin(x)
            elif r == 1:
                x = x * 1.5
            elif r == 2:
                x = np.tanh(x)
            else:
                x = x + 0.25
        return np.sum(x)
    f.__name__ = f"chain{n}"
    return f


def compile_curve(sizes: Sequence[int]) -> list[Row]:
    """First-call seconds of compile and grad for each chain length, CPU and wall (the
    simplifier's passes time themselves in wall time: their share is of the wall time), ops
    per CPU second, and the graph's node count traced and simplified."""
    x = np.linspace(-1.0, 1.0, 16)
    symgrad.grad(chain(8))(x)  # imports and first-use caches: not part of any size's time
    rows = []
    for n in sizes:
        for name, transform in (("compile", symgrad.compile), ("grad", symgrad.grad)):
            f = chain(n)
            compiled = transform(f)
            wall, cpu = time.perf_counter(), time.process_time()
            out = compiled(x)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            _check_chain(f, x, out, name)
            built = compiled.build(x)  # the build that first call made
            passes = sum(s.seconds for s in built.stats)
            rows.append(Row("compile curve", f"{name:<7} {n:>5} ops, first call",
                            f"{cpu:8.3f} s cpu {wall:8.3f} s wall  {n / cpu:7.0f} ops/s  "
                            f"simplify {passes / wall:4.0%}  "
                            f"nodes {len(built.traced.graph.nodes)} -> {len(built.graph.nodes)}"))
    return rows


def _check_chain(f: Callable, x: np.ndarray, out: Any, name: str) -> None:
    """The compiled chain agrees with NumPy (its value) or central differences (its gradient)."""
    if name == "compile":
        want = f(x)
    else:
        eps = 1e-6
        want = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))])
    if not np.allclose(out, want, rtol=1e-5, atol=1e-8):
        raise AssertionError(f"{f.__name__}: {name} disagrees with NumPy: {out} != {want}")


# ---------------------------------------------------------------- 2. memory over many steps

def eager_mlp_step() -> Callable[[], float]:
    """One eager training step of a 32-64-64-10 MLP on a fixed batch: forward, cross-entropy,
    zero_grad, backward, Adam."""
    rng = np.random.default_rng(0)
    symgrad.manual_seed(0)
    nn = symgrad.nn
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = symgrad.optim.Adam(model.parameters(), lr=1e-3)
    x = symgrad.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    y = symgrad.tensor(rng.integers(0, 10, 64))

    def step() -> float:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def compiled_mlp_step() -> Callable[[], float]:
    """One compiled `value_and_grad` step of the benchmark MLP (small sizes), SGD in NumPy."""
    x, onehot, *params = mlp_inputs(small=True)
    step_fn = symgrad.value_and_grad(mlp, argnums=(2, 3, 4, 5, 6, 7))

    def step() -> float:
        value, grads = step_fn(x, onehot, *params)
        params[:] = [p - 0.01 * g for p, g in zip(params, grads)]
        return float(value)
    return step


def memory(steps: int) -> list[Row]:
    """tracemalloc and RSS at the start (after `steps`/10 warm-up steps, which fill the
    optimizer's state and every cache) and at the end of `steps` more steps."""
    rows = []
    for name, make in (("eager MLP + Adam", eager_mlp_step), ("compiled value_and_grad", compiled_mlp_step)):
        tracemalloc.start()  # before the model: its parameters and the optimizer's state count
        step = make()
        warm = max(1, steps // 10)
        first = step()
        for _ in range(warm - 1):
            step()
        start_traced, start_rss = traced_mb(), rss_mb()
        clock = time.process_time()
        for _ in range(steps):
            last = step()
        seconds = time.process_time() - clock
        end_traced, end_rss = traced_mb(), rss_mb()
        tracemalloc.stop()
        if not last < first:
            raise AssertionError(f"{name}: the loss did not fall ({first} -> {last})")
        per = 1000 / steps
        rows += [
            Row("memory", f"{name}: {steps} steps",
                f"{seconds / steps * 1e3:8.3f} ms/step cpu (tracemalloc on)  loss {first:.4f} -> {last:.4f}"),
            Row("memory", f"{name}: tracemalloc",
                f"{start_traced:8.2f} -> {end_traced:8.2f} MB  "
                f"{(end_traced - start_traced) * per * 1024:+8.1f} KB/1000 steps"),
            Row("memory", f"{name}: RSS",
                f"{start_rss:8.1f} -> {end_rss:8.1f} MB  "
                f"{(end_rss - start_rss) * per * 1024:+8.1f} KB/1000 steps"),
        ]
    return rows


# ---------------------------------------------------------------- 3. cache growth

def cache_growth(shapes: int) -> list[Row]:
    """One compiled gradient retraced on `shapes` vector lengths: memory per cached shape."""
    def loss(x: np.ndarray) -> Any:
        return np.sum(np.tanh(x) * x + np.exp(-x * x))

    g = symgrad.grad(loss)
    g(np.ones(1))  # the first trace imports and warms what every later one shares
    g.cache_clear()
    tracemalloc.start()
    start_traced, start_rss = traced_mb(), rss_mb()
    clock = time.process_time()
    for n in range(1, shapes + 1):
        x = np.linspace(-1.0, 1.0, n)
        out = g(x)
        want = np.tanh(x) + x * (1 - np.tanh(x) ** 2) - 2 * x * np.exp(-x * x)
        if not np.allclose(out, want, rtol=1e-12, atol=1e-12):
            raise AssertionError(f"cache growth: the gradient at length {n} is wrong")
    seconds = time.process_time() - clock
    end_traced, end_rss = traced_mb(), rss_mb()
    tracemalloc.stop()
    info = g.cache_info()
    return [
        Row("cache growth", f"{shapes} shapes, one trace each",
            f"{seconds / shapes * 1e3:8.2f} ms/trace cpu (tracemalloc on)"),
        Row("cache growth", "tracemalloc", f"{start_traced:8.2f} -> {end_traced:8.2f} MB  "
            f"{(end_traced - start_traced) * 1024 / shapes:8.1f} KB/shape"),
        Row("cache growth", "RSS", f"{start_rss:8.1f} -> {end_rss:8.1f} MB  "
            f"{(end_rss - start_rss) * 1024 / shapes:8.1f} KB/shape"),
        Row("cache growth", "cache_info()", str(info)),
    ]


# ---------------------------------------------------------------- 4. threads

def _thread_data(k: int) -> tuple[np.ndarray, ...]:
    """The benchmark MLP's small inputs, perturbed differently for each thread."""
    rng = np.random.default_rng(100 + k)
    return tuple((a + 0.1 * rng.standard_normal(a.shape)).astype(a.dtype) for a in mlp_inputs(small=True))


def _eager_grads(args: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """The MLP's parameter gradients on the eager tape, after an evaluation under no_grad:
    grad mode is per thread, so another thread's no_grad never drops this one's graph."""
    ts = [symgrad.tensor(a, requires_grad=i >= 2) for i, a in enumerate(args)]
    with symgrad.no_grad():
        mlp(*ts)
    mlp(*ts).backward()
    return [t.grad.numpy() for t in ts[2:]]


def _concurrently(run: Callable[[tuple], list], data: list[tuple], calls: int) -> tuple[list[list], float]:
    """Each thread k calls `run(data[k])` `calls` times, all started together: the results
    per thread and the wall seconds."""
    got: list[list] = [[] for _ in data]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(data))

    def work(k: int) -> None:
        try:
            barrier.wait()
            for _ in range(calls):
                got[k].append(run(data[k]))
        except BaseException as e:  # raised again in the main thread
            errors.append(e)
    workers = [threading.Thread(target=work, args=(k,)) for k in range(len(data))]
    clock = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    seconds = time.perf_counter() - clock
    if errors:
        raise errors[0]
    return got, seconds


def threads(calls: int) -> list[Row]:
    """Eight threads at once on one compiled gradient and on eager backward: the same results
    as one thread, and the calls per second of each."""
    data = [_thread_data(k) for k in range(THREADS)]
    g = symgrad.grad(mlp, argnums=(2, 3, 4, 5, 6, 7))
    first, seconds = _concurrently(lambda args: list(g(*args)), data, 1)  # every thread's first call at once
    traces = g.cache_info().misses
    if traces != 1:
        raise AssertionError(f"threads: {THREADS} first calls at once, one signature, traced {traces} times")
    rows = [Row("threads", f"first call in {THREADS} threads at once", f"{seconds:8.3f} s  {traces} trace")]
    for name, run in (("compiled grad", lambda args: list(g(*args))), ("eager backward", _eager_grads)):
        run(data[0])  # the compiled gradient's trace is not a call to time
        clock = time.perf_counter()
        want = [[run(args) for _ in range(calls)][0] for args in data]
        single = len(data) * calls / (time.perf_counter() - clock)
        got, seconds = _concurrently(run, data, calls)
        if name == "compiled grad":
            got = [r + f for r, f in zip(got, first)]
        for k, results in enumerate(got):
            for result in results:
                if not all(np.array_equal(a, b) for a, b in zip(result, want[k], strict=True)):
                    raise AssertionError(f"threads: {name} in thread {k} differs from one thread's result")
        rows.append(Row("threads", f"{name}, {THREADS} threads x {calls} calls",
                        f"{len(data) * calls / seconds:8.0f} calls/s  (1 thread: {single:.0f} calls/s)  "
                        "results equal"))
    return rows


# ---------------------------------------------------------------- the table

def table(rows: Sequence[Row]) -> str:
    """The figures as plain text, one a line, the part named where it changes."""
    width = max(len(r.what) for r in rows)
    lines, part = [], None
    for r in rows:
        if r.part != part:
            lines.append(f"{r.part}:")
            part = r.part
        lines.append(f"  {r.what:<{width}}  {r.value}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every part (small with --quick) and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stress", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every part small: a few seconds")
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    parts = [lambda: compile_curve(sizes.chains), lambda: memory(sizes.steps),
             lambda: cache_growth(sizes.shapes), lambda: threads(sizes.calls)]
    for part in parts:  # printed as each part ends: the full run takes minutes
        print(table(part()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
