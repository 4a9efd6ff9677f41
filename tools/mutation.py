"""Mutation testing with mutmut, on demand (not in CI): which small changes the tests miss.

    pip install -e '.[test]'
    python tools/mutation.py                       # the registry, the simplifier, codegen
    python tools/mutation.py 'symgrad/codegen/*'   # or any globs of the installed layout
    python tools/mutation.py --results             # the survivors of the last run

mutmut mutates a copy of the sources and imports it by path, so the package is staged as
it is installed, with codegen/ inside symgrad/, in build/mutation/; mutmut runs there and
keeps its results between runs (it retests only what changed). `mutmut show NAME` in
build/mutation/ prints one mutant's diff.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutation"
PARTS = ("symgrad/ops/*", "symgrad/simplify/*", "symgrad/codegen/*")
COPIED = ("tests", "benchmarks", "examples", "README.md")
# tests of the user's line in messages: mutmut's trampolines stand between the user's frame
# and symgrad's, so these fail on every mutant (test_benchmarks.py, also left out, is slow)
NEEDS_USER_FRAMES = [f"--deselect=tests/{test}" for test in (
    "test_api.py::test_numpy_function_without_an_op_fails_at_trace_time",
    "test_api.py::test_debug_nans_names_the_op_and_the_traced_line",
    "test_api.py::test_concrete_use_of_a_traced_value_names_the_line",
    "test_autograd.py::test_anomaly_mode_names_the_backward_and_the_forward_line",
    "test_cli.py::test_untraceable_control_flow_is_one_line",
    "test_compiled.py::test_control_flow_on_traced_values_names_the_line",
)]


def stage(globs: list[str]) -> None:
    """The installed layout in STAGE, with a pyproject.toml whose [tool.mutmut] names `globs`."""
    STAGE.mkdir(parents=True, exist_ok=True)
    for name in ("symgrad", *COPIED):
        target = STAGE / name
        if target.is_dir():
            shutil.rmtree(target)
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, target)
    shutil.copytree(ROOT / "codegen", STAGE / "symgrad" / "codegen")
    settings = {"source_paths": ["symgrad"], "only_mutate": globs, "also_copy": list(COPIED),
                "pytest_add_cli_args_test_selection": ["tests/"],
                "pytest_add_cli_args": ["--ignore=tests/test_benchmarks.py", *NEEDS_USER_FRAMES]}
    table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())  # TOML arrays
    (STAGE / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n[tool.mutmut]\n" + table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("globs", nargs="*", default=list(PARTS), help="files to mutate (fnmatch globs)")
    parser.add_argument("--results", action="store_true", help="list the survivors of the last run")
    parser.add_argument("--max-children", type=int, help="parallel workers (default: every CPU)")
    args = parser.parse_args(argv)
    if args.results:
        return subprocess.call([sys.executable, "-m", "mutmut", "results"], cwd=STAGE)
    stage(args.globs)
    command = [sys.executable, "-m", "mutmut", "run"]
    if args.max_children:
        command += ["--max-children", str(args.max_children)]
    return subprocess.call(command, cwd=STAGE)


if __name__ == "__main__":
    sys.exit(main())
