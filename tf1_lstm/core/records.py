"""A run directory's two records, config.json and metrics.json, read back and checked.

Whatever reads a run back (resume, evaluate, predict, a study reusing it, a study storing what a
worker sent) goes through here, so a hand-edited or damaged record ends in one line naming the
file and the field, never in a traceback deep inside a figure.
"""

import os
from typing import Any

from tf1_lstm.core import settings
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import read_json

COMPLETE, INTERRUPTED = "complete", "interrupted"
DIVERGED = "diverged"  # a diagnose run its monitor stopped at a non-finite value
STATUSES = (COMPLETE, INTERRUPTED, DIVERGED)


class RecordError(ToolError):
    """A config.json or metrics.json that tf1-lstm did not write as it is; names the field."""


def _optional(check):
    return lambda v: v is None or check(v)


def is_fraction(v):
    return settings.is_number(v, 0.0, 1.0)


def _point(p):  # one logged step of the curve; a diverged run logs a non-finite loss
    return isinstance(p, dict) and isinstance(p.get("step"), int) and p["step"] >= 0 and \
        _optional(is_fraction)(p.get("train_accuracy")) and \
        settings.is_number(p.get("loss"), finite=False) and \
        settings.is_number(p.get("elapsed"), 0.0)


def _tested(t):
    return isinstance(t, dict) and isinstance(t.get("step"), int) and \
        is_fraction(t.get("test_accuracy"))


# Every field a study reads from a finished run's metrics.json, and what it must hold.
METRICS_CHECKS = (("status", lambda v: v in STATUSES),
                  ("steps_done", lambda v: isinstance(v, int) and v >= 0),
                  ("curve", lambda v: isinstance(v, list) and all(_point(p) for p in v)),
                  ("test_accuracy", _optional(is_fraction)),
                  ("final_train_accuracy", _optional(is_fraction)),
                  ("wall_time", lambda v: settings.is_number(v, 0.0)),
                  ("steps_per_sec", _optional(lambda v: settings.is_number(v, 0.0))),
                  ("ms_per_step", _optional(lambda v: settings.is_number(v, 0.0))),
                  ("tested", lambda v: isinstance(v, list) and all(_tested(t) for t in v)))
OPTIONAL_METRICS = ("tested",)  # absent from runs made before it was recorded


def _read(path, what):
    try:
        record = read_json(path)
    except (OSError, ValueError) as err:
        run_dir, name = os.path.split(path)
        raise RecordError("%s has no readable %s (%s): pass a directory `tf1-lstm train` wrote"
                          % (run_dir, name, getattr(err, "strerror", None) or err))
    if not isinstance(record, dict):
        raise RecordError("%s is not %s (a JSON object): pass a directory `tf1-lstm train` "
                          "wrote" % (path, what))
    return record


def _edited(path, key, value):
    shown = repr(value)
    return RecordError("%s has %s=%s, which tf1-lstm never writes: was it edited? Restore the "
                       "original" % (path, key, shown if len(shown) <= 40 else shown[:37] + "..."))


def read_run_config(run_dir: str) -> dict:
    """A run's config.json as a dict, checked, or a RecordError naming the file."""
    path = os.path.join(run_dir, "config.json")
    record = _read(path, "a run's config")
    bad = settings.bad_field(record)
    if bad:
        raise _edited(path, *bad)
    return record


def read_metrics(run_dir: str) -> dict:
    """A finished or stopped run's metrics.json, every field a study reads checked."""
    path = os.path.join(run_dir, "metrics.json")
    record = _read(path, "a run's metrics")
    return check_metrics(record, path)


def check_metrics(record: Any, path: str) -> dict:
    """`record` if it holds what metrics.json always holds, else a RecordError naming `path`."""
    if not isinstance(record, dict):
        raise RecordError("%s is not a run's metrics (a JSON object)" % path)
    for key, ok in METRICS_CHECKS:
        if key not in record:
            if key in OPTIONAL_METRICS:
                continue
            raise RecordError("%s has no %s, which tf1-lstm always writes: was it edited? "
                              "Restore the original" % (path, key))
        if not ok(record[key]):
            raise _edited(path, key, record[key])
    return record
