"""Finalizers muted: the output of objects collected after a command has said its last line.

Python runs a finalizer when an object is collected, which may be long after the error or
interruption that left it behind: under the command's last line, or at exit. Three reach our
commands: an object whose constructor a Ctrl-C cut short (tqdm's bar), TensorFlow's check that
an op's result was used (a TensorArray of a graph a Ctrl-C cut short), and a future with an error
nobody retrieved, left by a Dask client's event loop stopped halfway through a timed wait.
"""

import contextlib
import gc
import os
import sys


@contextlib.contextmanager
def collected():
    """Run the block, then collect garbage, with standard error muted throughout: sys.stderr
    (the logging module's last resort writes there) and descriptor 2 (TensorFlow's logger holds
    the stream it started with), so that what the block leaves behind prints nothing."""
    saved = sys.stderr
    with open(os.devnull, "w") as sink, _descriptor_muted(saved, sink):
        sys.stderr = sink
        try:
            yield
        finally:
            gc.collect()
            sys.stderr = saved


@contextlib.contextmanager
def _descriptor_muted(stream, sink):
    """Descriptor 2 goes to `sink` while the block runs; `stream` (on it) is flushed on either
    side, so that nothing written before is lost and nothing written within leaks out after."""
    try:
        stream.flush()
        kept = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no standard error to mute
        yield
        return
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
        os.dup2(kept, 2)
        os.close(kept)
