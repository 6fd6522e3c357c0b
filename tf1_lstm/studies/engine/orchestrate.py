"""Orchestration: every run of a study not already finished, sent to the engine's workers in
order, each result checked and stored as it comes back, with a progress bar."""

import os
import sys
import time
import uuid
from typing import NamedTuple

from tf1_lstm.studies.engine.spec import RunError
from tf1_lstm.studies.engine.store import checked_result, folders, store, survey
from tf1_lstm.studies.engine.worker import train_task
from tf1_lstm.util import interrupts, tfenvs


class Outcome(NamedTuple):
    """What run_all hands back."""
    metrics: dict   # {run name: metrics.json}
    hosts: dict     # {run name: the worker host that trained it; None if not recorded}
    jobs: dict      # {run name: the queue job (clusters.job_id) that trained it; None if none}
    timings: dict   # {run name: (task seconds, seconds from task end to stored)}, runs done now


def unfinished(specs, out):
    """Would run_all train any of `specs` on workers of this environment? (Nothing is made.)"""
    return bool(survey(specs, os.path.join(out, "runs"), {tfenvs.own()})[2])


def to_train(specs, out, engine):
    """The runs of `specs` that run_all would train now (the others are finished under
    <out>/runs): only their environments need to be set up."""
    runs_dir, _ = folders(out, specs)
    return survey(specs, runs_dir, engine.worker_envs())[2]


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


def _result(future, spec, engine, out, done):
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
            spec.name, type(err).__name__, str(err).splitlines()[0] if str(err) else "-"))


def run_all(specs, out, engine, data_dir=None, mirrors=(), say=print):
    """Train every spec not already finished on the engine's cluster; return an Outcome."""
    from distributed import as_completed
    from tqdm import tqdm
    runs_dir, logs_dir = folders(out, specs)
    done, places, todo = survey(specs, runs_dir, engine.worker_envs(), say)
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
            places[result["name"]] = {"host": result["host"], "job": result.get("job")}
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
                   {name: p.get("job") for name, p in places.items()}, timings)
