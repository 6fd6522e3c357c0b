"""Where TensorFlow versions differ, and the only place: TF 1.13-1.15 run the post's own calls;
TF 2.x runs the same graph through `tf.compat.v1`, with every v2 behaviour turned off.

On 1.x nothing here changes a call the post makes, so the 1.15.5 graph stays the post's byte
for byte (tests/test_model.py). On 2.x the cells are `tf.compat.v1.nn.rnn_cell`'s and the dense
layer is tf_slim's (it keeps contrib's variable names `fully_connected/weights|biases`); Keras 3
(TF >= 2.16) serves those cells only with tf_keras and TF_USE_LEGACY_KERAS=1.
"""

import contextlib
import os
import platform
import sys
import warnings
from typing import Any, NamedTuple

from tf1_lstm.util import interrupts
from tf1_lstm.util.errors import ToolError

LEGACY_KERAS = "TF_USE_LEGACY_KERAS"  # TF >= 2.16: 1 makes tf.compat.v1 use tf_keras
ONEDNN = "TF_ENABLE_ONEDNN_OPTS"      # TF >= 2.9 (x86): oneDNN kernels unless this is 0
ONEDNN_SINCE = (2, 9)
LEGACY_KERAS_SINCE = (2, 16)          # (2.15 reads the variable too, and then needs tf_keras)


class Api(NamedTuple):
    """The calls the post's graph needs, from whichever TensorFlow is installed."""
    tf: Any               # the TF 1 API: tensorflow itself on 1.x, tf.compat.v1 on 2.x
    rnn: Any              # the module with BasicLSTMCell and BasicRNNCell
    fully_connected: Any  # contrib's (1.x) or tf_slim's (2.x) fully_connected layer
    fused_rnn: Any        # the module with LSTMBlockCell / LSTMBlockFusedCell (1.x only), or None
    version: str          # tensorflow.__version__


class Unsupported(ToolError):
    """A part of the program this TensorFlow lacks; the message names what to install or use."""


_API = None


def version_tuple(text: str) -> tuple:
    """(2, 15) for "2.15.1" (the numeric start of each part; enough to compare releases)."""
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts)


def api() -> Api:
    """The loaded API (imported once; TF's Python-side deprecation chatter silenced)."""
    global _API
    if _API is None:
        with _start_up_notices_muted():
            import tensorflow
        if version_tuple(tensorflow.__version__) >= LEGACY_KERAS_SINCE:
            os.environ.setdefault(LEGACY_KERAS, "1")  # read when tf.compat.v1 loads its cells
        _API = _tf1(tensorflow) if tensorflow.__version__.startswith("1.") else _tf2(tensorflow)
        interrupts.check()  # a Ctrl-C during this long import may have been swallowed by it
    return _API


@contextlib.contextmanager
def _start_up_notices_muted():
    """TF 2 writes C++ notices to fd 2 while it imports (oneDNN on, no CUDA driver, plugins
    registered twice): muted unless TF_CPP_MIN_LOG_LEVEL asks for them (below 2), so a run's
    log holds the post's lines, as on 1.x. Python errors still raise as usual."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "2" or _installed_major() < 2:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _installed_major():
    from tf1_lstm.util.tfenvs import installed_version
    return version_tuple(installed_version() or "0")[0]


def _tf1(tensorflow):
    try:
        logging = tensorflow.compat.v1.logging  # 1.14 and 1.15 warn about tf.logging itself
    except AttributeError:
        logging = tensorflow.logging            # 1.13
    logging.set_verbosity(logging.ERROR)        # before contrib's sunset notice
    from tensorflow.contrib.layers import fully_connected
    rnn = tensorflow.contrib.rnn
    return Api(tensorflow, rnn, fully_connected, rnn, tensorflow.__version__)


def _tf2(tensorflow):
    tf = tensorflow.compat.v1
    tf.logging.set_verbosity(tf.logging.ERROR)
    warnings.filterwarnings("ignore", message=".*(is deprecated|will be removed)")
    tf.disable_v2_behavior()  # graph mode, ref variables, v1 control flow and shapes
    try:
        import tf_slim
    except ImportError:
        raise Unsupported("TensorFlow %s needs tf_slim for the post's dense layer: pip install "
                          "tf_slim==1.1.0 (./run setup --tf %s does)"
                          % (tensorflow.__version__, tensorflow.__version__))
    try:
        rnn = tf.nn.rnn_cell
        rnn.BasicLSTMCell  # Keras 3 without tf_keras: the attribute lookup fails
    except (AttributeError, ImportError) as err:
        raise Unsupported("TensorFlow %s has no tf.compat.v1 RNN cells here (%s): install "
                          "tf_keras of the same version and keep %s=1"
                          % (tensorflow.__version__, err, LEGACY_KERAS))
    return Api(tf, rnn, tf_slim.layers.fully_connected, None, tensorflow.__version__)


def import_tensorflow():
    """The TF 1 API of the installed TensorFlow: what the post calls `tf`."""
    return api().tf


def fused_rnn():
    """contrib.rnn, for the LSTM's block and fused kernels (a variant, TF 1.x only)."""
    module = api().fused_rnn
    if module is None:
        raise Unsupported("--impl block and fused are tf.contrib kernels, which TensorFlow %s "
                          "lacks: use --impl basic, or a TF 1.x environment" % api().version)
    return module


@contextlib.contextmanager
def op_seeds(seeds):
    """While the graph is built, the k-th random op made without a seed of its own gets op
    seed seeds[k] (core.cells records 1.15.5's per cell): the initial weights 1.15.5 draws, on
    any version. Unsupported if the graph
    made another number of random ops (it is not the one the seeds were measured from)."""
    from tensorflow.python.framework import random_seed
    original, pending = random_seed.get_seed, list(seeds)
    made = []

    def get_seed(op_seed):
        if op_seed is None:
            made.append(None)
            if pending:
                op_seed = pending.pop(0)
        return original(op_seed)

    random_seed.get_seed = get_seed
    try:
        yield
    finally:
        random_seed.get_seed = original
    if len(made) != len(seeds):
        raise Unsupported("the graph made %d unseeded random ops, not the %d whose 1.15.5 op "
                          "seeds are known: --init-from tf1.15.5 is for the post's graph only"
                          % (len(made), len(seeds)))


def cuda() -> dict:
    """What this TensorFlow was built with, and the GPUs it sees (a broken set-up is a fact)."""
    tf = import_tensorflow()
    try:
        build = dict(tf.sysconfig.get_build_info())  # TF >= 2.3
    except AttributeError:
        from tensorflow.python.platform import build_info
        build = {"cuda_version": getattr(build_info, "cuda_version_number", None),
                 "cudnn_version": getattr(build_info, "cudnn_version_number", None)}
    try:
        gpus = [d.name for d in tf.config.experimental.list_physical_devices("GPU")]
    except Exception as err:  # TF 1.13 has no tf.config
        gpus = ["unknown: %s" % err]
    return {"built_with_cuda": bool(tf.test.is_built_with_cuda()),
            "cuda_version": build.get("cuda_version"), "cudnn_version": build.get("cudnn_version"),
            "gpus": gpus}


def recorded() -> dict:
    """What of this process's set-up changes the arithmetic beyond the versions: the API the
    graph came from and whether oneDNN kernels ran (TF >= 2.9 on x86 turns them on)."""
    version = api().version
    onednn_default = (version_tuple(version) >= ONEDNN_SINCE
                      and platform.machine() in ("x86_64", "AMD64"))
    setting = os.environ.get(ONEDNN)
    onednn = onednn_default if setting is None else setting.strip().lower() in ("1", "true")
    return {"api": "tensorflow" if version.startswith("1.") else "tensorflow.compat.v1",
            "onednn": onednn,
            "env": {name: os.environ.get(name) for name in (ONEDNN, LEGACY_KERAS)}}
