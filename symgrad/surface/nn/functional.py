"""PyTorch's `torch.nn.functional`, as composites of registered ops, all numerically stable.

Losses take `reduction=` "mean" (default), "sum" or "none"; eager mode names their
`grad_fn` as PyTorch does.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.ops import OPS, Value, apply, lift
from symgrad.ops.arrange import pad
from symgrad.ops.core import ndim_of
from symgrad.ops.dispatch import composite
from symgrad.surface.composites import log_softmax as _log_softmax
from symgrad.surface.composites import softmax as _softmax

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Value, reduction: str) -> Value:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _same_shape(input: Any, target: Any, what: str = "Target") -> None:
    if tuple(np.shape(target)) != tuple(input.shape):
        raise ValueError(f"{what} size ({tuple(np.shape(target))}) must be the same as input size "
                         f"({tuple(input.shape)})")


# ---------------------------------------------------------------- activations

def relu(input: Any, inplace: bool = False) -> Value:
    """max(input, 0); its gradient at 0 is 0, as PyTorch's."""
    return apply(OPS["relu"], input)


def sigmoid(input: Any) -> Value:
    """1 / (1 + exp(-input)), computed without overflow."""
    return apply(OPS["sigmoid"], input)


def tanh(input: Any) -> Value:
    return apply(OPS["tanh"], input)


@composite(lambda *a, **k: "SoftplusBackward0")
def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Value:
    """log(1 + exp(beta * x)) / beta, computed without overflow; linear above `threshold`."""
    scaled = input * beta if beta != 1 else input
    soft = apply(OPS["softplus"], scaled)
    soft = soft / beta if beta != 1 else soft
    return soft.where(scaled <= threshold, input)


@composite(lambda *a, **k: "GeluBackward0")
def gelu(input: Any, approximate: str = "none") -> Value:
    """x * Phi(x), with the exact normal CDF (or PyTorch's tanh approximation)."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + inner.tanh())
    if approximate != "none":
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return 0.5 * input * (1 + (input * (1 / math.sqrt(2))).erf())


@composite("LeakyReluBackward0")
def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Value:
    """x for x > 0, else negative_slope * x (its gradient at 0 is negative_slope, as PyTorch's)."""
    return input.where(input > 0, input * negative_slope)


@composite("HardtanhBackward0")
def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Value:
    """input limited to [min_val, max_val]. Unlike clamp's, its gradient is 0 at the bounds:
    PyTorch's hardtanh passes it strictly inside only (as ReLU6 at 0 and 6, and `jax.nn.relu6`)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got {min_val} > {max_val}")
    out = apply(OPS["where"], input <= min_val, min_val, input)
    return apply(OPS["where"], input >= max_val, max_val, out)


@composite("HardtanhBackward0")
def relu6(input: Any, inplace: bool = False) -> Value:
    """min(max(x, 0), 6): hardtanh on [0, 6], with gradient 0 at 0 and at 6 (PyTorch's)."""
    return hardtanh(input, 0.0, 6.0)


@composite("SiluBackward0")
def silu(input: Any, inplace: bool = False) -> Value:
    """x * sigmoid(x) (also called swish)."""
    return input * apply(OPS["sigmoid"], input)


@composite("EluBackward0")
def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Value:
    """x for x > 0, else alpha * (exp(x) - 1); the exponential sees min(x, 0) only, so a
    large x cannot overflow into the gradient."""
    return input.where(input > 0, alpha * apply(OPS["expm1"], input.clamp(max=0)))


@composite("LogSigmoidBackward0")
def logsigmoid(input: Any) -> Value:
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    return -apply(OPS["softplus"], -input)


def softmax(input: Any, dim: int | None = None) -> Value:
    return _softmax(input, _implicit_dim(input, dim))


def log_softmax(input: Any, dim: int | None = None) -> Value:
    return _log_softmax(input, _implicit_dim(input, dim))


def _implicit_dim(input: Any, dim: int | None) -> int:
    # PyTorch's legacy rule when dim is omitted: 0 for 0-, 1- and 3-D input, else 1
    return dim if dim is not None else (0 if ndim_of(input) in (0, 1, 3) else 1)


def _linear_name(input: Any, weight: Any, bias: Any = None) -> str:
    """PyTorch's grad_fn for linear: addmm (mm) on a batch of rows, a view around it otherwise."""
    ndim = ndim_of(input)  # not np.ndim: a Tensor's __array_function__ costs 3 us a call
    if ndim_of(weight) == 1:  # a vector of weights: a matrix-vector (or dot) product
        return "AddBackward0" if bias is not None else "DotBackward0" if ndim == 1 else "MvBackward0"
    if ndim == 2:
        return "MmBackward0" if bias is None else "AddmmBackward0"
    if bias is not None:
        return "ViewBackward0"
    return "SqueezeBackward4" if ndim == 1 else "UnsafeViewBackward0"


@composite(_linear_name)
def linear(input: Any, weight: Any, bias: Any = None) -> Value:
    """input @ weight.T + bias."""
    out = input @ weight.t() if ndim_of(weight) == 2 else input @ weight
    return out if bias is None else out + bias


# ---------------------------------------------------------------- layers

# where dropout draws its uniform samples; eager mode points it at `manual_seed`'s stream
_uniform: list[Callable[[tuple[int, ...]], np.ndarray]] = [np.random.default_rng().random]


def use_random_source(draw: Callable[[tuple[int, ...]], np.ndarray]) -> None:
    """Make dropout draw its uniform [0, 1) samples as `draw(shape)` (the op surface has no
    random stream of its own; the eager engine installs its seeded one)."""
    _uniform[0] = draw


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Value:
    """Zero each element with probability `p` and scale the others by 1 / (1 - p) in
    training; the input itself otherwise. The mask comes from `manual_seed`'s stream."""
    if not isinstance(input, Value):
        raise TypeError("dropout(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if _concrete(input) is None:
        raise NotImplementedError(
            "dropout(training=True) in traced code would freeze one random mask into the "
            "compiled function; apply it eagerly or pass training=False")
    keep = _uniform[0](tuple(input.shape)) >= p
    scale = np.zeros((), input.dtype) if p == 1 else np.asarray(1 / (1 - p), input.dtype)
    return input * lift(keep.astype(input.dtype) * scale, input)


@composite("NativeLayerNormBackward0")
def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Value:
    """(x - mean) / sqrt(var + eps) over the trailing `normalized_shape` dimensions (biased
    variance, as PyTorch), then scaled by `weight` and shifted by `bias` when given."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    dims = tuple(range(-len(shape), 0))
    centred = input - input.mean(dims, keepdim=True)
    out = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


@composite("EmbeddingBackward0")
def embedding(input: Any, weight: Any, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Value:
    """Rows of `weight` picked by the integer indices `input`; the row `padding_idx` is
    returned as is but receives no gradient, as in PyTorch."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    if _dtype(input).kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got {_dtype(input)} instead (while checking arguments "
                           "for embedding)")
    if not isinstance(weight, Value):
        raise TypeError("embedding(): argument 'weight' (position 2) must be Tensor, not "
                        f"{type(weight).__name__}")
    rows = weight.shape[0]
    values = _concrete(input)
    if values is not None and values.size and (values.min() < -rows or values.max() >= rows):
        raise IndexError("index out of range in self")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        trained = lift(np.arange(rows).reshape(-1, 1) != padding_idx % rows, weight)
        weight = weight.where(trained, weight.detach())
    return weight[lift(input, weight)]


def one_hot(tensor: Any, num_classes: int = -1) -> Value:
    """Integer class indices as int64 one-hot rows (a new last dimension of `num_classes`,
    by default the largest index + 1)."""
    if _dtype(tensor).kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = _concrete(tensor)
    if values is not None and values.size:
        if values.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(values.max()) + 1
        elif values.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    if num_classes < 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor."
                           if values is not None else "one_hot of a traced tensor needs num_classes")
    tensor = lift(tensor)
    return (tensor.unsqueeze(-1) == lift(np.arange(num_classes), tensor)).astype(np.int64)


def _vector_norm(x: Value, p: float, dim: int, keepdim: bool = False, floor: float = 0.0) -> Value:
    """The p-norm along `dim`, at least `floor`; its gradient is 0 (not NaN) where the norm
    is 0 or below `floor`, as PyTorch's norm backward."""
    if p == math.inf:
        return x.abs().amax(dim, keepdim=keepdim).clamp(min=floor)
    if not p > 0:
        raise ValueError(f"norm order p must be positive, got {p}")
    total = (x * x if p == 2 else x.abs() ** p).sum(dim, keepdim=keepdim)
    cut = max(floor ** p, np.finfo(_float(x)).tiny)  # below it the gradient is 0, the value `floor`
    inside = total > cut
    root = total.where(inside, 1.0).sqrt() if p == 2 else total.where(inside, 1.0) ** (1 / p)
    return root.where(inside, floor)


def _float(x: Any) -> np.dtype:
    dtype = np.dtype(_dtype(x))
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


@composite("DivBackward0")
def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Value:
    """input / max(||input||_p, eps) along `dim`: unit vectors, zero stays zero."""
    return input / _vector_norm(input, p, dim, keepdim=True, floor=eps)


@composite("SumBackward1")
def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Value:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim`, after broadcasting."""
    x1, x2 = lift(x1), lift(x2)
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    unit1 = x1 / _vector_norm(x1, 2, dim, keepdim=True, floor=eps)
    unit2 = x2 / _vector_norm(x2, 2, dim, keepdim=True, floor=eps)
    return (unit1 * unit2).sum(dim)


@composite("NormBackward1")
def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Value:
    """||x1 - x2 + eps||_p along the last dimension (eps keeps the gradient finite when equal)."""
    return _vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


# ---------------------------------------------------------------- convolution

def _ntuple(value: int | Sequence[int], nd: int, name: str) -> tuple[int, ...]:
    values = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != nd:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {nd} values to "
                           f"match the convolution dimensions, but got {name}={list(values)}")
    return tuple(int(v) for v in values)


def _windows(x: Value, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
             op: str) -> Value:
    """The sliding windows of `x` (N, C, *spatial) as (N, C, out_1, k_1, out_2, k_2, ...): a
    view (its backward adds each window back, one strided add per kernel element)."""
    nd, spatial = len(kernel), tuple(x.shape[2:])
    sizes = [(spatial[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(nd)]
    if min(sizes) <= 0:
        if op == "conv":
            raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, spatial))})"
                               f". Kernel size: ({' x '.join(map(str, kernel))}). Kernel size can't be "
                               "greater than actual input size")
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated output size: "
                           f"({'x'.join(map(str, (x.shape[1], *sizes)))}). Output size is too small")
    for d in range(nd):  # spatial dim d becomes (out_d, k_d): the axes before it are already pairs
        x = x._windows(2 + 2 * d, kernel[d], stride[d], dilation[d])
    return x


def _batched(input: Any, nd: int, name: str) -> tuple[Value, bool]:
    x = lift(input)
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
                           f"input of size: {list(x.shape)}")
    return (x, True) if x.ndim == nd + 2 else (x.reshape(1, *x.shape), False)


def _conv(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int,
          nd: int) -> Value:
    """An nd-dimensional convolution (cross-correlation, as PyTorch) as windows @ kernels."""
    x, batched = _batched(input, nd, f"conv{nd}d")
    stride, dilation = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    kernel = tuple(weight.shape[2:])
    out_channels, per_group = weight.shape[0], weight.shape[1]
    if x.shape[1] != per_group * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {per_group * groups} channels, but got "
                           f"{x.shape[1]} channels instead")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        total = [dilation[d] * (kernel[d] - 1) if padding == "same" else 0 for d in range(nd)]
        widths = [(t // 2, t - t // 2) for t in total]
    else:
        widths = [(p, p) for p in _ntuple(padding, nd, "padding")]
    if any(w for pair in widths for w in pair):
        x = pad(x, [w for pair in reversed(widths) for w in pair])
    patches = _windows(x, kernel, stride, dilation, "conv")
    n, channels = x.shape[0], x.shape[1]
    sizes = patches.shape[2::2]
    order = (0, *range(2, 2 + 2 * nd, 2), 1, *range(3, 3 + 2 * nd, 2))  # (N, *out, C, *kernel)
    rows = patches.permute(*order).reshape(n, -1, groups, (channels // groups) * math.prod(kernel))
    kernels = weight.reshape(groups, out_channels // groups, -1)
    out = rows.swapaxes(1, 2) @ kernels.swapaxes(1, 2)  # (N, groups, P, O / groups)
    out = out.permute(0, 1, 3, 2).reshape(n, out_channels, *sizes)
    if bias is not None:
        out = out + bias.reshape(out_channels, *([1] * nd))
    return out if batched else out.reshape(tuple(out.shape[1:]))


@composite(lambda input, weight, *a, **k: "ConvolutionBackward0" if np.ndim(input) == np.ndim(weight)
           else "SqueezeBackward1")
def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Value:
    """1-D cross-correlation of (N, C, L) input with (O, C / groups, k) weight, PyTorch's conv1d."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


@composite(lambda input, weight, *a, **k: "ConvolutionBackward0" if np.ndim(input) == np.ndim(weight)
           else "SqueezeBackward1")
def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Value:
    """2-D cross-correlation of (N, C, H, W) input with (O, C / groups, kh, kw) weight,
    PyTorch's conv2d (stride, padding as numbers, pairs, "same" or "valid", dilation, groups)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def _pool(input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, fill: float,
          name: str) -> tuple[Value, tuple[int, ...], bool]:
    """Windows (N, C, out_1, k_1, out_2, k_2) of a 2-D pooling, the input padded by `fill`."""
    x, batched = _batched(input, 2, name)
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    stride = kernel if stride is None or stride == [] else _ntuple(stride, 2, "stride")
    widths = _ntuple(padding, 2, "padding")
    if any(2 * w > k for w, k in zip(widths, kernel)):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={widths[0]}, "
                           f"kernel_size={kernel[0]} and dilation={_ntuple(dilation, 2, 'dilation')[0]}")
    if any(widths):
        x = pad(x, [widths[1], widths[1], widths[0], widths[0]], value=fill)
    return _windows(x, kernel, stride, _ntuple(dilation, 2, "dilation"), "pool"), kernel, batched


def _slabs(windows: Value) -> Value:
    """Pooling windows (N, C, out_1, k_1, out_2, k_2) as (k_1 * k_2, N, C, out_1, out_2), one
    slab per kernel element: a reduction over the first axis runs over whole slabs, where
    over the windows' own axes NumPy would loop over rows of k elements (a 2x2 max pool
    on 16x8x28x28: about 10 times slower)."""
    n, c, o1, k1, o2, k2 = windows.shape
    return windows.permute(3, 5, 0, 1, 2, 4).reshape(k1 * k2, n, c, o1, o2)


def _unbatch(out: Value, batched: bool) -> Value:
    return out if batched else out.reshape(tuple(out.shape[1:]))


@composite("MaxPool2DWithIndicesBackward0")
def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Value:
    """The maximum of each kernel_size window (stride defaults to kernel_size; padding is -inf)."""
    if ceil_mode or return_indices:
        raise NotImplementedError("max_pool2d: ceil_mode and return_indices are not supported")
    windows, _, batched = _pool(input, kernel_size, stride, padding, dilation, -math.inf, "max_pool2d")
    return _unbatch(_slabs(windows).amax(0), batched)


@composite("AvgPool2DBackward0")
def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Value:
    """The mean of each kernel_size window (zero padding counted, as PyTorch's default)."""
    if ceil_mode or not count_include_pad:
        raise NotImplementedError("avg_pool2d: ceil_mode and count_include_pad=False are not supported")
    windows, kernel, batched = _pool(input, kernel_size, stride, padding, 1, 0.0, "avg_pool2d")
    return _unbatch(_slabs(windows).sum(0) / (divisor_override or math.prod(kernel)), batched)


# ---------------------------------------------------------------- losses

@composite(lambda *a, **k: "MseLossBackward0")
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Value:
    """Mean (or sum) of squared differences."""
    _check(reduction)
    diff = input - target
    return _reduce(diff * diff, reduction)


@composite(lambda *a, reduction="mean", **k: {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(
    reduction, "AbsBackward0"))
def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Value:
    """Mean (or sum) of absolute differences."""
    _check(reduction)
    return _reduce((input - target).abs(), reduction)


@composite(lambda *a, **k: "BinaryCrossEntropyBackward0")
def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Value:
    """-[t log p + (1 - t) log(1 - p)] for probabilities p; logs clamped at -100 like PyTorch,
    whose gradient (p - t) / max(p (1 - p), 1e-12) it has, finite at p = 0 and 1."""
    _check(reduction)
    _same_shape(input, target, "Using a target")
    for name, values in (("input", _concrete(input)), ("target", _concrete(target))):
        if values is not None and not np.all((values >= 0) & (values <= 1)):
            raise RuntimeError(f"binary_cross_entropy: all elements of {name} should be between 0 and 1")
    loss = apply(OPS["binary_cross_entropy"], input, lift(target, input))
    return _reduce(loss if weight is None else loss * weight, reduction)


@composite("BinaryCrossEntropyWithLogitsBackward0")
def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Value:
    """Binary cross-entropy of sigmoid(input), stable for any logit.

    softplus(x) - t * x equals -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]; with
    pos_weight w it is (1 - t) * x + (1 + (w - 1) t) * softplus(-x).
    """
    _check(reduction)
    _same_shape(input, target)
    if pos_weight is None:
        loss = apply(OPS["softplus"], input) - target * input
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * apply(OPS["softplus"], -input)
    return _reduce(loss if weight is None else loss * weight, reduction)


@composite(lambda *a, reduction="mean", beta=1.0, **k: "SmoothL1LossBackward0" if beta else {
    "mean": "MeanBackward0", "sum": "SumBackward0"}.get(reduction, "AbsBackward0"))
def smooth_l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Value:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (d = input - target): quadratic
    near 0 and linear beyond; beta = 0 is the L1 loss."""
    reduction = _legacy(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce((0.5 * d * d / beta).where(d < beta, d - 0.5 * beta), reduction)


@composite("HuberLossBackward0")
def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Any = None) -> Value:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2): smooth_l1_loss times delta."""
    _check(reduction)
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = (0.5 * d * d).where(d < delta, delta * (d - 0.5 * delta))
    return _reduce(loss if weight is None else loss * weight, reduction)


def _kl_name(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", log_target: bool = False) -> str:
    reduction = _legacy(size_average, reduce, reduction, also=("batchmean",))
    if reduction == "none":
        return "MulBackward0" if log_target else "SubBackward0"
    return {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(
        reduction, "DivBackward0" if np.ndim(input) else "SumBackward0")


@composite(_kl_name)
def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Value:
    """KL(target || exp(input)) pointwise, for log-probabilities `input`: target * (log target
    - input), 0 where target is 0 (or exp(target) * (target - input) with `log_target`).

    reduction="batchmean" divides the sum by the batch size (the true KL divergence);
    "mean", which divides by every element, warns as PyTorch does.
    """
    reduction = _legacy(size_average, reduce, reduction, also=("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support "
                      "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
                      "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
                      "major release.", UserWarning, stacklevel=3)
    target = lift(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = apply(OPS["xlogy"], target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def _legacy(size_average: Any, reduce: Any, reduction: str, also: tuple = ()) -> str:
    """PyTorch's deprecated size_average/reduce pair mapped to `reduction`, then checked."""
    if size_average is not None or reduce is not None:
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average is None or size_average else "sum") if reduce else "none"
    if reduction not in also:
        _check(reduction)
    return reduction


def _class_dim_last(input: Value) -> Value:
    """(N, C, d1, ...) -> (N * d1 * ..., C): class scores as rows."""
    if input.ndim <= 2:
        return input
    return input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])


def _concrete(x: Any) -> np.ndarray | None:
    """The values of `x`, or None for a traced value (whose values are not known yet)."""
    if isinstance(x, Value) and not isinstance(x, Value._default):
        return None
    return np.asarray(x.detach() if isinstance(x, Value) else x)


def _dtype(x: Any) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


@composite(lambda *a, **k: "NllLossBackward0")
def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Value:
    """Negative log-likelihood of class indices `target` under log-probabilities `input`.

    Targets equal to `ignore_index` count neither in the loss nor in the mean's weight.
    Written in ops only, so a traced integer `target` works too.
    """
    _check(reduction)
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if tuple(np.shape(target)) != expected:
        raise ValueError(f"Expected target of shape {expected} for input of shape {input.shape}, "
                         f"got {tuple(np.shape(target))}")
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    values = _concrete(target)
    if values is not None:
        bad = values[(values != ignore_index) & ((values < 0) | (values >= classes))]
        if bad.size:
            raise IndexError(f"Target {bad.flat[0]} is out of bounds.")
    scores = _class_dim_last(input) if input.ndim > 1 else input.reshape(1, -1)
    labels = lift(target, input).reshape(-1)
    keep = labels != ignore_index
    safe = labels.where(keep, 0)
    # a negative target would pick from the end; made out of range, the gather refuses it
    # where the check above cannot run (a traced target, as in the fused composite's code)
    safe = safe.where(safe >= 0, classes)
    picked = -scores[np.arange(scores.shape[0]), safe]
    w = keep.astype(input.dtype)
    if weight is not None:
        w = w * lift(weight, input)[safe]
    loss = picked * w
    if reduction == "none":
        return loss.reshape(tuple(np.shape(target)))
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


@composite(lambda input, target, *a, label_smoothing=0.0, **k: "DivBackward1"
           if _dtype(target).kind not in "iu" else "AddBackward0" if label_smoothing else
           "NllLossBackward0")
def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Value:
    """Cross-entropy of logits `input` against class indices or class probabilities."""
    _check(reduction)
    dim = 1 if input.ndim > 1 else 0
    classes = input.shape[dim]
    logp = log_softmax(input, dim)
    class_shape = [classes] + [1] * (input.ndim - dim - 1)
    if _dtype(target).kind in "iu":
        if label_smoothing == 0:
            return nll_loss(logp, target, weight, ignore_index, reduction)
        nll = nll_loss(logp, target, weight, ignore_index, "none")
        labels = lift(target, input)
        keep = (labels != ignore_index).astype(input.dtype)
        w = 1 if weight is None else lift(weight, input).reshape(class_shape)
        smooth = -(logp * w).sum(dim) * keep
        total = (1 - label_smoothing) * nll + label_smoothing / classes * smooth
        if reduction != "mean":
            return _reduce(total, reduction)
        w_picked = keep if weight is None else lift(weight, input)[labels.where(keep > 0, 0)] * keep
        return total.sum() / w_picked.sum()
    probs = target if label_smoothing == 0 else target * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        logp = logp * lift(weight, input).reshape(class_shape)
    loss = -(logp * probs).sum(dim)
    if reduction == "mean":
        return loss.sum() / max(int(np.prod(loss.shape)), 1)
    return _reduce(loss, reduction)


__all__ = [
    "avg_pool2d", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
    "cosine_similarity", "cross_entropy", "max_pool2d",
    "dropout", "elu", "embedding", "gelu", "hardtanh", "huber_loss", "kl_div", "l1_loss", "layer_norm",
    "leaky_relu",
    "linear", "log_softmax", "logsigmoid", "mse_loss", "nll_loss", "normalize", "one_hot", "pad",
    "pairwise_distance", "relu", "relu6", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
]
