"""The generated source of every benchmark workload, held byte for byte in tests/golden/.

Refactoring must not change what symgrad generates: a difference here is either a bug or a
deliberate change of the generated code, which then regenerates the files with
`SYMGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` and shows the diff in review.
"""

import os
import sys
from pathlib import Path

import pytest

import symgrad

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks.workloads import WORKLOADS  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"


def source(name: str) -> str:
    w = WORKLOADS[name]
    derivative = symgrad.hessian(w.fn) if w.kind == "hessian" else symgrad.grad(w.fn, argnums=w.wrt)
    return derivative.source(*w.inputs())


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_generated_source_matches_the_golden_file(name: str) -> None:
    path = GOLDEN / f"{name}.py.txt"
    got = source(name)
    if os.environ.get("SYMGRAD_UPDATE_GOLDEN"):
        path.write_text(got)
    assert path.exists(), f"no golden file {path}; run with SYMGRAD_UPDATE_GOLDEN=1 to write it"
    assert got == path.read_text(), f"the generated source of {name} changed (see {path})"
