"""Post 004, "【ShuQiHere】用类来实现LSTM" (Keras in TF 2): a subclassed Model, LSTM(128) +
Dense(10, softmax), /255, one-hot, Adam(), categorical_crossentropy, 5 epochs, batch 64, the test
set as validation data; and the two variants it shows (two stacked LSTMs; dropout), trained the
same way. The changes: the code's line breaks (lost on the page) restored, the arrays from the
verified IDX files (not a download), and fit's log a line per epoch."""

import tensorflow as tf
from tensorflow.keras import layers


class LSTMModel(tf.keras.Model):
    def __init__(self, units, input_shape, output_dim):
        super(LSTMModel, self).__init__()
        # LSTM层:核心的循环神经网络层
        self.lstm = layers.LSTM(units, input_shape=input_shape)
        # 全连接层:用于最终的分类
        self.fc = layers.Dense(output_dim, activation='softmax')

    def call(self, inputs):
        x = self.lstm(inputs)
        output = self.fc(x)
        return output


# 多层LSTM模型示例
class MultiLayerLSTMModel(tf.keras.Model):
    def __init__(self, units, input_shape, output_dim):
        super(MultiLayerLSTMModel, self).__init__()
        self.lstm1 = layers.LSTM(units, return_sequences=True, input_shape=input_shape)
        self.lstm2 = layers.LSTM(units)
        self.fc = layers.Dense(output_dim, activation='softmax')

    def call(self, inputs):
        x = self.lstm1(inputs)
        x = self.lstm2(x)
        output = self.fc(x)
        return output


# 在LSTM模型中添加Dropout层
class LSTMModelWithDropout(tf.keras.Model):
    def __init__(self, units, input_shape, output_dim):
        super(LSTMModelWithDropout, self).__init__()
        self.lstm = layers.LSTM(units, dropout=0.2, recurrent_dropout=0.2,
                                input_shape=input_shape)
        self.fc = layers.Dense(output_dim, activation='softmax')

    def call(self, inputs):
        x = self.lstm(inputs)
        output = self.fc(x)
        return output


MODELS = {"004": LSTMModel, "004-stacked": MultiLayerLSTMModel,
          "004-dropout": LSTMModelWithDropout}


def build(post_id="004"):
    model = MODELS[post_id](units=128, input_shape=(28, 28), output_dim=10)
    model.build((None, 28, 28))
    return model


def seeded(seed, threads):
    """Keras' determinism switches (recorded with the run): one seed for Python, NumPy and TF,
    deterministic ops, and the thread pools."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return {"tf.keras.utils.set_random_seed": seed,
            "tf.config.experimental.enable_op_determinism": True,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}


def framework():
    import keras
    return {"framework": "Keras", "version": keras.__version__, "tensorflow": tf.__version__,
            "git": tf.version.GIT_VERSION}


class Recorder(tf.keras.callbacks.Callback):
    """Each optimizer step, and each epoch's loss, accuracy and validation accuracy (Keras'
    own epoch figures), to the run's records."""

    def __init__(self, ctx):
        super(Recorder, self).__init__()
        self.ctx = ctx

    def on_train_batch_end(self, batch, logs=None):
        self.ctx.batch_done()

    def on_epoch_end(self, epoch, logs=None):
        self.ctx.epoch_done(epoch + 1, loss=logs["loss"], train_accuracy=logs["accuracy"],
                            test_accuracy=logs["val_accuracy"])


def main(ctx):
    """The post's program (the model is the variant ctx.post names)."""
    # 加载并预处理 MNIST 数据集 (changed: the verified arrays, not load_data()'s download)
    (train_data, train_labels), (test_data, test_labels) = (
        (ctx.train_images, ctx.train_labels), (ctx.test_images, ctx.test_labels))
    train_data = train_data / 255.0
    test_data = test_data / 255.0
    train_data = train_data.reshape(-1, 28, 28)
    test_data = test_data.reshape(-1, 28, 28)
    train_labels = tf.keras.utils.to_categorical(train_labels, 10)
    test_labels = tf.keras.utils.to_categorical(test_labels, 10)

    # --- the post's loop ------------------------------------------------------------------
    model = MODELS[ctx.post](units=128, input_shape=(28, 28), output_dim=10)
    model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(train_data, train_labels, epochs=ctx.epochs, batch_size=64,
              validation_data=(test_data, test_labels), callbacks=[Recorder(ctx)], verbose=2)
    test_loss, test_acc = model.evaluate(test_data, test_labels, verbose=2)
    ctx.say('\nTest accuracy: %s' % test_acc)
    # --- end of the post's loop -----------------------------------------------------------
    return {"test_accuracy": float(test_acc)}
