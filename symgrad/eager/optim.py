"""Optimizers with torch.optim's API and update rules: `SGD`, `Adam`, `AdamW`, `RMSprop`.

A step reads each parameter's `.grad` and rewrites the parameter's NumPy array in place,
outside autograd (PyTorch runs `step` under `no_grad` too), so no history is recorded and
the parameter stays the same leaf tensor.

    opt = symgrad.optim.SGD([w, b], lr=0.1, momentum=0.9)
    for x, y in data:
        opt.zero_grad()
        loss_fn(x, y).backward()
        opt.step()
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from symgrad.eager.modes import enable_grad, no_grad
from symgrad.eager.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def _typename(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _written(p: Tensor) -> None:
    """Record an in-place write to `p`, as PyTorch's `param.add_` does, so that backward
    through a graph that saved `p` before the step raises instead of using the new values."""
    counter = p._vc  # the counter itself when it exists (the property's call saved)
    if counter is None:
        counter = p._version_counter
    counter[0] += 1


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state, `zero_grad`, `step`.

    Args:
        params: an iterable of Tensors, or of dicts ("param groups") that hold a list of
            tensors under "params" and any options that override `defaults` for that group.
        defaults: every option of the optimizer with its default value.

    `param_groups` is a list of dicts holding "params" and every option; `state` maps each
    parameter (the tensor itself) to a dict of what the optimizer keeps for it. A subclass
    implements `_update(p, grad, group)`.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the others from `defaults`).

        Example: `opt.add_param_group({"params": [head_w], "lr": 1e-2})`.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use a "
                            "list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        # tensors hash by identity, and sets compare with `is` first: no elementwise `==` here
        if len(set(params)) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", UserWarning, stacklevel=2)
        if any(not set(params).isdisjoint(group["params"]) for group in self.param_groups):
            raise ValueError("some parameters appear in more than one parameter group")
        # PyTorch completes the caller's dict in place, so edits to it after adding still count
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the `.grad` of every parameter: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None  # the setter's check of a shape is for a tensor, not None
                elif grad.grad_fn is None and grad._data.flags.writeable:
                    grad.zero_()  # in place, so a reference to the old `.grad` sees zeros too
                else:
                    # a grad made with create_graph=True belongs to a graph (and may share its
                    # buffers): detach it by putting fresh zeros in its place
                    p.grad = Tensor(np.zeros_like(p._data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a `.grad`; return `closure()` (or None).

        `closure` re-evaluates the model: it typically calls `zero_grad`, computes the loss,
        calls `backward` and returns the loss. It runs with grad mode on.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """`_update` each parameter of `group` that has a `.grad`, and record the write."""
        for p in group["params"]:
            if p._grad is None:
                continue
            # a user-assigned grad may have another dtype: the update keeps p's dtype
            grad = p._grad._data.astype(p._data.dtype, copy=False)
            self._update(p, grad, group)
            _written(p)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        """Update `p._data` in place from its gradient `grad` (never write into `grad`)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join([*lines, ")"])


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as `torch.optim.SGD`.

    For a parameter p with gradient g (-g when `maximize`), each step does::

        g = g + weight_decay * p
        b = g  on the first step,  else  b = momentum * b + (1 - dampening) * g
        g = g + momentum * b  if nesterov  else  b          (when momentum != 0)
        p = p - lr * g

    Example: `opt = SGD(params, lr=0.1, momentum=0.9, nesterov=True)`.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """Plain SGD (no momentum, weight decay or maximize), the common case, in one loop:
        `p -= lr * g` as a hand-written step does it, without a call per parameter."""
        if group["momentum"] != 0 or group["weight_decay"] != 0 or group["maximize"]:
            super()._update_group(group)
            return
        lr = group["lr"]
        for p in group["params"]:
            g = p._grad
            if g is None:
                continue
            data, grad = p._data, g._data
            if grad.dtype != data.dtype:  # a user-assigned grad of another dtype
                grad = grad.astype(data.dtype)
            data -= lr * grad
            counter = p._vc  # `_written(p)`, inlined
            if counter is None:
                counter = p._version_counter
            counter[0] += 1

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        momentum = group["momentum"]
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                # the first buffer is the gradient itself: no dampening on step one
                buf = state["momentum_buffer"] = Tensor(grad.copy())
            else:
                buf._data *= momentum
                buf._data += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf._data if group["nesterov"] else buf._data
        p._data -= group["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba), with the update of `torch.optim.Adam`.

    For a parameter p with gradient g (-g when `maximize`), at step t = 1, 2, ...::

        g = g + weight_decay * p                 (L2 penalty; AdamW decays p itself instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                    (amsgrad: v_max is used in place of v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    `state[p]` holds "step" (an int; PyTorch keeps a 0-d tensor), "exp_avg" (m),
    "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq" (tensors).
    Example: `opt = Adam(params, lr=1e-3, amsgrad=True)`.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor(np.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor(np.zeros_like(p._data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor(np.zeros_like(p._data))
        state["step"] += 1
        step = state["step"]

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p._data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p._data

        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp_, the same rounding
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            exp_avg_sq = max_exp_avg_sq  # normalise by the largest second moment so far

        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + group["eps"]
        p._data -= lr / bias_correction1 * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`.

    The decay shrinks the parameter, `p = p * (1 - lr * weight_decay)`, before the Adam step
    instead of entering the gradient, so it never reaches the moment estimates.
    Example: `opt = AdamW(params, lr=1e-3, weight_decay=1e-2)`.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    """RMSprop (Hinton), with the update of `torch.optim.RMSprop`.

    For a parameter p with gradient g (-g when `maximize`), each step does::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        m = alpha * m + (1 - alpha) * g          (centered only; v - m**2 is used for v)
        d = g / (sqrt(v) + eps)
        b = momentum * b + d;  d = b             (when momentum > 0)
        p = p - lr * d

    `state[p]` holds "step", "square_avg" (v) and, as needed, "grad_avg" (m) and
    "momentum_buffer" (b). Example: `opt = RMSprop(model.parameters(), lr=1e-3)`.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        alpha = group["alpha"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor(np.zeros_like(p._data))
            if group["momentum"] > 0:
                state["momentum_buffer"] = Tensor(np.zeros_like(p._data))
            if group["centered"]:
                state["grad_avg"] = Tensor(np.zeros_like(p._data))
        state["step"] += 1
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            grad_avg += (1 - alpha) * (grad - grad_avg)  # PyTorch's lerp_
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._data
            buf *= group["momentum"]
            buf += grad / avg
            p._data -= group["lr"] * buf
        else:
            p._data -= group["lr"] * grad / avg


__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD"]
