"""`tf1-lstm` command line: flags -> checks -> the job.

Every flag is checked before TensorFlow is imported or data is read, so a typo costs a second
and a one-line message, not a half-started run.
"""

from __future__ import print_function

import argparse
import collections
import math
import os
import sys

from tf1_lstm import __version__, checkpoints, data, hparams

MAX_SEED = 2 ** 31 - 2  # TF truncates seeds modulo 2**31 - 1


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
    parser.add_argument("--steps", type=_positive_int, default=None,
                        help="training steps (default: %d)" % hparams.STEPS)
    parser.add_argument("--batch-size", type=_positive_int, default=None,
                        help="examples per step (default: %d)" % hparams.BATCH_SIZE)
    parser.add_argument("--lr", type=_positive_float, default=None,
                        help="Adam learning rate (default: %g)" % hparams.LEARNING_RATE)
    add_data_flags(parser)
    parser.add_argument("--threads", type=_positive_int, default=None,
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
    parser.add_argument("--out", default=None, metavar="RUN_DIR",
                        help="run directory (default: runs/<time>-<cell>-seed<S>/)")


def add_data_flags(parser):
    parser.add_argument("--data-dir", default=None,
                        help="folder with the four MNIST files (default: $%s, else the "
                             "checkout's data/MNIST_data)" % data.DATA_DIR_ENV)
    parser.add_argument("--mirror", action="append", default=[], dest="mirrors",
                        metavar="DIR_OR_URL",
                        help="where to fetch missing MNIST files, before the public mirrors "
                             "(repeatable; also $%s, space-separated)" % data.MIRROR_ENV)


def build_parser():
    parser = _Parser(prog="tf1-lstm", description="A faithful reproduction of a TensorFlow 1.x "
                     "MNIST row-LSTM (see COMMAND --help).")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="the original program: 10,000 steps, then test accuracy",
        description="Train the original graph and print the original log lines.")
    add_training_flags(train)
    add_run_flags(train)
    train.add_argument("--checkpoint-every", type=_non_negative_int, default=None, metavar="N",
                       help="save a resumable checkpoint every N steps, keeping the last %d "
                            "(default: %d; 0: only at the end)"
                            % (checkpoints.KEEP, checkpoints.EVERY))
    train.add_argument("--resume", default=None, metavar="RUN_DIR",
                       help="continue an interrupted run from its last good checkpoint, with "
                            "the settings in RUN_DIR/config.json")
    train.add_argument("--tensorboard", action="store_true",
                       help="write TensorBoard scalars and the graph to RUN_DIR/tensorboard")
    train.add_argument("--impl", choices=hparams.IMPLS, default=None,
                       help="LSTM kernels: basic (default, the original's BasicLSTMCell), "
                            "block (LSTMBlockCell) or fused (LSTMBlockFusedCell); both proven "
                            "equal by tests/test_bench.py; see README's performance section")
    train.set_defaults(func=cmd_train)

    report = commands.add_parser(
        "report", help="many seeds, LSTM vs RNN, verdicts on the post's claims",
        description="Train every (cell, seed) with the faithful program and write report.md, "
                    "report.json and figures. Rerun with the same --out to resume.")
    report.add_argument("--seeds", type=_positive_int, default=5,
                        help="seeds 0..N-1 (default: %(default)s)")
    report.add_argument("--cells", type=_cells, default=list(hparams.CELLS),
                        help="comma-separated cells (default: lstm,rnn)")
    report.add_argument("--steps", type=_positive_int, default=hparams.STEPS,
                        help="training steps per run (default: %(default)s)")
    report.add_argument("--jobs", type=_positive_int, default=None,
                        help="runs at once, each in its own process (default: one per core)")
    report.add_argument("--threads", type=_positive_int, default=None,
                        help="TF threads per run (default: cores / jobs; TF's default if jobs=1)")
    report.add_argument("--no-repeat", action="store_true",
                        help="skip the determinism check (one seed trained twice)")
    report.add_argument("--no-throughput", action="store_true",
                        help="skip measuring parallel against single-run throughput")
    report.add_argument("--ablations", action="store_true",
                        help="add the ablation section: RNN at lr 0.001 and with clipping, LSTM "
                             "with forget_bias 0 and at lr 0.001, IRNN at lr 0.01 and 0.001 (each "
                             "over the same seeds), plus RNN and LSTM diagnose runs")
    add_data_flags(report)
    report.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: reports/<time>/)")
    report.set_defaults(func=cmd_report)

    diagnose = commands.add_parser(
        "diagnose", help="train while recording gradients through time and saturation",
        description="Train like `train` (same graph, batches and updates) and every K steps "
                    "record loss, gradient norms, ||dloss/dh_t|| for each of the 28 steps, "
                    "saturation and the forget gate; writes diagnostics.json and PNGs.")
    add_training_flags(diagnose)
    add_run_flags(diagnose)
    diagnose.add_argument("--every", type=_positive_int, default=100, metavar="K",
                          help="record every K steps (default: %(default)s)")
    diagnose.set_defaults(func=cmd_diagnose, default_cell="rnn")

    compare = commands.add_parser(
        "compare", help="compare two reports (e.g. the container's and a local one)",
        description="Side by side: settings, claims, per-run test accuracy, versions, "
                    "hardware and data checksums of two report.json files (or their dirs).")
    compare.add_argument("a", metavar="REPORT_A")
    compare.add_argument("b", metavar="REPORT_B")
    compare.set_defaults(func=cmd_compare)

    evaluate = commands.add_parser(
        "evaluate", help="accuracy, per-class accuracy, confusion matrix, worst digits",
        description="Evaluate a run's final weights; figures go to RUN_DIR/evaluate-<split>/.")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--split", choices=("test", "validation"), default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_data_flags(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    predict = commands.add_parser(
        "predict", help="classify PNG/JPEG images of digits",
        description="Classify images of any size: grayscale, MNIST polarity (white on black; "
                    "detected from the border unless --invert/--no-invert), 28x28.")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    polarity = predict.add_mutually_exclusive_group()
    polarity.add_argument("--invert", dest="invert", action="store_const", const=True,
                          default=None, help="always invert (dark digit on light background)")
    polarity.add_argument("--no-invert", dest="invert", action="store_const", const=False,
                          help="never invert (already white on black)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.set_defaults(func=cmd_predict)

    export = commands.add_parser(
        "export", help="write a SavedModel for TF Serving",
        description="Write RUN_DIR's final weights as a SavedModel: signature serving_default, "
                    "images [N,28,28] float32 -> probabilities [N,10], classes [N].")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("out", metavar="OUT")
    export.set_defaults(func=cmd_export)

    bench = commands.add_parser(
        "bench", help="ms per step: original loop, faithful harness, threads, variants",
        description="Time the original loop, tf1-lstm's faithful loop, thread settings, "
                    "parallel runs, and TF's other LSTM kernels (each proven equal first).")
    bench.add_argument("--steps", type=_positive_int, default=1200,
                       help="steps per timed run; timing starts after step 200 "
                            "(default: %(default)s)")
    bench.add_argument("--repeats", type=_positive_int, default=3,
                       help="runs per row; the median is reported (default: %(default)s)")
    bench.add_argument("--quick", action="store_true",
                       help="60 steps, one repeat, no parallel runs: a smoke test")
    bench.add_argument("--torch-python", default=None, metavar="PYTHON",
                       help="an interpreter with PyTorch, to time the same model there")
    bench.add_argument("--out", default="bench.json", help="(default: %(default)s)")
    add_data_flags(bench)
    bench.set_defaults(func=cmd_bench)

    fetch = commands.add_parser("fetch-data", help="fetch and verify the MNIST files",
                                description="Fetch any missing MNIST file and verify all four.")
    add_data_flags(fetch)
    fetch.set_defaults(func=cmd_fetch_data)
    return parser


def _check_out_dir(path):
    """The run directory must be new (or empty) and writable: nothing finished is overwritten."""
    from tf1_lstm.files import check_writable_dir
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--out %s is a file, not a directory" % path)
    if os.path.isdir(path) and os.listdir(path):
        raise UsageError("--out %s already holds files: choose a new run directory" % path)
    problem = check_writable_dir(path)
    if problem:
        raise UsageError("--out %s: choose another directory" % problem)


RESUME_CONFLICTS = ("cell", "steps", "batch_size", "lr", "seed", "threads", "out",
                    "checkpoint_every", "impl", "forget_bias", "clip")


def cmd_train(args):
    from tf1_lstm import train
    if args.resume:
        given = ["--" + k.replace("_", "-") for k in RESUME_CONFLICTS
                 if getattr(args, k) is not None]
        if given:
            raise UsageError("--resume takes every setting from RUN_DIR/config.json: drop %s"
                             % " ".join(given))
        config = train.resume_config(args.resume)
        if args.data_dir or args.mirrors:
            config = config._replace(data_dir=args.data_dir or config.data_dir,
                                     mirrors=tuple(args.mirrors) or config.mirrors)
        return _train(train, config, resume=True)
    return _train(train, _new_run_config(train, args))


def cmd_diagnose(args):
    from tf1_lstm import diagnose, train
    config = _new_run_config(train, args)
    monitor = diagnose.Monitor(config.cell, args.every, config.forget_bias)
    code = _train(train, config, monitor=monitor)
    if getattr(monitor, "result", None):
        print("diagnostics: %d records -> %s" % (
            len(monitor.result["records"]), os.path.join(config.out, "diagnostics.json")))
    return code


def _new_run_config(train, args):
    """Check a new run's flags and output directory; return its Config."""
    if args.batch_size and args.batch_size > 60000 - hparams.VALIDATION_SIZE:
        raise UsageError("--batch-size %d is larger than the 55000 training images"
                         % args.batch_size)
    impl = getattr(args, "impl", None)
    cell = args.cell or getattr(args, "default_cell", None)
    if impl not in (None, "basic") and cell not in (None, "lstm"):
        raise UsageError("--impl %s exists for the LSTM only: drop it or use --cell lstm" % impl)
    seed = args.seed if args.seed is not None else train.draw_seed()
    out = args.out or train.default_run_dir(cell or "lstm", seed)
    _check_out_dir(out)
    return train.make_config(
        cell=cell, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=seed,
        data_dir=args.data_dir, mirrors=tuple(args.mirrors), out=out, threads=args.threads,
        checkpoint_every=getattr(args, "checkpoint_every", None),
        tensorboard=getattr(args, "tensorboard", False), impl=impl,
        forget_bias=args.forget_bias, clip=args.clip,
        seed_source="given" if args.seed is not None else "drawn")


def _train(train, config, resume=False, monitor=None):
    try:
        train.train(config, resume=resume, monitor=monitor)
    except train.Interrupted as err:
        print("tf1-lstm: %s" % err, file=sys.stderr)
        return 130
    return 0


def cmd_report(args):
    import time
    from tf1_lstm import report, runner
    from tf1_lstm.files import check_writable_dir
    args.out = args.out or os.path.join("reports", time.strftime("%Y%m%d-%H%M%S"))
    problem = check_writable_dir(args.out)
    if problem:
        raise UsageError("--out %s: choose another directory" % problem)
    try:
        report.build_report(args)
    except runner.RunError as err:
        raise UsageError(str(err))
    except KeyboardInterrupt:
        print("tf1-lstm report: interrupted; finished runs are kept: rerun with --out %s to "
              "resume" % args.out, file=sys.stderr)
        return 130
    return 0


def _check_run_dir(run_dir):
    if not os.path.isdir(run_dir):
        raise UsageError("%s is not a directory: pass a run directory `tf1-lstm train` wrote"
                         % run_dir)


def cmd_evaluate(args):
    import json
    from tf1_lstm import evaluate
    _check_run_dir(args.run_dir)
    result, images = evaluate.evaluate(args.run_dir, args.split, args.data_dir, args.mirrors)
    out = evaluate.write(result, images, args.run_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(evaluate.confusion_text(result))
        print("\nwrote %s/{evaluation.json,confusion.png,worst.png}" % out)
    return 0


def cmd_predict(args):
    import json
    from tf1_lstm import predict, trained
    _check_run_dir(args.run_dir)
    try:
        images, inverted = predict.load_images(args.images, args.invert)
    except predict.ImageError as err:
        raise UsageError(str(err))
    with trained.load(args.run_dir) as loaded:
        probabilities, classes = trained.predict(loaded, images)
    rows = [{"image": path, "digit": int(c), "inverted": flip,
             "probabilities": [round(float(p), 6) for p in probs]}
            for path, c, flip, probs in zip(args.images, classes, inverted, probabilities)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("%s: %d  (%s)" % (row["image"], row["digit"], " ".join(
                "%d:%.3f" % (d, p) for d, p in enumerate(row["probabilities"]))))
    return 0


def cmd_export(args):
    from tf1_lstm import trained
    _check_run_dir(args.run_dir)
    print("wrote SavedModel %s" % trained.export_saved_model(args.run_dir, args.out))
    return 0


def cmd_bench(args):
    from tf1_lstm import bench
    from tf1_lstm.files import check_writable_dir
    if not args.quick and args.steps <= 2 * hparams.LOG_EVERY:
        raise UsageError("--steps %d leaves nothing to time after the warm-up: use more than %d"
                         % (args.steps, 2 * hparams.LOG_EVERY))
    problem = check_writable_dir(os.path.dirname(os.path.abspath(args.out)))
    if problem:
        raise UsageError("--out %s: choose another path" % problem)
    bench.enable_cpu_xla()
    bench.run(args)
    return 0


def cmd_compare(args):
    from tf1_lstm import report
    for path in (args.a, args.b):
        if not os.path.exists(path):
            raise UsageError("%s does not exist: pass a report.json or its directory" % path)
    try:
        print("\n".join(report.compare(args.a, args.b)))
    except (ValueError, KeyError) as err:
        raise UsageError("not a tf1-lstm report.json (%s): pass what `tf1-lstm report` wrote"
                         % err)
    return 0


def cmd_fetch_data(args):
    paths = data.ensure_files(args.data_dir or data.default_data_dir(), args.mirrors)
    for name, spec in data.FILES.items():
        data.load_idx(paths[name], spec)
        print("%s  ok  %s" % (spec.sha256, paths[name]))
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    # TF's C++ start-up chatter and contrib's deprecation notices would bury the original lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return args.func(args)
    except (UsageError, data.DataError, checkpoints.CheckpointError) as err:
        print("tf1-lstm %s: error: %s" % (args.command, err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
