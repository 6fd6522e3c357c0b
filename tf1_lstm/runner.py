"""Many training runs at once, each its own `tf1-lstm` process and run directory.

A run directory is reused when it holds a complete run made with exactly the wanted settings,
so work interrupted at any point is resumed by asking for the same runs again.
"""

from __future__ import division, print_function

import collections
import os
import subprocess
import sys
import time

from tf1_lstm import hparams
from tf1_lstm.files import read_json, remove_quietly

DIAGNOSE_EVERY = 200  # steps between records of a `diagnose` run


class RunError(Exception):
    """A run failed; the message names it and its log."""


RunSpec = collections.namedtuple(
    "RunSpec", "name cell seed steps threads lr clip forget_bias command")
# The settings a run directory must match to be reused; a missing key means the default.
DEFAULTS = collections.OrderedDict([("lr", hparams.LEARNING_RATE), ("clip", None),
                                    ("forget_bias", hparams.FORGET_BIAS)])
def spec(name, cell, seed, steps, threads, command="train", **changes):
    values = dict(DEFAULTS, **changes)
    return RunSpec(name, cell, seed, steps, threads, values["lr"], values["clip"],
                   values["forget_bias"], command)


def _finished(run_dir, run):
    """The metrics of a complete run made with exactly this spec, else None."""
    try:
        config = read_json(os.path.join(run_dir, "config.json"))
        metrics = read_json(os.path.join(run_dir, "metrics.json"))
    except (OSError, ValueError):
        return None
    wanted = dict(cell=run.cell, seed=run.seed, steps=run.steps, threads=run.threads,
                  batch_size=hparams.BATCH_SIZE, lr=run.lr, clip=run.clip,
                  forget_bias=run.forget_bias)
    same = all(config.get(k, DEFAULTS.get(k)) == v for k, v in wanted.items())
    return metrics if same and metrics.get("status") == "complete" else None


def train_command(run, run_dir, data_dir=None):
    argv = [sys.executable, "-m", "tf1_lstm", run.command, "--cell", run.cell, "--seed",
            str(run.seed), "--steps", str(run.steps), "--out", run_dir]
    for flag, key in (("--threads", "threads"), ("--lr", "lr"), ("--clip", "clip"),
                      ("--forget-bias", "forget_bias")):
        value = getattr(run, key)
        if value is not None and value != DEFAULTS.get(key):
            argv += [flag, repr(value)]
    if run.command == "diagnose":
        argv += ["--every", str(DIAGNOSE_EVERY)]
    if data_dir:
        argv += ["--data-dir", data_dir]
    return argv


def _bar(done, total, width=24):
    filled = int(width * done / total) if total else width
    return "[%s%s] %d/%d" % ("#" * filled, "." * (width - filled), done, total)


def run_all(specs, out, jobs, data_dir=None, say=print):
    """Train every spec not already finished, `jobs` at a time; return {name: metrics}."""
    runs_dir, logs_dir = os.path.join(out, "runs"), os.path.join(out, "logs")
    for d in (runs_dir, logs_dir):
        if not os.path.isdir(d):
            os.makedirs(d)
    results, todo = {}, []
    for run in specs:
        metrics = _finished(os.path.join(runs_dir, run.name), run)
        if metrics is None:
            todo.append(run)
        else:
            results[run.name] = metrics
    say("report: %d runs, %d already finished, %d to train (%d at a time)"
        % (len(specs), len(results), len(todo), jobs))
    running = {}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                run = todo.pop(0)
                run_dir = os.path.join(runs_dir, run.name)
                remove_quietly(run_dir)  # an unfinished or mismatched run starts over
                log = open(os.path.join(logs_dir, run.name + ".log"), "w")
                proc = subprocess.Popen(train_command(run, run_dir, data_dir), stdout=log,
                                        stderr=subprocess.STDOUT)
                running[run.name] = (proc, run, log, time.time())
            time.sleep(0.2)
            for name, (proc, run, log, started) in list(running.items()):
                if proc.poll() is None:
                    continue
                log.close()
                del running[name]
                if proc.returncode != 0:
                    raise RunError("run %s failed (exit %d): see %s"
                                      % (name, proc.returncode, log.name))
                results[name] = read_json(os.path.join(runs_dir, name, "metrics.json"))
                say("%s %-18s test accuracy %.4f  (%.0f s)" % (
                    _bar(len(results), len(specs)), name, results[name]["test_accuracy"],
                    time.time() - started))
    except BaseException:
        for proc, _, log, _ in running.values():
            proc.terminate()  # each run saves what it did and exits at its next step
        for proc, _, log, _ in running.values():
            proc.wait()
            log.close()
        raise
    return results


def measure_parallelism(out, steps, cores, data_dir=None, say=print):
    """Aggregate steps/s: one run using every core against `cores` single-threaded runs at once.

    Short runs, stored in <out>/throughput/ and reused like any other runs.
    """
    if cores < 2:
        return None
    base = os.path.join(out, "throughput")
    single = [spec("one-run-%d-threads" % cores, "lstm", 0, steps, cores)]
    parallel = [spec("parallel-%d-of-%d" % (i + 1, cores), "lstm", i, steps, 1)
                for i in range(cores)]
    say("report: measuring throughput (%d-step LSTM runs: 1 x %d threads, then %d x 1 thread)"
        % (steps, cores, cores))
    one = run_all(single, base, 1, data_dir, say=lambda line: None)
    many = run_all(parallel, base, cores, data_dir, say=lambda line: None)
    one_rate = one[single[0].name]["steps_per_sec"]
    many_rate = sum(many[s.name]["steps_per_sec"] for s in parallel)
    return collections.OrderedDict([
        ("steps", steps), ("cores", cores),
        ("one_run_all_threads_steps_per_sec", one_rate),
        ("parallel_single_thread_steps_per_sec", many_rate),
        ("speedup", many_rate / one_rate)])


