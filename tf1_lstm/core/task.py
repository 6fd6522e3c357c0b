"""A study's run as a task record: the worker contract's one message to a training process.

The engine (studies.engine.worker) writes it; the training process (tf1_lstm.task) reads it here
and builds the run's config with the functions the commands use. It carries values, never argv
text: the command, every setting that changes the numbers, the command's own options, where the
run and its data go.
"""

from typing import Any, Dict, List

from tf1_lstm.core import settings
from tf1_lstm.util.errors import ToolError

CONTRACT = 1  # the record's version: each end refuses another
PROCESS = "tf1_lstm.task"  # the module a worker starts on a record: python -m PROCESS TASK RESULT
COMMANDS = ("train", "diagnose", "post")  # the jobs a record may ask for
ALWAYS = ("cell", "seed", "steps")  # typed even at their defaults: diagnose's cell is rnn


class TaskError(ToolError):
    """A record this training process cannot run: another version's, or not one of ours."""

    kind = "task refused"


def check(record: Dict[str, Any]) -> None:
    """Raise TaskError unless this process can run `record`."""
    if record.get("contract") != CONTRACT:
        raise TaskError("the study sent task contract %r, this worker's tf1-lstm speaks %d: "
                        "install the study's tf1-lstm version on the workers"
                        % (record.get("contract"), CONTRACT))
    if record.get("command") not in COMMANDS:
        raise TaskError("the study sent a task for command %r, which is not one of %s"
                        % (record.get("command"), ", ".join(COMMANDS)))
    bad = settings.bad_field(record.get("settings") or {})
    if bad:
        raise TaskError("the study sent %s = %r, which no run can have: a study of another "
                        "tf1-lstm version? Install the study's version on the workers" % bad)


def values(record: Dict[str, Any]) -> Dict[str, Any]:
    """The run's setting values (JSON's lists as tuples), its folder, data and mirrors: what
    the command's flags would give."""
    found = {name: tuple(value) if isinstance(value, list) else value
             for name, value in record["settings"].items()}
    return dict(found, run_dir=record["run_dir"], data_dir=record.get("data_dir"),
                mirrors=tuple(record.get("mirrors") or ()))


def typed(record: Dict[str, Any], config: Any) -> List[str]:
    """The command line that trains the record's run alone (seed drawn, folder named, as in
    `config`): the run records it as its command, how to rerun any run of a study by hand."""
    options = dict(record.get("options") or {})
    if record["command"] == "post":  # a sister post: its own flags (posts.run adds ./run --env)
        argv = ["tf1-lstm", "post", options.pop("post"), "--out", config.run_dir, "--seed",
                str(config.seed)]
        argv += ["--threads", str(config.threads)] if config.threads else []
    else:
        numbers = {s.name: getattr(config, s.name) for s in settings.numbers()}
        argv = ["tf1-lstm", record["command"], "--out", config.run_dir]
        argv += settings.argv(numbers, always=ALWAYS)
    for name, value in sorted(options.items()):
        argv += ["--" + name.replace("_", "-"), str(value)]
    argv += ["--data-dir", record["data_dir"]] if record.get("data_dir") else []
    return argv + [arg for mirror in record.get("mirrors") or () for arg in ("--mirror", mirror)]
