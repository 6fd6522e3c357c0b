"""`tf1-lstm verify REPORT`: does this machine give a report's numbers, and if not, why?

A sample of the report's runs is trained again here, by default for a short prefix, with the
settings and in the TensorFlow environment each recorded; every printed value is compared bit
for bit, and counted: "identical" needs every value this machine printed to be on record and
equal. Where a run parts, studies.verdicts.causes says why (settings, then the fingerprints'
factors).
The report's own figures are checked against its run folders first.
"""

import collections
import itertools
import os
from typing import NamedTuple, Optional, Tuple

from tf1_lstm.core import hparams, records, settings
from tf1_lstm.posts import recipe as recipes
from tf1_lstm.studies import engine
from tf1_lstm.studies.tools import compare, verified
from tf1_lstm.studies.verdicts import causes, drift, stats
from tf1_lstm.util import present, scratch, tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import remove_quietly

IDENTICAL, DIFFERS = "identical", "differs"
UNFINISHED = "not verifiable: the record is of an unfinished run"
INCOMPLETE = "not verified: the record holds fewer logged points than this run printed"
DISAGREES = "report.json disagrees with its run folder"
NOT_BELIEVED = records.NOT_BELIEVED
RULE = ("a run is judged only if its records are as it left them (its seal, its records "
        "against each other, report.json's seal of it), else it is not believed and counted "
        "apart; it is identical only if the record holds every value this machine printed up to "
        "the verified step (train accuracy and loss at each logged step, a sister post's at "
        "each epoch, and with --full the "
        "test accuracy, also against report.json's) and each equals it bit for bit; a record "
        "with fewer of them, or of an unfinished run, is not verified; a report.json whose "
        "figures differ from its run folders' fails; a difference is explained by this rule: "
        + causes.RULE)


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
    present_caches: bool = False  # train under the cache sizes the runs recorded (util.present)
    record: bool = True          # keep a verification record in the report (studies.tools.
    #                              verified) where its folder is writable here


class Recorded(NamedTuple):
    """One run of the report: its spec to train again, its records and its report.json row."""
    spec: engine.RunSpec
    config: dict
    metrics: dict
    row: dict
    doubt: Optional[str] = None  # why its records are not believed (None: they are)


class VerifyError(ToolError):
    """A report this machine cannot verify (as asked); the line says why and what to do."""


def recorded_runs(report_dir):
    """Every run of the report in the report's order, interleaved across cells so that a
    sample holds each cell (none left out where the cells hold unequal numbers); VerifyError,
    ReportError or RecordError (one line) where the folder is not a report."""
    path = os.path.join(report_dir, "report.json")
    if not os.path.isfile(path):
        raise VerifyError("cannot verify %s: it has no report.json; pass a folder "
                          "`tf1-lstm report` wrote" % report_dir)
    report = compare.load_report(path)
    if not report["runs"]:
        raise VerifyError("%s lists no runs: there is nothing to verify; pass a report whose "
                          "runs finished" % path)
    found = []
    for row in interleaved(report["runs"] + compare.section_rows(report)):
        if not isinstance(row.get("run_dir"), str):
            raise VerifyError("%s: a run of %s seed %s has no run_dir: was it edited? Restore "
                              "the original" % (path, row["cell"], row["seed"]))
        run_dir = os.path.join(report_dir, row["run_dir"])
        config, metrics = records.read_run_config(run_dir), records.read_metrics(run_dir)
        spec = settings.from_record(config, engine.RunSpec, settings.numbers(),
                                    name=os.path.basename(row["run_dir"]),
                                    env=engine.trained_in(config, metrics))
        if isinstance(config.get("post"), dict):  # a sister post's run: its command, options
            spec = spec._replace(command="post", options=tuple(sorted(
                config["post"].items(), key=lambda kv: kv[0] != "post")))
        if "curve" not in row:  # a section's run: report.json keeps its accuracy only
            row = dict(row, curve=metrics["curve"])
        found.append(Recorded(spec, config, metrics, row,
                              compare.doubt(run_dir, config, metrics, row)))
    return report, found


def interleaved(rows):
    """The rows taken a cell at a time (lstm 0, rnn 0, lstm 1, ...), every one of them."""
    by_cell = collections.OrderedDict()
    for row in rows:
        by_cell.setdefault(row["cell"], []).append(row)
    return [r for group in itertools.zip_longest(*by_cell.values()) for r in group if r]


def disagreements(found):
    """[(run, line)] naming each figure report.json gives for a run that its run folder does not
    hold (test accuracy, or a printed value of the curve): a report edited after it was made."""
    found_lines = []
    for run in found:
        mine = os.path.join(run.row["run_dir"], "metrics.json")
        if repr(run.row["test_accuracy"]) != repr(run.metrics.get("test_accuracy")):
            found_lines.append((run.spec.name, "%s: %s: test accuracy %r in report.json, %r in %s"
                                % (run.spec.name, DISAGREES, run.row["test_accuracy"],
                                   run.metrics.get("test_accuracy"), mine)))
        parted = parting(run.metrics, {"curve": run.row["curve"]}, float("inf"), False)
        if parted is not None or len(run.row["curve"]) != len(run.metrics["curve"]):
            step, what, a, b = parted or (None, "logged points", len(run.metrics["curve"]),
                                          len(run.row["curve"]))
            found_lines.append((run.spec.name, "%s: %s: %s%s %r in report.json, %r in %s" % (
                run.spec.name, DISAGREES, what, "" if step is None else " at step %d" % step,
                b, a, mine)))
    return found_lines


def finished(run):
    return run.metrics["status"] == records.COMPLETE and run.metrics["test_accuracy"] is not None


def sample(found, options, say):
    """(the runs to train again: the first `runs` finished ones whose environment is ready
    here, or all of them with set_up; the unfinished ones met on the way)."""
    chosen, unfinished, left_out = [], [], collections.OrderedDict()
    for run in found:
        if len(chosen) == options.runs:
            break
        if not finished(run):
            unfinished.append(run)
            continue
        env = run.spec.env
        if env and env != tfenvs.own() and not options.set_up:
            try:
                tfenvs.ready(env)
            except tfenvs.EnvError:
                left_out.setdefault(env, []).append(run.spec.name)
                continue
        chosen.append(run)
    if not chosen and not unfinished:
        raise VerifyError("no run of %s can be trained here: %s" % (
            options.report, "; ".join(not_here(env) for env in left_out)))
    for env, names in left_out.items():
        say("verify: left out %s (%s)" % (", ".join(names), not_here(env)))
    return chosen, unfinished


def not_here(env):
    """Why a run of `env` is not trained here, and the fix."""
    if env not in tfenvs.known():
        return tfenvs.missing(env)
    return ("TensorFlow environment %s is not set up here: `./run setup --tf %s`, or verify "
            "--set-up" % (env, env))


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


def as_a_whole(chosen, measured):
    """With --full: per cell, the retrained runs against the recorded ones by drift.RULE."""
    lines = []
    for cell in sorted({group(run) for run in chosen}):
        pairs = [(run.metrics, mine) for run, mine in zip(chosen, measured)
                 if group(run) == cell]
        recorded, here = [p[0] for p in pairs], [p[1] for p in pairs]
        bits = drift.bitwise(recorded, here)
        interval = stats.welch([m["test_accuracy"] for m in recorded],
                               [m["test_accuracy"] for m in here])
        lines.append("%s as a whole (here - recorded): %s; %s" % (
            cell, drift.verdict(bits["identical"], interval), drift.interval_text(interval)))
    return lines + ["rule: " + drift.RULE]


def group(run):
    """The report's group a run belongs to: its cell, or a sister post's (post000, ...)."""
    return run.row.get("cell") or run.spec.cell


def verify(options, say=print):
    """Check the report against its run folders, train the sample again and compare; (exit
    status, lines): 0 only where every sampled run is identical and the report agrees."""
    _, found = recorded_runs(options.report)
    apart = [run for run in found if run.doubt]
    found = [run for run in found if not run.doubt]
    unsealed = [run for run in found if records.seal_of(
        os.path.join(options.report, run.row["run_dir"])) == records.UNSEALED]
    if unsealed:
        say("verify: %d of the report's runs are %s (made before runs were sealed): their "
            "records are read as written" % (len(unsealed), records.UNSEALED))
    disagree = disagreements(found)
    chosen, unfinished = sample(found, options, say) if found else ([], [])
    specs = [prefix(r.spec, options) for r in chosen]
    say("verify: training %d of the report's %d runs again, %s" % (
        len(specs), len(found) + len(apart), "whole" if options.full else "the first %d steps%s"
        % (max([s.steps for s in specs if s.command != "post"] or [options.steps]),
           " (a sister post's run: its first epoch)" if any(
               s.command == "post" for s in specs) else "")))
    sizes = presented_sizes(chosen) if options.present_caches else None
    if sizes:
        say("verify: presenting the recorded cache sizes to CPUID (%s): the sizes are made "
            "equal, not the recorded CPU's approximate instructions" % ", ".join(
                "%s %d KiB" % (level, sizes[level]) for level in present.LEVELS
                if sizes.get(level)))
    measured, configs = _train(specs, options, sizes)
    lines, verdicts = judge(chosen, measured, configs, specs, options.full)
    for run in unfinished:
        lines.append("%s %s (%s at step %d of %d)" % (run.spec.name, UNFINISHED,
                                                      run.metrics["status"],
                                                      run.metrics["steps_done"], run.spec.steps))
        verdicts[run.spec.name] = UNFINISHED
    for name, line in disagree:  # a run whose report.json row is not its record: identical
        lines.append(line)       # or differing here, the report is not what its runs say
        if verdicts.get(name, IDENTICAL).startswith((IDENTICAL, DIFFERS)):
            verdicts[name] = DISAGREES
    for run in apart:
        lines.append("%s %s: %s" % (run.spec.name, NOT_BELIEVED, run.doubt))
        verdicts[run.spec.name] = NOT_BELIEVED
    each = verdicts
    verdicts = collections.Counter(verdicts.values())
    tf_runs = [m for m in measured if not (m.get("fingerprint") or {}).get("framework")]
    if tf_runs:
        lines.append(this_machine(tf_runs[0].get("fingerprint") or {}))
    overall = "; ".join("%d %s" % (n, v) for v, n in sorted(verdicts.items()))
    identical = set(verdicts) == {IDENTICAL}
    if options.record and measured:
        here = (tf_runs or measured)[0].get("fingerprint") or {}  # a TF run's, where one ran
        lines.append(_kept(options, here, chosen, measured, each,
                           IDENTICAL if identical else overall))
    lines += ["verdict: %s" % overall, "rule: " + RULE]
    return (0 if identical else 1), lines


def _kept(options, here, chosen, measured, each, overall):
    """The line saying where this verify's record (this machine's fingerprint `here`) was kept
    (studies.tools.verified), or why it was not."""
    trained = [(run.spec.name, m.get("steps_done"), each.get(run.spec.name))
               for run, m in zip(chosen, measured)]
    new = verified.record(here, None if options.full else options.steps, trained, overall,
                          RULE)
    why = verified.keep(options.report, new)
    return "verify: %s" % (why or "recorded in %s and report.md's \"Verified on\"" % os.path.join(
        options.report, verified.FOLDER))


def plan(report_dir):
    """`verify --plan`: what this machine should find, from the report's verification records
    and the classes its runs were made on, without training; one line."""
    from tf1_lstm.core import fingerprint
    report, found = recorded_runs(report_dir)
    made_on = []
    for run in found:
        recorded = run.metrics.get("fingerprint") or {}
        if recorded.get("kernel_path") and verified.machine_class(recorded) not in made_on:
            made_on.append(verified.machine_class(recorded))
    here = fingerprint.of_this_process(report["settings"].get("threads"))
    return verified.expect(report_dir, here, made_on)


def prefix(spec, options):
    """The part of a recorded run trained again: whole with --full, else its first
    options.steps steps (a sister post's run: its first epoch)."""
    if options.full:
        return spec
    if spec.command == "post":
        return spec._replace(options=tuple((k, first_epoch(spec) if k in ("epochs", "steps")
                                            else v) for k, v in spec.options))
    return spec._replace(steps=min(options.steps, spec.steps))


def first_epoch(spec):
    """A post's run cut to its first epoch: 1 epoch, or the twin's steps in one (its options
    give its length in steps)."""
    found = dict(spec.options)
    if "steps" not in found:
        return 1
    return min(found["steps"], recipes.batches_per_epoch(recipes.from_options(found)))


def compared_below(spec, recorded):
    """The steps below which values are compared: a post's prefix ends after its first epoch."""
    if spec.command == "post":
        options = dict(spec.options)
        if "steps" in options:  # the twin: its length in steps
            return options["steps"] + 1
        done = [p["step"] for p in recorded["curve"] if p.get("epoch", 0) <= options["epochs"]]
        return (max(done) + 1) if done else 0
    return spec.steps


def presented_sizes(chosen):
    """{"L1d": KiB, ...} the sampled runs recorded, to present to CPUID; VerifyError (one line)
    where that cannot be done here, a run recorded none, or the runs recorded different ones."""
    why = present.unavailable()
    if why:
        raise VerifyError(why)
    found = {}
    for run in chosen:
        factors = causes.recorded_factors(run.metrics)
        sizes = {level: factors.get(level.lower() + "_kib") for level in present.LEVELS}
        if not sizes["L1d"]:
            raise VerifyError("%s records no cache sizes (a run made before they were "
                              "recorded): verify without --present-caches" % run.spec.name)
        found[present.text(sizes)] = sizes
    if len(found) > 1:
        raise VerifyError("the sampled runs recorded different cache sizes (%s): verify them "
                          "apart" % "; ".join(sorted(found)))
    return next(iter(found.values()), None)


def _train(specs, options, sizes=None):
    """([metrics], [config]) of each spec trained here, in a scratch folder then removed;
    under `sizes` presented to CPUID where given."""
    if not specs:
        return [], []
    where = scratch.make("verify")
    before = dict(os.environ)
    try:
        if sizes:  # the cluster's workers and their trainings inherit these
            os.environ.update(present.environ(present.build(where), sizes))
        for env in sorted({s.env for s in specs if s.env and s.env != tfenvs.own()}):
            tfenvs.set_up(env, lambda line: None)
        with engine.Engine(None, options.jobs) as study_engine:
            specs = [s._replace(env=None) if s.env == tfenvs.own() else s for s in specs]
            metrics = engine.run_all(specs, where, study_engine, options.data_dir,
                                     options.mirrors, say=lambda line: None).metrics
        configs = [records.read_run_config(os.path.join(where, "runs", s.name)) for s in specs]
        return [metrics[s.name] for s in specs], configs
    finally:
        os.environ.clear()
        os.environ.update(before)
        remove_quietly(where)


def judge(chosen, measured, configs, specs, full):
    """(lines, {run: verdict}) from the recorded and measured runs, one line each."""
    lines, verdicts = [], collections.OrderedDict()
    width = max([len(run.spec.name) for run in chosen] or [0]) + 2
    for run, mine, config, spec in zip(chosen, measured, configs, specs):
        verdict, line = judged(run, mine, config, compared_below(spec, run.metrics), full)
        verdicts[run.spec.name] = verdict
        lines.append("%-*s %s" % (width, run.spec.name, line))
    if full and chosen:
        lines += as_a_whole(chosen, measured)
    return lines, verdicts


def judged(run, mine, config, steps, full):
    """(verdict, line) for one run: identical with the count of values compared, differs
    with its cause, or not verified where the record lacks values this run printed."""
    parted = parting(run.metrics, mine, steps, full)
    if parted is not None:
        here = causes.setting_values(config)
        recorded = causes.setting_values(run.config)
        if not full:  # a prefix: the steps trained after it cannot change it
            here["steps"] = recorded["steps"]
        verdict, why = causes.account(recorded, here, causes.recorded_factors(
            run.metrics, run.config.get("threads")), causes.recorded_factors(mine))
        return "%s, %s" % (DIFFERS, verdict), "%s at step %d: %s %r recorded, %r here -- %s: %s" \
            % ((DIFFERS,) + parted + (verdict, why))
    printed = [p for p in mine["curve"] if p["step"] < steps]
    held = [p for p in run.metrics["curve"] if p["step"] < steps]
    if len(held) < len(printed) or not printed:
        return INCOMPLETE, "%s (%d of the %d logged points printed here below step %d)" % (
            INCOMPLETE, len(held), len(printed), steps)
    values = len(drift.PRINTED) * len(printed) + (1 if full else 0)
    compared = "%d values compared: %d logged points%s" % (
        values, len(printed), " and test accuracy" if full else "")
    in_report = dict(run.row, steps_done=run.metrics["steps_done"])
    apart = full and parting(in_report, mine, steps, full)
    if apart:  # the run folder's figures reproduce, report.json's do not
        return DISAGREES, "%s: the run folder is identical here (%s); report.json's %s at " \
            "step %d is %r, here %r" % ((DISAGREES, compared) + apart[1:2] + apart[:1] +
                                        apart[2:])
    return IDENTICAL, "%s (%s%s)" % (IDENTICAL, compared,
                                     ", also against report.json" if full else "")


def this_machine(here):
    presented = " as presented" if here.get("cpuid_presented") else ""
    return ("this machine: %s (%s, family/model/stepping %s, L1d %s KiB, L2 %s KiB%s), %s, %s "
            "intra-op threads, TensorFlow %s (%s)" % (
                here.get("cpu_brand"), here.get("cpu_vendor"), here.get("family_model_stepping"),
                here.get("l1d_kib"), here.get("l2_kib"), presented, here.get("kernel_path"),
                here.get("intra_op_threads"), here.get("tensorflow"), here.get("tensorflow_git")))
