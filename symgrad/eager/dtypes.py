"""The dtypes tensors use, with PyTorch's names, and the default floating dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
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


# torch's legacy tensor-type names: `t.type()` is 'torch.FloatTensor'
_LEGACY = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
           "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor", "int32": "IntTensor",
           "int64": "LongTensor", "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
           "complex128": "ComplexDoubleTensor"}


def legacy_type_name(dtype: np.dtype) -> str:
    """'torch.FloatTensor' for float32, as torch's `Tensor.type()` names it."""
    return f"torch.{_LEGACY[np.dtype(dtype).name]}"


def dtype_of_legacy_name(name: str) -> np.dtype:
    """The dtype a legacy name ('torch.DoubleTensor') stands for."""
    for dtype, legacy in _LEGACY.items():
        if name == f"torch.{legacy}":
            return np.dtype(dtype)
    raise ValueError(f"invalid type: '{name}'")
