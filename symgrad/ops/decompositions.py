"""Linear-algebra decompositions: cholesky, solve, inv, det, slogdet, eigh; and the norms.

Each primitive has one output, so a decomposition with several (slogdet's sign and
log|det|, eigh's eigenvalues and eigenvectors) is several primitives on the same input;
a trace computes each once (CSE) and their gradients add up to the joint rule. The VJP rules
are written with these primitives and matmul, so they can be differentiated again. NumPy's
linalg functions broadcast over leading dims, so a batch of examples is one more of those.

`np.linalg.*` (NumPy's names, arguments and result tuples) and `symgrad.linalg.*`,
`symgrad.det`, `Tensor.det()`... (PyTorch's, with its grad_fn names) are declared below.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from symgrad.ops import batching, dims
from symgrad.ops.core import ShapeError, broadcast_shapes, defop
from symgrad.ops.dispatch import apply, composite, function, lift, method, no_out, numpy_function
from symgrad.ops.reduce import SUM


class LinAlgError(np.linalg.LinAlgError, RuntimeError):
    """A matrix an operation cannot take: NumPy's LinAlgError, and a RuntimeError as PyTorch's."""


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])  # NumPy 2's field names
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
return_types_slogdet = namedtuple("slogdet", ["sign", "logabsdet"])  # torch.return_types
return_types_linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
return_types_linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


# ---------------------------------------------------------------- shapes and dtypes

def _square(x: tuple, **params: Any) -> tuple:
    if len(x) < 2 or x[-1] != x[-2]:
        raise ShapeError(f"expected batches of square matrices, got shape {x}")
    return x


def _solve_shape(x: tuple, y: tuple) -> tuple:
    _square(x)
    if len(y) < 2 or y[-2] != x[-1]:
        raise ShapeError(f"cannot solve with a matrix of shape {x} and a right-hand side of shape {y}")
    return broadcast_shapes(x[:-2], y[:-2]) + y[-2:]


def _floating(inputs: tuple, params: dict) -> np.dtype:
    """NumPy's linalg results: the inputs' float type, float64 for integers."""
    dt = np.result_type(*inputs)
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def check_square(name: str, a: Any) -> Any:
    """`a` as a value, or NumPy's and PyTorch's error for something not a stack of square matrices."""
    x = lift(a)
    if x.ndim < 2:
        raise LinAlgError(f"{name}: {x.ndim}-dimensional array given. Array must be at least "
                          "two-dimensional")
    if x.shape[-1] != x.shape[-2]:
        raise LinAlgError(f"{name}: Last 2 dimensions of the array must be square: A must be batches "
                          f"of square matrices, but they are {x.shape[-2]} by {x.shape[-1]} matrices")
    return x


def _mT(v: Any) -> Any:
    """The transpose of each matrix of a stack."""
    return v.swapaxes(-1, -2)


def _matrix(v: Any) -> Any:
    """A per-matrix scalar (shape `(...)`) as `(..., 1, 1)`, to scale a stack of matrices."""
    return v.unsqueeze(-1).unsqueeze(-1)


# ---------------------------------------------------------------- primitives

def _cholesky_vjp(ct, ans, x):
    # PyTorch's (and JAX's) symmetric rule: with P = tril(L^T ct), Phi(P) = P with its
    # diagonal halved, dA = L^-T sym(Phi(P)) L^-1; the triangular solves are general solves
    n = ans.shape[-1]
    p = (_mT(ans) @ ct).where(np.tril(np.ones((n, n), bool)), 0.0)
    s = 0.5 * (p + _mT(p.where(np.tril(np.ones((n, n), bool), -1), 0.0)))
    left = apply(SOLVE, _mT(ans), s)  # L^-T S
    return _mT(apply(SOLVE, _mT(ans), _mT(left)))  # (L^-T (L^-T S)^T)^T = L^-T S L^-1


def _solve_vjp_a(ct, ans, x, y):
    return -(apply(SOLVE, _mT(x), ct) @ _mT(ans))


def _solve_vjp_b(ct, ans, x, y):
    return apply(SOLVE, _mT(x), ct)


def _inv_vjp(ct, ans, x):
    return -(_mT(ans) @ ct @ _mT(ans))


def _det_vjp(ct, ans, x):
    return _matrix(ct * ans) * _mT(apply(INV, x))


def _logabsdet_vjp(ct, ans, x):
    return _matrix(ct) * _mT(apply(INV, x))


def _eigvalsh_vjp(ct, ans, x):
    vectors = apply(EIGH_VECTORS, x)
    return (vectors * ct.unsqueeze(-2)) @ _mT(vectors)


def _eigh_vectors_vjp(ct, ans, x):
    # PyTorch's rule: V (skew(V^T ct) / (w_j - w_i)) V^T, off the diagonal; it needs distinct
    # eigenvalues. The eigenvalues' own part, V diag(ct_w) V^T, is `_eigvalsh_vjp`'s
    n = ans.shape[-1]
    off = ~np.eye(n, dtype=bool)
    w = apply(EIGVALSH, x)
    gap = (w.unsqueeze(-2) - w.unsqueeze(-1)).where(off, 1.0)
    vtg = _mT(ans) @ ct
    return ans @ ((0.5 * (vtg - _mT(vtg))) / gap) @ _mT(ans)


CHOLESKY = defop("cholesky", "np.linalg.cholesky({x})", shape=_square, dtype=_floating,
                 grad_fn="LinalgCholeskyExBackward0", batch=batching.unary, vjps=(_cholesky_vjp,),
                 doc="The lower Cholesky factor L of a symmetric positive-definite A = L L^T.")
SOLVE = defop("solve", "np.linalg.solve({x}, {y})", shape=_solve_shape, dtype=_floating,
              grad_fn="LinalgSolveExBackward0", batch=batching.elementwise,
              vjps=(_solve_vjp_a, _solve_vjp_b),
              doc="X with A X = B, B a stack of matrices (a vector right-hand side is a column).")
INV = defop("inv", "np.linalg.inv({x})", shape=_square, dtype=_floating, grad_fn="LinalgInvExBackward0",
            batch=batching.unary, vjps=(_inv_vjp,), doc="The inverse of a square matrix.")
DET = defop("det", "np.linalg.det({x})", shape=lambda x: _square(x)[:-2], dtype=_floating,
            grad_fn="LinalgDetBackward0", batch=batching.unary, vjps=(_det_vjp,),
            doc="The determinant of a square matrix.")
LOGABSDET = defop("logabsdet", "np.linalg.slogdet({x})[1]", shape=lambda x: _square(x)[:-2], dtype=_floating,
                  grad_fn="LinalgSlogdetBackward0", batch=batching.unary, vjps=(_logabsdet_vjp,),
                  doc="log |det A|, slogdet's second result.")
SLOGDET_SIGN = defop("slogdet_sign", "np.linalg.slogdet({x})[0]", shape=lambda x: _square(x)[:-2],
                     dtype=_floating, grad_fn="LinalgSlogdetBackward0", batch=batching.unary, vjps=(None,),
                     doc="The sign of det A (-1, 0 or 1), slogdet's first result: no gradient.")
EIGVALSH = defop("eigvalsh", "np.linalg.eigvalsh({x})", shape=lambda x: _square(x)[:-1], dtype=_floating,
                 grad_fn="LinalgEighBackward0", batch=batching.unary, vjps=(_eigvalsh_vjp,),
                 doc="Eigenvalues, ascending, of a symmetric matrix (its lower triangle).")
EIGH_VECTORS = defop("eigh_vectors", "np.linalg.eigh({x})[1]", shape=_square, dtype=_floating,
                     grad_fn="LinalgEighBackward0", batch=batching.unary, vjps=(_eigh_vectors_vjp,),
                     doc="Orthonormal eigenvectors (columns) of a symmetric matrix, as eigh orders them.")


# ---------------------------------------------------------------- NumPy's np.linalg

def _lower(x: Any, uplo: str) -> Any:
    """The matrix whose lower triangle is the one `UPLO` names."""
    if uplo not in ("L", "U"):
        raise ValueError(f"UPLO argument must be 'L' or 'U', got {uplo!r}")
    return x if uplo == "L" else _mT(x)


@numpy_function(np.linalg.cholesky)
def _np_cholesky(a, /, *, upper=False):
    factor = apply(CHOLESKY, check_square("cholesky", a))
    return _mT(factor) if upper else factor


@composite("LinalgSolveExBackward0")
def _solve_vector(a: Any, b: Any) -> Any:
    """A X = b for a (batch of) vector(s) b: the solve of a one-column matrix."""
    return apply(SOLVE, a, lift(b, a, b).unsqueeze(-1)).squeeze(-1)


@composite("LinalgSolveExBackward0")
def _solve_right(a: Any, b: Any) -> Any:
    """X A = B, as A^T X^T = B^T."""
    return _mT(apply(SOLVE, _mT(a), _mT(lift(b, a, b))))


def _solve(a: Any, b: Any, vector: bool) -> Any:
    return _solve_vector(a, b) if vector else apply(SOLVE, a, b)


@numpy_function(np.linalg.solve)
def _np_solve(a, b):
    return _solve(check_square("solve", a), b, np.ndim(b) == 1)


@numpy_function(np.linalg.inv)
def _np_inv(a):
    return apply(INV, check_square("inv", a))


@numpy_function(np.linalg.det)
def _np_det(a):
    return apply(DET, check_square("det", a))


@numpy_function(np.linalg.slogdet)
def _np_slogdet(a):
    x = check_square("slogdet", a)
    return SlogdetResult(apply(SLOGDET_SIGN, x), apply(LOGABSDET, x))


@numpy_function(np.linalg.eigh)
def _np_eigh(a, UPLO="L"):
    x = _lower(check_square("eigh", a), UPLO)
    return EighResult(apply(EIGVALSH, x), apply(EIGH_VECTORS, x))


@numpy_function(np.linalg.eigvalsh)
def _np_eigvalsh(a, UPLO="L"):
    return apply(EIGVALSH, _lower(check_square("eigvalsh", a), UPLO))


# ---------------------------------------------------------------- PyTorch's torch.linalg

@composite(lambda x, name: name)
def _upper_factor(x: Any, name: str) -> Any:
    """The upper Cholesky factor U = L^T, shown in eager mode as one node named `name`."""
    return _mT(apply(CHOLESKY, x))


def _factor(x: Any, upper: bool, name: str) -> Any:
    return _upper_factor(x, name) if upper else apply(CHOLESKY, x, _name=name)


@function(name="linalg.cholesky")
def linalg_cholesky(A: Any, *, upper: bool = False, out: Any = None) -> Any:
    """The Cholesky factor of symmetric positive-definite A (lower, or upper with `upper`)."""
    no_out("linalg.cholesky", out)
    return _factor(check_square("linalg.cholesky", A), upper, "LinalgCholeskyExBackward0")


@function(name="linalg.solve")
def linalg_solve(A: Any, B: Any, *, left: bool = True, out: Any = None) -> Any:
    """X with A X = B (X A = B with left=False); B a (batch of) vector(s) or matrices."""
    no_out("linalg.solve", out)
    a = check_square("linalg.solve", A)
    b = lift(B, A, B)
    if not left:
        return _solve_right(a, b)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    return _solve(a, b, vector)


@function(name="linalg.inv")
def linalg_inv(A: Any, *, out: Any = None) -> Any:
    """The inverse of a square matrix (or of each of a batch)."""
    no_out("linalg.inv", out)
    return apply(INV, check_square("linalg.inv", A))


@function(name="linalg.det")
def linalg_det(A: Any, *, out: Any = None) -> Any:
    """The determinant of a square matrix (or of each of a batch)."""
    no_out("linalg.det", out)
    return apply(DET, check_square("linalg.det", A))


@function(name="linalg.slogdet")
def linalg_slogdet(A: Any, *, out: Any = None) -> Any:
    """(sign, logabsdet) of det A: its sign (no gradient) and log |det A|, without overflow."""
    no_out("linalg.slogdet", out)
    x = check_square("linalg.slogdet", A)
    return return_types_linalg_slogdet(apply(SLOGDET_SIGN, x), apply(LOGABSDET, x))


@function(name="linalg.eigh")
def linalg_eigh(A: Any, UPLO: str = "L", *, out: Any = None) -> Any:
    """(eigenvalues, eigenvectors) of a symmetric matrix; eigenvector gradients need distinct eigenvalues."""
    no_out("linalg.eigh", out)
    x = _lower(check_square("linalg.eigh", A), UPLO)
    return return_types_linalg_eigh(apply(EIGVALSH, x), apply(EIGH_VECTORS, x))


@function(name="linalg.eigvalsh")
def linalg_eigvalsh(A: Any, UPLO: str = "L", *, out: Any = None) -> Any:
    """Eigenvalues, ascending, of a symmetric matrix."""
    no_out("linalg.eigvalsh", out)
    return apply(EIGVALSH, _lower(check_square("linalg.eigvalsh", A), UPLO))


# ---------------------------------------------------------------- torch.* functions and methods

@method("det", function=True)
def det(self):
    """The determinant of a square matrix (or of each of a batch)."""
    return apply(DET, check_square("det", self))


@method("inverse", function=True)
def inverse(self):
    """The inverse of a square matrix (or of each of a batch)."""
    return apply(INV, check_square("inverse", self))


@method("slogdet", function=True)
def slogdet(self):
    """(sign, logabsdet) of det A, as torch.slogdet."""
    x = check_square("slogdet", self)
    return return_types_slogdet(apply(SLOGDET_SIGN, x), apply(LOGABSDET, x))


@method("logdet", function=True)
def logdet(self):
    """log det A: nan where det A < 0 (PyTorch's `where` of slogdet's results)."""
    x = check_square("logdet", self)
    return apply(LOGABSDET, x).where(apply(SLOGDET_SIGN, x) >= 0, np.nan)


@method("cholesky", function=True)
def cholesky(self, upper=False):
    """The Cholesky factor, as the deprecated torch.cholesky (CholeskyBackward0)."""
    return _factor(check_square("cholesky", self), upper, "CholeskyBackward0")


# ---------------------------------------------------------------- norms (composites)

def _is(ord: Any, value: float) -> bool:
    return not isinstance(ord, str) and ord == value


@composite(lambda *a, **k: "LinalgVectorNormBackward0")
def vector_norm_of(x: Any, ord: Any, axes: tuple, keepdim: bool) -> Any:
    """(sum |x|^ord)^(1/ord) over `axes`, with the limits ord = inf, -inf, 0 (the count of
    non-zeros); for ord 2 the sqrt of a sum of squares, as NumPy computes it."""
    if isinstance(ord, str) or ord is None:
        raise ValueError(f"Invalid norm order {ord!r} for vectors")
    if _is(ord, np.inf):
        return x.abs().amax(axes, keepdim=keepdim)
    if _is(ord, -np.inf):
        return x.abs().amin(axes, keepdim=keepdim)
    if _is(ord, 0):
        return (x != 0).astype(x.dtype).sum(axes, keepdim=keepdim)
    if _is(ord, 1):
        return x.abs().sum(axes, keepdim=keepdim)
    if _is(ord, 2):
        return _root((x * x).sum(axes, keepdim=keepdim), 2)
    return _root((x.abs() ** ord).sum(axes, keepdim=keepdim), ord)


def _root(total: Any, ord: float) -> Any:
    """total^(1/ord), with PyTorch's zero gradient where total is 0 (where the root's own
    derivative is infinite), rather than 0 * inf = nan."""
    if ord < 0:
        return total ** (1.0 / ord)
    nonzero = total != 0
    safe = total.where(nonzero, 1.0)
    return (safe.sqrt() if ord == 2 else safe ** (1.0 / ord)).where(nonzero, 0.0)


def _singular_values(x: Any) -> Any:
    """The singular values of each matrix (last two dims): the square roots of the eigenvalues
    of the smaller Gram matrix; exact to first order where they are distinct from zero."""
    gram = _mT(x) @ x if x.shape[-2] >= x.shape[-1] else x @ _mT(x)
    w = apply(EIGVALSH, gram)
    return w.where(w > 0, 0.0).sqrt()


def matrix_norm_of(x: Any, ord: Any, axes: tuple[int, int], keepdim: bool) -> Any:
    """NumPy's and PyTorch's matrix norms over the pair of `axes` (rows, columns)."""
    row, col = axes
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord is None or ord == "fro":
        return vector_norm_of(x, 2, tuple(sorted(axes)), keepdim)
    if ord == "nuc" or _is(ord, 2) or _is(ord, -2):
        order = [k for k in range(x.ndim) if k not in axes] + [row, col]
        s = _singular_values(x.permute(order))
        if ord == "nuc":
            out = apply(SUM, s, axes=(s.ndim - 1,), keepdims=False, _name="SumBackward1")
        else:
            out = s.amax(-1) if ord == 2 else s.amin(-1)
        if not keepdim:
            return out
        return out.unsqueeze(-1).unsqueeze(-1).permute(tuple(np.argsort(order)))  # as PyTorch
    elif any(_is(ord, v) for v in (1, -1, np.inf, -np.inf)):
        # as PyTorch: the largest (smallest) absolute column (row) sum, over the dims left
        summed, then = (row, col) if abs(ord) == 1 else (col, row)
        sums = x.abs().sum(summed, keepdim=keepdim)
        then -= 1 if not keepdim and summed < then else 0
        return sums.amax(then, keepdim=keepdim) if ord > 0 else sums.amin(then, keepdim=keepdim)
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices.")


def _norm(x: Any, ord: Any, dim: Any, keepdim: bool) -> Any:
    """NumPy's `norm` and PyTorch's `linalg.norm`: a vector norm over one dim, a matrix norm
    over two; with neither, of the flattened value (ord None) or of a 1-D or 2-D value."""
    if dim is None:
        if ord is None:
            return vector_norm_of(x, 2, tuple(range(x.ndim)), keepdim)
        if x.ndim not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        dim = tuple(range(x.ndim))
    axes = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if len(axes) == 1:
        return vector_norm_of(x, 2 if ord is None else ord, dims.axes(axes, x.ndim), keepdim)
    if len(axes) == 2:
        return matrix_norm_of(x, ord, tuple(dims.axis(d, x.ndim) for d in axes), keepdim)
    raise ValueError("Improper number of dimensions to norm.")


@numpy_function(np.linalg.norm)
def _np_norm(x, ord=None, axis=None, keepdims=False):
    return _norm(lift(x), ord, axis, bool(keepdims))


@function(name="linalg.norm")
def linalg_norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *, out: Any = None,
                dtype: Any = None) -> Any:
    """A vector norm (one dim) or a matrix norm (two dims), as torch.linalg.norm."""
    no_out("linalg.norm", out, dtype=dtype)
    return _norm(lift(A), ord, dim, keepdim)


@function(name="linalg.vector_norm")
def linalg_vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                       out: Any = None, dtype: Any = None) -> Any:
    """(sum |x|^ord)^(1/ord) over `dim` (all dims by default)."""
    no_out("linalg.vector_norm", out, dtype=dtype)
    v = lift(x)
    return vector_norm_of(v, ord, dims.axes(dim, v.ndim), keepdim)


@function(name="linalg.matrix_norm")
def linalg_matrix_norm(A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                       out: Any = None, dtype: Any = None) -> Any:
    """A matrix norm ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) over the two dims `dim`."""
    no_out("linalg.matrix_norm", out, dtype=dtype)
    v = lift(A)
    if v.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    return matrix_norm_of(v, ord, tuple(dims.axis(d, v.ndim) for d in dim), keepdim)


@method("norm", function=True)
def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (2-norm over `dim`, all by default), 'nuc', or a vector p-norm."""
    axes = dims.axes(dim, self.ndim)
    if isinstance(p, str):
        if p == "fro" and (dim is None or len(axes) <= 2):
            return vector_norm_of(self, 2, axes, keepdim)
        if len(axes) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(axes)}")
        return matrix_norm_of(self, p, tuple(dims.axis(d, self.ndim) for d in dim or axes), keepdim)
    return vector_norm_of(self, 2.0 if p is None else p, axes, keepdim)
