"""On a worker: train one run as a `tf1-lstm train` subprocess in a scratch folder, and send
back its files; stop it once the study no longer wants it."""

import os
import signal
import socket
import subprocess
import time

from tf1_lstm.core import datasets, settings
from tf1_lstm.core.checkpoints import STEPS_DIR
from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.engine.spec import RunError
from tf1_lstm.util import scratch, tfenvs
from tf1_lstm.util.files import remove_quietly

LOG_TAIL = 6  # lines of a failed run's log quoted in the error
SCHEDULER_LOST = 10  # seconds a worker without its scheduler goes on training before it stops
ALWAYS = ("cell", "seed", "steps")  # given even at their defaults: diagnose's cell is rnn


def train_command(run, run_dir, data_dir=None, mirrors=()):
    """The argv that trains `run` into run_dir on this worker, with its environment's Python."""
    try:
        python = tfenvs.ready(run.env)
    except ValueError as err:
        raise RunError("run %s: %s" % (run.name, err))
    argv = [python, "-m", "tf1_lstm", run.command, "--out", run_dir]
    argv += settings.argv(run.values(), always=ALWAYS) + list(run.flags)
    # A folder is where one machine keeps things: a worker without the client's data folder
    # (or mirror folder) uses its own data, verified by checksum as always.
    if data_dir and os.path.isdir(data_dir):
        argv += ["--data-dir", data_dir]
    return argv + [arg for mirror in mirrors if "://" in mirror or os.path.isdir(mirror)
                   for arg in ("--mirror", mirror)]


def _die_with_parent():
    """In the child: SIGTERM when the worker thread that started it dies (a killed worker
    must not leave a training process behind; SIGTERM makes it save and stop)."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Wanted:
    """Is the task still wanted? Not once the scheduler has released it (its client cancelled
    it, or is gone), nor once the worker has lost its scheduler for SCHEDULER_LOST seconds."""

    def __init__(self, worker):
        self.worker, self.key, self.lost_since = worker, worker.get_current_task(), None

    def connected(self):
        comm = self.worker.batched_stream.comm
        return comm is not None and not comm.closed()

    def __call__(self):
        if self.key not in self.worker.tasks:
            return False
        if self.connected():
            self.lost_since = None
            return True
        self.lost_since = self.lost_since or time.time()
        return time.time() - self.lost_since < SCHEDULER_LOST


def _wait(proc, wanted, every=0.5):
    """Wait for the run; once it is no longer wanted, terminate it (it saves and stops at the
    next step) and raise RunError. The wait itself sees the run's end at once."""
    try:
        while True:
            try:
                proc.wait(timeout=every)
                return
            except subprocess.TimeoutExpired:
                if not wanted():
                    raise RunError("stopped: the study no longer wants it")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()


def _collect(run_dir):
    """{relative path: bytes} of a run directory, without its step checkpoints."""
    files = {}
    for root, dirs, names in os.walk(run_dir):
        if root == run_dir and STEPS_DIR in dirs:
            dirs.remove(STEPS_DIR)
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, run_dir)] = f.read()
    return files


def _failure(run, code, log_text):
    """One line for a run that failed on this worker: a worker without data says so and how to
    give it some (the fetch errors behind it stay in the run's log); else the log's last lines."""
    lines = [line.strip() for line in log_text.strip().splitlines()]
    last = lines[-1] if lines else ""
    if " files missing from " in last:
        why = last.split(" Details: ")[0].split("error: ", 1)[-1]
        env = datasets.get(run.dataset).data_dir_env
        fix = ("(that folder is the worker's %s: copy the files into it)" % env
               if os.environ.get(env) else "Or set %s on the worker to a folder holding them"
               % env)
        return ("run %s failed on worker %s, which lacks data: %s %s"
                % (run.name, socket.gethostname(), why, fix))
    return "run %s failed (exit %d): %s" % (run.name, code, " / ".join(lines[-LOG_TAIL:]))


def train_task(run, data_dir, mirrors):
    """Runs on a worker: train `run` in a scratch folder and return it (see module doc)."""
    from distributed import get_worker
    worker, started = get_worker(), time.time()
    wanted = _Wanted(worker)
    if not wanted.connected():  # queued here before the scheduler was lost: its result is too
        raise RunError("%s: this worker has lost its scheduler" % run.name)
    folder = scratch.make("task")
    run_dir, log_path = os.path.join(folder, run.name), os.path.join(folder, "train.log")
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(train_command(run, run_dir, data_dir, mirrors), stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            scratch.lend(folder, proc.pid)
            _wait(proc, wanted)
        with open(log_path) as f:
            log_text = f.read()
        if proc.returncode != 0:
            raise RunError(_failure(run, proc.returncode, log_text))
        return {"name": run.name, "files": _collect(run_dir), "log": log_text,
                "scratch": run_dir, "host": socket.gethostname(), "worker": worker.address,
                "slurm_job": clusters.job_id(),
                "task_seconds": time.time() - started, "finished_at": time.time()}
    finally:
        remove_quietly(folder)
