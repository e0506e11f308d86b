"""``python -m nnlite``: the same as the ``nnlite`` command (see :mod:`nnlite.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
