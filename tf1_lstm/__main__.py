"""`python -m tf1_lstm` is the `tf1-lstm` command."""

import sys

from tf1_lstm.cli import main

if __name__ == "__main__":  # Dask's worker processes re-import the main module
    sys.exit(main())
