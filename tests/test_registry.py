"""A new cell is one entry in core.cells, a new report section one entry in studies.sections, a
new setting one row in core.settings, a new cluster kind one module and one entry in
studies.engine.clusters: a copy of the package with a toy registered there (and nothing else
changed) offers it as a flag, trains it, and reports it."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import DATA_DIR, REPO, on_37, run_cli

pytestmark = on_37("a package copy shows where an entry goes, whatever the Python")

TOY = '''

def _gru(api, units, forget_bias):
    return api.tf.nn.rnn_cell.GRUCell(units)


'''
ENTRY = '''    Cell("gru", "GRU", "GRUCell", _gru, "a toy registered by a test", faithful=True,
         color="#2ca02c"),
'''


def package_copy(root, module, edits, new=None):
    """run_cli's keywords for a copy of tf1_lstm under `root` whose `module` (a path inside the
    package) went through `edits`: (old, new) pairs, each old found exactly once; `new`:
    {path inside the package: text} of modules added."""
    package = str(root / "tf1_lstm")
    shutil.copytree(os.path.join(REPO, "tf1_lstm"), package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for added, text in (new or {}).items():
        assert not os.path.exists(os.path.join(package, added)), added
        with open(os.path.join(package, added), "w") as f:
            f.write(text)
    path = os.path.join(package, module)
    with open(path) as f:
        text = f.read()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new, 1)
    with open(path, "w") as f:
        f.write(text)
    return {"env_extra": {"PYTHONPATH": str(root)}, "cwd": str(root)}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """run_cli's keywords for a copy of tf1_lstm whose core/cells.py has one more entry."""
    assert "\nCELLS = (\n" in open(os.path.join(REPO, "tf1_lstm", "core", "cells.py")).read()
    return package_copy(tmp_path_factory.mktemp("toy"), os.path.join("core", "cells.py"), [
        ("\n\n# The op seeds", TOY + "# The op seeds"),
        ("\n)\n\nNAMES", "\n" + ENTRY.rstrip("\n") + "\n)\n\nNAMES")])


def test_the_entry_reaches_the_flags(toy):
    code, out, err = run_cli(["train", "--help"], **toy)
    assert code == 0, err
    assert "gru (a toy registered by a test)" in re.sub(r"\s+", " ", out)
    code, out, err = run_cli(["report", "--help"], **toy)
    assert code == 0 and "lstm,rnn,gru" in out, err


def test_the_entry_trains_and_reaches_the_report(toy, tmp_path):
    code, out, err = run_cli(["train", "--cell", "gru", "--steps", "3", "--seed", "0",
                              "--data-dir", DATA_DIR, "--out", str(tmp_path / "run")],
                             **toy)
    assert code == 0 and "tf1-lstm train: cell=gru" in out, err
    with open(str(tmp_path / "run" / "config.json")) as f:
        assert json.load(f)["cell"] == "gru"
    report = str(tmp_path / "report")
    code, out, err = run_cli(["report", "--cells", "lstm,gru", "--seeds", "2", "--steps", "3",
                              "--jobs", "2", "--no-repeat", "--no-throughput",
                              "--data-dir", DATA_DIR, "--out", report], **toy)
    assert code == 0, err
    with open(os.path.join(report, "report.json")) as f:
        rep = json.load(f)
    assert [(r["cell"], r["seed"]) for r in rep["runs"]] == [
        ("lstm", 0), ("lstm", 1), ("gru", 0), ("gru", 1)]
    assert [c["claim"] for c in rep["claims"]] == ["The LSTM reaches about 99% test accuracy"]
    md = open(os.path.join(report, "report.md")).read()
    assert "BasicLSTMCell(150) / GRUCell(150)" in md and "| gru | 1 |" in md
    for figure in rep["figures"]:
        assert os.path.getsize(os.path.join(report, figure)) > 10000


TOY_SECTION = '''

def _toy_run(base):
    return engine.named(base, "lstm", 0, label="toy", lr=0.02)


def _toy_summarise(finished, asked):
    run = _toy_run(finished.base)
    return {"test_accuracy": finished.metrics(run)["test_accuracy"], "asked": asked,
            "seal": finished.seal(run.name)}


def _toy_runs(summary, seeds):
    return [{"cell": "toy", "seed": seeds[0], "run_dir": "runs/toy-seed0",
             "test_accuracy": summary["test_accuracy"], "seal": summary["seal"]}]


def _toy_side_by_side(a, b, doubted_a, doubted_b):
    return [("toy test accuracy",) + tuple(
        None if s is None else "not believed" if "runs/toy-seed0" in d else s["test_accuracy"]
        for s, d in ((a, doubted_a), (b, doubted_b)))]


def _toy_plot(summary, out):
    with open(out + "/toy.txt", "w") as f:
        f.write("toy")
    return ["toy.txt"]


'''
SECTION_ENTRY = '''    Section("toy", (("--toy", dict(type=int, default=None, help="a toy section")),),
            lambda args: args.toy, lambda base, asked, report: [_toy_run(base)],
            _toy_summarise, lambda s: ["## Toy section", "", "toy %.4f" % s["test_accuracy"],
                                       ""], _toy_plot, alone="--toy", runs=_toy_runs,
            side_by_side=_toy_side_by_side),
'''


@pytest.fixture(scope="module")
def toy_section(tmp_path_factory):
    """run_cli's keywords for a copy of tf1_lstm whose studies/sections/__init__.py has one
    more entry."""
    return package_copy(tmp_path_factory.mktemp("toy-section"),
                        os.path.join("studies", "sections", "__init__.py"), [
                            ("\n\nSECTIONS = (\n", TOY_SECTION + "SECTIONS = (\n"),
                            ("\n)\nKEYS", "\n" + SECTION_ENTRY.rstrip("\n") + "\n)\nKEYS")])


def test_a_section_entry_reaches_flags_plan_report_and_refusals(toy_section, tmp_path):
    code, out, err = run_cli(["report", "--help"], **toy_section)
    assert code == 0 and "a toy section" in out, err
    code, _, err = run_cli(["report", "--tf", "1.15.5", "--toy", "1", "--out",
                            str(tmp_path / "refused")], **toy_section)
    assert code == 2 and "make the --toy section in a report of their own" in err, err
    report = str(tmp_path / "report")
    code, out, err = run_cli(["report", "--cells", "lstm", "--seeds", "1", "--steps", "3",
                              "--jobs", "1", "--no-repeat", "--no-throughput", "--toy", "7",
                              "--init-from", "tf1.15.5", "--data-dir", DATA_DIR,
                              "--out", report], **toy_section)
    assert code == 0, err
    with open(os.path.join(report, "report.json")) as f:
        rep = json.load(f)
    with open(os.path.join(report, "runs", "toy-seed0", "config.json")) as f:
        config = json.load(f)
    # the report-wide settings reached the section's run through the base spec
    assert (config["lr"], config["steps"], config["init_from"]) == (0.02, 3, "tf1.15.5")
    with open(os.path.join(report, "runs", "toy-seed0", "metrics.json")) as f:
        accuracy = json.load(f)["test_accuracy"]
    assert rep["toy"] == {"test_accuracy": accuracy, "asked": 7,
                          "seal": rep["toy"]["seal"]} and rep["toy"]["seal"]
    assert "## Toy section\n\ntoy %.4f" % accuracy in open(os.path.join(report, "report.md")).read()
    assert "toy.txt" in rep["figures"] and os.path.exists(os.path.join(report, "toy.txt"))
    # the runs it owns (its `runs`): verify trains them again, compare sets them side by side,
    # both set a changed one apart
    code, out, err = run_cli(["verify", report, "--runs", "2", "--data-dir", DATA_DIR],
                             **toy_section)
    assert code == 0 and re.search(r"^toy-seed0\b.*identical", out, re.M), out + err
    copy = str(tmp_path / "changed")
    shutil.copytree(report, copy)
    with open(os.path.join(copy, "runs", "toy-seed0", "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(copy, "runs", "toy-seed0", "metrics.json"), "w") as f:
        json.dump(dict(metrics, test_accuracy=0.5), f)
    code, out, err = run_cli(["compare", report, copy], **toy_section)
    assert code == 0, err
    assert re.search(r"^toy test accuracy +%s +not believed +<- differs" % accuracy, out,
                     re.M), out
    assert "B: toy-seed0 not believed" in out, out
    code, out, err = run_cli(["verify", copy, "--runs", "2", "--data-dir", DATA_DIR],
                             **toy_section)
    assert code == 1 and re.search(r"^toy-seed0 not believed", out, re.M), out + err


SETTING_ENTRY = '''    Setting("dropout", 0.0, "--dropout", finite_float, "a toy setting registered by a test",
            numbers=True, show=repr),
'''


def test_a_setting_entry_reaches_the_flags_the_config_and_resume(tmp_path):
    """One row in a copy's core/settings.py (its effect on the graph would be its own code)."""
    anchor = '    Setting("checkpoint_every"'
    toy = package_copy(tmp_path / "toy-setting", os.path.join("core", "settings.py"),
                       [(anchor, SETTING_ENTRY + anchor)])
    for command in ("train", "diagnose"):
        code, out, err = run_cli([command, "--help"], **toy)
        assert code == 0 and "a toy setting registered by a test" in re.sub(r"\s+", " ", out), err
    run = str(tmp_path / "run")
    code, out, err = run_cli(["train", "--dropout", "0.5", "--steps", "3", "--seed", "0",
                              "--data-dir", DATA_DIR, "--out", run], **toy)
    assert code == 0, err
    with open(os.path.join(run, "config.json")) as f:
        assert json.load(f)["dropout"] == 0.5
    code, _, err = run_cli(["train", "--resume", run, "--dropout", "0.1"], **toy)
    assert code == 2 and "--dropout" in err, err  # resume takes it from config.json


KIND = '''"""A toy cluster kind: Dask's workers as threads of this process."""

from tf1_lstm.studies.engine.clusters import Kind


class Threads(Kind):
    name = "threads"
    help = "a toy kind registered by a test"
    flags = (("--threads-label", dict(default=None, help="a toy kind's own flag")),)

    def start(self, engine):
        import distributed
        engine.cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=self.jobs or 1, processes=False,
            dashboard_address=None)
        engine.client = distributed.Client(engine.cluster)

    def where(self):
        return "threads labelled %s" % self.options["threads_label"]
'''


FACTOR_CHECK = """
import json, sys
from tf1_lstm.core import fingerprint
from tf1_lstm.studies.verdicts import causes
with open(sys.argv[1]) as f:
    recorded = json.load(f)["fingerprint"]
settings = {"seed": 0}
said = [causes.account(settings, settings, recorded, dict(recorded, toy_factor=other))
        for other in (recorded["toy_factor"], "b")]
lacking = {k: v for k, v in recorded.items() if k != "toy_factor"}
said.append(causes.account(settings, settings, lacking, recorded))
print(json.dumps([recorded["toy_factor"], said, "toy factor" in causes.RULE]))
"""


def test_a_fingerprint_factor_is_one_row_and_its_reading(tmp_path):
    """A row in a copy's core/fingerprint.py FACTORS and its value in of_this_process: a run
    records it, the rule names it, and a difference in it explains two runs (equal: a defect,
    one side without it: cannot tell), with nothing else changed."""
    anchor = '    Factor("numpy", "NumPy version", TF),\n'
    toy = package_copy(tmp_path / "toy-factor", os.path.join("core", "fingerprint.py"), [
        (anchor, anchor + '    Factor("toy_factor", "toy factor", TF),\n'),
        ('("python", versions["python"]), ("numpy", versions["numpy"]),',
         '("python", versions["python"]), ("numpy", versions["numpy"]), '
         '("toy_factor", os.environ.get("TOY_FACTOR")),')])
    run = str(tmp_path / "run")
    code, _, err = run_cli(["train", "--steps", "3", "--seed", "0", "--threads", "1",
                            "--data-dir", DATA_DIR, "--out", run],
                           env_extra=dict(toy["env_extra"], TOY_FACTOR="a"), cwd=toy["cwd"])
    assert code == 0, err
    done = subprocess.run([sys.executable, "-c", FACTOR_CHECK,
                           os.path.join(run, "metrics.json")], cwd=toy["cwd"], check=True,
                          env=dict(os.environ, **toy["env_extra"]), stdout=subprocess.PIPE,
                          universal_newlines=True)
    value, said, in_rule = json.loads(done.stdout)
    assert value == "a" and in_rule
    assert said[0][0] == "not explained by anything recorded", said
    assert said[1] == ["expected", "toy factor a recorded, b here"], said
    assert said[2][0] == "cannot tell" and said[2][1].endswith(": toy factor"), said


def test_a_cluster_kind_is_one_module_and_one_entry(tmp_path):
    clusters = os.path.join("studies", "engine", "clusters")
    anchor = '    ("slurm", "tf1_lstm.studies.engine.clusters.slurm:Slurm"),\n'
    entry = '    ("threads", "tf1_lstm.studies.engine.clusters.threads:Threads"),\n'
    toy = package_copy(tmp_path / "toy-kind", os.path.join(clusters, "__init__.py"),
                       [(anchor, anchor + entry)],
                       new={os.path.join(clusters, "threads.py"): KIND})
    code, out, err = run_cli(["report", "--help"], **toy)
    text = re.sub(r"\s+", " ", out)
    assert code == 0 and "threads (a toy kind registered by a test)" in text, err
    assert "a toy kind's own flag" in text and "{local,slurm,threads}" in text, out
    code, _, err = run_cli(["report", "--threads-label", "x", "--out", str(tmp_path / "r0")],
                           **toy)
    assert code == 2 and "--threads-label is for --cluster threads" in err, err
    code, _, err = run_cli(["report", "--cluster", "threads", "--slurm-wait", "5", "--out",
                            str(tmp_path / "r1")], **toy)
    assert code == 2 and "--slurm-wait is for --cluster slurm" in err, err
    report = str(tmp_path / "report")
    code, out, err = run_cli(["report", "--cluster", "threads", "--threads-label", "t7",
                              "--cells", "lstm", "--seeds", "1", "--steps", "3", "--jobs", "1",
                              "--no-repeat", "--no-throughput", "--data-dir", DATA_DIR,
                              "--out", report], **toy)
    assert code == 0, err
    assert "on threads labelled t7, 1 workers" in out, out
    with open(os.path.join(report, "report.json")) as f:
        rep = json.load(f)
    assert rep["engine"]["cluster"] == "threads" and rep["engine"]["workers"] == 1, rep["engine"]
    assert rep["settings"]["threads"] == 1  # a kind of jobs of one core, as the class says
    assert [r["test_accuracy"] is not None for r in rep["runs"]] == [True]
