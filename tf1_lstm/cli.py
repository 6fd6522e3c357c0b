"""`tf1-lstm` command line: flags -> checks -> the job.

Every flag is checked before TensorFlow is imported or data is read, so a typo costs a second
and a one-line message, not a half-started run.
"""

import argparse
import collections
import math
import os
import signal
import sys

from tf1_lstm import __version__
from tf1_lstm.core import checkpoints, data, datasets, fetch, hparams
from tf1_lstm.util import interrupts

MAX_SEED = 2 ** 31 - 2  # TF truncates seeds modulo 2**31 - 1
MAX_STEPS = 1000000    # ~9 hours of the LSTM here; more is a typo, not a study
MAX_THREADS = 256      # TF threads per run: the most cores a machine of today has, for
#                        repeating its runs elsewhere (the same seed needs the same count)


class UsageError(Exception):
    """A bad flag value; the message names the flag and the fix."""


def _number(parse, noun, ok, rule):
    """An argparse type: parse the text, then check it, each with its own clear message."""
    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not %s" % (text, noun))
        if not ok(value):
            raise argparse.ArgumentTypeError("must be %s, got %s" % (rule, text))
        return value
    return convert


_positive_int = _number(int, "a whole number", lambda v: v > 0, "a positive whole number")
_non_negative_int = _number(int, "a whole number", lambda v: v >= 0, "0 or more")
_positive_float = _number(float, "a number", lambda v: v > 0 and math.isfinite(v),
                          "a positive finite number")
_finite_float = _number(float, "a number", math.isfinite, "a finite number")
_seed = _number(int, "a whole number", lambda v: 0 <= v <= MAX_SEED,
                "between 0 and %d" % MAX_SEED)
_steps = _number(int, "a whole number", lambda v: 0 < v <= MAX_STEPS,
                 "between 1 and %d (about 9 hours of LSTM training here)" % MAX_STEPS)
_threads = _number(int, "a whole number", lambda v: 0 < v <= MAX_THREADS,
                   "between 1 and %d" % MAX_THREADS)


def _address(text):
    from tf1_lstm.studies import engine
    try:
        return engine.check_address(text)
    except engine.RunError as err:
        raise argparse.ArgumentTypeError(str(err))


def _steps_list(text):
    try:
        steps = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        steps = []
    if not steps or steps[0] <= 0:
        raise argparse.ArgumentTypeError("%r: give comma-separated step counts, e.g. 10000,20000"
                                         % text)
    return tuple(steps)


def _grid(text):
    """'lr=0.003,0.001;steps=10000,20000' -> ((0.003, 0.001), (10000, 20000))."""
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    try:
        lrs = tuple(float(v) for v in parts["lr"].split(","))
        steps = _steps_list(parts["steps"])
    except (KeyError, ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError("%r: write it as lr=0.003,0.001;steps=10000,20000" % text)
    if set(parts) != {"lr", "steps"} or not all(0 < lr and math.isfinite(lr) for lr in lrs):
        raise argparse.ArgumentTypeError("%r: write it as lr=0.003,0.001;steps=10000,20000 "
                                         "(positive rates, positive steps)" % text)
    return lrs, steps


def _ablations(text):
    from tf1_lstm.studies import ablation
    if text == "all":
        return ablation.LABELS
    labels = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in labels if t not in ablation.LABELS]
    if not labels or unknown:
        raise argparse.ArgumentTypeError("%r: give all, or a comma-separated list of %s"
                                         % (text, ", ".join(ablation.LABELS)))
    return labels


def _cells(text):
    cells = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in cells if c not in hparams.CELLS]
    if not cells or unknown:
        raise argparse.ArgumentTypeError("%r: give a comma-separated list of %s"
                                         % (text, ", ".join(hparams.CELLS)))
    return list(collections.OrderedDict.fromkeys(cells))


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line on stderr and exit 2, without the usage block burying it."""
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def add_training_flags(parser):
    """The flags of one training run, shared by every command that trains.

    Defaults are None here and the original's values are filled in by train.make_config, so a
    command can tell a flag the user typed from one left alone (--resume refuses the former).
    """
    parser.add_argument("--cell", choices=hparams.CELLS + hparams.ABLATION_CELLS, default=None,
                        help="recurrent cell (default: lstm, the original; rnn is the post's "
                             "question; irnn is an ablation)")
    parser.add_argument("--steps", type=_steps, default=None,
                        help="training steps (default: %d)" % hparams.STEPS)
    parser.add_argument("--batch-size", type=_positive_int, default=None,
                        help="examples per step (default: %d)" % hparams.BATCH_SIZE)
    parser.add_argument("--lr", type=_positive_float, default=None,
                        help="Adam learning rate (default: %g)" % hparams.LEARNING_RATE)
    add_data_flags(parser)
    parser.add_argument("--threads", type=_threads, default=None,
                        help="cap TF's intra- and inter-op thread pools (default: TF's own "
                             "choice, as in the original)")
    ablation = parser.add_argument_group("ablations (not the original; recorded in config.json)")
    ablation.add_argument("--forget-bias", type=_finite_float, default=None,
                          help="BasicLSTMCell's forget_bias (default: %g)" % hparams.FORGET_BIAS)
    ablation.add_argument("--clip", type=_positive_float, default=None, metavar="NORM",
                          help="clip gradients to this global norm (default: no clipping)")


def add_run_flags(parser):
    """Seed and run directory: what makes one run of a command that trains."""
    parser.add_argument("--seed", type=_seed, default=None,
                        help="tf.set_random_seed(S) and read_data_sets(..., seed=S); without it "
                             "a seed is drawn and recorded")
    parser.add_argument("--out", default=None, metavar="RUN_DIR", dest="run_dir",
                        help="run directory (default: runs/<time>-<cell>-seed<S>/)")


def add_data_flags(parser, choose_dataset=True):
    """--data-dir and --mirror; --dataset too where the command picks one (not for a run's
    evaluate/predict, which use the run's own)."""
    if choose_dataset:
        parser.add_argument("--dataset", choices=datasets.NAMES, default=None,
                            help="mnist (the post's, default) or fashion-mnist (same format, "
                                 "fetched on first use into data/fashion-mnist)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the four IDX files (default: $%s for MNIST, $%s for "
                             "Fashion-MNIST, else the checkout's data/MNIST_data or "
                             "data/fashion-mnist)" % (datasets.MNIST.data_dir_env,
                                                      datasets.FASHION_MNIST.data_dir_env))
    parser.add_argument("--mirror", action="append", default=[], dest="mirrors",
                        metavar="DIR_OR_URL",
                        help="where to fetch missing files, before the public mirrors "
                             "(repeatable; also $%s or $%s, space-separated)"
                             % (datasets.MNIST.mirror_env, datasets.FASHION_MNIST.mirror_env))


def build_parser():
    parser = _Parser(prog="tf1-lstm", description="A faithful reproduction of a TensorFlow 1.x "
                     "MNIST row-LSTM (see COMMAND --help).")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train_parser = commands.add_parser(
        "train", help="the original program: 10,000 steps, then test accuracy",
        description="Train the original graph and print the original log lines.")
    add_training_flags(train_parser)
    add_run_flags(train_parser)
    train_parser.add_argument("--checkpoint-every", type=_non_negative_int, default=None,
                              metavar="N",
                              help="save a resumable checkpoint every N steps, keeping the last %d "
                              "(default: %d; 0: only at the end)"
                              % (checkpoints.KEEP, checkpoints.EVERY))
    train_parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                              help="continue an interrupted run from its last good checkpoint, "
                                   "with "
                              "the settings in RUN_DIR/config.json")
    train_parser.add_argument("--tensorboard", action="store_true",
                              help="write TensorBoard scalars and the graph to RUN_DIR/tensorboard")
    train_parser.add_argument("--test-at", type=_steps_list, default=None, metavar="STEPS",
                              help="also print and record the test accuracy after these steps "
                                   "(comma-separated; training is unchanged)")
    train_parser.add_argument("--impl", choices=hparams.IMPLS, default=None,
                              help="LSTM kernels: basic (default, the original's BasicLSTMCell), "
                              "block (LSTMBlockCell) or fused (LSTMBlockFusedCell); both proven "
                              "equal by tests/test_bench.py; see README's performance section")
    train_parser.set_defaults(func=cmd_train)

    report_parser = commands.add_parser(
        "report", help="many seeds, LSTM vs RNN, verdicts on the post's claims",
        description="Train every (cell, seed) with the faithful program and write report.md, "
                    "report.json and figures. Rerun with the same --out to resume.")
    report_parser.add_argument("--seeds", type=_positive_int, default=5,
                               help="seeds 0..N-1 (default: %(default)s)")
    report_parser.add_argument("--cells", type=_cells, default=list(hparams.CELLS),
                               help="comma-separated cells (default: lstm,rnn)")
    report_parser.add_argument("--steps", type=_steps, default=hparams.STEPS,
                               help="training steps per run (default: %(default)s)")
    report_parser.add_argument("--jobs", type=_positive_int, default=None,
                               help="workers of the embedded Dask cluster, each training one "
                                    "run at a time (default: one per core)")
    report_parser.add_argument("--scheduler", type=_address, default=None, metavar="ADDRESS",
                               help="run on the Dask cluster at ADDRESS (tcp://HOST:PORT; also "
                                    "$DASK_SCHEDULER_ADDRESS) instead of an embedded one")
    report_parser.add_argument("--threads", type=_threads, default=None,
                               help="TF threads per run (default: cores / jobs; TF's default "
                                    "if jobs=1)")
    report_parser.add_argument("--no-repeat", action="store_true",
                               help="skip the determinism check (one seed trained twice)")
    report_parser.add_argument("--no-throughput", action="store_true",
                               help="skip measuring parallel against single-run throughput")
    report_parser.add_argument("--ablations", type=_ablations, nargs="?", const="all",
                               default=(), metavar="LABELS",
                               help="add the ablation section (optionally only the "
                                    "comma-separated LABELS of rnn-lr0.001, rnn-clip1.0, "
                                    "lstm-forget-bias0, lstm-lr0.001, irnn, irnn-lr0.001, "
                                    "diagnose): RNN at lr 0.001 and with clipping, "
                                    "LSTM with forget_bias 0 and at lr 0.001, IRNN at lr 0.01 "
                                    "and 0.001 "
                               "(each over the same seeds), plus RNN and LSTM diagnose runs")
    report_parser.add_argument("--explain-99", action="store_true",
                               help="add the section testing each explanation of the post's 99%%:"
                                    " printed train-batch accuracy, a 128-image test, seed luck, "
                                    "other settings (runs the --grid too)")
    report_parser.add_argument("--grid", type=_grid, default=None, metavar="lr=X,..;steps=N,..",
                               help="the settings --explain-99 explores (default: "
                                    "lr=0.003,0.001;steps=10000,20000,30000)")
    report_parser.add_argument("--grid-seeds", type=_positive_int, default=3, metavar="N",
                               help="seeds per grid learning rate (default: %(default)s)")
    add_data_flags(report_parser)
    report_parser.add_argument("--out", default=None, metavar="DIR",
                               help="report directory (default: reports/<time>/)")
    report_parser.set_defaults(func=cmd_report)

    diagnose_parser = commands.add_parser(
        "diagnose", help="train while recording gradients through time and saturation",
        description="Train like `train` (same graph, batches and updates) and every K steps "
                    "record loss, gradient norms, ||dloss/dh_t|| for each of the 28 steps, "
                    "saturation and the forget gate; writes diagnostics.json and PNGs.")
    add_training_flags(diagnose_parser)
    add_run_flags(diagnose_parser)
    diagnose_parser.add_argument("--every", type=_positive_int, default=100, metavar="K",
                                 help="record every K steps (default: %(default)s)")
    diagnose_parser.set_defaults(func=cmd_diagnose, default_cell="rnn")

    compare_parser = commands.add_parser(
        "compare", help="compare two reports (e.g. the container's and a local one)",
        description="Side by side: settings, claims, per-run test accuracy, versions, "
                    "hardware and data checksums of two report.json files (or their dirs).")
    compare_parser.add_argument("a", metavar="REPORT_A")
    compare_parser.add_argument("b", metavar="REPORT_B")
    compare_parser.set_defaults(func=cmd_compare)

    evaluate_parser = commands.add_parser(
        "evaluate", help="accuracy, per-class accuracy, confusion matrix, worst digits",
        description="Evaluate a run's final weights; figures go to RUN_DIR/evaluate-<split>/.")
    evaluate_parser.add_argument("run_dir", metavar="RUN_DIR")
    evaluate_parser.add_argument("--split", choices=("test", "validation"), default="test")
    evaluate_parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    evaluate_parser.add_argument("--out", default=None, metavar="DIR", dest="results_dir",
                                 help="where to write evaluation.json and the figures (default: "
                                      "RUN_DIR/evaluate-<split>/)")
    add_data_flags(evaluate_parser, choose_dataset=False)
    evaluate_parser.set_defaults(func=cmd_evaluate)

    predict_parser = commands.add_parser(
        "predict", help="classify PNG/JPEG images of digits",
        description="Classify images of any size: grayscale, MNIST polarity (white on black; "
                    "detected from the border unless --invert/--no-invert), 28x28.")
    predict_parser.add_argument("run_dir", metavar="RUN_DIR")
    predict_parser.add_argument("images", nargs="+", metavar="IMAGE")
    polarity = predict_parser.add_mutually_exclusive_group()
    polarity.add_argument("--invert", dest="invert", action="store_const", const=True,
                          default=None, help="always invert (dark digit on light background)")
    polarity.add_argument("--no-invert", dest="invert", action="store_const", const=False,
                          help="never invert (already white on black)")
    predict_parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict_parser.set_defaults(func=cmd_predict)

    export_parser = commands.add_parser(
        "export", help="write a SavedModel for TF Serving",
        description="Write RUN_DIR's final weights as a SavedModel: signature serving_default, "
                    "images [N,28,28] float32 -> probabilities [N,10], classes [N].")
    export_parser.add_argument("run_dir", metavar="RUN_DIR")
    export_parser.add_argument("export_dir", metavar="OUT")
    export_parser.set_defaults(func=cmd_export)

    bench_parser = commands.add_parser(
        "bench", help="ms per step: original loop, faithful harness, threads, variants",
        description="Time the original loop, tf1-lstm's faithful loop, thread settings, "
                    "parallel runs, and TF's other LSTM kernels (each proven equal first).")
    bench_parser.add_argument("--steps", type=_steps, default=None,
                              help="steps per timed run; timing starts after step 200 "
                                   "(default: 1200; 1000 with --scheduling)")
    bench_parser.add_argument("--repeats", type=_positive_int, default=3,
                              help="runs per row; the median is reported (default: %(default)s)")
    bench_parser.add_argument("--quick", action="store_true",
                              help="60 steps, one repeat, no parallel runs: a smoke test")
    bench_parser.add_argument("--scheduling", action="store_true",
                              help="instead: the Dask engine's scheduling efficiency and per-run "
                                   "fixed cost, from --runs LSTM runs of --steps steps (default "
                                   "1000) on --jobs local workers")
    bench_parser.add_argument("--runs", type=_positive_int, default=4,
                              help="runs for --scheduling (default: %(default)s)")
    bench_parser.add_argument("--jobs", type=_positive_int, default=2,
                              help="local workers for --scheduling (default: %(default)s)")
    bench_parser.add_argument("--torch-python", default=None, metavar="PYTHON",
                              help="an interpreter with PyTorch, to time the same model there")
    bench_parser.add_argument("--out", default="bench.json", help="(default: %(default)s)")
    add_data_flags(bench_parser, choose_dataset=False)  # the post's program on the post's data
    bench_parser.set_defaults(func=cmd_bench)

    fetch_parser = commands.add_parser(
        "fetch-data", help="fetch and verify the data files (MNIST, or --dataset)",
        description="Fetch any missing MNIST file and verify all four.")
    add_data_flags(fetch_parser)
    fetch_parser.set_defaults(func=cmd_fetch_data)
    return parser


def _writable_dir(path, flag, must_be_empty=False):
    """`path` is (or can be made) a writable directory, else a UsageError naming `flag`."""
    from tf1_lstm.util.files import check_writable_dir
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("%s %r is not valid UTF-8, which TensorFlow cannot save to: choose a "
                         "name made of UTF-8 text" % (flag, path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("%s %s is a file, not a directory" % (flag, path))
    if must_be_empty and os.path.isdir(path) and os.listdir(path):
        raise UsageError("%s %s already holds files: choose a new run directory" % (flag, path))
    problem = check_writable_dir(path)
    if problem:
        raise UsageError("%s %s: choose another directory" % (flag, problem))


# Flags that would contradict a resumed run's config.json: (dest, flag).
RESUME_CONFLICTS = (("cell", "--cell"), ("steps", "--steps"), ("batch_size", "--batch-size"),
                    ("lr", "--lr"), ("seed", "--seed"), ("threads", "--threads"),
                    ("run_dir", "--out"), ("checkpoint_every", "--checkpoint-every"),
                    ("impl", "--impl"), ("forget_bias", "--forget-bias"), ("clip", "--clip"),
                    ("test_at", "--test-at"), ("dataset", "--dataset"))


def cmd_train(args):
    if not args.resume:
        return _train(*_new_run_config(args))
    given = [flag for dest, flag in RESUME_CONFLICTS if getattr(args, dest) is not None]
    if given:
        raise UsageError("--resume takes every setting from RUN_DIR/config.json: drop %s"
                         % " ".join(given))
    from tf1_lstm.core import training
    config = training.resume_config(args.resume)
    if args.data_dir or args.mirrors:
        config = config._replace(data_dir=args.data_dir or config.data_dir,
                                 mirrors=tuple(args.mirrors) or config.mirrors)
    return _train(config, resume=True)


def cmd_diagnose(args):
    from tf1_lstm.studies import diagnose
    config, created = _new_run_config(args)
    monitor = diagnose.Monitor(config.cell, args.every, config.forget_bias)
    code = _train(config, created, monitor=monitor)
    if getattr(monitor, "result", None):
        print("diagnostics: %d records -> %s" % (
            len(monitor.result["records"]), os.path.join(config.run_dir, "diagnostics.json")))
    return code


def _new_run_config(args):
    """Check a new run's flags and output directory; return its RunConfig and whether this
    command made the directory (so that a run stopped before it began leaves nothing)."""
    from tf1_lstm.core import training
    if args.batch_size and args.batch_size > 60000 - hparams.VALIDATION_SIZE:
        raise UsageError("--batch-size %d is larger than the 55000 training images"
                         % args.batch_size)
    impl = getattr(args, "impl", None)
    cell = args.cell or getattr(args, "default_cell", None)
    if impl not in (None, "basic") and cell not in (None, "lstm"):
        raise UsageError("--impl %s exists for the LSTM only: drop it or use --cell lstm" % impl)
    test_at = getattr(args, "test_at", None)
    if test_at and test_at[-1] >= (args.steps or hparams.STEPS):
        raise UsageError("--test-at %d is not before the last step: the final test accuracy is "
                         "measured anyway" % test_at[-1])
    seed = args.seed if args.seed is not None else training.draw_seed()
    run_dir = args.run_dir or training.default_run_dir(cell or "lstm", seed)
    created = not os.path.exists(run_dir)
    _writable_dir(run_dir, "--out", must_be_empty=True)
    return training.RunConfig.of(
        cell=cell, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=seed,
        data_dir=args.data_dir, mirrors=tuple(args.mirrors), run_dir=run_dir,
        threads=args.threads, checkpoint_every=getattr(args, "checkpoint_every", None),
        tensorboard=getattr(args, "tensorboard", False), impl=impl,
        forget_bias=args.forget_bias, clip=args.clip, test_at=test_at, dataset=args.dataset,
        seed_source="given" if args.seed is not None else "drawn"), created


def _train(config, created=False, resume=False, monitor=None):
    from tf1_lstm.core import training
    try:
        with _sigterm_as_interrupt():
            training.train(config, resume=resume, monitor=monitor)
    except training.Interrupted as err:
        print("tf1-lstm: %s" % err, file=sys.stderr)
        return 130
    except KeyboardInterrupt as err:  # before the loop (TF import, data): nothing to keep yet
        interrupts.say_interrupted("tf1-lstm", err, "before training began; nothing was written%s"
                                   % ("" if created else " (%s is as it was)" % config.run_dir))
        return 130
    finally:
        if created and os.path.isdir(config.run_dir) and not os.listdir(config.run_dir):
            os.rmdir(config.run_dir)  # made by this command, still empty: a failed start
    return 0


def _grid_option(args):
    from tf1_lstm.studies import explain
    if args.grid is None:
        return explain.Grid(seeds=args.grid_seeds)
    return explain.Grid(lrs=args.grid[0], steps=args.grid[1], seeds=args.grid_seeds)


def cmd_report(args):
    import time
    from tf1_lstm.studies import engine
    out = args.out or os.path.join("reports", time.strftime("%Y%m%d-%H%M%S"))
    if args.jobs and not (args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")):
        try:
            engine.check_jobs(args.jobs)
        except engine.RunError as err:
            raise UsageError(str(err))
    created = not os.path.lexists(out)
    _writable_dir(out, "--out")
    try:
        return _report(args, out)
    finally:
        if created and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # made by this command, still empty: a failed start


def _report(args, out):
    from tf1_lstm.studies import engine, report
    options = report.ReportOptions(
        out=out, seeds=args.seeds, cells=tuple(args.cells), steps=args.steps, jobs=args.jobs,
        threads=args.threads, repeat=not args.no_repeat, throughput=not args.no_throughput,
        ablations=args.ablations, data_dir=args.data_dir, mirrors=tuple(args.mirrors),
        scheduler=args.scheduler, explain_99=args.explain_99, grid=_grid_option(args),
        dataset=args.dataset or datasets.MNIST.name)
    try:
        with _sigterm_as_interrupt():
            report.build_report(options)
    except engine.RunError as err:
        raise UsageError(str(err))
    except OSError as err:  # out of space, or the disk failed under a write
        raise UsageError(_write_failed(err, out))
    except KeyboardInterrupt as err:
        interrupts.unwind_quietly(err)
        print("tf1-lstm report: interrupted; finished runs are kept: rerun with --out %s to "
              "resume" % out, file=sys.stderr)
        return 130
    return 0


def _write_failed(err, out):
    """One line for a write that failed in a report: what, why, what is kept, what to do."""
    import shutil
    try:
        free = "%.1f MB free there" % (shutil.disk_usage(out).free / 1e6)
    except OSError:
        free = "free space unknown"
    return ("could not write %s (%s); finished runs are kept under %s (%s): make room and rerun "
            "with --out %s to resume" % (err.filename or "a file of the report",
                                         err.strerror or err, os.path.join(out, "runs"), free,
                                         out))


def _sigterm_as_interrupt():
    """SIGTERM ends a study like Ctrl-C: runs in flight are stopped, finished ones kept."""
    return interrupts.handled(signal.SIGTERM)


def _check_run_dir(run_dir):
    if not os.path.isdir(run_dir):
        raise UsageError("%s is not a directory: pass a run directory `tf1-lstm train` wrote"
                         % run_dir)


def cmd_evaluate(args):
    import json
    from tf1_lstm.serving import evaluate
    _check_run_dir(args.run_dir)
    results_dir = args.results_dir or os.path.join(args.run_dir, "evaluate-%s" % args.split)
    if args.results_dir:
        _writable_dir(results_dir, "--out")
    result, images = evaluate.evaluate(args.run_dir, args.split, args.data_dir, args.mirrors)
    print(json.dumps(result, indent=2) if args.json else evaluate.confusion_text(result))
    try:
        evaluate.write(result, images, results_dir)
    except OSError as err:  # the results are printed above: only the files are missing
        raise UsageError("could not write the results into %s (%s): pass --out DIR"
                         % (results_dir, err.strerror or err))
    if not args.json:
        print("\nwrote %s/{evaluation.json,confusion.png,worst.png}" % results_dir)
    return 0


def cmd_predict(args):
    import json
    from tf1_lstm.serving import images as image_files
    from tf1_lstm.serving import loader
    _check_run_dir(args.run_dir)
    try:
        images, inverted = image_files.load_images(args.images, args.invert)
    except image_files.ImageError as err:
        raise UsageError(str(err))
    with loader.load(args.run_dir) as loaded:
        probabilities, classes = loader.predict(loaded, images)
        names = datasets.get(loaded.record.get("dataset")).classes
    rows = [{"image": path, "digit": int(c), "class": names[int(c)], "inverted": flip,
             "probabilities": [round(float(p), 6) for p in probs]}
            for path, c, flip, probs in zip(args.images, classes, inverted, probabilities)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            named = "" if row["class"] == str(row["digit"]) else " %s" % row["class"]
            print("%s: %d%s  (%s)" % (row["image"], row["digit"], named, " ".join(
                "%d:%.3f" % (d, p) for d, p in enumerate(row["probabilities"]))))
    return 0


def cmd_export(args):
    from tf1_lstm.serving import loader
    _check_run_dir(args.run_dir)
    if os.path.lexists(args.export_dir):
        raise UsageError("%s already exists: choose a new export directory" % args.export_dir)
    parent = os.path.dirname(os.path.abspath(args.export_dir))
    _writable_dir(parent, "the parent of OUT")
    name_max = os.pathconf(parent, "PC_NAME_MAX")
    if len(os.fsencode(os.path.basename(os.path.abspath(args.export_dir)))) > name_max:
        raise UsageError("OUT's name is longer than the %d bytes a name may have there: choose "
                         "a shorter one" % name_max)
    print("wrote SavedModel %s" % loader.export_saved_model(args.run_dir, args.export_dir))
    return 0


def cmd_bench(args):
    from tf1_lstm.studies import bench
    steps = args.steps or (1000 if args.scheduling else 1200)
    if not args.quick and not args.scheduling and steps <= 2 * hparams.LOG_EVERY:
        raise UsageError("--steps %d leaves nothing to time after the warm-up: use more than %d"
                         % (steps, 2 * hparams.LOG_EVERY))
    if os.path.isdir(args.out):
        raise UsageError("--out %s is a directory: give the path of the JSON file to write, "
                         "e.g. %s" % (args.out, os.path.join(args.out, "bench.json")))
    _writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    if args.scheduling:
        from tf1_lstm.util.files import write_json
        write_json(args.out, bench.scheduling(args.runs, steps, args.jobs))
        print("wrote %s" % args.out)
        return 0
    bench.enable_cpu_xla()
    bench.run(bench.BenchOptions(
        out=args.out, steps=steps, repeats=args.repeats, quick=args.quick,
        torch_python=args.torch_python, data_dir=args.data_dir, mirrors=tuple(args.mirrors)))
    return 0


def cmd_compare(args):
    from tf1_lstm.studies import report
    for path in (args.a, args.b):
        if not os.path.exists(path):
            raise UsageError("%s does not exist: pass a report.json or its directory" % path)
    try:
        print("\n".join(report.compare(args.a, args.b)))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise UsageError("not a tf1-lstm report.json (%s): pass what `tf1-lstm report` wrote "
                         "(a report folder or its report.json)" % err)
    return 0


def cmd_fetch_data(args):
    dataset = datasets.get(args.dataset)
    paths = data.ensure_files(args.data_dir or data.default_data_dir(dataset.name), args.mirrors,
                              dataset.name)
    for name, spec in dataset.files.items():
        data.load_idx(paths[name], spec, dataset)
        print("%s  ok  %s" % (spec.sha256, paths[name]))
    return 0


def main(argv=None):
    interrupts.install()  # again, for callers that reach main() without __main__.run()
    args = build_parser().parse_args(argv)
    # TF's C++ start-up chatter and contrib's deprecation notices would bury the original lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if hasattr(args, "data_dir"):  # a command that may fetch: its settings, checked once
            fetch.check_environment()
        return args.func(args)
    except (UsageError, data.DataError, checkpoints.CheckpointError) as err:
        print("tf1-lstm %s: error: %s" % (args.command, err), file=sys.stderr)
        return 2
    except BaseException as err:
        if not interrupts.is_interruption(err):
            raise
        interrupts.say_interrupted("tf1-lstm " + args.command, err)
        return 130


if __name__ == "__main__":
    sys.exit(main())
