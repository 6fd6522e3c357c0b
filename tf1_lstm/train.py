"""The original training loop, with a run directory around it.

The loop body is the post's: `next_batch`, reshape, `sess.run(trainop, feed_dict)`, and every
200 steps the accuracy on the batch just trained on. Everything else (metrics, checkpoint,
interruption) happens outside the timed loop or every `log_every` steps, so it costs nothing.
"""

from __future__ import print_function

import collections
import os
import signal
import struct
import sys
import threading
import time

from tf1_lstm import data, environment, hparams
from tf1_lstm.files import remove_quietly, write_json

Config = collections.namedtuple(
    "Config", "cell steps batch_size lr seed data_dir mirrors out threads log_every")

CHECKPOINT_DIR = "model"  # run_dir/model/model.ckpt.*, with a relative `checkpoint` index
COMPLETE, INTERRUPTED = "complete", "interrupted"


def make_config(**overrides):
    """A Config with the original's values for everything not overridden."""
    values = dict(cell="lstm", steps=hparams.STEPS, batch_size=hparams.BATCH_SIZE,
                  lr=hparams.LEARNING_RATE, seed=None, data_dir=None,
                  mirrors=(), out=None, threads=None, log_every=hparams.LOG_EVERY)
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError("unknown config fields: %s" % ", ".join(sorted(unknown)))
    values.update(overrides)
    values["data_dir"] = values["data_dir"] or data.default_data_dir()
    return Config(**values)


def draw_seed():
    """A fresh seed from the OS, so an 'unseeded' run can still be rerun exactly."""
    return struct.unpack(">I", os.urandom(4))[0] % (2 ** 31 - 1)


def default_run_dir(cell, seed, root="runs"):
    return os.path.join(root, "%s-%s-seed%d" % (time.strftime("%Y%m%d-%H%M%S"), cell, seed))


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the run stopped at a step boundary and kept what was done."""


class _StopFlag(object):
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps, so a stop never lands
    halfway through a step (a checkpoint then holds exactly `steps_done` updates)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signame = None

    def _handle(self, signum, frame):
        self.signame = signal.Signals(signum).name

    def __enter__(self):
        self._previous = []
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            self._previous = [(s, signal.signal(s, self._handle)) for s in self.SIGNALS]
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous:
            signal.signal(s, handler)


def save_checkpoint(saver, sess, run_dir):
    """Save into a temp dir, then rename: run_dir/model is always a complete checkpoint."""
    final = os.path.join(run_dir, CHECKPOINT_DIR)
    tmp = os.path.join(run_dir, ".%s.tmp-%d" % (CHECKPOINT_DIR, os.getpid()))
    remove_quietly(tmp)
    try:
        saver.save(sess, os.path.join(tmp, "model.ckpt"))
        old = final + ".old"
        if os.path.exists(final):
            os.rename(final, old)
        os.rename(tmp, final)
        remove_quietly(old)
    except BaseException:
        remove_quietly(tmp)
        raise
    return os.path.join(final, "model.ckpt")


def _format_line(acc, step, steps, loss, elapsed):
    # str(acc) is what the original's print('train accuracy =', acc) shows for a float32.
    line = "train accuracy = %s  (step %d/%d, loss %.4f, %.1f s" % (acc, step, steps, loss, elapsed)
    if step:
        line += ", eta %.0f s" % (elapsed / (step + 1) * (steps - step - 1))
    return line + ")"


def train(config, out=None):
    """Run the original program under `config`; write the run directory; return metrics."""
    import tensorflow as tf
    from tf1_lstm import model as model_lib
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)

    seed_source = "given" if config.seed is not None else "drawn"
    seed = config.seed if config.seed is not None else draw_seed()
    run_dir = config.out or default_run_dir(config.cell, seed)
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir)

    def say(line):
        stream = out or sys.stdout
        print(line, file=stream)
        stream.flush()

    with tf.Graph().as_default() as graph:
        # The seeded original: tf.set_random_seed(S) first, then read_data_sets(..., seed=S).
        tf.set_random_seed(seed)
        numpy_seed = data.numpy_seed(seed, graph.seed)
        mnist = data.read_data_sets(config.data_dir, seed=numpy_seed, mirrors=config.mirrors)
        say("tf1-lstm train: cell=%s steps=%d batch=%d lr=%g seed=%d (%s) -> %s"
            % (config.cell, config.steps, config.batch_size, config.lr, seed, seed_source, run_dir))
        for name in data.FILES:
            say("Extracting %s" % data.find_file(config.data_dir, name))
        model = model_lib.build(config.cell, config.lr)
        saver = tf.train.Saver(save_relative_paths=True)
        graph.finalize()

        record = dict(config._asdict(), mirrors=list(config.mirrors), seed=seed,
                      seed_source=seed_source, numpy_seed=numpy_seed, run_dir=run_dir,
                      parameters=model_lib.parameter_count(),
                      command=environment.command_line(),
                      data_checksums=data.checksums(config.data_dir))
        write_json(os.path.join(run_dir, "config.json"), record)

        curve, status = [], COMPLETE
        test_accuracy, steps_done = None, 0
        start = time.time()
        with tf.Session(config=model_lib.session_config(config.threads)) as sess, \
                _StopFlag() as stop:
            try:
                sess.run(model.init)
                for step in range(config.steps):
                    x_batch, y_batch = mnist.train.next_batch(config.batch_size)
                    x_batch = x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS])
                    feed = {model.X: x_batch, model.Y_labels: y_batch}
                    sess.run(model.train_op, feed_dict=feed)
                    if step % config.log_every == 0:
                        acc, loss = sess.run([model.accuracy, model.loss], feed_dict=feed)
                        elapsed = time.time() - start
                        curve.append({"step": step, "train_accuracy": float(acc),
                                      "loss": float(loss), "elapsed": round(elapsed, 3)})
                        say(_format_line(acc, step, config.steps, loss, elapsed))
                    steps_done = step + 1
                    if stop.signame:
                        raise Interrupted(stop.signame)
                train_seconds = time.time() - start
                X_test = mnist.test.images.reshape((-1, hparams.N_STEPS, hparams.N_INPUTS))
                test_accuracy = sess.run(model.accuracy, feed_dict={
                    model.X: X_test, model.Y_labels: mnist.test.labels})
                say("test accuracy = %s" % test_accuracy)
            except Interrupted as signame:
                status = INTERRUPTED
                train_seconds = time.time() - start
                say("Interrupted by %s after %d steps: saving what was done to %s"
                    % (signame, steps_done, run_dir))
            checkpoint = save_checkpoint(saver, sess, run_dir)

    metrics = {
        "status": status,
        "cell": config.cell,
        "seed": seed,
        "steps_done": steps_done,
        "curve": curve,
        "final_train_accuracy": curve[-1]["train_accuracy"] if curve else None,
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "wall_time": round(time.time() - start, 3),
        "train_time": round(train_seconds, 3),
        "steps_per_sec": round(steps_done / train_seconds, 3) if train_seconds > 0 else None,
        "ms_per_step": round(1000.0 * train_seconds / steps_done, 3) if steps_done else None,
        "checkpoint": os.path.relpath(checkpoint, run_dir),
        "versions": environment.versions(),
        "machine": environment.machine(),
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    if status == INTERRUPTED:
        raise Interrupted("run stopped early; partial results are in %s" % run_dir)
    return metrics
