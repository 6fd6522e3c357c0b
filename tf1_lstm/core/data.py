"""The post's input: verified IDX files, and the original's `next_batch` sampler.

The original program called `input_data.read_data_sets('MNIST_data/', one_hot=True)`, i.e. TF
1.15's `contrib.learn` MNIST reader. This module reproduces that reader's split, pixel scaling
and sampling bit for bit (tests/test_data.py checks it against TF's own), but refuses data it
cannot verify: every file must hash to the canonical contents of its data set (datasets.py).
"""

import collections
import os
from typing import Dict, Optional, Sequence

import numpy as np

from tf1_lstm.core import datasets, hparams
from tf1_lstm.core.fetch import Unwritable, fetch, mirror_list
from tf1_lstm.core.idx import DataError, decompress, load_idx, sha256
from tf1_lstm.util import environment
from tf1_lstm.util.files import remove_quietly

__all__ = ["DataError", "read_data_sets", "ensure_files", "read_idx", "checksums"]
FILES = datasets.MNIST.files  # the post's four files
_MAXINT32 = 2 ** 31 - 1
_DEFAULT_GRAPH_SEED = 87654321  # tensorflow/python/framework/random_seed.py


def default_data_dir(dataset: Optional[str] = None) -> str:
    """The data set's environment variable, else the checkout's copy (data/<folder>), else
    ./data/<folder>."""
    dataset = datasets.get(dataset)
    if os.environ.get(dataset.data_dir_env):
        return os.environ[dataset.data_dir_env]
    checkout = os.path.join(environment.checkout_root(), "data", dataset.folder)
    if os.path.isdir(os.path.dirname(checkout)):
        return os.path.relpath(checkout) if checkout.startswith(os.getcwd() + os.sep) else checkout
    return os.path.join("data", dataset.folder)


def find_file(data_dir: str, name: str) -> Optional[str]:
    """The gzip or raw copy of `name` in data_dir, or None."""
    for candidate in (name + ".gz", name):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx(data_dir: Optional[str], name: str, mirrors: Sequence[str] = (),
             dataset: Optional[str] = None) -> np.ndarray:
    """One verified file of the data set in data_dir (fetched if missing), as an array."""
    dataset = datasets.get(dataset)
    paths = ensure_files(data_dir or default_data_dir(dataset.name), mirrors, dataset.name)
    return load_idx(paths[name], dataset.files[name], dataset)


def ensure_files(data_dir: str, mirrors: Sequence[str] = (),
                 dataset: Optional[str] = None) -> Dict[str, str]:
    """Paths of the four files, fetching the missing ones; one clear error if that fails."""
    dataset = datasets.get(dataset)
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError("--data-dir %s is a file, not a folder: pass the folder holding the "
                        "four %s files" % (data_dir, dataset.title))
    paths = {name: find_file(data_dir, name) for name in dataset.files}
    missing = [name for name in dataset.files if paths[name] is None]
    if missing:
        paths.update(_fetch_missing(missing, data_dir, mirror_list(dataset, mirrors), dataset))
    return paths


class MissingData(DataError):
    """Files a run needs that are not in its data folder and could not be fetched: what a
    study's worker without data meets, told apart from other errors by its kind."""

    kind = "missing data"

    def __init__(self, dataset, data_dir, files, details):
        self.summary = ("%s files missing from %s and not fetched: %s."
                        % (dataset.title, data_dir, ", ".join(files)))
        self.dataset = dataset.name  # whose data folder variable names the fix
        super().__init__("%s Copy the .gz files there, or pass --mirror DIR_OR_URL or set %s. "
                         "Details: %s" % (self.summary, dataset.mirror_env, " | ".join(details)))

    def fields(self):
        return {"summary": self.summary, "dataset": self.dataset}


def _fetch_missing(missing, data_dir, mirrors, dataset):
    """Fetch the missing files; a folder made for them and left empty is removed again."""
    made = not os.path.isdir(data_dir)
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as err:
        raise DataError("data dir %s cannot be created (%s): pass an existing --data-dir"
                        % (data_dir, err.strerror))
    paths, failed, stalled = {}, [], set()
    try:
        for name in missing:
            try:
                paths[name] = fetch(name, dataset.files[name], data_dir, mirrors, dataset,
                                    stalled)
            except Unwritable:
                raise
            except DataError as err:
                failed.append((name, str(err)))
    finally:
        if made and not os.listdir(data_dir):
            remove_quietly(data_dir)
    if failed:
        raise MissingData(dataset, data_dir, [n + ".gz" for n, _ in failed],
                          [e for _, e in failed])
    return paths


def checksums(data_dir: str, dataset: Optional[str] = None) -> Dict[str, dict]:
    """SHA-256 of each file as stored (gzip) and of its IDX contents, for the environment record."""
    dataset = datasets.get(dataset)
    sums = collections.OrderedDict()
    for name, spec in dataset.files.items():
        path = find_file(data_dir, name)
        if path is None:
            continue
        with open(path, "rb") as f:
            blob = f.read()
        sums[os.path.basename(path)] = {"file_sha256": sha256(blob), "idx_sha256": sha256(
            decompress(blob, path, 4 + 4 * len(spec.shape) + int(np.prod(spec.shape))))}
    return sums


# --- the original's DataSet ------------------------------------------------------------------

def numpy_seed(op_seed: Optional[int], graph_seed: Optional[int]) -> Optional[int]:
    """The NumPy seed TF 1.15's DataSet(seed=op_seed) uses under graph seed graph_seed.

    Mirrors `random_seed.get_seed`: DataSet seeds NumPy with seed1 if op_seed is None, else seed2,
    and TF replaces the pair (0, 0) by (0, 2**31 - 1).
    """
    if op_seed is None:
        return None if graph_seed is None else graph_seed % _MAXINT32
    pair = (_DEFAULT_GRAPH_SEED if graph_seed is None else graph_seed % _MAXINT32,
            op_seed % _MAXINT32)
    return _MAXINT32 if pair == (0, 0) else pair[1]


def one_hot(labels: np.ndarray, num_classes: int = hparams.N_OUTPUTS) -> np.ndarray:
    """Float64 one-hot rows, as TF's dense_to_one_hot makes them."""
    out = np.zeros((labels.shape[0], num_classes))
    out[np.arange(labels.shape[0]), labels] = 1
    return out


class DataSet:
    """`next_batch` with TF 1.15 `DataSet` semantics, on a private RandomState.

    TF shuffles the arrays in place; keeping an index order instead gives the same batches
    without copying 170 MB each epoch, and its state is small enough to checkpoint.
    """

    def __init__(self, images, labels, seed=None):
        assert images.shape[0] == labels.shape[0]
        self.images = images
        self.labels = labels
        self.num_examples = images.shape[0]
        self._rng = np.random.RandomState(seed)
        self._order = np.arange(self.num_examples)
        self.epochs_completed = 0
        self._index_in_epoch = 0

    def _shuffle(self):
        perm = np.arange(self.num_examples)
        self._rng.shuffle(perm)
        self._order = self._order[perm]

    def next_batch(self, batch_size):
        start = self._index_in_epoch
        if self.epochs_completed == 0 and start == 0:
            self._shuffle()
        if start + batch_size > self.num_examples:
            self.epochs_completed += 1
            rest = self._order[start:]
            self._shuffle()
            self._index_in_epoch = batch_size - rest.shape[0]
            index = np.concatenate((rest, self._order[:self._index_in_epoch]))
        else:
            self._index_in_epoch += batch_size
            index = self._order[start:self._index_in_epoch]
        return self.images[index], self.labels[index]

    def get_state(self):
        """Everything next_batch depends on, as arrays (for checkpoints)."""
        name, keys, pos, has_gauss, gauss = self._rng.get_state()
        return {"order": self._order, "index_in_epoch": np.array(self._index_in_epoch),
                "epochs_completed": np.array(self.epochs_completed), "rng_keys": keys,
                "rng_pos": np.array(pos), "rng_has_gauss": np.array(has_gauss),
                "rng_gauss": np.array(gauss)}

    def set_state(self, state):
        if state["order"].shape != (self.num_examples,):
            raise ValueError("sampler state is for %d examples, this set has %d"
                             % (state["order"].shape[0], self.num_examples))
        self._order = np.array(state["order"])
        self._index_in_epoch = int(state["index_in_epoch"])
        self.epochs_completed = int(state["epochs_completed"])
        self._rng.set_state(("MT19937", np.array(state["rng_keys"], dtype=np.uint32),
                             int(state["rng_pos"]), int(state["rng_has_gauss"]),
                             float(state["rng_gauss"])))


Splits = collections.namedtuple("Splits", "train validation test")  # read_data_sets' three


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 28, 28] -> float32 [n, 784] in [0, 1], with TF's exact arithmetic."""
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    return np.multiply(flat, 1.0 / 255.0)


def read_data_sets(data_dir: Optional[str] = None, seed: Optional[int] = None,
                   mirrors: Sequence[str] = (), validation_size: int = hparams.VALIDATION_SIZE,
                   dataset: Optional[str] = None) -> "Splits":
    """The original's `read_data_sets(data_dir, one_hot=True)`; `seed` is the NumPy seed.

    TF seeds NumPy once per DataSet with the same value and only train draws from it, so one
    RandomState for train reproduces its batches (see `numpy_seed` for the value). `dataset`
    (default: MNIST, the post's) names another set of the same format, read the same way.
    """
    dataset = datasets.get(dataset)
    paths = ensure_files(data_dir or default_data_dir(dataset.name), mirrors, dataset.name)
    arrays = {name: load_idx(paths[name], spec, dataset)
              for name, spec in dataset.files.items()}
    train_images = arrays["train-images-idx3-ubyte"]
    train_labels = arrays["train-labels-idx1-ubyte"]
    if not 0 <= validation_size <= len(train_images):
        raise DataError("validation size must be between 0 and %d, got %d"
                        % (len(train_images), validation_size))

    def make(images, labels, rng_seed):
        return DataSet(to_float(images), one_hot(labels), seed=rng_seed)

    return Splits(
        train=make(train_images[validation_size:], train_labels[validation_size:], seed),
        validation=make(train_images[:validation_size], train_labels[:validation_size], seed),
        test=make(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"], seed))
