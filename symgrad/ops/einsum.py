"""Tensor contractions: `einsum` of any number of operands, `tensordot` and `inner`, in one
normal form.

A contraction is planned on letters. An operand's repeated letter becomes its diagonal (an
index-array `getitem`), a letter that no other operand nor the output names is summed at
once, and the rest are contracted two at a time in the order `np.einsum_path(...,
optimize="greedy")` picks. Each pair is contracted one way: both operands permuted to
(batch, free, contracted) letters and reshaped to stacks of matrices for one `matmul`, or,
when no letter is contracted, broadcast and multiplied. So the gradient is made of the same
few ops (matmul, permute, reshape, mul, sum, getitem), which the simplifier knows.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops.core import ShapeError, ndim_of
from symgrad.ops.dispatch import composite, function, lift, method, no_out, numpy_function

_LETTERS = string.ascii_letters
_STRAY_DOT = "einstein sum subscripts string contains a '.' that is not part of an ellipsis ('...')"


# ---------------------------------------------------------------- subscripts

def parse(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str, str]:
    """(one string of letters per operand, the output letters, the letters standing for
    '...') of einsum `subscripts` over operands of `shapes`, with NumPy's rules and errors."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum(): expected the subscripts string (e.g. 'ij,jk->ik') first, "
                        f"got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    for c in spec:
        if c not in _LETTERS and c not in ",.->":
            raise ValueError(f"invalid subscript '{c}' in einstein sum subscripts string, "
                             "subscripts must be letters")
    terms = lhs.split(",")
    if len(terms) < len(shapes):
        raise ValueError(f"more operands provided to einstein sum function than specified in the "
                         f"subscripts string {subscripts!r} ({len(shapes)} operands, {len(terms)} terms)")
    if len(terms) > len(shapes):
        raise ValueError(f"fewer operands provided to einstein sum function than specified in the "
                         f"subscripts string {subscripts!r} ({len(shapes)} operands, {len(terms)} terms)")
    unused = [c for c in _LETTERS if c not in spec]
    widths = [_ellipsis_width(k, term, shape) for k, (term, shape) in enumerate(zip(terms, shapes))]
    dots = "".join(unused[:max(widths, default=0)])
    terms = [t.replace("...", dots[len(dots) - n:] if n else "") for t, n in zip(terms, widths)]
    if not arrow:
        named = "".join(terms)
        once = sorted(c for c in set(named) if named.count(c) == 1 and c not in dots)
        return terms, dots + "".join(once), dots
    if out.replace("...", "").count(".") or out.count("...") > 1:
        raise ValueError(_STRAY_DOT)
    if dots and "..." not in out:
        raise ValueError("output has more dimensions than subscripts given in einstein sum, but no "
                         "'...' ellipsis provided to broadcast the extra dimensions.")
    out = out.replace("...", dots)
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einstein sum subscripts string includes output subscript '{c}' multiple times")
        if not any(c in t for t in terms):
            raise ValueError(f"einstein sum subscripts string included output subscript '{c}' which "
                             "never appeared in an input")
    return terms, out, dots


def _ellipsis_width(k: int, term: str, shape: tuple[int, ...]) -> int:
    """How many dims the '...' of operand k's `term` stands for (0 without one)."""
    letters = term.replace("...", "")
    if "." in letters or term.count("...") > 1:
        raise ValueError(_STRAY_DOT)
    if len(letters) > len(shape):
        raise ValueError(f"einstein sum subscripts string contains too many subscripts for operand {k} "
                         f"({term!r} for shape {tuple(shape)})")
    if "..." not in term and len(letters) < len(shape):
        raise ValueError(f"operand has more dimensions than subscripts given in einstein sum, but no "
                         f"'...' ellipsis provided to broadcast the extra dimensions (operand {k}: "
                         f"{term!r} for shape {tuple(shape)})")
    return len(shape) - len(letters)


def _check_sizes(subscripts: str, terms: list[str], shapes: Sequence[tuple], dots: str) -> None:
    """Every letter has one size in all operands (or 1, which broadcasts); else a ShapeError
    (a ValueError, as NumPy's) naming the subscript and both operands' shapes."""
    seen: dict[str, tuple[int, int]] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        mine: dict[str, int] = {}
        for c, n in zip(term, shape):
            name = "'...' (a broadcast dim)" if c in dots else f"'{c}'"
            if mine.setdefault(c, n) != n:
                raise ShapeError(f"einsum {subscripts!r}: dimensions in operand {k} for collapsing index "
                                 f"{name} don't match ({mine[c]} != {n}, shape {tuple(shape)})")
            size, j = seen.get(c, (n, k))
            if n != size and 1 not in (n, size):
                raise ShapeError(f"einsum {subscripts!r}: subscript {name} has size {size} in operand {j} "
                                 f"(shape {tuple(shapes[j])}) but {n} in operand {k} (shape {tuple(shape)})")
            if c not in seen or size == 1:
                seen[c] = (n, k)


# ---------------------------------------------------------------- the normal form

def _permuted(x: Any, term: str, letters: str) -> Any:
    """x (dims named by `term`) with its dims in the order of `letters` (a permutation of term)."""
    order = [term.index(c) for c in letters]
    return x if order == sorted(order) else x.permute(order)


def _reshaped(x: Any, shape: tuple[int, ...]) -> Any:
    return x if tuple(x.shape) == tuple(shape) else x.reshape(shape)


def _diagonals(x: Any, term: str) -> tuple[Any, str]:
    """An operand with a letter repeated ('ii', 'iij') as its diagonal over those dims, which
    become one dim, last: an index-array getitem (its adjoint scatters back)."""
    for c in dict.fromkeys(term):
        if term.count(c) > 1:
            rest = term.replace(c, "")
            order = [k for k, d in enumerate(term) if d != c] + [k for k, d in enumerate(term) if d == c]
            x = x if order == sorted(order) else x.permute(order)
            diag = np.arange(x.shape[-1])
            x = x[(Ellipsis,) + (diag,) * term.count(c)]
            term = rest + c
    return x, term


def _summed(x: Any, term: str, keep: set) -> tuple[Any, str]:
    """x with the dims of letters not in `keep` summed."""
    axes = tuple(k for k, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    return x.sum(axes), "".join(c for c in term if c in keep)


def _aligned(x: Any, term: str, letters: str) -> Any:
    """x with its dims in the order of `letters` and a unit dim for each letter it lacks
    (leading ones left to broadcasting)."""
    mine = "".join(c for c in letters if c in term)
    x = _permuted(x, term, mine)
    first = min((letters.index(c) for c in term), default=len(letters))
    shape = tuple(x.shape[mine.index(c)] if c in term else 1 for c in letters[first:])
    return _reshaped(x, shape)


def _pair(x: Any, xt: str, y: Any, yt: str, keep: set) -> tuple[Any, str]:
    """Contract two operands, keeping the letters in `keep`: a matmul of reshaped operands,
    or a broadcast product when no letter is contracted."""
    for c in [c for c in xt if c in yt and c not in keep]:
        if x.shape[xt.index(c)] == 1 and y.shape[yt.index(c)] != 1:  # broadcasts: sum it in y only
            xt_new = xt.replace(c, "")
            x, xt = _reshaped(x, tuple(n for d, n in zip(xt, x.shape) if d != c)), xt_new
        elif y.shape[yt.index(c)] == 1 and x.shape[xt.index(c)] != 1:
            yt_new = yt.replace(c, "")
            y, yt = _reshaped(y, tuple(n for d, n in zip(yt, y.shape) if d != c)), yt_new
    x, xt = _summed(x, xt, keep | set(yt))
    y, yt = _summed(y, yt, keep | set(xt))
    batch = "".join(c for c in xt if c in yt and c in keep)
    inner = "".join(c for c in xt if c in yt and c not in keep)
    xfree = "".join(c for c in xt if c not in yt)
    yfree = "".join(c for c in yt if c not in xt)
    letters = batch + xfree + yfree
    if not inner:
        return _aligned(x, xt, letters) * _aligned(y, yt, letters), letters
    xsize = dict(zip(xt, x.shape))
    ysize = dict(zip(yt, y.shape))
    k = int(np.prod([xsize[c] for c in inner]))
    m = int(np.prod([xsize[c] for c in xfree]))
    n = int(np.prod([ysize[c] for c in yfree]))
    xb = tuple(xsize[c] for c in batch)
    yb = tuple(ysize[c] for c in batch)
    x = _permuted(x, xt, batch + xfree + inner)
    y = _permuted(y, yt, batch + inner + yfree)
    if not batch:  # plain products keep their vector forms: dot, mv, vm, mm
        x = _reshaped(x, (m, k) if xfree else (k,))
        y = _reshaped(y, (k, n) if yfree else (k,))
    else:
        x = _reshaped(x, xb + (m, k))
        y = _reshaped(y, yb + (k, n))
    z = x @ y
    shape = np.broadcast_shapes(xb, yb) + tuple(xsize[c] for c in xfree) + tuple(ysize[c] for c in yfree)
    return _reshaped(z, shape), letters


def contract(terms: list[str], out: str, operands: Sequence[Any]) -> Any:
    """The einsum of `operands` (dims named by `terms`, letters only) into `out`."""
    values = [lift(x, *operands) for x in operands]
    work = []
    for k, (x, term) in enumerate(zip(values, terms)):
        x, term = _diagonals(x, term)
        elsewhere = set(out).union(*(t for j, t in enumerate(terms) if j != k))
        work.append(_summed(x, term, elsewhere))
    if len(work) > 1:
        spec = ",".join(t for _, t in work) + "->" + out
        probes = [np.broadcast_to(np.zeros((), np.int8), x.shape) for x, _ in work]
        path = np.einsum_path(spec, *probes, optimize="greedy")[0][1:]
        for group in path:
            picked = [work[i] for i in group]
            for i in sorted(group, reverse=True):
                del work[i]
            x, xt = picked[0]
            for j, (y, yt) in enumerate(picked[1:], 2):
                keep = set(out).union(*(t for _, t in work), *(t for _, t in picked[j:]))
                x, xt = _pair(x, xt, y, yt, keep)
            work.append((x, xt))
    x, term = work[0]
    x, term = _summed(x, term, set(out))
    return _permuted(x, term, out)


# ---------------------------------------------------------------- einsum

def _sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """NumPy's interleaved form einsum(a, [0, 1], b, [1, 2], [0, 2]) as subscripts and operands."""
    def letters(sub: Sequence[Any]) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    operands = list(args[0::2][:len(args) // 2])
    terms = [letters(s) for s in args[1::2]]
    spec = ",".join(terms[:len(operands)])
    return spec + ("->" + letters(args[-1]) if len(args) % 2 else ""), operands


def _einsum(subscripts: str, operands: Sequence[Any]) -> Any:
    shapes = [tuple(np.shape(x)) for x in operands]
    terms, out, dots = parse(subscripts, shapes)
    _check_sizes(subscripts, terms, shapes, dots)
    return contract(terms, out, operands)


def _einsum_name(equation: str, *operands: Any) -> str:
    """PyTorch's node for einsum: a permute or sum of one operand, a product when nothing is
    summed, else a view of its batched matmul."""
    terms, out, _ = parse(equation, [tuple(np.shape(x)) for x in operands])
    summed = bool(set("".join(terms)) - set(out))
    if len(terms) == 1:
        return "SumBackward1" if summed else "PermuteBackward0"
    return "ViewBackward0" if summed else "MulBackward0"


@composite(_einsum_name)
def _einsum_node(equation: str, *operands: Any) -> Any:
    return _einsum(equation, operands)


@function
def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation over any number of operands (given as arguments or one list),
    e.g. einsum('bij,bjk->bik', a, b); repeated letters, '...' and implicit output allowed."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return _einsum_node(equation, *operands)


@numpy_function(np.einsum)
def _np_einsum(*args: Any, out: Any = None, optimize: Any = False, dtype: Any = None,
               order: str = "K", casting: str = "safe") -> Any:
    """np.einsum with subscripts or NumPy's interleaved sublists; contracted in the greedy
    order whatever `optimize` says (the result is the same)."""
    no_out("einsum", out)
    if dtype is not None:
        raise TypeError("numpy.einsum: dtype= is not supported on symgrad values; convert the operands first")
    if isinstance(args[0], str):
        return _einsum(args[0], args[1:])
    return _einsum(*_sublists(args))


# ---------------------------------------------------------------- tensordot, inner

def _tensordot(name: str, a: Any, b: Any, axes: Any) -> Any:
    """a and b contracted over the dims `axes` pairs up: an int N (a's last N with b's
    first N) or (a's dims, b's dims)."""
    sa, sb = tuple(np.shape(a)), tuple(np.shape(b))
    if isinstance(axes, (int, np.integer)):
        if axes < 0:
            raise ValueError(f"{name}: axes must be a non-negative integer, got {axes}")
        ax, bx = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        ax, bx = axes
        ax = [ax] if isinstance(ax, (int, np.integer)) else list(ax)
        bx = [bx] if isinstance(bx, (int, np.integer)) else list(bx)
    if len(ax) != len(bx):
        raise ShapeError(f"{name}: both sides of axes must have the same length, got {ax} and {bx}")
    ax = [int(d) % max(len(sa), 1) for d in ax]
    bx = [int(d) % max(len(sb), 1) for d in bx]
    for i, j in zip(ax, bx):
        if sa[i] != sb[j]:
            raise ShapeError(f"{name}: contracted dimensions need to match, but first has size {sa[i]} "
                             f"in dim {i} and second has size {sb[j]} in dim {j} (shapes {sa} and {sb})")
    ta = _LETTERS[:len(sa)]
    fresh = iter(_LETTERS[len(sa):])
    tb = "".join(ta[ax[bx.index(d)]] if d in bx else next(fresh) for d in range(len(sb)))
    out = "".join(c for k, c in enumerate(ta) if k not in ax) + "".join(c for c in tb if c not in ta)
    return contract([ta, tb], out, (a, b))


@function
@composite("ViewBackward0")  # PyTorch's tensordot ends in a view of one mm, as this one does
def tensordot(a: Any, b: Any, dims: Any = 2, out: Any = None) -> Any:
    """a and b contracted over `dims`: an int N (a's last N dims with b's first N) or a pair
    of lists of dims."""
    if out is not None:
        raise RuntimeError("tensordot: out= is not supported")
    return _tensordot("tensordot", a, b, dims)


@numpy_function(np.tensordot)
def _np_tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    return _tensordot("numpy.tensordot", a, b, axes)


@method("inner", function=True)
@composite(lambda self, other: "MulBackward0" if not ndim_of(self) or not ndim_of(other) else "ViewBackward0")
def inner(self: Any, other: Any) -> Any:
    """Sum of products over the last dim of both (a scalar operand multiplies)."""
    sa, sb = tuple(np.shape(self)), tuple(np.shape(other))
    if not sa or not sb:
        return lift(self, self, other) * other
    if sa[-1] != sb[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got "
                         f"shapes {list(sa)} and {list(sb)}")
    return _tensordot("inner", self, other, ([-1], [-1]))


@numpy_function(np.inner)
def _np_inner(a: Any, b: Any) -> Any:
    return inner(a, b)


@numpy_function(np.vdot)
def _np_vdot(a: Any, b: Any) -> Any:
    """Dot product of the flattened operands (real values: no conjugate)."""
    x, y = lift(a, a, b).reshape(-1), lift(b, a, b).reshape(-1)
    return contract(["i", "i"], "", (x, y))
