"""The Keras program under post 003's page ("好的,我可以为您介绍如何使用LSTM实现MNIST手写数字分类"):
Sequential LSTM(128, input_shape=(28, 28)) + Dense(10, softmax), /255, one-hot, Adam,
categorical_crossentropy, batch 128, 10 epochs, the test set as validation data, then
`Test loss:` and `Test accuracy:`. Shown whole; the changes: the arrays from the verified IDX
files (not mnist.load_data()'s download), and fit's log a line per epoch."""

from keras.layers import LSTM, Dense
from keras.models import Sequential
from keras.utils import to_categorical

from tf1_lstm.posts.post004 import Recorder, framework, seeded  # noqa: F401 (the runner's)


def build(post_id="003-comment"):
    model = Sequential()
    model.add(LSTM(128, input_shape=(28, 28)))
    model.add(Dense(10, activation='softmax'))
    return model


def main(ctx):
    """The program as the page prints it."""
    # changed: the verified arrays, not mnist.load_data()'s download
    (x_train, y_train), (x_test, y_test) = ((ctx.train_images, ctx.train_labels),
                                            (ctx.test_images, ctx.test_labels))
    x_train = x_train.astype('float32') / 255.
    x_test = x_test.astype('float32') / 255.
    y_train = to_categorical(y_train, num_classes=10)
    y_test = to_categorical(y_test, num_classes=10)

    # --- the post's loop ------------------------------------------------------------------
    model = Sequential()
    model.add(LSTM(128, input_shape=(28, 28)))
    model.add(Dense(10, activation='softmax'))
    model.summary()
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    model.fit(x_train, y_train, batch_size=128, epochs=ctx.epochs,
              validation_data=(x_test, y_test), callbacks=[Recorder(ctx)], verbose=2)
    score = model.evaluate(x_test, y_test, verbose=0)
    ctx.say('Test loss: %s' % score[0])
    ctx.say('Test accuracy: %s' % score[1])
    # --- end of the post's loop -----------------------------------------------------------
    return {"test_accuracy": float(score[1])}
