"""The TensorFlow-version verdicts and environment names, on fixed inputs on both sides of every
threshold. No TensorFlow and no training: part of `./run test -m fast`."""

import math
import os
import shutil
import subprocess

import pytest

from tf1_lstm.cli import flags
from tf1_lstm.studies import engine, report, sections
from tf1_lstm.studies.sections import tf_versions
from tf1_lstm.studies.tools import compare
from tf1_lstm.studies.verdicts import drift, stats
from tf1_lstm.util import environment, tfenvs
from tf1_lstm.util.files import read_json

from conftest import DATA_DIR, REPO, one_line, run_cli

pytestmark = pytest.mark.fast


def run(test_accuracy, curve=((0, 0.5, 2.0), (200, 0.9, 0.3))):
    return {"test_accuracy": test_accuracy, "ms_per_step": 30.0,
            "curve": [{"step": s, "train_accuracy": a, "loss": l} for s, a, l in curve]}


# The Welch interval of two pairs with the same spread: var 0.0002 each, df exactly 2, so the
# half width is t(0.975, 2) * sqrt(0.0002 / 2 + 0.0002 / 2) = 4.303 * 0.0141421...
HALF = 4.303 * math.sqrt(0.0002)


def test_welch_matches_the_formula():
    w = stats.welch([0.0, 0.02], [0.05, 0.07])
    assert w["difference"] == pytest.approx(0.05)
    assert w["df"] == pytest.approx(2.0)
    assert w["ci95"] == pytest.approx([0.05 - HALF, 0.05 + HALF])


@pytest.mark.parametrize("shift, expected", [
    (HALF * 0.999, drift.INDISTINGUISHABLE), (HALF * 1.001, drift.DIFFERS),
    (-HALF * 0.999, drift.INDISTINGUISHABLE), (-HALF * 1.001, drift.DIFFERS),
    (0.0, drift.INDISTINGUISHABLE)])
def test_the_interval_edge_is_the_threshold(shift, expected):
    w = stats.welch([0.0, 0.02], [shift, shift + 0.02])
    assert drift.verdict(False, w) == expected


def test_no_spread_on_either_side_compares_the_means():
    same = stats.welch([0.0974] * 3, [0.0974] * 3)
    assert drift.verdict(False, same) == drift.INDISTINGUISHABLE
    apart = stats.welch([0.0974] * 3, [0.0975] * 3)
    assert drift.verdict(False, apart) == drift.DIFFERS


def test_one_run_is_too_few_even_bit_for_bit_and_identical_wins_otherwise():
    assert drift.verdict(True, stats.welch([0.9], [0.9])) == drift.TOO_FEW
    assert drift.verdict(False, stats.welch([0.9], [0.9, 0.91])) == drift.TOO_FEW
    assert drift.verdict(True, stats.welch([0.9, 0.91], [0.9, 0.91])) == drift.IDENTICAL
    assert drift.verdict(False, stats.welch([0.9, 0.92], [0.9, 0.91])) == \
        drift.INDISTINGUISHABLE


@pytest.mark.parametrize("df, t", [(1, 12.706), (2, 4.303), (2.9, 4.303), (3, 3.182),
                                   (30, 2.042), (30.5, 2.042), (31, 1.96), (0.5, None)])
def test_t_quantile_rounds_df_down(df, t):
    if t is None:
        assert math.isnan(stats.t975(df))
    else:
        assert stats.t975(df) == t


def test_bit_for_bit_names_the_first_parting_step_and_the_gaps():
    ref = [run(0.97), run(0.98)]
    assert drift.bitwise(ref, [run(0.97), run(0.98)])["identical"]
    other = [run(0.97), run(0.975, curve=((0, 0.5, 2.0), (200, 0.9, 0.3125)))]
    bits = drift.bitwise(ref, other)
    assert not bits["identical"] and bits["identical_runs"] == 1
    assert bits["first_parting_step"] == 200
    assert bits["largest_loss_difference"] == pytest.approx(0.0125)
    assert bits["largest_test_accuracy_difference"] == pytest.approx(0.005)
    # The test accuracy alone differs: not identical, and no printed value parts.
    bits = drift.bitwise(ref, [run(0.97), run(0.9801)])
    assert not bits["identical"] and bits["first_parting_step"] is None


def test_the_repeated_seed_is_judged_by_the_same_bit_for_bit_rule():
    first = engine.spec("lstm", 0, steps=201, threads=1)
    specs = [first, engine.repeated(first)]
    assert specs[1].name == "lstm-seed0-repeat"  # its folder, as older reports name it
    names = [s.name for s in specs]
    same = drift.determinism(dict(zip(names, [run(0.97), run(0.97)])), specs)
    assert same["identical"] and same["run"] == names[0] and same["logged_values"] == 5
    one_loss = run(0.97, curve=((0, 0.5, 2.0), (200, 0.9, 0.30000001)))
    assert not drift.determinism(dict(zip(names, [run(0.97), one_loss])), specs)["identical"]
    assert not drift.determinism(dict(zip(names, [run(0.97), run(0.9701)])), specs)["identical"]
    assert drift.determinism({names[0]: run(0.97)}, specs[:1]) is None


def test_the_section_judges_each_environment_against_the_reference():
    chance = {"accuracy": 0.1135, "class": 1}
    by_env = {"tf1.15.5-py3.7": {"lstm": [run(0.97), run(0.98)]},
              "tf2.15.1-py3.11": {"lstm": [run(0.971), run(0.981)]},
              "tf1.14.0-py3.7": {"lstm": [run(0.97), run(0.98)]}}
    section = tf_versions.section(by_env, "tf1.15.5-py3.7", chance, 10000)
    verdicts = {env: row["cells"]["lstm"]["verdict"]
                for env, row in section["environments"].items()}
    assert verdicts == {"tf1.15.5-py3.7": drift.IDENTICAL, "tf2.15.1-py3.11":
                        drift.INDISTINGUISHABLE, "tf1.14.0-py3.7": drift.IDENTICAL}
    text = "\n".join(tf_versions.render(section))
    assert "Does the TensorFlow version matter?" in text and "**indistinguishable**" in text


def test_compare_says_whether_two_reports_differ_as_a_whole():
    a = [dict(run(x), cell="lstm", seed=i) for i, x in enumerate((0.97, 0.98, 0.975))]
    close = [dict(run(x), cell="lstm", seed=i) for i, x in enumerate((0.971, 0.979, 0.976))]
    far = [dict(run(x), cell="lstm", seed=i) for i, x in enumerate((0.90, 0.91, 0.905))]
    assert "lstm as a whole (B - A): indistinguishable" in compare.as_a_whole(a, close)[0]
    assert "lstm as a whole (B - A): differs" in compare.as_a_whole(a, far)[0]
    assert "identical" in compare.as_a_whole(a, a)[0]


# --- environments ----------------------------------------------------------------------------

def test_environment_names_parse_and_resolve():
    assert tfenvs.parse("tf2.15.1-py3.11") == ("2.15.1", "3.11")
    with pytest.raises(tfenvs.EnvError, match="not an environment name"):
        tfenvs.parse("2.15.1")
    names = tfenvs.known()
    assert names[0] == tfenvs.DEFAULT
    assert set(names[1:]) == {f[:-4] for f in os.listdir(os.path.join(REPO, "envs"))
                              if f.startswith("tf")}
    assert tfenvs.resolve("1.15.5") == tfenvs.DEFAULT  # the default first
    assert tfenvs.resolve("1.15.5-py3.6") == "tf1.15.5-py3.6"
    assert tfenvs.resolve("2.15.1") == "tf2.15.1-py3.11"
    with pytest.raises(tfenvs.EnvError, match="choose from tf1.15.5-py3.7"):
        tfenvs.resolve("2.99.0")


def test_every_environment_pins_its_tensorflow():
    for name in tfenvs.known()[1:]:
        version, _ = tfenvs.parse(name)
        with open(os.path.join(REPO, "envs", name + ".txt")) as f:
            pins = [line.split("#")[0].strip() for line in f]
        assert "tensorflow==%s" % version in pins, name
        assert all("==" in p for p in pins if p), name


def test_the_tf_flag_takes_versions_once_each():
    assert flags.tf_envs("1.15.5, 2.15.1,1.15.5") == ("tf1.15.5-py3.7", "tf2.15.1-py3.11")
    for bad in ("", ",", "3.0.0"):
        with pytest.raises(Exception):
            flags.tf_envs(bad)


def test_a_run_in_an_environment_is_named_and_reused_by_it():
    spec = engine.spec("lstm", 3, 100, 1, env="tf2.15.1-py3.11")
    assert spec.name == "lstm-seed3-tf2.15.1-py3.11"
    assert engine.spec("lstm", 3, 100, 1).name == "lstm-seed3"
    config = {"cell": "lstm", "seed": 3, "steps": 100, "threads": 1,
              "environment": "tf2.15.1-py3.11"}
    assert engine.same_settings(config, spec)
    assert not engine.same_settings(dict(config, environment="tf2.21.0-py3.11"), spec)
    assert engine.same_settings(dict(config, environment="tf2.21.0-py3.11"),
                                spec._replace(env=None))  # the worker's own: any
    # A run from before environments were recorded: by the versions its metrics.json holds.
    old = dict(config)
    del old["environment"]
    metrics = {"versions": {"tensorflow": "2.15.1", "python": "3.11.7"}}
    assert engine.trained_in(old, metrics) == "tf2.15.1-py3.11"
    assert engine.same_settings(old, spec, metrics)
    assert not engine.same_settings(old, spec)


def test_a_worker_without_the_environment_says_what_to_set_up(tmp_path, monkeypatch):
    monkeypatch.setenv(tfenvs.ROOT_ENV, str(tmp_path))
    spec = engine.spec("lstm", 0, 10, 1, env="tf1.14.0-py3.7")
    with pytest.raises(engine.RunError, match=r"\./run setup --tf tf1\.14\.0-py3\.7"):
        engine.task_command(spec, "task.json", "result.json")
    (tmp_path / "tf1.14.0-py3.7" / "bin").mkdir(parents=True)
    python = tmp_path / "tf1.14.0-py3.7" / "bin" / "python"
    asked = tmp_path / "asked"
    python.write_text("#!/bin/sh\necho >> %s\nprintf tf1.14.0-py3.7\n" % asked)  # answers as a
    python.chmod(0o755)  # complete one would, and counts the questions
    with pytest.raises(engine.RunError, match=r"was not set up to the end: set it up again"):
        engine.task_command(spec, "task.json", "result.json")  # no stamp: set-up cut short
    (tmp_path / "tf1.14.0-py3.7" / tfenvs.STAMP).write_text("done\n")
    for _ in range(3):  # a worker trains many runs in it: asked once
        assert engine.task_command(spec, "task.json", "result.json")[0] == str(python)
    assert asked.read_text().count("\n") == 1


def test_run_script_refuses_an_unknown_environment_in_one_line():
    proc = subprocess.run([os.path.join(REPO, "run"), "--tf", "9.9.9", "train"], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    line = one_line(proc.returncode, proc.stderr, expected=2)
    assert "no TensorFlow environment '9.9.9'" in line and "tf2.15.1-py3.11" in line


def test_run_script_without_python_37_names_the_tf2_way(tmp_path):
    env = dict(os.environ, TF1_LSTM_PYTHON="3.99", TF1_LSTM_VENV=str(tmp_path / "venv"))
    proc = subprocess.run([os.path.join(REPO, "run"), "train"], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    line = one_line(proc.returncode, proc.stderr, expected=2)
    assert "Python 3.99 not found" in line and "./run --tf 2.15.1 train" in line
    assert not (tmp_path / "venv").exists()


# --- GPUs ------------------------------------------------------------------------------------

NVIDIA_SMI = """#!/bin/sh
case "$1" in
  --query-gpu=*) echo "NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB, 9.0" ;;
  *) echo "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |" ;;
esac
"""


def test_gpus_are_recorded_from_the_driver(tmp_path, monkeypatch):
    if shutil.which("nvidia-smi") is None:
        assert environment.gpus() == []  # no driver: nothing is recorded
    (tmp_path / "nvidia-smi").write_text(NVIDIA_SMI)
    (tmp_path / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    (gpu,) = environment.gpus()
    assert dict(gpu) == {"name": "NVIDIA H100 80GB HBM3", "driver_version": "550.54.15",
                         "memory.total": "81559 MiB", "compute_cap": "9.0",
                         "driver_cuda": "12.4"}


@pytest.mark.parametrize("args, says", [
    (["report", "--tf", "1.15.5,2.15.1", "--ablations"], "--tf compares the faithful runs"),
    (["report", "--tf", "3.1.4"], "no TensorFlow environment '3.1.4'"),
    (["train", "--init-from", "tf1.15.5", "--cell", "irnn"], "for the post's graph only"),
    (["train", "--init-from", "tf1.15.5", "--impl", "fused"], "for the post's graph only"),
    (["train", "--init-from", "tf1.14"], "invalid choice"),
])
def test_version_flags_refuse_what_they_cannot_do(tmp_path, args, says):
    code, _, err = run_cli(args + ["--out", str(tmp_path / "out")], timeout=120)
    assert says in one_line(code, err)
    assert not (tmp_path / "out").exists()


COMMITTED = os.path.join(REPO, "reports", "tf-versions-5seeds-10000steps")


def test_the_committed_version_report_and_its_docs_are_its_runs():
    """Each figure of the committed version report, and of docs/tf-versions.md's table, comes
    again from the runs' own metrics.json by the code that judges them."""
    settings = read_json(os.path.join(COMMITTED, "report.json"))["settings"]
    runs = os.path.join(COMMITTED, "runs")
    results = {name: read_json(os.path.join(runs, name, "metrics.json"))
               for name in os.listdir(runs)}
    base = engine.RunSpec(name="", steps=settings["steps"], threads=settings["threads"])
    finished = sections.Finished(COMMITTED, base, settings["seeds"], tuple(settings["cells"]),
                                 report.reference_first(tuple(settings["tf"])), results,
                                 report.chance_level(DATA_DIR), None)
    assert finished.envs[0] == settings["reference_env"]
    section = tf_versions.summarise(finished, True)
    rendered = "\n".join(tf_versions.render(section))
    with open(os.path.join(COMMITTED, "report.md")) as f:
        assert rendered.strip() in f.read()
    with open(os.path.join(REPO, "docs", "tf-versions.md")) as f:
        docs = f.read()
    measured = docs[docs.index("### Measured"):docs.index("### What it means")]
    assert measured.split("\n", 1)[1].strip() == rendered.split("\n", 1)[1].strip()
