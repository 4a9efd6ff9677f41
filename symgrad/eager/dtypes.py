"""The dtypes tensors use, with PyTorch's names, and the default floating dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)
_default_dtype = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(dtype: Any) -> None:
    """Make `dtype` (float32 or float64) the dtype of tensors made from Python floats."""
    dt = np.dtype(dtype)
    if dt not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {dt}")
    _default_dtype[0] = dt
