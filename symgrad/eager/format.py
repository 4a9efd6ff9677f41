"""Tensor printing in PyTorch's format (a port of the parts of `torch._tensor_str` we need)."""

from __future__ import annotations

import math

import numpy as np

PRECISION, LINEWIDTH, THRESHOLD, EDGEITEMS = 4, 80, 1000, 3


class _Formatter:
    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            self.width = max([len(str(v)) for v in flat.tolist()] or [1])
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return
        absval = np.abs(finite)
        lo, hi = absval.min(), absval.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        for v in finite.tolist():
            if self.sci_mode:
                text = f"{v:.{PRECISION}e}"
            elif self.int_mode:
                text = f"{v:.0f}."
            else:
                text = f"{v:.{PRECISION}f}"
            self.width = max(self.width, len(text))

    def format(self, v: float) -> str:
        if not self.floating:
            text = str(v)
        elif self.sci_mode:
            text = f"{v:{self.width}.{PRECISION}e}"
        elif self.int_mode:
            text = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            text = f"{v:.{PRECISION}f}"
        return " " * (self.width - len(text)) + text


def _vector(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, math.floor((LINEWIDTH - indent) / (fmt.width + 2)))
    if summarize and values.shape[0] > 2 * EDGEITEMS:
        data = ([fmt.format(v) for v in values[:EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(v) for v in values[-EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    rows = range(values.shape[0])
    if summarize and values.shape[0] > 2 * EDGEITEMS:
        parts = ([_nested(values[i], indent + 1, summarize, fmt) for i in rows[:EDGEITEMS]]
                 + ["..."]
                 + [_nested(values[i], indent + 1, summarize, fmt) for i in rows[-EDGEITEMS:]])
    else:
        parts = [_nested(values[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _edges(values: np.ndarray) -> np.ndarray:
    """The values a summarized print shows, which alone size its columns."""
    n = values.shape[0]
    rows = list(range(n)) if n <= 2 * EDGEITEMS else [*range(EDGEITEMS), *range(n - EDGEITEMS, n)]
    if values.ndim == 1:
        return values[rows]
    return np.concatenate([_edges(values[i]) for i in rows])


def tensor_repr(values: np.ndarray, suffixes: list[str], default_dtype: np.dtype) -> str:
    """`tensor([...], ...)` exactly as PyTorch prints it."""
    prefix = "tensor("
    summarize = values.size > THRESHOLD
    if values.size == 0:
        body = "[]"
        suffixes = [f"size={tuple(values.shape)}"] * (values.ndim != 1) + suffixes
    else:
        fmt = _Formatter(_edges(values) if summarize else values)
        body = _nested(values, len(prefix), summarize, fmt)
    implicit = {np.dtype(default_dtype), np.dtype(np.int64), np.dtype(np.bool_)}
    if values.dtype not in implicit:
        suffixes = [f"dtype=symgrad.{values.dtype.name}"] + suffixes
    text = prefix + body
    width = len(text) - text.rfind("\n") + 1  # PyTorch's count, quirk included
    for s in suffixes:
        # as PyTorch: a suffix that would pass the line width goes on a line of its own
        if width + len(s) + 2 > LINEWIDTH:
            text += ",\n" + " " * len(prefix) + s
            width = len(prefix) + len(s)
        else:
            text += ", " + s
            width += len(s) + 2
    return text + ")"
