"""Eager mode's cost against PyTorch eager and NumPy: per op, and on whole programs.

Three tables, measured in one process, single-threaded (BLAS, OpenMP and PyTorch held to one
thread), with the garbage collector on while timing (a cost only the cycle collector pays
still counts). Every case's result is checked against NumPy's (and so against PyTorch's)
before it is timed; a wrong result stops the run. PyTorch's columns are left out when
torch does not import.

* ops: the fixed cost of one eager op on a 16-element float32 tensor, where the arithmetic
  is free: argument lifting, dtype promotion, dispatch and, with `requires_grad=True`,
  recording a graph node. Each op runs on NumPy arrays (the floor), on symgrad tensors
  without and with `requires_grad`, and on PyTorch tensors the same two ways. Per call:
  `timeit.repeat` with the loop count set so one repeat lasts `--target-ms`, then the
  median over the repeats.
* programs: PyTorch-style programs written once against PyTorch's API and run on both
  libraries (`lib.tensor`, `lib.nn.functional`, `lib.optim`), each row with the target of
  issue 13: the autograd tutorial's forward and backward, add/mul/exp with grad, a 200-op
  chain, an MLP training step against a hand-written NumPy forward and backward (the
  floor), the same step with the library's forward and the floor's backward (no target: a
  bound on what any backward can reach), `np.power(x, 3)` on a tensor, and a 100,000-op
  chain recorded for backward.
  Timing is interleaved: each round times every candidate once, in a rotating order; one
  sample runs a candidate enough times in a row to last `--min-sample-ms`. A time is the
  median over rounds of the time per call; a ratio is the median over rounds of (symgrad's
  sample / the base's sample in that round), which cancels most of the noise of a shared
  machine. The clock is the process's CPU time unless `--clock wall`.
* others: programs as other people write them (`eager_others`: nn modules, optimizers, a
  Python loop, views and slices), timed the same way against PyTorch, whose first step is
  the reference; no targets. Left out without PyTorch.

    python -m benchmarks.eager_overhead [--quick] [--json PATH] [--only ops|programs|others]
"""

import os

# before NumPy (and PyTorch) start their thread pools: one thread, as the ops are tiny
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import symgrad  # noqa: E402
from benchmarks.eager_others import OTHERS  # noqa: E402

try:
    import torch
except Exception:  # not installed, or broken: the PyTorch columns are left out
    torch = None

Thunk = Callable[[], Any]


# ---------------------------------------------------------------- the ops

def _np_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _np_fwd_bwd(x, y):
    # the hand-written floor: the forward, then d/dx = ct * y and d/dy = ct * x
    out = (x * y).sum()
    ct = np.broadcast_to(np.ones((), x.dtype), x.shape)
    return out, ct * y, ct * x


def _fwd_bwd(x, y):
    (x * y).sum().backward()


# name -> (NumPy call, tensor call); each takes x, y (16,) and a, b (4, 4).
# A tensor call of None means "same expression as NumPy's" (operators and shared methods).
OPS: dict[str, tuple[Callable, Callable | None]] = {
    "add": (lambda x, y, a, b: x + y, None),
    "mul": (lambda x, y, a, b: x * y, None),
    "exp": (lambda x, y, a, b: np.exp(x), lambda x, y, a, b: x.exp()),
    "tanh": (lambda x, y, a, b: np.tanh(x), lambda x, y, a, b: x.tanh()),
    "sum": (lambda x, y, a, b: x.sum(), None),
    "matmul (4,4)@(4,4)": (lambda x, y, a, b: a @ b, None),
    "reshape (4,4)": (lambda x, y, a, b: x.reshape(4, 4), None),
    "index x[1:3]": (lambda x, y, a, b: x[1:3], None),
    "softmax": (lambda x, y, a, b: _np_softmax(x), lambda x, y, a, b: x.softmax(0)),
    "(x*y).sum() fwd+bwd": (lambda x, y, a, b: _np_fwd_bwd(x, y), lambda x, y, a, b: _fwd_bwd(x, y)),
}
BACKWARD = {"(x*y).sum() fwd+bwd"}  # only meaningful with requires_grad


# ---------------------------------------------------------------- timing

def per_call_us(fn: Thunk, repeat: int, target_s: float, clock: Callable[[], float] = time.perf_counter
                ) -> float:
    """Median over `repeat` runs of the time per call, in microseconds."""
    timer = timeit.Timer(fn, setup="gc.enable()", timer=clock, globals={"gc": gc})
    number, elapsed = 1, 0.0
    while True:  # like Timer.autorange, but aiming at target_s
        elapsed = timer.timeit(number)
        if elapsed >= target_s:
            break
        number = max(number * 2, int(number * target_s / max(elapsed, 1e-9) * 1.1))
    times = timer.repeat(repeat=repeat, number=number)
    return statistics.median(times) / number * 1e6


def _as_numpy(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return tuple(_as_numpy(v) for v in value)
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, symgrad.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _check(name: str, got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    if len(got) != len(expected):
        raise AssertionError(f"{name}: returned {len(got)} results, expected {len(expected)}")
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{name}: wrong result")


def _leaves(lib: Any, arrays: dict[str, np.ndarray], requires_grad: bool) -> dict[str, Any]:
    return {k: lib.tensor(v.copy(), requires_grad=requires_grad) for k, v in arrays.items()}


def run_case(name: str, lib: Any, arrays: dict, requires_grad: bool, repeat: int,
             target_s: float, clock: Callable[[], float] = time.perf_counter) -> float | None:
    """Time one op on one library's tensors; None where it does not apply."""
    np_fn, tensor_fn = OPS[name]
    fn = tensor_fn or np_fn
    if name in BACKWARD and not requires_grad:
        return None
    args = _leaves(lib, arrays, requires_grad)
    if name in BACKWARD:
        fn(**args)
        _check(name, (args["x"].grad, args["y"].grad), _np_fwd_bwd(arrays["x"], arrays["y"])[1:])
    else:
        _check(name, _as_numpy(fn(**args)), np_fn(**arrays))
    return per_call_us(lambda: fn(**args), repeat, target_s, clock)


# ---------------------------------------------------------------- the ops table

OP_COLUMNS = ["op", "numpy µs", "symgrad µs", "×np", "+grad µs", "×np"]
OP_TORCH_COLUMNS = ["torch µs", "×np", "torch+grad µs", "×np"]


def _fmt_us(t: float | None) -> str:
    return "—" if t is None else f"{t:.2f}" if t < 10 else f"{t:.1f}"


def _fmt_ratio(t: float | None, base: float) -> str:
    return "—" if t is None else f"{t / base:.1f}"


def op_table(use_torch: bool, repeat: int, target_s: float, clock: Callable[[], float]
             ) -> list[dict[str, Any]]:
    """Time every op of `OPS` (µs per call); a dict per op."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    arrays = {"x": x, "y": y, "a": x.reshape(4, 4).copy(), "b": y.reshape(4, 4).copy()}
    rows = []
    for name in OPS:
        np_fn = OPS[name][0]
        row = {"op": name, "numpy_us": per_call_us(lambda f=np_fn: f(**arrays), repeat, target_s, clock),
               "symgrad_us": run_case(name, symgrad, arrays, False, repeat, target_s, clock),
               "symgrad_grad_us": run_case(name, symgrad, arrays, True, repeat, target_s, clock)}
        if use_torch:
            row["torch_us"] = run_case(name, torch, arrays, False, repeat, target_s, clock)
            row["torch_grad_us"] = run_case(name, torch, arrays, True, repeat, target_s, clock)
        rows.append(row)
        print(".", end="", flush=True)
    print()
    return rows


def format_op_table(rows: list[dict[str, Any]]) -> str:
    use_torch = "torch_us" in rows[0]
    header = OP_COLUMNS + (OP_TORCH_COLUMNS if use_torch else [])
    lines = []
    for r in rows:
        base = r["numpy_us"]
        line = [r["op"], _fmt_us(base)]
        keys = ["symgrad_us", "symgrad_grad_us"] + (["torch_us", "torch_grad_us"] if use_torch else [])
        for k in keys:
            line += [_fmt_us(r[k]), _fmt_ratio(r[k], base)]
        lines.append(line)
    return _grid(header, lines)


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    head = line(header)
    return "\n".join([head, "-" * len(head)] + [line(r) for r in rows])


# ---------------------------------------------------------------- the programs
# Each program is written once against PyTorch's API and built for a library `lib`
# (symgrad or torch): a thunk that runs one step and returns what is checked.

def _tutorial(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
    """PyTorch's autograd tutorial: BCE-with-logits of a linear layer, then backward."""
    F = lib.nn.functional
    x, y = lib.tensor(a["x"]), lib.tensor(a["y"])
    w, b = lib.tensor(a["w"], requires_grad=True), lib.tensor(a["b"], requires_grad=True)

    def step() -> Any:
        w.grad = b.grad = None  # zero the gradients: `zero_grad()`'s default, set_to_none
        z = lib.matmul(x, w) + b
        loss = F.binary_cross_entropy_with_logits(z, y)
        loss.backward()
        return loss, w.grad, b.grad
    return step


def _tutorial_numpy(a: dict[str, np.ndarray]) -> tuple:
    z = a["x"] @ a["w"] + a["b"]
    g = (1 / (1 + np.exp(-z)) - a["y"]) / z.size
    return np.mean(np.logaddexp(0, z) - a["y"] * z), np.outer(a["x"], g), g


# name -> (the op on tensors, on NumPy arrays, its gradients for a cotangent of ones, its arity)
ELEMENTWISE: dict[str, tuple[Callable, Callable, Callable, int]] = {
    "add": (lambda x, y: x + y, np.add, lambda x, y: (np.ones_like(x), np.ones_like(y)), 2),
    "mul": (lambda x, y: x * y, np.multiply, lambda x, y: (y, x), 2),
    "exp": (lambda x, y: x.exp(), lambda x, y: np.exp(x), lambda x, y: (np.exp(x),), 1),
}


def _elementwise(op: str, backward: bool) -> Callable[[Any, dict], Thunk]:
    fn, _, _, arity = ELEMENTWISE[op]

    def build(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
        x, y = lib.tensor(a["x"], requires_grad=True), lib.tensor(a["y"], requires_grad=True)
        if not backward:
            return lambda: fn(x, y)
        leaves, ct = (x, y)[:arity], lib.ones(16)

        def step() -> Any:
            for t in leaves:
                t.grad = None
            fn(x, y).backward(ct)
            return tuple(t.grad for t in leaves)
        return step
    return build


def chain(h: Any, x: Any, y: Any, cycles: int) -> Any:
    """`5 * cycles` elementwise ops, the same code on either library's tensors: each cycle
    multiplies, adds, then takes sin, exp and tanh. The map contracts (|d/dh| < 1 per
    cycle for 0.5 < y < 0.9), so rounding differences between libraries do not grow."""
    for _ in range(cycles):
        h = (h * y + x).sin().exp().tanh()
    return h


def _chain_numpy(x: np.ndarray, y: np.ndarray, cycles: int, backward: bool) -> tuple:
    """The chain in float64 with NumPy; with `backward`, its gradients by hand."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    h, saved = x, []
    for _ in range(cycles):
        b = h * y + x
        e = np.exp(np.sin(b))
        out = np.tanh(e)
        if backward:
            saved.append((h, b, e, out))
        h = out
    if not backward:
        return (h,)
    gh, gx, gy = np.ones_like(x), np.zeros_like(x), np.zeros_like(x)
    for h_in, b, e, out in reversed(saved):
        gb = gh * (1 - out * out) * e * np.cos(b)
        gx += gb
        gy += gb * h_in
        gh = gb * y
    return gx + gh, gy  # h starts as x


def _chain(cycles: int, backward: bool) -> Callable[[Any, dict], Thunk]:
    def build(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
        x, y = lib.tensor(a["x"], requires_grad=True), lib.tensor(a["y"], requires_grad=True)
        if not backward:
            return lambda: chain(x, x, y, cycles)

        def step() -> Any:
            x.grad = y.grad = None
            chain(x, x, y, cycles).sum().backward()
            return x.grad, y.grad
        return step
    return build


MLP_PARAMS = ("w1", "b1", "w2", "b2", "w3", "b3")
MLP_LR = 0.01


def _mlp_arrays(sizes: tuple[int, ...], batch: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    f32 = np.float32
    a = {"x": rng.standard_normal((batch, sizes[0])).astype(f32),
         "labels": rng.integers(0, sizes[-1], batch)}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), 1):
        a[f"w{i}"] = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(f32)
        a[f"b{i}"] = (0.1 * rng.standard_normal(fan_out)).astype(f32)
    return a


def _mlp(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
    """One SGD step of a ReLU MLP with cross-entropy, as PyTorch's users write it."""
    F = lib.nn.functional
    x, labels = lib.tensor(a["x"]), lib.tensor(a["labels"])
    params = [lib.tensor(a[k].copy(), requires_grad=True) for k in MLP_PARAMS]
    w1, b1, w2, b2, w3, b3 = params
    opt = lib.optim.SGD(params, lr=MLP_LR)

    def step() -> Any:
        opt.zero_grad()
        h1 = F.relu(x @ w1 + b1)
        h2 = F.relu(h1 @ w2 + b2)
        loss = F.cross_entropy(h2 @ w3 + b3, labels)
        loss.backward()
        opt.step()
        return (loss, *(p.grad for p in params))
    return step


def mlp_floor(a: dict[str, np.ndarray]) -> Thunk:
    """The same step written by hand in NumPy, lean: in-place where it saves a pass, no
    gradient for `x`. Returns the loss and the gradients (taken before the update)."""
    x, labels = a["x"], a["labels"]
    params = [a[k].copy() for k in MLP_PARAMS]
    rows = np.arange(len(labels))

    def step() -> tuple:
        w1, b1, w2, b2, w3, b3 = params
        h1 = x @ w1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ w2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ w3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s).mean() - z[rows, labels].mean()
        grads = _mlp_floor_backward(x, labels, rows, params, h1, h2, e, s)
        return (loss, *grads)
    return step


def _mlp_floor_backward(x: np.ndarray, labels: np.ndarray, rows: np.ndarray, params: list,
                        h1: np.ndarray, h2: np.ndarray, e: np.ndarray, s: np.ndarray) -> tuple:
    """The floor's backward and SGD update from its forward's ReLU outputs and the softmax's
    `e = exp(z - max)` (overwritten) and row sums `s`; the gradients, taken before the update."""
    w1, b1, w2, b2, w3, b3 = params
    gz = e  # d loss / d z = (softmax(z) - onehot) / n
    gz /= s
    gz[rows, labels] -= 1
    gz /= len(labels)
    gh2 = gz @ w3.T
    gh2 *= h2 > 0
    gh1 = gh2 @ w2.T
    gh1 *= h1 > 0
    grads = (x.T @ gh1, gh1.sum(axis=0), h1.T @ gh2, gh2.sum(axis=0), h2.T @ gz, gz.sum(axis=0))
    for p, g in zip(params, grads):
        p -= MLP_LR * g
    return grads


def _mlp_forward_then_floor(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
    """The MLP step with the library's forward as `_mlp` writes it (recorded for backward),
    then the floor's own backward and update on the forward's arrays instead of `backward()`
    and `opt.step()`: what the step would cost if the library's backward and optimizer cost
    no more than hand-written NumPy. Its ratio to the floor bounds what any backward can
    reach. (It takes the softmax's exp and row sums again, 64×10 values, about 3 µs.)"""
    F = lib.nn.functional
    x, labels = lib.tensor(a["x"]), lib.tensor(a["labels"])
    params = [lib.tensor(a[k].copy(), requires_grad=True) for k in MLP_PARAMS]
    w1, b1, w2, b2, w3, b3 = params
    arrays = [p.detach().numpy() for p in params]  # the parameters' own buffers, updated in place
    xa, la = a["x"], a["labels"]
    rows = np.arange(len(la))

    def step() -> Any:
        h1 = F.relu(x @ w1 + b1)
        h2 = F.relu(h1 @ w2 + b2)
        z = h2 @ w3 + b3
        loss = F.cross_entropy(z, labels)
        za = z.detach().numpy()
        e = np.exp(za - za.max(axis=1, keepdims=True))
        grads = _mlp_floor_backward(xa, la, rows, arrays, h1.detach().numpy(), h2.detach().numpy(),
                                    e, e.sum(axis=1, keepdims=True))
        return (loss, *grads)
    return step


def _power(requires_grad: bool) -> Callable[[Any, dict], Thunk]:
    def build(lib: Any, a: dict[str, np.ndarray]) -> Thunk:
        x = lib.tensor(a["x"], requires_grad=requires_grad)
        if lib is symgrad:
            return lambda: np.power(x, 3)  # the NumPy binding of a symgrad tensor
        return lambda: lib.pow(x, 3)
    return build


@dataclass
class Program:
    """One row of the programs table: a builder per library, NumPy's answer, a target."""

    work: str
    build: Callable[[Any, dict], Thunk]  # (lib, arrays) -> one step on lib's tensors
    arrays: dict[str, np.ndarray]
    expected: Callable[[], tuple]  # NumPy's answer to a fresh thunk's first call
    base: str  # what the target holds symgrad to: "torch", "floor" (a ratio) or "s" (seconds)
    target: float | None
    floor: Thunk | None = None  # NumPy doing the same work, timed beside the tensors
    rtol: float = 1e-4
    atol: float = 1e-6
    long: bool = False  # one call lasts long: few rounds, one call a sample


def programs(tiny: bool = False) -> list[Program]:
    """The programs of issue 13, at full size (or tiny, for tests: same code, small inputs)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    tut = {"x": np.ones(5, f32), "y": np.zeros(3, f32), "w": rng.standard_normal((5, 3)).astype(f32),
           "b": rng.standard_normal(3).astype(f32)}
    v16 = {"x": rng.standard_normal(16).astype(f32), "y": rng.uniform(0.5, 0.9, 16).astype(f32)}
    short, long = (4, 100) if tiny else (40, 20_000)  # cycles of 5 ops
    mlp_sizes = (32, 16, 8, 10) if tiny else (784, 256, 128, 10)
    mlp = _mlp_arrays(mlp_sizes, 8 if tiny else 64)
    pw = {"x": rng.uniform(-2, 2, 2000)}

    out = [Program("tutorial forward + backward", _tutorial, tut, lambda: _tutorial_numpy(tut),
                   "torch", 1.0)]
    for op, (_, np_op, grads, _arity) in ELEMENTWISE.items():
        out.append(Program(f"{op} with grad, 16 values", _elementwise(op, False), v16,
                           lambda f=np_op: (f(v16["x"], v16["y"]),), "torch", 1.5,
                           floor=lambda f=np_op: f(v16["x"], v16["y"])))
        out.append(Program(f"{op} forward + backward, 16 values", _elementwise(op, True), v16,
                           lambda g=grads: g(v16["x"], v16["y"]), "torch", 1.5))
    out.append(Program(f"{5 * short}-op chain on 16 values, forward + backward", _chain(short, True), v16,
                       lambda: _chain_numpy(v16["x"], v16["y"], short, True), "torch", 1.5))
    dims = "-".join(map(str, mlp_sizes))
    out.append(Program(f"MLP step {len(mlp['x'])}x{dims} (vs NumPy floor)", _mlp,
                       mlp, lambda: mlp_floor(mlp)(), "floor", 1.1, floor=mlp_floor(mlp), rtol=1e-3,
                       atol=1e-5))
    out.append(Program("MLP step, its forward then the floor's backward (a bound)", _mlp_forward_then_floor,
                       mlp, lambda: mlp_floor(mlp)(), "floor", None, floor=mlp_floor(mlp), rtol=1e-3,
                       atol=1e-5))
    for grad in (False, True):
        out.append(Program(f"x ** 3 via np.power, 2,000 float64{', with grad' if grad else ''}",
                           _power(grad), pw, lambda: (pw["x"] ** 3,), "torch", None,
                           floor=lambda: np.power(pw["x"], 3), rtol=1e-12, atol=0))
    out.append(Program(f"{5 * long:,}-op chain forward, grad recorded", _chain(long, False), v16,
                       lambda: _chain_numpy(v16["x"], v16["y"], long, False), "s", 0.5, long=True))
    return out


# ---------------------------------------------------------------- timing the programs

@dataclass
class Row:
    """A timed program: median seconds per call per candidate, and how it meets its target."""

    work: str
    base: str
    target: float | None
    seconds: dict[str, float] = field(default_factory=dict)  # "floor", "torch", "symgrad"
    ratio: float | None = None  # symgrad / base, median over rounds (base "s": symgrad / torch)
    torch_ratio: float | None = None  # torch / floor, where there is a floor
    met: bool | None = None  # None: no target, or its base was not timed
    checked: list[str] = field(default_factory=list)  # candidates whose result matched NumPy's
    samples: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Settings:
    rounds: int = 41
    min_rounds: int = 5
    min_sample: float = 0.005  # seconds
    budget: float = 6.0  # seconds of timing per program, once min_rounds are done
    long_rounds: int = 5
    warmup: float = 0.05  # seconds of calls before a program is timed
    judge: bool = True  # say whether each target is met (not for --tiny's small programs)
    collect: bool = True  # a full collection before each program (0.2 s with torch and SymPy loaded)
    clock: Callable[[], float] = time.process_time


def _loops(thunk: Thunk, s: "Settings") -> int:
    """Warm up (a first call may pay a one-time cost: PyTorch's first backward takes 0.4 s),
    then the calls in a row that make one sample last at least `s.min_sample` seconds."""
    start, calls = s.clock(), 0
    while calls < 3 or s.clock() - start < s.warmup:
        thunk()
        calls += 1
    n = max(1, math.ceil(1.2 * s.min_sample * calls / max(s.clock() - start, 1e-9)))
    while True:
        t0 = s.clock()
        for _ in range(n):
            thunk()
        dt = s.clock() - t0
        if dt >= s.min_sample:
            return n
        n = max(n + 1, math.ceil(n * 1.2 * s.min_sample / max(dt, 1e-9)))


def _median_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den))


def time_program(p: Program, use_torch: bool, s: Settings) -> Row:
    """Check each candidate's first call against NumPy's answer, then time them interleaved."""
    row = Row(p.work, p.base, p.target)
    thunks: dict[str, Thunk] = {}
    if p.floor is not None:
        thunks["floor"] = p.floor
    if use_torch:
        thunks["torch"] = p.build(torch, p.arrays)
    thunks["symgrad"] = p.build(symgrad, p.arrays)
    expected = p.expected()
    loops = {}
    for name, thunk in thunks.items():
        got = thunk()
        _check(f"{p.work} ({name})", _as_numpy(got) if isinstance(got, tuple) else (_as_numpy(got),),
               expected, p.rtol, p.atol)
        del got  # a long chain's graph goes now, not during the next candidate's sample
        row.checked.append(name)
        loops[name] = 1 if p.long else _loops(thunk, s)
    samples: dict[str, list[float]] = {name: [] for name in thunks}
    order = list(thunks)
    rounds, min_rounds = (s.long_rounds, s.long_rounds) if p.long else (s.rounds, s.min_rounds)
    if s.collect:
        gc.collect()
    start = time.perf_counter()
    for k in range(rounds):
        if k >= min_rounds and time.perf_counter() - start > s.budget:
            break
        for name in order[k % len(order):] + order[:k % len(order)]:  # rotate the order
            thunk, n = thunks[name], loops[name]
            t0 = s.clock()
            for _ in range(n):
                out = thunk()
            dt = s.clock() - t0
            del out
            samples[name].append(dt / n)
    row.samples = samples
    row.seconds = {name: statistics.median(v) for name, v in samples.items()}
    base = {"torch": "torch", "floor": "floor", "s": "torch"}[p.base]
    if base in samples:
        row.ratio = _median_ratio(samples["symgrad"], samples[base])
    if "floor" in samples and "torch" in samples:
        row.torch_ratio = _median_ratio(samples["torch"], samples["floor"])
    if p.target is not None and s.judge:
        if p.base == "s":
            row.met = row.seconds["symgrad"] <= p.target
        elif row.ratio is not None:
            row.met = row.ratio <= p.target
    return row


def program_table(use_torch: bool, settings: Settings, tiny: bool = False) -> list[Row]:
    """Check and time every program; a `Row` each."""
    rows = []
    for p in programs(tiny):
        rows.append(time_program(p, use_torch, settings))
        print(".", end="", flush=True)
    print()
    return rows


def others(use_torch: bool) -> list[Program]:
    """The programs of `eager_others`, each checked against PyTorch's first step (no targets)."""
    if not use_torch:
        return []
    return [Program(work, lambda lib, a, b=build: b(lib), {}, lambda b=build: _as_numpy(b(torch)()),
                    "torch", None, rtol=1e-4, atol=1e-6) for work, build in OTHERS.items()]


def _fmt_s(t: float | None) -> str:
    if t is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            v = t / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{t * 1e9:.0f} ns"


def _fmt_target(r: Row) -> str:
    if r.target is None:
        return "—"
    return f"≤ {r.target:g} s" if r.base == "s" else f"≤ {r.target:g}× {r.base}"


def _fmt_program_ratio(r: Row) -> str:
    if r.ratio is None:
        return "—"
    base = "torch" if r.base == "s" else r.base
    text = f"{r.ratio:.2f}× {base}"
    if r.torch_ratio is not None and r.base == "floor":
        text += f" (torch {r.torch_ratio:.2f}× floor)"
    return text


def verdict(r: Row) -> str:
    return "—" if r.met is None else "PASS" if r.met else "FAIL"


def format_program_table(rows: list[Row]) -> str:
    header = ["work", "numpy", "torch eager", "symgrad eager", "ratio", "target", "met"]
    lines = [[r.work, _fmt_s(r.seconds.get("floor")), _fmt_s(r.seconds.get("torch")),
              _fmt_s(r.seconds.get("symgrad")), _fmt_program_ratio(r), _fmt_target(r), verdict(r)]
             for r in rows]
    return _grid(header, lines)


# ---------------------------------------------------------------- command line

def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eager_overhead",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few repeats and rounds (< 60 s in all)")
    p.add_argument("--tiny", action="store_true", help="small programs and one round, targets not "
                   "meaningful: for tests")
    p.add_argument("--only", choices=("ops", "programs", "others"), help="one table only")
    p.add_argument("--json", metavar="PATH", help="also write both tables as JSON to PATH")
    p.add_argument("--repeat", type=int, help="ops: timed repeats per case, median (default 25; quick 7)")
    p.add_argument("--target-ms", type=float, help="ops: length of one repeat (default 4; quick 2)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="cpu (default): the "
                   "process's CPU time, which time slices lost to other processes do not inflate")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    opts = p.parse_args(argv)
    opts.repeat = opts.repeat or (1 if opts.tiny else 7 if opts.quick else 25)
    opts.target_ms = opts.target_ms or (0.2 if opts.tiny else 2.0 if opts.quick else 4.0)
    opts.settings = settings(opts.quick, opts.tiny,
                             time.process_time if opts.clock == "cpu" else time.perf_counter)
    return opts


def settings(quick: bool = False, tiny: bool = False, clock: Callable[[], float] = time.process_time
             ) -> Settings:
    """How the programs are timed: full (41 rounds at most, 6 s a program), quick (< 60 s for
    both tables), or tiny (one round: for tests of the checks, not of the times)."""
    if tiny:
        return Settings(rounds=1, min_rounds=1, min_sample=0.0, budget=0.0, long_rounds=1, warmup=0.0,
                        clock=clock, judge=False, collect=False)
    if quick:
        return Settings(rounds=9, min_rounds=3, min_sample=0.002, budget=1.0, long_rounds=1, clock=clock)
    return Settings(clock=clock)


def environment(use_torch: bool) -> str:
    versions = f"Python {platform.python_version()}, NumPy {np.__version__}, symgrad " \
               f"{getattr(symgrad, '__version__', 'dev')}"
    return versions + (f", PyTorch {torch.__version__}" if use_torch else " (PyTorch not timed)")


def main(argv: list[str] | None = None) -> int:
    """Time both tables, print them with a PASS/FAIL per target, optionally write JSON."""
    opts = parse(argv)
    use_torch = torch is not None and not opts.no_torch
    if use_torch:
        torch.set_num_threads(1)
    clock = opts.settings.clock
    print(environment(use_torch) + f"; 1 thread, {opts.clock} clock, GC on")
    data: dict[str, Any] = {"environment": environment(use_torch), "clock": opts.clock,
                            "quick": opts.quick, "tiny": opts.tiny}
    if opts.only in (None, "ops"):
        print(f"\nops: one eager op on 16 float32 values; µs per call, median of {opts.repeat}")
        ops = op_table(use_torch, opts.repeat, opts.target_ms / 1e3, clock)
        print(format_op_table(ops))
        data["ops"] = ops
    if opts.only in (None, "programs"):
        print("\nprograms: the same PyTorch-style code on both libraries; time per call (median); "
              "ratio: median over interleaved rounds")
        rows = program_table(use_torch, opts.settings, opts.tiny)
        print(format_program_table(rows))
        print()
        for r in rows:
            if r.met is not None:
                got = _fmt_s(r.seconds["symgrad"]) if r.base == "s" else f"{r.ratio:.2f}× {r.base}"
                print(f"{verdict(r)}  {r.work}: {got}, target {_fmt_target(r)}")
        if opts.tiny:
            print("(--tiny: small programs, one round; results checked, targets not judged)")
        data["programs"] = [asdict(r) for r in rows]
    if opts.only in (None, "others"):
        print("\nothers: PyTorch-style programs as other people write them, checked against PyTorch")
        if use_torch:
            rows = [time_program(p, True, opts.settings) for p in others(True)]
            print(format_program_table(rows))
            data["others"] = [asdict(r) for r in rows]
        else:
            print("(PyTorch is not installed: left out)")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(data, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
