"""N posts, N claims: the sister posts' programs (tf1_lstm.posts), each trained over the
report's seeds in its own framework, beside this post's faithful LSTM runs, each claim judged
by one printed rule (studies.verdicts.claims.figure_claim)."""

import argparse
import collections
import os
from typing import NamedTuple, Optional, Tuple

import numpy as np

from tf1_lstm import posts
from tf1_lstm.core import datasets, hparams, records, settings
from tf1_lstm.core.cells import LSTM
from tf1_lstm.core.training import run_name
from tf1_lstm.studies import engine
from tf1_lstm.studies.verdicts import claims
from tf1_lstm.util.figures import pyplot, save_figure
from tf1_lstm.util.text import count, percent

FIGURE = "posts.png"
HOUR = 3600  # a post whose runs take longer than this here says so before it starts


class PostsOptions(NamedTuple):
    """What --posts asks for."""
    ids: Tuple[str, ...]     # the posts trained (tf1_lstm.posts ids)
    epochs: Optional[int]    # --epochs: every post shortened to this; None: each its own


def ids(text):
    """--posts' value: 'all' or a comma-separated list of posts.IDS."""
    if text == "all":
        return posts.IDS
    found = tuple(t.strip() for t in text.split(",") if t.strip())
    if not found or [t for t in found if t not in posts.IDS]:
        raise argparse.ArgumentTypeError("%r: give all, or a comma-separated list of %s"
                                         % (text, ", ".join(posts.IDS)))
    twice = sorted({t for t in found if found.count(t) > 1})
    if twice:
        raise argparse.ArgumentTypeError("%r names %s more than once: give each post once"
                                         % (text, ", ".join(twice)))
    return found


FLAGS = (
    ("--posts", dict(type=ids, nargs="?", const="all", default=(), metavar="IDS",
                     help="add the five-posts section: the sister posts' programs (optionally "
                          "only IDS of %s) over the same seeds, in PyTorch and Keras "
                          "(./run setup --env %s; docs/posts.md)"
                          % (", ".join(posts.IDS), posts.TORCH_ENV))),
    ("--epochs", dict(type=settings.epochs, default=None, metavar="N",
                      help="with --posts: every sister post trains N epochs, not its own; "
                           "with --path: post 002's program (a shortened look, labelled and "
                           "not judged; --steps shortens the TF post and the twin)")),
)
ALONE = "--posts"  # how a report with --tf names it


def options(args):
    """PostsOptions, or None: no --posts. Refused, before anything is fetched or trained:
    --epochs without --posts, and report settings the posts would not share (they read
    MNIST and are set against the faithful LSTM)."""
    if not args.posts:
        if args.epochs is not None and not args.path:  # --path's twin points take it too
            raise engine.RunError("--epochs shortens the sister posts (and post 002's in "
                                  "--path): add --posts or --path (or drop it)")
        return None
    problems = [flag for flag, wrong in (
        ("--dataset %s" % args.dataset, args.dataset not in (None, datasets.MNIST.name)),
        ("--init-from %s" % args.init_from, args.init_from not in (None, settings.OWN_SEEDS)),
        ("--cells %s" % ",".join(args.cells), LSTM not in args.cells)) if wrong]
    if problems:
        raise engine.RunError("%s do%s not apply to the sister posts (MNIST programs set against "
                              "the faithful LSTM): drop %s or make the posts a report of their "
                              "own" % (" and ".join(problems), "es" if len(problems) == 1
                                       else "", "it" if len(problems) == 1 else "them"))
    return PostsOptions(tuple(args.posts), args.epochs)


def run_of(post, seed, threads, epochs):
    """The RunSpec of one post's run: its own command and environment; of the settings, only
    the seed and threads apply (the rest stay the defaults, which a post's record matches);
    a report that leaves threads to the framework gives a post its default, posts.THREADS."""
    return engine.RunSpec(name=run_name("post" + post.id, seed), command="post",
                          options=(("post", post.id), ("epochs", epochs or post.epochs)),
                          env=post.env, seed=seed, threads=threads or posts.THREADS)


def plan(base, chosen, report):
    """Every chosen post over the report's seeds; where they would take over an hour of one
    core here, it says so first."""
    runs = [run_of(posts.get(i), s, base.threads, chosen.epochs)
            for i in chosen.ids for s in range(report.seeds)]
    cost = [(p, (chosen.epochs or p.epochs) * p.seconds_per_epoch * report.seeds)
            for p in map(posts.get, chosen.ids)]
    if sum(c for _, c in cost) > HOUR:
        print("report: the sister posts take about %.1f h of one core here (%s; measured at 1 "
              "thread, docs/posts.md); each run's log has a line per epoch with its ETA" % (
                  sum(c for _, c in cost) / HOUR, ", ".join(
                      "%s %.0f min" % (p.id, c / 60) for p, c in cost)), flush=True)
    return runs


def summarise(finished, chosen):
    """report.json's `posts`: a row per post (the TF post's from the faithful LSTM runs)."""
    lstm = [m["test_accuracy"] for m in finished.faithful()[LSTM]]
    base = finished.base
    steps = base.steps
    shortened = claims.not_judged(steps, settings.by_name()["steps"].default)
    rows = [collections.OrderedDict([
        ("post", posts.THE_POST), ("framework", "TensorFlow 1.x"),
        ("model", "BasicLSTMCell(%d) + dense(%d), the faithful program (tf1_lstm.core)"
         % (hparams.N_NEURONS, hparams.N_OUTPUTS)),
        ("settings", "batch %d, Adam(%g), %d steps" % (base.batch_size, base.lr, steps)),
        ("length", "%d steps" % steps), ("shortened", bool(shortened)),
        ("runs", ["runs/%s" % engine.named(finished.base, LSTM, s, env=finished.envs[0]).name
                  for s in finished.seeds]),
        ("claim", "about 99%"),
    ] + list(claims.figure_claim(claims.CLAIMED_TEST_ACCURACY, lstm, shortened).items()))]
    for post_id in chosen.ids:
        post = posts.get(post_id)
        runs = [run_of(post, s, finished.base.threads, chosen.epochs) for s in finished.seeds]
        found = [finished.metrics(r) for r in runs]
        epochs = dict(runs[0].options)["epochs"]
        unjudged = claims.not_judged(epochs, post.epochs)
        rows.append(collections.OrderedDict([
            ("post", post.id), ("framework", post.framework), ("model", post.model),
            ("settings", post.settings), ("length", length(epochs, post.epochs)),
            ("shortened", bool(unjudged)), ("runs", ["runs/" + r.name for r in runs]),
            ("claim", post.claim), ("environment", post.env),
            ("seconds_per_epoch", float(np.mean([m["seconds_per_epoch"] for m in found]))),
            ("fingerprint", found[0].get("fingerprint")),
            ("seals", [finished.seal(r.name) for r in runs]),
        ] + list(claims.figure_claim(post.claimed, [m["test_accuracy"] for m in found],
                                     unjudged).items())))
    return collections.OrderedDict([("rows", rows), ("figure", FIGURE)])


def runs(section, seeds):
    """A row per sister post's run (the TF post's are the report's own rows): its group
    (`cell`), seed, folder, seal and the test accuracy report.json gives it. A post's runs
    are the report's seeds, in their order."""
    rows = []
    for row in section["rows"]:
        if row["post"] == posts.THE_POST:
            continue
        seals = row.get("seals") or [None] * len(row["runs"])
        for seed, run_dir, accuracy, seal in zip(seeds, row["runs"], row["per_seed"], seals):
            rows.append({"cell": "post" + row["post"], "seed": seed, "run_dir": run_dir,
                         "test_accuracy": accuracy, "post": row["post"], "seal": seal})
    return rows


def side_by_side(a, b, doubted_a, doubted_b):
    """(label, A, B) rows of two reports' sections (None: that report has none): each post's
    verdict, each of its runs' test accuracy; runs not believed (`doubted_*`) named so."""
    found = [collections.OrderedDict((r["post"], r) for r in (s or {}).get("rows", []))
             for s in (a, b)]
    doubted = (doubted_a, doubted_b)

    def verdict(r, apart):
        n = len([run for run in r["runs"] if run in apart])
        said = " (%d run%s %s)" % (n, "" if n == 1 else "s", records.NOT_BELIEVED)
        return r["verdict"] + (said if n else "")

    rows = []
    for post in _union(*found):
        rows.append(("post %s verdict" % post,) + tuple(
            verdict(f[post], d) if post in f else None for f, d in zip(found, doubted)))
        if post == posts.THE_POST:
            continue
        accuracies = [{run: records.NOT_BELIEVED if run in d else "%.4f" % accuracy
                       for run, accuracy in zip(f[post]["runs"], f[post]["per_seed"])}
                      if post in f else {} for f, d in zip(found, doubted)]
        for run in _union(*accuracies):
            rows.append(("%s test accuracy" % os.path.basename(run),) + tuple(
                a.get(run) for a in accuracies))
    return rows


def _union(*keyed):
    return list(collections.OrderedDict.fromkeys(k for d in keyed for k in d))


def length(epochs, own):
    return "%d of %d epochs" % (epochs, own) if epochs != own else "%d epochs" % epochs


def _measured(row):
    m = row["measured"]
    ci = (", 95%% CI %s–%s" % (percent(m["ci95"][0]), percent(m["ci95"][1]))
          if m["ci95"] else "")
    seeds = "%d seed%s" % (m["n"], "" if m["n"] == 1 else "s")
    return "mean %s, %s–%s%s (%s)" % (percent(m["mean"]), percent(m["min"]), percent(m["max"]),
                                      ci, seeds)


def title(section):
    """The section's title: how many posts' pages it holds, and their claims ("Five posts,
    five claims"), or their programs where a page gives more than one ("Five posts, six
    programs": 003-comment is on 003's page, 004-stacked on 004's)."""
    rows = len(section["rows"])
    pages = len({row["post"].split("-")[0] for row in section["rows"]})
    return "%s posts, %s %s" % (count(pages).capitalize(), count(rows),
                                "claims" if pages == rows else "programs")


def render(section):
    lines = ["## " + title(section), "",
             "Each sister post's program, ported faithfully to its own framework "
             "(docs/posts.md: what each post shows and every labelled change), trained over "
             "the report's seeds on the machine(s) under \"What the runs ran on\".", "",
             "| post | framework | model | settings | length | claimed | measured | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in section["rows"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | **%s** |" % (
            row["post"], row["framework"], row["model"], row["settings"], row["length"],
            row["claim"], _measured(row), row["verdict"]))
    rule = section["rows"][0]["rule"]
    lines += ["", "Rule: %s." % rule, ""]
    timed = [r for r in section["rows"] if r.get("seconds_per_epoch")]
    if timed:
        lines += ["Seconds per epoch here (mean over seeds): %s." % "; ".join(
            "%s %.1f s" % (r["post"], r["seconds_per_epoch"]) for r in timed), ""]
    return lines + ["![test accuracy of each post](%s)" % section["figure"], ""]


def plot(section, out):
    plt = pyplot()
    rows = section["rows"]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, row in enumerate(rows):
        accs = [100 * a for a in row["per_seed"]]
        ax.scatter([i] * len(accs), accs, color="C%d" % i, zorder=3)
        ax.hlines(np.mean(accs), i - 0.3, i + 0.3, color="C%d" % i, linewidth=2)
        if row["claimed"] is not None:
            ax.scatter([i], [100 * row["claimed"]], marker="x", color="black", zorder=4,
                       label="claimed" if i == 0 else None)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(["%s\n%s" % (r["post"], r["framework"]) for r in rows], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("%s posts: test accuracy per seed (bar: mean; x: the post's claim)"
                 % count(len(rows)).capitalize())
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, os.path.join(out, FIGURE), dpi=110)
    return [FIGURE]
