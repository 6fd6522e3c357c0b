"""`tf1-lstm verify REPORT`: does this machine give a report's numbers, and if not, why?

A sample of the report's runs is trained again here, by default for a short prefix, with the
settings and in the TensorFlow environment each recorded; every printed value is compared bit
for bit. Where a run parts, the fingerprints (core.fingerprint) say whether that was expected
(a recorded factor differs, each named) or is not explained by anything recorded.
"""

import collections
import os
from typing import NamedTuple, Optional, Tuple

from tf1_lstm.core import fingerprint, hparams, records, settings
from tf1_lstm.studies import drift, engine, stats
from tf1_lstm.util import scratch, tfenvs
from tf1_lstm.util.files import read_json, remove_quietly

IDENTICAL, DIFFERS = "identical", "differs"
EXPECTED = "expected"
UNEXPLAINED = "not explained by anything recorded"
CANNOT_TELL = "cannot tell"
RULE = ("a run is identical if every value it printed (train accuracy and loss at each logged "
        "step up to the verified step, and with --full the test accuracy) equals the record bit "
        "for bit; a difference is %s where a recorded factor of the fingerprints differs, %s "
        "where every factor was recorded on both sides and is equal, and %s where a factor "
        "was not recorded" % (EXPECTED, UNEXPLAINED, CANNOT_TELL))


class VerifyOptions(NamedTuple):
    """What `tf1-lstm verify` checks."""
    report: str                  # the report's folder (report.json and runs/ in it)
    runs: int = 4                # runs to train again, taken across the cells in seed order
    steps: int = 2 * hparams.LOG_EVERY + 1  # steps of each (3 logged points); ignored by full
    full: bool = False           # train whole runs and compare test accuracy too
    set_up: bool = False         # also verify runs of environments not set up here (set up)
    data_dir: Optional[str] = None  # where this machine keeps the data (None: the default)
    mirrors: Tuple[str, ...] = ()   # where to fetch missing data first
    jobs: Optional[int] = None   # runs at once (None: one per core)


class Recorded(NamedTuple):
    """One run of the report: its spec to train again and its records."""
    spec: engine.RunSpec
    config: dict
    metrics: dict


def recorded_runs(report_dir):
    """Every faithful run of the report (the reference environment's), in the report's order,
    interleaved across cells so that a sample holds each cell; ValueError (one line) where the
    folder is not a report."""
    path = os.path.join(report_dir, "report.json")
    if not os.path.isfile(path):
        raise ValueError("%s has no report.json: pass a folder `tf1-lstm report` wrote"
                         % report_dir)
    report = read_json(path)
    by_cell = collections.OrderedDict()
    for row in report["runs"]:
        by_cell.setdefault(row["cell"], []).append(row)
    rows = [r for group in zip(*by_cell.values()) for r in group]
    found = []
    for row in rows:
        run_dir = os.path.join(report_dir, row["run_dir"])
        try:
            config, metrics = records.read_run_config(run_dir), records.read_metrics(run_dir)
        except records.RecordError as err:
            raise ValueError("%s: verify reads each run's records" % err)
        values = {s.name: config.get(s.name, s.default) for s in settings.numbers()}
        values["test_at"] = tuple(values["test_at"] or ())
        env = engine.trained_in(config, metrics)
        found.append(Recorded(engine.RunSpec(name=os.path.basename(row["run_dir"]),
                                             env=env, **values), config, metrics))
    return report, found


def sample(found, options, say):
    """The runs to train again: the first `runs` whose environment is ready here (or all of
    them, setting environments up, with set_up)."""
    chosen, left_out = [], collections.OrderedDict()
    for run in found:
        if len(chosen) == options.runs:
            break
        env = run.spec.env
        if env and env != tfenvs.own() and not options.set_up:
            try:
                tfenvs.ready(env)
            except ValueError:
                left_out.setdefault(env, []).append(run.spec.name)
                continue
        chosen.append(run)
    for env, names in left_out.items():
        say("verify: left out %s (TensorFlow environment %s is not set up here: `./run setup "
            "--tf %s`, or verify --set-up)" % (", ".join(names), env, env))
    return chosen


def parting(recorded, measured, steps, full):
    """None if the measured run printed the recorded values up to `steps`; else (step, what,
    recorded value, measured value) at the first that differs."""
    mine = {p["step"]: p for p in measured["curve"]}
    for point in recorded["curve"]:
        if point["step"] >= steps:
            break
        other = mine.get(point["step"])
        if other is None:
            return point["step"], "logged point", "present", "absent"
        for key in drift.PRINTED:
            if repr(point[key]) != repr(other[key]):
                return point["step"], key, point[key], other[key]
    if full and repr(recorded["test_accuracy"]) != repr(measured["test_accuracy"]):
        return recorded["steps_done"], "test_accuracy", recorded["test_accuracy"], \
            measured["test_accuracy"]
    return None


def older_fingerprint(metrics, config):
    """What a run made before fingerprints were recorded still tells: its TF, Python and NumPy
    versions, its threads and its CPU model as /proc/cpuinfo named it (where it was recorded)."""
    versions = metrics.get("versions") or {}
    machine = metrics.get("machine") or {}
    cpu_id = machine.get("cpu_id") or {}
    found = {k: versions[k] for k in ("tensorflow", "tensorflow_git", "python", "numpy")
             if versions.get(k)}
    threads = config.get("threads") or machine.get("cores")
    if threads:
        found["intra_op_threads"] = found["inter_op_threads"] = threads
    if cpu_id.get("family_model_stepping") and "?" not in cpu_id["family_model_stepping"]:
        found["family_model_stepping"] = cpu_id["family_model_stepping"]
    return found


def explain(recorded_fp, measured_fp, older, sides=("recorded", "here")):
    """(verdict, one line) for a run that parted: which recorded factors differ; `sides` name
    the two fingerprints."""
    diffs = fingerprint.differences(recorded_fp, measured_fp)
    if diffs:
        return EXPECTED, "; ".join("%s: %s %s, %s %s" % (name, a, sides[0], b, sides[1])
                                   for name, a, b in diffs)
    missing = fingerprint.unknown(recorded_fp, measured_fp)
    if missing:
        return CANNOT_TELL, "equal in what both record; not recorded%s: %s" % (
            " (a run made before fingerprints)" if older else "", ", ".join(missing))
    return UNEXPLAINED, ("every recorded factor is equal: a reproducibility defect; report it "
                         "with both runs' metrics.json and `pip freeze`")


def as_a_whole(chosen, measured):
    """With --full: per cell, the retrained runs against the recorded ones by drift.RULE."""
    lines = []
    for cell in sorted({run.spec.cell for run in chosen}):
        pairs = [(run.metrics, mine) for run, mine in zip(chosen, measured)
                 if run.spec.cell == cell]
        recorded, here = [p[0] for p in pairs], [p[1] for p in pairs]
        bits = drift.bitwise(recorded, here)
        interval = stats.welch([m["test_accuracy"] for m in recorded],
                               [m["test_accuracy"] for m in here])
        lines.append("%s as a whole (here - recorded): %s; %s" % (
            cell, drift.verdict(bits["identical"], interval), drift.interval_text(interval)))
    return lines + ["rule: " + drift.RULE]


def verify(options, say=print):
    """Train the sample again and compare; (exit status, lines): 0 all identical, 1 not."""
    report, found = recorded_runs(options.report)
    chosen = sample(found, options, say)
    if not chosen:
        raise ValueError("no run of %s can be trained here: set up its TensorFlow environment "
                         "or pass --set-up" % options.report)
    specs = [r.spec._replace(steps=r.spec.steps if options.full else
                             min(options.steps, r.spec.steps)) for r in chosen]
    say("verify: training %d of the report's %d runs again, %s" % (
        len(specs), len(found), "whole" if options.full else "the first %d steps" % specs[0].steps))
    where = scratch.make("verify")
    try:
        for env in sorted({s.env for s in specs if s.env and s.env != tfenvs.own()}):
            tfenvs.set_up(env, say)
        with engine.Engine(None, options.jobs) as cluster:
            specs = [s._replace(env=None) if s.env == tfenvs.own() else s for s in specs]
            measured = engine.run_all(specs, where, cluster, options.data_dir, options.mirrors,
                                      say=lambda line: None).metrics
    finally:
        remove_quietly(where)
    return judge(chosen, [measured[s.name] for s in specs], specs, options.full)


def judge(chosen, measured, specs, full):
    """(exit status, lines) from the recorded and measured runs."""
    lines, verdicts = [], collections.Counter()
    width = max(len(run.spec.name) for run in chosen) + 2
    for run, mine, spec in zip(chosen, measured, specs):
        parted = parting(run.metrics, mine, spec.steps, full)
        points = len([p for p in run.metrics["curve"] if p["step"] < spec.steps])
        if parted is None:
            lines.append("%-*s %s (%d logged points%s)" % (
                width, run.spec.name, IDENTICAL, points, " and test accuracy" if full else ""))
            verdicts[IDENTICAL] += 1
            continue
        older = "fingerprint" not in run.metrics
        recorded_fp = run.metrics.get("fingerprint") or older_fingerprint(run.metrics,
                                                                          run.config)
        verdict, why = explain(recorded_fp, mine.get("fingerprint") or {}, older)
        verdicts["%s, %s" % (DIFFERS, verdict)] += 1
        lines.append("%-*s %s at step %d: %s %r recorded, %r here -- %s: %s" % (
            (width, run.spec.name, DIFFERS) + parted + (verdict, why)))
    if full:
        lines += as_a_whole(chosen, measured)
    here = measured[0].get("fingerprint") or {}
    lines.append("this machine: %s (%s, family/model/stepping %s), %s, %s intra-op threads, "
                 "TensorFlow %s (%s)" % tuple(here.get(k) for k in (
                     "cpu_brand", "cpu_vendor", "family_model_stepping", "kernel_path",
                     "intra_op_threads", "tensorflow", "tensorflow_git")))
    lines.append("verdict: %s" % "; ".join("%d %s" % (n, v) for v, n in sorted(verdicts.items())))
    lines.append("rule: " + RULE)
    return (0 if set(verdicts) == {IDENTICAL} else 1), lines
