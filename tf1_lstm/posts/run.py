"""One sister post's run: its port trained in this process, recorded as a training run is
(config.json first, metrics.json at the end, both atomic), with a line per epoch and an ETA.

The records keep a training run's shape (status, curve, test_accuracy, fingerprint), so the
report, the run store and `verify` read them as they read the TF post's runs; an epoch's curve
point sits at the optimizer steps done by its end."""

import importlib
import os
import platform
import random
import sys
import time

import numpy as np

from tf1_lstm.core import data, records
from tf1_lstm.core.fingerprint import VARIABLES, variables
from tf1_lstm.util import cpuid, environment, scratch, tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import LOCK, ensure_dir, locked, remove_quietly, write_json

# A post's fingerprint (fingerprint() below): (field, how a difference in it is named), in the
# order they are explained, the environment variables from the table every run records
# (core.fingerprint.VARIABLES); the TF post's are core.fingerprint.FACTORS.
FACTORS = (
    ("framework", "framework"),
    ("version", "framework version"),
    ("git", "framework build"),
    ("cpu_capability", "PyTorch's CPU kernels (cpu_capability)"),
    ("tensorflow", "TensorFlow under Keras"),
    ("l1d_kib", "L1d size (CPUID)"),
    ("l2_kib", "L2 size (CPUID)"),
    ("l3_kib", "L3 size (CPUID)"),
    ("cpu_vendor", "CPU vendor"),
    ("family_model_stepping", "CPU model (family/model/stepping)"),
    ("threads", "threads"),
    ("python", "Python version"),
) + tuple((field, name) for field, name, _ in VARIABLES)
BY_FRAMEWORK = {"PyTorch": ("tensorflow",), "Keras": ("cpu_capability",)}  # not theirs


def acting(framework):
    """(field, name) of the FACTORS a run of `framework` (PyTorch, Keras) depends on."""
    not_read = set(BY_FRAMEWORK.get(framework, ())) | {
        field for field, _, readers in VARIABLES if framework not in readers}
    return [(key, name) for key, name in FACTORS if key not in not_read]


class Context:
    """What a port's main(ctx) gets: its data, length, seed and folder, and where it reports."""

    def __init__(self, post, epochs, seed, run_dir, arrays, say):
        self.post, self.epochs, self.seed, self.run_dir = post.id, epochs, seed, run_dir
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


def draw_seed():
    return random.SystemRandom().randint(0, 2 ** 31 - 2)


# Where the frameworks would keep files of their own (Keras writes ~/.keras/keras.json when it is
# imported): a scratch folder of the run's process instead, removed when it ends.
FRAMEWORK_HOMES = ("KERAS_HOME", "TORCH_HOME")


def rerun_command():
    """The command that trains this run again from a checkout: `post` and its flags, through
    ./run in the post's environment (the process's own argv names its venv's tf1-lstm)."""
    return " ".join(["./run", "--env", tfenvs.own()] + sys.argv[1:])


def say_now(line):
    """A line of the run's log, there at once (a worker's log is a file)."""
    print(line, flush=True)


def train(post, seed, epochs, threads, run_dir, data_dir=None, mirrors=(), say=say_now):
    """Train post `post` (a posts.Post) into run_dir (new, or empty); its metrics.json. Nothing
    is written outside run_dir but a scratch folder, removed at the end."""
    home = scratch.make("post")
    os.environ.update({name: home for name in FRAMEWORK_HOMES})
    try:
        return _train(post, seed, epochs, threads, run_dir, data_dir, mirrors, say)
    finally:
        remove_quietly(home)


def _train(post, seed, epochs, threads, run_dir, data_dir, mirrors, say):
    data_dir = data_dir or data.default_data_dir()
    found = arrays(data_dir, mirrors)
    with locked(ensure_dir(run_dir), "%s is being trained by PID %%(pid)s: wait for it to "
                "finish, or choose another --out" % run_dir):
        if [name for name in os.listdir(run_dir) if name != LOCK]:
            raise ToolError("%s already holds files (another run finished there first): "
                            "choose a new run directory" % run_dir)
        # the framework's import comes after every refusal: Keras' start-up lines follow none
        try:
            port = importlib.import_module("tf1_lstm.posts." + post.module)
        except ImportError as err:
            raise ToolError(tfenvs.cannot_import(err))
        return _train_locked(post, port, seed, epochs, threads, run_dir, data_dir, found, say)


def _train_locked(post, port, seed, epochs, threads, run_dir, data_dir, found, say):
    switches = port.seeded(seed, threads)
    config = {"post": {"post": post.id, "epochs": epochs}, "seed": seed, "threads": threads,
              "framework": post.framework, "environment": tfenvs.own(), "model": post.model,
              "post_settings": post.settings, "post_epochs": post.epochs,
              "changes": list(post.changes), "determinism": switches,
              "parameters": parameters(port.build(post.id)),
              "command": rerun_command(), "data_dir": data_dir,
              "data_checksums": data.checksums(data_dir)}
    write_json(os.path.join(run_dir, "config.json"), config)
    say("tf1-lstm post %s (%s): %s; seed=%d epochs=%d -> %s"
        % (post.id, post.framework, post.model, seed, epochs, run_dir))
    ctx = Context(post, epochs, seed, run_dir, found, say)
    status, result = records.INTERRUPTED, {}
    try:
        result = port.main(ctx)
        status = records.COMPLETE
    finally:
        write_json(os.path.join(run_dir, "metrics.json"),
                   metrics(ctx, status, result, port, threads))
        if status == records.COMPLETE:
            records.seal(run_dir)
    return status


def parameters(model):
    """Trainable parameters of a PyTorch module or a Keras model."""
    if hasattr(model, "count_params"):
        return int(model.count_params())
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def metrics(ctx, status, result, port, threads):
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
        "machine": environment.machine(),
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
