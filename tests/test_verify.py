"""`tf1-lstm verify`: a report made here is identical here; a changed value is found at its
step and explained by the fingerprints (expected, unexplained, cannot tell); bad input is one
line. The rule that turns fingerprints into a verdict is tested on fixed inputs."""

import json
import os
import shutil
import sys

import pytest

from tf1_lstm.core import fingerprint
from tf1_lstm.studies import verify

from conftest import DATA_DIR, one_line, run_cli

ON_37 = pytest.mark.skipif(sys.version_info < (3, 7), reason="the Python 3.7 suite runs it: "
                           "verify's code is the same on 3.6, whose runs test_train checks")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A two-run report (LSTM and RNN, seed 0, 401 steps, one thread each) made here."""
    out = str(tmp_path_factory.mktemp("verify") / "report")
    code, _, err = run_cli(["report", "--seeds", "1", "--steps", "401", "--jobs", "2",
                            "--threads", "1", "--no-repeat", "--no-throughput",
                            "--data-dir", DATA_DIR, "--out", out])
    assert code == 0, err
    return out


def _copy(made, tmp_path, edit):
    """A copy of the report whose rnn-seed0 metrics.json went through edit(metrics)."""
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    path = os.path.join(copy, "runs", "rnn-seed0", "metrics.json")
    with open(path) as f:
        metrics = json.load(f)
    edit(metrics)
    with open(path, "w") as f:
        json.dump(metrics, f)
    return copy


def _verify(folder, *extra):
    return run_cli(["verify", folder, "--data-dir", DATA_DIR] + list(extra))


@ON_37
def test_a_report_made_here_is_identical_here(made):
    code, out, err = _verify(made)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "verify: training 2 of the report's 2 runs again, the first 401 steps"
    assert [line.split()[:2] for line in lines[1:3]] == [
        ["lstm-seed0", "identical"], ["rnn-seed0", "identical"]]
    assert "verdict: 2 identical" in lines and lines[-1] == "rule: " + verify.RULE
    with open(os.path.join(made, "report.json")) as f:
        report = json.load(f)
    kernel = report["runs"][0]["fingerprint"]["kernel_path"]
    assert kernel in lines[3] and "%s (2 runs)" % kernel in open(
        os.path.join(made, "report.md")).read()


def _nudge(metrics):
    metrics["curve"][1]["loss"] += 1e-6


@ON_37
def test_a_changed_value_is_found_and_unexplained_when_fingerprints_agree(made, tmp_path):
    code, out, err = _verify(_copy(made, tmp_path, _nudge), "--runs", "2")
    assert code == 1, err
    line = next(line for line in out.splitlines() if line.startswith("rnn-seed0"))
    assert "differs at step 200: loss" in line and verify.UNEXPLAINED in line, line
    assert "1 differs, %s; 1 identical" % verify.UNEXPLAINED in out


@ON_37
def test_another_kernel_path_on_record_makes_the_difference_expected(made, tmp_path):
    def edit(metrics):
        _nudge(metrics)
        here = metrics["fingerprint"]["kernel_path"]
        metrics["fingerprint"]["kernel_path"] = other = (
            "jit_avx_gemm_f32" if here != "jit_avx_gemm_f32" else "jit_avx512_common_gemm_f32")
        edit.names = "sgemm kernel path: %s recorded, %s here" % (other, here)
    code, out, err = _verify(_copy(made, tmp_path, edit))
    assert code == 1, err
    assert "%s: %s" % (verify.EXPECTED, edit.names) in out, out


@ON_37
def test_a_run_without_a_fingerprint_cannot_be_told(made, tmp_path):
    def edit(metrics):
        _nudge(metrics)
        del metrics["fingerprint"]
    code, out, err = _verify(_copy(made, tmp_path, edit))
    assert code == 1, err
    line = next(line for line in out.splitlines() if line.startswith("rnn-seed0"))
    assert verify.CANNOT_TELL in line and "a run made before fingerprints" in line, line
    assert "sgemm kernel path" in line  # named among what was not recorded


@ON_37
@pytest.mark.parametrize("args, says", [
    (["/nonexistent/report"], "is not a folder"),
    ([DATA_DIR], "has no report.json"),
    (["REPORT", "--steps", "0"], "--steps"),
    (["REPORT", "--runs", "x"], "--runs"),
])
def test_bad_input_is_one_line(made, args, says):
    args = [made if a == "REPORT" else a for a in args]
    code, _, err = run_cli(["verify"] + args)
    assert says in one_line(code, err)


@ON_37
def test_edited_records_are_one_line(made, tmp_path):
    def edit(metrics):
        metrics["curve"] = "edited"
    code, _, err = _verify(_copy(made, tmp_path, edit))
    assert "cannot verify" in one_line(code, err)


# --- the rule, on fixed inputs ---------------------------------------------------------------

FP = {key: "x" for key, _ in fingerprint.FACTORS}


def curve(*losses):
    return {"curve": [{"step": 200 * i, "train_accuracy": 0.5, "loss": v}
                      for i, v in enumerate(losses)], "test_accuracy": 0.9, "steps_done": 401}


@pytest.mark.fast
def test_parting_is_exact_and_only_up_to_the_verified_step():
    assert verify.parting(curve(1.0, 2.0), curve(1.0, 2.0), 401, False) is None
    assert verify.parting(curve(1.0, 2.0), curve(1.0, 2.0 + 1e-12), 401, False) == (
        200, "loss", 2.0, 2.0 + 1e-12)
    assert verify.parting(curve(1.0, 2.0), curve(1.0, 3.0), 200, False) is None
    other = dict(curve(1.0, 2.0), test_accuracy=0.91)
    assert verify.parting(curve(1.0, 2.0), other, 401, False) is None
    assert verify.parting(curve(1.0, 2.0), other, 401, True)[1] == "test_accuracy"


@pytest.mark.fast
def test_the_explanation_rule_on_both_sides():
    assert verify.explain(FP, dict(FP), False)[0] == verify.UNEXPLAINED
    verdict, why = verify.explain(FP, dict(FP, intra_op_threads=2), False)
    assert verdict == verify.EXPECTED and why == "intra-op threads: x recorded, 2 here"
    partial = {k: v for k, v in FP.items() if k != "kernel_path"}
    verdict, why = verify.explain(partial, dict(FP), True)
    assert verdict == verify.CANNOT_TELL and why.endswith(": sgemm kernel path")
    # a difference in what is known explains, even where something else is unknown
    assert verify.explain(dict(partial, numpy="y"), dict(FP), True)[0] == verify.EXPECTED


@pytest.mark.fast
def test_older_records_give_what_they_know():
    metrics = {"versions": {"tensorflow": "1.15.5", "python": "3.7.16"},
               "machine": {"cores": 2, "cpu_id": {"family_model_stepping": "25/17/1"}}}
    assert verify.older_fingerprint(metrics, {"threads": None}) == {
        "tensorflow": "1.15.5", "python": "3.7.16", "intra_op_threads": 2,
        "inter_op_threads": 2, "family_model_stepping": "25/17/1"}
    assert "family_model_stepping" not in verify.older_fingerprint(
        {"machine": {"cpu_id": {"family_model_stepping": "?/?/?"}}}, {})


@ON_37
def test_compare_explains_a_bit_for_bit_difference_by_the_fingerprints(made, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    path = os.path.join(copy, "report.json")
    with open(path) as f:
        report = json.load(f)
    rnn = next(r for r in report["runs"] if r["cell"] == "rnn")
    rnn["curve"][1]["loss"] += 1e-6
    threads = rnn["fingerprint"]["intra_op_threads"]
    rnn["fingerprint"]["intra_op_threads"] = threads + 1
    with open(path, "w") as f:
        json.dump(report, f)
    code, out, err = run_cli(["compare", made, copy])
    assert code == 0, err
    explained = [line for line in out.splitlines() if "differs bit for bit" in line]
    assert explained == ["rnn seed 0 differs bit for bit -- %s: intra-op threads: %d in A, %d "
                         "in B" % (verify.EXPECTED, threads, threads + 1)]


@pytest.mark.fast
def test_full_adds_the_verdict_as_a_whole_by_the_version_rule():
    def run(cell, seed, acc):
        spec = verify.engine.RunSpec(name="%s-seed%d" % (cell, seed), cell=cell, seed=seed)
        return verify.Recorded(spec, {}, dict(curve(1.0, 2.0), test_accuracy=acc))
    chosen = [run("lstm", 0, 0.97), run("lstm", 1, 0.98)]
    same = [r.metrics for r in chosen]
    assert verify.as_a_whole(chosen, same)[0].startswith("lstm as a whole (here - recorded): "
                                                         "identical;")
    apart = [dict(m, test_accuracy=m["test_accuracy"] - 0.5) for m in same]
    assert ": differs;" in verify.as_a_whole(chosen, apart)[0]
    assert ": too few runs;" in verify.as_a_whole(chosen[:1], same[:1])[0]
    assert verify.as_a_whole(chosen, same)[-1] == "rule: " + verify.drift.RULE
