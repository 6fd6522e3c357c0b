"""The original graph, op for op.

Ops are created in the post's order and with its (default) names: under a graph-level seed each
initializer's op seed comes from the graph's op count, so the same order gives the same initial
weights as the original program (tests/test_model.py compares the GraphDefs).
"""

import collections

import tensorflow as tf
from tensorflow.contrib.layers import fully_connected

from tf1_lstm import hparams

Model = collections.namedtuple(
    "Model", "X Y_labels outputs logits loss train_op correct accuracy init")


def make_cell(cell, n_neurons=hparams.N_NEURONS, forget_bias=hparams.FORGET_BIAS):
    if cell == "lstm":
        return tf.contrib.rnn.BasicLSTMCell(n_neurons, forget_bias=forget_bias,
                                            state_is_tuple=True)
    if cell == "rnn":
        return tf.contrib.rnn.BasicRNNCell(n_neurons)
    raise ValueError("unknown cell %r: choose one of %s" % (cell, ", ".join(hparams.CELLS)))


def build(cell="lstm", learning_rate=hparams.LEARNING_RATE):
    """Build the post's graph in the current default graph and return its tensors."""
    X = tf.placeholder(tf.float32, [None, hparams.N_STEPS, hparams.N_INPUTS])
    Y_labels = tf.placeholder(tf.int32, [None, hparams.N_OUTPUTS])
    basic_cell = make_cell(cell)
    outneurons, _ = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32)
    # dynamic_rnn is batch-major: time-major transpose, then [-1] is the last row's output.
    logits = fully_connected(tf.transpose(outneurons, perm=[1, 0, 2])[-1], hparams.N_OUTPUTS,
                             activation_fn=None)
    cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=Y_labels, logits=logits)
    loss = tf.reduce_mean(cross_entropy)
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
    train_op = optimizer.minimize(loss)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(Y_labels, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    init = tf.global_variables_initializer()
    return Model(X=X, Y_labels=Y_labels, outputs=outneurons, logits=logits, loss=loss,
                 train_op=train_op, correct=correct, accuracy=accuracy, init=init)


def parameter_count():
    """Trainable parameters in the current default graph."""
    return sum(int(v.shape.num_elements()) for v in tf.trainable_variables())


def session_config(threads=None):
    """The original's default session, or one whose thread pools are capped at `threads`."""
    if not threads:
        return None
    return tf.ConfigProto(intra_op_parallelism_threads=threads,
                          inter_op_parallelism_threads=threads)
