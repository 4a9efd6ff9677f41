"""The eager engine: `Tensor`, grad modes, the recorded graph and its backward walk, `autograd`,
`optim`: PyTorch's semantics on NumPy arrays."""

from symgrad.eager import raw  # noqa: F401 - installs the raw backward into the engine
