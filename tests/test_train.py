"""The training loop on real MNIST: run directory, determinism, learning, interruption."""

import json
import os
import signal
import time

import numpy as np
import tensorflow as tf

from tf1_lstm.core import training

from conftest import DATA_DIR, Cli


def read(run_dir, name):
    with open(os.path.join(run_dir, name)) as f:
        return json.load(f)


def short_run(tmp_path, name, **overrides):
    values = dict(steps=30, log_every=10, seed=4, run_dir=str(tmp_path / name), data_dir=DATA_DIR)
    values.update(overrides)
    return training.train(training.RunConfig.of(**values))


def test_run_directory_holds_config_metrics_and_checkpoint(tmp_path):
    metrics = short_run(tmp_path, "run")
    run_dir = str(tmp_path / "run")
    assert sorted(os.listdir(run_dir)) == ["config.json", "metrics.json", "model", "seal.json"]
    config = read(run_dir, "config.json")
    assert config["seed"] == 4 and config["seed_source"] == "given" and config["numpy_seed"] == 4
    assert config["parameters"] == 108910 and config["batch_size"] == 64 and config["lr"] == 0.01
    assert set(config["data_checksums"]) == {n + ".gz" for n in
                                             ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    assert read(run_dir, "metrics.json") == json.loads(json.dumps(metrics))
    assert metrics["status"] == "complete" and metrics["steps_done"] == 30
    assert [p["step"] for p in metrics["curve"]] == [0, 10, 20]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["versions"]["tensorflow"] == "1.15.5"
    checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, "model"))
    names = dict(tf.train.list_variables(checkpoint))
    assert names["rnn/basic_lstm_cell/kernel"] == [178, 600]
    assert names["fully_connected/weights"] == [150, 10]
    assert not [f for f in os.listdir(run_dir) if f.startswith(".")]


def test_same_seed_same_numbers(tmp_path):
    a = short_run(tmp_path, "a")
    b = short_run(tmp_path, "b")
    assert a["curve"] and [(p["train_accuracy"], p["loss"]) for p in a["curve"]] == \
        [(p["train_accuracy"], p["loss"]) for p in b["curve"]]
    assert a["test_accuracy"] == b["test_accuracy"]


def test_unseeded_run_records_the_seed_it_drew(tmp_path):
    metrics = short_run(tmp_path, "u", seed=None, steps=1)
    config = read(str(tmp_path / "u"), "config.json")
    assert config["seed_source"] == "drawn" and config["seed"] == metrics["seed"]
    assert 0 <= config["seed"] < 2 ** 31 - 1


def test_default_run_dir_name():
    path = training.default_run_dir("rnn", 7)
    assert path.startswith("runs" + os.sep) and path.endswith("-rnn-seed7")


def test_300_steps_learn(tmp_path):
    """A short real-data LSTM run already beats 85% test accuracy."""
    metrics = short_run(tmp_path, "learn", steps=300, log_every=100, seed=0)
    assert metrics["test_accuracy"] > 0.85, metrics["test_accuracy"]


def test_sigint_stops_cleanly_and_keeps_a_checkpoint(tmp_path):
    run_dir = str(tmp_path / "stopped")
    proc = Cli(["train", "--seed", "2", "--steps", "100000", "--out", run_dir])
    line = proc.stdout.readline()
    while line and not line.startswith("train accuracy ="):
        line = proc.stdout.readline()
    assert line, proc.stderr.read()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted by SIGINT" in out
    metrics = read(run_dir, "metrics.json")
    assert metrics["status"] == "interrupted" and 0 < metrics["steps_done"] < 100000
    assert metrics["test_accuracy"] is None
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir, "model")))
    beta = reader.get_tensor("beta1_power")  # Adam's beta1 ** (updates applied)
    assert np.isclose(beta, 0.9 ** (metrics["steps_done"] + 1), rtol=1e-4)


def test_test_points_leave_training_unchanged(tmp_path):
    """A run measured on the test set after step 20 continues exactly as one that is not, and
    its step-20 figure is what a 20-step run ends with."""
    longer = short_run(tmp_path, "longer", steps=40, test_at=(20,))
    plain = short_run(tmp_path, "plain", steps=40)
    shorter = short_run(tmp_path, "shorter", steps=20)
    assert longer["curve"] == [dict(p, elapsed=q["elapsed"]) for p, q in
                               zip(plain["curve"], longer["curve"])]
    assert longer["test_accuracy"] == plain["test_accuracy"]
    assert longer["tested"] == [{"step": 20, "test_accuracy": shorter["test_accuracy"]}]
