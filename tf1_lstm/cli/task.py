"""The training process's side of the worker contract (studies.engine.worker): one task record
in, one result record out. Not a command: a study's worker starts it as
`python -m tf1_lstm.cli.task TASK.json RESULT.json`, in the run's TensorFlow environment."""

import argparse
import os
import sys

from tf1_lstm.core import settings
from tf1_lstm.studies.engine.worker import CONTRACT
from tf1_lstm.util import interrupts
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import read_json, write_json


def namespace(record):
    """The record as the parsed flags of its command: every setting (None where the record
    gives none: the default), the run folder, the data, the command's own options."""
    values = {s.name: None for s in settings.SETTINGS}
    for name, value in record["settings"].items():
        values[name] = tuple(value) if isinstance(value, list) else value
    values.update(run_dir=record["run_dir"], data_dir=record.get("data_dir"),
                  mirrors=list(record.get("mirrors") or ()), resume=None, tensorboard=None)
    values.update(record.get("options") or {})
    return argparse.Namespace(**values)


ALWAYS = ("cell", "seed", "steps")  # typed even at their defaults: diagnose's cell is rnn


def typed(record, args):
    """The command line that trains the record's run alone: config.json records it as the
    run's command (how to rerun any run of a study by hand)."""
    options = dict(record.get("options") or {})
    if record["command"] == "post":  # a sister post: its own flags (posts.run adds ./run --env)
        argv = ["tf1-lstm", "post", options.pop("post"), "--out", args.run_dir, "--seed",
                str(args.seed)]
        argv += ["--threads", str(args.threads)] if args.threads else []
    else:
        values = {s.name: getattr(args, s.name) for s in settings.numbers()}
        argv = ["tf1-lstm", record["command"], "--out", args.run_dir]
        argv += settings.argv(values, always=ALWAYS)
    for name, value in sorted(options.items()):
        argv += ["--" + name.replace("_", "-"), str(value)]
    argv += ["--data-dir", args.data_dir] if args.data_dir else []
    return argv + [arg for mirror in args.mirrors for arg in ("--mirror", mirror)]


def run(record):
    """Train the record's run with its command's own job; that job's exit code."""
    from tf1_lstm.cli import posts, train
    from tf1_lstm.core import fetch
    if record.get("contract") != CONTRACT:
        raise ToolError("the study sent task contract %r, this worker's tf1-lstm speaks %d: "
                        "install the study's tf1-lstm version on the workers"
                        % (record.get("contract"), CONTRACT))
    jobs = {"train": train.cmd_train, "diagnose": train.cmd_diagnose, "post": posts.cmd_post}
    if record.get("command") not in jobs:
        raise ToolError("the study sent a task for command %r, which is not one of %s"
                        % (record.get("command"), ", ".join(jobs)))
    bad = settings.bad_field(record.get("settings") or {})
    if bad:
        raise ToolError("the study sent %s = %r, which no run can have: a study of another "
                        "tf1-lstm version? Install the study's version on the workers" % bad)
    args = namespace(record)
    if record["command"] == "diagnose":
        args.cell_unless_given = train.DIAGNOSED
    sys.argv = typed(record, args)  # what the run records as its command
    fetch.check_environment()
    return jobs[record["command"]](args)


def main(argv):
    interrupts.install()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    task, result = argv
    try:
        code = run(read_json(task))
        outcome = {"exit": code}
    except ToolError as err:  # the one family: its kind, its line and its fields go back
        print("tf1-lstm task: error: %s" % err, file=sys.stderr)
        fields = err.fields() if hasattr(err, "fields") else {}
        code, outcome = 2, {"exit": 2, "error": dict(fields, kind=type(err).__name__,
                                                     line=str(err))}
    except BaseException as err:
        if not interrupts.is_interruption(err):
            raise
        interrupts.say_interrupted("tf1-lstm task", err)
        code, outcome = 130, {"exit": 130}
    write_json(result, dict(outcome, contract=CONTRACT))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
