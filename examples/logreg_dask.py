"""Logistic regression on more rows than fit in memory: a compiled gradient on Dask arrays.

The data, 10^7 rows of 100 float64 features (8 GB) and their 0/1 labels, is never held
whole: it is a lazy `dask.array`, generated chunk by chunk by `dask.array.random` wherever
a worker needs a chunk (reading chunks from disk would take its place in real use). The loss,
mean binary cross-entropy with logits plus an L2 term, is written with NumPy functions;
`symgrad.value_and_grad(loss, compute=True)` traces it once, sees Dask arguments and
generates its value and gradient against the arrays' own namespace (the array API back
end), so each step is one pass over the chunks on a `dask.distributed.LocalCluster`:

    def value_and_grad_loss(w, X, y):
        xp = array_namespace(w, X, y)
        a = X @ w
        b = xp.logaddexp(0.0, a)
        ...
        l = sigmoid(a)
        ...
        o = n @ X
        grad_w = k + o
        return (value, grad_w)

The script checks that gradient against the NumPy back end's on one chunk's rows, runs a
few gradient-descent steps on 1 and then on 2 worker processes (one thread each), and
prints the throughput in rows a second (and the CPU time the workers spent: on a machine
shared with other work, wall-clock throughput says little) and each worker's peak memory
(its own peak resident set, `getrusage` in the worker, less its resident memory before the
first step) against the chunk size and the size of the data: the peak is a few chunks,
whatever the number of rows.

    python examples/logreg_dask.py                      # 10^7 rows, chunks of 100 000
    python examples/logreg_dask.py --rows 20000 --chunk 5000 --steps 2
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np

import symgrad

MB = 2**20
L2 = 1e-3


def loss(w, X, y):
    """Mean binary cross-entropy of the logits X @ w against the labels y, plus L2 / 2 |w|^2."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * L2 * np.sum(w * w)


def make_data(rows: int, cols: int, chunk: int, seed: int = 0):
    """Lazy features, uniform in [-1, 1), and labels drawn from a known logistic model."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(rows, cols), chunks=(chunk, cols))
    w_true = np.linspace(-2.0, 2.0, cols)
    p = 1.0 / (1.0 + da.exp(-(X @ w_true)))
    y = (rng.random(rows, chunks=chunk) < p).astype(np.float64)
    return X, y


def check_against_numpy(value_and_grad, w, X, y, rows: int) -> float:
    """The largest relative difference between the Dask and NumPy gradients on `rows` rows."""
    X_sub, y_sub = X[:rows], y[:rows]
    _, g_dask = value_and_grad(w, X_sub, y_sub)
    _, g_numpy = symgrad.value_and_grad(loss)(w, X_sub.compute(), y_sub.compute())
    return float(np.max(np.abs(g_dask - g_numpy) / np.abs(g_numpy)))


def _rss_now() -> int:
    """A worker's resident memory once the modules a step uses are imported."""
    import dask.array  # noqa: F401
    import psutil

    return psutil.Process().memory_info().rss


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KB


def train(workers: int, X, y, steps: int, lr: float) -> dict:
    """`steps` gradient-descent steps on a fresh cluster of `workers` processes."""
    from dask.distributed import Client, LocalCluster

    value_and_grad = symgrad.value_and_grad(loss, compute=True)
    w = np.zeros(X.shape[1])
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        baseline = client.run(_rss_now)
        cpu = client.run(time.process_time)
        losses = []
        start = time.perf_counter()
        for _ in range(steps):
            value, g = value_and_grad(w, X, y)
            losses.append(float(value))
            w = w - lr * g
        elapsed = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values()) - sum(cpu.values())
        peak = client.run(_rss_peak)
    return {"w": w, "losses": losses, "elapsed": elapsed, "cpu": cpu, "baseline": baseline, "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per chunk")
    parser.add_argument("--steps", type=int, default=3, help="gradient-descent steps per cluster")
    parser.add_argument("--lr", type=float, default=4.0)
    args = parser.parse_args()

    X, y = make_data(args.rows, args.cols, args.chunk)
    data_mb = (X.nbytes + y.nbytes) / MB
    chunk_mb = args.chunk * args.cols * 8 / MB
    print(f"data: {args.rows} x {args.cols} float64 = {data_mb:.0f} MB, lazy, in {X.numblocks[0]} chunks "
          f"of {args.chunk} rows ({chunk_mb:.1f} MB each)")

    w0, rows = np.linspace(-0.5, 0.5, args.cols), min(args.chunk, args.rows)
    rel = check_against_numpy(symgrad.value_and_grad(loss, compute=True), w0, X, y, rows)
    print(f"gradient on {rows} rows vs the NumPy back end: max relative difference {rel:.1e}")
    assert rel < 1e-12, rel

    results = {}
    for workers in (1, 2):
        r = results[workers] = train(workers, X, y, args.steps, args.lr)
        rate = args.rows * args.steps / r["elapsed"]
        print(f"{workers} worker(s): {args.steps} steps in {r['elapsed']:.1f} s, {rate:,.0f} rows/s "
              f"({r['cpu']:.1f} s of worker CPU); loss {' -> '.join(f'{v:.4f}' for v in r['losses'])}")
        for address in sorted(r["peak"]):
            peak, base = r["peak"][address] / MB, r["baseline"][address] / MB
            print(f"    worker peak memory {peak:.0f} MB (at start {base:.0f} MB): {peak - base:.0f} MB of "
                  f"work = {(peak - base) / chunk_mb:.1f} chunks, {100 * peak / data_mb:.1f}% of the data")
    speedup = results[1]["elapsed"] / results[2]["elapsed"]
    print(f"2 workers vs 1: {speedup:.2f}x the throughput")
    assert np.allclose(results[1]["w"], results[2]["w"], rtol=1e-9), "1 and 2 workers disagree"
    assert results[1]["losses"][-1] < results[1]["losses"][0], "the loss did not fall"


if __name__ == "__main__":
    main()
