"""On a worker: train one run in a process of its own in a scratch folder, and send back its
files; stop it once the study no longer wants it.

The worker contract: the run goes to that process (tf1_lstm.task) as one JSON task record
(core.task: the spec whole, as values) and comes back as one result record (finished, or the
error's kind, line and fields), never as argv text or log lines to parse; each end checks the
other speaks its version."""

import json
import os
import signal
import socket
import subprocess
import time

from tf1_lstm.core import datasets
from tf1_lstm.core.checkpoints import STEPS_DIR
from tf1_lstm.core.data import MissingData
from tf1_lstm.core.task import CONTRACT, PROCESS
from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.engine.spec import RunError
from tf1_lstm.util import scratch, tfenvs
from tf1_lstm.util.files import remove_quietly, write_json

LOG_TAIL = 6  # lines of a failed run's log quoted where a run ends without its result
SCHEDULER_LOST = 10  # seconds a worker without its scheduler goes on training before it stops


def task(spec, run_dir, data_dir=None, mirrors=()):
    """The task record of `spec`: its training process gets the spec whole, as values (the
    settings, the command's own options), never as argv text. A folder is where one machine
    keeps things: a worker without the client's data folder (or mirror folder) uses its own
    data, verified by checksum as always."""
    return {"contract": CONTRACT, "command": spec.command, "settings": spec.values(),
            "options": dict(spec.options), "run_dir": run_dir,
            "data_dir": data_dir if data_dir and os.path.isdir(data_dir) else None,
            "mirrors": [m for m in mirrors if "://" in m or os.path.isdir(m)]}


def task_command(spec, record, result):
    """The argv that starts `spec`'s training process on this worker, in its environment's
    Python, with its task record at `record` and its result to be written to `result`."""
    try:
        python = tfenvs.ready(spec.env)
    except tfenvs.EnvError as err:
        raise RunError("run %s: %s" % (spec.name, err))
    return [python, "-m", PROCESS, record, result]


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


def _failure(spec, code, result, log_text):
    """One line for a run that failed on this worker, from its result record: a worker without
    data says so and how to give it some (the fetch errors behind it stay in the run's log);
    another error is its own line; a process that ended without a result, its log's last
    lines."""
    error = (result or {}).get("error")
    if error and error.get("kind") == MissingData.kind:
        env = datasets.get(error.get("dataset")).data_dir_env
        fix = ("(that folder is the worker's %s: copy the files into it)" % env
               if os.environ.get(env) else "Or set %s on the worker to a folder holding them"
               % env)
        return ("run %s failed on worker %s, which lacks data: %s %s"
                % (spec.name, socket.gethostname(), error["summary"], fix))
    if error:
        return "run %s failed (exit %d): %s" % (spec.name, code, error["line"])
    lines = [line.strip() for line in log_text.strip().splitlines()]
    return "run %s failed (exit %d): %s" % (spec.name, code, " / ".join(lines[-LOG_TAIL:]))


def _result_record(spec, path):
    """The training process's result record, or None where it ended without writing one."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict):
        return None
    if result.get("contract") != CONTRACT:
        raise RunError("run %s: its training process answered in task contract %r, this "
                       "worker's tf1-lstm speaks %d: install one tf1-lstm version in every "
                       "environment of the workers" % (spec.name, result.get("contract"),
                                                       CONTRACT))
    return result


def train_task(spec, data_dir, mirrors):
    """Runs on a worker: train `spec` in a scratch folder and return it (see module doc)."""
    from distributed import get_worker
    worker, started = get_worker(), time.time()
    wanted = _Wanted(worker)
    if not wanted.connected():  # queued here before the scheduler was lost: its result is too
        raise RunError("%s: this worker has lost its scheduler" % spec.name)
    folder = scratch.make("task")
    run_dir, log_path = os.path.join(folder, spec.name), os.path.join(folder, "train.log")
    record, result = os.path.join(folder, "task.json"), os.path.join(folder, "result.json")
    try:
        write_json(record, task(spec, run_dir, data_dir, mirrors))
        with open(log_path, "w") as log:
            proc = subprocess.Popen(task_command(spec, record, result), stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            scratch.lend(folder, proc.pid)
            _wait(proc, wanted)
        with open(log_path) as f:
            log_text = f.read()
        answer = _result_record(spec, result)
        if proc.returncode != 0:
            raise RunError(_failure(spec, proc.returncode, answer, log_text))
        return {"name": spec.name, "files": _collect(run_dir), "log": log_text,
                "scratch": run_dir, "host": socket.gethostname(), "worker": worker.address,
                "job": clusters.job_id(),
                "task_seconds": time.time() - started, "finished_at": time.time()}
    finally:
        remove_quietly(folder)
