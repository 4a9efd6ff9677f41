"""Forward mode by transposing reverse mode: no JVP rule is written for any op.

The pullback g(u) = J^T u of a function at x is linear in the cotangent u, so its own
reverse pass from g back to u, seeded with a tangent v, gives (J^T)^T v = J v. `pushforward`
adds that second pass to the graph with u a dummy value (zeros, never read once the pass is
built); the simplifier then folds away what only the dummy fed, leaving the JVP. Seeded with
a batched identity (the Jacobian machinery of `batching.jacobian_rows`), the same second pass
gives every column of the Jacobian at once: `jacobian_columns`, forward mode's Jacobian.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symgrad.autodiff.batching import jacobian_rows
from symgrad.autodiff.reverse import backprop
from symgrad.ops import OPS, apply
from symgrad.tracing.tracer import Tracer


def _dummy(out: Tracer) -> Tracer:
    """A fresh cotangent for `out`: a node of its own (an alias of a new zeros array), so
    that the reverse pass is a function of it and can be transposed."""
    return apply(OPS["alias"], out._constant(np.zeros(out.shape, out.dtype)))


def _pullbacks(out: Tracer, wrt: Sequence[Tracer]) -> tuple[Tracer, list[Tracer | None]]:
    """The dummy cotangent u of `out` and J^T u for each of `wrt` (None where `out` does not
    depend on it)."""
    u = _dummy(out)
    return u, backprop(out.graph, out.node, [w.node for w in wrt], u)


def _differentiable(out: Tracer) -> bool:
    return np.dtype(out.dtype).kind == "f"


def pushforward(outs: Sequence[Tracer], wrt: Sequence[Tracer], tangents: Sequence[Tracer]) -> list[Tracer]:
    """J v for each output: the sum over the inputs of d(J_i^T u)/du applied to v_i, one
    transposed reverse pass per (output, input) pair. An output that does not depend on the
    inputs (or is not a float) gets zeros."""
    result = []
    for out in outs:
        if not _differentiable(out):
            result.append(out.zeros_like())
            continue
        u, pulled = _pullbacks(out, wrt)
        total = None
        for g, v in zip(pulled, tangents):
            if g is None:
                continue
            (jv,) = backprop(out.graph, g.node, [u.node], v.astype(g.dtype))
            if jv is not None:
                total = jv if total is None else total + jv
        result.append(out.zeros_like() if total is None else total)
    return result


def jacobian_columns(out: Tracer, wrt: Sequence[Tracer]) -> list[Tracer]:
    """d out / d w for each of `wrt`, shaped out.shape + w.shape: the transposed reverse pass
    seeded with each input's identity tangents, batched (forward mode's Jacobian)."""
    zeros = [w.zeros_like().broadcast_to((*out.shape, *w.shape)) for w in wrt]
    if not _differentiable(out):
        return zeros
    u, pulled = _pullbacks(out, wrt)
    columns = []
    for g, w, zero in zip(pulled, wrt, zeros):
        if g is None:
            columns.append(zero.astype(out.dtype))
            continue
        (rows,) = jacobian_rows(g, [u])  # shaped w.shape + out.shape: J^T
        nw, no = len(w.shape), len(out.shape)
        columns.append(rows.transpose(*range(nw, nw + no), *range(nw)) if nw and no else rows)
    return columns
