"""Scratch folders in the temp dir that never outlive their makers.

Each is named for the process that made it (PID and start time, so a reused PID is not mistaken
for it) and lists the processes it lent itself to. It is removed on every exit the tool
controls; after one it does not (SIGKILL, a lost scheduler), the next tf1-lstm process on the
machine removes it once none of those processes is alive.
"""

import os
import re
import stat
import tempfile

from tf1_lstm.util.files import remove_quietly

PREFIX = "tf1-lstm-"
USERS = ".users"  # in each folder: "PID START" of every other process working in it
_NAME = re.compile(r"^tf1-lstm-[a-z]+-(\d+)-(\d+)-[A-Za-z0-9_]+$")


def _start_time(pid):
    """The process's start time in clock ticks since boot (/proc/PID/stat), or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])  # field 22 of the line; the name, which may hold spaces, is cut off


def _alive(pid, start):
    return _start_time(pid) == start


def make(kind):
    """A new scratch folder of this process: tf1-lstm-KIND-PID-START-XXXXXX in the temp dir."""
    sweep()
    pid = os.getpid()
    return tempfile.mkdtemp(prefix="%s%s-%d-%d-" % (PREFIX, kind, pid, _start_time(pid) or 0))


def lend(folder, pid):
    """Record that process `pid` works in `folder` too: it is kept while that process lives."""
    with open(os.path.join(folder, USERS), "a") as f:
        f.write("%d %d\n" % (pid, _start_time(pid) or 0))


def _users(path, match):
    found = [(int(match.group(1)), int(match.group(2)))]
    try:
        with open(os.path.join(path, USERS)) as f:
            found += [tuple(int(x) for x in line.split()) for line in f if line.strip()]
    except (OSError, ValueError):
        pass
    return found


def sweep(root=None):
    """Remove this user's scratch folders whose processes are all gone; return their paths."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        match = _NAME.match(name)
        if not match:
            continue
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue  # never a link, never another user's
        if not any(_alive(pid, start) for pid, start in _users(path, match)):
            remove_quietly(path)
            removed.append(path)
    return removed


def leftovers(root=None):
    """This tool's scratch folders in the temp dir (for tests and checks)."""
    root = root or tempfile.gettempdir()
    return sorted(os.path.join(root, n) for n in os.listdir(root) if _NAME.match(n))
