"""The faithful model's PyTorch twin, timed: run by `tf1-lstm bench --torch-python PYTHON`.

Standalone on purpose (it runs in another interpreter, where only torch and numpy exist):
LSTM(28 -> 150) over 28 rows, Linear(150 -> 10) on the last step, softmax cross-entropy,
Adam(0.01), batch 64, random pixels. Prints one JSON line.
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
    print(json.dumps({"ms_per_step": float(np.median(times)), "repeats": times,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
