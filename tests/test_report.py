"""A quick real report: every file and field, valid PNGs, and resuming recomputes only what is
gone."""

import json
import os
import re
import shutil

import pytest

from tf1_lstm.core import tfcompat
from tf1_lstm.studies import engine, markdown
from tf1_lstm.studies.tools import compare
from tf1_lstm.studies.verdicts import drift
from tf1_lstm.studies.verdicts.stats import describe
from tf1_lstm.util import environment, tfenvs
from tf1_lstm.util.text import percent

from conftest import DATA_DIR, REPO, on_37, run_cli

ON_37 = on_37("a report's assembly is arithmetic on its runs' records; a report made "
              "on 3.6 is test_study_safety's, and test_image's in the CUDA 10 image")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


STEPS = "100"  # a report's parts and arithmetic need runs, not learning: step 0 is logged


def make_report(out):
    code, stdout, stderr = run_cli(["report", "--seeds", "2", "--cells", "lstm,rnn", "--steps",
                                    STEPS, "--jobs", "2", "--ablations", "--data-dir", DATA_DIR,
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


@ON_37
def test_every_file_and_key(quick):
    out, rep, _ = quick
    for name in ("report.md", "report.json", "learning_curves.png", "test_accuracy.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert not [f for f in os.listdir(out) if f.startswith(".")]  # no lock, no temp file left
    assert list(rep) == ["schema", "generated", "command", "settings", "claims", "chance", "runs",
                         "references", "determinism", "throughput", "ms_per_step",
                         "run_environments", "environment", "figures", "engine",
                         "explain_99", "ablation", "posts", "path", "tf_versions"]
    assert rep["settings"]["seeds"] == [0, 1] and rep["settings"]["threads"] == 1
    assert [(r["cell"], r["seed"]) for r in rep["runs"]] == \
        [("lstm", 0), ("lstm", 1), ("rnn", 0), ("rnn", 1)]


@ON_37
def test_the_claims_follow_their_rules(quick):
    rep = quick[1]
    lstm, rnn = rep["claims"]
    mean = lstm["measured"]["mean"]
    assert lstm["measured"]["n"] == 2
    # runs shorter than the post's 10,000 steps: measured, not judged (the rules: test_rules)
    assert lstm["verdict"] == rnn["verdict"] == "not judged (shortened)"
    assert abs(lstm["gap_points"] - 100 * (0.99 - mean)) < 1e-9
    assert rnn["chance"] == rep["chance"]["accuracy"] == 0.1135  # digit 1: 1135 of 10000
    assert all(len(r["seal"]) == 64 for r in rep["runs"])  # each run's seal, as made
    assert sum(rnn["outcomes"].values()) == 2


@ON_37
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


@ON_37
def test_the_environment_record(quick):
    env = quick[1]["environment"]
    tf = tfcompat.import_tensorflow()
    assert env["versions"]["tensorflow"] == "1.15.5"
    assert env["cuda"]["built_with_cuda"] is bool(tf.test.is_built_with_cuda())
    assert len(env["data_checksums"]) == 4
    assert any(line.startswith("tensorflow==") for line in env["pip_freeze"])


@ON_37
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


@ON_37
def test_figures_are_valid_pngs(quick):
    import matplotlib.image
    out = quick[0]
    for name in ("learning_curves.png", "test_accuracy.png"):
        path = os.path.join(out, name)
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
        height, width = matplotlib.image.imread(path).shape[:2]
        assert height > 200 and width > 300


@ON_37
def test_resume_recomputes_only_what_is_missing(quick, tmp_path):
    out, rep, _ = quick
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy)
    shutil.rmtree(os.path.join(copy, "runs", "rnn-seed1"))
    marker = os.path.join(copy, "runs", "lstm-seed0", engine.MARKER)
    with open(marker) as f:
        place = json.load(f)
    assert place["job"] is None  # no queue here; a record of before names it slurm_job:
    place["slurm_job"] = "4242"
    del place["job"]
    with open(marker, "w") as f:
        json.dump(place, f)
    again, stdout = make_report(copy)
    assert "19 runs, 18 already finished, 1 to train" in stdout
    assert [r["slurm_job"] for r in again["runs"] if r["run_dir"] == "runs/lstm-seed0"] == \
        ["4242"]
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


@ON_37
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


def derived_report(quick, tmp_path, *args, reuse=True):
    """A report with other flags, over a copy of the quick report's runs (reused runs are not
    trained again) unless not `reuse`."""
    out = str(tmp_path / "derived")
    if reuse:
        shutil.copytree(os.path.join(quick[0], "runs"), os.path.join(out, "runs"))
    code, stdout, err = run_cli(["report", "--steps", STEPS, "--jobs", "1", "--threads", "1",
                                 "--no-repeat", "--no-throughput", "--data-dir", DATA_DIR,
                                 "--out", out] + list(args))
    assert code == 0, err
    return out, stdout


def whole_lines(a, b):
    code, text, err = run_cli(["compare", a, b])
    assert code == 0, err
    return {line.split()[0]: line for line in text.splitlines() if " as a whole " in line}, text


@ON_37
def test_compare_one_run_on_a_side_is_too_few_runs(quick, tmp_path):
    out, stdout = derived_report(quick, tmp_path, "--seeds", "1")
    assert "2 runs, 2 already finished, 0 to train" in stdout
    lines, text = whole_lines(quick[0], out)
    assert lines["rnn"].startswith("rnn as a whole (B - A): too few runs; "), lines["rnn"]
    assert "2 vs 1 runs, 1 of 1 shared seeds bit for bit" in lines["rnn"]
    assert "identical" not in lines["lstm"]
    assert [line for line in text.splitlines() if line.startswith("lstm seed 1 test")][0] \
        .split()[-3:] == ["absent", "<-", "differs"]


@ON_37
def test_compare_pairs_claims_and_cells_by_name(quick, tmp_path):
    out, _ = derived_report(quick, tmp_path, "--seeds", "2", "--cells", "rnn")
    lines, text = whole_lines(quick[0], out)
    assert lines["lstm"] == "lstm as a whole (B - A): no verdict: absent in B"
    rows = text.splitlines()
    lstm = [i for i, line in enumerate(rows) if line.startswith("The LSTM reaches")][0]
    assert rows[lstm].split()[-3:] == ["absent", "<-", "differs"], rows[lstm]
    assert rows[lstm + 1].split()[-3:] == ["absent", "<-", "differs"], rows[lstm + 1]
    rnn = [i for i, line in enumerate(rows) if line.startswith("With BasicRNNCell")][0]
    assert not rows[rnn].endswith("differs") and not rows[rnn + 1].endswith("differs")
    assert lines["rnn"].startswith("rnn as a whole (B - A): identical; ")


@ON_37
def test_compare_other_threads_follows_the_printed_rule(quick, tmp_path):
    """Two threads per run change the numbers: whatever the verdict, it is the rule's."""
    out, stdout = derived_report(quick, tmp_path, "--seeds", "2", "--cells", "lstm",
                                 "--threads", "2", reuse=False)
    assert "2 runs, 0 already finished, 2 to train" in stdout
    lines, text = whole_lines(quick[0], out)
    assert [line for line in text.splitlines() if line.startswith("settings.threads")][0] \
        .endswith("<- differs")
    a = [r for r in quick[1]["runs"] if r["cell"] == "lstm"]
    with open(os.path.join(out, "report.json")) as f:
        b = [r for r in json.load(f)["runs"] if r["cell"] == "lstm"]
    verdict, bits, interval = compare.whole({r["seed"]: r for r in a}, {r["seed"]: r for r in b})
    assert not bits["identical"] and verdict in (drift.INDISTINGUISHABLE, drift.DIFFERS)
    assert lines["lstm"].startswith("lstm as a whole (B - A): %s; %s; " % (
        verdict, drift.interval_text(interval))), lines["lstm"]


@ON_37
def test_the_runs_table_says_which_batch_and_the_rerun_line_repeats_a_row(quick, tmp_path):
    out, rep, _ = quick
    md = open(os.path.join(out, "report.md")).read()
    assert "| train-batch accuracy at the last logged step |" in md
    first = rep["runs"][0]
    assert "| %s | %d | %s | %s (step 0) |" % (first["cell"], first["seed"],
                                               percent(first["test_accuracy"]),
                                               percent(first["final_train_accuracy"])) in md
    rerun = markdown.rerun_command(rep["settings"])
    assert "Rerun any row alone: `%s`." % rerun in md
    argv = rerun.replace("CELL", first["cell"]).replace("SEED", str(first["seed"])).split()[2:]
    code, _, err = run_cli(["train"] + argv + ["--data-dir", DATA_DIR, "--out",
                                               str(tmp_path / "again")])
    assert code == 0, err
    with open(str(tmp_path / "again" / "metrics.json")) as f:
        again = json.load(f)
    assert again["test_accuracy"] == first["test_accuracy"]
    assert [(p["loss"], p["train_accuracy"]) for p in again["curve"]] == \
        [(p["loss"], p["train_accuracy"]) for p in first["curve"]]


@ON_37
def test_the_report_names_what_its_runs_ran_on(quick):
    out, rep, _ = quick
    envs = rep["run_environments"]
    assert list(envs) == [tfenvs.own()] and envs[tfenvs.own()]["runs"] == 19
    assert rep["environment"]["versions"] == envs[tfenvs.own()]["versions"]
    assert rep["environment"]["assembled_with"]["tensorflow"] == "1.15.5"
    assert all(r["environment"] == tfenvs.own() for r in rep["runs"])
    md = open(os.path.join(out, "report.md")).read()
    assert "## What the runs ran on" in md and "| %s | 19 | " % tfenvs.own() in md
