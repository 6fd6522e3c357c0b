"""Finalizers muted: the output of objects collected after a command has said its last line.

Python runs a finalizer when an object is collected, which may be long after the error or
interruption that left it behind: under the command's last line, or at exit. Two reach our
commands: an object whose constructor a Ctrl-C cut short (tqdm's bar), and a future with an error
nobody retrieved, left by a Dask client's event loop stopped halfway through a timed wait.
"""

import contextlib
import gc
import os
import sys


@contextlib.contextmanager
def collected():
    """Run the block, then collect garbage, with sys.stderr muted throughout (the logging
    module's last resort writes there too): what the block leaves behind prints nothing."""
    saved = sys.stderr
    with open(os.devnull, "w") as sink:
        sys.stderr = sink
        try:
            yield
        finally:
            gc.collect()
            sys.stderr = saved
