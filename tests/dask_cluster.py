"""Dask clusters as tests start them: a scheduler and workers as processes (on loopback or on
network hosts), every process tagged with the test's token, and what a report's numbers are."""

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid

import psutil

from conftest import DATA_DIR, REPO, Cli, run_cli

BIN = os.path.dirname(sys.executable)
QUICK = ["report", "--seeds", "2", "--cells", "lstm,rnn", "--steps", "200", "--no-repeat",
         "--no-throughput", "--data-dir", DATA_DIR]


def tagged_env(token, **extra):
    """The environment of every process a test starts: the token finds them all later."""
    return dict(os.environ, TF1_LSTM_TEST_TOKEN=token, TF_CPP_MIN_LOG_LEVEL="2", **extra)


def report(args, token, timeout=600, **env):
    return run_cli(args, env=tagged_env(token, **env), timeout=timeout)


def start_report(args, token):
    return Cli(args, env=tagged_env(token))


def wait_until(condition, timeout=120):
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.2)


@contextlib.contextmanager
def cluster(tmp_path, token, workers=2, worker_env=None, tls=(), hosts=None, client_env=None):
    """dask-scheduler and `workers` dask-worker processes: (address, worker procs).

    All on 127.0.0.1, or each on its own network host: hosts = [(command prefix, address)],
    the scheduler's first (e.g. ["ip", "netns", "exec", NAME], "10.77.0.2"), then a client's,
    then one per worker. `tls`: the --tls-* flags the scheduler and workers take."""
    hosts = hosts or [([], "127.0.0.1")] * (workers + 2)
    protocol = ["--protocol", "tls"] if tls else []
    scheduler_file = str(tmp_path / ("scheduler-%s.json" % uuid.uuid4().hex[:8]))
    procs = [subprocess.Popen(hosts[0][0] + [
        os.path.join(BIN, "dask-scheduler"), "--host", hosts[0][1], "--port", "0",
        "--no-dashboard", "--scheduler-file", scheduler_file] + protocol + list(tls),
        env=tagged_env(token), cwd=str(tmp_path), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)]
    try:
        address = scheduler_address(scheduler_file)
        workers_procs = [subprocess.Popen(prefix + [
            os.path.join(BIN, "dask-worker"), address, "--nthreads", "1", "--no-nanny",
            "--no-dashboard", "--host", host] + protocol + list(tls), cwd=REPO,
            env=tagged_env(token, **(worker_env or {})), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL) for prefix, host in hosts[2:2 + workers]]
        procs += workers_procs
        wait_for_workers(address, workers, hosts[1][0], tagged_env(token, **(client_env or {})))
        yield address, workers_procs
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def scheduler_address(scheduler_file, timeout=60):
    """The address in dask-scheduler's --scheduler-file, once the file is whole: the scheduler
    writes it in place, so it can exist and be empty for a moment."""
    deadline = time.time() + timeout
    while True:
        try:
            with open(scheduler_file) as f:
                return json.load(f)["address"]
        except (OSError, ValueError, KeyError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


WAIT = ("import sys\nfrom tf1_lstm.studies.engine import Engine\n"
        "with Engine(sys.argv[1]) as cluster:\n"
        "    cluster.client.wait_for_workers(int(sys.argv[2]))")


def wait_for_workers(address, n, prefix, env):
    """From the client's host, with the client's settings (a TLS cluster's among them)."""
    subprocess.run(prefix + [sys.executable, "-c", WAIT, address, str(n)], cwd=REPO, env=env,
                   check=True, timeout=120)


TASK = "tf1_lstm.task"  # a run's training process: python -m tf1_lstm.task ...


def training_children(proc):
    """The training processes of runs started under a worker process."""
    try:
        return [p for p in psutil.Process(proc.pid).children(recursive=True)
                if TASK in p.cmdline()]
    except psutil.NoSuchProcess:
        return []


def numbers(out):
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    return rep, [(r["cell"], r["seed"], r["test_accuracy"], [p["loss"] for p in r["curve"]])
                 for r in rep["runs"]]
