"""MNIST input: verified IDX files, mirrors, and the original's `next_batch` sampler.

The original program called `input_data.read_data_sets('MNIST_data/', one_hot=True)`, i.e. TF
1.15's `contrib.learn` MNIST reader. This module reproduces that reader's split, pixel scaling
and sampling bit for bit (tests/test_data.py checks it against TF's own), but refuses data it
cannot verify: every file must hash to the canonical MNIST contents.
"""

import collections
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import zlib

import numpy as np

from tf1_lstm.core import hparams
from tf1_lstm.util import environment
from tf1_lstm.util.files import ensure_dir, remove_quietly

# SHA-256 of the decompressed IDX bytes: the canonical MNIST (LeCun, Cortes, Burges).
IdxSpec = collections.namedtuple("IdxSpec", "sha256 magic shape")
FILES = collections.OrderedDict([
    ("train-images-idx3-ubyte", IdxSpec(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 2051, (60000, 28, 28))),
    ("train-labels-idx1-ubyte", IdxSpec(
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 2049, (60000,))),
    ("t10k-images-idx3-ubyte", IdxSpec(
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 2051, (10000, 28, 28))),
    ("t10k-labels-idx1-ubyte", IdxSpec(
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 2049, (10000,))),
])

DATA_DIR_ENV = "TF1_LSTM_DATA_DIR"
MIRROR_ENV = "TF1_LSTM_MNIST_MIRROR"
# Public mirrors serving the four `.gz` files, tried in order after any user-given mirror.
DEFAULT_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TF 1.15's DEFAULT_SOURCE_URL
    "https://ossci-datasets.s3.amazonaws.com/mnist/",       # torchvision's mirror
    "http://yann.lecun.com/exdb/mnist/",                    # the original home
)
NUM_CLASSES = 10
_MAXINT32 = 2 ** 31 - 1
_DEFAULT_GRAPH_SEED = 87654321  # tensorflow/python/framework/random_seed.py


def default_data_dir():
    """$TF1_LSTM_DATA_DIR, else the checkout's committed copy, else ./data/MNIST_data."""
    if os.environ.get(DATA_DIR_ENV):
        return os.environ[DATA_DIR_ENV]
    checkout = os.path.join(environment.checkout_root(), "data", "MNIST_data")
    if os.path.isdir(checkout):
        return os.path.relpath(checkout) if checkout.startswith(os.getcwd() + os.sep) else checkout
    return os.path.join("data", "MNIST_data")


class DataError(Exception):
    """Bad, missing or unverifiable data; the message is one line naming the fix."""


# --- IDX files ------------------------------------------------------------------------------

def parse_idx(raw, magic, shape=None, name="IDX data", max_label=NUM_CLASSES - 1):
    """Parse unsigned-byte IDX bytes into an array, checking everything the header promises."""
    if len(raw) < 4:
        raise DataError("%s is truncated: %d bytes, not even a header" % (name, len(raw)))
    (found,) = struct.unpack(">i", raw[:4])
    if found != magic:
        raise DataError("%s has magic number %d, expected %d: wrong or corrupt file"
                        % (name, found, magic))
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("%s is truncated: header needs %d bytes, file has %d"
                        % (name, header, len(raw)))
    dims = struct.unpack(">" + "i" * ndim, raw[4:header])
    if shape is not None and tuple(dims) != tuple(shape):
        raise DataError("%s has dimensions %s, expected %s" % (name, list(dims), list(shape)))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError("%s is %d bytes, expected %d for dimensions %s: %s"
                        % (name, len(raw), expected, list(dims),
                           "truncated" if len(raw) < expected else "trailing bytes"))
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.size and int(array.max()) > max_label:
        raise DataError("%s has label %d, outside 0..%d" % (name, int(array.max()), max_label))
    return array


def decompress(blob, name):
    """Raw IDX bytes from a gzip or plain file's contents."""
    if blob[:2] != b"\x1f\x8b":
        return blob
    try:
        return gzip.decompress(blob)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError("%s is a truncated or corrupt gzip file (%s): delete it and fetch it again"
                        % (name, err))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def load_idx(path, spec):
    """Read, verify against the canonical checksum, and parse one MNIST file."""
    with open(path, "rb") as f:
        raw = decompress(f.read(), path)
    digest = sha256(raw)
    if digest != spec.sha256:
        raise DataError("%s has SHA-256 %s, not the canonical MNIST %s: delete it and fetch it "
                        "again"
                        % (path, digest[:16] + "...", spec.sha256[:16] + "..."))
    return parse_idx(raw, spec.magic, spec.shape, name=path)


def read_idx(data_dir, name, mirrors=()):
    """One verified file of the data set in data_dir (fetched if missing), as an array."""
    return load_idx(ensure_files(data_dir or default_data_dir(), mirrors)[name], FILES[name])


def find_file(data_dir, name):
    """The gzip or raw copy of `name` in data_dir, or None."""
    for candidate in (name + ".gz", name):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    return None


# --- fetching -------------------------------------------------------------------------------

def mirror_list(extra=()):
    """User mirrors (flags, then the environment variable) before the public ones."""
    env = os.environ.get(MIRROR_ENV, "")
    return [m for m in list(extra) + env.split() if m] + list(DEFAULT_MIRRORS)


def _is_url(mirror):
    return "://" in mirror


def _copy_with_progress(src, dst, total, label):
    """Copy in chunks, with a progress bar when stderr is a terminal."""
    from tqdm import tqdm
    done = 0
    with tqdm(total=total or None, unit="B", unit_scale=True, desc=label, leave=False,
              disable=None, file=sys.stderr) as bar:
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                break
            dst.write(chunk)
            done += len(chunk)
            bar.update(len(chunk))
    return done


def _download(mirror, filename, dst):
    """Copy mirror/filename into the open file dst; raise on any failure."""
    if not _is_url(mirror):
        path = os.path.join(mirror, filename)
        with open(path, "rb") as src:
            _copy_with_progress(src, dst, os.path.getsize(path), filename)
        return
    from urllib.request import urlopen
    url = mirror.rstrip("/") + "/" + filename
    response = urlopen(url, timeout=60)
    try:
        total = int(response.headers.get("Content-Length") or 0)
        _copy_with_progress(response, dst, total, filename)
    finally:
        response.close()


def fetch(name, spec, data_dir, mirrors):
    """Fetch one file into data_dir from the first mirror with a verified copy; return its path.

    Each attempt goes to a temp file in data_dir and is renamed only once its checksum matches,
    so a bad or partial download never sits under the final name.
    """
    errors = []
    for mirror in mirrors:
        for filename in (name + ".gz", name):
            if _is_url(mirror) and filename == name:
                continue  # the public mirrors serve gzip only
            if not _is_url(mirror) and not os.path.isfile(os.path.join(mirror, filename)):
                continue
            fd, tmp = tempfile.mkstemp(prefix="." + filename + ".", suffix=".part", dir=data_dir)
            try:
                with os.fdopen(fd, "wb") as dst:
                    _download(mirror, filename, dst)
                load_idx(tmp, spec)
                final = os.path.join(data_dir, filename)
                os.replace(tmp, final)
                print("Fetched %s from %s" % (filename, mirror), file=sys.stderr)
                return final
            except Exception as err:  # any failure means: try the next mirror
                remove_quietly(tmp)
                errors.append("%s: %s" % (mirror, str(err).splitlines()[0] if str(err) else
                                          type(err).__name__))
            break
        else:
            errors.append("%s: no %s there" % (mirror, name))
    raise DataError("could not fetch %s (%s)" % (name, "; ".join(errors)))


def ensure_files(data_dir, mirrors=()):
    """Paths of the four verified files, fetching the missing ones; one clear error if offline."""
    if not os.path.isdir(data_dir):
        try:
            ensure_dir(data_dir)
        except OSError as err:
            raise DataError("data dir %s does not exist and cannot be created (%s)"
                            % (data_dir, err.strerror))
    paths = {name: find_file(data_dir, name) for name in FILES}
    missing = [name for name in FILES if paths[name] is None]
    if missing:
        paths.update(_fetch_missing(missing, data_dir, mirror_list(mirrors)))
    return paths


def _fetch_missing(missing, data_dir, mirrors):
    paths, failures = {}, []
    for name in missing:
        try:
            paths[name] = fetch(name, FILES[name], data_dir, mirrors)
        except DataError as err:
            failures.append(str(err))
    if failures:
        raise DataError(
            "MNIST files missing from %s and not fetched: %s. Copy the four .gz files there "
            "(e.g. from a checkout's data/MNIST_data/), or pass --mirror DIR_OR_URL or set %s. "
            "Details: %s" % (data_dir, ", ".join(n + ".gz" for n in missing), MIRROR_ENV,
                             " | ".join(failures)))
    return paths


def checksums(data_dir):
    """SHA-256 of each file as stored (gzip) and of its IDX contents, for the environment record."""
    sums = collections.OrderedDict()
    for name in FILES:
        path = find_file(data_dir, name)
        if path is None:
            continue
        with open(path, "rb") as f:
            blob = f.read()
        sums[os.path.basename(path)] = {"file_sha256": sha256(blob),
                                        "idx_sha256": sha256(decompress(blob, path))}
    return sums


# --- the original's DataSet ------------------------------------------------------------------

def numpy_seed(op_seed, graph_seed):
    """The NumPy seed TF 1.15's DataSet(seed=op_seed) uses under graph seed graph_seed.

    Mirrors `random_seed.get_seed`: DataSet seeds NumPy with seed1 if op_seed is None, else seed2,
    and TF replaces the pair (0, 0) by (0, 2**31 - 1).
    """
    if op_seed is None:
        return None if graph_seed is None else graph_seed % _MAXINT32
    pair = (_DEFAULT_GRAPH_SEED if graph_seed is None else graph_seed % _MAXINT32,
            op_seed % _MAXINT32)
    return _MAXINT32 if pair == (0, 0) else pair[1]


def one_hot(labels, num_classes=NUM_CLASSES):
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


Datasets = collections.namedtuple("Datasets", "train validation test")


def to_float(images):
    """uint8 [n, 28, 28] -> float32 [n, 784] in [0, 1], with TF's exact arithmetic."""
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    return np.multiply(flat, 1.0 / 255.0)


def read_data_sets(data_dir=None, seed=None, mirrors=(),
                   validation_size=hparams.VALIDATION_SIZE):
    """The original's `read_data_sets(data_dir, one_hot=True)`; `seed` is the NumPy seed.

    TF seeds NumPy once per DataSet with the same value and only train draws from it, so one
    RandomState for train reproduces its batches (see `numpy_seed` for the value).
    """
    paths = ensure_files(data_dir or default_data_dir(), mirrors)
    arrays = {name: load_idx(paths[name], spec) for name, spec in FILES.items()}
    train_images = arrays["train-images-idx3-ubyte"]
    train_labels = arrays["train-labels-idx1-ubyte"]
    if not 0 <= validation_size <= len(train_images):
        raise DataError("validation size must be between 0 and %d, got %d"
                        % (len(train_images), validation_size))

    def make(images, labels, rng_seed):
        return DataSet(to_float(images), one_hot(labels), seed=rng_seed)

    return Datasets(
        train=make(train_images[validation_size:], train_labels[validation_size:], seed),
        validation=make(train_images[:validation_size], train_labels[:validation_size], seed),
        test=make(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"], seed))
