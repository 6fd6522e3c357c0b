"""Files and directories that are never seen half-written, and the checks before writing them."""

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile

from tf1_lstm.util.errors import ToolError


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
    fd, tmp = tempfile.mkstemp(prefix="." + _short(os.path.basename(path)) + TMP_MARK,
                               suffix=".tmp", dir=directory)
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

    A reader sees the old directory or the new one, never a mix. The temp path lives in a
    holder directory made here by mkdtemp, unique, and the old `path` is moved into it before
    the holder is removed: nothing else beside `path` is ever touched. A failure (or SIGKILL)
    leaves at worst a `.NAME.tmp-XXXXXX` holder, which `is_leftover` recognises.
    """
    parent, base = os.path.split(os.path.abspath(path))
    holder = tempfile.mkdtemp(prefix="." + _short(base) + TMP_MARK, dir=parent)
    tmp, old = os.path.join(holder, "new"), os.path.join(holder, "old")
    try:
        yield tmp
        if os.path.lexists(path):
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            if os.path.lexists(old):
                os.rename(old, path)  # put it back; if even that fails, the holder keeps it
            raise
    except BaseException:
        if not os.path.lexists(old):
            remove_quietly(holder)
        raise
    remove_quietly(holder)


TMP_MARK = ".tmp-"  # in every temp name made here: .<name>.tmp-XXXXXX
_LEFTOVER = re.compile(r"^\..*\.tmp-[A-Za-z0-9_]{6,}(\.tmp)?$")


def _short(name):
    """A prefix of `name` short enough that a temp name made from it fits in 255 bytes."""
    return os.fsencode(name)[:100].decode("utf-8", "ignore")


def is_leftover(name):
    """A temp name `atomic_dir` or `atomic_path` leaves behind when it is interrupted."""
    return bool(_LEFTOVER.match(name))


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


JSON_LIMIT = 64 << 20  # bytes: far above any report or run record, far below a memory bomb


class NotARegularFile(ValueError):
    """A path to read that is a FIFO, a device or a directory, or larger than it may be."""


def read_bytes(path, limit):
    """The bytes of a regular file of at most `limit` bytes. Opened without blocking, so a
    FIFO is refused at once rather than waited on, and /dev/zero is not read at all."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile("%s is not a regular file" % path)
        if info.st_size > limit:
            raise NotARegularFile("%s is %d bytes, more than the %d this may be"
                                  % (path, info.st_size, limit))
        blob = f.read(limit + 1)
    if len(blob) > limit:
        raise NotARegularFile("%s grew beyond %d bytes while it was read" % (path, limit))
    return blob


def read_json(path, limit=JSON_LIMIT):
    """JSON from a regular file; ValueError (never RecursionError) for what is not JSON."""
    text = read_bytes(path, limit).decode("utf-8", "replace")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("%s is nested too deeply to be a tf1-lstm file" % path)


class UnsafePath(Exception):
    """A symlink where the tool would write or delete: it would lead out of what it made."""


def refuse_symlinks(root, path):
    """Raise UnsafePath if any existing part of `path` below `root` is a symlink (the tool
    writes and deletes only inside `root`, and a link would take that elsewhere)."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if relative == os.pardir or relative.startswith(os.pardir + os.sep) or \
            os.path.isabs(relative):
        raise UnsafePath("%s is outside %s" % (path, root))
    current = os.path.abspath(root)
    for part in ([] if relative == os.curdir else relative.split(os.sep)):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise UnsafePath("%s is a symlink (to %s): the tool writes only inside %s, so "
                             "replace the link with a folder or use another --out"
                             % (current, os.readlink(current), root))
        if not os.path.lexists(current):
            return


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


class Busy(ToolError):
    """A directory another live process holds the lock of; the message names its PID."""


LOCK = ".lock"  # held (flock) by the process writing into a directory; holds its PID


@contextlib.contextmanager
def locked(directory, busy):
    """Exclusive use of `directory` while the block runs; else Busy(busy % {"pid": holder}).
    The kernel drops the lock when its holder dies, so a lock file left by a killed process
    is taken over, not obeyed."""
    path = os.path.join(directory, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise Busy(busy % {"pid": holder})
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield
    finally:
        remove_quietly(path)
        os.close(fd)  # closing releases the flock
