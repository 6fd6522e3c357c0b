"""The 99% section end to end: a quick real report writes all four explanations, and the
128-image figure equals what the post's own graph computes from the same saved weights."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tf1_lstm.core import data
from tf1_lstm.studies.sections import explain

from conftest import DATA_DIR, on_37, run_cli
from oracle import original_graph

ON_37 = on_37("explanations are arithmetic on a run's predictions under TF 1.15.5, "
              "the same build on 3.6")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("explain") / "r")
    code, _, err = run_cli(["report", "--seeds", "2", "--cells", "lstm", "--steps", "200",
                            "--no-repeat", "--no-throughput", "--explain-99", "--grid",
                            "lr=0.003;steps=100,200", "--grid-seeds", "2", "--jobs", "2",
                            "--data-dir", DATA_DIR, "--out", out])
    assert code == 0, err
    with open(os.path.join(out, "report.json")) as f:
        return out, json.load(f)


@ON_37
def test_the_report_writes_every_explanation(quick):
    out, rep = quick
    section = rep["explain_99"]
    assert [e["name"] for e in section["explanations"]] == [
        "train_batch", "small_test", "seed_luck", "settings"]
    for e in section["explanations"]:
        assert set(e) == {"name", "question", "measured", "rule", "verdict"}
        assert e["verdict"] in ("consistent", "not consistent", "inconclusive")
    points = section["explanations"][3]["measured"]["points"]
    assert sorted((p["lr"], p["steps"]) for p in points) == [
        (0.003, 100), (0.003, 200), (0.01, 200)]
    # the grid's 200-step point is the runs' own final test accuracy
    grid_final = [m["test_accuracy"] for m in (
        json.load(open(os.path.join(out, "runs", "lstm-lr0.003-steps200-seed%d" % s,
                                    "metrics.json"))) for s in (0, 1))]
    assert next(p for p in points if p["steps"] == 200 and p["lr"] == 0.003)["per_seed"] == \
        grid_final
    with open(os.path.join(out, "explain_99.png"), "rb") as f:
        assert f.read(8) == PNG_MAGIC
    md = open(os.path.join(out, "report.md")).read()
    assert '## Where did "99%" come from?' in md and section["conclusion"] in md


@ON_37
def test_small_test_equals_the_original_graph_on_the_same_images(quick):
    out, _ = quick
    run_dir = os.path.join(out, "runs", "lstm-seed0")
    ours = explain.test_correct(run_dir, DATA_DIR)[:explain.SMALL_TEST].mean()
    test = data.read_data_sets(DATA_DIR, seed=0).test
    graph, names = original_graph("lstm")
    with graph.as_default(), tf.Session() as sess:
        tf.train.Saver().restore(sess, os.path.join(run_dir, "model", "model.ckpt"))
        theirs = sess.run(names["accuracy"], {
            names["X"]: test.images[:explain.SMALL_TEST].reshape(-1, 28, 28),
            names["Y_labels"]: test.labels[:explain.SMALL_TEST]})
    assert ours == pytest.approx(float(theirs), abs=1e-9)
    assert np.load(os.path.join(run_dir, explain.PREDICTIONS)).shape == (10000,)
