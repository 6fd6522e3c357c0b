"""The post's question, answered with runs: why does the same program fail with BasicRNNCell?

Ablations change one thing each from the faithful program, over the report's seeds; two
`diagnose` runs (RNN and LSTM, first seed) record gradients through time and saturation. The
explanation is derived from those numbers by the rules below (`findings`), stated in the
report, so it says whatever the runs show.
"""

import argparse
import collections
import os

import numpy as np

from tf1_lstm.core.cells import IRNN, LSTM, RNN
from tf1_lstm.studies import engine
from tf1_lstm.studies.tools import diagnose
from tf1_lstm.studies.verdicts import rules
from tf1_lstm.util.files import read_json
from tf1_lstm.util.text import number, percent

# (label, cell, changes from the original), each over the report's seeds.
ABLATIONS = (
    ("rnn-lr0.001", RNN, {"lr": 0.001}),
    ("rnn-clip1.0", RNN, {"clip": 1.0}),
    ("lstm-forget-bias0", LSTM, {"forget_bias": 0.0}),
    ("lstm-lr0.001", LSTM, {"lr": 0.001}),
    ("irnn", IRNN, {}),
    ("irnn-lr0.001", IRNN, {"lr": 0.001}),
)
VANISHED_BELOW = 1e-3   # ||dL/dh_1|| / ||dL/dh_28|| below this: the first rows get ~no signal
SATURATED_MOST = 0.5    # above this share of tanh units at |h| > 0.99: saturation supported
SATURATED_FEW = 0.1     # below this share: saturation ruled out
SPIKE_RATIO = 10.0      # max / median global gradient norm above this: the norm spikes


LABELS = tuple(label for label, _, _ in ABLATIONS) + ("diagnose",)
COMPARED = (RNN, LSTM)  # the original cells every ablation is set against


def labels(text):
    """--ablations' value: 'all' or a comma-separated list of LABELS."""
    if text == "all":
        return LABELS
    found = tuple(t.strip() for t in text.split(",") if t.strip())
    if not found or [t for t in found if t not in LABELS]:
        raise argparse.ArgumentTypeError("%r: give all, or a comma-separated list of %s"
                                         % (text, ", ".join(LABELS)))
    return found


# --- the report's section (studies.sections) -------------------------------------------------

FLAGS = (("--ablations", dict(
    type=labels, nargs="?", const="all", default=(), metavar="LABELS",
    help="add the ablation section (optionally only the comma-separated LABELS of %s), each "
         "over the same seeds" % ", ".join(LABELS))),)
ALONE = "--ablations"  # how a report with --tf names it


def options(args):
    """The ablation labels asked for; None: no ablation section."""
    return tuple(args.ablations) or None


def plan(base, chosen, report):
    """The runs of the `chosen` labels over the report's seeds, from its base spec; with
    "diagnose", the RNN and LSTM diagnose runs of its first seed."""
    if not set(COMPARED) <= set(report.cells):
        raise engine.RunError("--ablations compares against both original cells: keep --cells "
                              "%s" % ",".join(sorted(COMPARED)))
    seeds = range(report.seeds)
    runs = [engine.named(base, cell, s, label=label, **changes)
            for label, cell, changes in ABLATIONS if label in chosen for s in seeds]
    return runs + (diagnostics_runs(base, seeds[0]) if "diagnose" in chosen else [])


def diagnostics_runs(base, seed):
    return [engine.named(base, c, seed, label="diagnose-" + c, command="diagnose",
                         options=(("every", diagnose.REPORT_EVERY),)) for c in COMPARED]


def summarise(finished, chosen):
    """report.json's `ablation`: the rows, the diagnostics, the findings and their rules."""
    faithful = finished.faithful()
    rows = [_row("%s (original)" % c, c, {}, [m["test_accuracy"] for m in faithful[c]])
            for c in COMPARED]
    rows += [_row(label, cell, changes, [
        finished.metrics(engine.named(finished.base, cell, s, label=label, **changes))
        ["test_accuracy"] for s in finished.seeds])
        for label, cell, changes in ABLATIONS if label in chosen]
    diag = diagnostics_summary(finished.out, diagnostics_runs(finished.base, finished.seeds[0])
                               if "diagnose" in chosen else [])
    return collections.OrderedDict([
        ("ablations", rows), ("diagnostics", diag),
        ("findings", findings(rows, diag, finished.chance["accuracy"])),
        ("rules", rules_text())])


def _row(label, cell, changes, accs):
    return collections.OrderedDict([("label", label), ("cell", cell), ("changes", changes),
                                    ("per_seed", accs), ("mean", float(np.mean(accs)))])


def plot(section, out):
    """No figures of its own: its diagnose runs draw theirs, which render() links."""
    return []


def diagnostics_summary(out, runs):
    """Medians over a diagnose run's records after step 0 (the untrained start excluded)."""
    summary = collections.OrderedDict()
    for run in runs:
        result = read_json(os.path.join(out, "runs", run.name, "diagnostics.json"))
        records = [r for r in result["records"] if r["step"] > 0] or result["records"]
        per_t = np.array([r["grad_norm_per_time_step"] for r in records])
        norms = np.array([r["global_grad_norm"] for r in records])
        item = collections.OrderedDict([
            ("run_dir", os.path.join("runs", run.name)),
            ("records", len(result["records"])),
            ("first_nonfinite_step", result["first_nonfinite_step"]),
            ("first_to_last_step_gradient_ratio",
             float(np.median(per_t[:, 0] / np.maximum(per_t[:, -1], 1e-30)))),
            # a true 0, not a rounded one: float32 underflow of the row-1 gradient
            ("first_step_gradient_zero_records", int((per_t[:, 0] == 0).sum())),
            ("records_after_step_0", len(records)),
            ("saturated_fraction", float(np.median([r["saturated_fraction"] for r in records]))),
            ("global_grad_norm_median", float(np.median(norms))),
            ("global_grad_norm_max", float(norms.max())),
        ])
        if "mean_forget_gate" in records[0]:
            item["mean_forget_gate"] = float(np.median([r["mean_forget_gate"] for r in records]))
        summary[run.cell] = item
    return summary


def findings(rows, diag, chance):
    """One finding per hypothesis whose runs were made: supported / ruled out / inconclusive,
    each with its evidence."""
    means = {r["label"]: r["mean"] for r in rows}
    findings = []
    for judge in (_step_size, _exploding, _vanishing, _saturation, _forget_bias, _gating):
        found = judge(means, diag, chance)
        if found:
            findings.append(collections.OrderedDict(zip(("hypothesis", "verdict", "evidence"),
                                                        found)))
    return findings


def _step_size(means, diag, chance):
    base, slow = means.get("%s (original)" % RNN), means.get("rnn-lr0.001")
    if base is None or slow is None or not rules.at_chance(base, chance):
        return None
    if rules.learned(slow):
        return ("step size", "supported", "the same RNN at lr 0.001 reaches %s (lr 0.01: %s)"
                % (percent(slow), percent(base)))
    return ("step size", "ruled out" if rules.at_chance(slow, chance) else "inconclusive",
            "at lr 0.001 the RNN reaches %s" % percent(slow))


def _exploding(means, diag, chance):
    clipped, rnn = means.get("rnn-clip1.0"), diag.get(RNN)
    if clipped is None:
        return None
    if rules.learned(clipped):
        return ("exploding gradients", "supported", "clipping the global norm at 1.0 lets the "
                "RNN reach %s at lr 0.01" % percent(clipped))
    spikes = rnn and rnn["global_grad_norm_max"] / max(rnn["global_grad_norm_median"], 1e-30)
    ruled_out = rules.at_chance(clipped, chance) and not (spikes and spikes > SPIKE_RATIO)
    return ("exploding gradients", "ruled out" if ruled_out else "inconclusive",
            "with clipping at 1.0 the RNN reaches %s%s" % (
                percent(clipped), "; its global gradient norm peaks at %.1fx its median"
                % spikes if spikes else ""))


def _vanishing(means, diag, chance):
    rnn, lstm = diag.get(RNN), diag.get(LSTM)
    if not rnn:
        return None
    ratio = rnn["first_to_last_step_gradient_ratio"]
    lstm_ratio = lstm["first_to_last_step_gradient_ratio"] if lstm else None
    return ("vanishing gradients", "supported" if ratio < VANISHED_BELOW else "ruled out",
            "the gradient reaching row 1 is %s of that at row 28 in the RNN%s%s" % (
                number(ratio), _zeros(rnn),
                " (LSTM: %s)" % number(lstm_ratio) if lstm_ratio is not None else ""))


def _zeros(diag):
    zeros = diag.get("first_step_gradient_zero_records")
    if not zeros:
        return ""
    return " (exactly 0.0 in float32, an underflow, in %d of %d records)" % (
        zeros, diag["records_after_step_0"])


def _saturation(means, diag, chance):
    rnn = diag.get(RNN)
    if not rnn:
        return None
    sat = rnn["saturated_fraction"]
    return ("saturation", "supported" if sat > SATURATED_MOST else
            "ruled out" if sat < SATURATED_FEW else "inconclusive",
            "median %.0f%% of the RNN's tanh units sit at |h| > 0.99" % (100 * sat))


def _forget_bias(means, diag, chance):
    zero, one = means.get("lstm-forget-bias0"), means.get("%s (original)" % LSTM)
    if zero is None or one is None:
        return None
    return ("the forget gate's +1 bias", "ruled out" if rules.learned(zero) else "supported",
            "the LSTM with forget_bias 0 reaches %s (forget_bias 1: %s)"
            % (percent(zero), percent(one)))


def _gating(means, diag, chance):
    made = [label for label in ("irnn", "irnn-lr0.001") if label in means]
    if not made:
        return None
    best = max(made, key=means.get)
    return ("gating is required", "ruled out" if rules.learned(means[best]) else "inconclusive",
            "an ungated ReLU RNN with identity initialisation (IRNN) reaches %s (%s)"
            % (percent(means[best]), best))


def rules_text():
    return ("A configuration *trains* if its mean test accuracy is at least %d%% and *fails* "
            "if it is within %d points of chance. Vanishing gradients: supported if the median "
            "ratio ||dL/dh_1|| / ||dL/dh_28|| over the diagnose records is below %g. Saturation: "
            "supported above %d%% of units at |h| > 0.99, ruled out below %d%%. Exploding "
            "gradients: supported if clipping makes the RNN train; inconclusive if the global "
            "norm's maximum exceeds %gx its median without clipping helping."
            % (100 * rules.LEARNED_AT_LEAST, 100 * rules.CHANCE_MARGIN, VANISHED_BELOW,
               100 * SATURATED_MOST, 100 * SATURATED_FEW, SPIKE_RATIO))


def render(section):
    """The report's markdown section for the ablations."""
    lines = ["## Why does the vanilla RNN fail? Ablations and diagnostics", "",
             "Each row changes one thing from the faithful program (not part of the faithful "
             "result above), over the same seeds.", "",
             "| configuration | change | mean test accuracy | per seed |",
             "| --- | --- | --- | --- |"]
    for row in section["ablations"]:
        change = ", ".join("%s=%s" % kv for kv in sorted(row["changes"].items())) or "none"
        lines.append("| %s | %s | %s | %s |" % (
            row["label"], change, percent(row["mean"]),
            ", ".join(percent(a) for a in row["per_seed"])))
    if section["diagnostics"]:
        lines += _diagnostics_lines(section["diagnostics"])
    lines += ["", "**What the evidence says.** " + " ".join(
        "%s: %s (%s)." % (f["hypothesis"][0].upper() + f["hypothesis"][1:], f["verdict"],
                          f["evidence"]) for f in section["findings"]), "",
              "Rules: " + section["rules"], ""]
    return lines


def _diagnostics_lines(diagnostics):
    lines = []
    lines += ["", "Diagnostics (medians over records every %d steps, first seed):"
              % diagnose.REPORT_EVERY, "",
              "| cell | ‖∂L/∂h_1‖ / ‖∂L/∂h_28‖ | saturated (|h|>0.99) | mean forget gate | "
              "global grad norm median / max | first non-finite step |",
              "| --- | --- | --- | --- | --- | --- |"]
    for cell, d in diagnostics.items():
        lines.append("| %s | %s | %s | %s | %.3g / %.3g | %s |" % (
            cell, number(d["first_to_last_step_gradient_ratio"]),
            percent(d["saturated_fraction"], 1),
            "%.3f" % d["mean_forget_gate"] if "mean_forget_gate" in d else "n/a",
            d["global_grad_norm_median"], d["global_grad_norm_max"],
            d["first_nonfinite_step"] if d["first_nonfinite_step"] is not None else "none"))
    lines += [""]
    for cell, d in diagnostics.items():
        lines.append("![%s gradient through time](%s/gradient_through_time.png)"
                     % (cell, d["run_dir"]))
    return lines
