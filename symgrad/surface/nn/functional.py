"""PyTorch's `torch.nn.functional`, as composites of registered ops, all numerically stable.

Losses take `reduction=` "mean" (default), "sum" or "none"; eager mode names their
`grad_fn` as PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symgrad.ops import OPS, Value, apply, lift
from symgrad.ops.arrange import pad
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


def softmax(input: Any, dim: int | None = None) -> Value:
    return _softmax(input, _implicit_dim(input, dim))


def log_softmax(input: Any, dim: int | None = None) -> Value:
    return _log_softmax(input, _implicit_dim(input, dim))


def _implicit_dim(input: Any, dim: int | None) -> int:
    # PyTorch's legacy rule when dim is omitted: 0 for 0-, 1- and 3-D input, else 1
    return dim if dim is not None else (0 if input.ndim in (0, 1, 3) else 1)


def _linear_name(input: Any, weight: Any, bias: Any = None) -> str:
    """PyTorch's grad_fn for linear: addmm (mm) on a batch of rows, a view around it otherwise."""
    ndim = np.ndim(input)
    if np.ndim(weight) == 1:  # a vector of weights: a matrix-vector (or dot) product
        return "AddBackward0" if bias is not None else "DotBackward0" if ndim == 1 else "MvBackward0"
    if ndim == 2:
        return "MmBackward0" if bias is None else "AddmmBackward0"
    if bias is not None:
        return "ViewBackward0"
    return "SqueezeBackward4" if ndim == 1 else "UnsafeViewBackward0"


@composite(_linear_name)
def linear(input: Any, weight: Any, bias: Any = None) -> Value:
    """input @ weight.T + bias."""
    out = input @ weight.t() if np.ndim(weight) == 2 else input @ weight
    return out if bias is None else out + bias


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
    """-[t log p + (1 - t) log(1 - p)] for probabilities p; logs clamped at -100 like PyTorch."""
    _check(reduction)
    _same_shape(input, target, "Using a target")
    log_p = input.log().clamp(min=-100)
    log_q = (1 - input).log().clamp(min=-100)
    loss = -(target * log_p + (1 - target) * log_q)
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
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "gelu", "l1_loss",
    "linear", "log_softmax", "mse_loss", "nll_loss", "pad", "relu", "sigmoid", "softmax", "softplus",
    "tanh",
]
