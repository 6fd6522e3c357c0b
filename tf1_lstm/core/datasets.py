"""The data sets the program reads: MNIST (the post's) and Fashion-MNIST, same format and size.

Each is identified by the SHA-256 of its decompressed IDX bytes, so a file is accepted only if it
is exactly the canonical one, however it was gzipped, and a file of the other set is named as such.
"""

import collections
from typing import NamedTuple, Optional, Tuple

from tf1_lstm.core import hparams


class IdxSpec(NamedTuple):
    """What one canonical IDX file must be."""
    sha256: str             # SHA-256 of the decompressed IDX bytes
    magic: int              # 2051 for images, 2049 for labels
    shape: Tuple[int, ...]  # the dimensions in its header


class DatasetSpec(NamedTuple):
    """One data set of MNIST's shape: four IDX files, ten classes."""
    name: str               # the --dataset value
    title: str              # for messages and reports
    folder: str             # default folder under the checkout's data/
    files: dict             # {file name without .gz: IdxSpec}, in read_data_sets' order
    mirrors: Tuple[str, ...]  # public mirrors of the .gz files, tried in order
    classes: Tuple[str, ...]  # class names, by label
    data_dir_env: str       # environment variable naming its folder
    mirror_env: str         # environment variable listing extra mirrors


def _files(train_images, train_labels, test_images, test_labels):
    return collections.OrderedDict([
        ("train-images-idx3-ubyte", IdxSpec(train_images, 2051, (60000, 28, 28))),
        ("train-labels-idx1-ubyte", IdxSpec(train_labels, 2049, (60000,))),
        ("t10k-images-idx3-ubyte", IdxSpec(test_images, 2051, (10000, 28, 28))),
        ("t10k-labels-idx1-ubyte", IdxSpec(test_labels, 2049, (10000,))),
    ])


MNIST = DatasetSpec(
    name="mnist", title="MNIST", folder="MNIST_data",
    files=_files("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",  # TF 1.15's default
             "https://ossci-datasets.s3.amazonaws.com/mnist/",       # torchvision's mirror
             "http://yann.lecun.com/exdb/mnist/"),                   # the original home
    classes=tuple(str(d) for d in range(hparams.N_OUTPUTS)),
    data_dir_env="TF1_LSTM_DATA_DIR", mirror_env="TF1_LSTM_MNIST_MIRROR")

FASHION_MNIST = DatasetSpec(  # Xiao, Rasul & Vollgraf (2017), Zalando SE, MIT licence
    name="fashion-mnist", title="Fashion-MNIST", folder="fashion-mnist",
    files=_files("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
             "data/fashion/",
             "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    data_dir_env="TF1_LSTM_FASHION_MNIST_DATA_DIR", mirror_env="TF1_LSTM_FASHION_MNIST_MIRROR")

DATASETS = collections.OrderedDict((d.name, d) for d in (MNIST, FASHION_MNIST))
NAMES = tuple(DATASETS)


def get(name: Optional[str]) -> DatasetSpec:
    """The DatasetSpec called `name` (the default, MNIST, for None)."""
    return DATASETS[name or MNIST.name]


def identify(sha256: str) -> Optional[str]:
    """'MNIST's train-images-idx3-ubyte' for a known digest, else None."""
    for dataset in DATASETS.values():
        for name, spec in dataset.files.items():
            if spec.sha256 == sha256:
                return "%s's %s" % (dataset.title, name)
    return None
