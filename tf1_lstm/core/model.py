"""The original graph, op for op; below the marker, the variants studies build from it.

Ops are created in the post's order and with its (default) names: under a graph-level seed each
initializer's op seed comes from the graph's op count, so the same order gives the same initial
weights as the original program (tests/test_model.py compares the GraphDefs). At their defaults
the variant arguments take exactly the original code path (tests/test_ablation.py).
"""

from typing import Any, NamedTuple, Optional

from tf1_lstm.core import cells, hparams, settings, tfcompat

API = tfcompat.api()  # the post's `tf`, `tf.contrib.rnn` and `fully_connected`, on any version
tf = API.tf


class Model(NamedTuple):
    """The graph's tensors, named as in reference/original.py."""
    X: Any                # placeholder [None, 28 rows, 28 pixels]
    Y_labels: Any         # placeholder [None, 10], one-hot int32
    cell: Any             # the recurrent cell object (diagnose unrolls it again)
    outputs: Any          # outneurons: [batch, time, units]
    logits: Any           # [batch, 10]
    loss: Any             # mean softmax cross-entropy
    train_op: Any         # trainop: one Adam step
    correct: Any          # per-example correctness
    accuracy: Any         # mean of correct
    init: Any             # tf.global_variables_initializer()
    applied_grad_norm: Any = None  # the clipped global norm (clipping variant only)


def build(config: Any) -> "Model":
    """Build the post's graph in the current default graph and return its tensors.

    `config`: a run's settings (core.training.RunConfig, or anything with its `cell`, `lr`,
    `impl`, `forget_bias`, `clip` and `init_from`). At their defaults, the post's graph; a
    non-default `forget_bias`, `clip`, cell, impl or init_from is a variant (below the marker),
    and none of them changes the graph when left at its default.
    """
    args = (config.cell, config.lr, config.impl, config.forget_bias, config.clip)
    if config.init_from == settings.OWN_SEEDS:
        return _build(*args)
    with tfcompat.op_seeds(cells.get(config.cell).op_seeds):
        return _build(*args)


def _build(cell, learning_rate, impl, forget_bias, clip):
    """The post's graph (reference/original.py lines 28-47), op for op."""
    X = tf.placeholder(tf.float32, [None, hparams.N_STEPS, hparams.N_INPUTS])
    Y_labels = tf.placeholder(tf.int32, [None, hparams.N_OUTPUTS])
    basic_cell, outneurons = cell_outputs(X, cell, impl, forget_bias)
    # dynamic_rnn is batch-major: time-major transpose, then [-1] is the last row's output.
    logits = API.fully_connected(tf.transpose(outneurons, perm=[1, 0, 2])[-1],
                                 hparams.N_OUTPUTS, activation_fn=None)
    cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=Y_labels, logits=logits)
    loss = tf.reduce_mean(cross_entropy)
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
    if clip is None:
        train_op, applied_grad_norm = optimizer.minimize(loss), None
    else:
        train_op, applied_grad_norm = clipped_train_op(optimizer, loss, clip)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(Y_labels, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    init = tf.global_variables_initializer()
    return Model(X=X, Y_labels=Y_labels, cell=basic_cell, outputs=outneurons, logits=logits,
                 loss=loss, train_op=train_op, correct=correct, accuracy=accuracy, init=init,
                 applied_grad_norm=applied_grad_norm)


def cell_outputs(X, cell, impl, forget_bias):
    """(cell, [batch, time, units] outputs): the post's dynamic_rnn, or a kernel variant."""
    if impl == "basic":
        basic_cell = make_cell(cell, forget_bias=forget_bias)
        outneurons, _ = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32)
        return basic_cell, outneurons
    if not cells.get(cell).gated:
        raise ValueError("--impl %s exists for the LSTM only" % impl)
    return fused_lstm_outputs(X, impl, forget_bias)


def make_cell(cell, n_neurons=hparams.N_NEURONS, forget_bias=hparams.FORGET_BIAS):
    """The cell named `cell` (core.cells), e.g. BasicLSTMCell(150, forget_bias=1.0)."""
    return cells.get(cell).make(API, n_neurons, forget_bias)


def parameter_count() -> int:
    """Trainable parameters in the current default graph."""
    return sum(int(v.shape.num_elements()) for v in tf.trainable_variables())


def session_config(threads: Optional[int] = None, xla: bool = False) -> Any:
    """The original's default session, or one with capped thread pools and/or XLA JIT."""
    if not threads and not xla:
        return None
    config = tf.ConfigProto()
    if threads:
        config.intra_op_parallelism_threads = threads
        config.inter_op_parallelism_threads = threads
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


# --- not the post's: variants for the studies (ablations and kernels) -----------------------
# Each is reached only through a non-default argument of `build`, and recorded in config.json.

def clipped_train_op(optimizer, loss, clip):
    """Adam on gradients clipped to global norm `clip`; also the norm actually applied."""
    grads, variables = zip(*optimizer.compute_gradients(loss))
    clipped, _ = tf.clip_by_global_norm(grads, clip)
    applied_norm = tf.global_norm(clipped)
    return optimizer.apply_gradients(zip(clipped, variables)), applied_norm


def fused_lstm_outputs(X, impl, forget_bias):
    """TF 1.15's other kernels for the same LSTM maths (tests/test_bench.py proves each equal
    to the faithful graph on transplanted weights); their variables are named differently."""
    if impl == "block":
        cell = tfcompat.fused_rnn().LSTMBlockCell(hparams.N_NEURONS, forget_bias=forget_bias)
        return cell, tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)[0]
    if impl == "fused":
        cell = tfcompat.fused_rnn().LSTMBlockFusedCell(hparams.N_NEURONS, forget_bias=forget_bias)
        time_major, _ = cell(tf.transpose(X, perm=[1, 0, 2]), dtype=tf.float32)
        return cell, tf.transpose(time_major, perm=[1, 0, 2])
    raise ValueError("unknown implementation %r: choose one of %s"
                     % (impl, ", ".join(hparams.IMPLS)))
