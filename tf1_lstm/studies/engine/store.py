"""The run store under <out>/runs/: which finished runs are reused, what a worker's result must
be before it is written, and the writing itself (atomic, never over what the tool did not make)."""

import collections
import itertools
import json
import os
import time

from tf1_lstm.core import records, settings
from tf1_lstm.studies.engine.spec import RunError
from tf1_lstm.util import tfenvs
from tf1_lstm.util.files import (UnsafePath, atomic_dir, ensure_dir, read_json, refuse_symlinks,
                                 write_json, write_text)

MARKER = "engine.json"  # in every run directory the engine writes: where it was trained


def same_numbers(config, spec):
    """Was a run with this config.json made with the settings of `spec` (a sister post's: its
    post and epochs too)?"""
    return settings.same_numbers(config, spec.values()) and (
        spec.command != "post" or config.get("post") == dict(spec.options))


def same_settings(config, spec, metrics=None):
    """Was a run with this config.json (and metrics.json) made with the settings of `spec`, in
    its environment?"""
    return same_numbers(config, spec) and \
        (spec.env is None or trained_in(config, metrics) == spec.env)


def trained_in(config, metrics=None):
    """The TensorFlow environment a run records; runs from before it was recorded (0.3.0) by
    the versions in their metrics.json."""
    if config.get("environment"):
        return config["environment"]
    if (metrics or {}).get("environment"):  # a sister post's run records it there too
        return metrics["environment"]
    versions = (metrics or {}).get("versions") or {}
    if not isinstance(versions, dict) or not versions.get("tensorflow"):
        return None
    return tfenvs.name(versions["tensorflow"], ".".join(
        str(versions.get("python", "")).split(".")[:2]))


def finished_statuses(spec):
    return (records.COMPLETE, records.DIVERGED) if spec.command == "diagnose" else \
        (records.COMPLETE,)


def reusable(config, metrics, spec):
    """Is a run directory with this config and metrics a finished run of `spec`?"""
    return same_settings(config, spec, metrics) and metrics.get("status") in finished_statuses(spec)


def _run_config(run_dir):
    """config.json of a run directory (not a link), or None."""
    if not os.path.isdir(run_dir) or os.path.islink(run_dir):
        return None
    try:
        config = read_json(os.path.join(run_dir, "config.json"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


KEEP = "move it away or use another --out (nothing was deleted)"


def finished(run_dir, spec, own=()):
    """The metrics of a finished run of `spec` in run_dir; None if there is none; Changed if its
    records changed after it finished; RunError if something else is there (the tool never
    deletes what it did not make, nor a finished run). `own`: the workers' TensorFlow
    environments, where a run with no `env` of its own trains; a run from any other is not
    reused."""
    if not os.path.lexists(run_dir):
        return None
    config = _run_config(run_dir)
    if config is None:
        raise RunError("%s holds something that is not a finished tf1-lstm run: %s"
                       % (run_dir, KEEP))
    _believed(run_dir)  # an edited record's settings are not believed either
    if not same_numbers(config, spec):
        raise RunError("%s holds a run made with other settings: %s" % (run_dir, KEEP))
    try:
        metrics = records.read_metrics(run_dir)
    except records.RecordError as err:
        raise RunError("%s; or %s" % (err, KEEP))
    problem = _not_reusable(config, metrics, spec, own)
    if problem:
        raise RunError("%s holds %s: %s" % (run_dir, problem, KEEP))
    _believed(run_dir, config, metrics)
    return metrics


def _believed(run_dir, config=None, metrics=None):
    """Changed where the run's seal (and, given them, its records against each other) says
    a record changed after it finished."""
    try:
        if metrics is None:
            records.seal_of(run_dir)
        else:
            records.believed(run_dir, config, metrics)
    except records.NotBelieved as err:
        raise Changed(str(err))


def _not_reusable(config, metrics, spec, own):
    """Why a run of `spec`'s numbers is not the one wanted (its environment, its end), or None."""
    made_in = trained_in(config, metrics)
    if not same_settings(config, spec, metrics):
        return "a run trained in %s, not %s" % (made_in or "an unrecorded environment", spec.env)
    if spec.env is None and own and made_in not in own:
        return "a run trained in %s, not in the workers' %s" % (
            made_in or "an unrecorded environment", " or ".join(sorted(own)))
    if metrics["status"] not in finished_statuses(spec):
        return "a run that did not finish (status %s)" % metrics["status"]
    return None


class Changed(RunError):
    """A finished run of the wanted settings whose records changed after it finished: not
    reused; survey sets it aside (set_aside) and it is trained again."""


def set_aside(run_dir):
    """Rename a changed run out of the way (nothing is deleted); its new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        aside = "%s.changed-%s%s" % (run_dir, stamp, "-%d" % n if n else "")
        if not os.path.lexists(aside):
            os.rename(run_dir, aside)
            return aside


def _safe_relative(path):
    """A path a result may hold: relative, normalised, no part that climbs or hides."""
    if not isinstance(path, str) or not path or os.path.isabs(path) or \
            os.path.normpath(path) != path:
        return False
    return all(part not in ("", os.curdir, os.pardir) for part in path.split(os.sep))


RESULT_FIELDS = (("files", dict), ("log", str), ("scratch", str), ("host", str),
                 ("worker", str), ("task_seconds", (int, float)), ("finished_at", (int, float)))


def _result_problem(result, spec):
    """What is wrong with the shape of a result for `spec`, or None."""
    if not isinstance(result, dict) or result.get("name") != spec.name:
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


def checked_result(result, spec):
    """`result` if it is what train_task returns for `spec`, else RunError saying what is wrong.
    Nothing a worker sends is trusted: it names a run and paths the client will write."""
    problem = _result_problem(result, spec)
    if problem is None:
        try:
            config = json.loads(result["files"]["config.json"].decode("utf-8"))  # novm: bytes
            metrics = records.check_metrics(json.loads(
                result["files"]["metrics.json"].decode("utf-8")), "its metrics.json")  # novm
            if not isinstance(config, dict) or not same_settings(config, spec, metrics) or \
                    metrics["status"] not in finished_statuses(spec):
                problem = "it is not a finished run with the settings that were sent"
            else:
                unsealed = records.unsealed_blob(result["files"])
                disagree = records.inconsistency(config, metrics)
                problem = ("it has no readable %s" % unsealed if unsealed == records.SEAL else
                           "its %s is not what its seal says" % unsealed if unsealed else
                           "its records disagree: %s" % disagree if disagree else None)
        except (KeyError, ValueError, records.RecordError) as err:
            problem = "config.json or metrics.json missing or malformed: %s" % err
    if problem:
        raise RunError("the result a worker sent for %s was refused (%s); nothing of it was "
                       "written" % (spec.name, problem))
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
        records.seal(tmp)  # checked as sent (checked_result), sealed as written here
        write_json(os.path.join(tmp, MARKER), collections.OrderedDict([
            ("made_by", "tf1-lstm"), ("host", result["host"]), ("worker", result["worker"]),
            ("job", result.get("job")),
            ("task_seconds", round(result["task_seconds"], 3))]))
    write_text(os.path.join(logs_dir, result["name"] + ".log"),
               result["log"].replace(result["scratch"], relative))
    return records.read_metrics(final)


def survey(specs, runs_dir, own, say=None):
    """({name: metrics} of the finished runs, {name: where it was trained (MARKER)}, [runs to
    train]); `own`: the workers' environments (see finished). A finished run whose records
    changed after it finished is to be trained; with `say`, it is set aside first, said."""
    done, places, todo = {}, {}, []
    for run in specs:
        run_dir = os.path.join(runs_dir, run.name)
        try:
            metrics = finished(run_dir, run, own)
        except Changed as err:
            metrics = None
            if say is not None:
                say("report: %s; not believed: moved to %s and trained again"
                    % (err, os.path.basename(set_aside(run_dir))))
        if metrics is None:
            todo.append(run)
            continue
        done[run.name] = metrics
        try:
            places[run.name] = place(read_json(os.path.join(run_dir, MARKER)))
        except (OSError, ValueError, TypeError):
            places[run.name] = {}  # made before the engine recorded it
    return done, places, todo


def place(marker):
    """Where a stored run was trained, from its MARKER: {"host", "worker", "job", ...}. Runs
    stored before the name was made general call the queue job `slurm_job`."""
    found = dict(marker)
    if "slurm_job" in found:
        found.setdefault("job", found.pop("slurm_job"))
    return found


def folders(out, specs):
    """<out>/runs and <out>/logs, made if missing; RunError if a link would lead out of out."""
    no_links(out, [os.path.join(out, d) for d in ("runs", "logs")] +
             [os.path.join(out, d, run.name + ext) for run in specs
              for d, ext in (("runs", ""), ("logs", ".log"))])
    return ensure_dir(os.path.join(out, "runs")), ensure_dir(os.path.join(out, "logs"))


def no_links(out, paths):
    """RunError if a symlink under `out` would take a write to any of `paths` elsewhere."""
    try:
        for path in paths:
            refuse_symlinks(out, path)
    except UnsafePath as err:
        raise RunError("%s (nothing was written)" % err)
