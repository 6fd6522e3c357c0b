"""`tf1-lstm twin`: the faithful TF graph and its PyTorch twin (posts.twin), started from the same
initial weights on the same batches, compared step by step.

The TF side is an ordinary faithful run (core.training, threads 1) whose monitor keeps each
step's loss; its initial weights come from the same graph built again under the same seed. The
twin trains in the PyTorch environment from those weights. Where the two part is the framework's
arithmetic (summation order, rsqrt, kernels), since the recipe is the same on both sides.
"""

import json
import os
import subprocess
import tempfile
from typing import List, NamedTuple, Optional

from tf1_lstm import posts
from tf1_lstm.core import data, monitor, training
from tf1_lstm.util import tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import ensure_dir, remove_quietly, write_json

STEPS = 50             # steps compared unless told
THREADS = 1            # both sides: one thread, so each side repeats its own numbers
STEP0_TOLERANCE = 1e-5  # relative: step 0's losses, one forward pass, agree to float32 rounding
TOLERANCE = 1e-3       # relative: the two have parted at the first step that differs by more
RULE = ("step 0 equal within a relative %g (else the twin is not the graph); the horizon is the "
        "first step whose losses differ by more than a relative %g" % (STEP0_TOLERANCE, TOLERANCE))


class TwinError(ToolError):
    """The twin cannot be run or compared here (its environment, or its answer)."""


class Compared(NamedTuple):
    """One cell's two curves and what the rule says of them."""
    cell: str
    tf: List[float]              # the faithful graph's loss at each step (before its update)
    twin: List[float]            # the twin's
    largest: float               # the largest relative difference over the steps
    largest_at: int              # its step
    horizon: Optional[int]       # the first step differing by more than TOLERANCE (None: none)
    step0_defect: Optional[str]  # why step 0 says the twin is not the graph (None: it is)


def relative(a, b):
    """|a - b| over the larger magnitude (0 where both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def horizon(tf_losses, twin_losses, tolerance=TOLERANCE):
    """The first step whose two losses differ by more than `tolerance` (relative), or None."""
    return next((i for i, (a, b) in enumerate(zip(tf_losses, twin_losses))
                 if relative(a, b) > tolerance), None)


def step0_defect(tf_losses, twin_losses, tolerance=STEP0_TOLERANCE):
    """None if step 0's losses agree within `tolerance`; else the line saying the twin is not
    the graph."""
    gap = relative(tf_losses[0], twin_losses[0])
    if gap <= tolerance:
        return None
    return ("the twin is not the graph: step 0 differs by a relative %.3g (TF %.9g, twin %.9g; "
            "allowed %g)" % (gap, tf_losses[0], twin_losses[0], tolerance))


def compare(cell, tf_losses, twin_losses):
    """The rule applied to one cell's two curves."""
    gaps = [relative(a, b) for a, b in zip(tf_losses, twin_losses)]
    at = max(range(len(gaps)), key=gaps.__getitem__)
    return Compared(cell, list(tf_losses), list(twin_losses), gaps[at], at,
                    horizon(tf_losses, twin_losses), step0_defect(tf_losses, twin_losses))


class Losses(monitor.Monitor):
    """Keeps the loss of every step, fetched with the step's train_op (so before its update)."""

    def __init__(self):
        self.losses = []

    def build(self, model):
        return [model.train_op, model.loss]

    def after_step(self, step, sess, feed, fetched):
        self.losses.append(float(fetched[1]))
        return None


def initial_weights(config):
    """The faithful graph's trainable variables at step 0 under config's seed, in their order
    (the graph built again as training builds it: same ops, same order, same op seeds)."""
    from tf1_lstm.core import model as model_lib
    tf = model_lib.tf
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(config.seed)
        built = model_lib.build(config)
        with tf.Session(graph=graph, config=model_lib.session_config(THREADS)) as sess:
            sess.run(built.init)
            return [(v.name, sess.run(v)) for v in tf.trainable_variables()]


def tf_side(cell, seed, steps, out, data_dir, mirrors):
    """The faithful run's losses (the run in out/tf-<cell>, its log beside it), its initial
    weights and its metrics."""
    values = {"cell": cell, "seed": seed, "steps": steps, "threads": THREADS,
              "run_dir": os.path.join(out, "tf-" + cell), "data_dir": data_dir,
              "mirrors": mirrors}
    config = training.new_config(values, None)
    losses = Losses()
    with open(os.path.join(out, "tf-%s.log" % cell), "w") as log:
        metrics = training.train(config, log=log, monitor=losses)
    return losses.losses, initial_weights(config), metrics


def twin_side(cell, seed, steps, weights, data_dir):
    """The twin's losses, trained in the PyTorch environment from `weights`."""
    import numpy as np
    python = tfenvs.ready(posts.TORCH_ENV)
    handle, path = tempfile.mkstemp(prefix=".tf1-lstm-twin-", suffix=".npz")
    os.close(handle)
    try:
        np.savez(path, **{"w%d" % i: value for i, (_, value) in enumerate(weights)})
        done = subprocess.run([python, "-m", "tf1_lstm.posts.twin", "--weights", path,
                               "--cell", cell, "--seed", str(seed), "--steps", str(steps),
                               "--threads", str(THREADS), "--data-dir",
                               os.path.abspath(data_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    finally:
        remove_quietly(path)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TwinError("the twin failed in %s (exit %d): %s" % (posts.TORCH_ENV,
                                                                 done.returncode, last))
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(cells, seed, steps, out, data_dir, mirrors=(), say=print):
    """Both sides for each cell, compared, written to `out`/twin.json: (the Compared of each
    cell, the record)."""
    data_dir = data_dir or data.default_data_dir()
    ensure_dir(out)
    found, record = [], {"seed": seed, "steps": steps, "threads": THREADS, "rule": RULE,
                         "cells": {}}
    for cell in cells:
        say("twin: %s, seed %d, %d steps: the faithful TF graph" % (cell, seed, steps))
        tf_losses, weights, metrics = tf_side(cell, seed, steps, out, data_dir, mirrors)
        say("twin: %s: the PyTorch twin from the same %d weight tensors" % (cell, len(weights)))
        answer = twin_side(cell, seed, steps, weights, data_dir)
        compared = compare(cell, tf_losses, answer["losses"])
        found.append(compared)
        record["cells"][cell] = dict(compared._asdict(), twin_framework=answer["framework"],
                                     weights=[name for name, _ in weights],
                                     tf_run="tf-" + cell, tf_versions=metrics["versions"],
                                     machine=metrics["machine"])
    write_json(os.path.join(out, "twin.json"), record)
    return found, record


def where(record):
    """What twin.json's figures came from: the machine, TF's and PyTorch's builds."""
    first = next(iter(record["cells"].values()))
    cpu = first["machine"].get("cpu_id") or {}
    return "on %s (%s), %d thread: TensorFlow %s (Python %s), PyTorch %s (%s)" % (
        first["machine"]["cpu"], cpu.get("family_model_stepping", "?"), THREADS,
        first["tf_versions"]["tensorflow"], first["tf_versions"]["python"],
        first["twin_framework"]["version"], first["twin_framework"]["cpu_capability"])


def lines(compared):
    """What the command prints for one cell: both losses per step, then the verdict."""
    out = ["%s: step, TF loss, twin loss, relative difference" % compared.cell]
    out += ["  %5d  %.9f  %.9f  %.2e" % (i, a, b, relative(a, b))
            for i, (a, b) in enumerate(zip(compared.tf, compared.twin))]
    out.append("%s: largest relative difference %.2e at step %d; %s" % (
        compared.cell, compared.largest, compared.largest_at,
        "they part at step %d (relative > %g)" % (compared.horizon, TOLERANCE)
        if compared.horizon is not None else
        "within %g at every one of the %d steps" % (TOLERANCE, len(compared.tf))))
    if compared.step0_defect:
        out.append("%s: %s" % (compared.cell, compared.step0_defect))
    return out
