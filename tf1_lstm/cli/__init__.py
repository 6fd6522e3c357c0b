"""`tf1-lstm` command line: one module per command group, each owning its flags and its job;
`main` maps every error to the one-line contract (exit 2, or 130 for an interruption); a bug
is a traceback and a line saying so (exit 70)."""

import os
import sys
import traceback

from tf1_lstm import __version__
from tf1_lstm.cli import bench, data, flags, posts, serving, study, train, twin
from tf1_lstm.core import fetch
from tf1_lstm.util import interrupts
from tf1_lstm.util.errors import ToolError

GROUPS = (train, study, serving, bench, data, posts, twin)  # in the order --help lists them


def build_parser():
    parser = flags.Parser(prog="tf1-lstm", description="A faithful reproduction of a TensorFlow "
                          "1.x MNIST row-LSTM (see COMMAND --help).")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv=None):
    interrupts.install()  # again, for callers that reach main() without __main__.run()
    try:
        args = build_parser().parse_args(argv)  # a loaded machine takes a moment here too
    except BaseException as err:
        return interrupts.while_starting(err)
    # TF's C++ start-up chatter and contrib's deprecation notices would bury the original lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if hasattr(args, "data_dir"):  # a command that may fetch: its settings, checked once
            fetch.check_environment()
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at exit
        return code
    except ToolError as err:  # the one family: its line, exit 2
        print("tf1-lstm %s: error: %s" % (args.command, err), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tf1-lstm compare A B | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush
        return 141  # as the shell reports a process SIGPIPE ended
    except BaseException as err:
        if interrupts.is_interruption(err):
            interrupts.say_interrupted("tf1-lstm " + args.command, err)
            return 130
        if not isinstance(err, Exception):  # SystemExit and the like keep their own way out
            raise
        traceback.print_exc()
        print("tf1-lstm %s: this is a bug in tf1-lstm, not in what you gave it: please report "
              "it with the command and the traceback above" % args.command, file=sys.stderr)
        return BUG


BUG = 70  # the exit code of a bug (sysexits' EX_SOFTWARE): never 2, which says "your input"
