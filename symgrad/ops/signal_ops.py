"""`searchsorted`: where values fall among sorted ones, the one primitive NumPy's signal
functions need (`np.interp` gathers at its indices). It has no gradient: its result is an
integer index, piecewise constant in both inputs. The functions users call
(`np.searchsorted`, `np.interp`...) are in `symgrad.surface.signal`."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops.batching import NotBatchable
from symgrad.ops.core import ShapeError, defop
from symgrad.ops.dispatch import apply


def _shape(a: tuple, v: tuple, *, side: str) -> tuple:
    if len(a) != 1:
        raise ShapeError(f"the sorted sequence must be 1-d, got shape {a}")
    return v


def _batch(op: Any, args: tuple, batched: tuple[bool, ...], params: dict, size: int) -> Any:
    """Values of any shape search one sequence: a batch of values is more values. A batch of
    sequences is not one search (the caller then searches each example)."""
    if batched[0]:
        raise NotBatchable("searchsorted over a batch of sorted sequences")
    return apply(op, *args, **params)


SEARCHSORTED = defop(
    "searchsorted", "np.searchsorted({x}, {y}, side={side})", shape=_shape, batch=_batch,
    dtype=lambda inputs, params: np.dtype(np.intp), vjps=(None, None),
    doc="Indices at which values would be inserted into a sorted 1-d sequence to keep it sorted.",
)
