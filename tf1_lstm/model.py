"""The original graph, op for op, plus clearly separated ablations and kernel variants.

Ops are created in the post's order and with its (default) names: under a graph-level seed each
initializer's op seed comes from the graph's op count, so the same order gives the same initial
weights as the original program (tests/test_model.py compares the GraphDefs). At their defaults
the ablation arguments take exactly the original code path.
"""

import collections

from tf1_lstm import hparams
from tf1_lstm.environment import import_tensorflow

tf = import_tensorflow()  # before contrib, whose import prints a sunset notice
from tensorflow.contrib.layers import fully_connected  # noqa: E402

Model = collections.namedtuple(
    "Model", "X Y_labels cell outputs logits loss train_op correct accuracy init "
             "applied_grad_norm")

# Other TF 1.15 implementations of the same LSTM maths (tests/test_bench.py proves each equal
# to the faithful graph on transplanted weights). Their variables are named differently.
IMPLS = hparams.IMPLS


class IRNNCell(tf.contrib.rnn.BasicRNNCell):
    """Le, Jaitly & Hinton (2015): a ReLU RNN whose recurrent weights start as the identity
    (input weights N(0, 0.001^2), zero bias). An ablation, not part of the original."""

    def __init__(self, num_units):
        super(IRNNCell, self).__init__(num_units, activation=tf.nn.relu, name="irnn_cell")

    def build(self, inputs_shape):
        depth, units = int(inputs_shape[-1]), self._num_units

        def kernel_init(shape, dtype=tf.float32, partition_info=None):
            return tf.concat([tf.random_normal([depth, units], stddev=0.001, dtype=dtype),
                              tf.eye(units, dtype=dtype)], axis=0)

        self._kernel = self.add_variable("kernel", shape=[depth + units, units],
                                         initializer=kernel_init)
        self._bias = self.add_variable("bias", shape=[units],
                                       initializer=tf.zeros_initializer())
        self.built = True


def make_cell(cell, n_neurons=hparams.N_NEURONS, forget_bias=hparams.FORGET_BIAS):
    if cell == "lstm":
        return tf.contrib.rnn.BasicLSTMCell(n_neurons, forget_bias=forget_bias,
                                            state_is_tuple=True)
    if cell == "rnn":
        return tf.contrib.rnn.BasicRNNCell(n_neurons)
    if cell == "irnn":
        return IRNNCell(n_neurons)
    raise ValueError("unknown cell %r: choose one of %s"
                     % (cell, ", ".join(hparams.CELLS + hparams.ABLATION_CELLS)))


def _fused_lstm_outputs(X, impl, forget_bias):
    """[batch, time, units] outputs of TF's fused LSTM kernel `impl`."""
    if impl == "block":
        cell = tf.contrib.rnn.LSTMBlockCell(hparams.N_NEURONS, forget_bias=forget_bias)
        return cell, tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)[0]
    if impl == "fused":
        cell = tf.contrib.rnn.LSTMBlockFusedCell(hparams.N_NEURONS, forget_bias=forget_bias)
        time_major, _ = cell(tf.transpose(X, perm=[1, 0, 2]), dtype=tf.float32)
        return cell, tf.transpose(time_major, perm=[1, 0, 2])
    raise ValueError("unknown implementation %r: choose one of %s" % (impl, ", ".join(IMPLS)))


def build(cell="lstm", learning_rate=hparams.LEARNING_RATE, impl="basic",
          forget_bias=hparams.FORGET_BIAS, clip=None):
    """Build the post's graph in the current default graph and return its tensors.

    Ablations: `forget_bias` (LSTM), `clip` (global-norm gradient clipping), cell="irnn".
    impl="block"/"fused" swap in TF's fused LSTM kernels (same maths, other op names).
    """
    X = tf.placeholder(tf.float32, [None, hparams.N_STEPS, hparams.N_INPUTS])
    Y_labels = tf.placeholder(tf.int32, [None, hparams.N_OUTPUTS])
    if impl == "basic":
        basic_cell = make_cell(cell, forget_bias=forget_bias)
        outneurons, _ = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32)
    elif cell == "lstm":
        basic_cell, outneurons = _fused_lstm_outputs(X, impl, forget_bias)
    else:
        raise ValueError("--impl %s exists for the LSTM only" % impl)
    # dynamic_rnn is batch-major: time-major transpose, then [-1] is the last row's output.
    logits = fully_connected(tf.transpose(outneurons, perm=[1, 0, 2])[-1], hparams.N_OUTPUTS,
                             activation_fn=None)
    cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=Y_labels, logits=logits)
    loss = tf.reduce_mean(cross_entropy)
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
    applied_grad_norm = None  # only the clipping ablation adds the ops to watch it
    if clip is None:
        train_op = optimizer.minimize(loss)
    else:
        grads, variables = zip(*optimizer.compute_gradients(loss))
        clipped, _ = tf.clip_by_global_norm(grads, clip)
        applied_grad_norm = tf.global_norm(clipped)
        train_op = optimizer.apply_gradients(zip(clipped, variables))
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(Y_labels, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    init = tf.global_variables_initializer()
    return Model(X=X, Y_labels=Y_labels, cell=basic_cell, outputs=outneurons, logits=logits,
                 loss=loss, train_op=train_op, correct=correct, accuracy=accuracy, init=init,
                 applied_grad_norm=applied_grad_norm)


def parameter_count():
    """Trainable parameters in the current default graph."""
    return sum(int(v.shape.num_elements()) for v in tf.trainable_variables())


def session_config(threads=None, xla=False):
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
