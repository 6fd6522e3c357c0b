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

from tf1_lstm.core import data, hparams, settings, tfcompat
from tf1_lstm.core.cells import FAITHFUL
from tf1_lstm.studies import engine, markdown, plots, sections
from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.tools import bench, verified
from tf1_lstm.studies.verdicts import claims, drift
from tf1_lstm.util import environment, tfenvs
from tf1_lstm.util.files import locked, read_json, write_json, write_text


class ReportOptions(NamedTuple):
    """What `tf1-lstm report` trains and where it writes."""
    out: str                       # report directory (runs/ and logs/ go under it)
    seeds: int = 5                 # seeds 0..N-1 of every configuration
    cells: Tuple[str, ...] = FAITHFUL  # the faithful cells compared
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
                       start) as study_engine:
        if study_engine.address is None:  # embedded: workers use this checkout's environments
            todo = engine.to_train(specs, options.out, study_engine)
            _set_up(sorted({run.env for run in todo if run.env}), say)
        outcome = engine.run_all(specs, options.out, study_engine, options.data_dir,
                                 options.mirrors, say=say)
        throughput = bench.measure_throughput(
            options.out, min(options.steps, 1000), cores, study_engine, options.data_dir,
            options.dataset, say=say) if options.throughput and kind.throughput else None
        described = study_engine.describe() if start else (
            _recorded_engine(options.out) or study_engine.describe())
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
                ("worker_host", outcome.hosts.get(name)),
                ("slurm_job", outcome.jobs.get(name)),  # schema 4's key for any queue's job
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
            ("framework", markdown.one(sorted({framework_of(results[n]) for n in names}))),
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
    text = verified.with_table(out, markdown.render(report))  # its verify records' table
    plots.curves(by_cell, os.path.join(out, "learning_curves.png"))
    plots.test_accuracy(by_cell, report["chance"], os.path.join(out, "test_accuracy.png"))
    for section in sections.SECTIONS:
        if report.get(section.key):
            report["figures"] += section.plot(report[section.key], out)
    write_json(os.path.join(out, "report.json"), report)
    write_text(os.path.join(out, "report.md"), text)
