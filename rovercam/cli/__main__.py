"""``python -m rovercam.cli``: the ``rovercam`` command."""
import sys

from rovercam.cli import main

if __name__ == "__main__":
    sys.exit(main())
