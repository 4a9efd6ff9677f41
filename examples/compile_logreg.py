"""Train a logistic regression twice: on a compiled `value_and_grad`, and in eager mode.

The loss is written once, PyTorch-style (`import symgrad as torch`), and serves both loops:

* compiled: `symgrad.value_and_grad(loss, argnums=(2, 3))` traces it on the first call,
  simplifies the gradient and runs it as generated NumPy code; the loop updates NumPy arrays;
* eager: the same function on tensors with `requires_grad=True`, `loss.backward()` and a
  `torch.no_grad()` update, as a PyTorch user writes it.

Both take the same full-batch gradient-descent steps from the same start, so they end at the
same weights; the script prints each loop's time per step, the compiled one's first call
(trace and code generation) apart, and the ratio. Timings on a busy machine are noisy: the
loops run interleaved in blocks and the medians are compared.

    python examples/compile_logreg.py
"""

import statistics
import time

import numpy as np

import symgrad
import symgrad as torch

F = torch.nn.functional
LAM = 1e-3  # L2 penalty


def loss(X, y, w, b):
    """Mean binary cross-entropy of the logits X @ w + b against labels y, plus an L2 penalty."""
    z = torch.matmul(X, w) + b
    return F.binary_cross_entropy_with_logits(z, y) + LAM * (w * w).sum()


def make_data(n=2000, d=20, seed=0):
    """Features (n, d) and 0/1 labels drawn from a logistic model, float64."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w_true + 0.5)))).astype(np.float64)
    return X, y


def compiled_steps(step, X, y, w, b, steps, lr):
    """`steps` gradient-descent steps on NumPy arrays; returns (w, b, last loss)."""
    for _ in range(steps):
        value, (grad_w, grad_b) = step(X, y, w, b)
        w = w - lr * grad_w
        b = b - lr * grad_b
    return w, b, float(value)


def eager_steps(X, y, w, b, steps, lr):
    """The same steps in eager mode, on tensors that require grad."""
    for _ in range(steps):
        value = loss(X, y, w, b)
        value.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
    return w, b, value.item()


def main(steps=200, blocks=5, lr=0.5, n=2000, d=20):
    """Train both ways, `blocks` interleaved blocks of `steps` steps each; print and return
    (compiled seconds per step, eager seconds per step, largest weight difference)."""
    X, y = make_data(n, d)
    step = symgrad.value_and_grad(loss, argnums=(2, 3))
    w, b = np.zeros(d), np.zeros(())
    start = time.perf_counter()
    step(X, y, w, b)  # the first call traces, simplifies and generates the code
    first = time.perf_counter() - start

    Xt, yt = torch.tensor(X), torch.tensor(y)
    wt = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    bt = torch.zeros((), dtype=torch.float64, requires_grad=True)
    compiled, eager = [], []
    for _ in range(blocks):
        start = time.perf_counter()
        w, b, value = compiled_steps(step, X, y, w, b, steps, lr)
        compiled.append((time.perf_counter() - start) / steps)
        start = time.perf_counter()
        wt, bt, value_t = eager_steps(Xt, yt, wt, bt, steps, lr)
        eager.append((time.perf_counter() - start) / steps)
    fast, slow = statistics.median(compiled), statistics.median(eager)
    diff = float(np.max(np.abs(w - wt.detach().numpy())))
    total = steps * blocks
    print(f"logistic regression, {n} samples x {d} features, {total} full-batch steps each way")
    print(f"compiled value_and_grad: {fast * 1e6:8.1f} us/step   final loss {value:.6f}"
          f"   (first call: {first * 1e3:.1f} ms to trace and generate)")
    print(f"eager mode:              {slow * 1e6:8.1f} us/step   final loss {value_t:.6f}")
    print(f"compiled is {slow / fast:.1f}x faster per step; the weights agree to {diff:.1e}")
    return fast, slow, diff


if __name__ == "__main__":
    main()
