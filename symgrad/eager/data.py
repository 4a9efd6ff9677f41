"""What a tensor may be made of, checked as PyTorch checks it: numbers (bool, int, float),
nested sequences of them with a regular shape, and numeric arrays or tensors.

NumPy makes an array of anything (strings, None, dicts, ragged lists as objects); a tensor
must not hold those. `array_of` builds the array NumPy's fast way and, only when the result
is not numeric, walks the data to raise the error PyTorch raises (its type, and a message
naming the function, what was expected and what was given). symgrad's dtypes are real:
complex numbers are refused with a TypeError where PyTorch would make a complex tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops import Value

_NUMERIC = "biuf"
_INT64 = np.iinfo(np.int64)
_EXPECTED = "a number, a sequence of numbers or a numeric array"


def check_array_dtype(dtype: np.dtype, fn: str) -> None:
    """Refuse an array whose dtype no tensor has (strings, objects, dates, complex)."""
    if dtype.kind in _NUMERIC and not (dtype.kind == "f" and dtype.itemsize > 8):
        return
    if dtype.kind == "c":
        raise TypeError(f"{fn}(): complex dtypes are not supported (symgrad's dtypes are real), "
                        f"got an array of {dtype}")
    raise TypeError(f"{fn}(): can't convert an array of dtype {dtype} ({dtype.type.__name__}); "
                    "expected bool, integer or float16/32/64 data")


def array_of(data: Any, fn: str, floating: bool = False) -> np.ndarray:
    """`data` as a numeric array (not copied if it already is one); raises as PyTorch does.
    With `floating` (a float dtype was asked for), ints past int64 are taken as floats."""
    if isinstance(data, Value._default):
        return data._data
    if isinstance(data, (np.ndarray, np.generic)):
        values = np.asarray(data)
        check_array_dtype(values.dtype, fn)
        return values
    try:
        values = np.array(data)
    except RuntimeError:  # tensors that require grad in a list: their values are copied
        values = np.array(_values(data))
    except (ValueError, TypeError):  # ragged, or a mix NumPy cannot hold
        _check(data, fn)
        raise
    if values.dtype.kind in "ib" or values.dtype.kind == "f" and not _maybe_big(data, values):
        return values
    floating = _check(data, fn, floating)
    if values.dtype.kind in "uf" or floating:  # ints past int64 among floats become floats
        return np.array(data, dtype=np.float64) if floating else values
    check_array_dtype(values.dtype, fn)
    return values


def _maybe_big(data: Any, values: np.ndarray) -> bool:
    """Whether NumPy may have made floats of Python ints past int64 ([1, 2**63] is float64)."""
    return isinstance(data, (list, tuple)) and values.size > 0 and \
        bool(np.nanmax(np.abs(values), initial=0.0) >= 2.0 ** 63)


def _values(data: Any) -> Any:
    """Nested lists of tensors as nested lists of their arrays."""
    if isinstance(data, Value._default):
        return data._data
    return [_values(d) for d in data] if isinstance(data, (list, tuple)) else data


def _is_sequence(obj: Any) -> bool:
    return isinstance(obj, (list, tuple, range))


def _check(data: Any, fn: str, floating: bool = False) -> bool:
    """Walk `data` as PyTorch does: the shape from the first elements, then every element a
    number of the right nesting. Raises what PyTorch raises; returns whether a float is
    present (which makes Python ints past int64 acceptable, as floats)."""
    sizes: list[int] = []
    first = data
    while _is_sequence(first) and len(first):
        sizes.append(len(first))
        first = first[0]
    if _is_sequence(first):
        sizes.append(0)
    elif isinstance(first, (Value._default, np.ndarray)):
        sizes.extend(np.shape(first))
    elif sizes and isinstance(first, (str, bytes)):
        raise ValueError(f"{fn}(): expected {_EXPECTED}, got a sequence of "
                         f"{type(first).__name__} ({first!r})")
    found: dict[str, Any] = {}
    _walk(data, sizes, 0, fn, found)
    if floating:
        found["float"] = True
    if "big" in found and "float" not in found:
        raise ValueError(f"{fn}(): the integer {found['big']} does not fit in int64 (Overflow when "
                         "unpacking long long); give a float or dtype=float64")
    return "float" in found and "big" in found


def _walk(obj: Any, sizes: Sequence[int], depth: int, fn: str, found: dict) -> None:
    if depth < len(sizes):
        if isinstance(obj, (Value._default, np.ndarray)):
            if tuple(np.shape(obj)) != tuple(sizes[depth:]):
                raise ValueError(f"{fn}(): expected an array of shape {tuple(sizes[depth:])} at "
                                 f"dim {depth}, got shape {tuple(np.shape(obj))}")
            _leaf(obj, fn, found)
            return
        if not _is_sequence(obj):
            raise TypeError(f"{fn}(): a ragged nested sequence: expected a sequence of length "
                            f"{sizes[depth]} at dim {depth}, got {type(obj).__name__} {obj!r}")
        if len(obj) != sizes[depth]:
            raise ValueError(f"{fn}(): a ragged nested sequence: expected sequence of length "
                             f"{sizes[depth]} at dim {depth} (got {len(obj)})")
        for item in obj:
            _walk(item, sizes, depth + 1, fn, found)
        return
    _leaf(obj, fn, found)


def _leaf(obj: Any, fn: str, found: dict) -> None:
    """One element where a number belongs."""
    if isinstance(obj, (bool, np.bool_)):
        return
    if isinstance(obj, int):
        if not _INT64.min <= obj <= _INT64.max:
            found.setdefault("big", obj)
        return
    if isinstance(obj, (float, np.floating)):
        found["float"] = True
        return
    if isinstance(obj, complex):
        raise TypeError(f"{fn}(): complex numbers are not supported (symgrad's dtypes are real), "
                        f"got {obj!r}")
    if isinstance(obj, (Value._default, np.ndarray, np.generic)):
        check_array_dtype(np.asarray(obj._data if isinstance(obj, Value._default) else obj).dtype, fn)
        return
    if isinstance(obj, (str, bytes)):
        raise TypeError(f"{fn}(): expected {_EXPECTED}, got {type(obj).__name__} {obj!r}")
    if _is_sequence(obj):
        raise TypeError(f"{fn}(): a ragged nested sequence: expected a number, got "
                        f"{type(obj).__name__} {obj!r}")
    raise RuntimeError(f"{fn}(): could not infer dtype of {type(obj).__name__}: expected "
                       f"{_EXPECTED}")


def number(value: Any, fn: str, what: str) -> Any:
    """A scalar argument as PyTorch takes it: a bool, int, float, NumPy number or one-element
    tensor, as a Python number (complex refused: symgrad's dtypes are real)."""
    if isinstance(value, Value._default):
        if value._data.size != 1:
            raise TypeError(f"{fn}(): argument '{what}' must be a number, not a Tensor of "
                            f"{value._data.size} elements")
        value = value._data.reshape(()).item()
    if isinstance(value, np.generic):
        check_array_dtype(value.dtype, fn)
        value = value.item()
    if isinstance(value, complex):
        raise TypeError(f"{fn}(): argument '{what}': complex numbers are not supported (symgrad's "
                        f"dtypes are real), got {value!r}")
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{fn}(): argument '{what}' must be a number, not {type(value).__name__} "
                        f"{value!r}")
    return value


def fits(value: Any, dtype: np.dtype, fn: str) -> None:
    """A Python int written into a tensor must fit in int64 (ValueError, as PyTorch's 'Overflow
    when unpacking long long'), whatever the tensor's dtype; a float overflows to inf. Into an
    integer tensor, a Python number must also fit its dtype (RuntimeError, see `convertible`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or dtype.kind == "b":
        return
    if isinstance(value, int) and not _INT64.min <= value <= _INT64.max:
        raise ValueError(f"{fn}(): the integer {value} does not fit in int64 (Overflow when "
                         "unpacking long long)")
    convertible(np.asarray(value), dtype, fn)


def convertible(values: np.ndarray, dtype: np.dtype, fn: str) -> None:
    """Python numbers going into an integer tensor must fit its dtype, as PyTorch checks
    (RuntimeError): a float must be finite and within range, an int within range (an unsigned
    dtype also takes down to -max, which wraps). NumPy arrays are cast unchecked, as there."""
    if dtype.kind not in "iu" or values.dtype.kind not in "iuf" or not values.size:
        return
    info = np.iinfo(dtype)
    low = -int(info.max) if dtype.kind == "u" and values.dtype.kind in "iu" else int(info.min)
    with np.errstate(invalid="ignore"):
        bad = ~((values >= low) & (values <= int(info.max)))
    if bad.any():
        raise RuntimeError(f"{fn}(): value {values[bad].flat[0].item()!r} cannot be converted to type "
                           f"{dtype} without overflow")
