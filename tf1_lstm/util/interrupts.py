"""Ctrl-C remembered, not only raised.

Python turns SIGINT into a KeyboardInterrupt at whatever line is running. When that line is in
a finalizer, or in a library's import that catches everything, the exception is swallowed and
the command goes on: a training run would then continue for minutes after the user pressed
Ctrl-C. The handler here also records the signal, and `check()` at the points before long work
(after TensorFlow's import, before each download, before a study submits its runs) raises it
again.
"""

import contextlib
import signal
import sys
import threading
import traceback

from tf1_lstm.util import quiet

_received = []
_deferring = []


def _handle(signum, frame):
    _received.append(signal.Signals(signum).name)
    if not _deferring:
        raise KeyboardInterrupt


def install():
    """Take over SIGINT: the first thing a command does, before its heavy imports."""
    if threading.current_thread() is threading.main_thread():  # signals need the main thread
        signal.signal(signal.SIGINT, _handle)


@contextlib.contextmanager
def handled(signum):
    """Treat `signum` (SIGTERM) as a Ctrl-C inside the block: remembered, raised, deferred."""
    previous = signal.signal(signum, _handle)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def check():
    """Raise KeyboardInterrupt if a Ctrl-C arrived and was swallowed on the way here."""
    if _received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Hold a Ctrl-C until the block is done, then raise it: for work that must not stop halfway,
    such as sending runs to a cluster (each one sent must be known, so that it can be stopped)."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    check()


def is_interruption(err):
    """A KeyboardInterrupt, or any error raised after a Ctrl-C arrived: CPython 3.6 wraps one
    raised inside `compile` in a SystemError, and a library may turn it into its own error."""
    return isinstance(err, KeyboardInterrupt) or (isinstance(err, Exception) and
                                                  bool(_received))


def unwind_quietly(err):
    """Free the interrupted frames with stderr muted, before the one line is printed: an object
    whose constructor the Ctrl-C cut short has a finalizer that would print a traceback."""
    with quiet.collected():
        while err is not None:  # the frames' locals, and what only they held, go now
            traceback.clear_frames(err.__traceback__)
            err = err.__context__


def received():
    """The name of the signal that arrived (SIGINT), or None."""
    return _received[-1] if _received else None


def say_interrupted(command, err, detail=None):
    """The one line an interruption ends with, and nothing under it."""
    unwind_quietly(err)
    print("%s: interrupted%s" % (command, " " + detail if detail else ""), file=sys.stderr)
