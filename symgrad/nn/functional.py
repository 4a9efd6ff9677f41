"""PyTorch's `torch.nn.functional`, as composites of registered ops."""

from __future__ import annotations

from typing import Any

from symgrad.ops import OPS
from symgrad.surface import Surface, apply, composite

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Surface, reduction: str) -> Surface:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def sigmoid(input: Any) -> Surface:
    """1 / (1 + exp(-input)), computed without overflow."""
    return apply(OPS["sigmoid"], input)


def softplus(input: Any) -> Surface:
    """log(1 + exp(input)), computed without overflow."""
    return apply(OPS["softplus"], input)


def tanh(input: Any) -> Surface:
    return apply(OPS["tanh"], input)


@composite("BinaryCrossEntropyWithLogitsBackward0")
def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Surface:
    """Binary cross-entropy of `sigmoid(input)` against `target`, stable for any logit.

    Uses softplus(x) - t * x, which equals -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].
    """
    _check_reduction(reduction)
    if tuple(getattr(target, "shape", ())) != tuple(input.shape):
        raise ValueError(
            f"Target size ({tuple(getattr(target, 'shape', ()))}) must be the same as input size "
            f"({tuple(input.shape)})")
    return _reduce(softplus(input) - target * input, reduction)
