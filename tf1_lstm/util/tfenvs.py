"""The TensorFlow environments a run can be trained in: one venv per pinned requirements file.

An environment is named tf<TF version>-py<Python X.Y>, e.g. tf2.15.1-py3.11. The default,
tf1.15.5-py3.7, is the project's own venv (requirements.txt); every other one has
envs/<name>.txt in the checkout and is set up by `./run setup --tf <name>` into
.venvs/<name>/ (or $TF1_LSTM_ENVS/<name>/, where a worker keeps them elsewhere).
"""

import os
import re
import subprocess
import sys

from tf1_lstm.util.environment import checkout_root

DEFAULT = "tf1.15.5-py3.7"  # the post's TF on the project's Python: the faithful default
ROOT_ENV = "TF1_LSTM_ENVS"  # a folder holding the environments' venvs, if not the checkout's
REQUIREMENTS = "envs"       # <checkout>/envs/<name>.txt: each environment's exact pins
_NAME = re.compile(r"^tf(\d+\.\d+\.\d+)-py(\d+\.\d+)$")
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu")


def name(tf_version, python=None):
    """tf<version>-py<X.Y> of a TF version on a Python (this one's unless given)."""
    python = python or "%d.%d" % sys.version_info[:2]
    return "tf%s-py%s" % (tf_version, python)


def parse(text):
    """(TF version, Python X.Y) of an environment's name; ValueError if it is not one."""
    match = _NAME.match(text or "")
    if not match:
        raise ValueError("%r is not an environment name (tf<VERSION>-py<X.Y>, e.g. %s)"
                         % (text, DEFAULT))
    return match.group(1), match.group(2)


def requirements_dir():
    return os.path.join(checkout_root(), REQUIREMENTS)


def known():
    """Every environment this checkout has pins for, the default first."""
    found = []
    folder = requirements_dir()
    if os.path.isdir(folder):
        found = sorted(f[:-4] for f in os.listdir(folder)
                       if f.endswith(".txt") and _NAME.match(f[:-4]))
    return [DEFAULT] + [n for n in found if n != DEFAULT]


def resolve(text):
    """The environment `text` names: a full name, or a TF version (the first environment with
    it, the default first). ValueError naming the known ones otherwise."""
    names = known()
    for candidate in (text, "tf" + text):
        if candidate in names:
            return candidate
    for candidate in names:
        if parse(candidate)[0] == text:
            return candidate
    raise ValueError("no TensorFlow environment %r here: choose from %s (or a TF version "
                     "among them)" % (text, ", ".join(names)))


def installed_tf_version():
    """The installed TensorFlow's version, read from its package metadata (no TF import)."""
    try:
        from importlib import metadata
    except ImportError:  # Python 3.6 and 3.7: the backport (pinned in requirements.txt)
        import importlib_metadata as metadata
    for dist in TF_DISTRIBUTIONS:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def own():
    """This interpreter's environment name (None without TensorFlow)."""
    version = installed_tf_version()
    return name(version) if version else None


def root():
    return os.environ.get(ROOT_ENV) or os.path.join(checkout_root(), ".venvs")


def interpreter(env):
    """The Python that trains in `env` here: this one if it is that environment, else the
    environment's venv; None where this machine has neither."""
    if env is None or env == own():
        return sys.executable
    candidates = [os.path.join(root(), env, "bin", "python")]
    if env == DEFAULT:  # the project's own venv, which ./run sets up
        candidates.append(os.path.join(checkout_root(), ".venv", "bin", "python"))
    for python in candidates:
        if os.access(python, os.X_OK):
            return python
    return None


def set_up(env, say=print):
    """Set `env` up here, as `./run setup --tf ENV` does, unless it is ready; ValueError (one
    line) where this is not a checkout with ./run, or the set-up failed."""
    if interpreter(env) is not None:
        return
    script = os.path.join(checkout_root(), "run")
    if not os.path.isfile(script) or not os.path.isfile(os.path.join(requirements_dir(),
                                                                     env + ".txt")):
        raise ValueError(missing(env))
    say("report: setting up TensorFlow environment %s (one-time; a few minutes)" % env)
    done = subprocess.run([script, "setup", "--tf", env], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    if done.returncode != 0 or interpreter(env) is None:
        tail = " / ".join(done.stdout.strip().splitlines()[-3:])
        raise ValueError("could not set up TensorFlow environment %s (%s): run ./run setup "
                         "--tf %s to see why" % (env, tail or "no output", env))


def missing(env):
    """One line for a machine that lacks `env`: what to set up, and where."""
    return ("this machine has no TensorFlow environment %s: set it up with `./run setup --tf %s`"
            " in the checkout its workers run from (or put its venv under $%s/%s)"
            % (env, env, ROOT_ENV, env))
