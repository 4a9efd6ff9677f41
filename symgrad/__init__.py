"""symgrad: differentiate NumPy-style code, eagerly (PyTorch semantics) or compiled to NumPy.

    import symgrad as torch          # eager: the torch.autograd basics on NumPy
    symgrad.grad(f)(x)               # compiled: trace, differentiate, simplify, generate
"""

from symgrad import autograd, nn
from symgrad.api import compile, grad, value_and_grad
from symgrad.engine import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from symgrad.functions import *  # noqa: F403 - the op functions: exp, matmul, sum, ...
from symgrad.functions import __all__ as _functions
from symgrad.graph import Graph
from symgrad.ops import ShapeError
from symgrad.surface import mean
from symgrad.tensor import (
    Tensor,
    bool_,
    eye,
    float32,
    float64,
    get_default_dtype,
    int64,
    manual_seed,
    ones,
    ones_like,
    randn,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from symgrad.tracer import Traced, TracerError, trace

bool = bool_  # noqa: A001 - PyTorch's name for the dtype
float = float32  # noqa: A001
double = float64
long = int64

__all__ = [
    "Graph", "ShapeError", "autograd", "inference_mode", "set_grad_enabled", "Tensor", "Traced", "TracerError", "bool", "compile", "double",
    "enable_grad", "eye", "float", "float32", "float64", "get_default_dtype", "grad", "int64",
    "is_grad_enabled", "long", "manual_seed", "mean", "nn", "no_grad", "ones", "ones_like",
    "randn", "set_default_dtype", "tensor", "trace", "value_and_grad", "zeros", "zeros_like",
    *_functions,
]
