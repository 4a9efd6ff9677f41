"""Scripts in the style of PyTorch's beginner tutorials (tests/tutorials/*.py, written for these
tests) run unchanged on symgrad's eager face.

Each script is run as written with `torch` bound to symgrad for the run only (`import torch`,
`from torch import nn` and `import torch.nn` all find symgrad), and, when PyTorch is
installed, run again on PyTorch; what can be compared is: the printed iterations and falling
losses, the fitted coefficients, shapes, dtypes, grad_fn names and module reprs, and every
printed value of the deterministic parts. The second half tests each fix the scripts needed.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import math
import os
import random
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import symgrad

TUTORIALS = Path(__file__).parent / "tutorials"
# symgrad's PyTorch-named submodules: `import torch.nn` must find symgrad.nn during a run
ALIASES = ("autograd", "optim", "nn", "nn.functional", "linalg", "special", "accelerator", "cuda",
           "backends", "backends.mps")
TRAINING = ["cubic_by_hand", "cubic_autograd", "cubic_custom_function", "cubic_nn", "cubic_optimizers",
            "cubic_module", "dynamic_depth", "relu_net_by_hand", "relu_net_batched", "relu_net_custom_relu",
            "relu_net_nn"]
# these start from fixed values: every printed number can be compared with PyTorch's
DETERMINISTIC = ["cubic_by_hand", "cubic_autograd", "cubic_custom_function", "cubic_optimizers"]
BASICS = ["tensor_tour", "autograd_tour", "model_tour"]
# where each tour stops printing random numbers (model_tour's parameter values stay random)
FIXED_FROM = {"tensor_tour": "Fixed values", "autograd_tour": "True\n", "model_tour": "Model structure"}
FLOAT = r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?"


@contextlib.contextmanager
def torch_is_symgrad() -> Iterator[None]:
    """`import torch` gives symgrad inside the block; sys.modules is restored afterwards."""
    hidden = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "torch" or k.startswith("torch.")}
    sys.modules["torch"] = symgrad
    sys.modules.update({f"torch.{a}": sys.modules[f"symgrad.{a}"] for a in ALIASES})
    try:
        yield
    finally:
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(hidden)


def run(name: str, on: ModuleType) -> str:
    """What the script prints (seeded: `random.seed(0)` and `manual_seed(0)`)."""
    random.seed(0)
    on.manual_seed(0)
    out = io.StringIO()
    with contextlib.ExitStack() as stack:
        if on is symgrad:
            stack.enter_context(torch_is_symgrad())
        stack.enter_context(contextlib.redirect_stdout(out))
        runpy.run_path(str(TUTORIALS / f"{name}.py"), run_name="__main__")
    return out.getvalue()


def main(library: str, names: list[str]) -> None:
    """Run the scripts on one library; print {name: {"out": ...} or {"error": ...}} as JSON."""
    on = symgrad if library == "symgrad" else __import__(library)
    results = {}
    for name in names:
        try:
            results[name] = {"out": run(name, on)}
        except Exception as e:  # reported to the test, which fails (or xfails) on it
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(results))


class Runs:
    """Every script run once per library, each library in a subprocess of its own started
    at once: one BLAS thread each (threads only contend on a small, shared machine)."""

    def __init__(self, libraries: list[str]) -> None:
        root = str(Path(symgrad.__file__).resolve().parents[1])  # this symgrad, not another
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        self.procs = {lib: subprocess.Popen([sys.executable, __file__, lib, *TRAINING, *BASICS],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                            env=env) for lib in libraries}
        self.results: dict[str, dict] = {}

    def __call__(self, name: str, library: str) -> str:
        """What `name` printed on `library`; an error of the script is raised as its type."""
        if library not in self.results:
            out, err = self.procs[library].communicate(timeout=600)
            assert self.procs[library].returncode == 0, err
            self.results[library] = json.loads(out)
        result = self.results[library][name]
        if "error" in result:
            kind, _, message = result["error"].partition(": ")
            raise getattr(builtins, kind, RuntimeError)(message)
        return result["out"]


@pytest.fixture(scope="module")
def printed() -> Runs:
    try:
        import torch  # noqa: F401 - only whether it imports
        libraries = ["symgrad", "torch"]
    except ImportError:
        libraries = ["symgrad"]
    runs = Runs(libraries)
    yield runs
    for proc in runs.procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def losses(text: str) -> tuple[list[int], list[float]]:
    """The `t loss` lines a training script prints."""
    found = re.findall(rf"^(\d+) ({FLOAT})$", text, re.M)
    return [int(t) for t, _ in found], [float(v) for _, v in found]


def coefficients(text: str) -> list[float]:
    """The numbers of the script's `Result: ...` line (nothing if it prints none)."""
    line = next((line for line in text.splitlines() if line.startswith("Result:")), "")
    return [float(v) for v in re.findall(FLOAT, re.sub(r"x\^\d|P3", "", line))]


def normalised(text: str) -> str:
    """PyTorch's spellings as symgrad prints them (`symgrad.Size`, `dtype=symgrad.float64`; a
    tensor's `.dtype` is a NumPy dtype, printed `float32`); object addresses out."""
    text = text.replace("torch.Size(", "symgrad.Size(").replace("dtype=torch.", "dtype=symgrad.")
    text = re.sub(r"\btorch\.(float|int|bool)", r"\1", text)
    return re.sub(r" at 0x[0-9a-f]+", " at 0x", text)


def masked(text: str) -> str:
    """`text` with every number replaced and no white space (a sign moves a tensor's
    columns and line breaks): its structure only, for random values."""
    return re.sub(r"\s+", "", re.sub(FLOAT, "#", normalised(text)))


# ---------------------------------------------------------------- the scripts on symgrad

@pytest.mark.parametrize("name", TRAINING)
def test_training_script_runs_and_its_loss_falls(printed, name):
    text = printed(name, "symgrad")
    steps, values = losses(text)
    assert len(steps) >= 5 and steps == sorted(steps), text
    assert all(math.isfinite(v) for v in values)
    assert values[-1] < 0.9 * values[0], text


@pytest.mark.parametrize("name", BASICS)
def test_basics_script_runs(printed, name):
    assert printed(name, "symgrad").strip()


def test_cubic_fits_find_the_least_squares_cubic(printed):
    """sin(x) on [-pi, pi] is nearest to 0.857 x - 0.0933 x^3: every cubic fit gets close."""
    for name in ["cubic_by_hand", "cubic_autograd", "cubic_custom_function", "cubic_nn", "cubic_optimizers",
                 "cubic_module"]:
        a, b, c, d = coefficients(printed(name, "symgrad"))
        assert abs(b - 0.857) < 0.03 and abs(d + 0.0933) < 0.005 and abs(a) < 0.1 and abs(c) < 0.02, name


def test_every_optimizer_fits_the_cubic(printed):
    """cubic_optimizers also runs SGD with momentum and Adam, printing `SGD t loss` lines."""
    text = printed("cubic_optimizers", "symgrad")
    for label in ("SGD", "Adam"):
        found = [float(v) for v in re.findall(rf"^{label} \d+ ({FLOAT})$", text, re.M)]
        assert len(found) >= 3 and found[-1] < found[0] and found[-1] < 9, (label, text)
        line = next(line for line in text.splitlines() if line.startswith(f"{label}:"))
        b, d = (float(v) for v in re.findall(FLOAT, re.sub(r"x\^\d", "", line))[1::2])
        assert abs(b - 0.857) < 0.01 and abs(d + 0.0933) < 0.002, line


def test_every_script_says_what_it_is_for():
    for name in TRAINING + BASICS:
        text = (TUTORIALS / f"{name}.py").read_text()
        assert text.startswith('"""') and "style of PyTorch's beginner tutorials" in " ".join(text.split())


def test_the_harness_restores_sys_modules():
    before = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    with torch_is_symgrad():
        import torch
        import torch.nn
        from torch import nn
        assert torch is symgrad and nn is symgrad.nn and torch.nn is symgrad.nn
    after = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    assert after == before


# ---------------------------------------------------------------- against PyTorch

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", TRAINING)
def test_training_matches_pytorch(torch, printed, name):
    """Same iterations printed; both losses fall to a similar level (random starts differ)."""
    ours, theirs = printed(name, "symgrad"), printed(name, "torch")
    (our_steps, our_losses), (their_steps, their_losses) = losses(ours), losses(theirs)
    assert our_steps == their_steps
    assert their_losses[-1] < their_losses[0]
    # within a factor 30: the two-layer nets fit random data to ~1e-5, where the start decides
    assert abs(math.log10(our_losses[-1] / their_losses[-1])) < 1.5
    assert len(coefficients(ours)) == len(coefficients(theirs))
    assert masked(ours) == masked(theirs)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_the_deterministic_fits_print_pytorchs_numbers(torch, printed, name):
    """These start from fixed values: every printed number (losses, coefficients) agrees with
    PyTorch's to float32 rounding, accumulated over up to 2000 steps (cubic_optimizers: up to
    its RMSprop run, which wanders near the optimum)."""
    ours, theirs = (printed(name, lib).partition("RMSprop\n")[0] for lib in ("symgrad", "torch"))
    our_numbers = [float(v) for v in re.findall(FLOAT, re.sub(r"x\^\d", "", ours))]
    their_numbers = [float(v) for v in re.findall(FLOAT, re.sub(r"x\^\d", "", theirs))]
    assert len(our_numbers) == len(their_numbers) > 5
    np.testing.assert_allclose(our_numbers, their_numbers, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", BASICS)
def test_basics_print_what_pytorch_prints(torch, printed, name):
    """Shapes, dtypes, grad_fn names, module reprs and every non-random value."""
    ours, theirs = normalised(printed(name, "symgrad")), normalised(printed(name, "torch"))
    assert masked(ours) == masked(theirs)
    start = FIXED_FROM[name]
    tail, theirs_tail = ours[ours.index(start):], theirs[theirs.index(start):]
    if name == "model_tour":  # only the parameter values are random
        tail, theirs_tail = masked(tail), masked(theirs_tail)
    assert tail == theirs_tail


# ---------------------------------------------------------------- the fixes, one by one

# nn: modules, parameters, containers, layers, losses

def _copy_weights(ours, theirs, torch):
    """Give the PyTorch module our module's parameter values (they are drawn differently)."""
    with torch.no_grad():
        for (name, p), (their_name, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == their_name
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))


def _build(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.stack = nn.Sequential(nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3, bias=False), nn.Tanh())
            self.scale = nn.Parameter(symgrad.ones(()) if nn is symgrad.nn else _torch().ones(()))

        def forward(self, x):
            return self.stack(self.flatten(x)) * self.scale
    return Net()


def _torch():
    return sys.modules["torch"]


def test_module_registers_parameters_and_submodules_in_order(torch):
    ours, theirs = _build(symgrad.nn), _build(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == [
        "scale", "stack.0.weight", "stack.0.bias", "stack.2.weight"]
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(type(p) is symgrad.nn.Parameter and p.requires_grad and p.is_leaf for p in ours.parameters())
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.children()] == ["Flatten", "Sequential"]


def test_module_forward_backward_matches_pytorch(torch):
    ours, theirs = _build(symgrad.nn), _build(torch.nn)
    _copy_weights(ours, theirs, torch)
    x = np.random.default_rng(0).standard_normal((4, 3, 4)).astype(np.float32)
    y_ours, y_theirs = ours(symgrad.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y_ours.detach().numpy(), y_theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    y_ours.sum().backward()
    y_theirs.sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


def test_module_attribute_rules():
    nn = symgrad.nn

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(symgrad.ones(2))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = symgrad.ones(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope  # noqa: B018 - the attribute access is the test
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)
    m.weight = nn.Parameter(symgrad.zeros(2, 2))  # a new Parameter replaces the old one
    assert m.weight.sum().item() == 0 and len(list(m.parameters())) == 2
    assert m.eval().training is False and m.train().training is True
    assert m.to("cpu") is m and m.to(symgrad.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        m.to("cuda")


def test_a_shared_parameter_is_listed_once(torch):
    for lib in (symgrad, torch):
        shared = lib.nn.Linear(2, 2)
        model = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        assert len(list(model.parameters())) == 2
        assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_parameter_shares_data_and_takes_part_in_ops(torch):
    data = symgrad.ones(3)
    p = symgrad.nn.Parameter(data)
    data.add_(1)
    assert p.tolist() == [2.0, 2.0, 2.0]
    assert repr(p) == repr(torch.nn.Parameter(torch.full((3,), 2.0)))
    y = p * symgrad.tensor([1, 2, 3])  # int64 with float32: promoted as for a Tensor
    assert type(y) is symgrad.Tensor and y.dtype == np.float32 and y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert p.grad.tolist() == [1.0, 2.0, 3.0]
    assert symgrad.nn.Parameter(symgrad.ones(2), requires_grad=False).requires_grad is False


def test_linear_initialises_as_pytorch():
    """U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, float32, shapes (out, in) and (out,)."""
    symgrad.manual_seed(0)
    layer = symgrad.nn.Linear(in_features=400, out_features=30)
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    assert layer.weight.dtype == np.float32
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= 1 / 20 and np.abs(w).max() > 0.9 / 20 and abs(w.mean()) < 0.003
    assert repr(layer) == "Linear(in_features=400, out_features=30, bias=True)"
    assert symgrad.nn.Linear(3, 2, bias=False).bias is None


def test_sequential_indexing_and_flatten_dims(torch):
    for lib in (symgrad, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 1), lib.nn.Flatten(0, 1))
        assert isinstance(model[0], lib.nn.Linear) and isinstance(model[-1], lib.nn.Flatten)
        assert len(model) == 2 and [type(m).__name__ for m in model] == ["Linear", "Flatten"]
        assert type(model[:1]).__name__ == "Sequential" and len(model[:1]) == 1
        assert tuple(model(lib.ones(7, 3)).shape) == (7,)
        assert tuple(lib.nn.Flatten()(lib.ones(2, 3, 4, 5)).shape) == (2, 60)
        with pytest.raises(IndexError):
            model[2]


@pytest.mark.parametrize("make, args", [
    (lambda nn: nn.Softmax(dim=1), 1), (lambda nn: nn.LogSoftmax(dim=-1), 1), (lambda nn: nn.ReLU(), 1),
    (lambda nn: nn.Sigmoid(), 1), (lambda nn: nn.Tanh(), 1), (lambda nn: nn.Identity(54), 1),
    (lambda nn: nn.MSELoss(reduction="sum"), 2), (lambda nn: nn.MSELoss(), 2),
    (lambda nn: nn.L1Loss(reduction="none"), 2), (lambda nn: nn.CrossEntropyLoss(), "classes"),
])
def test_layers_and_losses_match_pytorch(torch, make, args):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    others = {1: (), 2: (rng.standard_normal((4, 3)),), "classes": (np.array([0, 2, 1, 2]),)}[args]
    results = []
    for lib in (symgrad, torch):
        module = make(lib.nn)
        xt = lib.tensor(x, requires_grad=True)
        out = module(xt, *(lib.tensor(o) for o in others))
        out.sum().backward()
        results.append((repr(module), out.detach().numpy(), xt.grad.numpy(), out.grad_fn))
    (r1, o1, g1, f1), (r2, o2, g2, f2) = results
    assert r1 == r2
    np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-6, atol=1e-12)
    assert (f1 and f1.name()) == (f2 and f2.name())


def test_legacy_loss_arguments_set_the_reduction():
    assert symgrad.nn.MSELoss(size_average=False).reduction == "sum"
    assert symgrad.nn.MSELoss(reduce=False).reduction == "none"


@pytest.mark.parametrize("xs, ws, bias", [((4, 3), (2, 3), True), ((4, 3), (2, 3), False),
                                          ((3,), (2, 3), True), ((3,), (2, 3), False),
                                          ((5, 4, 3), (2, 3), True), ((5, 4, 3), (2, 3), False),
                                          ((4, 3), (3,), False), ((3,), (3,), False)])
def test_linear_grad_fn_is_named_as_pytorchs(torch, xs, ws, bias):
    names = []
    for lib in (symgrad, torch):
        w = lib.ones(*ws, requires_grad=True)
        b = lib.ones(ws[0], requires_grad=True) if bias else None
        names.append(lib.nn.functional.linear(lib.ones(*xs), w, b).grad_fn.name())
    assert names[0] == names[1]


# optim.RMSprop

@pytest.mark.parametrize("options", [{}, {"lr": 1e-3}, {"momentum": 0.9}, {"centered": True},
                                     {"weight_decay": 0.1, "alpha": 0.9, "eps": 1e-6},
                                     {"centered": True, "momentum": 0.5, "maximize": True}])
def test_rmsprop_matches_pytorch(torch, options):
    rng = np.random.default_rng(2)
    w0, x = rng.standard_normal((3, 2)), rng.standard_normal((5, 3))
    traces = []
    for lib in (symgrad, torch):
        w = lib.tensor(w0, requires_grad=True)
        opt = lib.optim.RMSprop([w], **options)
        for _ in range(5):
            opt.zero_grad()
            ((lib.tensor(x) @ w).tanh() ** 2).sum().backward()
            opt.step()
        traces.append(w.detach().numpy())
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-10, atol=1e-12)


def test_rmsprop_checks_its_options():
    w = symgrad.ones(2, requires_grad=True)
    for bad in ({"lr": -1}, {"alpha": -0.5}, {"eps": -1}, {"momentum": -1}, {"weight_decay": -1}):
        with pytest.raises(ValueError, match="Invalid"):
            symgrad.optim.RMSprop([w], **bad)


# devices

def test_device_queries_report_the_cpu_only():
    assert symgrad.accelerator.is_available() is False and symgrad.accelerator.current_accelerator() is None
    assert symgrad.cuda.is_available() is False and symgrad.cuda.device_count() == 0
    assert symgrad.backends.mps.is_available() is False
    symgrad.set_default_device("cpu")
    assert symgrad.get_default_device() == symgrad.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        symgrad.set_default_device("cuda")
    with torch_is_symgrad():
        import torch.backends.mps
        import torch.cuda
        assert torch.cuda is symgrad.cuda and torch.backends.mps.is_available() is False


CREATORS = {
    "tensor": lambda d: symgrad.tensor([1.0], device=d), "ones": lambda d: symgrad.ones(2, device=d),
    "zeros": lambda d: symgrad.zeros(2, device=d), "empty": lambda d: symgrad.empty(2, device=d),
    "rand": lambda d: symgrad.rand(1, 28, 28, device=d), "randn": lambda d: symgrad.randn((), device=d),
    "full": lambda d: symgrad.full((), 0.3, device=d), "eye": lambda d: symgrad.eye(2, device=d),
    "arange": lambda d: symgrad.arange(3, device=d),
    "linspace": lambda d: symgrad.linspace(0, 1, 5, device=d),
    "as_tensor": lambda d: symgrad.as_tensor([1.0], device=d),
    "ones_like": lambda d: symgrad.ones_like(symgrad.ones(2), device=d),
    "zeros_like": lambda d: symgrad.zeros_like(symgrad.ones(2), device=d),
    "full_like": lambda d: symgrad.full_like(symgrad.ones(2), 7.0, device=d),
    "empty_like": lambda d: symgrad.empty_like(symgrad.ones(2), device=d),
    "rand_like": lambda d: symgrad.rand_like(symgrad.ones(2), device=d),
    "randn_like": lambda d: symgrad.randn_like(symgrad.ones(2), device=d),
}


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_creation_takes_the_cpu_and_refuses_other_devices(name):
    for ok in (None, "cpu", "cpu:0", symgrad.device("cpu")):
        assert CREATORS[name](ok).device == symgrad.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only.*'cuda'"):
        CREATORS[name]("cuda")


def test_shapes_are_sizes_that_print_as_pytorchs(torch):
    for lib in (symgrad, torch):
        x = lib.ones(2, 3, 4)
        assert repr(x.shape) == repr(x.size()) == f"{lib.__name__}.Size([2, 3, 4])"
        assert repr(x.shape[1:]) == f"{lib.__name__}.Size([3, 4])" and x.shape[-1] == x.size(-1) == 4
        assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple) and x.shape.numel() == 24
        assert repr(lib.ones(()).shape) == f"{lib.__name__}.Size([])"


# PyTorch's keyword names for a second operand, and out=

def test_binary_ops_take_pytorchs_keywords(torch):
    for lib in (symgrad, torch):
        x = lib.tensor([1.0, 2.0, 3.0])
        assert lib.matmul(input=x, other=x).item() == 14
        assert x.mul(other=x).tolist() == [1, 4, 9] and lib.add(x, other=1).tolist() == [2, 3, 4]
        assert x.pow(exponent=2).tolist() == [1, 4, 9] and lib.pow(x, exponent=3).tolist() == [1, 8, 27]
    x = symgrad.ones(3)
    with pytest.raises(TypeError, match="mul\\(\\) got an unexpected keyword argument 'exponent'"):
        x.mul(exponent=2)
    with pytest.raises(TypeError, match="exp\\(\\) got an unexpected keyword argument 'other'"):
        x.exp(other=1)
    with pytest.raises(TypeError, match="mul\\(\\) got multiple values for argument 'other'"):
        x.mul(x, other=x)


def test_out_writes_into_the_given_tensor(torch):
    for lib in (symgrad, torch):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        out = lib.zeros(2, 2)
        view = out.numpy()
        assert lib.matmul(a, a.T, out=out) is out and out.tolist() == [[5, 11], [11, 25]]
        assert view.tolist() == [[5, 11], [11, 25]]  # same memory
        assert lib.mul(a, a, out=out) is out and out.tolist() == [[1, 4], [9, 16]]
        values, indices = lib.zeros(2), lib.zeros(2, dtype=lib.long)
        result = lib.max(a, 1, out=(values, indices))
        assert result[0] is values and values.tolist() == [2, 4] and indices.tolist() == [1, 1]
        small = lib.zeros(3)
        with pytest.warns(UserWarning, match="resized"):
            lib.exp(a, out=small)
        assert tuple(small.shape) == (2, 2)
        w = lib.ones(2, 2, requires_grad=True)
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            lib.matmul(a, w, out=out)
        with lib.no_grad():
            lib.matmul(a, w, out=out)
        assert out.tolist() == [[3, 3], [7, 7]]
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            lib.mul(a, a, out=lib.zeros(2, 2, dtype=lib.long))
        with pytest.raises(TypeError, match="argument 'out' must be Tensor, not int"):
            lib.exp(a, out=3)


@pytest.mark.parametrize("a, b", [([1, 2], [1.0, 2.0]), ([1, 2], [1, 3]), ([1, 2], [1, 2, 2]),
                                  ([[1.0], [1.0]], [[1.0, 1.0]]), ([float("nan")], [float("nan")]),
                                  ([], []), (3.5, 3.5), ([True, False], [1, 0])])
def test_equal_compares_shape_and_elements_as_pytorch(torch, a, b):
    for lib in (symgrad, torch):
        x, y = lib.tensor(a), lib.tensor(b)
        expected = np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
        assert lib.equal(x, y) is x.equal(y) is y.equal(x) is lib.equal(input=x, other=y) is expected
    w = symgrad.ones(2, requires_grad=True) * 2
    assert symgrad.equal(w, symgrad.full((2,), 2.0)) is True  # outside autograd: no grad_fn, no error


@pytest.mark.parametrize("call, problem", [
    (lambda lib, x: lib.equal(x, [1.0, 1.0]), "'other' (position 2) must be Tensor, not list"),
    (lambda lib, x: lib.equal(1, x), "'input' (position 1) must be Tensor, not int"),
    (lambda lib, x: x.equal(3), "'other' (position 1) must be Tensor, not int")])
def test_equal_wants_tensors(torch, call, problem):
    for lib in (symgrad, torch):
        with pytest.raises(TypeError, match=re.escape(f"equal(): argument {problem}")):
            call(lib, lib.ones(2))


def test_out_bumps_the_version_so_saved_values_are_checked():
    x = symgrad.ones(3, requires_grad=True)
    buffer = symgrad.ones(3)
    y = (x * buffer).sum()  # mul saves `buffer` for x's gradient
    symgrad.mul(buffer, 2, out=buffer)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# indexing grad_fn names

@pytest.mark.parametrize("key", ["t[:2]", "t[0]", "t[:, 0]", "t[0, :2]", "t[:2, 0]", "t[..., -1]", "t[None]",
                                 "t[:]", "t[...]", "t[:, :]", "t[1:3, 1:3]", "t[:, None]", "t[0, None]",
                                 "t[None, 0]", "t[::2]", "t[t > 0]", "t[[0, 1]]", "t[0, 0]"])
def test_indexing_grad_fn_is_named_as_pytorchs(torch, key):
    names = []
    for lib in (symgrad, torch):
        t = lib.ones(4, 4, requires_grad=True) * 1  # noqa: F841 - read by eval
        names.append(eval(key).grad_fn.name())
    assert names[0] == names[1]


if __name__ == "__main__":  # the subprocess of `Runs`
    main(sys.argv[1], sys.argv[2:])
