"""Does another TensorFlow, machine or trial change the numbers? Runs against the reference's,
seed by seed (bit for bit) and as a whole (a Welch interval of the difference of mean test
accuracy), each turned into a verdict by a stated rule tested on both sides of its thresholds;
and the same bit-for-bit test on a seed trained twice (determinism). The report's TensorFlow
section (studies.sections.tf_versions), verify and compare judge by it."""

import collections

import numpy as np

from tf1_lstm.studies.verdicts.stats import describe, welch

IDENTICAL, INDISTINGUISHABLE, DIFFERS, TOO_FEW = (
    "identical", "indistinguishable", "differs", "too few runs")
RULE = ("%s with fewer than 2 runs on a side; otherwise identical if both sides hold the same "
        "seeds and every run's printed values (train accuracy and loss at each logged step) "
        "and final test accuracy are equal bit for bit; otherwise differs if the Welch 95%% "
        "interval of the difference of mean test accuracy excludes 0 (with no spread on either "
        "side: if the means differ), indistinguishable if it includes 0" % TOO_FEW)
PRINTED = ("train_accuracy", "loss")  # what each logged line prints, besides the step


def verdict(identical, interval):
    """The rule (RULE) on a bit-for-bit flag (the same seeds on both sides, all equal) and a
    welch() result (no interval: fewer than 2 runs on a side)."""
    ci = interval["ci95"]
    if ci is None:
        return TOO_FEW
    if identical:
        return IDENTICAL
    return INDISTINGUISHABLE if ci[0] <= 0 <= ci[1] else DIFFERS


def bitwise(reference, other):
    """Seed by seed (both lists in seed order): are the printed values and the test accuracy
    identical, the first logged step where they part, and the largest differences."""
    same, first, loss_gap, test_gap = 0, None, 0.0, 0.0
    for a, b in zip(reference, other):
        pa = [[p[k] for k in PRINTED] for p in a["curve"]]
        pb = [[p[k] for k in PRINTED] for p in b["curve"]]
        if pa == pb and a["test_accuracy"] == b["test_accuracy"]:
            same += 1
        parted = [p["step"] for p, x, y in zip(a["curve"], pa, pb) if x != y]
        if parted:
            first = parted[0] if first is None else min(first, parted[0])
        loss_gap = max([loss_gap] + [abs(p["loss"] - q["loss"])
                                     for p, q in zip(a["curve"], b["curve"])])
        test_gap = max(test_gap, abs(a["test_accuracy"] - b["test_accuracy"]))
    n = min(len(reference), len(other))
    return collections.OrderedDict([
        ("runs", n), ("identical_runs", same), ("identical", n > 0 and same == n),
        ("first_parting_step", first), ("largest_loss_difference", loss_gap),
        ("largest_test_accuracy_difference", test_gap)])


def determinism(results, specs):
    """Did the repeated seed give the same printed values and test accuracy, bit for bit?"""
    repeat = [s for s in specs if s.repeat_of]
    if not repeat:
        return None
    run = repeat[0].repeat_of
    a, b = results[run], results[repeat[0].name]
    return collections.OrderedDict([
        ("run", run), ("repeat", repeat[0].name),
        ("logged_values", len(PRINTED) * len(a["curve"]) + 1),
        ("identical", bitwise([a], [b])["identical"])])


def compare_cell(reference, other):
    """One cell of one environment against the reference: bit for bit, then as a whole."""
    bits = bitwise(reference, other)
    a = [m["test_accuracy"] for m in reference]
    b = [m["test_accuracy"] for m in other]
    interval = welch(a, b)
    return collections.OrderedDict([
        ("bitwise", bits), ("test_accuracy", describe(b)), ("welch", interval),
        ("verdict", verdict(bits["identical"], interval)),
        ("ms_per_step", float(np.mean([m["ms_per_step"] for m in other]))),
        ("versions", other[0].get("versions") if other else None)])


def interval_text(w):
    if w["ci95"] is None:
        return "difference %s, no interval" % (
            "-" if w["difference"] is None else "%+.2f points" % (100 * w["difference"]))
    return "%+.2f points (95%% CI %+.2f to %+.2f)" % tuple(
        100 * v for v in [w["difference"]] + list(w["ci95"]))
