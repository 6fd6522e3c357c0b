"""Checkpoints that survive any stop: written to a temp dir, renamed whole, found by scanning.

A run directory holds `model/` (the final weights, or the last ones at an interruption) and
`checkpoints/step-NNNNNN/` (weights, the sampler's state and the logged curve at that step).
A directory only ever appears under its final name complete, so a run killed mid-write (even
by SIGKILL) leaves at worst a `.tmp` directory that is ignored and cleaned up.
"""

import json
import os
import re

import numpy as np

from tf1_lstm.util.files import atomic_dir, ensure_dir, is_leftover, read_json, remove_quietly

FINAL_DIR = "model"
STEPS_DIR = "checkpoints"
PREFIX = "model.ckpt"
EVERY = 1000  # default steps between resumable checkpoints
KEEP = 3  # step checkpoints kept; older ones are removed once a newer one is complete
_STEP = re.compile(r"^step-(\d+)$")


class CheckpointError(Exception):
    """No usable checkpoint where one was expected; the message names the directory."""


def _write(saver, sess, final, extra=None):
    with atomic_dir(final) as tmp:
        saver.save(sess, os.path.join(tmp, PREFIX))
        for name, writer in (extra or {}).items():
            writer(os.path.join(tmp, name))
    return os.path.join(final, PREFIX)


def save_final(saver, sess, run_dir):
    return _write(saver, sess, os.path.join(run_dir, FINAL_DIR))


def save_step(saver, sess, run_dir, steps_done, sampler_state, progress):
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


def step_dirs(run_dir):
    """Step checkpoint directories, newest first; stray temp dirs are removed."""
    root = os.path.join(run_dir, STEPS_DIR)
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = _STEP.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(root, name)))
        elif is_leftover(name):
            remove_quietly(os.path.join(root, name))
    return [path for _, path in sorted(found, reverse=True)]


def load_step(path):
    """(checkpoint prefix, sampler state, progress) of one step dir; raises if any part is bad."""
    import tensorflow as tf
    prefix = os.path.join(path, PREFIX)
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)  # reads (and checksums) every byte, not just the index
    with np.load(os.path.join(path, "sampler.npz")) as f:
        sampler = {k: f[k] for k in f.files}
    return prefix, sampler, read_json(os.path.join(path, "progress.json"))


def latest_step(run_dir):
    """The newest step checkpoint that loads completely, or raise CheckpointError."""
    problems = []
    for path in step_dirs(run_dir):
        try:
            return load_step(path)
        except Exception as err:  # a damaged checkpoint: fall back to an older one
            problems.append("%s: %s" % (os.path.basename(path), str(err).splitlines()[0]))
    raise CheckpointError("no usable checkpoint under %s%s" % (
        os.path.join(run_dir, STEPS_DIR), " (%s)" % "; ".join(problems) if problems else ""))


def final_prefix(run_dir):
    """The final weights' prefix, or raise CheckpointError naming what is missing."""
    prefix = os.path.join(run_dir, FINAL_DIR, PREFIX)
    if not os.path.exists(prefix + ".index"):
        raise CheckpointError("%s is not a tf1-lstm run directory with a trained model (no %s): "
                              "pass the directory `tf1-lstm train` wrote"
                              % (run_dir, os.path.join(FINAL_DIR, PREFIX)))
    return prefix
