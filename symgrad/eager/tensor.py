"""The eager `Tensor`: a NumPy array with PyTorch's autograd semantics, and tensor creation."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.eager import format as _format
from symgrad.eager.data import array_of, check_array_dtype, fits, number
from symgrad.eager.dtypes import (
    bool_,
    dtype_arg,
    dtype_of_legacy_name,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    legacy_type_name,
)
from symgrad.eager.engine import (
    _SHAPES,
    AccumulateGrad,
    CompositeNode,
    Node,
    OpNode,
    OpNode2,
    _Shape,
    _user_frames,
    backward,
    node_class,
    shape_only,
)
from symgrad.eager.modes import _mode as _modes
from symgrad.eager.modes import anomaly_ever as _anomaly_ever
from symgrad.eager.modes import is_grad_enabled
from symgrad.ops import OPS, Op, ShapeError, Value, apply, dims
from symgrad.ops.core import inplace_methods
from symgrad.ops.dispatch import FACES, METHODS, owner
from symgrad.ops.index import index_of, write_through
from symgrad.surface import Surface
from symgrad.surface.base import _NO_PARAMS, _applying


def _whole_view(data: np.ndarray) -> bool:
    """Whether `data` is a writeable C-ordered view of all of a buffer that nothing but the
    view holds (here: its `.base`, `base` and the call's argument): the transpose of a
    gradient made transposed (`x @ w.t()`'s weight, see `linalg._column_major`), which
    `.grad` may keep as it is, as PyTorch's AccumulateGrad steals a gradient of the
    parameter's layout."""
    base = data.base
    return type(base) is np.ndarray and base.flags.owndata and data.flags.writeable \
        and data.flags.c_contiguous and base.nbytes == data.nbytes and sys.getrefcount(base) <= 3


class Tensor(Surface, face="torch"):
    """A NumPy array that records the ops applied to it when it requires grad."""

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_acc", "_hooks",
                 "_vc", "_view", "__weakref__")
    _priority = 1
    # how a composite runs: set by symgrad.api.fused (hot signatures as generated code)
    _fuse: Callable[..., Tensor] | None = None

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if data is None or isinstance(data, (str, bytes, dict, set)):
            raise TypeError(f"Tensor(): data must be a sequence of numbers or a numeric array, "
                            f"got {type(data).__name__} {data!r}")
        self._init(array_of(data, "Tensor"), None)
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: Any, grad_fn: Node | None = None, counter: np.ndarray | None = None) -> Tensor:
        t = _empty(cls)  # _init's fields, set here: a tensor is made per op
        t._data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t.grad_fn, t._output_nr, t._requires_grad = grad_fn, 0, grad_fn is not None
        t._grad = t._acc = t._hooks = t._view = None
        t._vc = counter
        return t

    def _init(self, data: np.ndarray, grad_fn: Node | None, counter: np.ndarray | None = None) -> None:
        self._data, self.grad_fn, self._output_nr = data, grad_fn, 0
        self._requires_grad = grad_fn is not None
        self._grad: Tensor | None = None
        self._acc: AccumulateGrad | None = None  # made on first use; it refers back weakly
        self._hooks: list[Callable] | None = None
        self._vc = counter  # made on first use: see _version_counter
        self._view: tuple | None = None  # (base, op, params, index arrays) if a view of base

    # autograd state ------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not isinstance(flag, (bool, np.bool_)):
            raise RuntimeError(f"requires_grad must be a bool, not {type(flag).__name__} {flag!r}")
        if self.grad_fn is not None:
            if not flag:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return
        if flag and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients "
                f"(got {self._data.dtype})")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self."""
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad_(): argument 'requires_grad' must be bool, not "
                            f"{type(requires_grad).__name__} {requires_grad!r}")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        if self._grad is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and tuple(value.shape) != self.shape:
            raise RuntimeError(
                f"assigned grad has data of a different size: {tuple(value.shape)} vs {self.shape}")
        self._grad = value

    def _edge(self) -> tuple[Node | None, int]:
        """Where a gradient for this tensor goes: its grad_fn, or its leaf accumulator."""
        if self.grad_fn is not None:
            return (self.grad_fn, self._output_nr)
        if not self._requires_grad:
            return (None, 0)
        acc = self._acc
        if acc is None:
            acc = self._acc = AccumulateGrad(self)
        return (acc, 0)

    def __getstate__(self) -> tuple:
        """A copy or a pickle leaves the accumulator behind: it accumulates into this tensor
        (its `variable`), and a copy makes its own on first use."""
        _, slots = super().__getstate__()
        return None, {**slots, "_acc": None}

    @property
    def _version_counter(self) -> np.ndarray:
        """The version counter, shared by a tensor and its views: in-place writes through
        either bump it. Made on first use (most tensors never need one), as a 1-element
        int64 array: the cycle collector does not track NumPy arrays (it tracks a list), so
        the counters a recorded graph keeps cost no collection time."""
        counter = self._vc
        return _new_counter(self) if counter is None else counter

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else int(self._vc[0])

    def _accumulate_grad(self, g: Tensor, create_graph: bool) -> None:
        data = g._data
        if data.dtype != self._data.dtype or data.shape != self._data.shape:
            data = np.broadcast_to(data, self._data.shape).astype(self._data.dtype)
        if create_graph:
            if data is not g._data:
                g = Tensor._make(data)
            elif self._grad is None:  # as PyTorch's, a clone: not a tensor the walk or the user holds
                g = g.clone()  # (x.grad and y.grad of x + y would be one read-only tensor)
            self._grad = g if self._grad is None else self._grad + g
        elif self._grad is None:
            # the walk's own buffer, which nothing else holds (here: `g`, `data` and the call's
            # argument) becomes `.grad` as it is, as PyTorch's AccumulateGrad steals it
            owned = data.flags.owndata and data.flags.writeable
            stolen = owned and (data is not g._data or sys.getrefcount(data) <= 3)
            if not stolen and data is g._data and sys.getrefcount(data) <= 3:
                stolen = _whole_view(data)
            self._grad = Tensor._make(data if stolen else data.copy())
        else:
            self._grad._data += data

    def retain_grad(self) -> None:
        """Keep `.grad` of this non-leaf tensor after backward (a leaf keeps it anyway)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad(): can't retain_grad on Tensor that has "
                               "requires_grad=False")
        if self.grad_fn is None:
            return
        self.grad_fn.retain(self._output_nr, self)

    @property
    def retains_grad(self) -> bool:
        refs = (self.grad_fn._retained or {}) if self.grad_fn is not None else {}
        ref = refs.get(self._output_nr)
        return ref is not None and ref() is self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook(): expected a callable, got {type(hook).__name__}")
        hook = _checked_hook(hook)
        if self.grad_fn is not None:
            self.grad_fn.register_hook(self._output_nr, hook)
            hooks = self.grad_fn._hooks[self._output_nr]
        else:
            if self._hooks is None:  # shared with the accumulator, which runs them even
                self._hooks = self._edge()[0]._leaf_hooks = []  # after the leaf has died
            self._hooks.append(hook)
            hooks = self._hooks
        return RemovableHandle(hooks, hook)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad.

        A failure (a bad `gradient`, a hook that raises) leaves every `.grad` and the graph
        as they were, so a corrected call works."""
        backward([self], checked_gradients([gradient], "backward"), retain_graph, create_graph,
                 inputs=checked_inputs(inputs, "backward"))

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self._data)

    # data access ---------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim  # not len(self.shape): no Size made

    def size(self, dim: int | None = None) -> Size | int:
        """The shape (a `Size`), or its length along `dim`."""
        return Size(self._data.shape) if dim is None else super().size(dim)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def data(self) -> Tensor:
        """The values, cut from the graph (shared memory); assigning replaces them."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        # `p.data = t` (and `w.data -= lr * w.grad.data`): take t's memory, shape and dtype,
        # unrecorded, as PyTorch's set_data does; grad and history stay
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        if self._requires_grad and value._data.dtype.kind not in "fc":
            raise RuntimeError(
                "data set to a tensor that requires gradients must be floating point or complex dtype")
        self._data = value._data

    @property
    def imag(self) -> Tensor:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (shared, not copied); raises if the tensor requires grad
        (with `force`, a detached copy instead, as in PyTorch)."""
        if force:
            return self._data.copy()
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def equal(self, other: Tensor) -> bool:
        """torch.equal: the same shape and equal elements (NaN equals nothing), whatever the
        dtypes; a Python bool, outside autograd."""
        if not isinstance(other, Tensor):
            raise TypeError(
                f"equal(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
        return self._data.shape == other._data.shape and bool(np.array_equal(self._data, other._data))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The data, without history (SPEC); for a tensor that requires grad, with a warning:
        NumPy and SciPy code that converts it (scipy.special.logsumexp) drops the gradient,
        where PyTorch would raise."""
        if self._requires_grad and is_grad_enabled():
            warnings.warn("np.asarray of a Tensor that requires grad gives its data without history: "
                          "no gradient flows through NumPy or SciPy code that converts it. Use "
                          "symgrad's function to keep the gradient, or .detach() to say so.",
                          UserWarning, stacklevel=2)
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self) -> Any:
        """The sub-tensors along dim 0 (`t[0]`, `t[1]`, ...); a 0-d tensor has none: TypeError."""
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __eq__(self, other: Any) -> Any:
        # an operand no tensor holds is unequal (Python's fallback), as in PyTorch: t == "a" is False
        return NotImplemented if _foreign(other) else self.eq(other)

    def __ne__(self, other: Any) -> Any:
        return NotImplemented if _foreign(other) else self.ne(other)

    __hash__ = Surface.__hash__

    # Python's conversions, as torch has them: one element of any shape; __index__ (range(t),
    # seq[t]) only from integers; a 0-d tensor formats as its item (f"{loss:.3f}")
    def _scalar(self) -> Any:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data.item()

    def __float__(self) -> float:
        if self._requires_grad:
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to "
                          "unexpected behavior.\nConsider using tensor.detach() first.",
                          UserWarning, stacklevel=2)
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "biu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __format__(self, format_spec: str) -> str:
        if self._data.ndim == 0 and type(self) is Tensor:
            return self._data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data)

    # in-place ops ---------------------------------------------------------------------
    def _inplace(self, compute: Callable[[Tensor], Any], overwrite: bool = False,
                 name: str | None = None) -> Tensor:
        """Write `compute(self)` into this tensor's memory and make it the tensor's history.

        Like PyTorch: refused on a leaf that requires grad while recording; the version
        counter moves, so a backward that saved the old value will raise.
        """
        recording = is_grad_enabled()
        if recording and self.grad_fn is None and self._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        root = self
        while root._view is not None:
            root = root._view[0]
        if recording and root is not self and root.grad_fn is None and root._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        old = self
        if recording:  # ops that save their input must see the value before the write
            old = Tensor._make(self._data.copy(), self.grad_fn)
            old._output_nr, old._requires_grad = self._output_nr, self._requires_grad
        out = compute(old)
        out = out if isinstance(out, Tensor) else Tensor._make(np.asarray(out))
        if recording and old._requires_grad and (overwrite or not out._requires_grad):
            # the old value is overwritten: its history gets a zero gradient, as in PyTorch
            out = apply(OPS["where"], True, out, old, _name=name or "CopyBackwards")
        try:
            np.copyto(self._data, out._data, casting="same_kind")
        except TypeError:
            raise RuntimeError(
                f"result type {out.dtype} can't be cast to the desired output type "
                f"{self.dtype}") from None
        except ValueError as e:
            raise RuntimeError(f"in-place write to this tensor failed: {e}") from None
        self._version_counter[0] += 1
        if recording and out._requires_grad:
            self._rebase(out)
        return self

    def _rebase(self, out: Tensor) -> None:
        """Take `out`'s history; through a view, the base takes it too (PyTorch's CopySlices)."""
        self.grad_fn, self._output_nr, self._requires_grad = out.grad_fn, out._output_nr, True
        if self._view is None:
            return
        base, op, params, arrays = self._view
        old = Tensor._make(base._data, base.grad_fn)
        old._output_nr, old._requires_grad = base._output_nr, base._requires_grad
        base._rebase(write_through(op, params, arrays, old, out))
        view = apply(op, base, *arrays, **params)
        self.grad_fn, self._output_nr = view.grad_fn, view._output_nr

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self._inplace(lambda t: np.zeros_like(t._data), overwrite=True, name="ZeroBackward0")

    def fill_(self, value: Any) -> Tensor:
        """Fill with `value` (a number, or a 0-d tensor that then receives the gradient) in place."""
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                                   f"with {value.ndim} dimensions.")
            return self._inplace(lambda t: value.to(self.dtype).expand(self.shape), overwrite=True,
                                 name="FillBackward3")
        value = number(value, "fill_", "value")
        fits(value, self.dtype, "fill_")
        value = np.asarray(value).astype(self.dtype)  # -1 into uint8 wraps, as in PyTorch
        return self._inplace(lambda t: np.full_like(t._data, value), overwrite=True,
                             name="FillBackward2")

    def copy_(self, src: Any) -> Tensor:
        """Copy `src` (broadcast to this shape) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor._lift(src, "copy_")
        src = src if isinstance(src, Tensor) else Tensor._make(np.asarray(src))
        try:
            fitting = np.broadcast_shapes(src.shape, self.shape) == self.shape
        except ValueError:
            fitting = False
        if not fitting:
            raise RuntimeError(f"copy_(): the source of shape {list(src.shape)} does not broadcast "
                               f"to this tensor's shape {list(self.shape)}")
        return self._inplace(lambda t: src.broadcast_to(self.shape) if src._requires_grad
                             else np.broadcast_to(src._data, self.shape), overwrite=True)

    def _refill(self, values: np.ndarray, name: str) -> Tensor:
        """Overwrite with `values`, torch's in-place fills: the old value gets no gradient."""
        return self._inplace(lambda t: values, overwrite=True, name=name)

    def fill_diagonal_(self, fill_value: Any, wrap: bool = False) -> Tensor:
        """Write `fill_value` on the main diagonal in place (all dims equal, or a matrix; a
        tall matrix's diagonal restarts after a gap row with `wrap`), as np.fill_diagonal."""
        shape = self._data.shape
        if len(shape) < 2:
            raise RuntimeError("dimensions must larger than 1")
        if len(shape) > 2 and len(set(shape)) > 1:
            raise RuntimeError("all dimensions of input must be of equal length")
        mask = np.zeros(shape, np.bool_)
        np.fill_diagonal(mask, True, wrap=wrap)
        value = Tensor._make(np.array(fill_value).astype(self.dtype))
        return self._inplace(lambda t: apply(OPS["where"], mask, value, t, _name="CopySlices"))

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        if self._view is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn, self._requires_grad = None, False
        return self

    def _write_out(self, name: str, result: Any) -> Tensor:
        """`symgrad.<name>(..., out=self)`: write `result` here, as PyTorch's `out=` does
        (outside autograd only; a tensor of another shape is resized, with PyTorch's warning)."""
        result = self._constant(result)
        if is_grad_enabled() and (result._requires_grad or self._requires_grad):
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        if result.shape != self.shape:
            if self._view is not None:
                raise RuntimeError(f"{name}(): cannot resize the view given as out= from "
                                   f"{list(self.shape)} to {list(result.shape)}")
            if self._data.size:
                warnings.warn(f"An output with one or more elements was resized since it had shape "
                              f"{list(self.shape)}, which does not match the required output shape "
                              f"{list(result.shape)}.", UserWarning, stacklevel=4)
            self._data = np.empty(result.shape, self.dtype)
        return self._inplace(lambda t: result._data, overwrite=True)

    def __setitem__(self, key: Any, value: Any) -> None:
        index, arrays = index_of(key, self)
        value = Tensor._lift(value, "setitem")  # a string, None, complex...: TypeError
        fits(value, self.dtype, "setitem")
        try:
            self._inplace(lambda t: t._setitem(value, index, arrays))
        except ValueError as e:  # shapes that do not broadcast: PyTorch's RuntimeError
            if isinstance(e, ShapeError):
                raise
            raise ShapeError(f"setitem: {e}") from None

    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph."""
        return apply(OPS["astype"], self, dtype=self.dtype.name, _name="CloneBackward0")

    def to(self, *args: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
        """This tensor as `dtype` (devices other than the CPU are refused)."""
        for a in args:
            if isinstance(a, (str, device)):
                device(a)
            elif a is not None and not isinstance(a, Tensor):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
        if "device" in kwargs and kwargs["device"] is not None:
            device(kwargs["device"])
        dt = dtype_arg(dtype, "to")
        if dt is None or dt == self.dtype:
            return self
        # only a floating result carries a gradient (torch: y.long().requires_grad is False)
        source = self if dt.kind in "fc" else self.detach()
        return apply(OPS["astype"], source, dtype=dt.name, _name="ToCopyBackward0")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type(self, dtype: Any = None) -> Any:
        """torch's legacy type name ('torch.FloatTensor'), or this tensor converted to `dtype`
        (a dtype or such a name)."""
        if dtype is None:
            return legacy_type_name(self.dtype)
        return self.to(dtype_of_legacy_name(dtype) if isinstance(dtype, str) else dtype)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor converted to `other`'s dtype (itself if it already has it)."""
        return self.to(other.dtype)

    def expand_as(self, other: Tensor) -> Tensor:
        """`self.expand(other.size())`: broadcast to `other`'s shape."""
        return self.expand(other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        """`self.view(other.size())`."""
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        """`self.reshape(other.size())`."""
        return self.reshape(other.shape)

    # memory layout, as torch reports it ------------------------------------------------
    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def nelement(self) -> int:
        """torch's other name for `numel()`."""
        return self._data.size

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """Steps in elements between neighbours along each dim (0 along an expanded dim).
        A NumPy view with a negative step (flip) reports its magnitude: torch's flip copies
        into the same layout."""
        strides = tuple(abs(s) // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[dims.axis(dim, self.ndim)]

    def is_contiguous(self) -> bool:
        """Whether the elements lie in row-major order without gaps (torch's rule: dims of
        size 1 do not count)."""
        expected = 1
        for n, step in zip(reversed(self._data.shape), reversed(self.stride())):
            if n == 0:
                return True
            if n != 1:
                if step != expected:
                    return False
                expected *= n
        return True

    def contiguous(self) -> Tensor:
        """This tensor if contiguous, else a row-major copy that stays in the graph."""
        if self.is_contiguous():
            return self
        out = self.clone()
        out._data = np.ascontiguousarray(out._data)
        return out

    def cpu(self) -> Tensor:
        return self

    @property
    def device(self) -> device:
        return device("cpu")

    def __repr__(self) -> str:
        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        return _format.tensor_repr(self._data, suffixes, get_default_dtype())

    # the op surface's hooks ----------------------------------------------------------
    def _constant(self, value: Any) -> Tensor:
        if isinstance(value, Tensor):
            return value
        data = np.asarray(value)
        check_array_dtype(data.dtype, "tensor")  # a string, an object: TypeError
        return Tensor._make(data)

    def _number(self, value: int | float, *like: Value) -> Tensor:
        """A 0-d tensor of the dtype the number takes against `like` (float32 against an int
        tensor, the tensor's own dtype against one of its kind), which then promotes as the
        number would."""
        number = _Number._make(np.asarray(value, dtype=result_type(value, *like)))
        number._value = value
        return number

    @classmethod
    def _lift(cls, value: Any, fn: str = "tensor") -> Any:
        """An operand as a tensor or a Python number; a string, None, a complex number or a
        non-numeric array is a TypeError naming the op and the operand's type."""
        if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
            check_array_dtype(value.dtype, fn)
            return _weak(value)
        if isinstance(value, Tensor) or isinstance(value, (int, float, bool)):
            return value
        if _foreign(value):
            raise TypeError(f"{fn}(): unsupported operand type {type(value).__name__} "
                            f"({_short(value)}); expected a Tensor, a number or a numeric array")
        try:
            data = np.asarray(value)
        except ValueError:  # a ragged list
            raise TypeError(f"{fn}(): unsupported operand: a ragged {type(value).__name__} "
                            f"({_short(value)})") from None
        if data.dtype.kind not in "biuf":
            check_array_dtype(data.dtype, fn)
            raise TypeError(f"{fn}(): unsupported operand: {type(value).__name__} of dtype "
                            f"{data.dtype}")
        return Tensor._make(data)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Tensor:
        plan = _PLANS[op]
        # the usual case, in one pass: tensors of one dtype and Python numbers, which need
        # no lifting and, for the kinds `plan.kinds` allows, no cast (float32 * 2.0 is
        # float32, int32 + 1 is int32, in PyTorch as in NumPy); else the general path
        # `needs`: a bit per input that requires grad, after a leading 1 (1: none does)
        if len(args) == 1 and type(args[0]) is Tensor:  # x.exp(), x.sum(), x.reshape(...)
            if args[0]._data.dtype.kind in plan.same:
                return cls._apply_one(op, args[0], params, name)
        common, needs, floats, datas = None, 1, False, []
        for a in args:
            if isinstance(a, Tensor):
                data = a._data
                if common is None:
                    common = data.dtype
                elif data.dtype is not common and data.dtype != common:
                    break
                needs += needs + a._requires_grad
                datas.append(data)
            elif type(a) is float:
                floats = True
                needs += needs
                datas.append(a)
            elif type(a) is int:
                needs += needs
                datas.append(a)
            else:
                break
        if len(datas) != len(args) or common is None or common.kind not in plan.kinds[floats]:
            args, datas, needs = _general(op, args)
        if plan.arity is not None and len(args) != plan.arity:
            raise TypeError(f"{op.name}() takes {plan.arity} positional argument(s) but {len(args)} "
                            "were given")
        try:
            if not params:
                out = plan.forward(*datas)
            elif len(params) == plan.nparams:
                out = plan.call(*datas, params)
            else:
                out = plan.forward(*datas, **params)
        except (ValueError, IndexError):
            op.out_shape(tuple(np.shape(d) for d in datas), params)  # raises ShapeError
            raise
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = _empty(Tensor)  # Tensor._make(out), inlined: every op makes one
        result._data, result.grad_fn, result._output_nr, result._requires_grad = out, None, 0, False
        result._grad = result._acc = result._hooks = result._view = result._vc = None
        base = out.base
        if base is not None and plan.linear and isinstance(args[0], Tensor):
            _share(result, base, op, plan, params, args)
        # a needs that is not a power of 2 has a bit set after its leading 1
        if needs & (needs - 1) and plan.differentiable and _modes.enabled:
            _record(plan, op, params, args, result, name, needs)
        return result

    @classmethod
    def _apply_one(cls, op: Op, x: Any, params: dict, name: str | None) -> Tensor:
        """`_apply(op, (x,), params, name)`, in one frame for a plain tensor whose dtype the
        op takes as it is (the usual `x.sum()`, `x.reshape(...)`, `x[1:3]`, `x.T`): without
        the loop over operands and the casts, and with `_share`'s steps inlined."""
        plan = _PLANS[op]
        data = x._data if type(x) is Tensor else None
        if data is None or data.dtype.kind not in plan.same:
            return cls._apply(op, (x,), params, name)
        if plan.arity is not None and plan.arity != 1:
            raise TypeError(f"{op.name}() takes {plan.arity} positional argument(s) but 1 were given")
        try:
            if not params:
                out = plan.forward(data)
            elif len(params) == plan.nparams:
                out = plan.call(data, params)
            else:
                out = plan.forward(data, **params)
        except (ValueError, IndexError):
            op.out_shape((data.shape,), params)  # raises ShapeError
            raise
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = _empty(Tensor)  # Tensor._make(out), inlined
        result._data, result.grad_fn, result._output_nr, result._requires_grad = out, None, 0, False
        result._grad = result._acc = result._hooks = result._view = result._vc = None
        base = out.base
        if base is not None and plan.linear and (base is data or base is data.base):  # _share
            counter = x._vc
            result._vc = _new_counter(x) if counter is None else counter
            if plan.view_op:
                result._view = (x, op, params, ())
        if x._requires_grad and plan.differentiable and _modes.enabled:
            _record_one(plan, op, params, x, result, name)
        return result

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Tensor:
        if cls._fuse is not None:
            return cls._fuse(cls, fn, name, args, kwargs)
        return composite_node(cls, fn, name, args, kwargs)


class _Number(Tensor):
    """A Python number made a 0-d tensor to stand first in a function (`torch.pow(2.0, x)`,
    see `Tensor._number`), as PyTorch's wrapped number: it promotes as the number would, and
    an op that takes a number as a param (`Op.scalars`) records the number (`_record`)."""

    __slots__ = ("_value",)


def _share(result: Tensor, base: np.ndarray, op: Op, plan: _Plan, params: dict, args: tuple) -> None:
    """If `result`'s array, whose NumPy `base` is given, is a view of input 0's: give it
    that input's version counter (writes through either show in both) and, for a view op,
    what a write into it updates (`_view`). NumPy collapses a view's base to the array that
    owns the memory, so this is `np.may_share_memory` for a result computed from input 0,
    in 30 ns instead of 350."""
    a = args[0]
    data = a._data
    if base is data or base is data.base:
        counter = a._vc
        result._vc = _new_counter(a) if counter is None else counter
        if plan.view_op:
            result._view = (a, op, params, args[1:])


def composite_node(tensor: type[Tensor], fn: Callable, name: str, args: tuple, kwargs: dict) -> Tensor:
    """A composite run as its primitives, shown as one node whose backward walks them."""
    out = fn(*args, **kwargs)
    if out.grad_fn is None:
        return out
    operands = (*args, *kwargs.values())  # keyword-only arguments may be tensors too
    edges = tuple(a._edge() if isinstance(a, tensor) else (None, 0) for a in operands)
    node = node_class(name, CompositeNode)(out._edge(), edges)
    return tensor._make(out._data, node, counter=out._version_counter)


Value._default = Tensor


def _inplace_form(name: str) -> Callable:
    """`x.<name>_(...)`: the method `name`'s result written into x, its history x's."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(lambda t: getattr(t, name)(*args, **kwargs))
    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place `{name}`: writes the result into this tensor and returns it."
    return method


for _name in sorted(inplace_methods()):
    setattr(Tensor, f"{_name}_", _inplace_form(_name))
Tensor.__iadd__, Tensor.__isub__ = Tensor.add_, Tensor.sub_
Tensor.__imul__, Tensor.__itruediv__, Tensor.__ipow__ = Tensor.mul_, Tensor.div_, Tensor.pow_
Tensor.__imod__, Tensor.__ifloordiv__ = Tensor.remainder_, Tensor.floor_divide_

_VIEW_OPS = ("reshape", "transpose", "getitem")


class _Plan:
    """What applying an op needs that is the same on every call, worked out once per op."""

    __slots__ = ("forward", "call", "nparams", "arity", "kinds", "same", "linear", "differentiable",
                 "view_op", "name", "node", "node2", "reads", "named", "scalars", "bound")

    def __init__(self, op: Op) -> None:
        ufunc = _ufunc_called(op)
        self.forward, self.linear = ufunc or op.forward, op.linear
        self.call = _reading_params(op)  # call(*arrays, params), or None: forward(*arrays, **params)
        self.nparams = len(op.params) if self.call is not None else -1  # params a call takes
        # a ufunc takes a further positional argument as `out=`: its inputs are counted
        self.arity = len(op.args) if ufunc is not None else None
        self.differentiable, self.view_op = op.differentiable is not False, op.name in _VIEW_OPS
        # the kinds of a common tensor dtype that Python numbers do not promote, without and
        # with a float among them: an op that does not promote casts nothing
        self.kinds = {None: ("biuf", "biuf"), "common": ("iuf", "f"), "float": ("f", "f")}[op.promote]
        self.same = self.kinds[False]  # of tensors alone, or with Python ints
        self.name = getattr(op.grad_fn, "constant", None)  # None: the name depends on the call
        self.node = node_class(self.name, OpNode) if self.name is not None else None
        self.node2 = node_class(self.name, OpNode2) if self.name is not None else None  # 2 inputs
        self.reads: dict[int, tuple] = {}  # needs-mask -> (whether each input is read, ans)
        # a name given per call (x.unsqueeze's UnsqueezeBackward0, x[k]'s) -> its node class,
        # for other than two inputs and for two
        self.named: tuple[dict[str, type], dict[str, type]] = ({}, {})
        self.scalars = op.scalars  # where a Python number is a param of the node
        self.bound: dict[tuple, tuple] = {}  # positions of numbers -> `_numbers_bound`'s op, plan...

    def read(self, op: Op, needs: int) -> tuple[tuple[bool, ...], bool]:
        """What a backward computing the gradients `needs` asks for (a bit per input, after
        a leading 1) reads: which inputs' values, and whether the output (`Op.saved`)."""
        flags = [bit == "1" for bit in bin(needs)[3:]]
        saved = op.saved(flags)
        inputs = tuple(i in saved or "*" in saved and i > 0 for i in range(len(flags)))
        reads = self.reads[needs] = (inputs, "ans" in saved)
        return reads


# a template that is one of these operators is the ufunc's call (on arrays and Python numbers)
_OPERATOR_UFUNCS = {"{x} + {y}": np.add, "{x} - {y}": np.subtract, "{x} * {y}": np.multiply,
                    "{x} / {y}": np.true_divide, "-{x}": np.negative, "{x} @ {y}": np.matmul,
                    "{x} < {y}": np.less, "{x} <= {y}": np.less_equal, "{x} > {y}": np.greater,
                    "{x} >= {y}": np.greater_equal, "{x} == {y}": np.equal, "{x} != {y}": np.not_equal}


def _ufunc_called(op: Op) -> np.ufunc | None:
    """The ufunc that `op.forward` is a call of, on its inputs in order and nothing else
    (`np.exp({x})`, `{x} * {y}`): called directly, a Python frame less per op."""
    if not isinstance(op.code, str) or op.ufunc is None or op.params:
        return None
    call = ", ".join(f"{{{a}}}" for a in op.args)
    if _OPERATOR_UFUNCS.get(op.code) is op.ufunc:
        return op.ufunc
    match = re.fullmatch(r"np\.(\w+)\((.*)\)", op.code)
    return op.ufunc if match and getattr(np, match[1], None) is op.ufunc and match[2] == call else None


def _reading_params(op: Op) -> Callable | None:
    """The op's forward taking its params as the dict given (`lambda x, p: x.reshape(p["shape"])`),
    compiled from its template as `defop` compiles `forward` (same code, same namespace): a
    call with `**params` builds a keyword dict per call (~130 ns). None for an op without
    params or a template."""
    if not op.params or not isinstance(op.code, str) or op.forward is None:
        return None
    fields = {**{a: a for a in op.args}, **{k: f"p[{k!r}]" for k in op.params}}
    source = f"lambda {', '.join(op.args)}, p: {op.code.format(**fields)}"
    return eval(compile(source, f"<symgrad op {op.name}>", "eval"), op.forward.__globals__)  # noqa: S307


class _Plans(dict):
    """op -> its _Plan, made on first use."""

    def __missing__(self, op: Op) -> _Plan:
        plan = self[op] = _Plan(op)
        return plan


_PLANS = _Plans()
_empty = object.__new__


def _general(op: Op, args: tuple) -> tuple[tuple, list, int]:
    """Operands lifted (arrays, NumPy scalars), their arrays cast to the result dtype, and
    which require grad (`needs`, as `Tensor._apply` has it): the general path, for what the
    fast one leaves."""
    if not all(type(a) is Tensor for a in args):
        args = tuple(Tensor._lift(a, op.name) for a in args)
        if not any(isinstance(a, Tensor) for a in args):  # special.logit(1): numbers as tensors
            args = tuple(Tensor._make(np.asarray(a, dtype=result_type(a))) for a in args)
    needs = 1
    for a in args:
        needs += needs + (isinstance(a, Tensor) and a._requires_grad)
    return args, _promote(op, args), needs


def _record(plan: _Plan, op: Op, params: dict, args: tuple, result: Tensor, name: str | None,
            needs: int) -> None:
    """Give `result` the node of this op application: its inputs' edges, what its backward
    reads (the rest of a float input: its shape), and the versions to check that nothing it
    reads was overwritten in place. `needs` has a bit per input that requires grad."""
    if plan.scalars:  # `x ** 2`: the number a param, x's the one edge (PyTorch's Scalar overload)
        bound = _numbers_bound(plan, op, params, args, name)
        if bound is not None:
            op, plan, params, args, name = bound
            needs = 1
            for a in args:
                needs += needs + (isinstance(a, Tensor) and a._requires_grad)
    if len(args) == 1:  # one input, which requires grad (`needs`)
        _record_one(plan, op, params, args[0], result, name)
        return
    two = len(args) == 2
    node = plan.node2 if two else plan.node  # None: the name depends on the call
    if node is None or name is not None:
        node = _named(plan, op, args, params, name)
    reads = plan.reads.get(needs) or plan.read(op, needs)
    # OpNode's fields, set here (as Tensor._make's): a node is made per recorded op
    fn = result.grad_fn = _empty(node)
    fn._op = op
    fn._params = params
    fn._nrs = fn._hooks = fn._retained = None
    fn._stack = _user_frames() if _anomaly_ever[0] and _modes.anomaly else None
    result._requires_grad = True
    if two and isinstance(args[1], Tensor) and isinstance(args[0], Tensor):
        _two(fn, args, reads[0])
    else:  # kept flat (see Node): the input nodes, what is read of each input, its version
        nodes, inputs, seen, offset, shapes_only = [], [], [], 0, True
        for a, read in zip(args, reads[0]):
            if not isinstance(a, Tensor):
                nodes.append(None)
                inputs.append(a)
                seen.append(None)
                shapes_only = False
                continue
            edge = a.grad_fn  # a tensor with a history requires grad
            if edge is not None:
                offset |= a._output_nr
            elif a._requires_grad:
                edge = a._acc or a._edge()[0]
            nodes.append(edge)
            if read:  # its counter, kept by the tensor saved, is checked on backward
                counter = a._vc
                seen.append(0 if counter is None else counter[0])
                inputs.append(a)
                shapes_only = False
                continue
            seen.append(None)
            kept = _unread(a)
            inputs.append(kept)
            shapes_only = shapes_only and kept is not a
        if offset:  # an input that is not output 0 of its node
            fn._nrs = tuple(a._output_nr if isinstance(a, Tensor) and a.grad_fn is not None else 0
                            for a in args)
        if two:
            fn._edge0, fn._edge1 = nodes
            fn._kept0, fn._kept1 = inputs
            fn._seen, fn._seen1 = seen
        else:
            fn._next = tuple(nodes)
            fn._inputs = _shapes_only(tuple(inputs)) if shapes_only else tuple(inputs)
            fn._seen = None if shapes_only else tuple(seen)
    _save_output(fn, result, reads[1])


def _numbers_bound(plan: _Plan, op: Op, params: dict, args: tuple, name: str | None) -> tuple | None:
    """What `_record` records for `op` given Python numbers (or `_Number`s) at any of
    `op.scalars`: the op bound to them (`Op.bound`) and its plan, the params with the
    numbers, the other inputs and the node's name (of the call as given: `PowBackward2` for
    `2 ** x`); None if none is there."""
    positions, wrapped = (), False
    for p in plan.scalars:
        a = args[p]
        if type(a) is _Number:
            positions, wrapped = positions + (p,), True
        elif not isinstance(a, Tensor):
            positions += (p,)
    if not positions:
        return None
    bound = plan.bound.get(positions)
    if bound is None:
        op_bound = op.bound(positions)
        bound = plan.bound[positions] = (op_bound, _PLANS[op_bound], tuple(op.args[p] for p in positions),
                                         tuple(i for i in range(len(args)) if i not in positions))
    op_bound, plan_bound, names, kept = bound
    if wrapped:  # the numbers themselves, as the node's params and its name see them
        args = tuple(args[i]._value if i in positions else args[i] for i in range(len(args)))
    if len(names) == 1 and not params:  # `x ** 2`
        params = {names[0]: args[positions[0]]}
    else:
        params = {**params, **{n: args[p] for p, n in zip(positions, names)}}
    name = name or op.grad_fn(args, params)
    others = (args[kept[0]],) if len(kept) == 1 else tuple(args[i] for i in kept)
    return op_bound, plan_bound, params, others, name


def _save_output(fn: OpNode, result: Tensor, read: bool) -> None:
    """What a node keeps of its output: the array and its version if the rule reads it."""
    if read:
        fn._ans = result._data
        counter = result._vc
        if counter is None:  # a new array's: version 0, its counter made when first asked
            fn._ans_vc = None
        else:  # a view's, shared with its base
            fn._ans_vc, fn._ans_seen = counter, counter[0]
    else:
        fn._ans = fn._ans_vc = None


def _named(plan: _Plan, op: Op, args: tuple, params: dict = _NO_PARAMS, name: str | None = None) -> type:
    """The node class of an op whose `grad_fn` name depends on the call (`MmBackward0` or
    `MvBackward0`, `SumBackward0` or `1`), or of a name given (`UnsqueezeBackward0`)."""
    two = len(args) == 2
    name = name or op.grad_fn(args, params)
    node = plan.named[two].get(name)
    if node is None:
        node = plan.named[two][name] = node_class(name, OpNode2 if two else OpNode)
    return node


def _record_one(plan: _Plan, op: Op, params: dict, x: Tensor, result: Tensor, name: str | None) -> None:
    """`_record` for one input that requires grad (`x.sum()`, `x.reshape(...)`, `x[1:3]`),
    without its loop and lists."""
    node = plan.node if name is None else None
    if node is None:
        node = _named(plan, op, (x,), params, name)
    (read_x,), read_ans = plan.reads.get(3) or plan.read(op, 3)
    fn = result.grad_fn = _empty(node)
    fn._op, fn._params, fn._nrs, fn._hooks, fn._retained = op, params, None, None, None
    fn._stack = _user_frames() if _anomaly_ever[0] and _modes.anomaly else None
    result._requires_grad = True
    edge = x.grad_fn
    if edge is None:
        edge = x._acc or x._edge()[0]
    elif x._output_nr:
        fn._nrs = (x._output_nr,)
    fn._next = edge
    if read_x:
        counter = x._vc
        fn._seen, fn._inputs = 0 if counter is None else counter[0], x
    else:
        data = x._data
        shape = _SHAPES.get(data.shape)
        fn._seen, fn._inputs = None, (
            shape if shape is not None and shape.dtype is data.dtype else _unread(x))
    _save_output(fn, result, read_ans)


def _two(fn: OpNode2, args: tuple, reads: tuple[bool, bool]) -> None:
    """`_record`'s loop for two tensors (`x + y`, `h * w`), unrolled: sets the node's edges,
    what it keeps of each input and the version of each it reads."""
    a, b = args
    edge_a, edge_b = a.grad_fn, b.grad_fn
    if edge_a is None:
        edge_a = (a._acc or a._edge()[0]) if a._requires_grad else None
    if edge_b is None:
        edge_b = (b._acc or b._edge()[0]) if b._requires_grad else None
    fn._edge0, fn._edge1 = edge_a, edge_b
    if a._output_nr or b._output_nr:
        fn._nrs = (a._output_nr if a.grad_fn is not None else 0,
                   b._output_nr if b.grad_fn is not None else 0)
    if reads[0]:
        counter = a._vc
        fn._seen = 0 if counter is None else counter[0]
    else:  # `_unread`, inlined here and for b: every recorded binary op passes here
        fn._seen = None
        data = a._data
        shape = _SHAPES.get(data.shape)
        if shape is not None and shape.dtype is data.dtype and ((f := data.flags).c_contiguous
                                                                or not f.f_contiguous):
            a = shape
        elif data.dtype.kind in "fc":
            a = shape_only(data)
    if reads[1]:
        counter = b._vc
        fn._seen1 = 0 if counter is None else counter[0]
    else:
        fn._seen1 = None
        data = b._data
        shape = _SHAPES.get(data.shape)
        if shape is not None and shape.dtype is data.dtype and ((f := data.flags).c_contiguous
                                                                or not f.f_contiguous):
            b = shape
        elif data.dtype.kind in "fc":
            b = shape_only(data)
    fn._kept0, fn._kept1 = a, b


def _unread(t: Tensor) -> Any:
    """What a node keeps of an input its backward does not read: a float's shape and dtype
    (one `_Shape` per shape, shared), or an index array itself (the rules read it)."""
    data = t._data
    shape = _SHAPES.get(data.shape)
    # a hit has a float's dtype, and a layout that is not column-major (`_Shape.column_major`)
    if shape is not None and shape.dtype is data.dtype and ((f := data.flags).c_contiguous
                                                            or not f.f_contiguous):
        return shape
    return shape_only(data) if data.dtype.kind in "fc" else t


def _new_counter(t: Tensor) -> np.ndarray:
    """Make `t`'s version counter. A node that saved `t` as its output before it had one
    (most outputs never get one: nothing writes to them in place) takes it now, at
    version 0, before any write: until then `t` was at version 0."""
    counter = t._vc = _COUNTER.copy()
    node = t.grad_fn
    if isinstance(node, OpNode) and node._ans_vc is None and node._ans is not None:
        node._ans_vc, node._ans_seen = counter, 0
    return counter


def _shapes_only(inputs: tuple) -> tuple:
    """One shared tuple per combination of shapes, not one per node."""
    shared = _SHAPE_INPUTS.get(inputs)
    if shared is None:
        if len(_SHAPE_INPUTS) > 4096:
            _SHAPE_INPUTS.clear()
        shared = _SHAPE_INPUTS[inputs] = inputs
    return shared


_SHAPE_INPUTS: dict[tuple, tuple] = {}  # inputs kept by their shapes only -> that tuple
_COUNTER = np.zeros(1, np.int64)  # a new tensor's version counter, copied


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as PyTorch's `torch.Size([2, 3])` does."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"symgrad.Size({list(self)})"

    def __getitem__(self, key: Any) -> Any:
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))


class device:
    """`symgrad.device("cpu")`: the one device there is; naming another raises."""

    __slots__ = ("type", "index")  # made on every `t.device`

    def __init__(self, kind: Any = "cpu", index: int | None = None) -> None:
        kind = kind.type if isinstance(kind, device) else str(kind)
        if kind.split(":")[0] != "cpu":
            raise RuntimeError(
                f"symgrad runs on the CPU only (NumPy); device {kind!r} is not available")
        self.type, self.index = "cpu", None

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")

    def __str__(self) -> str:
        return "cpu"


def _checked_hook(hook: Callable[[Tensor], Tensor | None]) -> Callable[[Tensor], Tensor | None]:
    """`hook`, with PyTorch's check of what it returns: None, or a tensor of the gradient's
    shape and dtype (RuntimeError otherwise, before any `.grad` is touched)."""
    def checked(grad: Tensor) -> Tensor | None:
        new = hook(grad)
        if new is None:
            return None
        name = getattr(hook, "__name__", "hook")
        if not isinstance(new, Tensor):
            raise TypeError(f"hook '{name}' returned {type(new).__name__}; expected a Tensor or None")
        if new.shape != grad.shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value: from "
                               f"{list(grad.shape)} to {list(new.shape)}")
        if new.dtype != grad.dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value: from {grad.dtype} "
                               f"to {new.dtype}")
        return new
    checked.__wrapped__ = hook  # type: ignore[attr-defined]
    return checked


def checked_inputs(inputs: Any, fn: str) -> list | None:
    """`inputs=` of backward/grad as a list: None stays None; an empty one is refused, as
    PyTorch refuses it (RuntimeError), and so is an element that is not a tensor."""
    if inputs is None:
        return None
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError(f"{fn}(): `inputs` argument cannot be empty: give the tensors to "
                           "differentiate with respect to (or inputs=None for all leaves)")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"{fn}(): all inputs have to be Tensors, but got {type(t).__name__}")
    return inputs


def checked_gradients(grads: list, fn: str) -> list:
    """Gradients given to backward/grad: Tensors or None (PyTorch's TypeError otherwise)."""
    for g in grads:
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"{fn}(): gradients can be either Tensors or None, but got "
                            f"{type(g).__name__}")
    return grads


class RemovableHandle:
    """Returned by `register_hook`: `.remove()` unregisters the hook."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# ---------------------------------------------------------------- PyTorch's type promotion

_CATEGORIES = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _category(dt: np.dtype) -> int:
    category = _CATEGORIES.get(dt.kind)
    if category is None:
        raise TypeError(f"type promotion: no tensor has dtype {dt}; expected bool, integer or float")
    return category


def _foreign(value: Any) -> bool:
    """Whether `value` is of a type no tensor operand can be: a string, None, a complex number,
    a dict, a set or another object that is neither a number nor array-like."""
    if isinstance(value, (Surface, np.ndarray, np.generic, int, float, list, tuple)):
        return False
    return not hasattr(value, "__array__") and not hasattr(value, "__array_interface__")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's pairwise promotion: across categories the higher wins (int64 + float32 is
    float32, unlike NumPy); within one, the wider."""
    ca, cb = _category(a), _category(b)
    return np.promote_types(a, b) if ca == cb else (a if ca > cb else b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower) and higher.kind != "b":
        return higher
    return promote_types(higher, lower)


def result_type(*args: Any) -> np.dtype:
    """PyTorch's result dtype: dimensioned tensors win, then 0-d tensors, then Python scalars,
    and a higher category (bool < int < float) from a lower-priority group still promotes."""
    groups: list[np.dtype | None] = [None, None, None]
    for a in args:
        if isinstance(a, Tensor):
            dt, g = a._data.dtype, 0 if a._data.ndim else 1
        elif isinstance(a, (bool, np.bool_)):
            dt, g = bool_, 2
        elif isinstance(a, (int, np.integer)):
            dt, g = int64, 2
        else:
            dt, g = get_default_dtype(), 2
        groups[g] = dt if groups[g] is None else promote_types(groups[g], dt)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def _weak(value: np.generic) -> Any:
    """A NumPy scalar as torch takes it: a Python number, weak in promotion (float32 tensor *
    np.float64 stays float32); np.bool_ counts as a float, as in torch."""
    if isinstance(value, np.bool_):
        return float(value)
    if isinstance(value, (np.integer, np.floating, np.complexfloating)):
        return value.item()
    return Tensor._make(np.asarray(value))


def _promote(op: Op, args: tuple) -> list:
    """The arrays to run `op` on: cast to PyTorch's result dtype where the op promotes."""
    datas = [a._data if isinstance(a, Tensor) else a for a in args]
    if op.promote is None:
        return datas
    common = None  # the fast, usual case: one floating dtype, other operands Python numbers
    for a in args:
        if isinstance(a, Tensor):  # nn.Parameter too
            if common is None:
                common = a._data.dtype
            elif a._data.dtype != common:
                break
        elif type(a) is not float and type(a) is not int:
            break
    else:
        if common is not None and common.kind == "f":
            return datas
    operands = args[1:] if op.name == "where" else args
    dt = result_type(*operands)
    if op.promote == "float" and dt.kind in "biu":
        dt = get_default_dtype()
    out = []
    for k, a in enumerate(args):
        if isinstance(a, Tensor):
            cast = a._data.dtype != dt and not (op.name == "where" and k == 0)
            out.append(a._data.astype(dt) if cast else a._data)
        else:
            out.append(a)
    return out


# ---------------------------------------------------------------- elementwise ops in one frame
# `x + y`, `h * w`, `x.exp()` on plain tensors of one dtype (and Python numbers) are most of
# what eager code runs. Their method does `Tensor._apply`'s and `_record`'s steps itself, in
# one Python frame instead of four (each costs 60-80 ns); any other operands, and ops whose
# node name depends on the call, take the general path unchanged. Only dispatch and
# recording are specialised: the forward is the op's ufunc and the node is the one
# `_record` makes, so the backward runs the same rule on the same saved values.

def _elementwise(op: Op) -> Callable | None:
    """The method `x.<op>()` of a one-input op, or `binary(x, y)` of a two-input one, whose
    forward is a plain ufunc call, or of a one-input elementwise op without params whose
    result is a new array (`x.sigmoid()`: a kernel); None for any other op."""
    plan = _PLANS[op]
    node = plan.node2 if plan.arity == 2 else plan.node  # None: named per call (`x @ w`)
    if node is None or op.scalars:  # (a number operand may be a param: `_record` sees to it)
        return None
    records, same = plan.differentiable, plan.kinds[False]
    if plan.arity is None and len(op.args) == 1 and op.elementwise and not op.params and not op.linear:
        return _unary(op, plan.forward, records, same)
    if plan.arity not in (1, 2):
        return None
    if plan.arity == 1:
        return _unary(op, plan.forward, records, same)
    return _binary(op, plan.forward, node, records, same, plan.kinds[True])


def _unary(op: Op, ufunc: Callable, records: bool, same: str) -> Callable:
    """`x.exp()`: the ufunc (or kernel) on a plain tensor whose dtype it takes as it is,
    recorded."""
    general = _applying(op)  # the surface's method: other operands, keywords, errors

    def method(x: Tensor, *others: Any, **named: Any) -> Tensor:
        if type(x) is not Tensor or others or named:
            return general(x, *others, **named)
        a = x._data
        if a.dtype.kind not in same:
            return general(x)
        out = ufunc(a)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = _empty(Tensor)  # Tensor._make(out), inlined
        result._data, result.grad_fn, result._output_nr, result._requires_grad = out, None, 0, False
        result._grad = result._acc = result._hooks = result._view = result._vc = None
        if x._requires_grad and records and _modes.enabled:
            _record_one(_PLANS[op], op, _NO_PARAMS, x, result, None)
        return result
    return method


def _binary(op: Op, ufunc: np.ufunc, node: type, records: bool, same: str, floats: str) -> Callable:
    """`binary(x, y)`: the ufunc on two plain tensors of one dtype, or one and a Python
    number that does not promote it, recorded; `apply(op, x, y)` for anything else."""

    def general(x: Any, y: Any) -> Tensor:  # any other operands: `apply(op, x, y)`
        args = (x, y)
        return owner(args)._apply(op, args, _NO_PARAMS, None)

    def binary(x: Any, y: Any) -> Tensor:
        # `needs` as `Tensor._apply` has it: a bit per input that requires grad after a 1
        if type(x) is Tensor:
            a = x._data
            kind = a.dtype.kind
            if type(y) is Tensor:
                b = y._data
                if b.dtype is not a.dtype or kind not in same:
                    return general(x, y)
                needs = 4 + 2 * x._requires_grad + y._requires_grad
            elif type(y) is float and kind in floats or type(y) is int and kind in same:
                b, needs = y, 4 + 2 * x._requires_grad
            else:
                return general(x, y)
        elif type(y) is Tensor and (type(x) is float and y._data.dtype.kind in floats
                                    or type(x) is int and y._data.dtype.kind in same):
            a, b, needs = x, y._data, 4 + y._requires_grad
        else:
            return general(x, y)
        try:
            out = ufunc(a, b)
        except (ValueError, IndexError):  # shapes that do not broadcast: the op's own error
            return general(x, y)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = _empty(Tensor)  # Tensor._make(out), inlined
        result._data, result.grad_fn, result._output_nr, result._requires_grad = out, None, 0, False
        result._grad = result._acc = result._hooks = result._view = result._vc = None
        if needs == 4 or not records or not _modes.enabled:
            return result
        # _record's steps for two inputs: each tensor's edge, and what is kept of it (itself
        # and its version if read, else its shape); a number is kept as it is
        plan = _PLANS[op]
        (read_x, read_y), read_ans = plan.reads.get(needs) or plan.read(op, needs)
        fn = result.grad_fn = _empty(node)
        fn._op, fn._params, fn._nrs, fn._hooks, fn._retained = op, _NO_PARAMS, None, None, None
        fn._stack = _user_frames() if _anomaly_ever[0] and _modes.anomaly else None
        result._requires_grad = True
        if a is x:  # a number: kept as it is, no edge
            fn._edge0, fn._kept0, fn._seen = None, x, None
        else:
            fn._edge0, fn._kept0, fn._seen = _operand(x, a, read_x, None)
        if b is y:
            fn._edge1, fn._kept1, fn._seen1 = None, y, None
        else:  # (`x + y` of one shape keeps x's `_Shape` for y too)
            fn._edge1, fn._kept1, fn._seen1 = _operand(y, b, read_y, fn._kept0)
        if (a is not x and x._output_nr) or (b is not y and y._output_nr):
            fn._nrs = (0 if a is x or x.grad_fn is None else x._output_nr,
                       0 if b is y or y.grad_fn is None else y._output_nr)
        if read_ans:
            fn._ans, fn._ans_vc = out, None  # a new array: version 0, no counter yet
        else:
            fn._ans = fn._ans_vc = None
        return result
    return binary


def _operand(t: Tensor, data: np.ndarray, read: bool, like: Any) -> tuple:
    """(edge, kept, version) of a tensor operand of a binary op: its node (None without
    grad); itself and its version if the rule reads it, else its `_Shape` (`like`, the
    other operand's, when it fits)."""
    edge = t.grad_fn
    if edge is None and t._requires_grad:
        edge = t._acc or t._edge()[0]
    if read:
        counter = t._vc
        return edge, t, 0 if counter is None else counter[0]
    if type(like) is _Shape and like.shape == data.shape and like.dtype is data.dtype:
        return edge, like, None
    kept = _SHAPES.get(data.shape)
    return edge, kept if kept is not None and kept.dtype is data.dtype else _unread(t), None


def _reflected(binary: Callable) -> Callable:
    """`other <op> x`: `binary(other, x)`."""
    def method(self: Tensor, other: Any) -> Tensor:
        return binary(other, self)
    return method


def _binary_method(op: Op, binary: Callable) -> Callable:
    """`x.mul(y)`: through `binary`; keywords (`x.mul(other=y)`) and other operand counts
    through the surface's method."""
    general = _applying(op)

    def method(self: Tensor, *others: Any, **named: Any) -> Tensor:
        if named or len(others) != 1:
            return general(self, *others, **named)
        return binary(self, others[0])
    return method


def _install_elementwise() -> None:
    """Give `Tensor` the one-frame form of every method and operator of an elementwise op
    that still is the registry's derived one (a face's own method, `__eq__`, stays)."""
    for op in OPS.values():
        fast = _elementwise(op)
        if fast is None:
            continue
        for name in (*op.methods, *(f"__{n}__" for n in op.operators)):
            if name in METHODS or name in FACES["torch"] or name in Tensor.__dict__:
                continue  # written by hand (`div`'s rounding_mode, `__eq__`'s foreign operands)
            if len(op.args) == 1:
                method = fast
            elif name.startswith("__r") and name[3:-2] in op.operators:
                method = _reflected(fast)  # (PyTorch's own, if any: `_install_reflected`)
            elif name.startswith("__"):
                method = fast
            else:
                method = _binary_method(op, fast)
            method.__name__ = method.__qualname__ = op.name if method is fast else name
            method.__doc__ = op.doc
            setattr(Tensor, name, method)


def _install_reflected() -> None:
    """Give `Tensor` PyTorch's reflected operators where they are not the op on (other, x)
    (`Op.reflected`): `2.0 + x` is `x + 2.0` (x's edge first), `2.0 - x` is `rsub(x, 2.0)`
    (RsubBackward1), `2.0 / x` is `x.reciprocal() * 2.0`, as PyTorch records them."""
    for op in OPS.values():
        for name in op.operators if op.reflected is not None else ():
            if not (name.startswith("r") and name[1:] in op.operators):
                continue
            if op.reflected == "commuted":  # the operator itself: no frame more
                method = getattr(Tensor, f"__{name[1:]}__")
            else:
                method = _reflection(op.reflected, f"__{name}__", op.doc)
            setattr(Tensor, f"__{name}__", method)


def _reflection(fn: Callable[[Any, Any], Any], name: str, doc: str) -> Callable:
    """`other <op> x` as `fn(x, other)`."""
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(self, other)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


_install_elementwise()
_install_reflected()
Tensor.__div__, Tensor.__rdiv__ = Tensor.__truediv__, Tensor.__rtruediv__  # PyTorch keeps Python 2's names


# ---------------------------------------------------------------- ops with params, fewer frames
# `x.sum()`, `x.reshape(4, 4)`, `x.T`, `x[1:3]`: the registered method (symgrad.ops.shape,
# reduce, index) works out the params through a keyword wrapper and helpers, then `apply_one`.
# On a plain tensor with the usual arguments (Python ints, no keywords) these methods work
# out the same params themselves and call `Tensor._apply_one` directly; any other call is
# the registered method's. The op, its forward, its node name and its rule are the same.

_one = Tensor._apply_one
_SUM, _RESHAPE, _TRANSPOSE = OPS["sum"], OPS["reshape"], OPS["transpose"]
_BROADCAST_TO, _GETITEM = OPS["broadcast_to"], OPS["getitem"]
_ALL_DIMS = [tuple(range(n)) for n in range(33)]  # ndim -> every axis (NumPy allows 64 dims)
_REVERSED = [dims[::-1] for dims in _ALL_DIMS]


def _sum(self: Tensor, dim: Any = None, keepdim: Any = False, **kwargs: Any) -> Tensor:
    # a float tensor's sum keeps its dtype; others take `reduce.accumulating`'s rule
    if type(self) is Tensor and not kwargs and type(keepdim) is bool and self._data.dtype.kind == "f":
        ndim = self._data.ndim
        if dim is None and ndim < 33:
            return _one(_SUM, self, {"axes": _ALL_DIMS[ndim], "keepdims": keepdim}, None)
        if type(dim) is int and -ndim <= dim < ndim:
            return _one(_SUM, self, {"axes": (dim % ndim,), "keepdims": keepdim}, None)
    return _GENERAL["sum"](self, dim, keepdim, **kwargs)


def _reshape(self: Tensor, *shape: Any, **kwargs: Any) -> Tensor:
    if type(self) is Tensor and not kwargs:
        sizes = shape[0] if len(shape) == 1 and type(shape[0]) in (tuple, Size) else shape
        for n in sizes:
            if type(n) is not int or n < 0:
                break
        else:  # plain sizes: `dims.resolve_shape` would return them as they are
            return _one(_RESHAPE, self, {"shape": tuple(sizes)}, None)
    return _GENERAL["reshape"](self, *shape, **kwargs)


_NOT_A_VIEW = ("view size is not compatible with input tensor's size and stride (at least one "
               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")


def _view(self: Tensor, *shape: Any, **kwargs: Any) -> Tensor:
    """`reshape`'s steps, and PyTorch's refusal where the result cannot share the memory.
    NumPy's reshape copies where it cannot give a view, which on PyTorch's layouts is where
    PyTorch's view refuses (the copy has no version counter of x's, `_share`); a flipped
    tensor, which NumPy keeps as negative strides where PyTorch copies, is asked
    `_viewable` on its strides' magnitudes, as `stride()` reports them."""
    if type(self) is Tensor and not kwargs:
        sizes = shape[0] if len(shape) == 1 and type(shape[0]) in (tuple, Size) else shape
        for n in sizes:
            if type(n) is not int or n < 0:
                break
        else:
            out = _one(_RESHAPE, self, {"shape": tuple(sizes)}, None)
            return out if out._vc is not None else _copied_view(self, out)
    out = _GENERAL["view"](self, *shape, **kwargs)
    return out if not isinstance(out, Tensor) or out._vc is not None else _copied_view(self, out)


def _copied_view(x: Tensor, out: Tensor) -> Tensor:
    """`out`, the copy NumPy made for `x.view(...)`, if PyTorch would give that view."""
    if min(x._data.strides, default=0) < 0 and _viewable(x.shape, x.stride(), out.shape):
        return out
    raise RuntimeError(_NOT_A_VIEW)


def _viewable(shape: tuple, strides: tuple, new: tuple) -> bool:
    """Whether a tensor of `shape` and `strides` (in elements) has a view of shape `new`:
    PyTorch's rule (ATen's computeStride), which splits and merges only dims that lie
    contiguously in memory, chunk by chunk from the last dim."""
    if not shape or 0 in shape:
        return True
    view_d, base, numel, view_numel = len(new) - 1, strides[-1], 1, 1
    for d in range(len(shape) - 1, -1, -1):
        numel *= shape[d]
        if d == 0 or shape[d - 1] != 1 and strides[d - 1] != numel * base:
            while view_d >= 0 and (view_numel < numel or new[view_d] == 1):
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != numel:
                return False
            if d > 0:
                base, numel, view_numel = strides[d - 1], 1, 1
    return view_d == -1


def _reversed_dims(self: Tensor) -> Tensor:
    if type(self) is Tensor and self._data.ndim < 33:
        return _one(_TRANSPOSE, self, {"axes": _REVERSED[self._data.ndim]}, None)
    return _GENERAL["T"].fget(self)


def _t(self: Tensor) -> Tensor:
    if type(self) is Tensor and self._data.ndim <= 2:
        return _one(_TRANSPOSE, self, {"axes": _REVERSED[self._data.ndim]}, "TBackward0")
    return _GENERAL["t"](self)


def _transpose(self: Tensor, *dims_: Any, **kwargs: Any) -> Tensor:
    if type(self) is Tensor and not kwargs and len(dims_) == 2:
        a, b = dims_
        ndim = self._data.ndim
        if type(a) is int and type(b) is int and -ndim <= a < ndim and -ndim <= b < ndim:
            a, b = a % ndim, b % ndim
            order = list(_ALL_DIMS[ndim]) if ndim < 33 else list(range(ndim))
            order[a], order[b] = b, a
            return _one(_TRANSPOSE, self, {"axes": tuple(order)}, "TransposeBackward0")
    return _GENERAL["transpose"](self, *dims_, **kwargs)


def _unsqueeze(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    if type(self) is Tensor and not kwargs and len(args) == 1 and type(args[0]) is int:
        old = self._data.shape
        d = args[0]
        if -len(old) - 1 <= d <= len(old):
            d %= len(old) + 1
            return _one(_RESHAPE, self, {"shape": old[:d] + (1,) + old[d:]}, "UnsqueezeBackward0")
    return _GENERAL["unsqueeze"](self, *args, **kwargs)


def _expand(self: Tensor, *sizes: Any, **kwargs: Any) -> Tensor:
    if type(self) is Tensor and not kwargs:
        for n in sizes:
            if type(n) is not int or n < 0:
                break
        else:
            return _one(_BROADCAST_TO, self, {"shape": sizes}, None)
    return _GENERAL["expand"](self, *sizes, **kwargs)


def _getitem(self: Tensor, key: Any) -> Any:
    if type(self) is Tensor:
        kind = type(key)  # one int or one slice of ints: its index as `index_of` makes it
        if kind is int:
            return _one(_GETITEM, self, {"index": (("int", key),)}, None)
        if kind is slice:
            start, stop, step = key.start, key.stop, key.step
            if ((start is None or type(start) is int) and (stop is None or type(stop) is int)
                    and (step is None or type(step) is int)):
                return _one(_GETITEM, self, {"index": (("slice", start, stop, step),)}, None)
        index, arrays = index_of(key, self)
        if not arrays:
            return _one(_GETITEM, self, {"index": index}, None)
        return apply(_GETITEM, self, *arrays, index=index)
    return _GENERAL["__getitem__"](self, key)


_FEWER_FRAMES = {"sum": _sum, "reshape": _reshape, "view": _view,
                 "T": property(_reversed_dims), "t": _t, "transpose": _transpose,
                 "unsqueeze": _unsqueeze, "expand": _expand, "__getitem__": _getitem}
_GENERAL = {name: getattr(Tensor, name) for name in _FEWER_FRAMES}  # the registered methods
for _name, _method in _FEWER_FRAMES.items():
    if not isinstance(_method, property):
        _method.__name__ = _method.__qualname__ = _name
        _method.__doc__ = _GENERAL[_name].__doc__
    setattr(Tensor, _name, _method)
