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
from tf1_lstm.posts.torchdata import framework, seeded  # noqa: F401 (the runner's)

F32 = torch.float32


class Twin(torch.nn.Module):
    """The faithful graph's model: the cell unrolled over 28 rows, a dense layer on the last."""

    def __init__(self, cell, weights, forget_bias=hparams.FORGET_BIAS):
        super().__init__()
        self.gated = cell == "lstm"
        kernel, bias, dense, dense_bias = (torch.nn.Parameter(torch.from_numpy(
            np.array(w, dtype=np.float32))) for w in weights)
        self.kernel, self.bias, self.dense, self.dense_bias = kernel, bias, dense, dense_bias
        self.units = dense.shape[0]
        self.forget_bias = torch.tensor(forget_bias, dtype=F32)

    def forward(self, x):
        batch = x.shape[0]
        h = torch.zeros(batch, self.units, dtype=F32)
        c = torch.zeros(batch, self.units, dtype=F32)
        for t in range(x.shape[1]):  # dynamic_rnn: one cell call per row
            gates = torch.cat([x[:, t], h], 1).matmul(self.kernel) + self.bias
            if not self.gated:
                h = torch.tanh(gates)
                continue
            i, j, f, o = gates.split(self.units, 1)
            c = c * torch.sigmoid(f + self.forget_bias) + torch.sigmoid(i) * torch.tanh(j)
            h = torch.tanh(c) * torch.sigmoid(o)
        return h.matmul(self.dense) + self.dense_bias


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


def train(model, batches, steps, lr=hparams.LEARNING_RATE):
    """The post's loop on the twin: `steps` Adam steps on `batches`' (x, one-hot y); the loss
    of each step, computed before its update (as TF's fetch of loss beside train_op is)."""
    optimizer = TFAdam(model.parameters(), lr)
    losses = []
    # --- the post's loop (reference/original.py lines 51-56), in torch ---------------------
    for _ in range(steps):
        x_batch, y_batch = batches.next_batch(hparams.BATCH_SIZE)
        x = torch.from_numpy(x_batch.reshape([-1, hparams.N_STEPS, hparams.N_INPUTS]))
        y = torch.from_numpy(y_batch.astype(np.float32))
        loss = loss_of(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # --- end of the post's loop ------------------------------------------------------------
    return losses


def batches_for(seed, data_dir, mirrors=()):
    """The train split's sampler as the faithful run seeded with `seed` draws from it: TF sets
    the graph seed to `seed`, and read_data_sets(..., seed) takes NumPy's from it."""
    numpy_seed = data.numpy_seed(seed, seed)
    return data.read_data_sets(data_dir, seed=numpy_seed, mirrors=mirrors).train


def main(argv=None):
    """Train the twin from the weights in --weights (an .npz of the TF graph's trainable
    variables, in their order) and print its losses as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m tf1_lstm.posts.twin")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--cell", choices=("lstm", "rnn"), required=True)
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
    sys.exit(main())
