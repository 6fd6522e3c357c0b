"""An emulated CPU without AVX-512 (Debian's qemu-user, `-cpu EPYC-Milan`) takes the other
sgemm kernel path: the run's fingerprint says so (from CPUID, which the emulator answers), and
its first printed values are the older 5-seed report's, made on a host whose CPU was not
recorded. QEMU computes the approximate reciprocal instructions exactly, so only step 0 is
evidence about the kernel path (docs/reproducibility.md)."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tf1_lstm.util import environment

from conftest import DATA_DIR, REPO, assert_no_traceback

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not shutil.which("qemu-x86_64"), reason="needs qemu-user (apt-get install "
    "--no-install-recommends qemu-user)")]
OLDER = os.path.join(REPO, "reports", "mnist-5seeds-10000steps", "runs", "rnn-seed2")


def test_an_emulated_cpu_without_avx512_is_recorded_and_gives_the_older_step_0(tmp_path):
    out = str(tmp_path / "run")
    python = os.path.realpath(sys.executable)  # qemu runs the interpreter, argv[0] the venv's
    # Step 0 is all the evidence there is, and under the emulator the test accuracy at a run's
    # end (10,000 images) takes most of its time (a 1-step run: 22.5 min on the Intel class,
    # under load): the run is stopped after its step-0 line, as a Ctrl-C would stop it, and
    # writes its records as an interrupted run (81 s there).
    proc = subprocess.Popen(
        ["qemu-x86_64", "-cpu", "EPYC-Milan", "-0", sys.executable, python, "-m", "tf1_lstm",
         "train", "--cell", "rnn", "--seed", "2", "--steps", "200", "--threads", "1",
         "--data-dir", DATA_DIR, "--out", out], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    try:
        lines = []
        for line in proc.stdout:  # the tool flushes each line
            lines.append(line)
            if line.startswith("train accuracy ="):
                proc.send_signal(signal.SIGTERM)
                break
        rest, err = proc.communicate(timeout=1200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = "".join(lines) + rest
    assert proc.returncode == 130, err[-2000:]  # stopped, as asked
    assert_no_traceback(stdout, err)
    with open(os.path.join(out, "metrics.json")) as f:
        emulated = json.load(f)
    with open(os.path.join(OLDER, "metrics.json")) as f:
        older = json.load(f)
    fp = emulated["fingerprint"]
    host = environment.cpu_id()["family_model_stepping"]  # /proc/cpuinfo: the real CPU's
    assert (fp["kernel_path"], fp["family_model_stepping"]) == ("jit_avx_gemm_f32", "25/1/1"), fp
    assert fp["emulated"] == (host != "25/1/1"), (fp, host)
    assert emulated["status"] == "interrupted" and emulated["curve"][0]["step"] == 0
    first = ("train_accuracy", "loss")
    assert [emulated["curve"][0][k] for k in first] == [older["curve"][0][k] for k in first]
