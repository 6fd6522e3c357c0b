"""`tf1-lstm diagnose`: why does the vanilla RNN fail? Evidence recorded while it trains.

The run is an ordinary `train` run; a Monitor adds read-only ops *after* the original graph
is built (so the weights, batches and updates are the faithful run's) and every K steps records,
on the batch just trained on: loss, gradient norms, the gradient reaching each of the 28 time
steps, and state saturation.

∂loss/∂h_t needs h_t as a tensor, which dynamic_rnn's while loop hides; so the monitor unrolls
the same cell object (same variables) with static_rnn and differentiates that copy. Its loss
equals the faithful loss (recorded as `unrolled_loss` beside `loss`).
"""

import collections
import os

import numpy as np

from tf1_lstm.core import cells, hparams, monitor, tfcompat
from tf1_lstm.core.records import DIVERGED
from tf1_lstm.util.figures import pyplot, save_figure
from tf1_lstm.util.files import write_json

SATURATED = 0.99  # |h| above this: a tanh unit in its flat region, passing ~no gradient
EVERY = 100  # steps between records unless told (`diagnose --every`)
REPORT_EVERY = 200  # steps between records of the report's diagnose runs
CELL = cells.with_claim("cannot train")  # the cell diagnosed unless told: the post's question


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Diagnostics(monitor.Monitor):
    """Records diagnostics every `every` steps; stops the run at the first non-finite value."""

    stop_status = DIVERGED  # what training records when after_step asks it to stop

    def __init__(self, cell, every, forget_bias=hparams.FORGET_BIAS):
        self.cell, self.every, self.forget_bias = cell, every, forget_bias
        self.records, self.first_nonfinite, self.result = [], None, None

    def build(self, model):
        """Add the diagnostic ops; return what the training step should fetch."""
        tf, fully_connected = tfcompat.import_tensorflow(), tfcompat.api().fully_connected
        n_vars = len(tf.trainable_variables())
        self.variables = tf.trainable_variables()
        grads = tf.gradients(model.loss, self.variables)
        self.fetches = {
            "loss": model.loss,
            "global_norm": tf.global_norm(grads),
            "variable_norms": {v.op.name: tf.norm(g) for v, g in zip(self.variables, grads)},
        }
        with tf.name_scope("diagnostics"), \
                tf.variable_scope(tf.get_variable_scope(), reuse=True):
            inputs = tf.unstack(model.X, axis=1)
            hidden, _ = tf.nn.static_rnn(model.cell, inputs, dtype=tf.float32)
            logits = fully_connected(hidden[-1], hparams.N_OUTPUTS, activation_fn=None,
                                     reuse=True, scope="fully_connected")
            unrolled_loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
                labels=model.Y_labels, logits=logits))
            d_hidden = tf.gradients(unrolled_loss, hidden)
        assert len(tf.trainable_variables()) == n_vars, "the unrolled copy must share weights"
        self.hidden, self.d_hidden, self.unrolled_loss = hidden, d_hidden, unrolled_loss
        self.fetches.update(unrolled_loss=unrolled_loss, hidden=hidden,
                            d_hidden_norms=[tf.norm(d) for d in d_hidden])
        if cells.get(self.cell).gated:
            self.fetches["kernel"], self.fetches["bias"] = self.variables[0], self.variables[1]
        return [model.train_op, model.loss]

    def after_step(self, step, sess, feed, fetched):
        loss = fetched[1]
        if not np.isfinite(loss) and self.first_nonfinite is None:
            self.first_nonfinite = step
            return "non-finite loss (%s) first appeared at step %d" % (loss, step)
        if step % self.every:
            return None
        values = sess.run(self.fetches, feed)
        hidden = np.stack(values["hidden"])  # [time, batch, units]
        record = collections.OrderedDict([
            ("step", step),
            ("loss", float(values["loss"])),
            ("unrolled_loss", float(values["unrolled_loss"])),
            ("global_grad_norm", float(values["global_norm"])),
            ("grad_norms", {k: float(v) for k, v in sorted(values["variable_norms"].items())}),
            ("grad_norm_per_time_step", [float(v) for v in values["d_hidden_norms"]]),
            ("saturated_fraction", float((np.abs(hidden) > SATURATED).mean())),
        ])
        if cells.get(self.cell).gated:
            record["mean_forget_gate"] = self._forget_gate(feed, hidden, values)
        bad = [k for k, v in record.items() if isinstance(v, float) and not np.isfinite(v)]
        self.records.append(record)
        if bad and self.first_nonfinite is None:
            self.first_nonfinite = step
            return "non-finite %s first appeared at step %d" % (", ".join(bad), step)
        return None

    def _forget_gate(self, feed, hidden, values):
        """Mean sigmoid(f + forget_bias) over steps, batch and units (gate order i, j, f, o)."""
        x = next(v for k, v in feed.items() if len(v.shape) == 3)  # [batch, time, inputs]
        h_prev = np.concatenate([np.zeros_like(hidden[:1]), hidden[:-1]])  # [time, batch, units]
        z = np.concatenate([np.transpose(x, (1, 0, 2)), h_prev], axis=2).dot(values["kernel"]) \
            + values["bias"]
        f = np.split(z, 4, axis=2)[2]
        return float(_sigmoid(f + self.forget_bias).mean())

    def finish(self, run_dir, status):
        self.result = collections.OrderedDict([
            ("cell", self.cell), ("every", self.every), ("status", status),
            ("first_nonfinite_step", self.first_nonfinite), ("records", self.records)])
        write_json(os.path.join(run_dir, "diagnostics.json"), self.result)
        if self.records:
            plot(self.result, run_dir)


def plot(result, run_dir):
    """gradient_through_time.png, saturation.png, loss.png into run_dir."""
    plt = pyplot()
    records = result["records"]
    steps = [r["step"] for r in records]

    def save(fig, name):
        save_figure(fig, os.path.join(run_dir, name))

    fig, ax = plt.subplots(figsize=(7, 4))
    picks = sorted(set(np.linspace(0, len(records) - 1, min(6, len(records))).astype(int)))
    cmap = plt.get_cmap("viridis")
    for n, i in enumerate(picks):
        ax.plot(range(1, hparams.N_STEPS + 1), records[i]["grad_norm_per_time_step"],
                color=cmap(n / max(1, len(picks) - 1)), label="step %d" % records[i]["step"])
    ax.set_yscale("log")
    ax.set_xlabel("time step t (image row)")
    ax.set_ylabel("‖∂loss/∂h_t‖")
    ax.set_title("%s: gradient reaching each row" % cells.get(result["cell"]).label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "gradient_through_time.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r["saturated_fraction"] for r in records], label="|h| > %.2f" % SATURATED)
    if "mean_forget_gate" in records[0]:
        ax.plot(steps, [r["mean_forget_gate"] for r in records], label="mean forget gate")
    ax.set_xlabel("step")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("%s: saturation" % cells.get(result["cell"]).label)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "saturation.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r["loss"] for r in records], label="loss")
    ax.plot(steps, [r["global_grad_norm"] for r in records], label="global gradient norm")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("%s: loss and gradient norm" % cells.get(result["cell"]).label)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "loss.png")


def train(config, every=None, argv=None):
    """Train `config` (a new run's RunConfig) with diagnostics every `every` steps."""
    from tf1_lstm.core import training
    watched = Diagnostics(config.cell, every or EVERY, config.forget_bias)
    training.train(config, monitor=watched, argv=argv)
    if watched.result:
        print("diagnostics: %d records -> %s" % (
            len(watched.result["records"]), os.path.join(config.run_dir, "diagnostics.json")))
