"""Per-op eager overhead: symgrad on a 16-element float32 tensor against NumPy's own call.

With 16 elements the arithmetic is free, so what is timed is the fixed cost of one eager
op: argument lifting, dtype promotion, dispatch, and (with `requires_grad=True`) recording
a graph node. Each op runs on NumPy arrays (the floor), on symgrad tensors without and
with `requires_grad`, and on PyTorch tensors the same two ways when torch is importable.

Times are per call in microseconds: `timeit.repeat` with the loop count set so one repeat
lasts a few milliseconds, then the median over the repeats of (repeat time / loop count).
The garbage collector stays on while timing (timeit turns it off by default), so a cost
that only the cycle collector pays still counts. BLAS and OpenMP are held to one thread.
Every case's result is checked against NumPy's before it is timed.

    python benchmarks/eager_overhead.py [--repeat 25] [--target-ms 4] [--no-torch]
"""

import os

# before NumPy (and PyTorch) start their thread pools: one thread, as the ops are tiny
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import timeit  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import symgrad  # noqa: E402

try:
    import torch
except Exception:  # not installed, or broken: the PyTorch columns are left out
    torch = None


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

def per_call_us(fn: Callable[[], Any], repeat: int, target_s: float) -> float:
    """Median over `repeat` runs of the time per call, in microseconds."""
    timer = timeit.Timer(fn, setup="gc.enable()", globals={"gc": __import__("gc")})
    number, elapsed = 1, 0.0
    while True:  # like Timer.autorange, but aiming at target_s
        elapsed = timer.timeit(number)
        if elapsed >= target_s:
            break
        number = max(number * 2, int(number * target_s / max(elapsed, 1e-9) * 1.1))
    times = timer.repeat(repeat=repeat, number=number)
    return statistics.median(times) / number * 1e6


def _as_numpy(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_as_numpy(v) for v in value)
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, symgrad.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _check(name: str, got: Any, expected: Any) -> None:
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple)
                    else (expected,)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"{name}: wrong result")


def _leaves(lib: Any, arrays: dict[str, np.ndarray], requires_grad: bool) -> dict[str, Any]:
    return {k: lib.tensor(v.copy(), requires_grad=requires_grad) for k, v in arrays.items()}


def run_case(name: str, lib: Any, arrays: dict, requires_grad: bool, repeat: int,
             target_s: float) -> float | None:
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
    return per_call_us(lambda: fn(**args), repeat, target_s)


# ---------------------------------------------------------------- table

COLUMNS = ["op", "numpy µs", "symgrad µs", "×np", "+grad µs", "×np"]
TORCH_COLUMNS = ["torch µs", "×np", "torch+grad µs", "×np"]


def _fmt_us(t: float | None) -> str:
    return "—" if t is None else f"{t:.2f}" if t < 10 else f"{t:.1f}"


def _fmt_ratio(t: float | None, base: float) -> str:
    return "—" if t is None else f"{t / base:.1f}"


def main(argv: list[str] | None = None) -> list[list[str]]:
    """Time every op, print the table, and return its rows (as printed strings)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=25, help="timed repeats per case (median)")
    parser.add_argument("--target-ms", type=float, default=4.0, help="length of one repeat")
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    args = parser.parse_args(argv)
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(1)
    repeat, target_s = args.repeat, args.target_ms / 1e3

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    arrays = {"x": x, "y": y, "a": x.reshape(4, 4).copy(), "b": y.reshape(4, 4).copy()}

    versions = f"Python {platform.python_version()}, NumPy {np.__version__}, symgrad " \
               f"{getattr(symgrad, '__version__', 'dev')}"
    versions += f", PyTorch {torch.__version__}" if use_torch else " (PyTorch not timed)"
    print(f"eager overhead per op, 16-element float32, 1 thread; µs per call, median of {repeat}")
    print(versions)

    header = COLUMNS + (TORCH_COLUMNS if use_torch else [])
    rows = []
    for name in OPS:
        np_fn = OPS[name][0]
        base = per_call_us(lambda f=np_fn: f(**arrays), repeat, target_s)
        plain = run_case(name, symgrad, arrays, False, repeat, target_s)
        grad = run_case(name, symgrad, arrays, True, repeat, target_s)
        row = [name, _fmt_us(base), _fmt_us(plain), _fmt_ratio(plain, base), _fmt_us(grad),
               _fmt_ratio(grad, base)]
        if use_torch:
            t_plain = run_case(name, torch, arrays, False, repeat, target_s)
            t_grad = run_case(name, torch, arrays, True, repeat, target_s)
            row += [_fmt_us(t_plain), _fmt_ratio(t_plain, base), _fmt_us(t_grad),
                    _fmt_ratio(t_grad, base)]
        rows.append(row)
        print(".", end="", flush=True)
    print()

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return rows


if __name__ == "__main__":
    main()
