"""IDX parsing, verification, fetching, and parity of the sampler with TF 1.15's own reader."""

import contextlib
import functools
import gzip
import os
import shutil
import struct
import threading

import numpy as np
import pytest

from tf1_lstm.core import data, datasets, idx

LABELS = "train-labels-idx1-ubyte"


def idx_bytes(array, magic):
    ndim = magic & 0xFF
    return struct.pack(">i", magic) + struct.pack(">" + "i" * ndim, *array.shape) + \
        array.astype(np.uint8).tobytes()


# --- parsing ---------------------------------------------------------------------------------

def test_parse_idx_round_trip():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    labels = np.array([0, 9, 3])
    assert np.array_equal(idx.parse_idx(idx_bytes(images, 2051), 2051, (2, 3, 4)), images)
    assert np.array_equal(idx.parse_idx(idx_bytes(labels, 2049), 2049), labels)


@pytest.mark.parametrize("raw, magic, shape, message", [
    (b"\x00\x00", 2049, None, "not even a header"),
    (idx_bytes(np.zeros(3), 2049), 2051, None, "magic number 2049, expected 2051"),
    (struct.pack(">ii", 2051, 5), 2051, None, "header needs 16 bytes"),
    (idx_bytes(np.zeros((2, 3, 3)), 2051), 2051, (2, 3, 4),
     "dimensions [2, 3, 3], expected [2, 3, 4]"),
    (idx_bytes(np.zeros(5), 2049)[:-1], 2049, None, "truncated"),
    (idx_bytes(np.zeros(5), 2049) + b"\x00", 2049, None, "trailing bytes"),
    (idx_bytes(np.array([1, 10, 2]), 2049), 2049, None, "label 10, outside 0..9"),
])
def test_parse_idx_rejects(raw, magic, shape, message):
    with pytest.raises(data.DataError) as err:
        idx.parse_idx(raw, magic, shape, name="f")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_gzip_is_a_clear_error():
    blob = gzip.compress(idx_bytes(np.zeros(100), 2049))
    with pytest.raises(data.DataError) as err:
        idx.decompress(blob[: len(blob) // 2], "x.gz")
    assert "truncated gzip" in str(err.value)


def test_checksum_mismatch_names_the_file(tmp_path):
    labels = np.array([1, 2, 3])
    path = str(tmp_path / "labels.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(idx_bytes(labels, 2049)))
    spec = datasets.IdxSpec(data.sha256(idx_bytes(labels, 2049)), 2049, (3,))
    assert np.array_equal(data.load_idx(path, spec), labels)
    with pytest.raises(data.DataError) as err:
        data.load_idx(path, spec._replace(sha256="0" * 64))
    assert path in str(err.value) and "not the canonical MNIST" in str(err.value)


def test_committed_data_is_canonical(data_dir):
    for name, spec in data.FILES.items():
        path = data.find_file(data_dir, name)
        assert path and path.endswith(".gz"), "data/MNIST_data must ship %s.gz" % name
        assert data.load_idx(path, spec).shape == spec.shape


# --- fetching --------------------------------------------------------------------------------

@pytest.fixture
def no_public_mirrors(monkeypatch):
    """Keep the tests offline and deterministic wherever they run."""
    monkeypatch.setitem(datasets.DATASETS, "mnist",
                        datasets.MNIST._replace(mirrors=("http://127.0.0.1:9/",)))
    monkeypatch.delenv(datasets.MNIST.mirror_env, raising=False)


def _only_labels_missing(target, data_dir):
    """A new data dir holding every file but the train labels."""
    os.makedirs(str(target))
    for name in data.FILES:
        if name != LABELS:
            os.symlink(os.path.join(data_dir, name + ".gz"),
                       os.path.join(str(target), name + ".gz"))
    return str(target)


def test_fetch_from_local_mirror(tmp_path, data_dir, no_public_mirrors):
    target = _only_labels_missing(tmp_path / "d", data_dir)
    paths = data.ensure_files(target, mirrors=[data_dir])
    assert paths[LABELS] == os.path.join(target, LABELS + ".gz")
    assert sorted(os.listdir(target)) == sorted(n + ".gz" for n in data.FILES)


def test_fetch_from_environment_mirror(tmp_path, data_dir, no_public_mirrors, monkeypatch):
    target = _only_labels_missing(tmp_path / "d", data_dir)
    monkeypatch.setenv(datasets.MNIST.mirror_env, "/nonexistent/mirror " + data_dir)
    assert data.ensure_files(target)[LABELS].endswith(LABELS + ".gz")


@contextlib.contextmanager
def http_mirror(directory):
    """A real HTTP server on loopback serving `directory`."""
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory)) \
        if _handler_takes_directory() else _chdir_server(directory, Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _handler_takes_directory():
    import inspect
    from http.server import SimpleHTTPRequestHandler
    return "directory" in inspect.signature(SimpleHTTPRequestHandler.__init__).parameters


def _chdir_server(directory, handler):
    """Python 3.6's handler serves the working directory only."""
    from http.server import HTTPServer

    class InDir(handler):
        def translate_path(self, path):
            return os.path.join(directory, path.lstrip("/"))

    return HTTPServer(("127.0.0.1", 0), InDir)


def test_fetch_over_http(tmp_path, data_dir, no_public_mirrors):
    target = _only_labels_missing(tmp_path / "d", data_dir)
    with http_mirror(data_dir) as url:
        path = data.ensure_files(target, mirrors=[url])[LABELS]
    assert data.load_idx(path, data.FILES[LABELS]).shape == (60000,)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_bad_download_leaves_nothing(tmp_path, data_dir, no_public_mirrors, damage):
    target = _only_labels_missing(tmp_path / "d", data_dir)
    bad = tmp_path / "bad"
    os.makedirs(str(bad))
    with open(os.path.join(data_dir, LABELS + ".gz"), "rb") as f:
        blob = f.read()
    if damage == "truncate":
        blob = blob[:1000]
    else:  # a valid gzip whose contents differ by one label: only the checksum can tell
        raw = bytearray(gzip.decompress(blob))
        raw[-1] = (raw[-1] + 1) % 10
        blob = gzip.compress(bytes(raw))
    with open(str(bad / (LABELS + ".gz")), "wb") as f:
        f.write(blob)
    with http_mirror(str(bad)) as url:
        with pytest.raises(data.DataError) as err:
            data.ensure_files(target, mirrors=[url])
    message = str(err.value)
    assert LABELS + ".gz" in message and "--mirror" in message and "\n" not in message
    assert ("truncated" in message) if damage == "truncate" else ("SHA-256" in message)
    assert sorted(os.listdir(target)) == sorted(n + ".gz" for n in data.FILES if n != LABELS)


def test_offline_without_mirror_says_what_to_do(tmp_path, no_public_mirrors):
    target = str(tmp_path / "empty")
    with pytest.raises(data.DataError) as err:
        data.ensure_files(target)
    message = str(err.value)
    for name in data.FILES:
        assert name + ".gz" in message
    assert target in message and "--mirror" in message and datasets.MNIST.mirror_env in message
    assert not os.path.exists(target)  # the folder it made for the files is gone with them


def test_raw_idx_files_are_accepted(tmp_path, data_dir):
    target = str(tmp_path)
    for name in data.FILES:
        with gzip.open(os.path.join(data_dir, name + ".gz")) as src, \
                open(os.path.join(target, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    sums = data.checksums(target)
    assert [s["idx_sha256"] for s in sums.values()] == [s.sha256 for s in data.FILES.values()]
    assert data.read_data_sets(target, seed=1).test.num_examples == 10000


# --- the original's seeding and sampling -----------------------------------------------------

@pytest.mark.parametrize("op_seed, graph_seed", [
    (None, None), (None, 5), (1, None), (1, 1), (0, 0), (0, 3), (3, 0), (2 ** 31 - 1, 7),
    (12345, 12345)])
def test_numpy_seed_matches_tf_get_seed(op_seed, graph_seed):
    import tensorflow as tf
    from tensorflow.python.framework import random_seed
    with tf.Graph().as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        seed1, seed2 = random_seed.get_seed(op_seed)
    assert data.numpy_seed(op_seed, graph_seed) == (seed1 if op_seed is None else seed2)


def test_sampler_matches_tf_dataset_on_tiny_arrays():
    """Many epochs of a 10-example set with a batch of 3: every boundary case of next_batch."""
    import tensorflow as tf
    from tensorflow.contrib.learn.python.learn.datasets.mnist import DataSet as TFDataSet
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2, 1)
    labels = data.one_hot(np.arange(10) % 10)
    for seed in (0, 7, 99):
        with tf.Graph().as_default():
            theirs = TFDataSet(images, labels, seed=seed)
        ours = data.DataSet(data.to_float(images), labels, seed=data.numpy_seed(seed, None))
        for batch_size in (3, 3, 7, 1, 10, 3, 3, 4):
            x1, y1 = theirs.next_batch(batch_size)
            x2, y2 = ours.next_batch(batch_size)
            assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
        assert ours.epochs_completed == theirs.epochs_completed


@pytest.mark.parametrize("seed", [0, 1, 20240])
def test_batches_bit_identical_to_tf_reader(seed, data_dir):
    """The seeded original's batches, across the first epoch boundary (step 859 at batch 64)."""
    import tensorflow as tf
    from tensorflow.contrib.learn.python.learn.datasets.mnist import read_data_sets
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(seed)
        theirs = read_data_sets(data_dir, one_hot=True, seed=seed)
        ours = data.read_data_sets(data_dir, seed=data.numpy_seed(seed, graph.seed))
    for split in ("validation", "test"):
        assert np.array_equal(getattr(theirs, split).images, getattr(ours, split).images)
        assert np.array_equal(getattr(theirs, split).labels, getattr(ours, split).labels)
    assert ours.train.num_examples == 55000 and ours.validation.num_examples == 5000
    for step in range(900):
        x1, y1 = theirs.train.next_batch(64)
        x2, y2 = ours.train.next_batch(64)
        assert x1.dtype == x2.dtype == np.float32
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2), "batch %d differs" % step
    assert ours.train.epochs_completed == theirs.train.epochs_completed == 1
