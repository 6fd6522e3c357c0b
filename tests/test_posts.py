"""The sister posts (tf1_lstm.posts): each port's model against its post's figures, torch-only
stand-ins for torchvision held to torchvision's documented semantics on fixed inputs, seeded
runs that repeat bit for bit, `report --posts` end to end, and the refusals.

The ports run in their own environments (./run setup --env torch2.13.0, ./run setup --tf
2.15.1); .ci/run sets both up and names them in TF1_LSTM_TEST_TORCH and TF1_LSTM_TEST_TF2, which
makes their absence a failure rather than a skip.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tf1_lstm import posts
from tf1_lstm.core import records
from tf1_lstm.studies import engine
from tf1_lstm.studies.sections import posts as section
from tf1_lstm.studies.verdicts import causes, claims
from tf1_lstm.util import tfenvs

from conftest import DATA_DIR, REPO, Cli, in_env, one_line, python_of, run_cli, run_post

# --- each port against its post ---------------------------------------------------------------

SHAPES = """
import importlib, json
from tf1_lstm import posts
from tf1_lstm.posts import run
found = {}
for post in posts.POSTS:
    if post.env != %r:
        continue
    port = importlib.import_module("tf1_lstm.posts." + post.module)
    model = port.build(post.id)
    try:
        import torch
        out = tuple(model(torch.zeros(3, 28, 28)).shape)
    except ImportError:
        import numpy as np
        out = tuple(model(np.zeros((3, 28, 28), np.float32)).shape)
    found[post.id] = [run.parameters(model), list(out)]
print(json.dumps(found))
"""


@pytest.mark.fast
def test_every_port_gives_the_runner_its_interface(tmp_path):
    """Each entry's module defines or imports every PORT function (read from its source: its
    framework is not importable here), and posts.port refuses a module that lacks one."""
    import ast
    for post in posts.POSTS:
        with open(os.path.join(REPO, "tf1_lstm", "posts", post.module + ".py")) as f:
            tree = ast.parse(f.read())
        given = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} | {
            alias.asname or alias.name for n in tree.body if isinstance(n, ast.ImportFrom)
            for alias in n.names}
        assert set(posts.PORT) <= given, (post.module, set(posts.PORT) - given)
    package = tmp_path / "copy"
    shutil.copytree(os.path.join(REPO, "tf1_lstm"), str(package / "tf1_lstm"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    (package / "tf1_lstm" / "posts" / "toy.py").write_text("def build(post_id):\n    pass\n")
    done = subprocess.run([sys.executable, "-c", "from tf1_lstm import posts\n"
                           "posts.port(posts.POSTS[0]._replace(module='toy'))"],
                          cwd=str(package), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert done.returncode != 0 and done.stderr.strip().splitlines()[-1].endswith(
        "tf1_lstm.posts.toy is not a port: it lacks seeded, framework, main (see "
        "tf1_lstm.posts.PORT)"), done.stderr


@pytest.mark.parametrize("env", [posts.TORCH_ENV, posts.KERAS_ENV])
def test_each_ports_model_has_its_posts_size_and_output(env):
    """LSTM(28, 128) + Linear(128, 10) = 82,186 parameters in PyTorch: every port's model is
    counted by its own framework, and maps 28 rows of 28 pixels to 10 scores."""
    found = json.loads(in_env(env, SHAPES % env).strip().splitlines()[-1])
    expected = {p.id: p.parameters for p in posts.POSTS if p.env == env}
    assert {k: v[0] for k, v in found.items()} == expected
    assert all(v[1] == [3, 10] for v in found.values()), found
    if env == posts.TORCH_ENV:  # the figures by hand: 4 gates x (input + hidden + 2 biases)
        assert found["000"][0] == 4 * 128 * (28 + 128 + 2) + 128 * 10 + 10 == 82186
        assert found["001"][0] == 4 * 64 * (28 + 64 + 2) + 64 * 10 + 10
        assert found["002"][0] == 4 * 128 * (28 + 128 + 2) + 4 * 128 * (128 + 128 + 2) + 1290


def test_post_001_as_printed_refuses_its_own_batches():
    """The docs quote this error: the loaders' (B, 1, 28, 28) batches fed straight to nn.LSTM."""
    out = in_env(posts.TORCH_ENV, """
import torch
from tf1_lstm.posts.post001 import LSTMNet
try:
    LSTMNet()(torch.zeros(2, 1, 28, 28))
except Exception as err:
    print(type(err).__name__, err)
""")
    assert "Expected input to be 2D or 3D, got 4D instead" in out, out


TORCHVISION_SEMANTICS = """
import json, numpy as np, torch
from torch.utils.data import DataLoader
from tf1_lstm.posts.run import arrays
from tf1_lstm.posts.torchdata import MNIST, Compose, Normalize, ToTensor
pixels = np.array([[0, 255], [51, 128]], np.uint8)
t = ToTensor()(torch.from_numpy(pixels))
by_hand = pixels.astype(np.float32)[None] / np.float32(255)
n = Normalize((0.1307,), (0.3081,))(t)
n_by_hand = (by_hand - np.float32(0.1307)) / np.float32(0.3081)
images, labels, _, _ = arrays(%r, ())
data = MNIST(images, labels, transform=Compose([ToTensor(), Normalize((0.5,), (0.5,))]))
image, label = data[0]
x, y = next(iter(DataLoader(MNIST(images, labels, transform=ToTensor()), batch_size=100)))
print(json.dumps({
    "shape": list(t.shape), "dtype": str(t.dtype),
    "equal": bool((t.numpy() == by_hand).all()),
    "normalized": bool((n.numpy() == n_by_hand).all()),
    "unchanged": bool((t.numpy() == by_hand).all()),
    "item": [type(label).__name__, label, list(image.shape), float(image.min()),
             float(image.max())],
    "first_labels": labels[:5].tolist(),
    "batch": [list(x.shape), str(x.dtype), list(y.shape), str(y.dtype)],
    "len": len(data)}))
"""


def test_the_torchvision_stand_ins_keep_torchvisions_semantics():
    """ToTensor: an 8-bit (H, W) image -> float32 (1, H, W), pixel / 255; Normalize: (x - mean)
    / std per channel on a copy; datasets.MNIST: (transformed image, int label), 60,000 train
    items in file order; DataLoader's default collation: (100, 1, 28, 28) float32, int64."""
    found = json.loads(in_env(posts.TORCH_ENV, TORCHVISION_SEMANTICS % DATA_DIR).splitlines()[-1])
    assert found["shape"] == [1, 2, 2] and found["dtype"] == "torch.float32"
    assert found["equal"] and found["normalized"] and found["unchanged"]
    assert found["item"] == ["int", 5, [1, 28, 28], -1.0, 1.0]
    assert found["first_labels"] == [5, 0, 4, 1, 9] and found["len"] == 60000
    assert found["batch"] == [[100, 1, 28, 28], "torch.float32", [100], "torch.int64"]


# --- seeded runs -----------------------------------------------------------------------------

def numbers_of(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        m = json.load(f)
    return m["test_accuracy"], [dict(p, elapsed=None) for p in m["curve"]], m["tested"]


@pytest.mark.parametrize("post_id", ["000", "004"])
def test_a_post_seeded_twice_gives_the_same_numbers(posts_report, tmp_path, post_id):
    """One seed, one environment, one thread (the default): by hand, the same numbers bit for
    bit as the report's run of that seed (trained through a worker); another seed: other
    numbers (so this can fail). The run records its determinism switches and the command
    that trains it again."""
    runs, home = {}, tmp_path / "home"
    home.mkdir()
    for name, seed in (("a", 0), ("c", 4)):
        out = str(tmp_path / name)
        code, stdout, err = run_post([post_id, "--seed", str(seed), "--epochs", "1",
                                      "--out", out, "--data-dir", DATA_DIR],
                                     env=dict(os.environ, HOME=str(home)))
        assert code == 0, err
        assert "post %s: epoch 1/1 in" % post_id in stdout
        runs[name] = numbers_of(out)
    assert runs["a"] == numbers_of(os.path.join(posts_report, "runs", "post%s-seed0" % post_id))
    assert runs["a"][0] != runs["c"][0] and runs["a"][1] != runs["c"][1]
    assert not os.listdir(str(home))  # no ~/.keras, no cache: nothing outside --out
    with open(str(tmp_path / "a" / "config.json")) as f:
        config = json.load(f)
    post = posts.get(post_id)
    assert config["post"] == {"post": post_id, "epochs": 1} and config["seed"] == 0
    assert config["threads"] == 1
    assert config["command"] == "./run --env %s post %s --seed 0 --epochs 1 --out %s " \
        "--data-dir %s" % (post.env, post_id, tmp_path / "a", DATA_DIR)
    assert config["parameters"] == post.parameters and config["environment"] == post.env
    switches = config["determinism"]  # the seed given to the framework, and its switches on
    assert 0 in switches.values() and True in switches.values()
    assert all(v is True for v in switches.values() if isinstance(v, bool))


def test_a_post_stopped_midway_says_so_and_keeps_its_record(tmp_path):
    """SIGTERM (as a cluster or Ctrl-C stops it): exit 130, one line, status interrupted."""
    out = str(tmp_path / "run")
    python_of(posts.TORCH_ENV)
    proc = subprocess.Popen([os.path.join(REPO, "run"), "--env", posts.TORCH_ENV, "post", "002",
                             "--seed", "0", "--out", out, "--data-dir", DATA_DIR],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(out, "config.json")) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # inside the first epoch
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    line = one_line(proc.returncode, err, expected=130)
    assert "interrupted" in line and out in line
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["status"] == "interrupted"


# --- report --posts --------------------------------------------------------------------------

QUICK_POSTS = ["report", "--posts", "000,004", "--seeds", "1", "--epochs", "1", "--steps", "20",
               "--cells", "lstm", "--no-repeat", "--no-throughput", "--jobs", "2",
               "--data-dir", DATA_DIR]


@pytest.fixture(scope="module")
def posts_report(tmp_path_factory):
    """A quick --posts report: the TF post's LSTM for 20 steps, posts 000 and 004 one epoch."""
    python_of(posts.TORCH_ENV)
    python_of(posts.KERAS_ENV)
    out = str(tmp_path_factory.mktemp("posts") / "report")
    code, _, err = run_cli(QUICK_POSTS + ["--out", out])
    assert code == 0, err
    return out


def test_report_posts_fills_every_row_and_reuses_its_runs(posts_report):
    out = posts_report
    with open(os.path.join(out, "report.json")) as f:
        rows = json.load(f)["posts"]["rows"]
    assert [r["post"] for r in rows] == ["003", "000", "004"]
    assert [r["verdict"] for r in rows] == ["not judged (shortened)"] * 2 + ["no figure claimed"]
    assert rows[1]["length"] == "1 of 10 epochs" and rows[2]["framework"] == "Keras"
    assert all(0.1 < r["measured"]["mean"] <= 1 for r in rows)
    assert rows[1]["fingerprint"]["framework"] == "PyTorch" and rows[1]["fingerprint"]["threads"]
    with open(os.path.join(out, "runs", "post000-seed0", "config.json")) as f:
        config = json.load(f)
    assert config["command"].startswith("./run --env %s post 000 --out " % posts.TORCH_ENV)
    assert "--seed 0 --threads 1 --epochs 1" in config["command"]
    with open(os.path.join(out, "report.md")) as f:
        md = f.read()
    assert "## Three posts, three claims" in md and "| 000 | PyTorch |" in md  # its own count
    assert os.path.isfile(os.path.join(out, "posts.png"))
    code, stdout, err = run_cli(QUICK_POSTS + ["--out", out])  # again: every run is reused
    assert code == 0, err
    assert "3 already finished, 0 to train" in stdout + err


def test_verify_trains_the_posts_runs_again_and_names_a_difference(posts_report, tmp_path):
    """Identical where every compared value is equal (each post's first epoch and, --full,
    its test accuracy); a run that recorded another value (its record sealed so, as a run
    that printed it would be): differs, and with every setting and factor equal, a defect."""
    code, out, err = run_cli(["verify", posts_report, "--runs", "3", "--full"])
    assert code == 0, out + err
    for name in ("lstm-seed0", "post000-seed0", "post004-seed0"):
        assert any(line.startswith(name) and "identical" in line for line in out.splitlines())
    assert "verdict: 3 identical" in out
    edited = str(tmp_path / "edited")
    shutil.copytree(posts_report, edited)
    path = os.path.join(edited, "runs", "post000-seed0", "metrics.json")
    with open(path) as f:
        metrics = json.load(f)
    metrics["curve"][0]["loss"] += 1e-6
    with open(path, "w") as f:
        json.dump(metrics, f)
    seal = records.seal(os.path.dirname(path))
    report = _json(os.path.join(edited, "report.json"))
    report["posts"]["rows"][1]["seals"] = [seal]
    _write(os.path.join(edited, "report.json"), report)
    code, out, err = run_cli(["verify", edited, "--runs", "2"])
    assert code == 1, out + err
    line = [x for x in out.splitlines() if x.startswith("post000-seed0")][0]
    assert "differs at step 600: loss" in line and "not explained by anything recorded" in line


def test_compare_sets_the_posts_side_by_side(posts_report):
    other = os.path.join(REPO, "reports", "intel-tf1.15.5-5seeds-10000steps")
    code, out, err = run_cli(["compare", posts_report, other])
    assert code == 0, err
    lines = out.splitlines()
    # each environment's framework and what its runs recorded (#39, case 11)
    assert "  framework" in out and "PyTorch" in out and "Keras" in out, out
    assert any(x.strip().startswith("pytorch ") and "2.13.0" in x for x in lines), out
    assert not any(x.strip().startswith("tensorflow ") and " None" in x for x in lines), out
    # a 20-step report against a 10,000-step one: no machine verdict (#39, case 5)
    assert "the reports differ in settings (seeds 0 in A, 0,1,2,3,4 in B; steps 20 in A, " \
        "10000 in B" in out, out
    assert any(x.startswith("post 000 verdict") and "not judged (shortened)" in x
               and "absent" in x and x.endswith("<- differs") for x in lines), out
    assert any(x.startswith("post004-seed0 test accuracy") for x in lines), out
    code, out, err = run_cli(["compare", posts_report, posts_report])
    assert code == 0 and "post 004 verdict" in out and "<- differs" not in out, out + err


@pytest.mark.parametrize("args, expected", [
    (["--posts", "--tf", "2.15.1"], "make the --posts section in a report of their own"),
    (["--epochs", "2"], "--epochs shortens the sister posts (and post 002's in --path): add "
                        "--posts or --path"),
    (["--posts", "--dataset", "fashion-mnist"],
     "--dataset fashion-mnist does not apply to the sister posts"),
    (["--posts", "--cells", "rnn"], "--cells rnn does not apply to the sister posts"),
])
def test_report_posts_refuses_what_does_not_apply(tmp_path, args, expected):
    out = str(tmp_path / "r")
    code, _, err = run_cli(["report", "--seeds", "1", "--out", out] + args)
    assert expected in one_line(code, err)
    assert not os.path.exists(os.path.join(out, "runs"))


def test_a_post_outside_its_environment_names_the_command_that_runs_it(tmp_path):
    code, _, err = run_cli(["post", "000", "--out", str(tmp_path / "r")])
    line = one_line(code, err)
    assert "post 000 is a PyTorch program" in line
    assert "./run --env %s post 000" % posts.TORCH_ENV in line


def test_the_run_script_keeps_the_pytorch_environment_to_the_posts():
    proc = subprocess.run([os.path.join(REPO, "run"), "--env", "torch2.13.0", "train"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    line = one_line(proc.returncode, proc.stderr)
    assert "holds PyTorch for the sister posts" in line and "report --posts" in line


@pytest.mark.fast
def test_a_worker_without_the_pytorch_environment_is_told_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(tfenvs.ROOT_ENV, str(tmp_path))
    with pytest.raises(tfenvs.EnvError) as err:
        tfenvs.ready(posts.TORCH_ENV)
    line = str(err.value)
    assert "no PyTorch environment %s" % posts.TORCH_ENV in line
    assert "./run setup --env %s" % posts.TORCH_ENV in line and "about 200 MB" in line


@pytest.mark.fast
def test_environment_names_tell_their_framework():
    assert tfenvs.resolve("torch2.13.0", (tfenvs.TF, tfenvs.TORCH)) == posts.TORCH_ENV
    assert tfenvs.framework(posts.TORCH_ENV) == tfenvs.TORCH
    assert posts.TORCH_ENV not in tfenvs.known()  # --tf offers TensorFlow's only
    with pytest.raises(tfenvs.EnvError, match="no TensorFlow environment 'torch2.13.0'"):
        tfenvs.resolve("torch2.13.0")
    assert tfenvs.name("2.13.0+cpu", "3.11", tfenvs.TORCH) == posts.TORCH_ENV


# --- the rule and the run store, on fixed inputs ---------------------------------------------

@pytest.mark.fast
@pytest.mark.parametrize("accs, shortened, verdict", [
    ([0.9760, 0.9770], False, "reproduced"),        # mean 97.65: 0.42 points under 98.07
    ([0.9750, 0.9752], False, "not reproduced"),    # mean 97.51: 0.56 points under
    ([0.9900], False, "reproduced"),                # above the claim
    ([0.9900], claims.SHORTENED, "not judged (shortened)"),
])
def test_a_posts_claim_is_judged_by_its_printed_rule(accs, shortened, verdict):
    found = claims.figure_claim(0.9807, accs, shortened or None)
    assert found["verdict"] == verdict
    assert "at least the claimed figure minus 0.5 points" in found["rule"]


@pytest.mark.fast
def test_the_title_counts_pages_and_their_programs():
    rows = [{"post": p} for p in ("003", "000", "004")]
    assert section.title({"rows": rows}) == "Three posts, three claims"
    rows += [{"post": "003-comment"}, {"post": "004-stacked"}]
    assert section.title({"rows": rows}) == "Three posts, five programs"


@pytest.mark.fast
def test_a_post_without_a_figure_is_measured_not_judged():
    found = claims.figure_claim(None, [0.98, 0.99])
    assert found["verdict"] == "no figure claimed" and found["gap_points"] is None
    assert found["measured"]["n"] == 2


@pytest.mark.fast
def test_a_post_run_is_reused_only_with_its_post_epochs_and_seed():
    run = section.run_of(posts.get("000"), 2, 1, None)
    config = {"post": {"post": "000", "epochs": 10}, "seed": 2, "threads": 1,
              "environment": posts.TORCH_ENV}
    assert engine.same_settings(config, run)
    assert not engine.same_settings(dict(config, post={"post": "000", "epochs": 1}), run)
    assert not engine.same_settings(dict(config, post={"post": "001", "epochs": 10}), run)
    assert not engine.same_settings(dict(config, seed=3), run)
    assert not engine.same_settings(dict(config, environment=posts.KERAS_ENV), run)


@pytest.mark.fast
def test_a_posts_difference_is_accounted_by_its_frameworks_factors():
    """A sister post's fingerprint names its framework: the factors of that framework decide,
    TensorFlow's are not asked for."""
    same = {"seed": 0}
    torch = {"framework": "PyTorch", "version": "2.13.0+cpu", "git": "g", "cpu_capability":
             "AVX512", "l1d_kib": 48, "l2_kib": 2048, "l3_kib": 1, "cpu_vendor": "GenuineIntel",
             "family_model_stepping": "6/167/1", "threads": 1, "python": "3.11.7",
             "onednn_max_cpu_isa": None, "mkl_cbwr": None, "tf_enable_onednn_opts": None,
             "aten_cpu_capability": None, "omp_num_threads": None, "mkl_num_threads": None}
    assert causes.account(same, same, torch, dict(torch))[0] == causes.DEFECT
    # the variables its framework reads (#39, case 6): set on one side, the difference is named
    verdict, line = causes.account(same, same, torch, dict(torch, onednn_max_cpu_isa="SSE41"))
    assert verdict == causes.EXPECTED and line == "ONEDNN_MAX_CPU_ISA None recorded, SSE41 here"
    # TF_ENABLE_ONEDNN_OPTS is Keras' (TensorFlow 2's), not PyTorch's
    assert causes.account(same, same, torch, dict(torch, tf_enable_onednn_opts="0"))[0] == \
        causes.DEFECT
    older = {k: v for k, v in torch.items() if k != "omp_num_threads"}  # a 0.9.0 record
    verdict, line = causes.account(same, same, older, dict(torch))
    assert verdict == causes.CANNOT_TELL and line.endswith("OMP_NUM_THREADS")
    verdict, line = causes.account(same, same, torch, dict(torch, threads=2))
    assert verdict == causes.EXPECTED and line == "threads 1 recorded, 2 here"
    verdict, line = causes.account(same, same, torch, dict(torch, cpu_capability="AVX2"))
    assert verdict == causes.EXPECTED and "CPU kernels" in line
    lacking = {k: v for k, v in torch.items() if k != "git"}
    verdict, line = causes.account(same, same, torch, lacking)
    assert verdict == causes.CANNOT_TELL and "framework build" in line
    keras = dict(torch, framework="Keras", version="2.15.0", tensorflow="2.15.1")
    del keras["cpu_capability"]
    assert causes.account(same, same, keras, dict(keras))[0] == causes.DEFECT
    verdict, line = causes.account(same, same, keras, dict(keras, tf_enable_onednn_opts="0"))
    assert verdict == causes.EXPECTED and line == "TF_ENABLE_ONEDNN_OPTS None recorded, 0 here"


@pytest.mark.fast
def test_a_long_posts_section_says_so_before_it_starts(capsys):
    """Over an hour of one core at the measured seconds per epoch: one line first; under it,
    nothing."""
    from tf1_lstm.studies.report import ReportOptions
    base = engine.RunSpec(name="", threads=1)
    runs = section.plan(base, section.PostsOptions(posts.IDS[:4], None),
                        ReportOptions(out="x", seeds=5))
    assert len(runs) == 20 and {r.env for r in runs} == {posts.TORCH_ENV, posts.KERAS_ENV}
    line = capsys.readouterr().out
    hours = sum(p.epochs * p.seconds_per_epoch * 5 for p in posts.POSTS[:4]) / 3600
    assert hours > 1 and "report: the sister posts take about %.1f h" % hours in line
    section.plan(base, section.PostsOptions(("000",), 1), ReportOptions(out="x", seeds=1))
    assert capsys.readouterr().out == ""


# --- every record checked before it is believed (#39) -----------------------------------------

def _json(path):
    with open(path) as f:
        return json.load(f)


def _write(path, record):  # as tf1-lstm writes it: only the edited value differs
    with open(path, "w") as f:
        f.write(json.dumps(record, indent=2) + "\n")


def _other(value):
    """Another JSON value in place of `value`."""
    if isinstance(value, bool) or value is None:
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return value[:-1] if value else [0]
    return dict(value, edited=True)


def _copy(report, tmp_path, name="copy"):
    copy = str(tmp_path / name)
    shutil.copytree(report, copy)
    return copy


RUNS = ("lstm-seed0", "post000-seed0", "post004-seed0")


def test_any_edited_field_of_any_run_is_never_believed(posts_report, tmp_path):
    """Every top-level field of config.json and metrics.json of each run (the TF post's and
    two frameworks'), edited one at a time: verify sets that run apart, compare leaves it out
    of every verdict; the same copy untouched is believed."""
    from tf1_lstm.studies.tools import compare, verify
    copy = _copy(posts_report, tmp_path)
    _, found = verify.recorded_runs(copy)
    assert [r.doubt for r in found] == [None] * 3  # untouched: believed
    edits = 0
    for run in RUNS:
        for name in ("config.json", "metrics.json"):
            path = os.path.join(copy, "runs", run, name)
            with open(path, "rb") as f:
                original = f.read()
            for key, value in json.loads(original.decode()).items():
                _write(path, dict(json.loads(original.decode()), **{key: _other(value)}))
                edits += 1
                try:
                    _, found = verify.recorded_runs(copy)
                except records.RecordError as err:  # a value tf1-lstm never writes: refused
                    assert name in str(err), err
                    continue
                finally:
                    with open(path, "wb") as f:
                        f.write(original)
                doubted = [r.spec.name for r in found if r.doubt]
                assert doubted == [run], (run, name, key)
    assert edits > 60
    # compare, once per run: the edited run is counted apart and never in a verdict
    for run in RUNS:
        path = os.path.join(copy, "runs", run, "metrics.json")
        with open(path, "rb") as f:
            original = f.read()
        _write(path, dict(json.loads(original.decode()), test_accuracy=0.99))
        lines = compare.compare(posts_report, copy)
        with open(path, "wb") as f:
            f.write(original)
        apart = [line for line in lines if line.startswith("B: ") and "not believed" in line]
        assert len(apart) == 1 and "%s/metrics.json changed after the run finished" % run \
            in apart[0], lines
        assert not any("as a whole" in line and "identical" in line for line in lines), lines


def test_an_edited_run_is_trained_again_and_kept_aside(posts_report, tmp_path):
    """report resumed over a post run whose config.json says 10 epochs (it trained 1) and a TF
    run whose metrics.json was given 99%: neither is reused, both are moved aside whole
    (nothing deleted) and trained again, to the untouched report's numbers bit for bit."""
    copy = _copy(posts_report, tmp_path)
    config = os.path.join(copy, "runs", "post000-seed0", "config.json")
    _write(config, dict(_json(config), post={"post": "000", "epochs": 10}))
    metrics = os.path.join(copy, "runs", "lstm-seed0", "metrics.json")
    _write(metrics, dict(_json(metrics), test_accuracy=0.99))
    code, out, err = run_cli(QUICK_POSTS + ["--out", copy])
    assert code == 0, err
    moved = [line for line in out.splitlines() if "not believed: moved to" in line]
    assert len(moved) == 2 and "changed after the run finished" in moved[0], out
    assert "3 runs, 1 already finished, 2 to train" in out
    aside = sorted(n for n in os.listdir(os.path.join(copy, "runs")) if ".changed-" in n)
    assert [n.split(".")[0] for n in aside] == ["lstm-seed0", "post000-seed0"]
    assert _json(os.path.join(copy, "runs", aside[0], "metrics.json"))["test_accuracy"] == 0.99
    again, before = _json(os.path.join(copy, "report.json")), \
        _json(os.path.join(posts_report, "report.json"))
    assert again["runs"][0]["test_accuracy"] == before["runs"][0]["test_accuracy"]
    assert again["posts"]["rows"][1]["per_seed"] == before["posts"]["rows"][1]["per_seed"]


def test_verify_counts_an_edited_run_apart_never_as_a_defect(posts_report, tmp_path):
    copy = _copy(posts_report, tmp_path)
    path = os.path.join(copy, "runs", "post000-seed0", "metrics.json")
    _write(path, dict(_json(path), test_accuracy=0.99))
    code, out, err = run_cli(["verify", copy, "--runs", "1", "--full", "--data-dir", DATA_DIR])
    assert code == 1, out + err
    assert "post000-seed0 not believed: %s changed after the run finished" % path in out, out
    assert causes.DEFECT not in out.split("\nrule: ")[0] and "1 identical; 1 not believed" in out


def test_the_claims_table_and_the_posts_table_give_one_verdict(posts_report):
    report = _json(os.path.join(posts_report, "report.json"))
    assert report["claims"][0]["verdict"] == report["posts"]["rows"][0]["verdict"] == \
        claims.SHORTENED
    assert report["claims"][0]["rule"] == report["posts"]["rows"][0]["rule"]


def test_two_posts_into_one_out_at_once_lose_no_run(tmp_path):
    """post takes the run lock train takes: one of two runs into one --out trains; the other
    is one line, and the folder holds the one that said complete."""
    python_of(posts.TORCH_ENV)
    out = str(tmp_path / "r")
    procs = [subprocess.Popen([os.path.join(REPO, "run"), "--env", posts.TORCH_ENV, "post", "000",
                               "--seed", str(seed), "--epochs", "1", "--out", out,
                               "--data-dir", DATA_DIR], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
             for seed in (0, 1)]
    done = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    assert sorted(d[2] for d in done) == [0, 2], done
    winner = [seed for seed, d in zip((0, 1), done) if d[2] == 0][0]
    loser = [d for d in done if d[2] == 2][0]
    line = one_line(2, loser[1])
    assert "is being trained by PID" in line or "already holds files" in line, line
    assert _json(os.path.join(out, "config.json"))["seed"] == winner
    assert _json(os.path.join(out, "metrics.json"))["seed"] == winner
    assert os.path.isfile(os.path.join(out, "seal.json"))


@pytest.mark.parametrize("args, says", [
    (["--posts", "000,000"], "'000,000' names 000 more than once: give each post once"),
    (["--posts", "000", "--epochs", "100000000000"], "must be between 1 and 1000"),
])
def test_report_posts_refuses_a_post_twice_and_absurd_epochs(tmp_path, args, says):
    out = str(tmp_path / "r")
    code, _, err = run_cli(["report", "--seeds", "1", "--out", out] + args)
    assert says in one_line(code, err)
    assert not os.path.exists(out)


def test_post_refuses_absurd_epochs_and_a_keras_error_is_one_line(tmp_path):
    code, _, err = run_post(["000", "--epochs", "100000000000", "--out", str(tmp_path / "a")])
    assert "must be between 1 and 1000" in one_line(code, err)
    python_of(posts.KERAS_ENV)  # TensorFlow's start-up lines come after every refusal, if at all
    code, _, err = run_post(["004", "--data-dir", str(tmp_path / "nowhere"), "--out",
                             str(tmp_path / "b")])
    assert "MNIST files missing from" in one_line(code, err)


def test_verify_under_another_onednn_cap_names_it(posts_report):
    """ONEDNN_MAX_CPU_ISA, which PyTorch's and Keras' oneDNN read, is in each post run's
    fingerprint: a difference under it is expected and named, never a defect."""
    report = _json(os.path.join(posts_report, "report.json"))
    for row in report["posts"]["rows"][1:]:
        assert "onednn_max_cpu_isa" in row["fingerprint"], row["fingerprint"]
    code, out, err = run_cli(["verify", posts_report, "--runs", "2", "--data-dir", DATA_DIR],
                             env_extra={"ONEDNN_MAX_CPU_ISA": "SSE41"})  # the TF run, 000's
    assert "post000-seed0" in out, out
    assert causes.DEFECT not in out.split("\nrule: ")[0], out
    for line in out.splitlines():
        if line.startswith("post") and "differs" in line:
            assert "ONEDNN_MAX_CPU_ISA None recorded, SSE41 here" in line, line


def test_sigterm_to_the_whole_group_mid_run_is_one_line(tmp_path):
    """What `timeout`, SLURM and systemd send: SIGTERM to the process group, client and
    workers alike, at states seen in the output (a run stored; a post training): one line,
    never asyncio's "never retrieved" blocks of the workers' lost connections."""
    python_of(posts.TORCH_ENV)
    for later in (0, 4):  # a TF run stored; a post's epoch under way (where 0.9.0 printed)
        out = str(tmp_path / ("r%d" % later))
        log = str(tmp_path / ("out%d" % later))
        with open(log, "w") as sink:
            proc = Cli(["report", "--posts", "000", "--seeds", "2", "--epochs", "1", "--steps",
                        "20", "--cells", "lstm", "--no-repeat", "--no-throughput",
                        "--data-dir", DATA_DIR, "--out", out], stdout=sink,
                       start_new_session=True)
            deadline = time.time() + 300
            while "lstm-seed1 " not in open(log).read() and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(later)
            os.killpg(proc.pid, signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        assert "interrupted" in one_line(proc.returncode, err, expected=130), later


def test_a_damaged_environment_is_not_marked_ready(tmp_path):
    """A package folder deleted and the stamp gone: pip, which trusts metadata, is satisfied;
    the set-up's import of the framework and NumPy is not (#39, case 10). The environment is a
    hard-linked copy: what is deleted is the copy's names only."""
    source = python_of(posts.TORCH_ENV)
    venv = os.path.dirname(os.path.dirname(source))
    envs = tmp_path / "envs"
    envs.mkdir()
    copy = str(envs / posts.TORCH_ENV)
    subprocess.check_call(["cp", "-al", venv, copy])
    site = next(os.path.join(root, "numpy") for root, dirs, _ in os.walk(os.path.join(copy, "lib"))
                if "numpy" in dirs and root.endswith("site-packages"))
    shutil.rmtree(site)
    os.remove(os.path.join(copy, tfenvs.STAMP))
    proc = subprocess.run([os.path.join(REPO, "run"), "setup", "--env", posts.TORCH_ENV],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, **{tfenvs.ROOT_ENV: str(envs)}), timeout=600)
    lines = [x for x in proc.stderr.splitlines() if not x.startswith("run: setting up")]
    line = one_line(proc.returncode, "\n".join(lines))
    assert "cannot import its framework" in line and "No module named 'numpy'" in line, line
    assert "rm -r %s && ./run setup --env %s" % (copy, posts.TORCH_ENV) in line, line
    assert not os.path.exists(os.path.join(copy, tfenvs.STAMP))
    assert os.path.isdir(os.path.join(venv, os.path.relpath(site, copy)))  # the original: whole
