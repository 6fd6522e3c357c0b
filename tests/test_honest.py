"""A report says what its runs ran on, `compare` gives only the verdicts its rule gives, and
`./run` treats paths, names and arguments as a user expects (the defects probed in 0.4.0).
Real committed reports and runs, real venvs and processes; no training here."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tf1_lstm.studies import engine, markdown, report
from tf1_lstm.studies.tools import compare
from tf1_lstm.studies.verdicts import drift, stats
from tf1_lstm.util import tfenvs

from conftest import DATA_DIR, REPO, assert_no_traceback, one_line, run_cli

pytestmark = pytest.mark.fast

RUN = os.path.join(REPO, "run")
MNIST_MIRROR = os.path.join(os.path.dirname(REPO), "shared", "mnist")
FIVE = os.path.join(REPO, "reports", "mnist-5seeds-10000steps")
VERSIONS = os.path.join(REPO, "reports", "tf-versions-5seeds-10000steps")
TF2_RUN = os.path.join(VERSIONS, "runs", "lstm-seed0-tf2.15.1-py3.11")
UNREACHABLE = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0",
               "PIP_TIMEOUT": "2", "PIP_NO_CACHE_DIR": "1",
               "TF1_LSTM_PYTHON": "3.7"}  # the default venv's Python, whichever suite runs


def run_script(args, cwd=REPO, env_extra=None, timeout=600):
    """`./run ARGS` (from `cwd`): (exit code, stdout, stderr); fails on a traceback."""
    proc = subprocess.run([RUN] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          env=dict(os.environ, **(env_extra or {})))
    assert_no_traceback(proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout, proc.stderr


def error_line(err):
    """The one `run: error:` line of a refused ./run (progress lines may precede it)."""
    errors = [line for line in err.splitlines() if line.startswith("run: error:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
    return errors[0]


# --- 1. what the runs ran on ----------------------------------------------------------------

def test_each_environment_is_described_by_its_runs_own_records():
    metrics = [json.load(open(os.path.join(VERSIONS, "runs", name, "metrics.json")))
               for name in ("lstm-seed0-tf1.15.5-py3.7", "lstm-seed0-tf2.15.1-py3.11",
                            "rnn-seed0-tf2.15.1-py3.11")]
    found = report.run_environments(dict(zip("abc", metrics)), {"a": "h1", "b": "h2"})
    assert list(found) == ["tf1.15.5-py3.7", "tf2.15.1-py3.11"]
    assert found["tf2.15.1-py3.11"]["runs"] == 2 and found["tf2.15.1-py3.11"]["hosts"] == ["h2"]
    assert found["tf2.15.1-py3.11"]["versions"]["tensorflow"] == "2.15.1"
    assert found["tf2.15.1-py3.11"]["versions"]["python"].startswith("3.11.")
    assert found["tf1.15.5-py3.7"]["versions"]["tensorflow"] == "1.15.5"
    mixed = report.versions_of(metrics)
    assert mixed["tensorflow"] == ["1.15.5", "2.15.1"]  # a mixed report says so


def test_compare_shows_every_setting_that_differs():
    code, text, err = run_cli(["compare", FIVE, VERSIONS])
    assert code == 0, err
    rows = {line[:44].strip(): line for line in text.splitlines()}
    for key in ("settings.tf", "settings.reference_env", "settings.init_from"):
        assert rows[key].endswith("<- differs"), rows[key]
    assert not rows["settings.cells"].endswith("<- differs")


# --- 2. reuse checks the environment both ways ----------------------------------------------

def test_a_run_from_another_tensorflow_is_not_reused_as_the_workers_own(tmp_path):
    run_dir = str(tmp_path / "runs" / "lstm-seed0")
    shutil.copytree(TF2_RUN, run_dir)
    own = engine.spec("lstm", 0, 10000, 1)
    with pytest.raises(engine.RunError, match=r"trained in tf2\.15\.1-py3\.11, not in the "
                                              r"workers' tf1\.15\.5-py3\.7"):
        engine.finished(run_dir, own, {"tf1.15.5-py3.7"})
    assert engine.finished(run_dir, own, {"tf2.15.1-py3.11"})["test_accuracy"] > 0.5
    named = engine.spec("lstm", 0, 10000, 1, env="tf1.15.5-py3.7")  # and the other way round
    with pytest.raises(engine.RunError, match=r"trained in tf2\.15\.1-py3\.11, not "
                                              r"tf1\.15\.5-py3\.7"):
        engine.finished(run_dir, named._replace(name="lstm-seed0"), {"tf1.15.5-py3.7"})


def test_a_report_refuses_to_reuse_it_in_one_line(tmp_path):
    out = str(tmp_path / "r")
    shutil.copytree(TF2_RUN, os.path.join(out, "runs", "lstm-seed0"))
    code, _, err = run_cli(["report", "--seeds", "1", "--cells", "lstm", "--threads", "1",
                            "--jobs", "1", "--no-repeat", "--no-throughput",
                            "--data-dir", DATA_DIR, "--out", out])
    line = one_line(code, err)
    assert "trained in tf2.15.1-py3.11, not in the workers' %s" % tfenvs.own() in line
    assert not os.path.exists(os.path.join(out, "report.json"))


# --- 3, 4, 14, 15, 17: compare's verdicts follow its rule -----------------------------------

def runs_of(path, cell, seeds):
    return [r for r in compare.load_report(path)["runs"] if r["cell"] == cell
            and r["seed"] in seeds]


def test_one_run_on_a_side_is_too_few_even_bit_for_bit():
    a, b = runs_of(VERSIONS, "rnn", {0, 1}), runs_of(VERSIONS, "rnn", {0})
    lines = compare.as_a_whole(a, b)
    assert lines[0].startswith("rnn as a whole (B - A): too few runs;"), lines
    assert "2 vs 1 runs, 1 of 1 shared seeds bit for bit" in lines[0]
    assert lines[-1] == "rule: " + drift.RULE


def test_identical_needs_the_same_seeds_on_both_sides():
    a, b = runs_of(VERSIONS, "lstm", {0, 1, 2}), runs_of(VERSIONS, "lstm", {0, 1})
    verdict, bits, _ = compare.whole({r["seed"]: r for r in a}, {r["seed"]: r for r in b})
    assert bits["identical"] and verdict == drift.INDISTINGUISHABLE
    same = {r["seed"]: r for r in a}
    assert compare.whole(same, dict(same))[0] == drift.IDENTICAL


def test_a_cell_one_side_lacks_gets_no_verdict():
    lines = compare.as_a_whole(runs_of(VERSIONS, "lstm", {0, 1}), [])
    assert lines[0] == "lstm as a whole (B - A): no verdict: absent in B"


def test_the_interval_of_a_difference_of_accuracies_stays_within_100_points():
    w = stats.welch([0.1, 0.9], [0.1, 0.95])
    assert w["ci95"] == [-1.0, 1.0]
    assert "95% CI -100.00 to +100.00" in drift.interval_text(w)


def edited_report(tmp_path, edit):
    with open(os.path.join(FIVE, "report.json")) as f:
        text = f.read()
    path = str(tmp_path / "report.json")
    with open(path, "w") as f:
        f.write(edit(text))
    return path


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1.5", "\"high\""])
def test_a_bad_test_accuracy_is_named_with_its_value(tmp_path, value):
    first = json.load(open(os.path.join(FIVE, "report.json")))["runs"][0]["test_accuracy"]
    path = edited_report(tmp_path, lambda t: t.replace('"test_accuracy": %r' % first,
                                                       '"test_accuracy": %s' % value, 1))
    code, _, err = run_cli(["compare", path, FIVE])
    line = one_line(code, err)
    assert "runs[0].test_accuracy is" in line and "never writes" in line, line


def test_compare_into_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a byte is written, as `| head -0` would be
    proc = subprocess.run([sys.executable, "-m", "tf1_lstm", "compare", FIVE, VERSIONS],
                          stdout=write, stderr=subprocess.PIPE, universal_newlines=True,
                          cwd=REPO, timeout=120)
    os.close(write)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr


def test_claims_are_paired_by_what_they_claim(tmp_path):
    """A report of the RNN alone against one of both cells: the LSTM's row has nothing on B."""
    rep = json.load(open(os.path.join(FIVE, "report.json")))
    rep["claims"] = [c for c in rep["claims"] if "BasicRNNCell" in c["claim"]]
    rep["runs"] = [r for r in rep["runs"] if r["cell"] == "rnn"]
    path = edited_report(tmp_path, lambda t: json.dumps(rep))
    lines = compare.compare(FIVE, path)
    lstm = [i for i, line in enumerate(lines) if line.startswith("The LSTM reaches")][0]
    assert lines[lstm].split()[-4:] == ["0.9769", "absent", "<-", "differs"], lines[lstm]
    assert lines[lstm + 1].split()[-4:] == ["reproduced", "absent", "<-", "differs"]
    rnn = [line for line in lines if line.startswith("With BasicRNNCell")][0]
    assert not rnn.endswith("differs"), rnn


# --- 6. the rerun line ----------------------------------------------------------------------

def test_the_rerun_line_carries_the_environment_and_every_setting():
    s = {"steps": 200, "threads": 1, "dataset": "mnist", "init_from": "tf1.15.5",
         "reference_env": "tf2.15.1-py3.11"}
    assert markdown.rerun_command(s) == ("./run --tf tf2.15.1-py3.11 train --cell CELL --seed "
                                         "SEED --steps 200 --threads 1 --init-from tf1.15.5")
    s.update(reference_env=tfenvs.DEFAULT, init_from="own", dataset="fashion-mnist")
    assert markdown.rerun_command(s) == ("tf1-lstm train --cell CELL --seed SEED --steps 200 "
                                         "--threads 1 --dataset fashion-mnist")


# --- 7, 13: an environment is complete and holds the TensorFlow its name says --------------

def stamped_venv(path, stamp=True):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    if stamp:
        with open(os.path.join(path, tfenvs.STAMP), "w") as f:
            f.write("done\n")
    return os.path.join(path, "bin", "python")


def test_a_half_built_environment_is_named_with_its_set_up_command(tmp_path, monkeypatch):
    monkeypatch.setenv(tfenvs.ROOT_ENV, str(tmp_path))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the venv alone, as a worker runs it
    stamped_venv(str(tmp_path / "tf2.15.1-py3.11"), stamp=False)
    with pytest.raises(tfenvs.EnvError, match="was not set up to the end: set it up again "
                                              r"with `\./run setup --tf tf2\.15\.1-py3\.11`"):
        tfenvs.ready("tf2.15.1-py3.11")
    with open(str(tmp_path / "tf2.15.1-py3.11" / tfenvs.STAMP), "w") as f:
        f.write("done\n")
    with pytest.raises(tfenvs.EnvError,
                       match=r"is incomplete \(.*No module named 'tf1_lstm'\)"):
        tfenvs.ready("tf2.15.1-py3.11")


def test_an_environment_holding_another_tensorflow_says_which(tmp_path, monkeypatch):
    """$TF1_LSTM_ENVS/tf2.15.1-py3.11 that is really a TF 1.15.5 venv (this one)."""
    monkeypatch.setenv(tfenvs.ROOT_ENV, str(tmp_path))
    os.symlink(os.path.dirname(os.path.dirname(sys.executable)),
               str(tmp_path / "tf2.15.1-py3.11"))
    spec = engine.spec("lstm", 0, 10, 1, env="tf2.15.1-py3.11")
    with pytest.raises(engine.RunError, match=r"holds TensorFlow 1\.15\.5 on Python 3\.\d+, "
                                              r"not 2\.15\.1 on 3\.11"):
        engine.task_command(spec, "task.json", "result.json")


# --- 8, 11, 12, 16, 10: ./run --------------------------------------------------------------

def stamp_text(requirements, python):
    """What ./run writes into a venv it finished setting up."""
    digest = hashlib.sha256()
    for name in (requirements, "setup.py", "setup.cfg", "pyproject.toml", "run"):
        with open(os.path.join(REPO, name), "rb") as f:
            digest.update(f.read())
    return "%s %s\n" % (python, digest.hexdigest())


def test_run_does_not_trust_a_stamp_over_a_missing_tensorflow(tmp_path):
    env = "tf2.15.1-py3.11"
    python = stamped_venv(str(tmp_path / env), stamp=False)
    with open(str(tmp_path / env / tfenvs.STAMP), "w") as f:
        f.write(stamp_text("envs/%s.txt" % env, "3.11"))
    assert os.access(python, os.X_OK)
    code, _, err = run_script(["--tf", "2.15.1", "train"], env_extra=dict(
        UNREACHABLE, TF1_LSTM_ENVS=str(tmp_path)))
    assert "run: setting up %s" % (tmp_path / env) in err  # not trusted: set up again
    line = error_line(err)
    assert code == 2 and "failed at pip==24.0" in line and "not marked ready" in line, line


def test_an_unreachable_index_is_one_line_and_leaves_nothing_trusted(tmp_path):
    venv = str(tmp_path / "v")
    code, _, err = run_script(["setup"], env_extra=dict(UNREACHABLE, TF1_LSTM_VENV=venv))
    line = error_line(err)
    assert code == 2 and "failed at pip==21.3.1 (ERROR: " in line, line
    assert "No matching distribution" in line or "Could not" in line, line
    assert not os.path.exists(os.path.join(venv, tfenvs.STAMP))


def test_two_set_ups_of_one_venv_take_turns(tmp_path):
    venv = str(tmp_path / "v")
    env = dict(os.environ, TF1_LSTM_VENV=venv, **UNREACHABLE)
    first = subprocess.Popen([RUN, "setup"], cwd=REPO, env=env, stderr=subprocess.PIPE,
                             universal_newlines=True)
    while not os.path.exists(os.path.join(venv, ".tf1-lstm-setup.pid")):
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.01)
    second = subprocess.run([RUN, "setup"], cwd=REPO, env=env, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    first_err = first.communicate(timeout=300)[1]
    assert "run: waiting for another ./run setting up %s (PID %d)" % (venv, first.pid) in \
        second.stderr, second.stderr
    for err in (first_err, second.stderr):  # each failed for the index alone, not the other
        assert "failed at pip==21.3.1" in error_line(err) and "No module named pip" not in err


@pytest.mark.parametrize("args, says", [
    (["setup", "--tf", "2.15.1", "--bogus-flag"],
     "setup takes only --tf NAME or --env NAME, not '--bogus-flag'"),
    (["--tf", "2.15.1", "setup", "--tf", "1.13.2"], "--tf given twice"),
    (["--tf", "../envs/tf2.15.1-py3.11", "setup"], "no TensorFlow environment "
                                                   "'../envs/tf2.15.1-py3.11' here"),
    (["--tf", "../requirements", "train"], "no TensorFlow environment '../requirements' here"),
])
def test_run_refuses_what_it_does_not_know_in_one_line(args, says):
    code, _, err = run_script(args, timeout=60)
    assert code == 2 and says in one_line(code, err) and "pyenv" not in err, err
    assert not os.path.exists(os.path.join(REPO, "envs", ".venvs"))


def test_run_alone_prints_its_whole_header():
    """The usage is the script's header comment, every line of it (a fixed line range had
    fallen two lines short of it)."""
    code, out, err = run_script([], timeout=60)
    header = []
    with open(os.path.join(REPO, "run")) as f:
        for line in f.readlines()[1:]:
            if not line.startswith("#"):
                break
            header.append(line[2:].rstrip("\n"))
    assert code == 2 and (out + err).splitlines() == header, out + err
    assert header[-1].startswith("TF1_LSTM_PYTHON=3.6 TF1_LSTM_VENV=.venv36 ./run test")


def test_run_takes_a_full_name_as_report_does():
    code, _, err = run_script(["--tf", "1.15.5-py3.7", "setup"], timeout=120)
    assert code == 0 and err.strip().splitlines()[-1] == "run: %s is ready" % os.environ.get(
        "TF1_LSTM_VENV", ".venv"), err
    assert tfenvs.resolve("1.15.5-py3.7") == tfenvs.DEFAULT


# --- 9: relative paths are the caller's ----------------------------------------------------

def test_run_from_another_folder_reads_and_writes_where_the_caller_is(tmp_path):
    if not os.path.isdir(MNIST_MIRROR):
        pytest.skip("the canonical MNIST mirror (../shared/mnist) is not here")
    work = tmp_path / "w"
    work.mkdir()
    shutil.copytree(FIVE, str(work / "a"), ignore=shutil.ignore_patterns("runs", "*.png"))
    code, out, err = run_script(["fetch-data", "--data-dir", "rel", "--mirror", MNIST_MIRROR],
                                cwd=str(work))
    assert code == 0, err
    assert len(os.listdir(str(work / "rel"))) == 4 and not os.path.exists(
        os.path.join(REPO, "rel"))
    code, out, err = run_script(["compare", "a", "a/report.json"], cwd=str(work))
    assert code == 0 and "lstm seed 0 test accuracy" in out, err


# --- 17: leftovers and engines ---------------------------------------------------------------

def test_a_refused_report_leaves_no_folder_behind(tmp_path):
    code, _, err = run_cli(["report", "--cells", "lstm", "--ablations", "--no-throughput",
                            "--data-dir", DATA_DIR], cwd=str(tmp_path))
    assert "keep --cells lstm,rnn" in one_line(code, err)
    assert os.listdir(str(tmp_path)) == []


def test_image_without_an_engine_is_one_line(tmp_path):
    code, out, err = run_script(["image"], env_extra={
        "DOCKER_HOST": "unix://%s" % (tmp_path / "no.sock")}, timeout=60)
    line = one_line(code, err)
    assert ("no Docker engine answers" in line or "no docker command" in line) and out == "", line


def test_no_committed_report_names_a_path_of_the_machine_it_was_made_on():
    """A worker's log or record under reports/ holds no absolute path of this checkout, of
    the temp dir or of a home (a framework's warning prints its source file's path)."""
    marks = (REPO, os.path.realpath(REPO), "/tmp/", "/root/", "/home/")
    for folder, _, names in os.walk(os.path.join(REPO, "reports")):
        for name in names:
            if name.endswith((".png", ".pth")):
                continue
            with open(os.path.join(folder, name), errors="replace") as f:
                text = f.read()
            assert not [m for m in marks if m in text], os.path.join(folder, name)
