"""The post's program on TensorFlow 2 (tf.compat.v1): the same lines and files as on 1.15.5, the
same initial weights under --init-from tf1.15.5, and a version report through the engine.

These need a TF 2 environment (`./run setup --tf 2.15.1`); .ci/run sets one up and names it
in TF1_LSTM_TEST_TF2, which makes its absence a failure rather than a skip.
"""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tf1_lstm.core import cells
from tf1_lstm.core import model as model_lib
from tf1_lstm.core.training import RunConfig
from tf1_lstm.studies import markdown
from tf1_lstm.util import tfenvs

from conftest import REPO, TF2, TF2_PYTHON, assert_no_traceback, on_37, one_line, run_cli, tf2_cli
from dask_cluster import cluster, tagged_env

ON_37 = on_37("each environment trains on its own Python, whichever suite starts it")

if TF2_PYTHON is None and not os.environ.get("TF1_LSTM_TEST_TF2"):
    pytestmark = pytest.mark.skip(reason="needs the %s environment: ./run setup --tf %s"
                                  % (TF2, TF2))


def shape_of(text):
    """The log's lines with every number replaced: what kind of lines they are."""
    return [re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", line) for line in text.splitlines()
            if line.startswith(("tf1-lstm train", "Extracting", "train accuracy", "test accuracy"))]


def files_of(run_dir):
    found = set()
    for root, _, names in os.walk(run_dir):
        found |= {os.path.relpath(os.path.join(root, n), run_dir) for n in names}
    return found


@pytest.mark.parametrize("text", [TF2, TF2[2:TF2.index("-py")], "1.15.5", tfenvs.DEFAULT])
def test_the_run_script_resolves_a_name_as_tfenvs_does(text):
    """./run resolves --tf in bash (it runs before any venv exists): the same rule as Python's."""
    proc = subprocess.run(["./run", "setup", "--tf", text], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert_no_traceback(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    ready = proc.stdout.splitlines()[-1]
    if tfenvs.resolve(text) == tfenvs.DEFAULT:
        assert re.match(r"run: \S+ is ready$", ready), ready  # the project's own venv
    else:
        assert ready.endswith("(TensorFlow environment %s)" % tfenvs.resolve(text)), ready


@on_37("TF 2 trains in its own environment whichever suite starts it, and the 3.6 "
       "suite's own lines and files are test_train's")
def test_tf2_trains_with_the_same_lines_and_files(tmp_path):
    args = ["train", "--steps", "201", "--seed", "0", "--checkpoint-every", "100"]
    code, out1, err1 = run_cli(args + ["--out", str(tmp_path / "tf1")])
    assert code == 0, err1
    proc = tf2_cli(args + ["--out", str(tmp_path / "tf2")])
    assert proc.returncode == 0, proc.stderr
    assert shape_of(proc.stdout) == shape_of(out1) and len(shape_of(out1)) == 8
    assert files_of(str(tmp_path / "tf2")) == files_of(str(tmp_path / "tf1"))
    records = []
    for name in ("tf1", "tf2"):
        with open(str(tmp_path / name / "config.json")) as f:
            config = json.load(f)
        with open(str(tmp_path / name / "metrics.json")) as f:
            metrics = json.load(f)
        records.append((config, metrics))
    (c1, m1), (c2, m2) = records
    assert set(c1) == set(c2) and set(m1) == set(m2)
    assert c1["environment"] == tfenvs.name(tf.__version__)
    assert c2["environment"] == TF2 and c2["tf"]["api"] == "tensorflow.compat.v1"
    assert c1["tf"]["api"] == "tensorflow" and c1["tf"]["onednn"] is False
    assert c2["parameters"] == c1["parameters"] == 108910


@ON_37
def test_tf2_runs_evaluate_on_its_own_run(tmp_path):
    run_dir = str(tmp_path / "run")
    assert tf2_cli(["train", "--steps", "20", "--seed", "1", "--out", run_dir]).returncode == 0
    proc = tf2_cli(["evaluate", run_dir])
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout


@ON_37
def test_tf2_refuses_the_contrib_kernels_in_one_line(tmp_path):
    proc = tf2_cli(["train", "--steps", "5", "--impl", "block", "--out", str(tmp_path / "r")])
    line = one_line(proc.returncode, proc.stderr)
    assert "tf.contrib kernels" in line and "--impl basic" in line


DUMP = """import sys, numpy as np
from tf1_lstm.core import model, tfcompat
from tf1_lstm.core.training import RunConfig
tf = tfcompat.import_tensorflow()
out = {}
for cell in ("lstm", "rnn"):
    with tf.Graph().as_default():
        tf.set_random_seed(int(sys.argv[2]))
        m = model.build(RunConfig(cell=cell, init_from=sys.argv[3]))
        with tf.Session() as s:
            s.run(m.init)
            out.update({cell + ":" + v.op.name: s.run(v) for v in tf.trainable_variables()})
np.savez(sys.argv[1], **out)
"""


def initial_weights(seed, init_from):
    found = {}
    for cell in ("lstm", "rnn"):
        with tf.Graph().as_default():
            tf.set_random_seed(seed)
            m = model_lib.build(RunConfig(cell=cell, init_from=init_from))
            with tf.Session() as sess:
                sess.run(m.init)
                found.update({cell + ":" + v.op.name: sess.run(v)
                              for v in tf.trainable_variables()})
    return found


def test_the_op_seeds_are_the_ones_1155_derives():
    """The op seeds core.cells records against the graph itself (on 1.15.5: the default
    graph)."""
    measured = [c for c in cells.CELLS if c.op_seeds]
    assert [c.name for c in measured] == ["lstm", "rnn"]
    for cell, seeds in ((c.name, c.op_seeds) for c in measured):
        with tf.Graph().as_default() as graph:
            tf.set_random_seed(7)
            model_lib.build(RunConfig(cell=cell))
            found = tuple(op.get_attr("seed2") for op in graph.get_operations()
                          if op.type == "RandomUniform")
        assert found == seeds


def test_init_from_1155_leaves_the_1155_graph_as_it_is():
    defs = []
    for init_from in ("own", "tf1.15.5"):
        with tf.Graph().as_default() as graph:
            tf.set_random_seed(0)
            model_lib.build(RunConfig(init_from=init_from))
            defs.append(graph.as_graph_def().SerializeToString(deterministic=True))
    assert defs[0] == defs[1]


@ON_37
def test_tf2_draws_other_weights_unless_started_from_1155s(tmp_path):
    ours = initial_weights(3, "own")
    for init_from, same in (("own", False), ("tf1.15.5", True)):
        path = str(tmp_path / ("%s.npz" % init_from))
        proc = subprocess.run([TF2_PYTHON, "-c", DUMP, path, "3", init_from], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        with np.load(path) as theirs:
            assert set(theirs.files) == set(ours)
            equal = {k: np.array_equal(theirs[k], ours[k]) for k in ours}
        kernels = [k for k in ours if k.endswith(("kernel", "weights"))]
        assert all(equal[k] == same for k in kernels), (init_from, equal)
        assert all(equal[k] for k in ours if k.endswith(("bias", "biases")))  # zeros


@ON_37
def test_a_version_report_trains_each_environment_and_judges_it(tmp_path):
    out = str(tmp_path / "r")
    args = ["report", "--tf", "1.15.5,%s" % TF2, "--seeds", "2", "--cells", "lstm",
            "--steps", "41", "--no-repeat", "--no-throughput", "--jobs", "2", "--out", out]
    code, stdout, err = run_cli(args, timeout=900)
    assert code == 0, err
    names = sorted(os.listdir(os.path.join(out, "runs")))
    assert names == sorted("lstm-seed%d-%s" % (s, env) for s in (0, 1)
                           for env in (TF2, "tf1.15.5-py3.7"))
    with open(os.path.join(out, "report.json")) as f:
        section = json.load(f)["tf_versions"]
    rows = section["environments"]
    assert rows["tf1.15.5-py3.7"]["cells"]["lstm"]["verdict"] == "identical"
    assert rows[TF2]["cells"]["lstm"]["verdict"] in ("indistinguishable", "differs")
    assert rows[TF2]["cells"]["lstm"]["versions"]["tensorflow"] == tfenvs.parse(TF2)[0]
    with open(os.path.join(out, "report.md")) as f:
        assert "## Does the TensorFlow version matter?" in f.read()
    code, stdout, err = run_cli(args, timeout=300)  # everything reused
    assert code == 0 and "4 already finished, 0 to train" in stdout, err
    assert_names_what_its_runs_ran_on(tmp_path, out)


def assert_names_what_its_runs_ran_on(tmp_path, out):
    """A report of TF 2 alone, over the same runs: it says TF 2 ran them, not this process's
    1.15.5; compare shows the difference; its rerun line repeats a row in TF 2."""
    alone = str(tmp_path / "alone")
    shutil.copytree(os.path.join(out, "runs"), os.path.join(alone, "runs"))
    code, stdout, err = run_cli(["report", "--tf", TF2, "--seeds", "2", "--cells", "lstm",
                                 "--steps", "41", "--no-repeat", "--no-throughput", "--jobs", "2",
                                 "--out", alone], timeout=300)
    assert code == 0 and "2 already finished, 0 to train" in stdout, err
    with open(os.path.join(alone, "report.json")) as f:
        rep = json.load(f)
    versions = rep["environment"]["versions"]
    assert versions["tensorflow"] == tfenvs.parse(TF2)[0]
    assert versions["python"].startswith(tfenvs.parse(TF2)[1] + ".")
    assert list(rep["run_environments"]) == [TF2]
    assert rep["environment"]["assembled_with"]["tensorflow"] == "1.15.5"
    code, text, err = run_cli(["compare", out, alone])
    assert code == 0, err
    rows = {line[:44].strip(): line for line in text.splitlines()}
    assert rows["settings.tf"].endswith("<- differs")
    assert rows["settings.reference_env"].endswith("<- differs")
    assert "runs in " + TF2 in rows
    row = [r for r in rep["runs"] if r["seed"] == 0][0]
    rerun = markdown.rerun_command(rep["settings"])
    assert rerun.startswith("./run --tf %s train --cell CELL --seed SEED" % TF2), rerun
    proc = subprocess.run(rerun.replace("CELL", "lstm").replace("SEED", "0").replace(
        "./run", os.path.join(REPO, "run")).split(), cwd=str(tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert_no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    run_dir = [d for d in os.listdir(str(tmp_path / "runs")) if d.endswith("lstm-seed0")][0]
    with open(str(tmp_path / "runs" / run_dir / "metrics.json")) as f:
        again = json.load(f)
    assert again["test_accuracy"] == row["test_accuracy"]
    assert [p["loss"] for p in again["curve"]] == [p["loss"] for p in row["curve"]]


def test_a_report_on_an_environment_the_workers_lack_is_one_line(tmp_path, token):  # noqa
    """A cluster's workers (real dask-worker processes) without the environment."""
    out = str(tmp_path / "r")
    lacking = {tfenvs.ROOT_ENV: str(tmp_path / "none")}
    with cluster(tmp_path, token, workers=1, worker_env=lacking) as (address, _):
        code, _, err = run_cli(["report", "--tf", "1.14.0", "--seeds", "1", "--cells", "lstm",
                                "--steps", "5", "--no-repeat", "--no-throughput",
                                "--scheduler", address, "--out", out], env=tagged_env(token))
    line = one_line(code, err)
    assert "no TensorFlow environment tf1.14.0-py3.7" in line
    assert "./run setup --tf tf1.14.0-py3.7" in line
    assert not os.path.exists(os.path.join(out, "runs"))  # made by this call, empty: removed


@pytest.mark.slow
def test_an_embedded_report_sets_up_the_environment_it_lacks(tmp_path):
    envs = tmp_path / "envs"
    code, out, err = run_cli(["report", "--tf", "1.15.5-py3.6", "--seeds", "1", "--cells", "rnn",
                              "--steps", "5", "--no-repeat", "--no-throughput", "--jobs", "1",
                              "--out", str(tmp_path / "r")],
                             env_extra={tfenvs.ROOT_ENV: str(envs)}, timeout=1800)
    assert code == 0, err
    assert "setting up environment tf1.15.5-py3.6" in out
    assert os.access(str(envs / "tf1.15.5-py3.6" / "bin" / "python"), os.X_OK)
    with open(str(tmp_path / "r" / "runs" / "rnn-seed0-tf1.15.5-py3.6" / "config.json")) as f:
        assert json.load(f)["environment"] == "tf1.15.5-py3.6"
