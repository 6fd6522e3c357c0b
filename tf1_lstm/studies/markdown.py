"""report.md, written from report.json's data alone: every figure in it comes from there, so the
text cannot say what the record does not."""

import collections

from tf1_lstm.core import cells, hparams, settings
from tf1_lstm.studies import sections
from tf1_lstm.util import environment, tfenvs
from tf1_lstm.util.text import percent


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
        built = "%s (%s)" % (one(v["tensorflow"]), one(v["tensorflow_git"])) \
            if framework == "TensorFlow" else "%s %s" % (framework, one(v[framework.lower()]))
        lines.append("| %s | %d | %s | %s | %s / %s | %s | %s | %s |" % (
            env, e["runs"], one(v["python"]), built,
            one(v["numpy"]), one(v["protobuf"]), ", ".join(e["hosts"]) or "not recorded",
            "; ".join(e["cpus"]) or "not recorded",
            ", ".join(e.get("kernel_paths") or ["not recorded"])))
    return lines + [""]


def one(value):
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
