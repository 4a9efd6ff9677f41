"""examples/train_mlp.py: it learns, its printed output has the promised shape, and the same
source run on PyTorch (only the import changed) takes the same first steps."""

import importlib.util
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "train_mlp.py"
IMPORT = "import symgrad as torch\n"


def _load(name: str, source: str | None = None) -> types.ModuleType:
    """The example as a module; `source` replaces the file's text (same filename for tracebacks)."""
    if source is None:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType(name)
    module.__file__ = str(SCRIPT)
    exec(compile(source, str(SCRIPT), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def train_mlp() -> types.ModuleType:
    return _load("train_mlp")


def test_main_learns_in_a_few_epochs(train_mlp):
    losses, accuracy = train_mlp.main(epochs=100, log_every=0)
    assert len(losses) == 100
    assert all(math.isfinite(v) for v in losses)
    assert abs(losses[0] - math.log(3)) < 0.15  # an untrained 3-class model is near chance
    assert losses[-1] < 0.25 * losses[0]
    assert accuracy > 0.8  # chance is 1/3


def test_script_prints_falling_losses_and_accuracy():
    # small matrices: BLAS threads only contend with each other (and with other processes)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    logged = [re.fullmatch(r"epoch\s+(\d+)\s+loss (\d+\.\d+)", line) for line in lines[:-1]]
    assert all(logged), run.stdout
    epochs = [int(m[1]) for m in logged]
    losses = [float(m[2]) for m in logged]
    assert len(epochs) >= 5 and epochs == sorted(epochs) and epochs[0] == 1
    assert all(b < a for a, b in zip(losses, losses[1:])), run.stdout
    assert losses[0] > 1.0 and losses[-1] < 0.1
    accuracy = re.match(r"training accuracy: (\d+\.\d)%", lines[-1])
    assert accuracy and float(accuracy[1]) > 90, run.stdout


def test_first_steps_match_pytorch(train_mlp):
    """Forward, backward and Adam: five steps from the same data and weights agree with PyTorch."""
    torch = pytest.importorskip("torch")
    source = SCRIPT.read_text()
    assert IMPORT in source
    on_torch = _load("train_mlp_on_torch", source.replace(IMPORT, "import torch\n"))
    assert on_torch.torch is torch

    ours, our_accuracy = train_mlp.main(epochs=5, log_every=0)
    theirs, their_accuracy = on_torch.main(epochs=5, log_every=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert abs(our_accuracy - their_accuracy) <= 1 / 300 + 1e-9  # at most one borderline point
