"""Fashion-MNIST, the second data set: fetched from the shared mirror through --mirror, checked
like MNIST (a file of the other set is named as such), trained for real, classes named."""

import gzip
import json
import os
import shutil

import numpy as np
import pytest

from tf1_lstm.core import data, datasets

from conftest import DATA_DIR, FASHION_MIRROR, on_37, run_cli

FASHION = datasets.FASHION_MNIST


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    """A data dir filled by the project's own fetch, from the verified offline mirror."""
    if not os.path.isdir(FASHION_MIRROR):
        pytest.skip("the verified Fashion-MNIST mirror (../shared/fashion-mnist) is not here")
    target = str(tmp_path_factory.mktemp("fashion") / "fashion-mnist")
    code, out, err = run_cli(["fetch-data", "--dataset", "fashion-mnist", "--data-dir", target,
                              "--mirror", FASHION_MIRROR])
    assert code == 0, err
    assert len([line for line in out.splitlines() if "  ok  " in line]) == 4
    return target


def test_fetched_files_are_the_canonical_ones(fashion_dir):
    sums = data.checksums(fashion_dir, "fashion-mnist")
    assert [s["idx_sha256"] for s in sums.values()] == [s.sha256 for s in FASHION.files.values()]
    with open(os.path.join(FASHION_MIRROR, "SHA256SUMS.idx.txt")) as f:
        published = dict(reversed(line.split()) for line in f if line.strip())
    assert {n: s.sha256 for n, s in FASHION.files.items()} == published


def test_same_split_and_sampler_as_mnist(fashion_dir):
    splits = data.read_data_sets(fashion_dir, seed=3, dataset="fashion-mnist")
    assert (splits.train.num_examples, splits.validation.num_examples,
            splits.test.num_examples) == (55000, 5000, 10000)
    labels = data.read_idx(fashion_dir, "t10k-labels-idx1-ubyte", dataset="fashion-mnist")
    assert np.bincount(labels).tolist() == [1000] * 10  # ten balanced classes: chance is 10%
    x, y = splits.train.next_batch(64)
    assert x.shape == (64, 784) and y.shape == (64, 10) and 0.0 <= x.min() <= x.max() <= 1.0


def test_mnist_files_in_the_fashion_folder_are_named_as_mnist(tmp_path):
    target = str(tmp_path / "fashion-mnist")
    shutil.copytree(DATA_DIR, target)
    with pytest.raises(data.DataError) as err:
        data.read_data_sets(target, seed=0, dataset="fashion-mnist")
    message = str(err.value)
    assert "is MNIST's train-images-idx3-ubyte, not Fashion-MNIST's" in message, message


def test_a_corrupt_fashion_file_is_refused(tmp_path, fashion_dir):
    target = str(tmp_path / "d")
    shutil.copytree(fashion_dir, target)
    path = os.path.join(target, "t10k-labels-idx1-ubyte.gz")
    with gzip.open(path) as f:
        raw = bytearray(f.read())
    raw[-1] = (raw[-1] + 1) % 10
    with open(path, "wb") as f:
        f.write(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataError) as err:
        data.read_data_sets(target, seed=0, dataset="fashion-mnist")
    assert "not the canonical Fashion-MNIST" in str(err.value)


@on_37("the training loop on other IDX bytes: 3.6 trains it in test_train and checks the "
       "Fashion-MNIST files above")
def test_a_short_real_training_and_named_classes(tmp_path, fashion_dir):
    run_dir = str(tmp_path / "run")
    code, out, err = run_cli(["train", "--dataset", "fashion-mnist", "--data-dir", fashion_dir,
                              "--steps", "300", "--seed", "0", "--threads", "1",
                              "--out", run_dir])
    assert code == 0, err
    assert "dataset=fashion-mnist" in out.splitlines()[0]
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    assert config["dataset"] == "fashion-mnist" and metrics["test_accuracy"] > 0.6
    assert set(config["data_checksums"]) == {n + ".gz" for n in FASHION.files}
    code, out, err = run_cli(["evaluate", run_dir, "--data-dir", fashion_dir, "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["classes"][0] == "T-shirt/top" and result["classes"][9] == "Ankle boot"
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
