"""The eager benchmark (benchmarks/eager_overhead.py): its answers are checked, its floors are right.

A ratio to PyTorch or to the NumPy floor means something only if both sides compute the
same thing, so each program's first call is checked against NumPy before it is timed. These
tests run the programs table in its tiny mode (same code, small inputs, one round) and
assert the checks ran and can fail; the hand-written gradients (the MLP floor, the chain's
backward) are held to central finite differences in float64 and to PyTorch when installed.
Timings themselves are not asserted.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import eager_overhead as eo  # noqa: E402
from benchmarks import run  # noqa: E402

HAS_TORCH = eo.torch is not None


def test_every_tiny_program_is_checked_against_numpy_then_timed():
    rows = eo.program_table(HAS_TORCH, eo.settings(tiny=True), tiny=True)
    by_work = {r.work: r for r in rows}
    assert len(rows) == len(eo.programs(tiny=True)) == 13
    for p in eo.programs(tiny=True):
        r = by_work[p.work]
        want = (["floor"] if p.floor else []) + (["torch"] if HAS_TORCH else []) + ["symgrad"]
        assert r.checked == want, r
        assert set(r.seconds) == set(want) and all(t > 0 for t in r.seconds.values()), r
        assert r.met is None  # tiny programs are not held to the targets
    mlp = next(r for r in rows if r.work.startswith("MLP step"))
    assert mlp.ratio is not None and (mlp.torch_ratio is not None) == HAS_TORCH
    text = eo.format_program_table(rows)
    assert "tutorial forward + backward" in text and "≤ 1.1× floor" in text and "≤ 0.5 s" in text


def test_a_wrong_answer_stops_the_program_before_it_is_timed():
    p = next(p for p in eo.programs(tiny=True) if p.work.startswith("mul forward"))
    right = p.expected()
    p.expected = lambda: (right[0], right[1] + 1e-3)  # y's gradient off by 1e-3
    with pytest.raises(AssertionError, match=r"mul forward \+ backward, 16 values \((torch|symgrad)\)"):
        eo.time_program(p, HAS_TORCH, eo.settings(tiny=True))


def test_without_torch_its_columns_are_left_out_and_the_floor_still_judges():
    p = next(p for p in eo.programs(tiny=True) if p.work.startswith("MLP step"))
    r = eo.time_program(p, False, eo.settings(tiny=True))
    assert r.checked == ["floor", "symgrad"] and r.ratio is not None and r.torch_ratio is None
    cells = eo.format_program_table([r]).splitlines()[-1].split("  ")
    assert [c.strip() for c in cells if c.strip()][2] == "—"  # the torch eager cell


def _mlp_loss64(a, params):
    """The MLP's loss in float64 from its definition (log-softmax cross-entropy)."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.maximum(a["x"] @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    z = h2 @ w3 + b3
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(z)), a["labels"]].mean()


def test_mlp_floor_matches_finite_differences():
    a = eo._mlp_arrays((12, 8, 6, 10), batch=5)
    loss, *grads = eo.mlp_floor(a)()
    params = [a[k].astype(np.float64) for k in eo.MLP_PARAMS]
    rng, eps = np.random.default_rng(1), 1e-6
    dirs = [rng.standard_normal(p.shape) for p in params]
    plus = _mlp_loss64(a, [p + eps * d for p, d in zip(params, dirs)])
    minus = _mlp_loss64(a, [p - eps * d for p, d in zip(params, dirs)])
    exact = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
    assert abs((plus - minus) / (2 * eps) - exact) <= 1e-4 * max(1.0, abs(exact))
    assert abs(loss - _mlp_loss64(a, params)) <= 1e-5
    assert all(g.dtype == np.float32 for g in grads)  # the floor stays in float32, as the tensors do


def test_mlp_floor_matches_torch_and_updates_like_sgd():
    torch = pytest.importorskip("torch")
    a = eo._mlp_arrays((32, 16, 8, 10), batch=8)
    floor = eo.mlp_floor(a)
    loss, *grads = floor()
    params = [torch.tensor(a[k], requires_grad=True) for k in eo.MLP_PARAMS]
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(torch.relu(torch.tensor(a["x"]) @ w1 + b1) @ w2 + b2)
    want = torch.nn.functional.cross_entropy(h @ w3 + b3, torch.tensor(a["labels"]))
    want.backward()
    np.testing.assert_allclose(loss, want.item(), rtol=1e-5)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-6)
    # the second call starts from the updated parameters: p - lr * g
    loss2, *_ = floor()
    with torch.no_grad():
        for p in params:
            p -= eo.MLP_LR * p.grad
        h = torch.relu(torch.relu(torch.tensor(a["x"]) @ w1 + b1) @ w2 + b2)
        want2 = torch.nn.functional.cross_entropy(h @ w3 + b3, torch.tensor(a["labels"]))
    np.testing.assert_allclose(loss2, want2.item(), rtol=1e-5)


def test_chain_backward_by_hand_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(16), rng.uniform(0.5, 0.9, 16)
    gx, gy = eo._chain_numpy(x, y, 10, backward=True)
    dx, dy, eps = rng.standard_normal(16), rng.standard_normal(16), 1e-6

    def f(s):
        return eo._chain_numpy(x + s * dx, y + s * dy, 10, backward=False)[0].sum()
    numeric = (f(eps) - f(-eps)) / (2 * eps)
    assert abs(numeric - (gx @ dx + gy @ dy)) <= 1e-7 * max(1.0, abs(numeric))


def test_summary_gives_eager_ratios_to_the_floor_and_to_torch():
    floor = run.Result("hand (floor)", seconds=1.0, ratio=1.0, samples=[1.0, 1.0, 1.0])
    eager = run.Result("symgrad eager", seconds=6.0, ratio=6.0, samples=[6.0, 4.0, 9.0])
    torch_ = run.Result("torch eager", seconds=2.0, ratio=2.0, samples=[2.0, 2.0, 2.0])
    assert run.eager_ratios([floor, eager, torch_]) == ("6.00", "3.00")  # median of 3, 2, 4.5
    assert run.eager_ratios([floor, eager, run.Result("torch eager", skipped="skipped: not installed")]) \
        == ("6.00", "-")


def test_command_prints_both_tables_and_writes_json(tmp_path, capsys):
    out = tmp_path / "eager.json"
    assert eo.main(["--tiny", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for expected in ("ops: one eager op", "softmax", "programs:", "20-op chain", "MLP step 8x32-16-8-10",
                     "targets not judged"):
        assert expected in text, text
    data = json.loads(out.read_text())
    assert [r["op"] for r in data["ops"]] == list(eo.OPS)
    assert len(data["programs"]) == len(eo.programs(tiny=True))
    assert all("symgrad" in r["checked"] for r in data["programs"])


def test_suite_eager_flag_prints_the_programs_table(monkeypatch, capsys):
    full_programs, tiny = eo.programs, eo.settings(tiny=True)
    monkeypatch.setattr(eo, "programs", lambda tiny=False: full_programs(tiny=True))
    monkeypatch.setattr(eo, "settings", lambda *args, **kwargs: tiny)
    rows = run.eager_programs(run.parse(["--quick", "--eager"]))
    assert len(rows) == len(full_programs(tiny=True)) and all(r["checked"][-1] == "symgrad" for r in rows)
    text = capsys.readouterr().out
    assert "eager programs:" in text and "tutorial forward + backward" in text


def test_the_others_table_is_checked_against_torch_and_left_out_without_it():
    assert eo.others(False) == []
    if not HAS_TORCH:
        pytest.skip("PyTorch not installed: the others table is left out")
    programs = eo.others(True)
    assert len(programs) == len(eo.OTHERS) >= 6
    for p in programs:
        r = eo.time_program(p, True, eo.settings(tiny=True))
        assert r.checked == ["torch", "symgrad"] and r.ratio is not None and r.met is None, r
    p = programs[0]
    right = p.expected()
    p.expected = lambda: (right[0] + 1e-2, *right[1:])  # the loss off by 1e-2
    with pytest.raises(AssertionError, match="wrong result"):
        eo.time_program(p, True, eo.settings(tiny=True))
