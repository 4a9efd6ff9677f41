"""Linear-algebra decompositions: cholesky, solve, inv, det, slogdet, eigh, svd, qr (with pinv
and lstsq through the SVD); and the norms.

Each primitive has one output, so a decomposition with several (slogdet's sign and log|det|,
eigh's eigenvalues and eigenvectors, svd's U, s, Vh) is several primitives on the same input;
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
from symgrad.ops.core import ShapeError, broadcast_shapes, defop, ndim_of
from symgrad.ops.dispatch import apply, composite, function, lift, method, no_out, numpy_function
from symgrad.ops.reduce import SUM
from symgrad.ops.shape import CAT


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
    return _solve(check_square("solve", a), b, ndim_of(b) == 1)


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


# ---------------------------------------------------------------- SVD and QR

SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])  # NumPy 2's field names
QRResult = namedtuple("QRResult", ["Q", "R"])
return_types_linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
return_types_linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
return_types_linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _matrices(x: tuple) -> tuple:
    if len(x) < 2:
        raise ShapeError(f"expected batches of matrices, got shape {x}")
    return x


def _svd_u_shape(x: tuple, full: bool) -> tuple:
    m, n = _matrices(x)[-2:]
    return x[:-1] + ((m if full else min(m, n)),)


def _svd_vh_shape(x: tuple, full: bool) -> tuple:
    m, n = _matrices(x)[-2:]
    return x[:-2] + ((n if full else min(m, n)), n)


def _svd_factors(x: Any) -> tuple[Any, Any, Any]:
    """The reduced U, s, Vh of x, as the primitives (a trace computes each once)."""
    return apply(SVD_U, x, full=False), apply(SVDVALS, x), apply(SVD_VH, x, full=False)


def _gap(s: Any) -> Any:
    """F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it: finite for distinct singular values."""
    k = s.shape[-1]
    off = ~np.eye(k, dtype=bool)
    s2 = s * s
    return (1.0 / (s2.unsqueeze(-2) - s2.unsqueeze(-1)).where(off, 1.0)).where(off, 0.0)


def _svdvals_vjp(ct, ans, x):
    u, _, vh = _svd_factors(x)
    return (u * ct.unsqueeze(-2)) @ vh


def _svd_u_vjp(ct, ans, x, full):
    # Townsend's rule, the U part: U (F o (U^T gU - gU^T U)) S Vh, plus (I - U U^T) gU S^-1 Vh
    # where U has fewer columns than rows. Full U's extra columns get no gradient, as PyTorch
    u, s, vh = _svd_factors(x)
    m, k = x.shape[-2], s.shape[-1]
    g = ct[..., :k] if full else ct
    utg = _mT(u) @ g
    inner = (_gap(s) * (utg - _mT(utg))) * s.unsqueeze(-2)
    out = u @ inner @ vh
    if m > k:
        out = out + ((g - u @ utg) / s.unsqueeze(-2)) @ vh
    return out


def _svd_vh_vjp(ct, ans, x, full):
    # the Vh part: U S (F o (Vh gVh^T - gVh Vh^T)) Vh, plus U S^-1 gVh (I - V Vh) for wide x
    u, s, vh = _svd_factors(x)
    n, k = x.shape[-1], s.shape[-1]
    g = ct[..., :k, :] if full else ct
    vgt = vh @ _mT(g)
    inner = s.unsqueeze(-1) * (_gap(s) * (vgt - _mT(vgt)))
    out = u @ inner @ vh
    if n > k:
        out = out + u @ ((g - _mT(vgt) @ vh) / s.unsqueeze(-1))
    return out


def _copyltu(m: Any) -> Any:
    """The symmetric matrix with m's lower triangle: tril(m) + tril(m, -1)^T."""
    lower = np.tril(np.ones((m.shape[-1],) * 2, bool))
    return m.where(lower, 0.0) + _mT(m.where(lower & ~lower.T, 0.0))


def _right_solve_rt(r: Any, g: Any) -> Any:
    """g R^-T, as (R^-1 g^T)^T."""
    return _mT(apply(SOLVE, r, _mT(g)))


def _qr_parts(x: Any, mode: str) -> tuple[Any, Any]:
    m, n = x.shape[-2:]
    if mode == "complete" and m > n:
        raise NotImplementedError("The derivative of qr is not implemented when mode='complete' "
                                  "and the matrix has more rows than columns")
    return apply(QR_Q, x, mode="reduced"), apply(QR_R, x, mode="reduced")


def _qr_square_vjp(gq: Any, gr: Any, q: Any, r: Any) -> Any:
    """The m >= n rule (R square): (gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T; either ct may be None."""
    m = 0.0
    if gr is not None:
        m = r @ _mT(gr)
    if gq is not None:
        m = m - _mT(gq) @ q
    body = q @ _copyltu(m)
    return _right_solve_rt(r, body if gq is None else gq + body)


def _wide(x: Any, gx: Any, gy: Any) -> Any:
    """A wide x = [X | Y] = Q [R_X | R_Y]: the gradients of its two blocks side by side."""
    return apply(CAT, gx, gy, axis=x.ndim - 1)


def _qr_q_vjp(ct, ans, x, mode):
    q, r = _qr_parts(x, mode)
    m, n = x.shape[-2:]
    if m >= n:
        return _qr_square_vjp(ct, None, q, r)
    # wide x = [X | Y] = Q [R_X | R_Y]: Q's gradient reaches X = Q R_X only
    y = x[..., :, m:]
    return _wide(x, _qr_square_vjp(ct, None, q, r[..., :, :m]), y * 0.0)


def _qr_r_vjp(ct, ans, x, mode):
    q, r = _qr_parts(x, mode)
    m, n = x.shape[-2:]
    if m >= n:
        return _qr_square_vjp(None, ct, q, r)
    # R_Y = Q^T Y adds Y gR_Y^T to Q's cotangent, and gives Y the gradient Q gR_Y
    y, gy = x[..., :, m:], ct[..., :, m:]
    return _wide(x, _qr_square_vjp(y @ _mT(gy), ct[..., :, :m], q, r[..., :, :m]), q @ gy)


def _qr_q_shape(x: tuple, mode: str) -> tuple:
    m, n = _matrices(x)[-2:]
    return x[:-1] + ((m if mode == "complete" else min(m, n)),)


def _qr_r_shape(x: tuple, mode: str) -> tuple:
    m, n = _matrices(x)[-2:]
    return x[:-2] + ((m if mode == "complete" else min(m, n)), n)


SVDVALS = defop("svdvals", "np.linalg.svd({x}, compute_uv=False)", shape=lambda x: _matrices(x)[:-2]
                + (min(x[-2:]),), dtype=_floating, grad_fn="LinalgSvdBackward0", batch=batching.unary,
                vjps=(_svdvals_vjp,), doc="The singular values, descending, of each matrix.")
SVD_U = defop("svd_u", "np.linalg.svd({x}, full_matrices={full})[0]", shape=_svd_u_shape, dtype=_floating,
              grad_fn="LinalgSvdBackward0", batch=batching.unary, vjps=(_svd_u_vjp,),
              doc="The left singular vectors U of x = U diag(s) Vh; their gradient needs distinct s.")
SVD_VH = defop("svd_vh", "np.linalg.svd({x}, full_matrices={full})[2]", shape=_svd_vh_shape,
               dtype=_floating, grad_fn="LinalgSvdBackward0", batch=batching.unary, vjps=(_svd_vh_vjp,),
               doc="The right singular vectors (rows of Vh) of x = U diag(s) Vh.")
QR_Q = defop("qr_q", "np.linalg.qr({x}, mode={mode})[0]", shape=_qr_q_shape, dtype=_floating,
             grad_fn="LinalgQrBackward0", batch=batching.unary, vjps=(_qr_q_vjp,),
             doc="The orthonormal factor Q of x = Q R.")
QR_R = defop("qr_r", "np.linalg.qr({x}, mode={mode})[1]", shape=_qr_r_shape, dtype=_floating,
             grad_fn="LinalgQrBackward0", batch=batching.unary, vjps=(_qr_r_vjp,),
             doc="The upper-triangular factor R of x = Q R.")


def check_matrices(name: str, a: Any) -> Any:
    """`a` as a value, or NumPy's and PyTorch's error for something not a stack of matrices."""
    x = lift(a)
    if x.ndim < 2:
        raise LinAlgError(f"{name}: {x.ndim}-dimensional array given. Array must be at least "
                          "two-dimensional")
    return x


def _svd(x: Any, full_matrices: bool, result: type) -> Any:
    full = bool(full_matrices) and x.shape[-2] != x.shape[-1]  # square: full is reduced
    return result(apply(SVD_U, x, full=full), apply(SVDVALS, x), apply(SVD_VH, x, full=full))


def _qr(x: Any, mode: str, result: type, name: str) -> Any:
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"{name}: Unrecognized mode '{mode}'")
    shaped = "complete" if mode == "complete" and x.shape[-2] > x.shape[-1] else "reduced"
    r = apply(QR_R, x, mode=shaped)
    return r if result is None else result(apply(QR_Q, x, mode=shaped), r)


def _cutoff_inverse(s: Any, rtol: Any, atol: Any = 0.0) -> Any:
    """1/s where s exceeds max(atol, rtol * max(s)) (per matrix), 0 elsewhere: the pseudo-inverse's
    singular values, as NumPy's pinv and lstsq discard the small ones."""
    cutoff = s.amax(-1, keepdim=True) * rtol
    if atol:
        cutoff = cutoff.where(cutoff > atol, atol)
    large = s > cutoff
    return (1.0 / s.where(large, 1.0)).where(large, 0.0), large


def pinv_of(x: Any, rtol: Any, atol: Any = 0.0) -> Any:
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T over the singular values kept; its
    gradient (through the SVD's) is finite for full rank with distinct singular values."""
    u, s, vh = _svd_factors(x)
    inverse, _ = _cutoff_inverse(s, rtol, atol)
    return (_mT(vh) * inverse.unsqueeze(-2)) @ _mT(u)


@numpy_function(np.linalg.svd)
def _np_svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    x = check_matrices("svd", a)
    if hermitian:
        raise NotImplementedError("np.linalg.svd: hermitian=True is not supported on symgrad values")
    return _svd(x, full_matrices, SVDResult) if compute_uv else apply(SVDVALS, x)


@numpy_function(np.linalg.svdvals)
def _np_svdvals(x, /):
    return apply(SVDVALS, check_matrices("svdvals", x))


@numpy_function(np.linalg.qr)
def _np_qr(a, mode="reduced"):
    return _qr(check_matrices("qr", a), mode, None if mode == "r" else QRResult, "qr")


_NO_RTOL = object()


@numpy_function(np.linalg.pinv)
def _np_pinv(a, rcond=None, hermitian=False, *, rtol=_NO_RTOL):
    x = check_matrices("pinv", a)
    if hermitian:
        raise NotImplementedError("np.linalg.pinv: hermitian=True is not supported on symgrad values")
    if rcond is not None and rtol is not _NO_RTOL:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    if rcond is None:
        rcond = 1e-15 if rtol is _NO_RTOL else rtol
        if rcond is None:
            rcond = max(x.shape[-2:]) * np.finfo(x.dtype).eps
    return _pinv(x, rcond)


@composite("LinalgPinvBackward0")
def _pinv(x: Any, rtol: Any, atol: Any = 0.0) -> Any:
    """The pseudo-inverse, one node in eager mode."""
    return pinv_of(x, rtol, atol)


@composite("LinalgLstsqBackward0")
def _lstsq_solution(a: Any, b: Any, rcond: Any, vector: bool) -> Any:
    """The minimum-norm least-squares X of A X ~ B: pinv(A) B, B a stack of matrices or vectors."""
    if vector:
        return (pinv_of(a, rcond) @ b.unsqueeze(-1)).squeeze(-1)
    return pinv_of(a, rcond) @ b


@composite("LinalgLstsqBackward0")
def _residuals(a: Any, b: Any, x: Any) -> Any:
    """The squared 2-norm of each column of A X - B."""
    r = a @ x - b
    return (r * r).sum(-2)


@numpy_function(np.linalg.lstsq)
def _np_lstsq(a, b, rcond=None):
    """NumPy's (x, residuals, rank, s). In a trace the rank is not known, so residuals are
    given for tall a (m > n) as for full rank; NumPy gives none for a rank-deficient a."""
    x = lift(a, a, b)
    y = lift(b, a, b)
    if x.ndim != 2:
        raise LinAlgError(f"{x.ndim}-dimensional array given. Array must be two-dimensional")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise LinAlgError("Incompatible dimensions")
    m, n = x.shape
    rcond = np.finfo(_floating((x.dtype, y.dtype), {})).eps * max(m, n) if rcond is None else rcond
    solution = _lstsq_solution(x, y, rcond, y.ndim == 1)
    s = apply(SVDVALS, x)
    _, large = _cutoff_inverse(s, rcond)
    rank = large.sum()
    if m <= n:
        residuals = lift(np.zeros((0,)), x)
    elif y.ndim == 1:
        residuals = _residuals(x, y.reshape((m, 1)), solution.reshape((n, 1)))
    else:
        residuals = _residuals(x, y, solution)
    return solution, residuals, rank, s


@function(name="linalg.svd")
def linalg_svd(A: Any, full_matrices: bool = True, *, driver: Any = None, out: Any = None) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh; the vectors' gradients need distinct singular values."""
    no_out("linalg.svd", out)
    return _svd(check_matrices("linalg.svd", A), full_matrices, return_types_linalg_svd)


@function(name="linalg.svdvals")
def linalg_svdvals(A: Any, *, driver: Any = None, out: Any = None) -> Any:
    """The singular values, descending."""
    no_out("linalg.svdvals", out)
    return apply(SVDVALS, check_matrices("linalg.svdvals", A))


@function(name="linalg.qr")
def linalg_qr(A: Any, mode: str = "reduced", *, out: Any = None) -> Any:
    """(Q, R) with A = Q R; mode 'r' gives an empty Q, as PyTorch."""
    no_out("linalg.qr", out)
    x = check_matrices("linalg.qr", A)
    if mode == "r":
        return return_types_linalg_qr(lift(np.zeros((0,), x.dtype), x), _qr(x, mode, None, "linalg.qr"))
    return _qr(x, mode, return_types_linalg_qr, "linalg.qr")


@function(name="linalg.pinv")
def linalg_pinv(A: Any, *, atol: Any = None, rtol: Any = None, hermitian: bool = False,
                out: Any = None) -> Any:
    """The pseudo-inverse, discarding singular values under max(atol, rtol * max(s))."""
    no_out("linalg.pinv", out)
    x = check_matrices("linalg.pinv", A)
    if hermitian:
        raise NotImplementedError("linalg.pinv: hermitian=True is not supported")
    if rtol is None:
        rtol = max(x.shape[-2:]) * np.finfo(x.dtype).eps if atol is None or atol <= 0 else 0.0
    return _pinv(x, rtol, 0.0 if atol is None else atol)


@function(name="linalg.lstsq")
def linalg_lstsq(A: Any, B: Any, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """(solution, residuals, rank, singular_values) of A X ~ B, the fields PyTorch's CPU drivers
    fill: residuals (m > n, full rank) except for 'gelsy', singular values for 'gelsd'/'gelss'."""
    a = check_matrices("linalg.lstsq", A)
    b = lift(B, A, B)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of "
                           f"(gels, gelsy, gelsd, gelss), got {driver}")
    if b.ndim < a.ndim - 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = b.ndim == a.ndim - 1
    if b.shape[-1 if vector else -2] != a.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    m, n = a.shape[-2:]
    rcond = np.finfo(a.dtype).eps * max(m, n) if rcond is None else rcond
    solution = _lstsq_solution(a, b, rcond, vector)
    empty = lift(np.zeros((0,), a.dtype), a)
    if m > n and driver != "gelsy":
        residuals = (_residuals(a, b.unsqueeze(-1), solution.unsqueeze(-1)) if vector
                     else _residuals(a, b, solution))
    else:
        residuals = empty
    s = apply(SVDVALS, a).detach()
    rank = _cutoff_inverse(s, rcond)[1].sum(-1) if driver != "gels" else lift(np.zeros((0,), np.int64), a)
    return return_types_linalg_lstsq(solution, residuals, rank,
                                     s if driver in ("gelsd", "gelss") else empty)
