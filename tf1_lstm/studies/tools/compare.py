"""`tf1-lstm compare`: two reports side by side (container and local, two machines, two data
sets, two TensorFlows), each row marked where they differ, every verdict by its printed rule."""

import collections
import os

from tf1_lstm.core import records
from tf1_lstm.studies import sections
from tf1_lstm.studies.tools import verified
from tf1_lstm.studies.verdicts import causes, drift, stats
from tf1_lstm.util import cpuid, tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import NotARegularFile, read_json

REPORT_KEYS = ("settings", "claims", "runs", "environment")
ABSENT = "absent"  # a claim, run or environment one side does not have
NOT_BELIEVED = records.NOT_BELIEVED

# Every field of a run and a claim compare reads, and what tf1-lstm writes there (a run's
# curve as in its metrics.json).
RUN_CHECKS = (("cell", lambda v: isinstance(v, str) and v != ""),
              ("seed", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
              ("test_accuracy", records.is_fraction),
              ("curve", dict(records.METRICS_CHECKS)["curve"]))
CLAIM_CHECKS = (("claim", lambda v: isinstance(v, str) and v != ""),
                ("measured", lambda v: isinstance(v, dict) and records.is_fraction(v.get("mean"))),
                ("verdict", lambda v: isinstance(v, str)))


class ReportError(ToolError):
    """What is not a report.json tf1-lstm wrote: the file, and the field where one is bad."""


def _checked(items, checks, what, path):
    for i, item in enumerate(items):
        for key, ok in checks:
            value = item.get(key) if isinstance(item, dict) else None
            if not ok(value):
                shown = repr(value)
                raise ReportError("%s: %s[%d].%s is %s, which tf1-lstm never writes: was it "
                                  "edited? Restore the original" % (
                                      path, what, i, key, shown[:40]))


NOT_A_REPORT = ("%s is not a tf1-lstm report.json (%s): pass what `tf1-lstm report` wrote (a "
                "report folder or its report.json)")


def load_report(path):
    """A report.json (or the folder holding one), checked to be one: the one reader of a
    report.json; ReportError names the file and, for a bad value, the field."""
    if os.path.isdir(path):
        path = os.path.join(path, "report.json")
    try:
        found = read_json(path)
    except OSError as err:
        raise ReportError(NOT_A_REPORT % (path, err.strerror))
    except NotARegularFile as err:
        raise ReportError(NOT_A_REPORT % (path, err))
    except ValueError as err:
        raise ReportError(NOT_A_REPORT % ("%s is not JSON, so it" % path if "nested" not in
                                          str(err) else path, err))
    if not isinstance(found, dict) or not all(isinstance(found.get(k), (dict, list))
                                              for k in REPORT_KEYS):
        raise ReportError(NOT_A_REPORT % (path, "no " + ", ".join(REPORT_KEYS)))
    _checked(found["runs"], RUN_CHECKS, "runs", path)
    _checked(found["claims"], CLAIM_CHECKS, "claims", path)
    return found


def doubt(run_dir, config, metrics, row):
    """Why a report's run is not believed (its seal broken, its records disagreeing with each
    other or with report.json's seal of it), or None: verify and compare alike."""
    try:
        seal = records.believed(run_dir, config, metrics)
    except records.NotBelieved as err:
        return str(err)
    if row.get("seal") not in (None, seal):
        return "%s: its seal is not the one report.json holds for it: the run or report.json " \
            "changed after the report was made" % run_dir
    return None


def _folder_doubt(report, row):
    """doubt() of a row whose run folder is beside its report.json, plus report.json's own
    figures against the folder's; None where there is no folder to check (a report.json
    alone is read as written). Counts the unsealed runs in report["_unsealed"]."""
    if not isinstance(row.get("run_dir"), str):
        return None
    run_dir = os.path.join(report["_folder"], row["run_dir"])
    if not os.path.isdir(run_dir):
        return None
    if not os.path.lexists(os.path.join(run_dir, records.SEAL)):
        report["_unsealed"] = report.get("_unsealed", 0) + 1
    try:
        config, metrics = records.read_run_config(run_dir), records.read_metrics(run_dir)
    except records.RecordError as err:
        return str(err)
    found = doubt(run_dir, config, metrics, row)
    if found is None and repr(row["test_accuracy"]) != repr(metrics.get("test_accuracy")):
        found = "%s: test accuracy %r in report.json, %r in its metrics.json" % (
            run_dir, row["test_accuracy"], metrics.get("test_accuracy"))
    if found is None and "curve" in row and [[p.get(k) for k in drift.PRINTED] for p in row[
            "curve"]] != [[p.get(k) for k in drift.PRINTED] for p in metrics["curve"]]:
        found = "%s: report.json's curve is not its metrics.json's" % run_dir
    return found


def section_rows(report):
    """A row per run the report's sections own beside its own runs (each section says which:
    studies.sections' `runs`): its group (`cell`), seed, folder, seal and test accuracy."""
    return [row for section in sections.SECTIONS if section.runs and report.get(section.key)
            for row in section.runs(report[section.key], report["settings"]["seeds"])]


def set_apart(report, name):
    """Take the rows of runs not believed out of report["runs"] (and a --posts section's);
    lines naming each, with `name` (A, B, ...) as the side."""
    lines, kept = [], []
    for row in report["runs"]:
        why = _folder_doubt(report, row)
        if why:
            lines.append("%s: %s seed %d not believed, left out of every verdict: %s"
                         % (name, row["cell"], row["seed"], why))
            report.setdefault("_doubted", set()).add(
                (row["cell"], row["seed"], _environment(report, row)))
        else:
            kept.append(row)
    report["runs"] = kept
    for row in section_rows(report):
        why = _folder_doubt(report, row)
        if why:
            lines.append("%s: %s not believed, left out of every verdict: %s"
                         % (name, os.path.basename(row["run_dir"]), why))
            report.setdefault("_doubted_rows", set()).add(row["run_dir"])
    report["_apart"] = len(lines)
    if report.get("_unsealed"):
        lines.append("%s: %d runs %s (made before runs were sealed): read as written"
                     % (name, report["_unsealed"], records.UNSEALED))
    return lines


def whole(a, b):
    """(verdict, bit-for-bit record, Welch interval) of B's runs against A's ({seed: run} each)
    by drift.RULE: identical needs the same seeds on both sides, every one bit for bit."""
    both = sorted(set(a) & set(b))
    bits = drift.bitwise([a[s] for s in both], [b[s] for s in both])
    interval = stats.welch([r["test_accuracy"] for r in a.values()],
                           [r["test_accuracy"] for r in b.values()])
    identical = bits["identical"] and set(a) == set(b)
    return drift.verdict(identical, interval), bits, interval


def as_a_whole(runs_a, runs_b):
    """Per cell, B against A by the version report's rule (studies.verdicts.drift)."""
    lines = []
    for cell in sorted({r["cell"] for r in runs_a} | {r["cell"] for r in runs_b}):
        a = {r["seed"]: r for r in runs_a if r["cell"] == cell}
        b = {r["seed"]: r for r in runs_b if r["cell"] == cell}
        if not a or not b:
            lines.append("%s as a whole (B - A): no verdict: %s in %s" % (
                cell, ABSENT, "A" if not a else "B"))
            continue
        verdict, bits, interval = whole(a, b)
        lines.append("%s as a whole (B - A): %s; %s; %d vs %d runs, %d of %d shared seeds bit "
                     "for bit" % (cell, verdict, drift.interval_text(interval), len(a), len(b),
                                  bits["identical_runs"], bits["runs"]))
    return lines + (["rule: " + drift.RULE] if lines else [])


def explained(ra, rb, runs_a, runs_b):
    """Each run both sides hold that differs bit for bit, explained by studies.verdicts.causes' rule
    from everything each side recorded of it (its run folder's records where they are
    beside the report.json, else its row, the report's settings and run_environments)."""
    lines = []
    for key in [k for k in runs_a if k in runs_b]:
        a, b = runs_a[key], runs_b[key]
        if drift.bitwise([a], [b])["identical"]:
            continue
        (settings_a, factors_a), (settings_b, factors_b) = (
            _recorded(report, row) for report, row in ((ra, a), (rb, b)))
        verdict, why = causes.account(settings_a, settings_b, factors_a, factors_b,
                                      sides=("in A", "in B"))
        label = "%s seed %d" % key[:2] + (" " + key[2] if key[2] else "")
        lines.append("%s differs bit for bit -- %s: %s" % (label, verdict, why))
    return lines + (["rule: " + causes.RULE] if lines else [])


def _recorded(report, row):
    """(settings, factors) of one report row, from the best record there is of it."""
    config, metrics = None, None
    folder = report.get("_folder")
    if folder and isinstance(row.get("run_dir"), str):
        run_dir = os.path.join(folder, row["run_dir"])
        try:
            config, metrics = records.read_run_config(run_dir), records.read_metrics(run_dir)
        except records.RecordError:  # the row is what there is
            config, metrics = None, None
    environments = run_environments(report)
    name = row.get("environment") or report["settings"].get("reference_env") or (
        next(iter(environments)) if len(environments) == 1 else None)
    env = environments.get(name) or {}
    cpus = env.get("cpus") or []
    if metrics is None:
        metrics = {"versions": env.get("versions") or {}, "fingerprint": row.get("fingerprint")}
    settings = causes.setting_values(config, row, report["settings"])
    threads = (config or {}).get("threads") or row.get("threads")
    return settings, causes.recorded_factors(metrics, threads, cpus[0] if len(cpus) == 1
                                             else None)


def _environment(report, row):
    """None for a report's own runs (all of them, or with --tf its reference environment's),
    so that two reports' own runs pair whatever their Python; else the row's environment."""
    reference, env = report["settings"].get("reference_env"), row.get("environment")
    return None if reference is None or env is None or env == reference else env


def run_environments(report):
    """{TensorFlow environment: what its runs ran on}. A report made before these were
    recorded (schema < 4) knows only the versions of the process that assembled it."""
    found = report.get("run_environments")
    if isinstance(found, dict) and found:
        return found
    return {"not recorded (the report's own)": {
        "runs": len(report["runs"]), "hosts": [], "cpus": [],
        "versions": report["environment"].get("versions") or {}}}


def _text(value):
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value) or "-"
    return str(value)


def _union(a, b):
    return list(a) + [k for k in b if k not in a]


def compare(a, b, *more):
    """Lines comparing two report.json files (e.g. the container's and a local one), then each
    claim's verdict per machine class, over these and `more` reports."""
    ra, rb = _loaded(a), _loaded(b)
    others = [_loaded(path) for path in more]
    names = ["A", "B"] + [chr(ord("C") + i) for i in range(len(others))]
    apart = [line for report, name in zip([ra, rb] + others, names)
             for line in set_apart(report, name)]
    lines = ["%-44s %-22s %-22s" % ("", "A", "B")]

    def row(label, x, y):
        x, y = _text(x), _text(y)
        mark = "" if x == y else "   <- differs"
        lines.append("%-44s %-22s %-22s%s" % (label, x, y, mark))

    sa, sb = ra["settings"], rb["settings"]
    for key in _union(sa, sb):
        default = "mnist" if key == "dataset" else ABSENT
        row("settings." + key, sa.get(key, default), sb.get(key, default))
    _claim_rows(row, ra["claims"], rb["claims"])
    runs_a = {(r["cell"], r["seed"], _environment(ra, r)): r for r in ra["runs"]}
    runs_b = {(r["cell"], r["seed"], _environment(rb, r)): r for r in rb["runs"]}
    for key in _union(runs_a, runs_b):
        row("%s seed %d%s test accuracy" % (key[0], key[1], " " + key[2] if key[2] else ""),
            *("%.4f" % runs[key]["test_accuracy"] if key in runs else NOT_BELIEVED
              if key in report.get("_doubted", ()) else ABSENT
              for runs, report in ((runs_a, ra), (runs_b, rb))))
    lines += as_a_whole(ra["runs"], rb["runs"])
    lines += explained(ra, rb, runs_a, runs_b)
    _section_rows(row, ra, rb)
    _environment_rows(row, ra, rb)
    return lines + apart + by_class([ra, rb] + others, names)


def _loaded(path):
    report = load_report(path)
    report["_folder"] = path if os.path.isdir(path) else os.path.dirname(path) or "."
    return report


def machine_class(report):
    """What the report's runs (its sections' too) ran on, as the numbers see it: CPU vendor
    and model, the L1d size CPUID reported and the kernel path (a sister post's: its
    framework's CPU kernels); "mixed: ..." where they ran on several; "not recorded" where a
    run says nothing of it, followed by the class a verification record found it identical
    on (studies.tools.verified)."""
    if report.get("_apart"):
        return "%s: %d of its runs" % (NOT_BELIEVED, report["_apart"])
    machines, unknown = collections.OrderedDict(), False
    for row in report["runs"] + section_rows(report):
        if _environment(report, row) is not None:  # another TF's run of a --tf report
            continue
        factors = _recorded(report, row)[1]
        vendor = cpuid.VENDORS.get(factors.get("cpu_vendor"))
        if not (vendor and factors.get("l1d_kib")):
            unknown = True
            continue
        kernels = machines.setdefault("%s %s, L1d %d KiB" % (
            vendor, factors.get("family_model_stepping", "?"), factors["l1d_kib"]), [[], []])
        kernels[0 if factors.get("kernel_path") else 1].append(
            factors.get("kernel_path") or factors.get("cpu_capability"))
    found = {"%s, %s" % (machine, ",".join(sorted(set(tf or posts), key=str)))
             for machine, (tf, posts) in machines.items()}
    found |= {"not recorded"} if unknown else set()
    if found == {"not recorded"}:
        held = [r for r in verified.read(report.get("_folder") or ".")[0]
                if r["verdict"] == "identical"]
        return "not recorded" + ("; verified identical on %s, %d runs" % (
            verified.class_text(held[-1]["class"]), len(held[-1]["runs"])) if held else "")
    return "; ".join(sorted(found)) if len(found) == 1 else "mixed: " + "; ".join(sorted(found))


# The report settings that change its claims' numbers (cells and jobs do not), with the value
# a report made before the setting was recorded had.
JUDGED_AT = (("dataset", "mnist"), ("seeds", None), ("steps", None), ("batch_size", None),
             ("lr", None), ("threads", None), ("reference_env", tfenvs.DEFAULT),
             ("init_from", "own"))
CLASS_RULE = ("machine verdicts only between reports made at equal settings (%s): where any "
              "differs, no verdict across machines; a claim's verdict holds across machines "
              "where every report of a recorded class gives it; it depends on the machine where "
              "two classes give different verdicts; a report whose class is not recorded or "
              "mixed, or with runs not believed, names no class"
              % ", ".join(key for key, _ in JUDGED_AT))


def settings_apart(reports, names):
    """'steps 10000 in A, 401 in B; ...' for each JUDGED_AT setting the reports differ in,
    or "" where they are equal."""
    found = []
    for key, default in JUDGED_AT:
        values = [r["settings"].get(key) for r in reports]
        values = [default if v is None else v for v in values]
        if len({_text(v) for v in values}) > 1:
            found.append("%s %s" % (key, ", ".join(
                "%s in %s" % (_text(v), n) for v, n in zip(values, names))))
    return "; ".join(found)


def by_class(reports, names):
    """Per claim, each report's machine class and verdict, and whether the classes agree: only
    between reports of equal settings."""
    classes = [machine_class(r) for r in reports]
    apart = settings_apart(reports, names)
    lines = ["claims by machine class:"] + ["  %s: %s" % pair for pair in zip(names, classes)]
    claims = []
    for report in reports:
        claims += [c["claim"] for c in report["claims"] if c["claim"] not in claims]
    for claim in claims:
        said = [(name, cls, next((c["verdict"] for c in r["claims"] if c["claim"] == claim),
                                 ABSENT)) for r, name, cls in zip(reports, names, classes)]
        known = {(cls, verdict) for _, cls, verdict in said if verdict != ABSENT and
                 not cls.startswith(("not recorded", "mixed", NOT_BELIEVED))}
        verdicts, kinds = {v for _, v in known}, {c for c, _ in known}
        summary = ("the reports differ in settings (%s): no verdict across machines" % apart
                   if apart else
                   "one class only: no verdict across machines" if len(kinds) < 2 else
                   "the verdict depends on the machine" if len(verdicts) > 1 else
                   "holds on the %d classes compared" % len(kinds))
        lines.append("  %s: %s -- %s" % (claim, ", ".join("%s %s" % (n, v) for n, _, v in said),
                                         summary))
    return lines + ["rule: " + CLASS_RULE]


def _claim_rows(row, claims_a, claims_b):
    """Each claim of either side, paired by its text (a claim one side lacks: absent)."""
    a = {c["claim"]: c for c in claims_a}
    b = {c["claim"]: c for c in claims_b}
    for claim in _union(a, b):
        row(claim[:44], *("%.4f" % side[claim]["measured"]["mean"] if claim in side else ABSENT
                          for side in (a, b)))
        row("  verdict", *(side[claim]["verdict"] if claim in side else ABSENT
                           for side in (a, b)))


def _section_rows(row, ra, rb):
    """Each section's own rows side by side (studies.sections' `side_by_side`), its runs not
    believed named so."""
    for section in sections.SECTIONS:
        if section.side_by_side and (ra.get(section.key) or rb.get(section.key)):
            for label, x, y in section.side_by_side(
                    ra.get(section.key), rb.get(section.key), ra.get("_doubted_rows", ()),
                    rb.get("_doubted_rows", ())):
                row(label, ABSENT if x is None else x, ABSENT if y is None else y)


def _environment_rows(row, ra, rb):
    """What the runs ran on (per TensorFlow environment), then the assembling process's machine."""
    ea, eb = run_environments(ra), run_environments(rb)
    for env in _union(ea, eb):
        x, y = ea.get(env, {}), eb.get(env, {})
        row("runs in " + env, x.get("runs", ABSENT), y.get("runs", ABSENT))
        row("  framework", *(side.get("framework", "TensorFlow") if side else ABSENT
                             for side in (x, y)))
        va, vb = x.get("versions") or {}, y.get("versions") or {}
        for key in _union(va, vb):  # what the runs recorded: TensorFlow's, PyTorch's, ...
            if key != "protobuf" and "None" not in (va.get(key), vb.get(key)):
                row("  " + key, va.get(key, ABSENT), vb.get(key, ABSENT))
        row("  cpu", [c[:22] for c in x.get("cpus", [])], [c[:22] for c in y.get("cpus", [])])
    ca, cb = ra["environment"], rb["environment"]
    made_a, made_b = (e.get("assembled_with") or e["versions"] for e in (ca, cb))
    for key in ("python", "tensorflow"):
        row("report made with " + key, made_a.get(key), made_b.get(key))
    row("built with CUDA", ca["cuda"]["built_with_cuda"], cb["cuda"]["built_with_cuda"])
    row("GPUs", len(ca["cuda"]["gpus"]), len(cb["cuda"]["gpus"]))
    row("container image", ca["machine"]["container_image"], cb["machine"]["container_image"])
    row("  built from", ca["machine"].get("container_base"), cb["machine"].get("container_base"))
    row("cpu", (ca["machine"]["cpu"] or "")[:22], (cb["machine"]["cpu"] or "")[:22])
    for key in ("family_model_stepping", "caches", "simd"):
        row("cpu " + key.replace("_", "/"), (ca["machine"].get("cpu_id") or {}).get(key, "-"),
            (cb["machine"].get("cpu_id") or {}).get(key, "-"))
    row("git commit", (ca["git"]["commit"] or "-")[:12], (cb["git"]["commit"] or "-")[:12])
    row("data (IDX SHA-256 prefixes)",
        " ".join(s["idx_sha256"][:3] for s in ca["data_checksums"].values()),
        " ".join(s["idx_sha256"][:3] for s in cb["data_checksums"].values()))
