"""What a study asks a worker for: one run's spec, the one rule that names it, and the error a
run ends in."""

from typing import Any, NamedTuple, Optional, Tuple

from tf1_lstm.core import settings
from tf1_lstm.core.training import run_name
from tf1_lstm.util.errors import ToolError


class RunError(ToolError):
    """A run failed, or a run directory is in the way; the message is one line naming it."""


_SpecFields = NamedTuple("RunSpec", [
    ("name", str), ("command", str), ("options", Tuple[Tuple[str, Any], ...]),
    ("env", Optional[str]),
    ("repeat_of", Optional[str])] + [(s.name, Any) for s in settings.numbers()])
_SpecFields.__new__.__defaults__ = ("train", (), None, None) + tuple(
    s.default for s in settings.numbers())


class RunSpec(_SpecFields):
    """One run a study needs: `name` (its directory under <out>/runs/, e.g. lstm-seed3), the
    `command` that trains it (train, or diagnose), that command's own `options` ((name,
    value) pairs, e.g. diagnose's every), the TensorFlow
    environment it trains in (`env`, util.tfenvs; None: the worker's own), the run it trains
    again with the same settings (`repeat_of`: its name; None: none), and a value for every
    setting that changes the numbers (core.settings), each the post's unless given."""

    __slots__ = ()

    def values(self):
        """{setting: value} of the settings that change the numbers."""
        return {s.name: getattr(self, s.name) for s in settings.numbers()}


def named(base, cell, seed, label=None, env=None, **changes):
    """One run of a study whose settings are `base` (a RunSpec): its cell, seed, environment
    and changes, named by the one naming rule (`<label or cell>-seed<N>`, then `-<env>` for a
    run in a named TensorFlow environment)."""
    return base._replace(name=env_name(run_name(cell, seed, label), env), cell=cell, seed=seed,
                         env=env, **changes)


def spec(cell, seed, steps, threads, label=None, env=None, **changes):
    """named() on the post's settings but `steps` and `threads`."""
    return named(RunSpec(name="", steps=steps, threads=threads), cell, seed, label, env,
                 **changes)


def repeated(spec):
    """`spec` trained once more, with the same settings, into a folder of its own."""
    return spec._replace(name=spec.name + "-repeat", repeat_of=spec.name)


def env_name(name, env):
    """A run's name in TensorFlow environment `env` (unchanged for the worker's own)."""
    return name if env is None else "%s-%s" % (name, env)
