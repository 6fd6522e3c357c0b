"""`tf1-lstm report`: many seeded runs of the faithful program, and what they say about the post.

Each (cell, seed) is an ordinary `tf1-lstm train` run in its own process and run directory under
`<out>/runs/`, so any figure in the report can be rerun alone with the command it records, and
an interrupted report, run again with the same --out, trains only what is missing.
"""

from __future__ import division, print_function

import collections
import math
import os
import subprocess
import sys
import time

import numpy as np

from tf1_lstm import data, environment, hparams, runner
from tf1_lstm.files import pyplot, save_figure, write_json, write_text

# Two-sided 95% Student t quantiles t(0.975, df), df = 1..30 (standard table values).
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
REPRODUCED_WITHIN = 0.005  # "about 99%": the mean must be within half a point of it
NO_TRAINING_MARGIN = 0.10  # "cannot train": every seed within 10 points of chance level
# Figures other implementations report (../shared/seeds/): quoted, not measured here.
REFERENCES = (
    ("PyTorch, 1-layer LSTM(28, 128), 10 epochs", "98.07%", "seeds/000_73883815049710bc.txt"),
    ("PyTorch, LSTM with 64 hidden units", "97% (9726/10000)", "seeds/001_430afb1c3515b67c.txt"),
    ("PyTorch, 2-layer LSTM, 30 epochs", "99.08%", "seeds/002_e78ab3ae63e85e7f.txt"),
)
COLORS = {"lstm": "#1f77b4", "rnn": "#d62728"}


def plan(cells, seeds, steps, threads, repeat_seed=True):
    """Every run the report needs; the last is one LSTM seed again, for the determinism check."""
    specs = [runner.spec("%s-seed%d" % (c, s), c, s, steps, threads) for c in cells for s in seeds]
    if repeat_seed:
        specs.append(specs[0]._replace(name=specs[0].name + "-repeat"))
    return specs


# --- statistics ------------------------------------------------------------------------------

def describe(values):
    """Mean, sample std, min, max and a 95% t interval of the mean."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    half = T975[min(n - 1, len(T975)) - 1] * std / math.sqrt(n) if n > 1 else float("nan")
    mean = float(x.mean())
    return collections.OrderedDict([
        ("n", n), ("mean", mean), ("std", std), ("min", float(x.min())), ("max", float(x.max())),
        # An accuracy cannot leave [0, 1]: the interval is clipped there.
        ("ci95", [max(0.0, mean - half), min(1.0, mean + half)] if n > 1 else None)])


def chance_level(data_dir):
    """Share of the most frequent class in the test set: the best a constant guess can do."""
    path = data.find_file(data_dir, "t10k-labels-idx1-ubyte")
    labels = data.load_idx(path, data.FILES["t10k-labels-idx1-ubyte"])
    counts = np.bincount(labels, minlength=data.NUM_CLASSES)
    return {"accuracy": float(counts.max() / counts.sum()), "class": int(counts.argmax())}


def claims(by_cell, chance):
    """The post's two claims against the measured figures, each with its verdict and rule."""
    out = []
    if "lstm" in by_cell:
        stats = describe([m["test_accuracy"] for m in by_cell["lstm"]])
        gap = 100 * (hparams.CLAIMED_TEST_ACCURACY - stats["mean"])
        held = stats["mean"] >= hparams.CLAIMED_TEST_ACCURACY - REPRODUCED_WITHIN
        out.append(collections.OrderedDict([
            ("claim", "The LSTM reaches about 99% test accuracy"),
            ("measured", stats),
            ("rule", "reproduced if the mean over seeds is at least %.1f%%"
             % (100 * (hparams.CLAIMED_TEST_ACCURACY - REPRODUCED_WITHIN))),
            ("verdict", "reproduced" if held else "not reproduced"),
            ("gap_points", gap),
        ]))
    if "rnn" in by_cell:
        accs = [m["test_accuracy"] for m in by_cell["rnn"]]
        within = [a <= chance["accuracy"] + NO_TRAINING_MARGIN for a in accs]
        held = all(within)
        out.append(collections.OrderedDict([
            ("claim", "With BasicRNNCell the same program cannot train"),
            ("measured", describe(accs)),
            ("per_seed", accs),
            ("chance", chance["accuracy"]),
            ("rule", "reproduced if every seed ends within %d points of chance level (%.2f%%, "
             "always guessing %d)" % (100 * NO_TRAINING_MARGIN, 100 * chance["accuracy"],
                                      chance["class"])),
            ("verdict", "reproduced" if held else "not reproduced"),
            ("seeds_within", sum(within)),
            ("note", "%d of %d seeds within %d points of chance; the highest reached %.2f%%"
             % (sum(within), len(accs), 100 * NO_TRAINING_MARGIN, 100 * max(accs))),
        ]))
    return out


def determinism(results, specs):
    """Did the repeated seed give the same logged values, bit for bit?"""
    repeat = [s for s in specs if s.name.endswith("-repeat")]
    if not repeat:
        return None
    a, b = results[repeat[0].name[:-len("-repeat")]], results[repeat[0].name]
    keys = ("train_accuracy", "loss")
    same_curve = [[p[k] for k in keys] for p in a["curve"]] == \
        [[p[k] for k in keys] for p in b["curve"]]
    return collections.OrderedDict([
        ("run", repeat[0].name[:-len("-repeat")]), ("repeat", repeat[0].name),
        ("logged_values", 2 * len(a["curve"]) + 1),
        ("identical", same_curve and a["test_accuracy"] == b["test_accuracy"])])


# --- environment -----------------------------------------------------------------------------

def fingerprint(data_dir):
    tf = environment.import_tensorflow()
    from tensorflow.python.platform import build_info
    try:
        gpus = [d.name for d in tf.config.experimental.list_physical_devices("GPU")]
    except Exception as err:  # noqa: B902 - a broken CUDA set-up is a fact to report
        gpus = ["error: %s" % err]
    freeze = subprocess.check_output([sys.executable, "-m", "pip", "freeze", "--all"],
                                     stderr=subprocess.DEVNULL, universal_newlines=True)
    return collections.OrderedDict([
        ("versions", environment.versions()),
        ("cuda", collections.OrderedDict([
            ("built_with_cuda", bool(tf.test.is_built_with_cuda())),
            ("cuda_version", getattr(build_info, "cuda_version_number", None)),
            ("cudnn_version", getattr(build_info, "cudnn_version_number", None)),
            ("gpus", gpus)])),
        ("machine", environment.machine()),
        ("git", environment.git_revision()),
        ("data_checksums", data.checksums(data_dir)),
        ("pip_freeze", freeze.split()),
    ])


# --- figures and text ------------------------------------------------------------------------

def plot_curves(by_cell, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for cell, runs in sorted(by_cell.items()):
        steps = [p["step"] for p in runs[0]["curve"]]
        for key, ax in zip(("train_accuracy", "loss"), axes):
            series = np.array([[p[key] for p in m["curve"]] for m in runs])
            for row in series:
                ax.plot(steps, row, color=COLORS.get(cell), linewidth=0.6, alpha=0.45)
            ax.plot(steps, series.mean(axis=0), color=COLORS.get(cell), linewidth=2.2,
                    label="%s (mean of %d seeds)" % (cell.upper(), len(runs)))
    axes[0].set_ylabel("train accuracy (current batch)")
    axes[1].set_ylabel("loss (current batch)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Learning curves: each seed thin, the mean bold")
    save_figure(fig, path, dpi=110)


def plot_test_accuracy(by_cell, chance, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    cells = sorted(by_cell)
    for i, cell in enumerate(cells):
        accs = [100 * m["test_accuracy"] for m in by_cell[cell]]
        ax.scatter([i] * len(accs), accs, color=COLORS.get(cell), zorder=3)
        ax.hlines(np.mean(accs), i - 0.25, i + 0.25, color=COLORS.get(cell), linewidth=2)
    ax.axhline(100 * hparams.CLAIMED_TEST_ACCURACY, color="gray", linestyle="--",
               label="claimed 99%")
    ax.axhline(100 * chance["accuracy"], color="gray", linestyle=":", label="chance")
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels([c.upper() for c in cells])
    ax.set_xlim(-0.7, len(cells) - 0.3)
    ax.set_ylim(0, 101)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy per seed (bar: mean)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="center right")
    save_figure(fig, path, dpi=110)


def _pct(x):
    return "%.2f%%" % (100 * x)


def render(report):
    """report.md from report.json's data; every figure in it comes from that data."""
    lines = ["# tf1-lstm reproducibility report", ""]
    s = report["settings"]
    lines += ["Faithful program (BasicLSTMCell(150) / BasicRNNCell(150), Adam(%g), batch %d), "
              "%d steps, seeds %s, cells %s. Generated %s by `%s`." % (
                  s["lr"], s["batch_size"], s["steps"], ", ".join(map(str, s["seeds"])),
                  ", ".join(s["cells"]), report["generated"], report["command"]), ""]
    lines += ["## Claims of the original post", "",
              "| claim | measured | verdict |", "| --- | --- | --- |"]
    for c in report["claims"]:
        m = c["measured"]
        if "chance" in c:
            measured = "per seed: %s; chance level %s" % (
                ", ".join(_pct(a) for a in c["per_seed"]), _pct(c["chance"]))
        else:
            ci = ("; 95%% CI %s–%s" % (_pct(m["ci95"][0]), _pct(m["ci95"][1]))
                  if m["ci95"] else "")
            measured = "mean %s ± %s (std), min–max %s–%s%s over %d seeds" % (
                _pct(m["mean"]), _pct(m["std"]), _pct(m["min"]), _pct(m["max"]), ci, m["n"])
        verdict = "**%s**" % c["verdict"]
        if "note" in c:
            verdict += " (%s)" % c["note"]
        if "gap_points" in c:
            verdict += " (%.2f points %s the claim)" % (abs(c["gap_points"]),
                                                         "below" if c["gap_points"] > 0 else "above")
        lines.append("| %s | %s | %s |" % (c["claim"], measured, verdict))
    lines += [""] + ["Rule: %s." % c["rule"] for c in report["claims"]] + [""]
    lines += ["## Runs", "", "| cell | seed | test accuracy | final train-batch accuracy | "
              "wall time (s) | steps/s | threads |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["runs"]:
        lines.append("| %s | %d | %s | %s | %.0f | %.1f | %s |" % (
            r["cell"], r["seed"], _pct(r["test_accuracy"]), _pct(r["final_train_accuracy"]),
            r["wall_time"], r["steps_per_sec"], r["threads"] or "TF default"))
    lines += ["", "Rerun any row alone: `tf1-lstm train --cell CELL --seed SEED --steps %d%s`." % (
        s["steps"], " --threads %d" % s["threads"] if s["threads"] else ""), ""]
    lines += ["## Context: other implementations (quoted, not measured here)", "",
              "| implementation | reported test accuracy | source |", "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % tuple(row) for row in report["references"]] + [""]
    lines += ["## Figures", "", "![learning curves](learning_curves.png)", "",
              "![test accuracy per seed](test_accuracy.png)", ""]
    d = report["determinism"]
    lines += ["## Determinism", ""]
    if d:
        lines.append("`%s` was trained twice with the same settings: its %d logged values %s." % (
            d["run"], d["logged_values"],
            "were identical bit for bit" if d["identical"] else "**differed**"))
    else:
        lines.append("Not checked in this report.")
    lines += ["", "The same seed gives the same numbers only with the same thread count "
              "(`--threads`): TF's thread pools change the order of floating-point sums.", ""]
    p = report["parallelism"]
    if p:
        lines += ["## Parallel runs", "",
                  "On this machine (%d cores, %d-step LSTM runs): one run using all cores made "
                  "%.1f steps/s; %d single-threaded runs at once made %.1f steps/s together, "
                  "%.2f× the throughput." % (p["cores"], p["steps"],
                                            p["one_run_all_threads_steps_per_sec"], p["cores"],
                                            p["parallel_single_thread_steps_per_sec"],
                                            p["speedup"]), ""]
    if report.get("ablation"):
        from tf1_lstm import ablation
        lines += ablation.render(report["ablation"])
    e = report["environment"]
    lines += ["## Environment", "", "| | |", "| --- | --- |"]
    rows = [("Python", e["versions"]["python"]),
            ("TensorFlow", "%s (%s)" % (e["versions"]["tensorflow"], e["versions"]["tensorflow_git"])),
            ("built with CUDA", "%s (CUDA %s, cuDNN %s)" % (
                e["cuda"]["built_with_cuda"], e["cuda"]["cuda_version"], e["cuda"]["cudnn_version"])),
            ("GPUs seen", ", ".join(e["cuda"]["gpus"]) or "none"),
            ("NumPy / protobuf", "%s / %s" % (e["versions"]["numpy"], e["versions"]["protobuf"])),
            ("OS", e["machine"]["os"]), ("CPU", "%s, %s cores" % (e["machine"]["cpu"],
                                                                  e["machine"]["cores"])),
            ("container image", e["machine"]["container_image"] or "none"),
            ("git commit", "%s%s" % (e["git"]["commit"], " (dirty)" if e["git"]["dirty"] else "")),
            ("faithful ms/step (mean per cell)", ", ".join(
                "%s %.2f" % (c, v) for c, v in sorted(report["ms_per_step"].items())))]
    lines += ["| %s | %s |" % row for row in rows]
    lines += ["", "Data (SHA-256 of the decompressed IDX bytes):", ""]
    lines += ["- `%s` %s" % (name, sums["idx_sha256"])
              for name, sums in e["data_checksums"].items()]
    lines += ["", "<details><summary>pip freeze</summary>", "", "```"] + e["pip_freeze"] + \
        ["```", "", "</details>", ""]
    return "\n".join(lines)


def build_report(args, say=print):
    """Run (or reuse) every run, then write figures, report.json and report.md into args.out."""
    cores = os.cpu_count() or 1
    jobs = args.jobs or cores
    threads = args.threads or (max(1, cores // jobs) if jobs > 1 else None)
    seeds = list(range(args.seeds))
    data_dir = args.data_dir or data.default_data_dir()
    data.ensure_files(data_dir, args.mirrors)
    say("report: writing to %s (rerun with --out %s to resume)" % (args.out, args.out))
    specs = plan(args.cells, seeds, args.steps, threads, repeat_seed=not args.no_repeat)
    extra = []
    if args.ablations:
        from tf1_lstm import ablation
        diag_runs = ablation.plan_diagnostics(["rnn", "lstm"], seeds[0], args.steps, threads)
        extra = ablation.plan(seeds, args.steps, threads) + diag_runs
    results = runner.run_all(specs + extra, args.out, jobs, data_dir, say=say)
    parallelism = None if args.no_throughput else runner.measure_parallelism(
        args.out, min(args.steps, 1000), cores, data_dir, say=say)

    by_cell = collections.OrderedDict(
        (c, [results["%s-seed%d" % (c, s)] for s in seeds]) for c in args.cells)
    chance = chance_level(data_dir)
    runs = [collections.OrderedDict([
        ("cell", c), ("seed", s), ("test_accuracy", m["test_accuracy"]),
        ("final_train_accuracy", m["final_train_accuracy"]), ("wall_time", m["wall_time"]),
        ("steps_per_sec", m["steps_per_sec"]), ("ms_per_step", m["ms_per_step"]),
        ("threads", threads), ("run_dir", os.path.join("runs", "%s-seed%d" % (c, s))),
        ("curve", m["curve"])]) for c in args.cells for s, m in zip(seeds, by_cell[c])]
    report = collections.OrderedDict([
        ("schema", 1),
        ("generated", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("command", environment.machine()["command"]),
        ("settings", collections.OrderedDict([
            ("cells", list(args.cells)), ("seeds", seeds), ("steps", args.steps),
            ("batch_size", hparams.BATCH_SIZE), ("lr", hparams.LEARNING_RATE),
            ("jobs", jobs), ("threads", threads)])),
        ("claims", claims(by_cell, chance)),
        ("chance", chance),
        ("runs", runs),
        ("references", [list(r) for r in REFERENCES]),
        ("determinism", determinism(results, specs)),
        ("parallelism", parallelism),
        ("ms_per_step", {c: float(np.mean([m["ms_per_step"] for m in by_cell[c]]))
                         for c in args.cells}),
        ("environment", fingerprint(data_dir)),
        ("figures", ["learning_curves.png", "test_accuracy.png"]),
        ("ablation", None),
    ])
    if args.ablations:
        baseline = collections.OrderedDict(
            (c, [m["test_accuracy"] for m in by_cell[c]]) for c in ("rnn", "lstm") if c in by_cell)
        if len(baseline) < 2:
            raise runner.RunError("--ablations compares against both original cells: "
                                  "keep --cells lstm,rnn")
        rows = ablation.summarize(results, seeds, baseline)
        diagnostics = ablation.diagnostics_summary(args.out, diag_runs)
        report["ablation"] = collections.OrderedDict([
            ("ablations", rows), ("diagnostics", diagnostics),
            ("findings", ablation.explain(rows, diagnostics, chance["accuracy"])),
            ("rules", ablation.rules())])
    text = render(report)  # before writing anything: a failure leaves no half-made report
    plot_curves(by_cell, os.path.join(args.out, "learning_curves.png"))
    plot_test_accuracy(by_cell, chance, os.path.join(args.out, "test_accuracy.png"))
    write_json(os.path.join(args.out, "report.json"), report)
    write_text(os.path.join(args.out, "report.md"), text)
    say("report: wrote %s" % os.path.join(args.out, "report.md"))
    for c in report["claims"]:
        say("  %s: %s" % (c["claim"], c["verdict"]))
    return report


def compare(a, b):
    """Lines comparing two report.json files (e.g. the container's and a local one)."""
    def load(path):
        from tf1_lstm.files import read_json
        if os.path.isdir(path):
            path = os.path.join(path, "report.json")
        return read_json(path)

    ra, rb = load(a), load(b)
    lines = ["%-44s %-22s %-22s" % ("", "A", "B")]

    def row(label, x, y):
        mark = "" if x == y else "   <- differs"
        lines.append("%-44s %-22s %-22s%s" % (label, x, y, mark))

    for key in ("steps", "seeds", "threads"):
        row("settings." + key, ra["settings"][key], rb["settings"][key])
    for ca, cb in zip(ra["claims"], rb["claims"]):
        row(ca["claim"][:44], "%.4f" % ca["measured"]["mean"], "%.4f" % cb["measured"]["mean"])
        row("  verdict", ca["verdict"], cb["verdict"])
    runs_b = {(r["cell"], r["seed"]): r for r in rb["runs"]}
    for r in ra["runs"]:
        other = runs_b.get((r["cell"], r["seed"]))
        row("%s seed %d test accuracy" % (r["cell"], r["seed"]), "%.4f" % r["test_accuracy"],
            "%.4f" % other["test_accuracy"] if other else "-")
    ea, eb = ra["environment"], rb["environment"]
    for key in ("python", "tensorflow", "numpy", "protobuf"):
        row(key, ea["versions"][key], eb["versions"][key])
    row("built with CUDA", ea["cuda"]["built_with_cuda"], eb["cuda"]["built_with_cuda"])
    row("GPUs", len(ea["cuda"]["gpus"]), len(eb["cuda"]["gpus"]))
    row("container image", ea["machine"]["container_image"], eb["machine"]["container_image"])
    row("cpu", (ea["machine"]["cpu"] or "")[:22], (eb["machine"]["cpu"] or "")[:22])
    row("git commit", (ea["git"]["commit"] or "-")[:12], (eb["git"]["commit"] or "-")[:12])
    row("data (IDX SHA-256 prefixes)",
        " ".join(s["idx_sha256"][:3] for s in ea["data_checksums"].values()),
        " ".join(s["idx_sha256"][:3] for s in eb["data_checksums"].values()))
    return lines
