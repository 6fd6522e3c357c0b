"""`train` (the post's program) and `diagnose` (the same run, watched): their flags and jobs."""

import os
import sys

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.core import settings
from tf1_lstm.studies.tools import diagnose as diagnosis
from tf1_lstm.util import interrupts


def register(commands):
    train = commands.add_parser(
        "train", help="the original program: 10,000 steps, then test accuracy",
        description="Train the original graph and print the original log lines.")
    flags.add_training(train)
    flags.add_settings(train, ("checkpoint_every", "test_at", "impl"))
    train.add_argument("--resume", default=None, metavar="RUN_DIR",
                       help="continue an interrupted run from its last good checkpoint, with "
                            "the settings in RUN_DIR/config.json")
    train.add_argument("--tensorboard", action="store_true", default=None,
                       help="write TensorBoard scalars and the graph to RUN_DIR/tensorboard")
    train.set_defaults(func=cmd_train)

    diagnose = commands.add_parser(
        "diagnose", help="train while recording gradients through time and saturation",
        description="Train like `train` (same graph, batches and updates) and every K steps "
                    "record loss, gradient norms, ||dloss/dh_t|| for each of the 28 steps, "
                    "saturation and the forget gate; writes diagnostics.json and PNGs. The cell "
                    "is %s unless --cell says otherwise." % diagnosis.CELL)
    flags.add_training(diagnose)
    diagnose.add_argument("--every", type=flags.positive_int, default=diagnosis.EVERY,
                          metavar="K", help="record every K steps (default: %(default)s)")
    diagnose.set_defaults(func=cmd_diagnose, cell_unless_given=diagnosis.CELL)


def cmd_train(args):
    if not args.resume:
        config, created = new_run_config(args)
        return _train(config, created, lambda: _training().train(config))
    given = [flag for name, flag in settings.resume_conflicts()
             if getattr(args, name, None) is not None]
    if given:
        raise UsageError("--resume takes every setting from RUN_DIR/config.json: drop %s"
                         % " ".join(given))
    config = _training().resume_config(args.resume)
    if args.data_dir or args.mirrors:
        config = config._replace(data_dir=args.data_dir or config.data_dir,
                                 mirrors=tuple(args.mirrors) or config.mirrors)
    return _train(config, False, lambda: _training().train(config, resume=True))


def cmd_diagnose(args):
    config, created = new_run_config(args)
    return _train(config, created, lambda: diagnosis.train(config, args.every))


def _training():
    from tf1_lstm.core import training  # imported once the flags are checked
    return training


def new_run_config(args):
    """A new run's RunConfig from its flags (core.training.new_config, as for a study's run),
    and whether this command made its directory (a run stopped before it began leaves none);
    settings.SettingsError where the settings cannot go together."""
    values = {s.name: getattr(args, s.name, None) for s in settings.SETTINGS}
    config = _training().new_config(values, getattr(args, "cell_unless_given", None))
    created = not os.path.exists(config.run_dir)
    flags.writable_dir(config.run_dir, "--out", must_be_empty=True)
    return config, created


def _train(config, created, job):
    """Run `job` (it trains `config`): an interruption is one line and exit 130."""
    training = _training()
    try:
        job()
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
