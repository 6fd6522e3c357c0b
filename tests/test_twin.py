"""Post 003's PyTorch twin (tf1_lstm.posts.twin) held to TF 1.15.5 on fixed numbers: the cells'
arithmetic with the weights transplanted (kernel layout, gate order, biases, forget_bias), TF's
Adam, the rule that reads two curves, and `tf1-lstm twin` end to end. The twin runs in the
PyTorch environment (./run setup --env torch2.13.0)."""

import json
import os
import subprocess

import numpy as np
import pytest

from tf1_lstm import posts
from tf1_lstm.studies.tools import twin

from conftest import DATA_DIR, in_env, on_37, one_line, python_of, run_cli

ON_37 = on_37("the twin runs in the PyTorch environment, whichever suite starts it")


@pytest.mark.fast
@pytest.mark.parametrize("gap, parted", [(0.99e-3, False), (1.01e-3, True)])
def test_the_horizon_is_the_first_step_beyond_the_tolerance(gap, parted):
    tf_losses = [2.0, 1.5, 1.0, 0.8]
    twin_losses = [2.0, 1.5 * (1 + 1e-6), 1.0 * (1 + gap), 0.8 * (1 + 2 * gap)]
    found = twin.compare("lstm", tf_losses, twin_losses)
    assert found.horizon == (2 if parted else 3)  # step 3 differs by 2 gaps either way
    assert found.largest_at == 3 and found.step0_defect is None
    assert twin.horizon([1.0], [1.0]) is None and twin.relative(0.0, 0.0) == 0.0


@pytest.mark.fast
@pytest.mark.parametrize("gap, defect", [(0.99e-5, False), (1.01e-5, True)])
def test_step_0_beyond_float32_rounding_says_the_twin_is_not_the_graph(gap, defect):
    said = twin.step0_defect([2.302585], [2.302585 * (1 + gap)])
    assert (said is not None) is defect
    if defect:
        assert said.startswith("the twin is not the graph: step 0 differs by a relative 1.01e-05")


def _tf_cell_logits(cell, x, weights):
    """The faithful graph's cell and dense layer (core.model) on `x`, with `weights` loaded."""
    from tf1_lstm.core import model as model_lib
    tf = model_lib.tf
    graph = tf.Graph()
    with graph.as_default():
        X = tf.placeholder(tf.float32, [None] + list(x.shape[1:]))
        units = weights[2].shape[0]
        basic_cell = model_lib.make_cell(cell, n_neurons=units)
        outputs, _ = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32)
        logits = model_lib.API.fully_connected(tf.transpose(outputs, [1, 0, 2])[-1], 10,
                                               activation_fn=None)
        with tf.Session(graph=graph) as sess:
            for variable, value in zip(tf.trainable_variables(), weights):
                variable.load(value, sess)
            return sess.run(logits, {X: x})


TWIN_LOGITS = """
import json, sys, numpy as np, torch
from tf1_lstm.posts.twin import Twin
found = np.load(sys.argv[1])
w = [found["w%d" % i] for i in range(4)]
with torch.no_grad():
    print(json.dumps(Twin(sys.argv[2], w)(torch.from_numpy(found["x"])).numpy().tolist()))
"""


@ON_37
@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_the_twins_cell_is_tfs_on_fixed_numbers(tmp_path, cell):
    """Non-zero biases and unequal gates: a kernel laid out otherwise, another gate order, a
    bias or forget_bias left out or added after the sigmoid each moves these logits."""
    rng = np.random.RandomState(3)
    units, gates = 5, 4 if cell == "lstm" else 1
    x = rng.uniform(0, 1, (3, 4, 6)).astype(np.float32)
    weights = [rng.uniform(-0.8, 0.8, (6 + units, gates * units)).astype(np.float32),
               rng.uniform(-0.5, 0.5, (gates * units,)).astype(np.float32),
               rng.uniform(-0.8, 0.8, (units, 10)).astype(np.float32),
               rng.uniform(-0.5, 0.5, (10,)).astype(np.float32)]
    expected = _tf_cell_logits(cell, x, weights)
    path = str(tmp_path / "fixed.npz")
    np.savez(path, x=x, **{"w%d" % i: w for i, w in enumerate(weights)})
    code = "import sys; sys.argv = ['-', %r, %r]\n" % (path, cell) + TWIN_LOGITS
    found = np.array(json.loads(in_env(posts.TORCH_ENV, code).splitlines()[-1]))
    assert np.abs(found - expected).max() < 2e-6, (found, expected)
    assert np.abs(expected).min() > 1e-3  # no logit is 0 by accident


ADAM = """
import json, torch
from tf1_lstm.posts.twin import TFAdam
start, grads = %r, %r
tf_form = torch.nn.Parameter(torch.tensor(start))
optimizer = TFAdam([tf_form], lr=0.01)
torch_form = torch.nn.Parameter(torch.tensor(start))
theirs = torch.optim.Adam([torch_form], lr=0.01, eps=1e-8)
out = []
for g in grads:
    tf_form.grad, torch_form.grad = torch.tensor(g), torch.tensor(g)
    optimizer.step()
    theirs.step()
    out.append([tf_form.detach().tolist(), torch_form.detach().tolist()])
print(json.dumps(out))
"""


@ON_37
def test_the_twins_adam_is_tfs_and_not_pytorchs_on_fixed_numbers():
    """ε added to √v before the bias correction (TF) or after it (PyTorch) matters where
    gradients are small: the tiny entries tell the two forms apart."""
    from tf1_lstm.core import model as model_lib
    tf = model_lib.tf
    start = [0.5, -0.25, 0.125, 1.0]
    grads = [[0.3, -1e-9, 2e-8, 0.0], [-0.1, -2e-9, 1e-8, 0.5], [0.2, 3e-9, -1e-8, -0.5]]
    graph = tf.Graph()
    with graph.as_default():
        var = tf.Variable(np.array(start, np.float32))
        grad = tf.placeholder(tf.float32, [4])
        step = tf.train.AdamOptimizer(0.01).apply_gradients([(grad, var)])
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            expected = [sess.run(step, {grad: np.array(g, np.float32)}) or sess.run(var)
                        for g in grads]
    found = json.loads(in_env(posts.TORCH_ENV, ADAM % (start, grads)).splitlines()[-1])
    for mine, (tf_form, torch_form) in zip(expected, found):
        assert np.allclose(tf_form, mine, rtol=1e-6, atol=0), (tf_form, mine)
        assert abs(torch_form[1] - mine[1]) > 1e-4 * abs(mine[1] - start[1])  # PyTorch's differs


@ON_37
def test_twin_prints_both_curves_and_the_horizon_from_the_faithful_run(tmp_path):
    python_of(posts.TORCH_ENV)
    out = str(tmp_path / "twin")
    code, text, err = run_cli(["twin", "--steps", "12", "--seed", "0", "--data-dir", DATA_DIR,
                               "--out", out])
    assert code == 0, err
    with open(os.path.join(out, "twin.json")) as f:
        record = json.load(f)
    for cell in ("lstm", "rnn"):
        found = record["cells"][cell]
        assert len(found["tf"]) == len(found["twin"]) == 12
        assert twin.relative(found["tf"][0], found["twin"][0]) <= twin.STEP0_TOLERANCE
        assert found["step0_defect"] is None and found["twin_framework"]["framework"] == "PyTorch"
        assert "%s: largest relative difference" % cell in text
        assert "  %5d  %.9f  %.9f" % (11, found["tf"][11], found["twin"][11]) in text
    assert "rule: " + twin.RULE in text and "TensorFlow 1.15.5 (Python 3." in text
    assert record["cells"]["lstm"]["machine"]["cpu_id"] and "PyTorch 2.13.0+cpu" in text
    # the TF side is the faithful run: the same records as `train` with its settings
    plain = str(tmp_path / "plain")
    code, _, err = run_cli(["train", "--steps", "12", "--seed", "0", "--threads", "1",
                            "--data-dir", DATA_DIR, "--out", plain])
    assert code == 0, err
    mine, theirs = (json.load(open(os.path.join(d, "metrics.json")))
                    for d in (os.path.join(out, "tf-lstm"), plain))
    assert [(p["loss"], p["train_accuracy"]) for p in mine["curve"]] == \
        [(p["loss"], p["train_accuracy"]) for p in theirs["curve"]]
    assert mine["test_accuracy"] == theirs["test_accuracy"]


@pytest.mark.fast
def test_twin_without_the_pytorch_environment_is_one_line_and_makes_nothing(tmp_path):
    out = str(tmp_path / "twin")
    code, _, err = run_cli(["twin", "--steps", "3", "--out", out],
                           env_extra={"TF1_LSTM_ENVS": str(tmp_path / "none")})
    line = one_line(code, err)
    assert "no PyTorch environment %s" % posts.TORCH_ENV in line and "about 200 MB" in line
    assert not os.path.exists(out)


@ON_37
def test_bench_times_the_twin_against_a_bare_loop_of_its_math():
    """bench --torch-python's script in the PyTorch environment: torch's LSTM, the twin on
    next_batch's batches, the twin's math on batches made beforehand, and their ratio."""
    script = os.path.join(os.path.dirname(twin.__file__), "torch_bench.py")
    done = subprocess.run([python_of(posts.TORCH_ENV), script, "--steps", "6", "--repeats", "2",
                           "--data-dir", DATA_DIR, "--twin-steps", "4"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(found["twin_repeats"]) == len(found["twin_bare_repeats"]) == 2
    assert found["twin_overhead"] == found["twin_ms_per_step"] / found["twin_bare_ms_per_step"]
    assert found["twin_ms_per_step"] > 0 and found["torch"].startswith("2.13.0")
