"""Every kernel variant is proven equal to the faithful graph before it is timed or offered;
`bench --quick` writes a valid bench.json (no timing thresholds: figures are not pass/fail)."""

import json
import os
import subprocess
import sys

import pytest

from tf1_lstm.studies.tools import bench

from conftest import DATA_DIR, REPO, on_37, run_cli

ON_37 = on_37("the proofs are TF 1.15.5's arithmetic, the same build on 3.6, and bench --quick "
              "below proves each variant again before it times it")

PROVE = ("import json, sys; from tf1_lstm.studies.tools import bench; "
         "print(json.dumps(bench.prove_equal(sys.argv[1], sys.argv[2] == 'xla', sys.argv[3])))")


def prove(impl, xla, flags):
    """prove_equal in a fresh process, so TF_XLA_FLAGS is read before the first session."""
    env = dict(os.environ, TF_XLA_FLAGS=flags, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.check_output([sys.executable, "-c", PROVE, impl, "xla" if xla else "-",
                                   DATA_DIR], cwd=REPO, env=env, universal_newlines=True)
    return json.loads(out.strip().splitlines()[-1])


@ON_37
@pytest.mark.parametrize("variant", bench.VARIANTS,
                         ids=lambda v: v.impl + ("-xla" if v.xla else ""))
def test_variant_equals_the_faithful_graph(variant):
    proof = prove(variant.impl, variant.xla, bench.XLA_CPU_FLAG)
    for key in bench.JUDGED:
        assert proof[key] <= bench.TOLERANCE, (key, proof)
    assert proof["step_weights_max_abs_diff"] > 0.0  # reported, and really measured


@ON_37
def test_the_proof_catches_a_mislabelled_gate():
    """A transplant that mislabels two gates (the realistic way a variant goes wrong) fails."""
    from tf1_lstm.core import hparams
    x, y = bench.first_batch(DATA_DIR, seed=0)
    faithful = bench._one_step("basic", False, None, x, y)
    weights = dict(faithful["weights"])
    kernel = weights["rnn/basic_lstm_cell/kernel"].copy()
    units = hparams.N_NEURONS  # kernel columns are the gates i, j, f, o, `units` each
    kernel[:, units:2 * units], kernel[:, 2 * units:3 * units] = \
        kernel[:, 2 * units:3 * units].copy(), kernel[:, units:2 * units].copy()
    weights["rnn/basic_lstm_cell/kernel"] = kernel
    moved = bench._one_step("basic", False, weights, x, y)
    proof = bench.differences(faithful, moved, "basic")
    assert not bench.is_equal(proof), proof


@ON_37
def test_xla_is_really_on_when_enabled():
    """Without the CPU flag, global_jit_level does nothing here: results are bit-identical."""
    assert max(prove("basic", True, "").values()) == 0.0
    assert max(prove("basic", True, bench.XLA_CPU_FLAG).values()) > 0.0


@on_37("bench --quick times variants of the training loop the 3.6 suite runs in test_train, "
       "under the same TF 1.15.5 build; vermin holds its code to 3.6")
def test_quick_bench_writes_bench_json(tmp_path):
    out = str(tmp_path / "bench.json")
    code, stdout, err = run_cli(["bench", "--quick", "--data-dir", DATA_DIR, "--out", out])
    assert code == 0, err
    with open(out) as f:
        result = json.load(f)
    assert result["quick"] is True and result["batch_size"] == 64
    rows = result["rows"]
    for name in ("original bare loop", "tf1-lstm train (faithful)", "LSTMBlockCell",
                 "LSTMBlockFusedCell"):
        assert rows[name]["ms_per_step"] > 0, name
    assert all(r["equal"] for r in rows.values() if "equal" in r)
    assert result["faithful_overhead"] == pytest.approx(
        rows["tf1-lstm train (faithful)"]["ms_per_step"]
        / rows["original bare loop"]["ms_per_step"])
    assert "faithful / bare" in stdout


@ON_37
def test_train_with_a_fused_kernel(tmp_path):
    code, out, err = run_cli(["train", "--impl", "block", "--steps", "20", "--seed", "1",
                              "--out", str(tmp_path / "r"), "--data-dir", DATA_DIR])
    assert code == 0, err
    with open(os.path.join(str(tmp_path / "r"), "config.json")) as f:
        assert json.load(f)["impl"] == "block"
    assert run_cli(["train", "--impl", "fused", "--cell", "rnn", "--out",
                    str(tmp_path / "x")])[0] == 2


@on_37("it times the embedded report's engine code, which 3.6 runs in test_study_safety")
def test_scheduling_bench_splits_the_fixed_cost(tmp_path):
    """The engine's figures are printed as written, each part of the fixed cost measured."""
    out = str(tmp_path / "sched.json")
    code, stdout, err = run_cli(["bench-engine", "--runs", "2", "--steps", "30",
                                 "--out", out])
    assert code == 0, err
    with open(out) as f:
        result = json.load(f)
    parts = result["fixed_seconds_per_run_parts"]
    assert list(parts) == ["start_up", "test_and_save", "transfer"]
    assert parts["start_up"] > 0 and parts["test_and_save"] > 0  # TF import, the test set
    assert 0 < result["efficiency"] <= 1 and result["runs"] == 2 and result["workers"] == 2
    assert "scheduling efficiency %.3f" % result["efficiency"] in stdout, stdout
    assert "fixed cost per run %.1f s" % result["fixed_seconds_per_run"] in stdout, stdout
    assert "of which: start-up %.1f s (process, TF import, data, graph), test set and final " \
        "save %.1f s, result transfer %.1f s" % tuple(parts.values()) in stdout, stdout
