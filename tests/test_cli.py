"""`symgrad inspect` on the tutorial example, and on bad input."""

import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.cli import main

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = str(ROOT / "examples" / "autograd_tutorial.py")
ARGS = ["--arg", "x=f32[5]", "--arg", "y=f32[3]", "--arg", "w=f32[5,3]", "--arg", "b=f32[3]"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_prints_every_section(capsys):
    code, out, err = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b")
    assert code == 0 and err == ""
    assert "== forward graph: loss(x: f32[5], y: f32[3], w: f32[5,3], b: f32[3]) -> f32[] ==" in out
    assert "= matmul x w" in out and "= softplus" in out
    assert "== Gradient of loss with respect to w, b, simplified ==" in out
    assert "def grad_loss(x, y, w, b):" in out
    assert "return (grad_w, grad_b)" in out
    assert "== passes ==" in out and "dce" in out
    table = out.split("== passes ==\n")[1].strip().splitlines()[:-1]  # the last: the compile time
    assert len({len(line) for line in table if not line.startswith("traced")}) == 1, table  # columns line up
    assert any(line.startswith("contraction ") for line in table)


def test_generated_source_runs_and_matches_the_printed_one(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "b", "--show", "source")
    assert code == 0
    source = out.split("== generated source ==\n", 1)[1]
    namespace = {}
    exec(source, namespace)
    import numpy as np
    x, y = np.ones(5), np.zeros(3)
    w, b = np.full((5, 3), 0.1), np.array([0.5, -1.0, 2.0])
    z = x @ w + b
    expected = (1 / (1 + np.exp(-z)) - y) / 3
    np.testing.assert_allclose(namespace["grad_loss"](x, y, w, b), expected, rtol=1e-12)


def test_wrt_defaults_to_every_float_argument(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "source")
    assert code == 0
    assert "return (grad_x, grad_y, grad_w, grad_b)" in out


def test_dot_format(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "forward", "--format", "dot")
    assert code == 0 and "digraph symgrad {" in out and "->" in out


@pytest.mark.parametrize("argv, message", [
    (["inspect", "no/such/file.py:f"], "no such file: no/such/file.py"),
    (["inspect", f"{TUTORIAL}:nope", *ARGS], "has no function 'nope'"),
    (["inspect", TUTORIAL, *ARGS], "is not FILE:FUNC"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[5"], "is not NAME=DTYPE[SHAPE]"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f16[5]"], "unknown dtype 'f16'"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[5]"], "missing --arg for parameter 'y'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--arg", "q=f32[1]"], "takes no argument 'q'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "v"], "--wrt 'v' is not a parameter"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "nope"], "--show 'nope' is not one of"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[4]", *ARGS[2:]],
     "cannot trace loss: ShapeError: matmul: shapes (4,) and (5, 3) cannot be multiplied"),
    (["inspect", "--bogus"], "the following arguments are required: TARGET"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_untraceable_control_flow_is_one_line(tmp_path, capsys):
    src = tmp_path / "branchy.py"
    src.write_text("def f(x):\n    if x.sum() > 0:\n        return x.sum()\n    return -x.sum()\n")
    code, out, err = run(capsys, "inspect", f"{src}:f", "--arg", "x=f64[3]")
    assert code == 9 and err.count("\n") == 1
    assert "bool() on a traced value" in err and "branchy.py:2" in err and "symgrad.where" in err


def test_console_script_runs_without_traceback():
    result = subprocess.run([sys.executable, "-m", "symgrad.cli", "inspect", "missing.py:f"],
                            capture_output=True, text=True)
    assert result.returncode == 4
    assert result.stderr == "symgrad: error: no such file: missing.py\n"
    help_text = subprocess.run([sys.executable, "-m", "symgrad.cli", "inspect", "--help"],
                               capture_output=True, text=True).stdout
    for flag in ("--arg", "--wrt", "--show", "--format"):
        assert flag in help_text


def test_tutorial_script_prints_the_tutorials_structure():
    result = subprocess.run([sys.executable, TUTORIAL], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Gradient function for z = <AddBackward0 object at 0x")
    assert lines[1].startswith(
        "Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at")
    assert lines[2].startswith("tensor([[") and lines[7].startswith("tensor([")
    assert lines[8:11] == ["True", "False", "False"]
    text = result.stdout
    first = ("First call\ntensor([[4., 2., 2., 2., 2.],\n        [2., 4., 2., 2., 2.],\n"
             "        [2., 2., 4., 2., 2.],\n        [2., 2., 2., 4., 2.]])")
    second = ("Second call\ntensor([[8., 4., 4., 4., 4.],\n        [4., 8., 4., 4., 4.],\n"
              "        [4., 4., 8., 4., 4.],\n        [4., 4., 4., 8., 4.]])")
    after = first.replace("First call", "Call after zeroing gradients")
    assert first in text and second in text and after in text
