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

from tf1_lstm import checkpoints, data, environment, hparams
from tf1_lstm.files import read_json, write_json

Config = collections.namedtuple(
    "Config", "cell steps batch_size lr seed data_dir mirrors out threads log_every "
              "checkpoint_every tensorboard impl forget_bias clip seed_source")

COMPLETE, INTERRUPTED, DIVERGED = "complete", "interrupted", "diverged"


def make_config(**overrides):
    """A Config with the original's values for everything not overridden (or overridden by None)."""
    values = dict(cell="lstm", steps=hparams.STEPS, batch_size=hparams.BATCH_SIZE,
                  lr=hparams.LEARNING_RATE, seed=None, data_dir=None, mirrors=(), out=None,
                  threads=None, log_every=hparams.LOG_EVERY, checkpoint_every=checkpoints.EVERY,
                  tensorboard=False, impl="basic", forget_bias=hparams.FORGET_BIAS, clip=None,
                  seed_source=None)
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError("unknown config fields: %s" % ", ".join(sorted(unknown)))
    values.update((k, v) for k, v in overrides.items() if v is not None)
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


def _format_line(acc, step, steps, loss, elapsed):
    # str(acc) is what the original's print('train accuracy =', acc) shows for a float32.
    line = "train accuracy = %s  (step %d/%d, loss %.4f, %.1f s" % (acc, step, steps, loss, elapsed)
    if step:
        line += ", eta %.0f s" % (elapsed / (step + 1) * (steps - step - 1))
    return line + ")"


class _Board(object):
    """TensorBoard scalars written from values the loop already fetched: no op is added to the
    graph, so the faithful graph (and its seeded initial weights) stays exactly the original."""

    def __init__(self, run_dir, graph, enabled):
        self._writer = None
        if enabled:
            import tensorflow as tf
            self._writer = tf.summary.FileWriter(os.path.join(run_dir, "tensorboard"), graph)

    def scalars(self, step, **values):
        if self._writer is None:
            return
        import tensorflow as tf
        self._writer.add_summary(tf.Summary(value=[
            tf.Summary.Value(tag=k, simple_value=float(v)) for k, v in sorted(values.items())]),
            step)

    def close(self):
        if self._writer is not None:
            self._writer.close()


def resume_config(run_dir):
    """The Config of an earlier run, read back from its config.json."""
    try:
        record = read_json(os.path.join(run_dir, "config.json"))
    except (OSError, ValueError) as err:
        raise checkpoints.CheckpointError(
            "%s has no readable config.json (%s): pass a directory `tf1-lstm train` wrote"
            % (run_dir, getattr(err, "strerror", None) or err))
    try:
        metrics = read_json(os.path.join(run_dir, "metrics.json"))
    except (OSError, ValueError):
        metrics = {}
    if metrics.get("status") == COMPLETE:
        raise checkpoints.CheckpointError("%s is already complete: nothing to resume" % run_dir)
    fields = dict((k, record[k]) for k in Config._fields if k in record)
    fields.update(out=run_dir, mirrors=tuple(record.get("mirrors", ())))
    return make_config(**fields)


def train(config, out=None, resume=False, monitor=None):
    """Run the original program under `config`; write the run directory; return metrics.

    With resume=True, continue config.out from its newest usable step checkpoint: weights,
    Adam's slots and the sampler's state are restored, so every later value equals the
    uninterrupted run's. A `monitor` (see diagnose.Monitor) adds its own ops after the
    original graph is built, looks at the batch after each step, and may stop the run.
    """
    tf = environment.import_tensorflow()
    from tf1_lstm import model as model_lib

    if config.seed is None:
        seed, seed_source = draw_seed(), "drawn"
    else:
        seed, seed_source = config.seed, config.seed_source or "given"
    run_dir = config.out or default_run_dir(config.cell, seed)
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir)
    restored = checkpoints.latest_step(run_dir) if resume else None

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
        model = model_lib.build(config.cell, config.lr, impl=config.impl,
                                forget_bias=config.forget_bias, clip=config.clip)
        saver = tf.train.Saver(save_relative_paths=True, max_to_keep=None)
        train_fetch = model.train_op
        if monitor is not None:
            train_fetch = monitor.build(model)
        graph.finalize()

        if not resume:
            record = dict(config._asdict(), mirrors=list(config.mirrors), seed=seed,
                          seed_source=seed_source, numpy_seed=numpy_seed, run_dir=run_dir,
                          parameters=model_lib.parameter_count(),
                          command=environment.command_line(),
                          data_checksums=data.checksums(config.data_dir))
            write_json(os.path.join(run_dir, "config.json"), record)

        curve, status, first_step, previous_time = [], COMPLETE, 0, 0.0
        test_accuracy = None
        board = _Board(run_dir, graph, config.tensorboard)
        with tf.Session(config=model_lib.session_config(config.threads)) as sess, \
                _StopFlag() as stop:
            sess.run(model.init)
            if restored:
                prefix, sampler_state, progress = restored
                saver.restore(sess, prefix)
                mnist.train.set_state(sampler_state)
                curve, first_step = progress["curve"], progress["steps_done"]
                previous_time = progress["train_time"]
                say("Resumed from %s after %d steps" % (os.path.dirname(prefix), first_step))
            steps_done = first_step
            start = time.time() - previous_time

            def checkpoint():
                return checkpoints.save_step(
                    saver, sess, run_dir, steps_done, mnist.train.get_state(),
                    {"curve": curve, "train_time": time.time() - start})

            try:
                for step in range(first_step, config.steps):
                    x_batch, y_batch = mnist.train.next_batch(config.batch_size)
                    x_batch = x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS])
                    feed = {model.X: x_batch, model.Y_labels: y_batch}
                    trained = sess.run(train_fetch, feed_dict=feed)
                    if step % config.log_every == 0:
                        acc, loss = sess.run([model.accuracy, model.loss], feed_dict=feed)
                        elapsed = time.time() - start
                        curve.append({"step": step, "train_accuracy": float(acc),
                                      "loss": float(loss), "elapsed": round(elapsed, 3)})
                        say(_format_line(acc, step, config.steps, loss, elapsed))
                        board.scalars(step, train_accuracy=acc, loss=loss)
                    steps_done = step + 1
                    if monitor is not None:
                        reason = monitor.after_step(step, sess, feed, trained)
                        if reason:
                            status = DIVERGED
                            say("Stopped after %d steps: %s" % (steps_done, reason))
                            break
                    if stop.signame:
                        raise Interrupted(stop.signame)
                    if config.checkpoint_every and steps_done % config.checkpoint_every == 0 \
                            and steps_done < config.steps:
                        checkpoint()
                train_seconds = time.time() - start
                if monitor is not None:
                    monitor.finish(run_dir, status)
                X_test = mnist.test.images.reshape((-1, hparams.N_STEPS, hparams.N_INPUTS))
                test_accuracy = sess.run(model.accuracy, feed_dict={
                    model.X: X_test, model.Y_labels: mnist.test.labels})
                say("test accuracy = %s" % test_accuracy)
                board.scalars(steps_done, test_accuracy=test_accuracy)
            except Interrupted as signame:
                status = INTERRUPTED
                train_seconds = time.time() - start
                checkpoint()
                say("Interrupted by %s after %d steps. Resume with: tf1-lstm train --resume %s"
                    % (signame, steps_done, run_dir))
            finally:
                board.close()
            final = checkpoints.save_final(saver, sess, run_dir)

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
        "resumed_from_step": first_step if resume else None,
        "checkpoint": os.path.relpath(final, run_dir),
        "versions": environment.versions(),
        "machine": environment.machine(),
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    if status == INTERRUPTED:
        raise Interrupted("run stopped early; resume with: tf1-lstm train --resume %s" % run_dir)
    return metrics
