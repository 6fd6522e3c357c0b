"""Files and directories that are never seen half-written, and the checks before writing them."""

import contextlib
import json
import os
import shutil
import tempfile


def remove_quietly(path):
    """Remove a file or directory tree this program made; a missing one is fine."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except OSError:
        pass


def ensure_dir(path):
    """Create `path` (and its parents) unless it exists; return it."""
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temp path beside `path` for a directory the block creates; on success that
    directory replaces `path` whole.

    A reader sees the old directory or the new one, never a mix; a failure (or SIGKILL) leaves
    only a `.tmp-PID` directory, which `is_leftover` recognises.
    """
    tmp = "%s.tmp-%d" % (path, os.getpid())
    remove_quietly(tmp)
    try:
        yield tmp
        old = path + ".old"
        remove_quietly(old)
        if os.path.exists(path):
            os.rename(path, old)
        os.rename(tmp, path)
        remove_quietly(old)
    except BaseException:
        remove_quietly(tmp)
        raise


def is_leftover(name):
    """A name `atomic_dir` leaves behind when it is interrupted."""
    return ".tmp-" in name or name.endswith(".old")


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def check_writable_dir(path):
    """Create `path` if needed and prove a file can be written there; return an error or None."""
    try:
        ensure_dir(path)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        return "%s is not a writable directory (%s)" % (path, err.strerror or err)
    return None
