"""`tf1-lstm compare`: two reports side by side (container and local, two machines, two data
sets), each row marked where they differ."""

import os

from tf1_lstm.studies import drift, stats
from tf1_lstm.util.files import NotARegularFile, read_json

REPORT_KEYS = ("settings", "claims", "runs", "environment")


def load_report(path):
    """A report.json (or the folder holding one), checked to be one; ValueError names the file."""
    if os.path.isdir(path):
        path = os.path.join(path, "report.json")
    try:
        found = read_json(path)
    except OSError as err:
        raise ValueError("%s: %s" % (path, err.strerror))
    except NotARegularFile as err:
        raise ValueError(str(err))
    except ValueError as err:
        raise ValueError("%s is not JSON" % path if "nested" not in str(err) else str(err))
    if not isinstance(found, dict) or not all(isinstance(found.get(k), (dict, list))
                                              for k in REPORT_KEYS):
        raise ValueError("%s is not a report (no %s)" % (path, ", ".join(REPORT_KEYS)))
    return found


def as_a_whole(runs_a, runs_b):
    """Per cell, B against A by the version report's rule (studies.drift): bit for bit over the
    seeds both have, then the Welch interval of the difference of mean test accuracy."""
    lines = []
    for cell in sorted({r["cell"] for r in runs_a} & {r["cell"] for r in runs_b}):
        a = {r["seed"]: r for r in runs_a if r["cell"] == cell}
        b = {r["seed"]: r for r in runs_b if r["cell"] == cell}
        both = sorted(set(a) & set(b))
        bits = drift.bitwise([a[s] for s in both], [b[s] for s in both])
        interval = stats.welch([r["test_accuracy"] for r in a.values()],
                               [r["test_accuracy"] for r in b.values()])
        lines.append("%s as a whole (B - A): %s; %s, %d of %d shared seeds bit for bit" % (
            cell, drift.verdict(bits["identical"], interval),
            drift.interval_text(interval), bits["identical_runs"], len(both)))
    return lines + (["rule: " + drift.RULE] if lines else [])


def compare(a, b):
    """Lines comparing two report.json files (e.g. the container's and a local one)."""
    ra, rb = load_report(a), load_report(b)
    lines = ["%-44s %-22s %-22s" % ("", "A", "B")]

    def row(label, x, y):
        mark = "" if x == y else "   <- differs"
        lines.append("%-44s %-22s %-22s%s" % (label, x, y, mark))

    for key in ("dataset", "steps", "seeds", "threads"):
        row("settings." + key, ra["settings"].get(key, "mnist" if key == "dataset" else None),
            rb["settings"].get(key, "mnist" if key == "dataset" else None))
    for ca, cb in zip(ra["claims"], rb["claims"]):
        row(ca["claim"][:44], "%.4f" % ca["measured"]["mean"], "%.4f" % cb["measured"]["mean"])
        row("  verdict", ca["verdict"], cb["verdict"])
    runs_b = {(r["cell"], r["seed"]): r for r in rb["runs"]}
    for r in ra["runs"]:
        other = runs_b.get((r["cell"], r["seed"]))
        row("%s seed %d test accuracy" % (r["cell"], r["seed"]), "%.4f" % r["test_accuracy"],
            "%.4f" % other["test_accuracy"] if other else "-")
    lines += as_a_whole(ra["runs"], rb["runs"])
    ea, eb = ra["environment"], rb["environment"]
    for key in ("python", "tensorflow", "numpy", "protobuf"):
        row(key, ea["versions"][key], eb["versions"][key])
    row("built with CUDA", ea["cuda"]["built_with_cuda"], eb["cuda"]["built_with_cuda"])
    row("GPUs", len(ea["cuda"]["gpus"]), len(eb["cuda"]["gpus"]))
    row("container image", ea["machine"]["container_image"], eb["machine"]["container_image"])
    row("  built from", ea["machine"].get("container_base"), eb["machine"].get("container_base"))
    row("cpu", (ea["machine"]["cpu"] or "")[:22], (eb["machine"]["cpu"] or "")[:22])
    for key in ("family_model_stepping", "caches", "simd"):
        row("cpu " + key.replace("_", "/"), (ea["machine"].get("cpu_id") or {}).get(key, "-"),
            (eb["machine"].get("cpu_id") or {}).get(key, "-"))
    row("git commit", (ea["git"]["commit"] or "-")[:12], (eb["git"]["commit"] or "-")[:12])
    row("data (IDX SHA-256 prefixes)",
        " ".join(s["idx_sha256"][:3] for s in ea["data_checksums"].values()),
        " ".join(s["idx_sha256"][:3] for s in eb["data_checksums"].values()))
    return lines
