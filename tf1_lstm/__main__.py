"""`python -m tf1_lstm` and the `tf1-lstm` command."""

import sys

from tf1_lstm.util import interrupts


def run():
    """Ctrl-C is handled from the first line: importing the CLI takes a noticeable moment."""
    interrupts.install()
    try:
        from tf1_lstm.cli import main
    except BaseException as err:
        return interrupts.while_starting(err)
    return main()


if __name__ == "__main__":  # Dask's worker processes re-import the main module
    sys.exit(run())
