"""Checkpoints and bit-identical resume (SIGKILL included), evaluate, predict, TensorBoard,
SavedModel: all on one short real training run."""

import glob
import json
import os
import signal

import numpy as np
import pytest

from conftest import DATA_DIR, Cli, on_37, run_cli

ON_37 = on_37("resuming restores TF 1.15.5's checkpoints, the same build on 3.6, where "
              "test_train stops a run and keeps its checkpoint and test_reliability falls back "
              "from a hand-emptied one")

STEPS = 600
ARGS = ["--seed", "3", "--steps", str(STEPS), "--checkpoint-every", "100", "--threads", "1",
        "--data-dir", DATA_DIR]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its printed values and its run directory."""
    run_dir = str(tmp_path_factory.mktemp("ref") / "run")
    code, out, err = run_cli(["train", "--out", run_dir, "--tensorboard"] + ARGS)
    assert code == 0, err
    return logged(out), run_dir


def logged(out):
    """{step: value} of the train lines, and the test value, from a run's stdout."""
    steps = {}
    test = None
    for line in out.splitlines():
        if line.startswith("train accuracy ="):
            steps[int(line.split("(step ")[1].split("/")[0])] = line.split()[3]
        elif line.startswith("test accuracy ="):
            test = line.split()[3]
    return steps, test


def kill_after(run_dir, step, sig):
    """Start a run, send `sig` once it has printed step `step`; return its stdout so far."""
    proc = Cli(["train", "--out", run_dir] + ARGS)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("train accuracy =") and "(step %d/" % step in line:
            proc.send_signal(sig)
            break
    rest, err = proc.communicate(timeout=300)
    return proc.returncode, "".join(seen) + rest, err


@pytest.fixture(scope="module")
def reference_logged(reference):
    return reference[0]


@ON_37
def test_sigkill_then_resume_equals_the_uninterrupted_run(tmp_path, reference_logged):
    run_dir = str(tmp_path / "killed")
    code, before, _ = kill_after(run_dir, 200, signal.SIGKILL)
    assert code == -signal.SIGKILL
    code, out, err = run_cli(["train", "--resume", run_dir])
    assert code == 0, err
    resumed_from = int(out.split("after ")[1].split(" steps")[0])
    assert 200 <= resumed_from < STEPS
    steps, test = logged(out)
    ref_steps, ref_test = reference_logged
    assert steps and all(s >= resumed_from for s in steps)
    assert steps == {s: v for s, v in ref_steps.items() if s >= resumed_from}
    assert test == ref_test
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["status"] == "complete" and metrics["resumed_from_step"] == resumed_from
    assert [p["step"] for p in metrics["curve"]] == sorted(ref_steps)  # the curve is whole


@ON_37
def test_damaged_newest_checkpoint_falls_back(tmp_path, reference_logged):
    run_dir = str(tmp_path / "damaged")
    code, _, err = kill_after(run_dir, 200, signal.SIGTERM)
    assert code == 130, err
    newest = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "step-*")))
    assert len(newest) == 3  # only the last few are kept
    for data_file in glob.glob(os.path.join(newest[-1], "model.ckpt.data-*")):
        with open(data_file, "r+b") as f:
            f.truncate(100)
    os.makedirs(os.path.join(run_dir, "checkpoints", ".step-000999.tmp-a1b2c3"))  # a killed write
    code, out, err = run_cli(["train", "--resume", run_dir])
    assert code == 0, err
    resumed_from = int(out.split("after ")[1].split(" steps")[0])
    assert resumed_from == int(os.path.basename(newest[-2]).split("-")[1])
    steps, test = logged(out)
    assert steps == {s: v for s, v in reference_logged[0].items() if s >= resumed_from}
    assert test == reference_logged[1]
    assert not glob.glob(os.path.join(run_dir, "checkpoints", ".*.tmp-*"))


def test_resume_refuses_flags_and_finished_runs(reference, capsys):
    from tf1_lstm import cli
    assert cli.main(["train", "--resume", reference[1], "--steps", "5"]) == 2
    assert "drop --steps" in capsys.readouterr().err
    assert cli.main(["train", "--resume", reference[1]]) == 2
    assert "already complete" in capsys.readouterr().err


def test_evaluate_matches_training_test_accuracy(reference):
    _, run_dir = reference
    code, out, err = run_cli(["evaluate", run_dir, "--json", "--data-dir", DATA_DIR])
    assert code == 0, err
    result = json.loads(out)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert result["accuracy"] == json.load(f)["test_accuracy"]
    confusion = np.array(result["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert np.trace(confusion) == round(result["accuracy"] * 10000)
    assert len(result["worst"]) == 25 and all(w["label"] != w["predicted"] for w in result["worst"])
    for name in ("evaluation.json", "confusion.png", "worst.png"):
        assert os.path.isfile(os.path.join(run_dir, "evaluate-test", name))
    code, out, _ = run_cli(["evaluate", run_dir, "--split", "validation", "--data-dir", DATA_DIR])
    assert code == 0 and "validation accuracy =" in out and "true \\ predicted" in out


def test_predict_reads_real_digits_from_png(reference, tmp_path):
    from PIL import Image

    from tf1_lstm.core import data
    from tf1_lstm.serving import loader
    _, run_dir = reference
    test = data.read_data_sets(DATA_DIR, seed=0).test
    images, labels = test.images[:40], test.labels[:40].argmax(axis=1)
    with loader.load(run_dir) as loaded:
        probabilities, _ = loader.predict(loaded, images)
    confident = [i for i in range(40) if probabilities[i].argmax() == labels[i]
                 and probabilities[i].max() > 0.95][:10]
    assert len(confident) >= 5
    paths, big = [], []
    for i in confident:
        pixels = (images[i].reshape(28, 28) * 255).round().astype(np.uint8)
        paths.append(str(tmp_path / ("digit%d.png" % i)))
        Image.fromarray(pixels).save(paths[-1])
        big.append(str(tmp_path / ("big-inverted%d.png" % i)))  # 4x larger, black on white
        Image.fromarray(255 - pixels).resize((112, 112), Image.NEAREST).save(big[-1])
    code, out, err = run_cli(["predict", run_dir, "--json"] + paths + big)
    assert code == 0, err
    rows = json.loads(out)
    expected = [int(labels[i]) for i in confident]
    assert [r["label"] for r in rows[:len(paths)]] == expected
    assert [r["inverted"] for r in rows] == [False] * len(paths) + [True] * len(big)
    exact = [r["probabilities"] for r in rows[:len(paths)]]
    assert np.allclose(exact, probabilities[confident], atol=1e-6)
    hits = sum(r["label"] == e for r, e in zip(rows[len(paths):], expected))
    assert hits >= len(big) - 1, rows[len(paths):]


def test_predict_errors(reference, tmp_path, capsys):
    from tf1_lstm import cli
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    assert cli.main(["predict", reference[1], str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read %s as an image" % bad in err and len(err.strip().splitlines()) == 1
    assert cli.main(["predict", str(tmp_path), str(bad)]) == 2
    assert cli.main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_savedmodel_round_trip(reference, tmp_path):
    import tensorflow as tf

    from tf1_lstm.core import data
    from tf1_lstm.serving import loader
    _, run_dir = reference
    out = str(tmp_path / "exported")
    code, _, err = run_cli(["export", run_dir, out])
    assert code == 0, err
    images = data.read_data_sets(DATA_DIR, seed=0).test.images[:50].reshape(-1, 28, 28)
    with loader.load(run_dir) as loaded:
        expected, classes = loader.predict(loaded, images)
    with tf.Graph().as_default(), tf.Session() as sess:
        meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING], out)
        signature = meta.signature_def["serving_default"]
        got, got_classes = sess.run(
            [signature.outputs["probabilities"].name, signature.outputs["classes"].name],
            {signature.inputs["images"].name: images})
    assert np.allclose(got, expected, atol=1e-6) and (got_classes == classes).all()
    assert run_cli(["export", run_dir, out])[0] == 2  # never overwrites


def test_tensorboard_scalars(reference):
    import tensorflow as tf
    _, run_dir = reference
    (events,) = glob.glob(os.path.join(run_dir, "tensorboard", "events.out.tfevents.*"))
    tags = {}
    graph_seen = False
    for event in tf.compat.v1.train.summary_iterator(events):
        graph_seen = graph_seen or event.HasField("graph_def")
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append(event.step)
    assert graph_seen
    assert tags["train_accuracy"] == tags["loss"] == list(range(0, STEPS, 200))
    assert tags["test_accuracy"] == [STEPS]
