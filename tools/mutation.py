"""Mutation testing with mutmut, on demand (not in CI): which small changes the tests miss.

    pip install -e '.[test]'
    python tools/mutation.py                       # the registry, the simplifier, codegen
    python tools/mutation.py 'symgrad/codegen/*'   # or any globs of the installed layout
    python tools/mutation.py --sample 200          # after a run (stopped early): a random sample
    python tools/mutation.py --sample 200 --seconds 20   # faster, a lower bound on the score
    python tools/mutation.py --sample 999 --only 'symgrad.ops.index.x_write_through*'  # a change's
    python tools/mutation.py --import-time         # then: retest what runs at import
    python tools/mutation.py --score               # killed / tested, over the run or the sample
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

A full run tests every mutant against every test that reaches its function; with the suite
of 7,000 tests that is a day on two cores. `--sample N` draws N mutants at random (seeded,
so a rerun draws the same ones) and tests only those, each in a fresh process (so import-time
mutants need no second step); `--score` gives the killed fraction with its 95% interval: an
estimate of the full run's score in an hour.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutation"
PARTS = ("symgrad/ops/*", "symgrad/simplify/*", "symgrad/codegen/*")
COPIED = ("tests", "benchmarks", "examples", "README.md")
# Left out of mutation runs: tests of the user's line in messages (mutmut's trampolines stand
# between the user's frame and symgrad's, so these fail on every mutant), one that reads a
# rule's bytecode, and the slow ones
# (test_benchmarks.py times the peers; the memory test runs a training loop for a minute
# under mutmut's trampolines).
# test_dependencies.py reads .ci/, which is not staged.
LEFT_OUT = ["--ignore=tests/test_benchmarks.py", "--ignore=tests/test_dependencies.py",
            "--ignore=tests/test_backend_numba.py",  # kernel files under the user's cache, not the stage
            "--ignore=tests/test_export.py",  # exported modules carry the kernels' (trampolined) source
            *(
    f"--deselect=tests/{test}" for test in (
    "test_autograd.py::test_memory_does_not_grow_over_a_long_training_loop",
    "test_api.py::test_numpy_function_without_an_op_fails_at_trace_time",
    "test_api.py::test_generated_source_is_byte_identical_across_builds_and_processes",
    "test_api.py::test_debug_nans_names_the_op_and_the_traced_line",
    "test_api.py::test_concrete_use_of_a_traced_value_names_the_line",
    "test_autograd.py::test_anomaly_mode_names_the_backward_and_the_forward_line",
    "test_cli.py::test_untraceable_control_flow_is_one_line",
    "test_compiled.py::test_control_flow_on_traced_values_names_the_line",
    "test_simplify_codegen.py::test_debug_nans_names_the_line_of_a_stabilised_op",
    "test_numpy_face.py::test_a_library_that_converts_its_input_names_the_users_line",
    "test_numpy_face.py::test_control_flow_keeps_its_advice",
    "test_numpy_face.py::test_assignment_into_a_numpy_array_names_the_line_and_says_stack",
    "test_numpy_face.py::test_a_list_of_traced_values_given_to_numpy_says_stack_it",
    "test_numpy_face.py::test_a_numpy_array_indexed_by_a_traced_value_says_compare_instead",
    "test_numpy_face.py::test_accumulating_into_a_numpy_array_says_make_it_traced",
    "test_eager_dispatch_paths.py::test_anomaly_mode_keeps_the_forward_stack",
    # an exported module imported without symgrad: the stage's trampolines need mutmut
    "test_eager_mlp2_paths.py::test_an_exported_gradient_carries_the_where_kernel_and_runs_without_symgrad",
    # reads a VJP rule's bytecode to see what it saves: a trampoline's bytecode reads every input
    "test_autograd.py::test_an_input_read_only_for_its_shape_is_not_saved",
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
    with open(STAGE / "tests" / "conftest.py", "a") as conftest:  # a trampoline per call: twice the depth
        conftest.write("\nimport sys\nsys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))\n")
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
    """Rerun the survivors of import-time functions (of the sample, if one was drawn) in fresh
    processes; record the outcomes."""
    functions = import_time_functions()
    metas = sorted((STAGE / "mutants" / "symgrad").rglob("*.meta"))
    results = {meta: json.loads(meta.read_text()) for meta in metas}
    drawn = set(json.loads(SAMPLE.read_text())) if SAMPLE.exists() else None
    todo = [(meta, name) for meta, data in results.items() for name, code in data["exit_code_by_key"].items()
            if code == 0 and name.rsplit("__mutmut_", 1)[0] in functions and (drawn is None or name in drawn)]
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


KILLED = {1, 3, -24, 36, -11}  # a failing test, pytest's internal error, a timeout (SIGXCPU or
# mutmut's code), a crash: the mutant was caught. 0 survived; 33 has no test; None not run yet.
SAMPLE = STAGE / "sample.json"


def recorded(globs: list[str]) -> dict[str, int | None]:
    """Every mutant of the files `globs` match (installed layout) and its recorded exit code."""
    codes: dict[str, int | None] = {}
    for meta in sorted((STAGE / "mutants").rglob("*.meta")):
        source = meta.relative_to(STAGE / "mutants").as_posix().removesuffix(".meta")
        if any(fnmatch.fnmatch(source, glob) for glob in globs):
            codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def run_sample(globs: list[str], size: int, max_children: int | None, seconds: float | None = None,
               only: str | None = None, seed: int = 0) -> int:
    """Test `size` mutants drawn at random from `globs`' (those not tested yet), each in a fresh
    process with the mutant active from the first import (so a mutant of import-time code is
    tested too), against the tests that reach its function, fastest first; keep the drawn
    names for `--score` and for resuming (delete build/mutation/sample.json to draw anew).
    With `seconds`, each mutant runs only the fastest of those tests, up to that much test
    time: the score is then a lower bound, reached several times faster.
    (mutmut's own `run NAMES` re-collects test ids in its process and loses the parametrized
    ones.)"""
    if not (STAGE / "mutants" / "mutmut-stats.json").exists():
        print("run `python tools/mutation.py` first: it generates the mutants and records which tests "
              "reach each function; it can be stopped once it starts testing mutants")
        return 1
    drawn = json.loads(SAMPLE.read_text()) if SAMPLE.exists() else []
    if only:  # the mutants of some functions (a change's), not a sample
        drawn = [name for name in sorted(recorded(globs)) if fnmatch.fnmatch(name, only)][:size]
    elif len(drawn) < size:  # draw anew (a smaller sample is the start of the same draw: resumed)
        population = sorted(recorded(globs))
        drawn = random.Random(seed).sample(population, min(size, len(population)))
        SAMPLE.write_text(json.dumps(drawn, indent=1))
    names = drawn[:size]
    codes = recorded(globs)
    stats = json.loads((STAGE / "mutants" / "mutmut-stats.json").read_text())
    durations, reaching = stats["duration_by_test"], stats["tests_by_mangled_function_name"]
    files = sorted(p.name for p in (STAGE / "mutants" / "tests").glob("test_*.py"))
    everything = [f"tests/{name}" for name in sorted(files, key=lambda name: name != "test_ops.py")]

    at_import = import_time_functions()  # their recorded tests are only those calling them later

    def run(name: str) -> int:
        function = name.rsplit("__mutmut_", 1)[0]
        tests = [] if function in at_import else sorted(reaching.get(function, ()),
                                                         key=lambda t: durations.get(t, 0.0))
        if seconds is not None and tests:  # the fastest tests up to `seconds` of test time: a lower bound
            times = np.cumsum([durations.get(t, 0.0) for t in tests])
            tests = tests[:max(1, int(np.searchsorted(times, seconds)))]
        budget = 60 + 3 * sum(durations.get(t, 0.0) for t in tests) if tests else 900
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *LEFT_OUT,
                   *(tests or everything)]  # import-time code: the whole suite, test_ops first
        env = {**os.environ, "MUTANT_UNDER_TEST": name}
        try:
            return subprocess.run(command, cwd=STAGE / "mutants", env=env, timeout=budget,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        except subprocess.TimeoutExpired:
            return 36

    todo = [name for name in names if codes[name] is None
            or codes[name] == 0 and name.rsplit("__mutmut_", 1)[0] in at_import]
    metas = {meta: json.loads(meta.read_text()) for meta in (STAGE / "mutants").rglob("*.meta")}
    meta_of = {name: meta for meta, data in metas.items() for name in data["exit_code_by_key"]}
    with ThreadPoolExecutor(max_children or os.cpu_count() or 1) as pool:
        for name, code in zip(todo, pool.map(run, todo)):
            code = 1 if code not in (0, 36) else code
            metas[meta_of[name]]["exit_code_by_key"][name] = code
            meta_of[name].write_text(json.dumps(metas[meta_of[name]], indent=4))
            print(f"{'survived' if code == 0 else 'killed  '} {name}", flush=True)
    return 0


def score(globs: list[str], only: str | None = None) -> int:
    """Killed / tested over the sample (when one was drawn), the mutants matching `only`, or
    every recorded mutant, with a 95% Wilson interval, and the survivors by function."""
    codes = recorded(globs)
    if only:
        codes = {name: code for name, code in codes.items() if fnmatch.fnmatch(name, only)}
    elif SAMPLE.exists():
        codes = {name: codes.get(name) for name in json.loads(SAMPLE.read_text())}
    tested = [code for code in codes.values() if code is not None]
    killed = sum(code in KILLED for code in tested)
    n, z = len(tested), 1.96
    if not n:
        print("no mutant tested yet")
        return 1
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    print(f"{killed} killed of {n} tested ({len(codes) - n} not yet): {p:.1%}, "
          f"95% interval {centre - half:.1%} to {centre + half:.1%}")
    for name, code in sorted(codes.items()):
        if code is not None and code not in KILLED:
            print(f"  {'survived' if code == 0 else f'exit {code}'}  {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("globs", nargs="*", default=list(PARTS), help="files to mutate (fnmatch globs)")
    parser.add_argument("--results", action="store_true", help="list the survivors of the last run")
    parser.add_argument("--import-time", action="store_true",
                        help="retest the survivors of functions that run at import (after a run)")
    parser.add_argument("--max-children", type=int, help="parallel workers (default: every CPU)")
    parser.add_argument("--sample", type=int, metavar="N", help="test N mutants drawn at random")
    parser.add_argument("--score", action="store_true", help="the killed fraction, and the survivors")
    parser.add_argument("--seconds", type=float, help="with --sample: each mutant's test time at most")
    parser.add_argument("--only", metavar="GLOB", help="with --sample or --score: the mutants whose "
                        "name matches, e.g. 'symgrad.ops.index.x_write_through*'")
    args = parser.parse_args(argv)
    if args.results:
        return subprocess.call([sys.executable, "-m", "mutmut", "results"], cwd=STAGE)
    if args.import_time:
        return retest_import_time(args.max_children or os.cpu_count() or 1)
    if args.score:
        return score(args.globs, args.only)
    if args.sample:
        return run_sample(args.globs, args.sample, args.max_children, args.seconds, args.only)
    SAMPLE.unlink(missing_ok=True)
    stage(args.globs)
    command = [sys.executable, "-m", "mutmut", "run"]
    if args.max_children:
        command += ["--max-children", str(args.max_children)]
    return subprocess.call(command, cwd=STAGE)


if __name__ == "__main__":
    sys.exit(main())
