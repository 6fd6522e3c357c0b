"""Ctrl-C remembered, not only raised.

Python turns SIGINT into a KeyboardInterrupt at whatever line is running. When that line is in
a finalizer or a weakref callback, Python prints the exception as "Exception ignored", traceback
and all, and goes on; when it is in a library's import that catches everything, it is swallowed
silently. A training run would then continue for minutes after the user pressed Ctrl-C. The
handler here records the signal, raises it again just after such a callback instead of inside
it, and `check()` at the points before long work (after TensorFlow's import, before each
download, before a study submits its runs) raises it if it was swallowed anyway.
"""

import contextlib
import signal
import sys
import threading
import traceback

from tf1_lstm.util import quiet

_received = []
_deferring = []


# Frames that print an exception raised in them as "Exception ignored in" and go on: a finalizer,
# importlib's module-lock callback, weakref containers' callbacks. (file name ending, function)
_SWALLOWING = {("", "__del__"), ("importlib._bootstrap>", "cb"), ("weakref.py", "remove"),
               ("_weakrefset.py", "_remove")}
_AGAIN_AFTER = 0.01  # seconds: long enough for such a callback to return


def _swallows(frame):
    while frame is not None:
        code = frame.f_code
        if any(code.co_name == name and code.co_filename.endswith(end)
               for end, name in _SWALLOWING):
            return True
        frame = frame.f_back
    return False


def _handle(signum, frame):
    _received.append(signal.Signals(signum).name)
    _raise(signum, frame)


def _raise(signum, frame):
    """Raise the interruption, unless it would be printed and swallowed: then try again shortly."""
    if _deferring:
        return
    if _swallows(frame):
        signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, _AGAIN_AFTER)
        return
    _raise_once()


def _raise_once():
    """Raise it, and cancel the retry: a second one would land in the cleanup this one starts."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    raise KeyboardInterrupt


# What stops a command: Ctrl-C, and what `kill`, `timeout`, a batch system or a closed terminal
# send. Each is taken as a Ctrl-C: remembered, raised, deferred where work must not stop halfway.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install():
    """Take over SIGNALS: the first thing a command does, before its heavy imports (what is
    left before it is the interpreter's own start-up: docs/reliability.md)."""
    if threading.current_thread() is threading.main_thread():  # signals need the main thread
        for signum in SIGNALS:
            signal.signal(signum, _handle)


def check():
    """Raise KeyboardInterrupt if a Ctrl-C arrived and was swallowed on the way here."""
    if _received:
        _raise_once()


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


def while_starting(err):
    """Exit code 130 after the one line, for an interruption before a command began (while
    importing or reading the flags); any other error is raised again."""
    if not is_interruption(err):
        raise err
    say_interrupted("tf1-lstm", err, "while starting; nothing was done")
    return 130


def say_interrupted(command, err, detail=None):
    """The one line an interruption ends with, and nothing under it."""
    unwind_quietly(err)
    print("%s: interrupted%s" % (command, " " + detail if detail else ""), file=sys.stderr)
