"""`tf1-lstm bench`: ms per training step for the original loop, the faithful harness, thread
settings, parallel runs, and TF 1.15's other implementations of the same LSTM.

Every timing covers the same work: from the log point after warm-up to the last log point,
each step being next_batch + reshape + sess.run(train_op), plus the every-`log_every` accuracy
evaluation the original also does. A variant is timed only after it is proven to compute the
same numbers as the faithful graph on transplanted weights.
"""

import collections
import json
import os
import subprocess
import time
from typing import NamedTuple, Optional, Tuple

import numpy as np

from tf1_lstm.core import data, hparams, tfcompat
from tf1_lstm.core.cells import LSTM
from tf1_lstm.util import environment
from tf1_lstm.util.files import remove_quietly, write_json
from tf1_lstm.util.scratch import make as make_scratch


class BenchOptions(NamedTuple):
    """What `tf1-lstm bench` times and where it writes."""
    out: str                            # bench.json path
    steps: int = 1200                   # steps per timed run
    repeats: int = 3                    # runs per row (median reported)
    quick: bool = False                 # QUICK_STEPS, one repeat, no parallel row: a smoke test
    torch_python: Optional[str] = None  # an interpreter with PyTorch, for the PyTorch row
    data_dir: Optional[str] = None      # folder with the IDX files; None: the default
    mirrors: Tuple[str, ...] = ()       # where to fetch missing data first


class EngineBench(NamedTuple):
    """What `tf1-lstm bench-engine` trains to measure the engine."""
    runs: int = 4                       # LSTM runs, seeds 0..runs-1
    steps: int = 1000                   # steps per run
    jobs: int = 2                       # local workers


QUICK_STEPS, QUICK_LOG_EVERY = 60, 20  # --quick: a smoke test of every row
TOLERANCE = 1e-5
# TF 1.15 auto-clusters for XLA on the CPU only with this flag, read once per process before
# the first session: without it global_jit_level silently changes nothing on a CPU.
XLA_CPU_FLAG = "--tf_xla_cpu_global_jit"


def enable_cpu_xla():
    """Call before TensorFlow makes its first session in this process."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if XLA_CPU_FLAG not in flags.split():
        os.environ["TF_XLA_FLAGS"] = (flags + " " + XLA_CPU_FLAG).strip()


Variant = collections.namedtuple("Variant", "name impl threads xla")
VARIANTS = (
    Variant("LSTMBlockCell", "block", None, False),
    Variant("LSTMBlockFusedCell", "fused", None, False),
    Variant("XLA JIT (global_jit_level ON_1)", "basic", None, True),
)


def _median(values):
    return float(np.median(values))


def _loop_ms(sess, model, next_batch, steps, log_every):
    """The original loop; ms/step between the first and last log point after step 0."""
    marks = {}
    for i in range(steps):
        x_batch, y_batch = next_batch(hparams.BATCH_SIZE)
        x_batch = x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS])
        sess.run(model.train_op, feed_dict={model.X: x_batch, model.Y_labels: y_batch})
        if i % log_every == 0:
            sess.run(model.accuracy, feed_dict={model.X: x_batch, model.Y_labels: y_batch})
            marks[i] = time.time()
    first, last = min(k for k in marks if k > 0), max(marks)
    return 1000.0 * (marks[last] - marks[first]) / (last - first)


def bare_ms(steps, log_every, data_dir, impl="basic", threads=None, xla=False, seed=0):
    """The post's program as written: TF's own reader, the graph, the bare sess.run loop."""
    tf = tfcompat.import_tensorflow()
    from tensorflow.contrib.learn.python.learn.datasets.mnist import read_data_sets

    from tf1_lstm.core import model as model_lib
    from tf1_lstm.core.training import RunConfig
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        mnist = read_data_sets(data_dir, one_hot=True, seed=seed)
        model = model_lib.build(RunConfig(impl=impl))
        with tf.Session(config=model_lib.session_config(threads, xla)) as sess:
            sess.run(model.init)
            return _loop_ms(sess, model, mnist.train.next_batch, steps, log_every)


def faithful_ms(steps, log_every, data_dir, threads=None, seed=0):
    """`tf1-lstm train` itself (metrics, checkpoints and all), timed from its own curve."""
    from tf1_lstm.core import training
    scratch = make_scratch("bench")
    try:
        with open(os.devnull, "w") as quiet:
            metrics = training.train(training.RunConfig.of(
                steps=steps, seed=seed, run_dir=os.path.join(scratch, "run"), data_dir=data_dir,
                threads=threads, log_every=log_every), log=quiet)
    finally:
        remove_quietly(scratch)
    curve = [p for p in metrics["curve"] if p["step"] > 0]
    return 1000.0 * (curve[-1]["elapsed"] - curve[0]["elapsed"]) / \
        (curve[-1]["step"] - curve[0]["step"])


# --- equivalence -----------------------------------------------------------------------------

def _renamed(name, impl):
    """The faithful variable `name` under implementation `impl`."""
    cell = {"basic": "rnn/basic_lstm_cell/", "block": "rnn/lstm_cell/",
            "fused": "lstm_fused_cell/"}[impl]
    return name.replace("rnn/basic_lstm_cell/", cell)


def _one_step(impl, xla, weights, x, y):
    """Weights, logits and gradients at `weights`; weights and logits after one Adam step."""
    tf = tfcompat.import_tensorflow()

    from tf1_lstm.core import model as model_lib
    from tf1_lstm.core.training import RunConfig
    with tf.Graph().as_default():
        model = model_lib.build(RunConfig(impl=impl))
        variables = {v.op.name: v for v in tf.trainable_variables()}
        names = sorted(variables)
        gradients = tf.gradients(model.loss, [variables[n] for n in names])
        feed = {model.X: x, model.Y_labels: y}
        with tf.Session(config=model_lib.session_config(None, xla)) as sess:
            sess.run(model.init)
            if weights is not None:
                for name, value in weights.items():
                    variables[_renamed(name, impl)].load(value, sess)
            result = {"weights": sess.run(variables), "logits": sess.run(model.logits, feed),
                      "gradients": dict(zip(names, sess.run(gradients, feed)))}
            sess.run(model.train_op, feed)
            result.update(step_weights=sess.run(variables),
                          step_logits=sess.run(model.logits, feed))
    return result


def _max_diff(a, b, impl):
    """Max |a - b| over arrays, or over dicts keyed by faithful / variant variable names."""
    if isinstance(a, dict):
        return max(_max_diff(a[n], b[_renamed(n, impl)], impl) for n in a)
    return float(np.abs(a - b).max())


# Judged at TOLERANCE: what the variant computes (logits, gradients) and the model one Adam step
# later (its logits on the same batch). The weights after that step are reported, not judged:
# Adam's first step moves each weight by lr*g/(|g| + ~3e-7), so where |g| ~ 1e-7 a float32
# rounding difference of ~1e-9 in g becomes ~1e-5 in the weight, while the model it computes
# does not change (those weights barely matter, which is why their gradient is tiny).
JUDGED = ("logits_max_abs_diff", "gradients_max_abs_diff", "step_logits_max_abs_diff")


def first_batch(data_dir, seed):
    """The faithful run's first training batch, shaped for the graph."""
    x, y = data.read_data_sets(data_dir, seed=seed).train.next_batch(hparams.BATCH_SIZE)
    return x.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS]), y


def prove_equal(impl, xla, data_dir, seed=0):
    """Max |difference| from the faithful graph, on its initial weights and the first batch."""
    x, y = first_batch(data_dir, seed)
    faithful = _one_step("basic", False, None, x, y)
    return differences(faithful, _one_step(impl, xla, faithful["weights"], x, y), impl)


def differences(faithful, variant, impl):
    """The proof: max |difference| per quantity of two `_one_step` results."""
    return {key + "_max_abs_diff": _max_diff(faithful[key], variant[key], impl)
            for key in ("logits", "gradients", "step_logits", "step_weights")}


def is_equal(proof):
    return all(proof[key] <= TOLERANCE for key in JUDGED)


# --- the run ---------------------------------------------------------------------------------

TWIN_STEPS = 200  # the twin's rows: a Python loop over the 28 rows, several times slower


def torch_ms(python, steps, repeats, data_dir):
    """The same model in PyTorch, in another interpreter, and post 003's twin where that
    interpreter has this package; {"error": why} if that fails."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_bench.py")
    try:
        out = subprocess.check_output([python, script, "--steps", str(steps), "--repeats",
                                       str(repeats), "--data-dir", os.path.abspath(data_dir),
                                       "--twin-steps", str(min(steps, TWIN_STEPS))],
                                      stderr=subprocess.STDOUT, universal_newlines=True)
        return json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.CalledProcessError, ValueError) as err:
        return {"error": str(getattr(err, "output", "") or err).strip().splitlines()[-1]}


def _candidates(steps, log_every, data_dir, cores, say):
    """{row name: (what the row records, a function timing one repeat)}; variants that fail
    their proof go straight to `rows`, untimed."""
    rows, candidates = collections.OrderedDict(), collections.OrderedDict()
    candidates["original bare loop"] = ({}, lambda: bare_ms(steps, log_every, data_dir))
    candidates["tf1-lstm train (faithful)"] = ({}, lambda: faithful_ms(steps, log_every, data_dir))
    for threads in sorted({1, cores}):
        candidates["bare loop, --threads %d" % threads] = (
            {"threads": threads},
            lambda threads=threads: bare_ms(steps, log_every, data_dir, threads=threads))
    for variant in VARIANTS:
        proof = prove_equal(variant.impl, variant.xla, data_dir)
        extra = {"impl": variant.impl, "xla": variant.xla, "equivalence": proof,
                 "equal": is_equal(proof)}
        if extra["equal"]:
            candidates[variant.name] = (extra, lambda v=variant: bare_ms(
                steps, log_every, data_dir, impl=v.impl, xla=v.xla))
        else:
            rows[variant.name] = dict(extra, ms_per_step=None)
            say("  %-44s not equal to the faithful graph (%s): not timed" % (variant.name, proof))
    return rows, candidates


def _time_rows(rows, candidates, repeats, say):
    # Round-robin repeats: a machine that slows down (or speeds up) over the run shifts every
    # row alike instead of whichever happened to run last.
    times = collections.OrderedDict((name, []) for name in candidates)
    for _ in range(repeats):
        for name, (_, time_one) in candidates.items():
            times[name].append(time_one())
    for name, (extra, _) in candidates.items():
        rows[name] = dict(extra, ms_per_step=_median(times[name]), repeats=times[name])
        say("  %-44s %8.2f ms/step  (repeats: %s)" % (
            name, rows[name]["ms_per_step"], ", ".join("%.2f" % t for t in times[name])))
    base = rows["original bare loop"]["ms_per_step"]
    for row in rows.values():
        if row.get("ms_per_step"):
            row["relative_to_bare"] = row["ms_per_step"] / base
    return rows


def _parallel_row(steps, cores, data_dir, say):
    from tf1_lstm.studies import engine
    scratch = make_scratch("bench")
    try:
        with engine.Engine(jobs=cores) as study_engine:
            parallel = measure_throughput(scratch, steps, cores, study_engine, data_dir, say=say)
    finally:
        remove_quietly(scratch)
    say("  %-44s %8.1f steps/s together (%.2fx one %d-thread run)" % (
        "%d parallel single-threaded runs" % cores,
        parallel["parallel_single_thread_steps_per_sec"], parallel["ratio"], cores))
    return parallel


def measure_throughput(out, steps, cores, engine, data_dir=None, dataset="mnist", say=print):
    """Aggregate steps/s: one run using every core against `cores` single-threaded runs at once,
    on the engine's workers. Short runs of the post's LSTM, stored in <out>/throughput/ and
    reused like any other runs."""
    from tf1_lstm.studies.engine import RunSpec, no_links, run_all
    if cores < 2:
        return None
    where = os.path.join(out, "throughput")
    no_links(out, [where])
    base = RunSpec(name="", cell=LSTM, steps=steps, dataset=dataset)
    single = [base._replace(name="one-run-%d-threads" % cores, seed=0, threads=cores)]
    parallel = [base._replace(name="parallel-%d-of-%d" % (i + 1, cores), seed=i, threads=1)
                for i in range(cores)]
    say("report: measuring throughput (%d-step LSTM runs: 1 x %d threads, then %d x 1 thread)"
        % (steps, cores, cores))
    one = run_all(single, where, engine, data_dir, (), say=lambda line: None).metrics
    many = run_all(parallel, where, engine, data_dir, (), say=lambda line: None).metrics
    one_rate = one[single[0].name]["steps_per_sec"]
    many_rate = sum(many[s.name]["steps_per_sec"] for s in parallel)
    return collections.OrderedDict([
        ("steps", steps), ("cores", cores),
        ("one_run_all_threads_steps_per_sec", one_rate),
        ("parallel_single_thread_steps_per_sec", many_rate),
        ("ratio", many_rate / one_rate)])


def run(options, say=print):
    """Time every row, write bench.json, return its contents."""
    data_dir = options.data_dir or data.default_data_dir()
    data.ensure_files(data_dir, options.mirrors)
    steps, log_every, repeats = ((QUICK_STEPS, QUICK_LOG_EVERY, 1) if options.quick else
                                 (options.steps, hparams.LOG_EVERY, options.repeats))
    cores = os.cpu_count() or 1
    say("bench: %d steps per repeat (timed after step %d), %d repeat(s), batch %d, %d cores"
        % (steps, log_every, repeats, hparams.BATCH_SIZE, cores))
    rows, candidates = _candidates(steps, log_every, data_dir, cores, say)
    rows = _time_rows(rows, candidates, repeats, say)
    parallel = _parallel_row(steps, cores, data_dir, say) \
        if cores > 1 and not options.quick else None
    torch = torch_ms(options.torch_python, steps, repeats, data_dir) \
        if options.torch_python else None
    if torch:
        _say_torch(torch, options.torch_python, say)
    result = collections.OrderedDict([
        ("steps", steps), ("log_every", log_every), ("repeats", repeats),
        ("batch_size", hparams.BATCH_SIZE), ("quick", bool(options.quick)), ("rows", rows),
        ("faithful_overhead", rows["tf1-lstm train (faithful)"]["relative_to_bare"]),
        ("parallel", parallel), ("pytorch", torch),
        ("environment", environment.block(data.checksums(data_dir), tfcompat.cuda()))])
    write_json(options.out, result)
    say("faithful / bare = %.3f (goal <= 1.03); wrote %s" % (result["faithful_overhead"],
                                                             options.out))
    return result


def _say_torch(torch, python, say):
    """The PyTorch rows: torch's LSTM, and the twin against a bare loop of its own math."""
    say("  %-44s %s" % ("PyTorch (%s)" % python, "%8.2f ms/step" % torch["ms_per_step"]
                        if "ms_per_step" in torch else "failed: %s" % torch["error"]))
    if "twin_ms_per_step" in torch:
        say("  %-44s %8.2f ms/step" % ("PyTorch twin of post 003 (next_batch)",
                                       torch["twin_ms_per_step"]))
        say("  %-44s %8.2f ms/step  (twin / bare = %.3f, goal <= 1.2)" % (
            "its math on batches made beforehand", torch["twin_bare_ms_per_step"],
            torch["twin_overhead"]))
    elif "twin_error" in torch:
        say("  %-44s %s" % ("PyTorch twin of post 003", "not timed: " + torch["twin_error"]))


# --- the engine ------------------------------------------------------------------------------

def scheduling(options=EngineBench(), say=print):
    """How well the Dask engine keeps its workers busy: efficiency = Σ train time / (workers ×
    wall time) for `runs` LSTM runs, and the fixed cost of a run (process start, TF import,
    data load, result transfer) as a share of a 10,000-step run."""
    from tf1_lstm.studies import engine
    runs, steps, jobs = options
    scratch = make_scratch("bench")
    try:
        started = time.time()
        with engine.Engine(jobs=jobs) as study_engine:
            ready = time.time()
            outcome = engine.run_all([engine.spec(LSTM, s, steps, 1) for s in range(runs)],
                                     scratch, study_engine, say=lambda line: None)
            wall = time.time() - ready
    finally:
        remove_quietly(scratch)
    metrics = list(outcome.metrics.values())
    train = sum(m["train_time"] for m in metrics)
    parts = _fixed_parts(outcome)
    fixed = sum(parts.values())
    ten_thousand = 10000 * float(np.mean([m["ms_per_step"] for m in metrics])) / 1000.0
    result = collections.OrderedDict([
        ("runs", runs), ("steps", steps), ("workers", jobs),
        ("cluster_start_seconds", round(ready - started, 2)), ("wall_seconds", round(wall, 2)),
        ("sum_train_seconds", round(train, 2)), ("efficiency", train / (jobs * wall)),
        ("fixed_seconds_per_run", fixed), ("fixed_seconds_per_run_parts", parts),
        ("ten_thousand_step_run_seconds", ten_thousand),
        ("fixed_share_of_ten_thousand_step_run", fixed / ten_thousand)])
    say("engine: %d runs x %d steps on %d workers: wall %.1f s (cluster start %.1f s), "
        "sum of train time %.1f s" % (runs, steps, jobs, wall, ready - started, train))
    say("  scheduling efficiency %.3f (goal >= 0.90); fixed cost per run %.1f s = %.1f%% of a "
        "10,000-step run (%.0f s; goal <= 3%%)"
        % (result["efficiency"], fixed, 100 * result["fixed_share_of_ten_thousand_step_run"],
           ten_thousand))
    say("  of which: start-up %.1f s (process, TF import, data, graph), test set and final save "
        "%.1f s, result transfer %.1f s" % tuple(parts.values()))
    return result


def _fixed_parts(outcome):
    """A run's mean time outside its training loop, in three parts (seconds): before the loop
    (task time not in the run's own wall time), after it (the post's test-set evaluation and the
    final save: wall time not in train time), and the client's receipt of the result."""
    runs = [(outcome.metrics[name], task, transfer)
            for name, (task, transfer) in outcome.timings.items()]
    return collections.OrderedDict([
        ("start_up", float(np.mean([task - m["wall_time"] for m, task, _ in runs]))),
        ("test_and_save", float(np.mean([m["wall_time"] - m["train_time"] for m, _, _ in runs]))),
        ("transfer", float(np.mean([transfer for _, _, transfer in runs])))])
