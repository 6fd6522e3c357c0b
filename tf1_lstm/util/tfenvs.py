"""The environments a run can be trained in: one venv per pinned requirements file.

A TensorFlow environment is named tf<TF version>-py<Python X.Y>, e.g. tf2.15.1-py3.11; a
PyTorch one (for the sister posts, tf1_lstm.posts) torch<version>-py<X.Y>. The default,
tf1.15.5-py3.7, is the project's own venv (requirements.txt); every other one has
envs/<name>.txt in the checkout and is set up by `./run setup --tf <name>` into
.venvs/<name>/ (or $TF1_LSTM_ENVS/<name>/, where a worker keeps them elsewhere).
"""

import os
import re
import subprocess
import sys

from tf1_lstm.util.environment import checkout_root
from tf1_lstm.util.errors import ToolError


class EnvError(ToolError):
    """An environment that is not one, not here, or could not be set up; one line, the fix."""


DEFAULT = "tf1.15.5-py3.7"  # the post's TF on the project's Python: the faithful default
ROOT_ENV = "TF1_LSTM_ENVS"  # a folder holding the environments' venvs, if not the checkout's
REQUIREMENTS = "envs"       # <checkout>/envs/<name>.txt: each environment's exact pins
STAMP = ".tf1-lstm-setup"   # in a venv: written by ./run as the last step of a finished set-up
_NAME = re.compile(r"^(tf|torch)(\d+\.\d+\.\d+)-py(\d+\.\d+)$")
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu")
TF, TORCH = "tf", "torch"  # the frameworks an environment holds: its name's prefix
FRAMEWORKS = {TF: "TensorFlow", TORCH: "PyTorch"}


def name(version, python=None, framework=TF):
    """<framework><version>-py<X.Y> of a framework's version (a local build tag such as +cpu
    left out) on a Python (this one's unless given)."""
    python = python or "%d.%d" % sys.version_info[:2]
    return "%s%s-py%s" % (framework, version.split("+")[0], python)


def parse(text):
    """(framework version, Python X.Y) of an environment's name; EnvError if it is not one."""
    match = _NAME.match(text or "")
    if not match:
        raise EnvError("%r is not an environment name (tf<VERSION>-py<X.Y>, e.g. %s)"
                       % (text, DEFAULT))
    return match.group(2), match.group(3)


def framework(env):
    """TF or TORCH: what environment `env` (a name) holds."""
    match = _NAME.match(env or "")
    return match.group(1) if match else None


def requirements_dir():
    return os.path.join(checkout_root(), REQUIREMENTS)


def known(frameworks=(TF,)):
    """Every environment of `frameworks` this checkout has pins for, the default first."""
    found = []
    folder = requirements_dir()
    if os.path.isdir(folder):
        found = sorted(f[:-4] for f in os.listdir(folder)
                       if f.endswith(".txt") and framework(f[:-4]) in frameworks)
    return [DEFAULT] + [n for n in found if n != DEFAULT]


def resolve(text, frameworks=(TF,)):
    """The environment `text` names: a full name, or its name without the Python (torch2.13.0),
    or a TF version (the first environment with it, the default first). EnvError naming the
    known ones otherwise."""
    names = known(frameworks)
    for candidate in (text, "tf" + text):
        if candidate in names:
            return candidate
    for candidate in names:
        version = parse(candidate)[0]
        if text in (version if framework(candidate) == TF else None,
                    framework(candidate) + version):
            return candidate
    raise EnvError("no TensorFlow environment %r here: choose from %s (or a TF version "
                   "among them)" % (text, ", ".join(names)))


def installed_version(distributions=TF_DISTRIBUTIONS):
    """The version of the first installed of `distributions` (TensorFlow's by default), read
    from its package metadata (no import)."""
    try:
        from importlib import metadata  # novm: Python 3.8+; the backport below before
    except ImportError:  # Python 3.6 and 3.7: the backport (pinned in requirements.txt)
        import importlib_metadata as metadata
    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def own():
    """This interpreter's environment name: its TensorFlow's, else its PyTorch's (None with
    neither)."""
    version = installed_version()
    if version:
        return name(version)
    version = installed_version(("torch",))
    return name(version, framework=TORCH) if version else None


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
    fix = "set it up again with `%s`" % setup_command(env)
    venv = os.path.dirname(os.path.dirname(python))
    if not os.path.isfile(os.path.join(venv, STAMP)):
        return "the %s %s at %s was not set up to the end: %s" % (kind(env), env, venv, fix)
    try:
        done = subprocess.run([python, "-m", __name__, "own"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                              cwd=os.sep)  # not the caller's folder: it may hold a tf1_lstm
    except (OSError, subprocess.SubprocessError) as err:
        return "the %s %s at %s does not run (%s): %s" % (kind(env), env, venv, err, fix)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no TensorFlow"])[-1]
        return "the %s %s at %s is incomplete (%s): %s" % (kind(env), env, venv, why, fix)
    found = done.stdout.strip()
    if not _NAME.match(found):
        return "the %s %s at %s answers %r, not its name: %s" % (
            kind(env), env, venv, found[:40], fix)
    if found != env:
        return "the %s %s at %s holds %s %s on Python %s, not %s on %s: %s" % (
            (kind(env), env, venv, FRAMEWORKS[framework(found)]) + parse(found) + parse(env)
            + (fix,))
    return None


_COMPLETE = set()  # (env, its Python) found complete in this process: not asked again


def ready(env):
    """The Python of a complete environment `env` here; EnvError (one line) otherwise. A
    complete one is asked once per process (a worker trains many runs in it)."""
    python = interpreter(env)
    if python is None:
        raise EnvError(missing(env))
    if (env, python) not in _COMPLETE:
        trouble = problem(env, python)
        if trouble:
            raise EnvError(trouble)
        _COMPLETE.add((env, python))
    return python


def set_up(env, say=print):
    """Set `env` up here, as `./run setup --tf ENV` does, unless it is complete; EnvError (one
    line) where this is not a checkout with ./run, or the set-up failed."""
    try:
        ready(env)
        return
    except EnvError:
        pass
    script = os.path.join(checkout_root(), "run")
    if not os.path.isfile(script) or not os.path.isfile(os.path.join(requirements_dir(),
                                                                     env + ".txt")):
        raise EnvError(missing(env))
    say("report: setting up environment %s (one-time; a few minutes%s)" % (env, download(env)))
    done = subprocess.run([script, "setup", "--tf", env], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    tail = " / ".join(done.stdout.strip().splitlines()[-3:])
    if done.returncode != 0:
        raise EnvError("could not set up %s %s (%s): run %s to see why"
                       % (kind(env), env, tail or "no output", setup_command(env)))
    ready(env)


def missing(env):
    """One line for a machine that lacks `env`: what to set up, and where (or, where this
    checkout has no pins for it, that it cannot be set up from here)."""
    every = known((TF, TORCH))
    if env not in every:
        return ("this checkout has no pins for %s %s (no %s/%s.txt), so it cannot be set up "
                "here: use a checkout that has them, or one of %s"
                % (kind(env), env, REQUIREMENTS, env, ", ".join(every)))
    size = " (%s)" % download(env)[2:] if download(env) else ""
    return ("this machine has no %s %s: set it up with `%s`%s in the checkout its workers run "
            "from (or put its venv under $%s/%s)"
            % (kind(env), env, setup_command(env), size, ROOT_ENV, env))


def download(env):
    """What setting `env` up downloads, where it is large: '; ...' or ''."""
    return "; the CPU build of PyTorch, about 200 MB" if framework(env) == TORCH else ""


def kind(env):
    """What an environment is called in a message."""
    return "%s environment" % FRAMEWORKS.get(framework(env), "TensorFlow")


def cannot_import(err):
    """One line for a framework environment (this process's) that cannot import what it
    needs after its set-up: damaged since; it is made again, not patched."""
    env, venv = own() or "this environment", sys.prefix
    return "the %s %s at %s cannot import what it needs (%s): remove it and set it up again: " \
        "rm -r %s && %s" % (kind(env), env, venv, err, venv, setup_command(env))


def setup_command(env):
    """The command that sets `env` up: --tf for TensorFlow's, --env for any other."""
    return "./run setup --%s %s" % ("env" if framework(env) == TORCH else "tf", env)


def main(argv):
    """For ./run, which must resolve a name before any venv exists (one rule, this one):
    `resolve TEXT` prints the environment's name, `default` the default's, `own` this
    Python's (exit 3 without an importable TensorFlow or PyTorch). A bad name: one line, exit 2."""
    if argv[:1] == ["resolve"] and len(argv) == 2:
        try:
            print(resolve(argv[1], (TF, TORCH)))
        except EnvError as err:
            print(err, file=sys.stderr)
            return 2
        return 0
    if argv == ["default"]:
        print(DEFAULT)
        return 0
    if argv == ["own"]:
        import importlib.util
        found = (importlib.util.find_spec("tensorflow") or importlib.util.find_spec("torch")) \
            and own()
        print(found or "")
        return 0 if found else 3
    print("usage: python -m tf1_lstm.util.tfenvs resolve TEXT | default | own", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
