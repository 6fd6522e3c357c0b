"""`tf1-lstm verify` and `compare` on reports the tests make: a report made here is identical
here, with the values compared counted; a changed value is found at its step and explained
(settings, factors, cannot tell, a defect); nothing is called identical that was not compared
(an empty curve, an unfinished run, a report.json edited after its runs); threads under CPU
affinity; bad input is one line. The explanation rule itself: tests/test_causes.py."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tf1_lstm.core import records
from tf1_lstm.studies.tools import compare, verify
from tf1_lstm.studies.verdicts import causes

from conftest import DATA_DIR, on_37, one_line, run_cli

ON_37 = on_37("verify's code is the same on 3.6, whose runs test_train checks")
REPORT = ["report", "--jobs", "2", "--threads", "1", "--no-repeat", "--no-throughput",
          "--data-dir", DATA_DIR]


def _report(tmp_path_factory, name, *extra, **cli):
    out = str(tmp_path_factory.mktemp(name) / "report")
    code, _, err = run_cli(REPORT + list(extra) + ["--out", out], **cli)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A two-run report (RNN, seeds 0 and 1, 201 steps, one thread each) made here; the tests
    edit rnn-seed0's records and retrain it alone (the RNN is the quicker cell)."""
    return _report(tmp_path_factory, "verify", "--steps", "201", "--cells", "rnn", "--seeds",
                   "2")


def _copy(made, tmp_path, edit, run="rnn-seed0", in_step=True, sealed=True):
    """A copy of the report whose run's metrics.json went through edit, sealed again and
    report.json's row of it kept in step unless told (a run that recorded other things
    throughout, not a record edited after it finished); run=None: report.json edited."""
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    path = os.path.join(copy, *(("runs", run, "metrics.json") if run else ("report.json",)))
    record = _edited(path, edit)
    if run and sealed:
        seal = records.seal(os.path.dirname(path))

        def follow(report):
            row = next(r for r in report["runs"] if r["run_dir"] == "runs/" + run)
            row["seal"] = seal
            if in_step:
                row.pop("fingerprint", None)
                row.update({k: record[k] for k in ("curve", "test_accuracy", "fingerprint")
                            if k in record})
        _edited(os.path.join(copy, "report.json"), follow)
    return copy


def _edited(path, edit):
    with open(path) as f:
        record = json.load(f)
    edit(record)
    with open(path, "w") as f:
        json.dump(record, f)
    return record


def _verify(folder, *extra, **cli):
    """verify, retraining the first run only unless told (--runs)."""
    one = [] if "--runs" in extra else ["--runs", "1", "--jobs", "1"]
    return run_cli(["verify", folder, "--data-dir", DATA_DIR] + one + list(extra), **cli)


def _line(out, name="rnn-seed0"):
    return next(line for line in out.splitlines() if line.startswith(name))


@ON_37
def test_a_report_made_here_is_identical_here(made):
    code, out, err = _verify(made, "--runs", "4")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "verify: training 2 of the report's 2 runs again, the first 201 steps"
    assert lines[1:3] == ["rnn-seed0   identical (4 values compared: 2 logged points)",
                          "rnn-seed1   identical (4 values compared: 2 logged points)"]
    assert "verdict: 2 identical" in lines and lines[-1] == "rule: " + verify.RULE
    with open(os.path.join(made, "report.json")) as f:
        report = json.load(f)
    fingerprint = report["runs"][0]["fingerprint"]
    assert fingerprint["kernel_path"] in lines[3] and "%s (2 runs)" % fingerprint[
        "kernel_path"] in open(os.path.join(made, "report.md")).read()
    assert fingerprint["l1d_kib"] > 0  # the cache sizes CPUID reports, recorded
    # the report.json --help offers, from inside the report's folder
    code, out, err = run_cli(["verify", "report.json", "--data-dir", DATA_DIR, "--runs", "1"],
                             cwd=made)
    assert code == 0 and "rnn-seed0   identical" in out, err


def _nudge(metrics):
    metrics["curve"][1]["loss"] += 1e-6


@ON_37
def test_a_changed_value_with_everything_equal_is_a_defect(made, tmp_path):
    code, out, err = _verify(_copy(made, tmp_path, _nudge))
    assert code == 1, err
    line = _line(out)
    assert "differs at step 200: loss" in line and causes.DEFECT in line, line
    assert "verdict: 1 differs, %s" % causes.DEFECT in out


@ON_37
def test_another_kernel_path_or_l1d_on_record_makes_the_difference_expected(made, tmp_path):
    def edit(metrics):
        _nudge(metrics)
        fp = metrics["fingerprint"]
        here = fp["kernel_path"]
        fp["kernel_path"] = other = (
            "jit_avx_gemm_f32" if here != "jit_avx_gemm_f32" else "jit_avx512_common_gemm_f32")
        fp["l1d_kib"] //= 2
        edit.names = "sgemm kernel path %s recorded, %s here; L1d size (CPUID) %d KiB " \
            "recorded, %d KiB here" % (other, here, fp["l1d_kib"], 2 * fp["l1d_kib"])
    code, out, err = _verify(_copy(made, tmp_path, edit))
    assert code == 1, err
    assert "%s: %s" % (causes.EXPECTED, edit.names) in _line(out), out


@ON_37
def test_a_run_without_a_fingerprint_is_read_for_its_older_fields(made, tmp_path):
    def edit(metrics):
        _nudge(metrics)
        del metrics["fingerprint"]
    code, out, err = _verify(_copy(made, tmp_path, edit))
    assert code == 1, err
    line = _line(out)  # caches, model, threads, versions: equal; emulation was not recorded
    assert causes.CANNOT_TELL in line and line.endswith("not recorded on a side: emulated CPU")

    def older(metrics):  # and a machine block naming another vendor
        edit(metrics)
        metrics["machine"]["cpu"] = "AMD EPYC" if "Intel" in metrics["machine"]["cpu"] \
            else "Intel Xeon"
    code, out, err = _verify(_copy(made, tmp_path / "older", older))
    assert code == 1 and "%s: CPU vendor" % causes.EXPECTED in _line(out), out


@ON_37
def test_a_record_edited_after_its_run_finished_is_not_believed(made, tmp_path):
    """#39: an edit to a finished run's record (its seal no longer holds), or to report.json's
    seal of it: verify trains the other run only and counts this one apart; compare leaves it
    out of every verdict; never identical, never a defect."""
    copy = _copy(made, tmp_path, _nudge, sealed=False)
    code, out, err = _verify(copy, "--runs", "2")
    assert code == 1, err
    assert _line(out) == "rnn-seed0 %s: %s changed after the run finished" % (
        verify.NOT_BELIEVED, os.path.join(copy, "runs", "rnn-seed0", "metrics.json"))
    assert "rnn-seed1   identical" in out and "verdict: 1 identical; 1 not believed" in out
    assert causes.DEFECT not in out.split("\nrule: ")[0]
    code, out, err = run_cli(["compare", made, copy])
    assert code == 0, err
    assert "B: rnn seed 0 not believed, left out of every verdict" in out, out
    assert "not believed" in next(x for x in out.splitlines()
                                  if x.startswith("rnn seed 0 test accuracy")), out
    assert "rnn as a whole (B - A): identical" not in out and causes.DEFECT not in out

    def other_seal(report):
        report["runs"][1]["seal"] = "0" * 64
    copy = _copy(made, tmp_path / "seal", other_seal, run=None)
    code, out, err = _verify(copy, "--runs", "2")
    assert code == 1 and _line(out, "rnn-seed1").endswith(
        "its seal is not the one report.json holds for it: the run or report.json changed "
        "after the report was made"), out


@ON_37
def test_a_record_with_fewer_values_than_printed_here_is_not_identical(made, tmp_path):
    def empty(metrics):
        metrics["curve"] = []
    code, out, err = _verify(_copy(made, tmp_path, empty))
    assert code == 1, err
    assert _line(out) == "rnn-seed0   %s (0 of the 2 logged points printed here below step " \
        "201)" % verify.INCOMPLETE


@ON_37
def test_an_unfinished_run_is_not_verifiable_and_full_says_so_too(made, tmp_path):
    def interrupted(metrics):
        metrics.update(status="interrupted", steps_done=120, test_accuracy=None,
                       curve=metrics["curve"][:1])
    copy = _copy(made, tmp_path, interrupted, in_step=False)  # a report cannot list it
    for extra in ([], ["--full"]):
        code, out, err = _verify(copy, *extra)
        assert code == 1, err
        assert _line(out) == "rnn-seed0 %s (interrupted at step 120 of 201)" % verify.UNFINISHED
        assert "rnn-seed1   identical" in out and "1 identical; 1 %s" % verify.UNFINISHED \
            in out  # the next finished run is the sample


@ON_37
def test_a_report_json_whose_figures_differ_from_its_runs_fails(made, tmp_path):
    def edit(report):
        report["runs"][0]["test_accuracy"] = 0.99
        report["runs"][1]["curve"][0]["loss"] = 0.5
    copy = _copy(made, tmp_path, edit, run=None)
    for extra in ([], ["--full"]):
        code, out, err = _verify(copy, *extra)
        assert code == 1, err
        lines = [line for line in out.splitlines() if ": %s: " % verify.DISAGREES in line]
        assert lines == [
            "rnn-seed0: %s: test accuracy 0.99 in report.json, %r in runs/rnn-seed0/"
            "metrics.json" % (verify.DISAGREES, json.load(open(os.path.join(
                made, "runs", "rnn-seed0", "metrics.json")))["test_accuracy"]),
            "rnn-seed1: %s: loss at step 0 0.5 in report.json, %r in runs/rnn-seed1/"
            "metrics.json" % (verify.DISAGREES, json.load(open(os.path.join(
                made, "runs", "rnn-seed1", "metrics.json")))["curve"][0]["loss"])], out
        verdict = out.split("\nverdict: ")[1].split("\n")[0]
        assert causes.DEFECT not in verdict and "2 %s" % verify.DISAGREES in verdict, verdict
    # --full sets the retrained run against the run folder, then against report.json
    assert _line(out, "rnn-seed0 ").startswith(
        "rnn-seed0   %s: the run folder is identical here (5 values compared: 2 logged points"
        " and test accuracy); report.json's test_accuracy at step 201 is 0.99" % verify.DISAGREES)


@ON_37
def test_threads_are_the_cpus_the_run_may_use(made, tmp_path_factory):
    """A report under `taskset -c 0` without --threads: TF's pools had one CPU."""
    if not shutil.which("taskset") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs taskset and two schedulable CPUs")
    out = str(tmp_path_factory.mktemp("taskset") / "report")
    proc = subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "tf1_lstm", "report",
                           "--seeds", "1", "--cells", "rnn", "--steps", "201", "--jobs", "1",
                           "--no-repeat", "--no-throughput", "--data-dir", DATA_DIR,
                           "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(out, "report.json")) as f:
        assert json.load(f)["runs"][0]["fingerprint"]["intra_op_threads"] == 1
    code, text, err = _verify(out)
    assert code == 1, err
    line = _line(text)
    pools = len(os.sched_getaffinity(0))
    # measured: RNN seed 0 parts at step 0 between 1 and 2 threads
    assert line.endswith("%s: intra-op threads 1 recorded, %d here; inter-op threads 1 "
                         "recorded, %d here" % (causes.EXPECTED, pools, pools)), line


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
@pytest.mark.parametrize("edit, says", [
    (lambda m: m.update(curve="edited"), "runs[0].curve is 'edited', which tf1-lstm never writes"),
])
def test_edited_records_are_one_line(made, tmp_path, edit, says):
    code, _, err = _verify(_copy(made, tmp_path, edit))
    assert says in one_line(code, err)


@ON_37
@pytest.mark.parametrize("edit, says", [
    (lambda r: r.update(runs=[]), "lists no runs: there is nothing to verify"),
    (lambda r: r["runs"][0].pop("cell"), "runs[0].cell is None, which tf1-lstm never writes"),
    (lambda r: r["runs"][0].pop("run_dir"), "has no run_dir: was it edited?"),
])
def test_an_edited_report_json_is_one_line_naming_it(made, tmp_path, edit, says):
    code, _, err = _verify(_copy(made, tmp_path, edit, run=None))
    line = one_line(code, err)
    assert says in line and "report.json" in line, line


@ON_37
def test_runs_of_an_environment_without_pins_are_not_offered_a_set_up(made, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    seals = {}
    for run in ("rnn-seed0", "rnn-seed1"):  # runs made there (sealed so)
        _edited(os.path.join(copy, "runs", run, "config.json"),
                lambda config: config.update(environment="tf9.9.9-py3.7"))
        seals["runs/" + run] = records.seal(os.path.join(copy, "runs", run))
    _edited(os.path.join(copy, "report.json"), lambda report: [
        row.update(seal=seals[row["run_dir"]]) for row in report["runs"]])
    for extra in ([], ["--set-up"]):
        code, _, err = _verify(copy, *extra)
        line = one_line(code, err)
        assert "no pins for TensorFlow environment tf9.9.9-py3.7" in line, line
        assert "./run setup" not in line, line


@ON_37
def test_a_report_json_that_is_not_json_is_named(made, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    with open(os.path.join(copy, "report.json"), "w") as f:
        f.write("{not json")
    code, _, err = _verify(copy)
    assert "report.json is not JSON" in one_line(code, err)


# --- verify's own rules, on fixed inputs --------------------------------------------------------


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


def _run(cell, seed, acc=0.9, losses=(1.0, 2.0), **metrics):
    spec = verify.engine.RunSpec(name="%s-seed%d" % (cell, seed), cell=cell, seed=seed,
                                 steps=401)
    record = dict(curve(*losses), test_accuracy=acc, status="complete", **metrics)
    return verify.Recorded(spec, {"threads": 1}, record, {"test_accuracy": acc,
                                                          "curve": record["curve"]})


@pytest.mark.fast
def test_identical_needs_every_value_printed_here_on_record():
    recorded, here = _run("rnn", 0), _run("rnn", 0).metrics
    assert verify.judged(recorded, here, {}, 401, False) == (
        verify.IDENTICAL, "identical (4 values compared: 2 logged points)")
    assert verify.judged(recorded, here, {}, 401, True)[1].startswith(
        "identical (5 values compared")
    # one logged point fewer on record than printed here: not verified
    short = _run("rnn", 0, losses=(1.0,))
    assert verify.judged(short, here, {}, 401, False)[0] == verify.INCOMPLETE
    # but a prefix of what was recorded is enough where fewer steps were verified here
    assert verify.judged(recorded, here, {}, 200, False)[0] == verify.IDENTICAL
    # nothing printed below the verified step: nothing compared
    assert verify.judged(recorded, dict(here, curve=[]), {}, 401, False)[0] != verify.IDENTICAL


@pytest.mark.fast
def test_every_row_is_sampled_however_many_each_cell_holds():
    rows = [{"cell": "lstm", "seed": s} for s in range(3)] + [{"cell": "rnn", "seed": 0}]
    assert [(r["cell"], r["seed"]) for r in verify.interleaved(rows)] == [
        ("lstm", 0), ("rnn", 0), ("lstm", 1), ("lstm", 2)]


@pytest.mark.fast
def test_full_adds_the_verdict_as_a_whole_by_the_version_rule():
    chosen = [_run("lstm", 0, 0.97), _run("lstm", 1, 0.98)]
    same = [r.metrics for r in chosen]
    assert verify.as_a_whole(chosen, same)[0].startswith("lstm as a whole (here - recorded): "
                                                         "identical;")
    apart = [dict(m, test_accuracy=m["test_accuracy"] - 0.5) for m in same]
    assert ": differs;" in verify.as_a_whole(chosen, apart)[0]
    assert ": too few runs;" in verify.as_a_whole(chosen[:1], same[:1])[0]
    assert verify.as_a_whole(chosen, same)[-1] == "rule: " + verify.drift.RULE


# --- compare -------------------------------------------------------------------------------


@ON_37
def test_compare_explains_a_bit_for_bit_difference_by_the_fingerprints(made, tmp_path):
    def edit(report):
        rnn = next(r for r in report["runs"] if r["cell"] == "rnn")
        rnn["curve"][1]["loss"] += 1e-6
        edit.threads = rnn["fingerprint"]["intra_op_threads"]
        rnn["fingerprint"]["intra_op_threads"] += 1
    copy = _copy(made, tmp_path, edit, run=None)
    shutil.rmtree(os.path.join(copy, "runs"))  # the rows are all it has
    code, out, err = run_cli(["compare", made, copy])
    assert code == 0, err
    explained = [line for line in out.splitlines() if "differs bit for bit" in line]
    assert explained == ["rnn seed 0 differs bit for bit -- %s: intra-op threads %d in A, %d "
                         "in B" % (causes.EXPECTED, edit.threads, edit.threads + 1)]


@ON_37
def test_compare_names_a_settings_difference_first(made, tmp_path_factory):
    longer = _report(tmp_path_factory, "longer", "--steps", "401", "--cells", "rnn",
                     "--seeds", "1")
    code, out, err = run_cli(["compare", made, longer])
    assert code == 0, err
    explained = [line for line in out.splitlines() if "differs bit for bit" in line]
    assert explained == ["rnn seed 0 differs bit for bit -- %s: settings differ: steps 201 in "
                         "A, 401 in B" % causes.EXPECTED], out
    assert causes.DEFECT not in out.split("\nrule: ")[0]


def _classed(vendor, l1d, verdict, fms="6/167/1"):
    """A report of one LSTM run on one machine class, with one claim's verdict."""
    fingerprint = {"cpu_vendor": vendor, "l1d_kib": l1d, "family_model_stepping": fms,
                   "kernel_path": "jit_avx512_common_gemm_f32"}
    return {"settings": {"reference_env": "tf1.15.5-py3.7"}, "environment": {},
            "claims": [{"claim": "c", "verdict": verdict}],
            "runs": [{"cell": "lstm", "seed": 0, "environment": "tf1.15.5-py3.7",
                      "fingerprint": fingerprint if vendor else {}}]}


@pytest.mark.fast
@pytest.mark.parametrize("change, summary", [
    ({}, "holds on the 2 classes compared"),
    ({"steps": 401}, "the reports differ in settings (steps 10000 in A, 401 in B): no verdict "
                     "across machines"),
    ({"threads": 2}, "the reports differ in settings (threads 1 in A, 2 in B)"),
    ({"seeds": [0, 1]}, "the reports differ in settings (seeds 0,1,2,3,4 in A, 0,1 in B)"),
    ({"jobs": 1, "cells": ["lstm"]}, "holds on the 2 classes compared"),  # numbers unchanged
])
def test_a_machine_verdict_needs_equal_settings(change, summary):
    """#39: two classes give a machine verdict only where the reports' settings are equal."""
    reports = [_classed("GenuineIntel", 48, "reproduced"), _classed("AuthenticAMD", 32,
                                                                    "reproduced")]
    for report in reports:
        report["settings"].update(seeds=[0, 1, 2, 3, 4], steps=10000, threads=1, jobs=2)
    reports[1]["settings"].update(change)
    lines = compare.by_class(reports, ["A", "B"])
    assert summary in lines[-2], lines


@pytest.mark.fast
@pytest.mark.parametrize("reports, summary", [
    ([("GenuineIntel", 48, "reproduced"), ("AuthenticAMD", 32, "reproduced")],
     "holds on the 2 classes compared"),
    ([("GenuineIntel", 48, "reproduced"), ("AuthenticAMD", 32, "partly reproduced")],
     "the verdict depends on the machine"),
    # the same model under another L1d size is another class
    ([("GenuineIntel", 48, "reproduced"), ("GenuineIntel", 32, "partly reproduced")],
     "the verdict depends on the machine"),
    # one class twice, or a class not recorded: no verdict across machines
    ([("GenuineIntel", 48, "reproduced"), ("GenuineIntel", 48, "partly reproduced")],
     "one class only: no verdict across machines"),
    ([("GenuineIntel", 48, "reproduced"), (None, None, "partly reproduced")],
     "one class only: no verdict across machines"),
])
def test_claims_by_machine_class_on_both_sides_of_the_rule(reports, summary):
    lines = compare.by_class([_classed(*r) for r in reports], ["A", "B"])
    assert lines[-2].endswith("-- " + summary), lines
    assert lines[-1] == "rule: " + compare.CLASS_RULE
    if reports[1][0] is None:
        assert lines[2] == "  B: not recorded"
    else:
        assert lines[1].startswith("  A: Intel 6/167/1, L1d 48 KiB")


@ON_37
def test_verify_keeps_a_record_and_the_plan_expects_what_it_found(made, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(made, copy)
    shutil.rmtree(os.path.join(copy, "verifications"), ignore_errors=True)  # other tests' verifies
    started = time.time()
    code, out, err = run_cli(["verify", copy, "--plan"])
    assert code == 0 and time.time() - started < 10, err
    assert "but the report's runs were made on it: expect identical" in out
    code, out, err = _verify(copy, "--no-record")
    assert code == 0 and not os.path.exists(os.path.join(copy, "verifications")), err
    code, out, err = _verify(copy)
    assert code == 0, err
    assert "verify: recorded in %s/verifications and report.md's \"Verified on\"" % copy in out
    [name] = os.listdir(os.path.join(copy, "verifications"))
    with open(os.path.join(copy, "verifications", name)) as f:
        record = json.load(f)
    assert record["verdict"] == "identical" and [r["run"] for r in record["runs"]] == \
        ["rnn-seed0"] and record["runs"][0]["steps"] == 201
    code, out, err = run_cli(["verify", copy, "--plan"])
    assert code == 0 and "verified on %s (1 runs): identical" % record["when"][:10] in out, err
    code, out, err = run_cli(REPORT + ["--steps", "201", "--cells", "rnn", "--seeds", "2",
                                       "--out", copy])  # assembled again: the table stays
    assert code == 0 and "2 already finished, 0 to train" in out, err
    with open(os.path.join(copy, "report.md")) as f:
        assert f.read().count("## Verified on") == 1
