"""`python -m s2s_keras.cli`: the `s2s-keras` command."""

import sys

from s2s_keras.cli import main

if __name__ == "__main__":
    sys.exit(main())
