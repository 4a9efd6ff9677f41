"""`symgrad inspect` in every mode and with every flag, on the tutorial and on functions of
our own (a file target and a module target): what it prints is what the transforms compute
(checked against central differences in float64), golden listings and source, DOT, JSON
against its schema, and each error's line and exit code."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numeric import difference_columns, differences

from symgrad.cli import main, report
from symgrad.cli.target import EXIT_CODES, MODES, build_for, example_args, load_target

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
TUTORIAL = str(ROOT / "examples" / "autograd_tutorial.py")
ARGS = ["--arg", "x=f32[5]", "--arg", "y=f32[3]", "--arg", "w=f32[5,3]", "--arg", "b=f32[3]"]
ARGS64 = [a.replace("f32", "f64") for a in ARGS]

# functions of our own, written unlike the tutorial: NumPy calls, a default, a slice, an
# integer argument, a vector output, a method on a class
OWN = '''\
import numpy as np


def rosen(x, a=1.0, b=100.0):
    r = x[1:] - x[:-1] ** 2
    return np.sum(b * r ** 2 + (a - x[:-1]) ** 2)


def softmax(z, t):
    e = np.exp(z / t)
    return e / e.sum()


def picks(x, idx):
    return (x[idx] ** 2).sum()


def branchy(x):
    if x.sum() > 0:
        return x.sum()
    return -x.sum()


def shapes(x):
    y = x.reshape(7, 2)
    return y.sum()


def mlp(params, layers, x):
    h = np.tanh(x @ params["W"] + params["b"])
    w, c = layers
    return ((h @ w + c) ** 2).sum()


class Model:
    @staticmethod
    def energy(q):
        return np.tanh(q).sum() * 0.5
'''
BROKEN = "import numpy as np\nraise RuntimeError('no GPU here')\n"
PACKAGE = '''\
import symgrad as torch


def mse(pred, target):
    d = pred - target
    return (d * d).mean()
'''


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """Our own functions' file."""
    path = tmp_path_factory.mktemp("own") / "own_losses.py"
    path.write_text(OWN)
    return str(path)


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `inspectpkg_<n>.losses` importable from the current directory, as
    `package.module:func` targets are."""
    name = f"inspectpkg_{tmp_path.name.replace('-', '_')}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "losses.py").write_text(PACKAGE)
    monkeypatch.chdir(tmp_path)
    yield name
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- references in float64

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tutorial_loss(x, y, w, b):
    z = x @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def tutorial_grad(x, y, w, b):
    dz = (sigmoid(x @ w + b) - y) / 3
    return np.outer(x, dz), dz


@pytest.fixture(scope="module")
def point():
    rng = np.random.default_rng(3)
    return [rng.standard_normal(s) for s in ((5,), (3,), (5, 3), (3,))]


def built_for(mode, target, specs, wrt):
    fn = load_target(target)
    args = example_args(fn, specs)
    return build_for(mode, fn, args, wrt)


def specs(argv):
    return argv[1::2]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_on_the_tutorial_computes_what_finite_differences_give(mode, point, capsys):
    result = built_for(mode, f"{TUTORIAL}:loss", specs(ARGS64), ["w", "b"])
    x, y, w, b = point
    rng = np.random.default_rng(4)
    w_dot, b_dot = rng.standard_normal((5, 3)), rng.standard_normal(3)
    gw, gb = differences(tutorial_loss, point, (2, 3))
    extra = {"jvp": [w_dot, b_dot], "vjp": [np.array(0.7)], "hvp": [(w_dot, b_dot)]}.get(mode, [])
    arrays = [x, y, w, b, *(e for item in extra for e in (item if isinstance(item, tuple) else (item,)))]
    out = result.built.fn(*arrays)
    if mode in ("grad", "jacobian"):
        expected = [gw, gb]
    elif mode == "value_and_grad":
        expected = [tutorial_loss(*point), gw, gb]
    elif mode == "vjp":
        expected = [0.7 * gw, 0.7 * gb]
    elif mode == "jvp":
        expected = [tutorial_loss(*point), np.sum(gw * w_dot) + np.sum(gb * b_dot)]
    else:  # the Hessian, blocks in JAX's order, or its product with (w_dot, b_dot)
        flat = np.concatenate([w.ravel(), b])

        def gradient(v):
            g = tutorial_grad(x, y, v[:15].reshape(5, 3), v[15:])
            return np.concatenate([g[0].ravel(), g[1]])
        hessian = np.stack(difference_columns(gradient, flat), axis=1)
        if mode == "hvp":
            hv = hessian @ np.concatenate([w_dot.ravel(), b_dot])
            expected = [hv[:15].reshape(5, 3), hv[15:]]
        else:
            expected = [hessian[:15, :15].reshape(5, 3, 5, 3), hessian[:15, 15:].reshape(5, 3, 3),
                        hessian[15:, :15].reshape(3, 5, 3), hessian[15:, 15:]]
    assert len(out) == len(expected)
    for got, want in zip(out, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    # and the CLI prints that build's source
    code, printed, err = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS64, "--wrt", "w,b", "--mode", mode,
                             "--show", "source", "--no-color")
    assert code == 0 and err == ""
    assert printed.startswith(f"== generated source ==\n{result.built.source}")
    assert report.steps(result)[-1].source == result.built.source  # the passes rerun one by one agree
    if "# bound when loaded: const0" in result.built.source:  # and what it is bound to
        assert "\n== constants bound when loaded ==\nconst0: " in printed


@pytest.mark.parametrize("mode", ["jacobian", "jvp", "vjp"])
def test_vector_output_modes_on_our_own_function(mode, own):
    result = built_for(mode, f"{own}:softmax", ["z=f64[4]", "t=f64[]"], ["z"])
    rng = np.random.default_rng(5)
    z, t, v = rng.standard_normal(4), np.array(1.3), rng.standard_normal(4)

    def softmax(z):
        e = np.exp(z / t)
        return e / e.sum()
    jac = np.stack(difference_columns(softmax, z), axis=1)
    if mode == "jacobian":
        np.testing.assert_allclose(result.built.fn(z, t), jac, rtol=1e-6, atol=1e-9)
    elif mode == "jvp":
        value, tangent = result.built.fn(z, t, v)
        np.testing.assert_allclose(value, softmax(z), rtol=1e-12)
        np.testing.assert_allclose(tangent, jac @ v, rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_allclose(result.built.fn(z, t, v), v @ jac, rtol=1e-6, atol=1e-9)
    assert result.plan.extra == {"jacobian": [], "jvp": ["z_dot"], "vjp": ["cotangent"]}[mode]


def test_defaults_come_from_the_signature_and_stay_constants(own, capsys):
    code, out, _ = run(capsys, "inspect", f"{own}:rosen", "--arg", "x=f64[4]", "--show", "source")
    assert code == 0 and "def grad_rosen(x):" in out and "200.0" in out  # b=100 folded in
    code, out, _ = run(capsys, "inspect", f"{own}:rosen", "--arg", "x=f64[4]", "--arg", "b=f64[]",
                       "--wrt", "x,a", "--show", "source")
    assert code == 0 and "def grad_rosen(x, a, b):" in out and "return (grad_x, grad_a)" in out
    result = built_for("grad", f"{own}:rosen", ["x=f64[4]"], ["x"])
    x = np.array([0.3, -1.2, 0.8, 1.1])
    rosen = load_target(f"{own}:rosen")
    np.testing.assert_allclose(result.built.fn(x), differences(rosen, [x], (0,))[0], rtol=1e-6)


def test_module_target_and_a_method(package, own, capsys):
    code, out, err = run(capsys, "inspect", f"{package}.losses:mse", "--arg", "pred=f32[4]",
                         "--arg", "target=f32[4]", "--wrt", "pred", "--show", "forward,source")
    assert code == 0 and err == ""
    assert "# losses.py:5  d = pred - target" in out and "def grad_mse(pred, target):" in out
    code, out, _ = run(capsys, "inspect", f"{own}:Model.energy", "--arg", "q=f64[2]", "--show", "source")
    assert code == 0 and "def grad_energy(q):" in out


def test_dotted_args_build_dict_and_tuple_parameters(own, capsys):
    argv = ["--arg", "params.W=f64[3,4]", "--arg", "params.b=f64[4]", "--arg", "layers.0=f64[4,2]",
            "--arg", "layers.1=f64[2]", "--arg", "x=f64[5,3]"]
    code, out, _ = run(capsys, "inspect", f"{own}:mlp", *argv, "--wrt", "params", "--show", "source")
    assert code == 0 and "return (grad_params_W, grad_params_b)" in out
    result = built_for("grad", f"{own}:mlp", argv[1::2], ["params", "layers"])
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in ((3, 4), (4,), (4, 2), (2,), (5, 3))]
    mlp = load_target(f"{own}:mlp")

    def flat(W, b, w, c, x):
        return mlp({"W": W, "b": b}, (w, c), x)
    for got, want in zip(result.built.fn(*arrays), differences(flat, arrays, (0, 1, 2, 3))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    for bad, message in [(["--arg", "params=f64[3]"], "given both whole and by its parts"),
                         (["--arg", "layers.5=f64[2]"], "must be numbered 0, 1, 2...; got 0, 1, 5"),
                         (["--arg", "layers.1=f64[2]"], "--arg 'layers.1' is given twice")]:
        code, _, err = run(capsys, "inspect", f"{own}:mlp", *argv, *bad)
        assert code == 6 and message in err, err


def test_npy_argument_gives_shape_dtype_and_values(tmp_path, own, capsys):
    data = tmp_path / "x.npy"
    np.save(data, np.array([0.5, 1.0, -1.0], dtype=np.float32))
    code, out, _ = run(capsys, "inspect", f"{own}:rosen", "--arg", f"x={data}", "--show", "forward")
    assert code == 0 and "rosen(x: f32[3]) -> f32[]" in out
    fn = load_target(f"{own}:rosen")
    result = build_for("grad", fn, example_args(fn, [f"x={data}"]), ["x"])
    np.testing.assert_array_equal(report.random_inputs(result)[0], np.load(data))  # the file's values


# ---------------------------------------------------------------- sections and flags

def _golden(name, text):
    path = GOLDEN / name
    if os.environ.get("SYMGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with SYMGRAD_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(), f"`symgrad inspect` on the tutorial changed (see {path})"


@pytest.mark.parametrize("mode", ["grad", "hessian"])
def test_tutorial_listing_and_source_match_the_golden_text(mode, capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--mode", mode,
                       "--show", "forward,grad,source")
    assert code == 0
    assert "main(list(argv))" not in out  # ops symgrad adds are not attributed to the caller's line
    _golden(f"inspect_tutorial_{mode}.txt", out)


def test_the_readme_shows_the_real_output_of_both_modes():
    """README's two `symgrad inspect` outputs for the tutorial are the golden text (then the
    pass table, whose milliseconds vary)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```\n(== forward graph.*?)^```$", readme, re.S | re.M)
    assert len(blocks) == 2, "README shows the grad and hessian outputs"
    for block, mode in zip(blocks, ["grad", "hessian"]):
        shown, _, table = block.partition("\n== passes ==\n")
        assert shown == (GOLDEN / f"inspect_tutorial_{mode}.txt").read_text(), mode
        assert table.startswith("pass          nodes before  nodes after  numpy calls       ms\n"), mode


def test_forward_graph_is_the_function_alone_in_its_dtypes(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--show", "forward")
    listing = out.split("\n", 1)[1]
    assert out.startswith("== forward graph: loss(x: f32[5], y: f32[3], w: f32[5,3], b: f32[3]) -> f32[] ==")
    assert "f64" not in listing and "alias" not in listing and "sigmoid" not in listing
    assert "# autograd_tutorial.py:15  z = torch.matmul(x, w) + b" in listing
    # the joint graph is forward and backward, before the passes: longer, with gradient lines
    code, joint, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--show", "joint")
    assert joint.startswith("== joint graph: loss and its gradient with respect to w, b, before the passes")
    assert "# grad of line 16" in joint and joint.count("\n") > out.count("\n")


def test_gradient_nodes_are_told_from_forward_ones(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--show", "grad",
                       "--format", "json")
    nodes = json.loads(out)["graphs"]["grad"]["nodes"]
    part = {n["op"]: n["part"] for n in nodes}
    assert part["matmul"] == part["add"] == "forward"
    assert part["sigmoid"] == part["sub"] == "gradient"
    lines = {n["op"]: n["line"] for n in nodes}
    assert lines["matmul"] == {"file": "autograd_tutorial.py", "line": 15,
                               "code": "z = torch.matmul(x, w) + b"}


def test_stats_table_counts_nodes_and_numpy_calls_per_pass(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--show", "source,stats")
    source = out.split("== generated source ==\n")[1].split("== passes ==")[0]
    table = out.split("== passes ==\n")[1].strip().splitlines()
    assert table[0].split() == ["pass", "nodes", "before", "nodes", "after", "numpy", "calls", "ms"]
    rows = [line.split() for line in table[1:-1]]
    assert [r[0] for r in rows] == ["traced", "fold", "stability", "algebra", "contraction", "sympy",
                                    "algebra", "dce"]
    assert len({len(line) for line in [table[0], *table[2:-1]]}) == 1, table  # the columns line up
    for prev, row in zip(rows, rows[1:]):
        assert int(row[1]) == int(prev[1] if prev[0] == "traced" else prev[2])  # before = previous after
    # the last row's NumPy calls are the printed source's:
    # @, +, exp, -(...), logaddexp, -c, - y, 0.33 *, x[:, None] *
    assert int(rows[-1][3]) == report.numpy_calls(source.strip()) == 9
    assert re.match(r"compile \(first call\): [0-9.]+ ms, of which the passes [0-9.]+ ms", table[-1])


def test_passes_and_no_simplify(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "b", "--passes", "fold,dce",
                       "--show", "grad,stats")
    assert code == 0 and "Gradient of loss with respect to b, after fold,dce" in out
    assert [line.split()[0] for line in out.split("== passes ==\n")[1].splitlines()[1:4]] == \
        ["traced", "fold", "dce"]
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "b", "--no-simplify",
                       "--show", "source,stats")
    assert code == 0 and "    i = h / 3\n" in out and "broadcast_to(j, (3,))" in out  # the loss, dead: no dce
    assert out.split("== passes ==\n")[1].splitlines()[1].split()[0] == "traced"
    code, _, err = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--no-simplify", "--passes", "dce")
    assert code == 2 and "exclude each other" in err


def test_diff_shows_each_pass_change_to_the_source(capsys):
    argv = ["inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--show", "source"]
    code, out, _ = run(capsys, *argv, "--diff")
    assert code == 0
    diff = out.split("== the source, pass by pass ==\n")[1]
    assert "--- before fold\n+++ after fold\n" in diff and "(sympy: no change)" in diff
    final = out.split("== generated source ==\n")[1].split("== the source, pass by pass ==")[0]
    _, traced, _ = run(capsys, *argv, "--no-simplify")
    traced = traced.split("== generated source ==\n")[1]
    chunks = re.split(r"^--- before \w+\n", diff, flags=re.M)[1:]
    first, last = chunks[0], chunks[-1].split("\n(")[0]
    removed = [line[1:] for line in first.splitlines() if line.startswith("-")]
    added = [line[1:] for line in last.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed and all(line in traced.splitlines() for line in removed)  # fold starts from the trace
    assert added and all(line in final.splitlines() for line in added)  # the last change ends at the source
    assert "    grad_b = 0.3333333333333333 * e" in added


def test_bench_times_the_generated_function(capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "stats", "--bench")
    m = re.search(r"steady state: ([0-9.]+) (us|ms) per call \(median of 7 runs of (\d+) calls", out)
    assert code == 0 and m and float(m.group(1)) > 0 and int(m.group(3)) >= 1


def test_output_file_and_no_color(tmp_path, capsys):
    target = tmp_path / "report.txt"
    argv = ["inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "forward,source"]
    code, out, _ = run(capsys, *argv, "-o", str(target))
    assert code == 0 and out == ""
    code, printed, _ = run(capsys, *argv, "--no-color")
    assert target.read_text() == printed and "\x1b[" not in printed


def test_source_is_highlighted_on_a_terminal_only():
    pytest.importorskip("pygments")
    import pty
    argv = [sys.executable, "-m", "symgrad.cli", "inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "source"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    coloured = b"".join(chunks).decode()
    assert "\x1b[" in coloured and "grad_loss" in coloured
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout
    assert "def grad_loss(x, y, w, b):" in piped.stdout


def test_debug_shows_the_traceback(own, capsys):
    code, _, err = run(capsys, "inspect", f"{own}:branchy", "--arg", "x=f64[3]", "--debug")
    assert code == 9 and "Traceback (most recent call last)" in err and "own_losses.py" in err
    assert err.rstrip().splitlines()[-1].startswith("symgrad: error: cannot trace branchy")


# ---------------------------------------------------------------- pictures and JSON

def _dot_is_well_formed(text):
    """Graphviz's own parser where installed, else a structural check: balanced braces,
    every edge between declared nodes, every node labelled with a type."""
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True)
    assert text.startswith("digraph symgrad {") and text.count("{") == text.count("}")
    declared = dict(re.findall(r"^\s*(g\d+n\d+|g\d+out\d+) \[label=\"((?:[^\"\\]|\\.)*)\"", text, re.M))
    edges = re.findall(r"^\s*(\S+) -> (\S+);$", text, re.M)
    assert edges and all(a in declared and b in declared for a, b in edges)
    for node, label in declared.items():
        if "out" not in node:
            assert re.search(r"\\n(f|i|u|c)\d+\[[0-9,]*\]$|\\nbool\[[0-9,]*\]$", label), label
    return declared


@pytest.mark.parametrize("mode", ["grad", "hessian", "jvp"])
def test_dot_draws_forward_and_gradient_parts_distinctly(mode, capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--mode", mode,
                       "--show", "forward,grad", "--format", "dot")
    assert code == 0
    declared = _dot_is_well_formed(out)
    assert "subgraph cluster_forward {" in out and "subgraph cluster_grad {" in out
    assert "subgraph cluster_grad_gradient {" in out and 'label="gradient part"' in out
    assert '[label="a = matmul\\nf32[3]"' in out
    gradient = out.split("subgraph cluster_grad_gradient {")[1].split("}")[0]
    assert 'fillcolor="#fbd9b4"' in gradient and "#dbe9f6" not in gradient
    assert len(declared) > 10


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_svg_and_png_need_graphviz(fmt, tmp_path, capsys):
    target = tmp_path / f"graph.{fmt}"
    code, out, err = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--format", fmt, "-o", str(target))
    if shutil.which("dot") is None:
        assert code == 3 and err.count("\n") == 1 and "install Graphviz" in err and not target.exists()
    else:
        assert code == 0
        head = target.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in target.read_bytes()


def _validate(doc):
    schema = json.loads(report.SCHEMA.read_text())
    try:
        import jsonschema
    except ImportError:  # a structural check of what the schema requires
        assert set(schema["required"]) <= set(doc) and set(doc) <= set(schema["properties"])
        node_keys = set(schema["$defs"]["node"]["required"])
        for graph in doc["graphs"].values():
            assert all(set(n) == node_keys for n in graph["nodes"])
        return
    jsonschema.validate(doc, schema)


@pytest.mark.parametrize("mode", MODES)
def test_json_is_one_document_valid_against_the_schema(mode, capsys):
    code, out, _ = run(capsys, "inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "w,b", "--mode", mode,
                       "--show", "forward,joint,grad,source,stats", "--format", "json",
                       *(["--diff", "--bench"] if mode == "grad" else []))
    assert code == 0
    doc = json.loads(out)
    _validate(doc)
    assert doc["mode"] == mode and doc["wrt"] == ["w", "b"]
    assert set(doc["graphs"]) == {"forward", "joint", "grad"}
    assert doc["source"].startswith("# symgrad ")
    ids = {n["id"] for n in doc["graphs"]["grad"]["nodes"]}
    assert set(doc["graphs"]["grad"]["outputs"]) <= ids
    assert [p["name"] for p in doc["stats"]["passes"]][0] == "traced"
    if mode == "grad":
        assert doc["bench"]["seconds_per_call"] > 0 and doc["diff"][0]["pass"] == "fold"


def test_the_schema_rejects_a_wrong_document():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(report.SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"format": 1, "mode": "grad"}, schema)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("argv, code, message", [
    (["inspect", "no/such/file.py:f"], 4, "no such file: no/such/file.py"),
    (["inspect", "no_such_package_xyz.losses:f"], 4, "no such module: no_such_package_xyz.losses"),
    (["inspect", f"{TUTORIAL}:nope", *ARGS], 5, "has no function 'nope' (its functions: loss, main)"),
    (["inspect", TUTORIAL, *ARGS], 2, "is not FILE:FUNC or MODULE:FUNC"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[5"], 6, "is not NAME=DTYPE[SHAPE] or NAME=FILE.npy"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f16[5]"], 6, "unknown dtype 'f16'"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=missing.npy"], 6, "cannot read missing.npy"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[5]", "--arg", "x=f32[5]"], 6, "given twice"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[5]"], 7, "missing --arg for parameter 'y'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--arg", "q=f32[1]"], 7, "loss takes no argument 'q'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--wrt", "v"], 7, "--wrt 'v' is not a parameter of loss"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--show", "nope"], 2, "--show 'nope' is not one of"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--passes", "nope"], 2, "unknown pass 'nope'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--mode", "nope"], 2, "invalid choice: 'nope'"),
    (["inspect", f"{TUTORIAL}:loss", *ARGS, "--format", "dot", "--show", "source"], 2, "--format dot draws"),
    (["inspect", f"{TUTORIAL}:loss", "--arg", "x=f32[4]", *ARGS[2:]], 9,
     "cannot trace loss: ShapeError: matmul: shapes (4,) and (5, 3) cannot be multiplied"),
    (["inspect", "--bogus"], 2, "the following arguments are required: TARGET"),
])
def test_bad_input_is_one_line_with_its_exit_code(capsys, argv, code, message):
    got, out, err = run(capsys, *argv)
    assert got == code and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def line(code):
    """The line number of `code` in our own functions' file."""
    return next(i for i, text in enumerate(OWN.splitlines(), 1) if text.strip() == code)


def test_errors_of_our_own_functions(own, tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    cases = [
        ([f"{broken}:f"], 10, "cannot import"),
        ([f"{own}:softmax", "--arg", "z=f32[4]", "--arg", "t=f32[]", "--mode", "hessian"], 8,
         "--mode hessian needs a scalar output, but softmax returns f32[4]; use --mode jacobian"),
        ([f"{own}:picks", "--arg", "x=f64[5]", "--arg", "idx=i64[2]", "--wrt", "idx"], 8,
         "'idx' is i64[2]"),
        ([f"{own}:branchy", "--arg", "x=f64[3]"], 9, f"own_losses.py:{line('if x.sum() > 0:')}: if x.sum()"),
        ([f"{own}:shapes", "--arg", "x=f64[3]"], 9,
         f"ShapeError: reshape: cannot reshape shape (3,) (3 elements) into (7, 2) "
         f"(at own_losses.py:{line('y = x.reshape(7, 2)')}: y = x.reshape(7, 2))"),
    ]
    for argv, code, message in cases:
        got, out, err = run(capsys, "inspect", *argv)
        assert got == code and out == "" and err.count("\n") == 1 and message in err, (argv, err)
    assert "RuntimeError: no GPU here" in run(capsys, "inspect", f"{broken}:f")[2]


def test_exit_codes_are_distinct_and_documented():
    assert len(EXIT_CODES) == len(set(EXIT_CODES.values()))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    help_text = subprocess.run([sys.executable, "-m", "symgrad.cli", "inspect", "--help"],
                               capture_output=True, text=True, env=env).stdout
    for flag in ("--arg", "--mode", "--wrt", "--show", "--passes", "--no-simplify", "--diff", "--bench",
                 "--format", "--output", "--no-color", "--debug"):
        assert flag in help_text
    for code, what in EXIT_CODES.items():
        assert re.search(rf"^\s+{code}\s+{re.escape(what[:20])}", help_text, re.M), (code, help_text)
    readme = (ROOT / "README.md").read_text()
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", readme, re.M), f"README does not document exit code {code}"
