"""The sister posts: other blog posts' programs on the same task (a digit read as 28 rows
of 28 pixels), each ported faithfully to its own framework, one module per post.

The posts live in ../shared/seeds beside the checkout; 003 is this project's post, whose program
is tf1_lstm.core. A port keeps its post's names, sizes, optimizer, loss, epochs, batch,
transforms, shuffling and evaluation; what the post does not show or gets wrong is a labelled
change (`changes`), listed in docs/posts.md. `tf1-lstm report --posts` trains them over seeds.
"""

import importlib
from typing import NamedTuple, Optional, Tuple

from tf1_lstm.util.errors import ToolError

TORCH_ENV = "torch2.13.0-py3.11"  # envs/<name>.txt: the CPU build of PyTorch
KERAS_ENV = "tf2.15.1-py3.11"     # Keras 2.15 inside TensorFlow 2.15.1, as the post imports it
THREADS = 1  # a post's threads unless told: PyTorch's CPU LSTM did not repeat its numbers for
#              one seed with 2 threads under load (docs/posts.md); with 1 it does


class Post(NamedTuple):
    """One sister post and its port."""
    id: str                  # its number among the seeds ("004-stacked": a variant it shows)
    framework: str           # "PyTorch" or "Keras"
    env: str                 # the environment it trains in (util.tfenvs)
    module: str              # its port: tf1_lstm.posts.<module>
    model: str               # the model, as the post builds it
    settings: str            # the post's training settings, in short
    epochs: int              # the post's own length
    claimed: Optional[float]  # the test accuracy it reports (None: it gives no figure)
    claim: str               # the claim in the post's words
    changes: Tuple[str, ...]  # every line added or changed to make it run, with the reason
    parameters: int          # trainable parameters of its model (checked by the tests)
    seconds_per_epoch: float  # measured on the Intel class, 1 thread, two runs at once
    #                          (docs/posts.md): what a report says before a long post starts


POSTS = (
    Post(
        id="000",
        framework="PyTorch",
        env=TORCH_ENV,
        module="post000",
        model="nn.LSTM(28, 128, 1, batch_first=True) + Linear(128, 10), zero (h0, c0)",
        settings="batch 100, 10 epochs, lr 0.01",
        epochs=10,
        claimed=0.9807,
        claim="Test Accuracy to test: 98.07 %",
        changes=("the loop, optimizer, loss and transforms are not shown: those of the tutorial "
                 "the code follows (its hyperparameter names, printed model and log lines are "
                 "yunjey/pytorch-tutorial's recurrent_neural_network): ToTensor, shuffled train "
                 "loader, Adam(lr), CrossEntropyLoss, images.reshape(-1, 28, 28), test in eval "
                 "mode without gradients",),
        parameters=82186,
        seconds_per_epoch=14.8),
    Post(
        id="001",
        framework="PyTorch",
        env=TORCH_ENV,
        module="post001",
        model="nn.LSTM(28, 64, 1, batch_first=True) + Linear(64, 10)",
        settings="ToTensor + Normalize((0.1307,), (0.3081,)), Adam(0.001), 10 epochs, batch 64 "
                 "(chosen)",
        epochs=10,
        claimed=0.9726,
        claim="Accuracy: 9726/10000 (97%)",
        changes=("batch size not shown: 64 for both loaders (PyTorch's MNIST example), train "
                 "shuffled, test in order",
                 "inputs.view(-1, 28, 28) before the model, in train_model and test_model: as "
                 "printed the loaders' (B, 1, 28, 28) batches reach nn.LSTM, which refuses 4-D "
                 "input",
                 "import torch.nn.functional as F: test_model calls F.cross_entropy without it "
                 "(NameError)"),
        parameters=24714,
        seconds_per_epoch=13.1),
    Post(
        id="002",
        framework="PyTorch",
        env=TORCH_ENV,
        module="post002",
        model="nn.LSTM(28, 128, 2, batch_first=True) + Linear(128, 10)",
        settings="ToTensor, batch 100, shuffled, Adam(1e-3), 30 epochs, squeeze(1)",
        epochs=30,
        claimed=0.9908,
        claim="训练30个周期在测试集达到99.08%准确率 (Acc: 0.990800)",
        changes=("`for data in test_loader:  一次循环读入一个batch` as printed is a SyntaxError (the "
                 "comment lost its #): the # restored",
                 "torch.save/torch.load of RNN.pth in the run folder, not the working folder",
                 "the last part (one test image drawn with matplotlib and moved to the GPU "
                 "unconditionally) left out: it prints one prediction, no figure of the claim"),
        parameters=214282,
        seconds_per_epoch=50.8),
    Post(
        id="003-comment",
        framework="Keras",
        env=KERAS_ENV,
        module="post003_comment",
        model="Sequential: LSTM(128, input_shape=(28, 28)) + Dense(10, softmax)",
        settings="/255, one-hot, Adam, categorical_crossentropy, 10 epochs, batch 128, "
                 "validation on the test set",
        epochs=10,
        claimed=None,
        claim="prints `Test loss:` and `Test accuracy:`, no figure given",
        changes=("mnist.load_data() downloads: the same arrays from the verified IDX files",
                 "fit(..., verbose=2): a line per epoch in the run's log, not a progress bar"),
        parameters=81674,
        seconds_per_epoch=21.0),
    Post(
        id="004",
        framework="Keras",
        env=KERAS_ENV,
        module="post004",
        model="subclassed Model: layers.LSTM(128) + Dense(10, softmax)",
        settings="/255, one-hot, Adam(), categorical_crossentropy, 5 epochs, batch 64, "
                 "validation on the test set",
        epochs=5,
        claimed=None,
        claim="prints `Test accuracy:`, no figure given",
        changes=("the page lost the code's line breaks (`...layers, modelsclass LSTMModel...`): "
                 "restored",
                 "mnist.load_data() downloads: the same arrays from the verified IDX files",
                 "fit(..., verbose=2): a line per epoch in the run's log, not a progress bar"),
        parameters=81674,
        seconds_per_epoch=26.3),
    Post(
        id="004-stacked",
        framework="Keras",
        env=KERAS_ENV,
        module="post004",
        model="variant: LSTM(128, return_sequences=True) + LSTM(128) + Dense(10, softmax)",
        settings="as 004",
        epochs=5,
        claimed=None,
        claim="\"增加更多层\" (more layers): no figure given",
        changes=("as 004; the post shows the class only: trained as 004 is",),
        parameters=213258,
        seconds_per_epoch=90.6),
    Post(
        id="004-dropout",
        framework="Keras",
        env=KERAS_ENV,
        module="post004",
        model="variant: LSTM(128, dropout=0.2, recurrent_dropout=0.2) + Dense(10, softmax)",
        settings="as 004",
        epochs=5,
        claimed=None,
        claim="\"防止模型过拟合\" (against overfitting): no figure given",
        changes=("as 004; the post shows the class only: trained as 004 is",),
        parameters=81674,
        seconds_per_epoch=89.8),
)
IDS = tuple(p.id for p in POSTS)
THE_POST = "003"  # this project's post: its program is tf1_lstm.core, its runs the faithful ones

# Not a sister post: this post's program in PyTorch, op for op (posts.twin), under a recipe
# (posts.recipe) whose factors are flags; the report's path section trains it.
TWIN = Post(
    id="003-torch",
    framework="PyTorch",
    env=TORCH_ENV,
    module="twin",
    model="the twin: BasicLSTMCell's or BasicRNNCell's arithmetic, stacked as MultiRNNCell, + "
          "fully_connected(10), written in torch",
    settings="a recipe (posts.recipe): post 003's unless a factor is given",
    epochs=12,  # 10,000 steps of next_batch(64): 11.6 passes over the 55,000 images
    claimed=None,
    claim="post 003's program in another framework: no claim of its own",
    changes=("PyTorch, not TensorFlow: each op written as TF 1.15 computes it (docs/posts.md)",),
    parameters=108910,
    seconds_per_epoch=20.1)  # one run alone, not two: 300 steps in 7.0 s (docs/path.md)
PROGRAMS = POSTS + (TWIN,)  # what `post ID` trains


def get(post_id):
    """The Post (or the twin) with this id; ValueError naming the ids otherwise."""
    for post in PROGRAMS:
        if post.id == post_id:
            return post
    raise ValueError("no sister post %r: choose from %s" % (
        post_id, ", ".join(p.id for p in PROGRAMS)))


# What a port module (tf1_lstm.posts.<module>) gives the runner (posts.run), each a function:
PORT = (
    "build",      # build(post_id) -> the post's model, untrained (its parameters are counted)
    "seeded",     # seeded(seed, threads) -> {switch: value}: the framework seeded, threads set,
    #               its determinism switches as set (recorded)
    "framework",  # framework() -> {"framework", "version", "git", ...}: the build, recorded
    #               in the run's fingerprint (core.fingerprint.FACTORS names how each acts)
    "main",       # main(ctx) -> {"test_accuracy": ...}: the post's loop, marked, reporting
    #               each step and epoch to ctx (posts.run.Context)
)


def port(post):
    """The port module of `post`, checked to give PORT; ToolError naming what it lacks. Its
    framework is imported with it: only in the post's environment."""
    module = importlib.import_module("tf1_lstm.posts." + post.module)
    lacking = [name for name in PORT if not callable(getattr(module, name, None))]
    if lacking:
        raise ToolError("tf1_lstm.posts.%s is not a port: it lacks %s (see tf1_lstm.posts.PORT)"
                        % (post.module, ", ".join(lacking)))
    return module


def environments():
    """The environments the posts train in."""
    return sorted({p.env for p in POSTS})
