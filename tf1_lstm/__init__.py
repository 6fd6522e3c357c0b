"""tf1-lstm: a faithful, pinned, tested reproduction of a TensorFlow 1.x MNIST row-LSTM."""

__version__ = "0.9.0"
