"""`tf1-lstm report`: many seeded runs of the faithful program, and what they say about the post.

Each (cell, seed) is an ordinary `tf1-lstm train` run in its own process and run directory under
`<out>/runs/`, so any figure in the report can be rerun alone with the command it records, and
an interrupted report, run again with the same --out, trains only what is missing.
"""

import collections
import os
import time
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from tf1_lstm.core import cells, data, hparams, settings, tfcompat
from tf1_lstm.studies import engine, plots, sections
from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.tools import bench
from tf1_lstm.studies.verdicts import claims, drift
from tf1_lstm.util import environment, tfenvs
from tf1_lstm.util.files import locked, read_json, write_json, write_text
from tf1_lstm.util.text import percent


class ReportOptions(NamedTuple):
    """What `tf1-lstm report` trains and where it writes."""
    out: str                       # report directory (runs/ and logs/ go under it)
    seeds: int = 5                 # seeds 0..N-1 of every configuration
    cells: Tuple[str, ...] = cells.FAITHFUL  # the faithful cells compared
    steps: int = hparams.STEPS     # training steps per run
    jobs: Optional[int] = None     # local workers (runs at once); None: one per core
    threads: Optional[int] = None  # TF threads per run; None: cores / jobs (1 on a cluster)
    scheduler: Optional[str] = None  # a Dask scheduler's address; None: a cluster of our own
    cluster: str = "local"         # the kind started without a scheduler (engine.clusters)
    cluster_options: Dict[str, Any] = {}  # {dest: value} of that kind's own flags
    dataset: str = "mnist"         # the data set every run reads (the post's by default)
    repeat: bool = True            # train one seed twice (the determinism check)
    throughput: bool = True        # measure parallel against single-run throughput
    sections: Dict[str, Any] = {}  # {studies.sections key: that section's options} of the
    #                                optional sections to add (never changed in place)
    data_dir: Optional[str] = None  # folder with the IDX files; None: the default
    mirrors: Tuple[str, ...] = ()  # where to fetch missing data first
    tf: Tuple[str, ...] = ()       # TensorFlow environments (util.tfenvs) to train every run in
    #                                and compare, the reference first; (): the workers' own
    init_from: str = settings.OWN_SEEDS  # --init-from of every run (core.settings)


# Figures other blog posts on the same task report: quoted, not measured here.
REFERENCES = (
    ("PyTorch, 1-layer LSTM(28, 128), 10 epochs", "98.07%",
     "blog post \"LSTM使用MNIST手写数字识别实战的代码和心得\""),
    ("PyTorch, LSTM with 64 hidden units", "97% (9726/10000)",
     "blog post \"pytorch利用lstm做mnist手写数字识别分类的实例\""),
    ("PyTorch, 2-layer LSTM, 30 epochs", "99.08%",
     "blog post \"循环神经网络RNN和长短期记忆网络LSTM学习笔记\""),
)


def plan(base, cells, seeds, repeat_seed=True, envs=(None,)):
    """Every faithful run the report needs, from its base spec, in each environment of `envs`
    (None: the workers' own); after the first environment's runs, its first seed again, for
    the determinism check."""
    specs = []
    for i, env in enumerate(envs):
        specs += [engine.named(base, c, s, env=env) for c in cells for s in seeds]
        if repeat_seed and i == 0:
            specs.append(engine.repeated(specs[0]))
    return specs


def reference_first(envs):
    """The environments of a version report, the reference (the faithful default if given,
    else the first) first; (None,) for a report in the workers' own environment."""
    if not envs:
        return (None,)
    ref = tfenvs.DEFAULT if tfenvs.DEFAULT in envs else envs[0]
    return (ref,) + tuple(e for e in envs if e != ref)


# --- statistics ------------------------------------------------------------------------------

def chance_level(data_dir, dataset=None):
    """Share of the most frequent class in the test set: the best a constant guess can do."""
    labels = data.read_idx(data_dir, "t10k-labels-idx1-ubyte", dataset=dataset)
    counts = np.bincount(labels, minlength=hparams.N_OUTPUTS)
    return {"accuracy": float(counts.max() / counts.sum()), "class": int(counts.argmax())}


# --- text -------------------------------------------------------------------------------------

def _image_text(machine):
    if not machine["container_image"]:
        return "none"
    return "%s (built from %s)" % (machine["container_image"], machine.get("container_base"))


def _cpu_id_text(machine):
    """Reports made before it was recorded (the committed ones) say so."""
    cpu_id = machine.get("cpu_id")
    if not cpu_id:
        return "not recorded"
    return "%s; %s; %s" % (cpu_id["family_model_stepping"], cpu_id["caches"] or "caches unknown",
                           cpu_id["simd"] or "none of %s" % "/".join(environment.SIMD_FLAGS))


def render(report):
    """report.md from report.json's data; every figure in it comes from that data."""
    s = report["settings"]
    lines = ["# tf1-lstm reproducibility report", "",
             "Faithful program (%s, Adam(%g), batch %d), "
             "%d steps, seeds %s, cells %s. Generated %s by `%s`." % (
                 " / ".join("%s(%d)" % (cells.get(c).code, hparams.N_NEURONS) for c in s["cells"]),
                 s["lr"], s["batch_size"], s["steps"], ", ".join(map(str, s["seeds"])),
                 ", ".join(s["cells"]), report["generated"], report["command"]), ""]
    for part in (_claims_md, _runs_md, _references_md, _figures_md, _determinism_md,
                 _throughput_md):
        lines += part(report)
    for section in sections.SECTIONS:
        if report.get(section.key):
            lines += section.render(report[section.key])
    return "\n".join(lines + _run_environments_md(report) + _environment_md(report))


def _claims_md(report):
    """The post's claims, each with what was measured and its verdict."""
    lines = ["## Claims of the original post", "",
             "| claim | measured | verdict |", "| --- | --- | --- |"]
    for c in report["claims"]:
        m = c["measured"]
        if "chance" in c:
            measured = "per seed: %s; chance level %s" % (
                ", ".join(percent(a) for a in c["per_seed"]), percent(c["chance"]))
        else:
            ci = ("; 95%% CI %s–%s" % (percent(m["ci95"][0]), percent(m["ci95"][1]))
                  if m["ci95"] else "")
            measured = "mean %s ± %s (std), min–max %s–%s%s over %d seeds" % (
                percent(m["mean"]), percent(m["std"]), percent(m["min"]), percent(m["max"]), ci,
                m["n"])
        verdict = "**%s**" % c["verdict"]
        if "note" in c:
            verdict += " (%s)" % c["note"]
        if "gap_points" in c:
            verdict += " (%.2f points %s the claim)" % (abs(c["gap_points"]),
                                                        "below" if c["gap_points"] > 0 else "above")
        lines.append("| %s | %s | %s |" % (c["claim"], measured, verdict))
    lines += [""] + ["Rule: %s." % c["rule"] for c in report["claims"]] + [""]
    return lines


def _runs_md(report):
    """One row per run, and how to rerun any of them."""
    lines = ["## Runs", "", "| cell | seed | test accuracy | train-batch accuracy at the last "
             "logged step | wall time (s) | steps/s | threads |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["runs"]:
        lines.append("| %s | %d | %s | %s (step %s) | %.0f | %.1f | %s |" % (
            r["cell"], r["seed"], percent(r["test_accuracy"]), percent(r["final_train_accuracy"]),
            r["curve"][-1]["step"] if r["curve"] else "-", r["wall_time"], r["steps_per_sec"],
            r["threads"] or "TF default"))
    lines += ["", "The train-batch accuracy is the post's `train accuracy =` line: the 64 images "
              "just trained on, printed every %d steps." % hparams.LOG_EVERY,
              "", "Rerun any row alone: `%s`." % rerun_command(report["settings"]), ""]
    return lines


def rerun_command(s):
    """The command that trains one row of the runs table again with the report's settings, in
    its TensorFlow environment."""
    values = {"steps": s["steps"], "threads": s["threads"], "dataset": s.get("dataset"),
              "init_from": s.get("init_from")}
    env = s.get("reference_env")
    prefix = "./run --tf %s train" % env if env and env != tfenvs.DEFAULT else "tf1-lstm train"
    return " ".join([prefix, "--cell CELL --seed SEED"] + settings.argv(values, always=("steps",)))


def _references_md(report):
    """Figures other posts report: quoted, not measured."""
    titles = ["\"%s\"" % s.measures_quoted(report[s.key]) for s in sections.SECTIONS
              if s.measures_quoted and report.get(s.key)]
    measured = ("quoted; measured below, in " + ", ".join(titles) if titles
                else "quoted, not measured here")
    lines = ["## Context: other implementations (%s)" % measured, "",
             "| implementation | reported test accuracy | source |", "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % tuple(row) for row in report["references"]] + [""]
    return lines


def _figures_md(report):
    """The two figures every report has."""
    lines = ["## Figures", "", "![learning curves](learning_curves.png)", "",
             "![test accuracy per seed](test_accuracy.png)", ""]
    return lines


def _determinism_md(report):
    """Whether the repeated seed gave the same numbers."""
    lines = []
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
    return lines


def _throughput_md(report):
    """One run on all cores against single-threaded runs side by side."""
    lines = []
    p = report["throughput"]
    if p:
        lines += ["## Parallel runs", "",
                  "On this machine (%d cores, %d-step LSTM runs): one run using all cores made "
                  "%.1f steps/s; %d single-threaded runs at once made %.1f steps/s together, "
                  "%.2f× the throughput." % (p["cores"], p["steps"],
                                             p["one_run_all_threads_steps_per_sec"], p["cores"],
                                             p["parallel_single_thread_steps_per_sec"],
                                             p["ratio"]), ""]
    return lines


def _run_environments_md(report):
    """What the runs ran on, per TensorFlow environment, from the runs' own records."""
    lines = ["## What the runs ran on", "",
             "From each run's own metrics.json: its TensorFlow environment, versions and machine.",
             "", "| environment | runs | Python | TensorFlow (git), or the framework | "
             "NumPy / protobuf | hosts | CPUs | sgemm kernel path |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for env, e in report["run_environments"].items():
        v = collections.defaultdict(lambda: "-", e["versions"])
        framework = e.get("framework", "TensorFlow")
        built = "%s (%s)" % (_one(v["tensorflow"]), _one(v["tensorflow_git"])) \
            if framework == "TensorFlow" else "%s %s" % (framework, _one(v[framework.lower()]))
        lines.append("| %s | %d | %s | %s | %s / %s | %s | %s | %s |" % (
            env, e["runs"], _one(v["python"]), built,
            _one(v["numpy"]), _one(v["protobuf"]), ", ".join(e["hosts"]) or "not recorded",
            "; ".join(e["cpus"]) or "not recorded",
            ", ".join(e.get("kernel_paths") or ["not recorded"])))
    return lines + [""]


def _one(value):
    """A version the runs agree on, or every one they record (a mixed report says so)."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else " or ".join(map(str, value)) + " (mixed)"
    return str(value)


def _environment_md(report):
    """The process that assembled the report: versions, machine, data checksums, packages."""
    lines = []
    e = report["environment"]
    made = e.get("assembled_with") or e["versions"]
    lines += ["## Environment", "", "Of the `tf1-lstm report` process that assembled this report "
              "(its runs: the table above).", "", "| | |", "| --- | --- |"]
    rows = [("Python", made["python"]),
            ("TensorFlow", "%s (%s)" % (made["tensorflow"], made["tensorflow_git"])),
            ("built with CUDA", "%s (CUDA %s, cuDNN %s)" % (
                e["cuda"]["built_with_cuda"], e["cuda"]["cuda_version"],
                e["cuda"]["cudnn_version"])),
            ("GPUs seen", ", ".join(e["cuda"]["gpus"]) or "none"),
            ("NumPy / protobuf", "%s / %s" % (made["numpy"], made["protobuf"])),
            ("OS", e["machine"]["os"]), ("CPU", "%s, %s cores" % (e["machine"]["cpu"],
                                                                  e["machine"]["cores"])),
            ("CPU family/model/stepping, caches, SIMD", _cpu_id_text(e["machine"])),
            ("container image", _image_text(e["machine"])),
            ("git commit", "%s%s" % (e["git"]["commit"], " (dirty)" if e["git"]["dirty"] else "")),
            ("faithful ms/step (mean per cell)", ", ".join(
                "%s %.2f" % (c, v) for c, v in sorted(report["ms_per_step"].items())))]
    lines += ["| %s | %s |" % row for row in rows]
    lines += ["", "Data (SHA-256 of the decompressed IDX bytes):", ""]
    lines += ["- `%s` %s" % (name, sums["idx_sha256"])
              for name, sums in e["data_checksums"].items()]
    lines += ["", "<details><summary>pip freeze of that process's environment (%s)</summary>"
              % (e.get("pip_freeze_of") or "not recorded"), "", "```"] + e["pip_freeze"] + \
        ["```", "", "</details>", ""]
    return lines


def build_report(options, say=print):
    """Run (or reuse) every run, then write figures, report.json and report.md into options.out,
    which no other report may write into meanwhile (it is locked)."""
    busy = ("--out %s is being written by another report, PID %%(pid)s: wait for it to finish, "
            "or stop it (Ctrl-C / kill %%(pid)s) and rerun" % options.out)
    with locked(options.out, busy):
        return _build_report(options, say)


def _build_report(options, say):
    cores = environment.schedulable_cpus() or 1
    jobs = options.jobs or cores
    kind = clusters.get("scheduler" if options.scheduler else options.cluster)
    # on a cluster each worker is one job of one core, wherever the report was submitted from
    threads = options.threads or (1 if kind.one_core_per_worker else max(1, cores // jobs)
                                  if jobs > 1 else None)
    seeds = list(range(options.seeds))
    data_dir = options.data_dir or data.default_data_dir(options.dataset)
    data.ensure_files(data_dir, options.mirrors, options.dataset)
    say("report: writing to %s (rerun with --out %s to resume)" % (options.out, options.out))
    envs = reference_first(options.tf)
    base = engine.RunSpec(name="", steps=options.steps, threads=threads,
                          init_from=options.init_from, dataset=options.dataset)
    specs = plan(base, options.cells, seeds, options.repeat, envs)
    asked = sections.asked(options)
    for section, asked_for in asked:
        specs += section.plan(base, asked_for, options)
    # a finished report is assembled without asking a queue for jobs
    start = not kind.asks_for_jobs or engine.unfinished(specs, options.out)
    logs = os.path.join(options.out, "logs", kind.log_folder) if kind.log_folder else None
    with engine.Engine(options.scheduler, jobs, options.cluster, logs, options.cluster_options,
                       start) as cluster:
        if cluster.address is None:  # embedded: its workers use this checkout's environments
            todo = engine.to_train(specs, options.out, cluster)
            _set_up(sorted({run.env for run in todo if run.env}), say)
        outcome = engine.run_all(specs, options.out, cluster, options.data_dir, options.mirrors,
                                 say=say)
        throughput = bench.measure_throughput(
            options.out, min(options.steps, 1000), cores, cluster, options.data_dir,
            options.dataset, say=say) if options.throughput and kind.throughput else None
        described = cluster.describe() if start else (
            _recorded_engine(options.out) or cluster.describe())
    finished = sections.Finished(options.out, base, seeds, tuple(options.cells), envs,
                                 outcome.metrics, chance_level(data_dir, options.dataset),
                                 options.data_dir)
    report = assemble(options, finished, jobs, data_dir, outcome)
    report.update(determinism=drift.determinism(outcome.metrics, specs), throughput=throughput,
                  engine=described)
    for section, asked_for in asked:
        report[section.key] = section.summarise(finished, asked_for)
    write(report, finished.faithful(), options.out)
    say("report: wrote %s" % os.path.join(options.out, "report.md"))
    for c in report["claims"]:
        say("  %s: %s" % (c["claim"], c["verdict"]))
    return report


def _recorded_engine(out):
    """The engine block of the report already in `out` (the cluster that trained its runs)."""
    try:
        found = read_json(os.path.join(out, "report.json")).get("engine")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, dict) else None


def _set_up(envs, say):
    """Each environment ready here (set up once by ./run), or tfenvs.EnvError saying why not."""
    for env in envs:
        tfenvs.set_up(env, say)


def assemble(options, finished, jobs, data_dir, outcome):
    """report.json's contents from the faithful runs in the reference environment (the
    sections' keys set to None, filled in later)."""
    by_cell = finished.faithful()
    runs = []
    for c in options.cells:
        for s, m in zip(finished.seeds, by_cell[c]):
            name = engine.named(finished.base, c, s, env=finished.envs[0]).name
            runs.append(collections.OrderedDict([
                ("cell", c), ("seed", s), ("environment", engine.trained_in({}, m)),
                ("test_accuracy", m["test_accuracy"]),
                ("final_train_accuracy", m["final_train_accuracy"]), ("wall_time", m["wall_time"]),
                ("steps_per_sec", m["steps_per_sec"]), ("ms_per_step", m["ms_per_step"]),
                ("threads", finished.base.threads), ("run_dir", os.path.join("runs", name)),
                ("worker_host", outcome.hosts.get(name)), ("slurm_job", outcome.jobs.get(name)),
                ("fingerprint", m.get("fingerprint")), ("seal", finished.seal(name)),
                ("curve", m["curve"])]))
    return collections.OrderedDict([
        ("schema", 4),
        ("generated", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("command", environment.machine()["command"]),
        ("settings", collections.OrderedDict([
            ("dataset", options.dataset), ("cells", list(options.cells)),
            ("seeds", finished.seeds), ("steps", options.steps),
            ("batch_size", finished.base.batch_size), ("lr", finished.base.lr),
            ("jobs", jobs), ("threads", finished.base.threads), ("tf", list(options.tf)),
            ("reference_env", finished.envs[0]), ("init_from", options.init_from)])),
        ("claims", claims.claims(by_cell, finished.chance, options.steps)),
        ("chance", finished.chance),
        ("runs", runs),
        ("references", [list(r) for r in REFERENCES]),
        ("determinism", None),
        ("throughput", None),
        ("ms_per_step", {c: float(np.mean([m["ms_per_step"] for m in by_cell[c]]))
                         for c in options.cells}),
        ("run_environments", run_environments(finished.results, outcome.hosts)),
        ("environment", _environment(by_cell, data_dir, options.dataset)),
        ("figures", ["learning_curves.png", "test_accuracy.png"]),
        ("engine", None),
    ] + [(key, None) for key in sections.KEYS])


VERSION_KEYS = ("python", "tensorflow", "tensorflow_git", "numpy", "protobuf")


def versions_of(runs):
    """{package: version} the runs' metrics.json record (TensorFlow's first, then any other
    framework's: a sister post's PyTorch or Keras); a list where they disagree."""
    recorded = [m.get("versions") or {} for m in runs]
    keys = list(VERSION_KEYS) + sorted({k for v in recorded for k in v} - set(VERSION_KEYS))
    found = collections.OrderedDict((k, sorted({str(v.get(k)) for v in recorded}))
                                    for k in keys if any(k in v for v in recorded))
    return collections.OrderedDict((k, v[0] if len(v) == 1 else v) for k, v in found.items())


def framework_of(metrics):
    """The framework a run trained in: a sister post's names its own, the rest TensorFlow."""
    return (metrics.get("fingerprint") or {}).get("framework") or "TensorFlow"


def run_environments(results, hosts):
    """{TensorFlow environment: runs, versions, hosts and CPUs} of every run ({name: metrics};
    hosts: {name: host}), from the runs' own records: what the figures came from, not this
    process's environment."""
    by_env = collections.OrderedDict()
    for name, m in results.items():
        by_env.setdefault(engine.trained_in({}, m) or "not recorded", []).append(name)

    def cpu(m):
        machine = m.get("machine") or {}
        return "%s (%s)" % (machine.get("cpu"), (machine.get("cpu_id") or {}).get(
            "family_model_stepping", "?"))

    return collections.OrderedDict(
        (env, collections.OrderedDict([
            ("runs", len(names)),
            ("framework", _one(sorted({framework_of(results[n]) for n in names}))),
            ("versions", versions_of([results[n] for n in names])),
            ("hosts", sorted({hosts[n] for n in names if hosts.get(n)})),
            ("cpus", sorted({cpu(results[n]) for n in names})),
            ("kernel_paths", sorted({"%s (%d runs)" % (path, n) for path, n in collections.Counter(
                (results[n].get("fingerprint") or {}).get("kernel_path") or "not recorded"
                for n in names).items()}))]))
        for env, names in by_env.items())


def _environment(by_cell, data_dir, dataset):
    """report.json's `environment`: `versions` are the faithful runs' own; `assembled_with`,
    the machine, packages and data are this process's."""
    record = environment.block(data.checksums(data_dir, dataset), tfcompat.cuda())
    record["assembled_with"] = record["versions"]
    record["versions"] = versions_of([m for runs in by_cell.values() for m in runs])
    record["pip_freeze_of"] = tfenvs.own()
    return record


def write(report, by_cell, out):
    """Figures, report.json and report.md, each atomically; the text is made first, so a
    failure leaves no half-made report."""
    text = render(report)
    plots.curves(by_cell, os.path.join(out, "learning_curves.png"))
    plots.test_accuracy(by_cell, report["chance"], os.path.join(out, "test_accuracy.png"))
    for section in sections.SECTIONS:
        if report.get(section.key):
            report["figures"] += section.plot(report[section.key], out)
    write_json(os.path.join(out, "report.json"), report)
    write_text(os.path.join(out, "report.md"), text)
