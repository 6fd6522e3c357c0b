"""Verification records (studies.tools.verified): their format and seal, report.md's table
rebuilt from them, an edited or newer record, a read-only report, two verifies at once, and
what `verify --plan` expects from them on fixed classes on both sides."""

import json
import os
import subprocess
import sys

import pytest

from tf1_lstm.studies.tools import verified

from conftest import REPO

INTEL = {"cpu_vendor": "GenuineIntel", "family_model_stepping": "6/167/1",
         "kernel_path": "jit_avx512_common_gemm_f32", "l1d_kib": 48, "l2_kib": 2048,
         "l3_kib": 491520, "intra_op_threads": 1, "tensorflow": "1.15.5"}
AMD_AVX2 = dict(INTEL, cpu_vendor="AuthenticAMD", family_model_stepping="25/1/1",
                kernel_path="jit_avx_gemm_f32", l1d_kib=32, l2_kib=512, l3_kib=32768)


def _report(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "report.md").write_text("# Report\n\ntext\n")
    return str(folder)


def _kept(folder, fingerprint=INTEL, verdict="identical"):
    new = verified.record(fingerprint, 401, [("lstm-seed0", 401, verdict)], verdict, "the rule")
    assert verified.keep(folder, new) is None
    return new


@pytest.mark.fast
def test_a_record_holds_its_class_runs_and_seal_and_report_md_its_table(tmp_path):
    folder = _report(tmp_path)
    new = _kept(folder)
    assert list(new) == list(verified.FIELDS)
    assert new["class"] == {k: INTEL[k] for k, _ in verified.CLASS}
    assert new["runs"] == [{"run": "lstm-seed0", "steps": 401, "verdict": "identical"}]
    assert new["seal"] == verified.seal_of(new) and len(new["seal"]) == 64
    [name] = os.listdir(os.path.join(folder, verified.FOLDER))
    with open(os.path.join(folder, verified.FOLDER, name)) as f:
        assert json.load(f) == json.loads(json.dumps(new))
    _kept(folder, AMD_AVX2, "4 differs, expected")
    with open(os.path.join(folder, "report.md")) as f:
        text = f.read()
    assert text.startswith("# Report\n\ntext\n\n" + verified.BEGIN)
    assert text.count("## Verified on") == 1 and text.endswith(verified.END + "\n")
    assert "| GenuineIntel 6/167/1, jit_avx512_common_gemm_f32, L1d 48 KiB, L2 2048 KiB, L3 " \
           "491520 KiB, 1 thread | %s | 1 (401 steps) | identical |" % new["when"][:10] in text
    assert "25/1/1, jit_avx_gemm_f32" in text and "| 4 differs, expected |" in text


@pytest.mark.fast
def test_an_edited_record_is_named_and_left_out_and_a_newer_one_shown_not_trusted(tmp_path):
    folder = _report(tmp_path)
    _kept(folder)
    records = os.path.join(folder, verified.FOLDER)
    [name] = os.listdir(records)
    path = os.path.join(records, name)
    with open(path) as f:
        record = json.load(f)
    edited = dict(record, verdict="identical!")
    with open(path, "w") as f:
        json.dump(edited, f)
    newer = dict(record, schema=verified.SCHEMA + 1, version="9.9.9", extra={"new": 1})
    newer["seal"] = verified.seal_of(newer)
    with open(os.path.join(records, "z-newer.json"), "w") as f:
        json.dump(newer, f)
    trusted, others = verified.read(folder)
    assert trusted == []
    assert [(p, why) for p, why, _ in others] == [
        (os.path.join(verified.FOLDER, name), "edited after it was made (its seal): left out"),
        (os.path.join(verified.FOLDER, "z-newer.json"),
         "made by a newer tf1-lstm (9.9.9): shown, not trusted")]
    text = "\n".join(verified.table(folder))
    assert "edited after it was made" in text and "shown, not trusted" in text
    assert "no record of any class" in verified.expect(folder, INTEL, [])  # neither counts


@pytest.mark.fast
@pytest.mark.parametrize("here, records, made_on, expected", [
    (INTEL, [INTEL], [], "this machine's class (GenuineIntel 6/167/1, "
     "jit_avx512_common_gemm_f32, L1d 48 KiB, L2 2048 KiB, L3 491520 KiB, 1 thread) was "
     "verified on"),
    (dict(INTEL, intra_op_threads=2), [INTEL], [], "differs in threads; expect other bits"),
    (AMD_AVX2, [INTEL], [], "the nearest recorded class (GenuineIntel 6/167/1"),
    (AMD_AVX2, [dict(AMD_AVX2, l2_kib=1024)], [INTEL], "differs in L2 KiB; expect other bits"),
    (INTEL, [], [INTEL], "but the report's runs were made on it: expect identical"),
    (AMD_AVX2, [], [], "no record of any class, and the report's runs record no CPU"),
])
def test_the_plan_reads_the_records_against_this_class(tmp_path, here, records, made_on,
                                                       expected):
    folder = _report(tmp_path)
    for fingerprint in records:
        _kept(folder, fingerprint)
    assert expected in verified.expect(folder, here,
                                       [verified.machine_class(c) for c in made_on])


@pytest.mark.fast
def test_a_read_only_report_keeps_no_record_and_says_so(tmp_path):
    folder = _report(tmp_path)
    point = str(tmp_path / "ro")
    os.makedirs(point)
    if subprocess.call(["mount", "--bind", folder, point], stderr=subprocess.DEVNULL) != 0:
        pytest.skip("needs permission to bind-mount (root)")
    try:
        subprocess.check_call(["mount", "-o", "remount,bind,ro", point])
        new = verified.record(INTEL, 401, [], "identical", "the rule")
        said = verified.keep(point, new)
    finally:
        subprocess.call(["umount", point])
    assert said == "the record was not kept: %s is not writable here" % point
    assert os.listdir(folder) == ["report.md"]


KEEP = """
import sys
from tf1_lstm.studies.tools import verified
for k in range(20):
    new = verified.record({"cpu_vendor": sys.argv[2]}, 1, [], "identical", "rule")
    new["when"] += "-%d" % k  # a name of its own for each of this process's records
    new["seal"] = verified.seal_of(new)
    assert verified.keep(sys.argv[1], new) is None
"""


@pytest.mark.fast
def test_two_verifies_at_once_keep_both_records(tmp_path):
    """Two processes keeping records into one report at once, 20 each: every record kept and
    in report.md's table (the lock is waited for, not a lost write)."""
    folder = _report(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", KEEP, folder, vendor], cwd=REPO)
             for vendor in ("Vendor-A", "Vendor-B")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(os.listdir(os.path.join(folder, verified.FOLDER))) == 40
    trusted, others = verified.read(folder)
    assert len(trusted) == 40 and others == []
    with open(os.path.join(folder, "report.md")) as f:
        text = f.read()
    assert text.count("| Vendor-A ") == 20 and text.count("| Vendor-B ") == 20


@pytest.mark.fast
def test_the_readmes_class_table_says_what_each_reports_records_say():
    """Each row of the README's machine-class table: its report's records' summary in the last
    column, and every committed report's records are sealed and trusted."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    head = ("| machine class | report | LSTM (5 seeds) | RNN per seed | verdicts | verified on "
            "(its records) |")
    rows = text[text.index(head):].split("\n\n")[0].splitlines()[2:]
    assert len(rows) == 3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        report = os.path.join(REPO, cells[1].split("`")[1])
        assert cells[-1] == verified.summary(report), row
    for name in os.listdir(os.path.join(REPO, "reports")):
        folder = os.path.join(REPO, "reports", name)
        if os.path.isdir(folder):
            assert verified.read(folder)[1] == [], name
