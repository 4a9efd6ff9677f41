"""Mutation testing with mutmut, on demand (not in CI): which small changes the tests miss.

    pip install -e '.[test]'
    python tools/mutation.py                       # the registry, the simplifier, codegen
    python tools/mutation.py 'symgrad/codegen/*'   # or any globs of the installed layout
    python tools/mutation.py --import-time         # then: retest what runs at import
    python tools/mutation.py --results             # the survivors of the last run

mutmut mutates a copy of the sources and imports it by path, so the package is staged as
it is installed, with codegen/ inside symgrad/, in build/mutation/; mutmut runs there and
keeps its results between runs (it retests only what changed). `mutmut show NAME` in
build/mutation/ prints one mutant's diff.

mutmut forks each mutant's test run from a process that has imported symgrad already, so
a mutant of a function that runs at import (`defop` building the registry, a rule table's
patterns) is never run and always "survives". `--import-time` retests those survivors,
each in a fresh process with the mutant active from the first import, against the whole
suite (test_ops first: it reaches every op), and records the outcome in mutmut's results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutation"
PARTS = ("symgrad/ops/*", "symgrad/simplify/*", "symgrad/codegen/*")
COPIED = ("tests", "benchmarks", "examples", "README.md")
# Left out of mutation runs: tests of the user's line in messages (mutmut's trampolines stand
# between the user's frame and symgrad's, so these fail on every mutant), and the slow ones
# (test_benchmarks.py times the peers; the memory test runs a training loop for a minute
# under mutmut's trampolines).
LEFT_OUT = ["--ignore=tests/test_benchmarks.py", *(f"--deselect=tests/{test}" for test in (
    "test_autograd.py::test_memory_does_not_grow_over_a_long_training_loop",
    "test_api.py::test_numpy_function_without_an_op_fails_at_trace_time",
    "test_api.py::test_debug_nans_names_the_op_and_the_traced_line",
    "test_api.py::test_concrete_use_of_a_traced_value_names_the_line",
    "test_autograd.py::test_anomaly_mode_names_the_backward_and_the_forward_line",
    "test_cli.py::test_untraceable_control_flow_is_one_line",
    "test_compiled.py::test_control_flow_on_traced_values_names_the_line",
    "test_simplify_codegen.py::test_debug_nans_names_the_line_of_a_stabilised_op",
    "test_numpy_face.py::test_a_library_that_converts_its_input_names_the_users_line",
    "test_numpy_face.py::test_control_flow_keeps_its_advice",
    "test_numpy_face.py::test_assignment_into_a_numpy_array_names_the_line_and_says_stack",
))]


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
                "pytest_add_cli_args": LEFT_OUT}
    table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())  # TOML arrays
    (STAGE / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n[tool.mutmut]\n" + table)


def import_time_functions() -> set[str]:
    """The mutated functions that importing symgrad calls, as mutmut names them."""
    probe = "import mutmut.stats, symgrad, symgrad.surface.nn; print(*mutmut.stats.state()._stats)"
    env = {**os.environ, "MUTANT_UNDER_TEST": "stats"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=STAGE / "mutants", env=env, check=True,
                         capture_output=True, text=True).stdout
    return set(out.split())


def retest_import_time(max_children: int, timeout: float = 900.0) -> int:
    """Rerun the survivors of import-time functions in fresh processes; record the outcomes."""
    functions = import_time_functions()
    metas = sorted((STAGE / "mutants" / "symgrad").rglob("*.meta"))
    results = {meta: json.loads(meta.read_text()) for meta in metas}
    todo = [(meta, name) for meta, data in results.items() for name, code in data["exit_code_by_key"].items()
            if code == 0 and name.rsplit("__mutmut_", 1)[0] in functions]
    files = sorted(p.name for p in (STAGE / "mutants" / "tests").glob("test_*.py"))
    tests = [f"tests/{name}" for name in sorted(files, key=lambda name: name != "test_ops.py")]
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *LEFT_OUT, *tests]

    def run(name: str) -> int:
        env = {**os.environ, "MUTANT_UNDER_TEST": name}
        try:
            return subprocess.run(command, cwd=STAGE / "mutants", env=env, timeout=timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        except subprocess.TimeoutExpired:
            return 36  # mutmut's code for a timeout

    killed = 0
    with ThreadPoolExecutor(max_children) as pool:
        for (meta, name), code in zip(todo, pool.map(run, [name for _, name in todo])):
            results[meta]["exit_code_by_key"][name] = 1 if code not in (0, 36) else code
            meta.write_text(json.dumps(results[meta], indent=4))
            killed += code not in (0, 36)
            print(f"{'killed  ' if code not in (0, 36) else 'survived'} {name}", flush=True)
    print(f"{len(todo)} import-time survivors retested: {killed} killed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("globs", nargs="*", default=list(PARTS), help="files to mutate (fnmatch globs)")
    parser.add_argument("--results", action="store_true", help="list the survivors of the last run")
    parser.add_argument("--import-time", action="store_true",
                        help="retest the survivors of functions that run at import (after a run)")
    parser.add_argument("--max-children", type=int, help="parallel workers (default: every CPU)")
    args = parser.parse_args(argv)
    if args.results:
        return subprocess.call([sys.executable, "-m", "mutmut", "results"], cwd=STAGE)
    if args.import_time:
        return retest_import_time(args.max_children or os.cpu_count() or 1)
    stage(args.globs)
    command = [sys.executable, "-m", "mutmut", "run"]
    if args.max_children:
        command += ["--max-children", str(args.max_children)]
    return subprocess.call(command, cwd=STAGE)


if __name__ == "__main__":
    sys.exit(main())
