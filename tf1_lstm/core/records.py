"""A run directory's two records, config.json and metrics.json, read back and checked, and the
seal that says they are as the run left them.

Whatever reads a run back (resume, evaluate, predict, a study reusing it, a study storing what a
worker sent) goes through here, so a hand-edited or damaged record ends in one line naming the
file and the field, never in a traceback deep inside a figure. A finished run is sealed (SEAL:
the SHA-256 of each record a reader judges from); a reader believes a finished run's numbers
only through `believed`, which checks the seal and the records against each other.
"""

import collections
import hashlib
import json
import os
from typing import Any, Optional

from tf1_lstm.core import settings
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import read_json, write_json

COMPLETE, INTERRUPTED = "complete", "interrupted"
DIVERGED = "diverged"  # a diagnose run its monitor stopped at a non-finite value
STATUSES = (COMPLETE, INTERRUPTED, DIVERGED)


class RecordError(ToolError):
    """A config.json or metrics.json that tf1-lstm did not write as it is; names the field."""


class NotBelieved(RecordError):
    """A finished run whose records changed after it was sealed, or disagree with each other:
    its numbers are judged by no one (a study trains it again, verify and compare count it
    apart)."""


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


# --- the seal ------------------------------------------------------------------------------------

SEAL = "seal.json"  # in a finished run's folder: the digest of each record below
SEALED = ("config.json", "metrics.json", "diagnostics.json")  # what a reader judges from
UNSEALED = "unsealed"  # a run finished before seals were made (0.9.0 and older)
NOT_BELIEVED = "not believed"  # a run whose records changed after it finished


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _digests(run_dir):
    """{record: SHA-256} of the sealed records the folder holds."""
    return collections.OrderedDict((name, _sha256(os.path.join(run_dir, name)))
                                   for name in SEALED
                                   if os.path.isfile(os.path.join(run_dir, name)))


def _changed(sealed, now):
    """The first of SEALED whose digest in `now` is not the one `sealed` names, or None."""
    return next((name for name in SEALED if sealed.get(name) != now.get(name)), None)


def _digest(files):
    """One digest for the whole seal: what report.json keeps of each run."""
    text = "".join("%s %s\n" % pair for pair in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(run_dir: str) -> str:
    """Seal a finished run's records as they are now; the seal's digest."""
    files = _digests(run_dir)
    digest = _digest(files)
    write_json(os.path.join(run_dir, SEAL), collections.OrderedDict([
        ("made_by", "tf1-lstm"), ("digest", digest), ("files", files)]))
    return digest


def unsealed_blob(blobs: dict) -> Optional[str]:
    """For a run sent as {path: bytes}: the first sealed record whose bytes are not those its
    seal names (or "seal.json" where it has none); None where the seal holds."""
    try:
        files = json.loads(blobs[SEAL].decode("utf-8"))["files"]  # novm: bytes.decode
    except (KeyError, ValueError, TypeError, AttributeError):
        return SEAL
    now = {name: hashlib.sha256(blobs[name]).hexdigest() for name in SEALED if name in blobs}
    return _changed(files if isinstance(files, dict) else {}, now)


def seal_of(run_dir: str) -> str:
    """The digest of the run's seal, UNSEALED where it has none; NotBelieved naming the first
    record that changed after the run finished (or a damaged seal)."""
    path = os.path.join(run_dir, SEAL)
    if not os.path.lexists(path):
        return UNSEALED
    try:
        found = read_json(path)
    except (OSError, ValueError):
        found = None
    files = found.get("files") if isinstance(found, dict) else None
    if not isinstance(files, dict) or found.get("digest") != _digest(files):
        raise NotBelieved("%s is damaged: its records cannot be checked" % path)
    now = _digests(run_dir)
    name = _changed(files, now)
    if name:
        raise NotBelieved("%s %s after the run finished" % (
            os.path.join(run_dir, name), "changed" if name in files and name in now
            else "appeared" if name in now else "was removed"))
    return found["digest"]


def inconsistency(config: dict, metrics: dict) -> Optional[str]:
    """Where a finished run's config.json and metrics.json do not describe the same run (one
    of them edited), the first such field; else None."""
    post = config.get("post")
    if isinstance(post, dict):  # a sister post's run (the twin's length is in steps)
        length = "steps" if "steps" in post else "epochs"
        pairs = [("post", metrics.get("post"), post.get("post")),
                 (length + "_done", metrics.get(length + "_done"), post.get(length)),
                 ("seed", metrics.get("seed"), config.get("seed"))]
        if metrics.get("epochs_done") != len(metrics.get("curve") or []):
            return "epochs_done %r, but %d epochs in its curve" % (
                metrics.get("epochs_done"), len(metrics.get("curve") or []))
    else:
        pairs = [("cell", metrics.get("cell"), config.get("cell")),
                 ("seed", metrics.get("seed"), config.get("seed"))]
        if metrics.get("status") == COMPLETE:  # a diverged run stopped early by design
            pairs.append(("steps_done", metrics.get("steps_done"), config.get("steps")))
    for key, found, wanted in pairs:
        if found != wanted:
            return "%s %r in metrics.json, %r by config.json" % (key, found, wanted)
    return None


def believed(run_dir: str, config: dict, metrics: dict) -> str:
    """The seal of a finished run whose records were read as config and metrics: UNSEALED for
    a run older than seals; NotBelieved (one line) where a record changed after the run
    finished or the two disagree."""
    digest = seal_of(run_dir)
    wrong = inconsistency(config, metrics)
    if wrong:
        raise NotBelieved("%s: its records disagree (%s): one was edited after the run "
                          "finished" % (run_dir, wrong))
    return digest
