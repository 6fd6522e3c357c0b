"""Shared fixtures: the real MNIST committed under data/MNIST_data, and the --slow switch."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO, "data", "MNIST_data")
ORIGINAL = os.path.join(REPO, "reference", "original.py")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the full 10,000-step reproductions (about 10 minutes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="full reproduction: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir():
    return DATA_DIR


def run_cli(args, cwd=REPO, timeout=900, env_extra=None):
    """Run `python -m tf1_lstm ARGS` in a subprocess; return (exit code, stdout, stderr)."""
    import subprocess
    proc = subprocess.Popen([sys.executable, "-m", "tf1_lstm"] + list(args), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=dict(os.environ, **(env_extra or {})))
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def original_source(seed=None, steps=None, cell="lstm", graph_only=False):
    """reference/original.py, optionally with the two seeding lines added (the acceptance
    oracle), fewer steps, BasicRNNCell swapped in, or cut to its graph-building part."""
    with open(ORIGINAL) as f:
        src = f.read()

    def edit(old, new):
        assert src.count(old) == 1, "reference/original.py changed: %r" % old
        return src.replace(old, new)

    if seed is not None:
        src = edit("from tensorflow.examples.tutorials.mnist import input_data\n",
                   "from tensorflow.examples.tutorials.mnist import input_data\n"
                   "tf.set_random_seed(%d)\n" % seed)
        src = edit("one_hot = True)", "one_hot = True, seed=%d)" % seed)
    if steps is not None:
        src = edit("range(10000)", "range(%d)" % steps)
    if cell == "rnn":
        src = edit("tf.contrib.rnn.BasicLSTMCell(n_neurons,forget_bias = 1.0, "
                   "state_is_tuple = True)", "tf.contrib.rnn.BasicRNNCell(n_neurons)")
    if graph_only:
        start = src.index("n_inputs  = 28")
        end = src.index("init = tf.global_variables_initializer()")
        src = src[start:end] + "init = tf.global_variables_initializer()\n"
    return src
