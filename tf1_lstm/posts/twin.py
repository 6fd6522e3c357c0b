"""Post 003's program in PyTorch, step for step: the twin of the faithful TF graph (tf1_lstm.core).

Each piece is TF 1.15's arithmetic written in torch, so that a gap between the two is the
framework's, not the recipe's: BasicLSTMCell's one [inputs + units, 4 units] kernel with gates
i, j, f, o and `forget_bias` added before the sigmoid (BasicRNNCell: tanh of the same matmul),
zero initial state, `fully_connected` on the last output, mean softmax cross-entropy, and
Adam as TF's kernel applies it (ε added to √v, the step size corrected instead of m and v).
The batches are `next_batch`'s for the seed (core.data, the 55,000/5,000 split). `tf1-lstm
twin` starts it from the TF run's initial weights (`python -m tf1_lstm.posts.twin`).
"""

import argparse
import json
import sys

import numpy as np
import torch

from tf1_lstm.core import data, hparams
from tf1_lstm.posts import recipe as recipe_lib
from tf1_lstm.posts import torchdata
from tf1_lstm.posts.recipe import NEXT_BATCH, TF
from tf1_lstm.posts.torchdata import framework, seeded  # noqa: F401 (the runner's)

F32 = torch.float32


class Twin(torch.nn.Module):
    """The faithful graph's model: the cell (stacked as MultiRNNCell stacks it) unrolled over 28
    rows, a dense layer on the last output. `weights`: each layer's kernel and bias, then the
    dense layer's."""

    def __init__(self, cell, weights, forget_bias=hparams.FORGET_BIAS):
        super().__init__()
        self.gated = cell == "lstm"
        found = [torch.nn.Parameter(torch.from_numpy(np.array(w, dtype=np.float32)))
                 for w in weights]
        self.kernels = torch.nn.ParameterList(found[0:-2:2])
        self.biases = torch.nn.ParameterList(found[1:-2:2])
        self.dense, self.dense_bias = found[-2:]
        self.units = self.dense.shape[0]
        self.forget_bias = torch.tensor(forget_bias, dtype=F32)

    def forward(self, x):
        batch = x.shape[0]
        h = [torch.zeros(batch, self.units, dtype=F32) for _ in self.kernels]
        c = [torch.zeros(batch, self.units, dtype=F32) for _ in self.kernels]
        for t in range(x.shape[1]):  # dynamic_rnn: one cell call per row
            below = x[:, t]
            for layer, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
                h[layer], c[layer] = self.cell(torch.cat([below, h[layer]], 1).matmul(kernel)
                                               + bias, c[layer])
                below = h[layer]
        return below.matmul(self.dense) + self.dense_bias

    def cell(self, gates, c):
        """(h, c) after one row: BasicLSTMCell's gates i, j, f, o, or BasicRNNCell's tanh."""
        if not self.gated:
            return torch.tanh(gates), c
        i, j, f, o = gates.split(self.units, 1)
        c = c * torch.sigmoid(f + self.forget_bias) + torch.sigmoid(i) * torch.tanh(j)
        return torch.tanh(c) * torch.sigmoid(o), c


class TFAdam:
    """tf.train.AdamOptimizer's update, in float32 as its CPU kernel (ApplyAdam) computes it:
    alpha = lr·√(1 − β2^t)/(1 − β1^t); m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
    var −= m·alpha/(√v + ε). β^t are float32 variables multiplied by β after each step."""

    def __init__(self, params, lr=hparams.LEARNING_RATE, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.epsilon = (torch.tensor(v, dtype=F32) for v in
                                                         (lr, beta1, beta2, epsilon))
        self.beta1_power, self.beta2_power = self.beta1.clone(), self.beta2.clone()
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        one = torch.tensor(1.0, dtype=F32)
        alpha = self.lr * torch.sqrt(one - self.beta2_power) / (one - self.beta1_power)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m += (g - m) * (one - self.beta1)
            v += (g * g - v) * (one - self.beta2)
            p -= (m * alpha) / (torch.sqrt(v) + self.epsilon)
        self.beta1_power *= self.beta1
        self.beta2_power *= self.beta2

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def loss_of(logits, labels):
    """softmax_cross_entropy_with_logits on one-hot labels, then reduce_mean."""
    return -(labels * torch.log_softmax(logits, 1)).sum(1).mean()


def train(model, batches, steps, optimizer=None, batch=hparams.BATCH_SIZE, step_done=None):
    """The post's loop on the twin: `steps` optimizer steps (default: TF's Adam at the post's
    rate) on `batches`' (x, one-hot y); the loss of each step, computed before its update (as
    TF's fetch of loss beside train_op is). `step_done(loss, correct, seen)` after each."""
    optimizer = optimizer or TFAdam(model.parameters())
    losses = []
    # --- the post's loop (reference/original.py lines 51-56), in torch ---------------------
    for _ in range(steps):
        x_batch, y_batch = batches.next_batch(batch)
        x = torch.from_numpy(x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS]))
        y = torch.from_numpy(y_batch.astype(np.float32))
        logits = model(x)
        loss = loss_of(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step_done:
            step_done(losses[-1], int((logits.argmax(1) == y.argmax(1)).sum()), len(y))
    # --- end of the post's loop ------------------------------------------------------------
    return losses


def data_sets(seed, data_dir, mirrors=()):
    """The data sets as the faithful run seeded with `seed` reads them: TF sets the graph seed
    to `seed`, and read_data_sets(..., seed) takes NumPy's from it."""
    return data.read_data_sets(data_dir, seed=data.numpy_seed(seed, seed), mirrors=mirrors)


def batches_for(seed, data_dir, mirrors=()):
    """The train split's sampler as the faithful run seeded with `seed` draws from it."""
    return data_sets(seed, data_dir, mirrors).train


class Loader:
    """Post 002's sampling behind next_batch: DataLoader(MNIST(train), batch, shuffle=True) with
    ToTensor, epoch after epoch (a new shuffle each, from torch's global generator)."""

    def __init__(self, images, labels, batch):
        dataset = torchdata.MNIST(images, labels, transform=torchdata.ToTensor())
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True)
        self.batches = iter(())

    def next_batch(self, size):
        found = next(self.batches, None)
        if found is None:
            self.batches = iter(self.loader)
            found = next(self.batches)
        images, labels = found
        return images.squeeze(1).numpy(), data.one_hot(labels.numpy()).astype(np.float32)


def glorot(shape):
    """tf.glorot_uniform_initializer: U(±√(6 / (fan_in + fan_out)))."""
    limit = (6.0 / (shape[0] + shape[1])) ** 0.5
    return torch.empty(shape, dtype=F32).uniform_(-limit, limit)


def uniform(shape, bound):
    return torch.empty(shape, dtype=F32).uniform_(-bound, bound)


def initial(recipe):
    """Step-0 weights as the recipe's framework draws them (from torch's global generator):
    TF's Glorot kernels and zero biases, or nn.LSTM's and nn.Linear's U(±1/√units), nn.LSTM's
    two biases summed (the twin's one bias is their sum in the gates)."""
    width = 4 if recipe.cell == "lstm" else 1
    bound = recipe.units ** -0.5
    weights, inputs = [], hparams.N_INPUTS
    for _ in range(recipe.layers):
        shape = (inputs + recipe.units, width * recipe.units)
        weights += [glorot(shape), torch.zeros(shape[1])] if recipe.init == TF else [
            uniform(shape, bound), uniform(shape[1:], bound) + uniform(shape[1:], bound)]
        inputs = recipe.units
    dense = (recipe.units, hparams.N_OUTPUTS)
    weights += [glorot(dense), torch.zeros(dense[1])] if recipe.init == TF else [
        uniform(dense, bound), uniform(dense[1:], bound)]
    return [w.numpy() for w in weights]


def model_of(recipe):
    """The twin under `recipe`, at its step-0 weights (nn.LSTM adds no forget bias)."""
    return Twin(recipe.cell, initial(recipe),
                forget_bias=hparams.FORGET_BIAS if recipe.init == TF else 0.0)


def optimizer_of(recipe, model):
    if recipe.adam == TF:
        return TFAdam(model.parameters(), recipe.lr)
    return torch.optim.Adam(model.parameters(), lr=recipe.lr)


def sampler(recipe, ctx):
    """(the train batches, the test images and labels) as the recipe's sampling makes them."""
    if recipe.sampling == NEXT_BATCH:
        sets = data_sets(ctx.seed, ctx.data_dir)
        return sets.train, sets.test.images, sets.test.labels.argmax(1)
    test = torchdata.ToTensor()(torch.from_numpy(ctx.test_images.copy())).squeeze(0).numpy()
    return Loader(ctx.train_images, ctx.train_labels, recipe.batch), test, ctx.test_labels


@torch.no_grad()
def accuracy(model, images, labels):
    """Test accuracy on all images, a thousand at a time."""
    right = 0
    for at in range(0, len(images), 1000):
        x = torch.from_numpy(np.ascontiguousarray(images[at:at + 1000]).reshape(
            [-1, hparams.N_STEPS, hparams.N_INPUTS]))
        right += int((model(x).argmax(1).numpy() == labels[at:at + 1000]).sum())
    return right / float(len(images))


# --- a port (tf1_lstm.posts.PORT): `post 003-torch` trains the twin under a recipe ------------

def build(post_id="003-torch", options=()):
    return model_of(recipe_lib.from_options(dict(options)))


def main(ctx):
    """The twin trained under the run's recipe, an epoch line per pass over its images."""
    recipe = recipe_lib.from_options(ctx.options)
    model = model_of(recipe)
    batches, test_images, test_labels = sampler(recipe, ctx)
    per_epoch = recipe_lib.batches_per_epoch(recipe)

    def step_done(loss, correct, seen):
        ctx.batch_done(loss, correct, seen)
        if ctx.steps % per_epoch == 0 or ctx.steps == recipe.steps:
            ctx.epoch_done(len(ctx.curve) + 1)

    train(model, batches, recipe.steps, optimizer_of(recipe, model), recipe.batch, step_done)
    found = accuracy(model, test_images, test_labels)
    ctx.say("test accuracy = %.4f" % found)
    return {"test_accuracy": found}


def from_weights(argv=None):
    """`tf1-lstm twin`'s side: train the twin from the weights in --weights (an .npz of the TF
    graph's trainable variables, in their order) and print its losses as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m tf1_lstm.posts.twin")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--cell", choices=recipe_lib.CELLS, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    seeded(args.seed, args.threads)
    with np.load(args.weights) as found:
        weights = [found["w%d" % i] for i in range(len(found.files))]
    losses = train(Twin(args.cell, weights), batches_for(args.seed, args.data_dir), args.steps)
    print(json.dumps({"losses": losses, "framework": framework()}))
    return 0


if __name__ == "__main__":
    sys.exit(from_weights())
