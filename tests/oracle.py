"""The post's program as the tests' oracle: its graph code executed verbatim, and the cells'
equations written out in NumPy."""

import numpy as np

from conftest import original_source


def original_graph(cell, seed=None):
    """The post's own graph code, executed verbatim in a fresh graph."""
    import tensorflow as tf
    from tensorflow.contrib.layers import fully_connected
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        namespace = {"tf": tf, "np": np, "fully_connected": fully_connected}
        exec(original_source(cell=cell, graph_only=True), namespace)
    return graph, namespace


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_forward(cell, x, weights, forget_bias=1.0):
    """The cells' equations written out: BasicLSTMCell's gates are i, j, f, o in that order."""
    kernel, bias = (weights["rnn/basic_%s_cell/%s" % (cell, k)] for k in ("kernel", "bias"))
    n = bias.shape[0] // (4 if cell == "lstm" else 1)
    h = np.zeros((x.shape[0], n))
    c = np.zeros((x.shape[0], n))
    for t in range(x.shape[1]):
        z = np.concatenate([x[:, t, :], h], axis=1).dot(kernel) + bias
        if cell == "lstm":
            i, j, f, o = np.split(z, 4, axis=1)
            c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
            h = np.tanh(c) * sigmoid(o)
        else:
            h = np.tanh(z)
    return h.dot(weights["fully_connected/weights"]) + weights["fully_connected/biases"]
