"""`python -m tf1_lstm` is the `tf1-lstm` command."""

import sys

from tf1_lstm.cli import main

sys.exit(main())
