"""Diagnostics and ablations: dloss/dh_t is right, the flags change what they say and nothing
else, and a short diagnose run records every field."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tf1_lstm.core import data, model
from tf1_lstm.core.training import RunConfig
from tf1_lstm.studies.tools import diagnose

from conftest import DATA_DIR, on_37, run_cli
from oracle import numpy_forward, original_graph

DIAGNOSE_ON_37 = on_37("diagnose records TF 1.15.5's gradients and gates, the same build on 3.6, "
                       "whose suite trains the loop it hooks into in test_train")


def batch(n=64, seed=0):
    mnist = data.read_data_sets(DATA_DIR, seed=seed)
    x, y = mnist.train.next_batch(n)
    return x.reshape(-1, 28, 28), y


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_gradient_through_time_matches_finite_differences(cell):
    """<dloss/dh_t, d> against (loss(h_t + e d) - loss(h_t - e d)) / 2e, on a batch of 2."""
    x, y = batch(2)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        m = model.build(RunConfig(cell=cell))
        monitor = diagnose.Diagnostics(cell, every=1)
        monitor.build(m)
        with tf.Session() as sess:
            sess.run(m.init)
            feed = {m.X: x, m.Y_labels: y}
            loss, unrolled = sess.run([m.loss, monitor.unrolled_loss], feed)
            assert abs(loss - unrolled) < 1e-6
            hidden, grads = sess.run([monitor.hidden, monitor.d_hidden], feed)
            rng = np.random.RandomState(0)
            for t in (0, 13, 27):
                d = rng.randn(*hidden[t].shape).astype(np.float32)
                eps = 1e-2

                def loss_at(h_t):
                    return sess.run(monitor.unrolled_loss, {m.X: x, m.Y_labels: y,
                                                            monitor.hidden[t]: h_t})

                numeric = (loss_at(hidden[t] + eps * d) - loss_at(hidden[t] - eps * d)) / (2 * eps)
                analytic = float((grads[t] * d).sum())
                assert numeric == pytest.approx(analytic, rel=2e-2, abs=1e-6), \
                    (t, numeric, analytic)


def test_defaults_take_the_original_code_path():
    for cell in ("lstm", "rnn"):
        with tf.Graph().as_default() as explicit:
            model.build(RunConfig(cell=cell, lr=0.01, impl="basic", forget_bias=1.0, clip=None,
                                  init_from="own"))
        assert explicit.as_graph_def().node == original_graph(cell)[0].as_graph_def().node


def test_clip_bounds_the_applied_global_norm():
    x, y = batch()
    with tf.Graph().as_default():
        m = model.build(RunConfig(cell="rnn", clip=1.0))
        raw = tf.global_norm(tf.gradients(m.loss, tf.trainable_variables()))
        with tf.Session() as sess:
            sess.run(m.init)
            feed = {m.X: x, m.Y_labels: y}
            raw_norm, applied = sess.run([raw, m.applied_grad_norm], feed)
    assert raw_norm > 1.0 and applied == pytest.approx(1.0, rel=1e-5)


def test_forget_bias_reaches_the_cell_maths():
    x = np.random.RandomState(0).rand(3, 28, 28).astype(np.float32)
    with tf.Graph().as_default():
        m = model.build(RunConfig(forget_bias=0.0))
        assert m.cell._forget_bias == 0.0
        with tf.Session() as sess:
            sess.run(m.init)
            weights = sess.run({v.op.name: v for v in tf.trainable_variables()})
            logits = sess.run(m.logits, {m.X: x})
    w64 = {k: v.astype(np.float64) for k, v in weights.items()}
    np.testing.assert_allclose(logits, numpy_forward("lstm", x.astype(np.float64), w64, 0.0),
                               atol=1e-5)
    assert not np.allclose(logits, numpy_forward("lstm", x.astype(np.float64), w64, 1.0),
                           atol=1e-3)


def test_irnn_starts_from_the_identity():
    with tf.Graph().as_default():
        m = model.build(RunConfig(cell="irnn"))
        with tf.Session() as sess:
            sess.run(m.init)
            kernel, bias = sess.run(tf.trainable_variables()[:2])
    assert kernel.shape == (178, 150)
    assert np.array_equal(kernel[28:], np.eye(150, dtype=np.float32))
    assert np.abs(kernel[:28]).max() < 0.01 and not bias.any()
    assert m.cell._activation is tf.nn.relu


@DIAGNOSE_ON_37
def test_short_diagnose_run_records_every_field(tmp_path):
    run_dir = str(tmp_path / "diag")
    args = ["--cell", "rnn", "--seed", "2", "--steps", "201", "--data-dir", DATA_DIR]
    code, out, err = run_cli(["diagnose", "--every", "50", "--out", run_dir] + args)
    assert code == 0, err
    with open(os.path.join(run_dir, "diagnostics.json")) as f:
        result = json.load(f)
    assert [r["step"] for r in result["records"]] == [0, 50, 100, 150, 200]
    for record in result["records"]:
        assert len(record["grad_norm_per_time_step"]) == 28
        assert set(record["grad_norms"]) == {"rnn/basic_rnn_cell/kernel", "rnn/basic_rnn_cell/bias",
                                             "fully_connected/weights", "fully_connected/biases"}
        assert 0.0 <= record["saturated_fraction"] <= 1.0
        assert record["loss"] == pytest.approx(record["unrolled_loss"], abs=1e-5)
    for name in ("gradient_through_time.png", "saturation.png", "loss.png", "metrics.json"):
        assert os.path.isfile(os.path.join(run_dir, name))
    # The monitor only looks: training is the plain run's, value for value.
    code, plain, err = run_cli(["train", "--out", str(tmp_path / "plain")] + args)
    assert code == 0, err

    def pick(text):
        return [line.split()[3] for line in text.splitlines() if " accuracy = " in line]
    assert pick(out) == pick(plain)


@DIAGNOSE_ON_37
def test_lstm_diagnose_records_the_forget_gate(tmp_path):
    run_dir = str(tmp_path / "lstm")
    code, _, err = run_cli(["diagnose", "--cell", "lstm", "--seed", "0", "--steps", "60",
                            "--every", "30", "--out", run_dir, "--data-dir", DATA_DIR])
    assert code == 0, err
    with open(os.path.join(run_dir, "diagnostics.json")) as f:
        records = json.load(f)["records"]
    assert all(0.0 < r["mean_forget_gate"] < 1.0 for r in records)


def test_divergence_stops_cleanly(tmp_path):
    run_dir = str(tmp_path / "boom")
    code, out, err = run_cli(["diagnose", "--cell", "irnn", "--lr", "1000", "--seed", "0",
                              "--steps", "300", "--every", "10", "--out", run_dir,
                              "--data-dir", DATA_DIR])
    assert code == 0, err
    assert "Stopped after" in out and "non-finite" in out
    with open(os.path.join(run_dir, "diagnostics.json")) as f:
        result = json.load(f)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert json.load(f)["status"] == "diverged"
    assert result["first_nonfinite_step"] is not None
