"""`train` (the post's program) and `diagnose` (the same run, watched): their flags and jobs."""

import os
import sys

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.core import cells, datasets, hparams, settings
from tf1_lstm.util import interrupts

DIAGNOSE_EVERY = 100  # diagnose records every K steps unless told
DIAGNOSED = cells.with_claim("cannot train")  # diagnose's cell unless told: the post's question


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
                    "is %s unless --cell says otherwise." % DIAGNOSED)
    flags.add_training(diagnose)
    diagnose.add_argument("--every", type=flags.positive_int, default=DIAGNOSE_EVERY, metavar="K",
                          help="record every K steps (default: %(default)s)")
    diagnose.set_defaults(func=cmd_diagnose, cell_unless_given=DIAGNOSED)


def cmd_train(args):
    if not args.resume:
        return _train(*new_run_config(args))
    given = [flag for name, flag in settings.resume_conflicts()
             if getattr(args, name, None) is not None]
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
    from tf1_lstm.studies.tools import diagnose
    config, created = new_run_config(args)
    monitor = diagnose.Diagnostics(config.cell, args.every, config.forget_bias)
    code = _train(config, created, monitor=monitor)
    if getattr(monitor, "result", None):
        print("diagnostics: %d records -> %s" % (
            len(monitor.result["records"]), os.path.join(config.run_dir, "diagnostics.json")))
    return code


def _check(values):
    """The checks that need more than one flag."""
    labels = datasets.get(values["dataset"]).files["train-labels-idx1-ubyte"]
    train_images = labels.shape[0] - hparams.VALIDATION_SIZE
    if values["batch_size"] and values["batch_size"] > train_images:
        raise UsageError("--batch-size %d is larger than the %d training images"
                         % (values["batch_size"], train_images))
    cell = cells.get(values["cell"] or settings.by_name()["cell"].default)
    gated = [c.name for c in cells.CELLS if c.gated]
    if values["impl"] not in (None, "basic") and not cell.gated:
        raise UsageError("--impl %s exists for the LSTM only: drop it or use --cell %s"
                         % (values["impl"], " or ".join(gated)))
    if values["init_from"] not in (None, settings.OWN_SEEDS) and (
            cell.op_seeds is None or values["impl"] not in (None, "basic")):
        raise UsageError("--init-from %s knows 1.15.5's op seeds for the post's graph only "
                         "(--cell %s, --impl basic)" % (values["init_from"], " or ".join(
                             c.name for c in cells.CELLS if c.op_seeds)))
    test_at = values["test_at"]
    if test_at and test_at[-1] >= (values["steps"] or hparams.STEPS):
        raise UsageError("--test-at %d is not before the last step: the final test accuracy is "
                         "measured anyway" % test_at[-1])


def new_run_config(args):
    """Check a new run's flags and output directory; return its RunConfig and whether this
    command made the directory (so that a run stopped before it began leaves nothing)."""
    from tf1_lstm.core import training
    values = {s.name: getattr(args, s.name, None) for s in settings.SETTINGS}
    values["cell"] = values["cell"] or getattr(args, "cell_unless_given", None)
    _check(values)
    given = values["seed"] is not None
    seed = values["seed"] if given else training.draw_seed()
    run_dir = values["run_dir"] or training.default_run_dir(
        values["cell"] or settings.by_name()["cell"].default, seed)
    created = not os.path.exists(run_dir)
    flags.writable_dir(run_dir, "--out", must_be_empty=True)
    values.update(seed=seed, run_dir=run_dir, mirrors=tuple(values["mirrors"] or ()),
                  seed_source="given" if given else "drawn")
    return training.RunConfig.of(**values), created


def _train(config, created=False, resume=False, monitor=None):
    from tf1_lstm.core import training
    try:
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
