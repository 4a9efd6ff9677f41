"""Creating tensors, as PyTorch does: `tensor`, `ones`, `zeros`, `randn`, `arange`, `*_like`...

Sizes are given as `ones(5, 3)` or `ones((5, 3))`; Python floats take the default dtype
(float32 unless `set_default_dtype` changed it); NumPy data keeps its dtype. `device=` is
accepted for the CPU only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager.dtypes import get_default_dtype, int64, legacy_type_name
from symgrad.eager.tensor import Tensor
from symgrad.eager.tensor import device as _device
from symgrad.surface import Surface

_rng = [np.random.default_rng()]


def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn` and `rand`."""
    _rng[0] = np.random.default_rng(seed)


def _dtype_for(source: Any, data: np.ndarray, dtype: Any) -> np.dtype:
    """PyTorch's inference: NumPy data keeps its dtype; Python floats take the default."""
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(source, (np.ndarray, np.generic, Tensor)):
        return data.dtype
    if data.dtype.kind == "f":
        return get_default_dtype()
    if data.dtype.kind in "iu":
        return int64
    return data.dtype


def _on(device: Any) -> None:
    """Accept `device=` naming the CPU (or None); any other device raises, naming it."""
    if device is not None:
        _device(device)


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        size = tuple(size[0])
    return tuple(int(n) for n in size)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of `data` (floats become the default dtype)."""
    _on(device)
    try:
        values = np.array(data._data if isinstance(data, Tensor) else data)
    except RuntimeError:  # tensors that require grad in a list: torch copies their values
        values = np.array(_values(data))
    return Tensor(values.astype(_dtype_for(data, values, dtype)), requires_grad=requires_grad)


def _values(data: Any) -> Any:
    """Nested lists of tensors as nested lists of their arrays."""
    if isinstance(data, Tensor):
        return data._data
    return [_values(d) for d in data] if isinstance(data, (list, tuple)) else data


def _filled(fill: Callable[[tuple, np.dtype], np.ndarray], size: tuple, dtype: Any,
            requires_grad: bool, device: Any = None) -> Tensor:
    _on(device)
    dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return Tensor(fill(_size(size), dt), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(np.ones, size, dtype, requires_grad, device)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(np.zeros, size, dtype, requires_grad, device)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples of the given size (seeded by `manual_seed`)."""
    return _filled(lambda s, dt: _rng[0].standard_normal(s).astype(dt), size, dtype, requires_grad, device)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The n x m identity matrix."""
    return _filled(lambda s, dt: np.eye(*s, dtype=dt), (n, n if m is None else m), dtype,
                   requires_grad, device)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Ones with the shape and dtype of `t`; no history (a traced value gives a graph node)."""
    _on(device)
    return _like(t, np.ones, dtype, requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Zeros with the shape and dtype of `t`; no history (a traced value gives a graph node)."""
    _on(device)
    return _like(t, np.zeros, dtype, requires_grad)


def _like(t: Any, fill: Callable, dtype: Any, requires_grad: bool) -> Any:
    if isinstance(t, Surface) and not isinstance(t, Tensor):
        return getattr(t, fill.__name__ + "_like")()
    dt = np.dtype(dtype) if dtype is not None else getattr(t, "dtype", get_default_dtype())
    return Tensor(fill(np.shape(t), dt), requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """A tensor of `size` filled with `fill_value` (its dtype inferred as PyTorch does)."""
    if dtype is None:
        dtype = _dtype_for(fill_value, np.asarray(fill_value), None)
    return _filled(lambda s, dt: np.full(s, fill_value, dt), (size,), dtype, requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """An uninitialised tensor (zeros here: NumPy gives no cheaper safe choice)."""
    return _filled(np.zeros, size, dtype, requires_grad, device)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1) of the given size (seeded by `manual_seed`)."""
    return _filled(lambda s, dt: _rng[0].random(s).astype(dt), size, dtype, requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """start, start + step, ... below end: int64 for integer arguments, else the default float."""
    _on(device)
    start, end = (0, start) if end is None else (start, end)
    values = np.arange(start, end, step)
    return Tensor(values.astype(_dtype_for([start, end, step], values, dtype)),
                  requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    _on(device)
    return Tensor(np.linspace(start, end, steps).astype(np.dtype(dtype or get_default_dtype())),
                  requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` as a tensor, sharing memory with a NumPy array (or Tensor) when the dtype fits."""
    _on(device)
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._make(array)


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """`fill_value` with the shape (and dtype) of `t`."""
    return full(np.shape(t), fill_value, dtype or _dtype_of(t), requires_grad, device)


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return zeros_like(t, dtype, requires_grad, device)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return rand(np.shape(t), dtype=dtype or _dtype_of(t), requires_grad=requires_grad, device=device)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return randn(np.shape(t), dtype=dtype or _dtype_of(t), requires_grad=requires_grad, device=device)


def _dtype_of(t: Any) -> np.dtype:
    return t.dtype if hasattr(t, "dtype") else get_default_dtype()


# ---------------------------------------------------------------- Tensor methods that create
# They live here, with the functions they call (tensor.py cannot import this module).

def _dtype_or(t: Tensor, dtype: Any) -> Any:
    return t.dtype if dtype is None else dtype


def new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """`symgrad.tensor(data)` with this tensor's dtype unless `dtype` is given."""
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()."
            "clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
    return tensor(data, _dtype_or(self, dtype), requires_grad, device)


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Zeros of `size`, with this tensor's dtype unless `dtype` is given."""
    return zeros(*size, dtype=_dtype_or(self, dtype), requires_grad=requires_grad, device=device)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """Ones of `size`, with this tensor's dtype unless `dtype` is given."""
    return ones(*size, dtype=_dtype_or(self, dtype), requires_grad=requires_grad, device=device)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of `size`, with this tensor's dtype unless `dtype` is given."""
    return empty(*size, dtype=_dtype_or(self, dtype), requires_grad=requires_grad, device=device)


def new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`fill_value` in `size`, with this tensor's dtype unless `dtype` is given."""
    return full(size, fill_value, _dtype_or(self, dtype), requires_grad, device)


def _floating(t: Tensor, kernel: str) -> None:
    """torch's refusal of a random fill that has no integer kernel."""
    if t.dtype.kind not in "fc":
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{legacy_type_name(t.dtype)[6:-6]}'")


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0) -> Tensor:
    """Fill in place with uniform samples on [from_, to) (seeded by `manual_seed`)."""
    _floating(self, "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    return self._refill(_rng[0].uniform(from_, to, self.shape), "UniformBackward0")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill in place with normal samples of `mean` and `std` (seeded by `manual_seed`)."""
    _floating(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return self._refill(_rng[0].normal(mean, std, self.shape), "NormalBackward0")


def bernoulli_(self: Tensor, p: float | Tensor = 0.5) -> Tensor:
    """Fill in place with 1 with probability `p` (a number, or a tensor broadcast to this
    shape), else 0."""
    probs = p.detach().numpy() if isinstance(p, Tensor) else np.asarray(p)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    draws = _rng[0].random(self.shape) < probs
    return self._refill(draws, "BernoulliBackward1" if isinstance(p, Tensor) else "BernoulliBackward2")


for _method in (new_tensor, new_zeros, new_ones, new_empty, new_full, uniform_, normal_, bernoulli_):
    setattr(Tensor, _method.__name__, _method)
