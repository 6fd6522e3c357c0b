"""Checkpoints that survive any stop: written to a temp dir, renamed whole, found by scanning.

A run directory holds `model/` (the final weights, or the last ones at an interruption) and
`checkpoints/step-NNNNNN/` (weights, the sampler's state and the logged curve at that step).
A directory only ever appears under its final name complete, so a run killed mid-write (even
by SIGKILL) leaves at worst a `.tmp` directory that is ignored and cleaned up.
"""

import contextlib
import errno
import json
import os
import re
import zipfile
from typing import Any, Iterator, List, Tuple

import numpy as np

from tf1_lstm.core import tfcompat
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import (atomic_dir, ensure_dir, is_leftover, locked, read_json,
                                 remove_quietly)

FINAL_DIR = "model"
STEPS_DIR = "checkpoints"
PREFIX = "model.ckpt"
CHECKPOINT_EVERY = 1000  # default steps between resumable checkpoints
KEEP = 3  # step checkpoints kept; older ones are removed once a newer one is complete
_STEP = re.compile(r"^step-(\d+)$")


class CheckpointError(ToolError):
    """No usable checkpoint where one was expected, or a run directory in use; the message
    names the directory."""


@contextlib.contextmanager
def run_lock(run_dir: str) -> Iterator[None]:
    """Exclusive use of a run directory while a process trains in it (util.files.locked)."""
    with locked(run_dir, "%s is being trained by PID %%(pid)s: wait for it to finish, or "
                "stop it (Ctrl-C / kill %%(pid)s) and resume" % run_dir):
        yield


def _write(saver, sess, final, extra=None):
    with atomic_dir(final) as tmp:
        saver.save(sess, os.path.join(tmp, PREFIX))
        for name, writer in (extra or {}).items():
            writer(os.path.join(tmp, name))
    return os.path.join(final, PREFIX)


def save_final(saver: Any, sess: Any, run_dir: str) -> str:
    return _write(saver, sess, os.path.join(run_dir, FINAL_DIR))


def save_step(saver: Any, sess: Any, run_dir: str, steps_done: int, sampler_state: dict,
              progress: dict) -> str:
    """A resumable checkpoint after `steps_done` steps; keeps the newest KEEP."""
    root = ensure_dir(os.path.join(run_dir, STEPS_DIR))

    def write_sampler(path):
        np.savez(path, **sampler_state)

    def write_progress(path):
        with open(path, "w") as f:
            json.dump(dict(progress, steps_done=steps_done), f)

    path = _write(saver, sess, os.path.join(root, "step-%06d" % steps_done),
                  {"sampler.npz": write_sampler, "progress.json": write_progress})
    for old in step_dirs(run_dir)[KEEP:]:
        remove_quietly(old)
    return path


def step_dirs(run_dir: str, clean: bool = False) -> List[str]:
    """Step checkpoint directories, newest first; with clean=True (only while holding the
    run's lock) stray temp dirs of killed writers are removed."""
    root = os.path.join(run_dir, STEPS_DIR)
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = _STEP.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(root, name)))
        elif clean and is_leftover(name):
            remove_quietly(os.path.join(root, name))
    return [path for _, path in sorted(found, reverse=True)]


def load_step(path: str) -> Tuple[str, dict, dict]:
    """(checkpoint prefix, sampler state, progress) of one step dir; raises if any part is bad."""
    tf = tfcompat.import_tensorflow()
    prefix = os.path.join(path, PREFIX)
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)  # reads (and checksums) every byte, not just the index
    sampler_path = os.path.join(path, "sampler.npz")
    if not zipfile.is_zipfile(sampler_path):  # before np.load, whose half-made object warns
        raise ValueError("sampler.npz is damaged (not a complete zip archive)")
    with np.load(sampler_path) as f:
        sampler = {k: f[k] for k in f.files}
    missing = SAMPLER_KEYS - set(sampler)
    if missing:
        raise ValueError("sampler.npz lacks %s" % ", ".join(sorted(missing)))
    progress = read_json(os.path.join(path, "progress.json"))
    if not isinstance(progress, dict) or not isinstance(progress.get("curve"), list) or \
            not isinstance(progress.get("steps_done"), int) or \
            not isinstance(progress.get("train_time"), (int, float)):
        raise ValueError("progress.json lacks curve, steps_done or train_time")
    return prefix, sampler, progress


SAMPLER_KEYS = {"order", "index_in_epoch", "epochs_completed", "rng_keys", "rng_pos",
                "rng_has_gauss", "rng_gauss"}


def out_of_space(err: BaseException) -> bool:
    """Is this a failed write because the disk (or quota) is full?"""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return "No space left on device" in str(err) or "Disk quota exceeded" in str(err)


def latest_step(run_dir: str) -> Tuple[str, dict, dict]:
    """The newest step checkpoint that loads completely, or raise CheckpointError."""
    problems = []
    for path in step_dirs(run_dir, clean=True):
        try:
            return load_step(path)
        except Exception as err:  # a damaged checkpoint: fall back to an older one
            problems.append("%s: %s" % (os.path.basename(path), str(err).splitlines()[0]))
    raise CheckpointError("no usable checkpoint under %s%s" % (
        os.path.join(run_dir, STEPS_DIR), " (%s)" % "; ".join(problems) if problems else ""))


def final_prefix(run_dir: str) -> str:
    """The final weights' prefix, or raise CheckpointError naming what is missing."""
    prefix = os.path.join(run_dir, FINAL_DIR, PREFIX)
    if not os.path.exists(prefix + ".index"):
        if step_dirs(run_dir):
            raise CheckpointError("%s has no final model: the run was stopped before it ended; "
                                  "finish it with: tf1-lstm train --resume %s" % (run_dir, run_dir))
        raise CheckpointError("%s is not a tf1-lstm run directory with a trained model (no %s): "
                              "pass the directory `tf1-lstm train` wrote"
                              % (run_dir, os.path.join(FINAL_DIR, PREFIX)))
    return prefix
