"""The faithful model in PyTorch, timed: run by `tf1-lstm bench --torch-python PYTHON`.

Standalone on purpose (it runs in another interpreter, where torch and numpy may be all there
is): torch's own LSTM(28 -> 150) over 28 rows, Linear(150 -> 10) on the last step, softmax
cross-entropy, Adam(0.01), batch 64, random pixels. Where that interpreter has this package (the
PyTorch environment does), also post 003's twin (tf1_lstm.posts.twin) as `twin` trains it, on
next_batch's batches, and the same twin on batches made before the clock starts: the twin's
overhead over a bare loop of its own math. Prints one JSON line.
"""

import argparse
import json
import time

import numpy as np
import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="MNIST, for the twin's rows")
    parser.add_argument("--twin-steps", type=int, default=200)
    args = parser.parse_args()
    warmup = max(1, args.steps // 6)
    rng = np.random.RandomState(0)
    times = []
    for _ in range(args.repeats):
        lstm = torch.nn.LSTM(28, 150, batch_first=True)
        fc = torch.nn.Linear(150, 10)
        params = list(lstm.parameters()) + list(fc.parameters())
        opt = torch.optim.Adam(params, lr=0.01)
        loss_fn = torch.nn.CrossEntropyLoss()
        for i in range(args.steps):
            if i == warmup:
                start = time.time()
            x = torch.from_numpy(rng.rand(64, 28, 28).astype(np.float32))
            y = torch.from_numpy(rng.randint(0, 10, 64))
            out, _ = lstm(x)
            loss = loss_fn(fc(out[:, -1]), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(1000.0 * (time.time() - start) / (args.steps - warmup))
    result = {"ms_per_step": float(np.median(times)), "repeats": times,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    result.update(twin_rows(args.twin_steps, args.repeats, args.data_dir))
    print(json.dumps(result))


class Made:
    """`next_batch` over batches made before the clock starts."""

    def __init__(self, batches):
        self.batches, self.at = batches, 0

    def next_batch(self, size):
        self.at += 1
        return self.batches[self.at - 1]


def twin_rows(steps, repeats, data_dir):
    """ms per step of the twin (next_batch's batches) and of its math on made batches, median
    of round-robin repeats; {"twin_error": why} where the twin is not importable here."""
    try:
        from tf1_lstm.posts import twin
    except ImportError as err:
        return {"twin_error": "no tf1_lstm here (%s)" % err}
    rng = np.random.RandomState(0)
    weights = [rng.uniform(-0.1, 0.1, (178, 600)), np.zeros(600), rng.uniform(-0.1, 0.1, (150, 10)),
               np.zeros(10)]
    made = [(rng.rand(64, 784).astype(np.float32), np.eye(10)[rng.randint(0, 10, 64)])
            for _ in range(steps)]
    times = {"twin": [], "bare": []}
    for _ in range(repeats):
        for name in times:
            model = twin.Twin("lstm", weights)
            batches = twin.batches_for(0, data_dir) if name == "twin" else Made(made)
            start = time.time()
            twin.train(model, batches, steps)
            times[name].append(1000.0 * (time.time() - start) / steps)
    found = {name: float(np.median(t)) for name, t in times.items()}
    return {"twin_ms_per_step": found["twin"], "twin_repeats": times["twin"],
            "twin_bare_ms_per_step": found["bare"], "twin_bare_repeats": times["bare"],
            "twin_overhead": found["twin"] / found["bare"]}


if __name__ == "__main__":
    main()
