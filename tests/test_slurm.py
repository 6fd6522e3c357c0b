"""`report --cluster slurm` against a real SLURM (munged, slurmctld, slurmd) that the tests
start under a temp folder, on loopback and ports of their own: the same numbers as the
embedded cluster, runs trained in SLURM jobs, a cancelled job's run trained again, and every
bad case one line with nothing left in the queue."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tf1_lstm.util import tfenvs

import slurm_cluster
from conftest import DATA_DIR, REPO, Cli, on_37, one_line, run_cli

WHY = slurm_cluster.missing()
pytestmark = [pytest.mark.skipif(WHY is not None, reason=WHY or ""), on_37(
    "the jobs' workers run the engine code of the embedded report, which 3.6 runs; what SLURM "
    "adds (sbatch, squeue, scancel) does not depend on the Python")]
REPORT = ["report", "--seeds", "1", "--steps", "1001", "--threads", "1", "--no-repeat",
          "--no-throughput", "--data-dir", DATA_DIR]


@pytest.fixture(scope="module")
def slurm():
    cluster = slurm_cluster.Slurm().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def env(slurm):
    """The client's settings: this SLURM, the workers on loopback, a short death timeout."""
    yield dict(slurm.env(), DASK_JOBQUEUE__SLURM__INTERFACE="lo",
               DASK_JOBQUEUE__SLURM__DEATH_TIMEOUT="10")
    assert _queue_empties(slurm), slurm.jobs()  # no test leaves a job behind


def _queue_empties(slurm, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        if not slurm.jobs():
            return True
        time.sleep(0.5)
    return False


def _running(slurm, env, out, **cli):
    """A `report --cluster slurm --jobs 2` into `out`, once both of its jobs run."""
    proc = Cli(REPORT + ["--cluster", "slurm", "--jobs", "2", "--out", out],
               env=dict(os.environ, **env), **cli)
    deadline = time.time() + 120
    while time.time() < deadline and len([j for j in slurm.jobs() if j[1] == "RUNNING"]) < 2:
        time.sleep(0.5)
    return proc


def _numbers(out):
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    printed = ("step", "train_accuracy", "loss")  # not the wall-clock "elapsed"
    return report, {(r["cell"], r["seed"]): ([[p[k] for k in printed] for p in r["curve"]],
                                             r["test_accuracy"]) for r in report["runs"]}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("embedded") / "report")
    code, _, err = run_cli(REPORT + ["--jobs", "2", "--out", out])
    assert code == 0, err
    return _numbers(out)[1]


def test_a_report_through_slurm_equals_the_embedded_one(env, embedded, tmp_path):
    out = str(tmp_path / "report")
    code, stdout, err = run_cli(REPORT + ["--cluster", "slurm", "--jobs", "2", "--out", out],
                                env_extra=env)
    assert code == 0, err
    assert "2 SLURM jobs asked for" in stdout and "on SLURM jobs" in stdout, stdout
    report, numbers = _numbers(out)
    assert numbers == embedded  # every curve and test accuracy, bit for bit
    assert report["engine"]["cluster"] == "slurm" and report["engine"]["jobs"] == 2
    jobs = {r["slurm_job"] for r in report["runs"]}
    assert None not in jobs
    logs = os.listdir(os.path.join(out, "logs", "slurm"))
    assert {"dask-worker-%s.out" % job for job in jobs} <= set(logs), logs


def test_a_job_cancelled_mid_run_is_replaced_and_its_run_trained_again(env, embedded, slurm,
                                                                       tmp_path):
    out = str(tmp_path / "report")
    proc = _running(slurm, env, out)
    time.sleep(4)  # both runs under way
    first = sorted(slurm.jobs())[0][0]
    assert slurm.scontrol("show", "job", first).returncode == 0
    slurm._run("scancel", first)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    report, numbers = _numbers(out)
    assert numbers == embedded
    assert first not in {r["slurm_job"] for r in report["runs"]}  # none finished in it


def test_no_sbatch_on_path(env, tmp_path):
    code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--out", str(tmp_path / "r")],
                           env_extra=dict(env, PATH=str(tmp_path)))
    assert "sbatch, which is not on PATH" in one_line(code, err)


def test_slurm_refusing_the_job_is_quoted(env, tmp_path):
    start = time.time()
    code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--out", str(tmp_path / "r")],
                           env_extra=dict(env, DASK_JOBQUEUE__SLURM__QUEUE="nope"))
    line = one_line(code, err)
    assert "SLURM refuses the report's job" in line and "invalid partition" in line, line
    assert time.time() - start < 60


def test_jobs_pending_past_the_deadline_name_the_reason(env, slurm, tmp_path):
    blocker = slurm._run("sbatch", "--parsable", "-c", str(slurm.cpus), "-o", "/dev/null",
                         "--wrap", "sleep 600").stdout.strip()  # every core of the node, taken
    try:
        code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--jobs", "2", "--slurm-wait",
                                         "5", "--out", str(tmp_path / "r")], env_extra=env)
    finally:
        slurm._run("scancel", blocker)
    line = one_line(code, err)
    assert "no SLURM job of the report ran within 5 s" in line, line
    assert "PENDING (Resources)" in line and "--slurm-wait" in line, line


def test_all_jobs_lost_mid_report_keeps_the_finished_runs(env, slurm, tmp_path):
    out = str(tmp_path / "report")
    proc = Cli(REPORT[:2] + ["3"] + REPORT[3:] + ["--cluster", "slurm", "--jobs", "2",
                                                  "--slurm-wait", "10", "--out", out],
               env=dict(os.environ, **env))
    runs = os.path.join(out, "runs")
    deadline = time.time() + 900  # a busy machine starts jobs late
    while time.time() < deadline and not (os.path.isdir(runs) and os.listdir(runs)):
        time.sleep(0.5)
    assert os.path.isdir(runs) and os.listdir(runs), "no run finished: nothing to keep"
    node = "nodename=" + slurm_cluster.NODE
    slurm.scontrol("update", node, "state=drain", "reason=test")
    try:
        for job, _, _ in slurm.jobs():
            slurm._run("scancel", job)
        _, err = proc.communicate(timeout=300)
    finally:
        slurm.scontrol("update", node, "state=resume")
        slurm.wait_idle()  # the next test's sbatch --test-only needs the node back
    line = one_line(proc.returncode, err)
    kept = len(os.listdir(runs))
    assert "no SLURM job of the report has run for 10 s" in line, line
    assert "%d finished runs are kept: rerun with --out %s" % (kept, out) in line, line


def test_a_killed_client_leaves_no_job_behind(env, slurm, tmp_path):
    proc = _running(slurm, env, str(tmp_path / "r"), traceback_ok=True)
    assert slurm.jobs(), (proc.poll(), proc.poll() is not None and proc.communicate())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _queue_empties(slurm, within=60), slurm.jobs()  # within the workers' death timeout


def test_slurm_with_a_scheduler_is_refused(env, tmp_path):
    code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--scheduler", "tcp://127.0.0.1:1",
                                     "--out", str(tmp_path / "r")], env_extra=env)
    assert "give one of them" in one_line(code, err)


def test_slurm_on_python_3_11_is_one_line(env, tmp_path):
    python = tfenvs.interpreter("tf2.15.1-py3.11")
    if python is None or python == sys.executable:
        pytest.skip("needs the TF 2.15.1 environment (./run setup --tf 2.15.1)")
    done = subprocess.run([python, "-m", "tf1_lstm"] + REPORT + [
        "--cluster", "slurm", "--out", str(tmp_path / "r")], cwd=REPO,
        env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)
    assert "this Python (3.11)" in one_line(done.returncode, done.stderr)


def test_ctrl_c_cancels_every_job(env, slurm, tmp_path):
    out = str(tmp_path / "report")
    proc = _running(slurm, env, out)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "rerun with --out %s to resume" % out in one_line(proc.returncode, err, expected=130)
    assert _queue_empties(slurm, within=30), slurm.jobs()


CLOSE_MANY = """
import subprocess, sys
from tf1_lstm.studies import engine
for i in range(int(sys.argv[1])):
    with engine.Engine(None, 2, "slurm", logs=sys.argv[2], options={"slurm_wait": 120}) as e:
        assert e.client.submit(sum, [1, 2], pure=False).result() == 3
    queue = subprocess.run(["squeue", "-h", "-o", "%i %T"], stdout=subprocess.PIPE,
                           universal_newlines=True, check=True).stdout.split()
    print("closed; queue:", queue, flush=True)
"""


def test_closing_again_and_again_prints_nothing_and_leaves_no_job(env, slurm, tmp_path):
    """The cluster closes only once its jobs are gone (no worker can reach a closed listener,
    which distributed logged as a tornado error after a report): 8 starts and closes."""
    done = subprocess.run([sys.executable, "-c", CLOSE_MANY, "8", str(tmp_path / "logs")],
                          cwd=REPO, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=900)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.count("closed; queue: []") == 8, done.stdout


def test_one_thread_per_job_by_default_and_a_finished_report_asks_for_no_job(env, tmp_path):
    out = str(tmp_path / "report")
    threads = REPORT.index("--threads")
    without_threads = REPORT[:threads] + REPORT[threads + 2:] + [
        "--steps", "201", "--cluster", "slurm", "--jobs", "2", "--out", out]
    code, _, err = run_cli(without_threads, env_extra=env)
    assert code == 0, err
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert report["settings"]["threads"] == 1  # not this machine's cores / --jobs
    assert {r["fingerprint"]["intra_op_threads"] for r in report["runs"]} == {1}
    logs = sorted(os.listdir(os.path.join(out, "logs", "slurm")))
    code, stdout, err = run_cli(without_threads, env_extra=env)
    assert code == 0, err
    assert "2 runs, 2 already finished, 0 to train" in stdout, stdout
    assert "SLURM jobs asked for" not in stdout
    assert sorted(os.listdir(os.path.join(out, "logs", "slurm"))) == logs  # no job ran
    with open(os.path.join(out, "report.json")) as f:
        assert json.load(f)["engine"] == report["engine"]


def test_a_controller_that_does_not_answer_is_named(env, slurm, tmp_path):
    conf = str(tmp_path / "slurm.conf")
    with open(slurm.conf) as f:
        text = f.read()
    port = slurm_cluster._free_port()  # nothing listens there
    with open(conf, "w") as f:
        f.write("\n".join("SlurmctldPort=%d" % port if line.startswith("SlurmctldPort=")
                          else line for line in text.splitlines()) + "\n")
    out = tmp_path / "r"
    code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--out", str(out)],
                           env_extra=dict(env, SLURM_CONF=conf))
    line = one_line(code, err)
    assert "SLURM's controller does not answer" in line and "start slurmctld" in line, line
    assert not out.exists()  # a refused start leaves no folder behind


def test_jobs_that_die_as_they_start_point_to_their_log(env, tmp_path):
    out = tmp_path / "r"
    out.mkdir()  # the user's folder: kept; what the report made in it: removed
    code, _, err = run_cli(REPORT + ["--cluster", "slurm", "--jobs", "1", "--slurm-wait", "10",
                                     "--out", str(out)],
                           env_extra=dict(env, DASK_JOBQUEUE__SLURM__EXTRA='["--no-such-flag"]'))
    line = one_line(code, err)
    assert "no SLURM job of the report ran within 10 s to start" in line, line
    assert "says why in its log; the newest: %s" % os.path.join(str(out), "logs", "slurm") \
        in line, line
    log = line.split("the newest: ")[1]
    with open(log) as f:
        assert "Unknown argument" in f.read()  # dask-worker refused --no-such-flag
