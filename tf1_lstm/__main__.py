"""`python -m tf1_lstm` and the `tf1-lstm` command."""

import sys

from tf1_lstm.util import interrupts


def run():
    """Ctrl-C is handled from the first line: importing the CLI takes a noticeable moment."""
    interrupts.install()
    try:
        from tf1_lstm.cli import main
    except BaseException as err:
        if not interrupts.is_interruption(err):
            raise
        interrupts.say_interrupted("tf1-lstm", err, "while starting; nothing was done")
        return 130
    return main()


if __name__ == "__main__":  # Dask's worker processes re-import the main module
    sys.exit(run())
