"""The recipe the twin (posts.twin) trains under: each factor where post 003's program and post
002's differ, with each post's value, written once.

Framework-free: the report's path section plans with it and the `post 003-torch` flags come from
it; only the twin's training imports PyTorch. A recipe's `steps` is its length in optimizer steps
(post 002's 30 epochs of 600 batches are 18,000).
"""

import argparse
import math
from typing import Any, Callable, NamedTuple

from tf1_lstm.core import hparams, settings

TF, TORCH = "tf", "torch"
NEXT_BATCH, LOADER = "next_batch", "loader"
TRAIN_IMAGES = {NEXT_BATCH: 60000 - hparams.VALIDATION_SIZE,  # read_data_sets' train split
                LOADER: 60000}                                # post 002's MNIST(train=True)


class Factor(NamedTuple):
    """One way the two posts' programs differ."""
    name: str                # the recipe's field, `post 003-torch --<name>` and the options key
    label: str               # what the path report calls it
    parse: Callable          # flag text -> value (argparse.ArgumentTypeError if bad)
    post_003: Any            # post 003's value (the TF program's)
    post_002: Any            # post 002's value (its PyTorch program's)
    help: str                # what each value means


FACTORS = (
    Factor("init", "initialisation", settings.choice((TF, TORCH)), TF, TORCH,
           "tf: Glorot-uniform kernels, zero biases, forget_bias 1.0 (BasicLSTMCell, "
           "fully_connected); torch: U(±1/√units) everywhere, two summed biases, no forget "
           "bias (nn.LSTM, nn.Linear)"),
    Factor("adam", "Adam's form", settings.choice((TF, TORCH)), TF, TORCH,
           "tf: ε added to √v with the step size bias-corrected (ApplyAdam); torch: "
           "torch.optim.Adam (ε added after correcting v)"),
    Factor("lr", "learning rate", settings.positive_float, hparams.LEARNING_RATE, 1e-3,
           "Adam's learning rate"),
    Factor("batch", "batch", settings.positive_int, hparams.BATCH_SIZE, 100,
           "examples per step"),
    Factor("units", "hidden units", settings.positive_int, hparams.N_NEURONS, 128,
           "units per layer"),
    Factor("layers", "layers", settings.positive_int, 1, 2, "stacked cells (MultiRNNCell's order)"),
    Factor("sampling", "sampling", settings.choice((NEXT_BATCH, LOADER)), NEXT_BATCH, LOADER,
           "next_batch: the 55,000-image split, reshuffled each epoch (core.data); loader: "
           "DataLoader(shuffle=True) over all 60,000, ToTensor"),
    Factor("steps", "length", settings.steps, hparams.STEPS, 30 * 600,
           "optimizer steps (post 003: 10,000; post 002: 30 epochs of 600 batches)"),
)
CELLS = ("lstm", "rnn")  # BasicLSTMCell's arithmetic, or BasicRNNCell's (tanh)

Recipe = NamedTuple("Recipe", [("cell", str)] + [(f.name, Any) for f in FACTORS])
Recipe.__doc__ = "The twin's cell and its value of every factor (FACTORS)."
POST_003 = Recipe("lstm", *(f.post_003 for f in FACTORS))
POST_002 = Recipe("lstm", *(f.post_002 for f in FACTORS))


def batches_per_epoch(recipe):
    """Optimizer steps in one pass over the recipe's training images (the last batch partial)."""
    return int(math.ceil(TRAIN_IMAGES[recipe.sampling] / float(recipe.batch)))


def from_options(options):
    """The Recipe of a run's options ({name: value}; a missing factor is post 003's)."""
    return POST_003._replace(**{k: v for k, v in options.items() if k in Recipe._fields})


def options(recipe):
    """(name, value) pairs of `recipe`: a RunSpec's options, a config.json's record."""
    return tuple(zip(Recipe._fields, recipe))


def add_flags(parser):
    """The factors as flags of `post 003-torch` (each default None: post 003's value)."""
    parser.add_argument("--cell", choices=CELLS, default=None,
                        help="003-torch only: the twin's cell (default: lstm)")
    for f in FACTORS:
        parser.add_argument("--" + f.name, type=f.parse, default=None,
                            help="003-torch only: %s (post 003: %s; post 002: %s)"
                                 % (f.help, f.post_003, f.post_002))


def given(args):
    """{name: value} of the recipe flags given on a command line."""
    return {name: getattr(args, name) for name in Recipe._fields
            if getattr(args, name, None) is not None}


def check(recipe):
    """argparse.ArgumentTypeError where the recipe cannot train."""
    if recipe.batch > TRAIN_IMAGES[recipe.sampling]:
        raise argparse.ArgumentTypeError("--batch %d is larger than the %d training images"
                                         % (recipe.batch, TRAIN_IMAGES[recipe.sampling]))
