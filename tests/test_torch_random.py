"""Sampling and dtypes as PyTorch has them: `randint`, `randperm`, `normal`, `bernoulli`,
`multinomial`, `Generator`, the integer and half dtypes, `finfo` and `iinfo`. Values are
NumPy's random numbers, not PyTorch's: shapes, dtypes, ranges and statistics are checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import symgrad

torch = pytest.importorskip("torch")

N = 20000  # samples for the statistics: standard errors about 1 / sqrt(N) < 0.01


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """The statistics are checked at tolerances of several standard errors, on a fixed stream."""
    symgrad.manual_seed(0)


# ---------------------------------------------------------------- randint, randperm

@pytest.mark.parametrize("call", [
    lambda ns: ns.randint(0, 5, (3, 4)),
    lambda ns: ns.randint(5, (3, 4)),
    lambda ns: ns.randint(5, size=(3, 4)),
    lambda ns: ns.randint(high=5, size=(3, 4)),
    lambda ns: ns.randint(low=0, high=5, size=[3, 4]),
    lambda ns: ns.randint(0, 5, (3, 4), dtype=ns.float32),
    lambda ns: ns.randint(-3, 2, (3, 4), dtype=ns.int32),
    lambda ns: ns.randperm(7),
    lambda ns: ns.randperm(7, dtype=ns.float64),
])
def test_shapes_and_dtypes_match_torch(call: Any) -> None:
    ours, theirs = call(symgrad), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == theirs.numpy().dtype
    assert not ours.requires_grad


def test_randint_range_and_uniformity() -> None:
    x = symgrad.randint(-2, 3, (N,)).numpy()
    assert x.min() == -2 and x.max() == 2
    np.testing.assert_allclose(np.bincount(x + 2) / N, 0.2, atol=0.02)
    assert set(symgrad.randint(1, (10,)).numpy()) == {0}
    with pytest.raises(RuntimeError, match="from=3 >= to=1"):
        symgrad.randint(3, 1, (2,))
    with pytest.raises(TypeError, match="size"):
        symgrad.randint(5)


def test_randperm_is_a_permutation() -> None:
    p = symgrad.randperm(50).numpy()
    np.testing.assert_array_equal(np.sort(p), np.arange(50))
    assert symgrad.randperm(0).shape == (0,)


# ---------------------------------------------------------------- normal

def test_normal_statistics() -> None:
    x = symgrad.normal(2.0, 3.0, size=(N,))
    assert x.dtype == np.float32 and x.shape == (N,)
    assert abs(x.numpy().mean() - 2.0) < 0.1 and abs(x.numpy().std() - 3.0) < 0.1
    mean = symgrad.tensor([-5.0, 0.0, 5.0], dtype=symgrad.float64)
    std = symgrad.tensor([0.1, 1.0, 2.0], dtype=symgrad.float64)
    samples = np.stack([symgrad.normal(mean, std).numpy() for _ in range(2000)])
    np.testing.assert_allclose(samples.mean(0), [-5, 0, 5], atol=0.15)
    np.testing.assert_allclose(samples.std(0), [0.1, 1, 2], rtol=0.1)
    assert symgrad.normal(mean, std).dtype == np.float64


@pytest.mark.parametrize("call", [
    lambda ns: ns.normal(0.0, 1.0, size=(2, 3)),
    lambda ns: ns.normal(0.0, 1.0, (2, 3)),
    lambda ns: ns.normal(ns.zeros(3)),
    lambda ns: ns.normal(ns.zeros(3), 2.0),
    lambda ns: ns.normal(1.0, ns.ones(3, dtype=ns.float64)),
    lambda ns: ns.normal(ns.zeros(2, 1), ns.ones(3)),
    lambda ns: ns.normal(mean=ns.zeros(4), std=ns.ones(4)),
])
def test_normal_forms_match_torch(call: Any) -> None:
    ours, theirs = call(symgrad), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == theirs.numpy().dtype


@pytest.mark.parametrize("call", [
    lambda ns: ns.normal(0.0, -1.0, (2,)),
    lambda ns: ns.normal(0.0, 1.0),
    lambda ns: ns.normal(ns.zeros(2), 1.0, size=(2,)),
    lambda ns: ns.bernoulli(ns.tensor([1.5])),
    lambda ns: ns.multinomial(ns.tensor([1.0, -1.0]), 1),
    lambda ns: ns.multinomial(ns.tensor([0.5, 0.5]), 0),
    lambda ns: ns.multinomial(ns.tensor([0.5, 0.5]), 3),
])
def test_bad_input_raises_what_torch_raises(call: Any) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)):
        call(symgrad)


# ---------------------------------------------------------------- bernoulli, multinomial

def test_bernoulli() -> None:
    p = symgrad.tensor(np.linspace(0, 1, 5), dtype=symgrad.float64)
    samples = np.stack([symgrad.bernoulli(p).numpy() for _ in range(4000)])
    assert samples.dtype == np.float64 and set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_allclose(samples.mean(0), np.linspace(0, 1, 5), atol=0.03)
    assert symgrad.bernoulli(symgrad.full((3,), 0.5)).dtype == np.float32
    np.testing.assert_array_equal(symgrad.bernoulli(symgrad.ones(4), p=0.0).numpy(), np.zeros(4))


def test_multinomial() -> None:
    probs = symgrad.tensor([0.1, 0.2, 0.7])
    draws = symgrad.multinomial(probs, N, replacement=True)
    assert draws.dtype == np.int64 and draws.shape == (N,)
    np.testing.assert_allclose(np.bincount(draws.numpy(), minlength=3) / N, [0.1, 0.2, 0.7], atol=0.02)
    weights = symgrad.tensor([[1.0, 2.0, 3.0, 4.0], [4.0, 0.0, 1.0, 1.0]])  # need not sum to 1
    picks = symgrad.multinomial(weights, 3)
    theirs = torch.multinomial(torch.tensor(weights.numpy()), 3)
    assert tuple(picks.shape) == tuple(theirs.shape) == (2, 3)
    for row in picks.numpy():
        assert len(set(row)) == 3  # without replacement: distinct
    assert 1 not in picks.numpy()[1]  # a zero weight is never drawn
    first = np.bincount([symgrad.multinomial(weights[0], 1).item() for _ in range(2000)], minlength=4)
    np.testing.assert_allclose(first / 2000, [0.1, 0.2, 0.3, 0.4], atol=0.04)
    # second draws without replacement follow the remaining weights: P(second = 0) = sum_j p_j p_0 / (1 - p_j)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    second = np.bincount([symgrad.multinomial(weights[0], 2)[1].item() for _ in range(4000)], minlength=4)
    expected = [sum(p[j] * p[i] / (1 - p[j]) for j in range(4) if j != i) for i in range(4)]
    np.testing.assert_allclose(second / 4000, expected, atol=0.03)
    zeros_last = symgrad.multinomial(symgrad.tensor([0.0, 1.0, 0.0]), 3).numpy()
    assert zeros_last[0] == 1 and sorted(zeros_last) == [0, 1, 2]  # as torch: zero weights come last


# ---------------------------------------------------------------- Generator

def test_generator_reproduces_its_stream() -> None:
    g = symgrad.Generator().manual_seed(3)
    assert isinstance(g, symgrad.Generator) and g.initial_seed() == 3

    def draws() -> list:
        return [symgrad.randint(0, 100, (5,), generator=g), symgrad.randperm(5, generator=g),
                symgrad.normal(0.0, 1.0, (5,), generator=g),
                symgrad.bernoulli(symgrad.full((5,), 0.5), generator=g),
                symgrad.multinomial(symgrad.ones(5), 5, generator=g)]
    first = draws()
    g.manual_seed(3)
    again = draws()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    symgrad.manual_seed(1)
    x = symgrad.randint(0, 1000, (8,))
    symgrad.manual_seed(1)
    np.testing.assert_array_equal(x.numpy(), symgrad.randint(0, 1000, (8,)).numpy())
    with pytest.raises(RuntimeError):
        symgrad.Generator(device="cuda")


# ---------------------------------------------------------------- dtypes, finfo, iinfo

DTYPES = ["int32", "int16", "int8", "uint8", "float16", "int", "short", "half"]


@pytest.mark.parametrize("name", DTYPES)
def test_dtypes_match_torch(name: str) -> None:
    ours, theirs = getattr(symgrad, name), getattr(torch, name)
    assert ours == torch.empty(0, dtype=theirs).numpy().dtype
    t = symgrad.tensor([1, 2], dtype=ours)
    assert t.dtype == ours and (t * 2).dtype == ours
    assert f"dtype=symgrad.{ours.name}" in repr(t)
    assert symgrad.zeros(2, dtype=ours).dtype == ours


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_torch(name: str) -> None:
    ours, theirs = symgrad.finfo(getattr(symgrad, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert type(ours.eps) is float
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name: str) -> None:
    ours, theirs = symgrad.iinfo(getattr(symgrad, name)), torch.iinfo(getattr(torch, name))
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


def test_info_defaults_and_errors() -> None:
    assert symgrad.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError, match="floating point"):
        symgrad.finfo(symgrad.int32)
    with pytest.raises(TypeError, match="integer"):
        symgrad.iinfo(symgrad.float32)
