"""Matrix products and matrix structure.

`matmul` (NumPy's `@` over 1-D, 2-D and batched operands) is the one primitive; the rest
are composites of primitives: its spellings (`mm`, `bmm`, `mv`, `dot`, `outer`, `np.dot`),
`matrix_power` and `multi_dot` (products in the cheapest order), `kron` (a broadcast
product reshaped), `cross` (slices), and the structure of matrices: `diagonal`, `diag` and
`trace` (index-array getitem, whose adjoint scatters back), `tril`/`triu` (`where` with a
constant mask). Contractions (`einsum`, `tensordot`, `inner`) are in `symgrad.ops.einsum`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from symgrad.ops import batching, dims
from symgrad.ops.core import OPS, ShapeError, broadcast_shapes, defop, metadata_reader, ndim_of
from symgrad.ops.dispatch import FUNCTIONS, apply, composite, function, lift, method, no_out, numpy_function
from symgrad.ops.einsum import _tensordot
from symgrad.ops.index import index_of
from symgrad.ops.shape import stack


def _matmul_shape(x: tuple, y: tuple) -> tuple:
    if not x or not y:
        raise ShapeError(f"both arguments must be at least 1-D, got shapes {x} and {y}")
    k1 = x[-1]
    k2 = y[-2] if len(y) > 1 else y[0]
    if k1 != k2:
        raise ShapeError(f"shapes {x} and {y} cannot be multiplied ({k1} != {k2})")
    batch = broadcast_shapes(x[:-2], y[:-2])
    return batch + x[-2:-1] + y[-1:] if len(y) > 1 else batch + x[-2:-1]


def _swap_last(v: Any) -> Any:
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return v.permute(axes)


@metadata_reader
def _column_major(v: Any) -> bool:
    """Whether `v` holds a matrix in column-major layout, as `w.t()` or `w.T` of a C-ordered
    `w` is. Its matmul gradient is then made as the transpose of a C-ordered product, in
    `v`'s own layout (PyTorch's mm backward does the same): the transpose's backward turns
    it back into a C-ordered gradient for `w`, which becomes `.grad` as it is, where the
    plain product's transpose would be copied element by element (800 KB of a 784x256
    weight: longer than the product itself). A value without an array (a traced one) is
    not: the compiled face orders its products itself. Only the layout is read, not the
    values (`core.metadata_reader`): an input kept for its shape keeps its layout too."""
    data = getattr(v, "_data", None)
    if type(data) is not np.ndarray:  # what eager mode keeps of an unread input says it
        return getattr(v, "column_major", False) is True
    return data.ndim == 2 and data.flags.f_contiguous and not data.flags.c_contiguous


def _matmul_vjp_x(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * y
    if y.ndim == 1:
        return ct.unsqueeze(-1) * y
    if x.ndim == 1 and y.ndim == 2:
        return ct @ y.T  # (m,) @ (m, k): a plain product, also for a batch of cotangents
    if x.ndim == 1:
        return (y @ ct.unsqueeze(-1)).squeeze(-1)
    if _column_major(x) and y.ndim == 2:  # (y @ ct.T).T: x's layout, see `_column_major`
        return _swap_last(y @ _swap_last(ct))
    return ct @ _swap_last(y)


def _matmul_vjp_y(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * x
    if x.ndim == 1:
        return x.unsqueeze(-1) * ct.unsqueeze(-2)
    if y.ndim == 1 and x.ndim == 2:
        return ct @ x  # (n,) @ (n, k)
    if y.ndim == 1:
        return (_swap_last(x) @ ct.unsqueeze(-1)).squeeze(-1)
    if _column_major(y) and x.ndim == 2:  # (ct.T @ x).T: y's layout, see `_column_major`
        return _swap_last(_swap_last(ct) @ x)
    return _swap_last(x) @ ct


def _matmul_name(inputs: tuple, params: dict) -> str:
    """PyTorch's node for `@`: its matmul folds batches into mm and views the result back."""
    nx, ny = inputs[0].ndim, inputs[1].ndim
    if nx <= 2 and ny <= 2:
        return {(1, 1): "DotBackward0", (1, 2): "SqueezeBackward4", (2, 1): "MvBackward0"}.get(
            (nx, ny), "MmBackward0")
    if nx == 2 and getattr(inputs[0], "requires_grad", False):
        return "CloneBackward0"
    return "UnsafeViewBackward0"


def _matmul_batch(op, args, batched, params, size):
    x, y = args
    xb, yb = batched
    xs, ys = batching.example_shape(x, xb), batching.example_shape(y, yb)
    if len(xs) > 2 or len(ys) > 2:
        return _matmul_batch_stacks(x, y, xb, yb, xs, ys, size)
    if xb and yb:
        if len(xs) == 1 and len(ys) == 1:
            return (x * y).sum(1)
        xt = x.unsqueeze(1) if len(xs) == 1 else x
        yt = y.unsqueeze(-1) if len(ys) == 1 else y
        return (xt @ yt).reshape((size,) + (xs[:-1] + ys[1:] if len(ys) > 1 else xs[:-1]))
    if xb:  # (B, k) @ (k, m), (B, n, k) @ (k, m), (B, k) @ (k,): NumPy's rules batch it
        return x @ y
    if len(ys) == 1:  # x @ y_b for each b: y (B, k) @ x.T
        return y @ (x.T if len(xs) == 2 else x)
    return x @ y  # (n, k) @ (B, k, m) or (k,) @ (B, k, m)


def _matmul_batch_stacks(x, y, xb, yb, xs, ys, size):
    """Stacks of matrices: vectors made matrices, each batched operand given unit dims after
    its batch axis up to the rank of the other, so the batch axis lines up; one matmul."""
    xm = x.unsqueeze(-2) if len(xs) == 1 else x
    ym = y.unsqueeze(-1) if len(ys) == 1 else y
    rank = max(len(xs), len(ys), 2)
    out = batching.lifted(xm, xb, rank, size) @ batching.lifted(ym, yb, rank, size)
    out = out.squeeze(-1) if len(ys) == 1 else out
    return out.squeeze(-2) if len(xs) == 1 else out


MATMUL = defop(
    "matmul", "{x} @ {y}", ufunc=np.matmul, shape=_matmul_shape, grad_fn=_matmul_name,
    operators=("matmul", "rmatmul"), methods=("matmul",), batch=_matmul_batch,
    doc="Matrix product with NumPy's 1-D and batch rules.", vjps=(_matmul_vjp_x, _matmul_vjp_y),
)



# ---------------------------------------------------------------- the spellings of matmul

def _matmul_of_rank(name: str, ranks: tuple[int, int], input: Any, other: Any) -> Any:
    """input @ other, of the ranks PyTorch's `name` requires, shown as its node."""
    if (ndim_of(input), ndim_of(other)) != ranks:
        raise RuntimeError(f"{name}: expected {ranks[0]}-D and {ranks[1]}-D arguments, got "
                           f"{ndim_of(input)}-D and {ndim_of(other)}-D")
    return apply(MATMUL, input, other, _name=name.capitalize() + "Backward0")


@method("mm", function=True)
def mm(self: Any, mat2: Any) -> Any:
    """Product of two matrices."""
    return _matmul_of_rank("mm", (2, 2), self, mat2)


@method("bmm", function=True)
def bmm(self: Any, mat2: Any) -> Any:
    """Batched product of two stacks of matrices, (b, n, m) @ (b, m, p)."""
    return _matmul_of_rank("bmm", (3, 3), self, mat2)


@method("mv", function=True)
def mv(self: Any, vec: Any) -> Any:
    """Matrix times vector."""
    return _matmul_of_rank("mv", (2, 1), self, vec)


@method("dot", function=True, face="torch")
def dot(self: Any, other: Any) -> Any:
    """Inner product of two 1-D tensors."""
    return _dot(self, other, "DotBackward0")


@method("vdot", function=True)
def vdot(self: Any, other: Any) -> Any:
    """Inner product of two 1-D tensors (real values: no conjugate)."""
    return _dot(self, other, "VdotBackward0")


def _dot(self: Any, other: Any, name: str) -> Any:
    if ndim_of(self) != 1 or ndim_of(other) != 1:
        raise RuntimeError(f"1D tensors expected, but got {ndim_of(self)}D and {ndim_of(other)}D tensors")
    n, m = np.shape(self)[0], np.shape(other)[0]
    if n != m:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same "
                           f"number of elements, but got {n} and {m} elements respectively")
    return apply(MATMUL, self, other, _name=name)


@method("outer", "ger", function=True)
def outer(self: Any, vec2: Any) -> Any:
    """Outer product of two 1-D tensors."""
    if ndim_of(self) != 1 or ndim_of(vec2) != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got {ndim_of(self)}-D and {ndim_of(vec2)}-D")
    return lift(self, self, vec2).unsqueeze(-1) * lift(vec2, self, vec2).unsqueeze(0)


@method("dot", face="numpy")
def dot_method(self, other):
    """NumPy's ndarray.dot."""
    return _np_dot(self, other)


@numpy_function(np.dot)
def _np_dot(a, b, out=None):
    no_out("dot", out)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return lift(a, a, b) * b
    if ndim_of(b) > 2:  # a's last dim with b's second to last
        return _tensordot("numpy.dot", a, b, ([-1], [-2]))
    return apply(MATMUL, a, b)


@numpy_function(np.outer)
def _np_outer(a, b, out=None):
    no_out("outer", out)
    return lift(a, a, b).reshape(-1, 1) * lift(b, a, b).reshape(1, -1)


# ---------------------------------------------------------------- powers and chains

def _square_matrices(name: str, x: Any) -> None:
    shape = tuple(np.shape(x))
    if len(shape) < 2:
        raise ShapeError(f"{name}: A must have at least 2 dimensions, got shape {shape}")
    if shape[-1] != shape[-2]:
        raise ShapeError(f"{name}: A must be batches of square matrices, but they are "
                         f"{shape[-2]} by {shape[-1]} matrices")


def _matrix_power(name: str, x: Any, n: Any) -> Any:
    """x @ x @ ... (n times) by repeated squaring; the identity for n = 0, powers of the
    inverse for n < 0."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"{name}: the exponent must be an integer, got {type(n).__name__}")
    _square_matrices(name, x)
    x = lift(x)
    if n == 0:  # the identity, with the (zero) gradient flowing to x as PyTorch's copy does
        eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
        return apply(OPS["where"], np.zeros(x.shape, bool), x, eye, _name="CopyBackwards")
    if n == 1:
        return apply(OPS["astype"], x, dtype=x.dtype.name, _name="CloneBackward0")
    if n < 0:
        inv = FUNCTIONS.get("linalg.inv")
        if inv is None:
            raise NotImplementedError(f"{name}: a negative exponent needs linalg.inv, which symgrad "
                                      "does not have yet")
        x, n = inv(x), -n
        if n == 1:
            return x
    out, base, n = None, x, int(n)
    while n:
        if n & 1:
            out = base if out is None else out @ base
        n >>= 1
        if n:
            base = base @ base
    return out


@method("matrix_power", function=True)
def matrix_power(self: Any, n: int) -> Any:
    """The matrix (or each of a batch) to the integer power n."""
    return _matrix_power("linalg.matrix_power", self, n)


@function(name="linalg.matrix_power")
def linalg_matrix_power(A: Any, n: int) -> Any:
    """The matrix (or each of a batch) to the integer power n."""
    return _matrix_power("linalg.matrix_power", A, n)


@numpy_function(np.linalg.matrix_power)
def _np_matrix_power(a, n):
    return _matrix_power("numpy.linalg.matrix_power", a, n)


def _chain_order(sizes: list[int]) -> list[list[int]]:
    """split[i][j]: where the cheapest product of matrices i..j splits (matrix i is
    sizes[i] x sizes[i + 1]), by the textbook dynamic programme."""
    n = len(sizes) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = -1
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if cost[i][j] < 0 or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _multi_dot(name: str, arrays: Any) -> Any:
    """The product of a chain of matrices (the first and last may be vectors), multiplied
    in the order that costs the fewest multiplications."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ShapeError(f"{name}: expected at least 2 tensors but got {len(arrays)}")
    shapes = [tuple(np.shape(a)) for a in arrays]
    padded = [(1,) + shapes[0] if len(shapes[0]) == 1 else shapes[0], *shapes[1:-1],
              shapes[-1] + (1,) if len(shapes[-1]) == 1 else shapes[-1]]
    for k, s in enumerate(padded):
        if len(s) != 2:
            where = "the first and last tensors must be 1-D or 2-D" if k in (0, len(arrays) - 1) \
                else "the middle tensors must be 2-D"
            raise ShapeError(f"{name}: {where}, got shape {shapes[k]} for tensor {k}")
        if k and padded[k - 1][1] != s[0]:
            raise ShapeError(f"{name}: tensors {k - 1} and {k} with shapes {list(shapes[k - 1])} and "
                             f"{list(shapes[k])} cannot be multiplied")
    split = _chain_order([padded[0][0]] + [s[1] for s in padded])
    values = [lift(a, *arrays) for a in arrays]

    def product(i: int, j: int) -> Any:
        return values[i] if i == j else product(i, split[i][j]) @ product(split[i][j] + 1, j)
    return product(0, len(values) - 1)


@composite("ViewBackward0")  # PyTorch's multi_dot ends in a view
def _multi_dot_node(*tensors: Any) -> Any:
    return _multi_dot("multi_dot()", tensors)


@function(name="linalg.multi_dot")
def multi_dot(tensors: Any) -> Any:
    """The product of a chain of matrices in the cheapest order (the ends may be vectors)."""
    return _multi_dot_node(*tensors)


@numpy_function(np.linalg.multi_dot)
def _np_multi_dot(arrays, *, out=None):
    no_out("linalg.multi_dot", out)
    return _multi_dot("numpy.linalg.multi_dot", arrays)


@function(name="linalg.vecdot")
def vecdot(x: Any, y: Any, *, dim: int = -1) -> Any:
    """Dot products of vectors along `dim`, broadcasting the rest (real values: no conjugate)."""
    x = lift(x, x, y)
    if np.shape(x)[dim] != np.shape(y)[dim]:
        raise ShapeError(f"linalg.vecdot: the sizes of dim {dim} must match, got shapes "
                         f"{list(np.shape(x))} and {list(np.shape(y))}")
    return (x * y).sum(dim)


# ---------------------------------------------------------------- kron, cross

@method("kron", function=True)
@composite("UnsafeViewBackward0")
def kron(self: Any, other: Any) -> Any:
    """Kronecker product: every element of self times all of other, blocks laid out in self's shape."""
    a, b = lift(self, self, other), lift(other, self, other)
    n = max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + tuple(a.shape), (1,) * (n - b.ndim) + tuple(b.shape)
    spread = a.reshape(tuple(v for p in sa for v in (p, 1))) * b.reshape(tuple(v for q in sb for v in (1, q)))
    return spread.reshape(tuple(p * q for p, q in zip(sa, sb)))


@numpy_function(np.kron)
def _np_kron(a, b):
    return kron(a, b)


def _cross_last(a: Any, b: Any, d: int) -> Any:
    """Cross products of the 3-vectors along dim d (negative) of a and b, broadcast."""
    tail = (slice(None),) * (-d - 1)

    def part(v: Any, i: int) -> Any:
        return v[(Ellipsis, i) + tail]
    a0, a1, a2 = (part(a, i) for i in range(3))
    b0, b1, b2 = (part(b, i) for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def _cross(name: str, a: Any, b: Any, dim: int | None) -> Any:
    a, b = lift(a, a, b), lift(b, a, b)
    if a.ndim != b.ndim:
        raise ShapeError(f"{name}: inputs must have the same number of dimensions, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    if dim is None:  # PyTorch's old default: the first dim of size 3
        dim = next((k for k, n in enumerate(shape) if n == 3), -1)
    d = dims.axis(dim, len(shape)) - len(shape)
    if len(a.shape) < -d or len(b.shape) < -d or a.shape[d] != 3 or b.shape[d] != 3:
        got = [s[d] if len(s) >= -d else None for s in (tuple(a.shape), tuple(b.shape))]
        raise ShapeError(f"{name}: inputs dimension {dim} must have length 3. Got {got[0]} and {got[1]}")
    return _cross_last(a, b, d)


@method("cross", function=True)
@composite("LinalgCrossBackward0")
def cross(self: Any, other: Any, dim: int | None = None) -> Any:
    """Cross products of 3-vectors along `dim` (by default the first dim of size 3)."""
    if dim is None:
        warnings.warn("Using cross without specifying the dim arg is deprecated; pass the dim explicitly "
                      "or use linalg.cross, whose default is dim=-1", UserWarning, stacklevel=3)
    return _cross("linalg.cross", self, other, dim)


@function(name="linalg.cross")
@composite("LinalgCrossBackward0")
def linalg_cross(input: Any, other: Any, *, dim: int = -1) -> Any:
    """Cross products of 3-vectors along `dim`, broadcasting the other dims."""
    return _cross("linalg.cross", input, other, dim)


def _moved(v: Any, source: int, destination: int) -> Any:
    order = [k for k in range(v.ndim) if k != dims.axis(source, v.ndim)]
    order.insert(dims.axis(destination, v.ndim), dims.axis(source, v.ndim))
    return v if order == sorted(order) else v.permute(order)


@numpy_function(np.cross)
def _np_cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = lift(a, a, b), lift(b, a, b)
    a, b = _moved(a, axisa, -1), _moved(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(f"incompatible dimensions for cross product (symgrad supports 3-vectors only), got "
                         f"{a.shape[-1]} and {b.shape[-1]}")
    c = _cross_last(a, b, -1)
    return _moved(c, -1, axisc)


# ---------------------------------------------------------------- diagonals and triangles

def _diagonal(x: Any, offset: int, axis1: int, axis2: int) -> Any:
    """The diagonal `offset` of the matrices in dims axis1, axis2, as a last dim: an
    index-array getitem."""
    x = lift(x)
    a1, a2 = dims.axis(axis1, x.ndim), dims.axis(axis2, x.ndim)
    if a1 == a2:
        raise ShapeError(f"diagonal dimensions cannot be identical {axis1}, {axis2}")
    order = [k for k in range(x.ndim) if k not in (a1, a2)] + [a1, a2]
    x = x if order == sorted(order) else x.permute(order)
    row, col = max(-offset, 0), max(offset, 0)
    steps = np.arange(max(0, min(x.shape[-2] - row, x.shape[-1] - col)))
    return x[(Ellipsis, steps + row, steps + col)]


@method("diagonal", function=True)
@composite("DiagonalBackward0")
def diagonal(self: Any, offset: int = 0, dim1: int = 0, dim2: int = 1, *,
             axis1: int | None = None, axis2: int | None = None) -> Any:
    """The diagonal `offset` (above the main one if positive) of the matrices in dims
    dim1, dim2 (NumPy's axis1, axis2), as a last dim."""
    if self.ndim < 2:
        raise ShapeError(f"diagonal requires an array of at least two dimensions, got {tuple(self.shape)}")
    return _diagonal(self, offset, dim1 if axis1 is None else axis1, dim2 if axis2 is None else axis2)


@numpy_function(np.diagonal)
def _np_diagonal(a, offset=0, axis1=0, axis2=1):
    return diagonal(lift(a), offset, axis1, axis2)


def _diag_name(input: Any, diagonal: int = 0) -> str:
    return "DiagEmbedBackward0" if ndim_of(input) == 1 else "DiagonalBackward0_copy"


def _diag(name: str, v: Any, k: int) -> Any:
    """A vector as a square matrix with it on diagonal k, or a matrix's diagonal k."""
    v = lift(v)
    if v.ndim == 2:
        return _diagonal(v, k, 0, 1)
    if v.ndim != 1:
        raise ShapeError(f"{name}: supports 1-D or 2-D input, got {v.ndim}-D")
    n = v.shape[0] + abs(k)
    steps = np.arange(v.shape[0])
    return v._scatter((n, n), *index_of((steps + max(-k, 0), steps + max(k, 0)), v))


@method("diag", function=True)
@composite(_diag_name)
def diag(self: Any, diagonal: int = 0) -> Any:
    """A 1-D input as a square matrix with it on diagonal `diagonal`; a 2-D input's diagonal."""
    return _diag("diag()", self, diagonal)


@numpy_function(np.diag)
def _np_diag(v, k=0):
    return _diag("numpy.diag", v, k)


def _np_trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    no_out("trace", out)
    if dtype is not None:
        raise TypeError("numpy.trace: dtype= is not supported on symgrad values; convert first")
    if ndim_of(self) < 2:
        raise ShapeError(f"diag requires an array of at least two dimensions, got shape {np.shape(self)}")
    return _diagonal(self, offset, axis1, axis2).sum(-1)


method("trace", face="numpy")(_np_trace)
numpy_function(np.trace)(_np_trace)


@method("trace", face="torch")
@composite("TraceBackward0")
def trace(self: Any) -> Any:
    """Sum of the main diagonal of a matrix."""
    if self.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
    return _diagonal(self, 0, 0, 1).sum()


def _triangle(x: Any, k: int, lower: bool) -> Any:
    """x with the elements above diagonal k (lower) or below it (upper) zeroed: a where with a
    constant mask (NumPy's rule for a 1-D x: a square matrix of its rows)."""
    x = lift(x)
    rows, cols = (x.shape[-1],) * 2 if x.ndim == 1 else tuple(x.shape[-2:])
    mask = np.tri(rows, cols, k if lower else k - 1, dtype=bool)
    return x.where(mask if lower else ~mask, 0)


@method("tril", function=True, inplace=True)
@composite("TrilBackward0")
def tril(self: Any, diagonal: int = 0) -> Any:
    """The lower triangle: elements above diagonal `diagonal` set to zero."""
    if self.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return _triangle(self, diagonal, lower=True)


@method("triu", function=True, inplace=True)
@composite("TriuBackward0")
def triu(self: Any, diagonal: int = 0) -> Any:
    """The upper triangle: elements below diagonal `diagonal` set to zero."""
    if self.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return _triangle(self, diagonal, lower=False)


@numpy_function(np.tril)
def _np_tril(m, k=0):
    return _triangle(m, k, lower=True)


@numpy_function(np.triu)
def _np_triu(m, k=0):
    return _triangle(m, k, lower=False)
