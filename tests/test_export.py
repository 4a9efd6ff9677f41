"""The generated code quotes its origin, and `.export()` / `symgrad export` write it as a module
that needs only NumPy.

Origin: each group of statements is preceded by a comment quoting the user's line it comes from
(`# autograd_tutorial.py:15  z = ...`), gradient statements by `# grad of line N  ...`; the
quotes are the file's real lines, and the values are those of the hand-written gradient.

Export: the module runs in a fresh virtual environment that has NumPy and not symgrad, and
gives the compiled function's numbers (grad, value_and_grad and hessian of three functions:
the tutorial's loss, a logistic loss whose gradient calls the sigmoid kernel, and one with
slices and fancy indexing whose gradient calls scatter_add and index_add_). The venv is made
once under build/ (pip install numpy) and reused; the test is skipped, saying why, when it
cannot be made.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symgrad
from symgrad import cli
from symgrad.cli import target as cli_target
from symgrad.codegen import standalone
from symgrad.ir import origin
from symgrad.tracing import pytree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from autograd_tutorial import loss as tutorial_loss  # noqa: E402

TUTORIAL_FILE = ROOT / "examples" / "autograd_tutorial.py"
TUTORIAL_SPECS = ["x=f32[5]", "y=f32[3]", "w=f32[5,3]", "b=f32[3]"]
VENV = ROOT / "build" / "export-venv"


def tutorial_args(dtype: Any = np.float32) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(5).astype(dtype), (rng.random(3) < 0.5).astype(dtype),
            rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal(3).astype(dtype)]


def logistic(w, X, y):
    z = X @ w
    data = np.mean(np.logaddexp(0, z) - y * z)
    return data + 0.01 * np.sum(w * w)


def logistic_args() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, 4))  # big enough for the sigmoid kernel
    return [0.3 * rng.standard_normal(4), X, (rng.random(2000) < 0.5).astype(np.float64)]


PICK = np.array([0, 2, 2, 5])  # a repeated index: its gradient accumulates


def indexed(x, w):
    ends = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    picked = np.tanh(x[PICK] * w)
    return ends + np.sum(picked ** 2)


def indexed_args() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.uniform(-1, 1, 6), rng.standard_normal(4)]


FUNCTIONS = {
    "tutorial": (tutorial_loss, lambda: tutorial_args(np.float64), (2, 3)),
    "logistic": (logistic, logistic_args, 0),
    "indexed": (indexed, indexed_args, 0),
}
KERNELS = {"logistic": ["sigmoid"], "indexed": ["scatter_add", "index_add_"]}


def transforms(name: str) -> dict[str, Any]:
    fn, _, argnums = FUNCTIONS[name]
    first = argnums if isinstance(argnums, int) else argnums[0]
    return {"grad": symgrad.grad(fn, argnums=argnums),
            "value_and_grad": symgrad.value_and_grad(fn, argnums=argnums),
            "hessian": symgrad.hessian(fn, argnums=first)}


def leaves(result: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in pytree.flatten(result)[0]]


def imported(text: str, name: str = "exported") -> dict[str, Any]:
    """The module `text` executed in a namespace of its own."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(text, f"<{name}>", "exec"), namespace)  # noqa: S102 - the module under test
    return namespace


def function_name(text: str) -> str:
    return re.search(r"^def (\w+)\(", text.split("the generated function")[1], re.M)[1]


# ---------------------------------------------------------------- 1. origin comments

def test_the_tutorial_source_quotes_its_lines_and_marks_gradients() -> None:
    source = symgrad.grad(tutorial_loss, argnums=(2, 3)).source(*tutorial_args())
    lines = source.splitlines()
    forward = lines.index("    # autograd_tutorial.py:15  z = torch.matmul(x, w) + b")
    bce = "torch.nn.functional.binary_cross_entropy_with_logits(z, y)"
    grad_16 = lines.index(f"    # grad of line 16  return {bce}")
    grad_15 = lines.index("    # grad of line 15  z = torch.matmul(x, w) + b")
    assert forward < grad_16 < grad_15, source
    assert lines[forward + 1] == "    a = x @ w"
    assert lines[grad_15 + 1] == "    grad_w = x[:, None] * grad_b"  # d/dw of x @ w serves line 15


def assert_every_statement_has_an_origin(source: str) -> None:
    """Every statement in the function's body sits in a group opened by an origin comment at
    its own indentation (a loop's bookkeeping, `hi = lo + n` and `x_blk = x[lo:hi]`, aside)."""
    body = source.split("\ndef ", 1)[1].splitlines()[1:]
    opened: dict[int, bool] = {}
    for line in body:
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        opened = {k: v for k, v in opened.items() if k <= indent}
        if text.startswith("#"):
            opened[indent] = True
        elif text.startswith("for "):
            opened[indent + 4] = False
        elif text.startswith("return ") or re.fullmatch(r"\w+ = \w+ \+ \d+|\w+_blk = \w+\[\w+:\w+\]", text):
            continue
        else:
            assert opened.get(indent), f"no origin comment before {text!r} in\n{source}"


@pytest.mark.parametrize("name", ["tutorial", "mlp", "elementwise", "rosenbrock", "logreg", "hessian"])
def test_every_statement_has_a_preceding_origin_comment(name: str) -> None:
    source = (ROOT / "tests" / "golden" / f"{name}.py.txt").read_text()  # test_golden: what is built
    assert_every_statement_has_an_origin(source)
    assert "for lo in range" in source or name not in ("elementwise", "rosenbrock")  # loops are covered


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_origin_comments_quote_the_real_lines(name: str) -> None:
    fn, args, _ = FUNCTIONS[name]
    file = Path(fn.__code__.co_filename)
    for mode, f in transforms(name).items():
        source = f.source(*args())
        assert_every_statement_has_an_origin(source)
        quotes = re.findall(r"^ *# (?:grad of )?(?:line |(\S+):)(\d+)  (.*)$", source, re.M)
        assert quotes, source
        for filename, line, text in quotes:
            assert filename in ("", file.name), (mode, source)  # never the caller's file
            assert linecache.getline(str(file), int(line)).strip() == text, (mode, line, text)
        assert ("# grad of line" in source) == (mode != "compiled"), source


def test_gradient_nodes_carry_the_forward_line_marked() -> None:
    graph = symgrad.grad(logistic).build(*logistic_args()).traced.graph
    where = [(n.op, origin.parse(n.where)) for n in graph.nodes if n.where]
    line = logistic.__code__.co_firstlineno
    forward, backward = (origin.Origin(__file__, line + 1, "z = X @ w", grad) for grad in (False, True))
    assert [o for op, o in where if op == "matmul"] == [forward, backward]  # X @ w, then ct @ X
    assert ("sigmoid", origin.Origin(__file__, line + 2, "data = np.mean(np.logaddexp(0, z) - y * z)",
                                     True)) in where  # d softplus / dz
    assert origin.gradient(origin.gradient("a.py:3: x")) == "grad of a.py:3: x"
    assert origin.parse("") is None and origin.parse("C:\\a b.py:12: y = 1").line == 12


def test_the_values_are_unchanged() -> None:
    args = tutorial_args(np.float64)
    grad_w, grad_b = symgrad.grad(tutorial_loss, argnums=(2, 3))(*args)
    x, y, w, b = args
    p = 1 / (1 + np.exp(-(x @ w + b)))
    np.testing.assert_allclose(grad_b, (p - y) / 3, rtol=1e-13)
    np.testing.assert_allclose(grad_w, np.outer(x, (p - y) / 3), rtol=1e-13)


# ---------------------------------------------------------------- 2. .export()

@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_an_exported_module_imports_no_symgrad_and_gives_the_same_numbers(name: str) -> None:
    args = FUNCTIONS[name][1]()
    for mode, f in transforms(name).items():
        text = f.export(*args)
        imports = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom))]
        modules = {a.name for node in imports if isinstance(node, ast.Import) for a in node.names}
        modules |= {node.module for node in imports if isinstance(node, ast.ImportFrom)}
        assert modules <= {"numpy", "__future__", "math"}, (mode, modules)
        got = imported(text)[function_name(text)](*args)
        want = leaves(f(*args))
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(want)
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-15)
        for kernel in KERNELS.get(name, []) if mode != "hessian" else []:
            assert f"\ndef {kernel}(" in text, text  # carried as a function of its own


def test_the_header_names_function_signature_version_and_command() -> None:
    f = symgrad.grad(tutorial_loss, argnums=(2, 3))
    text = f.export(*tutorial_args())
    doc = ast.get_docstring(ast.parse(text))
    assert doc.startswith("Gradient of loss(x: f32[5], y: f32[3], w: f32[5,3], b: f32[3]) with respect "
                          "to w, b.")
    assert f"from loss ({os.path.relpath(TUTORIAL_FILE)}:13)" in doc
    assert "symgrad.grad(loss, argnums=(2, 3)).export(x: f32[5], y: f32[3], w: f32[5,3], b: f32[3])" in doc
    assert "grad_loss(x, y, w, b) -> (grad_w, grad_b)" in doc
    assert re.search(r"Exported by symgrad \d+\.\d+", doc)
    assert f.export() == text  # without arguments: the latest signature
    with pytest.raises(TypeError, match=r"grad\(loss\)\.export\(\): nothing built yet; pass example"):
        symgrad.grad(tutorial_loss).export()


def test_a_small_constant_is_a_literal_and_a_large_one_a_sidecar(tmp_path: Path) -> None:
    small, large = np.linspace(-1, 1, 7).astype(np.float32), np.linspace(0, 1, 3000)
    g = symgrad.grad(lambda x: np.sum(np.sin(x * small)) + np.sum(np.sin(large * x[0])))
    x = np.linspace(0.1, 0.7, 7).astype(np.float32)
    with pytest.raises(ValueError, match=r"export: constant const\d+ \(float64\[3000\], 3000 elements\) is "
                                         r"too large to write as a literal \(more than 1000\); give export"):
        g.export(x)
    path = tmp_path / "grad_f.py"
    text = g.export(x, path=path)
    assert path.read_text() == text and (tmp_path / "grad_f.npz").exists()
    assert "[-1.0, -0.6666666865348816, -0.3333333432674408, 0.0," in text and "dtype='float32')" in text
    assert "with np.load(Path(__file__).with_name('grad_f.npz')) as saved:" in text
    script = (f"import runpy; ns = runpy.run_path({str(path)!r}); import numpy as np; np.save("
              f"{str(tmp_path / 'out.npy')!r}, ns['grad__lambda_'](np.linspace(0.1, 0.7, 7, dtype='f4')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), g(x))


def test_helpers_carry_the_module_constants_and_imports_they_read() -> None:
    def special(x):
        return np.sum(symgrad.special.erfinv(x / 2)) + np.sum(symgrad.lgamma(x + 2)) + symgrad.prod(x / 2 + 1)
    f = symgrad.value_and_grad(special)
    x = np.linspace(-1, 1, 5)
    text = f.export(x)
    for needed in ("\nimport math\n", "\n_GILES_CENTRAL = (", "\n_erf = np.frompyfunc(math.erf, 1, 1)\n",
                   "\ndef digamma(", "\n# Bernoulli numbers", "\nprod_others = _prod_others\n"):
        assert needed in text, needed
    got, want = imported(text)[function_name(text)](x), leaves(f(x))
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-14)


# registered once, at import (a test that registers it would fail when run twice in one process)
cube_for_export = symgrad.extend("cube_for_export", lambda x: x ** 3, [lambda ct, ans, x: ct * 3 * x * x])


def test_code_that_is_not_symgrads_is_refused() -> None:
    cube = cube_for_export
    f = symgrad.compile(lambda x: cube(x).sum())
    with pytest.raises(ValueError, match=r"export: the generated code calls op_cube_for_export .* which is "
                                         r"not symgrad's own code; a standalone module cannot carry it"):
        f.export(np.ones(3))


def test_a_pullback_exports() -> None:
    _, pullback = symgrad.vjp(lambda x: np.tanh(x) * 2, np.linspace(-1, 1, 4))
    text = pullback.export(np.ones(4))
    got = imported(text)[function_name(text)](np.linspace(-1, 1, 4), np.ones(4))
    np.testing.assert_allclose(got, pullback(np.ones(4))[0], rtol=1e-15)


# ---------------------------------------------------------------- 3. symgrad export

def test_the_command_writes_the_module_and_names_itself(tmp_path: Path) -> None:
    out = tmp_path / "grad_loss.py"
    argv = ["export", str(TUTORIAL_FILE) + ":loss", *(f"--arg={s}" for s in TUTORIAL_SPECS),
            "--mode", "value_and_grad", "--wrt", "w,b", "-o", str(out)]
    assert cli.main(argv) == 0
    text = out.read_text()
    assert f"    symgrad export {shlex.join(argv[1:])}\n" in text  # the command, as a shell takes it
    args = tutorial_args()
    got = imported(text)["value_and_grad_loss"](*args)
    want = leaves(symgrad.value_and_grad(tutorial_loss, argnums=(2, 3))(*args))
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g, e)


def test_the_readme_shows_a_real_exported_module(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    readme = (ROOT / "README.md").read_text()
    (shown,) = re.findall(r"^```python\n(\"\"\"Gradient of loss.*?)^```$", readme, re.S | re.M)
    monkeypatch.chdir(ROOT)  # the header names the file relative to the current directory
    argv = ["export", "examples/autograd_tutorial.py:loss", *(f"--arg={s}" for s in TUTORIAL_SPECS),
            "--wrt", "w,b"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    made = shlex.join(["symgrad", *argv])
    assert made in text
    readme_made = "symgrad export examples/autograd_tutorial.py:loss " + " ".join(
        f"--arg {shlex.quote(s)}" for s in TUTORIAL_SPECS) + " --wrt w,b -o grad_loss.py"
    assert shown == text.replace(made, readme_made)


def extra_arguments(mode: str, rng: np.random.Generator) -> list[np.ndarray]:
    """What a mode's function takes after the tutorial's (w, b): tangents, a cotangent, a vector."""
    w_dot, b_dot = rng.standard_normal((5, 3)), rng.standard_normal(3)
    return {"jvp": [w_dot, b_dot], "vjp": [np.array(0.7)], "hvp": [w_dot, b_dot]}.get(mode, [])


@pytest.mark.parametrize("mode", [*cli_target.MODES, "function"])
def test_every_mode_exports_what_inspect_builds(mode: str, capsys: pytest.CaptureFixture) -> None:
    """The module `symgrad export` prints computes what `symgrad inspect` shows for the same
    arguments (whose values tests/test_cli_inspect.py checks against finite differences), and
    `--mode function` the loss itself."""
    specs = [s.replace("f32", "f64") for s in TUTORIAL_SPECS]
    wrt = [] if mode == "function" else ["--wrt", "w,b"]
    assert cli.main(["export", f"{TUTORIAL_FILE}:loss", *(f"--arg={s}" for s in specs), "--mode", mode,
                     *wrt]) == 0
    text, err = capsys.readouterr()
    assert err == ""
    assert_every_statement_has_an_origin(text)
    rng = np.random.default_rng(5)
    args = [*tutorial_args(np.float64), *extra_arguments(mode, rng)]
    got = imported(text)[function_name(text)](*args)
    if mode == "function":
        x, y, w, b = args
        z = x @ w + b
        np.testing.assert_allclose(got, np.mean(np.logaddexp(0, z) - y * z), rtol=1e-14)
        return
    fn = cli_target.load_target(f"{TUTORIAL_FILE}:loss")
    result = cli_target.build_for(mode, fn, cli_target.example_args(fn, specs), ["w", "b"])
    assert function_name(text) == f"{mode}_loss"
    want = result.built.fn(*args)  # the generated function: the leaves, flat
    for g, e in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, e)


ERRORS = [
    (["nowhere.py:loss"], 4, "no such file: nowhere.py"),
    ([f"{TUTORIAL_FILE}:nothing", "--arg", "x=f32[5]"], 5, "has no function 'nothing'"),
    ([f"{TUTORIAL_FILE}:loss", "--arg", "x=f32(5)"], 6, "is not NAME=DTYPE[SHAPE]"),
    ([f"{TUTORIAL_FILE}:loss", *[a for s in TUTORIAL_SPECS for a in ("--arg", s)], "--wrt", "q"], 7,
     "--wrt 'q' is not a parameter of loss"),
    ([f"{TUTORIAL_FILE}:loss", *[a for s in TUTORIAL_SPECS for a in ("--arg", s)], "--arg", "q=f32[1]"], 7,
     "loss takes no argument 'q'"),
    ([f"{TUTORIAL_FILE}:loss", "--arg", "x=f32[4]", *[a for s in TUTORIAL_SPECS[1:] for a in ("--arg", s)]],
     9, "cannot trace loss: ShapeError: matmul: shapes (4,) and (5, 3) cannot be multiplied"),
]


@pytest.mark.parametrize("argv, code, message", ERRORS)
def test_bad_input_is_what_inspect_says_with_its_exit_code(argv: list[str], code: int, message: str,
                                                           capsys: pytest.CaptureFixture) -> None:
    """One reading of TARGET and --arg: export fails as inspect does, one line, the same status."""
    assert cli.main(["export", *argv]) == code
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("symgrad: error: ") and message in err, err
    assert cli.main(["inspect", *argv]) == code
    assert capsys.readouterr().err == err


def test_export_errors_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "branchy.py").write_text("def f(x):\n    if x.sum() > 0:\n        return x.sum()\n"
                                         "    return -x.sum()\n")
    (tmp_path / "vector.py").write_text("import numpy as np\n\ndef f(x):\n    return np.tanh(x)\n")
    (tmp_path / "big.py").write_text("import numpy as np\nC = np.linspace(0, 1, 3000)\n\n"
                                     "def f(x):\n    return np.sum(np.sin(C * x[0]))\n")
    tutorial = [f"{TUTORIAL_FILE}:loss", *(f"--arg={s}" for s in TUTORIAL_SPECS)]
    cases = [
        ([f"{tmp_path / 'branchy.py'}:f", "--arg", "x=f64[3]"], 9, "branchy.py:2: if x.sum() > 0:"),
        ([f"{tmp_path / 'vector.py'}:f", "--arg", "x=f64[3]", "--mode", "hessian"], 8,
         "--mode hessian needs a scalar output, but f returns f64[3]"),
        ([*tutorial, "--mode", "function", "--wrt", "w"], 2, "--wrt does not apply to --mode function"),
        ([*tutorial, "--mode", "nope"], 2, "invalid choice: 'nope'"),
        ([f"{tmp_path / 'big.py'}:f", "--arg", "x=f64[1]"], 2, "is too large to write as a literal"),
        ([*tutorial, "-o", str(tmp_path / "no" / "g.py")], 2,
         f"-o {tmp_path / 'no' / 'g.py'}: cannot write: No such file or directory"),
    ]
    for argv, code, message in cases:
        assert cli.main(["export", *argv]) == code, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err, (argv, err)
    assert cli.main(["export", *cases[0][0], "--debug"]) == 9
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_export_help_lists_every_mode_and_the_exit_codes() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    help_text = subprocess.run([sys.executable, "-m", "symgrad.cli", "export", "--help"], capture_output=True,
                               text=True, env=env, timeout=60).stdout
    for flag in ("--arg", "--mode", "--wrt", "--output", "--debug", *cli_target.MODES, "function"):
        assert flag in help_text, flag
    for code, what in cli_target.EXIT_CODES.items():
        assert re.search(rf"^\s+{code}\s+{re.escape(what[:20])}", help_text, re.M), (code, help_text)


# ---------------------------------------------------------------- 4. in a venv without symgrad

def _venv_python() -> Path:
    """The venv's python (made on first use: python -m venv, pip install numpy), or a skip."""
    python = VENV / "bin" / "python"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    if not (VENV / "numpy-ready").exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy"], check=True,
                           capture_output=True, timeout=600, env=env)
        except (subprocess.SubprocessError, OSError) as e:
            detail = getattr(e, "stderr", b"") or b""
            pytest.skip(f"cannot make a venv with NumPy at {VENV} (python -m venv, then pip install numpy, "
                        f"failed: {e}; {detail.decode(errors='replace')[-300:]})")
        (VENV / "numpy-ready").write_text("numpy installed\n")
    return python


RUNNER = textwrap.dedent("""
    import importlib.util, json, sys
    import numpy as np
    for job in json.load(open(sys.argv[1])):
        spec = importlib.util.spec_from_file_location("exported", job["module"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        saved = np.load(job["inputs"])
        out = getattr(module, job["function"])(*[saved[f"arg{i}"] for i in range(len(saved.files))])
        np.savez(job["outputs"], *(out if isinstance(out, tuple) else (out,)))
""")


def test_exported_modules_run_in_a_venv_without_symgrad(tmp_path: Path) -> None:
    python = _venv_python()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}  # no PYTHONPATH
    probe = subprocess.run([str(python), "-c", "import symgrad"], capture_output=True, text=True,
                           cwd=tmp_path, env=env, timeout=60)
    assert probe.returncode != 0 and "No module named 'symgrad'" in probe.stderr, probe
    jobs, expected = [], {}
    for name, (_, make_args, _) in FUNCTIONS.items():
        args = make_args()
        for mode, f in transforms(name).items():
            key = f"{name}_{mode}"
            text = f.export(*args, path=tmp_path / f"{key}.py")
            np.savez(tmp_path / f"{key}_in.npz", **{f"arg{i}": a for i, a in enumerate(args)})
            jobs.append({"module": str(tmp_path / f"{key}.py"), "function": function_name(text),
                         "inputs": str(tmp_path / f"{key}_in.npz"),
                         "outputs": str(tmp_path / f"{key}_out.npz")})
            expected[key] = leaves(f(*args))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "runner.py").write_text(RUNNER)
    run = subprocess.run([str(python), "runner.py", "jobs.json"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    for key, want in expected.items():
        got = np.load(tmp_path / f"{key}_out.npz")
        assert len(got.files) == len(want), key
        for k, e in enumerate(want):
            np.testing.assert_allclose(got[f"arr_{k}"], e, rtol=1e-12, atol=1e-14, err_msg=key)
    assert standalone.LITERAL_MAX >= PICK.size  # the index constant travelled as a literal


# ---------------------------------------------------------------- 5. examples/compile_logreg.py

def test_the_compile_logreg_example_prints_both_speeds_quickly() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "compile_logreg.py")], capture_output=True,
                         text=True, env=env, timeout=60)
    assert run.returncode == 0 and not run.stderr, run.stderr
    assert time.perf_counter() - start < 20
    out = run.stdout
    compiled = re.search(r"^compiled value_and_grad: +(\d+\.\d) us/step +final loss (\d\.\d+) +\(first call: "
                         r"\d+\.\d ms to trace and generate\)$", out, re.M)
    eager = re.search(r"^eager mode: +(\d+\.\d) us/step +final loss (\d\.\d+)$", out, re.M)
    ratio = re.search(r"^compiled is (\d+\.\d)x faster per step; the weights agree to (\S+)$", out, re.M)
    assert compiled and eager and ratio, out
    assert compiled[2] == eager[2] and float(compiled[2]) < 0.6  # the same trained model, better than chance
    assert float(ratio[2]) < 1e-12
    assert float(ratio[1]) == pytest.approx(float(eager[1]) / float(compiled[1]), rel=0.05)
