"""The dtypes tensors use, with PyTorch's names, and the default floating dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
_default_dtype = [float32]


def dtype_arg(dtype: Any, fn: str) -> np.dtype | None:
    """A `dtype=` argument as PyTorch takes it: None, a symgrad dtype, or Python's `bool`,
    `int`, `float` (NumPy's scalar types too, as symgrad's dtypes are NumPy's). A string or
    anything else is a TypeError, as in PyTorch; so is a complex dtype (symgrad's are real)."""
    if dtype is None:
        return None
    if not (isinstance(dtype, np.dtype) or dtype in (bool, int, float)
            or isinstance(dtype, type) and issubclass(dtype, np.generic)):
        raise TypeError(f"{fn}(): argument 'dtype' must be a dtype (symgrad.float32, symgrad.int64, "
                        f"...), not {type(dtype).__name__} {dtype!r}")
    dt = np.dtype(dtype)
    if dt.kind not in "biuf" or dt.itemsize > 8:
        raise TypeError(f"{fn}(): dtype {dt} is not supported: symgrad's dtypes are bool, integers "
                        "and float16/32/64")
    return dt


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(dtype: Any) -> None:
    """Make `dtype` (float32 or float64) the dtype of tensors made from Python floats."""
    dt = np.dtype(dtype)
    if dt not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {dt}")
    _default_dtype[0] = dt


class finfo:  # noqa: N801 - PyTorch's name
    """The limits of a floating dtype (default: the default dtype), as Python floats:
    `eps`, `max`, `min`, `tiny` (= `smallest_normal`), `resolution`, `bits`."""

    def __init__(self, dtype: Any = None) -> None:
        dt = get_default_dtype() if dtype is None else np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to "
                            "handle 'torch.finfo'")
        info = np.finfo(dt)
        self.bits, self.dtype = info.bits, dt.name
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """The limits of an integer dtype, as Python ints: `min`, `max`, `bits`."""

    def __init__(self, dtype: Any) -> None:
        dt = np.dtype(dtype)
        if dt.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                            "'torch.iinfo'")
        info = np.iinfo(dt)
        self.bits, self.dtype, self.min, self.max = info.bits, dt.name, int(info.min), int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


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
