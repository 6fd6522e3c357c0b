"""Many training runs on Dask distributed: an embedded local cluster, or any cluster by address.

A task trains one run as a `tf1-lstm train` subprocess (so TF's graph, thread pools and signals
stay per run) in a temp directory on its worker, and sends back the run directory without its
step checkpoints; the client writes it under <out>/runs/<name>/ atomically. Nothing travels
through a shared filesystem. A finished run with the wanted settings is reused, so a report
interrupted at any point resumes by asking for the same runs again.
"""

import collections
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import NamedTuple, Optional, Tuple

from tf1_lstm.core import hparams
from tf1_lstm.core.checkpoints import STEPS_DIR
from tf1_lstm.core.training import COMPLETE, run_name
from tf1_lstm.studies import diagnose
from tf1_lstm.util import interrupts, quiet
from tf1_lstm.util.files import (atomic_dir, ensure_dir, read_json, remove_quietly, write_json,
                                 write_text)

MARKER = "engine.json"  # in every run directory the engine writes: where it was trained
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up
LOG_TAIL = 6  # lines of a failed run's log quoted in the error


class RunError(Exception):
    """A run failed, or a run directory is in the way; the message is one line naming it."""


class RunSpec(NamedTuple):
    """One run a study needs: its name under <out>/runs/ and the settings it is made with."""
    name: str                   # directory name under <out>/runs/, e.g. lstm-seed3
    cell: str                   # lstm, rnn or irnn
    seed: int                   # tf.set_random_seed / read_data_sets seed
    steps: int                  # training steps
    threads: Optional[int]      # TF thread pools per run; None: TF's default
    lr: float = hparams.LEARNING_RATE         # Adam's learning rate
    clip: Optional[float] = None              # global-norm clipping; None: off (the post's)
    forget_bias: float = hparams.FORGET_BIAS  # the LSTM's forget-gate bias
    command: str = "train"      # "train", or "diagnose" for a run with a diagnostics monitor
    test_at: Tuple[int, ...] = ()  # steps after which the run also measures test accuracy
    dataset: str = "mnist"      # the data set it reads


def spec(cell, seed, steps, threads, label=None, **changes):
    """The RunSpec named by the one naming rule (`<label or cell>-seed<N>`)."""
    return RunSpec(run_name(cell, seed, label), cell, seed, steps, threads, **changes)


# --- reuse -----------------------------------------------------------------------------------

# The settings a finished run must have been made with to be reused; a key missing from an
# older config.json means the post's default.
REUSE_KEYS = ("cell", "seed", "steps", "threads", "batch_size", "lr", "clip", "forget_bias",
              "test_at", "dataset")


def reusable(config, metrics, run):
    """Is a run directory with this config and metrics a finished run of `run`?"""
    def plain(value):  # JSON gives lists where the spec has tuples
        return list(value) if isinstance(value, (list, tuple)) else value

    wanted = dict(run._asdict(), batch_size=hparams.BATCH_SIZE)
    defaults = dict(RunSpec._field_defaults, batch_size=hparams.BATCH_SIZE)
    same = all(plain(config.get(k, defaults.get(k))) == plain(wanted[k]) for k in REUSE_KEYS)
    finished = (COMPLETE, diagnose.DIVERGED) if run.command == "diagnose" else (COMPLETE,)
    return same and metrics.get("status") in finished


def finished(run_dir, run):
    """The metrics of a finished run of `run` in run_dir; None if there is none; RunError if
    something else is there (the tool never deletes what it did not make, nor a finished run)."""
    if not os.path.lexists(run_dir):
        return None
    try:
        config = read_json(os.path.join(run_dir, "config.json"))
        metrics = read_json(os.path.join(run_dir, "metrics.json"))
    except (OSError, ValueError):
        config = metrics = None
    if isinstance(config, dict) and isinstance(metrics, dict) and reusable(config, metrics, run):
        return metrics
    what = "a run made with other settings" if isinstance(config, dict) else \
        "something that is not a finished tf1-lstm run"
    raise RunError("%s holds %s: move it away or use another --out (nothing was deleted)"
                   % (run_dir, what))


# --- on a worker -----------------------------------------------------------------------------

def train_command(run, run_dir, data_dir=None, mirrors=()):
    argv = [sys.executable, "-m", "tf1_lstm", run.command, "--cell", run.cell, "--seed",
            str(run.seed), "--steps", str(run.steps), "--out", run_dir]
    for flag, key in (("--threads", "threads"), ("--lr", "lr"), ("--clip", "clip"),
                      ("--forget-bias", "forget_bias")):
        value = getattr(run, key)
        if value is not None and value != RunSpec._field_defaults.get(key):
            argv += [flag, repr(value)]
    if run.command == "diagnose":
        argv += ["--every", str(diagnose.EVERY)]
    if run.test_at:
        argv += ["--test-at", ",".join(str(s) for s in run.test_at)]
    if run.dataset != RunSpec._field_defaults["dataset"]:
        argv += ["--dataset", run.dataset]
    if data_dir:
        argv += ["--data-dir", data_dir]
    for mirror in mirrors:
        argv += ["--mirror", mirror]
    return argv


def _die_with_parent():
    """In the child: SIGTERM when the worker thread that started it dies (a killed worker
    must not leave a training process behind; SIGTERM makes it save and stop)."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait(proc, stop):
    """Wait for the run; terminate it (it saves and stops at a step) if the study is stopped.

    The process itself is waited on, so its end is seen at once (a check once a second saw it
    up to a second late); a thread watches the study's stop event beside it.
    """
    stopped = threading.Event()

    def watch():
        while proc.poll() is None:  # None too while wait() below holds the process: go on
            if stop.wait(timeout=1):
                stopped.set()
                proc.terminate()
                return

    if stop is not None:
        threading.Thread(target=watch, name="stop-watch", daemon=True).start()
    try:
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    if stopped.is_set():
        raise RunError("stopped by the client")


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


def train_task(run, data_dir, mirrors, stop_name):
    """Runs on a worker: train `run` in a temp directory and return it (see module doc)."""
    from distributed import Event, get_worker
    stop = Event(stop_name) if stop_name else None
    scratch = tempfile.mkdtemp(prefix="tf1-lstm-task-")
    run_dir, log_path, started = os.path.join(scratch, run.name), scratch + ".log", time.time()
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(train_command(run, run_dir, data_dir, mirrors), stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            _wait(proc, stop)
        with open(log_path) as f:
            log_text = f.read()
        if proc.returncode != 0:
            tail = " / ".join(line.strip() for line in log_text.strip().splitlines()[-LOG_TAIL:])
            raise RunError("run %s failed (exit %d): %s" % (run.name, proc.returncode, tail))
        return {"name": run.name, "files": _collect(run_dir), "log": log_text,
                "scratch": run_dir, "host": socket.gethostname(),
                "worker": get_worker().address, "task_seconds": time.time() - started,
                "finished_at": time.time()}
    finally:
        remove_quietly(scratch)
        remove_quietly(log_path)


# --- on the client ---------------------------------------------------------------------------

class Engine:
    """A Dask client on an embedded LocalCluster (one single-threaded worker process per job),
    or on the existing cluster at `scheduler` (or DASK_SCHEDULER_ADDRESS)."""

    def __init__(self, scheduler=None, jobs=None):
        import dask
        import distributed
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.address = scheduler or dask.config.get("scheduler-address", None)
        self.cluster = None
        self.stop_name = "tf1-lstm-stop-" + uuid.uuid4().hex
        if self.address:
            try:
                self.client = distributed.Client(self.address, timeout=CONNECT_TIMEOUT)
            except (OSError, ValueError, TypeError) as err:
                raise RunError("cannot reach the Dask scheduler at %s (%s): start it, or check "
                               "--scheduler / DASK_SCHEDULER_ADDRESS"
                               % (self.address, str(err).splitlines()[0] if str(err) else
                                  type(err).__name__))
        else:
            # the workers' scratch space in a temp dir of ours, not the user's working dir
            self.scratch = tempfile.mkdtemp(prefix="tf1-lstm-dask-")
            self.cluster = distributed.LocalCluster(
                n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR, local_directory=self.scratch)
            self.client = distributed.Client(self.cluster)
        self.version = distributed.__version__

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def workers(self):
        return len(self.client.scheduler_info()["workers"])

    def describe(self):
        return collections.OrderedDict([("scheduler", self.address or "local"),
                                        ("workers", self.workers()),
                                        ("distributed", self.version)])

    def stop(self, futures):
        """Stop every run in flight: their subprocesses save, stop, and nothing is kept."""
        from distributed import Event
        try:
            Event(self.stop_name, client=self.client).set()
            self.client.cancel(list(futures))
        except Exception:  # a client already gone: its workers stop their runs on their own
            pass

    def close(self):
        """Close the client (and the embedded cluster); what their stopped event loop leaves says
        nothing. distributed 2021.3.0 can stop it in the step that times out a wait of its own
        (its BatchedSend's, still held by the client); asyncio would log the error nobody
        retrieved whenever that is collected, under the command's last line or at exit."""
        self.client.loop.asyncio_loop.set_exception_handler(lambda loop, context: None)
        with quiet.collected():
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        if self.cluster is not None:
            remove_quietly(self.scratch)


def store(result, runs_dir, logs_dir):
    """Write a run sent back by a worker under runs_dir/<name>/ atomically; return its metrics."""
    final = os.path.join(runs_dir, result["name"])
    relative = os.path.relpath(final)
    with atomic_dir(final) as tmp:
        ensure_dir(tmp)
        for path, blob in result["files"].items():
            ensure_dir(os.path.dirname(os.path.join(tmp, path)))
            if path.endswith(".json"):  # paths on the worker become the run's place here
                blob = blob.replace(result["scratch"].encode(), relative.encode())
            with open(os.path.join(tmp, path), "wb") as f:
                f.write(blob)
        write_json(os.path.join(tmp, MARKER), collections.OrderedDict([
            ("made_by", "tf1-lstm"), ("host", result["host"]), ("worker", result["worker"]),
            ("task_seconds", round(result["task_seconds"], 3))]))
    write_text(os.path.join(logs_dir, result["name"] + ".log"),
               result["log"].replace(result["scratch"], relative))
    return read_json(os.path.join(final, "metrics.json"))


class Outcome(NamedTuple):
    """What run_all hands back."""
    metrics: dict   # {run name: metrics.json}
    hosts: dict     # {run name: the worker host that trained it; None if not recorded}
    timings: dict   # {run name: (task seconds, seconds from task end to stored)}, runs done now


def _plan(specs, runs_dir):
    """({name: metrics} of the finished runs, {name: host}, [runs to train])."""
    done, hosts, todo = {}, {}, []
    for run in specs:
        run_dir = os.path.join(runs_dir, run.name)
        metrics = finished(run_dir, run)
        if metrics is None:
            todo.append(run)
            continue
        done[run.name] = metrics
        try:
            hosts[run.name] = read_json(os.path.join(run_dir, MARKER)).get("host")
        except (OSError, ValueError, AttributeError):
            hosts[run.name] = None  # made before the engine recorded it
    return done, hosts, todo


def run_all(specs, out, engine, data_dir=None, mirrors=(), dataset="mnist", say=print):
    """Train every spec, on `dataset`, not already finished on the engine's cluster; return an
    Outcome."""
    from distributed import as_completed
    from tqdm import tqdm
    specs = [run._replace(dataset=dataset) for run in specs]
    runs_dir = ensure_dir(os.path.join(out, "runs"))
    logs_dir = ensure_dir(os.path.join(out, "logs"))
    done, hosts, todo = _plan(specs, runs_dir)
    say("report: %d runs, %d already finished, %d to train (on %s, %d workers)"
        % (len(specs), len(done), len(todo), engine.address or "a local cluster",
           engine.workers()))
    timings = {}
    interrupts.check()  # before anything is sent to the workers
    if say is print:  # lines printed under the bar, not through it
        def say(line):
            tqdm.write(line, file=sys.stdout)
    futures, bar = [], None
    try:
        with interrupts.deferred():  # a Ctrl-C in here is raised once the futures are known
            futures = [engine.client.submit(train_task, run, data_dir, tuple(mirrors),
                                            engine.stop_name, pure=False,
                                            key="%s-%s" % (run.name, uuid.uuid4().hex))
                       for run in todo]
            bar = tqdm(total=len(specs), initial=len(done), unit="run", file=sys.stderr,
                       disable=None if todo else True, dynamic_ncols=True)  # None: a terminal
        for future in as_completed(futures):
            result = future.result()
            metrics = store(result, runs_dir, logs_dir)
            done[result["name"]], hosts[result["name"]] = metrics, result["host"]
            timings[result["name"]] = (result["task_seconds"],
                                       max(0.0, time.time() - result["finished_at"]))
            bar.set_postfix_str("%s %.4f" % (result["name"], metrics["test_accuracy"] or 0))
            bar.update(1)
            say("%-22s test accuracy %.4f  (%.0f s on %s)" % (
                result["name"], metrics["test_accuracy"] or float("nan"),
                result["task_seconds"], result["host"]))
    except BaseException:
        engine.stop(futures)
        raise
    finally:
        if bar is not None:
            bar.close()
    return Outcome(done, hosts, timings)


def measure_parallelism(out, steps, cores, engine, data_dir=None, dataset="mnist", say=print):
    """Aggregate steps/s: one run using every core against `cores` single-threaded runs at once.

    Short runs, stored in <out>/throughput/ and reused like any other runs.
    """
    if cores < 2:
        return None
    base = os.path.join(out, "throughput")
    single = [RunSpec("one-run-%d-threads" % cores, "lstm", 0, steps, cores)]
    parallel = [RunSpec("parallel-%d-of-%d" % (i + 1, cores), "lstm", i, steps, 1)
                for i in range(cores)]
    say("report: measuring throughput (%d-step LSTM runs: 1 x %d threads, then %d x 1 thread)"
        % (steps, cores, cores))
    one = run_all(single, base, engine, data_dir, (), dataset, say=lambda line: None).metrics
    many = run_all(parallel, base, engine, data_dir, (), dataset, say=lambda line: None).metrics
    one_rate = one[single[0].name]["steps_per_sec"]
    many_rate = sum(many[s.name]["steps_per_sec"] for s in parallel)
    return collections.OrderedDict([
        ("steps", steps), ("cores", cores),
        ("one_run_all_threads_steps_per_sec", one_rate),
        ("parallel_single_thread_steps_per_sec", many_rate),
        ("speedup", many_rate / one_rate)])
