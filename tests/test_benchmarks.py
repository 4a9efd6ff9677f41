"""The benchmark suite: every floor (hand-written gradient) is right, and the command runs.

A ratio to the floor means something only if the floor computes the same derivative, so
each workload's hand-written gradient is checked against finite differences (in float64,
along a random direction), against symgrad's compiled and eager gradients, and against
each peer that is installed. Each other spelling of a workload is checked the same way:
its loss is the workload's, finite differences of it agree with the floor, and so does
symgrad's gradient of it (on the workload's small inputs, to stay fast).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402
from benchmarks.workloads import SPELLINGS, WORKLOADS, spellings, with_numpy  # noqa: E402

NAMES = list(WORKLOADS)
SPELLING_NAMES = list(SPELLINGS)


@pytest.fixture(scope="module")
def inputs():
    return {name: w.inputs() for name, w in WORKLOADS.items()}


@pytest.fixture(scope="module")
def small_inputs():
    return {name: w.inputs(small=True) for name, w in WORKLOADS.items()}


def _floor(w, args):
    return run.as_arrays(run.make_hand(w, args)())


def _check(got, want, rtol, who):
    err = run.rel_err(run.as_arrays(got), want)
    assert err <= rtol, f"{who}: max relative error {err:.2e} > {rtol:.0e}"


def _directional(w, args, rng):
    """Central differences in float64 along random directions: (numeric, exact, rtol) for
    f'(x; v), or for v' H u with the Hessian."""
    args = [a.astype(np.float64) for a in args]
    f = w.loss  # the spelling's function at the workload's inputs
    if w.kind == "hessian":
        x, rest = args[0], args[1:]
        v, u = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
        eps, rtol = 1e-3, 1e-5  # truncation error of the mixed difference: about 2e-6 here
        second = (f(x + eps * (v + u), *rest) - f(x + eps * (v - u), *rest)
                  - f(x - eps * (v - u), *rest) + f(x - eps * (v + u), *rest)) / (4 * eps * eps)
        return second, v @ w.hand(*args)[0] @ u, rtol
    directions = {i: rng.standard_normal(args[i].shape) for i in w.wrt}
    eps = 1e-6

    def at(sign):
        return f(*[a + sign * eps * directions[i] if i in directions else a for i, a in enumerate(args)])
    numeric = (at(1) - at(-1)) / (2 * eps)
    exact = sum(float(np.sum(g * directions[i])) for i, g in zip(w.wrt, w.hand(*args)))
    return numeric, exact, 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_floor_matches_finite_differences(name, inputs):
    w = WORKLOADS[name]
    numeric, exact, rtol = _directional(w, inputs[name], np.random.default_rng(1))
    assert abs(numeric - exact) <= rtol * max(1.0, abs(exact)), (numeric, exact)


@pytest.mark.parametrize("name", NAMES)
def test_floor_matches_symgrad_compiled_and_eager(name, inputs):
    w, args = WORKLOADS[name], inputs[name]
    want = _floor(w, args)
    assert all(a.dtype == args[w.wrt[0]].dtype for a in want), "the floor changed the dtype"
    _check(run.make_symgrad(w, args)(), want, w.rtol, "symgrad.grad")
    _check(run.make_eager(w, args)(), want, w.rtol, "symgrad eager")


@pytest.mark.parametrize("name", NAMES)
def test_floor_matches_torch(name, inputs):
    torch = pytest.importorskip("torch")
    w, args = WORKLOADS[name], inputs[name]
    want = _floor(w, args)
    _check(run.make_torch(torch)(w, args)(), want, w.rtol, "torch eager")
    if name == "hessian":  # torch.func takes a second to start; one workload shows the path
        _check(run.make_torch_func(torch)(w, args)(), want, w.rtol, "torch.func")


# tutorial runs under every installed peer in test_command_prints_a_table_and_writes_json
@pytest.mark.parametrize("name", ["rosenbrock", "hessian"])
def test_the_numpy_code_runs_under_jax(name, inputs):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    w, args = WORKLOADS[name], inputs[name]
    _check(run.make_jax(jax)(w, args)(), _floor(w, args), w.rtol, "jax")


@pytest.mark.parametrize("name", ["tutorial", "rosenbrock", "hessian"])
def test_the_numpy_code_runs_under_autograd(name, inputs):
    autograd = pytest.importorskip("autograd")
    pytest.importorskip("autograd.numpy")
    w, args = WORKLOADS[name], inputs[name]
    _check(run.make_autograd(autograd)(w, args)(), _floor(w, args), w.rtol, "autograd")


def test_with_numpy_rebinds_only_np():
    class FakeNumpy:
        @staticmethod
        def sum(x):
            return "fake sum"
    f = with_numpy(lambda x: np.sum(x), FakeNumpy)
    assert f([1, 2]) == "fake sum"
    assert np.sum([1, 2]) == 3


def test_a_failing_candidate_is_reported_and_the_others_still_run():
    def branchy(x):
        if np.sum(x) > 0:  # control flow on a traced value: symgrad cannot trace this
            return np.sum(x * x)
        return np.sum(x)

    w = run.Workload("branchy", branchy, lambda: (np.ones(4),), (0,), lambda x: (2 * x,),
                     lambda x: x, target=1.0)
    cands = [run.Candidate("hand (floor)", run.make_hand), run.Candidate("symgrad", run.make_symgrad),
             run.Candidate("symgrad eager", run.make_eager), run.Candidate("torch eager", None, "not here")]
    opts = run.parse(["--quick", "--rounds", "3"])
    results = run.measure(w, cands, opts)
    by = {r.name: r for r in results}
    assert by["symgrad"].skipped.startswith("FAILED: ") and not by["symgrad eager"].skipped
    assert len(by["symgrad eager"].samples) == 3 and by["symgrad eager"].rel_err == 0
    text = run.table(w, results) + "\n" + run.summary({"branchy": results}, {"branchy": w})
    assert "symgrad        FAILED" in text and "skipped: not here" in text
    assert text.splitlines()[-1].split()[:2] == ["branchy", "FAILED"]


def test_command_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "tutorial",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for expected in ("tutorial:", "hand (floor)", "symgrad eager", "x floor", "max rel err", "summary",
                     "tutorial/stable:", "\n  tutorial/pytree "):
        assert expected in text, text
    data = json.loads(out.read_text())
    by_name = {c["name"]: c for c in data["workloads"]["tutorial"]["candidates"]}
    assert by_name["symgrad"]["seconds"] > 0 and by_name["symgrad"]["first_call"] > 0
    assert set(data["workloads"]) == {w.name for w in spellings("tutorial")}
    for name, row in data["workloads"].items():  # every candidate that ran agrees with the floor
        assert [c["name"] for c in row["candidates"]][:2] == ["hand (floor)", "symgrad"], name
        for c in row["candidates"]:
            assert c["skipped"] is None or c["skipped"].startswith(("skipped: not installed",
                                                                    "skipped: calls SciPy")), c
            assert c["skipped"] or c["rel_err"] < 1e-4, c


def test_script_form_runs_and_rejects_unknown_workloads():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--only", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown workload nope" in proc.stderr


# ---------------------------------------------------------------- other spellings

def _main(name):
    return WORKLOADS[name.split("/")[0]]


@pytest.mark.parametrize("name", NAMES)
def test_every_workload_has_three_other_spellings(name):
    others = spellings(name)[1:]
    assert len(others) >= 3 and all(w.name.startswith(name + "/") for w in others)
    main = WORKLOADS[name]
    for w in others:  # held to the main spelling's floor, inputs and target
        assert (w.hand, w.inputs, w.target, w.rtol, w.kind) == (main.hand, main.inputs, main.target,
                                                               main.rtol, main.kind)


@pytest.mark.parametrize("name", SPELLING_NAMES)
def test_spelling_has_the_workloads_loss_and_floor(name, small_inputs):
    w, args = SPELLINGS[name], small_inputs[name.split("/")[0]]
    want = float(_main(name).fn(*args))
    assert abs(float(w.loss(*args)) - want) <= 1e-5 * max(1.0, abs(want))
    numeric, exact, rtol = _directional(w, args, np.random.default_rng(1))
    assert abs(numeric - exact) <= rtol * max(1.0, abs(exact)), (numeric, exact)


@pytest.mark.parametrize("name", SPELLING_NAMES)
def test_spelling_symgrad_matches_the_floor(name, small_inputs):
    w, args = SPELLINGS[name], small_inputs[name.split("/")[0]]
    _check(run.make_symgrad(w, args)(), _floor(w, args), w.rtol, "symgrad.grad")


@pytest.mark.parametrize("name", ["tutorial/pytree", "mlp/pytree", "hessian/outer"])
def test_a_spelling_runs_under_jax(name, small_inputs):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    w, args = SPELLINGS[name], small_inputs[name.split("/")[0]]
    _check(run.make_jax(jax)(w, args)(), _floor(w, args), w.rtol, "jax")


def test_spellings_are_timed_against_the_floor_with_symgrad_and_jax():
    cands = [run.Candidate(n, run.make_hand) for n in ("hand (floor)", "symgrad", "symgrad eager",
                                                       "torch eager", "jax.jit")]
    names = lambda w: [(c.name, c.skipped) for c in run.candidates_for(w, cands)]  # noqa: E731
    assert names(WORKLOADS["mlp"]) == [(c.name, "") for c in cands]
    assert names(SPELLINGS["mlp/pytree"]) == [("hand (floor)", ""), ("symgrad", ""), ("jax.jit", "")]
    assert names(SPELLINGS["mlp/logsumexp"])[-1] == ("jax.jit", "calls SciPy")


def test_only_takes_a_workload_with_its_spellings_or_one_spelling(capsys):
    assert run.parse(["--only", "hessian"]).names == [w.name for w in spellings("hessian")]
    assert run.parse(["--only", "hessian/outer, tutorial/stable"]).names == ["hessian/outer",
                                                                             "tutorial/stable"]
    assert run.parse(["--only", "rosenbrock/dot,rosenbrock"]).names[:2] == ["rosenbrock/dot", "rosenbrock"]
    with pytest.raises(SystemExit) as e:
        run.parse(["--only", "hessian/nope"])
    assert e.value.code == 2 and "unknown workload hessian/nope" in capsys.readouterr().err


# ---------------------------------------------------------------- the stress script

def test_stress_script_runs_quick_and_prints_every_figure():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.stress", "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for part in ("compile curve:", "memory:", "cache growth:", "threads:"):
        assert f"\n{part}\n" in f"\n{text}", text
    for size in (30, 100):  # --quick's chains, each compiled and differentiated
        for name in ("compile", "grad"):
            figures = r"first call +\d+\.\d+ s cpu +\d+\.\d+ s wall +\d+ ops/s"
            assert re.search(rf"{name} +{size} ops, {figures}", text), text
    for steps in ("eager MLP + Adam: 100 steps", "compiled value_and_grad: 100 steps"):
        assert steps in text, text
    assert len(re.findall(r"-> +[\d.]+ MB +[+-][\d.]+ KB/1000 steps", text)) == 4, text
    assert re.search(r"CacheInfo\(hits=0, misses=10, .*currsize=10\b", text), text  # a trace per shape
    assert re.search(r"first call in 8 threads at once +\d+\.\d+ s +1 trace", text), text
    assert len(re.findall(r"8 threads x 5 calls +\d+ calls/s .* results equal", text)) == 2, text
