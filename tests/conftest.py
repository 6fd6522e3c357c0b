"""Shared fixtures: the real MNIST committed under data/MNIST_data, a token tagging a test's
processes, a finished short run, and the --slow switch."""

import os
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from tf1_lstm import posts
from tf1_lstm.util import tfenvs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO, "data", "MNIST_data")
ORIGINAL = os.path.join(REPO, "reference", "original.py")
FASHION_MIRROR = os.path.join(os.path.dirname(REPO), "shared", "fashion-mnist")  # verified
TF2 = os.environ.get("TF1_LSTM_TEST_TF2") or "tf2.15.1-py3.11"  # the TF 2 environment tested
TF2_PYTHON = tfenvs.interpreter(TF2)

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


def on_37(why):
    """Skipped by the Python 3.6 suite, which CI runs beside the 3.7 one for its time: the
    3.7 suite runs the test, and `why` says why 3.6 would check nothing more."""
    return pytest.mark.skipif(sys.version_info < (3, 7),
                              reason="the Python 3.7 suite runs it: " + why)


@pytest.fixture(scope="session")
def data_dir():
    return DATA_DIR


def processes_with(token):
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("TF1_LSTM_TEST_TOKEN") == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@pytest.fixture
def token():
    """A tag for this test's processes; afterwards none of them may remain."""
    value = uuid.uuid4().hex
    yield value
    deadline = time.time() + 20
    while processes_with(value) and time.time() < deadline:
        time.sleep(0.5)
    left = [" ".join(p.cmdline()[:6]) for p in processes_with(value)]
    for proc in processes_with(value):
        proc.kill()
    assert not left, "processes left behind: %s" % left


@pytest.fixture(scope="session")
def quick_embedded(tmp_path_factory):
    """dask_cluster.QUICK's report on the embedded cluster, made once for the tests that set
    another cluster's numbers against it (read it, do not write into it)."""
    from dask_cluster import QUICK, tagged_env
    out = str(tmp_path_factory.mktemp("quick-embedded") / "report")
    tag = uuid.uuid4().hex
    code, _, err = run_cli(QUICK + ["--out", out], env=tagged_env(tag))
    assert code == 0, err
    assert not processes_with(tag), "processes left behind by the embedded report"
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished 30-step run with step checkpoints."""
    path = str(tmp_path_factory.mktemp("run") / "run")
    code, _, err = run_cli(["train", "--steps", "30", "--seed", "1", "--threads", "1",
                            "--checkpoint-every", "10", "--data-dir", DATA_DIR, "--out", path])
    assert code == 0, err
    return path


# What no CLI call may print, success included, unless its test expects it.
TRACEBACK_MARKS = ("Traceback", "Exception in thread", "Exception ignored", "never retrieved")


def assert_no_traceback(*texts):
    for text in texts:
        for mark in TRACEBACK_MARKS:
            assert mark not in (text or ""), "%r in the output:\n%s" % (mark, text)


class Cli(subprocess.Popen):
    """`python -m tf1_lstm ARGS` as a process (text pipes); its communicate() fails the test on
    a traceback in what it read, unless made with traceback_ok=True."""

    def __init__(self, args, cwd=REPO, env=None, traceback_ok=False, **popen):
        self.traceback_ok = traceback_ok
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        super().__init__([sys.executable, "-m", "tf1_lstm"] + list(args), cwd=cwd,
                         universal_newlines=True, env=env if env is not None else os.environ,
                         **popen)

    def communicate(self, *args, **kwargs):
        out, err = super().communicate(*args, **kwargs)
        if not self.traceback_ok:
            assert_no_traceback(out, err)
        return out, err


def catches(pid, signum):
    """Has process `pid` a handler of its own for `signum` now (/proc's SigCgt)? The first
    moment a command controls: a signal sent after it is the tool's to handle."""
    try:
        with open("/proc/%d/status" % pid) as f:
            mask = next(line.split()[1] for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) >> (signum - 1) & 1)


def when_it_catches(proc, signum, timeout=60):
    """Wait (busy, so as not to miss the moment) until `proc` catches `signum`."""
    deadline = time.time() + timeout
    while not catches(proc.pid, signum):
        assert proc.poll() is None and time.time() < deadline, "it never took over the signal"


def one_line(code, err, expected=2):
    """The error contract: the exit code, exactly one line on stderr, no traceback."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == expected, (code, err)
    assert len(lines) == 1, err
    assert_no_traceback(err)
    return lines[0]


def run_cli(args, cwd=REPO, timeout=900, env_extra=None, env=None, traceback_ok=False):
    """Run `python -m tf1_lstm ARGS`; return (exit code, stdout, stderr). Fails on a traceback."""
    proc = Cli(args, cwd=cwd, traceback_ok=traceback_ok,
               env=dict(env if env is not None else os.environ, **(env_extra or {})))
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
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


def tf2_cli(args, **kwargs):
    """`python -m tf1_lstm ARGS` with the TF 2 environment's Python; fails on a traceback."""
    assert TF2_PYTHON, "TF1_LSTM_TEST_TF2=%s, but it is not set up: ./run setup --tf %s" % (
        TF2, TF2)
    proc = subprocess.run([TF2_PYTHON, "-m", "tf1_lstm"] + list(args), cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600, **kwargs)
    assert_no_traceback(proc.stdout, proc.stderr)
    return proc


# The frameworks' environments the tests need: .ci/run sets them up and names them in these
# variables, which makes their absence a failure rather than a skip.
NEEDED = {posts.TORCH_ENV: "TF1_LSTM_TEST_TORCH", posts.KERAS_ENV: "TF1_LSTM_TEST_TF2"}


def python_of(env):
    """The environment's Python; a skip where it is not set up, a failure where CI needs it."""
    python = tfenvs.interpreter(env)
    if python is None:
        if os.environ.get(NEEDED[env]):
            pytest.fail("%s=%s, but it is not set up: %s"
                        % (NEEDED[env], env, tfenvs.setup_command(env)))
        pytest.skip("needs the %s environment: %s" % (env, tfenvs.setup_command(env)))
    return python


def run_post(args, timeout=600, **popen):
    """`./run --env ENV post ...` of the post named in args; (code, out, err)."""
    env = posts.get(args[0]).env
    python_of(env)
    proc = subprocess.run([os.path.join(REPO, "run"), "--env", env, "post"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, **popen)
    assert_no_traceback(proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout, proc.stderr


def in_env(env, code, timeout=300):
    """Run Python `code` in environment `env`; its stdout (fails on a traceback)."""
    proc = subprocess.run([python_of(env), "-c", code], cwd=os.sep, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
