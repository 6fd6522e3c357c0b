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

from tf1_lstm import __version__, data, hparams

MAX_SEED = 2 ** 31 - 2  # TF truncates seeds modulo 2**31 - 1


class UsageError(Exception):
    """A bad flag value; the message names the flag and the fix."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number, got %d" % value)
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("must be a positive finite number, got %s" % text)
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError("must be between 0 and %d, got %d" % (MAX_SEED, value))
    return value


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
    """The flags of one training run, shared by every command that trains."""
    parser.add_argument("--cell", choices=hparams.CELLS, default="lstm",
                        help="recurrent cell (default: lstm, the original)")
    parser.add_argument("--steps", type=_positive_int, default=hparams.STEPS,
                        help="training steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=_positive_int, default=hparams.BATCH_SIZE,
                        help="examples per step (default: %(default)s)")
    parser.add_argument("--lr", type=_positive_float, default=hparams.LEARNING_RATE,
                        help="Adam learning rate (default: %(default)s)")
    add_data_flags(parser)
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="cap TF's intra- and inter-op thread pools (default: TF's own "
                             "choice, as in the original)")


def add_data_flags(parser):
    parser.add_argument("--data-dir", default=None,
                        help="folder with the four MNIST files (default: $%s, else the "
                             "checkout's data/MNIST_data)" % data.DATA_DIR_ENV)
    parser.add_argument("--mirror", action="append", default=[], dest="mirrors",
                        metavar="DIR_OR_URL",
                        help="where to fetch missing MNIST files, before the public mirrors "
                             "(repeatable; also $%s, space-separated)" % data.MIRROR_ENV)


def build_parser():
    parser = _Parser(prog="tf1-lstm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="the original program: 10,000 steps, then test accuracy",
        description="Train the original graph and print the original log lines.")
    add_training_flags(train)
    train.add_argument("--seed", type=_seed, default=None,
                       help="tf.set_random_seed(S) and read_data_sets(..., seed=S); without it "
                            "a seed is drawn and recorded")
    train.add_argument("--out", default=None, metavar="RUN_DIR",
                       help="run directory (default: runs/<time>-<cell>-seed<S>/)")
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
    add_data_flags(report)
    report.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: reports/<time>/)")
    report.set_defaults(func=cmd_report)

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


def cmd_train(args):
    from tf1_lstm import train
    if args.batch_size > 60000 - hparams.VALIDATION_SIZE:
        raise UsageError("--batch-size %d is larger than the 55000 training images"
                         % args.batch_size)
    if args.out:
        _check_out_dir(args.out)
    else:
        from tf1_lstm.files import check_writable_dir
        problem = check_writable_dir("runs")
        if problem:
            raise UsageError("%s: pass --out RUN_DIR somewhere writable" % problem)
    config = train.make_config(cell=args.cell, steps=args.steps, batch_size=args.batch_size,
                               lr=args.lr, seed=args.seed, data_dir=args.data_dir,
                               mirrors=tuple(args.mirrors), out=args.out, threads=args.threads)
    try:
        train.train(config)
    except train.Interrupted as err:
        print("tf1-lstm: %s" % err, file=sys.stderr)
        return 130
    return 0


def cmd_report(args):
    import time
    from tf1_lstm import report
    from tf1_lstm.files import check_writable_dir
    args.out = args.out or os.path.join("reports", time.strftime("%Y%m%d-%H%M%S"))
    problem = check_writable_dir(args.out)
    if problem:
        raise UsageError("--out %s: choose another directory" % problem)
    try:
        report.build_report(args)
    except report.ReportError as err:
        raise UsageError(str(err))
    except KeyboardInterrupt:
        print("tf1-lstm report: interrupted; finished runs are kept: rerun with --out %s to "
              "resume" % args.out, file=sys.stderr)
        return 130
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
    except (UsageError, data.DataError) as err:
        print("tf1-lstm %s: error: %s" % (args.command, err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
