"""Recipe or framework? The path from post 003's program (TensorFlow) to post 002's recipe
(PyTorch), one factor changed per point, each point over the report's seeds.

Point 0 is the report's faithful LSTM runs; point 1 the same program in PyTorch (the twin,
posts.twin: the framework is the one change); each later point changes one more factor of
posts.recipe to post 002's value; the last is post 002's own program (nn.LSTM, its loop). The
reverse check sets one factor at a time back to post 003's in post 002's recipe: where the two
orders disagree, the factor interacts with the others. The verdict comes from RULE alone.
"""

import argparse
import collections
import os
from typing import NamedTuple, Optional

import numpy as np

from tf1_lstm import posts
from tf1_lstm.core import cells, datasets, settings
from tf1_lstm.core.training import run_name
from tf1_lstm.posts import recipe as recipes
from tf1_lstm.studies import engine
from tf1_lstm.studies.sections.posts import run_of
from tf1_lstm.studies.tools import twin as twin_tool
from tf1_lstm.studies.verdicts import claims, stats
from tf1_lstm.util import scratch
from tf1_lstm.util.figures import pyplot, save_figure
from tf1_lstm.util.files import remove_quietly
from tf1_lstm.util.text import percent

FIGURE = "path.png"
FORWARD, BOTH = "forward", "both"  # --path's values: the path alone, or with the reverse check
RULE = ("a factor moves test accuracy where the 95% Welch interval of its change excludes 0: "
        "on the path (the point that changes it against the point before) and in the reverse "
        "check (post 002's recipe against it with that factor set back; the change counted from "
        "003's value to 002's); both orders excluding 0 on one side: it moves it; one order "
        "only, or the two on opposite sides: it interacts with the others; neither: within the "
        "seeds' noise; a factor with no reverse point (the framework) is judged on the path "
        "alone; fewer than 2 seeds a point, or shortened runs: measured, not judged")


class Point(NamedTuple):
    """One point of the path or of the reverse check."""
    name: str                         # its runs' label (<name>-seed<N>)
    changed: str                      # the factor it changes ("" for point 0)
    recipe: Optional[recipes.Recipe]  # the twin's recipe (None: the TF or post 002 program)
    label: str                        # what the report calls it


def _shortened(steps):
    return (lambda r: r._replace(steps=steps)) if steps else (lambda r: r)


def forward(steps=None):
    """Point 0 (the TF program), the twin under post 003's recipe, one more factor of post
    002's per point, then post 002's own program. `steps`: each twin point shortened to it."""
    shorten = _shortened(steps)
    found = [Point("lstm", "", None, "post 003's program in TensorFlow 1.x"),
             Point("path1-framework", "framework", shorten(recipes.POST_003),
                   "the same program in PyTorch (the twin)")]
    recipe = recipes.POST_003
    for k, factor in enumerate(recipes.FACTORS, 2):
        recipe = recipe._replace(**{factor.name: factor.post_002})
        found.append(Point("path%d-%s" % (k, factor.name), factor.label, shorten(recipe),
                           "%s %s" % (factor.label, _shown(factor.post_002))))
    return found + [Point("post002", "program", None, "post 002's own program (nn.LSTM)")]


def reverse(steps=None):
    """Post 002's recipe with each factor in turn set back to post 003's value."""
    shorten = _shortened(steps)
    return [Point("back-%s" % f.name, f.label, shorten(recipes.POST_002._replace(
        **{f.name: f.post_003})), "%s back to %s" % (f.label, _shown(f.post_003)))
        for f in recipes.FACTORS]


def rnn_point(steps=None):
    """The twin's RNN under post 003's recipe: does "the RNN cannot train" hold in PyTorch?"""
    return Point("path-rnn", "framework", _shortened(steps)(recipes.POST_003._replace(
        cell=cells.RNN)), "BasicRNNCell in the twin")


def _shown(value):
    return "%g" % value if isinstance(value, float) else str(value)


# --- the report's section (studies.sections) -------------------------------------------------

def kind(text):
    if text not in (FORWARD, BOTH):
        raise argparse.ArgumentTypeError("%r: give %s (the path) or %s (with the reverse check)"
                                         % (text, FORWARD, BOTH))
    return text


FLAGS = (("--path", dict(
    type=kind, nargs="?", const=BOTH, default=None, metavar="forward|both",
    help="add the path section: post 003's recipe to post 002's, one factor per point in "
         "PyTorch (posts.twin), over the same seeds; `both` (the default) adds the reverse "
         "check (./run setup --env %s; docs/path.md). --steps shortens the TF and twin "
         "points, --epochs post 002's program" % posts.TORCH_ENV)),)
ALONE = "--path"  # how a report with --tf names it


class PathOptions(NamedTuple):
    """What --path asks for."""
    reverse: bool            # the reverse check too
    steps: Optional[int]     # --steps below post 003's: every twin point trains that many
    #                          (a step-counted program, as the TF one); None: its own length
    epochs: Optional[int]    # --epochs: post 002's program trains that many; None: its 30


def options(args):
    """PathOptions, or None: no --path. Refused before anything trains: report settings the
    twin would not share (it reads MNIST and starts from post 003's settings)."""
    if not args.path:
        return None
    problems = [flag for flag, wrong in (
        ("--dataset %s" % args.dataset, args.dataset not in (None, datasets.MNIST.name)),
        ("--init-from %s" % args.init_from, args.init_from not in (None, settings.OWN_SEEDS)),
        ("--cells %s" % ",".join(args.cells), cells.LSTM not in args.cells)) if wrong]
    if problems:
        raise engine.RunError("%s: the path starts from post 003's program as the post trains "
                              "it: drop %s" % (" and ".join(problems),
                                               "it" if len(problems) == 1 else "them"))
    steps = args.steps if args.steps != recipes.POST_003.steps else None
    return PathOptions(args.path == BOTH, steps, args.epochs)


def twin_run(point, seed, threads):
    """The RunSpec of one twin point's run: `post 003-torch` with the point's recipe."""
    return engine.RunSpec(name=run_name(point.name, seed), command="post",
                          options=(("post", posts.TWIN.id),) + recipes.options(point.recipe),
                          env=posts.TWIN.env, seed=seed, threads=threads or posts.THREADS)


def point_runs(point, seeds, base, epochs):
    """A point's RunSpecs: the report's faithful runs, post 002's, or the twin's."""
    if point.recipe is not None:
        return [twin_run(point, s, base.threads) for s in seeds]
    if point.name == "post002":
        return [run_of(posts.get("002"), s, base.threads, epochs) for s in seeds]
    return [engine.named(base, point.name, s) for s in seeds]


def points(chosen, cells_):
    """Every point `chosen` asks for: the path, the RNN's (where the report trains the RNN),
    the reverse check."""
    extra = [rnn_point(chosen.steps)] if cells.RNN in cells_ else []
    return forward(chosen.steps) + extra + (reverse(chosen.steps) if chosen.reverse else [])


def plan(base, chosen, report):
    """The twin's points and post 002's runs over the report's seeds (point 0 and the TF RNN
    are the report's own runs)."""
    seeds = range(report.seeds)
    runs = [run for p in points(chosen, report.cells) if p.recipe is not None or
            p.name == "post002" for run in point_runs(p, seeds, base, chosen.epochs)]
    twins = [dict(r.options)["steps"] for r in runs if dict(r.options).get("steps")]
    print("report: the path trains %d runs of the twin (%s steps in all, one core each) and "
          "%d of post 002's program; docs/path.md gives how long each takes here"
          % (len(twins), "{:,}".format(sum(twins)), len(runs) - len(twins)), flush=True)
    return runs


def side(interval):
    """+1 where a 95% interval lies above 0, -1 below, 0 where it holds 0."""
    return 1 if interval[0] > 0 else -1 if interval[1] < 0 else 0


def judge(on_path, back=None):
    """RULE on one factor's two intervals (`back` None: no reverse point): "moves it",
    "interacts" or "within the seeds' noise"; None where the path gives no interval."""
    if on_path is None:
        return None
    forward_side = side(on_path)
    if back is None:
        return "moves it" if forward_side else "within the seeds' noise"
    back_side = side(back)
    if forward_side and forward_side == back_side:
        return "moves it"
    return "interacts" if forward_side or back_side else "within the seeds' noise"


def step0(data_dir):
    """The twin from the graph's own step-0 weights (`tf1-lstm twin --steps 1`, seed 0): their
    first losses agree, or the twin is not the graph and no path is reported (RunError)."""
    folder = scratch.make("path")
    try:
        found, _ = twin_tool.run((cells.LSTM,), 0, 1, folder, data_dir, say=lambda line: None)
    finally:
        remove_quietly(folder)
    if found[0].step0_defect:
        raise engine.RunError("%s: no path is reported" % found[0].step0_defect)
    return collections.OrderedDict([("tf", found[0].tf[0]), ("twin", found[0].twin[0]),
                                    ("relative", found[0].largest), ("rule", twin_tool.RULE)])


def summarise(finished, chosen):
    """report.json's `path`: a row per point (its runs, figures, and change), a row per factor
    (its change on the path and in the reverse check, its verdict), the RNN's two verdicts;
    first, the twin's step 0 against the graph's."""
    checked = step0(finished.data_dir)
    unjudged = claims.SHORTENED if chosen.epochs else claims.not_judged(
        finished.base.steps, recipes.POST_003.steps)
    rows, before = [], None
    for p in forward(chosen.steps):
        row = _row(finished, p, chosen.epochs)
        row["change"] = stats.welch(before, row["per_seed"]) if before else None
        rows.append(row)
        before = row["per_seed"]
    end = next(r for r in rows if r["recipe"] == dict(recipes.options(
        _shortened(chosen.steps)(recipes.POST_002))))
    back = collections.OrderedDict()
    for p in reverse(chosen.steps) if chosen.reverse else []:
        row = _row(finished, p, chosen.epochs)
        row["change"] = stats.welch(row["per_seed"], end["per_seed"])  # 003's value -> 002's
        back[p.changed] = row
    factors = [_factor(r, back.get(r["changed"]), unjudged) for r in rows[1:]]
    return collections.OrderedDict([
        ("step0", checked), ("rows", rows), ("reverse", list(back.values())),
        ("factors", factors),
        ("rnn", _rnn(finished, chosen, unjudged) if cells.RNN in finished.cells else None),
        ("shortened", bool(unjudged)), ("rule", RULE),
        ("verdict", verdict(factors, unjudged)), ("figure", FIGURE)])


def _row(finished, point, epochs):
    specs = point_runs(point, finished.seeds, finished.base, epochs)
    found = [finished.metrics(s) for s in specs]
    accs = [m["test_accuracy"] for m in found]
    return collections.OrderedDict([
        ("name", point.name), ("changed", point.changed), ("label", point.label),
        ("recipe", dict(recipes.options(point.recipe)) if point.recipe else None),
        ("runs", ["runs/" + s.name for s in specs]), ("per_seed", accs),
        ("measured", stats.describe(accs)),
        ("steps", int(np.mean([m["steps_done"] for m in found]))),
        ("seconds", float(np.mean([m["wall_time"] for m in found]))),
        ("environment", specs[0].env or finished.envs[0]),
        ("seals", [finished.seal(s.name) for s in specs])])


def _factor(row, back, unjudged):
    on_path = row["change"]["ci95"]
    reverse_ci = back["change"]["ci95"] if back else None
    return collections.OrderedDict([
        ("factor", row["changed"]), ("to", row["label"]),
        ("path_change", row["change"]), ("reverse_change", back["change"] if back else None),
        ("verdict", unjudged or judge(on_path, reverse_ci) or "not judged (one seed)")])


def verdict(factors, unjudged):
    """The section's last line: which factors move test accuracy, and the framework's part."""
    if unjudged:
        return "%s: measured, not judged" % unjudged
    moving = [f["factor"] for f in factors if f["verdict"] in ("moves it", "interacts")]
    framework = next(f for f in factors if f["factor"] == "framework")["verdict"]
    return "%s; the framework %s" % (
        "factors that move test accuracy: " + ", ".join(moving) if moving else
        "no factor moves test accuracy beyond the seeds' noise",
        "is one of them" if framework in ("moves it", "interacts") else
        "is not (%s)" % framework)


def _rnn(finished, chosen, unjudged):
    """The post's RNN claim judged on the TF runs and on the twin's, by the claim's rule."""
    judge_ = claims.JUDGES["cannot train"]
    tf = [m["test_accuracy"] for m in finished.faithful()[cells.RNN]]
    twin = [finished.metrics(s)["test_accuracy"] for s in point_runs(
        rnn_point(chosen.steps), finished.seeds, finished.base, chosen.epochs)]
    cell = cells.get(cells.RNN)
    return collections.OrderedDict(
        (where, judge_(cell, accs, finished.chance, unjudged))
        for where, accs in (("tensorflow", tf), ("twin", twin)))


def runs(section, seeds):
    """A row per run the path owns (the twin's and post 002's; point 0 is the report's own):
    its point (`cell`), seed, folder, seal and test accuracy."""
    return [{"cell": row["name"], "seed": seed, "run_dir": run_dir, "test_accuracy": accuracy,
             "seal": seal}
            for row in section["rows"][1:] + section["reverse"]
            for seed, run_dir, accuracy, seal in zip(seeds, row["runs"], row["per_seed"],
                                                     row["seals"])]


def _interval(change):
    if change is None:
        return ""
    ci = change["ci95"]
    return "%+.2f%s" % (100 * change["difference"], "" if ci is None else
                        " (%+.2f to %+.2f)" % (100 * ci[0], 100 * ci[1]))


def render(section):
    lines = ["## Recipe or framework? From post 003 to post 002, one factor at a time", "",
             "Point 0 is post 003's program in TensorFlow (the report's LSTM runs); point 1 the "
             "same program in PyTorch, op for op (the twin, docs/path.md); each later point "
             "changes one more factor to post 002's value; the last is post 002's own "
             "program. Change: points of test accuracy against the point before, with its 95% "
             "Welch interval.", "",
             "| point | changed to | steps | mean | range | 95% CI | change (95% CI) | s a run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k, row in enumerate(section["rows"]):
        lines.append("| %d | %s | %s |" % (k, row["label"], _figures(row)))
    step = section["step0"]
    lines += ["", "The twin is the graph: from the graph's own step-0 weights (seed 0), step "
              "0's loss is %.9f in TensorFlow and %.9f in the twin (relative %.2g; `tf1-lstm "
              "twin` follows the two further)." % (step["tf"], step["twin"], step["relative"])]
    if section["reverse"]:
        lines += ["", "Reverse check: post 002's recipe in the twin with one factor set back "
                  "to post 003's; change: from the set-back point to post 002's recipe.", "",
                  "| set back | steps | mean | range | 95% CI | change (95% CI) | s a run |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += ["| %s | %s |" % (row["label"], _figures(row)) for row in section["reverse"]]
    lines += ["", "| factor | on the path | reverse check | verdict |", "| --- | --- | --- | --- |"]
    lines += ["| %s | %s | %s | **%s** |" % (f["factor"], _interval(f["path_change"]),
                                             _interval(f["reverse_change"]) or "none",
                                             f["verdict"]) for f in section["factors"]]
    if section["rnn"]:
        lines += ["", "The RNN at post 003's settings: \"%s\": TensorFlow **%s** (%s); the twin "
                  "**%s** (%s)." % (section["rnn"]["tensorflow"]["claim"],
                                    section["rnn"]["tensorflow"]["verdict"],
                                    section["rnn"]["tensorflow"]["note"],
                                    section["rnn"]["twin"]["verdict"],
                                    section["rnn"]["twin"]["note"])]
    return lines + ["", "Rule: %s." % section["rule"], "", "**%s.**" % section["verdict"], "",
                    "![the path](%s)" % section["figure"], ""]


def _figures(row):
    m = row["measured"]
    return "%d | %s | %s–%s | %s | %s | %.0f" % (
        row["steps"], percent(m["mean"]), percent(m["min"]), percent(m["max"]),
        "%s–%s" % (percent(m["ci95"][0]), percent(m["ci95"][1])) if m["ci95"] else "",
        _interval(row["change"]), row["seconds"])


def plot(section, out):
    plt = pyplot()
    groups = [("path", section["rows"]), ("reverse check", section["reverse"])]
    fig, axes = plt.subplots(1, 2 if section["reverse"] else 1, figsize=(11, 4), squeeze=False)
    for ax, (title, rows) in zip(axes[0], groups):
        for i, row in enumerate(rows):
            accs = [100 * a for a in row["per_seed"]]
            ax.scatter([i] * len(accs), accs, color="C0", s=12, zorder=3)
            ci = row["measured"]["ci95"]
            if ci:
                ax.vlines(i, 100 * ci[0], 100 * ci[1], color="C1", linewidth=3)
            ax.hlines(np.mean(accs), i - 0.3, i + 0.3, color="C1", linewidth=2)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["name"] for r in rows], rotation=60, ha="right", fontsize=7)
        ax.set_title(title)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Post 003 to post 002: test accuracy per seed (bar: mean, line: 95% CI)")
    save_figure(fig, os.path.join(out, FIGURE), dpi=110)
    return [FIGURE]
