"""Creating tensors, as PyTorch does: `tensor`, `ones`, `zeros`, `randn`, `arange`, `*_like`...

Sizes are given as `ones(5, 3)` or `ones((5, 3))`; Python floats take the default dtype
(float32 unless `set_default_dtype` changed it); NumPy data keeps its dtype. `device=` is
accepted for the CPU only.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager.data import array_of, check_array_dtype, convertible, number
from symgrad.eager.dtypes import dtype_arg, get_default_dtype, int64, legacy_type_name
from symgrad.eager.tensor import Tensor
from symgrad.eager.tensor import device as _device
from symgrad.ops.dispatch import torch_keywords
from symgrad.surface import Surface

_rng = [np.random.default_rng()]


def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn` and `rand`: any value `int()` takes, as in PyTorch
    (a negative seed wraps to 64 bits; a string that is not a number is a ValueError)."""
    _rng[0] = np.random.default_rng(int(seed) % 2 ** 64)


def _dtype_for(source: Any, data: np.ndarray, dtype: Any, fn: str = "tensor") -> np.dtype:
    """PyTorch's inference: NumPy data keeps its dtype; Python floats take the default."""
    if dtype is not None:
        return dtype_arg(dtype, fn)
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


def _flag(requires_grad: Any, fn: str, none_ok: bool = True) -> bool:
    """`requires_grad=` as PyTorch takes it: a bool, or None for False in the factory functions
    (not in `tensor`); a string or a number is a TypeError."""
    if requires_grad is None and none_ok:
        return False
    if not isinstance(requires_grad, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument 'requires_grad' must be bool, not "
                        f"{type(requires_grad).__name__} {requires_grad!r}")
    return bool(requires_grad)


def _int(n: Any, fn: str, what: str) -> int:
    """An int argument as PyTorch takes it: an int, a NumPy integer or a one-element integer
    tensor (not a bool, a float or a string)."""
    if isinstance(n, (bool, np.bool_)) or not hasattr(type(n), "__index__"):
        raise TypeError(f"{fn}(): argument '{what}' must be an int, not {type(n).__name__} {n!r}")
    try:
        return operator.index(n)
    except TypeError as e:  # a float tensor, say
        raise TypeError(f"{fn}(): argument '{what}' must be an int, not {n!r}") from e


def _size(size: tuple, fn: str = "zeros") -> tuple[int, ...]:
    """`(2, 3)` from `size` given as `2, 3` or `(2, 3)`; PyTorch's errors for other things
    (TypeError) and for negative sizes (RuntimeError)."""
    if len(size) == 1 and not hasattr(type(size[0]), "__index__"):
        if not isinstance(size[0], (tuple, list)):
            raise TypeError(f"{fn}(): argument 'size' must be a tuple of ints, not "
                            f"{type(size[0]).__name__} {size[0]!r}")
        size = tuple(size[0])
    shape = tuple(_int(n, fn, "size") for n in size)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{fn}(): Trying to create tensor with negative dimension "
                           f"{min(shape)}: {list(shape)}")
    return shape


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of `data` (floats become the default dtype).

    `data` is a number, a regular nested sequence of numbers, or a numeric array; anything
    else (strings, None, dicts, ragged lists, object arrays, ints past int64, complex
    numbers) raises the error PyTorch raises."""
    _on(device)
    values = array_of(data, "tensor", floating=dtype is not None and dtype_arg(dtype, "tensor").kind == "f")
    dt = _dtype_for(data, values, dtype)
    if not isinstance(data, (np.ndarray, np.generic, Tensor)):
        convertible(values, dt, "tensor")
    return Tensor(values.astype(dt), requires_grad=_flag(requires_grad, "tensor", none_ok=False))


def _filled(fill: Callable[[tuple, np.dtype], np.ndarray], size: tuple, dtype: Any,
            requires_grad: bool, device: Any = None, fn: str = "zeros") -> Tensor:
    _on(device)
    dt = dtype_arg(dtype, fn) if dtype is not None else get_default_dtype()
    return Tensor(fill(_size(size, fn), dt), requires_grad=_flag(requires_grad, fn))


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(np.ones, size, dtype, requires_grad, device, "ones")


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(np.zeros, size, dtype, requires_grad, device, "zeros")


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples of the given size (seeded by `manual_seed`)."""
    _floating_dtype(dtype, "normal_kernel_cpu")
    return _filled(lambda s, dt: _rng[0].standard_normal(s).astype(dt), size, dtype, requires_grad,
                   device, "randn")


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The n x m identity matrix."""
    n = _int(n, "eye", "n")
    m = n if m is None else _int(m, "eye", "m")
    for name, k in (("n", n), ("m", m)):
        if k < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {k}")
    return _filled(lambda s, dt: np.eye(*s, dtype=dt), (n, m), dtype, requires_grad, device, "eye")


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Ones with the shape and dtype of `t`; no history (a traced value gives a graph node)."""
    _on(device)
    return _like(t, np.ones, dtype, requires_grad, "ones_like")


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Zeros with the shape and dtype of `t`; no history (a traced value gives a graph node)."""
    _on(device)
    return _like(t, np.zeros, dtype, requires_grad, "zeros_like")


def _like_source(t: Any, fn: str) -> Any:
    """The tensor (or array) a `*_like` function copies the shape of: PyTorch takes a tensor
    only; symgrad takes arrays and nested sequences of numbers too, nothing else."""
    if isinstance(t, (Surface, np.ndarray)):
        return t
    if isinstance(t, (list, tuple, int, float)):  # its shape, in the default dtype
        return array_of(t, fn).astype(get_default_dtype())
    raise TypeError(f"{fn}(): argument 'input' must be a Tensor, not {type(t).__name__} {t!r}")


def _like(t: Any, fill: Callable, dtype: Any, requires_grad: bool, fn: str) -> Any:
    t = _like_source(t, fn)
    if isinstance(t, Surface) and not isinstance(t, Tensor):
        return getattr(t, fill.__name__ + "_like")()
    dt = dtype_arg(dtype, fn) if dtype is not None else getattr(t, "dtype", get_default_dtype())
    return Tensor(fill(np.shape(t), dt), requires_grad=_flag(requires_grad, fn))


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """A tensor of `size` filled with `fill_value` (its dtype inferred as PyTorch does)."""
    if hasattr(type(size), "__index__"):
        raise TypeError(f"full(): argument 'size' must be a tuple of ints, not {type(size).__name__}")
    fill_value = number(fill_value, "full", "fill_value")
    if dtype is None:  # PyTorch's inference from a Python number
        dtype = np.bool_ if isinstance(fill_value, bool) else \
            int64 if isinstance(fill_value, int) else get_default_dtype()
    dt = dtype_arg(dtype, "full")
    if isinstance(fill_value, int) and not isinstance(fill_value, bool) and dt.kind != "b" \
            and not np.iinfo(np.int64).min <= fill_value <= np.iinfo(np.int64).max:
        raise OverflowError(f"full(): fill_value {fill_value} is too big to convert to {dt}")
    if not isinstance(fill_value, bool):
        convertible(np.asarray(fill_value), dt, "full")
    value = np.asarray(fill_value).astype(dt)  # -1 into uint8 wraps to 255, as in PyTorch
    return _filled(lambda s, dt: np.full(s, value, dt), (size,), dt, requires_grad, device, "full")


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """An uninitialised tensor (zeros here: NumPy gives no cheaper safe choice)."""
    return _filled(np.zeros, size, dtype, requires_grad, device, "empty")


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1) of the given size (seeded by `manual_seed`)."""
    _floating_dtype(dtype, "check_uniform_bounds")
    return _filled(lambda s, dt: _rng[0].random(s).astype(dt), size, dtype, requires_grad, device,
                   "rand")


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """start, start + step, ... below end: int64 for integer arguments, else the default float."""
    _on(device)
    start, end = (0, start) if end is None else (start, end)
    start, end, step = _range_checked("arange", start, end, step)
    values = np.arange(start, end, step)
    return Tensor(values.astype(_dtype_for([start, end, step], values, dtype, "arange")),
                  requires_grad=_flag(requires_grad, "arange"))


def range(start: Any, end: Any, step: Any = 1, dtype: Any = None,  # noqa: A001 - PyTorch's name
          requires_grad: bool = False, device: Any = None) -> Tensor:
    """start, start + step, ... up to end inclusive, in the default float dtype (PyTorch's
    deprecated `torch.range`; `arange` excludes the end)."""
    _on(device)
    warnings.warn("symgrad.range is deprecated, as torch.range is: use symgrad.arange, which "
                  "excludes the end", UserWarning, stacklevel=2)
    start, end, step = _range_checked("range", start, end, step)
    count = math.floor((end - start) / step) + 1
    values = start + step * np.arange(count, dtype=np.float64)
    dt = dtype_arg(dtype, "range") if dtype is not None else get_default_dtype()
    return Tensor(values.astype(dt), requires_grad=_flag(requires_grad, "range"))


def _range_checked(fn: str, start: Any, end: Any, step: Any) -> tuple:
    """The numbers of a range, refused as PyTorch refuses them: not numbers (TypeError), a zero
    or NaN step, an infinite or NaN bound, a step that goes away from the end (RuntimeError)."""
    start, end, step = (number(v, fn, k) for v, k in ((start, "start"), (end, "end"),
                                                      (step, "step")))
    if step == 0 or math.isnan(step):
        raise RuntimeError(f"{fn}(): step must be nonzero, got {step}")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"{fn}(): unsupported range: {start} -> {end} (the bounds must be finite)")
    if step > 0 and end < start or step < 0 and end > start:
        raise RuntimeError(f"{fn}(): upper bound and lower bound inconsistent with step sign: "
                           f"{start} -> {end} by {step}")
    if abs((end - start) / step) >= 2.0 ** 63:
        raise RuntimeError(f"{fn}(): invalid size, possible overflow? ({start} -> {end} by {step} "
                           "has more than 2**63 elements)")
    return start, end, step


def _steps(fn: str, steps: Any) -> int:
    steps = _int(steps, fn, "steps")
    if steps < 0:
        raise RuntimeError(f"{fn}(): number of steps must be non-negative, got {steps}")
    return steps


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    _on(device)
    start, end = number(start, "linspace", "start"), number(end, "linspace", "end")
    steps = _steps("linspace", steps)
    dt = dtype_arg(dtype, "linspace") if dtype is not None else get_default_dtype()
    return Tensor(_spaced(start, end, steps).astype(dt), requires_grad=_flag(requires_grad, "linspace"))


def _spaced(start: float, end: float, steps: int) -> np.ndarray:
    """PyTorch's linspace: the first half counted up from start, the second half down from
    end (so an infinite end gives inf then NaNs, as there)."""
    if steps == 1:
        return np.array([start], np.float64)
    k = np.arange(steps, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        step = (end - start) / (steps - 1)
        return np.where(k < steps // 2, start + k * step, end - (steps - 1 - k) * step)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """`steps` values base ** t, t evenly spaced from start to end inclusive."""
    _on(device)
    start, end = number(start, "logspace", "start"), number(end, "logspace", "end")
    base = number(base, "logspace", "base")
    steps = _steps("logspace", steps)
    dt = dtype_arg(dtype, "logspace") if dtype is not None else get_default_dtype()
    with np.errstate(invalid="ignore", over="ignore"):
        values = np.power(float(base), _spaced(start, end, steps))
    return Tensor(values.astype(dt), requires_grad=_flag(requires_grad, "logspace"))


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` as a tensor, sharing memory with a NumPy array (or Tensor) when the dtype fits."""
    _on(device)
    dtype = dtype_arg(dtype, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or dtype == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or dtype == data.dtype):
        check_array_dtype(data.dtype, "as_tensor")
        return Tensor._make(data)
    values = array_of(data, "as_tensor")
    dt = _dtype_for(data, values, dtype)
    if not isinstance(data, (np.ndarray, np.generic, Tensor)):
        convertible(values, dt, "as_tensor")
    return Tensor(values.astype(dt))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    check_array_dtype(array.dtype, "from_numpy")
    return Tensor._make(array)


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """`fill_value` with the shape (and dtype) of `t`."""
    t = _like_source(t, "full_like")
    return full(np.shape(t), fill_value, dtype or _dtype_of(t), requires_grad, device)


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return zeros_like(t, dtype, requires_grad, device)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return rand(np.shape(t), dtype=dtype or _dtype_of(t), requires_grad=requires_grad, device=device)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return randn(np.shape(t), dtype=dtype or _dtype_of(t), requires_grad=requires_grad, device=device)


def _dtype_of(t: Any) -> np.dtype:
    return t.dtype if hasattr(t, "dtype") else get_default_dtype()


# ---------------------------------------------------------------- PyTorch's keywords, random sampling

# `symgrad.zeros(size=(2, 3))` as well as `zeros(2, 3)` and `zeros((2, 3))`
ones, zeros, empty, rand, randn = (torch_keywords(f.__name__, f, start=0)
                                   for f in (ones, zeros, empty, rand, randn))


class Generator:
    """A random number generator of its own, passed as `generator=` to the sampling
    functions (`randint`, `randperm`, `normal`, `bernoulli`, `multinomial`)."""

    def __init__(self, device: Any = "cpu") -> None:
        _on(device)
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed`; returns the generator, as PyTorch's does."""
        self._seed, self._rng = int(seed), np.random.default_rng(int(seed))
        return self

    def initial_seed(self) -> int:
        return self._seed


def _source(generator: Generator | None) -> np.random.Generator:
    return _rng[0] if generator is None else generator._rng


def _sampled(values: np.ndarray, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    _on(device)
    return Tensor(values.astype(np.dtype(dtype)), requires_grad=_flag(requires_grad, "random"))


def randint(*args: Any, low: int = 0, high: int | None = None, size: Any = None,
            generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False,
            device: Any = None) -> Tensor:
    """Integers drawn uniformly from [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    args = list(args)
    if size is None and args and not isinstance(args[-1], (int, np.integer)):
        size = args.pop()
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        low, high = (low, args[0]) if high is None else (args[0], high)
    if high is None or size is None or len(args) > 2:
        raise TypeError("randint() expects (high, size) or (low, high, size), with size a tuple of ints")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    values = _source(generator).integers(low, high, _size((size,), "randint"))
    return _sampled(values, dtype or int64, requires_grad, device)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """A random permutation of 0, ..., n - 1."""
    n = _int(n, "randperm", "n")
    if n < 0:
        raise RuntimeError(f"randperm(): n must be non-negative, got {n}")
    return _sampled(_source(generator).permutation(int(n)), dtype or int64, requires_grad, device)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Normal samples: of the broadcast shape of tensor `mean` and `std`, or, for numbers,
    of `size`. Samples carry no history (PyTorch's gradient through them is zero)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors and size is not None:
        raise TypeError("normal(): size= goes with a number mean and std; with a tensor, the "
                        "samples take its shape")
    if not tensors and size is None:
        raise TypeError("normal(): give a tensor mean or std, or number mean and std with a size")
    m, s = (np.asarray(v._data if isinstance(v, Tensor) else number(v, "normal", k))
            for v, k in ((mean, "mean"), (std, "std")))
    if np.any(s < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s.min():g}")
    shape = _size((size,)) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    dt = dtype or (np.result_type(*(t.dtype for t in tensors)) if tensors else get_default_dtype())
    return _sampled(m + s * _source(generator).standard_normal(shape), dt, requires_grad, device)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability `input` (or `p`), else 0, in the shape and dtype of `input`."""
    data = np.asarray(input._data if isinstance(input, Tensor) else input)
    probs = data if p is None else np.broadcast_to(p, data.shape)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli: expected probabilities p with 0 <= p <= 1")
    return _sampled(_source(generator).random(data.shape) < probs, data.dtype, False, None)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices of categories drawn with probabilities proportional to the (1-D or 2-D, row
    by row) weights `input`; each category at most once without `replacement`."""
    weights = np.asarray(input._data if isinstance(input, Tensor) else input, dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {weights.ndim}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = np.atleast_2d(weights)
    if np.any(rows.sum(-1) <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    rng = _source(generator)
    if replacement:
        picks = np.stack([rng.choice(len(w), num_samples, p=w / w.sum()) for w in rows])
    else:  # an exponential race: the first to arrive are successive draws by weight (zeros last)
        with np.errstate(divide="ignore"):
            arrivals = rng.exponential(size=rows.shape) / rows
        picks = np.lexsort((rng.random(rows.shape), arrivals))[..., :num_samples]
    return _sampled(picks.reshape(weights.shape[:-1] + (num_samples,)), int64, False, None)


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
    _floating_dtype(t.dtype, kernel)


def _floating_dtype(dtype: Any, kernel: str) -> None:
    dt = dtype_arg(dtype, kernel)
    if dt is not None and dt.kind not in "fc":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{legacy_type_name(dt)[6:-6]}'")


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
