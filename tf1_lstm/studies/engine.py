"""Many training runs on Dask distributed: an embedded local cluster, or any cluster by address.

A task trains one run as a `tf1-lstm train` subprocess (so TF's graph, thread pools and signals
stay per run) in a temp directory on its worker, and sends back the run directory without its
step checkpoints; the client writes it under <out>/runs/<name>/ atomically. Nothing travels
through a shared filesystem. A finished run with the wanted settings is reused, so a report
interrupted at any point resumes by asking for the same runs again.
"""

import collections
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from typing import Any, NamedTuple, Optional, Tuple

from tf1_lstm.core import datasets, records, settings
from tf1_lstm.core.cells import LSTM
from tf1_lstm.core.checkpoints import STEPS_DIR
from tf1_lstm.core.training import run_name
from tf1_lstm.util import environment, interrupts, quiet, scratch, tfenvs
from tf1_lstm.util.files import (UnsafePath, atomic_dir, ensure_dir, read_json, refuse_symlinks,
                                 remove_quietly, write_json, write_text)

MARKER = "engine.json"  # in every run directory the engine writes: where it was trained
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up
LOG_TAIL = 6  # lines of a failed run's log quoted in the error
STOP_WITHIN = 30  # seconds a stopped study waits for its runs on the workers to end
SCHEDULER_LOST = 10  # seconds a worker without its scheduler goes on training before it stops


class RunError(Exception):
    """A run failed, or a run directory is in the way; the message is one line naming it."""


_SpecFields = NamedTuple("RunSpec", [
    ("name", str), ("command", str), ("flags", Tuple[str, ...]), ("env", Optional[str])]
    + [(s.name, Any) for s in settings.numbers()])
_SpecFields.__new__.__defaults__ = ("train", (), None) + tuple(
    s.default for s in settings.numbers())


class RunSpec(_SpecFields):
    """One run a study needs: `name` (its directory under <out>/runs/, e.g. lstm-seed3), the
    `command` that trains it (train, or diagnose), that command's own `flags`, the TensorFlow
    environment it trains in (`env`, util.tfenvs; None: the worker's own), and a value for
    every setting that changes the numbers (core.settings), each the post's unless given."""

    __slots__ = ()

    def values(self):
        """{setting: value} of the settings that change the numbers."""
        return {s.name: getattr(self, s.name) for s in settings.numbers()}


def named(base, cell, seed, label=None, env=None, **changes):
    """One run of a study whose settings are `base` (a RunSpec): its cell, seed, environment
    and changes, named by the one naming rule (`<label or cell>-seed<N>`, then `-<env>` for a
    run in a named TensorFlow environment)."""
    return base._replace(name=env_name(run_name(cell, seed, label), env), cell=cell, seed=seed,
                         env=env, **changes)


def spec(cell, seed, steps, threads, label=None, env=None, **changes):
    """named() on the post's settings but `steps` and `threads`."""
    return named(RunSpec(name="", steps=steps, threads=threads), cell, seed, label, env,
                 **changes)


def env_name(name, env):
    """A run's name in TensorFlow environment `env` (unchanged for the worker's own)."""
    return name if env is None else "%s-%s" % (name, env)


# --- reuse -----------------------------------------------------------------------------------

def same_settings(config, run, metrics=None):
    """Was a run with this config.json (and metrics.json) made with the settings of `run`, in
    its environment?"""
    return settings.same_numbers(config, run.values()) and \
        (run.env is None or trained_in(config, metrics) == run.env)


def trained_in(config, metrics=None):
    """The TensorFlow environment a run records; runs from before it was recorded (0.3.0) by
    the versions in their metrics.json."""
    if config.get("environment"):
        return config["environment"]
    versions = (metrics or {}).get("versions") or {}
    if not isinstance(versions, dict) or not versions.get("tensorflow"):
        return None
    return tfenvs.name(versions["tensorflow"], ".".join(
        str(versions.get("python", "")).split(".")[:2]))


def finished_statuses(run):
    return (records.COMPLETE, records.DIVERGED) if run.command == "diagnose" else \
        (records.COMPLETE,)


def reusable(config, metrics, run):
    """Is a run directory with this config and metrics a finished run of `run`?"""
    return same_settings(config, run, metrics) and metrics.get("status") in finished_statuses(run)


def _run_config(run_dir):
    """config.json of a run directory (not a link), or None."""
    if not os.path.isdir(run_dir) or os.path.islink(run_dir):
        return None
    try:
        config = read_json(os.path.join(run_dir, "config.json"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def finished(run_dir, run, own=()):
    """The metrics of a finished run of `run` in run_dir; None if there is none; RunError if
    something else is there (the tool never deletes what it did not make, nor a finished run).
    `own`: the workers' TensorFlow environments, where a run with no `env` of its own trains;
    a run from any other is not reused."""
    if not os.path.lexists(run_dir):
        return None
    keep = "move it away or use another --out (nothing was deleted)"
    config = _run_config(run_dir)
    if config is None:
        raise RunError("%s holds something that is not a finished tf1-lstm run: %s"
                       % (run_dir, keep))
    if not settings.same_numbers(config, run.values()):
        raise RunError("%s holds a run made with other settings: %s" % (run_dir, keep))
    try:
        metrics = records.read_metrics(run_dir)
    except records.RecordError as err:
        raise RunError("%s; or %s" % (err, keep))
    if not same_settings(config, run, metrics):
        raise RunError("%s holds a run trained in %s, not %s: %s"
                       % (run_dir, trained_in(config, metrics) or "an unrecorded environment",
                          run.env, keep))
    made_in = trained_in(config, metrics)
    if run.env is None and own and made_in not in own:
        raise RunError("%s holds a run trained in %s, not in the workers' %s: %s"
                       % (run_dir, made_in or "an unrecorded environment",
                          " or ".join(sorted(own)), keep))
    if metrics["status"] not in finished_statuses(run):
        raise RunError("%s holds a run that did not finish (status %s): %s"
                       % (run_dir, metrics["status"], keep))
    return metrics


# --- on a worker -----------------------------------------------------------------------------

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
                "slurm_job": os.environ.get("SLURM_JOB_ID"),
                "task_seconds": time.time() - started, "finished_at": time.time()}
    finally:
        remove_quietly(folder)


# --- on the client ---------------------------------------------------------------------------

SCHEMES = ("tcp", "tls")
TLS_SETTINGS = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")
MEMORY_PER_JOB = 1 << 30  # bytes a local worker and its training process may need at most


def check_address(address):
    """`address` if it is a scheduler address the engine can use, else RunError saying why."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    ok = scheme in SCHEMES and host and port.isdigit() and 0 < int(port) < 65536
    if not ok:
        raise RunError("%r is not a Dask scheduler address: write tcp://HOST:PORT, or "
                       "tls://HOST:PORT for a secured cluster (port 1-65535)" % address)
    return address


WIRE = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")  # must match


def versions_line(info):
    """None where the client, scheduler and workers (client.get_versions) run the same
    versions; one line naming what differs where only packages off the wire do (Python 3.6
    workers of the image under a 3.7 client: same pins, same numbers); RunError where a
    package the messages and tasks depend on differs."""
    found = collections.OrderedDict()
    for part in [info.get("client"), info.get("scheduler")] + list(
            (info.get("workers") or {}).values()):
        for package, version in sorted(((part or {}).get("packages") or {}).items()):
            found.setdefault(package, set()).add(str(version))
    differ = collections.OrderedDict((p, sorted(v)) for p, v in found.items() if len(v) > 1)
    wire = [p for p in differ if p in WIRE]
    if wire:
        raise RunError("the cluster's processes run other versions of %s (%s): client, "
                       "scheduler and workers need the same pins (requirements.txt)" % (
                           ", ".join(wire), "; ".join("%s %s" % (p, " and ".join(differ[p]))
                                                      for p in wire)))
    if not differ:
        return None
    return ("the cluster's processes differ in %s only; %s match" % (
        "; ".join("%s %s" % (p, " and ".join(v)) for p, v in differ.items()), ", ".join(WIRE)))


def max_local_jobs():
    """(most local workers this machine can run at once, the reason): two per core, and
    MEMORY_PER_JOB of the memory available for each."""
    cores = environment.schedulable_cpus() or 1
    available = environment.available_memory()
    by_memory = available // MEMORY_PER_JOB if available else 2 * cores
    limit = max(1, min(2 * cores, by_memory))
    return limit, "%d cores, %.1f GiB available, %d GiB per job" % (
        cores, (available or 0) / float(1 << 30), MEMORY_PER_JOB >> 30)


def check_jobs(jobs):
    """`jobs` if this machine can run that many local workers at once, else RunError."""
    limit, why = max_local_jobs()
    if jobs > limit:
        raise RunError("--jobs %d is more local workers than this machine can run (at most "
                       "%d: %s): use --jobs %d or fewer, or a cluster (--scheduler)"
                       % (jobs, limit, why, limit))
    return jobs


@contextlib.contextmanager
def _ctrl_c_held():
    """SIGINT blocked while the embedded cluster starts: its worker processes (and its event
    loop's thread) inherit the block, so a Ctrl-C to the terminal reaches this process alone,
    once the cluster exists and can be closed, instead of printing a traceback in each one."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


CLUSTERS = ("local", "slurm")  # what --cluster starts when there is no --scheduler


class Engine:
    """A Dask client on an embedded LocalCluster (one single-threaded worker process per job),
    on SLURM jobs (studies.slurm; `logs`: their log folder, `wait`: seconds a job may pend), or
    on the existing cluster at `scheduler` (or DASK_SCHEDULER_ADDRESS)."""

    def __init__(self, scheduler=None, jobs=None, cluster="local", logs=None, wait=None,
                 start=True):
        try:
            import dask
            import distributed
        except ImportError:
            raise RunError(
                "studies run on Dask 2021.3.0, which this Python (%d.%d) has not got: run them "
                "from the default environment (./run report ...), with --tf %s to train in this "
                "one" % (sys.version_info[:2] + (tfenvs.own() or "NAME",)))
        for name in ["distributed"] + list(logging.root.manager.loggerDict):
            if name.startswith("distributed"):  # its own config sets some; our one line says it
                logging.getLogger(name).setLevel(logging.CRITICAL)
        from distributed.versions import VersionMismatchWarning
        warnings.filterwarnings("ignore", category=VersionMismatchWarning)  # versions_line
        self.address = scheduler or dask.config.get("scheduler-address", None)
        self.cluster = self.client = self.scratch = self.lost = None
        self.kind = "scheduler" if self.address else cluster
        self.jobs, self.submitted, self.versions = jobs, set(), None
        self.version = distributed.__version__
        try:
            if not start:  # every run finished: no worker is needed, none is asked for
                pass
            elif self.address:
                self.client = self._connect(check_address(self.address))
            elif cluster == "slurm":
                self._start_slurm(jobs or 1, logs, wait)
            else:
                self._start_local(jobs)
        except BaseException:
            self.close()
            raise

    def _connect(self, address):
        import distributed
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            self.versions = versions_line(client.get_versions(check=False))
            return client
        except (OSError, ValueError, TypeError) as err:
            hint = ("; a tls:// scheduler needs %s (see the cluster docs)" % ", ".join(
                TLS_SETTINGS) if address.startswith("tls://") else "")
            raise RunError("cannot reach the Dask scheduler at %s (%s): start it, or check "
                           "--scheduler / DASK_SCHEDULER_ADDRESS%s" % (
                               address, str(err).splitlines()[0] if str(err) else
                               type(err).__name__, hint))

    def _start_local(self, jobs):
        import dask
        import distributed
        if dask.config.get("distributed.comm.require-encryption", False):
            raise RunError("DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION is set, but the embedded "
                           "cluster talks over loopback without TLS: unset it, or start a TLS "
                           "cluster and pass --scheduler tls://HOST:PORT")
        jobs = check_jobs(jobs or environment.schedulable_cpus() or 1)
        with interrupts.deferred(), _ctrl_c_held():  # a stop waits until it can be closed
            self.scratch = scratch.make("dask")  # the workers' space, not the user's folder
            self.cluster = distributed.LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, local_directory=self.scratch,
                preload=["tf1_lstm.studies.worker_logs"])
            self.client = distributed.Client(self.cluster)

    def _start_slurm(self, jobs, logs, wait):
        import distributed

        from tf1_lstm.studies import slurm
        wait = slurm.WAIT if wait is None else wait
        try:
            with interrupts.deferred():  # a stop waits until the jobs can be cancelled
                self.cluster = slurm.start(jobs, logs, wait)
                self.client = distributed.Client(self.cluster)
            slurm.wait_for_a_worker(self.client, self.cluster, logs, wait)
        except slurm.SlurmError as err:
            raise RunError(str(err))
        watch = threading.Thread(target=self._watch_slurm, args=(wait, logs), daemon=True)
        watch.start()

    def _watch_slurm(self, wait, logs):
        """With no SLURM job running for `wait` s (all died, none replaced in time), stop the
        runs in flight, so that run_all ends in one line instead of waiting for ever."""
        from tf1_lstm.studies import slurm
        since = None
        while self.client is not None and self.lost is None:
            try:
                workers = self.client.scheduler_info()["workers"]
            except Exception:  # closing
                return
            since = None if workers else since or time.time()
            if since and time.time() - since > wait:
                self.lost = slurm.not_running(self.cluster, logs, "has run for %d s" % wait)
                self.client.cancel(list(self.submitted))
                return
            time.sleep(slurm.POLL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def workers(self):
        return len(self.client.scheduler_info()["workers"]) if self.client else 0

    def worker_envs(self):
        """The TensorFlow environments of the workers connected now (a run with no `env` of
        its own trains in one of them); this process's own while none is connected."""
        if self.client is None:
            return {tfenvs.own()}
        try:
            found = set(self.client.run(tfenvs.own, callback_timeout=CONNECT_TIMEOUT).values())
        except Exception:  # a worker without tf1_lstm fails its runs in their own lines
            found = set()
        return found or {tfenvs.own()}

    def where(self):
        """Where the runs train, for a progress line."""
        return self.address or ("SLURM jobs" if self.kind == "slurm" else "a local cluster")

    def describe(self):
        return collections.OrderedDict([("cluster", self.kind),
                                        ("scheduler", self.address or (
                                            "local" if self.kind == "local" else
                                            "in this process")),
                                        ("jobs", self.jobs if self.kind == "slurm" else None),
                                        ("workers", self.workers()),
                                        ("distributed", self.version)])

    def stop(self, futures, within=STOP_WITHIN):
        """Stop every run in flight: the scheduler releases them, each worker sees that and
        stops its run (which saves and exits), and this waits until no worker is still running
        one of them, so nothing is left training or in scratch."""
        keys = {f.key for f in futures}
        try:
            self.client.cancel(list(futures))
            deadline = time.time() + within
            while time.time() < deadline:
                busy = self.client.run(_running, keys=keys)
                if not any(busy.values()):
                    return
                time.sleep(0.2)
        except Exception:  # a client or scheduler already gone: workers stop on their own
            pass

    def close(self):
        """Close the client (and the embedded cluster); what their stopped event loop leaves says
        nothing. distributed 2021.3.0 can stop it in the step that times out a wait of its own
        (its BatchedSend's, still held by the client); asyncio would log the error nobody
        retrieved whenever that is collected, under the command's last line or at exit."""
        if self.client is not None:
            self.client.loop.asyncio_loop.set_exception_handler(lambda loop, context: None)
        if self.kind == "slurm" and self.cluster is not None:
            self._end_slurm_jobs()
        with quiet.collected(), _quiet_logger("tornado.application"):
            for part in (self.client, self.cluster):
                if part is not None:
                    try:
                        part.close()
                    except Exception:  # closing what is already gone
                        pass
        if self.scratch is not None:
            remove_quietly(self.scratch)

    def _end_slurm_jobs(self):
        from tf1_lstm.studies import slurm
        try:
            slurm.end_jobs(self.cluster)
        except Exception:  # a cluster already closing: its own close cancels the jobs
            pass


@contextlib.contextmanager
def _quiet_logger(name):
    """`name` logs nothing while the block runs (what a closing cluster's late connections
    leave in tornado's log is no news to the user)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _running(keys, dask_worker):
    """On each worker: how many of `keys` still have a thread running them."""
    return sum(1 for key in list(dask_worker.active_threads.values()) if key in keys)


def _safe_relative(path):
    """A path a result may hold: relative, normalised, no part that climbs or hides."""
    if not isinstance(path, str) or not path or os.path.isabs(path) or \
            os.path.normpath(path) != path:
        return False
    return all(part not in ("", os.curdir, os.pardir) for part in path.split(os.sep))


RESULT_FIELDS = (("files", dict), ("log", str), ("scratch", str), ("host", str),
                 ("worker", str), ("task_seconds", (int, float)), ("finished_at", (int, float)))


def _result_problem(result, run):
    """What is wrong with the shape of a result for `run`, or None."""
    if not isinstance(result, dict) or result.get("name") != run.name:
        return "it names another run: %r" % (
            result.get("name") if isinstance(result, dict) else type(result).__name__)
    missing = [key for key, kind in RESULT_FIELDS if not isinstance(result.get(key), kind)]
    if missing:
        return "no %s" % ", ".join(missing)
    for path, blob in result["files"].items():
        if not _safe_relative(path) or not isinstance(blob, bytes):
            return "file %r is not a plain relative path to bytes" % (path,)
    if _clash(result["files"]):
        return "a file and a folder share a name"
    return None


def checked_result(result, run):
    """`result` if it is what train_task returns for `run`, else RunError saying what is wrong.
    Nothing a worker sends is trusted: it names a run and paths the client will write."""
    problem = _result_problem(result, run)
    if problem is None:
        try:
            config = json.loads(result["files"]["config.json"].decode("utf-8"))
            metrics = records.check_metrics(json.loads(
                result["files"]["metrics.json"].decode("utf-8")), "its metrics.json")
            if not isinstance(config, dict) or not same_settings(config, run, metrics) or \
                    metrics["status"] not in finished_statuses(run):
                problem = "it is not a finished run with the settings that were sent"
        except (KeyError, ValueError, records.RecordError) as err:
            problem = "config.json or metrics.json missing or malformed: %s" % err
    if problem:
        raise RunError("the result a worker sent for %s was refused (%s); nothing of it was "
                       "written" % (run.name, problem))
    return result


def _clash(files):
    """Would writing these paths need one name as both a file and a folder?"""
    folders = {os.sep.join(p.split(os.sep)[:i])
               for p in files for i in range(1, p.count(os.sep) + 1)}
    return bool(folders & set(files))


def store(result, runs_dir, logs_dir):
    """Write a checked result under runs_dir/<name>/ atomically; return its metrics."""
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
            ("slurm_job", result.get("slurm_job")),
            ("task_seconds", round(result["task_seconds"], 3))]))
    write_text(os.path.join(logs_dir, result["name"] + ".log"),
               result["log"].replace(result["scratch"], relative))
    return records.read_metrics(final)


class Outcome(NamedTuple):
    """What run_all hands back."""
    metrics: dict   # {run name: metrics.json}
    hosts: dict     # {run name: the worker host that trained it; None if not recorded}
    jobs: dict      # {run name: the SLURM job that trained it; None if none or not recorded}
    timings: dict   # {run name: (task seconds, seconds from task end to stored)}, runs done now


def _plan(specs, runs_dir, own):
    """({name: metrics} of the finished runs, {name: where it was trained (MARKER)}, [runs to
    train]); `own`: the workers' environments (see finished)."""
    done, places, todo = {}, {}, []
    for run in specs:
        run_dir = os.path.join(runs_dir, run.name)
        metrics = finished(run_dir, run, own)
        if metrics is None:
            todo.append(run)
            continue
        done[run.name] = metrics
        try:
            places[run.name] = dict(read_json(os.path.join(run_dir, MARKER)))
        except (OSError, ValueError, TypeError):
            places[run.name] = {}  # made before the engine recorded it
    return done, places, todo


def unfinished(specs, out):
    """Would run_all train any of `specs` on workers of this environment? (Nothing is made.)"""
    return bool(_plan(specs, os.path.join(out, "runs"), {tfenvs.own()})[2])


def to_train(specs, out, engine):
    """The runs of `specs` that run_all would train now (the others are finished under
    <out>/runs): only their environments need to be set up."""
    runs_dir, _ = _places(out, specs)
    return _plan(specs, runs_dir, engine.worker_envs())[2]


def _places(out, specs):
    """<out>/runs and <out>/logs, made if missing; RunError if a link would lead out of out."""
    _no_links(out, [os.path.join(out, d) for d in ("runs", "logs")] +
              [os.path.join(out, d, run.name + ext) for run in specs
               for d, ext in (("runs", ""), ("logs", ".log"))])
    return ensure_dir(os.path.join(out, "runs")), ensure_dir(os.path.join(out, "logs"))


def _no_links(out, paths):
    """RunError if a symlink under `out` would take a write to any of `paths` elsewhere."""
    try:
        for path in paths:
            refuse_symlinks(out, path)
    except UnsafePath as err:
        raise RunError("%s (nothing was written)" % err)


def _submit(engine, todo, data_dir, mirrors):
    """{future: run} for every run to train, all sent or none (a Ctrl-C waits for the end).
    They train in the order given (Dask would start the last sent first): a study stopped
    early has its first runs done."""
    with interrupts.deferred():  # a Ctrl-C in here is raised once the futures are known
        futures = {engine.client.submit(train_task, run, data_dir, tuple(mirrors), pure=False,
                                        priority=len(todo) - i,
                                        key="%s-%s" % (run.name, uuid.uuid4().hex)): run
                   for i, run in enumerate(todo)}
        engine.submitted.update(futures)
        return futures


def _lost(engine, out, done):
    if engine.lost:
        return RunError("%s; %d finished runs are kept: rerun with --out %s to resume"
                        % (engine.lost, len(done), out))
    return RunError("lost the Dask scheduler at %s; %d finished runs are kept: start it again "
                    "and rerun with --out %s to resume" % (engine.address or "local", len(done),
                                                           out))


def _result(future, run, engine, out, done):
    """What the task returned; its failure as one RunError line."""
    from concurrent.futures import CancelledError
    try:
        return future.result()
    except CancelledError:
        raise _lost(engine, out, done)
    except RunError:
        raise
    except Exception as err:  # the worker's own failure, or the cluster's (KilledWorker)
        raise RunError("run %s failed on its worker (%s: %s)" % (
            run.name, type(err).__name__, str(err).splitlines()[0] if str(err) else "-"))


def run_all(specs, out, engine, data_dir=None, mirrors=(), say=print):
    """Train every spec not already finished on the engine's cluster; return an Outcome."""
    from distributed import as_completed
    from tqdm import tqdm
    runs_dir, logs_dir = _places(out, specs)
    done, places, todo = _plan(specs, runs_dir, engine.worker_envs())
    say("report: %d runs, %d already finished, %d to train (on %s, %d workers)"
        % (len(specs), len(done), len(todo), engine.where(), engine.workers()))
    if engine.versions:
        say("report: " + engine.versions)
    timings = {}
    interrupts.check()  # before anything is sent to the workers
    if say is print:  # lines printed under the bar, not through it
        def say(line):
            tqdm.write(line, file=sys.stdout)
    futures, bar = {}, None
    try:
        futures = _submit(engine, todo, data_dir, mirrors)
        bar = tqdm(total=len(specs), initial=len(done), unit="run", file=sys.stderr,
                   disable=None if todo else True, dynamic_ncols=True)  # None: a terminal
        for future in as_completed(list(futures)) if futures else ():
            result = checked_result(_result(future, futures[future], engine, out, done),
                                    futures[future])
            metrics = store(result, runs_dir, logs_dir)
            done[result["name"]] = metrics
            places[result["name"]] = {"host": result["host"], "slurm_job": result.get("slurm_job")}
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
    return Outcome(done, {name: p.get("host") for name, p in places.items()},
                   {name: p.get("slurm_job") for name, p in places.items()}, timings)


def measure_throughput(out, steps, cores, engine, data_dir=None, dataset="mnist", say=print):
    """Aggregate steps/s: one run using every core against `cores` single-threaded runs at once.

    Short runs of the post's LSTM, stored in <out>/throughput/ and reused like any other runs.
    """
    if cores < 2:
        return None
    where = os.path.join(out, "throughput")
    _no_links(out, [where])
    base = RunSpec(name="", cell=LSTM, steps=steps, dataset=dataset)
    single = [base._replace(name="one-run-%d-threads" % cores, seed=0, threads=cores)]
    parallel = [base._replace(name="parallel-%d-of-%d" % (i + 1, cores), seed=i, threads=1)
                for i in range(cores)]
    say("report: measuring throughput (%d-step LSTM runs: 1 x %d threads, then %d x 1 thread)"
        % (steps, cores, cores))
    one = run_all(single, where, engine, data_dir, (), say=lambda line: None).metrics
    many = run_all(parallel, where, engine, data_dir, (), say=lambda line: None).metrics
    one_rate = one[single[0].name]["steps_per_sec"]
    many_rate = sum(many[s.name]["steps_per_sec"] for s in parallel)
    return collections.OrderedDict([
        ("steps", steps), ("cores", cores),
        ("one_run_all_threads_steps_per_sec", one_rate),
        ("parallel_single_thread_steps_per_sec", many_rate),
        ("ratio", many_rate / one_rate)])
