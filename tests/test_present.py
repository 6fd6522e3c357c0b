"""Cache sizes presented to CPUID (util/present.py, verify --present-caches), on this machine's
real CPU: a run trained while CPUID reported another L1d size is expected to differ here, and
verify presenting the recorded sizes gives it back bit for bit. Where CPUID faulting, an Intel
CPU or a compiler is missing, the tests skip with the reason and the flag refuses in one line."""

import json
import os

import pytest

from tf1_lstm.util import cpuid, present

from conftest import DATA_DIR, REPO, on_37, one_line, run_cli

WHY = present.unavailable()
needs_faulting = pytest.mark.skipif(WHY is not None, reason=WHY or "")
ON_37 = on_37("the shim is the same under 3.6's TF 1.15.5")


@pytest.mark.fast
def test_the_shim_is_told_sizes_in_kib_level_by_level():
    assert present.text({"L1d": 32, "L2": 1024, "L3": None}) == "L1d=32,L2=1024"
    found = present.environ("/x/shim.so", {"L1d": 24})
    assert found[present.CACHES_ENV] == "L1d=24" and found["LD_PRELOAD"].startswith("/x/shim.so")


@ON_37
@needs_faulting
def test_a_run_made_under_other_cache_sizes_is_reproduced_by_presenting_them(tmp_path):
    """L1d 32 KiB (the AMD class's) against 48 KiB (the Intel class's): they part at step 0
    (docs/reproducibility.md)."""
    here = cpuid.read()["caches"]["L1d"]
    other = 32 if here != 32 else 48
    shim = present.build(str(tmp_path))
    out = str(tmp_path / "report")
    code, _, err = run_cli(["report", "--seeds", "1", "--cells", "lstm", "--steps", "201",
                            "--jobs", "1", "--threads", "1", "--no-repeat", "--no-throughput",
                            "--data-dir", DATA_DIR, "--out", out],
                           env_extra=present.environ(shim, {"L1d": other}))
    assert code == 0, err
    with open(os.path.join(out, "report.json")) as f:
        fingerprint = json.load(f)["runs"][0]["fingerprint"]
    assert (fingerprint["l1d_kib"], fingerprint["cpuid_presented"]) == (other, "L1d=%d" % other)
    code, plain, err = run_cli(["verify", out, "--data-dir", DATA_DIR])
    assert code == 1, err
    assert "differs at step 0: loss" in plain and \
        "expected: L1d size (CPUID) %d KiB recorded, %d KiB here" % (other, here) in plain, plain
    code, presented, err = run_cli(["verify", out, "--present-caches", "--data-dir", DATA_DIR])
    assert code == 0, err
    assert "presenting the recorded cache sizes to CPUID (L1d %d KiB, L2 " % other in presented
    assert "lstm-seed0   identical (4 values compared: 2 logged points)" in presented, presented


def test_a_report_without_cache_sizes_is_refused_in_one_line():
    older = os.path.join(REPO, "reports", "mnist-5seeds-10000steps")
    code, _, err = run_cli(["verify", older, "--present-caches", "--runs", "1"])
    line = one_line(code, err)
    assert (WHY or "records no cache sizes") in line, line
