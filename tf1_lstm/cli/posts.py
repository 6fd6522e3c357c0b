"""`post`: one sister post's program (tf1_lstm.posts), in its own framework's environment."""

import sys

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.util import interrupts, tfenvs


def register(commands):
    from tf1_lstm import posts
    post = commands.add_parser(
        "post", help="one sister post's program (PyTorch or Keras), as the post runs it",
        description="Train one of the sister posts' programs (../shared/seeds; ids %s), "
                    "faithful in its own framework, and record it as a training run is. It "
                    "runs in the post's environment: ./run --env NAME post ID (docs/posts.md)."
                    % ", ".join(posts.IDS))
    post.add_argument("post", choices=posts.IDS, metavar="ID",
                      help="the post: %s" % ", ".join(posts.IDS))
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
    post.set_defaults(func=cmd_post)


def cmd_post(args):
    from tf1_lstm import posts
    post = posts.get(args.post)
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
                            args.data_dir, args.mirrors)
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
