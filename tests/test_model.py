"""The graph is the original's: same ops, names, shapes, initial weights, and the gate maths."""

import numpy as np
import pytest
import tensorflow as tf

from tf1_lstm.core import model
from tf1_lstm.core.training import RunConfig

from oracle import numpy_forward, original_graph

SHAPES = {
    "lstm": {"rnn/basic_lstm_cell/kernel": [178, 600], "rnn/basic_lstm_cell/bias": [600],
             "fully_connected/weights": [150, 10], "fully_connected/biases": [10]},
    "rnn": {"rnn/basic_rnn_cell/kernel": [178, 150], "rnn/basic_rnn_cell/bias": [150],
            "fully_connected/weights": [150, 10], "fully_connected/biases": [10]},
}


def our_graph(cell, seed=None):
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        tensors = model.build(RunConfig(cell=cell))
    return graph, tensors


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_graphdef_is_the_originals(cell):
    theirs = original_graph(cell)[0].as_graph_def()
    ours = our_graph(cell)[0].as_graph_def()
    assert [n.name for n in ours.node] == [n.name for n in theirs.node]
    assert ours.node == theirs.node


@pytest.mark.parametrize("cell, params", [("lstm", 108910), ("rnn", 28360)])
def test_variables_and_parameter_counts(cell, params):
    graph, _ = our_graph(cell)
    with graph.as_default():
        shapes = {v.op.name: v.shape.as_list() for v in tf.trainable_variables()}
        assert shapes == SHAPES[cell]
        assert model.parameter_count() == params


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_initial_weights_equal_the_originals_under_a_seed(cell):
    values = []
    for graph, _ in (original_graph(cell, seed=3), our_graph(cell, seed=3)):
        with graph.as_default(), tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values.append(sess.run({v.op.name: v for v in tf.global_variables()}))
    assert sorted(values[0]) == sorted(values[1])
    for name in values[0]:
        assert np.array_equal(values[0][name], values[1][name]), name


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_forward_pass_equals_numpy_equations(cell):
    graph, m = our_graph(cell, seed=11)
    x = np.random.RandomState(0).rand(5, 28, 28).astype(np.float32)
    with graph.as_default(), tf.Session() as sess:
        sess.run(m.init)
        # Move the weights off their initial values so biases and forget gates matter too.
        sess.run([tf.assign(v, v + 0.1 * tf.random_normal(tf.shape(v), seed=1))
                  for v in tf.trainable_variables()])
        weights = sess.run({v.op.name: v for v in tf.trainable_variables()})
        logits = sess.run(m.logits, {m.X: x})
    expected = numpy_forward(cell, x.astype(np.float64),
                             {k: v.astype(np.float64) for k, v in weights.items()})
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=1e-5)


def test_unknown_cell_is_refused():
    with tf.Graph().as_default(), pytest.raises(ValueError) as err:
        model.build(RunConfig(cell="gru"))
    assert "unknown cell 'gru'" in str(err.value)
