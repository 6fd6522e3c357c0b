"""A training run's settings, written once: name, default, flag, help, and whether it changes
the numbers.

Everything that knows a setting derives it from SETTINGS: the `RunConfig` type, the flags of
the commands that train, which flags `--resume` refuses, what a study compares to reuse a run,
the argv a worker trains with, and the checks on a `config.json` read back. A new setting is one
row here.
"""

import argparse
import math
from typing import Any, Callable, NamedTuple, Optional

from tf1_lstm.core import cells, checkpoints, datasets, hparams
from tf1_lstm.util.errors import ToolError

MAX_SEED = 2 ** 31 - 2  # TF truncates seeds modulo 2**31 - 1
MAX_STEPS = 1000000     # ~9 hours of the LSTM here; more is a typo, not a study
MAX_THREADS = 256       # the most cores a machine has today: repeating its runs needs its count
MAX_EPOCHS = 1000       # a sister post's epochs: the longest post trains 30; more is a typo


class Setting(NamedTuple):
    """One setting of a training run."""
    name: str                    # RunConfig field and config.json key
    default: Any                 # the post's value; None: decided when the run starts, or off
    flag: Optional[str]          # its command-line flag; None: set by the program only
    parse: Optional[Callable]    # flag text -> value (argparse.ArgumentTypeError if bad)
    help: str                    # what the flag does (its default is added)
    numbers: bool = False        # changes the numbers: part of a study's reuse key, sent to
    #                              a worker, refused with --resume
    local: bool = False          # where this machine keeps things: may be given with --resume
    valid: Callable = None       # what config.json may hold for it (None: anything)
    show: Callable = str         # value -> flag text, the inverse of `parse`


def number(parse, noun, ok, rule):
    """A flag parser: parse the text, then check it, each with its own clear message."""
    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not %s" % (text, noun))
        if not ok(value):
            raise argparse.ArgumentTypeError("must be %s, got %s" % (rule, text))
        return value
    return convert


def is_number(value, low=None, high=None, finite=True):
    """A JSON number (not a bool) within [low, high]; NaN and infinities only if not `finite`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if math.isnan(value) or math.isinf(value):
        return not finite
    return (low is None or value >= low) and (high is None or value <= high)


positive_int = number(int, "a whole number", lambda v: v > 0, "a positive whole number")
non_negative_int = number(int, "a whole number", lambda v: v >= 0, "0 or more")
positive_float = number(float, "a number", lambda v: v > 0 and math.isfinite(v),
                        "a positive finite number")
finite_float = number(float, "a number", math.isfinite, "a finite number")
seed = number(int, "a whole number", lambda v: 0 <= v <= MAX_SEED, "between 0 and %d" % MAX_SEED)
steps = number(int, "a whole number", lambda v: 0 < v <= MAX_STEPS,
               "between 1 and %d (about 9 hours of LSTM training here)" % MAX_STEPS)
threads = number(int, "a whole number", lambda v: 0 < v <= MAX_THREADS,
                 "between 1 and %d" % MAX_THREADS)
epochs = number(int, "a whole number", lambda v: 0 < v <= MAX_EPOCHS,
                "between 1 and %d (the longest sister post trains 30)" % MAX_EPOCHS)


def steps_list(text):
    """'10000,20000' -> (10000, 20000): step counts, sorted, each once."""
    try:
        found = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        found = []
    if not found or found[0] <= 0:
        raise argparse.ArgumentTypeError("%r: give comma-separated step counts, e.g. 10000,20000"
                                         % text)
    return tuple(found)


def choice(options):
    def convert(text):
        if text not in options:
            raise argparse.ArgumentTypeError("invalid choice: %r (choose from %s)"
                                             % (text, ", ".join(options)))
        return text
    convert.options = options
    return convert


OWN_SEEDS = "own"  # --init-from's default: the op seeds of the TF that trains
INITS = (OWN_SEEDS, "tf1.15.5")  # --init-from: whose op seeds the initializers use

SETTINGS = (
    Setting("cell", cells.FAITHFUL[0], "--cell", choice(cells.NAMES), "recurrent cell: " +
            ", ".join("%s (%s)" % (c.name, c.help) for c in cells.CELLS),
            numbers=True, valid=lambda v: v in cells.NAMES),
    Setting("steps", hparams.STEPS, "--steps", steps, "training steps", numbers=True,
            valid=lambda v: isinstance(v, int) and v > 0),
    Setting("batch_size", hparams.BATCH_SIZE, "--batch-size", positive_int, "examples per step",
            numbers=True, valid=lambda v: isinstance(v, int) and v > 0),
    Setting("lr", hparams.LEARNING_RATE, "--lr", positive_float, "Adam learning rate",
            numbers=True, valid=lambda v: is_number(v) and v > 0, show=repr),
    Setting("seed", None, "--seed", seed, "tf.set_random_seed(S) and read_data_sets(..., seed=S);"
            " without it a seed is drawn and recorded", numbers=True),
    Setting("threads", None, "--threads", threads, "cap TF's intra- and inter-op thread pools "
            "(none: TF's own choice, as in the post)", numbers=True),
    Setting("forget_bias", hparams.FORGET_BIAS, "--forget-bias", finite_float,
            "BasicLSTMCell's forget_bias (an ablation)", numbers=True, show=repr),
    Setting("clip", None, "--clip", positive_float,
            "clip gradients to this global norm (an ablation; none: no clipping)",
            numbers=True, show=repr),
    Setting("test_at", (), "--test-at", steps_list, "also print and record the test accuracy "
            "after these steps (comma-separated; training is unchanged)", numbers=True,
            show=lambda v: ",".join(str(s) for s in v)),
    Setting("dataset", datasets.MNIST.name, "--dataset", choice(datasets.NAMES),
            "mnist (the post's) or fashion-mnist (same format, fetched on first use)",
            numbers=True, valid=lambda v: v in datasets.NAMES),
    Setting("impl", "basic", "--impl", choice(hparams.IMPLS),
            "LSTM kernels: basic (the post's BasicLSTMCell), block (LSTMBlockCell) or fused "
            "(LSTMBlockFusedCell); the other two are proven equal to basic",
            valid=lambda v: v in hparams.IMPLS),
    Setting("init_from", OWN_SEEDS, "--init-from", choice(INITS),
            "initial weights: own (this TensorFlow's seeding, the post's on 1.x) or tf1.15.5 "
            "(the op seeds TF 1.15.5 derives, so TF 2 starts from 1.15.5's weights; lstm and "
            "rnn cells)", numbers=True, valid=lambda v: v in INITS),
    Setting("checkpoint_every", checkpoints.CHECKPOINT_EVERY, "--checkpoint-every",
            non_negative_int, "save a resumable checkpoint every N steps, keeping the last %d "
            "(0: only at the end)" % checkpoints.KEEP),
    Setting("tensorboard", False, None, None, "write TensorBoard scalars and the graph"),
    Setting("data_dir", None, "--data-dir", None, "folder with the four IDX files", local=True),
    Setting("mirrors", (), "--mirror", None, "where to fetch missing files first", local=True),
    Setting("run_dir", None, "--out", None, "the run directory"),
    Setting("log_every", hparams.LOG_EVERY, None, None, "steps between `train accuracy =` lines"),
    Setting("seed_source", None, None, None, "given or drawn: how the seed was chosen"),
)


def config_type(table=SETTINGS, name="RunConfig"):
    """The typed record of a run's settings, one field per row, each row's default."""
    cls = NamedTuple(name, [(s.name, Any) for s in table])
    cls.__new__.__defaults__ = tuple(s.default for s in table)
    cls.__doc__ = "A training run's settings: " + "; ".join(
        "%s: %s" % (s.name, s.help) for s in table)
    return cls


def by_name(table=SETTINGS):
    return {s.name: s for s in table}


def numbers(table=SETTINGS):
    """The settings that change the numbers, in table order."""
    return tuple(s for s in table if s.numbers)


def resume_conflicts(table=SETTINGS):
    """(name, flag) of every flag `--resume` refuses: it takes them from config.json."""
    return tuple((s.name, s.flag) for s in table if s.flag and not s.local)


def argv(values, always=(), table=SETTINGS):
    """Flags that set `values` ({name: value}) of the settings that change the numbers,
    leaving out defaults (but for those named in `always`): a worker's argv."""
    found = []
    for s in numbers(table):
        value = values.get(s.name, s.default)
        if value is not None and (value != s.default or s.name in always):
            found += [s.flag, s.show(value)]
    return found


def same_numbers(record, values, table=SETTINGS):
    """Was a run with this config.json made with `values` for every setting that changes the
    numbers? A key missing from an older record means its default."""
    def plain(value):  # JSON gives lists where the values have tuples
        return list(value) if isinstance(value, (list, tuple)) else value

    return all(plain(record.get(s.name, s.default)) == plain(values.get(s.name, s.default))
               for s in numbers(table))


class SettingsError(ToolError):
    """Settings that no run can have together; the message names the flags and the fix."""


def check(values):
    """The checks that need more than one setting ({name: value}, None: the default)."""
    train_images = (datasets.get(values.get("dataset")).files["train-labels-idx1-ubyte"]
                    .shape[0] - hparams.VALIDATION_SIZE)
    if values.get("batch_size") and values["batch_size"] > train_images:
        raise SettingsError("--batch-size %d is larger than the %d training images"
                            % (values["batch_size"], train_images))
    cell = cells.get(values.get("cell") or by_name()["cell"].default)
    gated = " or ".join(c.name for c in cells.CELLS if c.gated)
    impl = values.get("impl")
    if impl not in (None, "basic") and not cell.gated:
        raise SettingsError("--impl %s exists for the LSTM only: drop it or use --cell %s"
                            % (impl, gated))
    if values.get("init_from") not in (None, OWN_SEEDS) and (
            cell.op_seeds is None or impl not in (None, "basic")):
        raise SettingsError("--init-from %s knows 1.15.5's op seeds for the post's graph only "
                            "(--cell %s, --impl basic)" % (values["init_from"], " or ".join(
                                c.name for c in cells.CELLS if c.op_seeds)))
    test_at = values.get("test_at")
    if test_at and test_at[-1] >= (values.get("steps") or hparams.STEPS):
        raise SettingsError("--test-at %d is not before the last step: the final test accuracy "
                            "is measured anyway" % test_at[-1])


def bad_field(record, table=SETTINGS):
    """(name, value) of the first field of config.json tf1-lstm never writes so, or None."""
    for s in table:
        if s.valid is not None and s.name in record and not s.valid(record[s.name]):
            return s.name, record[s.name]
    return None


def from_record(record, cls, table=SETTINGS, **overrides):
    """The config a config.json describes (older records lack newer keys: their defaults)."""
    fields = {s.name: record[s.name] for s in table if record.get(s.name) is not None}
    fields.update(overrides)
    for s in table:
        if isinstance(s.default, tuple) and fields.get(s.name) is not None:
            fields[s.name] = tuple(fields[s.name])
    return cls(**fields)
