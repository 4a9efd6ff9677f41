"""The rest of `torch.nn` a tutorial uses: Module state (state_dict, load_state_dict,
buffers, apply, train/eval, repr), the containers, more layers and losses, more of
`nn.functional`, `nn.init` and `nn.utils` gradient clipping.

Each is compared with PyTorch (value, gradient, grad_fn name, repr, error type and message)
and, where it has one, with a closed form; the functional ones also against central
finite differences, second order and compiled.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad import nn
from symgrad.nn import functional as F
from tests.numeric import differences

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 3))
X[0, 0] = 0.0  # a kink of leaky_relu / elu / the losses
T = RNG.random((4, 3)) + 0.05
P = T / T.sum(1, keepdims=True)
Z = X.copy()
Z[1] = 0.0  # a zero row: normalize and cosine_similarity must stay finite


def _message(exc: BaseException) -> str:
    return str(exc).replace("torch.", "symgrad.")


def _same_error(call: Callable[[Any], Any]) -> None:
    """`call(ns)` raises the same error type and message with symgrad as with torch."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(symgrad)
    assert _message(ours.value) == _message(theirs.value)


# ---------------------------------------------------------------- Module state

def _model(ns: Any) -> Any:
    class Net(ns.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = ns.nn.Sequential(ns.nn.Linear(3, 4), ns.nn.ReLU(), ns.nn.Linear(4, 2))
            self.norm = ns.nn.LayerNorm(2)
            self.register_buffer("scale", ns.ones(2))
            self.register_buffer("cache", ns.zeros(1), persistent=False)
            self.head = ns.nn.Linear(2, 1, bias=False)

        def forward(self, x: Any) -> Any:
            return self.head(self.norm(self.body(x)) * self.scale)
    return Net()


def test_state_dict_keys_order_and_detached() -> None:
    ours, theirs = _model(symgrad), _model(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict()) == ["scale", "body.0.weight", "body.0.bias", "body.2.weight",
                                       "body.2.bias", "norm.weight", "norm.bias", "head.weight"]
    state = ours.state_dict()
    assert isinstance(state, OrderedDict)
    assert not state["body.0.weight"].requires_grad
    assert ours.state_dict(keep_vars=True)["body.0.weight"] is ours.body[0].weight
    buffers = [n for n, _ in ours.named_buffers()]
    assert buffers == [n for n, _ in theirs.named_buffers()] == ["scale", "cache"]
    for method in ("named_parameters", "named_modules", "named_children"):
        assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()]
    assert len(list(ours.children())) == 3 and len(list(ours.modules())) == 7


def test_load_state_dict_round_trip_from_torch() -> None:
    ours, theirs = _model(symgrad), _model(torch).double()
    state = {k: symgrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()}
    result = ours.double().load_state_dict(state)
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict()))
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_allclose(ours(symgrad.tensor(X)).detach().numpy(),
                               theirs(torch.tensor(X)).detach().numpy(), rtol=1e-12)
    assert ours.body[0].weight.requires_grad and ours.body[0].weight.is_leaf  # copied in place


def test_load_state_dict_errors_as_torch() -> None:
    def missing(ns: Any) -> Any:
        m = _model(ns)
        state = m.state_dict()
        del state["norm.bias"]
        state["extra"] = ns.zeros(1)
        return m.load_state_dict(state)

    def size(ns: Any) -> Any:
        m = _model(ns)
        state = m.state_dict()
        state["head.weight"] = ns.zeros(3, 2)
        del state["scale"]
        return m.load_state_dict(state)

    _same_error(missing)
    _same_error(size)
    ours, theirs = _model(symgrad), _model(torch)
    state_o, state_t = ours.state_dict(), theirs.state_dict()
    del state_o["scale"], state_t["scale"]
    state_o["x"], state_t["x"] = symgrad.ones(1), torch.ones(1)
    loose = ours.load_state_dict(state_o, strict=False)
    assert repr(loose) == repr(theirs.load_state_dict(state_t, strict=False))
    assert ours.load_state_dict(state_o, strict=False).missing_keys == ["scale"]


@pytest.mark.parametrize("call", [
    lambda ns: ns.nn.Linear(2, 2).register_buffer("a.b", ns.zeros(1)),
    lambda ns: ns.nn.Linear(2, 2).register_buffer("", ns.zeros(1)),
    lambda ns: ns.nn.Linear(2, 2).register_buffer("c", 3),
    lambda ns: ns.nn.Linear(2, 2).register_buffer("weight", ns.zeros(1)),
    lambda ns: ns.nn.Linear(2, 2).train("yes"),
    lambda ns: ns.nn.Dropout(1.5),
    lambda ns: ns.nn.functional.dropout(ns.ones(2), -0.1),
    lambda ns: ns.nn.Linear(2, 2).load_state_dict([1]),
])
def test_module_errors_as_torch(call: Callable) -> None:
    _same_error(call)


def test_buffers_assign_move_and_save() -> None:
    m = _model(symgrad)
    m.scale = symgrad.full((2,), 3.0)
    assert m.state_dict()["scale"].tolist() == [3.0, 3.0] and "cache" not in m.state_dict()
    m.double()
    assert m.scale.dtype == symgrad.float64 and m.cache.dtype == symgrad.float64
    with pytest.raises(TypeError, match="buffer 'scale'"):
        m.scale = 2.0
    del m.scale
    assert "scale" not in m.state_dict()


def test_apply_train_eval_requires_grad_zero_grad() -> None:
    m = _model(symgrad)
    seen: list[str] = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    theirs: list[str] = []
    _model(torch).apply(lambda mod: theirs.append(type(mod).__name__))
    assert seen == theirs == ["Linear", "ReLU", "Linear", "Sequential", "LayerNorm", "Linear", "Net"]

    def init(mod: Any) -> None:
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
    m.apply(init)
    assert m.head.weight.tolist() == [[0.5, 0.5]] and m.head.weight.requires_grad

    assert m.training and m.eval() is m and not any(x.training for x in m.modules())
    assert all(x.training for x in m.train().modules())
    m.body.eval()
    assert m.training and not m.body[0].training

    m(symgrad.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())
    assert m.get_submodule("body.2") is m.body[2] and m.get_parameter("body.2.bias") is m.body[2].bias


def test_repr_as_torch() -> None:
    def tweak(ns: Any) -> Any:
        model = _model(ns)
        model.extra = ns.nn.ModuleList([ns.nn.Linear(2, 2) for _ in range(3)] + [ns.nn.GELU("tanh")])
        model.table = ns.nn.ModuleDict({"emb": ns.nn.Embedding(5, 2, padding_idx=1),
                                        "drop": ns.nn.Dropout(0.2)})
        return model
    assert repr(tweak(symgrad)) == repr(tweak(torch))
    assert repr(nn.Linear(3, 1)) == "Linear(in_features=3, out_features=1, bias=True)"
    assert repr(nn.Module()) == "Module()"


# ---------------------------------------------------------------- containers

def test_module_list_as_torch() -> None:
    def build(ns: Any) -> Any:
        ml = ns.nn.ModuleList([ns.nn.Linear(2, 2), ns.nn.Tanh()])
        ml.append(ns.nn.Linear(2, 3))
        ml.extend([ns.nn.ReLU(), ns.nn.ReLU()])
        ml.insert(1, ns.nn.Sigmoid())
        del ml[0]
        ml += [ns.nn.Identity()]
        return ml
    ours, theirs = build(symgrad), build(torch)
    assert repr(ours) == repr(theirs) and len(ours) == len(theirs) == 6
    assert repr(ours[1:3]) == repr(theirs[1:3]) and repr(ours[-1]) == repr(theirs[-1])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    _same_error(lambda ns: ns.nn.ModuleList([ns.nn.ReLU()])[3])
    _same_error(lambda ns: ns.nn.ModuleList().extend(3))
    _same_error(lambda ns: ns.nn.ModuleList()(1))


def test_module_dict_as_torch() -> None:
    def build(ns: Any) -> Any:
        md = ns.nn.ModuleDict({"a": ns.nn.Linear(1, 2)})
        md["b"] = ns.nn.ReLU()
        md.update([("c", ns.nn.Linear(2, 1))])
        md.pop("b")
        return md
    ours, theirs = build(symgrad), build(torch)
    assert repr(ours) == repr(theirs) and list(ours) == list(theirs) == ["a", "c"]
    assert "a" in ours and len(ours) == 2 and list(ours.keys()) == ["a", "c"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_parameter_list_and_dict() -> None:
    pl = nn.ParameterList([nn.Parameter(symgrad.zeros(2, 3)), symgrad.ones(3, dtype=symgrad.float64)])
    tl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.ones(3, dtype=torch.float64)])
    assert repr(pl) == repr(tl).replace("torch.", "symgrad.")
    assert isinstance(pl[1], nn.Parameter) and pl[1].requires_grad and len(pl) == 2
    assert list(dict(pl.named_parameters())) == list(dict(tl.named_parameters())) == ["0", "1"]
    pl.append(symgrad.ones(1))
    assert len(list(pl.parameters())) == 3 and list(pl.state_dict()) == ["0", "1", "2"]

    pd = nn.ParameterDict({"w": symgrad.ones(2), "b": nn.Parameter(symgrad.zeros(1))})
    td = torch.nn.ParameterDict({"w": torch.ones(2), "b": torch.nn.Parameter(torch.zeros(1))})
    assert list(pd) == list(td) and list(pd.state_dict()) == list(td.state_dict())
    assert repr(pd) == repr(td)
    assert isinstance(pd["w"], nn.Parameter) and "b" in pd and len(pd) == 2
    assert pd.pop("w").tolist() == [1.0, 1.0] and list(pd.keys()) == ["b"]

    class Mixture(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = nn.ParameterList([nn.Parameter(symgrad.tensor([2.0])) for _ in range(2)])

        def forward(self, x: Any) -> Any:
            return sum(w * x for w in self.weights)
    m = Mixture()
    m(symgrad.tensor([3.0])).sum().backward()
    assert [p.grad.tolist() for p in m.parameters()] == [[3.0], [3.0]]


# ---------------------------------------------------------------- layers and losses as modules

def _layers(ns: Any) -> list:
    nn_ = ns.nn
    return [nn_.GELU(), nn_.GELU("tanh"), nn_.LeakyReLU(), nn_.LeakyReLU(0.2, True), nn_.ELU(alpha=0.5),
            nn_.Softplus(beta=2.0), nn_.SiLU(), nn_.LogSigmoid(), nn_.Dropout(), nn_.Dropout(0.1, True),
            nn_.Embedding(3, 4, padding_idx=0), nn_.Embedding(3, 4), nn_.LayerNorm(3),
            nn_.LayerNorm((2, 3), elementwise_affine=False), nn_.LayerNorm(3, bias=False), nn_.BCELoss(),
            nn_.BCEWithLogitsLoss(pos_weight=ns.ones(3)), nn_.NLLLoss(), nn_.SmoothL1Loss(beta=0.5),
            nn_.HuberLoss(delta=2.0), nn_.KLDivLoss(reduction="batchmean", log_target=True),
            nn_.CrossEntropyLoss(weight=ns.ones(3)), nn_.MSELoss(), nn_.L1Loss(), nn_.Identity(), nn_.ReLU(),
            nn_.Tanh(), nn_.Sigmoid()]


@pytest.mark.parametrize("index", range(len(_layers(symgrad))))
def test_layer_repr_state_and_parameters_as_torch(index: int) -> None:
    ours, theirs = _layers(symgrad)[index], _layers(torch)[index]
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [(n, tuple(p.shape), p.requires_grad) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape), p.requires_grad) for n, p in theirs.named_parameters()]


def _copy_from(ours: Any, theirs: Any) -> None:
    ours.load_state_dict({k: symgrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("build, inputs", [
    (lambda ns: ns.nn.GELU("tanh"), (X,)),
    (lambda ns: ns.nn.LeakyReLU(0.3), (X,)),
    (lambda ns: ns.nn.ELU(2.0), (X * 30,)),
    (lambda ns: ns.nn.SiLU(), (X,)),
    (lambda ns: ns.nn.Softplus(2.0, 5.0), (X * 4,)),
    (lambda ns: ns.nn.LogSigmoid(), (X * 60,)),
    (lambda ns: ns.nn.LayerNorm(3, eps=1e-3), (X,)),
    (lambda ns: ns.nn.LayerNorm((4, 3), elementwise_affine=False), (X,)),
    (lambda ns: ns.nn.Embedding(5, 3, padding_idx=2), (np.array([[0, 2], [4, 2]]),)),
    (lambda ns: ns.nn.BCELoss(weight=ns.tensor(T[0])), (T / 2, P)),
    (lambda ns: ns.nn.BCEWithLogitsLoss(pos_weight=ns.tensor([1.0, 2.0, 3.0]), reduction="sum"), (X, P)),
    (lambda ns: ns.nn.NLLLoss(weight=ns.tensor([1.0, 2.0, 0.5]), ignore_index=1),
     (X, np.array([0, 1, 2, 2]))),
    (lambda ns: ns.nn.SmoothL1Loss(reduction="none", beta=0.5), (X, T)),
    (lambda ns: ns.nn.HuberLoss(delta=0.5), (X, T)),
    (lambda ns: ns.nn.KLDivLoss(reduction="batchmean"), (np.log(T), P)),
    (lambda ns: ns.nn.KLDivLoss(reduction="sum", log_target=True), (np.log(T), np.log(P))),
    (lambda ns: ns.nn.CrossEntropyLoss(label_smoothing=0.1), (X, np.array([0, 1, 2, 2]))),
])
def test_layer_forward_backward_as_torch(build: Callable, inputs: tuple) -> None:
    theirs = build(torch).double()
    ours = build(symgrad).double()
    _copy_from(ours, theirs)
    outs = []
    for ns, module in ((symgrad, ours), (torch, theirs)):
        args = [ns.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        y = module(*args)
        (y * ns.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))).sum().backward()
        grads = [a.grad.numpy() for a in args if a.requires_grad]
        outs.append((y, grads, [p.grad.numpy() for p in module.parameters()]))
    (y, grads, pgrads), (ty, tgrads, tpgrads) = outs
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(grads + pgrads, tgrads + tpgrads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert y.grad_fn.name() == type(ty.grad_fn).__name__


def test_dropout_train_and_eval() -> None:
    symgrad.manual_seed(0)
    x = symgrad.ones(400, 50, requires_grad=True)
    drop = nn.Dropout(0.3)
    y = drop(x)
    values = np.unique(y.detach().numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01 and abs(y.mean().item() - 1) < 0.02
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # d(mask * x / (1-p)) = mask / (1-p)
    assert drop.eval()(x) is x and F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0).detach().numpy().any() and F.dropout(x, 0.0) is x
    symgrad.manual_seed(3)
    first = F.dropout(x, 0.5).detach().numpy()
    symgrad.manual_seed(3)
    np.testing.assert_array_equal(first, F.dropout(x, 0.5).detach().numpy())
    with pytest.raises(NotImplementedError, match="training=False"):
        symgrad.grad(lambda a: F.dropout(a, 0.5).sum())(X)
    kept = symgrad.grad(lambda a: F.dropout(a, 0.5, training=False).sum())(X)
    np.testing.assert_array_equal(kept, np.ones_like(X))


def test_embedding_initialisation_padding_and_pretrained() -> None:
    symgrad.manual_seed(1)
    emb = nn.Embedding(2000, 50, padding_idx=-1)
    w = emb.weight.detach().numpy()
    assert emb.padding_idx == 1999 and not w[1999].any()
    assert abs(w[:-1].mean()) < 0.01 and abs(w[:-1].std() - 1) < 0.01  # N(0, 1), as torch
    out = emb(symgrad.tensor([[1999, 3], [3, 1999]]))
    out.sum().backward()
    assert not emb.weight.grad[1999].numpy().any() and (emb.weight.grad[3].numpy() == 2).all()
    table = symgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen(symgrad.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    _same_error(lambda ns: ns.nn.Embedding(3, 2)(ns.tensor([3])))
    _same_error(lambda ns: ns.nn.Embedding(3, 2, padding_idx=3))


def test_layer_norm_closed_form_and_parameters() -> None:
    ln = nn.LayerNorm(3)
    assert ln.weight.tolist() == [1.0, 1.0, 1.0] and ln.bias.tolist() == [0.0, 0.0, 0.0]
    y = ln(symgrad.tensor(X)).detach().numpy()
    mean, var = X.mean(-1, keepdims=True), X.var(-1, keepdims=True)
    np.testing.assert_allclose(y, (X - mean) / np.sqrt(var + 1e-5), rtol=1e-5)
    _same_error(lambda ns: ns.nn.LayerNorm(3)(ns.ones(4, 2)))


# ---------------------------------------------------------------- nn.functional against torch

def _f(ns: Any) -> Any:
    return ns.nn.functional


CASES: list[tuple[str, Callable, tuple]] = [
    ("leaky_relu", lambda ns, x: _f(ns).leaky_relu(x, 0.2), (X,)),
    ("leaky_relu kw", lambda ns, x: _f(ns).leaky_relu(x, negative_slope=0.1), (X,)),
    ("silu", lambda ns, x: _f(ns).silu(x), (X,)),
    ("elu", lambda ns, x: _f(ns).elu(x, alpha=1.5), (X * 30,)),
    ("logsigmoid", lambda ns, x: _f(ns).logsigmoid(x), (X * 50,)),
    ("layer_norm", lambda ns, x: _f(ns).layer_norm(x, (3,)), (X,)),
    ("layer_norm affine", lambda ns, x, w, b: _f(ns).layer_norm(x, [4, 3], w, b, eps=1e-3), (X, T, X + 1)),
    ("embedding", lambda ns, w, i: _f(ns).embedding(i, w), (X, np.array([[0, 2], [3, 0]]))),
    ("embedding padding", lambda ns, w, i: _f(ns).embedding(i, w, padding_idx=-4),
     (X, np.array([[0, 2], [3, 0]]))),
    ("one_hot", lambda ns, i: _f(ns).one_hot(i), (np.array([0, 3, 1]),)),
    ("one_hot classes", lambda ns, i: _f(ns).one_hot(i, num_classes=5), (np.array([[0, 3], [1, 1]]),)),
    ("normalize", lambda ns, x: _f(ns).normalize(x), (Z,)),
    ("normalize p=1 dim=0", lambda ns, x: _f(ns).normalize(x, p=1, dim=0), (Z,)),
    ("normalize p=3", lambda ns, x: _f(ns).normalize(x, 3, -1), (X,)),
    ("normalize inf", lambda ns, x: _f(ns).normalize(x, p=float("inf")), (X,)),
    ("cosine_similarity", lambda ns, x, y: _f(ns).cosine_similarity(x, y), (X, T)),
    ("cosine_similarity zero row", lambda ns, x, y: _f(ns).cosine_similarity(x, y, dim=0), (Z, T)),
    ("cosine_similarity broadcast", lambda ns, x, y: _f(ns).cosine_similarity(x, y, dim=-1), (X, T[0])),
    ("pairwise_distance", lambda ns, x, y: _f(ns).pairwise_distance(x, y), (X, T)),
    ("pairwise_distance p=1", lambda ns, x, y: _f(ns).pairwise_distance(x, y, p=1, keepdim=True), (X, T)),
    ("pairwise_distance equal", lambda ns, x, y: _f(ns).pairwise_distance(x, y, eps=0), (X, X)),
    ("smooth_l1_loss", lambda ns, x, y: _f(ns).smooth_l1_loss(x, y, beta=0.5), (X, T)),
    ("smooth_l1_loss none", lambda ns, x, y: _f(ns).smooth_l1_loss(x, y, reduction="none"), (X, T)),
    ("smooth_l1_loss beta=0", lambda ns, x, y: _f(ns).smooth_l1_loss(x, y, reduction="sum", beta=0.0),
     (X, T)),
    ("huber_loss", lambda ns, x, y: _f(ns).huber_loss(x, y, delta=0.5), (X, T)),
    ("huber_loss sum", lambda ns, x, y: _f(ns).huber_loss(x, y, "sum", 2.0), (X, T)),
    ("kl_div batchmean", lambda ns, x, y: _f(ns).kl_div(x, y, reduction="batchmean"), (np.log(T), P)),
    ("kl_div sum", lambda ns, x, y: _f(ns).kl_div(x, y, reduction="sum"), (np.log(T), P)),
    ("kl_div none", lambda ns, x, y: _f(ns).kl_div(x, y, reduction="none"), (np.log(T), P)),
    ("kl_div mean", lambda ns, x, y: _f(ns).kl_div(x, y), (np.log(T), P)),
    ("kl_div log_target", lambda ns, x, y: _f(ns).kl_div(x, y, reduction="none", log_target=True),
     (np.log(T), np.log(P))),
    ("kl_div log_target batchmean", lambda ns, x, y: _f(ns).kl_div(x, y, None, None, "batchmean", True),
     (np.log(T), np.log(P))),
]


@pytest.mark.parametrize("name, call, inputs", CASES, ids=[c[0] for c in CASES])
def test_functional_as_torch(name: str, call: Callable, inputs: tuple) -> None:
    outs = []
    for ns in (symgrad, torch):
        args = [ns.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = call(ns, *args)
        if args[0].requires_grad or any(a.requires_grad for a in args):
            (y * ns.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))).sum().backward()
        outs.append((y, [a.grad for a in args]))
    (y, grads), (ty, tgrads) = outs
    assert tuple(y.shape) == tuple(ty.shape) and y.dtype == ty.detach().numpy().dtype
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        assert (g is None) == (tg is None)
        if g is not None:
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-12)
    assert (y.grad_fn.name() if y.grad_fn else None) == (type(ty.grad_fn).__name__ if ty.grad_fn else None)


SMOOTH: list[tuple[str, Callable]] = [
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2) ** 2),
    ("silu", F.silu),
    ("elu", lambda x: F.elu(x, 0.7) ** 2),
    ("logsigmoid", F.logsigmoid),
    ("layer_norm", lambda x: F.layer_norm(x, (3,)) ** 3),
    ("normalize", lambda x: F.normalize(x, dim=-1) ** 3),
    ("cosine_similarity", lambda x: F.cosine_similarity(x, x * x + 1)),
    ("pairwise_distance", lambda x: F.pairwise_distance(x, x[::-1])),
    ("smooth_l1_loss", lambda x: F.smooth_l1_loss(x, x[::-1] * 0.5, beta=0.3)),
    ("huber_loss", lambda x: F.huber_loss(x, T, delta=0.4)),
    ("kl_div", lambda x: F.kl_div(F.log_softmax(x, 1), P, reduction="batchmean")),
    ("embedding", lambda x: F.embedding(np.array([0, 2, 2]), x) ** 2),
]
POINT = X + np.array([0.1, -0.3, 0.2])  # away from every kink


@pytest.mark.parametrize("name, fn", SMOOTH, ids=[c[0] for c in SMOOTH])
def test_functional_traced_differences_second_order_compiled(name: str, fn: Callable) -> None:
    shape = tuple(fn(symgrad.tensor(POINT)).shape)
    weights = np.arange(1.0, 1 + math.prod(shape)).reshape(shape)

    def scalar(x: Any) -> Any:
        return (fn(x) * weights).sum()

    def numeric(p: np.ndarray) -> float:
        return scalar(symgrad.tensor(p)).item()
    gradient = symgrad.grad(scalar)
    g = gradient(POINT)
    np.testing.assert_allclose(g, differences(numeric, [POINT], [0])[0], rtol=1e-6, atol=1e-7)
    h = symgrad.hessian(scalar)(POINT).reshape(POINT.size, POINT.size)
    fd = np.array([differences(lambda p, k=k: gradient(p).ravel()[k], [POINT], [0])[0].ravel()
                   for k in range(POINT.size)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(symgrad.compile(scalar)(POINT), numeric(POINT), rtol=1e-12)
    eager = symgrad.tensor(POINT, requires_grad=True)
    scalar(eager).backward()
    np.testing.assert_allclose(eager.grad.numpy(), g, rtol=1e-10)


def test_functional_closed_forms() -> None:
    np.testing.assert_allclose(F.leaky_relu(symgrad.tensor([-2.0, 0.0, 3.0])).tolist(), [-0.02, 0.0, 3.0])
    np.testing.assert_allclose(F.elu(symgrad.tensor([-1.0, 2.0])).tolist(), [math.expm1(-1), 2.0])
    np.testing.assert_allclose(F.logsigmoid(symgrad.tensor([-800.0, 0.0])).tolist(), [-800.0, -math.log(2)])
    np.testing.assert_allclose(F.normalize(symgrad.tensor([[3.0, 4.0]])).tolist(), [[0.6, 0.8]])
    assert F.cosine_similarity(symgrad.tensor([1.0, 0.0]), symgrad.tensor([0.0, 2.0]), dim=0).item() == 0.0
    np.testing.assert_allclose(F.pairwise_distance(symgrad.tensor([[0.0, 0.0]]), symgrad.tensor([[3.0, 4.0]]),
                                                   eps=0).tolist(), [5.0])
    smooth = F.smooth_l1_loss(symgrad.tensor([0.5, 3.0]), symgrad.zeros(2), reduction="none")
    np.testing.assert_allclose(smooth.tolist(), [0.125, 2.5])
    np.testing.assert_allclose(F.huber_loss(symgrad.tensor([0.5, 3.0]), symgrad.zeros(2), reduction="none",
                                            delta=2.0).tolist(), [0.125, 4.0])
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    kl = F.kl_div(symgrad.tensor(np.log(q)), symgrad.tensor(p), reduction="sum").item()
    assert kl == pytest.approx(float((p * np.log(p / q)).sum()))
    assert F.one_hot(symgrad.tensor([1, 0])).dtype == symgrad.int64
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(symgrad.tensor(np.log(q)), symgrad.tensor(p))


@pytest.mark.parametrize("call", [
    lambda ns: ns.nn.functional.one_hot(ns.tensor([3]), 2),
    lambda ns: ns.nn.functional.one_hot(ns.tensor([-1])),
    lambda ns: ns.nn.functional.one_hot(ns.tensor([1.0])),
    lambda ns: ns.nn.functional.embedding(ns.tensor([3]), ns.ones(3, 2)),
    lambda ns: ns.nn.functional.layer_norm(ns.ones(4, 2), (3,)),
    lambda ns: ns.nn.functional.smooth_l1_loss(ns.ones(2), ns.ones(2), reduction="avg"),
    lambda ns: ns.nn.functional.huber_loss(ns.ones(2), ns.ones(2), delta=0.0),
    lambda ns: ns.nn.functional.kl_div(ns.ones(2), ns.ones(2), reduction="all"),
])
def test_functional_errors_as_torch(call: Callable) -> None:
    _same_error(call)


# ---------------------------------------------------------------- nn.init and nn.utils

@pytest.mark.parametrize("args", [("linear",), ("sigmoid",), ("conv2d",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu",)])
def test_calculate_gain_as_torch(args: tuple) -> None:
    assert nn.init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args), rel=1e-15)


@pytest.mark.parametrize("call", [
    lambda ns: ns.nn.init.calculate_gain("swish"),
    lambda ns: ns.nn.init.calculate_gain("leaky_relu", "x"),
    lambda ns: ns.nn.init.xavier_uniform_(ns.empty(3)),
    lambda ns: ns.nn.init.kaiming_normal_(ns.empty(3, 2), mode="fan_avg"),
])
def test_init_errors_as_torch(call: Callable) -> None:
    _same_error(call)


def _std_bound(tensor: Any) -> tuple[float, float]:
    values = tensor.detach().numpy()
    return float(values.std()), float(np.abs(values).max())


def test_init_distributions() -> None:
    symgrad.manual_seed(0)
    w = nn.Parameter(symgrad.empty(256, 64, 3))  # fan_in 192, fan_out 768
    fan_in, fan_out = 64 * 3, 256 * 3
    assert nn.init.uniform_(w, -2, 3) is w and w.requires_grad and w.is_leaf and w.grad_fn is None
    values = w.detach().numpy()
    assert values.min() >= -2 and values.max() < 3 and abs(values.mean() - 0.5) < 0.05
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.mean().item() - 1) < 0.01 and abs(w.std().item() - 0.5) < 0.01
    expected = [
        (lambda: nn.init.xavier_uniform_(w, gain=2.0), 2 * math.sqrt(6 / (fan_in + fan_out)), "uniform"),
        (lambda: nn.init.xavier_normal_(w), math.sqrt(2 / (fan_in + fan_out)), "normal"),
        (lambda: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), 1 / math.sqrt(fan_in), "uniform"),
        (lambda: nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(6 / fan_out),
         "uniform"),
        (lambda: nn.init.kaiming_normal_(w, nonlinearity="relu"), math.sqrt(2 / fan_in), "normal"),
        (lambda: nn.init.kaiming_normal_(w, mode="fan_out"), math.sqrt(2 / 1.0001 / fan_out), "normal"),
    ]
    for fill, scale, kind in expected:
        assert fill() is w
        std, bound = _std_bound(w)
        if kind == "uniform":  # U(-b, b): max just below b, std b / sqrt(3)
            assert scale * 0.99 < bound <= scale and std == pytest.approx(scale / math.sqrt(3), rel=0.02)
        else:
            assert std == pytest.approx(scale, rel=0.02)
    nn.init.trunc_normal_(w, std=0.02)
    values = w.detach().numpy()
    assert np.abs(values).max() <= 2 and values.std() == pytest.approx(0.02, rel=0.02)
    nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.detach().numpy()).max() <= 0.5
    assert nn.init.zeros_(w).sum().item() == 0 and nn.init.ones_(w).sum().item() == w.numel()
    assert nn.init.constant_(w, 0.25).detach().numpy().max() == 0.25
    q = nn.init.orthogonal_(symgrad.empty(3, 5), gain=2.0).numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(3), atol=1e-5)
    np.testing.assert_array_equal(nn.init.eye_(symgrad.empty(2, 3)).numpy(), np.eye(2, 3))
    generator = symgrad.Generator().manual_seed(5)
    first = nn.init.normal_(symgrad.empty(4), generator=generator).numpy().copy()
    again = nn.init.normal_(symgrad.empty(4), generator=symgrad.Generator().manual_seed(5)).numpy()
    np.testing.assert_array_equal(first, again)
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(symgrad.empty(0, 3))


def test_default_initialisation_matches_torch_distribution() -> None:
    symgrad.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in layer.parameters():
        std, top = _std_bound(p)
        assert top <= bound and std == pytest.approx(bound / math.sqrt(3), rel=0.05)


def _clip_setup(ns: Any) -> Any:
    layer = ns.nn.Linear(3, 2).double()
    with ns.no_grad():
        layer.weight.copy_(ns.tensor(X[:2]))
        layer.bias.copy_(ns.tensor([0.5, -0.5]))
    (layer(ns.tensor(X)) ** 2).sum().backward()
    return layer


@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (1e4, 2), (0.5, 1), (0.3, float("inf")),
                                                 (0.3, "inf")])
def test_clip_grad_norm_as_torch(max_norm: float, norm_type: Any) -> None:
    ours, theirs = _clip_setup(symgrad), _clip_setup(torch)
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    assert isinstance(total, symgrad.Tensor) and total.dtype == symgrad.float64 and total.ndim == 0
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    grads = np.concatenate([p.grad.numpy().ravel() for p in ours.parameters()])
    order = float(norm_type)
    assert np.linalg.norm(grads, order) <= max_norm * (1 + 1e-9) or max_norm > total.item()


def test_clip_grad_value_and_vectors() -> None:
    ours, theirs = _clip_setup(symgrad), _clip_setup(torch)
    assert nn.utils.clip_grad_value_(ours.parameters(), 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.7)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert nn.utils.clip_grad_norm_([symgrad.zeros(2, requires_grad=True)], 1.0).item() == 0.0
    single = nn.Parameter(symgrad.tensor([3.0, 4.0]))
    single.grad = symgrad.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(single, 1.0).item() == 5.0
    np.testing.assert_allclose(single.grad.tolist(), [0.6, 0.8], rtol=1e-6)
    bad = nn.Parameter(symgrad.ones(2))
    bad.grad = symgrad.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
    vec = nn.utils.parameters_to_vector(ours.parameters())
    assert vec.shape == (8,) and vec.grad_fn.name() == "CatBackward0"
    np.testing.assert_array_equal(vec.detach().numpy(),
                                  torch.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy())
    nn.utils.vector_to_parameters(symgrad.arange(8.0), ours.parameters())
    assert ours.bias.tolist() == [6.0, 7.0] and ours.weight.is_leaf


def test_module_paths() -> None:
    import symgrad.nn.init as init
    import symgrad.nn.utils as utils
    assert init is nn.init and utils is nn.utils and symgrad.nn.utils.clip_grad_norm_ is utils.clip_grad_norm_


# ---------------------------------------------------------------- convolution and pooling

CONVS: list[tuple[str, int, tuple, tuple, dict]] = [
    ("2d", 2, (2, 3, 7, 6), (4, 3, 3, 2), {}),
    ("2d stride padding", 2, (2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ("2d pairs dilation", 2, (2, 3, 9, 8), (4, 3, 3, 3),
     {"stride": (2, 1), "padding": (0, 2), "dilation": (1, 2)}),
    ("2d same", 2, (2, 3, 7, 6), (4, 3, 3, 3), {"padding": "same", "dilation": 2}),
    ("2d valid no bias", 2, (1, 2, 5, 5), (3, 2, 2, 2), {"padding": "valid", "bias": None}),
    ("2d groups", 2, (2, 4, 5, 5), (6, 2, 3, 3), {"groups": 2}),
    ("2d unbatched", 2, (3, 5, 5), (2, 3, 3, 3), {}),
    ("1d", 1, (2, 3, 10), (5, 3, 4), {"stride": 3, "padding": 2}),
    ("1d same", 1, (2, 3, 10), (5, 3, 3), {"padding": "same"}),
    ("1d unbatched depthwise", 1, (4, 10), (4, 1, 3), {"groups": 4}),
]


@pytest.mark.parametrize("name, nd, xshape, wshape, options", CONVS, ids=[c[0] for c in CONVS])
def test_conv_as_torch(name: str, nd: int, xshape: tuple, wshape: tuple, options: dict) -> None:
    x, w, b = RNG.standard_normal(xshape), RNG.standard_normal(wshape), RNG.standard_normal(wshape[0])
    outs = []
    for ns in (symgrad, torch):
        args = [ns.tensor(a, requires_grad=True) for a in (x, w, b)]
        kwargs = dict(options)
        bias = args[2] if kwargs.pop("bias", True) is not None else None
        y = getattr(ns.nn.functional, f"conv{nd}d")(args[0], args[1], bias, **kwargs)
        (y * ns.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))).sum().backward()
        outs.append((y, [a.grad for a in args]))
    (y, grads), (ty, tgrads) = outs
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        assert (g is None) == (tg is None)
        if g is not None:
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-12)
    assert y.grad_fn.name() == type(ty.grad_fn).__name__


POOLS: list[tuple[str, str, tuple, dict]] = [
    ("max", "max_pool2d", (2, 3, 8, 7), {"kernel_size": 2}),
    ("max stride 1 padding", "max_pool2d", (2, 3, 8, 7), {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("max dilation", "max_pool2d", (2, 3, 8, 7), {"kernel_size": (2, 3), "stride": (2, 1), "dilation": 2}),
    ("max unbatched", "max_pool2d", (3, 8, 7), {"kernel_size": 2}),
    ("avg", "avg_pool2d", (2, 3, 8, 7), {"kernel_size": 2}),
    ("avg padding", "avg_pool2d", (2, 3, 8, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg divisor", "avg_pool2d", (3, 8, 7), {"kernel_size": (2, 3), "divisor_override": 2}),
]


@pytest.mark.parametrize("name, fn, shape, options", POOLS, ids=[c[0] for c in POOLS])
def test_pool_as_torch(name: str, fn: str, shape: tuple, options: dict) -> None:
    x = RNG.permutation(math.prod(shape)).reshape(shape).astype(float)  # no ties: one argmax per window
    outs = []
    for ns in (symgrad, torch):
        t = ns.tensor(x, requires_grad=True)
        y = getattr(ns.nn.functional, fn)(t, **options)
        (y * ns.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))).sum().backward()
        outs.append((y, t.grad))
    (y, g), (ty, tg) = outs
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    assert y.grad_fn.name() == type(ty.grad_fn).__name__


def test_conv_closed_form_traced_and_second_order() -> None:
    signal, kernel = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, -1.0])
    out = F.conv1d(symgrad.tensor(signal).reshape(1, 1, 4), symgrad.tensor(kernel).reshape(1, 1, 3))
    np.testing.assert_allclose(out.detach().numpy().ravel(), np.correlate(signal, kernel, "valid"))
    w = RNG.standard_normal((2, 2, 2, 2))
    image = RNG.standard_normal((1, 2, 4, 4))

    def scalar(x: Any) -> Any:
        y = F.conv2d(x, w, stride=1, padding=1)
        return (F.max_pool2d(y, 2) ** 2).sum() + F.avg_pool2d(y, 3, stride=1).sum()

    def numeric(p: np.ndarray) -> float:
        return scalar(symgrad.tensor(p)).item()
    gradient = symgrad.grad(scalar)
    np.testing.assert_allclose(gradient(image), differences(numeric, [image], [0])[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(symgrad.compile(scalar)(image), numeric(image), rtol=1e-12)
    h = symgrad.hessian(lambda x: (F.conv2d(x, w) ** 2).sum())(image).reshape(32, 32)
    rows = F.conv2d(symgrad.tensor(np.eye(32).reshape(32, 2, 4, 4)), symgrad.tensor(w)).detach().numpy()
    flat = rows.reshape(32, -1)
    np.testing.assert_allclose(h, 2 * flat @ flat.T, rtol=1e-10, atol=1e-12)  # quadratic: 2 A^T A


def _lenet(ns: Any) -> Any:
    nn_ = ns.nn
    return nn_.Sequential(nn_.Conv2d(1, 4, 3, padding=1), nn_.ReLU(), nn_.MaxPool2d(2), nn_.Conv2d(4, 6, 3),
                          nn_.ReLU(), nn_.AvgPool2d(2), nn_.Flatten(), nn_.Linear(6, 3))


def test_small_cnn_as_torch() -> None:
    ours, theirs = _lenet(symgrad).double(), _lenet(torch).double()
    assert repr(ours) == repr(theirs)
    _copy_from(ours, theirs)
    images, labels = RNG.standard_normal((5, 1, 8, 8)), np.array([0, 2, 1, 1, 0])
    losses = []
    for ns, model in ((symgrad, ours), (torch, theirs)):
        loss = ns.nn.functional.cross_entropy(model(ns.tensor(images)), ns.tensor(labels))
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    symgrad.manual_seed(0)
    conv = symgrad.nn.Conv2d(16, 300, (3, 5))
    bound = 1 / math.sqrt(16 * 15)
    std, top = _std_bound(conv.weight)
    assert top <= bound and std == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("call", [
    lambda ns: ns.nn.functional.conv2d(ns.ones(1, 3, 2, 2), ns.ones(1, 3, 3, 3)),
    lambda ns: ns.nn.functional.conv2d(ns.ones(1, 2, 5, 5), ns.ones(1, 3, 3, 3)),
    lambda ns: ns.nn.functional.conv2d(ns.ones(5, 5), ns.ones(1, 1, 3, 3)),
    lambda ns: ns.nn.functional.conv1d(ns.ones(1, 1, 5), ns.ones(1, 1, 2), stride=2, padding="same"),
    lambda ns: ns.nn.functional.conv1d(ns.ones(1, 1, 5), ns.ones(1, 1, 2), padding="full"),
    lambda ns: ns.nn.Conv2d(3, 4, 3, groups=2),
    lambda ns: ns.nn.Conv2d(3, 4, 3, stride=2, padding="same"),
    lambda ns: ns.nn.functional.max_pool2d(ns.ones(1, 1, 4, 4), 2, padding=2),
])
def test_conv_errors_as_torch(call: Callable) -> None:
    _same_error(call)


def test_conv_padding_string_error() -> None:
    # PyTorch prints the valid strings as a set, whose order changes from run to run
    with pytest.raises(ValueError, match="Invalid padding string 'full', should be one of"):
        nn.Conv1d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match="Invalid padding string 'full', should be one of"):
        torch.nn.Conv1d(3, 4, 3, padding="full")
