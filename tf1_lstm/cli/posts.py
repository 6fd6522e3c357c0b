"""`post`: one sister post's program (tf1_lstm.posts), in its own framework's environment."""

import sys
from argparse import ArgumentTypeError

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.posts import recipe
from tf1_lstm.util import interrupts, tfenvs


def register(commands):
    from tf1_lstm import posts
    post = commands.add_parser(
        "post", help="one sister post's program (PyTorch or Keras), as the post runs it",
        description="Train one of the sister posts' programs (../shared/seeds; ids %s), "
                    "faithful in its own framework, and record it as a training run is. It "
                    "runs in the post's environment: ./run --env NAME post ID (docs/posts.md)."
                    % ", ".join(posts.IDS))
    ids = [p.id for p in posts.PROGRAMS]
    post.add_argument("post", choices=ids, metavar="ID",
                      help="the post: %s; or %s, post 003's program in PyTorch op for op, "
                           "whose recipe the flags below change"
                           % (", ".join(posts.IDS), posts.TWIN.id))
    post.add_argument("--seed", type=flags.settings.seed, default=None,
                      help="the framework's global seed (default: drawn and recorded)")
    post.add_argument("--epochs", type=flags.settings.epochs, default=None,
                      help="epochs (default: the post's own; fewer is a shortened run)")
    post.add_argument("--threads", type=flags.settings.threads, default=posts.THREADS,
                      help="the framework's threads (default: %(default)s: PyTorch's CPU LSTM "
                           "did not repeat its numbers with 2 threads, docs/posts.md)")
    post.add_argument("--out", dest="run_dir", default=None, metavar="RUN_DIR",
                      help="the run directory (default: runs/post<ID>-seed<S>)")
    flags.add_data(post, choose_dataset=False)
    recipe.add_flags(post)
    post.set_defaults(func=cmd_post)


def cmd_post(args):
    from tf1_lstm import posts
    post = posts.get(args.post)
    chosen = recipe.given(args)
    if post.id == posts.TWIN.id and args.epochs is not None:
        raise UsageError("%s's length is --steps (post 003: %d; %d make one pass over the "
                         "images at batch 64): drop --epochs" % (
                             post.id, recipe.POST_003.steps,
                             recipe.batches_per_epoch(recipe.POST_003)))
    if post.id != posts.TWIN.id and chosen:
        raise UsageError("--%s set%s the twin's recipe: only for post %s" % (
            ", --".join(chosen), "s" if len(chosen) == 1 else "", posts.TWIN.id))
    try:
        recipe.check(recipe.from_options(chosen))
    except ArgumentTypeError as err:
        raise UsageError(str(err))
    here = tfenvs.own()
    if here != post.env:
        raise UsageError("post %s is a %s program: run it in its environment, `./run --env %s "
                         "post %s`%s" % (post.id, post.framework, post.env, post.id,
                                         "" if tfenvs.interpreter(post.env) else
                                         " (set it up first: %s)" % tfenvs.setup_command(post.env)))
    try:
        from tf1_lstm.posts import run
    except ImportError as err:
        raise UsageError(tfenvs.cannot_import(err))
    config = run.new_config(post.id, args.seed, args.epochs, args.threads, args.run_dir,
                            args.data_dir, args.mirrors, chosen)
    flags.writable_dir(config.run_dir, "--out", must_be_empty=True)
    try:
        status = run.train(config)
    except KeyboardInterrupt as err:
        interrupts.say_interrupted("tf1-lstm post", err, "(its records say so in %s; a new "
                                   "--out trains it again)" % config.run_dir)
        return 130
    print("tf1-lstm post %s: %s -> %s" % (post.id, status, config.run_dir))
    sys.stdout.flush()
    return 0
