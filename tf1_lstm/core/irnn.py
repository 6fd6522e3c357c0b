"""IRNNCell, an ablation's cell: a module of its own, so that core.cells names it without
importing the graph (core.model imports cells). TensorFlow is imported here, when a factory
of core.cells first asks for the cell."""

from tf1_lstm.core import tfcompat

API = tfcompat.api()
tf = API.tf


class IRNNCell(API.rnn.BasicRNNCell):
    """Le, Jaitly & Hinton (2015): a ReLU RNN whose recurrent weights start as the identity
    (input weights N(0, 0.001^2), zero bias). An ablation, not part of the original."""

    def __init__(self, num_units):
        super().__init__(num_units, activation=tf.nn.relu, name="irnn_cell")

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
