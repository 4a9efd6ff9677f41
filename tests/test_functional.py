"""Every `symgrad.nn.functional` function and every one of its options, one table row each.

A row names the function, the keyword arguments it is called with (float arrays, integer
class targets, static options) and a closed form of the same thing written in plain NumPy.
For each row, in float64:

* the forward value (eager and `symgrad.compile`) equals the closed form;
* the eager gradient of `sum(f(...) * ct)`, `ct` a fixed random cotangent, in every float
  input equals central finite differences of the closed form;
* the compiled gradient (`symgrad.grad` on NumPy arrays) equals the eager one;
* when PyTorch is installed, value and gradient equal `torch.nn.functional`'s.

The closed forms carry every constant themselves, so a wrong constant, a dropped option or a
wrong normaliser fails without PyTorch too. Integer targets stay int64 arrays (never
differentiated); PyTorch does not differentiate a loss's `weight` or `pos_weight`, so those
gradients are checked against finite differences only. Every loss also runs without
`reduction=`, so a wrong default fails too.

Then the errors (bad `reduction`, bad `approximate`), the clamp in binary_cross_entropy, and
tensors passed by keyword (`F.mse_loss(x, target=y)`), and the disagreements with PyTorch
found here, as strict xfails: a bad `approximate` is a ValueError, not a RuntimeError; an
implicit softmax dim does not warn. binary_cross_entropy's gradient at p in {0, 1} and where
log p is clamped is PyTorch's formula (p - t) / max(p (1 - p), 1e-12).
"""

from __future__ import annotations

import inspect
import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pytest
from numeric import differences

import symgrad

F = symgrad.nn.functional

EXACT = {"rtol": 1e-12, "atol": 1e-14}  # same mathematics, different rounding
FD_TOL = {"rtol": 1e-6, "atol": 1e-6}
FD_STEP = 1e-6


# ---------------------------------------------------------------- closed forms (plain NumPy)

def np_linear(input, weight, bias=None):
    out = np.einsum("...i,oi->...o", input, weight) if weight.ndim == 2 else np.einsum(
        "...i,i->...", input, weight)
    return out if bias is None else out + bias


def np_relu(input):
    return np.where(input > 0, input, 0.0)


def np_sigmoid(input):
    # 1 / (1 + e^-x) as exp(-log(1 + e^-x)): no overflow, no cancellation for x << 0
    return np.exp(-np.logaddexp(0.0, -input))


def np_tanh(input):
    return np.tanh(input)


def np_softplus(input, beta=1.0, threshold=20.0):
    return np.where(input * beta > threshold, input, np.logaddexp(0.0, beta * input) / beta)


ERF = np.vectorize(math.erf, otypes=[float])


def np_gelu(input, approximate="none"):
    if approximate == "tanh":
        return 0.5 * input * (1 + np.tanh(math.sqrt(2 / math.pi) * (input + 0.044715 * input**3)))
    return input * 0.5 * (1 + ERF(input / math.sqrt(2)))


def np_log_softmax(input, dim):
    shifted = input - input.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def np_softmax(input, dim):
    return np.exp(np_log_softmax(input, dim))


def reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


def np_mse_loss(input, target, reduction="mean"):
    return reduce((input - target) ** 2, reduction)


def np_l1_loss(input, target, reduction="mean"):
    return reduce(np.abs(input - target), reduction)


def np_binary_cross_entropy(input, target, weight=None, reduction="mean"):
    log_p, log_q = np.maximum(np.log(input), -100), np.maximum(np.log1p(-input), -100)
    loss = -(target * log_p + (1 - target) * log_q)
    return reduce(loss if weight is None else weight * loss, reduction)


def np_binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    # -[p t log s(x) + (1 - t) log(1 - s(x))], s the sigmoid: log s(x) = -log(1 + e^-x)
    p = 1.0 if pos_weight is None else pos_weight
    loss = p * target * np.logaddexp(0.0, -input) + (1 - target) * np.logaddexp(0.0, input)
    return reduce(loss if weight is None else weight * loss, reduction)


def rows_of_classes(a):
    """(N, C, d1, ...) -> (N * d1 * ..., C) and (C,) -> (1, C): one row of class scores per sample."""
    return a.reshape(1, -1) if a.ndim == 1 else np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def np_smoothed_nll(logp, target, weight, ignore_index, reduction, label_smoothing):
    """-sum_k w_k q_k logp_k per sample, q = (1 - eps) one_hot(target) + eps / C; ignored samples
    count 0; the mean divides by the summed weight w[target] of the samples kept."""
    rows, labels = rows_of_classes(logp), np.reshape(target, -1)
    classes = rows.shape[1]
    w = np.ones(classes) if weight is None else weight
    losses, counted = np.zeros(len(labels)), np.zeros(len(labels))
    for i, label in enumerate(labels):
        if label == ignore_index:
            continue
        q = np.full(classes, label_smoothing / classes)
        q[label] += 1 - label_smoothing
        losses[i], counted[i] = -np.sum(w * q * rows[i]), w[label]
    if reduction == "mean":
        return losses.sum() / counted.sum()
    return losses.sum() if reduction == "sum" else losses.reshape(np.shape(target))


def np_nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    return np_smoothed_nll(input, target, weight, ignore_index, reduction, 0.0)


def np_cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    dim = 1 if input.ndim > 1 else 0
    logp = np_log_softmax(input, dim)
    if target.dtype.kind in "iu":
        return np_smoothed_nll(logp, target, weight, ignore_index, reduction, label_smoothing)
    classes = input.shape[dim]
    q = target * (1 - label_smoothing) + label_smoothing / classes
    w = 1.0 if weight is None else weight.reshape([classes] + [1] * (input.ndim - dim - 1))
    loss = -np.sum(w * q * logp, axis=dim)
    # probability targets: the mean is over samples, whatever the weights
    return loss.sum() / max(loss.size, 1) if reduction == "mean" else reduce(loss, reduction)


def np_pad(input, pad, mode="constant", value=None):
    widths = [(0, 0)] * input.ndim  # torch's pad lists the last dim first
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return np.pad(input, widths, constant_values=value or 0.0)
    return np.pad(input, widths, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


# closed forms of the functions added by the nn-more branch
def np_leaky_relu(input, negative_slope=0.01):
    return np.where(input > 0, input, negative_slope * input)


def np_hardtanh(input, min_val=-1.0, max_val=1.0):
    return np.clip(input, min_val, max_val)


def np_relu6(input):
    return np.clip(input, 0.0, 6.0)


def np_silu(input):
    return input * np_sigmoid(input)


def np_elu(input, alpha=1.0):
    return np.where(input > 0, input, alpha * np.expm1(np.minimum(input, 0.0)))


def np_logsigmoid(input):
    return -np.logaddexp(0.0, -input)


def np_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(-len(normalized_shape), 0))
    centred = input - input.mean(axis=axes, keepdims=True)
    out = centred / np.sqrt((centred**2).mean(axis=axes, keepdims=True) + eps)
    out = out if weight is None else out * weight
    return out if bias is None else out + bias


def np_embedding(input, weight, padding_idx=None):
    return weight[input]


def np_norm(x, p, axis, keepdims=False):
    if p == np.inf:
        return np.abs(x).max(axis=axis, keepdims=keepdims)
    return (np.abs(x) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def np_normalize(input, p=2.0, dim=1, eps=1e-12):
    return input / np.maximum(np_norm(input, p, dim, keepdims=True), eps)


def np_cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np_norm(x1, 2, dim, keepdims=True), eps)
    n2 = np.maximum(np_norm(x2, 2, dim, keepdims=True), eps)
    return (x1 / n1 * x2 / n2).sum(axis=dim)


def np_pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return np_norm(x1 - x2 + eps, p, -1, keepdims=keepdim)


def np_smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    d = np.abs(input - target)
    return reduce(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta) if beta else d, reduction)


def np_huber_loss(input, target, reduction="mean", delta=1.0):
    d = np.abs(input - target)
    return reduce(np.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)), reduction)


def np_kl_div(input, target, reduction="mean", log_target=False):
    loss = np.exp(target) * (target - input) if log_target else target * (np.log(target) - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return reduce(loss, reduction)


def np_windows(x, kernel, stride, dilation):
    """(N, C, *spatial) -> (N, C, out_1, k_1, out_2, k_2, ...), plain loops."""
    nd = len(kernel)
    sizes = [(x.shape[2 + d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(nd)]
    out = np.zeros(x.shape[:2] + tuple(v for d in range(nd) for v in (sizes[d], kernel[d])))
    for pos in np.ndindex(*[v for d in range(nd) for v in (sizes[d], kernel[d])]):
        at = tuple(pos[2 * d] * stride[d] + pos[2 * d + 1] * dilation[d] for d in range(nd))
        out[(slice(None), slice(None), *pos)] = x[(slice(None), slice(None), *at)]
    return out


def np_conv(input, weight, bias, stride, padding, dilation, groups, nd):
    def as_tuple(v):
        return (v,) * nd if isinstance(v, int) else tuple(v)
    stride, dilation, padding = as_tuple(stride), as_tuple(dilation), as_tuple(padding)
    unbatched = input.ndim == nd + 1
    x = input[None] if unbatched else input
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    win = np_windows(x, weight.shape[2:], stride, dilation)  # (N, C, o1, k1, ...)
    out_c, per = weight.shape[:2]
    outs = []
    for g in range(groups):
        w = weight[g * (out_c // groups):(g + 1) * (out_c // groups)]
        part = win[:, g * per:(g + 1) * per]
        letters = "pqrstu"[:2 * nd]
        spec_in = "nc" + letters
        spec_w = "oc" + letters[1::2]
        spec_out = "no" + letters[0::2]
        outs.append(np.einsum(f"{spec_in},{spec_w}->{spec_out}", part, w))
    out = np.concatenate(outs, axis=1)
    out = out if bias is None else out + bias.reshape((-1,) + (1,) * nd)
    return out[0] if unbatched else out


def np_conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return np_conv(input, weight, bias, stride, padding, dilation, groups, 1)


def np_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return np_conv(input, weight, bias, stride, padding, dilation, groups, 2)


def np_pool(input, kernel_size, stride, padding, dilation, fill, reducer):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)
    kernel, padding = pair(kernel_size), pair(padding)
    stride = kernel if stride is None else pair(stride)
    unbatched = input.ndim == 3
    x = input[None] if unbatched else input
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=fill)
    out = reducer(np_windows(x, kernel, stride, pair(dilation)), axis=(3, 5))
    return out[0] if unbatched else out


def np_max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1):
    return np_pool(input, kernel_size, stride, padding, dilation, -np.inf, np.max)


def np_avg_pool2d(input, kernel_size, stride=None, padding=0, divisor_override=None):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)
    total = np_pool(input, kernel_size, stride, padding, 1, 0.0, np.sum)
    return total / (divisor_override or math.prod(pair(kernel_size)))


CLOSED: dict[str, Callable[..., np.ndarray]] = {
    "linear": np_linear, "relu": np_relu, "sigmoid": np_sigmoid, "tanh": np_tanh,
    "softplus": np_softplus, "gelu": np_gelu, "softmax": np_softmax, "log_softmax": np_log_softmax,
    "mse_loss": np_mse_loss, "l1_loss": np_l1_loss, "binary_cross_entropy": np_binary_cross_entropy,
    "binary_cross_entropy_with_logits": np_binary_cross_entropy_with_logits,
    "nll_loss": np_nll_loss, "cross_entropy": np_cross_entropy, "pad": np_pad,
    "hardtanh": np_hardtanh, "relu6": np_relu6,
    "leaky_relu": np_leaky_relu, "silu": np_silu, "elu": np_elu, "logsigmoid": np_logsigmoid,
    "layer_norm": np_layer_norm, "embedding": np_embedding, "normalize": np_normalize,
    "cosine_similarity": np_cosine_similarity, "pairwise_distance": np_pairwise_distance,
    "smooth_l1_loss": np_smooth_l1_loss, "huber_loss": np_huber_loss, "kl_div": np_kl_div,
    "conv1d": np_conv1d, "conv2d": np_conv2d, "max_pool2d": np_max_pool2d, "avg_pool2d": np_avg_pool2d,
}
# random (dropout) or integer-valued (one_hot): tested in tests/test_nn_more.py, not in this table
NOT_TABULATED = {"dropout", "one_hot"}


# ---------------------------------------------------------------- input makers

Maker = Callable[[np.random.Generator], np.ndarray]


def normal(*shape: int, scale: float = 1.0) -> Maker:
    return lambda rng: scale * rng.standard_normal(shape)


def uniform(low: float, high: float, *shape: int) -> Maker:
    return lambda rng: rng.uniform(low, high, shape)


def away_from_zero(*shape: int) -> Maker:
    """|x| in [0.2, 2], random signs: no kink of relu or abs within a finite-difference step."""
    return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


def fixed(values: Any) -> Maker:
    return lambda rng: np.asarray(values, dtype=np.float64)


def probabilities(*shape: int) -> Maker:
    """Rows of class probabilities along axis 1 (axis 0 for 1-D): a soft target."""
    def make(rng: np.random.Generator) -> np.ndarray:
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    return make


def labels(shape: tuple[int, ...], classes: int, ignore: int | None = None) -> Maker:
    """Class indices in [0, classes) as int64; with `ignore`, every third one (from the first) is
    `ignore` and no other is, so some samples always count."""
    def make(rng: np.random.Generator) -> np.ndarray:
        t = rng.choice([c for c in range(classes) if c != ignore], shape).astype(np.int64)
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return t
    return make


def fixed_labels(values: Any) -> Maker:
    return lambda rng: np.asarray(values, dtype=np.int64)


# ---------------------------------------------------------------- the table

@dataclass(frozen=True)
class Case:
    """One function with one option setting: keyword inputs (in call order) and static options."""

    id: str
    fn: str
    inputs: dict[str, Maker]
    options: dict[str, Any] = field(default_factory=dict)
    closed: Callable[..., np.ndarray] | None = None  # default: CLOSED[fn] with the same keywords
    fd: str = "central"  # "backward" where the closed form jumps at an input (softplus's threshold)

    def arrays(self) -> dict[str, np.ndarray]:
        """The inputs, drawn from a generator seeded by the row's id (rows do not shift each other)."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return {name: np.asarray(make(rng)) for name, make in self.inputs.items()}

    def closed_form(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray((self.closed or CLOSED[self.fn])(**arrays, **self.options), dtype=np.float64)

    def cotangent(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()) + 1)
        return rng.standard_normal(self.closed_form(arrays).shape)

    def wrt(self, arrays: dict[str, np.ndarray]) -> tuple[str, ...]:
        """The float inputs: every one is differentiated."""
        return tuple(name for name, a in arrays.items() if a.dtype.kind == "f")

    def torch_wrt(self, arrays: dict[str, np.ndarray]) -> tuple[str, ...]:
        """The float inputs PyTorch differentiates: not a loss's `weight` or `pos_weight`."""
        layers = ("linear", "embedding", "layer_norm", "conv1d", "conv2d")  # a layer's weight is learnt
        constants = () if self.fn in layers else ("weight", "pos_weight")
        return tuple(name for name in self.wrt(arrays) if name not in constants)


REDUCTIONS = ("mean", "sum", "none")


def per_reduction(id: str, fn: str, inputs: dict[str, Maker], **options: Any) -> list[Case]:
    """The same row for every reduction, and once without `reduction` (the default, "mean")."""
    return [Case(f"{id}-{r}", fn, inputs, {**options, "reduction": r}) for r in REDUCTIONS] + [
        Case(f"{id}-default", fn, inputs, options)]


def softmax_rows(fn: str) -> list[Case]:
    closed = CLOSED[fn]
    return [
        Case(f"{fn}-dim0", fn, {"input": normal(3, 4)}, {"dim": 0}),
        Case(f"{fn}-dim1", fn, {"input": normal(3, 4)}, {"dim": 1}),
        Case(f"{fn}-3d-dim1", fn, {"input": normal(2, 3, 4)}, {"dim": 1}),
        Case(f"{fn}-3d-dim-1", fn, {"input": normal(2, 3, 4)}, {"dim": -1}),
        # PyTorch's implicit dim: 0 for 1-D and 3-D input, 1 for 2-D
        Case(f"{fn}-implicit-1d", fn, {"input": normal(5)}, closed=partial(closed, dim=0)),
        Case(f"{fn}-implicit-2d", fn, {"input": normal(3, 4)}, closed=partial(closed, dim=1)),
        Case(f"{fn}-implicit-3d", fn, {"input": normal(2, 3, 4)}, closed=partial(closed, dim=0)),
        Case(f"{fn}-large-logits", fn, {"input": fixed([[1000.0, 999.0, -1000.0], [-800.0, -801.5, -799.0]])},
             {"dim": 1}),
    ]


def class_index_rows(fn: str) -> list[Case]:
    """nll_loss and cross_entropy with class-index targets, on (N, C) and (N, C, d1) input."""
    rows = []
    for shape, tag in [((4, 3), "NC"), ((2, 3, 4), "NCd1")]:
        target_shape, classes = (shape[0],) + shape[2:], shape[1]
        x = normal(*shape)
        rows += per_reduction(f"{fn}-{tag}", fn, {"input": x, "target": labels(target_shape, classes)})
        rows += per_reduction(f"{fn}-{tag}-weight", fn, {
            "input": x, "target": labels(target_shape, classes), "weight": uniform(0.5, 2.0, classes)})
        rows.append(Case(f"{fn}-{tag}-ignore-default-mean", fn,
                         {"input": x, "target": labels(target_shape, classes, ignore=-100)}))
        # ignore_index a real class: its samples drop out of the loss and of the mean's weight
        rows += per_reduction(f"{fn}-{tag}-weight-ignore1", fn, {
            "input": x, "target": labels(target_shape, classes, ignore=1),
            "weight": uniform(0.5, 2.0, classes)}, ignore_index=1)
    return rows


def cross_entropy_rows() -> list[Case]:
    fn = "cross_entropy"
    rows = class_index_rows(fn)
    for shape, tag in [((4, 3), "NC"), ((2, 3, 4), "NCd1")]:
        target_shape, classes = (shape[0],) + shape[2:], shape[1]
        rows += per_reduction(f"{fn}-{tag}-smoothing", fn,
                              {"input": normal(*shape), "target": labels(target_shape, classes)},
                              label_smoothing=0.2)
        rows += per_reduction(f"{fn}-{tag}-smoothing-weight-ignore", fn, {
            "input": normal(*shape), "target": labels(target_shape, classes, ignore=-100),
            "weight": uniform(0.5, 2.0, classes)}, label_smoothing=0.3)
        # class probabilities as the target
        probs = {"input": normal(*shape), "target": probabilities(*shape)}
        rows += per_reduction(f"{fn}-{tag}-probs", fn, probs)
        rows += per_reduction(f"{fn}-{tag}-probs-weight", fn, {**probs, "weight": uniform(0.5, 2.0, classes)})
        rows += per_reduction(f"{fn}-{tag}-probs-smoothing-weight", fn,
                              {**probs, "weight": uniform(0.5, 2.0, classes)}, label_smoothing=0.25)
    rows.append(Case(f"{fn}-probs-smoothing-mean", fn, {"input": normal(4, 3), "target": probabilities(4, 3)},
                     {"label_smoothing": 0.1}))
    rows.append(Case(f"{fn}-large-logits", fn, {
        "input": fixed([[1000.0, -1000.0, 998.0], [-500.0, -502.0, -499.0]]),
        "target": fixed_labels([1, 2])}))
    rows.append(Case(f"{fn}-unbatched", fn, {"input": normal(5), "target": fixed_labels(3)}))
    rows.append(Case(f"{fn}-unbatched-probs-smoothing", fn, {"input": normal(5), "target": probabilities(5)},
                     {"label_smoothing": 0.1}))
    return rows


def bce_with_logits_rows() -> list[Case]:
    fn = "binary_cross_entropy_with_logits"
    xy = {"input": normal(3, 4, scale=2.0), "target": uniform(0.0, 1.0, 3, 4)}
    weight, pos_weight = uniform(0.5, 2.0, 4), uniform(0.5, 3.0, 4)  # broadcast over the rows
    large = {"input": fixed([[-800.0, -40.0, 35.0, 900.0]]), "target": fixed([[0.2, 1.0, 0.0, 0.7]])}
    return [
        *per_reduction(f"{fn}-plain", fn, xy),
        *per_reduction(f"{fn}-weight", fn, {**xy, "weight": weight}),
        *per_reduction(f"{fn}-pos_weight", fn, {**xy, "pos_weight": pos_weight}),
        *per_reduction(f"{fn}-weight-pos_weight", fn, {**xy, "weight": weight, "pos_weight": pos_weight}),
        Case(f"{fn}-large-logits", fn, large, {"reduction": "none"}),
        Case(f"{fn}-large-logits-pos_weight", fn, {**large, "pos_weight": fixed([2.0, 0.5, 3.0, 1.5])},
             {"reduction": "none"}),
    ]


CASES: list[Case] = [
    Case("linear-2d-weight-bias", "linear",
         {"input": normal(4, 3), "weight": normal(2, 3), "bias": normal(2)}),
    Case("linear-2d-weight", "linear", {"input": normal(4, 3), "weight": normal(2, 3)}),
    Case("linear-2d-weight-1d-input-bias", "linear",
         {"input": normal(3), "weight": normal(2, 3), "bias": normal(2)}),
    Case("linear-2d-weight-3d-input-bias", "linear",
         {"input": normal(2, 4, 3), "weight": normal(2, 3), "bias": normal(2)}),
    Case("linear-1d-weight", "linear", {"input": normal(4, 3), "weight": normal(3)}),
    Case("linear-1d-weight-1d-input-bias", "linear",
         {"input": normal(3), "weight": normal(3), "bias": normal()}),
    Case("relu", "relu", {"input": away_from_zero(3, 4)}),
    Case("sigmoid", "sigmoid", {"input": normal(3, 4, scale=2.0)}),
    Case("sigmoid-large", "sigmoid", {"input": fixed([-800.0, -40.0, 40.0, 800.0])}),
    Case("tanh", "tanh", {"input": normal(3, 4)}),
    # softplus: inputs on both sides of threshold / beta
    Case("softplus-default", "softplus",
         {"input": fixed([-30.0, -2.0, -0.3, 0.0, 0.7, 3.0, 19.5, 20.5, 40.0])}),
    Case("softplus-beta", "softplus",
         {"input": fixed([-4.0, -0.5, 0.25, 2.0, 9.5, 10.5, 30.0])}, {"beta": 2.0}),
    Case("softplus-threshold", "softplus",
         {"input": fixed([-3.0, -0.4, 0.6, 0.9, 1.1, 2.5])}, {"threshold": 1.0}),
    Case("softplus-beta-threshold", "softplus", {"input": fixed([-5.0, -1.0, 0.5, 3.5, 4.5, 7.0])},
         {"beta": 0.5, "threshold": 2.0}),
    # beta * x == threshold exactly: PyTorch takes the soft branch there (linear only above)
    Case("softplus-at-threshold", "softplus",
         {"input": fixed([-1.0, 0.2, 0.5])}, {"beta": 2.0, "threshold": 1.0}, fd="backward"),
    Case("gelu-default", "gelu", {"input": normal(3, 4, scale=2.0)}),
    Case("gelu-none", "gelu", {"input": normal(3, 4, scale=2.0)}, {"approximate": "none"}),
    Case("gelu-tanh", "gelu", {"input": normal(3, 4, scale=2.0)}, {"approximate": "tanh"}),
    Case("gelu-tanh-wide", "gelu",
         {"input": fixed([-9.0, -3.5, -1.5, 1.5, 3.5, 9.0])}, {"approximate": "tanh"}),
    *softmax_rows("softmax"),
    *softmax_rows("log_softmax"),
    *per_reduction("mse_loss", "mse_loss", {"input": normal(3, 4), "target": normal(3, 4)}),
    *per_reduction("l1_loss", "l1_loss",
                   {"input": away_from_zero(3, 4), "target": fixed(np.zeros((3, 4)))}),
    *per_reduction("l1_loss-random-target", "l1_loss", {"input": normal(3, 4), "target": normal(3, 4)}),
    *per_reduction("binary_cross_entropy", "binary_cross_entropy",
                   {"input": uniform(0.05, 0.95, 3, 4), "target": uniform(0.0, 1.0, 3, 4)}),
    *per_reduction("binary_cross_entropy-weight", "binary_cross_entropy", {
        "input": uniform(0.05, 0.95, 3, 4), "target": uniform(0.0, 1.0, 3, 4),
        "weight": uniform(0.5, 2.0, 4)}),
    *bce_with_logits_rows(),
    *class_index_rows("nll_loss"),
    Case("nll_loss-unbatched", "nll_loss",
         {"input": normal(5), "target": fixed_labels(3)}, {"reduction": "none"}),
    *cross_entropy_rows(),
    # pad (more spellings and the cropping negative widths: tests/test_shape_functions.py)
    Case("pad-constant", "pad", {"input": normal(2, 3, 4)}, {"pad": (1, 2)}),
    Case("pad-constant-value", "pad", {"input": normal(2, 3, 4)}, {"pad": (1, 0, 2, 1), "value": 0.5}),
    Case("pad-reflect", "pad", {"input": normal(2, 3, 4)}, {"pad": (2, 1), "mode": "reflect"}),
    Case("pad-reflect-2d", "pad", {"input": normal(2, 3, 4)}, {"pad": (1, 2, 2, 0), "mode": "reflect"}),
    Case("pad-replicate", "pad", {"input": normal(2, 3, 4)}, {"pad": (0, 3), "mode": "replicate"}),
    Case("pad-circular-2d", "pad", {"input": normal(2, 3, 4)}, {"pad": (1, 2, 1, 0), "mode": "circular"}),
    # added by the nn-more branch (more spellings: tests/test_nn_more.py)
    Case("leaky_relu", "leaky_relu", {"input": away_from_zero(3, 4)}),
    Case("leaky_relu-slope", "leaky_relu", {"input": away_from_zero(3, 4)}, {"negative_slope": 0.2}),
    Case("silu", "silu", {"input": normal(3, 4, scale=2.0)}),
    Case("hardtanh", "hardtanh", {"input": fixed([[-2.0, -0.7, 0.3, 1.5], [0.9, -1.2, 0.0, 3.0]])}),
    Case("hardtanh-bounds", "hardtanh", {"input": fixed([-2.0, -0.7, 0.3, 1.5])},
         {"min_val": -0.5, "max_val": 0.8}),
    Case("relu6", "relu6", {"input": fixed([-1.0, 2.0, 5.5, 7.0])}),
    Case("elu", "elu", {"input": away_from_zero(3, 4)}),
    Case("elu-alpha-large", "elu", {"input": fixed([-50.0, -1.0, 0.5, 700.0])}, {"alpha": 1.5}),
    Case("logsigmoid", "logsigmoid", {"input": fixed([-800.0, -3.0, 0.5, 40.0, 800.0])}),
    Case("layer_norm", "layer_norm", {"input": normal(2, 3, 4)}, {"normalized_shape": (4,)}),
    Case("layer_norm-affine-2d", "layer_norm",
         {"input": normal(2, 3, 4), "weight": normal(3, 4), "bias": normal(3, 4)},
         {"normalized_shape": (3, 4), "eps": 1e-3}),
    Case("embedding", "embedding", {"input": fixed_labels([[0, 2], [3, 0]]), "weight": normal(4, 3)}),
    Case("normalize", "normalize", {"input": normal(3, 4)}),
    Case("normalize-p1-dim0", "normalize", {"input": away_from_zero(3, 4)}, {"p": 1.0, "dim": 0}),
    Case("normalize-p3", "normalize", {"input": normal(3, 4)}, {"p": 3.0, "dim": -1}),
    Case("cosine_similarity", "cosine_similarity", {"x1": normal(3, 4), "x2": normal(3, 4)}),
    Case("cosine_similarity-broadcast", "cosine_similarity", {"x1": normal(3, 4), "x2": normal(4)},
         {"dim": -1}),
    Case("pairwise_distance", "pairwise_distance", {"x1": normal(3, 4), "x2": normal(3, 4)}),
    Case("pairwise_distance-p1-keepdim", "pairwise_distance", {"x1": normal(3, 4), "x2": normal(3, 4)},
         {"p": 1.0, "keepdim": True}),
    *per_reduction("smooth_l1_loss", "smooth_l1_loss", {"input": normal(3, 4), "target": normal(3, 4)},
                   beta=0.5),
    *per_reduction("huber_loss", "huber_loss", {"input": normal(3, 4), "target": normal(3, 4)}, delta=0.7),
    *[Case(f"kl_div-{r}", "kl_div", {"input": normal(3, 4), "target": probabilities(3, 4)}, {"reduction": r})
      for r in ("sum", "none", "batchmean")],
    Case("kl_div-log_target", "kl_div", {"input": normal(3, 4), "target": normal(3, 4)},
         {"reduction": "batchmean", "log_target": True}),
    Case("conv1d", "conv1d", {"input": normal(2, 3, 10), "weight": normal(4, 3, 3), "bias": normal(4)},
         {"stride": 2, "padding": 1}),
    Case("conv2d", "conv2d", {"input": normal(2, 3, 6, 5), "weight": normal(4, 3, 3, 2), "bias": normal(4)}),
    Case("conv2d-options", "conv2d", {"input": normal(2, 4, 7, 6), "weight": normal(6, 2, 2, 3)},
         {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}),
    Case("conv2d-unbatched", "conv2d", {"input": normal(3, 5, 5), "weight": normal(2, 3, 3, 3)}),
    Case("max_pool2d", "max_pool2d", {"input": normal(2, 3, 6, 5)}, {"kernel_size": 2}),
    Case("max_pool2d-options", "max_pool2d", {"input": normal(2, 3, 7, 6)},
         {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1}),
    Case("avg_pool2d", "avg_pool2d", {"input": normal(2, 3, 6, 5)}, {"kernel_size": (2, 3), "stride": 1}),
    Case("avg_pool2d-padding", "avg_pool2d", {"input": normal(3, 7, 6)}, {"kernel_size": 3, "stride": 2,
                                                                           "padding": 1}),
]
PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def test_every_function_has_rows() -> None:
    assert len({c.id for c in CASES}) == len(CASES), "two rows share an id"
    assert {c.fn for c in CASES} == set(F.__all__) - NOT_TABULATED == set(CLOSED)


# ---------------------------------------------------------------- helpers

def call(case: Case, arrays: dict[str, Any]) -> Any:
    """The row's function of symgrad.nn.functional on `arrays` (tensors, tracers or arrays).

    Every argument goes by position, in the order of symgrad's signature (defaults filled in):
    tensors given by keyword lose their gradient (see test_eager_tensors_by_keyword)."""
    fn = getattr(F, case.fn)
    bound = inspect.signature(fn).bind(**arrays, **case.options)
    bound.apply_defaults()
    return fn(*bound.args, **bound.kwargs)


def eager(case: Case, arrays: dict[str, np.ndarray], wrt: tuple[str, ...] = ()) -> dict[str, Any]:
    """symgrad tensors of `arrays` (dtype kept); those in `wrt` are leaves that require grad."""
    return {name: symgrad.tensor(a, dtype=a.dtype, requires_grad=name in wrt) for name, a in arrays.items()}


def eager_value_and_grads(case: Case, arrays: dict[str, np.ndarray], ct: np.ndarray,
                          wrt: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The eager value, and the gradients of sum(f * ct) from `.backward()`, one per input in `wrt`."""
    ts = eager(case, arrays, wrt)
    out = call(case, ts)
    (out * ct).sum().backward()
    missing = [name for name in wrt if ts[name].grad is None]
    assert not missing, f"no gradient reached {missing}"
    return np.asarray(out.detach().numpy()), {name: np.asarray(ts[name].grad.numpy()) for name in wrt}


def finite_differences(case: Case, arrays: dict[str, np.ndarray], ct: np.ndarray) -> dict[str, np.ndarray]:
    """Differences of sum(closed_form * ct) in every element of every float input (central, or
    backward, with a smaller step, for a row whose closed form jumps at one of its inputs)."""
    names = list(arrays)
    wrt = case.wrt(arrays)

    def scalar(*xs: np.ndarray) -> float:
        return float(np.sum(case.closed_form(dict(zip(names, xs))) * ct))

    step = FD_STEP if case.fd == "central" else FD_STEP / 10
    grads = differences(scalar, list(arrays.values()), [names.index(n) for n in wrt], step, case.fd)
    return dict(zip(wrt, grads))


def assert_grads_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray], **tol: float) -> None:
    assert set(got) == set(want)
    for name in want:
        assert np.shape(got[name]) == np.shape(want[name]), name
        np.testing.assert_allclose(got[name], want[name], err_msg=f"gradient in {name}", **tol)


# ---------------------------------------------------------------- value and gradient, symgrad alone

@pytest.mark.parametrize("case", PARAMS)
def test_value_matches_closed_form(case: Case) -> None:
    arrays = case.arrays()
    want = case.closed_form(arrays)
    assert np.all(np.isfinite(want)), "the row's inputs leave its closed form undefined"
    with symgrad.no_grad():
        got = np.asarray(call(case, eager(case, arrays)).numpy())
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, err_msg="eager", **EXACT)
    names = list(arrays)
    compiled = symgrad.compile(lambda *xs: call(case, dict(zip(names, xs))))(*arrays.values())
    np.testing.assert_allclose(compiled, want, err_msg="compiled", **EXACT)


@pytest.mark.parametrize("case", PARAMS)
def test_eager_grad_matches_finite_differences(case: Case) -> None:
    arrays = case.arrays()
    ct = case.cotangent(arrays)
    _, grads = eager_value_and_grads(case, arrays, ct, case.wrt(arrays))
    assert_grads_close(grads, finite_differences(case, arrays, ct), **FD_TOL)


@pytest.mark.parametrize("case", PARAMS)
def test_compiled_grad_matches_eager(case: Case) -> None:
    arrays = case.arrays()
    ct = case.cotangent(arrays)
    names, wrt = list(arrays), case.wrt(arrays)

    def loss(*xs: Any) -> Any:
        return np.sum(call(case, dict(zip(names, xs))) * ct)

    compiled = symgrad.grad(loss, argnums=tuple(names.index(n) for n in wrt))(*arrays.values())
    _, want = eager_value_and_grads(case, arrays, ct, wrt)
    assert_grads_close(dict(zip(wrt, compiled)), want, **EXACT)


# ---------------------------------------------------------------- against PyTorch

@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch", exc_type=ImportError)  # a broken install counts as absent


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("case", PARAMS)
def test_matches_torch(torch: Any, case: Case) -> None:
    arrays = case.arrays()
    ct = case.cotangent(arrays)
    wrt = case.torch_wrt(arrays)
    ts = {name: torch.tensor(a, requires_grad=name in wrt) for name, a in arrays.items()}
    out = getattr(torch.nn.functional, case.fn)(**ts, **case.options)
    (out * torch.from_numpy(ct)).sum().backward()
    want = {name: ts[name].grad.numpy() for name in wrt}

    value, grads = eager_value_and_grads(case, arrays, ct, wrt)
    np.testing.assert_allclose(value, out.detach().numpy(), **EXACT)
    assert_grads_close(grads, want, **EXACT)


# ---------------------------------------------------------------- errors

BAD_REDUCTION = {
    "mse_loss": lambda F, x, p, k: F.mse_loss(x, p, reduction="average"),
    "l1_loss": lambda F, x, p, k: F.l1_loss(x, p, reduction="average"),
    "binary_cross_entropy": lambda F, x, p, k: F.binary_cross_entropy(p, p, reduction="average"),
    "binary_cross_entropy_with_logits":
        lambda F, x, p, k: F.binary_cross_entropy_with_logits(x, p, reduction="average"),
    "nll_loss": lambda F, x, p, k: F.nll_loss(x, k, reduction="average"),
    "cross_entropy": lambda F, x, p, k: F.cross_entropy(x, k, reduction="average"),
    "cross_entropy-probs": lambda F, x, p, k: F.cross_entropy(x, p, reduction="average"),
    "cross_entropy-smoothing":
        lambda F, x, p, k: F.cross_entropy(x, k, reduction="average", label_smoothing=0.1),
}


@pytest.mark.parametrize("loss", BAD_REDUCTION.values(), ids=BAD_REDUCTION.keys())
def test_bad_reduction_raises(lib: Any, loss: Callable) -> None:
    x = lib.tensor(np.full((2, 3), 0.5), requires_grad=True)
    p = lib.tensor(np.full((2, 3), 0.25))
    k = lib.tensor(np.array([0, 2]))
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        loss(lib.nn.functional, x, p, k)


def test_gelu_bad_approximate_raises(lib: Any) -> None:
    with pytest.raises((ValueError, RuntimeError), match="approximate argument must be either none or tanh"):
        lib.nn.functional.gelu(lib.tensor([0.5, -1.0]), approximate="tan")


def test_relu_gradient_at_zero_is_zero(lib: Any) -> None:
    x = lib.tensor([0.0, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    lib.nn.functional.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


# ---------------------------------------------------------------- disagreements with PyTorch

def test_gelu_bad_approximate_is_a_runtime_error(lib: Any, request: Any) -> None:
    if lib is symgrad:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "symgrad raises ValueError for a bad `approximate`; PyTorch raises RuntimeError")))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        lib.nn.functional.gelu(lib.tensor([0.5, -1.0]), approximate="tan")


def test_implicit_softmax_dim_warns(lib: Any, request: Any) -> None:
    if lib is symgrad:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "PyTorch warns that the implicit dim of softmax/log_softmax is deprecated; symgrad is silent")))
    x = lib.tensor(np.arange(6.0).reshape(2, 3))
    for fn in (lib.nn.functional.softmax, lib.nn.functional.log_softmax):
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            fn(x)


WIDEST = {fn: max((c for c in CASES if c.fn == fn), key=lambda c: len(c.inputs)) for fn in CLOSED}
KEYWORD_CASES = [pytest.param(c, id=c.id) for c in WIDEST.values()]


def by_keyword(case: Case, arrays: dict[str, Any]) -> Any:
    """F.f(input=x, target=y, ...), every argument by keyword, as PyTorch code may write it."""
    return getattr(F, case.fn)(**arrays, **case.options)


@pytest.mark.parametrize("case", KEYWORD_CASES)
def test_eager_tensors_by_keyword(case: Case) -> None:
    """A tensor passed by keyword (input=, target=, weight=...) gets its gradient, as in PyTorch."""
    arrays = case.arrays()
    ct = case.cotangent(arrays)
    wrt = case.wrt(arrays)
    _, want = eager_value_and_grads(case, arrays, ct, wrt)
    ts = eager(case, arrays, wrt)
    (by_keyword(case, ts) * ct).sum().backward()
    missing = [name for name in wrt if ts[name].grad is None]
    assert not missing, f"no gradient reached {missing}"
    assert_grads_close({name: ts[name].grad.numpy() for name in wrt}, want, **EXACT)


@pytest.mark.parametrize("case", KEYWORD_CASES)
def test_compiled_tensors_by_keyword(case: Case) -> None:
    """Traced values passed by keyword are traced like positional ones."""
    arrays = case.arrays()
    ct = case.cotangent(arrays)
    names, wrt = list(arrays), case.wrt(arrays)

    def loss(*xs: Any) -> Any:
        return np.sum(by_keyword(case, dict(zip(names, xs))) * ct)

    compiled = symgrad.grad(loss, argnums=tuple(names.index(n) for n in wrt))(*arrays.values())
    _, want = eager_value_and_grads(case, arrays, ct, wrt)
    assert_grads_close(dict(zip(wrt, compiled)), want, **EXACT)


def test_binary_cross_entropy_clamps_log_at_minus_100(lib: Any) -> None:
    """log p and log(1 - p) are clamped at -100, so p = 0, 1 or 1e-50 give finite losses."""
    p, t = np.array([1e-50, 1e-60, 0.5, 1.0, 0.0]), np.array([0.3, 1.0, 0.2, 0.4, 0.6])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0), in the closed form and in symgrad
        want = np_binary_cross_entropy(p, t, reduction="none")
        got = lib.nn.functional.binary_cross_entropy(lib.tensor(p), lib.tensor(t), reduction="none")
    np.testing.assert_allclose(want, [30.0, 100.0, math.log(2), 60.0, 60.0], **EXACT)
    np.testing.assert_allclose(got.numpy(), want, **EXACT)


def torch_bce_input_grad(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """PyTorch's backward formula for binary_cross_entropy; its EPSILON is the float32 1e-12."""
    return (p - t) / np.maximum(p * (1 - p), float(np.float32(1e-12)))


def symgrad_bce_input_grad(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """symgrad's eager gradient of binary_cross_entropy(p, t, reduction="sum") in p."""
    x = symgrad.tensor(p, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the log(0) of the forward
        F.binary_cross_entropy(x, symgrad.tensor(t), reduction="sum").backward()
    return x.grad.numpy()


SATURATED = (np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0]))
CLAMPED = (np.array([1e-50, 1e-60]), np.array([0.3, 1.0]))  # log p < -100


def test_binary_cross_entropy_gradient_at_saturated_probabilities() -> None:
    np.testing.assert_allclose(symgrad_bce_input_grad(*SATURATED), torch_bce_input_grad(*SATURATED), **EXACT)


def test_binary_cross_entropy_gradient_where_log_is_clamped() -> None:
    np.testing.assert_allclose(symgrad_bce_input_grad(*CLAMPED), torch_bce_input_grad(*CLAMPED), **EXACT)


@pytest.mark.parametrize("points", [SATURATED, CLAMPED], ids=["saturated", "clamped"])
def test_binary_cross_entropy_gradient_formula_is_torchs(torch: Any, points: tuple) -> None:
    """The expectation of the two tests above is PyTorch's behaviour."""
    p, t = points
    x = torch.tensor(p, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(x, torch.tensor(t), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), torch_bce_input_grad(p, t), **EXACT)
