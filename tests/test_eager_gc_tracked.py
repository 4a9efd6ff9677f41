"""What a recorded eager graph leaves for the cycle collector, and the semantics kept while
keeping it small: `next_functions` as PyTorch shows it (output numbers included), lazily
made version counters shared by views, in-place detection on saved inputs and outputs,
and a graph freed by reference counting alone.

The first test counts objects; the others run on symgrad and, when importable, on PyTorch
(the `lib` fixture), so each expectation is PyTorch's behaviour.
"""

import collections
import gc
import weakref

import numpy as np
import pytest

import symgrad

CYCLES = 200  # 5 recorded ops each: a 1000-op chain


def _chain(lib, h, x, y, cycles):
    for _ in range(cycles):
        h = (h * y + x).sin().exp().tanh()
    return h


def _tracked() -> collections.Counter:
    gc.collect()
    return collections.Counter(type(o).__name__ for o in gc.get_objects())


def test_a_recorded_elementwise_op_leaves_its_node_and_the_tensors_it_saves():
    # every object the cycle collector tracks is rescanned by each full collection, and a
    # long chain triggers one each time the tracked heap grows by a quarter: a recorded op
    # must keep its node and the tensors it saves (per cycle here, 5 nodes and 2 tensors:
    # the product's `h` and the sine's input), no tuple per edge or per saved input
    x = symgrad.tensor(np.linspace(0.1, 0.9, 16, dtype=np.float32), requires_grad=True)
    y = symgrad.tensor(np.linspace(0.5, 0.9, 16, dtype=np.float32), requires_grad=True)
    _chain(symgrad, x, x, y, 5)  # shape caches and node classes made before counting
    before = _tracked()
    h = _chain(symgrad, x, x, y, CYCLES)
    after = _tracked()
    grown = after - before
    per_op = sum(grown.values()) / (5 * CYCLES)
    assert per_op <= 1.5, f"{per_op:.2f} tracked objects per op: {grown.most_common(5)}"
    assert grown["tuple"] <= 1 and grown["Tensor"] <= 2 * CYCLES + 1, grown.most_common(5)
    h.sum().backward()  # the graph still backpropagates
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()


def test_next_functions_show_output_numbers_of_a_multi_output_node(lib):
    class SinCos(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gsin, gcos):
            return gsin + gcos

    x = lib.tensor([0.5, 1.0], requires_grad=True)
    s, c = SinCos.apply(x)
    out = c * s
    assert out.grad_fn.next_functions == ((c.grad_fn, 1), (s.grad_fn, 0))
    neg = -c
    assert neg.grad_fn.next_functions == ((c.grad_fn, 1),)
    assert type(neg.grad_fn.next_functions[0]) is tuple


def test_next_functions_of_one_input_and_of_inputs_without_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()
    assert len(e.grad_fn.next_functions) == 1
    acc, nr = e.grad_fn.next_functions[0]
    assert type(acc).__name__ == "AccumulateGrad" and nr == 0 and acc.variable is x
    plain = lib.tensor([3.0, 4.0])
    m = e * plain
    assert m.grad_fn.next_functions == ((e.grad_fn, 0), (None, 0))


def test_a_view_of_a_fresh_tensor_shares_its_version(lib):
    base = lib.tensor([1.0, 2.0, 3.0]) * 1  # made by an op: no counter asked for yet
    view = base[1:]
    assert base._version == 0 and view._version == 0
    view.mul_(2)
    assert base._version == 1 and view._version == 1
    base.add_(1)
    assert view._version == 2
    assert isinstance(base._version, int)


def test_writing_a_saved_output_through_a_view_is_detected(lib):
    x = lib.tensor([0.1, 0.2, 0.3], requires_grad=True)
    e = x.exp()  # ExpBackward0 reads its output
    loss = e.sum()
    with lib.no_grad():
        e[1:].mul_(2)  # a view of e, sharing its counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; "
                                           "expected version 0"):
        loss.backward()


def test_a_saved_input_written_twice_reports_both_versions(lib):
    x = lib.tensor([0.1, 0.2], requires_grad=True)
    h = x * 2
    h.add_(1)  # version 1, before it is saved
    out = h.sin()  # SinBackward0 saves h at version 1
    with lib.no_grad():
        h.add_(1)
        h[:1].add_(1)  # through a view: the same counter
    with pytest.raises(RuntimeError, match=r"output 0 of Add\w*, is at version 3; "
                                           r"expected version 1"):
        out.sum().backward()


def test_an_unused_graph_is_freed_without_the_cycle_collector():
    x = symgrad.tensor(np.linspace(0.1, 0.9, 16), requires_grad=True)
    h = _chain(symgrad, x, x, x, 50)
    node = weakref.ref(h.grad_fn)
    was = gc.isenabled()
    gc.disable()  # only this test's own check: reference counting alone must free it
    try:
        del h
        assert node() is None
    finally:
        if was:
            gc.enable()


def test_saved_values_are_freed_by_backward_and_a_second_backward_raises(lib):
    x = lib.tensor([0.3, 0.6], requires_grad=True)
    out = x.sin().exp().sum()
    out.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_a_leaf_keeps_its_accumulator_and_frees_it_with_itself():
    # the leaf holds its AccumulateGrad, which refers back weakly: graphs that die do not
    # take it along (the next op would rebuild it), and the leaf dying frees it, no cycle
    x = symgrad.tensor([1.0, 2.0], requires_grad=True)
    acc = weakref.ref((x * 2).grad_fn.next_functions[0][0])
    assert acc() is not None and acc().variable is x
    assert (x * 3).grad_fn.next_functions[0][0] is acc()
    was = gc.isenabled()
    gc.disable()  # reference counting alone must free both
    try:
        del x
        assert acc() is None
    finally:
        if was:
            gc.enable()


def test_a_graph_outliving_its_leaf_still_backpropagates(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * w).sum()
    del x
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def test_writing_a_saved_output_in_place_is_detected(lib):
    # ExpBackward0 saves its output before anyone asks for its version counter
    x = lib.tensor([0.1, 0.2], requires_grad=True)
    e = x.exp()
    loss = e.sum()
    with lib.no_grad():
        e.mul_(2)
    assert e._version == 1
    with pytest.raises(RuntimeError, match=r"output 0 of Exp\w*, is at version 1; "
                                           r"expected version 0"):
        loss.backward()


def test_a_saved_output_read_by_a_later_op_is_checked_by_both_nodes(lib):
    x = lib.tensor([0.1, 0.2], requires_grad=True)
    e = x.exp()
    s = e.sin()  # SinBackward0 reads e too: both nodes check the counter the write makes
    with lib.no_grad():
        e.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        s.sum().backward()
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        e.sum().backward()


def test_a_create_graph_backward_leaves_the_output_checked(lib):
    # the second-order graph reads the output as a tensor of its own: writing the
    # original output afterwards is still caught by the node that saved it
    x = lib.tensor([0.1, 0.2], requires_grad=True)
    e = x.exp()
    (g,) = lib.autograd.grad(e.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.exp([0.1, 0.2]), rtol=1e-6)
    with lib.no_grad():
        e.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        e.sum().backward()


def test_a_recorded_op_makes_no_tuple_the_collector_tracks_even_briefly():
    # a tuple of arrays and ints is untracked only when a collection first sees it: until
    # then it counts towards the next one. Nodes of one or two inputs keep edges, saved
    # inputs and the versions they check in slots.
    x = symgrad.tensor(np.linspace(0.1, 0.9, 16, dtype=np.float32), requires_grad=True)
    y = symgrad.tensor(np.linspace(0.5, 0.9, 16, dtype=np.float32), requires_grad=True)
    h = _chain(symgrad, x, x, y, 3)
    node, seen = h.grad_fn, 0
    while node is not None and type(node).__name__ != "AccumulateGrad":
        assert not any(type(r) is tuple for r in gc.get_referents(node)), type(node).__name__
        node, seen = node.next_functions[0][0], seen + 1
    assert seen == 15


def test_a_leaf_hook_runs_after_the_leaf_has_died(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.detach().numpy().copy()))
    loss = (x * 3).sum()
    del x
    loss.backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [3.0, 3.0])


def test_a_copy_of_a_used_leaf_accumulates_into_itself(lib):
    import copy

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()  # x has made its accumulator
    y = copy.deepcopy(x)
    (y * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(y.grad.numpy(), [5.0, 5.0])
