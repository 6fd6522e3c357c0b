"""The training process of a study's run: one task record in (core.task), one result record out.

A worker starts it as `python -m tf1_lstm.task TASK.json RESULT.json` in the run's environment.
It builds the run's config with the function the command builds it with, and trains it with the
command's job; no command line and no study engine is imported here.
"""

import os
import sys

from tf1_lstm.core import task
from tf1_lstm.util import interrupts
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import read_json, write_json


def job(record):
    """(the run's config, a function training it given the command it records) of a record."""
    values, options = task.values(record), record.get("options") or {}
    if record["command"] == "post":
        from tf1_lstm.posts import run
        recipe = {k: v for k, v in options.items() if k not in ("post", "epochs")}
        config = run.new_config(options["post"], values.get("seed"), options.get("epochs"),
                                values.get("threads"), values["run_dir"], values["data_dir"],
                                values["mirrors"], recipe)
        return config, lambda argv: run.train(config, argv)
    from tf1_lstm.core import training
    if record["command"] == "diagnose":
        from tf1_lstm.studies.tools import diagnose
        config = training.new_config(values, diagnose.CELL)
        return config, lambda argv: diagnose.train(config, options.get("every"), argv)
    config = training.new_config(values)
    return config, lambda argv: training.train(config, argv=argv)


def run(record):
    """Train the record's run; raise ToolError where it cannot."""
    from tf1_lstm.core import fetch
    task.check(record)
    fetch.check_environment()
    config, train = job(record)
    train(task.typed(record, config))


def main(argv):
    interrupts.install()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    record, result = argv
    try:
        run(read_json(record))
        code, outcome = 0, {"exit": 0}
    except ToolError as err:  # the one family: its kind, its line and its fields go back
        print("tf1-lstm task: error: %s" % err, file=sys.stderr)
        code, outcome = 2, {"exit": 2, "error": dict(err.fields(), kind=err.kind,
                                                     line=str(err))}
    except BaseException as err:
        if not (interrupts.is_interruption(err) or _stopped(err)):
            raise
        interrupts.say_interrupted("tf1-lstm task", err)
        code, outcome = 130, {"exit": 130}
    write_json(result, dict(outcome, contract=task.CONTRACT))
    return code


def _stopped(err):
    """A run stopped by a signal at a step boundary (it kept its checkpoint)."""
    from tf1_lstm.core import training
    return isinstance(err, training.Interrupted)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
