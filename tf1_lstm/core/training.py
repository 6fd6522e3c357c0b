"""The original training loop, with a run directory around it.

The loop body is the post's (reference/original.py lines 49-59): `next_batch`, reshape,
`sess.run(trainop, feed_dict)`, every 200 steps the accuracy on the batch just trained on, and
at the end the accuracy on the test set. Everything else (metrics, checkpoints, interruption)
happens outside the timed loop or every `log_every` steps, so it costs nothing.
"""

import contextlib
import os
import signal
import struct
import sys
import threading
import time
from typing import Any, List, NamedTuple, Optional, TextIO

from tf1_lstm.core import checkpoints, data, datasets, fingerprint, hparams, settings, tfcompat
from tf1_lstm.core.monitor import Monitor
from tf1_lstm.core.records import COMPLETE, INTERRUPTED, read_run_config, seal
from tf1_lstm.util import environment, interrupts, tfenvs
from tf1_lstm.util.files import ensure_dir, read_json, write_json


class RunConfig(settings.config_type()):
    """Everything one training run depends on, one field per row of core.settings.SETTINGS,
    each default the post's."""

    __slots__ = ()

    @classmethod
    def of(cls, **fields):
        """A config from keyword fields, None meaning "the default" (as flags left alone)."""
        unknown = set(fields) - set(cls._fields)
        if unknown:
            raise TypeError("unknown config fields: %s" % ", ".join(sorted(unknown)))
        return cls(**{k: v for k, v in fields.items() if v is not None})

    @classmethod
    def from_record(cls, record, **overrides):
        """The config a config.json describes (older records lack newer keys: defaults)."""
        return settings.from_record(record, cls, **overrides)


def run_name(cell: str, seed: int, label: Optional[str] = None) -> str:
    """The one spelling of a run's name: `<cell or label>-seed<N>`."""
    return "%s-seed%d" % (label or cell, seed)


def draw_seed() -> int:
    """A fresh seed from the OS, so an 'unseeded' run can still be rerun exactly."""
    return struct.unpack(">I", os.urandom(4))[0] % (2 ** 31 - 1)


def default_run_dir(cell: str, seed: int, root: str = "runs") -> str:
    return os.path.join(root, "%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), run_name(cell, seed)))


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the run stopped at a step boundary and kept what was done;
    the message says how to resume."""


class _Stop(Exception):
    """Inside the loop: a signal (`signame`) arrived; the loop stopped after `steps_done`."""

    def __init__(self, signame, steps_done):
        super().__init__(signame, steps_done)
        self.signame, self.steps_done = signame, steps_done


class _StopFlag:
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
        if interrupts.received():  # arrived since the last check: stop at the first boundary
            self.signame = interrupts.received()
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


class _Board:
    """TensorBoard scalars written from values the loop already fetched: no op is added to the
    graph, so the faithful graph (and its seeded initial weights) stays exactly the original."""

    def __init__(self, run_dir, graph, enabled):
        self._writer = None
        if enabled:
            tf = tfcompat.import_tensorflow()
            self._writer = tf.summary.FileWriter(os.path.join(run_dir, "tensorboard"), graph)

    def scalars(self, step, **values):
        if self._writer is None:
            return
        tf = tfcompat.import_tensorflow()
        self._writer.add_summary(tf.Summary(value=[
            tf.Summary.Value(tag=k, simple_value=float(v)) for k, v in sorted(values.items())]),
            step)

    def close(self):
        if self._writer is not None:
            self._writer.close()


def resume_config(run_dir: str) -> RunConfig:
    """The RunConfig of an earlier, unfinished run, read back from its config.json."""
    record = read_run_config(run_dir)
    try:
        metrics = read_json(os.path.join(run_dir, "metrics.json"))
    except (OSError, ValueError):
        metrics = {}
    if isinstance(metrics, dict) and metrics.get("status") == COMPLETE:
        raise checkpoints.CheckpointError("%s is already complete: nothing to resume" % run_dir)
    return RunConfig.from_record(record, run_dir=run_dir)


class _Run(NamedTuple):
    """One run being trained: what the loop, the checkpoints and the metrics share."""
    config: RunConfig    # the settings, with seed, run_dir and data_dir filled in
    graph: Any           # the tf.Graph holding the model
    splits: Any          # data.Splits (train/validation/test) with the seeded sampler
    model: Any           # core.model.Model
    saver: Any           # tf.train.Saver for checkpoints and the final model
    train_fetch: Any     # what each step runs: train_op, or the monitor's list
    say: Any             # print one line of the log
    curve: list          # {step, train_accuracy, loss, elapsed} every log_every steps
    tested: list         # {step, test_accuracy} at config.test_at
    argv: list           # the command that trains this run alone, as typed


def _prepare(config, log, monitor, argv):
    """Seed, data, graph and config.json: the post's program up to its session."""
    tf = tfcompat.import_tensorflow()
    from tf1_lstm.core import model as model_lib

    def say(line):
        stream = log or sys.stdout
        print(line, file=stream)
        stream.flush()

    graph = tf.Graph()
    with graph.as_default():
        # The seeded original: tf.set_random_seed(S) first, then read_data_sets(..., seed=S).
        tf.set_random_seed(config.seed)
        numpy_seed = data.numpy_seed(config.seed, graph.seed)
        mnist = data.read_data_sets(config.data_dir, seed=numpy_seed, mirrors=config.mirrors,
                                    dataset=config.dataset)
        say("tf1-lstm train: cell=%s steps=%d batch=%d lr=%g seed=%d (%s)%s -> %s"
            % (config.cell, config.steps, config.batch_size, config.lr, config.seed,
               config.seed_source, "" if config.dataset == datasets.MNIST.name else
               " dataset=" + config.dataset, config.run_dir))
        for name in datasets.get(config.dataset).files:
            say("Extracting %s" % data.find_file(config.data_dir, name))
        model = model_lib.build(config)
        saver = tf.train.Saver(save_relative_paths=True, max_to_keep=None)
        train_fetch = monitor.build(model)
        graph.finalize()
        record = dict(config._asdict(), mirrors=list(config.mirrors), numpy_seed=numpy_seed,
                      parameters=model_lib.parameter_count(),
                      environment=tfenvs.name(tfcompat.api().version), tf=tfcompat.recorded(),
                      command=environment.command_line(argv),
                      data_checksums=data.checksums(config.data_dir, config.dataset))
    return _Run(config, graph, mnist, model, saver, train_fetch, say, [], [], argv), record


def _restore(run, sess, restored):
    """Weights, Adam's slots, sampler, curve and test points of a step checkpoint;
    returns (steps done, train seconds)."""
    prefix, sampler_state, progress = restored
    run.saver.restore(sess, prefix)
    run.splits.train.set_state(sampler_state)
    run.curve.extend(progress["curve"])
    run.tested.extend(progress.get("tested", []))
    run.say("Resumed from %s after %d steps" % (os.path.dirname(prefix), progress["steps_done"]))
    return progress["steps_done"], progress["train_time"]


def _post_loop(run, sess, first_step, start, stop, board, checkpoint, monitor):
    """The post's own loop (reference/original.py lines 51-56); returns (steps done, status).

    Added around it, outside the post's arithmetic: the curve, the log line's extras, the stop
    flag, step checkpoints, test points, and a monitor's look at each step.
    """
    config, model, status = run.config, run.model, COMPLETE
    steps_done = first_step
    for step in range(first_step, config.steps):
        x_batch, y_batch = run.splits.train.next_batch(config.batch_size)
        x_batch = x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS])
        feed = {model.X: x_batch, model.Y_labels: y_batch}
        fetched = sess.run(run.train_fetch, feed_dict=feed)
        if step % config.log_every == 0:
            acc, loss = sess.run([model.accuracy, model.loss], feed_dict=feed)
            elapsed = time.time() - start
            run.curve.append({"step": step, "train_accuracy": float(acc), "loss": float(loss),
                              "elapsed": round(elapsed, 3)})
            run.say(_format_line(acc, step, config.steps, loss, elapsed))
            board.scalars(step, train_accuracy=acc, loss=loss)
        steps_done = step + 1
        if steps_done in config.test_at:
            run.tested.append({"step": steps_done,
                               "test_accuracy": float(_test_accuracy(run, sess, steps_done))})
        reason = monitor.after_step(step, sess, feed, fetched)
        if reason:
            run.say("Stopped after %d steps: %s" % (steps_done, reason))
            return steps_done, monitor.stop_status
        if stop.signame:
            raise _Stop(stop.signame, steps_done)
        if config.checkpoint_every and steps_done % config.checkpoint_every == 0 \
                and steps_done < config.steps:
            checkpoint(steps_done)
    return steps_done, status


def _test_accuracy(run, sess, at_step=None):
    """The post's last lines (reference/original.py lines 57-59): accuracy on the test set.
    At a study's test point (`at_step`) the line says so, and training goes on unchanged."""
    X_test = run.splits.test.images.reshape((-1, hparams.N_STEPS, hparams.N_INPUTS))
    test_accuracy = sess.run(run.model.accuracy, feed_dict={
        run.model.X: X_test, run.model.Y_labels: run.splits.test.labels})
    run.say("test accuracy = %s" % test_accuracy if at_step is None else
            "test accuracy after step %d = %s" % (at_step, test_accuracy))
    return test_accuracy


def _metrics(run, status, steps_done, test_accuracy, seconds, first_step, resume, final):
    """metrics.json's contents; `seconds` = (wall, train)."""
    wall, train_seconds, curve = seconds[0], seconds[1], run.curve
    return {
        "status": status,
        "cell": run.config.cell,
        "seed": run.config.seed,
        "steps_done": steps_done,
        "curve": curve,
        "final_train_accuracy": curve[-1]["train_accuracy"] if curve else None,
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "tested": run.tested,
        "wall_time": round(wall, 3),
        "train_time": round(train_seconds, 3),
        "steps_per_sec": round(steps_done / train_seconds, 3) if train_seconds > 0 else None,
        "ms_per_step": round(1000.0 * train_seconds / steps_done, 3) if steps_done else None,
        "resumed_from_step": first_step if resume else None,
        "checkpoint": os.path.relpath(final, run.config.run_dir),
        "versions": environment.versions(),
        "cuda": tfcompat.cuda(),
        "machine": environment.machine(run.argv),
        "fingerprint": fingerprint.of_this_process(run.config.threads),
    }


def new_config(values: dict, cell_unless_given: Optional[str] = None) -> RunConfig:
    """A new run's config from setting values (None: the default), the same for the command
    line and a study's task record: checked across settings, seed drawn, folder named."""
    values = dict(values, cell=values.get("cell") or cell_unless_given,
                  mirrors=tuple(values.get("mirrors") or ()))
    settings.check(values)
    return resolved(RunConfig.of(**values))


def resolved(config: RunConfig) -> RunConfig:
    """The config with its seed, run directory and data folder decided (drawn or defaults)."""
    if config.seed is None:
        config = config._replace(seed=draw_seed(), seed_source="drawn")
    return config._replace(seed_source=config.seed_source or "given",
                           run_dir=config.run_dir or default_run_dir(config.cell, config.seed),
                           data_dir=config.data_dir or data.default_data_dir(config.dataset))


def train(config: RunConfig, log: Optional[TextIO] = None, resume: bool = False,
          monitor: Optional[Monitor] = None, argv: Optional[List[str]] = None) -> dict:
    """Run the original program under `config`; write the run directory; return metrics.

    With resume=True, continue config.run_dir from its newest usable step checkpoint: weights,
    Adam's slots and the sampler's state are restored, so every later value equals the
    uninterrupted run's. A `monitor` (core.monitor.Monitor; studies.tools.diagnose has one) adds its
    own ops after the original graph is built, looks at each step, and may stop the run with its
    `stop_status`. `argv` is the command recorded as the one that trains this run (default: this
    process's own). The run directory is locked while this process trains in it.
    """
    monitor = monitor or Monitor()
    config = resolved(config)
    ensure_dir(config.run_dir)
    with checkpoints.run_lock(config.run_dir):
        return _train_locked(config, log, resume, monitor, argv or sys.argv)


def _train_locked(config, log, resume, monitor, argv):
    tf = tfcompat.import_tensorflow()
    from tf1_lstm.core import model as model_lib
    restored = checkpoints.latest_step(config.run_dir) if resume else None
    run, record = _prepare(config, log, monitor, argv)
    run_dir = run.config.run_dir
    interrupts.check()  # the last moment at which a Ctrl-C leaves nothing written
    if not resume:
        write_json(os.path.join(run_dir, "config.json"), record)
    first_step, previous_time, test_accuracy = 0, 0.0, None
    board = _Board(run_dir, run.graph, run.config.tensorboard)
    session = tf.Session(graph=run.graph, config=model_lib.session_config(run.config.threads))
    with run.graph.as_default(), session as sess, _StopFlag() as stop:
        sess.run(run.model.init)
        if restored:
            first_step, previous_time = _restore(run, sess, restored)
        start = time.time() - previous_time

        def checkpoint(steps_done):
            with _space_checked(run_dir, steps_done):
                return checkpoints.save_step(run.saver, sess, run_dir, steps_done,
                                             run.splits.train.get_state(),
                                             {"curve": run.curve, "tested": run.tested,
                                              "train_time": time.time() - start})
        try:
            steps_done, status = _post_loop(run, sess, first_step, start, stop, board,
                                            checkpoint, monitor)
            train_seconds = time.time() - start
            monitor.finish(run_dir, status)
            test_accuracy = _test_accuracy(run, sess)
            board.scalars(steps_done, test_accuracy=test_accuracy)
        except _Stop as stopped:
            signame, steps_done = stopped.signame, stopped.steps_done
            status, train_seconds = INTERRUPTED, time.time() - start
            checkpoint(steps_done)
            run.say("Interrupted by %s after %d steps. Resume with: tf1-lstm train --resume %s"
                    % (signame, steps_done, run_dir))
        finally:
            board.close()
        with _space_checked(run_dir, steps_done):
            final = checkpoints.save_final(run.saver, sess, run_dir)
    metrics = _metrics(run, status, steps_done, test_accuracy,
                       (time.time() - start, train_seconds), first_step, resume, final)
    with _space_checked(run_dir, steps_done):
        write_json(os.path.join(run_dir, "metrics.json"), metrics)
        if status != INTERRUPTED:  # finished: its records are sealed as they are
            seal(run_dir)
    if status == INTERRUPTED:
        raise Interrupted("run stopped early; resume with: tf1-lstm train --resume %s" % run_dir)
    return metrics


@contextlib.contextmanager
def _space_checked(run_dir, steps_done):
    """A full disk while saving becomes one line: where, the last good checkpoint, the fix."""
    tf = tfcompat.import_tensorflow()
    try:
        yield
    except (OSError, tf.errors.OpError) as err:
        if not checkpoints.out_of_space(err):
            raise
        good = checkpoints.step_dirs(run_dir)
        raise checkpoints.CheckpointError(
            "out of space at step %d while saving in %s; the last good checkpoint is %s: free "
            "some space, then resume with: tf1-lstm train --resume %s"
            % (steps_done, run_dir, good[0] if good else "none (the run restarts at step 0)",
               run_dir))
