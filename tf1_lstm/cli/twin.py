"""`twin`: the faithful TF graph against its PyTorch twin, step for step (studies.tools.twin)."""

import os

from tf1_lstm.cli import flags
from tf1_lstm.core.cells import FAITHFUL


def register(commands):
    from tf1_lstm.studies.tools import twin
    parser = commands.add_parser(
        "twin", help="the faithful graph and its PyTorch twin from the same weights, step for step",
        description="Train the faithful TF graph and post 003's program in PyTorch (the twin, "
                    "in the PyTorch environment) from the same initial weights on the same "
                    "batches, and print both losses per step, the largest relative difference "
                    "and the first step where they part. Rule: %s." % twin.RULE)
    parser.add_argument("--steps", type=flags.positive_int, default=twin.STEPS,
                        help="steps compared (default: %(default)s)")
    parser.add_argument("--seed", type=flags.settings.seed, default=0,
                        help="the TF run's seed, and so the weights and batches (default: "
                             "%(default)s)")
    parser.add_argument("--cells", type=flags.cells, default=list(FAITHFUL),
                        help="comma-separated cells (default: %s)" % ",".join(FAITHFUL))
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="where the TF runs, their logs and twin.json go (default: "
                             "runs/twin-seed<S>-<N>steps)")
    flags.add_data(parser, choose_dataset=False)
    parser.set_defaults(func=cmd_twin)


def cmd_twin(args):
    from tf1_lstm import posts
    from tf1_lstm.studies.tools import twin
    from tf1_lstm.util import tfenvs
    tfenvs.ready(posts.TORCH_ENV)  # before anything is made or trained: one line, the fix
    out = args.out or os.path.join("runs", "twin-seed%d-%dsteps" % (args.seed, args.steps))
    flags.writable_dir(out, "--out", must_be_empty=True)
    found, record = twin.run(args.cells, args.seed, args.steps, out, args.data_dir, args.mirrors)
    for compared in found:
        print("\n".join(twin.lines(compared)))
    print("rule: %s" % twin.RULE)
    print("twin: %s" % twin.where(record))
    print("twin: wrote %s" % os.path.join(out, "twin.json"))
    return 1 if any(c.step0_defect for c in found) else 0
