"""`np.array([x0, x1])` of traced values stacks them, as it would stack arrays.

NumPy's array constructors cannot be overridden (`__array_function__` does not reach them),
yet collecting values in a list and calling `np.array` is how NumPy code builds an array.
While a trace runs, `numpy.array`, `numpy.asarray` and `numpy.asanyarray` are wrappers: given
traced values (alone, or in nested lists and tuples mixed with numbers and arrays) they stack
them; given anything else they are NumPy's own functions. `np.array(x)` copies a traced
value as it copies an array, so that writing into the copy leaves x alone. Code that bound
a constructor before the trace (`from numpy import array`) is not reached: it gets the
conversion error, whose advice is to use `np.stack`.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from symgrad.ops.shape import stack

NAMES = ("array", "asarray", "asanyarray")
_ORIGINAL: dict[str, Callable] = {name: getattr(np, name) for name in NAMES}
_lock = threading.Lock()
_traces = 0  # traces running, on any thread: the wrappers stay while one does


def _holds(obj: Any, kind: type) -> bool:
    """Whether `obj` is a value of `kind` or a (nested) list or tuple holding one."""
    if isinstance(obj, kind):
        return True
    return isinstance(obj, (list, tuple)) and any(_holds(item, kind) for item in obj)


def _stacked(obj: Any, kind: type) -> Any:
    """Nested lists of values and numbers as one value, stacked level by level."""
    if isinstance(obj, (list, tuple)) and _holds(obj, kind):
        return stack([_stacked(item, kind) for item in obj])
    return obj


def _wrapper(name: str, kind: type) -> Callable:
    original = _ORIGINAL[name]

    @functools.wraps(original)
    def construct(obj: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not _holds(obj, kind):
            return original(obj, dtype, *args, **kwargs)
        value = _stacked(obj, kind)
        if dtype is not None and np.dtype(dtype) != value.dtype:
            return value.astype(dtype)
        copies = _copies(kwargs.get("copy", name == "array"))  # np.array copies by default
        return copy.copy(value) if value is obj and copies else value
    return construct


def _copies(flag: Any) -> bool:
    """Whether `copy=flag` asks for a new array (array-api-compat passes NumPy's `_CopyMode`
    members, of which ALWAYS is the one that copies)."""
    return flag is True or getattr(flag, "name", None) == "ALWAYS"


@contextmanager
def stacking_constructors(kind: type) -> Iterator[None]:
    """While the block runs, NumPy's array constructors stack values of `kind`."""
    global _traces
    with _lock:
        _traces += 1
        if _traces == 1:
            for name in NAMES:
                setattr(np, name, _wrapper(name, kind))
    try:
        yield
    finally:
        with _lock:
            _traces -= 1
            if _traces == 0:
                for name in NAMES:
                    setattr(np, name, _ORIGINAL[name])
