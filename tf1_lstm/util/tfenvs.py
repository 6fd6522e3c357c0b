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
STAMP = ".tf1-lstm-setup"   # in a venv: written by ./run as the last step of a finished set-up
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
    environment's venv if one exists (complete or not: see problem()); None where there is none."""
    if env is None or env == own():
        return sys.executable
    candidates = [os.path.join(root(), env, "bin", "python")]
    if env == DEFAULT:  # the project's own venv, which ./run sets up
        candidates.append(os.path.join(checkout_root(), ".venv", "bin", "python"))
    for python in candidates:
        if os.access(python, os.X_OK):
            return python
    return None


def problem(env, python):
    """None if `python` is a complete environment `env` (its set-up finished, tf1_lstm and
    TensorFlow import, and the TensorFlow is the one its name says), else one line saying what
    is wrong and how to fix it. A run would otherwise fail deep inside, or train on another TF."""
    if python == sys.executable:
        return None
    fix = "set it up again with `./run setup --tf %s`" % env
    venv = os.path.dirname(os.path.dirname(python))
    if not os.path.isfile(os.path.join(venv, STAMP)):
        return "the TensorFlow environment %s at %s was not set up to the end: %s" % (
            env, venv, fix)
    try:
        done = subprocess.run([python, "-m", __name__, "own"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                              cwd=os.sep)  # not the caller's folder: it may hold a tf1_lstm
    except (OSError, subprocess.SubprocessError) as err:
        return "the TensorFlow environment %s at %s does not run (%s): %s" % (env, venv, err, fix)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no TensorFlow"])[-1]
        return "the TensorFlow environment %s at %s is incomplete (%s): %s" % (
            env, venv, why, fix)
    found = _NAME.match(done.stdout.strip())
    if not found:
        return "the TensorFlow environment %s at %s answers %r, not its name: %s" % (
            env, venv, done.stdout.strip()[:40], fix)
    found = found.groups()
    if found != parse(env):
        return ("the TensorFlow environment %s at %s holds TensorFlow %s on Python %s, not %s "
                "on %s: %s" % ((env, venv) + found + parse(env) + (fix,)))
    return None


_COMPLETE = set()  # (env, its Python) found complete in this process: not asked again


def ready(env):
    """The Python of a complete environment `env` here; ValueError (one line) otherwise. A
    complete one is asked once per process (a worker trains many runs in it)."""
    python = interpreter(env)
    if python is None:
        raise ValueError(missing(env))
    if (env, python) not in _COMPLETE:
        trouble = problem(env, python)
        if trouble:
            raise ValueError(trouble)
        _COMPLETE.add((env, python))
    return python


def set_up(env, say=print):
    """Set `env` up here, as `./run setup --tf ENV` does, unless it is complete; ValueError (one
    line) where this is not a checkout with ./run, or the set-up failed."""
    try:
        ready(env)
        return
    except ValueError:
        pass
    script = os.path.join(checkout_root(), "run")
    if not os.path.isfile(script) or not os.path.isfile(os.path.join(requirements_dir(),
                                                                     env + ".txt")):
        raise ValueError(missing(env))
    say("report: setting up TensorFlow environment %s (one-time; a few minutes)" % env)
    done = subprocess.run([script, "setup", "--tf", env], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    tail = " / ".join(done.stdout.strip().splitlines()[-3:])
    if done.returncode != 0:
        raise ValueError("could not set up TensorFlow environment %s (%s): run ./run setup "
                         "--tf %s to see why" % (env, tail or "no output", env))
    ready(env)


def missing(env):
    """One line for a machine that lacks `env`: what to set up, and where (or, where this
    checkout has no pins for it, that it cannot be set up from here)."""
    if env not in known():
        return ("this checkout has no pins for TensorFlow environment %s (no %s/%s.txt), so it "
                "cannot be set up here: use a checkout that has them, or one of %s"
                % (env, REQUIREMENTS, env, ", ".join(known())))
    return ("this machine has no TensorFlow environment %s: set it up with `./run setup --tf %s`"
            " in the checkout its workers run from (or put its venv under $%s/%s)"
            % (env, env, ROOT_ENV, env))


def main(argv):
    """For ./run, which must resolve a name before any venv exists (one rule, this one):
    `resolve TEXT` prints the environment's name, `default` the default's, `own` this
    Python's (exit 3 without an importable TensorFlow). A bad name: one line, exit 2."""
    if argv[:1] == ["resolve"] and len(argv) == 2:
        try:
            print(resolve(argv[1]))
        except ValueError as err:
            print(err, file=sys.stderr)
            return 2
        return 0
    if argv == ["default"]:
        print(DEFAULT)
        return 0
    if argv == ["own"]:
        import importlib.util
        found = importlib.util.find_spec("tensorflow") and own()
        print(found or "")
        return 0 if found else 3
    print("usage: python -m tf1_lstm.util.tfenvs resolve TEXT | default | own", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
