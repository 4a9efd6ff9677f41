"""Fused composites, timed: symgrad before (another checkout), symgrad now, and PyTorch.

Each workload is a forward and a backward through composites: the autograd tutorial
(`binary_cross_entropy_with_logits` of `x @ w + b`), `F.cross_entropy`, `softmax` and
`log_softmax` on 64x10 logits. Each library runs in its own subprocess (one thread), the
three interleaved round by round; a round's time per workload is the median of its repeats
of `timeit`, and the table shows the median over rounds, with ratios.

    python benchmarks/fused_composites.py --before /work/main [--rounds 5]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parents[1]


def workloads(L: Any) -> dict[str, Callable[[], None]]:
    """name -> one forward and backward in library `L` (symgrad or torch)."""
    F = L.nn.functional
    rng = np.random.default_rng(0)
    w = L.tensor(rng.standard_normal((5, 3)), dtype=L.float32, requires_grad=True)
    b = L.tensor(rng.standard_normal(3), dtype=L.float32, requires_grad=True)
    logits = L.tensor(rng.standard_normal((64, 10)), dtype=L.float32, requires_grad=True)
    labels = L.tensor(rng.integers(0, 10, 64))
    ct = L.tensor(rng.standard_normal((64, 10)), dtype=L.float32)

    def tutorial() -> None:
        x, y = L.ones(5), L.zeros(3)
        z = x @ w + b
        F.binary_cross_entropy_with_logits(z, y).backward()
        w.grad = b.grad = None

    def cross_entropy() -> None:
        F.cross_entropy(logits, labels).backward()
        logits.grad = None

    def softmax() -> None:
        L.softmax(logits, 1).backward(ct)
        logits.grad = None

    def log_softmax() -> None:
        L.log_softmax(logits, 1).backward(ct)
        logits.grad = None

    return {"tutorial": tutorial, "cross_entropy 64x10": cross_entropy, "softmax 64x10": softmax,
            "log_softmax 64x10": log_softmax}


def measure(lib: str, repeat: int) -> dict[str, float]:
    """Median microseconds per call of each workload in `lib`, in this process."""
    if lib == "torch":
        import torch as L
        L.set_num_threads(1)
    else:
        import symgrad as L
    out = {}
    for name, fn in workloads(L).items():
        for _ in range(5):  # warm: a fused signature builds at its second call
            fn()
        number = max(1, int(0.005 / max(timeit.timeit(fn, number=1), 1e-7)))
        times = timeit.repeat(fn, number=number, repeat=repeat)
        out[name] = statistics.median(times) / number * 1e6
    return out


def _child(lib: str, path: str, repeat: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=path)
    cmd = [sys.executable, __file__, "--child", lib, "--repeat", str(repeat)]
    return json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=None, help="a checkout of symgrad to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeat)))
        return
    runs = {"before": args.before, "after": str(HERE), "torch": str(HERE)}
    runs = {k: v for k, v in runs.items() if v is not None}
    rounds: dict[str, list[dict[str, float]]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for label, path in runs.items():
            rounds[label].append(_child("torch" if label == "torch" else "symgrad", path, args.repeat))
    names = list(rounds["after"][0])
    med = {k: {n: statistics.median(r[n] for r in rs) for n in names} for k, rs in rounds.items()}
    cols = [k for k in ("before", "after", "torch") if k in med]
    print("| workload | " + " | ".join(f"{c} (us)" for c in cols) + " | after/before | after/torch |")
    print("|---" * (len(cols) + 3) + "|")
    for n in names:
        cells = " | ".join(f"{med[c][n]:.1f}" for c in cols)
        vs_before = f"{med['after'][n] / med['before'][n]:.2f}x" if "before" in med else "-"
        print(f"| {n} | {cells} | {vs_before} | {med['after'][n] / med['torch'][n]:.2f}x |")


if __name__ == "__main__":
    main()
