"""Which eager results share their input's memory and version counter: the rule `Tensor._apply`
reads off NumPy's collapsed `base` must say what `np.may_share_memory` says, on chains of views,
copies, casts and tensors over foreign buffers; and the fast index, shape and dim paths must
give what the general ones give."""

import numpy as np
import pytest

import symgrad


def _shares(result, source) -> bool:
    return result._vc is not None and result._vc is source._version_counter


CASES = [
    ("reshape", lambda x: x.reshape(4, 6)),
    ("view -1", lambda x: x.view(-1)),
    ("reshape of one tuple", lambda x: x.reshape((6, 4))),
    ("slice", lambda x: x[1:3]),
    ("select", lambda x: x[:, 2]),
    ("step slice of a slice", lambda x: x[1:][::2]),
    ("transpose", lambda x: x.transpose(0, 1)),
    ("unsqueeze", lambda x: x.unsqueeze(0)),
    ("expand", lambda x: x.unsqueeze(0).expand(3, 4, 6)),
    ("reshape of a transpose (a copy)", lambda x: x.t().reshape(-1)),
    ("index array (a copy)", lambda x: x[[0, 2]]),
    ("sum", lambda x: x.sum(dim=0)),
    ("add", lambda x: x + 1.0),
]


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("over", ["own", "view", "buffer"])
def test_shares_exactly_when_numpy_memory_is_shared(name, fn, over):
    data = np.arange(24, dtype=np.float32).reshape(4, 6)
    if over == "view":
        data = np.arange(48, dtype=np.float32).reshape(8, 6)[::2]
        data = np.ascontiguousarray(data)[:, :] if name.startswith(("reshape", "view")) else data
    elif over == "buffer":
        data = np.frombuffer(bytearray(data.tobytes()), np.float32).reshape(4, 6)
    x = symgrad.from_numpy(data) if hasattr(symgrad, "from_numpy") else symgrad.tensor(data)
    out = fn(x)
    assert _shares(out, x) == np.may_share_memory(out._data, x._data), name


def test_a_write_through_a_chain_of_views_bumps_the_base_version():
    x = symgrad.zeros(4, 6)
    for view, written in ((x[1:][::2], np.s_[1::2]), (x[1:].reshape(-1)[::3].unsqueeze(0), np.s_[1:])):
        before = x._version
        view.add_(1.0)
        assert x._version == before + 1
        assert x.numpy()[written].sum() > 0


def test_a_cast_operand_does_not_share():
    x = symgrad.arange(6, dtype=symgrad.int32).reshape(2, 3)
    out = x.reshape(3, 2) + 0.5  # the int32 operand is cast: a new array
    assert out._vc is None


def test_index_fast_path_matches_numpy():
    data = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    x = symgrad.tensor(data)
    keys = [1, -1, slice(1, 3), (slice(None), 2), (Ellipsis, 1), (None, 0, slice(None, None, 2)),
            (np.int64(1), slice(1, None)), (slice(np.int64(1), None),), (1, Ellipsis, None)]
    for key in keys:
        np.testing.assert_array_equal(x[key].numpy(), data[key])
    with pytest.raises(TypeError, match="slice indices must be integers"):
        x[1.5:]


@pytest.mark.parametrize("shape, message", [((5, -1), "invalid for input of size 24"),
                                            ((-1, -1, -2), "invalid shape dimension -2 at index 2"),
                                            ((-1, -1), "only one dimension can be inferred"),
                                            ((0, -1), "invalid for input of size 24")])
def test_reshape_errors(shape, message):
    with pytest.raises(RuntimeError, match=message):
        symgrad.zeros(4, 6).reshape(*shape)


def test_reshape_and_dims_against_numpy():
    x = symgrad.zeros(4, 6)
    assert tuple(x.reshape(2, -1, 3).shape) == (2, 4, 3)
    assert tuple(x.reshape(np.int64(3), 8).shape) == (3, 8)
    assert tuple(x.reshape([-1]).shape) == (24,)
    assert tuple(x.sum(dim=-1).shape) == (4,)
    assert tuple(x.transpose(-1, 0).shape) == (6, 4)
    assert tuple(symgrad.tensor(2.0).sum(dim=0).shape) == ()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(dim=2)
