"""One sister post's run: its port trained in this process, recorded as a training run is
(config.json first, metrics.json at the end, both atomic), with a line per epoch and an ETA.

The records keep a training run's shape (status, curve, test_accuracy, fingerprint), so the
report, the run store and `verify` read them as they read the TF post's runs; an epoch's curve
point sits at the optimizer steps done by its end."""

import math
import os
import platform
import random
import sys
import time
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np

from tf1_lstm import posts
from tf1_lstm.core import data, records
from tf1_lstm.core.fingerprint import variables
from tf1_lstm.core.training import run_name
from tf1_lstm.posts import recipe as recipe_lib
from tf1_lstm.util import cpuid, environment, scratch, tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import LOCK, ensure_dir, locked, remove_quietly, write_json


class Context:
    """What a port's main(ctx) gets: its data, length, seed and folder, and where it reports."""

    def __init__(self, config, arrays, say):
        self.post, self.epochs, self.seed = config.post, config.epochs, config.seed
        self.run_dir, self.data_dir, self.options = config.run_dir, config.data_dir, \
            dict(config.recipe)
        (self.train_images, self.train_labels, self.test_images, self.test_labels) = arrays
        self.say, self.curve, self.tested = say, [], []
        self.started = self.epoch_started = time.time()
        self.steps, self._loss, self._correct, self._seen, self._batches = 0, 0.0, 0, 0, 0

    def batch_done(self, loss=None, correct=0, seen=0):
        """One optimizer step: its loss and how many of its `seen` images it got right (Keras
        tells neither: its epoch's figures come to epoch_done)."""
        self.steps += 1
        if loss is None:
            return
        self._loss, self._correct = self._loss + loss, self._correct + correct
        self._seen, self._batches = self._seen + seen, self._batches + 1

    def epoch_done(self, epoch, loss=None, train_accuracy=None, test_accuracy=None):
        """The end of an epoch: a curve point (the epoch's mean batch loss and accuracy unless
        the framework gives its own), its test accuracy where the post tests, an ETA line."""
        loss = loss if loss is not None else self._loss / max(self._batches, 1)
        if train_accuracy is None and self._seen:
            train_accuracy = self._correct / self._seen
        now = time.time()
        self.curve.append({"step": self.steps, "epoch": epoch, "loss": float(loss),
                           "train_accuracy": None if train_accuracy is None
                           else float(train_accuracy), "elapsed": round(now - self.started, 3)})
        if test_accuracy is not None:
            self.tested.append({"step": self.steps, "epoch": epoch,
                                "test_accuracy": float(test_accuracy)})
        per_epoch = (now - self.started) / epoch
        self.say("post %s: epoch %d/%d in %.1f s, ETA %s" % (
            self.post, epoch, self.epochs, now - self.epoch_started,
            minutes(per_epoch * (self.epochs - epoch))))
        self.epoch_started = now
        self._loss, self._correct, self._seen, self._batches = 0.0, 0, 0, 0


def minutes(seconds):
    return "%.0f s" % seconds if seconds < 90 else "%.1f min" % (seconds / 60)


def arrays(data_dir, mirrors):
    """The four verified MNIST files as uint8 images and int64 labels (train, then test)."""
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    found = [data.read_idx(data_dir, n, mirrors) for n in names]
    return tuple(a if a.ndim == 3 else a.astype(np.int64) for a in found)


class PostConfig(NamedTuple):
    """One sister post's run, decided."""
    post: str                 # the post's id (posts.IDS)
    seed: int                 # the framework's global seed
    epochs: int               # epochs to train: the post's own unless told (fewer: shortened)
    threads: int              # the framework's threads
    run_dir: str              # the run directory (new, or empty)
    data_dir: str             # the MNIST folder
    mirrors: Tuple[str, ...]  # where a missing file is fetched from
    recipe: Tuple[Tuple[str, Any], ...] = ()  # the twin's recipe (posts.recipe) as (name,
    #                          value) pairs; () for a post's own program


def new_config(post_id, seed=None, epochs=None, threads=None, run_dir=None, data_dir=None,
               mirrors=(), recipe=None):
    """A new run's config from the `post` command's values (None: the default), the same for
    the command line and a study's task record: seed drawn, folder named. The twin's length
    is its recipe's steps (epochs: the passes they make); `recipe` {name: value} only for it."""
    post = posts.get(post_id)
    seed = random.SystemRandom().randint(0, 2 ** 31 - 2) if seed is None else seed
    options = ()
    if post.id == posts.TWIN.id:
        chosen = recipe_lib.from_options(recipe or {})
        epochs = int(math.ceil(chosen.steps / float(recipe_lib.batches_per_epoch(chosen))))
        options = recipe_lib.options(chosen)
    return PostConfig(post.id, seed, epochs or post.epochs, threads or posts.THREADS,
                      run_dir or os.path.join("runs", run_name("post" + post.id, seed)),
                      data_dir or data.default_data_dir(), tuple(mirrors or ()), options)


# Where the frameworks would keep files of their own (Keras writes ~/.keras/keras.json when it is
# imported): a scratch folder of the run's process instead, removed when it ends.
FRAMEWORK_HOMES = ("KERAS_HOME", "TORCH_HOME")


def rerun_command(argv):
    """The command that trains this run again from a checkout: `post` and its flags (`argv`,
    as typed), through ./run in the post's environment."""
    return " ".join(["./run", "--env", tfenvs.own()] + list(argv[1:]))


def say_now(line):
    """A line of the run's log, there at once (a worker's log is a file)."""
    print(line, flush=True)


def train(config: PostConfig, argv: Optional[List[str]] = None, say=say_now) -> str:
    """Train the run `config` describes into its folder (new, or empty); its status. `argv` is
    the command recorded as the one that trains it (default: this process's own). Nothing is
    written outside the run directory but a scratch folder, removed at the end."""
    home = scratch.make("post")
    os.environ.update({name: home for name in FRAMEWORK_HOMES})
    try:
        return _train(config, argv or sys.argv, say)
    finally:
        remove_quietly(home)


def _train(config, argv, say):
    found = arrays(config.data_dir, config.mirrors)
    run_dir = config.run_dir
    with locked(ensure_dir(run_dir), "%s is being trained by PID %%(pid)s: wait for it to "
                "finish, or choose another --out" % run_dir):
        if [name for name in os.listdir(run_dir) if name != LOCK]:
            raise ToolError("%s already holds files (another run finished there first): "
                            "choose a new run directory" % run_dir)
        # the framework's import comes after every refusal: Keras' start-up lines follow none
        post = posts.get(config.post)
        try:
            port = posts.port(post)
        except ImportError as err:
            raise ToolError(tfenvs.cannot_import(err))
        return _train_locked(config, post, port, found, argv, say)


def _train_locked(config, post, port, found, argv, say):
    switches = port.seeded(config.seed, config.threads)
    record = {"post": dict([("post", post.id)] + (list(config.recipe) or [
                  ("epochs", config.epochs)])), "seed": config.seed,
              "threads": config.threads, "framework": post.framework,
              "environment": tfenvs.own(), "model": post.model,
              "post_settings": post.settings, "post_epochs": post.epochs,
              "changes": list(post.changes), "determinism": switches,
              "parameters": parameters(port.build(post.id, *(
                  [config.recipe] if config.recipe else []))),
              "command": rerun_command(argv), "data_dir": config.data_dir,
              "data_checksums": data.checksums(config.data_dir)}
    write_json(os.path.join(config.run_dir, "config.json"), record)
    say("tf1-lstm post %s (%s): %s; seed=%d epochs=%d -> %s"
        % (post.id, post.framework, post.model, config.seed, config.epochs, config.run_dir))
    if config.recipe:
        say("recipe: %s" % ", ".join("%s=%s" % pair for pair in config.recipe))
    ctx = Context(config, found, say)
    status, result = records.INTERRUPTED, {}
    try:
        result = port.main(ctx)
        status = records.COMPLETE
    finally:
        write_json(os.path.join(config.run_dir, "metrics.json"),
                   metrics(ctx, status, result, port, config.threads, argv))
        if status == records.COMPLETE:
            records.seal(config.run_dir)
    return status


def parameters(model):
    """Trainable parameters of a PyTorch module or a Keras model."""
    if hasattr(model, "count_params"):
        return int(model.count_params())
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def metrics(ctx, status, result, port, threads, argv):
    wall = time.time() - ctx.started
    last = ctx.curve[-1] if ctx.curve else {}
    build = port.framework()
    return {
        "status": status, "post": ctx.post, "seed": ctx.seed,
        "steps_done": ctx.steps, "epochs_done": len(ctx.curve), "curve": ctx.curve,
        "final_train_accuracy": last.get("train_accuracy"),
        "test_accuracy": result.get("test_accuracy"), "tested": ctx.tested,
        "wall_time": round(wall, 3), "train_time": round(wall, 3),
        "steps_per_sec": round(ctx.steps / wall, 3) if wall > 0 and ctx.steps else None,
        "ms_per_step": round(1000.0 * wall / ctx.steps, 3) if ctx.steps else None,
        "seconds_per_epoch": round(wall / len(ctx.curve), 3) if ctx.curve else None,
        "environment": tfenvs.own(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     build["framework"].lower(): build["version"]},
        "machine": environment.machine(argv),
        "fingerprint": fingerprint(build, threads),
    }


def fingerprint(build, threads):
    """What this run's bits depend on beyond its settings: the framework's build and kernels,
    the CPU as CPUID describes it, the threads."""
    cpu = cpuid.read() or {}
    caches = cpu.get("caches") or {}
    return dict(build, l1d_kib=caches.get("L1d"), l2_kib=caches.get("L2"),
                l3_kib=caches.get("L3"), cpu_vendor=cpu.get("vendor"),
                family_model_stepping=cpu.get("family_model_stepping"),
                threads=threads or environment.schedulable_cpus(),
                python=platform.python_version(), environment=tfenvs.own(),
                **variables())
