"""What the commands share: the one-line parser, flag parsers, the flags made from the run
settings table, the data flags, and the checks on a directory to write into.

Every flag is checked before TensorFlow is imported or data is read, so a typo costs a second
and a one-line message, not a half-started run.
"""

import argparse
import collections
import os

from tf1_lstm.core import datasets, settings
from tf1_lstm.core.cells import FAITHFUL
from tf1_lstm.util.errors import ToolError


class UsageError(ToolError):
    """A bad flag value or a place that cannot be used; the message names it and the fix."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line on stderr and exit 2, without the usage block burying it."""
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


positive_int = settings.positive_int


def cells(text):
    found = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in found if c not in FAITHFUL]
    if not found or unknown:
        raise argparse.ArgumentTypeError("%r: give a comma-separated list of %s"
                                         % (text, ", ".join(FAITHFUL)))
    return list(collections.OrderedDict.fromkeys(found))


def address(text):
    from tf1_lstm.studies.engine.clusters.scheduler import check_address
    try:
        return check_address(text)
    except ToolError as err:
        raise argparse.ArgumentTypeError(str(err))


def add_settings(parser, names, **extra):
    """Flags for these run settings, from the table: default None, so a command can tell a
    flag the user typed from one left alone (--resume refuses the former)."""
    table = settings.by_name(extra.pop("table", settings.SETTINGS))
    for name in names:
        s = table[name]
        options = getattr(s.parse, "options", None)
        shown = "" if s.default in (None, (), False) else " (default: %s)" % (
            s.show(s.default) if s.show is not repr else "%g" % s.default)
        parser.add_argument(s.flag, dest=name, default=None, metavar="{%s}" % ",".join(options)
                            if options else s.flag.lstrip("-").upper().replace("-", "_"),
                            type=s.parse, help=s.help + shown, **extra.get(name, {}))


# The flags of every setting that changes the numbers, but those added on their own: --seed (its
# help), --dataset (with the data flags) and --test-at (train's, not diagnose's).
TRAINING = tuple(s.name for s in settings.SETTINGS if s.numbers and s.flag and
                 s.name not in ("seed", "dataset", "test_at"))


def tf_envs(text):
    """'1.15.5,2.15.1' -> ('tf1.15.5-py3.7', 'tf2.15.1-py3.11'): known environments, each once."""
    from tf1_lstm.util import tfenvs
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            env = tfenvs.resolve(part)
        except tfenvs.EnvError as err:
            raise argparse.ArgumentTypeError(str(err))
        if env not in found:
            found.append(env)
    if not found:
        raise argparse.ArgumentTypeError("give comma-separated TensorFlow versions or "
                                         "environment names, e.g. 1.15.5,2.15.1")
    return tuple(found)


def add_training(parser):
    """The flags of one training run, shared by every command that trains."""
    add_settings(parser, TRAINING)
    parser.add_argument("--seed", dest="seed", type=settings.seed, default=None,
                        help=settings.by_name()["seed"].help)
    parser.add_argument("--out", default=None, metavar="RUN_DIR", dest="run_dir",
                        help="run directory (default: runs/<time>-<cell>-seed<S>/)")
    add_data(parser)


def add_data(parser, choose_dataset=True):
    """--data-dir and --mirror; --dataset too where the command picks one (not for a run's
    evaluate/predict, which use the run's own)."""
    if choose_dataset:
        add_settings(parser, ("dataset",))
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


def writable_dir(path, flag, must_be_empty=False):
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


def check_run_dir(run_dir):
    if not os.path.isdir(run_dir):
        raise UsageError("%s is not a directory: pass a run directory `tf1-lstm train` wrote"
                         % run_dir)
