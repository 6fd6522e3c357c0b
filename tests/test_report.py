"""A quick real report: every file and field, valid PNGs, and resuming recomputes only what is
gone."""

import json
import os
import re
import shutil

import pytest

from tf1_lstm.core import tfcompat
from tf1_lstm.studies.stats import describe
from tf1_lstm.util import environment

from conftest import DATA_DIR, REPO, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_report(out):
    code, stdout, stderr = run_cli(["report", "--seeds", "2", "--cells", "lstm,rnn", "--steps",
                                    "200", "--jobs", "2", "--ablations", "--data-dir", DATA_DIR,
                                    "--out", out])
    assert code == 0, stderr
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f), stdout


def accuracies(rep):
    return [(r["cell"], r["seed"], r["test_accuracy"], [p["loss"] for p in r["curve"]])
            for r in rep["runs"]]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("report") / "r")
    rep, stdout = make_report(out)
    return out, rep, stdout


def test_every_file_and_key(quick):
    out, rep, _ = quick
    for name in ("report.md", "report.json", "learning_curves.png", "test_accuracy.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert not [f for f in os.listdir(out) if f.startswith(".")]  # no lock, no temp file left
    assert list(rep) == ["schema", "generated", "command", "settings", "claims", "chance", "runs",
                         "references", "determinism", "throughput", "ms_per_step",
                         "environment", "figures", "ablation", "engine", "explain_99",
                         "tf_versions"]
    assert rep["settings"]["seeds"] == [0, 1] and rep["settings"]["threads"] == 1
    assert [(r["cell"], r["seed"]) for r in rep["runs"]] == \
        [("lstm", 0), ("lstm", 1), ("rnn", 0), ("rnn", 1)]


def test_the_claims_follow_their_rules(quick):
    rep = quick[1]
    lstm, rnn = rep["claims"]
    mean = lstm["measured"]["mean"]
    assert lstm["measured"]["n"] == 2
    assert lstm["verdict"] == ("reproduced" if mean >= 0.985 else "not reproduced")
    assert abs(lstm["gap_points"] - 100 * (0.99 - mean)) < 1e-9
    assert rnn["chance"] == rep["chance"]["accuracy"] == 0.1135  # digit 1: 1135 of 10000
    assert sum(rnn["outcomes"].values()) == 2


def test_determinism_throughput_and_engine(quick):
    _, rep, stdout = quick
    assert rep["determinism"]["identical"] is True
    t = rep["throughput"]
    assert t["ratio"] == pytest.approx(t["parallel_single_thread_steps_per_sec"]
                                       / t["one_run_all_threads_steps_per_sec"])
    assert rep["engine"]["scheduler"] == "local" and rep["engine"]["workers"] == 2
    assert all(r["worker_host"] for r in rep["runs"])
    landed = [line for line in stdout.splitlines() if " test accuracy " in line]
    assert len(landed) == 19  # every run as it lands (the throughput runs are not listed)


def test_the_environment_record(quick):
    env = quick[1]["environment"]
    tf = tfcompat.import_tensorflow()
    assert env["versions"]["tensorflow"] == "1.15.5"
    assert env["cuda"]["built_with_cuda"] is bool(tf.test.is_built_with_cuda())
    assert len(env["data_checksums"]) == 4
    assert any(line.startswith("tensorflow==") for line in env["pip_freeze"])


def test_report_md_and_the_ablation_section(quick):
    out, rep, _ = quick
    md = open(os.path.join(out, "report.md")).read()
    for text in ("## Claims of the original post", "](learning_curves.png)",
                 "](test_accuracy.png)", "quoted, not measured here", "98.07%", "## Environment",
                 "## Why does the vanilla RNN fail?", "What the evidence says"):
        assert text in md
    ablation = rep["ablation"]
    assert [r["label"] for r in ablation["ablations"]] == [
        "rnn (original)", "lstm (original)", "rnn-lr0.001", "rnn-clip1.0", "lstm-forget-bias0",
        "lstm-lr0.001", "irnn", "irnn-lr0.001"]
    assert all(len(r["per_seed"]) == 2 for r in ablation["ablations"])
    assert set(ablation["diagnostics"]) == {"rnn", "lstm"}
    assert "mean_forget_gate" in ablation["diagnostics"]["lstm"]
    hypotheses = [f["hypothesis"] for f in ablation["findings"]]
    assert {"exploding gradients", "vanishing gradients", "saturation",
            "the forget gate's +1 bias", "gating is required"} <= set(hypotheses)


def test_figures_are_valid_pngs(quick):
    import matplotlib.image
    out = quick[0]
    for name in ("learning_curves.png", "test_accuracy.png"):
        path = os.path.join(out, name)
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
        height, width = matplotlib.image.imread(path).shape[:2]
        assert height > 200 and width > 300


def test_resume_recomputes_only_what_is_missing(quick, tmp_path):
    out, rep, _ = quick
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy)
    shutil.rmtree(os.path.join(copy, "runs", "rnn-seed1"))
    again, stdout = make_report(copy)
    assert "19 runs, 18 already finished, 1 to train" in stdout
    assert os.listdir(os.path.join(copy, "logs")) and "rnn-seed1" in stdout
    assert accuracies(again) == accuracies(rep)
    assert again["claims"] == rep["claims"]
    code, text, err = run_cli(["compare", out, copy])
    assert code == 0, err
    assert "lstm seed 1 test accuracy" in text and "tensorflow" in text
    assert "differs" not in "".join(line for line in text.splitlines() if not line.startswith(
        "rule:") and ("accuracy" in line or "verdict" in line))
    assert "lstm as a whole (B - A): identical" in text and "rnn as a whole (B - A): identical" \
        in text


def test_the_cpu_beyond_its_name_is_recorded_and_compared(quick):
    """Two VMs both called "AMD EPYC" gave different seeded runs: family, caches and SIMD flags
    are what can tell them apart, so the report records them and compare shows them."""
    out, rep, _ = quick
    cpu_id = rep["environment"]["machine"]["cpu_id"]
    assert cpu_id == environment.cpu_id()
    assert re.match(r"^\d+/\d+/\d+$", cpu_id["family_model_stepping"])
    assert "L1d " in cpu_id["caches"] and "sse4_2" in cpu_id["simd"]
    with open(os.path.join(out, "report.md")) as f:
        assert "| CPU family/model/stepping, caches, SIMD | %s; %s; %s |" % (
            cpu_id["family_model_stepping"], cpu_id["caches"], cpu_id["simd"]) in f.read()
    committed = os.path.join(REPO, "reports", "mnist-5seeds-10000steps")  # made before
    code, text, err = run_cli(["compare", out, committed])
    assert code == 0, err
    row = [line for line in text.splitlines() if line.startswith("cpu family/model/stepping")]
    assert len(row) == 1 and cpu_id["family_model_stepping"] in row[0]
    assert row[0].split()[3] == "-" and row[0].endswith("<- differs"), row


def test_statistics():
    stats = describe([0.95, 0.96, 0.97])
    assert stats["mean"] == pytest.approx(0.96) and stats["std"] == pytest.approx(0.01)
    assert stats["ci95"] == pytest.approx([0.96 - 4.303 * 0.01 / 3 ** 0.5,
                                           0.96 + 4.303 * 0.01 / 3 ** 0.5])
    assert describe([0.5])["ci95"] is None
    assert describe([0.99, 1.0])["ci95"][1] == 1.0


def test_bad_cells_flag(capsys):
    from tf1_lstm import cli
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["report", "--cells", "lstm,gru"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--cells: 'lstm,gru': give a comma-separated list of lstm, rnn" in err
