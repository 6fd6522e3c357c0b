"""The rules that turn numbers into verdicts, on fixed inputs on both sides of every threshold.

No TensorFlow and no training: `./run test -m fast` runs these in seconds.
"""

import subprocess
import sys

import pytest

from tf1_lstm.studies import ablation, engine, report

pytestmark = pytest.mark.fast
CHANCE = 0.1135


def runs(*accuracies):
    return [{"test_accuracy": a} for a in accuracies]


def test_the_rule_modules_import_no_tensorflow():
    code = ("import sys; import tf1_lstm.studies.report, tf1_lstm.studies.ablation, "
            "tf1_lstm.studies.engine; sys.exit('tensorflow' in sys.modules)")
    assert subprocess.call([sys.executable, "-c", code]) == 0


@pytest.mark.parametrize("mean, verdict", [(0.9851, "reproduced"), (0.9849, "not reproduced"),
                                           (0.99, "reproduced"), (0.9769, "not reproduced")])
def test_lstm_claim_threshold(mean, verdict):
    (claim,) = report.claims({"lstm": runs(mean, mean)}, {"accuracy": CHANCE, "class": 1})
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
    (claim,) = report.claims({"rnn": runs(*accs)}, {"accuracy": CHANCE, "class": 1})
    assert claim["verdict"] == verdict
    assert claim["seeds_within"] == at_chance == claim["outcomes"]["at chance"]


def test_rnn_claim_note_names_what_each_other_seed_did():
    (claim,) = report.claims({"rnn": runs(0.0982, 0.1032, 0.2318, 0.0974, 0.0974)},
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
    found = ablation.explain(rows_, diagnostics or diag(), CHANCE)
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
    found = ablation.explain(rows(), diag(ratio=3.1e-9), CHANCE)
    evidence = next(f["evidence"] for f in found if f["hypothesis"] == "vanishing gradients")
    assert "3.1e-09" in evidence and " 0 of" not in evidence


# --- run reuse -------------------------------------------------------------------------------

SPEC = engine.RunSpec("lstm-seed3", "lstm", 3, 10000, 1)
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
