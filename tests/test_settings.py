"""A run's settings are written once (core/settings.py): the flags, the resume conflicts, the
reuse key, a worker's argv and RunConfig all come from the one table. No TensorFlow."""

import json
import os

import pytest

from tf1_lstm.cli import flags, train
from tf1_lstm.core import settings
from tf1_lstm.core.training import RunConfig
from tf1_lstm.studies import engine

from conftest import REPO

pytestmark = pytest.mark.fast

DROPOUT = settings.Setting("dropout", 0.0, "--dropout", settings.finite_float,
                           "dropout on the cell's output (an ablation)", numbers=True, show=repr)


def test_a_new_row_reaches_the_flags_the_argv_the_reuse_key_and_the_config():
    table = settings.SETTINGS + (DROPOUT,)
    parser = flags.Parser(prog="t")
    flags.add_settings(parser, ("dropout",), table=table)
    assert parser.parse_args(["--dropout", "0.5"]).dropout == 0.5
    assert parser.parse_args([]).dropout is None  # left alone: told apart from typed
    assert settings.argv({"dropout": 0.5}, table=table) == ["--dropout", "0.5"]
    assert settings.argv({"dropout": 0.0}, table=table) == []  # the default is not passed
    assert not settings.same_numbers({"dropout": 0.5}, {"dropout": 0.0}, table=table)
    assert settings.same_numbers({}, {"dropout": 0.0}, table=table)  # an older record: default
    assert ("dropout", "--dropout") in settings.resume_conflicts(table)
    config = settings.config_type(table)
    assert config().dropout == 0.0
    assert settings.from_record({"dropout": 0.5}, config, table).dropout == 0.5
    assert settings.from_record({"dropout": None}, config, table).dropout == 0.0


# A value other than the default for every setting that changes the numbers.
SAMPLES = {"cell": "rnn", "steps": 1234, "batch_size": 100, "lr": 0.0015, "seed": 7,
           "threads": 3, "forget_bias": 0.25, "clip": 2.5, "test_at": (100, 1000),
           "dataset": "fashion-mnist", "init_from": "tf1.15.5"}


def test_every_setting_crosses_to_a_worker_and_back_equal(tmp_path):
    """A spec becomes its task record, the record crosses as JSON, the training process reads
    it and makes the RunConfig with the function `train` uses: each value comes back equal, for
    every row (a row the samples lack fails here until it has one)."""
    from tf1_lstm.core import task, training
    rows = settings.numbers()
    assert sorted(SAMPLES) == sorted(s.name for s in rows), "add a sample for the new row"
    assert all(SAMPLES[s.name] != s.default for s in rows)
    run = engine.RunSpec(name="x", **SAMPLES)
    record = json.loads(json.dumps(engine.task(run, str(tmp_path / "run"))))
    task.check(record)
    config = training.new_config(task.values(record))
    assert {s.name: getattr(config, s.name) for s in rows} == run.values() == SAMPLES
    assert type(config) is RunConfig and config.run_dir == str(tmp_path / "run")


def test_every_flag_of_the_table_is_a_flag_of_train():
    parser = flags.Parser(prog="t")
    commands = parser.add_subparsers(dest="command")
    train.register(commands)
    for s in settings.SETTINGS:
        if s.flag:
            assert s.flag in commands.choices["train"].format_help(), s.flag


def test_a_worker_trains_exactly_the_spec():
    run = engine.spec("rnn", 3, 500, 1, label="rnn-lr0.001", lr=0.001, test_at=(100, 200))
    record = engine.task(run, "/scratch/run")
    assert (record["command"], record["run_dir"], record["options"]) == (
        "train", "/scratch/run", {})
    assert record["settings"] == dict(engine.RunSpec(name="").values(), cell="rnn", steps=500,
                                      lr=0.001, seed=3, threads=1, test_at=(100, 200))
    lstm = engine.spec("lstm", 0, 10000, None, command="diagnose", options=(("every", 200),))
    record = engine.task(lstm, "/r")
    assert (record["command"], record["options"], record["settings"]["cell"]) == (
        "diagnose", {"every": 200}, "lstm")  # the cell given: diagnose's is rnn
    argv = engine.task_command(lstm, "/r/task.json", "/r/result.json")
    assert argv[1:] == ["-m", "tf1_lstm.task", "/r/task.json", "/r/result.json"]


def test_a_spec_survives_the_trip_to_a_worker():
    """Dask pickles what it sends: a RunSpec must come back equal, and of its type."""
    import pickle
    run = engine.spec("rnn", 3, 500, 1, label="rnn-lr0.001", lr=0.001, test_at=(100,))
    back = pickle.loads(pickle.dumps(run))
    assert back == run and type(back) is engine.RunSpec and back.values() == run.values()


def test_the_docs_flag_table_has_a_row_for_every_train_flag():
    """docs/train.md's table of train's flags: a flag added to the settings table and not to
    the docs fails here."""
    from tf1_lstm.cli import build_parser
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    train = commands.choices["train"]
    flags = {o for a in train._actions for o in a.option_strings if o.startswith("--")}
    flags.discard("--help")
    with open(os.path.join(REPO, "docs", "train.md")) as f:
        rows = {line.split("`")[1] for line in f if line.startswith("| `--")}
    assert flags - rows == set(), "flags without a row in docs/train.md"
    assert rows - flags == set(), "rows for flags train does not have"
