"""symgrad: differentiate NumPy-style code, eagerly (PyTorch semantics) or compiled to NumPy.

    import symgrad as torch          # eager: the torch.autograd basics on NumPy
    symgrad.grad(f)(x)               # compiled: trace, differentiate, simplify, generate
"""

import sys
from collections.abc import Callable
from typing import Any

from symgrad.api import (
    compile,
    config,
    debug_nans,
    elementwise_grad,
    explain_retraces,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    value_and_grad,
    vjp,
)
from symgrad.eager import autograd, func, nn, optim
from symgrad.eager.creation import (
    Generator,
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from symgrad.eager.creation import range as range  # noqa: A004 - torch's; kept out of __all__
from symgrad.eager.devices import accelerator, backends, cuda, get_default_device, set_default_device
from symgrad.eager.dtypes import (
    bool_,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from symgrad.eager.modes import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from symgrad.eager.tensor import Size, Tensor, device, result_type
from symgrad.extend import check_grads, custom_vjp, extend
from symgrad.ir import Graph
from symgrad.ops import ShapeError
from symgrad.ops.dispatch import lift
from symgrad.surface.functions import *  # noqa: F403 - the op functions: exp, matmul, sum, ...
from symgrad.surface.functions import __all__ as _functions
from symgrad.surface.functions import linalg, special
from symgrad.tracing import tracer as _tracer
from symgrad.tracing.tracer import Traced, TracerError


def trace(fn: Callable | Any, *args: Any, **kwargs: Any) -> Traced | Any:
    """`trace(fn, *example_args)`: `fn` traced into a graph (a `Traced`, see
    `symgrad.tracing.tracer.trace`). Given a tensor or array instead of a function, PyTorch's
    `torch.trace(input)`: the sum of the matrix's diagonal, as `input.trace()`."""
    if callable(fn):
        return _tracer.trace(fn, *args, **kwargs)
    if args or kwargs:
        raise TypeError("trace(input) takes a matrix alone; to trace a function, pass the function first")
    return lift(fn).trace()


# PyTorch's module paths: `symgrad.autograd.grad`, `import symgrad.optim`, `symgrad.nn.functional`
sys.modules.update({"symgrad.autograd": autograd, "symgrad.autograd.functional": autograd.functional,
                    "symgrad.func": func, "symgrad.optim": optim, "symgrad.nn": nn,
                    "symgrad.nn.functional": nn.functional, "symgrad.nn.init": nn.init,
                    "symgrad.nn.utils": nn.utils, "symgrad.linalg": linalg,
                    "symgrad.special": special, "symgrad.accelerator": accelerator, "symgrad.cuda": cuda,
                    "symgrad.backends": backends, "symgrad.backends.mps": backends.mps})

bool = bool_  # noqa: A001 - PyTorch's names for the dtypes
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16
half = float16

__all__ = [
    "accelerator", "arange", "as_tensor", "autograd", "backends", "bernoulli", "bool", "check_grads",
    "compile", "config", "cuda", "custom_vjp", "debug_nans", "device", "double", "elementwise_grad", "empty",
    "empty_like", "enable_grad", "explain_retraces", "extend", "eye", "finfo", "float", "float16",
    "float32", "float64", "from_numpy", "full", "full_like", "func", "Generator", "get_default_device",
    "get_default_dtype", "grad", "Graph", "half", "hessian", "hvp", "iinfo", "inference_mode", "int",
    "int16", "int32", "int64", "int8", "is_grad_enabled", "jacfwd", "jacobian", "jacrev", "jvp", "linalg",
    "linearize", "linspace", "logspace", "long",
    "manual_seed", "multinomial", "nn", "no_grad", "normal", "ones", "ones_like", "optim", "rand",
    "rand_like", "randint", "randn", "randn_like", "randperm", "result_type", "set_default_device",
    "set_default_dtype", "set_grad_enabled", "ShapeError", "short", "Size", "special", "Tensor",
    "tensor", "trace", "Traced", "TracerError", "uint8", "value_and_grad", "vjp", "zeros", "zeros_like",
    *_functions,
]
