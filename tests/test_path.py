"""The path from post 003's recipe to post 002's (studies.sections.path): one factor per point,
the rule that turns two intervals into a factor's verdict, the twin under a recipe (`post
003-torch`), its initialisers against each framework's, and `report --path` end to end."""

import json
import os

import numpy as np
import pytest

from tf1_lstm import posts
from tf1_lstm.posts import recipe as recipes
from tf1_lstm.studies.sections import path

from conftest import DATA_DIR, in_env, on_37, one_line, python_of, run_cli, run_post

ON_37 = on_37("the twin runs in the PyTorch environment, whichever suite starts it")


def _differ(a, b):
    return [name for name in recipes.Recipe._fields if getattr(a, name) != getattr(b, name)]


@pytest.mark.fast
def test_the_path_changes_one_factor_per_point_from_003_to_002():
    points = path.forward()
    assert points[0].recipe is None and points[-1].name == "post002"
    twins = [p.recipe for p in points[1:-1]]
    assert twins[0] == recipes.POST_003 and twins[-1] == recipes.POST_002
    for before, after, point in zip(twins, twins[1:], points[2:]):
        assert _differ(before, after) == [point.name.split("-", 1)[1]]
    assert [p.changed for p in points[2:-1]] == [f.label for f in recipes.FACTORS]
    for point, factor in zip(path.reverse(), recipes.FACTORS):
        assert _differ(point.recipe, recipes.POST_002) == [factor.name]
        assert getattr(point.recipe, factor.name) == factor.post_003
    assert [p.recipe.steps for p in path.forward(steps=40)[1:-1]] == [40] * len(twins)


@pytest.mark.fast
@pytest.mark.parametrize("on_path, back, verdict", [
    ([1e-9, 0.02], None, "moves it"),
    ([0.0, 0.02], None, "within the seeds' noise"),       # an interval touching 0 holds it
    ([-0.02, -1e-9], None, "moves it"),
    ([-0.02, 0.0], None, "within the seeds' noise"),
    ([1e-9, 0.02], [1e-9, 0.01], "moves it"),
    ([1e-9, 0.02], [0.0, 0.01], "interacts"),             # one order only
    ([0.0, 0.02], [1e-9, 0.01], "interacts"),
    ([1e-9, 0.02], [-0.01, -1e-9], "interacts"),          # the two orders on opposite sides
    ([-0.01, 0.02], [-0.01, 0.01], "within the seeds' noise"),
    (None, [1e-9, 0.01], None),                           # one seed: no interval to judge
])
def test_a_factors_verdict_follows_the_rule_on_both_sides_of_0(on_path, back, verdict):
    assert path.judge(on_path, back) == verdict


@pytest.mark.fast
def test_the_sections_verdict_says_whether_the_framework_is_among_them():
    def factor(name, verdict):
        return {"factor": name, "verdict": verdict}

    noise = "within the seeds' noise"
    assert path.verdict([factor("framework", noise), factor("learning rate", "moves it")],
                        None) == ("factors that move test accuracy: learning rate; the "
                                  "framework is not (within the seeds' noise)")
    assert path.verdict([factor("framework", "interacts"), factor("batch", noise)], None) == \
        "factors that move test accuracy: framework; the framework is one of them"
    assert path.verdict([factor("framework", noise)], None) == \
        "no factor moves test accuracy beyond the seeds' noise; the framework is not " \
        "(within the seeds' noise)"
    assert path.verdict([], "not judged (shortened)") == \
        "not judged (shortened): measured, not judged"


@pytest.mark.fast
@pytest.mark.parametrize("args, says", [
    (["post", "000", "--lr", "0.1"], "--lr sets the twin's recipe: only for post 003-torch"),
    (["post", "003-torch", "--epochs", "2"], "003-torch's length is --steps"),
    (["post", "003-torch", "--batch", "60001", "--sampling", "loader"],
     "--batch 60001 is larger than the 60000 training images"),
    (["post", "003-torch", "--sampling", "random"], "invalid choice"),
    (["report", "--path", "--dataset", "fashion-mnist"], "--dataset fashion-mnist: the path "
     "starts from post 003's program"),
    (["report", "--path", "sideways"], "'sideways': give forward (the path) or both"),
    (["report", "--path", "--tf", "2.15.1"], "--path"),
])
def test_bad_path_and_recipe_flags_are_one_line(tmp_path, args, says):
    code, _, err = run_cli(args + ["--out", str(tmp_path / "out")])
    assert says in one_line(code, err)
    assert not os.path.exists(str(tmp_path / "out"))


INIT = """
import json, numpy as np, torch
from tf1_lstm.posts import recipe, twin
torch.manual_seed(0)
out = {}
for init in ("tf", "torch"):
    r = recipe.POST_003._replace(init=init, units=128, layers=2)
    out[init] = [[float(np.abs(w).max()), float(w.std()), list(w.shape)] for w in twin.initial(r)]
lstm = torch.nn.LSTM(28, 128, 2)
linear = torch.nn.Linear(128, 10)
out["nn"] = [float(p.detach().abs().max()) for m in (lstm, linear) for p in m.parameters()]
print(json.dumps(out))
"""


@ON_37
def test_the_twins_initialisers_draw_each_frameworks_distribution():
    """TF's: Glorot-uniform kernels (as the faithful graph's own, read from TF), zero biases;
    PyTorch's: nn.LSTM's and nn.Linear's U(±1/√units), the LSTM's two biases summed."""
    from tf1_lstm.core import training
    from tf1_lstm.studies.tools import twin as twin_tool
    found = json.loads(in_env(posts.TORCH_ENV, INIT).splitlines()[-1])
    bound = 128 ** -0.5
    assert max(found["nn"]) <= bound  # the frameworks' own layers, the bound they draw within
    kernels = [(28 + 128, 512), (256, 512)]
    tf_init, torch_init = found["tf"], found["torch"]
    for (top, std, shape), fan in zip(tf_init[0:4:2] + tf_init[4:5], kernels + [(128, 10)]):
        limit = (6.0 / sum(fan)) ** 0.5
        assert shape == list(fan) and 0.98 * limit < top <= limit
        assert abs(std - limit / 3 ** 0.5) < 0.03 * limit  # U(±a) has std a/√3
    assert [top for top, _, _ in tf_init[1:4:2] + tf_init[5:]] == [0.0, 0.0, 0.0]
    for top, std, _ in torch_init[0:4:2] + torch_init[4:5]:
        assert 0.98 * bound < top <= bound and abs(std - bound / 3 ** 0.5) < 0.03 * bound
    for top, std, _ in torch_init[1:4:2]:  # the sum of two U(±b): beyond b, within 2b
        assert bound < top <= 2 * bound and abs(std - bound * (2 / 3.0) ** 0.5) < 0.1 * bound
    graph = twin_tool.initial_weights(training.new_config({"seed": 0, "threads": 1}, None))
    kernel = graph[0][1]  # the faithful graph's own [178, 600] kernel, as TF draws it
    limit = (6.0 / sum(kernel.shape)) ** 0.5
    assert 0.98 * limit < np.abs(kernel).max() <= limit


@ON_37
def test_a_twin_run_records_its_recipe_and_repeats_its_numbers(tmp_path):
    recipe = ["--steps", "90", "--units", "20", "--layers", "2", "--sampling", "loader",
              "--init", "torch", "--adam", "torch", "--lr", "0.003", "--batch", "32"]
    done = []
    for k in range(2):
        out = str(tmp_path / ("run%d" % k))
        code, text, err = run_post(["003-torch", "--seed", "4", "--out", out, "--data-dir",
                                    DATA_DIR] + recipe)
        assert code == 0, err
        assert "recipe: cell=lstm, init=torch, adam=torch, lr=0.003, batch=32, units=20, " \
               "layers=2, sampling=loader, steps=90" in text
        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        with open(os.path.join(out, "metrics.json")) as f:
            done.append(json.load(f))
    assert config["post"] == {"post": "003-torch", "cell": "lstm", "init": "torch",
                              "adam": "torch", "lr": 0.003, "batch": 32, "units": 20,
                              "layers": 2, "sampling": "loader", "steps": 90}
    assert config["parameters"] == (48 * 80 + 80) + (40 * 80 + 80) + (20 * 10 + 10)
    assert done[0]["steps_done"] == 90 and done[0]["epochs_done"] == 1
    numbers = [[[p[k] for k in ("step", "loss", "train_accuracy")] for p in d["curve"]] +
               [d["test_accuracy"]] for d in done]
    assert numbers[0] == numbers[1]
    assert 0.2 < done[0]["test_accuracy"] < 1.0  # 90 steps learn something


@ON_37
def test_report_path_fills_every_point_reuses_its_runs_and_verifies(tmp_path):
    python_of(posts.TORCH_ENV)
    out = str(tmp_path / "path")
    args = ["report", "--path", "forward", "--seeds", "1", "--steps", "40", "--epochs", "1",
            "--cells", "lstm", "--jobs", "2", "--no-repeat", "--no-throughput",
            "--data-dir", DATA_DIR, "--out", out]
    code, text, err = run_cli(args, timeout=900)
    assert code == 0, err
    with open(os.path.join(out, "report.json")) as f:
        section = json.load(f)["path"]
    assert [r["name"] for r in section["rows"]] == [p.name for p in path.forward()]
    assert [r["recipe"]["steps"] for r in section["rows"][1:-1]] == [40] * 9
    assert section["step0"]["relative"] <= 1e-5 and section["reverse"] == []
    assert section["verdict"] == "not judged (shortened): measured, not judged"
    assert {f["verdict"] for f in section["factors"]} == {"not judged (shortened)"}
    with open(os.path.join(out, "report.md")) as f:
        text_md = f.read()
    assert "## Recipe or framework?" in text_md and "![the path](path.png)" in text_md
    assert os.path.isfile(os.path.join(out, "path.png"))
    code, text, err = run_cli(args)
    assert code == 0 and "11 runs, 11 already finished, 0 to train" in text, (text, err)
    code, text, err = run_cli(["verify", out, "--runs", "3"])
    assert code == 0, (text, err)
    assert "path1-framework-seed0" in text and "identical" in text
