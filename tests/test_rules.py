"""The rules that turn numbers into verdicts, on fixed inputs on both sides of every threshold.

No TensorFlow and no training: `./run test -m fast` runs these in seconds.
"""

import subprocess
import sys

import numpy as np
import pytest

from tf1_lstm.studies import engine
from tf1_lstm.studies.sections import ablation, explain
from tf1_lstm.studies.verdicts import claims, stats

pytestmark = pytest.mark.fast
CHANCE = 0.1135


def runs(*accuracies):
    return [{"test_accuracy": a} for a in accuracies]


def test_the_rule_modules_import_no_tensorflow():
    code = ("import sys; import tf1_lstm.studies.report, tf1_lstm.studies.sections.ablation, "
            "tf1_lstm.studies.engine; sys.exit('tensorflow' in sys.modules)")
    assert subprocess.call([sys.executable, "-c", code]) == 0


@pytest.mark.parametrize("mean, verdict", [(0.9851, "reproduced"), (0.9849, "not reproduced"),
                                           (0.99, "reproduced"), (0.9769, "not reproduced")])
def test_lstm_claim_threshold(mean, verdict):
    (claim,) = claims.claims({"lstm": runs(mean, mean)}, {"accuracy": CHANCE, "class": 1})
    assert claim["verdict"] == verdict
    assert claim["gap_points"] == pytest.approx(100 * (0.99 - mean))


@pytest.mark.parametrize("accs, verdict, at_chance", [
    ((0.098, CHANCE + 0.0999), "reproduced", 2),
    ((0.098, CHANCE + 0.1001), "partly reproduced", 1),      # in between, not learned
    ((0.098, 0.098, 0.4999), "partly reproduced", 2),
    ((0.098, 0.098, 0.5), "partly reproduced", 2),            # one of three learned
    ((0.098, 0.5), "not reproduced", 1),                      # half learned
    ((0.5, 0.97, 0.98), "not reproduced", 0)])
def test_rnn_claim_three_levels(accs, verdict, at_chance):
    (claim,) = claims.claims({"rnn": runs(*accs)}, {"accuracy": CHANCE, "class": 1})
    assert claim["verdict"] == verdict
    assert claim["seeds_within"] == at_chance == claim["outcomes"]["at chance"]


@pytest.mark.parametrize("steps, verdicts", [
    (9999, ["not judged (shortened)"] * 2), (10000, ["reproduced", "reproduced"]),
    (10001, ["not judged (lengthened)"] * 2), (20, ["not judged (shortened)"] * 2)])
def test_a_claim_on_runs_of_another_length_is_not_judged(steps, verdicts):
    """One rule for every claim: the claims table and the posts table alike (#39, case 4)."""
    found = claims.claims({"lstm": runs(0.99, 0.99), "rnn": runs(0.098, 0.098)},
                          {"accuracy": CHANCE, "class": 1}, steps)
    assert [c["verdict"] for c in found] == verdicts
    same = claims.figure_claim(claims.CLAIMED_TEST_ACCURACY, [0.99, 0.99],
                               claims.not_judged(steps, 10000))
    assert same["verdict"] == verdicts[0] and same["rule"] == found[0]["rule"]


def test_rnn_claim_note_names_what_each_other_seed_did():
    (claim,) = claims.claims({"rnn": runs(0.0982, 0.1032, 0.2318, 0.0974, 0.0974)},
                             {"accuracy": CHANCE, "class": 1})
    assert claim["verdict"] == "partly reproduced"
    assert claim["note"] == "4 of 5 seeds at chance; in between 23.18%"


def rows(changes=None):
    """Ablation rows at the committed report's means, with `changes` {label: mean} applied."""
    means = {"rnn (original)": 0.12, "lstm (original)": 0.977, "rnn-lr0.001": 0.97,
             "rnn-clip1.0": 0.12, "lstm-forget-bias0": 0.979, "lstm-lr0.001": 0.987,
             "irnn": 0.67, "irnn-lr0.001": 0.978}
    means.update(changes or {})
    return [{"label": label, "mean": mean} for label, mean in means.items()]


def diag(ratio=1e-9, saturated=0.88, median=1.0, peak=1.6):
    return {"rnn": {"first_to_last_step_gradient_ratio": ratio, "saturated_fraction": saturated,
                    "global_grad_norm_median": median, "global_grad_norm_max": peak},
            "lstm": {"first_to_last_step_gradient_ratio": 0.34}}


def verdicts(rows_, diagnostics=None):
    found = ablation.findings(rows_, diagnostics or diag(), CHANCE)
    return {f["hypothesis"]: f["verdict"] for f in found}


@pytest.mark.parametrize("mean, verdict", [(0.5, "supported"), (0.4999, "inconclusive"),
                                           (CHANCE + 0.0999, "ruled out")])
def test_step_size(mean, verdict):
    assert verdicts(rows({"rnn-lr0.001": mean}))["step size"] == verdict


def test_step_size_is_not_judged_when_the_rnn_trains():
    assert "step size" not in verdicts(rows({"rnn (original)": 0.5}))


@pytest.mark.parametrize("mean, peak, verdict", [
    (0.5, 1.6, "supported"), (0.4999, 1.6, "inconclusive"), (CHANCE + 0.0999, 1.6, "ruled out"),
    (CHANCE + 0.0999, 10.01, "inconclusive"), (CHANCE + 0.0999, 9.99, "ruled out")])
def test_exploding_gradients(mean, peak, verdict):
    found = verdicts(rows({"rnn-clip1.0": mean}), diag(peak=peak))
    assert found["exploding gradients"] == verdict


@pytest.mark.parametrize("ratio, verdict", [(0.00099, "supported"), (0.001, "ruled out")])
def test_vanishing_gradients(ratio, verdict):
    assert verdicts(rows(), diag(ratio=ratio))["vanishing gradients"] == verdict


@pytest.mark.parametrize("share, verdict", [(0.501, "supported"), (0.5, "inconclusive"),
                                            (0.1, "inconclusive"), (0.099, "ruled out")])
def test_saturation(share, verdict):
    assert verdicts(rows(), diag(saturated=share))["saturation"] == verdict


@pytest.mark.parametrize("mean, verdict", [(0.5, "ruled out"), (0.4999, "supported")])
def test_forget_bias(mean, verdict):
    found = verdicts(rows({"lstm-forget-bias0": mean}))
    assert found["the forget gate's +1 bias"] == verdict


@pytest.mark.parametrize("irnn, irnn_slow, verdict", [(0.5, 0.2, "ruled out"),
                                                      (0.2, 0.5, "ruled out"),
                                                      (0.4999, 0.3, "inconclusive")])
def test_gating(irnn, irnn_slow, verdict):
    found = verdicts(rows({"irnn": irnn, "irnn-lr0.001": irnn_slow}))
    assert found["gating is required"] == verdict


def test_small_ratios_are_never_printed_as_zero():
    found = ablation.findings(rows(), diag(ratio=3.1e-9), CHANCE)
    evidence = next(f["evidence"] for f in found if f["hypothesis"] == "vanishing gradients")
    assert "3.1e-09" in evidence and " 0 of" not in evidence


# --- run reuse -------------------------------------------------------------------------------

SPEC = engine.spec("lstm", 3, 10000, 1)
CONFIG = {"cell": "lstm", "seed": 3, "steps": 10000, "threads": 1, "batch_size": 64,
          "lr": 0.01, "clip": None, "forget_bias": 1.0}


def test_a_complete_run_with_the_same_settings_is_reused():
    assert engine.reusable(CONFIG, {"status": "complete"}, SPEC)


def test_an_older_config_without_ablation_keys_means_the_defaults():
    old = {k: v for k, v in CONFIG.items() if k not in ("clip", "forget_bias", "lr")}
    assert engine.reusable(old, {"status": "complete"}, SPEC)
    assert not engine.reusable(old, {"status": "complete"}, SPEC._replace(lr=0.001))


@pytest.mark.parametrize("key, value", [("cell", "rnn"), ("seed", 4), ("steps", 9999),
                                        ("threads", None), ("batch_size", 32), ("lr", 0.001),
                                        ("clip", 1.0), ("forget_bias", 0.0)])
def test_any_other_setting_is_not_reused(key, value):
    assert not engine.reusable(dict(CONFIG, **{key: value}), {"status": "complete"}, SPEC)


@pytest.mark.parametrize("status", ["interrupted", "diverged", None])
def test_an_unfinished_run_is_not_reused(status):
    assert not engine.reusable(CONFIG, {"status": status}, SPEC)


# --- the 99% explanations, on fixed inputs worked out by hand --------------------------------

def curve(*values):
    return [{"train_accuracy": v} for v in values]


def test_train_batch_by_hand():
    # seed A: last ten printed values eight 1.0 and two 63/64; seed B: all 62/64
    a = curve(*([0.5] * 5 + [1.0] * 8 + [0.984375] * 2))
    b = curve(*([0.96875] * 10))
    e = explain.train_batch([a, b])
    assert e["measured"]["per_seed_mean_of_last_ten"] == pytest.approx([0.996875, 0.96875])
    assert e["measured"]["per_seed_share_at_least_99"] == [0.8, 0.0]
    assert e["measured"]["mean"] == pytest.approx(0.9828125)
    assert e["measured"]["range"] == pytest.approx([0.96875, 0.996875])
    assert e["verdict"] == "not consistent"  # 98.28% < 98.5%


@pytest.mark.parametrize("value, verdict", [(0.985, "consistent"), (0.98499, "not consistent")])
def test_train_batch_threshold(value, verdict):
    assert explain.train_batch([curve(*[value] * 10)])["verdict"] == verdict


def correct(first_wrong, n=10000, other_wrong=()):
    """A run right on every test image but the first `first_wrong` and `other_wrong`."""
    c = np.ones(n, dtype=bool)
    c[:first_wrong] = False
    c[list(other_wrong)] = False
    return c


def test_small_test_by_hand():
    runs = [correct(1), correct(2), correct(0, other_wrong=range(200, 400))]
    e = explain.small_test(runs)
    m = e["measured"]
    assert m["first_128_per_run"] == pytest.approx([127 / 128, 126 / 128, 1.0])
    assert m["runs_at_least_98_5_on_first_128"] == 2  # 99.22% and 100%; 98.44% is below
    assert e["verdict"] == "consistent"  # 2 of 3 >= half
    assert m["random_128_share_at_least_99_per_run"][0] == pytest.approx(1.0)  # 1 error in 10k


@pytest.mark.parametrize("errors, verdict", [((1, 1, 2, 2), "consistent"),
                                             ((1, 2, 2, 2), "inconclusive"),
                                             ((2, 2, 2, 2), "not consistent")])
def test_small_test_thresholds(errors, verdict):
    assert explain.small_test([correct(k) for k in errors])["verdict"] == verdict


def test_seed_luck_by_hand():
    accs = [0.9851, 0.97, 0.98, 0.975, 0.99]
    e = explain.seed_luck(accs, [0, 1, 2, 3, 4])
    m = e["measured"]
    assert (m["at_least_98_5"], m["share"], m["best_seed"], m["best"]) == (2, 0.4, 4, 0.99)
    assert m["wilson95"] == pytest.approx([0.1176, 0.7693], abs=1e-4)  # Wilson, z = 1.96
    assert e["verdict"] == "consistent"


@pytest.mark.parametrize("hits, n, verdict", [(1, 5, "consistent"), (0, 5, "inconclusive"),
                                              (1, 20, "inconclusive"), (0, 80, "not consistent"),
                                              (0, 70, "inconclusive")])
def test_seed_luck_thresholds(hits, n, verdict):
    accs = [0.99] * hits + [0.97] * (n - hits)
    assert explain.seed_luck(accs, list(range(n)))["verdict"] == verdict


def test_wilson_interval_matches_the_formula():
    # with no success the upper bound is z^2 / (n + z^2)
    assert stats.wilson(0, 80)[1] == pytest.approx(3.8416 / 83.8416, abs=1e-5)  # 4.58% < 5%
    assert stats.wilson(0, 70)[1] == pytest.approx(3.8416 / 73.8416, abs=1e-5)  # 5.20% > 5%


def test_settings_by_hand():
    points = {(0.01, 10000): [0.97, 0.98], (0.001, 10000): [0.987, 0.988],
              (0.001, 20000): [0.99, 0.992], (0.003, 20000): [0.991, 0.993],
              (0.001, 30000): [0.995, 0.995]}
    e = explain.settings(points)
    cheapest = e["measured"]["cheapest_reaching_99"]
    assert (cheapest["lr"], cheapest["steps"]) == (0.003, 20000)  # 20k steps; 0.003 nearer 0.01
    assert e["measured"]["best"]["mean"] == pytest.approx(0.995)
    assert e["verdict"] == "consistent"


@pytest.mark.parametrize("best, verdict", [(0.99, "consistent"), (0.98999, "inconclusive"),
                                           (0.985, "inconclusive"), (0.98499, "not consistent")])
def test_settings_thresholds(best, verdict):
    e = explain.settings({(0.01, 10000): [0.97, 0.97], (0.001, 20000): [best, best]})
    assert e["verdict"] == verdict
    assert e["measured"]["best_short_by_points"] == pytest.approx(100 * (0.99 - best))


def test_conclusion_names_each_verdict():
    found = [{"name": "a", "verdict": "consistent"}, {"name": "b", "verdict": "not consistent"},
             {"name": "c", "verdict": "not consistent"}, {"name": "d", "verdict": "inconclusive"}]
    assert explain.conclusion(found) == (
        "The evidence supports `a`. It rules out `b`, `c`. It leaves open `d`. "
        "(By the rules stated with each explanation.)")


def test_grid_plan_serves_every_step_count_from_one_run():
    base = engine.RunSpec(name="", threads=1, init_from="tf1.15.5", dataset="fashion-mnist")
    specs = explain.plan_grid(base, explain.Grid(lrs=(0.003,), steps=(10000, 30000, 20000),
                                                 seeds=2))
    assert [(s.name, s.steps, s.lr, s.test_at) for s in specs] == [
        ("lstm-lr0.003-steps30000-seed0", 30000, 0.003, (10000, 20000)),
        ("lstm-lr0.003-steps30000-seed1", 30000, 0.003, (10000, 20000))]
    assert {(s.threads, s.init_from, s.dataset) for s in specs} == {(1, "tf1.15.5",
                                                                     "fashion-mnist")}
