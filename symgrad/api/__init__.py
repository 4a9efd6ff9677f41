"""The compiled face: `compile`, `grad`, `value_and_grad`, `elementwise_grad`, `vjp`, `jacobian`,
`hessian`; forward mode: `jvp`, `linearize`, `hvp`, `jacfwd`, `jacrev`.

`transforms` traces, differentiates, simplifies and generates code once per signature;
`signature` holds the cache keys and the retrace explanations; `config` the switches.
"""

from symgrad.api import fused as _fused  # noqa: F401 - installs itself: eager composites fuse
from symgrad.api.config import config, debug_nans, explain_retraces
from symgrad.api.forward import hvp, jacfwd, jacrev, jvp, linearize
from symgrad.api.transforms import compile, elementwise_grad, grad, hessian, jacobian, value_and_grad, vjp

__all__ = ["compile", "config", "debug_nans", "elementwise_grad", "explain_retraces", "grad", "hessian",
           "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "value_and_grad", "vjp"]
